/*
 * The host's NVIDIA Tegra241 CMDQV (spec/cmdqv-hw.md) and the vEVENTQs.
 *
 * Each host VINTF's page 0 (per logical queue CONS/PROD/CONFIG/STATUS/
 * GERROR/GERRORN at stride 0x80) is a 64 KiB memfd: the user maps it through
 * mmap(iommufd) and stores to it directly, exactly like the real page. Nobody
 * calls into the stand-in when the guest bumps PROD, so an engine thread
 * polls every allocated queue:
 *   - no HW queue allocated and no VINTF page mapped anywhere (or the engine
 *     paused): it blocks on a condition variable (woken by HW_QUEUE_ALLOC,
 *     the mmap and every other st_engine_kick()), burning nothing;
 *   - otherwise it alternates a pass under the global lock (the only place
 *     it changes anything) with a watch that takes no lock: it compares the
 *     registers of every logical queue of every VINTF in use with what they
 *     held at the last pass, so only a store to a register (a PROD bump, an
 *     enable, an acknowledge, a store over what the hardware owns) or a kick
 *     brings it back under the lock, and an ioctl never waits for a poll;
 *   - after any work (commands consumed, a state change) it watches without
 *     sleeping (a pause instruction between looks) for SPIN_NS after the
 *     last work, so a busy guest's command is taken within a fraction of a
 *     microsecond.  After each YIELD_NS without a pass it yields: a thread
 *     sharing its core (the vCPU that would write the next PROD) runs
 *     instead of waiting out the engine's time slice, while a steady
 *     stream of commands never yields;
 *   - idle beyond that: it sleeps, the sleep doubling from 2 us up to 1 ms,
 *     and after IDLE_LONG (1 s) without work up to 8 ms: a wakeup costs
 *     ~10 us of CPU on a small VM whatever it does, so an idle but
 *     allocated queue costs ~125 wakeups a second, each a look at a few
 *     registers (the dump's "engine" key has the thread's CPU time), and
 *     the first command after a quiet spell waits at most ~1 ms, ~8 ms
 *     after a second or more of quiet.
 * Every pass runs under the global lock, so ioctls (destroy in particular)
 * see the engine either before or after a command, never in the middle.
 * A pass reads the commands of a queue from CONS to PROD in one copy (at
 * most BATCH at a time) and falls back to one command a copy when that
 * copy fails, so an unreadable command stops the queue exactly there.
 * The copy is a plain memcpy from the ring (the kernel's hardware reads
 * pinned pages; a syscall per copy would cost microseconds) as long as the
 * ring's memory has stayed mapped and readable since HW_QUEUE_ALLOC: the
 * interposed munmap, mremap, mprotect and MAP_FIXED mmap call
 * st_hwq_ring_unsafe() first, and from then on that queue's ring is read
 * with process_vm_readv, so a ring that went away gives ABT, not SIGSEGV.
 *
 * The page is plain shared memory, so software can store anywhere in it.
 * The hardware owns CONS (while the queue is enabled or still running),
 * STATUS and GERROR, and the reserved offsets read as zero: the engine
 * keeps a shadow of what the hardware owns and writes it back over any
 * software store at the pass the store brings (the watch covers the
 * registers of every logical queue, allocated or not); the reserved
 * offsets are checked without the lock every SCRUB_NS (8 ms; 32 ms while
 * the engine sleeps, a check reads the whole 64K page) and scrubbed
 * by a pass when dirty.  The engine runs while any HW queue is allocated
 * or any VINTF page is mapped.
 */
#include "standin.h"

#include <errno.h>
#include <string.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define Q_CONS    0x00
#define Q_PROD    0x04
#define Q_CONFIG  0x08
#define Q_STATUS  0x0c
#define Q_GERROR  0x10
#define Q_GERRORN 0x14

#define GERROR_CMDQ_ERR (1u << 0)
#define CONS_ERR_SHIFT  24
#define CONS_ERR_MASK   (0x7fu << CONS_ERR_SHIFT)
#define CONS_RD_MASK    0xfffffu       /* CMDQ_CONS.RD: index and wrap bit */
#define CERROR_ILL      1
#define CERROR_ABT      2
#define CERROR_ATC_INV_SYNC 3
#define Q_REGS_END      0x18            /* 0x18..0x7f of each queue: reserved */
#define SCRUB_NS        8000000ll       /* the reserved offsets: at most every 8 ms, */
#define SCRUB_IDLE_NS   32000000ll      /* every 32 ms while asleep (a look costs a 64K read) */

#define SPIN_NS     500000ll
#define YIELD_NS    20000ll
#define SLEEP_MIN   2000ll
#define SLEEP_MAX   1000000ll
#define IDLE_LONG   1000000000ll     /* quiet for that long: sleep up to SLEEP_LONG */
#define SLEEP_LONG  8000000ll
#define BATCH       64               /* commands read from a ring in one copy */

#if defined(__x86_64__) || defined(__i386__)
#define cpu_relax() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define cpu_relax() __asm__ __volatile__("yield" ::: "memory")
#else
#define cpu_relax() __asm__ __volatile__("" ::: "memory")
#endif

/* What the hardware owns in one logical queue's page-0 registers */
struct st_lvq_hw {
    uint32_t cons;                   /* CONS_INDX: RD and ERR */
    uint32_t status;                 /* STATUS.CMDQ_EN_OK */
    uint32_t gerror;                 /* GERROR */
    bool atc_timeout;                /* an ATC_INV timed out, no CMD_SYNC since */
};

struct st_vintf {
    bool used;
    int memfd;
    uint8_t *page0;                  /* our own mapping */
    uint32_t config, status;
    uint32_t sid_match[16], sid_replace[16];
    uint64_t lvcmdq_err_map[2];
    struct st_obj *viommu;
    struct st_obj *q[128];
    bool q_err[128];
    struct st_lvq_hw hw[128];
};

/*
 * The engine's own sleep: eng_mutex and eng_cond, never held with st_lock
 * taken after them (st_engine_kick takes eng_mutex under st_lock).
 * eng_gen counts kicks, so the engine never sleeps through one.
 */
static pthread_mutex_t eng_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t eng_cond = PTHREAD_COND_INITIALIZER;
static pthread_t eng_thread;
static bool eng_started, eng_stop, eng_paused;
static uint64_t eng_gen;
static int nqueues;
volatile int st_ndirect;
static int64_t last_scrub;
static const uint8_t zero_page[VINTF_PAGE_SIZE];

/* What the engine did, for the dump (written by the engine, read under st_lock) */
static uint64_t eng_passes, eng_sleeps, eng_blocks;
static const char *eng_state = "stopped";
static bool pass_more;               /* a queue stopped at its budget, not at PROD */

static void set_state(const char *st)
{
    __atomic_store_n(&eng_state, st, __ATOMIC_RELAXED);
}

/*
 * The lock-free watch, private to the engine thread: the registers of every
 * logical queue of every VINTF in use as the last pass left them (for what
 * the hardware owns: the shadow, what the page must read), and the pages
 * whose reserved offsets the scrub checks. The pages stay mapped for the
 * life of the process, so reading them without the lock is safe.
 */
struct eng_watch {
    const uint8_t *regs;
    uint32_t seen[Q_REGS_END / 4];
};
static struct eng_watch *watch;
static unsigned nwatch, watch_cap;
static const uint8_t **watch_pages;
static unsigned *watch_qend;
static unsigned nwatch_pages, watch_pages_cap;

static int64_t now_ns(void);

static inline uint32_t rd(uint8_t *page, unsigned lidx, unsigned reg)
{
    return __atomic_load_n((uint32_t *)(page + lidx * LVCMDQ_STRIDE + reg), __ATOMIC_ACQUIRE);
}

static inline void wr(uint8_t *page, unsigned lidx, unsigned reg, uint32_t v)
{
    __atomic_store_n((uint32_t *)(page + lidx * LVCMDQ_STRIDE + reg), v, __ATOMIC_RELEASE);
}

void st_cmdqv_init(void)
{
    for (int i = 0; i < st_host.nsmmu; i++) {
        struct st_smmu *s = &st_host.smmu[i];

        if (!s->cmdqv) {
            continue;
        }
        s->vintf = g_new0(struct st_vintf, s->vintfs);
        for (unsigned v = 0; v < s->vintfs; v++) {
            s->vintf[v].memfd = -1;
        }
        s->alloc_map = g_new0(uint32_t, s->vcmdqs);
        s->vcmdq_base = g_new0(uint64_t, s->vcmdqs);
        s->vcmdq_gerror = g_new0(uint32_t, s->vcmdqs);
        /* VINTF0 belongs to the host kernel and is always in use */
        s->vintf[0].used = true;
        s->vintf[0].config = 1;
        s->vintf[0].status = 1;
    }
}

int st_vintf_alloc(struct st_smmu *s, int vmid)
{
    for (unsigned v = 1; v < s->vintfs; v++) {
        struct st_vintf *vi = &s->vintf[v];

        if (vi->used) {
            continue;
        }
        if (vi->memfd < 0) {
            int fd = memfd_create("standin-vintf-page0", MFD_CLOEXEC);
            void *m;

            if (fd < 0) {
                return -ENOMEM;
            }
            if (ftruncate(fd, VINTF_PAGE_SIZE) < 0) {
                st_real_close(fd);
                return -ENOMEM;
            }
            m = st_real_mmap(NULL, VINTF_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
            if (m == MAP_FAILED) {
                st_real_close(fd);
                return -ENOMEM;
            }
            vi->memfd = fd;
            vi->page0 = m;
        }
        memset(vi->page0, 0, VINTF_PAGE_SIZE);
        vi->used = true;
        /* enabled, guest owned (HYP_OWN = 0), the VM's VMID, no queue */
        vi->config = 1u | ((uint32_t)(vmid & 0xffff) << 1);
        vi->status = 1;
        memset(vi->sid_match, 0, sizeof(vi->sid_match));
        memset(vi->sid_replace, 0, sizeof(vi->sid_replace));
        memset(vi->lvcmdq_err_map, 0, sizeof(vi->lvcmdq_err_map));
        memset(vi->q, 0, sizeof(vi->q));
        memset(vi->q_err, 0, sizeof(vi->q_err));
        memset(vi->hw, 0, sizeof(vi->hw));
        vi->viommu = NULL;
        return v;
    }
    return -ENOSPC;
}

void st_vintf_free(struct st_smmu *s, int idx)
{
    struct st_vintf *vi = &s->vintf[idx];

    vi->config = 0;
    vi->status = 0;
    memset(vi->sid_match, 0, sizeof(vi->sid_match));
    memset(vi->sid_replace, 0, sizeof(vi->sid_replace));
    memset(vi->page0, 0, VINTF_PAGE_SIZE);
    memset(vi->hw, 0, sizeof(vi->hw));
    vi->used = false;
    vi->viommu = NULL;
    s->vintf_err_map &= ~(1ull << idx);
}

void st_vintf_set_viommu(struct st_smmu *s, int idx, struct st_obj *viommu)
{
    s->vintf[idx].viommu = viommu;
}

int st_vintf_fd(struct st_smmu *s, int idx)
{
    return s->vintf[idx].memfd;
}

int st_vintf_sid_alloc(struct st_smmu *s, int vintf, uint32_t psid, uint32_t vsid)
{
    struct st_vintf *vi = &s->vintf[vintf];

    for (unsigned i = 0; i < s->sids; i++) {
        if (!(vi->sid_match[i] & 1)) {
            vi->sid_replace[i] = psid;
            vi->sid_match[i] = vsid << 1 | 1;
            return i;
        }
    }
    return -ENOSPC;
}

void st_vintf_sid_free(struct st_smmu *s, int vintf, int slot)
{
    if (vintf < 0) {
        return;
    }
    s->vintf[vintf].sid_match[slot] = 0;
    s->vintf[vintf].sid_replace[slot] = 0;
}

static struct st_smmu *q_smmu(struct st_obj *q)
{
    return &st_host.smmu[q->viommu->smmu];
}

/*
 * tegra241_vcmdq_hw_deinit() on a logical queue: CONFIG = 0 and wait for
 * STATUS, a CMD_SYNC on the host's own queue (tegra241_vcmdq_hw_flush_timeout:
 * it flushes a pending ATC_INV timeout), PROD = CONS = 0, BASE = 0,
 * GERRORN = GERROR if they differ.  GERROR itself is the global VCMDQ's
 * and is never reset.
 */
static void vcmdq_hw_deinit(struct st_smmu *s, struct st_vintf *vi, unsigned lidx, int gq)
{
    struct st_lvq_hw *hw = &vi->hw[lidx];

    wr(vi->page0, lidx, Q_CONFIG, 0);
    hw->status = 0;
    wr(vi->page0, lidx, Q_STATUS, 0);
    s->host_syncs++;
    hw->atc_timeout = false;
    wr(vi->page0, lidx, Q_PROD, 0);
    hw->cons = 0;
    wr(vi->page0, lidx, Q_CONS, 0);
    s->vcmdq_base[gq] = 0;
    hw->gerror = s->vcmdq_gerror[gq];
    wr(vi->page0, lidx, Q_GERROR, hw->gerror);
    if (rd(vi->page0, lidx, Q_GERRORN) != hw->gerror) {
        wr(vi->page0, lidx, Q_GERRORN, hw->gerror);
    }
}

/*
 * tegra241_vintf_alloc_lvcmdq_user(): map the global VCMDQ to the logical
 * queue (CMDQ_ALLOC_MAP), then tegra241_vcmdq_hw_init_user(): the deinit
 * sequence above and BASE; user space does the enabling.  So a new queue
 * shows the GERROR its global VCMDQ was left with (GERRORN equal to it),
 * not zero.
 */
int st_hwq_init(struct st_obj *q)
{
    struct st_smmu *s = q_smmu(q);
    struct st_vintf *vi = &s->vintf[q->viommu->vintf];
    unsigned lidx = q->index;

    q->gq = q->viommu->vintf * s->lvcmdqs + lidx;
    s->alloc_map[q->gq] = 1u | (lidx << 1) | ((uint32_t)q->viommu->vintf << 15);
    vcmdq_hw_deinit(s, vi, lidx, q->gq);
    s->vcmdq_base[q->gq] = q->pa | (__builtin_ctzll(q->length) - 4);
    vi->q[lidx] = q;
    vi->q_err[lidx] = false;
    nqueues++;
    /* plain loads from the ring only while all of it is readable now */
    q->ring_direct = true;
    for (uint64_t off = 0; off < q->length; off += st_sys_page) {
        uint8_t b;

        if (st_uread(&b, q->pa + off, 1)) {
            q->ring_direct = false;
            break;
        }
    }
    if (q->ring_direct) {
        __atomic_fetch_add(&st_ndirect, 1, __ATOMIC_RELAXED);
    }
    st_engine_kick();
    return 0;
}

void st_hwq_ring_unsafe(uint64_t addr, uint64_t len)
{
    for (int i = 0; i < st_host.nsmmu; i++) {
        struct st_smmu *s = &st_host.smmu[i];

        if (!s->cmdqv) {
            continue;
        }
        for (unsigned v = 1; v < s->vintfs; v++) {
            for (unsigned l = 0; l < s->lvcmdqs; l++) {
                struct st_obj *q = s->vintf[v].q[l];

                if (q && q->ring_direct && q->pa < addr + len && addr < q->pa + q->length) {
                    q->ring_direct = false;
                    __atomic_fetch_sub(&st_ndirect, 1, __ATOMIC_RELAXED);
                    st_log(2, "vcmdq: hw_queue %u: its ring's memory changes mapping: "
                           "read by copy from now on", q->id);
                }
            }
        }
    }
}

static void clear_err_maps(struct st_smmu *s, struct st_vintf *vi, int vidx, unsigned lidx, int gq)
{
    vi->lvcmdq_err_map[lidx / 64] &= ~(1ull << (lidx % 64));
    s->cmdq_err_map[gq / 32] &= ~(1u << (gq % 32));
    if (!vi->lvcmdq_err_map[0] && !vi->lvcmdq_err_map[1]) {
        s->vintf_err_map &= ~(1ull << vidx);
    }
}

/* tegra241_vintf_destroy_lvcmdq_user(): hw_deinit, then unmap the LVCMDQ */
void st_hwq_deinit(struct st_obj *q)
{
    struct st_smmu *s = q_smmu(q);
    struct st_vintf *vi;
    unsigned lidx = q->index;

    if (q->gq < 0 || q->viommu->vintf < 0) {
        return;
    }
    vi = &s->vintf[q->viommu->vintf];
    vcmdq_hw_deinit(s, vi, lidx, q->gq);
    clear_err_maps(s, vi, q->viommu->vintf, lidx, q->gq);
    s->alloc_map[q->gq] = 0;
    vi->q[lidx] = NULL;
    vi->q_err[lidx] = false;
    q->gq = -1;
    nqueues--;
    if (q->ring_direct) {
        q->ring_direct = false;
        __atomic_fetch_sub(&st_ndirect, 1, __ATOMIC_RELAXED);
    }
}

void st_hwq_regs(struct st_obj *q, uint32_t r[6]);
void st_hwq_regs(struct st_obj *q, uint32_t r[6])
{
    struct st_smmu *s = q_smmu(q);
    struct st_vintf *vi;

    memset(r, 0, 6 * sizeof(uint32_t));
    if (q->viommu->vintf < 0) {
        return;
    }
    vi = &s->vintf[q->viommu->vintf];
    for (int i = 0; i < 6; i++) {
        r[i] = rd(vi->page0, q->index, i * 4);
    }
    /* what the hardware owns, whatever software stored over it */
    r[Q_CONS / 4] = vi->hw[q->index].cons;
    r[Q_STATUS / 4] = vi->hw[q->index].status;
    r[Q_GERROR / 4] = vi->hw[q->index].gerror;
}

/* --------------------------------------------------------------- engine */

static bool sid_lookup(struct st_vintf *vi, unsigned nsids, uint32_t vsid, uint32_t *psid)
{
    for (unsigned i = 0; i < nsids; i++) {
        if ((vi->sid_match[i] & 1) && (vi->sid_match[i] >> 1) == vsid) {
            *psid = vi->sid_replace[i];
            return true;
        }
    }
    return false;
}

/*
 * A command error: CONS stays at the command with CONS.ERR = @cerror,
 * GERROR.CMDQ_ERR toggles, the queue's bit is set in its VINTF's
 * LVCMDQ_ERR_MAP and in CMDQ_ERR_MAP, the VINTF's in VINTF_ERR_MAP, and the
 * CMDQV raises its interrupt (handled at the end of the engine pass).
 */
static void raise_error(struct st_smmu *s, struct st_vintf *vi, int vidx, struct st_obj *q,
                        uint32_t cons_pos, unsigned cerror)
{
    unsigned lidx = q->index;
    struct st_lvq_hw *hw = &vi->hw[lidx];

    /*
     * The error state first, CONS.ERR last: a guest that sees CONS.ERR
     * while busy-polling CONS must find GERROR and the maps already set.
     */
    hw->gerror ^= GERROR_CMDQ_ERR;
    s->vcmdq_gerror[q->gq] = hw->gerror;
    wr(vi->page0, lidx, Q_GERROR, hw->gerror);
    vi->lvcmdq_err_map[lidx / 64] |= 1ull << (lidx % 64);
    s->cmdq_err_map[q->gq / 32] |= 1u << (q->gq % 32);
    s->vintf_err_map |= 1ull << vidx;
    vi->q_err[lidx] = true;
    __atomic_thread_fence(__ATOMIC_RELEASE);
    hw->cons = cons_pos | (cerror << CONS_ERR_SHIFT);
    wr(vi->page0, lidx, Q_CONS, hw->cons);
    st_log(2, "vcmdq: hw_queue %u (vintf %d lvcmdq %u) stopped at CONS 0x%x: CERROR %u",
           q->id, vidx, lidx, cons_pos, cerror);
    s->irq = true;
}

/*
 * tegra241_cmdqv_isr(): one interrupt; for every user VINTF whose bit is
 * set in VINTF_ERR_MAP, tegra241_vintf_user_handle_error() reports one
 * TEGRA241 vEVENT carrying that VINTF's whole LVCMDQ_ERR_MAP.  So errors
 * raised together give one record with their bits merged, and a VINTF
 * whose earlier error is not yet acknowledged is reported again.  The
 * kernel clears nothing.
 */
static void cmdqv_isr(struct st_smmu *s)
{
    s->irq = false;
    for (unsigned v = 1; v < s->vintfs; v++) {
        struct st_vintf *vi = &s->vintf[v];
        struct iommu_vevent_tegra241_cmdqv ev;

        if (!(s->vintf_err_map & (1ull << v)) || !vi->used || !vi->viommu) {
            continue;
        }
        ev.lvcmdq_err_map[0] = vi->lvcmdq_err_map[0];
        ev.lvcmdq_err_map[1] = vi->lvcmdq_err_map[1];
        st_veventq_report(vi->viommu, IOMMU_VEVENTQ_TYPE_TEGRA241_CMDQV, &ev, sizeof(ev));
    }
}

/*
 * Undo software stores to what the hardware owns in an allocated queue:
 * STATUS and GERROR always, CONS while the queue runs.  While it is
 * stopped (STATUS.CMDQ_EN_OK = 0) a store to CONS is taken, as the kernel's
 * own tegra241_vcmdq_hw_deinit() relies on (CONS = 0 after disabling); its
 * ERR field stays the hardware's.  True when anything was rewritten.
 */
static bool restore_hw_regs(struct st_vintf *vi, unsigned lidx)
{
    struct st_lvq_hw *hw = &vi->hw[lidx];
    uint32_t cons = rd(vi->page0, lidx, Q_CONS);
    bool did = false;

    if (cons != hw->cons) {
        if (!(hw->status & 1)) {
            hw->cons = (cons & CONS_RD_MASK) | (hw->cons & CONS_ERR_MASK);
        }
        if (cons != hw->cons) {
            wr(vi->page0, lidx, Q_CONS, hw->cons);
        }
        did = true;
    }
    if (rd(vi->page0, lidx, Q_STATUS) != hw->status) {
        wr(vi->page0, lidx, Q_STATUS, hw->status);
        did = true;
    }
    if (rd(vi->page0, lidx, Q_GERROR) != hw->gerror) {
        wr(vi->page0, lidx, Q_GERROR, hw->gerror);
        did = true;
    }
    return did;
}

/*
 * The rest of a VINTF page: reserved offsets (0x18..0x7f of each queue and
 * everything after the last logical queue) read as zero; a queue not
 * allocated keeps STATUS 0 and its GERROR (its CONS, PROD, CONFIG and
 * GERRORN are plain storage: nothing runs there).
 */
static void scrub_page(struct st_smmu *s, struct st_vintf *vi)
{
    size_t qend = (size_t)s->lvcmdqs * LVCMDQ_STRIDE;

    for (unsigned l = 0; l < s->lvcmdqs; l++) {
        uint8_t *r = vi->page0 + l * LVCMDQ_STRIDE + Q_REGS_END;

        if (memcmp(r, zero_page, LVCMDQ_STRIDE - Q_REGS_END)) {
            memset(r, 0, LVCMDQ_STRIDE - Q_REGS_END);
        }
        if (!vi->q[l]) {
            if (rd(vi->page0, l, Q_STATUS) != vi->hw[l].status) {
                wr(vi->page0, l, Q_STATUS, vi->hw[l].status);
            }
            if (rd(vi->page0, l, Q_GERROR) != vi->hw[l].gerror) {
                wr(vi->page0, l, Q_GERROR, vi->hw[l].gerror);
            }
        }
    }
    if (qend < VINTF_PAGE_SIZE && memcmp(vi->page0 + qend, zero_page, VINTF_PAGE_SIZE - qend)) {
        memset(vi->page0 + qend, 0, VINTF_PAGE_SIZE - qend);
    }
}

/*
 * What a guest-owned VINTF (HYP_OWN = 0) executes: the kernel's
 * tegra241_guest_vcmdq_supports_cmd() (TLBI_NH_ASID, TLBI_NH_VA, ATC_INV)
 * plus the CMD_SYNC it issues with CS = NONE (arm_smmu_cmdq_build_sync_cmd,
 * arm_smmu_cmdq_needs_busy_polling).  TLBI_NH_ALL and TLBI_NH_VAA, which the
 * SMMU's own queue takes, are illegal here.
 */
static bool guest_cmd_supported(uint8_t op)
{
    switch (op) {
    case 0x11: case 0x12: case 0x40: case 0x46:
        return true;
    default:
        return false;
    }
}

/* One pass over one queue; true when anything happened. */
static bool run_queue(struct st_smmu *s, struct st_vintf *vi, int vidx, struct st_obj *q)
{
    unsigned lidx = q->index;
    struct st_lvq_hw *hw = &vi->hw[lidx];
    uint32_t config;
    unsigned log2n = __builtin_ctzll(q->length) - 4;
    uint32_t posmask = (2u << log2n) - 1, idxmask = (1u << log2n) - 1;
    uint32_t prod, cons, gerrorn;
    bool did = restore_hw_regs(vi, lidx);
    unsigned budget = 1024;
    uint64_t batch[BATCH][2];
    unsigned nbatch = 0, ibatch = 0;
    bool single = false;             /* a batch copy failed: one at a time */

    /* STATUS.CMDQ_EN_OK follows CONFIG.CMDQ_EN */
    config = rd(vi->page0, lidx, Q_CONFIG);
    if ((config & 1) != (hw->status & 1)) {
        hw->status = (hw->status & ~1u) | (config & 1);
        wr(vi->page0, lidx, Q_STATUS, hw->status);
        did = true;
    }
    if (!(vi->config & 1) || !(s->alloc_map[q->gq] & 1) || !(config & 1)) {
        return did;
    }
    gerrorn = rd(vi->page0, lidx, Q_GERRORN);
    if ((hw->gerror ^ gerrorn) & GERROR_CMDQ_ERR) {
        return did;              /* stopped until GERRORN == GERROR */
    }
    if (vi->q_err[lidx]) {
        /* (chosen) the acknowledge clears the error maps and CONS.ERR */
        vi->q_err[lidx] = false;
        clear_err_maps(s, vi, vidx, lidx, q->gq);
        hw->cons &= ~CONS_ERR_MASK;
        wr(vi->page0, lidx, Q_CONS, hw->cons);
        did = true;
    }
    cons = hw->cons & posmask;
    prod = rd(vi->page0, lidx, Q_PROD) & posmask;
    while (cons != prod && budget--) {
        uint64_t cmd[2];
        uint8_t op;
        struct st_cmdrec rec = { .hw_queue = q->id, .vintf = vidx, .index = lidx };
        bool ok = true;

        if (ibatch == nbatch) {
            /* up to PROD, the ring's end or BATCH, whichever comes first */
            uint32_t idx = cons & idxmask;
            uint32_t n = ((prod - cons) & posmask);

            n = MIN(n, (1u << log2n) - idx);
            n = MIN(n, single ? 1u : (unsigned)BATCH);
            if (q->ring_direct) {
                memcpy(batch, (const void *)(uintptr_t)(q->pa + (uint64_t)idx * 16), (size_t)n * 16);
            } else if (st_uread(batch, q->pa + (uint64_t)idx * 16, (size_t)n * 16)) {
                if (n > 1) {
                    single = true;
                    continue;
                }
                raise_error(s, vi, vidx, q, cons, CERROR_ABT);
                return true;
            }
            nbatch = n;
            ibatch = 0;
        }
        cmd[0] = batch[ibatch][0];
        cmd[1] = batch[ibatch][1];
        ibatch++;
        op = cmd[0] & 0xff;
        rec.op = op;
        rec.vmid = (vi->config >> 1) & 0xffff;
        if (!guest_cmd_supported(op)) {
            raise_error(s, vi, vidx, q, cons, CERROR_ILL);
            return true;
        }
        switch (op) {
        case 0x11: case 0x12:
            cmd[0] = (cmd[0] & ~(0xffffull << 32)) | ((uint64_t)rec.vmid << 32);
            rec.asid = (cmd[0] >> 48) & 0xffff;
            rec.addr = cmd[1] & ~0xfffull;
            break;
        case 0x40: {
            uint32_t psid;

            if (!sid_lookup(vi, s->sids, cmd[0] >> 32, &psid)) {
                ok = false;
                break;
            }
            cmd[0] = (cmd[0] & 0xffffffffull) | ((uint64_t)psid << 32);
            rec.sid = psid;
            rec.vmid = 0;
            rec.addr = cmd[1] & ~0xfffull;
            /* fault "vcmdq_atc_inv": this invalidation's completion times out */
            if (st_fault_check(ST_CALL_VCMDQ_ATC_INV)) {
                hw->atc_timeout = true;
            }
            break;
        }
        case 0x46:
            if (((cmd[0] >> 12) & 3) != 0) {    /* CS must be NONE */
                ok = false;
                break;
            }
            rec.vmid = 0;
            /*
             * An ATC_INV before this CMD_SYNC timed out: the queue stops
             * with CONS at the CMD_SYNC and CERROR_ATC_INV_SYNC; after the
             * acknowledge the CMD_SYNC runs again (and completes: the
             * timeout was reported).
             */
            if (hw->atc_timeout) {
                hw->atc_timeout = false;
                raise_error(s, vi, vidx, q, cons, CERROR_ATC_INV_SYNC);
                return true;
            }
            break;
        default:
            ok = false;
        }
        if (!ok) {
            raise_error(s, vi, vidx, q, cons, CERROR_ILL);
            return true;
        }
        st_record_vcmdq(&rec);
        q->executed++;
        cons = (cons + 1) & posmask;
        hw->cons = cons;
        wr(vi->page0, lidx, Q_CONS, cons);
        did = true;
        if (ibatch == nbatch) {
            prod = rd(vi->page0, lidx, Q_PROD) & posmask;
        }
    }
    if (cons != prod) {
        pass_more = true;
    }
    return did;
}

static struct eng_watch *watch_add(const uint8_t *regs)
{
    struct eng_watch *w;

    if (nwatch == watch_cap) {
        watch_cap = watch_cap ? watch_cap * 2 : 64;
        watch = g_renew(struct eng_watch, watch, watch_cap);
    }
    w = &watch[nwatch++];
    w->regs = regs;
    for (unsigned r = 0; r < Q_REGS_END / 4; r++) {
        w->seen[r] = __atomic_load_n((const uint32_t *)(regs + r * 4), __ATOMIC_ACQUIRE);
    }
    return w;
}

static void watch_add_page(const uint8_t *page, unsigned qend)
{
    if (nwatch_pages == watch_pages_cap) {
        watch_pages_cap = watch_pages_cap ? watch_pages_cap * 2 : 8;
        watch_pages = g_renew(const uint8_t *, watch_pages, watch_pages_cap);
        watch_qend = g_renew(unsigned, watch_qend, watch_pages_cap);
    }
    watch_qend[nwatch_pages] = qend;
    watch_pages[nwatch_pages++] = page;
}

/*
 * One pass under st_lock over every logical queue of every VINTF in use,
 * rebuilding the watch as it goes: each queue's registers are noted before
 * it runs (a store after that is seen by the watch and brings another
 * pass), then what the hardware owns is noted as the shadow the pass left.
 */
static bool engine_pass(bool scrub)
{
    bool did = false;

    nwatch = 0;
    nwatch_pages = 0;
    if (scrub) {
        last_scrub = now_ns();
    }
    for (int i = 0; i < st_host.nsmmu; i++) {
        struct st_smmu *s = &st_host.smmu[i];

        if (!s->cmdqv) {
            continue;
        }
        for (unsigned v = 1; v < s->vintfs; v++) {
            struct st_vintf *vi = &s->vintf[v];

            if (!vi->used) {
                continue;
            }
            for (unsigned l = 0; l < s->lvcmdqs; l++) {
                struct eng_watch *w = watch_add(vi->page0 + l * LVCMDQ_STRIDE);

                if (vi->q[l]) {
                    did |= run_queue(s, vi, v, vi->q[l]);
                    w->seen[Q_CONS / 4] = vi->hw[l].cons;
                } else {
                    /* not allocated: STATUS and GERROR stay the hardware's */
                    if (w->seen[Q_STATUS / 4] != vi->hw[l].status) {
                        wr(vi->page0, l, Q_STATUS, vi->hw[l].status);
                    }
                    if (w->seen[Q_GERROR / 4] != vi->hw[l].gerror) {
                        wr(vi->page0, l, Q_GERROR, vi->hw[l].gerror);
                    }
                }
                w->seen[Q_STATUS / 4] = vi->hw[l].status;
                w->seen[Q_GERROR / 4] = vi->hw[l].gerror;
            }
            if (scrub) {
                scrub_page(s, vi);
            }
            watch_add_page(vi->page0, s->lvcmdqs * LVCMDQ_STRIDE);
        }
        if (s->irq) {
            cmdqv_isr(s);
        }
    }
    eng_passes++;
    return did;
}

/* Without the lock: has any watched register changed since the last pass? */
static bool watch_changed(void)
{
    for (unsigned i = 0; i < nwatch; i++) {
        const uint32_t *r = (const uint32_t *)watch[i].regs;

        for (unsigned k = 0; k < Q_REGS_END / 4; k++) {
            if (__atomic_load_n(&r[k], __ATOMIC_RELAXED) != watch[i].seen[k]) {
                return true;
            }
        }
    }
    return false;
}

/* Without the lock: does a reserved offset of a page in use hold a store? */
static bool watch_reserved_dirty(void)
{
    for (unsigned i = 0; i < nwatch_pages; i++) {
        const uint8_t *p = watch_pages[i];
        unsigned qend = watch_qend[i];
        uint64_t acc = 0;

        for (unsigned off = 0; off < qend; off += LVCMDQ_STRIDE) {
            const uint64_t *r = (const uint64_t *)(p + off + 0x18);

            for (unsigned k = 0; k < (LVCMDQ_STRIDE - 0x18) / 8; k++) {
                acc |= __atomic_load_n(&r[k], __ATOMIC_RELAXED);
            }
        }
        for (const uint64_t *r = (const uint64_t *)(p + qend),
                            *end = (const uint64_t *)(p + VINTF_PAGE_SIZE); r < end; r += 8) {
            acc |= r[0] | r[1] | r[2] | r[3] | r[4] | r[5] | r[6] | r[7];
        }
        if (acc) {
            return true;
        }
    }
    return false;
}

static int64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

static uint64_t gen_now(void)
{
    return __atomic_load_n(&eng_gen, __ATOMIC_ACQUIRE);
}

/* Sleep until kicked (ns < 0) or for @ns at most; at once when kicked since @gen */
static void eng_sleep(uint64_t gen, int64_t ns)
{
    pthread_mutex_lock(&eng_mutex);
    if (gen_now() == gen && !__atomic_load_n(&eng_stop, __ATOMIC_ACQUIRE)) {
        if (ns < 0) {
            pthread_cond_wait(&eng_cond, &eng_mutex);
        } else {
            struct timespec ts;
            int64_t t;

            clock_gettime(CLOCK_REALTIME, &ts);
            t = ts.tv_nsec + ns;
            ts.tv_sec += t / 1000000000ll;
            ts.tv_nsec = t % 1000000000ll;
            pthread_cond_timedwait(&eng_cond, &eng_mutex, &ts);
        }
    }
    pthread_mutex_unlock(&eng_mutex);
}

static void *engine(void *arg)
{
    int64_t last_work = now_ns(), sleep_ns = 0;

    (void)arg;
    pthread_setname_np(pthread_self(), "standin-engine");
    for (;;) {
        uint64_t gen;
        int64_t t, last_yield;
        bool did;

        /* a pass under the lock */
        pthread_mutex_lock(&st_lock);
        gen = gen_now();
        if (eng_stop) {
            pthread_mutex_unlock(&st_lock);
            break;
        }
        if (eng_paused || (!nqueues && !__atomic_load_n(&st_nmmaps, __ATOMIC_RELAXED))) {
            set_state(eng_paused ? "paused" : "blocked");
            eng_blocks++;
            nwatch = nwatch_pages = 0;
            pthread_mutex_unlock(&st_lock);
            eng_sleep(gen, -1);
            last_work = now_ns();
            sleep_ns = 0;
            continue;
        }
        pass_more = false;
        did = engine_pass(now_ns() - last_scrub >= SCRUB_NS);
        set_state("polling");
        pthread_mutex_unlock(&st_lock);
        t = now_ns();
        if (did) {
            last_work = t;
            sleep_ns = 0;
        }
        if (pass_more) {
            continue;                /* commands left past the budget */
        }

        /* the watch, without the lock, until there is a reason for a pass */
        last_yield = t;
        for (;;) {
            if (gen_now() != gen || watch_changed()) {
                break;
            }
            t = now_ns();
            if (t - last_scrub >= (sleep_ns ? SCRUB_IDLE_NS : SCRUB_NS)) {
                if (watch_reserved_dirty()) {
                    break;
                }
                last_scrub = t;
            }
            if (t - last_work < SPIN_NS) {
                cpu_relax();
                if (t - last_yield >= YIELD_NS) {
                    sched_yield();
                    last_yield = t;
                }
                continue;
            }
            sleep_ns = sleep_ns ? sleep_ns * 2 : SLEEP_MIN;
            if (sleep_ns > (t - last_work > IDLE_LONG ? SLEEP_LONG : SLEEP_MAX)) {
                sleep_ns = t - last_work > IDLE_LONG ? SLEEP_LONG : SLEEP_MAX;
            }
            __atomic_store_n(&eng_sleeps, eng_sleeps + 1, __ATOMIC_RELAXED);
            set_state("sleeping");
            eng_sleep(gen, sleep_ns);
            set_state("polling");
        }
    }
    return NULL;
}

void st_engine_pause(bool pause)
{
    eng_paused = pause;
    st_engine_kick();
}

void st_engine_kick(void)
{
    if (!eng_started) {
        pthread_attr_t a;
        sigset_t all, old;

        pthread_attr_init(&a);
        pthread_attr_setdetachstate(&a, PTHREAD_CREATE_JOINABLE);
        /* the engine must never take the process's signals */
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        if (pthread_create(&eng_thread, &a, engine, NULL) == 0) {
            eng_started = true;
        }
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        pthread_attr_destroy(&a);
    }
    pthread_mutex_lock(&eng_mutex);
    __atomic_fetch_add(&eng_gen, 1, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&eng_cond);
    pthread_mutex_unlock(&eng_mutex);
}

void st_engine_stop(void)
{
    pthread_mutex_lock(&st_lock);
    if (!eng_started) {
        pthread_mutex_unlock(&st_lock);
        return;
    }
    __atomic_store_n(&eng_stop, true, __ATOMIC_RELEASE);
    st_engine_kick();
    pthread_mutex_unlock(&st_lock);
    pthread_join(eng_thread, NULL);
    eng_started = false;
    set_state("stopped");
}

/* The engine thread's CPU time so far (ns), or 0 when it never ran */
static uint64_t engine_cpu_ns(void)
{
    clockid_t cid;
    struct timespec ts;

    if (!eng_started || pthread_getcpuclockid(eng_thread, &cid) ||
        clock_gettime(cid, &ts)) {
        return 0;
    }
    return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

void st_dump_cmdqv(GString *g)
{
    bool first = true;

    g_string_append_printf(g, "\"engine\":{\"state\":\"%s\",\"cpu_ns\":%llu,\"passes\":%llu,"
                           "\"sleeps\":%llu,\"blocks\":%llu},",
                           __atomic_load_n(&eng_state, __ATOMIC_RELAXED),
                           (unsigned long long)engine_cpu_ns(),
                           (unsigned long long)eng_passes,
                           (unsigned long long)__atomic_load_n(&eng_sleeps, __ATOMIC_RELAXED),
                           (unsigned long long)eng_blocks);
    g_string_append(g, "\"cmdqv\":[");
    for (int i = 0; i < st_host.nsmmu; i++) {
        struct st_smmu *s = &st_host.smmu[i];

        if (!s->cmdqv) {
            continue;
        }
        g_string_append_printf(g, "%s{\"smmu\":\"%s\",\"vintf_err_map\":\"0x%llx\",\"cmdq_err_map\":[%u,%u,%u,%u],"
                               "\"host_syncs\":%llu,\"alloc_map\":[",
                               first ? "" : ",", s->name, (unsigned long long)s->vintf_err_map,
                               s->cmdq_err_map[0], s->cmdq_err_map[1], s->cmdq_err_map[2], s->cmdq_err_map[3],
                               (unsigned long long)s->host_syncs);
        first = false;
        for (unsigned q = 0; q < s->vcmdqs; q++) {
            g_string_append_printf(g, "%s%u", q ? "," : "", s->alloc_map[q]);
        }
        g_string_append(g, "],\"vcmdq_base\":[");
        for (unsigned q = 0; q < s->vcmdqs; q++) {
            g_string_append_printf(g, "%s\"0x%llx\"", q ? "," : "", (unsigned long long)s->vcmdq_base[q]);
        }
        g_string_append(g, "],\"vintfs\":[");
        for (unsigned v = 0; v < s->vintfs; v++) {
            struct st_vintf *vi = &s->vintf[v];

            g_string_append_printf(g, "%s{\"index\":%u,\"used\":%s,\"config\":%u,\"status\":%u,"
                                   "\"lvcmdq_err_map\":[\"0x%llx\",\"0x%llx\"],\"sid_match\":[",
                                   v ? "," : "", v, vi->used ? "true" : "false", vi->config, vi->status,
                                   (unsigned long long)vi->lvcmdq_err_map[0],
                                   (unsigned long long)vi->lvcmdq_err_map[1]);
            for (unsigned k = 0; k < s->sids; k++) {
                g_string_append_printf(g, "%s%u", k ? "," : "", vi->sid_match[k]);
            }
            g_string_append(g, "],\"sid_replace\":[");
            for (unsigned k = 0; k < s->sids; k++) {
                g_string_append_printf(g, "%s%u", k ? "," : "", vi->sid_replace[k]);
            }
            g_string_append(g, "]}");
        }
        g_string_append(g, "]}");
    }
    g_string_append(g, "]");
}

/* -------------------------------------------------------------- vEVENTQ */

static void ev_signal(struct st_obj *q, bool readable)
{
    uint64_t v = 1;

    if (q->evfd < 0 || !q->fd_open) {
        return;
    }
    if (readable) {
        if (syscall(SYS_write, q->evfd, &v, sizeof(v)) < 0) {
            /* counter already set */
        }
    } else {
        if (syscall(SYS_read, q->evfd, &v, sizeof(v)) < 0) {
            /* already clear */
        }
    }
}

static void ev_append(struct st_obj *q, struct st_vevent *e)
{
    /* the lost-events header leaves the tail when anything is added */
    if (q->lost_queued && q->evtail == &q->lost_hdr) {
        struct st_vevent **pp = &q->evhead;

        while (*pp != &q->lost_hdr) {
            pp = &(*pp)->next;
        }
        *pp = NULL;
        q->evtail = NULL;
        for (struct st_vevent *x = q->evhead; x; x = x->next) {
            q->evtail = x;
        }
        q->lost_queued = false;
    }
    e->next = NULL;
    if (q->evtail) {
        q->evtail->next = e;
    } else {
        q->evhead = e;
    }
    q->evtail = e;
    if (e == &q->lost_hdr) {
        q->lost_queued = true;
    }
    e->hdr.sequence = q->sequence;
    q->sequence = (q->sequence + 1) & INT32_MAX;
    ev_signal(q, true);
}

void st_veventq_report(struct st_obj *viommu, uint32_t type, const void *data, uint32_t len)
{
    struct st_obj *q = NULL;

    for (struct st_obj *o = viommu->ctx->objs; o; o = o->next) {
        if (o->type == OT_VEVENTQ && o->viommu == viommu && o->etype == type) {
            q = o;
        }
    }
    if (!q) {
        st_log(2, "vevent of type %u for viommu %u dropped: no vEVENTQ", type, viommu->id);
        return;
    }
    if (q->num_events >= q->depth) {
        q->lost++;
        ev_append(q, &q->lost_hdr);
        return;
    }
    {
        struct st_vevent *e = g_new0(struct st_vevent, 1);

        e->len = len > sizeof(e->data) ? sizeof(e->data) : len;
        memcpy(e->data, data, e->len);
        q->num_events++;
        ev_append(q, e);
    }
}

ssize_t st_veventq_read(struct st_file *f, void *buf, size_t n)
{
    struct st_obj *q = f->veq;
    size_t done = 0;
    int rc = 0;

    if (!q) {
        return 0;
    }
    /*
     * iommufd_veventq_fops_read() on 7.0: a buffer smaller than one header
     * is EINVAL (even with nothing queued), and so is a first record that
     * does not fit.  6.17 to 6.19 return 0 for both.
     */
    if (st_kernel_at_least(700) && n < sizeof(struct iommufd_vevent_header)) {
        errno = EINVAL;
        return -1;
    }
    while (q->evhead) {
        struct st_vevent *e = q->evhead;
        bool lost = e == &q->lost_hdr;

        if (done >= n || sizeof(e->hdr) > n - done) {
            break;
        }
        if (!lost && sizeof(e->hdr) + e->len > n - done) {
            if (done == 0 && st_kernel_at_least(700)) {
                rc = -EINVAL;
            }
            break;
        }
        if (st_uwrite((uintptr_t)buf + done, &e->hdr, sizeof(e->hdr)) ||
            (!lost && e->len && st_uwrite((uintptr_t)buf + done + sizeof(e->hdr), e->data, e->len))) {
            rc = -EFAULT;
            break;
        }
        done += sizeof(e->hdr) + (lost ? 0 : e->len);
        q->evhead = e->next;
        if (!q->evhead) {
            q->evtail = NULL;
        }
        if (lost) {
            q->lost_queued = false;
        } else {
            q->num_events--;
            g_free(e);
        }
    }
    if (!q->evhead) {
        ev_signal(q, false);
    }
    if (done == 0 && rc) {
        errno = -rc;
        return -1;
    }
    return done;
}

void st_veventq_drain(struct st_obj *q)
{
    while (q->evhead) {
        struct st_vevent *e = q->evhead;

        q->evhead = e->next;
        if (e != &q->lost_hdr) {
            g_free(e);
        }
    }
    q->evtail = NULL;
    q->lost_queued = false;
    q->num_events = 0;
}
