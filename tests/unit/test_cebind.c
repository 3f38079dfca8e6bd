#include "stream/cebind.h"

#include <stdlib.h>

#include "common/util.h"
#include "decode/decode.h"
#include "tests/unit/t.h"

#define H(n, v)                                                                                    \
    {                                                                                              \
        .name = (n), .value = (v), .len = sizeof(v) - 1                                            \
    }
#define KEY "https://kv1.vault.azure.net/keys/k"
#define DATA "{\"version\":\"v1\",\"kty\":\"RSA\",\"size\":2048}"

static dec_decoder *dec;
static cm_buf out;
static stm_ce_attrs a;
static char reason[1024];

static int bin(const stm_header *h, size_t n, const char *value, size_t max)
{
    return stm_ce_from_binary(h, n, value, strlen(value), max, &out, &a, reason, sizeof reason);
}

static void test_mode(void)
{
    stm_header ce[] = {H("traceparent", "00-x"), H("ce_id", "e1")};
    stm_header structured[] = {H("ce_id", "e1"),
                               H("Content-Type", "application/cloudevents+json; charset=UTF-8")};
    stm_header plain[] = {H("content-type", "application/json"), H("cmkguard-input", "x")};
    CHECK(!stm_ce_is_binary(NULL, 0));
    CHECK(stm_ce_is_binary(ce, 2));
    CHECK(!stm_ce_is_binary(structured, 2));
    CHECK(!stm_ce_is_binary(plain, 2));
}

/* A binary-mode message decodes to exactly what its structured-mode form decodes to. */
static void test_same_event(void)
{
    stm_header h[] = {H("ce_specversion", "1.0"),
                      H("ce_id", "e1"),
                      H("ce_source", "/s"),
                      H("ce_type", "key.created"),
                      H("ce_subject", KEY),
                      H("ce_time", "2026-11-02T10:00:00Z"),
                      H("content-type", "application/json"),
                      H("ce_traceparent", "00-abc"),
                      H("other", "ignored")};
    CHECK(bin(h, CM_ARRAY_LEN(h), DATA, 4096) == 0);
    CHECK_STR(out.p,
              "{\"specversion\":\"1.0\",\"id\":\"e1\",\"source\":\"/s\",\"type\":\"key.created\","
              "\"time\":\"2026-11-02T10:00:00Z\",\"subject\":\"" KEY "\","
              "\"datacontenttype\":\"application/json\",\"traceparent\":\"00-abc\","
              "\"data\":" DATA "}");
    vlt_event ev;
    CHECK(dec_decode(dec, out.p, out.len, &ev, reason, sizeof reason) == 0);
    CHECK(ev.type == VLT_EV_KEY_CREATED);
    CHECK_STR(ev.id, "e1");
    CHECK_STR(ev.version, "v1");
    CHECK(ev.size == 2048);

    /* A missing ce_id is rejected for the reason the same event in structured mode is. */
    const char *structured = "{\"specversion\":\"1.0\",\"source\":\"/s\",\"type\":\"key.created\","
                             "\"subject\":\"" KEY "\",\"time\":\"2026-11-02T10:00:00Z\","
                             "\"data\":" DATA "}";
    char want[1024];
    CHECK(dec_decode(dec, structured, strlen(structured), &ev, want, sizeof want) < 0);
    stm_header noid[] = {H("ce_specversion", "1.0"), H("ce_source", "/s"),
                         H("ce_type", "key.created"), H("ce_subject", KEY),
                         H("ce_time", "2026-11-02T10:00:00Z")};
    CHECK(bin(noid, CM_ARRAY_LEN(noid), DATA, 4096) == 0);
    CHECK(dec_decode(dec, out.p, out.len, &ev, reason, sizeof reason) < 0);
    CHECK_STR(reason, want);
    CHECK(strstr(reason, "'id'") != NULL);

    /* No value: no data member, as a structured event without one. */
    CHECK(bin(noid, CM_ARRAY_LEN(noid), "", 4096) == 0);
    CHECK(!strstr(out.p, "\"data\""));
}

/* Header values are raw bytes: escaped, checked, and unable to add a member. */
static void test_hostile(void)
{
    stm_header inj[] = {H("ce_id", "e1"), H("ce_type", "key.created"),
                        H("ce_subject", "x\",\"type\":\"vault.upserted\",\"y\":\"\\\n")};
    CHECK(bin(inj, CM_ARRAY_LEN(inj), "{}", 4096) == 0);
    stm_ce_attrs r = {0};
    CHECK(stm_ce_read(out.p, out.len, &r));
    CHECK_STR(r.v[STM_CE_TYPE], "key.created");
    CHECK_STR(r.v[STM_CE_SUBJECT], "x\",\"type\":\"vault.upserted\",\"y\":\"\\\n");
    stm_ce_attrs_clear(&r);

    stm_header ok[] = {H("ce_id", "e1"), H("ce_type", "key.created")};
    /* The value must be one JSON value, not the tail of an object. */
    CHECK(bin(ok, 2, "{}, \"id\":\"e2\"", 4096) < 0);
    CHECK(strstr(reason, "not valid JSON") != NULL);
    CHECK(bin(ok, 2, "{} {}", 4096) < 0);
    CHECK(bin(ok, 2, "{}\":0z", 4096) < 0); /* an open string after the value */
    CHECK(strstr(reason, "string left open") != NULL);
    CHECK(bin(ok, 2, "{}\"a\\", 4096) < 0);
    CHECK(bin(ok, 2, "\":0z", 4096) < 0);
    CHECK(bin(ok, 2, "{} 1", 4096) < 0);
    CHECK(bin(ok, 2, " \"x\" ", 4096) == 0);
    CHECK(bin(ok, 2, "12", 4096) == 0);
    CHECK(bin(ok, 2, "[\"a\\\"]\"]", 4096) == 0);
    CHECK(bin(ok, 2, "not json", 4096) < 0);
    CHECK_STR(a.v[STM_CE_ID], "e1"); /* what was read still names the event */
    CHECK_STR(a.v[STM_CE_TYPE], "key.created");

    stm_header bad_utf8[] = {H("ce_id", "e1"), H("ce_subject", "a\xff"
                                                               "b")};
    CHECK(bin(bad_utf8, 2, "{}", 4096) < 0);
    CHECK(strstr(reason, "'ce_subject' is not valid UTF-8") != NULL);
    CHECK_STR(a.v[STM_CE_ID], "e1");
    CHECK(a.v[STM_CE_SUBJECT] == NULL);
    stm_header surrogate[] = {H("ce_id", "\xed\xa0\x80")};
    CHECK(bin(surrogate, 1, "{}", 4096) < 0);
    stm_header nul[] = {H("ce_id", "e\0"
                                   "1")};
    CHECK(bin(nul, 1, "{}", 4096) < 0);
    stm_header twice[] = {H("ce_id", "e1"), H("ce_id", "e2")};
    CHECK(bin(twice, 2, "{}", 4096) < 0);
    CHECK(strstr(reason, "duplicate header 'ce_id'") != NULL);

    stm_header text[] = {H("ce_id", "e1"), H("content-type", "text/plain")};
    CHECK(bin(text, 2, "{}", 4096) < 0);
    CHECK(strstr(reason, "text/plain") != NULL);
    stm_header vnd[] = {H("ce_id", "e1"),
                        H("content-type", "application/vnd.x+json; charset=utf-8")};
    CHECK(bin(vnd, 2, "{}", 4096) == 0);

    /* Unusable extensions are ignored; none can name data. */
    stm_header ext[] = {
        H("ce_id", "e1"),   H("ce_data", "{}"), H("ce_Trace", "x"), H("ce_datacontenttype", "x"),
        H("ce_ok", "\xff"), H("ce_ext1", "1"),  H("ce_ext1", "2")};
    CHECK(bin(ext, CM_ARRAY_LEN(ext), "{\"a\":1}", 4096) == 0);
    CHECK_STR(out.p, "{\"id\":\"e1\",\"ext1\":\"1\",\"data\":{\"a\":1}}");

    /* The structured form must fit the message limit. */
    char big[300];
    memset(big, ' ', sizeof big - 3);
    big[0] = '[';
    big[sizeof big - 3] = ']';
    big[sizeof big - 2] = '\0';
    CHECK(bin(ok, 2, big, 256) < 0);
    CHECK(strstr(reason, "over the limit of 256") != NULL);
    CHECK(bin(ok, 2, big, 4096) == 0);
}

static void test_read(void)
{
    const char *rec = "{\"chain\":\"c\",\"data\":{\"id\":\"inner\",\"subject\":\"no\"},"
                      "\"id\":\"c:1\",\"seq\":1,\"source\":\"cmkguard\",\"specversion\":\"1.0\","
                      "\"subject\":\"/s/a\",\"time\":\"2026-11-02T10:00:00Z\","
                      "\"type\":\"cmkguard.audit.decision\"}";
    CHECK(stm_ce_read(rec, strlen(rec), &a));
    CHECK(stm_ce_attrs_complete(&a));
    CHECK_STR(a.v[STM_CE_ID], "c:1");
    CHECK_STR(a.v[STM_CE_SUBJECT], "/s/a");
    CHECK_STR(a.v[STM_CE_TIME], "2026-11-02T10:00:00Z");
    CHECK_STR(stm_ce_header_name(STM_CE_SUBJECT), "ce_subject");
    const char *nosubj = "{\"id\":\"x\",\"subject\":5,\"type\":\"\"}";
    CHECK(stm_ce_read(nosubj, strlen(nosubj), &a));
    CHECK(a.v[STM_CE_SUBJECT] == NULL && a.v[STM_CE_TYPE] == NULL);
    CHECK(!stm_ce_attrs_complete(&a));
    CHECK(!stm_ce_read("[{\"id\":\"x\"}]", 12, &a));
    CHECK(a.v[STM_CE_ID] == NULL);
    CHECK(!stm_ce_read("{\"id\":\"x\",\"id\":\"y\"}", 19, &a));
    CHECK(!stm_ce_read("{\"id\":", 6, &a));
    CHECK(!stm_ce_read("\"x\"", 3, &a));
    CHECK(!stm_ce_read("{\"id\":\"x\"}\"", 11, &a));
    stm_ce_attrs_clear(&a);
    CHECK(stm_ce_is_json("[1, 2]", 6) && !stm_ce_is_json("{", 1) && !stm_ce_is_json("", 0));
    CHECK(!stm_ce_is_json("[]\"", 3) && !stm_ce_is_json("1\"x", 3));
}

/* The record reader without a parser says what the parser says, on every record of the
 * golden trail and on shapes it must hand over to the parser. */
static bool same_as_parser(const char *rec, size_t n, const char *chain, uint64_t seq)
{
    stm_ce_attrs fast = {0}, full = {0};
    bool ok = stm_ce_read_record(rec, n, chain, seq, &fast) == stm_ce_read(rec, n, &full);
    for (int i = 0; i < STM_CE__COUNT; i++)
        ok = ok && (fast.v[i] ? full.v[i] && strcmp(fast.v[i], full.v[i]) == 0 : !full.v[i]);
    stm_ce_attrs_clear(&fast);
    stm_ce_attrs_clear(&full);
    return ok;
}

static void test_read_record(void)
{
    FILE *f = fopen("tests/golden/story.audit.jsonl", "r");
    CHECK(f != NULL);
    char line[16384];
    unsigned long long seq = 0, records = 0;
    while (f && fgets(line, sizeof line, f)) {
        size_t n = strcspn(line, "\n");
        const char *s = strstr(line, "\"seq\":");
        CHECK(s && sscanf(s, "\"seq\":%llu", &seq) == 1);
        CHECK(same_as_parser(line, n, "main", seq));
        stm_ce_read_record(line, n, "main", seq, &a);
        CHECK(stm_ce_attrs_complete(&a) && a.v[STM_CE_TIME]);
        records++;
    }
    if (f)
        fclose(f);
    CHECK(records > 50);
    const char *shapes[] = {
        /* a checkpoint: no subject */
        "{\"chain\":\"c\",\"data\":{\"first_seq\":1},\"id\":\"c:7\",\"seq\":7,\"source\":"
        "\"cmkguard\","
        "\"specversion\":\"1.0\",\"time\":\"2026-11-02T10:00:00Z\",\"type\":\"cmkguard.audit."
        "checkpoint\"}",
        /* a subject with an escape */
        "{\"id\":\"c:7\",\"source\":\"cmkguard\",\"specversion\":\"1.0\",\"subject\":\"/a\\\"b\","
        "\"time\":\"t\",\"type\":\"x\"}",
        /* another id, source or version */
        "{\"id\":\"c:8\",\"source\":\"cmkguard\",\"specversion\":\"1.0\",\"subject\":\"/"
        "a\",\"time\":\"t\",\"type\":\"x\"}",
        "{\"id\":\"c:7\",\"source\":\"other\",\"specversion\":\"1.0\",\"subject\":\"/"
        "a\",\"time\":\"t\",\"type\":\"x\"}",
        "{\"id\":\"c:7\",\"source\":\"cmkguard\",\"specversion\":\"1.1\",\"subject\":\"/"
        "a\",\"time\":\"t\",\"type\":\"x\"}",
        /* empty values, a number, members out of order, cut short, nothing */
        "{\"id\":\"c:7\",\"source\":\"cmkguard\",\"specversion\":\"1.0\",\"subject\":\"\",\"time\":"
        "\"t\",\"type\":\"x\"}",
        "{\"id\":\"c:7\",\"source\":\"cmkguard\",\"specversion\":\"1.0\",\"subject\":\"/"
        "a\",\"time\":\"\",\"type\":\"x\"}",
        "{\"id\":\"c:7\",\"source\":\"cmkguard\",\"specversion\":\"1.0\",\"subject\":\"/"
        "a\",\"time\":5,\"type\":\"x\"}",
        "{\"id\":\"c:7\",\"source\":\"cmkguard\",\"specversion\":\"1.0\",\"type\":\"x\",\"time\":"
        "\"t\"}",
        "{\"id\":\"c:7\",\"source\":\"cmkguard\",\"specversion\":\"1.0\",\"subject\":\"/"
        "a\",\"time\":\"t\",\"type\":\"x\"",
        "\"type\":\"x\"}",
        "\"}",
        "",
        "{\"time\":\"t\",\"type\":\"x\"}",
    };
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++)
        CHECK(same_as_parser(shapes[i], strlen(shapes[i]), "c", 7));
    stm_ce_read_record(shapes[0], strlen(shapes[0]), "c", 7, &a);
    CHECK_STR(a.v[STM_CE_TYPE], "cmkguard.audit.checkpoint");
    CHECK(a.v[STM_CE_SUBJECT] == NULL && t_streq(a.v[STM_CE_ID], "c:7"));
}

static void test_pack(void)
{
    cm_buf b;
    cm_buf_init(&b, 0);
    CHECK(stm_ce_pack(&b, "content-type", "application/json") == 0);
    CHECK(stm_ce_pack(&b, "ce_subject", "") == 0);
    const char *n, *v;
    size_t off = 0;
    CHECK(stm_ce_unpack(b.p, b.len, &off, &n, &v));
    CHECK_STR(n, "content-type");
    CHECK_STR(v, "application/json");
    CHECK(stm_ce_unpack(b.p, b.len, &off, &n, &v));
    CHECK_STR(n, "ce_subject");
    CHECK_STR(v, "");
    CHECK(!stm_ce_unpack(b.p, b.len, &off, &n, &v));
    off = 0;
    CHECK(!stm_ce_unpack(b.p, 5, &off, &n, &v)); /* cut short */
    off = 0;
    CHECK(!stm_ce_unpack(NULL, 0, &off, &n, &v));
    cm_buf_free(&b);
}

int main(void)
{
    dec = dec_decoder_new(0);
    cm_buf_init(&out, 0);
    test_mode();
    test_same_event();
    test_hostile();
    test_read();
    test_read_record();
    test_pack();
    stm_ce_attrs_clear(&a);
    cm_buf_free(&out);
    dec_decoder_free(dec);
    T_DONE();
}
