/*
 * Live migration of a VM with an accelerated SMMUv3 and Tegra241 CMDQV:
 * two QEMUs, each on its own stand-in host, over a UNIX socket. What the
 * guest had (queue indexes, a pending error, the SMMU's promise) must be
 * there on the destination, the host objects re-created there, and no
 * command dropped on the way (counted on both hosts).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "libqtest.h"
#include "qobject/qdict.h"
#include "qobject/qlist.h"
#include "standin-qtest.h"
#include "qac-regs.h"
#include "qac-cmdqv-guest.h"

/* The accel SMMU's properties when no device is cold-plugged */
#define HOTPLUG_PROPS "ril=on,ats=off,oas=44,ssidsize=0,cmdqv=on,cmdqv-vcmdqs=2"

typedef struct Mig {
    char *dir, *uri;
    CmdqvGuest src, dst;
} Mig;

/*
 * The common command line of both sides on host @h: @smmu the SMMU's
 * properties, @dev a device ("" for none: rp0 stays empty).
 */
static char *mig_args(StandinHost *h, const char *smmu, bool dev)
{
    g_autofree char *sysfs = h ? standin_sysfsdev(h, "0000:01:00.0") : NULL;

    return g_strdup_printf(
        "-M virt,highmem-ecam=off -display none -nodefaults %s "
        "-device arm-smmuv3,primary-bus=pcie.0,id=smmu0,%s "
        "-device pcie-root-port,id=rp0,bus=pcie.0,chassis=1,addr=3.0 "
        "%s%s%s",
        h ? "-object iommufd,id=iommufd0" : "", smmu,
        dev ? "-device vfio-pci,id=dev0,bus=rp0,iommufd=iommufd0,"
              "sysfsdev=" : "", dev ? sysfs : "", "");
}

static void mig_side_start(CmdqvGuest *g, const char *conf, const char *smmu,
                           bool dev, const char *incoming)
{
    g_autofree char *args = NULL, *all = NULL;

    memset(g, 0, sizeof(*g));
    g->host = conf ? standin_host_new(conf) : NULL;
    args = mig_args(g->host, smmu, dev);
    all = g_strdup_printf("%s%s%s", args, incoming ? " -incoming " : "",
                          incoming ? incoming : "");
    g->qts = g->host ? standin_qtest_start(g->host, all) : qtest_init(all);
}

/* Source and destination QEMUs; @conf NULL: no stand-in (accel=off) */
static void mig_start(Mig *m, const char *conf_src, const char *conf_dst,
                      const char *smmu, bool dev)
{
    m->dir = g_dir_make_tmp("qac-mig-XXXXXX", NULL);
    m->uri = g_strdup_printf("unix:%s/mig.sock", m->dir);
    mig_side_start(&m->src, conf_src, smmu, dev, NULL);
    cg_attach(&m->src);
    mig_side_start(&m->dst, conf_dst, smmu, dev, m->uri);
}

static const char *mig_status(QTestState *qts)
{
    static char st[32];
    QDict *r = qtest_qmp_assert_success_ref(qts,
                                            "{'execute': 'query-migrate'}");

    g_strlcpy(st, qdict_haskey(r, "status") ? qdict_get_str(r, "status") :
              "none", sizeof(st));
    qobject_unref(r);
    return st;
}

/*
 * Migrate; true once completed on both sides, false if it failed. With the
 * return path, as a failure on the destination must reach the source.
 */
static bool mig_run(Mig *m)
{
    QTestState *sides[] = { m->src.qts, m->dst.qts };

    for (int i = 0; i < ARRAY_SIZE(sides); i++) {
        qtest_qmp_assert_success(sides[i], "{'execute': "
                                 "'migrate-set-capabilities', 'arguments': "
                                 "{'capabilities': [{'capability': "
                                 "'return-path', 'state': true}]}}");
    }
    qtest_qmp_assert_success(m->src.qts, "{'execute': 'migrate', "
                             "'arguments': {'uri': %s}}", m->uri);
    for (int i = 0; i < 3000; i++) {
        const char *st = mig_status(m->src.qts);

        if (!strcmp(st, "completed")) {
            qtest_qmp_eventwait(m->dst.qts, "RESUME");
            /* the destination's queues are where the source left them */
            m->dst.nr = m->src.nr;
            m->dst.log2size = m->src.log2size;
            memcpy(m->dst.prod, m->src.prod, sizeof(m->dst.prod));
            cg_attach(&m->dst);
            m->dst.log2size = m->src.log2size;
            return true;
        }
        if (!strcmp(st, "failed") || !strcmp(st, "cancelled")) {
            return false;
        }
        g_usleep(10000);
    }
    g_assert_not_reached();
}

static void mig_stop(Mig *m)
{
    g_autofree char *rm = g_strdup_printf("rm -rf '%s'", m->dir);

    cg_stop(&m->src);
    if (m->dst.qts) {
        cg_stop(&m->dst);
    } else if (m->dst.host) {
        standin_host_free(m->dst.host);
    }
    g_assert_cmpint(system(rm), ==, 0);
    g_free(m->dir);
    g_free(m->uri);
}

static int64_t executed_by_qemu(CmdqvGuest *g, unsigned l)
{
    QDict *r = qtest_qmp(g->qts, "{'execute': 'query-smmuv3-accel'}");
    QDict *i = qobject_to(QDict, qlist_peek(qdict_get_qlist(r, "return")));
    QListEntry *e;
    int64_t n = -1;

    QLIST_FOREACH_ENTRY(qdict_get_qlist(i, "cmdqv-queues"), e) {
        QDict *q = qobject_to(QDict, qlist_entry_obj(e));

        if (qdict_get_int(q, "index") == l) {
            n = qdict_get_int(q, "executed-by-qemu");
        }
    }
    qobject_unref(r);
    return n;
}

static bool error_active(CmdqvGuest *g, unsigned l)
{
    return (cg_rd(g, W_P0(l) + Q_GERROR) ^ cg_rd(g, W_P0(l) + Q_GERRORN)) & 1;
}

/* TLBI_NH_ASID, an illegal TLBI_NH_ALL, one more and a CMD_SYNC: @bad */
static uint32_t queue_with_illegal(CmdqvGuest *g, unsigned l)
{
    uint32_t bad;

    cg_cmd(g, l, CMD_TLBI_NH_ASID(1), 0);
    bad = g->prod[l];
    cg_cmd(g, l, OP_TLBI_NH_ALL, 0);
    cg_cmd(g, l, CMD_TLBI_NH_ASID(2), 0);
    cg_cmd(g, l, CMD_SYNC, 0);
    return bad;
}

/* Linux's handler on @g for queue @l: the bad command a CMD_SYNC, acked */
static void skip_err(CmdqvGuest *g, unsigned l)
{
    uint32_t gerror = cg_rd(g, W_P0(l) + Q_GERROR);
    uint32_t cons = cg_rd(g, W_P0(l) + Q_CONS);
    uint64_t a = cg_ring(g, l) + (cons & ((1u << g->log2size) - 1)) * 16;

    qtest_writeq(g->qts, a, CMD_SYNC);
    qtest_writeq(g->qts, a + 8, 0);
    cg_wr(g, W_P0(l) + Q_GERRORN, gerror);
}

/*
 * A VM in its emulated phase (no device yet, QEMU runs the queues) with an
 * error pending on queue 1: on the destination the queues run on, the
 * error is still pending and clears when acknowledged, and the first device
 * hotplugged there gets its host HW queues from the migrated state.
 */
static void test_emulated_phase(void)
{
    Mig m;
    uint32_t bad;
    QDict *d;

    mig_start(&m, HOST_CONF_CMDQV, HOST_CONF_CMDQV, "accel=on," HOTPLUG_PROPS,
              false);
    cg_linux_init(&m.src);
    cg_submit_ok(&m.src, 0, CMD_TLBI_NH_ASID(7));
    bad = queue_with_illegal(&m.src, 1);
    g_assert_cmphex(cg_kick(&m.src, 1), ==, (CERROR_ILL << 24) | bad);

    g_assert_true(mig_run(&m));
    g_assert_cmphex(cg_rd(&m.dst, W_CONFIG), ==, 1);
    g_assert_cmphex(cg_rd(&m.dst, W_P0(0) + Q_STATUS) & 1, ==, 1);
    g_assert_cmphex(cg_rd(&m.dst, W_P0(0) + Q_CONS), ==, m.dst.prod[0]);
    g_assert_cmphex(cg_rd(&m.dst, W_P0(1) + Q_CONS), ==,
                    (CERROR_ILL << 24) | bad);
    g_assert_true(error_active(&m.dst, 1));
    g_assert_cmphex(cg_rd(&m.dst, W_LVCMDQ_ERR_MAP), ==, 2);

    skip_err(&m.dst, 1);
    g_assert_cmphex(cg_rd(&m.dst, W_P0(1) + Q_CONS), ==, m.dst.prod[1]);
    g_assert_cmpint(executed_by_qemu(&m.dst, 1), ==, 3);
    cg_submit_ok(&m.dst, 0, CMD_TLBI_NH_ASID(8));

    /* the first device on the destination: host HW queues, page direct */
    m.dst.sysfs = standin_sysfsdev(m.dst.host, "0000:01:00.0");
    cg_plug(&m.dst);
    cg_submit_ok(&m.dst, 0, CMD_TLBI_NH_ASID(9));
    cg_submit_ok(&m.dst, 1, CMD_TLBI_NH_ASID(10));
    d = standin_dump(m.dst.host);
    g_assert_cmpint(standin_count(d, "hw_queue"), ==, 2);
    g_assert_cmpint(qdict_get_int(d, "vcmdq_executed_total"), ==, 4);
    qobject_unref(d);
    mig_stop(&m);
}

/*
 * accel=off with the host's view (4 VINTFs): VINTF configurations, SID
 * slots, queue indexes and a guest-owned VINTF's VMID arrive intact.
 */
static void test_emulated_host_view(void)
{
    Mig m;

    mig_start(&m, NULL, NULL, "cmdqv=on,cmdqv-vintfs=4", false);
    cg_wr(&m.src, W_CONFIG, 1);
    cg_wr(&m.src, W_VINTF_CONFIG(0), VINTF_HYP_OWN | VINTF_ENABLE);
    cg_wr(&m.src, W_VINTF_SID_MATCH(2, 3), 0x10 << 1 | 1);
    cg_wr(&m.src, W_VINTF_SID_REPLACE(2, 3), 0x100);
    cg_wr(&m.src, W_VINTF_CONFIG(2), VINTF_VMID(5) | VINTF_ENABLE);
    cg_wr(&m.src, W_ALLOC_MAP(5), 1 | (1 << 1) | (2 << 15));
    g_assert_true(mig_run(&m));
    g_assert_cmphex(cg_rd(&m.dst, W_VINTF_CONFIG(0)), ==,
                    VINTF_HYP_OWN | VINTF_ENABLE);
    g_assert_cmphex(cg_rd(&m.dst, W_VINTF_CONFIG(2)), ==,
                    VINTF_VMID(5) | VINTF_ENABLE);
    g_assert_cmphex(cg_rd(&m.dst, W_VINTF_SID_MATCH(2, 3)), ==, 0x21);
    g_assert_cmphex(cg_rd(&m.dst, W_VINTF_SID_REPLACE(2, 3)), ==, 0x100);
    g_assert_cmphex(cg_rd(&m.dst, W_ALLOC_MAP(5)), ==, 1 | (1 << 1) | (2 << 15));
    mig_stop(&m);
}

/*
 * A destination that cannot give what the source promised (one queue, not
 * two): the migration fails there with the reason, the destination leaves
 * its host clean, and the source goes on with its queues.
 */
static void test_promise_refused(void)
{
    Mig m;

    m.dir = g_dir_make_tmp("qac-mig-XXXXXX", NULL);
    m.uri = g_strdup_printf("unix:%s/mig.sock", m.dir);
    mig_side_start(&m.src, HOST_CONF_CMDQV, "accel=on," HOTPLUG_PROPS, false,
                   NULL);
    cg_attach(&m.src);
    mig_side_start(&m.dst, HOST_CONF_CMDQV, "accel=on,ril=on,ats=off,oas=44,"
                   "ssidsize=0,cmdqv=on,cmdqv-vcmdqs=1", false, m.uri);
    qtest_set_expected_status(m.dst.qts, 1);
    cg_linux_init(&m.src);
    cg_submit_ok(&m.src, 0, CMD_TLBI_NH_ASID(1));

    g_assert_false(mig_run(&m));
    qtest_wait_qemu(m.dst.qts);
    standin_assert_clean_exit(m.dst.host);
    qtest_quit(m.dst.qts);
    m.dst.qts = NULL;
    /* the source goes on, running again */
    for (int i = 0; i < 1000; i++) {
        QDict *r = qtest_qmp_assert_success_ref(m.src.qts,
                                                "{'execute': 'query-status'}");
        bool running = qdict_get_bool(r, "running");

        qobject_unref(r);
        if (running) {
            break;
        }
        g_usleep(1000);
    }
    cg_submit_ok(&m.src, 0, CMD_TLBI_NH_ASID(2));
    cg_submit_ok(&m.src, 1, CMD_TLBI_NH_ASID(3));
    mig_stop(&m);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    qtest_add_func("/qac-migration/emulated-phase", test_emulated_phase);
    qtest_add_func("/qac-migration/emulated-host-view",
                   test_emulated_host_view);
    qtest_add_func("/qac-migration/promise-refused", test_promise_refused);
    return g_test_run();
}
