/*
 * tjson: a small JSON reader for the stand-in's tests (the dump is JSON and
 * json-glib is not a dependency).  Numbers are kept as double and as the
 * original text so 64-bit integers survive.
 */
#ifndef TJSON_H
#define TJSON_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

typedef enum { TJ_NULL, TJ_BOOL, TJ_NUM, TJ_STR, TJ_ARR, TJ_OBJ } TJType;

typedef struct TJ TJ;
struct TJ {
    TJType type;
    bool b;
    char *s;            /* string value, or the number's text */
    GPtrArray *items;   /* array elements / object values */
    GPtrArray *keys;    /* object keys (char *) */
};

TJ *tj_parse(const char *text, char **err);
void tj_free(TJ *j);
TJ *tj_get(const TJ *obj, const char *key);        /* NULL if absent / not an object */
TJ *tj_at(const TJ *arr, guint i);
guint tj_len(const TJ *arr);
int64_t tj_int(const TJ *j, int64_t dflt);          /* numbers, "0x..." strings, bools */
const char *tj_str(const TJ *j);                     /* NULL unless a string */
int64_t tj_get_int(const TJ *obj, const char *key, int64_t dflt);
const char *tj_get_str(const TJ *obj, const char *key);
bool tj_get_bool(const TJ *obj, const char *key, bool dflt);

#endif
