/*
 * thelp: helpers shared by the stand-in's black-box tests.
 *
 * The tests talk to the stand-in only as a process talks to the kernel:
 * open(), ioctl(), mmap(), read(), poll() on /dev/iommu and
 * /dev/vfio/devices/vfioN, plus the control socket (INTERFACE.md).
 *
 * Every iommufd/VFIO helper returns 0 or the errno of the failed call, so a
 * test asserts the exact errno with T_ERR(call, EXPECTED).
 * Assertions are non-fatal (g_test_set_nonfatal_assertions): a failing
 * scenario is reported and the next one still runs.  A scenario returns early
 * with T_REQUIRE() where going on would only cascade.
 */
#ifndef THELP_H
#define THELP_H

#define _GNU_SOURCE
#include <errno.h>
#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>

#include <linux/types.h>
#include <linux/iommufd.h>
#include <linux/vfio.h>

#include "tjson.h"

/* ------------------------------------------------------------ asserting */

const char *t_errname(int err);
bool t_check_err(const char *file, int line, const char *expr, int got, int want);

/* assert that @call (returning 0 or an errno) gives @want */
#define T_ERR(call, want) t_check_err(__FILE__, __LINE__, #call, (call), (want))
#define T_OK(call) T_ERR(call, 0)
/* stop the scenario when a step it depends on failed */
#define T_REQUIRE(cond)                                                        \
    do {                                                                       \
        if (!(cond)) {                                                         \
            g_test_message("%s:%d: required: %s", __FILE__, __LINE__, #cond); \
            g_test_fail();                                                     \
            return;                                                            \
        }                                                                      \
    } while (0)
#define T_STOP_IF_FAILED()                                                     \
    do {                                                                       \
        if (g_test_failed()) {                                                 \
            return;                                                            \
        }                                                                      \
    } while (0)

void t_init(int *argc, char ***argv);

/* -------------------------------------------------------------- iommufd */

int t_iommufd(void);                              /* open /dev/iommu, -1 on failure */
int t_ioctl(int fd, unsigned long cmd, void *arg); /* 0 or errno */

int t_ioas_alloc(int fd, uint32_t *id);
int t_ioas_map(int fd, uint32_t ioas, void *va, uint64_t len, uint64_t iova, uint32_t flags);
int t_ioas_map_auto(int fd, uint32_t ioas, void *va, uint64_t len, uint64_t *iova);
int t_ioas_unmap(int fd, uint32_t ioas, uint64_t iova, uint64_t len, uint64_t *out_len);
/* *num: capacity of @r in, the IOAS's range count out */
int t_ioas_iova_ranges(int fd, uint32_t ioas, struct iommu_iova_range *r, uint32_t *num);
int t_destroy(int fd, uint32_t id);
int t_hwpt_alloc(int fd, uint32_t dev_id, uint32_t pt_id, uint32_t flags, uint32_t data_type,
                 const void *data, uint32_t data_len, uint32_t *out);
int t_hwpt_parent(int fd, uint32_t dev_id, uint32_t ioas, uint32_t *out);
int t_hwpt_nested(int fd, uint32_t dev_id, uint32_t viommu, uint64_t ste0, uint64_t ste1,
                  uint32_t *out);
int t_viommu_alloc(int fd, uint32_t type, uint32_t dev_id, uint32_t hwpt, uint32_t *out,
                   uint64_t *mmap_off, uint64_t *mmap_len);
int t_vdevice_alloc(int fd, uint32_t viommu, uint32_t dev_id, uint64_t virt_id, uint32_t *out);
int t_hwq_alloc(int fd, uint32_t viommu, uint32_t type, uint32_t index, uint64_t iova,
                uint64_t len, uint32_t *out);
int t_veventq_alloc(int fd, uint32_t viommu, uint32_t type, uint32_t depth, uint32_t *out,
                    int *out_fd);
int t_invalidate(int fd, uint32_t id, const uint64_t (*cmds)[2], uint32_t *entry_num);
int t_hw_info(int fd, uint32_t dev_id, uint32_t flags, uint32_t in_type, void *buf,
              uint32_t *len, uint32_t *out_type);

/* ----------------------------------------------------------------- VFIO */

int t_vfio_open(int n);                           /* -1 on failure */
int t_vfio_bind(int devfd, int iommufd, uint32_t *devid);
int t_vfio_attach(int devfd, uint32_t pt_id, uint32_t *out_pt);
int t_vfio_detach(int devfd);

/* ----------------------------------------------------- memory, guest RAM */

void *t_alloc_aligned(size_t len, size_t align);  /* anonymous, zeroed */
void t_free_aligned(void *p, size_t len);
uint64_t t_now_ns(void);

/* --------------------------------------------------------- control socket */

char *t_ctl(const char *fmt, ...) G_GNUC_PRINTF(1, 2);   /* reply, g_free */
bool t_ctl_ok(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
TJ *t_dump(void);                                   /* parsed dump, tj_free */
/*
 * The kernel version the stand-in models (dump "kernel"), as major * 100 +
 * minor: 617, 618, 619, 700; 0 if the dump does not say.  Tests of rules
 * that changed between versions branch on it, so the same program passes
 * under every STANDIN_KERNEL.
 */
int t_kernel(void);
TJ *t_dump_obj(TJ *dump, uint32_t id);              /* objects[] entry by id */
int t_dump_count_type(TJ *dump, const char *type);
bool t_holders_contain(TJ *obj, uint32_t id);

/* ------------------------------------------------- a guest-like set-up */

#define T_GUEST_IOVA 0x40000000ull

typedef struct {
    int fd;                 /* iommufd */
    int ndev;
    int dev[4];             /* VFIO device fds */
    uint32_t devid[4];
    uint32_t ioas;
    uint32_t s2;            /* nest-parent HWPT, all devices attached */
    uint8_t *mem;           /* "guest RAM", mapped at T_GUEST_IOVA */
    size_t memlen;
    uint32_t viommu;
    uint64_t moff, mlen;    /* VINTF page-0 mmap region */
    volatile uint8_t *page0;
} TEnv;

/*
 * Open /dev/iommu, bind devices 0..ndev-1, allocate an IOAS, map @memlen
 * bytes of 1 MiB aligned memory at T_GUEST_IOVA, allocate a nest-parent HWPT
 * on device 0, attach every device to it; with @vtype != 0 also a vIOMMU of
 * that type on device 0.  false (and the scenario marked failed) on failure.
 */
bool t_env_up(TEnv *e, int ndev, size_t memlen, uint32_t vtype);
/* mmap the VINTF page 0 of e->viommu */
bool t_env_map_page0(TEnv *e);
void t_env_down(TEnv *e);

/* ---------------------------------------------------- VCMDQ page access */

#define Q_CONS    0x00
#define Q_PROD    0x04
#define Q_CONFIG  0x08
#define Q_STATUS  0x0c
#define Q_GERROR  0x10
#define Q_GERRORN 0x14

uint32_t t_qreg_read(volatile uint8_t *page0, int q, unsigned off);
void t_qreg_write(volatile uint8_t *page0, int q, unsigned off, uint32_t v);
/* poll until (reg & mask) == want, at most @timeout_ms; returns the last value read */
bool t_qreg_wait(volatile uint8_t *page0, int q, unsigned off, uint32_t mask, uint32_t want,
                 int timeout_ms, uint32_t *last);

/* SMMUv3 command encodings (little-endian words as the hardware reads them) */
#define OP_CFGI_CD       0x05
#define OP_CFGI_CD_ALL   0x06
#define OP_TLBI_NH_ALL   0x10
#define OP_TLBI_NH_ASID  0x11
#define OP_TLBI_NH_VA    0x12
#define OP_TLBI_NH_VAA   0x13
#define OP_TLBI_S12_VMALL 0x28
#define OP_TLBI_NSNH_ALL 0x30
#define OP_ATC_INV       0x40
#define OP_PRI_RESP      0x41
#define OP_CMD_SYNC      0x46
#define OP_PREFETCH_CFG  0x01

void cmd_tlbi_nh_va(uint64_t c[2], uint16_t vmid, uint16_t asid, uint64_t addr);
void cmd_tlbi_nh_asid(uint64_t c[2], uint16_t vmid, uint16_t asid);
void cmd_tlbi_nh_all(uint64_t c[2], uint16_t vmid);
void cmd_tlbi_nh_vaa(uint64_t c[2], uint16_t vmid, uint64_t addr);
void cmd_tlbi_nsnh_all(uint64_t c[2]);
void cmd_atc_inv(uint64_t c[2], uint32_t sid, uint64_t addr, unsigned size);
void cmd_cfgi_cd(uint64_t c[2], uint32_t sid, uint32_t ssid);
void cmd_cfgi_cd_all(uint64_t c[2], uint32_t sid);
void cmd_sync(uint64_t c[2], unsigned cs);
void cmd_raw(uint64_t c[2], uint8_t op);

#endif
