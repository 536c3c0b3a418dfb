/*
 * bench: what the stand-in costs, so that measurements of QEMU can tell it is
 * not the bottleneck.  Run under LD_PRELOAD=libstandin.so with
 * STANDIN_CONFIG=tools/bench.conf (ninja standin-bench does that):
 *   - ns per IOMMU_HWPT_INVALIDATE with 1 and 64 entries
 *   - ns per IOMMU_IOAS_MAP + IOMMU_IOAS_UNMAP of 64K
 *   - VCMDQ engine: commands/s through one queue and through all queues of
 *     all guest VINTFs, and the latency from a PROD write to the CONS update
 *     (median, p99, max), and the same latency for a command that comes
 *     after an idle spell (the engine asleep);
 *   - what an idle allocated queue costs: the engine thread's CPU time
 *     (/proc/self/task/TID/schedstat of the thread named standin-engine)
 *     over 2 x SECONDS (at least 2 s) with a queue enabled and nothing to
 *     do, from 1.5 s after the last command (its steady state), in
 *     percent of one core.
 * Options: -s SECONDS per measurement (default 1), -j for one JSON line.
 */
#include "../tests/thelp.h"

#include <dirent.h>
#include <endian.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define QLOG2 12                      /* 4096 entries, 64K a queue */
#define QLEN (16u << QLOG2)
#define MAXV 3
#define MAXQ (MAXV * 2)

static double secs = 1.0;

/* The engine's sleep count from the dump, or -1 */
static double engine_sleeps(void)
{
    TJ *d = t_dump();
    double n = d ? (double)tj_get_int(tj_get(d, "engine"), "sleeps", -1) : -1;

    tj_free(d);
    return n;
}

/* The engine thread's CPU time (ns) from its schedstat, or -1 */
static double engine_cpu_ns(void)
{
    DIR *d = opendir("/proc/self/task");
    struct dirent *de;
    double ns = -1;

    if (!d) {
        return -1;
    }
    while ((de = readdir(d))) {
        char path[300], comm[64] = "";
        FILE *f;

        snprintf(path, sizeof(path), "/proc/self/task/%s/comm", de->d_name);
        f = fopen(path, "r");
        if (!f) {
            continue;
        }
        if (!fgets(comm, sizeof(comm), f)) {
            comm[0] = 0;
        }
        fclose(f);
        if (strcmp(comm, "standin-engine\n")) {
            continue;
        }
        snprintf(path, sizeof(path), "/proc/self/task/%s/schedstat", de->d_name);
        f = fopen(path, "r");
        if (f) {
            unsigned long long run;

            if (fscanf(f, "%llu", &run) == 1) {
                ns = run;
            }
            fclose(f);
        }
        break;
    }
    closedir(d);
    return ns;
}

static double now_s(void)
{
    return t_now_ns() / 1e9;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

typedef struct {
    uint32_t id, viommu;
    volatile uint8_t *page;     /* VINTF page 0 */
    int lq;                     /* logical index */
    uint64_t *ring;
    uint32_t prod;
} BQ;

static int q_wait_cons(BQ *q, uint32_t want, int timeout_ms)
{
    uint32_t mask = (2u << QLOG2) - 1;

    return t_qreg_wait(q->page, q->lq, Q_CONS, mask, want & mask, timeout_ms, NULL) ? 0 : -1;
}

static void q_push(BQ *q, int n)
{
    uint32_t mask = (2u << QLOG2) - 1;

    for (int i = 0; i < n; i++) {
        uint32_t slot = q->prod & ((1u << QLOG2) - 1);
        uint64_t c[2];

        if (i == n - 1) {
            cmd_sync(c, 0);
        } else {
            cmd_tlbi_nh_va(c, 0, 1, (uint64_t)slot << 12);
        }
        q->ring[2 * slot] = htole64(c[0]);
        q->ring[2 * slot + 1] = htole64(c[1]);
        q->prod = (q->prod + 1) & mask;
    }
    __sync_synchronize();
    t_qreg_write(q->page, q->lq, Q_PROD, q->prod);
}

int main(int argc, char **argv)
{
    TEnv e;
    int opt, json = 0;
    uint32_t vdev, vi[MAXV], nv = 0, nq = 0;
    uint64_t cmds[64][2];
    BQ q[MAXQ];
    double t0, inv1 = 0, inv64 = 0, mapunmap = 0, one_q = 0, all_q = 0;
    double lat_med = 0, lat_p99 = 0, lat_max = 0, idle_med = 0, idle_max = 0, idle_pct = -1;
    double idle_wakeups = -1;
    uint64_t iters, ncmd;

    while ((opt = getopt(argc, argv, "s:j")) != -1) {
        if (opt == 's') {
            secs = atof(optarg);
        } else if (opt == 'j') {
            json = 1;
        } else {
            fprintf(stderr, "usage: bench [-s SECONDS] [-j]\n");
            return 64;
        }
    }
    if (!getenv("STANDIN_CONFIG")) {
        fprintf(stderr, "bench: run under LD_PRELOAD=libstandin.so with STANDIN_CONFIG set\n");
        return 64;
    }
    /* the guest RAM holds every ring: 64K each, in its own host page */
    if (!t_env_up(&e, 2, MAXQ * (size_t)QLEN, IOMMU_VIOMMU_TYPE_TEGRA241_CMDQV) ||
        t_vdevice_alloc(e.fd, e.viommu, e.devid[0], 0x10, &vdev)) {
        fprintf(stderr, "bench: set-up failed (is the stand-in preloaded?)\n");
        return 1;
    }

    /* ---- HWPT_INVALIDATE */
    for (int i = 0; i < 64; i++) {
        if (i % 2) {
            cmd_atc_inv(cmds[i], 0x10, (uint64_t)i << 12, 0);
        } else {
            cmd_tlbi_nh_va(cmds[i], 0, 1, (uint64_t)i << 12);
        }
    }
    for (int pass = 0; pass < 2; pass++) {
        uint32_t n0 = pass ? 64 : 1;

        iters = 0;
        t0 = now_s();
        do {
            for (int k = 0; k < 256; k++) {
                uint32_t n = n0;

                if (t_invalidate(e.fd, e.viommu, (const uint64_t (*)[2])cmds, &n)) {
                    fprintf(stderr, "bench: HWPT_INVALIDATE failed\n");
                    return 1;
                }
            }
            iters += 256;
        } while (now_s() - t0 < secs);
        *(pass ? &inv64 : &inv1) = (now_s() - t0) * 1e9 / iters;
    }

    /* ---- IOAS_MAP / UNMAP */
    {
        uint8_t *buf = t_alloc_aligned(0x10000, 0x10000);

        iters = 0;
        t0 = now_s();
        do {
            for (int k = 0; k < 256; k++) {
                if (t_ioas_map(e.fd, e.ioas, buf, 0x10000, 0x100000000ull,
                               IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
                                   IOMMU_IOAS_MAP_WRITEABLE) ||
                    t_ioas_unmap(e.fd, e.ioas, 0x100000000ull, 0x10000, NULL)) {
                    fprintf(stderr, "bench: IOAS_MAP/UNMAP failed\n");
                    return 1;
                }
            }
            iters += 256;
        } while (now_s() - t0 < secs);
        mapunmap = (now_s() - t0) * 1e9 / iters;
        t_free_aligned(buf, 0x10000);
    }

    /* ---- queues: every guest VINTF (vIOMMU), every logical queue */
    uint64_t voff[MAXV], vlen[MAXV];

    vi[nv] = e.viommu;
    voff[nv] = e.moff;
    vlen[nv++] = e.mlen;
    while (nv < MAXV && !t_viommu_alloc(e.fd, IOMMU_VIOMMU_TYPE_TEGRA241_CMDQV, e.devid[0], e.s2,
                                        &vi[nv], &voff[nv], &vlen[nv])) {
        nv++;
    }
    for (uint32_t v = 0; v < nv; v++) {
        uint64_t off = voff[v], len = vlen[v];
        volatile uint8_t *page;

        page = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, e.fd, off);
        if (page == MAP_FAILED) {
            fprintf(stderr, "bench: mmap VINTF page: %m\n");
            return 1;
        }
        for (int lq = 0; lq < 2 && nq < MAXQ; lq++) {
            uint32_t id;

            if (t_hwq_alloc(e.fd, vi[v], IOMMU_HW_QUEUE_TYPE_TEGRA241_CMDQV, lq,
                            T_GUEST_IOVA + nq * (uint64_t)QLEN, QLEN, &id)) {
                break;
            }
            q[nq].id = id;
            q[nq].viommu = vi[v];
            q[nq].page = page;
            q[nq].lq = lq;
            q[nq].ring = (uint64_t *)(e.mem + nq * (size_t)QLEN);
            q[nq].prod = 0;
            t_qreg_write(page, lq, Q_CONFIG, 1);
            if (!t_qreg_wait(page, lq, Q_STATUS, 1, 1, 2000, NULL)) {
                fprintf(stderr, "bench: queue never enabled\n");
                return 1;
            }
            nq++;
        }
    }
    if (!nq) {
        fprintf(stderr, "bench: no HW queue\n");
        return 1;
    }

    /* one queue: batches of 1024 commands */
    ncmd = 0;
    t0 = now_s();
    do {
        q_push(&q[0], 1024);
        if (q_wait_cons(&q[0], q[0].prod, 5000)) {
            fprintf(stderr, "bench: queue 0 stalled\n");
            return 1;
        }
        ncmd += 1024;
    } while (now_s() - t0 < secs);
    one_q = ncmd / (now_s() - t0);

    /* all queues at once */
    ncmd = 0;
    t0 = now_s();
    do {
        for (uint32_t i = 0; i < nq; i++) {
            q_push(&q[i], 1024);
        }
        for (uint32_t i = 0; i < nq; i++) {
            if (q_wait_cons(&q[i], q[i].prod, 5000)) {
                fprintf(stderr, "bench: queue %u stalled\n", i);
                return 1;
            }
        }
        ncmd += 1024ull * nq;
    } while (now_s() - t0 < secs);
    all_q = ncmd / (now_s() - t0);

    /* latency: one command, PROD write to CONS update */
    {
        enum { N = 2000 };
        static uint64_t lat[N];
        int n = 0;

        t0 = now_s();
        while (n < N && (n < 100 || now_s() - t0 < secs)) {
            uint64_t a;

            q_push(&q[0], 1);
            a = t_now_ns();
            if (q_wait_cons(&q[0], q[0].prod, 5000)) {
                fprintf(stderr, "bench: latency probe stalled\n");
                return 1;
            }
            lat[n++] = t_now_ns() - a;
        }
        qsort(lat, n, sizeof(lat[0]), cmp_u64);
        lat_med = lat[n / 2] / 1e3;
        lat_p99 = lat[(n * 99) / 100] / 1e3;
        lat_max = lat[n - 1] / 1e3;
    }

    /* an idle allocated queue: what the engine costs while nothing happens */
    {
        double idle_secs = secs < 1 ? 2 : 2 * secs, c0, c1, w0, w1;

        usleep(1500000);                 /* past the spin and the first second of quiet */
        double s0, s1;

        s0 = engine_sleeps();
        c0 = engine_cpu_ns();
        w0 = t_now_ns();
        usleep((useconds_t)(idle_secs * 1e6));
        c1 = engine_cpu_ns();
        w1 = t_now_ns();
        s1 = engine_sleeps();
        if (c0 >= 0 && c1 >= 0) {
            idle_pct = 100.0 * (c1 - c0) / (w1 - w0);
        }
        if (s0 >= 0 && s1 >= 0) {
            idle_wakeups = (s1 - s0) * 1e9 / (w1 - w0);
        }
    }

    /* one command after an idle spell (the engine asleep): PROD to CONS */
    {
        enum { N = 20 };
        uint64_t lat[N];

        for (int i = 0; i < N; i++) {
            uint64_t a;

            usleep(20000);
            q_push(&q[0], 1);
            a = t_now_ns();
            if (q_wait_cons(&q[0], q[0].prod, 5000)) {
                fprintf(stderr, "bench: a command after an idle spell stalled\n");
                return 1;
            }
            lat[i] = t_now_ns() - a;
        }
        qsort(lat, N, sizeof(lat[0]), cmp_u64);
        idle_med = lat[N / 2] / 1e3;
        idle_max = lat[N - 1] / 1e3;
    }

    if (json) {
        printf("{\"invalidate_1_ns\":%.0f,\"invalidate_64_ns\":%.0f,\"map_unmap_64k_ns\":%.0f,"
               "\"vcmdq_one_queue_cmds_per_s\":%.0f,\"vcmdq_all_queues_cmds_per_s\":%.0f,"
               "\"vcmdq_queues\":%u,\"prod_to_cons_us_median\":%.1f,"
               "\"prod_to_cons_us_p99\":%.1f,\"prod_to_cons_us_max\":%.1f,"
               "\"after_idle_us_median\":%.1f,\"after_idle_us_max\":%.1f,"
               "\"idle_queue_core_pct\":%.3f,\"idle_engine_wakeups_per_s\":%.0f}\n",
               inv1, inv64, mapunmap, one_q, all_q, nq, lat_med, lat_p99, lat_max,
               idle_med, idle_max, idle_pct, idle_wakeups);
    } else {
        printf("IOMMU_HWPT_INVALIDATE, 1 entry      %10.0f ns/ioctl\n", inv1);
        printf("IOMMU_HWPT_INVALIDATE, 64 entries   %10.0f ns/ioctl (%.0f ns/entry)\n", inv64,
               inv64 / 64);
        printf("IOMMU_IOAS_MAP + UNMAP, 64K         %10.0f ns/pair\n", mapunmap);
        printf("VCMDQ, one queue                    %10.0f commands/s\n", one_q);
        printf("VCMDQ, all %u queues (%u VINTFs)     %10.0f commands/s\n", nq, nv, all_q);
        printf("PROD write -> CONS update           %10.1f us median, %.1f us p99, %.1f us max\n",
               lat_med, lat_p99, lat_max);
        printf("  the same after 20 ms idle         %10.1f us median, %.1f us max\n", idle_med,
               idle_max);
        printf("engine, one idle allocated queue    %10.3f %% of a core (%.0f wakeups/s)\n", idle_pct,
               idle_wakeups);
    }
    /* tear down in the kernel's order so the stand-in reports no leak */
    for (int i = (int)nq - 1; i >= 0; i--) {
        t_destroy(e.fd, q[i].id);
    }
    for (uint32_t i = 0; i < nq; i++) {
        if (q[i].lq == 0) {
            munmap((void *)q[i].page, 0x10000);
        }
    }
    t_destroy(e.fd, vdev);
    for (int v = (int)nv - 1; v >= 0; v--) {
        t_destroy(e.fd, vi[v]);
    }
    t_vfio_detach(e.dev[0]);
    t_vfio_detach(e.dev[1]);
    t_destroy(e.fd, e.s2);
    t_env_down(&e);
    return 0;
}
