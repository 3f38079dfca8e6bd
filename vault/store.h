/* The SQLite store behind vlt_state (private to vault/). */
#ifndef VLT_STORE_H
#define VLT_STORE_H
#include <stdbool.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/util.h"

typedef struct vlt_store vlt_store;
struct cry_secret;

/* The format of the documents and rows this build writes. 1: before SPEC §2a and §3a
 * (raw spellings, seen ids without their source, nothing authenticated); 2: canonical
 * identifiers, seen rows keyed "source\x1fid", ids migrated from format 1 in
 * seen_legacy, every row MACed and summed into an authenticated state head; 3: what a
 * commit adds to the outbox and to the seen ids is one row each (outbox_batches,
 * seen_batches), so a batch costs two MACs and two inserts, not one per message and one
 * per event; format 2's rows of outbox and seen are kept and still read. */
#define VLT_STORE_FORMAT 3
#define VLT_STORE_FORMAT_S "3"

enum vlt_store_table { VLT_T_VAULT, VLT_T_KEY, VLT_T_RESOURCE };

/* Opens (creates) the SQLite file at path. Nothing is trusted until vlt_store_auth. */
vlt_store *vlt_store_open(const char *path, cm_err *err);
/* Whether the file held nothing yet, or was written by an older build. */
bool vlt_store_is_new(const vlt_store *st);
bool vlt_store_is_old(const vlt_store *st);
/* Whether no state file exists at path (or it is empty). */
bool vlt_store_is_file_new(const char *path);
/* Authenticates the store under a key derived from the master key (borrowed): a new
 * file gets its tables and head; an existing one must carry a head that verifies and
 * rows that sum to it. -1 with the table and id, or what failed, in err. */
int vlt_store_auth(vlt_store *st, const struct cry_secret *master, cm_err *err);
/* Checks every row of every table and the head, calling bad for each failure; the
 * number of failures, or -1 when the check itself could not run. */
int vlt_store_verify(vlt_store *st, const struct cry_secret *master,
                     void (*bad)(void *arg, const char *what), void *arg, cm_err *err);
/* Upgrades an older build's file in place, once: every table gains its version and
 * MAC, rows as they stand (format 1's seen ids into seen_legacy; format 2's rows
 * authenticated again), format 3's tables created, the head written. */
int vlt_store_migrate(vlt_store *st, const struct cry_secret *master, cm_err *err);
/* An unauthenticated look at one meta value (1 found, 0 not): only for messages. */
int vlt_store_meta_peek(vlt_store *st, const char *k, char *out, size_t n);
/* Writes a consistent copy of the whole file to a new file at path. */
int vlt_store_copy(vlt_store *st, const char *path, cm_err *err);
/* The store's format: VLT_STORE_FORMAT, an older build's (1 or 2), 0 for a new file. */
int vlt_store_format(const vlt_store *st);
void vlt_store_close(vlt_store *st);
int vlt_store_begin(vlt_store *st, cm_err *err);
int vlt_store_commit(vlt_store *st, cm_err *err);
void vlt_store_rollback(vlt_store *st);
int vlt_store_put(vlt_store *st, enum vlt_store_table t, const char *id, const char *doc,
                  cm_err *err);
int vlt_store_del(vlt_store *st, enum vlt_store_table t, const char *id, cm_err *err);
/* Calls fn for every document of a table. */
int vlt_store_each(vlt_store *st, enum vlt_store_table t,
                   int (*fn)(void *arg, const char *id, const char *doc), void *arg, cm_err *err);
int vlt_store_seen_add(vlt_store *st, const char *id, cm_err *err);
int vlt_store_seen_each(vlt_store *st, void (*fn)(void *arg, const char *id), void *arg,
                        cm_err *err);
/* Seen ids migrated from format 1, which kept no source. */
int vlt_store_seen_legacy_each(vlt_store *st, void (*fn)(void *arg, const char *id), void *arg,
                               cm_err *err);
int vlt_store_acl_put(vlt_store *st, const char *key, unsigned perms, cm_err *err);
int vlt_store_acl_del(vlt_store *st, const char *key, cm_err *err);
int vlt_store_acl_each(vlt_store *st, void (*fn)(void *arg, const char *key, unsigned perms),
                       void *arg, cm_err *err);
struct vlt_outmsg;
int vlt_store_outbox_add(vlt_store *st, const struct vlt_outmsg *m, int64_t *id, cm_err *err);
/* The messages first..last were delivered: the rows they emptied are deleted by the
 * next commit (or at close), not in a transaction of their own. */
int vlt_store_outbox_del(vlt_store *st, int64_t first, int64_t last, cm_err *err);
int vlt_store_outbox_each(vlt_store *st, void (*fn)(void *arg, const struct vlt_outmsg *m),
                          void *arg, cm_err *err);
int vlt_store_offset_put(vlt_store *st, const char *topic, int32_t part, int64_t off, cm_err *err);
int vlt_store_offset_each(vlt_store *st,
                          void (*fn)(void *arg, const char *topic, int32_t part, int64_t off),
                          void *arg, cm_err *err);
/* Azure facts (vault/facts.c): key -> JSON document. */
int vlt_store_fact_put(vlt_store *st, const char *k, const char *doc, cm_err *err);
int vlt_store_fact_del(vlt_store *st, const char *k, cm_err *err);
int vlt_store_fact_each(vlt_store *st, void (*fn)(void *arg, const char *k, const char *doc),
                        void *arg, cm_err *err);
int vlt_store_meta_put(vlt_store *st, const char *k, const char *v, cm_err *err);
int vlt_store_meta_each(vlt_store *st, void (*fn)(void *arg, const char *k, const char *v),
                        void *arg, cm_err *err);
int vlt_store_data_put(vlt_store *st, const char *rid, const char *cls, const void *d, size_t n,
                       cm_err *err);
/* 1 found, 0 absent, -1 error. */
int vlt_store_data_get(vlt_store *st, const char *rid, const char *cls, cm_buf *out, cm_err *err);
int vlt_store_data_del(vlt_store *st, const char *rid, cm_err *err);
#endif
