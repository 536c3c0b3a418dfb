/*
 * standin-client: a tiny libc-only client of the stand-in's control socket
 * ($STANDIN_DIR/ctl.sock, protocol in INTERFACE.md): one request line per
 * connection, one JSON object back.
 *
 * Used by tools/standin-ctl, the stand-in's own tests, shell scripts (through
 * standin-ctl) and QEMU qtests.  Needs nothing but libc.
 *
 * Also the small pieces a test or tools/standin-launch needs to hand fds
 * around as libvirt does: SCM_RIGHTS over a unix socket, and a QMP client.
 */
#ifndef STANDIN_CLIENT_H
#define STANDIN_CLIENT_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Fill @buf with the control socket path for runtime directory @dir
 * (NULL: $STANDIN_DIR).  Returns 0, or -1 with errno set (ENOENT: no
 * directory known, ENAMETOOLONG: path too long for a unix socket).
 */
int standin_ctl_path(const char *dir, char *buf, size_t len);

/*
 * Send @request (one line, without newline) to the stand-in whose runtime
 * directory is @dir (NULL: $STANDIN_DIR), wait up to @timeout_ms (<= 0:
 * 5000 ms) for the reply.  Returns the reply without its trailing newline in
 * a malloc()ed string the caller frees, or NULL with errno set.
 */
char *standin_ctl_request_timeout(const char *dir, const char *request, int timeout_ms);
char *standin_ctl_request(const char *dir, const char *request);

/*
 * 1 if @reply is a success reply (it does not carry "ok":false), 0 if not.
 * A dump has no "ok" key and counts as success.
 */
int standin_ctl_reply_ok(const char *reply);

/* ------------------------------------------------ passing fds (SCM_RIGHTS) */

/* A listening unix stream socket at @path (an old one is unlinked); -1/errno. */
int standin_unix_listen(const char *path);
/* A unix stream socket connected to @path; -1/errno. */
int standin_unix_connect(const char *path);

/*
 * Send @nfds fds (at most 16) in one SCM_RIGHTS message on @sock, with
 * @text as its data (NULL or "": a single newline).  0, or -1/errno.
 */
int standin_send_fds(int sock, const int *fds, int nfds, const char *text);

/*
 * Receive one message on @sock within @timeout_ms (<= 0: 5000): up to
 * @maxfds fds into @fds (close-on-exec), its data into @text (NUL-terminated,
 * @textlen > 0).  Returns the number of fds, or -1/errno.
 */
int standin_recv_fds(int sock, int *fds, int maxfds, char *text, size_t textlen, int timeout_ms);

/* ------------------------------------------------------------ a QMP client */

/*
 * Connect to QEMU's QMP socket @path (retrying while it does not exist yet,
 * up to @timeout_ms; <= 0: 10000), read the greeting and negotiate
 * capabilities.  Returns the socket, or -1/errno.
 */
int standin_qmp_connect(const char *path, int timeout_ms);

/*
 * Send one QMP command @json (one line) on @qmp, with @nfds fds attached by
 * SCM_RIGHTS (as libvirt passes an fd for getfd / add-fd), and wait up to
 * @timeout_ms (<= 0: 10000) for its reply, skipping events.  Returns the
 * reply line in a malloc()ed string, or NULL/errno.
 */
char *standin_qmp(int qmp, const char *json, const int *fds, int nfds, int timeout_ms);

/* 1 if @reply is a QMP success ({"return": ...}), 0 if not. */
int standin_qmp_reply_ok(const char *reply);

#ifdef __cplusplus
}
#endif

#endif
