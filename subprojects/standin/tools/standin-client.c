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
