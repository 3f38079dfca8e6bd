/* cm_jw: a small JSON writer over a cm_buf, for audit records, state documents and
 * `state show`. It writes the commas between members and elements; strings are escaped
 * as RFC 8785 says (cm_json_str). Keys are written in the order the caller gives them:
 * a canonical (RFC 8785) document needs its caller to give them sorted.
 *
 * Nothing is checked per call: a misuse (a key outside an object, a value with no key
 * in one, an end that does not match, nesting past CM_JW_DEPTH) marks the buffer failed,
 * as an append past its bound does. The producer checks once, with cm_jw_done or
 * cm_buf_failed, and never uses the bytes of a failed buffer. */
#ifndef CM_JSON_H
#define CM_JSON_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

#define CM_JW_DEPTH 32

typedef struct cm_jw {
    cm_buf *b;      /* borrowed */
    unsigned depth; /* open containers */
    uint32_t arr;   /* bit d: the container at depth d+1 is an array */
    uint32_t more;  /* bit d: the container at depth d+1 has a member already */
    bool key;       /* a key is written and its value not yet */
} cm_jw;

/* A writer that appends one JSON value to b (borrowed). */
void cm_jw_init(cm_jw *w, cm_buf *b);

void cm_jw_obj_begin(cm_jw *w);
void cm_jw_obj_end(cm_jw *w);
void cm_jw_arr_begin(cm_jw *w);
void cm_jw_arr_end(cm_jw *w);
void cm_jw_key(cm_jw *w, const char *k);

/* Values: after a key in an object, or as an element of an array. */
void cm_jw_str(cm_jw *w, const char *s); /* NULL writes null */
void cm_jw_strn(cm_jw *w, const char *s, size_t n);
void cm_jw_int(cm_jw *w, int64_t v);
void cm_jw_uint(cm_jw *w, uint64_t v);
void cm_jw_bool(cm_jw *w, bool v);
void cm_jw_null(cm_jw *w);
void cm_jw_hex(cm_jw *w, const void *d, size_t n); /* a string of lower-case hex */
void cm_jw_b64(cm_jw *w, const void *d, size_t n); /* a string of padded base64 */
/* n bytes that are already one JSON value, written as they are. */
void cm_jw_raw(cm_jw *w, const char *json, size_t n);

/* A key and its value. */
void cm_jw_kstr(cm_jw *w, const char *k, const char *v);
void cm_jw_kint(cm_jw *w, const char *k, int64_t v);
void cm_jw_kuint(cm_jw *w, const char *k, uint64_t v);
void cm_jw_kbool(cm_jw *w, const char *k, bool v);
void cm_jw_khex(cm_jw *w, const char *k, const void *d, size_t n);

/* The one check: 0 when every container is closed and the buffer never failed, -1
 * otherwise (and the buffer is marked failed). */
int cm_jw_done(cm_jw *w);
#endif
