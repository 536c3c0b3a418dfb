/*
 * Accelerated SMMUv3 (accel=on): nested translation by the host SMMU
 * through iommufd.
 *
 * The guest owns stage 1 (its STEs and context descriptors); the host SMMU
 * walks them, nested over a stage 2 that maps guest RAM (the IOAS that
 * vfio fills from the system address space). QEMU turns guest STEs into
 * nested HWPTs on a vIOMMU and forwards the guest's invalidations to the
 * host kernel in batches.
 *
 * Kernel objects, and the one place each is freed (a destroy the host
 * refuses is retried by iommufd_backend_retry_frees() when a device goes):
 *   nest-parent HWPT, vIOMMU, abort/bypass HWPTs  smmuv3_accel_viommu_free()
 *   per-device nested HWPT                          accel_dev_install()
 *   vDEVICE                                         accel_dev_release()
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include <sys/ioctl.h>
#include "qemu/error-report.h"
#include "qemu/host-utils.h"
#include "qemu/log.h"
#include "qemu/main-loop.h"
#include "qapi/error.h"
#include "hw/pci/pci.h"
#include "hw/pci/pci_device.h"
#include "hw/pci/pci_bus.h"
#include "hw/pci/pci_bridge.h"
#include "hw/qdev-core.h"
#include "hw/qdev-properties.h"
#include "hw/core/qdev-prop-internal.h"
#include "qapi/visitor.h"
#include "hw/vfio/vfio-device.h"
#include "hw/sysbus.h"
#include "qobject/qdict.h"
#include "system/iommufd.h"
#include "system/iommufd-viommu.h"
#include "system/system.h"
#include "migration/vmstate.h"
#include "system/blockdev.h"
#include "system/physmem.h"
#include "hw/boards.h"
#include "migration/blocker.h"
#include "qapi/qapi-commands-smmuv3-accel.h"
#include "smmuv3-accel.h"
#include "tegra241-cmdqv.h"
#include "trace.h"
#include <linux/iommufd.h>

/* vSTE fields the kernel lets a guest set (kernel-contract.md, HWPT_ALLOC) */
#define VSTE0_V             (1ULL << 0)
#define VSTE0_CFG_SHIFT     1
#define VSTE0_CFG_MASK      (7ULL << VSTE0_CFG_SHIFT)
#define VSTE0_CFG_ABORT     0
#define VSTE0_CFG_BYPASS    4
#define VSTE0_CFG_S1        5
#define VSTE0_ALLOWED       (VSTE0_V | VSTE0_CFG_MASK | (3ULL << 4) | \
                             MAKE_64BIT_MASK(6, 46) | MAKE_64BIT_MASK(59, 5))
#define VSTE1_EATS_SHIFT    28
#define VSTE1_ALLOWED       (0xffULL | (1ULL << 27) | (3ULL << VSTE1_EATS_SHIFT))

/* attached_hwpt_id of a device detached into the kernel's blocked domain */
#define ACCEL_BLOCKED       UINT32_MAX

/* Longest run of invalidations sent in one IOMMU_HWPT_INVALIDATE. */
#define ACCEL_BATCH_MAX     256

/* CMDQ_ALLOC_MAP.LVCMDQ is 7 bits wide */
#define CMDQV_MAX_VCMDQS    128
/* accel=off, cmdqv-vcmdqs unset: the queues of the emulated VINTF */
#define CMDQV_EMULATED_VCMDQS 2

typedef struct SMMUv3AccelDevice {
    SMMUv3AccelState *accel;
    PCIBus *bus;
    int devfn;
    char *name;
    HostIOMMUDeviceIOMMUFD *idev;
    uint32_t vdev_id;          /* vDEVICE, 0: none yet */
    uint32_t vsid;             /* the guest SID the vDEVICE was made for */
    uint32_t nested_hwpt_id;   /* this device's own S1 HWPT, 0: none */
    uint32_t attached_hwpt_id; /* what the device is attached to now */
    uint64_t vste[2];          /* the vSTE of nested_hwpt_id */
    QLIST_ENTRY(SMMUv3AccelDevice) next;
} SMMUv3AccelDevice;

struct SMMUv3AccelState {
    SMMUv3State *smmu;
    IOMMUFDBackend *be;
    uint32_t ioas_id;
    uint32_t s2_hwpt_id;
    uint32_t viommu_id;
    uint32_t abort_hwpt_id;
    uint32_t bypass_hwpt_id;
    /* The host attaches nested HWPTs only to devices with a vDEVICE */
    bool nested_needs_vdev;

    /* The host SMMU, from IOMMU_GET_HW_INFO of the first device. */
    bool host_known;
    struct iommu_hw_info_arm_smmuv3 host;

    /* What the guest is promised; 'auto' resolved from the host. */
    bool resolved;
    bool ril, ats;
    unsigned oas_bits, ssidsize;
    uint32_t granules;         /* IDR5 GRAN4K | GRAN16K | GRAN64K bits */
    bool cmdqv;                /* Tegra241 CMDQV offered to the guest */
    unsigned cmdqv_vcmdqs;     /* its logical queues (a power of two) */
    unsigned cmdqv_host_lvcmdqs; /* logical queues of a host VINTF */

    QLIST_HEAD(, SMMUv3AccelDevice) devices;

    /*
     * The run of forwardable commands being collected, and the CONS (with
     * wrap) of each one's command: commands dropped in between (nothing on
     * the host to invalidate) leave gaps in the queue.
     */
    uint64_t batch[ACCEL_BATCH_MAX][2];
    uint32_t batch_cons[ACCEL_BATCH_MAX];
    uint32_t batch_n;

    /* Counters for the operator view */
    /* The host's events for our devices (ARM_SMMUV3 vEVENTQ) */
    uint32_t veventq_id;
    int veventq_fd;
    bool seq_known;
    uint32_t next_seq;
    uint64_t events_relayed, events_lost;

    uint64_t cmds_consumed, cmds_forwarded, cmds_dropped;
    uint64_t cmdq_runs;              /* smmuv3_cmdq_consume() calls */
    uint64_t inv_ioctls, inv_failures;
    Notifier exit_notifier;
    Notifier machine_done;
    Error *cpr_blocker;

    /* What the source promised the guest, in the migration stream */
    struct {
        bool resolved, ril, ats, cmdqv;
        uint32_t oas_bits, ssidsize, granules, cmdqv_vcmdqs;
    } mig;
};

static const char *accel_id(SMMUv3AccelState *a)
{
    return DEVICE(a->smmu)->id ? DEVICE(a->smmu)->id : "arm-smmuv3";
}

/* ---- properties ------------------------------------------------------ */

static const unsigned oas_bits_of_idr5[] = { 32, 36, 40, 42, 44, 48, 52 };

static int idr5_oas_of_bits(unsigned bits)
{
    for (int i = 0; i < ARRAY_SIZE(oas_bits_of_idr5); i++) {
        if (oas_bits_of_idr5[i] == bits) {
            return i;
        }
    }
    return -1;
}

/* oas= and ssidsize= in bits, -1 for auto */
static int accel_oas_bits(SMMUv3State *s)
{
    return s->oas == OAS_MODE_AUTO ? -1 : atoi(OasMode_str(s->oas));
}

static int accel_ssidsize_bits(SMMUv3State *s)
{
    return s->ssidsize == SSID_SIZE_MODE_AUTO ? -1 :
           atoi(SsidSizeMode_str(s->ssidsize));
}

/* The QAPI enums upstream QEMU names these properties' types after */
const PropertyInfo smmuv3_prop_oas_mode = {
    .type = "OasMode",
    .description = "auto/44/48",
    .enum_table = &OasMode_lookup,
    .get = qdev_propinfo_get_enum,
    .set = qdev_propinfo_set_enum,
    .set_default_value = qdev_propinfo_set_default_value_enum,
};

const PropertyInfo smmuv3_prop_ssidsize_mode = {
    .type = "SsidSizeMode",
    .description = "auto/0..20",
    .enum_table = &SsidSizeMode_lookup,
    .get = qdev_propinfo_get_enum,
    .set = qdev_propinfo_set_enum,
    .set_default_value = qdev_propinfo_set_default_value_enum,
};

/*
 * identifier=: a uint8 as upstream QEMU's; kept as an int32 that is -1
 * until set, so that the IORT numbers an SMMU without one in order.
 */
static void smmuv3_get_identifier(Object *obj, Visitor *v, const char *name,
                                  void *opaque, Error **errp)
{
    int32_t *ptr = object_field_prop_ptr(obj, opaque);
    uint8_t value = *ptr < 0 ? 0 : *ptr;

    visit_type_uint8(v, name, &value, errp);
}

static void smmuv3_set_identifier(Object *obj, Visitor *v, const char *name,
                                  void *opaque, Error **errp)
{
    int32_t *ptr = object_field_prop_ptr(obj, opaque);
    uint8_t value;

    if (visit_type_uint8(v, name, &value, errp)) {
        *ptr = value;
    }
}

const PropertyInfo smmuv3_prop_identifier = {
    .type = "uint8",
    .description = "IORT node identifier, 0..255",
    .get = smmuv3_get_identifier,
    .set = smmuv3_set_identifier,
};

/* tegra241-cmdqv=<bool>: the RFC series' name for cmdqv */
static bool accel_get_tegra241_cmdqv(Object *obj, Error **errp)
{
    return ARM_SMMUV3(obj)->cmdqv == ON_OFF_AUTO_ON;
}

static void accel_set_tegra241_cmdqv(Object *obj, bool value, Error **errp)
{
    ARM_SMMUV3(obj)->cmdqv = value ? ON_OFF_AUTO_ON : ON_OFF_AUTO_OFF;
}

void smmuv3_accel_class_init(ObjectClass *klass)
{
    object_class_property_set_description(klass, "accel",
        "Accelerated mode: stage-1 translation done by the host SMMU "
        "(nested) through iommufd, for vfio-pci devices with "
        "iommufd=<id>. Needs stage=1 (the default).");
    object_class_property_set_description(klass, "ril",
        "accel: range invalidation (IDR3.RIL): on, off or auto (the host's)");
    object_class_property_set_description(klass, "ats",
        "accel: ATS and ATC_INV forwarding (IDR0.ATS): on, off or auto "
        "(the host's)");
    object_class_property_set_description(klass, "oas",
        "accel: output address size in bits: 44, 48 or auto (the host's)");
    object_class_property_set_description(klass, "ssidsize",
        "accel: substream ID bits (IDR1.SSIDSIZE): 0 to 20, or auto "
        "(the host's)");
    object_class_property_set_description(klass, "pasid",
        "accel: substream IDs (PASIDs) for the guest, NVIDIA's and Kata's "
        "spelling: on = ssidsize 1..20 (auto: the host's), off = "
        "ssidsize 0, auto (default) = as ssidsize says");
    object_class_property_set_description(klass, "identifier",
        "the SMMU's IORT node identifier, also its CMDQV device's ACPI _UID; "
        "unique in the machine (unset: the SMMUs are numbered in order)");
    object_class_property_set_description(klass, "msi-gpa",
        "accepted for upstream QEMU's command lines and unused: the IORT "
        "maps the host's MSI window 1:1 for the guest (an RMR)");
    object_class_property_add_bool(klass, "tegra241-cmdqv",
                                   accel_get_tegra241_cmdqv,
                                   accel_set_tegra241_cmdqv);
    object_class_property_set_description(klass, "tegra241-cmdqv",
        "the RFC spelling of cmdqv, a bool: true is cmdqv=on, false "
        "cmdqv=off");
    object_class_property_set_description(klass, "cmdqv",
        "NVIDIA Tegra241 CMDQV virtual command queues: on, off or auto. "
        "accel=on: auto is on when the host SMMU of the first cold-plugged "
        "device has CMDQV, off when no device is cold-plugged. accel=off: "
        "on gives the guest the same CMDQV, run by QEMU over the emulated "
        "SMMU (for guest-driver work anywhere); auto is off");
    object_class_property_set_description(klass, "cmdqv-vcmdqs",
        "cmdqv: logical command queues the guest gets, a power of two. "
        "accel=on: up to the host's per-VINTF count (0, the default: the "
        "host's count; needed with cmdqv=on when no device is "
        "cold-plugged); accel=off: per VINTF, up to 128 in all (0: 2)");
    object_class_property_set_description(klass, "cmdqv-vintfs",
        "accel=off, cmdqv=on: the host's view of CMDQV for a host kernel: "
        "this many VINTFs (a power of two up to 64), HYP_OWN settable, "
        "SID_MATCH/SID_REPLACE and VMIDs applied. 0 (default): the "
        "guest's view, one guest-owned VINTF");
}

/*
 * The substream ID bits the guest is promised before any host is known:
 * ssidsize=N, else none with pasid=off; -1 while it waits for the host
 * (ssidsize=auto, pasid=on or auto). Properties were checked at realize.
 */
static int accel_ssidsize_wanted(SMMUv3State *s)
{
    int v = accel_ssidsize_bits(s);

    return v < 0 && s->pasid == ON_OFF_AUTO_OFF ? 0 : v;
}

/* Names of the properties still 'auto', for error messages. */
static char *accel_unresolved_autos(SMMUv3State *s)
{
    GString *str = g_string_new(NULL);

    if (s->ril == ON_OFF_AUTO_AUTO) {
        g_string_append(str, "ril=on|off ");
    }
    if (s->ats == ON_OFF_AUTO_AUTO) {
        g_string_append(str, "ats=on|off ");
    }
    if (s->oas == OAS_MODE_AUTO) {
        g_string_append(str, "oas=44|48 ");
    }
    if (accel_ssidsize_wanted(s) < 0) {
        g_string_append(str, s->pasid == ON_OFF_AUTO_ON ? "ssidsize=1..20 " :
                        "ssidsize=0..20 ");
    }
    if (s->cmdqv == ON_OFF_AUTO_ON && !s->cmdqv_vcmdqs) {
        g_string_append(str, "cmdqv-vcmdqs=1|2|4|... ");
    }
    if (str->len) {
        g_string_truncate(str, str->len - 1);
    }
    return g_string_free(str, false);
}

/*
 * Check the host SMMU behind a new device against what the guest is (or
 * will be) promised; resolve 'auto' from the first one.
 */
static bool accel_check_host(SMMUv3AccelState *a, const char *devname,
                             const struct iommu_hw_info_arm_smmuv3 *h,
                             Error **errp)
{
    ERRP_GUARD();
    SMMUv3State *s = a->smmu;
    bool h_ril = FIELD_EX32(h->idr[3], IDR3, RIL);
    bool h_ats = FIELD_EX32(h->idr[0], IDR0, ATS);
    unsigned f = FIELD_EX32(h->idr[5], IDR5, OAS);
    unsigned h_oas = f < ARRAY_SIZE(oas_bits_of_idr5) ? oas_bits_of_idr5[f] : 52;
    unsigned h_ssid = FIELD_EX32(h->idr[1], IDR1, SSIDSIZE);
    uint32_t h_gran = h->idr[5] & (R_IDR5_GRAN4K_MASK | R_IDR5_GRAN16K_MASK |
                                   R_IDR5_GRAN64K_MASK);
    int oas, ssid;

    if (!FIELD_EX32(h->idr[0], IDR0, S1P) || !FIELD_EX32(h->idr[0], IDR0, S2P)) {
        error_setg(errp, "%s: the host SMMU of %s cannot nest (IDR0 0x%x has "
                   "no %s)", accel_id(a), devname, h->idr[0],
                   FIELD_EX32(h->idr[0], IDR0, S1P) ? "stage 2" : "stage 1");
        return false;
    }
    if (FIELD_EX32(h->idr[0], IDR0, TTF) != 2 &&
        FIELD_EX32(h->idr[0], IDR0, TTF) != 3) {
        error_setg(errp, "%s: the host SMMU of %s has no AArch64 table format",
                   accel_id(a), devname);
        return false;
    }

    if (!a->resolved) {
        /* Properties were parsed at realize: only the values remain. */
        oas = accel_oas_bits(s);
        ssid = accel_ssidsize_wanted(s);
        a->ril = s->ril == ON_OFF_AUTO_AUTO ? h_ril : s->ril == ON_OFF_AUTO_ON;
        a->ats = s->ats == ON_OFF_AUTO_AUTO ? h_ats : s->ats == ON_OFF_AUTO_ON;
        a->oas_bits = oas < 0 ? MIN(h_oas, 48) : oas;
        a->ssidsize = ssid < 0 ? h_ssid : ssid;
        a->granules = h_gran;
    }

    if (a->ril && !h_ril) {
        error_setg(errp, "%s: ril=on, but the host SMMU of %s has no range "
                   "invalidation (IDR3.RIL=0)", accel_id(a), devname);
        error_append_hint(errp, "Set ril=off on the arm-smmuv3 device.\n");
        return false;
    }
    if (a->ats && !h_ats) {
        error_setg(errp, "%s: ats=on, but the host SMMU of %s has no ATS "
                   "(IDR0.ATS=0)", accel_id(a), devname);
        error_append_hint(errp, "Set ats=off on the arm-smmuv3 device.\n");
        return false;
    }
    if (a->oas_bits > h_oas) {
        error_setg(errp, "%s: oas=%u, but the host SMMU of %s has a %u-bit "
                   "output address size", accel_id(a), a->oas_bits, devname,
                   h_oas);
        error_append_hint(errp, "Set oas to %u or less.\n", h_oas);
        return false;
    }
    if (s->pasid == ON_OFF_AUTO_ON && !h_ssid) {
        error_setg(errp, "%s: pasid=on, but the host SMMU of %s has no "
                   "substream IDs (IDR1.SSIDSIZE=0)", accel_id(a), devname);
        error_append_hint(errp, "Set pasid=off on the arm-smmuv3 device.\n");
        return false;
    }
    if (a->ssidsize > h_ssid) {
        error_setg(errp, "%s: ssidsize=%u, but the host SMMU of %s has "
                   "SSIDSIZE %u", accel_id(a), a->ssidsize, devname, h_ssid);
        error_append_hint(errp, "Set ssidsize to %u or less.\n", h_ssid);
        return false;
    }
    if (a->resolved && a->cmdqv &&
        FIELD_EX32(h->idr[1], IDR1, CMDQS) < FIELD_EX32(s->idr[1], IDR1, CMDQS)) {
        /* The guest's CMDQV queues are host HW queues of that size */
        error_setg(errp, "%s: the host SMMU of %s takes command queues of "
                   "2^%u entries at most (IDR1.CMDQS); the guest was offered "
                   "2^%u", accel_id(a), devname,
                   FIELD_EX32(h->idr[1], IDR1, CMDQS),
                   FIELD_EX32(s->idr[1], IDR1, CMDQS));
        return false;
    }
    if ((a->granules & h_gran) != a->granules) {
        error_setg(errp, "%s: the host SMMU of %s lacks translation granules "
                   "the guest was offered (IDR5 0x%x, offered 0x%x)",
                   accel_id(a), devname, h->idr[5], a->granules);
        return false;
    }
    if (!a->resolved) {
        a->resolved = true;
        a->host = *h;
        a->host_known = true;
        trace_smmuv3_accel_resolved(accel_id(a), a->ril, a->ats, a->oas_bits,
                                    a->ssidsize, a->granules);
    }
    return true;
}

/*
 * The host's CMDQV behind a new device: 0 and its IOMMU_GET_HW_INFO data,
 * or the negative errno (-EOPNOTSUPP: a host SMMU without CMDQV).
 */
static int accel_host_cmdqv(HostIOMMUDeviceIOMMUFD *idev,
                            struct iommu_hw_info_tegra241_cmdqv *info)
{
    struct iommu_hw_info req = {
        .size = sizeof(req),
        .flags = IOMMU_HW_INFO_FLAG_INPUT_TYPE,
        .dev_id = idev->devid,
        .data_len = sizeof(*info),
        .data_uptr = (uintptr_t)info,
        .in_data_type = IOMMU_HW_INFO_TYPE_TEGRA241_CMDQV,
    };

    memset(info, 0, sizeof(*info));
    if (ioctl(idev->iommufd->fd, IOMMU_GET_HW_INFO, &req)) {
        return -errno;
    }
    if (req.out_data_type != IOMMU_HW_INFO_TYPE_TEGRA241_CMDQV) {
        return -EOPNOTSUPP;
    }
    return 0;
}

/*
 * Check the CMDQV of the host SMMU behind a new device against what the
 * guest is (or will be) promised. Before the first device resolves the
 * properties, *@on and *@vcmdqs get what it resolves them to; the caller
 * commits them once every other check has passed.
 */
static bool accel_check_cmdqv(SMMUv3AccelState *a,
                              HostIOMMUDeviceIOMMUFD *idev,
                              const char *devname, bool *on,
                              unsigned *vcmdqs, Error **errp)
{
    ERRP_GUARD();
    SMMUv3State *s = a->smmu;
    struct iommu_hw_info_tegra241_cmdqv info;
    bool want = a->resolved ? a->cmdqv : s->cmdqv != ON_OFF_AUTO_OFF;
    bool must = a->resolved ? a->cmdqv : s->cmdqv == ON_OFF_AUTO_ON;
    unsigned host_n, n;
    int ret;

    *on = false;
    *vcmdqs = 0;
    if (!want) {
        return true;
    }
    ret = accel_host_cmdqv(idev, &info);
    if (ret) {
        if (!must) {
            trace_smmuv3_accel_cmdqv_resolved(accel_id(a), false, 0, 0);
            return true;    /* auto: no CMDQV on this host */
        }
        error_setg(errp, "%s: cmdqv=on, but the host SMMU of %s has no "
                   "CMDQV (IOMMU_GET_HW_INFO type TEGRA241_CMDQV: %s)",
                   accel_id(a), devname, strerror(-ret));
        error_append_hint(errp, "Set cmdqv=off on the arm-smmuv3 device%s.\n",
                          a->resolved ? ", or put this device behind "
                          "another arm-smmuv3" : "");
        return false;
    }
    host_n = 1u << MIN(info.log2vcmdqs, 7);
    n = a->resolved ? a->cmdqv_vcmdqs :
        s->cmdqv_vcmdqs ? s->cmdqv_vcmdqs : host_n;
    if (n > host_n) {
        error_setg(errp, "%s: cmdqv-vcmdqs=%u, but a VINTF of the host SMMU "
                   "of %s holds %u logical queues", accel_id(a), n, devname,
                   host_n);
        error_append_hint(errp, "Set cmdqv-vcmdqs to %u or less.\n", host_n);
        return false;
    }
    *on = true;
    *vcmdqs = n;
    a->cmdqv_host_lvcmdqs = host_n;
    if (!a->resolved) {
        trace_smmuv3_accel_cmdqv_resolved(accel_id(a), true, n, host_n);
    }
    return true;
}

/*
 * A CMDQV guest allocates every logical queue at 2^IDR1.CMDQS entries and
 * the host pins each one as physically contiguous memory: cap CMDQS so that
 * a queue (16-byte entries, aligned to its size) fits in one page of what
 * backs guest RAM (the host page size, or the huge page size of a
 * hugetlbfs memory backend).
 */
static unsigned accel_cmdqv_max_cmdqs(SMMUv3AccelState *a)
{
    long ps = qemu_minrampagesize();
    unsigned cmdqs;

    if (ps == LONG_MAX || ps < qemu_real_host_page_size()) {
        ps = qemu_real_host_page_size();
    }
    cmdqs = MIN(SMMU_CMDQS, ctz64(ps) - 4);
    /* The host takes no HW queue longer than its own IDR1.CMDQS allows */
    if (a->host_known) {
        cmdqs = MIN(cmdqs, FIELD_EX32(a->host.idr[1], IDR1, CMDQS));
    }
    return cmdqs;
}

void smmuv3_accel_init_regs(SMMUv3State *s)
{
    SMMUv3AccelState *a = s->s_accel;
    int oas;

    if (!a) {
        return;
    }
    a->batch_n = 0;     /* nothing of the last boot goes to the host */
    if (!a->resolved) {
        return;
    }
    /* Stage 1 only: the host owns stage 2. */
    s->idr[0] = FIELD_DP32(s->idr[0], IDR0, S2P, 0);
    s->idr[0] = FIELD_DP32(s->idr[0], IDR0, S1P, 1);
    s->idr[0] = FIELD_DP32(s->idr[0], IDR0, ATS, a->ats);
    s->idr[1] = FIELD_DP32(s->idr[1], IDR1, SSIDSIZE, a->ssidsize);
    s->idr[3] = FIELD_DP32(s->idr[3], IDR3, RIL, a->ril);
    oas = idr5_oas_of_bits(a->oas_bits);
    s->idr[5] = FIELD_DP32(s->idr[5], IDR5, OAS, oas < 0 ? 4 : oas);
    s->idr[5] &= ~(R_IDR5_GRAN4K_MASK | R_IDR5_GRAN16K_MASK |
                   R_IDR5_GRAN64K_MASK);
    s->idr[5] |= a->granules;
    if (a->cmdqv) {
        /* A smaller IDR1.CMDQS: CMDQ_BASE's reset LOG2SIZE follows it */
        s->idr[1] = FIELD_DP32(s->idr[1], IDR1, CMDQS,
                               accel_cmdqv_max_cmdqs(a));
        s->cmdq.log2size = FIELD_EX32(s->idr[1], IDR1, CMDQS);
        s->cmdq.base = deposit64(s->cmdq.base, 0, 5, s->cmdq.log2size);
    }
    if (a->smmu->cmdqv_dev) {
        tegra241_cmdqv_reset(a->smmu->cmdqv_dev);
    }
}

/*
 * The CMDQV window is made at realize whenever CMDQV may be on, so that a
 * first device hotplugged later finds it. With accel=off only cmdqv=on
 * makes it, and QEMU runs the queues on the emulated SMMU from the start.
 */
void smmuv3_accel_init_cmdqv(SMMUv3State *s)
{
    if (s->accel ? s->cmdqv == ON_OFF_AUTO_OFF : s->cmdqv != ON_OFF_AUTO_ON) {
        return;
    }
    s->cmdqv_dev = tegra241_cmdqv_new(s);
    if (!s->accel) {
        tegra241_cmdqv_set_nr_queues(s->cmdqv_dev, s->cmdqv_vcmdqs ?:
                                     CMDQV_EMULATED_VCMDQS);
    }
}

bool smmuv3_accel_cmdqv_enabled(SMMUv3State *s)
{
    SMMUv3AccelState *a = s->s_accel;

    if (!s->accel) {
        return s->cmdqv_dev;
    }
    return a && a->resolved && a->cmdqv && s->cmdqv_dev;
}

static void accel_cmdqv_resolved(SMMUv3AccelState *a)
{
    if (a->smmu->cmdqv_dev) {
        tegra241_cmdqv_set_nr_queues(a->smmu->cmdqv_dev,
                                     a->cmdqv ? a->cmdqv_vcmdqs : 0);
    }
}

/* ---- vIOMMU lifetime -------------------------------------------------- */

/* ---- events ----------------------------------------------------------- */

#define ACCEL_VEVENTQ_DEPTH 128

static void accel_veventq_free(SMMUv3AccelState *a)
{
    if (!a->veventq_id) {
        return;
    }
    qemu_set_fd_handler(a->veventq_fd, NULL, NULL, NULL);
    /* The fd holds the vEVENTQ: close it first, then destroy. */
    close(a->veventq_fd);
    a->veventq_fd = -1;
    iommufd_backend_free_id_or_defer(a->be, a->veventq_id);
    trace_smmuv3_accel_veventq(accel_id(a), a->veventq_id, false);
    a->veventq_id = 0;
}

/*
 * @n events lost in one overflow. The SMMU architecture signals an
 * overflow condition by toggling EVENTQ_PROD.OVFLG when it begins, i.e.
 * only while OVFLG equals EVENTQ_CONS.OVACKFLG; losses during a condition
 * software has not acknowledged yet toggle nothing.
 */
static void accel_events_lost(SMMUv3AccelState *a, uint32_t n)
{
    SMMUv3State *s = a->smmu;
    bool in_overflow = (s->eventq.prod ^ s->eventq.cons) & EVT_Q_OVERFLOW;

    a->events_lost += n;
    if (!in_overflow) {
        s->eventq.prod ^= EVT_Q_OVERFLOW;
    }
    trace_smmuv3_accel_events_lost(accel_id(a), n, !in_overflow);
    qemu_log_mask(LOG_GUEST_ERROR, "%s: %u events of the host lost (event "
                  "queue overflow)\n", accel_id(a), n);
}

static void accel_veventq_read(void *opaque)
{
    SMMUv3AccelState *a = opaque;
    uint8_t buf[64 * (sizeof(struct iommufd_vevent_header) +
                      sizeof(struct iommu_vevent_arm_smmuv3))];
    ssize_t n = read(a->veventq_fd, buf, sizeof(buf));
    size_t off = 0;

    /* Nothing (0), or EAGAIN: the kernel never blocks a vEVENTQ read. */
    if (n <= 0) {
        return;
    }
    while (off + sizeof(struct iommufd_vevent_header) <= (size_t)n) {
        struct iommufd_vevent_header h;
        struct iommu_vevent_arm_smmuv3 rec;
        uint32_t lost;
        Evt evt;

        memcpy(&h, buf + off, sizeof(h));
        off += sizeof(h);
        /*
         * A gap in sequence numbers is the count lost; the kernel's
         * lost-events record (iommufd_viommu_report_event) takes the
         * number of the last event it stands for: one overflow, counted
         * once, however it shows.
         */
        lost = a->seq_known ? (h.sequence - a->next_seq) & INT32_MAX : 0;
        if (h.flags & IOMMU_VEVENTQ_FLAG_LOST_EVENTS) {
            lost++;
        }
        if (lost) {
            accel_events_lost(a, lost);
        }
        a->seq_known = true;
        a->next_seq = (h.sequence + 1) & INT32_MAX;
        if (h.flags & IOMMU_VEVENTQ_FLAG_LOST_EVENTS) {
            continue;
        }
        if (off + sizeof(rec) > (size_t)n) {
            break;
        }
        memcpy(&rec, buf + off, sizeof(rec));
        off += sizeof(rec);
        for (int i = 0; i < 4; i++) {
            uint64_t w = le64_to_cpu(rec.evt[i]);

            evt.word[2 * i] = w;
            evt.word[2 * i + 1] = w >> 32;
        }
        trace_smmuv3_accel_event(accel_id(a), evt.word[0] & 0xff,
                                 evt.word[1]);
        if (smmuv3_write_eventq(a->smmu, &evt) != MEMTX_OK) {
            accel_events_lost(a, 1);
        } else {
            a->events_relayed++;
        }
    }
}

/* The host's events reach the guest while its event queue is enabled. */
static void accel_veventq_update(SMMUv3AccelState *a)
{
    Error *err = NULL;

    if (a->viommu_id && smmuv3_eventq_enabled(a->smmu)) {
        if (a->veventq_id) {
            return;
        }
        if (!iommufd_backend_alloc_veventq(a->be, a->viommu_id,
                                           IOMMU_VEVENTQ_TYPE_ARM_SMMUV3,
                                           ACCEL_VEVENTQ_DEPTH,
                                           &a->veventq_id, &a->veventq_fd,
                                           &err)) {
            error_prepend(&err, "%s: the host's events will not reach the "
                          "guest: ", accel_id(a));
            warn_report_err(err);
            a->veventq_id = 0;
            return;
        }
        a->seq_known = false;
        qemu_set_fd_handler(a->veventq_fd, accel_veventq_read, NULL, a);
        trace_smmuv3_accel_veventq(accel_id(a), a->veventq_id, true);
    } else {
        accel_veventq_free(a);
    }
}

static void smmuv3_accel_viommu_free(SMMUv3AccelState *a)
{
    uint32_t *ids[] = { &a->bypass_hwpt_id, &a->abort_hwpt_id,
                        &a->viommu_id, &a->s2_hwpt_id };

    /* HW queues, vEVENTQs and the page-0 mmap hold the vIOMMU: first */
    accel_veventq_free(a);
    tegra241_cmdqv_host_detach(a->smmu->cmdqv_dev);

    if (a->viommu_id) {
        trace_smmuv3_accel_viommu_free(accel_id(a), a->viommu_id);
    }
    a->batch_n = 0;
    for (int i = 0; i < ARRAY_SIZE(ids); i++) {
        if (*ids[i]) {
            iommufd_backend_free_id_or_defer(a->be, *ids[i]);
            *ids[i] = 0;
        }
    }
    if (a->be && !iommufd_backend_retry_frees(a->be)) {
        error_report("%s: the host refused to destroy some vIOMMU objects; "
                     "they go when the iommufd is closed", accel_id(a));
    }
    a->be = NULL;
    a->ioas_id = 0;
    a->nested_needs_vdev = false;
}

static bool accel_alloc_vste_hwpt(SMMUv3AccelState *a, uint32_t dev_id,
                                  uint64_t ste0, uint64_t ste1,
                                  uint32_t *out, Error **errp)
{
    struct iommu_hwpt_arm_smmuv3 data = {
        .ste = { cpu_to_le64(ste0), cpu_to_le64(ste1) },
    };

    return iommufd_backend_alloc_hwpt(a->be, dev_id, a->viommu_id, 0,
                                      IOMMU_HWPT_DATA_ARM_SMMUV3,
                                      sizeof(data), &data, out, errp);
}

static bool smmuv3_accel_viommu_alloc(SMMUv3AccelState *a,
                                      HostIOMMUDeviceIOMMUFD *idev,
                                      Error **errp)
{
    ERRP_GUARD();
    struct iommu_viommu_tegra241_cmdqv cmdqv_data = {};

    a->be = idev->iommufd;
    a->ioas_id = idev->ioas_id;

    if (!iommufd_backend_alloc_hwpt(a->be, idev->devid, a->ioas_id,
                                    IOMMU_HWPT_ALLOC_NEST_PARENT,
                                    IOMMU_HWPT_DATA_NONE, 0, NULL,
                                    &a->s2_hwpt_id, errp)) {
        error_prepend(errp, "%s: stage-2 (nest parent) HWPT: ", accel_id(a));
        goto fail;
    }
    if (!iommufd_backend_alloc_viommu(a->be, idev->devid,
                                      a->cmdqv ?
                                      IOMMU_VIOMMU_TYPE_TEGRA241_CMDQV :
                                      IOMMU_VIOMMU_TYPE_ARM_SMMUV3,
                                      a->s2_hwpt_id,
                                      a->cmdqv ? &cmdqv_data : NULL,
                                      a->cmdqv ? sizeof(cmdqv_data) : 0,
                                      &a->viommu_id, errp)) {
        error_prepend(errp, "%s: ", accel_id(a));
        goto fail;
    }
    if (!accel_alloc_vste_hwpt(a, idev->devid, 0, 0, &a->abort_hwpt_id,
                               errp) ||
        !accel_alloc_vste_hwpt(a, idev->devid,
                               VSTE0_V | (VSTE0_CFG_BYPASS << VSTE0_CFG_SHIFT),
                               0, &a->bypass_hwpt_id, errp)) {
        error_prepend(errp, "%s: abort/bypass HWPT: ", accel_id(a));
        goto fail;
    }
    if (a->cmdqv &&
        !tegra241_cmdqv_host_attach(a->smmu->cmdqv_dev, a->be, a->ioas_id,
                                    a->viommu_id,
                                    cmdqv_data.out_vintf_mmap_offset,
                                    cmdqv_data.out_vintf_mmap_length,
                                    a->cmdqv_host_lvcmdqs, errp)) {
        error_prepend(errp, "%s: CMDQV: ", accel_id(a));
        goto fail;
    }
    trace_smmuv3_accel_viommu_alloc(accel_id(a), a->ioas_id, a->s2_hwpt_id,
                                    a->viommu_id, a->abort_hwpt_id,
                                    a->bypass_hwpt_id);
    return true;

fail:
    smmuv3_accel_viommu_free(a);
    return false;
}

/* ---- devices ------------------------------------------------------------ */

static uint32_t accel_dev_sid(SMMUv3AccelDevice *d)
{
    return PCI_BUILD_BDF(pci_bus_num(d->bus), d->devfn);
}

static SMMUv3AccelDevice *accel_find_dev(SMMUv3AccelState *a, PCIBus *bus,
                                         int devfn)
{
    SMMUv3AccelDevice *d;

    QLIST_FOREACH(d, &a->devices, next) {
        if (d->bus == bus && d->devfn == devfn) {
            return d;
        }
    }
    return NULL;
}

static SMMUv3AccelDevice *accel_find_vsid(SMMUv3AccelState *a, uint32_t sid)
{
    SMMUv3AccelDevice *d;

    QLIST_FOREACH(d, &a->devices, next) {
        if (d->vdev_id && d->vsid == sid) {
            return d;
        }
    }
    return NULL;
}

/* What @hwpt_id (ACCEL_BLOCKED included) is, for traces and QMP */
static const char *accel_hwpt_kind(SMMUv3AccelState *a, uint32_t hwpt_id)
{
    return !hwpt_id ? "none" :
           hwpt_id == ACCEL_BLOCKED ? "blocked" :
           hwpt_id == a->s2_hwpt_id ? "stage-2" :
           hwpt_id == a->abort_hwpt_id ? "abort" :
           hwpt_id == a->bypass_hwpt_id ? "bypass" : "nested";
}

/* @hwpt_id ACCEL_BLOCKED: detached, in the kernel's blocked domain */
static bool accel_dev_attach(SMMUv3AccelDevice *d, uint32_t hwpt_id,
                             Error **errp)
{
    if (d->attached_hwpt_id == hwpt_id) {
        return true;
    }
    if (hwpt_id == ACCEL_BLOCKED) {
        if (!host_iommu_device_iommufd_detach_hwpt(d->idev, errp)) {
            return false;
        }
    } else if (!host_iommu_device_iommufd_attach_hwpt(d->idev, hwpt_id,
                                                      errp)) {
        return false;
    }
    d->attached_hwpt_id = hwpt_id;
    return true;
}

/* The vDEVICE for the device's current guest SID, made on first need. */
static bool accel_dev_ensure_vdev(SMMUv3AccelDevice *d, Error **errp)
{
    SMMUv3AccelState *a = d->accel;
    uint32_t sid = accel_dev_sid(d);

    if (d->vdev_id && d->vsid == sid) {
        return true;
    }
    if (d->vdev_id) {
        /* The guest renumbered the bus: the old vSID goes. */
        iommufd_backend_free_id_or_defer(a->be, d->vdev_id);
        d->vdev_id = 0;
    }
    if (!iommufd_backend_alloc_vdev(a->be, d->idev->devid, a->viommu_id, sid,
                                    &d->vdev_id, errp)) {
        return false;
    }
    d->vsid = sid;
    trace_smmuv3_accel_vdev(d->name, sid, d->vdev_id);
    return true;
}

/*
 * Install @hwpt_id (abort, bypass) or, with @hwpt_id 0, a nested HWPT made
 * from @vste. The previous per-device HWPT is freed once replaced.
 */
static bool accel_dev_install(SMMUv3AccelDevice *d, uint32_t hwpt_id,
                              const uint64_t *vste, Error **errp)
{
    SMMUv3AccelState *a = d->accel;
    uint32_t old = d->nested_hwpt_id, new_id = hwpt_id;

    if (!hwpt_id) {
        if (old && d->vste[0] == vste[0] && d->vste[1] == vste[1] &&
            d->attached_hwpt_id == old && d->vsid == accel_dev_sid(d)) {
            return true; /* nothing changed */
        }
        if (old && d->vsid != accel_dev_sid(d)) {
            /* The vDEVICE must go with its SID: leave it unheld first. */
            if (!accel_dev_attach(d, a->abort_hwpt_id, errp)) {
                return false;
            }
            iommufd_backend_free_id_or_defer(a->be, old);
            d->nested_hwpt_id = old = 0;
        }
        if (!accel_dev_ensure_vdev(d, errp) ||
            !accel_alloc_vste_hwpt(a, d->idev->devid, vste[0], vste[1],
                                   &new_id, errp)) {
            return false;
        }
    }
    if (!accel_dev_attach(d, new_id, errp)) {
        if (!hwpt_id) {
            iommufd_backend_free_id_or_defer(a->be, new_id);
        }
        return false;
    }
    if (!hwpt_id) {
        d->nested_hwpt_id = new_id;
        d->vste[0] = vste[0];
        d->vste[1] = vste[1];
    } else {
        d->nested_hwpt_id = 0;
    }
    if (old && old != d->nested_hwpt_id) {
        iommufd_backend_free_id_or_defer(a->be, old);
    }
    trace_smmuv3_accel_install(d->name, accel_dev_sid(d),
                               accel_hwpt_kind(a, new_id), new_id,
                               hwpt_id ? 0 : vste[0], hwpt_id ? 0 : vste[1]);
    return true;
}

/*
 * Abort or bypass for a device. Through the vIOMMU's shared nested
 * abort/bypass HWPTs when the device has a vDEVICE, or when the host
 * attaches them without one (Linux 6.19 and later). Linux 6.15 to 6.18
 * refuse that with ENOENT (arm_smmu_attach_prepare_vmaster): the device
 * then gets the same translation without the vIOMMU, the kernel's blocked
 * domain for abort and the stage-2 HWPT alone for bypass, until the
 * guest's first stage-1 STE brings its vDEVICE. The host's answer is
 * learnt once per vIOMMU. (A device of another host SMMU is refused
 * before that check, with EINVAL, on every version.)
 */
static bool accel_dev_install_plain(SMMUv3AccelDevice *d, bool abort,
                                    Error **errp)
{
    SMMUv3AccelState *a = d->accel;
    Error *err = NULL;

    if (d->vdev_id || !a->nested_needs_vdev) {
        if (accel_dev_install(d, abort ? a->abort_hwpt_id : a->bypass_hwpt_id,
                              NULL, &err)) {
            return true;
        }
        if (d->vdev_id || errno != ENOENT) {
            error_propagate(errp, err);
            return false;
        }
        trace_smmuv3_accel_nested_needs_vdev(accel_id(a), d->name);
        error_free(err);
        a->nested_needs_vdev = true;
    }
    return accel_dev_install(d, abort ? ACCEL_BLOCKED : a->s2_hwpt_id, NULL,
                             errp);
}

/*
 * What the guest's configuration asks for this device, installed. An STE
 * the host refuses is the guest's problem (logged, the device aborts);
 * false only when not even abort or bypass could be installed.
 */
static bool accel_dev_try_update(SMMUv3AccelDevice *d, Error **errp)
{
    SMMUv3AccelState *a = d->accel;
    SMMUv3State *s = a->smmu;
    uint32_t sid = accel_dev_sid(d);
    SMMUEventInfo event = { .sid = sid, .inval_ste_allowed = true };
    Error *err = NULL;
    uint64_t vste[2];
    STE ste;
    unsigned cfg;

    if (!a->viommu_id) {
        return true;
    }
    if (!smmu_enabled(s)) {
        return accel_dev_install_plain(d, FIELD_EX32(s->gbpa, GBPA, ABORT),
                                       errp);
    }
    if (smmu_find_ste(s, sid, &ste, &event)) {
        return accel_dev_install_plain(d, true, errp);
    }
    vste[0] = ((uint64_t)le32_to_cpu(ste.word[1]) << 32) |
              le32_to_cpu(ste.word[0]);
    vste[1] = ((uint64_t)le32_to_cpu(ste.word[3]) << 32) |
              le32_to_cpu(ste.word[2]);
    cfg = (vste[0] & VSTE0_CFG_MASK) >> VSTE0_CFG_SHIFT;

    if (!(vste[0] & VSTE0_V) || cfg == VSTE0_CFG_ABORT) {
        return accel_dev_install_plain(d, true, errp);
    } else if (cfg == VSTE0_CFG_BYPASS) {
        return accel_dev_install_plain(d, false, errp);
    } else if (cfg == VSTE0_CFG_S1) {
        vste[0] &= VSTE0_ALLOWED;
        vste[1] &= VSTE1_ALLOWED;
        if (!a->ats) {
            vste[1] &= ~(3ULL << VSTE1_EATS_SHIFT);
        }
        if (accel_dev_install(d, 0, vste, &err)) {
            return true;
        }
        qemu_log_mask(LOG_GUEST_ERROR, "%s: SID 0x%x: the host refused the "
                      "STE (%s); translation aborts\n", accel_id(a), sid,
                      error_get_pretty(err));
        error_free(err);
    } else {
        qemu_log_mask(LOG_GUEST_ERROR, "%s: SID 0x%x: STE config %u needs "
                      "stage 2, which this SMMU does not offer; translation "
                      "aborts\n", accel_id(a), sid, cfg);
    }
    return accel_dev_install_plain(d, true, errp);
}

/* After a change of the guest's configuration: a failure is the host's. */
static void accel_dev_update(SMMUv3AccelDevice *d)
{
    Error *err = NULL;

    if (!accel_dev_try_update(d, &err)) {
        error_report_err(err);
    }
}

void smmuv3_accel_update_all(SMMUv3State *s)
{
    SMMUv3AccelState *a = s->s_accel;
    SMMUv3AccelDevice *d;

    if (!a) {
        return;
    }
    QLIST_FOREACH(d, &a->devices, next) {
        accel_dev_update(d);
    }
    accel_veventq_update(a);
}

void smmuv3_accel_ste_changed(SMMUv3State *s, uint32_t start, uint32_t end)
{
    SMMUv3AccelState *a = s->s_accel;
    SMMUv3AccelDevice *d;

    if (!a) {
        return;
    }
    QLIST_FOREACH(d, &a->devices, next) {
        uint32_t sid = accel_dev_sid(d);

        if (sid >= start && sid <= end) {
            accel_dev_update(d);
        }
    }
}

/* Give the device back to vfio's own domain and drop what it held. */
static void accel_dev_release(SMMUv3AccelDevice *d)
{
    SMMUv3AccelState *a = d->accel;
    Error *err = NULL;

    if (d->attached_hwpt_id &&
        !host_iommu_device_iommufd_attach_hwpt(d->idev, d->idev->hwpt_id,
                                               &err)) {
        /*
         * The HWPTs below still hold the device: detach it (the kernel's
         * detach cannot fail), or none of them could be destroyed.
         */
        warn_report_err(err);
        err = NULL;
        if (!host_iommu_device_iommufd_detach_hwpt(d->idev, &err)) {
            error_report_err(err);
        }
    }
    d->attached_hwpt_id = 0;
    if (d->nested_hwpt_id) {
        iommufd_backend_free_id_or_defer(a->be, d->nested_hwpt_id);
        d->nested_hwpt_id = 0;
    }
    if (d->vdev_id) {
        iommufd_backend_free_id_or_defer(a->be, d->vdev_id);
        d->vdev_id = 0;
    }
}

static void accel_dev_free(SMMUv3AccelDevice *d)
{
    SMMUv3AccelState *a = d->accel;

    trace_smmuv3_accel_unset_device(d->name, d->devfn);
    accel_dev_release(d);
    QLIST_REMOVE(d, next);
    object_unref(OBJECT(d->idev));
    g_free(d->name);
    g_free(d);
    if (QLIST_EMPTY(&a->devices)) {
        smmuv3_accel_viommu_free(a);
    } else {
        iommufd_backend_retry_frees(a->be);
    }
}

/*
 * The guest's IORT maps the MSI window 1:1 for every device of an accel
 * SMMU (an RMR); a host that does not reserve that window in the device's
 * IOAS places its MSI doorbell elsewhere, and the device's interrupts would
 * fault in the guest's stage 1: refuse it rather than lose them.
 */
static bool accel_check_msi_window(SMMUv3AccelState *a,
                                   HostIOMMUDeviceIOMMUFD *idev,
                                   const char *devname, Error **errp)
{
    ERRP_GUARD();
    const uint64_t base = SMMUV3_ACCEL_MSI_WINDOW_BASE;
    const uint64_t last = base + SMMUV3_ACCEL_MSI_WINDOW_SIZE - 1;
    g_autofree struct iommu_iova_range *r = NULL;
    uint32_t n;

    if (!iommufd_backend_get_iova_ranges(idev->iommufd, idev->ioas_id, &r,
                                         &n, errp)) {
        error_prepend(errp, "%s: %s: ", accel_id(a), devname);
        return false;
    }
    for (uint32_t i = 0; i < n; i++) {
        if (r[i].start <= last && r[i].last >= base) {
            trace_smmuv3_accel_msi_window(accel_id(a), devname, false);
            error_setg(errp, "%s: the host does not reserve the software MSI "
                       "window 0x%" PRIx64 "..0x%" PRIx64 " for %s (IOVA "
                       "0x%" PRIx64 "..0x%" PRIx64 " is mappable)",
                       accel_id(a), base, last, devname,
                       (uint64_t)r[i].start, (uint64_t)r[i].last);
            error_append_hint(errp, "The guest's IORT maps that window 1:1 "
                              "for the device's MSIs; the host's arm-smmu-v3 "
                              "driver must place its MSI doorbell there "
                              "(Linux's default).\n");
            return false;
        }
    }
    trace_smmuv3_accel_msi_window(accel_id(a), devname, true);
    return true;
}

static bool smmuv3_accel_set_iommu_device(PCIBus *bus, void *opaque,
                                          int devfn, HostIOMMUDevice *hiod,
                                          Error **errp)
{
    ERRP_GUARD();
    SMMUv3State *s = opaque;
    SMMUv3AccelState *a = s->s_accel;
    HostIOMMUDeviceIOMMUFD *idev;
    SMMUv3AccelDevice *d;
    bool first = QLIST_EMPTY(&a->devices);
    bool was_resolved = a->resolved, cmdqv;
    unsigned vcmdqs;

    if (!object_dynamic_cast(OBJECT(hiod), TYPE_HOST_IOMMU_DEVICE_IOMMUFD)) {
        error_setg(errp, "%s: %s is not bound to iommufd", accel_id(a),
                   hiod->name);
        error_append_hint(errp, "An accel=on SMMU serves vfio-pci devices "
                          "with iommufd=<id> only.\n");
        return false;
    }
    idev = HOST_IOMMU_DEVICE_IOMMUFD(hiod);
    if (hiod->caps.type != IOMMU_HW_INFO_TYPE_ARM_SMMUV3) {
        error_setg(errp, "%s: %s is not behind an ARM SMMUv3 on the host "
                   "(IOMMU type %u)", accel_id(a), hiod->name, hiod->caps.type);
        return false;
    }
    if (!first && a->be != idev->iommufd) {
        error_setg(errp, "%s: %s uses another iommufd object than the "
                   "devices already on this SMMU", accel_id(a), hiod->name);
        return false;
    }
    if (!accel_check_cmdqv(a, idev, hiod->name, &cmdqv, &vcmdqs, errp) ||
        !accel_check_host(a, hiod->name, &hiod->caps.vendor_caps.smmuv3,
                          errp)) {
        return false;
    }
    if (!was_resolved) {
        a->cmdqv = cmdqv;
        a->cmdqv_vcmdqs = vcmdqs;
        accel_cmdqv_resolved(a);
    }
    if (first && !smmuv3_accel_viommu_alloc(a, idev, errp)) {
        return false;
    }

    d = g_new0(SMMUv3AccelDevice, 1);
    d->accel = a;
    d->bus = bus;
    d->devfn = devfn;
    d->name = g_strdup(hiod->name);
    d->idev = idev;
    object_ref(OBJECT(idev));
    QLIST_INSERT_HEAD(&a->devices, d, next);
    trace_smmuv3_accel_set_device(d->name, devfn, idev->devid);

    /* Start from abort: a device on another host SMMU fails right here. */
    if (!accel_dev_install_plain(d, true, errp)) {
        error_prepend(errp, "%s: cannot attach %s to this vIOMMU: ",
                      accel_id(a), d->name);
        error_append_hint(errp, "Each accel=on SMMU serves the devices of "
                          "one host SMMU; put devices of another host SMMU "
                          "behind their own arm-smmuv3 on a pxb-pcie.\n");
        accel_dev_free(d);
        return false;
    }
    if (!accel_check_msi_window(a, idev, d->name, errp) ||
        !accel_dev_try_update(d, errp)) {
        accel_dev_free(d);
        return false;
    }
    accel_veventq_update(a);
    return true;
}

static void smmuv3_accel_unset_iommu_device(PCIBus *bus, void *opaque,
                                            int devfn)
{
    SMMUv3State *s = opaque;
    SMMUv3AccelDevice *d = accel_find_dev(s->s_accel, bus, devfn);

    if (d) {
        accel_dev_free(d);
    }
}

/*
 * vfio-pci devices get the system address space: vfio maps all guest RAM
 * into the IOAS, the stage 2 the host nests the guest's stage 1 over.
 */
static AddressSpace *smmuv3_accel_find_add_as(PCIBus *bus, void *opaque,
                                              int devfn)
{
    PCIDevice *pdev = bus->devices[devfn];
    AddressSpace *as = smmu_find_add_as(bus, opaque, devfn);

    if (pdev && object_dynamic_cast(OBJECT(pdev), "vfio-pci")) {
        return &address_space_memory;
    }
    return as;
}

const PCIIOMMUOps smmuv3_accel_iommu_ops = {
    .get_address_space = smmuv3_accel_find_add_as,
    .set_iommu_device = smmuv3_accel_set_iommu_device,
    .unset_iommu_device = smmuv3_accel_unset_iommu_device,
};

/* ---- invalidations -------------------------------------------------- */

/*
 * One IOMMU_HWPT_INVALIDATE of the batch's first @n entries. On failure
 * *@done is the entry the host refused; a call that failed before any
 * entry (arguments, a copy fault: entry_num not written back) is refused
 * at entry 0.
 */
static bool accel_invalidate(SMMUv3AccelState *a, uint32_t n, uint32_t *done,
                             Error **errp)
{
    bool ok;

    *done = n;
    a->inv_ioctls++;
    ok = iommufd_backend_invalidate_cache(a->be, a->viommu_id,
                                          IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3,
                                          sizeof(a->batch[0]), done, a->batch,
                                          errp);
    if (!ok) {
        a->inv_failures++;
        if (*done >= n) {
            *done = 0;
        }
    }
    trace_smmuv3_accel_flush(accel_id(a), n, *done, ok ? 0 : -1);
    return ok;
}

/* Send the batch collected so far (a full batch, a command not ours, the end) */
static void accel_flush_batch(SMMUv3AccelState *a, SMMUCmdError *cmd_error)
{
    SMMUv3State *s = a->smmu;
    uint32_t n, k, again;
    Error *err = NULL, *err2 = NULL;

    if (!a->batch_n) {
        return;
    }
    n = a->batch_n;
    a->batch_n = 0;
    if (!a->viommu_id) {
        /* The vIOMMU went with the last device: nothing holds a translation */
        return;
    }
    if (accel_invalidate(a, n, &k, &err)) {
        return;
    }
    /*
     * Refused at entry k. Linux's arm_vsmmu_cache_invalidate() converts the
     * entries one by one but issues them to the hardware in chunks of 63,
     * and reports entry_num = k although the entries since the last chunk
     * boundary were never issued. Invalidations are idempotent: send
     * entries 0..k-1 again, so that everything before the refused command
     * is done whatever the host's chunking (an entry refused now is the
     * one reported).
     */
    while (k && !accel_invalidate(a, k, &again, &err2)) {
        error_free(err);
        err = err2;
        err2 = NULL;
        k = again;
    }
    qemu_log_mask(LOG_GUEST_ERROR, "%s: invalidation %u of a batch of %u "
                  "refused by the host: %s\n", accel_id(a), k, n,
                  error_get_pretty(err));
    error_free(err);
    /* CONS points at the command the host refused. */
    s->cmdq.cons = deposit32(s->cmdq.cons, 0, s->cmdq.log2size + 1,
                             a->batch_cons[k]);
    *cmd_error = SMMU_CERROR_ILL;
}

/* The end of a run of the trapped queue (one guest exit): what is batched */
void smmuv3_accel_flush(SMMUv3State *s, SMMUCmdError *cmd_error)
{
    SMMUv3AccelState *a = s->s_accel;

    if (!a) {
        return;
    }
    a->cmdq_runs++;
    accel_flush_batch(a, cmd_error);
}

bool smmuv3_accel_cmd(SMMUv3State *s, Cmd *cmd, SMMUCmdError *cmd_error)
{
    SMMUv3AccelState *a = s->s_accel;
    uint32_t type = CMD_TYPE(cmd);
    bool has_sid = false;

    a->cmds_consumed++;
    switch (type) {
    case SMMU_CMD_CFGI_CD:
    case SMMU_CMD_CFGI_CD_ALL:
        if (CMD_SSEC(cmd)) {
            /* Secure stream: CERROR_ILL, as the emulated SMMU answers */
            goto not_ours;
        }
        has_sid = true;
        break;
    case SMMU_CMD_ATC_INV:
        if (!a->ats) {
            goto not_ours;
        }
        has_sid = true;
        break;
    case SMMU_CMD_TLBI_NH_ALL:
    case SMMU_CMD_TLBI_NH_ASID:
    case SMMU_CMD_TLBI_NH_VA:
    case SMMU_CMD_TLBI_NH_VAA:
    case SMMU_CMD_TLBI_NSNH_ALL:
        break;
    default:
        goto not_ours;
    }

    /*
     * Nothing on the host caches for a SID without a vDEVICE, nor for
     * anything while no vIOMMU exists: such commands complete at once.
     */
    if (!a->viommu_id || (has_sid && !accel_find_vsid(a, CMD_SID(cmd)))) {
        a->cmds_dropped++;
        trace_smmuv3_accel_drop(smmu_cmd_string(type),
                                has_sid ? CMD_SID(cmd) : 0);
        return true;
    }
    if (a->batch_n == ACCEL_BATCH_MAX) {
        accel_flush_batch(a, cmd_error);
        if (*cmd_error) {
            return false;
        }
    }
    a->batch_cons[a->batch_n] = s->cmdq.cons;
    a->batch[a->batch_n][0] = cpu_to_le64(((uint64_t)cmd->word[1] << 32) |
                                          cmd->word[0]);
    a->batch[a->batch_n][1] = cpu_to_le64(((uint64_t)cmd->word[3] << 32) |
                                          cmd->word[2]);
    a->batch_n++;
    a->cmds_forwarded++;
    return true;

not_ours:
    accel_flush_batch(a, cmd_error);
    return false;
}

/* ---- realize and teardown ---------------------------------------------- */

static void smmuv3_accel_exit(Notifier *n, void *data)
{
    SMMUv3AccelState *a = container_of(n, SMMUv3AccelState, exit_notifier);

    /* Leave the host as we found it: every object of ours destroyed. */
    while (!QLIST_EMPTY(&a->devices)) {
        accel_dev_free(QLIST_FIRST(&a->devices));
    }
}

/*
 * The guest finds the SMMU's stream ID mappings (and, with CMDQV, the
 * CMDQV device) only in ACPI tables, which reach it through UEFI firmware.
 */
static bool accel_guest_boots_dt(MachineState *ms)
{
    g_autofree char *acpi = NULL;

    if (object_property_find(OBJECT(ms), "acpi")) {
        acpi = object_property_get_str(OBJECT(ms), "acpi", NULL);
        if (acpi && !strcmp(acpi, "off")) {
            return true;
        }
    }
    return ms->kernel_filename && !ms->firmware && !drive_get(IF_PFLASH, 0, 0);
}

/*
 * An endpoint the host SMMU cannot translate: a PCI device that is not
 * vfio-pci. Host bridges, root ports and PCI bridges route; they do no DMA.
 */
static bool accel_class_is_emulated_endpoint(ObjectClass *oc)
{
    PCIDeviceClass *pc;

    if (!object_class_dynamic_cast(oc, TYPE_PCI_DEVICE) ||
        object_class_dynamic_cast(oc, "vfio-pci") ||
        object_class_dynamic_cast(oc, TYPE_PCI_BRIDGE)) {
        return false;
    }
    pc = PCI_DEVICE_CLASS(oc);
    return (pc->class_id >> 8) != PCI_BASE_CLASS_BRIDGE;
}

static int accel_find_emulated(DeviceState *dev, void *opaque)
{
    DeviceState **found = opaque;

    if (!*found &&
        accel_class_is_emulated_endpoint(object_get_class(OBJECT(dev)))) {
        *found = dev;
    }
    return 0;
}

static void accel_error_emulated(SMMUv3AccelState *a, const char *type,
                                 const char *id, Error **errp)
{
    ERRP_GUARD();
    error_setg(errp, "%s: %s '%s' is an emulated PCI device; an accel=on "
               "SMMU serves only vfio-pci devices with iommufd=",
               accel_id(a), type, id);
    error_append_hint(errp, "Put emulated devices on a PCIe root complex "
                      "that has no accel=on SMMU (e.g. a pxb-pcie), or use "
                      "-nodefaults to drop the default NIC.\n");
}

/*
 * A mediated device (vfio-pci,sysfsdev= of an mdev) has no host IOMMU
 * device of its own: vfio never hands it to the SMMU, so its DMA would
 * bypass the guest's stage 1 altogether. Its sysfs subsystem is the mdev
 * bus (vfio_device_is_mdev()'s test, on any sysfs root).
 */
static bool accel_sysfsdev_is_mdev(const char *sysfsdev)
{
    g_autofree char *link = g_build_filename(sysfsdev, "subsystem", NULL);
    g_autofree char *subsys = realpath(link, NULL);

    return subsys && g_str_has_suffix(subsys, "/bus/mdev");
}

static void accel_error_mdev(SMMUv3AccelState *a, const char *id,
                             Error **errp)
{
    ERRP_GUARD();
    error_setg(errp, "%s: vfio-pci '%s' is a mediated (mdev) device; an "
               "accel=on SMMU serves only vfio-pci devices of a host SMMU "
               "with iommufd=", accel_id(a), id);
    error_append_hint(errp, "The host SMMU does not translate a mediated "
                      "device's DMA through the guest's tables: put it on a "
                      "PCIe root complex that has no accel=on SMMU (e.g. a "
                      "pxb-pcie).\n");
}

typedef struct AccelBusByName {
    const char *name;       /* NULL: the first PCI bus */
    PCIBus *found;
} AccelBusByName;

static int accel_find_bus_named(BusState *bus, void *opaque)
{
    AccelBusByName *b = opaque;

    if (!b->found && object_dynamic_cast(OBJECT(bus), TYPE_PCI_BUS) &&
        (!b->name || !strcmp(bus->name, b->name))) {
        b->found = PCI_BUS(bus);
    }
    return 0;
}

typedef struct AccelLookup {
    PCIBus *root;           /* NULL: any */
    SMMUv3AccelState *found;
} AccelLookup;

static int accel_find_smmu(Object *obj, void *opaque)
{
    SMMUv3State *s = (SMMUv3State *)object_dynamic_cast(obj, TYPE_ARM_SMMUV3);
    AccelLookup *l = opaque;

    if (s && s->s_accel && (!l->root || ARM_SMMU(s)->primary_bus == l->root)) {
        l->found = s->s_accel;
        return 1;
    }
    return 0;
}

/* The accel SMMU serving root bus @root (NULL: any accel SMMU), or NULL. */
static SMMUv3AccelState *accel_lookup(PCIBus *root)
{
    AccelLookup l = { .root = root };

    object_child_foreach_recursive(object_get_root(), accel_find_smmu, &l);
    return l.found;
}

/* The accel SMMU serving PCI bus @bus (its root complex's), or NULL. */
static SMMUv3AccelState *accel_of_bus(PCIBus *bus)
{
    while (!pci_bus_is_root(bus)) {
        bus = pci_get_bus(bus->parent_dev);
    }
    return accel_lookup(bus);
}

/*
 * device_add of an emulated PCI endpoint behind an accel SMMU: refused
 * before the device is made, naming it (qdev lets a DeviceListener's
 * hide_device hook fail an add). Cold-plugged ones are refused at
 * machine_done, which sees the machine's own defaults too. The bus is
 * found as qdev will, by name or the first PCI bus when none is given; of
 * a qdev path ("/gpex-pcihost/pcie.0", "/.../rp0") the last element
 * names it (a bridge's secondary bus is named after the bridge's id).
 */
static bool accel_hide_device(DeviceListener *l, const QDict *opts,
                              bool from_json, Error **errp)
{
    const char *driver = qdict_get_try_str(opts, "driver");
    const char *sysfsdev = qdict_get_try_str(opts, "sysfsdev");
    AccelBusByName bus = { .name = qdict_get_try_str(opts, "bus") };
    g_auto(GStrv) elems = NULL;
    const char *last = NULL;
    ObjectClass *oc;
    SMMUv3AccelState *a;
    bool mdev;

    if (!driver) {
        return false;
    }
    oc = module_object_class_by_name(driver);
    if (!oc) {
        /* qdev's aliases on this target: virtio-X for virtio-X-pci */
        g_autofree char *full = g_strconcat(driver, "-pci", NULL);

        oc = module_object_class_by_name(full);
    }
    if (!oc) {
        return false;
    }
    /*
     * A mediated device is refused whenever its bus is known to be an
     * accel SMMU's (cold-plugged after the SMMU, or hot-plugged); one
     * made before its SMMU is refused at machine_done. Emulated endpoints
     * are refused here when hot-plugged only: machine_done sees every
     * cold-plugged one, the machine's defaults included.
     */
    mdev = object_class_dynamic_cast(oc, "vfio-pci") && sysfsdev &&
           accel_sysfsdev_is_mdev(sysfsdev);
    if (!mdev && (!phase_check(PHASE_MACHINE_READY) ||
                  !accel_class_is_emulated_endpoint(oc))) {
        return false;
    }
    if (bus.name && strchr(bus.name, '/')) {
        elems = g_strsplit(bus.name, "/", -1);
        for (int i = 0; elems[i]; i++) {
            if (*elems[i]) {
                last = elems[i];
            }
        }
        bus.name = last;
    }
    qbus_walk_children(sysbus_get_default(), NULL, accel_find_bus_named,
                       NULL, NULL, &bus);
    a = bus.found ? accel_of_bus(bus.found) : NULL;
    if (a && mdev) {
        accel_error_mdev(a, qdict_get_try_str(opts, "id") ?: sysfsdev, errp);
    } else if (a) {
        accel_error_emulated(a, object_class_get_name(oc),
                             qdict_get_try_str(opts, "id") ?: driver, errp);
    }
    return false;
}

static DeviceListener accel_device_listener = {
    .hide_device = accel_hide_device,
};
static bool accel_device_listener_registered;

/*
 * A vfio-pci device realized before its SMMU (QEMU creates the -device
 * options written as key=value before the JSON ones) found no IOMMU ops on
 * its bus and was never handed to the SMMU: do it now, as vfio would have.
 */
static int accel_adopt_vfio(DeviceState *dev, void *opaque)
{
    SMMUv3AccelState *a = opaque;
    VFIODevice *vd = vfio_get_vfio_device(OBJECT(dev));
    PCIDevice *pdev;
    Error *err = NULL;

    if (!vd || !dev->realized) {
        return 0;
    }
    pdev = PCI_DEVICE(dev);
    if (vd->mdev || (vd->sysfsdev && accel_sysfsdev_is_mdev(vd->sysfsdev))) {
        accel_error_mdev(a, dev->id ? dev->id : vd->name, &err);
    } else if (vd->hiod && !accel_find_dev(a, pci_get_bus(pdev), pdev->devfn)) {
        trace_smmuv3_accel_adopt(accel_id(a), vd->name);
        smmuv3_accel_set_iommu_device(pci_get_bus(pdev), a->smmu,
                                      pdev->devfn, vd->hiod, &err);
    }
    if (err) {
        error_report_err(err);
        exit(1);
    }
    return 0;
}

static void smmuv3_accel_machine_done(Notifier *n, void *data)
{
    SMMUv3AccelState *a = container_of(n, SMMUv3AccelState, machine_done);
    g_autofree char *autos = NULL;

    if (accel_guest_boots_dt(MACHINE(qdev_get_machine()))) {
        error_report("%s: accel=on needs a guest booted with ACPI; this "
                     "machine boots the guest with a device tree",
                     accel_id(a));
        error_printf("Boot through UEFI firmware (-bios or pflash, e.g. "
                     "QEMU_EFI.fd from qemu-efi-aarch64) with acpi=on.\n");
        exit(1);
    }
    {
        DeviceState *emulated = NULL;

        qbus_walk_children(BUS(ARM_SMMU(a->smmu)->primary_bus),
                           accel_find_emulated, NULL, NULL, NULL, &emulated);
        if (emulated) {
            Error *err = NULL;

            accel_error_emulated(a, object_get_typename(OBJECT(emulated)),
                                 emulated->id ? emulated->id :
                                 object_get_canonical_path_component(
                                     OBJECT(emulated)), &err);
            error_report_err(err);
            exit(1);
        }
    }
    qbus_walk_children(BUS(ARM_SMMU(a->smmu)->primary_bus), accel_adopt_vfio,
                       NULL, NULL, NULL, a);
    if (a->resolved) {
        return;
    }
    autos = accel_unresolved_autos(a->smmu);
    if (*autos) {
        error_report("%s: no vfio-pci device is cold-plugged behind this "
                     "accel=on SMMU, so 'auto' cannot be resolved from the "
                     "host before the guest boots", accel_id(a));
        error_printf("Set explicitly on the arm-smmuv3 device: %s\n", autos);
        exit(1);
    }
    /* All explicit: the guest gets exactly what was asked for. */
    a->ril = a->smmu->ril == ON_OFF_AUTO_ON;
    a->ats = a->smmu->ats == ON_OFF_AUTO_ON;
    a->oas_bits = accel_oas_bits(a->smmu);
    a->ssidsize = accel_ssidsize_wanted(a->smmu);
    a->granules = R_IDR5_GRAN4K_MASK | R_IDR5_GRAN64K_MASK;
    /* CMDQV is only ever an addition: 'auto' with no host to ask is off. */
    a->cmdqv = a->smmu->cmdqv == ON_OFF_AUTO_ON;
    a->cmdqv_vcmdqs = a->cmdqv ? a->smmu->cmdqv_vcmdqs : 0;
    a->resolved = true;
    accel_cmdqv_resolved(a);
    trace_smmuv3_accel_cmdqv_resolved(accel_id(a), a->cmdqv,
                                      a->cmdqv_vcmdqs, 0);
    trace_smmuv3_accel_resolved(accel_id(a), a->ril, a->ats, a->oas_bits,
                                a->ssidsize, a->granules);
}

/* cmdqv-vcmdqs: a power of two up to the maximum, and only with CMDQV */
static bool accel_check_cmdqv_vcmdqs(SMMUv3State *s, Error **errp)
{
    ERRP_GUARD();
    if (s->cmdqv_vcmdqs && (s->cmdqv_vcmdqs > CMDQV_MAX_VCMDQS ||
                            !is_power_of_2(s->cmdqv_vcmdqs))) {
        error_setg(errp, "arm-smmuv3: invalid cmdqv-vcmdqs=%u",
                   s->cmdqv_vcmdqs);
        error_append_hint(errp, "Valid values: 0 (%s), or a power of two up "
                          "to %u.\n", s->accel ? "the host's count" : "2",
                          CMDQV_MAX_VCMDQS);
        return false;
    }
    if (s->cmdqv_vcmdqs && s->cmdqv != ON_OFF_AUTO_ON &&
        (s->cmdqv == ON_OFF_AUTO_OFF || !s->accel)) {
        error_setg(errp, "arm-smmuv3: cmdqv-vcmdqs=%u with cmdqv=%s%s",
                   s->cmdqv_vcmdqs, OnOffAuto_str(s->cmdqv),
                   s->accel ? "" : " and accel=off");
        error_append_hint(errp, "Drop cmdqv-vcmdqs, or set cmdqv=on.\n");
        return false;
    }
    return true;
}

/*
 * accel=off: the properties that describe what a host SMMU gives the guest
 * mean nothing to QEMU's emulated SMMUv3. A value the emulated SMMU offers
 * anyway (RIL, no ATS, 44-bit OAS, no substreams) is accepted, as upstream
 * QEMU does; any other is refused, naming the property. cmdqv=on is the
 * exception: QEMU then runs the CMDQV itself, feeding the emulated SMMU.
 */
bool smmuv3_accel_check_off(SMMUv3State *s, Error **errp)
{
    ERRP_GUARD();
    g_autofree char *bad = NULL;

    if (s->ril == ON_OFF_AUTO_OFF) {
        bad = g_strdup("ril=off");
    } else if (s->ats == ON_OFF_AUTO_ON) {
        bad = g_strdup("ats=on");
    } else if (accel_oas_bits(s) >= 0 && accel_oas_bits(s) != 44) {
        bad = g_strdup_printf("oas=%s", OasMode_str(s->oas));
    } else if (accel_ssidsize_bits(s) > 0) {
        bad = g_strdup_printf("ssidsize=%s", SsidSizeMode_str(s->ssidsize));
    } else if (s->pasid == ON_OFF_AUTO_ON) {
        bad = g_strdup("pasid=on");
    }
    if (bad) {
        error_setg(errp, "arm-smmuv3: %s needs accel=on", bad);
        error_append_hint(errp, "ril, ats, oas, ssidsize and pasid describe "
                          "what a host SMMU gives the guest through iommufd; "
                          "QEMU's emulated SMMUv3 (accel=off) offers ril=on, "
                          "ats=off, oas=44 and ssidsize=0. Add accel=on to "
                          "the arm-smmuv3 device, or drop the property.\n");
        return false;
    }
    if (!accel_check_cmdqv_vcmdqs(s, errp)) {
        return false;
    }
    if (s->cmdqv_vintfs && s->cmdqv != ON_OFF_AUTO_ON) {
        error_setg(errp, "arm-smmuv3: cmdqv-vintfs=%u needs cmdqv=on",
                   s->cmdqv_vintfs);
        error_append_hint(errp, "Add cmdqv=on, or drop cmdqv-vintfs.\n");
        return false;
    }
    if (s->cmdqv_vintfs &&
        (!is_power_of_2(s->cmdqv_vintfs) ||
         s->cmdqv_vintfs > TEGRA241_CMDQV_MAX_VINTFS ||
         s->cmdqv_vintfs * (s->cmdqv_vcmdqs ?: CMDQV_EMULATED_VCMDQS) >
         CMDQV_MAX_VCMDQS)) {
        error_setg(errp, "arm-smmuv3: invalid cmdqv-vintfs=%u with %u "
                   "logical queues each", s->cmdqv_vintfs,
                   s->cmdqv_vcmdqs ?: CMDQV_EMULATED_VCMDQS);
        error_append_hint(errp, "cmdqv-vintfs is a power of two up to %u, "
                          "and cmdqv-vintfs times cmdqv-vcmdqs at most %u "
                          "(the global VCMDQs).\n", TEGRA241_CMDQV_MAX_VINTFS,
                          CMDQV_MAX_VCMDQS);
        return false;
    }
    /* QEMU runs the VCMDQs: a guest VINTF's commands are all stage 1 */
    if (s->cmdqv == ON_OFF_AUTO_ON && s->stage && strcmp(s->stage, "1") &&
        strcmp(s->stage, "nested")) {
        error_setg(errp, "arm-smmuv3: cmdqv=on needs stage 1, not stage=%s",
                   s->stage);
        error_append_hint(errp, "The VCMDQs of a guest VINTF carry stage-1 "
                          "invalidations only; set stage=1 or stage=nested, "
                          "or drop cmdqv.\n");
        return false;
    }
    return true;
}

bool smmuv3_accel_realize(SMMUv3State *s, Error **errp)
{
    ERRP_GUARD();
    SMMUv3AccelState *a;
    int v;

    if (s->stage && strcmp(s->stage, "1")) {
        error_setg(errp, "arm-smmuv3: accel=on requires stage=1, not stage=%s",
                   s->stage);
        error_append_hint(errp, "The host SMMU walks the guest's stage-1 "
                          "tables nested over its own stage 2; drop the "
                          "'stage' property or set stage=1.\n");
        return false;
    }
    v = accel_ssidsize_bits(s);
    if ((s->pasid == ON_OFF_AUTO_ON && v == 0) ||
        (s->pasid == ON_OFF_AUTO_OFF && v > 0)) {
        error_setg(errp, "arm-smmuv3: pasid=%s contradicts ssidsize=%d",
                   s->pasid == ON_OFF_AUTO_ON ? "on" : "off", v);
        error_append_hint(errp, "pasid=on asks for substream IDs (ssidsize "
                          "1 to 20, or auto: the host's), pasid=off for none "
                          "(ssidsize=0); set one of the two.\n");
        return false;
    }
    if (!accel_check_cmdqv_vcmdqs(s, errp)) {
        return false;
    }
    if (s->cmdqv_vintfs) {
        error_setg(errp, "arm-smmuv3: cmdqv-vintfs needs accel=off");
        error_append_hint(errp, "cmdqv-vintfs gives QEMU's emulated SMMUv3 "
                          "the host's view of CMDQV (several VINTFs, HYP_OWN) "
                          "for a host kernel to drive; with accel=on the "
                          "guest gets one VINTF of the host's. Drop "
                          "cmdqv-vintfs.\n");
        return false;
    }

    a = g_new0(SMMUv3AccelState, 1);
    a->smmu = s;
    a->veventq_fd = -1;
    /*
     * Live migration re-creates the host objects on the destination from
     * the guest's state; CPR would hand them over instead, which the
     * placeholder page's plain IOAS map (IOAS_CHANGE_PROCESS refuses it)
     * and the HW queues' pinned rings do not allow.
     */
    error_setg(&a->cpr_blocker, "arm-smmuv3 accel=on: its host objects "
               "cannot be handed over by CPR; use live migration");
    if (migrate_add_blocker_modes(&a->cpr_blocker,
                                  BIT(MIG_MODE_CPR_REBOOT) |
                                  BIT(MIG_MODE_CPR_TRANSFER) |
                                  BIT(MIG_MODE_CPR_EXEC), errp) < 0) {
        g_free(a);
        return false;
    }
    QLIST_INIT(&a->devices);
    s->s_accel = a;
    if (!accel_device_listener_registered) {
        device_listener_register(&accel_device_listener);
        accel_device_listener_registered = true;
    }
    a->exit_notifier.notify = smmuv3_accel_exit;
    qemu_add_exit_notifier(&a->exit_notifier);
    a->machine_done.notify = smmuv3_accel_machine_done;
    qemu_add_machine_init_done_notifier(&a->machine_done);
    trace_smmuv3_accel_realize(accel_id(a));
    return true;
}

bool smmuv3_accel_present(void)
{
    return accel_lookup(NULL) != NULL;
}

bool smmuv3_accel_ats_enabled(SMMUv3State *s)
{
    SMMUv3AccelState *a = s->s_accel;

    return a && a->resolved && a->ats;
}

/* ---- migration ---------------------------------------------------------- */

/*
 * The guest's view of an accelerated SMMU is its registers (the SMMU's own
 * vmstate) and the ID registers, which each side derives from its host and
 * properties: the destination must give exactly what the source promised.
 * The host objects are re-created on the destination from the guest's state
 * (its STEs are in guest RAM, loaded before the devices): the vIOMMU exists
 * once a device is attached, then vDEVICEs and nested HWPTs here, then the
 * CMDQV's HW queues (the next subsection).
 */
static int accel_pre_save(void *opaque)
{
    SMMUv3State *s = opaque;
    SMMUv3AccelState *a = s->s_accel;

    a->mig.resolved = a->resolved;
    a->mig.ril = a->ril;
    a->mig.ats = a->ats;
    a->mig.oas_bits = a->oas_bits;
    a->mig.ssidsize = a->ssidsize;
    a->mig.granules = a->granules;
    a->mig.cmdqv = a->cmdqv;
    a->mig.cmdqv_vcmdqs = a->cmdqv_vcmdqs;
    /* Events the host queued for the guest go now, not lost */
    if (a->veventq_fd >= 0) {
        accel_veventq_read(a);
    }
    return 0;
}

static int accel_post_load(void *opaque, int version_id)
{
    SMMUv3State *s = opaque;
    SMMUv3AccelState *a = s->s_accel;
    g_autofree char *src = NULL, *dst = NULL;

    if (!a->mig.resolved) {
        /* The source had not fixed them: the guest has not seen a device */
        smmuv3_accel_update_all(s);
        return 0;
    }
    src = g_strdup_printf("ril=%s,ats=%s,oas=%u,ssidsize=%u,cmdqv=%s "
                          "(%u queues), granules 0x%x",
                          a->mig.ril ? "on" : "off", a->mig.ats ? "on" : "off",
                          a->mig.oas_bits, a->mig.ssidsize,
                          a->mig.cmdqv ? "on" : "off", a->mig.cmdqv_vcmdqs,
                          a->mig.granules);
    dst = g_strdup_printf("ril=%s,ats=%s,oas=%u,ssidsize=%u,cmdqv=%s "
                          "(%u queues), granules 0x%x",
                          a->ril ? "on" : "off", a->ats ? "on" : "off",
                          a->oas_bits, a->ssidsize, a->cmdqv ? "on" : "off",
                          a->cmdqv ? a->cmdqv_vcmdqs : 0, a->granules);
    if (!a->resolved || strcmp(src, dst)) {
        error_report("arm-smmuv3 %s: the source promised the guest %s; this "
                     "host and command line give %s", accel_id(a), src,
                     a->resolved ? dst : "nothing yet (no device and 'auto' "
                     "properties: set them explicitly, as on the source)");
        return -EINVAL;
    }
    smmuv3_accel_update_all(s);
    return 0;
}

static bool accel_needed(void *opaque)
{
    return ((SMMUv3State *)opaque)->s_accel != NULL;
}

static const VMStateDescription vmstate_accel_promise = {
    .name = "smmuv3-accel/promise",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_BOOL(mig.resolved, SMMUv3AccelState),
        VMSTATE_BOOL(mig.ril, SMMUv3AccelState),
        VMSTATE_BOOL(mig.ats, SMMUv3AccelState),
        VMSTATE_BOOL(mig.cmdqv, SMMUv3AccelState),
        VMSTATE_UINT32(mig.oas_bits, SMMUv3AccelState),
        VMSTATE_UINT32(mig.ssidsize, SMMUv3AccelState),
        VMSTATE_UINT32(mig.granules, SMMUv3AccelState),
        VMSTATE_UINT32(mig.cmdqv_vcmdqs, SMMUv3AccelState),
        VMSTATE_END_OF_LIST()
    }
};

const VMStateDescription vmstate_smmuv3_accel = {
    .name = "smmuv3/accel",
    .version_id = 1,
    .minimum_version_id = 1,
    .needed = accel_needed,
    .pre_save = accel_pre_save,
    .post_load = accel_post_load,
    .fields = (const VMStateField[]) {
        VMSTATE_STRUCT_POINTER(s_accel, SMMUv3State, vmstate_accel_promise,
                               SMMUv3AccelState),
        VMSTATE_END_OF_LIST()
    }
};

static bool cmdqv_needed(void *opaque)
{
    SMMUv3State *s = opaque;

    return s->cmdqv_dev && tegra241_cmdqv_nr_queues(s->cmdqv_dev);
}

const VMStateDescription vmstate_smmuv3_cmdqv = {
    .name = "smmuv3/cmdqv",
    .version_id = 1,
    .minimum_version_id = 1,
    .needed = cmdqv_needed,
    .fields = (const VMStateField[]) {
        VMSTATE_STRUCT_POINTER(cmdqv_dev, SMMUv3State, vmstate_tegra241_cmdqv,
                               Tegra241Cmdqv),
        VMSTATE_END_OF_LIST()
    }
};

/* ---- operator view ----------------------------------------------------- */

/* The CMDQV part of an SMMU's entry: its queues and counters */
static void accel_collect_cmdqv(Smmuv3AccelInfo *i, Tegra241Cmdqv *c)
{
    Smmuv3AccelCmdqvQueueInfoList **qtail = &i->cmdqv_queues;

    i->has_cmdqv_hw_queue_allocs = true;
    i->has_cmdqv_queues = true;
    i->has_cmdqv_error_events = i->has_cmdqv_irqs = true;
    tegra241_cmdqv_error_counts(c, (uint64_t *)&i->cmdqv_error_events,
                                (uint64_t *)&i->cmdqv_irqs);
    i->cmdqv_hw_queue_allocs = tegra241_cmdqv_hw_queue_allocs(c);
    for (unsigned l = 0; l < tegra241_cmdqv_nr_queues(c); l++) {
        Smmuv3AccelCmdqvQueueInfo *qi = g_new0(Smmuv3AccelCmdqvQueueInfo, 1);
        Tegra241CmdqvQueueView v;

        tegra241_cmdqv_queue_view(c, l, &v);
        qi->index = l;
        qi->state = g_strdup(v.state);
        qi->base = v.base;
        qi->log2size = v.log2size;
        qi->has_host_index = qi->has_hw_queue_id = v.host_index >= 0;
        qi->host_index = v.host_index;
        qi->hw_queue_id = v.host_id;
        qi->placeholder = v.placeholder;
        qi->page = g_strdup(v.direct ? "direct" : "trapped");
        qi->error = v.error;
        qi->traps = v.traps;
        qi->executed_by_qemu = v.emulated;
        QAPI_LIST_APPEND(qtail, qi);
    }
}

/* accel=off, cmdqv=on: the emulated SMMU's features and its CMDQV */
static Smmuv3AccelInfo *accel_collect_off(SMMUv3State *s)
{
    Smmuv3AccelInfo *i = g_new0(Smmuv3AccelInfo, 1);

    i->id = g_strdup(DEVICE(s)->id ? DEVICE(s)->id : "arm-smmuv3");
    i->qom_path = object_get_canonical_path(OBJECT(s));
    i->resolved = true;
    i->ril = true;
    i->oas = 44;
    i->cmdqv = true;
    i->has_cmdqv_vcmdqs = true;
    i->cmdqv_vcmdqs = tegra241_cmdqv_nr_queues(s->cmdqv_dev);
    accel_collect_cmdqv(i, s->cmdqv_dev);
    return i;
}

static int accel_collect(Object *obj, void *opaque)
{
    Smmuv3AccelInfoList ***tail = opaque;
    SMMUv3State *s = (SMMUv3State *)object_dynamic_cast(obj, TYPE_ARM_SMMUV3);
    SMMUv3AccelState *a = s ? s->s_accel : NULL;
    Smmuv3AccelDeviceInfoList **dtail;
    SMMUv3AccelDevice *d;
    Smmuv3AccelInfo *i;

    if (s && !a && s->cmdqv_dev) {
        QAPI_LIST_APPEND(*tail, accel_collect_off(s));
        return 0;
    }
    if (!a) {
        return 0;
    }
    i = g_new0(Smmuv3AccelInfo, 1);
    i->id = g_strdup(accel_id(a));
    i->accel = true;
    i->qom_path = object_get_canonical_path(obj);
    i->resolved = a->resolved;
    i->ril = a->ril;
    i->ats = a->ats;
    i->oas = a->oas_bits;
    i->ssidsize = a->ssidsize;
    i->cmdqv = a->cmdqv;
    i->has_cmdqv_vcmdqs = a->cmdqv;
    i->cmdqv_vcmdqs = a->cmdqv_vcmdqs;
    if (a->cmdqv && s->cmdqv_dev) {
        accel_collect_cmdqv(i, s->cmdqv_dev);
    }
    if (a->viommu_id) {
        i->has_ioas_id = i->has_s2_hwpt_id = i->has_viommu_id = true;
        i->ioas_id = a->ioas_id;
        i->s2_hwpt_id = a->s2_hwpt_id;
        i->viommu_id = a->viommu_id;
    }
    dtail = &i->devices;
    QLIST_FOREACH(d, &a->devices, next) {
        Smmuv3AccelDeviceInfo *di = g_new0(Smmuv3AccelDeviceInfo, 1);

        di->name = g_strdup(d->name);
        di->devfn = d->devfn;
        di->sid = accel_dev_sid(d);
        di->iommufd_devid = d->idev->devid;
        di->has_vdevice_id = d->vdev_id != 0;
        di->vdevice_id = d->vdev_id;
        di->hwpt_id = d->attached_hwpt_id == ACCEL_BLOCKED ? 0 :
                      d->attached_hwpt_id;
        di->hwpt = g_strdup(accel_hwpt_kind(a, d->attached_hwpt_id));
        QAPI_LIST_APPEND(dtail, di);
    }
    i->commands_consumed = a->cmds_consumed;
    i->cmdq_runs = a->cmdq_runs;
    i->commands_per_cmdq_run = a->cmdq_runs ?
                               (double)a->cmds_consumed / a->cmdq_runs : 0;
    i->commands_forwarded = a->cmds_forwarded;
    i->commands_dropped = a->cmds_dropped;
    i->invalidation_ioctls = a->inv_ioctls;
    i->invalidation_failures = a->inv_failures;
    i->events_relayed = a->events_relayed;
    i->events_lost = a->events_lost;
    i->commands_per_ioctl = a->inv_ioctls ?
                            (double)a->cmds_forwarded / a->inv_ioctls : 0;
    QAPI_LIST_APPEND(*tail, i);
    return 0;
}

Smmuv3AccelInfoList *qmp_query_smmuv3_accel(Error **errp)
{
    Smmuv3AccelInfoList *list = NULL, **tail = &list;

    object_child_foreach_recursive(object_get_root(), accel_collect, &tail);
    return list;
}
