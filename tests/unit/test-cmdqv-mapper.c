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
 * up to 6 guest operations over 4 guest queues, with no failure and with one
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

    int err_seen[MAXQ];         /* last queue_error_changed() per guest q */
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

static void k_free(void *opaque, unsigned h, uint32_t id)
{
    Kernel *k = opaque;

    if (k->direct) {
        kviolation(k, "free of %u while the guest reaches the page", h);
    }
    if (h >= k->nr_host || !k->slot[h].live || k->slot[h].id != id) {
        kviolation(k, "free of %u id %u: ENOENT", h, id);
        return;
    }
    if (h + 1 < k->nr_host && k->slot[h + 1].live) {
        kviolation(k, "free of %u while %u holds it: EBUSY", h, h + 1);
        return;
    }
    /* The kernel's destroy zeroes PROD, CONS, CONFIG and BASE */
    memset(&k->slot[h], 0, sizeof(k->slot[h]));
    k->frees++;
    if (k->nr_free_order < G_N_ELEMENTS(k->free_order)) {
        k->free_order[k->nr_free_order++] = h;
    }
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
    if (memcmp(&k->slot[h].regs, &zero, sizeof(zero))) {
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
    CmdqvMapperStats st;
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
    /* No useless host queue: a placeholder never sits on top */
    CHECK(w, nr == 0 || k->slot[nr - 1].owner >= 0);

    for (g = 0; g < G; g++) {
        int hidx = cmdqv_mapper_host_index(m, g);
        int err = cmdqv_mapper_queue_error(m, g);
        bool live = gs->allocated[g] && gs->iova[g];
        CmdqvMapperQueueInfo qi;

        cmdqv_mapper_queue_info(m, g, &qi);
        CHECK(w, qi.host_index == hidx && qi.error == err);
        CHECK(w, qi.allocated == gs->allocated[g] && qi.iova == gs->iova[g]);
        CHECK(w, k->err_seen[g] == err);
        if (err) {
            any_error = true;
            any_enospc |= err == -ENOSPC;
            /* errors come from injected failures, or a lack of host room */
            CHECK(w, (k->fail_at && err == -k->fail_errno) ||
                     (err == -ENOSPC && G > H));
            CHECK(w, hidx < 0 && live && qi.status == CMDQV_QUEUE_ERROR);
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
        if (k->injected && w->step_injected && k->failed_owner == (int)g) {
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
    if (!w->step_injected && !k->ph_refuse) {
        CHECK(w, k->frees - w->frees_before == w->nr_before - lcp);
        CHECK(w, k->alloc_calls - w->calls_before == nr - lcp);
    }

    /*
     * (c) state carried: a queue backed now shows what the guest last saw
     * (zero if it was not backed at the end of the previous step).
     */
    for (g = 0; g < G; g++) {
        int hidx = cmdqv_mapper_host_index(m, g);

        if (hidx < 0) {
            memset(&gs->seen[g], 0, sizeof(gs->seen[g]));
            continue;
        }
        CHECK(w, !memcmp(&k->slot[hidx].regs, &gs->seen[g],
                         sizeof(gs->seen[g])));
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
    char name[8];
} Op;

static void op_enable(World *w, unsigned g, uint64_t iova)
{
    w->gs.allocated[g] = true;
    w->gs.iova[g] = iova;
    w->gs.log2size[g] = LOG2SIZE;
    cmdqv_mapper_set_allocated(w->m, g, true);
    cmdqv_mapper_set_base(w->m, g, iova, LOG2SIZE);
    cmdqv_mapper_sync(w->m);
}

static void op_disable(World *w, unsigned g)
{
    w->gs.allocated[g] = false;
    cmdqv_mapper_set_allocated(w->m, g, false);
    cmdqv_mapper_sync(w->m);
}

static void op_vintf(World *w, bool on)
{
    w->gs.vintf = on;
    cmdqv_mapper_set_vintf_enabled(w->m, on);
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

    /* This prefix is a sequence too: it must tear down cleanly */
    explore_save(e, d);
    check_teardown(&e->w);
    if (d == e->max_depth) {
        return;
    }
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

static void run_exhaustive(unsigned nr_guest, unsigned nr_host,
                           unsigned depth)
{
    Explorer *e = g_new0(Explorer, 1);
    gint64 t0 = g_get_monotonic_time();
    CmdqvMapper *pristine;
    unsigned g, d;
    double secs;

    /*
     * Alphabet: E<g><a|b> enables queue g with base a or b (on a live queue
     * with the other base, that is a re-base), D<g> disables it, V toggles
     * the VINTF, X resets the device (and the guest re-enables CMDQV and
     * the VINTF).
     */
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
    explore(e, 0, true);
    secs = (g_get_monotonic_time() - t0) / 1e6;

    g_test_message("exhaustive G=%u H=%u: %u operations, depth <= %u: "
                   "%" G_GUINT64_FORMAT " sequences checked "
                   "(%" G_GUINT64_FORMAT " with an injected failure or "
                   "after one), %.1f s",
                   nr_guest, nr_host, e->nr_ops, depth, e->sequences,
                   e->sequences_failed, secs);
    printf("# cmdqv-mapper exhaustive: G=%u H=%u alphabet=%u depth<=%u "
           "sequences=%" G_GUINT64_FORMAT " (with one injected failure: "
           "%" G_GUINT64_FORMAT ") time=%.1fs\n",
           nr_guest, nr_host, e->nr_ops, depth, e->sequences,
           e->sequences_failed, secs);

    /* Snapshots own no host queue: blank them so that freeing calls nothing */
    pristine = cmdqv_mapper_new(nr_guest, nr_host, &kernel_ops, &e->w.k);
    for (d = 0; d <= depth; d++) {
        cmdqv_mapper_copy_state(e->snap_m[d], pristine);
        cmdqv_mapper_free(e->snap_m[d]);
    }
    cmdqv_mapper_free(pristine);
    e->w.depth = 0;
    CHECK(&e->w, e->w.k.violations == 0);
    world_fini(&e->w);
    g_free(e);
}

static unsigned exhaustive_depth(void)
{
    const char *s = g_getenv("CMDQV_MAPPER_DEPTH");

    return s ? MIN((unsigned)atoi(s), MAX_DEPTH) : 6;
}

static void test_exhaustive_4x4(void)
{
    run_exhaustive(4, 4, exhaustive_depth());
}

static void test_exhaustive_4x3(void)
{
    run_exhaustive(4, 3, exhaustive_depth());
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/cmdqv-mapper/exhaustive/4-guest-4-host",
                    test_exhaustive_4x4);
    g_test_add_func("/cmdqv-mapper/exhaustive/4-guest-3-host",
                    test_exhaustive_4x3);
    return g_test_run();
}
