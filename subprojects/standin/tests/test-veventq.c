/*
 * IOMMU_VEVENTQ_ALLOC, read(), poll() and overflow, with ARM SMMUv3 events
 * injected through the control socket ("event <BDF> <64 hex digits>").
 * Host: configs/cmdqv.conf (vfio0 = 0000:01:00.0, SID 0x100).
 * TEGRA241 vEVENTQ records come from queue errors: see test-engine.c.
 */
#include "thelp.h"

#include <endian.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <unistd.h>

#define BDF0 "0000:01:00.0"
#define BDF1 "0000:02:00.0"
#define VSID0 0x42
#define REC 40   /* header + 32-byte event */

typedef struct {
    TEnv e;
    uint32_t vdev, q;
    int qfd;
} Evq;

static bool evq_up(Evq *s, uint32_t depth)
{
    s->qfd = -1;
    if (!t_env_up(&s->e, 2, 0, IOMMU_VIOMMU_TYPE_ARM_SMMUV3) ||
        !T_OK(t_vdevice_alloc(s->e.fd, s->e.viommu, s->e.devid[0], VSID0, &s->vdev))) {
        return false;
    }
    if (depth) {
        return T_OK(t_veventq_alloc(s->e.fd, s->e.viommu, IOMMU_VEVENTQ_TYPE_ARM_SMMUV3, depth,
                                    &s->q, &s->qfd));
    }
    return true;
}

static void evq_down(Evq *s)
{
    if (s->qfd >= 0) {
        close(s->qfd);
    }
    t_env_down(&s->e);
}

/*
 * An event record whose first 8 bytes read the same whether the 64 hex digits
 * are taken as bytes in memory order or as four little-endian 64-bit words
 * written most significant digit first: event id in byte 0 and byte 7 (byte 7
 * is in the StreamID field, which the kernel replaces anyway).
 */
static bool inject(const char *bdf, uint8_t id)
{
    char hex[65];

    memset(hex, '0', 64);
    hex[64] = 0;
    snprintf(hex, 3, "%02x", id);
    hex[2] = '0';
    snprintf(hex + 14, 3, "%02x", id);
    hex[16] = '0';
    return t_ctl_ok("event %s %s", bdf, hex);
}

static bool readable(int fd, int timeout_ms)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };

    return poll(&p, 1, timeout_ms) == 1 && (p.revents & POLLIN);
}

static void check_record(const uint8_t *r, uint32_t seq, uint8_t id)
{
    const struct iommufd_vevent_header *h = (const void *)r;
    const struct iommu_vevent_arm_smmuv3 *ev = (const void *)(r + sizeof(*h));
    uint64_t w0 = le64toh(ev->evt[0]);

    g_assert_cmphex(h->flags, ==, 0);
    g_assert_cmpuint(h->sequence, ==, seq);
    g_assert_cmphex(w0 & 0xff, ==, id);
    g_assert_cmphex(w0 >> 32, ==, VSID0);      /* StreamID replaced by the vSID */
}

static void test_veventq_alloc_bad_flags_type_eopnotsupp(void)
{
    Evq s;
    struct iommu_veventq_alloc a = { .size = sizeof(a) };

    if (evq_up(&s, 0)) {
        a.viommu_id = s.e.viommu;
        a.veventq_depth = 4;
        a.type = IOMMU_VEVENTQ_TYPE_ARM_SMMUV3;
        a.flags = 1;
        T_ERR(t_ioctl(s.e.fd, IOMMU_VEVENTQ_ALLOC, &a), EOPNOTSUPP);
        a.flags = 0;
        a.__reserved = 1;
        T_ERR(t_ioctl(s.e.fd, IOMMU_VEVENTQ_ALLOC, &a), EOPNOTSUPP);
        a.__reserved = 0;
        a.type = IOMMU_VEVENTQ_TYPE_DEFAULT;
        T_ERR(t_ioctl(s.e.fd, IOMMU_VEVENTQ_ALLOC, &a), EOPNOTSUPP);
    }
    evq_down(&s);
}

static void test_veventq_depth_0_einval(void)
{
    Evq s;

    if (evq_up(&s, 0)) {
        T_ERR(t_veventq_alloc(s.e.fd, s.e.viommu, IOMMU_VEVENTQ_TYPE_ARM_SMMUV3, 0, NULL, NULL),
              EINVAL);
    }
    evq_down(&s);
}

/*
 * The kernel's ioctl table (iommufd/main.c, IOCTL_OP) gives
 * IOMMU_VEVENTQ_ALLOC a minimum size of offsetofend(out_veventq_fd) = 28:
 * a struct without __reserved is taken, one shorter is EINVAL.
 */
static void test_veventq_alloc_min_size_28(void)
{
    Evq s;
    struct iommu_veventq_alloc a;

    if (evq_up(&s, 0)) {
        memset(&a, 0, sizeof(a));
        a.size = 24;
        a.viommu_id = s.e.viommu;
        a.type = IOMMU_VEVENTQ_TYPE_ARM_SMMUV3;
        a.veventq_depth = 4;
        T_ERR(t_ioctl(s.e.fd, IOMMU_VEVENTQ_ALLOC, &a), EINVAL);
        a.size = 28;
        a.__reserved = 0x55;                 /* beyond the 28 bytes: not read */
        if (T_OK(t_ioctl(s.e.fd, IOMMU_VEVENTQ_ALLOC, &a))) {
            g_assert_cmpuint(a.out_veventq_id, !=, 0);
            g_assert_cmpint(a.out_veventq_fd, >=, 0);
            s.qfd = a.out_veventq_fd;
        }
    }
    evq_down(&s);
}

static void test_veventq_unknown_viommu_enoent(void)
{
    Evq s;

    if (evq_up(&s, 0)) {
        T_ERR(t_veventq_alloc(s.e.fd, 999, IOMMU_VEVENTQ_TYPE_ARM_SMMUV3, 4, NULL, NULL), ENOENT);
        T_ERR(t_veventq_alloc(s.e.fd, s.e.s2, IOMMU_VEVENTQ_TYPE_ARM_SMMUV3, 4, NULL, NULL),
              ENOENT);
    }
    evq_down(&s);
}

static void test_veventq_second_of_same_type_eexist(void)
{
    TEnv e;
    uint32_t q1 = 0, q2 = 0;
    int f1 = -1, f2 = -1;

    if (t_env_up(&e, 1, 0, IOMMU_VIOMMU_TYPE_TEGRA241_CMDQV)) {
        T_OK(t_veventq_alloc(e.fd, e.viommu, IOMMU_VEVENTQ_TYPE_ARM_SMMUV3, 4, &q1, &f1));
        T_ERR(t_veventq_alloc(e.fd, e.viommu, IOMMU_VEVENTQ_TYPE_ARM_SMMUV3, 8, NULL, NULL),
              EEXIST);
        /* another type on the same vIOMMU is fine */
        T_OK(t_veventq_alloc(e.fd, e.viommu, IOMMU_VEVENTQ_TYPE_TEGRA241_CMDQV, 4, &q2, &f2));
        T_ERR(t_veventq_alloc(e.fd, e.viommu, IOMMU_VEVENTQ_TYPE_TEGRA241_CMDQV, 4, NULL, NULL),
              EEXIST);
        close(f1);
        close(f2);
        T_OK(t_destroy(e.fd, q1));
        /* after destroy the type is free again */
        T_OK(t_veventq_alloc(e.fd, e.viommu, IOMMU_VEVENTQ_TYPE_ARM_SMMUV3, 4, &q1, &f1));
        close(f1);
    }
    t_env_down(&e);
}

static void test_veventq_fd_is_cloexec(void)
{
    Evq s;

    if (evq_up(&s, 4)) {
        int fl = fcntl(s.qfd, F_GETFD);

        g_assert_cmpint(fl, >=, 0);
        g_assert_true(fl & FD_CLOEXEC);
    }
    evq_down(&s);
}

static void test_veventq_empty_reads_0_no_pollin(void)
{
    Evq s;
    uint8_t buf[256];

    if (evq_up(&s, 4)) {
        g_assert_false(readable(s.qfd, 0));
        g_assert_cmpint(read(s.qfd, buf, sizeof(buf)), ==, 0);
    }
    evq_down(&s);
}

static void test_veventq_nonzero_offset_espipe(void)
{
    Evq s;
    uint8_t buf[256];

    if (evq_up(&s, 4)) {
        T_REQUIRE(inject(BDF0, 0x10));
        T_ERR(pread(s.qfd, buf, sizeof(buf), 8) < 0 ? errno : 0, ESPIPE);
        T_ERR(pread(s.qfd, buf, sizeof(buf), 0) < 0 ? errno : 0, 0);
    }
    evq_down(&s);
}

static void test_veventq_event_carries_vsid(void)
{
    Evq s;
    uint8_t buf[256];
    TJ *d;

    if (evq_up(&s, 4)) {
        T_REQUIRE(inject(BDF0, 0x10));
        g_assert_true(readable(s.qfd, 2000));
        d = t_dump();
        g_assert_cmpint(tj_get_int(t_dump_obj(d, s.q), "queued", -1), ==, 1);
        g_assert_cmpstr(tj_get_str(t_dump_obj(d, s.q), "veventq_type"), ==, "arm_smmuv3");
        g_assert_cmpint(tj_get_int(t_dump_obj(d, s.q), "depth", -1), ==, 4);
        g_assert_cmpint(tj_get_int(t_dump_obj(d, s.q), "viommu", -1), ==, s.e.viommu);
        tj_free(d);
        g_assert_cmpint(read(s.qfd, buf, sizeof(buf)), ==, REC);
        check_record(buf, 0, 0x10);
        g_assert_false(readable(s.qfd, 0));
        g_assert_cmpint(read(s.qfd, buf, sizeof(buf)), ==, 0);
    }
    evq_down(&s);
}

/*
 * A program built with _FORTIFY_SOURCE reads through glibc's __read_chk and
 * __pread_chk (QEMU's sanitizer build does): they must reach the vEVENTQ
 * as read() does, not the eventfd under it.
 */
extern ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen);
extern ssize_t __pread_chk(int fd, void *buf, size_t n, off_t off, size_t buflen);

static void test_veventq_fortified_reads(void)
{
    Evq s;
    uint8_t buf[256];

    if (evq_up(&s, 8)) {
        T_REQUIRE(inject(BDF0, 0x10) && inject(BDF0, 0x11));
        g_assert_cmpint(__read_chk(s.qfd, buf, REC, sizeof(buf)), ==, REC);
        check_record(buf, 0, 0x10);
        g_assert_cmpint(__pread_chk(s.qfd, buf, sizeof(buf), 0, sizeof(buf)), ==, REC);
        check_record(buf, 1, 0x11);
        g_assert_cmpint(__read_chk(s.qfd, buf, sizeof(buf), sizeof(buf)), ==, 0);
    }
    evq_down(&s);
}

static void test_veventq_several_records_per_read(void)
{
    Evq s;
    uint8_t buf[256];

    if (evq_up(&s, 8)) {
        T_REQUIRE(inject(BDF0, 0x10) && inject(BDF0, 0x11) && inject(BDF0, 0x12));
        g_assert_cmpint(read(s.qfd, buf, sizeof(buf)), ==, 3 * REC);
        check_record(buf, 0, 0x10);
        check_record(buf + REC, 1, 0x11);
        check_record(buf + 2 * REC, 2, 0x12);
    }
    evq_down(&s);
}

static void test_veventq_read_returns_whole_records(void)
{
    Evq s;
    uint8_t buf[256];

    if (evq_up(&s, 8)) {
        T_REQUIRE(inject(BDF0, 0x10) && inject(BDF0, 0x11) && inject(BDF0, 0x12));
        /*
         * a first record larger than the buffer, nothing consumed:
         * iommufd_veventq_fops_read gives EINVAL on 7.0, 0 before
         */
        if (t_kernel() >= 700) {
            g_assert_cmpint(read(s.qfd, buf, REC - 1), ==, -1);
            g_assert_cmpint(errno, ==, EINVAL);
        } else {
            g_assert_cmpint(read(s.qfd, buf, REC - 1), ==, 0);
        }
        /* room for two and a half */
        g_assert_cmpint(read(s.qfd, buf, 2 * REC + REC / 2), ==, 2 * REC);
        check_record(buf, 0, 0x10);
        check_record(buf + REC, 1, 0x11);
        g_assert_true(readable(s.qfd, 0));
        g_assert_cmpint(read(s.qfd, buf, sizeof(buf)), ==, REC);
        check_record(buf, 2, 0x12);
    }
    evq_down(&s);
}

static void test_veventq_overflow_lost_events(void)
{
    Evq s;
    uint8_t buf[512];
    const struct iommufd_vevent_header *h;
    TJ *d;

    if (evq_up(&s, 2)) {
        /* depth 2: the 3rd and 4th events are lost */
        T_REQUIRE(inject(BDF0, 0x10) && inject(BDF0, 0x11));
        inject(BDF0, 0x12);
        inject(BDF0, 0x13);
        d = t_dump();
        g_assert_cmpint(tj_get_int(t_dump_obj(d, s.q), "lost", -1), ==, 2);
        tj_free(d);
        g_assert_cmpint(read(s.qfd, buf, sizeof(buf)), ==, 2 * REC + 8);
        check_record(buf, 0, 0x10);
        check_record(buf + REC, 1, 0x11);
        /* a header-only LOST_EVENTS record stays at the tail with a sequence number */
        h = (const void *)(buf + 2 * REC);
        g_assert_cmphex(h->flags, ==, IOMMU_VEVENTQ_FLAG_LOST_EVENTS);
        g_assert_cmpuint(h->sequence, >=, 2);
        g_assert_cmpuint(h->sequence, <=, 3);
        /* the gap in sequence numbers is the count lost: the next event is 4 */
        T_REQUIRE(inject(BDF0, 0x14));
        g_assert_cmpint(read(s.qfd, buf, sizeof(buf)), ==, REC);
        check_record(buf, 4, 0x14);
    }
    evq_down(&s);
}

static void test_veventq_lost_header_not_repeated(void)
{
    Evq s;
    uint8_t buf[512];

    if (evq_up(&s, 1)) {
        T_REQUIRE(inject(BDF0, 0x10));
        for (int i = 0; i < 5; i++) {
            inject(BDF0, 0x20);
        }
        /* one event and one LOST_EVENTS header, however many were lost */
        g_assert_cmpint(read(s.qfd, buf, sizeof(buf)), ==, REC + 8);
        g_assert_cmpint(read(s.qfd, buf, sizeof(buf)), ==, 0);
        T_REQUIRE(inject(BDF0, 0x11));
        g_assert_cmpint(read(s.qfd, buf, sizeof(buf)), ==, REC);
        check_record(buf, 6, 0x11);
    }
    evq_down(&s);
}

static void test_veventq_without_queue_events_dropped(void)
{
    Evq s;
    uint8_t buf[256];
    char *r;

    if (evq_up(&s, 0)) {
        r = t_ctl("event %s %064x", BDF0, 0);
        g_assert_nonnull(r);
        g_assert_nonnull(r ? strstr(r, "\"ok\":false") : NULL);
        g_free(r);
        T_OK(t_veventq_alloc(s.e.fd, s.e.viommu, IOMMU_VEVENTQ_TYPE_ARM_SMMUV3, 4, &s.q, &s.qfd));
        g_assert_cmpint(read(s.qfd, buf, sizeof(buf)), ==, 0);
    }
    evq_down(&s);
}

static void test_veventq_device_without_vdevice_refused(void)
{
    Evq s;
    char *r;

    if (evq_up(&s, 4)) {
        r = t_ctl("event %s %064x", BDF1, 0);
        g_assert_nonnull(r ? strstr(r, "\"ok\":false") : NULL);
        g_free(r);
        r = t_ctl("event 0000:7f:00.0 %064x", 0);
        g_assert_nonnull(r ? strstr(r, "\"ok\":false") : NULL);
        g_free(r);
        r = t_ctl("event %s 1234", BDF0);
        g_assert_nonnull(r ? strstr(r, "\"ok\":false") : NULL);
        g_free(r);
    }
    evq_down(&s);
}

static void test_veventq_destroy_needs_fd_closed(void)
{
    Evq s;

    if (evq_up(&s, 4)) {
        T_ERR(t_destroy(s.e.fd, s.q), EBUSY);
        close(s.qfd);
        s.qfd = -1;
        T_OK(t_destroy(s.e.fd, s.q));
    }
    evq_down(&s);
}

int main(int argc, char **argv)
{
    t_init(&argc, &argv);
    g_test_add_func("/veventq/alloc_bad_flags_type_eopnotsupp",
                    test_veventq_alloc_bad_flags_type_eopnotsupp);
    g_test_add_func("/veventq/depth_0_einval", test_veventq_depth_0_einval);
    g_test_add_func("/veventq/fortified_reads", test_veventq_fortified_reads);
    g_test_add_func("/veventq/alloc_min_size_28", test_veventq_alloc_min_size_28);
    g_test_add_func("/veventq/unknown_viommu_enoent", test_veventq_unknown_viommu_enoent);
    g_test_add_func("/veventq/second_of_same_type_eexist", test_veventq_second_of_same_type_eexist);
    g_test_add_func("/veventq/fd_is_cloexec", test_veventq_fd_is_cloexec);
    g_test_add_func("/veventq/empty_reads_0_no_pollin", test_veventq_empty_reads_0_no_pollin);
    g_test_add_func("/veventq/nonzero_offset_espipe", test_veventq_nonzero_offset_espipe);
    g_test_add_func("/veventq/event_carries_vsid", test_veventq_event_carries_vsid);
    g_test_add_func("/veventq/several_records_per_read", test_veventq_several_records_per_read);
    g_test_add_func("/veventq/read_returns_whole_records", test_veventq_read_returns_whole_records);
    g_test_add_func("/veventq/overflow_lost_events", test_veventq_overflow_lost_events);
    g_test_add_func("/veventq/lost_header_not_repeated", test_veventq_lost_header_not_repeated);
    g_test_add_func("/veventq/without_queue_events_dropped",
                    test_veventq_without_queue_events_dropped);
    g_test_add_func("/veventq/device_without_vdevice_refused",
                    test_veventq_device_without_vdevice_refused);
    g_test_add_func("/veventq/destroy_needs_fd_closed", test_veventq_destroy_needs_fd_closed);
    return g_test_run();
}
