/*
 * Isolation tests for Tegra241 CMDQV on the accelerated SMMUv3: what a
 * guest writes into its CMDQV window reaches only its own VINTF on the
 * host, never another VINTF, another SMMU's queues, the hypervisor's
 * ownership bit or the host's vSID -> pSID mapping; a queue ring is only
 * ever guest RAM. Asserted on the stand-in's host state (its dump) and on
 * what the guest reads back (spec: cmdqv-hw.md, kernel-contract.md).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "libqtest.h"
#include "qobject/qdict.h"
#include "qobject/qlist.h"
#include "qobject/qstring.h"
#include "standin-qtest.h"
#include "qac-regs.h"
#include "qac-cmdqv-guest.h"

/* A Grace-like host: 4 VINTFs (VINTF0 the host's), 2 queues a VINTF */
#define HOST_CONF_CMDQV_2FN \
    HOST_CONF_CMDQV \
    "[pci 0000:02:00.0]\n" \
    "smmu = smmu0\n" \
    "sid = 0x200\n" \
    "bar0 = 64K\n"

/* Two SMMUs with CMDQV (subprojects/standin/tests/configs/twosmmu.conf) */
#define TWO_SMMUS_SMMU(name) \
    "[smmu " name "]\n" \
    "idr1 = 0x01930510\n" \
    "nesting = yes\n" \
    "cmdqv = yes\n" \
    "cmdqv_vintfs = 2\n" \
    "cmdqv_lvcmdqs = 2\n" \
    "cmdqv_vcmdqs = 4\n" \
    "cmdqv_sids = 4\n"
#define HOST_CONF_TWO_SMMUS \
    "[host]\n" \
    "page_size = 65536\n" \
    TWO_SMMUS_SMMU("smmu0") \
    TWO_SMMUS_SMMU("smmu1") \
    "[pci 0000:01:00.0]\n" \
    "smmu = smmu0\n" \
    "sid = 0x100\n" \
    "bar0 = 64K\n" \
    "[pci 0000:81:00.0]\n" \
    "smmu = smmu1\n" \
    "sid = 0x100\n" \
    "bar0 = 64K\n"

/* -m 100M: RAM ends 4M-aligned */
#define G_RAM_SIZE          (100ULL << 20)

/* Submit @w0 alone: the queue must stop at it with CERROR_ILL */
static void cg_submit_illegal(CmdqvGuest *g, unsigned l, uint64_t w0)
{
    uint32_t at = g->prod[l], cons;

    cg_cmd(g, l, w0, 0);
    cg_cmd(g, l, CMD_SYNC, 0);
    cons = cg_kick(g, l);
    g_assert_cmphex(cons & 0xfffff, ==, at);
    g_assert_cmphex((cons >> 24) & 0x7f, ==, CERROR_ILL);
}

/* ---- the stand-in's view --------------------------------------------------- */

/* The host CMDQV of SMMU @smmu in the dump (borrowed) */
static QDict *host_cmdqv(QDict *d, const char *smmu)
{
    QList *l = qdict_get_qlist(d, "cmdqv");
    QListEntry *e;

    g_assert_nonnull(l);
    QLIST_FOREACH_ENTRY(l, e) {
        QDict *c = qobject_to(QDict, qlist_entry_obj(e));
        if (!strcmp(qdict_get_str(c, "smmu"), smmu)) {
            return c;
        }
    }
    g_assert_not_reached();
}

static QDict *host_vintf(QDict *d, const char *smmu, int64_t v)
{
    QList *l = qdict_get_qlist(host_cmdqv(d, smmu), "vintfs");
    QListEntry *e;

    QLIST_FOREACH_ENTRY(l, e) {
        QDict *vi = qobject_to(QDict, qlist_entry_obj(e));
        if (qdict_get_int(vi, "index") == v) {
            return vi;
        }
    }
    g_assert_not_reached();
}

static int64_t qlist_int_at(QList *l, int i)
{
    QListEntry *e;

    QLIST_FOREACH_ENTRY(l, e) {
        if (i-- == 0) {
            return qnum_get_int(qobject_to(QNum, qlist_entry_obj(e)));
        }
    }
    g_assert_not_reached();
}

static char *to_json(QObject *o)
{
    GString *s = qobject_to_json(o);

    return g_string_free(s, false);
}

/*
 * Host state of SMMU @smmu's CMDQV outside VINTF @own (-1: all of it) as
 * one string: every other VINTF, and the global queues not allocated to
 * @own (allocation and BASE).
 */
static char *host_state_except(QDict *d, const char *smmu, int64_t own)
{
    QDict *c = host_cmdqv(d, smmu);
    QList *vintfs = qdict_get_qlist(c, "vintfs");
    QList *alloc = qdict_get_qlist(c, "alloc_map");
    QList *base = qdict_get_qlist(c, "vcmdq_base");
    GString *s = g_string_new(NULL);
    QListEntry *e;
    int q = 0;

    QLIST_FOREACH_ENTRY(vintfs, e) {
        QDict *vi = qobject_to(QDict, qlist_entry_obj(e));
        if (qdict_get_int(vi, "index") != own) {
            g_autofree char *j = to_json(QOBJECT(vi));
            g_string_append_printf(s, "%s\n", j);
        }
    }
    g_string_append_printf(s, "vintf_err_map %s\n",
                           qdict_get_str(c, "vintf_err_map"));
    for (const QListEntry *ae = qlist_first(alloc), *be = qlist_first(base);
         ae && be; ae = qlist_next(ae), be = qlist_next(be), q++) {
        int64_t a = qnum_get_int(qobject_to(QNum, qlist_entry_obj(ae)));
        const char *b = qstring_get_str(qobject_to(QString,
                                                   qlist_entry_obj(be)));

        if (own < 0 || !(a & 1) || ((a >> 15) & 0x3f) != own) {
            g_string_append_printf(s, "q%d alloc %" PRId64 " base %s\n", q,
                                   a, b);
        }
    }
    return g_string_free(s, false);
}

/* ---- the VINTF page: the only thing QEMU maps; other VINTFs unreachable ---- */

static void test_only_own_vintf_page_mapped(void)
{
    CmdqvGuest g;
    QDict *d, *viommu, *m;
    QList *mmaps;
    g_autofree char *before = NULL, *after = NULL;
    g_autofree char *hwqs_before = NULL, *hwqs_after = NULL;
    int64_t vintf;

    cg_start(&g, HOST_CONF_CMDQV_2FN, "-m 100M");
    cg_linux_init(&g);
    cg_submit_ok(&g, 0, CMD_TLBI_NH_ASID(1));
    cg_submit_ok(&g, 1, CMD_TLBI_NH_ASID(2));

    d = standin_dump(g.host);
    viommu = standin_single(d, "viommu");
    vintf = qdict_get_int(viommu, "vintf");
    g_assert_cmpint(vintf, >, 0);       /* VINTF0 is the host's */
    mmaps = qdict_get_qlist(d, "mmaps");
    g_assert_cmpint(qlist_size(mmaps), ==, 1);
    m = qobject_to(QDict, qlist_peek(mmaps));
    g_assert_cmpint(qdict_get_int(m, "viommu"), ==,
                    qdict_get_int(viommu, "id"));
    g_assert_cmpint(qdict_get_int(m, "offset"), ==,
                    qdict_get_int(viommu, "mmap_offset"));
    g_assert_cmpint(qdict_get_int(m, "length"), ==,
                    qdict_get_int(viommu, "mmap_length"));
    g_assert_cmpint(qdict_get_int(m, "length"), ==, 0x10000);
    before = host_state_except(d, "smmu0", vintf);
    hwqs_before = to_json(QOBJECT(qdict_get_qlist(host_cmdqv(d, "smmu0"),
                                                  "alloc_map")));
    qobject_unref(d);

    /* Other VINTFs' config registers (a guest has only VINTF0) */
    for (int v = 1; v < 4; v++) {
        cg_wr(&g, W_VINTF_CONFIG(v), VINTF_HYP_OWN | VINTF_VMID(v) |
                                     VINTF_ENABLE);
        for (int s = 0; s < 16; s++) {
            cg_wr(&g, W_VINTF_SID_REPLACE(v, s), 0x200);
            cg_wr(&g, W_VINTF_SID_MATCH(v, s), 0x21);
        }
        g_assert_cmphex(cg_rd(&g, W_VINTF_CONFIG(v)), ==, 0);
        g_assert_cmphex(cg_rd(&g, W_VINTF_SID_MATCH(v, 0)), ==, 0);
    }
    /* Global queues beyond this VM's: allocated to other VINTFs, run */
    for (int q = g.nr; q < 16; q++) {
        cg_wr(&g, W_ALLOC_MAP(q), 1 | (1 << 1) | ((q % 4) << 15));
        g_assert_cmphex(cg_rd(&g, W_ALLOC_MAP(q)), ==, 0);
        qtest_writeq(g.qts, g.win + W_GP1(q), G_RING | g.log2size);
        cg_wr(&g, W_GP0(q) + Q_CONFIG, 1);
        cg_wr(&g, W_GP0(q) + Q_PROD, 1);
        g_assert_cmphex(cg_rd(&g, W_GP0(q) + Q_CONFIG), ==, 0);
    }
    /* This VM's queues to other VINTFs or logical queues it does not have */
    for (int q = 0; q < g.nr; q++) {
        uint32_t was = cg_rd(&g, W_ALLOC_MAP(q));

        cg_wr(&g, W_ALLOC_MAP(q), 1 | (q << 1) | (2 << 15));
        g_assert_cmphex(cg_rd(&g, W_ALLOC_MAP(q)) & 1, ==, 0);
        cg_wr(&g, W_ALLOC_MAP(q), 1 | (5 << 1));
        g_assert_cmphex(cg_rd(&g, W_ALLOC_MAP(q)) & 1, ==, 0);
        cg_wr(&g, W_ALLOC_MAP(q), was);
    }
    /* Logical queues beyond this VINTF's, in its pages */
    for (int l = g.nr; l < 8; l++) {
        qtest_writeq(g.qts, g.win + W_P1(l), G_RING | g.log2size);
        cg_wr(&g, W_P0(l) + Q_CONFIG, 1);
    }

    d = standin_dump(g.host);
    after = host_state_except(d, "smmu0", vintf);
    g_assert_cmpstr(after, ==, before);
    hwqs_after = to_json(QOBJECT(qdict_get_qlist(host_cmdqv(d, "smmu0"),
                                                 "alloc_map")));
    g_assert_cmpstr(hwqs_after, ==, hwqs_before);
    g_assert_cmpint(qlist_size(qdict_get_qlist(d, "mmaps")), ==, 1);
    g_assert_cmpint(standin_count(d, "viommu"), ==, 1);
    g_assert_cmpint(standin_count(d, "hw_queue"), ==, g.nr);
    qobject_unref(d);
    /* The VM's own queues are unharmed */
    cg_wait_en_ok(&g, 0);
    cg_wait_en_ok(&g, 1);
    cg_submit_ok(&g, 0, CMD_TLBI_NH_ASID(3));
    cg_submit_ok(&g, 1, CMD_TLBI_NH_ASID(4));
    cg_stop(&g);
}

/* ---- HYP_OWN: never the guest's ------------------------------------------- */

static void test_hyp_own_refused(void)
{
    const uint32_t writes[] = {
        VINTF_HYP_OWN | VINTF_ENABLE,
        VINTF_HYP_OWN,
        VINTF_HYP_OWN | VINTF_VMID(0x7) | VINTF_ENABLE,
        0xffffffff,
    };
    CmdqvGuest g;
    QDict *d, *viommu, *ex;
    QList *exl;
    int64_t vintf, vmid, host_config;
    QListEntry *e;

    cg_start(&g, HOST_CONF_CMDQV_2FN, "-m 100M");
    cg_linux_init(&g);
    d = standin_dump(g.host);
    viommu = standin_single(d, "viommu");
    vintf = qdict_get_int(viommu, "vintf");
    vmid = qdict_get_int(viommu, "vmid");
    host_config = qdict_get_int(host_vintf(d, "smmu0", vintf), "config");
    g_assert_cmphex(host_config & VINTF_HYP_OWN, ==, 0);
    qobject_unref(d);

    for (int i = 0; i < ARRAY_SIZE(writes); i++) {
        cg_wr(&g, W_VINTF0_CONFIG, writes[i]);
        g_assert_cmphex(cg_rd(&g, W_VINTF0_CONFIG) & VINTF_HYP_OWN, ==, 0);
        /* also as one 64-bit write (the upper half is the RO STATUS) */
        qtest_writeq(g.qts, g.win + W_VINTF0_CONFIG,
                     writes[i] | (0xffffffffULL << 32));
        g_assert_cmphex(qtest_readq(g.qts, g.win + W_VINTF0_CONFIG) &
                        VINTF_HYP_OWN, ==, 0);
        d = standin_dump(g.host);
        g_assert_cmphex(qdict_get_int(host_vintf(d, "smmu0", vintf),
                                      "config"), ==, host_config);
        qobject_unref(d);
    }
    /* Guest owned, with the VM's VMID: hypervisor commands are illegal */
    cg_wr(&g, W_VINTF0_CONFIG, VINTF_HYP_OWN | VINTF_VMID(0x7) |
                               VINTF_ENABLE);
    cg_wait_en_ok(&g, 0);
    cg_wait_en_ok(&g, 1);
    cg_submit_illegal(&g, 0, CMD_CFGI_STE(0x10));
    cg_submit_illegal(&g, 1, CMD_TLBI_NSNH_ALL);
    /* The VMID of a TLBI is the host's for this VM, not the guest's */
    g_assert_cmpint(vmid, !=, 0x7);
    /* Linux's recovery: the command rewritten as a CMD_SYNC, GERRORN */
    qtest_writeq(g.qts, cg_ring(&g, 0) + (g.prod[0] - 2) * 16,
                 CMD_SYNC);
    cg_wr(&g, W_P0(0) + Q_GERRORN, cg_rd(&g, W_P0(0) + Q_GERROR));
    for (int i = 0; i < 2000 && cg_rd(&g, W_P0(0) + Q_CONS) != g.prod[0];
         i++) {
        g_usleep(1000);
    }
    g_assert_cmphex(cg_rd(&g, W_P0(0) + Q_CONS), ==, g.prod[0]);
    cg_submit_ok(&g, 0, CMD_TLBI_NH_ASID(0x55) | (0x7ULL << 32));

    d = standin_dump(g.host);
    g_assert_cmphex(qdict_get_int(host_vintf(d, "smmu0", vintf), "config"),
                    ==, host_config);
    exl = qdict_get_qlist(d, "vcmdq_executed");
    ex = NULL;
    QLIST_FOREACH_ENTRY(exl, e) {
        QDict *r = qobject_to(QDict, qlist_entry_obj(e));

        g_assert_cmpstr(qdict_get_str(r, "op"), !=, "CFGI_STE");
        g_assert_cmpstr(qdict_get_str(r, "op"), !=, "TLBI_NSNH_ALL");
        if (!strcmp(qdict_get_str(r, "op"), "TLBI_NH_ASID") &&
            qdict_get_int(r, "asid") == 0x55) {
            ex = r;
        }
    }
    g_assert_nonnull(ex);
    g_assert_cmpint(qdict_get_int(ex, "vmid"), ==, vmid);
    qobject_unref(d);
    cg_stop(&g);
}

/* ---- SID_MATCH / SID_REPLACE: the host's vDEVICE mapping stays ------------ */

#define DEV_SID             0x10        /* pcie.0 slot 2 */

/* A driver's probe, then STE @sid stage 1: CFGI_STE and CMD_SYNC consumed */
static void smmu_install_s1_ste(CmdqvGuest *g, uint32_t sid)
{
    uint64_t smmu = qtest_mtree_base(g->qts, "arm-smmuv3");
    QTestState *q = g->qts;
    uint32_t prod = 0;

    smmu_probe(q, smmu, 8, 0, 0);
    qtest_writeq(q, G_STRTAB + sid * 64, STE0_S1(G_CD));
    smmu_cmd(q, &prod, CMD_CFGI_STE(sid), 1);
    smmu_cmd(q, &prod, CMD_SYNC, 0);
    qtest_writel(q, smmu + R_CMDQ_PROD, prod);
    g_assert_cmphex(qtest_readl(q, smmu + R_CMDQ_CONS), ==, 2);
}

static void test_sid_mapping_unchangeable(void)
{
    CmdqvGuest g;
    QDict *d, *vdev, *vi, *last;
    QList *exl;
    int64_t vintf, slot, vdev_id;
    g_autofree char *sids_before = NULL, *sids_after = NULL;

    cg_start(&g, HOST_CONF_CMDQV_2FN, "-m 100M");
    smmu_install_s1_ste(&g, DEV_SID);
    cg_linux_init(&g);          /* clears every SID_MATCH / SID_REPLACE */

    d = standin_dump(g.host);
    vdev = standin_single(d, "vdevice");
    vdev_id = qdict_get_int(vdev, "id");
    vintf = qdict_get_int(standin_single(d, "viommu"), "vintf");
    slot = qdict_get_int(vdev, "sid_slot");
    g_assert_cmpint(qdict_get_int(vdev, "virt_id"), ==, DEV_SID);
    g_assert_cmpint(qdict_get_int(vdev, "psid"), ==, 0x100);
    vi = host_vintf(d, "smmu0", vintf);
    /* The kernel's mapping survived the guest's clearing writes */
    g_assert_cmphex(qlist_int_at(qdict_get_qlist(vi, "sid_match"), slot), ==,
                    DEV_SID << 1 | 1);
    g_assert_cmphex(qlist_int_at(qdict_get_qlist(vi, "sid_replace"), slot),
                    ==, 0x100);
    sids_before = to_json(QOBJECT(vi));
    qobject_unref(d);

    /*
     * The guest maps its vSID to another device's pSID (0x200, the other
     * function of this host) and a made-up vSID 0x55 to this one's:
     * remembered only (cmdqv-hw.md), read back as written.
     */
    for (int s = 0; s < 16; s++) {
        cg_wr(&g, W_SID_REPLACE(s), s == 0 ? 0x100 : 0x200);
        cg_wr(&g, W_SID_MATCH(s), s == 0 ? (0x55 << 1 | 1) :
                                             (DEV_SID << 1 | 1));
    }
    g_assert_cmphex(cg_rd(&g, W_SID_MATCH(0)), ==, 0x55 << 1 | 1);
    g_assert_cmphex(cg_rd(&g, W_SID_REPLACE(0)), ==, 0x100);
    g_assert_cmphex(cg_rd(&g, W_SID_MATCH(1)), ==, DEV_SID << 1 | 1);
    g_assert_cmphex(cg_rd(&g, W_SID_REPLACE(1)), ==, 0x200);

    d = standin_dump(g.host);
    vdev = standin_single(d, "vdevice");
    g_assert_cmpint(qdict_get_int(vdev, "id"), ==, vdev_id);
    g_assert_cmpint(qdict_get_int(vdev, "psid"), ==, 0x100);
    vi = host_vintf(d, "smmu0", vintf);
    sids_after = to_json(QOBJECT(vi));
    g_assert_cmpstr(sids_after, ==, sids_before);
    g_assert_cmpint(standin_ioctl_count(d, "IOMMU_VDEVICE_ALLOC"), ==, 1);
    qobject_unref(d);

    /* The hardware goes by the host's mapping: vSID 0x10 -> pSID 0x100 */
    cg_submit_ok(&g, 0, CMD_ATC_INV(DEV_SID));
    d = standin_dump(g.host);
    exl = qdict_get_qlist(d, "vcmdq_executed");
    last = NULL;
    for (const QListEntry *e = qlist_first(exl); e; e = qlist_next(e)) {
        QDict *r = qobject_to(QDict, qlist_entry_obj(e));
        if (!strcmp(qdict_get_str(r, "op"), "ATC_INV")) {
            last = r;
        }
    }
    g_assert_nonnull(last);
    g_assert_cmpint(qdict_get_int(last, "sid"), ==, 0x100);
    qobject_unref(d);
    /* ... and the guest's made-up vSID matches nothing on the host */
    cg_submit_illegal(&g, 1, CMD_ATC_INV(0x55));
    cg_stop(&g);
}

/*
 * ---- rings: guest RAM only --------------------------------------------------
 * tegra241-cmdqv-test's base-outside-ram-init-err covers QEMU's placeholder
 * IOVA (2^48 - 64K), MMIO, the hole above RAM and a misaligned base. Here:
 * a ring that starts in RAM and runs past its end, flash (ROM device), the
 * host VINTF page QEMU maps into the window (RAM device), another SMMU's
 * placeholder IOVA, and a ring larger than the host takes.
 */
static void test_ring_outside_ram_extra(void)
{
    struct {
        uint64_t base;
        unsigned log2size;      /* 0: the guest's IDR1.CMDQS */
        bool host_refuses;      /* in RAM, QEMU asks; the host says no */
    } bad[] = {
        { G_RAM_BASE, 24 },             /* 256 MiB from RAM's start */
        { G_RAM_BASE + G_RAM_SIZE - (4 << 20), 19 },    /* 8M: 4M past */
        { 0x1000, 0 },                  /* flash */
        { 0, 0 },                       /* the host VINTF page (below) */
        { 0xfffffffe0000ULL, 0 },       /* a second SMMU's placeholder */
        { G_RAM_BASE, 22, true },       /* 64M in RAM: above host CMDQS */
    };
    CmdqvGuest g;
    QDict *d;
    int64_t allocs;

    cg_start(&g, HOST_CONF_CMDQV_2FN, "-m 100M");
    bad[3].base = g.win + 0x30000;
    cg_linux_init_vintf(&g, true);
    cg_init_queue(&g, 0);
    cg_submit_ok(&g, 0, CMD_TLBI_NH_ASID(1));

    cg_wr(&g, W_ALLOC_MAP(1), cg_rd(&g, W_ALLOC_MAP(1)) | 1);
    for (int i = 0; i < ARRAY_SIZE(bad); i++) {
        unsigned log2size = bad[i].log2size ?: g.log2size;

        d = standin_dump(g.host);
        allocs = standin_ioctl_count(d, "IOMMU_HW_QUEUE_ALLOC");
        qobject_unref(d);
        qtest_writeq(g.qts, g.win + W_P1(1), bad[i].base | log2size);
        cg_wr(&g, W_P0(1) + Q_CONFIG, 1);
        g_assert_cmphex(cg_rd(&g, W_P0(1) + Q_STATUS) & 1, ==, 0);
        g_assert_cmphex(cg_rd(&g, W_P0(1) + Q_GERROR) & Q_GERROR_INIT_ERR, ==,
                        Q_GERROR_INIT_ERR);
        d = standin_dump(g.host);
        /* Only queue 0's HW queue; QEMU asked the host only if in RAM */
        g_assert_cmpint(standin_count(d, "hw_queue"), ==, 1);
        g_assert_cmpint(standin_ioctl_count(d, "IOMMU_HW_QUEUE_ALLOC"), ==,
                        allocs + (bad[i].host_refuses ? 1 : 0));
        qobject_unref(d);
        /* Queue 0 runs on */
        cg_submit_ok(&g, 0, CMD_TLBI_NH_ASID(0x10 + i));
    }
    /* A good ring: queue 1 comes up */
    qtest_writeq(g.qts, g.win + W_P1(1), cg_ring(&g, 1) | g.log2size);
    cg_wait_en_ok(&g, 1);
    g_assert_cmphex(cg_rd(&g, W_P0(1) + Q_GERROR) & Q_GERROR_INIT_ERR, ==, 0);
    cg_submit_ok(&g, 1, CMD_TLBI_NH_ASID(0x20));
    cg_stop(&g);
}

/* ---- two SMMUs: one's window never reaches the other's queues ----------- */

/* Every distinct base of a region named @name in info mtree */
static int mtree_bases(QTestState *qts, const char *name, uint64_t *out,
                       int max)
{
    g_autofree char *mtree = qtest_hmp(qts, "info mtree");
    g_autofree char *pat = g_strdup_printf("): %s", name);
    int n = 0;

    for (char *p = strstr(mtree, pat); p; p = strstr(p + 1, pat)) {
        char *line = p, c = p[strlen(pat)];
        uint64_t base;
        bool seen = false;

        if (c != '\r' && c != '\n') {
            continue;
        }
        while (line > mtree && line[-1] != '\n') {
            line--;
        }
        base = g_ascii_strtoull(line + strspn(line, " "), NULL, 16);
        for (int i = 0; i < n; i++) {
            seen |= out[i] == base;
        }
        if (!seen && n < max) {
            out[n++] = base;
        }
    }
    return n;
}

/* The guest's view of a window's queues: all registers, as a string */
static char *window_regs(CmdqvGuest *w)
{
    GString *s = g_string_new(NULL);

    g_string_append_printf(s, "config %x vintf %x", cg_rd(w, W_CONFIG),
                           cg_rd(w, W_VINTF0_CONFIG));
    for (unsigned l = 0; l < 2; l++) {
        g_string_append_printf(s, " | map %x cons %x prod %x config %x "
                               "status %x gerror %x base %" PRIx64,
                               cg_rd(w, W_ALLOC_MAP(l)),
                               cg_rd(w, W_P0(l) + Q_CONS),
                               cg_rd(w, W_P0(l) + Q_PROD),
                               cg_rd(w, W_P0(l) + Q_CONFIG),
                               cg_rd(w, W_P0(l) + Q_STATUS),
                               cg_rd(w, W_P0(l) + Q_GERROR),
                               qtest_readq(w->qts, w->win + W_P1(l)));
    }
    return g_string_free(s, false);
}

/* The host SMMU name and VINTF of the vIOMMU holding HW queue @id */
static const char *hw_queue_smmu(QDict *d, int64_t id, int64_t *vintf)
{
    QDict *q = standin_object(d, id);
    QDict *v;

    g_assert_nonnull(q);
    v = standin_object(d, qdict_get_int(q, "viommu"));
    g_assert_nonnull(v);
    *vintf = qdict_get_int(v, "vintf");
    return qdict_get_str(v, "smmu");
}

/* Every HW queue is on @smmu; every command executed by one of them */
static void assert_queues_on(QDict *d, const char *smmu, unsigned nr_queues)
{
    g_autoptr(GPtrArray) hwqs = standin_objects(d, "hw_queue");
    QList *exl = qdict_get_qlist(d, "vcmdq_executed");
    QListEntry *e;
    int64_t vintf;

    g_assert_cmpint(hwqs->len, ==, nr_queues);
    for (int i = 0; i < hwqs->len; i++) {
        QDict *q = g_ptr_array_index(hwqs, i);

        g_assert_cmpstr(hw_queue_smmu(d, qdict_get_int(q, "id"), &vintf), ==,
                        smmu);
    }
    QLIST_FOREACH_ENTRY(exl, e) {
        QDict *r = qobject_to(QDict, qlist_entry_obj(e));
        QDict *q = standin_object(d, qdict_get_int(r, "hw_queue"));

        if (q) {    /* a HW queue since freed is not in the dump */
            g_assert_cmpstr(hw_queue_smmu(d, qdict_get_int(q, "id"), &vintf),
                            ==, smmu);
            g_assert_cmpint(qdict_get_int(r, "vintf"), ==, vintf);
        }
    }
}

static void test_two_smmus_isolated(void)
{
    CmdqvGuest a, b;
    g_autofree char *sysfs0 = NULL, *sysfs1 = NULL, *args = NULL;
    g_autofree char *b_regs0 = NULL, *b_regs1 = NULL;
    g_autofree char *b_host0 = NULL, *b_host1 = NULL;
    g_autofree char *a_regs0 = NULL, *a_regs1 = NULL;
    g_autofree char *a_host0 = NULL, *a_host1 = NULL;
    uint64_t wins[4];
    const char *smmu_a, *smmu_b;
    int64_t vintf_a, id0, id1;
    QDict *d;
    g_autoptr(GPtrArray) hwqs = NULL;
    g_autoptr(GPtrArray) viommus = NULL;

    memset(&a, 0, sizeof(a));
    a.host = standin_host_new(HOST_CONF_TWO_SMMUS);
    sysfs0 = standin_sysfsdev(a.host, "0000:01:00.0");
    sysfs1 = standin_sysfsdev(a.host, "0000:81:00.0");
    args = g_strdup_printf(
        "-M virt -m 100M -display none -nodefaults "
        "-object iommufd,id=iommufd0 "
        "-device arm-smmuv3,primary-bus=pcie.0,id=smmu0,accel=on,cmdqv=on "
        DEV_ARGS "%s "
        "-device pxb-pcie,id=pci.1,bus_nr=1,bus=pcie.0 "
        "-device arm-smmuv3,primary-bus=pci.1,id=smmu1,accel=on,cmdqv=on "
        "-device pcie-root-port,id=rp1,bus=pci.1,chassis=2 "
        "-device vfio-pci,id=dev1,bus=rp1,iommufd=iommufd0,sysfsdev=%s",
        sysfs0, sysfs1);
    a.qts = standin_qtest_start(a.host, args);
    g_assert_cmpint(mtree_bases(a.qts, "tegra241-cmdqv", wins, 4), ==, 2);
    cg_attach(&a);
    a.win = wins[0];
    b = a;
    b.win = wins[1];
    b.ring = G_RING + 0x200000;

    d = standin_dump(a.host);
    viommus = standin_objects(d, "viommu");
    g_assert_cmpint(viommus->len, ==, 2);
    for (int i = 0; i < 2; i++) {
        g_assert_cmpstr(qdict_get_str(g_ptr_array_index(viommus, i),
                                      "viommu_type"), ==, "tegra241_cmdqv");
    }
    g_assert_cmpint(standin_count(d, "hw_queue"), ==, 0);
    g_assert_cmpint(qlist_size(qdict_get_qlist(d, "mmaps")), ==, 2);
    qobject_unref(d);
    b_regs0 = window_regs(&b);

    /* The guest programs and runs A's queues only */
    cg_linux_init(&a);
    cg_submit_ok(&a, 0, CMD_TLBI_NH_ASID(0xa0));
    cg_submit_ok(&a, 1, CMD_TLBI_NH_ASID(0xa1));
    d = standin_dump(a.host);
    hwqs = standin_objects(d, "hw_queue");
    g_assert_cmpint(hwqs->len, ==, 2);
    smmu_a = hw_queue_smmu(d, qdict_get_int(g_ptr_array_index(hwqs, 0), "id"),
                           &vintf_a);
    smmu_a = !strcmp(smmu_a, "smmu0") ? "smmu0" : "smmu1";
    smmu_b = !strcmp(smmu_a, "smmu0") ? "smmu1" : "smmu0";
    assert_queues_on(d, smmu_a, 2);
    /* B's host CMDQV: no queue allocated, no BASE, its VINTFs untouched */
    b_host0 = host_state_except(d, smmu_b, -1);
    g_assert_null(strstr(b_host0, "alloc 1"));
    id0 = qdict_get_int(g_ptr_array_index(hwqs, 0), "id");
    id1 = qdict_get_int(g_ptr_array_index(hwqs, 1), "id");
    qobject_unref(d);
    g_test_message("window 0x%" PRIx64 " is %s's, 0x%" PRIx64 " %s's",
                   a.win, smmu_a, b.win, smmu_b);
    /* ... and B's window shows nothing of what A's got */
    b_regs1 = window_regs(&b);
    g_assert_cmpstr(b_regs1, ==, b_regs0);

    /* Writes to A's global queues beyond its VINTF's: not B's either */
    for (int q = a.nr; q < 8; q++) {
        cg_wr(&a, W_ALLOC_MAP(q), 1 | ((q % 2) << 1));
        qtest_writeq(a.qts, a.win + W_GP1(q), b.ring | a.log2size);
        cg_wr(&a, W_GP0(q) + Q_CONFIG, 1);
    }
    d = standin_dump(a.host);
    b_host1 = host_state_except(d, smmu_b, -1);
    g_assert_cmpstr(b_host1, ==, b_host0);
    qobject_unref(d);

    /* Now B's queues: A's go on as they were */
    a_regs0 = window_regs(&a);
    d = standin_dump(a.host);
    a_host0 = host_state_except(d, smmu_a, vintf_a);
    qobject_unref(d);
    cg_linux_init(&b);
    cg_submit_ok(&b, 0, CMD_TLBI_NH_ASID(0xb0));
    cg_submit_ok(&b, 1, CMD_TLBI_NH_ASID(0xb1));
    a_regs1 = window_regs(&a);
    g_assert_cmpstr(a_regs1, ==, a_regs0);
    d = standin_dump(a.host);
    a_host1 = host_state_except(d, smmu_a, vintf_a);
    g_assert_cmpstr(a_host1, ==, a_host0);
    g_assert_nonnull(standin_object(d, id0));   /* A's HW queues kept */
    g_assert_nonnull(standin_object(d, id1));
    g_assert_cmpint(standin_count(d, "hw_queue"), ==, 4);
    {
        QList *exl = qdict_get_qlist(d, "vcmdq_executed");
        QListEntry *e;

        /* Each command executed on the SMMU whose window it was sent to */
        QLIST_FOREACH_ENTRY(exl, e) {
            QDict *r = qobject_to(QDict, qlist_entry_obj(e));
            int64_t asid = qdict_get_int(r, "asid"), v;
            const char *s;

            if (strcmp(qdict_get_str(r, "op"), "TLBI_NH_ASID")) {
                continue;
            }
            s = hw_queue_smmu(d, qdict_get_int(r, "hw_queue"), &v);
            g_assert_cmpstr(s, ==, (asid & 0xf0) == 0xa0 ? smmu_a : smmu_b);
            g_assert_cmpint(qdict_get_int(r, "vintf"), ==, v);
        }
    }
    qobject_unref(d);
    cg_submit_ok(&a, 0, CMD_TLBI_NH_ASID(0xa2));
    cg_submit_ok(&a, 1, CMD_TLBI_NH_ASID(0xa3));
    cg_stop(&a);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    qtest_add_func("/qac-isolation/standin/only-own-vintf-page-mapped",
                   test_only_own_vintf_page_mapped);
    qtest_add_func("/qac-isolation/standin/hyp-own-refused",
                   test_hyp_own_refused);
    qtest_add_func("/qac-isolation/standin/sid-mapping-unchangeable",
                   test_sid_mapping_unchangeable);
    qtest_add_func("/qac-isolation/standin/ring-outside-ram-extra",
                   test_ring_outside_ram_extra);
    qtest_add_func("/qac-isolation/standin/two-smmus-isolated",
                   test_two_smmus_isolated);
    return g_test_run();
}
