/*
 * Fault injection (INTERFACE.md "[fault]" and the control socket's "fault"
 * and "fault-clear"), and the ioctl counts of the dump.
 * Host: configs/fault.conf, which arms at start: the 2nd IOMMU_IOAS_ALLOC
 * fails with ENOMEM, every VFIO_DEVICE_RESET fails with EIO.
 * The first scenario must be the first to allocate an IOAS.
 */
#include "thelp.h"

#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

static bool fault_listed(TJ *d, const char *ioctl, const char *err, int64_t call)
{
    TJ *fi = tj_get(d, "faults_injected");

    for (guint i = 0; i < tj_len(fi); i++) {
        TJ *f = tj_at(fi, i);

        if (!g_strcmp0(tj_get_str(f, "ioctl"), ioctl) && !g_strcmp0(tj_get_str(f, "errno"), err) &&
            (call < 0 || tj_get_int(f, "call", -1) == call)) {
            return true;
        }
    }
    return false;
}

static void test_fault_config_nth_2(void)
{
    int fd = t_iommufd();
    uint32_t a = 0, b = 0;
    TJ *d;

    T_REQUIRE(fd >= 0);
    T_OK(t_ioas_alloc(fd, &a));
    T_ERR(t_ioas_alloc(fd, &b), ENOMEM);
    T_OK(t_ioas_alloc(fd, &b));
    /* the failed call made nothing: ids run on */
    g_assert_cmpuint(b, ==, a + 1);
    d = t_dump();
    g_assert_true(fault_listed(d, "IOMMU_IOAS_ALLOC", "ENOMEM", 2));
    tj_free(d);
    close(fd);
}

static void test_fault_config_nth_0_every_call(void)
{
    int fd = t_iommufd(), dev = t_vfio_open(0);

    T_REQUIRE(fd >= 0 && dev >= 0);
    T_OK(t_vfio_bind(dev, fd, NULL));
    T_ERR(t_ioctl(dev, VFIO_DEVICE_RESET, NULL), EIO);
    T_ERR(t_ioctl(dev, VFIO_DEVICE_RESET, NULL), EIO);
    T_ERR(t_ioctl(dev, VFIO_DEVICE_RESET, NULL), EIO);
    T_REQUIRE(t_ctl_ok("fault-clear"));
    T_OK(t_ioctl(dev, VFIO_DEVICE_RESET, NULL));
    close(dev);
    close(fd);
}

static void test_fault_ctl_hw_queue_alloc_leaves_nothing(void)
{
    TEnv e;
    uint32_t q = 0;
    TJ *d;

    if (t_env_up(&e, 1, 1 << 20, IOMMU_VIOMMU_TYPE_TEGRA241_CMDQV)) {
        T_REQUIRE(t_ctl_ok("fault IOMMU_HW_QUEUE_ALLOC 1 ENOMEM"));
        T_ERR(t_hwq_alloc(e.fd, e.viommu, IOMMU_HW_QUEUE_TYPE_TEGRA241_CMDQV, 0, T_GUEST_IOVA,
                          512, &q), ENOMEM);
        d = t_dump();
        g_assert_cmpint(t_dump_count_type(d, "hw_queue"), ==, 0);
        tj_free(d);
        /* nothing pinned, nothing allocated: the same call now works */
        T_OK(t_hwq_alloc(e.fd, e.viommu, IOMMU_HW_QUEUE_TYPE_TEGRA241_CMDQV, 0, T_GUEST_IOVA,
                         512, &q));
        T_OK(t_destroy(e.fd, q));
        T_OK(t_ioas_unmap(e.fd, e.ioas, 0, UINT64_MAX, NULL));
    }
    t_env_down(&e);
}

static void test_fault_ctl_nth_counts_from_now(void)
{
    TEnv e;
    uint8_t buf[64];
    uint32_t len;

    if (t_env_up(&e, 1, 0, 0)) {
        len = sizeof(buf);
        T_OK(t_hw_info(e.fd, e.devid[0], 0, 0, buf, &len, NULL));
        T_REQUIRE(t_ctl_ok("fault IOMMU_GET_HW_INFO 3 EFAULT"));
        for (int i = 1; i <= 4; i++) {
            len = sizeof(buf);
            T_ERR(t_hw_info(e.fd, e.devid[0], 0, 0, buf, &len, NULL), i == 3 ? EFAULT : 0);
        }
    }
    t_env_down(&e);
}

static void test_fault_ctl_every_call_until_clear(void)
{
    int fd = t_iommufd();

    T_REQUIRE(fd >= 0);
    T_REQUIRE(t_ctl_ok("fault IOMMU_IOAS_ALLOC 0 ENOSPC"));
    for (int i = 0; i < 3; i++) {
        T_ERR(t_ioas_alloc(fd, NULL), ENOSPC);
    }
    T_REQUIRE(t_ctl_ok("fault-clear"));
    T_OK(t_ioas_alloc(fd, NULL));
    close(fd);
}

/* "mmap" names the mmap of a vIOMMU region: counted, and failed once */
static void test_fault_ctl_mmap(void)
{
    TEnv e;
    void *p;
    TJ *d;
    int64_t n0;

    if (t_env_up(&e, 1, 0, IOMMU_VIOMMU_TYPE_TEGRA241_CMDQV)) {
        d = t_dump();
        n0 = tj_get_int(tj_get(d, "ioctls"), "mmap", 0);
        tj_free(d);
        T_REQUIRE(t_ctl_ok("fault mmap 1 ENOMEM"));
        p = mmap(NULL, e.mlen, PROT_READ | PROT_WRITE, MAP_SHARED, e.fd, (off_t)e.moff);
        g_assert_true(p == MAP_FAILED);
        g_assert_cmpint(errno, ==, ENOMEM);
        d = t_dump();
        g_assert_cmpint(tj_get_int(tj_get(d, "ioctls"), "mmap", 0), ==, n0 + 1);
        g_assert_cmpint(tj_len(tj_get(d, "mmaps")), ==, 0);
        tj_free(d);
        /* the next one works */
        T_REQUIRE(t_env_map_page0(&e));
    }
    t_env_down(&e);
}

static void test_fault_ioctl_counts(void)
{
    TEnv e;
    uint8_t buf[64];
    uint32_t len;
    TJ *d;
    int64_t n0;

    if (t_env_up(&e, 1, 0, 0)) {
        d = t_dump();
        n0 = tj_get_int(tj_get(d, "ioctls"), "IOMMU_GET_HW_INFO", 0);
        tj_free(d);
        for (int i = 0; i < 3; i++) {
            len = sizeof(buf);
            T_OK(t_hw_info(e.fd, e.devid[0], 0, 0, buf, &len, NULL));
        }
        d = t_dump();
        g_assert_cmpint(tj_get_int(tj_get(d, "ioctls"), "IOMMU_GET_HW_INFO", 0), ==, n0 + 3);
        g_assert_cmpint(tj_get_int(tj_get(d, "ioctls"), "VFIO_DEVICE_BIND_IOMMUFD", 0), >=, 1);
        tj_free(d);
    }
    t_env_down(&e);
}

int main(int argc, char **argv)
{
    t_init(&argc, &argv);
    g_test_add_func("/fault/config_nth_2", test_fault_config_nth_2);
    g_test_add_func("/fault/ctl_mmap", test_fault_ctl_mmap);
    g_test_add_func("/fault/config_nth_0_every_call", test_fault_config_nth_0_every_call);
    g_test_add_func("/fault/ctl_hw_queue_alloc_leaves_nothing",
                    test_fault_ctl_hw_queue_alloc_leaves_nothing);
    g_test_add_func("/fault/ctl_nth_counts_from_now", test_fault_ctl_nth_counts_from_now);
    g_test_add_func("/fault/ctl_every_call_until_clear", test_fault_ctl_every_call_until_clear);
    g_test_add_func("/fault/ioctl_counts", test_fault_ioctl_counts);
    return g_test_run();
}
