#include "vault/store.h"
#include "vault/state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

struct vlt_store {
    sqlite3 *db;
    char *path;
};

static const char *const tables[] = {"vaults", "keys", "resources"};

static int db_err(vlt_store *st, cm_err *err, const char *what)
{
    cm_err_set(err, st->path, 0, 0, "%s: %s", what, sqlite3_errmsg(st->db));
    return -1;
}

static const char SCHEMA[] =
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=NORMAL;"
    "CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, v TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS vaults(id TEXT PRIMARY KEY, doc TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS keys(id TEXT PRIMARY KEY, doc TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS resources(id TEXT PRIMARY KEY, doc TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS seen(id TEXT PRIMARY KEY);"
    "CREATE TABLE IF NOT EXISTS acl(k TEXT PRIMARY KEY, perms INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS outbox(id INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL,"
    " part INTEGER NOT NULL, chain TEXT, seq INTEGER, key BLOB, value BLOB NOT NULL,"
    " reason TEXT, input TEXT);"
    "CREATE TABLE IF NOT EXISTS offsets(topic TEXT NOT NULL, part INTEGER NOT NULL,"
    " off INTEGER NOT NULL, PRIMARY KEY(topic, part));"
    "CREATE TABLE IF NOT EXISTS data(resource TEXT NOT NULL, class TEXT NOT NULL,"
    " sealed BLOB NOT NULL, PRIMARY KEY(resource, class));";

vlt_store *vlt_store_open(const char *path, cm_err *err)
{
    vlt_store *st = cm_xcalloc(1, sizeof *st);
    st->path = cm_strdup(path);
    if (sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        db_err(st, err, "cannot open state store");
        vlt_store_close(st);
        return NULL;
    }
    sqlite3_busy_timeout(st->db, 5000);
    if (sqlite3_exec(st->db, SCHEMA, NULL, NULL, NULL) != SQLITE_OK) {
        db_err(st, err, "cannot initialise state store");
        vlt_store_close(st);
        return NULL;
    }
    return st;
}

void vlt_store_close(vlt_store *st)
{
    if (!st)
        return;
    sqlite3_close(st->db);
    free(st->path);
    free(st);
}

static int exec(vlt_store *st, const char *sql, cm_err *err)
{
    if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return db_err(st, err, sql);
    return 0;
}

int vlt_store_begin(vlt_store *st, cm_err *err)
{
    return exec(st, "BEGIN IMMEDIATE", err);
}

int vlt_store_commit(vlt_store *st, cm_err *err)
{
    return exec(st, "COMMIT", err);
}

void vlt_store_rollback(vlt_store *st)
{
    sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
}

/* Runs one statement with up to three text/blob bindings. */
static int run(vlt_store *st, const char *sql, const char *a, const char *b, const void *blob,
               size_t blobn, cm_err *err)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
        return db_err(st, err, "prepare");
    int i = 1;
    if (a)
        sqlite3_bind_text(s, i++, a, -1, SQLITE_STATIC);
    if (b)
        sqlite3_bind_text(s, i++, b, -1, SQLITE_STATIC);
    if (blob)
        sqlite3_bind_blob(s, i++, blob, (int)blobn, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE)
        return db_err(st, err, "write");
    return 0;
}

int vlt_store_put(vlt_store *st, enum vlt_store_table t, const char *id, const char *doc,
                  cm_err *err)
{
    char sql[96];
    snprintf(sql, sizeof sql, "INSERT OR REPLACE INTO %s(id, doc) VALUES(?, ?)", tables[t]);
    return run(st, sql, id, doc, NULL, 0, err);
}

int vlt_store_del(vlt_store *st, enum vlt_store_table t, const char *id, cm_err *err)
{
    char sql[96];
    snprintf(sql, sizeof sql, "DELETE FROM %s WHERE id = ?", tables[t]);
    return run(st, sql, id, NULL, NULL, 0, err);
}

int vlt_store_each(vlt_store *st, enum vlt_store_table t,
                   int (*fn)(void *arg, const char *id, const char *doc), void *arg, cm_err *err)
{
    char sql[96];
    snprintf(sql, sizeof sql, "SELECT id, doc FROM %s ORDER BY id", tables[t]);
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
        return db_err(st, err, "read");
    int rc = 0, step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(s, 0);
        const char *doc = (const char *)sqlite3_column_text(s, 1);
        if (fn(arg, id ? id : "", doc ? doc : "") < 0) {
            cm_err_set(err, st->path, 0, 0, "corrupt %s record '%s'", tables[t], id ? id : "");
            rc = -1;
            break;
        }
    }
    if (rc == 0 && step != SQLITE_DONE)
        rc = db_err(st, err, "read");
    sqlite3_finalize(s);
    return rc;
}

int vlt_store_seen_add(vlt_store *st, const char *id, cm_err *err)
{
    return run(st, "INSERT OR IGNORE INTO seen(id) VALUES(?)", id, NULL, NULL, 0, err);
}

int vlt_store_seen_each(vlt_store *st, void (*fn)(void *arg, const char *id), void *arg)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(st->db, "SELECT id FROM seen", -1, &s, NULL) != SQLITE_OK)
        return -1;
    while (sqlite3_step(s) == SQLITE_ROW)
        fn(arg, (const char *)sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    return 0;
}

int vlt_store_acl_put(vlt_store *st, const char *key, unsigned perms, cm_err *err)
{
    char p[16];
    snprintf(p, sizeof p, "%u", perms);
    return run(st, "INSERT OR REPLACE INTO acl(k, perms) VALUES(?, CAST(? AS INTEGER))", key, p,
               NULL, 0, err);
}

int vlt_store_acl_del(vlt_store *st, const char *key, cm_err *err)
{
    return run(st, "DELETE FROM acl WHERE k = ?", key, NULL, NULL, 0, err);
}

int vlt_store_acl_each(vlt_store *st, void (*fn)(void *arg, const char *key, unsigned perms),
                       void *arg)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(st->db, "SELECT k, perms FROM acl", -1, &s, NULL) != SQLITE_OK)
        return -1;
    while (sqlite3_step(s) == SQLITE_ROW)
        fn(arg, (const char *)sqlite3_column_text(s, 0), (unsigned)sqlite3_column_int(s, 1));
    sqlite3_finalize(s);
    return 0;
}

int vlt_store_outbox_add(vlt_store *st, const vlt_outmsg *m, int64_t *id, cm_err *err)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(st->db,
                           "INSERT INTO outbox(topic, part, chain, seq, key, value, reason, input)"
                           " VALUES(?, ?, ?, ?, ?, ?, ?, ?)",
                           -1, &s, NULL) != SQLITE_OK)
        return db_err(st, err, "prepare");
    sqlite3_bind_text(s, 1, m->topic, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 2, m->partition);
    if (m->chain) {
        sqlite3_bind_text(s, 3, m->chain, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 4, (sqlite3_int64)m->seq);
    }
    if (m->key)
        sqlite3_bind_blob(s, 5, m->key, (int)m->keylen, SQLITE_STATIC);
    sqlite3_bind_blob(s, 6, m->value, (int)m->len, SQLITE_STATIC);
    if (m->reason)
        sqlite3_bind_text(s, 7, m->reason, -1, SQLITE_STATIC);
    if (m->input)
        sqlite3_bind_text(s, 8, m->input, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE)
        return db_err(st, err, "outbox write");
    *id = sqlite3_last_insert_rowid(st->db);
    return 0;
}

int vlt_store_outbox_del(vlt_store *st, int64_t id, cm_err *err)
{
    char sql[80];
    snprintf(sql, sizeof sql, "DELETE FROM outbox WHERE id = %lld", (long long)id);
    return exec(st, sql, err);
}

static char *col_dup(sqlite3_stmt *s, int i, size_t *len)
{
    const void *b = sqlite3_column_blob(s, i);
    int n = sqlite3_column_bytes(s, i);
    if (!b && sqlite3_column_type(s, i) == SQLITE_NULL)
        return NULL;
    if (len)
        *len = (size_t)n;
    return cm_strndup(b ? b : "", (size_t)n);
}

int vlt_store_outbox_each(vlt_store *st, void (*fn)(void *arg, const vlt_outmsg *m), void *arg)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(st->db,
                           "SELECT id, topic, part, chain, seq, key, value, reason, input FROM outbox"
                           " ORDER BY id",
                           -1, &s, NULL) != SQLITE_OK)
        return -1;
    while (sqlite3_step(s) == SQLITE_ROW) {
        vlt_outmsg m = {0};
        m.id = sqlite3_column_int64(s, 0);
        m.topic = col_dup(s, 1, NULL);
        m.partition = sqlite3_column_int(s, 2);
        m.chain = col_dup(s, 3, NULL);
        m.seq = (uint64_t)sqlite3_column_int64(s, 4);
        m.key = col_dup(s, 5, &m.keylen);
        m.value = col_dup(s, 6, &m.len);
        m.reason = col_dup(s, 7, NULL);
        m.input = col_dup(s, 8, NULL);
        fn(arg, &m);
        free(m.topic);
        free(m.chain);
        free(m.key);
        free(m.value);
        free(m.reason);
        free(m.input);
    }
    sqlite3_finalize(s);
    return 0;
}

int vlt_store_offset_put(vlt_store *st, const char *topic, int32_t part, int64_t off, cm_err *err)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(st->db, "INSERT OR REPLACE INTO offsets(topic, part, off) VALUES(?, ?, ?)",
                           -1, &s, NULL) != SQLITE_OK)
        return db_err(st, err, "prepare");
    sqlite3_bind_text(s, 1, topic, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 2, part);
    sqlite3_bind_int64(s, 3, off);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? 0 : db_err(st, err, "offset write");
}

int vlt_store_offset_each(vlt_store *st,
                          void (*fn)(void *arg, const char *topic, int32_t part, int64_t off),
                          void *arg)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(st->db, "SELECT topic, part, off FROM offsets", -1, &s, NULL) != SQLITE_OK)
        return -1;
    while (sqlite3_step(s) == SQLITE_ROW)
        fn(arg, (const char *)sqlite3_column_text(s, 0), sqlite3_column_int(s, 1),
           sqlite3_column_int64(s, 2));
    sqlite3_finalize(s);
    return 0;
}

int vlt_store_meta_put(vlt_store *st, const char *k, const char *v, cm_err *err)
{
    return run(st, "INSERT OR REPLACE INTO meta(k, v) VALUES(?, ?)", k, v, NULL, 0, err);
}

int vlt_store_meta_each(vlt_store *st, void (*fn)(void *arg, const char *k, const char *v),
                        void *arg)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(st->db, "SELECT k, v FROM meta", -1, &s, NULL) != SQLITE_OK)
        return -1;
    while (sqlite3_step(s) == SQLITE_ROW)
        fn(arg, (const char *)sqlite3_column_text(s, 0), (const char *)sqlite3_column_text(s, 1));
    sqlite3_finalize(s);
    return 0;
}

int vlt_store_data_put(vlt_store *st, const char *rid, const char *cls, const void *d, size_t n,
                       cm_err *err)
{
    return run(st, "INSERT OR REPLACE INTO data(resource, class, sealed) VALUES(?, ?, ?)", rid,
               cls, d ? d : "", n, err);
}

int vlt_store_data_get(vlt_store *st, const char *rid, const char *cls, cm_buf *out, cm_err *err)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(st->db, "SELECT sealed FROM data WHERE resource = ? AND class = ?", -1,
                           &s, NULL) != SQLITE_OK)
        return db_err(st, err, "read");
    sqlite3_bind_text(s, 1, rid, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, cls, -1, SQLITE_STATIC);
    int rc = 0;
    if (sqlite3_step(s) == SQLITE_ROW) {
        const void *b = sqlite3_column_blob(s, 0);
        int n = sqlite3_column_bytes(s, 0);
        rc = cm_buf_add(out, b, (size_t)n) < 0 ? -1 : 1;
    }
    sqlite3_finalize(s);
    return rc;
}

int vlt_store_data_del(vlt_store *st, const char *rid, cm_err *err)
{
    return run(st, "DELETE FROM data WHERE resource = ?", rid, NULL, NULL, 0, err);
}
