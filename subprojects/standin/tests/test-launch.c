/*
 * tools/standin-launch, libvirt's part: it opens /dev/iommu and VFIO cdevs
 * under the stand-in and hands the fds on, by exec with {iommufd} /
 * {vfio:BDF} placeholders, over a unix socket (--send-fd), or with QMP
 * getfd (--qmp). Not preloaded itself: the launcher and the t-child
 * programs that look at the fds are.
 * Host: configs/cmdqv.conf (vfio0 = 0000:01:00.0 10de:2342,
 * vfio1 = 0000:02:00.0 10de:2343).
 */
#include "thelp.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "standin-client.h"

static const char *preload, *launch, *child, *configs, *rundir;

typedef struct {
    int status;
    char *out, *err;
} Run;

static void run_free(Run *r)
{
    g_free(r->out);
    g_free(r->err);
}

/* environment of a preloaded process on cmdqv.conf in $rundir/@tag */
static char **env_for(const char *tag, bool helper)
{
    char **env = g_get_environ();
    char *cfg = g_build_filename(configs, "cmdqv.conf", NULL);
    char *dir = g_build_filename(rundir, tag, NULL);

    env = g_environ_setenv(env, "LD_PRELOAD", preload, TRUE);
    env = g_environ_setenv(env, "STANDIN_CONFIG", cfg, TRUE);
    env = g_environ_setenv(env, "STANDIN_DIR", dir, TRUE);
    env = g_environ_setenv(env, "STANDIN_LOG", "1", TRUE);
    env = g_environ_unsetenv(env, "STANDIN_DUMP");
    if (helper) {
        env = g_environ_setenv(env, "STANDIN_CTL", "0", TRUE);
    }
    g_free(cfg);
    g_free(dir);
    return env;
}

static bool run(const char *const *argv, const char *tag, bool helper, GSpawnFlags flags, Run *r)
{
    char **env = env_for(tag, helper);
    GError *err = NULL;
    int ws = 0;
    bool ok;

    memset(r, 0, sizeof(*r));
    ok = g_spawn_sync(NULL, (char **)argv, env, flags, NULL, NULL, &r->out, &r->err, &ws, &err);
    if (!ok) {
        g_test_message("spawn %s: %s", argv[0], err->message);
        g_error_free(err);
        g_test_fail();
    } else {
        r->status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
        if (r->err && *r->err) {
            g_test_message("stderr: %s", r->err);
        }
    }
    g_strfreev(env);
    return ok;
}

static void test_exec_replaces_placeholders_with_inherited_fds(void)
{
    const char *argv[] = { launch, child, "check", "{iommufd}", "{vfio:0000:01:00.0}",
                           "{iommufd}", NULL };
    int a = -1, b = -1, c = -1;
    Run r;

    if (!run(argv, "exec", false, G_SPAWN_DEFAULT, &r)) {
        return;
    }
    g_assert_cmpint(r.status, ==, 0);
    g_assert_cmpint(sscanf(r.out, "fd=%d iommufd rdev=10:123 ioas=1 destroy2=ENOENT\n"
                                  "fd=%d vfio rdev=511:0 bind=success vendor=0x10de device=0x2342\n"
                                  "fd=%d iommufd rdev=10:123 ioas=2 destroy2=success\n",
                           &a, &b, &c), ==, 3);
    /* one /dev/iommu for every {iommufd}: the second check sees the first's IOAS */
    g_assert_cmpint(a, ==, c);
    g_assert_cmpint(a, !=, b);
    run_free(&r);
}

static void test_exec_placeholder_inside_an_argument(void)
{
    const char *argv[] = { launch, "echo", "iommufd,id=iommufd0,fd={iommufd}",
                           "vfio-pci,fd={vfio:0000:02:00.0},iommufd=iommufd0",
                           "{\"driver\":\"vfio-pci\"}", NULL };
    GRegex *re = g_regex_new("^iommufd,id=iommufd0,fd=[0-9]+ vfio-pci,fd=[0-9]+,iommufd=iommufd0 "
                             "\\{\"driver\":\"vfio-pci\"\\}\n$", 0, 0, NULL);
    Run r;

    if (run(argv, "exec-arg", false, G_SPAWN_SEARCH_PATH, &r)) {
        g_assert_cmpint(r.status, ==, 0);
        if (!g_regex_match(re, r.out, 0, NULL)) {
            g_test_message("output: %s", r.out);
            g_test_fail();
        }
        run_free(&r);
    }
    g_regex_unref(re);
}

static void test_exec_unknown_function_fails_before_exec(void)
{
    const char *argv[] = { launch, child, "nop", "{vfio:0000:ee:00.0}", NULL };
    Run r;

    if (run(argv, "exec-unknown", false, G_SPAWN_DEFAULT, &r)) {
        g_assert_cmpint(r.status, ==, 1);
        g_assert_cmpstr(r.out, ==, "");           /* t-child never ran */
        g_assert_nonnull(strstr(r.err, "/sys/bus/pci/devices/0000:ee:00.0/vfio-dev"));
        run_free(&r);
    }
}

static void test_usage_errors_exit_2(void)
{
    const char *none[] = { launch, NULL };
    const char *send[] = { launch, "--send-fd", "/nonexistent.sock", NULL };
    const char *qmp[] = { launch, "--qmp", NULL };
    const char *opt[] = { launch, "--frobnicate", NULL };
    const char *const *cases[] = { none, send, qmp, opt };
    Run r;

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        if (run(cases[i], "usage", true, G_SPAWN_DEFAULT, &r)) {
            g_assert_cmpint(r.status, ==, 2);
            g_assert_nonnull(strstr(r.err, "usage:"));
            run_free(&r);
        }
    }
}

static char *link_of(int fd)
{
    char *p = g_strdup_printf("/proc/self/fd/%d", fd);
    char *t = g_file_read_link(p, NULL);

    g_free(p);
    return t;
}

static void test_send_fd_hands_the_fds_over_a_unix_socket(void)
{
    char *tmp = g_dir_make_tmp("standin-launch-XXXXXX", NULL);
    char *sock = g_build_filename(tmp, "fds.sock", NULL);
    const char *argv[] = { launch, "--send-fd", sock, "iommufd", "vfio:0000:02:00.0", NULL };
    char **env = env_for("send", true);
    int l = standin_unix_listen(sock), s, fds[4], n, ws = 0;
    char text[128], *a, *b, *na, *nb;
    GPid pid;
    Run r;

    T_REQUIRE(tmp && l >= 0);
    g_assert_true(g_spawn_async(NULL, (char **)argv, env, G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL,
                                &pid, NULL));
    s = accept4(l, NULL, NULL, SOCK_CLOEXEC);
    T_REQUIRE(s >= 0);
    n = standin_recv_fds(s, fds, 4, text, sizeof(text), 10000);
    g_assert_cmpint(n, ==, 2);
    g_assert_cmpstr(text, ==, "iommufd vfio:0000:02:00.0\n");
    waitpid(pid, &ws, 0);
    g_assert_true(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
    T_REQUIRE(n == 2);
    /* we are not under the stand-in: they are the memfds that say what they are */
    a = link_of(fds[0]);
    b = link_of(fds[1]);
    g_assert_cmpstr(a, ==, "/memfd:standin-iommufd (deleted)");
    g_assert_cmpstr(b, ==, "/memfd:standin-vfio:0000:02:00.0 (deleted)");
    /* and a process under the stand-in that inherits them knows them */
    fcntl(fds[0], F_SETFD, 0);
    fcntl(fds[1], F_SETFD, 0);
    na = g_strdup_printf("%d", fds[0]);
    nb = g_strdup_printf("%d", fds[1]);
    {
        const char *cargv[] = { child, "check", na, nb, NULL };
        char *want = g_strdup_printf("fd=%d iommufd rdev=10:123 ioas=1 destroy2=ENOENT\n"
                                     "fd=%d vfio rdev=511:1 bind=success vendor=0x10de "
                                     "device=0x2343\n", fds[0], fds[1]);

        if (run(cargv, "send-check", false, G_SPAWN_LEAVE_DESCRIPTORS_OPEN, &r)) {
            g_assert_cmpint(r.status, ==, 0);
            g_assert_cmpstr(r.out, ==, want);
            run_free(&r);
        }
        g_free(want);
    }
    close(fds[0]);
    close(fds[1]);
    close(s);
    close(l);
    unlink(sock);
    rmdir(tmp);
    g_free(a);
    g_free(b);
    g_free(na);
    g_free(nb);
    g_strfreev(env);
    g_free(sock);
    g_free(tmp);
}

/* ------------------------------------------------------ a fake QMP server */

typedef struct {
    int listen_fd;
    GPtrArray *seen;        /* "<line>" or "<line> +fd <memfd name>" per command */
} FakeQmp;

static gpointer fake_qmp(gpointer opaque)
{
    FakeQmp *q = opaque;
    int s = accept4(q->listen_fd, NULL, NULL, SOCK_CLOEXEC);
    const char *greeting = "{\"QMP\": {\"version\": {}, \"capabilities\": [\"oob\"]}}\r\n";

    if (s < 0 || write(s, greeting, strlen(greeting)) < 0) {
        return NULL;
    }
    for (;;) {
        int fds[4];
        char line[1024];
        int n = standin_recv_fds(s, fds, 4, line, sizeof(line), 10000);
        const char *reply;

        if (n < 0 || !line[0]) {
            break;
        }
        g_strchomp(line);
        if (n > 0) {
            char *name = link_of(fds[0]);

            g_ptr_array_add(q->seen, g_strdup_printf("%s +fd %s", line, name));
            g_free(name);
            for (int i = 0; i < n; i++) {
                close(fds[i]);
            }
        } else {
            g_ptr_array_add(q->seen, g_strdup(line));
        }
        /* an event before each reply, which the client must skip */
        reply = strstr(line, "\"fail\"") ?
            "{\"timestamp\": {}, \"event\": \"X\"}\r\n{\"error\": {\"class\": \"GenericError\", "
            "\"desc\": \"no\"}}\r\n" :
            "{\"timestamp\": {}, \"event\": \"X\"}\r\n{\"return\": {}}\r\n";
        if (write(s, reply, strlen(reply)) < 0) {
            break;
        }
    }
    close(s);
    return NULL;
}

static void run_qmp(const char *const *cmds, int expect_status, const char *const *expect_seen,
                    int expect_replies)
{
    char *tmp = g_dir_make_tmp("standin-launch-XXXXXX", NULL);
    char *sock = g_build_filename(tmp, "qmp.sock", NULL);
    FakeQmp q = { .listen_fd = standin_unix_listen(sock), .seen = g_ptr_array_new_with_free_func(g_free) };
    GPtrArray *argv = g_ptr_array_new();
    GThread *t;
    Run r;
    guint n = 0;

    T_REQUIRE(tmp && q.listen_fd >= 0);
    t = g_thread_new("fake-qmp", fake_qmp, &q);
    g_ptr_array_add(argv, (char *)launch);
    g_ptr_array_add(argv, "--qmp");
    g_ptr_array_add(argv, sock);
    for (; *cmds; cmds++) {
        g_ptr_array_add(argv, (char *)*cmds);
    }
    g_ptr_array_add(argv, NULL);
    if (run((const char *const *)argv->pdata, "qmp", true, G_SPAWN_DEFAULT, &r)) {
        char **lines = g_strsplit(r.out, "\n", -1);

        g_assert_cmpint(r.status, ==, expect_status);
        g_assert_cmpint(g_strv_length(lines), ==, expect_replies + 1);
        g_strfreev(lines);
        run_free(&r);
    }
    g_thread_join(t);
    for (; expect_seen[n]; n++) {
        if (n >= q.seen->len) {
            g_test_message("the server saw only %u commands", q.seen->len);
            g_test_fail();
            break;
        }
        g_assert_cmpstr(g_ptr_array_index(q.seen, n), ==, expect_seen[n]);
    }
    g_assert_cmpuint(q.seen->len, ==, n);
    g_ptr_array_free(q.seen, TRUE);
    g_ptr_array_free(argv, TRUE);
    close(q.listen_fd);
    unlink(sock);
    rmdir(tmp);
    g_free(sock);
    g_free(tmp);
}

static void test_qmp_passes_fds_with_getfd_then_runs_commands(void)
{
    const char *cmds[] = {
        "--getfd", "ifd=iommufd", "--getfd", "vfd=vfio:0000:01:00.0",
        "--cmd", "{\"execute\": \"object-add\", \"arguments\": {\"qom-type\": \"iommufd\", "
                 "\"id\": \"iommufd0\", \"fd\": \"ifd\"}}",
        NULL };
    const char *seen[] = {
        "{\"execute\": \"qmp_capabilities\"}",
        "{\"execute\": \"getfd\", \"arguments\": {\"fdname\": \"ifd\"}} +fd "
            "/memfd:standin-iommufd (deleted)",
        "{\"execute\": \"getfd\", \"arguments\": {\"fdname\": \"vfd\"}} +fd "
            "/memfd:standin-vfio:0000:01:00.0 (deleted)",
        "{\"execute\": \"object-add\", \"arguments\": {\"qom-type\": \"iommufd\", "
            "\"id\": \"iommufd0\", \"fd\": \"ifd\"}}",
        NULL };

    run_qmp(cmds, 0, seen, 3);
}

static void test_qmp_error_reply_stops_with_status_1(void)
{
    const char *cmds[] = { "--cmd", "{\"execute\": \"fail\"}", "--cmd", "{\"execute\": \"never\"}",
                           NULL };
    const char *seen[] = { "{\"execute\": \"qmp_capabilities\"}", "{\"execute\": \"fail\"}", NULL };

    run_qmp(cmds, 1, seen, 1);
}

int main(int argc, char **argv)
{
    t_init(&argc, &argv);
    preload = g_getenv("STANDIN_TEST_PRELOAD");
    launch = g_getenv("STANDIN_TEST_LAUNCH");
    child = g_getenv("STANDIN_TEST_CHILD");
    configs = g_getenv("STANDIN_TEST_CONFIGS");
    rundir = g_getenv("STANDIN_TEST_RUNDIR");
    if (!preload || !launch || !child || !configs || !rundir) {
        g_printerr("set STANDIN_TEST_PRELOAD, _LAUNCH, _CHILD, _CONFIGS and _RUNDIR\n");
        return 2;
    }
    g_test_add_func("/launch/exec/replaces-placeholders-with-inherited-fds",
                    test_exec_replaces_placeholders_with_inherited_fds);
    g_test_add_func("/launch/exec/placeholder-inside-an-argument",
                    test_exec_placeholder_inside_an_argument);
    g_test_add_func("/launch/exec/unknown-function-fails-before-exec",
                    test_exec_unknown_function_fails_before_exec);
    g_test_add_func("/launch/usage-errors-exit-2", test_usage_errors_exit_2);
    g_test_add_func("/launch/send-fd/hands-the-fds-over-a-unix-socket",
                    test_send_fd_hands_the_fds_over_a_unix_socket);
    g_test_add_func("/launch/qmp/passes-fds-with-getfd-then-runs-commands",
                    test_qmp_passes_fds_with_getfd_then_runs_commands);
    g_test_add_func("/launch/qmp/error-reply-stops-with-status-1",
                    test_qmp_error_reply_stops_with_status_1);
    return g_test_run();
}
