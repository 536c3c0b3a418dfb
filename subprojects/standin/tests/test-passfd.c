/*
 * Stand-in fds this process did not open itself (INTERFACE.md "Passed file
 * descriptors"): inherited across exec, received with SCM_RIGHTS. Each
 * process models its own kernel: an iommufd arrives as a fresh, empty
 * context, a VFIO cdev as the function of its BDF, unbound; fds of one open
 * file share one state.
 * Preloaded itself (configs/cmdqv.conf: vfio0 = 0000:01:00.0 10de:2342,
 * vfio1 = 0000:02:00.0 10de:2343); the processes it passes fds to are
 * preloaded t-child programs in their own STANDIN_DIR.
 */
#include "thelp.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "standin-client.h"

static const char *child, *configs, *rundir;

typedef struct {
    int status;
    char *out, *err;
} Run;

static void run_free(Run *r)
{
    g_free(r->out);
    g_free(r->err);
}

/*
 * Run t-child @argv (without the program) preloaded with @config, in
 * $rundir/@tag (NULL: our own STANDIN_DIR, with STANDIN_CTL=0), inheriting
 * every fd of ours that is not close-on-exec.
 */
static bool run_child(const char *const *args, const char *config, const char *tag, Run *r)
{
    char **env = g_get_environ();
    GPtrArray *argv = g_ptr_array_new();
    char *cfg = g_build_filename(configs, config, NULL);
    char *dir = tag ? g_build_filename(rundir, tag, NULL) : g_strdup(g_getenv("STANDIN_DIR"));
    GError *err = NULL;
    int ws = 0;
    bool ok;

    g_ptr_array_add(argv, (char *)child);
    for (; *args; args++) {
        g_ptr_array_add(argv, (char *)*args);
    }
    g_ptr_array_add(argv, NULL);
    env = g_environ_setenv(env, "STANDIN_CONFIG", cfg, TRUE);
    env = g_environ_setenv(env, "STANDIN_DIR", dir, TRUE);
    env = g_environ_unsetenv(env, "STANDIN_DUMP");
    if (!tag) {
        env = g_environ_setenv(env, "STANDIN_CTL", "0", TRUE);
    }
    memset(r, 0, sizeof(*r));
    ok = g_spawn_sync(NULL, (char **)argv->pdata, env, G_SPAWN_LEAVE_DESCRIPTORS_OPEN, NULL, NULL,
                      &r->out, &r->err, &ws, &err);
    if (!ok) {
        g_test_message("spawn %s: %s", child, err->message);
        g_error_free(err);
        g_test_fail();
    } else {
        r->status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
        if (r->err && *r->err) {
            g_test_message("t-child stderr: %s", r->err);
        }
    }
    g_ptr_array_free(argv, TRUE);
    g_strfreev(env);
    g_free(cfg);
    g_free(dir);
    return ok;
}

static char *fdstr(int fd)
{
    return g_strdup_printf("%d", fd);
}

static char *link_of(int fd)
{
    char *p = g_strdup_printf("/proc/self/fd/%d", fd);
    char *t = g_file_read_link(p, NULL);

    g_free(p);
    return t;
}

static void test_memfd_name_says_what_the_file_is(void)
{
    int ifd = open("/dev/iommu", O_RDWR), vfd = open("/dev/vfio/devices/vfio1", O_RDWR);
    char *a, *b;

    T_REQUIRE(ifd >= 0 && vfd >= 0);
    a = link_of(ifd);
    b = link_of(vfd);
    g_assert_cmpstr(a, ==, "/memfd:standin-iommufd (deleted)");
    g_assert_cmpstr(b, ==, "/memfd:standin-vfio:0000:02:00.0 (deleted)");
    g_free(a);
    g_free(b);
    close(ifd);
    close(vfd);
}

static void test_exec_iommufd_is_a_fresh_empty_context(void)
{
    int fd = open("/dev/iommu", O_RDWR);     /* no O_CLOEXEC: inherited */
    uint32_t a = 0, b = 0;
    char *n = fdstr(fd), *want;
    const char *args[] = { "check", n, NULL };
    Run r;

    T_REQUIRE(fd >= 0);
    T_OK(t_ioas_alloc(fd, &a));
    T_OK(t_ioas_alloc(fd, &b));
    g_assert_cmpuint(b, ==, 2);
    if (run_child(args, "cmdqv.conf", "exec-iommufd", &r)) {
        g_assert_cmpint(r.status, ==, 0);
        /* IDs from 1 again, and our IOAS 2 is not there */
        want = g_strdup_printf("fd=%d iommufd rdev=10:123 ioas=1 destroy2=ENOENT\n", fd);
        g_assert_cmpstr(r.out, ==, want);
        g_free(want);
        run_free(&r);
    }
    /* ours is untouched */
    T_OK(t_destroy(fd, b));
    T_OK(t_destroy(fd, a));
    close(fd);
    g_free(n);
}

static void test_exec_vfio_cdev_is_its_function_unbound(void)
{
    int ifd = t_iommufd(), vfd = open("/dev/vfio/devices/vfio1", O_RDWR);
    char *n = fdstr(vfd), *want;
    const char *args[] = { "check", n, NULL };
    Run r;

    T_REQUIRE(ifd >= 0 && vfd >= 0);
    T_OK(t_vfio_bind(vfd, ifd, NULL));          /* bound here, not there */
    if (run_child(args, "cmdqv.conf", "exec-vfio", &r)) {
        g_assert_cmpint(r.status, ==, 0);
        want = g_strdup_printf("fd=%d vfio rdev=511:1 bind=success vendor=0x10de device=0x2343\n",
                               vfd);
        g_assert_cmpstr(r.out, ==, want);
        g_free(want);
        run_free(&r);
    }
    close(vfd);
    close(ifd);
    g_free(n);
}

static void test_exec_vfio_cdev_is_found_by_bdf_not_number(void)
{
    int vfd = open("/dev/vfio/devices/vfio1", O_RDWR);
    char *n = fdstr(vfd), *want;
    const char *args[] = { "check", n, NULL };
    Run r;

    T_REQUIRE(vfd >= 0);
    /* 0000:02:00.0 is vfio1 here and vfio0 there: there it is 511:0 */
    if (run_child(args, "passfd-reordered.conf", "exec-reordered", &r)) {
        g_assert_cmpint(r.status, ==, 0);
        want = g_strdup_printf("fd=%d vfio rdev=511:0 bind=success vendor=0x10de device=0x2343\n",
                               vfd);
        g_assert_cmpstr(r.out, ==, want);
        g_free(want);
        run_free(&r);
    }
    close(vfd);
    g_free(n);
}

static void test_exec_vfio_cdev_of_unknown_function_stays_plain(void)
{
    int vfd = open("/dev/vfio/devices/vfio1", O_RDWR);
    char *n = fdstr(vfd), *want;
    const char *args[] = { "check", n, NULL };
    Run r;

    T_REQUIRE(vfd >= 0);
    if (run_child(args, "passfd-one.conf", "exec-unknown", &r)) {
        g_assert_cmpint(r.status, ==, 0);
        want = g_strdup_printf("fd=%d plain\n", vfd);
        g_assert_cmpstr(r.out, ==, want);
        g_assert_nonnull(strstr(r.err, "the VFIO cdev of 0000:02:00.0, which the host "
                                       "description does not have"));
        g_free(want);
        run_free(&r);
    }
    close(vfd);
    g_free(n);
}

static void test_exec_two_fds_of_one_file_share_one_context(void)
{
    int a = open("/dev/iommu", O_RDWR), b = dup(a);
    char *na = fdstr(a), *nb = fdstr(b);
    const char *args[] = { "share", na, nb, NULL };
    Run r;

    T_REQUIRE(a >= 0 && b >= 0);
    if (run_child(args, "cmdqv.conf", "exec-share", &r)) {
        g_assert_cmpint(r.status, ==, 0);
        g_assert_cmpstr(r.out, ==, "shared=success\n");
        run_free(&r);
    }
    close(a);
    close(b);
    g_free(na);
    g_free(nb);
}

/* the "passed_fds" entry of @fd in our dump, or NULL */
static TJ *passed_entry(TJ *d, int fd)
{
    TJ *l = tj_get(d, "passed_fds");

    for (guint i = 0; l && i < tj_len(l); i++) {
        TJ *e = tj_at(l, i);

        if (tj_get_int(e, "fd", -1) == fd) {
            return e;
        }
    }
    return NULL;
}

static void test_scm_rights_within_one_process_shares_the_open_file(void)
{
    int sv[2], fd = t_iommufd(), got = -1;
    uint32_t ioas = 0;
    char text[64];
    TJ *d, *e;

    T_REQUIRE(fd >= 0 && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    T_OK(t_ioas_alloc(fd, &ioas));
    g_assert_cmpint(standin_send_fds(sv[0], &fd, 1, "iommufd\n"), ==, 0);
    g_assert_cmpint(standin_recv_fds(sv[1], &got, 1, text, sizeof(text), 5000), ==, 1);
    g_assert_cmpstr(text, ==, "iommufd\n");
    T_REQUIRE(got >= 0 && got != fd);
    /* the same kernel file: our IOAS is there through the new fd */
    T_OK(t_destroy(got, ioas));
    d = t_dump();
    e = passed_entry(d, got);
    g_assert_nonnull(e);
    if (e) {
        g_assert_cmpstr(tj_get_str(e, "file"), ==, "iommufd");
        g_assert_cmpstr(tj_get_str(e, "via"), ==, "scm_rights");
        g_assert_true(tj_get_bool(e, "shared", false));
    }
    tj_free(d);
    close(got);
    close(fd);
    close(sv[0]);
    close(sv[1]);
}

static void test_scm_rights_to_another_process_is_a_fresh_context(void)
{
    int sv[2], ifd = t_iommufd(), vfd = t_vfio_open(0), fds[2];
    uint32_t ioas = 0;
    char *n, *want;
    const char *args[] = { "recv", NULL, NULL };
    Run r;

    T_REQUIRE(ifd >= 0 && vfd >= 0);
    T_REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);   /* sv[1] inherited */
    fcntl(sv[0], F_SETFD, FD_CLOEXEC);
    T_OK(t_ioas_alloc(ifd, &ioas));
    T_OK(t_ioas_alloc(ifd, &ioas));
    fds[0] = ifd;
    fds[1] = vfd;
    /* queued before the child runs: it finds the message waiting */
    g_assert_cmpint(standin_send_fds(sv[0], fds, 2, "iommufd vfio:0000:01:00.0\n"), ==, 0);
    n = fdstr(sv[1]);
    args[1] = n;
    if (run_child(args, "cmdqv.conf", "scm-child", &r)) {
        char **lines = g_strsplit(r.out, "\n", -1);

        g_assert_cmpint(r.status, ==, 0);
        g_assert_cmpuint(g_strv_length(lines), ==, 4);
        if (g_strv_length(lines) == 4) {
            g_assert_cmpstr(lines[0], ==, "text=iommufd vfio:0000:01:00.0");
            want = g_strdup(" iommufd rdev=10:123 ioas=1 destroy2=ENOENT");
            g_assert_true(g_str_has_suffix(lines[1], want));
            g_free(want);
            g_assert_true(g_str_has_suffix(lines[2], " vfio rdev=511:0 bind=success "
                                                     "vendor=0x10de device=0x2342"));
        }
        g_strfreev(lines);
        run_free(&r);
    }
    close(sv[0]);
    close(sv[1]);
    close(vfd);
    close(ifd);
    g_free(n);
}

static void test_helper_with_standin_ctl_0_leaves_the_control_socket(void)
{
    const char *args[] = { "open-iommu", NULL };
    char *reply;
    Run r;

    /* a preloaded helper in our own STANDIN_DIR, with STANDIN_CTL=0 */
    if (run_child(args, "cmdqv.conf", NULL, &r)) {
        g_assert_cmpint(r.status, ==, 0);
        run_free(&r);
    }
    /* our control socket still answers (a helper that took it over and exited would not) */
    reply = t_ctl("dump");
    g_assert_nonnull(reply);
    g_assert_true(reply && g_str_has_prefix(reply, "{\"kernel\""));
    g_free(reply);
}

int main(int argc, char **argv)
{
    t_init(&argc, &argv);
    child = g_getenv("STANDIN_TEST_CHILD");
    configs = g_getenv("STANDIN_TEST_CONFIGS");
    rundir = g_getenv("STANDIN_TEST_RUNDIR");
    if (!child || !configs || !rundir) {
        g_printerr("set STANDIN_TEST_CHILD, STANDIN_TEST_CONFIGS and STANDIN_TEST_RUNDIR\n");
        return 2;
    }
    g_test_add_func("/passfd/memfd-name-says-what-the-file-is",
                    test_memfd_name_says_what_the_file_is);
    g_test_add_func("/passfd/exec/iommufd-is-a-fresh-empty-context",
                    test_exec_iommufd_is_a_fresh_empty_context);
    g_test_add_func("/passfd/exec/vfio-cdev-is-its-function-unbound",
                    test_exec_vfio_cdev_is_its_function_unbound);
    g_test_add_func("/passfd/exec/vfio-cdev-is-found-by-bdf-not-number",
                    test_exec_vfio_cdev_is_found_by_bdf_not_number);
    g_test_add_func("/passfd/exec/vfio-cdev-of-unknown-function-stays-plain",
                    test_exec_vfio_cdev_of_unknown_function_stays_plain);
    g_test_add_func("/passfd/exec/two-fds-of-one-file-share-one-context",
                    test_exec_two_fds_of_one_file_share_one_context);
    g_test_add_func("/passfd/scm-rights/within-one-process-shares-the-open-file",
                    test_scm_rights_within_one_process_shares_the_open_file);
    g_test_add_func("/passfd/scm-rights/to-another-process-is-a-fresh-context",
                    test_scm_rights_to_another_process_is_a_fresh_context);
    g_test_add_func("/passfd/helper-with-standin-ctl-0-leaves-the-control-socket",
                    test_helper_with_standin_ctl_0_leaves_the_control_socket);
    return g_test_run();
}
