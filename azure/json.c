/* Reading Azure JSON: a bounded tree parse and members looked up as Azure writes them. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "azure/internal.h"

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)tolower((unsigned char)c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The \uXXXX escape at s (s[0] == '\\', s[1] == 'u'), or -1. */
static long uescape(const char *s, size_t left)
{
    if (left < 6 || s[0] != '\\' || s[1] != 'u')
        return -1;
    long v = 0;
    for (int i = 2; i < 6; i++) {
        int h = hexval(s[i]);
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

/* What yajl's tree parser does not check: nesting depth and lone surrogate escapes
 * (yajl would turn them into '?', so two different ids could collide). */
static int prescan(const char *m, size_t n, char *reason, size_t rn)
{
    size_t depth = 0;
    bool in_str = false;
    for (size_t i = 0; i < n; i++) {
        char c = m[i];
        if (in_str) {
            if (c == '"') {
                in_str = false;
            } else if (c == '\\' && i + 1 < n) {
                if (m[i + 1] == 'u') {
                    long v = uescape(m + i, n - i);
                    if (v >= 0xD800 && v <= 0xDBFF) {
                        long lo = uescape(m + i + 6, n - i - 6);
                        if (lo < 0xDC00 || lo > 0xDFFF) {
                            snprintf(reason, rn,
                                     "a lone surrogate escape (\\u%04lX) is not a "
                                     "character",
                                     v);
                            return -1;
                        }
                        i += 6;
                    } else if (v >= 0xDC00 && v <= 0xDFFF) {
                        snprintf(reason, rn,
                                 "a lone surrogate escape (\\u%04lX) is not a "
                                 "character",
                                 v);
                        return -1;
                    }
                }
                i++;
            }
            continue;
        }
        if (c == '"') {
            in_str = true;
        } else if (c == '{' || c == '[') {
            if (++depth > AZ_MAX_DEPTH) {
                snprintf(reason, rn, "nesting deeper than %d", AZ_MAX_DEPTH);
                return -1;
            }
        } else if ((c == '}' || c == ']') && depth) {
            depth--;
        }
    }
    return 0;
}

static size_t trimmed(const char *s, const char **start)
{
    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        n--;
    *start = s;
    return n;
}

static bool name_eq(const char *key, const char *name)
{
    const char *k;
    size_t kn = trimmed(key, &k);
    return kn == strlen(name) && strncasecmp(k, name, kn) == 0;
}

/* An object with one member name twice (as Azure compares names) is ambiguous. */
static const char *dup_name(yajl_val v, int depth)
{
    if (depth > AZ_MAX_DEPTH + 1)
        return NULL;
    if (YAJL_IS_OBJECT(v)) {
        for (size_t i = 0; i < v->u.object.len; i++) {
            const char *a;
            size_t an = trimmed(v->u.object.keys[i], &a);
            for (size_t j = i + 1; j < v->u.object.len; j++) {
                const char *b;
                size_t bn = trimmed(v->u.object.keys[j], &b);
                if (an == bn && strncasecmp(a, b, an) == 0)
                    return v->u.object.keys[i];
            }
            const char *d = dup_name(v->u.object.values[i], depth + 1);
            if (d)
                return d;
        }
    } else if (YAJL_IS_ARRAY(v)) {
        for (size_t i = 0; i < v->u.array.len; i++) {
            const char *d = dup_name(v->u.array.values[i], depth + 1);
            if (d)
                return d;
        }
    }
    return NULL;
}

yajl_val az_json_parse(const char *msg, size_t n, char *reason, size_t rn)
{
    if (!cm_utf8_valid(msg, n)) {
        snprintf(reason, rn, "not valid UTF-8");
        return NULL;
    }
    if (memchr(msg, '\0', n)) {
        snprintf(reason, rn, "not JSON: a NUL byte");
        return NULL;
    }
    if (prescan(msg, n, reason, rn) < 0)
        return NULL;
    char *text = cm_strndup(msg, n);
    char err[256];
    err[0] = '\0';
    yajl_val v = yajl_tree_parse(text, err, sizeof err);
    free(text);
    if (!v) {
        for (char *p = err; *p; p++)
            if (*p == '\n' || *p == '\r')
                *p = ' ';
        snprintf(reason, rn, "not JSON: %s", err[0] ? err : "parse error");
        return NULL;
    }
    /* yajl ends a text after a complete value without looking at a string token still
     * open after it (`[…]"abc` passes): an object's or array's text ends with its
     * closing bracket. */
    size_t end = n;
    while (end > 0 && (msg[end - 1] == ' ' || msg[end - 1] == '\t' || msg[end - 1] == '\r' ||
                       msg[end - 1] == '\n'))
        end--;
    if ((YAJL_IS_OBJECT(v) || YAJL_IS_ARRAY(v)) && end > 0 && msg[end - 1] != '}' &&
        msg[end - 1] != ']') {
        snprintf(reason, rn, "not JSON: trailing garbage after byte %zu", end);
        yajl_tree_free(v);
        return NULL;
    }
    const char *d = dup_name(v, 0);
    if (d) {
        snprintf(reason, rn, "member name '%.100s' given twice in one object", d);
        yajl_tree_free(v);
        return NULL;
    }
    return v;
}

yajl_val az_get(yajl_val obj, const char *name)
{
    if (!YAJL_IS_OBJECT(obj))
        return NULL;
    for (size_t i = 0; i < obj->u.object.len; i++)
        if (name_eq(obj->u.object.keys[i], name))
            return obj->u.object.values[i];
    return NULL;
}

/* ---------- the observation's strings, events and facts ---------- */

const char *az_keep(az_obs *o, const char *s, size_t n)
{
    if (o->npool == o->cappool) {
        o->cappool = o->cappool ? o->cappool * 2 : 16;
        o->pool = cm_xrealloc(o->pool, o->cappool * sizeof *o->pool);
    }
    return o->pool[o->npool++] = cm_strndup(s, n);
}

const char *az_keepf(az_obs *o, const char *fmt, ...)
{
    cm_buf b;
    cm_buf_init(&b, 0);
    va_list ap;
    va_start(ap, fmt);
    cm_buf_vaddf(&b, fmt, ap);
    va_end(ap);
    const char *s = az_keep(o, b.p ? b.p : "", b.len);
    cm_buf_free(&b);
    return s;
}

int az_fail(az_rd *r, const char *fmt, ...)
{
    if (r->failed)
        return -1;
    r->failed = true;
    char m[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m, sizeof m, fmt, ap);
    va_end(ap);
    snprintf(r->o->reason, sizeof r->o->reason, "%s: %s", r->shape, m);
    return -1;
}

az_event *az_add(az_obs *o, const char *type, const char *subject)
{
    if (o->nev >= AZ_MAX_DERIVED)
        return NULL;
    if (o->nev == o->capev) {
        o->capev = o->capev ? o->capev * 2 : 8;
        o->ev = cm_xrealloc(o->ev, o->capev * sizeof *o->ev);
    }
    az_event *e = &o->ev[o->nev++];
    memset(e, 0, sizeof *e);
    e->type = type;
    e->subject = subject;
    return e;
}

void az_fact_add(az_obs *o, const char *key, const char *doc)
{
    if (o->nfacts == o->capfacts) {
        o->capfacts = o->capfacts ? o->capfacts * 2 : 4;
        o->facts = cm_xrealloc(o->facts, o->capfacts * sizeof *o->facts);
    }
    o->facts[o->nfacts].key = cm_strdup(key);
    o->facts[o->nfacts++].doc = cm_strdup(doc);
}

void az_obs_clear(az_obs *o)
{
    for (size_t i = 0; i < o->npool; i++)
        free(o->pool[i]);
    free(o->pool);
    for (size_t i = 0; i < o->nfacts; i++) {
        free(o->facts[i].key);
        free(o->facts[i].doc);
    }
    free(o->facts);
    free(o->ev);
    memset(o, 0, sizeof *o);
}

/* ---------- typed members ---------- */

static const char *where(az_rd *r, const char *path, const char *name)
{
    return path && *path ? az_keepf(r->o, "%s.%s", path, name) : name;
}

int az_str(az_rd *r, yajl_val obj, const char *path, const char *name, const char **out)
{
    yajl_val v = az_get(obj, name);
    *out = NULL;
    if (!v || YAJL_IS_NULL(v))
        return 0;
    if (!YAJL_IS_STRING(v))
        return az_fail(r, "%s: expected a string", where(r, path, name));
    const char *s;
    size_t n = trimmed(v->u.string, &s);
    *out = az_keep(r->o, s, n);
    return 1;
}

int az_bool(az_rd *r, yajl_val obj, const char *path, const char *name, bool *out)
{
    yajl_val v = az_get(obj, name);
    if (!v || YAJL_IS_NULL(v))
        return 0;
    if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v)) {
        *out = YAJL_IS_TRUE(v);
        return 1;
    }
    /* Resource Notifications may write booleans as 1/0. */
    if (YAJL_IS_INTEGER(v) && (YAJL_GET_INTEGER(v) == 0 || YAJL_GET_INTEGER(v) == 1)) {
        *out = YAJL_GET_INTEGER(v) == 1;
        return 1;
    }
    return az_fail(r, "%s: expected a boolean", where(r, path, name));
}

int az_int(az_rd *r, yajl_val obj, const char *path, const char *name, int64_t *out)
{
    yajl_val v = az_get(obj, name);
    if (!v || YAJL_IS_NULL(v))
        return 0;
    if (YAJL_IS_INTEGER(v)) {
        *out = YAJL_GET_INTEGER(v);
        return 1;
    }
    if (YAJL_IS_STRING(v)) {
        const char *s;
        size_t n = trimmed(v->u.string, &s);
        char tmp[32];
        if (n && n < sizeof tmp) {
            memcpy(tmp, s, n);
            tmp[n] = '\0';
            if (cm_parse_i64(tmp, out))
                return 1;
        }
    }
    return az_fail(r, "%s: expected an integer", where(r, path, name));
}

int az_obj(az_rd *r, yajl_val obj, const char *path, const char *name, yajl_val *out)
{
    yajl_val v = az_get(obj, name);
    *out = NULL;
    if (!v || YAJL_IS_NULL(v))
        return 0;
    if (!YAJL_IS_OBJECT(v))
        return az_fail(r, "%s: expected an object", where(r, path, name));
    *out = v;
    return 1;
}

int az_arr(az_rd *r, yajl_val obj, const char *path, const char *name, yajl_val *out)
{
    yajl_val v = az_get(obj, name);
    *out = NULL;
    if (!v || YAJL_IS_NULL(v))
        return 0;
    if (!YAJL_IS_ARRAY(v))
        return az_fail(r, "%s: expected an array", where(r, path, name));
    *out = v;
    return 1;
}

static void epoch_text(int64_t t, char out[64])
{
    int64_t days = t >= 0 ? t / 86400 : (t - 86399) / 86400;
    int64_t secs = t - days * 86400;
    /* civil_from_days */
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    unsigned d = doy - (153 * mp + 2) / 5 + 1;
    unsigned m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2;
    snprintf(out, 64, "%04lld-%02u-%02uT%02u:%02u:%02uZ", (long long)y, m % 13, d % 32,
             (unsigned)(secs / 3600) % 24, (unsigned)(secs / 60 % 60), (unsigned)(secs % 60));
}

int az_time(az_rd *r, yajl_val obj, const char *path, const char *name, const char **out)
{
    yajl_val v = az_get(obj, name);
    *out = NULL;
    if (!v || YAJL_IS_NULL(v))
        return 0;
    int64_t t = 0;
    if (YAJL_IS_STRING(v)) {
        const char *s;
        size_t n = trimmed(v->u.string, &s);
        if (n == 0)
            return 0;
        if (cm_rfc3339_valid(s, n)) {
            *out = az_keep(r->o, s, n);
            return 1;
        }
    }
    int rc = az_int(r, obj, path, name, &t);
    if (rc <= 0) {
        if (rc < 0) {
            r->failed = false; /* say what a time is instead */
            return az_fail(r, "%s: expected an RFC 3339 time or epoch seconds",
                           where(r, path, name));
        }
        return 0;
    }
    if (t < 0 || t > 253402300799) /* 9999-12-31T23:59:59Z */
        return az_fail(r, "%s: epoch seconds out of range", where(r, path, name));
    char buf[64];
    epoch_text(t, buf);
    *out = az_keep(r->o, buf, strlen(buf));
    return 1;
}

void az_keyref_lower(vlt_keyref *kr)
{
    for (char *p = kr->vault; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    for (char *p = kr->name; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    for (char *p = kr->version; *p; p++)
        *p = (char)tolower((unsigned char)*p);
}
