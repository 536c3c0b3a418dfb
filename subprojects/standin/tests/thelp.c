#include "thelp.h"
#include "standin-client.h"

#include <endian.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

const char *t_errname(int err)
{
    static char buf[32];

    switch (err) {
#define E(x) case x: return #x
    E(EPERM); E(ENOENT); E(EIO); E(ENXIO); E(E2BIG); E(EBADF); E(ENOMEM); E(EFAULT);
    E(EBUSY); E(EEXIST); E(EINVAL); E(ENOSPC); E(ESPIPE); E(ENOTTY); E(EOVERFLOW);
    E(EOPNOTSUPP); E(EMSGSIZE); E(EAGAIN); E(ENODEV); E(ERANGE); E(EACCES); E(ENOSYS);
#undef E
    case 0:
        return "success";
    default:
        snprintf(buf, sizeof(buf), "errno %d", err);
        return buf;
    }
}

bool t_check_err(const char *file, int line, const char *expr, int got, int want)
{
    if (got == want) {
        return true;
    }
    g_test_message("%s:%d: %s: expected %s, got %s", file, line, expr, t_errname(want),
                   t_errname(got));
    g_test_fail();
    return false;
}

void t_init(int *argc, char ***argv)
{
    g_test_init(argc, argv, NULL);
    g_test_set_nonfatal_assertions();
}

int t_iommufd(void)
{
    return open("/dev/iommu", O_RDWR | O_CLOEXEC);
}

int t_ioctl(int fd, unsigned long cmd, void *arg)
{
    return ioctl(fd, cmd, arg) < 0 ? errno : 0;
}

int t_ioas_alloc(int fd, uint32_t *id)
{
    struct iommu_ioas_alloc a = { .size = sizeof(a) };
    int r = t_ioctl(fd, IOMMU_IOAS_ALLOC, &a);

    if (!r && id) {
        *id = a.out_ioas_id;
    }
    return r;
}

int t_ioas_map(int fd, uint32_t ioas, void *va, uint64_t len, uint64_t iova, uint32_t flags)
{
    struct iommu_ioas_map m = {
        .size = sizeof(m), .flags = flags, .ioas_id = ioas,
        .user_va = (uintptr_t)va, .length = len, .iova = iova,
    };
    return t_ioctl(fd, IOMMU_IOAS_MAP, &m);
}

int t_ioas_map_auto(int fd, uint32_t ioas, void *va, uint64_t len, uint64_t *iova)
{
    struct iommu_ioas_map m = {
        .size = sizeof(m), .ioas_id = ioas,
        .flags = IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE,
        .user_va = (uintptr_t)va, .length = len,
    };
    int r = t_ioctl(fd, IOMMU_IOAS_MAP, &m);

    if (!r && iova) {
        *iova = m.iova;
    }
    return r;
}

int t_ioas_unmap(int fd, uint32_t ioas, uint64_t iova, uint64_t len, uint64_t *out_len)
{
    struct iommu_ioas_unmap u = { .size = sizeof(u), .ioas_id = ioas, .iova = iova,
                                  .length = len };
    int r = t_ioctl(fd, IOMMU_IOAS_UNMAP, &u);

    if (!r && out_len) {
        *out_len = u.length;
    }
    return r;
}

int t_ioas_iova_ranges(int fd, uint32_t ioas, struct iommu_iova_range *r, uint32_t *num)
{
    struct iommu_ioas_iova_ranges c = { .size = sizeof(c), .ioas_id = ioas,
                                        .num_iovas = *num, .allowed_iovas = (uintptr_t)r };
    int rc = t_ioctl(fd, IOMMU_IOAS_IOVA_RANGES, &c);

    *num = c.num_iovas;
    return rc;
}

int t_destroy(int fd, uint32_t id)
{
    struct iommu_destroy d = { .size = sizeof(d), .id = id };

    return t_ioctl(fd, IOMMU_DESTROY, &d);
}

int t_hwpt_alloc(int fd, uint32_t dev_id, uint32_t pt_id, uint32_t flags, uint32_t data_type,
                 const void *data, uint32_t data_len, uint32_t *out)
{
    struct iommu_hwpt_alloc h = {
        .size = sizeof(h), .flags = flags, .dev_id = dev_id, .pt_id = pt_id,
        .data_type = data_type, .data_len = data_len, .data_uptr = (uintptr_t)data,
    };
    int r = t_ioctl(fd, IOMMU_HWPT_ALLOC, &h);

    if (!r && out) {
        *out = h.out_hwpt_id;
    }
    return r;
}

int t_hwpt_parent(int fd, uint32_t dev_id, uint32_t ioas, uint32_t *out)
{
    return t_hwpt_alloc(fd, dev_id, ioas, IOMMU_HWPT_ALLOC_NEST_PARENT, IOMMU_HWPT_DATA_NONE,
                        NULL, 0, out);
}

int t_hwpt_nested(int fd, uint32_t dev_id, uint32_t viommu, uint64_t ste0, uint64_t ste1,
                  uint32_t *out)
{
    struct iommu_hwpt_arm_smmuv3 d = { .ste = { htole64(ste0), htole64(ste1) } };

    return t_hwpt_alloc(fd, dev_id, viommu, 0, IOMMU_HWPT_DATA_ARM_SMMUV3, &d, sizeof(d), out);
}

int t_viommu_alloc(int fd, uint32_t type, uint32_t dev_id, uint32_t hwpt, uint32_t *out,
                   uint64_t *mmap_off, uint64_t *mmap_len)
{
    struct iommu_viommu_tegra241_cmdqv data = { 0 };
    struct iommu_viommu_alloc a = {
        .size = sizeof(a), .type = type, .dev_id = dev_id, .hwpt_id = hwpt,
    };
    int r;

    if (type == IOMMU_VIOMMU_TYPE_TEGRA241_CMDQV) {
        a.data_len = sizeof(data);
        a.data_uptr = (uintptr_t)&data;
    }
    r = t_ioctl(fd, IOMMU_VIOMMU_ALLOC, &a);
    if (!r) {
        if (out) {
            *out = a.out_viommu_id;
        }
        if (mmap_off) {
            *mmap_off = data.out_vintf_mmap_offset;
        }
        if (mmap_len) {
            *mmap_len = data.out_vintf_mmap_length;
        }
    }
    return r;
}

int t_vdevice_alloc(int fd, uint32_t viommu, uint32_t dev_id, uint64_t virt_id, uint32_t *out)
{
    struct iommu_vdevice_alloc a = { .size = sizeof(a), .viommu_id = viommu,
                                     .dev_id = dev_id, .virt_id = virt_id };
    int r = t_ioctl(fd, IOMMU_VDEVICE_ALLOC, &a);

    if (!r && out) {
        *out = a.out_vdevice_id;
    }
    return r;
}

int t_hwq_alloc(int fd, uint32_t viommu, uint32_t type, uint32_t index, uint64_t iova,
                uint64_t len, uint32_t *out)
{
    struct iommu_hw_queue_alloc a = {
        .size = sizeof(a), .viommu_id = viommu, .type = type, .index = index,
        .nesting_parent_iova = iova, .length = len,
    };
    int r = t_ioctl(fd, IOMMU_HW_QUEUE_ALLOC, &a);

    if (!r && out) {
        *out = a.out_hw_queue_id;
    }
    return r;
}

int t_veventq_alloc(int fd, uint32_t viommu, uint32_t type, uint32_t depth, uint32_t *out,
                    int *out_fd)
{
    struct iommu_veventq_alloc a = { .size = sizeof(a), .viommu_id = viommu, .type = type,
                                     .veventq_depth = depth };
    int r = t_ioctl(fd, IOMMU_VEVENTQ_ALLOC, &a);

    if (!r) {
        if (out) {
            *out = a.out_veventq_id;
        }
        if (out_fd) {
            *out_fd = (int)a.out_veventq_fd;
        }
    }
    return r;
}

int t_invalidate(int fd, uint32_t id, const uint64_t (*cmds)[2], uint32_t *entry_num)
{
    struct iommu_hwpt_invalidate inv = {
        .size = sizeof(inv), .hwpt_id = id, .data_uptr = (uintptr_t)cmds,
        .data_type = IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3, .entry_len = 16,
        .entry_num = *entry_num,
    };
    int r = t_ioctl(fd, IOMMU_HWPT_INVALIDATE, &inv);

    *entry_num = inv.entry_num;
    return r;
}

int t_hw_info(int fd, uint32_t dev_id, uint32_t flags, uint32_t in_type, void *buf,
              uint32_t *len, uint32_t *out_type)
{
    struct iommu_hw_info h = { .size = sizeof(h), .flags = flags, .dev_id = dev_id,
                               .data_len = *len, .data_uptr = (uintptr_t)buf,
                               .in_data_type = in_type };
    int r = t_ioctl(fd, IOMMU_GET_HW_INFO, &h);

    if (!r) {
        *len = h.data_len;
        if (out_type) {
            *out_type = h.out_data_type;
        }
    }
    return r;
}

int t_vfio_open(int n)
{
    char path[64];

    snprintf(path, sizeof(path), "/dev/vfio/devices/vfio%d", n);
    return open(path, O_RDWR | O_CLOEXEC);
}

int t_vfio_bind(int devfd, int iommufd, uint32_t *devid)
{
    struct vfio_device_bind_iommufd b = { .argsz = sizeof(b), .iommufd = iommufd };
    int r = t_ioctl(devfd, VFIO_DEVICE_BIND_IOMMUFD, &b);

    if (!r && devid) {
        *devid = b.out_devid;
    }
    return r;
}

int t_vfio_attach(int devfd, uint32_t pt_id, uint32_t *out_pt)
{
    struct vfio_device_attach_iommufd_pt a = { .argsz = sizeof(a), .pt_id = pt_id };
    int r = t_ioctl(devfd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &a);

    if (!r && out_pt) {
        *out_pt = a.pt_id;
    }
    return r;
}

int t_vfio_detach(int devfd)
{
    struct vfio_device_detach_iommufd_pt d = { .argsz = sizeof(d) };

    return t_ioctl(devfd, VFIO_DEVICE_DETACH_IOMMUFD_PT, &d);
}

void *t_alloc_aligned(size_t len, size_t align)
{
    uint8_t *p = mmap(NULL, len + align, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                      -1, 0);
    uintptr_t a;

    if (p == MAP_FAILED) {
        return NULL;
    }
    a = ((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1);
    if (a > (uintptr_t)p) {
        munmap(p, a - (uintptr_t)p);
    }
    if ((uintptr_t)p + len + align > a + len) {
        munmap((void *)(a + len), (uintptr_t)p + len + align - (a + len));
    }
    memset((void *)a, 0, len);
    return (void *)a;
}

void t_free_aligned(void *p, size_t len)
{
    if (p) {
        munmap(p, len);
    }
}

uint64_t t_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* --------------------------------------------------------- control socket */

static char *vctl(const char *fmt, va_list ap)
{
    char *line = g_strdup_vprintf(fmt, ap);
    char *r = standin_ctl_request_timeout(NULL, line, 10000);
    char *ret;

    if (!r) {
        g_test_message("control request '%s' failed: %s", line, g_strerror(errno));
        g_free(line);
        return NULL;
    }
    g_free(line);
    ret = g_strdup(r);
    free(r);
    return ret;
}

char *t_ctl(const char *fmt, ...)
{
    va_list ap;
    char *r;

    va_start(ap, fmt);
    r = vctl(fmt, ap);
    va_end(ap);
    return r;
}

bool t_ctl_ok(const char *fmt, ...)
{
    va_list ap;
    char *r;
    bool ok;

    va_start(ap, fmt);
    r = vctl(fmt, ap);
    va_end(ap);
    ok = r && standin_ctl_reply_ok(r);
    if (!ok) {
        g_test_message("control reply: %s", r ? r : "(none)");
    }
    g_free(r);
    return ok;
}

TJ *t_dump(void)
{
    char *r = t_ctl("dump");
    char *err = NULL;
    TJ *j;

    if (!r) {
        return NULL;
    }
    j = tj_parse(r, &err);
    if (!j) {
        g_test_message("dump is not JSON (%s): %.200s", err, r);
    }
    g_free(err);
    g_free(r);
    return j;
}

int t_kernel(void)
{
    static int k = -1;

    if (k < 0) {
        TJ *d = t_dump();
        const char *v = d ? tj_get_str(d, "kernel") : NULL;
        unsigned maj, min;

        k = v && sscanf(v, "%u.%u", &maj, &min) == 2 ? (int)(maj * 100 + min) : 0;
        tj_free(d);
    }
    return k;
}

TJ *t_dump_obj(TJ *dump, uint32_t id)
{
    TJ *objs = tj_get(dump, "objects");

    for (guint i = 0; i < tj_len(objs); i++) {
        TJ *o = tj_at(objs, i);

        if (tj_get_int(o, "id", -1) == id) {
            return o;
        }
    }
    return NULL;
}

int t_dump_count_type(TJ *dump, const char *type)
{
    TJ *objs = tj_get(dump, "objects");
    int n = 0;

    for (guint i = 0; i < tj_len(objs); i++) {
        const char *t = tj_get_str(tj_at(objs, i), "type");

        if (t && !strcmp(t, type)) {
            n++;
        }
    }
    return n;
}

bool t_holders_contain(TJ *obj, uint32_t id)
{
    TJ *h = tj_get(obj, "holders");

    for (guint i = 0; i < tj_len(h); i++) {
        if (tj_int(tj_at(h, i), -1) == id) {
            return true;
        }
    }
    return false;
}

/* ------------------------------------------------- a guest-like set-up */

bool t_env_up(TEnv *e, int ndev, size_t memlen, uint32_t vtype)
{
    memset(e, 0, sizeof(*e));
    e->fd = -1;
    for (int i = 0; i < 4; i++) {
        e->dev[i] = -1;
    }
    e->fd = t_iommufd();
    if (e->fd < 0) {
        g_test_message("open /dev/iommu: %s", g_strerror(errno));
        g_test_fail();
        return false;
    }
    for (int i = 0; i < ndev; i++) {
        e->dev[i] = t_vfio_open(i);
        if (e->dev[i] < 0) {
            g_test_message("open vfio%d: %s", i, g_strerror(errno));
            g_test_fail();
            return false;
        }
        e->ndev++;
        if (!T_OK(t_vfio_bind(e->dev[i], e->fd, &e->devid[i]))) {
            return false;
        }
    }
    if (!T_OK(t_ioas_alloc(e->fd, &e->ioas))) {
        return false;
    }
    if (memlen) {
        e->mem = t_alloc_aligned(memlen, 1 << 20);
        e->memlen = memlen;
        if (!e->mem ||
            !T_OK(t_ioas_map(e->fd, e->ioas, e->mem, memlen, T_GUEST_IOVA,
                             IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
                                 IOMMU_IOAS_MAP_WRITEABLE))) {
            return false;
        }
    }
    if (!ndev) {
        return true;
    }
    if (!T_OK(t_hwpt_parent(e->fd, e->devid[0], e->ioas, &e->s2))) {
        return false;
    }
    for (int i = 0; i < ndev; i++) {
        uint32_t out = 0;

        if (!T_OK(t_vfio_attach(e->dev[i], e->s2, &out))) {
            return false;
        }
    }
    if (vtype) {
        if (!T_OK(t_viommu_alloc(e->fd, vtype, e->devid[0], e->s2, &e->viommu, &e->moff,
                                 &e->mlen))) {
            return false;
        }
    }
    return true;
}

bool t_env_map_page0(TEnv *e)
{
    void *p = mmap(NULL, e->mlen, PROT_READ | PROT_WRITE, MAP_SHARED, e->fd, (off_t)e->moff);

    if (p == MAP_FAILED) {
        g_test_message("mmap VINTF page 0 (offset 0x%" G_GINT64_MODIFIER "x, length 0x%"
                       G_GINT64_MODIFIER "x): %s", e->moff, e->mlen, g_strerror(errno));
        g_test_fail();
        return false;
    }
    e->page0 = p;
    return true;
}

void t_env_down(TEnv *e)
{
    if (e->page0) {
        munmap((void *)e->page0, e->mlen);
        e->page0 = NULL;
    }
    for (int i = 0; i < 4; i++) {
        if (e->dev[i] >= 0) {
            close(e->dev[i]);
            e->dev[i] = -1;
        }
    }
    if (e->fd >= 0) {
        close(e->fd);
        e->fd = -1;
    }
    t_free_aligned(e->mem, e->memlen);
    e->mem = NULL;
}

/* ---------------------------------------------------- VCMDQ page access */

uint32_t t_qreg_read(volatile uint8_t *page0, int q, unsigned off)
{
    __sync_synchronize();
    return *(volatile uint32_t *)(page0 + q * 0x80 + off);
}

void t_qreg_write(volatile uint8_t *page0, int q, unsigned off, uint32_t v)
{
    __sync_synchronize();
    *(volatile uint32_t *)(page0 + q * 0x80 + off) = v;
    __sync_synchronize();
}

bool t_qreg_wait(volatile uint8_t *page0, int q, unsigned off, uint32_t mask, uint32_t want,
                 int timeout_ms, uint32_t *last)
{
    uint64_t end = t_now_ns() + (uint64_t)timeout_ms * 1000000ull;
    uint32_t v;

    for (;;) {
        v = t_qreg_read(page0, q, off);
        if ((v & mask) == want) {
            break;
        }
        if (t_now_ns() > end) {
            if (last) {
                *last = v;
            }
            return false;
        }
        sched_yield();
    }
    if (last) {
        *last = v;
    }
    return true;
}

/* ------------------------------------------------------- SMMUv3 commands */

void cmd_raw(uint64_t c[2], uint8_t op)
{
    c[0] = op;
    c[1] = 0;
}

void cmd_tlbi_nh_va(uint64_t c[2], uint16_t vmid, uint16_t asid, uint64_t addr)
{
    c[0] = OP_TLBI_NH_VA | ((uint64_t)vmid << 32) | ((uint64_t)asid << 48);
    c[1] = addr & ~0xfffull;
}

void cmd_tlbi_nh_asid(uint64_t c[2], uint16_t vmid, uint16_t asid)
{
    c[0] = OP_TLBI_NH_ASID | ((uint64_t)vmid << 32) | ((uint64_t)asid << 48);
    c[1] = 0;
}

void cmd_tlbi_nh_all(uint64_t c[2], uint16_t vmid)
{
    c[0] = OP_TLBI_NH_ALL | ((uint64_t)vmid << 32);
    c[1] = 0;
}

void cmd_tlbi_nh_vaa(uint64_t c[2], uint16_t vmid, uint64_t addr)
{
    c[0] = OP_TLBI_NH_VAA | ((uint64_t)vmid << 32);
    c[1] = addr & ~0xfffull;
}

void cmd_tlbi_nsnh_all(uint64_t c[2])
{
    c[0] = OP_TLBI_NSNH_ALL;
    c[1] = 0;
}

void cmd_atc_inv(uint64_t c[2], uint32_t sid, uint64_t addr, unsigned size)
{
    c[0] = OP_ATC_INV | ((uint64_t)sid << 32);
    c[1] = (addr & ~0xfffull) | (size & 0x3f);
}

void cmd_cfgi_cd(uint64_t c[2], uint32_t sid, uint32_t ssid)
{
    c[0] = OP_CFGI_CD | ((uint64_t)(ssid & 0xfffff) << 12) | ((uint64_t)sid << 32);
    c[1] = 1; /* leaf */
}

void cmd_cfgi_cd_all(uint64_t c[2], uint32_t sid)
{
    c[0] = OP_CFGI_CD_ALL | ((uint64_t)sid << 32);
    c[1] = 0;
}

void cmd_sync(uint64_t c[2], unsigned cs)
{
    c[0] = OP_CMD_SYNC | ((uint64_t)(cs & 3) << 12);
    c[1] = 0;
}
