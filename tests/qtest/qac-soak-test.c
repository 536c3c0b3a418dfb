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
#include "qac-regs.h"
#include "qac-cmdqv-guest.h"

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

/* Commands of cycle @i through every queue; all of them live on the host */
static void submit_all(CmdqvGuest *g, unsigned i)
{
    QDict *d;

    for (unsigned l = 0; l < g->nr; l++) {
        cg_submit_ok(g, l, CMD_TLBI_NH_ASID((i * g->nr + l) & 0xffff));
    }
    d = standin_dump(g->host);
    assert_queues_live(g, d);
    qobject_unref(d);
}

static void report_and_check(const char *what, unsigned cycles,
                             Footprint a, Footprint b, double secs)
{
    g_test_message("soak: %u %s: RSS %ld kB -> %ld kB (%+ld kB over the "
                   "last %u), fds %d -> %d, %.1f s", cycles, what, a.rss_kb,
                   b.rss_kb, b.rss_kb - a.rss_kb, cycles - WARMUP, a.fds,
                   b.fds, secs);
    g_assert_cmpint(b.fds, ==, a.fds);
    /*
     * Under AddressSanitizer (make check-asan) freed memory waits in its
     * quarantine, so RSS measures the sanitizer; LeakSanitizer at QEMU's
     * exit judges leaks there instead.
     */
    if (!g_getenv("QAC_SANITIZED")) {
        g_assert_cmpint(b.rss_kb - a.rss_kb, <, RSS_GROWTH_MAX_KB);
    }
}

/* ---- (a) system_reset with every queue live ----------------------------- */

static void test_soak_resets(void)
{
    CmdqvGuest g;
    g_autofree char *census0 = NULL;
    Footprint warm = { 0 }, end;
    gint64 t0 = g_get_monotonic_time();
    QDict *d;

    cg_start(&g, HOST_CONF_CMDQV, NULL);

    for (unsigned i = 0; i < N_RESETS; i++) {
        g_autofree char *census = NULL;

        cg_linux_init(&g);
        submit_all(&g, i);
        if (i == WARMUP) {
            warm = footprint(g.qts);
        }

        qtest_system_reset(g.qts);
        d = standin_dump(g.host);
        g_assert_cmpint(standin_count(d, "hw_queue"), ==, 0);
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
        cg_submit_ok(&g, l, CMD_TLBI_NH_ASID(l));
    }
    end = footprint(g.qts);
    report_and_check("resets", N_RESETS, warm, end,
                     (g_get_monotonic_time() - t0) / 1e6);
    cg_stop(&g);
}

/* ---- (b) device_del / device_add of the only device, queues live -------- */

static void plug(CmdqvGuest *g)
{
    rp0_slot_power(g->qts, true);
    cg_plug(g);
}

static void unplug(CmdqvGuest *g)
{
    QDict *ev = cg_unplug(g);

    g_assert_cmpstr(qdict_get_str(qdict_get_qdict(ev, "data"), "device"),
                    ==, "dev0");
    qobject_unref(ev);
}

static void test_soak_unplug_replug(void)
{
    CmdqvGuest g;
    g_autofree char *census0 = NULL;
    Footprint warm = { 0 }, end = { 0 };
    gint64 t0 = g_get_monotonic_time();
    QDict *d;

    cg_start_hotplug(&g, HOST_CONF_CMDQV);
    plug(&g);
    cg_linux_init(&g);
    for (unsigned i = 0; i < N_REPLUGS; i++) {
        g_autofree char *census = NULL;

        /* The guest's queues resume on the new host queues, and run */
        submit_all(&g, i);
        if (i == WARMUP) {
            warm = footprint(g.qts);
        } else if (i == N_REPLUGS - 1) {
            end = footprint(g.qts);
        }

        unplug(&g);
        d = standin_dump(g.host);
        g_assert_cmpint(standin_count(d, "viommu"), ==, 0);
        g_assert_cmpint(standin_count(d, "hw_queue"), ==, 0);
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
        plug(&g);
    }
    d = standin_dump(g.host);
    g_assert_cmpint(standin_ioctl_count(d, "IOMMU_VIOMMU_ALLOC"), ==,
                    N_REPLUGS + 1);
    qobject_unref(d);
    report_and_check("unplug/replug cycles", N_REPLUGS, warm, end,
                     (g_get_monotonic_time() - t0) / 1e6);
    cg_stop(&g);
}

/* ---- (c) SIGTERM while commands flow in the VCMDQs ---------------------- */

static void test_sigterm_commands_flowing(void)
{
    for (unsigned round = 0; round < N_SIGTERMS; round++) {
        CmdqvGuest g;
        unsigned submitted = 0, n;
        QDict *d;
        pid_t pid;

        cg_start(&g, HOST_CONF_CMDQV, NULL);
        cg_linux_init(&g);
        for (unsigned l = 0; l < g.nr; l++) {
            cg_submit_ok(&g, l, CMD_TLBI_NH_ASID(l));
            submitted += 2;
        }
        /* Fill every ring (one slot kept free), then ring all doorbells */
        n = (1u << g.log2size) - 1;
        for (unsigned l = 0; l < g.nr; l++) {
            for (unsigned k = 0; k < n - 1; k++) {
                cg_cmd(&g, l, CMD_TLBI_NH_ASID(0x100 + k), 0);
            }
            cg_cmd(&g, l, CMD_SYNC, 0);
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
        g_free(g.sysfs);
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
