/* pip_reader: what the reader thread hands over is, line for line, what cm_lines_next
 * and dec_decode give on one thread: the same lines, numbers, results, reasons, raw lines
 * when refused and every field of the event, still intact while the thread decodes far
 * ahead (the ring wraps many times); resumed lines skipped; the end and a read error at
 * the same line, given again; a reader stopped early, full or not, joins. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fault.h"
#include "common/lines.h"
#include "decode/decode.h"
#include "pipeline/reader.h"
#include "tests/unit/t.h"

#define MAX 8192 /* --max-message for the tests: some lines pass it */

static char dir[] = "/tmp/cmkguard-unit-reader.XXXXXX";
static char path[128];

static const char *const good[] = {
    "{\"specversion\":\"1.0\",\"id\":\"e-%d\",\"source\":\"/t\",\"type\":\"vault.upserted\","
    "\"subject\":\"https://KV-%d.vault.azure.net/\",\"time\":\"2026-11-22T10:00:01Z\",\"data\":"
    "{\"tenant\":\"T-1\",\"region\":\"West Europe\",\"subscription\":\"s\",\"soft_delete\":true,"
    "\"purge_protection\":false,\"retention_days\":%d}}",
    "{\"specversion\":\"1.0\",\"id\":\"k-%d\",\"type\":\"key.created\",\"subject\":"
    "\"https://kv-%d.vault.azure.net/keys/cmk\",\"time\":\"2026-11-22T10:00:02+01:00\",\"data\":"
    "{\"version\":\"V%d\",\"kty\":\"RSA\",\"size\":2048,\"nbf\":\"2026-01-01T00:00:00Z\","
    "\"exp\":\"2027-01-01T00:00:00Z\"}}",
    "{\"specversion\":\"1.0\",\"id\":\"g-%d\",\"source\":\"/t\",\"type\":\"vault.access.granted\","
    "\"subject\":\"https://kv-%d.vault.azure.net\",\"time\":\"2026-11-22T10:00:05Z\",\"data\":"
    "{\"principal\":\"MI-%d\",\"permissions\":[\"get\",\"wrapKey\",\"unwrapKey\"]}}",
    "{\"specversion\":\"1.0\",\"id\":\"r-%d\",\"source\":\"/t\",\"type\":\"resource.created\","
    "\"subject\":\"/subscriptions/s/resourceGroups/rg/providers/Microsoft.CognitiveServices/"
    "accounts/a%d\",\"time\":\"2026-11-22T10:00:03Z\",\"data\":{\"kind\":\"Face\",\"tenant\":"
    "\"t\",\"region\":\"we\",\"subscription\":\"s\",\"key_uri\":\"https://kv.vault.azure.net/"
    "keys/K/%d\"},\"x\":{\"y\":[1,2.5,null]}}",
};
static const char *const bad[] = {
    "not json %d %d %d",
    "{\"specversion\":\"1.0\",\"id\":\"m-%d\",\"type\":\"key.created\",\"subject\":\"x%d\"} %d",
    "{\"specversion\":\"1.0\",\"id\":\"lone-\\uD800-%d\",\"type\":\"resource.created\","
    "\"subject\":\"/s/%d\",\"time\":\"2026-11-02T10:00:01Z\",\"data\":{\"size\":%d}}",
    "{\"id\":\"twice-%d\",\"id\":\"%d\",\"n\":%d}",
    "{\"specversion\":\"1.0\",\"id\":\"u-%d\",\"type\":\"no.such.type\",\"subject\":\"s%d\","
    "\"time\":\"2026-02-30T00:00:00Z\",\"data\":{\"n\":%d}}",
    /* an Event Grid batch: refused by the decoder, the line is kept for the engine */
    "[{\"id\":\"eg-%d\",\"eventType\":\"Microsoft.KeyVault.KeyNewVersionCreated\",\"subject\":"
    "\"cmk\",\"eventTime\":\"2026-11-24T08:01:00Z\",\"data\":{\"VaultName\":\"kv-%d\","
    "\"ObjectName\":\"cmk\",\"Version\":\"v%d\"},\"dataVersion\":\"1\"}]",
};

/* Writes a template with each %d made k; its length. */
static size_t put(FILE *f, const char *tmpl, int k)
{
    size_t n = 0;
    for (const char *p = tmpl; *p; p++) {
        if (p[0] == '%' && p[1] == 'd') {
            n += (size_t)fprintf(f, "%d", k);
            p++;
        } else {
            n += fputc(*p, f) != EOF;
        }
    }
    return n;
}

/* The test file: n lines of every kind, blank ones, CRLF, lines past MAX (some across
 * reads) and refused lines of a few KiB, a run of them long enough that the bytes in
 * flight pass the reader's budget. */
static size_t write_input(size_t n)
{
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f)
        return 0;
    size_t bytes = 0;
    char big[3 * MAX];
    for (size_t i = 0; i < n; i++) {
        int k = (int)i;
        /* In the middle, a run of large refused lines: more than the budget in flight. */
        switch (i >= n / 2 && i < n / 2 + 700 ? 11 : i % 13) {
        case 3:
            bytes += (size_t)fprintf(f, "\n  \r\n");
            break;
        case 7: { /* past MAX: its bytes are not kept */
            size_t len = MAX + 1 + (i * 977) % (2 * MAX - 1);
            memset(big, 'x', len);
            bytes += fwrite(big, 1, len, f) + (size_t)fprintf(f, "\n");
            break;
        }
        case 11: { /* refused and large: a string of a few KiB */
            int len = (int)(1000 + (i * 31) % 6000);
            memset(big, 'y', (size_t)len);
            bytes +=
                (size_t)fprintf(f, "{\"id\":\"big-%d\",\"subject\":\"%.*s\"}\r\n", k, len, big);
            break;
        }
        default:
            bytes +=
                put(f, i % 5 == 2 ? bad[i % CM_ARRAY_LEN(bad)] : good[i % CM_ARRAY_LEN(good)], k);
            bytes += (size_t)fprintf(f, i % 2 ? "\r\n" : "\n");
        }
    }
    fclose(f);
    return bytes;
}

static bool str_same(const char *a, const char *b)
{
    return a == b || (a && b && !strcmp(a, b));
}

static bool event_same(const vlt_event *a, const vlt_event *b)
{
    return a->type == b->type && str_same(a->type_name, b->type_name) && str_same(a->id, b->id) &&
           str_same(a->source, b->source) && str_same(a->subject, b->subject) &&
           str_same(a->time, b->time) && str_same(a->tenant, b->tenant) &&
           str_same(a->region, b->region) && str_same(a->subscription, b->subscription) &&
           str_same(a->principal, b->principal) && str_same(a->version, b->version) &&
           str_same(a->kty, b->kty) && str_same(a->kind, b->kind) &&
           str_same(a->key_uri, b->key_uri) && str_same(a->nbf, b->nbf) &&
           str_same(a->exp, b->exp) && str_same(a->state, b->state) && str_same(a->mac, b->mac) &&
           a->soft_delete == b->soft_delete && a->purge_protection == b->purge_protection &&
           a->retention_days == b->retention_days && a->size == b->size && a->at == b->at &&
           a->nbf_at == b->nbf_at && a->exp_at == b->exp_at && a->permissions == b->permissions &&
           a->has == b->has;
}

/* One line as the deciding thread saw it before the reader: a copy of the line and of
 * dec_decode's result, the event's strings kept beside it. */
struct ref {
    size_t n, lineno;
    int decoded;
    char reason[1024];
    char *line; /* NULL past MAX */
    vlt_event ev;
    cm_buf strings;
};

static struct ref *reference(size_t *count, int64_t after)
{
    cm_err err;
    cm_lines *rd = cm_lines_open(path, MAX, &err);
    dec_decoder *dec = dec_decoder_new(MAX);
    struct ref *v = NULL;
    size_t n = 0;
    const char *line;
    size_t len, lineno;
    while (rd && cm_lines_next(rd, &line, &len, &lineno, &err) == 1) {
        if ((int64_t)lineno <= after)
            continue;
        v = realloc(v, (n + 1) * sizeof *v);
        struct ref *r = &v[n++];
        memset(r, 0, sizeof *r);
        r->n = len;
        r->lineno = lineno;
        r->decoded = dec_decode(dec, line, len, &r->ev, r->reason, sizeof r->reason);
        r->line = len <= MAX ? cm_strndup(line, len) : NULL;
        cm_buf_init(&r->strings, 0);
        CHECK(dec_event_keep(dec, &r->ev, &r->strings) == 0);
    }
    dec_decoder_free(dec);
    cm_lines_free(rd);
    *count = n;
    return v;
}

static void ref_free(struct ref *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].line);
        cm_buf_free(&v[i].strings);
    }
    free(v);
}

/* The reader's lines against the reference's, the first `stop` of them (all when stop
 * is past them): the number that matched. */
static size_t compare(pip_reader *rdr, const struct ref *v, size_t n, size_t stop, cm_err *err)
{
    size_t i = 0;
    const pip_line *l;
    int got = 0;
    for (; i < n && i < stop && (got = pip_reader_next(rdr, &l, err)) == 1; i++) {
        const struct ref *r = &v[i];
        bool same = l->n == r->n && l->lineno == r->lineno && l->decoded == r->decoded &&
                    event_same(&l->ev, &r->ev);
        if (same && r->decoded < 0)
            same = !strcmp(l->reason, r->reason) &&
                   (r->line ? !memcmp(l->msg, r->line, r->n) : !strcmp(l->msg, ""));
        if (!same) {
            fprintf(stderr, "  line %zu (reference line %zu) differs: decoded %d/%d, reason '%s'\n",
                    l->lineno, r->lineno, l->decoded, r->decoded, l->reason);
            break;
        }
    }
    return i;
}

static void test_same_lines(void)
{
    size_t bytes = write_input(20000);
    CHECK(bytes > (size_t)20 << 20); /* many reads, many times the budget */
    size_t n;
    struct ref *v = reference(&n, -1);
    CHECK(n > 5000);
    cm_err err;
    cm_lines *rd = cm_lines_open(path, MAX, &err);
    pip_reader *rdr = pip_reader_start(rd, MAX, -1);
    CHECK(rdr != NULL);
    CHECK(compare(rdr, v, n, n, &err) == n);
    const pip_line *l;
    CHECK(pip_reader_next(rdr, &l, &err) == 0);
    CHECK(pip_reader_next(rdr, &l, &err) == 0); /* the end, again */
    pip_reader_free(rdr);
    cm_lines_free(rd);
    size_t decoded = 0, refused = 0, over = 0;
    for (size_t i = 0; i < n; i++) {
        decoded += v[i].decoded == 0;
        refused += v[i].decoded < 0 && v[i].line;
        over += !v[i].line;
    }
    CHECK(decoded > 1000 && refused > 1000 && over > 100);
    ref_free(v, n);
}

static void test_resume(void)
{
    write_input(3000);
    size_t n;
    struct ref *v = reference(&n, 1234);
    CHECK(n > 1000 && v[0].lineno > 1234);
    cm_err err;
    cm_lines *rd = cm_lines_open(path, MAX, &err);
    pip_reader *rdr = pip_reader_start(rd, MAX, 1234);
    CHECK(compare(rdr, v, n, n, &err) == n);
    const pip_line *l;
    CHECK(pip_reader_next(rdr, &l, &err) == 0);
    pip_reader_free(rdr);
    cm_lines_free(rd);
    ref_free(v, n);
}

/* The deciding thread stops early (a fatal decision): the reader, ahead and waiting for
 * room, or still reading, stops and joins. */
static void test_stop_early(void)
{
    write_input(3000);
    size_t n;
    struct ref *v = reference(&n, -1);
    size_t stops[] = {0, 1, 7, 600, 2000};
    for (size_t s = 0; s < CM_ARRAY_LEN(stops); s++) {
        cm_err err;
        cm_lines *rd = cm_lines_open(path, MAX, &err);
        pip_reader *rdr = pip_reader_start(rd, MAX, -1);
        CHECK(compare(rdr, v, n, stops[s], &err) == stops[s]);
        pip_reader_free(rdr);
        cm_lines_free(rd);
    }
    ref_free(v, n);
}

static void test_empty(void)
{
    FILE *f = fopen(path, "wb");
    CHECK(f && fputs("\n \r\n", f) >= 0);
    if (f)
        fclose(f);
    cm_err err;
    cm_lines *rd = cm_lines_open(path, MAX, &err);
    pip_reader *rdr = pip_reader_start(rd, MAX, -1);
    const pip_line *l;
    CHECK(pip_reader_next(rdr, &l, &err) == 0);
    pip_reader_free(rdr);
    cm_lines_free(rd);
}

/* A read error (the second read of the input fails, by the fault seam) comes after every
 * line the first read gave, with cm_lines' message and line, and again after that. Last:
 * the seam stays armed for the process. */
static void test_read_error(void)
{
    write_input(3000);
    size_t n;
    struct ref *v = reference(&n, -1);
    /* The first read holds 256 KiB: its complete lines are those before the error. */
    FILE *f = fopen(path, "rb");
    char *chunk = malloc(256 * 1024);
    size_t got = f ? fread(chunk, 1, 256 * 1024, f) : 0, nl = 0;
    for (size_t i = 0; i < got; i++)
        nl += chunk[i] == '\n';
    free(chunk);
    if (f)
        fclose(f);
    size_t before = 0;
    while (before < n && v[before].lineno <= nl)
        before++;
    CHECK(before > 20 && before < n);
    setenv("CMKGUARD_FAULT", "io:2", 1);
    CHECK(cm_fault_setup() == 0);
    cm_err err;
    cm_err_clear(&err);
    cm_lines *rd = cm_lines_open(path, MAX, &err);
    pip_reader *rdr = pip_reader_start(rd, MAX, -1);
    CHECK(compare(rdr, v, n, before, &err) == before);
    const pip_line *l;
    cm_err_clear(&err);
    CHECK(pip_reader_next(rdr, &l, &err) == -1);
    CHECK(err.line == (int)nl + 1 && strstr(err.msg, "read error") && strstr(err.where, path));
    cm_err_clear(&err);
    CHECK(pip_reader_next(rdr, &l, &err) == -1 && strstr(err.msg, "read error"));
    pip_reader_free(rdr);
    cm_lines_free(rd);
    ref_free(v, n);
    cm_fault_armed = false;
}

int main(void)
{
    if (!mkdtemp(dir))
        return 1;
    snprintf(path, sizeof path, "%s/in.jsonl", dir);
    test_same_lines();
    test_resume();
    test_stop_early();
    test_empty();
    test_read_error();
    unlink(path);
    rmdir(dir);
    T_DONE();
}
