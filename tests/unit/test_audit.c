#include <stdlib.h>
#include <unistd.h>

#include "audit/audit.h"
#include "tests/unit/t.h"

static cm_buf lines;
static int nlines;

static int sink(void *arg, const char *subject, const char *line, size_t n)
{
    (void)arg;
    (void)subject;
    cm_buf_add(&lines, line, n);
    cm_buf_addc(&lines, '\n');
    nlines++;
    return 0;
}

/* A record whose members are out of order, holding keys that sort differently in
 * UTF-16 (RFC 8785) than by code point: U+20AC < U+1F600 (D83D DE00) < U+FB33. */
static void test_utf16_order(cry_verifier *key)
{
#define CANON_FMT                                                                                  \
    "{\"chain\":\"c\",\"data\":{\"s\":\"tab\\there \\u001f \\\"q\\\" \\\\ /\","                    \
    "\"\xe2\x82\xac\":1,\"\xf0\x9f\x98\x80\":2,\"\xef\xac\xb3\":3},\"id\":\"c:1\",\"prevhash\":"   \
    "\"%s\",\"seq\":1}"
    char canon[512], hex[65], rec[1024];
    snprintf(canon, sizeof canon, CANON_FMT, AUD_ZERO_HASH);
    uint8_t h[32];
    cry_sha256(canon, strlen(canon), h);
    cm_hex(h, 32, hex);
    snprintf(rec, sizeof rec,
             "{\"seq\":1,\"prevhash\":\"%s\",\"hash\":\"%s\",\"id\":\"c:1\",\"chain\":\"c\","
             "\"data\":{\"s\":\"tab\\u0009here \\u001F \\\"q\\\" \\\\ \\/\",\"\xef\xac\xb3\":3,"
             "\"\xf0\x9f\x98\x80\":2,\"\xe2\x82\xac\":1}}",
             AUD_ZERO_HASH, hex);
    aud_verifier *v = aud_verifier_new(key);
    cm_err err;
    CHECK(aud_verifier_line(v, "x:1", rec, strlen(rec), &err) == 0);
    cm_buf sum;
    cm_buf_init(&sum, 0);
    CHECK(aud_verifier_end(v, &sum, &err) < 0); /* unsigned: flagged */
    CHECK(strstr(err.msg, "not signed") != NULL);
    cm_buf_free(&sum);
    aud_verifier_free(v);
    /* floating point has no place in a record */
    v = aud_verifier_new(key);
    snprintf(rec, sizeof rec,
             "{\"seq\":1,\"prevhash\":\"%s\",\"hash\":\"%s\",\"chain\":\"c\",\"data\":{\"x\":1.5}}",
             AUD_ZERO_HASH, hex);
    CHECK(aud_verifier_line(v, "x:1", rec, strlen(rec), &err) < 0);
    CHECK(strstr(err.msg, "no canonical form") != NULL);
    aud_verifier_free(v);
}

/* One decision with a finding whose message is msg_len bytes long. */
static void bound_decision(aud_decision *d, size_t msg_len)
{
    aud_decision_reset(d);
    d->outcome = AUD_DENIED;
    d->cause = aud_decision_str(d, "e1");
    d->event_type = aud_decision_str(d, "resource.cmk.enabled");
    d->time = aud_decision_str(d, "2026-11-22T10:00:00Z");
    d->input = aud_decision_str(d, "f.jsonl:1");
    aud_rec *r = aud_decision_add(d, "/subscriptions/s/r");
    aud_finding *f = aud_rec_finding(d, r);
    f->rule = aud_decision_str(d, "R1");
    f->action = "deny";
    f->severity = "high";
    char *m = cm_xmalloc(msg_len + 1);
    memset(m, 'm', msg_len);
    m[msg_len] = '\0';
    f->message = aud_decision_str(d, m);
    free(m);
}

/* A decision reused event after event: a reset empties it and keeps its memory (the
 * records' array and one arena chunk), so deciding the next event allocates nothing. */
static void test_decision_reuse(void)
{
    aud_decision d = {0};
    aud_rec *first = NULL;
    cm_arena_chunk *chunk = NULL;
    for (int round = 0; round < 3; round++) {
        aud_decision_reset(&d);
        CHECK(d.nrecs == 0 && d.cause == NULL && d.reason == NULL);
        d.cause = aud_decision_str(&d, "e1");
        for (int i = 0; i < 40; i++) {
            aud_rec *r = aud_decision_add(&d, i ? "/subscriptions/s/r" : NULL);
            for (int k = 0; k < 6; k++) {
                aud_finding *f = aud_rec_finding(&d, r);
                f->rule = aud_decision_str(&d, "R1");
                f->message = aud_decision_strn(&d, "message and more", 7);
                aud_rec_action(&d, r)->op = "wrap";
            }
        }
        CHECK(d.nrecs == 40 && d.recs[0].subject == NULL && d.recs[39].nf == 6);
        CHECK_STR(d.recs[39].f[5].message, "message");
        CHECK(d.recs[1].na == 6 && t_streq(d.recs[1].subject, "/subscriptions/s/r"));
        CHECK_STR(d.cause, "e1");
        if (round == 2)
            CHECK(d.recs == first && d.arena.chunk == chunk && cm_arena_chunks(&d.arena) == 1);
        first = d.recs;
        chunk = d.arena.chunk;
    }
    aud_decision_clear(&d);
    CHECK(d.recs == NULL && d.nrecs == 0 && cm_arena_chunks(&d.arena) == 0);
    aud_decision_clear(&d);
}

/* A record that would pass the writer's bound is refused with an error: nothing of it
 * reaches the sink, the chain does not move, and the next record chains on as if the
 * refused one had never been tried. Signed inline and on the worker thread. */
static void test_record_bound(cry_signer *s, cry_verifier *key, bool async)
{
    cm_buf_reset(&lines);
    nlines = 0;
    aud_writer *w = aud_writer_new("b", s, 0, AUD_CLOCK_EVENT, sink, NULL);
    aud_writer_bound(w, 4096);
    CHECK(!async || aud_writer_async(w) == 0);
    aud_decision d = {0};
    cm_err err;
    bound_decision(&d, 10);
    CHECK(aud_writer_emit(w, &d, "abc", &err) == 0);
    CHECK(aud_writer_drain(w, &err) == 0);
    char head[65];
    snprintf(head, sizeof head, "%s", aud_writer_head(w));
    size_t before = lines.len;
    bound_decision(&d, 5000);
    CHECK(aud_writer_emit(w, &d, "abc", &err) < 0);
    CHECK(strstr(err.msg, "larger than 4096 bytes") != NULL);
    CHECK(aud_writer_drain(w, &err) == 0);
    CHECK(nlines == 1 && lines.len == before);
    CHECK(aud_writer_seq(w) == 1);
    CHECK_STR(aud_writer_head(w), head);
    /* Just under the bound still goes out whole. */
    bound_decision(&d, 3000);
    CHECK(aud_writer_emit(w, &d, "abc", &err) == 0);
    CHECK(aud_writer_drain(w, &err) == 0);
    CHECK(nlines == 2 && aud_writer_seq(w) == 2);
    aud_decision_clear(&d);
    aud_writer_free(w);
    aud_verifier *v = aud_verifier_new(key);
    int ln = 0;
    for (char *p = lines.p, *nl; p && (nl = strchr(p, '\n')); p = nl + 1) {
        ln++;
        CHECK((size_t)(nl - p) <= 4096);
        CHECK(aud_verifier_line(v, "bound", p, (size_t)(nl - p), &err) == 0);
    }
    CHECK(ln == 2);
    cm_buf sum;
    cm_buf_init(&sum, 0);
    CHECK(aud_verifier_end(v, &sum, &err) == 0);
    cm_buf_free(&sum);
    aud_verifier_free(v);
}

int main(void)
{
    char dir[] = "/tmp/cmkg-audXXXXXX", prefix[128], path[160], kid[17];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(prefix, sizeof prefix, "%s/k", dir);
    cm_err err;
    CHECK(cry_keygen_ed25519(prefix, kid, &err) == 0);
    snprintf(path, sizeof path, "%s.key", prefix);
    cry_signer *s = cry_signer_load(path, &err);
    snprintf(path, sizeof path, "%s.pub", prefix);
    cry_verifier *key = cry_verifier_load(path, &err);
    CHECK(s && key);
    cm_buf_init(&lines, 0);
    /* Writer output verifies under the verifier's own canonicalisation. */
    aud_writer *w = aud_writer_new("main", s, 3, AUD_CLOCK_EVENT, sink, NULL);
    aud_decision d = {0};
    for (int i = 0; i < 4; i++) {
        aud_decision_reset(&d);
        d.outcome = i % 2 ? AUD_DENIED : AUD_ALLOWED;
        d.cause = aud_decision_str(&d, "e\"1\n\x01");
        d.event_type = aud_decision_str(&d, "resource.cmk.enabled");
        d.time = aud_decision_str(&d, "2026-11-22T10:00:00Z");
        d.input = aud_decision_str(&d, "f.jsonl:1");
        aud_rec *r = aud_decision_add(&d, "/subscriptions/s/\xc3\xa9");
        r->st.present = r->st.exists = true;
        r->st.cmk = true;
        r->st.key_uri = aud_decision_str(&d, "https://kv1.vault.azure.net/keys/k");
        aud_finding *f = aud_rec_finding(&d, r);
        f->rule = aud_decision_str(&d, "R1");
        f->action = "deny";
        f->severity = "high";
        f->message = aud_decision_str(&d, "m\t\xe2\x82\xac");
        f->unknown = i == 3;
        aud_action *a = aud_rec_action(&d, r);
        a->op = "rewrap";
        a->from = aud_decision_str(&d, "mmk");
        a->ok = true;
        CHECK(aud_writer_emit(w, &d, "abc", &err) == 0);
    }
    CHECK(aud_writer_finish(w, &err) == 0);
    CHECK(nlines == 5 && aud_writer_seq(w) == 5);
    aud_decision_clear(&d);
    aud_verifier *v = aud_verifier_new(key);
    int signed_n = 0, ln = 0;
    for (char *p = lines.p, *nl; p && (nl = strchr(p, '\n')); p = nl + 1) {
        ln++;
        char where[16];
        snprintf(where, sizeof where, "w:%d", ln);
        CHECK(aud_verifier_line(v, where, p, (size_t)(nl - p), &err) == 0);
        signed_n += memmem(p, (size_t)(nl - p), "\"sig\":", 6) != NULL;
    }
    CHECK(signed_n == 2); /* seq 3 and the checkpoint */
    cm_buf sum;
    cm_buf_init(&sum, 0);
    CHECK(aud_verifier_end(v, &sum, &err) == 0);
    CHECK(sum.p && strstr(sum.p, "\"last_seq\":5") != NULL);
    cm_buf_free(&sum);
    aud_verifier_free(v);
    aud_writer_free(w);
    test_utf16_order(key);
    test_decision_reuse();
    test_record_bound(s, key, false);
    test_record_bound(s, key, true);
    cm_buf_free(&lines);
    cry_signer_free(s);
    cry_verifier_free(key);
    snprintf(path, sizeof path, "%s.key", prefix);
    unlink(path);
    snprintf(path, sizeof path, "%s.pub", prefix);
    unlink(path);
    rmdir(dir);
    T_DONE();
}
