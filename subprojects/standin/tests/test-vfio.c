/*
 * VFIO character devices in iommufd mode (kernel-contract.md "VFIO character
 * devices", INTERFACE.md device nodes and sysfs), and fault injection on a
 * VFIO ioctl through the control socket.
 * Host: configs/cmdqv.conf (vfio0 = 0000:01:00.0 10de:2342 class 030200 BAR0 1M,
 * vfio1 = 0000:02:00.0 10de:2343 class 020000 BAR0 64K).
 */
#include "thelp.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static bool region(int fd, uint32_t index, struct vfio_region_info *ri)
{
    memset(ri, 0, sizeof(*ri));
    ri->argsz = sizeof(*ri);
    ri->index = index;
    return T_OK(t_ioctl(fd, VFIO_DEVICE_GET_REGION_INFO, ri));
}

typedef struct {
    int fd, dev;
    uint32_t devid;
} Dev;

static bool dev_up(Dev *d, int n)
{
    d->fd = t_iommufd();
    d->dev = t_vfio_open(n);
    if (d->fd < 0 || d->dev < 0) {
        g_test_message("open: %s", g_strerror(errno));
        g_test_fail();
        return false;
    }
    return T_OK(t_vfio_bind(d->dev, d->fd, &d->devid));
}

static void dev_down(Dev *d)
{
    if (d->dev >= 0) {
        close(d->dev);
    }
    if (d->fd >= 0) {
        close(d->fd);
    }
}

static void test_vfio_node_rdev_matches_sysfs(void)
{
    const char *dir = g_getenv("STANDIN_DIR");
    static const char *bdf[3] = { "0000:01:00.0", "0000:02:00.0", "0000:03:00.0" };

    T_REQUIRE(dir);
    for (int n = 0; n < 3; n++) {
        char *path = g_strdup_printf("%s/sys/bus/pci/devices/%s/vfio-dev/vfio%d/dev", dir, bdf[n],
                                     n);
        char *text = NULL, *want = g_strdup_printf("%d:%d", 511, n);
        struct stat st;
        int fd;

        g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
        if (text) {
            g_strchomp(text);
            g_assert_cmpstr(text, ==, want);
        }
        fd = t_vfio_open(n);
        g_assert_cmpint(fd, >=, 0);
        if (fd >= 0) {
            g_assert_cmpint(fstat(fd, &st), ==, 0);
            g_assert_true(S_ISCHR(st.st_mode));
            g_assert_cmpuint(major(st.st_rdev), ==, 511);
            g_assert_cmpuint(minor(st.st_rdev), ==, (unsigned)n);
            close(fd);
        }
        g_free(path);
        g_free(text);
        g_free(want);
    }
    /* there is no vfio3 */
    g_assert_cmpint(t_vfio_open(3), <, 0);
}

static void test_vfio_bind_returns_devid(void)
{
    Dev d;
    TJ *j, *o;

    if (dev_up(&d, 0)) {
        g_assert_cmpuint(d.devid, >=, 1);
        j = t_dump();
        o = t_dump_obj(j, d.devid);
        g_assert_cmpstr(tj_get_str(o, "type"), ==, "device");
        g_assert_cmpstr(tj_get_str(o, "bdf"), ==, "0000:01:00.0");
        g_assert_cmphex(tj_get_int(o, "psid", -1), ==, 0x100);
        g_assert_cmpint(tj_get_int(o, "attached", -1), ==, 0);
        tj_free(j);
    }
    dev_down(&d);
}

static void test_vfio_attach_ioas_and_detach(void)
{
    Dev d;
    uint32_t ioas = 0, out = 0;
    TJ *j;

    if (dev_up(&d, 0)) {
        T_OK(t_ioas_alloc(d.fd, &ioas));
        T_ERR(t_vfio_attach(d.dev, 999, &out), ENOENT);
        T_OK(t_vfio_attach(d.dev, ioas, &out));
        g_assert_cmpuint(out, !=, 0);
        j = t_dump();
        g_assert_cmpint(tj_get_int(t_dump_obj(j, d.devid), "attached", -1), ==, out);
        tj_free(j);
        /* the IOAS is in use while a device is attached through it */
        T_ERR(t_destroy(d.fd, ioas), EBUSY);
        T_OK(t_vfio_detach(d.dev));
        j = t_dump();
        g_assert_cmpint(tj_get_int(t_dump_obj(j, d.devid), "attached", -1), ==, 0);
        tj_free(j);
    }
    dev_down(&d);
}

static void test_vfio_get_info(void)
{
    Dev d;
    struct vfio_device_info info = { .argsz = sizeof(info) };

    if (dev_up(&d, 0)) {
        T_OK(t_ioctl(d.dev, VFIO_DEVICE_GET_INFO, &info));
        g_assert_true(info.flags & VFIO_DEVICE_FLAGS_PCI);
        g_assert_true(info.flags & VFIO_DEVICE_FLAGS_RESET);
        g_assert_cmpuint(info.num_regions, >=, VFIO_PCI_NUM_REGIONS);
        g_assert_cmpuint(info.num_irqs, >=, VFIO_PCI_MSIX_IRQ_INDEX + 1);
        T_OK(t_ioctl(d.dev, VFIO_DEVICE_RESET, NULL));
    }
    dev_down(&d);
}

static void test_vfio_region_info(void)
{
    Dev d;
    struct vfio_region_info ri;

    if (dev_up(&d, 0)) {
        if (region(d.dev, VFIO_PCI_CONFIG_REGION_INDEX, &ri)) {
            g_assert_cmpuint(ri.size, >=, 256);
            g_assert_true(ri.flags & VFIO_REGION_INFO_FLAG_READ);
            g_assert_true(ri.flags & VFIO_REGION_INFO_FLAG_WRITE);
        }
        if (region(d.dev, VFIO_PCI_BAR0_REGION_INDEX, &ri)) {
            g_assert_cmpuint(ri.size, ==, 1 << 20);
            g_assert_true(ri.flags & VFIO_REGION_INFO_FLAG_MMAP);
            g_assert_true(ri.flags & VFIO_REGION_INFO_FLAG_READ);
        }
        if (region(d.dev, VFIO_PCI_BAR1_REGION_INDEX, &ri)) {
            g_assert_cmpuint(ri.size, ==, 0);
        }
    }
    dev_down(&d);
}

static void check_ids(int n, uint16_t vendor, uint16_t device, uint32_t class_code)
{
    Dev d;
    struct vfio_region_info ri;
    uint8_t cfg[64];

    if (dev_up(&d, n) && region(d.dev, VFIO_PCI_CONFIG_REGION_INDEX, &ri)) {
        g_assert_cmpint(pread(d.dev, cfg, sizeof(cfg), ri.offset), ==, sizeof(cfg));
        g_assert_cmphex(cfg[0] | cfg[1] << 8, ==, vendor);
        g_assert_cmphex(cfg[2] | cfg[3] << 8, ==, device);
        g_assert_cmphex(cfg[9] | cfg[10] << 8 | cfg[11] << 16, ==, class_code);
    }
    dev_down(&d);
}

static void test_vfio_config_space_shows_ids(void)
{
    check_ids(0, 0x10de, 0x2342, 0x030200);
    check_ids(1, 0x10de, 0x2343, 0x020000);
    check_ids(2, 0x15b3, 0x101e, 0x020000);
}

static void test_vfio_bar_mmap_and_pread(void)
{
    Dev d;
    struct vfio_region_info ri;
    uint8_t *bar;
    uint32_t v = 0;

    if (dev_up(&d, 0) && region(d.dev, VFIO_PCI_BAR0_REGION_INDEX, &ri)) {
        bar = mmap(NULL, ri.size, PROT_READ | PROT_WRITE, MAP_SHARED, d.dev, ri.offset);
        T_REQUIRE(bar != MAP_FAILED);
        *(volatile uint32_t *)(bar + 0x1000) = 0xcafef00d;
        g_assert_cmpint(pread(d.dev, &v, 4, ri.offset + 0x1000), ==, 4);
        g_assert_cmphex(v, ==, 0xcafef00d);
        v = 0x12345678;
        g_assert_cmpint(pwrite(d.dev, &v, 4, ri.offset + 0x2000), ==, 4);
        g_assert_cmphex(*(volatile uint32_t *)(bar + 0x2000), ==, 0x12345678);
        munmap(bar, ri.size);
    }
    dev_down(&d);
}

static void test_vfio_unsupported_feature_enotty(void)
{
    Dev d;
    struct vfio_device_feature f = {
        .argsz = sizeof(f),
        .flags = VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_GET |
                 VFIO_DEVICE_FEATURE_MIGRATION,
    };

    if (dev_up(&d, 0)) {
        T_ERR(t_ioctl(d.dev, VFIO_DEVICE_FEATURE, &f), ENOTTY);
    }
    dev_down(&d);
}

static void test_vfio_fault_injection_on_ioctl(void)
{
    Dev d;
    struct vfio_device_info info = { .argsz = sizeof(info) };
    TJ *j, *fi;
    bool seen = false;

    if (dev_up(&d, 0)) {
        T_REQUIRE(t_ctl_ok("fault VFIO_DEVICE_GET_INFO 2 EIO"));
        T_OK(t_ioctl(d.dev, VFIO_DEVICE_GET_INFO, &info));          /* 1st */
        T_ERR(t_ioctl(d.dev, VFIO_DEVICE_GET_INFO, &info), EIO);    /* 2nd */
        T_OK(t_ioctl(d.dev, VFIO_DEVICE_GET_INFO, &info));          /* once only */
        j = t_dump();
        fi = tj_get(j, "faults_injected");
        for (guint i = 0; i < tj_len(fi); i++) {
            TJ *f = tj_at(fi, i);

            if (!g_strcmp0(tj_get_str(f, "ioctl"), "VFIO_DEVICE_GET_INFO") &&
                !g_strcmp0(tj_get_str(f, "errno"), "EIO")) {
                seen = true;
            }
        }
        g_assert_true(seen);
        tj_free(j);
        /* nth 0: every call, until cleared */
        T_REQUIRE(t_ctl_ok("fault VFIO_DEVICE_RESET 0 ENODEV"));
        T_ERR(t_ioctl(d.dev, VFIO_DEVICE_RESET, NULL), ENODEV);
        T_ERR(t_ioctl(d.dev, VFIO_DEVICE_RESET, NULL), ENODEV);
        T_REQUIRE(t_ctl_ok("fault-clear"));
        T_OK(t_ioctl(d.dev, VFIO_DEVICE_RESET, NULL));
        /* a faulted BIND leaves the device unbound */
        T_REQUIRE(t_ctl_ok("fault VFIO_DEVICE_BIND_IOMMUFD 1 ENOMEM"));
        {
            int dev1 = t_vfio_open(1);
            uint32_t id = 0;

            T_ERR(t_vfio_bind(dev1, d.fd, &id), ENOMEM);
            T_OK(t_vfio_bind(dev1, d.fd, &id));
            close(dev1);
        }
    }
    dev_down(&d);
}

static void test_vfio_bad_fault_requests_refused(void)
{
    char *r;

    r = t_ctl("fault NOT_AN_IOCTL 1 EIO");
    g_assert_nonnull(r ? strstr(r, "\"ok\":false") : NULL);
    g_free(r);
    r = t_ctl("fault VFIO_DEVICE_RESET 1 ENOTANERRNO");
    g_assert_nonnull(r ? strstr(r, "\"ok\":false") : NULL);
    g_free(r);
    r = t_ctl("frobnicate");
    g_assert_nonnull(r ? strstr(r, "\"ok\":false") : NULL);
    g_free(r);
}

int main(int argc, char **argv)
{
    t_init(&argc, &argv);
    g_test_add_func("/vfio/node_rdev_matches_sysfs", test_vfio_node_rdev_matches_sysfs);
    g_test_add_func("/vfio/bind_returns_devid", test_vfio_bind_returns_devid);
    g_test_add_func("/vfio/attach_ioas_and_detach", test_vfio_attach_ioas_and_detach);
    g_test_add_func("/vfio/get_info", test_vfio_get_info);
    g_test_add_func("/vfio/region_info", test_vfio_region_info);
    g_test_add_func("/vfio/config_space_shows_ids", test_vfio_config_space_shows_ids);
    g_test_add_func("/vfio/bar_mmap_and_pread", test_vfio_bar_mmap_and_pread);
    g_test_add_func("/vfio/unsupported_feature_enotty", test_vfio_unsupported_feature_enotty);
    g_test_add_func("/vfio/fault_injection_on_ioctl", test_vfio_fault_injection_on_ioctl);
    g_test_add_func("/vfio/bad_fault_requests_refused", test_vfio_bad_fault_requests_refused);
    return g_test_run();
}
