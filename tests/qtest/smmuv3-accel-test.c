/*
 * QTest for the accelerated SMMUv3 (arm-smmuv3,accel=on): properties and
 * command-line validation.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "libqtest.h"
#include "qobject/qdict.h"
#include "qobject/qlist.h"
#include "qobject/qstring.h"

/* Does device-list-properties for arm-smmuv3 list @name with type @type? */
static bool smmu_has_property(QTestState *qts, const char *name,
                              const char *type, char **descr)
{
    QDict *resp = qtest_qmp(qts, "{'execute': 'device-list-properties',"
                            " 'arguments': {'typename': 'arm-smmuv3'}}");
    QList *props = qdict_get_qlist(resp, "return");
    QListEntry *e;
    bool found = false;

    g_assert(props);
    QLIST_FOREACH_ENTRY(props, e) {
        QDict *p = qobject_to(QDict, qlist_entry_obj(e));
        if (!strcmp(qdict_get_str(p, "name"), name)) {
            g_assert_cmpstr(qdict_get_str(p, "type"), ==, type);
            if (descr) {
                *descr = g_strdup(qdict_get_try_str(p, "description"));
            }
            found = true;
        }
    }
    qobject_unref(resp);
    return found;
}

static void test_accel_property_listed(void)
{
    QTestState *qts = qtest_init("-M virt -display none");
    char *descr = NULL;

    g_assert_true(smmu_has_property(qts, "accel", "bool", &descr));
    g_assert_nonnull(descr);
    g_assert_nonnull(strstr(descr, "iommufd"));
    g_free(descr);
    qtest_quit(qts);
}

static void test_accel_property_in_device_help(void)
{
    QTestState *qts = qtest_init("-M virt -display none");
    char *out = qtest_hmp(qts, "device_add arm-smmuv3,help");

    g_assert_nonnull(strstr(out, "accel=<bool>"));
    g_assert_nonnull(strstr(out, "(default: off)"));
    g_free(out);
    qtest_quit(qts);
}

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

static void test_accel_rejects_stage2(void)
{
    g_autofree char *err = qemu_start_fails(
        "-M virt -device arm-smmuv3,primary-bus=pcie.0,accel=on,stage=2");

    g_assert_nonnull(strstr(err, "accel=on requires stage=1, not stage=2"));
    g_assert_nonnull(strstr(err, "set stage=1"));
}

static void test_accel_rejects_nested(void)
{
    g_autofree char *err = qemu_start_fails(
        "-M virt -device arm-smmuv3,primary-bus=pcie.0,accel=on,stage=nested");

    g_assert_nonnull(strstr(err, "accel=on requires stage=1, not stage=nested"));
}

static void test_accel_off_machine_starts(void)
{
    QTestState *qts = qtest_init("-M virt -display none "
                                 "-device arm-smmuv3,primary-bus=pcie.0,id=smmu0");
    QDict *resp = qtest_qmp(qts, "{'execute': 'qom-get', 'arguments':"
                            " {'path': 'smmu0', 'property': 'accel'}}");

    g_assert_false(qdict_get_bool(resp, "return"));
    qobject_unref(resp);
    qtest_quit(qts);
}

static void test_default_machine_smmuv3_starts(void)
{
    QTestState *qts = qtest_init("-M virt,iommu=smmuv3 -display none");
    char *out = qtest_hmp(qts, "info qtree");

    g_assert_nonnull(strstr(out, "arm-smmuv3"));
    g_free(out);
    qtest_quit(qts);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qtest_add_func("/smmuv3-accel/property/listed", test_accel_property_listed);
    qtest_add_func("/smmuv3-accel/property/device-help",
                   test_accel_property_in_device_help);
    qtest_add_func("/smmuv3-accel/realize/rejects-stage-2",
                   test_accel_rejects_stage2);
    qtest_add_func("/smmuv3-accel/realize/rejects-stage-nested",
                   test_accel_rejects_nested);
    qtest_add_func("/smmuv3-accel/realize/accel-off-starts",
                   test_accel_off_machine_starts);
    qtest_add_func("/smmuv3-accel/realize/virt-iommu-smmuv3-starts",
                   test_default_machine_smmuv3_starts);
    return g_test_run();
}
