/* The codecs of common/util.c: hex, base64, RFC 8785 strings, UTF-8, RFC 3339, integers. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "tests/unit/t.h"
#include "tests/unit/t_seed.h"

static void test_hex(void)
{
    char out[16];
    const uint8_t d[] = {0x00, 0xff, 0x1a, 0x80};
    cm_hex(d, sizeof d, out);
    CHECK_STR(out, "00ff1a80");
    cm_hex(d, 0, out);
    CHECK_STR(out, "");
    uint8_t b[4] = {0};
    CHECK(cm_unhex("00FF1a80", b, 4) == 0 && !memcmp(b, d, 4)); /* either case */
    CHECK(cm_unhex("00ff1a8", b, 4) == -1);                     /* too short */
    CHECK(cm_unhex("00ff1a800", b, 4) == -1);                   /* too long */
    CHECK(cm_unhex("00ff1g80", b, 4) == -1);                    /* not a digit */
    CHECK(cm_unhex(" 0ff1a80", b, 4) == -1);
    CHECK(cm_unhex("", b, 0) == 0);
    /* random bytes survive the round trip */
    t_seed();
    int bad = 0;
    for (int i = 0; i < 1000; i++) {
        uint8_t r[32], back[32];
        char h[65];
        size_t n = t_rand() % 33;
        for (size_t j = 0; j < n; j++)
            r[j] = (uint8_t)t_rand();
        cm_hex(r, n, h);
        bad += strlen(h) != 2 * n || cm_unhex(h, back, n) != 0 || memcmp(r, back, n) != 0;
    }
    CHECK(bad == 0);
}

static bool b64_is(const char *in, const char *want)
{
    cm_buf b;
    cm_buf_init(&b, 0);
    int rc = cm_b64_encode((const uint8_t *)in, strlen(in), &b);
    bool ok = rc == 0 && t_streq(b.p ? b.p : "", want);
    cm_buf_free(&b);
    char text[32]; /* the same characters written in place */
    cm_b64_text((const uint8_t *)in, strlen(in), text);
    ok &= t_streq(text, want) && strlen(text) == CM_B64_LEN(strlen(in));
    uint8_t out[16];
    size_t n = 99;
    ok &= cm_b64_decode(want, strlen(want), out, sizeof out, &n) == 0 && n == strlen(in) &&
          !memcmp(out, in, n);
    return ok;
}

static int b64_dec(const char *s)
{
    uint8_t out[16];
    size_t n;
    return cm_b64_decode(s, strlen(s), out, sizeof out, &n);
}

static void test_b64(void)
{
    /* RFC 4648 §10 */
    CHECK(b64_is("", ""));
    CHECK(b64_is("f", "Zg=="));
    CHECK(b64_is("fo", "Zm8="));
    CHECK(b64_is("foo", "Zm9v"));
    CHECK(b64_is("foob", "Zm9vYg=="));
    CHECK(b64_is("fooba", "Zm9vYmE="));
    CHECK(b64_is("foobar", "Zm9vYmFy"));
    CHECK(b64_is("\xff\xfe\xfd", "//79"));
    CHECK(b64_is("\xfb\xff", "+/8="));
    CHECK(b64_dec("Zg=") == -1);      /* not a multiple of 4 */
    CHECK(b64_dec("Zm9*") == -1);     /* not in the alphabet */
    CHECK(b64_dec("Zm9-") == -1);     /* the URL alphabet is another one */
    CHECK(b64_dec("Zg==Zm9v") == -1); /* padding before the end */
    CHECK(b64_dec("Z===") == -1);     /* at most two '=' */
    CHECK(b64_dec("====") == -1);
    CHECK(b64_dec("Zg=v") == -1); /* data after padding */
    CHECK(b64_dec("Zm9v\n") == -1);
    CHECK(cm_b64_decode("Zm\0v", 4, (uint8_t[4]){0}, 4, &(size_t){0}) == -1); /* NUL */
    /* the output bound holds */
    uint8_t small[5];
    size_t n;
    CHECK(cm_b64_decode("Zm9vYmFy", 8, small, sizeof small, &n) == -1);
    CHECK(cm_b64_decode("Zm9vYmE=", 8, small, sizeof small, &n) == 0 && n == 5);
    /* leftover bits in the last quantum are not checked today: "Zh==" reads as "f" */
    CHECK(cm_b64_decode("Zh==", 4, small, sizeof small, &n) == 0 && n == 1 && small[0] == 'f');
    /* encoding into a bounded buffer fails at the bound */
    cm_buf b;
    cm_buf_init(&b, 7);
    CHECK(cm_b64_encode((const uint8_t *)"foobar", 6, &b) == -1);
    cm_buf_free(&b);
}

static bool json_is(const char *in, size_t n, const char *want)
{
    cm_buf b;
    cm_buf_init(&b, 0);
    bool ok = cm_json_str(&b, in, n) == 0 && t_streq(b.p, want);
    if (!ok)
        fprintf(stderr, "  json: got %s, want %s\n", b.p ? b.p : "(none)", want);
    cm_buf_free(&b);
    return ok;
}

#define JSON_IS(lit, want) json_is((lit), sizeof(lit) - 1, (want))

static void test_json(void)
{
    CHECK(JSON_IS("", "\"\""));
    CHECK(JSON_IS("plain / text", "\"plain / text\"")); /* '/' is not escaped */
    CHECK(JSON_IS("a\"b\\c", "\"a\\\"b\\\\c\""));
    CHECK(JSON_IS("\b\t\n\f\r", "\"\\b\\t\\n\\f\\r\""));
    CHECK(JSON_IS("\x01\x1f", "\"\\u0001\\u001f\""));
    CHECK(JSON_IS("\x0b", "\"\\u000b\"")); /* vertical tab has no short form */
    CHECK(JSON_IS("a\0b", "\"a\\u0000b\""));
    CHECK(JSON_IS("\x7f", "\"\x7f\"")); /* DEL is not a control character to JSON */
    CHECK(JSON_IS("caf\xc3\xa9 \xe2\x80\xa8 \xf0\x9f\x94\x91",
                  "\"caf\xc3\xa9 \xe2\x80\xa8 \xf0\x9f\x94\x91\"")); /* non-ASCII as is */
    cm_buf b;
    cm_buf_init(&b, 0);
    CHECK(cm_json_cstr(&b, NULL) == 0 && t_streq(b.p, "null"));
    cm_buf_reset(&b);
    CHECK(cm_json_cstr(&b, "x\n") == 0 && t_streq(b.p, "\"x\\n\""));
    cm_buf_free(&b);
    cm_buf_init(&b, 5); /* "\"a\\n\"" is 5 bytes; one byte less fails */
    CHECK(cm_json_str(&b, "a\n", 2) == 0 && b.len == 5);
    cm_buf_free(&b);
    cm_buf_init(&b, 4);
    CHECK(cm_json_str(&b, "a\n", 2) == -1);
    cm_buf_free(&b);
}

/* RFC 8785's escaping, byte by byte, as the reference for the word-at-a-time scan. */
static void json_ref(const unsigned char *s, size_t n, char *out)
{
    *out++ = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = s[i];
        const char *e = c == '"'    ? "\\\""
                        : c == '\\' ? "\\\\"
                        : c == '\b' ? "\\b"
                        : c == '\t' ? "\\t"
                        : c == '\n' ? "\\n"
                        : c == '\f' ? "\\f"
                        : c == '\r' ? "\\r"
                                    : NULL;
        if (e)
            out += snprintf(out, 8, "%s", e);
        else if (c < 0x20)
            out += snprintf(out, 8, "\\u%04x", c);
        else
            *out++ = (char)c;
    }
    *out++ = '"';
    *out = '\0';
}

/* Random strings, the bytes JSON escapes among those it does not, at every offset
 * within an eight-byte word: the same text as the byte-by-byte reference. */
static void test_json_random(void)
{
    t_seed();
    static const unsigned char pick[] = {0x00, 0x01, 0x1f, 0x20, '"', '\\', '\n', 0x7f,
                                         0x80, 0xa2, 0xdc, 0xff, '!', '#',  '[',  ']'};
    unsigned char in[80];
    char want[80 * 6 + 3];
    cm_buf b;
    cm_buf_init(&b, 0);
    int bad = 0;
    for (int k = 0; k < 20000; k++) {
        size_t n = t_rand() % sizeof in;
        for (size_t i = 0; i < n; i++)
            in[i] =
                t_rand() % 4 ? (unsigned char)('a' + t_rand() % 26) : pick[t_rand() % sizeof pick];
        json_ref(in, n, want);
        cm_buf_reset(&b);
        bad += cm_json_str(&b, (const char *)in, n) != 0 || !t_streq(b.p, want);
    }
    CHECK(bad == 0);
    cm_buf_free(&b);
}

#define UTF8(lit) cm_utf8_valid((lit), sizeof(lit) - 1)

static void test_utf8(void)
{
    CHECK(UTF8(""));
    CHECK(UTF8("ascii"));
    CHECK(UTF8("a\0b"));
    CHECK(UTF8("\xc2\x80"));                  /* U+0080 */
    CHECK(UTF8("\xc3\xa9"));                  /* U+00E9 */
    CHECK(UTF8("\xe0\xa0\x80"));              /* U+0800 */
    CHECK(UTF8("\xed\x9f\xbf"));              /* U+D7FF */
    CHECK(UTF8("\xee\x80\x80"));              /* U+E000 */
    CHECK(UTF8("\xef\xbf\xbf"));              /* U+FFFF */
    CHECK(UTF8("\xf0\x90\x80\x80"));          /* U+10000 */
    CHECK(UTF8("\xf4\x8f\xbf\xbf"));          /* U+10FFFF */
    CHECK(!UTF8("\xc0\x80"));                 /* overlong NUL */
    CHECK(!UTF8("\xc1\xbf"));                 /* overlong */
    CHECK(!UTF8("\xe0\x80\x80"));             /* overlong */
    CHECK(!UTF8("\xe0\x9f\xbf"));             /* overlong U+07FF */
    CHECK(!UTF8("\xf0\x80\x80\x80"));         /* overlong */
    CHECK(!UTF8("\xf0\x8f\xbf\xbf"));         /* overlong U+FFFF */
    CHECK(!UTF8("\xed\xa0\x80"));             /* surrogate U+D800 */
    CHECK(!UTF8("\xed\xbf\xbf"));             /* surrogate U+DFFF */
    CHECK(!UTF8("\xed\xa0\xbd\xed\xb2\xa9")); /* a CESU-8 pair */
    CHECK(!UTF8("\xf4\x90\x80\x80"));         /* past U+10FFFF */
    CHECK(!UTF8("\xf5\x80\x80\x80"));
    CHECK(!UTF8("\xff"));
    CHECK(!UTF8("\xfe"));
    CHECK(!UTF8("\x80"));  /* a lone continuation byte */
    CHECK(!UTF8("a\xc3")); /* truncated */
    CHECK(!UTF8("\xe2\x82"));
    CHECK(!UTF8("\xf0\x9f\x94"));
    CHECK(!UTF8("\xc3\x28")); /* not a continuation byte */
    CHECK(!UTF8("\xe2\x28\xa1"));
    CHECK(cm_utf8_valid("\xc3\xa9", 1) == false); /* n cuts the sequence */
}

#define TS(lit) cm_rfc3339_valid((lit), sizeof(lit) - 1)

static void test_rfc3339(void)
{
    CHECK(TS("2026-11-01T09:00:00Z"));
    CHECK(TS("2026-11-01t09:00:00z"));
    CHECK(TS("2026-11-01T09:00:00.5Z"));
    CHECK(TS("2026-11-01T09:00:00.123456789Z"));
    CHECK(!TS("2026-11-01T09:00:00.1234567890Z")); /* more than nine digits */
    CHECK(!TS("2026-11-01T09:00:00.Z"));
    CHECK(TS("2026-11-01T09:00:00+05:30"));
    CHECK(TS("2026-11-01T09:00:00-23:59"));
    CHECK(!TS("2026-11-01T09:00:00+24:00"));
    CHECK(!TS("2026-11-01T09:00:00+05:60"));
    CHECK(!TS("2026-11-01T09:00:00+0530"));
    CHECK(!TS("2026-11-01T09:00:00"));   /* no zone */
    CHECK(!TS("2026-11-01T09:00Z"));     /* no seconds */
    CHECK(!TS("2026-11-01 09:00:00Z"));  /* a space for T */
    CHECK(!TS("2026-11-01T09:00:00Z ")); /* trailing junk */
    CHECK(!TS("2026-11-01T09:00:00ZZ"));
    CHECK(TS("2024-02-29T00:00:00Z"));
    CHECK(TS("2000-02-29T00:00:00Z"));
    CHECK(!TS("2026-02-29T00:00:00Z"));
    CHECK(!TS("1900-02-29T00:00:00Z"));
    CHECK(!TS("2026-04-31T00:00:00Z"));
    CHECK(!TS("2026-13-01T00:00:00Z"));
    CHECK(!TS("2026-00-01T00:00:00Z"));
    CHECK(!TS("2026-01-00T00:00:00Z"));
    CHECK(!TS("2026-01-01T24:00:00Z"));
    CHECK(!TS("2026-01-01T23:60:00Z"));
    CHECK(TS("2016-12-31T23:59:60Z")); /* a leap second */
    CHECK(!TS("2016-12-31T23:59:61Z"));
    CHECK(!TS("+2026-01-01T00:00:00Z"));
    CHECK(!cm_rfc3339_valid("2026-11-01T09:00:00Z", 19)); /* n cuts it */
}

static void test_i64(void)
{
    int64_t v = 7;
    CHECK(cm_parse_i64("0", &v) && v == 0);
    CHECK(cm_parse_i64("-1", &v) && v == -1);
    CHECK(cm_parse_i64("9223372036854775807", &v) && v == INT64_MAX);
    CHECK(cm_parse_i64("-9223372036854775808", &v) && v == INT64_MIN);
    v = 7;
    CHECK(!cm_parse_i64("9223372036854775808", &v) && v == 7); /* overflow */
    CHECK(!cm_parse_i64("-9223372036854775809", &v) && v == 7);
    CHECK(!cm_parse_i64("99999999999999999999999", &v) && v == 7);
    CHECK(!cm_parse_i64("", &v));
    CHECK(!cm_parse_i64(NULL, &v));
    CHECK(!cm_parse_i64("12a", &v));
    CHECK(!cm_parse_i64("12 ", &v));
    CHECK(!cm_parse_i64("0x10", &v));
    CHECK(!cm_parse_i64("1.5", &v));
    CHECK(!cm_parse_i64("-", &v));
    CHECK(v == 7);
    /* strtoll's leniency at the front is kept today: leading blanks and a '+' */
    CHECK(cm_parse_i64(" 12", &v) && v == 12);
    CHECK(cm_parse_i64("+5", &v) && v == 5);
    CHECK(cm_parse_i64("007", &v) && v == 7);
}

int main(void)
{
    test_hex();
    test_b64();
    test_json();
    test_json_random();
    test_utf8();
    test_rfc3339();
    test_i64();
    T_DONE();
}
