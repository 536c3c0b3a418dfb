/*
 * iommufd objects, contexts and their lifetime; the records the JSON dump
 * shows (ioctl counts, invalidations, executed VCMDQ commands, injected
 * faults, refused destroys, objects freed at close, leaks); start and exit.
 */
#include "standin.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

pthread_mutex_t st_lock = PTHREAD_MUTEX_INITIALIZER;
bool st_active;
bool st_used;     /* this process opened a fake device */
char st_dir[4096];
uint64_t st_sys_page = 4096;
struct st_file *st_fdtab[ST_FDMAX];
struct st_ictx *st_ctxs;
struct st_mmap *st_mmaps;
volatile int st_nmmaps;

/* -------------------------------------------------------------- objects */

const char *st_otype_name(enum st_otype t)
{
    switch (t) {
    case OT_IOAS: return "ioas";
    case OT_HWPT_PAGING: return "hwpt_paging";
    case OT_HWPT_NESTED: return "hwpt_nested";
    case OT_VIOMMU: return "viommu";
    case OT_VDEVICE: return "vdevice";
    case OT_HW_QUEUE: return "hw_queue";
    case OT_VEVENTQ: return "veventq";
    case OT_DEVICE: return "device";
    case OT_TOMBSTONE: return "tombstone";
    default: return "none";
    }
}

struct st_obj *st_obj_new(struct st_ictx *ctx, enum st_otype type)
{
    struct st_obj *o = g_new0(struct st_obj, 1);
    struct st_obj **pp = &ctx->objs;
    uint32_t id = 1;

    /* the kernel's xarray hands out the lowest free ID, from 1 */
    while (*pp && (*pp)->id == id) {
        pp = &(*pp)->next;
        id++;
    }
    o->id = id;
    o->type = type;
    o->ctx = ctx;
    o->vintf = -1;
    o->sid_slot = -1;
    o->gq = -1;
    o->vmid = -1;
    o->smmu = -1;
    o->evfd = -1;
    o->next = *pp;
    *pp = o;
    return o;
}

void st_obj_free(struct st_obj *o)
{
    struct st_obj **pp = &o->ctx->objs;

    while (*pp && *pp != o) {
        pp = &(*pp)->next;
    }
    if (*pp) {
        *pp = o->next;
    }
    g_free(o->pinned);
    g_free(o);
}

struct st_obj *st_obj_get(struct st_ictx *ctx, uint32_t id, enum st_otype type)
{
    for (struct st_obj *o = ctx->objs; o; o = o->next) {
        if (o->id == id) {
            /* a tombstone (XA_ZERO_ENTRY) reads back as nothing: ENOENT */
            if (o->type == OT_TOMBSTONE) {
                return NULL;
            }
            return (type == OT_NONE || o->type == type) ? o : NULL;
        }
    }
    return NULL;
}

int st_obj_holders(struct st_obj *o, uint32_t *ids, int max)
{
    int n = 0;

    for (struct st_obj *h = o->ctx->objs; h; h = h->next) {
        bool holds = false;

        switch (o->type) {
        case OT_IOAS:
            holds = h->type == OT_HWPT_PAGING && h->ioas == o;
            break;
        case OT_HWPT_PAGING:
        case OT_HWPT_NESTED:
            holds = (h->type == OT_VIOMMU && h->hwpt == o) ||
                    (h->type == OT_DEVICE && h->attached == o);
            break;
        case OT_VIOMMU:
            holds = (h->type == OT_VDEVICE || h->type == OT_HW_QUEUE ||
                     h->type == OT_VEVENTQ || h->type == OT_HWPT_NESTED) && h->viommu == o;
            break;
        case OT_HW_QUEUE:
            holds = h->type == OT_HW_QUEUE && h->prev == o;
            break;
        case OT_DEVICE:
            holds = h->type == OT_VDEVICE && h->dev == o;
            break;
        default:
            break;
        }
        if (holds) {
            if (ids && n < max) {
                ids[n] = h->id;
            }
            n++;
        }
    }
    return n;
}

bool st_obj_is_viommu_family(struct st_obj *o)
{
    switch (o->type) {
    case OT_VIOMMU: case OT_VDEVICE: case OT_HW_QUEUE: case OT_VEVENTQ: case OT_HWPT_NESTED:
        return true;
    case OT_HWPT_PAGING:
        return o->nest_parent;
    default:
        return false;
    }
}

static void vmid_free(struct st_obj *o)
{
    if (o->vmid > 0 && o->smmu >= 0) {
        st_host.smmu[o->smmu].vmid_used[o->vmid / 8] &= ~(1u << (o->vmid % 8));
    }
    o->vmid = -1;
}

/* The type's destroy op: what the object held is released; @o stays. */
static void obj_teardown(struct st_obj *o)
{
    switch (o->type) {
    case OT_IOAS:
        st_ioas_free_areas(o);
        break;
    case OT_HWPT_PAGING:
        vmid_free(o);
        break;
    case OT_VIOMMU:
        if (o->vintf >= 0) {
            st_vintf_free(&st_host.smmu[o->smmu], o->vintf);
            o->vintf = -1;
        }
        break;
    case OT_VDEVICE:
        if (o->dev && o->dev->vdev == o) {
            o->dev->vdev = NULL;
        }
        if (o->sid_slot >= 0) {
            st_vintf_sid_free(&st_host.smmu[o->viommu->smmu], o->viommu->vintf, o->sid_slot);
        }
        break;
    case OT_HW_QUEUE:
        st_hwq_deinit(o);
        for (int i = 0; i < o->npinned; i++) {
            o->pinned[i]->pins--;
        }
        o->npinned = 0;
        break;
    case OT_VEVENTQ:
        st_veventq_drain(o);
        if (o->evfd >= 0) {
            st_real_close(o->evfd);
            o->evfd = -1;
        }
        break;
    default:
        break;
    }
}

void st_destroy_obj(struct st_obj *o)
{
    obj_teardown(o);
    st_obj_free(o);
}

/*
 * iommufd_object_tombstone_user(): destroy @o and leave its ID taken by a
 * tombstone until the iommufd is released (iommufd_fops_release frees the
 * tombstones with xa_destroy).  Used for a vDEVICE whose device is unbound
 * (iommufd_device_remove_vdev).
 */
void st_tombstone_obj(struct st_obj *o)
{
    uint32_t id = o->id;
    struct st_ictx *ctx = o->ctx;
    struct st_obj *next = o->next;

    obj_teardown(o);
    g_free(o->pinned);
    memset(o, 0, sizeof(*o));
    o->id = id;
    o->ctx = ctx;
    o->next = next;
    o->type = OT_TOMBSTONE;
    o->vintf = o->sid_slot = o->gq = o->vmid = o->smmu = o->evfd = -1;
}

/* Last reference to an iommufd context gone: the kernel's release. */
void st_ictx_put(struct st_ictx *ctx)
{
    if (--ctx->refs > 0 || ctx->released) {
        return;
    }
    ctx->released = true;
    while (ctx->objs) {
        bool progress = false;

        for (struct st_obj *o = ctx->objs; o; o = o->next) {
            if (o->type == OT_TOMBSTONE) {
                st_obj_free(o);         /* xa_destroy() of the leftovers */
                progress = true;
                break;
            }
            if (st_obj_holders(o, NULL, 0) == 0 && !(o->type == OT_VIOMMU && o->mmaps)) {
                if (st_obj_is_viommu_family(o)) {
                    st_note_leak_obj(o);
                } else {
                    st_note_freed(o);
                }
                st_destroy_obj(o);
                progress = true;
                break;
            }
        }
        if (!progress) {
            /* cannot happen: holders always form a DAG; free the rest */
            st_note_freed(ctx->objs);
            st_obj_free(ctx->objs);
        }
    }
}

/* -------------------------------------------------------------- records */

#define MAX_INV 64
#define MAX_EXEC 256
#define MAX_LIST 4096

struct invrec {
    uint32_t viommu, entry_num, done, entry_num_out, batches;
    int err;
    uint32_t ncmds;
    uint64_t (*cmds)[2];
};

static struct invrec invs[MAX_INV];
static unsigned ninv;
static uint64_t inv_ioctls, inv_cmds;
static struct st_cmdrec execs[MAX_EXEC];
static uint64_t nexec;

struct named { uint32_t id; char type[16]; int err; uint64_t off; unsigned long call; char name[64]; };
static struct named *faults_inj, *rejected, *freed, *leaks;
static unsigned nfaults_inj, nrejected, nfreed, nleaks;

static struct { const char *name; uint64_t count; } counts[96];
static int ncounts;

void st_count_ioctl(const char *name)
{
    for (int i = 0; i < ncounts; i++) {
        if (!strcmp(counts[i].name, name)) {
            counts[i].count++;
            return;
        }
    }
    if (ncounts < (int)G_N_ELEMENTS(counts)) {
        counts[ncounts].name = g_strdup(name);
        counts[ncounts++].count = 1;
    }
}

static void push(struct named **list, unsigned *n, const struct named *r)
{
    if (!*list) {
        *list = g_new0(struct named, MAX_LIST);
    }
    if (*n < MAX_LIST) {
        (*list)[(*n)++] = *r;
    }
}

void st_note_leak_obj(struct st_obj *o)
{
    struct named r = { .id = o->id };

    snprintf(r.type, sizeof(r.type), "%s", st_otype_name(o->type));
    push(&leaks, &nleaks, &r);
    st_log(1, "leak: %s %u", r.type, r.id);
}

void st_note_leak_mmap(uint64_t off)
{
    struct named r = { .off = off, .err = -1 };

    push(&leaks, &nleaks, &r);
    st_log(1, "leak: mmap offset 0x%llx", (unsigned long long)off);
}

void st_note_freed(struct st_obj *o)
{
    struct named r = { .id = o->id };

    snprintf(r.type, sizeof(r.type), "%s", st_otype_name(o->type));
    push(&freed, &nfreed, &r);
}

void st_note_rejected_destroy(struct st_obj *o, int err)
{
    struct named r = { .id = o->id, .err = err };

    snprintf(r.type, sizeof(r.type), "%s", st_otype_name(o->type));
    push(&rejected, &nrejected, &r);
}

void st_note_fault(const char *ioctl, unsigned long call, int err)
{
    struct named r = { .call = call, .err = err };

    snprintf(r.name, sizeof(r.name), "%s", ioctl);
    push(&faults_inj, &nfaults_inj, &r);
}

void st_record_invalidation(uint32_t viommu, uint32_t entry_num, uint32_t done, int err,
                            uint32_t entry_num_out, uint32_t batches,
                            const uint64_t (*cmds)[2], uint32_t ncmds)
{
    struct invrec *r = &invs[ninv % MAX_INV];

    g_free(r->cmds);
    r->viommu = viommu;
    r->entry_num = entry_num;
    r->done = done;
    r->entry_num_out = entry_num_out;
    r->batches = batches;
    r->err = err;
    r->ncmds = ncmds;
    r->cmds = ncmds ? g_memdup2(cmds, sizeof(*cmds) * ncmds) : NULL;
    ninv++;
    inv_ioctls++;
    inv_cmds += done;
}

void st_record_vcmdq(const struct st_cmdrec *r)
{
    execs[nexec % MAX_EXEC] = *r;
    nexec++;
}

const char *st_cmd_opname(uint8_t op)
{
    switch (op) {
    case 0x01: return "PREFETCH_CONFIG";
    case 0x02: return "PREFETCH_ADDR";
    case 0x03: return "CFGI_STE";
    case 0x04: return "CFGI_STE_RANGE";
    case 0x05: return "CFGI_CD";
    case 0x06: return "CFGI_CD_ALL";
    case 0x0c: return "CFGI_VMS_PIDM";
    case 0x10: return "TLBI_NH_ALL";
    case 0x11: return "TLBI_NH_ASID";
    case 0x12: return "TLBI_NH_VA";
    case 0x13: return "TLBI_NH_VAA";
    case 0x18: return "TLBI_EL3_ALL";
    case 0x1a: return "TLBI_EL3_VA";
    case 0x20: return "TLBI_EL2_ALL";
    case 0x21: return "TLBI_EL2_ASID";
    case 0x22: return "TLBI_EL2_VA";
    case 0x23: return "TLBI_EL2_VAA";
    case 0x28: return "TLBI_S12_VMALL";
    case 0x2a: return "TLBI_S2_IPA";
    case 0x30: return "TLBI_NSNH_ALL";
    case 0x40: return "ATC_INV";
    case 0x41: return "PRI_RESP";
    case 0x44: return "RESUME";
    case 0x45: return "STALL_TERM";
    case 0x46: return "CMD_SYNC";
    default: return "UNKNOWN";
    }
}

/* Fields of an SMMUv3 command as the dump shows them. */
static void cmd_fields(const uint64_t c[2], uint32_t *vmid, uint32_t *asid, uint64_t *addr, uint32_t *sid)
{
    uint8_t op = c[0] & 0xff;

    *vmid = (c[0] >> 32) & 0xffff;
    *asid = (c[0] >> 48) & 0xffff;
    *addr = c[1] & ~0xfffull;
    *sid = 0;
    if (op == 0x40 || op == 0x05 || op == 0x06 || op == 0x03) {
        *sid = c[0] >> 32;
        *vmid = 0;
        *asid = 0;
        if (op != 0x40) {
            *addr = 0;
        }
    }
    if (op == 0x46) {
        *vmid = *asid = 0;
        *addr = c[1] & 0xffffffffffffcull;
    }
}

/* ------------------------------------------------------------------ dump */

void st_hwq_regs(struct st_obj *q, uint32_t r[6]);
void st_dump_faults_armed(GString *s);

static void dump_obj(GString *s, struct st_obj *o)
{
    uint32_t ids[64];
    int n = st_obj_holders(o, ids, 64);

    g_string_append_printf(s, "{\"id\":%u,\"type\":\"%s\",\"ctx\":%d,\"holders\":[", o->id,
                           st_otype_name(o->type), o->ctx->serial);
    for (int i = 0; i < n && i < 64; i++) {
        g_string_append_printf(s, "%s%u", i ? "," : "", ids[i]);
    }
    g_string_append(s, "]");
    switch (o->type) {
    case OT_IOAS: {
        int na = 0;

        g_string_append(s, ",\"areas\":[");
        for (struct st_area *a = o->areas; a; a = a->next) {
            if (na++ < 64) {
                g_string_append_printf(s, "%s{\"iova\":\"0x%llx\",\"length\":\"0x%llx\",\"pins\":%d}",
                                       na > 1 ? "," : "", (unsigned long long)a->iova,
                                       (unsigned long long)a->len, a->pins);
            }
        }
        g_string_append_printf(s, "],\"nareas\":%d", na);
        break;
    }
    case OT_HWPT_PAGING:
        g_string_append_printf(s, ",\"ioas\":%u,\"nest_parent\":%s,\"dev_id\":%u,\"auto_domain\":%s,\"smmu\":\"%s\",\"vmid\":%d",
                               o->ioas ? o->ioas->id : 0, o->nest_parent ? "true" : "false", o->dev_id,
                               o->auto_domain ? "true" : "false",
                               o->smmu >= 0 ? st_host.smmu[o->smmu].name : "", o->vmid);
        break;
    case OT_HWPT_NESTED:
        g_string_append_printf(s, ",\"viommu\":%u,\"ste\":[\"0x%016llx\",\"0x%016llx\"]",
                               o->viommu->id, (unsigned long long)o->ste[0], (unsigned long long)o->ste[1]);
        break;
    case OT_VIOMMU:
        g_string_append_printf(s, ",\"viommu_type\":\"%s\",\"hwpt\":%u,\"smmu\":\"%s\",\"vmid\":%d",
                               o->vtype == IOMMU_VIOMMU_TYPE_TEGRA241_CMDQV ? "tegra241_cmdqv" : "arm_smmuv3",
                               o->hwpt->id, st_host.smmu[o->smmu].name, o->vmid);
        if (o->vtype == IOMMU_VIOMMU_TYPE_TEGRA241_CMDQV) {
            g_string_append_printf(s, ",\"vintf\":%d", o->vintf);
        }
        g_string_append_printf(s, ",\"mmap_offset\":%llu,\"mmap_length\":%llu,\"mmaps\":%d",
                               (unsigned long long)o->mmap_off, (unsigned long long)o->mmap_len, o->mmaps);
        break;
    case OT_VDEVICE:
        g_string_append_printf(s, ",\"viommu\":%u,\"dev_id\":%u,\"virt_id\":%llu,\"psid\":%u",
                               o->viommu->id, o->dev ? o->dev->id : 0, (unsigned long long)o->virt_id,
                               o->dev ? o->dev->pci->sid : 0);
        if (o->viommu->vtype == IOMMU_VIOMMU_TYPE_TEGRA241_CMDQV) {
            g_string_append_printf(s, ",\"sid_slot\":%d", o->sid_slot);
        }
        break;
    case OT_HW_QUEUE: {
        uint32_t r[6];

        st_hwq_regs(o, r);
        g_string_append_printf(s, ",\"viommu\":%u,\"index\":%u,\"iova\":%llu,\"length\":%llu,"
                               "\"pa\":\"0x%llx\",\"vcmdq\":%d,\"enabled\":%s,\"en_ok\":%s,\"prod\":%u,\"cons\":%u,"
                               "\"gerror\":%u,\"gerrorn\":%u,\"executed\":%llu",
                               o->viommu->id, o->index, (unsigned long long)o->iova,
                               (unsigned long long)o->length, (unsigned long long)o->pa, o->gq,
                               (r[2] & 1) ? "true" : "false", (r[3] & 1) ? "true" : "false",
                               r[1], r[0], r[4], r[5], (unsigned long long)o->executed);
        break;
    }
    case OT_VEVENTQ:
        g_string_append_printf(s, ",\"viommu\":%u,\"veventq_type\":\"%s\",\"depth\":%u,\"queued\":%u,"
                               "\"lost\":%llu,\"fd_open\":%s,\"sequence\":%u",
                               o->viommu->id,
                               o->etype == IOMMU_VEVENTQ_TYPE_ARM_SMMUV3 ? "arm_smmuv3" :
                               o->etype == IOMMU_VEVENTQ_TYPE_TEGRA241_CMDQV ? "tegra241_cmdqv" : "other",
                               o->depth, o->num_events, (unsigned long long)o->lost,
                               o->fd_open ? "true" : "false", o->sequence);
        break;
    case OT_DEVICE:
        g_string_append_printf(s, ",\"bdf\":\"%s\",\"smmu\":\"%s\",\"psid\":%u,\"attached\":%u",
                               o->pci->bdf, st_host.smmu[o->pci->smmu].name, o->pci->sid,
                               o->attached ? o->attached->id : 0);
        break;
    default:
        break;
    }
    g_string_append(s, "}");
}

static void dump_named(GString *s, const char *key, struct named *l, unsigned n, int kind)
{
    g_string_append_printf(s, ",\"%s\":[", key);
    for (unsigned i = 0; i < n; i++) {
        if (i) {
            g_string_append_c(s, ',');
        }
        if (kind == 0) {
            g_string_append_printf(s, "{\"id\":%u,\"type\":\"%s\"}", l[i].id, l[i].type);
        } else if (kind == 1) {
            g_string_append_printf(s, "{\"id\":%u,\"type\":\"%s\",\"errno\":\"%s\"}", l[i].id, l[i].type,
                                   st_errno_name(l[i].err));
        } else if (kind == 2) {
            g_string_append_printf(s, "{\"ioctl\":\"%s\",\"call\":%lu,\"errno\":\"%s\"}", l[i].name,
                                   l[i].call, st_errno_name(l[i].err));
        } else if (l[i].err == -1) {
            g_string_append_printf(s, "{\"mmap\":%llu}", (unsigned long long)l[i].off);
        } else {
            g_string_append_printf(s, "{\"id\":%u,\"type\":\"%s\"}", l[i].id, l[i].type);
        }
    }
    g_string_append(s, "]");
}

char *st_dump_json(void)
{
    GString *s = g_string_new("{");
    bool first = true;
    unsigned start;

    g_string_append_printf(s, "\"kernel\":\"%s\",\"objects\":[", st_kernel_name(st_host.kernel));
    for (struct st_ictx *c = st_ctxs; c; c = c->next) {
        if (c->released) {
            continue;
        }
        for (struct st_obj *o = c->objs; o; o = o->next) {
            if (o->type == OT_TOMBSTONE) {
                continue;
            }
            if (!first) {
                g_string_append_c(s, ',');
            }
            first = false;
            dump_obj(s, o);
        }
    }
    g_string_append(s, "],\"tombstones\":[");
    first = true;
    for (struct st_ictx *c = st_ctxs; c; c = c->next) {
        if (c->released) {
            continue;
        }
        for (struct st_obj *o = c->objs; o; o = o->next) {
            if (o->type == OT_TOMBSTONE) {
                g_string_append_printf(s, "%s{\"id\":%u,\"ctx\":%d}", first ? "" : ",", o->id, c->serial);
                first = false;
            }
        }
    }
    g_string_append(s, "],\"ioctls\":{");
    for (int i = 0; i < ncounts; i++) {
        g_string_append_printf(s, "%s\"%s\":%llu", i ? "," : "", counts[i].name,
                               (unsigned long long)counts[i].count);
    }
    g_string_append_printf(s, "},\"invalidation_ioctls\":%llu,\"invalidation_cmds\":%llu,\"invalidations\":[",
                           (unsigned long long)inv_ioctls, (unsigned long long)inv_cmds);
    start = ninv > MAX_INV ? ninv - MAX_INV : 0;
    for (unsigned i = start; i < ninv; i++) {
        struct invrec *r = &invs[i % MAX_INV];

        g_string_append_printf(s, "%s{\"viommu\":%u,\"entry_num\":%u,\"done\":%u,\"errno\":%d,"
                               "\"entry_num_out\":%u,\"batches\":%u,\"cmds\":[",
                               i > start ? "," : "", r->viommu, r->entry_num, r->done, r->err,
                               r->entry_num_out, r->batches);
        for (uint32_t k = 0; k < r->ncmds; k++) {
            uint32_t vmid, asid, sid;
            uint64_t addr;

            cmd_fields(r->cmds[k], &vmid, &asid, &addr, &sid);
            g_string_append_printf(s, "%s{\"op\":\"%s\",\"vmid\":%u,\"asid\":%u,\"addr\":\"0x%llx\",\"sid\":%u,"
                                   "\"raw\":[\"0x%016llx\",\"0x%016llx\"]}",
                                   k ? "," : "", st_cmd_opname(r->cmds[k][0] & 0xff), vmid, asid,
                                   (unsigned long long)addr, sid, (unsigned long long)r->cmds[k][0],
                                   (unsigned long long)r->cmds[k][1]);
        }
        g_string_append(s, "]}");
    }
    g_string_append_printf(s, "],\"vcmdq_executed_total\":%llu,\"vcmdq_executed\":[", (unsigned long long)nexec);
    start = nexec > MAX_EXEC ? nexec - MAX_EXEC : 0;
    for (uint64_t i = start; i < nexec; i++) {
        struct st_cmdrec *r = &execs[i % MAX_EXEC];

        g_string_append_printf(s, "%s{\"hw_queue\":%u,\"vintf\":%d,\"index\":%d,\"op\":\"%s\",\"vmid\":%u,"
                               "\"asid\":%u,\"addr\":\"0x%llx\",\"sid\":%u}",
                               i > start ? "," : "", r->hw_queue, r->vintf, r->index, st_cmd_opname(r->op),
                               r->vmid, r->asid, (unsigned long long)r->addr, r->sid);
    }
    g_string_append(s, "],\"mmaps\":[");
    first = true;
    for (struct st_mmap *m = st_mmaps; m; m = m->next) {
        g_string_append_printf(s, "%s{\"viommu\":%u,\"offset\":%llu,\"length\":%llu}", first ? "" : ",",
                               m->viommu->id, (unsigned long long)m->off, (unsigned long long)m->len);
        first = false;
    }
    g_string_append(s, "]");
    dump_named(s, "faults_injected", faults_inj, nfaults_inj, 2);
    dump_named(s, "rejected_destroys", rejected, nrejected, 1);
    dump_named(s, "freed_at_close", freed, nfreed, 0);
    dump_named(s, "leaks", leaks, nleaks, 3);
    g_string_append_c(s, ',');
    st_dump_faults_armed(s);
    g_string_append_c(s, ',');
    st_dump_passed(s);
    g_string_append_c(s, ',');
    st_dump_migration(s);
    g_string_append_c(s, ',');
    st_dump_cmdqv(s);
    g_string_append(s, "}");
    return g_string_free(s, FALSE);
}

/* ------------------------------------------------------- start and exit */

static bool exited;
static pid_t init_pid;

static void st_exit(void)
{
    const char *dump;
    char *json;

    if (!st_active || exited || getpid() != init_pid) {
        return;    /* inert, done, or a forked child */
    }
    exited = true;
    st_engine_stop();
    pthread_mutex_lock(&st_lock);
    for (struct st_ictx *c = st_ctxs; c; c = c->next) {
        if (c->released) {
            continue;
        }
        for (struct st_obj *o = c->objs; o; o = o->next) {
            if (st_obj_is_viommu_family(o)) {
                st_note_leak_obj(o);
            }
        }
        for (struct st_mmap *m = st_mmaps; m; m = m->next) {
            if (m->ctx == c) {
                st_note_leak_mmap(m->off);
            }
        }
    }
    dump = getenv("STANDIN_DUMP");
    /*
     * A wrapper that shares the environment (timeout, a shell) but never
     * touched a fake device must not overwrite the real process's dump.
     */
    if (dump && *dump && !st_used && access(dump, F_OK) == 0) {
        dump = NULL;
    }
    if (dump && *dump) {
        json = st_dump_json();
        int fd = syscall(SYS_openat, AT_FDCWD, dump, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

        if (fd >= 0) {
            size_t len = strlen(json), off = 0;

            while (off < len) {
                ssize_t n = syscall(SYS_write, fd, json + off, len - off);

                if (n <= 0) {
                    break;
                }
                off += n;
            }
            if (syscall(SYS_write, fd, "\n", 1) < 0) {
                /* ignore */
            }
            syscall(SYS_close, fd);
        } else {
            st_log(1, "cannot write %s: %s", dump, strerror(errno));
        }
        g_free(json);
    }
    pthread_mutex_unlock(&st_lock);
}

static void mkdirs(const char *path)
{
    char tmp[4096];

    snprintf(tmp, sizeof(tmp), "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = 0;
            mkdir(tmp, 0755);
            *p = '/';
        }
    }
    mkdir(tmp, 0755);
}

void st_mkdirs(const char *path);
void st_mkdirs(const char *path)
{
    mkdirs(path);
}

__attribute__((constructor)) static void st_init(void)
{
    const char *cfg = getenv("STANDIN_CONFIG");
    const char *lv = getenv("STANDIN_LOG");
    const char *dir = getenv("STANDIN_DIR");
    const char *ctl;
    long ps = sysconf(_SC_PAGESIZE);

    if (ps > 0) {
        st_sys_page = ps;
    }
    if (lv && *lv) {
        st_loglevel = atoi(lv);
    }
    if (!cfg || !*cfg) {
        return;
    }
    st_config_load(cfg);
    init_pid = getpid();
    if (dir && *dir) {
        snprintf(st_dir, sizeof(st_dir), "%s", dir);
    } else {
        snprintf(st_dir, sizeof(st_dir), "/tmp/standin.%d", (int)getpid());
    }
    mkdirs(st_dir);
    if (st_vfio_init() < 0) {
        st_log(1, "%s: cannot create the fake sysfs tree: %s", st_dir, strerror(errno));
        _exit(78);
    }
    st_cmdqv_init();
    st_paths_init();
    st_active = true;
    /* stand-in fds from the process that exec'ed us (fdpass.c) */
    st_adopt_inherited();
    /*
     * STANDIN_CTL=0: a helper beside the process that serves the control
     * socket in the same STANDIN_DIR (standin-launch --send-fd / --qmp)
     * must not take the socket over.
     */
    ctl = getenv("STANDIN_CTL");
    if (!ctl || strcmp(ctl, "0")) {
        st_ctl_start();
    }
    atexit(st_exit);
    st_log(3, "loaded %s: %d SMMU(s), %d PCI function(s), runtime dir %s", cfg, st_host.nsmmu,
           st_host.npci, st_dir);
}

__attribute__((destructor)) static void st_fini(void)
{
    st_exit();
}
