/* The run config loader: a good config, its defaults, every kind of error with its place,
 * and relative paths resolved against the config's folder. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stream/config.h"
#include "tests/unit/t.h"

#define BASE                                                                                       \
    "kafka:\n"                                                                                     \
    "  bootstrap.servers: localhost:9092\n"                                                        \
    "  group.id: cmkguard\n"                                                                       \
    "rules: [rules]\n"                                                                             \
    "state: state.db\n"

static stm_config *load(const char *name, const char *yaml, cm_err *err)
{
    cm_err_clear(err);
    return stm_config_load_mem(name, yaml, strlen(yaml), err);
}

static void test_good(void)
{
    cm_err err;
    stm_config *c = load("/etc/cmkguard/run.yaml",
                         BASE "topics:\n"
                              "  events: in\n"
                              "  audit: out\n"
                              "  dead_letter: dead\n"
                              "exemptions: [ex, /abs/ex.yaml]\n"
                              "master_key: keys/master\n"
                              "audit:\n"
                              "  sign_key: /keys/sign.pem\n"
                              "  checkpoint: 100\n"
                              "  clock: event\n"
                              "metrics:\n"
                              "  listen: 127.0.0.1:9100\n"
                              "  timeout_seconds: 5\n"
                              "max_message: 4096\n"
                              "status_interval: 0\n"
                              "backlog: 7\n"
                              "batch: 3\n",
                         &err);
    CHECK(c != NULL);
    if (!c) {
        fprintf(stderr, "  %s:%d:%d: %s\n", err.where, err.line, err.col, err.msg);
        return;
    }
    CHECK(c->nkafka == 2);
    CHECK_STR(c->kafka_keys[0], "bootstrap.servers");
    CHECK_STR(c->kafka_vals[0], "localhost:9092");
    CHECK_STR(c->kafka_keys[1], "group.id");
    CHECK_STR(c->topic_events, "in");
    CHECK_STR(c->topic_audit, "out");
    CHECK_STR(c->topic_dead, "dead");
    CHECK(c->nrules == 1);
    CHECK_STR(c->rules[0], "/etc/cmkguard/rules");
    CHECK(c->nexemptions == 2);
    CHECK_STR(c->exemptions[0], "/etc/cmkguard/ex");
    CHECK_STR(c->exemptions[1], "/abs/ex.yaml");
    CHECK_STR(c->state, "/etc/cmkguard/state.db");
    CHECK_STR(c->master_key, "/etc/cmkguard/keys/master");
    CHECK_STR(c->sign_key, "/keys/sign.pem");
    CHECK(c->checkpoint == 100);
    CHECK_STR(c->clock, "event");
    CHECK_STR(c->metrics_listen, "127.0.0.1:9100");
    CHECK(c->metrics_timeout == 5);
    CHECK(c->max_message == 4096 && c->status_interval == 0);
    CHECK(c->backlog == 7 && c->batch == 3);
    stm_config_free(c);

    /* the defaults; a config in the working folder keeps its paths as written */
    c = load("run.yaml", BASE, &err);
    CHECK(c != NULL);
    if (!c)
        return;
    CHECK_STR(c->topic_events, "cmk.events");
    CHECK_STR(c->topic_audit, "cmk.audit");
    CHECK_STR(c->topic_dead, "cmk.dead");
    CHECK_STR(c->clock, "wall");
    CHECK(c->max_message == 1 << 20 && c->status_interval == 10);
    CHECK(c->backlog == 10000 && c->batch == 500 && c->metrics_timeout == 10);
    CHECK(c->checkpoint == 0 && !c->sign_key && !c->master_key && !c->metrics_listen);
    CHECK(c->nexemptions == 0);
    CHECK_STR(c->rules[0], "rules");
    CHECK_STR(c->state, "state.db");
    CHECK(!c->topic_state && !c->topic_catalog && c->snapshot_bytes == 1 << 20);
    stm_config_free(c);
    stm_config_free(NULL);

    /* several instances: the state and catalog topics, the shared key, a directory */
    c = load("run.yaml",
             BASE "master_key: m.key\nsnapshot_bytes: 65536\n"
                  "topics: {events: e, state: cmk.state, catalog: cmk.catalog}\n",
             &err);
    CHECK(c != NULL);
    if (!c)
        return;
    CHECK_STR(c->topic_state, "cmk.state");
    CHECK_STR(c->topic_catalog, "cmk.catalog");
    CHECK_STR(c->master_key, "m.key");
    CHECK(c->snapshot_bytes == 65536);
    stm_config_free(c);
}

/* Each broken config is refused with FILE:LINE:COL: message, exactly. */
static void test_errors(void)
{
    static const struct {
        const char *yaml, *want;
    } cases[] = {
        {BASE "colour: red\n", "c.yaml:6:1: unknown field 'colour' (kafka, topics, rules, "
                               "exemptions, state, master_key, audit, metrics, max_message, "
                               "status_interval, backlog, batch, snapshot_bytes)"},
        {BASE "topics:\n  event: x\n", "c.yaml:7:3: unknown field 'event' in topics (events, "
                                       "audit, dead_letter, state, catalog)"},
        {BASE "topics:\n  state: s\n",
         "c.yaml:1:1: master_key: required with topics.state (every instance shares it)"},
        {BASE "topics:\n  catalog: c\n", "c.yaml:1:1: topics.catalog needs topics.state (several "
                                         "instances)"},
        {BASE "snapshot_bytes: 100\n",
         "c.yaml:6:17: snapshot_bytes must be a whole number in range"},
        {"kafka:\n  group.id: g\nrules: [r]\nmaster_key: m\ntopics: {state: s}\n",
         "c.yaml:1:1: state: a directory for the local caches is required for run"},
        {BASE "audit:\n  key: k\n",
         "c.yaml:7:3: unknown field 'key' in audit (sign_key, checkpoint, clock)"},
        {BASE "metrics:\n  port: 1\n",
         "c.yaml:7:3: unknown field 'port' in metrics (listen, timeout_seconds)"},
        {BASE "topics: [a]\n", "c.yaml:6:9: topics must be a mapping"},
        {BASE "topics:\n  events: ''\n", "c.yaml:7:11: topics.events must be a non-empty string"},
        {BASE "max_message: lots\n", "c.yaml:6:14: max_message must be a whole number in range"},
        {BASE "max_message: 63\n", "c.yaml:6:14: max_message must be a whole number in range"},
        {BASE "batch: 100001\n", "c.yaml:6:8: batch must be a whole number in range"},
        {BASE "audit:\n  clock: sun\n", "c.yaml:7:10: audit.clock is wall or event"},
        {BASE "audit:\n  checkpoint: 10\n", "c.yaml:1:1: audit.checkpoint needs audit.sign_key"},
        {BASE "exemptions: ex\n", "c.yaml:6:13: exemptions must be a list of paths"},
        {"rules: [r]\nstate: [a]\n", "c.yaml:2:8: state must be a non-empty string"},
        {BASE "state: b.db\n", "c.yaml:6:1: duplicate key 'state'"},
        {"rules: [r]\nkafka:\n  acks: [1]\n", "c.yaml:3:9: kafka.acks must be a scalar"},
        {BASE "[a]: 1\n", "c.yaml:6:1: keys in the config must be strings"},
        {"kafka:\n  group.id: g\nrules: [r]\n",
         "c.yaml:1:1: state: a SQLite file is required for run"},
        {"kafka:\n  group.id: g\nstate: s\n",
         "c.yaml:1:1: rules: at least one rule path is required"},
        {"rules: [r, '']\nstate: s\nkafka:\n  group.id: g\n",
         "c.yaml:1:8: rules must be a list of paths"},
        {"rules: [r]\nstate: s\n", "c.yaml:1:1: kafka: group.id is required"},
        {"- a\n", "c.yaml:1:1: the config must be a mapping"},
        {"", "c.yaml: empty config"},
        {"kafka: {\n", "c.yaml:2:1: YAML: did not find expected node content"},
    };
    for (size_t i = 0; i < CM_ARRAY_LEN(cases); i++) {
        cm_err err;
        char got[1400];
        stm_config *c = load("c.yaml", cases[i].yaml, &err);
        CHECK(c == NULL);
        stm_config_free(c);
        cm_err_format(&err, got, sizeof got);
        if (strcmp(got, cases[i].want) != 0)
            fprintf(stderr, "  case %zu: got '%s'\n", i, got);
        CHECK_STR(got, cases[i].want);
        CHECK(err.code == CM_EINPUT);
    }
    /* more than 1 MiB is refused before it is parsed */
    size_t big = (1u << 20) + 1;
    char *huge = malloc(big);
    if (huge) {
        cm_err err;
        memset(huge, '#', big);
        CHECK(stm_config_load_mem("c.yaml", huge, big, &err) == NULL);
        CHECK_STR(err.msg, "cannot read config: File too large");
        free(huge);
    }
}

/* A config file on disk: its relative paths resolve against its own folder. */
static void test_file(void)
{
    char dir[] = "/tmp/cmkguard-unit-config.XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[128], want[160];
    snprintf(path, sizeof path, "%s/run.yaml", dir);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f)
        return;
    fputs(BASE "exemptions: [../ex]\n", f);
    fclose(f);
    cm_err err;
    stm_config *c = stm_config_load(path, &err);
    CHECK(c != NULL);
    if (c) {
        snprintf(want, sizeof want, "%s/rules", dir);
        CHECK_STR(c->rules[0], want);
        snprintf(want, sizeof want, "%s/state.db", dir);
        CHECK_STR(c->state, want);
        snprintf(want, sizeof want, "%s/../ex", dir);
        CHECK_STR(c->exemptions[0], want);
    }
    stm_config_free(c);
    CHECK(unlink(path) == 0);
    CHECK(rmdir(dir) == 0);
    CHECK(stm_config_load(path, &err) == NULL);
    CHECK_STR(err.where, path);
    CHECK_STR(err.msg, "cannot read config: No such file or directory");
}

int main(void)
{
    test_good();
    test_errors();
    test_file();
    T_DONE();
}
