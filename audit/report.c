/* The HTML compliance report. Records are folded into counts as they verify (the
 * verifier calls aud_report_record); the page is written at the end, and only from a
 * trail that verified whole: a trail that failed gives a page that says so on its first
 * line and shows nothing drawn from it. Every string from the input is escaped. */
#include <stdlib.h>
#include <string.h>

#include "audit/record.h"
#include "audit/report.h"
#include "common/map.h"
#include "common/timestamp.h"

#define MAX_OPS 1000   /* key operations listed; the rest are counted */
#define MAX_RECENT 200 /* findings listed whole, the latest ones */
#define MAX_BUCKETS 62 /* time buckets in a chart, at most */
#define DAY ((int64_t)86400)

enum { SEV_LOW, SEV_MEDIUM, SEV_HIGH, SEV_CRITICAL, SEV_OTHER, NSEV };
static const char *const SEV_NAME[NSEV] = {"low", "medium", "high", "critical", "other"};
static const char *const SEV_COLOR[NSEV] = {"#2563eb", "#ca8a04", "#ea580c", "#b91c1c", "#6b7280"};
enum { RES_MATCH, RES_UNKNOWN, RES_EXEMPTED, RES_OTHER, NRES };
static const char *const RES_NAME[NRES] = {"match", "unknown", "exempted", "other"};
#define NOUT 6
static const char *const OUT_NAME[NOUT] = {"allowed",   "denied", "rejected",
                                           "duplicate", "failed", "other"};

/* One finding, for the charts. */
struct hit {
    int64_t t;
    uint32_t rule;
    uint8_t sev;
};

/* A resource: its posture from the last record that carried its state, and from the
 * state file when one was given. */
struct res {
    char *id;
    bool posture, exists, cmk, locked, lost;
    char *key_uri, *reasons;
    long long seq;
    char chain[128], time[64];
    uint64_t findings;
    bool in_state, s_cmk, s_locked, s_lost;
    char *s_key_uri, *s_reasons;
};

/* A finding listed whole. */
struct item {
    char *time, *rule, *severity, *result, *resource, *message, *exemption;
    char chain[128];
    long long seq;
};

/* An exemption as its file states it (report --exemptions). */
struct exfile {
    char *id, *category, *reason, *ticket, *rules, *expires;
};

struct exm {
    char *id, *rule, *resource, *expires;
    uint64_t count;
    char first[64], last[64];
};

struct op {
    char *time, *subject, *op, *status, *error;
    long long seq;
};

struct state_chain {
    char *chain;
    uint64_t seq;
    char hash[65];
    int seen; /* 0 not in the trail, 1 its head record is there, -1 that seq differs */
};

struct aud_report {
    uint64_t records, events, findings;
    uint64_t outcome[NOUT], sev[NSEV], result[NRES];
    struct hit *hits;
    size_t nhits, caphits;
    char **rules;
    char **controls; /* per rule: the "STANDARD CONTROL" its findings map to, "; "-joined */
    size_t nrules;
    cm_map *rule_ix;                /* rule id -> index + 1 */
    cm_map *res;                    /* resource id -> struct res */
    cm_map *exm;                    /* exemption, rule, resource -> struct exm */
    cm_map *exf;                    /* exemption id -> struct exfile, from its file */
    struct item recent[MAX_RECENT]; /* a ring: the latest MAX_RECENT findings */
    size_t nrecent;
    struct op *ops;
    size_t nops;
    uint64_t ops_total;
    cm_map *last_event; /* chain -> "cause\ninput" of its last decision record */
    char first_time[64], last_time[64];
    bool trail_done;
    char *failure;
    aud_chain_info *chains;
    char **chain_names, **chain_heads;
    size_t nchains;
    char **inputs;
    size_t ninputs;
    char *key_path, *kid;
    bool state_given;
    char *state_path, *state_failure;
    struct state_chain *schains;
    size_t nschains;
};

aud_report *aud_report_new(void)
{
    aud_report *r = cm_xcalloc(1, sizeof *r);
    r->rule_ix = cm_map_new();
    r->res = cm_map_new();
    r->exm = cm_map_new();
    r->exf = cm_map_new();
    r->last_event = cm_map_new();
    return r;
}

static void res_free(struct res *x)
{
    free(x->id);
    free(x->key_uri);
    free(x->reasons);
    free(x->s_key_uri);
    free(x->s_reasons);
    free(x);
}

static void item_free(struct item *i)
{
    free(i->time);
    free(i->rule);
    free(i->severity);
    free(i->result);
    free(i->resource);
    free(i->message);
    free(i->exemption);
    memset(i, 0, sizeof *i);
}

void aud_report_free(aud_report *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < MAX_RECENT; i++)
        item_free(&r->recent[i]);
    size_t it = 0;
    void *p;
    while (cm_map_next(r->res, &it, NULL, &p))
        res_free(p);
    it = 0;
    while (cm_map_next(r->exm, &it, NULL, &p)) {
        struct exm *e = p;
        free(e->id);
        free(e->rule);
        free(e->resource);
        free(e->expires);
        free(e);
    }
    it = 0;
    while (cm_map_next(r->exf, &it, NULL, &p)) {
        struct exfile *x = p;
        free(x->id);
        free(x->category);
        free(x->reason);
        free(x->ticket);
        free(x->rules);
        free(x->expires);
        free(x);
    }
    cm_map_free(r->exf);
    it = 0;
    while (cm_map_next(r->last_event, &it, NULL, &p))
        free(p);
    cm_map_free(r->res);
    cm_map_free(r->exm);
    cm_map_free(r->last_event);
    cm_map_free(r->rule_ix);
    for (size_t i = 0; i < r->nrules; i++) {
        free(r->rules[i]);
        free(r->controls[i]);
    }
    free(r->rules);
    free(r->controls);
    free(r->hits);
    for (size_t i = 0; i < r->nops; i++) {
        free(r->ops[i].time);
        free(r->ops[i].subject);
        free(r->ops[i].op);
        free(r->ops[i].status);
        free(r->ops[i].error);
    }
    free(r->ops);
    free(r->failure);
    for (size_t i = 0; i < r->nchains; i++) {
        free(r->chain_names[i]);
        free(r->chain_heads[i]);
    }
    free(r->chains);
    free(r->chain_names);
    free(r->chain_heads);
    for (size_t i = 0; i < r->ninputs; i++)
        free(r->inputs[i]);
    free(r->inputs);
    free(r->key_path);
    free(r->kid);
    free(r->state_path);
    free(r->state_failure);
    for (size_t i = 0; i < r->nschains; i++)
        free(r->schains[i].chain);
    free(r->schains);
    free(r);
}

void aud_report_input(aud_report *r, const char *name)
{
    r->inputs = cm_xrealloc(r->inputs, (r->ninputs + 1) * sizeof *r->inputs);
    r->inputs[r->ninputs++] = cm_strdup(name);
}

void aud_report_key(aud_report *r, const char *path, const char *kid)
{
    free(r->key_path);
    free(r->kid);
    r->key_path = cm_strdup(path);
    r->kid = cm_strdup(kid);
}

void aud_report_trail(aud_report *r, const aud_verifier *v, const char *failure)
{
    r->trail_done = true;
    r->failure = cm_strdup(failure);
    r->nchains = aud_verifier_chain_count(v);
    r->chains = cm_xcalloc(r->nchains + 1, sizeof *r->chains);
    r->chain_names = cm_xcalloc(r->nchains + 1, sizeof *r->chain_names);
    r->chain_heads = cm_xcalloc(r->nchains + 1, sizeof *r->chain_heads);
    for (size_t i = 0; i < r->nchains; i++) {
        aud_verifier_chain(v, i, &r->chains[i]);
        r->chains[i].chain = r->chain_names[i] = cm_strdup(r->chains[i].chain);
        r->chains[i].head = r->chain_heads[i] = cm_strdup(r->chains[i].head);
    }
}

void aud_report_state(aud_report *r, const char *path, const char *failure)
{
    r->state_given = true;
    r->state_path = cm_strdup(path);
    r->state_failure = cm_strdup(failure);
}

static char *join(const char *const *v, size_t n)
{
    cm_buf b;
    cm_buf_init(&b, 0);
    cm_buf_adds(&b, "");
    for (size_t i = 0; i < n; i++) {
        if (i)
            cm_buf_adds(&b, ", ");
        cm_buf_adds(&b, v[i] ? v[i] : "");
    }
    return cm_buf_take(&b);
}

static struct res *res_get(aud_report *r, const char *id)
{
    struct res *x = cm_map_get(r->res, id);
    if (!x) {
        x = cm_xcalloc(1, sizeof *x);
        x->id = cm_strdup(id);
        cm_map_put(r->res, id, x);
    }
    return x;
}

void aud_report_state_resource(aud_report *r, const aud_report_resource *s)
{
    struct res *x = res_get(r, s->id);
    x->in_state = true;
    x->s_cmk = s->cmk;
    x->s_locked = s->locked;
    x->s_lost = s->lost;
    free(x->s_key_uri);
    free(x->s_reasons);
    x->s_key_uri = cm_strdup(s->key_uri);
    x->s_reasons = join(s->reasons, s->nreasons);
}

void aud_report_state_chain(aud_report *r, const char *chain, uint64_t seq, const char *hash)
{
    r->schains = cm_xrealloc(r->schains, (r->nschains + 1) * sizeof *r->schains);
    struct state_chain *c = &r->schains[r->nschains++];
    memset(c, 0, sizeof *c);
    c->chain = cm_strdup(chain);
    c->seq = seq;
    snprintf(c->hash, sizeof c->hash, "%s", hash ? hash : "");
}

bool aud_report_verified(const aud_report *r)
{
    return r->trail_done && !r->failure && !r->state_failure;
}

/* --- folding records in --- */

static int sev_index(const char *s)
{
    for (int i = 0; i < SEV_OTHER; i++)
        if (cm_streq(s, SEV_NAME[i]))
            return i;
    return SEV_OTHER;
}

static int result_index(const char *s)
{
    for (int i = 0; i < RES_OTHER; i++)
        if (cm_streq(s, RES_NAME[i]))
            return i;
    return RES_OTHER;
}

static uint32_t rule_index(aud_report *r, const char *rule)
{
    uintptr_t ix = (uintptr_t)cm_map_get(r->rule_ix, rule);
    if (ix)
        return (uint32_t)(ix - 1);
    r->rules = cm_xrealloc(r->rules, (r->nrules + 1) * sizeof *r->rules);
    r->controls = cm_xrealloc(r->controls, (r->nrules + 1) * sizeof *r->controls);
    r->rules[r->nrules] = cm_strdup(rule);
    r->controls[r->nrules] = NULL;
    cm_map_put(r->rule_ix, rule, (void *)(uintptr_t)(r->nrules + 1));
    return (uint32_t)r->nrules++;
}

#define MAX_CONTROLS 1024 /* bytes of a rule's joined controls */

/* Adds the finding's compliance mappings to its rule's controls, each once. */
static void add_controls(aud_report *r, uint32_t rule, yajl_val f)
{
    yajl_val list = aud_rec_get(f, "compliance");
    for (size_t i = 0; YAJL_IS_ARRAY(list) && i < list->u.array.len; i++) {
        const char *std = aud_rec_str(list->u.array.values[i], "standard");
        const char *ctl = aud_rec_str(list->u.array.values[i], "control");
        const char *have = r->controls[rule] ? r->controls[rule] : "";
        if (!std || !ctl || strlen(have) + strlen(std) + strlen(ctl) + 3 > MAX_CONTROLS)
            continue;
        /* "; A; B; " holds "; ITEM; " exactly when ITEM is one of A, B */
        cm_buf all, probe;
        cm_buf_init(&all, 0);
        cm_buf_init(&probe, 0);
        cm_buf_addf(&all, "; %s; ", have);
        cm_buf_addf(&probe, "; %s %s; ", std, ctl);
        if (!strstr(all.p, probe.p)) {
            cm_buf joined;
            cm_buf_init(&joined, 0);
            cm_buf_addf(&joined, "%s%s%s %s", have, *have ? "; " : "", std, ctl);
            free(r->controls[rule]);
            r->controls[rule] = cm_buf_take(&joined);
        }
        cm_buf_free(&all);
        cm_buf_free(&probe);
    }
}

static void copy_str(char *dst, size_t n, const char *s)
{
    snprintf(dst, n, "%s", s ? s : "");
}

static void fold_finding(aud_report *r, yajl_val f, const char *subject, const char *time,
                         int64_t t, const char *chain, long long seq)
{
    const char *rule = aud_rec_str(f, "rule");
    const char *resource = aud_rec_str(f, "resource");
    if (!rule)
        rule = "(no rule)";
    if (!resource)
        resource = subject;
    int sev = sev_index(aud_rec_str(f, "severity"));
    int result = result_index(aud_rec_str(f, "result"));
    r->findings++;
    r->sev[sev]++;
    r->result[result]++;
    if (r->nhits == r->caphits) {
        r->caphits = r->caphits ? r->caphits * 2 : 256;
        r->hits = cm_xrealloc(r->hits, r->caphits * sizeof *r->hits);
    }
    uint32_t ri = rule_index(r, rule);
    r->hits[r->nhits++] = (struct hit){t, ri, (uint8_t)sev};
    add_controls(r, ri, f);
    struct item *it = &r->recent[r->nrecent++ % MAX_RECENT];
    item_free(it);
    yajl_val exv = aud_rec_get(f, "exemption");
    *it = (struct item){
        .time = cm_strdup(time),
        .rule = cm_strdup(rule),
        .severity = cm_strdup(aud_rec_str(f, "severity")),
        .result = cm_strdup(aud_rec_str(f, "result")),
        .resource = cm_strdup(resource),
        .message = cm_strdup(aud_rec_str(f, "message")),
        .exemption = cm_strdup(YAJL_IS_STRING(exv) ? YAJL_GET_STRING(exv) : aud_rec_str(exv, "id")),
        .seq = seq};
    copy_str(it->chain, sizeof it->chain, chain);
    struct res *x = resource ? cm_map_get(r->res, resource) : NULL;
    if (x)
        x->findings++;
    /* an exemption: a string id, or an object with id (and expires) */
    yajl_val ev = aud_rec_get(f, "exemption");
    const char *eid = YAJL_IS_STRING(ev) ? YAJL_GET_STRING(ev) : aud_rec_str(ev, "id");
    if (result != RES_EXEMPTED && !eid)
        return;
    cm_buf k;
    cm_buf_init(&k, 0);
    cm_buf_addf(&k, "%s\n%s\n%s", eid ? eid : "", rule, resource ? resource : "");
    struct exm *e = cm_map_get(r->exm, k.p);
    if (!e) {
        e = cm_xcalloc(1, sizeof *e);
        e->id = cm_strdup(eid ? eid : "");
        e->rule = cm_strdup(rule);
        e->resource = cm_strdup(resource ? resource : "");
        copy_str(e->first, sizeof e->first, time);
        cm_map_put(r->exm, k.p, e);
    }
    const char *expires = aud_rec_str(ev, "expires");
    if (expires) {
        free(e->expires);
        e->expires = cm_strdup(expires);
    }
    e->count++;
    copy_str(e->last, sizeof e->last, time);
    cm_buf_free(&k);
}

static void fold_state(aud_report *r, const char *subject, yajl_val st, const char *chain,
                       long long seq, const char *time)
{
    struct res *x = res_get(r, subject);
    x->posture = true;
    x->exists = YAJL_IS_OBJECT(st);
    x->cmk = cm_streq(aud_rec_str(st, "key_source"), "cmk");
    x->locked = aud_rec_true(st, "locked");
    x->lost = aud_rec_true(st, "lost");
    free(x->key_uri);
    free(x->reasons);
    x->key_uri = cm_strdup(aud_rec_str(st, "key_uri"));
    yajl_val rs = aud_rec_get(st, "lock_reasons");
    size_t n = YAJL_IS_ARRAY(rs) ? rs->u.array.len : 0;
    const char **v = cm_xcalloc(n + 1, sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = YAJL_GET_STRING(rs->u.array.values[i]);
    x->reasons = join(v, n);
    free(v);
    x->seq = seq;
    copy_str(x->chain, sizeof x->chain, chain);
    copy_str(x->time, sizeof x->time, time);
}

static void fold_ops(aud_report *r, yajl_val acts, const char *subject, const char *time,
                     long long seq)
{
    for (size_t i = 0; YAJL_IS_ARRAY(acts) && i < acts->u.array.len; i++) {
        yajl_val a = acts->u.array.values[i];
        const char *op = aud_rec_str(a, "op");
        if (!cm_streq(op, "lockout") && !cm_streq(op, "unlock") && !cm_streq(op, "shred"))
            continue;
        r->ops_total++;
        if (r->nops == MAX_OPS)
            continue;
        if (!r->ops)
            r->ops = cm_xcalloc(MAX_OPS, sizeof *r->ops);
        r->ops[r->nops++] = (struct op){cm_strdup(time),
                                        cm_strdup(subject),
                                        cm_strdup(op),
                                        cm_strdup(aud_rec_str(a, "status")),
                                        cm_strdup(aud_rec_str(a, "error")),
                                        seq};
    }
}

int aud_report_record(void *arg, const char *where, const struct yajl_val_s *crec, cm_err *err)
{
    aud_report *r = arg;
    yajl_val rec = (yajl_val)crec;
    const char *chain = aud_rec_str(rec, "chain"), *time = aud_rec_str(rec, "time");
    const char *subject = aud_rec_str(rec, "subject");
    long long seq = 0;
    aud_rec_int(rec, "seq", &seq);
    r->records++;
    for (size_t i = 0; chain && i < r->nschains; i++) {
        struct state_chain *c = &r->schains[i];
        if (!strcmp(c->chain, chain) && c->seq == (uint64_t)seq)
            c->seen = cm_streq(c->hash, aud_rec_str(rec, "hash")) ? 1 : -1;
    }
    if (time && (!r->first_time[0] || strcmp(time, r->first_time) < 0))
        copy_str(r->first_time, sizeof r->first_time, time);
    if (time && strcmp(time, r->last_time) > 0)
        copy_str(r->last_time, sizeof r->last_time, time);
    if (!cm_streq(aud_rec_str(rec, "type"), "cmkguard.audit.decision"))
        return 0;
    yajl_val data = aud_rec_get(rec, "data");
    /* A decision record starts an event; its fan-out records follow it in its chain
     * with the same cause and input. */
    cm_buf k;
    cm_buf_init(&k, 0);
    cm_buf_addf(&k, "%s\n%s", aud_rec_str(data, "cause") ? aud_rec_str(data, "cause") : "",
                aud_rec_str(data, "input") ? aud_rec_str(data, "input") : "");
    char *last = chain ? cm_map_get(r->last_event, chain) : NULL;
    if (!last || strcmp(last, k.p) != 0) {
        r->events++;
        const char *o = aud_rec_str(data, "outcome");
        int oi = NOUT - 1;
        for (int i = 0; i < NOUT - 1; i++)
            if (cm_streq(o, OUT_NAME[i]))
                oi = i;
        r->outcome[oi]++;
        if (chain) {
            free(last);
            cm_map_put(r->last_event, chain, cm_buf_take(&k));
        }
    }
    cm_buf_free(&k);
    int64_t ms = 0;
    aud_rec_time_ms(time, &ms);
    yajl_val st = aud_rec_get(data, "state");
    if (subject && st)
        fold_state(r, subject, st, chain, seq, time);
    yajl_val fs = aud_rec_get(data, "findings");
    for (size_t i = 0; YAJL_IS_ARRAY(fs) && i < fs->u.array.len; i++)
        if (YAJL_IS_OBJECT(fs->u.array.values[i]))
            fold_finding(r, fs->u.array.values[i], subject, time, ms / 1000, chain, seq);
    fold_ops(r, aud_rec_get(data, "actions"), subject, time, seq);
    (void)where;
    (void)err;
    return 0;
}

/* --- writing the page --- */

/* Text or attribute value, escaped for HTML. */
static void esc(cm_buf *b, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&':
            cm_buf_adds(b, "&amp;");
            break;
        case '<':
            cm_buf_adds(b, "&lt;");
            break;
        case '>':
            cm_buf_adds(b, "&gt;");
            break;
        case '"':
            cm_buf_adds(b, "&quot;");
            break;
        case '\'':
            cm_buf_adds(b, "&#39;");
            break;
        default:
            cm_buf_addc(b, *s);
        }
    }
}

/* A short identifier (rule, exemption), kept on one line. */
static void short_ident(cm_buf *b, const char *s)
{
    cm_buf_adds(b, "<span class=\"id nb\">");
    esc(b, s ? s : "");
    cm_buf_adds(b, "</span>");
}

static void tag_text(cm_buf *b, const char *open, const char *s, const char *close)
{
    cm_buf_adds(b, open);
    esc(b, s);
    cm_buf_adds(b, close);
}

/* A long identifier shown whole, breakable anywhere. */
static void ident(cm_buf *b, const char *s)
{
    cm_buf_adds(b, "<span class=\"id\">");
    esc(b, s ? s : "");
    cm_buf_adds(b, "</span>");
}

static const char CSS[] =
    ":root{--fg:#1f2937;--muted:#6b7280;--line:#e5e7eb;--bg:#f9fafb;--ok:#166534;"
    "--okbg:#dcfce7;--bad:#991b1b;--badbg:#fee2e2;--warn:#92400e;--warnbg:#fef3c7}"
    "*{box-sizing:border-box}"
    "body{margin:0;font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,'Helvetica Neue',"
    "Arial,'Noto Sans','DejaVu Sans',sans-serif;color:var(--fg);background:#fff}"
    "main{max-width:1200px;margin:0 auto;padding:0 24px 48px}"
    "h1{font-size:22px;margin:0;padding:18px 24px}"
    "h2{font-size:17px;margin:32px 0 10px;padding-bottom:6px;border-bottom:1px solid var(--line)}"
    "h3{font-size:14px;margin:18px 0 8px;color:var(--muted);font-weight:600}"
    ".verdict.ok{background:var(--okbg);color:var(--ok);border-bottom:2px solid var(--ok)}"
    ".verdict.bad{background:var(--badbg);color:var(--bad);border-bottom:2px solid var(--bad)}"
    ".meta{color:var(--muted);margin:10px 0 0}"
    ".cards{display:flex;flex-wrap:wrap;gap:10px}"
    ".card{border:1px solid var(--line);border-radius:6px;padding:10px 14px;min-width:120px;"
    "background:var(--bg)}"
    ".card b{display:block;font-size:22px;font-variant-numeric:tabular-nums}"
    ".card span{color:var(--muted);font-size:12px}"
    ".card.bad b{color:var(--bad)}"
    "table{border-collapse:collapse;width:100%;margin:6px 0 12px}"
    "th,td{text-align:left;padding:5px 8px;border-bottom:1px solid var(--line);"
    "vertical-align:top}"
    "th{font-size:12px;color:var(--muted);font-weight:600;background:var(--bg)}"
    "td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}"
    ".id{font-family:ui-monospace,'DejaVu Sans Mono',Menlo,Consolas,monospace;font-size:12px;"
    "word-break:break-all}"
    ".nb{word-break:normal;white-space:nowrap}"
    ".tag{display:inline-block;padding:0 6px;border-radius:4px;font-size:12px;font-weight:600}"
    ".tag.bad{background:var(--badbg);color:var(--bad)}"
    ".tag.ok{background:var(--okbg);color:var(--ok)}"
    ".tag.warn{background:var(--warnbg);color:var(--warn)}"
    ".note{color:var(--muted)}"
    ".failure{border:2px solid var(--bad);background:var(--badbg);padding:12px 16px;"
    "border-radius:6px}"
    "svg{display:block;max-width:100%;height:auto}"
    "svg text{font-size:11px;fill:#374151}"
    ".legend span{display:inline-block;margin-right:14px;font-size:12px}"
    ".legend i{display:inline-block;width:10px;height:10px;margin-right:4px;"
    "vertical-align:baseline}"
    "footer{color:var(--muted);font-size:12px;margin-top:40px}";

static void card(cm_buf *b, const char *attr, uint64_t n, const char *label, bool bad)
{
    cm_buf_addf(b, "<div class=\"card%s\" data-count-%s=\"%llu\"><b>%llu</b><span>",
                bad && n ? " bad" : "", attr, (unsigned long long)n, (unsigned long long)n);
    esc(b, label);
    cm_buf_adds(b, "</span></div>");
}

static void count_posture(const aud_report *r, uint64_t *resources, uint64_t *locked,
                          uint64_t *lost)
{
    size_t it = 0;
    void *p;
    *resources = *locked = *lost = 0;
    while (cm_map_next(r->res, &it, NULL, &p)) {
        const struct res *x = p;
        if (!x->posture)
            continue;
        (*resources)++;
        *locked += x->exists && x->locked;
        *lost += x->exists && x->lost;
    }
}

static void summary(cm_buf *b, const aud_report *r)
{
    uint64_t resources, locked, lost;
    count_posture(r, &resources, &locked, &lost);
    cm_buf_adds(b, "<section id=\"summary\"><h2>Summary</h2><div class=\"cards\">");
    card(b, "events", r->events, "events decided", false);
    card(b, "records", r->records, "audit records", false);
    card(b, "findings", r->findings, "findings", false);
    card(b, "resources", resources, "resources", false);
    card(b, "locked", locked, "locked now", true);
    card(b, "lost", lost, "lost (data unrecoverable)", true);
    cm_buf_adds(b, "</div><h3>Decisions by outcome</h3><div class=\"cards\">");
    for (int i = 0; i < NOUT; i++) {
        if (i == NOUT - 1 && !r->outcome[i])
            continue;
        char attr[32];
        snprintf(attr, sizeof attr, "outcome-%s", OUT_NAME[i]);
        card(b, attr, r->outcome[i], OUT_NAME[i], false);
    }
    cm_buf_adds(b, "</div><h3>Findings by severity and result</h3><div class=\"cards\">");
    for (int i = NSEV - 1; i >= 0; i--) {
        if (i == SEV_OTHER && !r->sev[i])
            continue;
        char attr[32];
        snprintf(attr, sizeof attr, "severity-%s", SEV_NAME[i]);
        card(b, attr, r->sev[i], SEV_NAME[i], false);
    }
    for (int i = 0; i < NRES; i++) {
        if (i == RES_OTHER && !r->result[i])
            continue;
        char attr[32];
        snprintf(attr, sizeof attr, "result-%s", RES_NAME[i]);
        card(b, attr, r->result[i], RES_NAME[i], false);
    }
    cm_buf_adds(b, "</div></section>");
}

static void chains(cm_buf *b, const aud_report *r)
{
    cm_buf_adds(b, "<section id=\"chains\"><h2>Chain verification</h2>");
    if (!r->nchains) {
        cm_buf_adds(b, "<p class=\"note\">No record was read.</p></section>");
        return;
    }
    cm_buf_adds(b, "<table><thead><tr><th>chain</th><th>result</th><th class=\"n\">records</th>"
                   "<th class=\"n\">first seq</th><th class=\"n\">last seq</th>"
                   "<th class=\"n\">signed through</th><th>head (hash of the last record)</th>"
                   "</tr></thead><tbody>");
    for (size_t i = 0; i < r->nchains; i++) {
        const aud_chain_info *c = &r->chains[i];
        bool bad = c->failed;
        cm_buf_adds(b, "<tr data-chain=\"");
        esc(b, c->chain);
        cm_buf_addf(b, "\" data-verified=\"%s\"><td>", bad ? "false" : "true");
        ident(b, c->chain);
        cm_buf_addf(b,
                    "</td><td>%s</td><td class=\"n\">%llu</td><td class=\"n\">%llu</td>"
                    "<td class=\"n\">%llu</td><td class=\"n\">%llu</td><td>",
                    bad          ? "<span class=\"tag bad\">FAILED</span>"
                    : r->failure ? "<span class=\"tag warn\">intact so far</span>"
                                 : "<span class=\"tag ok\">verified</span>",
                    (unsigned long long)c->records, (unsigned long long)c->first,
                    (unsigned long long)c->last, (unsigned long long)c->last_signed);
        ident(b, c->head);
        cm_buf_adds(b, "</td></tr>");
    }
    cm_buf_adds(b, "</tbody></table>");
    if (r->failure) {
        cm_buf_adds(b, "<p class=\"failure\">Verification stopped at ");
        esc(b, r->failure);
        cm_buf_adds(b, ". Records after it were not checked.</p>");
    }
    cm_buf_adds(b, "</section>");
}

/* The bar width for a span [t0, t1]: a day when the span covers two days or more and
 * that gives at most MAX_BUCKETS bars, else the shortest width that gives at most 24. */
static int64_t bucket_width(int64_t t0, int64_t t1)
{
    static const int64_t widths[] = {60,  300,     900,      3600,     3 * 3600, 6 * 3600,
                                     DAY, 7 * DAY, 30 * DAY, 91 * DAY, 365 * DAY};
    if (t1 - t0 >= 2 * DAY && t1 / DAY - t0 / DAY < MAX_BUCKETS)
        return DAY;
    for (size_t i = 0; i < CM_ARRAY_LEN(widths); i++)
        if (t1 / widths[i] - t0 / widths[i] < (widths[i] >= DAY ? MAX_BUCKETS : 24))
            return widths[i];
    return (t1 - t0) / (MAX_BUCKETS - 1) + 1;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

static void bucket_label(int64_t t, int64_t width, char *out, size_t n)
{
    char ts[CM_TS_SIZE];
    cm_ts_format(t, ts);
    if (width > DAY)
        snprintf(out, n, "%.10s", ts); /* YYYY-MM-DD */
    else if (width == DAY)
        snprintf(out, n, "%.5s", ts + 5); /* MM-DD */
    else
        snprintf(out, n, "%.5s %.5s", ts + 5, ts + 11); /* MM-DD HH:MM */
}

/* Round a maximum up to a tick step that gives at most 5 integer ticks. */
static uint64_t tick_step(uint64_t max)
{
    uint64_t step = 1;
    while (max / step > 5) {
        if (max / (step * 2) <= 5)
            return step * 2;
        if (max / (step * 5) <= 5)
            return step * 5;
        step *= 10;
    }
    return step;
}

static void legend(cm_buf *b, const aud_report *r)
{
    cm_buf_adds(b, "<p class=\"legend\">");
    for (int s = r->sev[SEV_OTHER] ? NSEV - 1 : NSEV - 2; s >= 0; s--)
        cm_buf_addf(b, "<span><i style=\"background:%s\"></i>%s</span>", SEV_COLOR[s], SEV_NAME[s]);
    cm_buf_adds(b, "</p>");
}

/* Findings per time bucket, stacked by severity, with a y axis of integer ticks. */
static void chart_time(cm_buf *b, const aud_report *r, int64_t t0, int64_t width, int64_t nb)
{
    char first[CM_TS_SIZE];
    cm_ts_format(t0 * width, first);
    uint64_t(*cnt)[NSEV] = cm_xcalloc((size_t)nb, sizeof *cnt);
    uint64_t max = 1;
    for (size_t i = 0; i < r->nhits; i++) {
        int64_t k = floor_div(r->hits[i].t, width) - t0;
        cnt[k][r->hits[i].sev]++;
    }
    for (int64_t k = 0; k < nb; k++) {
        uint64_t tot = 0;
        for (int s = 0; s < NSEV; s++)
            tot += cnt[k][s];
        if (tot > max)
            max = tot;
    }
    uint64_t step = tick_step(max);
    uint64_t top = (max + step - 1) / step * step;
    const int W = 1000, H = 280, L = 48, R = 12, T = 12, B = 56;
    int pw = W - L - R, ph = H - T - B;
    int bw = pw / (int)nb > 64 ? 64 : pw / (int)nb;
    cm_buf_addf(b,
                "<svg id=\"chart-time\" role=\"img\" aria-label=\"findings over time by "
                "severity\" viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" "
                "xmlns=\"http://www.w3.org/2000/svg\">",
                W, H, W, H);
    for (uint64_t v = 0; v <= top; v += step) {
        int y = T + ph - (int)(v * (uint64_t)ph / top);
        cm_buf_addf(b,
                    "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#e5e7eb\"/>"
                    "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%llu</text>",
                    L, y, W - R, y, L - 6, y + 4, (unsigned long long)v);
    }
    int every = (int)((nb + 7) / 8);
    for (int64_t k = 0; k < nb; k++) {
        int x = L + (int)k * bw;
        uint64_t acc = 0;
        for (int s = NSEV - 1; s >= 0; s--) {
            if (!cnt[k][s])
                continue;
            int y0 = T + ph - (int)(acc * (uint64_t)ph / top);
            acc += cnt[k][s];
            int y1 = T + ph - (int)(acc * (uint64_t)ph / top);
            char label[64];
            bucket_label((t0 + k) * width, width, label, sizeof label);
            cm_buf_addf(b,
                        "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\" "
                        "data-bucket=\"%s\" data-severity=\"%s\" data-count=\"%llu\">"
                        "<title>%s: %llu %s</title></rect>",
                        x + 1, y1, bw > 2 ? bw - 2 : 1, y0 - y1, SEV_COLOR[s], label, SEV_NAME[s],
                        (unsigned long long)cnt[k][s], label, (unsigned long long)cnt[k][s],
                        SEV_NAME[s]);
        }
        if (k % every == 0) {
            char label[64];
            bucket_label((t0 + k) * width, width, label, sizeof label);
            cm_buf_addf(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%s</text>", x + bw / 2,
                        T + ph + 16, label);
        }
    }
    cm_buf_addf(b,
                "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#9ca3af\"/>"
                "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#9ca3af\"/>"
                "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">time (UTC) from %.10s, one bar "
                "per %s</text></svg>",
                L, T + ph, W - R, T + ph, L, T, L, T + ph, L + pw / 2, H - 10, first,
                width == 60        ? "minute"
                : width < 3600     ? "few minutes"
                : width == 3600    ? "hour"
                : width < DAY      ? "few hours"
                : width == DAY     ? "day"
                : width == 7 * DAY ? "week"
                                   : "period");
    free(cnt);
}

/* Findings per rule: horizontal bars stacked by severity, and the count beside each. */
static void chart_rules(cm_buf *b, const aud_report *r, const uint32_t *order,
                        uint64_t (*per)[NSEV])
{
    uint64_t max = 1;
    for (size_t i = 0; i < r->nrules; i++) {
        uint64_t tot = 0;
        for (int s = 0; s < NSEV; s++)
            tot += per[i][s];
        if (tot > max)
            max = tot;
    }
    const int W = 1000, L = 230, R = 60, row = 24, T = 8;
    int H = T * 2 + row * (int)r->nrules + 20, pw = W - L - R;
    cm_buf_addf(b,
                "<svg id=\"chart-rules\" role=\"img\" aria-label=\"findings by rule and "
                "severity\" viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" "
                "xmlns=\"http://www.w3.org/2000/svg\">",
                W, H, W, H);
    for (size_t j = 0; j < r->nrules; j++) {
        uint32_t i = order[j];
        int y = T + (int)j * row;
        cm_buf_addf(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", L - 8, y + 16);
        esc(b, r->rules[i]);
        cm_buf_adds(b, "</text>");
        uint64_t acc = 0;
        for (int s = NSEV - 1; s >= 0; s--) {
            if (!per[i][s])
                continue;
            int x0 = L + (int)(acc * (uint64_t)pw / max);
            acc += per[i][s];
            int x1 = L + (int)(acc * (uint64_t)pw / max);
            cm_buf_addf(b,
                        "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\">"
                        "<title>",
                        x0, y + 4, x1 - x0 > 1 ? x1 - x0 : 1, row - 8, SEV_COLOR[s]);
            esc(b, r->rules[i]);
            cm_buf_addf(b, ": %llu %s</title></rect>", (unsigned long long)per[i][s], SEV_NAME[s]);
        }
        cm_buf_addf(b, "<text x=\"%d\" y=\"%d\">%llu</text>",
                    L + (int)(acc * (uint64_t)pw / max) + 6, y + 16, (unsigned long long)acc);
    }
    int ya = T + row * (int)r->nrules;
    cm_buf_addf(b,
                "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#9ca3af\"/>"
                "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#9ca3af\"/>"
                "<text x=\"%d\" y=\"%d\">0</text><text x=\"%d\" y=\"%d\" "
                "text-anchor=\"end\">%llu findings</text></svg>",
                L, T, L, ya, L, ya, L + pw, ya, L - 3, ya + 14, L + pw, ya + 14,
                (unsigned long long)max);
}

/* Rules against time: a grid of cells shaded by count, the count written in each. */
static void chart_heat(cm_buf *b, const aud_report *r, const uint32_t *order, int64_t t0,
                       int64_t width, int64_t nb)
{
    uint64_t *cnt = cm_xcalloc(r->nrules * (size_t)nb + 1, sizeof *cnt);
    uint64_t max = 1;
    for (size_t i = 0; i < r->nhits; i++) {
        int64_t k = floor_div(r->hits[i].t, width) - t0;
        uint64_t *c = &cnt[r->hits[i].rule * (size_t)nb + (size_t)k];
        if (++*c > max)
            max = *c;
    }
    const int W = 1000, L = 230, R = 12, row = 22, T = 8;
    int cw = (W - L - R) / (int)nb > 96 ? 96 : (W - L - R) / (int)nb;
    int H = T + row * (int)r->nrules + 40;
    cm_buf_addf(b,
                "<svg id=\"chart-heat\" role=\"img\" aria-label=\"findings by rule over time\" "
                "viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" "
                "xmlns=\"http://www.w3.org/2000/svg\">",
                W, H, W, H);
    for (size_t j = 0; j < r->nrules; j++) {
        uint32_t i = order[j];
        int y = T + (int)j * row;
        cm_buf_addf(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", L - 8, y + 15);
        esc(b, r->rules[i]);
        cm_buf_adds(b, "</text>");
        for (int64_t k = 0; k < nb; k++) {
            uint64_t c = cnt[i * (size_t)nb + (size_t)k];
            /* opacity in hundredths, from 15 to 100 */
            unsigned op = c ? (unsigned)(15 + c * 85 / max) : 0;
            int x = L + (int)k * cw;
            cm_buf_addf(b,
                        "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\" "
                        "fill-opacity=\"%u%%\" stroke=\"#e5e7eb\"/>",
                        x, y + 2, cw, row - 4, c ? "#b91c1c" : "#ffffff", c ? op : 100);
            if (c && cw >= 14)
                cm_buf_addf(b,
                            "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" "
                            "style=\"fill:%s\">%llu</text>",
                            x + cw / 2, y + 15, op > 55 ? "#fff" : "#111", (unsigned long long)c);
        }
    }
    int every = (int)((nb + 7) / 8);
    for (int64_t k = 0; k < nb; k += every) {
        char label[64];
        bucket_label((t0 + k) * width, width, label, sizeof label);
        cm_buf_addf(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"start\">%s</text>", L + (int)k * cw,
                    T + row * (int)r->nrules + 16, label);
    }
    cm_buf_adds(b, "</svg>");
    free(cnt);
}

struct rule_order {
    const aud_report *r;
    const uint64_t (*per)[NSEV];
};

static uint64_t rule_total(const uint64_t (*per)[NSEV], uint32_t i)
{
    uint64_t t = 0;
    for (int s = 0; s < NSEV; s++)
        t += per[i][s];
    return t;
}

/* Most findings first, then by rule id. */
static int by_total(const void *a, const void *b, void *arg)
{
    const struct rule_order *o = arg;
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    uint64_t tx = rule_total(o->per, x), ty = rule_total(o->per, y);
    if (tx != ty)
        return tx > ty ? -1 : 1;
    return strcmp(o->r->rules[x], o->r->rules[y]);
}

/* The latest findings, newest first, with their messages. */
static void recent(cm_buf *b, const aud_report *r)
{
    size_t n = r->nrecent < MAX_RECENT ? r->nrecent : MAX_RECENT;
    cm_buf_addf(b, "<h3>Latest findings (%zu of %llu)</h3>", n, (unsigned long long)r->findings);
    cm_buf_adds(b, "<table id=\"latest\"><thead><tr><th>time</th><th>record</th><th>rule</th>"
                   "<th>severity</th><th>result</th><th>resource</th><th>message</th></tr>"
                   "</thead><tbody>");
    for (size_t k = 0; k < n; k++) {
        const struct item *it = &r->recent[(r->nrecent - 1 - k) % MAX_RECENT];
        int sev = sev_index(it->severity);
        tag_text(b, "<tr data-finding=\"\"><td class=\"nb\">", it->time, "</td><td>");
        ident(b, it->chain);
        cm_buf_addf(b, " %lld</td><td>", it->seq);
        short_ident(b, it->rule);
        cm_buf_addf(b, "</td><td><span class=\"tag\" style=\"color:#fff;background:%s\">",
                    SEV_COLOR[sev]);
        esc(b, it->severity ? it->severity : "?");
        tag_text(b, "</span></td><td>", it->result ? it->result : "?", "");
        if (it->exemption)
            tag_text(b, " <span class=\"note\">(", it->exemption, ")</span>");
        cm_buf_adds(b, "</td><td>");
        ident(b, it->resource);
        tag_text(b, "</td><td>", it->message, "</td></tr>");
    }
    cm_buf_adds(b, "</tbody></table>");
}

static void findings(cm_buf *b, const aud_report *r)
{
    cm_buf_adds(b, "<section id=\"findings\"><h2>Findings by rule and severity</h2>");
    if (!r->nhits) {
        cm_buf_adds(b, "<p class=\"note\">No rule reported a finding.</p></section>");
        return;
    }
    uint64_t(*per)[NSEV] = cm_xcalloc(r->nrules, sizeof *per);
    uint32_t *order = cm_xcalloc(r->nrules, sizeof *order);
    int64_t lo = r->hits[0].t, hi = lo;
    for (size_t i = 0; i < r->nhits; i++) {
        per[r->hits[i].rule][r->hits[i].sev]++;
        if (r->hits[i].t < lo)
            lo = r->hits[i].t;
        if (r->hits[i].t > hi)
            hi = r->hits[i].t;
    }
    for (uint32_t i = 0; i < r->nrules; i++)
        order[i] = i;
    struct rule_order ctx = {r, (const uint64_t(*)[NSEV])per};
    qsort_r(order, r->nrules, sizeof *order, by_total, &ctx);
    int64_t width = bucket_width(lo, hi);
    int64_t t0 = floor_div(lo, width), nb = floor_div(hi, width) - t0 + 1;
    cm_buf_adds(b, "<h3>Over time, by severity</h3>");
    legend(b, r);
    chart_time(b, r, t0, width, nb);
    cm_buf_adds(b, "<h3>By rule</h3>");
    chart_rules(b, r, order, per);
    cm_buf_adds(b, "<h3>By rule, over time</h3>");
    chart_heat(b, r, order, t0, width, nb);
    int top = r->sev[SEV_OTHER] ? NSEV - 1 : NSEV - 2;
    cm_buf_adds(b, "<table id=\"rules\"><thead><tr><th>rule</th>");
    for (int s = top; s >= 0; s--)
        cm_buf_addf(b, "<th class=\"n\">%s</th>", SEV_NAME[s]);
    bool any_controls = false;
    for (size_t i = 0; i < r->nrules; i++)
        any_controls |= r->controls[i] != NULL;
    cm_buf_adds(b, "<th class=\"n\">total</th>");
    if (any_controls)
        cm_buf_adds(b, "<th>controls</th>");
    cm_buf_adds(b, "</tr></thead><tbody>");
    for (size_t j = 0; j < r->nrules; j++) {
        uint32_t i = order[j];
        uint64_t tot = rule_total(ctx.per, i);
        cm_buf_adds(b, "<tr data-rule=\"");
        esc(b, r->rules[i]);
        cm_buf_addf(b, "\" data-count=\"%llu\"><td>", (unsigned long long)tot);
        short_ident(b, r->rules[i]);
        cm_buf_adds(b, "</td>");
        for (int s = top; s >= 0; s--)
            cm_buf_addf(b, "<td class=\"n\">%llu</td>", (unsigned long long)per[i][s]);
        cm_buf_addf(b, "<td class=\"n\">%llu</td>", (unsigned long long)tot);
        if (any_controls)
            tag_text(b, "<td>", r->controls[i] ? r->controls[i] : "", "</td>");
        cm_buf_adds(b, "</tr>");
    }
    cm_buf_adds(b, "</tbody></table>");
    recent(b, r);
    cm_buf_adds(b, "</section>");
    free(per);
    free(order);
}

/* Whether the state agrees with the trail's last record of the resource. */
static void state_cell(cm_buf *b, const struct res *x)
{
    if (!x->in_state) {
        cm_buf_adds(b, x->exists ? "<span class=\"tag warn\">not in state</span>"
                                 : "<span class=\"note\">absent</span>");
        return;
    }
    if (!x->posture) {
        cm_buf_adds(b, "<span class=\"tag warn\">only in state</span>");
        return;
    }
    bool same = x->exists && x->cmk == x->s_cmk && x->locked == x->s_locked &&
                x->lost == x->s_lost && cm_streq(x->key_uri, x->s_key_uri);
    cm_buf_adds(b, same ? "<span class=\"tag ok\">agrees</span>"
                        : "<span class=\"tag warn\">differs</span>");
}

static void posture(cm_buf *b, const aud_report *r, bool with_state)
{
    cm_buf_adds(b, "<section id=\"posture\"><h2>Posture per resource</h2>"
                   "<p class=\"note\">From the last record that carried each resource's "
                   "state");
    if (with_state)
        cm_buf_adds(b, ", beside what the verified state holds now");
    cm_buf_adds(b, ".</p><table><thead><tr><th>resource</th><th>key source</th><th>key</th>"
                   "<th>locked</th><th>lost</th><th class=\"n\">findings</th>"
                   "<th>last record</th>");
    if (with_state)
        cm_buf_adds(b, "<th>state</th>");
    cm_buf_adds(b, "</tr></thead><tbody>");
    size_t n;
    const char **ids = cm_map_sorted_keys(r->res, &n);
    for (size_t i = 0; i < n; i++) {
        const struct res *x = cm_map_get(r->res, ids[i]);
        if (!x->posture && !(with_state && x->in_state))
            continue;
        bool from_state = !x->posture;
        bool exists = from_state || x->exists;
        bool cmk = from_state ? x->s_cmk : x->cmk, locked = from_state ? x->s_locked : x->locked;
        bool lost = from_state ? x->s_lost : x->lost;
        const char *key = from_state ? x->s_key_uri : x->key_uri;
        const char *reasons = from_state ? x->s_reasons : x->reasons;
        cm_buf_adds(b, "<tr data-resource=\"");
        esc(b, x->id);
        cm_buf_addf(b,
                    "\" data-exists=\"%s\" data-locked=\"%s\" data-lost=\"%s\" "
                    "data-findings=\"%llu\"><td>",
                    exists ? "true" : "false", exists && locked ? "true" : "false",
                    exists && lost ? "true" : "false", (unsigned long long)x->findings);
        ident(b, x->id);
        if (!exists) {
            cm_buf_adds(b, "</td><td colspan=\"4\" class=\"note\">does not exist (not created, "
                           "or removed)</td>");
        } else {
            cm_buf_addf(b, "</td><td>%s</td><td>", cmk ? "CMK" : "MMK");
            if (key)
                ident(b, key);
            else
                cm_buf_adds(b, "<span class=\"note\">service-managed</span>");
            cm_buf_addf(b, "</td><td>%s", locked ? "<span class=\"tag bad\">locked</span>" : "no");
            if (locked && reasons && *reasons)
                tag_text(b, "<br><span class=\"note\">", reasons, "</span>");
            cm_buf_addf(b, "</td><td>%s</td>", lost ? "<span class=\"tag bad\">lost</span>" : "no");
        }
        cm_buf_addf(b, "<td class=\"n\">%llu</td><td>", (unsigned long long)x->findings);
        if (from_state) {
            cm_buf_adds(b, "<span class=\"note\">none in the trail</span>");
        } else {
            ident(b, x->chain);
            cm_buf_addf(b, " seq %lld<br><span class=\"note\">", x->seq);
            esc(b, x->time);
            cm_buf_adds(b, "</span>");
        }
        cm_buf_adds(b, "</td>");
        if (with_state) {
            cm_buf_adds(b, "<td>");
            state_cell(b, x);
            cm_buf_adds(b, "</td>");
        }
        cm_buf_adds(b, "</tr>");
    }
    free(ids);
    cm_buf_adds(b, "</tbody></table></section>");
}

static void locks(cm_buf *b, const aud_report *r)
{
    cm_buf_adds(b, "<section id=\"locks\"><h2>Locks and lost resources</h2>");
    size_t n, shown = 0;
    const char **ids = cm_map_sorted_keys(r->res, &n);
    cm_buf_adds(b, "<table id=\"locked\"><thead><tr><th>resource</th><th>state</th>"
                   "<th>why</th><th>as of the record</th></tr></thead><tbody>");
    for (size_t i = 0; i < n; i++) {
        const struct res *x = cm_map_get(r->res, ids[i]);
        if (!x->posture || !x->exists || !(x->locked || x->lost))
            continue;
        shown++;
        cm_buf_adds(b, "<tr data-resource=\"");
        esc(b, x->id);
        cm_buf_adds(b, "\"><td>");
        ident(b, x->id);
        cm_buf_addf(b, "</td><td>%s</td><td>",
                    x->lost ? "<span class=\"tag bad\">lost</span>"
                            : "<span class=\"tag bad\">locked</span>");
        esc(b, x->reasons);
        cm_buf_adds(b, "</td><td>");
        ident(b, x->chain);
        cm_buf_addf(b, " seq %lld, ", x->seq);
        esc(b, x->time);
        cm_buf_adds(b, "</td></tr>");
    }
    free(ids);
    if (!shown)
        cm_buf_adds(b, "<tr><td colspan=\"4\" class=\"note\">No resource is locked or lost."
                       "</td></tr>");
    cm_buf_adds(b, "</tbody></table><h3>Lockouts, unlocks and shreds</h3>");
    if (!r->nops) {
        cm_buf_adds(b, "<p class=\"note\">None in the trail.</p></section>");
        return;
    }
    cm_buf_adds(b, "<table id=\"operations\"><thead><tr><th>time</th><th>record</th>"
                   "<th>resource</th><th>operation</th><th>status</th></tr></thead><tbody>");
    for (size_t i = 0; i < r->nops; i++) {
        const struct op *o = &r->ops[i];
        tag_text(b, "<tr><td>", o->time, "</td>");
        cm_buf_addf(b, "<td class=\"n\">%lld</td><td>", o->seq);
        ident(b, o->subject);
        tag_text(b, "</td><td>", o->op, "</td><td>");
        esc(b, o->status);
        if (o->error)
            tag_text(b, ": ", o->error, "");
        cm_buf_adds(b, "</td></tr>");
    }
    cm_buf_adds(b, "</tbody></table>");
    if (r->ops_total > r->nops)
        cm_buf_addf(b, "<p class=\"note\">The first %zu of %llu operations are listed.</p>",
                    r->nops, (unsigned long long)r->ops_total);
    cm_buf_adds(b, "</section>");
}

void aud_report_exemption(aud_report *r, const char *id, const char *category, const char *expires,
                          const char *reason, const char *ticket, const char *rules)
{
    if (!id || cm_map_get(r->exf, id))
        return;
    struct exfile *x = cm_xcalloc(1, sizeof *x);
    x->id = cm_strdup(id);
    x->category = cm_strdup(category);
    x->expires = cm_strdup(expires);
    x->reason = cm_strdup(reason);
    x->ticket = cm_strdup(ticket);
    x->rules = cm_strdup(rules);
    cm_map_put(r->exf, id, x);
}

/* in force, within 30 days, expired, or unknown (no expiry known) */
static const char *expiry_state(const char *expires, int64_t as_of, int64_t *exp)
{
    if (!expires || !cm_ts_parse(expires, strlen(expires), exp))
        return "unknown";
    return *exp <= as_of ? "expired" : *exp - as_of <= 30 * DAY ? "within 30 days" : "in force";
}

static const char *expiry_tag(const char *when)
{
    return !strcmp(when, "in force") ? "ok" : !strcmp(when, "expired") ? "bad" : "warn";
}

/* The exemption files given to the report: every exemption, whether or not the trail
 * shows it applied, with its expiry counted from as_of. */
static void exemption_files(cm_buf *b, const aud_report *r, int64_t as_of)
{
    size_t n;
    const char **ids = cm_map_sorted_keys(r->exf, &n);
    size_t in_force = 0, soon = 0, expired = 0;
    for (size_t i = 0; i < n; i++) {
        const struct exfile *x = cm_map_get(r->exf, ids[i]);
        int64_t exp;
        const char *when = expiry_state(x->expires, as_of, &exp);
        in_force += !strcmp(when, "in force");
        soon += !strcmp(when, "within 30 days");
        expired += !strcmp(when, "expired");
    }
    cm_buf_addf(b,
                "<p data-exemptions-in-force=\"%zu\" data-exemptions-expiring=\"%zu\" "
                "data-exemptions-expired=\"%zu\">Exemption files: %zu in force, %zu expiring "
                "within 30 days, %zu expired.</p>",
                in_force + soon, soon, expired, in_force + soon, soon, expired);
    cm_buf_adds(b, "<table><thead><tr><th>exemption</th><th>category</th><th>rules</th>"
                   "<th>expires</th><th class=\"n\">findings held</th><th>reason</th>"
                   "<th>ticket</th></tr></thead><tbody>");
    for (size_t i = 0; i < n; i++) {
        const struct exfile *x = cm_map_get(r->exf, ids[i]);
        int64_t exp;
        const char *when = expiry_state(x->expires, as_of, &exp);
        uint64_t held = 0;
        size_t it = 0;
        void *p;
        while (cm_map_next(r->exm, &it, NULL, &p))
            if (!strcmp(((const struct exm *)p)->id, x->id))
                held += ((const struct exm *)p)->count;
        cm_buf_adds(b, "<tr data-exemption-file=\"");
        esc(b, x->id);
        cm_buf_addf(b, "\" data-expiry=\"%s\" data-held=\"%llu\"><td>", when,
                    (unsigned long long)held);
        short_ident(b, x->id);
        tag_text(b, "</td><td>", x->category, "</td><td>");
        esc(b, x->rules);
        cm_buf_adds(b, "</td><td>");
        esc(b, x->expires);
        cm_buf_addf(b, " <span class=\"tag %s\">%s</span></td>", expiry_tag(when), when);
        cm_buf_addf(b, "<td class=\"n\">%llu</td>", (unsigned long long)held);
        tag_text(b, "<td>", x->reason, "</td>");
        tag_text(b, "<td>", x->ticket ? x->ticket : "", "</td></tr>");
    }
    cm_buf_adds(b, "</tbody></table>");
    free(ids);
}

static void exemptions(cm_buf *b, const aud_report *r, int64_t as_of)
{
    cm_buf_adds(b, "<section id=\"exemptions\"><h2>Exemptions</h2>");
    if (cm_map_len(r->exf))
        exemption_files(b, r, as_of);
    size_t n;
    const char **keys = cm_map_sorted_keys(r->exm, &n);
    if (!n) {
        cm_buf_adds(b, "<p class=\"note\">No finding in the trail was exempted.</p></section>");
        free(keys);
        return;
    }
    cm_buf_adds(b, "<p class=\"note\">Exemptions the trail shows applied: each held a "
                   "finding back while its rule matched. The trail records which exemption "
                   "applied; its expiry comes from the exemption files given with "
                   "--exemptions.</p>"
                   "<table><thead><tr><th>exemption</th><th>rule</th><th>resource</th>"
                   "<th class=\"n\">findings held</th><th>first applied</th>"
                   "<th>last applied</th><th>expires</th></tr></thead><tbody>");
    for (size_t i = 0; i < n; i++) {
        const struct exm *e = cm_map_get(r->exm, keys[i]);
        const struct exfile *x = cm_map_get(r->exf, e->id);
        const char *expires = e->expires ? e->expires : x ? x->expires : NULL;
        int64_t exp = 0;
        const char *when = expiry_state(expires, as_of, &exp);
        bool has_exp = strcmp(when, "unknown") != 0;
        cm_buf_adds(b, "<tr data-exemption=\"");
        esc(b, e->id);
        cm_buf_addf(b, "\" data-count=\"%llu\" data-expiry=\"%s\"><td>",
                    (unsigned long long)e->count, when);
        short_ident(b, e->id);
        cm_buf_adds(b, "</td><td>");
        short_ident(b, e->rule);
        cm_buf_adds(b, "</td><td>");
        ident(b, e->resource);
        cm_buf_addf(b, "</td><td class=\"n\">%llu</td>", (unsigned long long)e->count);
        tag_text(b, "<td>", e->first, "</td>");
        tag_text(b, "<td>", e->last, "</td><td>");
        if (has_exp) {
            esc(b, expires);
            cm_buf_addf(b, " <span class=\"tag %s\">%s</span>", expiry_tag(when), when);
        } else {
            cm_buf_adds(b, "<span class=\"note\">not in the trail</span>");
        }
        cm_buf_adds(b, "</td></tr>");
    }
    free(keys);
    cm_buf_adds(b, "</tbody></table></section>");
}

static void state_section(cm_buf *b, const aud_report *r)
{
    cm_buf_adds(b, "<section id=\"state\"><h2>State</h2>");
    if (r->state_failure) {
        cm_buf_adds(b, "<p class=\"failure\" data-state-verified=\"false\">The state ");
        ident(b, r->state_path);
        cm_buf_adds(b, " failed verification and was not used: ");
        esc(b, r->state_failure);
        cm_buf_adds(b, "</p></section>");
        return;
    }
    cm_buf_adds(b, "<p data-state-verified=\"true\">The state ");
    ident(b, r->state_path);
    cm_buf_adds(b, " verified: every record read from it passed its authentication check."
                   "</p><table><thead><tr><th>chain</th><th class=\"n\">state head seq</th>"
                   "<th>against the trail</th></tr></thead><tbody>");
    for (size_t i = 0; i < r->nschains; i++) {
        const struct state_chain *c = &r->schains[i];
        uint64_t last = 0;
        bool in_trail = false;
        for (size_t j = 0; j < r->nchains; j++)
            if (!strcmp(r->chains[j].chain, c->chain)) {
                last = r->chains[j].last;
                in_trail = true;
            }
        cm_buf_adds(b, "<tr data-state-chain=\"");
        esc(b, c->chain);
        cm_buf_adds(b, "\"><td>");
        ident(b, c->chain);
        cm_buf_addf(b, "</td><td class=\"n\">%llu</td><td>", (unsigned long long)c->seq);
        if (!in_trail)
            cm_buf_adds(b, "<span class=\"tag warn\">chain not in the trail</span>");
        else if (c->seen < 0)
            cm_buf_adds(b, "<span class=\"tag bad\">the trail's record at this seq has another "
                           "hash: not this state's trail</span>");
        else if (c->seen == 0)
            cm_buf_addf(b,
                        "<span class=\"tag warn\">state is ahead: the trail ends at seq "
                        "%llu</span>",
                        (unsigned long long)last);
        else if (c->seq < last)
            cm_buf_addf(b,
                        "<span class=\"tag warn\">state is behind: the trail goes on to seq "
                        "%llu</span>",
                        (unsigned long long)last);
        else
            cm_buf_adds(b, "<span class=\"tag ok\">state and trail end at the same record"
                           "</span>");
        cm_buf_adds(b, "</td></tr>");
    }
    if (!r->nschains)
        cm_buf_adds(b, "<tr><td colspan=\"3\" class=\"note\">The state holds no chain head."
                       "</td></tr>");
    cm_buf_adds(b, "</tbody></table></section>");
}

static void verdict(cm_buf *b, const aud_report *r)
{
    bool ok = aud_report_verified(r);
    cm_buf_addf(b, "<header><h1 id=\"verdict\" class=\"verdict %s\" data-verified=\"%s\">",
                ok ? "ok" : "bad", ok ? "true" : "false");
    if (r->failure) {
        tag_text(b, "Verification FAILED: ", r->failure, "");
    } else if (r->state_failure) {
        cm_buf_adds(b, "Verification FAILED: state ");
        esc(b, r->state_path);
        tag_text(b, ": ", r->state_failure, "");
    } else {
        cm_buf_addf(b,
                    "Verified: %llu records in %zu chain%s, every hash, link and signature "
                    "checked",
                    (unsigned long long)r->records, r->nchains, r->nchains == 1 ? "" : "s");
        if (r->state_given)
            cm_buf_adds(b, "; the state too");
    }
    cm_buf_adds(b, "</h1></header>");
}

int aud_report_html(aud_report *r, int64_t as_of, cm_buf *out)
{
    char now[CM_TS_SIZE];
    cm_ts_format(as_of, now);
    cm_buf_adds(out, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                     "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
                     "<title>");
    cm_buf_adds(out, aud_report_verified(r) ? "cmkguard compliance report"
                                            : "cmkguard compliance report: verification FAILED");
    cm_buf_addf(out, "</title><style>%s</style></head><body>", CSS);
    verdict(out, r);
    cm_buf_adds(out, "<main><p class=\"meta\">Report as of ");
    esc(out, now);
    cm_buf_adds(out, " from ");
    for (size_t i = 0; i < r->ninputs; i++) {
        if (i)
            cm_buf_adds(out, ", ");
        ident(out, r->inputs[i]);
    }
    if (r->kid) {
        cm_buf_adds(out, ", checked with the public key ");
        ident(out, r->key_path);
        tag_text(out, " (kid ", r->kid, ")");
    }
    if (r->first_time[0] && !r->failure) {
        tag_text(out, "; records from ", r->first_time, "");
        tag_text(out, " to ", r->last_time, "");
    }
    cm_buf_adds(out, ".</p>");
    if (r->failure) {
        cm_buf_adds(out, "<p class=\"failure\" id=\"failure\">This trail did not verify, so "
                         "this report shows nothing drawn from its records: no counts, "
                         "posture or findings. Find out what changed the record named above "
                         "before trusting any copy of the trail.</p>");
        chains(out, r);
    } else {
        summary(out, r);
        chains(out, r);
        findings(out, r);
        posture(out, r, r->state_given && !r->state_failure);
        locks(out, r);
        exemptions(out, r, as_of);
    }
    if (r->state_given)
        state_section(out, r);
    cm_buf_adds(out, "<footer>Written by cmkguard " CM_VERSION ". This page is self-contained: "
                     "it loads nothing and runs no script.</footer></main></body></html>\n");
    /* The one check: an append past the bound stays failed, so a page that lost a part
     * is refused rather than written short. */
    return cm_buf_failed(out) ? -1 : 0;
}
