/*
 * The rules that differ between the kernel versions the stand-in models
 * ([host] kernel, STANDIN_KERNEL: 6.17, 6.18, 6.19, 7.0).  meson runs this
 * program once per version; every scenario asks the dump which one it is
 * talking to and asserts that version's errno.  Each names the kernel
 * function behind the rule (read in the 7.1 tree; where the tree cannot say
 * which release introduced a rule, the stand-in gives it to 7.0 only).
 * Host: configs/cmdqv.conf (64K pages; vfio0 SID 0x100, vfio1 SID 0x200).
 */
#include "thelp.h"

#include <endian.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define STE0_V          1ull
#define STE0_CFG_ABORT  (0ull << 1)
#define STE0_CFG_BYPASS (4ull << 1)
#define STE0_CFG_S1     (5ull << 1)
#define STE0_S1CTXPTR   0x0000000080000000ull
#define BDF0 "0000:01:00.0"
#define REC 40   /* header + 32-byte ARM SMMUv3 event */

/* The model this process runs against, from the dump; and what the env asked for. */
static void test_kernel_dump_names_the_model(void)
{
    const char *env = g_getenv("STANDIN_KERNEL");
    TJ *d = t_dump();
    const char *k = tj_get_str(d, "kernel");

    g_assert_nonnull(k);
    g_assert_cmpstr(k, ==, env && *env ? env : "7.0");
    g_test_message("kernel model %s", k);
    tj_free(d);
}

/*
 * arm_smmu_attach_prepare_vmaster(): attaching a nested HWPT looks up the
 * device's vSID on the vIOMMU (iommufd_viommu_get_vdev_id: ENOENT without a
 * vDEVICE).  6.17 and 6.18 fail every vSTE without one; from 6.19 (commit
 * 9f0b286fe401 "Allow attaching nested domain for GBPA cases") abort and
 * bypass attach anyway, V=0 included (arm_smmu_validate_vste zeroes a
 * V=0 vSTE, Cfg 0 = abort); S1 still needs the vDEVICE on every version.
 */
static void test_kernel_attach_nested_without_vdevice(void)
{
    TEnv e;
    uint32_t s1 = 0, bypass = 0, abort_ = 0, v0 = 0, out = 0;
    int gbpa = t_kernel() >= 619 ? 0 : ENOENT;
    TJ *d;

    if (t_env_up(&e, 2, 0, IOMMU_VIOMMU_TYPE_ARM_SMMUV3)) {
        T_OK(t_hwpt_nested(e.fd, e.devid[0], e.viommu, STE0_V | STE0_CFG_S1 | STE0_S1CTXPTR, 0,
                           &s1));
        T_OK(t_hwpt_nested(e.fd, e.devid[0], e.viommu, STE0_V | STE0_CFG_BYPASS, 0, &bypass));
        T_OK(t_hwpt_nested(e.fd, e.devid[0], e.viommu, STE0_V | STE0_CFG_ABORT, 0, &abort_));
        T_OK(t_hwpt_nested(e.fd, e.devid[0], e.viommu, STE0_CFG_BYPASS, 0, &v0));
        T_ERR(t_vfio_attach(e.dev[0], s1, &out), ENOENT);
        T_ERR(t_vfio_attach(e.dev[0], bypass, &out), gbpa);
        T_ERR(t_vfio_attach(e.dev[0], abort_, &out), gbpa);
        T_ERR(t_vfio_attach(e.dev[0], v0, &out), gbpa);
        /* a failed attach leaves the device where it was */
        d = t_dump();
        g_assert_cmpint(tj_get_int(t_dump_obj(d, e.devid[0]), "attached", -1), ==,
                        gbpa ? e.s2 : v0);
        tj_free(d);
        /* a vDEVICE of another device does not count */
        T_OK(t_vdevice_alloc(e.fd, e.viommu, e.devid[1], 0x20, NULL));
        T_ERR(t_vfio_attach(e.dev[0], bypass, &out), gbpa);
        /* with its own vDEVICE every vSTE attaches, on every version */
        T_OK(t_vdevice_alloc(e.fd, e.viommu, e.devid[0], 0x10, NULL));
        T_OK(t_vfio_attach(e.dev[0], abort_, &out));
        T_OK(t_vfio_attach(e.dev[0], bypass, &out));
        T_OK(t_vfio_attach(e.dev[0], v0, &out));
        T_OK(t_vfio_attach(e.dev[0], s1, &out));
        g_assert_cmpuint(out, ==, s1);
    }
    t_env_down(&e);
}

/*
 * arm_vsmmu_cache_invalidate -> iommu_copy_struct_from_full_user_array():
 * an empty array is EINVAL on every version (the ARM driver has no
 * zero-length shortcut; only the selftest's mock driver does).
 */
static void test_kernel_invalidate_entry_num_0_einval(void)
{
    TEnv e;
    uint64_t cmd[1][2];
    uint32_t n = 0;

    if (t_env_up(&e, 1, 0, IOMMU_VIOMMU_TYPE_ARM_SMMUV3)) {
        cmd_tlbi_nh_asid(cmd[0], 0, 1);
        T_ERR(t_invalidate(e.fd, e.viommu, (const uint64_t (*)[2])cmd, &n), EINVAL);
        g_assert_cmpuint(n, ==, 0);
        T_ERR(t_invalidate(e.fd, e.viommu, NULL, &n), EINVAL);
    }
    t_env_down(&e);
}

/*
 * iommufd_hwpt_invalidate() in the 7.1 tree bounds entry_len by PAGE_SIZE
 * (EINVAL); the stand-in gives the bound to 7.0.  Before, an entry longer
 * than the kernel's with a zero tail is simply copied.
 */
static void test_kernel_invalidate_entry_len_above_page_size(void)
{
    TEnv e;
    size_t len = 65536 + 16;                 /* configs/cmdqv.conf: 64K pages */
    uint8_t *ent = g_malloc0(len);
    struct iommu_hwpt_invalidate inv = { .size = sizeof(inv) };

    if (t_env_up(&e, 1, 0, IOMMU_VIOMMU_TYPE_ARM_SMMUV3)) {
        uint64_t c[2];

        cmd_tlbi_nh_asid(c, 0, 1);
        memcpy(ent, c, sizeof(c));
        inv.hwpt_id = e.viommu;
        inv.data_uptr = (uintptr_t)ent;
        inv.data_type = IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3;
        inv.entry_len = len;
        inv.entry_num = 1;
        if (t_kernel() >= 700) {
            T_ERR(t_ioctl(e.fd, IOMMU_HWPT_INVALIDATE, &inv), EINVAL);
            g_assert_cmpuint(inv.entry_num, ==, 0);
        } else {
            T_OK(t_ioctl(e.fd, IOMMU_HWPT_INVALIDATE, &inv));
            g_assert_cmpuint(inv.entry_num, ==, 1);
        }
        /* one page exactly is fine everywhere */
        inv.entry_len = 65536;
        inv.entry_num = 1;
        T_OK(t_ioctl(e.fd, IOMMU_HWPT_INVALIDATE, &inv));
    }
    g_free(ent);
    t_env_down(&e);
}

/*
 * iommufd_hwpt_invalidate() in the 7.1 tree: entry_num above
 * IOMMU_HWPT_INVALIDATE_ENTRY_NUM_MAX (1 << 19) is EINVAL before anything
 * (7.0 in the stand-in).  Before, the array is copied and run: here entry 0
 * is opcode 0, refused with EIO (arm_vsmmu_convert_user_cmd).
 */
static void test_kernel_invalidate_entry_num_above_max(void)
{
    TEnv e;
    uint32_t n = (1u << 19) + 1;
    uint64_t (*cmds)[2] = g_malloc0_n(n, 16);

    if (t_env_up(&e, 1, 0, IOMMU_VIOMMU_TYPE_ARM_SMMUV3)) {
        T_ERR(t_invalidate(e.fd, e.viommu, (const uint64_t (*)[2])cmds, &n),
              t_kernel() >= 700 ? EINVAL : EIO);
        g_assert_cmpuint(n, ==, 0);
        /* the maximum itself passes the bound (and stops at entry 0 again) */
        n = 1u << 19;
        T_ERR(t_invalidate(e.fd, e.viommu, (const uint64_t (*)[2])cmds, &n), EIO);
    }
    g_free(cmds);
    t_env_down(&e);
}

/*
 * __iommu_copy_struct_from_user() in the 7.1 tree: driver data longer than
 * the kernel's struct is EINVAL (7.0 in the stand-in); before, a zero tail
 * is taken and a non-zero one is E2BIG (copy_struct_from_user).  Nested
 * vSTE (arm_vsmmu_alloc_domain_nested) and TEGRA241 vIOMMU data
 * (tegra241_cmdqv_init_vintf_user) alike.
 */
static void test_kernel_driver_data_longer_than_struct(void)
{
    TEnv e;
    uint64_t data[3] = { STE0_V | STE0_CFG_BYPASS, 0, 0 };
    uint32_t id = 0;
    bool v70 = t_kernel() >= 700;
    struct iommu_viommu_alloc a = { .size = sizeof(a) };

    if (t_env_up(&e, 1, 0, 0)) {
        T_OK(t_viommu_alloc(e.fd, IOMMU_VIOMMU_TYPE_ARM_SMMUV3, e.devid[0], e.s2, &e.viommu,
                            NULL, NULL));
        T_ERR(t_hwpt_alloc(e.fd, e.devid[0], e.viommu, 0, IOMMU_HWPT_DATA_ARM_SMMUV3, data,
                           sizeof(data), &id), v70 ? EINVAL : 0);
        data[2] = 1;
        T_ERR(t_hwpt_alloc(e.fd, e.devid[0], e.viommu, 0, IOMMU_HWPT_DATA_ARM_SMMUV3, data,
                           sizeof(data), NULL), v70 ? EINVAL : E2BIG);
        T_OK(t_hwpt_alloc(e.fd, e.devid[0], e.viommu, 0, IOMMU_HWPT_DATA_ARM_SMMUV3, data, 16,
                          NULL));
        /* a TEGRA241 vIOMMU's data: 16 bytes in, offset and length out */
        memset(data, 0, sizeof(data));
        a.dev_id = e.devid[0];
        a.hwpt_id = e.s2;
        a.type = IOMMU_VIOMMU_TYPE_TEGRA241_CMDQV;
        a.data_uptr = (uintptr_t)data;
        a.data_len = 24;
        T_ERR(t_ioctl(e.fd, IOMMU_VIOMMU_ALLOC, &a), v70 ? EINVAL : 0);
    }
    t_env_down(&e);
}

typedef struct {
    TEnv e;
    uint32_t q;
    int qfd;
} Evq;

static bool evq_up(Evq *s)
{
    s->qfd = -1;
    return t_env_up(&s->e, 1, 0, IOMMU_VIOMMU_TYPE_ARM_SMMUV3) &&
           T_OK(t_vdevice_alloc(s->e.fd, s->e.viommu, s->e.devid[0], 0x42, NULL)) &&
           T_OK(t_veventq_alloc(s->e.fd, s->e.viommu, IOMMU_VEVENTQ_TYPE_ARM_SMMUV3, 8, &s->q,
                                &s->qfd));
}

static void evq_down(Evq *s)
{
    if (s->qfd >= 0) {
        close(s->qfd);
    }
    t_env_down(&s->e);
}

static bool inject(uint8_t id)
{
    char hex[65];

    memset(hex, '0', 64);
    hex[64] = 0;
    snprintf(hex, 3, "%02x", id);
    hex[2] = '0';
    return t_ctl_ok("event %s %s", BDF0, hex);
}

/*
 * iommufd_veventq_fops_read() on 7.0: "Minimum read count is a vEVENT
 * header": a count below 8 is EINVAL, even with nothing queued.  6.17 to
 * 6.19 return 0.
 */
static void test_kernel_veventq_read_below_header(void)
{
    Evq s;
    uint8_t buf[REC];
    ssize_t r;

    if (evq_up(&s)) {
        r = read(s.qfd, buf, 7);
        if (t_kernel() >= 700) {
            g_assert_cmpint(r, ==, -1);
            g_assert_cmpint(errno, ==, EINVAL);
        } else {
            g_assert_cmpint(r, ==, 0);
        }
        T_REQUIRE(inject(0x10));
        r = read(s.qfd, buf, 7);
        if (t_kernel() >= 700) {
            g_assert_cmpint(r, ==, -1);
            g_assert_cmpint(errno, ==, EINVAL);
        } else {
            g_assert_cmpint(r, ==, 0);
        }
        /* nothing was consumed */
        g_assert_cmpint(read(s.qfd, buf, sizeof(buf)), ==, REC);
    }
    evq_down(&s);
}

/*
 * iommufd_veventq_fops_read() on 7.0: a first record that does not fit is
 * EINVAL ("Read count doesn't fit a single normal vEVENT"); a later one
 * that does not fit only ends the read.  6.17 to 6.19 return 0.
 */
static void test_kernel_veventq_read_first_record_too_big(void)
{
    Evq s;
    uint8_t buf[2 * REC];
    ssize_t r;

    if (evq_up(&s)) {
        T_REQUIRE(inject(0x10) && inject(0x11));
        r = read(s.qfd, buf, REC - 1);
        if (t_kernel() >= 700) {
            g_assert_cmpint(r, ==, -1);
            g_assert_cmpint(errno, ==, EINVAL);
        } else {
            g_assert_cmpint(r, ==, 0);
        }
        g_assert_cmpint(read(s.qfd, buf, REC + REC / 2), ==, REC);
        g_assert_cmpint(read(s.qfd, buf, sizeof(buf)), ==, REC);
        /* empty, with room for a header: 0 on every version */
        g_assert_cmpint(read(s.qfd, buf, sizeof(buf)), ==, 0);
    }
    evq_down(&s);
}

/* iommufd_veventq_alloc() on 7.0: depth above VEVENTQ_MAX_DEPTH (1 << 19) is EINVAL */
static void test_kernel_veventq_depth_above_max(void)
{
    TEnv e;
    int fd = -1;

    if (t_env_up(&e, 1, 0, IOMMU_VIOMMU_TYPE_ARM_SMMUV3)) {
        T_ERR(t_veventq_alloc(e.fd, e.viommu, IOMMU_VEVENTQ_TYPE_ARM_SMMUV3, (1u << 19) + 1,
                              NULL, &fd), t_kernel() >= 700 ? EINVAL : 0);
        if (fd >= 0) {
            close(fd);
            fd = -1;
        }
        T_OK(t_veventq_alloc(e.fd, e.viommu, IOMMU_VEVENTQ_TYPE_TEGRA241_CMDQV, 1u << 19, NULL,
                             &fd));
        if (fd >= 0) {
            close(fd);
        }
    }
    t_env_down(&e);
}

int main(int argc, char **argv)
{
    t_init(&argc, &argv);
    g_test_add_func("/kernel/dump_names_the_model", test_kernel_dump_names_the_model);
    g_test_add_func("/kernel/attach_nested_without_vdevice",
                    test_kernel_attach_nested_without_vdevice);
    g_test_add_func("/kernel/invalidate_entry_num_0_einval",
                    test_kernel_invalidate_entry_num_0_einval);
    g_test_add_func("/kernel/invalidate_entry_len_above_page_size",
                    test_kernel_invalidate_entry_len_above_page_size);
    g_test_add_func("/kernel/invalidate_entry_num_above_max",
                    test_kernel_invalidate_entry_num_above_max);
    g_test_add_func("/kernel/driver_data_longer_than_struct",
                    test_kernel_driver_data_longer_than_struct);
    g_test_add_func("/kernel/veventq_read_below_header", test_kernel_veventq_read_below_header);
    g_test_add_func("/kernel/veventq_read_first_record_too_big",
                    test_kernel_veventq_read_first_record_too_big);
    g_test_add_func("/kernel/veventq_depth_above_max", test_kernel_veventq_depth_above_max);
    return g_test_run();
}
