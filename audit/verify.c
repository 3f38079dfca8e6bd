/* Verification: re-canonicalises each record (RFC 8785) from a yajl tree, checks the
 * hash, the chain links and the Ed25519 signature, and flags unsigned tails. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_tree.h>

#include "audit/audit.h"
#include "audit/record.h"
#include "common/json.h"
#include "common/lines.h"
#include "common/map.h"

struct chain_state {
    uint64_t first, last, last_signed, records;
    bool failed; /* a record of this chain failed its checks */
    char head[65];
    char first_where[300], last_where[300];
};

struct aud_verifier {
    cry_verifier *key;
    cm_map *chains;
    char **order; /* chain names in first-seen order */
    size_t norder;
    uint64_t records;
    cm_buf canon;
    aud_record_fn on_record;
    void *on_record_arg;
};

aud_verifier *aud_verifier_new(cry_verifier *key)
{
    aud_verifier *v = cm_xcalloc(1, sizeof *v);
    v->key = key;
    v->chains = cm_map_new();
    cm_buf_init(&v->canon, 0);
    return v;
}

void aud_verifier_free(aud_verifier *v)
{
    if (!v)
        return;
    size_t it = 0;
    void *p;
    while (cm_map_next(v->chains, &it, NULL, &p))
        free(p);
    cm_map_free(v->chains);
    for (size_t i = 0; i < v->norder; i++)
        free(v->order[i]);
    free(v->order);
    cm_buf_free(&v->canon);
    free(v);
}

void aud_verifier_on_record(aud_verifier *v, aud_record_fn fn, void *arg)
{
    v->on_record = fn;
    v->on_record_arg = arg;
}

size_t aud_verifier_chain_count(const aud_verifier *v)
{
    return v->norder;
}

void aud_verifier_chain(const aud_verifier *v, size_t i, aud_chain_info *out)
{
    const struct chain_state *cs = cm_map_get(v->chains, v->order[i]);
    *out = (aud_chain_info){.chain = v->order[i],
                            .first = cs->first,
                            .last = cs->last,
                            .last_signed = cs->last_signed,
                            .records = cs->records,
                            .failed = cs->failed,
                            .head = cs->head};
}

/* Next UTF-16 code unit of a UTF-8 string (keys are valid UTF-8: yajl checked). */
static unsigned next_unit(const unsigned char **s, unsigned *pending)
{
    if (*pending) {
        unsigned u = *pending;
        *pending = 0;
        return u;
    }
    const unsigned char *p = *s;
    uint32_t cp;
    if (p[0] < 0x80) {
        cp = p[0];
        *s += 1;
    } else if (p[0] < 0xE0) {
        cp = (uint32_t)(p[0] & 0x1F) << 6 | (p[1] & 0x3F);
        *s += 2;
    } else if (p[0] < 0xF0) {
        cp = (uint32_t)(p[0] & 0x0F) << 12 | (uint32_t)(p[1] & 0x3F) << 6 | (p[2] & 0x3F);
        *s += 3;
    } else {
        cp = (uint32_t)(p[0] & 0x07) << 18 | (uint32_t)(p[1] & 0x3F) << 12 |
             (uint32_t)(p[2] & 0x3F) << 6 | (p[3] & 0x3F);
        *s += 4;
    }
    if (cp >= 0x10000) {
        cp -= 0x10000;
        *pending = 0xDC00 | (cp & 0x3FF);
        return 0xD800 | (cp >> 10);
    }
    return cp;
}

static int utf16_cmp(const char *a, const char *b)
{
    const unsigned char *p = (const unsigned char *)a, *q = (const unsigned char *)b;
    unsigned pa = 0, pb = 0;
    while ((*p || pa) && (*q || pb)) {
        unsigned x = next_unit(&p, &pa), y = next_unit(&q, &pb);
        if (x != y)
            return x < y ? -1 : 1;
    }
    return (*p || pa) ? 1 : (*q || pb) ? -1 : 0;
}

typedef struct member {
    const char *key;
    yajl_val val;
} member;

static int cmp_member(const void *a, const void *b)
{
    return utf16_cmp(((const member *)a)->key, ((const member *)b)->key);
}

/* RFC 8785 form of v; at the top level, hash and sig are left out. Appends go unchecked:
 * b's error sticks, so the last append's result answers for them all. */
static int canon(cm_buf *b, yajl_val v, bool top, int depth)
{
    if (depth > 64)
        return -1;
    if (YAJL_IS_STRING(v))
        return cm_json_cstr(b, YAJL_GET_STRING(v));
    if (YAJL_IS_INTEGER(v))
        return cm_buf_addf(b, "%lld", YAJL_GET_INTEGER(v));
    if (YAJL_IS_NUMBER(v))
        return -1; /* records hold no floating-point numbers */
    if (YAJL_IS_TRUE(v))
        return cm_buf_adds(b, "true");
    if (YAJL_IS_FALSE(v))
        return cm_buf_adds(b, "false");
    if (YAJL_IS_NULL(v))
        return cm_buf_adds(b, "null");
    if (YAJL_IS_ARRAY(v)) {
        cm_buf_addc(b, '[');
        for (size_t i = 0; i < v->u.array.len; i++) {
            if (i)
                cm_buf_addc(b, ',');
            if (canon(b, v->u.array.values[i], false, depth + 1) < 0)
                return -1;
        }
        return cm_buf_addc(b, ']');
    }
    size_t n = v->u.object.len;
    member *m = cm_xcalloc(n + 1, sizeof *m);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const char *key = v->u.object.keys[i];
        if (top && (!strcmp(key, "hash") || !strcmp(key, "sig")))
            continue;
        m[k++] = (member){key, v->u.object.values[i]};
    }
    qsort(m, k, sizeof *m, cmp_member);
    int rc = cm_buf_addc(b, '{');
    for (size_t i = 0; rc == 0 && i < k; i++) {
        if (i && utf16_cmp(m[i - 1].key, m[i].key) == 0)
            rc = -1; /* duplicate member: no canonical form */
        if (rc == 0 && i)
            cm_buf_addc(b, ',');
        if (rc == 0) {
            cm_json_cstr(b, m[i].key);
            cm_buf_addc(b, ':');
            rc = canon(b, m[i].val, false, depth + 1);
        }
    }
    free(m);
    return rc < 0 ? -1 : cm_buf_addc(b, '}');
}

int aud_rec_json(cm_buf *b, yajl_val v)
{
    return canon(b, v, false, 0);
}

static const char *str_member(yajl_val o, const char *k)
{
    const char *path[] = {k, NULL};
    yajl_val v = yajl_tree_get(o, path, yajl_t_string);
    return v ? YAJL_GET_STRING(v) : NULL;
}

static bool is_hex64(const char *s)
{
    if (!s || strlen(s) != 64)
        return false;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return false;
    return true;
}

int aud_verifier_line(aud_verifier *v, const char *where, const char *line, size_t n, cm_err *err)
{
    char ebuf[256];
    char *copy = cm_strndup(line, n);
    yajl_val o = yajl_tree_parse(copy, ebuf, sizeof ebuf);
    free(copy);
    int rc = -1;
    uint64_t seq = 0;
    const char *chain = NULL;
    if (!o || !YAJL_IS_OBJECT(o)) {
        cm_err_set(err, where, 0, 0, "not a JSON object");
        goto out_free;
    }
    const char *path_seq[] = {"seq", NULL};
    yajl_val vs = yajl_tree_get(o, path_seq, yajl_t_number);
    chain = str_member(o, "chain");
    const char *hash = str_member(o, "hash"), *prev = str_member(o, "prevhash");
    const char *sig = str_member(o, "sig"), *kid = str_member(o, "kid");
    if (!chain || !vs || !YAJL_IS_INTEGER(vs) || YAJL_GET_INTEGER(vs) < 1 || !is_hex64(hash) ||
        !is_hex64(prev)) {
        cm_err_set(err, where, 0, 0, "not an audit record (chain, seq, prevhash, hash)");
        goto out_free;
    }
    seq = (uint64_t)YAJL_GET_INTEGER(vs);
    char label[400];
    snprintf(label, sizeof label, "%s: seq %llu", where, (unsigned long long)seq);
    cm_buf_reset(&v->canon);
    if (canon(&v->canon, o, true, 0) < 0) {
        if (cm_buf_failed(&v->canon))
            cm_err_set(err, label, 0, 0, "record larger than %zu bytes", v->canon.max);
        else
            cm_err_set(err, label, 0, 0,
                       "record has no canonical form (floating-point or duplicate)");
        goto out_free;
    }
    uint8_t h[CRY_HASH_LEN];
    char hex[65];
    cry_sha256(v->canon.p, v->canon.len, h);
    cm_hex(h, sizeof h, hex);
    if (strcmp(hex, hash) != 0) {
        cm_err_set(err, label, 0, 0, "hash mismatch: the record was altered");
        goto out_free;
    }
    struct chain_state *cs = cm_map_get(v->chains, chain);
    if (!cs) {
        cs = cm_xcalloc(1, sizeof *cs);
        cm_map_put(v->chains, chain, cs);
        v->order = cm_xrealloc(v->order, (v->norder + 1) * sizeof *v->order);
        v->order[v->norder++] = cm_strdup(chain);
        if (seq == 1 && strcmp(prev, AUD_ZERO_HASH) != 0) {
            cm_err_set(err, label, 0, 0, "first record of chain '%s' must have a zero prevhash",
                       chain);
            goto out_free;
        }
        if (seq > 1)
            cm_log("%s: chain '%s' begins at seq %llu; earlier records are not in this input",
                   where, chain, (unsigned long long)seq);
        cs->first = seq;
        cs->last_signed = seq - 1;
        snprintf(cs->first_where, sizeof cs->first_where, "%s", where);
    } else {
        if (seq != cs->last + 1) {
            cm_err_set(err, label, 0, 0,
                       seq <= cs->last
                           ? "seq %llu comes after seq %llu: records reordered or repeated"
                           : "seq %llu follows seq %llu: a record is missing or out of order",
                       (unsigned long long)seq, (unsigned long long)cs->last);
            goto out_free;
        }
        if (strcmp(prev, cs->head) != 0) {
            cm_err_set(err, label, 0, 0, "prevhash does not match the previous record's hash");
            goto out_free;
        }
    }
    if (sig) {
        uint8_t raw[CRY_SIG_LEN + 4];
        size_t rn = 0;
        if (!kid || strcmp(kid, cry_verifier_kid(v->key)) != 0) {
            cm_err_set(err, label, 0, 0, "signed by key %s, not by the given key %s",
                       kid ? kid : "(no kid)", cry_verifier_kid(v->key));
            goto out_free;
        }
        if (cm_b64_decode(sig, strlen(sig), raw, sizeof raw, &rn) < 0 || rn != CRY_SIG_LEN ||
            !cry_verifier_check(v->key, h, sizeof h, raw, rn)) {
            cm_err_set(err, label, 0, 0, "bad signature");
            goto out_free;
        }
        cs->last_signed = seq;
    } else if (kid) {
        cm_err_set(err, label, 0, 0, "kid without a signature");
        goto out_free;
    }
    if (v->on_record && v->on_record(v->on_record_arg, label, o, err) < 0)
        goto out_free;
    cs->last = seq;
    cs->records++;
    memcpy(cs->head, hash, 65);
    snprintf(cs->last_where, sizeof cs->last_where, "%s", where);
    v->records++;
    rc = 0;
out_free:
    if (rc < 0 && chain) {
        struct chain_state *bad = cm_map_get(v->chains, chain);
        if (bad)
            bad->failed = true;
    }
    yajl_tree_free(o);
    return rc;
}

int aud_verifier_end(aud_verifier *v, cm_buf *summary, cm_err *err)
{
    for (size_t i = 0; i < v->norder; i++) {
        struct chain_state *cs = cm_map_get(v->chains, v->order[i]);
        if (cs->last_signed < cs->last) {
            cs->failed = true;
            cm_err_set(err, cs->last_where, 0, 0,
                       "records seq %llu..%llu of chain '%s' are not signed (no signed record or "
                       "checkpoint after them)",
                       (unsigned long long)cs->last_signed + 1, (unsigned long long)cs->last,
                       v->order[i]);
            return -1;
        }
    }
    cm_jw j;
    cm_jw_init(&j, summary);
    cm_jw_obj_begin(&j);
    cm_jw_key(&j, "chains");
    cm_jw_arr_begin(&j);
    for (size_t i = 0; i < v->norder; i++) {
        struct chain_state *cs = cm_map_get(v->chains, v->order[i]);
        cm_jw_obj_begin(&j);
        cm_jw_kstr(&j, "chain", v->order[i]);
        cm_jw_kuint(&j, "first_seq", cs->first);
        cm_jw_kstr(&j, "head", cs->head);
        cm_jw_kuint(&j, "last_seq", cs->last);
        cm_jw_obj_end(&j);
    }
    cm_jw_arr_end(&j);
    cm_jw_kuint(&j, "records", v->records);
    cm_jw_kbool(&j, "verified", true);
    cm_jw_obj_end(&j);
    if (cm_jw_done(&j) < 0) {
        cm_err_set(err, "audit", 0, 0, "verification summary larger than %zu bytes", summary->max);
        return -1;
    }
    return 0;
}

int aud_verify_files(aud_verifier *v, const char *const *files, size_t nfiles, cm_buf *summary,
                     cm_err *err)
{
    static const char *const stdin_only[] = {"-"};
    if (nfiles < 1) {
        files = stdin_only;
        nfiles = 1;
    }
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < nfiles; i++) {
        cm_lines *rd = cm_lines_open(files[i], AUD_MAX_RECORD, err);
        if (!rd)
            return CM_EINPUT;
        const char *line;
        size_t n, lineno;
        int r;
        char where[4200];
        while (rc == 0 && (r = cm_lines_next(rd, &line, &n, &lineno, err)) == 1) {
            snprintf(where, sizeof where, "%s:%zu", cm_lines_name(rd), lineno);
            if (n > AUD_MAX_RECORD) {
                cm_err_set(err, where, 0, 0, "record larger than 16 MiB");
                rc = CM_ECHECK;
            } else if (aud_verifier_line(v, where, line, n, err) < 0) {
                rc = CM_ECHECK;
            }
        }
        if (rc == 0 && r < 0)
            rc = err->code = CM_EENV;
        cm_lines_free(rd);
    }
    if (rc == 0 && aud_verifier_end(v, summary, err) < 0)
        rc = CM_ECHECK;
    return rc;
}
