/* The catalog (SPEC §7a): its table, its records, and the foreign lookup through which a
 * partition's state sees the vaults and keys another partition holds. */
#include <stdlib.h>

#include "policy/engine.h"
#include "stream/catalog.h"
#include "stream/handover.h"
#include "tests/unit/t.h"
#include "vault/delta.h"

#define RA "/subscriptions/s/resourceGroups/g/providers/Microsoft.CognitiveServices/accounts/a"
#define VB "https://kvb.vault.azure.net"
#define KB VB "/keys/k"

static aud_decision d;
static int seq;

static enum aud_outcome send(pol_engine *e, const char *type, const char *subject, const char *data)
{
    char msg[2048];
    snprintf(msg, sizeof msg,
             "{\"specversion\":\"1.0\",\"id\":\"c-%d\",\"source\":\"t\",\"type\":\"%s\","
             "\"subject\":\"%s\",\"time\":\"2026-11-02T10:00:00Z\",\"data\":%s}",
             ++seq, type, subject, data);
    pol_engine_process(e, msg, strlen(msg), "test", &d);
    return d.outcome;
}

/* Tenant B's vault and key, on e's state. */
static void vault_b(pol_engine *e)
{
    CHECK(send(e, "vault.upserted", VB,
               "{\"tenant\":\"tb\",\"region\":\"westeurope\",\"subscription\":\"sb\","
               "\"soft_delete\":true,\"purge_protection\":true,\"retention_days\":90}") ==
          AUD_ALLOWED);
    CHECK(send(e, "key.created", KB,
               "{\"version\":\"v1\",\"kty\":\"RSA\",\"size\":2048,"
               "\"exp\":\"2030-01-01T00:00:00Z\"}") == AUD_ALLOWED);
}

/* Tenant A's resource with an identity, on e's state. */
static void resource_a(pol_engine *e)
{
    CHECK(send(e, "resource.created", RA,
               "{\"kind\":\"Face\",\"tenant\":\"ta\",\"region\":\"westeurope\","
               "\"subscription\":\"sa\"}") == AUD_ALLOWED);
    CHECK(send(e, "resource.identity.enabled", RA, "{\"principal\":\"mi-a\",\"tenant\":\"ta\"}") ==
          AUD_ALLOWED);
}

/* The decision's rule ids, sorted, joined by spaces, into out. */
static void rules_of(const aud_decision *x, char *out, size_t n)
{
    const char *ids[64];
    size_t k = 0;
    for (size_t r = 0; r < x->nrecs; r++)
        for (size_t f = 0; f < x->recs[r].nf && k < 64; f++)
            ids[k++] = x->recs[r].f[f].rule;
    for (size_t i = 1; i < k; i++)
        for (size_t j = i; j > 0 && strcmp(ids[j - 1], ids[j]) > 0; j--) {
            const char *t = ids[j];
            ids[j] = ids[j - 1];
            ids[j - 1] = t;
        }
    out[0] = '\0';
    size_t len = 0;
    for (size_t i = 0; i < k && len < n; i++)
        len += (size_t)snprintf(out + len, n - len, "%s%s", i ? " " : "", ids[i]);
}

static void test_table(void)
{
    cm_err err;
    stm_catalog *c = stm_catalog_new();
    stm_catalog_ref self1 = {c, 1}, other = {c, 2};
    vlt_foreign f;
    const char *v1 =
        "{\"facts\":{\"name\":\"kvb\",\"purge_protection\":true,\"region\":\"westeurope\","
        "\"retention_days\":90,\"soft_delete\":true,\"subscription\":\"sb\",\"tenant\":"
        "\"tb\"},\"kind\":\"vault\",\"partition\":1,\"uri\":\"" VB "\"}";
    CHECK(stm_catalog_put(c, v1, strlen(v1), &err) == 0);
    CHECK(stm_catalog_len(c) == 1);
    CHECK(stm_catalog_foreign(&other, VB, false, &f));
    CHECK_STR(f.vault.tenant, "tb");
    CHECK_STR(f.vault.uri, VB);
    CHECK(f.vault.soft_delete && f.vault.purge_protection && f.vault.retention_days == 90);
    CHECK(!stm_catalog_foreign(&other, VB, true, &f));  /* not a key */
    CHECK(!stm_catalog_foreign(&self1, VB, false, &f)); /* its own partition's */
    CHECK(!stm_catalog_foreign(&other, "https://kvx.vault.azure.net", false, &f));
    /* the last write wins */
    const char *v2 =
        "{\"facts\":{\"name\":\"kvb\",\"purge_protection\":false,\"region\":\"westeurope\","
        "\"retention_days\":7,\"soft_delete\":true,\"subscription\":\"sb\",\"tenant\":"
        "\"tc\"},\"kind\":\"vault\",\"partition\":3,\"uri\":\"" VB "\"}";
    CHECK(stm_catalog_put(c, v2, strlen(v2), &err) == 0);
    CHECK(stm_catalog_foreign(&self1, VB, false, &f));
    CHECK_STR(f.vault.tenant, "tc");
    CHECK(!f.vault.purge_protection && f.vault.retention_days == 7);
    /* what is not a record changes nothing */
    const char *bad[] = {"",
                         "[]",
                         "{\"kind\":\"vault\",\"partition\":1,\"uri\":\"x\"}",
                         "{\"facts\":{},\"kind\":\"secret\",\"partition\":1,\"uri\":\"x\"}",
                         "{\"facts\":{},\"kind\":\"key\",\"partition\":\"1\",\"uri\":\"x\"}",
                         "{\"facts\":3,\"kind\":\"key\",\"partition\":1,\"uri\":\"x\"}"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CHECK(stm_catalog_put(c, bad[i], strlen(bad[i]), &err) == CM_EINPUT);
    CHECK(stm_catalog_len(c) == 1);
    /* gone */
    const char *g = "{\"facts\":null,\"kind\":\"vault\",\"partition\":3,\"uri\":\"" VB "\"}";
    CHECK(stm_catalog_put(c, g, strlen(g), &err) == 0);
    CHECK(stm_catalog_len(c) == 0);
    CHECK(!stm_catalog_foreign(&other, VB, false, &f));
    stm_catalog_free(c);
    stm_catalog_free(NULL);
}

/* A partition's batch gives one record per vault and key it changed, with their public
 * facts and no key material; the table reads them back as they were. */
static void test_records(void)
{
    cm_err err;
    pol_ruleset *empty = pol_ruleset_empty();
    vlt_state *st = vlt_state_open(NULL, NULL, &err);
    vlt_state_track(st, true);
    stm_outbox *ob = stm_outbox_open(st, &err);
    pol_engine *e = pol_engine_new(empty, st, 0);
    CHECK(ob != NULL);
    vault_b(e);
    resource_a(e);
    CHECK(stm_catalog_outbox(st, ob, "cmk.catalog", 5, &err) == 0);
    size_t n = 0;
    stm_outmsg *out = stm_outbox_take(ob, &n);
    CHECK(n == 2); /* the key and the vault; the resource is no catalog's */
    stm_catalog *c = stm_catalog_new();
    for (size_t i = 0; i < n; i++) {
        CHECK_STR(out[i].topic, "cmk.catalog");
        CHECK(out[i].partition == -1); /* by its key, the URI */
        CHECK(!out[i].chain);
        CHECK(out[i].key && (!strcmp(out[i].key, VB) || !strcmp(out[i].key, KB)));
        char *v = cm_strndup(out[i].value, out[i].len);
        CHECK(!strstr(v, "sealed") && !strstr(v, "BEGIN") && !strstr(v, "material"));
        CHECK(strstr(v, "\"partition\":5") != NULL);
        free(v);
        CHECK(stm_catalog_put(c, out[i].value, out[i].len, &err) == 0);
    }
    stm_outmsg_free(out, n);
    stm_catalog_ref ref = {c, 0};
    vlt_foreign f;
    CHECK(stm_catalog_foreign(&ref, KB, true, &f));
    CHECK_STR(f.key.kty, "RSA");
    CHECK(f.key.size == 2048 && !f.key.deleted);
    CHECK_STR(f.key.vault_uri, VB);
    CHECK(f.nvers == 1 && t_streq(f.vers[0].version, "v1") && f.vers[0].enabled);
    CHECK(f.vers[0].has_exp && !f.vers[0].has_nbf && f.vers[0].exp == 1893456000);
    CHECK(stm_catalog_foreign(&ref, VB, false, &f));
    CHECK_STR(f.vault.region, "westeurope");
    /* a batch that changes no vault or key gives none */
    vlt_state_changes_clear(st);
    CHECK(send(e, "resource.identity.disabled", RA, "{}") == AUD_ALLOWED);
    CHECK(stm_catalog_outbox(st, ob, "cmk.catalog", 5, &err) == 0);
    out = stm_outbox_take(ob, &n);
    CHECK(n == 0);
    stm_outmsg_free(out, n);
    /* a value for what the state does not hold says it is gone */
    cm_buf b;
    cm_buf_init(&b, 0);
    CHECK(stm_catalog_value(st, true, VB "/keys/nope", 5, &b) == 0);
    CHECK(b.len && strstr(b.p, "\"facts\":null") != NULL);
    cm_buf_free(&b);
    stm_catalog_free(c);
    pol_engine_free(e);
    vlt_state_free(st);
    pol_ruleset_free(empty);
}

/* Tenant A's resource bound to tenant B's key: on one state that holds both, on A's state
 * alone, and on A's state with the catalog of B's. */
static void test_foreign(void)
{
    cm_err err;
    const char *paths[] = {"rules"};
    pol_ruleset *rs = pol_ruleset_load(paths, 1, &err);
    CHECK(rs != NULL);
    if (!rs)
        return;
    const char *bind = "{\"key_uri\":\"" KB "\"}";
    char one[512], alone[512], cat[512];

    vlt_state *s1 = vlt_state_open(NULL, NULL, &err);
    pol_engine *e1 = pol_engine_new(rs, s1, 0);
    vault_b(e1);
    resource_a(e1);
    CHECK(send(e1, "resource.cmk.enabled", RA, bind) == AUD_DENIED);
    rules_of(&d, one, sizeof one);
    CHECK(strstr(one, "CMK-TENANT") != NULL);

    /* B's partition, and what it publishes */
    vlt_state *sb = vlt_state_open(NULL, NULL, &err);
    vlt_state_track(sb, true);
    stm_outbox *ob = stm_outbox_open(sb, &err);
    pol_engine *eb = pol_engine_new(rs, sb, 0);
    vault_b(eb);
    CHECK(stm_catalog_outbox(sb, ob, "cmk.catalog", 1, &err) == 0);
    size_t n = 0;
    stm_outmsg *out = stm_outbox_take(ob, &n);
    stm_catalog *c = stm_catalog_new();
    for (size_t i = 0; i < n; i++)
        CHECK(stm_catalog_put(c, out[i].value, out[i].len, &err) == 0);
    stm_outmsg_free(out, n);

    vlt_state *sa = vlt_state_open(NULL, NULL, &err);
    pol_engine *ea = pol_engine_new(rs, sa, 0);
    resource_a(ea);
    char *before = NULL;
    CHECK(send(ea, "resource.cmk.enabled", RA, bind) == AUD_DENIED);
    rules_of(&d, alone, sizeof alone);
    CHECK(strstr(alone, "CMK-KEY-MISSING") && !strstr(alone, "CMK-TENANT")); /* today */

    stm_catalog_ref ref = {c, 0};
    vlt_state_set_foreign(sa, stm_catalog_foreign, &ref);
    cm_buf b;
    cm_buf_init(&b, 0);
    vlt_state_show(sa, NULL, &b, &err);
    before = cm_buf_take(&b);
    CHECK(send(ea, "resource.cmk.enabled", RA, bind) == AUD_DENIED);
    rules_of(&d, cat, sizeof cat);
    CHECK_STR(cat, one); /* as one state decides it */
    CHECK(d.nrecs == 1 && d.recs[0].st.present && !d.recs[0].st.cmk);
    /* read-only: A's state holds no vault or key of B's, and is as it was */
    CHECK(!vlt_state_vault(sa, VB) && !vlt_state_key(sa, KB));
    cm_buf_init(&b, 0);
    vlt_state_show(sa, NULL, &b, &err);
    char *after = cm_buf_take(&b);
    CHECK_STR(before, after);
    free(before);
    free(after);

    /* A rule set that allows it: no key operation under a foreign key; decided as with
     * a key no state holds. */
    pol_ruleset *empty = pol_ruleset_empty();
    pol_engine_set_rules(ea, empty);
    enum aud_outcome with = send(ea, "resource.cmk.enabled", RA, bind);
    vlt_state_set_foreign(sa, NULL, NULL);
    enum aud_outcome without = send(ea, "resource.cmk.enabled", RA, bind);
    CHECK(with == without && with != AUD_ALLOWED);
    const vlt_res_view *rv;
    vlt_res_view rb;
    rv = vlt_res_view_of(vlt_state_resource(sa, RA), &rb);
    CHECK(rv && !rv->cmk && !rv->key_uri);
    CHECK(!vlt_state_vault(sa, VB) && !vlt_state_key(sa, KB));
    pol_engine_set_rules(ea, rs);

    stm_catalog_free(c);
    pol_engine_free(e1);
    pol_engine_free(eb);
    pol_engine_free(ea);
    vlt_state_free(s1);
    vlt_state_free(sb);
    vlt_state_free(sa);
    pol_ruleset_free(empty);
    pol_ruleset_free(rs);
}

/* A resource moved to another tenant leaves its partition's state and arrives, as it
 * was, in the new tenant's, once; an arrival that does not authenticate is refused. */
static void test_handover(void)
{
    cm_err err;
    cry_secret *master = cry_secret_random(32);
    pol_ruleset *empty = pol_ruleset_empty();
    vlt_state *sa = vlt_state_new_mem(master, &err), *sb = vlt_state_new_mem(master, &err);
    vlt_state_track(sa, true);
    vlt_state_set_handover(sa, true);
    stm_outbox *oa = stm_outbox_open(sa, &err);
    pol_engine *ea = pol_engine_new(empty, sa, 0), *eb = pol_engine_new(empty, sb, 0);
    const char *va = "https://kva.vault.azure.net";
    CHECK(send(ea, "vault.upserted", va,
               "{\"tenant\":\"ta\",\"region\":\"westeurope\",\"subscription\":\"sa\","
               "\"soft_delete\":true,\"purge_protection\":true}") == AUD_ALLOWED);
    CHECK(send(ea, "key.created", "https://kva.vault.azure.net/keys/k",
               "{\"version\":\"v1\",\"kty\":\"RSA\",\"size\":2048}") == AUD_ALLOWED);
    resource_a(ea);
    CHECK(send(ea, "vault.access.granted", va,
               "{\"principal\":\"mi-a\",\"permissions\":[\"get\",\"wrapKey\",\"unwrapKey\"]}") ==
          AUD_ALLOWED);
    CHECK(send(ea, "resource.cmk.enabled", RA,
               "{\"key_uri\":\"https://kva.vault.azure.net/keys/k\"}") == AUD_ALLOWED);
    /* within the tenant: it stays */
    CHECK(send(ea, "resource.moved", RA, "{\"tenant\":\"ta\",\"subscription\":\"s2\"}") ==
          AUD_ALLOWED);
    size_t n = 0;
    CHECK(stm_handover_outbox(sa, oa, "cmk.events", &err) == 0);
    stm_outmsg *out = stm_outbox_take(oa, &n);
    CHECK(n == 0 && vlt_state_resource(sa, RA));
    stm_outmsg_free(out, n);
    /* to tenant B: locked (F11), then handed over */
    CHECK(send(ea, "resource.moved", RA, "{\"tenant\":\"TB\",\"subscription\":\"sb\"}") ==
          AUD_ALLOWED);
    CHECK(d.nrecs == 1 && d.recs[0].st.locked && d.recs[0].st.cmk);
    char cause[64];
    snprintf(cause, sizeof cause, "c-%d#1", seq);
    vlt_state_changes_clear(sa);
    CHECK(stm_handover_outbox(sa, oa, "cmk.events", &err) == 0);
    out = stm_outbox_take(oa, &n);
    CHECK(n == 1);
    CHECK(!vlt_state_resource(sa, RA));
    if (n != 1)
        return;
    CHECK_STR(out[0].topic, "cmk.events");
    CHECK(out[0].partition == -1 && out[0].keylen == 2 && !memcmp(out[0].key, "tb", 2));
    char *ev = cm_strndup(out[0].value, out[0].len);
    CHECK(strstr(ev, "\"type\":\"cmkguard.resource.arrived\"") && strstr(ev, cause));
    CHECK(!strstr(ev, "\"dek\""));
    /* arrives in B's partition as it left */
    pol_engine_process(eb, ev, strlen(ev), "test", &d);
    CHECK(d.outcome == AUD_ALLOWED);
    CHECK_STR(d.cause, cause);
    vlt_res_view rb;
    const vlt_res_view *rv = vlt_res_view_of(vlt_state_resource(sb, RA), &rb);
    CHECK(rv && rv->cmk && rv->locked && t_streq(rv->tenant, "tb"));
    CHECK(rv && t_streq(rv->key_uri, "https://kva.vault.azure.net/keys/k"));
    CHECK(rv && !rv->identity);
    /* produced again (a crash before its delivery was known): the same event, once */
    pol_engine_process(eb, ev, strlen(ev), "test", &d);
    CHECK(d.outcome == AUD_DUPLICATE);
    /* altered: refused, nothing made */
    char *bad = cm_strndup(ev, strlen(ev));
    char *lk = strstr(bad, "c-");
    if (lk)
        lk[0] = 'x'; /* another id, so not a duplicate */
    char *st = strstr(bad, "locked\\\":true");
    CHECK(st != NULL);
    if (st)
        memcpy(st, "locked\\\":fals", 13);
    CHECK(send(eb, "resource.deleted", RA, "{}") == AUD_ALLOWED);
    pol_engine_process(eb, bad, strlen(bad), "test", &d);
    CHECK(d.outcome == AUD_REJECTED && !vlt_state_resource(sb, RA));
    free(bad);
    free(ev);
    stm_outmsg_free(out, n);
    pol_engine_free(ea);
    pol_engine_free(eb);
    vlt_state_free(sa);
    vlt_state_free(sb);
    pol_ruleset_free(empty);
    cry_secret_free(master);
}

int main(void)
{
    test_table();
    test_records();
    test_foreign();
    test_handover();
    aud_decision_clear(&d);
    T_DONE();
}
