/*
 * Two physical SMMUs with CMDQV (configs/twosmmu.conf): vfio0 (smmu0, SID
 * 0x100), vfio1 (smmu1, SID 0x100), vfio2 (smmu0, SID 0x200); 2 VINTFs per
 * CMDQV (one for guests); 64K host pages, HW queues up to 64K.
 * Cross-SMMU use is refused; queues on the two VINTFs never see each other.
 */
#include "thelp.h"

#include <endian.h>
#include <sys/mman.h>
#include <unistd.h>

#define TYPE_T IOMMU_HW_QUEUE_TYPE_TEGRA241_CMDQV
#define VT IOMMU_VIOMMU_TYPE_TEGRA241_CMDQV

typedef struct {
    int fd;
    int dev[3];
    uint32_t devid[3];
    uint32_t ioas, s2[2];      /* s2[i]: nest parent made on SMMU i */
    uint8_t *mem;
} Two;

static bool two_up(Two *t)
{
    memset(t, 0, sizeof(*t));
    t->fd = t_iommufd();
    if (t->fd < 0) {
        g_test_fail();
        return false;
    }
    for (int i = 0; i < 3; i++) {
        t->dev[i] = t_vfio_open(i);
        if (t->dev[i] < 0 || !T_OK(t_vfio_bind(t->dev[i], t->fd, &t->devid[i]))) {
            g_test_fail();
            return false;
        }
    }
    t->mem = t_alloc_aligned(1 << 20, 1 << 20);
    return T_OK(t_ioas_alloc(t->fd, &t->ioas)) &&
           T_OK(t_ioas_map(t->fd, t->ioas, t->mem, 1 << 20, T_GUEST_IOVA,
                           IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
                               IOMMU_IOAS_MAP_WRITEABLE)) &&
           T_OK(t_hwpt_parent(t->fd, t->devid[0], t->ioas, &t->s2[0])) &&
           T_OK(t_hwpt_parent(t->fd, t->devid[1], t->ioas, &t->s2[1]));
}

static void two_down(Two *t)
{
    for (int i = 0; i < 3; i++) {
        if (t->dev[i] > 0) {
            close(t->dev[i]);
        }
    }
    if (t->fd > 0) {
        close(t->fd);
    }
    t_free_aligned(t->mem, 1 << 20);
}

static void test_twosmmu_viommu_parent_on_other_smmu_einval(void)
{
    Two t;

    if (two_up(&t)) {
        T_ERR(t_viommu_alloc(t.fd, VT, t.devid[0], t.s2[1], NULL, NULL, NULL), EINVAL);
        T_ERR(t_viommu_alloc(t.fd, IOMMU_VIOMMU_TYPE_ARM_SMMUV3, t.devid[1], t.s2[0], NULL, NULL,
                             NULL), EINVAL);
        T_OK(t_viommu_alloc(t.fd, VT, t.devid[1], t.s2[1], NULL, NULL, NULL));
    }
    two_down(&t);
}

static void test_twosmmu_vdevice_on_other_smmu_einval(void)
{
    Two t;
    uint32_t v0 = 0;

    if (two_up(&t)) {
        T_OK(t_viommu_alloc(t.fd, VT, t.devid[0], t.s2[0], &v0, NULL, NULL));
        T_ERR(t_vdevice_alloc(t.fd, v0, t.devid[1], 0x10, NULL), EINVAL);
        T_OK(t_vdevice_alloc(t.fd, v0, t.devid[2], 0x10, NULL));
    }
    two_down(&t);
}

static void test_twosmmu_nested_hwpt_on_other_smmu_einval(void)
{
    Two t;
    uint32_t v0 = 0;

    if (two_up(&t)) {
        T_OK(t_viommu_alloc(t.fd, VT, t.devid[0], t.s2[0], &v0, NULL, NULL));
        T_ERR(t_hwpt_nested(t.fd, t.devid[1], v0, 0, 0, NULL), EINVAL);
        T_OK(t_hwpt_nested(t.fd, t.devid[2], v0, 0, 0, NULL));
    }
    two_down(&t);
}

static void test_twosmmu_vintfs_per_smmu(void)
{
    Two t;

    if (two_up(&t)) {
        /* one guest VINTF on each CMDQV */
        T_OK(t_viommu_alloc(t.fd, VT, t.devid[0], t.s2[0], NULL, NULL, NULL));
        T_ERR(t_viommu_alloc(t.fd, VT, t.devid[2], t.s2[0], NULL, NULL, NULL), ENOSPC);
        T_OK(t_viommu_alloc(t.fd, VT, t.devid[1], t.s2[1], NULL, NULL, NULL));
        T_ERR(t_viommu_alloc(t.fd, VT, t.devid[1], t.s2[1], NULL, NULL, NULL), ENOSPC);
    }
    two_down(&t);
}

static void test_twosmmu_64k_queue_fits_one_host_page(void)
{
    Two t;
    uint32_t v0 = 0, q0 = 0, q1 = 0;

    if (two_up(&t)) {
        T_OK(t_viommu_alloc(t.fd, VT, t.devid[0], t.s2[0], &v0, NULL, NULL));
        /* 64K host pages: a 64K queue and an 8K one are contiguous */
        T_OK(t_hwq_alloc(t.fd, v0, TYPE_T, 0, T_GUEST_IOVA, 0x10000, &q0));
        T_OK(t_hwq_alloc(t.fd, v0, TYPE_T, 1, T_GUEST_IOVA + 0x12000, 0x2000, &q1));
        T_ERR(t_destroy(t.fd, q0), EBUSY);
        T_OK(t_destroy(t.fd, q1));
        T_OK(t_destroy(t.fd, q0));
        /* but not across two host pages */
        T_ERR(t_hwq_alloc(t.fd, v0, TYPE_T, 0, T_GUEST_IOVA + 0x18000, 0x10000, NULL), EFAULT);
    }
    two_down(&t);
}

static uint32_t qread(volatile uint8_t *p, unsigned off)
{
    return t_qreg_read(p, 0, off);
}

static void test_twosmmu_queues_isolated(void)
{
    Two t;
    uint32_t v[2] = { 0 }, q[2] = { 0 };
    uint64_t off[2] = { 0 }, len[2] = { 0 }, c[2][2];
    volatile uint8_t *p[2] = { NULL, NULL };
    TJ *d;
    int64_t total0;

    if (!two_up(&t)) {
        two_down(&t);
        return;
    }
    d = t_dump();
    total0 = tj_get_int(d, "vcmdq_executed_total", 0);
    tj_free(d);
    for (int i = 0; i < 2; i++) {
        T_OK(t_viommu_alloc(t.fd, VT, t.devid[i], t.s2[i], &v[i], &off[i], &len[i]));
        T_OK(t_vdevice_alloc(t.fd, v[i], t.devid[i], 0x10, NULL));   /* same vSID */
        T_OK(t_hwq_alloc(t.fd, v[i], TYPE_T, 0, T_GUEST_IOVA + i * 0x1000, 512, &q[i]));
        T_STOP_IF_FAILED();
        p[i] = mmap(NULL, len[i], PROT_READ | PROT_WRITE, MAP_SHARED, t.fd, off[i]);
        T_REQUIRE(p[i] != MAP_FAILED);
        t_qreg_write(p[i], 0, Q_CONFIG, 1);
        g_assert_true(t_qreg_wait(p[i], 0, Q_STATUS, 1, 1, 2000, NULL));
    }
    /* SMMU0's queue: ATC_INV vSID 0x10 and an illegal command */
    cmd_atc_inv(c[0], 0x10, 0xa000, 0);
    cmd_raw(c[1], 0x7f);
    memcpy(t.mem, c, sizeof(c));
    __sync_synchronize();
    t_qreg_write(p[0], 0, Q_PROD, 2);
    g_assert_true(t_qreg_wait(p[0], 0, Q_CONS, 0x7f << 24, 1 << 24, 2000, NULL));
    /* SMMU1's queue did not move and has no error */
    g_assert_cmphex(qread(p[1], Q_CONS), ==, 0);
    g_assert_cmphex(qread(p[1], Q_GERROR), ==, 0);
    /* and runs its own command */
    cmd_atc_inv(c[0], 0x10, 0xb000, 0);
    cmd_sync(c[1], 0);
    memcpy(t.mem + 0x1000, c, sizeof(c));
    __sync_synchronize();
    t_qreg_write(p[1], 0, Q_PROD, 2);
    g_assert_true(t_qreg_wait(p[1], 0, Q_CONS, 0x3f, 2, 2000, NULL));
    g_assert_cmphex(qread(p[0], Q_CONS) & 0x3f, ==, 1);
    d = t_dump();
    {
        TJ *ex = tj_get(d, "vcmdq_executed");
        int64_t fresh = tj_get_int(d, "vcmdq_executed_total", 0) - total0;
        int na = 0, nb = 0;

        for (guint i = fresh >= tj_len(ex) ? 0 : tj_len(ex) - fresh; i < tj_len(ex); i++) {
            TJ *r = tj_at(ex, i);

            if (g_strcmp0(tj_get_str(r, "op"), "ATC_INV")) {
                continue;
            }
            g_assert_cmphex(tj_get_int(r, "sid", -1), ==, 0x100);
            if (tj_get_int(r, "hw_queue", 0) == q[0]) {
                na++;
                g_assert_cmphex(tj_get_int(r, "addr", -1), ==, 0xa000);
            } else if (tj_get_int(r, "hw_queue", 0) == q[1]) {
                nb++;
                g_assert_cmphex(tj_get_int(r, "addr", -1), ==, 0xb000);
            }
        }
        g_assert_cmpint(na, ==, 1);
        g_assert_cmpint(nb, ==, 1);
    }
    tj_free(d);
    for (int i = 0; i < 2; i++) {
        munmap((void *)p[i], len[i]);
    }
    two_down(&t);
}

int main(int argc, char **argv)
{
    t_init(&argc, &argv);
    g_test_add_func("/twosmmu/viommu_parent_on_other_smmu_einval",
                    test_twosmmu_viommu_parent_on_other_smmu_einval);
    g_test_add_func("/twosmmu/vdevice_on_other_smmu_einval",
                    test_twosmmu_vdevice_on_other_smmu_einval);
    g_test_add_func("/twosmmu/nested_hwpt_on_other_smmu_einval",
                    test_twosmmu_nested_hwpt_on_other_smmu_einval);
    g_test_add_func("/twosmmu/vintfs_per_smmu", test_twosmmu_vintfs_per_smmu);
    g_test_add_func("/twosmmu/64k_queue_fits_one_host_page",
                    test_twosmmu_64k_queue_fits_one_host_page);
    g_test_add_func("/twosmmu/queues_isolated", test_twosmmu_queues_isolated);
    return g_test_run();
}
