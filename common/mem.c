#include "common/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fault.h"

void cm_wipe(void *p, size_t n)
{
    volatile unsigned char *v = p;
    while (n--)
        *v++ = 0;
}

void cm_oom(size_t n)
{
    /* Nothing after the last commit is kept; a rerun picks up from there. */
    fprintf(stderr, "cmkguard: out of memory (%zu bytes); stopping\n", n);
    _Exit(3);
}

void *cm_xmalloc(size_t n)
{
    void *p = CM_FAULT(CM_FAULT_ALLOC, "malloc") ? NULL : malloc(n ? n : 1);
    if (!p)
        cm_oom(n);
    return p;
}

void *cm_xcalloc(size_t n, size_t m)
{
    void *p = CM_FAULT(CM_FAULT_ALLOC, "calloc") ? NULL : calloc(n ? n : 1, m ? m : 1);
    if (!p)
        cm_oom(n * m);
    return p;
}

void *cm_xrealloc(void *p, size_t n)
{
    void *q = CM_FAULT(CM_FAULT_ALLOC, "realloc") ? NULL : realloc(p, n ? n : 1);
    if (!q)
        cm_oom(n);
    return q;
}

char *cm_strndup(const char *s, size_t n)
{
    if (!s)
        return NULL;
    char *d = cm_xmalloc(n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *cm_strdup(const char *s)
{
    return s ? cm_strndup(s, strlen(s)) : NULL;
}
