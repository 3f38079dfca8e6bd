/* The catalog topic and its table (stream/catalog.h).
 *
 * A record's value, canonical JSON (members sorted):
 *   {"facts":F,"kind":"vault"|"key","partition":N,"uri":URI}
 * F for a vault: {name, purge_protection, region, retention_days, soft_delete,
 * subscription, tenant}; for a key: {deleted, kty, name, size, vault_uri, versions:
 * [{enabled, exp, nbf, version}…]} in creation order (exp and nbf RFC 3339, or absent);
 * null when the partition holds the object no more. Nothing else of the object (no key
 * material, no access policy) is in it. */
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>
#include <yajl/yajl_tree.h>

#include "common/json.h"
#include "common/map.h"
#include "common/timestamp.h"
#include "stream/catalog.h"
#include "stream/kafka_internal.h"
#include "vault/delta.h"

/* A record stays bounded: a key's versions are what make it grow. */
#define CATALOG_MAX (256 * 1024)
#define CATALOG_MAX_VERSIONS 4096

struct cat_entry {
    yajl_val doc; /* the record, parsed */
    yajl_val facts;
    bool key;
    int32_t part;
};

struct stm_catalog {
    cm_map *by_uri;        /* URI -> struct cat_entry */
    rd_kafka_t *rd;        /* the reader, once opened */
    vlt_keyver_view *vers; /* the last lookup's versions */
    size_t capvers;
};

stm_catalog *stm_catalog_new(void)
{
    stm_catalog *c = cm_xcalloc(1, sizeof *c);
    c->by_uri = cm_map_new();
    return c;
}

static void entry_free(struct cat_entry *e)
{
    if (e)
        yajl_tree_free(e->doc);
    free(e);
}

void stm_catalog_free(stm_catalog *c)
{
    if (!c)
        return;
    if (c->rd) {
        rd_kafka_consumer_close(c->rd);
        rd_kafka_destroy(c->rd);
    }
    size_t it = 0;
    void *v;
    while (cm_map_next(c->by_uri, &it, NULL, &v))
        entry_free(v);
    cm_map_free(c->by_uri);
    free(c->vers);
    free(c);
}

size_t stm_catalog_len(const stm_catalog *c)
{
    return cm_map_len(c->by_uri);
}

static yajl_val member(yajl_val o, const char *name, yajl_type t)
{
    const char *path[] = {name, NULL};
    return o ? yajl_tree_get(o, path, t) : NULL;
}

static const char *str_of(yajl_val o, const char *name)
{
    yajl_val v = member(o, name, yajl_t_string);
    return v ? YAJL_GET_STRING(v) : NULL;
}

static bool bool_of(yajl_val o, const char *name)
{
    return YAJL_IS_TRUE(member(o, name, yajl_t_true));
}

static int64_t int_of(yajl_val o, const char *name)
{
    yajl_val v = member(o, name, yajl_t_number);
    return v && YAJL_IS_INTEGER(v) ? YAJL_GET_INTEGER(v) : 0;
}

int stm_catalog_put(stm_catalog *c, const char *value, size_t len, cm_err *err)
{
    char ebuf[128] = "";
    if (len > CATALOG_MAX) {
        cm_err_set(err, "catalog", 0, 0, "a record of %zu bytes, over its bound", len);
        return CM_EINPUT;
    }
    char *copy = cm_strndup(value, len);
    yajl_val doc = yajl_tree_parse(copy, ebuf, sizeof ebuf);
    free(copy);
    const char *uri = str_of(doc, "uri"), *kind = str_of(doc, "kind");
    yajl_val part = member(doc, "partition", yajl_t_number);
    yajl_val facts = member(doc, "facts", yajl_t_any);
    if (!YAJL_IS_OBJECT(doc) || !uri || !kind || (strcmp(kind, "vault") && strcmp(kind, "key")) ||
        !part || !YAJL_IS_INTEGER(part) || !facts ||
        !(YAJL_IS_OBJECT(facts) || YAJL_IS_NULL(facts))) {
        cm_err_set(err, "catalog", 0, 0, "not a catalog record%s%s", *ebuf ? ": " : "", ebuf);
        yajl_tree_free(doc);
        return CM_EINPUT;
    }
    entry_free(cm_map_del(c->by_uri, uri));
    if (YAJL_IS_NULL(facts)) { /* gone */
        yajl_tree_free(doc);
        return 0;
    }
    struct cat_entry *e = cm_xcalloc(1, sizeof *e);
    *e = (struct cat_entry){.doc = doc,
                            .facts = facts,
                            .key = !strcmp(kind, "key"),
                            .part = (int32_t)YAJL_GET_INTEGER(part)};
    cm_map_put(c->by_uri, uri, e);
    return 0;
}

static bool time_of(yajl_val o, const char *name, int64_t *at)
{
    const char *s = str_of(o, name);
    return s && cm_ts_parse(s, strlen(s), at);
}

bool stm_catalog_foreign(void *arg, const char *uri, bool key, vlt_foreign *out)
{
    stm_catalog_ref *ref = arg;
    stm_catalog *c = ref->cat;
    const struct cat_entry *e = cm_map_get(c->by_uri, uri);
    if (!e || e->key != key || e->part == ref->self)
        return false;
    memset(out, 0, sizeof *out);
    yajl_val f = e->facts;
    if (!key) {
        out->vault = (vlt_vault_view){.uri = uri,
                                      .name = str_of(f, "name"),
                                      .tenant = str_of(f, "tenant"),
                                      .region = str_of(f, "region"),
                                      .subscription = str_of(f, "subscription"),
                                      .soft_delete = bool_of(f, "soft_delete"),
                                      .purge_protection = bool_of(f, "purge_protection"),
                                      .retention_days = int_of(f, "retention_days")};
        return true;
    }
    out->key = (vlt_key_view){.uri = uri,
                              .name = str_of(f, "name"),
                              .vault_uri = str_of(f, "vault_uri"),
                              .kty = str_of(f, "kty"),
                              .size = int_of(f, "size"),
                              .deleted = bool_of(f, "deleted")};
    yajl_val vs = member(f, "versions", yajl_t_array);
    size_t n = YAJL_IS_ARRAY(vs) ? vs->u.array.len : 0;
    if (n > CATALOG_MAX_VERSIONS)
        n = CATALOG_MAX_VERSIONS;
    if (n > c->capvers) {
        c->vers = cm_xrealloc(c->vers, n * sizeof *c->vers);
        c->capvers = n;
    }
    for (size_t i = 0; i < n; i++) {
        yajl_val v = vs->u.array.values[i];
        vlt_keyver_view *kv = &c->vers[i];
        *kv = (vlt_keyver_view){.version = str_of(v, "version"), .enabled = bool_of(v, "enabled")};
        kv->has_nbf = time_of(v, "nbf", &kv->nbf);
        kv->has_exp = time_of(v, "exp", &kv->exp);
    }
    out->vers = c->vers;
    out->nvers = n;
    return true;
}

/* ---------- writing ---------- */

static void ktime(cm_jw *j, const char *k, bool has, int64_t at)
{
    char text[CM_TS_SIZE];
    if (!has)
        return;
    cm_ts_format(at, text);
    cm_jw_kstr(j, k, text);
}

int stm_catalog_value(vlt_state *st, bool key, const char *uri, int32_t part, cm_buf *out)
{
    cm_jw j;
    cm_jw_init(&j, out);
    cm_jw_obj_begin(&j);
    cm_jw_key(&j, "facts");
    vlt_vault_view vb;
    vlt_key_view kb;
    const vlt_key *k = key ? vlt_state_key(st, uri) : NULL;
    const vlt_vault_view *v = key ? NULL : vlt_vault_view_of(vlt_state_vault(st, uri), &vb);
    const vlt_key_view *kv = vlt_key_view_of(k, &kb);
    if (v) {
        cm_jw_obj_begin(&j);
        cm_jw_kstr(&j, "name", v->name);
        cm_jw_kbool(&j, "purge_protection", v->purge_protection);
        cm_jw_kstr(&j, "region", v->region);
        cm_jw_kint(&j, "retention_days", v->retention_days);
        cm_jw_kbool(&j, "soft_delete", v->soft_delete);
        cm_jw_kstr(&j, "subscription", v->subscription);
        cm_jw_kstr(&j, "tenant", v->tenant);
        cm_jw_obj_end(&j);
    } else if (kv) {
        cm_jw_obj_begin(&j);
        cm_jw_kbool(&j, "deleted", kv->deleted);
        cm_jw_kstr(&j, "kty", kv->kty);
        cm_jw_kstr(&j, "name", kv->name);
        cm_jw_kint(&j, "size", kv->size);
        cm_jw_kstr(&j, "vault_uri", kv->vault_uri);
        cm_jw_key(&j, "versions");
        cm_jw_arr_begin(&j);
        for (size_t i = 0; i < vlt_key_nversions(k); i++) {
            vlt_keyver_view vv;
            const vlt_keyver_view *x = vlt_keyver_view_of(k, vlt_key_version_at(k, i), &vv);
            cm_jw_obj_begin(&j);
            cm_jw_kbool(&j, "enabled", x->enabled);
            ktime(&j, "exp", x->has_exp, x->exp);
            ktime(&j, "nbf", x->has_nbf, x->nbf);
            cm_jw_kstr(&j, "version", x->version);
            cm_jw_obj_end(&j);
        }
        cm_jw_arr_end(&j);
        cm_jw_obj_end(&j);
    } else {
        cm_jw_null(&j);
    }
    cm_jw_kstr(&j, "kind", key ? "key" : "vault");
    cm_jw_kint(&j, "partition", part);
    cm_jw_kstr(&j, "uri", uri);
    cm_jw_obj_end(&j);
    return cm_jw_done(&j);
}

struct changed {
    cm_map *uris; /* "v" or "k" + URI -> (unused) */
};

static int note_changed(void *arg, const sto_entry *e)
{
    struct changed *ch = arg;
    if ((e->kind != VLT_E_VAULT && e->kind != VLT_E_KEY) || e->nlen > 1024)
        return 0;
    char name[1030];
    snprintf(name, sizeof name, "%c%.*s", e->kind, (int)e->nlen, e->name);
    cm_map_put(ch->uris, name, ch);
    return 0;
}

int stm_catalog_outbox(vlt_state *st, stm_outbox *ob, const char *topic, int32_t part, cm_err *err)
{
    struct changed ch = {cm_map_new()};
    int rc = vlt_state_changes(st, note_changed, &ch, err) < 0 ? -1 : 0;
    size_t n = 0;
    const char **names = rc == 0 ? cm_map_sorted_keys(ch.uris, &n) : NULL;
    cm_buf v;
    cm_buf_init(&v, CATALOG_MAX);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const char *uri = names[i] + 1;
        cm_buf_reset(&v);
        if (stm_catalog_value(st, names[i][0] == VLT_E_KEY, uri, part, &v) < 0) {
            cm_err_set(err, "catalog", 0, 0, "the catalog record of %s is over its bound", uri);
            rc = -1;
            break;
        }
        stm_outmsg m = {.topic = (char *)topic,
                        .partition = RD_KAFKA_PARTITION_UA,
                        .key = (char *)uri,
                        .keylen = strlen(uri),
                        .value = v.p,
                        .len = v.len};
        stm_outbox_add(ob, &m);
    }
    cm_buf_free(&v);
    free(names);
    cm_map_free(ch.uris);
    return rc;
}

/* ---------- reading the topic ---------- */

int stm_catalog_open(stm_catalog *c, const stm_config *cfg, cm_err *err)
{
    if (!(c->rd = stm_reader_new(cfg, err)))
        return -1;
    int n = stm_partition_count(c->rd, cfg->topic_catalog, err);
    if (n <= 0)
        return -1;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(n);
    for (int32_t p = 0; p < n; p++)
        rd_kafka_topic_partition_list_add(l, cfg->topic_catalog, p)->offset =
            RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_resp_err_t e = rd_kafka_assign(c->rd, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (e) {
        cm_err_set(err, cfg->topic_catalog, 0, 0, "cannot read: %s", rd_kafka_err2str(e));
        return -1;
    }
    return 0;
}

size_t stm_catalog_poll(stm_catalog *c, size_t max)
{
    size_t n = 0;
    while (c->rd && n < max) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c->rd, 0);
        if (!m)
            break;
        if (!m->err) {
            cm_err e;
            if (stm_catalog_put(c, m->payload ? m->payload : "", m->len, &e) < 0)
                cm_log("run: catalog: %s partition %d offset %lld: %s", rd_kafka_topic_name(m->rkt),
                       (int)m->partition, (long long)m->offset, e.msg);
            n++;
        }
        rd_kafka_message_destroy(m);
    }
    return n;
}
