/* vault: key vaults, keys and versions, access policies, resources and their
 * wrapped data keys — and the physics of envelope encryption (SPEC §3).
 *
 * Changes go through a transaction: objects are cloned on first write, the
 * clones are mutated, and commit swaps them in. Abort frees the clones, so a
 * denied or failed event leaves the state exactly as it was. */
#ifndef VLT_STATE_H
#define VLT_STATE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/util.h"
#include "crypto/crypto.h"
#include "vault/event.h"

/* Vaults and keys, like resources, are vault's own: a key version holds its sealed
 * private material and, once loaded, the key itself. Other modules read views. */
typedef struct vlt_vault vlt_vault;
typedef struct vlt_key vlt_key;
typedef struct vlt_keyver vlt_keyver;

typedef struct vlt_vault_view {
    const char *uri, *name, *tenant, *region, *subscription;
    bool soft_delete, purge_protection;
    int64_t retention_days;
} vlt_vault_view;

typedef struct vlt_key_view {
    const char *uri;                    /* versionless */
    const char *name, *vault_uri, *kty; /* kty NULL: not known yet */
    int64_t size;
    bool deleted;
    const char *latest; /* the latest version's name */
} vlt_key_view;

typedef struct vlt_keyver_view {
    const char *version;
    bool enabled, latest;
    /* Validity (Key Vault's nbf and exp), seconds since the epoch; no bound unless has_. */
    bool has_nbf, has_exp;
    int64_t nbf, exp;
} vlt_keyver_view;

/* Views into out (strings borrowed, valid until the state or transaction changes the
 * object); NULL when the object is NULL, else out. */
const vlt_vault_view *vlt_vault_view_of(const vlt_vault *v, vlt_vault_view *out);
const vlt_key_view *vlt_key_view_of(const vlt_key *k, vlt_key_view *out);
/* kv is a version of k (vlt_key_version). */
const vlt_keyver_view *vlt_keyver_view_of(const vlt_key *k, const vlt_keyver *kv,
                                          vlt_keyver_view *out);

/* A resource is vault's own (its wrapped DEKs and, while unlocked, its plaintext DEK
 * never leave vault/). Other modules read it through a view: the same facts, no keys. */
typedef struct vlt_resource vlt_resource;
typedef struct vlt_res_view {
    const char *id, *kind, *tenant, *region, *subscription;
    bool cmk;
    const char *key_uri; /* canonical binding (versioned or not); NULL on MMK */
    bool versionless;
    const char *requested_key; /* resource.created only: the key asked for at creation */
    bool identity;
    const char *principal, *identity_tenant;
    bool locked, lost;
    const char *const *reasons; /* lock reasons, sorted */
    size_t nreasons;
} vlt_res_view;
/* The view of r into out (strings borrowed from r, valid until the state or transaction
 * changes it); NULL when r is NULL, else out. */
const vlt_res_view *vlt_res_view_of(const vlt_resource *r, vlt_res_view *out);

typedef struct vlt_state vlt_state;
typedef struct vlt_txn vlt_txn;
/* A resource id's handle in its state (0: an id the state has never held). */
typedef uint32_t vlt_rh;

/* An action taken on a resource's keys (audit `actions`). */
typedef struct vlt_action {
    const char *op; /* wrap, rewrap, lockout, unlock, shred */
    char *from, *to;
    bool ok;
    char *error;
} vlt_action;

/* New state. path NULL keeps everything in memory with an ephemeral master key;
 * otherwise the SQLite file at path is opened (created) and loaded, and the
 * master key is read from (or created at, mode 0600) master_path. */
vlt_state *vlt_state_open(const char *path, const char *master_path, cm_err *err);
/* The service master key at path (0600, exactly 32 bytes), created there when missing
 * and may_create (when another process creates it at the same moment, theirs is read);
 * NULL with err. */
cry_secret *vlt_master_load(const char *path, bool may_create, cm_err *err);
void vlt_state_free(vlt_state *s);
/* `state verify`: checks every stored record and the state head of the file at path,
 * calling bad for each failure. The number of failures, or -1 (err) when the check
 * could not run (no such file, the master key missing or not this state's). */
int vlt_state_verify(const char *path, const char *master_path,
                     void (*bad)(void *arg, const char *what), void *arg, cm_err *err);

/* Writes pending changes to the store (no-op in memory): one transaction, in which the
 * parts other modules attached to the store (vlt_state_store) write theirs too. */
int vlt_state_flush(vlt_state *s, cm_err *err);
/* The state's store (borrowed): where other modules declare their tables and attach
 * what they keep with the state (store/store.h); a store in memory for a state without
 * a file. */
struct sto_db *vlt_state_store(vlt_state *s);

const vlt_vault *vlt_state_vault(const vlt_state *s, const char *uri);
const vlt_key *vlt_state_key(const vlt_state *s, const char *uri);
const vlt_resource *vlt_state_resource(const vlt_state *s, const char *id);
/* Sorted resource ids (borrowed strings); the caller frees the array. */
const char **vlt_state_resource_ids(const vlt_state *s, size_t *n);

/* Events seen before (duplicates): CloudEvents names one by source and id together. */
bool vlt_state_seen(vlt_state *s, const char *source, const char *id);
void vlt_state_mark_seen(vlt_state *s, const char *source, const char *id);
/* ARM ids compare case-insensitively (SPEC §2a): the spelling a resource was first
 * seen with, for any spelling of its id (borrowed until the next commit); NULL when no
 * such resource exists. */
const char *vlt_state_resource_spelling(const vlt_state *s, const char *id);

/* --- facts held by other partitions (SPEC §7a) ---
 * With several instances a partition's state holds its own tenants' vaults and keys, but
 * a resource may name a key in another tenant's vault, which another partition's state
 * holds. A foreign lookup says what is known of such a vault or key elsewhere (the
 * catalog topic, stream/catalog.h): the public facts of its document, no key material.
 *
 * The state asks it only for the rules' context of a resource (vlt_txn_binding), and
 * only for a vault URI or versionless key URI it does not hold itself, in either view of
 * the transaction. What it answers is read-only: it is copied into an object the
 * transaction holds until commit or abort, never put in the state, never written. The
 * physics never sees it: a key operation under a foreign key is one under an unknown key
 * (the wrap fails, as with a key no state knows). Access policies are not among the
 * facts: a resource's access to a foreign vault reads as none. */
typedef struct vlt_foreign {
    vlt_vault_view vault;        /* a vault (key false) */
    vlt_key_view key;            /* a key (key true); latest is ignored: the last version */
    const vlt_keyver_view *vers; /* the key's versions in creation order (latest ignored) */
    size_t nvers;
} vlt_foreign;
/* Fills out (strings borrowed until the lookup is asked again) for uri, a canonical vault
 * URI (key false) or versionless key URI (key true): true when it is known. */
typedef bool (*vlt_foreign_fn)(void *arg, const char *uri, bool key, vlt_foreign *out);
/* Sets s's foreign lookup (fn NULL: none, as a new state has); arg is borrowed. */
void vlt_state_set_foreign(vlt_state *s, vlt_foreign_fn fn, void *arg);
/* A key's versions, in creation order (the last is the latest): how many, and the i-th. */
size_t vlt_key_nversions(const vlt_key *k);
const vlt_keyver *vlt_key_version_at(const vlt_key *k, size_t i);

/* --- resources that leave for another tenant's partition (SPEC §7a) ---
 * With several instances, a resource moved to another tenant leaves its partition: its
 * later events are keyed by the new tenant. With handing over on (off in a new state),
 * each committed move to another tenant is noted; vlt_state_hand_over then takes each
 * noted resource out of the state (a transaction of its own, tracked as a change) and
 * gives its stored document (wrapped keys only: a plaintext DEK is never in it) with a
 * MAC under a key derived from the master key, for a derived event to the new tenant's
 * partition (cmkguard.resource.arrived), where vlt_txn_apply checks the MAC and
 * recreates it. Single-instance states never hand over. */
typedef struct vlt_handover {
    char *id, *tenant, *subscription; /* the resource, where it went */
    char *cause, *source, *time;      /* the move: its id, source and time */
    char *doc, *mac;                  /* its document, and the MAC (hex) over id, tenant, doc */
} vlt_handover;
void vlt_state_set_handover(vlt_state *s, bool on);
/* The resources noted since the last call, taken out of s, into *out (the caller frees it
 * with vlt_handovers_free): how many; -1 with err when one cannot be (the MAC key). */
int vlt_state_hand_over(vlt_state *s, vlt_handover **out, size_t *n, cm_err *err);
void vlt_handovers_free(vlt_handover *h, size_t n);

/* --- transactions --- */
vlt_txn *vlt_txn_begin(vlt_state *s);
/* Applies the event's own change (SPEC §2/§3) to the transaction. Returns 0, CM_EINPUT
 * with reason when the event cannot apply (subject missing, purge refused…), or CM_EENV
 * when the crypto library failed (new key material). */
int vlt_txn_apply(vlt_txn *t, const vlt_event *ev, char *reason, size_t rn);
/* The proposed (txn) and prior (committed) views; NULL when absent. */
const vlt_vault *vlt_txn_vault(vlt_txn *t, const char *uri, bool prior);
const vlt_key *vlt_txn_key(vlt_txn *t, const char *uri, bool prior);
const vlt_resource *vlt_txn_resource(vlt_txn *t, const char *id, bool prior);
/* A resource by its handle (from vlt_txn_affected_h): what the functions above and
 * below do by id, without looking the id up again. */
const vlt_resource *vlt_txn_resource_at(vlt_txn *t, vlt_rh h, bool prior);
/* The resources the event touches, in id order: its subject, or the resources bound
 * to the vault/key it names. For access events only the resources holding that
 * principal can change; bystanders adds the other bound resources (for rules that
 * run on every bound resource). Borrowed until commit/abort; ask once per txn.
 * vlt_txn_affected_h gives their handles, in the same order (the ids' through *ids). */
const char *const *vlt_txn_affected(vlt_txn *t, bool bystanders, size_t *n);
const vlt_rh *vlt_txn_affected_h(vlt_txn *t, bool bystanders, const char *const **ids, size_t *n);
/* Count of CMK resources bound to a vault or key, as the transaction leaves them. */
int64_t vlt_txn_bound_count(vlt_txn *t, const char *vault_uri, const char *key_uri);
/* The same for a vault (k NULL) or a key of this state: no lookup of its URI. */
int64_t vlt_txn_bound_count_of(vlt_txn *t, const vlt_vault *v, const vlt_key *k);
/* What a resource's key reference (its binding, or the key it asked for at creation)
 * names, as the transaction leaves it or before it (prior): the vault, the key and the
 * version (each NULL when missing). False when the resource names no key. Each key URI
 * is parsed once per state. */
typedef struct vlt_binding {
    const vlt_vault *v;
    const vlt_key *k;
    const vlt_keyver *kv;
    bool versionless;
} vlt_binding;
bool vlt_txn_binding(vlt_txn *t, const vlt_resource *r, bool prior, vlt_binding *b);
/* Rule-held lock reasons ("rule:ID") for a resource: set or clear one. */
void vlt_txn_rule_lock(vlt_txn *t, const char *resource_id, const char *rule_id, bool hold);
void vlt_txn_rule_lock_at(vlt_txn *t, vlt_rh h, const char *rule_id, bool hold);
/* Settles physics: usability, rewrap, lockout, unlock, shred. Actions for each
 * affected resource are appended to acts (owned by the txn). Returns 0, CM_EINPUT when
 * a key operation cannot be done in this state, or CM_EENV when the crypto library
 * failed (either way with its message in reason). */
int vlt_txn_settle(vlt_txn *t, char *reason, size_t rn);
/* Makes the key material the applied event left to be made (a rotation's new version,
 * made while settling unwraps DEKs under the old one): 0, or CM_EENV with the message
 * vlt_txn_apply would have given. vlt_txn_settle does it; a caller that decides the event
 * without settling it (denied) calls this first, so that a library failure stops the
 * event as it does when the material is made at once. */
int vlt_txn_ready(vlt_txn *t, char *reason, size_t rn);
/* Actions per resource id (after settle). */
const vlt_action *vlt_txn_actions(vlt_txn *t, const char *resource_id, size_t *n);
const vlt_action *vlt_txn_actions_at(vlt_txn *t, vlt_rh h, size_t *n);
/* Whether the resource's visible state changed in this transaction. */
bool vlt_txn_changed(vlt_txn *t, const char *resource_id);
bool vlt_txn_changed_at(vlt_txn *t, vlt_rh h);
void vlt_txn_commit(vlt_txn *t);
void vlt_txn_abort(vlt_txn *t);

/* Permissions (VLT_PERM_*) a principal holds on a vault, as the transaction leaves
 * them, or before it (prior). 0 for a NULL principal. */
unsigned vlt_txn_access(vlt_txn *t, const char *vault_uri, const char *principal, bool prior);
/* The same for a resource's identity on a vault, both objects of this state: no lookup. */
unsigned vlt_txn_access_of(vlt_txn *t, const vlt_vault *v, const vlt_resource *r, bool prior);
/* Resolves a resource's key binding: key object, version (NULL when missing). */
const vlt_keyver *vlt_key_version(const vlt_key *k, const char *version);
/* Whether a key version may wrap at time `at` (seconds since the epoch): from its nbf on,
 * before its exp (SPEC §3). Unwrapping needs no validity. When not, why (if non-NULL)
 * gets the reason. */
bool vlt_keyver_valid_at(const vlt_keyver *kv, int64_t at, char *why, size_t wn);

/* --- data at rest (needs a store) --- */
enum vlt_class { VLT_CLASS_DATA, VLT_CLASS_BLOCKLIST };
/* Seals plaintext under the resource's DEK and stores it. 0, or with err: CM_EINPUT
 * without a store, CM_EREFUSED when the resource is missing, locked or lost, CM_EENV
 * when a key or the store fails. */
int vlt_data_put(vlt_state *s, const char *rid, enum vlt_class c, const void *d, size_t n,
                 cm_err *err);
/* Opens stored data into out (plaintext), or copies the sealed bytes when sealed; codes
 * as vlt_data_put, and CM_EREFUSED when nothing is stored. */
int vlt_data_get(vlt_state *s, const char *rid, enum vlt_class c, bool sealed, cm_buf *out,
                 cm_err *err);
/* --- upgrading a state written by an older build (vault/migrate.c) --- */
typedef struct vlt_migrate_report {
    int from, to; /* formats */
    size_t vaults, keys, resealed, resources, access, seen;
} vlt_migrate_report;
/* Upgrades the state at path to this build's format, once: 0 done, 1 nothing to do
 * (already this format), -1 with err (and nothing left half-read). */
int vlt_state_migrate(const char *path, const char *master_path, vlt_migrate_report *rep,
                      cm_err *err);

/* --- a state as bytes (vault/snapshot.c) ---
 * A partition's state (SPEC §7a) is one vlt_state: snapshot it, restore it elsewhere,
 * free it to drop it. The snapshot is appended to out (its bound must hold the whole
 * state) and authenticated under the state's master key. */
int vlt_state_snapshot(vlt_state *s, cm_buf *out, cm_err *err);
/* A new in-memory state from a snapshot made under master: NULL with err when it is not
 * one (CM_EINPUT), does not authenticate (CM_ECHECK) or does not load (CM_EINPUT). */
vlt_state *vlt_state_restore(const void *p, size_t n, const cry_secret *master, cm_err *err);

/* JSON for `state show`: one resource, or everything. */
int vlt_state_show(vlt_state *s, const char *rid, cm_buf *out, cm_err *err);
#endif
