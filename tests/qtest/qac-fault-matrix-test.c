/*
 * Fault matrix: every kernel call the accelerated SMMUv3 and its Tegra241
 * CMDQV make, failed once with each errno the kernel contract allows, at
 * each step of hotplug and of the Linux driver's sequence.
 *
 * A clean run first records, per step, which calls the step makes and how
 * many (the stand-in's ioctl counters). Then, for every (step, call, n-th
 * occurrence, errno): a fresh QEMU runs the steps before, arms the stand-in
 * to fail that call, runs the step and checks that QEMU is up and the
 * guest (or the operator, for device_add) sees either the step's
 * documented error or, where the failure costs nothing, the step's normal
 * result; the step is retried with the fault gone and must succeed; the
 * remaining steps run; at exit nothing leaked and no destroy was refused.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "libqtest.h"
#include "qobject/qdict.h"
#include "qobject/qlist.h"
#include "qobject/qstring.h"
#include "standin-qtest.h"
#include "qac-regs.h"
#include "qac-cmdqv-guest.h"
#include "hw/pci/pci_regs.h"

/*
 * The device is hotplugged behind rp0 (pcie.0 slot 3, the low ECAM), whose
 * secondary bus the test numbers 1, as firmware would: guest SID 0x100.
 */
#define DEV_SID         0x100

/* Guest RAM beyond qac-cmdqv-guest.h's: the event queue */
#define G_EVTQ          0x40310000ULL

#define DEV_STE0        STE0_S1(G_CD)

typedef struct Mx {
    QTestState *qts;
    StandinHost *host;
    char *sysfs;
    uint64_t smmu, win;
    uint32_t prod;          /* the SMMU command queue's, with wrap */
    unsigned vcmdq_log2;
    char *plug_error;       /* the last device_add's QMP error, if any */
    bool vfio_core_rejects_ok;  /* a destroy refused; vfio's may follow */
} Mx;

static void mx_start(Mx *m)
{
    memset(m, 0, sizeof(*m));
    m->host = standin_host_new(HOST_CONF_CMDQV);
    m->sysfs = standin_sysfsdev(m->host, "0000:01:00.0");
    m->qts = standin_start_rp0(m->host, "ril=off,ats=off,oas=48,ssidsize=16,"
                               "cmdqv=on,cmdqv-vcmdqs=2");
    m->smmu = qtest_mtree_base(m->qts, "arm-smmuv3");
    m->win = qtest_mtree_base(m->qts, "tegra241-cmdqv");
    m->vcmdq_log2 = IDR1_CMDQS(qtest_readl(m->qts, m->smmu + R_IDR1));
    qtest_writeb(m->qts, RP0_CFG + PCI_SECONDARY_BUS, 1);
    qtest_writeb(m->qts, RP0_CFG + PCI_SUBORDINATE_BUS, 1);
}

/*
 * A refused destroy of vfio's own objects (its IOAS and HWPT, torn down
 * after ours at device_del) is QEMU's vfio core: it reports it and leaves
 * them to the close of the iommufd, which the kernel frees by design. Only
 * those may show among the rejected destroys, and never as leaks.
 */
static void mx_assert_clean_exit_vfio_core_rejects(StandinHost *h)
{
    QDict *d = standin_exit_dump(h);
    QList *leaks = qdict_get_qlist(d, "leaks");
    QList *rej = qdict_get_qlist(d, "rejected_destroys");

    g_assert_true(!leaks || qlist_empty(leaks));
    for (const QListEntry *e = rej ? qlist_first(rej) : NULL; e;
         e = qlist_next(e)) {
        const char *type = qdict_get_str(qobject_to(QDict, qlist_entry_obj(e)),
                                         "type");

        g_test_message("rejected destroy of vfio's %s", type);
        g_assert_true(!strcmp(type, "ioas") || !strcmp(type, "hwpt_paging"));
    }
    qobject_unref(d);
}

static void mx_stop(Mx *m)
{
    qtest_quit(m->qts);
    if (m->vfio_core_rejects_ok) {
        mx_assert_clean_exit_vfio_core_rejects(m->host);
    } else {
        standin_assert_clean_exit(m->host);
    }
    standin_host_free(m->host);
    g_free(m->sysfs);
    g_free(m->plug_error);
}

/* QEMU is up and answering, on both of its interfaces */
static void mx_assert_alive(Mx *m)
{
    QDict *r = qtest_qmp(m->qts, "{'execute': 'query-status'}");

    g_assert_true(qdict_haskey(r, "return"));
    qobject_unref(r);
    g_assert_cmphex(qtest_readl(m->qts, m->smmu + R_IDR1), !=, 0);
}

static int64_t mx_count(Mx *m, const char *type)
{
    QDict *d = standin_dump(m->host);
    int64_t n = standin_count(d, type);

    qobject_unref(d);
    return n;
}

/* The ARM_SMMUV3 vEVENTQ (the vIOMMU has a TEGRA241_CMDQV one too) */
static int64_t mx_smmu_veventqs(Mx *m)
{
    QDict *d = standin_dump(m->host);
    g_autoptr(GPtrArray) objs = standin_objects(d, "veventq");
    int64_t n = 0;

    for (int i = 0; i < objs->len; i++) {
        n += !strcmp(qdict_get_str(g_ptr_array_index(objs, i),
                                   "veventq_type"), "arm_smmuv3");
    }
    qobject_unref(d);
    return n;
}

/* vSTE word 0 of the HWPT the device is attached to; -1 if not attached */
static int64_t mx_attached_ste0(Mx *m)
{
    QDict *d = standin_dump(m->host);
    g_autoptr(GPtrArray) devs = standin_objects(d, "device");
    int64_t ret = -1;

    if (devs->len == 1) {
        QDict *hwpt = standin_object(d, qdict_get_int(
                                         g_ptr_array_index(devs, 0),
                                         "attached"));
        if (hwpt && !strcmp(qdict_get_str(hwpt, "type"), "hwpt_nested")) {
            ret = standin_hex(hwpt, "ste", 0);
        }
    }
    qobject_unref(d);
    return ret;
}

static void mx_cmd(Mx *m, uint64_t w0, uint64_t w1)
{
    smmu_cmd(m->qts, &m->prod, w0, w1);
}

static uint32_t mx_kick(Mx *m)
{
    qtest_writel(m->qts, m->smmu + R_CMDQ_PROD, m->prod);
    return qtest_readl(m->qts, m->smmu + R_CMDQ_CONS);
}

static uint32_t mx_vcmdq(Mx *m, unsigned l, unsigned reg)
{
    return qtest_readl(m->qts, m->win + W_P0(l) + reg);
}

/* ---- the steps -------------------------------------------------------- */

static void plug(Mx *m)
{
    QDict *r = qtest_qmp(m->qts, "{'execute': 'device_add', 'arguments': "
                         "{'driver': 'vfio-pci', 'id': 'dev0', 'bus': 'rp0',"
                         " 'iommufd': 'iommufd0', 'sysfsdev': %s}}", m->sysfs);

    g_free(m->plug_error);
    m->plug_error = qdict_haskey(r, "error") ?
        g_strdup(qdict_get_str(qdict_get_qdict(r, "error"), "desc")) : NULL;
    qobject_unref(r);
}

/*
 * The device is served: on a nested HWPT of the vIOMMU, or (a host that
 * attaches those only with a vDEVICE: an ENOENT teaches QEMU that) on the
 * blocked domain (attached 0) or the stage-2 HWPT, until its first STE.
 */
static bool mx_served(Mx *m)
{
    QDict *d = standin_dump(m->host);
    g_autoptr(GPtrArray) devs = standin_objects(d, "device");
    g_autoptr(GPtrArray) viommus = standin_objects(d, "viommu");
    bool ok = false;

    if (devs->len == 1 && viommus->len == 1) {
        int64_t att = qdict_get_int(g_ptr_array_index(devs, 0), "attached");
        QDict *hwpt = standin_object(d, att);

        ok = att == 0 ||
             att == qdict_get_int(g_ptr_array_index(viommus, 0), "hwpt") ||
             (hwpt && !strcmp(qdict_get_str(hwpt, "type"), "hwpt_nested"));
    }
    qobject_unref(d);
    return ok;
}

static bool plug_ok(Mx *m)
{
    return !m->plug_error && mx_served(m);
}

/* A refused device_add names what failed and leaves nothing behind */
static bool plug_refused(Mx *m)
{
    QDict *r;
    bool gone;

    if (!m->plug_error) {
        return false;
    }
    g_test_message("device_add refused: %s", m->plug_error);
    r = qtest_qmp(m->qts, "{'execute': 'qom-list', 'arguments': "
                  "{'path': '/machine/peripheral/dev0'}}");
    gone = qdict_haskey(r, "error");
    qobject_unref(r);
    return gone && strlen(m->plug_error) > 10 &&
           mx_count(m, "viommu") == 0 && mx_count(m, "hwpt_nested") == 0 &&
           mx_count(m, "vdevice") == 0;
}

/* A driver's probe: stream table with the device's S1 STE, queue, SMMUEN */
static void smmu_enable(Mx *m)
{
    smmu_probe(m->qts, m->smmu, 9, DEV_SID, DEV_STE0);    /* 2^9 STEs */
}

static bool smmu_enable_ok(Mx *m)
{
    return mx_attached_ste0(m) == DEV_STE0;
}

/* The host refused the STE: the device aborts (vSTE V=0) */
static bool smmu_enable_aborts(Mx *m)
{
    return mx_attached_ste0(m) == 0;
}

/* The guest's CFGI_STE + CMD_SYNC for the device */
static void ste_reissue(Mx *m)
{
    mx_cmd(m, CMD_CFGI_STE(DEV_SID), 1);
    mx_cmd(m, CMD_SYNC, 0);
    g_assert_cmphex(mx_kick(m), ==, m->prod);
}

static void eventq_enable(Mx *m)
{
    uint32_t cr0 = qtest_readl(m->qts, m->smmu + R_CR0);

    qtest_writeq(m->qts, m->smmu + R_EVENTQ_BASE, G_EVTQ | 7);
    qtest_writel(m->qts, m->smmu + R_EVENTQ_PROD, 0);
    qtest_writel(m->qts, m->smmu + R_EVENTQ_CONS, 0);
    qtest_writel(m->qts, m->smmu + R_CR0, cr0 | CR0_EVENTQEN);
}

static bool eventq_ok(Mx *m)
{
    return mx_smmu_veventqs(m) == 1;
}

/* The host gave no event queue: the guest's queue stays empty */
static bool eventq_without_host_queue(Mx *m)
{
    return mx_smmu_veventqs(m) == 0 &&
           qtest_readl(m->qts, m->smmu + R_CR0ACK) & CR0_EVENTQEN;
}

static void eventq_reenable(Mx *m)
{
    uint32_t cr0 = qtest_readl(m->qts, m->smmu + R_CR0);

    qtest_writel(m->qts, m->smmu + R_CR0, cr0 & ~CR0_EVENTQEN);
    qtest_writel(m->qts, m->smmu + R_CR0, cr0 | CR0_EVENTQEN);
}

/* linux-guest.md steps 1-5: CMDQV on, logical queues mapped, VINTF0 on */
static void cmdqv_vintf(Mx *m)
{
    qtest_writel(m->qts, m->win + W_CONFIG, 1);
    for (int l = 0; l < 2; l++) {
        qtest_writel(m->qts, m->win + W_ALLOC_MAP(l), l << 1);
    }
    qtest_writel(m->qts, m->win + W_VINTF0_CONFIG, 1);
}

/* Step 6 for logical queue @l: ALLOCATED, BASE, CMDQ_EN, poll */
static void vcmdq_enable(Mx *m, unsigned l)
{
    if (l == 0) {
        cmdqv_vintf(m);
    }
    qtest_writel(m->qts, m->win + W_ALLOC_MAP(l), (l << 1) | 1);
    qtest_writeq(m->qts, m->win + W_P1(l),
                 (G_RING + l * 0x10000) | m->vcmdq_log2);
    qtest_writel(m->qts, m->win + W_P0(l) + Q_CONFIG, 1);
    for (int i = 0; i < 1000 && !(mx_vcmdq(m, l, Q_STATUS) & 1) &&
                    !(mx_vcmdq(m, l, Q_GERROR) & Q_GERROR_INIT_ERR); i++) {
        g_usleep(1000);
    }
}

static bool vcmdq_ok(Mx *m, unsigned l)
{
    return (mx_vcmdq(m, l, Q_STATUS) & 1) &&
           !(mx_vcmdq(m, l, Q_GERROR) & Q_GERROR_INIT_ERR) &&
           mx_count(m, "hw_queue") == l + 1;
}

/* CMDQ_INIT_ERR, the queue off, no HW queue for it */
static bool vcmdq_init_err(Mx *m, unsigned l)
{
    return !(mx_vcmdq(m, l, Q_STATUS) & 1) &&
           (mx_vcmdq(m, l, Q_GERROR) & Q_GERROR_INIT_ERR) &&
           mx_count(m, "hw_queue") == l;
}

/* Rewriting BASE retries the allocation */
static void vcmdq_rebase(Mx *m, unsigned l)
{
    qtest_writeq(m->qts, m->win + W_P1(l),
                 (G_RING + l * 0x10000) | m->vcmdq_log2);
    for (int i = 0; i < 1000 && !(mx_vcmdq(m, l, Q_STATUS) & 1); i++) {
        g_usleep(1000);
    }
}

static void vcmdq0(Mx *m) { vcmdq_enable(m, 0); }
static void vcmdq1(Mx *m) { vcmdq_enable(m, 1); }
static bool vcmdq0_ok(Mx *m) { return vcmdq_ok(m, 0); }
static bool vcmdq1_ok(Mx *m) { return vcmdq_ok(m, 1); }
static bool vcmdq0_err(Mx *m) { return vcmdq_init_err(m, 0); }
static bool vcmdq1_err(Mx *m) { return vcmdq_init_err(m, 1); }
static void vcmdq0_retry(Mx *m) { vcmdq_rebase(m, 0); }
static void vcmdq1_retry(Mx *m) { vcmdq_rebase(m, 1); }

/* Four TLBIs and a CMD_SYNC on the SMMU's own queue: one batch */
static void invalidate(Mx *m)
{
    for (int i = 0; i < 4; i++) {
        mx_cmd(m, CMD_TLBI_NH_VA(7), 0x1000ULL * (i + 1));
    }
    mx_cmd(m, CMD_SYNC, 0);
    mx_kick(m);
}

static bool invalidate_ok(Mx *m)
{
    uint32_t gerror = qtest_readl(m->qts, m->smmu + R_GERROR);
    uint32_t gerrorn = qtest_readl(m->qts, m->smmu + R_GERRORN);

    /* CONS.ERR keeps the last error's code: the index and wrap count */
    return (qtest_readl(m->qts, m->smmu + R_CMDQ_CONS) &
            ((2 << CMDQ_LOG2) - 1)) == m->prod &&
           !((gerror ^ gerrorn) & GERROR_CMDQ_ERR);
}

/* CERROR_ILL at the batch's first command (the whole call failed) */
static bool invalidate_cerror_ill(Mx *m)
{
    uint32_t cons = qtest_readl(m->qts, m->smmu + R_CMDQ_CONS);
    uint32_t gerror = qtest_readl(m->qts, m->smmu + R_GERROR);
    uint32_t gerrorn = qtest_readl(m->qts, m->smmu + R_GERRORN);

    return ((cons >> 24) & 0x7f) == 1 &&
           (cons & 0x1ff) == ((m->prod - 5) & 0x1ff) &&
           ((gerror ^ gerrorn) & GERROR_CMDQ_ERR);
}

/* The guest acknowledges the error; the SMMU resumes at CONS */
static void invalidate_ack(Mx *m)
{
    qtest_writel(m->qts, m->smmu + R_GERRORN,
                 qtest_readl(m->qts, m->smmu + R_GERROR));
}

/* The guest powers the slot off; QEMU unplugs and frees the host side */
static void unplug(Mx *m)
{
    qtest_qmp_device_del_send(m->qts, "dev0");
    rp0_slot_power(m->qts, false);
    qobject_unref(qtest_qmp_eventwait_ref(m->qts, "DEVICE_DELETED"));
}

/* Whatever failed on the way out, nothing of the vIOMMU stays */
static bool unplug_ok(Mx *m)
{
    static const char *const types[] = {
        "viommu", "vdevice", "hwpt_nested", "hw_queue", "veventq",
    };

    for (int i = 0; i < ARRAY_SIZE(types); i++) {
        if (mx_count(m, types[i])) {
            return false;
        }
    }
    return true;
}

/* An unplug has no error the guest could see: it must simply complete */
static bool unplug_never_fails(Mx *m)
{
    return false;
}

/* The slot powered again, the device comes back (the way a retry goes) */
static void replug(Mx *m)
{
    rp0_slot_power(m->qts, true);
    plug(m);
}

/*
 * Back with the guest's SMMU on: the device gets its S1 STE and the
 * guest's event queue its host vEVENTQ at once
 */
static bool replug_ok(Mx *m)
{
    return plug_ok(m) && smmu_enable_ok(m) && eventq_ok(m);
}

/* Refused, or plugged with the STE refused (aborts) or no host events */
static bool replug_failed(Mx *m)
{
    return plug_refused(m) ||
           (!m->plug_error && mx_count(m, "viommu") == 1 &&
            (smmu_enable_aborts(m) || eventq_without_host_queue(m)));
}

static void replug_retry(Mx *m)
{
    if (m->plug_error) {
        plug(m);
        return;
    }
    if (smmu_enable_aborts(m)) {
        ste_reissue(m);
    }
    if (!eventq_ok(m)) {
        eventq_reenable(m);
    }
}

typedef struct Step {
    const char *name;
    void (*run)(Mx *m);
    bool (*ok)(Mx *m);
    bool (*failed)(Mx *m);      /* the documented error state */
    void (*retry)(Mx *m);       /* from that state */
} Step;

static const Step steps[] = {
    { "device_add", plug, plug_ok, plug_refused, plug },
    { "smmu-enable", smmu_enable, smmu_enable_ok, smmu_enable_aborts,
      ste_reissue },
    { "eventq-enable", eventq_enable, eventq_ok, eventq_without_host_queue,
      eventq_reenable },
    { "vcmdq0-enable", vcmdq0, vcmdq0_ok, vcmdq0_err, vcmdq0_retry },
    { "vcmdq1-enable", vcmdq1, vcmdq1_ok, vcmdq1_err, vcmdq1_retry },
    { "invalidate", invalidate, invalidate_ok, invalidate_cerror_ill,
      invalidate_ack },
    { "device_del", unplug, unplug_ok, unplug_never_fails, NULL },
    { "device_add-again", replug, replug_ok, replug_failed, replug_retry },
};

/*
 * The calls the accelerated SMMU and CMDQV make, the errnos the contract
 * lets each return (kernel-contract.md). IOMMU_DESTROY and IOAS_UNMAP are
 * refused with EBUSY, as the kernel does while something holds or pins
 * the object: whatever is refused on the way out is destroyed in a later
 * round, nothing is left behind.
 */
static const struct {
    const char *ioctl;
    const char *errnos[5];      /* NULL-terminated */
} calls[] = {
    { "IOMMU_GET_HW_INFO", { "EOPNOTSUPP", "ENOMEM" } },
    { "IOMMU_IOAS_IOVA_RANGES", { "ENOMEM" } },
    { "IOMMU_HWPT_ALLOC", { "EINVAL", "EOPNOTSUPP", "ENOMEM" } },
    { "IOMMU_VIOMMU_ALLOC", { "ENOSPC", "EOPNOTSUPP", "ENOMEM" } },
    { "IOMMU_VDEVICE_ALLOC", { "EEXIST", "ENOSPC", "EINVAL" } },
    { "VFIO_DEVICE_ATTACH_IOMMUFD_PT", { "ENOENT", "EINVAL" } },
    { "IOMMU_VEVENTQ_ALLOC", { "EEXIST", "EINVAL", "ENOMEM" } },
    { "IOMMU_HW_QUEUE_ALLOC", { "EINVAL", "EFAULT", "EEXIST", "ENOMEM" } },
    { "IOMMU_HWPT_INVALIDATE", { "EIO", "EINVAL" } },
    { "mmap", { "ENOMEM", "ENXIO" } },      /* the VINTF page's */
    { "IOMMU_DESTROY", { "EBUSY" } },
    { "IOMMU_IOAS_UNMAP", { "EBUSY" } },
};

typedef struct Case {
    int step, call, nth;
    const char *err;
} Case;

/* calls made by each step in a clean run: delta[step][call] */
static int64_t delta[ARRAY_SIZE(steps)][ARRAY_SIZE(calls)];
static unsigned n_cases, n_documented, n_absorbed;

static void count_calls(Mx *m, int64_t *out)
{
    QDict *d = standin_dump(m->host);

    for (int c = 0; c < ARRAY_SIZE(calls); c++) {
        out[c] = standin_ioctl_count(d, calls[c].ioctl);
    }
    qobject_unref(d);
}

static void run_step_ok(Mx *m, int s)
{
    steps[s].run(m);
    g_assert_true(steps[s].ok(m));
}

/* The clean run: every step succeeds; what each one calls */
static void test_baseline(void)
{
    Mx m;
    int64_t before[ARRAY_SIZE(calls)], after[ARRAY_SIZE(calls)];

    mx_start(&m);
    for (int s = 0; s < ARRAY_SIZE(steps); s++) {
        count_calls(&m, before);
        run_step_ok(&m, s);
        count_calls(&m, after);
        for (int c = 0; c < ARRAY_SIZE(calls); c++) {
            delta[s][c] = after[c] - before[c];
            if (delta[s][c]) {
                g_test_message("step %s: %" PRId64 " x %s", steps[s].name,
                               delta[s][c], calls[c].ioctl);
            }
        }
    }
    mx_assert_alive(&m);
    mx_stop(&m);
    /* The sequence exercises every call of the list */
    for (int c = 0; c < ARRAY_SIZE(calls); c++) {
        int64_t total = 0;

        for (int s = 0; s < ARRAY_SIZE(steps); s++) {
            total += delta[s][c];
        }
        g_assert_cmpint(total, >, 0);
    }
}

static int64_t faults_injected(Mx *m)
{
    QDict *d = standin_dump(m->host);
    QList *l = qdict_get_qlist(d, "faults_injected");
    int64_t n = l ? qlist_size(l) : 0;

    qobject_unref(d);
    return n;
}

static void test_case(const void *opaque)
{
    const Case *c = opaque;
    const Step *st = &steps[c->step];
    Mx m;
    QDict *r;
    bool failed;

    mx_start(&m);
    for (int s = 0; s < c->step; s++) {
        run_step_ok(&m, s);
    }
    r = standin_ctl(m.host, "fault %s %d %s", calls[c->call].ioctl, c->nth,
                    c->err);
    g_assert_true(qdict_get_bool(r, "ok"));
    qobject_unref(r);

    m.vfio_core_rejects_ok = !strcmp(calls[c->call].ioctl, "IOMMU_DESTROY");
    st->run(&m);
    g_assert_cmpint(faults_injected(&m), ==, 1);    /* it did fail */
    mx_assert_alive(&m);
    failed = st->failed(&m);
    g_assert_true(failed || st->ok(&m));
    r = standin_ctl(m.host, "fault-clear");
    qobject_unref(r);
    if (failed) {
        n_documented++;
        st->retry(&m);
        g_assert_true(st->ok(&m));
    } else {
        n_absorbed++;
        g_test_message("absorbed: %s %s #%d %s", st->name,
                       calls[c->call].ioctl, c->nth, c->err);
    }
    for (int s = c->step + 1; s < ARRAY_SIZE(steps); s++) {
        run_step_ok(&m, s);
    }
    mx_assert_alive(&m);
    mx_stop(&m);
    n_cases++;
}

static void test_summary(void)
{
    g_test_message("fault matrix: %u cases (step x call x occurrence x "
                   "errno), %u passed: %u gave the documented error and "
                   "succeeded on retry, %u cost nothing", n_cases,
                   n_documented + n_absorbed, n_documented, n_absorbed);
    printf("# fault matrix: %u cases, %u passed (%u documented error + "
           "retry, %u absorbed)\n", n_cases, n_documented + n_absorbed,
           n_documented, n_absorbed);
    g_assert_cmpuint(n_cases, >, 0);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qtest_add_func("/qac-fault-matrix/baseline", test_baseline);
    /*
     * The cases come from the baseline's call counts, so it runs now,
     * before the cases are registered (a failure here fails the program).
     */
    if (!g_test_subprocess() && g_getenv("QAC_STANDIN_LIB")) {
        test_baseline();
    }
    for (int s = 0; s < ARRAY_SIZE(steps); s++) {
        for (int c = 0; c < ARRAY_SIZE(calls); c++) {
            for (int n = 1; n <= delta[s][c]; n++) {
                for (int e = 0; calls[c].errnos[e]; e++) {
                    Case *k = g_new(Case, 1);
                    g_autofree char *path = g_strdup_printf(
                        "qac-fault-matrix/%s/%s/%d/%s", steps[s].name,
                        calls[c].ioctl, n, calls[c].errnos[e]);

                    *k = (Case){ s, c, n, calls[c].errnos[e] };
                    qtest_add_data_func(path, k, test_case);
                }
            }
        }
    }
    /* a child suite made last runs after the cases (a suite runs its own
     * cases before its child suites) */
    qtest_add_func("/qac-fault-matrix/~/summary", test_summary);
    return g_test_run();
}
