/*
 * Accelerated SMMUv3 (accel=on): nested translation by the host SMMU
 * through iommufd. Hooks called from smmuv3.c.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_ARM_SMMUV3_ACCEL_H
#define HW_ARM_SMMUV3_ACCEL_H

#include "hw/arm/smmuv3.h"
#include "smmuv3-internal.h"

typedef struct SMMUv3AccelState SMMUv3AccelState;

/* The types of the oas, ssidsize and identifier properties */
extern const PropertyInfo smmuv3_prop_oas_mode;
extern const PropertyInfo smmuv3_prop_ssidsize_mode;
extern const PropertyInfo smmuv3_prop_identifier;

/* The PCIIOMMUOps an accel SMMU installs on its buses. */
extern const PCIIOMMUOps smmuv3_accel_iommu_ops;

/* Property descriptions, from the SMMU's class_init. */
void smmuv3_accel_class_init(ObjectClass *klass);

/*
 * From the SMMU's realize when accel=off: the accel-only properties are
 * refused unless they say what the emulated SMMU offers anyway.
 */
bool smmuv3_accel_check_off(SMMUv3State *s, Error **errp);

/*
 * From the SMMU's realize when accel=on: check the properties, set up
 * accelerated mode. false with @errp set on what it cannot serve.
 */
bool smmuv3_accel_realize(SMMUv3State *s, Error **errp);

/*
 * From the SMMU's realize, after its own MMIO region and IRQs: the
 * Tegra241 CMDQV window and IRQ, whenever cmdqv may be on.
 */
void smmuv3_accel_init_cmdqv(SMMUv3State *s);

/*
 * Does the guest get a Tegra241 CMDQV on this SMMU (window = MMIO region
 * 1, interrupt = IRQ 4)? For the machine's firmware tables.
 */
bool smmuv3_accel_cmdqv_enabled(SMMUv3State *s);

/*
 * The host's software MSI window: where Linux's arm-smmu-v3 driver has
 * iommufd map the physical ITS doorbell in the stage 2 of each IOAS with a
 * device attached (its MSI_IOVA_BASE and MSI_IOVA_LENGTH). A device's MSI
 * write targets it and passes the guest's stage 1 first, so the guest
 * must map it 1:1: the IORT gives it as an RMR of each accel SMMU, and
 * each device is checked to be on a host that reserves exactly this.
 */
#define SMMUV3_ACCEL_MSI_WINDOW_BASE 0x8000000ULL
#define SMMUV3_ACCEL_MSI_WINDOW_SIZE 0x100000ULL

/* Is there an accel=on SMMU in the machine? For the firmware tables. */
bool smmuv3_accel_present(void);

/*
 * Does the guest get ATS on this SMMU (ats resolved to on)? The IORT's
 * root complex node then says the root complex supports ATS, without
 * which Linux enables ATS on no device.
 */
bool smmuv3_accel_ats_enabled(SMMUv3State *s);

/* At reset, after the emulated ID registers are set: what the host gives. */
void smmuv3_accel_init_regs(SMMUv3State *s);

/*
 * CR0.SMMUEN, GBPA or the whole configuration changed (reset): install
 * the HWPT each device's current guest configuration asks for.
 */
void smmuv3_accel_update_all(SMMUv3State *s);

/* CFGI_STE / CFGI_STE_RANGE / CFGI_ALL for SIDs [@start, @end]. */
void smmuv3_accel_ste_changed(SMMUv3State *s, uint32_t start, uint32_t end);

/*
 * Offer a command to the accelerated path while consuming the guest's
 * command queue at CONS. Forwardable invalidations are batched and taken
 * (true: the caller advances CONS and goes on). Any other command first
 * flushes the batch, to keep the guest's order, and is left to the caller
 * (false). A batch the kernel fails at entry k sets *cmd_error to
 * CERROR_ILL and CONS to that entry's command.
 */
bool smmuv3_accel_cmd(SMMUv3State *s, Cmd *cmd, SMMUCmdError *cmd_error);

/* End of the queue (or a stop): send what is batched. */
void smmuv3_accel_flush(SMMUv3State *s, SMMUCmdError *cmd_error);

/*
 * Subsections of the SMMU's vmstate: the accelerated mode's promise to the
 * guest (the host objects re-created from it), and the CMDQV's registers
 * and queues.
 */
extern const VMStateDescription vmstate_smmuv3_accel;
extern const VMStateDescription vmstate_smmuv3_cmdqv;

#endif /* HW_ARM_SMMUV3_ACCEL_H */
