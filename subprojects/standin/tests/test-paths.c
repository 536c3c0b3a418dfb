/*
 * /sys/bus/pci/devices/<BDF> for the configured functions (INTERFACE.md
 * "Paths"): QEMU's vfio-pci,host=BDF resolves the BDF to that directory and
 * reads it with stat (vfio_device_get_name), realpath of subsystem
 * (vfio_device_is_mdev), opendir of vfio-dev and the vfioN/dev file
 * (iommufd_cdev_getfd); libvirt reads links such as iommu_group. Each libc
 * entry point that takes a path lands in $STANDIN_DIR's fake tree, under its
 * plain, 64-bit and fortified names; every other path is untouched.
 * Host: configs/cmdqv.conf (vfio0 = 0000:01:00.0, vfio1 = 0000:02:00.0,
 * vfio2 = 0000:03:00.0).
 */
/* call stat and stat64, fopen and fopen64 ... by their own names */
#undef _FILE_OFFSET_BITS
#include "thelp.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* glibc's fortified entry points, called directly as _FORTIFY_SOURCE code does */
extern int __open_2(const char *path, int flags);
extern int __open64_2(const char *path, int flags);
extern int __openat_2(int dirfd, const char *path, int flags);
extern int __openat64_2(int dirfd, const char *path, int flags);
extern char *__realpath_chk(const char *path, char *resolved, size_t resolvedlen);
extern ssize_t __readlink_chk(const char *path, char *buf, size_t len, size_t buflen);
extern ssize_t __readlinkat_chk(int dirfd, const char *path, char *buf, size_t len,
                                size_t buflen);

#define DEV0 "/sys/bus/pci/devices/0000:01:00.0"

static const char *bdfs[3] = { "0000:01:00.0", "0000:02:00.0", "0000:03:00.0" };

/* the fake tree's own path for @rel under $STANDIN_DIR */
static char *fake(const char *rel)
{
    return g_strdup_printf("%s/%s", g_getenv("STANDIN_DIR"), rel);
}

/* stat by the raw syscall: what the path is without the stand-in */
static int raw_stat(const char *path, struct stat *st)
{
    return syscall(SYS_newfstatat, AT_FDCWD, path, st, 0) < 0 ? errno : 0;
}

static void test_stat_of_sys_device_is_the_fake_directory(void)
{
    char *dir = fake("sys/bus/pci/devices/0000:01:00.0");
    struct stat want, st;
    struct stat64 st64;
    struct statx stx;

    T_REQUIRE(raw_stat(dir, &want) == 0);
    g_assert_cmpint(stat(DEV0, &st), ==, 0);
    g_assert_true(S_ISDIR(st.st_mode));
    g_assert_cmpuint(st.st_ino, ==, want.st_ino);
    g_assert_cmpint(stat64(DEV0, &st64), ==, 0);
    g_assert_cmpuint(st64.st_ino, ==, want.st_ino);
    g_assert_cmpint(lstat(DEV0, &st), ==, 0);
    g_assert_cmpuint(st.st_ino, ==, want.st_ino);
    g_assert_cmpint(lstat64(DEV0, &st64), ==, 0);
    g_assert_cmpuint(st64.st_ino, ==, want.st_ino);
    g_assert_cmpint(fstatat(AT_FDCWD, DEV0, &st, 0), ==, 0);
    g_assert_cmpuint(st.st_ino, ==, want.st_ino);
    g_assert_cmpint(fstatat64(AT_FDCWD, DEV0, &st64, 0), ==, 0);
    g_assert_cmpuint(st64.st_ino, ==, want.st_ino);
    g_assert_cmpint(statx(AT_FDCWD, DEV0, 0, STATX_BASIC_STATS, &stx), ==, 0);
    g_assert_cmpuint(stx.stx_ino, ==, want.st_ino);
    /* a file below it */
    g_assert_cmpint(stat(DEV0 "/vendor", &st), ==, 0);
    g_assert_true(S_ISREG(st.st_mode));
    g_assert_cmpint(stat(DEV0 "/no-such-file", &st), ==, -1);
    g_assert_cmpint(errno, ==, ENOENT);
    g_free(dir);
}

/* what QEMU 10.2 does for vfio-pci,host=0000:01:00.0,iommufd=... */
static void test_qemu_host_bdf_sequence_opens_the_cdev(void)
{
    g_autofree char *sysfsdev = g_strdup_printf("/sys/bus/pci/devices/%04x:%02x:%02x.%01x", 0,
                                                1, 0, 0);
    g_autofree char *path = NULL, *vfio_dev_path = NULL, *vfio_path = NULL, *contents = NULL;
    g_autofree char *tmp = NULL, *subsys = NULL, *name = NULL;
    struct dirent *dent;
    struct stat st;
    int major_, minor_, fd;
    DIR *dir;

    /* vfio_device_get_name() */
    g_assert_cmpint(stat(sysfsdev, &st), ==, 0);
    name = g_path_get_basename(sysfsdev);
    g_assert_cmpstr(name, ==, "0000:01:00.0");
    /* vfio_device_is_mdev() */
    tmp = g_strdup_printf("%s/subsystem", sysfsdev);
    subsys = realpath(tmp, NULL);
    g_assert_cmpstr(subsys, ==, "/sys/bus/pci");
    /* iommufd_cdev_getfd() */
    path = g_strdup_printf("%s/vfio-dev", sysfsdev);
    dir = opendir(path);
    T_REQUIRE(dir);
    while ((dent = readdir(dir))) {
        if (!strncmp(dent->d_name, "vfio", 4)) {
            vfio_dev_path = g_strdup_printf("%s/%s/dev", path, dent->d_name);
            break;
        }
    }
    T_REQUIRE(vfio_dev_path);
    g_assert_true(g_file_get_contents(vfio_dev_path, &contents, NULL, NULL));
    g_assert_cmpint(sscanf(contents, "%d:%d", &major_, &minor_), ==, 2);
    vfio_path = g_strdup_printf("/dev/vfio/devices/%s", dent->d_name);
    closedir(dir);
    g_assert_cmpstr(vfio_path, ==, "/dev/vfio/devices/vfio0");
    /* open_cdev(): the node's st_rdev must be the dev file's */
    fd = open(vfio_path, O_RDWR | O_CLOEXEC);
    T_REQUIRE(fd >= 0);
    g_assert_cmpint(fstat(fd, &st), ==, 0);
    g_assert_true(S_ISCHR(st.st_mode));
    g_assert_cmpuint(st.st_rdev, ==, makedev(major_, minor_));
    close(fd);
}

static void test_every_configured_function_is_served(void)
{
    for (int n = 0; n < 3; n++) {
        g_autofree char *p = g_strdup_printf("/sys/bus/pci/devices/%s/vfio-dev", bdfs[n]);
        g_autofree char *want = g_strdup_printf("vfio%d", n);
        struct dirent *d;
        bool found = false;
        DIR *dir = opendir(p);

        g_assert_nonnull(dir);
        while (dir && (d = readdir(dir))) {
            if (!strcmp(d->d_name, want)) {
                found = true;
            }
        }
        g_assert_true(found);
        if (dir) {
            closedir(dir);
        }
    }
}

static void test_realpath_is_given_back_under_sys(void)
{
    char buf[PATH_MAX];
    char *r;

    r = realpath(DEV0 "/subsystem", NULL);
    g_assert_cmpstr(r, ==, "/sys/bus/pci");
    free(r);
    g_assert_cmpstr(realpath(DEV0 "/vfio-dev/../vendor", buf), ==, DEV0 "/vendor");
    g_assert_cmpstr(__realpath_chk(DEV0 "/subsystem", buf, sizeof(buf)), ==, "/sys/bus/pci");
    r = canonicalize_file_name(DEV0 "/driver");
    g_assert_cmpstr(r, ==, "/sys/bus/pci/drivers/vfio-pci");
    free(r);
    g_assert_null(realpath(DEV0 "/no-such-file", buf));
    g_assert_cmpint(errno, ==, ENOENT);
}

static void test_realpath_of_the_fake_tree_itself_is_unchanged(void)
{
    g_autofree char *p = fake("sys/bus/pci/devices/0000:01:00.0/subsystem");
    g_autofree char *want = fake("sys/bus/pci");
    g_autofree char *wantr = realpath(want, NULL);
    char *r = realpath(p, NULL);

    /* sysfsdev=$STANDIN_DIR/... is not a /sys path: nothing is mapped */
    g_assert_nonnull(wantr);
    g_assert_cmpstr(r, ==, wantr);
    free(r);
}

static void test_readlink_gives_the_fake_tree_links(void)
{
    char buf[256];
    ssize_t n;

    n = readlink(DEV0 "/driver", buf, sizeof(buf) - 1);
    g_assert_cmpint(n, >, 0);
    buf[MAX(n, 0)] = 0;
    g_assert_cmpstr(buf, ==, "../../drivers/vfio-pci");
    n = readlinkat(AT_FDCWD, DEV0 "/iommu_group", buf, sizeof(buf) - 1);
    g_assert_cmpint(n, >, 0);
    buf[MAX(n, 0)] = 0;
    g_assert_cmpstr(buf, ==, "../../../../kernel/iommu_groups/0");
    n = __readlink_chk(DEV0 "/subsystem", buf, sizeof(buf) - 1, sizeof(buf));
    g_assert_cmpint(n, >, 0);
    buf[MAX(n, 0)] = 0;
    g_assert_cmpstr(buf, ==, "../../../../bus/pci");
    n = __readlinkat_chk(AT_FDCWD, "/sys/bus/pci/devices/0000:02:00.0/iommu_group", buf,
                         sizeof(buf) - 1, sizeof(buf));
    g_assert_cmpint(n, >, 0);
    buf[MAX(n, 0)] = 0;
    g_assert_cmpstr(buf, ==, "../../../../kernel/iommu_groups/1");
}

static void test_iommu_group_lists_its_function(void)
{
    g_autofree char *grp = fake("sys/kernel/iommu_groups/1/devices/0000:02:00.0");
    g_autofree char *dev = fake("sys/bus/pci/devices/0000:02:00.0");
    struct stat a, b;

    g_assert_cmpint(raw_stat(grp, &a), ==, 0);
    g_assert_cmpint(raw_stat(dev, &b), ==, 0);
    g_assert_cmpuint(a.st_ino, ==, b.st_ino);
}

static void check_vendor_fd(int fd, const char *how)
{
    char buf[16] = "";
    ssize_t n;

    if (fd < 0) {
        g_test_message("%s: %s", how, g_strerror(errno));
        g_test_fail();
        return;
    }
    n = pread(fd, buf, sizeof(buf) - 1, 0);
    g_assert_cmpint(n, ==, 7);
    g_assert_cmpstr(buf, ==, "0x10de\n");
    close(fd);
}

static void check_vendor_file(FILE *f, const char *how)
{
    char buf[16] = "";

    if (!f) {
        g_test_message("%s: %s", how, g_strerror(errno));
        g_test_fail();
        return;
    }
    g_assert_nonnull(fgets(buf, sizeof(buf), f));
    g_assert_cmpstr(buf, ==, "0x10de\n");
    fclose(f);
}

static void test_open_family_reads_the_fake_files(void)
{
    const char *p = DEV0 "/vendor";
    char *contents = NULL;

    check_vendor_fd(open(p, O_RDONLY), "open");
    check_vendor_fd(open64(p, O_RDONLY), "open64");
    check_vendor_fd(openat(AT_FDCWD, p, O_RDONLY), "openat");
    check_vendor_fd(openat64(AT_FDCWD, p, O_RDONLY), "openat64");
    check_vendor_fd(__open_2(p, O_RDONLY), "__open_2");
    check_vendor_fd(__open64_2(p, O_RDONLY), "__open64_2");
    check_vendor_fd(__openat_2(AT_FDCWD, p, O_RDONLY), "__openat_2");
    check_vendor_fd(__openat64_2(AT_FDCWD, p, O_RDONLY), "__openat64_2");
    check_vendor_file(fopen(p, "r"), "fopen");
    check_vendor_file(fopen64(p, "r"), "fopen64");
    g_assert_true(g_file_get_contents(p, &contents, NULL, NULL));
    g_assert_cmpstr(contents, ==, "0x10de\n");
    g_free(contents);
}

static void test_access_family_sees_the_fake_files(void)
{
    const char *p = DEV0 "/vendor";

    g_assert_cmpint(access(p, R_OK), ==, 0);
    g_assert_cmpint(faccessat(AT_FDCWD, p, R_OK, 0), ==, 0);
    g_assert_cmpint(euidaccess(p, R_OK), ==, 0);
    g_assert_cmpint(eaccess(p, R_OK), ==, 0);
    g_assert_true(g_file_test(DEV0 "/vfio-dev", G_FILE_TEST_IS_DIR));
    g_assert_cmpint(access(DEV0 "/no-such-file", F_OK), ==, -1);
    g_assert_cmpint(errno, ==, ENOENT);
}

static void test_device_nodes_by_fd_and_by_path(void)
{
    int ifd = t_iommufd(), vfd = t_vfio_open(2);
    struct statx stx;
    struct stat st;

    T_REQUIRE(ifd >= 0 && vfd >= 0);
    g_assert_cmpint(fstatat(ifd, "", &st, AT_EMPTY_PATH), ==, 0);
    g_assert_cmpuint(st.st_rdev, ==, makedev(10, 123));
    g_assert_cmpint(statx(vfd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &stx), ==, 0);
    g_assert_true(S_ISCHR(stx.stx_mode));
    g_assert_cmpuint(stx.stx_rdev_major, ==, 511);
    g_assert_cmpuint(stx.stx_rdev_minor, ==, 2);
    g_assert_cmpint(statx(AT_FDCWD, "/dev/iommu", 0, STATX_BASIC_STATS, &stx), ==, 0);
    g_assert_cmpuint(stx.stx_rdev_minor, ==, 123);
    g_assert_cmpint(fstatat(AT_FDCWD, "/dev/vfio/devices/vfio1", &st, 0), ==, 0);
    g_assert_cmpuint(st.st_rdev, ==, makedev(511, 1));
    g_assert_cmpint(faccessat(AT_FDCWD, "/dev/iommu", R_OK | W_OK, 0), ==, 0);
    close(vfd);
    close(ifd);
}

/* the stand-in's stat() of @path gives what the raw syscall gives */
static void check_untouched(const char *path)
{
    struct stat a, b;
    int ra = raw_stat(path, &a);
    int rb = stat(path, &b) < 0 ? errno : 0;

    if (ra != rb || (!ra && a.st_ino != b.st_ino)) {
        g_test_message("%s: raw %s ino %llu, stand-in %s ino %llu", path, t_errname(ra),
                       ra ? 0ull : (unsigned long long)a.st_ino, t_errname(rb),
                       rb ? 0ull : (unsigned long long)b.st_ino);
        g_test_fail();
    }
}

static void test_other_paths_pass_through(void)
{
    char *dir = fake("");
    char buf[PATH_MAX];

    check_untouched("/sys/bus/pci/devices/0000:ee:1f.7");        /* not configured */
    check_untouched("/sys/bus/pci/devices/0000:ee:1f.7/vfio-dev");
    check_untouched("/sys/bus/pci/devices/0000:01:00.00");       /* a longer name */
    check_untouched("/sys/bus/pci/devices/0000:01:00.0x/vendor");
    check_untouched("/sys/bus/pci/devices");
    check_untouched("/sys/bus/pci");
    check_untouched("/sys/kernel/iommu_groups/0");
    check_untouched("/proc/self/status");
    /* relative to a directory other than / */
    g_assert_cmpint(chdir("/tmp"), ==, 0);
    check_untouched("sys/bus/pci/devices/0000:01:00.0");
    g_assert_cmpint(chdir(dir), ==, 0);
    /* from $STANDIN_DIR a relative sys/... is the fake tree by itself */
    check_untouched("sys/bus/pci/devices/0000:01:00.0");
    g_assert_cmpint(chdir("/"), ==, 0);
    /* realpath of a path that is not redirected is libc's */
    g_assert_cmpstr(realpath("/proc/self/../self/status", buf), !=, NULL);
    g_free(dir);
}

int main(int argc, char **argv)
{
    t_init(&argc, &argv);
    if (!g_getenv("STANDIN_DIR")) {
        g_printerr("STANDIN_DIR is not set\n");
        return 2;
    }
    g_test_add_func("/paths/stat-of-sys-device-is-the-fake-directory",
                    test_stat_of_sys_device_is_the_fake_directory);
    g_test_add_func("/paths/qemu-host-bdf-sequence-opens-the-cdev",
                    test_qemu_host_bdf_sequence_opens_the_cdev);
    g_test_add_func("/paths/every-configured-function-is-served",
                    test_every_configured_function_is_served);
    g_test_add_func("/paths/realpath-is-given-back-under-sys",
                    test_realpath_is_given_back_under_sys);
    g_test_add_func("/paths/realpath-of-the-fake-tree-itself-is-unchanged",
                    test_realpath_of_the_fake_tree_itself_is_unchanged);
    g_test_add_func("/paths/readlink-gives-the-fake-tree-links",
                    test_readlink_gives_the_fake_tree_links);
    g_test_add_func("/paths/iommu-group-lists-its-function", test_iommu_group_lists_its_function);
    g_test_add_func("/paths/open-family-reads-the-fake-files",
                    test_open_family_reads_the_fake_files);
    g_test_add_func("/paths/access-family-sees-the-fake-files",
                    test_access_family_sees_the_fake_files);
    g_test_add_func("/paths/device-nodes-by-fd-and-by-path", test_device_nodes_by_fd_and_by_path);
    g_test_add_func("/paths/other-paths-pass-through", test_other_paths_pass_through);
    return g_test_run();
}
