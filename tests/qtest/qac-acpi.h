/*
 * qtest helpers for the virt machine's ACPI tables: read them out of
 * fw_cfg (etc/acpi/tables) and decompile them with iasl (acpica-tools).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef TESTS_QTEST_QAC_ACPI_H
#define TESTS_QTEST_QAC_ACPI_H

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "libqtest.h"

#define VIRT_FW_CFG_BASE    0x09020000
/* Guest RAM the fw_cfg DMA reads land in: the top MiBs of virt's default 128 MiB */
#define QAC_FW_CFG_DMA_DESC 0x47d00000ULL
#define QAC_FW_CFG_DMA_BUF  0x47e00000ULL
#define QAC_FW_CFG_DMA_MAX  0x200000U

/*
 * Read @len bytes of fw_cfg item @key through the DMA interface (one
 * transfer, where byte-wise reads of the data port cost a round trip each):
 * a big-endian FWCfgDmaAccess in guest RAM, its address written to the
 * (big-endian) DMA register at +16.
 */
static inline void fw_cfg_read(QTestState *qts, uint16_t key, void *buf,
                               size_t len)
{
    struct {
        uint32_t control, length;
        uint64_t address;
    } QEMU_PACKED acc = {
        .control = cpu_to_be32(((uint32_t)key << 16) | 0x08 | 0x02),
        .length = cpu_to_be32(len),
        .address = cpu_to_be64(QAC_FW_CFG_DMA_BUF),
    };

    g_assert_cmpuint(len, <=, QAC_FW_CFG_DMA_MAX);
    qtest_memwrite(qts, QAC_FW_CFG_DMA_DESC, &acc, sizeof(acc));
    qtest_writeq(qts, VIRT_FW_CFG_BASE + 16, bswap64(QAC_FW_CFG_DMA_DESC));
    qtest_memread(qts, QAC_FW_CFG_DMA_DESC, &acc, sizeof(acc));
    g_assert_cmphex(be32_to_cpu(acc.control), ==, 0);   /* done, no error */
    qtest_memread(qts, QAC_FW_CFG_DMA_BUF, buf, len);
}

static inline size_t fw_cfg_file(QTestState *qts, const char *name,
                                 uint8_t *buf, size_t cap)
{
    typedef struct {
        uint32_t size;
        uint16_t select, reserved;
        char name[56];
    } QEMU_PACKED FWCfgFile;
    g_autofree FWCfgFile *dir = NULL;
    uint32_t count;

    fw_cfg_read(qts, 0x19, &count, 4);     /* FW_CFG_FILE_DIR */
    count = be32_to_cpu(count);
    dir = g_new(FWCfgFile, count + 1);
    fw_cfg_read(qts, 0x19, dir, 4 + count * sizeof(FWCfgFile));
    for (uint32_t i = 0; i < count; i++) {
        FWCfgFile *f = (FWCfgFile *)((uint8_t *)dir + 4) + i;
        size_t len;

        if (strncmp(f->name, name, sizeof(f->name))) {
            continue;
        }
        len = MIN(be32_to_cpu(f->size), cap);
        fw_cfg_read(qts, be16_to_cpu(f->select), buf, len);
        return len;
    }
    return 0;
}

/* Table @sig out of etc/acpi/tables (g_free() it); NULL if absent */
static inline uint8_t *acpi_table_raw(QTestState *qts, const char *sig,
                                      uint32_t *out_len)
{
    size_t cap = QAC_FW_CFG_DMA_MAX, len;
    g_autofree uint8_t *blob = g_malloc0(cap);

    len = fw_cfg_file(qts, "etc/acpi/tables", blob, cap);
    g_assert_cmpuint(len, >, 0);
    for (size_t off = 0; off + 8 <= len; off++) {
        uint32_t tlen;

        if (memcmp(blob + off, sig, 4)) {
            continue;
        }
        tlen = ldl_le_p(blob + off + 4);
        if (tlen < 36 || off + tlen > len) {
            continue;
        }
        *out_len = tlen;
        return g_memdup2(blob + off, tlen);
    }
    return NULL;
}

/* Is iasl (acpica-tools) there to decompile tables? */
static inline bool acpi_have_iasl(void)
{
    g_autofree char *path = g_find_program_in_path("iasl");

    return path != NULL;
}

/* Table @sig decompiled by iasl in @dir; NULL if absent */
static inline char *acpi_table_asl(QTestState *qts, const char *sig,
                                   const char *dir)
{
    g_autofree char *aml = g_strdup_printf("%s/%s.aml", dir, sig);
    g_autofree char *dsl = g_strdup_printf("%s/%s.dsl", dir, sig);
    g_autofree char *cmd = NULL;
    g_autofree uint8_t *table = NULL;
    uint32_t len;
    char *text = NULL;

    table = acpi_table_raw(qts, sig, &len);
    if (!table) {
        return NULL;
    }
    g_assert_true(g_file_set_contents(aml, (char *)table, len, NULL));
    cmd = g_strdup_printf("iasl -d %s >/dev/null 2>&1", aml);
    g_assert_cmpint(system(cmd), ==, 0);
    g_assert_true(g_file_get_contents(dsl, &text, NULL, NULL));
    return text;
}

#endif /* TESTS_QTEST_QAC_ACPI_H */
