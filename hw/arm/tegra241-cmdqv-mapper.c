/*
 * NVIDIA Tegra241 CMDQV: guest queue to host HW queue mapper
 *
 * See tegra241-cmdqv-mapper.h for the interface and
 * docs/devel/cmdqv-mapper.rst for the algorithm and why it is correct.
 *
 * Copyright (c) 2025 The qemu-accel-cmdqv authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <glib.h>
#include <stdint.h>
#include <stdbool.h>
#include <errno.h>
#include <string.h>

#include "tegra241-cmdqv-mapper.h"

typedef struct CmdqvSlot {
    CmdqvSlotKind kind;
    unsigned gidx;          /* CMDQV_SLOT_REAL only */
    uint64_t iova;
    unsigned log2size;
    uint32_t id;            /* in m->slot[] only */
} CmdqvSlot;

typedef struct CmdqvGuestQueue {
    /* What the guest wrote */
    bool allocated;
    uint64_t iova;          /* 0: no BASE */
    unsigned log2size;
    /* What the mapper made of it */
    int error;              /* 0 or -errno; the queue is then not wanted */
    int hidx;               /* backing host slot, -1 if none */
    /* Scratch of one sync */
    bool want;              /* must be backed at the end of this sync */
    bool had_host;          /* was backed when this sync began */
    bool saved;             /* state holds what save_state() read */
    CmdqvQueueState state;
} CmdqvGuestQueue;

struct CmdqvMapper {
    unsigned nr_guest;
    unsigned nr_host;
    const CmdqvMapperOps *ops;
    void *opaque;

    bool vintf_enabled;
    bool cmdqv_enabled;
    bool dirty;             /* a wish changed since the last sync */
    bool direct;            /* page mode last reported */

    CmdqvGuestQueue *gq;    /* [nr_guest] */
    CmdqvSlot *slot;        /* [nr_host], 0 .. nr_slots - 1 allocated */
    unsigned nr_slots;

    /* Scratch of one sync */
    CmdqvSlot *target;      /* [nr_host] */
    bool ph_failed;         /* no placeholder may be used in this sync */
    bool ph_known;
    bool ph_ok;
    uint64_t ph_iova;
    unsigned ph_log2size;

    CmdqvMapperStats stats;
};

static bool cmdqv_mapper_running(const CmdqvMapper *m)
{
    return m->vintf_enabled && m->cmdqv_enabled;
}

static void cmdqv_mapper_set_direct(CmdqvMapper *m, bool direct)
{
    if (m->direct != direct) {
        m->direct = direct;
        m->ops->page_mode_changed(m->opaque, direct);
    }
}

static void cmdqv_mapper_set_error(CmdqvMapper *m, unsigned g, int err)
{
    if (m->gq[g].error != err) {
        m->gq[g].error = err;
        if (m->ops->queue_error_changed) {
            m->ops->queue_error_changed(m->opaque, g, err);
        }
    }
}

/*
 * The page may go straight to the guest only when what the guest reads and
 * writes there is exactly its own queues: nothing left to reconcile, the
 * queues may run, every backed guest queue g is host queue g, and no init
 * error needs showing (the host page cannot show one).
 */
static bool cmdqv_mapper_can_be_direct(const CmdqvMapper *m)
{
    unsigned g;

    if (m->dirty || !cmdqv_mapper_running(m)) {
        return false;
    }
    for (g = 0; g < m->nr_guest; g++) {
        if (m->gq[g].error) {
            return false;
        }
        if (m->gq[g].hidx >= 0 && m->gq[g].hidx != (int)g) {
            return false;
        }
    }
    return true;
}

static void cmdqv_mapper_mark_dirty(CmdqvMapper *m)
{
    m->dirty = true;
    cmdqv_mapper_set_direct(m, false);
}

CmdqvMapper *cmdqv_mapper_new(unsigned nr_guest, unsigned nr_host,
                              const CmdqvMapperOps *ops, void *opaque)
{
    CmdqvMapper *m;
    unsigned g;

    g_assert(nr_guest >= 1 && nr_guest <= CMDQV_MAPPER_MAX_QUEUES);
    g_assert(nr_host >= 1 && nr_host <= CMDQV_MAPPER_MAX_QUEUES);
    g_assert(ops && ops->hw_queue_alloc && ops->hw_queue_free &&
             ops->save_state && ops->restore_state &&
             ops->placeholder_base && ops->page_mode_changed);

    m = g_new0(CmdqvMapper, 1);
    m->nr_guest = nr_guest;
    m->nr_host = nr_host;
    m->ops = ops;
    m->opaque = opaque;
    m->gq = g_new0(CmdqvGuestQueue, nr_guest);
    m->slot = g_new0(CmdqvSlot, nr_host);
    m->target = g_new0(CmdqvSlot, nr_host);
    for (g = 0; g < nr_guest; g++) {
        m->gq[g].hidx = -1;
    }
    return m;
}

void cmdqv_mapper_free(CmdqvMapper *m)
{
    if (!m) {
        return;
    }
    cmdqv_mapper_reset(m);
    g_free(m->gq);
    g_free(m->slot);
    g_free(m->target);
    g_free(m);
}

void cmdqv_mapper_copy_state(CmdqvMapper *dst, const CmdqvMapper *src)
{
    const CmdqvMapperOps *ops = dst->ops;
    void *opaque = dst->opaque;
    CmdqvGuestQueue *gq = dst->gq;
    CmdqvSlot *slot = dst->slot, *target = dst->target;

    g_assert(dst->nr_guest == src->nr_guest && dst->nr_host == src->nr_host);
    *dst = *src;
    dst->ops = ops;
    dst->opaque = opaque;
    dst->gq = gq;
    dst->slot = slot;
    dst->target = target;
    memcpy(gq, src->gq, sizeof(*gq) * src->nr_guest);
    memcpy(slot, src->slot, sizeof(*slot) * src->nr_host);
}

/* Setters: wishes only */

void cmdqv_mapper_set_allocated(CmdqvMapper *m, unsigned guest_index,
                                bool allocated)
{
    CmdqvGuestQueue *q;
    bool retry;

    g_assert(guest_index < m->nr_guest);
    q = &m->gq[guest_index];
    retry = q->error != 0;
    cmdqv_mapper_set_error(m, guest_index, 0);
    if (q->allocated == allocated && !retry) {
        return;
    }
    q->allocated = allocated;
    cmdqv_mapper_mark_dirty(m);
}

void cmdqv_mapper_set_base(CmdqvMapper *m, unsigned guest_index,
                           uint64_t iova, unsigned log2size)
{
    CmdqvGuestQueue *q;
    bool retry;

    g_assert(guest_index < m->nr_guest);
    q = &m->gq[guest_index];
    if (!iova) {
        log2size = 0;
    }
    retry = q->error != 0;
    cmdqv_mapper_set_error(m, guest_index, 0);
    if (q->iova == iova && q->log2size == log2size && !retry) {
        return;
    }
    q->iova = iova;
    q->log2size = log2size;
    cmdqv_mapper_mark_dirty(m);
}

void cmdqv_mapper_set_vintf_enabled(CmdqvMapper *m, bool enabled)
{
    if (m->vintf_enabled != enabled) {
        m->vintf_enabled = enabled;
        cmdqv_mapper_mark_dirty(m);
    }
}

void cmdqv_mapper_set_cmdqv_enabled(CmdqvMapper *m, bool enabled)
{
    if (m->cmdqv_enabled != enabled) {
        m->cmdqv_enabled = enabled;
        cmdqv_mapper_mark_dirty(m);
    }
}

/* Reconciliation */

static bool cmdqv_mapper_placeholder(CmdqvMapper *m)
{
    if (!m->ph_known) {
        m->ph_known = true;
        m->ph_ok = m->ops->placeholder_base(m->opaque, &m->ph_iova,
                                            &m->ph_log2size);
    }
    return m->ph_ok;
}

static void cmdqv_mapper_drop_want(CmdqvMapper *m, unsigned g, int err)
{
    m->gq[g].want = false;
    m->gq[g].saved = false;
    cmdqv_mapper_set_error(m, g, err);
}

static void cmdqv_target_real(CmdqvMapper *m, unsigned i, unsigned g)
{
    m->target[i] = (CmdqvSlot) {
        .kind = CMDQV_SLOT_REAL,
        .gidx = g,
        .iova = m->gq[g].iova,
        .log2size = m->gq[g].log2size,
    };
}

/*
 * The host layout for the wanted guest queues; returns its length.
 *
 * Room first: when more queues are wanted than the host VINTF has, the
 * queues that already had a host queue when the sync began keep theirs and
 * the newcomers, highest guest index first, get -ENOSPC (a running queue is
 * never evicted because another one was enabled).
 *
 * Preferred layout: identity.  Wanted queue g < nr_host sits at host index
 * g, gaps below the top one hold placeholders; wanted queues >= nr_host
 * (then the page is trapped anyway) are stacked above, lowest first, so
 * that they can go away without disturbing the identity part.
 * Fallback, when that needs more than nr_host slots or a placeholder cannot
 * be had: the wanted queues packed from 0 in guest order, no placeholder.
 */
static unsigned cmdqv_mapper_build_target(CmdqvMapper *m)
{
    unsigned g, n = 0, top = 0, nr_high = 0, nr_want = 0;
    bool gaps = false;

    for (g = 0; g < m->nr_guest; g++) {
        nr_want += m->gq[g].want;
    }
    for (g = m->nr_guest; g-- > 0 && nr_want > m->nr_host;) {
        if (m->gq[g].want && !m->gq[g].had_host) {
            cmdqv_mapper_drop_want(m, g, -ENOSPC);
            nr_want--;
        }
    }
    g_assert(nr_want <= m->nr_host);

    for (g = 0; g < m->nr_guest; g++) {
        if (!m->gq[g].want) {
            continue;
        }
        if (g < m->nr_host) {
            top = g + 1;
        } else {
            nr_high++;
        }
    }
    for (g = 0; g < top; g++) {
        if (!m->gq[g].want) {
            gaps = true;
        }
    }

    if (!m->ph_failed && gaps && !cmdqv_mapper_placeholder(m)) {
        m->ph_failed = true;
    }
    if ((!gaps || !m->ph_failed) && top + nr_high <= m->nr_host) {
        for (g = 0; g < top; g++) {
            if (m->gq[g].want) {
                cmdqv_target_real(m, g, g);
            } else {
                m->target[g] = (CmdqvSlot) {
                    .kind = CMDQV_SLOT_PLACEHOLDER,
                    .iova = m->ph_iova,
                    .log2size = m->ph_log2size,
                };
            }
        }
        n = top;
        for (g = m->nr_host; g < m->nr_guest; g++) {
            if (m->gq[g].want) {
                cmdqv_target_real(m, n++, g);
            }
        }
        return n;
    }

    for (g = 0; g < m->nr_guest; g++) {
        if (m->gq[g].want) {
            cmdqv_target_real(m, n++, g);
        }
    }
    return n;
}

static bool cmdqv_slot_same(const CmdqvSlot *a, const CmdqvSlot *b)
{
    if (a->kind != b->kind || a->iova != b->iova ||
        a->log2size != b->log2size) {
        return false;
    }
    return a->kind != CMDQV_SLOT_REAL || a->gidx == b->gidx;
}

/*
 * Destroy the highest host queue, saving its state if it is to come back.
 * False if the kernel refused: the queue stays where it was, with its state.
 */
static bool cmdqv_mapper_destroy_top(CmdqvMapper *m)
{
    unsigned i = m->nr_slots - 1;
    CmdqvSlot *s = &m->slot[i];
    CmdqvGuestQueue *q = NULL;
    int ret;

    if (s->kind == CMDQV_SLOT_REAL) {
        q = &m->gq[s->gidx];
        if (q->want) {
            m->ops->save_state(m->opaque, s->gidx, i, &q->state);
            q->saved = true;
        }
        q->hidx = -1;
    }
    ret = m->ops->hw_queue_free(m->opaque, i, s->id);
    if (ret) {
        m->stats.free_failures++;
        if (q) {
            q->hidx = i;
            if (q->saved) {
                m->ops->restore_state(m->opaque, s->gidx, i, &q->state);
                q->saved = false;
            }
        }
        return false;
    }
    m->stats.frees++;
    memset(s, 0, sizeof(*s));
    m->nr_slots--;
    return true;
}

/* Allocate target slot nr_slots; false if the kernel refused */
static bool cmdqv_mapper_alloc_next(CmdqvMapper *m)
{
    unsigned i = m->nr_slots;
    const CmdqvSlot *t = &m->target[i];
    bool real = t->kind == CMDQV_SLOT_REAL;
    uint32_t id = 0;
    int ret;

    ret = m->ops->hw_queue_alloc(m->opaque, i, real ? (int)t->gidx : -1,
                                 t->iova, t->log2size, &id);
    if (ret) {
        m->stats.alloc_failures++;
        if (real) {
            cmdqv_mapper_drop_want(m, t->gidx, ret < 0 ? ret : -EIO);
        } else {
            m->ph_failed = true;
        }
        return false;
    }

    m->slot[i] = *t;
    m->slot[i].id = id;
    m->nr_slots++;
    m->stats.allocs++;
    if (real) {
        CmdqvGuestQueue *q = &m->gq[t->gidx];

        q->hidx = i;
        if (q->saved) {
            m->ops->restore_state(m->opaque, t->gidx, i, &q->state);
            q->saved = false;
            m->stats.rebuilds++;
        }
    } else {
        m->stats.placeholders++;
    }
    return true;
}

void cmdqv_mapper_sync(CmdqvMapper *m)
{
    bool running = cmdqv_mapper_running(m);
    bool stuck = false;
    unsigned g;

    if (!m->dirty) {
        return;
    }
    m->dirty = false;
    m->stats.syncs++;

    /*
     * Who must be backed.  While the queues cannot run, nobody new is
     * backed (the allocation waits for the enables), but the backed ones
     * follow the guest: freed, re-based, rebuilt.
     */
    for (g = 0; g < m->nr_guest; g++) {
        CmdqvGuestQueue *q = &m->gq[g];

        q->had_host = q->hidx >= 0;
        q->want = q->allocated && q->iova && !q->error &&
                  (running || q->had_host);
        /* q->saved: only after a sync a refused destroy stopped (below) */
    }
    m->ph_failed = false;
    m->ph_known = false;

    /*
     * Each round either reaches the target or fails one allocation, which
     * removes a wanted queue (error) or the placeholders for good: at most
     * nr_guest + 2 rounds.
     */
    for (;;) {
        unsigned n = cmdqv_mapper_build_target(m);
        unsigned p = 0;

        while (p < n && p < m->nr_slots &&
               cmdqv_slot_same(&m->slot[p], &m->target[p])) {
            p++;
        }
        if (p == n && p == m->nr_slots) {
            break;
        }
        cmdqv_mapper_set_direct(m, false);
        while (m->nr_slots > p) {
            if (!cmdqv_mapper_destroy_top(m)) {
                /*
                 * The kernel keeps that queue (and all below it): nothing
                 * is allocated over it; the next sync tries again.
                 */
                stuck = true;
                break;
            }
        }
        if (stuck) {
            break;
        }
        while (m->nr_slots < n && cmdqv_mapper_alloc_next(m)) {
            /* next slot */
        }
    }

    /*
     * A queue whose re-creation failed loses its saved state; one that
     * waits above a queue the kernel would not destroy keeps it.
     */
    for (g = 0; g < m->nr_guest; g++) {
        if (!stuck) {
            m->gq[g].saved = false;
        }
        m->gq[g].want = false;
    }
    if (stuck) {
        m->dirty = true;
    }
    cmdqv_mapper_set_direct(m, !stuck && cmdqv_mapper_can_be_direct(m));
}

void cmdqv_mapper_reset(CmdqvMapper *m)
{
    unsigned g;

    for (g = 0; g < m->nr_guest; g++) {
        m->gq[g].allocated = false;
        m->gq[g].iova = 0;
        m->gq[g].log2size = 0;
        cmdqv_mapper_set_error(m, g, 0);
    }
    m->vintf_enabled = false;
    m->cmdqv_enabled = false;
    cmdqv_mapper_mark_dirty(m);
    cmdqv_mapper_sync(m);
    /* nr_slots > 0 only if the kernel refused a destroy (reported there) */
}

/* Queries */

int cmdqv_mapper_host_index(const CmdqvMapper *m, unsigned guest_index)
{
    g_assert(guest_index < m->nr_guest);
    return m->gq[guest_index].hidx;
}

int cmdqv_mapper_queue_error(const CmdqvMapper *m, unsigned guest_index)
{
    g_assert(guest_index < m->nr_guest);
    return m->gq[guest_index].error;
}

bool cmdqv_mapper_is_identity(const CmdqvMapper *m)
{
    unsigned g;

    for (g = 0; g < m->nr_guest; g++) {
        if (m->gq[g].hidx >= 0 && m->gq[g].hidx != (int)g) {
            return false;
        }
    }
    return true;
}

bool cmdqv_mapper_page_direct(const CmdqvMapper *m)
{
    return m->direct;
}

unsigned cmdqv_mapper_nr_host_queues(const CmdqvMapper *m)
{
    return m->nr_slots;
}

unsigned cmdqv_mapper_nr_guest(const CmdqvMapper *m)
{
    return m->nr_guest;
}

unsigned cmdqv_mapper_nr_host(const CmdqvMapper *m)
{
    return m->nr_host;
}

void cmdqv_mapper_queue_info(const CmdqvMapper *m, unsigned guest_index,
                             CmdqvMapperQueueInfo *info)
{
    const CmdqvGuestQueue *q;
    const CmdqvSlot *s = NULL;

    g_assert(guest_index < m->nr_guest);
    q = &m->gq[guest_index];
    if (q->hidx >= 0) {
        s = &m->slot[q->hidx];
    }

    memset(info, 0, sizeof(*info));
    info->allocated = q->allocated;
    info->iova = q->iova;
    info->log2size = q->log2size;
    info->host_index = q->hidx;
    info->host_id = s ? s->id : 0;
    info->error = q->error;
    if (q->error) {
        info->status = CMDQV_QUEUE_ERROR;
    } else if (!q->allocated || !q->iova) {
        info->status = CMDQV_QUEUE_IDLE;
    } else if (s && s->iova == q->iova && s->log2size == q->log2size) {
        info->status = CMDQV_QUEUE_MAPPED;
    } else {
        info->status = CMDQV_QUEUE_PENDING;
    }
}

void cmdqv_mapper_slot_info(const CmdqvMapper *m, unsigned host_index,
                            CmdqvMapperSlotInfo *info)
{
    const CmdqvSlot *s;

    g_assert(host_index < m->nr_host);
    s = &m->slot[host_index];
    memset(info, 0, sizeof(*info));
    info->guest_index = -1;
    if (host_index >= m->nr_slots) {
        info->kind = CMDQV_SLOT_FREE;
        return;
    }
    info->kind = s->kind;
    info->id = s->id;
    info->iova = s->iova;
    info->log2size = s->log2size;
    if (s->kind == CMDQV_SLOT_REAL) {
        info->guest_index = s->gidx;
    }
}

void cmdqv_mapper_stats(const CmdqvMapper *m, CmdqvMapperStats *stats)
{
    *stats = m->stats;
}

const char *cmdqv_queue_status_str(CmdqvQueueStatus status)
{
    switch (status) {
    case CMDQV_QUEUE_IDLE:
        return "idle";
    case CMDQV_QUEUE_PENDING:
        return "pending";
    case CMDQV_QUEUE_MAPPED:
        return "mapped";
    case CMDQV_QUEUE_ERROR:
        return "error";
    }
    return "?";
}
