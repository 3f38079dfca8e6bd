#include "stream/config.h"
#include "policy/yamlutil.h"

#include <errno.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

typedef struct cfg_loader {
    const char *file;
    char *dir;
    yaml_document_t *doc;
    cm_err *err;
} cfg_loader;

#define cerr(l, n, ...) (pol_yaml_err((l)->err, (l)->file, (n), __VA_ARGS__), -1)
#define scalar(n) pol_yaml_scalar(n)

static char *path_of(cfg_loader *l, const char *p)
{
    if (p[0] == '/' || !strcmp(l->dir, "."))
        return cm_strdup(p);
    size_t n = strlen(l->dir) + strlen(p) + 2;
    char *o = cm_xmalloc(n);
    snprintf(o, n, "%s/%s", l->dir, p);
    return o;
}

static int want_str(cfg_loader *l, yaml_node_t *v, const char *what, char **out)
{
    const char *s = scalar(v);
    if (!s || !*s)
        return cerr(l, v, "%s must be a non-empty string", what);
    free(*out);
    *out = cm_strdup(s);
    return 0;
}

static int want_int(cfg_loader *l, yaml_node_t *v, const char *what, int64_t min, int64_t max,
                    int64_t *out)
{
    const char *s = scalar(v);
    if (!s || !cm_parse_i64(s, out) || *out < min || *out > max)
        return cerr(l, v, "%s must be a whole number in range", what);
    return 0;
}

typedef int (*pair_fn)(cfg_loader *l, stm_config *c, const char *k, yaml_node_t *kn,
                       yaml_node_t *v);

static int each(cfg_loader *l, stm_config *c, yaml_node_t *map, const char *what, pair_fn fn)
{
    if (!map || map->type != YAML_MAPPING_NODE)
        return cerr(l, map, "%s must be a mapping", what);
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = yaml_document_get_node(l->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(l->doc, p->value);
        const char *ks = scalar(k);
        if (!ks || !v)
            return cerr(l, k, "keys in %s must be strings", what);
        for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < p; q++) {
            const char *prev = scalar(yaml_document_get_node(l->doc, q->key));
            if (prev && !strcmp(prev, ks))
                return cerr(l, k, "duplicate key '%s'", ks);
        }
        if (fn(l, c, ks, k, v) < 0)
            return -1;
    }
    return 0;
}

static int kafka_pair(cfg_loader *l, stm_config *c, const char *k, yaml_node_t *kn, yaml_node_t *v)
{
    const char *s = scalar(v);
    if (!s)
        return cerr(l, v, "kafka.%s must be a scalar", k);
    c->kafka_keys = cm_xrealloc(c->kafka_keys, (c->nkafka + 1) * sizeof *c->kafka_keys);
    c->kafka_vals = cm_xrealloc(c->kafka_vals, (c->nkafka + 1) * sizeof *c->kafka_vals);
    c->kafka_keys[c->nkafka] = cm_strdup(k);
    c->kafka_vals[c->nkafka++] = cm_strdup(s);
    (void)kn;
    return 0;
}

static int topics_pair(cfg_loader *l, stm_config *c, const char *k, yaml_node_t *kn, yaml_node_t *v)
{
    if (!strcmp(k, "events"))
        return want_str(l, v, "topics.events", &c->topic_events);
    if (!strcmp(k, "audit"))
        return want_str(l, v, "topics.audit", &c->topic_audit);
    if (!strcmp(k, "dead_letter"))
        return want_str(l, v, "topics.dead_letter", &c->topic_dead);
    if (!strcmp(k, "state"))
        return want_str(l, v, "topics.state", &c->topic_state);
    if (!strcmp(k, "catalog"))
        return want_str(l, v, "topics.catalog", &c->topic_catalog);
    return cerr(l, kn, "unknown field '%s' in topics (events, audit, dead_letter, state, catalog)",
                k);
}

static int audit_pair(cfg_loader *l, stm_config *c, const char *k, yaml_node_t *kn, yaml_node_t *v)
{
    if (!strcmp(k, "sign_key")) {
        char *tmp = NULL;
        if (want_str(l, v, "audit.sign_key", &tmp) < 0)
            return -1;
        free(c->sign_key);
        c->sign_key = path_of(l, tmp);
        free(tmp);
        return 0;
    }
    if (!strcmp(k, "checkpoint"))
        return want_int(l, v, "audit.checkpoint", 0, 100000000, &c->checkpoint);
    if (!strcmp(k, "clock")) {
        if (want_str(l, v, "audit.clock", &c->clock) < 0)
            return -1;
        if (strcmp(c->clock, "wall") && strcmp(c->clock, "event"))
            return cerr(l, v, "audit.clock is wall or event");
        return 0;
    }
    return cerr(l, kn, "unknown field '%s' in audit (sign_key, checkpoint, clock)", k);
}

static int metrics_pair(cfg_loader *l, stm_config *c, const char *k, yaml_node_t *kn,
                        yaml_node_t *v)
{
    if (!strcmp(k, "listen"))
        return want_str(l, v, "metrics.listen", &c->metrics_listen);
    if (!strcmp(k, "timeout_seconds"))
        return want_int(l, v, "metrics.timeout_seconds", 1, 3600, &c->metrics_timeout);
    return cerr(l, kn, "unknown field '%s' in metrics (listen, timeout_seconds)", k);
}

static int top_pair(cfg_loader *l, stm_config *c, const char *k, yaml_node_t *kn, yaml_node_t *v)
{
    if (!strcmp(k, "kafka"))
        return each(l, c, v, "kafka", kafka_pair);
    if (!strcmp(k, "topics"))
        return each(l, c, v, "topics", topics_pair);
    if (!strcmp(k, "audit"))
        return each(l, c, v, "audit", audit_pair);
    if (!strcmp(k, "metrics"))
        return each(l, c, v, "metrics", metrics_pair);
    if (!strcmp(k, "rules") || !strcmp(k, "exemptions")) {
        bool ex = !strcmp(k, "exemptions");
        char ***list = ex ? &c->exemptions : &c->rules;
        size_t *n = ex ? &c->nexemptions : &c->nrules;
        if (v->type != YAML_SEQUENCE_NODE)
            return cerr(l, v, "%s must be a list of paths", k);
        for (yaml_node_item_t *i = v->data.sequence.items.start; i < v->data.sequence.items.top;
             i++) {
            const char *s = scalar(yaml_document_get_node(l->doc, *i));
            if (!s || !*s)
                return cerr(l, v, "%s must be a list of paths", k);
            *list = cm_xrealloc(*list, (*n + 1) * sizeof **list);
            (*list)[(*n)++] = path_of(l, s);
        }
        return 0;
    }
    if (!strcmp(k, "state") || !strcmp(k, "master_key")) {
        char *tmp = NULL;
        if (want_str(l, v, k, &tmp) < 0)
            return -1;
        char **dst = !strcmp(k, "state") ? &c->state : &c->master_key;
        free(*dst);
        *dst = path_of(l, tmp);
        free(tmp);
        return 0;
    }
    if (!strcmp(k, "max_message"))
        return want_int(l, v, "max_message", 64, 1 << 30, &c->max_message);
    if (!strcmp(k, "status_interval"))
        return want_int(l, v, "status_interval", 0, 86400, &c->status_interval);
    if (!strcmp(k, "backlog"))
        return want_int(l, v, "backlog", 1, 10000000, &c->backlog);
    if (!strcmp(k, "batch"))
        return want_int(l, v, "batch", 1, 100000, &c->batch);
    if (!strcmp(k, "snapshot_bytes"))
        return want_int(l, v, "snapshot_bytes", 16384, (int64_t)1 << 40, &c->snapshot_bytes);
    return cerr(l, kn,
                "unknown field '%s' (kafka, topics, rules, exemptions, state, master_key, audit, "
                "metrics, max_message, status_interval, backlog, batch, snapshot_bytes)",
                k);
}

stm_config *stm_config_load(const char *path, cm_err *err)
{
    cm_buf b;
    cm_buf_init(&b, 1u << 20);
    if (cm_read_file(path, 1u << 20, &b) < 0) {
        cm_err_set(err, path, 0, 0, "cannot read config: %s", strerror(errno));
        cm_buf_free(&b);
        return NULL;
    }
    stm_config *c = stm_config_load_mem(path, b.p, b.len, err);
    cm_buf_free(&b);
    return c;
}

stm_config *stm_config_load_mem(const char *path, const char *yaml, size_t n, cm_err *err)
{
    if (n > 1u << 20) {
        cm_err_set(err, path, 0, 0, "cannot read config: %s", strerror(EFBIG));
        return NULL;
    }
    yaml_parser_t p;
    yaml_document_t doc;
    yaml_parser_initialize(&p);
    yaml_parser_set_input_string(&p, (const unsigned char *)yaml, n);
    int ok = yaml_parser_load(&p, &doc);
    if (!ok)
        cm_err_set(err, path, (int)p.problem_mark.line + 1, (int)p.problem_mark.column + 1,
                   "YAML: %s", p.problem ? p.problem : "cannot load");
    yaml_parser_delete(&p);
    if (!ok)
        return NULL;
    stm_config *c = cm_xcalloc(1, sizeof *c);
    c->topic_events = cm_strdup("cmk.events");
    c->topic_audit = cm_strdup("cmk.audit");
    c->topic_dead = cm_strdup("cmk.dead");
    c->clock = cm_strdup("wall");
    c->max_message = 1 << 20;
    c->status_interval = 10;
    c->backlog = 10000;
    c->batch = 500;
    c->snapshot_bytes = 1 << 20;
    c->metrics_timeout = 10;
    char *dcopy = cm_strdup(path);
    cfg_loader l = {.file = path, .dir = cm_strdup(dirname(dcopy)), .doc = &doc, .err = err};
    free(dcopy);
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    int rc = root ? each(&l, c, root, "the config", top_pair) : cerr(&l, NULL, "empty config");
    if (rc == 0 && !c->state)
        rc = cerr(&l, root,
                  c->topic_state ? "state: a directory for the local caches is required for run"
                                 : "state: a SQLite file is required for run");
    if (rc == 0 && c->topic_state && !c->master_key)
        rc = cerr(&l, root, "master_key: required with topics.state (every instance shares it)");
    if (rc == 0 && c->topic_catalog && !c->topic_state)
        rc = cerr(&l, root, "topics.catalog needs topics.state (several instances)");
    if (rc == 0 && !c->nrules)
        rc = cerr(&l, root, "rules: at least one rule path is required");
    bool has_group = false;
    for (size_t i = 0; i < c->nkafka; i++)
        has_group |= !strcmp(c->kafka_keys[i], "group.id");
    if (rc == 0 && !has_group)
        rc = cerr(&l, root, "kafka: group.id is required");
    if (rc == 0 && c->checkpoint && !c->sign_key)
        rc = cerr(&l, root, "audit.checkpoint needs audit.sign_key");
    free(l.dir);
    yaml_document_delete(&doc);
    if (rc < 0) {
        stm_config_free(c);
        return NULL;
    }
    return c;
}

void stm_config_free(stm_config *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->nkafka; i++) {
        free(c->kafka_keys[i]);
        free(c->kafka_vals[i]);
    }
    free(c->kafka_keys);
    free(c->kafka_vals);
    for (size_t i = 0; i < c->nrules; i++)
        free(c->rules[i]);
    free(c->rules);
    for (size_t i = 0; i < c->nexemptions; i++)
        free(c->exemptions[i]);
    free(c->exemptions);
    free(c->topic_events);
    free(c->topic_audit);
    free(c->topic_dead);
    free(c->topic_state);
    free(c->topic_catalog);
    free(c->state);
    free(c->master_key);
    free(c->sign_key);
    free(c->clock);
    free(c->metrics_listen);
    free(c);
}
