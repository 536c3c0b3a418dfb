/*
 * VFIO migration v2 of the configured PCI functions with `migration = ...`,
 * the way a vfio-pci variant driver offers it (drivers/vfio/pci/mlx5/main.c,
 * hisilicon/hisi_acc_vfio_pci.c) on top of the core's checks
 * (drivers/vfio/vfio_main.c):
 *
 * - VFIO_DEVICE_FEATURE_MIGRATION, _MIG_DEVICE_STATE, _MIG_DATA_SIZE and,
 *   on 7.0, _MIG_PRECOPY_INFOv2 (vfio_ioctl_device_feature_*);
 * - the device state FSM: vfio_mig_get_next_state()'s table, stepped one
 *   arc at a time as mlx5vf_pci_set_device_state() does, with the data fd
 *   of the saving and resuming arcs;
 * - the data fd: a real fd (a memfd reopened with the access mode of the
 *   kernel's anon file: O_RDONLY to save, O_WRONLY to resume) whose read(),
 *   write() and ioctl() the interposer hands here; stream-like (pread and
 *   pwrite: ESPIPE), ENOMSG at PRE_COPY's temporary end, 0 at STOP_COPY's
 *   end, ENODEV once the device let go of it (mlx5vf_disable_fd);
 * - DMA logging (vfio_ioctl_device_feature_logging_*): the function never
 *   writes memory, so a report sets no bit (and, as iova_bitmap_set() is
 *   only reached for a dirty page, never touches the bitmap).
 *
 * The stream (little-endian): a header naming the function's kind (ids,
 * class, revision, BAR sizes), then records: CONFIG (the 4 KiB config
 * space, loaded under its write mask as a pwrite would be), BAR_ZERO (the
 * BAR is all zeros) and BAR_DATA (a run of non-zero 4K pages), END.  In
 * PRE_COPY the initial bytes are one full image without END; STOP_COPY
 * appends a second full image and END, so the later records win at load.
 */
#include "standin.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2
#define VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2 12    /* Linux 7.1's uAPI */
#endif

#define NSTATES (VFIO_DEVICE_STATE_PRE_COPY_P2P + 1)
#define ARC_LOG 64
#define SCAN_PAGE 4096u
#define SCAN_CHUNK (1u << 20)

#define MIG_MAGIC "SIVFMIG\0"
#define MIG_VERSION 1

enum { REC_CONFIG = 1, REC_BAR_ZERO = 2, REC_BAR_DATA = 3, REC_END = 4 };

struct mig_hdr {
    char magic[8];
    uint32_t version;
    uint32_t hdr_size;
    uint16_t vendor, device, subvendor, subdevice;
    uint32_t class_rev;              /* class << 8 | revision */
    uint32_t cfg_size;
    uint64_t bar[6];
    uint32_t flags;                  /* bit 0: written in PRE_COPY */
    uint32_t reserved;
} __attribute__((packed));

struct mig_rec {
    uint32_t tag, index;
    uint64_t offset, length;
} __attribute__((packed));

G_STATIC_ASSERT(sizeof(struct mig_hdr) == 88);
G_STATIC_ASSERT(sizeof(struct mig_rec) == 24);

struct st_migf {
    struct st_pci *pci;
    struct st_mig *mig;              /* NULL once the device let go (disabled) */
    int refs;                        /* the device's + the fd's */
    int fd;
    bool saving;
    bool disabled;                   /* mlx5vf_disable_fd: ENODEV from now on */
    bool complete;                   /* save: STOP_COPY reached, permanent end */
    bool fd_open;
    GByteArray *buf;                 /* save: the stream; resume: what was written */
    size_t pos;                      /* save: read position */
    size_t initial_end;              /* PRE_COPY: end of the initial bytes */
};

struct st_mig {
    uint32_t state;
    struct st_migf *saving, *resuming;
    uint64_t arcs, arcs_failed;
    uint8_t arc_log[ARC_LOG][2];
    uint64_t data_fds, data_fds_open;
    uint64_t bytes_saved, bytes_written, bytes_loaded, loads, load_errors;
    bool precopy_info_v2;
    bool log_active;
    uint64_t log_page_size;
    uint32_t log_ranges;
    uint64_t log_reports;
};

static const char *const state_names[NSTATES] = {
    [VFIO_DEVICE_STATE_ERROR] = "ERROR",
    [VFIO_DEVICE_STATE_STOP] = "STOP",
    [VFIO_DEVICE_STATE_RUNNING] = "RUNNING",
    [VFIO_DEVICE_STATE_STOP_COPY] = "STOP_COPY",
    [VFIO_DEVICE_STATE_RESUMING] = "RESUMING",
    [VFIO_DEVICE_STATE_RUNNING_P2P] = "RUNNING_P2P",
    [VFIO_DEVICE_STATE_PRE_COPY] = "PRE_COPY",
    [VFIO_DEVICE_STATE_PRE_COPY_P2P] = "PRE_COPY_P2P",
};

static const char *state_name(uint32_t s)
{
    return s < NSTATES ? state_names[s] : "?";
}

/* --------------------------------------------------------------- the FSM */

/* vfio_mig_get_next_state(), drivers/vfio/vfio_main.c, as it is */
static int mig_next_state(uint32_t flags, uint32_t cur, uint32_t new, uint32_t *next)
{
    enum { S = VFIO_DEVICE_STATE_STOP, R = VFIO_DEVICE_STATE_RUNNING,
           SC = VFIO_DEVICE_STATE_STOP_COPY, RS = VFIO_DEVICE_STATE_RESUMING,
           RP = VFIO_DEVICE_STATE_RUNNING_P2P, PC = VFIO_DEVICE_STATE_PRE_COPY,
           PP = VFIO_DEVICE_STATE_PRE_COPY_P2P, E = VFIO_DEVICE_STATE_ERROR };
    static const uint8_t table[NSTATES][NSTATES] = {
        [S] = { [S] = S, [R] = RP, [PC] = RP, [PP] = RP, [SC] = SC, [RS] = RS, [RP] = RP, [E] = E },
        [R] = { [S] = RP, [R] = R, [PC] = PC, [PP] = RP, [SC] = RP, [RS] = RP, [RP] = RP, [E] = E },
        [PC] = { [S] = R, [R] = R, [PC] = PC, [PP] = PP, [SC] = PP, [RS] = R, [RP] = R, [E] = E },
        [PP] = { [S] = RP, [R] = RP, [PC] = PC, [PP] = PP, [SC] = SC, [RS] = RP, [RP] = RP, [E] = E },
        [SC] = { [S] = S, [R] = S, [PC] = E, [PP] = E, [SC] = SC, [RS] = S, [RP] = S, [E] = E },
        [RS] = { [S] = S, [R] = S, [PC] = S, [PP] = S, [SC] = S, [RS] = RS, [RP] = S, [E] = E },
        [RP] = { [S] = S, [R] = R, [PC] = R, [PP] = PP, [SC] = S, [RS] = S, [RP] = RP, [E] = E },
        [E] = { [S] = E, [R] = E, [PC] = E, [PP] = E, [SC] = E, [RS] = E, [RP] = E, [E] = E },
    };
    static const uint32_t state_flags[NSTATES] = {
        [S] = VFIO_MIGRATION_STOP_COPY,
        [R] = VFIO_MIGRATION_STOP_COPY,
        [PC] = VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_PRE_COPY,
        [PP] = VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_P2P | VFIO_MIGRATION_PRE_COPY,
        [SC] = VFIO_MIGRATION_STOP_COPY,
        [RS] = VFIO_MIGRATION_STOP_COPY,
        [RP] = VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_P2P,
        [E] = ~0u,
    };

    if (cur >= NSTATES || (state_flags[cur] & flags) != state_flags[cur]) {
        return -EINVAL;
    }
    if (new >= NSTATES || (state_flags[new] & flags) != state_flags[new]) {
        return -EINVAL;
    }
    *next = table[cur][new];
    while (*next != E && (state_flags[*next] & flags) != state_flags[*next]) {
        *next = table[*next][new];
    }
    return *next != E ? 0 : -EINVAL;
}

/* ------------------------------------------------------------ the stream */

static void rec_put(GByteArray *b, size_t *size, uint32_t tag, uint32_t index, uint64_t off,
                    uint64_t len, const void *data)
{
    struct mig_rec r = { htole32(tag), htole32(index), htole64(off), htole64(len) };

    *size += sizeof(r) + (data ? len : 0);
    if (b) {
        g_byte_array_append(b, (const guint8 *)&r, sizeof(r));
        if (data) {
            g_byte_array_append(b, data, len);
        }
    }
}

static bool page_zero(const uint8_t *p)
{
    static const uint8_t zero[SCAN_PAGE];

    return !memcmp(p, zero, SCAN_PAGE);
}

/* BAR_ZERO, then a BAR_DATA per run of non-zero pages (holes skipped) */
static void save_bar(struct st_pci *p, int i, GByteArray *b, size_t *size, uint8_t *chunk)
{
    uint64_t bsz = p->bar[i], off = 0;
    int fd = p->bar_fd[i];

    rec_put(b, size, REC_BAR_ZERO, i, 0, bsz, NULL);
    while (off < bsz) {
        off_t d = lseek(fd, off, SEEK_DATA), h;

        if (d < 0) {
            break;                      /* ENXIO: no data after off */
        }
        h = lseek(fd, d, SEEK_HOLE);
        if (h < 0 || (uint64_t)h > bsz) {
            h = bsz;
        }
        for (uint64_t pos = d & ~(uint64_t)(SCAN_PAGE - 1); pos < (uint64_t)h;) {
            size_t n = MIN((uint64_t)SCAN_CHUNK, (uint64_t)h - pos), run = 0, start = 0;
            ssize_t got = syscall(SYS_pread64, fd, chunk, n, pos);

            if (got <= 0) {
                break;
            }
            n = got & ~(size_t)(SCAN_PAGE - 1);
            if (!n) {
                break;
            }
            for (size_t k = 0; k <= n; k += SCAN_PAGE) {
                if (k < n && !page_zero(chunk + k)) {
                    if (!run) {
                        start = k;
                    }
                    run += SCAN_PAGE;
                    continue;
                }
                if (run) {
                    rec_put(b, size, REC_BAR_DATA, i, pos + start, run, chunk + start);
                    run = 0;
                }
            }
            pos += n;
        }
        off = h;
    }
}

/* One full image of @p's state: CONFIG and every BAR (no header, no END) */
static size_t save_image(struct st_pci *p, GByteArray *b)
{
    uint8_t *chunk = g_malloc(SCAN_CHUNK);
    size_t size = 0;

    rec_put(b, &size, REC_CONFIG, 0, 0, sizeof(p->cfg), p->cfg);
    for (int i = 0; i < 6; i++) {
        if (p->bar[i] && p->bar_fd[i] >= 0) {
            save_bar(p, i, b, &size, chunk);
        }
    }
    g_free(chunk);
    return size;
}

static void hdr_fill(struct st_pci *p, struct mig_hdr *h, bool precopy)
{
    memset(h, 0, sizeof(*h));
    memcpy(h->magic, MIG_MAGIC, 8);
    h->version = htole32(MIG_VERSION);
    h->hdr_size = htole32(sizeof(*h));
    h->vendor = htole16(p->vendor);
    h->device = htole16(p->device);
    h->subvendor = htole16(p->subvendor);
    h->subdevice = htole16(p->subdevice);
    h->class_rev = htole32(p->class_code << 8 | p->revision);
    h->cfg_size = htole32(sizeof(p->cfg));
    for (int i = 0; i < 6; i++) {
        h->bar[i] = htole64(p->bar[i]);
    }
    h->flags = htole32(precopy ? 1 : 0);
}

/* The size a STOP_COPY from now would produce (MIG_DATA_SIZE) */
static size_t full_stream_size(struct st_pci *p)
{
    return sizeof(struct mig_hdr) + save_image(p, NULL) + sizeof(struct mig_rec);
}

/*
 * Walk @buf as a stream for @p; with @apply, load it.  -EINVAL for a stream
 * that is truncated, malformed or of another kind of function, as
 * hisi_acc_vf_load_state() -> vf_qm_load_data() / vf_qm_check_match()
 * refuse one (the RESUMING -> STOP arc fails and the state stays RESUMING).
 */
static int load_stream(struct st_pci *p, const GByteArray *buf, bool apply)
{
    struct mig_hdr h, want;
    size_t off = sizeof(h);

    if (buf->len < sizeof(h)) {
        return -EINVAL;
    }
    memcpy(&h, buf->data, sizeof(h));
    hdr_fill(p, &want, false);
    want.flags = h.flags;
    if (memcmp(&h, &want, sizeof(h))) {
        return -EINVAL;          /* another version or another kind of function */
    }
    for (;;) {
        struct mig_rec r;
        uint32_t tag, idx;
        uint64_t roff, len;
        const uint8_t *data;

        if (buf->len - off < sizeof(r)) {
            return -EINVAL;      /* truncated: no END */
        }
        memcpy(&r, buf->data + off, sizeof(r));
        off += sizeof(r);
        tag = le32toh(r.tag);
        idx = le32toh(r.index);
        roff = le64toh(r.offset);
        len = le64toh(r.length);
        data = buf->data + off;
        switch (tag) {
        case REC_END:
            return off == buf->len ? 0 : -EINVAL;     /* nothing may follow END */
        case REC_CONFIG:
            if (idx || roff || len != sizeof(p->cfg) || buf->len - off < len) {
                return -EINVAL;
            }
            if (apply) {
                for (size_t i = 0; i < len; i++) {
                    uint8_t m = p->cfg_wmask[i];

                    p->cfg[i] = (p->cfg[i] & ~m) | (data[i] & m);
                }
            }
            off += len;
            break;
        case REC_BAR_ZERO:
            if (idx > 5 || !p->bar[idx] || roff || len != p->bar[idx]) {
                return -EINVAL;
            }
            if (apply &&
                fallocate(p->bar_fd[idx], FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, len) < 0) {
                return -EIO;
            }
            break;
        case REC_BAR_DATA:
            if (idx > 5 || !p->bar[idx] || roff > p->bar[idx] || len > p->bar[idx] - roff ||
                buf->len - off < len) {
                return -EINVAL;
            }
            if (apply && syscall(SYS_pwrite64, p->bar_fd[idx], data, len, roff) != (ssize_t)len) {
                return -EIO;
            }
            off += len;
            break;
        default:
            return -EINVAL;
        }
    }
}

/* --------------------------------------------------------- the data fd */

static void migf_unref(struct st_migf *m)
{
    if (--m->refs > 0) {
        return;
    }
    g_byte_array_unref(m->buf);
    g_free(m);
}

/* mlx5vf_disable_fd() + the device's fput() */
static void migf_disable(struct st_migf **slot)
{
    struct st_migf *m = *slot;

    if (!m) {
        return;
    }
    *slot = NULL;
    m->disabled = true;
    m->mig = NULL;
    m->pos = 0;
    migf_unref(m);
}

static void disable_fds(struct st_mig *mig)
{
    migf_disable(&mig->resuming);
    migf_disable(&mig->saving);
}

static struct st_migf *migf_new(struct st_pci *p, bool saving)
{
    struct st_migf *m;
    char name[64], path[64];
    int mfd, fd;
    struct st_file *f;

    /* a real fd: poll, close, fcntl, close-on-exec behave */
    snprintf(name, sizeof(name), "standin-vfio-mig:%s", p->bdf);
    mfd = memfd_create(name, MFD_CLOEXEC);
    if (mfd < 0) {
        return NULL;
    }
    /* the kernel's anon file is O_RDONLY to save, O_WRONLY to resume */
    snprintf(path, sizeof(path), "/proc/self/fd/%d", mfd);
    fd = syscall(SYS_openat, AT_FDCWD, path, (saving ? O_RDONLY : O_WRONLY) | O_CLOEXEC);
    if (fd >= 0) {
        st_real_close(mfd);
    } else {
        fd = mfd;
    }
    if (fd >= ST_FDMAX) {
        st_real_close(fd);
        errno = EMFILE;
        return NULL;
    }
    m = g_new0(struct st_migf, 1);
    m->pci = p;
    m->mig = p->mig;
    m->refs = 2;
    m->fd = fd;
    m->saving = saving;
    m->fd_open = true;
    m->buf = g_byte_array_new();
    f = g_new0(struct st_file, 1);
    f->type = FT_MIGDATA;
    f->fd = fd;
    f->refs = 1;
    f->migf = m;
    __atomic_store_n(&st_fdtab[fd], f, __ATOMIC_RELEASE);
    p->mig->data_fds++;
    p->mig->data_fds_open++;
    return m;
}

/* the user's last fd of the data file is gone (the file's release) */
void st_migf_release(struct st_file *f)
{
    struct st_migf *m = f->migf;

    if (!m) {
        return;
    }
    m->fd_open = false;
    m->pci->mig->data_fds_open--;
    migf_unref(m);
}

/* read() of a saving file: mlx5vf_save_read() */
ssize_t st_migf_read(struct st_file *f, void *buf, size_t n, int64_t off)
{
    struct st_migf *m = f->migf;
    size_t k;
    int err;

    if (!m->saving) {
        return -EBADF;                   /* O_WRONLY: the VFS refuses */
    }
    if (off >= 0) {
        return -ESPIPE;                  /* stream_open(): no pread */
    }
    err = st_fault_check("mig_data_read");
    if (err) {
        return -err;
    }
    if (m->disabled) {
        return -ENODEV;
    }
    if (!n) {
        return 0;
    }
    if (m->pos >= m->buf->len) {
        /* PRE_COPY's temporary end of stream; STOP_COPY's is permanent */
        return m->complete ? 0 : -ENOMSG;
    }
    k = MIN(n, m->buf->len - m->pos);
    if (st_uwrite((uintptr_t)buf, m->buf->data + m->pos, k)) {
        return -EFAULT;
    }
    m->pos += k;
    m->mig->bytes_saved += k;
    return k;
}

/*
 * write() of a resuming file.  Like mlx5vf_resume_write() and
 * hisi_acc_vf_resume_write() it takes the bytes and refuses, with ENOMEM,
 * a stream longer than the device could ever have produced (two full
 * images of this function: a PRE_COPY stream); the stream is checked and
 * loaded at RESUMING -> STOP.
 */
ssize_t st_migf_write(struct st_file *f, const void *buf, size_t n, int64_t off)
{
    struct st_migf *m = f->migf;
    struct st_pci *p = m->pci;
    uint64_t max = sizeof(struct mig_hdr) + 3 * sizeof(struct mig_rec) + 2 * sizeof(p->cfg);
    size_t old;
    int err;

    if (m->saving) {
        return -EBADF;                   /* O_RDONLY */
    }
    if (off >= 0) {
        return -ESPIPE;
    }
    err = st_fault_check("mig_data_write");
    if (err) {
        return -err;
    }
    if (m->disabled) {
        return -ENODEV;
    }
    for (int i = 0; i < 6; i++) {
        /* a BAR_ZERO and at most one record a page, twice */
        max += 2 * (p->bar[i] + sizeof(struct mig_rec) * (p->bar[i] / SCAN_PAGE + 2));
    }
    if (n > max || m->buf->len + n > max) {
        return -ENOMEM;
    }
    old = m->buf->len;
    g_byte_array_set_size(m->buf, old + n);
    if (st_uread(m->buf->data + old, (uintptr_t)buf, n)) {
        g_byte_array_set_size(m->buf, old);
        return -EFAULT;
    }
    m->mig->bytes_written += n;
    return n;
}

/* ioctl() on a data file: mlx5vf_precopy_ioctl() (the resuming file has none) */
int st_migf_ioctl(struct st_file *f, unsigned long cmd, uint64_t arg)
{
    struct st_migf *m = f->migf;
    struct vfio_precopy_info info;
    const size_t minsz = offsetof(struct vfio_precopy_info, dirty_bytes) + sizeof(info.dirty_bytes);
    const char *name = st_ioctl_name(cmd);
    int err;

    st_count_ioctl(name ? name : "UNKNOWN");
    if (!m->saving || cmd != VFIO_MIG_GET_PRECOPY_INFO) {
        return -ENOTTY;
    }
    err = name ? st_fault_check(name) : 0;
    if (err) {
        return -err;
    }
    /* vfio_check_precopy_ioctl() */
    if (st_uread(&info, arg, minsz)) {
        return -EFAULT;
    }
    if (info.argsz < minsz) {
        return -EINVAL;
    }
    if (m->pci->mig->precopy_info_v2) {
        info.flags = 0;                  /* an output from v2 on; v1 leaves it */
    }
    /* the device's state first, then the file's (mlx5vf_precopy_ioctl) */
    if (m->pci->mig->state != VFIO_DEVICE_STATE_PRE_COPY &&
        m->pci->mig->state != VFIO_DEVICE_STATE_PRE_COPY_P2P) {
        return -EINVAL;
    }
    if (m->disabled) {
        return -ENODEV;
    }
    /* as mlx5: one of the two is written, the other keeps what came in */
    if (m->initial_end > m->pos) {
        info.initial_bytes = m->initial_end - m->pos;
    } else {
        info.dirty_bytes = m->buf->len - m->pos;
    }
    return st_uwrite(arg, &info, minsz) ? -EFAULT : 0;
}

/* ------------------------------------------------- stepping through arcs */

static void note_arc(struct st_mig *mig, uint32_t from, uint32_t to)
{
    mig->arc_log[mig->arcs % ARC_LOG][0] = from;
    mig->arc_log[mig->arcs % ARC_LOG][1] = to;
    mig->arcs++;
}

/*
 * A fault on an arc: "mig_arc:FROM>TO" fails that arc, "mig_arc" any arc;
 * the device stays in the state before the arc, as when a driver's step
 * fails.
 */
static int arc_fault(uint32_t cur, uint32_t next)
{
    char name[64];
    int err;

    snprintf(name, sizeof(name), "mig_arc:%s>%s", state_name(cur), state_name(next));
    err = st_fault_check(name);
    if (!err) {
        err = st_fault_check("mig_arc");
    }
    return err;
}

/*
 * One arc, as mlx5vf_pci_step_device_state_locked(): 0, or a new data
 * file in *out, or -errno (the device stays in @cur).
 */
static int step_state(struct st_pci *p, uint32_t cur, uint32_t next, struct st_migf **out)
{
    struct st_mig *mig = p->mig;
    struct st_migf *m;
    size_t size = 0;
    int r;

    *out = NULL;
    r = arc_fault(cur, next);
    if (r) {
        return -r;
    }
#define ARC(a, b) (cur == VFIO_DEVICE_STATE_##a && next == VFIO_DEVICE_STATE_##b)
    /* the function does no DMA and no P2P: quiescing is immediate */
    if (ARC(RUNNING_P2P, STOP) || ARC(STOP, RUNNING_P2P) || ARC(RUNNING, RUNNING_P2P) ||
        ARC(PRE_COPY, PRE_COPY_P2P) || ARC(RUNNING_P2P, RUNNING) || ARC(PRE_COPY_P2P, PRE_COPY) ||
        ARC(RUNNING, STOP) || ARC(STOP, RUNNING)) {
        return 0;
    }
    if (ARC(STOP, STOP_COPY)) {
        struct mig_hdr h;

        m = migf_new(p, true);
        if (!m) {
            return -errno;
        }
        hdr_fill(p, &h, false);
        g_byte_array_append(m->buf, (const guint8 *)&h, sizeof(h));
        save_image(p, m->buf);
        rec_put(m->buf, &size, REC_END, 0, 0, 0, NULL);
        m->complete = true;
        mig->saving = m;
        *out = m;
        return 0;
    }
    if (ARC(RUNNING, PRE_COPY) || ARC(RUNNING_P2P, PRE_COPY_P2P)) {
        struct mig_hdr h;

        m = migf_new(p, true);
        if (!m) {
            return -errno;
        }
        hdr_fill(p, &h, true);
        g_byte_array_append(m->buf, (const guint8 *)&h, sizeof(h));
        save_image(p, m->buf);
        m->initial_end = m->buf->len;
        mig->saving = m;
        *out = m;
        return 0;
    }
    if (ARC(PRE_COPY_P2P, STOP_COPY) || ARC(PRE_COPY, STOP_COPY)) {
        /* mlx5vf_pci_save_device_inc_data(): the rest, then the end */
        m = mig->saving;
        if (!m || m->disabled) {
            return -ENODEV;
        }
        save_image(p, m->buf);
        rec_put(m->buf, &size, REC_END, 0, 0, 0, NULL);
        m->complete = true;
        return 0;
    }
    if (ARC(STOP_COPY, STOP) || ARC(PRE_COPY, RUNNING) || ARC(PRE_COPY_P2P, RUNNING_P2P)) {
        disable_fds(mig);
        return 0;
    }
    if (ARC(STOP, RESUMING)) {
        m = migf_new(p, false);
        if (!m) {
            return -errno;
        }
        mig->resuming = m;
        *out = m;
        return 0;
    }
    if (ARC(RESUMING, STOP)) {
        m = mig->resuming;
        if (m) {
            r = load_stream(p, m->buf, false);
            if (r) {
                mig->load_errors++;
                st_log(2, "%s: RESUMING -> STOP: the stream (%u bytes) does not load: %s", p->bdf,
                       m->buf->len, st_errno_name(-r));
                return r;
            }
            r = load_stream(p, m->buf, true);
            if (r) {
                mig->load_errors++;
                return r;
            }
            mig->bytes_loaded += m->buf->len;
            mig->loads++;
        }
        disable_fds(mig);
        return 0;
    }
#undef ARC
    /* vfio_mig_get_next_state() does not use other arcs */
    return -EINVAL;
}

/* mlx5vf_pci_set_device_state(): step until @new or an error */
static int set_state(struct st_pci *p, uint32_t new, struct st_migf **out)
{
    struct st_mig *mig = p->mig;
    int r = 0;

    *out = NULL;
    while (new != mig->state) {
        uint32_t next;
        struct st_migf *m;

        r = mig_next_state(p->migration, mig->state, new, &next);
        if (r) {
            break;
        }
        r = step_state(p, mig->state, next, &m);
        if (r) {
            mig->arcs_failed++;
            break;
        }
        note_arc(mig, mig->state, next);
        mig->state = next;
        if (m) {
            if (new != mig->state) {     /* cannot happen with the table above */
                r = -EINVAL;
                break;
            }
            *out = m;
        }
    }
    return r;
}

/* ------------------------------------------------------------- features */

/* vfio_check_feature(), include/linux/vfio.h */
static int check_feature(uint32_t flags, size_t argsz, uint32_t ops, size_t minsz)
{
    if ((flags & (VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_SET)) & ~ops) {
        return -EINVAL;
    }
    if (flags & VFIO_DEVICE_FEATURE_PROBE) {
        return 0;
    }
    if (!(flags & (VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_SET))) {
        return -EINVAL;
    }
    if (argsz < minsz) {
        return -EINVAL;
    }
    return 1;
}

/* vfio_ioctl_device_feature_mig_device_state() + vfio_ioct_mig_return_fd() */
static int feature_mig_state(struct st_pci *p, uint32_t flags, uint64_t data, size_t argsz)
{
    struct vfio_device_feature_mig_state ms;
    struct st_migf *m = NULL;
    int r = check_feature(flags, argsz, VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_GET,
                          sizeof(ms));

    if (r != 1) {
        return r;
    }
    if (st_uread(&ms, data, sizeof(ms))) {
        return -EFAULT;
    }
    if (flags & VFIO_DEVICE_FEATURE_GET) {
        ms.device_state = p->mig->state;
    } else {
        r = set_state(p, ms.device_state, &m);
    }
    if (m) {
        ms.data_fd = m->fd;
        if (st_uwrite(data, &ms, sizeof(ms))) {
            /* put_unused_fd + fput: the user never saw the fd */
            st_fd_untrack(m->fd);
            st_real_close(m->fd);
            return -EFAULT;
        }
        return 0;
    }
    ms.data_fd = -1;
    if (st_uwrite(data, &ms, sizeof(ms))) {
        return -EFAULT;
    }
    return r;
}

/* ranges fit in one kernel page (LOG_MAX_RANGES) */
static uint64_t log_max_ranges(void)
{
    return st_host.page_size / sizeof(struct vfio_device_feature_dma_logging_range);
}

static bool is_aligned(uint64_t x, uint64_t a)
{
    return (x & (a - 1)) == 0;       /* IS_ALIGNED(), also for a == 0 */
}

/* vfio_ioctl_device_feature_logging_start() + mlx5vf_start_page_tracker() */
static int feature_log_start(struct st_pci *p, uint32_t flags, uint64_t data, size_t argsz)
{
    struct vfio_device_feature_dma_logging_control c;
    struct vfio_device_feature_dma_logging_range *rg;
    uint64_t *last;
    int r = check_feature(flags, argsz, VFIO_DEVICE_FEATURE_SET, sizeof(c));
    int lg;

    if (r != 1) {
        return r;
    }
    if (st_uread(&c, data, sizeof(c))) {
        return -EFAULT;
    }
    if (!c.num_ranges) {
        return -EINVAL;
    }
    if (c.num_ranges > log_max_ranges()) {
        return -E2BIG;
    }
    rg = g_new(struct vfio_device_feature_dma_logging_range, c.num_ranges);
    last = g_new(uint64_t, c.num_ranges);
    r = 0;
    for (uint32_t i = 0; i < c.num_ranges && !r; i++) {
        uint64_t end;

        if (st_uread(&rg[i], c.ranges + i * sizeof(rg[0]), sizeof(rg[0]))) {
            r = -EFAULT;
        } else if (!is_aligned(rg[i].iova, c.page_size) || !is_aligned(rg[i].length, c.page_size)) {
            r = -EINVAL;
        } else if (__builtin_add_overflow(rg[i].iova, rg[i].length, &end)) {
            r = -EOVERFLOW;
        } else {
            last[i] = rg[i].iova + rg[i].length - 1;
            /* interval_tree_iter_first() over the ranges so far */
            for (uint32_t k = 0; k < i; k++) {
                if (rg[k].iova <= last[i] && last[k] >= rg[i].iova) {
                    r = -EINVAL;         /* overlapping */
                    break;
                }
            }
        }
    }
    g_free(rg);
    g_free(last);
    if (r) {
        return r;
    }
    /* the driver: one tracker at a time, page size clamped to 4K .. 1G */
    if (p->mig->log_active) {
        return -EINVAL;
    }
    lg = c.page_size ? 63 - __builtin_clzll(c.page_size) : 255;
    lg = lg < 12 ? 12 : lg > 30 ? 30 : lg;
    c.page_size = 1ull << lg;
    if (st_uwrite(data, &c, sizeof(c))) {
        return -EFAULT;                  /* log_stop(): nothing started */
    }
    p->mig->log_active = true;
    p->mig->log_page_size = c.page_size;
    p->mig->log_ranges = c.num_ranges;
    return 0;
}

/* vfio_ioctl_device_feature_logging_report() + mlx5vf_tracker_read_and_clear() */
static int feature_log_report(struct st_pci *p, uint32_t flags, uint64_t data, size_t argsz)
{
    struct vfio_device_feature_dma_logging_report rep;
    uint64_t end;
    int r = check_feature(flags, argsz, VFIO_DEVICE_FEATURE_GET, sizeof(rep));

    if (r != 1) {
        return r;
    }
    if (st_uread(&rep, data, sizeof(rep))) {
        return -EFAULT;
    }
    if (rep.page_size < 4096 || (rep.page_size & (rep.page_size - 1))) {
        return -EINVAL;
    }
    if (__builtin_add_overflow(rep.iova, rep.length, &end)) {
        return -EOVERFLOW;
    }
    if (!p->mig->log_active) {
        return -EINVAL;
    }
    /*
     * Nothing was written by the function, so no bit is set, and the
     * bitmap is never touched (iova_bitmap_set() pins it on the first
     * dirty page only): the caller's zeroed bitmap stays zero.
     */
    p->mig->log_reports++;
    return 0;
}

int st_mig_feature(struct st_pci *p, uint32_t flags, uint32_t feature, uint64_t data, size_t argsz)
{
    struct st_mig *mig = p->mig;
    int r;

    if (feature == VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2) {
        /*
         * vfio_ioctl_device_feature_migration_precopy_info_v2(): in the 7.1
         * core, before the driver: EINVAL without PRE_COPY, migratable or
         * not (7.0: introduced when unknown; before, the driver's ENOTTY).
         */
        if (!st_kernel_at_least(700)) {
            return -ENOTTY;
        }
        if (!(p->migration & VFIO_MIGRATION_PRE_COPY)) {
            return -EINVAL;
        }
        r = check_feature(flags, argsz, VFIO_DEVICE_FEATURE_SET, 0);
        if (r != 1) {
            return r;
        }
        mig->precopy_info_v2 = true;
        return 0;
    }
    if (!mig) {
        return -ENOTTY;                  /* no mig_ops, no log_ops */
    }
    switch (feature) {
    case VFIO_DEVICE_FEATURE_MIGRATION: {
        struct vfio_device_feature_migration m = { .flags = p->migration };

        r = check_feature(flags, argsz, VFIO_DEVICE_FEATURE_GET, sizeof(m));
        if (r != 1) {
            return r;
        }
        return st_uwrite(data, &m, sizeof(m)) ? -EFAULT : 0;
    }
    case VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE:
        return feature_mig_state(p, flags, data, argsz);
    case VFIO_DEVICE_FEATURE_MIG_DATA_SIZE: {
        struct vfio_device_feature_mig_data_size ds = { 0 };

        r = check_feature(flags, argsz, VFIO_DEVICE_FEATURE_GET, sizeof(ds));
        if (r != 1) {
            return r;
        }
        ds.stop_copy_length = full_stream_size(p);
        return st_uwrite(data, &ds, sizeof(ds)) ? -EFAULT : 0;
    }
    case VFIO_DEVICE_FEATURE_DMA_LOGGING_START:
        return feature_log_start(p, flags, data, argsz);
    case VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP:
        r = check_feature(flags, argsz, VFIO_DEVICE_FEATURE_SET, 0);
        if (r != 1) {
            return r;
        }
        mig->log_active = false;         /* mlx5vf_stop_page_tracker(): 0 even if off */
        return 0;
    case VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT:
        return feature_log_report(p, flags, data, argsz);
    default:
        return -ENOTTY;
    }
}

/* ------------------------------------------------------- device lifetime */

int st_mig_init(struct st_pci *p)
{
    if (p->migration) {
        p->mig = g_new0(struct st_mig, 1);
        p->mig->state = VFIO_DEVICE_STATE_RUNNING;
    }
    return 0;
}

/* mlx5vf_pci_open_device(): RUNNING */
void st_mig_open(struct st_pci *p)
{
    if (p->mig) {
        p->mig->state = VFIO_DEVICE_STATE_RUNNING;
    }
}

/*
 * mlx5vf_cmd_close_migratable(): the data files are disabled (a data fd
 * still open reads or writes ENODEV until it is closed; it does not keep
 * the device open) and the tracker is freed.
 */
void st_mig_close(struct st_pci *p)
{
    if (p->mig) {
        disable_fds(p->mig);
        p->mig->log_active = false;
        p->mig->precopy_info_v2 = false;     /* vfio_df_device_last_close() */
    }
}

/* mlx5vf_pci_aer_reset_done() / the deferred reset: RUNNING, fds disabled */
void st_mig_reset(struct st_pci *p)
{
    if (p->mig) {
        p->mig->state = VFIO_DEVICE_STATE_RUNNING;
        disable_fds(p->mig);
    }
}

bool st_mig_fault_name(const char *name)
{
    const char *gt;
    bool from = false, to = false;

    if (!strcmp(name, "mig_arc") || !strcmp(name, "mig_data_read") ||
        !strcmp(name, "mig_data_write")) {
        return true;
    }
    if (strncmp(name, "mig_arc:", 8) || !(gt = strchr(name + 8, '>'))) {
        return false;
    }
    for (int s = VFIO_DEVICE_STATE_STOP; s < NSTATES; s++) {
        size_t l = strlen(state_names[s]);

        from |= (size_t)(gt - (name + 8)) == l && !strncmp(name + 8, state_names[s], l);
        to |= !strcmp(gt + 1, state_names[s]);
    }
    return from && to;
}

void st_dump_migration(GString *s)
{
    g_string_append(s, "\"pci\":[");
    for (int i = 0; i < st_host.npci; i++) {
        struct st_pci *p = &st_host.pci[i];
        struct st_mig *mig = p->mig;

        g_string_append_printf(s, "%s{\"bdf\":\"%s\",\"migration\":%s", i ? "," : "", p->bdf,
                               mig ? "true" : "false");
        if (mig) {
            uint64_t start = mig->arcs > ARC_LOG ? mig->arcs - ARC_LOG : 0;

            g_string_append_printf(s, ",\"mig_flags\":%u,\"mig_state\":\"%s\",\"arcs\":%llu,"
                                   "\"arcs_failed\":%llu,\"arc_log\":[",
                                   p->migration, state_name(mig->state),
                                   (unsigned long long)mig->arcs, (unsigned long long)mig->arcs_failed);
            for (uint64_t a = start; a < mig->arcs; a++) {
                g_string_append_printf(s, "%s\"%s>%s\"", a > start ? "," : "",
                                       state_name(mig->arc_log[a % ARC_LOG][0]),
                                       state_name(mig->arc_log[a % ARC_LOG][1]));
            }
            g_string_append_printf(s, "],\"data_fds\":%llu,\"data_fds_open\":%llu,"
                                   "\"saving\":%s,\"resuming\":%s,"
                                   "\"bytes_saved\":%llu,\"bytes_written\":%llu,\"bytes_loaded\":%llu,"
                                   "\"loads\":%llu,\"load_errors\":%llu,\"precopy_info_v2\":%s,"
                                   "\"dma_logging\":%s,\"dma_log_page_size\":%llu,\"dma_log_ranges\":%u,"
                                   "\"dma_log_reports\":%llu",
                                   (unsigned long long)mig->data_fds, (unsigned long long)mig->data_fds_open,
                                   mig->saving ? "true" : "false", mig->resuming ? "true" : "false",
                                   (unsigned long long)mig->bytes_saved,
                                   (unsigned long long)mig->bytes_written,
                                   (unsigned long long)mig->bytes_loaded, (unsigned long long)mig->loads,
                                   (unsigned long long)mig->load_errors,
                                   mig->precopy_info_v2 ? "true" : "false",
                                   mig->log_active ? "true" : "false",
                                   (unsigned long long)mig->log_page_size, mig->log_ranges,
                                   (unsigned long long)mig->log_reports);
        }
        g_string_append(s, "}");
    }
    g_string_append(s, "]");
}
