/*
 * IOMMU_HW_QUEUE_ALLOC (the kernel selftest's hw_queue scenario, then the
 * check order of kernel-contract.md step by step) and mmap of the VINTF page
 * (the selftest's mmap scenario).  Host: configs/cmdqv.conf (64K host pages,
 * IDR1.CMDQS = 8 so at most 4096 bytes a queue, 2 LVCMDQs a VINTF).
 */
#include "thelp.h"

#include <sys/mman.h>
#include <unistd.h>

#define TYPE_T IOMMU_HW_QUEUE_TYPE_TEGRA241_CMDQV
#define HP 0x10000ull                    /* host page */
#define RW_FIXED (IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE)

/* IOVA layout: two separately mapped host pages A and B, a hole after them */
#define IOVA_A (T_GUEST_IOVA)
#define IOVA_B (T_GUEST_IOVA + HP)
#define IOVA_HOLE (T_GUEST_IOVA + 4 * HP)

typedef struct {
    TEnv e;
    uint8_t *pages;
} Hq;

static bool hq_up(Hq *s, uint32_t vtype)
{
    if (!t_env_up(&s->e, 1, 0, vtype)) {
        return false;
    }
    s->pages = t_alloc_aligned(2 * HP, 1 << 20);
    if (!s->pages) {
        g_test_fail();
        return false;
    }
    return T_OK(t_ioas_map(s->e.fd, s->e.ioas, s->pages, HP, IOVA_A, RW_FIXED)) &&
           T_OK(t_ioas_map(s->e.fd, s->e.ioas, s->pages + HP, HP, IOVA_B, RW_FIXED));
}

static void hq_down(Hq *s)
{
    t_env_down(&s->e);
    t_free_aligned(s->pages, 2 * HP);
}

/* The kernel selftest's hw_queue scenario, replayed on a TEGRA241 vIOMMU */
static void test_hw_queue_selftest_replay(void)
{
    Hq s;
    uint32_t q0 = 0, q1 = 0;
    uint64_t len = 0;
    TJ *d, *o;

    if (!hq_up(&s, IOMMU_VIOMMU_TYPE_TEGRA241_CMDQV)) {
        hq_down(&s);
        return;
    }
    /* type DEFAULT */
    T_ERR(t_hwq_alloc(s.e.fd, s.e.viommu, IOMMU_HW_QUEUE_TYPE_DEFAULT, 0, IOVA_A, 512, NULL),
          EOPNOTSUPP);
    /* length 0 */
    T_ERR(t_hwq_alloc(s.e.fd, s.e.viommu, TYPE_T, 0, IOVA_A, 0, NULL), EINVAL);
    /* IOVA + length overflows */
    T_ERR(t_hwq_alloc(s.e.fd, s.e.viommu, TYPE_T, 0, UINT64_MAX - 255, 512, NULL), EOVERFLOW);
    /* unmapped IOVA */
    T_ERR(t_hwq_alloc(s.e.fd, s.e.viommu, TYPE_T, 0, IOVA_HOLE, 512, NULL), ENOENT);
    /* index 1 first: must start from 0 */
    T_ERR(t_hwq_alloc(s.e.fd, s.e.viommu, TYPE_T, 1, IOVA_A, 512, NULL), EIO);
    /* index = max */
    T_ERR(t_hwq_alloc(s.e.fd, s.e.viommu, TYPE_T, 2, IOVA_A, 512, NULL), EINVAL);
    /* index 0 */
    T_OK(t_hwq_alloc(s.e.fd, s.e.viommu, TYPE_T, 0, IOVA_A, 512, &q0));
    /* index 0 twice */
    T_ERR(t_hwq_alloc(s.e.fd, s.e.viommu, TYPE_T, 0, IOVA_A + 512, 512, NULL), EEXIST);
    /* UNMAP of the pinned page while the queue lives */
    T_ERR(t_ioas_unmap(s.e.fd, s.e.ioas, IOVA_A, HP, NULL), EBUSY);
    T_ERR(t_ioas_unmap(s.e.fd, s.e.ioas, 0, UINT64_MAX, NULL), EBUSY);
    /* the other page is not pinned */
    T_OK(t_ioas_unmap(s.e.fd, s.e.ioas, IOVA_B, HP, &len));
    g_assert_cmphex(len, ==, HP);
    /* a second queue in the same page */
    T_OK(t_hwq_alloc(s.e.fd, s.e.viommu, TYPE_T, 1, IOVA_A + 512, 512, &q1));
    d = t_dump();
    o = t_dump_obj(d, q0);
    g_assert_cmpstr(tj_get_str(o, "type"), ==, "hw_queue");
    g_assert_cmpint(tj_get_int(o, "viommu", 0), ==, s.e.viommu);
    g_assert_cmpint(tj_get_int(o, "index", -1), ==, 0);
    g_assert_cmphex(tj_get_int(o, "iova", 0), ==, IOVA_A);
    g_assert_cmpint(tj_get_int(o, "length", 0), ==, 512);
    g_assert_false(tj_get_bool(o, "enabled", true));    /* NOT enabled by the kernel */
    g_assert_false(tj_get_bool(o, "en_ok", true));
    g_assert_true(t_holders_contain(o, q1));            /* n-1 held by n */
    g_assert_true(t_holders_contain(t_dump_obj(d, s.e.viommu), q0));
    g_assert_true(t_holders_contain(t_dump_obj(d, s.e.viommu), q1));
    tj_free(d);
    /* destroy 0 before 1 */
    T_ERR(t_destroy(s.e.fd, q0), EBUSY);
    /* the vIOMMU is held by its queues */
    T_ERR(t_destroy(s.e.fd, s.e.viommu), EBUSY);
    /* then both, highest first */
    T_OK(t_destroy(s.e.fd, q1));
    T_ERR(t_ioas_unmap(s.e.fd, s.e.ioas, IOVA_A, HP, NULL), EBUSY);
    T_OK(t_destroy(s.e.fd, q0));
    /* now the page can go */
    T_OK(t_ioas_unmap(s.e.fd, s.e.ioas, IOVA_A, HP, &len));
    g_assert_cmphex(len, ==, HP);
    T_OK(t_destroy(s.e.fd, s.e.viommu));
    hq_down(&s);
}

static void test_hw_queue_realloc_after_destroy(void)
{
    Hq s;
    uint32_t q0 = 0, q1 = 0;

    if (hq_up(&s, IOMMU_VIOMMU_TYPE_TEGRA241_CMDQV)) {
        T_OK(t_hwq_alloc(s.e.fd, s.e.viommu, TYPE_T, 0, IOVA_A, 4096, &q0));
        T_OK(t_hwq_alloc(s.e.fd, s.e.viommu, TYPE_T, 1, IOVA_B, 4096, &q1));
        T_OK(t_destroy(s.e.fd, q1));
        T_OK(t_hwq_alloc(s.e.fd, s.e.viommu, TYPE_T, 1, IOVA_B + 4096, 4096, &q1));
        T_OK(t_destroy(s.e.fd, q1));
        T_OK(t_destroy(s.e.fd, q0));
        T_OK(t_hwq_alloc(s.e.fd, s.e.viommu, TYPE_T, 0, IOVA_B, 32, &q0));
    }
    hq_down(&s);
}

/* ------------------------------------------- the check order, step by step */

static void test_hw_queue_order_1_flags_type_before_length(void)
{
    Hq s;
    struct iommu_hw_queue_alloc a = { .size = sizeof(a) };

    if (hq_up(&s, IOMMU_VIOMMU_TYPE_TEGRA241_CMDQV)) {
        a.viommu_id = 999;
        a.type = TYPE_T;
        a.flags = 1;
        a.length = 0;
        T_ERR(t_ioctl(s.e.fd, IOMMU_HW_QUEUE_ALLOC, &a), EOPNOTSUPP);
        a.flags = 0;
        a.type = IOMMU_HW_QUEUE_TYPE_DEFAULT;
        T_ERR(t_ioctl(s.e.fd, IOMMU_HW_QUEUE_ALLOC, &a), EOPNOTSUPP);
        a.nesting_parent_iova = UINT64_MAX;
        a.length = 2;
        T_ERR(t_ioctl(s.e.fd, IOMMU_HW_QUEUE_ALLOC, &a), EOPNOTSUPP);
    }
    hq_down(&s);
}

static void test_hw_queue_order_2_length_before_viommu(void)
{
    Hq s;

    if (hq_up(&s, IOMMU_VIOMMU_TYPE_TEGRA241_CMDQV)) {
        T_ERR(t_hwq_alloc(s.e.fd, 999, TYPE_T, 0, IOVA_HOLE, 0, NULL), EINVAL);
        T_ERR(t_hwq_alloc(s.e.fd, 999, TYPE_T, 0, UINT64_MAX, 2, NULL), EOVERFLOW);
        T_ERR(t_hwq_alloc(s.e.fd, 999, TYPE_T, 7, (1ull << 63) + 4096, 1ull << 63, NULL),
              EOVERFLOW);
        /* ending exactly at UINT64_MAX does not overflow: the vIOMMU check speaks */
        T_ERR(t_hwq_alloc(s.e.fd, 999, TYPE_T, 7, 1ull << 63, 1ull << 63, NULL), ENOENT);
        /* ending exactly at UINT64_MAX does not overflow: the next check speaks */
        T_ERR(t_hwq_alloc(s.e.fd, 999, TYPE_T, 0, UINT64_MAX - 511, 512, NULL), ENOENT);
    }
    hq_down(&s);
}

static void test_hw_queue_order_3_viommu_before_pinning(void)
{
    Hq s;
    uint32_t arm = 0;

    if (hq_up(&s, IOMMU_VIOMMU_TYPE_TEGRA241_CMDQV)) {
        T_ERR(t_hwq_alloc(s.e.fd, 999, TYPE_T, 0, IOVA_HOLE, 512, NULL), ENOENT);
        T_ERR(t_hwq_alloc(s.e.fd, s.e.ioas, TYPE_T, 0, IOVA_A, 512, NULL), ENOENT);
        /* a vIOMMU that does not know the type, before the hole is noticed */
        T_OK(t_viommu_alloc(s.e.fd, IOMMU_VIOMMU_TYPE_ARM_SMMUV3, s.e.devid[0], s.e.s2, &arm,
                            NULL, NULL));
        T_ERR(t_hwq_alloc(s.e.fd, arm, TYPE_T, 0, IOVA_HOLE, 512, NULL), EOPNOTSUPP);
        T_ERR(t_hwq_alloc(s.e.fd, arm, TYPE_T, 0, IOVA_A, 512, NULL), EOPNOTSUPP);
        T_ERR(t_hwq_alloc(s.e.fd, s.e.viommu, 5, 0, IOVA_A, 512, NULL), EOPNOTSUPP);
    }
    hq_down(&s);
}

static void test_hw_queue_order_4_pinning_before_tegra_rules(void)
{
    Hq s;

    if (hq_up(&s, IOMMU_VIOMMU_TYPE_TEGRA241_CMDQV)) {
        /* a hole, with an index out of range / a bad length: ENOENT first */
        T_ERR(t_hwq_alloc(s.e.fd, s.e.viommu, TYPE_T, 2, IOVA_HOLE, 512, NULL), ENOENT);
        T_ERR(t_hwq_alloc(s.e.fd, s.e.viommu, TYPE_T, 1, IOVA_HOLE, 512, NULL), ENOENT);
        T_ERR(t_hwq_alloc(s.e.fd, s.e.viommu, TYPE_T, 0, IOVA_HOLE, 96, NULL), ENOENT);
        /* a range running off the end of the mapping into the hole */
        T_ERR(t_hwq_alloc(s.e.fd, s.e.viommu, TYPE_T, 0, IOVA_B + HP - 512, 1024, NULL),
              ENOENT);
        /* two host pages mapped separately are not physically contiguous */
        T_ERR(t_hwq_alloc(s.e.fd, s.e.viommu, TYPE_T, 2, IOVA_A + HP - 2048, 4096, NULL), EFAULT);
        T_ERR(t_hwq_alloc(s.e.fd, s.e.viommu, TYPE_T, 0, IOVA_A + HP - 2048, 4096, NULL), EFAULT);
        /* nothing stays pinned after a failure */
        T_OK(t_ioas_unmap(s.e.fd, s.e.ioas, IOVA_A, HP, NULL));
        T_OK(t_ioas_unmap(s.e.fd, s.e.ioas, IOVA_B, HP, NULL));
    }
    hq_down(&s);
}

static void test_hw_queue_order_5_tegra_rules(void)
{
    Hq s;
    uint32_t q0 = 0;

    if (hq_up(&s, IOMMU_VIOMMU_TYPE_TEGRA241_CMDQV)) {
        /* index >= LVCMDQs: EINVAL, even with a bad length */
        T_ERR(t_hwq_alloc(s.e.fd, s.e.viommu, TYPE_T, 2, IOVA_A, 96, NULL), EINVAL);
        T_ERR(t_hwq_alloc(s.e.fd, s.e.viommu, TYPE_T, 0xffffffffu, IOVA_A, 512, NULL), EINVAL);
        /* index > 0 with index - 1 missing: EIO, before the length is looked at */
        T_ERR(t_hwq_alloc(s.e.fd, s.e.viommu, TYPE_T, 1, IOVA_A, 96, NULL), EIO);
        /* length: not a power of two, below 32, above 16 << CMDQS (4096) */
        T_ERR(t_hwq_alloc(s.e.fd, s.e.viommu, TYPE_T, 0, IOVA_A, 96, NULL), EINVAL);
        T_ERR(t_hwq_alloc(s.e.fd, s.e.viommu, TYPE_T, 0, IOVA_A, 16, NULL), EINVAL);
        T_ERR(t_hwq_alloc(s.e.fd, s.e.viommu, TYPE_T, 0, IOVA_A, 8192, NULL), EINVAL);
        /* address not aligned to the length */
        T_ERR(t_hwq_alloc(s.e.fd, s.e.viommu, TYPE_T, 0, IOVA_A + 256, 512, NULL), EINVAL);
        T_ERR(t_hwq_alloc(s.e.fd, s.e.viommu, TYPE_T, 0, IOVA_A + 32, 64, NULL), EINVAL);
        /* the limits themselves are fine */
        T_OK(t_hwq_alloc(s.e.fd, s.e.viommu, TYPE_T, 0, IOVA_A, 32, &q0));
        /* index already allocated: EEXIST even with a bad length */
        T_ERR(t_hwq_alloc(s.e.fd, s.e.viommu, TYPE_T, 0, IOVA_A, 96, NULL), EEXIST);
        T_OK(t_hwq_alloc(s.e.fd, s.e.viommu, TYPE_T, 1, IOVA_B, 4096, NULL));
        /* nothing leaked from the failures: only the two queues pin */
        T_ERR(t_ioas_unmap(s.e.fd, s.e.ioas, IOVA_A, HP, NULL), EBUSY);
    }
    hq_down(&s);
}

static void test_hw_queue_failed_alloc_does_not_pin(void)
{
    Hq s;

    if (hq_up(&s, IOMMU_VIOMMU_TYPE_TEGRA241_CMDQV)) {
        T_ERR(t_hwq_alloc(s.e.fd, s.e.viommu, TYPE_T, 0, IOVA_A, 96, NULL), EINVAL);
        T_ERR(t_hwq_alloc(s.e.fd, s.e.viommu, TYPE_T, 1, IOVA_B, 512, NULL), EIO);
        T_OK(t_ioas_unmap(s.e.fd, s.e.ioas, IOVA_A, HP, NULL));
        T_OK(t_ioas_unmap(s.e.fd, s.e.ioas, IOVA_B, HP, NULL));
    }
    hq_down(&s);
}

static void test_hw_queue_indexes_per_viommu(void)
{
    Hq s;
    uint32_t v2 = 0, a0 = 0, b0 = 0;

    if (hq_up(&s, IOMMU_VIOMMU_TYPE_TEGRA241_CMDQV)) {
        T_OK(t_viommu_alloc(s.e.fd, IOMMU_VIOMMU_TYPE_TEGRA241_CMDQV, s.e.devid[0], s.e.s2, &v2,
                            NULL, NULL));
        T_OK(t_hwq_alloc(s.e.fd, s.e.viommu, TYPE_T, 0, IOVA_A, 512, &a0));
        T_OK(t_hwq_alloc(s.e.fd, v2, TYPE_T, 0, IOVA_B, 512, &b0));
        /* the other vIOMMU's queue 1 does not hold this one's queue 0 */
        T_OK(t_destroy(s.e.fd, a0));
        T_OK(t_destroy(s.e.fd, b0));
    }
    hq_down(&s);
}

/* ------------------------------------------------------------------- mmap */

static void test_mmap_selftest_replay(void)
{
    TEnv e;
    void *p;
    long pg = sysconf(_SC_PAGESIZE);

    if (!t_env_up(&e, 1, 0, IOMMU_VIOMMU_TYPE_TEGRA241_CMDQV)) {
        t_env_down(&e);
        return;
    }
    /*
     * length not page aligned: the mmap syscall rounds it up before
     * iommufd_fops_mmap() checks it, so it maps the region when it rounds
     * up to the region's length, and is ENXIO when it rounds past it
     */
    p = mmap(NULL, e.mlen - 1 - pg / 2, PROT_READ | PROT_WRITE, MAP_SHARED, e.fd, e.moff);
    T_ERR(p == MAP_FAILED ? errno : 0, 0);
    if (p != MAP_FAILED) {
        munmap(p, e.mlen);
    }
    p = mmap(NULL, e.mlen + 1, PROT_READ | PROT_WRITE, MAP_SHARED, e.fd, e.moff);
    T_ERR(p == MAP_FAILED ? errno : 0, ENXIO);
    /* length 0 */
    p = mmap(NULL, 0, PROT_READ | PROT_WRITE, MAP_SHARED, e.fd, e.moff);
    T_ERR(p == MAP_FAILED ? errno : 0, EINVAL);
    /* offset not page aligned */
    p = mmap(NULL, e.mlen, PROT_READ | PROT_WRITE, MAP_SHARED, e.fd, e.moff + 8);
    T_ERR(p == MAP_FAILED ? errno : 0, EINVAL);
    /* not MAP_SHARED */
    p = mmap(NULL, e.mlen, PROT_READ | PROT_WRITE, MAP_PRIVATE, e.fd, e.moff);
    T_ERR(p == MAP_FAILED ? errno : 0, EINVAL);
    /* PROT_EXEC */
    p = mmap(NULL, e.mlen, PROT_READ | PROT_EXEC, MAP_SHARED, e.fd, e.moff);
    T_ERR(p == MAP_FAILED ? errno : 0, EPERM);
    /* offset + one page */
    p = mmap(NULL, e.mlen, PROT_READ | PROT_WRITE, MAP_SHARED, e.fd, e.moff + pg);
    T_ERR(p == MAP_FAILED ? errno : 0, ENXIO);
    p = mmap(NULL, e.mlen, PROT_READ | PROT_WRITE, MAP_SHARED, e.fd, e.moff + e.mlen);
    T_ERR(p == MAP_FAILED ? errno : 0, ENXIO);
    /* half and double length */
    p = mmap(NULL, e.mlen / 2, PROT_READ | PROT_WRITE, MAP_SHARED, e.fd, e.moff);
    T_ERR(p == MAP_FAILED ? errno : 0, ENXIO);
    p = mmap(NULL, e.mlen * 2, PROT_READ | PROT_WRITE, MAP_SHARED, e.fd, e.moff);
    T_ERR(p == MAP_FAILED ? errno : 0, ENXIO);
    /* an offset nobody handed out */
    p = mmap(NULL, e.mlen, PROT_READ | PROT_WRITE, MAP_SHARED, e.fd, 0);
    T_ERR(p == MAP_FAILED ? errno : 0, ENXIO);
    /* the right one */
    p = mmap(NULL, e.mlen, PROT_READ | PROT_WRITE, MAP_SHARED, e.fd, e.moff);
    T_ERR(p == MAP_FAILED ? errno : 0, 0);
    if (p != MAP_FAILED) {
        TJ *d;

        /* page 0 of a fresh VINTF: every queue register reads 0 */
        for (int q = 0; q < 2; q++) {
            g_assert_cmphex(t_qreg_read(p, q, Q_CONS), ==, 0);
            g_assert_cmphex(t_qreg_read(p, q, Q_PROD), ==, 0);
            g_assert_cmphex(t_qreg_read(p, q, Q_CONFIG), ==, 0);
            g_assert_cmphex(t_qreg_read(p, q, Q_STATUS), ==, 0);
            g_assert_cmphex(t_qreg_read(p, q, Q_GERROR), ==, 0);
        }
        d = t_dump();
        {
            TJ *m = tj_get(d, "mmaps");
            bool found = false;

            for (guint i = 0; i < tj_len(m); i++) {
                TJ *x = tj_at(m, i);

                if (tj_get_int(x, "viommu", 0) == e.viommu &&
                    tj_get_int(x, "offset", 0) == (int64_t)e.moff &&
                    tj_get_int(x, "length", 0) == (int64_t)e.mlen) {
                    found = true;
                }
            }
            g_assert_true(found);
        }
        tj_free(d);
        /* destroy the vIOMMU while mapped */
        T_ERR(t_destroy(e.fd, e.viommu), EBUSY);
        /* a second mapping of the same region is fine, and holds too */
        void *p2 = mmap(NULL, e.mlen, PROT_READ, MAP_SHARED, e.fd, e.moff);
        T_ERR(p2 == MAP_FAILED ? errno : 0, 0);
        munmap(p, e.mlen);
        T_ERR(t_destroy(e.fd, e.viommu), EBUSY);
        if (p2 != MAP_FAILED) {
            munmap(p2, e.mlen);
        }
        T_OK(t_destroy(e.fd, e.viommu));
        /* and its region is gone */
        p = mmap(NULL, e.mlen, PROT_READ | PROT_WRITE, MAP_SHARED, e.fd, e.moff);
        T_ERR(p == MAP_FAILED ? errno : 0, ENXIO);
        if (p != MAP_FAILED) {
            munmap(p, e.mlen);
        }
    }
    t_env_down(&e);
}

/* The VINTF page is device memory: IOAS_MAP cannot pin it (EFAULT). */
static void test_mmap_region_cannot_be_dma_mapped(void)
{
    TEnv e;
    void *p;

    if (!t_env_up(&e, 1, 0, IOMMU_VIOMMU_TYPE_TEGRA241_CMDQV)) {
        t_env_down(&e);
        return;
    }
    p = mmap(NULL, e.mlen, PROT_READ | PROT_WRITE, MAP_SHARED, e.fd, e.moff);
    T_ERR(p == MAP_FAILED ? errno : 0, 0);
    if (p != MAP_FAILED) {
        T_ERR(t_ioas_map(e.fd, e.ioas, p, e.mlen, 0x7f0000000000ull,
                         IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
                         IOMMU_IOAS_MAP_WRITEABLE), EFAULT);
        munmap(p, e.mlen);
    }
    t_env_down(&e);
}

static void test_mmap_arm_smmuv3_viommu_has_no_region(void)
{
    TEnv e;
    void *p;

    if (t_env_up(&e, 1, 0, IOMMU_VIOMMU_TYPE_ARM_SMMUV3)) {
        p = mmap(NULL, 0x10000, PROT_READ | PROT_WRITE, MAP_SHARED, e.fd, 0x10000);
        T_ERR(p == MAP_FAILED ? errno : 0, ENXIO);
        T_OK(t_destroy(e.fd, e.viommu));
    }
    t_env_down(&e);
}

int main(int argc, char **argv)
{
    t_init(&argc, &argv);
    g_test_add_func("/hw_queue/selftest_replay", test_hw_queue_selftest_replay);
    g_test_add_func("/mmap/region_cannot_be_dma_mapped",
                    test_mmap_region_cannot_be_dma_mapped);
    g_test_add_func("/hw_queue/realloc_after_destroy", test_hw_queue_realloc_after_destroy);
    g_test_add_func("/hw_queue/order_1_flags_type_before_length",
                    test_hw_queue_order_1_flags_type_before_length);
    g_test_add_func("/hw_queue/order_2_length_before_viommu",
                    test_hw_queue_order_2_length_before_viommu);
    g_test_add_func("/hw_queue/order_3_viommu_before_pinning",
                    test_hw_queue_order_3_viommu_before_pinning);
    g_test_add_func("/hw_queue/order_4_pinning_before_tegra_rules",
                    test_hw_queue_order_4_pinning_before_tegra_rules);
    g_test_add_func("/hw_queue/order_5_tegra_rules", test_hw_queue_order_5_tegra_rules);
    g_test_add_func("/hw_queue/failed_alloc_does_not_pin", test_hw_queue_failed_alloc_does_not_pin);
    g_test_add_func("/hw_queue/indexes_per_viommu", test_hw_queue_indexes_per_viommu);
    g_test_add_func("/mmap/selftest_replay", test_mmap_selftest_replay);
    g_test_add_func("/mmap/arm_smmuv3_viommu_has_no_region",
                    test_mmap_arm_smmuv3_viommu_has_no_region);
    return g_test_run();
}
