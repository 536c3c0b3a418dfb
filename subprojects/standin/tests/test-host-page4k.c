/*
 * A host with 4K pages (configs/page4k.conf: IDR1.CMDQS 8, 4 LVCMDQs and 16
 * SIDs a VINTF): a HW queue must sit inside one 4K host page to be physically
 * contiguous; the first mmap offset is one (4K) host page.
 */
#include "thelp.h"

#include <unistd.h>

#define TYPE_T IOMMU_HW_QUEUE_TYPE_TEGRA241_CMDQV

static void test_page4k_msi_window_from_config(void)
{
    TEnv e;
    struct iommu_iova_range r[4];
    uint32_t n = 4;

    if (t_env_up(&e, 1, 0, 0)) {
        T_OK(t_ioas_iova_ranges(e.fd, e.ioas, r, &n));
        g_assert_cmpuint(n, ==, 2);
        g_assert_cmphex(r[0].last, ==, 0xfffffff);
        g_assert_cmphex(r[1].start, ==, 0x10010000);
    }
    t_env_down(&e);
}

static void test_page4k_hw_info(void)
{
    TEnv e;
    struct iommu_hw_info_tegra241_cmdqv info;
    uint32_t len = sizeof(info), type = 0;

    if (t_env_up(&e, 1, 0, 0)) {
        T_OK(t_hw_info(e.fd, e.devid[0], IOMMU_HW_INFO_FLAG_INPUT_TYPE,
                       IOMMU_HW_INFO_TYPE_TEGRA241_CMDQV, &info, &len, &type));
        g_assert_cmpuint(info.log2vcmdqs, ==, 2);
        g_assert_cmpuint(info.log2vsids, ==, 4);
    }
    t_env_down(&e);
}

static void test_page4k_first_mmap_offset_is_one_host_page(void)
{
    TEnv e;

    if (t_env_up(&e, 1, 0, IOMMU_VIOMMU_TYPE_TEGRA241_CMDQV)) {
        g_assert_cmphex(e.moff, ==, 0x1000);
        g_assert_cmphex(e.mlen, ==, 0x10000);
    }
    t_env_down(&e);
}

static void test_page4k_queue_across_host_pages_efault(void)
{
    TEnv e;
    uint32_t q = 0;

    if (t_env_up(&e, 1, 1 << 20, IOMMU_VIOMMU_TYPE_TEGRA241_CMDQV)) {
        /* 8K spans two 4K host pages: not contiguous (before the length check) */
        T_ERR(t_hwq_alloc(e.fd, e.viommu, TYPE_T, 0, T_GUEST_IOVA, 8192, NULL), EFAULT);
        T_ERR(t_hwq_alloc(e.fd, e.viommu, TYPE_T, 0, T_GUEST_IOVA + 0x800, 4096, NULL), EFAULT);
        /* one host page is fine */
        T_OK(t_hwq_alloc(e.fd, e.viommu, TYPE_T, 0, T_GUEST_IOVA + 0x3000, 4096, &q));
        T_OK(t_destroy(e.fd, q));
    }
    t_env_down(&e);
}

static void test_page4k_four_queues_ascending_descending(void)
{
    TEnv e;
    uint32_t q[4] = { 0 };

    if (t_env_up(&e, 1, 1 << 20, IOMMU_VIOMMU_TYPE_TEGRA241_CMDQV)) {
        T_ERR(t_hwq_alloc(e.fd, e.viommu, TYPE_T, 4, T_GUEST_IOVA, 256, NULL), EINVAL);
        for (int i = 0; i < 4; i++) {
            T_ERR(t_hwq_alloc(e.fd, e.viommu, TYPE_T, i + 1, T_GUEST_IOVA + i * 256, 256, NULL),
                  i == 3 ? EINVAL : EIO);
            T_OK(t_hwq_alloc(e.fd, e.viommu, TYPE_T, i, T_GUEST_IOVA + i * 256, 256, &q[i]));
        }
        for (int i = 0; i < 3; i++) {
            T_ERR(t_destroy(e.fd, q[i]), EBUSY);
        }
        for (int i = 3; i >= 0; i--) {
            T_OK(t_destroy(e.fd, q[i]));
        }
        T_OK(t_destroy(e.fd, e.viommu));
    }
    t_env_down(&e);
}

int main(int argc, char **argv)
{
    t_init(&argc, &argv);
    g_test_add_func("/page4k/msi_window_from_config", test_page4k_msi_window_from_config);
    g_test_add_func("/page4k/hw_info", test_page4k_hw_info);
    g_test_add_func("/page4k/first_mmap_offset_is_one_host_page",
                    test_page4k_first_mmap_offset_is_one_host_page);
    g_test_add_func("/page4k/queue_across_host_pages_efault",
                    test_page4k_queue_across_host_pages_efault);
    g_test_add_func("/page4k/four_queues_ascending_descending",
                    test_page4k_four_queues_ascending_descending);
    return g_test_run();
}
