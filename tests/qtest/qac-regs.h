/*
 * What the project's qtests know of the guest-visible hardware: the SMMUv3
 * registers, the Tegra241 CMDQV window (spec/cmdqv-hw.md), command
 * encodings and stream table entry fields, one definition each.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef TESTS_QTEST_QAC_REGS_H
#define TESTS_QTEST_QAC_REGS_H

/* ---- SMMUv3 registers (page 0; page 1 at +64K) -------------------------- */

#define R_IDR0              0x00
#define R_IDR1              0x04
#define R_IDR3              0x0c
#define R_IDR5              0x14
#define R_CR0               0x20
#define R_CR0ACK            0x24
#define R_CR1               0x28
#define R_CR2               0x2c
#define R_STATUSR           0x40
#define R_GBPA              0x44
#define R_IRQ_CTRL          0x50
#define R_IRQ_CTRL_ACK      0x54
#define R_GERROR            0x60
#define R_GERRORN           0x64
#define R_GERROR_IRQ_CFG0   0x68
#define R_STRTAB_BASE       0x80
#define R_STRTAB_CFG        0x88
#define R_CMDQ_BASE         0x90
#define R_CMDQ_PROD         0x98
#define R_CMDQ_CONS         0x9c
#define R_EVENTQ_BASE       0xa0
#define R_EVENTQ_IRQ_CFG0   0xb0
#define R_EVENTQ_PROD       0x100a8
#define R_EVENTQ_CONS       0x100ac
#define SMMU_WINDOW         0x20000

#define IDR1_CMDQS(v)       (((v) >> 21) & 0x1f)
#define SMMU_CMDQS_MAX      19
#define CR0_SMMUEN          (1u << 0)
#define CR0_EVENTQEN        (1u << 2)
#define CR0_CMDQEN          (1u << 3)
#define CR0_RESERVED        0xfffffc20u
#define GBPA_UPDATE         (1u << 31)
#define GBPA_ABORT          (1u << 20)
#define GBPA_RESET          0x1000u
#define GERROR_VALID        0x1fdu
#define GERROR_CMDQ_ERR     1u
#define CERROR_ILL          1       /* CMDQ_CONS.ERR */

/* ---- the CMDQV window --------------------------------------------------- */

#define CMDQV_WINDOW        0x50000
#define W_CONFIG            0x000
#define W_PARAM             0x004
#define W_STATUS            0x008
#define W_VINTF_ERR_MAP     0x014
#define W_VINTF_INT_MASK    0x01c
#define W_CMDQ_ERR_MAP      0x024
#define W_ALLOC_MAP(q)      (0x200 + 4 * (q))
#define W_VINTF_CONFIG(v)   (0x1000 + 0x100 * (v))
#define W_VINTF_STATUS(v)   (0x1004 + 0x100 * (v))
#define W_VINTF_SID_MATCH(v, s)     (0x1040 + 0x100 * (v) + 4 * (s))
#define W_VINTF_SID_REPLACE(v, s)   (0x1080 + 0x100 * (v) + 4 * (s))
#define W_VINTF0_CONFIG     W_VINTF_CONFIG(0)
#define W_VINTF0_STATUS     W_VINTF_STATUS(0)
#define W_SID_MATCH(s)      W_VINTF_SID_MATCH(0, s)     /* VINTF0's */
#define W_SID_REPLACE(s)    W_VINTF_SID_REPLACE(0, s)
#define W_LVCMDQ_ERR_MAP    0x10c0
#define W_GP0(q)            (0x10000 + 0x80 * (q))  /* global queue pages */
#define W_GP1(q)            (0x20000 + 0x80 * (q))
#define W_P0(l)             (0x30000 + 0x80 * (l))  /* VINTF0's logical */
#define W_P1(l)             (0x40000 + 0x80 * (l))

/* In a queue's page 0 */
#define Q_CONS              0x00
#define Q_PROD              0x04
#define Q_CONFIG            0x08
#define Q_STATUS            0x0c
#define Q_GERROR            0x10
#define Q_GERRORN           0x14
/* In a queue's page 1 */
#define Q_BASE              0x00
#define Q_CONS_INDX_BASE    0x08

#define PARAM_LOG2_LVCMDQS(p)   (((p) >> 4) & 0xf)  /* per VINTF */
#define CMDQV_CONFIG_WRITABLE   0x1fffffu
#define VINTF_ENABLE            1u
#define VINTF_VMID(v)           ((v) << 1)
#define VINTF_HYP_OWN           (1u << 17)
#define VINTF_CONFIG_WRITABLE   0x1ffffu     /* ENABLE, VMID */
#define ALLOC_MAP_WRITABLE      0x1f80ffu    /* ALLOCATED, LVCMDQ, VINTF */
#define Q_GERROR_INIT_ERR       (1u << 2)    /* CMDQ_INIT_ERR */

/* ---- commands ----------------------------------------------------------- */

#define OP_PREFETCH_CONFIG  0x01
#define OP_PREFETCH_ADDR    0x02
#define OP_CFGI_STE         0x03
#define OP_CFGI_STE_RANGE   0x04    /* range 31: CFGI_ALL */
#define OP_CFGI_CD          0x05
#define OP_CFGI_CD_ALL      0x06
#define OP_TLBI_NH_ALL      0x10
#define OP_TLBI_NH_ASID     0x11
#define OP_TLBI_NH_VA       0x12
#define OP_TLBI_NH_VAA      0x13
#define OP_TLBI_EL3_ALL     0x18
#define OP_TLBI_EL2_ALL     0x20
#define OP_TLBI_S12_VMALL   0x28
#define OP_TLBI_S2_IPA      0x2a
#define OP_TLBI_NSNH_ALL    0x30
#define OP_ATC_INV          0x40
#define OP_PRI_RESP         0x41
#define OP_RESUME           0x44
#define OP_STALL_TERM       0x45
#define OP_SYNC             0x46

/* Word 0 of a command */
#define CMD_PREFETCH_CONFIG(sid) (OP_PREFETCH_CONFIG | ((uint64_t)(sid) << 32))
#define CMD_CFGI_STE(sid)       (OP_CFGI_STE | ((uint64_t)(sid) << 32))
#define CMD_TLBI_NH_ASID(asid)  (OP_TLBI_NH_ASID | ((uint64_t)(asid) << 48))
#define CMD_TLBI_NH_VA(asid)    (OP_TLBI_NH_VA | ((uint64_t)(asid) << 48))
#define CMD_TLBI_NSNH_ALL       ((uint64_t)OP_TLBI_NSNH_ALL)
#define CMD_ATC_INV(sid)        (OP_ATC_INV | ((uint64_t)(sid) << 32))
#define CMD_SYNC                ((uint64_t)OP_SYNC)     /* CS: none */

/* ---- stream table entries ----------------------------------------------- */

#define STE0_V              1ULL
#define STE0_CFG(c)         ((uint64_t)(c) << 1)    /* 0 abort, 4 bypass */
#define STE0_S1CTXPTR(a)    ((a) & 0x000fffffffffffc0ULL)
#define STE0_S1(cd)         (STE0_V | STE0_CFG(5) | STE0_S1CTXPTR(cd))
#define STE1_S1CIR(x)       ((uint64_t)(x) << 2)
#define STE1_S1COR(x)       ((uint64_t)(x) << 4)
#define STE1_S1CSH(x)       ((uint64_t)(x) << 6)
#define STE1_EATS(x)        ((uint64_t)(x) << 28)
#define STE1_STRW(x)        ((uint64_t)(x) << 30)

/* ---- the virt machine --------------------------------------------------- */

#define G_RAM_BASE          0x40000000ULL
/* pcie-root-port rp0 at pcie.0 slot 3, through the low ECAM window */
#define ECAM_LOW            0x3f000000ULL
#define RP0_CFG             (ECAM_LOW + (0x18 << 12))

#endif /* TESTS_QTEST_QAC_REGS_H */
