/* Rule files: strict YAML loading with libyaml, up-front checking, compilation. */
#include <errno.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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
    const char *what;   /* "rule file" or "exemption file", for messages */
} loader;

#define yerr(ld, n, ...) (pol_yaml_err((ld)->err, (ld)->file, (n), __VA_ARGS__), -1)

static const char *kind_name(yaml_node_t *n)
{
    switch (n->type) {
    case YAML_SCALAR_NODE:
        return "a scalar";
    case YAML_SEQUENCE_NODE:
        return "a list";
    case YAML_MAPPING_NODE:
        return "a mapping";
    default:
        return "nothing";
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
    size_t top = 0; /* nodes met directly in the top mapping */
    bool rules_next = false, in_rules = false;
    yaml_parser_initialize(&p);
    yaml_parser_set_input_string(&p, buf, n);
    for (;;) {
        if (!yaml_parser_parse(&p, &ev)) {
            cm_err_set(ld->err, path, (int)p.problem_mark.line + 1, (int)p.problem_mark.column + 1,
                       "YAML: %s%s%s", p.problem ? p.problem : "syntax error", p.context ? " " : "",
                       p.context ? p.context : "");
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
                rules_next =
                    t == YAML_SCALAR_EVENT && !strcmp((const char *)ev.data.scalar.value, "rules");
            } else {
                in_rules = rules_next && t == YAML_SEQUENCE_START_EVENT;
                rules_next = false;
            }
        } else if (is_node && depth == 2 && in_rules && ++ld->nrules_seen > POL_MAX_RULES) {
            cm_err_set(ld->err, path, line, col,
                       "more than %d rules in the rule set (across its files)", POL_MAX_RULES);
            yaml_event_delete(&ev);
            rc = -1;
            break;
        }
        yaml_event_delete(&ev);
        if (t == YAML_STREAM_END_EVENT)
            break;
        if (t == YAML_DOCUMENT_START_EVENT && ++docs > 1) {
            cm_err_set(ld->err, path, line, col, "one YAML document per %s", ld->what);
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

/* Hashes and parses one input's bytes (borrowed) into lf: the one way every rule and
 * exemption file is read, whether it came from a path or from the caller. name stands
 * for the input in errors. */
static int parse_bytes(loader *ld, const char *name, const char *text, size_t len, loaded *lf,
                       cry_hash *h)
{
    if (len > MAX_FILE) {
        cm_err_set(ld->err, name, 0, 0, "%s larger than 4 MiB", ld->what);
        return -1;
    }
    uint64_t n = len;
    if (cry_hash_update(h, &n, sizeof n) < 0 || cry_hash_update(h, text, len) < 0) {
        cm_err_env(ld->err, name, "cannot hash the %s (crypto failure)", ld->what);
        return -1;
    }
    lf->path = cm_strdup(name);
    int rc = prescan(ld, name, (const unsigned char *)text, len);
    if (rc == 0) {
        yaml_parser_t p;
        yaml_parser_initialize(&p);
        yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
        if (!yaml_parser_load(&p, &lf->doc)) {
            cm_err_set(ld->err, name, (int)p.problem_mark.line + 1, (int)p.problem_mark.column + 1,
                       "YAML: %s", p.problem ? p.problem : "cannot load");
            rc = -1;
        } else {
            lf->has_doc = true;
        }
        yaml_parser_delete(&p);
    }
    return rc;
}

/* Reads the file at path into memory, then parses it as parse_bytes does. */
static int read_file(loader *ld, const char *path, loaded *lf, cry_hash *h)
{
    cm_buf b;
    cm_buf_init(&b, MAX_FILE + 1);
    if (cm_read_file(path, MAX_FILE, &b) < 0) {
        if (errno == EFBIG)
            cm_err_set(ld->err, path, 0, 0, "%s larger than 4 MiB", ld->what);
        else
            cm_err_set(ld->err, path, 0, 0, "cannot read %s: %s", ld->what, strerror(errno));
        cm_buf_free(&b);
        return -1;
    }
    int rc = parse_bytes(ld, path, b.p, b.len, lf, h);
    cm_buf_free(&b);
    return rc;
}

/* The inputs of one load: the files found under paths, or the caller's sources. */
typedef struct inputs {
    char **files;          /* new, from pol_collect_files */
    const pol_source *src; /* borrowed; used when files is NULL */
    size_t n;
} inputs;

/* Fills in with the files under paths (n of them), or with the nsrc sources src when
 * paths is NULL. what names the kind of input in errors ("rules", "exemptions"). */
static int gather(const char *const *paths, size_t n, const pol_source *src, size_t nsrc,
                  const char *what, inputs *in, cm_err *err)
{
    int rc = 0;
    if (!paths) {
        in->src = src;
        in->n = nsrc;
        return 0;
    }
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = pol_collect_files(paths[i], is_rule_file, false, MAX_FILES, what, &in->files, &in->n,
                               err);
    return rc;
}

static int read_input(loader *ld, const inputs *in, size_t i, loaded *lf, cry_hash *h)
{
    if (in->files)
        return read_file(ld, in->files[i], lf, h);
    return parse_bytes(ld, in->src[i].name, in->src[i].text, in->src[i].len, lf, h);
}

static void inputs_free(inputs *in)
{
    for (size_t i = 0; in->files && i < in->n; i++)
        free(in->files[i]);
    free(in->files);
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

/* Loads every item of the sequence v with fn, stopping at the first that fails. */
static int each_item(loader *ld, yaml_node_t *v, int (*fn)(loader *ld, yaml_node_t *n))
{
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
         it++) {
        yaml_node_t *e = yaml_document_get_node(ld->doc, *it);
        if (!e || fn(ld, e) < 0)
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
    if (!strcmp(key, "overrides") && v->type != YAML_SEQUENCE_NODE)
        return yerr(ld, v, "overrides must be a list, not %s", kind_name(v));
    return 0;
}

/* A list of strings into *out (new strings; *n counts them); each checked by ok when
 * given, with its complaint. */
static int want_strings(loader *ld, yaml_node_t *v, const char *what, bool (*ok)(const char *),
                        const char *complaint, char ***out, size_t *n)
{
    if (v->type != YAML_SEQUENCE_NODE)
        return yerr(ld, v, "%s must be a list of strings, not %s", what, kind_name(v));
    size_t cnt = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
    if (cnt > POL_MAX_META)
        return yerr(ld, v, "%s has more than %d entries", what, POL_MAX_META);
    *out = cm_xcalloc(cnt + 1, sizeof **out);
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
         it++) {
        yaml_node_t *e = yaml_document_get_node(ld->doc, *it);
        const char *s;
        if (!e)
            return yerr(ld, v, "%s must be a list of strings", what);
        if (want_string(ld, e, what, &s) < 0)
            return -1;
        if (strlen(s) > 1024)
            return yerr(ld, e, "%s entry is longer than 1024 bytes", what);
        if (ok && !ok(s))
            return yerr(ld, e, "%s '%s' %s", what, s, complaint);
        (*out)[(*n)++] = cm_strdup(s);
    }
    return 0;
}

static bool printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return false;
    return true;
}

/* http(s)://host[...], no spaces or control characters. */
static bool good_url(const char *s)
{
    const char *h = !strncmp(s, "https://", 8) ? s + 8 : !strncmp(s, "http://", 7) ? s + 7 : NULL;
    if (!h || !*h || *h == '/')
        return false;
    for (; *s; s++)
        if ((unsigned char)*s <= 0x20 || *s == 0x7f)
            return false;
    return true;
}

typedef struct comp_src {
    pol_comp *c;
} comp_src;

static int comp_member(loader *ld, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
    pol_comp *c = ((comp_src *)arg)->c;
    const char *s;
    (void)k;
    if (want_string(ld, v, key, &s) < 0)
        return -1;
    if (strlen(s) > 256 || !printable(s))
        return yerr(ld, v, "%s must be printable text of at most 256 bytes", key);
    if (!strcmp(key, "standard"))
        c->standard = cm_strdup(s);
    else
        c->control = cm_strdup(s);
    return 0;
}

static int want_compliance(loader *ld, yaml_node_t *v, pol_rule *r)
{
    if (v->type != YAML_SEQUENCE_NODE)
        return yerr(ld, v, "compliance must be a list of {standard, control}, not %s",
                    kind_name(v));
    size_t cnt = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
    if (cnt > POL_MAX_META)
        return yerr(ld, v, "compliance has more than %d entries", POL_MAX_META);
    r->comp = cm_xcalloc(cnt + 1, sizeof *r->comp);
    static const char *const allowed[] = {"standard", "control", NULL};
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
         it++) {
        yaml_node_t *e = yaml_document_get_node(ld->doc, *it);
        if (!e)
            return yerr(ld, v, "compliance must be a list of {standard, control}");
        comp_src cs = {.c = &r->comp[r->ncomp++]};
        if (each_member(ld, e, allowed, comp_member, &cs, "a compliance entry") < 0)
            return -1;
        if (!cs.c->standard || !cs.c->control)
            return yerr(ld, e, "a compliance entry needs '%s'",
                        cs.c->standard ? "control" : "standard");
    }
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
    } else if (!strcmp(key, "tags")) {
        return want_strings(ld, v, "tags", printable, "contains a control character", &r->tags,
                            &r->ntags);
    } else if (!strcmp(key, "references")) {
        return want_strings(ld, v, "references", good_url,
                            "is not an http(s) URL (no spaces or control characters)", &r->refs,
                            &r->nrefs);
    } else if (!strcmp(key, "compliance")) {
        return want_compliance(ld, v, r);
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

static void rule_fields_free(pol_rule *r)
{
    free(r->id);
    free(r->title);
    free(r->file);
    for (size_t k = 0; k < r->nmsg; k++)
        free(r->msg[k].text);
    free(r->msg);
    for (size_t k = 0; k < r->ntags; k++)
        free(r->tags[k]);
    free(r->tags);
    for (size_t k = 0; k < r->nrefs; k++)
        free(r->refs[k]);
    free(r->refs);
    for (size_t k = 0; k < r->ncomp; k++) {
        free(r->comp[k].standard);
        free(r->comp[k].control);
    }
    free(r->comp);
}

/* Leaves rule i out of the set, remembering its id: exemptions and overrides may still
 * name a rule that is disabled. Its condition nodes stay with the set's. */
static void drop_rule(pol_ruleset *set, size_t i)
{
    pol_rule *r = &set->rules[i];
    set->disabled = cm_xrealloc(set->disabled, (set->ndisabled + 1) * sizeof *set->disabled);
    set->disabled[set->ndisabled++] = r->id;
    r->id = NULL;
    rule_fields_free(r);
    memmove(r, r + 1, (set->nrules - i - 1) * sizeof *r);
    set->nrules--;
}

static bool rule_disabled(const pol_ruleset *set, const char *id)
{
    for (size_t i = 0; i < set->ndisabled; i++)
        if (!strcmp(set->disabled[i], id))
            return true;
    return false;
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
    static const char *const allowed[] = {
        "id",      "title",   "description", "on",         "when",       "action", "severity",
        "message", "enabled", "tags",        "compliance", "references", NULL};
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
    if (!src.enabled) /* a disabled rule is checked, then left out */
        drop_rule(set, set->nrules - 1);
    return 0;
}

static int top_rules(loader *ld, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
    (void)k;
    (void)arg;
    if (strcmp(key, "rules") != 0)
        return 0;
    return each_item(ld, v, load_rule);
}

/* ---------- overrides ---------- */

typedef struct override_src {
    yaml_node_t *rule, *enabled, *action, *severity;
} override_src;

static int override_member(loader *ld, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
    override_src *o = arg;
    (void)ld;
    (void)k;
    if (!strcmp(key, "rule"))
        o->rule = v;
    else if (!strcmp(key, "enabled"))
        o->enabled = v;
    else if (!strcmp(key, "action"))
        o->action = v;
    else
        o->severity = v;
    return 0;
}

/* One override: adjusts a rule loaded before it (this file's, or an earlier file's). An
 * action may only be weakened, deny or lockout to alert; a rule may only be disabled. */
static int load_override(loader *ld, yaml_node_t *n)
{
    static const char *const allowed[] = {"rule", "enabled", "action", "severity", NULL};
    override_src o = {0};
    if (each_member(ld, n, allowed, override_member, &o, "an override") < 0)
        return -1;
    const char *id, *s;
    if (!o.rule)
        return yerr(ld, n, "an override is missing 'rule'");
    if (want_string(ld, o.rule, "rule", &id) < 0)
        return -1;
    if (!o.enabled && !o.action && !o.severity)
        return yerr(ld, n,
                    "override of %s changes nothing (enabled: false, action: alert or "
                    "severity)",
                    id);
    bool disable = false;
    if (o.enabled) {
        if (!plain(o.enabled) || strcmp(sval(o.enabled), "false") != 0)
            return yerr(ld, o.enabled, "an override can only disable a rule (enabled: false)");
        disable = true;
    }
    enum pol_severity sev = POL_LOW;
    if (o.severity) {
        if (want_string(ld, o.severity, "severity", &s) < 0)
            return -1;
        static const char *const names[] = {"low", "medium", "high", "critical"};
        int i = 0;
        while (i < 4 && strcmp(names[i], s))
            i++;
        if (i == 4)
            return yerr(ld, o.severity, "severity '%s' is not low, medium, high or critical", s);
        sev = (enum pol_severity)i;
    }
    if (o.action) {
        if (want_string(ld, o.action, "action", &s) < 0)
            return -1;
        if (!strcmp(s, "deny") || !strcmp(s, "lockout"))
            return yerr(ld, o.action,
                        "an override may only weaken an action to alert, not make "
                        "it %s",
                        s);
        if (strcmp(s, "alert") != 0)
            return yerr(ld, o.action, "action '%s' is not deny, alert or lockout", s);
    }
    pol_ruleset *set = ld->rs;
    size_t i = 0;
    while (i < set->nrules && strcmp(set->rules[i].id, id))
        i++;
    if (i == set->nrules) {
        if (rule_disabled(set, id))
            return 0; /* already left out: nothing to adjust */
        return yerr(ld, o.rule,
                    "override of unknown rule '%s' (an override applies to a rule "
                    "loaded before it, from this file or an earlier one)",
                    id);
    }
    pol_rule *r = &set->rules[i];
    if (o.action) {
        if (r->action == POL_ALERT)
            return yerr(ld, o.action,
                        "rule %s is already alert: an override may only weaken "
                        "deny or lockout to alert",
                        id);
        r->action = POL_ALERT;
    }
    if (o.severity)
        r->severity = sev;
    if (disable)
        drop_rule(set, i);
    return 0;
}

static int top_overrides(loader *ld, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
    (void)k;
    (void)arg;
    if (strcmp(key, "overrides") != 0)
        return 0;
    return each_item(ld, v, load_override);
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

/* The rule files under paths, or the sources src when paths is NULL, compiled and
 * hashed; not yet indexed. */
static pol_ruleset *load_rules(const char *const *paths, size_t n, const pol_source *src,
                               size_t nsrc, cm_err *err)
{
    pol_ruleset *rs = pol_ruleset_empty();
    loader ld = {.rs = rs, .err = err, .what = "rule file"};
    inputs in = {0};
    const char *where = paths ? (n ? paths[0] : "rules") : (nsrc ? src[0].name : "rules");
    int rc = gather(paths, n, src, nsrc, "rules", &in, err);
    if (rc == 0 && in.n == 0) {
        cm_err_set(err, where, 0, 0, "no rule files found");
        rc = -1;
    }
    cry_hash *h = cry_hash_new();
    if (rc == 0 && (!h || cry_hash_begin(h) < 0)) {
        cm_err_env(err, where, "cannot hash the rule files (crypto failure)");
        rc = -1;
    }
    ld.files = cm_xcalloc(in.n + 1, sizeof *ld.files);
    for (size_t i = 0; rc == 0 && i < in.n; i++) {
        ld.nfiles++;
        rc = read_input(&ld, &in, i, &ld.files[i], h);
    }
    static const char *const top[] = {"lists", "macros", "rules", "overrides", NULL};
    /* Pass 1: lists and macros from every file; pass 2: the rules that use them, each
     * file's overrides after its rules, so an override sees every rule loaded so far. */
    for (int pass = 0; pass < 2 && rc == 0; pass++) {
        for (size_t i = 0; rc == 0 && i < ld.nfiles; i++) {
            ld.file = ld.files[i].path;
            ld.doc = &ld.files[i].doc;
            yaml_node_t *root = yaml_document_get_root_node(ld.doc);
            if (!root)
                continue; /* an empty file */
            rc = each_member(&ld, root, top, pass ? top_rules : top_defs, NULL, "a rule file");
            if (rc == 0 && pass)
                rc = each_member(&ld, root, top, top_overrides, NULL, "a rule file");
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
        cm_err_env(err, where, "cannot hash the rule files (crypto failure)");
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
    inputs_free(&in);
    if (rc < 0) {
        pol_ruleset_free(rs);
        return NULL;
    }
    return rs;
}

/* ---------- exemptions ---------- */

/* A glob names canonical ids: resource ids ("/subscriptions/…") and vault or key URIs
 * ("https://…"). fnmatch(3) without FNM_PATHNAME: '*' matches any run of characters, '/'
 * included; '?' one character; '[…]' a class; '\' quotes the next character. Globs and
 * ids are folded to lower case first, as resource ids compare (SPEC §2a). */
static const char *glob_problem(const char *g)
{
    if (!*g)
        return "is empty";
    if (strlen(g) > 1024)
        return "is longer than 1024 bytes";
    if (g[0] != '/' && strncasecmp(g, "https://", 8) != 0)
        return "must start with '/' (a resource id) or 'https://' (a vault or key URI)";
    for (const char *p = g; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c < 0x20 || c == 0x7f)
            return "contains a control character";
        if (c == '\\') {
            if (!p[1])
                return "ends in a lone '\\'";
            p++;
        } else if (c == '[') {
            const char *q = p + 1;
            if (*q == '!' || *q == '^')
                q++;
            if (*q == ']')
                q++;
            while (*q && *q != ']')
                q++;
            if (!*q)
                return "has a '[' with no closing ']'";
            p = q;
        }
    }
    return NULL;
}

static bool glob_match(const pol_exemption *x, const char *folded)
{
    for (size_t i = 0; i < x->nglobs; i++)
        if (fnmatch(x->globs[i], folded, 0) == 0)
            return true;
    return false;
}

static void exemption_free(pol_exemption *x)
{
    free(x->id);
    free(x->category);
    free(x->reason);
    free(x->ticket);
    free(x->file);
    for (size_t i = 0; i < x->nrules; i++)
        free(x->rules[i]);
    free(x->rules);
    for (size_t i = 0; i < x->nglobs; i++)
        free(x->globs[i]);
    free(x->globs);
}

typedef struct ex_src {
    pol_exemption *x;
    bool has_rules, has_resources, has_expires;
} ex_src;

static int ex_member(loader *ld, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
    ex_src *src = arg;
    pol_exemption *x = src->x;
    const char *s;
    (void)k;
    if (!strcmp(key, "rules")) {
        if (want_strings(ld, v, "rules", NULL, NULL, &x->rules, &x->nrules) < 0)
            return -1;
        if (!x->nrules)
            return yerr(ld, v, "rules names no rule");
        for (size_t i = 0; i < x->nrules; i++)
            if (!pol_ruleset_find(ld->rs, x->rules[i]) && !rule_disabled(ld->rs, x->rules[i]))
                return yerr(ld, yaml_document_get_node(ld->doc, v->data.sequence.items.start[i]),
                            "unknown rule id '%s'", x->rules[i]);
        src->has_rules = true;
        return 0;
    }
    if (!strcmp(key, "resources")) {
        if (want_strings(ld, v, "resources", NULL, NULL, &x->globs, &x->nglobs) < 0)
            return -1;
        if (!x->nglobs)
            return yerr(ld, v, "resources names no glob");
        for (size_t i = 0; i < x->nglobs; i++) {
            const char *why = glob_problem(x->globs[i]);
            if (why)
                return yerr(ld, yaml_document_get_node(ld->doc, v->data.sequence.items.start[i]),
                            "bad glob '%s': it %s", x->globs[i], why);
            vlt_resource_id_fold(x->globs[i], x->globs[i], strlen(x->globs[i]) + 1);
        }
        src->has_resources = true;
        return 0;
    }
    if (want_string(ld, v, key, &s) < 0)
        return -1;
    if (!printable(s) || strlen(s) > 2048)
        return yerr(ld, v, "%s must be printable text of at most 2048 bytes", key);
    if (!strcmp(key, "id")) {
        if (!good_name(s))
            return yerr(ld, v, "exemption id '%s' must be letters, digits, '_', '-' or '.'", s);
        x->id = cm_strdup(s);
    } else if (!strcmp(key, "category")) {
        if (strcmp(s, "waiver") != 0 && strcmp(s, "mitigated") != 0)
            return yerr(ld, v, "category '%s' is not waiver or mitigated", s);
        x->category = cm_strdup(s);
    } else if (!strcmp(key, "expires")) {
        if (!cm_ts_parse(s, strlen(s), &x->expires))
            return yerr(ld, v, "expires '%s' is not an RFC 3339 date-time", s);
        src->has_expires = true;
    } else if (!strcmp(key, "reason")) {
        x->reason = cm_strdup(s);
    } else {
        x->ticket = cm_strdup(s);
    }
    return 0;
}

static int load_exemption(loader *ld, yaml_node_t *n)
{
    pol_ruleset *set = ld->rs;
    if (set->nex >= POL_MAX_EXEMPTIONS)
        return yerr(ld, n, "more than %d exemptions", POL_MAX_EXEMPTIONS);
    set->ex = cm_xrealloc(set->ex, (set->nex + 1) * sizeof *set->ex);
    pol_exemption *x = &set->ex[set->nex++];
    memset(x, 0, sizeof *x);
    x->file = cm_strdup(ld->file);
    x->line = (int)n->start_mark.line + 1;
    x->col = (int)n->start_mark.column + 1;
    static const char *const allowed[] = {"id",      "rules",  "resources", "category",
                                          "expires", "reason", "ticket",    NULL};
    ex_src src = {.x = x};
    if (each_member(ld, n, allowed, ex_member, &src, "an exemption") < 0)
        return -1;
    static const char *const req[] = {"id", "rules", "resources", "category", "expires", "reason"};
    bool have[] = {x->id != NULL,       src.has_rules,   src.has_resources,
                   x->category != NULL, src.has_expires, x->reason != NULL};
    for (size_t i = 0; i < CM_ARRAY_LEN(req); i++)
        if (!have[i])
            return yerr(ld, n, "exemption%s%s is missing '%s'", x->id ? " " : "",
                        x->id ? x->id : "", req[i]);
    for (size_t i = 0; i + 1 < set->nex; i++)
        if (!strcmp(set->ex[i].id, x->id))
            return yerr(ld, n, "duplicate exemption id '%s' (first at %s:%d:%d)", x->id,
                        set->ex[i].file, set->ex[i].line, set->ex[i].col);
    return 0;
}

static int top_exemptions(loader *ld, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
    (void)k;
    (void)key;
    (void)arg;
    if (v->type != YAML_SEQUENCE_NODE)
        return yerr(ld, v, "exemptions must be a list, not %s", kind_name(v));
    return each_item(ld, v, load_exemption);
}

/* Loads the exemption files under paths (n > 0), or the nsrc > 0 sources src when paths
 * is NULL, into rs, checked against its rules, and makes rs->hash cover them: SHA-256 of
 * the rules' hash (hex) and each exemption file, its length first, in load order. */
static int load_exemptions(pol_ruleset *rs, const char *const *paths, size_t n,
                           const pol_source *src, size_t nsrc, cm_err *err)
{
    loader ld = {.rs = rs, .err = err, .what = "exemption file"};
    inputs in = {0};
    const char *where = paths ? paths[0] : src[0].name;
    int rc = gather(paths, n, src, nsrc, "exemptions", &in, err);
    if (rc == 0 && in.n == 0) {
        cm_err_set(err, where, 0, 0, "no exemption files found");
        rc = -1;
    }
    cry_hash *h = cry_hash_new();
    if (rc == 0 && (!h || cry_hash_begin(h) < 0 || cry_hash_update(h, rs->hash, 64) < 0)) {
        cm_err_env(err, where, "cannot hash the exemption files (crypto failure)");
        rc = -1;
    }
    ld.files = cm_xcalloc(in.n + 1, sizeof *ld.files);
    for (size_t i = 0; rc == 0 && i < in.n; i++) {
        ld.nfiles++;
        rc = read_input(&ld, &in, i, &ld.files[i], h);
    }
    static const char *const top[] = {"exemptions", NULL};
    for (size_t i = 0; rc == 0 && i < ld.nfiles; i++) {
        ld.file = ld.files[i].path;
        ld.doc = &ld.files[i].doc;
        yaml_node_t *root = yaml_document_get_root_node(ld.doc);
        if (root)
            rc = each_member(&ld, root, top, top_exemptions, NULL, "an exemption file");
    }
    uint8_t d[32];
    if (rc == 0 && cry_hash_final(h, d) < 0) {
        cm_err_env(err, where, "cannot hash the exemption files (crypto failure)");
        rc = -1;
    }
    if (rc == 0)
        cm_hex(d, 32, rs->hash);
    cry_hash_free(h);
    for (size_t i = 0; i < ld.nfiles; i++) {
        if (ld.files[i].has_doc)
            yaml_document_delete(&ld.files[i].doc);
        free(ld.files[i].path);
    }
    free(ld.files);
    inputs_free(&in);
    return rc;
}

/* Rules from paths or sources, then exemptions from xpaths or xsrc (the one of each
 * pair that is not NULL), indexed. */
static pol_ruleset *load_all(const char *const *paths, size_t n, const pol_source *src, size_t nsrc,
                             const char *const *xpaths, size_t nx, const pol_source *xsrc,
                             size_t nxsrc, cm_err *err)
{
    pol_ruleset *rs = load_rules(paths, n, src, nsrc, err);
    if (!rs)
        return NULL;
    if ((xpaths ? nx : nxsrc) && load_exemptions(rs, xpaths, nx, xsrc, nxsrc, err) < 0) {
        pol_ruleset_free(rs);
        return NULL;
    }
    index_rules(rs);
    return rs;
}

pol_ruleset *pol_ruleset_load_ex(const char *const *paths, size_t n, const char *const *xpaths,
                                 size_t nx, cm_err *err)
{
    static const char *const none[1];
    return load_all(paths ? paths : none, n, NULL, 0, xpaths ? xpaths : none, nx, NULL, 0, err);
}

pol_ruleset *pol_ruleset_load_mem_ex(const pol_source *src, size_t n, const pol_source *xsrc,
                                     size_t nx, cm_err *err)
{
    return load_all(NULL, 0, src, n, NULL, 0, xsrc, nx, err);
}

pol_ruleset *pol_ruleset_load_mem(const char *name, const char *yaml, size_t n, cm_err *err)
{
    pol_source src = {.name = name, .text = yaml, .len = n};
    return load_all(NULL, 0, &src, 1, NULL, 0, NULL, 0, err);
}

pol_ruleset *pol_ruleset_load(const char *const *paths, size_t n, cm_err *err)
{
    return pol_ruleset_load_ex(paths, n, NULL, 0, err);
}

void pol_ruleset_free(pol_ruleset *rs)
{
    if (!rs)
        return;
    for (size_t i = 0; i < rs->nrules; i++)
        rule_fields_free(&rs->rules[i]);
    free(rs->rules);
    for (size_t i = 0; i < rs->ndisabled; i++)
        free(rs->disabled[i]);
    free(rs->disabled);
    for (size_t i = 0; i < rs->nex; i++)
        exemption_free(&rs->ex[i]);
    free(rs->ex);
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

size_t pol_ruleset_exemptions(const pol_ruleset *rs)
{
    return rs->nex;
}

void pol_ruleset_exemption(const pol_ruleset *rs, size_t i, pol_exemption_info *out)
{
    const pol_exemption *x = &rs->ex[i];
    *out = (pol_exemption_info){.id = x->id,
                                .category = x->category,
                                .reason = x->reason,
                                .ticket = x->ticket,
                                .expires = x->expires,
                                .rules = (const char *const *)x->rules,
                                .nrules = x->nrules};
}

static bool names_rule(const pol_exemption *x, const char *rule_id)
{
    for (size_t i = 0; i < x->nrules; i++)
        if (!strcmp(x->rules[i], rule_id))
            return true;
    return false;
}

/* The id folded to lower case into buf, or NULL when it cannot be an id. */
static const char *fold_id(const char *id, char *buf, size_t n)
{
    if (!id || strlen(id) >= n)
        return NULL;
    vlt_resource_id_fold(id, buf, n);
    return buf;
}

const char *pol_ruleset_exempted(const pol_ruleset *rs, const pol_rule *r, const char *id,
                                 int64_t at)
{
    char buf[1100];
    const char *f = rs->nex ? fold_id(id, buf, sizeof buf) : NULL;
    for (size_t i = 0; f && i < rs->nex; i++) {
        const pol_exemption *x = &rs->ex[i];
        if (at < x->expires && names_rule(x, r->id) && glob_match(x, f))
            return x->id;
    }
    return NULL;
}

const pol_rule *pol_ruleset_lapsed(const pol_ruleset *rs, const char *id, int64_t at, size_t *it)
{
    char buf[1100];
    const char *f = rs->nex ? fold_id(id, buf, sizeof buf) : NULL;
    /* *it walks (exemption, rule) pairs: exemption * POL_MAX_META + rule. */
    for (size_t k = *it / POL_MAX_META; f && k < rs->nex; k++) {
        const pol_exemption *x = &rs->ex[k];
        size_t j = k == *it / POL_MAX_META ? *it % POL_MAX_META : 0;
        if (at < x->expires || !glob_match(x, f))
            continue;
        for (; j < x->nrules; j++) {
            const pol_rule *r = pol_ruleset_find(rs, x->rules[j]);
            if (r && r->action == POL_LOCKOUT) {
                *it = k * POL_MAX_META + j + 1;
                return r;
            }
        }
    }
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

const char *const *pol_rule_tags(const pol_rule *r, size_t *n)
{
    *n = r->ntags;
    return (const char *const *)r->tags;
}

const pol_comp *pol_rule_compliance(const pol_rule *r, size_t *n)
{
    *n = r->ncomp;
    return r->comp;
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
