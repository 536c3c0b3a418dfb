/*
 * The steps of a guest's drivers, for the project's qtests: the Linux
 * Tegra241 CMDQV driver's sequence through the window (linux-guest.md),
 * commands into its VCMDQs, an SMMUv3 driver's probe and command queue,
 * and a pciehp's slot power on the root port rp0. Also the host and the
 * QEMU command line most tests start from.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef TESTS_QTEST_QAC_CMDQV_GUEST_H
#define TESTS_QTEST_QAC_CMDQV_GUEST_H

#include "qemu/osdep.h"
#include "libqtest.h"
#include "qobject/qdict.h"
#include "qobject/qlist.h"
#include "standin-qtest.h"
#include "qac-regs.h"

/* A Grace-like host: CMDQV with 2 logical queues per VINTF (the default) */
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

/* The host's 0000:01:00.0 at pcie.0 slot 2 (guest SID 0x10); its sysfsdev */
#define DEV_ARGS \
    "-device vfio-pci,id=dev0,bus=pcie.0,addr=2.0,iommufd=iommufd0,sysfsdev="

/* Guest RAM the drivers use (virt's RAM starts at 1 GiB) */
#define G_STRTAB            0x40100000ULL   /* linear stream table */
#define G_CMDQ              0x40200000ULL   /* SMMU command queue */
#define G_CD                0x40300000ULL   /* context descriptors */
#define G_RING              0x40400000ULL   /* VCMDQ rings, 64K per queue */
#define CMDQ_LOG2           8               /* SMMU command queue: 256 */

/* ---- the SMMU ------------------------------------------------------------ */

/*
 * A driver's probe of the SMMU at @smmu: a linear stream table of
 * 2^@log2_stes STEs at G_STRTAB, zeroed but for word 0 of STE @sid (@ste0;
 * 0 writes none), the command queue at G_CMDQ, then CMDQEN and SMMUEN.
 */
static inline void smmu_probe(QTestState *qts, uint64_t smmu,
                              unsigned log2_stes, uint32_t sid, uint64_t ste0)
{
    qtest_memset(qts, G_STRTAB, 0, 64 << log2_stes);
    if (ste0) {
        qtest_writeq(qts, G_STRTAB + sid * 64, ste0);
    }
    qtest_writeq(qts, smmu + R_STRTAB_BASE, G_STRTAB);
    qtest_writel(qts, smmu + R_STRTAB_CFG, log2_stes);     /* linear */
    qtest_writeq(qts, smmu + R_CMDQ_BASE, G_CMDQ | CMDQ_LOG2);
    qtest_writel(qts, smmu + R_CMDQ_PROD, 0);
    qtest_writel(qts, smmu + R_CMDQ_CONS, 0);
    qtest_writel(qts, smmu + R_CR0, CR0_CMDQEN);
    qtest_writel(qts, smmu + R_CR0, CR0_CMDQEN | CR0_SMMUEN);
    g_assert_cmphex(qtest_readl(qts, smmu + R_CR0ACK), ==,
                    CR0_CMDQEN | CR0_SMMUEN);
}

/* A command at *@prod of the SMMU's queue at G_CMDQ; *@prod moves on */
static inline void smmu_cmd(QTestState *qts, uint32_t *prod, uint64_t w0,
                            uint64_t w1)
{
    uint64_t a = G_CMDQ + (*prod & ((1 << CMDQ_LOG2) - 1)) * 16;

    qtest_writeq(qts, a, w0);
    qtest_writeq(qts, a + 8, w1);
    *prod = (*prod + 1) & ((2 << CMDQ_LOG2) - 1);
}

/* ---- starting QEMU -------------------------------------------------------- */

/*
 * QEMU on host @conf, its SMMU (accel=on@smmu_opts) and 0000:01:00.0
 * cold-plugged, must fail at startup: its stderr
 */
static inline char *standin_smmu_start_fails(const char *conf,
                                             const char *smmu_opts)
{
    StandinHost *h = standin_host_new(conf);
    g_autofree char *sysfs = standin_sysfsdev(h, "0000:01:00.0");
    g_autofree char *args = g_strdup_printf(
        "-M virt -object iommufd,id=iommufd0 "
        "-device arm-smmuv3,primary-bus=pcie.0,id=smmu0,accel=on%s "
        DEV_ARGS "%s", smmu_opts, sysfs);
    char *err = standin_qemu_start_fails(h, args);

    standin_host_free(h);
    return err;
}

/*
 * QEMU on host @h with its SMMU (accel=on,@smmu_opts) and the root port
 * rp0 at pcie.0 slot 3, no device
 */
static inline QTestState *standin_start_rp0(StandinHost *h,
                                            const char *smmu_opts)
{
    g_autofree char *args = g_strdup_printf(
        "-M virt,highmem-ecam=off -display none -nodefaults "
        "-object iommufd,id=iommufd0 "
        "-device arm-smmuv3,primary-bus=pcie.0,id=smmu0,accel=on,%s "
        "-device pcie-root-port,id=rp0,bus=pcie.0,chassis=1,addr=3.0",
        smmu_opts);

    return standin_qtest_start(h, args);
}

/* ---- rp0's slot (pcie-root-port, pcie.0 slot 3, low ECAM) ---------------- */

/* Power the slot on or off, as a guest's pciehp does */
static inline void rp0_slot_power(QTestState *qts, bool on)
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
        sltctl |= (1 << 10) /* PCC: off */ | (3 << 8) /* indicator off */;
    }
    qtest_writew(qts, RP0_CFG + cap + 0x18, sltctl);
}

/* ---- the CMDQV window ---------------------------------------------------- */

typedef struct CmdqvGuest {
    QTestState *qts;
    StandinHost *host;
    char *sysfs;            /* the host's 0000:01:00.0 */
    uint64_t win;
    uint64_t ring;          /* this window's rings: ring + l * 64K */
    unsigned nr, log2size;
    uint32_t prod[4];
} CmdqvGuest;

/* The (first) window of a started QEMU, its rings and IDR1.CMDQS */
static inline void cg_attach(CmdqvGuest *g)
{
    g->win = qtest_mtree_base(g->qts, "tegra241-cmdqv");
    g->ring = G_RING;
    g->log2size = IDR1_CMDQS(qtest_readl(g->qts, qtest_mtree_base(g->qts,
                                         "arm-smmuv3") + R_IDR1));
}

/*
 * QEMU on host @conf with one SMMU (accel=on,cmdqv=on) and the host's
 * 0000:01:00.0 cold-plugged; @opts: more options (-m ...) or NULL.
 */
static inline void cg_start(CmdqvGuest *g, const char *conf, const char *opts)
{
    g_autofree char *args = NULL;

    memset(g, 0, sizeof(*g));
    g->host = standin_host_new(conf);
    g->sysfs = standin_sysfsdev(g->host, "0000:01:00.0");
    args = g_strdup_printf("-M virt %s -display none -nodefaults "
                           "-object iommufd,id=iommufd0 "
                           "-device arm-smmuv3,primary-bus=pcie.0,id=smmu0,"
                           "accel=on,cmdqv=on " DEV_ARGS "%s",
                           opts ? opts : "", g->sysfs);
    g->qts = standin_qtest_start(g->host, args);
    cg_attach(g);
}

/*
 * The same with explicit SMMU properties, 2 VCMDQs and the root port rp0,
 * no device: cg_plug() brings it.
 */
static inline void cg_start_hotplug(CmdqvGuest *g, const char *conf)
{
    memset(g, 0, sizeof(*g));
    g->host = standin_host_new(conf);
    g->sysfs = standin_sysfsdev(g->host, "0000:01:00.0");
    g->qts = standin_start_rp0(g->host, "ril=on,ats=off,oas=44,ssidsize=0,"
                               "cmdqv=on,cmdqv-vcmdqs=2");
    cg_attach(g);
}

/* device_add of the host's function behind rp0 */
static inline void cg_plug(CmdqvGuest *g)
{
    qtest_qmp_device_add(g->qts, "vfio-pci", "dev0",
                         "{'bus': 'rp0', 'iommufd': 'iommufd0',"
                         " 'sysfsdev': %s}", g->sysfs);
}

/* device_del, the slot powered off; the DEVICE_DELETED event */
static inline QDict *cg_unplug(CmdqvGuest *g)
{
    qtest_qmp_device_del_send(g->qts, "dev0");
    rp0_slot_power(g->qts, false);
    return qtest_qmp_eventwait_ref(g->qts, "DEVICE_DELETED");
}

/*
 * QEMU's emulated SMMUv3 with CMDQV (accel=off,cmdqv=on), no host: @props
 * more SMMU properties (",..." or ""), @opts more options or NULL. Rings of
 * 4096 entries (64K apart in G_RING).
 */
static inline void cg_start_emulated(CmdqvGuest *g, const char *props,
                                     const char *opts)
{
    g_autofree char *args = g_strdup_printf(
        "-M virt -display none -nodefaults "
        "-device arm-smmuv3,primary-bus=pcie.0,id=smmu0,cmdqv=on%s %s",
        props, opts ? opts : "");

    memset(g, 0, sizeof(*g));
    g->qts = qtest_init(args);
    cg_attach(g);
    g->log2size = MIN(g->log2size, 12);
}

/* Quit; the stand-in, if any, must exit clean */
static inline void cg_stop(CmdqvGuest *g)
{
    qtest_quit(g->qts);
    if (g->host) {
        standin_assert_clean_exit(g->host);
        standin_host_free(g->host);
    }
    g_free(g->sysfs);
}

static inline uint32_t cg_rd(CmdqvGuest *g, uint64_t off)
{
    return qtest_readl(g->qts, g->win + off);
}

static inline void cg_wr(CmdqvGuest *g, uint64_t off, uint32_t v)
{
    qtest_writel(g->qts, g->win + off, v);
}

static inline uint64_t cg_ring(CmdqvGuest *g, unsigned l)
{
    return g->ring + l * 0x10000;
}

/* Step 4 of linux-guest.md for logical queue @l of the window at @win */
static inline void cmdqv_deinit_queue(QTestState *qts, uint64_t win,
                                      unsigned l)
{
    qtest_writel(qts, win + W_P0(l) + Q_CONFIG, 0);
    /* as vcmdq_write_config(): CONS is the hardware's until it stopped */
    for (int i = 0; i < 1000 &&
         (qtest_readl(qts, win + W_P0(l) + Q_STATUS) & 1); i++) {
        g_usleep(1000);
    }
    g_assert_cmphex(qtest_readl(qts, win + W_P0(l) + Q_STATUS) & 1, ==, 0);
    qtest_writel(qts, win + W_P0(l) + Q_PROD, 0);
    qtest_writel(qts, win + W_P0(l) + Q_CONS, 0);
    qtest_writeq(qts, win + W_P1(l), 0);
    qtest_writel(qts, win + W_P0(l) + Q_GERRORN,
                 qtest_readl(qts, win + W_P0(l) + Q_GERROR));
    qtest_writel(qts, win + W_ALLOC_MAP(l),
                 qtest_readl(qts, win + W_ALLOC_MAP(l)) & ~1u);
}

static inline void cg_deinit_queue(CmdqvGuest *g, unsigned l)
{
    cmdqv_deinit_queue(g->qts, g->win, l);
    g->prod[l] = 0;
}

/* Poll queue @l's EN_OK; it must come */
static inline void cg_wait_en_ok(CmdqvGuest *g, unsigned l)
{
    for (int i = 0; i < 1000 && !(cg_rd(g, W_P0(l) + Q_STATUS) & 1); i++) {
        g_usleep(1000);
    }
    g_assert_cmphex(cg_rd(g, W_P0(l) + Q_STATUS) & 1, ==, 1);
}

/* Step 6 for logical queue @l: ALLOCATED, BASE, CMDQ_EN, poll EN_OK */
static inline void cg_init_queue(CmdqvGuest *g, unsigned l)
{
    cg_wr(g, W_ALLOC_MAP(l), cg_rd(g, W_ALLOC_MAP(l)) | 1);
    qtest_writeq(g->qts, g->win + W_P1(l), cg_ring(g, l) | g->log2size);
    cg_wr(g, W_P0(l) + Q_CONFIG, 1);
    cg_wait_en_ok(g, l);
}

/*
 * Steps 1 to 5: CMDQV on, the logical queues mapped and reset, VINTF0
 * enabled, no queue up. @as_linux: as the driver does, with the SID
 * registers cleared and STATUS, HYP_OWN and VINTF0's STATUS checked on
 * the way; otherwise only the writes a test needs before it brings up
 * the queues itself.
 */
static inline void cg_linux_init_vintf(CmdqvGuest *g, bool as_linux)
{
    uint32_t param = cg_rd(g, W_PARAM);
    int l;

    g->nr = 1 << PARAM_LOG2_LVCMDQS(param);
    if (as_linux) {
        g_assert_cmpuint(g->nr, <=, ARRAY_SIZE(g->prod));
    }
    cg_wr(g, W_CONFIG, 0);
    cg_wr(g, W_CONFIG, 1);
    if (as_linux) {
        g_assert_cmphex(cg_rd(g, W_STATUS), ==, 1);
    }
    for (l = 0; l < g->nr; l++) {
        cg_wr(g, W_ALLOC_MAP(l), l << 1);           /* VINTF0, LVCMDQ l */
    }
    for (l = g->nr - 1; l >= 0; l--) {
        cg_deinit_queue(g, l);
    }
    cg_wr(g, W_VINTF0_CONFIG, 0);
    if (as_linux) {
        for (int s = 0; s < 16; s++) {
            cg_wr(g, W_SID_REPLACE(s), 0);
            cg_wr(g, W_SID_MATCH(s), 0);
        }
    }
    cg_wr(g, W_VINTF0_CONFIG, VINTF_HYP_OWN | VINTF_ENABLE);
    if (as_linux) {
        g_assert_cmphex(cg_rd(g, W_VINTF0_CONFIG) & VINTF_HYP_OWN, ==, 0);
        g_assert_cmphex(cg_rd(g, W_VINTF0_STATUS) & 1, ==, 1);
    }
}

/* Steps 1 to 6: the whole init, over whatever the queues were */
static inline void cg_linux_init(CmdqvGuest *g)
{
    cg_linux_init_vintf(g, true);
    for (unsigned l = 0; l < g->nr; l++) {
        cg_init_queue(g, l);
    }
}

/* A command at queue @l's PROD (not rung) */
static inline void cg_cmd(CmdqvGuest *g, unsigned l, uint64_t w0, uint64_t w1)
{
    uint32_t mask = (1u << g->log2size) - 1;
    uint64_t a = cg_ring(g, l) + (g->prod[l] & mask) * 16;

    qtest_writeq(g->qts, a, w0);
    qtest_writeq(g->qts, a + 8, w1);
    g->prod[l] = (g->prod[l] + 1) & ((2u << g->log2size) - 1);
}

/* Ring PROD through the mapped page; wait for CONS (or an error) */
static inline uint32_t cg_kick(CmdqvGuest *g, unsigned l)
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

/* @w0 and a CMD_SYNC on queue @l: both must be consumed */
static inline void cg_submit_ok(CmdqvGuest *g, unsigned l, uint64_t w0)
{
    cg_cmd(g, l, w0, 0);
    cg_cmd(g, l, CMD_SYNC, 0);
    g_assert_cmphex(cg_kick(g, l), ==, g->prod[l]);
}


/* ---- what the guest and the hosts saw ------------------------------------ */

/* Per-queue operator view from query-smmuv3-accel */
static inline QDict *cg_queue_info(CmdqvGuest *g, unsigned l)
{
    QDict *resp = qtest_qmp(g->qts, "{'execute': 'query-smmuv3-accel'}");
    QDict *i = qobject_to(QDict, qlist_peek(qdict_get_qlist(resp, "return")));
    QList *qs = qdict_get_qlist(i, "cmdqv-queues");
    QListEntry *e;
    QDict *ret = NULL;

    g_assert_nonnull(qs);
    QLIST_FOREACH_ENTRY(qs, e) {
        QDict *q = qobject_to(QDict, qlist_entry_obj(e));
        if (qdict_get_int(q, "index") == l) {
            ret = q;
            qobject_ref(ret);
        }
    }
    qobject_unref(resp);
    g_assert_nonnull(ret);
    return ret;
}

/* Commands QEMU executed itself for queue @l (query-smmuv3-accel) */
static inline int64_t cg_executed_by_qemu(CmdqvGuest *g, unsigned l)
{
    QDict *q = cg_queue_info(g, l);
    int64_t n = qdict_get_int(q, "executed-by-qemu");

    qobject_unref(q);
    return n;
}

/* Commands the stand-in's VCMDQ hardware executed, all queues */
static inline int64_t cg_host_executed(CmdqvGuest *g)
{
    QDict *d = standin_dump(g->host);
    int64_t n = qdict_get_int(d, "vcmdq_executed_total");

    qobject_unref(d);
    return n;
}

static inline bool cg_error_active(CmdqvGuest *g, unsigned l)
{
    return (cg_rd(g, W_P0(l) + Q_GERROR) ^ cg_rd(g, W_P0(l) + Q_GERRORN)) & 1;
}

/*
 * The second half of Linux's tegra241_vintf0_handle_error() for queue @l,
 * with the GERROR it read in its first half: the command at CONS becomes a
 * CMD_SYNC (__arm_smmu_cmdq_skip_err()), then GERRORN = @gerror.
 */
static inline void cg_skip_err(CmdqvGuest *g, unsigned l, uint32_t gerror)
{
    uint32_t cons = cg_rd(g, W_P0(l) + Q_CONS);
    uint64_t a = cg_ring(g, l) + (cons & ((1u << g->log2size) - 1)) * 16;

    qtest_writeq(g->qts, a, CMD_SYNC);
    qtest_writeq(g->qts, a + 8, 0);
    cg_wr(g, W_P0(l) + Q_GERRORN, gerror);
}

/* Wait for queue @l to consume up to PROD, handling errors as Linux does */
static inline void cg_drain(CmdqvGuest *g, unsigned l)
{
    for (int i = 0; i < 2000; i++) {
        if (cg_error_active(g, l)) {
            cg_skip_err(g, l, cg_rd(g, W_P0(l) + Q_GERROR));
        }
        if ((cg_rd(g, W_P0(l) + Q_CONS) & 0xfffff) == g->prod[l]) {
            return;
        }
        g_usleep(1000);
    }
    g_assert_cmphex(cg_rd(g, W_P0(l) + Q_CONS) & 0xfffff, ==, g->prod[l]);
}

/* TLBI_NH_ASID, an illegal TLBI_NH_ALL, two more and a CMD_SYNC: @bad */
static inline uint32_t cg_queue_with_illegal(CmdqvGuest *g, unsigned l)
{
    uint32_t bad;

    cg_cmd(g, l, CMD_TLBI_NH_ASID(1), 0);
    bad = g->prod[l];
    cg_cmd(g, l, OP_TLBI_NH_ALL, 0);
    cg_cmd(g, l, CMD_TLBI_NH_ASID(2), 0);
    cg_cmd(g, l, CMD_TLBI_NH_ASID(3), 0);
    cg_cmd(g, l, CMD_SYNC, 0);
    return bad;
}

static inline const char *cg_page(CmdqvGuest *g, unsigned l)
{
    static char page[16];
    QDict *q = cg_queue_info(g, l);

    g_strlcpy(page, qdict_get_str(q, "page"), sizeof(page));
    qobject_unref(q);
    return page;
}

#endif /* TESTS_QTEST_QAC_CMDQV_GUEST_H */
