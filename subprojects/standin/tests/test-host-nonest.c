/*
 * A host SMMU without nesting (configs/nonest.conf): no nest parent, no
 * vIOMMU; plain paging HWPTs and attach still work.
 */
#include "thelp.h"

#include <unistd.h>

typedef struct {
    int fd, dev;
    uint32_t devid, ioas;
} Plain;

static bool plain_up(Plain *p)
{
    p->fd = t_iommufd();
    p->dev = t_vfio_open(0);
    if (p->fd < 0 || p->dev < 0) {
        g_test_fail();
        return false;
    }
    return T_OK(t_vfio_bind(p->dev, p->fd, &p->devid)) && T_OK(t_ioas_alloc(p->fd, &p->ioas));
}

static void plain_down(Plain *p)
{
    if (p->dev >= 0) {
        close(p->dev);
    }
    if (p->fd >= 0) {
        close(p->fd);
    }
}

static void test_nonest_nest_parent_eopnotsupp(void)
{
    Plain p;

    if (plain_up(&p)) {
        T_ERR(t_hwpt_parent(p.fd, p.devid, p.ioas, NULL), EOPNOTSUPP);
    }
    plain_down(&p);
}

static void test_nonest_viommu_eopnotsupp(void)
{
    Plain p;
    uint32_t hwpt = 0;

    if (plain_up(&p)) {
        T_OK(t_hwpt_alloc(p.fd, p.devid, p.ioas, 0, 0, NULL, 0, &hwpt));
        /* the host's lack of nesting is reported before the HWPT is looked at */
        T_ERR(t_viommu_alloc(p.fd, IOMMU_VIOMMU_TYPE_ARM_SMMUV3, p.devid, hwpt, NULL, NULL, NULL),
              EOPNOTSUPP);
        T_ERR(t_viommu_alloc(p.fd, IOMMU_VIOMMU_TYPE_TEGRA241_CMDQV, p.devid, hwpt, NULL, NULL,
                             NULL), EOPNOTSUPP);
    }
    plain_down(&p);
}

static void test_nonest_plain_paging_and_attach_work(void)
{
    Plain p;
    uint32_t hwpt = 0, out = 0;
    uint8_t info[64];
    uint32_t len = sizeof(info), type = 0;

    if (plain_up(&p)) {
        T_OK(t_hwpt_alloc(p.fd, p.devid, p.ioas, 0, 0, NULL, 0, &hwpt));
        T_OK(t_vfio_attach(p.dev, hwpt, &out));
        g_assert_cmpuint(out, ==, hwpt);
        T_OK(t_vfio_attach(p.dev, p.ioas, &out));
        T_OK(t_vfio_detach(p.dev));
        T_OK(t_hw_info(p.fd, p.devid, 0, 0, info, &len, &type));
        g_assert_cmpuint(type, ==, IOMMU_HW_INFO_TYPE_ARM_SMMUV3);
        T_ERR(t_hw_info(p.fd, p.devid, IOMMU_HW_INFO_FLAG_INPUT_TYPE,
                        IOMMU_HW_INFO_TYPE_TEGRA241_CMDQV, info, &len, &type), EOPNOTSUPP);
    }
    plain_down(&p);
}

int main(int argc, char **argv)
{
    t_init(&argc, &argv);
    g_test_add_func("/nonest/nest_parent_eopnotsupp", test_nonest_nest_parent_eopnotsupp);
    g_test_add_func("/nonest/viommu_eopnotsupp", test_nonest_viommu_eopnotsupp);
    g_test_add_func("/nonest/plain_paging_and_attach_work", test_nonest_plain_paging_and_attach_work);
    return g_test_run();
}
