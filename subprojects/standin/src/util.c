/*
 * Small helpers: logging, errno and ioctl names, fault injection, and copies
 * from and to user memory that survive bad pointers (a hostile struct must
 * give EFAULT, never crash the process).
 */
#include "standin.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

int st_loglevel = 1;

void st_log(int level, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    int n;

    if (level > st_loglevel) {
        return;
    }
    n = snprintf(buf, sizeof(buf), "standin: ");
    va_start(ap, fmt);
    n += vsnprintf(buf + n, sizeof(buf) - n - 1, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof(buf) - 2) {
        n = sizeof(buf) - 2;
    }
    buf[n++] = '\n';
    /* straight to fd 2: no stdio locks, safe from any thread */
    if (syscall(SYS_write, 2, buf, n) < 0) {
        /* nothing to do */
    }
}

/* ------------------------------------------------------------ errno names */

static const struct { const char *name; int val; } errnames[] = {
#define E(x) { #x, x }
    E(EPERM), E(ENOENT), E(ESRCH), E(EINTR), E(EIO), E(ENXIO), E(E2BIG), E(ENOEXEC),
    E(EBADF), E(ECHILD), E(EAGAIN), E(ENOMEM), E(EACCES), E(EFAULT), E(EBUSY), E(EEXIST),
    E(EXDEV), E(ENODEV), E(ENOTDIR), E(EISDIR), E(EINVAL), E(ENFILE), E(EMFILE), E(ENOTTY),
    E(EFBIG), E(ENOSPC), E(ESPIPE), E(EROFS), E(EMLINK), E(EPIPE), E(EDOM), E(ERANGE),
    E(EDEADLK), E(ENAMETOOLONG), E(ENOLCK), E(ENOSYS), E(ENOTEMPTY), E(ELOOP), E(ENOMSG),
    E(EOVERFLOW), E(EOPNOTSUPP), E(ETIMEDOUT), E(ECANCELED), E(EMSGSIZE), E(ENODATA),
    E(ENOTSUP), E(EPROTO), E(EBADMSG), E(EILSEQ), E(ENOBUFS), E(ECONNREFUSED), E(EHOSTDOWN),
    E(EALREADY), E(EINPROGRESS), E(ESTALE), E(EDQUOT), E(ENOMEDIUM), E(EREMOTEIO),
    E(EKEYREJECTED), E(EOWNERDEAD), E(ENOTRECOVERABLE), E(ERFKILL), E(EHWPOISON),
#undef E
};

const char *st_errno_name(int err)
{
    static __thread char buf[16];

    if (err == EOPNOTSUPP) {
        return "EOPNOTSUPP";
    }
    if (err == EAGAIN) {
        return "EAGAIN";
    }
    if (err == EDEADLK) {
        return "EDEADLK";
    }
    for (size_t i = 0; i < G_N_ELEMENTS(errnames); i++) {
        if (errnames[i].val == err) {
            return errnames[i].name;
        }
    }
    snprintf(buf, sizeof(buf), "%d", err);
    return buf;
}

int st_errno_parse(const char *name)
{
    char *end;
    long v;

    for (size_t i = 0; i < G_N_ELEMENTS(errnames); i++) {
        if (!strcmp(errnames[i].name, name)) {
            return errnames[i].val;
        }
    }
    v = strtol(name, &end, 0);
    if (*name && !*end && v > 0 && v < 4096) {
        return v;
    }
    return -1;
}

/* ------------------------------------------------------------ ioctl names */

static const struct { const char *name; unsigned long cmd; } ioctlnames[] = {
#define I(x) { #x, x }
    I(IOMMU_DESTROY), I(IOMMU_IOAS_ALLOC), I(IOMMU_IOAS_ALLOW_IOVAS), I(IOMMU_IOAS_COPY),
    I(IOMMU_IOAS_IOVA_RANGES), I(IOMMU_IOAS_MAP), I(IOMMU_IOAS_UNMAP), I(IOMMU_OPTION),
    I(IOMMU_VFIO_IOAS), I(IOMMU_HWPT_ALLOC), I(IOMMU_GET_HW_INFO),
    I(IOMMU_HWPT_SET_DIRTY_TRACKING), I(IOMMU_HWPT_GET_DIRTY_BITMAP), I(IOMMU_HWPT_INVALIDATE),
    I(IOMMU_FAULT_QUEUE_ALLOC), I(IOMMU_IOAS_MAP_FILE), I(IOMMU_VIOMMU_ALLOC),
    I(IOMMU_VDEVICE_ALLOC), I(IOMMU_IOAS_CHANGE_PROCESS), I(IOMMU_VEVENTQ_ALLOC),
    I(IOMMU_HW_QUEUE_ALLOC),
    I(VFIO_GET_API_VERSION), I(VFIO_CHECK_EXTENSION), I(VFIO_SET_IOMMU),
    I(VFIO_DEVICE_GET_INFO), I(VFIO_DEVICE_GET_REGION_INFO), I(VFIO_DEVICE_GET_IRQ_INFO),
    I(VFIO_DEVICE_SET_IRQS), I(VFIO_DEVICE_RESET), I(VFIO_DEVICE_GET_PCI_HOT_RESET_INFO),
    I(VFIO_DEVICE_PCI_HOT_RESET), I(VFIO_DEVICE_QUERY_GFX_PLANE), I(VFIO_DEVICE_GET_GFX_DMABUF),
    I(VFIO_DEVICE_IOEVENTFD), I(VFIO_DEVICE_FEATURE), I(VFIO_DEVICE_BIND_IOMMUFD),
    I(VFIO_DEVICE_ATTACH_IOMMUFD_PT), I(VFIO_DEVICE_DETACH_IOMMUFD_PT),
    I(VFIO_MIG_GET_PRECOPY_INFO),
#undef I
};

const char *st_ioctl_name(unsigned long cmd)
{
    for (size_t i = 0; i < G_N_ELEMENTS(ioctlnames); i++) {
        if (ioctlnames[i].cmd == cmd) {
            return ioctlnames[i].name;
        }
    }
    return NULL;
}

bool st_ioctl_known(const char *name)
{
    /* not an ioctl: the mmap of a vIOMMU region, counted and failed alike */
    if (!strcmp(name, ST_CALL_MMAP)) {
        return true;
    }
    /* not ioctls: a migration arc, a read or write of a migration data fd */
    if (st_mig_fault_name(name)) {
        return true;
    }
    /* not a call: an ATC_INV run by a VCMDQ (the fault makes it time out) */
    if (!strcmp(name, ST_CALL_VCMDQ_ATC_INV)) {
        return true;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(ioctlnames); i++) {
        if (!strcmp(ioctlnames[i].name, name)) {
            return true;
        }
    }
    return false;
}

/* ---------------------------------------------------------- fault inject */

static struct st_fault faults[ST_MAX_FAULTS];
static int nfaults;

static __thread long fault_last_entry = -1;

int st_fault_add_entry(const char *ioctl, unsigned long nth, int err, long entry)
{
    if (nfaults >= ST_MAX_FAULTS) {
        return -1;
    }
    memset(&faults[nfaults], 0, sizeof(faults[0]));
    snprintf(faults[nfaults].ioctl, sizeof(faults[0].ioctl), "%s", ioctl);
    faults[nfaults].nth = nth;
    faults[nfaults].err = err;
    faults[nfaults].entry = entry;
    nfaults++;
    return 0;
}

int st_fault_add(const char *ioctl, unsigned long nth, int err)
{
    return st_fault_add_entry(ioctl, nth, err, -1);
}

long st_fault_last_entry(void)
{
    return fault_last_entry;
}

void st_fault_clear(void)
{
    nfaults = 0;
}

int st_fault_check(const char *name)
{
    int err = 0;

    fault_last_entry = -1;
    for (int i = 0; i < nfaults; i++) {
        struct st_fault *f = &faults[i];

        if (f->done || strcmp(f->ioctl, name)) {
            continue;
        }
        f->calls++;
        if (!err && (f->nth == 0 || f->calls == f->nth)) {
            err = f->err;
            fault_last_entry = f->entry;
            if (f->nth) {
                f->done = true;
            }
            st_note_fault(name, f->calls, err);
            st_log(1, "fault: injected %s into %s (call %lu)", st_errno_name(err), name, f->calls);
        }
    }
    return err;
}

void st_dump_faults_armed(GString *s);
void st_dump_faults_armed(GString *s)
{
    g_string_append(s, "\"faults_armed\":[");
    for (int i = 0; i < nfaults; i++) {
        g_string_append_printf(s, "%s{\"ioctl\":\"%s\",\"nth\":%lu,\"errno\":\"%s\",\"calls\":%lu,\"done\":%s}",
                               i ? "," : "", faults[i].ioctl, faults[i].nth,
                               st_errno_name(faults[i].err), faults[i].calls,
                               faults[i].done ? "true" : "false");
    }
    g_string_append(s, "]");
}

/* ------------------------------------------------------------ user copies */

static int fallback_pipe[2] = { -1, -1 };

static int pipe_copy(void *dst, const void *src, size_t len, bool to_user)
{
    /*
     * Without process_vm_readv (seccomp), bounce through a pipe: the kernel
     * validates the user pointer on write()/read() and answers EFAULT.
     */
    if (fallback_pipe[0] < 0 && syscall(SYS_pipe2, fallback_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
        return -EFAULT;
    }
    while (len) {
        size_t chunk = len > 4096 ? 4096 : len;
        char tmp[4096];
        ssize_t n;

        if (to_user) {
            memcpy(tmp, src, chunk);
            n = syscall(SYS_write, fallback_pipe[1], tmp, chunk);
            if (n != (ssize_t)chunk) {
                return -EFAULT;
            }
            n = syscall(SYS_read, fallback_pipe[0], dst, chunk);
            if (n != (ssize_t)chunk) {
                /* drain what is left, the destination was bad */
                while (syscall(SYS_read, fallback_pipe[0], tmp, sizeof(tmp)) > 0) {
                }
                return -EFAULT;
            }
        } else {
            n = syscall(SYS_write, fallback_pipe[1], src, chunk);
            if (n != (ssize_t)chunk) {
                return -EFAULT;
            }
            n = syscall(SYS_read, fallback_pipe[0], dst, chunk);
            if (n != (ssize_t)chunk) {
                return -EFAULT;
            }
        }
        dst = (char *)dst + chunk;
        src = (const char *)src + chunk;
        len -= chunk;
    }
    return 0;
}

static bool vm_rw_broken;

int st_uread(void *dst, uint64_t uaddr, size_t len)
{
    struct iovec l = { dst, len }, r = { (void *)(uintptr_t)uaddr, len };
    ssize_t n;

    if (!len) {
        return 0;
    }
    if (!uaddr || uaddr + len < uaddr) {
        return -EFAULT;
    }
    if (!vm_rw_broken) {
        n = process_vm_readv(getpid(), &l, 1, &r, 1, 0);
        if (n == (ssize_t)len) {
            return 0;
        }
        if (n >= 0 || errno == EFAULT) {
            return -EFAULT;
        }
        vm_rw_broken = true;
    }
    return pipe_copy(dst, (const void *)(uintptr_t)uaddr, len, false);
}

int st_uwrite(uint64_t uaddr, const void *src, size_t len)
{
    struct iovec l = { (void *)src, len }, r = { (void *)(uintptr_t)uaddr, len };
    ssize_t n;

    if (!len) {
        return 0;
    }
    if (!uaddr || uaddr + len < uaddr) {
        return -EFAULT;
    }
    if (!vm_rw_broken) {
        n = process_vm_writev(getpid(), &l, 1, &r, 1, 0);
        if (n == (ssize_t)len) {
            return 0;
        }
        if (n >= 0 || errno == EFAULT) {
            return -EFAULT;
        }
        vm_rw_broken = true;
    }
    return pipe_copy((void *)(uintptr_t)uaddr, src, len, true);
}

int st_uzero(uint64_t uaddr, size_t len)
{
    static const char zeros[4096];

    while (len) {
        size_t c = len > sizeof(zeros) ? sizeof(zeros) : len;
        int r = st_uwrite(uaddr, zeros, c);

        if (r) {
            return r;
        }
        uaddr += c;
        len -= c;
    }
    return 0;
}

/* The kernel's copy_struct_from_user(): zero-extend or require a zero tail. */
int st_copy_struct_from_user(void *dst, size_t ksize, uint64_t uaddr, size_t usize)
{
    size_t n = usize < ksize ? usize : ksize;
    int r;

    memset(dst, 0, ksize);
    if (usize > ksize) {
        uint64_t a = uaddr + ksize;
        size_t left = usize - ksize;
        char tmp[256];

        while (left) {
            size_t c = left > sizeof(tmp) ? sizeof(tmp) : left;

            r = st_uread(tmp, a, c);
            if (r) {
                return r;
            }
            for (size_t i = 0; i < c; i++) {
                if (tmp[i]) {
                    return -E2BIG;
                }
            }
            a += c;
            left -= c;
        }
    }
    return st_uread(dst, uaddr, n);
}
