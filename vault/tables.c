/* The tables vault/ owns in the state store: its documents, access policies, seen
 * event ids, facts and data at rest, declared here and written through store/. */
#include <stdio.h>
#include <string.h>

#include "vault/internal.h"

const sto_table vlt_tab_doc[3] = {
    {"vaults",
     "CREATE TABLE vaults(id TEXT PRIMARY KEY, doc TEXT NOT NULL, ver INTEGER NOT NULL,"
     " mac BLOB NOT NULL)",
     "id, doc", 2, 1},
    {"keys",
     "CREATE TABLE keys(id TEXT PRIMARY KEY, doc TEXT NOT NULL, ver INTEGER NOT NULL,"
     " mac BLOB NOT NULL)",
     "id, doc", 2, 1},
    {"resources",
     "CREATE TABLE resources(id TEXT PRIMARY KEY, doc TEXT NOT NULL, ver INTEGER NOT NULL,"
     " mac BLOB NOT NULL)",
     "id, doc", 2, 1},
};
const sto_table vlt_tab_acl = {"acl",
                               "CREATE TABLE acl(k TEXT PRIMARY KEY, perms INTEGER NOT NULL,"
                               " ver INTEGER NOT NULL, mac BLOB NOT NULL)",
                               "k, perms", 2, 1};
/* Seen event ids: format 2's rows, one per id ("SOURCE\x1fID"); format 1's ids, which
 * kept no source; format 3's, one row per commit (the ids, each ended by a NUL). */
const sto_table vlt_tab_seen = {
    "seen", "CREATE TABLE seen(id TEXT PRIMARY KEY, ver INTEGER NOT NULL, mac BLOB NOT NULL)", "id",
    1, 1};
const sto_table vlt_tab_seen_legacy = {"seen_legacy",
                                       "CREATE TABLE seen_legacy(id TEXT PRIMARY KEY, ver INTEGER"
                                       " NOT NULL, mac BLOB NOT NULL)",
                                       "id", 1, 1};
const sto_table vlt_tab_seen_batches = {"seen_batches",
                                        "CREATE TABLE seen_batches(id INTEGER PRIMARY KEY, ids BLOB"
                                        " NOT NULL, ver INTEGER NOT NULL, mac BLOB NOT NULL)",
                                        "id, ids", 2, 1};
const sto_table vlt_tab_facts = {"facts",
                                 "CREATE TABLE facts(k TEXT PRIMARY KEY, doc TEXT NOT NULL,"
                                 " ver INTEGER NOT NULL, mac BLOB NOT NULL)",
                                 "k, doc", 2, 1};
const sto_table vlt_tab_data = {"data",
                                "CREATE TABLE data(resource TEXT NOT NULL, class TEXT NOT NULL,"
                                " sealed BLOB NOT NULL, ver INTEGER NOT NULL, mac BLOB NOT NULL,"
                                " PRIMARY KEY(resource, class))",
                                "resource, class, sealed", 3, 2};

static const sto_table *const all[] = {
    &vlt_tab_doc[0],      &vlt_tab_doc[1],       &vlt_tab_doc[2], &vlt_tab_acl,  &vlt_tab_seen,
    &vlt_tab_seen_legacy, &vlt_tab_seen_batches, &vlt_tab_facts,  &vlt_tab_data,
};

static void max_id(void *arg, const sto_row *r)
{
    *(int64_t *)arg = sto_row_int(r, 0);
}

int vlt_tables_open(vlt_state *s, cm_err *err)
{
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (sto_declare(s->db, all[i], err) < 0)
            return -1;
    int64_t last = 0;
    if (sto_peek(s->db, &vlt_tab_seen_batches, "max(id)", NULL, max_id, &last, err) < 0)
        return -1;
    s->next_seen = last + 1;
    return 0;
}

/* A row of seen_batches stays under this size: a commit with more spreads over several
 * rows. */
#define BATCH_ROW_MAX ((size_t)32 << 20)

static int seen_row_write(vlt_state *s, cm_buf *b, cm_err *err)
{
    if (cm_buf_failed(b)) {
        cm_err_set(err, "state", 0, 0, "cannot queue the seen event ids");
        return -1;
    }
    sto_val v[2] = {sto_int(s->flush_seen), sto_blob(b->p, b->len)};
    int rc = sto_insert(s->db, &vlt_tab_seen_batches, v, err);
    if (rc == 0)
        s->flush_seen++;
    cm_buf_reset(b);
    return rc;
}

int vlt_seen_flush(vlt_state *s, cm_err *err)
{
    s->flush_seen = s->next_seen;
    if (!s->dirty_seen.n)
        return 0;
    cm_buf b;
    cm_buf_init(&b, 0);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < s->dirty_seen.n; i++) {
        size_t n = strlen(s->dirty_seen.s[i]) + 1;
        if (b.len && b.len + n > BATCH_ROW_MAX)
            rc = seen_row_write(s, &b, err);
        if (rc == 0)
            cm_buf_add(&b, s->dirty_seen.s[i], n);
    }
    if (rc == 0 && b.len)
        rc = seen_row_write(s, &b, err);
    cm_buf_free(&b);
    return rc;
}

struct each_id {
    void (*fn)(void *arg, const char *id);
    void *arg;
};

static int one_id(void *arg, const sto_row *r, cm_err *err)
{
    (void)err;
    struct each_id *e = arg;
    e->fn(e->arg, sto_row_text(r, 0));
    return 0;
}

static int batch_ids(void *arg, const sto_row *r, cm_err *err)
{
    (void)err;
    struct each_id *e = arg;
    size_t n;
    const char *p = sto_row_blob(r, 1, &n);
    for (size_t i = 0; p && i < n;) {
        const char *z = memchr(p + i, '\0', n - i);
        if (!z)
            break; /* the writer ends every id with a NUL */
        e->fn(e->arg, p + i);
        i = (size_t)(z - p) + 1;
    }
    return 0;
}

int vlt_seen_each(vlt_state *s, void (*fn)(void *arg, const char *id), void *arg, cm_err *err)
{
    /* Rows of format 2 (one per id, kept by the migration), then format 3's batches. */
    struct each_id e = {fn, arg};
    if (sto_read(s->db, &vlt_tab_seen, NULL, 0, NULL, one_id, &e, err) < 0 ||
        sto_read(s->db, &vlt_tab_seen_batches, NULL, 0, "id", batch_ids, &e, err) < 0)
        return -1;
    return 0;
}

int vlt_seen_legacy_each(vlt_state *s, void (*fn)(void *arg, const char *id), void *arg,
                         cm_err *err)
{
    struct each_id e = {fn, arg};
    return sto_read(s->db, &vlt_tab_seen_legacy, NULL, 0, NULL, one_id, &e, err) < 0 ? -1 : 0;
}
