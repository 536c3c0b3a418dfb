/*
 * Generic ioctl rules, IOMMU_IOAS_ALLOC/MAP/UNMAP and IOMMU_DESTROY holder
 * rules (spec/kernel-contract.md "Rules for every ioctl", "IOMMU_IOAS_*",
 * "IOMMU_DESTROY").  Host: configs/cmdqv.conf.
 */
#include "thelp.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#define RW (IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE)
#define FIXED_RW (IOMMU_IOAS_MAP_FIXED_IOVA | RW)

/* ------------------------------------------------------------- generic */

static void test_unknown_ioctl_enotty(void)
{
    int fd = t_iommufd();
    uint8_t buf[64] = { 0 };

    T_REQUIRE(fd >= 0);
    *(uint32_t *)buf = sizeof(buf);
    T_ERR(t_ioctl(fd, _IO(IOMMUFD_TYPE, 0xa0), buf), ENOTTY);
    T_ERR(t_ioctl(fd, _IO(IOMMUFD_TYPE, 0x7f), buf), ENOTTY);
    T_ERR(t_ioctl(fd, _IO('x', IOMMUFD_CMD_IOAS_ALLOC), buf), ENOTTY);
    close(fd);
}

static void test_size_below_mandatory_einval(void)
{
    int fd = t_iommufd();
    struct iommu_ioas_alloc a = { .size = 4 };
    struct iommu_destroy d = { .size = 4, .id = 1 };
    struct iommu_ioas_map m = { .size = offsetof(struct iommu_ioas_map, iova) };

    T_REQUIRE(fd >= 0);
    T_ERR(t_ioctl(fd, IOMMU_IOAS_ALLOC, &a), EINVAL);
    T_ERR(t_ioctl(fd, IOMMU_DESTROY, &d), EINVAL);
    T_ERR(t_ioctl(fd, IOMMU_IOAS_MAP, &m), EINVAL);
    a.size = 0;
    T_ERR(t_ioctl(fd, IOMMU_IOAS_ALLOC, &a), EINVAL);
    close(fd);
}

static void test_nonzero_tail_e2big(void)
{
    int fd = t_iommufd();
    struct {
        struct iommu_ioas_alloc a;
        uint32_t pad;
        uint64_t extra[2];
    } big = { 0 };

    T_REQUIRE(fd >= 0);
    big.a.size = sizeof(big);
    big.extra[1] = 1;
    T_ERR(t_ioctl(fd, IOMMU_IOAS_ALLOC, &big), E2BIG);
    big.extra[1] = 0;
    T_OK(t_ioctl(fd, IOMMU_IOAS_ALLOC, &big));
    g_assert_cmpuint(big.a.out_ioas_id, >=, 1);
    close(fd);
}

static void test_hostile_pointer_efault(void)
{
    int fd = t_iommufd();
    void *none = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    uint8_t *ro = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    struct iommu_ioas_alloc *a;

    T_REQUIRE(fd >= 0 && none != MAP_FAILED && ro != MAP_FAILED);
    T_ERR(t_ioctl(fd, IOMMU_IOAS_ALLOC, (void *)8), EFAULT);
    T_ERR(t_ioctl(fd, IOMMU_IOAS_ALLOC, none), EFAULT);
    T_ERR(t_ioctl(fd, IOMMU_IOAS_MAP, (void *)(uintptr_t)0xdead0000), EFAULT);
    T_ERR(t_ioctl(fd, IOMMU_DESTROY, (void *)-4096L), EFAULT);
    /* a struct the kernel may read but not write back into */
    a = (struct iommu_ioas_alloc *)ro;
    a->size = sizeof(*a);
    mprotect(ro, 4096, PROT_READ);
    T_ERR(t_ioctl(fd, IOMMU_IOAS_ALLOC, a), EFAULT);
    munmap(none, 4096);
    munmap(ro, 4096);
    close(fd);
}

static void test_object_ids_start_at_1(void)
{
    int fd = t_iommufd();
    uint32_t id = 0, id2 = 0;

    T_REQUIRE(fd >= 0);
    T_OK(t_ioas_alloc(fd, &id));
    g_assert_cmpuint(id, ==, 1);
    T_OK(t_ioas_alloc(fd, &id2));
    g_assert_cmpuint(id2, ==, 2);
    close(fd);
}

static void test_unknown_id_enoent(void)
{
    int fd = t_iommufd();
    static uint8_t buf[65536] __attribute__((aligned(65536)));

    T_REQUIRE(fd >= 0);
    T_ERR(t_ioas_map(fd, 77, buf, 4096, 0, RW), ENOENT);
    T_ERR(t_ioas_unmap(fd, 77, 0, UINT64_MAX, NULL), ENOENT);
    T_ERR(t_destroy(fd, 77), ENOENT);
    T_ERR(t_destroy(fd, 0), ENOENT);
    close(fd);
}

static void test_wrong_object_type_enoent(void)
{
    TEnv e;
    static uint8_t buf[65536] __attribute__((aligned(65536)));

    if (!t_env_up(&e, 1, 0, 0)) {
        t_env_down(&e);
        return;
    }
    /* a HWPT or a device id where an IOAS is expected */
    T_ERR(t_ioas_map(e.fd, e.s2, buf, 4096, 0, RW), ENOENT);
    T_ERR(t_ioas_map(e.fd, e.devid[0], buf, 4096, 0, RW), ENOENT);
    /* an IOAS where a HWPT is expected */
    T_ERR(t_viommu_alloc(e.fd, IOMMU_VIOMMU_TYPE_ARM_SMMUV3, e.devid[0], e.ioas, NULL, NULL,
                         NULL), ENOENT);
    /* an IOAS where a device is expected */
    T_ERR(t_hwpt_parent(e.fd, e.ioas, e.ioas, NULL), ENOENT);
    t_env_down(&e);
}

static void test_ids_are_per_iommufd(void)
{
    int a = t_iommufd(), b = t_iommufd();
    uint32_t ia = 0, ib = 0;

    T_REQUIRE(a >= 0 && b >= 0);
    T_OK(t_ioas_alloc(a, &ia));
    T_ERR(t_destroy(b, ia), ENOENT);
    T_OK(t_ioas_alloc(b, &ib));
    g_assert_cmpuint(ib, ==, 1);
    T_OK(t_destroy(a, ia));
    close(a);
    close(b);
}

static void test_failed_ioctl_leaves_no_object(void)
{
    TEnv e;
    struct iommu_viommu_tegra241_cmdqv data = { 0 };
    struct iommu_viommu_alloc va = { .size = sizeof(va),
                                     .type = IOMMU_VIOMMU_TYPE_TEGRA241_CMDQV };
    TJ *before, *after;
    int nb, na;

    if (!t_env_up(&e, 1, 1 << 20, 0)) {
        t_env_down(&e);
        return;
    }
    before = t_dump();
    T_REQUIRE(before);
    nb = tj_len(tj_get(before, "objects"));
    va.dev_id = e.devid[0];
    va.hwpt_id = e.s2;
    va.data_len = 8;                     /* too short: EINVAL */
    va.data_uptr = (uintptr_t)&data;
    T_ERR(t_ioctl(e.fd, IOMMU_VIOMMU_ALLOC, &va), EINVAL);
    T_ERR(t_hwq_alloc(e.fd, 1234, IOMMU_HW_QUEUE_TYPE_TEGRA241_CMDQV, 0, T_GUEST_IOVA, 64,
                      NULL), ENOENT);
    T_ERR(t_ioas_map(e.fd, e.ioas, e.mem, 4096, T_GUEST_IOVA, FIXED_RW), EEXIST);
    after = t_dump();
    T_REQUIRE(after);
    na = tj_len(tj_get(after, "objects"));
    g_assert_cmpint(na, ==, nb);
    g_assert_cmpint(t_dump_count_type(after, "viommu"), ==, t_dump_count_type(before, "viommu"));
    tj_free(before);
    tj_free(after);
    /* and the same allocation with a right data_len works */
    va.data_len = sizeof(data);
    T_OK(t_ioctl(e.fd, IOMMU_VIOMMU_ALLOC, &va));
    t_env_down(&e);
}

/* ----------------------------------------------------------------- IOAS */

static void test_ioas_alloc_flags_eopnotsupp(void)
{
    int fd = t_iommufd();
    struct iommu_ioas_alloc a = { .size = sizeof(a), .flags = 1 };

    T_REQUIRE(fd >= 0);
    T_ERR(t_ioctl(fd, IOMMU_IOAS_ALLOC, &a), EOPNOTSUPP);
    a.flags = 0x80000000u;
    T_ERR(t_ioctl(fd, IOMMU_IOAS_ALLOC, &a), EOPNOTSUPP);
    close(fd);
}

typedef struct {
    int fd;
    uint32_t ioas;
    uint8_t *buf;
    size_t len;
} Ioas;

static bool ioas_up(Ioas *s, size_t len)
{
    s->fd = t_iommufd();
    s->buf = t_alloc_aligned(len, 1 << 20);
    s->len = len;
    if (s->fd < 0 || !s->buf) {
        g_test_fail();
        return false;
    }
    return T_OK(t_ioas_alloc(s->fd, &s->ioas));
}

static void ioas_down(Ioas *s)
{
    if (s->fd >= 0) {
        close(s->fd);
    }
    t_free_aligned(s->buf, s->len);
}

static void test_ioas_map_bad_flags_eopnotsupp(void)
{
    Ioas s;
    struct iommu_ioas_map m = { .size = sizeof(m) };

    if (ioas_up(&s, 1 << 20)) {
        T_ERR(t_ioas_map(s.fd, s.ioas, s.buf, 4096, 0x1000, FIXED_RW | (1 << 3)), EOPNOTSUPP);
        T_ERR(t_ioas_map(s.fd, s.ioas, s.buf, 4096, 0x1000, FIXED_RW | (1u << 31)), EOPNOTSUPP);
        m.flags = FIXED_RW;
        m.ioas_id = s.ioas;
        m.__reserved = 1;
        m.user_va = (uintptr_t)s.buf;
        m.length = 4096;
        m.iova = 0x1000;
        T_ERR(t_ioctl(s.fd, IOMMU_IOAS_MAP, &m), EOPNOTSUPP);
    }
    ioas_down(&s);
}

static void test_ioas_map_neither_read_nor_write_einval(void)
{
    Ioas s;

    if (ioas_up(&s, 1 << 20)) {
        T_ERR(t_ioas_map(s.fd, s.ioas, s.buf, 4096, 0x1000, IOMMU_IOAS_MAP_FIXED_IOVA), EINVAL);
        T_ERR(t_ioas_map(s.fd, s.ioas, s.buf, 4096, 0, 0), EINVAL);
        T_OK(t_ioas_map(s.fd, s.ioas, s.buf, 4096, 0x1000,
                        IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE));
        T_OK(t_ioas_map(s.fd, s.ioas, s.buf + 4096, 4096, 0x2000,
                        IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_WRITEABLE));
    }
    ioas_down(&s);
}

static void test_ioas_map_length_0_or_unaligned_einval(void)
{
    Ioas s;

    if (ioas_up(&s, 1 << 20)) {
        T_ERR(t_ioas_map(s.fd, s.ioas, s.buf, 0, 0x1000, FIXED_RW), EINVAL);
        T_ERR(t_ioas_map(s.fd, s.ioas, s.buf, 100, 0x1000, FIXED_RW), EINVAL);
        T_ERR(t_ioas_map(s.fd, s.ioas, s.buf, 4096 + 1, 0x1000, FIXED_RW), EINVAL);
        T_ERR(t_ioas_map(s.fd, s.ioas, s.buf, 0, 0, RW), EINVAL);
        T_ERR(t_ioas_map(s.fd, s.ioas, s.buf, 4095, 0, RW), EINVAL);
    }
    ioas_down(&s);
}

static void test_ioas_map_ulong_max_eoverflow(void)
{
    Ioas s;

    if (ioas_up(&s, 1 << 20)) {
        T_ERR(t_ioas_map(s.fd, s.ioas, s.buf, UINT64_MAX, 0x1000, FIXED_RW), EOVERFLOW);
        T_ERR(t_ioas_map(s.fd, s.ioas, s.buf, 4096, UINT64_MAX, FIXED_RW), EOVERFLOW);
        T_ERR(t_ioas_map(s.fd, s.ioas, s.buf, UINT64_MAX, 0, RW), EOVERFLOW);
    }
    ioas_down(&s);
}

static void test_ioas_map_fixed_misaligned_einval(void)
{
    Ioas s;

    if (ioas_up(&s, 1 << 20)) {
        T_ERR(t_ioas_map(s.fd, s.ioas, s.buf, 4096, 0x1001, FIXED_RW), EINVAL);
        T_ERR(t_ioas_map(s.fd, s.ioas, s.buf, 4096, 0x1800, FIXED_RW), EINVAL);
    }
    ioas_down(&s);
}

static void test_ioas_map_fixed_overlap_eexist(void)
{
    Ioas s;

    if (ioas_up(&s, 1 << 20)) {
        T_OK(t_ioas_map(s.fd, s.ioas, s.buf, 0x4000, 0x10000, FIXED_RW));
        T_ERR(t_ioas_map(s.fd, s.ioas, s.buf, 0x4000, 0x10000, FIXED_RW), EEXIST);
        T_ERR(t_ioas_map(s.fd, s.ioas, s.buf, 0x2000, 0x13000, FIXED_RW), EEXIST);
        T_ERR(t_ioas_map(s.fd, s.ioas, s.buf, 0x2000, 0xf000, FIXED_RW), EEXIST);
        T_ERR(t_ioas_map(s.fd, s.ioas, s.buf, 0x10000, 0x8000, FIXED_RW), EEXIST);
        /* touching but not overlapping is fine */
        T_OK(t_ioas_map(s.fd, s.ioas, s.buf, 0x1000, 0x14000, FIXED_RW));
        T_OK(t_ioas_map(s.fd, s.ioas, s.buf, 0x1000, 0xf000, FIXED_RW));
    }
    ioas_down(&s);
}

/*
 * The SMMU driver's software MSI window (arm-smmu-v3: 0x8000000, 1 MiB) is
 * reserved once a domain of that SMMU is in the IOAS: the allowed ranges
 * go around it, a fixed map into it is EINVAL (iopt_check_iova).
 */
static void test_ioas_sw_msi_window_reserved(void)
{
    TEnv e;
    struct iommu_iova_range r[4];
    uint32_t n = 4, ioas;

    if (t_env_up(&e, 1, 1 << 20, 0)) {
        T_OK(t_ioas_iova_ranges(e.fd, e.ioas, r, &n));
        g_assert_cmpuint(n, ==, 2);
        g_assert_cmphex(r[0].start, ==, 0);
        g_assert_cmphex(r[0].last, ==, 0x7ffffff);
        g_assert_cmphex(r[1].start, ==, 0x8100000);
        g_assert_cmphex(r[1].last, ==, (1ull << 48) - 1);   /* IDR5.OAS 48 */
        T_ERR(t_ioas_map(e.fd, e.ioas, e.mem, 4096, 0x80ff000, FIXED_RW), EINVAL);
        T_OK(t_ioas_map(e.fd, e.ioas, e.mem, 4096, 0x8100000, FIXED_RW));
        /* A new IOAS with no domain allows everything; a short array: EMSGSIZE */
        T_OK(t_ioas_alloc(e.fd, &ioas));
        n = 4;
        T_OK(t_ioas_iova_ranges(e.fd, ioas, r, &n));
        g_assert_cmpuint(n, ==, 1);
        g_assert_cmphex(r[0].last, ==, UINT64_MAX);
        n = 1;
        T_ERR(t_ioas_iova_ranges(e.fd, e.ioas, r, &n), EMSGSIZE);
        g_assert_cmpuint(n, ==, 2);
        T_OK(t_destroy(e.fd, ioas));
    }
    t_env_down(&e);
}

static void test_ioas_map_auto_never_iova_0(void)
{
    Ioas s;
    uint64_t iova = 0, iova2 = 0;

    if (ioas_up(&s, 1 << 20)) {
        T_OK(t_ioas_map_auto(s.fd, s.ioas, s.buf, 0x4000, &iova));
        g_assert_cmpuint(iova, !=, 0);
        g_assert_cmpuint(iova % 4096, ==, 0);
        T_OK(t_ioas_map_auto(s.fd, s.ioas, s.buf, 0x4000, &iova2));
        g_assert_cmpuint(iova2, !=, 0);
        g_assert_true(iova2 + 0x4000 <= iova || iova + 0x4000 <= iova2);
    }
    ioas_down(&s);
}

static void test_ioas_map_unmapped_user_va_efault(void)
{
    Ioas s;
    void *hole;

    if (ioas_up(&s, 1 << 20)) {
        hole = mmap(NULL, 0x10000, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        munmap(hole, 0x10000);
        T_ERR(t_ioas_map(s.fd, s.ioas, hole, 0x10000, 0x100000, FIXED_RW), EFAULT);
    }
    ioas_down(&s);
}

static void test_ioas_unmap_everything(void)
{
    Ioas s;
    uint64_t len = 0;

    if (ioas_up(&s, 1 << 20)) {
        T_OK(t_ioas_map(s.fd, s.ioas, s.buf, 0x4000, 0x10000, FIXED_RW));
        T_OK(t_ioas_map(s.fd, s.ioas, s.buf, 0x2000, 0x80000, FIXED_RW));
        T_OK(t_ioas_map(s.fd, s.ioas, s.buf, 0x1000, 0x200000, FIXED_RW));
        T_OK(t_ioas_unmap(s.fd, s.ioas, 0, UINT64_MAX, &len));
        g_assert_cmpuint(len, ==, 0x7000);
        /* the space is free again */
        T_OK(t_ioas_map(s.fd, s.ioas, s.buf, 0x4000, 0x10000, FIXED_RW));
    }
    ioas_down(&s);
}

static void test_ioas_unmap_length_0_einval(void)
{
    Ioas s;

    if (ioas_up(&s, 1 << 20)) {
        T_OK(t_ioas_map(s.fd, s.ioas, s.buf, 0x4000, 0x10000, FIXED_RW));
        T_ERR(t_ioas_unmap(s.fd, s.ioas, 0x10000, 0, NULL), EINVAL);
    }
    ioas_down(&s);
}

static void test_ioas_unmap_partial_enoent(void)
{
    Ioas s;
    uint64_t len = 0;

    if (ioas_up(&s, 1 << 20)) {
        T_OK(t_ioas_map(s.fd, s.ioas, s.buf, 0x4000, 0x10000, FIXED_RW));
        T_ERR(t_ioas_unmap(s.fd, s.ioas, 0x10000, 0x1000, NULL), ENOENT);
        T_ERR(t_ioas_unmap(s.fd, s.ioas, 0x11000, 0x3000, NULL), ENOENT);
        T_ERR(t_ioas_unmap(s.fd, s.ioas, 0xf000, 0x2000, NULL), ENOENT);
        /* still whole */
        T_ERR(t_ioas_map(s.fd, s.ioas, s.buf, 0x1000, 0x13000, FIXED_RW), EEXIST);
        T_OK(t_ioas_unmap(s.fd, s.ioas, 0x10000, 0x4000, &len));
        g_assert_cmpuint(len, ==, 0x4000);
    }
    ioas_down(&s);
}

static void test_ioas_unmap_superset_returns_bytes_removed(void)
{
    Ioas s;
    uint64_t len = 0;

    if (ioas_up(&s, 1 << 20)) {
        T_OK(t_ioas_map(s.fd, s.ioas, s.buf, 0x4000, 0x10000, FIXED_RW));
        T_OK(t_ioas_map(s.fd, s.ioas, s.buf, 0x1000, 0x20000, FIXED_RW));
        T_OK(t_ioas_unmap(s.fd, s.ioas, 0x8000, 0x20000, &len));
        g_assert_cmpuint(len, ==, 0x5000);
    }
    ioas_down(&s);
}

/*
 * iopt_unmap_iova_range(): the areas of the range are unmapped in IOVA
 * order as they are reached; an area the range cuts in part stops the walk
 * with ENOENT, and the areas before it stay unmapped.  iommufd_ioas_unmap()
 * writes nothing back on an error: the caller's length is unchanged.
 */
static void test_ioas_unmap_cut_area_after_whole_ones_enoent(void)
{
    Ioas s;
    struct iommu_ioas_unmap u = { .size = sizeof(u) };

    if (ioas_up(&s, 1 << 20)) {
        T_OK(t_ioas_map(s.fd, s.ioas, s.buf, 0x1000, 0x10000, FIXED_RW));
        T_OK(t_ioas_map(s.fd, s.ioas, s.buf, 0x2000, 0x11000, FIXED_RW));
        T_OK(t_ioas_map(s.fd, s.ioas, s.buf, 0x4000, 0x20000, FIXED_RW));
        u.ioas_id = s.ioas;
        u.iova = 0x10000;
        u.length = 0x12000;                  /* cuts the area at 0x20000 */
        T_ERR(t_ioctl(s.fd, IOMMU_IOAS_UNMAP, &u), ENOENT);
        g_assert_cmphex(u.length, ==, 0x12000);
        /* the two areas before it are gone, the cut one is whole */
        T_OK(t_ioas_map(s.fd, s.ioas, s.buf, 0x3000, 0x10000, FIXED_RW));
        T_ERR(t_ioas_map(s.fd, s.ioas, s.buf, 0x1000, 0x23000, FIXED_RW), EEXIST);
    }
    ioas_down(&s);
}

/*
 * iopt_unmap_iova_range(): an area pinned by a HW queue (the internal
 * access of iommufd_hw_queue_alloc_phys locks it: area->num_locks) stops
 * the walk with EBUSY after the areas before it were unmapped; UNMAP of
 * everything (iopt_unmap_all) alike.  Nothing is written back.
 */
static void test_ioas_unmap_pinned_area_after_unpinned_ebusy(void)
{
    TEnv e;
    uint32_t q = 0;
    uint8_t *x = t_alloc_aligned(0x10000, 0x10000);
    struct iommu_ioas_unmap u = { .size = sizeof(u) };
    uint64_t len = 0;
    const uint64_t below = T_GUEST_IOVA - 0x100000, above = T_GUEST_IOVA + 0x100000;

    if (t_env_up(&e, 1, 0x10000, IOMMU_VIOMMU_TYPE_TEGRA241_CMDQV)) {
        T_OK(t_ioas_map(e.fd, e.ioas, x, 0x1000, below, FIXED_RW));
        T_OK(t_ioas_map(e.fd, e.ioas, x, 0x1000, above, FIXED_RW));
        T_OK(t_hwq_alloc(e.fd, e.viommu, IOMMU_HW_QUEUE_TYPE_TEGRA241_CMDQV, 0, T_GUEST_IOVA,
                         512, &q));
        u.ioas_id = e.ioas;
        u.iova = below;
        u.length = above + 0x1000 - below;
        T_ERR(t_ioctl(e.fd, IOMMU_IOAS_UNMAP, &u), EBUSY);
        g_assert_cmphex(u.length, ==, above + 0x1000 - below);
        /* the area below is unmapped, the pinned one and the one above stay */
        T_OK(t_ioas_map(e.fd, e.ioas, x, 0x1000, below, FIXED_RW));
        T_ERR(t_ioas_map(e.fd, e.ioas, x, 0x1000, T_GUEST_IOVA, FIXED_RW), EEXIST);
        T_ERR(t_ioas_map(e.fd, e.ioas, x, 0x1000, above, FIXED_RW), EEXIST);
        /* everything: the same walk */
        u.iova = 0;
        u.length = UINT64_MAX;
        T_ERR(t_ioctl(e.fd, IOMMU_IOAS_UNMAP, &u), EBUSY);
        g_assert_cmphex(u.length, ==, UINT64_MAX);
        T_OK(t_ioas_map(e.fd, e.ioas, x, 0x1000, below, FIXED_RW));
        T_ERR(t_ioas_map(e.fd, e.ioas, x, 0x1000, above, FIXED_RW), EEXIST);
        /* unpinned, it all goes */
        T_OK(t_destroy(e.fd, q));
        T_OK(t_ioas_unmap(e.fd, e.ioas, 0, UINT64_MAX, &len));
        g_assert_cmphex(len, ==, 0x1000 + 0x10000 + 0x1000);
    }
    t_env_down(&e);
    t_free_aligned(x, 0x10000);
}

/* ------------------------------------------------------- CHANGE_PROCESS */

static int map_file(int fd, uint32_t ioas, int mfd, uint64_t len, uint64_t iova)
{
    struct iommu_ioas_map_file m = {
        .size = sizeof(m), .flags = FIXED_RW, .ioas_id = ioas, .fd = mfd,
        .start = 0, .length = len, .iova = iova,
    };

    return t_ioctl(fd, IOMMU_IOAS_MAP_FILE, &m);
}

static int change_process(int fd)
{
    struct iommu_ioas_change_process c = { .size = sizeof(c) };

    return t_ioctl(fd, IOMMU_IOAS_CHANGE_PROCESS, &c);
}

/*
 * iommufd_ioas_change_process(): every area of every IOAS of the iommufd
 * must be file backed (IOPT_ADDRESS_FILE: mapped with IOMMU_IOAS_MAP_FILE),
 * else EINVAL; with no area at all it succeeds.
 */
static void test_ioas_change_process_needs_map_file_areas(void)
{
    Ioas s;
    uint32_t ioas2 = 0;
    int mfd = memfd_create("t-change-process", MFD_CLOEXEC);
    struct iommu_ioas_change_process c = { .size = sizeof(c), .__reserved = 1 };

    T_REQUIRE(mfd >= 0 && ftruncate(mfd, 0x10000) == 0);
    if (ioas_up(&s, 1 << 20)) {
        T_ERR(t_ioctl(s.fd, IOMMU_IOAS_CHANGE_PROCESS, &c), EOPNOTSUPP);
        T_OK(change_process(s.fd));                         /* no area */
        T_OK(map_file(s.fd, s.ioas, mfd, 0x10000, 0x100000));
        T_OK(change_process(s.fd));                         /* all file backed */
        /* a user-VA area in another IOAS of the same iommufd */
        T_OK(t_ioas_alloc(s.fd, &ioas2));
        T_OK(t_ioas_map(s.fd, ioas2, s.buf, 0x1000, 0x200000, FIXED_RW));
        T_ERR(change_process(s.fd), EINVAL);
        T_OK(t_ioas_unmap(s.fd, ioas2, 0x200000, 0x1000, NULL));
        T_OK(change_process(s.fd));
        /* and in the same IOAS */
        T_OK(t_ioas_map(s.fd, s.ioas, s.buf, 0x1000, 0x200000, FIXED_RW));
        T_ERR(change_process(s.fd), EINVAL);
    }
    ioas_down(&s);
    close(mfd);
}

/* -------------------------------------------------------------- DESTROY */

static void test_destroy_unknown_enoent(void)
{
    int fd = t_iommufd();
    uint32_t id = 0;

    T_REQUIRE(fd >= 0);
    T_ERR(t_destroy(fd, 12345), ENOENT);
    T_OK(t_ioas_alloc(fd, &id));
    T_OK(t_destroy(fd, id));
    T_ERR(t_destroy(fd, id), ENOENT);
    close(fd);
}

static void test_destroy_ioas_held_by_hwpt_ebusy(void)
{
    TEnv e;
    TJ *d;

    if (t_env_up(&e, 1, 0, 0)) {
        T_ERR(t_destroy(e.fd, e.ioas), EBUSY);
        d = t_dump();
        g_assert_true(t_holders_contain(t_dump_obj(d, e.ioas), e.s2));
        g_assert_cmpuint(tj_len(tj_get(d, "rejected_destroys")), >=, 1);
        tj_free(d);
        T_OK(t_vfio_detach(e.dev[0]));
        T_OK(t_destroy(e.fd, e.s2));
        T_OK(t_destroy(e.fd, e.ioas));
    }
    t_env_down(&e);
}

static void test_destroy_nest_parent_held_by_attached_device_ebusy(void)
{
    TEnv e;
    TJ *d;

    if (t_env_up(&e, 1, 0, 0)) {
        d = t_dump();
        g_assert_cmpint(tj_get_int(t_dump_obj(d, e.devid[0]), "attached", -1), ==, e.s2);
        tj_free(d);
        T_ERR(t_destroy(e.fd, e.s2), EBUSY);
        T_OK(t_vfio_detach(e.dev[0]));
        d = t_dump();
        g_assert_cmpint(tj_get_int(t_dump_obj(d, e.devid[0]), "attached", -1), ==, 0);
        tj_free(d);
        T_OK(t_destroy(e.fd, e.s2));
    }
    t_env_down(&e);
}

static void test_destroy_nest_parent_held_by_viommu_ebusy(void)
{
    TEnv e;
    TJ *d;

    if (t_env_up(&e, 1, 0, IOMMU_VIOMMU_TYPE_ARM_SMMUV3)) {
        T_OK(t_vfio_detach(e.dev[0]));
        T_ERR(t_destroy(e.fd, e.s2), EBUSY);
        d = t_dump();
        g_assert_true(t_holders_contain(t_dump_obj(d, e.s2), e.viommu));
        tj_free(d);
        T_OK(t_destroy(e.fd, e.viommu));
        T_OK(t_destroy(e.fd, e.s2));
    }
    t_env_down(&e);
}

static void test_destroy_viommu_held_by_vdevice_ebusy(void)
{
    TEnv e;
    uint32_t vdev = 0;
    TJ *d;

    if (t_env_up(&e, 1, 0, IOMMU_VIOMMU_TYPE_TEGRA241_CMDQV)) {
        T_OK(t_vdevice_alloc(e.fd, e.viommu, e.devid[0], 0x10, &vdev));
        T_ERR(t_destroy(e.fd, e.viommu), EBUSY);
        d = t_dump();
        g_assert_true(t_holders_contain(t_dump_obj(d, e.viommu), vdev));
        tj_free(d);
        T_OK(t_destroy(e.fd, vdev));
        T_OK(t_destroy(e.fd, e.viommu));
    }
    t_env_down(&e);
}

static void test_destroy_viommu_held_by_nested_hwpt_ebusy(void)
{
    TEnv e;
    uint32_t nested = 0;

    if (t_env_up(&e, 1, 0, IOMMU_VIOMMU_TYPE_ARM_SMMUV3)) {
        T_OK(t_hwpt_nested(e.fd, e.devid[0], e.viommu, 0, 0, &nested));
        T_ERR(t_destroy(e.fd, e.viommu), EBUSY);
        T_OK(t_destroy(e.fd, nested));
        T_OK(t_destroy(e.fd, e.viommu));
    }
    t_env_down(&e);
}

static void test_destroy_viommu_held_by_veventq_ebusy(void)
{
    TEnv e;
    uint32_t q = 0;
    int qfd = -1;

    if (t_env_up(&e, 1, 0, IOMMU_VIOMMU_TYPE_ARM_SMMUV3)) {
        T_OK(t_veventq_alloc(e.fd, e.viommu, IOMMU_VEVENTQ_TYPE_ARM_SMMUV3, 4, &q, &qfd));
        T_ERR(t_destroy(e.fd, e.viommu), EBUSY);
        close(qfd);
        T_OK(t_destroy(e.fd, q));
        T_OK(t_destroy(e.fd, e.viommu));
    }
    t_env_down(&e);
}

static void test_destroy_in_holder_order_succeeds(void)
{
    TEnv e;
    uint32_t vdev = 0, nested = 0, out = 0;
    TJ *d;

    if (t_env_up(&e, 1, 1 << 20, IOMMU_VIOMMU_TYPE_TEGRA241_CMDQV)) {
        T_OK(t_vdevice_alloc(e.fd, e.viommu, e.devid[0], 0x10, &vdev));
        T_OK(t_hwpt_nested(e.fd, e.devid[0], e.viommu, 0, 0, &nested));
        T_OK(t_vfio_attach(e.dev[0], nested, &out));
        g_assert_cmpuint(out, ==, nested);
        T_ERR(t_destroy(e.fd, nested), EBUSY);   /* attached device holds it */
        T_OK(t_vfio_attach(e.dev[0], e.s2, &out));
        T_OK(t_destroy(e.fd, nested));
        T_OK(t_destroy(e.fd, vdev));
        T_OK(t_destroy(e.fd, e.viommu));
        T_OK(t_vfio_detach(e.dev[0]));
        T_OK(t_destroy(e.fd, e.s2));
        T_OK(t_destroy(e.fd, e.ioas));
        d = t_dump();
        g_assert_null(t_dump_obj(d, e.viommu));
        g_assert_null(t_dump_obj(d, e.ioas));
        tj_free(d);
    }
    t_env_down(&e);
}

int main(int argc, char **argv)
{
    t_init(&argc, &argv);
    g_test_add_func("/generic/unknown_ioctl_enotty", test_unknown_ioctl_enotty);
    g_test_add_func("/generic/size_below_mandatory_einval", test_size_below_mandatory_einval);
    g_test_add_func("/generic/nonzero_tail_e2big", test_nonzero_tail_e2big);
    g_test_add_func("/generic/hostile_pointer_efault", test_hostile_pointer_efault);
    g_test_add_func("/generic/object_ids_start_at_1", test_object_ids_start_at_1);
    g_test_add_func("/generic/unknown_id_enoent", test_unknown_id_enoent);
    g_test_add_func("/generic/wrong_object_type_enoent", test_wrong_object_type_enoent);
    g_test_add_func("/generic/ids_are_per_iommufd", test_ids_are_per_iommufd);
    g_test_add_func("/generic/failed_ioctl_leaves_no_object", test_failed_ioctl_leaves_no_object);
    g_test_add_func("/ioas/alloc_flags_eopnotsupp", test_ioas_alloc_flags_eopnotsupp);
    g_test_add_func("/ioas/map_bad_flags_eopnotsupp", test_ioas_map_bad_flags_eopnotsupp);
    g_test_add_func("/ioas/map_neither_read_nor_write_einval",
                    test_ioas_map_neither_read_nor_write_einval);
    g_test_add_func("/ioas/map_length_0_or_unaligned_einval",
                    test_ioas_map_length_0_or_unaligned_einval);
    g_test_add_func("/ioas/map_ulong_max_eoverflow", test_ioas_map_ulong_max_eoverflow);
    g_test_add_func("/ioas/map_fixed_misaligned_einval", test_ioas_map_fixed_misaligned_einval);
    g_test_add_func("/ioas/map_fixed_overlap_eexist", test_ioas_map_fixed_overlap_eexist);
    g_test_add_func("/ioas/map_auto_never_iova_0", test_ioas_map_auto_never_iova_0);
    g_test_add_func("/ioas/sw_msi_window_reserved", test_ioas_sw_msi_window_reserved);
    g_test_add_func("/ioas/map_unmapped_user_va_efault", test_ioas_map_unmapped_user_va_efault);
    g_test_add_func("/ioas/unmap_everything", test_ioas_unmap_everything);
    g_test_add_func("/ioas/unmap_length_0_einval", test_ioas_unmap_length_0_einval);
    g_test_add_func("/ioas/unmap_partial_enoent", test_ioas_unmap_partial_enoent);
    g_test_add_func("/ioas/unmap_superset_returns_bytes_removed",
                    test_ioas_unmap_superset_returns_bytes_removed);
    g_test_add_func("/ioas/unmap_cut_area_after_whole_ones_enoent",
                    test_ioas_unmap_cut_area_after_whole_ones_enoent);
    g_test_add_func("/ioas/unmap_pinned_area_after_unpinned_ebusy",
                    test_ioas_unmap_pinned_area_after_unpinned_ebusy);
    g_test_add_func("/ioas/change_process_needs_map_file_areas",
                    test_ioas_change_process_needs_map_file_areas);
    g_test_add_func("/destroy/unknown_enoent", test_destroy_unknown_enoent);
    g_test_add_func("/destroy/ioas_held_by_hwpt_ebusy", test_destroy_ioas_held_by_hwpt_ebusy);
    g_test_add_func("/destroy/nest_parent_held_by_attached_device_ebusy",
                    test_destroy_nest_parent_held_by_attached_device_ebusy);
    g_test_add_func("/destroy/nest_parent_held_by_viommu_ebusy",
                    test_destroy_nest_parent_held_by_viommu_ebusy);
    g_test_add_func("/destroy/viommu_held_by_vdevice_ebusy",
                    test_destroy_viommu_held_by_vdevice_ebusy);
    g_test_add_func("/destroy/viommu_held_by_nested_hwpt_ebusy",
                    test_destroy_viommu_held_by_nested_hwpt_ebusy);
    g_test_add_func("/destroy/viommu_held_by_veventq_ebusy",
                    test_destroy_viommu_held_by_veventq_ebusy);
    g_test_add_func("/destroy/in_holder_order_succeeds", test_destroy_in_holder_order_succeeds);
    return g_test_run();
}
