/*
 * qtest helpers for running QEMU against the hardware-free stand-in for the
 * host kernel (subprojects/standin, interface in its INTERFACE.md).
 *
 * The stand-in is loaded into QEMU only (LD_PRELOAD set around the spawn),
 * never into the test itself. The test reads the stand-in's state through
 * its control socket (live) and its exit dump (after QEMU quits).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef TESTS_QTEST_STANDIN_QTEST_H
#define TESTS_QTEST_STANDIN_QTEST_H

#include "qemu/osdep.h"
#include <sys/socket.h>
#include <sys/un.h>
#include "libqtest.h"
#include "qobject/qdict.h"
#include "qobject/qlist.h"
#include "qobject/qjson.h"
#include "qobject/qnum.h"
#include "qobject/qstring.h"
#include "qobject/qbool.h"
#include "qapi/error.h"

typedef struct StandinHost {
    char *dir;       /* STANDIN_DIR */
    char *conf;      /* STANDIN_CONFIG */
    char *dump;      /* STANDIN_DUMP */
} StandinHost;

/*
 * A host described by @conf_text (INI, INTERFACE.md), in a fresh dir.
 * QAC_STANDIN_KERNEL (make check sets it for its run on the oldest kernel
 * model) names the kernel the stand-in models, unless @conf_text does.
 */
static inline StandinHost *standin_host_new(const char *conf_text)
{
    StandinHost *h = g_new0(StandinHost, 1);
    const char *kernel = g_getenv("QAC_STANDIN_KERNEL");
    g_autofree char *with_kernel = NULL;
    GError *err = NULL;

    if (kernel && *kernel && !strstr(conf_text, "kernel =")) {
        const char *host = strstr(conf_text, "[host]\n");

        with_kernel = host ?
            g_strdup_printf("%.*s[host]\nkernel = %s\n%s",
                            (int)(host - conf_text), conf_text, kernel,
                            host + strlen("[host]\n")) :
            g_strdup_printf("[host]\nkernel = %s\n%s", kernel, conf_text);
        conf_text = with_kernel;
    }

    h->dir = g_dir_make_tmp("qac-standin-XXXXXX", &err);
    g_assert_no_error(err);
    h->conf = g_build_filename(h->dir, "host.conf", NULL);
    h->dump = g_build_filename(h->dir, "dump.json", NULL);
    g_assert_true(g_file_set_contents(h->conf, conf_text, -1, &err));
    g_assert_no_error(err);
    return h;
}

static inline void standin_host_free(StandinHost *h)
{
    g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", h->dir);

    g_assert_cmpint(system(cmd), ==, 0);
    g_free(h->dir);
    g_free(h->conf);
    g_free(h->dump);
    g_free(h);
}

/* The sysfsdev= path of function @bdf. */
static inline char *standin_sysfsdev(StandinHost *h, const char *bdf)
{
    return g_strdup_printf("%s/sys/bus/pci/devices/%s", h->dir, bdf);
}

static inline const char *standin_lib(void)
{
    const char *lib = g_getenv("QAC_STANDIN_LIB");

    g_assert_nonnull(lib);   /* set by make check (scripts/check.py) */
    g_assert_true(g_file_test(lib, G_FILE_TEST_EXISTS));
    return lib;
}

static inline void standin_env_set(StandinHost *h)
{
    const char *first = g_getenv("QAC_PRELOAD_FIRST");
    g_autofree char *preload = first && *first ?
        g_strdup_printf("%s:%s", first, standin_lib()) :
        g_strdup(standin_lib());

    /* A sanitizer runtime must come first (make check-asan sets it) */
    g_setenv("LD_PRELOAD", preload, true);
    g_setenv("STANDIN_CONFIG", h->conf, true);
    g_setenv("STANDIN_DIR", h->dir, true);
    g_setenv("STANDIN_DUMP", h->dump, true);
}

static inline void standin_env_unset(void)
{
    g_unsetenv("LD_PRELOAD");
    g_unsetenv("STANDIN_CONFIG");
    g_unsetenv("STANDIN_DIR");
    g_unsetenv("STANDIN_DUMP");
}

/* Start QEMU with the stand-in loaded into it. */
static inline QTestState *standin_qtest_start(StandinHost *h, const char *args)
{
    QTestState *qts;

    unlink(h->dump);
    standin_env_set(h);
    qts = qtest_init(args);
    standin_env_unset();
    return qts;
}

/* Start QEMU expecting it to fail at startup; returns its stderr. */
static inline char *qemu_start_fails(const char *args)
{
    g_autofree char *cmd = g_strdup_printf("%s -display none -nodefaults %s",
                                           g_getenv("QTEST_QEMU_BINARY"), args);
    char *err = NULL;
    int status;
    GError *gerr = NULL;

    g_assert_true(g_spawn_command_line_sync(cmd, NULL, &err, &status, &gerr));
    g_assert_no_error(gerr);
    g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) != 0);
    return err;
}

/* The same with the stand-in loaded into QEMU. */
static inline char *standin_qemu_start_fails(StandinHost *h, const char *args)
{
    char *err;

    standin_env_set(h);
    err = qemu_start_fails(args);
    standin_env_unset();
    return err;
}

/* One request on the control socket; the JSON reply. */
static inline QDict *standin_ctl(StandinHost *h, const char *fmt, ...)
    G_GNUC_PRINTF(2, 3);
static inline QDict *standin_ctl(StandinHost *h, const char *fmt, ...)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    g_autofree char *req = NULL;
    g_autoptr(GString) reply = g_string_new(NULL);
    va_list ap;
    char buf[65536];
    ssize_t n;
    int fd;

    va_start(ap, fmt);
    req = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/ctl.sock", h->dir);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), ==, 0);
    g_assert_cmpint(write(fd, req, strlen(req)), ==, strlen(req));
    g_assert_cmpint(write(fd, "\n", 1), ==, 1);
    while ((n = read(fd, buf, sizeof(buf))) > 0) {
        g_string_append_len(reply, buf, n);
    }
    close(fd);
    return qobject_to(QDict, qobject_from_json(reply->str, &error_abort));
}

static inline QDict *standin_dump(StandinHost *h)
{
    return standin_ctl(h, "dump");
}

/* The dump written at QEMU's exit (call after qtest_quit). */
static inline QDict *standin_exit_dump(StandinHost *h)
{
    g_autofree char *text = NULL;
    GError *err = NULL;

    g_assert_true(g_file_get_contents(h->dump, &text, NULL, &err));
    g_assert_no_error(err);
    return qobject_to(QDict, qobject_from_json(text, &error_abort));
}

/* The objects of @type in @dump, as a new list of borrowed QDicts. */
static inline GPtrArray *standin_objects(QDict *dump, const char *type)
{
    GPtrArray *out = g_ptr_array_new();
    QList *objs = qdict_get_qlist(dump, "objects");
    QListEntry *e;

    g_assert_nonnull(objs);
    QLIST_FOREACH_ENTRY(objs, e) {
        QDict *o = qobject_to(QDict, qlist_entry_obj(e));
        if (!strcmp(qdict_get_str(o, "type"), type)) {
            g_ptr_array_add(out, o);
        }
    }
    return out;
}

/* How many objects of @type @dump holds */
static inline unsigned standin_count(QDict *dump, const char *type)
{
    g_autoptr(GPtrArray) objs = standin_objects(dump, type);

    return objs->len;
}

/* The one object of @type in @dump (borrowed); there must be exactly one */
static inline QDict *standin_single(QDict *dump, const char *type)
{
    g_autoptr(GPtrArray) objs = standin_objects(dump, type);

    g_assert_cmpint(objs->len, ==, 1);
    return g_ptr_array_index(objs, 0);
}

static inline QDict *standin_object(QDict *dump, int64_t id)
{
    QList *objs = qdict_get_qlist(dump, "objects");
    QListEntry *e;

    QLIST_FOREACH_ENTRY(objs, e) {
        QDict *o = qobject_to(QDict, qlist_entry_obj(e));
        if (qdict_get_int(o, "id") == id) {
            return o;
        }
    }
    return NULL;
}

static inline int64_t standin_ioctl_count(QDict *dump, const char *name)
{
    QDict *c = qdict_get_qdict(dump, "ioctls");

    return c && qdict_haskey(c, name) ? qdict_get_int(c, name) : 0;
}

static inline uint64_t standin_hex(QDict *o, const char *key, int i)
{
    QList *l = qdict_get_qlist(o, key);
    QListEntry *e;

    QLIST_FOREACH_ENTRY(l, e) {
        if (i-- == 0) {
            return g_ascii_strtoull(qstring_get_str(
                       qobject_to(QString, qlist_entry_obj(e))), NULL, 16);
        }
    }
    g_assert_not_reached();
}

/* Assert the exit dump reports no leak and no rejected destroy. */
static inline void standin_assert_clean_exit(StandinHost *h)
{
    QDict *d = standin_exit_dump(h);
    QList *leaks = qdict_get_qlist(d, "leaks");
    QList *rej = qdict_get_qlist(d, "rejected_destroys");

    if (leaks && !qlist_empty(leaks)) {
        g_autoptr(GString) s = qobject_to_json(QOBJECT(leaks));
        g_test_message("leaks: %s", s->str);
    }
    g_assert_true(!leaks || qlist_empty(leaks));
    g_assert_true(!rej || qlist_empty(rej));
    qobject_unref(d);
}

/*
 * The guest-physical range of the first memory region named @name in
 * "info mtree" ("base-last (prio N, type): name"): its base, *@size.
 */
static inline uint64_t qtest_mtree_range(QTestState *qts, const char *name,
                                         uint64_t *size)
{
    g_autofree char *mtree = qtest_hmp(qts, "info mtree");
    g_autofree char *pat = g_strdup_printf("): %s\r", name);
    char *p = strstr(mtree, pat), *line, *end;
    uint64_t base;

    if (!p) {
        g_free(pat);
        pat = g_strdup_printf("): %s\n", name);
        p = strstr(mtree, pat);
    }
    g_assert_nonnull(p);
    for (line = p; line > mtree && line[-1] != '\n'; line--) {
        ;
    }
    base = g_ascii_strtoull(line + strspn(line, " "), &end, 16);
    if (size) {
        g_assert_cmpint(*end, ==, '-');
        *size = g_ascii_strtoull(end + 1, NULL, 16) - base + 1;
    }
    return base;
}

/* The guest-physical base of the first memory region named @name. */
static inline uint64_t qtest_mtree_base(QTestState *qts, const char *name)
{
    return qtest_mtree_range(qts, name, NULL);
}

static inline uint64_t qtest_mtree_size(QTestState *qts, const char *name)
{
    uint64_t size;

    qtest_mtree_range(qts, name, &size);
    return size;
}

#endif /* TESTS_QTEST_STANDIN_QTEST_H */
