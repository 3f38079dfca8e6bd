/* The condition language: lexer, parser, type checker and evaluator.
 *
 *   expr      = and_expr { "or" and_expr } ;
 *   and_expr  = not_expr { "and" not_expr } ;
 *   not_expr  = "not" not_expr | primary ;
 *   primary   = "(" expr ")" | macro_name | predicate ;
 *   predicate = operand [ cmp_op operand
 *                       | "in" ( "(" literal { "," literal } ")" | list_name )
 *                       | ( "contains" | "startswith" | "endswith" ) operand
 *                       | "matches" string
 *                       | "exists" ] ;
 *   operand   = field | literal ;
 *   literal   = string | integer | "true" | "false" ;
 *   cmp_op    = "==" | "!=" | "<" | "<=" | ">" | ">=" ;
 *
 * A field is `event.X`, `resource.X`, `vault.X`, `key.X`, `access.X` or `prior.` any
 * of those. A bare field is a predicate only when it is boolean. Values may be absent:
 * a predicate touching an absent field is unknown, except `exists`, and `and`/`or`/`not`
 * follow Kleene's logic. Values are strings, integers, booleans or times (key.nbf,
 * key.exp): a time compares with a time, or with a string literal that is an RFC 3339
 * date-time (converted at load), in the order of the instants. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/internal.h"

static const struct {
    const char *name;
    enum pol_vtype t;
} fields[PF__COUNT] = {
    [PF_EVENT_ID] = {"event.id", PV_STR},
    [PF_EVENT_TYPE] = {"event.type", PV_STR},
    [PF_EVENT_TIME] = {"event.time", PV_STR},
    [PF_EVENT_SOURCE] = {"event.source", PV_STR},
    [PF_EVENT_SUBJECT] = {"event.subject", PV_STR},
    [PF_RES_ID] = {"resource.id", PV_STR},
    [PF_RES_KIND] = {"resource.kind", PV_STR},
    [PF_RES_TENANT] = {"resource.tenant", PV_STR},
    [PF_RES_REGION] = {"resource.region", PV_STR},
    [PF_RES_SUBSCRIPTION] = {"resource.subscription", PV_STR},
    [PF_RES_KEY_SOURCE] = {"resource.key_source", PV_STR},
    [PF_RES_KEY_URI] = {"resource.key_uri", PV_STR},
    [PF_RES_KEY_VERSIONLESS] = {"resource.key_versionless", PV_BOOL},
    [PF_RES_IDENTITY] = {"resource.identity", PV_BOOL},
    [PF_RES_IDENTITY_PRINCIPAL] = {"resource.identity_principal", PV_STR},
    [PF_RES_IDENTITY_TENANT] = {"resource.identity_tenant", PV_STR},
    [PF_RES_LOCKED] = {"resource.locked", PV_BOOL},
    [PF_RES_LOST] = {"resource.lost", PV_BOOL},
    [PF_RES_EXISTS] = {"resource.exists", PV_BOOL},
    [PF_VAULT_URI] = {"vault.uri", PV_STR},
    [PF_VAULT_NAME] = {"vault.name", PV_STR},
    [PF_VAULT_TENANT] = {"vault.tenant", PV_STR},
    [PF_VAULT_REGION] = {"vault.region", PV_STR},
    [PF_VAULT_SUBSCRIPTION] = {"vault.subscription", PV_STR},
    [PF_VAULT_SOFT_DELETE] = {"vault.soft_delete", PV_BOOL},
    [PF_VAULT_PURGE_PROTECTION] = {"vault.purge_protection", PV_BOOL},
    [PF_VAULT_RETENTION_DAYS] = {"vault.retention_days", PV_INT},
    [PF_VAULT_EXISTS] = {"vault.exists", PV_BOOL},
    [PF_VAULT_RESOURCES] = {"vault.resources", PV_INT},
    [PF_KEY_URI] = {"key.uri", PV_STR},
    [PF_KEY_NAME] = {"key.name", PV_STR},
    [PF_KEY_VERSION] = {"key.version", PV_STR},
    [PF_KEY_KTY] = {"key.kty", PV_STR},
    [PF_KEY_SIZE] = {"key.size", PV_INT},
    [PF_KEY_ENABLED] = {"key.enabled", PV_BOOL},
    [PF_KEY_DELETED] = {"key.deleted", PV_BOOL},
    [PF_KEY_LATEST] = {"key.latest", PV_BOOL},
    [PF_KEY_EXISTS] = {"key.exists", PV_BOOL},
    [PF_KEY_RESOURCES] = {"key.resources", PV_INT},
    [PF_KEY_NBF] = {"key.nbf", PV_TIME},
    [PF_KEY_EXP] = {"key.exp", PV_TIME},
    [PF_KEY_EXPIRED] = {"key.expired", PV_BOOL},
    [PF_ACCESS_GET] = {"access.get", PV_BOOL},
    [PF_ACCESS_WRAP] = {"access.wrap", PV_BOOL},
    [PF_ACCESS_UNWRAP] = {"access.unwrap", PV_BOOL},
};

int pol_field_lookup(const char *name, size_t n, bool *prior)
{
    *prior = false;
    if (n > 6 && !strncmp(name, "prior.", 6)) {
        *prior = true;
        name += 6;
        n -= 6;
    }
    for (int f = 0; f < PF__COUNT; f++)
        if (strlen(fields[f].name) == n && !strncmp(fields[f].name, name, n))
            return f;
    return -1;
}

enum pol_vtype pol_field_type(enum pol_field f)
{
    return fields[f].t;
}

const char *pol_field_name(enum pol_field f)
{
    return fields[f].name;
}

static const char *type_name(enum pol_vtype t)
{
    switch (t) {
    case PV_STR:
        return "string";
    case PV_INT:
        return "integer";
    case PV_BOOL:
        return "boolean";
    case PV_TIME:
        return "time";
    default:
        return "absent";
    }
}

/* ---------- lexer ---------- */

enum tok { T_END, T_IDENT, T_STR, T_INT, T_LP, T_RP, T_COMMA, T_OP, T_BAD };

typedef struct lexer {
    const char *s;
    size_t pos, tpos, tlen;
    enum tok t;
    enum cmp_op op;
    int64_t ival;
    char *sval; /* decoded string literal */
    pol_ruleset *rs;
    const char *file;
    int line, col;
    cm_err *err;
    bool failed;
    int depth;
} lexer;

__attribute__((format(printf, 3, 4))) static void lerr(lexer *lx, size_t at, const char *fmt, ...)
{
    if (lx->failed)
        return;
    lx->failed = true;
    char m[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m, sizeof m, fmt, ap);
    va_end(ap);
    cm_err_set(lx->err, lx->file, lx->line, lx->col + (int)at, "%s", m);
}

static char *keep(pol_ruleset *rs, char *s)
{
    if (rs->nstrings == rs->capstrings) {
        rs->capstrings = rs->capstrings ? rs->capstrings * 2 : 16;
        rs->strings = cm_xrealloc(rs->strings, rs->capstrings * sizeof *rs->strings);
    }
    rs->strings[rs->nstrings++] = s;
    return s;
}

static void next(lexer *lx)
{
    const char *s = lx->s;
    while (s[lx->pos] && isspace((unsigned char)s[lx->pos]))
        lx->pos++;
    lx->tpos = lx->pos;
    char c = s[lx->pos];
    if (!c) {
        lx->t = T_END;
        lx->tlen = 0;
        return;
    }
    if (c == '(' || c == ')' || c == ',') {
        lx->t = c == '(' ? T_LP : c == ')' ? T_RP : T_COMMA;
        lx->pos++;
    } else if (c == '=' || c == '!' || c == '<' || c == '>') {
        char d = s[lx->pos + 1];
        lx->t = T_OP;
        if (c == '=' && d == '=') {
            lx->op = OP_EQ;
            lx->pos += 2;
        } else if (c == '!' && d == '=') {
            lx->op = OP_NE;
            lx->pos += 2;
        } else if (c == '<') {
            lx->op = d == '=' ? OP_LE : OP_LT;
            lx->pos += d == '=' ? 2 : 1;
        } else if (c == '>') {
            lx->op = d == '=' ? OP_GE : OP_GT;
            lx->pos += d == '=' ? 2 : 1;
        } else {
            lerr(lx, lx->pos, "unexpected '%c' (did you mean '==' or '!='?)", c);
            lx->t = T_BAD;
        }
    } else if (c == '"') {
        cm_buf b;
        cm_buf_init(&b, POL_MAX_COND);
        lx->pos++;
        while (s[lx->pos] && s[lx->pos] != '"') {
            char ch = s[lx->pos++];
            if (ch == '\\') {
                char e = s[lx->pos++];
                ch = e == 'n' ? '\n' : e == 't' ? '\t' : e == '"' ? '"' : e == '\\' ? '\\' : 0;
                if (!ch) {
                    lerr(lx, lx->pos - 2, "unknown escape in string literal");
                    cm_buf_free(&b);
                    lx->t = T_BAD;
                    return;
                }
            }
            cm_buf_addc(&b, ch);
        }
        if (cm_buf_failed(&b)) {
            lerr(lx, lx->tpos, "string literal too long");
            cm_buf_free(&b);
            lx->t = T_BAD;
            return;
        }
        if (s[lx->pos] != '"') {
            lerr(lx, lx->tpos, "unterminated string literal");
            cm_buf_free(&b);
            lx->t = T_BAD;
            return;
        }
        lx->pos++;
        lx->t = T_STR;
        lx->sval = keep(lx->rs, cm_buf_take(&b));
    } else if (isdigit((unsigned char)c) || (c == '-' && isdigit((unsigned char)s[lx->pos + 1]))) {
        size_t st = lx->pos++;
        while (isdigit((unsigned char)s[lx->pos]))
            lx->pos++;
        char tmp[32];
        size_t n = lx->pos - st;
        if (n >= sizeof tmp) {
            lerr(lx, st, "integer literal too long");
            lx->t = T_BAD;
            return;
        }
        memcpy(tmp, s + st, n);
        tmp[n] = '\0';
        if (!cm_parse_i64(tmp, &lx->ival)) {
            lerr(lx, st, "integer literal out of range");
            lx->t = T_BAD;
            return;
        }
        lx->t = T_INT;
    } else if (isalpha((unsigned char)c) || c == '_') {
        while (isalnum((unsigned char)s[lx->pos]) || s[lx->pos] == '_' || s[lx->pos] == '.' ||
               s[lx->pos] == '-')
            lx->pos++;
        lx->t = T_IDENT;
    } else {
        lerr(lx, lx->pos, "unexpected character '%c'", c);
        lx->t = T_BAD;
    }
    lx->tlen = lx->pos - lx->tpos;
}

static bool is_kw(lexer *lx, const char *kw)
{
    return lx->t == T_IDENT && strlen(kw) == lx->tlen && !strncmp(lx->s + lx->tpos, kw, lx->tlen);
}

/* ---------- parser ---------- */

static node *mk(lexer *lx, enum node_kind k)
{
    pol_ruleset *rs = lx->rs;
    node *n = cm_xcalloc(1, sizeof *n);
    n->k = k;
    n->l.slot = n->r.slot = -1;
    if (rs->nnodes == rs->capnodes) {
        rs->capnodes = rs->capnodes ? rs->capnodes * 2 : 64;
        rs->nodes = cm_xrealloc(rs->nodes, rs->capnodes * sizeof *rs->nodes);
    }
    rs->nodes[rs->nnodes++] = n;
    return n;
}

static node *parse_or(lexer *lx);

static bool literal(lexer *lx, pol_val *v)
{
    if (lx->t == T_STR) {
        v->t = PV_STR;
        v->s = lx->sval;
    } else if (lx->t == T_INT) {
        v->t = PV_INT;
        v->i = lx->ival;
    } else if (is_kw(lx, "true") || is_kw(lx, "false")) {
        v->t = PV_BOOL;
        v->b = is_kw(lx, "true");
    } else {
        return false;
    }
    next(lx);
    return true;
}

static bool operand_of(lexer *lx, operand *o)
{
    o->slot = -1;
    if (literal(lx, &o->lit))
        return true;
    if (lx->t != T_IDENT)
        return false;
    bool prior;
    int f = pol_field_lookup(lx->s + lx->tpos, lx->tlen, &prior);
    if (f < 0) {
        lerr(lx, lx->tpos, "unknown field '%.*s'", (int)lx->tlen, lx->s + lx->tpos);
        return false;
    }
    o->slot = f + (prior ? PF__COUNT : 0);
    next(lx);
    return true;
}

static enum pol_vtype otype(const operand *o)
{
    return o->slot >= 0 ? pol_field_type((enum pol_field)(o->slot % PF__COUNT)) : o->lit.t;
}

static const char *oname(const operand *o)
{
    return o->slot >= 0 ? pol_field_name((enum pol_field)(o->slot % PF__COUNT)) : "literal";
}

/* A string literal where a time is expected becomes that time, checked here at load. */
static bool literal_time(lexer *lx, pol_val *v, size_t at)
{
    int64_t t;
    if (v->t != PV_STR || !cm_ts_parse(v->s, strlen(v->s), &t)) {
        if (v->t == PV_STR)
            lerr(lx, at, "'%s' is not an RFC 3339 date-time (a real calendar instant)", v->s);
        return false;
    }
    char *text = cm_xmalloc(CM_TS_SIZE);
    cm_ts_format(t, text);
    *v = (pol_val){.t = PV_TIME, .i = t, .s = keep(lx->rs, text)};
    return true;
}

static node *macro_ref(lexer *lx)
{
    char name[128];
    size_t at = lx->tpos;
    snprintf(name, sizeof name, "%.*s", (int)lx->tlen, lx->s + lx->tpos);
    pol_macro *m = cm_map_get(lx->rs->macros, name);
    if (!m) {
        lerr(lx, at, "unknown macro or field '%s'", name);
        return NULL;
    }
    if (m->compiling) {
        lerr(lx, at, "macro '%s' refers to itself", name);
        return NULL;
    }
    if (!m->compiled) {
        m->compiling = true;
        m->compiled = pol_compile(lx->rs, m->text, m->file, m->line, m->col, lx->err);
        m->compiling = false;
        if (!m->compiled) {
            lx->failed = true;
            return NULL;
        }
    }
    next(lx);
    node *n = mk(lx, N_MACRO);
    n->a = m->compiled;
    return n;
}

static node *parse_in(lexer *lx, node *n, enum pol_vtype lt, size_t at)
{
    n->k = N_IN;
    next(lx);
    if (lx->t == T_LP) {
        next(lx);
        size_t cap = 4;
        n->set = cm_xcalloc(cap, sizeof *n->set);
        for (;;) {
            pol_val v = {0};
            size_t vat = lx->tpos;
            if (!literal(lx, &v)) {
                lerr(lx, lx->tpos, "expected a literal in the 'in' list");
                return NULL;
            }
            if (lt == PV_TIME && v.t == PV_STR && !literal_time(lx, &v, vat))
                return NULL;
            if (v.t != lt) {
                lerr(lx, vat, "'in' list holds a %s, but the field is a %s", type_name(v.t),
                     type_name(lt));
                return NULL;
            }
            if (n->nset == cap)
                n->set = cm_xrealloc(n->set, (cap *= 2) * sizeof *n->set);
            n->set[n->nset++] = v;
            if (lx->t == T_COMMA) {
                next(lx);
                continue;
            }
            if (lx->t != T_RP) {
                lerr(lx, lx->tpos, "expected ',' or ')' in the 'in' list");
                return NULL;
            }
            next(lx);
            return n;
        }
    }
    if (lx->t != T_IDENT) {
        lerr(lx, lx->tpos, "expected '(' or a list name after 'in'");
        return NULL;
    }
    char name[128];
    snprintf(name, sizeof name, "%.*s", (int)lx->tlen, lx->s + lx->tpos);
    pol_list *l = cm_map_get(lx->rs->lists, name);
    if (!l) {
        lerr(lx, lx->tpos, "unknown list '%s'", name);
        return NULL;
    }
    n->set = cm_xcalloc(l->n + 1, sizeof *n->set);
    for (size_t i = 0; i < l->n; i++) {
        pol_val v = {.t = lt};
        if (lt == PV_STR) {
            v.s = l->items[i];
        } else if (lt == PV_INT) {
            if (!cm_parse_i64(l->items[i], &v.i)) {
                lerr(lx, lx->tpos, "list '%s' item '%s' is not an integer", name, l->items[i]);
                return NULL;
            }
        } else if (lt == PV_TIME) {
            v = (pol_val){.t = PV_STR, .s = l->items[i]};
            if (!literal_time(lx, &v, lx->tpos))
                return NULL;
        } else {
            lerr(lx, at, "'in' needs a string, integer or time field");
            return NULL;
        }
        n->set[n->nset++] = v;
    }
    next(lx);
    return n;
}

static node *parse_predicate(lexer *lx)
{
    size_t at = lx->tpos;
    node *n = mk(lx, N_TRUTH);
    if (!operand_of(lx, &n->l)) {
        if (!lx->failed)
            lerr(lx, at, lx->t == T_END ? "condition ends too early" : "expected a condition");
        return NULL;
    }
    enum pol_vtype lt = otype(&n->l);
    if (lx->t == T_OP) {
        n->k = N_CMP;
        n->op = lx->op;
        size_t rat = lx->tpos;
        next(lx);
        size_t oat = lx->tpos;
        if (!operand_of(lx, &n->r)) {
            if (!lx->failed)
                lerr(lx, oat, "expected a field or literal after the operator");
            return NULL;
        }
        enum pol_vtype rt = otype(&n->r);
        if (lt == PV_TIME && n->r.slot < 0 && rt == PV_STR) {
            if (!literal_time(lx, &n->r.lit, oat))
                return NULL;
            rt = PV_TIME;
        } else if (rt == PV_TIME && n->l.slot < 0 && lt == PV_STR) {
            if (!literal_time(lx, &n->l.lit, at))
                return NULL;
            lt = PV_TIME;
        }
        if (lt != rt) {
            lerr(lx, rat, "cannot compare %s (%s) with %s (%s)", oname(&n->l), type_name(lt),
                 oname(&n->r), type_name(rt));
            return NULL;
        }
        if (n->op >= OP_LT && lt != PV_INT && lt != PV_TIME) {
            lerr(lx, rat, "'<', '<=', '>', '>=' compare integers, not %ss", type_name(lt));
            return NULL;
        }
        return n;
    }
    if (is_kw(lx, "in"))
        return parse_in(lx, n, lt, at);
    if (is_kw(lx, "contains") || is_kw(lx, "startswith") || is_kw(lx, "endswith")) {
        n->k = is_kw(lx, "contains") ? N_CONTAINS : is_kw(lx, "startswith") ? N_STARTS : N_ENDS;
        size_t oat = lx->tpos;
        next(lx);
        if (!operand_of(lx, &n->r)) {
            if (!lx->failed)
                lerr(lx, lx->tpos, "expected a string after the operator");
            return NULL;
        }
        if ((lt != PV_STR && lt != PV_TIME) || otype(&n->r) != PV_STR) {
            lerr(lx, oat, "string operators need strings on both sides");
            return NULL;
        }
        return n;
    }
    if (is_kw(lx, "matches")) {
        n->k = N_MATCHES;
        size_t oat = lx->tpos;
        next(lx);
        if (lt != PV_STR && lt != PV_TIME) {
            lerr(lx, oat, "'matches' needs a string field");
            return NULL;
        }
        if (lx->t != T_STR) {
            lerr(lx, lx->tpos, "'matches' needs a quoted regular expression");
            return NULL;
        }
        size_t len = strlen(lx->sval);
        if (len > POL_MAX_REGEX) {
            lerr(lx, lx->tpos, "regular expression longer than %d characters", POL_MAX_REGEX);
            return NULL;
        }
        int ec;
        PCRE2_SIZE eo;
        n->re = pcre2_compile((PCRE2_SPTR)lx->sval, len, PCRE2_UTF | PCRE2_NEVER_BACKSLASH_C, &ec,
                              &eo, NULL);
        if (!n->re) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(ec, msg, sizeof msg);
            lerr(lx, lx->tpos + 1 + eo, "bad regular expression: %s", (char *)msg);
            return NULL;
        }
        /* Without JIT, matching falls back to the interpreter: also what CMKGUARD_NO_JIT
         * asks for, since memcheck cannot follow JIT-compiled code. */
        if (!getenv("CMKGUARD_NO_JIT"))
            pcre2_jit_compile(n->re, PCRE2_JIT_COMPLETE);
        n->md = pcre2_match_data_create_from_pattern(n->re, NULL);
        n->mctx = pcre2_match_context_create(NULL);
        pcre2_set_match_limit(n->mctx, POL_MATCH_LIMIT);
        pcre2_set_depth_limit(n->mctx, POL_DEPTH_LIMIT);
        next(lx);
        return n;
    }
    if (is_kw(lx, "exists")) {
        if (n->l.slot < 0) {
            lerr(lx, lx->tpos, "'exists' needs a field");
            return NULL;
        }
        n->k = N_EXISTS;
        next(lx);
        return n;
    }
    if (lt != PV_BOOL) {
        lerr(lx, at, "%s is a %s, not a condition: compare it with something", oname(&n->l),
             type_name(lt));
        return NULL;
    }
    return n;
}

static node *parse_primary(lexer *lx)
{
    if (lx->t == T_LP) {
        if (++lx->depth > POL_MAX_DEPTH) {
            lerr(lx, lx->tpos, "condition nested deeper than %d", POL_MAX_DEPTH);
            return NULL;
        }
        next(lx);
        node *n = parse_or(lx);
        if (!n)
            return NULL;
        if (lx->t != T_RP) {
            lerr(lx, lx->tpos, "expected ')'");
            return NULL;
        }
        lx->depth--;
        next(lx);
        return n;
    }
    if (lx->t == T_IDENT && !memchr(lx->s + lx->tpos, '.', lx->tlen) && !is_kw(lx, "true") &&
        !is_kw(lx, "false"))
        return macro_ref(lx);
    return parse_predicate(lx);
}

static node *parse_not(lexer *lx)
{
    if (is_kw(lx, "not")) {
        if (++lx->depth > POL_MAX_DEPTH) {
            lerr(lx, lx->tpos, "condition nested deeper than %d", POL_MAX_DEPTH);
            return NULL;
        }
        next(lx);
        node *c = parse_not(lx);
        lx->depth--;
        if (!c)
            return NULL;
        node *n = mk(lx, N_NOT);
        n->a = c;
        return n;
    }
    return parse_primary(lx);
}

static node *parse_and(lexer *lx)
{
    node *l = parse_not(lx);
    if (!l)
        return NULL;
    while (is_kw(lx, "and")) {
        next(lx);
        node *r = parse_not(lx);
        if (!r)
            return NULL;
        node *n = mk(lx, N_AND);
        n->a = l;
        n->b = r;
        l = n;
    }
    return l;
}

static node *parse_or(lexer *lx)
{
    node *l = parse_and(lx);
    if (!l)
        return NULL;
    while (is_kw(lx, "or")) {
        next(lx);
        node *r = parse_and(lx);
        if (!r)
            return NULL;
        node *n = mk(lx, N_OR);
        n->a = l;
        n->b = r;
        l = n;
    }
    return l;
}

node *pol_compile(pol_ruleset *rs, const char *text, const char *file, int line, int col,
                  cm_err *err)
{
    lexer lx = {.s = text, .rs = rs, .file = file, .line = line, .col = col, .err = err};
    if (strlen(text) > POL_MAX_COND) {
        cm_err_set(err, file, line, col, "condition longer than %d characters", POL_MAX_COND);
        return NULL;
    }
    next(&lx);
    if (lx.t == T_END) {
        cm_err_set(err, file, line, col, "empty condition");
        return NULL;
    }
    node *n = lx.failed ? NULL : parse_or(&lx);
    if (n && lx.t != T_END) {
        lerr(&lx, lx.tpos, "unexpected '%.*s' after the condition", (int)lx.tlen, lx.s + lx.tpos);
        n = NULL;
    }
    return lx.failed ? NULL : n;
}

void pol_node_free(node *n)
{
    if (!n)
        return;
    pcre2_match_data_free(n->md);
    pcre2_match_context_free(n->mctx);
    pcre2_code_free(n->re);
    free(n->set);
    free(n);
}

/* ---------- templates ---------- */

int pol_template_compile(const char *text, tpl_part **parts, size_t *n, const char *file, int line,
                         int col, cm_err *err)
{
    size_t cap = 4, cnt = 0;
    tpl_part *p = cm_xcalloc(cap, sizeof *p);
    const char *s = text;
    while (*s) {
        const char *o = strchr(s, '{');
        size_t lit = o ? (size_t)(o - s) : strlen(s);
        if (cnt + 2 >= cap)
            p = cm_xrealloc(p, (cap *= 2) * sizeof *p);
        if (lit)
            p[cnt++] = (tpl_part){cm_strndup(s, lit), -1};
        if (!o)
            break;
        const char *c = strchr(o, '}');
        bool prior;
        int f = c ? pol_field_lookup(o + 1, (size_t)(c - o - 1), &prior) : -1;
        if (f < 0) {
            cm_err_set(err, file, line, col + (int)(o - text),
                       c ? "unknown field '%.*s' in message" : "unclosed '{' in message%.*s",
                       c ? (int)(c - o - 1) : 0, c ? o + 1 : "");
            for (size_t i = 0; i < cnt; i++)
                free(p[i].text);
            free(p);
            return -1;
        }
        p[cnt++] = (tpl_part){NULL, f + (prior ? PF__COUNT : 0)};
        s = c + 1;
    }
    *parts = p;
    *n = cnt;
    return 0;
}

int pol_rule_message(const pol_rule *r, const pol_ctx *c, cm_buf *out)
{
    for (size_t i = 0; i < r->nmsg; i++) {
        if (r->msg[i].slot < 0) {
            cm_buf_adds(out, r->msg[i].text);
            continue;
        }
        const pol_val *v = &c->v[r->msg[i].slot];
        switch (v->t) {
        case PV_STR:
        case PV_TIME:
            cm_buf_adds(out, v->s);
            break;
        case PV_INT:
            cm_buf_addf(out, "%lld", (long long)v->i);
            break;
        case PV_BOOL:
            cm_buf_adds(out, v->b ? "true" : "false");
            break;
        default:
            cm_buf_adds(out, "<unknown>");
            break;
        }
    }
    return cm_buf_failed(out) ? -1 : 0;
}

/* ---------- evaluation ---------- */

static const pol_val *val(const operand *o, const pol_ctx *c)
{
    return o->slot >= 0 ? &c->v[o->slot] : &o->lit;
}

static bool veq(const pol_val *a, const pol_val *b)
{
    switch (a->t) {
    case PV_STR:
        return !strcmp(a->s, b->s);
    case PV_INT:
    case PV_TIME:
        return a->i == b->i;
    case PV_BOOL:
        return a->b == b->b;
    default:
        return false;
    }
}

static enum pol_tri tri(bool b)
{
    return b ? POL_TRUE : POL_FALSE;
}

static enum pol_tri eval(const node *n, const pol_ctx *c)
{
    switch (n->k) {
    case N_AND: {
        enum pol_tri a = eval(n->a, c);
        if (a == POL_FALSE)
            return POL_FALSE;
        enum pol_tri b = eval(n->b, c);
        if (b == POL_FALSE)
            return POL_FALSE;
        return a == POL_TRUE && b == POL_TRUE ? POL_TRUE : POL_UNKNOWN;
    }
    case N_OR: {
        enum pol_tri a = eval(n->a, c);
        if (a == POL_TRUE)
            return POL_TRUE;
        enum pol_tri b = eval(n->b, c);
        if (b == POL_TRUE)
            return POL_TRUE;
        return a == POL_FALSE && b == POL_FALSE ? POL_FALSE : POL_UNKNOWN;
    }
    case N_NOT: {
        enum pol_tri a = eval(n->a, c);
        return a == POL_UNKNOWN ? POL_UNKNOWN : tri(a == POL_FALSE);
    }
    case N_MACRO:
        return eval(n->a, c);
    case N_EXISTS:
        return tri(val(&n->l, c)->t != PV_ABSENT);
    default:
        break;
    }
    const pol_val *l = val(&n->l, c);
    if (l->t == PV_ABSENT)
        return POL_UNKNOWN;
    /* Operators on the left value alone. */
    switch (n->k) {
    case N_TRUTH:
        return tri(l->b);
    case N_IN:
        for (size_t i = 0; i < n->nset; i++)
            if (veq(l, &n->set[i]))
                return POL_TRUE;
        return POL_FALSE;
    case N_MATCHES: {
        int rc = pcre2_match(n->re, (PCRE2_SPTR)l->s, strlen(l->s), 0, 0, n->md, n->mctx);
        if (rc >= 0)
            return POL_TRUE;
        if (rc == PCRE2_ERROR_NOMATCH)
            return POL_FALSE;
        return POL_UNKNOWN; /* match or depth limit hit: fail closed */
    }
    default:
        break;
    }
    /* Binary operators. */
    const pol_val *r = val(&n->r, c);
    if (r->t == PV_ABSENT)
        return POL_UNKNOWN;
    switch (n->k) {
    case N_CMP:
        switch (n->op) {
        case OP_EQ:
            return tri(veq(l, r));
        case OP_NE:
            return tri(!veq(l, r));
        case OP_LT:
            return tri(l->i < r->i);
        case OP_LE:
            return tri(l->i <= r->i);
        case OP_GT:
            return tri(l->i > r->i);
        case OP_GE:
            return tri(l->i >= r->i);
        }
        return POL_UNKNOWN;
    case N_CONTAINS:
        return tri(strstr(l->s, r->s) != NULL);
    case N_STARTS:
        return tri(!strncmp(l->s, r->s, strlen(r->s)));
    case N_ENDS:
        return tri(cm_endswith(l->s, r->s));
    default:
        return POL_UNKNOWN;
    }
}

enum pol_tri pol_rule_eval(const pol_rule *r, const pol_ctx *c)
{
    return eval(r->when, c);
}
