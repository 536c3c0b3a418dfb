/*
 * standin-client: libc-only client of the stand-in's control socket.
 * See include/standin-client.h.
 */
#include "standin-client.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

int standin_ctl_path(const char *dir, char *buf, size_t len)
{
    struct sockaddr_un sun;
    size_t n;

    if (!dir || !*dir) {
        dir = getenv("STANDIN_DIR");
    }
    if (!dir || !*dir) {
        errno = ENOENT;
        return -1;
    }
    n = strlen(dir);
    if (n + sizeof("/ctl.sock") > len || n + sizeof("/ctl.sock") > sizeof(sun.sun_path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(buf, dir, n);
    memcpy(buf + n, "/ctl.sock", sizeof("/ctl.sock"));
    return 0;
}

static long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

char *standin_ctl_request_timeout(const char *dir, const char *request, int timeout_ms)
{
    struct sockaddr_un sun;
    char *buf = NULL, *nb;
    size_t cap = 0, len = 0;
    long deadline;
    int fd, saved;

    if (timeout_ms <= 0) {
        timeout_ms = 5000;
    }
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    if (standin_ctl_path(dir, sun.sun_path, sizeof(sun.sun_path)) < 0) {
        return NULL;
    }
    if (!request || strchr(request, '\n')) {
        errno = EINVAL;
        return NULL;
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return NULL;
    }
    if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
        write_all(fd, request, strlen(request)) < 0 || write_all(fd, "\n", 1) < 0) {
        goto fail;
    }
    shutdown(fd, SHUT_WR);
    deadline = now_ms() + timeout_ms;
    for (;;) {
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        long left = deadline - now_ms();
        ssize_t r;
        int pr;

        if (left <= 0) {
            errno = ETIMEDOUT;
            goto fail;
        }
        pr = poll(&pfd, 1, (int)left);
        if (pr < 0) {
            if (errno == EINTR) {
                continue;
            }
            goto fail;
        }
        if (pr == 0) {
            continue;
        }
        if (len + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 65536;
            nb = realloc(buf, cap);
            if (!nb) {
                goto fail;
            }
            buf = nb;
        }
        r = read(fd, buf + len, cap - len - 1);
        if (r < 0) {
            if (errno == EINTR || errno == EAGAIN) {
                continue;
            }
            goto fail;
        }
        if (r == 0) {
            break;
        }
        len += (size_t)r;
    }
    close(fd);
    if (!buf || len == 0) {
        free(buf);
        errno = ECONNRESET;
        return NULL;
    }
    buf[len] = 0;
    while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r')) {
        buf[--len] = 0;
    }
    return buf;

fail:
    saved = errno;
    close(fd);
    free(buf);
    errno = saved;
    return NULL;
}

char *standin_ctl_request(const char *dir, const char *request)
{
    return standin_ctl_request_timeout(dir, request, 0);
}

int standin_ctl_reply_ok(const char *reply)
{
    const char *p;

    if (!reply) {
        return 0;
    }
    for (p = strstr(reply, "\"ok\""); p; p = strstr(p + 1, "\"ok\"")) {
        const char *q = p + 4;

        while (*q == ' ' || *q == '\t') {
            q++;
        }
        if (*q != ':') {
            continue;
        }
        q++;
        while (*q == ' ' || *q == '\t') {
            q++;
        }
        if (!strncmp(q, "false", 5)) {
            return 0;
        }
        if (!strncmp(q, "true", 4)) {
            return 1;
        }
    }
    return reply[0] == '{';
}

/* ------------------------------------------------ passing fds (SCM_RIGHTS) */

#define MAX_FDS 16

static int unix_addr(const char *path, struct sockaddr_un *sun)
{
    memset(sun, 0, sizeof(*sun));
    sun->sun_family = AF_UNIX;
    if (!path || strlen(path) >= sizeof(sun->sun_path)) {
        errno = path ? ENAMETOOLONG : EINVAL;
        return -1;
    }
    strcpy(sun->sun_path, path);
    return 0;
}

int standin_unix_listen(const char *path)
{
    struct sockaddr_un sun;
    int fd, saved;

    if (unix_addr(path, &sun) < 0) {
        return -1;
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -1;
    }
    unlink(path);
    if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 || listen(fd, 8) < 0) {
        saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

int standin_unix_connect(const char *path)
{
    struct sockaddr_un sun;
    int fd, saved;

    if (unix_addr(path, &sun) < 0) {
        return -1;
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -1;
    }
    if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
        saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

/* sendmsg() of @len bytes of @data with @nfds fds attached to the first byte */
static int send_with_fds(int sock, const char *data, size_t len, const int *fds, int nfds)
{
    union {
        char buf[CMSG_SPACE(sizeof(int) * MAX_FDS)];
        struct cmsghdr align;
    } u;
    struct iovec iov;
    struct msghdr msg;
    ssize_t w;

    if (nfds < 0 || nfds > MAX_FDS || (nfds && !fds) || !len) {
        errno = EINVAL;
        return -1;
    }
    while (len) {
        memset(&msg, 0, sizeof(msg));
        iov.iov_base = (void *)data;
        iov.iov_len = len;
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        if (nfds) {
            struct cmsghdr *c;

            memset(&u, 0, sizeof(u));
            msg.msg_control = u.buf;
            msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
            c = CMSG_FIRSTHDR(&msg);
            c->cmsg_level = SOL_SOCKET;
            c->cmsg_type = SCM_RIGHTS;
            c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
            memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
        }
        w = sendmsg(sock, &msg, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        nfds = 0;             /* the fds went with the first byte */
        data += w;
        len -= (size_t)w;
    }
    return 0;
}

int standin_send_fds(int sock, const int *fds, int nfds, const char *text)
{
    if (!text || !*text) {
        text = "\n";
    }
    return send_with_fds(sock, text, strlen(text), fds, nfds);
}

static int wait_in(int fd, long deadline)
{
    for (;;) {
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        long left = deadline - now_ms();
        int pr;

        if (left <= 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        pr = poll(&pfd, 1, (int)left);
        if (pr > 0) {
            return 0;
        }
        if (pr < 0 && errno != EINTR) {
            return -1;
        }
    }
}

int standin_recv_fds(int sock, int *fds, int maxfds, char *text, size_t textlen, int timeout_ms)
{
    union {
        char buf[CMSG_SPACE(sizeof(int) * MAX_FDS)];
        struct cmsghdr align;
    } u;
    struct iovec iov;
    struct msghdr msg;
    struct cmsghdr *c;
    ssize_t r;
    int n = 0;

    if (!text || !textlen || maxfds < 0 || (maxfds && !fds)) {
        errno = EINVAL;
        return -1;
    }
    if (wait_in(sock, now_ms() + (timeout_ms > 0 ? timeout_ms : 5000)) < 0) {
        return -1;
    }
    memset(&msg, 0, sizeof(msg));
    memset(&u, 0, sizeof(u));
    iov.iov_base = text;
    iov.iov_len = textlen - 1;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = u.buf;
    msg.msg_controllen = sizeof(u.buf);
    do {
        r = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    } while (r < 0 && errno == EINTR);
    if (r < 0) {
        return -1;
    }
    text[r] = 0;
    for (c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            int cnt = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));

            for (int i = 0; i < cnt; i++) {
                int fd;

                memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
                if (n < maxfds) {
                    fds[n++] = fd;
                } else {
                    close(fd);
                }
            }
        }
    }
    return n;
}

/* ------------------------------------------------------------ a QMP client */

/* One line from @fd (without its end), malloc()ed; NULL/errno. */
static char *read_line(int fd, long deadline)
{
    size_t cap = 256, len = 0;
    char *buf = malloc(cap), *nb;

    if (!buf) {
        return NULL;
    }
    for (;;) {
        char ch;
        ssize_t r;

        if (wait_in(fd, deadline) < 0) {
            break;
        }
        r = read(fd, &ch, 1);
        if (r < 0 && (errno == EINTR || errno == EAGAIN)) {
            continue;
        }
        if (r <= 0) {
            if (r == 0) {
                errno = ECONNRESET;
            }
            break;
        }
        if (ch == '\n') {
            while (len && buf[len - 1] == '\r') {
                len--;
            }
            buf[len] = 0;
            return buf;
        }
        if (len + 2 > cap) {
            nb = realloc(buf, cap * 2);
            if (!nb) {
                break;
            }
            buf = nb;
            cap *= 2;
        }
        buf[len++] = ch;
    }
    free(buf);
    return NULL;
}

static int is_reply(const char *line)
{
    while (*line == ' ') {
        line++;
    }
    return !strncmp(line, "{\"return\"", 9) || !strncmp(line, "{\"error\"", 8);
}

int standin_qmp_reply_ok(const char *reply)
{
    while (reply && *reply == ' ') {
        reply++;
    }
    return reply && !strncmp(reply, "{\"return\"", 9);
}

char *standin_qmp(int qmp, const char *json, const int *fds, int nfds, int timeout_ms)
{
    long deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 10000);
    size_t len;
    char *line;

    if (!json || strchr(json, '\n')) {
        errno = EINVAL;
        return NULL;
    }
    len = strlen(json);
    {
        char *msg = malloc(len + 2);
        int r;

        if (!msg) {
            return NULL;
        }
        memcpy(msg, json, len);
        msg[len] = '\n';
        msg[len + 1] = 0;
        r = send_with_fds(qmp, msg, len + 1, fds, nfds);
        free(msg);
        if (r < 0) {
            return NULL;
        }
    }
    while ((line = read_line(qmp, deadline))) {
        if (is_reply(line)) {
            return line;
        }
        free(line);           /* an event */
    }
    return NULL;
}

int standin_qmp_connect(const char *path, int timeout_ms)
{
    long deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 10000);
    char *line, *reply;
    int fd, saved;

    for (;;) {
        fd = standin_unix_connect(path);
        if (fd >= 0) {
            break;
        }
        if ((errno != ENOENT && errno != ECONNREFUSED) || now_ms() >= deadline) {
            return -1;
        }
        {
            struct timespec ts = { 0, 20 * 1000 * 1000 };

            nanosleep(&ts, NULL);
        }
    }
    line = read_line(fd, deadline);       /* {"QMP": {...}} */
    if (!line || strncmp(line, "{\"QMP\"", 6)) {
        saved = line ? EPROTO : errno;
        free(line);
        goto fail;
    }
    free(line);
    reply = standin_qmp(fd, "{\"execute\": \"qmp_capabilities\"}", NULL, 0, (int)(deadline - now_ms()));
    if (!reply || !standin_qmp_reply_ok(reply)) {
        saved = reply ? EPROTO : errno;
        free(reply);
        goto fail;
    }
    free(reply);
    return fd;

fail:
    close(fd);
    errno = saved;
    return -1;
}
