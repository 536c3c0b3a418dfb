/*
 * The control socket, $STANDIN_DIR/ctl.sock (INTERFACE.md): one request line
 * per connection, one JSON object and a newline back.
 *   dump | fault <IOCTL> <nth> <ERRNO> [entry] | fault-clear | event <BDF> <64 hex>
 *   | engine pause | engine resume
 */
#include "standin.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

static int ctl_fd = -1;

static char *err_json(const char *msg)
{
    GString *s = g_string_new("{\"ok\":false,\"error\":\"");

    for (const char *p = msg; *p; p++) {
        if (*p == '"' || *p == '\\') {
            g_string_append_c(s, '\\');
        }
        g_string_append_c(s, *p);
    }
    g_string_append(s, "\"}");
    return g_string_free(s, FALSE);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* Called with st_lock held. */
static char *handle(char *line)
{
    char *argv[8];
    int argc = 0;
    char *save = NULL;

    for (char *t = strtok_r(line, " \t\r\n", &save); t && argc < 8; t = strtok_r(NULL, " \t\r\n", &save)) {
        argv[argc++] = t;
    }
    if (!argc) {
        return err_json("empty request");
    }
    if (!strcmp(argv[0], "dump") && argc == 1) {
        return st_dump_json();
    }
    if (!strcmp(argv[0], "engine") && argc == 2 &&
        (!strcmp(argv[1], "pause") || !strcmp(argv[1], "resume"))) {
        /* hold the CMDQV engine between passes, to make things happen at once */
        st_engine_pause(!strcmp(argv[1], "pause"));
        st_log(2, "ctl: engine %s", argv[1]);
        return g_strdup("{\"ok\":true}");
    }
    if (!strcmp(argv[0], "fault-clear") && argc == 1) {
        st_fault_clear();
        st_log(2, "ctl: faults cleared");
        return g_strdup("{\"ok\":true}");
    }
    if (!strcmp(argv[0], "fault")) {
        char *end;
        unsigned long nth;
        int err;

        long entry = -1;

        if (argc != 4 && argc != 5) {
            return err_json("usage: fault <IOCTL_NAME> <nth> <ERRNO_NAME> [entry]");
        }
        if (argc == 5) {
            if (strcmp(argv[1], "IOMMU_HWPT_INVALIDATE")) {
                return err_json("an entry index is for IOMMU_HWPT_INVALIDATE only");
            }
            errno = 0;
            entry = strtol(argv[4], &end, 0);
            if (errno || *end || entry < 0) {
                return err_json("entry is not a number");
            }
        }
        if (!st_ioctl_known(argv[1])) {
            return err_json("unknown ioctl name");
        }
        errno = 0;
        nth = strtoul(argv[2], &end, 0);
        if (errno || *end || argv[2][0] == '-') {
            return err_json("nth is not a number");
        }
        err = st_errno_parse(argv[3]);
        if (err <= 0) {
            return err_json("unknown errno name");
        }
        if (st_fault_add_entry(argv[1], nth, err, entry) < 0) {
            return err_json("too many faults armed");
        }
        st_log(2, "ctl: fault %s nth %lu errno %s armed", argv[1], nth, argv[3]);
        return g_strdup("{\"ok\":true}");
    }
    if (!strcmp(argv[0], "event")) {
        uint8_t evt[32];
        struct st_pci *p = NULL;
        struct st_obj *dev, *vdev, *q = NULL;
        uint32_t vsid;

        if (argc != 3) {
            return err_json("usage: event <BDF> <64 hex digits>");
        }
        if (strlen(argv[2]) != 64) {
            return err_json("the event record must be 64 hex digits");
        }
        for (int i = 0; i < 32; i++) {
            int hi = hexval(argv[2][2 * i]), lo = hexval(argv[2][2 * i + 1]);

            if (hi < 0 || lo < 0) {
                return err_json("the event record must be 64 hex digits");
            }
            evt[i] = hi << 4 | lo;
        }
        for (int i = 0; i < st_host.npci; i++) {
            if (!strcasecmp(st_host.pci[i].bdf, argv[1])) {
                p = &st_host.pci[i];
            }
        }
        if (!p) {
            return err_json("no such PCI function");
        }
        dev = p->devobj;
        vdev = dev ? dev->vdev : NULL;
        if (!vdev) {
            return err_json("no vDEVICE for this device: event dropped");
        }
        for (struct st_obj *o = vdev->ctx->objs; o; o = o->next) {
            if (o->type == OT_VEVENTQ && o->viommu == vdev->viommu && o->etype == IOMMU_VEVENTQ_TYPE_ARM_SMMUV3) {
                q = o;
            }
        }
        if (!q) {
            return err_json("no ARM_SMMUV3 vEVENTQ on the vIOMMU: event dropped");
        }
        /* the StreamID field (bits [63:32] of the first word) carries the vSID */
        vsid = (uint32_t)vdev->virt_id;
        evt[4] = vsid;
        evt[5] = vsid >> 8;
        evt[6] = vsid >> 16;
        evt[7] = vsid >> 24;
        st_veventq_report(vdev->viommu, IOMMU_VEVENTQ_TYPE_ARM_SMMUV3, evt, sizeof(evt));
        return g_strdup("{\"ok\":true}");
    }
    return err_json("unknown request");
}

static void serve(int c)
{
    char buf[1024];
    size_t len = 0;
    char *reply;
    struct pollfd pfd = { .fd = c, .events = POLLIN };

    while (len < sizeof(buf) - 1) {
        ssize_t n;

        if (poll(&pfd, 1, 2000) <= 0) {
            break;
        }
        n = syscall(SYS_read, c, buf + len, sizeof(buf) - 1 - len);
        if (n <= 0) {
            break;
        }
        len += n;
        if (memchr(buf, '\n', len)) {
            break;
        }
    }
    buf[len] = 0;
    pthread_mutex_lock(&st_lock);
    reply = handle(buf);
    pthread_mutex_unlock(&st_lock);
    {
        size_t rl = strlen(reply), off = 0;

        while (off < rl) {
            ssize_t n = send(c, reply + off, rl - off, MSG_NOSIGNAL);

            if (n <= 0) {
                break;
            }
            off += n;
        }
        send(c, "\n", 1, MSG_NOSIGNAL);
    }
    g_free(reply);
}

static void *ctl_thread(void *arg)
{
    (void)arg;
    for (;;) {
        int c = accept4(ctl_fd, NULL, NULL, SOCK_CLOEXEC);

        if (c < 0) {
            if (errno == EINTR || errno == ECONNABORTED) {
                continue;
            }
            if (errno == EBADF || errno == EINVAL) {
                return NULL;
            }
            usleep(10000);
            continue;
        }
        serve(c);
        syscall(SYS_close, c);
    }
    return NULL;
}

void st_ctl_start(void)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    pthread_t t;
    sigset_t all, old;

    if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/ctl.sock", st_dir) >= sizeof(sa.sun_path)) {
        st_log(1, "%s/ctl.sock: path too long for a unix socket, no control socket", st_dir);
        return;
    }
    ctl_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (ctl_fd < 0) {
        st_log(1, "control socket: %s", strerror(errno));
        return;
    }
    unlink(sa.sun_path);
    if (bind(ctl_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(ctl_fd, 16) < 0) {
        st_log(1, "control socket %s: %s", sa.sun_path, strerror(errno));
        syscall(SYS_close, ctl_fd);
        ctl_fd = -1;
        return;
    }
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    if (pthread_create(&t, NULL, ctl_thread, NULL) == 0) {
        pthread_detach(t);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}
