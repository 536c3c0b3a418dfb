/*
 * NVIDIA Tegra241 CMDQV register model (spec: cmdqv-hw.md), backed by a
 * host VINTF through iommufd.
 *
 * The guest sees one VINTF (VINTF0) with 'nr' logical queues.  Its setup
 * writes (CMDQ_ALLOC_MAP, BASE, VINTF and CMDQV enables) are trapped and
 * become wishes of the queue mapper (tegra241-cmdqv-mapper.c), which turns
 * them into host HW queues (IOMMU_HW_QUEUE_ALLOC) at its syncs.  While the
 * mapper says so, the host VINTF's page 0 is mapped straight into the
 * guest at window offset 0x30000 and the guest rings its queues with no
 * exit; otherwise page-0 accesses are trapped and forwarded to the host
 * queue the mapper names, or served from the shadow registers.
 *
 * Host objects, and the one place each is freed:
 *   HW queues                         the mapper (tegra241_cmdqv_host_detach)
 *   vEVENTQ, page-0 mmap, placeholder tegra241_cmdqv_host_detach
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/log.h"
#include "qemu/error-report.h"
#include "qemu/main-loop.h"
#include "qemu/timer.h"
#include "qemu/memalign.h"
#include "qemu/units.h"
#include "qapi/error.h"
#include "hw/registerfields.h"
#include "hw/sysbus.h"
#include "hw/irq.h"
#include "system/iommufd-viommu.h"
#include "tegra241-cmdqv.h"
#include "tegra241-cmdqv-mapper.h"
#include "smmuv3-internal.h"
#include "trace.h"
#include "migration/vmstate.h"
#include "system/runstate.h"
#include <linux/iommufd.h>

/* Config page */
REG32(CONFIG, 0x000)
    FIELD(CONFIG, CMDQV_EN, 0, 1)
    FIELD(CONFIG, PER_CMD_OFFSET, 1, 3)
    FIELD(CONFIG, CLK_BATCH, 4, 8)
    FIELD(CONFIG, CMD_BATCH, 12, 8)
    FIELD(CONFIG, CONS_DRAM_EN, 20, 1)
REG32(PARAM, 0x004)
    FIELD(PARAM, VER, 0, 4)
    FIELD(PARAM, NUM_VCMDQ_LOG2, 4, 4)
    FIELD(PARAM, NUM_VINTF_LOG2, 8, 4)
    FIELD(PARAM, NUM_SID_PER_VINTF_LOG2, 12, 4)
REG32(STATUS, 0x008)
    FIELD(STATUS, CMDQV_ENABLED, 0, 1)
REG32(VINTF_ERR_MAP, 0x014)         /* and 0x018 */
REG32(VINTF_INT_MASK, 0x01c)        /* and 0x020 */
REG32(CMDQ_ERR_MAP, 0x024)          /* 0x024 + 4m, m = 0..3 */
REG32(CMDQ_ALLOC_MAP, 0x200)        /* 0x200 + 4q */
    FIELD(CMDQ_ALLOC_MAP, ALLOCATED, 0, 1)
    FIELD(CMDQ_ALLOC_MAP, LVCMDQ, 1, 7)
    FIELD(CMDQ_ALLOC_MAP, VINTF, 15, 6)
#define CMDQV_VINTF_STRIDE      0x100   /* VINTF(v) at 0x1000 + 0x100 * v */
REG32(VINTF0_CONFIG, 0x1000)
    FIELD(VINTF0_CONFIG, ENABLE, 0, 1)
    FIELD(VINTF0_CONFIG, VMID, 1, 16)
    FIELD(VINTF0_CONFIG, HYP_OWN, 17, 1)
REG32(VINTF0_STATUS, 0x1004)
    FIELD(VINTF0_STATUS, ENABLE_OK, 0, 1)
    FIELD(VINTF0_STATUS, STATUS, 1, 3)
REG32(VINTF0_SID_MATCH, 0x1040)     /* 0x1040 + 4s */
    FIELD(VINTF0_SID_MATCH, ENABLE, 0, 1)
    FIELD(VINTF0_SID_MATCH, VIRT_SID, 1, 31)
REG32(VINTF0_SID_REPLACE, 0x1080)   /* 0x1080 + 4s */
REG32(VINTF0_LVCMDQ_ERR_MAP, 0x10c0) /* 64 bit at 0x10c0 and 0x10c8 */

/* Per-queue page 0, at q * 0x80 */
REG32(VCMDQ_CONS_INDX, 0x00)
    FIELD(VCMDQ_CONS_INDX, RD, 0, 20)
    FIELD(VCMDQ_CONS_INDX, ERR, 24, 7)
REG32(VCMDQ_PROD_INDX, 0x04)
REG32(VCMDQ_CONFIG, 0x08)
    FIELD(VCMDQ_CONFIG, CMDQ_EN, 0, 1)
REG32(VCMDQ_STATUS, 0x0c)
    FIELD(VCMDQ_STATUS, CMDQ_EN_OK, 0, 1)
REG32(VCMDQ_GERROR, 0x10)
    FIELD(VCMDQ_GERROR, CMDQ_ERR, 0, 1)
    FIELD(VCMDQ_GERROR, CONS_DRAM_WR_ABT, 1, 1)
    FIELD(VCMDQ_GERROR, CMDQ_INIT_ERR, 2, 1)
REG32(VCMDQ_GERRORN, 0x14)

/* Per-queue page 1, at q * 0x80 */
REG32(VCMDQ_BASE_L, 0x00)
    FIELD(VCMDQ_BASE_L, LOG2SIZE, 0, 5)
    FIELD(VCMDQ_BASE_L, ADDR_L, 5, 27)
REG32(VCMDQ_BASE_H, 0x04)
REG32(VCMDQ_CONS_INDX_BASE_L, 0x08)
REG32(VCMDQ_CONS_INDX_BASE_H, 0x0c)

#define CMDQV_PAGE_SIZE         0x10000
#define CMDQV_GLOBAL_PAGE0      0x10000
#define CMDQV_GLOBAL_PAGE1      0x20000
#define CMDQV_VINTF0_PAGE0      0x30000
#define CMDQV_VINTF0_PAGE1      0x40000
#define CMDQV_QUEUE_STRIDE      0x80
#define CMDQV_NR_SIDS           16
#define CMDQV_VERSION           1
#define VCMDQ_BASE_ADDR_MASK    MAKE_64BIT_MASK(5, 43)
#define VCMDQ_CONFIG_WRITABLE   R_VCMDQ_CONFIG_CMDQ_EN_MASK
#define CONFIG_WRITABLE         MAKE_64BIT_MASK(0, 21)

typedef struct CmdqvQueue {
    /* Shadow page 0: what the guest sees while its queue has no host one */
    uint32_t cons, prod, config, gerror, gerrorn;
    uint64_t base, cons_indx_base;
    bool backed;            /* had a host queue at the last sync */
    bool base_bad;          /* BASE outside guest RAM or misaligned */
    bool restored;          /* restore_state() ran in this sync */
    /*
     * Backed, but stopped on an error the guest has not acknowledged: the
     * queue stays QEMU's (page trapped, its host queue disabled) until the
     * GERRORN write, because its GERROR lives here and a host queue's
     * GERROR is the hardware's, which QEMU cannot write.
     */
    bool held;
    uint64_t traps;         /* trapped page-0 accesses */
    uint64_t emulated;      /* commands QEMU executed for it (no host) */
} CmdqvQueue;

typedef struct CmdqvVintf {
    uint32_t config;
    uint32_t sid_match[CMDQV_NR_SIDS];
    uint32_t sid_replace[CMDQV_NR_SIDS];
} CmdqvVintf;

struct Tegra241Cmdqv {
    SMMUv3State *smmu;
    MemoryRegion window;
    MemoryRegion page0;     /* the host VINTF page 0, while attached */
    qemu_irq irq;
    unsigned nr;            /* guest logical queues, 0: CMDQV off */

    /*
     * The host's view (accel=off, cmdqv-vintfs=N): N VINTFs, HYP_OWN
     * writable; VINTF v's logical queue i is queue slot v * nr + i.
     * Otherwise one guest-owned VINTF, slot = logical index.
     */
    bool host_view;
    unsigned vintfs;

    uint32_t config;
    uint32_t vintf_int_mask[2];
    uint32_t alloc_map[TEGRA241_CMDQV_MAX_QUEUES];
    CmdqvVintf vintf[TEGRA241_CMDQV_MAX_VINTFS];
    CmdqvQueue q[TEGRA241_CMDQV_MAX_QUEUES];

    /* Host side, while a vIOMMU exists */
    IOMMUFDBackend *be;
    uint32_t ioas_id, viommu_id, veventq_id;
    int veventq_fd;
    uint8_t *host_page0;
    uint64_t host_page0_len;
    bool page0_mapped;
    bool mapper_direct;     /* the mapper's last page mode */
    CmdqvMapper *mapper;
    void *ph_page;
    uint64_t ph_iova;
    size_t ph_size;

    uint64_t hw_queue_allocs, events, irqs;

    /* The host queues were stopped for a migration (cmdqv_pre_save) */
    bool mig_stopped;
};

static bool cmdqv_enabled(Tegra241Cmdqv *c)
{
    return FIELD_EX32(c->config, CONFIG, CMDQV_EN);
}

static bool vintf_en(Tegra241Cmdqv *c, unsigned v)
{
    return FIELD_EX32(c->vintf[v].config, VINTF0_CONFIG, ENABLE);
}

/* VINTF0 (the only one an accelerated SMMU has) */
static bool vintf_enabled(Tegra241Cmdqv *c)
{
    return vintf_en(c, 0);
}

static bool queues_run(Tegra241Cmdqv *c)
{
    return cmdqv_enabled(c) && vintf_enabled(c);
}

/* Global VCMDQs, each a logical queue of some VINTF */
static unsigned nr_global(Tegra241Cmdqv *c)
{
    return c->vintfs * c->nr;
}

/* The VINTF of queue slot @l */
static unsigned slot_vintf(Tegra241Cmdqv *c, unsigned l)
{
    return l / c->nr;
}

static bool slot_runs(Tegra241Cmdqv *c, unsigned l)
{
    return cmdqv_enabled(c) && vintf_en(c, slot_vintf(c, l));
}

static bool slot_hyp_own(Tegra241Cmdqv *c, unsigned l)
{
    return FIELD_EX32(c->vintf[slot_vintf(c, l)].config, VINTF0_CONFIG,
                      HYP_OWN);
}

/* The queue slot global VCMDQ @q is allocated to, or -1 */
static int global_to_logical(Tegra241Cmdqv *c, unsigned q)
{
    uint32_t map = c->alloc_map[q];

    if (!FIELD_EX32(map, CMDQ_ALLOC_MAP, ALLOCATED) ||
        FIELD_EX32(map, CMDQ_ALLOC_MAP, VINTF) >= c->vintfs ||
        FIELD_EX32(map, CMDQ_ALLOC_MAP, LVCMDQ) >= c->nr) {
        return -1;
    }
    return FIELD_EX32(map, CMDQ_ALLOC_MAP, VINTF) * c->nr +
           FIELD_EX32(map, CMDQ_ALLOC_MAP, LVCMDQ);
}

static bool logical_allocated(Tegra241Cmdqv *c, unsigned l)
{
    for (unsigned q = 0; q < nr_global(c); q++) {
        if (global_to_logical(c, q) == l) {
            return true;
        }
    }
    return false;
}

/* ---- the host queue page ------------------------------------------------ */

/* The host queue that backs guest queue @l, -1: none */
static int mapper_index(Tegra241Cmdqv *c, unsigned l)
{
    return c->mapper && c->host_page0 ? cmdqv_mapper_host_index(c->mapper, l)
                                      : -1;
}

/* The host queue that runs guest queue @l, -1: QEMU runs it (or nobody) */
static int host_index(Tegra241Cmdqv *c, unsigned l)
{
    return c->q[l].held ? -1 : mapper_index(c, l);
}

static bool queue_error_active(uint32_t gerror, uint32_t gerrorn)
{
    return (gerror ^ gerrorn) & R_VCMDQ_GERROR_CMDQ_ERR_MASK;
}

static uint32_t host_rd(Tegra241Cmdqv *c, unsigned h, unsigned reg)
{
    return qatomic_read((uint32_t *)(c->host_page0 + h * CMDQV_QUEUE_STRIDE +
                                     reg));
}

static void host_wr(Tegra241Cmdqv *c, unsigned h, unsigned reg, uint32_t v)
{
    qatomic_set((uint32_t *)(c->host_page0 + h * CMDQV_QUEUE_STRIDE + reg), v);
}

/* Is logical queue @l in error (GERROR.CMDQ_ERR not acknowledged)? */
static bool queue_in_error(Tegra241Cmdqv *c, unsigned l)
{
    int h = host_index(c, l);
    uint32_t gerror, gerrorn;

    if (h >= 0) {
        gerror = host_rd(c, h, A_VCMDQ_GERROR);
        gerrorn = host_rd(c, h, A_VCMDQ_GERRORN);
    } else {
        gerror = c->q[l].gerror;
        gerrorn = c->q[l].gerrorn;
    }
    return queue_error_active(gerror, gerrorn);
}

/* LVCMDQ_ERR_MAP word @m of VINTF @v */
static uint64_t lvcmdq_err_map(Tegra241Cmdqv *c, unsigned v, unsigned m)
{
    uint64_t map = 0;

    for (unsigned i = m * 64; i < c->nr && i < (m + 1) * 64; i++) {
        if (queue_in_error(c, v * c->nr + i)) {
            map |= 1ULL << (i % 64);
        }
    }
    return map;
}

static bool vintf_in_error(Tegra241Cmdqv *c, unsigned v)
{
    return lvcmdq_err_map(c, v, 0) || lvcmdq_err_map(c, v, 1);
}

/* ---- mapper ops ----------------------------------------------------------- */

static int cmdqv_op_alloc(void *opaque, unsigned host, int guest,
                          uint64_t iova, unsigned log2size, uint32_t *out_id)
{
    Tegra241Cmdqv *c = opaque;
    Error *err = NULL;
    int ret = 0;

    if (!iommufd_backend_alloc_hw_queue(c->be, c->viommu_id,
                                        IOMMU_HW_QUEUE_TYPE_TEGRA241_CMDQV,
                                        host, iova, 16ULL << log2size,
                                        out_id, &err)) {
        /* error_setg_errno() leaves errno as the kernel set it */
        ret = errno ? -errno : -EIO;
        if (guest >= 0) {
            qemu_log_mask(LOG_GUEST_ERROR, "tegra241-cmdqv: logical queue "
                          "%d refused by the host: %s\n", guest,
                          error_get_pretty(err));
        }
        error_free(err);
        *out_id = 0;
    } else {
        c->hw_queue_allocs++;
    }
    trace_tegra241_cmdqv_hw_queue_alloc(host, guest, iova, log2size, ret,
                                        *out_id);
    return ret;
}

static int cmdqv_op_free(void *opaque, unsigned host, uint32_t id)
{
    Tegra241Cmdqv *c = opaque;
    Error *err = NULL;
    int ret = iommufd_backend_destroy(c->be, id, &err);

    trace_tegra241_cmdqv_hw_queue_free(host, id, ret);
    if (ret) {
        /* The queue stays; the mapper tries again at its next sync. */
        error_prepend(&err, "tegra241-cmdqv: host queue %u: ", host);
        warn_report_err(err);
    }
    return ret;
}

/*
 * Stop host queue @h and wait until the hardware says it stopped
 * (STATUS.CMDQ_EN_OK clear), as Linux's vcmdq_write_config() does before
 * its deinit writes CONS: only then is CONS final, so that the commands
 * before it ran on the host and those after it run wherever the queue
 * goes next, none of them twice. Bounded: a queue that does not stop is
 * reported, its CONS taken as it is.
 */
static void host_stop(Tegra241Cmdqv *c, unsigned h)
{
    int64_t deadline = qemu_clock_get_ms(QEMU_CLOCK_REALTIME) + 100;

    host_wr(c, h, A_VCMDQ_CONFIG, 0);
    while (host_rd(c, h, A_VCMDQ_STATUS) & R_VCMDQ_STATUS_CMDQ_EN_OK_MASK) {
        if (qemu_clock_get_ms(QEMU_CLOCK_REALTIME) > deadline) {
            warn_report("tegra241-cmdqv: host queue %u did not stop within "
                        "100 ms; CONS 0x%x taken as it is", h,
                        host_rd(c, h, A_VCMDQ_CONS_INDX));
            return;
        }
        g_usleep(10);
    }
}

/*
 * Guest queue @l, its state in QEMU's shadow, moves into the stopped host
 * queue @h: CONS and PROD while it is stopped (as Linux's deinit writes
 * CONS), any old host error acknowledged, CONFIG last. With an error the
 * guest has not acknowledged it is held instead (CmdqvQueue.held) and moves
 * at the guest's GERRORN write.
 */
static void queue_to_host(Tegra241Cmdqv *c, unsigned l, unsigned h)
{
    CmdqvQueue *q = &c->q[l];

    q->held = queue_error_active(q->gerror, q->gerrorn);
    trace_tegra241_cmdqv_to_host(l, h, q->cons, q->prod, q->held);
    if (q->held) {
        return;
    }
    host_wr(c, h, A_VCMDQ_GERRORN, host_rd(c, h, A_VCMDQ_GERROR));
    host_wr(c, h, A_VCMDQ_CONS_INDX, q->cons);
    host_wr(c, h, A_VCMDQ_PROD_INDX, q->prod);
    if (queues_run(c)) {
        host_wr(c, h, A_VCMDQ_CONFIG, q->config);
    }
}

/*
 * The other direction: host queue @h, backing guest queue @l, stops and its
 * guest-visible state, taken once it stopped (host_stop()), goes into
 * QEMU's shadow, as is: an error the host raised stays pending there.
 */
static void queue_from_host(Tegra241Cmdqv *c, unsigned l, unsigned h)
{
    CmdqvQueue *q = &c->q[l];

    if (queues_run(c)) {
        q->config = host_rd(c, h, A_VCMDQ_CONFIG);
    }
    host_stop(c, h);
    q->cons = host_rd(c, h, A_VCMDQ_CONS_INDX);
    q->prod = host_rd(c, h, A_VCMDQ_PROD_INDX);
    q->gerror = host_rd(c, h, A_VCMDQ_GERROR);
    q->gerrorn = host_rd(c, h, A_VCMDQ_GERRORN);
}

static void cmdqv_op_save(void *opaque, unsigned l, unsigned h,
                          CmdqvQueueState *st)
{
    Tegra241Cmdqv *c = opaque;
    CmdqvQueue *q = &c->q[l];

    if (!q->held) {             /* held: never started, the shadow has it */
        queue_from_host(c, l, h);
    }
    *st = (CmdqvQueueState) {
        .cons = q->cons, .prod = q->prod, .config = q->config,
        .gerror = q->gerror, .gerrorn = q->gerrorn,
    };
}

static void cmdqv_op_restore(void *opaque, unsigned l, unsigned h,
                             const CmdqvQueueState *st)
{
    Tegra241Cmdqv *c = opaque;
    CmdqvQueue *q = &c->q[l];

    q->cons = st->cons;
    q->prod = st->prod;
    q->config = st->config;
    q->gerror = st->gerror;
    q->gerrorn = st->gerrorn;
    q->restored = true;
    queue_to_host(c, l, h);
}

static bool cmdqv_op_placeholder(void *opaque, uint64_t *iova,
                                 unsigned *log2size)
{
    Tegra241Cmdqv *c = opaque;

    if (!c->ph_page) {
        return false;
    }
    *iova = c->ph_iova;
    *log2size = 1;          /* 32 bytes, the smallest queue the host takes */
    return true;
}

/*
 * The host page is mapped straight into the guest when the mapper says so
 * and no guest queue has a BASE the hardware refuses: that queue's
 * CMDQ_INIT_ERR must be seen, and only a trapped page shows it.
 */
static bool cmdqv_page_direct(Tegra241Cmdqv *c)
{
    bool direct = c->mapper_direct;

    for (unsigned l = 0; l < c->nr; l++) {
        direct &= !c->q[l].base_bad && !c->q[l].held;
    }
    return direct;
}

static void cmdqv_apply_page_mode(Tegra241Cmdqv *c)
{
    if (c->page0_mapped) {
        trace_tegra241_cmdqv_page_mapped(cmdqv_page_direct(c));
        memory_region_set_enabled(&c->page0, cmdqv_page_direct(c));
    }
}

static void cmdqv_op_page_mode(void *opaque, bool direct)
{
    Tegra241Cmdqv *c = opaque;

    trace_tegra241_cmdqv_page_mode(direct);
    c->mapper_direct = direct;
    cmdqv_apply_page_mode(c);
}

static void cmdqv_op_queue_error(void *opaque, unsigned l, int err)
{
    trace_tegra241_cmdqv_queue_error(l, err);
}

static const CmdqvMapperOps cmdqv_mapper_ops = {
    .hw_queue_alloc = cmdqv_op_alloc,
    .hw_queue_free = cmdqv_op_free,
    .save_state = cmdqv_op_save,
    .restore_state = cmdqv_op_restore,
    .placeholder_base = cmdqv_op_placeholder,
    .page_mode_changed = cmdqv_op_page_mode,
    .queue_error_changed = cmdqv_op_queue_error,
};

/*
 * Reconcile, then give each queue that just got a host queue (and no
 * restored state) the shadow registers the guest wrote meanwhile.
 */
static void cmdqv_sync(Tegra241Cmdqv *c)
{
    bool was_held[TEGRA241_CMDQV_MAX_QUEUES], changed = false;

    if (!c->mapper) {
        return;
    }
    for (unsigned l = 0; l < c->nr; l++) {
        c->q[l].restored = false;
        was_held[l] = c->q[l].held;
    }
    cmdqv_mapper_sync(c->mapper);
    for (unsigned l = 0; l < c->nr; l++) {
        CmdqvQueue *q = &c->q[l];
        int h = mapper_index(c, l);

        if (h >= 0 && !q->backed && !q->restored) {
            queue_to_host(c, l, h);
        }
        if (h < 0) {
            q->held = false;        /* no host queue: QEMU's shadow only */
        }
        q->backed = h >= 0;
        changed |= q->held != was_held[l];
    }
    if (changed) {
        cmdqv_apply_page_mode(c);     /* a queue's hold began or ended */
    }
}

/* CMDQV_EN or VINTF ENABLE is about to change from @was to @now */
static void cmdqv_run_changed(Tegra241Cmdqv *c, bool was, bool now)
{
    if (was == now) {
        return;
    }
    if (!now) {
        /*
         * Trap the page before the host queues stop: while it is mapped
         * direct, a vCPU's CONFIG write would start a queue again behind
         * the stop. The mapper confirms the trapped mode at its next sync.
         */
        c->mapper_direct = false;
        cmdqv_apply_page_mode(c);
    }
    for (unsigned l = 0; l < c->nr; l++) {
        int h = host_index(c, l);

        if (h < 0) {
            continue;
        }
        if (!now) {
            /* Stopped: the host queue's CONFIG = 0, the guest's shadowed */
            trace_tegra241_cmdqv_host_stop(l, h);
            c->q[l].config = host_rd(c, h, A_VCMDQ_CONFIG);
            host_wr(c, h, A_VCMDQ_CONFIG, 0);
        }
    }
}

static void cmdqv_restart_queues(Tegra241Cmdqv *c)
{
    if (!queues_run(c)) {
        return;
    }
    for (unsigned l = 0; l < c->nr; l++) {
        int h = host_index(c, l);

        if (h >= 0) {
            host_wr(c, h, A_VCMDQ_CONFIG, c->q[l].config);
        }
    }
}

/* ---- the VCMDQ engine: queues no host queue backs ------------------------ */

#define VCMDQ_MAX_LOG2SIZE      19

/*
 * Is logical queue @l QEMU's to run? While no vIOMMU exists (no device yet,
 * or the last one gone, or accel=off): then QEMU is the queue's hardware.
 * With a vIOMMU every running queue has a host queue (or shows
 * CMDQ_INIT_ERR); one held on an error (CmdqvQueue.held) is QEMU's until
 * acknowledged, and consumes nothing meanwhile.
 */
static bool emu_queue(Tegra241Cmdqv *c, unsigned l)
{
    return !c->mapper || c->q[l].held;
}

/* CMDQ_EN_OK of an emulated queue: enabled, allowed to run, a usable ring */
static bool emu_en_ok(Tegra241Cmdqv *c, unsigned l)
{
    CmdqvQueue *q = &c->q[l];

    return slot_runs(c, l) && logical_allocated(c, l) &&
           FIELD_EX32(q->config, VCMDQ_CONFIG, CMDQ_EN) &&
           (q->base & VCMDQ_BASE_ADDR_MASK) && !q->base_bad;
}

/* The queue stops at CONS with @err: GERROR.CMDQ_ERR toggles, IRQ */
static void emu_queue_error(Tegra241Cmdqv *c, unsigned l, unsigned err)
{
    CmdqvQueue *q = &c->q[l];

    q->cons = FIELD_DP32(q->cons, VCMDQ_CONS_INDX, ERR, err);
    q->gerror ^= R_VCMDQ_GERROR_CMDQ_ERR_MASK;
    trace_tegra241_cmdqv_emu_error(l, q->cons, err);
    if (!(c->vintf_int_mask[slot_vintf(c, l) / 32] &
          (1u << (slot_vintf(c, l) % 32)))) {
        c->irqs++;
        qemu_irq_pulse(c->irq);
    }
}

/*
 * Is @cmd legal on queue slot @l? A hypervisor-owned VINTF takes every SMMU
 * command, but a CMD_SYNC asking for an interrupt (*chosen*: a VCMDQ has
 * none; Linux polls it with CS=NONE); a guest-owned one takes what Linux's
 * tegra241_guest_vcmdq_supports_cmd() sends it: TLBI_NH_ASID, TLBI_NH_VA,
 * ATC_INV, and CMD_SYNC with CS=NONE.
 */
static bool emu_cmd_legal(Tegra241Cmdqv *c, unsigned l, Cmd *cmd)
{
    unsigned op = CMD_TYPE(cmd);

    if (op == SMMU_CMD_SYNC) {
        return slot_hyp_own(c, l) ? CMD_SYNC_CS(cmd) != CMD_SYNC_SIG_IRQ
                                  : CMD_SYNC_CS(cmd) == CMD_SYNC_SIG_NONE;
    }
    return slot_hyp_own(c, l) || op == SMMU_CMD_TLBI_NH_ASID ||
           op == SMMU_CMD_TLBI_NH_VA || op == SMMU_CMD_ATC_INV;
}

/*
 * What the hardware does to a guest-owned VINTF's command in the host's
 * view: the VINTF's VMID goes into a TLB invalidation, and an ATC_INV's
 * StreamID is replaced through SID_MATCH/SID_REPLACE; false (an illegal
 * command) when no slot matches. In the guest's view the guest's SID
 * registers are only remembered (the host's vDEVICEs give the mapping), and
 * the command goes to the SMMU as the guest wrote it.
 */
static bool emu_cmd_translate(Tegra241Cmdqv *c, unsigned l, Cmd *cmd)
{
    CmdqvVintf *vi = &c->vintf[slot_vintf(c, l)];

    if (!c->host_view || slot_hyp_own(c, l)) {
        return true;
    }
    switch (CMD_TYPE(cmd)) {
    case SMMU_CMD_TLBI_NH_ASID:
    case SMMU_CMD_TLBI_NH_VA:
        cmd->word[1] = deposit32(cmd->word[1], 0, 16,
                                 FIELD_EX32(vi->config, VINTF0_CONFIG, VMID));
        return true;
    case SMMU_CMD_ATC_INV:
        for (unsigned i = 0; i < CMDQV_NR_SIDS; i++) {
            if (FIELD_EX32(vi->sid_match[i], VINTF0_SID_MATCH, ENABLE) &&
                FIELD_EX32(vi->sid_match[i], VINTF0_SID_MATCH, VIRT_SID) ==
                CMD_SID(cmd)) {
                cmd->word[1] = vi->sid_replace[i];
                return true;
            }
        }
        return false;
    default:
        return true;
    }
}

/*
 * Execute a legal command of queue slot @l on QEMU's emulated SMMU
 * (accel=off): the SMMU's own command implementation, its TLB, configuration
 * cache and notifiers. With accel=on and no vIOMMU nothing holds a
 * translation, and nothing is to be done. False: the queue stopped.
 */
static bool emu_execute(Tegra241Cmdqv *c, unsigned l, uint32_t idx,
                        Cmd *cmd)
{
    SMMUv3State *s = c->smmu;
    SMMUCmdError err;

    if (s->accel) {
        return true;
    }
    qemu_mutex_lock(&s->mutex);
    err = smmuv3_cmd_exec(s, cmd);
    qemu_mutex_unlock(&s->mutex);
    if (err != SMMU_CERROR_NONE) {
        qemu_log_mask(LOG_GUEST_ERROR, "tegra241-cmdqv: queue %u: command "
                      "0x%x at index %u failed on the SMMU: %d\n",
                      l, CMD_TYPE(cmd), idx, err);
        emu_queue_error(c, l, err);
        return false;
    }
    return true;
}

/*
 * Consume the ring of queue slot @l from CONS to PROD as the hardware does
 * (cmdqv-hw.md): each command checked against its VINTF's ownership,
 * translated, executed; an illegal one stops the queue at it.
 */
static void emu_consume(Tegra241Cmdqv *c, unsigned l)
{
    CmdqvQueue *q = &c->q[l];
    unsigned log2size = MIN(FIELD_EX64(q->base, VCMDQ_BASE_L, LOG2SIZE),
                            VCMDQ_MAX_LOG2SIZE);
    uint32_t mask = (2u << log2size) - 1, n = 0;
    uint64_t ring = q->base & VCMDQ_BASE_ADDR_MASK;

    if (!emu_en_ok(c, l)) {
        return;
    }
    while ((q->cons & mask) != (q->prod & mask) &&
           !((q->gerror ^ q->gerrorn) & R_VCMDQ_GERROR_CMDQ_ERR_MASK)) {
        uint32_t idx = q->cons & ((1u << log2size) - 1);
        Cmd cmd;

        if (address_space_read(&address_space_memory, ring + idx * 16,
                               MEMTXATTRS_UNSPECIFIED, &cmd, sizeof(cmd))) {
            emu_queue_error(c, l, SMMU_CERROR_ABT);
            break;
        }
        for (int w = 0; w < ARRAY_SIZE(cmd.word); w++) {
            cmd.word[w] = le32_to_cpu(cmd.word[w]);
        }
        if (!emu_cmd_legal(c, l, &cmd) || !emu_cmd_translate(c, l, &cmd)) {
            qemu_log_mask(LOG_GUEST_ERROR, "tegra241-cmdqv: queue %u: "
                          "command 0x%x at index %u is illegal in a %s "
                          "VINTF\n", l, CMD_TYPE(&cmd), idx,
                          slot_hyp_own(c, l) ? "hypervisor-owned"
                                             : "guest-owned");
            emu_queue_error(c, l, SMMU_CERROR_ILL);
            break;
        }
        if (!emu_execute(c, l, idx, &cmd)) {
            break;
        }
        q->cons = (q->cons & ~mask) | ((q->cons + 1) & mask);
        q->cons = FIELD_DP32(q->cons, VCMDQ_CONS_INDX, ERR, 0);
        q->emulated++;
        n++;
    }
    trace_tegra241_cmdqv_emu_consume(l, q->prod, q->cons, n);
}

/* ---- page 0 and page 1 of a logical queue -------------------------------- */

static uint32_t queue_page0_read(Tegra241Cmdqv *c, unsigned l, unsigned reg)
{
    CmdqvQueue *q = &c->q[l];
    int h;
    uint32_t v;

    cmdqv_sync(c);
    q->traps++;
    h = host_index(c, l);
    switch (reg) {
    case A_VCMDQ_CONS_INDX:
        return h >= 0 ? host_rd(c, h, reg) : q->cons;
    case A_VCMDQ_PROD_INDX:
        return h >= 0 ? host_rd(c, h, reg) : q->prod;
    case A_VCMDQ_CONFIG:
        return h >= 0 && queues_run(c) ? host_rd(c, h, reg) : q->config;
    case A_VCMDQ_STATUS:
        if (h < 0 && emu_queue(c, l)) {
            return FIELD_DP32(0, VCMDQ_STATUS, CMDQ_EN_OK, emu_en_ok(c, l));
        }
        return h >= 0 && queues_run(c) ? host_rd(c, h, reg) : 0;
    case A_VCMDQ_GERROR:
        v = h >= 0 ? host_rd(c, h, reg) : q->gerror;
        if (q->base_bad ||
            (c->mapper && cmdqv_mapper_queue_error(c->mapper, l))) {
            v |= R_VCMDQ_GERROR_CMDQ_INIT_ERR_MASK;
        }
        return v;
    case A_VCMDQ_GERRORN:
        return h >= 0 ? host_rd(c, h, reg) : q->gerrorn;
    default:
        qemu_log_mask(LOG_GUEST_ERROR, "tegra241-cmdqv: read of reserved "
                      "queue page 0 offset 0x%x (queue %u)\n", reg, l);
        return 0;
    }
}

static void queue_page0_write(Tegra241Cmdqv *c, unsigned l, unsigned reg,
                              uint32_t v)
{
    CmdqvQueue *q = &c->q[l];
    int h;

    cmdqv_sync(c);
    q->traps++;
    h = host_index(c, l);
    switch (reg) {
    case A_VCMDQ_CONS_INDX:
        if (h < 0 && emu_queue(c, l) && emu_en_ok(c, l)) {
            /* the hardware's while the queue runs */
            qemu_log_mask(LOG_GUEST_ERROR, "tegra241-cmdqv: CONS write to "
                          "running logical queue %u ignored\n", l);
            return;
        }
        q->cons = v;
        break;
    case A_VCMDQ_PROD_INDX:
        q->prod = v;
        if (h < 0 && emu_queue(c, l)) {
            emu_consume(c, l);
            return;
        }
        break;
    case A_VCMDQ_CONFIG:
        q->config = v & VCMDQ_CONFIG_WRITABLE;
        if (h >= 0 && queues_run(c)) {
            host_wr(c, h, reg, q->config);
        } else if (h < 0 && emu_queue(c, l)) {
            emu_consume(c, l);
        }
        return;
    case A_VCMDQ_GERRORN:
        q->gerrorn = v;
        if (q->held) {
            if (!queue_error_active(q->gerror, q->gerrorn)) {
                /* acknowledged: the host queue resumes at CONS */
                queue_to_host(c, l, mapper_index(c, l));
                cmdqv_apply_page_mode(c);
            }
            return;
        }
        if (h < 0 && emu_queue(c, l)) {
            emu_consume(c, l);      /* acknowledged: it resumes at CONS */
            return;
        }
        break;
    default:
        qemu_log_mask(LOG_GUEST_ERROR, "tegra241-cmdqv: write of read-only "
                      "or reserved queue page 0 offset 0x%x (queue %u)\n",
                      reg, l);
        return;
    }
    if (h >= 0) {
        host_wr(c, h, reg, v);
    }
}

static uint32_t queue_page1_read(Tegra241Cmdqv *c, unsigned l, unsigned reg)
{
    CmdqvQueue *q = &c->q[l];

    switch (reg) {
    case A_VCMDQ_BASE_L:
        return q->base;
    case A_VCMDQ_BASE_H:
        return q->base >> 32;
    case A_VCMDQ_CONS_INDX_BASE_L:
        return q->cons_indx_base;
    case A_VCMDQ_CONS_INDX_BASE_H:
        return q->cons_indx_base >> 32;
    default:
        qemu_log_mask(LOG_GUEST_ERROR, "tegra241-cmdqv: read of reserved "
                      "queue page 1 offset 0x%x (queue %u)\n", reg, l);
        return 0;
    }
}

/*
 * (chosen, cmdqv-hw.md) A ring outside guest RAM, or not aligned to its
 * size, is refused: CMDQ_INIT_ERR, and the queue never runs. This also
 * keeps a guest's ring off QEMU's placeholder page, which the IOAS maps.
 */
static bool queue_ring_in_ram(uint64_t addr, unsigned log2size)
{
    uint64_t len = 16ULL << log2size;
    hwaddr xlat, plen = len;
    MemoryRegion *mr;

    if (log2size > 32 || (addr & (len - 1))) {
        return false;
    }
    RCU_READ_LOCK_GUARD();
    mr = address_space_translate(&address_space_memory, addr, &xlat, &plen,
                                 true, MEMTXATTRS_UNSPECIFIED);
    return plen >= len && memory_region_is_ram(mr) &&
           !memory_region_is_ram_device(mr) && !mr->readonly &&
           !memory_region_is_romd(mr);
}

static void queue_base_changed(Tegra241Cmdqv *c, unsigned l)
{
    CmdqvQueue *q = &c->q[l];
    unsigned log2size = FIELD_EX64(q->base, VCMDQ_BASE_L, LOG2SIZE);
    uint64_t addr = q->base & VCMDQ_BASE_ADDR_MASK;
    bool was_bad = q->base_bad;

    trace_tegra241_cmdqv_base(l, q->base);
    /* 0 is "no ring", what a driver writes when it lets a queue go */
    q->base_bad = addr && !queue_ring_in_ram(addr, log2size);
    if (q->base_bad) {
        qemu_log_mask(LOG_GUEST_ERROR, "tegra241-cmdqv: queue %u BASE 0x%"
                      PRIx64 " (2^%u entries) is not in guest RAM or not "
                      "aligned to its size: CMDQ_INIT_ERR\n", l, addr,
                      log2size);
        addr = 0;
    }
    if (c->mapper) {
        cmdqv_mapper_set_base(c->mapper, l, addr, log2size);
    }
    if (was_bad != q->base_bad) {
        cmdqv_apply_page_mode(c);
    }
}

static void queue_page1_write(Tegra241Cmdqv *c, unsigned l, unsigned reg,
                              uint64_t v, unsigned size)
{
    CmdqvQueue *q = &c->q[l];

    switch (reg) {
    case A_VCMDQ_BASE_L:
        if (size == 8) {
            q->base = v;
            queue_base_changed(c, l);
            cmdqv_sync(c);  /* Linux's way: the whole BASE at once */
            return;
        }
        q->base = deposit64(q->base, 0, 32, v);
        queue_base_changed(c, l);
        return;
    case A_VCMDQ_BASE_H:
        q->base = deposit64(q->base, 32, 32, v);
        queue_base_changed(c, l);
        return;
    case A_VCMDQ_CONS_INDX_BASE_L:
        if (size == 8) {
            q->cons_indx_base = v;
        } else {
            q->cons_indx_base = deposit64(q->cons_indx_base, 0, 32, v);
        }
        if (q->cons_indx_base) {
            qemu_log_mask(LOG_UNIMP, "tegra241-cmdqv: queue %u: "
                          "CONS_INDX_BASE is not mirrored\n", l);
        }
        return;
    case A_VCMDQ_CONS_INDX_BASE_H:
        q->cons_indx_base = deposit64(q->cons_indx_base, 32, 32, v);
        return;
    default:
        qemu_log_mask(LOG_GUEST_ERROR, "tegra241-cmdqv: write of reserved "
                      "queue page 1 offset 0x%x (queue %u)\n", reg, l);
    }
}

/* ---- config page ---------------------------------------------------------- */

/* VINTF(@v)'s register @r of a config-page offset, as VINTF0's offset */
static bool vintf_reg(Tegra241Cmdqv *c, hwaddr off, unsigned *v, hwaddr *r)
{
    if (off < A_VINTF0_CONFIG ||
        off >= A_VINTF0_CONFIG + c->vintfs * CMDQV_VINTF_STRIDE) {
        return false;
    }
    *v = (off - A_VINTF0_CONFIG) / CMDQV_VINTF_STRIDE;
    *r = A_VINTF0_CONFIG + (off - A_VINTF0_CONFIG) % CMDQV_VINTF_STRIDE;
    return true;
}

static uint32_t vintf_read(Tegra241Cmdqv *c, unsigned v, hwaddr r)
{
    CmdqvVintf *vi = &c->vintf[v];

    switch (r) {
    case A_VINTF0_CONFIG:
        return vi->config;
    case A_VINTF0_STATUS:
        return FIELD_DP32(0, VINTF0_STATUS, ENABLE_OK, vintf_en(c, v));
    case A_VINTF0_SID_MATCH ... A_VINTF0_SID_MATCH + 4 * 15:
        return vi->sid_match[(r - A_VINTF0_SID_MATCH) / 4];
    case A_VINTF0_SID_REPLACE ... A_VINTF0_SID_REPLACE + 4 * 15:
        return vi->sid_replace[(r - A_VINTF0_SID_REPLACE) / 4];
    case A_VINTF0_LVCMDQ_ERR_MAP ... A_VINTF0_LVCMDQ_ERR_MAP + 0xc:
        return lvcmdq_err_map(c, v, (r - A_VINTF0_LVCMDQ_ERR_MAP) / 8) >>
               ((r & 4) ? 32 : 0);
    }
    qemu_log_mask(LOG_GUEST_ERROR, "tegra241-cmdqv: read of reserved VINTF%u "
                  "offset 0x%" HWADDR_PRIx "\n", v, r - A_VINTF0_CONFIG);
    return 0;
}

static uint32_t config_read(Tegra241Cmdqv *c, hwaddr off)
{
    uint32_t v = 0;
    unsigned vi;
    hwaddr r;

    switch (off) {
    case A_CONFIG:
        return c->config;
    case A_PARAM:
        v = FIELD_DP32(v, PARAM, VER, CMDQV_VERSION);
        v = FIELD_DP32(v, PARAM, NUM_VCMDQ_LOG2, ctz32(nr_global(c)));
        v = FIELD_DP32(v, PARAM, NUM_VINTF_LOG2, ctz32(c->vintfs));
        v = FIELD_DP32(v, PARAM, NUM_SID_PER_VINTF_LOG2, 4);
        return v;
    case A_STATUS:
        return FIELD_DP32(0, STATUS, CMDQV_ENABLED, cmdqv_enabled(c));
    case A_VINTF_ERR_MAP:
    case A_VINTF_ERR_MAP + 4:
        for (unsigned i = 0; i < 32; i++) {
            unsigned n = (off - A_VINTF_ERR_MAP) / 4 * 32 + i;

            if (n < c->vintfs && vintf_in_error(c, n)) {
                v |= 1u << i;
            }
        }
        return v;
    case A_VINTF_INT_MASK:
    case A_VINTF_INT_MASK + 4:
        return c->vintf_int_mask[(off - A_VINTF_INT_MASK) / 4];
    case A_CMDQ_ERR_MAP ... A_CMDQ_ERR_MAP + 0xc:
        for (unsigned i = 0; i < 32; i++) {
            unsigned q = (off - A_CMDQ_ERR_MAP) / 4 * 32 + i;
            int l = q < nr_global(c) ? global_to_logical(c, q) : -1;

            if (l >= 0 && queue_in_error(c, l)) {
                v |= 1u << i;
            }
        }
        return v;
    case A_CMDQ_ALLOC_MAP ... A_CMDQ_ALLOC_MAP + 4 * 127:
        if ((off - A_CMDQ_ALLOC_MAP) / 4 < nr_global(c)) {
            return c->alloc_map[(off - A_CMDQ_ALLOC_MAP) / 4];
        }
        break;
    default:
        if (vintf_reg(c, off, &vi, &r)) {
            return vintf_read(c, vi, r);
        }
        break;
    }
    qemu_log_mask(LOG_GUEST_ERROR, "tegra241-cmdqv: read of reserved config "
                  "offset 0x%" HWADDR_PRIx "\n", off);
    return 0;
}

/* QEMU's queues of VINTF @v (all, with -1) catch up after an enable */
static void emu_consume_vintf(Tegra241Cmdqv *c, int v)
{
    for (unsigned l = 0; l < nr_global(c); l++) {
        if ((v < 0 || slot_vintf(c, l) == v) && emu_queue(c, l) &&
            host_index(c, l) < 0) {
            emu_consume(c, l);
        }
    }
}

static void vintf_write(Tegra241Cmdqv *c, unsigned v, hwaddr r, uint32_t val)
{
    CmdqvVintf *vi = &c->vintf[v];
    bool ran = queues_run(c);

    switch (r) {
    case A_VINTF0_CONFIG:
        if (FIELD_EX32(val, VINTF0_CONFIG, HYP_OWN) && !c->host_view) {
            /* A guest never owns the hypervisor's commands: reads 0 */
            val = FIELD_DP32(val, VINTF0_CONFIG, HYP_OWN, 0);
        }
        vi->config = val & (R_VINTF0_CONFIG_ENABLE_MASK |
                            R_VINTF0_CONFIG_VMID_MASK |
                            R_VINTF0_CONFIG_HYP_OWN_MASK);
        trace_tegra241_cmdqv_vintf_config(v, vi->config);
        if (v == 0) {
            cmdqv_run_changed(c, ran, queues_run(c));
            if (c->mapper) {
                cmdqv_mapper_set_vintf_enabled(c->mapper, vintf_enabled(c));
            }
            if (!ran && queues_run(c)) {
                cmdqv_sync(c);
                cmdqv_restart_queues(c);
            }
        }
        emu_consume_vintf(c, v);
        return;
    case A_VINTF0_SID_MATCH ... A_VINTF0_SID_MATCH + 4 * 15:
        /* The guest's view: remembered only (the host's vDEVICEs map) */
        vi->sid_match[(r - A_VINTF0_SID_MATCH) / 4] = val;
        return;
    case A_VINTF0_SID_REPLACE ... A_VINTF0_SID_REPLACE + 4 * 15:
        vi->sid_replace[(r - A_VINTF0_SID_REPLACE) / 4] = val;
        return;
    case A_VINTF0_STATUS:
    case A_VINTF0_LVCMDQ_ERR_MAP ... A_VINTF0_LVCMDQ_ERR_MAP + 0xc:
        qemu_log_mask(LOG_GUEST_ERROR, "tegra241-cmdqv: write 0x%x to "
                      "read-only VINTF%u offset 0x%" HWADDR_PRIx "\n", val, v,
                      r - A_VINTF0_CONFIG);
        return;
    }
    qemu_log_mask(LOG_GUEST_ERROR, "tegra241-cmdqv: write 0x%x to reserved "
                  "VINTF%u offset 0x%" HWADDR_PRIx "\n", val, v,
                  r - A_VINTF0_CONFIG);
}

static void config_write(Tegra241Cmdqv *c, hwaddr off, uint32_t v)
{
    bool ran = queues_run(c);
    unsigned q, vi;
    int old_l, new_l;
    hwaddr r;

    switch (off) {
    case A_CONFIG:
        c->config = v & CONFIG_WRITABLE;
        trace_tegra241_cmdqv_enable("cmdqv", cmdqv_enabled(c));
        cmdqv_run_changed(c, ran, queues_run(c));
        if (c->mapper) {
            cmdqv_mapper_set_cmdqv_enabled(c->mapper, cmdqv_enabled(c));
        }
        if (!ran && queues_run(c)) {
            cmdqv_sync(c);
            cmdqv_restart_queues(c);
        }
        emu_consume_vintf(c, -1);
        return;
    case A_VINTF_INT_MASK:
    case A_VINTF_INT_MASK + 4:
        c->vintf_int_mask[(off - A_VINTF_INT_MASK) / 4] = v;
        return;
    case A_CMDQ_ALLOC_MAP ... A_CMDQ_ALLOC_MAP + 4 * 127:
        q = (off - A_CMDQ_ALLOC_MAP) / 4;
        if (q >= nr_global(c)) {
            break;
        }
        if (FIELD_EX32(v, CMDQ_ALLOC_MAP, ALLOCATED) &&
            (FIELD_EX32(v, CMDQ_ALLOC_MAP, VINTF) >= c->vintfs ||
             FIELD_EX32(v, CMDQ_ALLOC_MAP, LVCMDQ) >= c->nr)) {
            qemu_log_mask(LOG_GUEST_ERROR, "tegra241-cmdqv: CMDQ_ALLOC_MAP(%u)"
                          " = 0x%x names a VINTF or logical queue this %s "
                          "does not have\n", q, v,
                          c->host_view ? "CMDQV" : "VM");
            v = FIELD_DP32(v, CMDQ_ALLOC_MAP, ALLOCATED, 0);
        }
        old_l = global_to_logical(c, q);
        new_l = FIELD_EX32(v, CMDQ_ALLOC_MAP, ALLOCATED) ?
                FIELD_EX32(v, CMDQ_ALLOC_MAP, VINTF) * c->nr +
                FIELD_EX32(v, CMDQ_ALLOC_MAP, LVCMDQ) : -1;
        if (new_l >= 0 && new_l != old_l && logical_allocated(c, new_l)) {
            qemu_log_mask(LOG_GUEST_ERROR, "tegra241-cmdqv: CMDQ_ALLOC_MAP(%u):"
                          " logical queue %d is already allocated\n", q, new_l);
            v = FIELD_DP32(v, CMDQ_ALLOC_MAP, ALLOCATED, 0);
            new_l = -1;
        }
        c->alloc_map[q] = v & (R_CMDQ_ALLOC_MAP_ALLOCATED_MASK |
                               R_CMDQ_ALLOC_MAP_LVCMDQ_MASK |
                               R_CMDQ_ALLOC_MAP_VINTF_MASK);
        trace_tegra241_cmdqv_alloc_map(q, c->alloc_map[q]);
        if (c->mapper) {
            if (old_l >= 0) {
                cmdqv_mapper_set_allocated(c->mapper, old_l, false);
            }
            if (new_l >= 0) {
                cmdqv_mapper_set_allocated(c->mapper, new_l, true);
            }
        }
        return;
    case A_PARAM:
    case A_STATUS:
    case A_VINTF_ERR_MAP:
    case A_VINTF_ERR_MAP + 4:
    case A_CMDQ_ERR_MAP ... A_CMDQ_ERR_MAP + 0xc:
        qemu_log_mask(LOG_GUEST_ERROR, "tegra241-cmdqv: write 0x%x to "
                      "read-only config offset 0x%" HWADDR_PRIx "\n", v, off);
        return;
    default:
        if (vintf_reg(c, off, &vi, &r)) {
            vintf_write(c, vi, r, v);
            return;
        }
        break;
    }
    qemu_log_mask(LOG_GUEST_ERROR, "tegra241-cmdqv: write 0x%x to reserved "
                  "config offset 0x%" HWADDR_PRIx "\n", v, off);
}

/* ---- the window ------------------------------------------------------------ */

/*
 * The queue slot, page and register of a queue-page access, or false: the
 * global pages number the VCMDQs (CMDQ_ALLOC_MAP gives the slot), VINTF v's
 * pages at 0x30000 + 0x20000 * v its logical queues.
 */
static bool decode_queue(Tegra241Cmdqv *c, hwaddr off, unsigned *l,
                         bool *page1, unsigned *reg)
{
    unsigned idx = (off % CMDQV_PAGE_SIZE) / CMDQV_QUEUE_STRIDE;
    int lq;

    *reg = off % CMDQV_QUEUE_STRIDE;
    if (off < CMDQV_VINTF0_PAGE0) {
        *page1 = off >= CMDQV_GLOBAL_PAGE1;
        if (idx >= nr_global(c)) {
            qemu_log_mask(LOG_GUEST_ERROR, "tegra241-cmdqv: access to global "
                          "VCMDQ %u of %u at window offset 0x%" HWADDR_PRIx
                          "\n", idx, nr_global(c), off);
            return false;
        }
        lq = global_to_logical(c, idx);
        if (lq < 0) {
            qemu_log_mask(LOG_GUEST_ERROR, "tegra241-cmdqv: access to global "
                          "VCMDQ %u, not allocated to a VINTF\n", idx);
            return false;
        }
        *l = lq;
        return true;
    }
    *page1 = (off - CMDQV_VINTF0_PAGE0) % (2 * CMDQV_PAGE_SIZE) >=
             CMDQV_PAGE_SIZE;
    if (idx >= c->nr) {
        qemu_log_mask(LOG_GUEST_ERROR, "tegra241-cmdqv: access to logical "
                      "queue %u of %u at window offset 0x%" HWADDR_PRIx "\n",
                      idx, c->nr, off);
        return false;
    }
    *l = (off - CMDQV_VINTF0_PAGE0) / (2 * CMDQV_PAGE_SIZE) * c->nr + idx;
    return true;
}

static uint32_t cmdqv_read32(Tegra241Cmdqv *c, hwaddr off)
{
    unsigned l, reg;
    bool page1;

    if (off < CMDQV_GLOBAL_PAGE0) {
        return config_read(c, off);
    }
    if (!decode_queue(c, off, &l, &page1, &reg)) {
        return 0;
    }
    return page1 ? queue_page1_read(c, l, reg) : queue_page0_read(c, l, reg);
}

static void cmdqv_write(Tegra241Cmdqv *c, hwaddr off, uint64_t v,
                        unsigned size)
{
    unsigned l, reg;
    bool page1;

    if (off < CMDQV_GLOBAL_PAGE0) {
        config_write(c, off, v);
        if (size == 8) {
            config_write(c, off + 4, v >> 32);
        }
        return;
    }
    if (!decode_queue(c, off, &l, &page1, &reg)) {
        return;
    }
    if (page1) {
        queue_page1_write(c, l, reg, v, size);
        return;
    }
    queue_page0_write(c, l, reg, v);
    if (size == 8) {
        queue_page0_write(c, l, reg + 4, v >> 32);
    }
}

static MemTxResult cmdqv_mmio_read(void *opaque, hwaddr off, uint64_t *data,
                                   unsigned size, MemTxAttrs attrs)
{
    Tegra241Cmdqv *c = opaque;

    if (!c->nr) {
        *data = 0;
        return MEMTX_OK;
    }
    if (off & (size - 1)) {
        qemu_log_mask(LOG_GUEST_ERROR, "tegra241-cmdqv: misaligned %u-byte "
                      "read at 0x%" HWADDR_PRIx "\n", size, off);
        *data = 0;
        return MEMTX_OK;
    }
    *data = cmdqv_read32(c, off);
    if (size == 8) {
        *data |= (uint64_t)cmdqv_read32(c, off + 4) << 32;
    }
    trace_tegra241_cmdqv_read(off, *data, size);
    return MEMTX_OK;
}

static MemTxResult cmdqv_mmio_write(void *opaque, hwaddr off, uint64_t data,
                                    unsigned size, MemTxAttrs attrs)
{
    Tegra241Cmdqv *c = opaque;

    trace_tegra241_cmdqv_write(off, data, size);
    if (!c->nr) {
        qemu_log_mask(LOG_GUEST_ERROR, "tegra241-cmdqv: write while CMDQV is "
                      "off for this SMMU\n");
        return MEMTX_OK;
    }
    if (off & (size - 1)) {
        qemu_log_mask(LOG_GUEST_ERROR, "tegra241-cmdqv: misaligned %u-byte "
                      "write at 0x%" HWADDR_PRIx "\n", size, off);
        return MEMTX_OK;
    }
    cmdqv_write(c, off, data, size);
    return MEMTX_OK;
}

static const MemoryRegionOps cmdqv_mmio_ops = {
    .read_with_attrs = cmdqv_mmio_read,
    .write_with_attrs = cmdqv_mmio_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .valid = {
        .min_access_size = 4,
        .max_access_size = 8,
    },
    .impl = {
        .min_access_size = 4,
        .max_access_size = 8,
    },
};

/* ---- vEVENTQ: host queue errors ------------------------------------------ */

static void cmdqv_veventq_read(void *opaque)
{
    Tegra241Cmdqv *c = opaque;
    uint8_t buf[64 * (sizeof(struct iommufd_vevent_header) +
                      sizeof(struct iommu_vevent_tegra241_cmdqv))];
    ssize_t n;
    bool raise = false;

    while ((n = read(c->veventq_fd, buf, sizeof(buf))) > 0) {
        size_t off = 0;

        /* Records: a header, then the data unless it marks lost events */
        while (off + sizeof(struct iommufd_vevent_header) <= n) {
            struct iommufd_vevent_header hdr;
            struct iommu_vevent_tegra241_cmdqv ev;
            uint64_t host0, host1, guest = 0;

            memcpy(&hdr, buf + off, sizeof(hdr));
            off += sizeof(hdr);
            if (hdr.flags & IOMMU_VEVENTQ_FLAG_LOST_EVENTS) {
                trace_tegra241_cmdqv_event(~0ULL, ~0ULL, ~0ULL);
                raise = true;
                continue;
            }
            if (off + sizeof(ev) > n) {
                break;
            }
            memcpy(&ev, buf + off, sizeof(ev));
            off += sizeof(ev);
            host0 = le64_to_cpu(ev.lvcmdq_err_map[0]);
            host1 = le64_to_cpu(ev.lvcmdq_err_map[1]);
            for (unsigned l = 0; l < c->nr && l < 64; l++) {
                int h = host_index(c, l);

                if (h >= 0 && ((h < 64 ? host0 >> h : host1 >> (h - 64)) & 1)) {
                    guest |= 1ULL << l;
                }
            }
            trace_tegra241_cmdqv_event(host0, host1, guest);
            c->events++;
            raise = true;
        }
        if (n < sizeof(buf) / 2) {
            break;
        }
    }
    /* The maps are read live from the host queues' GERROR / GERRORN. */
    if (raise && !(c->vintf_int_mask[0] & 1)) {
        c->irqs++;
        qemu_irq_pulse(c->irq);
    }
}

/* ---- host attach / detach ------------------------------------------------- */

bool tegra241_cmdqv_host_attach(Tegra241Cmdqv *c, IOMMUFDBackend *be,
                                uint32_t ioas_id, uint32_t viommu_id,
                                uint64_t mmap_offset, uint64_t mmap_length,
                                unsigned host_lvcmdqs, Error **errp)
{
    g_autofree char *name = NULL;

    assert(!c->mapper && c->nr);
    c->be = be;
    c->ioas_id = ioas_id;
    c->viommu_id = viommu_id;
    c->veventq_fd = -1;

    c->host_page0 = iommufd_backend_viommu_mmap(be, mmap_offset, mmap_length,
                                                errp);
    if (!c->host_page0) {
        goto fail;
    }
    c->host_page0_len = mmap_length;
    if (mmap_length < host_lvcmdqs * CMDQV_QUEUE_STRIDE) {
        /* QEMU reads and writes each host queue's registers in that page */
        error_setg(errp, "the host's VINTF page is 0x%" PRIx64 " bytes, too "
                   "small for the registers of its %u logical queues",
                   mmap_length, host_lvcmdqs);
        goto fail;
    }
    if (!iommufd_backend_alloc_veventq(be, viommu_id,
                                       IOMMU_VEVENTQ_TYPE_TEGRA241_CMDQV, 64,
                                       &c->veventq_id, &c->veventq_fd, errp)) {
        goto fail;
    }
    qemu_set_fd_handler(c->veventq_fd, cmdqv_veventq_read, NULL, c);

    /*
     * The placeholders' ring: a zeroed page outside guest RAM, 64 KiB
     * (aligned) so that it is one whole page of the host kernel whatever
     * its page size.
     */
    c->ph_size = MAX(qemu_real_host_page_size(), 64 * KiB);
    c->ph_page = qemu_memalign(c->ph_size, c->ph_size);
    memset(c->ph_page, 0, c->ph_size);
    /* At the top of a 48-bit space; another CMDQV SMMU may share the IOAS */
    for (int k = 1; k <= 16; k++) {
        c->ph_iova = (1ULL << 48) - k * c->ph_size;
        /* Read-only: the devices of the IOAS may read it, never write */
        if (!iommufd_backend_map_dma(be, ioas_id, c->ph_iova, c->ph_size,
                                     c->ph_page, true)) {
            break;
        }
        c->ph_iova = 0;
    }
    if (!c->ph_iova) {
        qemu_vfree(c->ph_page);
        c->ph_page = NULL;  /* the mapper then packs, without placeholders */
    }

    name = g_strdup_printf("%s.vintf0-page0", object_get_typename(
                               OBJECT(c->smmu)));
    memory_region_init_ram_device_ptr(&c->page0, OBJECT(c->smmu), name,
                                      MIN(mmap_length, CMDQV_PAGE_SIZE),
                                      c->host_page0);
    memory_region_set_enabled(&c->page0, false);
    memory_region_add_subregion_overlap(&c->window, CMDQV_VINTF0_PAGE0,
                                        &c->page0, 1);
    c->page0_mapped = true;
    c->mapper_direct = false;

    c->mapper = cmdqv_mapper_new(c->nr, MIN(MAX(host_lvcmdqs, 1),
                                            TEGRA241_CMDQV_MAX_QUEUES),
                                 &cmdqv_mapper_ops, c);
    /* Replay what the guest already asked for */
    for (unsigned l = 0; l < c->nr; l++) {
        c->q[l].backed = false;
        if (logical_allocated(c, l)) {
            cmdqv_mapper_set_allocated(c->mapper, l, true);
        }
        if (c->q[l].base) {
            queue_base_changed(c, l);
        }
    }
    cmdqv_mapper_set_vintf_enabled(c->mapper, vintf_enabled(c));
    cmdqv_mapper_set_cmdqv_enabled(c->mapper, cmdqv_enabled(c));
    trace_tegra241_cmdqv_host_attach(viommu_id, mmap_offset, mmap_length,
                                     host_lvcmdqs, c->veventq_id);
    return true;

fail:
    tegra241_cmdqv_host_detach(c);
    return false;
}

void tegra241_cmdqv_host_detach(Tegra241Cmdqv *c)
{
    unsigned left;

    if (!c || !c->be) {
        return;
    }
    trace_tegra241_cmdqv_host_detach(c->viommu_id);
    if (c->page0_mapped) {
        memory_region_del_subregion(&c->window, &c->page0);
        object_unparent(OBJECT(&c->page0));
        c->page0_mapped = false;
    }
    /* Keep what the guest sees of its queues: a later vIOMMU resumes it */
    for (unsigned l = 0; l < c->nr; l++) {
        int h = host_index(c, l);

        if (h >= 0) {
            queue_from_host(c, l, h);   /* QEMU takes over at a final CONS */
        }
    }
    /*
     * HW queues first: they hold the vIOMMU and pin the placeholder page.
     * A destroy the host refused leaves the mapper's slots in place: its
     * next sync tries again (a refusal is transient, or it is a leak).
     */
    left = 0;
    if (c->mapper) {
        cmdqv_mapper_reset(c->mapper);
        for (int i = 0; i < 2 && cmdqv_mapper_nr_host_queues(c->mapper);
             i++) {
            cmdqv_mapper_sync(c->mapper);
        }
        left = cmdqv_mapper_nr_host_queues(c->mapper);
    }
    if (left) {
        error_report("tegra241-cmdqv: the host refused to destroy %u HW "
                     "queues; they go when the iommufd is closed", left);
    }
    cmdqv_mapper_free(c->mapper);
    c->mapper = NULL;
    for (unsigned l = 0; l < c->nr; l++) {
        c->q[l].backed = false;
        c->q[l].held = false;
    }
    if (c->ph_page) {
        int ret = iommufd_backend_unmap_dma(c->be, c->ioas_id, c->ph_iova,
                                            c->ph_size);

        if (ret && !left) {
            /* Nothing pins it any more: a refusal can only be transient */
            ret = iommufd_backend_unmap_dma(c->be, c->ioas_id, c->ph_iova,
                                            c->ph_size);
        }
        if (ret) {
            /*
             * Still mapped (and pinned by a HW queue the host would not
             * destroy): the devices may still read it, so the page is
             * kept, never handed back to the allocator.
             */
            warn_report("tegra241-cmdqv: the placeholder page at IOVA 0x%"
                        PRIx64 " could not be unmapped (%s); it is kept",
                        c->ph_iova, strerror(-ret));
        } else {
            qemu_vfree(c->ph_page);
        }
        c->ph_page = NULL;
    }
    if (c->veventq_fd >= 0) {
        qemu_set_fd_handler(c->veventq_fd, NULL, NULL, NULL);
        close(c->veventq_fd);
        c->veventq_fd = -1;
    }
    if (c->veventq_id) {
        iommufd_backend_free_id_or_defer(c->be, c->veventq_id);
        c->veventq_id = 0;
    }
    if (c->host_page0) {
        /*
         * The page left the memory map above, but another thread (an MTTCG
         * vCPU, an iothread's DMA) may still use the old map until an RCU
         * grace period ends: the host page goes now (the vIOMMU cannot be
         * destroyed while it is mapped), anonymous memory takes its place
         * until then.
         */
        iommufd_backend_viommu_munmap(c->host_page0, c->host_page0_len);
        c->host_page0 = NULL;
    }
    c->be = NULL;
    c->viommu_id = c->ioas_id = 0;
    /* QEMU runs the queues from here: whatever the host left pending */
    for (unsigned l = 0; l < c->nr; l++) {
        emu_consume(c, l);
    }
}

/* ---- lifetime --------------------------------------------------------------- */

/* ---- migration -------------------------------------------------------------- */

/*
 * Source, the VM stopped: each host-backed queue may drain (bounded), then
 * stops as at a handover to QEMU, its state taken into the shadow that the
 * stream carries. Commands the host did not run travel as PROD and CONS and
 * run on the destination: none is dropped. The queues start again if this
 * VM runs again (a failed or cancelled migration).
 */
static int cmdqv_pre_save(void *opaque)
{
    Tegra241Cmdqv *c = opaque;

    if (c->veventq_fd >= 0) {
        cmdqv_veventq_read(c);      /* errors the host reported, to the guest */
    }
    for (unsigned l = 0; l < c->nr; l++) {
        CmdqvQueue *q = &c->q[l];
        unsigned log2size = MIN(FIELD_EX64(q->base, VCMDQ_BASE_L, LOG2SIZE),
                                VCMDQ_MAX_LOG2SIZE);
        uint32_t mask = (2u << log2size) - 1;
        int64_t deadline = qemu_clock_get_ms(QEMU_CLOCK_REALTIME) + 1000;
        int h = host_index(c, l);
        uint32_t cons, prod;

        if (h < 0) {
            continue;
        }
        while (queues_run(c) &&
               (host_rd(c, h, A_VCMDQ_STATUS) &
                R_VCMDQ_STATUS_CMDQ_EN_OK_MASK) &&
               !queue_error_active(host_rd(c, h, A_VCMDQ_GERROR),
                                   host_rd(c, h, A_VCMDQ_GERRORN))) {
            cons = host_rd(c, h, A_VCMDQ_CONS_INDX);
            prod = host_rd(c, h, A_VCMDQ_PROD_INDX);
            if (!((cons ^ prod) & mask)) {
                break;
            }
            if (qemu_clock_get_ms(QEMU_CLOCK_REALTIME) > deadline) {
                warn_report("tegra241-cmdqv: logical queue %u did not drain "
                            "within 1 s (CONS 0x%x, PROD 0x%x): its pending "
                            "commands run on the destination", l, cons, prod);
                break;
            }
            g_usleep(10);
        }
        queue_from_host(c, l, h);
        c->mig_stopped = true;
        trace_tegra241_cmdqv_migration_saved(l, q->cons, q->prod);
    }
    return 0;
}

/* The source runs again: its host queues resume where they stopped */
static void cmdqv_vm_state_change(void *opaque, bool running, RunState state)
{
    Tegra241Cmdqv *c = opaque;

    if (!running || !c->mig_stopped) {
        return;
    }
    c->mig_stopped = false;
    cmdqv_restart_queues(c);
}

/*
 * Destination: the registers are in the shadow. With a vIOMMU, the mapper
 * learns what the guest had (allocations, bases, enables) and allocates the
 * HW queues in ascending order; each queue's state then moves into its new
 * host queue as at a handover from QEMU (an unacknowledged error stays
 * held). A queue the host refuses fails the migration: the source goes on.
 */
static int cmdqv_post_load(void *opaque, int version_id)
{
    Tegra241Cmdqv *c = opaque;

    for (unsigned l = 0; l < TEGRA241_CMDQV_MAX_QUEUES; l++) {
        c->q[l].backed = c->q[l].held = c->q[l].restored = false;
    }
    for (unsigned l = 0; l < nr_global(c); l++) {
        queue_base_changed(c, l);
    }
    if (!c->mapper) {
        return 0;
    }
    for (unsigned l = 0; l < c->nr; l++) {
        cmdqv_mapper_set_allocated(c->mapper, l, logical_allocated(c, l));
    }
    cmdqv_mapper_set_vintf_enabled(c->mapper, vintf_enabled(c));
    cmdqv_mapper_set_cmdqv_enabled(c->mapper, cmdqv_enabled(c));
    cmdqv_sync(c);
    cmdqv_apply_page_mode(c);
    for (unsigned l = 0; l < c->nr; l++) {
        int err = cmdqv_mapper_queue_error(c->mapper, l);

        if (err) {
            error_report("tegra241-cmdqv: this host refused the HW queue of "
                         "the guest's logical queue %u (%s)", l,
                         strerror(-err));
            return -EIO;
        }
    }
    return 0;
}

static const VMStateDescription vmstate_cmdqv_queue = {
    .name = "tegra241-cmdqv/queue",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT32(cons, CmdqvQueue),
        VMSTATE_UINT32(prod, CmdqvQueue),
        VMSTATE_UINT32(config, CmdqvQueue),
        VMSTATE_UINT32(gerror, CmdqvQueue),
        VMSTATE_UINT32(gerrorn, CmdqvQueue),
        VMSTATE_UINT64(base, CmdqvQueue),
        VMSTATE_UINT64(cons_indx_base, CmdqvQueue),
        VMSTATE_END_OF_LIST()
    }
};

static const VMStateDescription vmstate_cmdqv_vintf = {
    .name = "tegra241-cmdqv/vintf",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT32(config, CmdqvVintf),
        VMSTATE_UINT32_ARRAY(sid_match, CmdqvVintf, CMDQV_NR_SIDS),
        VMSTATE_UINT32_ARRAY(sid_replace, CmdqvVintf, CMDQV_NR_SIDS),
        VMSTATE_END_OF_LIST()
    }
};

const VMStateDescription vmstate_tegra241_cmdqv = {
    .name = "tegra241-cmdqv",
    .version_id = 1,
    .minimum_version_id = 1,
    .pre_save = cmdqv_pre_save,
    .post_load = cmdqv_post_load,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT32_EQUAL(nr, Tegra241Cmdqv, NULL),
        VMSTATE_UINT32_EQUAL(vintfs, Tegra241Cmdqv, NULL),
        VMSTATE_UINT32(config, Tegra241Cmdqv),
        VMSTATE_UINT32_ARRAY(vintf_int_mask, Tegra241Cmdqv, 2),
        VMSTATE_UINT32_ARRAY(alloc_map, Tegra241Cmdqv,
                             TEGRA241_CMDQV_MAX_QUEUES),
        VMSTATE_STRUCT_ARRAY(vintf, Tegra241Cmdqv, TEGRA241_CMDQV_MAX_VINTFS,
                             1, vmstate_cmdqv_vintf, CmdqvVintf),
        VMSTATE_STRUCT_ARRAY(q, Tegra241Cmdqv, TEGRA241_CMDQV_MAX_QUEUES, 1,
                             vmstate_cmdqv_queue, CmdqvQueue),
        VMSTATE_END_OF_LIST()
    }
};

Tegra241Cmdqv *tegra241_cmdqv_new(SMMUv3State *s)
{
    Tegra241Cmdqv *c = g_new0(Tegra241Cmdqv, 1);
    SysBusDevice *sbd = SYS_BUS_DEVICE(s);

    c->smmu = s;
    c->veventq_fd = -1;
    c->host_view = s->cmdqv_vintfs > 0;
    c->vintfs = MAX(s->cmdqv_vintfs, 1);
    memory_region_init_io(&c->window, OBJECT(s), &cmdqv_mmio_ops, c,
                          "tegra241-cmdqv",
                          TEGRA241_CMDQV_WINDOW_SIZE(c->vintfs));
    sysbus_init_mmio(sbd, &c->window);
    sysbus_init_irq(sbd, &c->irq);
    qemu_add_vm_change_state_handler(cmdqv_vm_state_change, c);
    return c;
}

void tegra241_cmdqv_set_nr_queues(Tegra241Cmdqv *c, unsigned nr)
{
    assert(nr * c->vintfs <= TEGRA241_CMDQV_MAX_QUEUES && !c->mapper);
    c->nr = nr;
}

void tegra241_cmdqv_reset(Tegra241Cmdqv *c)
{
    if (c->mapper) {
        cmdqv_mapper_reset(c->mapper);  /* host queues destroyed, top down */
    }
    c->config = 0;
    memset(c->vintf_int_mask, 0, sizeof(c->vintf_int_mask));
    memset(c->alloc_map, 0, sizeof(c->alloc_map));
    memset(c->vintf, 0, sizeof(c->vintf));
    for (unsigned l = 0; l < TEGRA241_CMDQV_MAX_QUEUES; l++) {
        uint64_t traps = c->q[l].traps, emulated = c->q[l].emulated;

        memset(&c->q[l], 0, sizeof(c->q[l]));
        c->q[l].traps = traps;
        c->q[l].emulated = emulated;
    }
}

/* ---- operator view ---------------------------------------------------------- */

unsigned tegra241_cmdqv_nr_queues(Tegra241Cmdqv *c)
{
    return c ? c->nr : 0;
}

void tegra241_cmdqv_error_counts(Tegra241Cmdqv *c, uint64_t *events,
                                 uint64_t *irqs)
{
    *events = c ? c->events : 0;
    *irqs = c ? c->irqs : 0;
}

uint64_t tegra241_cmdqv_hw_queue_allocs(Tegra241Cmdqv *c)
{
    return c ? c->hw_queue_allocs : 0;
}

void tegra241_cmdqv_queue_view(Tegra241Cmdqv *c, unsigned l,
                               Tegra241CmdqvQueueView *v)
{
    CmdqvMapperQueueInfo qi = { .host_index = -1 };
    CmdqvMapperSlotInfo si = { .kind = CMDQV_SLOT_FREE };

    memset(v, 0, sizeof(*v));
    v->base = c->q[l].base & VCMDQ_BASE_ADDR_MASK;
    v->log2size = FIELD_EX64(c->q[l].base, VCMDQ_BASE_L, LOG2SIZE);
    v->traps = c->q[l].traps;
    v->emulated = c->q[l].emulated;
    v->host_index = -1;
    if (!c->mapper) {
        v->state = c->smmu->accel ? "no-host" : "emulated";
        return;
    }
    cmdqv_mapper_queue_info(c->mapper, l, &qi);
    v->state = cmdqv_queue_status_str(qi.status);
    v->host_index = qi.host_index;
    v->host_id = qi.host_id;
    v->error = qi.error;
    v->direct = cmdqv_page_direct(c);
    if (qi.host_index < 0 && l < cmdqv_mapper_nr_host_queues(c->mapper)) {
        /* Not backed: is its host index held by a placeholder? */
        cmdqv_mapper_slot_info(c->mapper, l, &si);
        v->placeholder = si.kind == CMDQV_SLOT_PLACEHOLDER;
    }
}
