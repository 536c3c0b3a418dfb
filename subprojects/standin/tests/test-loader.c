/*
 * The library seen from outside a process: a malformed host description
 * stops the process with status 78 and one "standin: file:line: field: ..."
 * line before main(); an unset STANDIN_CONFIG leaves it inert; STANDIN_DUMP
 * gets the dump, with the leak report, at exit (INTERFACE.md).
 * Not preloaded itself: every scenario runs t-child under LD_PRELOAD.
 */
#include "thelp.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *preload, *child, *configs, *rundir;
/* STANDIN_KERNEL for the next child: NULL inherits ours, "" unsets it */
static const char *child_kernel;

typedef struct {
    int status;      /* exit status, or 128 + signal */
    char *out, *err;
} Run;

static void run_free(Run *r)
{
    g_free(r->out);
    g_free(r->err);
}

/* run t-child @mode with @config (NULL: STANDIN_CONFIG unset) in its own dir */
static bool run_child(const char *mode, const char *config, const char *dump, const char *tag,
                      Run *r)
{
    char **env = g_get_environ();
    char *argv[] = { (char *)child, (char *)mode, NULL };
    GError *err = NULL;
    int wstatus = 0;
    char *dir = g_build_filename(rundir, tag, NULL);
    bool ok;

    env = g_environ_setenv(env, "LD_PRELOAD", preload, TRUE);
    env = g_environ_setenv(env, "STANDIN_DIR", dir, TRUE);
    env = g_environ_setenv(env, "STANDIN_LOG", "1", TRUE);
    env = g_environ_unsetenv(env, "STANDIN_DUMP");
    env = g_environ_unsetenv(env, "STANDIN_CONFIG");
    if (config) {
        char *path = g_build_filename(configs, config, NULL);

        env = g_environ_setenv(env, "STANDIN_CONFIG", path, TRUE);
        g_free(path);
    }
    if (dump) {
        env = g_environ_setenv(env, "STANDIN_DUMP", dump, TRUE);
    }
    if (child_kernel && *child_kernel) {
        env = g_environ_setenv(env, "STANDIN_KERNEL", child_kernel, TRUE);
    } else if (child_kernel) {
        env = g_environ_unsetenv(env, "STANDIN_KERNEL");
    }
    memset(r, 0, sizeof(*r));
    ok = g_spawn_sync(NULL, argv, env, G_SPAWN_DEFAULT, NULL, NULL, &r->out, &r->err, &wstatus,
                      &err);
    if (!ok) {
        g_test_message("spawn %s: %s", child, err->message);
        g_error_free(err);
        g_test_fail();
    } else if (WIFEXITED(wstatus)) {
        r->status = WEXITSTATUS(wstatus);
    } else if (WIFSIGNALED(wstatus)) {
        r->status = 128 + WTERMSIG(wstatus);
    }
    g_strfreev(env);
    g_free(dir);
    return ok;
}

typedef struct {
    const char *file;
    int line;
    const char *field;   /* NULL: only file:line is checked */
} Bad;

static const Bad bad[] = {
    { "bad-key.conf", 6, "frobnicate" },
    { "bad-number.conf", 5, "idr0" },
    { "bad-smmu-ref.conf", 8, "smmu" },
    { "bad-errno.conf", 9, "errno" },
    { "bad-ioctl.conf", 7, "ioctl" },
    { "bad-section.conf", 3, NULL },
    { "bad-lvcmdqs.conf", 6, "cmdqv_lvcmdqs" },
    { "bad-kernel.conf", 4, "kernel" },
};

static void test_malformed_config(gconstpointer data)
{
    const Bad *b = data;
    Run r;
    char *want, *path = g_build_filename(configs, b->file, NULL);
    char **lines;
    int n = 0;

    if (run_child("nop", b->file, NULL, "bad", &r)) {
        g_assert_cmpint(r.status, ==, 78);
        /* stopped before main() */
        g_assert_cmpstr(r.out, ==, "");
        want = b->field ? g_strdup_printf("standin: %s:%d: %s: ", path, b->line, b->field)
                        : g_strdup_printf("standin: %s:%d: ", path, b->line);
        if (!g_str_has_prefix(r.err, want)) {
            g_test_message("stderr '%s' does not start with '%s'", r.err, want);
            g_test_fail();
        }
        /* one message */
        lines = g_strsplit(r.err, "\n", -1);
        for (char **l = lines; *l; l++) {
            if (**l) {
                n++;
            }
        }
        g_assert_cmpint(n, ==, 1);
        g_strfreev(lines);
        g_free(want);
    }
    run_free(&r);
    g_free(path);
}

static void test_missing_config_file_exits_78(void)
{
    Run r;

    if (run_child("nop", "no-such-file.conf", NULL, "bad", &r)) {
        g_assert_cmpint(r.status, ==, 78);
        g_assert_cmpstr(r.out, ==, "");
        g_assert_true(g_str_has_prefix(r.err, "standin: "));
    }
    run_free(&r);
}

static void test_good_configs_load(void)
{
    static const char *good[] = { "cmdqv.conf", "nocmdqv.conf", "nonest.conf", "twosmmu.conf",
                                  "page4k.conf", "fault.conf", "good-sizes.conf",
                                  "kernel618.conf" };

    for (unsigned i = 0; i < G_N_ELEMENTS(good); i++) {
        Run r;

        if (run_child("nop", good[i], NULL, "good", &r)) {
            if (r.status != 0) {
                g_test_message("%s: status %d, stderr %s", good[i], r.status, r.err);
                g_test_fail();
            }
            g_assert_cmpstr(r.out, ==, "main\n");
        }
        run_free(&r);
    }
}

static void test_unset_config_is_inert(void)
{
    Run r;
    int fd = open("/dev/iommu", O_RDWR);
    int real = fd < 0 ? errno : 0;
    char *want = g_strdup_printf("%d\n", real);

    if (fd >= 0) {
        close(fd);
    }
    if (run_child("open-iommu", NULL, NULL, "inert", &r)) {
        /* the same answer as libc gives without the library */
        g_assert_cmpstr(r.out, ==, want);
    }
    run_free(&r);
    g_free(want);
}

static TJ *read_dump(const char *path)
{
    char *text = NULL, *err = NULL;
    TJ *j = NULL;

    if (!g_file_get_contents(path, &text, NULL, NULL)) {
        g_test_message("no dump written to %s", path);
        g_test_fail();
        return NULL;
    }
    j = tj_parse(text, &err);
    if (!j) {
        g_test_message("dump %s is not JSON: %s", path, err);
        g_test_fail();
    }
    g_free(err);
    g_free(text);
    return j;
}

static bool leaks_have_type(TJ *leaks, const char *type)
{
    for (guint i = 0; i < tj_len(leaks); i++) {
        const char *t = tj_get_str(tj_at(leaks, i), "type");

        if (t && !strcmp(t, type)) {
            return true;
        }
    }
    return false;
}

/* the "kernel" a child's dump names, run with @config and STANDIN_KERNEL = @env */
static char *child_kernel_model(const char *config, const char *env, const char *tag)
{
    Run r;
    char *dump = g_build_filename(rundir, tag, NULL), *k = NULL;
    TJ *j;

    unlink(dump);
    child_kernel = env;
    if (run_child("nop", config, dump, "kernel", &r)) {
        g_assert_cmpint(r.status, ==, 0);
        j = read_dump(dump);
        k = g_strdup(tj_get_str(j, "kernel"));
        tj_free(j);
    }
    child_kernel = NULL;
    run_free(&r);
    g_free(dump);
    return k;
}

/* [host] kernel picks the model; without it the newest (7.0) */
static void test_kernel_key_picks_the_model(void)
{
    char *k = child_kernel_model("kernel618.conf", "", "kernel-key.json");

    g_assert_cmpstr(k, ==, "6.18");
    g_free(k);
    k = child_kernel_model("cmdqv.conf", "", "kernel-default.json");
    g_assert_cmpstr(k, ==, "7.0");
    g_free(k);
}

/* STANDIN_KERNEL overrides the host description's key */
static void test_standin_kernel_overrides_the_key(void)
{
    char *k = child_kernel_model("kernel618.conf", "6.19", "kernel-env.json");

    g_assert_cmpstr(k, ==, "6.19");
    g_free(k);
    k = child_kernel_model("cmdqv.conf", "6.17", "kernel-env2.json");
    g_assert_cmpstr(k, ==, "6.17");
    g_free(k);
}

/* a STANDIN_KERNEL the stand-in does not model stops the process: one line, status 78 */
static void test_bad_standin_kernel_exits_78(void)
{
    Run r;

    child_kernel = "7.1";
    if (run_child("nop", "cmdqv.conf", NULL, "bad", &r)) {
        g_assert_cmpint(r.status, ==, 78);
        g_assert_cmpstr(r.out, ==, "");
        if (!g_str_has_prefix(r.err, "standin: STANDIN_KERNEL: '7.1' ")) {
            g_test_message("stderr '%s'", r.err);
            g_test_fail();
        }
        g_assert_cmpint(strchr(r.err, '\n') - r.err + 1, ==, (int)strlen(r.err));
    }
    child_kernel = NULL;
    run_free(&r);
}

static void test_dump_at_exit_reports_leaks(void)
{
    Run r;
    char *dump = g_build_filename(rundir, "leak-dump.json", NULL);
    TJ *j, *leaks;
    unsigned viommu = 0, vdev = 0, q = 0, ioas = 0, hwpt = 0;
    unsigned long long moff = 0;
    bool mmap_leak = false;

    unlink(dump);
    if (run_child("leak", "cmdqv.conf", dump, "leak", &r)) {
        g_assert_cmpint(r.status, ==, 0);
        g_assert_cmpint(sscanf(r.out, "viommu=%u vdevice=%u hw_queue=%u ioas=%u hwpt=%u mmap=%llu",
                               &viommu, &vdev, &q, &ioas, &hwpt, &moff), ==, 6);
        j = read_dump(dump);
        leaks = tj_get(j, "leaks");
        g_assert_true(leaks_have_type(leaks, "viommu"));
        g_assert_true(leaks_have_type(leaks, "vdevice"));
        g_assert_true(leaks_have_type(leaks, "hw_queue"));
        g_assert_true(leaks_have_type(leaks, "hwpt_paging"));   /* the nest parent */
        g_assert_false(leaks_have_type(leaks, "ioas"));
        g_assert_false(leaks_have_type(leaks, "device"));
        for (guint i = 0; i < tj_len(leaks); i++) {
            if ((unsigned long long)tj_get_int(tj_at(leaks, i), "mmap", -1) == moff) {
                mmap_leak = true;
            }
        }
        g_assert_true(mmap_leak);
        /* leaks are reported on stderr at the default log level */
        g_assert_nonnull(strstr(r.err, "standin: "));
        tj_free(j);
    }
    run_free(&r);
    g_free(dump);
}

static void test_dump_at_exit_clean_run_has_no_leaks(void)
{
    Run r;
    char *dump = g_build_filename(rundir, "clean-dump.json", NULL);
    TJ *j, *ioctls;

    unlink(dump);
    if (run_child("clean", "cmdqv.conf", dump, "clean", &r)) {
        g_assert_cmpint(r.status, ==, 0);
        j = read_dump(dump);
        g_assert_nonnull(tj_get(j, "leaks"));
        g_assert_cmpuint(tj_len(tj_get(j, "leaks")), ==, 0);
        ioctls = tj_get(j, "ioctls");
        g_assert_cmpint(tj_get_int(ioctls, "IOMMU_IOAS_ALLOC", 0), ==, 1);
        g_assert_cmpint(tj_get_int(ioctls, "IOMMU_VIOMMU_ALLOC", 0), ==, 1);
        g_assert_cmpint(tj_get_int(ioctls, "IOMMU_HW_QUEUE_ALLOC", 0), ==, 1);
        g_assert_cmpint(tj_get_int(ioctls, "VFIO_DEVICE_BIND_IOMMUFD", 0), ==, 1);
        g_assert_cmpint(tj_get_int(ioctls, "IOMMU_DESTROY", 0), ==, 4);
        tj_free(j);
    }
    run_free(&r);
    g_free(dump);
}

int main(int argc, char **argv)
{
    t_init(&argc, &argv);
    preload = g_getenv("STANDIN_TEST_PRELOAD");
    child = g_getenv("STANDIN_TEST_CHILD");
    configs = g_getenv("STANDIN_TEST_CONFIGS");
    rundir = g_getenv("STANDIN_TEST_RUNDIR");
    if (!preload || !child || !configs || !rundir) {
        g_printerr("STANDIN_TEST_PRELOAD/CHILD/CONFIGS/RUNDIR must be set (meson test does)\n");
        return 1;
    }
    g_mkdir_with_parents(rundir, 0755);
    for (unsigned i = 0; i < G_N_ELEMENTS(bad); i++) {
        char *name = g_strdup_printf("/loader/malformed_config_exits_78/%s", bad[i].file);

        g_test_add_data_func(name, &bad[i], test_malformed_config);
        g_free(name);
    }
    g_test_add_func("/loader/missing_config_file_exits_78", test_missing_config_file_exits_78);
    g_test_add_func("/loader/good_configs_load", test_good_configs_load);
    g_test_add_func("/loader/kernel_key_picks_the_model", test_kernel_key_picks_the_model);
    g_test_add_func("/loader/standin_kernel_overrides_the_key",
                    test_standin_kernel_overrides_the_key);
    g_test_add_func("/loader/bad_standin_kernel_exits_78", test_bad_standin_kernel_exits_78);
    g_test_add_func("/loader/unset_config_is_inert", test_unset_config_is_inert);
    g_test_add_func("/loader/dump_at_exit_reports_leaks", test_dump_at_exit_reports_leaks);
    g_test_add_func("/loader/dump_at_exit_clean_run_has_no_leaks",
                    test_dump_at_exit_clean_run_has_no_leaks);
    return g_test_run();
}
