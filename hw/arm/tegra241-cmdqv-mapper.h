/*
 * NVIDIA Tegra241 CMDQV: guest queue to host HW queue mapper
 *
 * Pure logic, no MMIO and no QEMU headers: it builds into QEMU and into a
 * plain GLib unit test (tests/unit/test-cmdqv-mapper.c).
 * Design note: docs/devel/cmdqv-mapper.rst.
 *
 * The register model tells the mapper what the guest wants (ALLOCATED,
 * BASE, VINTF and CMDQV enables) through the setters below; they never call
 * the kernel.  cmdqv_mapper_sync() reconciles the host HW queues with that
 * wish, obeying the kernel's rules (allocate ascending from index 0, destroy
 * descending, a queue's base fixed for life), keeping host index == guest
 * index whenever it can (placeholder queues fill the gaps), rebuilding
 * higher queues with their register state carried when a lower one changes,
 * and turning a failed allocation into a per-queue init error.
 *
 * Copyright (c) 2025 The qemu-accel-cmdqv authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_ARM_TEGRA241_CMDQV_MAPPER_H
#define HW_ARM_TEGRA241_CMDQV_MAPPER_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

/* Largest number of guest or host logical queues: CMDQ_ALLOC_MAP.LVCMDQ */
#define CMDQV_MAPPER_MAX_QUEUES 128

typedef struct CmdqvMapper CmdqvMapper;

/*
 * Page-0 registers of one queue that must survive a rebuild.  The mapper
 * only carries it from save_state() to restore_state(); the caller decides
 * what goes in (the guest-visible values) and how it is written back.
 */
typedef struct CmdqvQueueState {
    uint32_t cons;
    uint32_t prod;
    uint32_t config;
    uint32_t gerror;
    uint32_t gerrorn;
} CmdqvQueueState;

typedef struct CmdqvMapperOps {
    /*
     * IOMMU_HW_QUEUE_ALLOC at @host_index for a ring of 2^@log2size 16-byte
     * entries at @iova.  @guest_index is the guest queue it backs, or -1 for
     * a placeholder (for tracing only).  Returns 0 and the object id in
     * *@out_id, or a negative errno, leaving nothing allocated.
     */
    int (*hw_queue_alloc)(void *opaque, unsigned host_index, int guest_index,
                          uint64_t iova, unsigned log2size, uint32_t *out_id);
    /*
     * IOMMU_DESTROY of the HW queue @id at @host_index (always the highest).
     * Returns 0, or a negative errno: the queue still exists on the host,
     * and so do all below it (each holds the next lower one). The mapper
     * keeps the slot as it was, gives the queue its state back, and tries
     * again at its next sync.
     */
    int (*hw_queue_free)(void *opaque, unsigned host_index, uint32_t id);
    /*
     * Stop host queue @host_index (backing guest queue @guest_index) and
     * read its guest-visible state, just before it is destroyed.
     */
    void (*save_state)(void *opaque, unsigned guest_index,
                       unsigned host_index, CmdqvQueueState *state);
    /* Write @state into the freshly allocated host queue @host_index */
    void (*restore_state)(void *opaque, unsigned guest_index,
                          unsigned host_index, const CmdqvQueueState *state);
    /*
     * The ring of placeholder queues: a zeroed page of QEMU's mapped in the
     * IOAS outside guest RAM.  Return false if there is none (then the
     * mapper gives up identity rather than use placeholders).
     */
    bool (*placeholder_base)(void *opaque, uint64_t *iova,
                             unsigned *log2size);
    /*
     * @direct true: the host page 0 may be mapped straight into the guest
     * (every backed guest queue g sits at host index g, no error to show,
     * VINTF and CMDQV enabled, nothing left to reconcile).  @direct false:
     * trap the page; every trapped page-0 access must call
     * cmdqv_mapper_sync() first, then go to cmdqv_mapper_host_index().
     * Called on changes only; the initial mode is "trapped".
     */
    void (*page_mode_changed)(void *opaque, bool direct);
    /*
     * Optional (may be NULL): guest queue @guest_index's init error changed
     * to @err (a negative errno, 0 once cleared).  The register model shows
     * a non-zero one as GERROR.CMDQ_INIT_ERR.
     */
    void (*queue_error_changed)(void *opaque, unsigned guest_index, int err);
} CmdqvMapperOps;

typedef enum CmdqvQueueStatus {
    CMDQV_QUEUE_IDLE,       /* not ALLOCATED, or no BASE */
    CMDQV_QUEUE_PENDING,    /* wanted: waits for a sync or the enables */
    CMDQV_QUEUE_MAPPED,     /* backed by a host queue with the guest's BASE */
    CMDQV_QUEUE_ERROR,      /* backing failed: CMDQ_INIT_ERR until retried */
} CmdqvQueueStatus;

typedef enum CmdqvSlotKind {
    CMDQV_SLOT_FREE,
    CMDQV_SLOT_PLACEHOLDER,
    CMDQV_SLOT_REAL,
} CmdqvSlotKind;

/* Operator view of a guest queue */
typedef struct CmdqvMapperQueueInfo {
    CmdqvQueueStatus status;
    bool allocated;         /* CMDQ_ALLOC_MAP.ALLOCATED as the guest wrote */
    uint64_t iova;          /* BASE address as the guest wrote, 0: none */
    unsigned log2size;
    int host_index;         /* -1: not backed */
    uint32_t host_id;       /* 0: not backed */
    int error;              /* 0 or the negative errno of the failure */
} CmdqvMapperQueueInfo;

/* Operator view of a host logical queue slot */
typedef struct CmdqvMapperSlotInfo {
    CmdqvSlotKind kind;
    int guest_index;        /* -1 unless kind == CMDQV_SLOT_REAL */
    uint32_t id;
    uint64_t iova;
    unsigned log2size;
} CmdqvMapperSlotInfo;

/* Cumulative counters, never reset */
typedef struct CmdqvMapperStats {
    uint64_t allocs;            /* successful HW queue allocations */
    uint64_t frees;             /* HW queue destructions */
    uint64_t free_failures;     /* destructions the kernel refused */
    uint64_t alloc_failures;    /* failed allocations, real or placeholder */
    uint64_t placeholders;      /* successful placeholder allocations */
    uint64_t rebuilds;          /* guest queues re-created, state carried */
    uint64_t syncs;             /* syncs that had something to reconcile */
} CmdqvMapperStats;

/*
 * A mapper for @nr_guest guest queues on a host VINTF with @nr_host logical
 * queues (both 1..CMDQV_MAPPER_MAX_QUEUES).  @ops and @opaque must outlive
 * it.  Starts with everything disabled and no host queue.
 */
CmdqvMapper *cmdqv_mapper_new(unsigned nr_guest, unsigned nr_host,
                              const CmdqvMapperOps *ops, void *opaque);
/* Destroys every host queue (top down), then frees @m.  NULL is fine. */
void cmdqv_mapper_free(CmdqvMapper *m);

/* Guest wishes: record only, never call the kernel; may trap the page */
void cmdqv_mapper_set_allocated(CmdqvMapper *m, unsigned guest_index,
                                bool allocated);
/* @iova == 0: no BASE.  Re-writing the same value retries a failed queue. */
void cmdqv_mapper_set_base(CmdqvMapper *m, unsigned guest_index,
                           uint64_t iova, unsigned log2size);
void cmdqv_mapper_set_vintf_enabled(CmdqvMapper *m, bool enabled);
void cmdqv_mapper_set_cmdqv_enabled(CmdqvMapper *m, bool enabled);

/*
 * Reconcile the host queues with the guest's wishes.  Nothing to do (no
 * wish changed since the last sync) costs no kernel call.  Call it before
 * serving any trapped page-0 access (mandatory), and where convenient when
 * the guest has surely finished a change (a 64-bit BASE write).
 */
void cmdqv_mapper_sync(CmdqvMapper *m);

/*
 * Device or guest reset: forget every wish (all queues unallocated, no
 * BASE, VINTF and CMDQV disabled, errors cleared) and destroy every host
 * queue, top down.
 */
void cmdqv_mapper_reset(CmdqvMapper *m);

/* Queries */
/* Host index backing @guest_index, -1 if none */
int cmdqv_mapper_host_index(const CmdqvMapper *m, unsigned guest_index);
/* 0 or the negative errno that left @guest_index without a host queue */
int cmdqv_mapper_queue_error(const CmdqvMapper *m, unsigned guest_index);
/* Every backed guest queue sits at its own index */
bool cmdqv_mapper_is_identity(const CmdqvMapper *m);
/* The mode last given to page_mode_changed() */
bool cmdqv_mapper_page_direct(const CmdqvMapper *m);
/* Number of host queues allocated (always indices 0 .. n-1) */
unsigned cmdqv_mapper_nr_host_queues(const CmdqvMapper *m);
unsigned cmdqv_mapper_nr_guest(const CmdqvMapper *m);
unsigned cmdqv_mapper_nr_host(const CmdqvMapper *m);
void cmdqv_mapper_queue_info(const CmdqvMapper *m, unsigned guest_index,
                             CmdqvMapperQueueInfo *info);
void cmdqv_mapper_slot_info(const CmdqvMapper *m, unsigned host_index,
                            CmdqvMapperSlotInfo *info);
void cmdqv_mapper_stats(const CmdqvMapper *m, CmdqvMapperStats *stats);
const char *cmdqv_queue_status_str(CmdqvQueueStatus status);

/*
 * Make @dst, of the same geometry, an exact copy of @src's bookkeeping
 * (ops and opaque excepted).  No op is called.  For model checking only:
 * in QEMU a host queue belongs to exactly one mapper.
 */
void cmdqv_mapper_copy_state(CmdqvMapper *dst, const CmdqvMapper *src);

#endif /* HW_ARM_TEGRA241_CMDQV_MAPPER_H */
