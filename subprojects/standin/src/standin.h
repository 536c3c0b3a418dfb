/*
 * standin: a hardware-free stand-in for the host kernel's iommufd + VFIO +
 * NVIDIA Tegra241 CMDQV, loaded with LD_PRELOAD.
 *
 * Internal declarations shared by the library's translation units.
 * Locking: one global mutex (st_lock) protects every structure below; every
 * function in this header expects it held unless its comment says otherwise.
 */
#ifndef STANDIN_H
#define STANDIN_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <pthread.h>
#include <sys/types.h>
#include <glib.h>

#include <linux/types.h>
#include <linux/iommufd.h>
#include <linux/vfio.h>

#define ST_EXPORT __attribute__((visibility("default")))

#define ST_MAX_SMMUS   16
#define ST_MAX_PCI     64
#define ST_MAX_FAULTS  64
#define ST_FDMAX       65536
#define ST_VFIO_MAJOR  511
#define ST_IOMMU_MAJOR 10
#define ST_IOMMU_MINOR 123

#define VINTF_PAGE_SIZE 0x10000u
#define LVCMDQ_STRIDE   0x80u

/* ---------------------------------------------------------------- config */

struct st_smmu {
    char name[64];
    int index;
    uint32_t idr[6], iidr, aidr;
    bool nesting;
    bool cmdqv;
    unsigned cmdqv_version, vintfs, lvcmdqs, vcmdqs, sids;
    uint64_t msi_base, msi_size;     /* IOMMU_RESV_SW_MSI region; size 0: none */
    uint64_t vintf_mmap_len;         /* out_vintf_mmap_length (the kernel: 64K) */

    /* runtime: the host CMDQV model (cmdqv.c) */
    struct st_vintf *vintf;          /* [vintfs] */
    uint32_t *alloc_map;             /* CMDQ_ALLOC_MAP per global VCMDQ */
    uint64_t *vcmdq_base;            /* page-1 BASE per global VCMDQ */
    uint32_t *vcmdq_gerror;          /* GERROR per global VCMDQ (never reset) */
    bool irq;                        /* a queue error raised the CMDQV interrupt */
    uint32_t cmdq_err_map[4];        /* a bit per global VCMDQ in error */
    uint64_t vintf_err_map;          /* a bit per VINTF with a queue in error */
    uint8_t vmid_used[65536 / 8];
    uint64_t host_syncs;             /* CMD_SYNCs issued on the host's own queue */
};

struct st_pci {
    char bdf[16];
    int index;                       /* N of /dev/vfio/devices/vfioN */
    int smmu;                        /* index into st_smmus */
    uint16_t vendor, device, subvendor, subdevice;
    uint32_t class_code;
    uint8_t revision;
    uint32_t sid;
    uint64_t bar[6];
    int line;                        /* section line in the config */

    /* runtime (vfio.c) */
    uint8_t cfg[4096];
    uint8_t cfg_wmask[4096];
    uint32_t bar_mask[6];            /* size mask of each BAR dword */
    int bar_fd[6];                   /* memfd backing each BAR */
    int msi_cap, msix_cap, pcie_cap;
    int msix_entries;
    int irq_type;                    /* index of the enabled IRQ type or -1 */
    struct st_obj *devobj;           /* bound device object, if any */
    uint64_t resets;
    uint32_t migration;              /* VFIO_MIGRATION_* flags ([pci] migration); 0: none */
    struct st_mig *mig;              /* its migration state, if migration */
};

struct st_fault {
    char ioctl[64];
    unsigned long nth;
    int err;
    unsigned long calls;
    bool done;
    long entry;          /* IOMMU_HWPT_INVALIDATE: fail at this entry; -1: the whole call */
};

/*
 * The kernel version the stand-in models ([host] kernel, STANDIN_KERNEL),
 * as major * 100 + minor: 617, 618, 619, 700.  Rules that differ between
 * versions test st_kernel_at_least(); INTERFACE.md lists them.
 */
#define ST_KERNEL_DEFAULT 700

struct st_host {
    uint64_t page_size;
    int kernel;
    int nsmmu, npci;
    struct st_smmu smmu[ST_MAX_SMMUS];
    struct st_pci pci[ST_MAX_PCI];
};

extern struct st_host st_host;
extern bool st_active;
extern bool st_used;
extern int st_loglevel;
extern char st_dir[4096];
extern pthread_mutex_t st_lock;

int st_config_load(const char *path);     /* exits 78 on error */
/* "6.17" -> 617 ...; 0 for a version the stand-in does not model */
int st_kernel_parse(const char *v);
const char *st_kernel_name(int k);

static inline bool st_kernel_at_least(int k)
{
    return st_host.kernel >= k;
}
void st_config_defaults_smmu(struct st_smmu *s);

/* ---------------------------------------------------------------- objects */

enum st_otype {
    OT_NONE = 0,
    OT_IOAS,
    OT_HWPT_PAGING,
    OT_HWPT_NESTED,
    OT_VIOMMU,
    OT_VDEVICE,
    OT_HW_QUEUE,
    OT_VEVENTQ,
    OT_DEVICE,
    /*
     * What iommufd_object_tombstone_user() leaves in the object xarray: an
     * ID that names nothing (ENOENT) and is not handed out again until the
     * iommufd is released.  Never dumped as an object, never a leak.
     */
    OT_TOMBSTONE,
};

struct st_area {
    uint64_t iova, len;
    uint64_t va;                     /* process VA backing iova */
    bool writable;
    void *own_map;                   /* our own mapping of a MAP_FILE range */
    size_t own_len;
    uint64_t huge;                   /* huge page size backing it, 0 if none */
    int pins;                        /* HW queues pinning it */
    bool file;                       /* IOMMU_IOAS_MAP_FILE (IOPT_ADDRESS_FILE) */
    struct st_area *next;
};

struct st_vevent {
    struct iommufd_vevent_header hdr;
    uint32_t len;
    uint8_t data[32];
    struct st_vevent *next;
};

struct st_ictx;
struct st_file;

struct st_obj {
    uint32_t id;
    enum st_otype type;
    struct st_ictx *ctx;
    struct st_obj *next;

    /* IOAS */
    struct st_area *areas;

    /* HWPT paging */
    struct st_obj *ioas;
    bool nest_parent, auto_domain;
    uint32_t dev_id, hwpt_flags;
    int smmu;
    int vmid;

    /* HWPT nested (viommu below) */
    uint64_t ste[2];
    bool ste_s1;

    /* vIOMMU */
    uint32_t vtype;
    struct st_obj *hwpt;
    int vintf;                       /* host VINTF index, -1 if none */
    uint64_t mmap_off, mmap_len;
    int mmaps;                       /* live mmaps of the region */

    /* shared by vDEVICE, HW queue, vEVENTQ, nested HWPT */
    struct st_obj *viommu;

    /* vDEVICE */
    struct st_obj *dev;
    uint64_t virt_id;
    int sid_slot;

    /* HW queue */
    uint32_t qtype, index;
    uint64_t iova, length, pa;
    int gq;                          /* global VCMDQ index */
    bool ring_direct;                /* the engine reads the ring with loads */
    struct st_obj *prev;
    struct st_area **pinned;
    int npinned;
    uint64_t executed;

    /* vEVENTQ */
    uint32_t etype, depth;
    int evfd;                        /* backing eventfd */
    bool fd_open;
    struct st_vevent *evhead, *evtail;
    bool lost_queued;
    struct st_vevent lost_hdr;
    uint32_t num_events, sequence;
    uint64_t lost;

    /* device */
    struct st_pci *pci;
    struct st_file *df;
    struct st_obj *attached;         /* HWPT the device is attached to */
    struct st_obj *vdev;
};

struct st_ictx {
    int refs;                        /* fds + bound devices + vEVENTQ fds + mmaps */
    int serial;
    struct st_obj *objs;
    bool released;
    struct st_ictx *next;
};

enum st_ftype { FT_NONE = 0, FT_IOMMUFD, FT_VFIO, FT_VEVENTQ, FT_MIGDATA };

struct st_file {
    enum st_ftype type;
    int fd;
    int refs;                        /* number of fds pointing here (dup) */
    struct st_ictx *ctx;             /* iommufd / vEVENTQ: its ctx */
    struct st_pci *pci;              /* VFIO */
    struct st_obj *devobj;           /* VFIO: bound device object */
    struct st_obj *veq;              /* vEVENTQ */
    struct st_migf *migf;            /* migration data fd (migration.c) */
    /*
     * iommufd / VFIO: the backing memfd's inode (st_dev, st_ino).  Two fds
     * of one open file share one st_file, also when the second arrives from
     * another process (fdpass.c).
     */
    uint64_t bdev, bino;
};

extern struct st_file *st_fdtab[ST_FDMAX];
extern struct st_ictx *st_ctxs;

static inline struct st_file *st_fd_file(int fd)
{
    if (fd < 0 || fd >= ST_FDMAX) {
        return NULL;
    }
    return __atomic_load_n(&st_fdtab[fd], __ATOMIC_ACQUIRE);
}

/*
 * The name of the memfd behind each stand-in file: it says what the file
 * is, so that any process can tell from /proc/self/fd/N ("/memfd:<name>
 * (deleted)") what an fd it did not open is (fdpass.c).
 */
#define ST_MEMFD_IOMMUFD "standin-iommufd"
#define ST_MEMFD_VFIO    "standin-vfio:"      /* followed by the BDF */

/*
 * Install a stand-in file on @fd, a memfd this process holds: a new iommufd
 * context, or the VFIO cdev of @p (unbound).  NULL if @fd >= ST_FDMAX.
 */
struct st_file *st_iommufd_install(int fd);
struct st_file *st_vfio_install(int fd, struct st_pci *p);
/* Record the backing memfd's inode of @f (st_file.bdev/bino). */
void st_file_note_backing(struct st_file *f);
/* Forget @fd (closed behind our back, or replaced). */
void st_fd_untrack(int fd);
/* The character device behind a stand-in file, if it is one. */
bool st_file_rdev(struct st_file *f, dev_t *rdev);

/* ---------------------------------------------------- fds from elsewhere */

/* Adopt the stand-in fds this process inherited across exec (st_init). */
void st_adopt_inherited(void);
/* Adopt @fd if it is a stand-in file; @via: "exec" or "scm_rights". */
void st_adopt_fd(int fd, const char *via);
void st_dump_passed(GString *s);

/* ----------------------------------------------------------------- paths */

/*
 * /sys/bus/pci/devices/<BDF of a [pci] section>[/...] ->
 * $STANDIN_DIR/sys/bus/pci/devices/<BDF>[/...] in @buf; any other path is
 * returned as it is.  Lock not needed (the host description never changes).
 */
const char *st_sys_path(const char *path, char *buf, size_t len);
void st_paths_init(void);
#define ST_PATHBUF 8192

struct st_obj *st_obj_new(struct st_ictx *ctx, enum st_otype type);
void st_obj_free(struct st_obj *o);          /* unlink + free memory, no side effects */
struct st_obj *st_obj_get(struct st_ictx *ctx, uint32_t id, enum st_otype type);
const char *st_otype_name(enum st_otype t);
int st_obj_holders(struct st_obj *o, uint32_t *ids, int max);
bool st_obj_is_viommu_family(struct st_obj *o);
void st_ictx_put(struct st_ictx *ctx);
void st_destroy_obj(struct st_obj *o);       /* type specific teardown, then free */
void st_tombstone_obj(struct st_obj *o);     /* teardown, the ID stays taken (ENOENT) */

/* --------------------------------------------------------------- ioctls */

int st_iommufd_ioctl(struct st_file *f, unsigned long cmd, uint64_t arg);
int st_vfio_ioctl(struct st_file *f, unsigned long cmd, uint64_t arg);
const char *st_ioctl_name(unsigned long cmd);
int st_fault_check(const char *name);        /* 0 or errno to inject */
void st_count_ioctl(const char *name);
int st_fault_add(const char *ioctl, unsigned long nth, int err);
int st_fault_add_entry(const char *ioctl, unsigned long nth, int err, long entry);
/* Entry of the fault st_fault_check() last fired (-1: the whole call). */
long st_fault_last_entry(void);
void st_fault_clear(void);

/* user memory, safe against bad pointers */
int st_uread(void *dst, uint64_t uaddr, size_t len);
int st_uwrite(uint64_t uaddr, const void *src, size_t len);
int st_uzero(uint64_t uaddr, size_t len);
int st_copy_struct_from_user(void *dst, size_t ksize, uint64_t uaddr, size_t usize);

/* IOAS helpers */
int st_ioas_translate(struct st_obj *ioas, uint64_t iova, uint64_t len, uint64_t *va);
void st_ioas_free_areas(struct st_obj *ioas);

/* ------------------------------------------------------------------ VFIO */

int st_vfio_init(void);                       /* sysfs tree and device state */
int st_vfio_open(int idx, int flags);          /* returns fd or -errno */
void st_vfio_release(struct st_file *f);
ssize_t st_vfio_pread(struct st_file *f, void *buf, size_t n, uint64_t off);
ssize_t st_vfio_pwrite(struct st_file *f, const void *buf, size_t n, uint64_t off);
void *st_vfio_mmap(struct st_file *f, void *addr, size_t len, int prot, int flags, uint64_t off);
void st_device_unbind(struct st_obj *dev);
int st_device_detach(struct st_obj *dev);

/* ------------------------------------------------------------- migration */

/*
 * VFIO migration v2 of a [pci] function with migration = yes (migration.c),
 * as a vfio-pci variant driver does it: the device state FSM, the data fd,
 * DMA logging.  Without migration every call below is a no-op / ENOTTY.
 */
int st_mig_init(struct st_pci *p);
/* VFIO_DEVICE_FEATURE after the core's flag checks; -ENOTTY: not ours */
int st_mig_feature(struct st_pci *p, uint32_t flags, uint32_t feature, uint64_t data, size_t argsz);
void st_mig_open(struct st_pci *p);            /* bind: open_device */
void st_mig_close(struct st_pci *p);           /* unbind: close_device */
void st_mig_reset(struct st_pci *p);           /* VFIO_DEVICE_RESET, hot reset */
ssize_t st_migf_read(struct st_file *f, void *buf, size_t n, int64_t off);
ssize_t st_migf_write(struct st_file *f, const void *buf, size_t n, int64_t off);
int st_migf_ioctl(struct st_file *f, unsigned long cmd, uint64_t arg);
void st_migf_release(struct st_file *f);
/* a fault name of migration.c ("mig_arc", "mig_arc:STOP>STOP_COPY", ...) */
bool st_mig_fault_name(const char *name);
void st_dump_migration(GString *s);

/* ----------------------------------------------------------------- CMDQV */

void st_cmdqv_init(void);
int st_vintf_alloc(struct st_smmu *s, int vmid);            /* -errno or idx */
void st_vintf_free(struct st_smmu *s, int idx);
int st_vintf_fd(struct st_smmu *s, int idx);
int st_vintf_sid_alloc(struct st_smmu *s, int vintf, uint32_t psid, uint32_t vsid);
void st_vintf_sid_free(struct st_smmu *s, int vintf, int slot);
int st_hwq_init(struct st_obj *q);            /* write alloc map + BASE */
void st_hwq_deinit(struct st_obj *q);         /* the kernel's destroy sequence */
void st_engine_kick(void);
/*
 * A range of this process's memory is about to be unmapped, remapped or
 * made unreadable: HW queue rings inside it are read by copy (EFAULT-safe)
 * from now on. st_ndirect (read without the lock) counts the rings read
 * with plain loads, so the interposed calls skip the lock when it is 0.
 */
void st_hwq_ring_unsafe(uint64_t addr, uint64_t len);
extern volatile int st_ndirect;
void st_engine_stop(void);
void st_engine_pause(bool pause);             /* ctl "engine pause|resume" */
void st_vintf_set_viommu(struct st_smmu *s, int idx, struct st_obj *viommu);
void st_dump_cmdqv(GString *s);

/* executed-command records */
struct st_cmdrec {
    uint32_t hw_queue;
    int vintf, index;
    uint8_t op;
    uint32_t vmid, asid, sid;
    uint64_t addr;
};
void st_record_vcmdq(const struct st_cmdrec *r);

/* ------------------------------------------------------------- vEVENTQ */

void st_veventq_report(struct st_obj *viommu, uint32_t type, const void *data, uint32_t len);
ssize_t st_veventq_read(struct st_file *f, void *buf, size_t n);
void st_veventq_drain(struct st_obj *q);

/* -------------------------------------------------------- observability */

void st_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *st_errno_name(int err);
int st_errno_parse(const char *name);
bool st_ioctl_known(const char *name);
/* The name under which mmap() on an iommufd is counted and can be failed */
#define ST_CALL_MMAP "mmap"
/*
 * Not a call either: an ATC_INV executed by a VCMDQ.  A fault armed on it
 * makes that ATC_INV time out (CERROR_ATC_INV_SYNC at the next CMD_SYNC).
 */
#define ST_CALL_VCMDQ_ATC_INV "vcmdq_atc_inv"
char *st_dump_json(void);                    /* caller frees with g_free */
void st_ctl_start(void);
void st_note_leak_obj(struct st_obj *o);
void st_note_leak_mmap(uint64_t off);
void st_note_freed(struct st_obj *o);
void st_note_rejected_destroy(struct st_obj *o, int err);
void st_note_fault(const char *ioctl, unsigned long call, int err);
/*
 * One IOMMU_HWPT_INVALIDATE on a vIOMMU: @entry_num asked for, @done
 * issued to the hardware (in @batches chunks, each with a CMD_SYNC), @err,
 * @entry_num_out written back; @cmds the @done issued commands.
 */
void st_record_invalidation(uint32_t viommu, uint32_t entry_num, uint32_t done, int err,
                            uint32_t entry_num_out, uint32_t batches,
                            const uint64_t (*cmds)[2], uint32_t ncmds);
const char *st_cmd_opname(uint8_t op);

/* mmaps of vIOMMU regions */
struct st_mmap {
    uint64_t addr, len;
    struct st_obj *viommu;
    struct st_ictx *ctx;
    uint64_t off;
    struct st_mmap *next;
};
extern struct st_mmap *st_mmaps;
extern volatile int st_nmmaps;

/* real libc entry points (interpose.c) */
void *st_real_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
int st_real_munmap(void *addr, size_t len);
int st_real_close(int fd);

extern uint64_t st_sys_page;

static inline uint64_t st_page(void)
{
    return st_sys_page;
}

#endif
