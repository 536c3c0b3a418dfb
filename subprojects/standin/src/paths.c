/*
 * Paths. Two kinds of path are the stand-in's:
 *
 * - the character devices /dev/iommu and /dev/vfio/devices/vfioN, which
 *   stat(), access() and fstat() of their fds report as the kernel does
 *   (opening them is interpose.c's);
 * - the fake PCI functions. QEMU's vfio-pci,host=BDF resolves the BDF to
 *   /sys/bus/pci/devices/BDF and reads that directory (vfio_device_get_name:
 *   stat; vfio_device_is_mdev: realpath of subsystem; iommufd_cdev_getfd:
 *   opendir of vfio-dev, then the vfioN/dev file); libvirt also reads links
 *   such as iommu_group. A path naming a configured function,
 *   /sys/bus/pci/devices/<BDF>[/...], is served from
 *   $STANDIN_DIR/sys/bus/pci/devices/<BDF>[/...]. Every other path reaches
 *   libc untouched. A realpath() that was redirected gives its result back
 *   under /sys, as the kernel's sysfs would.
 *
 * The libc entry points that take a path and may meet one of these are
 * interposed here, with their 64-bit and fortified (_FORTIFY_SOURCE)
 * variants; the open family is in interpose.c.
 */
/* define stat and stat64, ... as separate symbols */
#undef _FILE_OFFSET_BITS
#include "standin.h"
#include "real.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

REAL(int, fstat, int, struct stat *)
REAL(int, fstat64, int, struct stat64 *)
REAL(int, stat, const char *, struct stat *)
REAL(int, stat64, const char *, struct stat64 *)
REAL(int, lstat, const char *, struct stat *)
REAL(int, lstat64, const char *, struct stat64 *)
REAL(int, fstatat, int, const char *, struct stat *, int)
REAL(int, fstatat64, int, const char *, struct stat64 *, int)
REAL(int, statx, int, const char *, int, unsigned int, struct statx *)
REAL(int, access, const char *, int)
REAL(int, faccessat, int, const char *, int, int)
REAL(int, euidaccess, const char *, int)
REAL(int, eaccess, const char *, int)
REAL(ssize_t, readlink, const char *, char *, size_t)
REAL(ssize_t, readlinkat, int, const char *, char *, size_t)
REAL(ssize_t, __readlink_chk, const char *, char *, size_t, size_t)
REAL(ssize_t, __readlinkat_chk, int, const char *, char *, size_t, size_t)
REAL(char *, realpath, const char *, char *)
REAL(char *, __realpath_chk, const char *, char *, size_t)
REAL(char *, canonicalize_file_name, const char *)
REAL(DIR *, opendir, const char *)
REAL(FILE *, fopen, const char *, const char *)
REAL(FILE *, fopen64, const char *, const char *)

#define SYS_PCI_DEVICES "/sys/bus/pci/devices/"

/* $STANDIN_DIR as realpath() spells it, to map results back to /sys */
static char dir_real[PATH_MAX];
static size_t dir_real_len;

void st_paths_init(void)
{
    if (get_realpath()(st_dir, dir_real)) {
        dir_real_len = strlen(dir_real);
    } else {
        dir_real[0] = 0;
        dir_real_len = 0;
    }
}

const char *st_sys_path(const char *path, char *buf, size_t len)
{
    const size_t n = sizeof(SYS_PCI_DEVICES) - 1;
    const char *bdf;

    if (!st_active || !path || strncmp(path, SYS_PCI_DEVICES, n)) {
        return path;
    }
    bdf = path + n;
    for (int i = 0; i < st_host.npci; i++) {
        size_t bl = strlen(st_host.pci[i].bdf);

        if (!strncmp(bdf, st_host.pci[i].bdf, bl) && (bdf[bl] == '/' || !bdf[bl])) {
            if ((size_t)snprintf(buf, len, "%s/sys/bus/pci/devices/%s", st_dir, bdf) >= len) {
                return path;
            }
            st_log(3, "path %s -> %s", path, buf);
            return buf;
        }
    }
    return path;
}

/* A resolved path inside $STANDIN_DIR/sys stands for the same path under /sys. */
static void sys_path_back(char *resolved)
{
    if (resolved && dir_real_len && !strncmp(resolved, dir_real, dir_real_len) &&
        !strncmp(resolved + dir_real_len, "/sys", 4) &&
        (resolved[dir_real_len + 4] == '/' || !resolved[dir_real_len + 4])) {
        memmove(resolved, resolved + dir_real_len, strlen(resolved + dir_real_len) + 1);
    }
}

/* ------------------------------------------------------------------ stat */

bool st_file_rdev(struct st_file *f, dev_t *rdev)
{
    switch (f->type) {
    case FT_IOMMUFD:
        *rdev = makedev(ST_IOMMU_MAJOR, ST_IOMMU_MINOR);
        return true;
    case FT_VFIO:
        *rdev = makedev(ST_VFIO_MAJOR, f->pci->index);
        return true;
    default:
        return false;
    }
}

/* the character device a path names, if it is one of ours */
static bool path_rdev(const char *path, dev_t *rdev)
{
    int idx;
    char tail;

    if (!st_active || !path) {
        return false;
    }
    if (!strcmp(path, "/dev/iommu")) {
        *rdev = makedev(ST_IOMMU_MAJOR, ST_IOMMU_MINOR);
        return true;
    }
    if (sscanf(path, "/dev/vfio/devices/vfio%d%c", &idx, &tail) == 1 && idx >= 0 && idx < st_host.npci) {
        *rdev = makedev(ST_VFIO_MAJOR, idx);
        return true;
    }
    return false;
}

static bool fd_rdev(int fd, dev_t *rdev)
{
    struct st_file *f = st_fd_file(fd);

    return f && st_file_rdev(f, rdev);
}

#define FILL_STAT(st, rdev)                        \
    do {                                           \
        memset((st), 0, sizeof(*(st)));            \
        (st)->st_mode = S_IFCHR | 0600;            \
        (st)->st_rdev = (rdev);                    \
        (st)->st_dev = makedev(0, 5);              \
        (st)->st_ino = 1000 + minor(rdev);         \
        (st)->st_nlink = 1;                        \
        (st)->st_uid = getuid();                   \
        (st)->st_gid = getgid();                   \
        (st)->st_blksize = 4096;                   \
    } while (0)

static void fill_statx(struct statx *stx, dev_t rdev)
{
    memset(stx, 0, sizeof(*stx));
    stx->stx_mask = STATX_BASIC_STATS;
    stx->stx_mode = S_IFCHR | 0600;
    stx->stx_rdev_major = major(rdev);
    stx->stx_rdev_minor = minor(rdev);
    stx->stx_dev_major = 0;
    stx->stx_dev_minor = 5;
    stx->stx_ino = 1000 + minor(rdev);
    stx->stx_nlink = 1;
    stx->stx_uid = getuid();
    stx->stx_gid = getgid();
    stx->stx_blksize = 4096;
}

/* fstatat(fd, "", AT_EMPTY_PATH) names the fd itself */
static bool at_rdev(int dirfd, const char *path, int flags, dev_t *rdev)
{
    if (path && !*path && (flags & AT_EMPTY_PATH)) {
        return fd_rdev(dirfd, rdev);
    }
    return path_rdev(path, rdev);
}

ST_EXPORT int fstat(int fd, struct stat *st)
{
    dev_t rdev;

    if (fd_rdev(fd, &rdev)) {
        FILL_STAT(st, rdev);
        return 0;
    }
    return get_fstat()(fd, st);
}

ST_EXPORT int fstat64(int fd, struct stat64 *st)
{
    dev_t rdev;

    if (fd_rdev(fd, &rdev)) {
        FILL_STAT(st, rdev);
        return 0;
    }
    return get_fstat64()(fd, st);
}

#define PATH_STAT(realcall, ...)                          \
    char buf[ST_PATHBUF];                                 \
    dev_t rdev;                                           \
    if (path_rdev(path, &rdev)) {                         \
        FILL_STAT(st, rdev);                              \
        return 0;                                         \
    }                                                     \
    path = st_sys_path(path, buf, sizeof(buf));           \
    return realcall(__VA_ARGS__);

ST_EXPORT int stat(const char *path, struct stat *st)
{
    PATH_STAT(get_stat(), path, st)
}

ST_EXPORT int stat64(const char *path, struct stat64 *st)
{
    PATH_STAT(get_stat64(), path, st)
}

ST_EXPORT int lstat(const char *path, struct stat *st)
{
    PATH_STAT(get_lstat(), path, st)
}

ST_EXPORT int lstat64(const char *path, struct stat64 *st)
{
    PATH_STAT(get_lstat64(), path, st)
}

ST_EXPORT int fstatat(int dirfd, const char *path, struct stat *st, int flags)
{
    char buf[ST_PATHBUF];
    dev_t rdev;

    if (at_rdev(dirfd, path, flags, &rdev)) {
        FILL_STAT(st, rdev);
        return 0;
    }
    return get_fstatat()(dirfd, st_sys_path(path, buf, sizeof(buf)), st, flags);
}

ST_EXPORT int fstatat64(int dirfd, const char *path, struct stat64 *st, int flags)
{
    char buf[ST_PATHBUF];
    dev_t rdev;

    if (at_rdev(dirfd, path, flags, &rdev)) {
        FILL_STAT(st, rdev);
        return 0;
    }
    return get_fstatat64()(dirfd, st_sys_path(path, buf, sizeof(buf)), st, flags);
}

ST_EXPORT int statx(int dirfd, const char *path, int flags, unsigned int mask, struct statx *stx)
{
    char buf[ST_PATHBUF];
    dev_t rdev;

    if (at_rdev(dirfd, path, flags, &rdev)) {
        fill_statx(stx, rdev);
        return 0;
    }
    return get_statx()(dirfd, st_sys_path(path, buf, sizeof(buf)), flags, mask, stx);
}

/* ---------------------------------------------------------------- access */

static int dev_access(int mode)
{
    if (mode & X_OK) {
        errno = EACCES;
        return -1;
    }
    return 0;
}

ST_EXPORT int access(const char *path, int mode)
{
    char buf[ST_PATHBUF];
    dev_t rdev;

    if (path_rdev(path, &rdev)) {
        return dev_access(mode);
    }
    return get_access()(st_sys_path(path, buf, sizeof(buf)), mode);
}

ST_EXPORT int faccessat(int dirfd, const char *path, int mode, int flags)
{
    char buf[ST_PATHBUF];
    dev_t rdev;

    if (path_rdev(path, &rdev)) {
        return dev_access(mode);
    }
    return get_faccessat()(dirfd, st_sys_path(path, buf, sizeof(buf)), mode, flags);
}

ST_EXPORT int euidaccess(const char *path, int mode)
{
    char buf[ST_PATHBUF];
    dev_t rdev;

    if (path_rdev(path, &rdev)) {
        return dev_access(mode);
    }
    return get_euidaccess()(st_sys_path(path, buf, sizeof(buf)), mode);
}

ST_EXPORT int eaccess(const char *path, int mode)
{
    char buf[ST_PATHBUF];
    dev_t rdev;

    if (path_rdev(path, &rdev)) {
        return dev_access(mode);
    }
    return get_eaccess()(st_sys_path(path, buf, sizeof(buf)), mode);
}

/* -------------------------------------------------------- links, realpath */

ST_EXPORT ssize_t readlink(const char *path, char *out, size_t len)
{
    char buf[ST_PATHBUF];

    return get_readlink()(st_sys_path(path, buf, sizeof(buf)), out, len);
}

ST_EXPORT ssize_t readlinkat(int dirfd, const char *path, char *out, size_t len)
{
    char buf[ST_PATHBUF];

    return get_readlinkat()(dirfd, st_sys_path(path, buf, sizeof(buf)), out, len);
}

ST_EXPORT ssize_t __readlink_chk(const char *path, char *out, size_t len, size_t outlen)
{
    char buf[ST_PATHBUF];

    return get___readlink_chk()(st_sys_path(path, buf, sizeof(buf)), out, len, outlen);
}

ST_EXPORT ssize_t __readlinkat_chk(int dirfd, const char *path, char *out, size_t len,
                                   size_t outlen)
{
    char buf[ST_PATHBUF];

    return get___readlinkat_chk()(dirfd, st_sys_path(path, buf, sizeof(buf)), out, len, outlen);
}

ST_EXPORT char *realpath(const char *path, char *resolved)
{
    char buf[ST_PATHBUF];
    const char *p = st_sys_path(path, buf, sizeof(buf));
    char *r = get_realpath()(p, resolved);

    if (p != path) {
        sys_path_back(r);
    }
    return r;
}

ST_EXPORT char *__realpath_chk(const char *path, char *resolved, size_t resolvedlen)
{
    char buf[ST_PATHBUF];
    const char *p = st_sys_path(path, buf, sizeof(buf));
    char *r = get___realpath_chk()(p, resolved, resolvedlen);

    if (p != path) {
        sys_path_back(r);
    }
    return r;
}

ST_EXPORT char *canonicalize_file_name(const char *path)
{
    char buf[ST_PATHBUF];
    const char *p = st_sys_path(path, buf, sizeof(buf));
    char *r = get_canonicalize_file_name()(p);

    if (p != path) {
        sys_path_back(r);
    }
    return r;
}

/* ------------------------------------------------- directories, stdio */

ST_EXPORT DIR *opendir(const char *path)
{
    char buf[ST_PATHBUF];

    return get_opendir()(st_sys_path(path, buf, sizeof(buf)));
}

ST_EXPORT FILE *fopen(const char *path, const char *mode)
{
    char buf[ST_PATHBUF];

    return get_fopen()(st_sys_path(path, buf, sizeof(buf)), mode);
}

ST_EXPORT FILE *fopen64(const char *path, const char *mode)
{
    char buf[ST_PATHBUF];

    return get_fopen64()(st_sys_path(path, buf, sizeof(buf)), mode);
}
