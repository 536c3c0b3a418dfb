/*
 * The built QEMU under the stand-in, the ways libvirt, Kata and KubeVirt
 * give it a host device: vfio-pci,host=BDF (QEMU reads
 * /sys/bus/pci/devices/BDF), fds inherited across exec (-object
 * iommufd,fd=N, -device vfio-pci,fd=M, through standin-launch), and fds
 * passed with QMP getfd before object-add / device_add.
 * Each scenario starts QEMU (-S, no guest runs), checks query-pci and the
 * stand-in's state over its control socket, quits, and checks the exit
 * dump. Skipped when there is no QEMU (meson option qemu, STANDIN_QEMU).
 * Not preloaded itself. Host: configs/cmdqv.conf.
 */
#include "thelp.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "standin-client.h"

static const char *qemu, *preload, *launch, *configs;

typedef struct {
    char *tmp;          /* everything of this run, removed at the end */
    char *dir;          /* STANDIN_DIR */
    char *dump;         /* STANDIN_DUMP */
    char *qmp;          /* QMP socket */
    char *log;          /* QEMU's stdout + stderr */
    GPid pid;
} Vm;

static char **vm_env(Vm *vm, bool helper)
{
    char **env = g_get_environ();
    char *cfg = g_build_filename(configs, "cmdqv.conf", NULL);

    env = g_environ_setenv(env, "LD_PRELOAD", preload, TRUE);
    env = g_environ_setenv(env, "STANDIN_CONFIG", cfg, TRUE);
    env = g_environ_setenv(env, "STANDIN_DIR", vm->dir, TRUE);
    env = g_environ_setenv(env, "STANDIN_LOG", "1", TRUE);
    if (helper) {
        env = g_environ_setenv(env, "STANDIN_CTL", "0", TRUE);
        env = g_environ_unsetenv(env, "STANDIN_DUMP");
    } else {
        env = g_environ_setenv(env, "STANDIN_DUMP", vm->dump, TRUE);
    }
    g_free(cfg);
    return env;
}

static char *vm_log(Vm *vm)
{
    char *text = NULL;

    g_file_get_contents(vm->log, &text, NULL, NULL);
    return text ? text : g_strdup("");
}

/*
 * Start QEMU with @extra (a NULL-terminated list of arguments), through
 * standin-launch when @launched; connect to its QMP socket.  Returns the QMP
 * fd, or -1 (QEMU exited or never answered; *status its exit status).
 */
static int vm_start(Vm *vm, bool launched, const char *const *extra, int *status)
{
    GPtrArray *argv = g_ptr_array_new_with_free_func(NULL);
    char **env;
    GError *err = NULL;
    int logfd, q = -1;
    char *qmparg;

    vm->tmp = g_dir_make_tmp("standin-qemu-XXXXXX", NULL);
    g_assert_nonnull(vm->tmp);
    vm->dir = g_build_filename(vm->tmp, "si", NULL);
    vm->dump = g_build_filename(vm->tmp, "dump.json", NULL);
    vm->qmp = g_build_filename(vm->tmp, "qmp.sock", NULL);
    vm->log = g_build_filename(vm->tmp, "qemu.log", NULL);
    qmparg = g_strdup_printf("unix:%s,server=on,wait=off", vm->qmp);
    if (launched) {
        g_ptr_array_add(argv, (char *)launch);
    }
    for (const char *a[] = { qemu, "-M", "virt", "-accel", "tcg", "-display", "none", "-nodefaults",
                             "-S", "-qmp", qmparg, NULL }, **p = a; *p; p++) {
        g_ptr_array_add(argv, (char *)*p);
    }
    for (; *extra; extra++) {
        g_ptr_array_add(argv, (char *)*extra);
    }
    g_ptr_array_add(argv, NULL);
    env = vm_env(vm, false);
    logfd = open(vm->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    g_assert_cmpint(logfd, >=, 0);
    if (!g_spawn_async_with_fds(NULL, (char **)argv->pdata, env, G_SPAWN_DO_NOT_REAP_CHILD, NULL,
                                NULL, &vm->pid, -1, logfd, logfd, &err)) {
        g_test_message("spawn %s: %s", qemu, err->message);
        g_error_free(err);
        g_test_fail();
        vm->pid = 0;
    }
    close(logfd);
    for (int tries = 0; vm->pid && tries < 150; tries++) {
        int ws;

        if (waitpid(vm->pid, &ws, WNOHANG) == vm->pid) {
            *status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
            vm->pid = 0;
            break;
        }
        q = standin_qmp_connect(vm->qmp, 200);
        if (q >= 0) {
            break;
        }
    }
    g_strfreev(env);
    g_free(qmparg);
    g_ptr_array_free(argv, TRUE);
    return q;
}

static char *vm_qmp(int q, const char *json)
{
    char *reply = standin_qmp(q, json, NULL, 0, 20000);

    if (!reply) {
        g_test_message("QMP %s: %s", json, g_strerror(errno));
        g_test_fail();
        return g_strdup("");
    }
    return reply;
}

/* quit over @q, wait for QEMU, parse its exit dump (NULL on failure) */
static TJ *vm_quit(Vm *vm, int q)
{
    char *reply = vm_qmp(q, "{\"execute\": \"quit\"}"), *text = NULL;
    int ws = 0;
    TJ *d = NULL;

    g_assert_true(standin_qmp_reply_ok(reply));
    g_free(reply);
    close(q);
    if (vm->pid) {
        waitpid(vm->pid, &ws, 0);
        vm->pid = 0;
        g_assert_true(WIFEXITED(ws));
        g_assert_cmpint(WEXITSTATUS(ws), ==, 0);
    }
    if (g_file_get_contents(vm->dump, &text, NULL, NULL)) {
        d = tj_parse(text, NULL);
    }
    g_assert_nonnull(d);
    g_free(text);
    return d;
}

static void vm_free(Vm *vm)
{
    char *cmd;

    if (vm->pid) {
        kill(vm->pid, SIGKILL);
        waitpid(vm->pid, NULL, 0);
    }
    if (g_test_failed()) {
        char *log = vm_log(vm);

        g_test_message("QEMU output: %s", log);
        g_free(log);
    }
    cmd = g_strdup_printf("rm -rf '%s'", vm->tmp);
    if (system(cmd) != 0) {
        g_test_message("could not remove %s", vm->tmp);
    }
    g_free(cmd);
    g_free(vm->tmp);
    g_free(vm->dir);
    g_free(vm->dump);
    g_free(vm->qmp);
    g_free(vm->log);
}

/* query-pci shows @id as the function of @device (decimal 10de:<device>) */
static void check_query_pci(int q, const char *id, int device)
{
    char *reply = vm_qmp(q, "{\"execute\": \"query-pci\"}");
    char *want_id = g_strdup_printf("\"qdev_id\": \"%s\"", id);
    char *want_dev = g_strdup_printf("\"device\": %d, \"subsystem-vendor\": 4318, \"vendor\": 4318",
                                     device);
    const char *at = strstr(reply, want_id);

    if (!at || !strstr(at, want_dev)) {
        g_test_message("query-pci: no %s with %s in %s", want_id, want_dev, reply);
        g_test_fail();
    }
    g_free(reply);
    g_free(want_id);
    g_free(want_dev);
}

/* the live stand-in in QEMU holds a bound, attached device object for @bdf */
static void check_bound(Vm *vm, const char *bdf)
{
    char *reply = standin_ctl_request(vm->dir, "dump");
    TJ *d = reply ? tj_parse(reply, NULL) : NULL;
    TJ *objs = d ? tj_get(d, "objects") : NULL;
    bool found = false;

    for (guint i = 0; objs && i < tj_len(objs); i++) {
        TJ *o = tj_at(objs, i);

        if (!g_strcmp0(tj_get_str(o, "type"), "device") && !g_strcmp0(tj_get_str(o, "bdf"), bdf)) {
            found = true;
            g_assert_cmpint(tj_get_int(o, "attached", 0), >, 0);
        }
    }
    if (!found) {
        g_test_message("no bound device %s in %s", bdf, reply ? reply : g_strerror(errno));
        g_test_fail();
    }
    tj_free(d);
    free(reply);
}

/* the exit dump: @n passed fds, each came @via; no leaks */
static void check_dump(TJ *d, int n, const char *via)
{
    TJ *p = tj_get(d, "passed_fds");

    g_assert_cmpuint(tj_len(tj_get(d, "leaks")), ==, 0);
    g_assert_cmpuint(tj_len(p), ==, (guint)n);
    for (guint i = 0; p && i < tj_len(p); i++) {
        g_assert_cmpstr(tj_get_str(tj_at(p, i), "via"), ==, via);
        g_assert_false(tj_get_bool(tj_at(p, i), "shared", true));
    }
}

static bool have_qemu(void)
{
    if (!qemu || !g_file_test(qemu, G_FILE_TEST_IS_EXECUTABLE)) {
        g_test_skip("no QEMU built (meson option qemu, or STANDIN_QEMU)");
        return false;
    }
    return true;
}

static void test_vfio_pci_host_bdf_realizes(void)
{
    const char *extra[] = { "-object", "iommufd,id=iommufd0",
                            "-device", "vfio-pci,host=0000:01:00.0,iommufd=iommufd0,id=hd0", NULL };
    Vm vm = { 0 };
    int status = -1, q;
    TJ *d;

    if (!have_qemu()) {
        return;
    }
    q = vm_start(&vm, false, extra, &status);
    if (q < 0) {
        g_test_message("QEMU did not come up (exit status %d)", status);
        g_test_fail();
        vm_free(&vm);
        return;
    }
    check_query_pci(q, "hd0", 0x2342);
    check_bound(&vm, "0000:01:00.0");
    d = vm_quit(&vm, q);
    if (d) {
        check_dump(d, 0, NULL);
        tj_free(d);
    }
    vm_free(&vm);
}

static void test_vfio_pci_host_bdf_of_unknown_function_fails(void)
{
    const char *extra[] = { "-object", "iommufd,id=iommufd0",
                            "-device", "vfio-pci,host=0000:ee:00.0,iommufd=iommufd0", NULL };
    Vm vm = { 0 };
    int status = -1, q;
    char *log;

    if (!have_qemu()) {
        return;
    }
    /* not a configured function: QEMU sees the real /sys, which has no such device */
    q = vm_start(&vm, false, extra, &status);
    g_assert_cmpint(q, <, 0);
    g_assert_cmpint(status, ==, 1);
    log = vm_log(&vm);
    g_assert_nonnull(strstr(log, "/sys/bus/pci/devices/0000:ee:00.0"));
    g_free(log);
    if (q >= 0) {
        close(q);
    }
    vm_free(&vm);
}

static void test_fds_inherited_from_launcher(void)
{
    const char *extra[] = { "-object", "iommufd,id=iommufd0,fd={iommufd}",
                            "-device", "vfio-pci,fd={vfio:0000:02:00.0},iommufd=iommufd0,id=hd0",
                            NULL };
    Vm vm = { 0 };
    int status = -1, q;
    TJ *d;

    if (!have_qemu()) {
        return;
    }
    q = vm_start(&vm, true, extra, &status);
    if (q < 0) {
        g_test_message("QEMU did not come up (exit status %d)", status);
        g_test_fail();
        vm_free(&vm);
        return;
    }
    check_query_pci(q, "hd0", 0x2343);
    check_bound(&vm, "0000:02:00.0");
    d = vm_quit(&vm, q);
    if (d) {
        check_dump(d, 2, "exec");
        tj_free(d);
    }
    vm_free(&vm);
}

static void test_fds_passed_with_qmp_getfd_then_device_add(void)
{
    const char *extra[] = { "-device", "pcie-root-port,id=rp0,chassis=1", NULL };
    Vm vm = { 0 };
    int status = -1, q, ws = 0;
    char **env;
    char *out = NULL, *err = NULL;
    GError *gerr = NULL;
    TJ *d;

    if (!have_qemu()) {
        return;
    }
    q = vm_start(&vm, false, extra, &status);
    if (q < 0) {
        g_test_message("QEMU did not come up (exit status %d)", status);
        g_test_fail();
        vm_free(&vm);
        return;
    }
    close(q);        /* one QMP client at a time: the launcher's turn */
    {
        const char *argv[] = {
            launch, "--qmp", vm.qmp,
            "--getfd", "ifd=iommufd", "--getfd", "vfd=vfio:0000:01:00.0",
            "--cmd", "{\"execute\": \"object-add\", \"arguments\": {\"qom-type\": \"iommufd\", "
                     "\"id\": \"iommufd0\", \"fd\": \"ifd\"}}",
            "--cmd", "{\"execute\": \"device_add\", \"arguments\": {\"driver\": \"vfio-pci\", "
                     "\"id\": \"hd0\", \"fd\": \"vfd\", \"iommufd\": \"iommufd0\", \"bus\": \"rp0\"}}",
            NULL };

        env = vm_env(&vm, true);
        g_assert_true(g_spawn_sync(NULL, (char **)argv, env, G_SPAWN_DEFAULT, NULL, NULL, &out,
                                   &err, &ws, &gerr));
        g_assert_no_error(gerr);
        if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0) {
            g_test_message("standin-launch --qmp: %s%s", out, err);
            g_test_fail();
        }
        g_strfreev(env);
        g_free(out);
        g_free(err);
    }
    q = standin_qmp_connect(vm.qmp, 10000);
    if (q < 0) {
        g_test_message("QMP after the launcher: %s", g_strerror(errno));
        g_test_fail();
        vm_free(&vm);
        return;
    }
    /*
     * Behind a root port no firmware has numbered yet, query-pci does not
     * list the function: ask for the device itself.
     */
    {
        char *reply = vm_qmp(q, "{\"execute\": \"qom-get\", \"arguments\": "
                                "{\"path\": \"/machine/peripheral/hd0\", \"property\": \"realized\"}}");

        g_assert_cmpstr(reply, ==, "{\"return\": true}");
        g_free(reply);
    }
    /* the launcher (STANDIN_CTL=0) left QEMU's control socket to QEMU */
    check_bound(&vm, "0000:01:00.0");
    d = vm_quit(&vm, q);
    if (d) {
        check_dump(d, 2, "scm_rights");
        tj_free(d);
    }
    vm_free(&vm);
}

int main(int argc, char **argv)
{
    t_init(&argc, &argv);
    qemu = g_getenv("STANDIN_QEMU");
    if (!qemu || !*qemu) {
        qemu = g_getenv("STANDIN_TEST_QEMU");
    }
    preload = g_getenv("STANDIN_TEST_PRELOAD");
    launch = g_getenv("STANDIN_TEST_LAUNCH");
    configs = g_getenv("STANDIN_TEST_CONFIGS");
    if (!preload || !launch || !configs) {
        g_printerr("set STANDIN_TEST_PRELOAD, _LAUNCH and _CONFIGS\n");
        return 2;
    }
    g_test_add_func("/qemu/vfio-pci-host-bdf-realizes", test_vfio_pci_host_bdf_realizes);
    g_test_add_func("/qemu/vfio-pci-host-bdf-of-unknown-function-fails",
                    test_vfio_pci_host_bdf_of_unknown_function_fails);
    g_test_add_func("/qemu/fds-inherited-from-launcher", test_fds_inherited_from_launcher);
    g_test_add_func("/qemu/fds-passed-with-qmp-getfd-then-device-add",
                    test_fds_passed_with_qmp_getfd_then_device_add);
    return g_test_run();
}
