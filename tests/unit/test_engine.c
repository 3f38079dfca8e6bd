/* The engine and the physics, driven through real events, real keys, in memory. */
#include <stdlib.h>

#include "policy/engine.h"
#include "tests/unit/t.h"
#include "vault/internal.h" /* white-box: the resource's own fields */

#define R(n) "/subscriptions/s/resourceGroups/g/providers/Microsoft.CognitiveServices/accounts/" n
#define V "https://kv1.vault.azure.net"
#define K V "/keys/k"

static pol_engine *eng;
static vlt_state *st;
static aud_decision d;
static int seq;

static enum aud_outcome send(const char *type, const char *subject, const char *data)
{
    char msg[2048];
    snprintf(msg, sizeof msg,
             "{\"specversion\":\"1.0\",\"id\":\"u-%d\",\"type\":\"%s\",\"subject\":\"%s\","
             "\"time\":\"2026-11-02T10:00:00Z\",\"data\":%s}",
             ++seq, type, subject, data);
    pol_engine_process(eng, msg, strlen(msg), "test", &d);
    return d.outcome;
}

static char *show(void)
{
    cm_buf b;
    cm_buf_init(&b, 0);
    cm_err err;
    vlt_state_show(st, NULL, &b, &err);
    return cm_buf_take(&b);
}

static const vlt_resource *res(const char *id)
{
    return vlt_state_resource(st, id);
}

static void setup(void)
{
    CHECK(send("vault.upserted", V,
               "{\"tenant\":\"t1\",\"region\":\"r\",\"subscription\":\"s\",\"soft_delete\":true,"
               "\"purge_protection\":true}") == AUD_ALLOWED);
    CHECK(send("key.created", K, "{\"version\":\"v1\",\"kty\":\"RSA\",\"size\":2048}") ==
          AUD_ALLOWED);
    const char *names[] = {R("b"), R("a"), R("c")};
    for (int i = 0; i < 3; i++) {
        CHECK(
            send("resource.created", names[i],
                 "{\"kind\":\"Face\",\"tenant\":\"t1\",\"region\":\"r\",\"subscription\":\"s\"}") ==
            AUD_ALLOWED);
        char data[200];
        snprintf(data, sizeof data, "{\"principal\":\"mi-%d\",\"tenant\":\"t1\"}", i);
        CHECK(send("resource.identity.enabled", names[i], data) == AUD_ALLOWED);
        snprintf(data, sizeof data,
                 "{\"principal\":\"mi-%d\",\"permissions\":[\"get\",\"wrapKey\",\"unwrapKey\"]}",
                 i);
        CHECK(send("vault.access.granted", V, data) == AUD_ALLOWED);
        CHECK(send("resource.cmk.enabled", names[i], "{\"key_uri\":\"" K "\"}") == AUD_ALLOWED);
        CHECK(d.recs[0].na == 1 && !strcmp(d.recs[0].a[0].op, "rewrap"));
    }
}

static void test_fanout_order(void)
{
    CHECK(send("key.rotated", K, "{\"version\":\"v2\"}") == AUD_ALLOWED);
    CHECK(d.nrecs == 4);
    CHECK(d.nrecs == 4 && !strcmp(d.recs[1].subject, R("a")) &&
          !strcmp(d.recs[2].subject, R("b")) && !strcmp(d.recs[3].subject, R("c")));
    CHECK(d.nrecs == 4 && d.recs[1].na == 1 && !strcmp(d.recs[1].a[0].to, K "/v2"));
    CHECK(cm_streq(res(R("a"))->wrap_ref, K "/v2"));
}

static void test_lock_wipes_dek(void)
{
    CHECK(res(R("a"))->dek_held); /* unlocked and just re-wrapped: the DEK is in memory */
    CHECK(send("key.disabled", K, "{}") == AUD_ALLOWED);
    CHECK(res(R("a"))->locked && !res(R("a"))->dek_held);
    CHECK(!memcmp(res(R("a"))->dek, (uint8_t[CRY_DEK_LEN]){0}, CRY_DEK_LEN)); /* wiped in place */
    CHECK(res(R("b"))->locked && res(R("c"))->locked);
    CHECK(send("key.enabled", K, "{}") == AUD_ALLOWED);
    CHECK(!res(R("a"))->locked && res(R("a"))->dek_held);
    CHECK(d.nrecs == 4 && !strcmp(d.recs[1].a[0].op, "unlock"));
}

static void test_access_scope(void)
{
    /* names[0] = b holds mi-0: revoking mi-0 locks b and only b */
    CHECK(send("vault.access.revoked", V, "{\"principal\":\"mi-0\"}") == AUD_ALLOWED);
    CHECK(d.nrecs == 2 && !strcmp(d.recs[1].subject, R("b")));
    CHECK(res(R("b"))->locked && !res(R("a"))->locked && !res(R("c"))->locked);
    CHECK(send("vault.access.granted", V,
               "{\"principal\":\"mi-0\",\"permissions\":[\"get\",\"wrapKey\",\"unwrapKey\"]}") ==
          AUD_ALLOWED);
    CHECK(!res(R("b"))->locked);
    /* a grant for a principal nobody uses changes nothing and fans out to no one */
    CHECK(send("vault.access.granted", V,
               "{\"principal\":\"stranger\",\"permissions\":[\"get\"]}") == AUD_ALLOWED);
    CHECK(d.nrecs == 1);
}

static void test_atomic(void)
{
    char *before = show();
    /* failed: a key version that does not exist cannot wrap; nothing changes */
    CHECK(send("resource.key.updated", R("a"), "{\"key_uri\":\"" K "/v9\"}") == AUD_FAILED);
    CHECK(d.recs[0].na == 1 && !d.recs[0].a[0].ok && d.recs[0].a[0].error);
    char *after = show();
    CHECK_STR(before, after);
    free(after);
    /* rejected: purge in a vault with purge protection */
    CHECK(send("key.deleted", K, "{}") == AUD_ALLOWED);
    CHECK(res(R("a"))->locked);
    CHECK(send("key.purged", K, "{}") == AUD_REJECTED);
    CHECK(strstr(d.reason, "purge protection") != NULL);
    CHECK(send("key.recovered", K, "{}") == AUD_ALLOWED);
    CHECK(!res(R("a"))->locked);
    after = show();
    CHECK_STR(before, after);
    free(after);
    free(before);
    /* duplicate: the same id again is not applied */
    char msg[512];
    snprintf(
        msg, sizeof msg,
        "{\"specversion\":\"1.0\",\"id\":\"u-1\",\"type\":\"resource.deleted\",\"subject\":\"%s\","
        "\"time\":\"2026-11-02T10:00:00Z\",\"data\":{}}",
        R("a"));
    pol_engine_process(eng, msg, strlen(msg), "test", &d);
    CHECK(d.outcome == AUD_DUPLICATE && res(R("a")) != NULL);
}

static void test_denied_is_atomic(void)
{
    cm_err err;
    const char *paths[] = {"rules"};
    pol_ruleset *rs = pol_ruleset_load(paths, 1, &err);
    CHECK(rs != NULL);
    if (!rs)
        return;
    pol_engine_set_rules(eng, rs);
    char *before = show();
    CHECK(send("vault.upserted", V,
               "{\"tenant\":\"t1\",\"region\":\"r\",\"subscription\":\"s\",\"soft_delete\":true,"
               "\"purge_protection\":false}") == AUD_DENIED);
    CHECK(d.nrecs == 1 && d.recs[0].nf >= 1 &&
          !strcmp(d.recs[0].f[0].rule, "VAULT-PROTECTION-OFF"));
    char *after = show();
    CHECK_STR(before, after);
    free(before);
    free(after);
    pol_engine_set_rules(eng, NULL);
    pol_ruleset_free(rs);
}

int main(void)
{
    cm_err err;
    pol_ruleset *empty = pol_ruleset_empty();
    st = vlt_state_open(NULL, NULL, &err);
    eng = pol_engine_new(empty, st, 0);
    setup();
    test_fanout_order();
    test_lock_wipes_dek();
    test_access_scope();
    test_atomic();
    test_denied_is_atomic();
    pol_engine_set_rules(eng, empty);
    aud_decision_clear(&d);
    pol_engine_free(eng);
    vlt_state_free(st);
    pol_ruleset_free(empty);
    T_DONE();
}
