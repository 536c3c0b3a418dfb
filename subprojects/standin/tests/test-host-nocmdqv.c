/*
 * A host SMMU with nesting but without CMDQV (configs/nocmdqv.conf):
 * TEGRA241 info and vIOMMUs are refused, the plain SMMUv3 flow works.
 */
#include "thelp.h"

#include <sys/mman.h>
#include <unistd.h>

static void test_nocmdqv_hw_info_tegra241_eopnotsupp(void)
{
    TEnv e;
    uint8_t buf[64];
    uint32_t len = sizeof(buf), type = 0;

    if (t_env_up(&e, 1, 0, 0)) {
        T_ERR(t_hw_info(e.fd, e.devid[0], IOMMU_HW_INFO_FLAG_INPUT_TYPE,
                        IOMMU_HW_INFO_TYPE_TEGRA241_CMDQV, buf, &len, &type), EOPNOTSUPP);
        len = sizeof(buf);
        T_OK(t_hw_info(e.fd, e.devid[0], 0, 0, buf, &len, &type));
        g_assert_cmpuint(type, ==, IOMMU_HW_INFO_TYPE_ARM_SMMUV3);
        g_assert_cmphex(*(uint32_t *)(buf + 12), ==, 0x02730510);  /* idr[1] */
    }
    t_env_down(&e);
}

static void test_nocmdqv_viommu_tegra241_eopnotsupp(void)
{
    TEnv e;

    if (t_env_up(&e, 1, 0, 0)) {
        T_ERR(t_viommu_alloc(e.fd, IOMMU_VIOMMU_TYPE_TEGRA241_CMDQV, e.devid[0], e.s2, NULL,
                             NULL, NULL), EOPNOTSUPP);
    }
    t_env_down(&e);
}

static void test_nocmdqv_arm_smmuv3_flow_works(void)
{
    TEnv e;
    uint32_t vdev = 0, nested = 0, out = 0, n = 2;
    uint64_t cmd[2][2];
    TJ *d, *a, *rec;

    if (t_env_up(&e, 1, 1 << 20, IOMMU_VIOMMU_TYPE_ARM_SMMUV3)) {
        T_OK(t_vdevice_alloc(e.fd, e.viommu, e.devid[0], 0x8, &vdev));
        T_OK(t_hwpt_nested(e.fd, e.devid[0], e.viommu, 1 | (5ull << 1) | 0x80000000ull, 0,
                           &nested));
        T_OK(t_vfio_attach(e.dev[0], nested, &out));
        cmd_atc_inv(cmd[0], 0x8, 0, 0);
        cmd_tlbi_nh_asid(cmd[1], 0, 3);
        T_OK(t_invalidate(e.fd, e.viommu, (const uint64_t (*)[2])cmd, &n));
        g_assert_cmpuint(n, ==, 2);
        d = t_dump();
        g_assert_cmpstr(tj_get_str(t_dump_obj(d, e.viommu), "viommu_type"), ==, "arm_smmuv3");
        a = tj_get(d, "invalidations");
        rec = tj_at(a, tj_len(a) - 1);
        g_assert_cmphex(tj_get_int(tj_at(tj_get(rec, "cmds"), 0), "sid", -1), ==, 0x100);
        tj_free(d);
        /* no VINTF: no HW queue type, no mmap region */
        T_ERR(t_hwq_alloc(e.fd, e.viommu, IOMMU_HW_QUEUE_TYPE_TEGRA241_CMDQV, 0, T_GUEST_IOVA,
                          512, NULL), EOPNOTSUPP);
        void *p = mmap(NULL, 0x10000, PROT_READ | PROT_WRITE, MAP_SHARED, e.fd, 0x1000);
        T_ERR(p == MAP_FAILED ? errno : 0, ENXIO);
    }
    t_env_down(&e);
}

int main(int argc, char **argv)
{
    t_init(&argc, &argv);
    g_test_add_func("/nocmdqv/hw_info_tegra241_eopnotsupp", test_nocmdqv_hw_info_tegra241_eopnotsupp);
    g_test_add_func("/nocmdqv/viommu_tegra241_eopnotsupp", test_nocmdqv_viommu_tegra241_eopnotsupp);
    g_test_add_func("/nocmdqv/arm_smmuv3_flow_works", test_nocmdqv_arm_smmuv3_flow_works);
    return g_test_run();
}
