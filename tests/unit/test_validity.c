/* Key validity (SPEC §2, §3): RFC 3339 instants, the decoder's nbf/exp and the
 * key.expiring / key.expired events. */
#include <stdlib.h>
#include <unistd.h>

#include "common/timestamp.h"
#include "decode/decode.h"
#include "policy/engine.h"
#include "policy/internal.h"
#include "tests/unit/t.h"
#include "vault/internal.h" /* white-box: the resource's own fields */

static dec_decoder *d;
static char reason[512];

static int dec(const char *s, vlt_event *ev)
{
    return dec_decode(d, s, strlen(s), ev, reason, sizeof reason);
}

#define HDR "{\"specversion\":\"1.0\",\"id\":\"e1\",\"time\":\"2026-11-22T10:00:00Z\","
#define KEY "\"subject\":\"https://kv1.vault.azure.net/keys/k\","

static bool ts(const char *s, int64_t *t)
{
    return cm_ts_parse(s, strlen(s), t);
}

static void test_timestamps(void)
{
    int64_t t = -1;
    char out[CM_TS_SIZE];
    CHECK(ts("1970-01-01T00:00:00Z", &t) && t == 0);
    CHECK(ts("2026-11-22T10:00:00Z", &t) && t == 1795341600);
    cm_ts_format(t, out);
    CHECK_STR(out, "2026-11-22T10:00:00Z");
    /* fractions are dropped, offsets applied */
    CHECK(ts("2026-11-22T10:00:10.8418063Z", &t) && t == 1795341610);
    CHECK(ts("2026-11-22T11:30:00+01:30", &t) && t == 1795341600);
    CHECK(ts("2026-11-22T05:00:00-05:00", &t) && t == 1795341600);
    CHECK(ts("2026-11-23T00:30:00+14:30", &t));
    cm_ts_format(t, out);
    CHECK_STR(out, "2026-11-22T10:00:00Z");
    /* leap days, leap seconds, the ends of the range */
    CHECK(ts("2028-02-29T00:00:00Z", &t));
    CHECK(ts("2000-02-29T00:00:00Z", &t));
    CHECK(ts("2016-12-31T23:59:60Z", &t));
    cm_ts_format(t, out);
    CHECK_STR(out, "2017-01-01T00:00:00Z");
    CHECK(ts("0000-01-01T00:00:00Z", &t));
    cm_ts_format(t, out);
    CHECK_STR(out, "0000-01-01T00:00:00Z");
    CHECK(ts("9999-12-31T23:59:59Z", &t));
    cm_ts_format(t, out);
    CHECK_STR(out, "9999-12-31T23:59:59Z");
    CHECK(ts("1969-12-31T23:59:59Z", &t) && t == -1);
    cm_ts_format(t, out);
    CHECK_STR(out, "1969-12-31T23:59:59Z");
    /* not real instants, or not RFC 3339 */
    CHECK(!ts("2026-02-29T00:00:00Z", &t));
    CHECK(!ts("2026-02-30T00:00:00Z", &t));
    CHECK(!ts("1900-02-29T00:00:00Z", &t));
    CHECK(!ts("2026-04-31T00:00:00Z", &t));
    CHECK(!ts("2026-13-01T00:00:00Z", &t));
    CHECK(!ts("2026-11-22 10:00:00Z", &t));
    CHECK(!ts("2026-11-22T10:00:00", &t));
    CHECK(!ts("1795341600", &t));
    CHECK(!ts("", &t));
    CHECK(!ts("9999-12-31T23:59:59-00:01", &t)); /* year 10000 in UTC */
    CHECK(!ts("0000-01-01T00:00:00+00:01", &t)); /* before year 0 in UTC */
    /* canonical spellings sort like the instants */
    char a[CM_TS_SIZE], b[CM_TS_SIZE];
    cm_ts_format(-86400, a);
    cm_ts_format(1795341600, b);
    CHECK(strcmp(a, b) < 0);
}

static void test_decode_validity(void)
{
    vlt_event ev;
    CHECK(dec(HDR "\"type\":\"key.created\"," KEY
                  "\"data\":{\"version\":\"v1\",\"kty\":\"RSA\",\"size\":2048,"
                  "\"nbf\":\"2026-11-01T00:00:00Z\",\"exp\":\"2027-11-01T01:00:00+01:00\"}}",
              &ev) == 0);
    CHECK(ev.type == VLT_EV_KEY_CREATED);
    CHECK(vlt_event_has(&ev, VLT_F_NBF) && vlt_event_has(&ev, VLT_F_EXP));
    CHECK_STR(ev.exp, "2027-11-01T01:00:00+01:00");
    int64_t nbf, exp;
    CHECK(ts("2026-11-01T00:00:00Z", &nbf) && ev.nbf_at == nbf);
    CHECK(ts("2027-11-01T00:00:00Z", &exp) && ev.exp_at == exp);
    CHECK(ev.at == 1795341600 && vlt_event_at(&ev) == 1795341600);
    /* optional: absent means no bound */
    CHECK(dec(HDR "\"type\":\"key.rotated\"," KEY "\"data\":{\"version\":\"v2\"}}", &ev) == 0);
    CHECK(!vlt_event_has(&ev, VLT_F_NBF) && !vlt_event_has(&ev, VLT_F_EXP));
    CHECK(dec(HDR "\"type\":\"key.rotated\"," KEY
                  "\"data\":{\"version\":\"v2\",\"exp\":\"2026-12-01T00:00:00Z\"}}",
              &ev) == 0);
    CHECK(!vlt_event_has(&ev, VLT_F_NBF) && vlt_event_has(&ev, VLT_F_EXP));
    /* the notices */
    CHECK(dec(HDR "\"type\":\"key.expiring\"," KEY
                  "\"data\":{\"version\":\"v2\",\"exp\":\"2026-12-01T00:00:00Z\"}}",
              &ev) == 0);
    CHECK(ev.type == VLT_EV_KEY_EXPIRING && !vlt_etype_deniable(ev.type));
    CHECK(vlt_etype_subject(ev.type) == VLT_SUBJ_KEY);
    CHECK_STR(vlt_etype_name(ev.type), "key.expiring");
    CHECK(dec(HDR "\"type\":\"key.expired\"," KEY "\"data\":{\"version\":\"v2\"}}", &ev) == 0);
    CHECK(ev.type == VLT_EV_KEY_EXPIRED && !vlt_etype_deniable(ev.type));
    CHECK(vlt_etype_parse("key.expired") == VLT_EV_KEY_EXPIRED);
    /* types that do not carry them drop them */
    CHECK(dec(HDR "\"type\":\"key.disabled\"," KEY
                  "\"data\":{\"version\":\"v2\",\"exp\":\"2026-12-01T00:00:00Z\"}}",
              &ev) == 0);
    CHECK(!vlt_event_has(&ev, VLT_F_EXP));
    /* a caller that builds an event without the decoder still gets its time */
    vlt_event built = {.time = "2026-11-22T11:00:00+01:00"};
    CHECK(vlt_event_at(&built) == 1795341600);
}

static void bad(const char *s, const char *want)
{
    vlt_event ev;
    int rc = dec(s, &ev);
    CHECK(rc < 0);
    if (rc < 0 && !strstr(reason, want))
        fprintf(stderr, "  reason '%s' lacks '%s'\n", reason, want);
    CHECK(rc < 0 && strstr(reason, want) != NULL);
}

static void test_decode_bad(void)
{
    bad(HDR "\"type\":\"key.created\"," KEY "\"data\":{\"version\":\"v1\",\"kty\":\"RSA\",\"size\":"
            "2048,\"exp\":\"2027-02-30T00:00:00Z\"}}",
        "data.exp '2027-02-30T00:00:00Z' is not an RFC 3339 date-time");
    bad(HDR "\"type\":\"key.created\"," KEY
            "\"data\":{\"version\":\"v1\",\"kty\":\"RSA\",\"size\":2048,\"nbf\":\"yesterday\"}}",
        "data.nbf 'yesterday' is not an RFC 3339 date-time");
    bad(HDR "\"type\":\"key.rotated\"," KEY "\"data\":{\"version\":\"v2\",\"exp\":1795341600}}",
        "data.exp: expected an RFC 3339 date-time string");
    bad(HDR "\"type\":\"key.rotated\"," KEY "\"data\":{\"version\":\"v2\",\"nbf\":null}}",
        "data.nbf: expected an RFC 3339 date-time string");
    bad(HDR "\"type\":\"key.rotated\"," KEY "\"data\":{\"version\":\"v2\",\"exp\":\"\"}}",
        "data.exp '' is not an RFC 3339 date-time");
    bad(HDR "\"type\":\"key.rotated\"," KEY
            "\"data\":{\"version\":\"v2\",\"nbf\":\"2027-01-01T00:00:00Z\","
            "\"exp\":\"2026-01-01T00:00:00Z\"}}",
        "data.exp '2026-01-01T00:00:00Z' is not after data.nbf '2027-01-01T00:00:00Z'");
    bad(HDR "\"type\":\"key.rotated\"," KEY
            "\"data\":{\"version\":\"v2\",\"exp\":\"2027-01-01T00:00:00Z\","
            "\"exp\":\"2028-01-01T00:00:00Z\"}}",
        "duplicate member 'data.exp'");
    bad(HDR "\"type\":\"key.expiring\"," KEY "\"data\":{\"version\":\"v2\"}}",
        "missing required member 'data.exp'");
    bad(HDR "\"type\":\"key.expiring\"," KEY "\"data\":{\"exp\":\"2027-01-01T00:00:00Z\"}}",
        "missing required member 'data.version'");
    bad(HDR "\"type\":\"key.expired\"," KEY "\"data\":{}}",
        "missing required member 'data.version'");
    bad(HDR "\"type\":\"key.expired\",\"subject\":\"https://kv1.vault.azure.net/keys/k/v2\","
            "\"data\":{\"version\":\"v2\"}}",
        "is not a versionless key URI");
    bad("{\"specversion\":\"1.0\",\"id\":\"e1\",\"time\":\"2026-02-30T10:00:00Z\","
        "\"type\":\"key.expired\"," KEY "\"data\":{\"version\":\"v2\"}}",
        "time '2026-02-30T10:00:00Z' is not an RFC 3339 date-time (a real calendar instant)");
}

/* ---------- the validity check ---------- */

static void test_valid_at(void)
{
    vlt_keyver kv = {.version = "v1"};
    char why[128];
    CHECK(vlt_keyver_valid_at(&kv, -5, why, sizeof why)); /* no bounds: always valid */
    kv.has_nbf = true;
    kv.nbf = 1000;
    kv.has_exp = true;
    kv.exp = 2000;
    CHECK(!vlt_keyver_valid_at(&kv, 999, why, sizeof why));
    CHECK_STR(why, "key version v1 is not valid before 1970-01-01T00:16:40Z");
    CHECK(vlt_keyver_valid_at(&kv, 1000, why, sizeof why)); /* from nbf on */
    CHECK(vlt_keyver_valid_at(&kv, 1999, NULL, 0));
    CHECK(!vlt_keyver_valid_at(&kv, 2000, why, sizeof why)); /* not at exp */
    CHECK_STR(why, "key version v1 expired at 1970-01-01T00:33:20Z");
    CHECK(!vlt_keyver_valid_at(&kv, 2001, NULL, 0));
    kv.has_nbf = false;
    CHECK(vlt_keyver_valid_at(&kv, -100000, NULL, 0));
}

/* ---------- time fields in conditions ---------- */

static pol_ruleset *rs;
static cm_err err;

static enum pol_tri run(const char *text, const pol_ctx *c)
{
    node *n = pol_compile(rs, text, "t.yaml", 1, 1, &err);
    if (!n) {
        fprintf(stderr, "  compile '%s': %s\n", text, err.msg);
        return (enum pol_tri) - 1;
    }
    pol_rule r = {.when = n};
    return pol_rule_eval(&r, c);
}

static void compile_bad(const char *text, const char *want)
{
    CHECK(pol_compile(rs, text, "t.yaml", 1, 1, &err) == NULL);
    if (!strstr(err.msg, want))
        fprintf(stderr, "  '%s': got '%s', want '%s'\n", text, err.msg, want);
    CHECK(strstr(err.msg, want) != NULL);
}

static void test_time_fields(void)
{
    rs = pol_ruleset_empty();
    pol_ctx c;
    memset(&c, 0, sizeof c);
    int64_t exp;
    CHECK(ts("2026-12-01T00:00:00Z", &exp));
    c.v[PF_KEY_EXP] = (pol_val){.t = PV_TIME, .i = exp, .s = "2026-12-01T00:00:00Z"};
    c.v[PF__COUNT + PF_KEY_EXP] =
        (pol_val){.t = PV_TIME, .i = exp + 86400, .s = "2026-12-02T00:00:00Z"};
    c.v[PF_KEY_EXPIRED] = (pol_val){.t = PV_BOOL, .b = true};
    CHECK(run("key.exp == \"2026-12-01T00:00:00Z\"", &c) == POL_TRUE);
    CHECK(run("key.exp == \"2026-12-01T01:00:00+01:00\"", &c) == POL_TRUE); /* the instant */
    CHECK(run("key.exp < \"2026-12-01T00:00:01Z\"", &c) == POL_TRUE);
    CHECK(run("key.exp >= \"2026-12-01T00:00:01Z\"", &c) == POL_FALSE);
    CHECK(run("\"2027-01-01T00:00:00Z\" > key.exp", &c) == POL_TRUE);
    CHECK(run("key.exp < prior.key.exp", &c) == POL_TRUE);
    CHECK(run("key.exp in (\"2026-11-30T23:00:00-01:00\", \"2027-01-01T00:00:00Z\")", &c) ==
          POL_TRUE);
    CHECK(run("key.exp startswith \"2026-12\"", &c) == POL_TRUE);
    CHECK(run("key.exp matches \"^2026-\"", &c) == POL_TRUE);
    CHECK(run("key.expired and not prior.key.expired", &c) == POL_UNKNOWN); /* prior absent */
    CHECK(run("key.expired", &c) == POL_TRUE);
    /* no bound: absent, so comparisons are unknown and exists is false */
    CHECK(run("key.nbf < \"2026-12-01T00:00:00Z\"", &c) == POL_UNKNOWN);
    CHECK(run("key.nbf exists", &c) == POL_FALSE);
    compile_bad("key.exp < \"2026-02-30T00:00:00Z\"", "'2026-02-30T00:00:00Z' is not an RFC 3339");
    compile_bad("key.exp == \"soon\"", "'soon' is not an RFC 3339 date-time");
    compile_bad("key.exp in (\"2026-12-01T00:00:00Z\", \"never\")", "'never' is not an RFC 3339");
    compile_bad("key.exp == 5", "cannot compare key.exp (time) with literal (integer)");
    compile_bad("key.exp == key.kty", "cannot compare key.exp (time) with key.kty (string)");
    compile_bad("key.kty < \"2026-12-01T00:00:00Z\"", "compare integers");
    pol_ruleset_free(rs);
}

/* ---------- the physics, through the engine ---------- */

#define R(n) "/subscriptions/s/resourceGroups/g/providers/Microsoft.CognitiveServices/accounts/" n
#define V "https://kv1.vault.azure.net"
#define K V "/keys/k"

static pol_engine *eng;
static vlt_state *st;
static aud_decision dd;
static int seq;

static enum aud_outcome send(const char *time, const char *type, const char *subject,
                             const char *data)
{
    char msg[2048];
    snprintf(msg, sizeof msg,
             "{\"specversion\":\"1.0\",\"id\":\"v-%d\",\"type\":\"%s\",\"subject\":\"%s\","
             "\"time\":\"%s\",\"data\":%s}",
             ++seq, type, subject, time, data);
    pol_engine_process(eng, msg, strlen(msg), "test", &dd);
    return dd.outcome;
}

static const vlt_keyver *ver(const char *v)
{
    return vlt_key_version(vlt_state_key(st, K), v);
}

static void test_physics(const char *path)
{
    cm_err e;
    char mkey[700];
    snprintf(mkey, sizeof mkey, "%s.mkey", path);
    pol_ruleset *empty = pol_ruleset_empty();
    st = vlt_state_open(path, mkey, &e);
    CHECK(st != NULL);
    if (!st)
        return;
    eng = pol_engine_new(empty, st, 0);
    CHECK(send("2026-11-01T00:00:00Z", "vault.upserted", V,
               "{\"tenant\":\"t1\",\"region\":\"r\",\"subscription\":\"s\","
               "\"soft_delete\":true,\"purge_protection\":true}") == AUD_ALLOWED);
    CHECK(send("2026-11-01T00:00:01Z", "key.created", K,
               "{\"version\":\"v1\",\"kty\":\"RSA\",\"size\":2048,"
               "\"exp\":\"2026-12-01T00:00:00Z\"}") == AUD_ALLOWED);
    const char *names[] = {R("a"), R("b")};
    for (int i = 0; i < 2; i++) {
        char data[200];
        CHECK(send("2026-11-01T00:00:02Z", "resource.created", names[i],
                   "{\"kind\":\"ContentSafety\",\"tenant\":\"t1\",\"region\":\"r\","
                   "\"subscription\":\"s\"}") == AUD_ALLOWED);
        snprintf(data, sizeof data, "{\"principal\":\"mi-%d\",\"tenant\":\"t1\"}", i);
        CHECK(send("2026-11-01T00:00:03Z", "resource.identity.enabled", names[i], data) ==
              AUD_ALLOWED);
        snprintf(data, sizeof data,
                 "{\"principal\":\"mi-%d\",\"permissions\":[\"get\",\"wrapKey\",\"unwrapKey\"]}",
                 i);
        CHECK(send("2026-11-01T00:00:04Z", "vault.access.granted", V, data) == AUD_ALLOWED);
    }
    /* before exp: a binding wraps */
    CHECK(send("2026-11-30T23:59:59Z", "resource.cmk.enabled", R("a"), "{\"key_uri\":\"" K "\"}") ==
          AUD_ALLOWED);
    CHECK(vlt_state_resource(st, R("a"))->cmk);
    /* a rotation onto an expired version fails and leaves everything as it was */
    CHECK(send("2026-11-02T00:00:00Z", "key.rotated", K,
               "{\"version\":\"v2\",\"exp\":\"2026-11-01T12:00:00Z\"}") == AUD_FAILED);
    CHECK(dd.reason && strstr(dd.reason, "key version v2 expired at 2026-11-01T12:00:00Z"));
    CHECK(ver("v2") == NULL);
    CHECK_STR(vlt_state_resource(st, R("a"))->wrap_ref, K "/v1");
    /* ... and so does one onto a version not valid yet */
    CHECK(send("2026-11-02T00:00:01Z", "key.rotated", K,
               "{\"version\":\"v2\",\"nbf\":\"2026-11-05T00:00:00Z\"}") == AUD_FAILED);
    CHECK(dd.reason &&
          strstr(dd.reason, "key version v2 is not valid before 2026-11-05T00:00:00Z"));
    /* key.expiring records the exp Key Vault announces */
    CHECK(send("2026-11-20T00:00:00Z", "key.expiring", K,
               "{\"version\":\"v1\",\"exp\":\"2026-11-25T00:00:00Z\"}") == AUD_ALLOWED);
    int64_t t;
    CHECK(ts("2026-11-25T00:00:00Z", &t) && ver("v1")->has_exp && ver("v1")->exp == t);
    CHECK(send("2026-11-20T00:00:01Z", "key.expiring", K,
               "{\"version\":\"v7\",\"exp\":\"2026-11-25T00:00:00Z\"}") == AUD_REJECTED);
    /* key.expired: the event's time when that is earlier than the exp known */
    CHECK(send("2026-11-24T00:00:00Z", "key.expired", K, "{\"version\":\"v1\"}") == AUD_ALLOWED);
    CHECK(ts("2026-11-24T00:00:00Z", &t) && ver("v1")->exp == t);
    CHECK(send("2026-11-26T00:00:00Z", "key.expired", K, "{\"version\":\"v1\"}") == AUD_ALLOWED);
    CHECK(ver("v1")->exp == t); /* a later notice does not move it */
    /* expiry locks nothing */
    CHECK(!vlt_state_resource(st, R("a"))->locked);
    /* after exp a binding fails, even to the version the data key is already under */
    CHECK(send("2026-11-26T00:00:01Z", "resource.cmk.enabled", R("b"), "{\"key_uri\":\"" K "\"}") ==
          AUD_FAILED);
    CHECK(!vlt_state_resource(st, R("b"))->cmk);
    CHECK(send("2026-11-26T00:00:02Z", "resource.key.updated", R("a"),
               "{\"key_uri\":\"" K "/v1\"}") == AUD_FAILED);
    CHECK(vlt_state_resource(st, R("a"))->versionless);
    /* turning CMK off still works: the expired version unwraps */
    CHECK(send("2026-11-26T00:00:03Z", "resource.cmk.disabled", R("a"), "{}") == AUD_ALLOWED);
    CHECK_STR(vlt_state_resource(st, R("a"))->wrap_ref, "mmk");
    /* a valid rotation, then the state goes to disk and comes back */
    CHECK(send("2026-11-27T00:00:00Z", "key.rotated", K,
               "{\"version\":\"v3\",\"nbf\":\"2026-11-26T00:00:00Z\"}") == AUD_ALLOWED);
    CHECK(vlt_state_flush(st, &e) == 0);
    pol_engine_free(eng);
    vlt_state_free(st);
    st = vlt_state_open(path, mkey, &e);
    CHECK(st != NULL);
    if (st) {
        CHECK(ver("v1") && ver("v1")->has_exp && ver("v1")->exp == t && !ver("v1")->has_nbf);
        CHECK(ts("2026-11-26T00:00:00Z", &t) && ver("v3") && ver("v3")->has_nbf &&
              ver("v3")->nbf == t && !ver("v3")->has_exp);
    }
    aud_decision_clear(&dd);
    vlt_state_free(st);
    pol_ruleset_free(empty);
}

int main(void)
{
    d = dec_decoder_new(0);
    test_timestamps();
    test_decode_validity();
    test_decode_bad();
    dec_decoder_free(d);
    test_valid_at();
    test_time_fields();
    char dir[] = "/tmp/cmkguard-validity.XXXXXX", path[600];
    if (mkdtemp(dir)) {
        snprintf(path, sizeof path, "%s/state.db", dir);
        test_physics(path);
        char cmd[700];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        CHECK(system(cmd) == 0);
    } else {
        CHECK(!"mkdtemp");
    }
    T_DONE();
}
