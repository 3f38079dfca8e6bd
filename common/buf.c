#include "common/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"

void cm_buf_init(cm_buf *b, size_t max)
{
    b->p = NULL;
    b->len = b->cap = 0;
    b->max = max ? max : CM_BUF_MAX_DEFAULT;
    b->secret = false;
    b->failed = false;
}

void cm_buf_init_secret(cm_buf *b, size_t max)
{
    cm_buf_init(b, max);
    b->secret = true;
}

void cm_buf_free(cm_buf *b)
{
    if (b->secret && b->p)
        cm_wipe(b->p, b->cap);
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
    b->failed = false;
}

void cm_buf_reset(cm_buf *b)
{
    if (b->secret && b->p)
        cm_wipe(b->p, b->cap);
    b->len = 0;
    b->failed = false;
    if (b->p)
        b->p[0] = '\0';
}

void cm_buf_cut(cm_buf *b, size_t len)
{
    if (!b->p || len > b->len)
        return;
    if (b->secret)
        cm_wipe(b->p + len, b->len - len);
    b->len = len;
    b->p[len] = '\0';
    b->failed = false;
}

void cm_buf_fail(cm_buf *b)
{
    b->failed = true;
}

static int grow(cm_buf *b, size_t extra)
{
    if (b->failed)
        return -1;
    if (extra > b->max || b->len > b->max - extra) {
        b->failed = true;
        return -1;
    }
    size_t need = b->len + extra + 1;
    if (need <= b->cap && b->p) /* a buffer with no bytes has no capacity either */
        return 0;
    /* The first room fits the first append (what is written once stays small); later
     * growth doubles. */
    size_t ncap = b->cap ? b->cap * 2 : (need + 15) & ~(size_t)15;
    while (ncap < need)
        ncap *= 2;
    if (ncap > b->max + 1)
        ncap = b->max + 1;
    if (b->secret && b->p) {
        char *np = cm_xmalloc(ncap);
        memcpy(np, b->p, b->len + 1);
        cm_wipe(b->p, b->cap);
        free(b->p);
        b->p = np;
    } else {
        b->p = cm_xrealloc(b->p, ncap);
    }
    b->cap = ncap;
    return 0;
}

int cm_buf_add_grow(cm_buf *b, const void *d, size_t n)
{
    if (grow(b, n) < 0)
        return -1;
    if (n)
        memcpy(b->p + b->len, d, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

int cm_buf_adds(cm_buf *b, const char *s)
{
    return cm_buf_add(b, s, strlen(s));
}

int cm_buf_add1(cm_buf *b, char c)
{
    return cm_buf_add(b, &c, 1);
}

int cm_buf_vaddf(cm_buf *b, const char *fmt, va_list ap)
{
    if (b->failed)
        return -1;
    va_list ap2;
    va_copy(ap2, ap);
    char tmp[256];
    int rc = -1, n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    if (n < 0) {
        b->failed = true;
    } else if ((size_t)n < sizeof tmp) {
        rc = cm_buf_add(b, tmp, (size_t)n);
    } else if (grow(b, (size_t)n) == 0) {
        vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap2);
        b->len += (size_t)n;
        rc = 0;
    }
    va_end(ap2);
    if (b->secret)
        cm_wipe(tmp, sizeof tmp);
    return rc;
}

int cm_buf_addf(cm_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = cm_buf_vaddf(b, fmt, ap);
    va_end(ap);
    return rc;
}

char *cm_buf_take(cm_buf *b)
{
    char *p = b->p;
    if (!p)
        p = cm_xcalloc(1, 1);
    b->p = NULL;
    b->len = b->cap = 0;
    b->failed = false;
    return p;
}
