/* Key validity (SPEC §2, §3): RFC 3339 instants, the decoder's nbf/exp and the
 * key.expiring / key.expired events. */
#include <stdlib.h>

#include "common/timestamp.h"
#include "stream/decode.h"
#include "tests/unit/t.h"

static stm_decoder *d;
static char reason[512];

static int dec(const char *s, vlt_event *ev)
{
    return stm_decode(d, s, strlen(s), ev, reason, sizeof reason);
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
    bad(HDR "\"type\":\"key.created\"," KEY
            "\"data\":{\"version\":\"v1\",\"kty\":\"RSA\",\"size\":2048,\"exp\":\"2027-02-30T00:00:00Z\"}}",
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
    bad(HDR "\"type\":\"key.expired\"," KEY "\"data\":{}}", "missing required member 'data.version'");
    bad(HDR "\"type\":\"key.expired\",\"subject\":\"https://kv1.vault.azure.net/keys/k/v2\","
            "\"data\":{\"version\":\"v2\"}}",
        "is not a versionless key URI");
    bad("{\"specversion\":\"1.0\",\"id\":\"e1\",\"time\":\"2026-02-30T10:00:00Z\","
        "\"type\":\"key.expired\"," KEY "\"data\":{\"version\":\"v2\"}}",
        "time '2026-02-30T10:00:00Z' is not a real calendar instant");
}

int main(void)
{
    d = stm_decoder_new(0);
    test_timestamps();
    test_decode_validity();
    test_decode_bad();
    stm_decoder_free(d);
    T_DONE();
}
