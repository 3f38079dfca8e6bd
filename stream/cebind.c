#include "stream/cebind.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yajl/yajl_parse.h>

#include "common/util.h"

/* More headers than this on one message is bad input, not something to search. */
#define MAX_HEADERS 256
/* CloudEvents: attribute names are 1-20 lower-case letters or digits. */
#define MAX_EXT_NAME 20

/* The headers that map to attributes: the six of enum stm_ce_attr first. */
static const struct {
    const char *header, *member;
} known[] = {{"ce_specversion", "specversion"},
             {"ce_id", "id"},
             {"ce_source", "source"},
             {"ce_type", "type"},
             {"ce_time", "time"},
             {"ce_subject", "subject"},
             {"ce_dataschema", "dataschema"},
             {"content-type", "datacontenttype"}};
enum { K_DATASCHEMA = STM_CE__COUNT, K_CONTENT_TYPE, K__COUNT };

const char *stm_ce_header_name(enum stm_ce_attr a)
{
    return known[a].header;
}

void stm_ce_attrs_clear(stm_ce_attrs *a)
{
    for (int i = 0; i < STM_CE__COUNT; i++) {
        free(a->v[i]);
        a->v[i] = NULL;
    }
}

bool stm_ce_attrs_complete(const stm_ce_attrs *a)
{
    return a->v[STM_CE_SPECVERSION] && a->v[STM_CE_ID] && a->v[STM_CE_SOURCE] && a->v[STM_CE_TYPE];
}

static bool is_content_type(const char *name)
{
    return !strcasecmp(name, "content-type");
}

static int known_index(const char *name)
{
    if (is_content_type(name))
        return K_CONTENT_TYPE;
    if (strncmp(name, "ce_", 3))
        return -1;
    for (int i = 0; i < K_CONTENT_TYPE; i++)
        if (!strcmp(known[i].header, name))
            return i;
    return -1;
}

bool stm_ce_is_binary(const stm_header *h, size_t n)
{
    bool ce = false;
    for (size_t i = 0; i < n; i++) {
        if (is_content_type(h[i].name) && h[i].len >= 23 &&
            !strncasecmp(h[i].value, "application/cloudevents", 23))
            return false; /* structured mode, whatever else the headers say */
        ce |= !strncmp(h[i].name, "ce_", 3);
    }
    return ce;
}

/* Text a header can carry into JSON: UTF-8, and no NUL (which C strings would cut). */
static bool text_ok(const char *v, size_t n)
{
    return !n || (!memchr(v, 0, n) && cm_utf8_valid(v, n));
}

/* The extension attribute a header names (ce_NAME), or NULL. */
static const char *extension_name(const char *name)
{
    if (strncmp(name, "ce_", 3))
        return NULL;
    const char *x = name + 3;
    size_t n = strlen(x);
    if (!n || n > MAX_EXT_NAME || !strcmp(x, "data") || !strcmp(x, "datacontenttype"))
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (!((x[i] >= 'a' && x[i] <= 'z') || (x[i] >= '0' && x[i] <= '9')))
            return NULL;
    return x;
}

/* Media types whose data is JSON: application/json, anything +json, text/json. */
static bool json_media(const char *v, size_t n)
{
    size_t e = 0;
    while (e < n && v[e] != ';')
        e++;
    while (e && (v[e - 1] == ' ' || v[e - 1] == '\t'))
        e--;
    size_t s = 0;
    while (s < e && (v[s] == ' ' || v[s] == '\t'))
        s++;
    const char *m = v + s;
    size_t l = e - s;
    return (l == 16 && !strncasecmp(m, "application/json", 16)) ||
           (l == 9 && !strncasecmp(m, "text/json", 9)) ||
           (l > 5 && !strncasecmp(m + l - 5, "+json", 5) && memchr(m, '/', l));
}

/* Whether v ends inside a string. */
static bool open_string(const char *v, size_t n)
{
    bool in = false;
    for (size_t i = 0; i < n; i++) {
        if (in && v[i] == '\\')
            i++;
        else if (v[i] == '"')
            in = !in;
    }
    return in;
}

/* Parses all of v as one JSON text: 0, -1 when yajl refuses it (*at_end: at its end),
 * -2 when it ends inside a string: yajl ends a text after a complete value without
 * looking at a string token still open (`{}"abc` passes), so that is checked here. */
static int parse_all(yajl_handle h, const char *v, size_t n, bool *at_end)
{
    if (yajl_parse(h, (const unsigned char *)v, n) != yajl_status_ok)
        return -1;
    *at_end = true;
    if (yajl_complete_parse(h) != yajl_status_ok)
        return -1;
    return open_string(v, n) ? -2 : 0;
}

/* Whether v is exactly one JSON value; if not, why in why. */
static bool json_value(const char *v, size_t n, char *why, size_t wn)
{
    yajl_handle h = yajl_alloc(NULL, NULL, NULL);
    if (!h) {
        snprintf(why, wn, "out of memory");
        return false;
    }
    bool at_end = false;
    int rc = parse_all(h, v, n, &at_end);
    if (rc == -2)
        snprintf(why, wn, "at byte %zu: a string left open after the value", n);
    if (rc == -1) {
        unsigned char *e = yajl_get_error(h, 0, (const unsigned char *)v, n);
        snprintf(why, wn, "at byte %zu: %s", at_end ? n : yajl_get_bytes_consumed(h),
                 e ? (const char *)e : "parse error");
        for (char *p = why; *p; p++)
            if (*p == '\n')
                *p = ' ';
        for (size_t l = strlen(why); l && (why[l - 1] == ' ' || why[l - 1] == '.'); l--)
            why[l - 1] = '\0';
        yajl_free_error(h, e);
    }
    yajl_free(h);
    return rc == 0;
}

bool stm_ce_is_json(const char *v, size_t n)
{
    char why[256];
    return json_value(v, n, why, sizeof why);
}

__attribute__((format(printf, 3, 4))) static int fail(char *reason, size_t rn, const char *fmt, ...)
{
    if (!*reason) { /* the first problem is the one reported */
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(reason, rn, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static int member(cm_buf *b, const char *name, const char *v, size_t n)
{
    int rc = b->len > 1 ? cm_buf_addc(b, ',') : 0;
    rc |= cm_json_cstr(b, name);
    rc |= cm_buf_addc(b, ':');
    return rc | cm_json_str(b, v ? v : "", n);
}

int stm_ce_from_binary(const stm_header *h, size_t n, const char *value, size_t len, size_t max,
                       cm_buf *out, stm_ce_attrs *a, char *reason, size_t reason_len)
{
    stm_ce_attrs_clear(a);
    *reason = '\0';
    if (n > MAX_HEADERS)
        return fail(reason, reason_len, "message has %zu headers, over the limit of %d", n,
                    MAX_HEADERS);
    const stm_header *k[K__COUNT] = {0};
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        int j = known_index(h[i].name);
        if (j < 0)
            continue;
        if (k[j]) {
            rc = fail(reason, reason_len, "duplicate header '%s'", h[i].name);
            continue;
        }
        k[j] = &h[i];
        if (!text_ok(h[i].value, h[i].len))
            rc = fail(reason, reason_len, "header '%s' is not valid UTF-8 text", h[i].name);
        else if (j < STM_CE__COUNT)
            a->v[j] = cm_strndup(h[i].value ? h[i].value : "", h[i].len);
    }
    if (rc == 0 && k[K_CONTENT_TYPE] &&
        !json_media(k[K_CONTENT_TYPE]->value, k[K_CONTENT_TYPE]->len))
        rc =
            fail(reason, reason_len,
                 "binary mode: content-type '%.*s' is not JSON, and the data must be a JSON object",
                 (int)(k[K_CONTENT_TYPE]->len > 200 ? 200 : k[K_CONTENT_TYPE]->len),
                 k[K_CONTENT_TYPE]->value ? k[K_CONTENT_TYPE]->value : "");
    char why[256];
    if (rc == 0 && len && !json_value(value, len, why, sizeof why))
        rc = fail(reason, reason_len, "binary mode: the message value (data) is not valid JSON %s",
                  why);
    if (rc < 0)
        return -1;

    /* The same event in structured mode: every string escaped, data spliced in as the one
     * JSON value it was checked to be, so no header or value can add a member. */
    cm_buf b;
    cm_buf_init(&b, max ? max : 1);
    int full = cm_buf_addc(&b, '{'); /* any failed append: over the limit */
    for (int j = 0; j < K__COUNT; j++)
        if (k[j])
            full |= member(&b, known[j].member, k[j]->value, k[j]->len);
    for (size_t i = 0; i < n; i++) {
        const char *x = extension_name(h[i].name);
        if (!x || known_index(h[i].name) >= 0 || !text_ok(h[i].value, h[i].len))
            continue; /* accepted and ignored, as an unusable extension is */
        bool first = true;
        for (size_t p = 0; first && p < i; p++)
            first = strcmp(h[p].name, h[i].name) != 0;
        if (first)
            full |= member(&b, x, h[i].value, h[i].len);
    }
    if (len) {
        if (b.len > 1)
            full |= cm_buf_addc(&b, ',');
        full |= cm_buf_adds(&b, "\"data\":");
        full |= cm_buf_add(&b, value, len);
    }
    full |= cm_buf_addc(&b, '}');
    if (full || b.len > max) {
        cm_buf_free(&b);
        return fail(reason, reason_len,
                    "message is over the limit of %zu bytes once written in structured mode", max);
    }
    cm_buf_reset(out);
    rc = cm_buf_add(out, b.p, b.len);
    cm_buf_free(&b);
    if (rc < 0)
        return fail(reason, reason_len, "message is too large");
    return 0;
}

/* ---------- reading a structured-mode event's attributes ---------- */

struct reader {
    stm_ce_attrs *a;
    int depth;
    int key;       /* the attribute the top-level member names, or -1 */
    unsigned seen; /* attributes met */
    bool object, dup;
};

static int rd_string(void *ctx, const unsigned char *s, size_t n)
{
    struct reader *r = ctx;
    if (r->depth == 1 && r->key >= 0 && n && !memchr(s, 0, n))
        r->a->v[r->key] = cm_strndup((const char *)s, n);
    return 1;
}

static int rd_start_map(void *ctx)
{
    struct reader *r = ctx;
    if (r->depth++ == 0)
        r->object = true;
    r->key = -1;
    return 1;
}

static int rd_map_key(void *ctx, const unsigned char *k, size_t n)
{
    struct reader *r = ctx;
    if (r->depth != 1)
        return 1;
    r->key = -1;
    for (int i = 0; i < STM_CE__COUNT; i++)
        if (strlen(known[i].member) == n && !memcmp(known[i].member, k, n)) {
            if (r->seen & (1u << i))
                r->dup = true;
            r->seen |= 1u << i;
            r->key = r->dup ? -1 : i;
        }
    return 1;
}

static int rd_end(void *ctx)
{
    struct reader *r = ctx;
    r->depth--;
    r->key = -1;
    return 1;
}

static int rd_start_array(void *ctx)
{
    struct reader *r = ctx;
    r->depth++;
    return 1;
}

static const yajl_callbacks rd_callbacks = {
    .yajl_string = rd_string,
    .yajl_start_map = rd_start_map,
    .yajl_map_key = rd_map_key,
    .yajl_end_map = rd_end,
    .yajl_start_array = rd_start_array,
    .yajl_end_array = rd_end,
};

bool stm_ce_read(const char *json, size_t n, stm_ce_attrs *a)
{
    stm_ce_attrs_clear(a);
    struct reader r = {.a = a, .key = -1};
    yajl_handle h = yajl_alloc(&rd_callbacks, NULL, &r);
    if (!h)
        return false;
    bool at_end = false;
    int rc = parse_all(h, json, n, &at_end);
    yajl_free(h);
    return rc == 0 && r.object && !r.dup;
}

/* The string value that ends just before end (at its closing quote), when it holds no
 * escape and is preceded by `"name":"`; its first byte, or NULL. */
static const char *tail_value(const char *start, const char *end, const char *name)
{
    const char *q = end;
    while (q > start && q[-1] != '"') {
        if (q[-1] == '\\')
            return NULL;
        q--;
    }
    size_t nl = strlen(name);
    if (q == end || (size_t)(q - start) < nl + 4)
        return NULL;
    const char *m = q - nl - 4; /* "name":" */
    if (m[0] != '"' || memcmp(m + 1, name, nl) != 0 || memcmp(m + 1 + nl, "\":\"", 3) != 0)
        return NULL;
    return q;
}

static char *span_dup(const char *p, const char *end)
{
    return cm_strndup(p, (size_t)(end - p));
}

bool stm_ce_read_record(const char *json, size_t n, const char *chain, uint64_t seq,
                        stm_ce_attrs *a)
{
    static const char fixed[] = "\"source\":\"cmkguard\",\"specversion\":\"1.0\"";
    char id[160];
    int idn = snprintf(id, sizeof id, "\"id\":\"%s:%llu\",", chain, (unsigned long long)seq);
    const char *end = json + n;
    if (n < 2 || end[-1] != '}' || end[-2] != '"' || idn < 0 || (size_t)idn >= sizeof id)
        return stm_ce_read(json, n, a);
    const char *type = tail_value(json, end - 2, "type");
    const char *time = type && type - json >= 10 ? tail_value(json, type - 10, "time") : NULL;
    if (!time || time - json < 10 || memcmp(type - 10, "\",\"type\":\"", 10) != 0 ||
        memcmp(time - 10, "\",", 2) != 0)
        return stm_ce_read(json, n, a);
    const char *subject = NULL, *before = time - 10; /* the closing quote of what precedes */
    const size_t fl = sizeof fixed - 1;
    if ((size_t)(before - json) >= fl - 1 && memcmp(before - (fl - 1), fixed, fl) == 0) {
        /* no subject: specversion precedes time */
    } else if ((subject = tail_value(json, before, "subject")) == NULL ||
               (size_t)(subject - json) < 12 + fl || subject[-12] != ',' ||
               memcmp(subject - 12 - fl, fixed, fl) != 0) {
        return stm_ce_read(json, n, a);
    }
    if (!memmem(json, n, id, (size_t)idn))
        return stm_ce_read(json, n, a);
    stm_ce_attrs_clear(a);
    a->v[STM_CE_SPECVERSION] = cm_strdup("1.0");
    a->v[STM_CE_ID] = cm_strndup(id + 6, (size_t)idn - 8);
    a->v[STM_CE_SOURCE] = cm_strdup("cmkguard");
    a->v[STM_CE_TYPE] = span_dup(type, end - 2);
    a->v[STM_CE_TIME] = span_dup(time, type - 10);
    if (subject)
        a->v[STM_CE_SUBJECT] = span_dup(subject, before);
    return true;
}

/* ---------- header lists as bytes ---------- */

int stm_ce_pack(cm_buf *b, const char *name, const char *value)
{
    int rc = cm_buf_add(b, name, strlen(name) + 1);
    return rc < 0 ? rc : cm_buf_add(b, value, strlen(value) + 1);
}

bool stm_ce_unpack(const char *p, size_t n, size_t *off, const char **name, const char **value)
{
    if (!p || *off >= n)
        return false;
    const char *nul = memchr(p + *off, 0, n - *off);
    if (!nul || (size_t)(nul - p) + 1 >= n)
        return false;
    const char *end = memchr(nul + 1, 0, n - (size_t)(nul + 1 - p));
    if (!end)
        return false;
    *name = p + *off;
    *value = nul + 1;
    *off = (size_t)(end - p) + 1;
    return true;
}
