/*
 * iommufd helpers for virtual IOMMUs: vIOMMU, vDEVICE, HW queue, vEVENTQ
 * and the mmap of a vIOMMU's region.
 *
 * Every object made here is an iommufd object id, freed through the one
 * path QEMU has for that: iommufd_backend_free_id(). Each helper reports
 * the kernel's errno in @errp.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef SYSTEM_IOMMUFD_VIOMMU_H
#define SYSTEM_IOMMUFD_VIOMMU_H

#include "system/iommufd.h"

bool iommufd_backend_alloc_viommu(IOMMUFDBackend *be, uint32_t dev_id,
                                  uint32_t viommu_type, uint32_t hwpt_id,
                                  void *data, uint32_t data_len,
                                  uint32_t *out_viommu_id, Error **errp);

bool iommufd_backend_alloc_vdev(IOMMUFDBackend *be, uint32_t dev_id,
                                uint32_t viommu_id, uint64_t virt_id,
                                uint32_t *out_vdev_id, Error **errp);

bool iommufd_backend_alloc_hw_queue(IOMMUFDBackend *be, uint32_t viommu_id,
                                    uint32_t queue_type, uint32_t index,
                                    uint64_t addr, uint64_t length,
                                    uint32_t *out_hw_queue_id, Error **errp);

/* On success *out_fd is an O_CLOEXEC fd the caller closes before freeing. */
bool iommufd_backend_alloc_veventq(IOMMUFDBackend *be, uint32_t viommu_id,
                                   uint32_t veventq_type, uint32_t depth,
                                   uint32_t *out_veventq_id, int *out_fd,
                                   Error **errp);

/* Map a region handed out by IOMMU_VIOMMU_ALLOC; NULL with @errp set. */
void *iommufd_backend_viommu_mmap(IOMMUFDBackend *be, uint64_t offset,
                                  uint64_t length, Error **errp);
/*
 * Other threads may still reach the mapping through an old memory map:
 * the vIOMMU region is unmapped at once (replaced by anonymous memory, so
 * the vIOMMU can be destroyed), and that memory after an RCU grace period.
 */
void iommufd_backend_viommu_munmap(void *addr, uint64_t length);

/*
 * The IOVA ranges an IOAS allows now (the host's reserved regions of the
 * attached devices, its software MSI window among them, excluded): an
 * array of *out_num ranges the caller frees with g_free().
 */
bool iommufd_backend_get_iova_ranges(IOMMUFDBackend *be, uint32_t ioas_id,
                                     struct iommu_iova_range **out_ranges,
                                     uint32_t *out_num, Error **errp);

/*
 * IOMMU_DESTROY of @id for a caller that must act on a refusal (keep the
 * object, try again later): 0, or the negative errno with @errp set.
 */
int iommufd_backend_destroy(IOMMUFDBackend *be, uint32_t id, Error **errp);

/*
 * IOMMU_DESTROY of an object a teardown no longer needs: a refusal is not
 * the end of it, the id is kept and iommufd_backend_retry_frees() tries
 * it again (oldest first, until a round frees nothing); true when nothing
 * is left pending on @be. So a transient refusal leaks nothing, and a
 * holder refused before the objects it holds does not strand them.
 */
void iommufd_backend_free_id_or_defer(IOMMUFDBackend *be, uint32_t id);
bool iommufd_backend_retry_frees(IOMMUFDBackend *be);

#endif /* SYSTEM_IOMMUFD_VIOMMU_H */
