/* A state as entries, and what changed in it as entries (SPEC §7a): the unit that a
 * partition's changelog carries (stream/changelog.c).
 *
 * An entry is one thing the state persists: a vault, key or resource (its stored
 * document), an access policy, a seen event, a fact; and, from the modules that keep
 * their own with a state in its store, a chain head (pipeline/chains.h) or an input
 * offset (stream/outbox.h), whose entries their parts list and apply (store/store.h).
 * A state without a file tracks what its transactions change only once asked to
 * (vlt_state_track); a state with one always does, for its flush. The changes of a
 * batch are the entries named by that tracking; applying them, in order, to a state
 * that was equal before the batch makes it equal after it. */
#ifndef VLT_DELTA_H
#define VLT_DELTA_H
#include <stdbool.h>
#include <stddef.h>

#include "common/util.h"
#include "crypto/crypto.h"
#include "store/store.h"
#include "vault/state.h"

/* The vault's kinds of entry; the other parts' kinds are theirs ('c' chain heads,
 * 'o' input offsets). */
enum vlt_entry_kind {
    VLT_E_VAULT = 'v',    /* name: URI; value: the vault's document */
    VLT_E_KEY = 'k',      /* name: versionless URI; value: the key's document */
    VLT_E_RES = 'r',      /* name: resource id; value: the resource's document */
    VLT_E_ACL = 'a',      /* name: "VAULT\x1fPRINCIPAL"; value: permissions, u32 LE */
    VLT_E_SEEN = 's',     /* name: "SOURCE\x1fID"; no value */
    VLT_E_SEEN_ANY = 'l', /* name: an id seen from every source (format 1); no value */
    VLT_E_FACT = 'f',     /* name: the fact's key; value: its JSON document */
};

/* An entry (sto_entry): name and value borrowed, neither NUL-terminated; gone (a deleted
 * object, a revoked access policy, a removed fact) when val is NULL. */
typedef sto_entry vlt_entry;
/* Called for each entry; a negative return stops the walk and is returned. */
typedef sto_entry_fn vlt_entry_fn;

/* A new in-memory state under a copy of master (borrowed), to restore into; NULL with
 * err when the master key cannot be held for key wrap. */
vlt_state *vlt_state_new_mem(const cry_secret *master, cm_err *err);
/* Whether a state without a file tracks what its transactions change (off when made). */
void vlt_state_track(vlt_state *s, bool on);
/* Every entry of the state, in a canonical order (objects, access, facts, then those of
 * the parts attached to its store, by name; seen events in the seen set's own order, which a
 * restore reproduces), so equal states give equal entries. 0, fn's negative return, or -1 with err
 * (a document past its bound). */
int vlt_state_entries(vlt_state *s, vlt_entry_fn fn, void *arg, cm_err *err);
/* The entries changed since the changes were last cleared (or the store flushed), in a
 * canonical order, deleted ones with no value. Codes as vlt_state_entries. */
int vlt_state_changes(vlt_state *s, vlt_entry_fn fn, void *arg, cm_err *err);
/* Forgets the tracked changes of a state without a file, the parts' too (a flush does
 * it for a state with one: then this does nothing). */
void vlt_state_changes_clear(vlt_state *s);
/* Applies one entry (borrowed) to s, replacing what it names; another part's through
 * it, which must be attached (a kind no part takes is malformed). 0, or CM_EINPUT with
 * err when the entry is malformed (s may then hold part of it: drop it). */
int vlt_state_entry_apply(vlt_state *s, const vlt_entry *e, cm_err *err);
#endif
