/* store/: a table a module declares, its rows put, replaced, deleted and read back
 * after a reopen; a row edited behind the store's back refused by name, a row removed
 * refused by the head; a rolled-back transaction and a failed flush leave nothing; the
 * parts' hooks run inside the one transaction of a flush; the tables a state declares
 * are the ones a migration writes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h> /* white-box: edits the file behind the store's back */

#include "crypto/crypto.h"
#include "store/store.h"
#include "stream/outbox.h"
#include "tests/unit/t.h"
#include "vault/state.h"

static const sto_table things = {"things",
                                 "CREATE TABLE things(k TEXT NOT NULL, n INTEGER NOT NULL,"
                                 " v BLOB, ver INTEGER NOT NULL, mac BLOB NOT NULL,"
                                 " PRIMARY KEY(k, n))",
                                 "k, n, v", 3, 2};

static char db[128], other[128];
static cry_secret *master;

static sto_db *open_auth(cm_err *err)
{
    sto_db *st = sto_open(db, err);
    if (st && (sto_auth(st, master, err) < 0 || sto_declare(st, &things, err) < 0)) {
        sto_close(st);
        st = NULL;
    }
    return st;
}

static int put(sto_db *st, const char *k, int64_t n, const char *v, cm_err *err)
{
    sto_val row[3] = {sto_text(k), sto_int(n), v ? sto_blob(v, strlen(v)) : sto_text(NULL)};
    return sto_put(st, &things, row, err);
}

/* Rows as "k/n=v" joined by ';', in key order. */
struct seen {
    char all[512];
};

static int collect(void *arg, const sto_row *r, cm_err *err)
{
    (void)err;
    struct seen *s = arg;
    size_t n;
    const char *v = sto_row_blob(r, 2, &n);
    if (!v) { /* a null column */
        v = "(null)";
        n = strlen(v);
    }
    char one[128];
    snprintf(one, sizeof one, "%s/%lld=%.*s;", sto_row_text(r, 0), (long long)sto_row_int(r, 1),
             (int)n, v);
    size_t at = strlen(s->all);
    snprintf(s->all + at, sizeof s->all - at, "%s", one);
    return 0;
}

/* The version of the row b/1: the commit count that wrote it. */
static void ver_b1(void *arg, const sto_row *r)
{
    const char *k = sto_row_text(r, 0);
    if (k && !strcmp(k, "b") && sto_row_int(r, 1) == 1)
        *(int64_t *)arg = sto_row_int(r, 2);
}

static int64_t b1_ver(sto_db *st)
{
    cm_err err;
    int64_t v = -1;
    return sto_peek(st, &things, "k, n, ver", NULL, ver_b1, &v, &err) < 0 ? -1 : v;
}

static int read_all(sto_db *st, struct seen *s, cm_err *err)
{
    s->all[0] = '\0';
    return sto_read(st, &things, NULL, 0, "k, n", collect, s, err);
}

static int sql(const char *path, const char *q)
{
    sqlite3 *h = NULL;
    int rc =
        sqlite3_open(path, &h) == SQLITE_OK && sqlite3_exec(h, q, NULL, NULL, NULL) == SQLITE_OK
            ? 0
            : -1;
    sqlite3_close(h);
    return rc;
}

/* A part that writes one row of things in each flush, or fails after writing it. */
struct part {
    bool fail;
    int flushed, committed, rolled_back;
};

static int part_flush(void *p, sto_db *st, bool closing, cm_err *err)
{
    (void)closing;
    struct part *x = p;
    x->flushed++;
    if (put(st, "part", x->flushed, "flushed", err) < 0)
        return -1;
    if (x->fail) {
        cm_err_set(err, "part", 0, 0, "refused");
        return -1;
    }
    return 0;
}

static void part_committed(void *p)
{
    ((struct part *)p)->committed++;
}

static void part_rolled_back(void *p)
{
    ((struct part *)p)->rolled_back++;
}

static const sto_part_kind part_kind = {
    .name = "test",
    .flush = part_flush,
    .committed = part_committed,
    .rolled_back = part_rolled_back,
};

static void bad(void *arg, const char *what)
{
    (void)arg;
    fprintf(stderr, "  verify: %s\n", what);
}

static void rows_and_auth(void)
{
    cm_err err;
    struct seen s;
    sto_db *st = open_auth(&err);
    CHECK(st != NULL);
    if (!st)
        return;
    CHECK(sto_format(st) == STO_FORMAT);
    CHECK(put(st, "b", 1, "one", &err) == 0);
    CHECK(put(st, "a", 2, "two", &err) == 0);
    CHECK(put(st, "a", 1, NULL, &err) == 0);
    CHECK(put(st, "b", 1, "uno", &err) == 0); /* replaces b/1 */
    CHECK(read_all(st, &s, &err) == 3);
    CHECK_STR(s.all, "a/1=(null);a/2=two;b/1=uno;");
    /* a put of the row as it stands writes nothing: it keeps the version that wrote it;
     * a put that changes it writes it under the commit's */
    int64_t ver = b1_ver(st);
    CHECK(ver > 0);
    CHECK(put(st, "b", 1, "uno", &err) == 0);
    CHECK(b1_ver(st) == ver);
    CHECK(put(st, "b", 1, "dos", &err) == 0);
    CHECK(b1_ver(st) == ver + 2);
    CHECK(put(st, "b", 1, "uno", &err) == 0);
    CHECK(b1_ver(st) == ver + 3);
    CHECK(read_all(st, &s, &err) == 3);
    CHECK_STR(s.all, "a/1=(null);a/2=two;b/1=uno;");
    sto_val key[2] = {sto_text("a"), sto_int(2)};
    CHECK(sto_del(st, &things, key, 2, &err) == 0);
    sto_val one = sto_text("missing");
    CHECK(sto_del(st, &things, &one, 1, &err) == 0); /* nothing to delete is no error */
    CHECK(read_all(st, &s, &err) == 2);
    CHECK_STR(s.all, "a/1=(null);b/1=uno;");
    /* a keyed read */
    s.all[0] = '\0';
    CHECK(sto_read(st, &things, key, 1, NULL, collect, &s, &err) == 1);
    CHECK_STR(s.all, "a/1=(null);");
    CHECK(sto_meta_put(st, "test:x", "y", &err) == 0);
    sto_close(st);

    /* reopened: authenticated, the same rows */
    st = open_auth(&err);
    CHECK(st != NULL);
    if (!st)
        return;
    CHECK(read_all(st, &s, &err) == 2);
    CHECK_STR(s.all, "a/1=(null);b/1=uno;");
    char v[16];
    CHECK(sto_meta_peek(st, "test:x", v, sizeof v) == 1 && !strcmp(v, "y"));

    /* a rolled-back transaction leaves nothing, in the file or the head */
    CHECK(sto_begin(st, &err) == 0);
    CHECK(put(st, "c", 1, "gone", &err) == 0);
    key[0] = sto_text("b");
    key[1] = sto_int(1);
    CHECK(sto_del(st, &things, key, 2, &err) == 0);
    sto_rollback(st);
    CHECK(read_all(st, &s, &err) == 2);
    CHECK_STR(s.all, "a/1=(null);b/1=uno;");

    /* the parts' hooks: in the one transaction of a flush, or nothing of it */
    struct part *p = calloc(1, sizeof *p);
    sto_part_attach(st, &part_kind, p);
    CHECK(sto_flush(st, &err) == 0);
    CHECK(p->flushed == 1 && p->committed == 1 && p->rolled_back == 0);
    p->fail = true;
    CHECK(sto_flush(st, &err) < 0);
    CHECK(p->flushed == 2 && p->committed == 1 && p->rolled_back == 1);
    CHECK(read_all(st, &s, &err) == 3);
    CHECK_STR(s.all, "a/1=(null);b/1=uno;part/1=flushed;");
    sto_close(st); /* the part is the test's: no free hook */
    free(p);
    st = open_auth(&err);
    CHECK(st != NULL);
    if (st && read_all(st, &s, &err) == 3)
        CHECK_STR(s.all, "a/1=(null);b/1=uno;part/1=flushed;");
    sto_close(st);
    st = sto_open(db, &err);
    CHECK(st != NULL && sto_verify(st, master, bad, NULL, &err) == 0);
    sto_close(st);
}

static void tampered(void)
{
    cm_err err;
    struct seen s;
    /* a value edited: the head still sums (MACs untouched), the row is refused by name */
    CHECK(sql(db, "UPDATE things SET v = 'UNO' WHERE k = 'b'") == 0);
    sto_db *st = open_auth(&err);
    CHECK(st != NULL);
    if (st) {
        CHECK(read_all(st, &s, &err) < 0);
        CHECK(strstr(err.msg, "things record 'b/1' fails its authentication check") != NULL);
    }
    sto_close(st);
    /* a row removed: the head refuses the whole file */
    CHECK(sql(db, "DELETE FROM things WHERE k = 'a'") == 0);
    st = sto_open(db, &err);
    CHECK(st != NULL && sto_auth(st, master, &err) < 0);
    CHECK(strstr(err.msg, "do not match its state head") != NULL);
    sto_close(st);
}

/* Every table a state and its outbox declare, as SQLite holds its statement. */
static int schema_of(const char *path, char *out, size_t n)
{
    sqlite3 *h = NULL;
    sqlite3_stmt *q = NULL;
    out[0] = '\0';
    int rc = -1;
    if (sqlite3_open(path, &h) == SQLITE_OK &&
        sqlite3_prepare_v2(h,
                           "SELECT sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE "
                           "'sqlite%' ORDER BY name",
                           -1, &q, NULL) == SQLITE_OK) {
        while (sqlite3_step(q) == SQLITE_ROW) {
            size_t at = strlen(out);
            snprintf(out + at, n - at, "%s;\n", (const char *)sqlite3_column_text(q, 0));
        }
        rc = 0;
    }
    sqlite3_finalize(q);
    sqlite3_close(h);
    return rc;
}

static void declared_as_migrated(const char *mk)
{
    cm_err err;
    /* a new state, with every module's tables declared */
    unlink(db);
    vlt_state *s = vlt_state_open(db, mk, &err);
    CHECK(s != NULL && stm_outbox_open(s, &err) != NULL);
    vlt_state_free(s);
    /* a format 1 file with nothing in it, migrated */
    CHECK(sql(other, "CREATE TABLE meta(k TEXT PRIMARY KEY, v TEXT NOT NULL)") == 0);
    sto_db *st = sto_open(other, &err);
    CHECK(st != NULL && sto_format(st) == 1);
    if (st)
        CHECK(sto_migrate(st, master, &err) == 0);
    sto_close(st);
    static char a[8192], b[8192];
    CHECK(schema_of(db, a, sizeof a) == 0 && schema_of(other, b, sizeof b) == 0);
    CHECK(strstr(a, "outbox_batches") && strstr(a, "seen_batches") && strstr(a, "offsets"));
    CHECK_STR(a, b);
    if (strcmp(a, b))
        fprintf(stderr, "declared:\n%s\nmigrated:\n%s\n", a, b);
}

int main(void)
{
    char dir[] = "/tmp/cmkguard-unit-store.XXXXXX", mk[128], side[160];
    CHECK(t_state_paths(dir, db, sizeof db, mk, sizeof mk) == 0);
    snprintf(other, sizeof other, "%s/other.db", dir);
    master = cry_secret_random(32);
    CHECK(master != NULL);
    if (!master)
        T_DONE();
    /* in memory: parts only, nothing to read, a flush that does nothing */
    cm_err err;
    sto_db *mem = sto_open(NULL, &err);
    CHECK(mem && !sto_persistent(mem) && sto_flush(mem, &err) == 0);
    CHECK(sto_read(mem, &things, NULL, 0, NULL, collect, NULL, &err) == 0);
    sto_close(mem);
    rows_and_auth();
    tampered();
    declared_as_migrated(mk);
    cry_secret_free(master);
    snprintf(side, sizeof side, "%s-wal", other);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", other);
    unlink(side);
    unlink(other);
    CHECK(t_rm_state(dir, db, mk) == 0);
    T_DONE();
}
