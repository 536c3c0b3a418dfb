/*
 * standin-client: a tiny libc-only client of the stand-in's control socket
 * ($STANDIN_DIR/ctl.sock, protocol in INTERFACE.md): one request line per
 * connection, one JSON object back.
 *
 * Used by tools/standin-ctl, the stand-in's own tests, shell scripts (through
 * standin-ctl) and QEMU qtests.  Needs nothing but libc.
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

#ifdef __cplusplus
}
#endif

#endif
