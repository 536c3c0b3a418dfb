/*
 * Accelerated SMMUv3 (accel=on): nested translation by the host SMMU
 * through iommufd.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_ARM_SMMUV3_ACCEL_H
#define HW_ARM_SMMUV3_ACCEL_H

#include "hw/arm/smmuv3.h"

/* Set up the class: property descriptions for the accel properties. */
void smmuv3_accel_class_init(ObjectClass *klass);

/*
 * Check the accel properties and set up accelerated mode. Called from the
 * SMMU's realize when accel=on. Returns false with @errp set on a
 * configuration the accelerated SMMU cannot serve.
 */
bool smmuv3_accel_realize(SMMUv3State *s, Error **errp);

#endif /* HW_ARM_SMMUV3_ACCEL_H */
