/* Memory: allocation that stops the process cleanly when there is none, and wiping.
 * The floor of the house: it uses nothing of cmkguard but the fault seam. */
#ifndef CM_MEM_H
#define CM_MEM_H
#include <stddef.h>

/* Overwrites n bytes in a way the compiler keeps. */
void cm_wipe(void *p, size_t n);
char *cm_strdup(const char *s); /* NULL in, NULL out; aborts on no memory */
char *cm_strndup(const char *s, size_t n);
/* Out of memory: says so and exits 3 (runtime failure) at once. */
_Noreturn void cm_oom(size_t n);
void *cm_xmalloc(size_t n); /* cm_oom on no memory */
void *cm_xcalloc(size_t n, size_t m);
void *cm_xrealloc(void *p, size_t n);
#endif
