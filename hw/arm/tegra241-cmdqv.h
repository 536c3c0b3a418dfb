/*
 * NVIDIA Tegra241 CMDQV: the guest-visible register window of an
 * accelerated SMMUv3 and the host VINTF behind it.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_ARM_TEGRA241_CMDQV_H
#define HW_ARM_TEGRA241_CMDQV_H

#include "hw/arm/smmuv3.h"
#include "system/iommufd.h"

/* Config page, global VCMDQ pages 0 and 1, then two pages per VINTF */
#define TEGRA241_CMDQV_WINDOW_SIZE(vintfs)  (0x30000 + (vintfs) * 0x20000)
#define TEGRA241_CMDQV_MAX_QUEUES   128
#define TEGRA241_CMDQV_MAX_VINTFS   64

typedef struct Tegra241Cmdqv Tegra241Cmdqv;

/*
 * At the SMMU's realize, after its own MMIO region and IRQs: the window
 * becomes the device's second MMIO region, its interrupt the fifth IRQ.
 */
Tegra241Cmdqv *tegra241_cmdqv_new(SMMUv3State *s);

/* Once resolved: the number of logical queues the guest gets (0: off). */
void tegra241_cmdqv_set_nr_queues(Tegra241Cmdqv *c, unsigned nr);

/* Device reset: registers to their reset values, host queues destroyed. */
void tegra241_cmdqv_reset(Tegra241Cmdqv *c);

/*
 * The vIOMMU (type TEGRA241_CMDQV) exists: map its VINTF page 0 and
 * back the guest's queues with host HW queues from now on.
 */
bool tegra241_cmdqv_host_attach(Tegra241Cmdqv *c, IOMMUFDBackend *be,
                                uint32_t ioas_id, uint32_t viommu_id,
                                uint64_t mmap_offset, uint64_t mmap_length,
                                unsigned host_lvcmdqs, Error **errp);

/* Before the vIOMMU goes: every host object of the VINTF freed. */
void tegra241_cmdqv_host_detach(Tegra241Cmdqv *c);

/* Operator view of guest queue @l */
typedef struct Tegra241CmdqvQueueView {
    const char *state;
    uint64_t base;
    unsigned log2size;
    int host_index;
    uint32_t host_id;
    bool placeholder;
    bool direct;
    int error;
    uint64_t traps;
    uint64_t emulated;      /* commands QEMU executed itself */
} Tegra241CmdqvQueueView;

unsigned tegra241_cmdqv_nr_queues(Tegra241Cmdqv *c);
void tegra241_cmdqv_queue_view(Tegra241Cmdqv *c, unsigned l,
                               Tegra241CmdqvQueueView *v);
uint64_t tegra241_cmdqv_hw_queue_allocs(Tegra241Cmdqv *c);
/* vEVENTQ records read, and CMDQV interrupts raised from them */
void tegra241_cmdqv_error_counts(Tegra241Cmdqv *c, uint64_t *events,
                                 uint64_t *irqs);

/* The SMMU's "smmuv3/cmdqv" vmstate subsection carries this */
extern const VMStateDescription vmstate_tegra241_cmdqv;

#endif /* HW_ARM_TEGRA241_CMDQV_H */
