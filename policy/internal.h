/* Internals of policy/: the compiled condition tree and the rule set. */
#ifndef POL_INTERNAL_H
#define POL_INTERNAL_H
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "common/map.h"
#include "policy/policy.h"

#define POL_MAX_RULES 10000
#define POL_MAX_EXEMPTIONS 10000
#define POL_MAX_META 64 /* tags, compliance entries, references per rule */
#define POL_MAX_REGEX 1024
#define POL_MAX_COND 8192
#define POL_MAX_DEPTH 64
#define POL_MATCH_LIMIT 100000
#define POL_DEPTH_LIMIT 1000

enum node_kind {
    N_AND,
    N_OR,
    N_NOT,
    N_CMP,
    N_IN,
    N_CONTAINS,
    N_STARTS,
    N_ENDS,
    N_MATCHES,
    N_EXISTS,
    N_TRUTH,
    N_MACRO
};
enum cmp_op { OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE };

typedef struct operand {
    int slot; /* -1: literal */
    pol_val lit;
} operand;

typedef struct node {
    enum node_kind k;
    enum cmp_op op;
    struct node *a, *b; /* AND/OR/NOT children; MACRO target in a */
    operand l, r;
    pol_val *set; /* IN */
    size_t nset;
    pcre2_code *re;
    pcre2_match_data *md;
    pcre2_match_context *mctx;
} node;

/* A message template: literal text and field slots, alternating. */
typedef struct tpl_part {
    char *text;
    int slot; /* -1 for text */
} tpl_part;

struct pol_rule {
    char *id, *title, *file;
    int line, col;
    enum pol_action action;
    enum pol_severity severity;
    uint64_t on; /* bit per vlt_etype */
    node *when;
    tpl_part *msg;
    size_t nmsg;
    char **tags, **refs; /* metadata (SPEC §4a) */
    size_t ntags, nrefs;
    pol_comp *comp;
    size_t ncomp;
};

/* A time-boxed exemption (SPEC §4a): findings of its rules on the ids its globs match
 * are reported as exempted and do not act while the event's time is before expires. */
typedef struct pol_exemption {
    char *id, *category, *reason, *ticket, *file;
    int line, col;
    char **rules; /* rule ids */
    size_t nrules;
    char **globs; /* folded to lower case, as resource ids compare */
    size_t nglobs;
    int64_t expires;
} pol_exemption;

struct pol_ruleset {
    pol_rule *rules;
    size_t nrules, cap;
    const pol_rule **by_type[VLT_EV__COUNT];
    size_t nby_type[VLT_EV__COUNT];
    cm_map *lists;  /* name -> struct pol_list */
    cm_map *macros; /* name -> struct pol_macro */
    node **nodes;   /* every node allocated, for freeing */
    size_t nnodes, capnodes;
    char **strings; /* every string literal allocated */
    size_t nstrings, capstrings;
    pol_exemption *ex;
    size_t nex;
    char **disabled; /* ids of rules loaded but disabled, by `enabled: false` or an override */
    size_t ndisabled;
    char hash[65];
};

typedef struct pol_list {
    char **items;
    size_t n;
    int line, col;
    char *file;
} pol_list;

typedef struct pol_macro {
    char *text;
    char *file;
    int line, col;
    node *compiled;
    bool compiling;
} pol_macro;

/* Compiles a condition; errors point at file:line:col+offset. */
node *pol_compile(pol_ruleset *rs, const char *text, const char *file, int line, int col,
                  cm_err *err);
int pol_template_compile(const char *text, tpl_part **parts, size_t *n, const char *file, int line,
                         int col, cm_err *err);
void pol_node_free(node *n);
#endif
