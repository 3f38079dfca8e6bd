/* policy: rule sets loaded from YAML, compiled once, evaluated with three-valued logic. */
#ifndef POL_POLICY_H
#define POL_POLICY_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/timestamp.h"
#include "common/util.h"
#include "vault/event.h"

/* Fields a condition can read (SPEC §4); each also exists as prior.X. */
enum pol_field {
    PF_EVENT_ID,
    PF_EVENT_TYPE,
    PF_EVENT_TIME,
    PF_EVENT_SOURCE,
    PF_EVENT_SUBJECT,
    PF_RES_ID,
    PF_RES_KIND,
    PF_RES_TENANT,
    PF_RES_REGION,
    PF_RES_SUBSCRIPTION,
    PF_RES_KEY_SOURCE,
    PF_RES_KEY_URI,
    PF_RES_KEY_VERSIONLESS,
    PF_RES_IDENTITY,
    PF_RES_IDENTITY_PRINCIPAL,
    PF_RES_IDENTITY_TENANT,
    PF_RES_LOCKED,
    PF_RES_LOST,
    PF_RES_EXISTS,
    PF_VAULT_URI,
    PF_VAULT_NAME,
    PF_VAULT_TENANT,
    PF_VAULT_REGION,
    PF_VAULT_SUBSCRIPTION,
    PF_VAULT_SOFT_DELETE,
    PF_VAULT_PURGE_PROTECTION,
    PF_VAULT_RETENTION_DAYS,
    PF_VAULT_EXISTS,
    PF_VAULT_RESOURCES,
    PF_KEY_URI,
    PF_KEY_NAME,
    PF_KEY_VERSION,
    PF_KEY_KTY,
    PF_KEY_SIZE,
    PF_KEY_ENABLED,
    PF_KEY_DELETED,
    PF_KEY_LATEST,
    PF_KEY_EXISTS,
    PF_KEY_RESOURCES,
    PF_KEY_NBF,
    PF_KEY_EXP,
    PF_KEY_EXPIRED,
    PF_ACCESS_GET,
    PF_ACCESS_WRAP,
    PF_ACCESS_UNWRAP,
    PF__COUNT
};
#define POL_SLOTS (2 * PF__COUNT) /* slot = field, or PF__COUNT + field for prior.X */

/* PV_TIME: an instant; i holds seconds since the epoch, s its canonical spelling
 * (YYYY-MM-DDTHH:MM:SSZ). Times order with < <= > >=, compare with a string literal that
 * is an RFC 3339 date-time (checked and converted at load), and read as their canonical
 * text for string operators and messages. */
enum pol_vtype { PV_ABSENT = 0, PV_STR, PV_INT, PV_BOOL, PV_TIME };

typedef struct pol_val {
    enum pol_vtype t;
    bool b;
    int64_t i;
    const char *s; /* borrowed */
} pol_val;

/* The values of every slot for one evaluation, and the text of the times it spells
 * (key.nbf and key.exp, then their prior.X), which the time values point into. */
typedef struct pol_ctx {
    pol_val v[POL_SLOTS];
    char times[2][2][CM_TS_SIZE];
} pol_ctx;

enum pol_action { POL_DENY, POL_ALERT, POL_LOCKOUT };
enum pol_severity { POL_LOW, POL_MEDIUM, POL_HIGH, POL_CRITICAL };
enum pol_tri { POL_FALSE = 0, POL_TRUE = 1, POL_UNKNOWN = 2 };

/* One compliance mapping of a rule: a benchmark and one of its controls. */
typedef struct pol_comp {
    char *standard, *control;
} pol_comp;

typedef struct pol_rule pol_rule;
typedef struct pol_ruleset pol_ruleset;

/* Loads and compiles every YAML file under the paths (files, or directories whose
 * *.yaml / *.yml are read in name order; *.test.yaml are rule tests, not rules).
 * NULL with FILE:LINE:COL in err on any problem. */
pol_ruleset *pol_ruleset_load(const char *const *paths, size_t n, cm_err *err);
/* The same, then the exemption files under xpaths (files, or directories whose *.yaml /
 * *.yml are read in name order), checked against the loaded rules. The rule set's hash
 * then covers the exemption files too; with nx == 0 it is pol_ruleset_load's. */
pol_ruleset *pol_ruleset_load_ex(const char *const *paths, size_t n, const char *const *xpaths,
                                 size_t nx, cm_err *err);
/* One rule or exemption file given as bytes: name (not NULL) stands for its path in
 * FILE:LINE:COL errors; text holds len bytes, which need not end in a NUL. Borrowed. */
typedef struct pol_source {
    const char *name;
    const char *text;
    size_t len;
} pol_source;

/* pol_ruleset_load on one rule file given as bytes (borrowed; at most 4 MiB), parsed as
 * a file's bytes are: the same checks, the same errors, and the same hash as a file with
 * these bytes. */
pol_ruleset *pol_ruleset_load_mem(const char *name, const char *yaml, size_t n, cm_err *err);
/* pol_ruleset_load_ex on n rule files and nx exemption files given as bytes, in order. */
pol_ruleset *pol_ruleset_load_mem_ex(const pol_source *src, size_t n, const pol_source *xsrc,
                                     size_t nx, cm_err *err);
/* An empty rule set: the physics alone. */
pol_ruleset *pol_ruleset_empty(void);
void pol_ruleset_free(pol_ruleset *rs);
const char *pol_ruleset_hash(const pol_ruleset *rs); /* hex SHA-256 of the loaded files */
size_t pol_ruleset_count(const pol_ruleset *rs);
size_t pol_ruleset_exemptions(const pol_ruleset *rs);
/* Exemption i (i < pol_ruleset_exemptions), as its file states it; strings borrowed. */
typedef struct pol_exemption_info {
    const char *id, *category, *reason, *ticket; /* ticket NULL when not given */
    int64_t expires;                             /* seconds since the epoch */
    const char *const *rules;
    size_t nrules;
} pol_exemption_info;
void pol_ruleset_exemption(const pol_ruleset *rs, size_t i, pol_exemption_info *out);
const pol_rule *pol_ruleset_rule(const pol_ruleset *rs, size_t i);
/* Rules whose `on` names the event type, in load order. */
const pol_rule *const *pol_ruleset_for(const pol_ruleset *rs, enum vlt_etype t, size_t *n);
/* A rule by id (for lockout re-evaluation). */
const pol_rule *pol_ruleset_find(const pol_ruleset *rs, const char *id);
/* The id of an exemption that holds for rule r on the canonical id (a resource id, or
 * the vault or key URI of a vault's or key's own evaluation) at time at, or NULL.
 * Borrowed from the rule set. */
const char *pol_ruleset_exempted(const pol_ruleset *rs, const pol_rule *r, const char *id,
                                 int64_t at);
/* Lockout rules an exemption held back on id and no longer holds at time at (expired),
 * one per call from *it (start at 0); NULL when there are no more. A rule may come more
 * than once. */
const pol_rule *pol_ruleset_lapsed(const pol_ruleset *rs, const char *id, int64_t at, size_t *it);

const char *pol_rule_id(const pol_rule *r);
enum pol_action pol_rule_action(const pol_rule *r);
enum pol_severity pol_rule_severity(const pol_rule *r);
/* The rule's tags and compliance mappings (n = 0 when it has none); borrowed. */
const char *const *pol_rule_tags(const pol_rule *r, size_t *n);
const pol_comp *pol_rule_compliance(const pol_rule *r, size_t *n);
enum pol_tri pol_rule_eval(const pol_rule *r, const pol_ctx *c);
/* Renders the rule's message template against the context into out; -1 when out hit
 * its bound (what it holds is then a cut, not the message). */
int pol_rule_message(const pol_rule *r, const pol_ctx *c, cm_buf *out);

const char *pol_action_name(enum pol_action a);
const char *pol_severity_name(enum pol_severity s);
/* Field name <-> id, and its type. -1 when unknown. */
int pol_field_lookup(const char *name, size_t n, bool *prior);
enum pol_vtype pol_field_type(enum pol_field f);
const char *pol_field_name(enum pol_field f);
#endif
