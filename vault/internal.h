/* Internals shared by the files of vault/ (not part of its interface). */
#ifndef VLT_INTERNAL_H
#define VLT_INTERNAL_H
#include "common/idset.h"
#include "common/intern.h"
#include "common/json.h"
#include "common/map.h"
#include "common/strset.h"
#include "common/u64map.h"
#include "store/store.h"
#include "vault/state.h"

#define VLT_MMK "mmk"

/* vault/tables.c: the tables vault/ owns in the store. Documents are indexed by
 * vlt_doc_table. */
enum vlt_doc_table { VLT_T_VAULT, VLT_T_KEY, VLT_T_RESOURCE };
extern const sto_table vlt_tab_doc[3];
extern const sto_table vlt_tab_acl, vlt_tab_seen, vlt_tab_seen_legacy, vlt_tab_seen_batches,
    vlt_tab_facts, vlt_tab_data;

/* Every string an object holds is interned in its state's pools (vlt_str): objects
 * share one copy, and copying an object copies pointers. */
struct vlt_vault {
    const char *uri, *name, *tenant, *region, *subscription;
    bool soft_delete, purge_protection;
    int64_t retention_days;
};

struct vlt_keyver {
    const char *version;
    bool enabled;
    /* Validity (Key Vault's nbf and exp), seconds since the epoch; no bound unless has_. */
    bool has_nbf, has_exp;
    int64_t nbf, exp;
    cm_buf sealed; /* private material sealed under the master key */
    cry_pkey *pk;  /* loaded on first use */
    /* No material yet (sealed empty): a rotation's new version, made by the time its
     * transaction settles or at the first use of its key (vlt_keyver_generate_later).
     * Never in the committed state. */
    bool unmade;
};

struct vlt_key {
    const char *uri; /* versionless */
    const char *name, *vault_uri, *kty;
    int64_t size;
    bool deleted;
    vlt_keyver *vers; /* creation order; the last is the latest */
    size_t nvers;
};

/* A key whose type Azure has not said yet (announced by an Event Grid event) has kty
 * NULL: rules see it as unknown. Its versions still need material to exist, so they
 * get a stand-in RSA 2048 key pair. */
static inline const char *vlt_key_material_kty(const vlt_key *k)
{
    return k->kty ? k->kty : "RSA";
}

static inline int64_t vlt_key_material_size(const vlt_key *k)
{
    return k->kty ? k->size : 2048;
}

/* A data key wrapped under the MMK (AES key wrap of a 32-byte key), held in place. */
#define VLT_KW_LEN (CRY_DEK_LEN + 8)
typedef struct vlt_kwrapped {
    uint8_t len; /* 0: none */
    uint8_t b[VLT_KW_LEN];
} vlt_kwrapped;
/* A read-only buffer over w's bytes, for vlt_unwrap. */
static inline cm_buf vlt_kw_view(const vlt_kwrapped *w)
{
    cm_buf v = {.p = (char *)w->b, .len = w->len, .cap = w->len, .max = w->len};
    return v;
}
/* Sets w from a wrapped key: CM_EINPUT when it is not of the size an MMK wrap has. */
int vlt_kw_set(vlt_kwrapped *w, const void *p, size_t n);

/* A resource's DEK wrapped under its wrap_ref, held in place when it has the size of an
 * MMK wrap; a longer one (an RSA-OAEP wrap) in a block of its own whose address the
 * place holds. Read it through vlt_wdek_view; change it through vlt_wdek_set and
 * vlt_wdek_clear. */
#define VLT_WDEK_BIG 0xff
typedef struct vlt_wdek {
    uint8_t len; /* 0: none; VLT_WDEK_BIG: in holds a struct vlt_wdek_big * */
    uint8_t in[VLT_KW_LEN];
} vlt_wdek;
cm_buf vlt_wdek_view(const vlt_wdek *w); /* read-only bytes, for vlt_unwrap */
void vlt_wdek_set(vlt_wdek *w, const void *p, size_t n);
void vlt_wdek_clear(vlt_wdek *w); /* wipes the bytes (a shredded DEK) */

/* 248 bytes: the wrapped keys and the plaintext DEK in place, the flags as bits. */
struct vlt_resource {
    const char *id, *kind, *tenant, *region, *subscription;
    const char *key_uri;       /* canonical binding (versioned or not); NULL on MMK */
    const char *requested_key; /* resource.created only: the key asked for at creation */
    const char *wrap_ref;      /* "mmk" or the versioned key URI the DEK is wrapped under */
    const char *principal, *identity_tenant;
    const char **reasons; /* lock reasons, sorted (the array is the resource's own) */
    uint32_t nreasons;
    bool cmk : 1, versionless : 1, identity : 1, locked : 1, lost : 1;
    /* The plaintext DEK while unlocked and in use: wiped when it goes and when the
     * resource is freed; all zero while not held. Set through vlt_res_set_dek, read
     * through vlt_res_dek. */
    bool dek_held : 1;
    uint8_t dek[CRY_DEK_LEN];
    vlt_wdek wdek;     /* the DEK wrapped under wrap_ref */
    vlt_kwrapped wsvc; /* Face: the service-layer DEK, always under the MMK */
    vlt_kwrapped wblk; /* blocklist names: their own DEK, always under the MMK */
};
/* A copy of r's plaintext DEK, a new secret the caller frees; NULL when it holds none. */
cry_secret *vlt_res_dek(const vlt_resource *r);
/* Makes dek (taken; NULL: none) r's plaintext DEK, wiping the one it held. A DEK not of
 * the DEK's length is not held (it is unwrapped again when needed). */
void vlt_res_set_dek(vlt_resource *r, cry_secret *dek);

/* Resource ids (the pool's copies, compared by address). Most lists hold one id (a
 * principal names one resource), kept in place: an array only from the second on. */
typedef struct vlt_idlist {
    union {
        const char *one; /* cap 0 */
        const char **many;
    } u;
    uint32_t n, cap;
} vlt_idlist;
static inline const char *vlt_idl_at(const vlt_idlist *l, size_t i)
{
    return l->cap ? l->u.many[i] : l->u.one;
}

/* Strings the state owns one by one (event ids waiting for the next flush). */
typedef struct vlt_strlist {
    char **s;
    size_t n, cap;
} vlt_strlist;

struct vlt_state {
    /* Pools: resource ids, and every other string. */
    cm_intern *rids, *strs;
    cm_itab resources;        /* over rids */
    cm_itab vaults, keys;     /* over strs, by URI */
    cm_itab by_key, by_vault; /* over strs: uri -> vlt_idlist of CMK resource ids */
    cm_itab by_principal;     /* over strs: identity principal -> vlt_idlist of resource ids */
    /* Live resources by their id case-folded (SPEC §2a): slots of (the folded id's hash,
     * the handle of the spelling first seen), matched without case; no folded copies. */
    struct vlt_fold_slot {
        uint32_t hash, h; /* h 0: empty */
    } * fold;
    size_t fold_cap, fold_len;
    cm_idset *seen;      /* (source handle in strs, id): the one structure that grows with events */
    cm_strset *seen_any; /* ids migrated without a source: seen from every source; or NULL */
    /* Handles (rids) of ids no resource has since the last transaction (deleted, or
     * made by one that aborted): forgotten when the next one begins, once nothing is
     * left to write about them (vlt_state_forget_gone). */
    uint32_t *gone;
    size_t ngone, capgone;
    cm_u64map acl; /* vlt_acl_pair(vault, principal) -> perms | VLT_ACL_PRESENT */
    cry_secret *master;
    cry_kw *mmk;    /* the master key held ready for key wrap (NULL: wrap with it per call) */
    vlt_txn *spare; /* the last transaction, emptied, for the next one */
    char master_check[65]; /* from the store; empty until a master key is bound */
    sto_db *db;            /* the store; in memory when not persistent */
    bool persistent;       /* whether it has a file: only then are changes marked to write */
    int64_t next_seen, flush_seen; /* the next row of seen_batches; as the flush leaves it */
    /* what flush must write: handles of vaults and keys (strs), resources (rids) */
    cm_hset dirty[3];
    vlt_strlist dirty_seen;
    cm_u64map dirty_acl;         /* pairs whose access changed */
    cm_map *facts, *dirty_facts; /* vault/facts.c: key -> JSON document; NULL until used */
    bool track; /* without a file: track changes anyway, for a changelog (vault/delta.c) */
    /* Key URIs that resources hold (by handle, over strs) -> what each names, parsed once
     * (vault/txn.c): its index in binds, plus one; 0 when it is not a key URI. */
    cm_u64map bind;
    struct vlt_bind {
        uint32_t vh, kh, verh; /* the vault's URI, the versionless key URI, the version (0: none) */
    } * binds;
    size_t nbinds, capbinds;
    vlt_foreign_fn foreign; /* what other partitions hold (vlt_state_set_foreign); or NULL */
    void *foreign_arg;
    bool handover;       /* resources moved to another tenant leave (vault/handover.c) */
    vlt_handover *moved; /* moves committed, not yet handed over */
    size_t nmoved, capmoved;
};

/* Whether the state tracks what changes in it: for its store's flush, or its changelog. */
static inline bool vlt_tracks(const vlt_state *s)
{
    return s->persistent || s->track;
}

struct pend {
    void *obj; /* NULL: deleted by the txn */
};

struct actlist {
    vlt_action *a;
    size_t n, cap;
};

/* A resource the transaction has touched, by its handle in the state's pool of ids. */
struct txn_res {
    uint32_t h;
    bool put;     /* obj is the proposed view (NULL: deleted) */
    bool changed; /* an action was taken on it */
    vlt_resource *obj;
    struct actlist acts;
};

struct vlt_txn {
    vlt_state *s;
    const vlt_event *ev;
    vlt_rh subject;      /* a resource event's subject, once applied (0: none) */
    cm_map *pv, *pk;     /* uri -> struct pend */
    cm_u64map rx;        /* resource handle -> its index in res, plus one */
    struct txn_res *res; /* in the order first touched */
    size_t nres, capres;
    cm_u64map pacl;        /* vlt_acl_pair -> perms | VLT_ACL_PRESENT, or VLT_ACL_GONE */
    const char **affected; /* the pool's copies of the ids */
    vlt_rh *aff_h;         /* and their handles */
    size_t naff;
    bool affected_done;
    cm_map *fv, *fk; /* foreign vaults and keys read (uri -> the txn's own copy); or NULL */
    bool moved;      /* the event moves its subject to another tenant */
};

/* vault/handover.c: a committed transaction whose event moved its subject to another
 * tenant, noted for vlt_state_hand_over when the state hands resources over. */
void vlt_handover_note(vlt_txn *t);
/* cmkguard.resource.arrived: whether mac (hex) authenticates the document for id and
 * tenant under s's master key. */
bool vlt_handover_check(vlt_state *s, const char *id, const char *tenant, const char *doc,
                        const char *mac);

/* A resource id (its handle) a transaction wrote: when no resource has it once the transaction is
 * over (deleted, or made by a transaction that aborted), it joins s->gone. */
void vlt_state_gone(vlt_state *s, uint32_t h);
/* Forgets the ids in s->gone that nothing holds any more: not created again, and not
 * waiting for a flush to delete their stored documents. Called when a transaction
 * begins: no pointer to an id outlives the event that used it. */
void vlt_state_forget_gone(vlt_state *s);

/* Frees a transaction's own memory (it holds no objects: after commit or abort). */
void vlt_txn_dispose(vlt_txn *t);

#define VLT_ACL_PRESENT 0x100u
#define VLT_ACL_GONE 0x200u
/* "VAULT_URI\x1fPRINCIPAL" into out: how the store names an access policy. */
void vlt_acl_key(const char *vault, const char *principal, char *out, size_t n);
/* An access policy's key in the state's tables: the handles of its vault URI and its
 * principal; vlt_acl_find gives 0 when the state holds neither (so no access). */
uint64_t vlt_acl_pair(vlt_state *s, const char *vault, const char *principal);
uint64_t vlt_acl_find(const vlt_state *s, const char *vault, const char *principal);
/* The store's name of a pair into out. */
void vlt_acl_key_of(const vlt_state *s, uint64_t pair, char *out, size_t n);
/* Splits a store name into the pair (interning both); 0 when it is not VAULT\x1fPRINCIPAL. */
uint64_t vlt_acl_pair_of_key(vlt_state *s, const char *key);
void vlt_idl_add(vlt_idlist *l, const char *id);
void vlt_idl_del(vlt_idlist *l, const char *id);
void vlt_idl_free(vlt_idlist *l);
void vlt_strl_add(vlt_strlist *l, const char *s);
void vlt_strl_free(vlt_strlist *l);
/* The state's copy of a string (NULL for NULL); *dst set to it. */
const char *vlt_str(vlt_state *s, const char *src);
void vlt_set_str(vlt_state *s, const char **dst, const char *src);
/* A resource id's copy, in the pool the resource table is keyed by. */
const char *vlt_rid(vlt_state *s, const char *id);
void vlt_vault_free(vlt_vault *v);
vlt_vault *vlt_vault_clone(const vlt_vault *o);
void vlt_key_free(vlt_key *k);
vlt_key *vlt_key_clone(const vlt_key *o);
void vlt_res_reasons_clear(vlt_resource *r);
void vlt_res_free(vlt_resource *r);
vlt_resource *vlt_res_clone(const vlt_resource *o);
bool vlt_binding_of(const vlt_resource *r, char *vault, size_t vn, char *key, size_t kn,
                    vlt_keyref *kr);
void vlt_index_res(vlt_state *s, const vlt_resource *r, bool add);
void vlt_index_principal(vlt_state *s, const vlt_resource *r, bool add);
/* Adds or drops a resource id in the case-folded index of spellings. */
void vlt_index_spelling(vlt_state *s, const char *id, bool add);
/* A key version's key (cached in the version) into *out; fails when its sealed material
 * does not open (a wrong master key) or does not import. */
int vlt_keyver_pkey(vlt_state *s, const vlt_key *k, const vlt_keyver *kv, cry_pkey **out, char *err,
                    size_t errn);
/* New key material for a version, sealed under the master key: 0, or CM_EINPUT for a
 * type or size the key cannot have, CM_EENV when the library fails. */
int vlt_keyver_generate(vlt_state *s, const vlt_key *k, vlt_keyver *kv, char *err, size_t errn);
/* The same, or the version marked unmade for its material to be made later, on the time
 * of its transaction's bulk work (vlt_txn_ready): only when bulk key operations run on
 * several threads and no fault is injected (the seams count calls in one thread's order).
 * A type or size that cannot be made is CM_EINPUT at once either way, with the message
 * vlt_keyver_generate gives; what is left to fail later is the library (CM_EENV). */
int vlt_keyver_generate_later(vlt_state *s, const vlt_key *k, vlt_keyver *kv, char *err,
                              size_t errn);
int vlt_state_load_docs(vlt_state *s, cm_err *err);
/* vault/tables.c: declares vault's tables in an authenticated store and reads where the
 * seen ids stand; writes the ids seen since the last flush (inside its transaction);
 * reads every seen id ("SOURCE\x1fID"), or format 1's ids without a source. */
int vlt_tables_open(vlt_state *s, cm_err *err);
int vlt_seen_flush(vlt_state *s, cm_err *err);
int vlt_seen_each(vlt_state *s, void (*fn)(void *arg, const char *id), void *arg, cm_err *err);
int vlt_seen_legacy_each(vlt_state *s, void (*fn)(void *arg, const char *id), void *arg,
                         cm_err *err);
/* vault/doc.c: the vault as a part of its store, attached first: its flush hook writes
 * the documents, access policies, facts and seen ids that changed. */
extern const sto_part_kind vlt_part;
/* vault/doc.c, for snapshots: an object's stored document (table: VLT_T_*); a document, an
 * access policy ("VAULT\x1fPRINCIPAL") or a seen id of the first format loaded into s. */
void vlt_doc_of(int table, const void *obj, cm_jw *j);
/* A new resource from its stored document (strings in s's pools), which the caller owns;
 * NULL when the document is not one. */
vlt_resource *vlt_doc_resource(vlt_state *s, const char *doc);
int vlt_doc_load(vlt_state *s, int table, const char *id, const char *doc);
void vlt_doc_load_acl(vlt_state *s, const char *key, unsigned perms);
void vlt_doc_load_seen_legacy(vlt_state *s, const char *id);
/* Every seen event, as the store names it ("SOURCE\x1fID"), in cm_idset_each's order. */
void vlt_state_seen_each(const vlt_state *s, void (*fn)(void *arg, const char *key), void *arg);
/* A new in-memory state under a copy of master (its store in memory). */
vlt_state *vlt_state_new_mem(const cry_secret *master, cm_err *err);
/* A seen event as the store names it ("SOURCE\x1fID") into the in-memory set. */
void vlt_state_seen_load(vlt_state *s, const char *key);
/* vault/facts.c: load, write (inside the flush's transaction), forget what was written. */
int vlt_facts_load(vlt_state *s, cm_err *err);
int vlt_facts_flush(vlt_state *s, cm_err *err);
void vlt_facts_flushed(vlt_state *s);
void vlt_facts_free(vlt_state *s);
/* vault/wrap.c. How a key is found by its versionless URI: the committed state, or a
 * transaction's view (prior: as it was before the event). */
typedef struct vlt_key_lookup {
    const vlt_key *(*fn)(void *arg, const char *uri, bool prior);
    void *arg;
} vlt_key_lookup;
vlt_key_lookup vlt_key_lookup_committed(vlt_state *s);
/* Wraps dek under ref ("mmk" or a versioned key URI), appending to out: 0, CM_EINPUT
 * when ref names no key version (or one that cannot wrap), CM_EENV when the library
 * fails; err says why. */
int vlt_wrap(vlt_state *s, const vlt_key_lookup *look, const char *ref, const cry_secret *dek,
             cm_buf *out, char *err, size_t errn);
/* Unwraps w from under ref into *out, a new secret the caller frees; codes as vlt_wrap.
 * A key gone from a transaction's view is still found in its prior view, so that what
 * it wrapped can be re-wrapped. */
int vlt_unwrap(vlt_state *s, const vlt_key_lookup *look, const char *ref, const cm_buf *w,
               cry_secret **out, char *err, size_t errn);
/* vault/prefetch.c: bulk re-wraps on worker threads. vlt_rewrap_start unwraps in[0..n)
 * (copied) under the version fkv of fk on up to `threads` threads (8 at most); NULL when
 * the key cannot be had or no thread starts (nothing done). vlt_rewrap_to gives the
 * version tkv of tk (NULL: none) to wrap under: each DEK unwrapped from then on is also
 * wrapped under it where wrap[i]. vlt_rewrap_take waits for item i and moves out its DEK
 * (a new secret, or NULL when it did not come out) and its wrapped form under the new
 * version (empty when not wrapped); each item once. vlt_rewrap_free stops the workers and
 * wipes what was not taken; NULL is a no-op. vlt_bulk_threads: how many threads bulk key
 * operations use: CMKGUARD_THREADS, or the cores online (read once). */
typedef struct vlt_rewrap vlt_rewrap;
vlt_rewrap *vlt_rewrap_start(vlt_state *s, const vlt_key *fk, const vlt_keyver *fkv,
                             const cm_buf *const *in, const bool *wrap, size_t n, size_t threads);
void vlt_rewrap_to(vlt_rewrap *j, vlt_state *s, const vlt_key *tk, const vlt_keyver *tkv);
void vlt_rewrap_take(vlt_rewrap *j, size_t i, cry_secret **dek, cm_buf *out);
void vlt_rewrap_free(vlt_rewrap *j);
size_t vlt_bulk_threads(void);

/* vault/txn.c, for apply.c and physics.c: the transaction's own copy of an object, made
 * on first write (NULL when it does not exist); a new or deleted (NULL) object put in
 * the proposed view (taken); access set in the proposed view; an action recorded; a
 * DEK wrapped or unwrapped through the proposed view of the keys. */
vlt_vault *vlt_txn_wr_vault(vlt_txn *t, const char *uri);
vlt_key *vlt_txn_wr_key(vlt_txn *t, const char *uri);
vlt_resource *vlt_txn_wr_res(vlt_txn *t, const char *id);
vlt_resource *vlt_txn_wr_res_at(vlt_txn *t, vlt_rh h);
/* Whether the transaction holds its own copy of the resource (or has deleted it). */
bool vlt_txn_res_written(const vlt_txn *t, vlt_rh h);
void vlt_txn_put_vault(vlt_txn *t, const char *uri, vlt_vault *v);
void vlt_txn_put_key(vlt_txn *t, const char *uri, vlt_key *k);
void vlt_txn_put_res(vlt_txn *t, const char *id, vlt_resource *r);
void vlt_txn_put_res_at(vlt_txn *t, vlt_rh h, vlt_resource *r);
void vlt_txn_acl_set(vlt_txn *t, const char *vault, const char *principal, unsigned perms,
                     bool grant);
void vlt_txn_act(vlt_txn *t, vlt_rh h, const char *op, const char *from, const char *to,
                 const char *error);
int vlt_txn_wrap(vlt_txn *t, const char *ref, const cry_secret *dek, cm_buf *out, char *err,
                 size_t errn);
int vlt_txn_unwrap(vlt_txn *t, const char *ref, const cm_buf *w, cry_secret **out, char *err,
                   size_t errn);

/* Opens the store at path into s->db and its master key into s->master, checked against
 * the state's check value (read before authentication, only to refuse a wrong or
 * missing key early and clearly). Nothing is authenticated yet. */
int vlt_state_open_store(vlt_state *s, const char *path, const char *master_path, cm_err *err);
#endif
