#include "policy/ruletest.h"

#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "common/lines.h"
#include "common/map.h"
#include "policy/engine.h"
#include "policy/yamlutil.h"

/* What a test remembers of each decided event. */
typedef struct rec_sum {
    char *subject, *rules, *actions, *key_source, *results;
    bool locked, lost, has_state;
} rec_sum;

typedef struct ev_sum {
    char *outcome, *reason;
    rec_sum *recs;
    size_t nrecs;
} ev_sum;

typedef struct suite {
    FILE *out;                /* the text report, or NULL */
    pol_ruletest_report *rep; /* the structured one, or NULL */
    cm_err *err;
    int passed, failed, skipped;
    cm_map *hits;  /* rule id -> count (intptr) */
    cm_map *known; /* rule ids loaded by any test */
    const char *file;
    yaml_document_t *doc;
} suite;

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ---------- the structured report ---------- */

static void rep_suite(suite *s, const char *file)
{
    pol_ruletest_report *r = s->rep;
    if (!r)
        return;
    r->suites = cm_xrealloc(r->suites, (r->nsuites + 1) * sizeof *r->suites);
    r->suites[r->nsuites++] = (pol_ruletest_suite){.file = cm_strdup(file), .first = r->ncases};
}

static void rep_case(suite *s, int line, const char *name, const char *detail,
                     enum pol_case_status st, double seconds)
{
    pol_ruletest_report *r = s->rep;
    if (!r)
        return;
    r->cases = cm_xrealloc(r->cases, (r->ncases + 1) * sizeof *r->cases);
    r->cases[r->ncases++] = (pol_ruletest_case){.name = cm_strdup(name),
                                                .detail = cm_strdup(detail ? detail : ""),
                                                .line = line,
                                                .status = st,
                                                .seconds = seconds};
    r->suites[r->nsuites - 1].n++;
}

void pol_ruletest_report_free(pol_ruletest_report *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->ncases; i++) {
        free(r->cases[i].name);
        free(r->cases[i].detail);
    }
    free(r->cases);
    for (size_t i = 0; i < r->nsuites; i++) {
        free(r->suites[i].file);
        free(r->suites[i].title);
    }
    free(r->suites);
    for (size_t i = 0; i < r->nrules; i++)
        free(r->rules[i]);
    free(r->rules);
    free(r->hits);
    memset(r, 0, sizeof *r);
}

/* ---------- YAML helpers ---------- */

static yaml_node_t *member(yaml_document_t *doc, yaml_node_t *map, const char *key)
{
    if (!map || map->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = yaml_document_get_node(doc, p->key);
        if (k && k->type == YAML_SCALAR_NODE && !strcmp((char *)k->data.scalar.value, key))
            return yaml_document_get_node(doc, p->value);
    }
    return NULL;
}

#define scalar(n) pol_yaml_scalar(n)
#define terr(s, n, msg) pol_yaml_err((s)->err, (s)->file, (n), "%s", (msg))

static int check_keys(suite *s, yaml_node_t *map, const char *const *allowed, const char *what)
{
    if (!map || map->type != YAML_MAPPING_NODE)
        return terr(s, map, what);
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        const char *k = scalar(yaml_document_get_node(s->doc, p->key));
        bool ok = false;
        for (const char *const *a = allowed; k && *a; a++)
            ok |= !strcmp(*a, k);
        if (!ok) {
            char m[256];
            snprintf(m, sizeof m, "unknown field '%s' in %s", k ? k : "?", what);
            return terr(s, yaml_document_get_node(s->doc, p->key), m);
        }
    }
    return 0;
}

static bool plain_int(const char *v)
{
    int64_t x;
    return cm_parse_i64(v, &x);
}

/* YAML node -> JSON text (plain true/false/null/integers keep their JSON types). */
static int to_json(yaml_document_t *doc, yaml_node_t *n, cm_buf *b, int depth)
{
    if (!n || depth > 64)
        return -1;
    if (n->type == YAML_SCALAR_NODE) {
        const char *v = (const char *)n->data.scalar.value;
        if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
            (!strcmp(v, "true") || !strcmp(v, "false") || !strcmp(v, "null") || plain_int(v)))
            return cm_buf_adds(b, v);
        return cm_json_str(b, v, n->data.scalar.length);
    }
    if (n->type == YAML_SEQUENCE_NODE) {
        cm_buf_addc(b, '[');
        for (yaml_node_item_t *i = n->data.sequence.items.start; i < n->data.sequence.items.top;
             i++) {
            if (i != n->data.sequence.items.start)
                cm_buf_addc(b, ',');
            if (to_json(doc, yaml_document_get_node(doc, *i), b, depth + 1) < 0)
                return -1;
        }
        return cm_buf_addc(b, ']');
    }
    cm_buf_addc(b, '{');
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        if (p != n->data.mapping.pairs.start)
            cm_buf_addc(b, ',');
        yaml_node_t *k = yaml_document_get_node(doc, p->key);
        if (!k || k->type != YAML_SCALAR_NODE)
            return -1;
        cm_json_str(b, (const char *)k->data.scalar.value, k->data.scalar.length);
        cm_buf_addc(b, ':');
        if (to_json(doc, yaml_document_get_node(doc, p->value), b, depth + 1) < 0)
            return -1;
    }
    return cm_buf_addc(b, '}');
}

/* ---------- summaries ---------- */

static char *join_sorted(char **v, size_t n, bool sort)
{
    if (sort)
        qsort(v, n, sizeof *v, cmp_str);
    cm_buf b;
    cm_buf_init(&b, 0);
    cm_buf_adds(&b, "");
    for (size_t i = 0; i < n; i++) {
        if (sort && i && !strcmp(v[i], v[i - 1]))
            continue;
        if (b.len)
            cm_buf_addc(&b, ',');
        cm_buf_adds(&b, v[i]);
    }
    if (cm_buf_failed(&b)) { /* a cut list would compare as another list: say so */
        cm_buf_free(&b);
        return cm_strdup("(list too long)");
    }
    return cm_buf_take(&b);
}

static void summarize(suite *s, const aud_decision *d, ev_sum *e)
{
    e->outcome = cm_strdup(aud_outcome_name(d->outcome));
    e->reason = cm_strdup(d->reason ? d->reason : "");
    e->recs = cm_xcalloc(d->nrecs + 1, sizeof *e->recs);
    e->nrecs = d->nrecs;
    for (size_t i = 0; i < d->nrecs; i++) {
        const aud_rec *r = &d->recs[i];
        rec_sum *x = &e->recs[i];
        x->subject = cm_strdup(r->subject);
        char **ids = cm_xcalloc(r->nf + 1, sizeof *ids);
        char **res = cm_xcalloc(r->nf + 1, sizeof *res);
        for (size_t k = 0; k < r->nf; k++) {
            ids[k] = (char *)r->f[k].rule;
            res[k] = (char *)aud_finding_result(&r->f[k]);
            intptr_t c = (intptr_t)cm_map_get(s->hits, r->f[k].rule);
            cm_map_put(s->hits, r->f[k].rule, (void *)(c + 1));
        }
        x->rules = join_sorted(ids, r->nf, true);
        x->results = join_sorted(res, r->nf, true);
        free(ids);
        free(res);
        char **ops = cm_xcalloc(r->na + 1, sizeof *ops);
        for (size_t k = 0; k < r->na; k++)
            ops[k] = (char *)r->a[k].op;
        x->actions = join_sorted(ops, r->na, false);
        free(ops);
        x->has_state = r->st.present && r->st.exists;
        x->locked = r->st.locked;
        x->lost = r->st.lost;
        x->key_source = cm_strdup(r->st.cmk ? "cmk" : "mmk");
    }
}

static void ev_free(ev_sum *e)
{
    if (!e)
        return;
    for (size_t i = 0; i < e->nrecs; i++) {
        free(e->recs[i].subject);
        free(e->recs[i].rules);
        free(e->recs[i].actions);
        free(e->recs[i].key_source);
        free(e->recs[i].results);
    }
    free(e->recs);
    free(e->outcome);
    free(e->reason);
    free(e);
}

/* ---------- expectations ---------- */

static char *seq_join(yaml_document_t *doc, yaml_node_t *n, bool sort)
{
    if (!n)
        return NULL;
    if (n->type == YAML_SCALAR_NODE)
        return cm_strdup(scalar(n));
    if (n->type != YAML_SEQUENCE_NODE)
        return NULL;
    size_t cnt = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    char **v = cm_xcalloc(cnt + 1, sizeof *v);
    size_t k = 0;
    for (yaml_node_item_t *i = n->data.sequence.items.start; i < n->data.sequence.items.top; i++) {
        const char *x = scalar(yaml_document_get_node(doc, *i));
        if (x)
            v[k++] = (char *)x;
    }
    char *j = join_sorted(v, k, sort);
    free(v);
    return j;
}

/* One expectation's verdict: name is the event it is about, label what the text report
 * says of it, fail what differed (NULL when it passed). */
static void report(suite *s, yaml_node_t *at, const char *name, const char *label, const char *fail,
                   double started)
{
    int line = (int)at->start_mark.line + 1;
    if (fail) {
        s->failed++;
        if (s->out)
            fprintf(s->out, "FAIL %s:%d: %s: %s\n", s->file, line, label, fail);
    } else {
        s->passed++;
        if (s->out)
            fprintf(s->out, "ok   %s:%d: %s\n", s->file, line, label);
    }
    if (!s->rep)
        return;
    /* the details: what differed (without the text's trailing "; "), or what was seen */
    char *detail = cm_strdup(fail ? fail : label + strlen(name) + (label[strlen(name)] == ' '));
    size_t n = strlen(detail);
    while (n && (detail[n - 1] == ' ' || detail[n - 1] == ';'))
        detail[--n] = '\0';
    rep_case(s, line, name, detail, fail ? POL_CASE_FAIL : POL_CASE_PASS, cm_now() - started);
    free(detail);
}

/* A value an expectation compares with must be one the decision can have. */
static int want_one_of(suite *s, yaml_node_t *x, const char *key, const char *const *values)
{
    yaml_node_t *n = member(s->doc, x, key);
    if (!n)
        return 0;
    const char *v = scalar(n);
    for (const char *const *a = values; v && *a; a++)
        if (!strcmp(*a, v))
            return 0;
    char m[300], list[200] = "";
    size_t l = 0;
    for (const char *const *a = values; *a; a++)
        l += (size_t)snprintf(list + l, l < sizeof list ? sizeof list - l : 0, "%s%s",
                              a == values ? "" : ", ", *a);
    snprintf(m, sizeof m, "%s '%s' is not one of: %s", key, v ? v : "(not a scalar)", list);
    return terr(s, n, m);
}

static int check_expect(suite *s, yaml_node_t *x, cm_map *by_id, ev_sum **by_index, size_t nev)
{
    static const char *const allowed[] = {"event",    "index",  "outcome", "rules",      "result",
                                          "resource", "locked", "lost",    "key_source", "actions",
                                          "reason",   "skip",   NULL};
    static const char *const outcomes[] = {"allowed",   "denied", "rejected",
                                           "duplicate", "failed", NULL};
    static const char *const results[] = {"match", "unknown", "exempted", NULL};
    static const char *const bools[] = {"true", "false", NULL};
    static const char *const sources[] = {"mmk", "cmk", NULL};
    double started = cm_now();
    if (check_keys(s, x, allowed, "an expectation") < 0 ||
        want_one_of(s, x, "outcome", outcomes) < 0 || want_one_of(s, x, "result", results) < 0 ||
        want_one_of(s, x, "locked", bools) < 0 || want_one_of(s, x, "lost", bools) < 0 ||
        want_one_of(s, x, "key_source", sources) < 0)
        return -1;
    const char *id = scalar(member(s->doc, x, "event"));
    const char *idx = scalar(member(s->doc, x, "index"));
    ev_sum *e = NULL;
    char label[600];
    if (id) {
        e = cm_map_get(by_id, id);
        snprintf(label, sizeof label, "%s", id);
    } else if (idx) {
        int64_t i;
        if (!cm_parse_i64(idx, &i) || i < 1 || (size_t)i > nev)
            return terr(s, x, "index is out of range of the events");
        e = by_index[i - 1];
        snprintf(label, sizeof label, "event #%s", idx);
    } else {
        return terr(s, x, "an expectation needs 'event' or 'index'");
    }
    yaml_node_t *skip = member(s->doc, x, "skip");
    if (skip) {
        const char *why = scalar(skip);
        if (!why || !*why)
            return terr(s, skip, "skip needs a reason");
        s->skipped++;
        if (s->out)
            fprintf(s->out, "skip %s:%d: %s: %s\n", s->file, (int)x->start_mark.line + 1, label,
                    why);
        rep_case(s, (int)x->start_mark.line + 1, label, why, POL_CASE_SKIP, 0);
        return 0;
    }
    char fail[2048] = "";
    if (!e) {
        report(s, x, label, label, "no such event was decided", started);
        return 0;
    }
    const char *want_outcome = scalar(member(s->doc, x, "outcome"));
    const char *resource = scalar(member(s->doc, x, "resource"));
    rec_sum *rec = &e->recs[0];
    if (resource) {
        rec = NULL;
        for (size_t i = 0; i < e->nrecs; i++)
            if (cm_streq(e->recs[i].subject, resource))
                rec = &e->recs[i];
        if (!rec) {
            snprintf(fail, sizeof fail, "no record for resource %s", resource);
            report(s, x, label, label, fail, started);
            return 0;
        }
    }
    /* Findings in scope: the chosen record, or all records of the event. */
    char **all = cm_xcalloc(e->nrecs + 1, sizeof *all);
    char **allres = cm_xcalloc(e->nrecs + 1, sizeof *allres);
    size_t na = 0;
    for (size_t i = 0; i < e->nrecs; i++)
        if (resource ? &e->recs[i] == rec : true) {
            if (*e->recs[i].rules) {
                all[na] = e->recs[i].rules;
                allres[na++] = e->recs[i].results;
            }
        }
    char *got_rules_raw = join_sorted(all, na, false);
    /* re-split and sort unique */
    char *tmp = cm_strdup(got_rules_raw);
    char **parts = cm_xcalloc(strlen(tmp) + 2, sizeof *parts);
    size_t np = 0;
    for (char *p = tmp, *save = NULL; (p = strtok_r(p, ",", &save)); p = NULL)
        parts[np++] = p;
    char *got_rules = join_sorted(parts, np, true);
    char *got_results = join_sorted(allres, na, false);
    free(parts);
    free(tmp);
    free(got_rules_raw);
    free(all);
    free(allres);
    char *want_rules = seq_join(s->doc, member(s->doc, x, "rules"), true);
    char *want_actions = seq_join(s->doc, member(s->doc, x, "actions"), false);
    const char *want_result = scalar(member(s->doc, x, "result"));
    const char *want_locked = scalar(member(s->doc, x, "locked"));
    const char *want_lost = scalar(member(s->doc, x, "lost"));
    const char *want_ks = scalar(member(s->doc, x, "key_source"));
    const char *want_reason = scalar(member(s->doc, x, "reason"));
    size_t fl = 0;
#define ADD(...)                                                                                   \
    fl += (size_t)snprintf(fail + fl, fl < sizeof fail ? sizeof fail - fl : 0, __VA_ARGS__)
    if (want_outcome && strcmp(want_outcome, e->outcome))
        ADD("outcome %s, expected %s%s%s; ", e->outcome, want_outcome, *e->reason ? " — " : "",
            e->reason);
    if (want_rules && strcmp(want_rules, got_rules))
        ADD("rules [%s], expected [%s]; ", got_rules, want_rules);
    if (want_result) {
        bool ok = *got_results != '\0';
        for (char *p = got_results; ok && *p;) {
            size_t len = strcspn(p, ",");
            ok = len == strlen(want_result) && !strncmp(p, want_result, len);
            p += len + (p[len] == ',');
        }
        if (!ok)
            ADD("results [%s], expected all %s; ", got_results, want_result);
    }
    if (want_actions && strcmp(want_actions, rec->actions))
        ADD("actions [%s], expected [%s]; ", rec->actions, want_actions);
    if (want_locked && (strcmp(want_locked, "true") == 0) != rec->locked)
        ADD("locked %s, expected %s; ", rec->locked ? "true" : "false", want_locked);
    if (want_lost && (strcmp(want_lost, "true") == 0) != rec->lost)
        ADD("lost %s, expected %s; ", rec->lost ? "true" : "false", want_lost);
    if (want_ks && (!rec->has_state || strcmp(want_ks, rec->key_source)))
        ADD("key_source %s, expected %s; ", rec->has_state ? rec->key_source : "none", want_ks);
    if (want_reason && !strstr(e->reason, want_reason))
        ADD("reason '%s' does not contain '%s'; ", e->reason, want_reason);
#undef ADD
    char okl[900];
    snprintf(okl, sizeof okl, "%s %s [%s]", label, e->outcome, got_rules);
    report(s, x, label, okl, fail[0] ? fail : NULL, started);
    free(got_rules);
    free(got_results);
    free(want_rules);
    free(want_actions);
    return 0;
}

/* ---------- one test file ---------- */

static int run_file_timed(suite *s, const char *path);

static int run_file(suite *s, const char *path)
{
    rep_suite(s, path);
    double started = cm_now();
    int rc = run_file_timed(s, path);
    if (s->rep) {
        s->rep->suites[s->rep->nsuites - 1].seconds = cm_now() - started;
        s->rep->suites[s->rep->nsuites - 1].broken = rc < 0;
    }
    return rc;
}

static int run_file_timed(suite *s, const char *path)
{
    cm_buf src;
    cm_buf_init(&src, 8u << 20);
    if (cm_read_file(path, 8u << 20, &src) < 0) {
        cm_err_set(s->err, path, 0, 0, "cannot read: %s", strerror(errno));
        cm_buf_free(&src);
        return -1;
    }
    yaml_parser_t p;
    yaml_document_t doc;
    yaml_parser_initialize(&p);
    yaml_parser_set_input_string(&p, (const unsigned char *)src.p, src.len);
    if (!yaml_parser_load(&p, &doc)) {
        cm_err_set(s->err, path, (int)p.problem_mark.line + 1, (int)p.problem_mark.column + 1,
                   "YAML: %s", p.problem ? p.problem : "cannot load");
        yaml_parser_delete(&p);
        cm_buf_free(&src);
        return -1;
    }
    yaml_parser_delete(&p);
    cm_buf_free(&src);
    s->file = path;
    s->doc = &doc; // cppcheck-suppress autoVariables ; reset before returning
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    const char *title = scalar(member(&doc, root, "name"));
    if (s->rep && title)
        s->rep->suites[s->rep->nsuites - 1].title = cm_strdup(title);
    int rc = -1;
    pol_ruleset *rs = NULL;
    vlt_state *st = NULL;
    pol_engine *eng = NULL;
    cm_map *by_id = cm_map_new();
    ev_sum **extra = NULL; /* decisions after the first of an Azure event */
    size_t nextra = 0;
    ev_sum **by_index = NULL;
    size_t nev = 0;
    aud_decision d = {0};
    cm_buf line;
    cm_buf_init(&line, 0);
    char *dir_copy = cm_strdup(path);
    const char *dir = dirname(dir_copy);
    static const char *const allowed[] = {"name",   "rules",  "exemptions", "setup",
                                          "events", "expect", NULL};
    if (check_keys(s, root, allowed,
                   "a rule test (name, rules, exemptions, setup, events, expect)") < 0)
        goto out_free;
    /* Rules: paths relative to the test file; by default the directory above it.
     * Exemptions: paths relative to the test file; none by default. */
    yaml_node_t *rn = member(&doc, root, "rules");
    yaml_node_t *xn = member(&doc, root, "exemptions");
    char *paths[64], *xpaths[64];
    size_t np = 0, nx = 0;
    if (rn && rn->type == YAML_SEQUENCE_NODE) {
        for (yaml_node_item_t *i = rn->data.sequence.items.start;
             i < rn->data.sequence.items.top && np < 64; i++) {
            const char *v = scalar(yaml_document_get_node(&doc, *i));
            if (!v) {
                terr(s, rn, "rules must be a list of paths");
                goto out_paths;
            }
            size_t len = strlen(dir) + strlen(v) + 2;
            paths[np] = cm_xmalloc(len);
            snprintf(paths[np++], len, "%s/%s", dir, v);
        }
    } else if (rn) {
        terr(s, rn, "rules must be a list of paths");
        goto out_free;
    } else {
        size_t len = strlen(dir) + 4;
        paths[np] = cm_xmalloc(len);
        snprintf(paths[np++], len, "%s/..", dir);
    }
    if (xn && xn->type != YAML_SEQUENCE_NODE) {
        terr(s, xn, "exemptions must be a list of paths");
        goto out_paths;
    }
    for (yaml_node_item_t *i = xn ? xn->data.sequence.items.start : NULL;
         xn && i < xn->data.sequence.items.top && nx < 64; i++) {
        const char *v = scalar(yaml_document_get_node(&doc, *i));
        if (!v) {
            terr(s, xn, "exemptions must be a list of paths");
            goto out_paths;
        }
        size_t len = strlen(dir) + strlen(v) + 2;
        xpaths[nx] = cm_xmalloc(len);
        snprintf(xpaths[nx++], len, "%s/%s", dir, v);
    }
    rs = pol_ruleset_load_ex((const char *const *)paths, np, (const char *const *)xpaths, nx,
                             s->err);
out_paths:
    for (size_t i = 0; i < np; i++)
        free(paths[i]);
    for (size_t i = 0; i < nx; i++)
        free(xpaths[i]);
    if (!rs)
        goto out_free;
    for (size_t i = 0; i < pol_ruleset_count(rs); i++)
        cm_map_put(s->known, pol_rule_id(pol_ruleset_rule(rs, i)), (void *)1);
    cm_err e2;
    st = vlt_state_open(NULL, NULL, &e2);
    eng = pol_engine_new(rs, st, 0);
    const char *setup = scalar(member(&doc, root, "setup"));
    if (setup) {
        char sp[4200];
        snprintf(sp, sizeof sp, "%s/%s", dir, setup);
        cm_lines *rd = cm_lines_open(sp, 1u << 20, s->err);
        if (!rd)
            goto out_free;
        const char *l;
        size_t n, ln;
        char input[4300];
        while (cm_lines_next(rd, &l, &n, &ln, s->err) == 1) {
            snprintf(input, sizeof input, "%s:%zu", setup, ln);
            pol_engine_process(eng, l, n, input, &d);
            do {
                if (d.outcome != AUD_ALLOWED) {
                    cm_err_set(s->err, sp, (int)ln, 0, "setup event %s: %s%s%s",
                               d.cause ? d.cause : "", aud_outcome_name(d.outcome),
                               d.reason ? ": " : "", d.reason ? d.reason : "");
                    cm_lines_free(rd);
                    goto out_free;
                }
            } while (pol_engine_more(eng, &d));
        }
        cm_lines_free(rd);
    }
    yaml_node_t *evs = member(&doc, root, "events");
    if (!evs || evs->type != YAML_SEQUENCE_NODE) {
        terr(s, evs ? evs : root, "events must be a list");
        goto out_free;
    }
    size_t cnt = (size_t)(evs->data.sequence.items.top - evs->data.sequence.items.start);
    by_index = cm_xcalloc(cnt + 1, sizeof *by_index);
    for (yaml_node_item_t *i = evs->data.sequence.items.start; i < evs->data.sequence.items.top;
         i++) {
        yaml_node_t *en = yaml_document_get_node(&doc, *i);
        cm_buf_reset(&line);
        /* A string is sent as is (malformed input); a mapping becomes its JSON. */
        int jrc = 0;
        if (en && en->type == YAML_SCALAR_NODE)
            jrc = cm_buf_add(&line, en->data.scalar.value, en->data.scalar.length);
        else
            jrc = to_json(&doc, en, &line, 0);
        if (jrc < 0 || cm_buf_failed(&line)) {
            terr(s, en, "cannot turn this event into JSON");
            goto out_free;
        }
        char input[4200];
        snprintf(input, sizeof input, "%s:%d", path, en ? (int)en->start_mark.line + 1 : 0);
        pol_engine_process(eng, line.p ? line.p : "", line.len, input, &d);
        size_t k = 0;
        do { /* an Azure event: its derived decisions count under their own ids */
            ev_sum *sum = cm_xcalloc(1, sizeof *sum);
            summarize(s, &d, sum);
            if (k++ == 0)
                by_index[nev++] = sum;
            else {
                extra = cm_xrealloc(extra, (nextra + 1) * sizeof *extra);
                extra[nextra++] = sum;
            }
            if (d.cause && !cm_map_get(by_id, d.cause))
                cm_map_put(by_id, d.cause, sum);
        } while (pol_engine_more(eng, &d));
    }
    yaml_node_t *ex = member(&doc, root, "expect");
    if (!ex || ex->type != YAML_SEQUENCE_NODE) {
        terr(s, ex ? ex : root, "expect must be a list");
        goto out_free;
    }
    for (yaml_node_item_t *i = ex->data.sequence.items.start; i < ex->data.sequence.items.top; i++)
        if (check_expect(s, yaml_document_get_node(&doc, *i), by_id, by_index, nev) < 0)
            goto out_free;
    rc = 0;
out_free:
    aud_decision_clear(&d);
    for (size_t i = 0; i < nev; i++)
        ev_free(by_index[i]);
    free(by_index);
    for (size_t i = 0; i < nextra; i++)
        ev_free(extra[i]);
    free(extra);
    cm_map_free(by_id);
    cm_buf_free(&line);
    pol_engine_free(eng);
    vlt_state_free(st);
    pol_ruleset_free(rs);
    free(dir_copy);
    yaml_document_delete(&doc);
    s->doc = NULL; /* it pointed at this function's document */
    return rc;
}

static bool is_test_file(const char *name)
{
    return cm_endswith(name, ".test.yaml") || cm_endswith(name, ".test.yml");
}

int pol_ruletest_run(const char *const *paths, size_t n, const pol_ruletest_opts *o, FILE *out,
                     cm_err *err)
{
    char **files = NULL;
    size_t nf = 0;
    for (size_t i = 0; i < n; i++)
        if (pol_collect_files(paths[i], is_test_file, true, 100000, "rule tests", &files, &nf,
                              err) < 0)
            goto out_fail;
    if (!nf) {
        cm_err_set(err, n ? paths[0] : "", 0, 0, "no rule tests (*.test.yaml) found");
        goto out_fail;
    }
    qsort(files, nf, sizeof *files, cmp_str);
    suite s = {.out = out,
               .rep = o ? o->report : NULL,
               .err = err,
               .hits = cm_map_new(),
               .known = cm_map_new()};
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < nf; i++)
        rc = run_file(&s, files[i]);
    if (rc == 0) {
        size_t nk;
        const char **ids = cm_map_sorted_keys(s.known, &nk);
        bool require_all = o && o->require_all;
        if (s.rep) {
            s.rep->rules = cm_xcalloc(nk + 1, sizeof *s.rep->rules);
            s.rep->hits = cm_xcalloc(nk + 1, sizeof *s.rep->hits);
            if (require_all) {
                rep_suite(&s, "rule hits");
                s.rep->suites[s.rep->nsuites - 1].title =
                    cm_strdup("every loaded rule fires in some test");
            }
        }
        if (out)
            fprintf(out, "\nrule hits:\n");
        for (size_t i = 0; i < nk; i++) {
            intptr_t c = (intptr_t)cm_map_get(s.hits, ids[i]);
            if (out)
                fprintf(out, "  %-28s %ld%s\n", ids[i], (long)c, c ? "" : "  (never fired)");
            if (s.rep) {
                s.rep->rules[s.rep->nrules] = cm_strdup(ids[i]);
                s.rep->hits[s.rep->nrules++] = (long)c;
            }
            if (!require_all)
                continue;
            char name[300];
            snprintf(name, sizeof name, "%s fires", ids[i]);
            if (!c) {
                if (out)
                    fprintf(out, "FAIL rule %s never fired in any test\n", ids[i]);
                s.failed++;
            }
            rep_case(&s, 0, name, c ? "fired" : "never fired in any test",
                     c ? POL_CASE_PASS : POL_CASE_FAIL, 0);
        }
        free(ids);
        if (out && s.skipped)
            fprintf(out, "\n%d passed, %d failed, %d skipped\n", s.passed, s.failed, s.skipped);
        else if (out)
            fprintf(out, "\n%d passed, %d failed\n", s.passed, s.failed);
    }
    if (s.rep) {
        s.rep->passed = s.passed;
        s.rep->failed = s.failed;
        s.rep->skipped = s.skipped;
    }
    cm_map_free(s.hits);
    cm_map_free(s.known);
    for (size_t i = 0; i < nf; i++)
        free(files[i]);
    free(files);
    return rc < 0 ? -1 : s.failed;
out_fail:
    for (size_t i = 0; i < nf; i++)
        free(files[i]);
    free(files);
    return -1;
}
