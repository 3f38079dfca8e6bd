/* Fault injection: seams that make the Nth allocation, I/O call, SQLite allocation or
 * crypto operation fail, so tests can walk every failure point of a scenario.
 *
 * CMKGUARD_FAULT=KIND:N fails the Nth call of that kind once; KIND:N+ fails it and every
 * later one; KIND:count only counts, and says at exit how many calls there were. KIND is
 * alloc, io, sqlite or crypto. Unset, each seam costs one branch. */
#ifndef CM_FAULT_H
#define CM_FAULT_H
#include <stdbool.h>

enum cm_fault_kind { CM_FAULT_ALLOC, CM_FAULT_IO, CM_FAULT_SQLITE, CM_FAULT_CRYPTO };

extern bool cm_fault_armed;

/* Reads CMKGUARD_FAULT once; -1 (with a message) when it is malformed. */
int cm_fault_setup(void);
/* Whether seams of this kind are armed at all. */
bool cm_fault_kind_armed(enum cm_fault_kind k);
/* Counts one call of kind k; true when this call must fail (and says so on stderr). */
bool cm_fault_hit(enum cm_fault_kind k, const char *what);

#define CM_FAULT(k, what) (__builtin_expect(cm_fault_armed, 0) && cm_fault_hit((k), (what)))
#endif
