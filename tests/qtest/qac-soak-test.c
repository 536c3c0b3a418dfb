/*
 * Soak tests for the accelerated SMMUv3 with Tegra241 CMDQV on the
 * stand-in for the host kernel: many system resets and many unplug/replug
 * cycles of the only vfio-pci device with the guest's VCMDQs live, and a
 * SIGTERM while commands flow. QEMU must not leak host kernel objects,
 * memory or file descriptors, and must never break the kernel's destroy
 * order (the stand-in refuses a wrong order with EBUSY and records it in
 * rejected_destroys).
 *
 * QEMU's VmRSS and open fd count are sampled after a warm-up and at the
 * end and printed ("soak: ..." lines of the test log).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include <signal.h>
#include "libqtest.h"
#include "qobject/qdict.h"
#include "qobject/qlist.h"
#include "qobject/qstring.h"
#include "standin-qtest.h"

#define N_RESETS            200
#define N_REPLUGS           100
#define N_SIGTERMS          5
#define WARMUP              10      /* cycles before the first sample */

/*
 * RSS bound over the measured cycles. What a cycle allocates on QEMU's
 * side is freed at its end (mapper, shadow state, the host page's
 * MemoryRegion, the vfio device); what stays is allocator slack (glib and
 * malloc arenas keep freed chunks) and lazily touched pages (guest rings,
 * QMP and qtest buffers). A leak of one 64 KiB host page mapping or one
 * device's worth of state per cycle would add >= 64 KiB x 90..190 cycles,
 * i.e. >= 5.6 MiB; 2 MiB separates the two with margin.
 */
#define RSS_GROWTH_MAX_KB   2048

#define R_IDR1              0x4
#define IDR1_CMDQS(v)       (((v) >> 21) & 0x1f)

#define HOST_CONF_CMDQV \
    "[host]\n" \
    "page_size = 64K\n" \
    "[smmu smmu0]\n" \
    "nesting = yes\n" \
    "cmdqv = yes\n" \
    "[pci 0000:01:00.0]\n" \
    "smmu = smmu0\n" \
    "sid = 0x100\n" \
    "bar0 = 64K\n"

#define DEV_ARGS \
    "-device vfio-pci,id=dev0,bus=pcie.0,addr=2.0,iommufd=iommufd0,sysfsdev="

/* ---- the Linux driver's CMDQV sequence (linux-guest.md) ----------------- */

#define W_CONFIG            0x000
#define W_PARAM             0x004
#define W_STATUS            0x008
#define W_ALLOC_MAP(q)      (0x200 + 4 * (q))
#define W_VINTF0_CONFIG     0x1000
#define W_VINTF0_STATUS     0x1004
#define W_SID_MATCH(s)      (0x1040 + 4 * (s))
#define W_SID_REPLACE(s)    (0x1080 + 4 * (s))
#define W_P0(l)             (0x30000 + 0x80 * (l))
#define W_P1(l)             (0x40000 + 0x80 * (l))
#define Q_CONS              0x00
#define Q_PROD              0x04
#define Q_CONFIG            0x08
#define Q_STATUS            0x0c
#define Q_GERROR            0x10
#define Q_GERRORN           0x14
#define VINTF_ENABLE        1
#define VINTF_HYP_OWN       (1 << 17)
#define G_RING              0x40400000ULL   /* guest RAM, 64K per queue */

#define CMD_TLBI_NH_ASID(asid)  (0x11ULL | ((uint64_t)(asid) << 48))
#define CMD_SYNC_NONE           0x46ULL

typedef struct CmdqvGuest {
    QTestState *qts;
    StandinHost *host;
    uint64_t win;
    unsigned nr, log2size;
    uint32_t prod[4];
} CmdqvGuest;

static void cg_attach(CmdqvGuest *g)
{
    g->win = qtest_mtree_base(g->qts, "tegra241-cmdqv");
    g->log2size = IDR1_CMDQS(qtest_readl(g->qts, qtest_mtree_base(g->qts,
                                         "arm-smmuv3") + R_IDR1));
}

static uint32_t cg_rd(CmdqvGuest *g, uint64_t off)
{
    return qtest_readl(g->qts, g->win + off);
}

static void cg_wr(CmdqvGuest *g, uint64_t off, uint32_t v)
{
    qtest_writel(g->qts, g->win + off, v);
}

static uint64_t cg_ring(unsigned l)
{
    return G_RING + l * 0x10000;
}

static void cg_deinit_queue(CmdqvGuest *g, unsigned l)
{
    cg_wr(g, W_P0(l) + Q_CONFIG, 0);
    cg_wr(g, W_P0(l) + Q_PROD, 0);
    cg_wr(g, W_P0(l) + Q_CONS, 0);
    qtest_writeq(g->qts, g->win + W_P1(l), 0);
    cg_wr(g, W_P0(l) + Q_GERRORN, cg_rd(g, W_P0(l) + Q_GERROR));
    cg_wr(g, W_ALLOC_MAP(l), cg_rd(g, W_ALLOC_MAP(l)) & ~1u);
    g->prod[l] = 0;
}

static void cg_init_queue(CmdqvGuest *g, unsigned l)
{
    int i;

    cg_wr(g, W_ALLOC_MAP(l), cg_rd(g, W_ALLOC_MAP(l)) | 1);
    qtest_writeq(g->qts, g->win + W_P1(l), cg_ring(l) | g->log2size);
    cg_wr(g, W_P0(l) + Q_CONFIG, 1);
    for (i = 0; i < 1000 && !(cg_rd(g, W_P0(l) + Q_STATUS) & 1); i++) {
        g_usleep(1000);
    }
    g_assert_cmphex(cg_rd(g, W_P0(l) + Q_STATUS) & 1, ==, 1);
}

/* Steps 1 to 6: the whole init, over whatever the queues were */
static void cg_linux_init(CmdqvGuest *g)
{
    uint32_t param = cg_rd(g, W_PARAM);
    int l;

    g->nr = 1 << ((param >> 4) & 0xf);
    g_assert_cmpuint(g->nr, <=, ARRAY_SIZE(g->prod));
    cg_wr(g, W_CONFIG, 0);
    cg_wr(g, W_CONFIG, 1);
    g_assert_cmphex(cg_rd(g, W_STATUS), ==, 1);
    for (l = 0; l < g->nr; l++) {
        cg_wr(g, W_ALLOC_MAP(l), l << 1);
    }
    for (l = g->nr - 1; l >= 0; l--) {
        cg_deinit_queue(g, l);
    }
    cg_wr(g, W_VINTF0_CONFIG, 0);
    for (int s = 0; s < 16; s++) {
        cg_wr(g, W_SID_REPLACE(s), 0);
        cg_wr(g, W_SID_MATCH(s), 0);
    }
    cg_wr(g, W_VINTF0_CONFIG, VINTF_HYP_OWN | VINTF_ENABLE);
    g_assert_cmphex(cg_rd(g, W_VINTF0_CONFIG) & VINTF_HYP_OWN, ==, 0);
    g_assert_cmphex(cg_rd(g, W_VINTF0_STATUS) & 1, ==, 1);
    for (l = 0; l < g->nr; l++) {
        cg_init_queue(g, l);
    }
}

static void cg_cmd(CmdqvGuest *g, unsigned l, uint64_t w0, uint64_t w1)
{
    uint32_t mask = (1u << g->log2size) - 1;
    uint64_t a = cg_ring(l) + (g->prod[l] & mask) * 16;

    qtest_writeq(g->qts, a, w0);
    qtest_writeq(g->qts, a + 8, w1);
    g->prod[l] = (g->prod[l] + 1) & ((2u << g->log2size) - 1);
}

static uint32_t cg_kick(CmdqvGuest *g, unsigned l)
{
    uint32_t cons = 0;

    cg_wr(g, W_P0(l) + Q_PROD, g->prod[l]);
    for (int i = 0; i < 2000; i++) {
        cons = cg_rd(g, W_P0(l) + Q_CONS);
        if ((cons & 0xfffff) == g->prod[l] || (cons >> 24) & 0x7f) {
            break;
        }
        g_usleep(1000);
    }
    return cons;
}

static void cg_submit_ok(CmdqvGuest *g, unsigned l, uint16_t asid)
{
    cg_cmd(g, l, CMD_TLBI_NH_ASID(asid), 0);
    cg_cmd(g, l, CMD_SYNC_NONE, 0);
    g_assert_cmphex(cg_kick(g, l), ==, g->prod[l]);
}

/* ---- QEMU's footprint and the stand-in's objects ------------------------ */

typedef struct Footprint {
    long rss_kb;
    int fds;
} Footprint;

static Footprint footprint(QTestState *qts)
{
    pid_t pid = qtest_pid(qts);
    g_autofree char *status_path = g_strdup_printf("/proc/%d/status", pid);
    g_autofree char *fd_path = g_strdup_printf("/proc/%d/fd", pid);
    g_autofree char *status = NULL;
    Footprint f = { -1, 0 };
    GDir *dir;
    char *p;

    g_assert_cmpint(pid, >, 0);
    g_assert_true(g_file_get_contents(status_path, &status, NULL, NULL));
    p = strstr(status, "\nVmRSS:");
    g_assert_nonnull(p);
    f.rss_kb = strtol(p + strlen("\nVmRSS:"), NULL, 10);
    dir = g_dir_open(fd_path, 0, NULL);
    g_assert_nonnull(dir);
    while (g_dir_read_name(dir)) {
        f.fds++;
    }
    g_dir_close(dir);
    g_assert_cmpint(f.rss_kb, >, 0);
    return f;
}

/*
 * The live objects of the stand-in as "type:count ..." plus the vIOMMU
 * mmaps: two equal strings mean the same population.
 */
static char *object_census(QDict *d)
{
    static const char *const types[] = {
        "ioas", "hwpt_paging", "hwpt_nested", "viommu", "vdevice",
        "hw_queue", "veventq", "device",
    };
    GString *s = g_string_new(NULL);
    size_t total = qlist_size(qdict_get_qlist(d, "objects")), known = 0;

    for (int i = 0; i < ARRAY_SIZE(types); i++) {
        g_autoptr(GPtrArray) objs = standin_objects(d, types[i]);

        g_string_append_printf(s, "%s:%u ", types[i], objs->len);
        known += objs->len;
    }
    g_string_append_printf(s, "other:%zu mmaps:%zu", total - known,
                           qlist_size(qdict_get_qlist(d, "mmaps")));
    return g_string_free(s, false);
}

static unsigned count_objects(QDict *d, const char *type)
{
    g_autoptr(GPtrArray) objs = standin_objects(d, type);

    return objs->len;
}

static void assert_no_rejected_destroy(QDict *d)
{
    QList *rej = qdict_get_qlist(d, "rejected_destroys");

    if (rej && !qlist_empty(rej)) {
        g_autoptr(GString) s = qobject_to_json(QOBJECT(rej));
        g_test_message("rejected_destroys: %s", s->str);
    }
    g_assert_true(!rej || qlist_empty(rej));
}

/* Every guest queue has an enabled host HW queue */
static void assert_queues_live(CmdqvGuest *g, QDict *d)
{
    g_autoptr(GPtrArray) hwqs = standin_objects(d, "hw_queue");

    g_assert_cmpint(hwqs->len, ==, g->nr);
    for (int i = 0; i < hwqs->len; i++) {
        g_assert_true(qdict_get_bool(g_ptr_array_index(hwqs, i), "enabled"));
    }
}

static void report_and_check(const char *what, unsigned cycles,
                             Footprint a, Footprint b, double secs)
{
    g_test_message("soak: %u %s: RSS %ld kB -> %ld kB (%+ld kB over the "
                   "last %u), fds %d -> %d, %.1f s", cycles, what, a.rss_kb,
                   b.rss_kb, b.rss_kb - a.rss_kb, cycles - WARMUP, a.fds,
                   b.fds, secs);
    g_assert_cmpint(b.fds, ==, a.fds);
    g_assert_cmpint(b.rss_kb - a.rss_kb, <, RSS_GROWTH_MAX_KB);
}

/* ---- (a) system_reset with every queue live ----------------------------- */

static void test_soak_resets(void)
{
    CmdqvGuest g = { 0 };
    g_autofree char *sysfs = NULL;
    g_autofree char *args = NULL;
    g_autofree char *census0 = NULL;
    Footprint warm = { 0 }, end;
    gint64 t0 = g_get_monotonic_time();
    QDict *d;

    g.host = standin_host_new(HOST_CONF_CMDQV);
    sysfs = standin_sysfsdev(g.host, "0000:01:00.0");
    args = g_strdup_printf("-M virt -display none -nodefaults "
                           "-object iommufd,id=iommufd0 "
                           "-device arm-smmuv3,primary-bus=pcie.0,id=smmu0,"
                           "accel=on,cmdqv=on " DEV_ARGS "%s", sysfs);
    g.qts = standin_qtest_start(g.host, args);
    cg_attach(&g);

    for (unsigned i = 0; i < N_RESETS; i++) {
        g_autofree char *census = NULL;

        cg_linux_init(&g);
        for (unsigned l = 0; l < g.nr; l++) {
            cg_submit_ok(&g, l, (i * g.nr + l) & 0xffff);
        }
        d = standin_dump(g.host);
        assert_queues_live(&g, d);
        qobject_unref(d);
        if (i == WARMUP) {
            warm = footprint(g.qts);
        }

        qtest_system_reset(g.qts);
        d = standin_dump(g.host);
        g_assert_cmpint(count_objects(d, "hw_queue"), ==, 0);
        assert_no_rejected_destroy(d);
        census = object_census(d);
        if (!census0) {
            census0 = g_strdup(census);
            g_test_message("soak: objects after a reset: %s", census0);
        }
        g_assert_cmpstr(census, ==, census0);
        if (i == N_RESETS - 1) {
            g_assert_cmpint(standin_ioctl_count(d, "IOMMU_HW_QUEUE_ALLOC"),
                            ==, N_RESETS * g.nr);
        }
        qobject_unref(d);
        g_assert_cmphex(cg_rd(&g, W_CONFIG), ==, 0);
    }
    /* The same point of the cycle as the warm-up sample: queues live */
    cg_linux_init(&g);
    for (unsigned l = 0; l < g.nr; l++) {
        cg_submit_ok(&g, l, l);
    }
    end = footprint(g.qts);
    report_and_check("resets", N_RESETS, warm, end,
                     (g_get_monotonic_time() - t0) / 1e6);
    qtest_quit(g.qts);
    standin_assert_clean_exit(g.host);
    standin_host_free(g.host);
}

/* ---- (b) device_del / device_add of the only device, queues live -------- */

/* pcie-root-port rp0 at pcie.0 slot 3, through the low ECAM window */
#define ECAM_LOW        0x3f000000ULL
#define RP0_CFG         (ECAM_LOW + (0x18 << 12))

static void rp0_slot_power(QTestState *qts, bool on)
{
    uint8_t cap = qtest_readb(qts, RP0_CFG + 0x34);
    uint16_t sltctl;

    while (cap && qtest_readb(qts, RP0_CFG + cap) != 0x10 /* PCIe */) {
        cap = qtest_readb(qts, RP0_CFG + cap + 1);
    }
    g_assert_cmpint(cap, !=, 0);
    sltctl = qtest_readw(qts, RP0_CFG + cap + 0x18);
    if (on) {
        sltctl &= ~((1 << 10) | (3 << 8));
    } else {
        sltctl |= (1 << 10) | (3 << 8);
    }
    qtest_writew(qts, RP0_CFG + cap + 0x18, sltctl);
}

static void plug(CmdqvGuest *g, const char *sysfs)
{
    rp0_slot_power(g->qts, true);
    qtest_qmp_device_add(g->qts, "vfio-pci", "dev0",
                         "{'bus': 'rp0', 'iommufd': 'iommufd0',"
                         " 'sysfsdev': %s}", sysfs);
}

static void unplug(CmdqvGuest *g)
{
    QDict *ev;

    qtest_qmp_device_del_send(g->qts, "dev0");
    rp0_slot_power(g->qts, false);
    ev = qtest_qmp_eventwait_ref(g->qts, "DEVICE_DELETED");
    g_assert_cmpstr(qdict_get_str(qdict_get_qdict(ev, "data"), "device"),
                    ==, "dev0");
    qobject_unref(ev);
}

static void test_soak_unplug_replug(void)
{
    CmdqvGuest g = { 0 };
    g_autofree char *sysfs = NULL;
    g_autofree char *args = NULL;
    g_autofree char *census0 = NULL;
    Footprint warm = { 0 }, end = { 0 };
    gint64 t0 = g_get_monotonic_time();
    QDict *d;

    g.host = standin_host_new(HOST_CONF_CMDQV);
    sysfs = standin_sysfsdev(g.host, "0000:01:00.0");
    args = g_strdup_printf(
        "-M virt,highmem-ecam=off -display none -nodefaults "
        "-object iommufd,id=iommufd0 "
        "-device arm-smmuv3,primary-bus=pcie.0,id=smmu0,accel=on,ril=on,"
        "ats=off,oas=44,ssidsize=0,cmdqv=on,cmdqv-vcmdqs=2 "
        "-device pcie-root-port,id=rp0,bus=pcie.0,chassis=1,addr=3.0");
    g.qts = standin_qtest_start(g.host, args);
    cg_attach(&g);

    plug(&g, sysfs);
    cg_linux_init(&g);
    for (unsigned i = 0; i < N_REPLUGS; i++) {
        g_autofree char *census = NULL;

        /* The guest's queues resume on the new host queues, and run */
        for (unsigned l = 0; l < g.nr; l++) {
            cg_submit_ok(&g, l, (i * g.nr + l) & 0xffff);
        }
        d = standin_dump(g.host);
        assert_queues_live(&g, d);
        qobject_unref(d);
        if (i == WARMUP) {
            warm = footprint(g.qts);
        } else if (i == N_REPLUGS - 1) {
            end = footprint(g.qts);
        }

        unplug(&g);
        d = standin_dump(g.host);
        g_assert_cmpint(count_objects(d, "viommu"), ==, 0);
        g_assert_cmpint(count_objects(d, "hw_queue"), ==, 0);
        g_assert_true(qlist_empty(qdict_get_qlist(d, "mmaps")));
        assert_no_rejected_destroy(d);
        census = object_census(d);
        if (!census0) {
            census0 = g_strdup(census);
            g_test_message("soak: objects while unplugged: %s", census0);
        }
        g_assert_cmpstr(census, ==, census0);
        qobject_unref(d);
        /* What the guest sees of its queues stays */
        for (unsigned l = 0; l < g.nr; l++) {
            g_assert_cmphex(cg_rd(&g, W_P0(l) + Q_CONS), ==, g.prod[l]);
        }
        plug(&g, sysfs);
    }
    d = standin_dump(g.host);
    g_assert_cmpint(standin_ioctl_count(d, "IOMMU_VIOMMU_ALLOC"), ==,
                    N_REPLUGS + 1);
    qobject_unref(d);
    report_and_check("unplug/replug cycles", N_REPLUGS, warm, end,
                     (g_get_monotonic_time() - t0) / 1e6);
    qtest_quit(g.qts);
    standin_assert_clean_exit(g.host);
    standin_host_free(g.host);
}

/* ---- (c) SIGTERM while commands flow in the VCMDQs ---------------------- */

static void test_sigterm_commands_flowing(void)
{
    for (unsigned round = 0; round < N_SIGTERMS; round++) {
        CmdqvGuest g = { 0 };
        g_autofree char *sysfs = NULL;
        g_autofree char *args = NULL;
        unsigned submitted = 0, n;
        QDict *d;
        pid_t pid;

        g.host = standin_host_new(HOST_CONF_CMDQV);
        sysfs = standin_sysfsdev(g.host, "0000:01:00.0");
        args = g_strdup_printf("-M virt -display none -nodefaults "
                               "-object iommufd,id=iommufd0 "
                               "-device arm-smmuv3,primary-bus=pcie.0,"
                               "id=smmu0,accel=on,cmdqv=on " DEV_ARGS "%s",
                               sysfs);
        g.qts = standin_qtest_start(g.host, args);
        cg_attach(&g);
        cg_linux_init(&g);
        for (unsigned l = 0; l < g.nr; l++) {
            cg_submit_ok(&g, l, l);
            submitted += 2;
        }
        /* Fill every ring (one slot kept free), then ring all doorbells */
        n = (1u << g.log2size) - 1;
        for (unsigned l = 0; l < g.nr; l++) {
            for (unsigned k = 0; k < n - 1; k++) {
                cg_cmd(&g, l, CMD_TLBI_NH_ASID(0x100 + k), 0);
            }
            cg_cmd(&g, l, CMD_SYNC_NONE, 0);
            submitted += n;
        }
        d = standin_dump(g.host);
        assert_queues_live(&g, d);
        qobject_unref(d);
        for (unsigned l = 0; l < g.nr; l++) {
            cg_wr(&g, W_P0(l) + Q_PROD, g.prod[l]);
        }
        /* qtest_quit is SIGTERM, then waiting for a 0 exit status */
        pid = qtest_pid(g.qts);
        g_assert_cmpint(pid, >, 0);
        qtest_quit(g.qts);
        d = standin_exit_dump(g.host);
        g_test_message("soak: SIGTERM round %u: %" PRId64 " of %u commands "
                       "executed before the exit", round,
                       qdict_get_int(d, "vcmdq_executed_total"), submitted);
        g_assert_cmpint(qdict_get_int(d, "vcmdq_executed_total"), <=,
                        submitted);
        g_assert_cmpint(qdict_get_int(d, "vcmdq_executed_total"), >=,
                        2 * g.nr);
        qobject_unref(d);
        standin_assert_clean_exit(g.host);
        standin_host_free(g.host);
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    qtest_add_func("/qac-soak/standin/system-resets-live",
                   test_soak_resets);
    qtest_add_func("/qac-soak/standin/unplug-replug-live",
                   test_soak_unplug_replug);
    qtest_add_func("/qac-soak/standin/sigterm-commands-flowing",
                   test_sigterm_commands_flowing);
    return g_test_run();
}
