/*
 * standin-launch: libvirt's part in handing QEMU its host devices as file
 * descriptors (libvirt 12.2 and later open /dev/iommu and the VFIO cdev
 * themselves). Run it under the stand-in (LD_PRELOAD, STANDIN_CONFIG,
 * STANDIN_DIR as for QEMU); on a real host it does the same with the
 * kernel's devices.
 *
 *   standin-launch COMMAND [ARG...]
 *       Open what the placeholders in the ARGs name and exec COMMAND with
 *       each placeholder replaced by the fd number, the fds inherited:
 *         {iommufd}    /dev/iommu (one open file for every {iommufd})
 *         {vfio:BDF}   the VFIO cdev of PCI function BDF, found as libvirt
 *                      finds it: /sys/bus/pci/devices/BDF/vfio-dev/vfioN
 *                      gives /dev/vfio/devices/vfioN
 *       e.g. standin-launch qemu-system-aarch64 ...
 *              -object iommufd,id=iommufd0,fd={iommufd}
 *              -device vfio-pci,fd={vfio:0000:01:00.0},iommufd=iommufd0
 *
 *   standin-launch --send-fd SOCKET WHAT...
 *       WHAT: iommufd | vfio:BDF. Connect to the unix socket SOCKET and
 *       send the fds in one SCM_RIGHTS message whose data is the WHATs,
 *       separated by spaces, and a newline.
 *
 *   standin-launch --qmp SOCKET [--getfd NAME=WHAT]... [--cmd JSON]...
 *       Connect to QEMU's QMP socket, negotiate, pass each fd with
 *       {"execute": "getfd", "arguments": {"fdname": NAME}} and SCM_RIGHTS,
 *       then run each JSON command on the same monitor (getfd names are
 *       per monitor), printing every reply. Exit 0 when all succeeded.
 *
 * In the two socket modes the launcher lives beside the QEMU it serves: run
 * it with STANDIN_CTL=0 so that it leaves the control socket of a shared
 * STANDIN_DIR to QEMU. It never writes STANDIN_DUMP.
 * Exit status: 0 success, 1 a request failed, 2 usage, 127 exec failed.
 */
#define _GNU_SOURCE
#include "standin-client.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_OPEN 16

static const char *prog = "standin-launch";

/* what is open: "iommufd" or "vfio:BDF", and its fd */
static struct {
    char what[64];
    int fd;
} opened[MAX_OPEN];
static int nopened;

static void usage(void)
{
    fprintf(stderr,
            "usage: %s COMMAND [ARG...]      ARGs may hold {iommufd} and {vfio:BDF}\n"
            "       %s --send-fd SOCKET WHAT...   WHAT: iommufd | vfio:BDF\n"
            "       %s --qmp SOCKET [--getfd NAME=WHAT]... [--cmd JSON]...\n",
            prog, prog, prog);
}

/* Leave without running atexit handlers (the stand-in's dump is QEMU's). */
static void __attribute__((noreturn)) leave(int status)
{
    fflush(stdout);
    fflush(stderr);
    _exit(status);
}

static int open_vfio(const char *bdf)
{
    char dir[512], node[600];
    struct dirent *d;
    DIR *dp;
    int fd;

    snprintf(dir, sizeof(dir), "/sys/bus/pci/devices/%s/vfio-dev", bdf);
    dp = opendir(dir);
    if (!dp) {
        fprintf(stderr, "%s: %s: %s\n", prog, dir, strerror(errno));
        return -1;
    }
    node[0] = 0;
    while ((d = readdir(dp))) {
        if (!strncmp(d->d_name, "vfio", 4)) {
            snprintf(node, sizeof(node), "/dev/vfio/devices/%s", d->d_name);
            break;
        }
    }
    closedir(dp);
    if (!node[0]) {
        fprintf(stderr, "%s: %s: no vfioN entry (is %s bound to vfio-pci?)\n", prog, dir, bdf);
        return -1;
    }
    fd = open(node, O_RDWR);
    if (fd < 0) {
        fprintf(stderr, "%s: %s: %s\n", prog, node, strerror(errno));
    }
    return fd;
}

/* The fd of @what ("iommufd" or "vfio:BDF"), opened once; -1 on failure. */
static int get_fd(const char *what, size_t len)
{
    char w[64];
    int fd;

    if (len >= sizeof(w)) {
        fprintf(stderr, "%s: '%.*s': too long\n", prog, (int)len, what);
        return -1;
    }
    memcpy(w, what, len);
    w[len] = 0;
    for (int i = 0; i < nopened; i++) {
        if (!strcmp(opened[i].what, w)) {
            return opened[i].fd;
        }
    }
    if (nopened == MAX_OPEN) {
        fprintf(stderr, "%s: more than %d files\n", prog, MAX_OPEN);
        return -1;
    }
    if (!strcmp(w, "iommufd")) {
        fd = open("/dev/iommu", O_RDWR);
        if (fd < 0) {
            fprintf(stderr, "%s: /dev/iommu: %s\n", prog, strerror(errno));
        }
    } else if (!strncmp(w, "vfio:", 5) && w[5]) {
        fd = open_vfio(w + 5);
    } else {
        fprintf(stderr, "%s: '%s': not iommufd or vfio:BDF\n", prog, w);
        return -1;
    }
    if (fd >= 0) {
        snprintf(opened[nopened].what, sizeof(opened[nopened].what), "%s", w);
        opened[nopened++].fd = fd;
    }
    return fd;
}

/* @arg with every {iommufd} / {vfio:BDF} replaced by its fd; NULL on failure. */
static char *substitute(const char *arg)
{
    size_t cap = strlen(arg) + 1, len = 0;
    char *out = malloc(cap);
    const char *p = arg;

    if (!out) {
        return NULL;
    }
    while (*p) {
        const char *close = p[0] == '{' ? strchr(p, '}') : NULL;

        if (close && (!strncmp(p, "{iommufd}", 9) || !strncmp(p, "{vfio:", 6))) {
            char num[16];
            int fd = get_fd(p + 1, (size_t)(close - p - 1));
            size_t nl;

            if (fd < 0) {
                free(out);
                return NULL;
            }
            nl = (size_t)snprintf(num, sizeof(num), "%d", fd);
            cap += nl;
            out = realloc(out, cap);
            if (!out) {
                return NULL;
            }
            memcpy(out + len, num, nl);
            len += nl;
            p = close + 1;
            continue;
        }
        out[len++] = *p++;
    }
    out[len] = 0;
    return out;
}

static int run_exec(char **argv)
{
    int argc = 0;
    char **nargv;

    while (argv[argc]) {
        argc++;
    }
    nargv = calloc(argc + 1, sizeof(*nargv));
    if (!nargv) {
        return 1;
    }
    for (int i = 0; i < argc; i++) {
        nargv[i] = substitute(argv[i]);
        if (!nargv[i]) {
            leave(1);
        }
    }
    execvp(nargv[0], nargv);
    fprintf(stderr, "%s: %s: %s\n", prog, nargv[0], strerror(errno));
    leave(127);
}

static void note_ctl(void)
{
    const char *ctl = getenv("STANDIN_CTL");

    const char *preload = getenv("LD_PRELOAD");

    if (getenv("STANDIN_CONFIG") && preload && strstr(preload, "standin") &&
        (!ctl || strcmp(ctl, "0"))) {
        fprintf(stderr, "%s: note: without STANDIN_CTL=0 this helper took over the control "
                "socket of $STANDIN_DIR\n", prog);
    }
}

static int run_send(const char *sock, char **what)
{
    int fds[MAX_OPEN], n = 0, s;
    char text[1024] = "";
    size_t tl = 0;

    for (; *what; what++) {
        if (n == MAX_OPEN) {
            fprintf(stderr, "%s: more than %d fds\n", prog, MAX_OPEN);
            return 2;
        }
        fds[n] = get_fd(*what, strlen(*what));
        if (fds[n] < 0) {
            return 1;
        }
        n++;
        tl += (size_t)snprintf(text + tl, sizeof(text) - tl, "%s%s", tl ? " " : "", *what);
        if (tl >= sizeof(text) - 2) {
            fprintf(stderr, "%s: too many names\n", prog);
            return 2;
        }
    }
    text[tl++] = '\n';
    text[tl] = 0;
    s = standin_unix_connect(sock);
    if (s < 0) {
        fprintf(stderr, "%s: %s: %s\n", prog, sock, strerror(errno));
        return 1;
    }
    if (standin_send_fds(s, fds, n, text) < 0) {
        fprintf(stderr, "%s: sending to %s: %s\n", prog, sock, strerror(errno));
        close(s);
        return 1;
    }
    close(s);
    return 0;
}

/* JSON string body of @s (no quotes added); @s must not hold '"' or '\\'. */
static int json_safe(const char *s)
{
    return !strpbrk(s, "\"\\\n");
}

static int run_qmp(const char *sock, int argc, char **argv)
{
    int q, status = 0;

    q = standin_qmp_connect(sock, 0);
    if (q < 0) {
        fprintf(stderr, "%s: QMP %s: %s\n", prog, sock, strerror(errno));
        return 1;
    }
    for (int i = 0; i < argc; i++) {
        char cmd[512], *reply;
        const char *json;
        int fd = -1;

        if (!strcmp(argv[i], "--getfd") && i + 1 < argc) {
            const char *eq = strchr(argv[++i], '=');

            if (!eq || eq == argv[i] || !json_safe(argv[i])) {
                fprintf(stderr, "%s: --getfd '%s': want NAME=WHAT\n", prog, argv[i]);
                close(q);
                return 2;
            }
            fd = get_fd(eq + 1, strlen(eq + 1));
            if (fd < 0) {
                close(q);
                return 1;
            }
            snprintf(cmd, sizeof(cmd), "{\"execute\": \"getfd\", \"arguments\": {\"fdname\": \"%.*s\"}}",
                     (int)(eq - argv[i]), argv[i]);
            json = cmd;
        } else if (!strcmp(argv[i], "--cmd") && i + 1 < argc) {
            json = argv[++i];
        } else {
            usage();
            close(q);
            return 2;
        }
        reply = standin_qmp(q, json, fd >= 0 ? &fd : NULL, fd >= 0 ? 1 : 0, 0);
        if (!reply) {
            fprintf(stderr, "%s: QMP %s: no reply to %s: %s\n", prog, sock, json, strerror(errno));
            close(q);
            return 1;
        }
        printf("%s\n", reply);
        if (!standin_qmp_reply_ok(reply)) {
            status = 1;
        }
        free(reply);
        if (status) {
            break;
        }
    }
    close(q);
    return status;
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        usage();
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--send-fd")) {
        if (argc < 4) {
            usage();
            return 2;
        }
        unsetenv("STANDIN_DUMP");
        note_ctl();
        leave(run_send(argv[2], argv + 3));
    }
    if (!strcmp(argv[1], "--qmp")) {
        if (argc < 3) {
            usage();
            return 2;
        }
        unsetenv("STANDIN_DUMP");
        note_ctl();
        leave(run_qmp(argv[2], argc - 3, argv + 3));
    }
    if (!strcmp(argv[1], "--")) {
        argv++;
        if (argc < 3) {
            usage();
            return 2;
        }
    } else if (argv[1][0] == '-') {
        usage();
        return 2;
    }
    return run_exec(argv + 1);
}
