/*
 * A seeded, structure-aware register fuzzer for the accelerated SMMUv3 and
 * its Tegra241 CMDQV (arm-smmuv3,accel=on,cmdqv=on), run against the
 * hardware-free stand-in for the host kernel.
 *
 * Each seed starts one QEMU and drives it with random operations drawn with
 * weights: MMIO accesses over the SMMU's register pages and the whole CMDQV
 * window (biased towards the registers that matter, with plausible or random
 * values), commands written into the SMMU's command queue and the VCMDQ
 * rings, stream table entries, system_reset, unplug and replug of the
 * vfio-pci device, host events, and faults injected into the kernel calls
 * the SMMU and CMDQV make. After every sequence of operations QEMU must be
 * alive, the guest-visible registers consistent with the specification, and
 * the host objects within bounds; after quitting, the stand-in's exit dump
 * must show no leak and no refused destroy.
 *
 * Deterministic per seed: the operations and the values written come from
 * GRand seeded with the seed alone (what is read back from the stand-in's
 * asynchronous VCMDQ engine can differ between runs).
 *
 * Budget: QAC_FUZZ_SEEDS (default 20), QAC_FUZZ_OPS (default 5000) and
 * QAC_FUZZ_SEED_BASE (default 1000); each seed is /qac-fuzz/seed/<n>.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "libqtest.h"
#include "qobject/qdict.h"
#include "qobject/qlist.h"
#include "qobject/qstring.h"
#include "standin-qtest.h"
#include "qac-regs.h"
#include "qac-cmdqv-guest.h"

/* A Grace-like host: CMDQV, 2 logical queues per VINTF, one GPU function */
/* A Grace-like host: CMDQV, 2 logical queues per VINTF, one GPU function */
#define HOST_CONF \
    HOST_CONF_CMDQV \
    "vendor = 0x10de\n" \
    "device = 0x2342\n"
#define HOST_BDF        "0000:01:00.0"

/*
 * Guest RAM (virt: at 1 GiB) beyond qac-cmdqv-guest.h's G_STRTAB, G_CMDQ
 * and G_RING; the context descriptors lower than its G_CD
 */
#define G_RAM_SIZE      (256 * 1024 * 1024ULL)
#define G_STRTAB_L2     0x40140000ULL   /* 4 level-2 tables, 16 KiB each */
#define G_FUZZ_CD       0x40180000ULL
#define G_EVTQ          0x40300000ULL
#define G_RING_ALT      0x40600000ULL

/* The kinds of operation, their names in the totals and their weights */
enum {
    K_MMIO_SMMU,
    K_MMIO_CMDQV,
    K_SMMU_CMDS,
    K_VCMDQ_CMDS,
    K_STE,
    K_SMMU_INIT,
    K_CMDQV_INIT,
    K_EVENT,
    K_BUS,
    K_FAULT,
    K_RESET,
    K_HOTPLUG,
    K__MAX
};

static const char *const kind_name[K__MAX] = {
    [K_MMIO_SMMU] = "mmio-smmu",
    [K_MMIO_CMDQV] = "mmio-cmdqv",
    [K_SMMU_CMDS] = "smmu-cmdq",
    [K_VCMDQ_CMDS] = "vcmdq",
    [K_STE] = "ste",
    [K_SMMU_INIT] = "smmu-init",
    [K_CMDQV_INIT] = "cmdqv-init",
    [K_EVENT] = "host-event",
    [K_BUS] = "bus-renumber",
    [K_FAULT] = "fault",
    [K_RESET] = "system-reset",
    [K_HOTPLUG] = "hotplug",
};

/* In tenths of a percent */
static const unsigned kind_weight[K__MAX] = {
    [K_MMIO_SMMU] = 300,
    [K_MMIO_CMDQV] = 380,
    [K_SMMU_CMDS] = 110,
    [K_VCMDQ_CMDS] = 110,
    [K_STE] = 40,
    [K_SMMU_INIT] = 12,
    [K_CMDQV_INIT] = 12,
    [K_EVENT] = 10,
    [K_BUS] = 4,
    [K_FAULT] = 16,
    [K_RESET] = 3,
    [K_HOTPLUG] = 3,
};

typedef struct Totals {
    uint64_t seeds, sequences, ops, by_kind[K__MAX];
    uint64_t mmio_reads, mmio_writes, cmds, faults_armed, faults_injected;
    uint64_t resets, hotplug_cycles, device_add_refused, checks;
} Totals;

static Totals totals;

typedef struct Fuzz {
    GRand *rnd;
    QTestState *qts;
    StandinHost *host;
    char *sysfs;
    uint64_t smmu, win;
    uint32_t idr0, param;
    unsigned cmdqs;         /* IDR1.CMDQS: log2 of the largest queue */
    unsigned nr;            /* guest logical queues (PARAM) */
    bool dev;               /* the vfio-pci device is plugged */
    unsigned bus;           /* rp0's secondary bus number */
    bool strtab_2lvl;       /* how the last smmu-init laid out the table */
    unsigned faults_live;   /* armed in this sequence */
    Totals t;
} Fuzz;

/* ---- randomness ----------------------------------------------------------- */

static uint32_t rnd(Fuzz *f, uint32_t n)
{
    return g_rand_int_range(f->rnd, 0, n);
}

static bool chance(Fuzz *f, unsigned percent)
{
    return rnd(f, 100) < percent;
}

static uint64_t rnd64(Fuzz *f)
{
    return ((uint64_t)g_rand_int(f->rnd) << 32) | g_rand_int(f->rnd);
}

/* A random value, biased towards the edges */
static uint64_t rnd_value(Fuzz *f)
{
    switch (rnd(f, 6)) {
    case 0:
        return 0;
    case 1:
        return ~0ULL;
    case 2:
        return 1ULL << rnd(f, 64);
    case 3:
        return rnd(f, 0x100);
    default:
        return rnd64(f);
    }
}

/* The device's stream ID, or now and then another one */
static uint32_t rnd_sid(Fuzz *f)
{
    switch (rnd(f, 8)) {
    case 0:
        return rnd(f, 0x10000);
    case 1:
        return rnd(f, 0x400);
    default:
        return f->bus << 8;
    }
}

/* A ring base: mostly good, sometimes misaligned, outside RAM or MMIO */
static uint64_t rnd_ring_base(Fuzz *f, uint64_t good, unsigned log2bytes)
{
    switch (rnd(f, 12)) {
    case 0:
        return good + (16 << rnd(f, 8));       /* maybe misaligned */
    case 1:
        return f->win + 0x30000;               /* the window itself */
    case 2:
        return f->smmu;
    case 3:
        /* straddles RAM's end */
        return G_RAM_BASE + G_RAM_SIZE - (1ULL << log2bytes) / 2;
    case 4:
        return rnd64(f) & 0xffffffffffe0ULL;
    case 5:
        return 0;
    default:
        return good;
    }
}

/* ---- plumbing ------------------------------------------------------------- */

static uint32_t smmu_rd(Fuzz *f, uint64_t off)
{
    return qtest_readl(f->qts, f->smmu + off);
}

static void smmu_wr(Fuzz *f, uint64_t off, uint32_t v)
{
    qtest_writel(f->qts, f->smmu + off, v);
}

static uint32_t cq_rd(Fuzz *f, uint64_t off)
{
    return qtest_readl(f->qts, f->win + off);
}

static void cq_wr(Fuzz *f, uint64_t off, uint32_t v)
{
    qtest_writel(f->qts, f->win + off, v);
}

static QDict *ctl_ok(Fuzz *f, const char *req)
{
    QDict *r = standin_ctl(f->host, "%s", req);

    g_assert_nonnull(r);
    g_assert_true(qdict_haskey(r, "ok"));
    return r;
}

/* rp0's secondary and subordinate bus numbers: the device's SID follows */
static void rp0_set_bus(Fuzz *f, unsigned bus)
{
    qtest_writeb(f->qts, RP0_CFG + 0x19, bus);
    qtest_writeb(f->qts, RP0_CFG + 0x1a, bus);
    f->bus = bus;
}

/* ---- checks ------------------------------------------------------------------ */

static void check_alive(Fuzz *f)
{
    QDict *r = qtest_qmp(f->qts, "{'execute': 'query-status'}");
    QDict *ret = qdict_get_qdict(r, "return");

    g_assert_nonnull(ret);
    g_assert_cmpstr(qdict_get_str(ret, "status"), ==, "running");
    qobject_unref(r);
    g_assert_cmphex(smmu_rd(f, R_IDR0), ==, f->idr0);
    g_assert_cmphex(cq_rd(f, W_PARAM), ==, f->param);
}

/* What must hold of the guest-visible registers at any time */
static void check_registers(Fuzz *f)
{
    uint32_t cr0 = smmu_rd(f, R_CR0), cmdqv_config = cq_rd(f, W_CONFIG);
    uint32_t vintf = cq_rd(f, W_VINTF0_CONFIG);

    g_assert_cmphex(smmu_rd(f, R_CR0ACK), ==, cr0 & ~CR0_RESERVED);
    g_assert_cmphex(smmu_rd(f, R_IRQ_CTRL_ACK), ==, smmu_rd(f, R_IRQ_CTRL));
    g_assert_cmphex(smmu_rd(f, R_GERROR) & ~GERROR_VALID, ==, 0);
    /* page 1 of the SMMU aliases page 0 */
    g_assert_cmphex(smmu_rd(f, 0x10000 + R_CR0), ==, cr0);
    g_assert_cmphex(cmdqv_config & ~CMDQV_CONFIG_WRITABLE, ==, 0);
    g_assert_cmphex(cq_rd(f, W_STATUS), ==, cmdqv_config & 1);
    g_assert_cmphex(vintf & ~VINTF_CONFIG_WRITABLE, ==, 0);
    g_assert_cmphex(cq_rd(f, W_VINTF0_STATUS) & 1, ==, vintf & 1);
    for (unsigned q = 0; q < f->nr; q++) {
        g_assert_cmphex(cq_rd(f, W_ALLOC_MAP(q)) & ~ALLOC_MAP_WRITABLE, ==, 0);
    }
    /* one VINTF: its error bit only; a queue in error is in both maps */
    g_assert_cmphex(cq_rd(f, W_VINTF_ERR_MAP) & ~1u, ==, 0);
    g_assert_cmphex(cq_rd(f, W_VINTF_ERR_MAP + 4), ==, 0);
    g_assert_cmphex(qtest_readq(f->qts, f->win + W_LVCMDQ_ERR_MAP) &
                    ~((1ULL << f->nr) - 1), ==, 0);
    g_assert_cmphex(qtest_readq(f->qts, f->win + W_LVCMDQ_ERR_MAP + 8), ==, 0);
    /* queues beyond the VM's read as zero, in every queue page */
    g_assert_cmphex(cq_rd(f, W_P1(f->nr) + Q_BASE), ==, 0);
    g_assert_cmphex(cq_rd(f, W_GP0(f->nr) + Q_CONFIG), ==, 0);
    g_assert_cmphex(cq_rd(f, W_ALLOC_MAP(f->nr)), ==, 0);
    f->t.checks++;
}

/* Host objects within what one device and its vIOMMU may hold */
static void check_host(Fuzz *f)
{
    QDict *d = standin_dump(f->host);
    QList *rej = qdict_get_qlist(d, "rejected_destroys");

    if (!qlist_empty(rej)) {
        g_autoptr(GString) s = qobject_to_json(QOBJECT(rej));
        g_test_message("rejected destroys: %s", s->str);
    }
    g_assert_true(qlist_empty(rej));
    g_assert_cmpint(standin_count(d, "viommu"), ==, f->dev ? 1 : 0);
    g_assert_cmpint(standin_count(d, "vdevice"), <=, f->dev ? 1 : 0);
    g_assert_cmpint(standin_count(d, "hwpt_nested"), <=, f->dev ? 3 : 0);
    g_assert_cmpint(standin_count(d, "hw_queue"), <=, f->dev ? 2 : 0);
    g_assert_cmpint(standin_count(d, "veventq"), <=, f->dev ? 2 : 0);
    g_assert_cmpint(qlist_size(qdict_get_qlist(d, "mmaps")), ==,
                    f->dev ? 1 : 0);
    qobject_unref(d);
}

/* After system_reset: every register back at its reset value */
static void check_reset_values(Fuzz *f)
{
    QDict *d;

    g_assert_cmphex(smmu_rd(f, R_CR0), ==, 0);
    g_assert_cmphex(smmu_rd(f, R_CR0ACK), ==, 0);
    g_assert_cmphex(smmu_rd(f, R_IRQ_CTRL), ==, 0);
    g_assert_cmphex(smmu_rd(f, R_GERROR), ==, 0);
    g_assert_cmphex(smmu_rd(f, R_GERRORN), ==, 0);
    g_assert_cmphex(smmu_rd(f, R_GBPA), ==, GBPA_RESET);
    g_assert_cmphex(smmu_rd(f, R_CMDQ_PROD), ==, 0);
    g_assert_cmphex(smmu_rd(f, R_CMDQ_CONS), ==, 0);
    /* the queue's size at reset within what IDR1 advertises */
    g_assert_cmpuint(smmu_rd(f, R_CMDQ_BASE) & 0x1f, <=, f->cmdqs);
    g_assert_cmphex(smmu_rd(f, R_EVENTQ_PROD), ==, 0);
    g_assert_cmphex(smmu_rd(f, R_EVENTQ_CONS), ==, 0);
    g_assert_cmphex(cq_rd(f, W_CONFIG), ==, 0);
    g_assert_cmphex(cq_rd(f, W_STATUS), ==, 0);
    g_assert_cmphex(cq_rd(f, W_VINTF0_CONFIG), ==, 0);
    g_assert_cmphex(cq_rd(f, W_VINTF0_STATUS), ==, 0);
    g_assert_cmphex(cq_rd(f, W_VINTF_INT_MASK), ==, 0);
    g_assert_cmphex(cq_rd(f, W_VINTF_ERR_MAP), ==, 0);
    for (unsigned s = 0; s < 16; s++) {
        g_assert_cmphex(cq_rd(f, W_SID_MATCH(s)), ==, 0);
        g_assert_cmphex(cq_rd(f, W_SID_REPLACE(s)), ==, 0);
    }
    for (unsigned l = 0; l < f->nr; l++) {
        g_assert_cmphex(cq_rd(f, W_ALLOC_MAP(l)), ==, 0);
        for (unsigned reg = 0; reg <= Q_GERRORN; reg += 4) {
            g_assert_cmphex(cq_rd(f, W_P0(l) + reg), ==, 0);
        }
        g_assert_cmphex(qtest_readq(f->qts, f->win + W_P1(l) + Q_BASE), ==,
                        0);
        g_assert_cmphex(qtest_readq(f->qts, f->win + W_P1(l) +
                                    Q_CONS_INDX_BASE), ==, 0);
    }
    /* The host queues went with the guest's */
    d = standin_dump(f->host);
    g_assert_cmpint(standin_count(d, "hw_queue"), ==, 0);
    g_assert_true(qlist_empty(qdict_get_qlist(d, "rejected_destroys")));
    qobject_unref(d);
}

/* ---- MMIO ------------------------------------------------------------------ */

/* An access size: mostly 4, then 8, then the sizes the devices refuse */
static unsigned rnd_size(Fuzz *f)
{
    unsigned r = rnd(f, 100);

    return r < 62 ? 4 : r < 88 ? 8 : r < 94 ? 1 : 2;
}

static uint64_t mmio_read(Fuzz *f, uint64_t a, unsigned size)
{
    f->t.mmio_reads++;
    switch (size) {
    case 1:
        return qtest_readb(f->qts, a);
    case 2:
        return qtest_readw(f->qts, a);
    case 4:
        return qtest_readl(f->qts, a);
    default:
        return qtest_readq(f->qts, a);
    }
}

static void mmio_write(Fuzz *f, uint64_t a, unsigned size, uint64_t v)
{
    f->t.mmio_writes++;
    switch (size) {
    case 1:
        qtest_writeb(f->qts, a, v);
        break;
    case 2:
        qtest_writew(f->qts, a, v);
        break;
    case 4:
        qtest_writel(f->qts, a, v);
        break;
    default:
        qtest_writeq(f->qts, a, v);
        break;
    }
}

static const uint32_t smmu_regs[] = {
    R_CR0, R_CR0, R_CR0, R_CR0ACK, R_CR1, R_CR2, R_GBPA, R_GBPA, R_IRQ_CTRL,
    R_IRQ_CTRL_ACK, R_GERROR, R_GERRORN, R_GERRORN, R_GERROR_IRQ_CFG0,
    R_STRTAB_BASE, R_STRTAB_BASE + 4, R_STRTAB_CFG, R_CMDQ_BASE,
    R_CMDQ_BASE + 4, R_CMDQ_PROD, R_CMDQ_PROD, R_CMDQ_CONS, R_EVENTQ_BASE,
    R_EVENTQ_BASE + 4, R_EVENTQ_PROD, R_EVENTQ_CONS, R_EVENTQ_IRQ_CFG0,
    R_STATUSR, R_IDR0, R_IDR1, 0xfd0, 0xfe0,
};

/* A plausible value for SMMU register @off */
static uint64_t smmu_plausible(Fuzz *f, uint32_t off)
{
    switch (off & ~0x10000u) {
    case R_CR0:
        return rnd(f, 0x20) & ~2u;  /* SMMUEN, EVENTQEN, CMDQEN, ATSCHK */
    case R_CR1:
        return chance(f, 50) ? 0xd75 : rnd(f, 0x1000);
    case R_CR2:
        return rnd(f, 8);
    case R_GBPA:
        return GBPA_UPDATE | (chance(f, 50) ? GBPA_ABORT : 0);
    case R_IRQ_CTRL:
        return rnd(f, 8);
    case R_GERRORN:
        return smmu_rd(f, R_GERROR) ^ (chance(f, 20) ? rnd(f, 0x200) : 0);
    case R_STRTAB_BASE:
        return G_STRTAB | (chance(f, 50) ? 1ULL << 62 : 0);
    case R_STRTAB_BASE + 4:
        return G_STRTAB >> 32;
    case R_STRTAB_CFG:
        return chance(f, 60) ? rnd(f, 11) :
               (1u << 16) | (8u << 6) | (9 + rnd(f, 8));
    case R_CMDQ_BASE:
        return G_CMDQ | rnd(f, f->cmdqs + 3);
    case R_EVENTQ_BASE:
        return G_EVTQ | rnd(f, 12);
    case R_CMDQ_BASE + 4:
    case R_EVENTQ_BASE + 4:
        return 0;
    case R_CMDQ_PROD:
    case R_EVENTQ_CONS & 0xffff:
        return smmu_rd(f, off) + rnd(f, 4);
    case R_CMDQ_CONS:
        return chance(f, 50) ? 0 : smmu_rd(f, R_CMDQ_PROD);
    default:
        return rnd_value(f);
    }
}

static void op_mmio_smmu(Fuzz *f)
{
    unsigned size = rnd_size(f);
    uint32_t off;
    uint64_t v;
    bool write = chance(f, 60);

    if (chance(f, 80)) {
        off = smmu_regs[rnd(f, ARRAY_SIZE(smmu_regs))];
        if (chance(f, 10)) {
            off |= 0x10000;         /* page 1 alias */
        }
    } else {
        off = rnd(f, SMMU_WINDOW) & ~(size - 1);
    }
    if (chance(f, 5)) {
        off += 1 + rnd(f, 3);       /* unaligned */
    }
    if (off + size > SMMU_WINDOW) {
        off = SMMU_WINDOW - size;
    }
    if (!write) {
        v = mmio_read(f, f->smmu + off, size);
        /* Reserved 32-bit space reads as zero */
        if (size == 4 && !(off & 3) && (off & 0xffff) >= 0x110 &&
            (off & 0xffff) < 0xe00 && off != R_EVENTQ_PROD &&
            off != R_EVENTQ_CONS) {
            g_assert_cmphex(v, ==, 0);
        }
        return;
    }
    v = chance(f, 65) ? smmu_plausible(f, off) : rnd_value(f);
    if (size == 8 && (off & ~0x10000u) == R_STRTAB_BASE && chance(f, 70)) {
        v = G_STRTAB;
    }
    mmio_write(f, f->smmu + off, size, v);
    if (size == 4 && (off & ~0x10000u) == R_CR0 && !(off & 3)) {
        /* CR0ACK follows the writable bits of CR0 at once */
        g_assert_cmphex(smmu_rd(f, R_CR0ACK), ==,
                        (uint32_t)v & ~CR0_RESERVED);
    }
}

static const uint32_t cmdqv_regs[] = {
    W_CONFIG, W_CONFIG, W_PARAM, W_STATUS, W_VINTF_ERR_MAP, W_VINTF_INT_MASK,
    W_VINTF_INT_MASK + 4, W_CMDQ_ERR_MAP, W_ALLOC_MAP(0), W_ALLOC_MAP(1),
    W_ALLOC_MAP(0), W_ALLOC_MAP(1), W_VINTF0_CONFIG, W_VINTF0_CONFIG,
    W_VINTF0_STATUS, W_SID_MATCH(0), W_SID_REPLACE(0), W_SID_MATCH(15),
    W_LVCMDQ_ERR_MAP, W_LVCMDQ_ERR_MAP + 4, W_LVCMDQ_ERR_MAP + 8,
};

/* A queue register: page (global or VINTF0, 0 or 1), queue, register */
static uint32_t cmdqv_queue_reg(Fuzz *f)
{
    static const uint32_t pages[] = { 0x30000, 0x30000, 0x40000, 0x40000,
                                      0x10000, 0x20000 };
    uint32_t page = pages[rnd(f, ARRAY_SIZE(pages))];
    unsigned q = chance(f, 90) ? rnd(f, f->nr) : rnd(f, 128);
    unsigned reg;

    if (page == 0x30000 || page == 0x10000) {
        reg = chance(f, 95) ? 4 * rnd(f, 6) : rnd(f, 0x80) & ~3u;
    } else {
        reg = chance(f, 95) ? 4 * rnd(f, 4) : rnd(f, 0x80) & ~3u;
    }
    return page + q * 0x80 + reg;
}

/* Plausible values for the CMDQV window */
static uint64_t cmdqv_plausible(Fuzz *f, uint32_t off, unsigned size)
{
    unsigned l, reg;

    if (off < 0x10000) {
        switch (off) {
        case W_CONFIG:
            return chance(f, 80) ? rnd(f, 2) : rnd(f, 1 << 21);
        case W_VINTF0_CONFIG:
            return (chance(f, 80) ? 1 : 0) | (rnd(f, 4) << 1) |
                   (chance(f, 20) ? VINTF_HYP_OWN : 0);
        case W_ALLOC_MAP(0) ... W_ALLOC_MAP(127):
            return (chance(f, 85) ? 1 : 0) | (rnd(f, f->nr + 1) << 1) |
                   (chance(f, 5) ? 1u << 15 : 0);
        case W_SID_MATCH(0) ... W_SID_MATCH(15):
            return ((uint32_t)rnd_sid(f) << 1) | 1;
        case W_SID_REPLACE(0) ... W_SID_REPLACE(15):
            return 0x100;
        default:
            return rnd_value(f);
        }
    }
    l = (off % 0x10000) / 0x80;
    reg = off % 0x80;
    if (off < 0x20000 || (off >= 0x30000 && off < 0x40000)) {
        switch (reg) {
        case Q_CONS:
            return chance(f, 50) ? 0 : cq_rd(f, off + 4) & 0xfffff;
        case Q_PROD:
            return (cq_rd(f, off) & 0xfffff) + rnd(f, 3);
        case Q_CONFIG:
            return chance(f, 80) ? 1 : rnd(f, 4);
        case Q_GERRORN:
            return cq_rd(f, off - 4) ^ (chance(f, 15) ? rnd(f, 8) : 0);
        default:
            return rnd_value(f);
        }
    }
    switch (reg) {
    case Q_BASE: {
        unsigned log2 = 1 + rnd(f, f->cmdqs + 2);
        uint64_t good = (chance(f, 70) ? G_RING : G_RING_ALT) +
                        (l % 4) * 0x10000;
        uint64_t v = rnd_ring_base(f, good, log2 + 4) | log2;

        return size == 8 ? v : chance(f, 50) ? (uint32_t)v : v >> 32;
    }
    case Q_BASE + 4:
        return chance(f, 90) ? 0 : rnd_value(f);
    case Q_CONS_INDX_BASE:
    case Q_CONS_INDX_BASE + 4:
        return chance(f, 80) ? 0 : rnd_value(f);
    default:
        return rnd_value(f);
    }
}

/* Is @off a reserved location of the config page (reads as zero)? */
static bool cmdqv_config_reserved(Fuzz *f, uint32_t off)
{
    return (off >= 0x00c && off < 0x014) ||
           (off >= 0x034 && off < 0x200) ||
           (off >= W_ALLOC_MAP(f->nr) && off < 0x1000) ||
           (off >= 0x1008 && off < 0x1040) ||
           (off >= 0x10d0 && off < 0x10000);
}

static void op_mmio_cmdqv(Fuzz *f)
{
    unsigned size = rnd_size(f);
    unsigned r = rnd(f, 100);
    uint32_t off;
    uint64_t v;
    bool write = chance(f, 60);

    if (r < 40) {
        off = cmdqv_regs[rnd(f, ARRAY_SIZE(cmdqv_regs))];
        if (chance(f, 30)) {
            off = (off & ~0x3fu) | (rnd(f, 16) * 4 & 0x3f);
        }
    } else if (r < 85) {
        off = cmdqv_queue_reg(f);
    } else {
        off = rnd(f, CMDQV_WINDOW) & ~(size - 1);
    }
    if (chance(f, 4)) {
        off += 1 + rnd(f, 3);       /* unaligned */
    }
    if (off + size > CMDQV_WINDOW) {
        off = CMDQV_WINDOW - size;
    }
    if (!write) {
        v = mmio_read(f, f->win + off, size);
        if (size != 4 || (off & 3)) {
            return;                 /* refused by the bus: no value */
        }
        if (cmdqv_config_reserved(f, off)) {
            g_assert_cmphex(v, ==, 0);
        }
        if (off == W_PARAM) {
            g_assert_cmphex(v, ==, f->param);
        }
        /* trapped pages: reserved registers of a queue read as zero */
        if (off >= 0x10000 && off < 0x30000 &&
            (off % 0x80) >= (off < 0x20000 ? 0x18 : 0x10)) {
            g_assert_cmphex(v, ==, 0);
        }
        return;
    }
    v = chance(f, 70) ? cmdqv_plausible(f, off, size) : rnd_value(f);
    mmio_write(f, f->win + off, size, v);
    if (size != 4 || (off & 3)) {
        return;
    }
    /* Read back what the specification pins down */
    switch (off) {
    case W_CONFIG:
        g_assert_cmphex(cq_rd(f, W_CONFIG), ==,
                        (uint32_t)v & CMDQV_CONFIG_WRITABLE);
        g_assert_cmphex(cq_rd(f, W_STATUS), ==, v & 1);
        break;
    case W_VINTF0_CONFIG:
        g_assert_cmphex(cq_rd(f, W_VINTF0_CONFIG), ==,
                        (uint32_t)v & VINTF_CONFIG_WRITABLE);
        g_assert_cmphex(cq_rd(f, W_VINTF0_STATUS) & 1, ==, v & 1);
        break;
    case W_SID_MATCH(0) ... W_SID_REPLACE(15) + 3:
        g_assert_cmphex(cq_rd(f, off), ==, (uint32_t)v);
        break;
    case W_VINTF_INT_MASK:
    case W_VINTF_INT_MASK + 4:
        g_assert_cmphex(cq_rd(f, off), ==, (uint32_t)v);
        break;
    case W_PARAM:
    case W_STATUS:
    case W_VINTF0_STATUS:
        g_assert_cmphex(cq_rd(f, W_PARAM), ==, f->param);
        break;
    case W_ALLOC_MAP(0) ... W_ALLOC_MAP(127): {
        uint32_t got = cq_rd(f, off);

        if (off >= W_ALLOC_MAP(f->nr)) {
            g_assert_cmphex(got, ==, 0);
        } else {
            /* as written, or refused (ALLOCATED cleared) */
            g_assert_true(got == ((uint32_t)v & ALLOC_MAP_WRITABLE) ||
                          got == ((uint32_t)v & ALLOC_MAP_WRITABLE & ~1u));
        }
        break;
    }
    default:
        break;
    }
}

/* ---- commands ------------------------------------------------------------- */

/* A command for the SMMU's own queue (@vcmdq false) or a VCMDQ */
static void rnd_cmd(Fuzz *f, bool vcmdq, uint64_t *w0, uint64_t *w1)
{
    static const uint8_t smmu_ops[] = {
        OP_SYNC, OP_SYNC, OP_TLBI_NH_VA, OP_TLBI_NH_VA, OP_TLBI_NH_ASID,
        OP_TLBI_NH_ALL, OP_TLBI_NH_VAA, OP_TLBI_NSNH_ALL, OP_CFGI_STE,
        OP_CFGI_STE_RANGE, OP_CFGI_CD, OP_CFGI_CD_ALL, OP_ATC_INV,
        OP_PREFETCH_CONFIG, OP_PREFETCH_ADDR, OP_TLBI_EL2_ALL,
        OP_TLBI_S12_VMALL, OP_TLBI_S2_IPA, OP_RESUME, OP_STALL_TERM,
        OP_PRI_RESP, OP_TLBI_EL3_ALL,
    };
    static const uint8_t vcmdq_ops[] = {
        OP_SYNC, OP_SYNC, OP_TLBI_NH_VA, OP_TLBI_NH_VA, OP_TLBI_NH_ASID,
        OP_TLBI_NH_ASID, OP_TLBI_NH_ALL, OP_TLBI_NH_VAA, OP_ATC_INV,
        OP_CFGI_STE, OP_TLBI_NSNH_ALL,
    };
    unsigned r = rnd(f, 100);
    uint8_t op;
    uint64_t asid = rnd(f, 4) == 0 ? rnd(f, 0x10000) : rnd(f, 8);

    if (r < 4) {
        *w0 = rnd64(f);
        *w1 = rnd64(f);
        return;
    }
    if (r < 8) {
        op = rnd(f, 256);           /* mostly illegal */
    } else if (vcmdq) {
        op = vcmdq_ops[rnd(f, ARRAY_SIZE(vcmdq_ops))];
    } else {
        op = smmu_ops[rnd(f, ARRAY_SIZE(smmu_ops))];
    }
    *w0 = op;
    *w1 = 0;
    switch (op) {
    case OP_SYNC:
        /* CS: mostly none; SIG_IRQ and SEV now and then */
        *w0 |= (uint64_t)(chance(f, 85) ? 0 : rnd(f, 4)) << 12;
        break;
    case OP_TLBI_NH_VA:
    case OP_TLBI_NH_VAA:
        *w0 |= asid << 48 | (uint64_t)rnd(f, 4) << 12 /* NUM */ |
               (uint64_t)rnd(f, 4) << 20 /* SCALE */;
        *w1 = (G_RAM_BASE + (rnd64(f) & 0xfffff000ULL)) |
              rnd(f, 2) /* leaf */ |
              (uint64_t)rnd(f, 4) << 8 /* TTL */ | (uint64_t)rnd(f, 4) << 10;
        break;
    case OP_TLBI_NH_ASID:
        *w0 |= asid << 48;
        break;
    case OP_CFGI_STE:
    case OP_PREFETCH_CONFIG:
    case OP_PREFETCH_ADDR:
        *w0 |= (uint64_t)rnd_sid(f) << 32;
        *w1 = rnd(f, 2);
        break;
    case OP_CFGI_STE_RANGE:
        *w0 |= (uint64_t)rnd_sid(f) << 32;
        *w1 = chance(f, 50) ? 31 : rnd(f, 32);
        break;
    case OP_CFGI_CD:
    case OP_CFGI_CD_ALL:
        *w0 |= (uint64_t)rnd_sid(f) << 32 | (uint64_t)rnd(f, 4) << 12;
        *w1 = rnd(f, 2);
        break;
    case OP_ATC_INV:
        *w0 |= (uint64_t)rnd_sid(f) << 32 | (uint64_t)rnd(f, 4) << 12 |
               (chance(f, 20) ? 1ULL << 9 : 0);
        *w1 = (rnd64(f) & 0xfffffffff000ULL) | rnd(f, 52);
        break;
    case OP_TLBI_NSNH_ALL:
    case OP_TLBI_NH_ALL:
        *w0 |= (uint64_t)rnd(f, 4) << 32;  /* a VMID the host replaces */
        break;
    default:
        if (chance(f, 30)) {
            *w0 |= rnd64(f) & ~0xffULL;
            *w1 = rnd64(f);
        }
        break;
    }
}

/* Is a ring of 2^@log2 commands at @ring all in guest RAM? */
static bool ring_in_ram(uint64_t ring, unsigned log2)
{
    return ring >= G_RAM_BASE &&
           ring + (16ULL << log2) <= G_RAM_BASE + G_RAM_SIZE;
}

/*
 * @n random commands (for a VCMDQ if @vcmdq) at index @prod of the ring
 * of 2^@log2 commands at @ring, written only if the ring is in our RAM (a
 * guest may point it anywhere, the MMIO ops do); the PROD after them, at
 * most a full queue on, with its wrap bit.
 */
static uint32_t write_cmds(Fuzz *f, bool vcmdq, uint64_t ring, unsigned log2,
                           uint32_t prod, unsigned n)
{
    uint32_t mask = (2u << log2) - 1;

    if (!ring_in_ram(ring, log2)) {
        ring = 0;
    }
    for (unsigned i = 0; i < n; i++) {
        uint64_t cmd[2];

        rnd_cmd(f, vcmdq, &cmd[0], &cmd[1]);
        if (ring) {
            cmd[0] = cpu_to_le64(cmd[0]);
            cmd[1] = cpu_to_le64(cmd[1]);
            qtest_memwrite(f->qts, ring + ((prod + i) & (mask >> 1)) * 16,
                           cmd, 16);
        }
        f->t.cmds++;
    }
    n = MIN(n, 1u << log2);
    return (prod & ~mask) | ((prod + n) & mask);
}

/* Commands into the SMMU's queue, then PROD; CONS must catch up */
static void op_smmu_cmds(Fuzz *f)
{
    uint64_t base = qtest_readq(f->qts, f->smmu + R_CMDQ_BASE);
    unsigned log2 = MIN(base & 0x1f, f->cmdqs);
    uint64_t ring = base & 0xffffffffffe0ULL;
    uint32_t prod = smmu_rd(f, R_CMDQ_PROD);
    uint32_t mask;
    unsigned n = 1 + rnd(f, chance(f, 10) ? 300 : 8);
    uint32_t cr0, gerror, gerrorn, cons;

    prod = write_cmds(f, false, ring, log2, prod, n);
    if (chance(f, 3)) {
        prod = rnd_value(f);
    }
    smmu_wr(f, R_CMDQ_PROD, prod);

    cr0 = smmu_rd(f, R_CR0);
    gerror = smmu_rd(f, R_GERROR);
    gerrorn = smmu_rd(f, R_GERRORN);
    cons = smmu_rd(f, R_CMDQ_CONS);
    if ((cr0 & CR0_CMDQEN) && !((gerror ^ gerrorn) & GERROR_CMDQ_ERR)) {
        /* Every command consumed, or the queue stopped in error */
        base = qtest_readq(f->qts, f->smmu + R_CMDQ_BASE);
        mask = (2u << MIN(base & 0x1f, f->cmdqs)) - 1;
        g_assert_cmphex(cons & mask, ==, smmu_rd(f, R_CMDQ_PROD) & mask);
    }
    if (((gerror ^ gerrorn) & GERROR_CMDQ_ERR) && chance(f, 70)) {
        /* A driver's recovery: skip the bad command, acknowledge */
        if (chance(f, 50)) {
            smmu_wr(f, R_CMDQ_CONS, (cons & ~(0x7fu << 24)) + 1);
        }
        smmu_wr(f, R_GERRORN, gerror);
    }
}

/* Commands into a VCMDQ ring, then its PROD, through a random page */
static void op_vcmdq_cmds(Fuzz *f)
{
    unsigned l = rnd(f, f->nr);
    uint64_t base = qtest_readq(f->qts, f->win + W_P1(l) + Q_BASE);
    unsigned log2 = base & 0x1f;
    uint64_t ring = base & 0xffffffffffe0ULL;
    uint32_t page0 = W_P0(l);
    uint32_t prod;
    unsigned n = 1 + rnd(f, chance(f, 10) ? 64 : 6);

    /* The global page too, when a global queue is VINTF0's logical @l */
    if (chance(f, 20)) {
        for (unsigned q = 0; q < f->nr; q++) {
            if (cq_rd(f, W_ALLOC_MAP(q)) == (1u | (l << 1))) {
                page0 = W_GP0(q);
            }
        }
    }
    prod = cq_rd(f, page0 + Q_PROD);
    if (log2 > 19) {
        log2 = 19;
    }
    prod = write_cmds(f, true, ring, log2, prod, n);
    cq_wr(f, page0 + Q_PROD, chance(f, 3) ? rnd_value(f) : prod);
    if (chance(f, 30)) {
        /* Acknowledge an error as Linux does */
        cq_wr(f, page0 + Q_GERRORN, cq_rd(f, page0 + Q_GERROR));
    }
}

/* ---- stream table ------------------------------------------------------------- */

static void op_ste(Fuzz *f)
{
    uint32_t sid = rnd_sid(f);
    uint64_t ste[8] = { 0 };
    uint64_t addr;
    unsigned r = rnd(f, 100);
    uint64_t cmd[4];

    if (r < 40) {           /* S1 */
        ste[0] = 1 | (5ULL << 1) | ((G_FUZZ_CD + rnd(f, 16) * 64) &
                                    0xfffffffffffc0ULL) |
                 (chance(f, 30) ? (uint64_t)rnd(f, 4) << 59 : 0) |
                 (chance(f, 20) ? (uint64_t)rnd(f, 4) << 4 : 0);
        ste[1] = (uint64_t)rnd(f, 4) << 2 | (uint64_t)rnd(f, 4) << 4 |
                 (uint64_t)rnd(f, 4) << 6 | (uint64_t)rnd(f, 3) << 28 |
                 (uint64_t)rnd(f, 4) << 30 | (chance(f, 10) ? rnd64(f) : 0);
    } else if (r < 55) {
        ste[0] = 1 | (4ULL << 1);       /* bypass */
    } else if (r < 68) {
        ste[0] = 1;                     /* abort */
    } else if (r < 75) {
        ste[0] = 5ULL << 1;             /* V = 0 */
    } else if (r < 82) {
        ste[0] = 1 | ((uint64_t)(6 + rnd(f, 2)) << 1);   /* needs stage 2 */
    } else {
        for (int i = 0; i < 8; i++) {
            ste[i] = rnd64(f);
        }
    }
    if (f->strtab_2lvl) {
        addr = G_STRTAB_L2 + ((sid >> 8) % 4) * 0x4000 + (sid & 0xff) * 64;
    } else {
        addr = G_STRTAB + (sid % 1024) * 64;
    }
    for (int i = 0; i < 8; i++) {
        ste[i] = cpu_to_le64(ste[i]);
    }
    qtest_memwrite(f->qts, addr, ste, sizeof(ste));

    /* CFGI_STE (or CFGI_ALL) and CMD_SYNC through the queue */
    cmd[0] = chance(f, 80) ? OP_CFGI_STE | (uint64_t)sid << 32 :
                             OP_CFGI_STE_RANGE;
    cmd[1] = chance(f, 80) ? 1 : 31;
    cmd[2] = OP_SYNC;
    cmd[3] = 0;
    {
        uint64_t base = qtest_readq(f->qts, f->smmu + R_CMDQ_BASE);
        unsigned log2 = MIN(base & 0x1f, f->cmdqs);
        uint64_t ring = base & 0xffffffffffe0ULL;
        uint32_t prod = smmu_rd(f, R_CMDQ_PROD);
        uint32_t mask = (2u << log2) - 1;

        if (log2 < 1 || !ring_in_ram(ring, log2)) {
            return;
        }
        for (int i = 0; i < 2; i++) {
            uint64_t c[2] = { cpu_to_le64(cmd[2 * i]),
                              cpu_to_le64(cmd[2 * i + 1]) };

            qtest_memwrite(f->qts, ring + ((prod + i) & (mask >> 1)) * 16,
                           c, 16);
        }
        f->t.cmds += 2;
        smmu_wr(f, R_CMDQ_PROD, (prod & ~mask) | ((prod + 2) & mask));
    }
}

/* ---- driver-like set-ups -------------------------------------------------- */

/* The SMMU as Linux probes it: tables, queues, then SMMUEN */
static void op_smmu_init(Fuzz *f)
{
    unsigned log2 = chance(f, 80) ? f->cmdqs : 1 + rnd(f, f->cmdqs);

    smmu_wr(f, R_CR0, 0);
    qtest_memset(f->qts, G_STRTAB, 0, 1024 * 64);
    f->strtab_2lvl = chance(f, 30);
    if (f->strtab_2lvl) {
        /* Level 1: 4 descriptors, SPAN 9 (256 STEs each), at G_STRTAB */
        for (int i = 0; i < 4; i++) {
            qtest_memset(f->qts, G_STRTAB_L2 + i * 0x4000, 0, 0x4000);
            qtest_writeq(f->qts, G_STRTAB + i * 8,
                         (G_STRTAB_L2 + i * 0x4000) | 9);
        }
        smmu_wr(f, R_STRTAB_CFG, (1u << 16) | (8u << 6) | 10);
    } else {
        smmu_wr(f, R_STRTAB_CFG, 10);
    }
    qtest_writeq(f->qts, f->smmu + R_STRTAB_BASE, G_STRTAB);
    qtest_writeq(f->qts, f->smmu + R_CMDQ_BASE, G_CMDQ | log2);
    smmu_wr(f, R_CMDQ_PROD, 0);
    smmu_wr(f, R_CMDQ_CONS, 0);
    if (chance(f, 70)) {
        qtest_memset(f->qts, G_EVTQ, 0, 32 << 8);
        qtest_writeq(f->qts, f->smmu + R_EVENTQ_BASE, G_EVTQ | 8);
        smmu_wr(f, R_EVENTQ_PROD, 0);
        smmu_wr(f, R_EVENTQ_CONS, 0);
    }
    smmu_wr(f, R_IRQ_CTRL, rnd(f, 8));
    smmu_wr(f, R_CR0, CR0_CMDQEN);
    g_assert_cmphex(smmu_rd(f, R_CR0ACK), ==, CR0_CMDQEN);
    smmu_wr(f, R_CR0, CR0_CMDQEN | (chance(f, 70) ? CR0_EVENTQEN : 0));
    smmu_wr(f, R_CR0, smmu_rd(f, R_CR0) | CR0_SMMUEN);
    g_assert_cmphex(smmu_rd(f, R_CR0ACK) & CR0_SMMUEN, ==, CR0_SMMUEN);
}

/* CMDQV as the Linux guest driver sets it up, queues in random order */
static void op_cmdqv_init(Fuzz *f)
{
    unsigned log2 = chance(f, 80) ? f->cmdqs : 1 + rnd(f, f->cmdqs);
    unsigned first = rnd(f, f->nr);

    cq_wr(f, W_CONFIG, 0);
    cq_wr(f, W_CONFIG, 1);
    g_assert_cmphex(cq_rd(f, W_STATUS), ==, 1);
    for (unsigned l = 0; l < f->nr; l++) {
        cq_wr(f, W_ALLOC_MAP(l), l << 1);
    }
    for (int l = f->nr - 1; l >= 0; l--) {
        cmdqv_deinit_queue(f->qts, f->win, l);
    }
    cq_wr(f, W_VINTF0_CONFIG, 0);
    for (unsigned s = 0; s < 16; s++) {
        cq_wr(f, W_SID_REPLACE(s), 0);
        cq_wr(f, W_SID_MATCH(s), 0);
    }
    cq_wr(f, W_VINTF0_CONFIG, VINTF_HYP_OWN | 1);
    g_assert_cmphex(cq_rd(f, W_VINTF0_CONFIG), ==, 1);
    for (unsigned i = 0; i < f->nr; i++) {
        unsigned l = (first + i) % f->nr;
        uint64_t ring = (chance(f, 80) ? G_RING : G_RING_ALT) + l * 0x10000;

        cq_wr(f, W_ALLOC_MAP(l), cq_rd(f, W_ALLOC_MAP(l)) | 1);
        qtest_writeq(f->qts, f->win + W_P1(l), ring | log2);
        cq_wr(f, W_P0(l) + Q_CONFIG, 1);
    }
}

/* ---- the host's side ------------------------------------------------------------ */

/* An event the host reports for the device (dropped without a vEVENTQ) */
static void op_event(Fuzz *f)
{
    static const uint8_t types[] = { 0x10, 0x10, 0x04, 0x06, 0x0a, 0x02,
                                     0x01, 0x0f };
    uint8_t rec[32];
    char hex[65];
    g_autofree char *req = NULL;
    QDict *r;

    for (int i = 0; i < 32; i++) {
        rec[i] = rnd(f, 256);
    }
    if (chance(f, 90)) {
        rec[0] = types[rnd(f, ARRAY_SIZE(types))];
    }
    for (int i = 0; i < 32; i++) {
        snprintf(hex + 2 * i, 3, "%02x", rec[i]);
    }
    req = g_strdup_printf("event " HOST_BDF " %s", hex);
    r = ctl_ok(f, req);
    qobject_unref(r);
}

static void op_bus(Fuzz *f)
{
    rp0_set_bus(f, rnd(f, 3));
}

typedef struct FaultSpec {
    const char *ioctl;
    const char *errnos[4];
} FaultSpec;

/*
 * The kernel calls the SMMU and CMDQV make, with errnos the kernel contract
 * (spec/kernel-contract.md) allows them. IOMMU_DESTROY is not among them:
 * the contract lets it fail only for an unknown ID or an object still held,
 * which is exactly what the exit dump's rejected_destroys checks.
 */
static const FaultSpec fault_specs[] = {
    { "IOMMU_HW_QUEUE_ALLOC", { "ENOMEM", "EINVAL", "EFAULT", "EIO" } },
    { "IOMMU_HWPT_INVALIDATE", { "EIO", "EINVAL", "ENOMEM", "EIO" } },
    { "IOMMU_HWPT_ALLOC", { "EIO", "EINVAL", "ENOMEM", "ENOENT" } },
    { "IOMMU_VDEVICE_ALLOC", { "ENOSPC", "EEXIST", "ENOMEM", "EINVAL" } },
    { "IOMMU_VIOMMU_ALLOC", { "ENOMEM", "ENOSPC", "ENOMEM", "ENOSPC" } },
    { "IOMMU_VEVENTQ_ALLOC", { "ENOMEM", "EEXIST", "ENOMEM", "EINVAL" } },
    { "VFIO_DEVICE_ATTACH_IOMMUFD_PT", { "ENOENT", "EINVAL", "ENOMEM",
                                         "ENOMEM" } },
    { "VFIO_DEVICE_BIND_IOMMUFD", { "ENOMEM", "EBUSY", "ENOMEM", "EINVAL" } },
};

static void op_fault(Fuzz *f)
{
    const FaultSpec *s = &fault_specs[rnd(f, ARRAY_SIZE(fault_specs))];
    const char *err = s->errnos[rnd(f, 4)];
    unsigned nth = chance(f, 8) ? 0 : 1 + rnd(f, 4);
    g_autofree char *req = NULL;
    QDict *r;

    if (f->faults_live >= 16) {
        return;
    }
    if (!strcmp(s->ioctl, "IOMMU_HWPT_INVALIDATE") && chance(f, 50)) {
        req = g_strdup_printf("fault %s %u %s %u", s->ioctl, nth, err,
                              rnd(f, 70));
    } else {
        req = g_strdup_printf("fault %s %u %s", s->ioctl, nth, err);
    }
    r = ctl_ok(f, req);
    g_assert_true(qdict_get_bool(r, "ok"));
    qobject_unref(r);
    f->faults_live++;
    f->t.faults_armed++;
}

static void op_reset(Fuzz *f)
{
    qtest_system_reset(f->qts);
    f->bus = 0;             /* the root port's bus numbers are reset too */
    f->t.resets++;
    check_reset_values(f);
    check_host(f);
}

/* device_add; false when it was refused (an injected fault) */
static bool device_add(Fuzz *f)
{
    QDict *r = qtest_qmp(f->qts, "{'execute': 'device_add', 'arguments':"
                         " {'driver': 'vfio-pci', 'id': 'dev0', 'bus': 'rp0',"
                         " 'iommufd': 'iommufd0', 'sysfsdev': %s}}", f->sysfs);
    bool ok = qdict_haskey(r, "return");

    if (!ok) {
        g_assert_true(qdict_haskey(r, "error"));
        f->t.device_add_refused++;
    }
    qobject_unref(r);
    return ok;
}

static void device_del(Fuzz *f)
{
    unsigned watchdog;

    qtest_qmp_device_del_send(f->qts, "dev0");
    rp0_slot_power(f->qts, false);
    watchdog = alarm(30);           /* DEVICE_DELETED, with a bound */
    qtest_qmp_eventwait(f->qts, "DEVICE_DELETED");
    alarm(watchdog);
    rp0_slot_power(f->qts, true);
}

static void op_hotplug(Fuzz *f)
{
    if (f->dev) {
        device_del(f);
        f->dev = false;
        check_host(f);
    }
    f->dev = device_add(f);
    if (f->dev) {
        f->t.hotplug_cycles++;
    }
    check_host(f);
}

/* ---- one seed ------------------------------------------------------------------ */

static unsigned env_uint(const char *name, unsigned def)
{
    const char *v = g_getenv(name);

    return v && *v ? strtoul(v, NULL, 0) : def;
}

static void fuzz_start(Fuzz *f, uint32_t seed)
{
    g_autofree char *args = NULL;

    memset(f, 0, sizeof(*f));
    f->rnd = g_rand_new_with_seed(seed);
    f->host = standin_host_new(HOST_CONF);
    f->sysfs = standin_sysfsdev(f->host, HOST_BDF);
    args = g_strdup_printf(
        "-M virt,highmem-ecam=off -m 256M -display none -nodefaults "
        "-object iommufd,id=iommufd0 "
        "-device arm-smmuv3,primary-bus=pcie.0,id=smmu0,accel=on,cmdqv=on "
        "-device pcie-root-port,id=rp0,bus=pcie.0,chassis=1,addr=3.0 "
        "-device vfio-pci,id=dev0,bus=rp0,iommufd=iommufd0,sysfsdev=%s",
        f->sysfs);
    f->qts = standin_qtest_start(f->host, args);
    f->dev = true;
    f->smmu = qtest_mtree_base(f->qts, "arm-smmuv3");
    f->win = qtest_mtree_base(f->qts, "tegra241-cmdqv");
    f->idr0 = smmu_rd(f, R_IDR0);
    g_assert_cmphex(f->idr0, !=, 0);
    g_assert_cmphex(f->idr0 & 3, ==, 2);        /* stage 1 only */
    f->cmdqs = IDR1_CMDQS(smmu_rd(f, R_IDR1));
    g_assert_cmpuint(f->cmdqs, >=, 1);
    f->param = cq_rd(f, W_PARAM);
    f->nr = 1u << ((f->param >> 4) & 0xf);
    g_assert_cmpuint(f->nr, ==, 2);             /* the host's VINTF size */
    rp0_set_bus(f, 1);
    check_reset_values(f);
    check_host(f);
}

static void fuzz_sequence_end(Fuzz *f)
{
    QDict *r;

    check_alive(f);
    check_registers(f);
    /* Faults armed in this sequence go with it */
    r = ctl_ok(f, "fault-clear");
    qobject_unref(r);
    f->faults_live = 0;
    check_host(f);
    f->t.sequences++;
}

static unsigned pick_kind(Fuzz *f)
{
    unsigned sum = 0, r;

    for (int k = 0; k < K__MAX; k++) {
        sum += kind_weight[k];
    }
    r = rnd(f, sum);
    for (int k = 0; k < K__MAX; k++) {
        if (r < kind_weight[k]) {
            return k;
        }
        r -= kind_weight[k];
    }
    g_assert_not_reached();
}

static void fuzz_op(Fuzz *f, unsigned k)
{
    switch (k) {
    case K_MMIO_SMMU:
        op_mmio_smmu(f);
        break;
    case K_MMIO_CMDQV:
        op_mmio_cmdqv(f);
        break;
    case K_SMMU_CMDS:
        op_smmu_cmds(f);
        break;
    case K_VCMDQ_CMDS:
        op_vcmdq_cmds(f);
        break;
    case K_STE:
        op_ste(f);
        break;
    case K_SMMU_INIT:
        op_smmu_init(f);
        break;
    case K_CMDQV_INIT:
        op_cmdqv_init(f);
        break;
    case K_EVENT:
        op_event(f);
        break;
    case K_BUS:
        op_bus(f);
        break;
    case K_FAULT:
        op_fault(f);
        break;
    case K_RESET:
        op_reset(f);
        break;
    case K_HOTPLUG:
        op_hotplug(f);
        break;
    default:
        g_assert_not_reached();
    }
}

static void totals_add(Totals *to, const Totals *from)
{
    const uint64_t *s = (const uint64_t *)from;
    uint64_t *d = (uint64_t *)to;

    for (size_t i = 0; i < sizeof(Totals) / sizeof(uint64_t); i++) {
        d[i] += s[i];
    }
}

static void totals_print(const char *what, const Totals *t)
{
    g_autoptr(GString) kinds = g_string_new(NULL);

    for (int k = 0; k < K__MAX; k++) {
        g_string_append_printf(kinds, "%s%s %" PRIu64, k ? ", " : "",
                               kind_name[k], t->by_kind[k]);
    }
    g_test_message("%s: %" PRIu64 " seeds, %" PRIu64 " sequences, %" PRIu64
                   " operations (%s); %" PRIu64 " MMIO reads, %" PRIu64
                   " MMIO writes, %" PRIu64 " commands; faults: %" PRIu64
                   " armed, %" PRIu64 " injected; %" PRIu64 " resets, %"
                   PRIu64 " hotplug cycles (%" PRIu64 " device_add refused); %"
                   PRIu64 " register checks", what, t->seeds, t->sequences,
                   t->ops, kinds->str, t->mmio_reads, t->mmio_writes, t->cmds,
                   t->faults_armed, t->faults_injected, t->resets,
                   t->hotplug_cycles, t->device_add_refused, t->checks);
}

/* Run seed @seed for @ops operations; the stand-in must exit clean */
static void fuzz_run(uint32_t seed, unsigned ops)
{
    Fuzz f;
    unsigned left;
    QDict *d;

    fuzz_start(&f, seed);
    left = ops;
    while (left) {
        unsigned n = MIN(left, 50 + rnd(&f, 250));

        for (unsigned i = 0; i < n; i++) {
            unsigned k = pick_kind(&f);

            fuzz_op(&f, k);
            f.t.by_kind[k]++;
            f.t.ops++;
        }
        left -= n;
        fuzz_sequence_end(&f);
    }
    qtest_quit(f.qts);
    standin_assert_clean_exit(f.host);
    d = standin_exit_dump(f.host);
    f.t.faults_injected = qlist_size(qdict_get_qlist(d, "faults_injected"));
    qobject_unref(d);
    f.t.seeds = 1;
    if (g_getenv("QAC_FUZZ_TOTALS_FILE")) {
        GError *err = NULL;

        g_assert_true(g_file_set_contents(g_getenv("QAC_FUZZ_TOTALS_FILE"),
                                          (char *)&f.t, sizeof(f.t), &err));
        g_assert_no_error(err);
    }
    standin_host_free(f.host);
    g_free(f.sysfs);
    g_rand_free(f.rnd);
}

/*
 * Each seed runs in a child process: a failing or hanging seed fails its
 * own test case, and the next seeds still run.
 */
static void fuzz_trap(uint32_t seed, unsigned ops)
{
    g_autofree char *dir = g_dir_make_tmp("qac-fuzz-XXXXXX", NULL);
    g_autofree char *file = g_build_filename(dir, "totals", NULL);
    g_autofree char *data = NULL;
    gsize len = 0;

    if (g_test_subprocess()) {
        fuzz_run(seed, ops);
        return;
    }
    g_test_message("seed %u: %u operations", seed, ops);
    g_setenv("QAC_FUZZ_TOTALS_FILE", file, true);
    g_test_trap_subprocess(NULL, (120 + ops / 20) * G_USEC_PER_SEC,
                           G_TEST_SUBPROCESS_INHERIT_STDOUT |
                           G_TEST_SUBPROCESS_INHERIT_STDERR);
    g_unsetenv("QAC_FUZZ_TOTALS_FILE");
    if (g_file_get_contents(file, &data, &len, NULL) &&
        len == sizeof(Totals)) {
        totals_print("seed totals", (Totals *)data);
        totals_add(&totals, (Totals *)data);
        unlink(file);
    }
    rmdir(dir);
    if (!g_test_trap_has_passed()) {
        g_test_message("seed %u failed: rerun it with QAC_FUZZ_SEED_BASE=%u "
                       "QAC_FUZZ_SEEDS=1 QAC_FUZZ_OPS=%u", seed, seed, ops);
    }
    g_test_trap_assert_passed();
}

static void test_seed(gconstpointer data)
{
    fuzz_trap(GPOINTER_TO_UINT(data), env_uint("QAC_FUZZ_OPS", 5000));
}

/*
 * Seeds that once failed, run always with the operation count that found
 * them: { seed, operations, what it found }.
 */
typedef struct Regression {
    uint32_t seed;
    unsigned ops;
} Regression;

static const Regression regressions[] = {
    /*
     * device_del while a VFIO_DEVICE_ATTACH_IOMMUFD_PT fault was armed: the
     * device's way back to vfio's own HWPT was refused, and the nested
     * HWPT, the vIOMMU, the nest parent and vfio's IOAS were then destroyed
     * while still held (4 refused destroys, 3 leaks). Fixed in
     * accel_dev_release(): on a refused attach, detach the device.
     */
    { 1000, 5000 },
    /*
     * system_reset, then CMDQEN and PROD without a new CMDQ_BASE: the queue
     * ran at the size from before the reset (2^0 entries) while CMDQ_BASE
     * read LOG2SIZE 19, above IDR1.CMDQS, so CONS stopped short of PROD
     * with no error. Fixed in QEMU's smmuv3_init_regs() (patch 0015).
     */
    { 1019, 5000 },
    /*
     * A STRTAB_BASE_CFG.LOG2SIZE above 59 then a CFGI_STE: smmu_find_ste()
     * built the table's alignment mask with a negative shift (UBSan, make
     * check-asan). Fixed in patch 0016.
     */
    { 1018, 5000 },
    { 0, 0 }                        /* end */
};

static void test_regression(gconstpointer data)
{
    const Regression *r = data;

    fuzz_trap(r->seed, r->ops);
}

static void test_summary(void)
{
    uint64_t ops = 0;

    totals_print("all seeds", &totals);
    for (int k = 0; k < K__MAX; k++) {
        ops += totals.by_kind[k];
    }
    g_assert_cmpuint(ops, ==, totals.ops);
    g_assert_cmpuint(totals.sequences, >=, totals.seeds);
}

int main(int argc, char **argv)
{
    unsigned seeds = env_uint("QAC_FUZZ_SEEDS", 20);
    unsigned base = env_uint("QAC_FUZZ_SEED_BASE", 1000);

    g_test_init(&argc, &argv, NULL);
    if (!g_test_subprocess()) {
        /* a failed seed fails its test case; the others still run */
        g_test_set_nonfatal_assertions();
    }
    for (size_t i = 0; regressions[i].ops; i++) {
        g_autofree char *path = g_strdup_printf("/qac-fuzz/regression/%u",
                                                regressions[i].seed);
        g_test_add_data_func(path, &regressions[i], test_regression);
    }
    for (unsigned i = 0; i < seeds; i++) {
        g_autofree char *path = g_strdup_printf("/qac-fuzz/seed/%u", base + i);
        g_test_add_data_func(path, GUINT_TO_POINTER(base + i), test_seed);
    }
    /* a child suite created last: runs after every seed */
    g_test_add_func("/qac-fuzz/summary/totals", test_summary);
    return g_test_run();
}
