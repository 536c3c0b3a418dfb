/*
 * QTest for the accelerated SMMUv3 (arm-smmuv3,accel=on): properties and
 * command-line validation.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "libqtest.h"
#include "qobject/qdict.h"
#include "qobject/qlist.h"
#include "qobject/qstring.h"
#include "standin-qtest.h"
#include "qac-acpi.h"
#include "qac-regs.h"
#include "qac-cmdqv-guest.h"

/* Does device-list-properties for arm-smmuv3 list @name with type @type? */
static bool smmu_has_property(QTestState *qts, const char *name,
                              const char *type, char **descr)
{
    QDict *resp = qtest_qmp(qts, "{'execute': 'device-list-properties',"
                            " 'arguments': {'typename': 'arm-smmuv3'}}");
    QList *props = qdict_get_qlist(resp, "return");
    QListEntry *e;
    bool found = false;

    g_assert(props);
    QLIST_FOREACH_ENTRY(props, e) {
        QDict *p = qobject_to(QDict, qlist_entry_obj(e));
        if (!strcmp(qdict_get_str(p, "name"), name)) {
            g_assert_cmpstr(qdict_get_str(p, "type"), ==, type);
            if (descr) {
                *descr = g_strdup(qdict_get_try_str(p, "description"));
            }
            found = true;
        }
    }
    qobject_unref(resp);
    return found;
}

static void test_accel_property_listed(void)
{
    QTestState *qts = qtest_init("-M virt -display none");
    char *descr = NULL;

    g_assert_true(smmu_has_property(qts, "accel", "bool", &descr));
    g_assert_nonnull(descr);
    g_assert_nonnull(strstr(descr, "iommufd"));
    g_free(descr);
    qtest_quit(qts);
}

static void test_accel_property_in_device_help(void)
{
    QTestState *qts = qtest_init("-M virt -display none");
    char *out = qtest_hmp(qts, "device_add arm-smmuv3,help");

    g_assert_nonnull(strstr(out, "accel=<bool>"));
    g_assert_nonnull(strstr(out, "(default: off)"));
    g_free(out);
    qtest_quit(qts);
}

static void test_accel_rejects_stage2(void)
{
    g_autofree char *err = qemu_start_fails(
        "-M virt -device arm-smmuv3,primary-bus=pcie.0,accel=on,stage=2");

    g_assert_nonnull(strstr(err, "accel=on requires stage=1, not stage=2"));
    g_assert_nonnull(strstr(err, "set stage=1"));
}

static void test_accel_rejects_nested(void)
{
    g_autofree char *err = qemu_start_fails(
        "-M virt -device arm-smmuv3,primary-bus=pcie.0,accel=on,stage=nested");

    g_assert_nonnull(strstr(err, "accel=on requires stage=1, not stage=nested"));
}

static void test_accel_off_machine_starts(void)
{
    QTestState *qts = qtest_init("-M virt -display none "
                                 "-device arm-smmuv3,primary-bus=pcie.0,id=smmu0");
    QDict *resp = qtest_qmp(qts, "{'execute': 'qom-get', 'arguments':"
                            " {'path': 'smmu0', 'property': 'accel'}}");

    g_assert_false(qdict_get_bool(resp, "return"));
    qobject_unref(resp);
    qtest_quit(qts);
}

static void test_default_machine_smmuv3_starts(void)
{
    QTestState *qts = qtest_init("-M virt,iommu=smmuv3 -display none");
    char *out = qtest_hmp(qts, "info qtree");

    g_assert_nonnull(strstr(out, "arm-smmuv3"));
    g_free(out);
    qtest_quit(qts);
}


/* ---- against the stand-in for the host kernel --------------------------- */

#define HOST_CONF \
    "[host]\n" \
    "page_size = 4096\n" \
    "[smmu smmu0]\n" \
    "nesting = yes\n" \
    "cmdqv = yes\n" \
    "[pci 0000:01:00.0]\n" \
    "smmu = smmu0\n" \
    "vendor = 0x10de\n" \
    "device = 0x2342\n" \
    "class = 0x030200\n" \
    "sid = 0x100\n" \
    "bar0 = 16M\n"

#define HOST_CONF_NONEST \
    "[smmu smmu0]\n" \
    "nesting = no\n" \
    "[pci 0000:01:00.0]\n" \
    "smmu = smmu0\n" \
    "sid = 0x100\n" \
    "bar0 = 64K\n"

/* An SMMU driver with its software MSI window at 256 MiB */
#define HOST_CONF_MSI_ELSEWHERE \
    "[smmu smmu0]\n" \
    "msi_window = 0x10000000\n" \
    "[pci 0000:01:00.0]\n" \
    "smmu = smmu0\n" \
    "sid = 0x100\n" \
    "bar0 = 64K\n"

/* The vfio-pci device sits at pcie.0 slot 2: guest SID 0x10. */
#define DEV_SID         0x10

typedef struct Guest {
    QTestState *qts;
    StandinHost *host;
    uint64_t smmu;      /* MMIO base */
    uint32_t prod;      /* our copy of CMDQ_PROD (with wrap) */
} Guest;

static void guest_start(Guest *g, const char *conf, const char *smmu_opts,
                        bool with_dev)
{
    g_autofree char *sysfs = NULL;
    g_autofree char *args = NULL;

    g->host = standin_host_new(conf);
    sysfs = standin_sysfsdev(g->host, "0000:01:00.0");
    args = g_strdup_printf("-M virt -display none -nodefaults "
                           "-object iommufd,id=iommufd0 "
                           "-device arm-smmuv3,primary-bus=pcie.0,id=smmu0,"
                           "accel=on%s%s %s%s",
                           smmu_opts ? "," : "", smmu_opts ? smmu_opts : "",
                           with_dev ? DEV_ARGS : "", with_dev ? sysfs : "");
    g->qts = standin_qtest_start(g->host, args);
    g->smmu = qtest_mtree_base(g->qts, "arm-smmuv3");
    g->prod = 0;
}

static void guest_stop(Guest *g, bool assert_clean)
{
    qtest_quit(g->qts);
    if (assert_clean) {
        standin_assert_clean_exit(g->host);
    }
    standin_host_free(g->host);
}

/* Stream table, command queue, SMMUEN, as a driver's probe does. */
static void guest_smmu_enable(Guest *g)
{
    smmu_probe(g->qts, g->smmu, 8, 0, 0);      /* linear, 2^8 STEs */
}

static void guest_cmd(Guest *g, uint64_t w0, uint64_t w1)
{
    smmu_cmd(g->qts, &g->prod, w0, w1);
}

static void guest_cmdq_kick(Guest *g)
{
    qtest_writel(g->qts, g->smmu + R_CMDQ_PROD, g->prod);
}

static uint32_t guest_cmdq_cons(Guest *g)
{
    return qtest_readl(g->qts, g->smmu + R_CMDQ_CONS);
}

static void guest_write_ste(Guest *g, uint32_t sid, uint64_t w0, uint64_t w1)
{
    qtest_memset(g->qts, G_STRTAB + sid * 64, 0, 64);
    qtest_writeq(g->qts, G_STRTAB + sid * 64, w0);
    qtest_writeq(g->qts, G_STRTAB + sid * 64 + 8, w1);
}

static void guest_install_ste(Guest *g, uint32_t sid, uint64_t w0, uint64_t w1)
{
    guest_write_ste(g, sid, w0, w1);
    guest_cmd(g, CMD_CFGI_STE(sid), 1 /* leaf */);
    guest_cmd(g, CMD_SYNC, 0);
    guest_cmdq_kick(g);
    g_assert_cmphex(guest_cmdq_cons(g), ==, g->prod);
}

/* QEMU with the device, the SMMU enabled and the device's stage-1 STE */
static void guest_start_s1(Guest *g, const char *smmu_opts)
{
    guest_start(g, HOST_CONF, smmu_opts, true);
    guest_smmu_enable(g);
    guest_install_ste(g, DEV_SID, STE0_S1(G_CD), 0);
}

/* The one device object of the dump and the HWPT it is attached to. */
static QDict *dump_device(QDict *dump)
{
    g_autoptr(GPtrArray) devs = standin_objects(dump, "device");

    g_assert_cmpint(devs->len, ==, 1);
    return g_ptr_array_index(devs, 0);
}

/* The nested HWPT with vSTE word 0 == @w0, or NULL. */
static QDict *dump_nested_with_ste0(QDict *dump, uint64_t w0)
{
    g_autoptr(GPtrArray) objs = standin_objects(dump, "hwpt_nested");

    for (int i = 0; i < objs->len; i++) {
        QDict *o = g_ptr_array_index(objs, i);
        if (standin_hex(o, "ste", 0) == w0) {
            return o;
        }
    }
    return NULL;
}

/* Does the stand-in model a kernel that attaches nested HWPTs only with a vDEVICE? */
static bool kernel_before_6_19(QDict *dump)
{
    const char *k = qdict_get_str(dump, "kernel");

    return !strcmp(k, "6.17") || !strcmp(k, "6.18");
}

static void test_coldplug_viommu(void)
{
    Guest g;
    QDict *d, *dev, *viommu, *s2, *attached;

    /* The plain vIOMMU: CMDQV (auto: on, this host has it) is its own test */
    guest_start(&g, HOST_CONF, "cmdqv=off", true);
    d = standin_dump(g.host);
    viommu = standin_single(d, "viommu");
    g_assert_cmpstr(qdict_get_str(viommu, "viommu_type"), ==, "arm_smmuv3");
    s2 = standin_object(d, qdict_get_int(viommu, "hwpt"));
    g_assert_nonnull(s2);
    g_assert_cmpstr(qdict_get_str(s2, "type"), ==, "hwpt_paging");
    g_assert_true(qdict_get_bool(s2, "nest_parent"));
    /*
     * SMMU disabled and GBPA.ABORT clear after reset: bypass. Through the
     * vIOMMU's nested bypass HWPT where the host allows it without a
     * vDEVICE (6.19 on), else the stage-2 HWPT alone.
     */
    dev = dump_device(d);
    attached = standin_object(d, qdict_get_int(dev, "attached"));
    g_assert_nonnull(attached);
    if (kernel_before_6_19(d)) {
        g_assert_cmpint(qdict_get_int(attached, "id"), ==,
                        qdict_get_int(s2, "id"));
    } else {
        g_assert_cmpstr(qdict_get_str(attached, "type"), ==, "hwpt_nested");
        g_assert_cmphex(standin_hex(attached, "ste", 0), ==,
                        STE0_V | STE0_CFG(4));
    }
    /* No vDEVICE before the guest configures the device's STE */
    g_assert_cmpint(standin_objects(d, "vdevice")->len, ==, 0);
    qobject_unref(d);
    guest_stop(&g, true);
}

static void test_ste_to_nested_hwpt(void)
{
    const uint64_t w0 = STE0_S1(G_CD) |
                        (1ULL << 55) /* not a vSTE field */;
    const uint64_t w1 = STE1_S1CIR(1) | STE1_S1COR(1) | STE1_S1CSH(3) |
                        STE1_EATS(1) | STE1_STRW(2);
    Guest g;
    QDict *d, *dev, *hwpt, *vdev;

    guest_start(&g, HOST_CONF, "ats=off", true);
    guest_smmu_enable(&g);
    guest_install_ste(&g, DEV_SID, w0, w1);

    d = standin_dump(g.host);
    dev = dump_device(d);
    hwpt = standin_object(d, qdict_get_int(dev, "attached"));
    g_assert_nonnull(hwpt);
    g_assert_cmpstr(qdict_get_str(hwpt, "type"), ==, "hwpt_nested");
    /* Only the fields the kernel allows; EATS dropped with ats=off */
    g_assert_cmphex(standin_hex(hwpt, "ste", 0), ==, w0 & ~(1ULL << 55));
    g_assert_cmphex(standin_hex(hwpt, "ste", 1), ==,
                    STE1_S1CIR(1) | STE1_S1COR(1) | STE1_S1CSH(3));
    vdev = standin_single(d, "vdevice");
    g_assert_cmpint(qdict_get_int(vdev, "virt_id"), ==, DEV_SID);
    g_assert_cmpint(qdict_get_int(vdev, "psid"), ==, 0x100);
    g_assert_cmpint(qdict_get_int(vdev, "viommu"), ==,
                    qdict_get_int(standin_single(d, "viommu"), "id"));
    qobject_unref(d);
    guest_stop(&g, true);
}

static void test_abort_bypass_transitions(void)
{
    const uint64_t s1 = STE0_S1(G_CD);
    Guest g;
    QDict *d, *att;
    int64_t nested_id;

    guest_start(&g, HOST_CONF, NULL, true);
    guest_smmu_enable(&g);

    guest_install_ste(&g, DEV_SID, s1, 0);
    d = standin_dump(g.host);
    nested_id = qdict_get_int(dump_device(d), "attached");
    qobject_unref(d);

    /* Cfg = abort: the shared abort HWPT, the nested one freed */
    guest_install_ste(&g, DEV_SID, STE0_V | STE0_CFG(0), 0);
    d = standin_dump(g.host);
    att = standin_object(d, qdict_get_int(dump_device(d), "attached"));
    g_assert_cmphex(standin_hex(att, "ste", 0), ==, 0);
    g_assert_null(standin_object(d, nested_id));
    qobject_unref(d);

    /* Cfg = bypass */
    guest_install_ste(&g, DEV_SID, STE0_V | STE0_CFG(4), 0);
    d = standin_dump(g.host);
    att = standin_object(d, qdict_get_int(dump_device(d), "attached"));
    g_assert_cmphex(standin_hex(att, "ste", 0), ==, STE0_V | STE0_CFG(4));
    qobject_unref(d);

    /* V = 0: abort */
    guest_install_ste(&g, DEV_SID, STE0_CFG(5), 0);
    d = standin_dump(g.host);
    att = standin_object(d, qdict_get_int(dump_device(d), "attached"));
    g_assert_cmphex(standin_hex(att, "ste", 0), ==, 0);
    qobject_unref(d);

    /* SMMU off with GBPA.ABORT: abort; GBPA.ABORT clear: bypass */
    guest_install_ste(&g, DEV_SID, s1, 0);
    qtest_writel(g.qts, g.smmu + R_GBPA, (1u << 31) | (1u << 20));
    qtest_writel(g.qts, g.smmu + R_CR0, CR0_CMDQEN);
    d = standin_dump(g.host);
    att = standin_object(d, qdict_get_int(dump_device(d), "attached"));
    g_assert_cmphex(standin_hex(att, "ste", 0), ==, 0);
    qobject_unref(d);
    qtest_writel(g.qts, g.smmu + R_GBPA, 1u << 31);
    d = standin_dump(g.host);
    att = standin_object(d, qdict_get_int(dump_device(d), "attached"));
    g_assert_cmphex(standin_hex(att, "ste", 0), ==, STE0_V | STE0_CFG(4));
    qobject_unref(d);

    /* Re-enabled: the guest's S1 STE again */
    qtest_writel(g.qts, g.smmu + R_CR0, CR0_CMDQEN | CR0_SMMUEN);
    d = standin_dump(g.host);
    g_assert_nonnull(dump_nested_with_ste0(d, s1));
    att = standin_object(d, qdict_get_int(dump_device(d), "attached"));
    g_assert_cmphex(standin_hex(att, "ste", 0), ==, s1);
    qobject_unref(d);
    guest_stop(&g, true);
}

/* query-smmuv3-accel's @key of the first SMMU, as a double */
static double accel_query_num(QTestState *qts, const char *key)
{
    QDict *r = qtest_qmp(qts, "{'execute': 'query-smmuv3-accel'}");
    QDict *info = qobject_to(QDict, qlist_peek(qdict_get_qlist(r, "return")));
    double v = qdict_get_double(info, key);

    qobject_unref(r);
    return v;
}

static void test_invalidations_batched(void)
{
    Guest g;
    QDict *d;
    int64_t before;
    QList *invs;
    QDict *last;
    double runs, consumed;

    guest_start_s1(&g, NULL);
    d = standin_dump(g.host);
    before = qdict_get_int(d, "invalidation_ioctls");
    qobject_unref(d);
    runs = accel_query_num(g.qts, "cmdq-runs");
    consumed = accel_query_num(g.qts, "commands-consumed");

    for (int i = 0; i < 64; i++) {
        guest_cmd(&g, CMD_TLBI_NH_VA(7), 0x1000ULL * (i + 1));
    }
    guest_cmd(&g, CMD_SYNC, 0);
    guest_cmdq_kick(&g);
    g_assert_cmphex(guest_cmdq_cons(&g), ==, g.prod);

    d = standin_dump(g.host);
    g_assert_cmpint(qdict_get_int(d, "invalidation_ioctls"), ==, before + 1);
    invs = qdict_get_qlist(d, "invalidations");
    last = NULL;
    for (const QListEntry *e = qlist_first(invs); e; e = qlist_next(e)) {
        last = qobject_to(QDict, qlist_entry_obj(e));
    }
    g_assert_nonnull(last);
    g_assert_cmpint(qdict_get_int(last, "entry_num"), ==, 64);
    g_assert_cmpint(qdict_get_int(last, "errno"), ==, 0);
    qobject_unref(d);
    /* one exit (the PROD write) for the 65 commands: one run of the queue */
    g_assert_cmpfloat(accel_query_num(g.qts, "cmdq-runs"), ==, runs + 1);
    g_assert_cmpfloat(accel_query_num(g.qts, "commands-consumed"), ==,
                      consumed + 65);
    g_assert_cmpfloat(accel_query_num(g.qts, "commands-per-cmdq-run"), ==,
                      (consumed + 65) / (runs + 1));
    guest_stop(&g, true);
}

/* A refusal at entry 10 of a batch: CERROR_ILL with CONS at command 10. */
static void test_invalidation_failure_at_entry(void)
{
    Guest g;
    QDict *d, *r;
    uint32_t cons, start, gerror;
    int64_t before;

    guest_start_s1(&g, NULL);
    r = standin_ctl(g.host, "fault IOMMU_HWPT_INVALIDATE 1 EIO 10");
    g_assert_true(qdict_get_bool(r, "ok"));
    qobject_unref(r);
    d = standin_dump(g.host);
    before = qdict_get_int(d, "invalidation_ioctls");
    qobject_unref(d);

    start = g.prod;
    for (int i = 0; i < 64; i++) {
        guest_cmd(&g, CMD_TLBI_NH_VA(3), 0x1000ULL * (i + 1));
    }
    guest_cmd(&g, CMD_SYNC, 0);
    guest_cmdq_kick(&g);

    cons = guest_cmdq_cons(&g);
    g_assert_cmphex(cons & 0x1ff, ==, start + 10);     /* at command 10 */
    g_assert_cmphex((cons >> 24) & 0x7f, ==, 1);        /* CERROR_ILL */
    gerror = qtest_readl(g.qts, g.smmu + R_GERROR);
    g_assert_cmphex(gerror & 1, ==, 1);                 /* CMDQ_ERR */

    /*
     * The guest acknowledges and the rest of the batch goes through:
     * the refused call, entries 0..9 sent again, then 10..63.
     */
    qtest_writel(g.qts, g.smmu + R_GERRORN, gerror);
    g_assert_cmphex(guest_cmdq_cons(&g) & 0x1ff, ==, g.prod);
    d = standin_dump(g.host);
    g_assert_cmpint(qdict_get_int(d, "invalidation_ioctls"), ==, before + 3);
    g_assert_cmpint(qdict_get_int(d, "invalidation_cmds"), >=, 10 + 54);
    qobject_unref(d);
    guest_stop(&g, true);
}

/* An event the host reports for the device reaches the guest's queue. */
#define G_EVTQ          0x40400000ULL

static void test_event_reaches_guest(void)
{
    Guest g;
    QDict *r;
    uint32_t prod = 0;
    gint64 deadline;

    guest_start(&g, HOST_CONF, NULL, true);
    guest_smmu_enable(&g);
    qtest_memset(g.qts, G_EVTQ, 0, 32 * 16);
    qtest_writeq(g.qts, g.smmu + R_EVENTQ_BASE, G_EVTQ | 4);  /* 16 events */
    qtest_writel(g.qts, g.smmu + R_EVENTQ_PROD, 0);
    qtest_writel(g.qts, g.smmu + R_EVENTQ_CONS, 0);
    qtest_writel(g.qts, g.smmu + R_CR0,
                 CR0_CMDQEN | CR0_SMMUEN | CR0_EVENTQEN);
    guest_install_ste(&g, DEV_SID, STE0_S1(G_CD),
                      0);

    /* F_TRANSLATION (0x10) with the physical SID 0x100, IOVA 0xdead000 */
    r = standin_ctl(g.host, "event 0000:01:00.0 "
                    "1000000000010000" "0000000000000000"
                    "00e0ad0d00000000" "0000000000000000");
    g_assert_true(qdict_get_bool(r, "ok"));
    qobject_unref(r);

    deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
    while (g_get_monotonic_time() < deadline) {
        prod = qtest_readl(g.qts, g.smmu + R_EVENTQ_PROD);
        if (prod & 0xff) {
            break;
        }
        g_usleep(1000);
    }
    g_assert_cmphex(prod & 0x1f, ==, 1);
    g_assert_cmphex(qtest_readl(g.qts, G_EVTQ) & 0xff, ==, 0x10);
    /* the guest sees its own SID, not the host's */
    g_assert_cmphex(qtest_readl(g.qts, G_EVTQ + 4), ==, DEV_SID);
    g_assert_cmphex(qtest_readq(g.qts, G_EVTQ + 16), ==, 0xdade000ULL);
    guest_stop(&g, true);
}

static void test_host_without_nesting_refused(void)
{
    g_autofree char *err = standin_smmu_start_fails(HOST_CONF_NONEST, "");

    g_assert_nonnull(strstr(err, "smmu0"));
    g_assert_nonnull(strstr(err, "nest"));
}

static void test_auto_without_coldplug_refused(void)
{
    StandinHost *h = standin_host_new(HOST_CONF);
    g_autofree char *err = standin_qemu_start_fails(h,
        "-M virt -object iommufd,id=iommufd0 "
        "-device arm-smmuv3,primary-bus=pcie.0,id=smmu0,accel=on,ats=off");

    g_assert_nonnull(strstr(err, "'auto' cannot be resolved"));
    g_assert_nonnull(strstr(err, "ril=on|off oas=44|48 ssidsize=0..20"));
    g_assert_null(strstr(err, "ats=on|off"));
    standin_host_free(h);
}

static void test_bad_property_values(void)
{
    g_autofree char *e1 = qemu_start_fails(
        "-M virt -device arm-smmuv3,primary-bus=pcie.0,accel=on,oas=52");
    g_autofree char *e2 = qemu_start_fails(
        "-M virt -device arm-smmuv3,primary-bus=pcie.0,accel=on,ssidsize=21");
    g_autofree char *e3 = qemu_start_fails(
        "-M virt -device arm-smmuv3,primary-bus=pcie.0,accel=on,ril=maybe");

    /* upstream's QAPI enums OasMode and SsidSizeMode refuse them */
    g_assert_nonnull(strstr(e1, "Parameter 'oas' does not accept value '52'"));
    g_assert_nonnull(strstr(e2, "Parameter 'ssidsize' does not accept value "
                            "'21'"));
    g_assert_nonnull(strstr(e3, "ril"));
}

static void test_emulated_endpoint_refused(void)
{
    g_autofree char *err = qemu_start_fails(
        "-M virt -device arm-smmuv3,primary-bus=pcie.0,id=smmu0,accel=on,"
        "ril=on,ats=off,oas=48,ssidsize=0 "
        "-device e1000e,id=nic0,bus=pcie.0");

    g_assert_nonnull(strstr(err, "smmu0: e1000e 'nic0' is an emulated PCI "
                            "device"));
}

/* device_add of an emulated endpoint behind the accel SMMU: refused by name */
static void test_emulated_endpoint_hotplug_refused(void)
{
    static const char *const adds[][2] = {
        { "e1000e", "pcie.0" },
        { "e1000e", NULL },             /* the default bus */
        { "virtio-net", NULL },         /* an alias */
        { "e1000e", "/gpex-pcihost/pcie.0" },   /* a qdev path */
    };
    Guest g;
    QDict *r, *d;

    guest_start(&g, HOST_CONF, "cmdqv=off", true);
    for (int i = 0; i < ARRAY_SIZE(adds); i++) {
        QDict *args = qdict_new(), *e;

        qdict_put_str(args, "driver", adds[i][0]);
        qdict_put_str(args, "id", "nic1");
        if (adds[i][1]) {
            qdict_put_str(args, "bus", adds[i][1]);
        }
        r = qtest_qmp(g.qts, "{'execute': 'device_add', 'arguments': %p}",
                      args);
        e = qdict_get_qdict(r, "error");
        g_assert_nonnull(e);
        g_test_message("device_add %s on %s: %s", adds[i][0],
                       adds[i][1] ?: "(default)", qdict_get_str(e, "desc"));
        g_assert_nonnull(strstr(qdict_get_str(e, "desc"), "smmu0: "));
        g_assert_nonnull(strstr(qdict_get_str(e, "desc"),
                                " 'nic1' is an emulated PCI device; an "
                                "accel=on SMMU serves only vfio-pci devices"));
        qobject_unref(r);
    }
    /* Nothing was made; the vfio-pci device is still served */
    r = qtest_qmp(g.qts, "{'execute': 'qom-list', 'arguments': "
                  "{'path': '/machine/peripheral/nic1'}}");
    g_assert_true(qdict_haskey(r, "error"));
    qobject_unref(r);
    d = standin_dump(g.host);
    standin_single(d, "viommu");
    qobject_unref(d);
    guest_stop(&g, true);
}

static void test_explicit_properties_hotplug_first(void)
{
    Guest g;
    QDict *d;
    g_autofree char *sysfs = NULL;

    /* JSON -device as libvirt writes it, values as strings */
    g.host = standin_host_new(HOST_CONF);
    sysfs = standin_sysfsdev(g.host, "0000:01:00.0");
    g.qts = standin_qtest_start(g.host,
        "-M virt -display none -nodefaults -object iommufd,id=iommufd0 "
        "-device '{\"driver\":\"arm-smmuv3\",\"primary-bus\":\"pcie.0\","
        "\"id\":\"smmu0\",\"accel\":true,\"ril\":\"off\",\"ats\":\"off\","
        "\"oas\":\"48\",\"ssidsize\":\"16\"}' "
        "-device pcie-root-port,id=rp0,bus=pcie.0,chassis=1");
    g.smmu = qtest_mtree_base(g.qts, "arm-smmuv3");
    /* The guest sees what was asked for */
    g_assert_cmphex(qtest_readl(g.qts, g.smmu + R_IDR3) & (1 << 10), ==, 0);
    g_assert_cmphex(qtest_readl(g.qts, g.smmu + R_IDR5) & 7, ==, 5);
    g_assert_cmphex((qtest_readl(g.qts, g.smmu + 0x4) >> 6) & 0x1f, ==, 16);

    d = standin_dump(g.host);
    g_assert_cmpint(standin_objects(d, "viommu")->len, ==, 0);
    qobject_unref(d);

    /* The first device arrives by hotplug */
    qtest_qmp_device_add(g.qts, "vfio-pci", "dev0",
                         "{'bus': 'rp0', 'iommufd': 'iommufd0',"
                         " 'sysfsdev': %s}", sysfs);
    d = standin_dump(g.host);
    g_assert_cmpint(standin_objects(d, "viommu")->len, ==, 1);
    g_assert_cmpint(qdict_get_int(dump_device(d), "attached"), !=, 0);
    qobject_unref(d);
    guest_stop(&g, true);
}

/* The first device by hotplug, the last one removed, then again. */
/* ---- ACPI: IORT nodes and RMR, the PCI host bridge's _DSM ---------------- */

/* Offset of the @nth IORT node of @type in @t, 0 if none */
static uint32_t iort_node(const uint8_t *t, uint32_t len, uint8_t type, int nth)
{
    uint32_t n = ldl_le_p(t + 36), off = ldl_le_p(t + 40);

    for (uint32_t i = 0; i < n && off + 16 <= len; i++) {
        if (t[off] == type && nth-- == 0) {
            return off;
        }
        g_assert_cmpuint(lduw_le_p(t + off + 1), >=, 16);
        off += lduw_le_p(t + off + 1);
    }
    return 0;
}

/* ID mapping @i of the node at @node: input base, count-1, output, ref */
static void iort_id_map(const uint8_t *t, uint32_t node, int i, uint32_t *m)
{
    const uint8_t *p = t + node + ldl_le_p(t + node + 12) + i * 20;

    g_assert_cmpint(i, <, ldl_le_p(t + node + 8));
    for (int k = 0; k < 4; k++) {
        m[k] = ldl_le_p(p + 4 * k);
    }
    g_assert_cmphex(ldl_le_p(p + 16), ==, 0);      /* not a single mapping */
}

static void rm_dir(const char *dir)
{
    g_autofree char *rm = g_strdup_printf("rm -rf '%s'", dir);

    g_assert_cmpint(system(rm), ==, 0);
}

static void test_acpi_iort_rmr(void)
{
    Guest g;
    g_autofree uint8_t *t = NULL;
    g_autofree char *dir = g_dir_make_tmp("qac-acpi-XXXXXX", NULL);
    g_autofree char *iort = NULL, *dsdt = NULL;
    uint32_t len, smmu, rc, rmr, desc, m[4];
    char *p;

    guest_start(&g, HOST_CONF, "cmdqv=off", true);
    t = acpi_table_raw(g.qts, "IORT", &len);
    g_assert_nonnull(t);
    g_assert_cmpuint(t[8], ==, 5);          /* E.d: Linux reads RMRs */
    smmu = iort_node(t, len, 4, 0);
    rc = iort_node(t, len, 2, 0);
    rmr = iort_node(t, len, 6, 0);
    g_assert_cmpuint(smmu, !=, 0);
    g_assert_cmpuint(rc, !=, 0);
    g_assert_cmpuint(rmr, !=, 0);
    g_assert_cmpuint(iort_node(t, len, 4, 1), ==, 0);   /* one SMMU */
    g_assert_cmpuint(iort_node(t, len, 6, 1), ==, 0);   /* one RMR */
    /* The SMMU node: where the SMMU is */
    g_assert_cmphex(ldq_le_p(t + smmu + 16), ==, g.smmu);
    /* RC -> SMMU: the RIDs of pcie.0's bus range (bus 0 alone), SID = RID */
    iort_id_map(t, rc, 0, m);
    g_assert_cmphex(m[0], ==, 0);
    g_assert_cmphex(m[1], ==, 0xff);
    g_assert_cmphex(m[2], ==, 0);
    g_assert_cmphex(m[3], ==, smmu);
    /* RMR: revision 3, remap permitted + Device-nGnRE, the same SIDs */
    g_assert_cmpuint(t[rmr + 3], ==, 3);
    g_assert_cmphex(ldl_le_p(t + rmr + 16), ==, 0x5);
    g_assert_cmpuint(ldl_le_p(t + rmr + 8), ==, 1);
    iort_id_map(t, rmr, 0, m);
    g_assert_cmphex(m[0], ==, 0);
    g_assert_cmphex(m[1], ==, 0xff);
    g_assert_cmphex(m[2], ==, 0);
    g_assert_cmphex(m[3], ==, smmu);
    /* one memory range: the host's software MSI window */
    g_assert_cmpuint(ldl_le_p(t + rmr + 20), ==, 1);
    desc = rmr + ldl_le_p(t + rmr + 24);
    g_assert_cmpuint(desc + 20, <=, rmr + lduw_le_p(t + rmr + 1));
    g_assert_cmphex(ldq_le_p(t + desc), ==, 0x8000000);
    g_assert_cmphex(ldq_le_p(t + desc + 8), ==, 0x100000);

    if (!acpi_have_iasl()) {
        g_test_message("iasl (acpica-tools) not installed: decompiling skipped");
    } else {
        /*
         * iasl reads the same: the table, the SMMUv3 node, the RC map to
         * it. (Debian 12's iasl, 20200925, predates RMR nodes: it prints
         * their header, checked here, and the raw bytes checked above.)
         */
        g_autofree char *base = g_strdup_printf("Base Address : %016" PRIX64,
                                                g.smmu);
        g_autofree char *ref = g_strdup_printf("Output Reference : %08X",
                                               smmu);

        iort = acpi_table_asl(g.qts, "IORT", dir);
        g_assert_nonnull(iort);
        g_assert_nonnull(strstr(iort, "Revision : 05"));
        p = strstr(iort, "Type : 04");
        g_assert_nonnull(p);
        g_assert_nonnull(strstr(p, base));
        p = strstr(iort, "Type : 02");
        g_assert_nonnull(p);
        p = strstr(p, "ID Count : 000000FF");
        g_assert_nonnull(p);
        g_assert_nonnull(strstr(p, ref));
        p = strstr(p, "Type : 06");
        g_assert_nonnull(p);
        g_assert_nonnull(strstr(p, "Mapping Count : 00000001"));
        /*
         * The host bridge's _DSM offers function 5 and answers 0: Linux
         * then keeps the firmware's bus numbers, which it requires before
         * applying an RMR to a PCI device.
         */
        dsdt = acpi_table_asl(g.qts, "DSDT", dir);
        g_assert_nonnull(dsdt);
        p = strstr(dsdt, "Device (PCI0)");
        g_assert_nonnull(p);
        p = strstr(p, "Method (_DSM");
        g_assert_nonnull(p);
        g_assert_nonnull(strstr(p, "0x21"));
        p = strstr(p, "If ((Arg2 == 0x05))");
        g_assert_nonnull(p);
        g_assert_nonnull(strstr(p, "Return (Zero)"));
    }
    guest_stop(&g, true);
    rm_dir(dir);
}

/* Without accel=on the tables stay as QEMU 10.2 makes them. */
static void test_acpi_emulated_smmu_unchanged(void)
{
    QTestState *qts = qtest_init("-M virt -display none -nodefaults "
                                 "-device arm-smmuv3,primary-bus=pcie.0");
    g_autofree char *dir = g_dir_make_tmp("qac-acpi-XXXXXX", NULL);
    g_autofree char *dsdt = NULL;
    g_autofree uint8_t *t = NULL;
    uint32_t len;

    t = acpi_table_raw(qts, "IORT", &len);
    g_assert_nonnull(t);
    g_assert_cmpuint(t[8], ==, 3);
    g_assert_cmpuint(iort_node(t, len, 4, 0), !=, 0);
    g_assert_cmpuint(iort_node(t, len, 6, 0), ==, 0);
    if (acpi_have_iasl()) {
        dsdt = acpi_table_asl(qts, "DSDT", dir);
        g_assert_nonnull(strstr(dsdt, "Method (_DSM"));
        g_assert_null(strstr(dsdt, "If ((Arg2 == 0x05))"));
    }
    qtest_quit(qts);
    rm_dir(dir);
}

/*
 * A host SMMU driver whose software MSI window is not the one the guest's
 * RMR maps: the device's MSIs would fault, so it is refused by name.
 */
static void test_msi_window_mismatch_refused(void)
{
    g_autofree char *err = standin_smmu_start_fails(HOST_CONF_MSI_ELSEWHERE,
                                                    "");

    g_assert_nonnull(strstr(err, "smmu0: the host does not reserve the "
                            "software MSI window 0x8000000..0x80fffff for "));
    g_assert_nonnull(strstr(err, "is mappable"));
}

static void test_hotplug_unplug_replug(void)
{
    Guest g;
    QDict *d;
    g_autofree char *sysfs = NULL;
    const char *rest = "-device pcie-root-port,id=rp0,bus=pcie.0,chassis=1,"
                       "addr=3.0";

    g.host = standin_host_new(HOST_CONF);
    sysfs = standin_sysfsdev(g.host, "0000:01:00.0");
    {
        g_autofree char *args = g_strdup_printf(
            "-M virt,highmem-ecam=off -display none -nodefaults "
            "-object iommufd,id=iommufd0 "
            "-device arm-smmuv3,primary-bus=pcie.0,id=smmu0,accel=on,"
            "ril=on,ats=off,oas=44,ssidsize=0 %s", rest);
        g.qts = standin_qtest_start(g.host, args);
    }

    for (int round = 0; round < 2; round++) {
        qtest_qmp_device_add(g.qts, "vfio-pci", "dev0",
                             "{'bus': 'rp0', 'iommufd': 'iommufd0',"
                             " 'sysfsdev': %s}", sysfs);
        d = standin_dump(g.host);
        g_assert_cmpint(standin_count(d, "viommu"), ==, 1);
        /* abort, bypass */
        g_assert_cmpint(standin_count(d, "hwpt_nested"), ==, 2);
        qobject_unref(d);

        /* device_del presses the attention button; the "guest" powers off */
        qtest_qmp_device_del_send(g.qts, "dev0");
        rp0_slot_power(g.qts, false);
        qtest_qmp_eventwait(g.qts, "DEVICE_DELETED");

        /* The last device took every vIOMMU object with it. */
        d = standin_dump(g.host);
        g_assert_cmpint(standin_count(d, "viommu"), ==, 0);
        g_assert_cmpint(standin_count(d, "hwpt_nested"), ==, 0);
        g_assert_cmpint(standin_count(d, "vdevice"), ==, 0);
        g_assert_cmpint(standin_count(d, "device"), ==, 0);
        g_assert_true(qlist_empty(qdict_get_qlist(d, "rejected_destroys")));
        qobject_unref(d);

        /* Power the slot back on for the next round. */
        if (round == 0) {
            rp0_slot_power(g.qts, true);
        }
    }
    guest_stop(&g, true);
}

/* vfio-pci on the stand-in, no vIOMMU: the guest sees the function. */
static void vfio_pci_on_standin(const char *conf)
{
    StandinHost *h = standin_host_new(conf);
    g_autofree char *sysfs = standin_sysfsdev(h, "0000:01:00.0");
    g_autofree char *args = g_strdup_printf(
        "-M virt,highmem-ecam=off -display none -nodefaults "
        "-object iommufd,id=iommufd0 "
        "-device vfio-pci,id=dev0,bus=pcie.0,addr=2.0,iommufd=iommufd0,"
        "sysfsdev=%s", sysfs);
    QTestState *qts = standin_qtest_start(h, args);
    uint64_t cfg = ECAM_LOW + (0x10 << 12);     /* 00:02.0 */
    QDict *d;

    g_assert_cmphex(qtest_readw(qts, cfg + 0x0), ==, 0x10de);
    g_assert_cmphex(qtest_readw(qts, cfg + 0x2), ==, 0x2342);
    g_assert_cmphex(qtest_readl(qts, cfg + 0x8) >> 8, ==, 0x030200);
    d = standin_dump(h);
    g_assert_cmpint(standin_ioctl_count(d, "VFIO_DEVICE_BIND_IOMMUFD"), ==, 1);
    g_assert_cmpint(standin_ioctl_count(d, "IOMMU_IOAS_MAP") +
                    standin_ioctl_count(d, "IOMMU_IOAS_MAP_FILE"), >, 0);
    qobject_unref(d);
    qtest_quit(qts);
    standin_assert_clean_exit(h);
    standin_host_free(h);
}

static void test_vfio_pci_without_viommu(void)
{
    vfio_pci_on_standin(HOST_CONF);
}

/*
 * qemu-base-notes.md: QEMU 10.2.2 died with SIGSEGV at startup when the
 * host refused IOMMU_IOAS_CHANGE_PROCESS. With the fix it starts, blocks
 * CPR, and the device works.
 */
static void test_change_process_refused_starts(void)
{
    vfio_pci_on_standin(HOST_CONF
                        "[fault]\n"
                        "ioctl = IOMMU_IOAS_CHANGE_PROCESS\n"
                        "nth = 0\n"
                        "errno = ENOTTY\n");
}

static void test_ril_on_host_without_ril_refused(void)
{
    /* Host IDR3 without RIL (bit 10) */
    g_autofree char *err = standin_smmu_start_fails(
        "[smmu smmu0]\nnesting = yes\nidr3 = 0x0\n"
        "[pci 0000:01:00.0]\nsmmu = smmu0\nsid = 0x100\nbar0 = 64K\n",
        ",ril=on");

    g_assert_nonnull(strstr(err, "ril=on, but the host SMMU"));
    g_assert_nonnull(strstr(err, "Set ril=off"));
}


/* ---- issue 11: review defects, each shown failing before its fix ---------- */

/* The CMDQ_CONS error field and the SMMU's GERROR.CMDQ_ERR ack */
#define CONS_ERR(c)     (((c) >> 24) & 0x7f)

static void guest_ack_cmdq_error(Guest *g)
{
    qtest_writel(g->qts, g->smmu + R_GERRORN,
                 qtest_readl(g->qts, g->smmu + R_GERROR));
}

static int64_t dump_int(Guest *g, const char *key)
{
    QDict *d = standin_dump(g->host);
    int64_t v = qdict_get_int(d, key);

    qobject_unref(d);
    return v;
}

/*
 * The command queue runs off the end of guest RAM: the fetch of command 4
 * aborts. The 4 TLBIs before it were consumed, so they reach the host at
 * once (before the fix they stayed batched, and were sent into a freed
 * backend after the last unplug, or into the next boot after a reset).
 */
static void test_fetch_abort_flushes_batch(void)
{
    const uint64_t ram_end = G_RAM_BASE + 128 * 1024 * 1024;
    const uint64_t q = ram_end - 4 * 16;
    Guest g;
    int64_t before, after_abort;
    uint32_t cons;

    guest_start_s1(&g, "cmdqv=off");
    before = dump_int(&g, "invalidation_cmds");

    qtest_writel(g.qts, g.smmu + R_CR0, CR0_SMMUEN);
    qtest_writeq(g.qts, g.smmu + R_CMDQ_BASE, q | CMDQ_LOG2);
    qtest_writel(g.qts, g.smmu + R_CMDQ_PROD, 0);
    qtest_writel(g.qts, g.smmu + R_CMDQ_CONS, 0);
    qtest_writel(g.qts, g.smmu + R_CR0, CR0_CMDQEN | CR0_SMMUEN);
    for (int i = 0; i < 4; i++) {
        qtest_writeq(g.qts, q + i * 16, CMD_TLBI_NH_VA(5));
        qtest_writeq(g.qts, q + i * 16 + 8, 0x1000ULL * (i + 1));
    }
    qtest_writel(g.qts, g.smmu + R_CMDQ_PROD, 5);
    cons = guest_cmdq_cons(&g);
    g_assert_cmphex(cons & 0xfffff, ==, 4);
    g_assert_cmphex(CONS_ERR(cons), ==, 2);                 /* CERROR_ABT */
    after_abort = dump_int(&g, "invalidation_cmds");
    g_assert_cmpint(after_abort - before, ==, 4);

    /* A reset: nothing of the last boot reaches the host afterwards */
    qtest_qmp_assert_success(g.qts, "{'execute': 'system_reset'}");
    g.prod = 0;
    guest_smmu_enable(&g);
    guest_install_ste(&g, DEV_SID, STE0_S1(G_CD), 0);
    g_assert_cmpint(dump_int(&g, "invalidation_cmds"), ==, after_abort);
    guest_stop(&g, true);
}

/*
 * Commands with nothing to invalidate on the host (CFGI_CD of a SID
 * without a vDEVICE) are dropped from a batch but still advance CONS: a
 * refusal at batch entry 10 is queue command 13 here, not 10.
 */
static void test_failure_after_dropped_commands(void)
{
    Guest g;
    QDict *r;
    uint32_t start, cons;

    guest_start_s1(&g, "cmdqv=off");
    r = standin_ctl(g.host, "fault IOMMU_HWPT_INVALIDATE 1 EIO 10");
    g_assert_true(qdict_get_bool(r, "ok"));
    qobject_unref(r);

    start = g.prod;
    for (int i = 0; i < 5; i++) {
        guest_cmd(&g, CMD_TLBI_NH_VA(3), 0x1000ULL * (i + 1));
    }
    for (int i = 0; i < 3; i++) {
        guest_cmd(&g, OP_CFGI_CD | (0x99ULL << 32), 0);     /* no vDEVICE */
    }
    for (int i = 0; i < 10; i++) {
        guest_cmd(&g, CMD_TLBI_NH_VA(3), 0x100000ULL * (i + 1));
    }
    guest_cmd(&g, CMD_SYNC, 0);
    guest_cmdq_kick(&g);
    cons = guest_cmdq_cons(&g);
    g_assert_cmphex(cons & 0x1ff, ==, start + 13);
    g_assert_cmphex(CONS_ERR(cons), ==, 1);                 /* CERROR_ILL */
    guest_ack_cmdq_error(&g);
    g_assert_cmphex(guest_cmdq_cons(&g) & 0x1ff, ==, g.prod);
    guest_stop(&g, true);
}

/*
 * Linux's arm_vsmmu_cache_invalidate() issues entries in chunks of 63 and
 * reports entry_num = k for a refused entry k, though the entries since
 * the last chunk boundary (63..k-1) were never issued. QEMU sends 0..k-1
 * again: every TLBI before the refused one is executed on the host.
 */
static void test_chunked_failure_nothing_lost(void)
{
    Guest g;
    QDict *r, *d;
    QList *cmds_seen;
    int64_t before;
    g_autoptr(GHashTable) done = g_hash_table_new(NULL, NULL);

    guest_start_s1(&g, "cmdqv=off");
    before = dump_int(&g, "invalidation_ioctls");
    r = standin_ctl(g.host, "fault IOMMU_HWPT_INVALIDATE 1 EIO 70");
    g_assert_true(qdict_get_bool(r, "ok"));
    qobject_unref(r);

    for (int i = 0; i < 100; i++) {
        guest_cmd(&g, CMD_TLBI_NH_VA(3), 0x1000ULL * (i + 1));
    }
    guest_cmd(&g, CMD_SYNC, 0);
    guest_cmdq_kick(&g);
    g_assert_cmphex(CONS_ERR(guest_cmdq_cons(&g)), ==, 1);
    guest_ack_cmdq_error(&g);
    g_assert_cmphex(guest_cmdq_cons(&g) & 0x1ff, ==, g.prod);

    /* refused, the first 70 again, then the 30 after the refused one */
    d = standin_dump(g.host);
    g_assert_cmpint(qdict_get_int(d, "invalidation_ioctls"), ==, before + 3);
    cmds_seen = qdict_get_qlist(d, "invalidations");
    for (const QListEntry *e = qlist_first(cmds_seen); e; e = qlist_next(e)) {
        QDict *inv = qobject_to(QDict, qlist_entry_obj(e));
        QList *c = qdict_get_qlist(inv, "cmds");
        int64_t n = qdict_get_int(inv, "done"), i = 0;

        for (const QListEntry *ce = qlist_first(c); ce && i < n;
             ce = qlist_next(ce), i++) {
            QDict *cmd = qobject_to(QDict, qlist_entry_obj(ce));
            uint64_t addr = g_ascii_strtoull(qdict_get_str(cmd, "addr"),
                                             NULL, 16);

            g_hash_table_add(done, GSIZE_TO_POINTER(addr));
        }
    }
    for (int i = 0; i < 100; i++) {
        if (!g_hash_table_contains(done,
                                   GSIZE_TO_POINTER(0x1000ULL * (i + 1)))) {
            g_test_message("TLBI %d never executed on the host", i);
        }
        g_assert_true(g_hash_table_contains(done,
                                            GSIZE_TO_POINTER(0x1000ULL * (i + 1))));
    }
    qobject_unref(d);
    guest_stop(&g, true);
}

/* CFGI_CD with SSEC=1 is CERROR_ILL, as on the emulated SMMU */
static void test_cfgi_cd_ssec_illegal(void)
{
    Guest g;
    uint32_t start, cons;
    int64_t before;

    guest_start_s1(&g, "cmdqv=off");
    before = dump_int(&g, "invalidation_cmds");
    start = g.prod;
    guest_cmd(&g, OP_CFGI_CD | (1ULL << 10) | ((uint64_t)DEV_SID << 32), 0);
    guest_cmd(&g, CMD_SYNC, 0);
    guest_cmdq_kick(&g);
    cons = guest_cmdq_cons(&g);
    g_assert_cmphex(cons & 0x1ff, ==, start);
    g_assert_cmphex(CONS_ERR(cons), ==, 1);
    g_assert_cmpint(dump_int(&g, "invalidation_cmds"), ==, before);
    guest_stop(&g, true);
}

/* The guest's event queue of 2 entries, full, with OVACKFLG == OVFLG */
static void guest_small_eventq(Guest *g)
{
    qtest_memset(g->qts, G_EVTQ, 0, 4 * 32);
    qtest_writeq(g->qts, g->smmu + R_EVENTQ_BASE, G_EVTQ | 1);
    qtest_writel(g->qts, g->smmu + R_EVENTQ_PROD, 0);
    qtest_writel(g->qts, g->smmu + R_EVENTQ_CONS, 0);
    qtest_writel(g->qts, g->smmu + R_CR0,
                 CR0_CMDQEN | CR0_SMMUEN | CR0_EVENTQEN);
}

static int64_t accel_events_lost(QTestState *qts)
{
    QDict *r = qtest_qmp(qts, "{'execute': 'query-smmuv3-accel'}");
    QDict *info = qobject_to(QDict, qlist_peek(qdict_get_qlist(r, "return")));
    int64_t n = qdict_get_int(info, "events-lost");

    qobject_unref(r);
    return n;
}

static void inject_events(Guest *g, int n, int64_t lost_expected)
{
    gint64 deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;

    for (int i = 0; i < n; i++) {
        QDict *r = standin_ctl(g->host, "event 0000:01:00.0 "
                               "1000000000010000" "0000000000000000"
                               "00e0ad0d00000000" "0000000000000000");
        g_assert_true(qdict_get_bool(r, "ok"));
        qobject_unref(r);
    }
    while (accel_events_lost(g->qts) < lost_expected &&
           g_get_monotonic_time() < deadline) {
        g_usleep(1000);
    }
    g_assert_cmpint(accel_events_lost(g->qts), ==, lost_expected);
}

/*
 * EVENTQ_PROD.OVFLG toggles once when an overflow condition begins, not
 * once per lost event: 2 events lost into a full queue leave it toggled
 * (before the fix it toggled twice, back to "no overflow"). Once software
 * acknowledges (OVACKFLG = OVFLG), the next loss toggles it again.
 */
static void test_event_overflow_toggles_once(void)
{
    Guest g;
    uint32_t prod;

    guest_start_s1(&g, "cmdqv=off");
    guest_small_eventq(&g);

    inject_events(&g, 4, 2);        /* 2 written, 2 lost */
    prod = qtest_readl(g.qts, g.smmu + R_EVENTQ_PROD);
    g_assert_cmphex(prod & 0x3, ==, 2);     /* full: index 0, wrap 1 */
    g_assert_cmphex(prod >> 31, ==, 1);
    inject_events(&g, 1, 3);        /* still in the same condition */
    g_assert_cmphex(qtest_readl(g.qts, g.smmu + R_EVENTQ_PROD) >> 31, ==, 1);

    /* acknowledged, still full: a new condition */
    qtest_writel(g.qts, g.smmu + R_EVENTQ_CONS, 1u << 31);
    inject_events(&g, 1, 4);
    g_assert_cmphex(qtest_readl(g.qts, g.smmu + R_EVENTQ_PROD) >> 31, ==, 0);
    guest_stop(&g, true);
}

/* IORT root complex node: its ATS attribute follows the accel SMMU's ats */
static void test_acpi_rc_ats_attribute(void)
{
    for (int ats = 0; ats < 2; ats++) {
        Guest g;
        g_autofree uint8_t *t = NULL;
        uint32_t len, rc;

        guest_start(&g, HOST_CONF, ats ? "cmdqv=off,ats=on" :
                    "cmdqv=off,ats=off", true);
        t = acpi_table_raw(g.qts, "IORT", &len);
        rc = iort_node(t, len, 2, 0);
        g_assert_cmpuint(rc, !=, 0);
        /* RC node: 16-byte header, memory access properties, then ATS */
        g_assert_cmphex(ldl_le_p(t + rc + 24), ==, ats);
        guest_stop(&g, true);
    }
}

/*
 * A mediated device: its sysfs subsystem is the mdev bus. Here a copy of
 * the stand-in function's sysfs directory that says so; vfio's own test
 * names /sys/bus/mdev literally, so the device would otherwise be served
 * unchecked, its DMA outside the guest's stage 1.
 */
static char *fake_mdev(StandinHost *h)
{
    g_autofree char *pci = standin_sysfsdev(h, "0000:01:00.0");
    g_autofree char *bus = g_build_filename(h->dir, "sys", "bus", "mdev",
                                            NULL);
    char *mdev = g_build_filename(h->dir, "sys", "devices", "mdev0", NULL);
    g_autofree char *cmd = g_strdup_printf(
        "mkdir -p '%s' '%s' && for f in '%s'/*; do "
        "[ \"$(basename \"$f\")\" = subsystem ] || ln -s \"$f\" '%s'/; done && "
        "ln -sfn '%s' '%s/subsystem'", bus, mdev, pci, mdev, bus, mdev);

    g_assert_cmpint(system(cmd), ==, 0);
    return mdev;
}

static void test_mdev_refused(void)
{
    Guest g;
    g_autofree char *mdev = NULL;
    QDict *r, *e;

    guest_start(&g, HOST_CONF,
                "cmdqv=off,ril=on,ats=off,oas=48,ssidsize=0", false);
    mdev = fake_mdev(g.host);
    r = qtest_qmp(g.qts, "{'execute': 'device_add', 'arguments': {"
                  "'driver': 'vfio-pci', 'id': 'mdev0', 'bus': 'pcie.0',"
                  "'iommufd': 'iommufd0', 'sysfsdev': %s}}", mdev);
    e = qdict_get_qdict(r, "error");
    g_assert_nonnull(e);
    g_assert_nonnull(strstr(qdict_get_str(e, "desc"),
                            "smmu0: vfio-pci 'mdev0' is a mediated (mdev) "
                            "device"));
    qobject_unref(r);
    r = standin_dump(g.host);
    g_assert_cmpint(standin_ioctl_count(r, "VFIO_DEVICE_BIND_IOMMUFD"), ==, 0);
    qobject_unref(r);
    guest_stop(&g, true);
}

/* accel=off: what the emulated SMMU offers is accepted, the rest refused */
static void test_accel_off_props(void)
{
    static const char *const bad[][2] = {
        { "ats=on", "arm-smmuv3: ats=on needs accel=on" },
        { "ril=off", "arm-smmuv3: ril=off needs accel=on" },
        { "oas=48", "arm-smmuv3: oas=48 needs accel=on" },
        { "ssidsize=20", "arm-smmuv3: ssidsize=20 needs accel=on" },
    };
    QTestState *qts;

    for (int i = 0; i < ARRAY_SIZE(bad); i++) {
        g_autofree char *args = g_strdup_printf(
            "-M virt -device arm-smmuv3,primary-bus=pcie.0,%s", bad[i][0]);
        g_autofree char *err = qemu_start_fails(args);

        g_assert_nonnull(strstr(err, bad[i][1]));
        g_assert_nonnull(strstr(err, "emulated SMMUv3 (accel=off) offers"));
    }
    qts = qtest_init("-M virt -display none -device arm-smmuv3,"
                     "primary-bus=pcie.0,ril=on,ats=off,oas=44,ssidsize=0");
    qtest_quit(qts);
}

/*
 * A JSON -device arm-smmuv3 with a key=value -device vfio-pci on its bus:
 * QEMU creates the vfio-pci device first, before the SMMU exists. It is
 * served all the same (before the fix: "no vfio-pci device is
 * cold-plugged", the autos unresolved).
 */
static void test_json_smmu_keyval_vfio(void)
{
    StandinHost *h = standin_host_new(HOST_CONF);
    g_autofree char *sysfs = standin_sysfsdev(h, "0000:01:00.0");
    g_autofree char *args = g_strdup_printf(
        "-M virt -display none -nodefaults -object iommufd,id=iommufd0 "
        "-device '{\"driver\":\"arm-smmuv3\",\"primary-bus\":\"pcie.0\","
        "\"id\":\"smmu0\",\"accel\":true,\"cmdqv\":\"off\"}' "
        DEV_ARGS "%s", sysfs);
    QTestState *qts = standin_qtest_start(h, args);
    QDict *d = standin_dump(h);

    standin_single(d, "viommu");
    g_assert_cmpint(qdict_get_int(standin_single(d, "device"), "attached"),
                    !=, 0);
    qobject_unref(d);
    qtest_quit(qts);
    standin_assert_clean_exit(h);
    standin_host_free(h);
}


/*
 * Both sides of the kernel's line (arm_smmu_attach_prepare_vmaster): on
 * 6.18 a nested HWPT needs a vDEVICE (ENOENT without one, abort and
 * bypass included), from 6.19 abort and bypass attach without one. QEMU
 * serves the device on both: before the guest's first stage-1 STE, the
 * blocked domain and the stage-2 HWPT stand in for abort and bypass on
 * 6.18; with the vDEVICE, the nested abort/bypass HWPTs on both.
 */
static void abort_bypass_before_vdevice(const char *kernel, bool old)
{
    g_autofree char *conf = g_strdup_printf("[host]\nkernel = %s\n%s", kernel,
                                            HOST_CONF + strlen("[host]\n"));
    Guest g;
    QDict *d, *dev, *att, *s2;

    guest_start(&g, conf, "cmdqv=off", true);
    d = standin_dump(g.host);
    g_assert_cmpstr(qdict_get_str(d, "kernel"), ==, kernel);
    s2 = standin_object(d, qdict_get_int(standin_single(d, "viommu"), "hwpt"));
    dev = dump_device(d);
    att = standin_object(d, qdict_get_int(dev, "attached"));
    /* reset: SMMU off, GBPA.ABORT clear: bypass */
    if (old) {
        g_assert_cmpint(qdict_get_int(att, "id"), ==, qdict_get_int(s2, "id"));
    } else {
        g_assert_cmphex(standin_hex(att, "ste", 0), ==, STE0_V | STE0_CFG(4));
    }
    qobject_unref(d);

    /* SMMU on, the device's STE not valid yet: abort */
    guest_smmu_enable(&g);
    d = standin_dump(g.host);
    dev = dump_device(d);
    if (old) {
        g_assert_cmpint(qdict_get_int(dev, "attached"), ==, 0);  /* blocked */
    } else {
        att = standin_object(d, qdict_get_int(dev, "attached"));
        g_assert_cmphex(standin_hex(att, "ste", 0), ==, 0);
    }
    g_assert_cmpint(standin_count(d, "vdevice"), ==, 0);
    qobject_unref(d);

    /* stage 1: the vDEVICE; then abort goes through the vIOMMU on both */
    guest_install_ste(&g, DEV_SID, STE0_S1(G_CD), 0);
    guest_install_ste(&g, DEV_SID, STE0_V | STE0_CFG(0), 0);
    d = standin_dump(g.host);
    g_assert_cmpint(standin_count(d, "vdevice"), ==, 1);
    att = standin_object(d, qdict_get_int(dump_device(d), "attached"));
    g_assert_cmpstr(qdict_get_str(att, "type"), ==, "hwpt_nested");
    g_assert_cmphex(standin_hex(att, "ste", 0), ==, 0);
    /*
     * 7.0: vfio's own, abort, bypass, abort, stage 1, abort. 6.18: vfio's
     * own, the refused abort that taught QEMU the rule, stage-2 bypass,
     * stage 1, abort (the blocked domain is a detach, not an attach).
     */
    g_assert_cmpint(standin_ioctl_count(d, "VFIO_DEVICE_ATTACH_IOMMUFD_PT"),
                    ==, (old ? 5 : 6));
    g_assert_cmpint(qlist_size(qdict_get_qlist(d, "rejected_destroys")), ==,
                    0);
    qobject_unref(d);
    guest_stop(&g, true);
}

static void test_abort_bypass_before_vdevice_6_18(void)
{
    abort_bypass_before_vdevice("6.18", true);
}

static void test_abort_bypass_before_vdevice_7_0(void)
{
    abort_bypass_before_vdevice("7.0", false);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qtest_add_func("/smmuv3-accel/property/listed", test_accel_property_listed);
    qtest_add_func("/smmuv3-accel/property/device-help",
                   test_accel_property_in_device_help);
    qtest_add_func("/smmuv3-accel/realize/rejects-stage-2",
                   test_accel_rejects_stage2);
    qtest_add_func("/smmuv3-accel/realize/rejects-stage-nested",
                   test_accel_rejects_nested);
    qtest_add_func("/smmuv3-accel/realize/accel-off-starts",
                   test_accel_off_machine_starts);
    qtest_add_func("/smmuv3-accel/realize/virt-iommu-smmuv3-starts",
                   test_default_machine_smmuv3_starts);
    qtest_add_func("/smmuv3-accel/properties/bad-values",
                   test_bad_property_values);
    qtest_add_func("/smmuv3-accel/realize/emulated-endpoint-refused",
                   test_emulated_endpoint_refused);
    qtest_add_func("/smmuv3-accel/standin/vfio-pci-without-viommu",
                   test_vfio_pci_without_viommu);
    qtest_add_func("/smmuv3-accel/standin/change-process-refused-starts",
                   test_change_process_refused_starts);
    qtest_add_func("/smmuv3-accel/standin/coldplug-viommu",
                   test_coldplug_viommu);
    qtest_add_func("/smmuv3-accel/standin/ste-to-nested-hwpt",
                   test_ste_to_nested_hwpt);
    qtest_add_func("/smmuv3-accel/standin/abort-bypass-transitions",
                   test_abort_bypass_transitions);
    qtest_add_func("/smmuv3-accel/standin/invalidations-batched",
                   test_invalidations_batched);
    qtest_add_func("/smmuv3-accel/standin/invalidation-failure-at-entry-10",
                   test_invalidation_failure_at_entry);
    qtest_add_func("/smmuv3-accel/standin/event-reaches-guest",
                   test_event_reaches_guest);
    qtest_add_func("/smmuv3-accel/standin/host-without-nesting-refused",
                   test_host_without_nesting_refused);
    qtest_add_func("/smmuv3-accel/standin/auto-without-coldplug-refused",
                   test_auto_without_coldplug_refused);
    qtest_add_func("/smmuv3-accel/standin/ril-on-host-without-ril-refused",
                   test_ril_on_host_without_ril_refused);
    qtest_add_func("/smmuv3-accel/acpi/iort-rmr", test_acpi_iort_rmr);
    qtest_add_func("/smmuv3-accel/acpi/emulated-smmu-unchanged",
                   test_acpi_emulated_smmu_unchanged);
    qtest_add_func("/smmuv3-accel/standin/msi-window-mismatch-refused",
                   test_msi_window_mismatch_refused);
    qtest_add_func("/smmuv3-accel/standin/emulated-endpoint-hotplug-refused",
                   test_emulated_endpoint_hotplug_refused);
    qtest_add_func("/smmuv3-accel/standin/hotplug-unplug-replug",
                   test_hotplug_unplug_replug);
    qtest_add_func("/smmuv3-accel/standin/hotplug-first-explicit-props",
                   test_explicit_properties_hotplug_first);
    qtest_add_func("/smmuv3-accel/standin/abort-bypass-before-vdevice/6.18",
                   test_abort_bypass_before_vdevice_6_18);
    qtest_add_func("/smmuv3-accel/standin/abort-bypass-before-vdevice/7.0",
                   test_abort_bypass_before_vdevice_7_0);
    qtest_add_func("/smmuv3-accel/standin/fetch-abort-flushes-batch",
                   test_fetch_abort_flushes_batch);
    qtest_add_func("/smmuv3-accel/standin/failure-after-dropped-commands",
                   test_failure_after_dropped_commands);
    qtest_add_func("/smmuv3-accel/standin/chunked-failure-nothing-lost",
                   test_chunked_failure_nothing_lost);
    qtest_add_func("/smmuv3-accel/standin/cfgi-cd-ssec-illegal",
                   test_cfgi_cd_ssec_illegal);
    qtest_add_func("/smmuv3-accel/standin/event-overflow-toggles-once",
                   test_event_overflow_toggles_once);
    qtest_add_func("/smmuv3-accel/acpi/rc-ats-attribute",
                   test_acpi_rc_ats_attribute);
    qtest_add_func("/smmuv3-accel/standin/mdev-refused", test_mdev_refused);
    qtest_add_func("/smmuv3-accel/realize/accel-off-props",
                   test_accel_off_props);
    qtest_add_func("/smmuv3-accel/standin/json-smmu-keyval-vfio",
                   test_json_smmu_keyval_vfio);
    return g_test_run();
}
