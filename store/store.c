#include "store/store.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <sqlite3.h>

#include "common/fault.h"
#include "common/mem.h"
#include "crypto/crypto.h"

/* Write statements are prepared once and reused: a state writes the same dozen
 * statements thousands of times a second. */
#define STMT_CACHE 48
#define MAX_DECL 24
#define MAX_PARTS 8

/* A declared table, with the statements that write it. */
struct decl {
    const sto_table *t;
    char key[2][32]; /* the names of its key columns */
    char sel[500], upd[500], ins[400], del[2][200], range[200];
};

struct sto_db {
    sqlite3 *db;
    char *path; /* NULL: in memory */
    struct {
        char sql[400];
        const char *lit; /* where the caller's text was: most are fixed */
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
     * and the sum of every row's MAC, so a row edited, moved, removed, added or swapped
     * for an older copy of itself does not go unnoticed. */
    enum { FMT_NEW, FMT_OLD, FMT_CURRENT } format;
    cry_mac *mac; /* NULL until sto_auth */
    uint64_t counter, saved_counter;
    uint8_t digest[CRY_MAC_LEN], saved_digest[CRY_MAC_LEN];
    bool in_txn;
    int old_format; /* the format of an older build's file */
    struct decl *decl[MAX_DECL];
    int ndecl;
    struct {
        const sto_part_kind *k;
        void *p;
    } parts[MAX_PARTS];
    int nparts;
    struct carried {
        int tag;
        char *name, *val;
    } * carry;
    size_t ncarry, capcarry;
};

struct sto_row {
    sqlite3_stmt *q;
};

static const sto_table meta_table = {
    "meta",
    "CREATE TABLE meta(k TEXT PRIMARY KEY, v TEXT NOT NULL, ver INTEGER NOT NULL,"
    " mac BLOB NOT NULL)",
    "k, v", 2, 1};

static const char HEAD_SCHEMA[] =
    "CREATE TABLE head(one INTEGER PRIMARY KEY CHECK (one = 1), counter INTEGER NOT NULL,"
    " digest BLOB NOT NULL, mac BLOB NOT NULL)";

static int db_err(sto_db *st, cm_err *err, const char *what)
{
    cm_err_set(err, st->path, 0, 0, "%s: %s", what, sqlite3_errmsg(st->db));
    return -1;
}

/* The page cache holds up to 64 MiB (SQLite's default is 2 MiB): a commit writes rows
 * all over the file, and a cache smaller than the pages one commit dirties spills them
 * into the WAL in the middle of the transaction, then reads them back. It grows only
 * as pages are read. */
static const char PRAGMAS[] = "PRAGMA journal_mode=WAL;"
                              "PRAGMA synchronous=NORMAL;"
                              "PRAGMA cache_size=-65536;";

/* The WAL's length, in pages, past which the checkpointer has it start again. */
#define WAL_RESTART_FRAMES 8192

static void *checkpointer(void *arg)
{
    sto_db *st = arg;
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(st->path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK)
        sqlite3_busy_timeout(db, 100);
    int nlog = -1;
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
        /* A connection learns that the file is in WAL mode on its first read; until it
         * has, a checkpoint does nothing (and says so with a log of -1), and the WAL
         * grows with every commit. */
        if (nlog < 0)
            sqlite3_exec(db, "SELECT 1 FROM sqlite_master LIMIT 1", NULL, NULL, NULL);
        /* PASSIVE: copies what it can without blocking the writer or readers. */
        nlog = -1;
        sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, &nlog, NULL);
        /* A writer starts the WAL again from its beginning only when it finds every
         * frame copied, which one that commits faster than the checkpoints copy never
         * does: the WAL would grow for as long as the process runs. Past a bound, a
         * RESTART checkpoint waits for the writer to be between commits, copies what
         * the passive one left, and has the next commit start the WAL again. */
        if (nlog > WAL_RESTART_FRAMES)
            sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_RESTART, NULL, NULL);
        pthread_mutex_lock(&st->mu);
    }
    pthread_mutex_unlock(&st->mu);
    sqlite3_close(db);
    return NULL;
}

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
static int detect_format(sto_db *st, cm_err *err)
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
    if (step == SQLITE_ROW && v && !strcmp(v, STO_FORMAT_S)) {
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
        if (v && cm_parse_i64(v, &f) && f > STO_FORMAT && f < 1000)
            cm_err_set(err, st->path, 0, 0,
                       "state written by a newer cmkguard (format %lld; this build reads format "
                       "%d): nothing was changed",
                       (long long)f, STO_FORMAT);
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

static void part_close_flush(sto_db *st);

sto_db *sto_open(const char *path, cm_err *err)
{
    sto_db *st = cm_xcalloc(1, sizeof *st);
    if (!path)
        return st; /* in memory: parts only */
    fault_seams();
    st->path = cm_strdup(path);
    if (sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        db_err(st, err, "cannot open state store");
        sto_close(st);
        return NULL;
    }
    sqlite3_busy_timeout(st->db, 5000);
    if (sqlite3_exec(st->db, PRAGMAS, NULL, NULL, NULL) != SQLITE_OK) {
        db_err(st, err, "cannot initialise state store");
        sto_close(st);
        return NULL;
    }
    if (detect_format(st, err) < 0) {
        sto_close(st);
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

void sto_close(sto_db *st)
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
    part_close_flush(st);
    for (int i = 0; i < st->nparts; i++)
        if (st->parts[i].k->free)
            st->parts[i].k->free(st->parts[i].p);
    for (size_t i = 0; i < st->ncarry; i++) {
        free(st->carry[i].name);
        free(st->carry[i].val);
    }
    free(st->carry);
    for (int i = 0; i < st->ncache; i++)
        sqlite3_finalize(st->cache[i].s);
    sqlite3_close(st->db);
    cry_mac_free(st->mac);
    for (int i = 0; i < st->ndecl; i++)
        free(st->decl[i]);
    free(st->path);
    free(st);
}

bool sto_persistent(const sto_db *st)
{
    return st && st->db;
}

const char *sto_path(const sto_db *st)
{
    return st->path;
}

bool sto_is_old(const sto_db *st)
{
    return st->format == FMT_OLD;
}

int sto_copy(sto_db *st, const char *path, cm_err *err)
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

int sto_format(const sto_db *st)
{
    return st->format == FMT_NEW ? 0 : st->format == FMT_OLD ? st->old_format : STO_FORMAT;
}

bool sto_is_new(const sto_db *st)
{
    return st->format == FMT_NEW;
}

bool sto_is_file_new(const char *path)
{
    struct stat sb;
    return stat(path, &sb) < 0 || sb.st_size == 0;
}

static int exec(sto_db *st, const char *sql, cm_err *err)
{
    if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return db_err(st, err, sql);
    return 0;
}

/* The prepared statement for sql, reset and ready to bind; NULL (err set) on failure.
 * Statements past the cache's size are prepared each time and finalized by done(). */
static sqlite3_stmt *stmt(sto_db *st, const char *sql, cm_err *err)
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
static void release(sto_db *st, sqlite3_stmt *s)
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
static int done(sto_db *st, sqlite3_stmt *s)
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

static void be64(uint8_t out[8], uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        out[i] = (uint8_t)v;
}

/* HMAC over the table's name, the row's version and its columns, each length-prefixed. */
static int row_mac(sto_db *st, const char *table, uint64_t ver, const col *c, int nc,
                   uint8_t out[CRY_MAC_LEN])
{
    uint8_t b[8];
    int rc = cry_mac_begin(st->mac);
    rc |= cry_mac_update(st->mac, "cmkguard row\0", 13);
    rc |= cry_mac_update(st->mac, table, strlen(table) + 1);
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

static int head_mac(sto_db *st, uint64_t counter, const uint8_t *digest, uint8_t out[CRY_MAC_LEN])
{
    uint8_t b[8];
    be64(b, counter);
    int rc = cry_mac_begin(st->mac);
    rc |= cry_mac_update(st->mac, "cmkguard state head\0" STO_FORMAT_S, 21);
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

/* Whether the row q holds (nc columns of table, then ver, then mac) carries its own MAC. */
static int row_check(sto_db *st, const char *table, int nc, sqlite3_stmt *q, bool *ok)
{
    col c[STO_MAX_COLS];
    char nums[STO_MAX_COLS][24];
    for (int i = 0; i < nc; i++)
        c[i] = qcol(q, i, nums[i], sizeof nums[i]);
    sqlite3_int64 ver = sqlite3_column_int64(q, nc);
    uint8_t m[CRY_MAC_LEN];
    if (row_mac(st, table, (uint64_t)ver, c, nc, m) < 0)
        return -1;
    *ok = sqlite3_column_type(q, nc) == SQLITE_INTEGER && ver >= 1 &&
          (uint64_t)ver <= st->counter && mac_col_ok(q, nc + 1) &&
          cry_memeq(m, sqlite3_column_blob(q, nc + 1), CRY_MAC_LEN);
    return 0;
}

/* A readable name for the row q holds: its key columns (nkey of them). */
static void row_name(int nkey, sqlite3_stmt *q, char *out, size_t n)
{
    char a[24], b[24];
    col c0 = qcol(q, 0, a, sizeof a), c1 = qcol(q, 1, b, sizeof b);
    int l0 = (int)(c0.n > 200 ? 200 : c0.n), l1 = (int)(c1.n > 200 ? 200 : c1.n);
    if (nkey >= 2)
        snprintf(out, n, "%.*s/%.*s", l0, c0.null ? "" : (const char *)c0.p, l1,
                 c1.null ? "" : (const char *)c1.p);
    else
        snprintf(out, n, "%.*s", l0, c0.null ? "" : (const char *)c0.p);
    for (char *p = out; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f)
            *p = '?';
}

static int bad_row(sto_db *st, const char *table, int nkey, sqlite3_stmt *q, cm_err *err)
{
    char name[420];
    row_name(nkey, q, name, sizeof name);
    cm_err_set(err, st->path, 0, 0,
               "%s record '%s' fails its authentication check (edited or damaged): the state "
               "is refused, nothing was decrypted",
               table, name);
    return -1;
}

/* Adds a written row's MAC to the running digest. */
static int written(sto_db *st, const char *table, const col *c, int nc, uint8_t mac[CRY_MAC_LEN])
{
    if (row_mac(st, table, st->counter + 1, c, nc, mac) < 0)
        return -1;
    return digest_step(st->digest, mac, true);
}

/* Runs a DELETE … RETURNING mac (or a SELECT of the MACs of rows about to be replaced)
 * and takes every row it names out of the digest. */
static int removed(sto_db *st, sqlite3_stmt *q, cm_err *err)
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
static int auto_begin(sto_db *st, bool *own, cm_err *err)
{
    *own = !st->in_txn;
    return *own ? sto_begin(st, err) : 0;
}

static int auto_end(sto_db *st, bool own, int rc, cm_err *err)
{
    if (!own)
        return rc;
    if (rc < 0) {
        sto_rollback(st);
        return -1;
    }
    return sto_commit(st, err);
}

static int write_head(sto_db *st, cm_err *err)
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

int sto_begin(sto_db *st, cm_err *err)
{
    if (!st->mac) {
        cm_err_set(err, st->path, 0, 0, "the state store is not open for writing");
        return -1;
    }
    if (exec(st, "BEGIN IMMEDIATE", err) < 0)
        return -1;
    st->in_txn = true;
    st->saved_counter = st->counter;
    memcpy(st->saved_digest, st->digest, sizeof st->digest);
    return 0;
}

int sto_commit(sto_db *st, cm_err *err)
{
    st->counter++;
    if (write_head(st, err) < 0 || exec(st, "COMMIT", err) < 0) {
        sto_rollback(st);
        return -1;
    }
    st->in_txn = false;
    return 0;
}

void sto_rollback(sto_db *st)
{
    sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    if (st->in_txn) {
        st->counter = st->saved_counter;
        memcpy(st->digest, st->saved_digest, sizeof st->digest);
    }
    st->in_txn = false;
}

int sto_flush(sto_db *st, cm_err *err)
{
    if (!st->db)
        return 0;
    if (sto_begin(st, err) < 0)
        return -1;
    int rc = 0;
    for (int i = 0; rc == 0 && i < st->nparts; i++)
        if (st->parts[i].k->flush)
            rc = st->parts[i].k->flush(st->parts[i].p, st, false, err);
    if (rc < 0 || sto_commit(st, err) < 0) {
        if (st->in_txn)
            sto_rollback(st);
        for (int i = 0; i < st->nparts; i++)
            if (st->parts[i].k->rolled_back)
                st->parts[i].k->rolled_back(st->parts[i].p);
        return -1;
    }
    for (int i = 0; i < st->nparts; i++)
        if (st->parts[i].k->committed)
            st->parts[i].k->committed(st->parts[i].p);
    return 0;
}

/* At close: what parts still hold (deliveries confirmed since the last commit) is
 * written in a last transaction of its own, or found again by the next run. */
static void part_close_flush(sto_db *st)
{
    bool any = false;
    for (int i = 0; i < st->nparts; i++)
        any |= st->parts[i].k->pending && st->parts[i].k->pending(st->parts[i].p);
    cm_err e;
    if (!any || !st->db || !st->mac || st->in_txn || sto_begin(st, &e) < 0)
        return;
    int rc = 0;
    for (int i = 0; rc == 0 && i < st->nparts; i++)
        if (st->parts[i].k->pending && st->parts[i].k->pending(st->parts[i].p))
            rc = st->parts[i].k->flush(st->parts[i].p, st, true, &e);
    if (rc < 0)
        sto_rollback(st);
    else
        sto_commit(st, &e);
}

/* Sums every row's MAC of every table in the file into d, checking each row's version
 * against the head's count; the first row out of range is named in err. */
static int digest_all(sto_db *st, uint8_t d[CRY_MAC_LEN], cm_err *err);

/* A table of the file as the MAC sees it: its columns but ver and mac, in order. */
struct tinfo {
    char name[128];
    char cols[400];
    int ncols, npk;
};

/* Every table of the file that holds rows (all but the head and SQLite's own), into
 * *out (the caller frees it); a table without ver and mac columns is not one this store
 * wrote, and refuses the file. */
static int file_tables(sto_db *st, struct tinfo **out, int *n, cm_err *err)
{
    sqlite3_stmt *q = NULL, *c = NULL;
    *out = NULL;
    *n = 0;
    int cap = 0, step, rc = 0;
    if (sqlite3_prepare_v2(st->db,
                           "SELECT name FROM sqlite_master WHERE type = 'table' AND name != 'head'"
                           " AND name NOT LIKE 'sqlite!_%' ESCAPE '!'",
                           -1, &q, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(st->db, "SELECT name, pk FROM pragma_table_info(?) ORDER BY cid", -1, &c,
                           NULL) != SQLITE_OK) {
        rc = db_err(st, err, "cannot read the state store");
        goto out;
    }
    while (rc == 0 && (step = sqlite3_step(q)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            *out = cm_xrealloc(*out, (size_t)cap * sizeof **out);
        }
        struct tinfo *t = &(*out)[*n];
        memset(t, 0, sizeof *t);
        snprintf(t->name, sizeof t->name, "%s", (const char *)sqlite3_column_text(q, 0));
        sqlite3_reset(c);
        sqlite3_bind_text(c, 1, t->name, -1, SQLITE_STATIC);
        int has = 0;
        while (sqlite3_step(c) == SQLITE_ROW) {
            const char *cn = (const char *)sqlite3_column_text(c, 0);
            if (!cn)
                continue;
            if (!strcmp(cn, "ver") || !strcmp(cn, "mac")) {
                has++;
                continue;
            }
            snprintf(t->cols + strlen(t->cols), sizeof t->cols - strlen(t->cols), "%s%s",
                     t->ncols ? ", " : "", cn);
            t->ncols++;
            t->npk += sqlite3_column_int(c, 1) > 0;
        }
        if (has != 2 || t->ncols < 1 || t->ncols > STO_MAX_COLS) {
            cm_err_set(err, st->path, 0, 0,
                       "holds a table '%s' this store did not write: the state is refused",
                       t->name);
            rc = -1;
        }
        (*n)++;
    }
    if (rc == 0 && step != SQLITE_DONE)
        rc = db_err(st, err, "cannot read the state store");
out:
    sqlite3_finalize(q);
    sqlite3_finalize(c);
    if (rc < 0) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

static int digest_all(sto_db *st, uint8_t d[CRY_MAC_LEN], cm_err *err)
{
    struct tinfo *ts;
    int nt;
    memset(d, 0, CRY_MAC_LEN);
    if (file_tables(st, &ts, &nt, err) < 0)
        return -1;
    int rc = 0;
    for (int t = 0; rc == 0 && t < nt; t++) {
        char sql[600];
        snprintf(sql, sizeof sql, "SELECT %s, ver, mac FROM \"%s\"", ts[t].cols, ts[t].name);
        sqlite3_stmt *q = NULL;
        if (sqlite3_prepare_v2(st->db, sql, -1, &q, NULL) != SQLITE_OK) {
            rc = db_err(st, err, "cannot read the state store");
            break;
        }
        int step, nc = ts[t].ncols;
        while (rc == 0 && (step = sqlite3_step(q)) == SQLITE_ROW) {
            sqlite3_int64 ver = sqlite3_column_int64(q, nc);
            if (!mac_col_ok(q, nc + 1) || ver < 1 || (uint64_t)ver > st->counter)
                rc = bad_row(st, ts[t].name, ts[t].npk, q, err);
            else if (digest_step(d, sqlite3_column_blob(q, nc + 1), true) < 0) {
                cm_err_set(err, st->path, 0, 0, "cannot compute the state digest");
                rc = -1;
            }
        }
        sqlite3_finalize(q);
        if (rc == 0 && step != SQLITE_DONE)
            rc = db_err(st, err, "cannot read the state store");
    }
    free(ts);
    return rc;
}

/* Reads and checks the head: 0 with counter and digest set, -1 (err) otherwise. */
static int read_head(sto_db *st, cm_err *err)
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

static cry_mac *derive_mac(const cry_secret *master)
{
    cry_secret *k = cry_hkdf(master, "cmkguard state authentication v1", 64);
    cry_mac *m = k ? cry_mac_new(k) : NULL;
    cry_secret_free(k);
    return m;
}

int sto_auth(sto_db *st, const cry_secret *master, cm_err *err)
{
    if (st->format == FMT_OLD) {
        cm_err_set(err, st->path, 0, 0,
                   "state written by an older cmkguard (format %d; this build reads format %d): "
                   "upgrade it once with 'cmkguard state migrate --state %s'",
                   st->old_format, STO_FORMAT, st->path);
        return -1;
    }
    cry_mac_free(st->mac);
    if (!(st->mac = derive_mac(master))) {
        cm_err_set(err, st->path, 0, 0, "cannot derive the state authentication key");
        return -1;
    }
    if (st->format == FMT_NEW) {
        /* The store's tables, format and head in one transaction: a crash leaves a
         * fresh file. The owners' tables follow as they are declared. */
        memset(st->digest, 0, sizeof st->digest);
        st->counter = 0;
        if (sto_begin(st, err) < 0)
            return -1;
        if (exec(st, meta_table.create, err) < 0 || exec(st, HEAD_SCHEMA, err) < 0) {
            sto_rollback(st);
            return -1;
        }
        st->format = FMT_CURRENT;
        if (sto_meta_put(st, "format", STO_FORMAT_S, err) < 0 || sto_commit(st, err) < 0) {
            st->format = FMT_NEW;
            if (st->in_txn)
                sto_rollback(st);
            return -1;
        }
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
    return 0;
}

int sto_verify(sto_db *st, const cry_secret *master, void (*bad)(void *arg, const char *what),
               void *arg, cm_err *err)
{
    if (st->format != FMT_CURRENT)
        return sto_auth(st, master, err);
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
    struct tinfo *ts;
    int nt;
    if (file_tables(st, &ts, &nt, err) < 0)
        return -1;
    uint8_t d[CRY_MAC_LEN];
    memset(d, 0, sizeof d);
    for (int t = 0; t < nt; t++) {
        char sql[600];
        snprintf(sql, sizeof sql, "SELECT %s, ver, mac FROM \"%s\"", ts[t].cols, ts[t].name);
        sqlite3_stmt *q = NULL;
        if (sqlite3_prepare_v2(st->db, sql, -1, &q, NULL) != SQLITE_OK) {
            free(ts);
            return db_err(st, err, "cannot read the state store");
        }
        int step, nc = ts[t].ncols;
        while ((step = sqlite3_step(q)) == SQLITE_ROW) {
            bool ok = false;
            if (row_check(st, ts[t].name, nc, q, &ok) < 0) {
                sqlite3_finalize(q);
                free(ts);
                cm_err_set(err, st->path, 0, 0, "cannot compute a record's MAC");
                return -1;
            }
            if (!ok) {
                bad_row(st, ts[t].name, ts[t].npk, q, &e);
                bad(arg, e.msg);
                nbad++;
            }
            if (mac_col_ok(q, nc + 1) && digest_step(d, sqlite3_column_blob(q, nc + 1), true) < 0) {
                sqlite3_finalize(q);
                free(ts);
                cm_err_set(err, st->path, 0, 0, "cannot compute the state digest");
                return -1;
            }
        }
        sqlite3_finalize(q);
        if (step != SQLITE_DONE) {
            cm_err_set(err, st->path, 0, 0, "cannot read table %s: %s", ts[t].name,
                       sqlite3_errmsg(st->db));
            bad(arg, err->msg);
            nbad++;
        }
    }
    free(ts);
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

/* ---------- migration: the formats before this one ---------- */

/* The tables formats 1 and 2 held, and format 3's form of them (HIST_SCHEMA, its
 * batches and head included): the history a migration upgrades from, fixed. Their
 * owners declare the same statements (tests/unit/test_store.c checks they agree). */
enum hist {
    H_VAULTS,
    H_KEYS,
    H_RESOURCES,
    H_SEEN,
    H_ACL,
    H_OUTBOX,
    H_OFFSETS,
    H_META,
    H_DATA,
    H_SEEN_LEGACY,
    H_FACTS,
    H_OUTBOX_BATCHES,
    H_SEEN_BATCHES,
    H__COUNT
};
static const char *const h_tables[H__COUNT] = {
    "vaults", "keys",           "resources",   "seen", "acl",
    "outbox", "offsets",        "meta",        "data", "seen_legacy",
    "facts",  "outbox_batches", "seen_batches"};
static const char *const h_columns[H__COUNT] = {
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
static const int h_ncolumns[H__COUNT] = {2, 2, 2, 1, 2, 10, 3, 2, 3, 1, 2, 3, 2};

static const char HIST_SCHEMA[] =
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

int sto_migrate(sto_db *st, const cry_secret *master, cm_err *err)
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
    if (sto_begin(st, err) < 0)
        return -1;
    /* Old tables are renamed away, format 3's created, and rows copied over. */
    static const char *const v1_cols[H__COUNT] = {
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
    static const char *const v1_table[H__COUNT] = {"vaults", "keys",   "resources", NULL,
                                                   "acl",    "outbox", "offsets",   "meta",
                                                   "data",   "seen",   NULL};
    /* Format 2 had every table but format 3's batches, with the columns they have now:
     * its rows stay where they are (format 3 reads one row per outbox message and per
     * seen id as well as its batches), authenticated again under the new head. */
    static const char *const v2_table[H__COUNT] = {
        "vaults", "keys", "resources",   "seen",  "acl", "outbox", "offsets",
        "meta",   "data", "seen_legacy", "facts", NULL,  NULL};
    const char *const *old_cols = st->old_format == 1 ? v1_cols : h_columns;
    const char *const *old_table = st->old_format == 1 ? v1_table : v2_table;
    int rc = 0;
    if (st->old_format >= 2)
        rc = exec(st, "DROP TABLE head", err); /* written anew below */
    for (int t = 0; rc == 0 && t < H__COUNT; t++) {
        char sql[160];
        snprintf(sql, sizeof sql,
                 "CREATE TABLE IF NOT EXISTS %s(x); ALTER TABLE %s RENAME TO old_%s;", h_tables[t],
                 h_tables[t], h_tables[t]);
        rc = exec(st, sql, err);
    }
    if (rc == 0)
        rc = exec(st, HIST_SCHEMA, err);
    for (int t = 0; rc == 0 && t < H__COUNT; t++) {
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
            int nc = h_ncolumns[t];
            if (t == H_META) {
                const char *k = (const char *)sqlite3_column_text(q, 0);
                if (k && !strcmp(k, "format"))
                    continue;
            }
            char ins[400], marks[64] = "";
            for (int i = 0; i < nc + 2; i++)
                snprintf(marks + strlen(marks), sizeof marks - strlen(marks), "%s?", i ? "," : "");
            snprintf(ins, sizeof ins, "INSERT INTO %s(%s, ver, mac) VALUES(%s)", h_tables[t],
                     h_columns[t], marks);
            sqlite3_stmt *w = NULL;
            if (sqlite3_prepare_v2(st->db, ins, -1, &w, NULL) != SQLITE_OK) {
                rc = db_err(st, err, "migrate");
                break;
            }
            col c[STO_MAX_COLS];
            char nums[STO_MAX_COLS][24];
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
            if (written(st, h_tables[t], c, nc, m) < 0) {
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
    for (int t = 0; rc == 0 && t < H__COUNT; t++) {
        char sql[160];
        snprintf(sql, sizeof sql, "DROP TABLE old_%s", h_tables[t]);
        rc = exec(st, sql, err);
    }
    if (rc == 0)
        rc = sto_meta_put(st, "format", STO_FORMAT_S, err);
    if (rc < 0 || sto_commit(st, err) < 0) {
        if (st->in_txn)
            sto_rollback(st);
        return -1;
    }
    st->format = FMT_CURRENT;
    return 0;
}

/* ---------- tables and rows ---------- */

/* The statements of t, made on first use. */
static struct decl *decl_of(sto_db *st, const sto_table *t)
{
    for (int i = 0; i < st->ndecl; i++)
        if (st->decl[i]->t == t)
            return st->decl[i];
    if (st->ndecl == MAX_DECL)
        return NULL;
    struct decl *d = cm_xcalloc(1, sizeof *d);
    d->t = t;
    /* An UPDATE in place names its parameters by number, in the order of the columns
     * (the key's first, as everywhere), so one binding serves it and the INSERT; it finds
     * the row by the rowid the lookup before it read, not through the key's index. */
    char set[300] = "";
    const char *c = t->cols;
    for (int i = 0; i < t->ncols && *c; i++) {
        size_t n = strcspn(c, ",");
        if (i < t->nkey && i < 2)
            snprintf(d->key[i], sizeof d->key[i], "%.*s", (int)n, c);
        else if (i >= t->nkey)
            snprintf(set + strlen(set), sizeof set - strlen(set), "%.*s = ?%d, ", (int)n, c, i + 1);
        c += n;
        while (*c == ',' || *c == ' ')
            c++;
    }
    char marks[64] = "", where[2][100];
    for (int i = 0; i < t->ncols + 2; i++)
        snprintf(marks + strlen(marks), sizeof marks - strlen(marks), "%s?", i ? ", " : "");
    snprintf(where[0], sizeof where[0], "%s = ?", d->key[0]);
    snprintf(where[1], sizeof where[1], "%s = ? AND %s = ?", d->key[0], d->key[1]);
    const char *w = where[t->nkey >= 2];
    snprintf(d->sel, sizeof d->sel, "SELECT %s, ver, mac, rowid FROM %s WHERE %s", t->cols, t->name,
             w);
    snprintf(d->upd, sizeof d->upd, "UPDATE %s SET %sver = ?%d, mac = ?%d WHERE rowid = ?%d",
             t->name, set, t->ncols + 1, t->ncols + 2, t->ncols + 3);
    snprintf(d->ins, sizeof d->ins, "INSERT INTO %s(%s, ver, mac) VALUES(%s)", t->name, t->cols,
             marks);
    for (int k = 0; k < 2; k++)
        snprintf(d->del[k], sizeof d->del[k], "DELETE FROM %s WHERE %s RETURNING mac", t->name,
                 where[k]);
    snprintf(d->range, sizeof d->range, "DELETE FROM %s WHERE %s BETWEEN ? AND ? RETURNING mac",
             t->name, d->key[0]);
    st->decl[st->ndecl++] = d;
    return d;
}

static struct decl *need_decl(sto_db *st, const sto_table *t, cm_err *err)
{
    struct decl *d = decl_of(st, t);
    if (!d)
        cm_err_set(err, st->path, 0, 0, "too many tables declared (%d at most)", MAX_DECL);
    return d;
}

int sto_declare(sto_db *st, const sto_table *t, cm_err *err)
{
    if (!st->db)
        return 0;
    if (st->format != FMT_CURRENT || !st->mac) {
        cm_err_set(err, st->path, 0, 0, "the state store is not open for writing");
        return -1;
    }
    if (!need_decl(st, t, err))
        return -1;
    sqlite3_stmt *q = NULL;
    int found = 0;
    if (sqlite3_prepare_v2(st->db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                           -1, &q, NULL) != SQLITE_OK)
        return db_err(st, err, "cannot read the state store");
    sqlite3_bind_text(q, 1, t->name, -1, SQLITE_STATIC);
    found = sqlite3_step(q) == SQLITE_ROW;
    sqlite3_finalize(q);
    return found ? 0 : exec(st, t->create, err); /* empty: the head stays as it is */
}

/* Binds v (n values) from parameter 1 on, and the MAC's view of them into c. */
static void bind_vals(sqlite3_stmt *q, const sto_val *v, int n, col *c, char nums[][24])
{
    for (int i = 0; i < n; i++) {
        switch (v[i].type) {
        case STO_NULL:
            sqlite3_bind_null(q, i + 1);
            c[i] = (col){NULL, 0, true};
            break;
        case STO_INT:
            sqlite3_bind_int64(q, i + 1, v[i].i);
            snprintf(nums[i], 24, "%lld", (long long)v[i].i);
            c[i] = (col){nums[i], strlen(nums[i]), false};
            break;
        case STO_BLOB:
            sqlite3_bind_blob(q, i + 1, v[i].p ? v[i].p : "", (int)v[i].n, SQLITE_STATIC);
            c[i] = (col){v[i].p ? v[i].p : "", v[i].n, false};
            break;
        case STO_TEXT:
            sqlite3_bind_text(q, i + 1, v[i].p, (int)v[i].n, SQLITE_STATIC);
            c[i] = (col){v[i].p, v[i].n, false};
            break;
        }
    }
}

/* Inserts the row v with the statement sql (an INSERT, or INSERT OR REPLACE), then its
 * version and MAC. */
static int ins_row(sto_db *st, const sto_table *t, const char *sql, const sto_val *v,
                   const int64_t *rowid, cm_err *err)
{
    sqlite3_stmt *q = stmt(st, sql, err);
    if (!q)
        return -1;
    col c[STO_MAX_COLS];
    char nums[STO_MAX_COLS][24];
    int nc = t->ncols;
    bind_vals(q, v, nc, c, nums);
    uint8_t m[CRY_MAC_LEN];
    if (written(st, t->name, c, nc, m) < 0) {
        release(st, q);
        cm_err_set(err, st->path, 0, 0, "cannot authenticate a %s record", t->name);
        return -1;
    }
    sqlite3_bind_int64(q, nc + 1, (sqlite3_int64)(st->counter + 1));
    sqlite3_bind_blob(q, nc + 2, m, CRY_MAC_LEN, SQLITE_STATIC);
    if (rowid)
        sqlite3_bind_int64(q, nc + 3, (sqlite3_int64)*rowid);
    int step = done(st, q);
    if (step != SQLITE_DONE)
        return db_err(st, err, "write"); /* the transaction rolls back, digest with it */
    return 0;
}

/* Runs sql (a SELECT of MACs, or a DELETE … RETURNING mac) keyed by key, taking the
 * rows it names out of the digest. */
static int drop_keyed(sto_db *st, const char *sql, const sto_val *key, int nkey, cm_err *err)
{
    sqlite3_stmt *q = stmt(st, sql, err);
    if (!q)
        return -1;
    col c[2];
    char nums[2][24];
    bind_vals(q, key, nkey, c, nums);
    return removed(st, q, err);
}

/* Whether the row q holds (its columns first, as d->sel reads them) is v (n values):
 * the same types, the same bytes. */
static bool row_is(sqlite3_stmt *q, const sto_val *v, int n)
{
    for (int i = 0; i < n; i++) {
        int ty = sqlite3_column_type(q, i);
        if (v[i].type == STO_NULL) {
            if (ty != SQLITE_NULL)
                return false;
        } else if (v[i].type == STO_INT) {
            if (ty != SQLITE_INTEGER || sqlite3_column_int64(q, i) != v[i].i)
                return false;
        } else {
            bool text = v[i].type == STO_TEXT;
            if (ty != (text ? SQLITE_TEXT : SQLITE_BLOB))
                return false;
            const void *p =
                text ? (const void *)sqlite3_column_text(q, i) : sqlite3_column_blob(q, i);
            size_t len = (size_t)sqlite3_column_bytes(q, i);
            if (len != v[i].n || (len && (!p || memcmp(p, v[i].p, len) != 0)))
                return false;
        }
    }
    return true;
}

/* Writes v over the row with its key, or as a new row. The row found is read whole by
 * one point lookup: when it already holds v and carries its own MAC, nothing is
 * written (it keeps the version that wrote it, and the head its MAC); otherwise its MAC
 * leaves the digest and the row is updated in place, which leaves the key's index and
 * the table's other pages as they are (a replace would delete the row and append it
 * anew, under a new rowid). */
static int put_row(sto_db *st, const sto_table *t, const struct decl *d, const sto_val *v,
                   cm_err *err)
{
    sqlite3_stmt *q = stmt(st, d->sel, err);
    if (!q)
        return -1;
    col c[2];
    char nums[2][24];
    bind_vals(q, v, t->nkey, c, nums);
    int step = sqlite3_step(q);
    if (step == SQLITE_DONE) {
        release(st, q);
        return ins_row(st, t, d->ins, v, NULL, err);
    }
    if (step != SQLITE_ROW) {
        release(st, q);
        return db_err(st, err, "write");
    }
    bool ok = false;
    if (row_is(q, v, t->ncols) && row_check(st, t->name, t->ncols, q, &ok) == 0 && ok) {
        release(st, q);
        return 0;
    }
    if (mac_col_ok(q, t->ncols + 1))
        digest_step(st->digest, sqlite3_column_blob(q, t->ncols + 1), false);
    int64_t rowid = sqlite3_column_int64(q, t->ncols + 2);
    release(st, q);
    return ins_row(st, t, d->upd, v, &rowid, err);
}

int sto_put(sto_db *st, const sto_table *t, const sto_val *v, cm_err *err)
{
    struct decl *d = need_decl(st, t, err);
    bool own;
    if (!d || auto_begin(st, &own, err) < 0)
        return -1;
    return auto_end(st, own, put_row(st, t, d, v, err), err);
}

int sto_insert(sto_db *st, const sto_table *t, const sto_val *v, cm_err *err)
{
    struct decl *d = need_decl(st, t, err);
    bool own;
    if (!d || auto_begin(st, &own, err) < 0)
        return -1;
    return auto_end(st, own, ins_row(st, t, d->ins, v, NULL, err), err);
}

int sto_del(sto_db *st, const sto_table *t, const sto_val *key, int nkey, cm_err *err)
{
    struct decl *d = need_decl(st, t, err);
    bool own;
    if (!d || nkey < 1 || nkey > 2 || nkey > t->nkey || auto_begin(st, &own, err) < 0)
        return -1;
    return auto_end(st, own, drop_keyed(st, d->del[nkey - 1], key, nkey, err), err);
}

int sto_del_range(sto_db *st, const sto_table *t, int64_t lo, int64_t hi, cm_err *err)
{
    struct decl *d = need_decl(st, t, err);
    bool own;
    if (!d || auto_begin(st, &own, err) < 0)
        return -1;
    sto_val k[2] = {sto_int(lo), sto_int(hi)};
    return auto_end(st, own, drop_keyed(st, d->range, k, 2, err), err);
}

const char *sto_row_text(const sto_row *r, int i)
{
    return (const char *)sqlite3_column_text(r->q, i);
}

const void *sto_row_blob(const sto_row *r, int i, size_t *n)
{
    const void *p = sqlite3_column_blob(r->q, i);
    *n = (size_t)sqlite3_column_bytes(r->q, i);
    return p || sqlite3_column_type(r->q, i) == SQLITE_NULL ? p : "";
}

int64_t sto_row_int(const sto_row *r, int i)
{
    return sqlite3_column_int64(r->q, i);
}

int sto_read(sto_db *st, const sto_table *t, const sto_val *key, int nkey, const char *order,
             int (*fn)(void *arg, const sto_row *r, cm_err *err), void *arg, cm_err *err)
{
    if (!st->db)
        return 0;
    struct decl *d = need_decl(st, t, err);
    if (!d)
        return -1;
    char sql[600];
    int at = snprintf(sql, sizeof sql, "SELECT %s, ver, mac FROM %s", t->cols, t->name);
    if (nkey >= 1)
        at += snprintf(sql + at, sizeof sql - (size_t)at, " WHERE %s = ?", d->key[0]);
    if (nkey >= 2)
        at += snprintf(sql + at, sizeof sql - (size_t)at, " AND %s = ?", d->key[1]);
    if (order)
        snprintf(sql + at, sizeof sql - (size_t)at, " ORDER BY %s", order);
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(st->db, sql, -1, &q, NULL) != SQLITE_OK)
        return db_err(st, err, "read");
    col c[2];
    char nums[2][24];
    bind_vals(q, key, nkey, c, nums);
    int n = 0, rc = 0;
    sto_row row = {q};
    for (;;) {
        int step = sqlite3_step(q);
        if (step == SQLITE_DONE)
            break;
        if (step != SQLITE_ROW) {
            rc = db_err(st, err, "read");
            break;
        }
        bool ok = false;
        if (row_check(st, t->name, t->ncols, q, &ok) < 0) {
            cm_err_set(err, st->path, 0, 0, "cannot check a %s record", t->name);
            rc = -1;
            break;
        }
        if (!ok) {
            rc = bad_row(st, t->name, t->nkey, q, err);
            break;
        }
        n++;
        if (fn && fn(arg, &row, err) < 0) {
            rc = -1;
            break;
        }
    }
    sqlite3_finalize(q);
    return rc < 0 ? -1 : n;
}

int sto_peek(sto_db *st, const sto_table *t, const char *cols, const char *order,
             void (*fn)(void *arg, const sto_row *r), void *arg, cm_err *err)
{
    if (!st->db)
        return 0;
    char sql[600];
    snprintf(sql, sizeof sql, "SELECT %s FROM %s%s%s", cols, t->name, order ? " ORDER BY " : "",
             order ? order : "");
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(st->db, sql, -1, &q, NULL) != SQLITE_OK)
        return db_err(st, err, "read");
    sto_row row = {q};
    int step;
    while ((step = sqlite3_step(q)) == SQLITE_ROW)
        fn(arg, &row);
    sqlite3_finalize(q);
    return step == SQLITE_DONE ? 0 : db_err(st, err, "read");
}

int64_t sto_last_id(sto_db *st, const sto_table *t)
{
    sqlite3_stmt *q = NULL;
    int64_t v = 0;
    if (st->db && sqlite3_prepare_v2(st->db, "SELECT seq FROM sqlite_sequence WHERE name = ?", -1,
                                     &q, NULL) == SQLITE_OK) {
        sqlite3_bind_text(q, 1, t->name, -1, SQLITE_STATIC);
        if (sqlite3_step(q) == SQLITE_ROW)
            v = sqlite3_column_int64(q, 0);
    }
    sqlite3_finalize(q);
    return v;
}

/* ---------- meta ---------- */

int sto_meta_put(sto_db *st, const char *k, const char *v, cm_err *err)
{
    sto_val r[2] = {sto_text(k), sto_text(v)};
    return sto_put(st, &meta_table, r, err);
}

struct meta_each {
    const char *prefix;
    size_t n;
    void (*fn)(void *arg, const char *k, const char *v);
    void *arg;
};

static int meta_row(void *arg, const sto_row *r, cm_err *err)
{
    (void)err;
    struct meta_each *m = arg;
    const char *k = sto_row_text(r, 0);
    if (k && !strncmp(k, m->prefix, m->n))
        m->fn(m->arg, k, sto_row_text(r, 1));
    return 0;
}

int sto_meta_each(sto_db *st, const char *prefix,
                  void (*fn)(void *arg, const char *k, const char *v), void *arg, cm_err *err)
{
    struct meta_each m = {prefix, strlen(prefix), fn, arg};
    return sto_read(st, &meta_table, NULL, 0, "k", meta_row, &m, err) < 0 ? -1 : 0;
}

int sto_meta_peek(sto_db *st, const char *k, char *out, size_t n)
{
    sqlite3_stmt *q = NULL;
    int found = 0;
    out[0] = '\0';
    if (!st->db || st->format == FMT_NEW ||
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

/* ---------- parts ---------- */

void sto_part_attach(sto_db *st, const sto_part_kind *k, void *part)
{
    if (st->nparts == MAX_PARTS) /* a fixed set of kinds: a programming error */
        abort();
    st->parts[st->nparts].k = k;
    st->parts[st->nparts++].p = part;
}

void *sto_part(sto_db *st, const sto_part_kind *k, cm_err *err)
{
    for (int i = 0; i < st->nparts; i++)
        if (st->parts[i].k == k)
            return st->parts[i].p;
    void *p = k->open(st, err);
    if (!p)
        return NULL;
    /* What a restored snapshot carried for it. */
    size_t w = 0;
    int rc = 0;
    for (size_t i = 0; i < st->ncarry; i++) {
        struct carried *c = &st->carry[i];
        if (c->tag == k->tag && k->tag && rc == 0) {
            if (!k->restore || k->restore(p, c->name, c->val) < 0) {
                cm_err_set(err, "snapshot", 0, 0, "record ('%c' %s) does not load", c->tag,
                           c->name);
                rc = -1;
            }
            free(c->name);
            free(c->val);
        } else {
            st->carry[w++] = *c;
        }
    }
    st->ncarry = w;
    if (rc < 0) {
        k->free(p);
        return NULL;
    }
    sto_part_attach(st, k, p);
    return p;
}

void sto_carry(sto_db *st, int tag, const char *name, const char *val)
{
    if (st->ncarry == st->capcarry) {
        st->capcarry = st->capcarry ? st->capcarry * 2 : 16;
        st->carry = cm_xrealloc(st->carry, st->capcarry * sizeof *st->carry);
    }
    st->carry[st->ncarry++] = (struct carried){tag, cm_strdup(name), cm_strdup(val)};
}

void sto_snapshot_parts(sto_db *st, sto_rec_fn *rec, void *arg)
{
    for (int tag = 1; tag < 256; tag++) {
        for (int i = 0; i < st->nparts; i++)
            if (st->parts[i].k->tag == tag && st->parts[i].k->snapshot)
                st->parts[i].k->snapshot(st->parts[i].p, rec, arg);
        for (size_t i = 0; i < st->ncarry; i++)
            if (st->carry[i].tag == tag)
                rec(arg, tag, st->carry[i].name, st->carry[i].val);
    }
}

/* ---------- entries ---------- */

int sto_entries(sto_db *st, bool changed, sto_entry_fn fn, void *arg)
{
    int rc = 0;
    for (int kind = 1; rc == 0 && kind < 256; kind++)
        for (int i = 0; rc == 0 && i < st->nparts; i++)
            if (st->parts[i].k->entry == kind && st->parts[i].k->entries)
                rc = st->parts[i].k->entries(st->parts[i].p, changed, fn, arg);
    return rc;
}

int sto_entry_apply(sto_db *st, const sto_entry *e, const char *name, cm_err *err)
{
    for (int i = 0; i < st->nparts; i++)
        if (e->kind && st->parts[i].k->entry == e->kind && st->parts[i].k->entry_apply)
            return st->parts[i].k->entry_apply(st->parts[i].p, e, name, err);
    return sto_entry_bad(err, e, name, "an unknown kind of entry");
}

void sto_changes_clear(sto_db *st)
{
    for (int i = 0; i < st->nparts; i++)
        if (st->parts[i].k->changes_clear)
            st->parts[i].k->changes_clear(st->parts[i].p);
}

int sto_entry_bad(cm_err *err, const sto_entry *e, const char *name, const char *what)
{
    int k = e->kind > 32 && e->kind < 127 ? e->kind : '?';
    cm_err_set(err, "changelog", 0, 0, "entry '%c' %.200s: %s", k, name, what);
    return CM_EINPUT;
}
