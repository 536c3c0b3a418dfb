/*
 * The libc entry points the stand-in interposes that act on fds, and open().
 * Every fake file is backed by a real kernel fd (a memfd for /dev/iommu and
 * the VFIO devices, an eventfd for a vEVENTQ), so fd numbers, poll(),
 * fcntl() and close-on-exec behave; a table indexed by fd says which fds are
 * ours. Calls on any other fd go straight to libc after one lock-free table
 * look-up. munmap, mremap, mprotect (to no read access) and a MAP_FIXED
 * mmap first tell the CMDQV engine that the memory changes mapping, so it
 * stops reading a HW queue's ring there with plain loads.
 * The path-taking entry points (stat, realpath, opendir, ... and
 * the /sys redirection open() shares) are in paths.c; recvmsg() in fdpass.c.
 */
/* define open and open64, stat and stat64, ... as separate symbols */
#undef _FILE_OFFSET_BITS
#include "standin.h"
#include "real.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

REAL(int, open, const char *, int, ...)
REAL(int, open64, const char *, int, ...)
REAL(int, openat, int, const char *, int, ...)
REAL(int, openat64, int, const char *, int, ...)
REAL(int, __open_2, const char *, int)
REAL(int, __open64_2, const char *, int)
REAL(int, __openat_2, int, const char *, int)
REAL(int, __openat64_2, int, const char *, int)
REAL(int, close, int)
REAL(int, ioctl, int, unsigned long, ...)
REAL(void *, mmap, void *, size_t, int, int, int, off_t)
REAL(void *, mmap64, void *, size_t, int, int, int, off64_t)
REAL(int, munmap, void *, size_t)
REAL(int, mprotect, void *, size_t, int)
REAL(void *, mremap, void *, size_t, size_t, int, ...)
REAL(ssize_t, read, int, void *, size_t)
REAL(ssize_t, write, int, const void *, size_t)
REAL(ssize_t, pread, int, void *, size_t, off_t)
REAL(ssize_t, pread64, int, void *, size_t, off64_t)
REAL(ssize_t, __read_chk, int, void *, size_t, size_t)
REAL(ssize_t, __pread_chk, int, void *, size_t, off_t, size_t)
REAL(ssize_t, __pread64_chk, int, void *, size_t, off64_t, size_t)
REAL(ssize_t, pwrite, int, const void *, size_t, off_t)
REAL(ssize_t, pwrite64, int, const void *, size_t, off64_t)
REAL(int, dup, int)
REAL(int, dup2, int, int)
REAL(int, dup3, int, int, int)
REAL(int, fcntl, int, int, ...)
REAL(int, fcntl64, int, int, ...)

void *st_real_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
}

int st_real_munmap(void *addr, size_t len)
{
    return syscall(SYS_munmap, addr, len);
}

int st_real_close(int fd)
{
    return syscall(SYS_close, fd);
}

static inline struct st_file *fd_get(int fd)
{
    if (fd < 0 || fd >= ST_FDMAX) {
        return NULL;
    }
    return __atomic_load_n(&st_fdtab[fd], __ATOMIC_ACQUIRE);
}

static int ctx_serial;

void st_file_note_backing(struct st_file *f)
{
    struct stat st;

    if (syscall(SYS_fstat, f->fd, &st) == 0) {
        f->bdev = st.st_dev;
        f->bino = st.st_ino;
    }
}

struct st_file *st_iommufd_install(int fd)
{
    struct st_ictx *ctx;
    struct st_file *f;

    if (fd < 0 || fd >= ST_FDMAX) {
        return NULL;
    }
    ctx = g_new0(struct st_ictx, 1);
    ctx->refs = 1;
    ctx->serial = ++ctx_serial;
    ctx->next = st_ctxs;
    st_ctxs = ctx;
    f = g_new0(struct st_file, 1);
    f->type = FT_IOMMUFD;
    f->fd = fd;
    f->refs = 1;
    f->ctx = ctx;
    st_file_note_backing(f);
    __atomic_store_n(&st_fdtab[fd], f, __ATOMIC_RELEASE);
    return f;
}

/* ------------------------------------------------------------------ open */

/* -1: not ours; else the result (fd or -errno) */
static int try_open(const char *path, int flags)
{
    int idx = -1;
    char tail;

    if (!st_active || !path || path[0] != '/') {
        return -1;
    }
    if (!strcmp(path, "/dev/iommu")) {
        struct st_file *f;
        int fd;

        st_used = true;
        fd = memfd_create(ST_MEMFD_IOMMUFD, (flags & O_CLOEXEC) ? MFD_CLOEXEC : 0);
        if (fd < 0) {
            return -errno;
        }
        if (flags & O_NONBLOCK) {
            fcntl(fd, F_SETFL, O_NONBLOCK);
        }
        pthread_mutex_lock(&st_lock);
        f = st_iommufd_install(fd);
        pthread_mutex_unlock(&st_lock);
        if (!f) {
            st_real_close(fd);
            return -EMFILE;
        }
        st_log(3, "open /dev/iommu -> fd %d (ctx %d)", fd, f->ctx->serial);
        return fd;
    }
    if (sscanf(path, "/dev/vfio/devices/vfio%d%c", &idx, &tail) == 1 && idx >= 0) {
        if (idx >= st_host.npci) {
            return -ENOENT;
        }
    } else {
        unsigned maj, min;

        if (sscanf(path, "/dev/char/%u:%u%c", &maj, &min, &tail) == 2 && maj == ST_VFIO_MAJOR) {
            if ((int)min >= st_host.npci) {
                return -ENOENT;
            }
            idx = min;
        } else {
            return -1;
        }
    }
    {
        int fd;

        st_used = true;
        pthread_mutex_lock(&st_lock);
        fd = st_vfio_open(idx, flags);
        pthread_mutex_unlock(&st_lock);
        st_log(3, "open %s -> fd %d", path, fd);
        return fd;
    }
}

static int ret_errno(int r)
{
    if (r < 0) {
        errno = -r;
        return -1;
    }
    return r;
}

#define OPEN_MODE()                         \
    mode_t mode = 0;                        \
    if (flags & (O_CREAT | __O_TMPFILE)) {  \
        va_list ap;                         \
        va_start(ap, flags);                \
        mode = va_arg(ap, mode_t);          \
        va_end(ap);                         \
    }

ST_EXPORT int open(const char *path, int flags, ...)
{
    char buf[ST_PATHBUF];
    int r;
    OPEN_MODE();
    r = try_open(path, flags);
    return r != -1 ? ret_errno(r)
                   : get_open()(st_sys_path(path, buf, sizeof(buf)), flags, mode);
}

ST_EXPORT int open64(const char *path, int flags, ...)
{
    char buf[ST_PATHBUF];
    int r;
    OPEN_MODE();
    r = try_open(path, flags);
    return r != -1 ? ret_errno(r)
                   : get_open64()(st_sys_path(path, buf, sizeof(buf)), flags, mode);
}

ST_EXPORT int openat(int dirfd, const char *path, int flags, ...)
{
    char buf[ST_PATHBUF];
    int r;
    OPEN_MODE();
    r = try_open(path, flags);
    return r != -1 ? ret_errno(r)
                   : get_openat()(dirfd, st_sys_path(path, buf, sizeof(buf)), flags, mode);
}

ST_EXPORT int openat64(int dirfd, const char *path, int flags, ...)
{
    char buf[ST_PATHBUF];
    int r;
    OPEN_MODE();
    r = try_open(path, flags);
    return r != -1 ? ret_errno(r)
                   : get_openat64()(dirfd, st_sys_path(path, buf, sizeof(buf)), flags, mode);
}

ST_EXPORT int __open_2(const char *path, int flags)
{
    char buf[ST_PATHBUF];
    int r = try_open(path, flags);

    return r != -1 ? ret_errno(r)
                   : get___open_2()(st_sys_path(path, buf, sizeof(buf)), flags);
}

ST_EXPORT int __open64_2(const char *path, int flags)
{
    char buf[ST_PATHBUF];
    int r = try_open(path, flags);

    return r != -1 ? ret_errno(r)
                   : get___open64_2()(st_sys_path(path, buf, sizeof(buf)), flags);
}

ST_EXPORT int __openat_2(int dirfd, const char *path, int flags)
{
    char buf[ST_PATHBUF];
    int r = try_open(path, flags);

    return r != -1 ? ret_errno(r)
                   : get___openat_2()(dirfd, st_sys_path(path, buf, sizeof(buf)), flags);
}

ST_EXPORT int __openat64_2(int dirfd, const char *path, int flags)
{
    char buf[ST_PATHBUF];
    int r = try_open(path, flags);

    return r != -1 ? ret_errno(r)
                   : get___openat64_2()(dirfd, st_sys_path(path, buf, sizeof(buf)), flags);
}

/* ----------------------------------------------------------------- close */

/* Drop one fd's reference to a file; called with st_lock held. */
static void file_put(struct st_file *f)
{
    if (--f->refs > 0) {
        return;
    }
    switch (f->type) {
    case FT_IOMMUFD:
        st_ictx_put(f->ctx);
        break;
    case FT_VFIO:
        st_vfio_release(f);
        break;
    case FT_MIGDATA:
        st_migf_release(f);
        break;
    case FT_VEVENTQ:
        if (f->veq) {
            f->veq->fd_open = false;
            if (f->veq->evfd >= 0) {
                st_real_close(f->veq->evfd);
                f->veq->evfd = -1;
            }
        }
        st_ictx_put(f->ctx);
        break;
    default:
        break;
    }
    g_free(f);
}

/* Forget fd (about to be closed or replaced); called with st_lock held. */
void st_fd_untrack(int fd)
{
    struct st_file *f = fd_get(fd);

    if (f) {
        __atomic_store_n(&st_fdtab[fd], NULL, __ATOMIC_RELEASE);
        file_put(f);
    }
}

ST_EXPORT int close(int fd)
{
    if (fd_get(fd)) {
        int r;

        pthread_mutex_lock(&st_lock);
        st_fd_untrack(fd);
        r = get_close()(fd);
        pthread_mutex_unlock(&st_lock);
        return r;
    }
    return get_close()(fd);
}

static int track_dup(int oldfd, int newfd)
{
    struct st_file *f = fd_get(oldfd);

    if (newfd < 0 || !f) {
        return newfd;
    }
    if (newfd >= ST_FDMAX) {
        get_close()(newfd);
        errno = EMFILE;
        return -1;
    }
    f->refs++;
    __atomic_store_n(&st_fdtab[newfd], f, __ATOMIC_RELEASE);
    return newfd;
}

ST_EXPORT int dup(int fd)
{
    int r;

    if (!fd_get(fd)) {
        return get_dup()(fd);
    }
    pthread_mutex_lock(&st_lock);
    r = track_dup(fd, get_dup()(fd));
    pthread_mutex_unlock(&st_lock);
    return r;
}

static int do_dup3(int oldfd, int newfd, int flags, bool is2)
{
    int r;

    if (!fd_get(oldfd) && !fd_get(newfd)) {
        return is2 ? get_dup2()(oldfd, newfd) : get_dup3()(oldfd, newfd, flags);
    }
    pthread_mutex_lock(&st_lock);
    if (oldfd == newfd) {
        r = is2 ? get_dup2()(oldfd, newfd) : get_dup3()(oldfd, newfd, flags);
        pthread_mutex_unlock(&st_lock);
        return r;
    }
    if (fcntl(oldfd, F_GETFD) < 0) {
        pthread_mutex_unlock(&st_lock);
        errno = EBADF;
        return -1;
    }
    st_fd_untrack(newfd);
    r = is2 ? get_dup2()(oldfd, newfd) : get_dup3()(oldfd, newfd, flags);
    r = track_dup(oldfd, r);
    pthread_mutex_unlock(&st_lock);
    return r;
}

ST_EXPORT int dup2(int oldfd, int newfd)
{
    return do_dup3(oldfd, newfd, 0, true);
}

ST_EXPORT int dup3(int oldfd, int newfd, int flags)
{
    return do_dup3(oldfd, newfd, flags, false);
}

static int do_fcntl(int (*fn)(int, int, ...), int fd, int cmd, void *arg)
{
    int r;

    if ((cmd != F_DUPFD && cmd != F_DUPFD_CLOEXEC) || !fd_get(fd)) {
        return fn(fd, cmd, arg);
    }
    pthread_mutex_lock(&st_lock);
    r = track_dup(fd, fn(fd, cmd, arg));
    pthread_mutex_unlock(&st_lock);
    return r;
}

ST_EXPORT int fcntl(int fd, int cmd, ...)
{
    va_list ap;
    void *arg;

    va_start(ap, cmd);
    arg = va_arg(ap, void *);
    va_end(ap);
    return do_fcntl(get_fcntl(), fd, cmd, arg);
}

ST_EXPORT int fcntl64(int fd, int cmd, ...)
{
    va_list ap;
    void *arg;

    va_start(ap, cmd);
    arg = va_arg(ap, void *);
    va_end(ap);
    return do_fcntl(get_fcntl64() ? get_fcntl64() : get_fcntl(), fd, cmd, arg);
}

/* ----------------------------------------------------------------- ioctl */

ST_EXPORT int ioctl(int fd, unsigned long req, ...)
{
    va_list ap;
    void *arg;
    struct st_file *f;
    int r;

    va_start(ap, req);
    arg = va_arg(ap, void *);
    va_end(ap);
    if (!(f = fd_get(fd))) {
        return get_ioctl()(fd, req, arg);
    }
    pthread_mutex_lock(&st_lock);
    f = fd_get(fd);
    if (!f) {
        pthread_mutex_unlock(&st_lock);
        return get_ioctl()(fd, req, arg);
    }
    req &= 0xffffffffu;
    st_used = true;          /* also for a file this process did not open */
    switch (f->type) {
    case FT_IOMMUFD:
        r = st_iommufd_ioctl(f, req, (uintptr_t)arg);
        break;
    case FT_VFIO:
        r = st_vfio_ioctl(f, req, (uintptr_t)arg);
        break;
    case FT_MIGDATA:
        r = st_migf_ioctl(f, req, (uintptr_t)arg);
        break;
    default:
        r = -ENOTTY;
        break;
    }
    pthread_mutex_unlock(&st_lock);
    if (r < 0) {
        const char *name = st_ioctl_name(req);

        if (name) {
            st_log(2, "%s on fd %d: %s", name, fd, st_errno_name(-r));
        } else {
            st_log(2, "ioctl 0x%lx on fd %d: %s", req, fd, st_errno_name(-r));
        }
        errno = -r;
        return -1;
    }
    if (st_loglevel >= 3) {
        const char *name = st_ioctl_name(req);

        st_log(3, "%s on fd %d: ok", name ? name : "ioctl", fd);
    }
    return r;
}

/* ------------------------------------------------------------------ mmap */

static void untrack_mmaps(uint64_t addr, uint64_t len)
{
    uint64_t end = addr + len;

    for (struct st_mmap **pp = &st_mmaps; *pp;) {
        struct st_mmap *m = *pp;
        uint64_t mend = m->addr + m->len;

        if (m->addr >= end || mend <= addr) {
            pp = &m->next;
            continue;
        }
        if (addr <= m->addr && end >= mend) {
            *pp = m->next;
            m->viommu->mmaps--;
            __atomic_fetch_sub(&st_nmmaps, 1, __ATOMIC_RELAXED);
            st_ictx_put(m->ctx);
            g_free(m);
            continue;
        }
        /* a partial unmap: keep what is left (a hole keeps the whole range) */
        if (addr <= m->addr) {
            m->len = mend - end;
            m->addr = end;
        } else if (end >= mend) {
            m->len = addr - m->addr;
        }
        pp = &m->next;
    }
}

static void *iommufd_mmap(struct st_file *f, void *addr, size_t len, int prot, int flags, uint64_t off)
{
    struct st_obj *v = NULL;
    struct st_mmap *m;
    void *p;
    int type = flags & MAP_TYPE, err;

    st_count_ioctl(ST_CALL_MMAP);
    /*
     * The mmap syscall rounds the length up to whole pages before
     * iommufd_fops_mmap() sees the VMA, so its PAGE_ALIGNED(length) check
     * always passes: a length that is not page aligned maps the region
     * when it rounds up to the region's length.  Length 0: EINVAL.
     */
    if (!len) {
        errno = EINVAL;
        return MAP_FAILED;
    }
    len = (len + st_page() - 1) & ~(size_t)(st_page() - 1);
    if (type != MAP_SHARED && type != MAP_SHARED_VALIDATE) {
        errno = EINVAL;
        return MAP_FAILED;
    }
    if (prot & PROT_EXEC) {
        errno = EPERM;
        return MAP_FAILED;
    }
    for (struct st_obj *o = f->ctx->objs; o; o = o->next) {
        if (o->type == OT_VIOMMU && o->mmap_len && off >= o->mmap_off && off < o->mmap_off + o->mmap_len) {
            v = o;
        }
    }
    if (!v || off != v->mmap_off || len != v->mmap_len) {
        errno = ENXIO;
        return MAP_FAILED;
    }
    err = st_fault_check(ST_CALL_MMAP);
    if (err) {
        errno = err;
        return MAP_FAILED;
    }
    p = st_real_mmap(addr, len, prot, (flags & ~MAP_TYPE) | MAP_SHARED,
                     st_vintf_fd(&st_host.smmu[v->smmu], v->vintf), 0);
    if (p == MAP_FAILED) {
        return p;
    }
    if (flags & MAP_FIXED) {
        untrack_mmaps((uintptr_t)p, len);
    }
    m = g_new0(struct st_mmap, 1);
    m->addr = (uintptr_t)p;
    m->len = len;
    m->viommu = v;
    m->ctx = f->ctx;
    m->off = off;
    m->next = st_mmaps;
    st_mmaps = m;
    v->mmaps++;
    f->ctx->refs++;
    __atomic_fetch_add(&st_nmmaps, 1, __ATOMIC_RELAXED);
    st_engine_kick();          /* a mapped VINTF page is kept honest by the engine */
    st_log(3, "mmap vIOMMU %u region 0x%llx -> %p", v->id, (unsigned long long)off, p);
    return p;
}

/* Before memory changes mapping: HW queue rings in it are read by copy from now on */
static void ring_unsafe(const void *addr, size_t len)
{
    if (__atomic_load_n(&st_ndirect, __ATOMIC_RELAXED)) {
        pthread_mutex_lock(&st_lock);
        st_hwq_ring_unsafe((uintptr_t)addr, len);
        pthread_mutex_unlock(&st_lock);
    }
}

static void *do_mmap(void *addr, size_t len, int prot, int flags, int fd, uint64_t off, bool is64)
{
    struct st_file *f = (flags & MAP_ANONYMOUS) ? NULL : fd_get(fd);
    void *p;

    if (!f) {
        if (flags & MAP_FIXED) {
            ring_unsafe(addr, len);
        }
        p = is64 ? get_mmap64()(addr, len, prot, flags, fd, off) : get_mmap()(addr, len, prot, flags, fd, off);
        if (p != MAP_FAILED && (flags & MAP_FIXED) && __atomic_load_n(&st_nmmaps, __ATOMIC_RELAXED)) {
            pthread_mutex_lock(&st_lock);
            untrack_mmaps((uintptr_t)p, len);
            pthread_mutex_unlock(&st_lock);
        }
        return p;
    }
    if (off & (st_page() - 1)) {
        errno = EINVAL;          /* the mmap syscall's own check */
        return MAP_FAILED;
    }
    pthread_mutex_lock(&st_lock);
    switch (f->type) {
    case FT_IOMMUFD:
        p = iommufd_mmap(f, addr, len, prot, flags, off);
        break;
    case FT_VFIO:
        p = st_vfio_mmap(f, addr, len, prot, flags, off);
        if (p != MAP_FAILED && (flags & MAP_FIXED)) {
            untrack_mmaps((uintptr_t)p, len);
        }
        break;
    default:
        errno = ENODEV;
        p = MAP_FAILED;
    }
    pthread_mutex_unlock(&st_lock);
    return p;
}

ST_EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    return do_mmap(addr, len, prot, flags, fd, off, false);
}

ST_EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off64_t off)
{
    return do_mmap(addr, len, prot, flags, fd, off, true);
}

ST_EXPORT int munmap(void *addr, size_t len)
{
    int r;

    ring_unsafe(addr, len);
    r = get_munmap()(addr, len);

    if (!r && __atomic_load_n(&st_nmmaps, __ATOMIC_RELAXED)) {
        pthread_mutex_lock(&st_lock);
        untrack_mmaps((uintptr_t)addr, (len + st_page() - 1) & ~(st_page() - 1));
        pthread_mutex_unlock(&st_lock);
    }
    return r;
}

ST_EXPORT int mprotect(void *addr, size_t len, int prot)
{
    if (!(prot & PROT_READ)) {
        ring_unsafe(addr, len);
    }
    return get_mprotect()(addr, len, prot);
}

ST_EXPORT void *mremap(void *old, size_t old_len, size_t new_len, int flags, ...)
{
    void *new_addr = NULL;

    if (flags & MREMAP_FIXED) {
        va_list ap;

        va_start(ap, flags);
        new_addr = va_arg(ap, void *);
        va_end(ap);
        ring_unsafe(new_addr, new_len);
    }
    ring_unsafe(old, old_len);
    return get_mremap()(old, old_len, new_len, flags, new_addr);
}

/* --------------------------------------------------------- read / write */

static ssize_t ours_read(struct st_file *f, void *buf, size_t n, int64_t off)
{
    ssize_t r;

    switch (f->type) {
    case FT_VEVENTQ:
        if (off > 0) {
            errno = ESPIPE;
            return -1;
        }
        return st_veventq_read(f, buf, n);
    case FT_VFIO:
        if (off < 0) {
            errno = EINVAL;
            return -1;
        }
        r = st_vfio_pread(f, buf, n, off);
        break;
    case FT_MIGDATA:
        r = st_migf_read(f, buf, n, off);
        break;
    default:
        r = -EINVAL;
    }
    if (r < 0) {
        errno = -r;
        return -1;
    }
    return r;
}

static ssize_t ours_write(struct st_file *f, const void *buf, size_t n, int64_t off)
{
    ssize_t r;

    if (f->type == FT_VFIO && off >= 0) {
        r = st_vfio_pwrite(f, buf, n, off);
    } else if (f->type == FT_MIGDATA) {
        r = st_migf_write(f, buf, n, off);
    } else if (f->type == FT_VEVENTQ && off > 0) {
        r = -ESPIPE;
    } else {
        r = -EINVAL;
    }
    if (r < 0) {
        errno = -r;
        return -1;
    }
    return r;
}

#define RW_WRAP(expr_ours, expr_real)                    \
    struct st_file *f = fd_get(fd);                      \
    ssize_t r;                                           \
    if (!f) {                                            \
        return expr_real;                                \
    }                                                    \
    pthread_mutex_lock(&st_lock);                        \
    f = fd_get(fd);                                      \
    if (!f) {                                            \
        pthread_mutex_unlock(&st_lock);                  \
        return expr_real;                                \
    }                                                    \
    r = expr_ours;                                       \
    pthread_mutex_unlock(&st_lock);                      \
    return r;

ST_EXPORT ssize_t read(int fd, void *buf, size_t n)
{
    RW_WRAP(ours_read(f, buf, n, f->type == FT_VEVENTQ ? 0 : -1), get_read()(fd, buf, n))
}

ST_EXPORT ssize_t write(int fd, const void *buf, size_t n)
{
    RW_WRAP(ours_write(f, buf, n, -1), get_write()(fd, buf, n))
}

ST_EXPORT ssize_t pread(int fd, void *buf, size_t n, off_t off)
{
    RW_WRAP(ours_read(f, buf, n, off), get_pread()(fd, buf, n, off))
}

ST_EXPORT ssize_t pread64(int fd, void *buf, size_t n, off64_t off)
{
    RW_WRAP(ours_read(f, buf, n, off), get_pread64()(fd, buf, n, off))
}

/*
 * _FORTIFY_SOURCE turns read() and pread() with a buffer of known size into
 * these; glibc's own then reach the syscall without passing read() again.
 * An overflowing length goes to glibc's, which aborts as it should.
 */
ST_EXPORT ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen)
{
    if (n > buflen) {
        return get___read_chk()(fd, buf, n, buflen);
    }
    RW_WRAP(ours_read(f, buf, n, f->type == FT_VEVENTQ ? 0 : -1),
            get___read_chk()(fd, buf, n, buflen))
}

ST_EXPORT ssize_t __pread_chk(int fd, void *buf, size_t n, off_t off,
                              size_t buflen)
{
    if (n > buflen) {
        return get___pread_chk()(fd, buf, n, off, buflen);
    }
    RW_WRAP(ours_read(f, buf, n, off), get___pread_chk()(fd, buf, n, off, buflen))
}

ST_EXPORT ssize_t __pread64_chk(int fd, void *buf, size_t n, off64_t off,
                                size_t buflen)
{
    if (n > buflen) {
        return get___pread64_chk()(fd, buf, n, off, buflen);
    }
    RW_WRAP(ours_read(f, buf, n, off),
            get___pread64_chk()(fd, buf, n, off, buflen))
}

ST_EXPORT ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
    RW_WRAP(ours_write(f, buf, n, off), get_pwrite()(fd, buf, n, off))
}

ST_EXPORT ssize_t pwrite64(int fd, const void *buf, size_t n, off64_t off)
{
    RW_WRAP(ours_write(f, buf, n, off), get_pwrite64()(fd, buf, n, off))
}

/* ------------------------------------------------------------------ fork */

static void atfork_prepare(void)
{
    pthread_mutex_lock(&st_lock);
}

static void atfork_parent(void)
{
    pthread_mutex_unlock(&st_lock);
}

static void atfork_child(void)
{
    pthread_mutex_init(&st_lock, NULL);
}

__attribute__((constructor(200))) static void st_interpose_init(void)
{
    pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}
