/*
 * iommufd helpers for virtual IOMMUs: vIOMMU, vDEVICE, HW queue, vEVENTQ
 * and the mmap of a vIOMMU's region.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu/rcu.h"
#include "system/iommufd-viommu.h"
#include "trace.h"
#include <sys/ioctl.h>
#include <linux/iommufd.h>

bool iommufd_backend_alloc_viommu(IOMMUFDBackend *be, uint32_t dev_id,
                                  uint32_t viommu_type, uint32_t hwpt_id,
                                  void *data, uint32_t data_len,
                                  uint32_t *out_viommu_id, Error **errp)
{
    struct iommu_viommu_alloc cmd = {
        .size = sizeof(cmd),
        .type = viommu_type,
        .dev_id = dev_id,
        .hwpt_id = hwpt_id,
        .data_len = data_len,
        .data_uptr = (uintptr_t)data,
    };
    int ret = ioctl(be->fd, IOMMU_VIOMMU_ALLOC, &cmd);

    trace_iommufd_backend_alloc_viommu(be->fd, dev_id, viommu_type, hwpt_id,
                                       cmd.out_viommu_id, ret ? errno : 0);
    if (ret) {
        error_setg_errno(errp, errno, "IOMMU_VIOMMU_ALLOC (type %u) failed",
                         viommu_type);
        return false;
    }
    *out_viommu_id = cmd.out_viommu_id;
    return true;
}

bool iommufd_backend_alloc_vdev(IOMMUFDBackend *be, uint32_t dev_id,
                                uint32_t viommu_id, uint64_t virt_id,
                                uint32_t *out_vdev_id, Error **errp)
{
    struct iommu_vdevice_alloc cmd = {
        .size = sizeof(cmd),
        .viommu_id = viommu_id,
        .dev_id = dev_id,
        .virt_id = virt_id,
    };
    int ret = ioctl(be->fd, IOMMU_VDEVICE_ALLOC, &cmd);

    trace_iommufd_backend_alloc_vdev(be->fd, dev_id, viommu_id, virt_id,
                                     cmd.out_vdevice_id, ret ? errno : 0);
    if (ret) {
        error_setg_errno(errp, errno, "IOMMU_VDEVICE_ALLOC (virt_id 0x%"
                         PRIx64 ") failed", virt_id);
        return false;
    }
    *out_vdev_id = cmd.out_vdevice_id;
    return true;
}

bool iommufd_backend_alloc_hw_queue(IOMMUFDBackend *be, uint32_t viommu_id,
                                    uint32_t queue_type, uint32_t index,
                                    uint64_t addr, uint64_t length,
                                    uint32_t *out_hw_queue_id, Error **errp)
{
    struct iommu_hw_queue_alloc cmd = {
        .size = sizeof(cmd),
        .viommu_id = viommu_id,
        .type = queue_type,
        .index = index,
        .nesting_parent_iova = addr,
        .length = length,
    };
    int ret = ioctl(be->fd, IOMMU_HW_QUEUE_ALLOC, &cmd);

    trace_iommufd_backend_alloc_hw_queue(be->fd, viommu_id, queue_type, index,
                                         addr, length, cmd.out_hw_queue_id,
                                         ret ? errno : 0);
    if (ret) {
        error_setg_errno(errp, errno, "IOMMU_HW_QUEUE_ALLOC (index %u, iova 0x%"
                         PRIx64 ", length 0x%" PRIx64 ") failed",
                         index, addr, length);
        return false;
    }
    *out_hw_queue_id = cmd.out_hw_queue_id;
    return true;
}

bool iommufd_backend_alloc_veventq(IOMMUFDBackend *be, uint32_t viommu_id,
                                   uint32_t veventq_type, uint32_t depth,
                                   uint32_t *out_veventq_id, int *out_fd,
                                   Error **errp)
{
    struct iommu_veventq_alloc cmd = {
        .size = sizeof(cmd),
        .viommu_id = viommu_id,
        .type = veventq_type,
        .veventq_depth = depth,
    };
    int ret = ioctl(be->fd, IOMMU_VEVENTQ_ALLOC, &cmd);

    trace_iommufd_backend_alloc_veventq(be->fd, viommu_id, veventq_type, depth,
                                        cmd.out_veventq_id, cmd.out_veventq_fd,
                                        ret ? errno : 0);
    if (ret) {
        error_setg_errno(errp, errno, "IOMMU_VEVENTQ_ALLOC (type %u) failed",
                         veventq_type);
        return false;
    }
    *out_veventq_id = cmd.out_veventq_id;
    *out_fd = cmd.out_veventq_fd;
    return true;
}

void *iommufd_backend_viommu_mmap(IOMMUFDBackend *be, uint64_t offset,
                                  uint64_t length, Error **errp)
{
    void *p = mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_SHARED, be->fd,
                   offset);

    trace_iommufd_backend_viommu_mmap(be->fd, offset, length,
                                      p == MAP_FAILED ? errno : 0);
    if (p == MAP_FAILED) {
        error_setg_errno(errp, errno, "mmap of the vIOMMU region (offset 0x%"
                         PRIx64 ", length 0x%" PRIx64 ") failed",
                         offset, length);
        return NULL;
    }
    return p;
}

typedef struct ViommuStaleMap {
    struct rcu_head rcu;
    void *addr;
    uint64_t length;
} ViommuStaleMap;

static void viommu_stale_map_free(ViommuStaleMap *m)
{
    munmap(m->addr, m->length);
    g_free(m);
}

void iommufd_backend_viommu_munmap(void *addr, uint64_t length)
{
    ViommuStaleMap *m;

    trace_iommufd_backend_viommu_munmap(addr, length);
    /* Replacing the mapping unmaps the vIOMMU region at once */
    if (mmap(addr, length, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED) {
        munmap(addr, length);
        return;
    }
    m = g_new0(ViommuStaleMap, 1);
    m->addr = addr;
    m->length = length;
    call_rcu(m, viommu_stale_map_free, rcu);
}

bool iommufd_backend_get_iova_ranges(IOMMUFDBackend *be, uint32_t ioas_id,
                                     struct iommu_iova_range **out_ranges,
                                     uint32_t *out_num, Error **errp)
{
    struct iommu_ioas_iova_ranges cmd = {
        .size = sizeof(cmd),
        .ioas_id = ioas_id,
    };
    g_autofree struct iommu_iova_range *r = NULL;
    int ret;

    /* The first call counts; the ranges may grow in between: ask again. */
    for (;;) {
        ret = ioctl(be->fd, IOMMU_IOAS_IOVA_RANGES, &cmd);
        if (ret && errno != EMSGSIZE) {
            break;
        }
        if (!ret && r) {
            break;
        }
        g_free(r);
        r = g_new0(struct iommu_iova_range, MAX(cmd.num_iovas, 1));
        cmd.allowed_iovas = (uintptr_t)r;
    }
    trace_iommufd_backend_get_iova_ranges(be->fd, ioas_id, cmd.num_iovas,
                                          ret ? errno : 0);
    if (ret) {
        error_setg_errno(errp, errno, "IOMMU_IOAS_IOVA_RANGES (IOAS %u) "
                         "failed", ioas_id);
        return false;
    }
    *out_num = cmd.num_iovas;
    *out_ranges = g_steal_pointer(&r);
    return true;
}

int iommufd_backend_destroy(IOMMUFDBackend *be, uint32_t id, Error **errp)
{
    struct iommu_destroy des = {
        .size = sizeof(des),
        .id = id,
    };
    int ret = ioctl(be->fd, IOMMU_DESTROY, &des) ? -errno : 0;

    trace_iommufd_backend_free_id(be->fd, id, ret);
    if (ret) {
        error_setg_errno(errp, -ret, "IOMMU_DESTROY of object %u failed", id);
    }
    return ret;
}

/*
 * Destroys the kernel refused, per backend, oldest first. A teardown
 * destroys in the order the kernel wants (holders first); when one is
 * refused, everything it holds is refused after it, and a later round in
 * the same order frees them all once the first goes.
 */
static GHashTable *viommu_pending_frees;

void iommufd_backend_free_id_or_defer(IOMMUFDBackend *be, uint32_t id)
{
    Error *err = NULL;
    GArray *ids;

    if (!viommu_pending_frees) {
        viommu_pending_frees = g_hash_table_new_full(NULL, NULL, NULL,
                                                    (GDestroyNotify)g_array_unref);
    }
    ids = g_hash_table_lookup(viommu_pending_frees, be);
    /*
     * Behind a refused destroy, the objects that follow in the teardown
     * order may be held by it: they wait their turn rather than be refused.
     */
    if (!ids && !iommufd_backend_destroy(be, id, &err)) {
        return;
    }
    if (!ids) {
        ids = g_array_new(false, false, sizeof(uint32_t));
        g_hash_table_insert(viommu_pending_frees, be, ids);
    }
    g_array_append_val(ids, id);
    trace_iommufd_backend_free_deferred(be->fd, id,
                                        err ? error_get_pretty(err) :
                                        "behind a refused destroy");
    error_free(err);
}

bool iommufd_backend_retry_frees(IOMMUFDBackend *be)
{
    GArray *ids = viommu_pending_frees ?
                  g_hash_table_lookup(viommu_pending_frees, be) : NULL;
    bool progress = true;

    while (ids && ids->len && progress) {
        progress = false;
        for (guint i = 0; i < ids->len;) {
            if (!iommufd_backend_destroy(be, g_array_index(ids, uint32_t, i),
                                         NULL)) {
                g_array_remove_index(ids, i);
                progress = true;
            } else {
                i++;
            }
        }
    }
    if (ids && !ids->len) {
        g_hash_table_remove(viommu_pending_frees, be);
        ids = NULL;
    }
    return !ids;
}
