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
    bad = cg_queue_with_illegal(&m.src, 1);
    g_assert_cmphex(cg_kick(&m.src, 1), ==, (CERROR_ILL << 24) | bad);

    g_assert_true(mig_run(&m));
    g_assert_cmphex(cg_rd(&m.dst, W_CONFIG), ==, 1);
    g_assert_cmphex(cg_rd(&m.dst, W_P0(0) + Q_STATUS) & 1, ==, 1);
    g_assert_cmphex(cg_rd(&m.dst, W_P0(0) + Q_CONS), ==, m.dst.prod[0]);
    g_assert_cmphex(cg_rd(&m.dst, W_P0(1) + Q_CONS), ==,
                    (CERROR_ILL << 24) | bad);
    g_assert_true(cg_error_active(&m.dst, 1));
    g_assert_cmphex(cg_rd(&m.dst, W_LVCMDQ_ERR_MAP), ==, 2);

    cg_skip_err(&m.dst, 1, cg_rd(&m.dst, W_P0(1) + Q_GERROR));
    g_assert_cmphex(cg_rd(&m.dst, W_P0(1) + Q_CONS), ==, m.dst.prod[1]);
    g_assert_cmpint(cg_executed_by_qemu(&m.dst, 1), ==, 4);
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

/* ---- with a device: host HW queues on both sides ------------------------- */

/* The CMDQV host with a function that migrates (VFIO migration v2) */
#define HOST_CONF_MIG HOST_CONF_CMDQV "migration = yes\n"

/* A control request to @h that must succeed */
static void standin_ctl_ok(StandinHost *h, const char *req)
{
    QDict *r = standin_ctl(h, "%s", req);

    g_assert_true(qdict_get_try_bool(r, "ok", false));
    qobject_unref(r);
}



/* A VM with the device cold-plugged, its queues up as Linux brings them */
static void mig_start_dev(Mig *m, const char *conf_dst)
{
    mig_start(m, HOST_CONF_MIG, conf_dst, "accel=on,cmdqv=on", true);
    cg_linux_init(&m->src);
    g_assert_cmpstr(cg_page(&m->src, 0), ==, "direct");
}

/* 200 commands rung on queue 0, the host's engine held: none has run */
static void ring_200_held(Mig *m)
{
    standin_ctl_ok(m->src.host, "engine pause");
    for (unsigned i = 0; i < 199; i++) {
        cg_cmd(&m->src, 0, CMD_TLBI_NH_VA(7), 0x1000ULL * (i + 1));
    }
    cg_cmd(&m->src, 0, CMD_SYNC, 0);
    cg_wr(&m->src, W_P0(0) + Q_PROD, m->src.prod[0]);
}


/*
 * Commands pending in a VCMDQ at the switch: the source's host does not
 * run them (its engine held), so they travel as PROD/CONS and all 200 run
 * on the destination's host, once; the destination's queues are host HW
 * queues with the page direct.
 */
static void test_commands_pending(void)
{
    Mig m;
    int64_t src0;

    mig_start_dev(&m, HOST_CONF_MIG);
    src0 = cg_host_executed(&m.src);
    ring_200_held(&m);
    g_assert_true(mig_run(&m));
    cg_drain(&m.dst, 0);
    g_assert_cmpint(cg_host_executed(&m.src), ==, src0);
    g_assert_cmpint(cg_host_executed(&m.dst), ==, 200);
    g_assert_cmpstr(cg_page(&m.dst, 0), ==, "direct");
    cg_submit_ok(&m.dst, 1, CMD_TLBI_NH_ASID(3));
    g_assert_cmpint(cg_host_executed(&m.dst), ==, 202);
    standin_ctl_ok(m.src.host, "engine resume");
    mig_stop(&m);
}

/*
 * An error pending (GERROR != GERRORN) at the switch: the destination shows
 * it, holds the queue (page trapped) until the guest's handler acknowledges
 * it, then its host runs the rest: 1 command on the source, 4 there.
 */
static void test_error_pending(void)
{
    Mig m;
    uint32_t bad, cons;
    int64_t src0;

    mig_start_dev(&m, HOST_CONF_MIG);
    src0 = cg_host_executed(&m.src);
    bad = cg_queue_with_illegal(&m.src, 1);
    cg_wr(&m.src, W_P0(1) + Q_PROD, m.src.prod[1]);
    for (int i = 0; i < 2000 && !cg_error_active(&m.src, 1); i++) {
        g_usleep(1000);
    }
    cons = cg_rd(&m.src, W_P0(1) + Q_CONS);
    g_assert_cmphex(cons, ==, (CERROR_ILL << 24) | bad);

    g_assert_true(mig_run(&m));
    g_assert_cmpint(cg_host_executed(&m.src) - src0, ==, 1);
    g_assert_cmphex(cg_rd(&m.dst, W_P0(1) + Q_CONS), ==, cons);
    g_assert_true(cg_error_active(&m.dst, 1));
    g_assert_cmphex(cg_rd(&m.dst, W_LVCMDQ_ERR_MAP), ==, 2);
    g_assert_cmpstr(cg_page(&m.dst, 1), ==, "trapped");
    cg_skip_err(&m.dst, 1, cg_rd(&m.dst, W_P0(1) + Q_GERROR));
    cg_drain(&m.dst, 1);
    g_assert_cmpint(cg_host_executed(&m.dst), ==, 4);
    g_assert_cmpstr(cg_page(&m.dst, 1), ==, "direct");
    mig_stop(&m);
}

/*
 * The guest brought queue 1 up before queue 0: the destination's host
 * still gets its HW queues in ascending order, and both run there.
 */
static void test_queue1_before_queue0(void)
{
    Mig m;
    QDict *d;

    mig_start(&m, HOST_CONF_MIG, HOST_CONF_MIG, "accel=on,cmdqv=on", true);
    cg_linux_init_vintf(&m.src, true);
    cg_init_queue(&m.src, 1);
    cg_submit_ok(&m.src, 1, CMD_TLBI_NH_ASID(1));
    cg_init_queue(&m.src, 0);
    cg_submit_ok(&m.src, 0, CMD_TLBI_NH_ASID(2));
    g_assert_true(mig_run(&m));
    cg_submit_ok(&m.dst, 1, CMD_TLBI_NH_ASID(3));
    cg_submit_ok(&m.dst, 0, CMD_TLBI_NH_ASID(4));
    d = standin_dump(m.dst.host);
    g_assert_cmpint(standin_count(d, "hw_queue"), ==, 2);
    g_assert_cmpint(qdict_get_int(d, "vcmdq_executed_total"), ==, 4);
    g_assert_true(qlist_empty(qdict_get_qlist(d, "rejected_destroys")));
    qobject_unref(d);
    mig_stop(&m);
}

/*
 * The destination's host refuses a HW queue: the migration fails there
 * with the reason, that host is left clean, and the source, which had
 * stopped its queues for the switch, runs them again, pending commands
 * included.
 */
static void test_destination_refuses(void)
{
    Mig m;
    int64_t src0;

    mig_start_dev(&m, HOST_CONF_MIG "[fault]\nioctl = IOMMU_HW_QUEUE_ALLOC\n"
                  "nth = 1\nerrno = ENOMEM\n");
    qtest_set_expected_status(m.dst.qts, 1);
    src0 = cg_host_executed(&m.src);
    ring_200_held(&m);
    g_assert_false(mig_run(&m));
    qtest_wait_qemu(m.dst.qts);
    standin_assert_clean_exit(m.dst.host);
    qtest_quit(m.dst.qts);
    m.dst.qts = NULL;
    standin_ctl_ok(m.src.host, "engine resume");
    cg_drain(&m.src, 0);
    g_assert_cmpint(cg_host_executed(&m.src) - src0, ==, 200);
    cg_submit_ok(&m.src, 1, CMD_TLBI_NH_ASID(5));
    mig_stop(&m);
}

/* A cancelled migration: the source's queues go on as if nothing happened */
static void test_cancelled(void)
{
    Mig m;
    const char *st;

    mig_start_dev(&m, HOST_CONF_MIG);
    qtest_set_expected_status(m.dst.qts, 1);
    qtest_qmp_assert_success(m.src.qts, "{'execute': 'migrate-set-parameters',"
                             " 'arguments': {'max-bandwidth': 65536}}");
    qtest_qmp_assert_success(m.src.qts, "{'execute': 'migrate', "
                             "'arguments': {'uri': %s}}", m.uri);
    qtest_qmp_assert_success(m.src.qts, "{'execute': 'migrate_cancel'}");
    for (int i = 0; i < 1000; i++) {
        st = mig_status(m.src.qts);
        if (!strcmp(st, "cancelled")) {
            break;
        }
        g_usleep(1000);
    }
    g_assert_cmpstr(mig_status(m.src.qts), ==, "cancelled");
    qtest_wait_qemu(m.dst.qts);
    standin_assert_clean_exit(m.dst.host);
    qtest_quit(m.dst.qts);
    m.dst.qts = NULL;
    cg_submit_ok(&m.src, 0, CMD_TLBI_NH_ASID(6));
    cg_submit_ok(&m.src, 1, CMD_TLBI_NH_ASID(7));
    g_assert_cmpstr(cg_page(&m.src, 0), ==, "direct");
    mig_stop(&m);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    qtest_add_func("/qac-migration/emulated-phase", test_emulated_phase);
    qtest_add_func("/qac-migration/emulated-host-view",
                   test_emulated_host_view);
    qtest_add_func("/qac-migration/promise-refused", test_promise_refused);
    qtest_add_func("/qac-migration/commands-pending", test_commands_pending);
    qtest_add_func("/qac-migration/error-pending", test_error_pending);
    qtest_add_func("/qac-migration/queue1-before-queue0",
                   test_queue1_before_queue0);
    qtest_add_func("/qac-migration/destination-refuses",
                   test_destination_refuses);
    qtest_add_func("/qac-migration/cancelled", test_cancelled);
    return g_test_run();
}
