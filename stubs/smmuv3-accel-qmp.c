/*
 * query-smmuv3-accel on targets without the accelerated SMMUv3.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qapi/qapi-commands-smmuv3-accel.h"

Smmuv3AccelInfoList *qmp_query_smmuv3_accel(Error **errp)
{
    error_setg(errp, "this target has no accelerated SMMUv3 (arm-smmuv3)");
    return NULL;
}
