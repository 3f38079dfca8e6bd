#include "common/util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void cm_err_clear(cm_err *e)
{
    if (!e)
        return;
    e->where[0] = e->msg[0] = '\0';
    e->line = e->col = e->code = 0;
}

__attribute__((format(printf, 6, 0))) static void
err_vset(cm_err *e, const char *where, int line, int col, int code, const char *fmt, va_list ap)
{
    snprintf(e->where, sizeof e->where, "%s", where ? where : "");
    e->line = line;
    e->col = col;
    e->code = code;
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
}

void cm_err_set(cm_err *e, const char *where, int line, int col, const char *fmt, ...)
{
    if (!e)
        return;
    va_list ap;
    va_start(ap, fmt);
    err_vset(e, where, line, col, CM_EINPUT, fmt, ap);
    va_end(ap);
}

int cm_err_env(cm_err *e, const char *where, const char *fmt, ...)
{
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        err_vset(e, where, 0, 0, CM_EENV, fmt, ap);
        va_end(ap);
    }
    return CM_EENV;
}

void cm_err_format(const cm_err *e, char *out, size_t n)
{
    if (e->where[0] && e->line > 0 && e->col > 0)
        snprintf(out, n, "%s:%d:%d: %s", e->where, e->line, e->col, e->msg);
    else if (e->where[0] && e->line > 0)
        snprintf(out, n, "%s:%d: %s", e->where, e->line, e->msg);
    else if (e->where[0])
        snprintf(out, n, "%s: %s", e->where, e->msg);
    else
        snprintf(out, n, "%s", e->msg);
}

void cm_err_print(const cm_err *e)
{
    char line[1400];
    cm_err_format(e, line, sizeof line);
    fprintf(stderr, "cmkguard: %s\n", line);
}

void cm_log(const char *fmt, ...)
{
    /* One write per message: stderr is unbuffered, and a replay logs every rejected
     * event. A message too long for the line goes out in pieces, as before. */
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line + 10, sizeof line - 11, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < sizeof line - 11) {
        memcpy(line, "cmkguard: ", 10);
        line[10 + n] = '\n';
        fwrite(line, 1, (size_t)n + 11, stderr);
        return;
    }
    va_start(ap, fmt);
    fputs("cmkguard: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

uint64_t cm_strhash(const char *s, size_t *len)
{
    size_t n = strlen(s);
    *len = n;
    uint64_t h = 0x9E3779B97F4A7C15ULL ^ n, w;
    for (; n >= 8; s += 8, n -= 8) {
        memcpy(&w, s, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdULL;
        h ^= h >> 32;
    }
    w = 0;
    memcpy(&w, s, n);
    h = (h ^ w) * 0xc4ceb9fe1a85ec53ULL;
    return h ^ (h >> 29);
}

bool cm_join(char *buf, size_t n, const char *sep, const char *const *parts, size_t np)
{
    size_t at = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < np; i++) {
        const char *s[2] = {i ? sep : "", parts[i]};
        for (int k = 0; k < 2; k++) {
            size_t len = strlen(s[k]);
            if (len < n - at) {
                memcpy(buf + at, s[k], len + 1);
                at += len;
                continue;
            }
            /* What fits before "..." and the NUL, without half a UTF-8 sequence. */
            size_t keep = n - 4;
            if (n - 1 > at) /* up to the last byte, so buf[keep] says where a character starts */
                memcpy(buf + at, s[k], n - 1 - at);
            at = keep;
            while (at > 0 && ((unsigned char)buf[at] & 0xC0) == 0x80)
                at--;
            memcpy(buf + at, "...", 4);
            return false;
        }
    }
    return true;
}

bool cm_streq(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

bool cm_endswith(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && memcmp(s + a - b, suffix, b) == 0;
}

bool cm_parse_i64(const char *s, int64_t *out)
{
    if (!s || !*s)
        return false;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

void cm_hex(const uint8_t *d, size_t n, char *out)
{
    static const char dig[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = dig[d[i] >> 4];
        out[2 * i + 1] = dig[d[i] & 15];
    }
    out[2 * n] = '\0';
}

int cm_hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int cm_unhex(const char *s, uint8_t *out, size_t n)
{
    if (strlen(s) != 2 * n)
        return -1;
    for (size_t i = 0; i < n; i++) {
        int hi = cm_hexval(s[2 * i]), lo = cm_hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* The four characters of bytes d[i], d[i+1], d[i+2] (those before n) into q. */
static void b64_quad(const uint8_t *d, size_t i, size_t n, char q[4])
{
    uint32_t v = (uint32_t)d[i] << 16;
    if (i + 1 < n)
        v |= (uint32_t)d[i + 1] << 8;
    if (i + 2 < n)
        v |= d[i + 2];
    q[0] = b64[v >> 18 & 63];
    q[1] = b64[v >> 12 & 63];
    q[2] = i + 1 < n ? b64[v >> 6 & 63] : '=';
    q[3] = i + 2 < n ? b64[v & 63] : '=';
}

int cm_b64_encode(const uint8_t *d, size_t n, cm_buf *out)
{
    for (size_t i = 0; i < n; i += 3) {
        char q[4];
        b64_quad(d, i, n, q);
        if (cm_buf_add(out, q, 4) < 0)
            return -1;
    }
    return 0;
}

void cm_b64_text(const uint8_t *d, size_t n, char *out)
{
    for (size_t i = 0; i < n; i += 3, out += 4)
        b64_quad(d, i, n, out);
    *out = '\0';
}

int cm_b64_decode(const char *s, size_t n, uint8_t *out, size_t cap, size_t *outn)
{
    if (n % 4)
        return -1;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 4) {
        uint32_t v = 0;
        int pad = 0;
        for (int j = 0; j < 4; j++) {
            char c = s[i + j];
            const char *p = c ? strchr(b64, c) : NULL;
            if (c == '=' && i + 4 == n && j >= 2) {
                pad++;
                v <<= 6;
                continue;
            }
            if (!p || pad)
                return -1;
            v = v << 6 | (uint32_t)(p - b64);
        }
        uint8_t t[3] = {(uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
        size_t k = 3 - (size_t)pad;
        if (o + k > cap)
            return -1;
        memcpy(out + o, t, k);
        o += k;
    }
    *outn = o;
    return 0;
}

bool cm_utf8_valid(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        uint32_t cp;
        if (c >= 0xC2 && c <= 0xDF) {
            len = 2;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (i + len > n)
            return false;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
            cp = cp << 6 | (s[i + k] & 0x3F);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += len;
    }
    return true;
}

static bool digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

static int num(const char *s, size_t n)
{
    int v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

bool cm_rfc3339_valid(const char *s, size_t n)
{
    /* YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM) */
    if (n < 20 || !digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) || s[7] != '-' ||
        !digits(s + 8, 2) || (s[10] != 'T' && s[10] != 't') || !digits(s + 11, 2) || s[13] != ':' ||
        !digits(s + 14, 2) || s[16] != ':' || !digits(s + 17, 2))
        return false;
    int mo = num(s + 5, 2), d = num(s + 8, 2), h = num(s + 11, 2), mi = num(s + 14, 2),
        se = num(s + 17, 2);
    if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || se > 60)
        return false;
    /* A real calendar day: no February 30, no February 29 outside leap years. */
    static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y = num(s, 4);
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap))
        return false;
    size_t i = 19;
    if (i < n && s[i] == '.') {
        size_t j = ++i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == j || i - j > 9)
            return false;
    }
    if (i < n && (s[i] == 'Z' || s[i] == 'z'))
        return i + 1 == n;
    if (i + 6 == n && (s[i] == '+' || s[i] == '-') && digits(s + i + 1, 2) && s[i + 3] == ':' &&
        digits(s + i + 4, 2))
        return num(s + i + 1, 2) <= 23 && num(s + i + 4, 2) <= 59;
    return false;
}

/* 1: the byte is written escaped (a control character, a quote, a backslash). */
static const unsigned char json_special[256] = {1, 1, 1, 1, 1, 1, 1, 1, 1,         1,         1, 1,
                                                1, 1, 1, 1, 1, 1, 1, 1, 1,         1,         1, 1,
                                                1, 1, 1, 1, 1, 1, 1, 1, ['"'] = 1, ['\\'] = 1};

/* The first byte of s at or after i that is written escaped, or n: eight bytes at a time
 * (a byte under 0x20, or equal to '"' or '\\', sets its high bit in t), then byte by byte
 * within the word that has one. */
static size_t json_next_special(const unsigned char *s, size_t i, size_t n)
{
    const uint64_t ones = 0x0101010101010101u, high = 0x8080808080808080u;
    for (; n - i >= 8; i += 8) {
        uint64_t x, q, b;
        memcpy(&x, s + i, 8);
        q = x ^ (ones * '"');
        b = x ^ (ones * '\\');
        uint64_t t = ((x - ones * 0x20) & ~x) | ((q - ones) & ~q) | ((b - ones) & ~b);
        if (t & high)
            break;
    }
    while (i < n && !json_special[s[i]])
        i++;
    return i;
}

int cm_json_str(cm_buf *out, const char *s, size_t n)
{
    static const char dig[] = "0123456789abcdef";
    const unsigned char *u8 = (const unsigned char *)s;
    if (cm_buf_addc(out, '"') < 0)
        return -1;
    size_t run = 0;
    for (size_t i = json_next_special(u8, 0, n); i < n; i = json_next_special(u8, i + 1, n)) {
        unsigned char c = u8[i];
        const char *esc;
        char u[7];
        switch (c) {
        case '"':
            esc = "\\\"";
            break;
        case '\\':
            esc = "\\\\";
            break;
        case '\b':
            esc = "\\b";
            break;
        case '\t':
            esc = "\\t";
            break;
        case '\n':
            esc = "\\n";
            break;
        case '\f':
            esc = "\\f";
            break;
        case '\r':
            esc = "\\r";
            break;
        default:
            u[0] = '\\';
            u[1] = 'u';
            u[2] = '0';
            u[3] = '0';
            u[4] = dig[c >> 4];
            u[5] = dig[c & 15];
            u[6] = '\0';
            esc = u;
        }
        if (cm_buf_add(out, s + run, i - run) < 0 || cm_buf_adds(out, esc) < 0)
            return -1;
        run = i + 1;
    }
    if (cm_buf_add(out, s + run, n - run) < 0)
        return -1;
    return cm_buf_addc(out, '"');
}

int cm_json_cstr(cm_buf *out, const char *s)
{
    if (!s)
        return cm_buf_adds(out, "null");
    return cm_json_str(out, s, strlen(s));
}

int cm_read_file(const char *path, size_t max, cm_buf *out)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    char tmp[65536];
    size_t n;
    int rc = 0;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0) {
        if (out->len + n > max) {
            errno = EFBIG;
            rc = -1;
            break;
        }
        if (cm_buf_add(out, tmp, n) < 0) {
            errno = ENOMEM;
            rc = -1;
            break;
        }
    }
    if (ferror(f))
        rc = -1;
    fclose(f);
    if (rc == 0 && !out->p)
        cm_buf_add(out, "", 0);
    return rc;
}

double cm_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
