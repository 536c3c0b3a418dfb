/*
 * Accelerated SMMUv3 (accel=on): nested translation by the host SMMU
 * through iommufd.
 *
 * The guest owns stage 1 (its STEs and context descriptors); the host SMMU
 * walks them, nested over a stage 2 that maps guest RAM. QEMU turns guest
 * STEs into nested HWPTs and forwards invalidations to the host kernel.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "hw/arm/smmuv3-accel.h"
#include "trace.h"

void smmuv3_accel_class_init(ObjectClass *klass)
{
    object_class_property_set_description(klass, "accel",
        "Accelerated mode: stage-1 translation done by the host SMMU "
        "(nested) through iommufd, for vfio-pci devices with "
        "iommufd=<id>. Needs stage=1 (the default).");
}

bool smmuv3_accel_realize(SMMUv3State *s, Error **errp)
{
    if (s->stage && strcmp(s->stage, "1")) {
        error_setg(errp, "arm-smmuv3: accel=on requires stage=1, not stage=%s",
                   s->stage);
        error_append_hint(errp, "The host SMMU walks the guest's stage-1 "
                          "tables nested over its own stage 2; drop the "
                          "'stage' property or set stage=1.\n");
        return false;
    }
    trace_smmuv3_accel_realize(DEVICE(s)->id ? DEVICE(s)->id : "");
    return true;
}
