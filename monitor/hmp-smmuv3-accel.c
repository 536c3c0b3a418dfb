/*
 * HMP 'info smmuv3-accel': the operator's view of accelerated SMMUv3s.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "monitor/hmp.h"
#include "monitor/monitor.h"
#include "qapi/error.h"
#include "qapi/qapi-commands-smmuv3-accel.h"

void hmp_info_smmuv3_accel(Monitor *mon, const QDict *qdict)
{
    Error *err = NULL;
    g_autoptr(Smmuv3AccelInfoList) list = qmp_query_smmuv3_accel(&err);

    if (hmp_handle_error(mon, err)) {
        return;
    }
    if (!list) {
        monitor_printf(mon, "No accelerated SMMUv3 (arm-smmuv3,accel=on) and "
                       "no emulated one with cmdqv=on\n");
        return;
    }
    for (Smmuv3AccelInfoList *l = list; l; l = l->next) {
        Smmuv3AccelInfo *i = l->value;

        monitor_printf(mon, "%s  %s\n", i->id, i->qom_path);
        if (i->resolved) {
            monitor_printf(mon, "  guest: ril=%s ats=%s oas=%" PRId64
                           " ssidsize=%" PRId64 "\n",
                           i->ril ? "on" : "off", i->ats ? "on" : "off",
                           i->oas, i->ssidsize);
            if (i->cmdqv) {
                monitor_printf(mon, "  guest: cmdqv=on, %" PRId64
                               " logical queues\n", i->cmdqv_vcmdqs);
            } else {
                monitor_printf(mon, "  guest: cmdqv=off\n");
            }
            for (Smmuv3AccelCmdqvQueueInfoList *q = i->cmdqv_queues; q;
                 q = q->next) {
                Smmuv3AccelCmdqvQueueInfo *qi = q->value;

                monitor_printf(mon, "  vcmdq %" PRId64 ": %s base 0x%" PRIx64
                               " log2size %" PRId64, qi->index, qi->state,
                               qi->base, qi->log2size);
                if (qi->has_host_index) {
                    monitor_printf(mon, " host index %" PRId64 " hw queue %"
                                   PRId64 "%s", qi->host_index,
                                   qi->hw_queue_id,
                                   qi->placeholder ? " (placeholder)" : "");
                }
                monitor_printf(mon, ", page %s, %" PRId64 " traps, error %"
                               PRId64 ", %" PRId64 " commands run by QEMU\n",
                               qi->page, qi->traps, qi->error,
                               qi->executed_by_qemu);
            }
            if (i->has_cmdqv_hw_queue_allocs) {
                monitor_printf(mon, "  cmdqv: %" PRId64 " HW queue "
                               "allocations, %" PRId64 " error events, %"
                               PRId64 " interrupts\n",
                               i->cmdqv_hw_queue_allocs,
                               i->cmdqv_error_events, i->cmdqv_irqs);
            }
        } else {
            monitor_printf(mon, "  guest: not resolved yet (auto)\n");
        }
        if (!i->accel) {
            monitor_printf(mon, "  emulated SMMUv3 (accel=off): QEMU runs "
                           "the CMDQV queues\n");
            continue;
        }
        if (i->has_viommu_id) {
            monitor_printf(mon, "  host: ioas %" PRId64 ", stage-2 hwpt %"
                           PRId64 ", viommu %" PRId64 "\n", i->ioas_id,
                           i->s2_hwpt_id, i->viommu_id);
        } else {
            monitor_printf(mon, "  host: no vIOMMU (no device attached)\n");
        }
        for (Smmuv3AccelDeviceInfoList *d = i->devices; d; d = d->next) {
            Smmuv3AccelDeviceInfo *dev = d->value;

            monitor_printf(mon, "  device %s: sid 0x%" PRIx64 " devid %"
                           PRId64, dev->name, dev->sid, dev->iommufd_devid);
            if (dev->has_vdevice_id) {
                monitor_printf(mon, " vdevice %" PRId64, dev->vdevice_id);
            }
            monitor_printf(mon, " -> %s hwpt %" PRId64 "\n", dev->hwpt,
                           dev->hwpt_id);
        }
        monitor_printf(mon, "  commands: %" PRId64 " consumed in %" PRId64
                       " exits (%.1f per exit), %" PRId64 " forwarded in %"
                       PRId64 " ioctls (%.1f per ioctl, %" PRId64
                       " refused), %" PRId64 " dropped\n",
                       i->commands_consumed, i->cmdq_runs,
                       i->commands_per_cmdq_run, i->commands_forwarded,
                       i->invalidation_ioctls, i->commands_per_ioctl,
                       i->invalidation_failures, i->commands_dropped);
    }
}
