/*
 * VFIO migration v2 of a function with `migration = ...` (INTERFACE.md
 * "VFIO migration"): the features of drivers/vfio/vfio_main.c, the state
 * machine of vfio_mig_get_next_state() stepped as a variant driver steps it
 * (mlx5vf_pci_set_device_state), the data fd (mlx5vf_save_read,
 * mlx5vf_precopy_ioctl, the load of hisi_acc_vf_load_state), DMA logging
 * (vfio_ioctl_device_feature_logging_*), the fault knobs and the dump.
 * Each test names the kernel function it follows.
 * Host: configs/migration.conf (vfio0, vfio1: 10de:2342 BAR0 1M BAR2 64K,
 * every flag; vfio2: 10de:2343 BAR0 64K; vfio3: no migration; vfio4:
 * STOP_COPY; vfio5: STOP_COPY|P2P; vfio6: STOP_COPY|PRE_COPY).
 */
#include "thelp.h"

#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define ST_STOP VFIO_DEVICE_STATE_STOP
#define ST_RUNNING VFIO_DEVICE_STATE_RUNNING
#define ST_STOP_COPY VFIO_DEVICE_STATE_STOP_COPY
#define ST_RESUMING VFIO_DEVICE_STATE_RESUMING
#define ST_RUNNING_P2P VFIO_DEVICE_STATE_RUNNING_P2P
#define ST_PRE_COPY VFIO_DEVICE_STATE_PRE_COPY
#define ST_PRE_COPY_P2P VFIO_DEVICE_STATE_PRE_COPY_P2P
#define NSTATES 8
#define FEATURE_PRECOPY_INFOv2 12
#define BAR_OFF(i) ((uint64_t)(i) << 40)

#define ALL_FLAGS (VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_P2P | VFIO_MIGRATION_PRE_COPY)

static const char *const names[NSTATES] = {
    "ERROR", "STOP", "RUNNING", "STOP_COPY", "RESUMING", "RUNNING_P2P", "PRE_COPY", "PRE_COPY_P2P",
};

typedef struct {
    int fd;                 /* iommufd */
    int dev[8];
    uint32_t devid[8];
} Env;

static bool env_up(Env *e, int n, const int *idx)
{
    e->fd = t_iommufd();
    if (e->fd < 0) {
        g_test_fail();
        return false;
    }
    for (int i = 0; i < n; i++) {
        e->dev[i] = t_vfio_open(idx[i]);
        if (e->dev[i] < 0 || !T_OK(t_vfio_bind(e->dev[i], e->fd, &e->devid[i]))) {
            g_test_fail();
            return false;
        }
    }
    return true;
}

static void env_down(Env *e, int n)
{
    for (int i = 0; i < n; i++) {
        if (e->dev[i] >= 0) {
            close(e->dev[i]);
        }
    }
    close(e->fd);
}

/* VFIO_DEVICE_FEATURE with @len bytes of payload in and out; @argsz: payload size claimed */
static int feature(int dev, uint32_t flags, void *data, size_t len, size_t argsz)
{
    uint64_t buf[64] = { 0 };
    struct vfio_device_feature *f = (struct vfio_device_feature *)buf;
    int r;

    f->argsz = sizeof(*f) + argsz;
    f->flags = flags;
    if (len) {
        memcpy(f->data, data, len);
    }
    r = t_ioctl(dev, VFIO_DEVICE_FEATURE, f);
    if (len) {
        memcpy(data, f->data, len);
    }
    return r;
}

static int set_state(int dev, uint32_t state, int *data_fd)
{
    struct vfio_device_feature_mig_state ms = { .device_state = state, .data_fd = -7 };
    int r = feature(dev, VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE, &ms,
                    sizeof(ms), sizeof(ms));

    if (data_fd) {
        *data_fd = ms.data_fd;
    }
    return r;
}

static uint32_t get_state(int dev)
{
    struct vfio_device_feature_mig_state ms = { .device_state = 99, .data_fd = -7 };

    if (!T_OK(feature(dev, VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE, &ms,
                      sizeof(ms), sizeof(ms)))) {
        return 99;
    }
    g_assert_cmpint(ms.data_fd, ==, -1);
    return ms.device_state;
}

/* read the data fd to its end (read() == 0) */
static GByteArray *read_all(int fd)
{
    GByteArray *b = g_byte_array_new();
    uint8_t chunk[7000];        /* not a multiple of anything */
    ssize_t n;

    while ((n = read(fd, chunk, sizeof(chunk))) > 0) {
        g_byte_array_append(b, chunk, n);
    }
    g_assert_cmpint(n, ==, 0);
    return b;
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
    while (len) {
        ssize_t n = write(fd, p, len > 1000 ? 1000 : len);

        if (n < 0) {
            return errno;
        }
        p += n;
        len -= n;
    }
    return 0;
}

/* save a STOP_COPY stream of @dev (RUNNING -> STOP_COPY -> STOP) */
static GByteArray *save(int dev)
{
    GByteArray *b = NULL;
    int fd = -1;

    if (T_OK(set_state(dev, ST_STOP_COPY, &fd)) && fd >= 0) {
        b = read_all(fd);
        close(fd);
    }
    T_OK(set_state(dev, ST_STOP, NULL));
    return b;
}

/* RESUMING, the stream, then @to; the errno of the last SET */
static int load(int dev, const uint8_t *p, size_t len, uint32_t to)
{
    int fd = -1, r;

    if (!T_OK(set_state(dev, ST_RESUMING, &fd)) || fd < 0) {
        return -1;
    }
    T_OK(write_all(fd, p, len));
    r = set_state(dev, to, NULL);
    close(fd);
    return r;
}

static void fill_bar(int dev, int bar, uint64_t off, uint8_t v, size_t len)
{
    uint8_t *b = g_malloc(len);

    memset(b, v, len);
    g_assert_cmpint(pwrite(dev, b, len, BAR_OFF(bar) + off), ==, (ssize_t)len);
    g_free(b);
}

static uint8_t *read_bar(int dev, int bar, size_t len)
{
    uint8_t *b = g_malloc(len);

    g_assert_cmpint(pread(dev, b, len, BAR_OFF(bar)), ==, (ssize_t)len);
    return b;
}

static TJ *dump_pci(TJ *dump, const char *bdf)
{
    TJ *a = tj_get(dump, "pci");

    for (guint i = 0; i < tj_len(a); i++) {
        if (!g_strcmp0(tj_get_str(tj_at(a, i), "bdf"), bdf)) {
            return tj_at(a, i);
        }
    }
    return NULL;
}

/* ------------------------------------------------------------------ tests */

/* vfio_ioctl_device_feature_migration(): flags, GET only */
static void test_migration_feature_flags(void)
{
    static const int idx[] = { 0, 4, 5, 6 };
    static const uint32_t want[] = { ALL_FLAGS, VFIO_MIGRATION_STOP_COPY,
                                     VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_P2P,
                                     VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_PRE_COPY };
    Env e;

    if (!env_up(&e, 4, idx)) {
        return;
    }
    for (int i = 0; i < 4; i++) {
        struct vfio_device_feature_migration m = { .flags = 0xdead };

        T_OK(feature(e.dev[i], VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIGRATION, &m,
                     sizeof(m), sizeof(m)));
        g_assert_cmphex(m.flags, ==, want[i]);
    }
    T_OK(feature(e.dev[0], VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_GET |
                 VFIO_DEVICE_FEATURE_MIGRATION, NULL, 0, 0));
    /* SET is not among its ops, with or without PROBE (vfio_check_feature) */
    T_ERR(feature(e.dev[0], VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_SET |
                  VFIO_DEVICE_FEATURE_MIGRATION, NULL, 0, 0), EINVAL);
    T_ERR(feature(e.dev[0], VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_MIGRATION, NULL, 0, 8),
          EINVAL);
    /* neither GET nor SET without PROBE; a payload below the struct */
    T_ERR(feature(e.dev[0], VFIO_DEVICE_FEATURE_MIGRATION, NULL, 0, 8), EINVAL);
    T_ERR(feature(e.dev[0], VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIGRATION, NULL, 0, 7),
          EINVAL);
    env_down(&e, 4);
}

/* vfio_ioctl_device_feature(): a function without mig_ops / log_ops */
static void test_no_migration_keeps_enotty(void)
{
    static const int idx[] = { 3 };
    struct vfio_device_feature_mig_state ms = { .device_state = ST_STOP };
    struct vfio_device_feature_dma_logging_control c = { .page_size = 4096 };
    Env e;

    if (!env_up(&e, 1, idx)) {
        return;
    }
    T_ERR(feature(e.dev[0], VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_GET |
                  VFIO_DEVICE_FEATURE_MIGRATION, NULL, 0, 0), ENOTTY);
    T_ERR(feature(e.dev[0], VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE, &ms,
                  sizeof(ms), sizeof(ms)), ENOTTY);
    T_ERR(feature(e.dev[0], VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIG_DATA_SIZE, NULL, 0, 8),
          ENOTTY);
    T_ERR(feature(e.dev[0], VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_SET |
                  VFIO_DEVICE_FEATURE_DMA_LOGGING_START, &c, sizeof(c), sizeof(c)), ENOTTY);
    T_ERR(feature(e.dev[0], VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP, NULL, 0, 0),
          ENOTTY);
    T_ERR(feature(e.dev[0], VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT, NULL, 0,
                  32), ENOTTY);
    /*
     * vfio_ioctl_device_feature_migration_precopy_info_v2() sits in the
     * 7.1 core before the driver: EINVAL without PRE_COPY (7.0 here).
     */
    T_ERR(feature(e.dev[0], VFIO_DEVICE_FEATURE_SET | FEATURE_PRECOPY_INFOv2, NULL, 0, 0),
          t_kernel() >= 700 ? EINVAL : ENOTTY);
    env_down(&e, 1);
}

/* vfio_ioctl_device_feature_mig_device_state(): sizes, GET, bad states */
static void test_mig_state_feature_checks(void)
{
    static const int idx[] = { 0 };
    struct vfio_device_feature_mig_state ms;
    Env e;

    if (!env_up(&e, 1, idx)) {
        return;
    }
    /* mlx5vf_pci_open_device(): RUNNING once opened */
    g_assert_cmpuint(get_state(e.dev[0]), ==, ST_RUNNING);
    ms = (struct vfio_device_feature_mig_state){ .device_state = ST_STOP };
    T_ERR(feature(e.dev[0], VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE, &ms,
                  sizeof(ms), sizeof(ms) - 1), EINVAL);
    T_OK(feature(e.dev[0], VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_SET |
                 VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE, NULL, 0, 0));
    T_ERR(feature(e.dev[0], VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE, &ms, sizeof(ms), sizeof(ms)),
          EINVAL);
    g_assert_cmpuint(get_state(e.dev[0]), ==, ST_RUNNING);
    /* ERROR and unknown states are refused, data_fd -1 written back */
    for (uint32_t s = 0; s < 12; s += (s == 0 ? 8 : 1)) {
        int fd = 5;

        T_ERR(set_state(e.dev[0], s, &fd), EINVAL);
        g_assert_cmpint(fd, ==, -1);
    }
    /* the same state: nothing to do */
    {
        int fd = 5;

        T_OK(set_state(e.dev[0], ST_RUNNING, &fd));
        g_assert_cmpint(fd, ==, -1);
    }
    env_down(&e, 1);
}

/* the test's copy of vfio_mig_get_next_state()'s table (drivers/vfio/vfio_main.c) */
static int next_state(uint32_t flags, uint32_t cur, uint32_t new, uint32_t *next)
{
    enum { S = 1, R = 2, SC = 3, RS = 4, RP = 5, PC = 6, PP = 7, E = 0 };
    static const uint8_t t[NSTATES][NSTATES] = {
        [S] = { [S] = S, [R] = RP, [PC] = RP, [PP] = RP, [SC] = SC, [RS] = RS, [RP] = RP, [E] = E },
        [R] = { [S] = RP, [R] = R, [PC] = PC, [PP] = RP, [SC] = RP, [RS] = RP, [RP] = RP, [E] = E },
        [PC] = { [S] = R, [R] = R, [PC] = PC, [PP] = PP, [SC] = PP, [RS] = R, [RP] = R, [E] = E },
        [PP] = { [S] = RP, [R] = RP, [PC] = PC, [PP] = PP, [SC] = SC, [RS] = RP, [RP] = RP, [E] = E },
        [SC] = { [S] = S, [R] = S, [PC] = E, [PP] = E, [SC] = SC, [RS] = S, [RP] = S, [E] = E },
        [RS] = { [S] = S, [R] = S, [PC] = S, [PP] = S, [SC] = S, [RS] = RS, [RP] = S, [E] = E },
        [RP] = { [S] = S, [R] = R, [PC] = R, [PP] = PP, [SC] = S, [RS] = S, [RP] = RP, [E] = E },
        [E] = { E, E, E, E, E, E, E, E },
    };
    static const uint32_t need[NSTATES] = {
        [E] = ~0u, [S] = 1, [R] = 1, [SC] = 1, [RS] = 1, [RP] = 1 | 2, [PC] = 1 | 4, [PP] = 1 | 2 | 4,
    };

    if (new >= NSTATES || (need[new] & flags) != need[new]) {
        return EINVAL;
    }
    *next = t[cur][new];
    while (*next != E && (need[*next] & flags) != need[*next]) {
        *next = t[*next][new];
    }
    return *next != E ? 0 : EINVAL;
}

static bool supported(uint32_t flags, uint32_t s)
{
    uint32_t n;

    return s && next_state(flags, s, s, &n) == 0;
}

/*
 * Every (current, requested) pair of vfio_mig_get_next_state(), stepped as
 * mlx5vf_pci_set_device_state() steps it, on each flag set: a valid one
 * ends in the requested state with a data fd exactly when its last arc
 * opens a session; an invalid one (ERROR, unknown, an unsupported optional
 * state, STOP_COPY -> PRE_COPY*) is EINVAL and leaves the state alone.
 */
static void test_fsm_every_arc(void)
{
    static const int idx[] = { 0, 4, 5, 6 };
    static const uint32_t flags[] = { ALL_FLAGS, VFIO_MIGRATION_STOP_COPY,
                                      VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_P2P,
                                      VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_PRE_COPY };
    GByteArray *image[4];
    Env e;
    int checked = 0;

    if (!env_up(&e, 4, idx)) {
        return;
    }
    /* a valid stream of each function, to leave RESUMING through STOP */
    for (int d = 0; d < 4; d++) {
        image[d] = save(e.dev[d]);
        T_REQUIRE(image[d]);
    }
    for (int d = 0; d < 4; d++) {
        for (uint32_t cur = 1; cur < NSTATES; cur++) {
            if (!supported(flags[d], cur)) {
                continue;
            }
            for (uint32_t new = 0; new <= NSTATES; new++) {
                uint32_t next, last_from = cur, s;
                int fd = -5, want, got;
                bool want_fd = false;

                T_OK(t_ioctl(e.dev[d], VFIO_DEVICE_RESET, NULL));
                g_assert_cmpuint(get_state(e.dev[d]), ==, ST_RUNNING);
                T_OK(set_state(e.dev[d], cur, &fd));
                if (fd >= 0) {
                    if (cur == ST_RESUMING) {
                        T_OK(write_all(fd, image[d]->data, image[d]->len));
                    }
                    close(fd);
                }
                g_assert_cmpuint(get_state(e.dev[d]), ==, cur);
                /* the oracle: walk the table */
                want = 0;
                for (s = cur; s != new;) {
                    want = next_state(flags[d], s, new, &next);
                    if (want) {
                        break;
                    }
                    last_from = s;
                    s = next;
                }
                if (!want && new != cur) {
                    want_fd = (last_from == ST_STOP && (new == ST_STOP_COPY || new == ST_RESUMING)) ||
                              (last_from == ST_RUNNING && new == ST_PRE_COPY) ||
                              (last_from == ST_RUNNING_P2P && new == ST_PRE_COPY_P2P);
                }
                fd = -5;
                got = set_state(e.dev[d], new, &fd);
                if (got != want || (fd >= 0) != want_fd) {
                    g_test_message("flags 0x%x: %s -> %s (%u): got %s fd %d, want %s%s", flags[d],
                                   names[cur], new < NSTATES ? names[new] : "?", new, t_errname(got), fd,
                                   t_errname(want), want_fd ? " and a data fd" : "");
                    g_test_fail();
                }
                g_assert_cmpuint(get_state(e.dev[d]), ==, want ? cur : new);
                if (fd >= 0) {
                    close(fd);
                }
                checked++;
            }
        }
    }
    g_assert_cmpint(checked, ==, 9 * (7 + 4 + 5 + 5));
    for (int d = 0; d < 4; d++) {
        g_byte_array_unref(image[d]);
    }
    env_down(&e, 4);
}

/* the arcs a combination transition steps through, as the dump's arc_log shows them */
static void check_arcs(const char *bdf, const char *const *want, int n)
{
    TJ *j = t_dump(), *p = dump_pci(j, bdf), *log = tj_get(p, "arc_log");
    guint len = tj_len(log);

    g_assert_cmpuint(len, >=, (guint)n);
    for (int i = 0; i < n && len >= (guint)n; i++) {
        g_assert_cmpstr(tj_str(tj_at(log, len - n + i)), ==, want[i]);
    }
    tj_free(j);
}

/* vfio_mig_get_next_state(): the shortest path, no saving state inside it */
static void test_fsm_combination_paths(void)
{
    static const int idx[] = { 0, 4 };
    static const char *const full[] = { "RUNNING>RUNNING_P2P", "RUNNING_P2P>STOP", "STOP>STOP_COPY" };
    static const char *const plain[] = { "RUNNING>STOP", "STOP>STOP_COPY" };
    static const char *const pre[] = { "PRE_COPY>PRE_COPY_P2P", "PRE_COPY_P2P>STOP_COPY" };
    static const char *const back[] = { "STOP_COPY>STOP", "STOP>RUNNING_P2P", "RUNNING_P2P>RUNNING" };
    Env e;
    int fd;

    if (!env_up(&e, 2, idx)) {
        return;
    }
    T_OK(set_state(e.dev[0], ST_STOP_COPY, &fd));
    close(fd);
    check_arcs("0000:01:00.0", full, 3);
    T_OK(set_state(e.dev[0], ST_RUNNING, &fd));
    g_assert_cmpint(fd, ==, -1);
    check_arcs("0000:01:00.0", back, 3);
    /* without P2P the optional states are skipped over */
    T_OK(set_state(e.dev[1], ST_STOP_COPY, &fd));
    close(fd);
    check_arcs("0000:04:00.0", plain, 2);
    /* the PRE_COPY session continues into STOP_COPY: no new fd */
    T_OK(set_state(e.dev[0], ST_PRE_COPY, &fd));
    g_assert_cmpint(fd, >=, 0);
    {
        int fd2 = 5;

        T_OK(set_state(e.dev[0], ST_STOP_COPY, &fd2));
        g_assert_cmpint(fd2, ==, -1);
    }
    check_arcs("0000:01:00.0", pre, 2);
    close(fd);
    env_down(&e, 2);
}

/*
 * mlx5vf_save_read() / hisi_acc_vf_load_state(): save from one function,
 * resume into another of the same kind, the BARs and config space follow.
 */
static void test_round_trip_between_two_functions(void)
{
    static const int idx[] = { 0, 1 };
    struct vfio_device_feature_mig_data_size ds = { 0 };
    GByteArray *s;
    uint8_t *a0, *a2, *b0, *b2, cmd[2] = { 0x06, 0x04 }, got[2];
    int fd, fl;
    char c;
    Env e;

    if (!env_up(&e, 2, idx)) {
        return;
    }
    /* the source: a pattern in both BARs, some pages left zero; the command register */
    fill_bar(e.dev[0], 0, 0x3000, 0x5a, 0x2100);
    fill_bar(e.dev[0], 0, 0xf0000, 0xc3, 0x10);
    fill_bar(e.dev[0], 2, 0, 0x77, 0x10000);
    g_assert_cmpint(pwrite(e.dev[0], cmd, 2, BAR_OFF(7) + 4), ==, 2);
    /* the destination holds other things, which must not survive */
    fill_bar(e.dev[1], 0, 0, 0xee, 0x100000);
    T_OK(feature(e.dev[0], VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIG_DATA_SIZE, &ds,
                 sizeof(ds), sizeof(ds)));
    T_OK(set_state(e.dev[0], ST_STOP_COPY, &fd));
    T_REQUIRE(fd >= 0);
    /* the kernel's anon file: read-only, close-on-exec, a stream */
    fl = fcntl(fd, F_GETFL);
    g_assert_cmpint(fl & O_ACCMODE, ==, O_RDONLY);
    g_assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    g_assert_cmpint(pread(fd, &c, 1, 0), ==, -1);
    g_assert_cmpint(errno, ==, ESPIPE);
    g_assert_cmpint(write(fd, &c, 1), ==, -1);
    g_assert_cmpint(errno, ==, EBADF);
    {
        struct pollfd pfd = { .fd = fd, .events = POLLIN };

        g_assert_cmpint(poll(&pfd, 1, 0), ==, 1);
    }
    s = read_all(fd);
    /* MIG_DATA_SIZE said what STOP_COPY would give */
    g_assert_cmpuint(s->len, ==, ds.stop_copy_length);
    /* end of stream stays end of stream */
    g_assert_cmpint(read(fd, &c, 1), ==, 0);
    close(fd);
    g_assert_cmpuint(s->len, <, 0x30000);        /* zero pages are not carried */
    T_OK(set_state(e.dev[0], ST_RUNNING, NULL));

    g_assert_cmpint(load(e.dev[1], s->data, s->len, ST_RUNNING), ==, 0);
    g_assert_cmpuint(get_state(e.dev[1]), ==, ST_RUNNING);
    a0 = read_bar(e.dev[0], 0, 0x100000);
    b0 = read_bar(e.dev[1], 0, 0x100000);
    a2 = read_bar(e.dev[0], 2, 0x10000);
    b2 = read_bar(e.dev[1], 2, 0x10000);
    g_assert_true(memcmp(a0, b0, 0x100000) == 0);
    g_assert_true(memcmp(a2, b2, 0x10000) == 0);
    g_assert_cmphex(b0[0x3000], ==, 0x5a);
    g_assert_cmphex(b0[0x0], ==, 0);
    g_assert_cmpint(pread(e.dev[1], got, 2, BAR_OFF(7) + 4), ==, 2);
    g_assert_cmphex(got[0], ==, 0x06);
    g_assert_cmphex(got[1], ==, 0x04);
    g_free(a0);
    g_free(b0);
    g_free(a2);
    g_free(b2);
    g_byte_array_unref(s);
    env_down(&e, 2);
}

/*
 * hisi_acc_vf_load_state() -> vf_qm_load_data(): a stream cut short fails
 * RESUMING -> STOP with EINVAL; the state stays RESUMING, nothing loaded.
 */
static void test_truncated_stream_refused(void)
{
    static const int idx[] = { 0, 1 };
    GByteArray *s;
    uint8_t *b0;
    Env e;
    TJ *j;

    if (!env_up(&e, 2, idx)) {
        return;
    }
    fill_bar(e.dev[0], 0, 0, 0x11, 0x8000);
    fill_bar(e.dev[1], 0, 0, 0x22, 0x8000);
    s = save(e.dev[0]);
    T_REQUIRE(s && s->len > 100);
    for (size_t cut = 0; cut < 3; cut++) {
        size_t len = cut == 0 ? s->len - 1 : cut == 1 ? s->len / 2 : 10;

        T_ERR(load(e.dev[1], s->data, len, ST_RUNNING), EINVAL);
        g_assert_cmpuint(get_state(e.dev[1]), ==, ST_RESUMING);
        T_OK(t_ioctl(e.dev[1], VFIO_DEVICE_RESET, NULL));   /* "to abort, reset" */
    }
    /* an empty session is incomplete as well */
    T_ERR(load(e.dev[1], s->data, 0, ST_STOP), EINVAL);
    T_OK(t_ioctl(e.dev[1], VFIO_DEVICE_RESET, NULL));
    /* bytes after the end */
    g_byte_array_append(s, (const guint8 *)"x", 1);
    T_ERR(load(e.dev[1], s->data, s->len, ST_STOP), EINVAL);
    T_OK(t_ioctl(e.dev[1], VFIO_DEVICE_RESET, NULL));
    b0 = read_bar(e.dev[1], 0, 0x8000);
    g_assert_cmphex(b0[0], ==, 0x22);
    g_assert_cmphex(b0[0x7fff], ==, 0x22);
    g_free(b0);
    j = t_dump();
    g_assert_cmpint(tj_get_int(dump_pci(j, "0000:01:00.1"), "load_errors", -1), >=, 5);
    tj_free(j);
    /* the whole stream still loads */
    T_OK(load(e.dev[1], s->data, s->len - 1, ST_STOP));
    b0 = read_bar(e.dev[1], 0, 0x8000);
    g_assert_cmphex(b0[0x4000], ==, 0x11);
    g_free(b0);
    g_byte_array_unref(s);
    env_down(&e, 2);
}

/* vf_qm_check_match(): a stream of another kind of function is refused */
static void test_wrong_device_refused(void)
{
    static const int idx[] = { 0, 2, 4 };
    GByteArray *other, *mine;
    Env e;

    if (!env_up(&e, 3, idx)) {
        return;
    }
    /* a small state (the BARs keep what earlier tests wrote) */
    fill_bar(e.dev[0], 0, 0, 0, 0x100000);
    fill_bar(e.dev[0], 2, 0, 0, 0x10000);
    other = save(e.dev[1]);          /* 10de:2343, BAR0 64K */
    mine = save(e.dev[0]);
    T_REQUIRE(other && mine);
    T_OK(set_state(e.dev[0], ST_RUNNING, NULL));
    T_ERR(load(e.dev[0], other->data, other->len, ST_RUNNING), EINVAL);
    g_assert_cmpuint(get_state(e.dev[0]), ==, ST_RESUMING);
    T_OK(t_ioctl(e.dev[0], VFIO_DEVICE_RESET, NULL));
    /* same ids (10de:2342 by default), other BAR sizes: another kind too */
    T_OK(set_state(e.dev[1], ST_RUNNING, NULL));
    T_ERR(load(e.dev[2], mine->data, mine->len, ST_STOP), EINVAL);
    /* and the other way round */
    T_ERR(load(e.dev[1], mine->data, mine->len, ST_STOP), EINVAL);
    g_byte_array_unref(other);
    g_byte_array_unref(mine);
    env_down(&e, 3);
}

/*
 * mlx5vf_precopy_ioctl() / mlx5vf_save_read() in PRE_COPY: the initial
 * bytes, ENOMSG at the temporary end, the rest in STOP_COPY; what the
 * device changed meanwhile reaches the destination.
 */
static void test_precopy_session(void)
{
    static const int idx[] = { 0, 1 };
    struct vfio_precopy_info info;
    GByteArray *s = g_byte_array_new(), *rest;
    uint8_t buf[4096], *b0;
    int fd, rfd = -1;
    ssize_t n;
    Env e;

    if (!env_up(&e, 2, idx)) {
        return;
    }
    fill_bar(e.dev[0], 0, 0, 0x31, 0x4000);
    T_OK(set_state(e.dev[0], ST_PRE_COPY, &fd));
    T_REQUIRE(fd >= 0);
    info = (struct vfio_precopy_info){ .argsz = sizeof(info) };
    T_OK(t_ioctl(fd, VFIO_MIG_GET_PRECOPY_INFO, &info));
    g_assert_cmpuint(info.initial_bytes, >, 0x4000);
    g_assert_cmpuint(info.dirty_bytes, ==, 0);
    info.argsz = sizeof(info) - 1;
    T_ERR(t_ioctl(fd, VFIO_MIG_GET_PRECOPY_INFO, &info), EINVAL);
    T_ERR(t_ioctl(fd, VFIO_DEVICE_GET_INFO, &info), ENOTTY);
    /* not a device ioctl */
    T_ERR(t_ioctl(e.dev[0], VFIO_MIG_GET_PRECOPY_INFO, &info), ENOTTY);
    /* read part of it: initial_bytes counts down */
    g_assert_cmpint(read(fd, buf, 100), ==, 100);
    g_byte_array_append(s, buf, 100);
    {
        uint64_t before;

        info = (struct vfio_precopy_info){ .argsz = sizeof(info) };
        T_OK(t_ioctl(fd, VFIO_MIG_GET_PRECOPY_INFO, &info));
        before = info.initial_bytes;
        while ((n = read(fd, buf, sizeof(buf))) > 0) {
            g_byte_array_append(s, buf, n);
        }
        g_assert_cmpint(n, ==, -1);
        g_assert_cmpint(errno, ==, ENOMSG);               /* temporary end of stream */
        g_assert_cmpuint(s->len, ==, before + 100);
    }
    info = (struct vfio_precopy_info){ .argsz = sizeof(info) };
    T_OK(t_ioctl(fd, VFIO_MIG_GET_PRECOPY_INFO, &info));
    g_assert_cmpuint(info.initial_bytes, ==, 0);
    g_assert_cmpuint(info.dirty_bytes, ==, 0);
    /* the device runs on: it changes after the initial bytes went */
    fill_bar(e.dev[0], 0, 0x2000, 0x32, 0x1000);
    fill_bar(e.dev[0], 0, 0x80000, 0x33, 0x1000);
    T_OK(set_state(e.dev[0], ST_PRE_COPY_P2P, NULL));
    T_OK(t_ioctl(fd, VFIO_MIG_GET_PRECOPY_INFO, &info));
    T_OK(set_state(e.dev[0], ST_STOP_COPY, NULL));
    /* valid only in the PRE_COPY states */
    T_ERR(t_ioctl(fd, VFIO_MIG_GET_PRECOPY_INFO, &info), EINVAL);
    rest = read_all(fd);
    g_assert_cmpuint(rest->len, >, 0);
    g_byte_array_append(s, rest->data, rest->len);
    close(fd);
    T_OK(set_state(e.dev[0], ST_STOP, NULL));
    /* the resuming file has no ioctl */
    T_OK(set_state(e.dev[1], ST_RESUMING, &rfd));
    T_ERR(t_ioctl(rfd, VFIO_MIG_GET_PRECOPY_INFO, &info), ENOTTY);
    g_assert_cmpint(fcntl(rfd, F_GETFL) & O_ACCMODE, ==, O_WRONLY);
    g_assert_cmpint(read(rfd, buf, 1), ==, -1);
    g_assert_cmpint(errno, ==, EBADF);
    T_OK(write_all(rfd, s->data, s->len));
    T_OK(set_state(e.dev[1], ST_RUNNING, NULL));
    close(rfd);
    b0 = read_bar(e.dev[1], 0, 0x100000);
    g_assert_cmphex(b0[0], ==, 0x31);
    g_assert_cmphex(b0[0x2000], ==, 0x32);
    g_assert_cmphex(b0[0x3fff], ==, 0x31);
    g_assert_cmphex(b0[0x80000], ==, 0x33);
    g_free(b0);
    g_byte_array_unref(rest);
    g_byte_array_unref(s);
    env_down(&e, 2);
}

/*
 * vfio_ioctl_device_feature_migration_precopy_info_v2() (the 7.1 core,
 * modelled on 7.0) and vfio_check_precopy_ioctl(): after the opt-in
 * VFIO_MIG_GET_PRECOPY_INFO's flags are an output (0: no REINIT), before it
 * they come back as given; the opt-in ends with the last close
 * (vfio_df_device_last_close).
 */
static void test_precopy_info_v2(void)
{
    static const int idx[] = { 0, 4 };
    struct vfio_precopy_info info;
    int fd;
    Env e;

    if (t_kernel() < 700) {
        g_test_skip("MIG_PRECOPY_INFOv2 is modelled on 7.0 only");
        return;
    }
    if (!env_up(&e, 2, idx)) {
        return;
    }
    T_ERR(feature(e.dev[1], VFIO_DEVICE_FEATURE_SET | FEATURE_PRECOPY_INFOv2, NULL, 0, 0), EINVAL);
    T_ERR(feature(e.dev[0], VFIO_DEVICE_FEATURE_GET | FEATURE_PRECOPY_INFOv2, NULL, 0, 0), EINVAL);
    T_OK(feature(e.dev[0], VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_SET |
                 FEATURE_PRECOPY_INFOv2, NULL, 0, 0));
    /* v1: flags reserved, given back as they came */
    T_OK(set_state(e.dev[0], ST_PRE_COPY, &fd));
    info = (struct vfio_precopy_info){ .argsz = sizeof(info), .flags = 0x80 };
    T_OK(t_ioctl(fd, VFIO_MIG_GET_PRECOPY_INFO, &info));
    g_assert_cmphex(info.flags, ==, 0x80);
    T_OK(feature(e.dev[0], VFIO_DEVICE_FEATURE_SET | FEATURE_PRECOPY_INFOv2, NULL, 0, 0));
    info = (struct vfio_precopy_info){ .argsz = sizeof(info), .flags = 0x80 };
    T_OK(t_ioctl(fd, VFIO_MIG_GET_PRECOPY_INFO, &info));
    g_assert_cmphex(info.flags, ==, 0);
    close(fd);
    T_OK(set_state(e.dev[0], ST_RUNNING, NULL));
    /* closed and opened again: v1 */
    close(e.dev[0]);
    e.dev[0] = t_vfio_open(0);
    T_OK(t_vfio_bind(e.dev[0], e.fd, &e.devid[0]));
    T_OK(set_state(e.dev[0], ST_PRE_COPY, &fd));
    info = (struct vfio_precopy_info){ .argsz = sizeof(info), .flags = 0x80 };
    T_OK(t_ioctl(fd, VFIO_MIG_GET_PRECOPY_INFO, &info));
    g_assert_cmphex(info.flags, ==, 0x80);
    close(fd);
    env_down(&e, 2);
}

/*
 * mlx5vf_disable_fds(): leaving the session, a reset
 * (mlx5vf_pci_aer_reset_done) and closing the device
 * (mlx5vf_cmd_close_migratable) disable the data file: ENODEV, while the
 * fd itself stays open until the user closes it (it holds no reference on
 * the device: the device is closed and can be opened again).
 */
static void test_data_fd_disabled(void)
{
    static const int idx[] = { 0 };
    char c;
    int fd, fd2, dev;
    uint32_t id;
    Env e;
    TJ *j;

    if (!env_up(&e, 1, idx)) {
        return;
    }
    T_OK(set_state(e.dev[0], ST_STOP_COPY, &fd));
    T_OK(set_state(e.dev[0], ST_STOP, NULL));
    g_assert_cmpint(read(fd, &c, 1), ==, -1);
    g_assert_cmpint(errno, ==, ENODEV);
    close(fd);
    /* a reset: RUNNING, the session gone */
    T_OK(set_state(e.dev[0], ST_RESUMING, &fd));
    T_OK(t_ioctl(e.dev[0], VFIO_DEVICE_RESET, NULL));
    g_assert_cmpuint(get_state(e.dev[0]), ==, ST_RUNNING);
    g_assert_cmpint(write(fd, &c, 1), ==, -1);
    g_assert_cmpint(errno, ==, ENODEV);
    close(fd);
    /* the device closed under an open data fd */
    T_OK(set_state(e.dev[0], ST_STOP_COPY, &fd));
    fd2 = dup(fd);
    close(e.dev[0]);
    e.dev[0] = -1;
    g_assert_cmpint(read(fd, &c, 1), ==, -1);
    g_assert_cmpint(errno, ==, ENODEV);
    j = t_dump();
    g_assert_cmpint(tj_get_int(dump_pci(j, "0000:01:00.0"), "data_fds_open", -1), ==, 1);
    g_assert_false(tj_get_bool(dump_pci(j, "0000:01:00.0"), "saving", true));
    tj_free(j);
    close(fd);
    g_assert_cmpint(read(fd2, &c, 1), ==, -1);          /* a dup shares the file */
    g_assert_cmpint(errno, ==, ENODEV);
    close(fd2);
    j = t_dump();
    g_assert_cmpint(tj_get_int(dump_pci(j, "0000:01:00.0"), "data_fds_open", -1), ==, 0);
    tj_free(j);
    /* opened again: RUNNING (mlx5vf_pci_open_device) */
    dev = t_vfio_open(0);
    T_OK(t_vfio_bind(dev, e.fd, &id));
    g_assert_cmpuint(get_state(dev), ==, ST_RUNNING);
    close(dev);
    env_down(&e, 1);
}

static int log_start(int dev, uint64_t *page_size, const struct vfio_device_feature_dma_logging_range *r,
                     uint32_t n, uint32_t flags)
{
    struct vfio_device_feature_dma_logging_control c = {
        .page_size = *page_size, .num_ranges = n, .ranges = (uintptr_t)r,
    };
    int ret = feature(dev, flags | VFIO_DEVICE_FEATURE_DMA_LOGGING_START, &c, sizeof(c), sizeof(c));

    *page_size = c.page_size;
    return ret;
}

static int log_report(int dev, uint64_t iova, uint64_t len, uint64_t page_size, void *bitmap)
{
    struct vfio_device_feature_dma_logging_report rep = {
        .iova = iova, .length = len, .page_size = page_size, .bitmap = (uintptr_t)bitmap,
    };

    return feature(dev, VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT, &rep,
                   sizeof(rep), sizeof(rep));
}

/*
 * vfio_ioctl_device_feature_logging_start(), _report(), _stop(), with the
 * driver's part as mlx5vf_start_page_tracker() / _tracker_read_and_clear()
 * / _stop_page_tracker() do it.
 */
static void test_dma_logging(void)
{
    static const int idx[] = { 0 };
    struct vfio_device_feature_dma_logging_range r[3], *many;
    uint64_t ps, bitmap[8];
    Env e;
    TJ *j;

    if (!env_up(&e, 1, idx)) {
        return;
    }
    ps = 4096;
    T_OK(log_start(e.dev[0], &ps, NULL, 0, VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_SET));
    T_ERR(log_start(e.dev[0], &ps, NULL, 0, VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_GET),
          EINVAL);
    /* no range; more than a page of them (LOG_MAX_RANGES: 4096 / 16) */
    T_ERR(log_start(e.dev[0], &ps, r, 0, VFIO_DEVICE_FEATURE_SET), EINVAL);
    many = g_new0(struct vfio_device_feature_dma_logging_range, 257);
    for (int i = 0; i < 257; i++) {
        many[i].iova = (uint64_t)i << 20;
        many[i].length = 4096;
    }
    T_ERR(log_start(e.dev[0], &ps, many, 257, VFIO_DEVICE_FEATURE_SET), E2BIG);
    T_OK(log_start(e.dev[0], &ps, many, 256, VFIO_DEVICE_FEATURE_SET));
    T_OK(feature(e.dev[0], VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP, NULL, 0, 0));
    g_free(many);
    /* a bad ranges pointer */
    T_ERR(log_start(e.dev[0], &ps, (void *)8, 1, VFIO_DEVICE_FEATURE_SET), EFAULT);
    /* iova or length not aligned to page_size */
    r[0] = (struct vfio_device_feature_dma_logging_range){ 0x1000, 0x3000 };
    ps = 0x2000;
    T_ERR(log_start(e.dev[0], &ps, r, 1, VFIO_DEVICE_FEATURE_SET), EINVAL);
    r[0] = (struct vfio_device_feature_dma_logging_range){ 0x2000, 0x3000 };
    T_ERR(log_start(e.dev[0], &ps, r, 1, VFIO_DEVICE_FEATURE_SET), EINVAL);
    /* iova + length overflows */
    ps = 4096;
    r[0] = (struct vfio_device_feature_dma_logging_range){ 0xfffffffffffff000ull, 0x2000 };
    T_ERR(log_start(e.dev[0], &ps, r, 1, VFIO_DEVICE_FEATURE_SET), EOVERFLOW);
    /* overlapping ranges, in either order */
    r[0] = (struct vfio_device_feature_dma_logging_range){ 0x100000, 0x100000 };
    r[1] = (struct vfio_device_feature_dma_logging_range){ 0x400000, 0x1000 };
    r[2] = (struct vfio_device_feature_dma_logging_range){ 0x1ff000, 0x2000 };
    T_ERR(log_start(e.dev[0], &ps, r, 3, VFIO_DEVICE_FEATURE_SET), EINVAL);
    r[2] = (struct vfio_device_feature_dma_logging_range){ 0x0, 0x101000 };
    T_ERR(log_start(e.dev[0], &ps, r, 3, VFIO_DEVICE_FEATURE_SET), EINVAL);
    /* not started: a report fails */
    T_ERR(log_report(e.dev[0], 0x100000, 0x100000, 4096, bitmap), EINVAL);
    /* adjacent ranges are fine; a page size below the tracker's is raised to 4K */
    r[2] = (struct vfio_device_feature_dma_logging_range){ 0x0, 0x100000 };
    ps = 1;
    T_OK(log_start(e.dev[0], &ps, r, 3, VFIO_DEVICE_FEATURE_SET));
    g_assert_cmpuint(ps, ==, 4096);
    /* one tracker at a time */
    ps = 4096;
    T_ERR(log_start(e.dev[0], &ps, r, 3, VFIO_DEVICE_FEATURE_SET), EINVAL);
    j = t_dump();
    g_assert_true(tj_get_bool(dump_pci(j, "0000:01:00.0"), "dma_logging", false));
    g_assert_cmpint(tj_get_int(dump_pci(j, "0000:01:00.0"), "dma_log_ranges", -1), ==, 3);
    tj_free(j);
    /* report: page size at least 4K and a power of two; no overflow */
    T_ERR(log_report(e.dev[0], 0, 0x100000, 2048, bitmap), EINVAL);
    T_ERR(log_report(e.dev[0], 0, 0x100000, 12288, bitmap), EINVAL);
    T_ERR(log_report(e.dev[0], 0xfffffffffffff000ull, 0x2000, 4096, bitmap), EOVERFLOW);
    /* the function wrote nothing: no bit set, the bitmap untouched */
    memset(bitmap, 0, sizeof(bitmap));
    T_OK(log_report(e.dev[0], 0x100000, 0x100000, 4096, bitmap));
    for (int i = 0; i < 4; i++) {
        g_assert_cmphex(bitmap[i], ==, 0);
    }
    memset(bitmap, 0x5a, sizeof(bitmap));
    T_OK(log_report(e.dev[0], 0x0, 0x200000, 65536, bitmap));
    g_assert_cmphex(bitmap[0], ==, 0x5a5a5a5a5a5a5a5aull);
    /* stop, and stop again: both 0; then a report fails */
    T_ERR(feature(e.dev[0], VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP, NULL, 0, 0),
          EINVAL);
    T_OK(feature(e.dev[0], VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP, NULL, 0, 0));
    T_OK(feature(e.dev[0], VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP, NULL, 0, 0));
    T_ERR(log_report(e.dev[0], 0x100000, 0x100000, 4096, bitmap), EINVAL);
    j = t_dump();
    g_assert_false(tj_get_bool(dump_pci(j, "0000:01:00.0"), "dma_logging", true));
    g_assert_cmpint(tj_get_int(dump_pci(j, "0000:01:00.0"), "dma_log_reports", -1), ==, 2);
    tj_free(j);
    /* closing the device frees the tracker (mlx5vf_cmd_close_migratable) */
    ps = 4096;
    T_OK(log_start(e.dev[0], &ps, r, 1, VFIO_DEVICE_FEATURE_SET));
    close(e.dev[0]);
    e.dev[0] = -1;
    j = t_dump();
    g_assert_false(tj_get_bool(dump_pci(j, "0000:01:00.0"), "dma_logging", true));
    tj_free(j);
    env_down(&e, 1);
}

/* the fault knobs: an arc fails as a driver's step fails, the state before it kept */
static void test_fault_on_an_arc(void)
{
    static const int idx[] = { 0 };
    char *r;
    int fd = 5;
    int64_t failed;
    Env e;
    TJ *j;

    if (!env_up(&e, 1, idx)) {
        return;
    }
    j = t_dump();
    failed = tj_get_int(dump_pci(j, "0000:01:00.0"), "arcs_failed", -1);
    tj_free(j);
    T_REQUIRE(t_ctl_ok("fault mig_arc:STOP>STOP_COPY 1 EIO"));
    T_ERR(set_state(e.dev[0], ST_STOP_COPY, &fd), EIO);
    g_assert_cmpint(fd, ==, -1);
    g_assert_cmpuint(get_state(e.dev[0]), ==, ST_STOP);      /* RUNNING>RUNNING_P2P>STOP done */
    T_OK(set_state(e.dev[0], ST_STOP_COPY, &fd));           /* once only */
    g_assert_cmpint(fd, >=, 0);
    close(fd);
    /* "mig_arc": the 2nd arc from now, whichever */
    T_REQUIRE(t_ctl_ok("fault mig_arc 2 ENOMEM"));
    T_ERR(set_state(e.dev[0], ST_RUNNING, NULL), ENOMEM);
    g_assert_cmpuint(get_state(e.dev[0]), ==, ST_STOP);
    /* a read of the data fd */
    T_REQUIRE(t_ctl_ok("fault mig_data_read 1 EIO"));
    T_OK(set_state(e.dev[0], ST_STOP_COPY, &fd));
    {
        char c;

        g_assert_cmpint(read(fd, &c, 1), ==, -1);
        g_assert_cmpint(errno, ==, EIO);
        g_assert_cmpint(read(fd, &c, 1), ==, 1);
    }
    close(fd);
    T_REQUIRE(t_ctl_ok("fault-clear"));
    r = t_ctl("fault mig_arc:STOP>NOWHERE 1 EIO");
    g_assert_nonnull(r ? strstr(r, "\"ok\":false") : NULL);
    g_free(r);
    j = t_dump();
    g_assert_cmpint(tj_get_int(dump_pci(j, "0000:01:00.0"), "arcs_failed", -1), ==, failed + 2);
    tj_free(j);
    env_down(&e, 1);
}

/* the dump: per function, migration, state, arcs, bytes, logging */
static void test_dump_fields(void)
{
    static const int idx[] = { 0, 1 };
    GByteArray *s;
    TJ *j, *a, *b, *n;
    int64_t saved0, loaded1;
    Env e;

    if (!env_up(&e, 2, idx)) {
        return;
    }
    j = t_dump();
    saved0 = tj_get_int(dump_pci(j, "0000:01:00.0"), "bytes_saved", -1);
    loaded1 = tj_get_int(dump_pci(j, "0000:01:00.1"), "bytes_loaded", -1);
    tj_free(j);
    s = save(e.dev[0]);
    T_REQUIRE(s);
    T_OK(load(e.dev[1], s->data, s->len, ST_STOP));
    j = t_dump();
    a = dump_pci(j, "0000:01:00.0");
    b = dump_pci(j, "0000:01:00.1");
    n = dump_pci(j, "0000:03:00.0");
    T_REQUIRE(a && b && n);
    g_assert_true(tj_get_bool(a, "migration", false));
    g_assert_cmpint(tj_get_int(a, "mig_flags", -1), ==, ALL_FLAGS);
    g_assert_cmpstr(tj_get_str(a, "mig_state"), ==, "STOP");
    g_assert_cmpstr(tj_get_str(b, "mig_state"), ==, "STOP");
    g_assert_cmpint(tj_get_int(a, "arcs", -1), >=, 4);
    g_assert_cmpint(tj_get_int(a, "bytes_saved", -1), ==, saved0 + (int64_t)s->len);
    g_assert_cmpint(tj_get_int(b, "bytes_loaded", -1), ==, loaded1 + (int64_t)s->len);
    g_assert_cmpint(tj_get_int(b, "loads", -1), >=, 1);
    g_assert_false(tj_get_bool(a, "dma_logging", true));
    g_assert_false(tj_get_bool(n, "migration", true));
    g_assert_null(tj_get(n, "mig_state"));
    /* a device left in STOP with no data fd is not a leak */
    g_assert_cmpuint(tj_len(tj_get(j, "leaks")), ==, 0);
    tj_free(j);
    g_byte_array_unref(s);
    env_down(&e, 2);
}

int main(int argc, char **argv)
{
    t_init(&argc, &argv);
    g_test_add_func("/migration/feature_flags", test_migration_feature_flags);
    g_test_add_func("/migration/no_migration_keeps_enotty", test_no_migration_keeps_enotty);
    g_test_add_func("/migration/mig_state_feature_checks", test_mig_state_feature_checks);
    g_test_add_func("/migration/fsm_every_arc", test_fsm_every_arc);
    g_test_add_func("/migration/fsm_combination_paths", test_fsm_combination_paths);
    g_test_add_func("/migration/round_trip_between_two_functions",
                    test_round_trip_between_two_functions);
    g_test_add_func("/migration/truncated_stream_refused", test_truncated_stream_refused);
    g_test_add_func("/migration/wrong_device_refused", test_wrong_device_refused);
    g_test_add_func("/migration/precopy_session", test_precopy_session);
    g_test_add_func("/migration/precopy_info_v2", test_precopy_info_v2);
    g_test_add_func("/migration/data_fd_disabled", test_data_fd_disabled);
    g_test_add_func("/migration/dma_logging", test_dma_logging);
    g_test_add_func("/migration/fault_on_an_arc", test_fault_on_an_arc);
    g_test_add_func("/migration/dump_fields", test_dump_fields);
    return g_test_run();
}
