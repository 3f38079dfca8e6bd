/* The vault on its own: events applied through transactions, with no rules and no engine.
 * Wrapping on creation and on binding, rotation, lockout and unlock by access, a destroyed
 * key shredding its data key, and data at rest refused while locked or lost. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "decode/decode.h"
#include "tests/unit/t.h"
#include "vault/delta.h"
#include "vault/internal.h" /* white-box: the resource's own fields */
#include "vault/state.h"

#define R(n) "/subscriptions/s/resourceGroups/g/providers/Microsoft.CognitiveServices/accounts/" n
#define V "https://kv1.vault.azure.net"
#define K V "/keys/k"
#define V2 "https://kv2.vault.azure.net"
#define K2 V2 "/keys/k2"
#define ALL "[\"get\",\"wrapKey\",\"unwrapKey\"]"

static dec_decoder *dec;
static int seq;
static char reason[512];
/* The actions the last event took on the watched resource, as "op:from>to". */
static char acts[8][1400];
static size_t nacts;

static bool hold; /* commit, but leave the flush to the test */

/* Applies one event to s in its own transaction, settles, commits and (unless hold)
 * flushes it; the actions on rid are kept in acts. 0, or the code of the step that
 * failed (the transaction then aborted, with reason). */
static int apply_ev(vlt_state *s, const vlt_event *ev, const char *rid)
{
    nacts = 0;
    reason[0] = '\0';
    vlt_txn *t = vlt_txn_begin(s);
    int rc = vlt_txn_apply(t, ev, reason, sizeof reason);
    if (rc < 0) {
        vlt_txn_abort(t);
        return rc;
    }
    rc = vlt_txn_settle(t, reason, sizeof reason);
    size_t n = 0;
    const vlt_action *a = rid ? vlt_txn_actions(t, rid, &n) : NULL;
    for (size_t i = 0; i < n && nacts < CM_ARRAY_LEN(acts); i++)
        snprintf(acts[nacts++], sizeof acts[0], "%s:%s>%s", a[i].op, a[i].from ? a[i].from : "",
                 a[i].to ? a[i].to : "");
    if (rc < 0) {
        vlt_txn_abort(t);
        return rc;
    }
    vlt_txn_commit(t);
    cm_err err;
    return hold ? 0 : vlt_state_flush(s, &err);
}

/* The same for an event given as CloudEvents JSON, decoded first (-9 when it does not
 * decode). */
static int apply(vlt_state *s, const char *type, const char *subject, const char *data,
                 const char *rid)
{
    char msg[2048];
    snprintf(msg, sizeof msg,
             "{\"specversion\":\"1.0\",\"id\":\"u-%d\",\"source\":\"test\",\"type\":\"%s\","
             "\"subject\":\"%s\",\"time\":\"2026-11-02T10:00:00Z\",\"data\":%s}",
             ++seq, type, subject, data);
    vlt_event ev;
    if (dec_decode(dec, msg, strlen(msg), &ev, reason, sizeof reason) < 0) {
        fprintf(stderr, "  decode %s: %s\n", type, reason);
        return -9;
    }
    return apply_ev(s, &ev, rid);
}

static bool reasons_are(const vlt_resource *r, const char *want)
{
    char got[512];
    cm_join(got, sizeof got, ",", (const char *const *)r->reasons, r->nreasons);
    if (strcmp(got, want) != 0)
        fprintf(stderr, "  lock reasons: got '%s', want '%s'\n", got, want);
    return !strcmp(got, want);
}

/* A vault and a key, and resource a created on MMK and bound to the key (versionless). */
static void setup(vlt_state *s)
{
    /* the vault as a struct, no decoder involved */
    vlt_event ev = {.type = VLT_EV_VAULT_UPSERTED,
                    .type_name = "vault.upserted",
                    .id = "v-1",
                    .source = "test",
                    .subject = V,
                    .time = "2026-11-01T09:00:00Z",
                    .tenant = "t1",
                    .region = "westeurope",
                    .subscription = "s",
                    .soft_delete = true,
                    .purge_protection = true,
                    .has = 1u << VLT_F_TENANT | 1u << VLT_F_REGION | 1u << VLT_F_SUBSCRIPTION |
                           1u << VLT_F_SOFT_DELETE | 1u << VLT_F_PURGE_PROTECTION};
    CHECK(apply_ev(s, &ev, NULL) == 0);
    const vlt_vault *v = vlt_state_vault(s, V);
    CHECK(v && v->soft_delete && v->purge_protection && v->retention_days == 90);
    CHECK(v && cm_streq(v->tenant, "t1") && cm_streq(v->name, "kv1"));
    CHECK(apply(s, "key.created", K, "{\"version\":\"v1\",\"kty\":\"RSA\",\"size\":2048}", NULL) ==
          0);
    const vlt_key *k = vlt_state_key(s, K);
    CHECK(k && k->nvers == 1 && !k->deleted && cm_streq(k->vers[0].version, "v1"));
    CHECK(apply(s, "resource.created", R("a"),
                "{\"kind\":\"Face\",\"tenant\":\"t1\",\"region\":\"westeurope\","
                "\"subscription\":\"s\"}",
                R("a")) == 0);
    CHECK(nacts == 1 && t_streq(acts[0], "wrap:>mmk"));
    const vlt_resource *r = vlt_state_resource(s, R("a"));
    CHECK(r && !r->cmk && cm_streq(r->wrap_ref, "mmk") && r->wdek.len > 0 && !r->locked);
    CHECK(apply(s, "resource.identity.enabled", R("a"),
                "{\"principal\":\"mi-a\",\"tenant\":\"t1\"}", NULL) == 0);
    CHECK(apply(s, "vault.access.granted", V, "{\"principal\":\"mi-a\",\"permissions\":" ALL "}",
                NULL) == 0);
    /* binding to the key wraps the data key under its latest version */
    CHECK(apply(s, "resource.cmk.enabled", R("a"), "{\"key_uri\":\"" K "\"}", R("a")) == 0);
    CHECK(nacts == 1 && t_streq(acts[0], "rewrap:mmk>" K "/v1"));
    r = vlt_state_resource(s, R("a"));
    CHECK(r && r->cmk && r->versionless && cm_streq(r->key_uri, K));
    CHECK(r && cm_streq(r->wrap_ref, K "/v1") && !r->locked && r->nreasons == 0);
}

static void test_physics(void)
{
    cm_err err;
    vlt_state *s = vlt_state_open(NULL, NULL, &err);
    CHECK(s != NULL);
    if (!s)
        return;
    setup(s);
    const vlt_resource *r;
    /* a rotation re-wraps a versionless binding under the new version */
    CHECK(apply(s, "key.rotated", K, "{\"version\":\"v2\"}", R("a")) == 0);
    CHECK(nacts == 1 && t_streq(acts[0], "rewrap:" K "/v1>" K "/v2"));
    r = vlt_state_resource(s, R("a"));
    CHECK(r && cm_streq(r->wrap_ref, K "/v2") && vlt_state_key(s, K)->nvers == 2);
    /* revoking the identity's access locks it, with the reason */
    CHECK(apply(s, "vault.access.revoked", V, "{\"principal\":\"mi-a\"}", R("a")) == 0);
    CHECK(nacts == 1 && !strncmp(acts[0], "lockout:", 8));
    r = vlt_state_resource(s, R("a"));
    CHECK(r && r->locked && !r->lost && !r->dek_held);
    CHECK(r && reasons_are(r, "access-missing:get,wrapKey,unwrapKey"));
    /* a partial grant narrows the reason; a full one unlocks */
    CHECK(apply(s, "vault.access.granted", V, "{\"principal\":\"mi-a\",\"permissions\":[\"get\"]}",
                R("a")) == 0);
    r = vlt_state_resource(s, R("a"));
    CHECK(r && r->locked && reasons_are(r, "access-missing:wrapKey,unwrapKey"));
    CHECK(apply(s, "vault.access.granted", V, "{\"principal\":\"mi-a\",\"permissions\":" ALL "}",
                R("a")) == 0);
    CHECK(nacts == 1 && !strncmp(acts[0], "unlock:", 7));
    r = vlt_state_resource(s, R("a"));
    CHECK(r && !r->locked && r->nreasons == 0);
    /* a disabled key locks for its own reason */
    CHECK(apply(s, "key.disabled", K, "{}", R("a")) == 0);
    r = vlt_state_resource(s, R("a"));
    CHECK(r && r->locked && reasons_are(r, "key-disabled"));
    CHECK(apply(s, "key.enabled", K, "{}", R("a")) == 0);
    CHECK(!vlt_state_resource(s, R("a"))->locked);
    /* soft delete locks but keeps the data key; purge protection refuses the purge */
    CHECK(apply(s, "key.deleted", K, "{}", R("a")) == 0);
    r = vlt_state_resource(s, R("a"));
    CHECK(r && r->locked && !r->lost && reasons_are(r, "key-deleted") && r->wdek.len > 0);
    CHECK(apply(s, "key.purged", K, "{}", R("a")) == CM_EINPUT);
    CHECK(strstr(reason, "purge protection") != NULL);
    CHECK(apply(s, "key.recovered", K, "{}", R("a")) == 0);
    CHECK(!vlt_state_resource(s, R("a"))->locked);

    /* an aborted transaction leaves nothing behind; prior and proposed views differ */
    vlt_event ev;
    char msg[512];
    snprintf(msg, sizeof msg,
             "{\"specversion\":\"1.0\",\"id\":\"x\",\"source\":\"test\",\"type\":\"key.disabled\","
             "\"subject\":\"%s\",\"time\":\"2026-11-02T10:00:00Z\",\"data\":{}}",
             K);
    CHECK(dec_decode(dec, msg, strlen(msg), &ev, reason, sizeof reason) == 0);
    vlt_txn *t = vlt_txn_begin(s);
    CHECK(vlt_txn_apply(t, &ev, reason, sizeof reason) == 0);
    CHECK(vlt_txn_settle(t, reason, sizeof reason) == 0);
    CHECK(vlt_txn_resource(t, R("a"), false)->locked);
    CHECK(!vlt_txn_resource(t, R("a"), true)->locked);
    CHECK(vlt_txn_changed(t, R("a")));
    CHECK(vlt_txn_bound_count(t, V, NULL) == 1 && vlt_txn_bound_count(t, NULL, K) == 1);
    vlt_txn_abort(t);
    CHECK(!vlt_state_resource(s, R("a"))->locked);

    /* without soft delete, deleting the key destroys it: the data key is shredded */
    CHECK(apply(s, "vault.upserted", V2,
                "{\"tenant\":\"t1\",\"region\":\"westeurope\",\"subscription\":\"s\","
                "\"soft_delete\":false,\"purge_protection\":false}",
                NULL) == 0);
    CHECK(apply(s, "key.created", K2, "{\"version\":\"w1\",\"kty\":\"RSA\",\"size\":2048}", NULL) ==
          0);
    CHECK(apply(s, "vault.access.granted", V2, "{\"principal\":\"mi-a\",\"permissions\":" ALL "}",
                NULL) == 0);
    CHECK(apply(s, "resource.key.updated", R("a"), "{\"key_uri\":\"" K2 "/w1\"}", R("a")) == 0);
    CHECK(nacts == 1 && t_streq(acts[0], "rewrap:" K "/v2>" K2 "/w1"));
    r = vlt_state_resource(s, R("a"));
    CHECK(r && !r->versionless && cm_streq(r->wrap_ref, K2 "/w1") && !r->locked);
    CHECK(apply(s, "key.deleted", K2, "{}", R("a")) == 0);
    CHECK(vlt_state_key(s, K2) == NULL);
    CHECK(nacts >= 1 && t_streq(acts[0], "shred:" K2 "/w1>"));
    r = vlt_state_resource(s, R("a"));
    CHECK(r && r->lost && r->locked && r->wdek.len == 0 && !r->dek_held);
    CHECK(r && reasons_are(r, "key-destroyed"));
    /* lost stays lost: a new key of that name brings nothing back */
    CHECK(apply(s, "key.created", K2, "{\"version\":\"w2\",\"kty\":\"RSA\",\"size\":2048}", NULL) ==
          0);
    CHECK(vlt_state_resource(s, R("a"))->lost);
    /* data at rest needs a store */
    CHECK(vlt_data_put(s, R("a"), VLT_CLASS_DATA, "x", 1, &err) == CM_EINPUT);
    CHECK_STR(err.msg, "data needs a state store (--state)");
    vlt_state_free(s);
    vlt_state_free(NULL);
}

static int count_acl(void *arg, const vlt_entry *e)
{
    *(int *)arg += e->kind == VLT_E_ACL;
    return 0;
}

/* The access policies a commit writes: those it changed, not those granted again. */
static int acl_changes(vlt_state *s)
{
    cm_err err;
    int n = 0;
    return vlt_state_changes(s, count_acl, &n, &err) < 0 ? -1 : n;
}

/* Data at rest in a state file: sealed under the resource's data key, read back while
 * usable, refused while locked or lost. */
static void test_data(void)
{
    char dir[] = "/tmp/cmkguard-unit-vault.XXXXXX", db[128], mk[128];
    CHECK(t_state_paths(dir, db, sizeof db, mk, sizeof mk) == 0);
    cm_err err;
    vlt_state *s = vlt_state_open(db, mk, &err);
    CHECK(s != NULL);
    if (!s) {
        fprintf(stderr, "  %s: %s\n", err.where, err.msg);
        return;
    }
    setup(s);
    static const char secret[] = "customer data";
    cm_buf out;
    cm_buf_init_secret(&out, 0);
    CHECK(vlt_data_put(s, R("a"), VLT_CLASS_DATA, secret, sizeof secret - 1, &err) == 0);
    CHECK(vlt_data_get(s, R("a"), VLT_CLASS_DATA, false, &out, &err) == 0);
    CHECK(out.len == sizeof secret - 1 && !memcmp(out.p, secret, out.len));
    cm_buf_reset(&out);
    CHECK(vlt_data_get(s, R("a"), VLT_CLASS_DATA, true, &out, &err) == 0);
    CHECK(out.len > sizeof secret - 1 && !memmem(out.p, out.len, secret, sizeof secret - 1));
    cm_buf_reset(&out);
    CHECK(vlt_data_put(s, R("zz"), VLT_CLASS_DATA, "x", 1, &err) == CM_EREFUSED);
    CHECK_STR(err.msg, "no such resource");

    /* locked: neither put nor get, and the error says why */
    CHECK(apply(s, "vault.access.revoked", V, "{\"principal\":\"mi-a\"}", R("a")) == 0);
    CHECK(vlt_data_put(s, R("a"), VLT_CLASS_DATA, "x", 1, &err) == CM_EREFUSED);
    CHECK_STR(err.msg, "locked: data access refused (access-missing:get,wrapKey,unwrapKey)");
    CHECK(vlt_data_get(s, R("a"), VLT_CLASS_DATA, false, &out, &err) == CM_EREFUSED);
    CHECK(out.len == 0);
    /* unlocked again: the same bytes come back */
    CHECK(apply(s, "vault.access.granted", V, "{\"principal\":\"mi-a\",\"permissions\":" ALL "}",
                NULL) == 0);
    CHECK(vlt_data_get(s, R("a"), VLT_CLASS_DATA, false, &out, &err) == 0);
    CHECK(out.len == sizeof secret - 1 && !memcmp(out.p, secret, out.len));
    cm_buf_reset(&out);
    /* the state file carries it across a reopen */
    vlt_state_free(s);
    s = vlt_state_open(db, mk, &err);
    CHECK(s != NULL);
    if (!s)
        goto out;
    CHECK(vlt_data_get(s, R("a"), VLT_CLASS_DATA, false, &out, &err) == 0);
    CHECK(out.len == sizeof secret - 1 && !memcmp(out.p, secret, out.len));
    cm_buf_reset(&out);
    /* a grant of what the identity holds changes no access policy; a new one does */
    hold = true;
    CHECK(acl_changes(s) == 0);
    CHECK(apply(s, "vault.access.granted", V, "{\"principal\":\"mi-a\",\"permissions\":" ALL "}",
                NULL) == 0);
    CHECK(acl_changes(s) == 0);
    CHECK(apply(s, "vault.access.revoked", V, "{\"principal\":\"mi-b\"}", NULL) == 0);
    CHECK(acl_changes(s) == 0);
    CHECK(apply(s, "vault.access.granted", V, "{\"principal\":\"mi-b\",\"permissions\":[\"get\"]}",
                NULL) == 0);
    CHECK(acl_changes(s) == 1);
    CHECK(vlt_state_flush(s, &err) == 0 && acl_changes(s) == 0);
    hold = false;
    /* a vault without soft delete: deleting its key shreds, and the data is lost */
    CHECK(apply(s, "vault.upserted", V,
                "{\"tenant\":\"t1\",\"region\":\"westeurope\",\"subscription\":\"s\","
                "\"soft_delete\":false,\"purge_protection\":false}",
                NULL) == 0);
    CHECK(apply(s, "key.deleted", K, "{}", R("a")) == 0);
    CHECK(nacts >= 1 && !strncmp(acts[0], "shred:", 6));
    CHECK(vlt_data_get(s, R("a"), VLT_CLASS_DATA, false, &out, &err) == CM_EREFUSED);
    CHECK(!strncmp(err.msg, "lost: data access refused (key-destroyed", 40));
    vlt_state_free(s);
out:
    cm_buf_free(&out);
    CHECK(t_rm_state(dir, db, mk) == 0);
}

/* Any spelling of a resource id finds the spelling first seen while the resource lives
 * (SPEC §2a), through growth of the index and removals from the middle of its runs. */
static void test_spellings(void)
{
    enum { N = 700 };
    cm_err err;
    vlt_state *s = vlt_state_open(NULL, NULL, &err);
    char id[256], up[256], low[256];
    int bad = 0;
    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof id, R("Acct-%d"), i);
        bad += apply(s, "resource.created", id,
                     "{\"kind\":\"Face\",\"tenant\":\"t1\",\"region\":\"westeurope\","
                     "\"subscription\":\"s\"}",
                     NULL) != 0;
    }
    CHECK(bad == 0);
    for (int i = 0; i < N; i += 3) {
        snprintf(id, sizeof id, R("Acct-%d"), i);
        bad += apply(s, "resource.deleted", id, "{}", NULL) != 0;
    }
    CHECK(bad == 0);
    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof id, R("Acct-%d"), i);
        snprintf(up, sizeof up,
                 "/SUBSCRIPTIONS/S/RESOURCEGROUPS/G/PROVIDERS/"
                 "MICROSOFT.COGNITIVESERVICES/ACCOUNTS/ACCT-%d",
                 i);
        snprintf(low, sizeof low,
                 "/subscriptions/s/resourcegroups/g/providers/"
                 "microsoft.cognitiveservices/accounts/acct-%d",
                 i);
        const char *a = vlt_state_resource_spelling(s, up),
                   *b = vlt_state_resource_spelling(s, low);
        if (i % 3 == 0)
            bad += a != NULL || b != NULL || vlt_state_resource(s, low) != NULL;
        else
            bad += !t_streq(a, id) || !t_streq(b, id) || vlt_state_resource(s, up) == NULL;
    }
    CHECK(bad == 0);
    /* a resource created again under another spelling is found under that one */
    CHECK(apply(s, "resource.created", R("ACCT-0"),
                "{\"kind\":\"Face\",\"tenant\":\"t1\",\"region\":\"westeurope\","
                "\"subscription\":\"s\"}",
                NULL) == 0);
    CHECK_STR(vlt_state_resource_spelling(s, R("acct-0")), R("ACCT-0"));
    CHECK(vlt_state_resource_spelling(s, R("acct-100000")) == NULL);
    vlt_state_free(s);
}

/* The wrapped DEK and the plaintext DEK held in the resource: an MMK wrap in place, a
 * longer wrap in a block of its own, each copy a clone's own, every byte wiped when
 * it goes. */
static void test_keys_in_place(void)
{
    uint8_t small[VLT_KW_LEN], big[256], zero[256] = {0};
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)(i * 7 + 1);
    memcpy(small, big, sizeof small);
    vlt_resource *r = calloc(1, sizeof *r);
    CHECK(sizeof *r <= 248);
    cm_buf w = vlt_wdek_view(&r->wdek);
    CHECK(w.len == 0 && r->wdek.len == 0);
    vlt_wdek_set(&r->wdek, small, sizeof small);
    w = vlt_wdek_view(&r->wdek);
    CHECK(w.len == sizeof small && !memcmp(w.p, small, sizeof small) && (void *)w.p == r->wdek.in);
    vlt_wdek_set(&r->wdek, big, sizeof big);
    w = vlt_wdek_view(&r->wdek);
    CHECK(r->wdek.len == VLT_WDEK_BIG && w.len == sizeof big && !memcmp(w.p, big, sizeof big));
    vlt_res_set_dek(r, cry_secret_dup(big, CRY_DEK_LEN));
    CHECK(r->dek_held && !memcmp(r->dek, big, CRY_DEK_LEN));
    vlt_resource *c = vlt_res_clone(r);
    cm_buf cw = vlt_wdek_view(&c->wdek);
    CHECK(cw.p != w.p && cw.len == sizeof big && !memcmp(cw.p, big, sizeof big));
    cry_secret *d = vlt_res_dek(c);
    CHECK(d && d->len == CRY_DEK_LEN && !memcmp(d->b, big, CRY_DEK_LEN));
    cry_secret_free(d);
    vlt_res_set_dek(c, cry_secret_dup(big, 16)); /* not a DEK's length: not held */
    CHECK(!c->dek_held && !memcmp(c->dek, zero, CRY_DEK_LEN) && vlt_res_dek(c) == NULL);
    vlt_wdek_clear(&c->wdek);
    CHECK(c->wdek.len == 0 && !memcmp(c->wdek.in, zero, sizeof c->wdek.in));
    w = vlt_wdek_view(&r->wdek); /* the original's is untouched */
    CHECK(w.len == sizeof big && !memcmp(w.p, big, sizeof big));
    vlt_res_free(c);
    vlt_wdek_set(&r->wdek, NULL, 0); /* a shredded DEK loaded from its document: none */
    CHECK(r->wdek.len == 0 && vlt_wdek_view(&r->wdek).len == 0);
    vlt_res_set_dek(r, NULL);
    CHECK(!r->dek_held && !memcmp(r->dek, zero, CRY_DEK_LEN));
    vlt_res_free(r);
}

int main(void)
{
    test_keys_in_place();
    dec = dec_decoder_new(DEC_MAX_MESSAGE_DEFAULT);
    test_spellings();
    test_physics();
    test_data();
    dec_decoder_free(dec);
    T_DONE();
}
