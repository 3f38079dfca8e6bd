/* A cold rotation (no DEK in memory, as after a restart) of a key many resources use: the
 * workers unwrap and re-wrap, the resources settle in order. With any number of threads
 * it takes the same actions as one thread, every resource ends with its own DEK wrapped
 * under the new version, and a DEK that does not unwrap fails the rotation as it does on
 * one thread, leaving the state as it was. The resource whose DEK is damaged is picked
 * from the printed seed. The new version's key is made while the workers unwrap. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode/decode.h"
#include "tests/unit/t.h"
#include "tests/unit/t_seed.h"
#include "vault/internal.h" /* white-box: the resources' DEKs */
#include "vault/state.h"

#define V "https://kv1.vault.azure.net"
#define K V "/keys/k"
#define RPFX "/subscriptions/s/resourceGroups/g/providers/Microsoft.CognitiveServices/accounts/a"
#define N 80 /* over the 64 below which no worker starts */

static dec_decoder *dec;
static int seq;
static char reason[512];

/* What a rotation did: its code, its reason, and every resource's actions in order. */
struct outcome {
    int rc;
    char reason[512];
    char acts[8192 * 4];
};

static int apply(vlt_state *s, const char *type, const char *subject, const char *data,
                 struct outcome *o)
{
    char msg[2048];
    snprintf(msg, sizeof msg,
             "{\"specversion\":\"1.0\",\"id\":\"r-%d\",\"source\":\"test\",\"type\":\"%s\","
             "\"subject\":\"%s\",\"time\":\"2026-11-02T10:00:00Z\",\"data\":%s}",
             ++seq, type, subject, data);
    vlt_event ev;
    if (dec_decode(dec, msg, strlen(msg), &ev, reason, sizeof reason) < 0)
        return -9;
    reason[0] = '\0';
    vlt_txn *t = vlt_txn_begin(s);
    int rc = vlt_txn_apply(t, &ev, reason, sizeof reason);
    if (rc == 0)
        rc = vlt_txn_settle(t, reason, sizeof reason);
    if (o) {
        o->rc = rc;
        snprintf(o->reason, sizeof o->reason, "%s", reason);
        o->acts[0] = '\0';
        size_t len = 0;
        for (int i = 0; i < N; i++) {
            char rid[256];
            snprintf(rid, sizeof rid, RPFX "%02d", i);
            size_t n;
            const vlt_action *a = vlt_txn_actions(t, rid, &n);
            for (size_t k = 0; k < n && len < sizeof o->acts; k++)
                len += (size_t)snprintf(o->acts + len, sizeof o->acts - len, "%d %s %s>%s %s\n", i,
                                        a[k].op, a[k].from ? a[k].from : "", a[k].to ? a[k].to : "",
                                        a[k].error ? a[k].error : "");
        }
    }
    if (rc < 0) {
        vlt_txn_abort(t);
        return rc;
    }
    vlt_txn_commit(t);
    return 0;
}

/* N resources bound to K (versionless) under v1; their DEKs copied into deks, then
 * dropped from memory as a restart would. */
static vlt_state *estate(uint8_t deks[N][CRY_DEK_LEN])
{
    cm_err err;
    vlt_state *s = vlt_state_open(NULL, NULL, &err);
    CHECK(s != NULL);
    if (!s)
        return NULL;
    CHECK(apply(s, "vault.upserted", V,
                "{\"tenant\":\"t1\",\"region\":\"we\",\"subscription\":\"s\","
                "\"soft_delete\":true,\"purge_protection\":true}",
                NULL) == 0);
    CHECK(apply(s, "key.created", K, "{\"version\":\"v1\",\"kty\":\"RSA\",\"size\":2048}", NULL) ==
          0);
    for (int i = 0; i < N; i++) {
        char rid[256], data[256];
        snprintf(rid, sizeof rid, RPFX "%02d", i);
        CHECK(
            apply(s, "resource.created", rid,
                  "{\"kind\":\"Face\",\"tenant\":\"t1\",\"region\":\"we\",\"subscription\":\"s\"}",
                  NULL) == 0);
        snprintf(data, sizeof data, "{\"principal\":\"mi-%d\",\"tenant\":\"t1\"}", i);
        CHECK(apply(s, "resource.identity.enabled", rid, data, NULL) == 0);
        snprintf(data, sizeof data,
                 "{\"principal\":\"mi-%d\",\"permissions\":[\"get\",\"wrapKey\",\"unwrapKey\"]}",
                 i);
        CHECK(apply(s, "vault.access.granted", V, data, NULL) == 0);
        CHECK(apply(s, "resource.cmk.enabled", rid, "{\"key_uri\":\"" K "\"}", NULL) == 0);
        vlt_resource *r = (vlt_resource *)vlt_state_resource(s, rid);
        CHECK(r && r->dek_held && cm_streq(r->wrap_ref, K "/v1"));
        if (!r || !r->dek_held)
            continue;
        memcpy(deks[i], r->dek, CRY_DEK_LEN);
        vlt_res_set_dek(r, NULL);
        CHECK(!r->dek_held && !memcmp(r->dek, (uint8_t[CRY_DEK_LEN]){0}, CRY_DEK_LEN)); /* wiped */
    }
    return s;
}

/* Rotates K to v2 on `threads` threads, the DEK of resource `damaged` (or -1) damaged
 * first; checks what every resource holds after it. */
static void rotate(const char *threads, int damaged, struct outcome *o)
{
    static uint8_t deks[N][CRY_DEK_LEN];
    setenv("CMKGUARD_THREADS", threads, 1);
    vlt_state *s = estate(deks);
    if (!s)
        return;
    if (damaged >= 0) {
        char rid[256];
        snprintf(rid, sizeof rid, RPFX "%02d", damaged);
        vlt_resource *r = (vlt_resource *)vlt_state_resource(s, rid);
        cm_buf w = vlt_wdek_view(&r->wdek);
        w.p[w.len / 2] ^= 0x5a;
    }
    apply(s, "key.rotated", K, "{\"version\":\"v2\"}", o);
    vlt_key_lookup look = vlt_key_lookup_committed(s);
    int moved = 0, own = 0, cold = 0;
    for (int i = 0; i < N; i++) {
        char rid[256], err[256];
        snprintf(rid, sizeof rid, RPFX "%02d", i);
        const vlt_resource *r = vlt_state_resource(s, rid);
        moved += cm_streq(r->wrap_ref, K "/v2");
        cold += !r->dek_held;
        cry_secret *dek = NULL;
        cm_buf w = vlt_wdek_view(&r->wdek);
        if (vlt_unwrap(s, &look, r->wrap_ref, &w, &dek, err, sizeof err) == 0 &&
            dek->len == CRY_DEK_LEN && !memcmp(dek->b, deks[i], CRY_DEK_LEN) &&
            (!r->dek_held || !memcmp(r->dek, deks[i], CRY_DEK_LEN)))
            own++;
        cry_secret_free(dek);
    }
    if (damaged < 0) {
        CHECK(o->rc == 0 && moved == N && cold == 0);
        CHECK(own == N); /* each its own DEK: results went to the resource they came from */
    } else {
        CHECK(o->rc < 0 && moved == 0 && cold == N); /* as it was */
        CHECK(own == N - 1);
    }
    vlt_state_free(s);
}

/* On several threads a rotation's new version is made while settling: unmade once the
 * event is applied, made by vlt_txn_ready (which a caller that denies the event calls) or
 * by settling, never committed unmade; on one thread it is made when applied. */
static void made_later(void)
{
    static uint8_t deks[N][CRY_DEK_LEN];
    setenv("CMKGUARD_THREADS", "2", 1);
    vlt_state *s = estate(deks);
    if (!s)
        return;
    const char *msg = "{\"specversion\":\"1.0\",\"id\":\"later\",\"source\":\"test\","
                      "\"type\":\"key.rotated\",\"subject\":\"" K "\","
                      "\"time\":\"2026-11-02T10:00:00Z\",\"data\":{\"version\":\"v2\"}}";
    vlt_event ev;
    CHECK(dec_decode(dec, msg, strlen(msg), &ev, reason, sizeof reason) == 0);
    vlt_txn *t = vlt_txn_begin(s);
    CHECK(vlt_txn_apply(t, &ev, reason, sizeof reason) == 0);
    const vlt_key *k = vlt_txn_key(t, K, false);
    const vlt_keyver *kv = vlt_key_version(k, "v2");
    CHECK(kv && kv->unmade && !kv->sealed.len && !kv->pk);
    CHECK(vlt_txn_ready(t, reason, sizeof reason) == 0);
    CHECK(kv && !kv->unmade && kv->sealed.len > 0 && kv->pk);
    vlt_txn_abort(t); /* denied: nothing of it stays */
    CHECK(vlt_key_nversions(vlt_state_key(s, K)) == 1);
    struct outcome o;
    CHECK(apply(s, "key.rotated", K, "{\"version\":\"v2\"}", &o) == 0);
    kv = vlt_key_version(vlt_state_key(s, K), "v2");
    CHECK(kv && !kv->unmade && kv->sealed.len > 0);
    setenv("CMKGUARD_THREADS", "1", 1);
    t = vlt_txn_begin(s);
    CHECK(dec_decode(dec, msg, strlen(msg), &ev, reason, sizeof reason) == 0);
    ev.version = "v3";
    CHECK(vlt_txn_apply(t, &ev, reason, sizeof reason) == 0);
    kv = vlt_key_version(vlt_txn_key(t, K, false), "v3");
    CHECK(kv && !kv->unmade && kv->sealed.len > 0);
    vlt_txn_abort(t);
    vlt_state_free(s);
}

int main(void)
{
    dec = dec_decoder_new(DEC_MAX_MESSAGE_DEFAULT);
    t_seed();
    int damaged = (int)(t_rand() % N);
    printf("damaged DEK: resource %d\n", damaged);
    static struct outcome one, many;
    rotate("1", -1, &one);
    CHECK(one.rc == 0 && strstr(one.acts, "rewrap " K "/v1>" K "/v2") != NULL);
    const char *const counts[] = {"2", "3", "8"};
    for (size_t c = 0; c < CM_ARRAY_LEN(counts); c++) {
        rotate(counts[c], -1, &many);
        CHECK(many.rc == one.rc && t_streq(many.acts, one.acts));
    }
    rotate("1", damaged, &one);
    CHECK(one.rc < 0 && strstr(one.reason, "rewrap of " RPFX) != NULL);
    for (size_t c = 0; c < CM_ARRAY_LEN(counts); c++) {
        rotate(counts[c], damaged, &many);
        CHECK(many.rc == one.rc && t_streq(many.reason, one.reason));
        CHECK(t_streq(many.acts, one.acts));
    }
    made_later();
    unsetenv("CMKGUARD_THREADS");
    dec_decoder_free(dec);
    T_DONE();
}
