/*
 * The host description: an INI-like file naming the host's SMMUs, CMDQV
 * instances, PCI functions and the faults armed at start (INTERFACE.md).
 * A malformed file stops the process with status 78 (EX_CONFIG) before
 * main() runs, after one message naming file:line and the field.
 */
#include "standin.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct st_host st_host;

/*
 * Grace-like SMMUv3 defaults (documented in README.md):
 * IDR0 0x090e761b: S2P, S1P, TTF=AArch64, COHACC, HYP, ATS, ASID16, MSI, SEV,
 *      VMW, VMID16, CD2L, STALL_MODEL=1 (no stall), ST_LEVEL=2-level
 * IDR1 0x02730510: SIDSIZE 16, SSIDSIZE 20, EVENTQS 19, CMDQS 19
 * IDR3 0x00001404: HAD, RIL, BBML2
 * IDR5 0x00000055: OAS 48 bits, GRAN4K, GRAN64K
 * IIDR 0x4870043b: Arm (0x43b) MMU-700 (0x487); AIDR 0x2: SMMUv3.2
 */
void st_config_defaults_smmu(struct st_smmu *s)
{
    s->idr[0] = 0x090e761b;
    s->idr[1] = 0x02730510;
    s->idr[2] = 0;
    s->idr[3] = 0x00001404;
    s->idr[4] = 0;
    s->idr[5] = 0x00000055;
    s->iidr = 0x4870043b;
    s->aidr = 0x2;
    s->nesting = true;
    s->cmdqv = true;
    s->cmdqv_version = 1;
    s->vintfs = 64;
    s->vcmdqs = 128;
    s->lvcmdqs = 0;      /* 0: vcmdqs / vintfs, resolved at the end */
    s->sids = 16;
    /* arm-smmu-v3's MSI_IOVA_BASE / MSI_IOVA_LENGTH */
    s->msi_base = 0x8000000;
    s->msi_size = 0x100000;
    s->vintf_mmap_len = VINTF_PAGE_SIZE;
}

static const char *cfg_file;

static const struct { const char *name; int code; } kernels[] = {
    { "6.17", 617 }, { "6.18", 618 }, { "6.19", 619 }, { "7.0", 700 },
};

int st_kernel_parse(const char *v)
{
    for (size_t i = 0; i < G_N_ELEMENTS(kernels); i++) {
        if (!strcmp(v, kernels[i].name)) {
            return kernels[i].code;
        }
    }
    return 0;
}

const char *st_kernel_name(int k)
{
    for (size_t i = 0; i < G_N_ELEMENTS(kernels); i++) {
        if (kernels[i].code == k) {
            return kernels[i].name;
        }
    }
    return "?";
}

static void __attribute__((noreturn)) cfg_die(int line, const char *field, const char *fmt, ...)
{
    va_list ap;
    char msg[512];

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(stderr, "standin: %s:%d: %s: %s\n", cfg_file, line, field, msg);
    fflush(stderr);
    _exit(78);
}

static char *trim(char *s)
{
    char *e;

    while (isspace((unsigned char)*s)) {
        s++;
    }
    e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1])) {
        *--e = 0;
    }
    return s;
}

static uint64_t parse_num(int line, const char *field, const char *v, bool size, uint64_t max)
{
    char *end;
    unsigned long long n;
    uint64_t mul = 1;

    if (!*v) {
        cfg_die(line, field, "missing value");
    }
    if (*v == '-') {
        cfg_die(line, field, "'%s' is negative", v);
    }
    errno = 0;
    n = strtoull(v, &end, 0);
    if (errno || end == v) {
        cfg_die(line, field, "'%s' is not a number", v);
    }
    if (size && *end) {
        switch (*end) {
        case 'k': case 'K': mul = 1ull << 10; end++; break;
        case 'm': case 'M': mul = 1ull << 20; end++; break;
        case 'g': case 'G': mul = 1ull << 30; end++; break;
        default: break;
        }
    }
    if (*end) {
        cfg_die(line, field, "'%s' is not a number%s", v, size ? " (sizes may end in K, M or G)" : "");
    }
    if (n > max / mul) {
        cfg_die(line, field, "'%s' is out of range (max 0x%llx)", v, (unsigned long long)max);
    }
    return n * mul;
}

static bool parse_bool(int line, const char *field, const char *v)
{
    if (!strcasecmp(v, "yes") || !strcasecmp(v, "true") || !strcmp(v, "1") || !strcasecmp(v, "on")) {
        return true;
    }
    if (!strcasecmp(v, "no") || !strcasecmp(v, "false") || !strcmp(v, "0") || !strcasecmp(v, "off")) {
        return false;
    }
    cfg_die(line, field, "'%s' is not yes or no", v);
}

/*
 * [pci] migration: no (the default), yes (= stop_copy,p2p,pre_copy), or a
 * comma-separated list of the VFIO_MIGRATION_* flags the function offers,
 * which must include stop_copy (vfio_migration_init in QEMU, and every
 * variant driver, treats it as the base).
 */
static uint32_t parse_migration(int line, const char *field, const char *v)
{
    uint32_t flags = 0;
    char buf[128], *save = NULL;

    if (!strcasecmp(v, "no") || !strcasecmp(v, "false") || !strcmp(v, "0") || !strcasecmp(v, "off")) {
        return 0;
    }
    if (!strcasecmp(v, "yes") || !strcasecmp(v, "true") || !strcmp(v, "1") || !strcasecmp(v, "on")) {
        return VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_P2P | VFIO_MIGRATION_PRE_COPY;
    }
    snprintf(buf, sizeof(buf), "%s", v);
    for (char *t = strtok_r(buf, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
        if (!strcasecmp(t, "stop_copy")) {
            flags |= VFIO_MIGRATION_STOP_COPY;
        } else if (!strcasecmp(t, "p2p")) {
            flags |= VFIO_MIGRATION_P2P;
        } else if (!strcasecmp(t, "pre_copy")) {
            flags |= VFIO_MIGRATION_PRE_COPY;
        } else {
            cfg_die(line, field, "'%s' is not yes, no or a list of stop_copy, p2p, pre_copy", v);
        }
    }
    if (!(flags & VFIO_MIGRATION_STOP_COPY)) {
        cfg_die(line, field, "'%s' lacks stop_copy, which every migratable function offers", v);
    }
    return flags;
}

static bool is_pow2(uint64_t v)
{
    return v && !(v & (v - 1));
}

static uint64_t parse_pow2(int line, const char *field, const char *v, uint64_t min, uint64_t max, bool size)
{
    uint64_t n = parse_num(line, field, v, size, size ? max : UINT32_MAX);

    if (!is_pow2(n) || n < min || n > max) {
        cfg_die(line, field, "'%s' must be a power of two in [%llu, %llu]", v,
                (unsigned long long)min, (unsigned long long)max);
    }
    return n;
}

enum sect { S_NONE, S_HOST, S_SMMU, S_PCI, S_FAULT };

struct pending_fault {
    int line;
    char ioctl[64];
    unsigned long nth;
    int err;
    bool have_ioctl, have_err;
};

struct pci_extra {
    char smmu[64];
    int smmu_line;
    bool have_sid, have_subvendor;
};

static void finish_fault(struct pending_fault *pf)
{
    if (!pf->have_ioctl) {
        cfg_die(pf->line, "ioctl", "[fault] needs an ioctl");
    }
    if (!pf->have_err) {
        cfg_die(pf->line, "errno", "[fault] needs an errno");
    }
    if (st_fault_add(pf->ioctl, pf->nth, pf->err) < 0) {
        cfg_die(pf->line, "fault", "too many faults");
    }
}

static bool parse_bdf(const char *s, unsigned *dom, unsigned *bus, unsigned *dev, unsigned *fn)
{
    char tail;

    if (strlen(s) != 12 ||
        sscanf(s, "%4x:%2x:%2x.%1x%c", dom, bus, dev, fn, &tail) != 4) {
        return false;
    }
    if (!isxdigit((unsigned char)s[0]) || s[4] != ':' || s[7] != ':' || s[10] != '.') {
        return false;
    }
    return *dev < 32 && *fn < 8;
}

int st_config_load(const char *path)
{
    FILE *f;
    char buf[1024];
    int line = 0;
    enum sect sect = S_NONE;
    struct st_smmu *smmu = NULL;
    struct st_pci *pci = NULL;
    struct pending_fault pf = { 0 };
    bool in_fault = false;
    static struct pci_extra extra[ST_MAX_PCI];

    cfg_file = path;
    memset(&st_host, 0, sizeof(st_host));
    memset(extra, 0, sizeof(extra));
    st_host.page_size = 4096;
    st_host.kernel = ST_KERNEL_DEFAULT;

    f = fopen(path, "re");
    if (!f) {
        cfg_die(0, "STANDIN_CONFIG", "cannot open: %s", strerror(errno));
    }
    while (fgets(buf, sizeof(buf), f)) {
        char *p, *key, *val, *eq;

        line++;
        if (!strchr(buf, '\n') && !feof(f)) {
            cfg_die(line, "line", "longer than %zu bytes", sizeof(buf) - 2);
        }
        p = buf + strcspn(buf, "#;");
        *p = 0;
        p = trim(buf);
        if (!*p) {
            continue;
        }
        if (*p == '[') {
            char *close = strchr(p, ']');
            char *name, *arg;

            if (!close || *trim(close + 1)) {
                cfg_die(line, "section", "malformed section header '%s'", p);
            }
            *close = 0;
            name = trim(p + 1);
            arg = name + strcspn(name, " \t");
            if (*arg) {
                *arg++ = 0;
                arg = trim(arg);
            }
            if (in_fault) {
                finish_fault(&pf);
                in_fault = false;
            }
            if (!strcmp(name, "host")) {
                if (*arg) {
                    cfg_die(line, "host", "[host] takes no name");
                }
                sect = S_HOST;
            } else if (!strcmp(name, "smmu")) {
                if (!*arg || strlen(arg) >= sizeof(smmu->name)) {
                    cfg_die(line, "smmu", "[smmu NAME] needs a name (at most 63 characters)");
                }
                for (int i = 0; i < st_host.nsmmu; i++) {
                    if (!strcmp(st_host.smmu[i].name, arg)) {
                        cfg_die(line, "smmu", "duplicate SMMU '%s'", arg);
                    }
                }
                if (st_host.nsmmu >= ST_MAX_SMMUS) {
                    cfg_die(line, "smmu", "too many SMMUs (max %d)", ST_MAX_SMMUS);
                }
                smmu = &st_host.smmu[st_host.nsmmu];
                st_config_defaults_smmu(smmu);
                snprintf(smmu->name, sizeof(smmu->name), "%s", arg);
                smmu->index = st_host.nsmmu++;
                sect = S_SMMU;
            } else if (!strcmp(name, "pci")) {
                unsigned d, b, dv, fn;

                if (!parse_bdf(arg, &d, &b, &dv, &fn)) {
                    cfg_die(line, "pci", "'%s' is not a BDF like 0000:01:00.0", arg);
                }
                for (int i = 0; i < st_host.npci; i++) {
                    if (!strcasecmp(st_host.pci[i].bdf, arg)) {
                        cfg_die(line, "pci", "duplicate PCI function '%s'", arg);
                    }
                }
                if (st_host.npci >= ST_MAX_PCI) {
                    cfg_die(line, "pci", "too many PCI functions (max %d)", ST_MAX_PCI);
                }
                pci = &st_host.pci[st_host.npci];
                memset(pci, 0, sizeof(*pci));
                snprintf(pci->bdf, sizeof(pci->bdf), "%04x:%02x:%02x.%x", d, b, dv, fn);
                pci->index = st_host.npci++;
                pci->line = line;
                pci->smmu = -1;
                pci->vendor = 0x10de;
                pci->device = 0x2342;
                pci->class_code = 0x030200;
                pci->revision = 0xa1;
                pci->sid = (b << 8) | (dv << 3) | fn;
                sect = S_PCI;
            } else if (!strcmp(name, "fault")) {
                if (*arg) {
                    cfg_die(line, "fault", "[fault] takes no name");
                }
                memset(&pf, 0, sizeof(pf));
                pf.line = line;
                pf.nth = 1;
                in_fault = true;
                sect = S_FAULT;
            } else {
                cfg_die(line, name, "unknown section");
            }
            continue;
        }
        eq = strchr(p, '=');
        if (!eq) {
            cfg_die(line, p, "expected 'key = value'");
        }
        *eq = 0;
        key = trim(p);
        val = trim(eq + 1);
        if (!*key) {
            cfg_die(line, "key", "empty key");
        }
        switch (sect) {
        case S_NONE:
            cfg_die(line, key, "key outside of any section");
        case S_HOST:
            if (!strcmp(key, "page_size")) {
                st_host.page_size = parse_pow2(line, key, val, 4096, 1ull << 30, true);
            } else if (!strcmp(key, "kernel")) {
                st_host.kernel = st_kernel_parse(val);
                if (!st_host.kernel) {
                    cfg_die(line, key, "'%s' is not a modelled kernel (6.17, 6.18, 6.19 or 7.0)", val);
                }
            } else {
                cfg_die(line, key, "unknown key in [host]");
            }
            break;
        case S_SMMU:
            if (!strncmp(key, "idr", 3) && key[3] >= '0' && key[3] <= '5' && !key[4]) {
                smmu->idr[key[3] - '0'] = parse_num(line, key, val, false, UINT32_MAX);
            } else if (!strcmp(key, "iidr")) {
                smmu->iidr = parse_num(line, key, val, false, UINT32_MAX);
            } else if (!strcmp(key, "aidr")) {
                smmu->aidr = parse_num(line, key, val, false, UINT32_MAX);
            } else if (!strcmp(key, "nesting")) {
                smmu->nesting = parse_bool(line, key, val);
            } else if (!strcmp(key, "cmdqv")) {
                smmu->cmdqv = parse_bool(line, key, val);
            } else if (!strcmp(key, "msi_window")) {
                smmu->msi_base = parse_num(line, key, val, false, UINT64_MAX);
            } else if (!strcmp(key, "msi_window_size")) {
                smmu->msi_size = parse_num(line, key, val, true, 1ull << 40);
            } else if (!strcmp(key, "vintf_mmap_length")) {
                smmu->vintf_mmap_len = parse_num(line, key, val, true,
                                                 VINTF_PAGE_SIZE);
                if (!smmu->vintf_mmap_len) {
                    cfg_die(line, key, "must not be 0");
                }
            } else if (!strcmp(key, "cmdqv_version")) {
                smmu->cmdqv_version = parse_num(line, key, val, false, 15);
            } else if (!strcmp(key, "cmdqv_vintfs")) {
                smmu->vintfs = parse_pow2(line, key, val, 1, 64, false);
            } else if (!strcmp(key, "cmdqv_lvcmdqs")) {
                smmu->lvcmdqs = parse_pow2(line, key, val, 1, 128, false);
            } else if (!strcmp(key, "cmdqv_vcmdqs")) {
                smmu->vcmdqs = parse_pow2(line, key, val, 1, 128, false);
            } else if (!strcmp(key, "cmdqv_sids")) {
                smmu->sids = parse_pow2(line, key, val, 1, 16, false);
            } else {
                cfg_die(line, key, "unknown key in [smmu %s]", smmu->name);
            }
            break;
        case S_PCI: {
            struct pci_extra *x = &extra[pci->index];

            if (!strcmp(key, "smmu")) {
                if (!*val || strlen(val) >= sizeof(x->smmu)) {
                    cfg_die(line, key, "'%s' is not an SMMU name", val);
                }
                snprintf(x->smmu, sizeof(x->smmu), "%s", val);
                x->smmu_line = line;
            } else if (!strcmp(key, "vendor")) {
                pci->vendor = parse_num(line, key, val, false, 0xfffe);
            } else if (!strcmp(key, "device")) {
                pci->device = parse_num(line, key, val, false, 0xffff);
            } else if (!strcmp(key, "subsystem_vendor")) {
                pci->subvendor = parse_num(line, key, val, false, 0xffff);
                x->have_subvendor = true;
            } else if (!strcmp(key, "subsystem_device")) {
                pci->subdevice = parse_num(line, key, val, false, 0xffff);
            } else if (!strcmp(key, "class")) {
                pci->class_code = parse_num(line, key, val, false, 0xffffff);
            } else if (!strcmp(key, "revision")) {
                pci->revision = parse_num(line, key, val, false, 0xff);
            } else if (!strcmp(key, "sid")) {
                pci->sid = parse_num(line, key, val, false, UINT32_MAX);
                x->have_sid = true;
            } else if (!strcmp(key, "migration")) {
                pci->migration = parse_migration(line, key, val);
            } else if (!strncmp(key, "bar", 3) && key[3] >= '0' && key[3] <= '5' && !key[4]) {
                uint64_t sz = parse_num(line, key, val, true, 1ull << 40);

                if (sz && (!is_pow2(sz) || sz < 4096)) {
                    cfg_die(line, key, "'%s' must be 0 or a power of two of at least 4K", val);
                }
                pci->bar[key[3] - '0'] = sz;
            } else {
                cfg_die(line, key, "unknown key in [pci %s]", pci->bdf);
            }
            break;
        }
        case S_FAULT:
            if (!strcmp(key, "ioctl")) {
                if (!st_ioctl_known(val)) {
                    cfg_die(line, key, "'%s' is not an iommufd or VFIO ioctl name", val);
                }
                snprintf(pf.ioctl, sizeof(pf.ioctl), "%s", val);
                pf.have_ioctl = true;
            } else if (!strcmp(key, "nth")) {
                pf.nth = parse_num(line, key, val, false, UINT32_MAX);
            } else if (!strcmp(key, "errno")) {
                pf.err = st_errno_parse(val);
                if (pf.err <= 0) {
                    cfg_die(line, key, "'%s' is not an errno name", val);
                }
                pf.have_err = true;
            } else {
                cfg_die(line, key, "unknown key in [fault]");
            }
            break;
        }
    }
    fclose(f);
    if (in_fault) {
        finish_fault(&pf);
    }
    /* STANDIN_KERNEL overrides [host] kernel, so one suite runs on every model */
    {
        const char *env = getenv("STANDIN_KERNEL");

        if (env && *env) {
            st_host.kernel = st_kernel_parse(env);
            if (!st_host.kernel) {
                fprintf(stderr, "standin: STANDIN_KERNEL: '%s' is not a modelled kernel "
                        "(6.17, 6.18, 6.19 or 7.0)\n", env);
                fflush(stderr);
                _exit(78);
            }
        }
    }
    if (!st_host.nsmmu && st_host.npci) {
        smmu = &st_host.smmu[0];
        st_config_defaults_smmu(smmu);
        snprintf(smmu->name, sizeof(smmu->name), "smmu0");
        st_host.nsmmu = 1;
    }
    for (int i = 0; i < st_host.nsmmu; i++) {
        smmu = &st_host.smmu[i];
        if (!smmu->lvcmdqs) {
            smmu->lvcmdqs = smmu->vcmdqs / smmu->vintfs ? smmu->vcmdqs / smmu->vintfs : 1;
        }
        if (smmu->cmdqv && (uint64_t)smmu->vintfs * smmu->lvcmdqs > smmu->vcmdqs) {
            cfg_die(0, "cmdqv_lvcmdqs", "[smmu %s]: cmdqv_vintfs * cmdqv_lvcmdqs (%u) exceeds cmdqv_vcmdqs (%u)",
                    smmu->name, smmu->vintfs * smmu->lvcmdqs, smmu->vcmdqs);
        }
    }
    for (int i = 0; i < st_host.npci; i++) {
        struct pci_extra *x = &extra[i];

        pci = &st_host.pci[i];
        if (x->smmu[0]) {
            for (int j = 0; j < st_host.nsmmu; j++) {
                if (!strcmp(st_host.smmu[j].name, x->smmu)) {
                    pci->smmu = j;
                }
            }
            if (pci->smmu < 0) {
                cfg_die(x->smmu_line, "smmu", "no [smmu %s] section", x->smmu);
            }
        } else {
            pci->smmu = 0;
        }
        if (!x->have_subvendor) {
            pci->subvendor = pci->vendor;
        }
        for (int j = 0; j < i; j++) {
            if (st_host.pci[j].smmu == pci->smmu && st_host.pci[j].sid == pci->sid) {
                cfg_die(pci->line, "sid", "[pci %s] has the same stream ID 0x%x as [pci %s]",
                        pci->bdf, pci->sid, st_host.pci[j].bdf);
            }
        }
    }
    return 0;
}
