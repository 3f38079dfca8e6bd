/* The outbox and the seen ids in a state file (format 3): what a commit queues is one row
 * each; messages come back byte for byte and in order after a reopen; a row leaves the
 * store only once every message in it is delivered, with the next commit or when the
 * state is freed; the file verifies throughout. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stream/outbox.h"
#include "tests/unit/t.h"
#include "vault/state.h"

static char db[128], mk[128];
static stm_outbox *ob; /* the outbox of the state open */

static void bad(void *arg, const char *what)
{
    (void)arg;
    fprintf(stderr, "  verify: %s\n", what);
}

static vlt_state *reopen(vlt_state *s)
{
    cm_err err;
    vlt_state_free(s);
    CHECK(vlt_state_verify(db, mk, bad, NULL, &err) == 0);
    s = vlt_state_open(db, mk, &err);
    if (s && !(ob = stm_outbox_open(s, &err))) {
        vlt_state_free(s);
        s = NULL;
    }
    if (!s)
        fprintf(stderr, "  %s: %s\n", err.where, err.msg);
    return s;
}

/* A message: value "v<i>" with a NUL and the byte 0xff in it; every other one a dead
 * letter with binary headers and no key. */
static void queue(int i)
{
    char value[32], key[16], input[32];
    int n = snprintf(value, sizeof value, "v%d", i);
    value[n + 1] = '\xff';
    snprintf(key, sizeof key, "k%d", i);
    snprintf(input, sizeof input, "cmk.events/0/%d", i);
    stm_outmsg m = {.topic = i % 2 ? "cmk.dead" : "cmk.audit",
                    .partition = i % 3,
                    .chain = i % 2 ? NULL : "cmk.events/0",
                    .seq = (uint64_t)i,
                    .key = i % 2 ? NULL : key,
                    .keylen = i % 2 ? 0 : strlen(key),
                    .value = value,
                    .len = (size_t)n + 2,
                    .reason = i % 2 ? "bad input" : NULL,
                    .input = input,
                    .headers = i % 2 ? "a\0b\0" : NULL,
                    .hlen = i % 2 ? 4 : 0};
    stm_outbox_add(ob, &m);
}

static bool same(const stm_outmsg *m, int i)
{
    char value[32], key[16];
    int n = snprintf(value, sizeof value, "v%d", i);
    value[n + 1] = '\xff';
    snprintf(key, sizeof key, "k%d", i);
    bool dead = i % 2;
    return m->partition == i % 3 && !strcmp(m->topic, dead ? "cmk.dead" : "cmk.audit") &&
           (dead ? !m->chain && !m->key && m->reason && !strcmp(m->reason, "bad input") &&
                       m->hlen == 4 && !memcmp(m->headers, "a\0b\0", 4)
                 : m->chain && !strcmp(m->chain, "cmk.events/0") && m->seq == (uint64_t)i &&
                       m->keylen == strlen(key) && !memcmp(m->key, key, m->keylen) && !m->reason &&
                       !m->headers) &&
           m->len == (size_t)n + 2 && !memcmp(m->value, value, m->len);
}

/* The messages pending in the file, checked against the ones numbered from first. */
static size_t pending(int first)
{
    cm_err err;
    stm_outmsg *p = NULL;
    size_t n = 0;
    CHECK(stm_outbox_pending(ob, &p, &n, &err) == 0);
    for (size_t i = 0; i < n; i++)
        CHECK(same(&p[i], first + (int)i));
    for (size_t i = 1; i < n; i++)
        CHECK(p[i].id > p[i - 1].id);
    stm_outmsg_free(p, n);
    return n;
}

int main(void)
{
    char dir[] = "/tmp/cmkguard-unit-outbox.XXXXXX";
    CHECK(t_state_paths(dir, db, sizeof db, mk, sizeof mk) == 0);
    cm_err err;
    vlt_state *s = vlt_state_open(db, mk, &err);
    CHECK(s != NULL && (ob = stm_outbox_open(s, &err)) != NULL);
    if (!s || !ob)
        T_DONE();
    /* two commits: messages 0-2, then 3-4; ids handed over with them */
    int64_t ids[5];
    for (int i = 0; i < 3; i++)
        queue(i);
    vlt_state_mark_seen(s, "/src", "e-1");
    vlt_state_mark_seen(s, "/src", "e-2");
    CHECK(vlt_state_flush(s, &err) == 0);
    size_t n;
    stm_outmsg *done = stm_outbox_flushed(ob, &n);
    CHECK(n == 3);
    for (size_t i = 0; i < n && i < 3; i++) {
        CHECK(same(&done[i], (int)i));
        ids[i] = done[i].id;
    }
    stm_outmsg_free(done, n);
    for (int i = 3; i < 5; i++)
        queue(i);
    vlt_state_mark_seen(s, "/src", "e-3");
    CHECK(vlt_state_flush(s, &err) == 0);
    done = stm_outbox_flushed(ob, &n);
    CHECK(n == 2);
    for (size_t i = 0; i < n && i < 2; i++)
        ids[3 + i] = done[i].id;
    stm_outmsg_free(done, n);
    CHECK(ids[0] < ids[1] && ids[1] < ids[2] && ids[2] < ids[3] && ids[3] < ids[4]);
    if (!(s = reopen(s)))
        goto out;
    CHECK(pending(0) == 5);
    CHECK(vlt_state_seen(s, "/src", "e-1") && vlt_state_seen(s, "/src", "e-3"));
    CHECK(!vlt_state_seen(s, "/other", "e-1"));
    /* part of the first row delivered: it stays, whole, until the rest is */
    CHECK(stm_outbox_sent(ob, ids, 2, &err) == 0);
    CHECK(vlt_state_flush(s, &err) == 0);
    CHECK(pending(0) == 5);
    /* a restart forgets what was confirmed of a row still there: its messages are all
     * pending again (a run resends them or finds them in the audit topic) */
    if (!(s = reopen(s)))
        goto out;
    CHECK(pending(0) == 5);
    CHECK(stm_outbox_sent(ob, ids, 2, &err) == 0);
    /* the rest of it, out of order with the second row: the first row goes */
    int64_t more[2] = {ids[3], ids[2]};
    CHECK(stm_outbox_sent(ob, more, 2, &err) == 0);
    CHECK(vlt_state_flush(s, &err) == 0);
    CHECK(pending(3) == 2);
    /* the last one confirmed, and no commit after it: freeing the state records it */
    CHECK(stm_outbox_sent(ob, &ids[4], 1, &err) == 0);
    if (!(s = reopen(s)))
        goto out;
    CHECK(pending(0) == 0);
    /* new messages after all that get new ids */
    queue(0);
    CHECK(vlt_state_flush(s, &err) == 0);
    done = stm_outbox_flushed(ob, &n);
    CHECK(n == 1 && done[0].id > ids[4]);
    stm_outmsg_free(done, n);
    CHECK(vlt_state_seen(s, "/src", "e-2"));
    vlt_state_free(s);
    CHECK(vlt_state_verify(db, mk, bad, NULL, &err) == 0);
out:
    CHECK(t_rm_state(dir, db, mk) == 0);
    T_DONE();
}
