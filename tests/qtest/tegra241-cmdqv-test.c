/*
 * QTest for NVIDIA Tegra241 CMDQV on the accelerated SMMUv3
 * (arm-smmuv3,accel=on,cmdqv=...): the properties, how 'auto' resolves
 * from the host, and the guest-visible command queue size cap.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/host-utils.h"
#include "libqtest.h"
#include "qobject/qdict.h"
#include "qobject/qlist.h"
#include "qobject/qstring.h"
#include "standin-qtest.h"

#define R_IDR1              0x4
#define IDR1_CMDQS(v)       (((v) >> 21) & 0x1f)
#define SMMU_CMDQS_MAX      19

/* A Grace-like host: CMDQV with 2 logical queues per VINTF (the default). */
#define HOST_CONF_CMDQV \
    "[host]\n" \
    "page_size = 64K\n" \
    "[smmu smmu0]\n" \
    "nesting = yes\n" \
    "cmdqv = yes\n" \
    "[pci 0000:01:00.0]\n" \
    "smmu = smmu0\n" \
    "sid = 0x100\n" \
    "bar0 = 64K\n"

#define HOST_CONF_NO_CMDQV \
    "[smmu smmu0]\n" \
    "nesting = yes\n" \
    "cmdqv = no\n" \
    "[pci 0000:01:00.0]\n" \
    "smmu = smmu0\n" \
    "sid = 0x100\n" \
    "bar0 = 64K\n"

#define DEV_ARGS \
    "-device vfio-pci,id=dev0,bus=pcie.0,addr=2.0,iommufd=iommufd0,sysfsdev="

/* Start QEMU expecting failure; return its stderr. */
static char *qemu_start_fails(const char *args)
{
    const char *qemu = g_getenv("QTEST_QEMU_BINARY");
    g_autofree char *cmd = g_strdup_printf("%s -display none -nodefaults %s",
                                           qemu, args);
    char *err = NULL;
    int status;
    GError *gerr = NULL;

    g_assert_true(g_spawn_command_line_sync(cmd, NULL, &err, &status, &gerr));
    g_assert_no_error(gerr);
    g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) != 0);
    return err;
}

static const char *smmu_property_type(QTestState *qts, const char *name)
{
    static char type[64];
    QDict *resp = qtest_qmp(qts, "{'execute': 'device-list-properties',"
                            " 'arguments': {'typename': 'arm-smmuv3'}}");
    QList *props = qdict_get_qlist(resp, "return");
    QListEntry *e;
    const char *ret = NULL;

    QLIST_FOREACH_ENTRY(props, e) {
        QDict *p = qobject_to(QDict, qlist_entry_obj(e));
        if (!strcmp(qdict_get_str(p, "name"), name)) {
            g_strlcpy(type, qdict_get_str(p, "type"), sizeof(type));
            g_assert_nonnull(qdict_get_try_str(p, "description"));
            ret = type;
        }
    }
    qobject_unref(resp);
    return ret;
}

static void test_properties_listed(void)
{
    QTestState *qts = qtest_init("-M virt -display none");

    g_assert_cmpstr(smmu_property_type(qts, "cmdqv"), ==, "OnOffAuto");
    g_assert_cmpstr(smmu_property_type(qts, "cmdqv-vcmdqs"), ==, "uint32");
    qtest_quit(qts);
}

static void test_cmdqv_on_needs_accel(void)
{
    g_autofree char *err = qemu_start_fails(
        "-M virt -device arm-smmuv3,primary-bus=pcie.0,cmdqv=on");

    g_assert_nonnull(strstr(err, "cmdqv=on needs accel=on"));
    g_assert_nonnull(strstr(err, "add accel=on"));
}

static void test_vcmdqs_needs_accel(void)
{
    g_autofree char *err = qemu_start_fails(
        "-M virt -device arm-smmuv3,primary-bus=pcie.0,cmdqv-vcmdqs=2");

    g_assert_nonnull(strstr(err, "cmdqv-vcmdqs needs accel=on"));
}

static void test_vcmdqs_bad_values(void)
{
    g_autofree char *e1 = qemu_start_fails(
        "-M virt -device arm-smmuv3,primary-bus=pcie.0,accel=on,"
        "cmdqv=on,cmdqv-vcmdqs=3");
    g_autofree char *e2 = qemu_start_fails(
        "-M virt -device arm-smmuv3,primary-bus=pcie.0,accel=on,"
        "cmdqv=on,cmdqv-vcmdqs=256");
    g_autofree char *e3 = qemu_start_fails(
        "-M virt -device arm-smmuv3,primary-bus=pcie.0,accel=on,"
        "cmdqv=off,cmdqv-vcmdqs=2");

    g_assert_nonnull(strstr(e1, "invalid cmdqv-vcmdqs=3"));
    g_assert_nonnull(strstr(e1, "power of two up to 128"));
    g_assert_nonnull(strstr(e2, "invalid cmdqv-vcmdqs=256"));
    g_assert_nonnull(strstr(e3, "cmdqv-vcmdqs=2 with cmdqv=off"));
}

/* cmdqv=on, explicit otherwise, nothing cold-plugged: the count is needed */
static void test_no_coldplug_needs_vcmdqs(void)
{
    StandinHost *h = standin_host_new(HOST_CONF_CMDQV);
    g_autofree char *err = standin_qemu_start_fails(h,
        "-M virt -object iommufd,id=iommufd0 "
        "-device arm-smmuv3,primary-bus=pcie.0,id=smmu0,accel=on,ril=off,"
        "ats=off,oas=48,ssidsize=16,cmdqv=on");

    g_assert_nonnull(strstr(err, "'auto' cannot be resolved"));
    g_assert_nonnull(strstr(err, "cmdqv-vcmdqs="));
    standin_host_free(h);
}

static unsigned expected_cmdqs(void)
{
    return MIN(SMMU_CMDQS_MAX, ctz64(qemu_real_host_page_size()) - 4);
}

/* What query-smmuv3-accel says: -1 cmdqv off, else the queue count */
static int query_vcmdqs(QTestState *qts)
{
    QDict *resp = qtest_qmp(qts, "{'execute': 'query-smmuv3-accel'}");
    QList *l = qdict_get_qlist(resp, "return");
    QDict *i = qobject_to(QDict, qlist_peek(l));
    int ret = -1;

    g_assert_nonnull(i);
    if (qdict_get_bool(i, "cmdqv")) {
        ret = qdict_get_int(i, "cmdqv-vcmdqs");
    } else {
        g_assert_false(qdict_haskey(i, "cmdqv-vcmdqs"));
    }
    qobject_unref(resp);
    return ret;
}

static int last_vcmdqs;

static uint32_t start_read_idr1(const char *conf, const char *smmu_opts,
                                bool with_dev)
{
    StandinHost *h = standin_host_new(conf);
    g_autofree char *sysfs = standin_sysfsdev(h, "0000:01:00.0");
    g_autofree char *args = g_strdup_printf(
        "-M virt -display none -nodefaults -object iommufd,id=iommufd0 "
        "-device arm-smmuv3,primary-bus=pcie.0,id=smmu0,accel=on,%s %s%s",
        smmu_opts, with_dev ? DEV_ARGS : "", with_dev ? sysfs : "");
    QTestState *qts = standin_qtest_start(h, args);
    uint64_t smmu = qtest_mtree_base(qts, "arm-smmuv3");
    uint32_t idr1 = qtest_readl(qts, smmu + R_IDR1);
    g_autofree char *hmp = qtest_hmp(qts, "info smmuv3-accel");

    last_vcmdqs = query_vcmdqs(qts);
    g_assert_nonnull(strstr(hmp, last_vcmdqs < 0 ? "cmdqv=off" :
                            "cmdqv=on"));
    qtest_quit(qts);
    standin_assert_clean_exit(h);
    standin_host_free(h);
    return idr1;
}

/* auto on a CMDQV host: on, so the queue size is capped to one page */
static void test_auto_on_cmdqv_host(void)
{
    uint32_t idr1 = start_read_idr1(HOST_CONF_CMDQV, "cmdqv=auto", true);

    g_assert_cmpuint(IDR1_CMDQS(idr1), ==, expected_cmdqs());
    g_assert_cmpint(last_vcmdqs, ==, 2);    /* the host's, by default */
}

/* auto on a host without CMDQV: off, the SMMU's own queue size */
static void test_auto_on_plain_host(void)
{
    uint32_t idr1 = start_read_idr1(HOST_CONF_NO_CMDQV, "cmdqv=auto", true);

    g_assert_cmpuint(IDR1_CMDQS(idr1), ==, SMMU_CMDQS_MAX);
    g_assert_cmpint(last_vcmdqs, ==, -1);
}

/* off on a CMDQV host: nothing changes for the guest */
static void test_off_on_cmdqv_host(void)
{
    uint32_t idr1 = start_read_idr1(HOST_CONF_CMDQV, "cmdqv=off", true);

    g_assert_cmpuint(IDR1_CMDQS(idr1), ==, SMMU_CMDQS_MAX);
    g_assert_cmpint(last_vcmdqs, ==, -1);
}

/* Explicit properties, no device yet: the guest gets what was asked for */
static void test_explicit_no_coldplug(void)
{
    uint32_t idr1 = start_read_idr1(HOST_CONF_CMDQV,
                                    "ril=off,ats=off,oas=48,ssidsize=16,"
                                    "cmdqv=on,cmdqv-vcmdqs=1", false);

    g_assert_cmpuint(IDR1_CMDQS(idr1), ==, expected_cmdqs());
    g_assert_cmpint(last_vcmdqs, ==, 1);
}

static void test_on_plain_host_refused(void)
{
    StandinHost *h = standin_host_new(HOST_CONF_NO_CMDQV);
    g_autofree char *sysfs = standin_sysfsdev(h, "0000:01:00.0");
    g_autofree char *args = g_strdup_printf(
        "-M virt -object iommufd,id=iommufd0 "
        "-device arm-smmuv3,primary-bus=pcie.0,id=smmu0,accel=on,cmdqv=on "
        DEV_ARGS "%s", sysfs);
    g_autofree char *err = standin_qemu_start_fails(h, args);

    g_assert_nonnull(strstr(err, "cmdqv=on, but the host SMMU"));
    g_assert_nonnull(strstr(err, "has no CMDQV"));
    g_assert_nonnull(strstr(err, "Set cmdqv=off"));
    standin_host_free(h);
}

static void test_vcmdqs_above_host_refused(void)
{
    StandinHost *h = standin_host_new(HOST_CONF_CMDQV);
    g_autofree char *sysfs = standin_sysfsdev(h, "0000:01:00.0");
    g_autofree char *args = g_strdup_printf(
        "-M virt -object iommufd,id=iommufd0 "
        "-device arm-smmuv3,primary-bus=pcie.0,id=smmu0,accel=on,cmdqv=on,"
        "cmdqv-vcmdqs=4 " DEV_ARGS "%s", sysfs);
    g_autofree char *err = standin_qemu_start_fails(h, args);

    g_assert_nonnull(strstr(err, "cmdqv-vcmdqs=4, but a VINTF of the host"));
    g_assert_nonnull(strstr(err, "holds 2 logical queues"));
    g_assert_nonnull(strstr(err, "Set cmdqv-vcmdqs to 2 or less"));
    standin_host_free(h);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    qtest_add_func("/tegra241-cmdqv/property/listed", test_properties_listed);
    qtest_add_func("/tegra241-cmdqv/realize/cmdqv-on-needs-accel",
                   test_cmdqv_on_needs_accel);
    qtest_add_func("/tegra241-cmdqv/realize/vcmdqs-needs-accel",
                   test_vcmdqs_needs_accel);
    qtest_add_func("/tegra241-cmdqv/realize/vcmdqs-bad-values",
                   test_vcmdqs_bad_values);
    qtest_add_func("/tegra241-cmdqv/standin/no-coldplug-needs-vcmdqs",
                   test_no_coldplug_needs_vcmdqs);
    qtest_add_func("/tegra241-cmdqv/standin/auto-on-cmdqv-host",
                   test_auto_on_cmdqv_host);
    qtest_add_func("/tegra241-cmdqv/standin/auto-on-plain-host",
                   test_auto_on_plain_host);
    qtest_add_func("/tegra241-cmdqv/standin/off-on-cmdqv-host",
                   test_off_on_cmdqv_host);
    qtest_add_func("/tegra241-cmdqv/standin/explicit-no-coldplug",
                   test_explicit_no_coldplug);
    qtest_add_func("/tegra241-cmdqv/standin/on-plain-host-refused",
                   test_on_plain_host_refused);
    qtest_add_func("/tegra241-cmdqv/standin/vcmdqs-above-host-refused",
                   test_vcmdqs_above_host_refused);
    return g_test_run();
}
