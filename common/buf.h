/* cm_buf: a growable byte buffer with a hard upper bound (curl dynbuf style) and a
 * sticky error (SQLite's sqlite3_str): the first append that would pass the bound fails,
 * leaves the bytes as they were and marks the buffer failed; every later append is a
 * no-op that fails too. A producer appends without checking each call and checks
 * cm_buf_failed once before it uses the bytes: a failed buffer holds a cut, never a
 * record. Running out of memory stops the process (cm_oom), so the bound is the only way
 * an append fails.
 *
 * The struct is a value type: callers embed it and call cm_buf_free when done.
 *
 * Which secret type: a buffer made with cm_buf_init_secret is for plaintext and key
 * material of a size not known in advance (DER private keys, opened data, sealed
 * plaintext on its way in); it wipes the old bytes whenever it grows, is reset or is
 * freed, so no copy is left behind and cm_buf_free cannot forget. Fixed-size key bytes
 * (DEKs, the master key, HKDF output) are cry_secret (crypto/crypto.h). */
#ifndef CM_BUF_H
#define CM_BUF_H
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct cm_buf {
    char *p; /* always NUL-terminated when non-NULL */
    size_t len;
    size_t cap;
    size_t max;  /* growth past this fails with -1 */
    bool secret; /* growth, reset and free wipe the old bytes */
    bool failed; /* an append failed: later appends fail too, until reset */
} cm_buf;

#define CM_BUF_MAX_DEFAULT ((size_t)64 << 20)

void cm_buf_init(cm_buf *b, size_t max);
/* A buffer for plaintext or key bytes: no copy is left behind when it grows or goes. */
void cm_buf_init_secret(cm_buf *b, size_t max);
/* Frees the bytes (wiping them first in a secret buffer); b can be used again as new. */
void cm_buf_free(cm_buf *b);
/* Empties b (wiping a secret buffer's bytes) and clears its error: a new start. */
void cm_buf_reset(cm_buf *b);
/* Appends; -1 when the bound would be passed or the buffer failed before. When there is
 * room the bytes are copied at once (n < cap - len keeps the terminator's byte, and
 * len + n cannot then overflow); otherwise cm_buf_add_grow grows the buffer first. */
int cm_buf_add_grow(cm_buf *b, const void *d, size_t n);
static inline int cm_buf_add(cm_buf *b, const void *d, size_t n)
{
    if (b->failed || !b->p || n >= b->cap - b->len || b->len + n > b->max)
        return cm_buf_add_grow(b, d, n);
    if (n)
        memcpy(b->p + b->len, d, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}
int cm_buf_adds(cm_buf *b, const char *s);
/* One byte, stored at once when there is room, as cm_buf_add; else cm_buf_add1. */
int cm_buf_add1(cm_buf *b, char c);
static inline int cm_buf_addc(cm_buf *b, char c)
{
    if (b->failed || !b->p || b->len + 1 >= b->cap || b->len >= b->max)
        return cm_buf_add1(b, c);
    b->p[b->len++] = c;
    b->p[b->len] = '\0';
    return 0;
}
int cm_buf_addf(cm_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int cm_buf_vaddf(cm_buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Marks b failed, as an append past the bound would: for writers over a buffer that
 * find their own misuse (cm_json's nesting). */
void cm_buf_fail(cm_buf *b);
/* Whether an append failed since the last init or reset: check once, at the end. */
static inline bool cm_buf_failed(const cm_buf *b)
{
    return b->failed;
}
static inline bool cm_buf_ok(const cm_buf *b)
{
    return !b->failed;
}
/* Cuts b back to its first len bytes (len <= b->len) and clears its error: what a
 * producer appended after len, cut or whole, is gone (wiped in a secret buffer). */
void cm_buf_cut(cm_buf *b, size_t len);
/* Takes the bytes out of the buffer: the caller frees the result; b is left empty. Check
 * cm_buf_failed first: a failed buffer's bytes are a cut. Not for a secret buffer: what
 * it hands over is no longer wiped for the caller. */
char *cm_buf_take(cm_buf *b);
#endif
