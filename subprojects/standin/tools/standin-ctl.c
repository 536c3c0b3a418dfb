/*
 * standin-ctl: command-line client of the stand-in's control socket.
 *
 *   standin-ctl [-d STANDIN_DIR] [-r] dump
 *   standin-ctl [-d STANDIN_DIR] fault IOCTL NTH ERRNO [ENTRY]
 *   standin-ctl [-d STANDIN_DIR] fault-clear
 *   standin-ctl [-d STANDIN_DIR] engine pause|resume
 *   standin-ctl [-d STANDIN_DIR] event BDF HEX64
 *   standin-ctl [-d STANDIN_DIR] [-r] leaks
 *
 * -d: the stand-in's runtime directory (default $STANDIN_DIR);
 * -r: raw JSON on one line (default: indented).
 * Exit status: 0 success; 1 the stand-in answered {"ok":false,...} (or, for
 * "leaks", there are leaks); 2 no answer (no socket, timeout); 64 usage.
 * libc only, like standin-client.c.
 */
#include "standin-client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: standin-ctl [-d STANDIN_DIR] [-r] dump\n"
            "       standin-ctl [-d STANDIN_DIR] fault IOCTL NTH ERRNO [ENTRY]\n"
            "       standin-ctl [-d STANDIN_DIR] fault-clear\n"
            "       standin-ctl [-d STANDIN_DIR] engine pause|resume\n"
            "       standin-ctl [-d STANDIN_DIR] event BDF HEX64\n"
            "       standin-ctl [-d STANDIN_DIR] [-r] leaks\n"
            "exit: 0 ok, 1 refused (or leaks found), 2 no answer, 64 usage\n");
}

/* print JSON text indented by two spaces a level */
static void pretty(const char *s, FILE *out)
{
    int depth = 0, in_str = 0;

    for (; *s; s++) {
        char c = *s;

        if (in_str) {
            fputc(c, out);
            if (c == '\\' && s[1]) {
                fputc(*++s, out);
            } else if (c == '"') {
                in_str = 0;
            }
            continue;
        }
        switch (c) {
        case '"':
            in_str = 1;
            fputc(c, out);
            break;
        case '{':
        case '[': {
            const char *n = s + 1;

            while (*n == ' ' || *n == '\n' || *n == '\t' || *n == '\r') {
                n++;
            }
            if (*n == (c == '{' ? '}' : ']')) {   /* empty: keep on one line */
                fputc(c, out);
                fputc(*n, out);
                s = n;
                break;
            }
            fputc(c, out);
            depth++;
            fprintf(out, "\n%*s", depth * 2, "");
            break;
        }
        case '}':
        case ']':
            depth--;
            fprintf(out, "\n%*s%c", depth * 2, "", c);
            break;
        case ',':
            fprintf(out, ",\n%*s", depth * 2, "");
            break;
        case ':':
            fputs(": ", out);
            break;
        case ' ':
        case '\n':
        case '\t':
        case '\r':
            break;
        default:
            fputc(c, out);
        }
    }
    fputc('\n', out);
}

/*
 * Find the value of top-level key @key in the JSON object @s; returns its
 * start and sets *len, or NULL.
 */
static const char *top_value(const char *s, const char *key, size_t *len)
{
    int depth = 0, in_str = 0;
    size_t klen = strlen(key);

    for (const char *p = s; *p; p++) {
        if (in_str) {
            if (*p == '\\' && p[1]) {
                p++;
            } else if (*p == '"') {
                in_str = 0;
            }
            continue;
        }
        if (*p == '"') {
            if (depth == 1 && !strncmp(p + 1, key, klen) && p[1 + klen] == '"') {
                const char *v = p + 2 + klen;
                int d = 0, str = 0;
                const char *e;

                while (*v == ' ' || *v == ':') {
                    v++;
                }
                for (e = v; *e; e++) {
                    if (str) {
                        if (*e == '\\' && e[1]) {
                            e++;
                        } else if (*e == '"') {
                            str = 0;
                        }
                        continue;
                    }
                    if (*e == '"') {
                        str = 1;
                    } else if (*e == '{' || *e == '[') {
                        d++;
                    } else if (*e == '}' || *e == ']') {
                        if (d == 0) {
                            break;
                        }
                        if (--d == 0) {
                            e++;
                            break;
                        }
                    } else if (*e == ',' && d == 0) {
                        break;
                    }
                }
                *len = (size_t)(e - v);
                return v;
            }
            in_str = 1;
        } else if (*p == '{' || *p == '[') {
            depth++;
        } else if (*p == '}' || *p == ']') {
            depth--;
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    const char *dir = NULL;
    char line[1024];
    char *reply;
    int raw = 0, opt, leaks = 0, rc;

    while ((opt = getopt(argc, argv, "d:rh")) != -1) {
        switch (opt) {
        case 'd':
            dir = optarg;
            break;
        case 'r':
            raw = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 64;
        }
    }
    argc -= optind;
    argv += optind;
    if (argc < 1) {
        usage(stderr);
        return 64;
    }
    if (!strcmp(argv[0], "dump") && argc == 1) {
        snprintf(line, sizeof(line), "dump");
    } else if (!strcmp(argv[0], "leaks") && argc == 1) {
        snprintf(line, sizeof(line), "dump");
        leaks = 1;
    } else if (!strcmp(argv[0], "fault") && argc == 4) {
        snprintf(line, sizeof(line), "fault %s %s %s", argv[1], argv[2], argv[3]);
    } else if (!strcmp(argv[0], "fault") && argc == 5) {
        snprintf(line, sizeof(line), "fault %s %s %s %s", argv[1], argv[2], argv[3], argv[4]);
    } else if (!strcmp(argv[0], "engine") && argc == 2 &&
               (!strcmp(argv[1], "pause") || !strcmp(argv[1], "resume"))) {
        snprintf(line, sizeof(line), "engine %s", argv[1]);
    } else if (!strcmp(argv[0], "fault-clear") && argc == 1) {
        snprintf(line, sizeof(line), "fault-clear");
    } else if (!strcmp(argv[0], "event") && argc == 3) {
        snprintf(line, sizeof(line), "event %s %s", argv[1], argv[2]);
    } else {
        usage(stderr);
        return 64;
    }
    reply = standin_ctl_request(dir, line);
    if (!reply) {
        char path[256];

        if (standin_ctl_path(dir, path, sizeof(path)) < 0) {
            fprintf(stderr, "standin-ctl: no STANDIN_DIR (use -d): %s\n", strerror(errno));
        } else {
            fprintf(stderr, "standin-ctl: %s: %s\n", path, strerror(errno));
        }
        return 2;
    }
    rc = standin_ctl_reply_ok(reply) ? 0 : 1;
    if (leaks && rc == 0) {
        size_t len = 0;
        const char *v = top_value(reply, "leaks", &len);
        char *copy;

        if (!v) {
            fprintf(stderr, "standin-ctl: the dump has no \"leaks\"\n");
            free(reply);
            return 1;
        }
        copy = strndup(v, len);
        if (raw) {
            puts(copy);
        } else {
            pretty(copy, stdout);
        }
        for (const char *p = copy; *p; p++) {
            if (*p == '{') {
                rc = 1;      /* at least one leak */
                break;
            }
        }
        free(copy);
    } else if (raw) {
        puts(reply);
    } else {
        pretty(reply, stdout);
    }
    if (rc && !leaks) {
        size_t len = 0;
        const char *e = top_value(reply, "error", &len);

        if (e) {
            fprintf(stderr, "standin-ctl: %.*s\n", (int)len, e);
        }
    }
    free(reply);
    return rc;
}
