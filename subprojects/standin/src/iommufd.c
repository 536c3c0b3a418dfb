/*
 * /dev/iommu: the iommufd ioctls, checked in the kernel's order with the
 * kernel's errnos (drivers/iommu/iommufd and arm-smmu-v3-iommufd.c /
 * tegra241-cmdqv.c, read in the 7.1 tree; spec/kernel-contract.md is a
 * summary).  Rules that changed between releases follow st_host.kernel
 * (INTERFACE.md, "The kernel's rules"); each names its kernel function.
 */
#include "standin.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef HUGETLBFS_MAGIC
#define HUGETLBFS_MAGIC 0x958458f6
#endif
#ifndef TMPFS_MAGIC
#define TMPFS_MAGIC 0x01021994
#endif

struct ucmd {
    struct st_ictx *ctx;
    uint64_t arg;
    uint32_t usize;
    size_t ksize;
    void *cmd;
    long fail_entry;     /* injected: fail at this entry with fail_err */
    int fail_err;
};

static int respond(struct ucmd *u)
{
    size_t n = u->usize < u->ksize ? u->usize : u->ksize;

    return st_uwrite(u->arg, u->cmd, n) ? -EFAULT : 0;
}

static struct st_smmu *smmu_of(struct st_obj *o)
{
    return &st_host.smmu[o->smmu];
}

static struct st_obj *get_device(struct st_ictx *ctx, uint32_t id)
{
    return st_obj_get(ctx, id, OT_DEVICE);
}

/* ----------------------------------------------------------------- IOAS */

/*
 * Does a domain (a paging HWPT) of the SMMUs' exist in @ioas? *oas_bits:
 * the smallest output size among them; *msi: the SMMU whose software MSI
 * window the IOAS reserves (the first with one; NULL if none).
 */
static bool ioas_domains(struct st_obj *ioas, int *oas_bits,
                         const struct st_smmu **msi)
{
    bool any = false;

    *oas_bits = 64;
    *msi = NULL;
    for (struct st_obj *h = ioas->ctx->objs; h; h = h->next) {
        if (h->type == OT_HWPT_PAGING && h->ioas == ioas) {
            static const int oas[] = { 32, 36, 40, 42, 44, 48, 52, 52 };
            const struct st_smmu *s = &st_host.smmu[h->smmu];
            int bits = oas[s->idr[5] & 7];

            any = true;
            if (bits < *oas_bits) {
                *oas_bits = bits;
            }
            if (!*msi && s->msi_size) {
                *msi = s;
            }
        }
    }
    return any;
}

static bool ioas_has_domain(struct st_obj *ioas, int *oas_bits)
{
    const struct st_smmu *msi;

    return ioas_domains(ioas, oas_bits, &msi);
}

/*
 * The IOVA ranges an IOAS allows now: all of it until a domain narrows it
 * to its output size, less the SMMU driver's software MSI window.
 */
static int allowed_ranges(struct st_obj *ioas, struct iommu_iova_range *r, int max)
{
    const struct st_smmu *msi;
    int bits, n = 0;
    uint64_t top;

    (void)max;
    if (!ioas_domains(ioas, &bits, &msi)) {
        r[0].start = 0;
        r[0].last = UINT64_MAX;
        return 1;
    }
    top = bits >= 64 ? UINT64_MAX : (1ull << bits) - 1;
    if (!msi || msi->msi_base > top) {
        r[0].start = 0;
        r[0].last = top;
        return 1;
    }
    if (msi->msi_base) {
        r[n].start = 0;
        r[n++].last = msi->msi_base - 1;
    }
    if (msi->msi_base + msi->msi_size - 1 < top) {
        r[n].start = msi->msi_base + msi->msi_size;
        r[n++].last = top;
    }
    return n;
}

static bool range_allowed(struct st_obj *ioas, uint64_t iova, uint64_t last)
{
    struct iommu_iova_range r[4];
    int n = allowed_ranges(ioas, r, 4);

    for (int i = 0; i < n; i++) {
        if (iova >= r[i].start && last <= r[i].last) {
            return true;
        }
    }
    return false;
}

static struct st_area *area_first(struct st_obj *ioas, uint64_t iova, uint64_t last)
{
    for (struct st_area *a = ioas->areas; a; a = a->next) {
        if (a->iova <= last && a->iova + a->len - 1 >= iova) {
            return a;
        }
    }
    return NULL;
}

static void area_insert(struct st_obj *ioas, struct st_area *n)
{
    struct st_area **pp = &ioas->areas;

    while (*pp && (*pp)->iova < n->iova) {
        pp = &(*pp)->next;
    }
    n->next = *pp;
    *pp = n;
}

static void area_free(struct st_area *a)
{
    if (a->own_map) {
        st_real_munmap(a->own_map, a->own_len);
    }
    g_free(a);
}

void st_ioas_free_areas(struct st_obj *ioas)
{
    while (ioas->areas) {
        struct st_area *a = ioas->areas;

        ioas->areas = a->next;
        area_free(a);
    }
}

int st_ioas_translate(struct st_obj *ioas, uint64_t iova, uint64_t len, uint64_t *va)
{
    for (struct st_area *a = ioas->areas; a; a = a->next) {
        if (iova >= a->iova && iova - a->iova < a->len) {
            if (len > a->len - (iova - a->iova)) {
                return -ENOENT;
            }
            *va = a->va + (iova - a->iova);
            return 0;
        }
    }
    return -ENOENT;
}

static int alloc_iova(struct st_obj *ioas, uint64_t length, uint64_t *out)
{
    struct iommu_iova_range r[4];
    int n = allowed_ranges(ioas, r, 4);
    uint64_t pg = st_page();

    for (int i = 0; i < n; i++) {
        uint64_t cur = r[i].start < pg ? pg : r[i].start;   /* IOVA 0 is never handed out */

        cur = (cur + pg - 1) & ~(pg - 1);
        while (cur <= r[i].last && r[i].last - cur >= length - 1) {
            struct st_area *a = area_first(ioas, cur, cur + length - 1);

            if (!a) {
                *out = cur;
                return 0;
            }
            cur = a->iova + a->len;
            if (!cur) {
                break;
            }
            cur = (cur + pg - 1) & ~(pg - 1);
        }
    }
    return -ENOSPC;
}

/* Common tail of IOAS_MAP and IOAS_MAP_FILE, after the per-ioctl checks. */
static int map_common(struct st_obj *ioas, uint32_t flags, uint64_t length, uint64_t *iova,
                      struct st_area *proto)
{
    uint64_t pg = st_page();
    uint64_t last;
    struct st_area *a;

    if (!length || (length & (pg - 1))) {
        return -EINVAL;
    }
    if (flags & IOMMU_IOAS_MAP_FIXED_IOVA) {
        if (*iova & (pg - 1)) {
            return -EINVAL;
        }
        if (__builtin_add_overflow(*iova, length - 1, &last)) {
            return -EOVERFLOW;
        }
        if (!range_allowed(ioas, *iova, last)) {
            return -EINVAL;
        }
        if (area_first(ioas, *iova, last)) {
            return -EEXIST;
        }
    } else {
        int r = alloc_iova(ioas, length, iova);

        if (r) {
            return r;
        }
    }
    a = g_new0(struct st_area, 1);
    *a = *proto;
    a->iova = *iova;
    a->len = length;
    a->writable = flags & IOMMU_IOAS_MAP_WRITEABLE;
    area_insert(ioas, a);
    return 0;
}

static int ioas_map(struct ucmd *u)
{
    struct iommu_ioas_map *c = u->cmd;
    struct st_obj *ioas;
    struct st_area proto = { 0 };
    uint64_t pg = st_page(), start, end;
    int r;

    if ((c->flags & ~(IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_WRITEABLE | IOMMU_IOAS_MAP_READABLE)) ||
        c->__reserved) {
        return -EOPNOTSUPP;
    }
    if (c->iova >= ULONG_MAX || c->length >= ULONG_MAX) {
        return -EOVERFLOW;
    }
    if (!(c->flags & (IOMMU_IOAS_MAP_WRITEABLE | IOMMU_IOAS_MAP_READABLE))) {
        return -EINVAL;
    }
    ioas = st_obj_get(u->ctx, c->ioas_id, OT_IOAS);
    if (!ioas) {
        return -ENOENT;
    }
    if (!c->length || (c->length & (pg - 1))) {
        return -EINVAL;
    }
    /* the pages must exist: pinning a hole in the process is EFAULT */
    start = c->user_va & ~(pg - 1);
    if (__builtin_add_overflow(c->user_va, c->length, &end) || !c->user_va ||
        msync((void *)(uintptr_t)start, end - start, MS_ASYNC)) {
        return -EFAULT;
    }
    /* device memory (a VINTF page mmap, VM_IO | VM_PFNMAP) cannot be pinned */
    for (struct st_mmap *m = st_mmaps; m; m = m->next) {
        if (start < m->addr + m->len && m->addr < end) {
            return -EFAULT;
        }
    }
    proto.va = c->user_va;
    r = map_common(ioas, c->flags, c->length, (uint64_t *)&c->iova, &proto);
    if (r) {
        return r;
    }
    r = respond(u);
    if (r) {
        struct st_area *a = area_first(ioas, c->iova, c->iova);
        struct st_area **pp = &ioas->areas;

        while (*pp != a) {
            pp = &(*pp)->next;
        }
        *pp = a->next;
        area_free(a);
    }
    return r;
}

static int ioas_map_file(struct ucmd *u)
{
    struct iommu_ioas_map_file *c = u->cmd;
    struct st_obj *ioas;
    struct st_area proto = { 0 };
    struct statfs sfs;
    struct stat st;
    uint64_t pg = st_page();
    void *m;
    int r, prot;

    if (c->flags & ~(IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_WRITEABLE | IOMMU_IOAS_MAP_READABLE)) {
        return -EOPNOTSUPP;
    }
    if (c->iova >= ULONG_MAX || c->length >= ULONG_MAX) {
        return -EOVERFLOW;
    }
    if (!(c->flags & (IOMMU_IOAS_MAP_WRITEABLE | IOMMU_IOAS_MAP_READABLE))) {
        return -EINVAL;
    }
    ioas = st_obj_get(u->ctx, c->ioas_id, OT_IOAS);
    if (!ioas) {
        return -ENOENT;
    }
    if (c->fd < 0 || syscall(SYS_fstat, c->fd, &st) < 0) {
        return -EBADF;
    }
    if (c->fd < ST_FDMAX && st_fdtab[c->fd]) {
        return -EINVAL;
    }
    if (!c->length || (c->length & (pg - 1)) || (c->start & (pg - 1))) {
        return -EINVAL;
    }
    if (fstatfs(c->fd, &sfs) < 0 ||
        ((unsigned long)sfs.f_type != TMPFS_MAGIC && (unsigned long)sfs.f_type != HUGETLBFS_MAGIC) ||
        !S_ISREG(st.st_mode) || c->start + c->length > (uint64_t)st.st_size ||
        c->start + c->length < c->start) {
        return -EINVAL;
    }
    if ((unsigned long)sfs.f_type == HUGETLBFS_MAGIC) {
        proto.huge = sfs.f_bsize;
    }
    /* our own view of the pages, for the VCMDQ engine to read rings from */
    prot = PROT_READ | ((c->flags & IOMMU_IOAS_MAP_WRITEABLE) ? PROT_WRITE : 0);
    m = st_real_mmap(NULL, c->length, prot, MAP_SHARED, c->fd, c->start);
    if (m == MAP_FAILED) {
        m = st_real_mmap(NULL, c->length, PROT_READ, MAP_SHARED, c->fd, c->start);
        if (m == MAP_FAILED) {
            return -EFAULT;
        }
    }
    proto.va = (uintptr_t)m;
    proto.file = true;
    proto.own_map = m;
    proto.own_len = c->length;
    r = map_common(ioas, c->flags, c->length, (uint64_t *)&c->iova, &proto);
    if (r) {
        st_real_munmap(m, c->length);
        return r;
    }
    r = respond(u);
    if (r) {
        struct st_area *a = area_first(ioas, c->iova, c->iova);
        struct st_area **pp = &ioas->areas;

        while (*pp != a) {
            pp = &(*pp)->next;
        }
        *pp = a->next;
        area_free(a);
    }
    return r;
}

static int ioas_unmap(struct ucmd *u)
{
    struct iommu_ioas_unmap *c = u->cmd;
    struct st_obj *ioas = st_obj_get(u->ctx, c->ioas_id, OT_IOAS);
    uint64_t last, unmapped = 0;
    bool all = false;

    if (!ioas) {
        return -ENOENT;
    }
    if (c->iova == 0 && c->length == UINT64_MAX) {
        all = true;
        last = UINT64_MAX;
    } else {
        if (c->iova >= ULONG_MAX || c->length >= ULONG_MAX) {
            return -EOVERFLOW;
        }
        if (!c->length) {
            return -EINVAL;
        }
        if (__builtin_add_overflow(c->iova, c->length - 1, &last)) {
            return -EOVERFLOW;
        }
    }
    /*
     * iopt_unmap_iova_range(): the areas of the range in IOVA order, each
     * unmapped as it is reached; an area locked by a HW queue's pin
     * (area->num_locks) stops the walk with EBUSY, one the range cuts in
     * part with ENOENT.  The areas before it stay unmapped, and
     * iommufd_ioas_unmap() writes nothing back on an error (the caller's
     * length is unchanged).
     */
    for (struct st_area **pp = &ioas->areas; *pp;) {
        struct st_area *a = *pp;

        if (a->iova > last) {
            break;
        }
        if (a->iova + a->len - 1 < c->iova) {
            pp = &a->next;
            continue;
        }
        if (a->pins) {
            return -EBUSY;
        }
        if (a->iova < c->iova || a->iova + a->len - 1 > last) {
            return -ENOENT;
        }
        unmapped += a->len;
        *pp = a->next;
        area_free(a);
    }
    if (!unmapped && !all) {
        return -ENOENT;
    }
    c->length = unmapped;
    return respond(u);
}

static int ioas_alloc(struct ucmd *u)
{
    struct iommu_ioas_alloc *c = u->cmd;
    struct st_obj *o;
    int r;

    if (c->flags) {
        return -EOPNOTSUPP;
    }
    o = st_obj_new(u->ctx, OT_IOAS);
    c->out_ioas_id = o->id;
    r = respond(u);
    if (r) {
        st_obj_free(o);
    }
    return r;
}

static int ioas_iova_ranges(struct ucmd *u)
{
    struct iommu_ioas_iova_ranges *c = u->cmd;
    struct st_obj *ioas;
    struct iommu_iova_range r[4];
    uint32_t max;
    int n, bits, rc;

    if (c->__reserved) {
        return -EOPNOTSUPP;
    }
    ioas = st_obj_get(u->ctx, c->ioas_id, OT_IOAS);
    if (!ioas) {
        return -ENOENT;
    }
    max = c->num_iovas;
    c->num_iovas = 0;
    c->out_iova_alignment = ioas_has_domain(ioas, &bits) ? st_page() : 1;
    n = allowed_ranges(ioas, r, 4);
    for (int i = 0; i < n; i++) {
        if (c->num_iovas < max) {
            if (st_uwrite(c->allowed_iovas + c->num_iovas * sizeof(r[0]), &r[i], sizeof(r[i]))) {
                return -EFAULT;
            }
        }
        c->num_iovas++;
    }
    rc = respond(u);
    if (rc) {
        return rc;
    }
    return c->num_iovas > max ? -EMSGSIZE : 0;
}

static int ioas_change_process(struct ucmd *u)
{
    struct iommu_ioas_change_process *c = u->cmd;

    if (c->__reserved) {
        return -EOPNOTSUPP;
    }
    /*
     * iommufd_ioas_change_process(): every area of every IOAS of the
     * iommufd must be backed by a file (IOPT_ADDRESS_FILE, i.e. mapped with
     * IOMMU_IOAS_MAP_FILE), else EINVAL.  The process never changes under
     * the stand-in, so success moves nothing.
     */
    for (struct st_obj *o = u->ctx->objs; o; o = o->next) {
        if (o->type != OT_IOAS) {
            continue;
        }
        for (struct st_area *a = o->areas; a; a = a->next) {
            if (!a->file) {
                return -EINVAL;
            }
        }
    }
    return 0;
}

static int option(struct ucmd *u)
{
    struct iommu_option *c = u->cmd;

    if (c->__reserved) {
        return -EOPNOTSUPP;
    }
    if (c->op != IOMMU_OPTION_OP_SET && c->op != IOMMU_OPTION_OP_GET) {
        return -EOPNOTSUPP;
    }
    switch (c->option_id) {
    case IOMMU_OPTION_RLIMIT_MODE:
        if (c->object_id) {
            return -EOPNOTSUPP;
        }
        if (c->op == IOMMU_OPTION_OP_GET) {
            c->val64 = 0;
            return respond(u);
        }
        return c->val64 > 1 ? -EINVAL : 0;
    case IOMMU_OPTION_HUGE_PAGES:
        if (!st_obj_get(u->ctx, c->object_id, OT_IOAS)) {
            return -ENOENT;
        }
        if (c->op == IOMMU_OPTION_OP_GET) {
            c->val64 = 1;
            return respond(u);
        }
        return c->val64 > 1 ? -EINVAL : 0;
    default:
        return -EOPNOTSUPP;
    }
}

static int not_supported(struct ucmd *u)
{
    (void)u;
    return -EOPNOTSUPP;
}

/* ----------------------------------------------------------- HW info */

static int get_hw_info(struct ucmd *u)
{
    struct iommu_hw_info *c = u->cmd;
    struct st_obj *dev;
    struct st_smmu *s;
    union {
        struct iommu_hw_info_arm_smmuv3 arm;
        struct iommu_hw_info_tegra241_cmdqv tegra;
    } data;
    uint32_t len, copy;

    if (c->flags & ~IOMMU_HW_INFO_FLAG_INPUT_TYPE) {
        return -EOPNOTSUPP;
    }
    if (c->__reserved[0] || c->__reserved[1] || c->__reserved[2]) {
        return -EOPNOTSUPP;
    }
    if (!(c->flags & IOMMU_HW_INFO_FLAG_INPUT_TYPE)) {
        c->in_data_type = IOMMU_HW_INFO_TYPE_DEFAULT;
    }
    dev = get_device(u->ctx, c->dev_id);
    if (!dev) {
        return -ENOENT;
    }
    s = &st_host.smmu[dev->pci->smmu];
    memset(&data, 0, sizeof(data));
    if (c->in_data_type == IOMMU_HW_INFO_TYPE_DEFAULT || c->in_data_type == IOMMU_HW_INFO_TYPE_ARM_SMMUV3) {
        memcpy(data.arm.idr, s->idr, sizeof(s->idr));
        data.arm.iidr = s->iidr;
        data.arm.aidr = s->aidr;
        len = sizeof(data.arm);
        c->out_data_type = IOMMU_HW_INFO_TYPE_ARM_SMMUV3;
    } else if (c->in_data_type == IOMMU_HW_INFO_TYPE_TEGRA241_CMDQV && s->cmdqv) {
        data.tegra.version = s->cmdqv_version;
        data.tegra.log2vcmdqs = __builtin_ctz(s->lvcmdqs);
        data.tegra.log2vsids = __builtin_ctz(s->sids);
        len = sizeof(data.tegra);
        c->out_data_type = IOMMU_HW_INFO_TYPE_TEGRA241_CMDQV;
    } else {
        return -EOPNOTSUPP;
    }
    copy = c->data_len < len ? c->data_len : len;
    if (st_uwrite(c->data_uptr, &data, copy)) {
        return -EFAULT;
    }
    if (copy < c->data_len && st_uzero(c->data_uptr + copy, c->data_len - copy)) {
        return -EFAULT;
    }
    c->data_len = len;
    c->out_capabilities = 0;
    c->out_max_pasid_log2 = 0;
    return respond(u);
}

/* ------------------------------------------------------------- HWPT */

/*
 * __iommu_copy_struct_from_user() in the 7.1 tree refuses driver data
 * longer than the kernel's struct (EINVAL) instead of checking that the
 * tail is zero; which release changed it is not known here, so 7.0 only.
 * Before, copy_struct_from_user takes a zero tail and gives E2BIG otherwise.
 */
static bool user_data_too_long(uint32_t len, size_t ksize)
{
    return st_kernel_at_least(700) && len > ksize;
}

#define STE0_V          (1ull << 0)
#define STE0_CFG_SHIFT  1
#define STE0_ALLOWED    (STE0_V | (7ull << 1) | (3ull << 4) | (((1ull << 46) - 1) << 6) | (0x1full << 59))
#define STE1_EATS_SHIFT 28
#define STE1_ALLOWED    (0x3ull | (3ull << 2) | (3ull << 4) | (3ull << 6) | (1ull << 27) | (3ull << 28))

static int vmid_alloc(struct st_smmu *s)
{
    int max = (s->idr[0] & (1u << 18)) ? 65535 : 255;

    for (int v = 1; v <= max; v++) {
        if (!(s->vmid_used[v / 8] & (1u << (v % 8)))) {
            s->vmid_used[v / 8] |= 1u << (v % 8);
            return v;
        }
    }
    return -ENOSPC;
}

static int hwpt_alloc(struct ucmd *u)
{
    struct iommu_hwpt_alloc *c = u->cmd;
    struct st_obj *dev, *pt, *o;
    int r;

    if (c->__reserved) {
        return -EOPNOTSUPP;
    }
    if ((c->data_type == IOMMU_HWPT_DATA_NONE && c->data_len) ||
        (c->data_type != IOMMU_HWPT_DATA_NONE && !c->data_len)) {
        return -EINVAL;
    }
    dev = get_device(u->ctx, c->dev_id);
    if (!dev) {
        return -ENOENT;
    }
    /* iommufd_hwpt_alloc(): an unknown pt_id is EINVAL, not ENOENT */
    pt = st_obj_get(u->ctx, c->pt_id, OT_NONE);
    if (!pt) {
        return -EINVAL;
    }
    if (pt->type == OT_IOAS) {
        const uint32_t valid = IOMMU_HWPT_ALLOC_NEST_PARENT | IOMMU_HWPT_ALLOC_DIRTY_TRACKING |
                               IOMMU_HWPT_FAULT_ID_VALID | IOMMU_HWPT_ALLOC_PASID;
        struct st_smmu *s = &st_host.smmu[dev->pci->smmu];
        int vmid = -1;

        if (c->flags & ~valid) {
            return -EOPNOTSUPP;
        }
        /* no HTTU on this host: dirty tracking is not supported */
        if (c->flags & IOMMU_HWPT_ALLOC_DIRTY_TRACKING) {
            return -EOPNOTSUPP;
        }
        if ((c->flags & IOMMU_HWPT_FAULT_ID_VALID) && (c->flags & IOMMU_HWPT_ALLOC_NEST_PARENT)) {
            return -EOPNOTSUPP;
        }
        if (c->data_len) {
            return -EOPNOTSUPP;
        }
        if ((c->flags & IOMMU_HWPT_ALLOC_NEST_PARENT) && (!s->nesting || (c->flags & IOMMU_HWPT_ALLOC_PASID))) {
            return -EOPNOTSUPP;
        }
        if (c->flags & IOMMU_HWPT_FAULT_ID_VALID) {
            return -ENOENT;          /* no fault objects exist */
        }
        if (c->flags & IOMMU_HWPT_ALLOC_NEST_PARENT) {
            vmid = vmid_alloc(s);
            if (vmid < 0) {
                return vmid;
            }
        }
        o = st_obj_new(u->ctx, OT_HWPT_PAGING);
        o->ioas = pt;
        o->nest_parent = c->flags & IOMMU_HWPT_ALLOC_NEST_PARENT;
        o->dev_id = dev->id;
        o->smmu = dev->pci->smmu;
        o->hwpt_flags = c->flags;
        o->vmid = vmid;
    } else if (pt->type == OT_HWPT_PAGING) {
        /* the ARM SMMUv3 driver nests only through a vIOMMU */
        return -EOPNOTSUPP;
    } else if (pt->type == OT_VIOMMU) {
        struct iommu_hwpt_arm_smmuv3 ste;
        uint32_t cfg, eats;

        /*
         * iommufd_hwpt_alloc: the vIOMMU's SMMU first (EINVAL); then
         * iommufd_viommu_alloc_hwpt_nested: flags, no data (EOPNOTSUPP);
         * then arm_vsmmu_alloc_domain_nested: flags left after FAULT_ID_VALID
         * (EOPNOTSUPP), iommu_copy_struct_from_user (type, length: EINVAL).
         */
        if (pt->smmu != dev->pci->smmu) {
            return -EINVAL;
        }
        if (c->flags & ~IOMMU_HWPT_FAULT_ID_VALID) {
            return -EOPNOTSUPP;
        }
        if (!c->data_len) {
            return -EOPNOTSUPP;
        }
        if (c->data_type != IOMMU_HWPT_DATA_ARM_SMMUV3 || c->data_len < sizeof(ste) ||
            user_data_too_long(c->data_len, sizeof(ste))) {
            return -EINVAL;
        }
        r = st_copy_struct_from_user(&ste, sizeof(ste), c->data_uptr, c->data_len);
        if (r) {
            return r;
        }
        if (ste.ste[0] & STE0_V) {
            if ((ste.ste[0] & ~STE0_ALLOWED) || (ste.ste[1] & ~STE1_ALLOWED)) {
                return -EIO;
            }
            cfg = (ste.ste[0] >> STE0_CFG_SHIFT) & 7;
            if (cfg != 0 && cfg != 4 && cfg != 5) {
                return -EIO;
            }
            eats = (ste.ste[1] >> STE1_EATS_SHIFT) & 3;
            if (eats != 0 && eats != 1) {
                return -EIO;
            }
        }
        if (c->flags & IOMMU_HWPT_FAULT_ID_VALID) {
            return -ENOENT;
        }
        o = st_obj_new(u->ctx, OT_HWPT_NESTED);
        o->viommu = pt;
        o->smmu = pt->smmu;
        o->ste[0] = ste.ste[0];
        o->ste[1] = ste.ste[1];
        o->ste_s1 = (ste.ste[0] & STE0_V) && ((ste.ste[0] >> STE0_CFG_SHIFT) & 7) == 5;
        o->dev_id = dev->id;
    } else {
        return -EINVAL;
    }
    c->out_hwpt_id = o->id;
    r = respond(u);
    if (r) {
        st_destroy_obj(o);
    }
    return r;
}

static int hwpt_set_dirty(struct ucmd *u)
{
    struct iommu_hwpt_set_dirty_tracking *c = u->cmd;
    struct st_obj *h;

    if ((c->flags & ~IOMMU_HWPT_DIRTY_TRACKING_ENABLE) || c->__reserved) {
        return -EOPNOTSUPP;
    }
    h = st_obj_get(u->ctx, c->hwpt_id, OT_HWPT_PAGING);
    if (!h) {
        return -ENOENT;
    }
    return -EOPNOTSUPP;
}

static int hwpt_get_dirty(struct ucmd *u)
{
    struct iommu_hwpt_get_dirty_bitmap *c = u->cmd;
    struct st_obj *h;

    if ((c->flags & ~IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR) || c->__reserved) {
        return -EOPNOTSUPP;
    }
    h = st_obj_get(u->ctx, c->hwpt_id, OT_HWPT_PAGING);
    if (!h) {
        return -ENOENT;
    }
    return -EOPNOTSUPP;
}

/* ------------------------------------------------------------ vIOMMU */

static int mmap_region_alloc(struct st_ictx *ctx, struct st_obj *self, uint64_t len, uint64_t *off)
{
    uint64_t cur = st_host.page_size;

    for (;;) {
        bool clash = false;

        for (struct st_obj *o = ctx->objs; o; o = o->next) {
            if (o != self && o->type == OT_VIOMMU && o->mmap_len &&
                o->mmap_off < cur + len && cur < o->mmap_off + o->mmap_len) {
                cur = o->mmap_off + o->mmap_len;
                clash = true;
            }
        }
        if (!clash) {
            *off = cur;
            return 0;
        }
    }
}

static int viommu_alloc(struct ucmd *u)
{
    struct iommu_viommu_alloc *c = u->cmd;
    struct st_obj *dev, *hwpt, *o;
    struct st_smmu *s;
    int r;

    if (c->flags || c->type == IOMMU_VIOMMU_TYPE_DEFAULT) {
        return -EOPNOTSUPP;
    }
    dev = get_device(u->ctx, c->dev_id);
    if (!dev) {
        return -ENOENT;
    }
    s = &st_host.smmu[dev->pci->smmu];
    if (!s->nesting) {
        return -EOPNOTSUPP;
    }
    if (c->type != IOMMU_VIOMMU_TYPE_ARM_SMMUV3 &&
        !(c->type == IOMMU_VIOMMU_TYPE_TEGRA241_CMDQV && s->cmdqv)) {
        return -EOPNOTSUPP;
    }
    hwpt = st_obj_get(u->ctx, c->hwpt_id, OT_HWPT_PAGING);
    if (!hwpt) {
        return -ENOENT;
    }
    if (!hwpt->nest_parent) {
        return -EINVAL;
    }
    if (hwpt->smmu != dev->pci->smmu) {
        return -EINVAL;
    }
    if (c->type == IOMMU_VIOMMU_TYPE_TEGRA241_CMDQV) {
        struct iommu_viommu_tegra241_cmdqv data;
        int vintf;

        /* tegra241_cmdqv_init_vintf_user: no data, or iommu_copy_struct_from_user */
        if (c->data_len < sizeof(data) || user_data_too_long(c->data_len, sizeof(data))) {
            return -EINVAL;
        }
        r = st_copy_struct_from_user(&data, sizeof(data), c->data_uptr, c->data_len);
        if (r) {
            return r;
        }
        vintf = st_vintf_alloc(s, hwpt->vmid);
        if (vintf < 0) {
            return vintf;
        }
        o = st_obj_new(u->ctx, OT_VIOMMU);
        o->vintf = vintf;
        st_vintf_set_viommu(s, vintf, o);
        o->vtype = c->type;
        o->hwpt = hwpt;
        o->smmu = dev->pci->smmu;
        o->vmid = hwpt->vmid;
        o->mmap_len = s->vintf_mmap_len;
        mmap_region_alloc(u->ctx, o, VINTF_PAGE_SIZE, &o->mmap_off);
        data.out_vintf_mmap_offset = o->mmap_off;
        data.out_vintf_mmap_length = o->mmap_len;
        if (st_uwrite(c->data_uptr, &data, sizeof(data))) {
            st_destroy_obj(o);
            return -EFAULT;
        }
    } else {
        o = st_obj_new(u->ctx, OT_VIOMMU);
        o->vtype = c->type;
        o->hwpt = hwpt;
        o->smmu = dev->pci->smmu;
        o->vmid = hwpt->vmid;
    }
    c->out_viommu_id = o->id;
    r = respond(u);
    if (r) {
        st_destroy_obj(o);
    }
    return r;
}

static int vdevice_alloc(struct ucmd *u)
{
    struct iommu_vdevice_alloc *c = u->cmd;
    struct st_obj *viommu, *dev, *o;
    int r, slot = -1;

    viommu = st_obj_get(u->ctx, c->viommu_id, OT_VIOMMU);
    if (!viommu) {
        return -ENOENT;
    }
    dev = get_device(u->ctx, c->dev_id);
    if (!dev) {
        return -ENOENT;
    }
    if (dev->pci->smmu != viommu->smmu) {
        return -EINVAL;
    }
    if (dev->vdev) {
        return -EEXIST;
    }
    for (struct st_obj *v = u->ctx->objs; v; v = v->next) {
        if (v->type == OT_VDEVICE && v->viommu == viommu && v->virt_id == c->virt_id) {
            return -EEXIST;
        }
    }
    if (viommu->vtype == IOMMU_VIOMMU_TYPE_TEGRA241_CMDQV) {
        if (c->virt_id > UINT32_MAX) {
            return -EINVAL;
        }
        slot = st_vintf_sid_alloc(smmu_of(viommu), viommu->vintf, dev->pci->sid, (uint32_t)c->virt_id);
        if (slot < 0) {
            return slot;
        }
    }
    o = st_obj_new(u->ctx, OT_VDEVICE);
    o->viommu = viommu;
    o->dev = dev;
    o->virt_id = c->virt_id;
    o->sid_slot = slot;
    dev->vdev = o;
    c->out_vdevice_id = o->id;
    r = respond(u);
    if (r) {
        st_destroy_obj(o);
    }
    return r;
}

/* ---------------------------------------------------------- HW queue */

/* The huge page size backing a process VA, from /proc/self/smaps. */
static uint64_t va_kernel_page(uint64_t va)
{
    FILE *f = fopen("/proc/self/smaps", "re");
    char line[512];
    bool in = false;
    uint64_t kps = 0;

    if (!f) {
        return 0;
    }
    while (fgets(line, sizeof(line), f)) {
        unsigned long long lo, hi;
        unsigned long kb;

        if (sscanf(line, "%llx-%llx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) {
            in = va >= lo && va < hi;
            continue;
        }
        if (in && sscanf(line, "KernelPageSize: %lu kB", &kb) == 1) {
            kps = (uint64_t)kb * 1024;
            break;
        }
    }
    fclose(f);
    return kps;
}

static int hw_queue_alloc(struct ucmd *u)
{
    struct iommu_hw_queue_alloc *c = u->cmd;
    struct st_obj *viommu, *ioas, *o, *prev = NULL;
    struct st_smmu *s;
    uint64_t end, pgsz = st_host.page_size, first, last, va0, va1, unit, pa;
    struct st_area **pinned = NULL;
    int npinned = 0, r;
    uint32_t max_shift;

    if (c->flags || c->type == IOMMU_HW_QUEUE_TYPE_DEFAULT) {
        return -EOPNOTSUPP;
    }
    if (!c->length) {
        return -EINVAL;
    }
    if (__builtin_add_overflow(c->nesting_parent_iova, c->length - 1, &end)) {
        return -EOVERFLOW;
    }
    viommu = st_obj_get(u->ctx, c->viommu_id, OT_VIOMMU);
    if (!viommu) {
        return -ENOENT;
    }
    if (viommu->vtype != IOMMU_VIOMMU_TYPE_TEGRA241_CMDQV || c->type != IOMMU_HW_QUEUE_TYPE_TEGRA241_CMDQV) {
        return -EOPNOTSUPP;
    }
    s = smmu_of(viommu);
    ioas = viommu->hwpt->ioas;

    /* pin the page-rounded range: every page mapped, physically contiguous */
    first = c->nesting_parent_iova & ~(pgsz - 1);
    last = end | (pgsz - 1);
    for (uint64_t cur = first;;) {
        struct st_area *a = area_first(ioas, cur, cur);

        if (!a) {
            g_free(pinned);
            return -ENOENT;
        }
        pinned = g_renew(struct st_area *, pinned, npinned + 1);
        pinned[npinned++] = a;
        if (a->iova + a->len - 1 >= last) {
            break;
        }
        cur = a->iova + a->len;
    }
    r = st_ioas_translate(ioas, first, 1, &va0);
    if (!r) {
        r = st_ioas_translate(ioas, last, 1, &va1);
    }
    if (r) {
        g_free(pinned);
        return -ENOENT;
    }
    unit = pinned[0]->huge;
    if (!unit && !pinned[0]->own_map) {
        uint64_t k = va_kernel_page(va0);

        if (k > st_sys_page) {
            unit = k;
        }
    }
    if (unit < pgsz) {
        unit = pgsz;
    }
    if (va1 - va0 != last - first || (va0 / unit) != (va1 / unit)) {
        g_free(pinned);
        return -EFAULT;
    }
    for (int i = 1; i < npinned; i++) {
        if (pinned[i]->huge != pinned[0]->huge) {
            g_free(pinned);
            return -EFAULT;
        }
    }
    pa = va0 + (c->nesting_parent_iova - first);

    /* Tegra241 rules */
    r = 0;
    if (c->index >= s->lvcmdqs) {
        r = -EINVAL;
    }
    for (struct st_obj *q = u->ctx->objs; !r && q; q = q->next) {
        if (q->type == OT_HW_QUEUE && q->viommu == viommu && q->index == c->index) {
            r = -EEXIST;
        }
    }
    if (!r && c->index) {
        for (struct st_obj *q = u->ctx->objs; q; q = q->next) {
            if (q->type == OT_HW_QUEUE && q->viommu == viommu && q->index == c->index - 1) {
                prev = q;
            }
        }
        if (!prev) {
            r = -EIO;
        }
    }
    max_shift = (s->idr[1] >> 21) & 0x1f;
    if (!r && ((c->length & (c->length - 1)) || c->length < 32 || c->length > (16ull << max_shift))) {
        r = -EINVAL;
    }
    if (!r && ((pa & ~(((1ull << 48) - 1) & ~0x1full)) || (pa & (c->length - 1)))) {
        r = -EINVAL;
    }
    if (r) {
        g_free(pinned);
        return r;
    }
    o = st_obj_new(u->ctx, OT_HW_QUEUE);
    o->viommu = viommu;
    o->qtype = c->type;
    o->index = c->index;
    o->iova = c->nesting_parent_iova;
    o->length = c->length;
    o->pa = pa;
    o->prev = prev;
    o->pinned = pinned;
    o->npinned = npinned;
    for (int i = 0; i < npinned; i++) {
        pinned[i]->pins++;
    }
    st_hwq_init(o);
    c->out_hw_queue_id = o->id;
    r = respond(u);
    if (r) {
        st_destroy_obj(o);
    }
    return r;
}

/* ----------------------------------------------------------- vEVENTQ */

static int veventq_alloc(struct ucmd *u)
{
    struct iommu_veventq_alloc *c = u->cmd;
    struct st_obj *viommu, *o;
    struct st_file *f;
    int fd, r;

    if (c->flags || c->__reserved || c->type == IOMMU_VEVENTQ_TYPE_DEFAULT) {
        return -EOPNOTSUPP;
    }
    /* iommufd_veventq_alloc(): 7.0 also caps the depth (VEVENTQ_MAX_DEPTH) */
    if (!c->veventq_depth || (st_kernel_at_least(700) && c->veventq_depth > (1u << 19))) {
        return -EINVAL;
    }
    viommu = st_obj_get(u->ctx, c->viommu_id, OT_VIOMMU);
    if (!viommu) {
        return -ENOENT;
    }
    for (struct st_obj *q = u->ctx->objs; q; q = q->next) {
        if (q->type == OT_VEVENTQ && q->viommu == viommu && q->etype == c->type) {
            return -EEXIST;
        }
    }
    fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (fd < 0) {
        return -errno;
    }
    if (fd >= ST_FDMAX) {
        st_real_close(fd);
        return -EMFILE;
    }
    o = st_obj_new(u->ctx, OT_VEVENTQ);
    o->viommu = viommu;
    o->etype = c->type;
    o->depth = c->veventq_depth;
    /* a private duplicate to signal through, whatever the user does with fd */
    o->evfd = syscall(SYS_fcntl, fd, F_DUPFD_CLOEXEC, 64);
    o->fd_open = true;
    o->lost_hdr.hdr.flags = IOMMU_VEVENTQ_FLAG_LOST_EVENTS;
    c->out_veventq_id = o->id;
    c->out_veventq_fd = fd;
    r = respond(u);
    if (r) {
        if (o->evfd >= 0) {
            st_real_close(o->evfd);
        }
        st_obj_free(o);
        st_real_close(fd);
        return r;
    }
    f = g_new0(struct st_file, 1);
    f->type = FT_VEVENTQ;
    f->fd = fd;
    f->refs = 1;
    f->ctx = u->ctx;
    f->veq = o;
    u->ctx->refs++;
    __atomic_store_n(&st_fdtab[fd], f, __ATOMIC_RELEASE);
    return 0;
}

/* --------------------------------------------------------- invalidate */

static int vsid_to_sid(struct st_obj *viommu, uint32_t vsid, uint32_t *sid)
{
    for (struct st_obj *v = viommu->ctx->objs; v; v = v->next) {
        if (v->type == OT_VDEVICE && v->viommu == viommu && v->virt_id == vsid && v->dev) {
            *sid = v->dev->pci->sid;
            return 0;
        }
    }
    return -EIO;
}

/* CMDQ_BATCH_ENTRIES (BITS_PER_LONG on arm64) - 1: arm_vsmmu_cache_invalidate's chunk */
#define INV_CHUNK 63

/*
 * arm_vsmmu_convert_user_cmd(): force the VMID into TLBIs, turn
 * TLBI_NSNH_ALL into NH_ALL of the VM's VMID, translate the vSID of
 * ATC_INV / CFGI_CD / CFGI_CD_ALL (arm_vsmmu_vsid_to_sid: EIO when no
 * vDEVICE has it); any other opcode is EIO.
 */
static int convert_user_cmd(struct st_obj *viommu, uint64_t cmd[2])
{
    uint8_t op = cmd[0] & 0xff;
    uint32_t sid;

    switch (op) {
    case 0x30: /* TLBI_NSNH_ALL becomes NH_ALL of the VM's VMID */
        cmd[0] = 0x10 | ((uint64_t)(viommu->vmid & 0xffff) << 32);
        cmd[1] = 0;
        return 0;
    case 0x10: case 0x11: case 0x12: case 0x13:
        cmd[0] &= ~(0xffffull << 32);
        cmd[0] |= (uint64_t)(viommu->vmid & 0xffff) << 32;
        return 0;
    case 0x40: case 0x05: case 0x06:
        if (vsid_to_sid(viommu, cmd[0] >> 32, &sid)) {
            return -EIO;
        }
        cmd[0] = (cmd[0] & 0xffffffffull) | ((uint64_t)sid << 32);
        return 0;
    default:
        return -EIO;
    }
}

/*
 * IOMMU_HWPT_INVALIDATE: iommufd_hwpt_invalidate() then, for a vIOMMU,
 * arm_vsmmu_cache_invalidate():
 *   - kzalloc of entry_num commands (ENOMEM above kmalloc's limit), then
 *     iommu_copy_struct_from_full_user_array() copies the whole array
 *     before any entry runs: wrong data type EINVAL, entry_num == 0 EINVAL,
 *     a long entry with a non-zero tail E2BIG, a bad pointer EFAULT; all
 *     with entry_num = 0 written back;
 *   - then each entry is converted in turn and every CMDQ_BATCH_ENTRIES - 1
 *     (63) converted entries, and at the end, are issued to the SMMU's queue
 *     with a CMD_SYNC.  An entry refused at index k reports entry_num = k,
 *     but the entries since the last chunk boundary (k / 63 * 63 .. k - 1)
 *     were converted and never issued: the kernel's bug, modelled as is.
 *     The dump's "done" is what was issued, "entry_num_out" what was
 *     written back.
 * A fault armed with an entry fails that entry the same way.
 */
static int hwpt_invalidate(struct ucmd *u)
{
    struct iommu_hwpt_invalidate *c = u->cmd;
    struct st_obj *pt;
    uint32_t issued = 0, out_num = 0, batches = 0, n = c->entry_num;
    uint64_t (*cmds)[2] = NULL;
    int rc = 0;

    if (c->__reserved) {
        rc = -EOPNOTSUPP;
        goto out;
    }
    /*
     * 7.0 (the 7.1 tree's iommufd_hwpt_invalidate; the version that added
     * it is not known here) bounds entry_len by PAGE_SIZE and entry_num by
     * IOMMU_HWPT_INVALIDATE_ENTRY_NUM_MAX (1 << 19).
     */
    if (c->entry_num &&
        (!c->data_uptr || !c->entry_len ||
         (st_kernel_at_least(700) && (c->entry_len > st_host.page_size || c->entry_num > (1u << 19))))) {
        rc = -EINVAL;
        goto out;
    }
    pt = st_obj_get(u->ctx, c->hwpt_id, OT_NONE);
    if (!pt) {
        rc = -ENOENT;
        goto out;
    }
    if (pt->type == OT_HWPT_NESTED) {
        rc = -EOPNOTSUPP;     /* an ARM nested domain has no cache_invalidate_user */
        goto out;
    }
    if (pt->type != OT_VIOMMU) {
        rc = -EINVAL;
        goto out;
    }
    /*
     * kzalloc_objs(entry_num): above KMALLOC_MAX_SIZE (PAGE_SIZE <<
     * MAX_PAGE_ORDER: 4 MiB on 4K pages, 32 MiB on 16K, 512 MiB on 64K)
     * it fails; 7.0 never gets here with that many.
     */
    {
        unsigned order = st_host.page_size >= 65536 ? 13 : st_host.page_size >= 16384 ? 11 : 10;

        if ((uint64_t)n * 16 > (st_host.page_size << order)) {
            rc = -ENOMEM;
            goto out_rec;
        }
    }
    /* iommu_copy_struct_from_full_user_array() */
    if (c->data_type != IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3 || !n) {
        rc = -EINVAL;
        goto out_rec;
    }
    cmds = g_malloc0_n(n, sizeof(*cmds));
    if (c->entry_len == 16) {
        if (st_uread(cmds, c->data_uptr, (size_t)n * 16)) {
            rc = -EFAULT;
            goto out_rec;
        }
    } else {
        for (uint32_t i = 0; i < n; i++) {
            rc = st_copy_struct_from_user(cmds[i], 16, c->data_uptr + (uint64_t)c->entry_len * i,
                                          c->entry_len);
            if (rc) {
                goto out_rec;
            }
        }
    }
    {
        uint32_t cur = 0, last = 0;

        while (cur != n) {
            if (u->fail_entry == (long)cur) {
                rc = -u->fail_err;
                break;
            }
            rc = convert_user_cmd(pt, cmds[cur]);
            if (rc) {
                break;
            }
            cur++;
            if (cur != n && cur - last != INV_CHUNK) {
                continue;
            }
            /* arm_smmu_cmdq_issue_cmdlist(..., cur - last, sync = true) */
            issued = cur;
            batches++;
            last = cur;
        }
        out_num = cur;
    }
out_rec:
    st_record_invalidation(pt->id, n, issued, -rc, out_num, batches,
                           (const uint64_t (*)[2])cmds, issued);
    g_free(cmds);
out:
    c->entry_num = out_num;
    if (respond(u)) {
        return -EFAULT;
    }
    return rc;
}

/* ------------------------------------------------------------ destroy */

static int destroy(struct ucmd *u)
{
    struct iommu_destroy *c = u->cmd;
    struct st_obj *o = st_obj_get(u->ctx, c->id, OT_NONE);

    if (!o) {
        return -ENOENT;
    }
    if (o->type == OT_DEVICE || st_obj_holders(o, NULL, 0) ||
        (o->type == OT_VIOMMU && o->mmaps) || (o->type == OT_VEVENTQ && o->fd_open)) {
        st_note_rejected_destroy(o, EBUSY);
        return -EBUSY;
    }
    st_destroy_obj(o);
    return 0;
}

/* ------------------------------------------------------------ dispatch */

struct op {
    unsigned long cmd;
    size_t size, min;
    int (*fn)(struct ucmd *u);
};

#define OP(c, s, last, f) { c, sizeof(struct s), offsetof(struct s, last) + sizeof(((struct s *)0)->last), f }

static const struct op ops[] = {
    OP(IOMMU_DESTROY, iommu_destroy, id, destroy),
    OP(IOMMU_IOAS_ALLOC, iommu_ioas_alloc, out_ioas_id, ioas_alloc),
    OP(IOMMU_IOAS_ALLOW_IOVAS, iommu_ioas_allow_iovas, allowed_iovas, not_supported),
    OP(IOMMU_IOAS_COPY, iommu_ioas_copy, src_iova, not_supported),
    OP(IOMMU_IOAS_IOVA_RANGES, iommu_ioas_iova_ranges, out_iova_alignment, ioas_iova_ranges),
    OP(IOMMU_IOAS_MAP, iommu_ioas_map, iova, ioas_map),
    OP(IOMMU_IOAS_UNMAP, iommu_ioas_unmap, length, ioas_unmap),
    OP(IOMMU_OPTION, iommu_option, val64, option),
    OP(IOMMU_VFIO_IOAS, iommu_vfio_ioas, __reserved, not_supported),
    OP(IOMMU_HWPT_ALLOC, iommu_hwpt_alloc, __reserved, hwpt_alloc),
    OP(IOMMU_GET_HW_INFO, iommu_hw_info, __reserved, get_hw_info),
    OP(IOMMU_HWPT_SET_DIRTY_TRACKING, iommu_hwpt_set_dirty_tracking, __reserved, hwpt_set_dirty),
    OP(IOMMU_HWPT_GET_DIRTY_BITMAP, iommu_hwpt_get_dirty_bitmap, data, hwpt_get_dirty),
    OP(IOMMU_HWPT_INVALIDATE, iommu_hwpt_invalidate, __reserved, hwpt_invalidate),
    OP(IOMMU_FAULT_QUEUE_ALLOC, iommu_fault_alloc, out_fault_fd, not_supported),
    OP(IOMMU_IOAS_MAP_FILE, iommu_ioas_map_file, iova, ioas_map_file),
    OP(IOMMU_VIOMMU_ALLOC, iommu_viommu_alloc, out_viommu_id, viommu_alloc),
    OP(IOMMU_VDEVICE_ALLOC, iommu_vdevice_alloc, virt_id, vdevice_alloc),
    OP(IOMMU_IOAS_CHANGE_PROCESS, iommu_ioas_change_process, __reserved, ioas_change_process),
    /* the kernel's table: min size offsetofend(out_veventq_fd) = 28 */
    OP(IOMMU_VEVENTQ_ALLOC, iommu_veventq_alloc, out_veventq_fd, veventq_alloc),
    OP(IOMMU_HW_QUEUE_ALLOC, iommu_hw_queue_alloc, length, hw_queue_alloc),
};

int st_iommufd_ioctl(struct st_file *f, unsigned long cmd, uint64_t arg)
{
    const struct op *op = NULL;
    const char *name = st_ioctl_name(cmd);
    struct ucmd u;
    uint64_t buf[16];
    uint32_t usize;
    int r;

    for (size_t i = 0; i < G_N_ELEMENTS(ops); i++) {
        if (ops[i].cmd == cmd) {
            op = &ops[i];
        }
    }
    if (!op) {
        st_count_ioctl(name ? name : "UNKNOWN");
        return -ENOTTY;
    }
    st_count_ioctl(name);
    r = st_fault_check(name);
    u.fail_entry = -1;
    if (r && cmd == IOMMU_HWPT_INVALIDATE && st_fault_last_entry() >= 0) {
        /* A fault at one entry: the entries before it are done. */
        u.fail_entry = st_fault_last_entry();
        u.fail_err = r;
    } else if (r) {
        return -r;
    }
    if (st_uread(&usize, arg, sizeof(usize))) {
        return -EFAULT;
    }
    if (usize < op->min) {
        return -EINVAL;
    }
    G_STATIC_ASSERT(sizeof(buf) >= sizeof(struct iommu_hwpt_get_dirty_bitmap));
    r = st_copy_struct_from_user(buf, op->size, arg, usize);
    if (r) {
        return r;
    }
    u.ctx = f->ctx;
    u.arg = arg;
    u.usize = usize;
    u.ksize = op->size;
    u.cmd = buf;
    return op->fn(&u);
}
