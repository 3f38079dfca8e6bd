#include "vault/store.h"
#include "vault/state.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "common/fault.h"

/* Write statements are prepared once and reused: the state writes the same dozen
 * statements thousands of times a second. */
#define STMT_CACHE 24

struct vlt_store {
    sqlite3 *db;
    char *path;
    struct {
        char sql[160];
        const char *lit; /* where the caller's text was: most are literals */
        sqlite3_stmt *s;
    } cache[STMT_CACHE];
    int ncache;
    /* WAL checkpoints (which sync the database file) run on their own thread and
     * connection, so a commit never waits for one. */
    pthread_t ckpt;
    bool has_ckpt, ckpt_stop, sync_init;
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

static void *checkpointer(void *arg)
{
    vlt_store *st = arg;
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(st->path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK)
        sqlite3_busy_timeout(db, 100);
    pthread_mutex_lock(&st->mu);
    while (!st->ckpt_stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 200 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&st->cv, &st->mu, &ts);
        if (st->ckpt_stop)
            break;
        pthread_mutex_unlock(&st->mu);
        /* PASSIVE: copies what it can without blocking the writer or readers. */
        sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        pthread_mutex_lock(&st->mu);
    }
    pthread_mutex_unlock(&st->mu);
    sqlite3_close(db);
    return NULL;
}

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
    "CREATE TABLE IF NOT EXISTS facts(k TEXT PRIMARY KEY, doc TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS outbox(id INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL,"
    " part INTEGER NOT NULL, chain TEXT, seq INTEGER, key BLOB, value BLOB NOT NULL,"
    " reason TEXT, input TEXT);"
    "CREATE TABLE IF NOT EXISTS offsets(topic TEXT NOT NULL, part INTEGER NOT NULL,"
    " off INTEGER NOT NULL, PRIMARY KEY(topic, part));"
    "CREATE TABLE IF NOT EXISTS data(resource TEXT NOT NULL, class TEXT NOT NULL,"
    " sealed BLOB NOT NULL, PRIMARY KEY(resource, class));";

/* ---------- fault seams: SQLite's allocator and its file I/O ---------- */

static sqlite3_mem_methods real_mem;

static void *fault_malloc(int n)
{
    return CM_FAULT(CM_FAULT_SQLITE, "sqlite malloc") ? NULL : real_mem.xMalloc(n);
}

static void *fault_realloc(void *p, int n)
{
    return CM_FAULT(CM_FAULT_SQLITE, "sqlite realloc") ? NULL : real_mem.xRealloc(p, n);
}

/* A VFS over the default one whose files fail a write with SQLITE_FULL (a full disk),
 * a sync, truncate or read with the matching I/O error. */
static sqlite3_vfs fault_vfs, *real_vfs;

struct fault_file {
    sqlite3_file base;
    sqlite3_file *real; /* follows this struct in the same allocation */
};

#define REAL(f) (((struct fault_file *)(f))->real)

static int ff_close(sqlite3_file *f)
{
    return REAL(f)->pMethods ? REAL(f)->pMethods->xClose(REAL(f)) : SQLITE_OK;
}
static int ff_read(sqlite3_file *f, void *b, int n, sqlite3_int64 off)
{
    if (CM_FAULT(CM_FAULT_IO, "sqlite read"))
        return SQLITE_IOERR_READ;
    return REAL(f)->pMethods->xRead(REAL(f), b, n, off);
}
static int ff_write(sqlite3_file *f, const void *b, int n, sqlite3_int64 off)
{
    if (CM_FAULT(CM_FAULT_IO, "sqlite write"))
        return SQLITE_FULL;
    return REAL(f)->pMethods->xWrite(REAL(f), b, n, off);
}
static int ff_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    if (CM_FAULT(CM_FAULT_IO, "sqlite truncate"))
        return SQLITE_IOERR_TRUNCATE;
    return REAL(f)->pMethods->xTruncate(REAL(f), size);
}
static int ff_sync(sqlite3_file *f, int flags)
{
    if (CM_FAULT(CM_FAULT_IO, "sqlite fsync"))
        return SQLITE_IOERR_FSYNC;
    return REAL(f)->pMethods->xSync(REAL(f), flags);
}
static int ff_size(sqlite3_file *f, sqlite3_int64 *size)
{
    return REAL(f)->pMethods->xFileSize(REAL(f), size);
}
static int ff_lock(sqlite3_file *f, int l)
{
    return REAL(f)->pMethods->xLock(REAL(f), l);
}
static int ff_unlock(sqlite3_file *f, int l)
{
    return REAL(f)->pMethods->xUnlock(REAL(f), l);
}
static int ff_check(sqlite3_file *f, int *out)
{
    return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}
static int ff_fctl(sqlite3_file *f, int op, void *arg)
{
    return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}
static int ff_sector(sqlite3_file *f)
{
    return REAL(f)->pMethods->xSectorSize(REAL(f));
}
static int ff_devchar(sqlite3_file *f)
{
    return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}
static int ff_shm_map(sqlite3_file *f, int pg, int sz, int extend, void volatile **pp)
{
    if (CM_FAULT(CM_FAULT_IO, "sqlite shm map"))
        return SQLITE_IOERR_SHMMAP;
    return REAL(f)->pMethods->xShmMap(REAL(f), pg, sz, extend, pp);
}
static int ff_shm_lock(sqlite3_file *f, int off, int n, int flags)
{
    return REAL(f)->pMethods->xShmLock(REAL(f), off, n, flags);
}
static void ff_shm_barrier(sqlite3_file *f)
{
    REAL(f)->pMethods->xShmBarrier(REAL(f));
}
static int ff_shm_unmap(sqlite3_file *f, int del)
{
    return REAL(f)->pMethods->xShmUnmap(REAL(f), del);
}

static const sqlite3_io_methods fault_io = {
    .iVersion = 2,
    .xClose = ff_close,
    .xRead = ff_read,
    .xWrite = ff_write,
    .xTruncate = ff_truncate,
    .xSync = ff_sync,
    .xFileSize = ff_size,
    .xLock = ff_lock,
    .xUnlock = ff_unlock,
    .xCheckReservedLock = ff_check,
    .xFileControl = ff_fctl,
    .xSectorSize = ff_sector,
    .xDeviceCharacteristics = ff_devchar,
    .xShmMap = ff_shm_map,
    .xShmLock = ff_shm_lock,
    .xShmBarrier = ff_shm_barrier,
    .xShmUnmap = ff_shm_unmap,
};

static int fault_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out)
{
    struct fault_file *ff = (struct fault_file *)f;
    ff->real = (sqlite3_file *)(ff + 1);
    ff->base.pMethods = NULL;
    int rc = real_vfs->xOpen(real_vfs, name, ff->real, flags, out);
    if (rc == SQLITE_OK || ff->real->pMethods)
        ff->base.pMethods = &fault_io;
    return rc;
}

/* Installs the seams when CMKGUARD_FAULT arms them; must run before SQLite starts. */
static void fault_seams(void)
{
    static bool done;
    if (done)
        return;
    done = true;
    if (cm_fault_kind_armed(CM_FAULT_SQLITE) && sqlite3_config(SQLITE_CONFIG_GETMALLOC, &real_mem) ==
                                                    SQLITE_OK) {
        sqlite3_mem_methods m = real_mem;
        m.xMalloc = fault_malloc;
        m.xRealloc = fault_realloc;
        sqlite3_config(SQLITE_CONFIG_MALLOC, &m);
    }
    if (cm_fault_kind_armed(CM_FAULT_IO) && (real_vfs = sqlite3_vfs_find(NULL))) {
        fault_vfs = *real_vfs;
        fault_vfs.iVersion = 1; /* no syscall overrides: the default VFS keeps its own */
        fault_vfs.zName = "cmkguard-fault";
        fault_vfs.szOsFile = (int)sizeof(struct fault_file) + real_vfs->szOsFile;
        fault_vfs.xOpen = fault_open;
        sqlite3_vfs_register(&fault_vfs, 1);
    }
}

vlt_store *vlt_store_open(const char *path, cm_err *err)
{
    fault_seams();
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
    /* Under fault injection everything stays on one thread, in the same order. */
    if (!cm_fault_armed) {
        pthread_mutex_init(&st->mu, NULL);
        pthread_cond_init(&st->cv, NULL);
        st->sync_init = true;
        st->has_ckpt = pthread_create(&st->ckpt, NULL, checkpointer, st) == 0;
        if (st->has_ckpt)
            sqlite3_wal_autocheckpoint(st->db, 0);
    }
    return st;
}

void vlt_store_close(vlt_store *st)
{
    if (!st)
        return;
    if (st->has_ckpt) {
        pthread_mutex_lock(&st->mu);
        st->ckpt_stop = true;
        pthread_cond_signal(&st->cv);
        pthread_mutex_unlock(&st->mu);
        pthread_join(st->ckpt, NULL);
    }
    if (st->sync_init) {
        pthread_mutex_destroy(&st->mu);
        pthread_cond_destroy(&st->cv);
    }
    for (int i = 0; i < st->ncache; i++)
        sqlite3_finalize(st->cache[i].s);
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
/* The prepared statement for sql, reset and ready to bind; NULL (err set) on failure.
 * Statements past the cache's size are prepared each time and finalized by done(). */
static sqlite3_stmt *stmt(vlt_store *st, const char *sql, cm_err *err)
{
    /* Same address first (then the text, since a caller's buffer may be reused). */
    for (int i = 0; i < st->ncache; i++)
        if (st->cache[i].lit == sql && !strcmp(st->cache[i].sql, sql))
            return st->cache[i].s;
    for (int i = 0; i < st->ncache; i++)
        if (!strcmp(st->cache[i].sql, sql))
            return st->cache[i].s;
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) {
        db_err(st, err, "prepare");
        return NULL;
    }
    if (st->ncache < STMT_CACHE && strlen(sql) < sizeof st->cache[0].sql) {
        snprintf(st->cache[st->ncache].sql, sizeof st->cache[0].sql, "%s", sql);
        st->cache[st->ncache].lit = sql;
        st->cache[st->ncache++].s = s;
    }
    return s;
}

/* Steps a statement from stmt() once; it is reset (or finalized if uncached) after. */
static int done(vlt_store *st, sqlite3_stmt *s)
{
    int rc = sqlite3_step(s);
    bool cached = false;
    for (int i = 0; i < st->ncache && !cached; i++)
        cached = st->cache[i].s == s;
    if (cached) {
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
    } else {
        sqlite3_finalize(s);
    }
    return rc;
}

static int run(vlt_store *st, const char *sql, const char *a, const char *b, const void *blob,
               size_t blobn, cm_err *err)
{
    sqlite3_stmt *s = stmt(st, sql, err);
    if (!s)
        return -1;
    int i = 1;
    if (a)
        sqlite3_bind_text(s, i++, a, -1, SQLITE_STATIC);
    if (b)
        sqlite3_bind_text(s, i++, b, -1, SQLITE_STATIC);
    if (blob)
        sqlite3_bind_blob(s, i++, blob, (int)blobn, SQLITE_STATIC);
    if (done(st, s) != SQLITE_DONE)
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

/* Runs a query and hands each row to row(); a read error mid-way is an error, never a
 * silently shorter result. */
static int rows(vlt_store *st, const char *sql, void (*row)(sqlite3_stmt *s, void *ctx), void *ctx,
                cm_err *err)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
        return db_err(st, err, "read");
    int step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW)
        row(s, ctx);
    sqlite3_finalize(s);
    return step == SQLITE_DONE ? 0 : db_err(st, err, "read");
}

struct each_ctx {
    union {
        void (*seen)(void *arg, const char *id);
        void (*acl)(void *arg, const char *key, unsigned perms);
        void (*offset)(void *arg, const char *topic, int32_t part, int64_t off);
        void (*meta)(void *arg, const char *k, const char *v);
    } fn;
    void *arg;
};

int vlt_store_seen_add(vlt_store *st, const char *id, cm_err *err)
{
    return run(st, "INSERT OR IGNORE INTO seen(id) VALUES(?)", id, NULL, NULL, 0, err);
}

static void seen_row(sqlite3_stmt *s, void *ctx)
{
    struct each_ctx *c = ctx;
    c->fn.seen(c->arg, (const char *)sqlite3_column_text(s, 0));
}

int vlt_store_seen_each(vlt_store *st, void (*fn)(void *arg, const char *id), void *arg,
                        cm_err *err)
{
    struct each_ctx c = {.fn.seen = fn, .arg = arg};
    return rows(st, "SELECT id FROM seen", seen_row, &c, err);
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

static void acl_row(sqlite3_stmt *s, void *ctx)
{
    struct each_ctx *c = ctx;
    c->fn.acl(c->arg, (const char *)sqlite3_column_text(s, 0), (unsigned)sqlite3_column_int(s, 1));
}

int vlt_store_acl_each(vlt_store *st, void (*fn)(void *arg, const char *key, unsigned perms),
                       void *arg, cm_err *err)
{
    struct each_ctx c = {.fn.acl = fn, .arg = arg};
    return rows(st, "SELECT k, perms FROM acl", acl_row, &c, err);
}

int vlt_store_outbox_add(vlt_store *st, const vlt_outmsg *m, int64_t *id, cm_err *err)
{
    sqlite3_stmt *s = stmt(st,
                           "INSERT INTO outbox(topic, part, chain, seq, key, value, reason, input)"
                           " VALUES(?, ?, ?, ?, ?, ?, ?, ?)",
                           err);
    if (!s)
        return -1;
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
    if (done(st, s) != SQLITE_DONE)
        return db_err(st, err, "outbox write");
    *id = sqlite3_last_insert_rowid(st->db);
    return 0;
}

int vlt_store_outbox_del(vlt_store *st, int64_t first, int64_t last, cm_err *err)
{
    sqlite3_stmt *s = stmt(st, "DELETE FROM outbox WHERE id BETWEEN ? AND ?", err);
    if (!s)
        return -1;
    sqlite3_bind_int64(s, 1, first);
    sqlite3_bind_int64(s, 2, last);
    return done(st, s) == SQLITE_DONE ? 0 : db_err(st, err, "outbox delete");
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
    int step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
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
    return step == SQLITE_DONE ? 0 : -1;
}

int vlt_store_offset_put(vlt_store *st, const char *topic, int32_t part, int64_t off, cm_err *err)
{
    sqlite3_stmt *s = stmt(st, "INSERT OR REPLACE INTO offsets(topic, part, off) VALUES(?, ?, ?)",
                           err);
    if (!s)
        return -1;
    sqlite3_bind_text(s, 1, topic, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 2, part);
    sqlite3_bind_int64(s, 3, off);
    return done(st, s) == SQLITE_DONE ? 0 : db_err(st, err, "offset write");
}

static void offset_row(sqlite3_stmt *s, void *ctx)
{
    struct each_ctx *c = ctx;
    c->fn.offset(c->arg, (const char *)sqlite3_column_text(s, 0), sqlite3_column_int(s, 1),
       sqlite3_column_int64(s, 2));
}

int vlt_store_offset_each(vlt_store *st,
                          void (*fn)(void *arg, const char *topic, int32_t part, int64_t off),
                          void *arg, cm_err *err)
{
    struct each_ctx c = {.fn.offset = fn, .arg = arg};
    return rows(st, "SELECT topic, part, off FROM offsets", offset_row, &c, err);
}

int vlt_store_meta_put(vlt_store *st, const char *k, const char *v, cm_err *err)
{
    return run(st, "INSERT OR REPLACE INTO meta(k, v) VALUES(?, ?)", k, v, NULL, 0, err);
}

static void meta_row(sqlite3_stmt *s, void *ctx)
{
    struct each_ctx *c = ctx;
    c->fn.meta(c->arg, (const char *)sqlite3_column_text(s, 0), (const char *)sqlite3_column_text(s, 1));
}

int vlt_store_meta_each(vlt_store *st, void (*fn)(void *arg, const char *k, const char *v),
                        void *arg, cm_err *err)
{
    struct each_ctx c = {.fn.meta = fn, .arg = arg};
    return rows(st, "SELECT k, v FROM meta ORDER BY k", meta_row, &c, err);
}

int vlt_store_fact_put(vlt_store *st, const char *k, const char *doc, cm_err *err)
{
    return run(st, "INSERT OR REPLACE INTO facts(k, doc) VALUES(?, ?)", k, doc, NULL, 0, err);
}

int vlt_store_fact_del(vlt_store *st, const char *k, cm_err *err)
{
    return run(st, "DELETE FROM facts WHERE k = ?", k, NULL, NULL, 0, err);
}

int vlt_store_fact_each(vlt_store *st, void (*fn)(void *arg, const char *k, const char *doc),
                        void *arg, cm_err *err)
{
    struct each_ctx c = {.fn.meta = fn, .arg = arg};
    return rows(st, "SELECT k, doc FROM facts ORDER BY k", meta_row, &c, err);
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
