/*
 * tools/standin-ctl against a live stand-in: a preloaded t-child in "serve"
 * mode (a vIOMMU family, no vEVENTQ) answers on its own control socket.
 * Not preloaded itself.
 */
#include "thelp.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *preload, *child, *ctl, *configs, *rundir;
static GPid server = 0;
static int server_in = -1;
static char *srvdir;

static bool start_server(void)
{
    char **env = g_get_environ();
    char *argv[] = { (char *)child, "serve", NULL };
    char *cfg = g_build_filename(configs, "cmdqv.conf", NULL);
    GError *err = NULL;
    int out = -1;
    char buf[256];
    ssize_t n;

    srvdir = g_build_filename(rundir, "server", NULL);
    env = g_environ_setenv(env, "LD_PRELOAD", preload, TRUE);
    env = g_environ_setenv(env, "STANDIN_CONFIG", cfg, TRUE);
    env = g_environ_setenv(env, "STANDIN_DIR", srvdir, TRUE);
    if (!g_spawn_async_with_pipes(NULL, argv, env, G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL, &server,
                                  &server_in, &out, NULL, &err)) {
        g_printerr("spawn: %s\n", err->message);
        return false;
    }
    g_strfreev(env);
    g_free(cfg);
    n = read(out, buf, sizeof(buf) - 1);   /* "ready ..." once set up */
    close(out);
    return n > 5 && !strncmp(buf, "ready", 5);
}

static void stop_server(void)
{
    int st = 0;

    if (server_in >= 0) {
        close(server_in);     /* EOF: the child tears down and exits */
    }
    if (server) {
        waitpid(server, &st, 0);
    }
}

static int run_ctl(const char *dir, char **out, const char *a1, const char *a2, const char *a3,
                   const char *a4, const char *a5)
{
    const char *argv[10] = { ctl };
    int i = 1, st = 0;
    char **env = g_get_environ();
    GError *err = NULL;

    env = g_environ_unsetenv(env, "LD_PRELOAD");
    env = g_environ_unsetenv(env, "STANDIN_CONFIG");
    env = g_environ_unsetenv(env, "STANDIN_DIR");
    if (dir) {
        argv[i++] = "-d";
        argv[i++] = dir;
    }
    for (const char *a[] = { a1, a2, a3, a4, a5 }, **p = a; p < a + 5 && *p; p++) {
        argv[i++] = *p;
    }
    argv[i] = NULL;
    if (!g_spawn_sync(NULL, (char **)argv, env, G_SPAWN_DEFAULT, NULL, NULL, out, NULL, &st,
                      &err)) {
        g_test_message("spawn standin-ctl: %s", err->message);
        g_error_free(err);
        g_strfreev(env);
        return -1;
    }
    g_strfreev(env);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static void test_ctl_dump_pretty_and_raw(void)
{
    char *out = NULL;
    TJ *j;

    g_assert_cmpint(run_ctl(srvdir, &out, "dump", NULL, NULL, NULL, NULL), ==, 0);
    j = tj_parse(out, NULL);
    g_assert_nonnull(j);
    g_assert_cmpint(t_dump_count_type(j, "viommu"), ==, 1);
    g_assert_cmpint(t_dump_count_type(j, "hw_queue"), ==, 1);
    g_assert_nonnull(strchr(out, '\n') != out + strlen(out) - 1 ? out : NULL);  /* indented */
    tj_free(j);
    g_free(out);
    g_assert_cmpint(run_ctl(srvdir, &out, "-r", "dump", NULL, NULL, NULL), ==, 0);
    g_assert_true(strchr(out, '\n') == out + strlen(out) - 1);                   /* one line */
    j = tj_parse(out, NULL);
    g_assert_nonnull(j);
    tj_free(j);
    g_free(out);
}

static void test_ctl_fault_and_clear(void)
{
    char *out = NULL;

    g_assert_cmpint(run_ctl(srvdir, &out, "fault", "IOMMU_IOAS_ALLOC", "1", "ENOMEM", NULL), ==, 0);
    g_free(out);
    g_assert_cmpint(run_ctl(srvdir, &out, "fault-clear", NULL, NULL, NULL, NULL), ==, 0);
    g_free(out);
    /* refused: exit 1 */
    g_assert_cmpint(run_ctl(srvdir, &out, "fault", "NOT_AN_IOCTL", "1", "EIO", NULL), ==, 1);
    g_free(out);
}

static void test_ctl_event_without_veventq_exits_1(void)
{
    char *out = NULL;
    char hex[65];

    memset(hex, '0', 64);
    hex[64] = 0;
    g_assert_cmpint(run_ctl(srvdir, &out, "event", "0000:01:00.0", hex, NULL, NULL), ==, 1);
    g_free(out);
}

static void test_ctl_leaks_of_live_process_empty(void)
{
    char *out = NULL;

    /* objects alive in an open iommufd are not leaks */
    g_assert_cmpint(run_ctl(srvdir, &out, "-r", "leaks", NULL, NULL, NULL), ==, 0);
    g_assert_cmpstr(g_strstrip(out), ==, "[]");
    g_free(out);
}

static void test_ctl_no_server_exits_2(void)
{
    char *out = NULL;

    g_assert_cmpint(run_ctl("/nonexistent-standin-dir", &out, "dump", NULL, NULL, NULL, NULL), ==,
                    2);
    g_free(out);
}

static void test_ctl_usage_exits_64(void)
{
    char *out = NULL;

    g_assert_cmpint(run_ctl(srvdir, &out, "frobnicate", NULL, NULL, NULL, NULL), ==, 64);
    g_free(out);
    g_assert_cmpint(run_ctl(srvdir, &out, "fault", "X", NULL, NULL, NULL), ==, 64);
    g_free(out);
}

int main(int argc, char **argv)
{
    int rc;

    t_init(&argc, &argv);
    preload = g_getenv("STANDIN_TEST_PRELOAD");
    child = g_getenv("STANDIN_TEST_CHILD");
    ctl = g_getenv("STANDIN_TEST_CTL");
    configs = g_getenv("STANDIN_TEST_CONFIGS");
    rundir = g_getenv("STANDIN_TEST_RUNDIR");
    if (!preload || !child || !ctl || !configs || !rundir) {
        g_printerr("STANDIN_TEST_* must be set (meson test does)\n");
        return 1;
    }
    g_mkdir_with_parents(rundir, 0755);
    if (!start_server()) {
        g_printerr("t-child serve did not get ready\n");
        stop_server();
        return 1;
    }
    g_test_add_func("/ctl/dump_pretty_and_raw", test_ctl_dump_pretty_and_raw);
    g_test_add_func("/ctl/fault_and_clear", test_ctl_fault_and_clear);
    g_test_add_func("/ctl/event_without_veventq_exits_1", test_ctl_event_without_veventq_exits_1);
    g_test_add_func("/ctl/leaks_of_live_process_empty", test_ctl_leaks_of_live_process_empty);
    g_test_add_func("/ctl/no_server_exits_2", test_ctl_no_server_exits_2);
    g_test_add_func("/ctl/usage_exits_64", test_ctl_usage_exits_64);
    rc = g_test_run();
    stop_server();
    return rc;
}
