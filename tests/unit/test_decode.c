#include "decode/decode.h"

#include <stdlib.h>

#include "tests/unit/t.h"

static dec_decoder *d;
static char reason[512];

static int dec(const char *s, vlt_event *ev)
{
    return dec_decode(d, s, strlen(s), ev, reason, sizeof reason);
}

#define HDR "{\"specversion\":\"1.0\",\"id\":\"e1\",\"time\":\"2026-11-22T10:00:00Z\","
#define RES "\"subject\":\"/subscriptions/s/resourceGroups/g/providers/P.N/accounts/a\","

static void test_good(void)
{
    vlt_event ev;
    CHECK(dec(HDR "\"type\":\"vault.upserted\",\"subject\":\"https://KV1.vault.azure.net/\","
                  "\"data\":{\"tenant\":\"t\",\"region\":\"r\",\"subscription\":\"s\","
                  "\"soft_delete\":true,\"purge_protection\":false,\"retention_days\":7,"
                  "\"extra\":{\"nested\":[1,2,{\"x\":null}]}},\"ext\":[1]}",
              &ev) == 0);
    CHECK(ev.type == VLT_EV_VAULT_UPSERTED);
    CHECK(ev.soft_delete && !ev.purge_protection && ev.retention_days == 7);
    CHECK_STR(ev.tenant, "t");
    CHECK(vlt_event_has(&ev, VLT_F_RETENTION_DAYS));
    CHECK(dec(HDR
              "\"type\":\"vault.access.granted\",\"subject\":\"https://kv1.vault.azure.net\","
              "\"data\":{\"principal\":\"p\",\"permissions\":[\"get\",\"list\",\"unwrapKey\"]}}",
              &ev) == 0);
    CHECK(ev.permissions == (VLT_PERM_GET | VLT_PERM_UNWRAP));
    CHECK(dec(HDR "\"type\":\"key.created\",\"subject\":\"https://kv1.vault.azure.net/keys/k\","
                  "\"data\":{\"version\":\"v1\",\"kty\":\"EC\"}}",
              &ev) == 0);
    CHECK(dec(HDR "\"type\":\"resource.cmk.enabled\"," RES
                  "\"data\":{\"key_uri\":\"https://kv1.vault.azure.net/keys/k/0123abc\"}}",
              &ev) == 0);
    /* fields a type does not use are dropped */
    CHECK(dec(HDR "\"type\":\"resource.deleted\"," RES "\"data\":{\"tenant\":\"x\"}}", &ev) == 0);
    CHECK(!vlt_event_has(&ev, VLT_F_TENANT));
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

static void test_bad(void)
{
    bad("", "not valid JSON");
    bad("42", "not a JSON object");
    bad("{", "not valid JSON");
    bad("{} {}", "not valid JSON");
    /* a string token left open after the object is not swallowed */
    bad(HDR "\"type\":\"resource.deleted\"," RES "\"data\":{}}\"junk", "trailing garbage");
    bad(HDR "\"type\":\"resource.deleted\"," RES "\"data\":{}} \"", "trailing garbage");
    bad(HDR "\"type\":\"resource.deleted\"," RES "\"data\":{}", "not valid JSON");
    bad(HDR "\"type\":\"resource.deleted\"," RES "\"data\":[]}", "data: expected an object");
    bad(HDR "\"type\":\"resource.deleted\"," RES "\"data\":{},\"id\":\"x\"}",
        "duplicate member 'id'");
    bad(HDR "\"type\":\"nope\"," RES "\"data\":{}}", "unknown event type 'nope'");
    bad(HDR "\"type\":7," RES "\"data\":{}}", "type: expected a string");
    bad("{\"specversion\":\"1.0\",\"id\":\"e\",\"type\":\"resource.deleted\"," RES "\"data\":{}}",
        "missing required member 'time'");
    bad(HDR "\"type\":\"resource.moved\"," RES "\"data\":{\"tenant\":\"t\"}}",
        "missing required member 'data.subscription'");
    bad(HDR "\"type\":\"key.created\",\"subject\":\"https://kv1.vault.azure.net/keys/k\","
            "\"data\":{\"version\":\"v1\",\"kty\":\"RSA\",\"size\":\"2048\"}}",
        "data.size: expected an integer");
    bad(HDR "\"type\":\"key.created\",\"subject\":\"https://kv1.vault.azure.net/keys/k\","
            "\"data\":{\"version\":\"v1\",\"kty\":\"RSA\",\"size\":99999999999}}",
        "data.size: out of range");
    bad(HDR "\"type\":\"key.created\",\"subject\":\"https://kv1.evil.net/keys/k\","
            "\"data\":{\"version\":\"v1\",\"kty\":\"EC\"}}",
        "not a versionless key URI");
    bad(HDR "\"type\":\"vault.access.granted\",\"subject\":\"https://kv1.vault.azure.net\","
            "\"data\":{\"principal\":\"p\",\"permissions\":[\"get\",7]}}",
        "data.permissions: expected a list of strings");
    bad(HDR "\"type\":\"resource.deleted\",\"subject\":\"/subscriptions/x\",\"data\":{}}",
        "is not a resource id");
    bad("{\"specversion\":\"1.0\",\"id\":\"e\",\"time\":\"2026-13-01T00:00:00Z\","
        "\"type\":\"resource.deleted\"," RES "\"data\":{}}",
        "not an RFC 3339 date-time");
    /* unknown extension members are skipped unread, NUL or not */
    vlt_event ext;
    CHECK(dec(HDR "\"type\":\"resource.deleted\"," RES "\"data\":{},\"x\":\"a\\u0000b\"}", &ext) ==
          0);
    bad(HDR "\"type\":\"resource.moved\"," RES
            "\"data\":{\"tenant\":\"a\\u0000b\",\"subscription\":\"s\"}}",
        "NUL");
    /* nesting is bounded */
    char deep[400] = "{\"a\":";
    size_t dl = strlen(deep);
    for (int i = 0; i < 70; i++)
        deep[dl++] = '[';
    deep[dl] = '\0';
    bad(deep, "nesting deeper than 64");
    /* the decoder keeps what it could read for the rejection record */
    vlt_event ev;
    dec(HDR "\"type\":\"resource.moved\"," RES "\"data\":{}}", &ev);
    CHECK_STR(ev.id, "e1");
    CHECK_STR(ev.type_name, "resource.moved");
}

static void test_limit(void)
{
    dec_decoder *small = dec_decoder_new(64);
    vlt_event ev;
    char msg[200];
    memset(msg, ' ', sizeof msg - 1);
    msg[sizeof msg - 1] = '\0';
    CHECK(dec_decode(small, msg, strlen(msg), &ev, reason, sizeof reason) < 0);
    CHECK(strstr(reason, "over the limit of 64") != NULL);
    dec_decoder_free(small);
}

static void test_uris(void)
{
    vlt_keyref k;
    char name[64];
    CHECK(vlt_key_uri_parse("https://KV-1.vault.azure.net/keys/My-Key/AbC123", &k));
    CHECK_STR(k.vault, "kv-1");
    CHECK_STR(k.name, "my-key");
    CHECK_STR(k.version, "abc123"); /* SPEC §2a: versions compare case-insensitively */
    CHECK(vlt_key_uri_parse("https://kv1.vault.azure.net/keys/k/", &k) && !k.version[0]);
    CHECK(!vlt_key_uri_parse("http://kv1.vault.azure.net/keys/k", &k));
    CHECK(!vlt_key_uri_parse("https://kv1.vault.azure.net/secrets/k", &k));
    CHECK(!vlt_key_uri_parse("https://kv1.vault.azure.net/keys/k/v/x", &k));
    CHECK(!vlt_key_uri_parse("https://kv1.vault.azure.net/keys/k%2f", &k));
    CHECK(!vlt_vault_uri_parse("https://ab.vault.azure.net", name, sizeof name)); /* 3..24 */
    CHECK(vlt_vault_uri_parse("https://abc.vault.azure.net", name, sizeof name));
    CHECK(vlt_resource_id_valid(
        "/subscriptions/s/resourceGroups/g/providers/Microsoft.X/accounts/a"));
    CHECK(
        !vlt_resource_id_valid("/subscriptions/s/resourceGroups/g/providers/Microsoft.X/accounts"));
    CHECK(!vlt_resource_id_valid("/subscriptions/s/resourceGroups/g/providers/M/a/b c"));
}

int main(void)
{
    d = dec_decoder_new(0);
    test_good();
    test_bad();
    test_limit();
    test_uris();
    dec_decoder_free(d);
    T_DONE();
}
