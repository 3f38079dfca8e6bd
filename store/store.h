/* store: the SQLite file behind a state, its one transaction per commit, and the
 * authentication of every row (SPEC §3a): each row carries the commit count that wrote
 * it and an HMAC over its table, that count and its columns; the state head holds the
 * commit count and the sum of every row's MAC.
 *
 * The store knows no table but its own (meta, and the head). A module declares the
 * tables it owns (a sto_table, static in the owner), then puts, deletes and reads their
 * rows here; every row read is checked against its MAC. What a module keeps in memory
 * between commits it attaches to the store as a part (sto_part_kind): its flush hook
 * writes its rows inside the one transaction of sto_flush, its snapshot hook puts it in
 * a state's snapshot, and its entry hooks in a state's changelog. A store opened on no
 * path holds parts only (a state in memory): it has no rows, and sto_flush does
 * nothing. */
#ifndef STO_STORE_H
#define STO_STORE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/util.h"

typedef struct sto_db sto_db;
struct cry_secret;

/* The format of the rows this build writes. 1: before SPEC §2a and §3a (raw spellings,
 * seen ids without their source, nothing authenticated); 2: canonical identifiers,
 * every row MACed and summed into an authenticated state head; 3: what a commit adds to
 * the outbox and to the seen ids is one row each (outbox_batches, seen_batches); format
 * 2's rows of outbox and seen are kept and still read. */
#define STO_FORMAT 3
#define STO_FORMAT_S "3"

/* A table, declared by the module that owns it: a rowid table (the store rewrites a row
 * in place through its rowid). */
#define STO_MAX_COLS 10
typedef struct sto_table {
    const char *name;
    const char *create; /* its CREATE TABLE statement: its columns, then ver and mac */
    const char *cols;   /* the columns a row's MAC covers, in the order of the table */
    int ncols;          /* at most STO_MAX_COLS */
    int nkey;           /* the first nkey columns (1 or 2) are a row's key */
} sto_table;

/* A column's value, written or matched. */
typedef struct sto_val {
    enum sto_type { STO_NULL, STO_TEXT, STO_BLOB, STO_INT } type;
    const void *p; /* TEXT, BLOB (borrowed) */
    size_t n;
    int64_t i; /* INT */
} sto_val;
static inline sto_val sto_text(const char *s);
static inline sto_val sto_blob(const void *p, size_t n);
static inline sto_val sto_int(int64_t i);

/* A row being read (valid in the callback only); columns by their index in cols. */
typedef struct sto_row sto_row;
const char *sto_row_text(const sto_row *r, int i); /* NULL when null */
const void *sto_row_blob(const sto_row *r, int i, size_t *n);
int64_t sto_row_int(const sto_row *r, int i);

/* ---------- the file ---------- */

/* Opens (creates) the SQLite file at path, or a store in memory for path NULL. Nothing
 * is trusted until sto_auth. */
sto_db *sto_open(const char *path, cm_err *err);
/* Writes what parts still hold for a close (sto_part_kind.pending), frees the parts,
 * closes the file. NULL is a no-op. */
void sto_close(sto_db *db);
/* Whether the store has a file (a state in memory has none); its path (NULL: none). */
bool sto_persistent(const sto_db *db);
const char *sto_path(const sto_db *db);
/* Whether the file held nothing yet, or was written by an older build. */
bool sto_is_new(const sto_db *db);
bool sto_is_old(const sto_db *db);
/* Whether no state file exists at path (or it is empty). */
bool sto_is_file_new(const char *path);
/* The file's format: STO_FORMAT, an older build's (1 or 2), 0 for a new file. */
int sto_format(const sto_db *db);
/* Authenticates the file under a key derived from the master key (borrowed): a new file
 * gets its meta table, format and head; an existing one must carry a head that verifies
 * and rows (of every table in it) that sum to it. -1 with what failed in err. */
int sto_auth(sto_db *db, const struct cry_secret *master, cm_err *err);
/* Checks every row of every table in the file, the head and SQLite's own structure,
 * calling bad for each failure; the number of failures, or -1 when the check itself
 * could not run. */
int sto_verify(sto_db *db, const struct cry_secret *master,
               void (*bad)(void *arg, const char *what), void *arg, cm_err *err);
/* Upgrades an older build's file in place, once, in one transaction: every table gains
 * its version and MAC, rows as they stand (format 1's seen ids into seen_legacy), the
 * tables of format 3 created, the head written. The formats it upgrades from are
 * history: their tables are written down here, as format 3 declares them. */
int sto_migrate(sto_db *db, const struct cry_secret *master, cm_err *err);
/* Writes a consistent copy of the whole file to a new file at path. */
int sto_copy(sto_db *db, const char *path, cm_err *err);

/* ---------- tables and rows ---------- */

/* Makes t usable: created in the file when it is not there yet (an empty table changes
 * no head). Every write and authenticated read of t needs it first; a no-op in memory. */
int sto_declare(sto_db *db, const sto_table *t, cm_err *err);
/* Writes the row v (t->ncols values), replacing the row with the same key in place; a
 * row that already holds v and its own MAC is left as it is (its version too). Outside
 * a transaction it gets one of its own, so the head always follows. */
int sto_put(sto_db *db, const sto_table *t, const sto_val *v, cm_err *err);
/* Writes the row v, whose key no row has (a new id). */
int sto_insert(sto_db *db, const sto_table *t, const sto_val *v, cm_err *err);
/* Deletes the rows whose first nkey columns are key. */
int sto_del(sto_db *db, const sto_table *t, const sto_val *key, int nkey, cm_err *err);
/* Deletes the rows whose first column (an integer) lies in [lo, hi]. */
int sto_del_range(sto_db *db, const sto_table *t, int64_t lo, int64_t hi, cm_err *err);
/* Calls fn for every row of t (those whose first nkey columns are key, when nkey > 0),
 * in the order of the SQL clause order (NULL: any), each checked against its MAC first:
 * a row that fails stops the read with -1 and its table and key in err, never a
 * silently shorter result. fn returns 0 to go on or -1 (with err set) to stop. The
 * number of rows read, or -1. */
int sto_read(sto_db *db, const sto_table *t, const sto_val *key, int nkey, const char *order,
             int (*fn)(void *arg, const sto_row *r, cm_err *err), void *arg, cm_err *err);
/* An unauthenticated look at columns of t (a column list in SQL, read in order): only
 * for bookkeeping (ids, counts) of rows that sto_read checks when it reads them. */
int sto_peek(sto_db *db, const sto_table *t, const char *cols, const char *order,
             void (*fn)(void *arg, const sto_row *r), void *arg, cm_err *err);
/* The last id an AUTOINCREMENT table of the file ever handed out (0: none), unchecked. */
int64_t sto_last_id(sto_db *db, const sto_table *t);

/* The store's own key-value table, meta. Its keys are shared out by prefix: "format"
 * is the store's, "master:check" the vault's, "chain:" and "replay:" the pipeline's. */
int sto_meta_put(sto_db *db, const char *k, const char *v, cm_err *err);
/* Every checked row whose key starts with prefix, in key order. */
int sto_meta_each(sto_db *db, const char *prefix,
                  void (*fn)(void *arg, const char *k, const char *v), void *arg, cm_err *err);
/* An unauthenticated look at one meta value (1 found, 0 not): only for messages. */
int sto_meta_peek(sto_db *db, const char *k, char *out, size_t n);

/* ---------- the transaction ---------- */

/* A transaction of the rows written between them, which commit writes the head of. */
int sto_begin(sto_db *db, cm_err *err);
int sto_commit(sto_db *db, cm_err *err);
void sto_rollback(sto_db *db);
/* The one transaction of a commit: every part's flush hook, in the order they were
 * attached, then the head; then every part's committed hook, or on failure its
 * rolled_back hook, and nothing written. A no-op in memory. */
int sto_flush(sto_db *db, cm_err *err);

/* ---------- parts: what a module keeps with a state ---------- */

/* A record of a snapshot: a tag (one per part), a name and a value. */
typedef void sto_rec_fn(void *arg, int tag, const char *name, const char *val);
/* An entry, the unit of a state's changelog (vault/delta.h): a kind (a letter: the
 * vault has several, another part one), a name and a value, borrowed, neither
 * NUL-terminated; gone when val is NULL. */
typedef struct sto_entry {
    int kind;
    const char *name;
    size_t nlen;
    const void *val;
    size_t vlen;
} sto_entry;
/* Called for each entry; a negative return stops the walk and is returned. */
typedef int (*sto_entry_fn)(void *arg, const sto_entry *e);
typedef struct sto_part_kind {
    const char *name;
    int tag; /* of its records in a snapshot; 0: it has none */
    /* A new part of db, with its rows read when db is persistent (its tables declared
     * first); NULL with err. Not needed for a part attached by sto_part_attach. */
    void *(*open)(sto_db *db, cm_err *err);
    void (*free)(void *part);
    /* Writes what changed, inside the transaction; at close only what pending says. */
    int (*flush)(void *part, sto_db *db, bool closing, cm_err *err);
    void (*committed)(void *part);
    void (*rolled_back)(void *part);   /* may be NULL */
    bool (*pending)(const void *part); /* rows to write before the store closes; may be NULL */
    void (*snapshot)(void *part, sto_rec_fn *rec, void *arg);      /* may be NULL */
    int (*restore)(void *part, const char *name, const char *val); /* may be NULL */
    /* Its entries, of kind entry (0: it has none): every one (changed false) or those
     * changed since the last commit or sto_changes_clear, in the order of their names,
     * 0 or fn's negative return; one applied (name: e's, NUL-terminated), 0 or
     * CM_EINPUT with err (sto_entry_bad) when e is malformed; the changes forgotten. */
    int entry;
    int (*entries)(void *part, bool changed, sto_entry_fn fn, void *arg);
    int (*entry_apply)(void *part, const sto_entry *e, const char *name, cm_err *err);
    void (*changes_clear)(void *part);
} sto_part_kind;
/* The part of kind k, opened and attached on first use (then handed the snapshot records
 * carried for it); NULL with err when it cannot be. */
void *sto_part(sto_db *db, const sto_part_kind *k, cm_err *err);
/* Attaches part (taken: freed by k->free at close) as the part of kind k. */
void sto_part_attach(sto_db *db, const sto_part_kind *k, void *part);
/* A record of a restored snapshot that belongs to a part not attached yet (copied). */
void sto_carry(sto_db *db, int tag, const char *name, const char *val);
/* The snapshot records of every part, and those carried, in the order of their tags. */
void sto_snapshot_parts(sto_db *db, sto_rec_fn *rec, void *arg);
/* The entries of every attached part (all, or the changed ones), in the order of their
 * kinds: 0, or fn's negative return. */
int sto_entries(sto_db *db, bool changed, sto_entry_fn fn, void *arg);
/* Applies e (name: its name, NUL-terminated) through the attached part whose kind it
 * is: 0, or CM_EINPUT with err when no part takes it or the part refuses it. */
int sto_entry_apply(sto_db *db, const sto_entry *e, const char *name, cm_err *err);
/* Forgets the changes every part tracks (for a state whose changes no flush clears). */
void sto_changes_clear(sto_db *db);
/* CM_EINPUT with "entry 'K' NAME: what" in err: a malformed entry. */
int sto_entry_bad(cm_err *err, const sto_entry *e, const char *name, const char *what);

static inline sto_val sto_text(const char *s)
{
    sto_val v = {s ? STO_TEXT : STO_NULL, s, s ? strlen(s) : 0, 0};
    return v;
}

static inline sto_val sto_blob(const void *p, size_t n)
{
    sto_val v = {STO_BLOB, p ? p : "", n, 0};
    return v;
}

static inline sto_val sto_int(int64_t i)
{
    sto_val v = {STO_INT, NULL, 0, i};
    return v;
}
#endif
