/*
 * Stand-in fds that this process did not open itself. libvirt (12.2 and
 * later) opens /dev/iommu and the VFIO cdev itself and hands them to QEMU:
 * inherited across exec (-object iommufd,fd=N, -device vfio-pci,fd=M) or
 * over the QMP socket with SCM_RIGHTS (getfd, add-fd).
 *
 * Every stand-in file is backed by a memfd whose name says what it is
 * (ST_MEMFD_IOMMUFD, ST_MEMFD_VFIO + BDF), so any process can tell from
 * /proc/self/fd/N ("/memfd:standin-vfio:0000:01:00.0 (deleted)"). At start
 * the library adopts the ones it inherited; recvmsg() and recvmmsg() adopt
 * the ones that arrive with SCM_RIGHTS.
 *
 * The rule (INTERFACE.md "Passed file descriptors"): each process models its
 * own kernel, so a file arriving from another process brings its identity
 * only. An iommufd arrives as a fresh, empty iommufd context (the kernel's
 * objects are per open file, and the sender is expected to do nothing more
 * with it, as libvirt does); a VFIO cdev arrives as the function of that
 * BDF in this process's host description, unbound. Fds of one open file
 * (the same memfd inode) share one state, whichever way they came.
 */
#include "standin.h"
#include "real.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

REAL(ssize_t, recvmsg, int, struct msghdr *, int)
REAL(int, recvmmsg, int, struct mmsghdr *, unsigned int, int, struct timespec *)

#define MAX_PASSED 256

static struct {
    int fd;
    enum st_ftype type;
    char bdf[16];
    int ctx;             /* iommufd: context serial */
    bool shared;         /* joined an fd of the same open file */
    const char *via;
} passed[MAX_PASSED];
static unsigned npassed, npassed_total;

/* What the memfd behind @fd says it is: FT_IOMMUFD, FT_VFIO (+ @bdf) or FT_NONE. */
static enum st_ftype classify(int fd, char *bdf, size_t len)
{
    static const char memfd[] = "/memfd:";
    char link[64], target[256];
    const char *p;
    ssize_t n;

    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    n = syscall(SYS_readlinkat, AT_FDCWD, link, target, sizeof(target) - 1);
    if (n <= 0) {
        return FT_NONE;
    }
    target[n] = 0;
    if (strncmp(target, memfd, sizeof(memfd) - 1)) {
        return FT_NONE;
    }
    p = target + sizeof(memfd) - 1;
    if (!strcmp(p, ST_MEMFD_IOMMUFD " (deleted)") || !strcmp(p, ST_MEMFD_IOMMUFD)) {
        return FT_IOMMUFD;
    }
    if (!strncmp(p, ST_MEMFD_VFIO, sizeof(ST_MEMFD_VFIO) - 1)) {
        p += sizeof(ST_MEMFD_VFIO) - 1;
        snprintf(bdf, len, "%.*s", (int)strcspn(p, " "), p);
        return FT_VFIO;
    }
    return FT_NONE;
}

static struct st_file *find_backing(uint64_t dev, uint64_t ino, enum st_ftype type)
{
    for (int i = 0; i < ST_FDMAX; i++) {
        struct st_file *f = st_fdtab[i];

        if (f && f->type == type && f->bino == ino && f->bdev == dev) {
            return f;
        }
    }
    return NULL;
}

static void note_passed(int fd, struct st_file *f, bool shared, const char *via)
{
    npassed_total++;
    if (npassed < MAX_PASSED) {
        passed[npassed].fd = fd;
        passed[npassed].type = f->type;
        snprintf(passed[npassed].bdf, sizeof(passed[npassed].bdf), "%s",
                 f->type == FT_VFIO ? f->pci->bdf : "");
        passed[npassed].ctx = f->type == FT_IOMMUFD ? f->ctx->serial : 0;
        passed[npassed].shared = shared;
        passed[npassed].via = via;
        npassed++;
    }
    if (f->type == FT_VFIO) {
        st_log(2, "fd %d: the VFIO cdev of %s, from %s%s", fd, f->pci->bdf, via,
               shared ? " (an fd of the same file is open here)" : "");
    } else {
        st_log(2, "fd %d: an iommufd, from %s: %s ctx %d", fd, via,
               shared ? "the same file as an open fd," : "a fresh", f->ctx->serial);
    }
}

/* Called with st_lock held. */
void st_adopt_fd(int fd, const char *via)
{
    struct st_file *f, *cur;
    struct st_pci *pci = NULL;
    enum st_ftype type;
    char bdf[64] = "";
    struct stat st;

    if (!st_active || fd < 0) {
        return;
    }
    type = classify(fd, bdf, sizeof(bdf));
    if (type == FT_NONE) {
        return;
    }
    if (fd >= ST_FDMAX) {
        st_log(1, "fd %d (from %s): a stand-in file beyond fd %d, not served", fd, via, ST_FDMAX - 1);
        return;
    }
    if (syscall(SYS_fstat, fd, &st) < 0) {
        return;
    }
    cur = st_fdtab[fd];
    if (cur) {
        if (cur->type == type && cur->bino == (uint64_t)st.st_ino && cur->bdev == (uint64_t)st.st_dev) {
            return;                 /* known already */
        }
        st_fd_untrack(fd);          /* a number closed behind our back, reused */
    }
    f = find_backing(st.st_dev, st.st_ino, type);
    if (f) {
        f->refs++;
        __atomic_store_n(&st_fdtab[fd], f, __ATOMIC_RELEASE);
        note_passed(fd, f, true, via);
        return;
    }
    if (type == FT_VFIO) {
        for (int i = 0; i < st_host.npci; i++) {
            if (!strcasecmp(st_host.pci[i].bdf, bdf)) {
                pci = &st_host.pci[i];
            }
        }
        if (!pci) {
            st_log(1, "fd %d (from %s): the VFIO cdev of %s, which the host description does not "
                   "have: left a plain file", fd, via, bdf);
            return;
        }
        f = st_vfio_install(fd, pci);
    } else {
        f = st_iommufd_install(fd);
    }
    if (f) {
        note_passed(fd, f, false, via);
    }
}

void st_adopt_inherited(void)
{
    char buf[4096];
    int dfd = syscall(SYS_openat, AT_FDCWD, "/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    long n;

    if (dfd < 0) {
        st_log(2, "/proc/self/fd: %s: inherited stand-in fds are not recognised", strerror(errno));
        return;
    }
    pthread_mutex_lock(&st_lock);
    while ((n = syscall(SYS_getdents64, dfd, buf, sizeof(buf))) > 0) {
        for (long off = 0; off < n;) {
            struct dirent64 *d = (struct dirent64 *)(buf + off);
            char *end;
            long fd = strtol(d->d_name, &end, 10);

            off += d->d_reclen;
            if (*end || end == d->d_name || fd == dfd) {
                continue;
            }
            st_adopt_fd((int)fd, "exec");
        }
    }
    pthread_mutex_unlock(&st_lock);
    syscall(SYS_close, dfd);
}

static void adopt_cmsgs(struct msghdr *msg)
{
    struct cmsghdr *c;

    if (!msg || !msg->msg_control || msg->msg_controllen < sizeof(struct cmsghdr)) {
        return;
    }
    pthread_mutex_lock(&st_lock);
    for (c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && c->cmsg_len >= CMSG_LEN(0)) {
            size_t nfds = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            const unsigned char *data = CMSG_DATA(c);

            for (size_t i = 0; i < nfds; i++) {
                int fd;

                memcpy(&fd, data + i * sizeof(int), sizeof(int));
                st_adopt_fd(fd, "scm_rights");
            }
        }
    }
    pthread_mutex_unlock(&st_lock);
}

ST_EXPORT ssize_t recvmsg(int sock, struct msghdr *msg, int flags)
{
    ssize_t r = get_recvmsg()(sock, msg, flags);

    if (r >= 0 && st_active) {
        adopt_cmsgs(msg);
    }
    return r;
}

ST_EXPORT int recvmmsg(int sock, struct mmsghdr *vec, unsigned int vlen, int flags,
                       struct timespec *timeout)
{
    int r = get_recvmmsg()(sock, vec, vlen, flags, timeout);

    if (r > 0 && st_active) {
        for (int i = 0; i < r; i++) {
            adopt_cmsgs(&vec[i].msg_hdr);
        }
    }
    return r;
}

/* dump key "passed_fds"; called with st_lock held */
void st_dump_passed(GString *s)
{
    g_string_append(s, "\"passed_fds\":[");
    for (unsigned i = 0; i < npassed; i++) {
        g_string_append_printf(s, "%s{\"fd\":%d,\"file\":\"%s\"", i ? "," : "", passed[i].fd,
                               passed[i].type == FT_VFIO ? "vfio" : "iommufd");
        if (passed[i].type == FT_VFIO) {
            g_string_append_printf(s, ",\"bdf\":\"%s\"", passed[i].bdf);
        } else {
            g_string_append_printf(s, ",\"ctx\":%d", passed[i].ctx);
        }
        g_string_append_printf(s, ",\"via\":\"%s\",\"shared\":%s}", passed[i].via,
                               passed[i].shared ? "true" : "false");
    }
    g_string_append_printf(s, "],\"passed_fds_total\":%u", npassed_total);
}
