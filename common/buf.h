/* cm_buf: a growable byte buffer with a hard upper bound (curl dynbuf style).
 * The struct is a value type: callers embed it and call cm_buf_free when done. */
#ifndef CM_BUF_H
#define CM_BUF_H
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cm_buf {
    char *p;    /* always NUL-terminated when non-NULL */
    size_t len;
    size_t cap;
    size_t max; /* growth past this fails with -1 */
    bool secret; /* growth and free wipe the old bytes */
} cm_buf;

#define CM_BUF_MAX_DEFAULT ((size_t)64 << 20)

void cm_buf_init(cm_buf *b, size_t max);
/* A buffer for plaintext or key bytes: no copy is left behind when it grows or goes. */
void cm_buf_init_secret(cm_buf *b, size_t max);
void cm_buf_free(cm_buf *b);
/* Like cm_buf_free but wipes the bytes first: for buffers that held secrets. */
void cm_buf_free_secret(cm_buf *b);
void cm_buf_reset(cm_buf *b);
int cm_buf_add(cm_buf *b, const void *d, size_t n);
int cm_buf_adds(cm_buf *b, const char *s);
int cm_buf_addc(cm_buf *b, char c);
int cm_buf_addf(cm_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int cm_buf_vaddf(cm_buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Takes the bytes out of the buffer: the caller frees the result; b is left empty. */
char *cm_buf_take(cm_buf *b);
#endif
