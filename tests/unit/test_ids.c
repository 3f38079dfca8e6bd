/* Identifiers as Azure writes them (SPEC §2a) and input text as people write it
 * (SPEC §2): canonical spellings, the decoder's rejections, the reader, and what the
 * state makes of spellings and sources. */
#include <stdlib.h>
#include <unistd.h>

#include "common/lines.h"
#include "decode/decode.h"
#include "policy/engine.h"
#include "tests/unit/t.h"
#include "vault/internal.h" /* white-box: the resource's own fields */

static dec_decoder *dc;
static char reason[512];

/* ---------- vault and key URIs ---------- */

static void canon_ok(const char *in, enum vlt_uri_kind kind, const char *want)
{
    char out[VLT_URI_MAX + 1];
    enum vlt_uri_kind got = vlt_uri_canon(in, out, sizeof out, NULL);
    if (got != kind || strcmp(out, want) != 0)
        fprintf(stderr, "  %s: kind %d '%s', wanted %d '%s'\n", in, got,
                got == VLT_URI_BAD ? "" : out, kind, want);
    CHECK(got == kind && !strcmp(out, want));
}

static void canon_bad(const char *in)
{
    char out[VLT_URI_MAX + 1];
    enum vlt_uri_kind got = vlt_uri_canon(in, out, sizeof out, NULL);
    if (got != VLT_URI_BAD)
        fprintf(stderr, "  %s: accepted as '%s'\n", in, out);
    CHECK(got == VLT_URI_BAD);
}

static void test_vault_uris(void)
{
    canon_ok("https://kv1.vault.azure.net", VLT_URI_VAULT, "https://kv1.vault.azure.net");
    canon_ok("https://KV1.Vault.Azure.NET/", VLT_URI_VAULT, "https://kv1.vault.azure.net");
    canon_ok("https://kv1.vault.azure.net:443", VLT_URI_VAULT, "https://kv1.vault.azure.net");
    canon_ok("HTTPS://kv1.vault.azure.net:443/", VLT_URI_VAULT, "https://kv1.vault.azure.net");
    /* sovereign clouds and Managed HSM keep their host */
    canon_ok("https://kv1.vault.azure.cn", VLT_URI_VAULT, "https://kv1.vault.azure.cn");
    canon_ok("https://Kv1.VAULT.usgovcloudapi.net/", VLT_URI_VAULT,
             "https://kv1.vault.usgovcloudapi.net");
    canon_ok("https://hsm1.managedhsm.azure.net", VLT_URI_VAULT,
             "https://hsm1.managedhsm.azure.net");
    canon_ok("https://hsm1.managedhsm.azure.cn:443/", VLT_URI_VAULT,
             "https://hsm1.managedhsm.azure.cn");
    canon_ok("https://hsm1.ManagedHSM.usgovcloudapi.net", VLT_URI_VAULT,
             "https://hsm1.managedhsm.usgovcloudapi.net");
    canon_bad("http://kv1.vault.azure.net");
    canon_bad("https://kv1.vault.azure.net:8443");
    canon_bad("https://kv1.vault.azure.net:4430");
    canon_bad("https://kv1.vault.azure.net:");
    canon_bad("https://kv1.vault.azure.net?api-version=7.4");
    canon_bad("https://kv1.vault.azure.net#x");
    canon_bad("https://kv1.vault.azure.net//");
    canon_bad("https://kv1.vault.azure.net.evil.example");
    canon_bad("https://kv1.vault.azure.network");
    canon_bad("https://kv1.vault.azure.com");
    canon_bad("https://kv1.evil.net");
    canon_bad("https://ab.vault.azure.net");                        /* names are 3..24 */
    canon_bad("https://abcdefghijklmnopqrstuvwxy.vault.azure.net"); /* 25 */
    canon_bad("https://-kv1.vault.azure.net");
    canon_bad("https://kv_1.vault.azure.net");
    canon_bad("https://user@kv1.vault.azure.net");
    canon_bad("");
}

static void test_key_uris(void)
{
    canon_ok("https://kv1.vault.azure.net/keys/k", VLT_URI_KEY,
             "https://kv1.vault.azure.net/keys/k");
    canon_ok("https://KV1.vault.azure.net:443/keys/My-Key/", VLT_URI_KEY,
             "https://kv1.vault.azure.net/keys/my-key");
    canon_ok("https://kv1.vault.azure.cn:443/keys/CMK/0123ABCDEF/", VLT_URI_KEY_VERSION,
             "https://kv1.vault.azure.cn/keys/cmk/0123abcdef");
    canon_ok("https://hsm1.managedhsm.azure.net/KEYS/k/v1", VLT_URI_KEY_VERSION,
             "https://hsm1.managedhsm.azure.net/keys/k/v1");
    canon_bad("http://kv1.vault.azure.net/keys/k");
    canon_bad("https://kv1.vault.azure.net:80/keys/k");
    canon_bad("https://kv1.vault.azure.net/keys/k?api-version=7.4");
    canon_bad("https://kv1.vault.azure.net/keys/k/v1#frag");
    canon_bad("https://kv1.vault.azure.net/keys/../secrets/k");
    canon_bad("https://kv1.vault.azure.net/keys/k/..");
    canon_bad("https://kv1.vault.azure.net/secrets/k");
    canon_bad("https://kv1.vault.azure.net/keys/");
    canon_bad("https://kv1.vault.azure.net/keys//v1");
    canon_bad("https://kv1.vault.azure.net/keys/k/v1/x");
    canon_bad("https://kv1.vault.azure.net/keys/k/v1//");
    canon_bad("https://kv1.vault.azure.net/keys/k%2fx");
    canon_bad("https://kv1.vault.azure.net/keys/k/v 1");
    /* in place: the canonical spelling is never longer */
    char s[] = "https://KV1.vault.azure.net:443/keys/K1/ABC/";
    CHECK(vlt_uri_canon(s, s, sizeof s, NULL) == VLT_URI_KEY_VERSION);
    CHECK_STR(s, "https://kv1.vault.azure.net/keys/k1/abc");
    /* a buffer too small for the input is refused, never overrun */
    char small[16];
    CHECK(vlt_uri_canon("https://kv1.vault.azure.net", small, sizeof small, NULL) == VLT_URI_BAD);
    /* the parts, and the URIs built back from them, keep the host */
    vlt_keyref kr;
    CHECK(vlt_key_uri_parse("https://HSM-1.managedhsm.usgovcloudapi.net:443/keys/K/V9/", &kr));
    CHECK_STR(kr.host, "hsm-1.managedhsm.usgovcloudapi.net");
    CHECK_STR(kr.vault, "hsm-1");
    CHECK_STR(kr.name, "k");
    CHECK_STR(kr.version, "v9");
    char u[512];
    vlt_vault_uri(&kr, u, sizeof u);
    CHECK_STR(u, "https://hsm-1.managedhsm.usgovcloudapi.net");
    vlt_key_uri(&kr, true, u, sizeof u);
    CHECK_STR(u, "https://hsm-1.managedhsm.usgovcloudapi.net/keys/k/v9");
    vlt_key_uri(&kr, false, u, sizeof u);
    CHECK_STR(u, "https://hsm-1.managedhsm.usgovcloudapi.net/keys/k");
    CHECK(!vlt_key_uri_parse("https://kv1.vault.azure.net", &kr)); /* a vault is no key */
    char name[64];
    CHECK(vlt_vault_uri_parse("https://KV1.vault.azure.cn:443/", name, sizeof name));
    CHECK_STR(name, "kv1");
    CHECK(!vlt_vault_uri_parse("https://kv1.vault.azure.net/keys/k", name, sizeof name));
}

static void test_other_ids(void)
{
    char f[128];
    vlt_resource_id_fold("/SUBSCRIPTIONS/S1/resourcegroups/RG/providers/Microsoft.X/accounts/A", f,
                         sizeof f);
    CHECK_STR(f, "/subscriptions/s1/resourcegroups/rg/providers/microsoft.x/accounts/a");
    CHECK(vlt_resource_id_valid(
        "/SUBSCRIPTIONS/s/resourcegroups/g/PROVIDERS/Microsoft.X/accounts/a"));
    char t[] = "72F988BF-86F1-41AF-91AB-2D7CD011DB47";
    vlt_id_lower(t);
    CHECK_STR(t, "72f988bf-86f1-41af-91ab-2d7cd011db47");
    vlt_id_lower(NULL); /* no-op */
    char r1[] = "West US", r2[] = " East  US 2 ", r3[] = "westus";
    vlt_region_compact(r1);
    vlt_region_compact(r2);
    vlt_region_compact(r3);
    CHECK_STR(r1, "westus");
    CHECK_STR(r2, "eastus2");
    CHECK_STR(r3, "westus");
}

static void test_times(void)
{
#define T(s) cm_rfc3339_valid(s, strlen(s))
    CHECK(T("2026-11-02T10:00:00Z"));
    CHECK(T("2028-02-29T00:00:00Z")); /* leap year */
    CHECK(T("2000-02-29T00:00:00Z")); /* divisible by 400 */
    CHECK(T("2026-12-31T23:59:60Z")); /* a leap second */
    CHECK(T("2026-04-30T10:00:00+02:00"));
    CHECK(!T("2026-02-30T00:00:00Z"));
    CHECK(!T("2026-02-29T00:00:00Z")); /* not a leap year */
    CHECK(!T("1900-02-29T00:00:00Z")); /* divisible by 100, not by 400 */
    CHECK(!T("2026-04-31T00:00:00Z"));
    CHECK(!T("2026-06-31T00:00:00Z"));
    CHECK(!T("2026-13-01T00:00:00Z"));
    CHECK(!T("2026-00-10T00:00:00Z"));
    CHECK(!T("2026-01-00T00:00:00Z"));
    CHECK(!T("2026-01-32T00:00:00Z"));
    CHECK(!T("2026-01-10T24:00:00Z"));
    CHECK(!T("2026-01-10T23:60:00Z"));
#undef T
}

/* ---------- the decoder ---------- */

#define HDR                                                                                        \
    "{\"specversion\":\"1.0\",\"id\":\"e1\",\"source\":\"/s\",\"time\":\"2026-11-22T10:00:00Z\","
#define RES "\"subject\":\"/subscriptions/s/resourceGroups/g/providers/P.N/accounts/a\","

static int dec(const char *s, vlt_event *ev)
{
    return dec_decode(dc, s, strlen(s), ev, reason, sizeof reason);
}

static void good(const char *s)
{
    vlt_event ev;
    int rc = dec(s, &ev);
    if (rc != 0)
        fprintf(stderr, "  rejected: %s\n  %s\n", reason, s);
    CHECK(rc == 0);
}

static void bad(const char *s, const char *want)
{
    vlt_event ev;
    int rc = dec(s, &ev);
    if (rc == 0 || !strstr(reason, want))
        fprintf(stderr, "  rc %d reason '%s' lacks '%s'\n", rc, reason, want);
    CHECK(rc < 0 && strstr(reason, want) != NULL);
}

static void test_surrogates(void)
{
    good(HDR "\"type\":\"resource.deleted\"," RES "\"data\":{}}");
    good("{\"specversion\":\"1.0\",\"id\":\"e\\uD83D\\uDE00\",\"time\":\"2026-11-22T10:00:00Z\","
         "\"type\":\"resource.deleted\"," RES "\"data\":{}}");
    bad("{\"specversion\":\"1.0\",\"id\":\"e\\uD800\",\"time\":\"2026-11-22T10:00:00Z\","
        "\"type\":\"resource.deleted\"," RES "\"data\":{}}",
        "lone UTF-16 surrogate escape \\uD800");
    bad("{\"specversion\":\"1.0\",\"id\":\"e\\udc00x\",\"time\":\"2026-11-22T10:00:00Z\","
        "\"type\":\"resource.deleted\"," RES "\"data\":{}}",
        "lone UTF-16 surrogate escape \\udc00");
    /* a high surrogate followed by anything but a low one */
    bad("{\"specversion\":\"1.0\",\"id\":\"e\\uD800\\u0041\",\"time\":\"2026-11-22T10:00:00Z\","
        "\"type\":\"resource.deleted\"," RES "\"data\":{}}",
        "surrogate");
    bad("{\"specversion\":\"1.0\",\"id\":\"e\\uDBFF\\uDBFF\",\"time\":\"2026-11-22T10:00:00Z\","
        "\"type\":\"resource.deleted\"," RES "\"data\":{}}",
        "surrogate");
    /* anywhere in the message, ignored members and names included */
    bad(HDR "\"type\":\"resource.deleted\"," RES "\"data\":{},\"x\":[\"\\uDFFF\"]}", "surrogate");
    bad(HDR "\"type\":\"resource.deleted\"," RES "\"data\":{\"\\ud800\":1}}", "surrogate");
    /* yajl read the escape as a replacement character: the rejection names no id or
     * subject, rather than one that two different events could share */
    vlt_event ev;
    dec(HDR "\"type\":\"resource.deleted\"," RES "\"data\":{},\"x\":\"\\uD800\"}", &ev);
    CHECK(ev.id == NULL && ev.subject == NULL);
    CHECK_STR(ev.type_name, "resource.deleted");
    /* an escaped backslash starts no escape: \\uD800 is six characters of text */
    vlt_event lit;
    CHECK(dec("{\"specversion\":\"1.0\",\"id\":\"a\\\\uD800\",\"time\":\"2026-11-22T10:00:00Z\","
              "\"type\":\"resource.deleted\"," RES "\"data\":{}}",
              &lit) == 0);
    CHECK_STR(lit.id, "a\\uD800");
    /* but an escaped backslash followed by an escape is that escape */
    bad("{\"specversion\":\"1.0\",\"id\":\"a\\\\\\uD800\",\"time\":\"2026-11-22T10:00:00Z\","
        "\"type\":\"resource.deleted\"," RES "\"data\":{}}",
        "surrogate");
    good("{\"specversion\":\"1.0\",\"id\":\"a\\\"\\\\\\n\",\"time\":\"2026-11-22T10:00:00Z\","
         "\"type\":\"resource.deleted\"," RES "\"data\":{}}");
}

static void test_duplicate_members(void)
{
    bad(HDR "\"type\":\"resource.deleted\"," RES "\"data\":{},\"type\":\"resource.deleted\"}",
        "duplicate member 'type'");
    bad(HDR "\"type\":\"resource.moved\"," RES
            "\"data\":{\"tenant\":\"a\",\"subscription\":\"s\",\"tenant\":\"b\"}}",
        "duplicate member 'data.tenant'");
    bad(HDR "\"type\":\"resource.deleted\"," RES "\"data\":{\"extra\":{\"a\":1,\"b\":2,\"a\":3}}}",
        "duplicate member 'data.extra.a'");
    bad(HDR "\"type\":\"resource.deleted\"," RES "\"data\":{},\"ext\":[{\"a\":1,\"a\":1}]}",
        "duplicate member 'ext[].a'");
    bad(HDR "\"type\":\"resource.deleted\"," RES "\"data\":{},\"traceparent\":\"x\","
            "\"traceparent\":\"y\"}",
        "duplicate member 'traceparent'");
    /* the same name in different objects, or at different depths, is fine */
    good(HDR "\"type\":\"resource.deleted\"," RES
             "\"data\":{\"id\":\"x\",\"o\":{\"id\":1},\"p\":{\"id\":2}},"
             "\"ext\":[{\"a\":1},{\"a\":2}]}");
    /* many names in one object: the table grows and still sees the repeat */
    char big[40000];
    size_t w =
        (size_t)snprintf(big, sizeof big, HDR "\"type\":\"resource.deleted\"," RES "\"data\":{");
    for (int i = 0; i < 2000; i++)
        w += (size_t)snprintf(big + w, sizeof big - w, "\"m%d\":%d,", i, i);
    snprintf(big + w, sizeof big - w, "\"m1999\":0}}");
    bad(big, "duplicate member 'data.m1999'");
    big[w] = '\0';
    snprintf(big + w, sizeof big - w, "\"last\":0}}");
    good(big);
}

static void test_extensions(void)
{
    good(HDR "\"type\":\"resource.deleted\"," RES "\"data\":{},\"datacontenttype\":\"application/"
             "json\",\"dataschema\":\"https://example.com/s.json\",\"traceparent\":\"00-0af7651916"
             "cd43dd8448eb211c80319c-b7ad6b7169203331-01\",\"partitionkey\":\"t1\","
             "\"comexampleother\":{\"any\":[1,true,null]}}");
    bad(HDR "\"type\":\"resource.deleted\"," RES "\"data\":{},\"source\":\"/x\"}",
        "duplicate member 'source'");
    bad("{\"specversion\":\"1.0\",\"id\":\"e\",\"source\":\"/"
        "s\\u0001\",\"time\":\"2026-11-22T10:00:00"
        "Z\",\"type\":\"resource.deleted\"," RES "\"data\":{}}",
        "source is not a URI-reference");
    bad("{\"specversion\":\"1.0\",\"id\":\"e\",\"time\":\"2026-02-30T10:00:00Z\","
        "\"type\":\"resource.deleted\"," RES "\"data\":{}}",
        "time '2026-02-30T10:00:00Z' is not an RFC 3339 date-time");
    bad("{\"specversion\":\"1.0\",\"id\":\"e\",\"time\":\"2026-01-01T24:00:00Z\","
        "\"type\":\"resource.deleted\"," RES "\"data\":{}}",
        "is not an RFC 3339 date-time");
}

static void test_canonical_fields(void)
{
    vlt_event ev;
    CHECK(dec(HDR "\"type\":\"vault.upserted\",\"subject\":\"https://KV1.vault.azure.cn:443/\","
                  "\"data\":{\"tenant\":\"T-ONE\",\"region\":\"West US 2\",\"subscription\":\"S1\","
                  "\"soft_delete\":true,\"purge_protection\":true}}",
              &ev) == 0);
    CHECK_STR(ev.subject, "https://kv1.vault.azure.cn");
    CHECK_STR(ev.tenant, "t-one");
    CHECK_STR(ev.region, "westus2");
    CHECK_STR(ev.subscription, "S1"); /* not an identifier §2a folds */
    CHECK(dec(HDR
              "\"type\":\"key.created\",\"subject\":\"https://kv1.managedhsm.azure.net/keys/K1/\","
              "\"data\":{\"version\":\"ABCdef\",\"kty\":\"RSA-HSM\",\"size\":2048}}",
              &ev) == 0);
    CHECK_STR(ev.subject, "https://kv1.managedhsm.azure.net/keys/k1");
    CHECK_STR(ev.version, "abcdef");
    CHECK_STR(ev.kty, "RSA-HSM");
    CHECK(dec(HDR
              "\"type\":\"resource.cmk.enabled\",\"subject\":\"/subscriptions/S/resourcegroups/G"
              "/providers/P.N/accounts/A\",\"data\":{\"key_uri\":\"https://KV1.vault.azure.net:"
              "443/keys/K/V1/\"}}",
              &ev) == 0);
    CHECK_STR(ev.key_uri, "https://kv1.vault.azure.net/keys/k/v1");
    /* the resource id is kept as sent: the state knows its first spelling */
    CHECK_STR(ev.subject, "/subscriptions/S/resourcegroups/G/providers/P.N/accounts/A");
    CHECK(dec(HDR "\"type\":\"resource.identity.enabled\"," RES
                  "\"data\":{\"principal\":\"P-ABC\",\"tenant\":\"T\"}}",
              &ev) == 0);
    CHECK_STR(ev.principal, "p-abc");
    CHECK_STR(ev.tenant, "t");
    bad(HDR "\"type\":\"key.created\",\"subject\":\"https://kv1.vault.azure.net/keys/k/v1\","
            "\"data\":{\"version\":\"v1\",\"kty\":\"EC\"}}",
        "not a versionless key URI");
    bad(HDR "\"type\":\"vault.upserted\",\"subject\":\"https://kv1.vault.azure.net:8443\","
            "\"data\":{}}",
        "not a key vault URI");
    bad(HDR "\"type\":\"resource.cmk.enabled\"," RES
            "\"data\":{\"key_uri\":\"https://kv1.vault.azure.net/secrets/k\"}}",
        "data.key_uri 'https://kv1.vault.azure.net/secrets/k' is not a key URI");
    bad(HDR "\"type\":\"resource.cmk.enabled\"," RES
            "\"data\":{\"key_uri\":\"http://kv1.vault.azure.net/keys/k\"}}",
        "is not a key URI");
    /* a rejection quotes the URI as sent, not half made canonical */
    bad(HDR "\"type\":\"resource.cmk.enabled\"," RES
            "\"data\":{\"key_uri\":\"https://KV1.vault.azure.net:443/keys/K/V?x\"}}",
        "data.key_uri 'https://KV1.vault.azure.net:443/keys/K/V?x' is not a key URI");
    bad(HDR "\"type\":\"key.created\",\"subject\":\"https://KV1.vault.azure.net:443/keys/K/V/x\","
            "\"data\":{\"version\":\"v1\",\"kty\":\"EC\"}}",
        "subject 'https://KV1.vault.azure.net:443/keys/K/V/x' is not a versionless key URI");
    /* region is no field of resource.moved: dropped, not an error */
    good(HDR "\"type\":\"resource.moved\"," RES "\"data\":{\"tenant\":\"t\",\"subscription\":\"s\","
             "\"region\":\"x\"}}");
    bad(HDR "\"type\":\"resource.created\"," RES "\"data\":{\"kind\":\"Face\",\"tenant\":\"t\","
            "\"region\":\"   \",\"subscription\":\"s\"}}",
        "an empty string in data");
}

static unsigned perms(const char *list)
{
    vlt_event ev;
    char msg[512];
    snprintf(msg, sizeof msg,
             HDR "\"type\":\"vault.access.granted\",\"subject\":\"https://kv1.vault.azure.net\","
                 "\"data\":{\"principal\":\"p\",\"permissions\":%s}}",
             list);
    return dec(msg, &ev) == 0 ? ev.permissions : 0xdead;
}

static void test_permissions(void)
{
    CHECK(perms("[\"get\",\"wrapKey\",\"unwrapKey\"]") == VLT_PERM_ALL);
    CHECK(perms("[\"Get\",\"WrapKey\",\"UnwrapKey\"]") == VLT_PERM_ALL);
    CHECK(perms("[\"GET\",\"WRAPKEY\",\"unwrapkey\"]") == VLT_PERM_ALL);
    CHECK(perms("[\"all\"]") == VLT_PERM_ALL);
    CHECK(perms("[\"All\"]") == VLT_PERM_ALL);
    CHECK(perms("[\"get\"]") == VLT_PERM_GET);
    /* names cmkguard does not need are valid and carry no weight */
    CHECK(perms("[\"purge\",\"sign\",\"decrypt\",\"encrypt\",\"list\",\"update\",\"create\","
                "\"import\",\"delete\",\"recover\",\"backup\",\"restore\",\"verify\",\"release\","
                "\"rotate\",\"GetRotationPolicy\",\"setrotationpolicy\"]") == 0);
    CHECK(perms("[]") == 0);
    /* a name that is no Key Vault key permission is bad input */
    CHECK(perms("[\"get\",\"frobnicate\"]") == 0xdead);
    CHECK(strstr(reason, "'frobnicate' is not a Key Vault key permission") != NULL);
    CHECK(perms("[\"getx\"]") == 0xdead);
    CHECK(perms("[\"\"]") == 0xdead);
}

/* ---------- the reader: BOM, CRLF, blank lines ---------- */

static void test_reader(void)
{
    char path[] = "/tmp/cmkguard-ids-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    static const char text[] =
        "\xEF\xBB\xBF{\"a\":1}\r\n\r\n   \r\n{\"b\":2}\n\n\t\n{\"c\":\"\xEF\xBB\xBF\"}\r\n";
    CHECK(write(fd, text, sizeof text - 1) == (ssize_t)(sizeof text - 1));
    close(fd);
    cm_err err;
    cm_lines *r = cm_lines_open(path, 1024, &err);
    CHECK(r != NULL);
    const char *line;
    size_t n, no;
    CHECK(r && cm_lines_next(r, &line, &n, &no, &err) == 1 && n == 7 &&
          !memcmp(line, "{\"a\":1}", 7) && no == 1);
    CHECK(r && cm_lines_next(r, &line, &n, &no, &err) == 1 && n == 7 &&
          !memcmp(line, "{\"b\":2}", 7) && no == 4);
    /* a BOM elsewhere than at the start of the file is content */
    CHECK(r && cm_lines_next(r, &line, &n, &no, &err) == 1 && n == 11 && no == 7);
    CHECK(r && cm_lines_next(r, &line, &n, &no, &err) == 0);
    cm_lines_free(r);
    unlink(path);
}

/* ---------- the state: sources, spellings ---------- */

static void test_state(void)
{
    cm_err err;
    vlt_state *st = vlt_state_open(NULL, NULL, &err);
    CHECK(st != NULL);
    if (!st)
        return;
    vlt_state_mark_seen(st, "/a", "1");
    CHECK(vlt_state_seen(st, "/a", "1"));
    CHECK(!vlt_state_seen(st, "/b", "1"));
    CHECK(!vlt_state_seen(st, NULL, "1"));
    CHECK(!vlt_state_seen(st, "/a", "2"));
    /* the separator ends the source (the decoder lets no control character into one) */
    vlt_state_mark_seen(st, "/a", "x\x1fy");
    CHECK(vlt_state_seen(st, "/a", "x\x1fy"));
    CHECK(!vlt_state_seen(st, "/a", "x"));
    char longsrc[2000];
    memset(longsrc, 's', sizeof longsrc - 1);
    longsrc[sizeof longsrc - 1] = '\0';
    vlt_state_mark_seen(st, longsrc, "1");
    CHECK(vlt_state_seen(st, longsrc, "1"));
    longsrc[5] = 't';
    CHECK(!vlt_state_seen(st, longsrc, "1"));

    pol_ruleset *rs = pol_ruleset_empty();
    pol_engine *eng = pol_engine_new(rs, st, 0);
    aud_decision d = {0};
    static const char first[] =
        "/subscriptions/s1/resourceGroups/RG/providers/Microsoft.CognitiveServices/accounts/CS1";
    char msg[1024];
    snprintf(
        msg, sizeof msg,
        "{\"specversion\":\"1.0\",\"id\":\"r1\",\"type\":\"resource.created\",\"subject\":\"%s\","
        "\"time\":\"2026-11-02T10:00:00Z\",\"data\":{\"kind\":\"Face\",\"tenant\":\"t\","
        "\"region\":\"West Europe\",\"subscription\":\"s1\"}}",
        first);
    pol_engine_process(eng, msg, strlen(msg), "test", &d);
    CHECK(d.outcome == AUD_ALLOWED);
    CHECK_STR(vlt_state_resource_spelling(st, "/SUBSCRIPTIONS/S1/resourcegroups/rg/providers/"
                                              "microsoft.cognitiveservices/accounts/cs1"),
              first);
    CHECK(vlt_state_resource_spelling(st, "/subscriptions/s1/resourceGroups/RG/providers/"
                                          "Microsoft.CognitiveServices/accounts/CS2") == NULL);
    CHECK_STR(vlt_state_resource(st, first)->region, "westeurope");
    /* another spelling names the same resource, and the records keep the first */
    snprintf(
        msg, sizeof msg,
        "{\"specversion\":\"1.0\",\"id\":\"r2\",\"type\":\"resource.created\",\"subject\":\"%s\","
        "\"time\":\"2026-11-02T10:00:01Z\",\"data\":{\"kind\":\"Face\",\"tenant\":\"t\","
        "\"region\":\"r\",\"subscription\":\"s1\"}}",
        "/subscriptions/S1/resourcegroups/rg/providers/Microsoft.CognitiveServices/accounts/cs1");
    pol_engine_process(eng, msg, strlen(msg), "test", &d);
    CHECK(d.outcome == AUD_REJECTED && d.reason && strstr(d.reason, "already exists"));
    CHECK(d.nrecs == 1 && t_streq(d.recs[0].subject, first));
    snprintf(
        msg, sizeof msg,
        "{\"specversion\":\"1.0\",\"id\":\"r3\",\"type\":\"resource.deleted\",\"subject\":\"%s\","
        "\"time\":\"2026-11-02T10:00:02Z\",\"data\":{}}",
        "/subscriptions/s1/RESOURCEGROUPS/rg/providers/Microsoft.CognitiveServices/accounts/Cs1");
    pol_engine_process(eng, msg, strlen(msg), "test", &d);
    CHECK(d.outcome == AUD_ALLOWED && d.nrecs == 1 && t_streq(d.recs[0].subject, first));
    CHECK(vlt_state_resource(st, first) == NULL);
    CHECK(vlt_state_resource_spelling(st, first) == NULL);
    /* the same id from another source is another event; from the same one, a duplicate */
    snprintf(msg, sizeof msg,
             "{\"specversion\":\"1.0\",\"id\":\"r1\",\"source\":\"/"
             "other\",\"type\":\"resource.created\","
             "\"subject\":\"%s\",\"time\":\"2026-11-02T10:00:03Z\",\"data\":{\"kind\":\"Face\","
             "\"tenant\":\"t\",\"region\":\"r\",\"subscription\":\"s1\"}}",
             first);
    pol_engine_process(eng, msg, strlen(msg), "test", &d);
    CHECK(d.outcome == AUD_ALLOWED);
    pol_engine_process(eng, msg, strlen(msg), "test", &d);
    CHECK(d.outcome == AUD_DUPLICATE);
    aud_decision_clear(&d);
    pol_engine_free(eng);
    pol_ruleset_free(rs);
    vlt_state_free(st);
}

int main(void)
{
    dc = dec_decoder_new(0);
    test_vault_uris();
    test_key_uris();
    test_other_ids();
    test_times();
    test_surrogates();
    test_duplicate_members();
    test_extensions();
    test_canonical_fields();
    test_permissions();
    test_reader();
    test_state();
    dec_decoder_free(dc);
    T_DONE();
}
