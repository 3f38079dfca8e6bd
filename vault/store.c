#include "vault/store.h"
#include "vault/state.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <sqlite3.h>

#include "common/fault.h"
#include "crypto/crypto.h"

/* Write statements are prepared once and reused: the state writes the same dozen
 * statements thousands of times a second. */
#define STMT_CACHE 48

struct vlt_store {
    sqlite3 *db;
    char *path;
    struct {
        char sql[200];
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
    /* Authentication (SPEC §3a): every row carries the commit count that wrote it (ver)
     * and an HMAC over its table, ver and columns; the state head holds the commit count
     * and the sum of every row's MAC, so a row edited, moved, removed,
     * added or swapped for an older copy of itself does not go unnoticed. */
    enum { FMT_NEW, FMT_OLD, FMT_CURRENT } format;
    cry_mac *mac; /* NULL until vlt_store_auth */
    uint64_t counter, saved_counter;
    uint8_t digest[CRY_MAC_LEN], saved_digest[CRY_MAC_LEN];
    int64_t next_out, saved_next_out;   /* the next outbox message id */
    int64_t next_seen, saved_next_seen; /* the next seen_batches row id */
    size_t saved_nrows;
    bool in_txn;
    /* Format 3 writes what a commit adds to the outbox and to the seen ids as one row
     * each (one MAC, one insert): the messages queued since the transaction began, and
     * the event ids. Both are written by vlt_store_commit, and dropped by a rollback. */
    cm_buf out_msgs, seen_ids;
    int64_t out_first;
    size_t out_n;
    /* Outbox rows still holding messages not yet delivered, in id order: a row leaves
     * the store once every message in it is delivered. Deletions wait for the next
     * commit rather than paying for a transaction of their own. */
    struct out_row {
        int64_t id, n, left; /* the first message's id, the count, those not delivered */
    } * rows;
    size_t nrows, caprows;
    int64_t *gone; /* rows of outbox_batches to delete at the next commit */
    size_t ngone, capgone;
    struct { /* id ranges of the legacy outbox table, likewise */
        int64_t first, last;
    } * legacy_gone;
    size_t nlegacy_gone, caplegacy_gone;
    bool legacy_out; /* the legacy outbox table holds rows (a migrated state) */
    int old_format;  /* the format of an older build's file */
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

/* Every table; the first three are vlt_store_table's documents. */
enum tab {
    T_VAULTS,
    T_KEYS,
    T_RESOURCES,
    T_SEEN,
    T_ACL,
    T_OUTBOX,
    T_OFFSETS,
    T_META,
    T_DATA,
    T_SEEN_LEGACY,
    T_FACTS,
    T_OUTBOX_BATCHES,
    T_SEEN_BATCHES,
    T__COUNT
};
static const char *const tables[T__COUNT] = {
    "vaults", "keys",           "resources",   "seen", "acl",
    "outbox", "offsets",        "meta",        "data", "seen_legacy",
    "facts",  "outbox_batches", "seen_batches"};
/* The columns a row's MAC covers, in order, then ver and mac. */
static const char *const columns[T__COUNT] = {
    "id, doc",
    "id, doc",
    "id, doc",
    "id",
    "k, perms",
    "id, topic, part, chain, seq, key, value, reason, input, headers",
    "topic, part, off",
    "k, v",
    "resource, class, sealed",
    "id",
    "k, doc",
    "id, n, msgs",
    "id, ids"};
static const int ncolumns[T__COUNT] = {2, 2, 2, 1, 2, 10, 3, 2, 3, 1, 2, 3, 2};

static int db_err(vlt_store *st, cm_err *err, const char *what)
{
    cm_err_set(err, st->path, 0, 0, "%s: %s", what, sqlite3_errmsg(st->db));
    return -1;
}

static const char PRAGMAS[] = "PRAGMA journal_mode=WAL;"
                              "PRAGMA synchronous=NORMAL;";

static const char SCHEMA[] =
    "CREATE TABLE meta(k TEXT PRIMARY KEY, v TEXT NOT NULL, ver INTEGER NOT NULL,"
    " mac BLOB NOT NULL);"
    "CREATE TABLE vaults(id TEXT PRIMARY KEY, doc TEXT NOT NULL, ver INTEGER NOT NULL,"
    " mac BLOB NOT NULL);"
    "CREATE TABLE keys(id TEXT PRIMARY KEY, doc TEXT NOT NULL, ver INTEGER NOT NULL,"
    " mac BLOB NOT NULL);"
    "CREATE TABLE resources(id TEXT PRIMARY KEY, doc TEXT NOT NULL, ver INTEGER NOT NULL,"
    " mac BLOB NOT NULL);"
    "CREATE TABLE seen(id TEXT PRIMARY KEY, ver INTEGER NOT NULL, mac BLOB NOT NULL);"
    "CREATE TABLE seen_legacy(id TEXT PRIMARY KEY, ver INTEGER NOT NULL, mac BLOB NOT NULL);"
    "CREATE TABLE facts(k TEXT PRIMARY KEY, doc TEXT NOT NULL, ver INTEGER NOT NULL,"
    " mac BLOB NOT NULL);"
    "CREATE TABLE acl(k TEXT PRIMARY KEY, perms INTEGER NOT NULL, ver INTEGER NOT NULL,"
    " mac BLOB NOT NULL);"
    "CREATE TABLE outbox(id INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL,"
    " part INTEGER NOT NULL, chain TEXT, seq INTEGER, key BLOB, value BLOB NOT NULL,"
    " reason TEXT, input TEXT, headers BLOB, ver INTEGER NOT NULL, mac BLOB NOT NULL);"
    "CREATE TABLE offsets(topic TEXT NOT NULL, part INTEGER NOT NULL,"
    " off INTEGER NOT NULL, ver INTEGER NOT NULL, mac BLOB NOT NULL, PRIMARY KEY(topic, part));"
    "CREATE TABLE data(resource TEXT NOT NULL, class TEXT NOT NULL,"
    " sealed BLOB NOT NULL, ver INTEGER NOT NULL, mac BLOB NOT NULL, PRIMARY KEY(resource, class));"
    "CREATE TABLE outbox_batches(id INTEGER PRIMARY KEY AUTOINCREMENT, n INTEGER NOT NULL,"
    " msgs BLOB NOT NULL,"
    " ver INTEGER NOT NULL, mac BLOB NOT NULL);"
    "CREATE TABLE seen_batches(id INTEGER PRIMARY KEY, ids BLOB NOT NULL, ver INTEGER NOT NULL,"
    " mac BLOB NOT NULL);"
    "CREATE TABLE head(one INTEGER PRIMARY KEY CHECK (one = 1), counter INTEGER NOT NULL,"
    " digest BLOB NOT NULL, mac BLOB NOT NULL);";

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
    (void)vfs; /* the real VFS opens the file */
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
    if (cm_fault_kind_armed(CM_FAULT_SQLITE) &&
        sqlite3_config(SQLITE_CONFIG_GETMALLOC, &real_mem) == SQLITE_OK) {
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

/* What the file holds: nothing yet, an older build's tables, or this build's. */
static int detect_format(vlt_store *st, cm_err *err)
{
    sqlite3_stmt *q = NULL;
    int rc = -1;
    if (sqlite3_prepare_v2(st->db, "SELECT count(*) FROM sqlite_master WHERE type = 'table'", -1,
                           &q, NULL) != SQLITE_OK ||
        sqlite3_step(q) != SQLITE_ROW) {
        db_err(st, err, "cannot read the state store");
        goto out;
    }
    if (sqlite3_column_int(q, 0) == 0) {
        st->format = FMT_NEW;
        rc = 0;
        goto out;
    }
    sqlite3_finalize(q);
    q = NULL;
    /* An older build's meta table has no ver/mac columns and no format row. */
    st->old_format = 1;
    if (sqlite3_prepare_v2(st->db, "SELECT v FROM meta WHERE k = 'format'", -1, &q, NULL) !=
        SQLITE_OK) {
        st->format = FMT_OLD;
        rc = 0;
        goto out;
    }
    int step = sqlite3_step(q);
    const char *v = step == SQLITE_ROW ? (const char *)sqlite3_column_text(q, 0) : NULL;
    if (step == SQLITE_ROW && v && !strcmp(v, VLT_STORE_FORMAT_S)) {
        st->format = FMT_CURRENT;
        rc = 0;
    } else if (step == SQLITE_ROW && v && !strcmp(v, "2")) {
        st->format = FMT_OLD; /* one row per outbox message and per seen id */
        st->old_format = 2;
        rc = 0;
    } else if (step == SQLITE_DONE) {
        st->format = FMT_OLD;
        rc = 0;
    } else if (step == SQLITE_ROW) {
        int64_t f = 0;
        if (v && cm_parse_i64(v, &f) && f > VLT_STORE_FORMAT && f < 1000)
            cm_err_set(err, st->path, 0, 0,
                       "state written by a newer cmkguard (format %lld; this build reads format "
                       "%d): nothing was changed",
                       (long long)f, VLT_STORE_FORMAT);
        else
            cm_err_set(err, st->path, 0, 0, "the state format '%s' is not one cmkguard writes",
                       v ? v : "(null)");
    } else {
        db_err(st, err, "cannot read the state store");
    }
out:
    sqlite3_finalize(q);
    return rc;
}

vlt_store *vlt_store_open(const char *path, cm_err *err)
{
    fault_seams();
    vlt_store *st = cm_xcalloc(1, sizeof *st);
    st->path = cm_strdup(path);
    cm_buf_init(&st->out_msgs, 0);
    cm_buf_init(&st->seen_ids, 0);
    if (sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        db_err(st, err, "cannot open state store");
        vlt_store_close(st);
        return NULL;
    }
    sqlite3_busy_timeout(st->db, 5000);
    if (sqlite3_exec(st->db, PRAGMAS, NULL, NULL, NULL) != SQLITE_OK) {
        db_err(st, err, "cannot initialise state store");
        vlt_store_close(st);
        return NULL;
    }
    if (detect_format(st, err) < 0) {
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
    if ((st->ngone || st->nlegacy_gone) && st->mac && !st->in_txn) {
        /* Deliveries confirmed since the last commit: recorded now, or found in the audit
         * topic by the next run. */
        cm_err e;
        if (vlt_store_begin(st, &e) == 0)
            vlt_store_commit(st, &e);
    }
    for (int i = 0; i < st->ncache; i++)
        sqlite3_finalize(st->cache[i].s);
    sqlite3_close(st->db);
    cry_mac_free(st->mac);
    cm_buf_free(&st->out_msgs);
    cm_buf_free(&st->seen_ids);
    free(st->rows);
    free(st->gone);
    free(st->legacy_gone);
    free(st->path);
    free(st);
}

bool vlt_store_is_old(const vlt_store *st)
{
    return st->format == FMT_OLD;
}

int vlt_store_copy(vlt_store *st, const char *path, cm_err *err)
{
    sqlite3_stmt *q = NULL;
    int rc = -1;
    if (sqlite3_prepare_v2(st->db, "VACUUM INTO ?", -1, &q, NULL) == SQLITE_OK) {
        sqlite3_bind_text(q, 1, path, -1, SQLITE_STATIC);
        rc = sqlite3_step(q) == SQLITE_DONE ? 0 : -1;
    }
    if (rc < 0)
        db_err(st, err, "cannot copy the state");
    sqlite3_finalize(q);
    return rc;
}

int vlt_store_format(const vlt_store *st)
{
    return st->format == FMT_NEW ? 0 : st->format == FMT_OLD ? st->old_format : VLT_STORE_FORMAT;
}

bool vlt_store_is_new(const vlt_store *st)
{
    return st->format == FMT_NEW;
}

bool vlt_store_is_file_new(const char *path)
{
    struct stat sb;
    return stat(path, &sb) < 0 || sb.st_size == 0;
}

static int exec(vlt_store *st, const char *sql, cm_err *err)
{
    if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return db_err(st, err, sql);
    return 0;
}

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

/* Resets a statement from stmt(), or finalizes it when it was not cached. */
static void release(vlt_store *st, sqlite3_stmt *s)
{
    bool cached = false;
    for (int i = 0; i < st->ncache && !cached; i++)
        cached = st->cache[i].s == s;
    if (cached) {
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
    } else {
        sqlite3_finalize(s);
    }
}

/* Steps a statement from stmt() once, then releases it. */
static int done(vlt_store *st, sqlite3_stmt *s)
{
    int rc = sqlite3_step(s);
    release(st, s);
    return rc;
}

/* ---------- authentication ---------- */

/* One column of a row as the MAC sees it; null is distinct from empty. */
typedef struct col {
    const void *p;
    size_t n;
    bool null;
} col;

static col ctext(const char *s)
{
    return s ? (col){s, strlen(s), false} : (col){NULL, 0, true};
}

static void be64(uint8_t out[8], uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        out[i] = (uint8_t)v;
}

/* HMAC over the table, the row's version and its columns, each length-prefixed. */
static int row_mac(vlt_store *st, enum tab t, uint64_t ver, const col *c, int nc,
                   uint8_t out[CRY_MAC_LEN])
{
    uint8_t b[8];
    int rc = cry_mac_begin(st->mac);
    rc |= cry_mac_update(st->mac, "cmkguard row\0", 13);
    rc |= cry_mac_update(st->mac, tables[t], strlen(tables[t]) + 1);
    be64(b, ver);
    rc |= cry_mac_update(st->mac, b, 8);
    for (int i = 0; i < nc; i++) {
        be64(b, c[i].null ? UINT64_MAX : (uint64_t)c[i].n);
        rc |= cry_mac_update(st->mac, b, 8);
        if (!c[i].null && c[i].n)
            rc |= cry_mac_update(st->mac, c[i].p, c[i].n);
    }
    rc |= cry_mac_final(st->mac, out);
    return rc ? -1 : 0;
}

static int head_mac(vlt_store *st, uint64_t counter, const uint8_t *digest,
                    uint8_t out[CRY_MAC_LEN])
{
    uint8_t b[8];
    be64(b, counter);
    int rc = cry_mac_begin(st->mac);
    rc |= cry_mac_update(st->mac, "cmkguard state head\0" VLT_STORE_FORMAT_S, 21);
    rc |= cry_mac_update(st->mac, b, 8);
    rc |= cry_mac_update(st->mac, digest, CRY_MAC_LEN);
    rc |= cry_mac_final(st->mac, out);
    return rc ? -1 : 0;
}

/* The set digest: a 512-bit little-endian sum of the rows' MACs, mod 2^512. A MAC is a
 * keyed pseudo-random value, so no one without the key can pick rows that sum to it. */
static int digest_step(uint8_t d[CRY_MAC_LEN], const uint8_t mac[CRY_MAC_LEN], bool add)
{
    unsigned carry = 0;
    for (int i = 0; i < CRY_MAC_LEN; i++) {
        int v = add ? d[i] + mac[i] + (int)carry : d[i] - mac[i] - (int)carry;
        carry = add ? (v > 255) : (v < 0);
        d[i] = (uint8_t)(v & 255);
    }
    return 0;
}

static bool mac_col_ok(sqlite3_stmt *q, int i)
{
    return sqlite3_column_type(q, i) == SQLITE_BLOB && sqlite3_column_bytes(q, i) == CRY_MAC_LEN;
}

/* Reads column i of a row as the MAC sees it (integers as decimal text). */
static col qcol(sqlite3_stmt *q, int i, char *num, size_t numn)
{
    switch (sqlite3_column_type(q, i)) {
    case SQLITE_NULL:
        return (col){NULL, 0, true};
    case SQLITE_INTEGER:
        snprintf(num, numn, "%lld", (long long)sqlite3_column_int64(q, i));
        return (col){num, strlen(num), false};
    default: {
        const void *p = sqlite3_column_blob(q, i);
        int n = sqlite3_column_bytes(q, i);
        return (col){p ? p : "", (size_t)n, false};
    }
    }
}

/* Whether the row q holds (columns of t, then ver, then mac) carries its own MAC. */
static int row_check(vlt_store *st, enum tab t, sqlite3_stmt *q, bool *ok)
{
    int nc = ncolumns[t];
    col c[10];
    char nums[10][24];
    for (int i = 0; i < nc; i++)
        c[i] = qcol(q, i, nums[i], sizeof nums[i]);
    sqlite3_int64 ver = sqlite3_column_int64(q, nc);
    uint8_t m[CRY_MAC_LEN];
    if (row_mac(st, t, (uint64_t)ver, c, nc, m) < 0)
        return -1;
    *ok = sqlite3_column_type(q, nc) == SQLITE_INTEGER && ver >= 1 &&
          (uint64_t)ver <= st->counter && mac_col_ok(q, nc + 1) &&
          cry_memeq(m, sqlite3_column_blob(q, nc + 1), CRY_MAC_LEN);
    return 0;
}

/* A readable name for the row q holds: its key columns. */
static void row_name(enum tab t, sqlite3_stmt *q, char *out, size_t n)
{
    char a[24], b[24];
    col c0 = qcol(q, 0, a, sizeof a), c1 = qcol(q, 1, b, sizeof b);
    int l0 = (int)(c0.n > 200 ? 200 : c0.n), l1 = (int)(c1.n > 200 ? 200 : c1.n);
    if (t == T_OFFSETS || t == T_DATA)
        snprintf(out, n, "%.*s/%.*s", l0, c0.null ? "" : (const char *)c0.p, l1,
                 c1.null ? "" : (const char *)c1.p);
    else
        snprintf(out, n, "%.*s", l0, c0.null ? "" : (const char *)c0.p);
    for (char *p = out; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f)
            *p = '?';
}

static int bad_row(vlt_store *st, enum tab t, sqlite3_stmt *q, cm_err *err)
{
    char name[420];
    row_name(t, q, name, sizeof name);
    cm_err_set(err, st->path, 0, 0,
               "%s record '%s' fails its authentication check (edited or damaged): the state "
               "is refused, nothing was decrypted",
               tables[t], name);
    return -1;
}

/* Adds (or removes) a written row's MAC to the running digest. */
static int written(vlt_store *st, enum tab t, const col *c, uint8_t mac[CRY_MAC_LEN])
{
    if (row_mac(st, t, st->counter + 1, c, ncolumns[t], mac) < 0)
        return -1;
    return digest_step(st->digest, mac, true);
}

/* Runs a DELETE … RETURNING mac and takes every removed row out of the digest. */
static int removed(vlt_store *st, sqlite3_stmt *q, cm_err *err)
{
    int step, rc = 0;
    while ((step = sqlite3_step(q)) == SQLITE_ROW)
        if (mac_col_ok(q, 0) && digest_step(st->digest, sqlite3_column_blob(q, 0), false) < 0)
            rc = -1;
    release(st, q);
    if (rc < 0) {
        cm_err_set(err, st->path, 0, 0, "cannot update the state digest");
        return -1;
    }
    return step == SQLITE_DONE ? 0 : db_err(st, err, "write");
}

/* Writes outside a transaction get one of their own, so the head always follows. */
static int auto_begin(vlt_store *st, bool *own, cm_err *err)
{
    *own = !st->in_txn;
    return *own ? vlt_store_begin(st, err) : 0;
}

static int auto_end(vlt_store *st, bool own, int rc, cm_err *err)
{
    if (!own)
        return rc;
    if (rc < 0) {
        vlt_store_rollback(st);
        return -1;
    }
    return vlt_store_commit(st, err);
}

static int write_head(vlt_store *st, cm_err *err)
{
    uint8_t m[CRY_MAC_LEN];
    if (head_mac(st, st->counter, st->digest, m) < 0) {
        cm_err_set(err, st->path, 0, 0, "cannot authenticate the state head");
        return -1;
    }
    sqlite3_stmt *q =
        stmt(st, "INSERT OR REPLACE INTO head(one, counter, digest, mac) VALUES(1, ?, ?, ?)", err);
    if (!q)
        return -1;
    sqlite3_bind_int64(q, 1, (sqlite3_int64)st->counter);
    sqlite3_bind_blob(q, 2, st->digest, CRY_MAC_LEN, SQLITE_STATIC);
    sqlite3_bind_blob(q, 3, m, CRY_MAC_LEN, SQLITE_STATIC);
    return done(st, q) == SQLITE_DONE ? 0 : db_err(st, err, "state head write");
}

static int write_batches(vlt_store *st, cm_err *err);
static void batches_committed(vlt_store *st);

int vlt_store_begin(vlt_store *st, cm_err *err)
{
    if (!st->mac) {
        cm_err_set(err, st->path, 0, 0, "the state store is not open for writing");
        return -1;
    }
    if (exec(st, "BEGIN IMMEDIATE", err) < 0)
        return -1;
    st->in_txn = true;
    st->saved_counter = st->counter;
    st->saved_next_out = st->next_out;
    st->saved_next_seen = st->next_seen;
    st->saved_nrows = st->nrows;
    memcpy(st->saved_digest, st->digest, sizeof st->digest);
    return 0;
}

int vlt_store_commit(vlt_store *st, cm_err *err)
{
    if (write_batches(st, err) < 0) {
        vlt_store_rollback(st);
        return -1;
    }
    st->counter++;
    if (write_head(st, err) < 0 || exec(st, "COMMIT", err) < 0) {
        vlt_store_rollback(st);
        return -1;
    }
    st->in_txn = false;
    batches_committed(st);
    return 0;
}

void vlt_store_rollback(vlt_store *st)
{
    sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    if (st->in_txn) {
        st->counter = st->saved_counter;
        st->next_out = st->saved_next_out;
        st->next_seen = st->saved_next_seen;
        st->nrows = st->saved_nrows;
        memcpy(st->digest, st->saved_digest, sizeof st->digest);
    }
    /* What the transaction queued was not written; deletions wait for the next one. */
    cm_buf_reset(&st->out_msgs);
    cm_buf_reset(&st->seen_ids);
    st->out_n = 0;
    st->in_txn = false;
}

/* Sums every row's MAC of every table into d, checking each row's version against the
 * head's count; the first row out of range is named in err. */
static int digest_all(vlt_store *st, uint8_t d[CRY_MAC_LEN], cm_err *err)
{
    memset(d, 0, CRY_MAC_LEN);
    for (int t = 0; t < T__COUNT; t++) {
        char sql[200];
        snprintf(sql, sizeof sql, "SELECT %s, ver, mac FROM %s", columns[t], tables[t]);
        sqlite3_stmt *q = NULL;
        if (sqlite3_prepare_v2(st->db, sql, -1, &q, NULL) != SQLITE_OK)
            return db_err(st, err, "cannot read the state store");
        int step, nc = ncolumns[t];
        while ((step = sqlite3_step(q)) == SQLITE_ROW) {
            sqlite3_int64 ver = sqlite3_column_int64(q, nc);
            if (!mac_col_ok(q, nc + 1) || ver < 1 || (uint64_t)ver > st->counter) {
                bad_row(st, (enum tab)t, q, err);
                sqlite3_finalize(q);
                return -1;
            }
            if (digest_step(d, sqlite3_column_blob(q, nc + 1), true) < 0) {
                cm_err_set(err, st->path, 0, 0, "cannot compute the state digest");
                sqlite3_finalize(q);
                return -1;
            }
        }
        sqlite3_finalize(q);
        if (step != SQLITE_DONE)
            return db_err(st, err, "cannot read the state store");
    }
    return 0;
}

/* Reads and checks the head: 0 with counter and digest set, -1 (err) otherwise. */
static int read_head(vlt_store *st, cm_err *err)
{
    sqlite3_stmt *q = NULL;
    int rc = -1;
    if (sqlite3_prepare_v2(st->db, "SELECT counter, digest, mac FROM head WHERE one = 1", -1, &q,
                           NULL) != SQLITE_OK) {
        cm_err_set(err, st->path, 0, 0, "has no state head: the state is refused");
        goto out;
    }
    int step = sqlite3_step(q);
    if (step != SQLITE_ROW) {
        if (step == SQLITE_DONE)
            cm_err_set(err, st->path, 0, 0, "has no state head: the state is refused");
        else
            db_err(st, err, "cannot read the state head");
        goto out;
    }
    sqlite3_int64 counter = sqlite3_column_int64(q, 0);
    uint8_t m[CRY_MAC_LEN];
    if (sqlite3_column_type(q, 1) != SQLITE_BLOB || sqlite3_column_bytes(q, 1) != CRY_MAC_LEN ||
        !mac_col_ok(q, 2) || counter < 0 ||
        head_mac(st, (uint64_t)counter, sqlite3_column_blob(q, 1), m) < 0 ||
        !cry_memeq(m, sqlite3_column_blob(q, 2), CRY_MAC_LEN)) {
        cm_err_set(err, st->path, 0, 0,
                   "its state head fails its authentication check (edited, damaged, or made "
                   "under another master key): the state is refused, nothing was decrypted");
        goto out;
    }
    st->counter = (uint64_t)counter;
    memcpy(st->digest, sqlite3_column_blob(q, 1), CRY_MAC_LEN);
    rc = 0;
out:
    sqlite3_finalize(q);
    return rc;
}

static int64_t max_of(vlt_store *st, const char *sql)
{
    sqlite3_stmt *q = NULL;
    int64_t v = 0;
    if (sqlite3_prepare_v2(st->db, sql, -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
        v = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    return v;
}

static void add_row(vlt_store *st, int64_t id, int64_t n)
{
    if (st->nrows == st->caprows) {
        st->caprows = st->caprows ? st->caprows * 2 : 64;
        st->rows = cm_xrealloc(st->rows, st->caprows * sizeof *st->rows);
    }
    st->rows[st->nrows++] = (struct out_row){id, n, n};
}

/* Where the outbox and the seen ids stand in an authenticated file: the next ids, and
 * the outbox rows still to deliver (their messages are read, and checked, only when a
 * run resends them). */
static int load_outbox(vlt_store *st, cm_err *err)
{
    sqlite3_stmt *q = NULL;
    st->nrows = 0;
    /* A row of outbox_batches is keyed by the id of its last message, so the sequence
     * remembers the last id ever handed out, and ids never repeat. */
    st->next_out = 1 + max_of(st, "SELECT max(seq) FROM sqlite_sequence WHERE name IN "
                                  "('outbox', 'outbox_batches')");
    st->legacy_out = max_of(st, "SELECT count(*) FROM outbox") > 0;
    st->next_seen = 1 + max_of(st, "SELECT max(id) FROM seen_batches");
    if (sqlite3_prepare_v2(st->db, "SELECT id, n FROM outbox_batches ORDER BY id", -1, &q, NULL) !=
        SQLITE_OK)
        return db_err(st, err, "outbox read");
    int step;
    while ((step = sqlite3_step(q)) == SQLITE_ROW) {
        int64_t last = sqlite3_column_int64(q, 0), n = sqlite3_column_int64(q, 1);
        add_row(st, last - n + 1, n);
        if (last >= st->next_out)
            st->next_out = last + 1;
    }
    sqlite3_finalize(q);
    return step == SQLITE_DONE ? 0 : db_err(st, err, "outbox read");
}

static cry_mac *derive_mac(const cry_secret *master)
{
    cry_secret *k = cry_hkdf(master, "cmkguard state authentication v1", 64);
    cry_mac *m = k ? cry_mac_new(k) : NULL;
    cry_secret_free(k);
    return m;
}

int vlt_store_auth(vlt_store *st, const cry_secret *master, cm_err *err)
{
    if (st->format == FMT_OLD) {
        cm_err_set(err, st->path, 0, 0,
                   "state written by an older cmkguard (format %d; this build reads format %d): "
                   "upgrade it once with 'cmkguard state migrate --state %s'",
                   st->old_format, VLT_STORE_FORMAT, st->path);
        return -1;
    }
    cry_mac_free(st->mac);
    if (!(st->mac = derive_mac(master))) {
        cm_err_set(err, st->path, 0, 0, "cannot derive the state authentication key");
        return -1;
    }
    if (st->format == FMT_NEW) {
        /* Tables, format and head in one transaction: a crash leaves a fresh file. */
        memset(st->digest, 0, sizeof st->digest);
        st->counter = 0;
        st->next_out = st->next_seen = 1;
        st->nrows = 0;
        if (vlt_store_begin(st, err) < 0)
            return -1;
        if (exec(st, SCHEMA, err) < 0 ||
            vlt_store_meta_put(st, "format", VLT_STORE_FORMAT_S, err) < 0 ||
            vlt_store_commit(st, err) < 0) {
            vlt_store_rollback(st);
            return -1;
        }
        st->format = FMT_CURRENT;
        return 0;
    }
    if (read_head(st, err) < 0)
        return -1;
    uint8_t d[CRY_MAC_LEN];
    if (digest_all(st, d, err) < 0)
        return -1;
    if (!cry_memeq(d, st->digest, sizeof d)) {
        cm_err_set(err, st->path, 0, 0,
                   "its records do not match its state head (a record was removed, added, or "
                   "replaced by an older copy): the state is refused, nothing was decrypted");
        return -1;
    }
    return load_outbox(st, err);
}

int vlt_store_verify(vlt_store *st, const cry_secret *master,
                     void (*bad)(void *arg, const char *what), void *arg, cm_err *err)
{
    if (st->format != FMT_CURRENT)
        return vlt_store_auth(st, master, err);
    cry_mac_free(st->mac);
    if (!(st->mac = derive_mac(master))) {
        cm_err_set(err, st->path, 0, 0, "cannot derive the state authentication key");
        return -1;
    }
    int nbad = 0;
    cm_err e;
    cm_err_clear(&e);
    bool head_ok = read_head(st, &e) == 0;
    if (!head_ok) {
        bad(arg, e.msg);
        nbad++;
        st->counter = UINT64_MAX; /* still check every row's own MAC */
    }
    uint8_t d[CRY_MAC_LEN];
    memset(d, 0, sizeof d);
    for (int t = 0; t < T__COUNT; t++) {
        char sql[200];
        snprintf(sql, sizeof sql, "SELECT %s, ver, mac FROM %s", columns[t], tables[t]);
        sqlite3_stmt *q = NULL;
        if (sqlite3_prepare_v2(st->db, sql, -1, &q, NULL) != SQLITE_OK)
            return db_err(st, err, "cannot read the state store");
        int step;
        while ((step = sqlite3_step(q)) == SQLITE_ROW) {
            bool ok = false;
            if (row_check(st, (enum tab)t, q, &ok) < 0) {
                sqlite3_finalize(q);
                cm_err_set(err, st->path, 0, 0, "cannot compute a record's MAC");
                return -1;
            }
            if (!ok) {
                bad_row(st, (enum tab)t, q, &e);
                bad(arg, e.msg);
                nbad++;
            }
            if (mac_col_ok(q, ncolumns[t] + 1) &&
                digest_step(d, sqlite3_column_blob(q, ncolumns[t] + 1), true) < 0) {
                sqlite3_finalize(q);
                cm_err_set(err, st->path, 0, 0, "cannot compute the state digest");
                return -1;
            }
        }
        sqlite3_finalize(q);
        if (step != SQLITE_DONE) {
            cm_err_set(err, st->path, 0, 0, "cannot read table %s: %s", tables[t],
                       sqlite3_errmsg(st->db));
            bad(arg, err->msg);
            nbad++;
        }
    }
    /* SQLite's own structure too: a damaged index answers lookups differently from the
     * table scans above. */
    sqlite3_stmt *ic = NULL;
    if (sqlite3_prepare_v2(st->db, "PRAGMA integrity_check", -1, &ic, NULL) == SQLITE_OK) {
        while (sqlite3_step(ic) == SQLITE_ROW) {
            const char *m = (const char *)sqlite3_column_text(ic, 0);
            if (m && strcmp(m, "ok") != 0) {
                char line[600];
                snprintf(line, sizeof line, "damaged file structure: %s", m);
                bad(arg, line);
                nbad++;
            }
        }
    } else {
        bad(arg, "damaged file structure: the integrity check cannot run");
        nbad++;
    }
    sqlite3_finalize(ic);
    if (head_ok && !cry_memeq(d, st->digest, sizeof d)) {
        bad(arg, "its records do not match its state head (a record was removed, added, or "
                 "replaced by an older copy)");
        nbad++;
    }
    return nbad;
}

/* Upgrades an older build's file in place, in one transaction: every table gains its
 * version and MAC, every row is authenticated as it stands, and the head is written. */
int vlt_store_migrate(vlt_store *st, const cry_secret *master, cm_err *err)
{
    if (st->format != FMT_OLD) {
        cm_err_set(err, st->path, 0, 0, "%s",
                   st->format == FMT_CURRENT ? "is already in the current format"
                                             : "holds no state to migrate");
        return -1;
    }
    if (!(st->mac = derive_mac(master))) {
        cm_err_set(err, st->path, 0, 0, "cannot derive the state authentication key");
        return -1;
    }
    memset(st->digest, 0, sizeof st->digest);
    st->counter = 0;
    if (vlt_store_begin(st, err) < 0)
        return -1;
    /* Old tables are renamed away, this build's schema created, and rows copied over. */
    static const char *const v1_cols[T__COUNT] = {
        "id, doc",
        "id, doc",
        "id, doc",
        "id",
        "k, perms",
        "id, topic, part, chain, seq, key, value, reason, input",
        "topic, part, off",
        "k, v",
        "resource, class, sealed",
        "id",
        "k, doc"};
    /* Format 1 kept seen ids without their source: they become seen_legacy, where an id
     * counts as seen from every source, so no event is ever applied twice. */
    static const char *const v1_table[T__COUNT] = {"vaults", "keys",   "resources", NULL,
                                                   "acl",    "outbox", "offsets",   "meta",
                                                   "data",   "seen",   NULL};
    /* Format 2 had every table but format 3's batches, with the columns they have now:
     * its rows stay where they are (format 3 reads one row per outbox message and per
     * seen id as well as its batches), authenticated again under the new head. */
    static const char *const v2_table[T__COUNT] = {
        "vaults", "keys", "resources",   "seen",  "acl", "outbox", "offsets",
        "meta",   "data", "seen_legacy", "facts", NULL,  NULL};
    const char *const *old_cols = st->old_format == 1 ? v1_cols : columns;
    const char *const *old_table = st->old_format == 1 ? v1_table : v2_table;
    int rc = 0;
    if (st->old_format >= 2)
        rc = exec(st, "DROP TABLE head", err); /* written anew below */
    for (int t = 0; rc == 0 && t < T__COUNT; t++) {
        char sql[160];
        snprintf(sql, sizeof sql,
                 "CREATE TABLE IF NOT EXISTS %s(x); ALTER TABLE %s RENAME TO old_%s;", tables[t],
                 tables[t], tables[t]);
        rc = exec(st, sql, err);
    }
    if (rc == 0)
        rc = exec(st, SCHEMA, err);
    for (int t = 0; rc == 0 && t < T__COUNT; t++) {
        char sql[400];
        bool has_cols = true;
        snprintf(sql, sizeof sql, "SELECT %s FROM old_%s", old_cols[t] ? old_cols[t] : "",
                 old_table[t] ? old_table[t] : "");
        sqlite3_stmt *q = NULL;
        if (!old_table[t] || !old_cols[t] ||
            sqlite3_prepare_v2(st->db, sql, -1, &q, NULL) != SQLITE_OK)
            has_cols = false; /* a table the older build never made */
        int step = SQLITE_DONE;
        while (has_cols && rc == 0 && (step = sqlite3_step(q)) == SQLITE_ROW) {
            int nc = ncolumns[t];
            if (t == T_META) {
                const char *k = (const char *)sqlite3_column_text(q, 0);
                if (k && !strcmp(k, "format"))
                    continue;
            }
            char ins[400], marks[64] = "";
            for (int i = 0; i < nc + 2; i++)
                snprintf(marks + strlen(marks), sizeof marks - strlen(marks), "%s?", i ? "," : "");
            snprintf(ins, sizeof ins, "INSERT INTO %s(%s, ver, mac) VALUES(%s)", tables[t],
                     columns[t], marks);
            sqlite3_stmt *w = NULL;
            if (sqlite3_prepare_v2(st->db, ins, -1, &w, NULL) != SQLITE_OK) {
                rc = db_err(st, err, "migrate");
                break;
            }
            col c[10];
            char nums[10][24];
            int nold = sqlite3_column_count(q); /* columns this build added are null */
            for (int i = 0; i < nc; i++) {
                if (i < nold) {
                    c[i] = qcol(q, i, nums[i], sizeof nums[i]);
                    sqlite3_bind_value(w, i + 1, sqlite3_column_value(q, i));
                } else {
                    c[i] = (col){NULL, 0, true};
                }
            }
            uint8_t m[CRY_MAC_LEN];
            if (written(st, (enum tab)t, c, m) < 0) {
                cm_err_set(err, st->path, 0, 0, "cannot authenticate a record");
                rc = -1;
            } else {
                sqlite3_bind_int64(w, nc + 1, (sqlite3_int64)(st->counter + 1));
                sqlite3_bind_blob(w, nc + 2, m, CRY_MAC_LEN, SQLITE_TRANSIENT);
                if (sqlite3_step(w) != SQLITE_DONE)
                    rc = db_err(st, err, "migrate");
            }
            sqlite3_finalize(w);
        }
        if (has_cols && rc == 0 && step != SQLITE_DONE)
            rc = db_err(st, err, "migrate");
        sqlite3_finalize(q);
    }
    for (int t = 0; rc == 0 && t < T__COUNT; t++) {
        char sql[160];
        snprintf(sql, sizeof sql, "DROP TABLE old_%s", tables[t]);
        rc = exec(st, sql, err);
    }
    if (rc == 0)
        rc = vlt_store_meta_put(st, "format", VLT_STORE_FORMAT_S, err);
    if (rc < 0 || vlt_store_commit(st, err) < 0) {
        vlt_store_rollback(st);
        return -1;
    }
    st->format = FMT_CURRENT;
    return load_outbox(st, err);
}

/* ---------- writes ---------- */

/* Runs sql (a SELECT of the MACs of the rows about to go, or a DELETE … RETURNING mac)
 * with a key of one or two text columns, taking those rows out of the digest. */
static int del_rows(vlt_store *st, const char *sql, const char *a, const char *b, cm_err *err)
{
    sqlite3_stmt *q = stmt(st, sql, err);
    if (!q)
        return -1;
    sqlite3_bind_text(q, 1, a, -1, SQLITE_STATIC);
    if (b)
        sqlite3_bind_text(q, 2, b, -1, SQLITE_STATIC);
    return removed(st, q, err);
}

/* Inserts a row of t: columns as c (text or blob; integers bound as given in ints),
 * then its version and MAC. */
static int ins_row(vlt_store *st, enum tab t, const char *sql, const col *c, const bool *is_int,
                   const int64_t *ints, cm_err *err)
{
    uint8_t m[CRY_MAC_LEN];
    if (written(st, t, c, m) < 0) {
        cm_err_set(err, st->path, 0, 0, "cannot authenticate a %s record", tables[t]);
        return -1;
    }
    sqlite3_stmt *q = stmt(st, sql, err);
    if (!q)
        return -1;
    int nc = ncolumns[t];
    for (int i = 0; i < nc; i++) {
        if (is_int && is_int[i])
            sqlite3_bind_int64(q, i + 1, ints[i]);
        else if (c[i].null)
            sqlite3_bind_null(q, i + 1);
        else if (t == T_DATA && i == 2)
            sqlite3_bind_blob(q, i + 1, c[i].p ? c[i].p : "", (int)c[i].n, SQLITE_STATIC);
        else if ((t == T_OUTBOX && (i == 5 || i == 6 || i == 9)) ||
                 (t == T_OUTBOX_BATCHES && i == 2) || (t == T_SEEN_BATCHES && i == 1))
            sqlite3_bind_blob(q, i + 1, c[i].p ? c[i].p : "", (int)c[i].n, SQLITE_STATIC);
        else
            sqlite3_bind_text(q, i + 1, c[i].p, (int)c[i].n, SQLITE_STATIC);
    }
    sqlite3_bind_int64(q, nc + 1, (sqlite3_int64)(st->counter + 1));
    sqlite3_bind_blob(q, nc + 2, m, CRY_MAC_LEN, SQLITE_TRANSIENT);
    int step = done(st, q);
    if (step != SQLITE_DONE)
        return db_err(st, err, "write"); /* the transaction rolls back, digest with it */
    if (sqlite3_changes(st->db) == 0)
        digest_step(st->digest, m, false); /* OR IGNORE kept the row there already */
    return 0;
}

/* Replaces the row keyed (a, b) with c, in a transaction of its own when none is open:
 * sel reads the MAC of the row it replaces (a point lookup), ins is an INSERT OR REPLACE,
 * cheaper than deleting and inserting in two statements. */
static int put_row(vlt_store *st, enum tab t, const char *sel, const char *a, const char *b,
                   const char *ins, const col *c, const bool *is_int, const int64_t *ints,
                   cm_err *err)
{
    bool own;
    if (auto_begin(st, &own, err) < 0)
        return -1;
    int rc = del_rows(st, sel, a, b, err); /* the row replaced leaves the digest */
    if (rc == 0)
        rc = ins_row(st, t, ins, c, is_int, ints, err);
    return auto_end(st, own, rc, err);
}

/* Removes the rows keyed (a, b), in a transaction of its own when none is open. */
static int drop_rows(vlt_store *st, const char *del, const char *a, const char *b, cm_err *err)
{
    bool own;
    if (auto_begin(st, &own, err) < 0)
        return -1;
    return auto_end(st, own, del_rows(st, del, a, b, err), err);
}

static const char *const del_doc_sql[3] = {"DELETE FROM vaults WHERE id = ? RETURNING mac",
                                           "DELETE FROM keys WHERE id = ? RETURNING mac",
                                           "DELETE FROM resources WHERE id = ? RETURNING mac"};
static const char *const sel_doc_sql[3] = {"SELECT mac FROM vaults WHERE id = ?",
                                           "SELECT mac FROM keys WHERE id = ?",
                                           "SELECT mac FROM resources WHERE id = ?"};
static const char *const ins_doc_sql[3] = {
    "INSERT OR REPLACE INTO vaults(id, doc, ver, mac) VALUES(?, ?, ?, ?)",
    "INSERT OR REPLACE INTO keys(id, doc, ver, mac) VALUES(?, ?, ?, ?)",
    "INSERT OR REPLACE INTO resources(id, doc, ver, mac) VALUES(?, ?, ?, ?)"};

int vlt_store_put(vlt_store *st, enum vlt_store_table t, const char *id, const char *doc,
                  cm_err *err)
{
    col c[2] = {ctext(id), ctext(doc)};
    return put_row(st, (enum tab)t, sel_doc_sql[t], id, NULL, ins_doc_sql[t], c, NULL, NULL, err);
}

int vlt_store_del(vlt_store *st, enum vlt_store_table t, const char *id, cm_err *err)
{
    return drop_rows(st, del_doc_sql[t], id, NULL, err);
}

/* ---------- reads: every row checked against its MAC ---------- */

/* Prepares a read of t's rows (columns, ver, mac) with an optional WHERE/ORDER tail. */
static sqlite3_stmt *read_rows(vlt_store *st, enum tab t, const char *tail, cm_err *err)
{
    char sql[400];
    snprintf(sql, sizeof sql, "SELECT %s, ver, mac FROM %s %s", columns[t], tables[t],
             tail ? tail : "");
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(st->db, sql, -1, &q, NULL) != SQLITE_OK) {
        db_err(st, err, "read");
        return NULL;
    }
    return q;
}

/* Steps q to its next row and checks it: 1 a good row, 0 the end, -1 (err) a bad row or
 * a read error, never a silently shorter result. */
static int next_row(vlt_store *st, enum tab t, sqlite3_stmt *q, cm_err *err)
{
    int step = sqlite3_step(q);
    if (step == SQLITE_DONE)
        return 0;
    if (step != SQLITE_ROW)
        return db_err(st, err, "read");
    bool ok = false;
    if (row_check(st, t, q, &ok) < 0) {
        cm_err_set(err, st->path, 0, 0, "cannot check a %s record", tables[t]);
        return -1;
    }
    return ok ? 1 : bad_row(st, t, q, err);
}

int vlt_store_each(vlt_store *st, enum vlt_store_table t,
                   int (*fn)(void *arg, const char *id, const char *doc), void *arg, cm_err *err)
{
    sqlite3_stmt *q = read_rows(st, (enum tab)t, "ORDER BY id", err);
    if (!q)
        return -1;
    int r;
    while ((r = next_row(st, (enum tab)t, q, err)) == 1) {
        const char *id = (const char *)sqlite3_column_text(q, 0);
        const char *doc = (const char *)sqlite3_column_text(q, 1);
        if (fn(arg, id ? id : "", doc ? doc : "") < 0) {
            cm_err_set(err, st->path, 0, 0, "corrupt %s record '%s'", tables[t], id ? id : "");
            r = -1;
            break;
        }
    }
    sqlite3_finalize(q);
    return r;
}

/* Hands fn the first text column of every checked row of t (ids). */
static int each_text(vlt_store *st, enum tab t, void (*fn)(void *arg, const char *v), void *arg,
                     cm_err *err)
{
    sqlite3_stmt *q = read_rows(st, t, NULL, err);
    if (!q)
        return -1;
    int r;
    while ((r = next_row(st, t, q, err)) == 1)
        fn(arg, (const char *)sqlite3_column_text(q, 0));
    sqlite3_finalize(q);
    return r;
}

/* Hands fn the two text columns of every checked row of t (key, value), in key order. */
static int each_pair(vlt_store *st, enum tab t, void (*fn)(void *arg, const char *k, const char *v),
                     void *arg, cm_err *err)
{
    sqlite3_stmt *q = read_rows(st, t, "ORDER BY k", err);
    if (!q)
        return -1;
    int r;
    while ((r = next_row(st, t, q, err)) == 1)
        fn(arg, (const char *)sqlite3_column_text(q, 0), (const char *)sqlite3_column_text(q, 1));
    sqlite3_finalize(q);
    return r;
}

/* A row of format 3's batches stays under this size: a commit with more spreads over
 * several rows. */
#define BATCH_ROW_MAX ((size_t)32 << 20)

static int seen_row_write(vlt_store *st, cm_err *err)
{
    if (cm_buf_failed(&st->seen_ids)) {
        cm_err_set(err, st->path, 0, 0, "cannot queue the seen event ids");
        return -1;
    }
    char idn[24];
    int64_t id = st->next_seen;
    snprintf(idn, sizeof idn, "%lld", (long long)id);
    col c[2] = {ctext(idn), (col){st->seen_ids.p, st->seen_ids.len, false}};
    bool is_int[2] = {true, false};
    int64_t ints[2] = {id, 0};
    int rc = ins_row(st, T_SEEN_BATCHES,
                     "INSERT INTO seen_batches(id, ids, ver, mac) VALUES(?, ?, ?, ?)", c, is_int,
                     ints, err);
    if (rc == 0)
        st->next_seen++;
    cm_buf_reset(&st->seen_ids);
    return rc;
}

/* Seen ids are only ever added: the ids a commit adds become one row of seen_batches,
 * each id followed by a NUL. */
int vlt_store_seen_add(vlt_store *st, const char *id, cm_err *err)
{
    bool own;
    if (auto_begin(st, &own, err) < 0)
        return -1;
    int rc = 0;
    size_t n = strlen(id) + 1;
    if (st->seen_ids.len && st->seen_ids.len + n > BATCH_ROW_MAX)
        rc = seen_row_write(st, err);
    if (rc == 0)
        cm_buf_add(&st->seen_ids, id, n);
    return auto_end(st, own, rc, err);
}

static void split_ids(const char *p, size_t n, void (*fn)(void *arg, const char *id), void *arg)
{
    for (size_t i = 0; i < n;) {
        const char *z = memchr(p + i, '\0', n - i);
        if (!z)
            break; /* the writer ends every id with a NUL */
        fn(arg, p + i);
        i = (size_t)(z - p) + 1;
    }
}

int vlt_store_seen_each(vlt_store *st, void (*fn)(void *arg, const char *id), void *arg,
                        cm_err *err)
{
    /* Rows of format 2 (one per id, kept by the migration), then format 3's batches. */
    if (each_text(st, T_SEEN, fn, arg, err) < 0)
        return -1;
    sqlite3_stmt *q = read_rows(st, T_SEEN_BATCHES, "ORDER BY id", err);
    if (!q)
        return -1;
    int r;
    while ((r = next_row(st, T_SEEN_BATCHES, q, err)) == 1)
        split_ids(sqlite3_column_blob(q, 1), (size_t)sqlite3_column_bytes(q, 1), fn, arg);
    sqlite3_finalize(q);
    return r;
}

int vlt_store_seen_legacy_each(vlt_store *st, void (*fn)(void *arg, const char *id), void *arg,
                               cm_err *err)
{
    return each_text(st, T_SEEN_LEGACY, fn, arg, err);
}

int vlt_store_acl_put(vlt_store *st, const char *key, unsigned perms, cm_err *err)
{
    char p[16];
    snprintf(p, sizeof p, "%u", perms);
    col c[2] = {ctext(key), ctext(p)};
    bool is_int[2] = {false, true};
    int64_t ints[2] = {0, perms};
    return put_row(st, T_ACL, "SELECT mac FROM acl WHERE k = ?", key, NULL,
                   "INSERT OR REPLACE INTO acl(k, perms, ver, mac) VALUES(?, ?, ?, ?)", c, is_int,
                   ints, err);
}

int vlt_store_acl_del(vlt_store *st, const char *key, cm_err *err)
{
    return drop_rows(st, "DELETE FROM acl WHERE k = ? RETURNING mac", key, NULL, err);
}

int vlt_store_acl_each(vlt_store *st, void (*fn)(void *arg, const char *key, unsigned perms),
                       void *arg, cm_err *err)
{
    sqlite3_stmt *q = read_rows(st, T_ACL, NULL, err);
    if (!q)
        return -1;
    int r;
    while ((r = next_row(st, T_ACL, q, err)) == 1)
        fn(arg, (const char *)sqlite3_column_text(q, 0), (unsigned)sqlite3_column_int(q, 1));
    sqlite3_finalize(q);
    return r;
}

/* ---------- the outbox: one row per commit ---------- */

static void put32(cm_buf *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    cm_buf_add(b, x, 4);
}

static void put64(cm_buf *b, uint64_t v)
{
    uint8_t x[8];
    be64(x, v);
    cm_buf_add(b, x, 8);
}

/* A field: its length (UINT32_MAX for none), then its bytes. */
static void put_field(cm_buf *b, const char *p, size_t n)
{
    if (!p) {
        put32(b, UINT32_MAX);
        return;
    }
    if (n >= UINT32_MAX) {
        cm_buf_fail(b);
        return;
    }
    put32(b, (uint32_t)n);
    cm_buf_add(b, p, n);
}

static int out_row_write(vlt_store *st, cm_err *err)
{
    if (cm_buf_failed(&st->out_msgs)) {
        cm_err_set(err, st->path, 0, 0, "cannot queue the outbox messages");
        return -1;
    }
    char idn[24], nn[24];
    int64_t last = st->out_first + (int64_t)st->out_n - 1; /* the row's key */
    snprintf(idn, sizeof idn, "%lld", (long long)last);
    snprintf(nn, sizeof nn, "%zu", st->out_n);
    col c[3] = {ctext(idn), ctext(nn), (col){st->out_msgs.p, st->out_msgs.len, false}};
    bool is_int[3] = {true, true, false};
    int64_t ints[3] = {last, (int64_t)st->out_n, 0};
    int rc = ins_row(st, T_OUTBOX_BATCHES,
                     "INSERT INTO outbox_batches(id, n, msgs, ver, mac) VALUES(?, ?, ?, ?, ?)", c,
                     is_int, ints, err);
    if (rc == 0)
        add_row(st, st->out_first, (int64_t)st->out_n);
    cm_buf_reset(&st->out_msgs);
    st->out_n = 0;
    return rc;
}

/* Deletes what deliveries emptied, and writes what the transaction queued: the outbox
 * messages and the seen ids, a row each. */
static int write_batches(vlt_store *st, cm_err *err)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < st->nlegacy_gone; i++) {
        sqlite3_stmt *q =
            stmt(st, "DELETE FROM outbox WHERE id BETWEEN ? AND ? RETURNING mac", err);
        if (!q)
            return -1;
        sqlite3_bind_int64(q, 1, st->legacy_gone[i].first);
        sqlite3_bind_int64(q, 2, st->legacy_gone[i].last);
        rc = removed(st, q, err);
    }
    for (size_t i = 0; rc == 0 && i < st->ngone; i++) {
        sqlite3_stmt *q = stmt(st, "DELETE FROM outbox_batches WHERE id = ? RETURNING mac", err);
        if (!q)
            return -1;
        sqlite3_bind_int64(q, 1, st->gone[i]);
        rc = removed(st, q, err);
    }
    if (rc == 0 && st->out_n)
        rc = out_row_write(st, err);
    if (rc == 0 && st->seen_ids.len)
        rc = seen_row_write(st, err);
    return rc;
}

/* After a commit: the rows it deleted are gone for good. */
static void batches_committed(vlt_store *st)
{
    size_t k = 0;
    for (size_t i = 0; i < st->nrows; i++)
        if (st->rows[i].left > 0)
            st->rows[k++] = st->rows[i];
    st->nrows = k;
    if (st->nlegacy_gone) /* the migrated rows, once all are gone, are never asked for again */
        st->legacy_out = max_of(st, "SELECT count(*) FROM outbox") > 0;
    st->ngone = st->nlegacy_gone = 0;
}

int vlt_store_outbox_add(vlt_store *st, const vlt_outmsg *m, int64_t *id, cm_err *err)
{
    bool own;
    if (auto_begin(st, &own, err) < 0)
        return -1;
    size_t need = 12 + 7 * 4 + (m->topic ? strlen(m->topic) : 0) +
                  (m->chain ? strlen(m->chain) : 0) + m->keylen + m->len +
                  (m->reason ? strlen(m->reason) : 0) + (m->input ? strlen(m->input) : 0) + m->hlen;
    int rc = 0;
    if (st->out_n && st->out_msgs.len + need > BATCH_ROW_MAX)
        rc = out_row_write(st, err);
    if (rc == 0) {
        if (!st->out_n)
            st->out_first = st->next_out;
        cm_buf *b = &st->out_msgs;
        put32(b, (uint32_t)m->partition);
        put64(b, m->chain ? m->seq : 0);
        put_field(b, m->topic, m->topic ? strlen(m->topic) : 0);
        put_field(b, m->chain, m->chain ? strlen(m->chain) : 0);
        put_field(b, m->key, m->keylen);
        put_field(b, m->value ? m->value : "", m->len);
        put_field(b, m->reason, m->reason ? strlen(m->reason) : 0);
        put_field(b, m->input, m->input ? strlen(m->input) : 0);
        put_field(b, m->headers, m->hlen);
        *id = st->next_out++;
        st->out_n++;
    }
    return auto_end(st, own, rc, err);
}

/* Delivered: the rows first..last leave the store with the next commit (or at close). */
int vlt_store_outbox_del(vlt_store *st, int64_t first, int64_t last, cm_err *err)
{
    (void)err;
    if (first > last)
        return 0;
    if (st->legacy_out) {
        if (st->nlegacy_gone == st->caplegacy_gone) {
            st->caplegacy_gone = st->caplegacy_gone ? st->caplegacy_gone * 2 : 16;
            st->legacy_gone =
                cm_xrealloc(st->legacy_gone, st->caplegacy_gone * sizeof *st->legacy_gone);
        }
        st->legacy_gone[st->nlegacy_gone].first = first;
        st->legacy_gone[st->nlegacy_gone++].last = last;
    }
    /* The first row that may hold first: rows are in id order and do not overlap. */
    size_t lo = 0, hi = st->nrows;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (st->rows[mid].id + st->rows[mid].n - 1 < first)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = lo; i < st->nrows && st->rows[i].id <= last; i++) {
        struct out_row *r = &st->rows[i];
        int64_t a = first > r->id ? first : r->id;
        int64_t b = last < r->id + r->n - 1 ? last : r->id + r->n - 1;
        if (r->left <= 0 || b < a)
            continue;
        r->left -= b - a + 1;
        if (r->left <= 0) {
            if (st->ngone == st->capgone) {
                st->capgone = st->capgone ? st->capgone * 2 : 64;
                st->gone = cm_xrealloc(st->gone, st->capgone * sizeof *st->gone);
            }
            st->gone[st->ngone++] = r->id + r->n - 1; /* the row's key: its last id */
        }
    }
    return 0;
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

static void outmsg_clear(vlt_outmsg *m)
{
    free(m->topic);
    free(m->chain);
    free(m->key);
    free(m->value);
    free(m->reason);
    free(m->input);
    free(m->headers);
}

struct reader {
    const uint8_t *p;
    size_t n, at;
    bool bad;
};

static uint64_t get_n(struct reader *r, int bytes)
{
    uint64_t v = 0;
    if (r->bad || r->n - r->at < (size_t)bytes) {
        r->bad = true;
        return 0;
    }
    for (int i = 0; i < bytes; i++)
        v = v << 8 | r->p[r->at++];
    return v;
}

/* A field as put_field wrote it, copied and NUL-terminated (NULL for none). */
static char *get_field(struct reader *r, size_t *len)
{
    uint32_t n = (uint32_t)get_n(r, 4);
    if (r->bad || n == UINT32_MAX)
        return NULL;
    if (r->n - r->at < n) {
        r->bad = true;
        return NULL;
    }
    char *s = cm_strndup((const char *)r->p + r->at, n);
    r->at += n;
    if (len)
        *len = n;
    return s;
}

/* Hands fn the messages of one checked outbox_batches row; -1 when it does not parse
 * (its MAC held, so only a writer's bug gets here). */
static int each_in_row(vlt_store *st, sqlite3_stmt *q, void (*fn)(void *arg, const vlt_outmsg *m),
                       void *arg, cm_err *err)
{
    int64_t n = sqlite3_column_int64(q, 1), id = sqlite3_column_int64(q, 0) - n + 1;
    struct reader r = {sqlite3_column_blob(q, 2), (size_t)sqlite3_column_bytes(q, 2), 0, false};
    for (int64_t i = 0; i < n && !r.bad; i++) {
        vlt_outmsg m = {0};
        m.id = id + i;
        m.partition = (int32_t)get_n(&r, 4);
        m.seq = get_n(&r, 8);
        m.topic = get_field(&r, NULL);
        m.chain = get_field(&r, NULL);
        m.key = get_field(&r, &m.keylen);
        m.value = get_field(&r, &m.len);
        m.reason = get_field(&r, NULL);
        m.input = get_field(&r, NULL);
        m.headers = get_field(&r, &m.hlen);
        if (!r.bad && m.topic && m.value)
            fn(arg, &m);
        else
            r.bad = true;
        outmsg_clear(&m);
    }
    if (r.bad || r.at != r.n) {
        cm_err_set(err, st->path, 0, 0, "outbox record %lld does not parse", (long long)id);
        return -1;
    }
    return 0;
}

int vlt_store_outbox_each(vlt_store *st, void (*fn)(void *arg, const vlt_outmsg *m), void *arg,
                          cm_err *err)
{
    /* Rows of format 2 (one per message, kept by the migration) come first: their ids
     * are lower. */
    sqlite3_stmt *q = read_rows(st, T_OUTBOX, "ORDER BY id", err);
    if (!q)
        return -1;
    int r;
    while ((r = next_row(st, T_OUTBOX, q, err)) == 1) {
        vlt_outmsg m = {0};
        m.id = sqlite3_column_int64(q, 0);
        m.topic = col_dup(q, 1, NULL);
        m.partition = sqlite3_column_int(q, 2);
        m.chain = col_dup(q, 3, NULL);
        m.seq = (uint64_t)sqlite3_column_int64(q, 4);
        m.key = col_dup(q, 5, &m.keylen);
        m.value = col_dup(q, 6, &m.len);
        m.reason = col_dup(q, 7, NULL);
        m.input = col_dup(q, 8, NULL);
        m.headers = col_dup(q, 9, &m.hlen);
        fn(arg, &m);
        outmsg_clear(&m);
    }
    sqlite3_finalize(q);
    if (r < 0)
        return -1;
    q = read_rows(st, T_OUTBOX_BATCHES, "ORDER BY id", err);
    if (!q)
        return -1;
    while ((r = next_row(st, T_OUTBOX_BATCHES, q, err)) == 1)
        if (each_in_row(st, q, fn, arg, err) < 0) {
            r = -1;
            break;
        }
    sqlite3_finalize(q);
    return r;
}

int vlt_store_offset_put(vlt_store *st, const char *topic, int32_t part, int64_t off, cm_err *err)
{
    char pn[24], on[24];
    snprintf(pn, sizeof pn, "%d", (int)part);
    snprintf(on, sizeof on, "%lld", (long long)off);
    col c[3] = {ctext(topic), ctext(pn), ctext(on)};
    bool is_int[3] = {false, true, true};
    int64_t ints[3] = {0, part, off};
    return put_row(
        st, T_OFFSETS, "SELECT mac FROM offsets WHERE topic = ? AND part = CAST(? AS INTEGER)",
        topic, pn,
        "INSERT OR REPLACE INTO offsets(topic, part, off, ver, mac) VALUES(?, ?, ?, ?, ?)", c,
        is_int, ints, err);
}

int vlt_store_offset_each(vlt_store *st,
                          void (*fn)(void *arg, const char *topic, int32_t part, int64_t off),
                          void *arg, cm_err *err)
{
    sqlite3_stmt *q = read_rows(st, T_OFFSETS, NULL, err);
    if (!q)
        return -1;
    int r;
    while ((r = next_row(st, T_OFFSETS, q, err)) == 1)
        fn(arg, (const char *)sqlite3_column_text(q, 0), sqlite3_column_int(q, 1),
           sqlite3_column_int64(q, 2));
    sqlite3_finalize(q);
    return r;
}

int vlt_store_meta_put(vlt_store *st, const char *k, const char *v, cm_err *err)
{
    col c[2] = {ctext(k), ctext(v)};
    return put_row(st, T_META, "SELECT mac FROM meta WHERE k = ?", k, NULL,
                   "INSERT OR REPLACE INTO meta(k, v, ver, mac) VALUES(?, ?, ?, ?)", c, NULL, NULL,
                   err);
}

int vlt_store_meta_each(vlt_store *st, void (*fn)(void *arg, const char *k, const char *v),
                        void *arg, cm_err *err)
{
    return each_pair(st, T_META, fn, arg, err);
}

int vlt_store_meta_peek(vlt_store *st, const char *k, char *out, size_t n)
{
    sqlite3_stmt *q = NULL;
    int found = 0;
    out[0] = '\0';
    if (st->format == FMT_NEW ||
        sqlite3_prepare_v2(st->db, "SELECT v FROM meta WHERE k = ?", -1, &q, NULL) != SQLITE_OK)
        return 0;
    sqlite3_bind_text(q, 1, k, -1, SQLITE_STATIC);
    if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_text(q, 0)) {
        snprintf(out, n, "%s", (const char *)sqlite3_column_text(q, 0));
        found = 1;
    }
    sqlite3_finalize(q);
    return found;
}

int vlt_store_fact_put(vlt_store *st, const char *k, const char *doc, cm_err *err)
{
    col c[2] = {ctext(k), ctext(doc)};
    return put_row(st, T_FACTS, "SELECT mac FROM facts WHERE k = ?", k, NULL,
                   "INSERT OR REPLACE INTO facts(k, doc, ver, mac) VALUES(?, ?, ?, ?)", c, NULL,
                   NULL, err);
}

int vlt_store_fact_del(vlt_store *st, const char *k, cm_err *err)
{
    return drop_rows(st, "DELETE FROM facts WHERE k = ? RETURNING mac", k, NULL, err);
}

int vlt_store_fact_each(vlt_store *st, void (*fn)(void *arg, const char *k, const char *doc),
                        void *arg, cm_err *err)
{
    return each_pair(st, T_FACTS, fn, arg, err);
}

int vlt_store_data_put(vlt_store *st, const char *rid, const char *cls, const void *d, size_t n,
                       cm_err *err)
{
    col c[3] = {ctext(rid), ctext(cls), (col){d ? d : "", n, false}};
    return put_row(
        st, T_DATA, "SELECT mac FROM data WHERE resource = ? AND class = ?", rid, cls,
        "INSERT OR REPLACE INTO data(resource, class, sealed, ver, mac) VALUES(?, ?, ?, ?, ?)", c,
        NULL, NULL, err);
}

int vlt_store_data_get(vlt_store *st, const char *rid, const char *cls, cm_buf *out, cm_err *err)
{
    sqlite3_stmt *q = NULL;
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT %s, ver, mac FROM data WHERE resource = ? AND class = ?",
             columns[T_DATA]);
    if (sqlite3_prepare_v2(st->db, sql, -1, &q, NULL) != SQLITE_OK)
        return db_err(st, err, "read");
    sqlite3_bind_text(q, 1, rid, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, cls, -1, SQLITE_STATIC);
    int rc = next_row(st, T_DATA, q, err);
    if (rc == 1) {
        const void *b = sqlite3_column_blob(q, 2);
        int n = sqlite3_column_bytes(q, 2);
        if (cm_buf_add(out, b, (size_t)n) < 0)
            rc = -1;
    }
    sqlite3_finalize(q);
    return rc;
}

int vlt_store_data_del(vlt_store *st, const char *rid, cm_err *err)
{
    return drop_rows(st, "DELETE FROM data WHERE resource = ? RETURNING mac", rid, NULL, err);
}
