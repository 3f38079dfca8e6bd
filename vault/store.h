/* The SQLite store behind vlt_state (private to vault/). */
#ifndef VLT_STORE_H
#define VLT_STORE_H
#include <stdbool.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/util.h"

typedef struct vlt_store vlt_store;

enum vlt_store_table { VLT_T_VAULT, VLT_T_KEY, VLT_T_RESOURCE };

vlt_store *vlt_store_open(const char *path, cm_err *err);
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
int vlt_store_acl_put(vlt_store *st, const char *key, unsigned perms, cm_err *err);
int vlt_store_acl_del(vlt_store *st, const char *key, cm_err *err);
int vlt_store_acl_each(vlt_store *st, void (*fn)(void *arg, const char *key, unsigned perms),
                       void *arg, cm_err *err);
struct vlt_outmsg;
int vlt_store_outbox_add(vlt_store *st, const struct vlt_outmsg *m, int64_t *id, cm_err *err);
/* Deletes the rows first..last (ids of delivered messages). */
int vlt_store_outbox_del(vlt_store *st, int64_t first, int64_t last, cm_err *err);
int vlt_store_outbox_each(vlt_store *st, void (*fn)(void *arg, const struct vlt_outmsg *m),
                          void *arg);
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
