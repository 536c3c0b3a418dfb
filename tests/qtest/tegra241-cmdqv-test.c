/*
 * QTest for NVIDIA Tegra241 CMDQV on the accelerated SMMUv3
 * (arm-smmuv3,accel=on,cmdqv=...): the properties, how 'auto' resolves
 * from the host, and the guest-visible command queue size cap.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/host-utils.h"
#include "libqtest.h"
#include "qobject/qdict.h"
#include "qobject/qlist.h"
#include "qobject/qstring.h"
#include "standin-qtest.h"
#include "qac-acpi.h"
#include "qac-regs.h"
#include "qac-cmdqv-guest.h"

#define HOST_CONF_NO_CMDQV \
    "[smmu smmu0]\n" \
    "nesting = yes\n" \
    "cmdqv = no\n" \
    "[pci 0000:01:00.0]\n" \
    "smmu = smmu0\n" \
    "sid = 0x100\n" \
    "bar0 = 64K\n"

static const char *smmu_property_type(QTestState *qts, const char *name)
{
    static char type[64];
    QDict *resp = qtest_qmp(qts, "{'execute': 'device-list-properties',"
                            " 'arguments': {'typename': 'arm-smmuv3'}}");
    QList *props = qdict_get_qlist(resp, "return");
    QListEntry *e;
    const char *ret = NULL;

    QLIST_FOREACH_ENTRY(props, e) {
        QDict *p = qobject_to(QDict, qlist_entry_obj(e));
        if (!strcmp(qdict_get_str(p, "name"), name)) {
            g_strlcpy(type, qdict_get_str(p, "type"), sizeof(type));
            g_assert_nonnull(qdict_get_try_str(p, "description"));
            ret = type;
        }
    }
    qobject_unref(resp);
    return ret;
}

static void test_properties_listed(void)
{
    QTestState *qts = qtest_init("-M virt -display none");

    g_assert_cmpstr(smmu_property_type(qts, "cmdqv"), ==, "OnOffAuto");
    g_assert_cmpstr(smmu_property_type(qts, "cmdqv-vcmdqs"), ==, "uint32");
    qtest_quit(qts);
}

/* accel=off: cmdqv-vcmdqs needs cmdqv=on, CMDQV needs stage 1 */
static void test_emulated_props_refused(void)
{
    g_autofree char *e1 = qemu_start_fails(
        "-M virt -device arm-smmuv3,primary-bus=pcie.0,cmdqv-vcmdqs=2");
    g_autofree char *e2 = qemu_start_fails(
        "-M virt -device arm-smmuv3,primary-bus=pcie.0,cmdqv=on,stage=2");
    g_autofree char *e3 = qemu_start_fails(
        "-M virt -device arm-smmuv3,primary-bus=pcie.0,cmdqv=on,"
        "cmdqv-vcmdqs=6");

    g_assert_nonnull(strstr(e1, "cmdqv-vcmdqs=2 with cmdqv=auto and "
                            "accel=off"));
    g_assert_nonnull(strstr(e1, "set cmdqv=on"));
    g_assert_nonnull(strstr(e2, "cmdqv=on needs stage 1, not stage=2"));
    g_assert_nonnull(strstr(e3, "invalid cmdqv-vcmdqs=6"));
}

static void test_vcmdqs_bad_values(void)
{
    g_autofree char *e1 = qemu_start_fails(
        "-M virt -device arm-smmuv3,primary-bus=pcie.0,accel=on,"
        "cmdqv=on,cmdqv-vcmdqs=3");
    g_autofree char *e2 = qemu_start_fails(
        "-M virt -device arm-smmuv3,primary-bus=pcie.0,accel=on,"
        "cmdqv=on,cmdqv-vcmdqs=256");
    g_autofree char *e3 = qemu_start_fails(
        "-M virt -device arm-smmuv3,primary-bus=pcie.0,accel=on,"
        "cmdqv=off,cmdqv-vcmdqs=2");

    g_assert_nonnull(strstr(e1, "invalid cmdqv-vcmdqs=3"));
    g_assert_nonnull(strstr(e1, "power of two up to 128"));
    g_assert_nonnull(strstr(e2, "invalid cmdqv-vcmdqs=256"));
    g_assert_nonnull(strstr(e3, "cmdqv-vcmdqs=2 with cmdqv=off"));
}

/* cmdqv=on, explicit otherwise, nothing cold-plugged: the count is needed */
static void test_no_coldplug_needs_vcmdqs(void)
{
    StandinHost *h = standin_host_new(HOST_CONF_CMDQV);
    g_autofree char *err = standin_qemu_start_fails(h,
        "-M virt -object iommufd,id=iommufd0 "
        "-device arm-smmuv3,primary-bus=pcie.0,id=smmu0,accel=on,ril=off,"
        "ats=off,oas=48,ssidsize=16,cmdqv=on");

    g_assert_nonnull(strstr(err, "'auto' cannot be resolved"));
    g_assert_nonnull(strstr(err, "cmdqv-vcmdqs="));
    standin_host_free(h);
}

static unsigned expected_cmdqs(void)
{
    return MIN(SMMU_CMDQS_MAX, ctz64(qemu_real_host_page_size()) - 4);
}

/* What query-smmuv3-accel says: -1 cmdqv off, else the queue count */
static int query_vcmdqs(QTestState *qts)
{
    QDict *resp = qtest_qmp(qts, "{'execute': 'query-smmuv3-accel'}");
    QList *l = qdict_get_qlist(resp, "return");
    QDict *i = qobject_to(QDict, qlist_peek(l));
    int ret = -1;

    g_assert_nonnull(i);
    if (qdict_get_bool(i, "cmdqv")) {
        ret = qdict_get_int(i, "cmdqv-vcmdqs");
    } else {
        g_assert_false(qdict_haskey(i, "cmdqv-vcmdqs"));
    }
    qobject_unref(resp);
    return ret;
}

static int last_vcmdqs;

static uint32_t start_read_idr1(const char *conf, const char *smmu_opts,
                                bool with_dev)
{
    StandinHost *h = standin_host_new(conf);
    g_autofree char *sysfs = standin_sysfsdev(h, "0000:01:00.0");
    g_autofree char *args = g_strdup_printf(
        "-M virt -display none -nodefaults -object iommufd,id=iommufd0 "
        "-device arm-smmuv3,primary-bus=pcie.0,id=smmu0,accel=on,%s %s%s",
        smmu_opts, with_dev ? DEV_ARGS : "", with_dev ? sysfs : "");
    QTestState *qts = standin_qtest_start(h, args);
    uint64_t smmu = qtest_mtree_base(qts, "arm-smmuv3");
    uint32_t idr1 = qtest_readl(qts, smmu + R_IDR1);
    g_autofree char *hmp = qtest_hmp(qts, "info smmuv3-accel");

    last_vcmdqs = query_vcmdqs(qts);
    g_assert_nonnull(strstr(hmp, last_vcmdqs < 0 ? "cmdqv=off" :
                            "cmdqv=on"));
    qtest_quit(qts);
    standin_assert_clean_exit(h);
    standin_host_free(h);
    return idr1;
}

/* auto on a CMDQV host: on, so the queue size is capped to one page */
static void test_auto_on_cmdqv_host(void)
{
    uint32_t idr1 = start_read_idr1(HOST_CONF_CMDQV, "cmdqv=auto", true);

    g_assert_cmpuint(IDR1_CMDQS(idr1), ==, expected_cmdqs());
    g_assert_cmpint(last_vcmdqs, ==, 2);    /* the host's, by default */
}

/* auto on a host without CMDQV: off, the SMMU's own queue size */
static void test_auto_on_plain_host(void)
{
    uint32_t idr1 = start_read_idr1(HOST_CONF_NO_CMDQV, "cmdqv=auto", true);

    g_assert_cmpuint(IDR1_CMDQS(idr1), ==, SMMU_CMDQS_MAX);
    g_assert_cmpint(last_vcmdqs, ==, -1);
}

/* off on a CMDQV host: nothing changes for the guest */
static void test_off_on_cmdqv_host(void)
{
    uint32_t idr1 = start_read_idr1(HOST_CONF_CMDQV, "cmdqv=off", true);

    g_assert_cmpuint(IDR1_CMDQS(idr1), ==, SMMU_CMDQS_MAX);
    g_assert_cmpint(last_vcmdqs, ==, -1);
}

/* Explicit properties, no device yet: the guest gets what was asked for */
static void test_explicit_no_coldplug(void)
{
    uint32_t idr1 = start_read_idr1(HOST_CONF_CMDQV,
                                    "ril=off,ats=off,oas=48,ssidsize=16,"
                                    "cmdqv=on,cmdqv-vcmdqs=1", false);

    g_assert_cmpuint(IDR1_CMDQS(idr1), ==, expected_cmdqs());
    g_assert_cmpint(last_vcmdqs, ==, 1);
}

static void test_on_plain_host_refused(void)
{
    g_autofree char *err = standin_smmu_start_fails(HOST_CONF_NO_CMDQV,
                                                    ",cmdqv=on");

    g_assert_nonnull(strstr(err, "cmdqv=on, but the host SMMU"));
    g_assert_nonnull(strstr(err, "has no CMDQV"));
    g_assert_nonnull(strstr(err, "Set cmdqv=off"));
}

static void test_vcmdqs_above_host_refused(void)
{
    g_autofree char *err = standin_smmu_start_fails(HOST_CONF_CMDQV,
                                                    ",cmdqv=on,cmdqv-vcmdqs=4");

    g_assert_nonnull(strstr(err, "cmdqv-vcmdqs=4, but a VINTF of the host"));
    g_assert_nonnull(strstr(err, "holds 2 logical queues"));
    g_assert_nonnull(strstr(err, "Set cmdqv-vcmdqs to 2 or less"));
}


/* ---- the Linux driver's sequence through the window --------------------- */

/*
 * Steps 1 to 6 (qac-cmdqv-guest.h), PARAM read as the driver reads it:
 * one VINTF, 16 SIDs
 */
static void cg_linux_init_checked(CmdqvGuest *g)
{
    uint32_t param = cg_rd(g, W_PARAM);

    g_assert_cmpuint((param >> 8) & 0xf, ==, 0);        /* one VINTF */
    g_assert_cmpuint((param >> 12) & 0xf, ==, 4);       /* 16 SIDs */
    cg_linux_init(g);
}


static int64_t cg_traps(CmdqvGuest *g)
{
    int64_t n = 0;

    for (unsigned l = 0; l < g->nr; l++) {
        QDict *q = cg_queue_info(g, l);
        n += qdict_get_int(q, "traps");
        qobject_unref(q);
    }
    return n;
}

static void test_linux_sequence(void)
{
    CmdqvGuest g;
    QDict *d;
    GPtrArray *hwqs;
    int64_t traps;
    uint32_t cons;

    cg_start(&g, HOST_CONF_CMDQV, NULL);
    cg_linux_init_checked(&g);
    g_assert_cmpuint(g.nr, ==, 2);

    d = standin_dump(g.host);
    g_assert_cmpint(standin_ioctl_count(d, "IOMMU_HW_QUEUE_ALLOC"), ==, 2);
    hwqs = standin_objects(d, "hw_queue");
    g_assert_cmpint(hwqs->len, ==, 2);
    for (int i = 0; i < 2; i++) {
        QDict *o = g_ptr_array_index(hwqs, i);
        int64_t idx = qdict_get_int(o, "index");

        g_assert_true(qdict_get_bool(o, "enabled"));
        g_assert_cmphex(qdict_get_int(o, "iova"), ==, cg_ring(&g, idx));
    }
    g_ptr_array_free(hwqs, true);
    g_test_message("Linux sequence: %" PRId64 " IOMMU_HW_QUEUE_ALLOC, "
                   "%" PRId64 " trapped page-0 accesses during setup",
                   standin_ioctl_count(d, "IOMMU_HW_QUEUE_ALLOC"),
                   cg_traps(&g));
    qobject_unref(d);

    /* Submitting: no exit to QEMU */
    traps = cg_traps(&g);
    for (unsigned l = 0; l < 2; l++) {
        cg_cmd(&g, l, CMD_TLBI_NH_ASID(0x42 + l), 0);
        cg_cmd(&g, l, CMD_SYNC, 0);
        cons = cg_kick(&g, l);
        g_assert_cmphex(cons, ==, g.prod[l]);
    }
    g_assert_cmpint(cg_traps(&g), ==, traps);
    {
        QDict *q = cg_queue_info(&g, 0);
        g_assert_cmpstr(qdict_get_str(q, "page"), ==, "direct");
        g_assert_false(qdict_get_bool(q, "placeholder"));
        g_assert_cmpint(qdict_get_int(q, "host-index"), ==, 0);
        qobject_unref(q);
    }
    d = standin_dump(g.host);
    g_assert_cmpint(qdict_get_int(d, "vcmdq_executed_total"), ==, 4);
    {
        QList *ex = qdict_get_qlist(d, "vcmdq_executed");
        QDict *first = qobject_to(QDict, qlist_peek(ex));
        QDict *viommu = g_ptr_array_index(standin_objects(d, "viommu"), 0);

        g_assert_cmpstr(qdict_get_str(first, "op"), ==, "TLBI_NH_ASID");
        g_assert_cmpint(qdict_get_int(first, "asid"), ==, 0x42);
        g_assert_cmpint(qdict_get_int(first, "vmid"), ==,
                        qdict_get_int(viommu, "vmid"));
        g_assert_cmpstr(qdict_get_str(viommu, "viommu_type"), ==,
                        "tegra241_cmdqv");
    }
    g_assert_cmpint(standin_ioctl_count(d, "IOMMU_HW_QUEUE_ALLOC"), ==, 2);
    qobject_unref(d);
    cg_stop(&g);
}


static int64_t cg_query_int(CmdqvGuest *g, const char *key)
{
    QDict *resp = qtest_qmp(g->qts, "{'execute': 'query-smmuv3-accel'}");
    QDict *i = qobject_to(QDict, qlist_peek(qdict_get_qlist(resp, "return")));
    int64_t v = qdict_get_int(i, key);

    qobject_unref(resp);
    return v;
}

/* HW queue objects of the live dump, by host index (borrowed from @d) */
static QDict *dump_hw_queue(QDict *d, int64_t index)
{
    g_autoptr(GPtrArray) hwqs = standin_objects(d, "hw_queue");

    for (int i = 0; i < hwqs->len; i++) {
        QDict *o = g_ptr_array_index(hwqs, i);
        if (qdict_get_int(o, "index") == index) {
            return o;
        }
    }
    return NULL;
}

/* Queue 1 first: a placeholder holds host index 0 until queue 0 comes */
static void test_queue1_before_queue0(void)
{
    CmdqvGuest g;
    QDict *d, *q;

    cg_start(&g, HOST_CONF_CMDQV, NULL);
    cg_linux_init_vintf(&g, false);
    cg_init_queue(&g, 1);
    q = cg_queue_info(&g, 1);
    g_assert_cmpint(qdict_get_int(q, "host-index"), ==, 1);
    g_assert_cmpstr(qdict_get_str(q, "page"), ==, "direct");
    qobject_unref(q);
    d = standin_dump(g.host);
    g_assert_cmpint(standin_ioctl_count(d, "IOMMU_HW_QUEUE_ALLOC"), ==, 2);
    g_assert_cmpuint(qdict_get_int(dump_hw_queue(d, 0), "iova"), !=,
                     cg_ring(&g, 0));    /* the placeholder */
    qobject_unref(d);
    q = cg_queue_info(&g, 0);
    g_assert_true(qdict_get_bool(q, "placeholder"));
    g_assert_false(qdict_haskey(q, "host-index"));
    qobject_unref(q);
    cg_submit_ok(&g, 1, CMD_TLBI_NH_ASID(0x11));

    cg_init_queue(&g, 0);
    cg_submit_ok(&g, 0, CMD_TLBI_NH_ASID(0x10));
    /* queue 1 rebuilt, its indexes carried */
    cg_submit_ok(&g, 1, CMD_TLBI_NH_ASID(0x12));
    d = standin_dump(g.host);
    g_assert_cmphex(qdict_get_int(dump_hw_queue(d, 0), "iova"), ==,
                    cg_ring(&g, 0));
    g_assert_cmphex(qdict_get_int(dump_hw_queue(d, 1), "iova"), ==,
                    cg_ring(&g, 1));
    g_assert_cmpint(qdict_get_int(d, "vcmdq_executed_total"), ==, 6);
    qobject_unref(d);
    q = cg_queue_info(&g, 0);
    g_assert_cmpstr(qdict_get_str(q, "page"), ==, "direct");
    qobject_unref(q);
    cg_stop(&g);
}

/* Re-basing queue 0 rebuilds queue 1 above it, its state carried */
static void test_rebase_queue0_under_queue1(void)
{
    CmdqvGuest g;
    QDict *d;
    uint64_t new_ring = G_RING + 0x40000;

    cg_start(&g, HOST_CONF_CMDQV, NULL);
    cg_linux_init_checked(&g);
    cg_submit_ok(&g, 1, CMD_TLBI_NH_ASID(0x21));
    cg_submit_ok(&g, 1, CMD_TLBI_NH_ASID(0x22));
    /* queue 1 has commands written but not rung when queue 0 moves */
    cg_cmd(&g, 1, CMD_TLBI_NH_ASID(0x23), 0);
    cg_cmd(&g, 1, CMD_SYNC, 0);

    qtest_writeq(g.qts, g.win + W_P1(0), new_ring | g.log2size);
    /*
     * The rebuilt queue 1 got CONS 4 while stopped; the stand-in's engine
     * takes a register store at its next pass (about a millisecond idle)
     */
    for (int i = 0; ; i++) {
        d = standin_dump(g.host);
        g_assert_cmphex(qdict_get_int(dump_hw_queue(d, 0), "iova"), ==,
                        new_ring);
        if (qdict_get_int(dump_hw_queue(d, 1), "cons") == 4 || i == 1000) {
            break;
        }
        qobject_unref(d);
        g_usleep(1000);
    }
    g_assert_cmpint(qdict_get_int(dump_hw_queue(d, 1), "cons"), ==, 4);
    qobject_unref(d);
    g_assert_cmphex(cg_kick(&g, 1), ==, g.prod[1]);
    /* queue 0 continues on its new ring, at its old indexes */
    {
        uint32_t mask = (1u << g.log2size) - 1;
        uint64_t a = new_ring + (g.prod[0] & mask) * 16;

        qtest_writeq(g.qts, a, CMD_TLBI_NH_ASID(0x20));
        qtest_writeq(g.qts, a + 8, 0);
        g.prod[0] = (g.prod[0] + 1) & ((2u << g.log2size) - 1);
        g_assert_cmphex(cg_kick(&g, 0), ==, g.prod[0]);
    }
    d = standin_dump(g.host);
    g_assert_cmpint(qdict_get_int(d, "vcmdq_executed_total"), ==, 7);
    qobject_unref(d);
    cg_stop(&g);
}

/* An illegal command: error maps, IRQ, recovery after GERRORN */
static void test_illegal_command(void)
{
    CmdqvGuest g;
    uint32_t cons, gerror;
    int i;

    cg_start(&g, HOST_CONF_CMDQV, NULL);
    cg_linux_init_checked(&g);
    cg_cmd(&g, 1, CMD_TLBI_NH_ASID(1), 0);
    cg_cmd(&g, 1, CMD_PREFETCH_CONFIG(0), 0);      /* illegal in a VCMDQ */
    cg_cmd(&g, 1, CMD_SYNC, 0);
    cons = cg_kick(&g, 1);
    g_assert_cmphex(cons & 0xfffff, ==, 1);         /* at the illegal one */
    g_assert_cmphex((cons >> 24) & 0x7f, ==, 1);    /* CERROR_ILL */
    gerror = cg_rd(&g, W_P0(1) + Q_GERROR);
    g_assert_cmphex(gerror & 1, !=, cg_rd(&g, W_P0(1) + Q_GERRORN) & 1);

    /* The guest's maps, in its numbering; the interrupt */
    for (i = 0; i < 2000 && !cg_query_int(&g, "cmdqv-irqs"); i++) {
        g_usleep(1000);
    }
    g_assert_cmpint(cg_query_int(&g, "cmdqv-error-events"), >=, 1);
    g_assert_cmpint(cg_query_int(&g, "cmdqv-irqs"), >=, 1);
    g_assert_cmphex(cg_rd(&g, W_VINTF_ERR_MAP), ==, 1);
    g_assert_cmphex(cg_rd(&g, W_CMDQ_ERR_MAP), ==, 2);
    g_assert_cmphex(qtest_readq(g.qts, g.win + W_LVCMDQ_ERR_MAP), ==, 2);
    g_assert_cmphex(qtest_readq(g.qts, g.win + W_LVCMDQ_ERR_MAP + 8), ==, 0);

    /* Linux: rewrite the command as a CMD_SYNC, GERRORN = GERROR */
    qtest_writeq(g.qts, cg_ring(&g, 1) + 16, CMD_SYNC);
    cg_wr(&g, W_P0(1) + Q_GERRORN, gerror);
    for (i = 0; i < 2000; i++) {
        cons = cg_rd(&g, W_P0(1) + Q_CONS);
        if (cons == g.prod[1]) {
            break;
        }
        g_usleep(1000);
    }
    g_assert_cmphex(cons, ==, g.prod[1]);
    g_assert_cmphex(qtest_readq(g.qts, g.win + W_LVCMDQ_ERR_MAP), ==, 0);
    g_assert_cmphex(cg_rd(&g, W_VINTF_ERR_MAP), ==, 0);
    g_assert_cmphex(cg_rd(&g, W_CMDQ_ERR_MAP), ==, 0);
    cg_submit_ok(&g, 1, CMD_TLBI_NH_ASID(2));
    cg_stop(&g);
}

/* The host refuses a queue: CMDQ_INIT_ERR, and a rewrite of BASE retries */
static void test_alloc_failure_init_err(void)
{
    CmdqvGuest g;
    QDict *r, *q;

    cg_start(&g, HOST_CONF_CMDQV, NULL);
    cg_linux_init_vintf(&g, false);
    r = standin_ctl(g.host, "fault IOMMU_HW_QUEUE_ALLOC 1 ENOMEM");
    g_assert_true(qdict_get_bool(r, "ok"));
    qobject_unref(r);

    cg_wr(&g, W_ALLOC_MAP(0), cg_rd(&g, W_ALLOC_MAP(0)) | 1);
    qtest_writeq(g.qts, g.win + W_P1(0), cg_ring(&g, 0) | g.log2size);
    cg_wr(&g, W_P0(0) + Q_CONFIG, 1);
    g_usleep(20000);
    g_assert_cmphex(cg_rd(&g, W_P0(0) + Q_STATUS) & 1, ==, 0);
    g_assert_cmphex(cg_rd(&g, W_P0(0) + Q_GERROR) & 4, ==, 4);
    q = cg_queue_info(&g, 0);
    g_assert_cmpstr(qdict_get_str(q, "state"), ==, "error");
    g_assert_cmpint(qdict_get_int(q, "error"), ==, -ENOMEM);
    g_assert_cmpstr(qdict_get_str(q, "page"), ==, "trapped");
    qobject_unref(q);

    /* Rewriting BASE retries: the queue comes up */
    qtest_writeq(g.qts, g.win + W_P1(0), cg_ring(&g, 0) | g.log2size);
    for (int i = 0; i < 1000 && !(cg_rd(&g, W_P0(0) + Q_STATUS) & 1); i++) {
        g_usleep(1000);
    }
    g_assert_cmphex(cg_rd(&g, W_P0(0) + Q_STATUS) & 1, ==, 1);
    g_assert_cmphex(cg_rd(&g, W_P0(0) + Q_GERROR) & 4, ==, 0);
    cg_submit_ok(&g, 0, CMD_TLBI_NH_ASID(5));
    cg_stop(&g);
}

/*
 * A ring outside guest RAM (QEMU's placeholder page, MMIO, a hole) or not
 * aligned to its size: CMDQ_INIT_ERR, no host queue, the queue never runs;
 * a good BASE afterwards works.
 */
static void test_base_outside_ram_init_err(void)
{
    const uint64_t bad[] = {
        0xffffffff0000ULL,          /* near 2^48, where placeholders live */
        0x09000000ULL,              /* the PL011's MMIO */
        0x200000000ULL,             /* a hole beyond 1 GiB of RAM at 1 GiB */
        0x40400000ULL + 16,         /* RAM, not aligned to the ring's size */
    };
    CmdqvGuest g;
    QDict *d, *q;
    int64_t allocs;

    cg_start(&g, HOST_CONF_CMDQV, NULL);
    cg_linux_init_vintf(&g, false);
    d = standin_dump(g.host);
    allocs = standin_ioctl_count(d, "IOMMU_HW_QUEUE_ALLOC");
    qobject_unref(d);

    cg_wr(&g, W_ALLOC_MAP(0), cg_rd(&g, W_ALLOC_MAP(0)) | 1);
    for (int i = 0; i < ARRAY_SIZE(bad); i++) {
        qtest_writeq(g.qts, g.win + W_P1(0), bad[i] | g.log2size);
        cg_wr(&g, W_P0(0) + Q_CONFIG, 1);
        g_assert_cmphex(cg_rd(&g, W_P0(0) + Q_STATUS) & 1, ==, 0);
        g_assert_cmphex(cg_rd(&g, W_P0(0) + Q_GERROR) & 4, ==, 4);
        q = cg_queue_info(&g, 0);
        g_assert_cmpstr(qdict_get_str(q, "page"), ==, "trapped");
        qobject_unref(q);
    }
    d = standin_dump(g.host);
    g_assert_cmpint(standin_ioctl_count(d, "IOMMU_HW_QUEUE_ALLOC"), ==, allocs);
    qobject_unref(d);

    /* A ring in RAM: the queue comes up, INIT_ERR gone */
    qtest_writeq(g.qts, g.win + W_P1(0), cg_ring(&g, 0) | g.log2size);
    for (int i = 0; i < 1000 && !(cg_rd(&g, W_P0(0) + Q_STATUS) & 1); i++) {
        g_usleep(1000);
    }
    g_assert_cmphex(cg_rd(&g, W_P0(0) + Q_STATUS) & 1, ==, 1);
    g_assert_cmphex(cg_rd(&g, W_P0(0) + Q_GERROR) & 4, ==, 0);
    cg_submit_ok(&g, 0, CMD_TLBI_NH_ASID(7));
    cg_stop(&g);
}

/* system_reset with every queue live: host queues go; a new boot works */
static void test_system_reset_live(void)
{
    CmdqvGuest g;
    QDict *d;

    cg_start(&g, HOST_CONF_CMDQV, NULL);
    cg_linux_init_checked(&g);
    cg_submit_ok(&g, 0, CMD_TLBI_NH_ASID(1));
    cg_submit_ok(&g, 1, CMD_TLBI_NH_ASID(2));
    qtest_system_reset(g.qts);
    d = standin_dump(g.host);
    g_assert_cmpint(standin_objects(d, "hw_queue")->len, ==, 0);
    g_assert_true(qlist_empty(qdict_get_qlist(d, "rejected_destroys")));
    qobject_unref(d);
    g_assert_cmphex(cg_rd(&g, W_CONFIG), ==, 0);

    cg_linux_init_checked(&g);
    cg_submit_ok(&g, 0, CMD_TLBI_NH_ASID(3));
    cg_submit_ok(&g, 1, CMD_TLBI_NH_ASID(4));
    d = standin_dump(g.host);
    g_assert_cmpint(standin_ioctl_count(d, "IOMMU_HW_QUEUE_ALLOC"), ==, 4);
    qobject_unref(d);
    cg_stop(&g);
}


/* ---- ACPI: the DSDT device the guest driver looks for -------------------- */

/*
 * The DSDT's CMDQV device of a started QEMU @g with one SMMU: _HID, _UID
 * equal to the SMMU's IORT identifier, _CCA, the window and interrupt.
 */
static void check_acpi_dsdt_device(CmdqvGuest *g)
{
    g_autofree char *dir = g_dir_make_tmp("qac-acpi-XXXXXX", NULL);
    g_autofree char *dsdt = NULL, *iort = NULL, *rm = NULL;
    g_autofree char *mem = NULL;
    char *dev, *p;
    unsigned long iort_id, uid;

    dsdt = acpi_table_asl(g->qts, "DSDT", dir);
    iort = acpi_table_asl(g->qts, "IORT", dir);
    g_assert_nonnull(dsdt);
    g_assert_nonnull(iort);

    dev = strstr(dsdt, "\"NVDA200C\"");
    g_assert_nonnull(dev);
    g_assert_null(strstr(dev + 1, "\"NVDA200C\""));     /* one SMMU, one */
    /* _UID == the SMMUv3 IORT node's identifier */
    p = strstr(dev, "_UID");
    g_assert_nonnull(p);
    p = strchr(p, ',') + 1;
    p += strspn(p, " ");
    uid = !strncmp(p, "Zero", 4) ? 0 : !strncmp(p, "One", 3) ? 1 :
          strtoul(p, NULL, 0);
    /*
     * The SMMUv3 node (type 4): its identifier, the word after Revision
     * (older iasl versions print it as "Reserved")
     */
    p = strstr(iort, "Type : 04");
    g_assert_nonnull(p);
    p = strstr(p, "Revision : ");
    g_assert_nonnull(p);
    p = strchr(p, '\n');
    p = strstr(p, " : ");
    g_assert_nonnull(p);
    iort_id = strtoul(p + 3, NULL, 16);
    g_assert_cmpuint(uid, ==, iort_id);
    g_assert_nonnull(strstr(dev, "_CCA, One"));
    /* _CRS: the 0x50000 window where QEMU put it, and the interrupt */
    /* a QWord memory descriptor: Linux ignores Memory32Fixed there */
    g_assert_nonnull(strstr(dev, "QWordMemory (Resource"));
    mem = g_strdup_printf("0x%016" PRIX64 ", // Range Minimum", g->win);
    g_assert_nonnull(strstr(dev, mem));
    g_assert_nonnull(strstr(dev, "0x0000000000050000, // Length"));
    g_assert_nonnull(strstr(dev, "Interrupt (ResourceConsumer, Edge"));
    rm = g_strdup_printf("rm -rf '%s'", dir);
    g_assert_cmpint(system(rm), ==, 0);
}

static void test_acpi_dsdt_device(void)
{
    CmdqvGuest g;

    if (!acpi_have_iasl()) {
        g_test_skip("iasl (acpica-tools) not installed");
        return;
    }
    cg_start(&g, HOST_CONF_CMDQV, NULL);
    check_acpi_dsdt_device(&g);
    cg_stop(&g);
}

static void test_acpi_no_device_when_off(void)
{
    StandinHost *h = standin_host_new(HOST_CONF_CMDQV);
    g_autofree char *sysfs = standin_sysfsdev(h, "0000:01:00.0");
    g_autofree char *args = g_strdup_printf(
        "-M virt -display none -nodefaults -object iommufd,id=iommufd0 "
        "-device arm-smmuv3,primary-bus=pcie.0,id=smmu0,accel=on,cmdqv=off "
        DEV_ARGS "%s", sysfs);
    g_autofree char *dir = g_dir_make_tmp("qac-acpi-XXXXXX", NULL);
    g_autofree char *dsdt = NULL, *rm = NULL;
    QTestState *qts;

    if (!acpi_have_iasl()) {
        g_test_skip("iasl (acpica-tools) not installed");
        standin_host_free(h);
        return;
    }
    qts = standin_qtest_start(h, args);
    dsdt = acpi_table_asl(qts, "DSDT", dir);
    g_assert_nonnull(dsdt);
    g_assert_null(strstr(dsdt, "NVDA200C"));
    qtest_quit(qts);
    standin_assert_clean_exit(h);
    standin_host_free(h);
    rm = g_strdup_printf("rm -rf '%s'", dir);
    g_assert_cmpint(system(rm), ==, 0);
}


/* Registers: PARAM, HYP_OWN, SIDs remembered, global pages, BASE halves */
static void test_register_model(void)
{
    CmdqvGuest g;
    QDict *d;
    uint64_t ring;

    cg_start(&g, HOST_CONF_CMDQV, NULL);
    ring = cg_ring(&g, 0);
    g_assert_cmphex(cg_rd(&g, W_PARAM), ==, 0x4011);   /* 16 SIDs, 1 VINTF,
                                                        2 queues, v1 */
    cg_linux_init_vintf(&g, false);
    cg_wr(&g, W_VINTF0_CONFIG, VINTF_HYP_OWN | (5 << 1) | VINTF_ENABLE);
    g_assert_cmphex(cg_rd(&g, W_VINTF0_CONFIG), ==, (5 << 1) | VINTF_ENABLE);
    cg_wr(&g, W_SID_MATCH(3), 0x21);
    cg_wr(&g, W_SID_REPLACE(3), 0x100);
    g_assert_cmphex(cg_rd(&g, W_SID_MATCH(3)), ==, 0x21);
    g_assert_cmphex(cg_rd(&g, W_SID_REPLACE(3)), ==, 0x100);

    /* BASE in two halves: nothing allocated before page 0 is touched */
    cg_wr(&g, W_ALLOC_MAP(0), 1);
    g_assert_cmphex(cg_rd(&g, W_ALLOC_MAP(0)), ==, 1);
    cg_wr(&g, W_P1(0), (uint32_t)ring | g.log2size);
    cg_wr(&g, W_P1(0) + 4, ring >> 32);
    d = standin_dump(g.host);
    g_assert_cmpint(standin_ioctl_count(d, "IOMMU_HW_QUEUE_ALLOC"), ==, 0);
    qobject_unref(d);
    g_assert_cmphex(qtest_readq(g.qts, g.win + W_P1(0)), ==,
                    ring | g.log2size);
    cg_wr(&g, W_P0(0) + Q_CONFIG, 1);
    d = standin_dump(g.host);
    g_assert_cmpint(standin_ioctl_count(d, "IOMMU_HW_QUEUE_ALLOC"), ==, 1);
    qobject_unref(d);
    for (int i = 0; i < 1000 && !(cg_rd(&g, W_P0(0) + Q_STATUS) & 1); i++) {
        g_usleep(1000);
    }
    /* The global pages alias the queue CMDQ_ALLOC_MAP gives VINTF0 */
    g_assert_cmphex(cg_rd(&g, 0x10000 + Q_STATUS), ==, 1);
    g_assert_cmphex(qtest_readq(g.qts, g.win + 0x20000), ==,
                    ring | g.log2size);
    cg_cmd(&g, 0, CMD_TLBI_NH_ASID(7), 0);
    cg_cmd(&g, 0, CMD_SYNC, 0);
    qtest_writel(g.qts, g.win + 0x10000 + Q_PROD, g.prod[0]);
    for (int i = 0; i < 1000 && cg_rd(&g, W_P0(0) + Q_CONS) != g.prod[0];
         i++) {
        g_usleep(1000);
    }
    g_assert_cmphex(cg_rd(&g, W_P0(0) + Q_CONS), ==, g.prod[0]);
    /* A global queue not allocated to VINTF0 reads as zero */
    g_assert_cmphex(cg_rd(&g, 0x10080 + Q_CONFIG), ==, 0);
    cg_stop(&g);
}


/*
 * The only device unplugged with every queue live: all host objects go in
 * an order the kernel accepts; plugged again, the guest's queues resume.
 */
/*
 * The guest was promised CMDQV with 2 queues before any device (explicit
 * properties); a hotplugged device on a host that cannot give that is
 * refused by name, and nothing of it stays.
 */
static void test_hotplug_below_promise_refused(void)
{
    static const struct {
        const char *conf, *want;
    } hosts[] = {
        { "[smmu smmu0]\ncmdqv_lvcmdqs = 1\n"
          "[pci 0000:01:00.0]\nsmmu = smmu0\nsid = 0x100\nbar0 = 64K\n",
          "smmu0: cmdqv-vcmdqs=2, but a VINTF of the host SMMU of "
          "0000:01:00.0 holds 1 logical queues" },
        { "[smmu smmu0]\ncmdqv = no\n"
          "[pci 0000:01:00.0]\nsmmu = smmu0\nsid = 0x100\nbar0 = 64K\n",
          "smmu0: cmdqv=on, but the host SMMU of 0000:01:00.0 has no CMDQV" },
    };

    for (int i = 0; i < ARRAY_SIZE(hosts); i++) {
        CmdqvGuest g;
        QDict *r, *d;

        cg_start_hotplug(&g, hosts[i].conf);
        r = qtest_qmp(g.qts, "{'execute': 'device_add', 'arguments': "
                      "{'driver': 'vfio-pci', 'id': 'dev0', 'bus': 'rp0',"
                      " 'iommufd': 'iommufd0', 'sysfsdev': %s}}", g.sysfs);
        g_assert_true(qdict_haskey(r, "error"));
        g_assert_nonnull(strstr(qdict_get_str(qdict_get_qdict(r, "error"),
                                              "desc"), hosts[i].want));
        qobject_unref(r);
        d = standin_dump(g.host);
        g_assert_cmpint(standin_count(d, "viommu"), ==, 0);
        g_assert_cmpint(standin_count(d, "hwpt_nested"), ==, 0);
        qobject_unref(d);
        /* the guest still sees what it was promised */
        g_assert_cmpint(query_vcmdqs(g.qts), ==, 2);
        cg_stop(&g);
    }
}

static void test_unplug_replug_live(void)
{
    CmdqvGuest g;
    QDict *d, *q;

    cg_start_hotplug(&g, HOST_CONF_CMDQV);
    cg_plug(&g);
    cg_linux_init_checked(&g);
    cg_submit_ok(&g, 0, CMD_TLBI_NH_ASID(1));
    cg_submit_ok(&g, 1, CMD_TLBI_NH_ASID(2));

    qobject_unref(cg_unplug(&g));
    d = standin_dump(g.host);
    g_assert_cmpint(standin_objects(d, "viommu")->len, ==, 0);
    g_assert_cmpint(standin_objects(d, "hw_queue")->len, ==, 0);
    g_assert_cmpint(standin_objects(d, "veventq")->len, ==, 0);
    g_assert_true(qlist_empty(qdict_get_qlist(d, "mmaps")));
    g_assert_true(qlist_empty(qdict_get_qlist(d, "rejected_destroys")));
    qobject_unref(d);
    q = cg_queue_info(&g, 1);
    g_assert_cmpstr(qdict_get_str(q, "state"), ==, "no-host");
    qobject_unref(q);
    /* The guest still reads its queue's indexes */
    g_assert_cmphex(cg_rd(&g, W_P0(1) + Q_CONS), ==, g.prod[1]);

    rp0_slot_power(g.qts, true);
    cg_plug(&g);
    /* Nothing allocated until the guest touches page 0 again */
    g_assert_cmphex(cg_rd(&g, W_P0(0) + Q_CONS), ==, g.prod[0]);
    d = standin_dump(g.host);
    g_assert_cmpint(standin_ioctl_count(d, "IOMMU_HW_QUEUE_ALLOC"), ==, 4);
    qobject_unref(d);
    cg_submit_ok(&g, 0, CMD_TLBI_NH_ASID(3));
    cg_submit_ok(&g, 1, CMD_TLBI_NH_ASID(4));
    cg_stop(&g);
}


/* kexec: the next kernel runs the whole sequence over live host queues */
static void test_kexec_reinit(void)
{
    CmdqvGuest g;
    QDict *d;

    cg_start(&g, HOST_CONF_CMDQV, NULL);
    cg_linux_init_checked(&g);
    cg_submit_ok(&g, 0, CMD_TLBI_NH_ASID(1));
    cg_submit_ok(&g, 1, CMD_TLBI_NH_ASID(2));
    cg_linux_init_checked(&g);      /* no reset in between */
    d = standin_dump(g.host);
    /* one free and one allocation per queue */
    g_assert_cmpint(standin_ioctl_count(d, "IOMMU_HW_QUEUE_ALLOC"), ==, 4);
    g_assert_cmpint(standin_objects(d, "hw_queue")->len, ==, 2);
    g_assert_true(qlist_empty(qdict_get_qlist(d, "rejected_destroys")));
    qobject_unref(d);
    cg_submit_ok(&g, 0, CMD_TLBI_NH_ASID(3));
    cg_submit_ok(&g, 1, CMD_TLBI_NH_ASID(4));
    cg_stop(&g);
}


/*
 * The guest turns CMDQV off while its queues are live and the page is
 * direct: the page is trapped before the host queues stop, so a queue
 * CONFIG write that follows (another vCPU's) cannot start a host queue
 * again behind the stop (before the fix it reached the host page).
 */
static void test_disable_traps_before_stop(void)
{
    g_autofree char *log = g_build_filename(g_get_tmp_dir(),
                                            "qac-trap-order-XXXXXX", NULL);
    g_autofree char *opts = NULL, *text = NULL;
    const char *trapped, *stopped, *direct;
    CmdqvGuest g;
    QDict *d;
    int fd = g_mkstemp(log);

    g_assert_cmpint(fd, >=, 0);
    close(fd);
    opts = g_strdup_printf("-D %s -trace tegra241_cmdqv_page_mapped "
                           "-trace tegra241_cmdqv_host_stop", log);
    cg_start(&g, HOST_CONF_CMDQV, opts);
    cg_linux_init_checked(&g);
    cg_wr(&g, W_CONFIG, 0);
    cg_wr(&g, W_P0(0) + Q_CONFIG, 1);
    /* the host's engine sees a page write within a pass: give it 200 */
    for (int i = 0; i < 200; i++) {
        d = standin_dump(g.host);
        g_assert_false(qdict_get_bool(dump_hw_queue(d, 0), "enabled"));
        g_assert_false(qdict_get_bool(dump_hw_queue(d, 1), "enabled"));
        qobject_unref(d);
        g_usleep(1000);
    }
    /* what the guest wrote is kept, and runs once CMDQV is on again */
    cg_wr(&g, W_CONFIG, 1);
    d = standin_dump(g.host);
    g_assert_true(qdict_get_bool(dump_hw_queue(d, 0), "enabled"));
    qobject_unref(d);
    cg_stop(&g);

    /*
     * The order, from QEMU's trace: the page mapped direct, then trapped,
     * and only then the host queues stopped (before the fix they were
     * stopped while the page was still the guest's to write).
     */
    g_assert_true(g_file_get_contents(log, &text, NULL, NULL));
    unlink(log);
    stopped = strstr(text, "stopped (CONFIG=0)");
    g_assert_nonnull(stopped);
    direct = g_strrstr_len(text, stopped - text, "mapped into the guest=1");
    g_assert_nonnull(direct);
    trapped = strstr(direct, "mapped into the guest=0");
    g_assert_nonnull(trapped);
    g_assert_true(trapped < stopped);
}

/*
 * The host takes HW queues of at most 2^IDR1.CMDQS entries: a host SMMU
 * with CMDQS 6 caps the guest's (before the fix: one 64K page, 2^12).
 */
static void test_cmdqs_capped_by_host(void)
{
    uint32_t idr1 = start_read_idr1("[host]\npage_size = 64K\n"
                                    "[smmu smmu0]\nidr1 = 0x00d30510\n"
                                    "[pci 0000:01:00.0]\nsmmu = smmu0\n"
                                    "sid = 0x100\nbar0 = 64K\n",
                                    "cmdqv=on", true);

    g_assert_cmpuint(IDR1_CMDQS(idr1), ==, 6);
}


/*
 * The placeholder queues' page (QEMU's, outside guest RAM) is mapped into
 * the IOAS read-only: every device of the IOAS could otherwise write it.
 */
static void test_placeholder_mapped_read_only(void)
{
    g_autofree char *log = g_build_filename(g_get_tmp_dir(),
                                            "qac-ph-map-XXXXXX", NULL);
    g_autofree char *opts = NULL, *text = NULL;
    CmdqvGuest g;
    int fd = g_mkstemp(log);
    const char *line;

    g_assert_cmpint(fd, >=, 0);
    close(fd);
    opts = g_strdup_printf("-D %s -trace iommufd_backend_map_dma", log);
    cg_start(&g, HOST_CONF_CMDQV, opts);
    cg_stop(&g);
    g_assert_true(g_file_get_contents(log, &text, NULL, NULL));
    unlink(log);
    /* at the top of the 48-bit IOVA space, a 64K page */
    line = strstr(text, "iova=0xffffffff0000 size=0x10000");
    g_assert_nonnull(line);
    g_assert_true(g_str_has_prefix(strstr(line, "readonly="), "readonly=1"));
}


/*
 * A VINTF page the host reports too short for the registers of its logical
 * queues (QEMU reads and writes them at 0x80 a queue): the vIOMMU is
 * refused, naming it, rather than QEMU reaching past the mapping.
 */
static void test_short_vintf_page_refused(void)
{
    g_autofree char *err = standin_smmu_start_fails(
        "[host]\npage_size = 64K\n"
        "[smmu smmu0]\nvintf_mmap_length = 0x1000\ncmdqv_lvcmdqs = 64\n"
        "cmdqv_vintfs = 2\n"
        "[pci 0000:01:00.0]\nsmmu = smmu0\nsid = 0x100\nbar0 = 64K\n",
        ",cmdqv=on");

    /* 64 queues x 0x80 need 0x2000 bytes */
    g_assert_nonnull(strstr(err, "the host's VINTF page is 0x1000 bytes, too "
                            "small for the registers of its 64 logical "
                            "queues"));
}


/*
 * Issue 13, part 1: with no device yet (no vIOMMU), QEMU runs the guest's
 * queues: the Linux driver's sequence brings them up (CMDQ_EN_OK), its
 * invalidations complete, an illegal command stops the queue as the
 * hardware would (CONS.ERR, GERROR, the error maps, the interrupt) until
 * GERRORN; a hotplugged device then takes them over on host HW queues
 * with their indexes, and its unplug gives them back.
 */
static void test_emulated_queues_hotplug_first(void)
{
    CmdqvGuest g;
    uint32_t cons, gerror;
    QDict *d;

    cg_start_hotplug(&g, HOST_CONF_CMDQV);
    cg_linux_init_checked(&g);          /* EN_OK on both, no host */
    cg_submit_ok(&g, 0, CMD_TLBI_NH_ASID(1));
    cg_submit_ok(&g, 1, CMD_TLBI_NH_VA(2));

    /* TLBI_NH_ALL: illegal in a guest VINTF (the kernel's guest filter) */
    cg_cmd(&g, 1, OP_TLBI_NH_ALL, 0);
    cg_cmd(&g, 1, CMD_SYNC, 0);
    cons = cg_kick(&g, 1);
    g_assert_cmphex(cons & 0xfffff, ==, (g.prod[1] - 2) & 0xfffff);
    g_assert_cmphex((cons >> 24) & 0x7f, ==, CERROR_ILL);
    gerror = cg_rd(&g, W_P0(1) + Q_GERROR);
    g_assert_cmphex((gerror ^ cg_rd(&g, W_P0(1) + Q_GERRORN)) & 1, ==, 1);
    g_assert_cmphex(cg_rd(&g, W_LVCMDQ_ERR_MAP), ==, 2);
    g_assert_cmphex(cg_rd(&g, W_VINTF_ERR_MAP), ==, 1);
    /* the driver rewrites the command as a CMD_SYNC and acknowledges */
    qtest_writeq(g.qts, cg_ring(&g, 1) + ((g.prod[1] - 2) &
                 ((1u << g.log2size) - 1)) * 16, CMD_SYNC);
    cg_wr(&g, W_P0(1) + Q_GERRORN, gerror);
    g_assert_cmphex(cg_rd(&g, W_P0(1) + Q_CONS) & 0xfffff, ==, g.prod[1]);
    g_assert_cmphex(cg_rd(&g, W_LVCMDQ_ERR_MAP), ==, 0);

    /* the first device: host HW queues take the queues over, direct */
    cg_plug(&g);
    cg_submit_ok(&g, 0, CMD_TLBI_NH_ASID(3));
    cg_submit_ok(&g, 1, CMD_TLBI_NH_ASID(4));
    d = standin_dump(g.host);
    g_assert_cmpint(standin_count(d, "hw_queue"), ==, 2);
    g_assert_cmpint(qdict_get_int(d, "vcmdq_executed_total"), ==, 4);
    qobject_unref(d);
    {
        QDict *q = cg_queue_info(&g, 0);
        g_assert_cmpstr(qdict_get_str(q, "page"), ==, "direct");
        qobject_unref(q);
    }

    /* the last device goes: QEMU runs them again, from where they were */
    qobject_unref(cg_unplug(&g));
    g_assert_cmphex(cg_rd(&g, W_P0(0) + Q_STATUS) & 1, ==, 1);
    cg_submit_ok(&g, 0, CMD_TLBI_NH_ASID(5));
    cg_submit_ok(&g, 1, CMD_TLBI_NH_ASID(6));
    cg_stop(&g);
}



/*
 * Host to QEMU with commands in flight: the guest rings 200 commands on a
 * host-backed queue and the last device goes at once. QEMU stops the host
 * queue and waits for CMDQ_EN_OK to clear before it takes CONS (as Linux's
 * vcmdq_write_config() does), so every command runs exactly once: on the
 * host before the stop, or by QEMU after it.
 */
static void test_handover_in_flight_none_lost(void)
{
    const unsigned n = 200;
    CmdqvGuest g;
    QDict *d;
    int64_t host_before, host_after, qemu_before, qemu_after;

    cg_start_hotplug(&g, HOST_CONF_CMDQV);
    cg_plug(&g);
    cg_linux_init_checked(&g);
    g_assert_cmpuint(n, <, 1u << g.log2size);
    d = standin_dump(g.host);
    host_before = qdict_get_int(d, "vcmdq_executed_total");
    qobject_unref(d);
    qemu_before = cg_executed_by_qemu(&g, 0);

    for (unsigned i = 0; i < n - 1; i++) {
        cg_cmd(&g, 0, CMD_TLBI_NH_VA(7), 0x1000ULL * (i + 1));
    }
    cg_cmd(&g, 0, CMD_SYNC, 0);
    cg_wr(&g, W_P0(0) + Q_PROD, g.prod[0]);     /* the page is direct */
    qobject_unref(cg_unplug(&g));
    d = standin_dump(g.host);
    host_after = qdict_get_int(d, "vcmdq_executed_total");
    qobject_unref(d);
    qemu_after = cg_executed_by_qemu(&g, 0);

    g_test_message("in flight: %" PRId64 " ran on the host, %" PRId64
                   " in QEMU", host_after - host_before,
                   qemu_after - qemu_before);
    g_assert_cmphex(cg_rd(&g, W_P0(0) + Q_CONS) & 0xfffff, ==, g.prod[0]);
    g_assert_cmpint((host_after - host_before) + (qemu_after - qemu_before),
                    ==, n);
    cg_stop(&g);
}

/* ---- accel=off: QEMU runs the queues over the emulated SMMU ----------- */

/* QEMU's trace log for the emulated SMMU's stage-1 invalidations */
static char *emu_trace_opts(char **log)
{
    int fd = g_file_open_tmp("qac-trace-XXXXXX", log, NULL);

    g_assert_cmpint(fd, >=, 0);
    close(fd);
    return g_strdup_printf("-D %s -trace smmuv3_cmdq_tlbi_nh_asid "
                           "-trace smmuv3_range_inval", *log);
}

static bool log_has(const char *log, const char *what)
{
    g_autofree char *text = NULL;

    g_assert_true(g_file_get_contents(log, &text, NULL, NULL));
    return strstr(text, what) != NULL;
}

/* The SMMU's entry in query-smmuv3-accel: accel=off, listed for CMDQV */
static void check_emulated_view(CmdqvGuest *g, int64_t executed0,
                                int64_t executed1)
{
    QDict *resp = qtest_qmp(g->qts, "{'execute': 'query-smmuv3-accel'}");
    QDict *i = qobject_to(QDict, qlist_peek(qdict_get_qlist(resp, "return")));

    g_assert_false(qdict_get_bool(i, "accel"));
    g_assert_true(qdict_get_bool(i, "cmdqv"));
    g_assert_cmpint(qdict_get_int(i, "cmdqv-vcmdqs"), ==, 2);
    g_assert_cmpint(qdict_get_int(i, "cmdqv-hw-queue-allocs"), ==, 0);
    qobject_unref(resp);
    for (unsigned l = 0; l < 2; l++) {
        QDict *q = cg_queue_info(g, l);

        g_assert_cmpstr(qdict_get_str(q, "state"), ==, "emulated");
        g_assert_cmpint(qdict_get_int(q, "executed-by-qemu"), ==,
                        l ? executed1 : executed0);
        qobject_unref(q);
    }
}

/*
 * Linux's sequence on accel=off,cmdqv=on: both queues come up, and their
 * TLBI_NH_ASID and TLBI_NH_VA reach the emulated SMMU's TLB (its trace).
 */
static void test_emulated_linux_sequence(void)
{
    CmdqvGuest g;
    g_autofree char *log = NULL;
    g_autofree char *opts = emu_trace_opts(&log);

    cg_start_emulated(&g, "", opts);
    check_emulated_view(&g, 0, 0);
    cg_linux_init_checked(&g);
    g_assert_cmpuint(g.nr, ==, 2);
    cg_submit_ok(&g, 0, CMD_TLBI_NH_ASID(5));
    cg_cmd(&g, 1, CMD_TLBI_NH_VA(6), 0x12345000);
    cg_cmd(&g, 1, CMD_SYNC, 0);
    g_assert_cmphex(cg_kick(&g, 1), ==, g.prod[1]);
    check_emulated_view(&g, 2, 2);
    cg_stop(&g);
    g_assert_true(log_has(log, "smmuv3_cmdq_tlbi_nh_asid asid=5\n"));
    g_assert_true(log_has(log, "smmuv3_range_inval vmid=-1 asid=6 "
                          "addr=0x12345000 "));
    unlink(log);
}

/*
 * An illegal command stops the queue at it: nothing after it reaches the
 * SMMU until the guest fixes it and acknowledges GERROR; then the rest.
 */
static void test_emulated_illegal_command(void)
{
    CmdqvGuest g;
    g_autofree char *log = NULL;
    g_autofree char *opts = emu_trace_opts(&log);
    uint32_t cons, gerror, bad;

    cg_start_emulated(&g, "", opts);
    cg_linux_init_checked(&g);
    cg_cmd(&g, 1, CMD_TLBI_NH_ASID(7), 0);
    bad = g.prod[1];
    cg_cmd(&g, 1, OP_TLBI_NH_ALL, 0);
    cg_cmd(&g, 1, CMD_TLBI_NH_ASID(8), 0);
    cg_cmd(&g, 1, CMD_SYNC, 0);
    cons = cg_kick(&g, 1);
    g_assert_cmphex(cons & 0xfffff, ==, bad);
    g_assert_cmphex((cons >> 24) & 0x7f, ==, CERROR_ILL);
    gerror = cg_rd(&g, W_P0(1) + Q_GERROR);
    g_assert_cmphex((gerror ^ cg_rd(&g, W_P0(1) + Q_GERRORN)) & 1, ==, 1);
    g_assert_cmphex(cg_rd(&g, W_LVCMDQ_ERR_MAP), ==, 2);
    check_emulated_view(&g, 0, 1);
    g_assert_true(log_has(log, "asid=7\n"));
    g_assert_false(log_has(log, "asid=8\n"));

    /* as the driver: the command becomes a CMD_SYNC, GERROR acknowledged */
    qtest_writeq(g.qts, cg_ring(&g, 1) + bad * 16, CMD_SYNC);
    cg_wr(&g, W_P0(1) + Q_GERRORN, gerror);
    g_assert_cmphex(cg_rd(&g, W_P0(1) + Q_CONS), ==, g.prod[1]);
    g_assert_cmphex(cg_rd(&g, W_LVCMDQ_ERR_MAP), ==, 0);
    check_emulated_view(&g, 0, 4);
    cg_stop(&g);
    g_assert_true(log_has(log, "asid=8\n"));
    unlink(log);
}

/* system_reset: the queues stop and come back with the next boot's init */
static void test_emulated_reset(void)
{
    CmdqvGuest g;

    cg_start_emulated(&g, "", NULL);
    cg_linux_init_checked(&g);
    cg_submit_ok(&g, 0, CMD_TLBI_NH_ASID(1));
    qtest_system_reset(g.qts);
    g_assert_cmphex(cg_rd(&g, W_CONFIG), ==, 0);
    g_assert_cmphex(cg_rd(&g, W_P0(0) + Q_STATUS) & 1, ==, 0);
    g_assert_cmphex(cg_rd(&g, W_P0(0) + Q_CONS), ==, 0);
    cg_linux_init_checked(&g);
    cg_submit_ok(&g, 0, CMD_TLBI_NH_ASID(2));
    cg_submit_ok(&g, 1, CMD_TLBI_NH_ASID(3));
    check_emulated_view(&g, 4, 2);
    cg_stop(&g);
}

static void test_emulated_acpi_dsdt_device(void)
{
    CmdqvGuest g;

    if (!acpi_have_iasl()) {
        g_test_skip("iasl (acpica-tools) not installed");
        return;
    }
    cg_start_emulated(&g, "", NULL);
    check_acpi_dsdt_device(&g);
    cg_stop(&g);
}

/* ---- handovers: every direction, with commands in flight ---------------- */







/*
 * QEMU to host with an error pending: QEMU's queue stopped on an illegal
 * command, the guest's handler has read GERROR, and then the first device
 * comes. The queue stays QEMU's, page trapped, its error as the guest saw
 * it, until the handler's GERRORN write; then the host queue takes it at
 * CONS: QEMU ran 1 command, the host the other 4, none twice.
 */
static void test_handover_qemu_to_host_error(void)
{
    CmdqvGuest g;
    uint32_t bad, gerror, cons;
    int64_t host0;

    cg_start_hotplug(&g, HOST_CONF_CMDQV);
    cg_linux_init_checked(&g);
    bad = cg_queue_with_illegal(&g, 0);
    cons = cg_kick(&g, 0);
    g_assert_cmphex(cons, ==, (CERROR_ILL << 24) | bad);
    g_assert_cmpint(cg_executed_by_qemu(&g, 0), ==, 1);
    gerror = cg_rd(&g, W_P0(0) + Q_GERROR);     /* the handler's first half */

    cg_plug(&g);
    host0 = cg_host_executed(&g);
    g_assert_cmphex(cg_rd(&g, W_P0(0) + Q_CONS), ==, cons);
    g_assert_true(cg_error_active(&g, 0));
    g_assert_cmphex(cg_rd(&g, W_LVCMDQ_ERR_MAP), ==, 1);
    g_assert_cmpstr(cg_page(&g, 0), ==, "trapped");
    g_assert_cmpint(cg_host_executed(&g), ==, host0);

    cg_skip_err(&g, 0, gerror);                 /* ... and its second */
    cg_drain(&g, 0);
    g_assert_cmpint(cg_host_executed(&g) - host0, ==, 4);
    g_assert_cmpint(cg_executed_by_qemu(&g, 0), ==, 1);
    g_assert_cmphex(cg_rd(&g, W_LVCMDQ_ERR_MAP), ==, 0);
    g_assert_cmpstr(cg_page(&g, 0), ==, "direct");
    cg_submit_ok(&g, 0, CMD_TLBI_NH_ASID(4));
    g_assert_cmpint(cg_host_executed(&g) - host0, ==, 6);
    cg_stop(&g);
}

/*
 * Host to QEMU with an error pending: the host queue stopped on an illegal
 * command and the last device goes before the guest handles it. QEMU holds
 * the error as the host showed it and resumes at CONS once acknowledged:
 * the host ran 1 command, QEMU the other 4.
 */
static void test_handover_host_to_qemu_error(void)
{
    CmdqvGuest g;
    uint32_t bad, gerror, cons = 0;
    int64_t host0, host1;

    cg_start_hotplug(&g, HOST_CONF_CMDQV);
    cg_plug(&g);
    cg_linux_init_checked(&g);
    host0 = cg_host_executed(&g);
    bad = cg_queue_with_illegal(&g, 1);
    cg_wr(&g, W_P0(1) + Q_PROD, g.prod[1]);     /* the page is direct */
    for (int i = 0; i < 2000 && !cg_error_active(&g, 1); i++) {
        g_usleep(1000);
    }
    g_assert_true(cg_error_active(&g, 1));
    cons = cg_rd(&g, W_P0(1) + Q_CONS);
    g_assert_cmphex(cons, ==, (CERROR_ILL << 24) | bad);
    gerror = cg_rd(&g, W_P0(1) + Q_GERROR);
    host1 = cg_host_executed(&g);
    g_assert_cmpint(host1 - host0, ==, 1);

    qobject_unref(cg_unplug(&g));
    g_assert_cmphex(cg_rd(&g, W_P0(1) + Q_CONS), ==, cons);
    g_assert_cmphex(cg_rd(&g, W_P0(1) + Q_GERROR), ==, gerror);
    g_assert_true(cg_error_active(&g, 1));
    g_assert_cmphex(cg_rd(&g, W_LVCMDQ_ERR_MAP), ==, 2);
    g_assert_cmpint(cg_executed_by_qemu(&g, 1), ==, 0);

    cg_skip_err(&g, 1, gerror);
    g_assert_cmphex(cg_rd(&g, W_P0(1) + Q_CONS) & 0xfffff, ==, g.prod[1]);
    g_assert_cmpint(cg_executed_by_qemu(&g, 1), ==, 4);
    g_assert_cmpint(cg_host_executed(&g), ==, host1);
    cg_stop(&g);
}

/*
 * Host to host: queue 1 has 200 commands rung on the host when queue 0 is
 * re-based, which rebuilds queue 1 above it. Each of the 200 runs once:
 * before the stop, or on the rebuilt queue from the CONS it stopped at.
 */
static void test_handover_rebuild_in_flight(void)
{
    const unsigned n = 200;
    CmdqvGuest g;
    int64_t host0;

    cg_start(&g, HOST_CONF_CMDQV, NULL);
    cg_linux_init_checked(&g);
    g_assert_cmpuint(n, <, 1u << g.log2size);
    host0 = cg_host_executed(&g);
    for (unsigned i = 0; i < n - 1; i++) {
        cg_cmd(&g, 1, CMD_TLBI_NH_VA(7), 0x1000ULL * (i + 1));
    }
    cg_cmd(&g, 1, CMD_SYNC, 0);
    cg_wr(&g, W_P0(1) + Q_PROD, g.prod[1]);     /* direct */
    qtest_writeq(g.qts, g.win + W_P1(0), (G_RING + 0x40000) | g.log2size);
    cg_drain(&g, 1);
    g_assert_cmpint(cg_host_executed(&g) - host0, ==, n);
    g_assert_cmpint(cg_executed_by_qemu(&g, 1), ==, 0);
    cg_stop(&g);
}

/*
 * Reset with 200 commands in flight on a host queue: the host queues go
 * (none left, no refused destroy), nothing pending is run by QEMU, and the
 * next boot's queues start empty: its commands run once, the old never.
 */
static void test_handover_reset_in_flight(void)
{
    const unsigned n = 200;
    CmdqvGuest g;
    QDict *d;
    int64_t host0, ran;

    cg_start(&g, HOST_CONF_CMDQV, NULL);
    cg_linux_init_checked(&g);
    host0 = cg_host_executed(&g);
    for (unsigned i = 0; i < n - 1; i++) {
        cg_cmd(&g, 0, CMD_TLBI_NH_VA(7), 0x1000ULL * (i + 1));
    }
    cg_cmd(&g, 0, CMD_SYNC, 0);
    cg_wr(&g, W_P0(0) + Q_PROD, g.prod[0]);
    qtest_system_reset(g.qts);
    d = standin_dump(g.host);
    g_assert_cmpint(standin_objects(d, "hw_queue")->len, ==, 0);
    g_assert_true(qlist_empty(qdict_get_qlist(d, "rejected_destroys")));
    ran = qdict_get_int(d, "vcmdq_executed_total") - host0;
    qobject_unref(d);
    g_test_message("%" PRId64 " of %u ran before the reset", ran, n);
    g_assert_cmpint(ran, <=, n);
    g_assert_cmpint(cg_executed_by_qemu(&g, 0), ==, 0);
    g_assert_cmphex(cg_rd(&g, W_P0(0) + Q_CONS), ==, 0);

    memset(g.prod, 0, sizeof(g.prod));
    cg_linux_init_checked(&g);
    cg_submit_ok(&g, 0, CMD_TLBI_NH_ASID(8));
    g_assert_cmpint(cg_host_executed(&g) - host0, ==, ran + 2);
    cg_stop(&g);
}

/*
 * Reset in the middle of a handover: the last device went while a queue
 * was stopped on an error (QEMU holds it), then reset, then a new device
 * and a new boot: nothing of the old ring runs, the new commands once.
 */
static void test_handover_reset_with_error(void)
{
    CmdqvGuest g;
    int64_t host0, qemu0;

    cg_start_hotplug(&g, HOST_CONF_CMDQV);
    cg_plug(&g);
    cg_linux_init_checked(&g);
    cg_queue_with_illegal(&g, 0);
    cg_wr(&g, W_P0(0) + Q_PROD, g.prod[0]);
    for (int i = 0; i < 2000 && !cg_error_active(&g, 0); i++) {
        g_usleep(1000);
    }
    g_assert_true(cg_error_active(&g, 0));
    qobject_unref(cg_unplug(&g));
    qtest_system_reset(g.qts);
    g_assert_false(cg_error_active(&g, 0));
    g_assert_cmphex(cg_rd(&g, W_LVCMDQ_ERR_MAP), ==, 0);

    host0 = cg_host_executed(&g);
    qemu0 = cg_executed_by_qemu(&g, 0);
    rp0_slot_power(g.qts, true);
    cg_plug(&g);
    memset(g.prod, 0, sizeof(g.prod));
    cg_linux_init_checked(&g);
    cg_submit_ok(&g, 0, CMD_TLBI_NH_ASID(9));
    cg_submit_ok(&g, 1, CMD_TLBI_NH_ASID(10));
    g_assert_cmpint(cg_host_executed(&g) - host0, ==, 4);
    g_assert_cmpint(cg_executed_by_qemu(&g, 0), ==, qemu0);
    cg_stop(&g);
}

/* ---- the host's view: several VINTFs, HYP_OWN, SIDs and VMIDs ----------- */

#define HV_P0(v, l)     (0x30000 + 0x20000 * (v) + 0x80 * (l))
#define HV_P1(v, l)     (HV_P0(v, l) + 0x10000)
#define HV_LVCMDQ_ERR_MAP(v)    (0x10c0 + 0x100 * (v))

/* Logical queue @l of VINTF @v: BASE, CMDQ_EN, EN_OK; its ring */
static uint64_t hv_init_queue(CmdqvGuest *g, unsigned v, unsigned l)
{
    uint64_t ring = G_RING + (v * 2 + l) * 0x10000;

    qtest_writeq(g->qts, g->win + HV_P1(v, l), ring | g->log2size);
    cg_wr(g, HV_P0(v, l) + Q_CONFIG, 1);
    g_assert_cmphex(cg_rd(g, HV_P0(v, l) + Q_STATUS) & 1, ==, 1);
    return ring;
}

/* @n commands at the ring's start, PROD rung: the CONS it stopped at */
static uint32_t hv_run(CmdqvGuest *g, unsigned v, unsigned l, uint64_t ring,
                       const uint64_t (*cmds)[2], unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        qtest_writeq(g->qts, ring + 16 * i, cmds[i][0]);
        qtest_writeq(g->qts, ring + 16 * i + 8, cmds[i][1]);
    }
    cg_wr(g, HV_P0(v, l) + Q_CONS, 0);
    cg_wr(g, HV_P0(v, l) + Q_PROD, n);
    return cg_rd(g, HV_P0(v, l) + Q_CONS);
}

/*
 * What Linux's tegra241-cmdqv driver does as a host (tegra241_cmdqv_probe,
 * tegra241_cmdqv_hw_reset, tegra241_vintf_hw_init(vintf0, true)) on
 * cmdqv-vintfs=4: PARAM shows 4 VINTFs and 8 VCMDQs, the global queues
 * are assigned to VINTFs, HYP_OWN reads back 1 and VINTF0's queues take
 * any SMMU command. A guest-owned VINTF2 then gets its VMID put into its
 * TLB invalidations and its ATC_INV StreamIDs replaced; anything else, or
 * an unmatched SID, is illegal and shows in every error map.
 */
static void test_host_view(void)
{
    static const uint64_t own[][2] = {
        { CMD_CFGI_STE(0x10), 0 }, { CMD_TLBI_NSNH_ALL, 0 }, { CMD_SYNC, 0 },
    };
    static const uint64_t guest[][2] = {
        { CMD_TLBI_NH_VA(3), 0x45678000 },
        { CMD_ATC_INV(0x10), 0 },                  /* vSID 0x10: matched */
        { CMD_SYNC, 0 },
        { CMD_ATC_INV(0x11), 0 },                  /* vSID 0x11: not */
    };
    CmdqvGuest g;
    g_autofree char *log = NULL;
    g_autofree char *opts = emu_trace_opts(&log);
    g_autofree char *more = g_strdup_printf("%s -trace smmuv3_cmdq_tlbi_nsnh "
                                            "-trace smmuv3_unhandled_cmd",
                                            opts);
    uint32_t param, cons;
    uint64_t r00, r01, r20;

    cg_start_emulated(&g, ",stage=nested,cmdqv-vintfs=4", more);
    g_assert_cmphex(qtest_mtree_size(g.qts, "tegra241-cmdqv"), ==, 0xb0000);
    param = cg_rd(&g, W_PARAM);
    g_assert_cmpuint((param >> 8) & 0xf, ==, 2);     /* 4 VINTFs */
    g_assert_cmpuint((param >> 4) & 0xf, ==, 3);     /* 8 VCMDQs */

    /* tegra241_cmdqv_hw_reset() */
    cg_wr(&g, W_CONFIG, 1);
    for (unsigned q = 0; q < 8; q++) {
        cg_wr(&g, W_ALLOC_MAP(q), (q / 2) << 15 | (q % 2) << 1);
    }
    cg_wr(&g, W_VINTF_CONFIG(0), VINTF_HYP_OWN);
    cg_wr(&g, W_VINTF_CONFIG(0), VINTF_HYP_OWN | VINTF_ENABLE);
    g_assert_cmphex(cg_rd(&g, W_VINTF_CONFIG(0)) & VINTF_HYP_OWN, ==,
                    VINTF_HYP_OWN);
    g_assert_cmphex(cg_rd(&g, W_VINTF_STATUS(0)) & 1, ==, 1);
    for (unsigned l = 0; l < 2; l++) {
        cg_wr(&g, W_ALLOC_MAP(l), cg_rd(&g, W_ALLOC_MAP(l)) | 1);
    }
    r00 = hv_init_queue(&g, 0, 0);
    r01 = hv_init_queue(&g, 0, 1);
    /* VINTF0 is the host's: configuration and TLB commands all run */
    g_assert_cmphex(hv_run(&g, 0, 0, r00, own, 3), ==, 3);
    g_assert_cmphex(hv_run(&g, 0, 1, r01, own + 1, 2), ==, 2);

    /* VINTF2 for a VM: VMID 5, vSID 0x10 -> 0x100 */
    cg_wr(&g, W_VINTF_SID_REPLACE(2, 0), 0x100);
    cg_wr(&g, W_VINTF_SID_MATCH(2, 0), 0x10 << 1 | 1);
    cg_wr(&g, W_VINTF_CONFIG(2), VINTF_VMID(5) | VINTF_ENABLE);
    cg_wr(&g, W_ALLOC_MAP(4), cg_rd(&g, W_ALLOC_MAP(4)) | 1);
    r20 = hv_init_queue(&g, 2, 0);
    g_assert_cmphex(hv_run(&g, 2, 0, r20, guest, 3), ==, 3);
    /* the same queue through its global page (VCMDQ 4) */
    g_assert_cmphex(cg_rd(&g, W_GP0(4) + Q_CONS), ==, 3);

    /* an unmatched vSID: illegal, and seen in every map */
    qtest_writeq(g.qts, r20 + 16 * 3, guest[3][0]);
    qtest_writeq(g.qts, r20 + 16 * 3 + 8, guest[3][1]);
    cg_wr(&g, HV_P0(2, 0) + Q_PROD, 4);
    cons = cg_rd(&g, HV_P0(2, 0) + Q_CONS);
    g_assert_cmphex(cons, ==, (CERROR_ILL << 24) | 3);
    g_assert_cmphex(cg_rd(&g, W_VINTF_ERR_MAP), ==, 1u << 2);
    g_assert_cmphex(cg_rd(&g, W_CMDQ_ERR_MAP), ==, 1u << 4);
    g_assert_cmphex(cg_rd(&g, HV_LVCMDQ_ERR_MAP(2)), ==, 1);
    g_assert_cmphex(cg_rd(&g, HV_LVCMDQ_ERR_MAP(0)), ==, 0);
    /* as Linux's handler: the command becomes a CMD_SYNC, acknowledged */
    qtest_writeq(g.qts, r20 + 16 * 3, CMD_SYNC);
    cg_wr(&g, HV_P0(2, 0) + Q_GERRORN, cg_rd(&g, HV_P0(2, 0) + Q_GERROR));
    g_assert_cmphex(cg_rd(&g, W_VINTF_ERR_MAP), ==, 0);
    g_assert_cmphex(cg_rd(&g, HV_P0(2, 0) + Q_CONS), ==, 4);
    /* a guest-owned VINTF refuses configuration commands */
    cg_wr(&g, HV_P0(2, 0) + Q_CONFIG, 0);
    g_assert_cmphex(hv_run(&g, 2, 0, r20, own, 1), ==, 0);  /* stopped */
    cg_wr(&g, HV_P0(2, 0) + Q_CONFIG, 1);
    cons = cg_rd(&g, HV_P0(2, 0) + Q_CONS);
    g_assert_cmphex(cons, ==, (CERROR_ILL << 24) | 0);
    cg_stop(&g);

    g_assert_true(log_has(log, "smmuv3_cmdq_tlbi_nsnh"));
    /* VINTF2's VMID went into its TLBI_NH_VA; the ATC_INV reached the SMMU */
    g_assert_true(log_has(log, "smmuv3_range_inval vmid=5 asid=3 "
                          "addr=0x45678000 "));
    g_assert_true(log_has(log, "smmuv3_unhandled_cmd"));
    unlink(log);
}

/* The guest's view keeps HYP_OWN at 0 and one VINTF's worth of window */
static void test_guest_view_not_host(void)
{
    CmdqvGuest g;

    cg_start_emulated(&g, "", NULL);
    g_assert_cmphex(qtest_mtree_size(g.qts, "tegra241-cmdqv"), ==, 0x50000);
    cg_wr(&g, W_VINTF_CONFIG(0), VINTF_HYP_OWN | VINTF_ENABLE);
    g_assert_cmphex(cg_rd(&g, W_VINTF_CONFIG(0)), ==, VINTF_ENABLE);
    g_assert_cmphex((cg_rd(&g, W_PARAM) >> 8) & 0xf, ==, 0);
    g_assert_cmphex(cg_rd(&g, W_VINTF_CONFIG(1)), ==, 0);   /* reserved */
    cg_stop(&g);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    qtest_add_func("/tegra241-cmdqv/property/listed", test_properties_listed);
    qtest_add_func("/tegra241-cmdqv/realize/emulated-props-refused",
                   test_emulated_props_refused);
    qtest_add_func("/tegra241-cmdqv/realize/vcmdqs-bad-values",
                   test_vcmdqs_bad_values);
    qtest_add_func("/tegra241-cmdqv/standin/no-coldplug-needs-vcmdqs",
                   test_no_coldplug_needs_vcmdqs);
    qtest_add_func("/tegra241-cmdqv/standin/auto-on-cmdqv-host",
                   test_auto_on_cmdqv_host);
    qtest_add_func("/tegra241-cmdqv/standin/auto-on-plain-host",
                   test_auto_on_plain_host);
    qtest_add_func("/tegra241-cmdqv/standin/off-on-cmdqv-host",
                   test_off_on_cmdqv_host);
    qtest_add_func("/tegra241-cmdqv/standin/explicit-no-coldplug",
                   test_explicit_no_coldplug);
    qtest_add_func("/tegra241-cmdqv/standin/on-plain-host-refused",
                   test_on_plain_host_refused);
    qtest_add_func("/tegra241-cmdqv/standin/vcmdqs-above-host-refused",
                   test_vcmdqs_above_host_refused);
    qtest_add_func("/tegra241-cmdqv/standin/linux-sequence",
                   test_linux_sequence);
    qtest_add_func("/tegra241-cmdqv/standin/register-model",
                   test_register_model);
    qtest_add_func("/tegra241-cmdqv/standin/queue1-before-queue0",
                   test_queue1_before_queue0);
    qtest_add_func("/tegra241-cmdqv/standin/rebase-queue0-under-queue1",
                   test_rebase_queue0_under_queue1);
    qtest_add_func("/tegra241-cmdqv/standin/illegal-command",
                   test_illegal_command);
    qtest_add_func("/tegra241-cmdqv/standin/alloc-failure-init-err",
                   test_alloc_failure_init_err);
    qtest_add_func("/tegra241-cmdqv/standin/base-outside-ram-init-err",
                   test_base_outside_ram_init_err);
    qtest_add_func("/tegra241-cmdqv/standin/system-reset-live",
                   test_system_reset_live);
    qtest_add_func("/tegra241-cmdqv/acpi/dsdt-device",
                   test_acpi_dsdt_device);
    qtest_add_func("/tegra241-cmdqv/handover/qemu-to-host-error",
                   test_handover_qemu_to_host_error);
    qtest_add_func("/tegra241-cmdqv/handover/host-to-qemu-error",
                   test_handover_host_to_qemu_error);
    qtest_add_func("/tegra241-cmdqv/handover/rebuild-in-flight",
                   test_handover_rebuild_in_flight);
    qtest_add_func("/tegra241-cmdqv/handover/reset-in-flight",
                   test_handover_reset_in_flight);
    qtest_add_func("/tegra241-cmdqv/handover/reset-with-error",
                   test_handover_reset_with_error);
    qtest_add_func("/tegra241-cmdqv/emulated/host-view", test_host_view);
    qtest_add_func("/tegra241-cmdqv/emulated/guest-view-not-host",
                   test_guest_view_not_host);
    qtest_add_func("/tegra241-cmdqv/emulated/linux-sequence",
                   test_emulated_linux_sequence);
    qtest_add_func("/tegra241-cmdqv/emulated/illegal-command",
                   test_emulated_illegal_command);
    qtest_add_func("/tegra241-cmdqv/emulated/reset",
                   test_emulated_reset);
    qtest_add_func("/tegra241-cmdqv/emulated/acpi-dsdt-device",
                   test_emulated_acpi_dsdt_device);
    qtest_add_func("/tegra241-cmdqv/acpi/no-device-when-off",
                   test_acpi_no_device_when_off);
    qtest_add_func("/tegra241-cmdqv/standin/kexec-reinit",
                   test_kexec_reinit);
    qtest_add_func("/tegra241-cmdqv/standin/hotplug-below-promise-refused",
                   test_hotplug_below_promise_refused);
    qtest_add_func("/tegra241-cmdqv/standin/unplug-replug-live",
                   test_unplug_replug_live);
    qtest_add_func("/tegra241-cmdqv/standin/disable-traps-before-stop",
                   test_disable_traps_before_stop);
    qtest_add_func("/tegra241-cmdqv/standin/placeholder-mapped-read-only",
                   test_placeholder_mapped_read_only);
    qtest_add_func("/tegra241-cmdqv/standin/emulated-queues-hotplug-first",
                   test_emulated_queues_hotplug_first);
    qtest_add_func("/tegra241-cmdqv/standin/handover-in-flight-none-lost",
                   test_handover_in_flight_none_lost);
    qtest_add_func("/tegra241-cmdqv/standin/short-vintf-page-refused",
                   test_short_vintf_page_refused);
    qtest_add_func("/tegra241-cmdqv/standin/cmdqs-capped-by-host",
                   test_cmdqs_capped_by_host);
    return g_test_run();
}
