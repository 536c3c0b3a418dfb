/*
 * QTest: the command lines the deployed tools write for the accelerated
 * SMMUv3 and CMDQV (OpenNebula's template for NVIDIA's QEMU builds,
 * libvirt's test output and its fd passing, upstream QEMU 11.1's
 * properties), run as written (BDFs and paths aside) against the stand-in.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "libqtest.h"
#include "qobject/qdict.h"
#include "qobject/qlist.h"
#include "standin-qtest.h"
#include "qac-acpi.h"
#include "qac-regs.h"
#include "qac-cmdqv-guest.h"

#define IDR0_ATS            (1u << 10)
#define IDR3_RIL            (1u << 10)
#define IDR1_SSIDSIZE(v)    (((v) >> 6) & 0x1f)

/* A Grace-like host (SSIDSIZE 20, ATS, RIL, 48-bit OAS, CMDQV) */
#define HOST_CONF_GRACE HOST_CONF_CMDQV

/* The same host SMMU without substream IDs (IDR1.SSIDSIZE = 0) */
#define HOST_CONF_NO_SSID \
    "[smmu smmu0]\n" \
    "idr1 = 0x02730010\n" \
    "[pci 0000:01:00.0]\n" \
    "smmu = smmu0\n" \
    "sid = 0x100\n" \
    "bar0 = 64K\n"

typedef struct Vm {
    StandinHost *host;
    QTestState *qts;
    char *sysfs;
} Vm;

/*
 * QEMU on @conf with @devices (a %s there: the host function's sysfsdev);
 * @iommufd: the -object iommufd to give (NULL: none, the test adds it)
 */
static void vm_start_with(Vm *vm, const char *conf, const char *iommufd,
                          const char *devices)
{
    g_autofree char *dev = NULL, *args = NULL;

    vm->host = standin_host_new(conf);
    vm->sysfs = standin_sysfsdev(vm->host, "0000:01:00.0");
    dev = g_strdup_printf(devices, vm->sysfs);
    args = g_strdup_printf("-M virt -display none -nodefaults %s %s",
                           iommufd ? iommufd : "", dev);
    vm->qts = standin_qtest_start(vm->host, args);
}

static void vm_start(Vm *vm, const char *conf, const char *devices)
{
    vm_start_with(vm, conf, "-object iommufd,id=iommufd0", devices);
}

/* The stand-in's launcher (tools/standin-launch), beside standin-ctl */
static char *standin_launcher(void)
{
    const char *ctl = g_getenv("QAC_STANDIN_CTL");
    g_autofree char *dir = NULL;
    char *launch;

    g_assert_nonnull(ctl);
    dir = g_path_get_dirname(ctl);
    launch = g_build_filename(dir, "standin-launch", NULL);
    g_assert_true(g_file_test(launch, G_FILE_TEST_IS_EXECUTABLE));
    return launch;
}

static void vm_stop(Vm *vm)
{
    qtest_quit(vm->qts);
    standin_assert_clean_exit(vm->host);
    standin_host_free(vm->host);
    g_free(vm->sysfs);
}

static QDict *vm_query(Vm *vm)
{
    QDict *r = qtest_qmp(vm->qts, "{'execute': 'query-smmuv3-accel'}");
    QDict *i = qobject_to(QDict, qlist_peek(qdict_get_qlist(r, "return")));

    qobject_ref(i);
    qobject_unref(r);
    return i;
}

/* The host objects the first device's attach made: a vIOMMU of @type */
static void assert_viommu(Vm *vm, const char *type)
{
    QDict *d = standin_dump(vm->host);
    QDict *dev = standin_single(d, "device");

    g_assert_cmpstr(qdict_get_str(standin_single(d, "viommu"), "viommu_type"),
                    ==, type);
    g_assert_cmpint(qdict_get_int(dev, "attached"), !=, 0);
    qobject_unref(d);
}

/*
 * OpenNebula's template for NVIDIA's QEMU 10.1 builds (Kata's runtime-rs
 * and KubeVirt drafts write pasid=on too), as written.
 */
static void test_opennebula_line(void)
{
    Vm vm;
    QDict *i;
    uint64_t smmu;

    vm_start(&vm, HOST_CONF_GRACE,
             "-device arm-smmuv3,primary-bus=pcie.0,accel=on,ats=on,ril=off,"
             "pasid=on,oas=48,cmdqv=on "
             "-device vfio-pci,host=0000:01:00.0,bus=pcie.0,addr=2.0,"
             "iommufd=iommufd0");
    assert_viommu(&vm, "tegra241_cmdqv");
    i = vm_query(&vm);
    g_assert_true(qdict_get_bool(i, "ats"));
    g_assert_false(qdict_get_bool(i, "ril"));
    g_assert_cmpint(qdict_get_int(i, "oas"), ==, 48);
    g_assert_cmpint(qdict_get_int(i, "ssidsize"), ==, 20);    /* pasid=on */
    g_assert_true(qdict_get_bool(i, "cmdqv"));
    qobject_unref(i);
    smmu = qtest_mtree_base(vm.qts, "arm-smmuv3");
    g_assert_cmphex(qtest_readl(vm.qts, smmu + R_IDR0) & IDR0_ATS, ==,
                    IDR0_ATS);
    g_assert_cmphex(qtest_readl(vm.qts, smmu + R_IDR3) & IDR3_RIL, ==, 0);
    g_assert_cmpuint(IDR1_SSIDSIZE(qtest_readl(vm.qts, smmu + R_IDR1)), ==,
                     20);
    vm_stop(&vm);
}

/*
 * libvirt's upstream test output for an accel SMMU with CMDQV: behind a
 * pxb-pcie (bus_nr 252) and a pcie-root-port, values as JSON strings.
 */
static void test_libvirt_pxb_line(void)
{
    Vm vm;
    QDict *i;

    vm_start(&vm, HOST_CONF_GRACE,
             "-device '{\"driver\":\"pxb-pcie\",\"bus_nr\":252,\"id\":\"pci.1\","
             "\"bus\":\"pcie.0\",\"addr\":\"0x1\"}' "
             "-device '{\"driver\":\"arm-smmuv3\",\"primary-bus\":\"pci.1\","
             "\"id\":\"iommu0\",\"accel\":true,\"ats\":\"on\",\"ril\":\"on\","
             "\"ssidsize\":\"20\",\"oas\":\"44\",\"cmdqv\":\"on\"}' "
             "-device '{\"driver\":\"pcie-root-port\",\"port\":8,"
             "\"chassis\":1,\"id\":\"pci.2\",\"bus\":\"pci.1\","
             "\"addr\":\"0x0\"}' "
             "-device '{\"driver\":\"vfio-pci\",\"id\":\"hostdev0\","
             "\"iommufd\":\"iommufd0\",\"bus\":\"pci.2\",\"addr\":\"0x0\","
             "\"host\":\"0000:01:00.0\"}'");
    assert_viommu(&vm, "tegra241_cmdqv");
    i = vm_query(&vm);
    g_assert_cmpstr(qdict_get_str(i, "id"), ==, "iommu0");
    g_assert_true(qdict_get_bool(i, "ats"));
    g_assert_true(qdict_get_bool(i, "ril"));
    g_assert_cmpint(qdict_get_int(i, "oas"), ==, 44);
    g_assert_cmpint(qdict_get_int(i, "ssidsize"), ==, 20);
    g_assert_cmpint(qlist_size(qdict_get_qlist(i, "devices")), ==, 1);
    qobject_unref(i);
    vm_stop(&vm);
}

/* The identifier of IORT node @type number @nth (raw table) */
static uint32_t iort_node_id(const uint8_t *t, uint32_t len, uint8_t type,
                             int nth)
{
    uint32_t n = ldl_le_p(t + 36), off = ldl_le_p(t + 40);

    for (uint32_t k = 0; k < n && off + 16 <= len; k++) {
        if (t[off] == type && nth-- == 0) {
            return ldl_le_p(t + off + 4);
        }
        off += lduw_le_p(t + off + 1);
    }
    g_assert_not_reached();
}

/*
 * identifier= (upstream 11.1): the SMMU's IORT node identifier and its
 * CMDQV device's _UID; the other nodes are numbered around it.
 */
static void test_identifier(void)
{
    g_autofree char *dir = g_dir_make_tmp("qac-ident-XXXXXX", NULL);
    g_autofree char *dsdt = NULL, *rm = NULL;
    g_autofree uint8_t *t = NULL;
    uint32_t len;
    Vm vm;
    char *p;

    vm_start(&vm, HOST_CONF_GRACE,
             "-device arm-smmuv3,primary-bus=pcie.0,accel=on,cmdqv=on,"
             "identifier=7 " DEV_ARGS "%s");
    t = acpi_table_raw(vm.qts, "IORT", &len);
    g_assert_cmpuint(iort_node_id(t, len, 4, 0), ==, 7);      /* SMMUv3 */
    g_assert_cmpuint(iort_node_id(t, len, 0, 0), ==, 0);      /* ITS group */
    g_assert_cmpuint(iort_node_id(t, len, 2, 0), ==, 1);      /* RC */
    g_assert_cmpuint(iort_node_id(t, len, 6, 0), ==, 2);      /* RMR */
    if (acpi_have_iasl()) {
        dsdt = acpi_table_asl(vm.qts, "DSDT", dir);
        p = strstr(dsdt, "\"NVDA200C\"");
        g_assert_nonnull(p);
        p = strstr(p, "_UID");
        g_assert_nonnull(p);
        g_assert_true(g_str_has_prefix(p, "_UID, 0x07"));
    }
    vm_stop(&vm);
    rm = g_strdup_printf("rm -rf '%s'", dir);
    g_assert_cmpint(system(rm), ==, 0);
}

static void test_identifier_unique(void)
{
    g_autofree char *err = qemu_start_fails(
        "-M virt "
        "-device pxb-pcie,bus_nr=200,id=pxb1,bus=pcie.0 "
        "-device arm-smmuv3,primary-bus=pcie.0,identifier=3 "
        "-device arm-smmuv3,primary-bus=pxb1,identifier=3");

    g_assert_nonnull(strstr(err, "identifier=3 is already another "
                            "arm-smmuv3's"));
}

/* tegra241-cmdqv=<bool>, the RFC spelling of cmdqv */
static void test_tegra241_cmdqv_alias(void)
{
    for (int on = 0; on < 2; on++) {
        g_autofree char *devs = g_strdup_printf(
            "-device arm-smmuv3,primary-bus=pcie.0,accel=on,"
            "tegra241-cmdqv=%s " DEV_ARGS "%%s", on ? "true" : "false");
        Vm vm;
        QDict *i;

        vm_start(&vm, HOST_CONF_GRACE, devs);
        i = vm_query(&vm);
        g_assert_cmpint(qdict_get_bool(i, "cmdqv"), ==, on);
        qobject_unref(i);
        assert_viommu(&vm, on ? "tegra241_cmdqv" : "arm_smmuv3");
        vm_stop(&vm);
    }
}

/* pasid and ssidsize must agree; pasid=on needs a host with substreams */
static void test_pasid_rules(void)
{
    g_autofree char *e1 = qemu_start_fails(
        "-M virt -device arm-smmuv3,primary-bus=pcie.0,accel=on,pasid=off,"
        "ssidsize=20");
    g_autofree char *e2 = qemu_start_fails(
        "-M virt -device arm-smmuv3,primary-bus=pcie.0,accel=on,pasid=on,"
        "ssidsize=0");
    g_autofree char *e3 = standin_smmu_start_fails(HOST_CONF_NO_SSID,
                                                   ",pasid=on,cmdqv=off");
    g_autofree char *e4 = qemu_start_fails(
        "-M virt -device arm-smmuv3,primary-bus=pcie.0,pasid=on");
    Vm vm;
    QDict *i;

    g_assert_nonnull(strstr(e1, "pasid=off contradicts ssidsize=20"));
    g_assert_nonnull(strstr(e2, "pasid=on contradicts ssidsize=0"));
    g_assert_nonnull(strstr(e3, "pasid=on, but the host SMMU"));
    g_assert_nonnull(strstr(e4, "pasid=on needs accel=on"));

    /* pasid=off: no substreams for the guest, whatever the host has */
    vm_start(&vm, HOST_CONF_GRACE,
             "-device arm-smmuv3,primary-bus=pcie.0,accel=on,pasid=off "
             DEV_ARGS "%s");
    i = vm_query(&vm);
    g_assert_cmpint(qdict_get_int(i, "ssidsize"), ==, 0);
    qobject_unref(i);
    vm_stop(&vm);
}

/*
 * The property names and types the deployed tools rely on: upstream QEMU
 * 11.1.3's arm-smmuv3 list (its -device help), but for memory and
 * secure-memory (its secure SMMU state, not in 10.2), and the spellings
 * of NVIDIA's builds and the CMDQV RFC.
 */
static void test_properties_listed(void)
{
    /* upstream QEMU 11.1's names and types, then NVIDIA's and the RFC's */
    static const char *const want[][2] = {
        { "accel", "bool" }, { "ril", "OnOffAuto" }, { "ats", "OnOffAuto" },
        { "oas", "OasMode" }, { "ssidsize", "SsidSizeMode" },
        { "cmdqv", "OnOffAuto" }, { "identifier", "uint8" },
        { "msi-gpa", "uint64" }, { "primary-bus", "link<PCI>" },
        { "stage", "str" }, { "bus_num", "uint8" },
        { "smmu_per_bus", "bool" },
        { "pasid", "OnOffAuto" }, { "tegra241-cmdqv", "bool" },
    };
    QTestState *qts = qtest_init("-M virt -display none");
    QDict *r = qtest_qmp(qts, "{'execute': 'device-list-properties',"
                         " 'arguments': {'typename': 'arm-smmuv3'}}");
    QList *props = qdict_get_qlist(r, "return");

    for (int k = 0; k < ARRAY_SIZE(want); k++) {
        const char *type = NULL;

        for (const QListEntry *e = qlist_first(props); e;
             e = qlist_next(e)) {
            QDict *p = qobject_to(QDict, qlist_entry_obj(e));

            if (!strcmp(qdict_get_str(p, "name"), want[k][0])) {
                type = qdict_get_str(p, "type");
            }
        }
        g_test_message("%s: %s", want[k][0], type ?: "(missing)");
        g_assert_cmpstr(type, ==, want[k][1]);
    }
    qobject_unref(r);
    qtest_quit(qts);
}


/*
 * libvirt 12.2+ opens /dev/iommu and the VFIO cdev itself and passes them
 * at exec (-object iommufd,fd=N, -device vfio-pci,fd=M): the stand-in's
 * launcher plays libvirt's part.
 */
static void test_libvirt_fds_at_exec(void)
{
    g_autofree char *launch = standin_launcher();
    g_autofree char *wrapper = g_strdup_printf("%s %s", launch,
                                               g_getenv("QTEST_QEMU_BINARY"));
    StandinHost *h = standin_host_new(HOST_CONF_GRACE);
    QTestState *qts;
    QDict *d;

    g_setenv("QAC_LAUNCH_QEMU", wrapper, true);
    unlink(h->dump);
    standin_env_set(h);
    qts = qtest_init_ext("QAC_LAUNCH_QEMU",
        "-M virt -display none -nodefaults "
        "-object '{\"qom-type\":\"iommufd\",\"id\":\"iommufd0\","
        "\"fd\":\"{iommufd}\"}' "
        "-device '{\"driver\":\"arm-smmuv3\",\"primary-bus\":\"pcie.0\","
        "\"id\":\"iommu0\",\"accel\":true,\"cmdqv\":\"on\"}' "
        "-device '{\"driver\":\"vfio-pci\",\"id\":\"hostdev0\","
        "\"fd\":\"{vfio:0000:01:00.0}\",\"iommufd\":\"iommufd0\","
        "\"bus\":\"pcie.0\",\"addr\":\"0x2\"}'", NULL, true);
    standin_env_unset();
    g_unsetenv("QAC_LAUNCH_QEMU");
    d = standin_dump(h);
    g_assert_cmpint(qdict_get_int(d, "passed_fds_total"), ==, 2);
    g_assert_cmpstr(qdict_get_str(standin_single(d, "viommu"), "viommu_type"),
                    ==, "tegra241_cmdqv");
    g_assert_cmpint(qdict_get_int(standin_single(d, "device"), "attached"),
                    !=, 0);
    qobject_unref(d);
    qtest_quit(qts);
    standin_assert_clean_exit(h);
    standin_host_free(h);
}

/*
 * libvirt's hotplug with passed fds: getfd of the /dev/iommu and VFIO cdev
 * fds over QMP (SCM_RIGHTS), object-add iommufd,fd=, device_add vfio-pci,fd=
 * behind a root port of an accel SMMU with CMDQV and no cold-plugged device.
 */
static void test_libvirt_hotplug_getfd(void)
{
    g_autofree char *launch = standin_launcher();
    g_autofree char *qmp = NULL, *out = NULL, *err = NULL;
    g_autofree char *devs = NULL;
    g_auto(GStrv) env = NULL;
    GError *gerr = NULL;
    int status;
    Vm vm;
    QDict *r, *d;

    qmp = g_build_filename(g_get_tmp_dir(), "qac-getfd-XXXXXX", NULL);
    close(g_mkstemp(qmp));
    unlink(qmp);
    devs = g_strdup_printf("-qmp unix:%s,server=on,wait=off "
                           "-device arm-smmuv3,primary-bus=pcie.0,id=iommu0,"
                           "accel=on,ril=on,ats=off,oas=44,ssidsize=0,"
                           "cmdqv=on,cmdqv-vcmdqs=2 "
                           "-device pcie-root-port,id=rp0,bus=pcie.0,"
                           "chassis=1", qmp);
    vm_start_with(&vm, HOST_CONF_GRACE, NULL, devs);

    env = g_get_environ();
    env = g_environ_setenv(env, "LD_PRELOAD", standin_lib(), true);
    env = g_environ_setenv(env, "STANDIN_CONFIG", vm.host->conf, true);
    env = g_environ_setenv(env, "STANDIN_DIR", vm.host->dir, true);
    env = g_environ_setenv(env, "STANDIN_CTL", "0", true);
    env = g_environ_unsetenv(env, "STANDIN_DUMP");
    {
        const char *argv[] = {
            launch, "--qmp", qmp,
            "--getfd", "ifd=iommufd", "--getfd", "vfd=vfio:0000:01:00.0",
            "--cmd", "{\"execute\": \"object-add\", \"arguments\": "
            "{\"qom-type\": \"iommufd\", \"id\": \"iommufd0\", \"fd\": "
            "\"ifd\"}}",
            "--cmd", "{\"execute\": \"device_add\", \"arguments\": "
            "{\"driver\": \"vfio-pci\", \"id\": \"hostdev0\", \"fd\": "
            "\"vfd\", \"iommufd\": \"iommufd0\", \"bus\": \"rp0\"}}",
            NULL,
        };

        g_assert_true(g_spawn_sync(NULL, (char **)argv, env, 0, NULL, NULL,
                                   &out, &err, &status, &gerr));
    }
    g_assert_no_error(gerr);
    g_test_message("launcher: %s%s", out, err);
    g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    r = qtest_qmp(vm.qts, "{'execute': 'qom-get', 'arguments': "
                  "{'path': '/machine/peripheral/hostdev0', "
                  "'property': 'realized'}}");
    g_assert_true(qdict_get_bool(r, "return"));
    qobject_unref(r);
    d = standin_dump(vm.host);
    g_assert_cmpint(qdict_get_int(d, "passed_fds_total"), ==, 2);
    standin_single(d, "viommu");
    qobject_unref(d);
    unlink(qmp);
    vm_stop(&vm);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qtest_add_func("/qac-deployed/properties", test_properties_listed);
    qtest_add_func("/qac-deployed/opennebula", test_opennebula_line);
    qtest_add_func("/qac-deployed/libvirt-pxb", test_libvirt_pxb_line);
    qtest_add_func("/qac-deployed/identifier", test_identifier);
    qtest_add_func("/qac-deployed/identifier-unique", test_identifier_unique);
    qtest_add_func("/qac-deployed/tegra241-cmdqv-alias",
                   test_tegra241_cmdqv_alias);
    qtest_add_func("/qac-deployed/pasid", test_pasid_rules);
    qtest_add_func("/qac-deployed/libvirt-fds-at-exec",
                   test_libvirt_fds_at_exec);
    qtest_add_func("/qac-deployed/libvirt-hotplug-getfd",
                   test_libvirt_hotplug_getfd);
    return g_test_run();
}
