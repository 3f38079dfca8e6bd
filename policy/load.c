/* Rule files: strict YAML loading with libyaml, up-front checking, compilation. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "crypto/crypto.h"
#include "policy/internal.h"
#include "policy/yamlutil.h"

#define MAX_FILE (4u << 20)
#define MAX_FILES 1000
#define MAX_ALIASES 64
#define MAX_YAML_DEPTH 32

typedef struct loaded {
    char *path;
    yaml_document_t doc;
    bool has_doc;
} loaded;

typedef struct loader {
    pol_ruleset *rs;
    cm_err *err;
    loaded *files;
    size_t nfiles;
    const char *file; /* current */
    yaml_document_t *doc;
    size_t nrules_seen; /* rule entries the prescan met so far, across files */
} loader;

#define yerr(ld, n, ...) (pol_yaml_err((ld)->err, (ld)->file, (n), __VA_ARGS__), -1)

static const char *kind_name(yaml_node_t *n)
{
    switch (n->type) {
    case YAML_SCALAR_NODE: return "a scalar";
    case YAML_SEQUENCE_NODE: return "a list";
    case YAML_MAPPING_NODE: return "a mapping";
    default: return "nothing";
    }
}

static bool plain(yaml_node_t *n)
{
    return n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

static const char *sval(yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}

static int want_string(loader *ld, yaml_node_t *n, const char *what, const char **out)
{
    if (n->type != YAML_SCALAR_NODE)
        return yerr(ld, n, "%s must be a string, not %s", what, kind_name(n));
    if (strlen(sval(n)) != n->data.scalar.length)
        return yerr(ld, n, "%s contains a NUL character", what);
    if (plain(n) && (!strcmp(sval(n), "true") || !strcmp(sval(n), "false") || !*sval(n) ||
                     !strcmp(sval(n), "null") || !strcmp(sval(n), "~")))
        return yerr(ld, n, "%s must be a string, not '%s'", what, *sval(n) ? sval(n) : "null");
    *out = sval(n);
    return 0;
}

/* ---------- files ---------- */

static bool is_rule_file(const char *name)
{
    return (cm_endswith(name, ".yaml") || cm_endswith(name, ".yml")) &&
           !cm_endswith(name, ".test.yaml") && !cm_endswith(name, ".test.yml") && name[0] != '.';
}

/* Bounds what the YAML may do before any document is built: depth, aliases, and the
 * number of rules across all files, so an oversized rule set is refused before it
 * costs memory. */
static int prescan(loader *ld, const char *path, const unsigned char *buf, size_t n)
{
    yaml_parser_t p;
    yaml_event_t ev;
    int depth = 0, aliases = 0, docs = 0, rc = 0;
    size_t top = 0;                       /* nodes met directly in the top mapping */
    bool rules_next = false, in_rules = false;
    yaml_parser_initialize(&p);
    yaml_parser_set_input_string(&p, buf, n);
    for (;;) {
        if (!yaml_parser_parse(&p, &ev)) {
            cm_err_set(ld->err, path, (int)p.problem_mark.line + 1, (int)p.problem_mark.column + 1,
                       "YAML: %s%s%s", p.problem ? p.problem : "syntax error",
                       p.context ? " " : "", p.context ? p.context : "");
            rc = -1;
            break;
        }
        yaml_event_type_t t = ev.type;
        int line = (int)ev.start_mark.line + 1, col = (int)ev.start_mark.column + 1;
        bool is_node = t == YAML_SCALAR_EVENT || t == YAML_ALIAS_EVENT ||
                    t == YAML_MAPPING_START_EVENT || t == YAML_SEQUENCE_START_EVENT;
        if (is_node && depth == 1) {
            bool key = top++ % 2 == 0;
            if (key) {
                rules_next = t == YAML_SCALAR_EVENT &&
                             !strcmp((const char *)ev.data.scalar.value, "rules");
            } else {
                in_rules = rules_next && t == YAML_SEQUENCE_START_EVENT;
                rules_next = false;
            }
        } else if (is_node && depth == 2 && in_rules && ++ld->nrules_seen > POL_MAX_RULES) {
            cm_err_set(ld->err, path, line, col,
                       "more than %d rules in the rule set (across its files)",
                       POL_MAX_RULES);
            yaml_event_delete(&ev);
            rc = -1;
            break;
        }
        yaml_event_delete(&ev);
        if (t == YAML_STREAM_END_EVENT)
            break;
        if (t == YAML_DOCUMENT_START_EVENT && ++docs > 1) {
            cm_err_set(ld->err, path, line, col, "one YAML document per rule file");
            rc = -1;
            break;
        }
        if (t == YAML_MAPPING_START_EVENT || t == YAML_SEQUENCE_START_EVENT) {
            if (++depth > MAX_YAML_DEPTH) {
                cm_err_set(ld->err, path, line, col, "YAML nested deeper than %d", MAX_YAML_DEPTH);
                rc = -1;
                break;
            }
        } else if (t == YAML_MAPPING_END_EVENT || t == YAML_SEQUENCE_END_EVENT) {
            if (--depth == 1)
                in_rules = false;
        } else if (t == YAML_ALIAS_EVENT && ++aliases > MAX_ALIASES) {
            cm_err_set(ld->err, path, line, col, "more than %d YAML aliases", MAX_ALIASES);
            rc = -1;
            break;
        }
    }
    yaml_parser_delete(&p);
    return rc;
}

static int read_file(loader *ld, const char *path, loaded *lf, cry_hash *h)
{
    cm_buf b;
    cm_buf_init(&b, MAX_FILE + 1);
    if (cm_read_file(path, MAX_FILE, &b) < 0) {
        cm_err_set(ld->err, path, 0, 0, errno == EFBIG ? "rule file larger than 4 MiB"
                                                       : "cannot read rule file: %s",
                   strerror(errno));
        cm_buf_free(&b);
        return -1;
    }
    uint64_t len = b.len;
    if (cry_hash_update(h, &len, sizeof len) < 0 || cry_hash_update(h, b.p, b.len) < 0) {
        cm_err_set(ld->err, path, 0, 0, "cannot hash the rule file (crypto failure)");
        cm_buf_free(&b);
        return -1;
    }
    lf->path = cm_strdup(path);
    int rc = prescan(ld, path, (const unsigned char *)b.p, b.len);
    if (rc == 0) {
        yaml_parser_t p;
        yaml_parser_initialize(&p);
        yaml_parser_set_input_string(&p, (const unsigned char *)b.p, b.len);
        if (!yaml_parser_load(&p, &lf->doc)) {
            cm_err_set(ld->err, path, (int)p.problem_mark.line + 1, (int)p.problem_mark.column + 1,
                       "YAML: %s", p.problem ? p.problem : "cannot load");
            rc = -1;
        } else {
            lf->has_doc = true;
        }
        yaml_parser_delete(&p);
    }
    cm_buf_free(&b);
    return rc;
}

/* ---------- structure ---------- */

typedef int (*member_fn)(loader *ld, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg);

/* Walks a mapping, checking each key against the allowed set and for duplicates. */
static int each_member(loader *ld, yaml_node_t *map, const char *const *allowed, member_fn fn,
                       void *arg, const char *what)
{
    if (map->type != YAML_MAPPING_NODE)
        return yerr(ld, map, "%s must be a mapping, not %s", what, kind_name(map));
    yaml_node_pair_t *p;
    for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(ld->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(ld->doc, p->value);
        if (!k || k->type != YAML_SCALAR_NODE)
            return yerr(ld, k, "keys in %s must be strings", what);
        const char *key = sval(k);
        if (allowed) {
            bool ok = false;
            for (const char *const *a = allowed; *a; a++)
                ok |= !strcmp(*a, key);
            if (!ok) {
                char list[256];
                size_t na = 0;
                while (allowed[na])
                    na++;
                cm_join(list, sizeof list, ", ", allowed, na);
                return yerr(ld, k, "unknown field '%s' in %s (expected one of: %s)", key, what,
                            list);
            }
        }
        for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < p; q++) {
            yaml_node_t *k2 = yaml_document_get_node(ld->doc, q->key);
            if (k2 && k2->type == YAML_SCALAR_NODE && !strcmp(sval(k2), key))
                return yerr(ld, k, "duplicate key '%s' in %s", key, what);
        }
        if (!v)
            return yerr(ld, k, "'%s' has no value", key);
        if (fn(ld, key, k, v, arg) < 0)
            return -1;
    }
    return 0;
}

static bool good_name(const char *s)
{
    if (!*s || strlen(s) > 100)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '-' || *s == '.'))
            return false;
    return true;
}

static int on_list(loader *ld, const char *name, yaml_node_t *k, yaml_node_t *v, void *arg)
{
    (void)arg;
    if (!good_name(name) || strchr(name, '.'))
        return yerr(ld, k, "list name '%s' must be letters, digits, '_' or '-'", name);
    if (cm_map_get(ld->rs->lists, name) || cm_map_get(ld->rs->macros, name))
        return yerr(ld, k, "'%s' is defined twice", name);
    if (v->type != YAML_SEQUENCE_NODE)
        return yerr(ld, v, "list '%s' must be a list, not %s", name, kind_name(v));
    pol_list *l = cm_xcalloc(1, sizeof *l);
    size_t cnt = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
    l->items = cm_xcalloc(cnt + 1, sizeof *l->items);
    l->file = cm_strdup(ld->file);
    l->line = (int)k->start_mark.line + 1;
    cm_map_put(ld->rs->lists, name, l);
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
         it++) {
        yaml_node_t *e = yaml_document_get_node(ld->doc, *it);
        if (!e || e->type != YAML_SCALAR_NODE)
            return yerr(ld, e ? e : v, "list '%s' items must be scalars", name);
        l->items[l->n++] = cm_strdup(sval(e));
    }
    return 0;
}

static int on_macro(loader *ld, const char *name, yaml_node_t *k, yaml_node_t *v, void *arg)
{
    (void)arg;
    if (!good_name(name) || strchr(name, '.'))
        return yerr(ld, k, "macro name '%s' must be letters, digits, '_' or '-'", name);
    if (cm_map_get(ld->rs->lists, name) || cm_map_get(ld->rs->macros, name))
        return yerr(ld, k, "'%s' is defined twice", name);
    const char *text;
    if (want_string(ld, v, "a macro", &text) < 0)
        return -1;
    pol_macro *m = cm_xcalloc(1, sizeof *m);
    m->text = cm_strdup(text);
    m->file = cm_strdup(ld->file);
    m->line = (int)v->start_mark.line + 1;
    m->col = (int)v->start_mark.column + 1 + (plain(v) ? 0 : 1);
    cm_map_put(ld->rs->macros, name, m);
    return 0;
}

static int top_defs(loader *ld, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
    (void)k;
    (void)arg;
    if (!strcmp(key, "lists"))
        return each_member(ld, v, NULL, on_list, NULL, "lists");
    if (!strcmp(key, "macros"))
        return each_member(ld, v, NULL, on_macro, NULL, "macros");
    if (!strcmp(key, "rules") && v->type != YAML_SEQUENCE_NODE)
        return yerr(ld, v, "rules must be a list, not %s", kind_name(v));
    return 0;
}

/* ---------- rules ---------- */

typedef struct rule_src {
    pol_rule *r;
    yaml_node_t *on, *when, *message, *action;
    const char *when_text, *message_text;
    bool enabled, has_action, has_severity;
} rule_src;

static int rule_member(loader *ld, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
    rule_src *rs = arg;
    pol_rule *r = rs->r;
    const char *s;
    (void)k;
    if (!strcmp(key, "id")) {
        if (want_string(ld, v, "id", &s) < 0)
            return -1;
        if (!good_name(s))
            return yerr(ld, v, "rule id '%s' must be letters, digits, '_', '-' or '.'", s);
        r->id = cm_strdup(s);
    } else if (!strcmp(key, "title")) {
        if (want_string(ld, v, "title", &s) < 0)
            return -1;
        r->title = cm_strdup(s);
    } else if (!strcmp(key, "description")) {
        return want_string(ld, v, "description", &s);
    } else if (!strcmp(key, "on")) {
        rs->on = v;
    } else if (!strcmp(key, "when")) {
        if (want_string(ld, v, "when", &rs->when_text) < 0)
            return -1;
        rs->when = v;
    } else if (!strcmp(key, "message")) {
        if (want_string(ld, v, "message", &rs->message_text) < 0)
            return -1;
        rs->message = v;
    } else if (!strcmp(key, "action")) {
        if (want_string(ld, v, "action", &s) < 0)
            return -1;
        if (!strcmp(s, "deny"))
            r->action = POL_DENY;
        else if (!strcmp(s, "alert"))
            r->action = POL_ALERT;
        else if (!strcmp(s, "lockout"))
            r->action = POL_LOCKOUT;
        else
            return yerr(ld, v, "action '%s' is not deny, alert or lockout", s);
        rs->action = v;
        rs->has_action = true;
    } else if (!strcmp(key, "severity")) {
        if (want_string(ld, v, "severity", &s) < 0)
            return -1;
        static const char *const sev[] = {"low", "medium", "high", "critical"};
        int i = 0;
        while (i < 4 && strcmp(sev[i], s))
            i++;
        if (i == 4)
            return yerr(ld, v, "severity '%s' is not low, medium, high or critical", s);
        r->severity = (enum pol_severity)i;
        rs->has_severity = true;
    } else if (!strcmp(key, "enabled")) {
        if (!plain(v) || (strcmp(sval(v), "true") && strcmp(sval(v), "false")))
            return yerr(ld, v, "enabled must be true or false");
        rs->enabled = !strcmp(sval(v), "true");
    }
    return 0;
}

static int add_type(loader *ld, pol_rule *r, yaml_node_t *at, const char *name, bool deny)
{
    enum vlt_etype t = vlt_etype_parse(name);
    if (t == VLT_EV_NONE)
        return yerr(ld, at, "unknown event type '%s'", name);
    if (deny && !vlt_etype_deniable(t))
        return yerr(ld, at, "'deny' cannot apply to %s: it reports a fact, not a request", name);
    r->on |= 1ull << t;
    return 0;
}

static int rule_on(loader *ld, rule_src *src)
{
    pol_rule *r = src->r;
    yaml_node_t *v = src->on;
    bool deny = r->action == POL_DENY;
    if (v->type == YAML_SCALAR_NODE) {
        const char *name = sval(v);
        pol_list *l = cm_map_get(ld->rs->lists, name);
        if (!l) {
            if (vlt_etype_parse(name) != VLT_EV_NONE)
                return add_type(ld, r, v, name, deny);
            return yerr(ld, v, "unknown list '%s'", name);
        }
        for (size_t i = 0; i < l->n; i++)
            if (add_type(ld, r, v, l->items[i], deny) < 0)
                return -1;
        return 0;
    }
    if (v->type != YAML_SEQUENCE_NODE)
        return yerr(ld, v, "on must be a list of event types or a list name");
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
         it++) {
        yaml_node_t *e = yaml_document_get_node(ld->doc, *it);
        if (!e || e->type != YAML_SCALAR_NODE)
            return yerr(ld, e ? e : v, "event types must be strings");
        if (add_type(ld, r, e, sval(e), deny) < 0)
            return -1;
    }
    if (!r->on)
        return yerr(ld, v, "on names no event type");
    return 0;
}

static int col_of(yaml_node_t *n)
{
    return (int)n->start_mark.column + 1 + (plain(n) ? 0 : 1);
}

static int load_rule(loader *ld, yaml_node_t *n)
{
    pol_ruleset *set = ld->rs;
    if (set->nrules >= POL_MAX_RULES)
        return yerr(ld, n, "more than %d rules", POL_MAX_RULES);
    if (set->nrules == set->cap) {
        set->cap = set->cap ? set->cap * 2 : 32;
        set->rules = cm_xrealloc(set->rules, set->cap * sizeof *set->rules);
    }
    pol_rule *r = &set->rules[set->nrules];
    memset(r, 0, sizeof *r);
    r->file = cm_strdup(ld->file);
    r->line = (int)n->start_mark.line + 1;
    r->col = (int)n->start_mark.column + 1;
    set->nrules++;
    static const char *const allowed[] = {"id",     "title",    "description", "on",
                                          "when",   "action",   "severity",    "message",
                                          "enabled", NULL};
    rule_src src = {.r = r, .enabled = true};
    if (each_member(ld, n, allowed, rule_member, &src, "a rule") < 0)
        return -1;
    static const char *const req[] = {"id", "on", "when", "action", "severity"};
    bool have[] = {r->id != NULL, src.on != NULL, src.when != NULL, src.has_action,
                   src.has_severity};
    for (size_t i = 0; i < CM_ARRAY_LEN(req); i++)
        if (!have[i])
            return yerr(ld, n, "rule%s%s is missing '%s'", r->id ? " " : "", r->id ? r->id : "",
                        req[i]);
    for (size_t i = 0; i + 1 < set->nrules; i++)
        if (!strcmp(set->rules[i].id, r->id))
            return yerr(ld, n, "duplicate rule id '%s' (first at %s:%d:%d)", r->id,
                        set->rules[i].file, set->rules[i].line, set->rules[i].col);
    if (rule_on(ld, &src) < 0)
        return -1;
    r->when = pol_compile(set, src.when_text, ld->file, (int)src.when->start_mark.line + 1,
                          col_of(src.when), ld->err);
    if (!r->when)
        return -1;
    const char *msg = src.message_text ? src.message_text : r->title ? r->title : r->id;
    yaml_node_t *mn = src.message ? src.message : n;
    if (pol_template_compile(msg, &r->msg, &r->nmsg, ld->file, (int)mn->start_mark.line + 1,
                             col_of(mn), ld->err) < 0)
        return -1;
    if (!src.enabled) { /* a disabled rule is checked, then left out */
        pol_rule dead = *r;
        set->nrules--;
        free(dead.id);
        free(dead.title);
        free(dead.file);
        for (size_t i = 0; i < dead.nmsg; i++)
            free(dead.msg[i].text);
        free(dead.msg);
    }
    return 0;
}

static int top_rules(loader *ld, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
    (void)k;
    (void)arg;
    if (strcmp(key, "rules") != 0)
        return 0;
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
         it++) {
        yaml_node_t *e = yaml_document_get_node(ld->doc, *it);
        if (!e || load_rule(ld, e) < 0)
            return -1;
    }
    return 0;
}

/* ---------- rule set ---------- */

pol_ruleset *pol_ruleset_empty(void)
{
    pol_ruleset *rs = cm_xcalloc(1, sizeof *rs);
    rs->lists = cm_map_new();
    rs->macros = cm_map_new();
    uint8_t h[32];
    cry_sha256("", 0, h);
    cm_hex(h, 32, rs->hash);
    return rs;
}

static void index_rules(pol_ruleset *rs)
{
    for (int t = 1; t < VLT_EV__COUNT; t++) {
        for (size_t i = 0; i < rs->nrules; i++) {
            if (!(rs->rules[i].on >> t & 1))
                continue;
            rs->by_type[t] = cm_xrealloc(rs->by_type[t], (rs->nby_type[t] + 1) * sizeof(void *));
            rs->by_type[t][rs->nby_type[t]++] = &rs->rules[i];
        }
    }
}

pol_ruleset *pol_ruleset_load(const char *const *paths, size_t n, cm_err *err)
{
    pol_ruleset *rs = pol_ruleset_empty();
    loader ld = {.rs = rs, .err = err};
    char **files = NULL;
    size_t nf = 0;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = pol_collect_files(paths[i], is_rule_file, false, MAX_FILES, "rules", &files, &nf, err);
    if (rc == 0 && nf == 0) {
        cm_err_set(err, n ? paths[0] : "rules", 0, 0, "no rule files found");
        rc = -1;
    }
    cry_hash *h = cry_hash_new();
    if (rc == 0 && (!h || cry_hash_begin(h) < 0)) {
        cm_err_set(err, n ? paths[0] : "rules", 0, 0, "cannot hash the rule files (crypto failure)");
        rc = -1;
    }
    ld.files = cm_xcalloc(nf + 1, sizeof *ld.files);
    for (size_t i = 0; rc == 0 && i < nf; i++) {
        ld.nfiles++;
        rc = read_file(&ld, files[i], &ld.files[i], h);
    }
    static const char *const top[] = {"lists", "macros", "rules", NULL};
    /* Pass 1: lists and macros from every file; pass 2: the rules that use them. */
    for (int pass = 0; pass < 2 && rc == 0; pass++) {
        for (size_t i = 0; rc == 0 && i < ld.nfiles; i++) {
            ld.file = ld.files[i].path;
            ld.doc = &ld.files[i].doc;
            yaml_node_t *root = yaml_document_get_root_node(ld.doc);
            if (!root)
                continue; /* an empty file */
            rc = each_member(&ld, root, top, pass ? top_rules : top_defs, NULL, "a rule file");
        }
    }
    if (rc == 0) {
        /* Macros nobody used are still checked. */
        size_t it = 0;
        void *v;
        while (rc == 0 && cm_map_next(rs->macros, &it, NULL, &v)) {
            pol_macro *m = v;
            if (!m->compiled) {
                m->compiled = pol_compile(rs, m->text, m->file, m->line, m->col, err);
                rc = m->compiled ? 0 : -1;
            }
        }
    }
    uint8_t d[32] = {0};
    if (rc == 0 && cry_hash_final(h, d) < 0) {
        cm_err_set(err, n ? paths[0] : "rules", 0, 0, "cannot hash the rule files (crypto failure)");
        rc = -1;
    }
    cry_hash_free(h);
    cm_hex(d, 32, rs->hash);
    for (size_t i = 0; i < ld.nfiles; i++) {
        if (ld.files[i].has_doc)
            yaml_document_delete(&ld.files[i].doc);
        free(ld.files[i].path);
    }
    free(ld.files);
    for (size_t i = 0; i < nf; i++)
        free(files[i]);
    free(files);
    if (rc < 0) {
        pol_ruleset_free(rs);
        return NULL;
    }
    index_rules(rs);
    return rs;
}

void pol_ruleset_free(pol_ruleset *rs)
{
    if (!rs)
        return;
    for (size_t i = 0; i < rs->nrules; i++) {
        pol_rule *r = &rs->rules[i];
        free(r->id);
        free(r->title);
        free(r->file);
        for (size_t k = 0; k < r->nmsg; k++)
            free(r->msg[k].text);
        free(r->msg);
    }
    free(rs->rules);
    for (int t = 0; t < VLT_EV__COUNT; t++)
        free(rs->by_type[t]);
    size_t it = 0;
    void *v;
    while (cm_map_next(rs->lists, &it, NULL, &v)) {
        pol_list *l = v;
        for (size_t i = 0; i < l->n; i++)
            free(l->items[i]);
        free(l->items);
        free(l->file);
        free(l);
    }
    cm_map_free(rs->lists);
    it = 0;
    while (cm_map_next(rs->macros, &it, NULL, &v)) {
        pol_macro *m = v;
        free(m->text);
        free(m->file);
        free(m);
    }
    cm_map_free(rs->macros);
    for (size_t i = 0; i < rs->nnodes; i++)
        pol_node_free(rs->nodes[i]);
    free(rs->nodes);
    for (size_t i = 0; i < rs->nstrings; i++)
        free(rs->strings[i]);
    free(rs->strings);
    free(rs);
}

const char *pol_ruleset_hash(const pol_ruleset *rs)
{
    return rs->hash;
}

size_t pol_ruleset_count(const pol_ruleset *rs)
{
    return rs->nrules;
}

const pol_rule *pol_ruleset_rule(const pol_ruleset *rs, size_t i)
{
    return &rs->rules[i];
}

const pol_rule *const *pol_ruleset_for(const pol_ruleset *rs, enum vlt_etype t, size_t *n)
{
    *n = rs->nby_type[t];
    return rs->by_type[t];
}

const pol_rule *pol_ruleset_find(const pol_ruleset *rs, const char *id)
{
    for (size_t i = 0; i < rs->nrules; i++)
        if (!strcmp(rs->rules[i].id, id))
            return &rs->rules[i];
    return NULL;
}

const char *pol_rule_id(const pol_rule *r)
{
    return r->id;
}

enum pol_action pol_rule_action(const pol_rule *r)
{
    return r->action;
}

enum pol_severity pol_rule_severity(const pol_rule *r)
{
    return r->severity;
}

const char *pol_action_name(enum pol_action a)
{
    static const char *const n[] = {"deny", "alert", "lockout"};
    return n[a];
}

const char *pol_severity_name(enum pol_severity s)
{
    static const char *const n[] = {"low", "medium", "high", "critical"};
    return n[s];
}
