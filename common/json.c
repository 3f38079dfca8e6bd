#include "common/json.h"

#include "common/util.h"

void cm_jw_init(cm_jw *w, cm_buf *b)
{
    w->b = b;
    w->depth = 0;
    w->arr = w->more = 0;
    w->key = false;
}

static uint32_t bit(const cm_jw *w)
{
    return (uint32_t)1 << (w->depth - 1);
}

static bool in_array(const cm_jw *w)
{
    return w->depth && (w->arr & bit(w));
}

/* Before a value: the comma when it is not the first element, or the key it follows. */
static void value(cm_jw *w)
{
    if (w->key) {
        w->key = false;
        return;
    }
    if (!w->depth)
        return;
    if (!in_array(w)) { /* a value in an object needs its key */
        cm_buf_fail(w->b);
        return;
    }
    if (w->more & bit(w))
        cm_buf_addc(w->b, ',');
    w->more |= bit(w);
}

static void jw_open(cm_jw *w, bool arr, char c)
{
    value(w);
    if (w->depth == CM_JW_DEPTH) {
        cm_buf_fail(w->b);
        return;
    }
    w->depth++;
    if (arr)
        w->arr |= bit(w);
    else
        w->arr &= ~bit(w);
    w->more &= ~bit(w);
    cm_buf_addc(w->b, c);
}

static void jw_close(cm_jw *w, bool arr, char c)
{
    if (!w->depth || w->key || in_array(w) != arr) {
        cm_buf_fail(w->b);
        return;
    }
    w->depth--;
    cm_buf_addc(w->b, c);
}

void cm_jw_obj_begin(cm_jw *w)
{
    jw_open(w, false, '{');
}

void cm_jw_obj_end(cm_jw *w)
{
    jw_close(w, false, '}');
}

void cm_jw_arr_begin(cm_jw *w)
{
    jw_open(w, true, '[');
}

void cm_jw_arr_end(cm_jw *w)
{
    jw_close(w, true, ']');
}

void cm_jw_key(cm_jw *w, const char *k)
{
    if (!w->depth || in_array(w) || w->key || !k) {
        cm_buf_fail(w->b);
        return;
    }
    if (w->more & bit(w))
        cm_buf_addc(w->b, ',');
    w->more |= bit(w);
    cm_json_cstr(w->b, k);
    cm_buf_addc(w->b, ':');
    w->key = true;
}

void cm_jw_str(cm_jw *w, const char *s)
{
    value(w);
    cm_json_cstr(w->b, s);
}

void cm_jw_strn(cm_jw *w, const char *s, size_t n)
{
    value(w);
    cm_json_str(w->b, s, n);
}

/* The decimal digits of v, with a minus sign when neg, appended to b. */
static void put_digits(cm_buf *b, uint64_t v, bool neg)
{
    char d[21];
    size_t i = sizeof d;
    do {
        d[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    if (neg)
        d[--i] = '-';
    cm_buf_add(b, d + i, sizeof d - i);
}

void cm_jw_int(cm_jw *w, int64_t v)
{
    value(w);
    put_digits(w->b, v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v, v < 0);
}

void cm_jw_uint(cm_jw *w, uint64_t v)
{
    value(w);
    put_digits(w->b, v, false);
}

void cm_jw_bool(cm_jw *w, bool v)
{
    value(w);
    cm_buf_adds(w->b, v ? "true" : "false");
}

void cm_jw_null(cm_jw *w)
{
    value(w);
    cm_buf_adds(w->b, "null");
}

void cm_jw_hex(cm_jw *w, const void *d, size_t n)
{
    static const char dig[] = "0123456789abcdef";
    const uint8_t *p = d;
    char chunk[128];
    size_t used = 0;
    value(w);
    cm_buf_addc(w->b, '"');
    for (size_t i = 0; i < n; i++) {
        chunk[used++] = dig[p[i] >> 4];
        chunk[used++] = dig[p[i] & 15];
        if (used == sizeof chunk) {
            cm_buf_add(w->b, chunk, used);
            used = 0;
        }
    }
    cm_buf_add(w->b, chunk, used);
    cm_buf_addc(w->b, '"');
}

void cm_jw_b64(cm_jw *w, const void *d, size_t n)
{
    value(w);
    cm_buf_addc(w->b, '"');
    cm_b64_encode(d, n, w->b);
    cm_buf_addc(w->b, '"');
}

void cm_jw_raw(cm_jw *w, const char *json, size_t n)
{
    value(w);
    cm_buf_add(w->b, json, n);
}

void cm_jw_kstr(cm_jw *w, const char *k, const char *v)
{
    cm_jw_key(w, k);
    cm_jw_str(w, v);
}

void cm_jw_kint(cm_jw *w, const char *k, int64_t v)
{
    cm_jw_key(w, k);
    cm_jw_int(w, v);
}

void cm_jw_kuint(cm_jw *w, const char *k, uint64_t v)
{
    cm_jw_key(w, k);
    cm_jw_uint(w, v);
}

void cm_jw_kbool(cm_jw *w, const char *k, bool v)
{
    cm_jw_key(w, k);
    cm_jw_bool(w, v);
}

void cm_jw_khex(cm_jw *w, const char *k, const void *d, size_t n)
{
    cm_jw_key(w, k);
    cm_jw_hex(w, d, n);
}

int cm_jw_done(cm_jw *w)
{
    if (w->depth || w->key)
        cm_buf_fail(w->b);
    return cm_buf_failed(w->b) ? -1 : 0;
}
