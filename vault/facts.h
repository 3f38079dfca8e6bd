/* vlt_fact: what Azure was last seen to say that cmkguard's own model does not hold —
 * a vault's ARM id and permission model, role assignments, a subscription's tenant.
 * Facts are JSON documents under string keys, written by the Azure observe step and
 * persisted with the state (their own table), so a later run translates from them. */
#ifndef VLT_FACTS_H
#define VLT_FACTS_H
#include <stddef.h>

#include "vault/state.h"

/* The document under key (borrowed until the fact changes), or NULL. */
const char *vlt_fact_get(const vlt_state *s, const char *key);
/* Sets (copies doc) or, with doc NULL, removes the fact; durable with the next flush. */
void vlt_fact_put(vlt_state *s, const char *key, const char *doc);
/* Keys that start with prefix, in byte order: a new array of borrowed keys. */
const char **vlt_fact_keys(const vlt_state *s, const char *prefix, size_t *n);

/* Access as committed: the permissions (VLT_PERM_*) a principal holds on a vault, and
 * every principal holding some on it (fn called in no particular order). */
unsigned vlt_state_access(const vlt_state *s, const char *vault_uri, const char *principal);
void vlt_state_access_each(const vlt_state *s, const char *vault_uri,
                           void (*fn)(void *arg, const char *principal, unsigned perms), void *arg);
#endif
