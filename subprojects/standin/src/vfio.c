/*
 * VFIO character devices in iommufd (cdev) mode for the configured PCI
 * functions: the fake sysfs tree vfio-pci reads, /dev/vfio/devices/vfioN,
 * bind/attach/detach, device/region/IRQ info, a plausible PCIe config space
 * (ids, class, BARs with sizing, PCIe + MSI + MSI-X capabilities) through
 * pread/pwrite, and BARs backed by memfds (mmap, pread/pwrite).
 */
#include "standin.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define REGION_SHIFT 40
#define REGION_OFF(i) ((uint64_t)(i) << REGION_SHIFT)
#define REGION_MASK ((1ull << REGION_SHIFT) - 1)
#define CFG_SIZE 4096

#define CAP_PCIE 0x40
#define CAP_MSI  0x80
#define CAP_MSIX 0x90

void st_mkdirs(const char *path);

static int write_file(const char *dir, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/*
 * Several processes may share one STANDIN_DIR (a launcher, a wrapper, QEMU):
 * a file or link that already says the right thing is left alone, so that a
 * process starting beside a running one never truncates what it reads.
 */
static int write_file(const char *dir, const char *name, const char *fmt, ...)
{
    char path[4200], buf[512], old[513];
    va_list ap;
    int fd, n;
    ssize_t on;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    fd = syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        on = syscall(SYS_read, fd, old, sizeof(old));
        syscall(SYS_close, fd);
        if (on == n && !memcmp(old, buf, n)) {
            return 0;
        }
    }
    fd = syscall(SYS_openat, AT_FDCWD, path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        return -1;
    }
    if (syscall(SYS_write, fd, buf, n) != n) {
        syscall(SYS_close, fd);
        return -1;
    }
    syscall(SYS_close, fd);
    return 0;
}

static int make_link(const char *target, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int make_link(const char *target, const char *fmt, ...)
{
    char path[4600], old[4096];
    va_list ap;
    ssize_t n;

    va_start(ap, fmt);
    vsnprintf(path, sizeof(path), fmt, ap);
    va_end(ap);
    n = syscall(SYS_readlinkat, AT_FDCWD, path, old, sizeof(old) - 1);
    if (n >= 0) {
        old[n] = 0;
        if (!strcmp(old, target)) {
            return 0;
        }
    }
    unlink(path);
    return symlink(target, path);
}

static bool bar_is64(struct st_pci *p, int i)
{
    return i < 5 && p->bar[i] > (256ull << 20) && !p->bar[i + 1];
}

static void put16(uint8_t *c, int off, uint16_t v)
{
    c[off] = v;
    c[off + 1] = v >> 8;
}

static void put32(uint8_t *c, int off, uint32_t v)
{
    put16(c, off, v);
    put16(c, off + 2, v >> 16);
}

static uint32_t get32(const uint8_t *c, int off)
{
    return c[off] | c[off + 1] << 8 | c[off + 2] << 16 | (uint32_t)c[off + 3] << 24;
}

static void wmask16(struct st_pci *p, int off, uint16_t m)
{
    p->cfg_wmask[off] = m;
    p->cfg_wmask[off + 1] = m >> 8;
}

static void wmask32(struct st_pci *p, int off, uint32_t m)
{
    wmask16(p, off, m);
    wmask16(p, off + 2, m >> 16);
}

/* A freshly reset function: the config header and capabilities. */
static void pci_reset(struct st_pci *p)
{
    uint8_t *c = p->cfg;
    int msix_bar = -1;

    memset(p->cfg, 0, sizeof(p->cfg));
    memset(p->cfg_wmask, 0, sizeof(p->cfg_wmask));
    put16(c, 0x00, p->vendor);
    put16(c, 0x02, p->device);
    put16(c, 0x04, 0);
    put16(c, 0x06, 0x0010);                    /* capability list */
    c[0x08] = p->revision;
    c[0x09] = p->class_code;
    c[0x0a] = p->class_code >> 8;
    c[0x0b] = p->class_code >> 16;
    c[0x0e] = 0;
    put16(c, 0x2c, p->subvendor);
    put16(c, 0x2e, p->subdevice);
    c[0x34] = CAP_PCIE;
    c[0x3c] = 0xff;
    c[0x3d] = 1;                               /* INTA# */
    wmask16(p, 0x04, 0x0547);
    p->cfg_wmask[0x0c] = 0xff;
    p->cfg_wmask[0x0d] = 0xff;
    p->cfg_wmask[0x3c] = 0xff;

    for (int i = 0; i < 6; i++) {
        uint64_t sz = p->bar[i];

        p->bar_mask[i] = 0;
        if (!sz) {
            continue;
        }
        if (bar_is64(p, i)) {
            put32(c, 0x10 + 4 * i, 0x0c);      /* 64-bit, prefetchable */
            p->bar_mask[i] = (uint32_t)~(sz - 1) & ~0xfu;
            p->bar_mask[i + 1] = (uint32_t)(~(sz - 1) >> 32);
            wmask32(p, 0x10 + 4 * i, p->bar_mask[i]);
            wmask32(p, 0x14 + 4 * i, p->bar_mask[i + 1]);
            i++;
        } else {
            put32(c, 0x10 + 4 * i, 0x0);       /* 32-bit, non-prefetchable */
            p->bar_mask[i] = (uint32_t)~(sz - 1) & ~0xfu;
            wmask32(p, 0x10 + 4 * i, p->bar_mask[i]);
            if (msix_bar < 0 && sz >= 16384) {
                msix_bar = i;
            }
        }
    }

    /* PCI Express v2 endpoint, FLR capable */
    p->pcie_cap = CAP_PCIE;
    c[CAP_PCIE] = 0x10;
    c[CAP_PCIE + 1] = CAP_MSI;
    put16(c, CAP_PCIE + 0x02, 0x0002);
    put32(c, CAP_PCIE + 0x04, (1u << 28) | 0x1);           /* DEVCAP: FLR, MPS 256 */
    put16(c, CAP_PCIE + 0x08, 0x2810);                     /* DEVCTL */
    wmask16(p, CAP_PCIE + 0x08, 0x7fff);
    put32(c, CAP_PCIE + 0x0c, (16u << 4) | 4);             /* LNKCAP: x16, 16 GT/s */
    wmask16(p, CAP_PCIE + 0x10, 0x0ffb);
    put16(c, CAP_PCIE + 0x12, (16u << 4) | 4);             /* LNKSTA */
    put32(c, CAP_PCIE + 0x24, 0);                          /* DEVCAP2 */
    wmask16(p, CAP_PCIE + 0x28, 0x07ff);
    put32(c, CAP_PCIE + 0x2c, 0x1e);                       /* LNKCAP2 */

    /* MSI, 64-bit, one vector */
    p->msi_cap = CAP_MSI;
    c[CAP_MSI] = 0x05;
    c[CAP_MSI + 1] = msix_bar >= 0 ? CAP_MSIX : 0;
    put16(c, CAP_MSI + 2, 0x0080);
    wmask16(p, CAP_MSI + 2, 0x0071);
    wmask32(p, CAP_MSI + 4, 0xfffffffc);
    wmask32(p, CAP_MSI + 8, 0xffffffff);
    wmask16(p, CAP_MSI + 12, 0xffff);

    /* MSI-X, 16 vectors, table and PBA in the last 8 KiB of the BAR */
    p->msix_cap = 0;
    p->msix_entries = 0;
    if (msix_bar >= 0) {
        uint64_t sz = p->bar[msix_bar];

        p->msix_cap = CAP_MSIX;
        p->msix_entries = 16;
        c[CAP_MSIX] = 0x11;
        c[CAP_MSIX + 1] = 0;
        put16(c, CAP_MSIX + 2, 16 - 1);
        wmask16(p, CAP_MSIX + 2, 0xc000);
        put32(c, CAP_MSIX + 4, (uint32_t)(sz - 0x2000) | msix_bar);
        put32(c, CAP_MSIX + 8, (uint32_t)(sz - 0x1000) | msix_bar);
    }
    p->irq_type = -1;
}

int st_vfio_init(void)
{
    char dir[4200], sub[4400], path[4600], link[128];

    snprintf(dir, sizeof(dir), "%s/sys/bus/pci/drivers/vfio-pci", st_dir);
    st_mkdirs(dir);
    for (int i = 0; i < st_host.npci; i++) {
        struct st_pci *p = &st_host.pci[i];
        char res[1024] = "";
        size_t rl = 0;

        snprintf(dir, sizeof(dir), "%s/sys/bus/pci/devices/%s", st_dir, p->bdf);
        snprintf(sub, sizeof(sub), "%s/vfio-dev/vfio%d", dir, p->index);
        st_mkdirs(sub);
        if (write_file(sub, "dev", "%d:%d\n", ST_VFIO_MAJOR, p->index) ||
            write_file(dir, "vendor", "0x%04x\n", p->vendor) ||
            write_file(dir, "device", "0x%04x\n", p->device) ||
            write_file(dir, "subsystem_vendor", "0x%04x\n", p->subvendor) ||
            write_file(dir, "subsystem_device", "0x%04x\n", p->subdevice) ||
            write_file(dir, "class", "0x%06x\n", p->class_code) ||
            write_file(dir, "revision", "0x%02x\n", p->revision) ||
            write_file(dir, "irq", "0\n") ||
            write_file(dir, "numa_node", "-1\n") ||
            write_file(dir, "iommu_smmu", "%s\n", st_host.smmu[p->smmu].name) ||
            write_file(dir, "stream_id", "0x%x\n", p->sid)) {
            return -1;
        }
        write_file(sub, "uevent", "MAJOR=%d\nMINOR=%d\nDEVNAME=vfio/devices/vfio%d\n", ST_VFIO_MAJOR,
                   p->index, p->index);
        for (int b = 0; b < 7 && rl < sizeof(res) - 64; b++) {
            uint64_t sz = b < 6 ? p->bar[b] : 0;
            uint64_t base = sz ? (0x100000000ull * (i + 1) + 0x10000000ull * b) : 0;

            rl += snprintf(res + rl, sizeof(res) - rl, "0x%016llx 0x%016llx 0x%016llx\n",
                           (unsigned long long)base, (unsigned long long)(sz ? base + sz - 1 : 0),
                           (unsigned long long)(sz ? 0x40200 : 0));
        }
        if (write_file(dir, "resource", "%s", res)) {
            return -1;
        }
        /*
         * subsystem and driver as vfio_device_is_mdev() and libvirt read
         * them; iommu_group: group N for function N, listing it, as
         * /sys/kernel/iommu_groups/N/devices/<BDF> does.
         */
        snprintf(link, sizeof(link), "../../../../kernel/iommu_groups/%d", p->index);
        snprintf(sub, sizeof(sub), "%s/sys/kernel/iommu_groups/%d/devices", st_dir, p->index);
        st_mkdirs(sub);
        snprintf(path, sizeof(path), "../../../../bus/pci/devices/%s", p->bdf);
        if (make_link("../../../../bus/pci", "%s/subsystem", dir) < 0 ||
            make_link("../../drivers/vfio-pci", "%s/driver", dir) < 0 ||
            make_link(link, "%s/iommu_group", dir) < 0 ||
            make_link(path, "%s/%s", sub, p->bdf) < 0) {
            return -1;
        }
        for (int b = 0; b < 6; b++) {
            p->bar_fd[b] = -1;
            if (p->bar[b]) {
                int fd = memfd_create("standin-bar", MFD_CLOEXEC);

                if (fd < 0 || ftruncate(fd, p->bar[b]) < 0) {
                    return -1;
                }
                p->bar_fd[b] = fd;
            }
        }
        pci_reset(p);
        st_mig_init(p);
    }
    return 0;
}

struct st_file *st_vfio_install(int fd, struct st_pci *p)
{
    struct st_file *f;

    if (fd < 0 || fd >= ST_FDMAX) {
        return NULL;
    }
    f = g_new0(struct st_file, 1);
    f->type = FT_VFIO;
    f->fd = fd;
    f->refs = 1;
    f->pci = p;
    st_file_note_backing(f);
    __atomic_store_n(&st_fdtab[fd], f, __ATOMIC_RELEASE);
    return f;
}

int st_vfio_open(int idx, int flags)
{
    struct st_pci *p = &st_host.pci[idx];
    char name[64];
    int fd;

    /* the name says which function: another process recognises the fd */
    snprintf(name, sizeof(name), "%s%s", ST_MEMFD_VFIO, p->bdf);
    fd = memfd_create(name, (flags & O_CLOEXEC) ? MFD_CLOEXEC : 0);
    if (fd < 0) {
        return -errno;
    }
    if (flags & O_NONBLOCK) {
        fcntl(fd, F_SETFL, O_NONBLOCK);
    }
    if (!st_vfio_install(fd, p)) {
        st_real_close(fd);
        return -EMFILE;
    }
    return fd;
}

/* --------------------------------------------------------------- attach */

static void put_auto_domain(struct st_obj *h)
{
    if (h && h->type == OT_HWPT_PAGING && h->auto_domain && !st_obj_holders(h, NULL, 0)) {
        st_destroy_obj(h);
    }
}

static int attach_hwpt(struct st_obj *dev, struct st_obj *h)
{
    if (h->type == OT_HWPT_PAGING) {
        if (h->smmu != dev->pci->smmu) {
            return -EINVAL;
        }
    } else {
        if (h->smmu != dev->pci->smmu) {
            return -EINVAL;
        }
        /*
         * arm_smmu_attach_prepare_vmaster(): the device's vSID on this
         * vIOMMU (iommufd_viommu_get_vdev_id, ENOENT without a vDEVICE).
         * 6.17 and 6.18 need it for every nested domain; from 6.19 (commit
         * 9f0b286fe401, "Allow attaching nested domain for GBPA cases") an
         * abort or bypass vSTE (V=0 included: arm_smmu_validate_vste zeroes
         * it, Cfg 0 = abort) attaches without one; S1 still needs it.
         */
        if (h->ste_s1 || !st_kernel_at_least(619)) {
            bool found = dev->vdev && dev->vdev->viommu == h->viommu;

            if (!found) {
                return -ENOENT;
            }
        }
    }
    return 0;
}

static int device_attach(struct st_obj *dev, uint32_t *pt_id)
{
    struct st_obj *pt = st_obj_get(dev->ctx, *pt_id, OT_NONE);
    struct st_obj *old = dev->attached, *h = NULL;
    int r;

    if (!pt) {
        return -ENOENT;
    }
    switch (pt->type) {
    case OT_HWPT_PAGING:
    case OT_HWPT_NESTED:
        if (pt == old) {
            return 0;
        }
        r = attach_hwpt(dev, pt);
        if (r) {
            return r;
        }
        h = pt;
        break;
    case OT_IOAS:
        /* the kernel's automatic domain: reuse a compatible one or make one */
        for (struct st_obj *o = dev->ctx->objs; o; o = o->next) {
            if (o->type == OT_HWPT_PAGING && o->auto_domain && o->ioas == pt && o->smmu == dev->pci->smmu) {
                h = o;
                break;
            }
        }
        if (h && h == old) {
            *pt_id = h->id;
            return 0;
        }
        if (!h) {
            h = st_obj_new(dev->ctx, OT_HWPT_PAGING);
            h->ioas = pt;
            h->auto_domain = true;
            h->dev_id = dev->id;
            h->smmu = dev->pci->smmu;
        }
        break;
    default:
        return -EINVAL;
    }
    dev->attached = h;
    *pt_id = h->id;
    put_auto_domain(old);
    return 0;
}

int st_device_detach(struct st_obj *dev)
{
    struct st_obj *old = dev->attached;

    dev->attached = NULL;
    put_auto_domain(old);
    return 0;
}

void st_device_unbind(struct st_obj *dev)
{
    struct st_ictx *ctx = dev->ctx;

    st_device_detach(dev);
    if (dev->vdev) {
        /*
         * iommufd_device_unbind -> iommufd_device_pre_destroy ->
         * iommufd_device_remove_vdev: the kernel destroys a vDEVICE still on
         * the device with iommufd_object_tombstone_user(), so its ID stays
         * taken (IOMMU_DESTROY: ENOENT) and is not reused until the iommufd
         * is released.
         */
        struct st_obj *v = dev->vdev;

        st_note_freed(v);
        st_tombstone_obj(v);
    }
    dev->pci->devobj = NULL;
    if (dev->df) {
        dev->df->devobj = NULL;
    }
    st_obj_free(dev);
    st_ictx_put(ctx);
}

void st_vfio_release(struct st_file *f)
{
    if (f->devobj) {
        st_mig_close(f->pci);
        st_device_unbind(f->devobj);
        pci_reset(f->pci);
    }
}

/* ---------------------------------------------------------------- ioctls */

static int bind(struct st_file *f, uint64_t arg)
{
    struct vfio_device_bind_iommufd b;
    const size_t minsz = offsetof(struct vfio_device_bind_iommufd, out_devid) + sizeof(b.out_devid);
    struct st_file *i;
    struct st_obj *dev;

    if (st_uread(&b, arg, minsz)) {
        return -EFAULT;
    }
    if (b.argsz < minsz || (b.flags & ~VFIO_DEVICE_BIND_FLAG_TOKEN) || b.iommufd < 0) {
        return -EINVAL;
    }
    if (f->devobj) {
        return -EINVAL;
    }
    if (b.flags & VFIO_DEVICE_BIND_FLAG_TOKEN) {
        uint8_t uuid[16];

        if (b.argsz < sizeof(b) || st_uread(&b, arg, sizeof(b)) || st_uread(uuid, b.token_uuid_ptr, 16)) {
            return b.argsz < sizeof(b) ? -EINVAL : -EFAULT;
        }
    }
    if (b.iommufd >= ST_FDMAX || fcntl(b.iommufd, F_GETFD) < 0) {
        return -EBADF;
    }
    i = st_fdtab[b.iommufd];
    if (!i || i->type != FT_IOMMUFD) {
        return -EBADFD;
    }
    if (f->pci->devobj) {
        return -EINVAL;         /* a cdev device is opened (bound) only once */
    }
    dev = st_obj_new(i->ctx, OT_DEVICE);
    dev->pci = f->pci;
    dev->df = f;
    dev->smmu = f->pci->smmu;
    if (st_uwrite(arg + offsetof(struct vfio_device_bind_iommufd, out_devid), &dev->id, sizeof(dev->id))) {
        st_obj_free(dev);
        return -EFAULT;
    }
    i->ctx->refs++;
    f->devobj = dev;
    f->pci->devobj = dev;
    pci_reset(f->pci);
    st_mig_open(f->pci);
    return 0;
}

static int attach_pt(struct st_file *f, uint64_t arg)
{
    struct vfio_device_attach_iommufd_pt a;
    const size_t minsz = offsetof(struct vfio_device_attach_iommufd_pt, pt_id) + sizeof(a.pt_id);
    int r;

    if (st_uread(&a, arg, minsz)) {
        return -EFAULT;
    }
    if (a.argsz < minsz) {
        return -EINVAL;
    }
    if (a.flags & ~VFIO_DEVICE_ATTACH_PASID) {
        return -EINVAL;
    }
    if (a.flags & VFIO_DEVICE_ATTACH_PASID) {
        return -EOPNOTSUPP;     /* these functions have no PASID capability */
    }
    r = device_attach(f->devobj, &a.pt_id);
    if (r) {
        return r;
    }
    if (st_uwrite(arg + offsetof(struct vfio_device_attach_iommufd_pt, pt_id), &a.pt_id, sizeof(a.pt_id))) {
        st_device_detach(f->devobj);
        return -EFAULT;
    }
    return 0;
}

static int detach_pt(struct st_file *f, uint64_t arg)
{
    struct vfio_device_detach_iommufd_pt d;
    const size_t minsz = offsetof(struct vfio_device_detach_iommufd_pt, flags) + sizeof(d.flags);

    if (st_uread(&d, arg, minsz)) {
        return -EFAULT;
    }
    if (d.argsz < minsz || (d.flags & ~VFIO_DEVICE_DETACH_PASID)) {
        return -EINVAL;
    }
    if (d.flags & VFIO_DEVICE_DETACH_PASID) {
        return -EOPNOTSUPP;
    }
    return st_device_detach(f->devobj);
}

static int get_info(struct st_file *f, uint64_t arg)
{
    struct vfio_device_info info;
    const size_t minsz = offsetof(struct vfio_device_info, num_irqs) + sizeof(info.num_irqs);

    (void)f;
    if (st_uread(&info, arg, minsz)) {
        return -EFAULT;
    }
    if (info.argsz < minsz) {
        return -EINVAL;
    }
    info.flags = VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET;
    info.num_regions = VFIO_PCI_NUM_REGIONS;
    info.num_irqs = VFIO_PCI_NUM_IRQS;
    return st_uwrite(arg, &info, minsz) ? -EFAULT : 0;
}

static int get_region_info(struct st_file *f, uint64_t arg)
{
    struct vfio_region_info info;
    const size_t minsz = offsetof(struct vfio_region_info, offset) + sizeof(info.offset);
    struct st_pci *p = f->pci;

    if (st_uread(&info, arg, minsz)) {
        return -EFAULT;
    }
    if (info.argsz < minsz) {
        return -EINVAL;
    }
    switch (info.index) {
    case VFIO_PCI_CONFIG_REGION_INDEX:
        info.offset = REGION_OFF(info.index);
        info.size = CFG_SIZE;
        info.flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
        break;
    case VFIO_PCI_BAR0_REGION_INDEX ... VFIO_PCI_BAR5_REGION_INDEX:
        info.offset = REGION_OFF(info.index);
        info.size = p->bar[info.index];
        if (info.index > 0 && bar_is64(p, info.index - 1)) {
            info.size = 0;          /* upper half of a 64-bit BAR */
        }
        info.flags = 0;
        if (info.size) {
            info.flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE |
                         VFIO_REGION_INFO_FLAG_MMAP;
        }
        break;
    case VFIO_PCI_ROM_REGION_INDEX:
        info.offset = REGION_OFF(info.index);
        info.size = 0;
        info.flags = 0;
        break;
    case VFIO_PCI_VGA_REGION_INDEX:
        return -EINVAL;             /* not a VGA device */
    default:
        return -EINVAL;
    }
    info.cap_offset = 0;
    return st_uwrite(arg, &info, minsz) ? -EFAULT : 0;
}

static uint32_t irq_count(struct st_pci *p, unsigned index)
{
    switch (index) {
    case VFIO_PCI_INTX_IRQ_INDEX: return p->cfg[0x3d] ? 1 : 0;
    case VFIO_PCI_MSI_IRQ_INDEX: return p->msi_cap ? 1 : 0;
    case VFIO_PCI_MSIX_IRQ_INDEX: return p->msix_entries;
    case VFIO_PCI_ERR_IRQ_INDEX: return 1;
    case VFIO_PCI_REQ_IRQ_INDEX: return 1;
    default: return 0;
    }
}

static int get_irq_info(struct st_file *f, uint64_t arg)
{
    struct vfio_irq_info info;
    const size_t minsz = offsetof(struct vfio_irq_info, count) + sizeof(info.count);

    if (st_uread(&info, arg, minsz)) {
        return -EFAULT;
    }
    if (info.argsz < minsz || info.index >= VFIO_PCI_NUM_IRQS) {
        return -EINVAL;
    }
    info.flags = VFIO_IRQ_INFO_EVENTFD;
    info.count = irq_count(f->pci, info.index);
    if (info.index == VFIO_PCI_INTX_IRQ_INDEX) {
        info.flags |= VFIO_IRQ_INFO_MASKABLE | VFIO_IRQ_INFO_AUTOMASKED;
    } else {
        info.flags |= VFIO_IRQ_INFO_NORESIZE;
    }
    return st_uwrite(arg, &info, minsz) ? -EFAULT : 0;
}

static int set_irqs(struct st_file *f, uint64_t arg)
{
    struct vfio_irq_set hdr;
    const size_t minsz = offsetof(struct vfio_irq_set, count) + sizeof(hdr.count);
    struct st_pci *p = f->pci;
    uint32_t n, size = 0, action, dtype;

    if (st_uread(&hdr, arg, minsz)) {
        return -EFAULT;
    }
    if (hdr.argsz < minsz || hdr.index >= VFIO_PCI_NUM_IRQS || hdr.count >= UINT32_MAX - hdr.start ||
        (hdr.flags & ~(VFIO_IRQ_SET_DATA_TYPE_MASK | VFIO_IRQ_SET_ACTION_TYPE_MASK))) {
        return -EINVAL;
    }
    n = irq_count(p, hdr.index);
    if (hdr.start >= n || hdr.start + hdr.count > n) {
        return -EINVAL;
    }
    dtype = hdr.flags & VFIO_IRQ_SET_DATA_TYPE_MASK;
    switch (dtype) {
    case VFIO_IRQ_SET_DATA_NONE: size = 0; break;
    case VFIO_IRQ_SET_DATA_BOOL: size = 1; break;
    case VFIO_IRQ_SET_DATA_EVENTFD: size = 4; break;
    default: return -EINVAL;
    }
    if (size && hdr.argsz - minsz < (uint64_t)hdr.count * size) {
        return -EINVAL;
    }
    action = hdr.flags & VFIO_IRQ_SET_ACTION_TYPE_MASK;
    if (action != VFIO_IRQ_SET_ACTION_MASK && action != VFIO_IRQ_SET_ACTION_UNMASK &&
        action != VFIO_IRQ_SET_ACTION_TRIGGER) {
        return -EINVAL;
    }
    if (dtype == VFIO_IRQ_SET_DATA_EVENTFD) {
        for (uint32_t i = 0; i < hdr.count; i++) {
            int32_t fd;

            if (st_uread(&fd, arg + minsz + 4 * i, 4)) {
                return -EFAULT;
            }
            if (fd >= 0 && fcntl(fd, F_GETFD) < 0) {
                return -EBADF;
            }
        }
    }
    switch (hdr.index) {
    case VFIO_PCI_INTX_IRQ_INDEX:
        if (action != VFIO_IRQ_SET_ACTION_TRIGGER) {
            return 0;
        }
        if (p->irq_type == VFIO_PCI_INTX_IRQ_INDEX && !hdr.count && dtype == VFIO_IRQ_SET_DATA_NONE) {
            p->irq_type = -1;
            return 0;
        }
        if (!(p->irq_type == VFIO_PCI_INTX_IRQ_INDEX || p->irq_type < 0) || hdr.start || hdr.count != 1) {
            return -EINVAL;
        }
        if (dtype == VFIO_IRQ_SET_DATA_EVENTFD) {
            int32_t fd;

            st_uread(&fd, arg + minsz, 4);
            p->irq_type = fd >= 0 ? VFIO_PCI_INTX_IRQ_INDEX : -1;
        }
        return 0;
    case VFIO_PCI_MSI_IRQ_INDEX:
    case VFIO_PCI_MSIX_IRQ_INDEX:
        if (action != VFIO_IRQ_SET_ACTION_TRIGGER) {
            return -ENOTTY;
        }
        if (p->irq_type == (int)hdr.index && !hdr.count && dtype == VFIO_IRQ_SET_DATA_NONE) {
            p->irq_type = -1;
            return 0;
        }
        if (!(p->irq_type == (int)hdr.index || p->irq_type < 0)) {
            return -EINVAL;
        }
        if (dtype == VFIO_IRQ_SET_DATA_EVENTFD) {
            p->irq_type = hdr.index;
        }
        return 0;
    default:
        if (action != VFIO_IRQ_SET_ACTION_TRIGGER) {
            return -ENOTTY;
        }
        return 0;
    }
}

static int hot_reset_info(struct st_file *f, uint64_t arg)
{
    struct vfio_pci_hot_reset_info hdr;
    const size_t minsz = offsetof(struct vfio_pci_hot_reset_info, count) + sizeof(hdr.count);
    unsigned dom, bus, dev, fn;
    uint32_t count = 0;
    struct st_obj *me = f->devobj;

    if (st_uread(&hdr, arg, minsz)) {
        return -EFAULT;
    }
    if (hdr.argsz < minsz) {
        return -EINVAL;
    }
    sscanf(f->pci->bdf, "%x:%x:%x.%x", &dom, &bus, &dev, &fn);
    hdr.flags = VFIO_PCI_HOT_RESET_FLAG_DEV_ID | VFIO_PCI_HOT_RESET_FLAG_DEV_ID_OWNED;
    for (int i = 0; i < st_host.npci; i++) {
        struct st_pci *p = &st_host.pci[i];
        unsigned d2, b2, v2, f2;

        sscanf(p->bdf, "%x:%x:%x.%x", &d2, &b2, &v2, &f2);
        if (d2 != dom || b2 != bus) {
            continue;
        }
        if (hdr.argsz >= minsz + (count + 1) * sizeof(struct vfio_pci_dependent_device)) {
            struct vfio_pci_dependent_device d = { .segment = d2, .bus = b2, .devfn = (v2 << 3) | f2 };

            if (p->devobj && p->devobj->ctx == me->ctx) {
                d.devid = p->devobj->id;
            } else {
                d.devid = (uint32_t)VFIO_PCI_DEVID_NOT_OWNED;
                hdr.flags &= ~VFIO_PCI_HOT_RESET_FLAG_DEV_ID_OWNED;
            }
            if (st_uwrite(arg + minsz + count * sizeof(d), &d, sizeof(d))) {
                return -EFAULT;
            }
        } else if (!(p->devobj && p->devobj->ctx == me->ctx)) {
            hdr.flags &= ~VFIO_PCI_HOT_RESET_FLAG_DEV_ID_OWNED;
        }
        count++;
    }
    hdr.count = count;
    if (st_uwrite(arg, &hdr, minsz)) {
        return -EFAULT;
    }
    return hdr.argsz < minsz + count * sizeof(struct vfio_pci_dependent_device) ? -ENOSPC : 0;
}

static int device_feature(struct st_file *f, uint64_t arg)
{
    struct vfio_device_feature ft;
    const size_t minsz = offsetof(struct vfio_device_feature, flags) + sizeof(ft.flags);

    if (st_uread(&ft, arg, minsz)) {
        return -EFAULT;
    }
    if (ft.argsz < minsz) {
        return -EINVAL;
    }
    if (ft.flags & ~(VFIO_DEVICE_FEATURE_MASK | VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_GET |
                     VFIO_DEVICE_FEATURE_PROBE)) {
        return -EINVAL;
    }
    if (!(ft.flags & VFIO_DEVICE_FEATURE_PROBE) && (ft.flags & VFIO_DEVICE_FEATURE_SET) &&
        (ft.flags & VFIO_DEVICE_FEATURE_GET)) {
        return -EINVAL;
    }
    switch (ft.flags & VFIO_DEVICE_FEATURE_MASK) {
    case VFIO_DEVICE_FEATURE_MIGRATION:
    case VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE:
    case VFIO_DEVICE_FEATURE_DMA_LOGGING_START:
    case VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP:
    case VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT:
    case VFIO_DEVICE_FEATURE_MIG_DATA_SIZE:
    case 12:    /* VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2 (7.1 uAPI) */
        /* vfio_ioctl_device_feature(): the core's features (migration.c) */
        return st_mig_feature(f->pci, ft.flags, ft.flags & VFIO_DEVICE_FEATURE_MASK,
                              arg + minsz, ft.argsz - minsz);
    default:
        /* no low power, no VF token, no bus master feature */
        return -ENOTTY;
    }
}

static int ioeventfd(struct st_file *f, uint64_t arg)
{
    struct vfio_device_ioeventfd io;
    const size_t minsz = offsetof(struct vfio_device_ioeventfd, fd) + sizeof(io.fd);
    unsigned count, idx;

    if (st_uread(&io, arg, minsz)) {
        return -EFAULT;
    }
    if (io.argsz < minsz || (io.flags & ~VFIO_DEVICE_IOEVENTFD_SIZE_MASK)) {
        return -EINVAL;
    }
    count = io.flags & VFIO_DEVICE_IOEVENTFD_SIZE_MASK;
    if (count != 1 && count != 2 && count != 4 && count != 8) {
        return -EINVAL;
    }
    idx = io.offset >> REGION_SHIFT;
    if (idx > VFIO_PCI_BAR5_REGION_INDEX || !f->pci->bar[idx] ||
        (io.offset & REGION_MASK) + count * 1 > f->pci->bar[idx]) {
        return -EINVAL;
    }
    return 0;
}

int st_vfio_ioctl(struct st_file *f, unsigned long cmd, uint64_t arg)
{
    const char *name = st_ioctl_name(cmd);
    int r;

    st_count_ioctl(name ? name : "UNKNOWN");
    if (!name || (strncmp(name, "VFIO_DEVICE_", 12))) {
        return -ENOTTY;
    }
    r = st_fault_check(name);
    if (r) {
        return -r;
    }
    if (cmd == VFIO_DEVICE_BIND_IOMMUFD) {
        return bind(f, arg);
    }
    if (!f->devobj) {
        return -EINVAL;          /* access is granted by BIND_IOMMUFD only */
    }
    switch (cmd) {
    case VFIO_DEVICE_ATTACH_IOMMUFD_PT: return attach_pt(f, arg);
    case VFIO_DEVICE_DETACH_IOMMUFD_PT: return detach_pt(f, arg);
    case VFIO_DEVICE_GET_INFO: return get_info(f, arg);
    case VFIO_DEVICE_GET_REGION_INFO: return get_region_info(f, arg);
    case VFIO_DEVICE_GET_IRQ_INFO: return get_irq_info(f, arg);
    case VFIO_DEVICE_SET_IRQS: return set_irqs(f, arg);
    case VFIO_DEVICE_RESET:
        f->pci->resets++;
        pci_reset(f->pci);
        st_mig_reset(f->pci);
        return 0;
    case VFIO_DEVICE_GET_PCI_HOT_RESET_INFO: return hot_reset_info(f, arg);
    case VFIO_DEVICE_PCI_HOT_RESET:
        f->pci->resets++;
        pci_reset(f->pci);
        st_mig_reset(f->pci);
        return 0;
    case VFIO_DEVICE_FEATURE: return device_feature(f, arg);
    case VFIO_DEVICE_IOEVENTFD: return ioeventfd(f, arg);
    default:
        return -ENOTTY;
    }
}

/* ------------------------------------------------------------ region I/O */

ssize_t st_vfio_pread(struct st_file *f, void *buf, size_t n, uint64_t off)
{
    unsigned idx = off >> REGION_SHIFT;
    uint64_t pos = off & REGION_MASK;
    struct st_pci *p = f->pci;

    if (!f->devobj) {
        return -EINVAL;
    }
    if (idx == VFIO_PCI_CONFIG_REGION_INDEX) {
        if (pos >= CFG_SIZE) {
            return -EINVAL;
        }
        if (n > CFG_SIZE - pos) {
            n = CFG_SIZE - pos;
        }
        return st_uwrite((uintptr_t)buf, p->cfg + pos, n) ? -EFAULT : (ssize_t)n;
    }
    if (idx <= VFIO_PCI_BAR5_REGION_INDEX && p->bar[idx] && p->bar_fd[idx] >= 0) {
        ssize_t r;

        if (pos >= p->bar[idx]) {
            return -EINVAL;
        }
        if (n > p->bar[idx] - pos) {
            n = p->bar[idx] - pos;
        }
        r = syscall(SYS_pread64, p->bar_fd[idx], buf, n, pos);
        return r < 0 ? -errno : r;
    }
    return -EINVAL;
}

ssize_t st_vfio_pwrite(struct st_file *f, const void *buf, size_t n, uint64_t off)
{
    unsigned idx = off >> REGION_SHIFT;
    uint64_t pos = off & REGION_MASK;
    struct st_pci *p = f->pci;

    if (!f->devobj) {
        return -EINVAL;
    }
    if (idx == VFIO_PCI_CONFIG_REGION_INDEX) {
        uint8_t tmp[CFG_SIZE];

        if (pos >= CFG_SIZE) {
            return -EINVAL;
        }
        if (n > CFG_SIZE - pos) {
            n = CFG_SIZE - pos;
        }
        if (st_uread(tmp, (uintptr_t)buf, n)) {
            return -EFAULT;
        }
        for (size_t i = 0; i < n; i++) {
            uint8_t m = p->cfg_wmask[pos + i];

            p->cfg[pos + i] = (p->cfg[pos + i] & ~m) | (tmp[i] & m);
        }
        (void)get32;
        return n;
    }
    if (idx <= VFIO_PCI_BAR5_REGION_INDEX && p->bar[idx] && p->bar_fd[idx] >= 0) {
        ssize_t r;

        if (pos >= p->bar[idx]) {
            return -EINVAL;
        }
        if (n > p->bar[idx] - pos) {
            n = p->bar[idx] - pos;
        }
        r = syscall(SYS_pwrite64, p->bar_fd[idx], buf, n, pos);
        return r < 0 ? -errno : r;
    }
    return -EINVAL;
}

void *st_vfio_mmap(struct st_file *f, void *addr, size_t len, int prot, int flags, uint64_t off)
{
    unsigned idx = off >> REGION_SHIFT;
    uint64_t pos = off & REGION_MASK;
    struct st_pci *p = f->pci;
    uint64_t plen;

    if (!f->devobj || (flags & MAP_TYPE) == MAP_PRIVATE || idx > VFIO_PCI_BAR5_REGION_INDEX ||
        !p->bar[idx] || p->bar_fd[idx] < 0) {
        errno = EINVAL;
        return MAP_FAILED;
    }
    plen = (p->bar[idx] + st_page() - 1) & ~(st_page() - 1);
    if (pos + len > plen || pos + len < pos) {
        errno = EINVAL;
        return MAP_FAILED;
    }
    return st_real_mmap(addr, len, prot, flags, p->bar_fd[idx], pos);
}
