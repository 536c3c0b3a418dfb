/*
 * The VCMDQ engine (spec/cmdqv-hw.md "What the hardware does with a queue"),
 * driven as a guest drives it: HW queues over guest RAM mapped in the IOAS,
 * the VINTF page 0 mmapped, CONFIG.CMDQ_EN written and STATUS polled,
 * commands written into the ring, PROD bumped, CONS polled with a bounded
 * timeout; then the dump is checked for the commands executed with the
 * VINTF's VMID and the physical SIDs substituted.
 * Host: configs/cmdqv.conf (2 LVCMDQs a VINTF; vfio0 SID 0x100, vfio1 0x200).
 */
#include "thelp.h"

#include <endian.h>
#include <poll.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#define TIMEOUT_MS 2000
#define NQ 2
#define RING_STRIDE 0x1000               /* queue q's ring at guest RAM + q * 4K */
#define CONS_ERR(v) (((v) >> 24) & 0x7f)
#define GERROR_CMDQ_ERR 1u

typedef struct {
    TEnv e;
    uint32_t vdev[2];
    uint32_t q[NQ];
    unsigned log2n;                     /* entries = 1 << log2n */
    uint32_t prod[NQ];                  /* with wrap bit */
    uint32_t evq;
    int evfd;
    int64_t vmid, vintf;
    int64_t total0;                     /* vcmdq_executed_total after set-up */
    /*
     * GERROR of each queue after set-up: the global VCMDQ's, kept from any
     * earlier owner (tegra241_vcmdq_hw_init_user never resets it), so an
     * error shows as a toggle from this value
     */
    uint32_t gerror0[NQ];
} Eng;

static int64_t executed_total(void);

static uint64_t *ring(Eng *s, int q)
{
    return (uint64_t *)(s->e.mem + q * RING_STRIDE);
}

static uint32_t idx_mask(Eng *s)
{
    return (2u << s->log2n) - 1;        /* index + wrap bit */
}

/* queues allocated and enabled; @evq: with a TEGRA241 vEVENTQ */
static bool eng_up(Eng *s, unsigned log2n, bool evq)
{
    TJ *d;

    memset(s->prod, 0, sizeof(s->prod));
    s->evfd = -1;
    s->log2n = log2n;
    if (!t_env_up(&s->e, 2, 1 << 20, IOMMU_VIOMMU_TYPE_TEGRA241_CMDQV) ||
        !T_OK(t_vdevice_alloc(s->e.fd, s->e.viommu, s->e.devid[0], 0x10, &s->vdev[0])) ||
        !T_OK(t_vdevice_alloc(s->e.fd, s->e.viommu, s->e.devid[1], 0x20, &s->vdev[1]))) {
        return false;
    }
    if (evq && !T_OK(t_veventq_alloc(s->e.fd, s->e.viommu, IOMMU_VEVENTQ_TYPE_TEGRA241_CMDQV,
                                     8, &s->evq, &s->evfd))) {
        return false;
    }
    for (int q = 0; q < NQ; q++) {
        if (!T_OK(t_hwq_alloc(s->e.fd, s->e.viommu, IOMMU_HW_QUEUE_TYPE_TEGRA241_CMDQV, q,
                              T_GUEST_IOVA + q * RING_STRIDE, 16ull << log2n, &s->q[q]))) {
            return false;
        }
    }
    if (!t_env_map_page0(&s->e)) {
        return false;
    }
    d = t_dump();
    s->vmid = tj_get_int(t_dump_obj(d, s->e.viommu), "vmid", -1);
    s->vintf = tj_get_int(t_dump_obj(d, s->e.viommu), "vintf", -1);
    tj_free(d);
    s->total0 = executed_total();
    for (int q = 0; q < NQ; q++) {
        s->gerror0[q] = t_qreg_read(s->e.page0, q, Q_GERROR);
        if (t_qreg_read(s->e.page0, q, Q_GERRORN) != s->gerror0[q]) {
            g_test_message("queue %d: a new queue has GERRORN != GERROR", q);
            g_test_fail();
            return false;
        }
    }
    return true;
}

static bool eng_enable(Eng *s, int q)
{
    uint32_t st = 0;

    t_qreg_write(s->e.page0, q, Q_CONFIG, 1);
    if (!t_qreg_wait(s->e.page0, q, Q_STATUS, 1, 1, TIMEOUT_MS, &st)) {
        g_test_message("queue %d: STATUS 0x%x, CMDQ_EN_OK never set", q, st);
        g_test_fail();
        return false;
    }
    return true;
}

static void eng_down(Eng *s)
{
    if (s->evfd >= 0) {
        close(s->evfd);
    }
    t_env_down(&s->e);
}

/* write @n commands at PROD, bump PROD (no wait) */
static void eng_push(Eng *s, int q, const uint64_t (*cmds)[2], int n)
{
    uint64_t *r = ring(s, q);

    for (int i = 0; i < n; i++) {
        uint32_t slot = s->prod[q] & ((1u << s->log2n) - 1);

        r[2 * slot] = htole64(cmds[i][0]);
        r[2 * slot + 1] = htole64(cmds[i][1]);
        s->prod[q] = (s->prod[q] + 1) & idx_mask(s);
    }
    __sync_synchronize();
    t_qreg_write(s->e.page0, q, Q_PROD, s->prod[q]);
}

/* wait until CONS (index + wrap) equals PROD */
static bool eng_drain(Eng *s, int q)
{
    uint32_t cons = 0;

    if (!t_qreg_wait(s->e.page0, q, Q_CONS, idx_mask(s), s->prod[q], TIMEOUT_MS, &cons)) {
        g_test_message("queue %d: CONS 0x%x never reached PROD 0x%x", q, cons, s->prod[q]);
        g_test_fail();
        return false;
    }
    return true;
}

/* wait until CONS.ERR is set; returns CONS */
static bool eng_wait_err(Eng *s, int q, uint32_t *cons)
{
    if (!t_qreg_wait(s->e.page0, q, Q_CONS, 0x7f << 24, 1 << 24, TIMEOUT_MS, cons)) {
        g_test_message("queue %d: CONS 0x%x, CONS.ERR never became ILL", q, *cons);
        g_test_fail();
        return false;
    }
    return true;
}

static int64_t executed_total(void)
{
    TJ *d = t_dump();
    int64_t t = tj_get_int(d, "vcmdq_executed_total", -1);

    tj_free(d);
    return t;
}

/*
 * records of vcmdq_executed for @hwq executed since the total was @since
 * (hw_queue ids restart at 1 in every iommufd), CMD_SYNCs left out, newest last
 */
static GPtrArray *executed(TJ *d, uint32_t hwq, int64_t since)
{
    GPtrArray *a = g_ptr_array_new();
    TJ *ex = tj_get(d, "vcmdq_executed");
    int64_t fresh = tj_get_int(d, "vcmdq_executed_total", 0) - since;
    guint first = fresh >= (int64_t)tj_len(ex) ? 0 : tj_len(ex) - (guint)fresh;

    for (guint i = first; i < tj_len(ex); i++) {
        TJ *r = tj_at(ex, i);
        const char *op = tj_get_str(r, "op");

        if (tj_get_int(r, "hw_queue", 0) == hwq && op && strcmp(op, "CMD_SYNC")) {
            g_ptr_array_add(a, r);
        }
    }
    return a;
}

static int read_tegra_events(Eng *s, uint64_t maps[][2], uint32_t *seqs, int max)
{
    uint8_t buf[24 * 8];
    ssize_t n = read(s->evfd, buf, sizeof(buf));
    int k = 0;

    for (ssize_t off = 0; n > 0 && off + 24 <= n && k < max; off += 24, k++) {
        const struct iommufd_vevent_header *h = (const void *)(buf + off);
        const struct iommu_vevent_tegra241_cmdqv *ev = (const void *)(buf + off + 8);

        g_assert_cmphex(h->flags, ==, 0);
        seqs[k] = h->sequence;
        maps[k][0] = le64toh(ev->lvcmdq_err_map[0]);
        maps[k][1] = le64toh(ev->lvcmdq_err_map[1]);
    }
    if (n > 0 && n % 24) {
        g_test_message("vEVENTQ read %zd bytes, not whole 24-byte records", n);
        g_test_fail();
    }
    return k;
}

static bool wait_readable(int fd)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };

    return poll(&p, 1, TIMEOUT_MS) == 1 && (p.revents & POLLIN);
}

/* ------------------------------------------------------------ scenarios */

static void test_engine_enable_sets_en_ok(void)
{
    Eng s;
    uint32_t st = 0;
    TJ *d;

    if (eng_up(&s, 5, false)) {
        g_assert_cmphex(t_qreg_read(s.e.page0, 0, Q_STATUS), ==, 0);
        if (eng_enable(&s, 0)) {
            d = t_dump();
            g_assert_true(tj_get_bool(t_dump_obj(d, s.q[0]), "enabled", false));
            g_assert_true(tj_get_bool(t_dump_obj(d, s.q[0]), "en_ok", false));
            g_assert_false(tj_get_bool(t_dump_obj(d, s.q[1]), "en_ok", true));
            tj_free(d);
            g_assert_cmphex(t_qreg_read(s.e.page0, 1, Q_STATUS), ==, 0);
            /* clearing CMDQ_EN clears CMDQ_EN_OK once stopped */
            t_qreg_write(s.e.page0, 0, Q_CONFIG, 0);
            g_assert_true(t_qreg_wait(s.e.page0, 0, Q_STATUS, 1, 0, TIMEOUT_MS, &st));
        }
    }
    eng_down(&s);
}

static void test_engine_ring_runs_with_substitution(void)
{
    Eng s;
    uint64_t cmds[6][2];
    TJ *d;
    GPtrArray *ex;
    int64_t total0;

    if (!eng_up(&s, 5, false) || !eng_enable(&s, 0)) {
        eng_down(&s);
        return;
    }
    d = t_dump();
    total0 = tj_get_int(d, "vcmdq_executed_total", -1);
    tj_free(d);
    /* the guest writes garbage VMIDs: the hardware uses the VINTF's */
    cmd_tlbi_nh_va(cmds[0], 0x7777, 5, 0x12345000);
    cmd_tlbi_nh_asid(cmds[1], 0x7777, 6);
    cmd_atc_inv(cmds[2], 0x10, 0x40000, 0);
    cmd_atc_inv(cmds[3], 0x20, 0x80000, 0);
    cmd_tlbi_nh_va(cmds[4], 0, 7, 0xabc000);
    cmd_sync(cmds[5], 0);
    eng_push(&s, 0, (const uint64_t (*)[2])cmds, 6);
    if (eng_drain(&s, 0)) {
        g_assert_cmphex(CONS_ERR(t_qreg_read(s.e.page0, 0, Q_CONS)), ==, 0);
        g_assert_cmphex(t_qreg_read(s.e.page0, 0, Q_GERROR), ==, s.gerror0[0]);
        d = t_dump();
        g_assert_cmpint(tj_get_int(d, "vcmdq_executed_total", -1), >=, total0 + 5);
        g_assert_cmpint(tj_get_int(t_dump_obj(d, s.q[0]), "executed", -1), >=, 5);
        ex = executed(d, s.q[0], s.total0);
        g_assert_cmpuint(ex->len, ==, 5);
        if (ex->len == 5) {
            static const char *ops[5] = { "TLBI_NH_VA", "TLBI_NH_ASID", "ATC_INV", "ATC_INV",
                                          "TLBI_NH_VA" };
            for (int i = 0; i < 5; i++) {
                TJ *r = g_ptr_array_index(ex, i);

                g_assert_cmpstr(tj_get_str(r, "op"), ==, ops[i]);
                g_assert_cmpint(tj_get_int(r, "vintf", -1), ==, s.vintf);
                g_assert_cmpint(tj_get_int(r, "index", -1), ==, 0);
            }
            TJ *r0 = g_ptr_array_index(ex, 0), *r1 = g_ptr_array_index(ex, 1);
            TJ *r2 = g_ptr_array_index(ex, 2), *r3 = g_ptr_array_index(ex, 3);
            g_assert_cmpint(tj_get_int(r0, "vmid", -1), ==, s.vmid);
            g_assert_cmpint(tj_get_int(r0, "asid", -1), ==, 5);
            g_assert_cmphex(tj_get_int(r0, "addr", -1), ==, 0x12345000);
            g_assert_cmpint(tj_get_int(r1, "vmid", -1), ==, s.vmid);
            g_assert_cmpint(tj_get_int(r1, "asid", -1), ==, 6);
            g_assert_cmphex(tj_get_int(r2, "sid", -1), ==, 0x100);
            g_assert_cmphex(tj_get_int(r2, "addr", -1), ==, 0x40000);
            g_assert_cmphex(tj_get_int(r3, "sid", -1), ==, 0x200);
        }
        g_ptr_array_free(ex, TRUE);
        tj_free(d);
    }
    eng_down(&s);
}

static void test_engine_prod_before_enable_waits(void)
{
    Eng s;
    uint64_t cmds[2][2];
    uint32_t cons = 0;

    if (eng_up(&s, 5, false)) {
        cmd_tlbi_nh_asid(cmds[0], 0, 1);
        cmd_sync(cmds[1], 0);
        eng_push(&s, 0, (const uint64_t (*)[2])cmds, 2);
        /* not enabled: CONS must not move (a bounded wait that must time out) */
        g_assert_false(t_qreg_wait(s.e.page0, 0, Q_CONS, idx_mask(&s), s.prod[0], 200, &cons));
        g_assert_cmphex(cons & idx_mask(&s), ==, 0);
        if (eng_enable(&s, 0)) {
            eng_drain(&s, 0);
        }
    }
    eng_down(&s);
}

static void test_engine_illegal_command_stops_queue(void)
{
    Eng s;
    uint64_t cmds[4][2], maps[8][2];
    uint32_t seqs[8], cons = 0, gerror;
    int n;
    TJ *d;

    if (!eng_up(&s, 5, true) || !eng_enable(&s, 0) || !eng_enable(&s, 1)) {
        eng_down(&s);
        return;
    }
    cmd_tlbi_nh_asid(cmds[0], 0, 1);
    cmd_cfgi_cd_all(cmds[1], 0x10);        /* not accepted in a VCMDQ */
    cmd_tlbi_nh_va(cmds[2], 0, 1, 0x1000);
    cmd_sync(cmds[3], 0);
    eng_push(&s, 0, (const uint64_t (*)[2])cmds, 4);
    if (!eng_wait_err(&s, 0, &cons)) {
        eng_down(&s);
        return;
    }
    /* CONS points at the illegal command, ERR = ILL, GERROR.CMDQ_ERR toggled */
    g_assert_cmphex(cons & idx_mask(&s), ==, 1);
    g_assert_cmphex(CONS_ERR(cons), ==, 1);
    gerror = t_qreg_read(s.e.page0, 0, Q_GERROR);
    g_assert_cmphex(gerror, ==, s.gerror0[0] ^ GERROR_CMDQ_ERR);
    g_assert_cmphex(t_qreg_read(s.e.page0, 0, Q_GERRORN), ==, s.gerror0[0]);
    /* exactly one TEGRA241 vEVENTQ record with this queue's bit */
    g_assert_true(wait_readable(s.evfd));
    n = read_tegra_events(&s, maps, seqs, 8);
    g_assert_cmpint(n, ==, 1);
    if (n >= 1) {
        g_assert_cmphex(maps[0][0], ==, 1);
        g_assert_cmphex(maps[0][1], ==, 0);
        g_assert_cmpuint(seqs[0], ==, 0);
    }
    g_assert_cmpint(read(s.evfd, maps, sizeof(maps)), ==, 0);
    /* the other queue still runs */
    cmd_tlbi_nh_asid(cmds[0], 0, 9);
    eng_push(&s, 1, (const uint64_t (*)[2])cmds, 1);
    eng_drain(&s, 1);
    /* the queue stays stopped */
    g_assert_false(t_qreg_wait(s.e.page0, 0, Q_CONS, idx_mask(&s), s.prod[0], 100, &cons));
    d = t_dump();
    g_assert_cmphex(tj_get_int(t_dump_obj(d, s.q[0]), "gerror", -1), ==, gerror);
    g_assert_cmphex(tj_get_int(t_dump_obj(d, s.q[0]), "cons", -1) & idx_mask(&s), ==, 1);
    tj_free(d);
    /* the guest's handler: rewrite the command as a CMD_SYNC, GERRORN = GERROR */
    cmd_sync(cmds[0], 0);
    ring(&s, 0)[2] = htole64(cmds[0][0]);
    ring(&s, 0)[3] = htole64(cmds[0][1]);
    __sync_synchronize();
    t_qreg_write(s.e.page0, 0, Q_GERRORN, gerror);
    if (eng_drain(&s, 0)) {
        d = t_dump();
        GPtrArray *ex = executed(d, s.q[0], s.total0);
        /* TLBI_NH_ASID, then (after the CMD_SYNC) TLBI_NH_VA; CFGI_CD_ALL never ran */
        g_assert_cmpuint(ex->len, ==, 2);
        for (guint i = 0; i < ex->len; i++) {
            g_assert_cmpstr(tj_get_str(g_ptr_array_index(ex, i), "op"), !=, "CFGI_CD_ALL");
        }
        g_ptr_array_free(ex, TRUE);
        tj_free(d);
    }
    /* a second error toggles GERROR back and gives one more record */
    cmd_raw(cmds[0], OP_PREFETCH_CFG);
    eng_push(&s, 0, (const uint64_t (*)[2])cmds, 1);
    if (eng_wait_err(&s, 0, &cons)) {
        g_assert_cmphex(cons & idx_mask(&s), ==, (s.prod[0] - 1) & idx_mask(&s));
        g_assert_cmphex(t_qreg_read(s.e.page0, 0, Q_GERROR), ==, s.gerror0[0]);
        g_assert_true(wait_readable(s.evfd));
        n = read_tegra_events(&s, maps, seqs, 8);
        g_assert_cmpint(n, ==, 1);
        if (n >= 1) {
            g_assert_cmphex(maps[0][0], ==, 1);
            g_assert_cmpuint(seqs[0], ==, 1);
        }
    }
    eng_down(&s);
}

static void test_engine_error_on_queue_1_reports_bit_1(void)
{
    Eng s;
    uint64_t cmds[2][2], maps[8][2];
    uint32_t seqs[8], cons = 0;
    int n;

    if (eng_up(&s, 5, true) && eng_enable(&s, 0) && eng_enable(&s, 1)) {
        cmd_raw(cmds[0], OP_TLBI_NSNH_ALL);   /* goes to the main queue, never here */
        eng_push(&s, 1, (const uint64_t (*)[2])cmds, 1);
        if (eng_wait_err(&s, 1, &cons)) {
            g_assert_cmphex(cons & idx_mask(&s), ==, 0);
            g_assert_true(wait_readable(s.evfd));
            n = read_tegra_events(&s, maps, seqs, 8);
            g_assert_cmpint(n, ==, 1);
            if (n >= 1) {
                g_assert_cmphex(maps[0][0], ==, 2);
            }
            /* queue 0 untouched */
            g_assert_cmphex(CONS_ERR(t_qreg_read(s.e.page0, 0, Q_CONS)), ==, 0);
            g_assert_cmphex(t_qreg_read(s.e.page0, 0, Q_GERROR), ==, s.gerror0[0]);
        }
    }
    eng_down(&s);
}

static void check_illegal(uint64_t c0, uint64_t c1, const char *what)
{
    Eng s;
    uint64_t cmds[2][2];
    uint32_t cons = 0;

    g_test_message("illegal: %s", what);
    if (eng_up(&s, 5, false) && eng_enable(&s, 0)) {
        cmd_tlbi_nh_asid(cmds[0], 0, 1);
        cmds[1][0] = c0;
        cmds[1][1] = c1;
        eng_push(&s, 0, (const uint64_t (*)[2])cmds, 2);
        if (eng_wait_err(&s, 0, &cons)) {
            g_assert_cmphex(cons & idx_mask(&s), ==, 1);
            g_assert_cmphex(CONS_ERR(cons), ==, 1);
        }
    }
    eng_down(&s);
}

static void test_engine_cmd_sync_irq_or_sev_illegal(void)
{
    uint64_t c[2];

    cmd_sync(c, 1);
    check_illegal(c[0], c[1], "CMD_SYNC CS=IRQ");
    cmd_sync(c, 2);
    check_illegal(c[0], c[1], "CMD_SYNC CS=SEV");
}

/*
 * A guest-owned VINTF runs only what tegra241_guest_vcmdq_supports_cmd()
 * lets the kernel put there (TLBI_NH_ASID, TLBI_NH_VA, ATC_INV) and its
 * CMD_SYNC: TLBI_NH_ALL and TLBI_NH_VAA are illegal commands.
 */
static void test_engine_tlbi_nh_all_and_vaa_illegal(void)
{
    uint64_t c[2];

    cmd_tlbi_nh_all(c, 0x1234);
    check_illegal(c[0], c[1], "TLBI_NH_ALL");
    cmd_tlbi_nh_vaa(c, 0x1234, 0x5000);
    check_illegal(c[0], c[1], "TLBI_NH_VAA");
}

static void test_engine_atc_inv_unknown_vsid_illegal(void)
{
    uint64_t c[2];

    cmd_atc_inv(c, 0x99, 0, 0);
    check_illegal(c[0], c[1], "ATC_INV vSID 0x99");
}

static void test_engine_other_opcodes_illegal(void)
{
    static const uint8_t ops[] = { OP_CFGI_CD, OP_TLBI_S12_VMALL, OP_PRI_RESP, 0x00, 0x7f };

    for (unsigned i = 0; i < G_N_ELEMENTS(ops); i++) {
        uint64_t c[2];
        char what[32];

        cmd_raw(c, ops[i]);
        snprintf(what, sizeof(what), "opcode 0x%02x", ops[i]);
        check_illegal(c[0], c[1], what);
    }
}

static void test_engine_ring_wraps(void)
{
    Eng s;
    uint64_t cmds[20][2];
    TJ *d;
    int64_t before;

    /* 32 entries, 4 batches of 20: PROD wraps twice */
    if (!eng_up(&s, 5, false) || !eng_enable(&s, 0)) {
        eng_down(&s);
        return;
    }
    d = t_dump();
    before = tj_get_int(t_dump_obj(d, s.q[0]), "executed", -1);
    tj_free(d);
    for (int b = 0; b < 4; b++) {
        for (int i = 0; i < 19; i++) {
            cmd_tlbi_nh_va(cmds[i], 0, b, (uint64_t)(b * 100 + i) << 12);
        }
        cmd_sync(cmds[19], 0);
        eng_push(&s, 0, (const uint64_t (*)[2])cmds, 20);
        if (!eng_drain(&s, 0)) {
            break;
        }
    }
    g_assert_cmphex(s.prod[0], ==, 80 & idx_mask(&s));   /* 80 = 2 * 32 + 16: wrap bit 0 */
    g_assert_cmphex(t_qreg_read(s.e.page0, 0, Q_CONS) & idx_mask(&s), ==, 16);
    d = t_dump();
    g_assert_cmpint(tj_get_int(t_dump_obj(d, s.q[0]), "executed", -1) - before, >=, 76);
    /* the last TLBI of the last batch carries its address */
    {
        GPtrArray *ex = executed(d, s.q[0], s.total0);

        g_assert_cmpuint(ex->len, >=, 1);
        if (ex->len) {
            TJ *r = g_ptr_array_index(ex, ex->len - 1);
            g_assert_cmphex(tj_get_int(r, "addr", -1), ==, (uint64_t)(300 + 18) << 12);
            g_assert_cmpint(tj_get_int(r, "asid", -1), ==, 3);
        }
        g_ptr_array_free(ex, TRUE);
    }
    tj_free(d);
    eng_down(&s);
}

static void test_engine_vdevice_destroy_clears_sid(void)
{
    Eng s;
    uint64_t cmds[2][2];
    uint32_t cons = 0;

    if (eng_up(&s, 5, false) && eng_enable(&s, 0)) {
        cmd_atc_inv(cmds[0], 0x20, 0, 0);
        cmd_sync(cmds[1], 0);
        eng_push(&s, 0, (const uint64_t (*)[2])cmds, 2);
        eng_drain(&s, 0);
        T_OK(t_destroy(s.e.fd, s.vdev[1]));
        eng_push(&s, 0, (const uint64_t (*)[2])cmds, 2);
        if (eng_wait_err(&s, 0, &cons)) {
            g_assert_cmphex(cons & idx_mask(&s), ==, 2);
        }
    }
    eng_down(&s);
}

static void test_engine_destroy_resets_queue(void)
{
    Eng s;
    uint64_t cmds[3][2];
    uint32_t cons = 0;

    if (eng_up(&s, 5, false) && eng_enable(&s, 0) && eng_enable(&s, 1)) {
        cmd_tlbi_nh_asid(cmds[0], 0, 1);
        cmd_raw(cmds[1], 0x7f);
        eng_push(&s, 1, (const uint64_t (*)[2])cmds, 2);
        eng_wait_err(&s, 1, &cons);
        cmd_tlbi_nh_asid(cmds[0], 0, 1);
        cmd_sync(cmds[1], 0);
        eng_push(&s, 0, (const uint64_t (*)[2])cmds, 2);
        eng_drain(&s, 0);
        T_OK(t_destroy(s.e.fd, s.q[1]));
        T_OK(t_destroy(s.e.fd, s.q[0]));
        for (int q = 0; q < NQ; q++) {
            g_assert_cmphex(t_qreg_read(s.e.page0, q, Q_CONFIG), ==, 0);
            g_assert_cmphex(t_qreg_read(s.e.page0, q, Q_STATUS), ==, 0);
            g_assert_cmphex(t_qreg_read(s.e.page0, q, Q_PROD), ==, 0);
            g_assert_cmphex(t_qreg_read(s.e.page0, q, Q_CONS), ==, 0);
            g_assert_cmphex(t_qreg_read(s.e.page0, q, Q_GERRORN), ==,
                            t_qreg_read(s.e.page0, q, Q_GERROR));
        }
        /* and a new queue 0 starts clean */
        memset(s.prod, 0, sizeof(s.prod));
        T_OK(t_hwq_alloc(s.e.fd, s.e.viommu, IOMMU_HW_QUEUE_TYPE_TEGRA241_CMDQV, 0,
                         T_GUEST_IOVA, 16 << 5, &s.q[0]));
        if (eng_enable(&s, 0)) {
            eng_push(&s, 0, (const uint64_t (*)[2])cmds, 2);
            eng_drain(&s, 0);
        }
    }
    eng_down(&s);
}

static void test_engine_error_without_veventq_still_stops(void)
{
    Eng s;
    uint64_t cmds[2][2];
    uint32_t cons = 0, gerror;

    if (eng_up(&s, 5, false) && eng_enable(&s, 0)) {
        cmd_raw(cmds[0], 0x7f);
        eng_push(&s, 0, (const uint64_t (*)[2])cmds, 1);
        if (eng_wait_err(&s, 0, &cons)) {
            gerror = t_qreg_read(s.e.page0, 0, Q_GERROR);
            cmd_sync(cmds[0], 0);
            ring(&s, 0)[0] = htole64(cmds[0][0]);
            ring(&s, 0)[1] = htole64(cmds[0][1]);
            __sync_synchronize();
            t_qreg_write(s.e.page0, 0, Q_GERRORN, gerror);
            eng_drain(&s, 0);
        }
    }
    eng_down(&s);
}

static void test_engine_two_viommus_isolated(void)
{
    TEnv e;
    uint32_t vb = 0, qa = 0, qb = 0, vda = 0, vdb = 0;
    uint64_t offb = 0, lenb = 0, c[2][2];
    volatile uint8_t *pa = NULL, *pb = NULL;
    uint64_t *ra, *rb;
    uint32_t gb0;
    TJ *d;
    int64_t total0 = executed_total();

    if (!t_env_up(&e, 2, 1 << 20, IOMMU_VIOMMU_TYPE_TEGRA241_CMDQV)) {
        t_env_down(&e);
        return;
    }
    T_OK(t_viommu_alloc(e.fd, IOMMU_VIOMMU_TYPE_TEGRA241_CMDQV, e.devid[1], e.s2, &vb, &offb,
                        &lenb));
    /* the same vSID on both vIOMMUs, for different devices */
    T_OK(t_vdevice_alloc(e.fd, e.viommu, e.devid[0], 0x10, &vda));
    T_OK(t_vdevice_alloc(e.fd, vb, e.devid[1], 0x10, &vdb));
    T_OK(t_hwq_alloc(e.fd, e.viommu, IOMMU_HW_QUEUE_TYPE_TEGRA241_CMDQV, 0, T_GUEST_IOVA, 512,
                     &qa));
    T_OK(t_hwq_alloc(e.fd, vb, IOMMU_HW_QUEUE_TYPE_TEGRA241_CMDQV, 0, T_GUEST_IOVA + 0x1000,
                     512, &qb));
    T_STOP_IF_FAILED();
    if (!t_env_map_page0(&e)) {
        t_env_down(&e);
        return;
    }
    pa = e.page0;
    pb = mmap(NULL, lenb, PROT_READ | PROT_WRITE, MAP_SHARED, e.fd, offb);
    T_REQUIRE(pb != MAP_FAILED);
    gb0 = t_qreg_read(pb, 0, Q_GERROR);
    ra = (uint64_t *)e.mem;
    rb = (uint64_t *)(e.mem + 0x1000);
    t_qreg_write(pa, 0, Q_CONFIG, 1);
    t_qreg_write(pb, 0, Q_CONFIG, 1);
    g_assert_true(t_qreg_wait(pa, 0, Q_STATUS, 1, 1, TIMEOUT_MS, NULL));
    g_assert_true(t_qreg_wait(pb, 0, Q_STATUS, 1, 1, TIMEOUT_MS, NULL));
    /* A runs two commands; B's registers do not move */
    cmd_atc_inv(c[0], 0x10, 0xa000, 0);
    cmd_sync(c[1], 0);
    memcpy(ra, c, sizeof(c));
    __sync_synchronize();
    t_qreg_write(pa, 0, Q_PROD, 2);
    g_assert_true(t_qreg_wait(pa, 0, Q_CONS, 0x3f, 2, TIMEOUT_MS, NULL));
    g_assert_cmphex(t_qreg_read(pb, 0, Q_CONS), ==, 0);
    g_assert_cmphex(t_qreg_read(pb, 0, Q_PROD), ==, 0);
    /* B runs the same vSID: its own device's SID */
    cmd_atc_inv(c[0], 0x10, 0xb000, 0);
    memcpy(rb, c, sizeof(c));
    __sync_synchronize();
    t_qreg_write(pb, 0, Q_PROD, 2);
    g_assert_true(t_qreg_wait(pb, 0, Q_CONS, 0x3f, 2, TIMEOUT_MS, NULL));
    g_assert_cmphex(t_qreg_read(pa, 0, Q_CONS) & 0x3f, ==, 2);
    d = t_dump();
    {
        GPtrArray *ea = executed(d, qa, total0), *eb = executed(d, qb, total0);
        int64_t vintf_a = tj_get_int(t_dump_obj(d, e.viommu), "vintf", -1);
        int64_t vintf_b = tj_get_int(t_dump_obj(d, vb), "vintf", -1);

        g_assert_cmpint(vintf_a, !=, vintf_b);
        g_assert_cmpuint(ea->len, ==, 1);
        g_assert_cmpuint(eb->len, ==, 1);
        if (ea->len == 1 && eb->len == 1) {
            TJ *x = g_ptr_array_index(ea, 0), *y = g_ptr_array_index(eb, 0);

            g_assert_cmphex(tj_get_int(x, "sid", -1), ==, 0x100);
            g_assert_cmphex(tj_get_int(x, "addr", -1), ==, 0xa000);
            g_assert_cmpint(tj_get_int(x, "vintf", -1), ==, vintf_a);
            g_assert_cmphex(tj_get_int(y, "sid", -1), ==, 0x200);
            g_assert_cmphex(tj_get_int(y, "addr", -1), ==, 0xb000);
            g_assert_cmpint(tj_get_int(y, "vintf", -1), ==, vintf_b);
        }
        g_ptr_array_free(ea, TRUE);
        g_ptr_array_free(eb, TRUE);
    }
    tj_free(d);
    /* a vSID only the other VINTF knows is illegal here */
    T_OK(t_destroy(e.fd, vda));
    T_OK(t_vdevice_alloc(e.fd, e.viommu, e.devid[0], 0x30, &vda));
    cmd_atc_inv(c[0], 0x10, 0, 0);
    memcpy(ra + 4, c, sizeof(c));
    __sync_synchronize();
    t_qreg_write(pa, 0, Q_PROD, 4);
    g_assert_true(t_qreg_wait(pa, 0, Q_CONS, 0x7f << 24, 1 << 24, TIMEOUT_MS, NULL));
    g_assert_cmphex(t_qreg_read(pb, 0, Q_GERROR), ==, gb0);
    munmap((void *)pb, lenb);
    t_env_down(&e);
}

/* wait until CONS.ERR == @cerror; returns CONS */
static bool eng_wait_cerror(Eng *s, int q, unsigned cerror, uint32_t *cons)
{
    if (!t_qreg_wait(s->e.page0, q, Q_CONS, 0x7f << 24, cerror << 24, TIMEOUT_MS, cons)) {
        g_test_message("queue %d: CONS 0x%x, CONS.ERR never became %u", q, *cons, cerror);
        g_test_fail();
        return false;
    }
    return true;
}

static int64_t host_syncs(void)
{
    TJ *d = t_dump();
    int64_t n = tj_get_int(tj_at(tj_get(d, "cmdqv"), 0), "host_syncs", -1);

    tj_free(d);
    return n;
}

/*
 * STATUS and GERROR of the VINTF page are the hardware's (read-only to
 * software): a store over them is undone by the engine within a few
 * milliseconds (INTERFACE.md), on an allocated queue and on one that is not.
 */
static void test_engine_status_and_gerror_read_only(void)
{
    Eng s;
    uint32_t v = 0, g0, g1;

    if (eng_up(&s, 5, false) && eng_enable(&s, 0)) {
        /* GERROR is whatever the global VCMDQ was left with (see below) */
        g0 = t_qreg_read(s.e.page0, 0, Q_GERROR);
        g1 = t_qreg_read(s.e.page0, 1, Q_GERROR);
        g_assert_cmphex(t_qreg_read(s.e.page0, 0, Q_GERRORN), ==, g0);
        t_qreg_write(s.e.page0, 0, Q_STATUS, 0);
        t_qreg_write(s.e.page0, 0, Q_GERROR, g0 ^ 5);
        g_assert_true(t_qreg_wait(s.e.page0, 0, Q_STATUS, ~0u, 1, TIMEOUT_MS, &v));
        g_assert_true(t_qreg_wait(s.e.page0, 0, Q_GERROR, ~0u, g0, TIMEOUT_MS, &v));
        /* queue 1 is allocated, not enabled */
        t_qreg_write(s.e.page0, 1, Q_STATUS, 1);
        t_qreg_write(s.e.page0, 1, Q_GERROR, g1 ^ 1);
        g_assert_true(t_qreg_wait(s.e.page0, 1, Q_STATUS, ~0u, 0, TIMEOUT_MS, &v));
        g_assert_true(t_qreg_wait(s.e.page0, 1, Q_GERROR, ~0u, g1, TIMEOUT_MS, &v));
        /* and the queue was not stopped by the fake error */
        {
            uint64_t c[1][2];

            cmd_tlbi_nh_asid(c[0], 0, 3);
            eng_push(&s, 0, (const uint64_t (*)[2])c, 1);
            eng_drain(&s, 0);
        }
    }
    eng_down(&s);
}

/*
 * CONS belongs to the hardware while the queue runs: a store while
 * CMDQ_EN_OK is set is undone.  It does not let software skip commands.
 */
static void test_engine_cons_read_only_while_enabled(void)
{
    Eng s;
    uint32_t v = 0;

    if (eng_up(&s, 5, false) && eng_enable(&s, 0)) {
        t_qreg_write(s.e.page0, 0, Q_CONS, 7);
        g_assert_true(t_qreg_wait(s.e.page0, 0, Q_CONS, ~0u, 0, TIMEOUT_MS, &v));
    }
    eng_down(&s);
}

/*
 * A stopped queue (CMDQ_EN = 0 and CMDQ_EN_OK = 0) takes a store to CONS:
 * the kernel's own tegra241_vcmdq_hw_deinit() writes CONS = 0 after
 * disabling, and a VMM restoring a queue writes it before enabling.  The
 * queue then starts at that CONS.
 */
static void test_engine_cons_writable_while_stopped(void)
{
    Eng s;
    uint64_t c[4][2];
    uint32_t v = 0;
    TJ *d;
    GPtrArray *ex;

    if (!eng_up(&s, 5, false)) {
        eng_down(&s);
        return;
    }
    cmd_tlbi_nh_asid(c[0], 0, 1);             /* slots 0, 1: skipped */
    cmd_tlbi_nh_asid(c[1], 0, 2);
    cmd_tlbi_nh_asid(c[2], 0, 3);
    cmd_sync(c[3], 0);
    eng_push(&s, 0, (const uint64_t (*)[2])c, 4);
    t_qreg_write(s.e.page0, 0, Q_CONS, 2);
    /* it stays (longer than the engine takes to undo a store) */
    g_assert_false(t_qreg_wait(s.e.page0, 0, Q_CONS, ~0u, 0, 50, &v));
    g_assert_cmphex(v, ==, 2);
    if (eng_enable(&s, 0) && eng_drain(&s, 0)) {
        d = t_dump();
        ex = executed(d, s.q[0], s.total0);
        g_assert_cmpuint(ex->len, ==, 1);
        if (ex->len == 1) {
            g_assert_cmpint(tj_get_int(g_ptr_array_index(ex, 0), "asid", -1), ==, 3);
        }
        g_ptr_array_free(ex, TRUE);
        tj_free(d);
        /* disabled and stopped again: CONS is the software's once more */
        t_qreg_write(s.e.page0, 0, Q_CONFIG, 0);
        g_assert_true(t_qreg_wait(s.e.page0, 0, Q_STATUS, 1, 0, TIMEOUT_MS, &v));
        t_qreg_write(s.e.page0, 0, Q_CONS, 0);
        g_assert_false(t_qreg_wait(s.e.page0, 0, Q_CONS, ~0u, 4, 50, &v));
        g_assert_cmphex(v, ==, 0);
    }
    eng_down(&s);
}

/* Offsets 0x18..0x7f of each queue and everything after the last queue read as zero. */
static void test_engine_reserved_offsets_read_zero(void)
{
    Eng s;
    static const unsigned offs[] = { 0x18, 0x7c, 0x80 + 0x40, 0x100, 0x1000, 0xfffc };
    uint32_t v = 0;

    if (eng_up(&s, 5, false)) {
        for (unsigned i = 0; i < G_N_ELEMENTS(offs); i++) {
            t_qreg_write(s.e.page0, 0, offs[i], 0xdeadbeef);
        }
        for (unsigned i = 0; i < G_N_ELEMENTS(offs); i++) {
            if (!t_qreg_wait(s.e.page0, 0, offs[i], ~0u, 0, TIMEOUT_MS, &v)) {
                g_test_message("offset 0x%x still reads 0x%x", offs[i], v);
                g_test_fail();
            }
        }
        /* the software's registers are left alone */
        t_qreg_write(s.e.page0, 1, Q_PROD, 3);
        t_qreg_write(s.e.page0, 1, Q_GERRORN, s.gerror0[1] ^ 4);
        g_assert_false(t_qreg_wait(s.e.page0, 1, Q_PROD, ~0u, 0, 50, &v));
        g_assert_cmphex(t_qreg_read(s.e.page0, 1, Q_GERRORN), ==, s.gerror0[1] ^ 4);
    }
    eng_down(&s);
}

/*
 * GERROR is the global VCMDQ's and is never reset: HW queue allocation
 * (tegra241_vintf_alloc_lvcmdq_user -> tegra241_vcmdq_hw_init_user ->
 * tegra241_vcmdq_hw_deinit) only sets GERRORN equal to it.  A queue whose
 * error was never acknowledged comes back with GERROR = GERRORN = 1, and
 * runs.
 */
static void test_engine_gerror_kept_across_hw_queue_realloc(void)
{
    Eng s;
    uint64_t c[2][2];
    uint32_t cons = 0;
    TJ *d;

    if (!eng_up(&s, 5, false) || !eng_enable(&s, 1)) {
        eng_down(&s);
        return;
    }
    cmd_raw(c[0], 0x7f);
    eng_push(&s, 1, (const uint64_t (*)[2])c, 1);
    if (eng_wait_err(&s, 1, &cons)) {
        uint32_t g = s.gerror0[1] ^ GERROR_CMDQ_ERR;

        g_assert_cmphex(t_qreg_read(s.e.page0, 1, Q_GERROR), ==, g);
        g_assert_cmphex(t_qreg_read(s.e.page0, 1, Q_GERRORN), ==, s.gerror0[1]);
        T_OK(t_destroy(s.e.fd, s.q[1]));
        T_OK(t_hwq_alloc(s.e.fd, s.e.viommu, IOMMU_HW_QUEUE_TYPE_TEGRA241_CMDQV, 1,
                         T_GUEST_IOVA + RING_STRIDE, 16 << 5, &s.q[1]));
        g_assert_cmphex(t_qreg_read(s.e.page0, 1, Q_GERROR), ==, g);
        g_assert_cmphex(t_qreg_read(s.e.page0, 1, Q_GERRORN), ==, g);
        g_assert_cmphex(t_qreg_read(s.e.page0, 1, Q_CONS), ==, 0);
        g_assert_cmphex(t_qreg_read(s.e.page0, 1, Q_PROD), ==, 0);
        d = t_dump();
        g_assert_cmphex(tj_get_int(t_dump_obj(d, s.q[1]), "gerror", -1), ==, g);
        g_assert_cmphex(tj_get_int(t_dump_obj(d, s.q[1]), "gerrorn", -1), ==, g);
        tj_free(d);
        s.prod[1] = 0;
        cmd_tlbi_nh_asid(c[0], 0, 1);
        cmd_sync(c[1], 0);
        if (eng_enable(&s, 1)) {
            eng_push(&s, 1, (const uint64_t (*)[2])c, 2);
            eng_drain(&s, 1);
        }
    }
    eng_down(&s);
}

/*
 * tegra241_cmdqv_isr(): errors raised before the interrupt is handled give
 * one TEGRA241 vEVENT per VINTF (tegra241_vintf_user_handle_error) carrying
 * the merged LVCMDQ_ERR_MAP.  "engine pause" holds the engine so both
 * queues fail in one pass.
 */
static void test_engine_errors_together_one_vevent(void)
{
    Eng s;
    uint64_t c[1][2], maps[8][2];
    uint32_t seqs[8], cons = 0;
    int n;

    if (!eng_up(&s, 5, true) || !eng_enable(&s, 0) || !eng_enable(&s, 1)) {
        eng_down(&s);
        return;
    }
    cmd_raw(c[0], 0x7f);
    T_REQUIRE(t_ctl_ok("engine pause"));
    eng_push(&s, 0, (const uint64_t (*)[2])c, 1);
    eng_push(&s, 1, (const uint64_t (*)[2])c, 1);
    T_REQUIRE(t_ctl_ok("engine resume"));
    if (eng_wait_err(&s, 0, &cons) && eng_wait_err(&s, 1, &cons)) {
        g_assert_true(wait_readable(s.evfd));
        n = read_tegra_events(&s, maps, seqs, 8);
        g_assert_cmpint(n, ==, 1);
        if (n >= 1) {
            g_assert_cmphex(maps[0][0], ==, 3);
            g_assert_cmphex(maps[0][1], ==, 0);
        }
    }
    eng_down(&s);
}

/*
 * tegra241_cmdqv_isr() walks VINTF_ERR_MAP: a VINTF whose error is not yet
 * acknowledged is reported again when another VINTF's queue fails.
 */
static void test_engine_unacked_vintf_reported_again(void)
{
    TEnv e;
    uint32_t vb = 0, qa = 0, qb = 0, eva = 0, evb = 0;
    uint64_t offb = 0, lenb = 0, c[2];
    int fa = -1, fb = -1;
    volatile uint8_t *pb = NULL;
    uint8_t buf[8 * 24];
    const struct iommu_vevent_tegra241_cmdqv *ev = (const void *)(buf + 8);

    if (!t_env_up(&e, 2, 1 << 20, IOMMU_VIOMMU_TYPE_TEGRA241_CMDQV)) {
        t_env_down(&e);
        return;
    }
    T_OK(t_viommu_alloc(e.fd, IOMMU_VIOMMU_TYPE_TEGRA241_CMDQV, e.devid[1], e.s2, &vb, &offb,
                        &lenb));
    T_OK(t_veventq_alloc(e.fd, e.viommu, IOMMU_VEVENTQ_TYPE_TEGRA241_CMDQV, 8, &eva, &fa));
    T_OK(t_veventq_alloc(e.fd, vb, IOMMU_VEVENTQ_TYPE_TEGRA241_CMDQV, 8, &evb, &fb));
    T_OK(t_hwq_alloc(e.fd, e.viommu, IOMMU_HW_QUEUE_TYPE_TEGRA241_CMDQV, 0, T_GUEST_IOVA, 512,
                     &qa));
    T_OK(t_hwq_alloc(e.fd, vb, IOMMU_HW_QUEUE_TYPE_TEGRA241_CMDQV, 0, T_GUEST_IOVA + 0x1000,
                     512, &qb));
    T_STOP_IF_FAILED();
    T_REQUIRE(t_env_map_page0(&e));
    pb = mmap(NULL, lenb, PROT_READ | PROT_WRITE, MAP_SHARED, e.fd, offb);
    T_REQUIRE(pb != MAP_FAILED);
    cmd_raw(c, 0x7f);
    memcpy(e.mem, c, sizeof(c));
    memcpy(e.mem + 0x1000, c, sizeof(c));
    __sync_synchronize();
    t_qreg_write(e.page0, 0, Q_CONFIG, 1);
    t_qreg_write(pb, 0, Q_CONFIG, 1);
    g_assert_true(t_qreg_wait(e.page0, 0, Q_STATUS, 1, 1, TIMEOUT_MS, NULL));
    g_assert_true(t_qreg_wait(pb, 0, Q_STATUS, 1, 1, TIMEOUT_MS, NULL));
    /* A fails: A gets one record */
    t_qreg_write(e.page0, 0, Q_PROD, 1);
    g_assert_true(wait_readable(fa));
    g_assert_cmpint(read(fa, buf, sizeof(buf)), ==, 24);
    g_assert_cmphex(le64toh(ev->lvcmdq_err_map[0]), ==, 1);
    /* B fails while A is unacknowledged: one record each */
    t_qreg_write(pb, 0, Q_PROD, 1);
    g_assert_true(wait_readable(fb));
    g_assert_cmpint(read(fb, buf, sizeof(buf)), ==, 24);
    g_assert_cmphex(le64toh(ev->lvcmdq_err_map[0]), ==, 1);
    g_assert_true(wait_readable(fa));
    g_assert_cmpint(read(fa, buf, sizeof(buf)), ==, 24);
    g_assert_cmphex(le64toh(ev->lvcmdq_err_map[0]), ==, 1);
    /*
     * once A has fixed its command (a CMD_SYNC in its place, as a guest's
     * handler does) and acknowledged, B's next error is B's alone
     */
    cmd_sync(c, 0);
    memcpy(e.mem, c, sizeof(c));
    __sync_synchronize();
    t_qreg_write(e.page0, 0, Q_GERRORN, t_qreg_read(e.page0, 0, Q_GERROR));
    g_assert_true(t_qreg_wait(e.page0, 0, Q_CONS, ~0u, 1, TIMEOUT_MS, NULL));
    t_qreg_write(pb, 0, Q_GERRORN, t_qreg_read(pb, 0, Q_GERROR));
    g_assert_true(t_qreg_wait(pb, 0, Q_CONS, 0x7f << 24, 1 << 24, TIMEOUT_MS, NULL));
    g_assert_true(wait_readable(fb));
    g_assert_cmpint(read(fb, buf, sizeof(buf)), ==, 24);
    g_assert_cmpint(read(fa, buf, sizeof(buf)), ==, 0);
    munmap((void *)pb, lenb);
    close(fa);
    close(fb);
    t_env_down(&e);
}

/*
 * CERROR_ATC_INV_SYNC: an ATC_INV whose completion times out (the fault
 * "vcmdq_atc_inv") is reported at the next CMD_SYNC: the queue stops with
 * CONS at the CMD_SYNC and CONS.ERR = 3, GERROR toggles, a vEVENT; the
 * commands before ran.  After the acknowledge the CMD_SYNC runs again and
 * completes (__arm_smmu_cmdq_skip_err leaves it in place for this error).
 */
static void test_engine_atc_inv_timeout_cerror_atc_inv_sync(void)
{
    Eng s;
    uint64_t c[3][2], maps[8][2];
    uint32_t seqs[8], cons = 0;
    TJ *d;
    GPtrArray *ex;

    if (!eng_up(&s, 5, true) || !eng_enable(&s, 0)) {
        eng_down(&s);
        return;
    }
    T_REQUIRE(t_ctl_ok("fault vcmdq_atc_inv 1 ETIMEDOUT"));
    cmd_atc_inv(c[0], 0x10, 0x40000, 0);
    cmd_tlbi_nh_asid(c[1], 0, 4);
    cmd_sync(c[2], 0);
    eng_push(&s, 0, (const uint64_t (*)[2])c, 3);
    if (eng_wait_cerror(&s, 0, 3, &cons)) {
        g_assert_cmphex(cons & idx_mask(&s), ==, 2);
        g_assert_cmphex(t_qreg_read(s.e.page0, 0, Q_GERROR), ==, s.gerror0[0] ^ GERROR_CMDQ_ERR);
        g_assert_true(wait_readable(s.evfd));
        g_assert_cmpint(read_tegra_events(&s, maps, seqs, 8), ==, 1);
        g_assert_cmphex(maps[0][0], ==, 1);
        d = t_dump();
        ex = executed(d, s.q[0], s.total0);
        g_assert_cmpuint(ex->len, ==, 2);
        g_ptr_array_free(ex, TRUE);
        g_assert_nonnull(strstr(tj_get_str(tj_at(tj_get(d, "faults_injected"), 0), "ioctl"),
                                "vcmdq_atc_inv"));
        tj_free(d);
        t_qreg_write(s.e.page0, 0, Q_GERRORN, t_qreg_read(s.e.page0, 0, Q_GERROR));
        if (eng_drain(&s, 0)) {
            g_assert_cmphex(CONS_ERR(t_qreg_read(s.e.page0, 0, Q_CONS)), ==, 0);
        }
    }
    eng_down(&s);
}

/*
 * An ATC_INV timeout with no CMD_SYNC after it is not reported; HW queue
 * destroy flushes it with a CMD_SYNC on the host's own queue
 * (tegra241_vcmdq_hw_flush_timeout), so the next owner of the queue does
 * not see it.
 */
static void test_engine_atc_inv_timeout_flushed_at_destroy(void)
{
    Eng s;
    uint64_t c[1][2];
    uint32_t cons = 0;
    int64_t syncs;

    if (!eng_up(&s, 5, false) || !eng_enable(&s, 1)) {
        eng_down(&s);
        return;
    }
    T_REQUIRE(t_ctl_ok("fault vcmdq_atc_inv 1 ETIMEDOUT"));
    cmd_atc_inv(c[0], 0x20, 0, 0);
    eng_push(&s, 1, (const uint64_t (*)[2])c, 1);
    if (!eng_drain(&s, 1)) {
        eng_down(&s);
        return;
    }
    syncs = host_syncs();
    T_OK(t_destroy(s.e.fd, s.q[1]));
    g_assert_cmpint(host_syncs(), ==, syncs + 1);
    T_OK(t_hwq_alloc(s.e.fd, s.e.viommu, IOMMU_HW_QUEUE_TYPE_TEGRA241_CMDQV, 1,
                     T_GUEST_IOVA + RING_STRIDE, 16 << 5, &s.q[1]));
    s.prod[1] = 0;
    cmd_sync(c[0], 0);
    if (eng_enable(&s, 1)) {
        eng_push(&s, 1, (const uint64_t (*)[2])c, 1);
        eng_drain(&s, 1);
        g_assert_false(t_qreg_wait(s.e.page0, 1, Q_CONS, 0x7f << 24, 3 << 24, 20, &cons));
    }
    eng_down(&s);
}

/* ------------------------------------------------ the engine's own policy */

/* The dump's "engine" key: TJ of a fresh dump, freed with the dump */
static bool engine_wait_state(const char *state, int64_t *sleeps, int64_t *cpu_ns)
{
    uint64_t end = t_now_ns() + TIMEOUT_MS * 1000000ull;

    for (;;) {
        TJ *d = t_dump();
        TJ *eng = tj_get(d, "engine");
        const char *st = eng ? tj_get_str(eng, "state") : NULL;
        bool ok = st && !strcmp(st, state);

        if (ok || t_now_ns() > end) {
            if (sleeps) {
                *sleeps = eng ? tj_get_int(eng, "sleeps", -1) : -1;
            }
            if (cpu_ns) {
                *cpu_ns = eng ? tj_get_int(eng, "cpu_ns", -1) : -1;
            }
            if (!ok) {
                g_test_message("engine state %s, never %s", st ? st : "(none)", state);
            }
            tj_free(d);
            return ok;
        }
        tj_free(d);
        usleep(1000);
    }
}

/*
 * After a quiet spell the engine sleeps (nobody calls into the stand-in
 * when PROD moves): a command then must still be found and run, by the
 * sleeping engine's next look, with no kick from anyone.
 */
static void test_engine_command_after_idle_spell_runs(void)
{
    Eng s;
    uint64_t cmds[2][2];
    int64_t sleeps0 = -1, sleeps1 = -1;

    if (!eng_up(&s, 5, false) || !eng_enable(&s, 0)) {
        eng_down(&s);
        return;
    }
    cmd_tlbi_nh_va(cmds[0], 0, 7, 0x7000);
    cmd_sync(cmds[1], 0);
    eng_push(&s, 0, (const uint64_t (*)[2])cmds, 2);
    eng_drain(&s, 0);
    /* asleep, and asleep again (the doubling sleep has grown) */
    g_assert_true(engine_wait_state("sleeping", &sleeps0, NULL));
    do {
        usleep(2000);
        g_assert_true(engine_wait_state("sleeping", &sleeps1, NULL));
    } while (sleeps1 < sleeps0 + 8);
    eng_push(&s, 0, (const uint64_t (*)[2])cmds, 2);
    eng_drain(&s, 0);
    g_assert_cmpint(executed_total() - s.total0, ==, 4);
    eng_down(&s);
}

/*
 * The engine reports its CPU time (what an idle queue costs is measured
 * from it), and with no HW queue and no VINTF page mapped it blocks: its
 * CPU time stands still.
 */
static void test_engine_reports_cpu_and_blocks_unused(void)
{
    Eng s;
    uint64_t cmds[1][2];
    int64_t cpu0 = -1, cpu1 = -1, passes;
    TJ *d;

    if (!eng_up(&s, 5, false) || !eng_enable(&s, 0)) {
        eng_down(&s);
        return;
    }
    cmd_sync(cmds[0], 0);
    eng_push(&s, 0, (const uint64_t (*)[2])cmds, 1);
    eng_drain(&s, 0);
    d = t_dump();
    passes = tj_get_int(tj_get(d, "engine"), "passes", -1);
    g_assert_cmpint(tj_get_int(tj_get(d, "engine"), "cpu_ns", -1), >, 0);
    g_assert_cmpint(passes, >, 0);
    tj_free(d);
    eng_down(&s);
    g_assert_true(engine_wait_state("blocked", NULL, &cpu0));
    usleep(50000);
    g_assert_true(engine_wait_state("blocked", NULL, &cpu1));
    g_assert_cmpint(cpu1, ==, cpu0);
}

/*
 * A store over the STATUS of a queue that is not allocated is undone by
 * the pass the store brings, not by a later scrub: the engine must not
 * pass again and again (under the lock every ioctl needs) meanwhile.
 */
static void test_engine_unallocated_status_store_undone_at_once(void)
{
    Eng s;
    int64_t passes0, passes1;
    uint32_t v = 0;
    TJ *d;

    if (!eng_up(&s, 5, false)) {
        eng_down(&s);
        return;
    }
    g_assert_cmpint(t_destroy(s.e.fd, s.q[1]), ==, 0);
    g_assert_true(engine_wait_state("sleeping", NULL, NULL));
    d = t_dump();
    passes0 = tj_get_int(tj_get(d, "engine"), "passes", -1);
    tj_free(d);
    t_qreg_write(s.e.page0, 1, Q_STATUS, 1);
    if (!t_qreg_wait(s.e.page0, 1, Q_STATUS, ~0u, 0, TIMEOUT_MS, &v)) {
        g_test_message("STATUS of the queue not allocated still reads 0x%x", v);
        g_test_fail();
    }
    d = t_dump();
    passes1 = tj_get_int(tj_get(d, "engine"), "passes", -1);
    tj_free(d);
    g_test_message("passes for the store: %lld", (long long)(passes1 - passes0));
    g_assert_cmpint(passes1 - passes0, <=, 10);
    eng_down(&s);
}

/*
 * The engine copies the commands between CONS and PROD in one go, with
 * plain loads while the ring's memory stays as it was at HW_QUEUE_ALLOC;
 * when the ring goes away (@how: mprotect PROT_NONE, munmap, a MAP_FIXED
 * mmap over it) it must neither crash nor run stale memory: it stops
 * exactly at the first unreadable command (CONS.ERR = ABT there) and runs
 * nothing past it. Queue 0's ring (one 4K page) runs 100 commands, then
 * becomes unreadable under 30 more.
 */
static void test_engine_unreadable_command_stops_there(gconstpointer how)
{
    Eng s;
    uint64_t c[2], *r;
    uint32_t cons = 0;
    int64_t total;

    if (!eng_up(&s, 8, false) || !eng_enable(&s, 0)) {
        eng_down(&s);
        return;
    }
    r = ring(&s, 0);
    for (int i = 0; i < 130; i++) {
        cmd_tlbi_nh_va(c, 0, 1, (uint64_t)i << 12);
        r[2 * i] = htole64(c[0]);
        r[2 * i + 1] = htole64(c[1]);
    }
    s.prod[0] = 100;
    t_qreg_write(s.e.page0, 0, Q_PROD, 100);
    eng_drain(&s, 0);
    total = executed_total();
    g_assert_cmpint(total - s.total0, ==, 100);
    if (!strcmp(how, "mprotect")) {
        g_assert_cmpint(mprotect(r, 0x1000, PROT_NONE), ==, 0);
    } else if (!strcmp(how, "munmap")) {
        g_assert_cmpint(munmap(r, 0x1000), ==, 0);
    } else {
        g_assert_true(mmap(r, 0x1000, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) ==
                      (void *)r);
    }
    s.prod[0] = 130;
    t_qreg_write(s.e.page0, 0, Q_PROD, 130);
    if (t_qreg_wait(s.e.page0, 0, Q_CONS, 0x7f << 24, 2 << 24, TIMEOUT_MS, &cons)) {
        g_assert_cmphex(cons & idx_mask(&s), ==, 100);
        g_assert_cmpint(executed_total() - total, ==, 0);
    } else {
        g_test_message("CONS 0x%x: CONS.ERR never became ABT", cons);
        g_test_fail();
    }
    g_assert_true(mmap(r, 0x1000, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
                       -1, 0) == (void *)r);
    eng_down(&s);
}

int main(int argc, char **argv)
{
    t_init(&argc, &argv);
    g_test_add_func("/engine/enable_sets_en_ok", test_engine_enable_sets_en_ok);
    g_test_add_func("/engine/ring_runs_with_substitution", test_engine_ring_runs_with_substitution);
    g_test_add_func("/engine/tlbi_nh_all_and_vaa_illegal", test_engine_tlbi_nh_all_and_vaa_illegal);
    g_test_add_func("/engine/prod_before_enable_waits", test_engine_prod_before_enable_waits);
    g_test_add_func("/engine/illegal_command_stops_queue", test_engine_illegal_command_stops_queue);
    g_test_add_func("/engine/error_on_queue_1_reports_bit_1",
                    test_engine_error_on_queue_1_reports_bit_1);
    g_test_add_func("/engine/cmd_sync_irq_or_sev_illegal", test_engine_cmd_sync_irq_or_sev_illegal);
    g_test_add_func("/engine/atc_inv_unknown_vsid_illegal",
                    test_engine_atc_inv_unknown_vsid_illegal);
    g_test_add_func("/engine/other_opcodes_illegal", test_engine_other_opcodes_illegal);
    g_test_add_func("/engine/ring_wraps", test_engine_ring_wraps);
    g_test_add_func("/engine/vdevice_destroy_clears_sid", test_engine_vdevice_destroy_clears_sid);
    g_test_add_func("/engine/destroy_resets_queue", test_engine_destroy_resets_queue);
    g_test_add_func("/engine/error_without_veventq_still_stops",
                    test_engine_error_without_veventq_still_stops);
    g_test_add_func("/engine/two_viommus_isolated", test_engine_two_viommus_isolated);
    g_test_add_func("/engine/status_and_gerror_read_only", test_engine_status_and_gerror_read_only);
    g_test_add_func("/engine/cons_read_only_while_enabled",
                    test_engine_cons_read_only_while_enabled);
    g_test_add_func("/engine/cons_writable_while_stopped", test_engine_cons_writable_while_stopped);
    g_test_add_func("/engine/reserved_offsets_read_zero", test_engine_reserved_offsets_read_zero);
    g_test_add_func("/engine/gerror_kept_across_hw_queue_realloc",
                    test_engine_gerror_kept_across_hw_queue_realloc);
    g_test_add_func("/engine/errors_together_one_vevent", test_engine_errors_together_one_vevent);
    g_test_add_func("/engine/unacked_vintf_reported_again",
                    test_engine_unacked_vintf_reported_again);
    g_test_add_func("/engine/atc_inv_timeout_cerror_atc_inv_sync",
                    test_engine_atc_inv_timeout_cerror_atc_inv_sync);
    g_test_add_func("/engine/atc_inv_timeout_flushed_at_destroy",
                    test_engine_atc_inv_timeout_flushed_at_destroy);
    g_test_add_func("/engine/command_after_idle_spell_runs",
                    test_engine_command_after_idle_spell_runs);
    g_test_add_func("/engine/reports_cpu_and_blocks_unused",
                    test_engine_reports_cpu_and_blocks_unused);
    g_test_add_func("/engine/unallocated_status_store_undone_at_once",
                    test_engine_unallocated_status_store_undone_at_once);
    g_test_add_data_func("/engine/unreadable_command_stops_there/mprotect", "mprotect",
                         test_engine_unreadable_command_stops_there);
    g_test_add_data_func("/engine/unreadable_command_stops_there/munmap", "munmap",
                         test_engine_unreadable_command_stops_there);
    g_test_add_data_func("/engine/unreadable_command_stops_there/mmap_fixed", "mmap_fixed",
                         test_engine_unreadable_command_stops_there);
    return g_test_run();
}
