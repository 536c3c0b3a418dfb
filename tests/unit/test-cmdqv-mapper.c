/*
 * Tests of the Tegra241 CMDQV queue mapper (hw/arm/tegra241-cmdqv-mapper.c)
 *
 * The mapper's ops are served by a model of the host kernel's rules for
 * Tegra241 HW queues that flags every broken rule (ascending allocation,
 * descending destruction, EEXIST, EIO, index range, a kernel call while the
 * guest can reach the page) and can fail the k-th allocation on purpose.
 * A model of the guest keeps what it wrote and what it last saw in each
 * queue's registers.  After every step, check_world() checks every
 * invariant of docs/devel/cmdqv-mapper.rst.
 *
 * Besides one test per scenario, an exhaustive test walks every sequence of
 * up to 6 guest operations over 4 guest queues and 4 host LVCMDQs (up to 5
 * with 3 LVCMDQs; 6 with "-m slow"), with no failure and with one
 * allocation failure injected at every possible allocation.
 *
 * Copyright (c) 2025 The qemu-accel-cmdqv authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <glib.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tegra241-cmdqv-mapper.h"

#define MAXQ            8
#define MAX_DEPTH       8
#define LOG2SIZE        8               /* 256 entries: a 4 KiB ring */
#define PH_IOVA         0xfee00000ULL   /* QEMU's zeroed page, not RAM */
#define PH_LOG2SIZE     8

static uint64_t base_of(unsigned g, unsigned b)
{
    return 0x80000000ULL + g * 0x100000ULL + b * 0x10000ULL;
}

/* The host kernel, as kernel-contract.md describes IOMMU_HW_QUEUE_* */

typedef struct KSlot {
    bool live;
    uint32_t id;
    int owner;                  /* guest index passed at alloc, -1: placeholder */
    uint64_t iova;
    unsigned log2size;
    CmdqvQueueState regs;
} KSlot;

typedef struct Kernel {
    unsigned nr_host;
    KSlot slot[MAXQ];
    uint32_t next_id;
    bool direct;                /* page mode as last told */
    unsigned page_mode_changes;

    unsigned violations;
    char first_violation[160];

    unsigned alloc_calls;       /* attempts, failed ones included */
    unsigned allocs, frees, ph_allocs, saves, restores;
    uint8_t free_order[64];     /* host indices in destruction order */
    unsigned nr_free_order;

    unsigned fail_at;           /* fail the alloc_calls == fail_at attempt */
    int fail_errno;
    int failed_owner;           /* owner of the last injected failure */
    bool injected;              /* an injected failure hit */
    bool ph_failed;             /* a placeholder alloc failed */
    bool ph_refuse;             /* placeholder_base() says "none" */
    unsigned refuse_frees;      /* refuse that many destroys (EBUSY) */
    unsigned refused_frees;

    int err_seen[MAXQ];         /* last queue_error_changed() per guest q */
    bool err_raised[MAXQ];      /* an error was raised during this step */
} Kernel;

static void G_GNUC_PRINTF(2, 3) kviolation(Kernel *k, const char *fmt, ...)
{
    va_list ap;

    if (!k->violations++) {
        va_start(ap, fmt);
        g_vsnprintf(k->first_violation, sizeof(k->first_violation), fmt, ap);
        va_end(ap);
    }
}

static int k_alloc(void *opaque, unsigned h, int g, uint64_t iova,
                   unsigned log2size, uint32_t *out_id)
{
    Kernel *k = opaque;
    uint64_t len;

    k->alloc_calls++;
    if (k->direct) {
        kviolation(k, "alloc of %u while the guest reaches the page", h);
    }
    if (h >= k->nr_host) {
        kviolation(k, "alloc of %u >= LVCMDQs %u", h, k->nr_host);
        return -EINVAL;
    }
    if (k->slot[h].live) {
        kviolation(k, "alloc of %u: EEXIST", h);
        return -EEXIST;
    }
    if (h > 0 && !k->slot[h - 1].live) {
        kviolation(k, "alloc of %u while %u is not allocated: EIO", h, h - 1);
        return -EIO;
    }
    if (g < 0 && (iova != PH_IOVA || log2size != PH_LOG2SIZE)) {
        kviolation(k, "placeholder with a base that is not the placeholder's");
    }
    /* What a guest may get wrong: an errno, not a broken rule */
    if (log2size > 20) {
        return -EINVAL;
    }
    len = 16ULL << log2size;
    if (len < 32 || (iova & (len - 1)) || (iova & ~0xffffffffffe0ULL)) {
        return -EINVAL;
    }
    if (k->fail_at && k->alloc_calls == k->fail_at) {
        k->injected = true;
        k->failed_owner = g;
        if (g < 0) {
            k->ph_failed = true;
        }
        return -k->fail_errno;
    }
    memset(&k->slot[h], 0, sizeof(k->slot[h]));
    k->slot[h].live = true;
    k->slot[h].id = k->next_id++;
    k->slot[h].owner = g;
    k->slot[h].iova = iova;
    k->slot[h].log2size = log2size;
    k->allocs++;
    if (g < 0) {
        k->ph_allocs++;
    }
    *out_id = k->slot[h].id;
    return 0;
}

static int k_free(void *opaque, unsigned h, uint32_t id)
{
    Kernel *k = opaque;

    if (k->direct) {
        kviolation(k, "free of %u while the guest reaches the page", h);
    }
    if (h >= k->nr_host || !k->slot[h].live || k->slot[h].id != id) {
        kviolation(k, "free of %u id %u: ENOENT", h, id);
        return -ENOENT;
    }
    if (h + 1 < k->nr_host && k->slot[h + 1].live) {
        kviolation(k, "free of %u while %u holds it: EBUSY", h, h + 1);
        return -EBUSY;
    }
    if (k->refuse_frees) {
        /* an injected refusal: the queue stays, as after a failed ioctl */
        k->refuse_frees--;
        k->refused_frees++;
        return -EBUSY;
    }
    /* The kernel's destroy zeroes PROD, CONS, CONFIG and BASE */
    memset(&k->slot[h], 0, sizeof(k->slot[h]));
    k->frees++;
    if (k->nr_free_order < G_N_ELEMENTS(k->free_order)) {
        k->free_order[k->nr_free_order++] = h;
    }
    return 0;
}

static void k_save(void *opaque, unsigned g, unsigned h, CmdqvQueueState *st)
{
    Kernel *k = opaque;

    if (k->direct) {
        kviolation(k, "save of %u while the guest reaches the page", h);
    }
    if (h >= k->nr_host || !k->slot[h].live || k->slot[h].owner != (int)g) {
        kviolation(k, "save of guest %u from host %u that is not its", g, h);
        return;
    }
    *st = k->slot[h].regs;
    k->saves++;
}

static void k_restore(void *opaque, unsigned g, unsigned h,
                      const CmdqvQueueState *st)
{
    Kernel *k = opaque;
    static const CmdqvQueueState zero;

    if (k->direct) {
        kviolation(k, "restore of %u while the guest reaches the page", h);
    }
    if (h >= k->nr_host || !k->slot[h].live || k->slot[h].owner != (int)g) {
        kviolation(k, "restore of guest %u into host %u that is not its", g, h);
        return;
    }
    /* fresh, or (after a refused destroy) its own state given back */
    if (memcmp(&k->slot[h].regs, &zero, sizeof(zero)) &&
        memcmp(&k->slot[h].regs, st, sizeof(*st))) {
        kviolation(k, "restore into host %u that is not fresh", h);
    }
    k->slot[h].regs = *st;
    k->restores++;
}

static bool k_placeholder(void *opaque, uint64_t *iova, unsigned *log2size)
{
    Kernel *k = opaque;

    if (k->ph_refuse) {
        k->ph_failed = true;
        return false;
    }
    *iova = PH_IOVA;
    *log2size = PH_LOG2SIZE;
    return true;
}

static void k_page_mode(void *opaque, bool direct)
{
    Kernel *k = opaque;

    if (k->direct == direct) {
        kviolation(k, "page mode 'changed' to what it was (%d)", direct);
    }
    k->direct = direct;
    k->page_mode_changes++;
}

static void k_queue_error(void *opaque, unsigned g, int err)
{
    Kernel *k = opaque;

    if (g >= MAXQ || k->err_seen[g] == err) {
        kviolation(k, "queue_error_changed(%u, %d) changes nothing", g, err);
        return;
    }
    k->err_seen[g] = err;
    if (err) {
        k->err_raised[g] = true;
    }
}

static const CmdqvMapperOps kernel_ops = {
    .hw_queue_alloc = k_alloc,
    .hw_queue_free = k_free,
    .save_state = k_save,
    .restore_state = k_restore,
    .placeholder_base = k_placeholder,
    .page_mode_changed = k_page_mode,
    .queue_error_changed = k_queue_error,
};

/* The guest: what it wrote, and what it last saw in each queue */

typedef struct Guest {
    unsigned nr_guest;
    bool allocated[MAXQ];
    uint64_t iova[MAXQ];
    unsigned log2size[MAXQ];
    bool vintf, cmdqv;
    CmdqvQueueState seen[MAXQ];
    uint32_t stamp;
} Guest;

typedef struct World {
    Kernel k;
    Guest gs;
    CmdqvMapper *m;
    /* Facts about the latest step, for check_world() */
    int hidx_before[MAXQ];
    KSlot layout_before[MAXQ];
    unsigned nr_before;
    unsigned calls_before, frees_before;
    uint64_t syncs_before;
    bool last_sync_ph_failed;   /* the latest working sync lost a placeholder */
    bool step_injected;
    bool multi;                 /* several changes in this step */
    int touched;                /* guest queue the step wrote, or -1 */
    uint64_t base_reg[MAXQ];    /* BASE as the register model holds it */
    const char *path[MAX_DEPTH + 1];
    unsigned depth;
} World;

static void world_init(World *w, unsigned nr_guest, unsigned nr_host)
{
    unsigned g;

    memset(w, 0, sizeof(*w));
    g_assert(nr_guest <= MAXQ && nr_host <= MAXQ);
    w->k.nr_host = nr_host;
    w->k.next_id = 1;
    w->gs.nr_guest = nr_guest;
    w->m = cmdqv_mapper_new(nr_guest, nr_host, &kernel_ops, &w->k);
    for (g = 0; g < MAXQ; g++) {
        w->hidx_before[g] = -1;
    }
}

static void world_fini(World *w)
{
    cmdqv_mapper_free(w->m);
    g_assert_cmpuint(w->k.violations, ==, 0);
    w->m = NULL;
}

static void G_GNUC_NORETURN world_fail(World *w, const char *what, int line)
{
    GString *s = g_string_new(NULL);
    unsigned i;

    for (i = 0; i < w->depth; i++) {
        g_string_append_printf(s, " %s", w->path[i]);
    }
    g_error("line %d: %s; sequence:%s; first kernel violation: %s", line,
            what, s->str, w->k.violations ? w->k.first_violation : "none");
}

#define CHECK(w, cond) \
    do { \
        if (G_UNLIKELY(!(cond))) { \
            world_fail((w), #cond, __LINE__); \
        } \
    } while (0)

/* Start a step: remember the layout it starts from */
static void step_begin(World *w)
{
    unsigned g;

    for (g = 0; g < w->gs.nr_guest; g++) {
        w->hidx_before[g] = cmdqv_mapper_host_index(w->m, g);
    }
    memcpy(w->layout_before, w->k.slot, sizeof(w->layout_before));
    w->nr_before = cmdqv_mapper_nr_host_queues(w->m);
    w->calls_before = w->k.alloc_calls;
    w->frees_before = w->k.frees;
    {
        CmdqvMapperStats st;

        cmdqv_mapper_stats(w->m, &st);
        w->syncs_before = st.syncs;
    }
    w->k.ph_failed = false;
    w->step_injected = false;
    w->multi = false;
    w->touched = -1;
    memset(w->k.err_raised, 0, sizeof(w->k.err_raised));
}

static bool same_kslot(const KSlot *a, const KSlot *b)
{
    return a->live == b->live && a->owner == b->owner &&
           a->iova == b->iova && a->log2size == b->log2size;
}

/*
 * Every invariant, after a step that ended with a sync (or a reset).
 * Runs the guest afterwards: each backed queue gets fresh register values.
 */
static void check_world(World *w)
{
    Kernel *k = &w->k;
    Guest *gs = &w->gs;
    CmdqvMapper *m = w->m;
    unsigned G = gs->nr_guest, H = k->nr_host;
    unsigned nr = cmdqv_mapper_nr_host_queues(m);
    bool running = gs->vintf && gs->cmdqv;
    bool identity = true, any_error = false, any_enospc = false;
    bool all_low = true;
    static const CmdqvQueueState zero;
    CmdqvMapperStats st;
    int hidx_now[MAXQ];
    unsigned g, h, lcp;

    /* (a) no kernel rule broken, ever */
    CHECK(w, k->violations == 0);

    /* The mapper's view of the host queues is the kernel's */
    for (h = 0; h < H; h++) {
        CmdqvMapperSlotInfo si;

        cmdqv_mapper_slot_info(m, h, &si);
        CHECK(w, k->slot[h].live == (h < nr));
        if (!k->slot[h].live) {
            CHECK(w, si.kind == CMDQV_SLOT_FREE);
            continue;
        }
        CHECK(w, si.id == k->slot[h].id);
        CHECK(w, si.iova == k->slot[h].iova);
        CHECK(w, si.log2size == k->slot[h].log2size);
        CHECK(w, si.guest_index == k->slot[h].owner);
        if (si.kind == CMDQV_SLOT_PLACEHOLDER) {
            CHECK(w, k->slot[h].owner == -1 && si.iova == PH_IOVA);
        } else {
            CHECK(w, si.kind == CMDQV_SLOT_REAL);
            CHECK(w, si.guest_index >= 0 && si.guest_index < (int)G);
            CHECK(w, cmdqv_mapper_host_index(m, si.guest_index) == (int)h);
        }
    }
    /* Nothing leaked: the kernel holds exactly the mapper's host queues */
    CHECK(w, k->allocs - k->frees == nr);
    /* No useless host queue: a placeholder never sits on top */
    CHECK(w, nr == 0 || k->slot[nr - 1].owner >= 0);

    for (g = 0; g < G; g++) {
        bool live = gs->allocated[g] && gs->iova[g];
        CmdqvMapperQueueInfo qi;
        int hidx, err;

        cmdqv_mapper_queue_info(m, g, &qi);
        hidx = qi.host_index;
        err = qi.error;
        hidx_now[g] = hidx;
        CHECK(w, cmdqv_mapper_host_index(m, g) == hidx);
        CHECK(w, cmdqv_mapper_queue_error(m, g) == err);
        CHECK(w, qi.allocated == gs->allocated[g] && qi.iova == gs->iova[g]);
        CHECK(w, k->err_seen[g] == err);
        if (err) {
            any_error = true;
            any_enospc |= err == -ENOSPC;
            /* errors come from injected failures, or a lack of host room */
            CHECK(w, (k->fail_at && err == -k->fail_errno) ||
                     (err == -ENOSPC && G > H) || w->multi);
            CHECK(w, hidx < 0 && live && qi.status == CMDQV_QUEUE_ERROR);
            /* a backed queue is never evicted for want of room */
            CHECK(w, err != -ENOSPC || w->hidx_before[g] < 0 || w->multi);
            /* the guest rewrote the queue: its old error was retried */
            CHECK(w, (int)g != w->touched || k->err_raised[g]);
        }
        if (hidx >= 0) {
            /* backed by a real queue with exactly the guest's BASE */
            CHECK(w, hidx < (int)nr && k->slot[hidx].owner == (int)g);
            CHECK(w, k->slot[hidx].iova == gs->iova[g]);
            CHECK(w, k->slot[hidx].log2size == gs->log2size[g]);
            CHECK(w, live && qi.status == CMDQV_QUEUE_MAPPED);
            CHECK(w, qi.host_id == k->slot[hidx].id);
            identity &= hidx == (int)g;
            all_low &= g < H;
            /* while the queues cannot run, nobody new gets a host queue */
            CHECK(w, running || w->hidx_before[g] >= 0);
        }
        if (!live) {
            CHECK(w, hidx < 0 && !err);
        } else if (running) {
            /* every queue that can run is backed, or shows an error */
            CHECK(w, (hidx >= 0) != (err != 0));
        }
        if (k->injected && w->step_injected && k->failed_owner == (int)g &&
        !w->multi) {
            CHECK(w, err == -k->fail_errno);
        }
    }
    CHECK(w, cmdqv_mapper_is_identity(m) == identity);

    /*
     * (b) identity whenever possible: possible means every queue to back
     * fits below the host's LVCMDQs (so none was refused for room, none
     * sits at or above nr_host) and the latest sync that recomputed the
     * layout got every placeholder it asked for.
     */
    cmdqv_mapper_stats(m, &st);
    if (st.syncs != w->syncs_before) {
        w->last_sync_ph_failed = k->ph_failed;
    }
    if (!w->last_sync_ph_failed && all_low && !any_enospc) {
        CHECK(w, identity);
    }

    /* The page is direct exactly when the guest may reach it */
    CHECK(w, k->direct == (running && !any_error && identity));
    CHECK(w, cmdqv_mapper_page_direct(m) == k->direct);

    /*
     * (d) minimum kernel calls: with no failure, the step destroyed exactly
     * the host queues above the longest common prefix of the layouts before
     * and after, and allocated exactly those above it afterwards.
     */
    for (lcp = 0; lcp < w->nr_before && lcp < nr; lcp++) {
        if (!same_kslot(&w->layout_before[lcp], &k->slot[lcp])) {
            break;
        }
    }
    if (!w->step_injected && !k->ph_refuse && !w->multi) {
        CHECK(w, k->frees - w->frees_before == w->nr_before - lcp);
        CHECK(w, k->alloc_calls - w->calls_before == nr - lcp);
    }

    /*
     * (c) state carried: a queue backed now shows what the guest last saw
     * (zero if it was not backed at the end of the previous step).
     */
    for (g = 0; g < G; g++) {
        int hidx = hidx_now[g];

        if (hidx < 0) {
            memset(&gs->seen[g], 0, sizeof(gs->seen[g]));
            continue;
        }
        if (w->multi && !memcmp(&k->slot[hidx].regs, &zero, sizeof(zero))) {
            /* freed and made anew within the step: fresh is right too */
        } else {
            CHECK(w, !memcmp(&k->slot[hidx].regs, &gs->seen[g],
                             sizeof(gs->seen[g])));
        }
        /* the guest runs the queue: new values it will expect back */
        gs->stamp++;
        gs->seen[g] = (CmdqvQueueState) {
            .cons = gs->stamp,
            .prod = gs->stamp + 0x100,
            .config = 1,
            .gerror = gs->stamp & 1,
            .gerrorn = (gs->stamp >> 1) & 1,
        };
        k->slot[hidx].regs = gs->seen[g];
    }
}

/* Teardown: everything the mapper made is freed, top down */
static void check_teardown(World *w)
{
    unsigned h;

    cmdqv_mapper_reset(w->m);
    CHECK(w, w->k.violations == 0);
    for (h = 0; h < w->k.nr_host; h++) {
        CHECK(w, !w->k.slot[h].live);
    }
    CHECK(w, w->k.allocs == w->k.frees);
    CHECK(w, !w->k.direct);
    CHECK(w, cmdqv_mapper_nr_host_queues(w->m) == 0);
}

/* The guest operations, as the register model turns them into calls */

typedef enum OpKind {
    OP_ENABLE,      /* ALLOCATED, BASE (64-bit), CONFIG = EN */
    OP_DISABLE,     /* clear ALLOCATED, then touch the page */
    OP_VINTF,       /* VINTF CONFIG.ENABLE toggled */
    OP_RESET,       /* device reset, then CMDQV_EN and VINTF ENABLE set */
} OpKind;

typedef struct Op {
    OpKind kind;
    unsigned g, b;
    char name[16];
} Op;

/*
 * Between a wish and the sync that fulfils it, the guest must not reach the
 * page: if it is direct, the host already is exactly what the guest wants.
 */
static void check_before_sync(World *w)
{
    unsigned g;
    int h;

    if (!w->k.direct) {
        return;
    }
    CHECK(w, w->gs.vintf && w->gs.cmdqv);
    for (g = 0; g < w->gs.nr_guest; g++) {
        h = cmdqv_mapper_host_index(w->m, g);
        if (w->gs.allocated[g] && w->gs.iova[g]) {
            CHECK(w, h == (int)g && w->k.slot[h].iova == w->gs.iova[g]);
        } else {
            CHECK(w, h < 0);
        }
    }
}

static void op_enable(World *w, unsigned g, uint64_t iova)
{
    w->touched = g;
    w->gs.allocated[g] = true;
    cmdqv_mapper_set_allocated(w->m, g, true);
    check_before_sync(w);
    w->gs.iova[g] = iova;
    w->gs.log2size[g] = LOG2SIZE;
    cmdqv_mapper_set_base(w->m, g, iova, LOG2SIZE);
    check_before_sync(w);
    cmdqv_mapper_sync(w->m);
}

static void op_disable(World *w, unsigned g)
{
    w->touched = g;
    w->gs.allocated[g] = false;
    cmdqv_mapper_set_allocated(w->m, g, false);
    check_before_sync(w);
    cmdqv_mapper_sync(w->m);
}

static void op_vintf(World *w, bool on)
{
    w->gs.vintf = on;
    cmdqv_mapper_set_vintf_enabled(w->m, on);
    check_before_sync(w);
    cmdqv_mapper_sync(w->m);
}

static void op_reset(World *w, bool reenable)
{
    unsigned g;

    cmdqv_mapper_reset(w->m);
    for (g = 0; g < MAXQ; g++) {
        w->gs.allocated[g] = false;
        w->gs.iova[g] = 0;
        w->gs.log2size[g] = 0;
    }
    w->gs.vintf = w->gs.cmdqv = false;
    if (reenable) {
        w->gs.vintf = w->gs.cmdqv = true;
        cmdqv_mapper_set_cmdqv_enabled(w->m, true);
        cmdqv_mapper_set_vintf_enabled(w->m, true);
        cmdqv_mapper_sync(w->m);
    }
}

static void run_op(World *w, const Op *op)
{
    switch (op->kind) {
    case OP_ENABLE:
        op_enable(w, op->g, base_of(op->g, op->b));
        break;
    case OP_DISABLE:
        op_disable(w, op->g);
        break;
    case OP_VINTF:
        op_vintf(w, !w->gs.vintf);
        break;
    case OP_RESET:
        op_reset(w, true);
        break;
    }
}

/* A world ready for the guest: CMDQV and VINTF0 enabled */
static void world_start(World *w, unsigned nr_guest, unsigned nr_host)
{
    world_init(w, nr_guest, nr_host);
    step_begin(w);
    op_reset(w, true);
    check_world(w);
}

/*
 * The register model's side (what tegra241-cmdqv.c does): it syncs after a
 * 64-bit BASE write and before serving a trapped page-0 access, never after
 * a half of BASE, an ALLOC_MAP or a CONFIG write.
 */

static void rm_alloc_map(World *w, unsigned g, bool allocated)
{
    w->gs.allocated[g] = allocated;
    cmdqv_mapper_set_allocated(w->m, g, allocated);
}

static void rm_set_base(World *w, unsigned g, uint64_t reg)
{
    w->base_reg[g] = reg;
    w->gs.iova[g] = reg & 0xffffffffffe0ULL;
    w->gs.log2size[g] = w->gs.iova[g] ? (reg & 0x1f) : 0;
    cmdqv_mapper_set_base(w->m, g, reg & 0xffffffffffe0ULL, reg & 0x1f);
}

static void rm_base64(World *w, unsigned g, uint64_t reg)
{
    rm_set_base(w, g, reg);
    cmdqv_mapper_sync(w->m);
}

static void rm_base32(World *w, unsigned g, bool high, uint32_t val)
{
    uint64_t reg = w->base_reg[g];

    if (high) {
        reg = (reg & 0xffffffffULL) | ((uint64_t)val << 32);
    } else {
        reg = (reg & ~0xffffffffULL) | val;
    }
    rm_set_base(w, g, reg);
}

/* Any guest access to page 0 (CONFIG, PROD, CONS, STATUS, GERRORN...) */
static void rm_page0(World *w)
{
    if (!w->k.direct) {
        cmdqv_mapper_sync(w->m);
    }
}

static void rm_vintf(World *w, bool on)
{
    w->gs.vintf = on;
    cmdqv_mapper_set_vintf_enabled(w->m, on);
}

static void rm_cmdqv(World *w, bool on)
{
    w->gs.cmdqv = on;
    cmdqv_mapper_set_cmdqv_enabled(w->m, on);
}

/* linux-guest.md, "Initialisation", steps 3 to 6, for @n queues */
static void linux_init(World *w, unsigned n, unsigned b)
{
    int q;

    rm_cmdqv(w, false);
    rm_cmdqv(w, true);
    for (q = 0; q < (int)n; q++) {
        rm_alloc_map(w, q, false);
    }
    for (q = n - 1; q >= 0; q--) {
        rm_page0(w);                    /* CONFIG = 0 */
        rm_page0(w);                    /* PROD = CONS = 0 */
        rm_base64(w, q, 0);
        rm_page0(w);                    /* GERRORN = GERROR */
        rm_alloc_map(w, q, false);
    }
    rm_vintf(w, false);
    rm_vintf(w, true);                  /* HYP_OWN | ENABLE */
    for (q = 0; q < (int)n; q++) {
        rm_alloc_map(w, q, true);
        rm_base64(w, q, base_of(q, b) | LOG2SIZE);
        rm_page0(w);                    /* CONFIG = CMDQ_EN */
        rm_page0(w);                    /* poll STATUS.CMDQ_EN_OK */
    }
}

static void step_multi(World *w)
{
    step_begin(w);
    w->multi = true;
}

static void enable_queues(World *w, unsigned mask)
{
    unsigned g;

    for (g = 0; g < MAXQ; g++) {
        if (mask & (1u << g)) {
            step_begin(w);
            op_enable(w, g, base_of(g, 0));
            check_world(w);
        }
    }
}

static void assert_free_order(World *w, const char *expect)
{
    GString *s = g_string_new(NULL);
    unsigned i;

    for (i = 0; i < w->k.nr_free_order; i++) {
        g_string_append_printf(s, "%u", w->k.free_order[i]);
    }
    g_assert_cmpstr(s->str, ==, expect);
    g_string_free(s, true);
    w->k.nr_free_order = 0;
}

static void world_end(World *w)
{
    check_teardown(w);
    world_fini(w);
}

/* Linux boots: one allocation per queue, nothing freed, identity, direct */
static void test_linux_boot(void)
{
    World w;
    CmdqvMapperStats st;

    world_init(&w, 4, 4);
    step_multi(&w);
    linux_init(&w, 4, 0);
    check_world(&w);
    cmdqv_mapper_stats(w.m, &st);
    g_assert_cmpuint(w.k.alloc_calls, ==, 4);
    g_assert_cmpuint(w.k.allocs, ==, 4);
    g_assert_cmpuint(w.k.frees, ==, 0);
    g_assert_cmpuint(w.k.ph_allocs, ==, 0);
    g_assert_cmpuint(st.rebuilds, ==, 0);
    g_assert_true(cmdqv_mapper_is_identity(w.m));
    g_assert_true(w.k.direct);
    world_end(&w);
}

/* Driver removal: the deinit tears everything down, highest first */
static void test_linux_remove(void)
{
    World w;
    int q;

    world_init(&w, 4, 4);
    step_multi(&w);
    linux_init(&w, 4, 0);
    check_world(&w);
    step_multi(&w);
    for (q = 3; q >= 0; q--) {
        rm_page0(&w);
        rm_base64(&w, q, 0);
        rm_alloc_map(&w, q, false);
        rm_page0(&w);
    }
    check_world(&w);
    assert_free_order(&w, "3210");
    g_assert_cmpuint(w.k.allocs, ==, 4);
    g_assert_cmpuint(cmdqv_mapper_nr_host_queues(w.m), ==, 0);
    world_end(&w);
}

/*
 * kexec: the next kernel re-initialises while every host queue is live.
 * The old queues go top down, the new ones come bottom up, once each.
 */
static void test_linux_kexec(void)
{
    World w;
    unsigned b;

    for (b = 0; b < 2; b++) {
        world_init(&w, 4, 4);
        step_multi(&w);
        linux_init(&w, 4, 0);
        check_world(&w);
        step_multi(&w);
        linux_init(&w, 4, b);
        check_world(&w);
        assert_free_order(&w, "3210");
        g_assert_cmpuint(w.k.allocs, ==, 8);
        g_assert_cmpuint(w.k.alloc_calls, ==, 8);
        g_assert_true(w.k.direct);
        world_end(&w);
    }
}

/* BASE written as two 32-bit halves, either order: one allocation each */
static void test_base_halves(void)
{
    World w;
    uint64_t hi = 0x1200000000ULL;
    unsigned g;

    world_start(&w, 4, 4);
    step_multi(&w);
    for (g = 0; g < 3; g++) {
        uint64_t reg = (g < 2 ? hi : 0) + base_of(g, 0) + LOG2SIZE;

        rm_alloc_map(&w, g, true);
        if (g == 1) {
            rm_base32(&w, g, true, reg >> 32);
            rm_base32(&w, g, false, (uint32_t)reg);
        } else {
            rm_base32(&w, g, false, (uint32_t)reg);
            rm_base32(&w, g, true, reg >> 32);
        }
        rm_page0(&w);                   /* CONFIG = CMDQ_EN */
        g_assert_cmpuint(w.k.alloc_calls, ==, g + 1);
        g_assert_cmphex(w.k.slot[g].iova, ==, reg & ~0x1fULL);
    }
    check_world(&w);
    g_assert_cmpuint(w.k.frees, ==, 0);
    g_assert_true(w.k.direct);
    world_end(&w);
}

/* Nothing changed, nothing called: rewriting BASE or ALLOCATED, V off/on */
static void test_no_change_no_call(void)
{
    World w;
    unsigned calls, frees, modes;

    world_start(&w, 4, 4);
    enable_queues(&w, 0x3);
    calls = w.k.alloc_calls;
    frees = w.k.frees;
    modes = w.k.page_mode_changes;
    step_begin(&w);
    op_enable(&w, 1, base_of(1, 0));
    rm_alloc_map(&w, 0, true);
    rm_base64(&w, 0, base_of(0, 0) | LOG2SIZE);
    check_world(&w);
    g_assert_cmpuint(w.k.page_mode_changes, ==, modes);
    /* toggles that cancel out before the next sync */
    step_begin(&w);
    rm_vintf(&w, false);
    rm_cmdqv(&w, false);
    rm_cmdqv(&w, true);
    rm_vintf(&w, true);
    rm_alloc_map(&w, 1, false);
    rm_alloc_map(&w, 1, true);
    rm_page0(&w);
    check_world(&w);
    g_assert_cmpuint(w.k.alloc_calls, ==, calls);
    g_assert_cmpuint(w.k.frees, ==, frees);
    g_assert_true(w.k.direct);
    world_end(&w);
}

/* Queue 1 before queue 0: a placeholder at 0 keeps identity */
static void test_queue1_before_queue0(void)
{
    World w;
    CmdqvMapperSlotInfo si;
    CmdqvMapperStats st;

    world_start(&w, 4, 4);
    enable_queues(&w, 0x2);
    cmdqv_mapper_slot_info(w.m, 0, &si);
    g_assert_cmpint(si.kind, ==, CMDQV_SLOT_PLACEHOLDER);
    g_assert_cmphex(si.iova, ==, PH_IOVA);
    g_assert_cmpint(cmdqv_mapper_host_index(w.m, 1), ==, 1);
    g_assert_true(w.k.direct);

    /* then queue 0: the placeholder goes, queue 1 is rebuilt above it */
    enable_queues(&w, 0x1);
    assert_free_order(&w, "10");
    cmdqv_mapper_stats(w.m, &st);
    g_assert_cmpuint(st.placeholders, ==, 1);
    g_assert_cmpuint(st.rebuilds, ==, 1);
    g_assert_cmpuint(w.k.restores, ==, 1);
    g_assert_true(w.k.direct);
    world_end(&w);
}

/* Queue 0 re-based under a live queue 1: rebuild, state carried */
static void test_rebase_under_live_queue(void)
{
    World w;
    CmdqvMapperStats st;

    world_start(&w, 4, 4);
    enable_queues(&w, 0x3);
    step_begin(&w);
    op_enable(&w, 0, base_of(0, 1));
    check_world(&w);                    /* checks the carried registers */
    assert_free_order(&w, "10");
    g_assert_cmphex(w.k.slot[0].iova, ==, base_of(0, 1));
    cmdqv_mapper_stats(w.m, &st);
    g_assert_cmpuint(st.rebuilds, ==, 2);
    g_assert_true(w.k.direct);

    /* queue 0 freed under queue 1: a placeholder takes its place */
    step_begin(&w);
    op_disable(&w, 0);
    check_world(&w);
    assert_free_order(&w, "10");
    g_assert_cmpuint(w.k.slot[0].owner, ==, -1);
    g_assert_true(w.k.direct);
    world_end(&w);
}

/* Reset with all queues live frees everything, top down */
static void test_reset_all_live(void)
{
    World w;

    world_start(&w, 4, 4);
    enable_queues(&w, 0xf);
    step_begin(&w);
    op_reset(&w, false);
    check_world(&w);
    assert_free_order(&w, "3210");
    g_assert_cmpuint(w.k.allocs, ==, w.k.frees);
    g_assert_false(w.k.direct);
    world_end(&w);
}

/* VINTF off keeps the host queues (no call); new queues wait for it */
static void test_vintf_toggle(void)
{
    World w;
    CmdqvMapperQueueInfo qi;

    world_start(&w, 4, 4);
    enable_queues(&w, 0x3);
    step_begin(&w);
    op_vintf(&w, false);
    check_world(&w);
    g_assert_false(w.k.direct);
    g_assert_cmpuint(w.k.alloc_calls, ==, 2);

    step_begin(&w);
    op_enable(&w, 2, base_of(2, 0));
    check_world(&w);
    cmdqv_mapper_queue_info(w.m, 2, &qi);
    g_assert_cmpint(qi.status, ==, CMDQV_QUEUE_PENDING);
    g_assert_cmpuint(w.k.alloc_calls, ==, 2);

    step_begin(&w);
    op_vintf(&w, true);
    check_world(&w);
    g_assert_cmpuint(w.k.alloc_calls, ==, 3);
    g_assert_cmpuint(w.k.frees, ==, 0);
    g_assert_true(w.k.direct);
    world_end(&w);
}

/*
 * An allocation fails: init error on that queue only, nothing leaks, the
 * page is trapped to show the error; the guest rewriting BASE retries.
 */
static void test_alloc_failure_then_retry(void)
{
    World w;
    CmdqvMapperQueueInfo qi;

    world_start(&w, 4, 4);
    enable_queues(&w, 0x3);
    step_begin(&w);
    w.k.fail_at = w.k.alloc_calls + 1;
    w.k.fail_errno = ENOMEM;
    op_enable(&w, 2, base_of(2, 0));
    w.step_injected = true;
    check_world(&w);
    g_assert_cmpint(cmdqv_mapper_queue_error(w.m, 2), ==, -ENOMEM);
    g_assert_cmpint(w.k.err_seen[2], ==, -ENOMEM);
    g_assert_cmpuint(cmdqv_mapper_nr_host_queues(w.m), ==, 2);
    g_assert_false(w.k.direct);
    cmdqv_mapper_queue_info(w.m, 2, &qi);
    g_assert_cmpint(qi.status, ==, CMDQV_QUEUE_ERROR);

    /* queue 3 above the failed one: a placeholder holds index 2 */
    enable_queues(&w, 0x8);
    g_assert_cmpint(w.k.slot[2].owner, ==, -1);
    g_assert_true(cmdqv_mapper_is_identity(w.m));
    g_assert_false(w.k.direct);

    /* the guest rewrites the same BASE: retried, queue 3 rebuilt */
    step_begin(&w);
    rm_base64(&w, 2, base_of(2, 0) | LOG2SIZE);
    check_world(&w);
    g_assert_cmpint(cmdqv_mapper_queue_error(w.m, 2), ==, 0);
    g_assert_cmpint(w.k.err_seen[2], ==, 0);
    assert_free_order(&w, "32");
    g_assert_true(w.k.direct);
    world_end(&w);
}

/* Re-creating a lower queue fails: the higher one survives on a placeholder */
static void test_rebuild_failure(void)
{
    World w;

    world_start(&w, 4, 4);
    enable_queues(&w, 0x3);
    step_begin(&w);
    w.k.fail_at = w.k.alloc_calls + 1;      /* queue 0 with its new base */
    w.k.fail_errno = EFAULT;
    op_enable(&w, 0, base_of(0, 1));
    w.step_injected = true;
    check_world(&w);
    g_assert_cmpint(cmdqv_mapper_queue_error(w.m, 0), ==, -EFAULT);
    g_assert_cmpint(w.k.slot[0].owner, ==, -1);
    g_assert_cmpint(cmdqv_mapper_host_index(w.m, 1), ==, 1);
    g_assert_cmpuint(w.k.restores, ==, 1);
    world_end(&w);
}

/*
 * The kernel refuses a destroy (IOMMU_DESTROY failed): the queue is still
 * there, so nothing may be allocated over it (that would be EEXIST) and
 * the queue keeps its state; the next sync destroys it.
 */
static void test_destroy_refused(void)
{
    World w;
    CmdqvMapperStats st;

    world_start(&w, 4, 4);
    enable_queues(&w, 0x3);
    /* queue 0 re-based: queues 1 then 0 must go; the destroy of 1 fails */
    w.k.refuse_frees = 1;
    op_enable(&w, 0, base_of(0, 1));
    g_assert_cmpuint(w.k.refused_frees, ==, 1);
    g_assert_cmpuint(w.k.violations, ==, 0);
    g_assert_true(w.k.slot[1].live);
    g_assert_cmpint(cmdqv_mapper_host_index(w.m, 1), ==, 1);
    g_assert_cmpint(w.k.slot[1].owner, ==, 1);
    g_assert_false(w.k.direct);
    /* the state saved before the refusal went back into the queue */
    g_assert_cmpuint(w.k.restores, ==, 1);
    cmdqv_mapper_stats(w.m, &st);
    g_assert_cmpuint(st.free_failures, ==, 1);

    /* the next sync (any trapped access) finishes the rebuild */
    cmdqv_mapper_sync(w.m);
    g_assert_cmpuint(w.k.violations, ==, 0);
    assert_free_order(&w, "10");
    g_assert_cmpint(cmdqv_mapper_host_index(w.m, 0), ==, 0);
    g_assert_cmpint(cmdqv_mapper_host_index(w.m, 1), ==, 1);
    g_assert_cmphex(w.k.slot[0].iova, ==, base_of(0, 1));
    g_assert_true(w.k.direct);
    world_end(&w);
}

/* A BASE the kernel refuses (16-byte ring): init error, then fixed */
static void test_invalid_base(void)
{
    World w;

    world_start(&w, 4, 4);
    step_multi(&w);
    rm_alloc_map(&w, 0, true);
    rm_base64(&w, 0, base_of(0, 0) | 0);
    check_world(&w);
    g_assert_cmpint(cmdqv_mapper_queue_error(w.m, 0), ==, -EINVAL);
    g_assert_false(w.k.direct);
    step_begin(&w);
    rm_base64(&w, 0, base_of(0, 0) | LOG2SIZE);
    check_world(&w);
    g_assert_cmpint(cmdqv_mapper_queue_error(w.m, 0), ==, 0);
    g_assert_true(w.k.direct);
    world_end(&w);
}

/* No placeholder to be had: packed, trapped, identity back when it can */
static void test_placeholder_unavailable(void)
{
    World w;

    world_start(&w, 4, 4);
    w.k.ph_refuse = true;
    enable_queues(&w, 0x2);
    g_assert_cmpint(cmdqv_mapper_host_index(w.m, 1), ==, 0);
    g_assert_false(w.k.direct);
    enable_queues(&w, 0x1);
    g_assert_true(cmdqv_mapper_is_identity(w.m));
    g_assert_true(w.k.direct);
    world_end(&w);
}

/* A placeholder allocation fails: packed now, identity at the next change */
static void test_placeholder_alloc_failure(void)
{
    World w;

    world_start(&w, 4, 4);
    step_begin(&w);
    w.k.fail_at = w.k.alloc_calls + 1;
    w.k.fail_errno = ENOMEM;
    op_enable(&w, 1, base_of(1, 0));
    w.step_injected = true;
    check_world(&w);
    g_assert_cmpint(cmdqv_mapper_host_index(w.m, 1), ==, 0);
    g_assert_cmpint(cmdqv_mapper_queue_error(w.m, 1), ==, 0);
    g_assert_false(w.k.direct);
    enable_queues(&w, 0x4);
    g_assert_true(cmdqv_mapper_is_identity(w.m));
    g_assert_cmpint(w.k.slot[0].owner, ==, -1);
    g_assert_true(w.k.direct);
    world_end(&w);
}

/* Guest queues beyond the host's LVCMDQs: trapped, first come first served */
static void test_beyond_host_lvcmdqs(void)
{
    World w;

    world_start(&w, 4, 2);
    enable_queues(&w, 0x8);
    g_assert_cmpint(cmdqv_mapper_host_index(w.m, 3), ==, 0);
    g_assert_false(w.k.direct);

    /* queue 0 takes index 0, queue 3 is rebuilt above it */
    enable_queues(&w, 0x1);
    g_assert_cmpint(cmdqv_mapper_host_index(w.m, 0), ==, 0);
    g_assert_cmpint(cmdqv_mapper_host_index(w.m, 3), ==, 1);

    /* no room for queue 1: it gets the error, running queue 3 stays */
    step_begin(&w);
    op_enable(&w, 1, base_of(1, 0));
    check_world(&w);
    g_assert_cmpint(cmdqv_mapper_queue_error(w.m, 1), ==, -ENOSPC);
    g_assert_cmpint(cmdqv_mapper_host_index(w.m, 3), ==, 1);

    /* queue 3 goes, queue 1 retried: identity and the direct page again */
    step_begin(&w);
    op_disable(&w, 3);
    check_world(&w);
    step_begin(&w);
    rm_base64(&w, 1, base_of(1, 0) | LOG2SIZE);
    check_world(&w);
    g_assert_cmpint(cmdqv_mapper_host_index(w.m, 1), ==, 1);
    g_assert_true(w.k.direct);
    world_end(&w);
}

/* The kernel model itself catches every broken rule */
static void test_kernel_model(void)
{
    Kernel k = { .nr_host = 2, .next_id = 1 };
    CmdqvQueueState st = { 0 };
    uint32_t id0, id1, id;

    g_assert_cmpint(k_alloc(&k, 1, 1, 0x80000000, 8, &id), ==, -EIO);
    g_assert_cmpuint(k.violations, ==, 1);
    g_assert_cmpint(k_alloc(&k, 0, 0, 0x80000000, 8, &id0), ==, 0);
    g_assert_cmpint(k_alloc(&k, 0, 0, 0x80000000, 8, &id), ==, -EEXIST);
    g_assert_cmpint(k_alloc(&k, 2, 0, 0x80000000, 8, &id), ==, -EINVAL);
    g_assert_cmpuint(k.violations, ==, 3);
    g_assert_cmpint(k_alloc(&k, 1, 1, 0x80000010, 8, &id), ==, -EINVAL);
    g_assert_cmpuint(k.violations, ==, 3);
    g_assert_cmpint(k_alloc(&k, 1, 1, 0x80010000, 8, &id1), ==, 0);
    k_free(&k, 0, id0);                         /* EBUSY */
    g_assert_cmpuint(k.violations, ==, 4);
    k_save(&k, 0, 1, &st);                      /* not guest 0's */
    g_assert_cmpuint(k.violations, ==, 5);
    k.direct = true;
    k_free(&k, 1, id1);                         /* guest reaches the page */
    g_assert_cmpuint(k.violations, ==, 6);
    k.direct = false;
    k_free(&k, 1, id1);                         /* ENOENT */
    g_assert_cmpuint(k.violations, ==, 7);
}

/* The operator view */
static void test_operator_view(void)
{
    World w;
    CmdqvMapperQueueInfo qi;
    CmdqvMapperStats st;

    world_start(&w, 4, 4);
    enable_queues(&w, 0x4);
    cmdqv_mapper_queue_info(w.m, 2, &qi);
    g_assert_cmpstr(cmdqv_queue_status_str(qi.status), ==, "mapped");
    g_assert_cmpint(qi.host_index, ==, 2);
    g_assert_cmpuint(qi.host_id, ==, w.k.slot[2].id);
    cmdqv_mapper_queue_info(w.m, 0, &qi);
    g_assert_cmpstr(cmdqv_queue_status_str(qi.status), ==, "idle");
    cmdqv_mapper_stats(w.m, &st);
    g_assert_cmpuint(st.allocs, ==, 3);
    g_assert_cmpuint(st.placeholders, ==, 2);
    g_assert_cmpuint(cmdqv_mapper_nr_guest(w.m), ==, 4);
    g_assert_cmpuint(cmdqv_mapper_nr_host(w.m), ==, 4);
    world_end(&w);
}

/*
 * The exhaustive walk.  A depth-first search over the operation alphabet;
 * at each node the world (mapper bookkeeping, kernel and guest models) is
 * snapshot once and every child branches from that snapshot, so each step
 * is executed once per sequence prefix.  One allocation failure may be
 * injected per sequence: at every allocation attempt of every step, with
 * the errno rotating over ENOMEM, EFAULT, EINVAL.
 */

typedef struct Explorer {
    World w;
    Op ops[32];
    unsigned nr_ops;
    unsigned max_depth;
    CmdqvMapper *snap_m[MAX_DEPTH + 1];
    Kernel snap_k[MAX_DEPTH + 1];
    Guest snap_g[MAX_DEPTH + 1];
    bool snap_ph_failed[MAX_DEPTH + 1];
    uint64_t sequences, sequences_failed, steps;
} Explorer;

static const int inject_errnos[] = { ENOMEM, EFAULT, EINVAL };

static void explore_save(Explorer *e, unsigned d)
{
    cmdqv_mapper_copy_state(e->snap_m[d], e->w.m);
    e->snap_k[d] = e->w.k;
    e->snap_g[d] = e->w.gs;
    e->snap_ph_failed[d] = e->w.last_sync_ph_failed;
}

static void explore_load(Explorer *e, unsigned d)
{
    cmdqv_mapper_copy_state(e->w.m, e->snap_m[d]);
    e->w.k = e->snap_k[d];
    e->w.gs = e->snap_g[d];
    e->w.last_sync_ph_failed = e->snap_ph_failed[d];
    e->w.depth = d;
}

static void explore(Explorer *e, unsigned d, bool may_fail);

/* Run ops[i] from snapshot d, injecting at attempt @inject (0: none) */
static unsigned explore_step(Explorer *e, unsigned d, unsigned i,
                             unsigned inject, bool may_fail)
{
    World *w = &e->w;
    unsigned calls;

    explore_load(e, d);
    w->path[d] = e->ops[i].name;
    w->depth = d + 1;
    step_begin(w);
    if (inject) {
        w->k.fail_at = w->k.alloc_calls + inject;
        w->k.fail_errno = inject_errnos[(inject - 1) % 3];
        w->k.injected = false;
    }
    run_op(w, &e->ops[i]);
    calls = w->k.alloc_calls - w->calls_before;
    w->step_injected = inject && w->k.injected;
    check_world(w);
    if (inject) {
        if (!w->k.injected) {
            /* fewer attempts than the failure-free run: not a new case */
            return calls;
        }
        /* keep fail_errno: check_world() accepts it for queues in error */
        w->k.fail_at = ~0u;
    }
    e->steps++;
    e->sequences++;
    if (inject || !may_fail) {
        e->sequences_failed++;
    }
    explore(e, d + 1, may_fail && !inject);
    return calls;
}

static void explore(Explorer *e, unsigned d, bool may_fail)
{
    unsigned i, j, calls;

    /*
     * Every step of every sequence checks that the kernel holds exactly
     * the mapper's host queues (check_world()); every sequence shorter
     * than max_depth is also torn down by its child that ends in X.
     */
    if (d >= e->max_depth) {
        return;
    }
    explore_save(e, d);
    for (i = 0; i < e->nr_ops; i++) {
        calls = explore_step(e, d, i, 0, may_fail);
        if (!may_fail) {
            continue;
        }
        for (j = 1; j <= calls; j++) {
            explore_step(e, d, i, j, may_fail);
        }
    }
}

static void add_op(Explorer *e, OpKind kind, unsigned g, unsigned b)
{
    Op *op = &e->ops[e->nr_ops++];

    op->kind = kind;
    op->g = g;
    op->b = b;
    switch (kind) {
    case OP_ENABLE:
        snprintf(op->name, sizeof(op->name), "E%u%c", g, b ? 'b' : 'a');
        break;
    case OP_DISABLE:
        snprintf(op->name, sizeof(op->name), "D%u", g);
        break;
    case OP_VINTF:
        snprintf(op->name, sizeof(op->name), "V");
        break;
    case OP_RESET:
        snprintf(op->name, sizeof(op->name), "X");
        break;
    }
}

/*
 * Alphabet: E<g><a|b> enables queue g with base a or b (on a live queue
 * with the other base, that is a re-base), D<g> disables it, V toggles the
 * VINTF, X resets the device (and the guest re-enables CMDQV and the VINTF).
 */
static Explorer *explorer_new(unsigned nr_guest, unsigned nr_host,
                              unsigned depth)
{
    Explorer *e = g_new0(Explorer, 1);
    unsigned g, d;

    for (g = 0; g < nr_guest; g++) {
        add_op(e, OP_ENABLE, g, 0);
        add_op(e, OP_ENABLE, g, 1);
    }
    for (g = 0; g < nr_guest; g++) {
        add_op(e, OP_DISABLE, g, 0);
    }
    add_op(e, OP_VINTF, 0, 0);
    add_op(e, OP_RESET, 0, 0);
    e->max_depth = depth;
    world_start(&e->w, nr_guest, nr_host);
    for (d = 0; d <= depth; d++) {
        e->snap_m[d] = cmdqv_mapper_new(nr_guest, nr_host, &kernel_ops,
                                        &e->w.k);
    }
    explore_save(e, 0);
    return e;
}

static void explorer_free(Explorer *e)
{
    CmdqvMapper *pristine;
    unsigned d;

    /* Snapshots own no host queue: blank them so that freeing calls nothing */
    pristine = cmdqv_mapper_new(e->w.gs.nr_guest, e->w.k.nr_host,
                                &kernel_ops, &e->w.k);
    for (d = 0; d <= e->max_depth; d++) {
        cmdqv_mapper_copy_state(e->snap_m[d], pristine);
        cmdqv_mapper_free(e->snap_m[d]);
    }
    cmdqv_mapper_free(pristine);
    e->w.depth = 0;
    world_fini(&e->w);
    g_free(e);
}

/*
 * The root's branches, (first operation, injected attempt), are shared out
 * among threads, one explorer (world and snapshots) each.
 */
typedef struct ExhaustiveJob {
    unsigned nr_guest, nr_host, depth;
    unsigned nr_items;
    unsigned item_op[128], item_inject[128];
    gint next;
    guint64 sequences, sequences_failed;
    GMutex lock;
} ExhaustiveJob;

static gpointer exhaustive_worker(gpointer opaque)
{
    ExhaustiveJob *job = opaque;
    Explorer *e = explorer_new(job->nr_guest, job->nr_host, job->depth);
    gint i;

    while ((i = g_atomic_int_add(&job->next, 1)) < (gint)job->nr_items) {
        explore_step(e, 0, job->item_op[i], job->item_inject[i], true);
    }
    g_mutex_lock(&job->lock);
    job->sequences += e->sequences;
    job->sequences_failed += e->sequences_failed;
    g_mutex_unlock(&job->lock);
    explorer_free(e);
    return NULL;
}

static void run_exhaustive(unsigned nr_guest, unsigned nr_host,
                           unsigned depth)
{
    ExhaustiveJob job = {
        .nr_guest = nr_guest, .nr_host = nr_host, .depth = depth,
    };
    gint64 t0 = g_get_monotonic_time();
    unsigned i, j, calls, nr_threads, nr_alphabet;
    GThread *threads[8];
    Explorer *e;
    double secs;

    /* The root's branches: how many attempts each first operation makes */
    e = explorer_new(nr_guest, nr_host, 0);
    nr_alphabet = e->nr_ops;
    for (i = 0; i < e->nr_ops; i++) {
        calls = explore_step(e, 0, i, 0, false);
        for (j = 0; j <= calls; j++) {
            g_assert(job.nr_items < G_N_ELEMENTS(job.item_op));
            job.item_op[job.nr_items] = i;
            job.item_inject[job.nr_items++] = j;
        }
    }
    explore_load(e, 0);
    explorer_free(e);

    g_mutex_init(&job.lock);
    nr_threads = g_get_num_processors();
    if (g_getenv("CMDQV_MAPPER_THREADS")) {
        nr_threads = atoi(g_getenv("CMDQV_MAPPER_THREADS"));
    }
    nr_threads = CLAMP(nr_threads, 1, G_N_ELEMENTS(threads));
    for (i = 0; i < nr_threads; i++) {
        threads[i] = g_thread_new("explore", exhaustive_worker, &job);
    }
    for (i = 0; i < nr_threads; i++) {
        g_thread_join(threads[i]);
    }
    g_mutex_clear(&job.lock);
    secs = (g_get_monotonic_time() - t0) / 1e6;

    g_test_message("exhaustive G=%u H=%u: %u operations, every sequence of "
                   "1..%u: %" G_GUINT64_FORMAT " sequences checked, "
                   "%" G_GUINT64_FORMAT " of them with one injected "
                   "allocation failure; %u threads, %.1f s",
                   nr_guest, nr_host, nr_alphabet, depth, job.sequences,
                   job.sequences_failed, nr_threads, secs);
    printf("# cmdqv-mapper exhaustive: G=%u H=%u alphabet=%u depth<=%u "
           "sequences=%" G_GUINT64_FORMAT " (with one injected failure: "
           "%" G_GUINT64_FORMAT ") threads=%u time=%.1fs\n",
           nr_guest, nr_host, nr_alphabet, depth, job.sequences,
           job.sequences_failed, nr_threads, secs);
}

/* CMDQV_MAPPER_DEPTH overrides; "-m slow" takes every geometry to 6 */
static unsigned exhaustive_depth(unsigned quick)
{
    const char *s = g_getenv("CMDQV_MAPPER_DEPTH");

    if (s) {
        return CLAMP(atoi(s), 1, MAX_DEPTH);
    }
    return g_test_slow() ? 6 : quick;
}

static void test_exhaustive_4x4(void)
{
    run_exhaustive(4, 4, exhaustive_depth(6));
}

/* Degradation: guest queue 3 has no host index of its own */
static void test_exhaustive_4x3(void)
{
    run_exhaustive(4, 3, exhaustive_depth(5));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/cmdqv-mapper/kernel-model", test_kernel_model);
    g_test_add_func("/cmdqv-mapper/linux/boot", test_linux_boot);
    g_test_add_func("/cmdqv-mapper/linux/remove", test_linux_remove);
    g_test_add_func("/cmdqv-mapper/linux/kexec", test_linux_kexec);
    g_test_add_func("/cmdqv-mapper/base-halves", test_base_halves);
    g_test_add_func("/cmdqv-mapper/no-change-no-call", test_no_change_no_call);
    g_test_add_func("/cmdqv-mapper/queue1-before-queue0",
                    test_queue1_before_queue0);
    g_test_add_func("/cmdqv-mapper/rebase-under-live-queue",
                    test_rebase_under_live_queue);
    g_test_add_func("/cmdqv-mapper/reset-all-live", test_reset_all_live);
    g_test_add_func("/cmdqv-mapper/vintf-toggle", test_vintf_toggle);
    g_test_add_func("/cmdqv-mapper/alloc-failure-then-retry",
                    test_alloc_failure_then_retry);
    g_test_add_func("/cmdqv-mapper/rebuild-failure", test_rebuild_failure);
    g_test_add_func("/cmdqv-mapper/destroy-refused", test_destroy_refused);
    g_test_add_func("/cmdqv-mapper/invalid-base", test_invalid_base);
    g_test_add_func("/cmdqv-mapper/placeholder-unavailable",
                    test_placeholder_unavailable);
    g_test_add_func("/cmdqv-mapper/placeholder-alloc-failure",
                    test_placeholder_alloc_failure);
    g_test_add_func("/cmdqv-mapper/beyond-host-lvcmdqs",
                    test_beyond_host_lvcmdqs);
    g_test_add_func("/cmdqv-mapper/operator-view", test_operator_view);
    g_test_add_func("/cmdqv-mapper/exhaustive/4-guest-4-host",
                    test_exhaustive_4x4);
    g_test_add_func("/cmdqv-mapper/exhaustive/4-guest-3-host",
                    test_exhaustive_4x3);
    return g_test_run();
}
