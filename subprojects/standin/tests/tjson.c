#include "tjson.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *p;
    char *err;
} P;

static void ws(P *p)
{
    while (*p->p == ' ' || *p->p == '\n' || *p->p == '\r' || *p->p == '\t') {
        p->p++;
    }
}

static TJ *node(TJType t)
{
    TJ *j = g_new0(TJ, 1);

    j->type = t;
    return j;
}

static TJ *val(P *p, int depth);

static char *str(P *p)
{
    GString *s = g_string_new(NULL);

    p->p++; /* opening quote */
    while (*p->p && *p->p != '"') {
        if (*p->p == '\\') {
            p->p++;
            switch (*p->p) {
            case 'n': g_string_append_c(s, '\n'); break;
            case 't': g_string_append_c(s, '\t'); break;
            case 'r': g_string_append_c(s, '\r'); break;
            case 'b': g_string_append_c(s, '\b'); break;
            case 'f': g_string_append_c(s, '\f'); break;
            case 'u': {
                char hex[5] = { 0 };
                if (strlen(p->p + 1) < 4) {
                    goto bad;
                }
                memcpy(hex, p->p + 1, 4);
                g_string_append_unichar(s, (gunichar)strtoul(hex, NULL, 16));
                p->p += 4;
                break;
            }
            case 0: goto bad;
            default: g_string_append_c(s, *p->p); break;
            }
            p->p++;
        } else {
            g_string_append_c(s, *p->p++);
        }
    }
    if (*p->p != '"') {
        goto bad;
    }
    p->p++;
    return g_string_free(s, FALSE);
bad:
    g_string_free(s, TRUE);
    if (!p->err) {
        p->err = g_strdup("bad string");
    }
    return NULL;
}

static TJ *val(P *p, int depth)
{
    TJ *j;

    if (depth > 64) {
        p->err = g_strdup("too deep");
        return NULL;
    }
    ws(p);
    switch (*p->p) {
    case '{':
        j = node(TJ_OBJ);
        j->items = g_ptr_array_new_with_free_func((GDestroyNotify)tj_free);
        j->keys = g_ptr_array_new_with_free_func(g_free);
        p->p++;
        ws(p);
        if (*p->p == '}') {
            p->p++;
            return j;
        }
        for (;;) {
            char *k;
            TJ *v;

            ws(p);
            if (*p->p != '"') {
                p->err = g_strdup_printf("expected key at '%.20s'", p->p);
                tj_free(j);
                return NULL;
            }
            k = str(p);
            if (!k) {
                tj_free(j);
                return NULL;
            }
            ws(p);
            if (*p->p != ':') {
                g_free(k);
                p->err = g_strdup("expected ':'");
                tj_free(j);
                return NULL;
            }
            p->p++;
            v = val(p, depth + 1);
            if (!v) {
                g_free(k);
                tj_free(j);
                return NULL;
            }
            g_ptr_array_add(j->keys, k);
            g_ptr_array_add(j->items, v);
            ws(p);
            if (*p->p == ',') {
                p->p++;
                continue;
            }
            if (*p->p == '}') {
                p->p++;
                return j;
            }
            p->err = g_strdup_printf("expected ',' or '}' at '%.20s'", p->p);
            tj_free(j);
            return NULL;
        }
    case '[':
        j = node(TJ_ARR);
        j->items = g_ptr_array_new_with_free_func((GDestroyNotify)tj_free);
        p->p++;
        ws(p);
        if (*p->p == ']') {
            p->p++;
            return j;
        }
        for (;;) {
            TJ *v = val(p, depth + 1);

            if (!v) {
                tj_free(j);
                return NULL;
            }
            g_ptr_array_add(j->items, v);
            ws(p);
            if (*p->p == ',') {
                p->p++;
                continue;
            }
            if (*p->p == ']') {
                p->p++;
                return j;
            }
            p->err = g_strdup_printf("expected ',' or ']' at '%.20s'", p->p);
            tj_free(j);
            return NULL;
        }
    case '"': {
        char *s = str(p);
        if (!s) {
            return NULL;
        }
        j = node(TJ_STR);
        j->s = s;
        return j;
    }
    case 't':
        if (!strncmp(p->p, "true", 4)) {
            p->p += 4;
            j = node(TJ_BOOL);
            j->b = true;
            return j;
        }
        break;
    case 'f':
        if (!strncmp(p->p, "false", 5)) {
            p->p += 5;
            return node(TJ_BOOL);
        }
        break;
    case 'n':
        if (!strncmp(p->p, "null", 4)) {
            p->p += 4;
            return node(TJ_NULL);
        }
        break;
    default:
        if (*p->p == '-' || (*p->p >= '0' && *p->p <= '9')) {
            const char *s = p->p;
            while (*p->p && strchr("+-0123456789.eE", *p->p)) {
                p->p++;
            }
            j = node(TJ_NUM);
            j->s = g_strndup(s, p->p - s);
            return j;
        }
    }
    p->err = g_strdup_printf("unexpected '%.20s'", p->p);
    return NULL;
}

TJ *tj_parse(const char *text, char **err)
{
    P p = { .p = text };
    TJ *j;

    if (!text) {
        if (err) {
            *err = g_strdup("no text");
        }
        return NULL;
    }
    j = val(&p, 0);
    if (j) {
        ws(&p);
        if (*p.p) {
            p.err = g_strdup_printf("trailing text '%.20s'", p.p);
            tj_free(j);
            j = NULL;
        }
    }
    if (err) {
        *err = p.err;
    } else {
        g_free(p.err);
    }
    return j;
}

void tj_free(TJ *j)
{
    if (!j) {
        return;
    }
    g_free(j->s);
    if (j->items) {
        g_ptr_array_free(j->items, TRUE);
    }
    if (j->keys) {
        g_ptr_array_free(j->keys, TRUE);
    }
    g_free(j);
}

TJ *tj_get(const TJ *o, const char *key)
{
    if (!o || o->type != TJ_OBJ) {
        return NULL;
    }
    for (guint i = 0; i < o->keys->len; i++) {
        if (!strcmp(g_ptr_array_index(o->keys, i), key)) {
            return g_ptr_array_index(o->items, i);
        }
    }
    return NULL;
}

TJ *tj_at(const TJ *a, guint i)
{
    if (!a || a->type != TJ_ARR || i >= a->items->len) {
        return NULL;
    }
    return g_ptr_array_index(a->items, i);
}

guint tj_len(const TJ *a)
{
    return (a && (a->type == TJ_ARR || a->type == TJ_OBJ)) ? a->items->len : 0;
}

int64_t tj_int(const TJ *j, int64_t dflt)
{
    if (!j) {
        return dflt;
    }
    switch (j->type) {
    case TJ_BOOL:
        return j->b;
    case TJ_NUM:
        if (strpbrk(j->s, ".eE")) {
            return (int64_t)g_ascii_strtod(j->s, NULL);
        }
        return j->s[0] == '-' ? g_ascii_strtoll(j->s, NULL, 10)
                              : (int64_t)g_ascii_strtoull(j->s, NULL, 10);
    case TJ_STR:
        return (int64_t)g_ascii_strtoull(j->s, NULL, 0);
    default:
        return dflt;
    }
}

const char *tj_str(const TJ *j)
{
    return (j && j->type == TJ_STR) ? j->s : NULL;
}

int64_t tj_get_int(const TJ *o, const char *key, int64_t dflt)
{
    return tj_int(tj_get(o, key), dflt);
}

const char *tj_get_str(const TJ *o, const char *key)
{
    return tj_str(tj_get(o, key));
}

bool tj_get_bool(const TJ *o, const char *key, bool dflt)
{
    TJ *j = tj_get(o, key);

    if (!j) {
        return dflt;
    }
    return j->type == TJ_BOOL ? j->b : tj_int(j, dflt) != 0;
}
