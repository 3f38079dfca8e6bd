#include "policy/engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "azure/azure.h"
#include "decode/decode.h"

struct pol_engine {
    const pol_ruleset *rs;
    vlt_state *st;
    dec_decoder *dec;
    az_ctx *az; /* the Azure message in hand, its elements and derived events */
    size_t max_message;
    cm_buf msg;   /* a finding's message as its template writes it */
    cm_buf input; /* the input name, kept across the decisions of one message */
};

pol_engine *pol_engine_new(const pol_ruleset *rs, vlt_state *st, size_t max_message)
{
    pol_engine *e = cm_xcalloc(1, sizeof *e);
    e->rs = rs;
    e->st = st;
    e->dec = dec_decoder_new(max_message);
    e->az = az_ctx_new();
    e->max_message = max_message ? max_message : DEC_MAX_MESSAGE_DEFAULT;
    cm_buf_init(&e->msg, 0);
    cm_buf_init(&e->input, 0);
    return e;
}

void pol_engine_free(pol_engine *e)
{
    if (!e)
        return;
    dec_decoder_free(e->dec);
    az_ctx_free(e->az);
    cm_buf_free(&e->msg);
    cm_buf_free(&e->input);
    free(e);
}

void pol_engine_set_rules(pol_engine *e, const pol_ruleset *rs)
{
    e->rs = rs;
}

const pol_ruleset *pol_engine_rules(const pol_engine *e)
{
    return e->rs;
}

/* ---------- contexts ---------- */

static void sv(pol_ctx *c, int base, int f, const char *s)
{
    if (s)
        c->v[base + f] = (pol_val){.t = PV_STR, .s = s};
}

static void bv(pol_ctx *c, int base, int f, bool b)
{
    c->v[base + f] = (pol_val){.t = PV_BOOL, .b = b};
}

static void iv(pol_ctx *c, int base, int f, int64_t i)
{
    c->v[base + f] = (pol_val){.t = PV_INT, .i = i};
}

static const char *res_key(const vlt_resource *res)
{
    vlt_res_view vb;
    const vlt_res_view *r = vlt_res_view_of(res, &vb);
    return r ? (r->key_uri ? r->key_uri : r->requested_key) : NULL;
}

static void fill_event(pol_ctx *c, int base, const vlt_event *ev)
{
    sv(c, base, PF_EVENT_ID, ev->id);
    sv(c, base, PF_EVENT_TYPE, ev->type_name);
    sv(c, base, PF_EVENT_TIME, ev->time);
    sv(c, base, PF_EVENT_SOURCE, ev->source);
    sv(c, base, PF_EVENT_SUBJECT, ev->subject);
}

/* b: what the resource's key reference names (has: it names a key). */
static void fill_resource(pol_ctx *c, int base, const vlt_resource *res, const vlt_binding *b,
                          bool has)
{
    vlt_res_view vb;
    const vlt_res_view *r = vlt_res_view_of(res, &vb);
    bv(c, base, PF_RES_EXISTS, r != NULL);
    if (!r)
        return;
    sv(c, base, PF_RES_ID, r->id);
    sv(c, base, PF_RES_KIND, r->kind);
    sv(c, base, PF_RES_TENANT, r->tenant);
    sv(c, base, PF_RES_REGION, r->region);
    sv(c, base, PF_RES_SUBSCRIPTION, r->subscription);
    bool cmk = r->cmk || r->requested_key;
    sv(c, base, PF_RES_KEY_SOURCE, cmk ? "cmk" : "mmk");
    sv(c, base, PF_RES_KEY_URI, res_key(res));
    if (cmk)
        bv(c, base, PF_RES_KEY_VERSIONLESS, has && b->versionless);
    bv(c, base, PF_RES_IDENTITY, r->identity);
    sv(c, base, PF_RES_IDENTITY_PRINCIPAL, r->principal);
    sv(c, base, PF_RES_IDENTITY_TENANT, r->identity_tenant);
    bv(c, base, PF_RES_LOCKED, r->locked);
    bv(c, base, PF_RES_LOST, r->lost);
}

static void fill_vault(pol_ctx *c, int base, vlt_txn *t, const vlt_vault *vault, bool prior)
{
    vlt_vault_view vb;
    const vlt_vault_view *v = vlt_vault_view_of(vault, &vb);
    bv(c, base, PF_VAULT_EXISTS, v != NULL);
    if (!v)
        return;
    sv(c, base, PF_VAULT_URI, v->uri);
    sv(c, base, PF_VAULT_NAME, v->name);
    sv(c, base, PF_VAULT_TENANT, v->tenant);
    sv(c, base, PF_VAULT_REGION, v->region);
    sv(c, base, PF_VAULT_SUBSCRIPTION, v->subscription);
    bv(c, base, PF_VAULT_SOFT_DELETE, v->soft_delete);
    bv(c, base, PF_VAULT_PURGE_PROTECTION, v->purge_protection);
    iv(c, base, PF_VAULT_RETENTION_DAYS, v->retention_days);
    if (!prior)
        iv(c, base, PF_VAULT_RESOURCES, vlt_txn_bound_count_of(t, vault, NULL));
}

/* A time field: its canonical text goes into the context's own buffer. */
static void tv(pol_ctx *c, int base, int f, int64_t at)
{
    char *text = c->times[base ? 1 : 0][f == PF_KEY_EXP];
    cm_ts_format(at, text);
    c->v[base + f] = (pol_val){.t = PV_TIME, .i = at, .s = text};
}

/* The key side of a context; `at` is the event's time, which key.expired is about. */
static void fill_key(pol_ctx *c, int base, vlt_txn *t, const vlt_key *key, const vlt_keyver *ver,
                     bool prior, int64_t at)
{
    vlt_key_view kb;
    vlt_keyver_view vb;
    const vlt_key_view *k = vlt_key_view_of(key, &kb);
    const vlt_keyver_view *kv = vlt_keyver_view_of(key, ver, &vb);
    bv(c, base, PF_KEY_EXISTS, k != NULL && kv != NULL);
    if (!k)
        return;
    sv(c, base, PF_KEY_URI, k->uri);
    sv(c, base, PF_KEY_NAME, k->name);
    sv(c, base, PF_KEY_KTY, k->kty); /* NULL: not known yet, so unknown to rules */
    if (k->kty && strncmp(k->kty, "EC", 2) != 0)
        iv(c, base, PF_KEY_SIZE, k->size);
    bv(c, base, PF_KEY_DELETED, k->deleted);
    if (!prior)
        iv(c, base, PF_KEY_RESOURCES, vlt_txn_bound_count_of(t, NULL, key));
    if (!kv)
        return;
    sv(c, base, PF_KEY_VERSION, kv->version);
    bv(c, base, PF_KEY_ENABLED, kv->enabled);
    bv(c, base, PF_KEY_LATEST, kv->latest);
    if (kv->has_nbf)
        tv(c, base, PF_KEY_NBF, kv->nbf);
    if (kv->has_exp)
        tv(c, base, PF_KEY_EXP, kv->exp);
    bv(c, base, PF_KEY_EXPIRED, !vlt_keyver_valid_at(ver, at, NULL, 0));
}

static void fill_access(pol_ctx *c, int base, vlt_txn *t, const vlt_vault *vault,
                        const vlt_resource *res, bool prior)
{
    vlt_res_view vb;
    vlt_vault_view wb;
    const vlt_res_view *r = vlt_res_view_of(res, &vb);
    const vlt_vault_view *v = vlt_vault_view_of(vault, &wb);
    if (!v || !r)
        return;
    unsigned p = r->identity ? vlt_txn_access_of(t, vault, res, prior) : 0;
    bv(c, base, PF_ACCESS_GET, p & VLT_PERM_GET);
    bv(c, base, PF_ACCESS_WRAP, p & VLT_PERM_WRAP);
    bv(c, base, PF_ACCESS_UNWRAP, p & VLT_PERM_UNWRAP);
}

/* One side (proposed or prior) of a resource evaluation. */
static void fill_res_side(pol_ctx *c, vlt_txn *t, const vlt_event *ev, vlt_rh rh, bool prior)
{
    int base = prior ? PF__COUNT : 0;
    const vlt_resource *r = vlt_txn_resource_at(t, rh, prior);
    vlt_binding b;
    bool has = vlt_txn_binding(t, r, prior, &b);
    fill_event(c, base, ev);
    fill_resource(c, base, r, &b, has);
    if (has) {
        fill_vault(c, base, t, b.v, prior);
        fill_key(c, base, t, b.k, b.kv, prior, vlt_event_at(ev));
        fill_access(c, base, t, b.v, r, prior);
    }
}

/* One side of the vault's or key's own evaluation. */
static void fill_self_side(pol_ctx *c, vlt_txn *t, const vlt_event *ev, bool prior)
{
    int base = prior ? PF__COUNT : 0;
    fill_event(c, base, ev);
    fill_resource(c, base, NULL, NULL, false);
    char vuri[VLT_URI_MAX + 1], kuri[512];
    if (vlt_etype_subject(ev->type) == VLT_SUBJ_VAULT) {
        vlt_uri_canon(ev->subject, vuri, sizeof vuri, NULL);
        fill_vault(c, base, t, vlt_txn_vault(t, vuri, prior), prior);
        return;
    }
    vlt_keyref kr;
    vlt_key_uri_parse(ev->subject, &kr);
    vlt_key_uri(&kr, false, kuri, sizeof kuri);
    vlt_vault_uri(&kr, vuri, sizeof vuri);
    const vlt_key *k = vlt_txn_key(t, kuri, prior);
    fill_vault(c, base, t, vlt_txn_vault(t, vuri, prior), prior);
    /* A key's own evaluation is about its latest version, but Key Vault's validity
     * notices are about the version they name. */
    bool notice = ev->type == VLT_EV_KEY_EXPIRING || ev->type == VLT_EV_KEY_EXPIRED;
    fill_key(c, base, t, k, vlt_key_version(k, notice ? ev->version : NULL), prior,
             vlt_event_at(ev));
}

/* ---------- decisions ---------- */

typedef struct eval_out {
    bool denied;
} eval_out;

/* A finding of rule r on rec; its strings go to d's arena. */
static void add_finding(aud_decision *d, aud_rec *rec, const pol_rule *r, enum pol_tri res,
                        const pol_ctx *c, const char *resource, const char *exemption, cm_buf *tmp)
{
    aud_finding *f = aud_rec_finding(d, rec);
    f->rule = aud_decision_str(d, pol_rule_id(r));
    f->action = pol_action_name(pol_rule_action(r));
    f->severity = pol_severity_name(pol_rule_severity(r));
    cm_buf_reset(tmp);
    if (pol_rule_message(r, c, tmp) < 0) { /* said so, never cut */
        cm_buf_reset(tmp);
        cm_buf_addf(tmp, "(message of rule %s larger than %zu bytes)", pol_rule_id(r), tmp->max);
    }
    f->message = aud_decision_str(d, tmp->p ? tmp->p : "");
    f->resource = aud_decision_str(d, resource);
    f->unknown = res == POL_UNKNOWN;
    f->exemption = aud_decision_str(d, exemption);
    size_t n;
    const char *const *tags = pol_rule_tags(r, &n);
    if (n) {
        f->tags = cm_arena_alloc(&d->arena, n * sizeof *f->tags);
        for (size_t i = 0; i < n; i++)
            f->tags[i] = aud_decision_str(d, tags[i]);
        f->ntags = n;
    }
    const pol_comp *comp = pol_rule_compliance(r, &n);
    if (n) {
        f->standards = cm_arena_alloc(&d->arena, n * sizeof *f->standards);
        f->controls = cm_arena_alloc(&d->arena, n * sizeof *f->controls);
        for (size_t i = 0; i < n; i++) {
            f->standards[i] = aud_decision_str(d, comp[i].standard);
            f->controls[i] = aud_decision_str(d, comp[i].control);
        }
        f->ncompliance = n;
    }
}

static bool rule_held(const vlt_resource *res)
{
    vlt_res_view vb;
    const vlt_res_view *r = vlt_res_view_of(res, &vb);
    for (size_t i = 0; r && i < r->nreasons; i++)
        if (!strncmp(r->reasons[i], "rule:", 5))
            return true;
    return false;
}

static bool holds_rule(const vlt_resource *res, const char *rule_id)
{
    vlt_res_view vb;
    const vlt_res_view *r = vlt_res_view_of(res, &vb);
    for (size_t i = 0; r && i < r->nreasons; i++)
        if (!strncmp(r->reasons[i], "rule:", 5) && !strcmp(r->reasons[i] + 5, rule_id))
            return true;
    return false;
}

static bool ran_now(const pol_rule *const *rules, size_t n, const pol_rule *rule)
{
    for (size_t k = 0; rule && k < n; k++)
        if (rules[k] == rule)
            return true;
    return false;
}

/* Evaluates every rule for the event in one context; findings go to rec, their strings
 * to d's arena. The id an exemption is matched against is rid (the resource rh), or the
 * vault's or key's own subject. A finding an exemption holds back does not act: no deny,
 * no lockout. */
static void eval_rules(pol_engine *e, vlt_txn *t, const vlt_event *ev, const pol_ctx *c,
                       const char *rid, vlt_rh rh, const char *finding_res, aud_decision *d,
                       aud_rec *rec, eval_out *out)
{
    size_t n;
    const pol_rule *const *rules = pol_ruleset_for(e->rs, ev->type, &n);
    const char *xid = rid ? rid : ev->subject;
    int64_t at = vlt_event_at(ev);
    for (size_t i = 0; i < n; i++) {
        enum pol_tri res = pol_rule_eval(rules[i], c);
        enum pol_action a = pol_rule_action(rules[i]);
        const char *ex = res != POL_FALSE ? pol_ruleset_exempted(e->rs, rules[i], xid, at) : NULL;
        if (a == POL_LOCKOUT && rid)
            vlt_txn_rule_lock_at(t, rh, pol_rule_id(rules[i]), res != POL_FALSE && !ex);
        if (res == POL_FALSE)
            continue;
        add_finding(d, rec, rules[i], res, c, finding_res, ex, &e->msg);
        if (a == POL_DENY && !ex)
            out->denied = true;
    }
    if (!rid)
        return;
    /* A lockout an exemption held back locks once the exemption has expired, at the first
     * event that evaluates the resource, whatever rules that event runs. */
    size_t it = 0;
    const pol_rule *lr;
    while ((lr = pol_ruleset_lapsed(e->rs, rid, at, &it))) {
        if (ran_now(rules, n, lr) ||
            holds_rule(vlt_txn_resource_at(t, rh, false), pol_rule_id(lr)) ||
            pol_ruleset_exempted(e->rs, lr, rid, at))
            continue;
        enum pol_tri res = pol_rule_eval(lr, c);
        if (res == POL_FALSE)
            continue;
        vlt_txn_rule_lock_at(t, rh, pol_rule_id(lr), true);
        add_finding(d, rec, lr, res, c, finding_res, NULL, &e->msg);
    }
    /* Rule-held locks last while their condition holds: re-check those not run above. A
     * lock whose rule is gone, no longer a lockout, or now exempted is released. */
    vlt_res_view vb;
    const vlt_res_view *r = vlt_res_view_of(vlt_txn_resource_at(t, rh, false), &vb);
    if (!r || !r->nreasons)
        return;
    /* Copied: releasing a lock changes the reasons read here. */
    const char **held = cm_arena_alloc(&d->arena, r->nreasons * sizeof *held);
    size_t nh = 0;
    for (size_t i = 0; i < r->nreasons; i++)
        if (!strncmp(r->reasons[i], "rule:", 5))
            held[nh++] = aud_decision_str(d, r->reasons[i] + 5);
    for (size_t i = 0; i < nh; i++) {
        const pol_rule *rule = pol_ruleset_find(e->rs, held[i]);
        bool ran = ran_now(rules, n, rule);
        if (!rule || pol_rule_action(rule) != POL_LOCKOUT ||
            (!ran &&
             (pol_rule_eval(rule, c) == POL_FALSE || pol_ruleset_exempted(e->rs, rule, rid, at))))
            vlt_txn_rule_lock_at(t, rh, held[i], false);
    }
}

/* The resource after the event into rec's state, its strings into d's arena. */
static void snapshot(aud_decision *d, aud_rec *rec, const vlt_resource *res)
{
    vlt_res_view vb;
    const vlt_res_view *r = vlt_res_view_of(res, &vb);
    rec->st.present = true;
    rec->st.exists = r != NULL;
    if (!r)
        return;
    rec->st.cmk = r->cmk;
    rec->st.key_uri = aud_decision_str(d, r->key_uri);
    rec->st.locked = r->locked;
    rec->st.lost = r->lost;
    rec->st.reasons = cm_arena_alloc(&d->arena, r->nreasons * sizeof *rec->st.reasons);
    for (size_t i = 0; i < r->nreasons; i++)
        rec->st.reasons[i] = aud_decision_str(d, r->reasons[i]);
    rec->st.nreasons = r->nreasons;
}

static void copy_actions(aud_decision *d, aud_rec *rec, vlt_txn *t, vlt_rh rh)
{
    size_t n;
    const vlt_action *a = vlt_txn_actions_at(t, rh, &n);
    for (size_t i = 0; i < n; i++) {
        aud_action *x = aud_rec_action(d, rec);
        x->op = a[i].op;
        x->from = aud_decision_str(d, a[i].from);
        x->to = aud_decision_str(d, a[i].to);
        x->error = aud_decision_str(d, a[i].error);
        x->ok = a[i].ok;
    }
}

/* The findings of a scratch record appended to a record of d (their strings stay where
 * they are, in d's arena). */
static void move_findings(aud_decision *d, aud_rec *to, aud_rec *from)
{
    for (size_t i = 0; i < from->nf; i++)
        *aud_rec_finding(d, to) = from->f[i];
    from->nf = 0;
}

static bool safe_text(const char *s)
{
    return s && strlen(s) <= 2048;
}

/* The crypto core failed under this event: nothing of it may be kept or audited. */
static void fatal(aud_decision *d, const char *why)
{
    d->fatal = true;
    d->reason = aud_decision_str(d, why);
}

/* Decides one decoded event into d (cleared but for input and derived_from). */
static void decide(pol_engine *e, const vlt_event *in, aud_decision *d)
{
    char reason[1024];
    vlt_event evc = *in;
    const vlt_event *ev = &evc;
    d->cause = aud_decision_str(d, ev->id);
    d->event_type = aud_decision_str(d, ev->type_name);
    d->time = aud_decision_str(d, ev->time);
    bool res_event = vlt_etype_subject(ev->type) == VLT_SUBJ_RESOURCE;
    /* A resource keeps the spelling of its id first seen (SPEC §2a): any other spelling
     * of the same id names it, and every later stage sees the first one. */
    char subject[1100];
    const char *spelled = res_event ? vlt_state_resource_spelling(e->st, evc.subject) : NULL;
    if (spelled && spelled != evc.subject && strcmp(spelled, evc.subject) != 0) {
        snprintf(subject, sizeof subject, "%s", spelled);
        evc.subject = subject;
    }
    if (vlt_state_seen(e->st, ev->source, ev->id)) {
        d->outcome = AUD_DUPLICATE;
        snprintf(reason, sizeof reason, "event id '%s' was seen before: not applied again", ev->id);
        d->reason = aud_decision_str(d, reason);
        aud_rec *rec = aud_decision_add(d, ev->subject);
        if (res_event)
            snapshot(d, rec, vlt_state_resource(e->st, ev->subject));
        return;
    }
    vlt_state_mark_seen(e->st, ev->source, ev->id);
    vlt_txn *t = vlt_txn_begin(e->st);
    aud_rec *dec = aud_decision_add(d, ev->subject);
    int applied = vlt_txn_apply(t, ev, reason, sizeof reason);
    if (applied < 0) {
        if (applied == CM_EENV) {
            fatal(d, reason);
            vlt_txn_abort(t);
            return;
        }
        d->outcome = AUD_REJECTED;
        d->bad_input = true;
        d->reason = aud_decision_str(d, reason);
        if (res_event)
            snapshot(d, dec, vlt_state_resource(e->st, ev->subject));
        vlt_txn_abort(t);
        return;
    }
    size_t naff, nrules;
    pol_ruleset_for(e->rs, ev->type, &nrules);
    /* Rules run for every bound resource; without rules only those that can change. A
     * resource event's one affected resource is its subject. */
    const char *const *aff;
    const vlt_rh *ah = vlt_txn_affected_h(t, nrules > 0, &aff, &naff);
    eval_out out = {0};
    pol_ctx c;
    /* Per-resource findings wait here until we know whether anything denied. */
    aud_rec *per = cm_arena_calloc(&d->arena, naff + 1, sizeof *per);
    if (!res_event && nrules) {
        memset(&c, 0, sizeof c);
        fill_self_side(&c, t, ev, false);
        fill_self_side(&c, t, ev, true);
        eval_rules(e, t, ev, &c, NULL, 0, NULL, d, dec, &out);
    }
    for (size_t i = 0; i < naff; i++) {
        if (!nrules && !rule_held(vlt_txn_resource_at(t, ah[i], false)) &&
            !pol_ruleset_exemptions(e->rs))
            continue; /* no rule to run, no rule-held lock to re-check, no exemption */
        memset(&c, 0, sizeof c);
        fill_res_side(&c, t, ev, ah[i], false);
        fill_res_side(&c, t, ev, ah[i], true);
        eval_rules(e, t, ev, &c, aff[i], ah[i], res_event ? NULL : aff[i], d,
                   res_event ? dec : &per[i], &out);
    }
    if (out.denied) {
        /* Key material the event left to be made: a library failure is fatal here too. */
        if (vlt_txn_ready(t, reason, sizeof reason) == CM_EENV) {
            fatal(d, reason);
            goto out_abort;
        }
        d->outcome = AUD_DENIED;
        for (size_t i = 0; i < naff; i++)
            move_findings(d, dec, &per[i]);
        if (res_event)
            snapshot(d, dec, vlt_state_resource(e->st, ev->subject));
        goto out_abort;
    }
    int settled = vlt_txn_settle(t, reason, sizeof reason);
    if (settled == CM_EENV) {
        fatal(d, reason);
        goto out_abort;
    }
    if (settled < 0) {
        d->outcome = AUD_FAILED;
        d->reason = aud_decision_str(d, reason);
        for (size_t i = 0; i < naff; i++)
            move_findings(d, dec, &per[i]);
        if (res_event) {
            copy_actions(d, dec, t, ah[0]);
            snapshot(d, dec, vlt_txn_resource_at(t, ah[0], true));
        } else {
            for (size_t i = 0; i < naff; i++)
                copy_actions(d, dec, t, ah[i]);
        }
        goto out_abort;
    }
    d->outcome = AUD_ALLOWED;
    if (res_event) {
        copy_actions(d, dec, t, ah[0]);
        snapshot(d, dec, vlt_txn_resource_at(t, ah[0], false));
    } else {
        for (size_t i = 0; i < naff; i++) {
            if (!per[i].nf && !vlt_txn_changed_at(t, ah[i]))
                continue;
            aud_rec *rec = aud_decision_add(d, aff[i]);
            move_findings(d, rec, &per[i]);
            copy_actions(d, rec, t, ah[i]);
            snapshot(d, rec, vlt_txn_resource_at(t, ah[i], false));
        }
    }
    vlt_txn_commit(t);
    return;
out_abort:
    vlt_txn_abort(t);
}

static void reject_into(aud_decision *d, const char *reason, const char *id, const char *type,
                        const char *time, const char *subject)
{
    d->outcome = AUD_REJECTED;
    d->bad_input = true;
    d->reason = aud_decision_str(d, reason);
    d->cause = safe_text(id) ? aud_decision_str(d, id) : NULL;
    d->event_type = safe_text(type) ? aud_decision_str(d, type) : NULL;
    if (time && cm_rfc3339_valid(time, strlen(time)))
        d->time = aud_decision_str(d, time);
    aud_decision_add(d, safe_text(subject) && *subject ? subject : NULL);
}

/* The next decision of the Azure message in hand: a derived event decided like any
 * other, or one record for an Azure event that derives nothing, was seen before, or
 * cannot be translated. False when the message has nothing more. */
static bool next_azure(pol_engine *e, aud_decision *d)
{
    az_item it;
    char reason[1024];
    switch (az_next(e->az, e->st, &it)) {
    case AZ_DONE:
        return false;
    case AZ_EVENT:
        d->derived_type = aud_decision_str(d, it.type);
        d->derived_id = aud_decision_str(d, it.id);
        decide(e, it.ev, d);
        return true;
    case AZ_REJECTED:
        if (it.derived_id) { /* a derived event this build cannot decide */
            d->derived_type = aud_decision_str(d, it.type);
            d->derived_id = aud_decision_str(d, it.id);
            reject_into(d, it.reason, it.derived_id, it.derived_type, it.time, it.subject);
            return true;
        }
        reject_into(d, it.reason, it.id, it.type, it.time, it.subject);
        return true;
    case AZ_DUPLICATE:
    case AZ_UNCHANGED:
        break;
    }
    d->cause = aud_decision_str(d, it.id);
    d->event_type = aud_decision_str(d, it.type);
    d->time = aud_decision_str(d, it.time);
    d->outcome = AUD_ALLOWED;
    if (it.step == AZ_DUPLICATE) {
        d->outcome = AUD_DUPLICATE;
        snprintf(reason, sizeof reason, "event id '%s' was seen before: not applied again", it.id);
        d->reason = aud_decision_str(d, reason);
    }
    aud_rec *rec = aud_decision_add(d, it.subject);
    const vlt_resource *r = it.subject ? vlt_state_resource(e->st, it.subject) : NULL;
    if (r)
        snapshot(d, rec, r);
    return true;
}

void pol_engine_process(pol_engine *e, const char *msg, size_t n, const char *input,
                        aud_decision *d)
{
    vlt_event ev;
    char reason[1024];
    int decoded = dec_decode(e->dec, msg, n, &ev, reason, sizeof reason);
    pol_engine_process_decoded(e, msg, n, decoded, &ev, reason, input, d);
}

void pol_engine_process_decoded(pol_engine *e, const char *msg, size_t n, int decoded,
                                const vlt_event *ev, const char *reason, const char *input,
                                aud_decision *d)
{
    aud_decision_reset(d);
    d->input = aud_decision_str(d, input);
    az_reset(e->az);
    if (decoded < 0) {
        /* Not a cmkguard event: perhaps one Azure writes (SPEC §2b). Only a refused
         * message pays for the look, so cmkguard's own events go as fast as before. */
        char why[1024];
        snprintf(why, sizeof why, "%s", reason);
        bool azure = n <= e->max_message && az_recognise(msg, n, ev->type_name);
        if (azure && az_load(e->az, msg, n, why, sizeof why) == 0 && next_azure(e, d))
            return;
        reject_into(d, azure ? why : reason, ev->id, ev->type_name, ev->time, ev->subject);
        return;
    }
    decide(e, ev, d);
}

bool pol_engine_more(pol_engine *e, aud_decision *d)
{
    if (!az_pending(e->az))
        return false;
    /* The input name outlives the reset: it names every decision of the message. */
    bool has_input = d->input != NULL;
    cm_buf_reset(&e->input);
    if (has_input)
        cm_buf_adds(&e->input, d->input);
    aud_decision_reset(d);
    if (has_input)
        d->input = aud_decision_str(d, cm_buf_ok(&e->input) && e->input.p ? e->input.p : "");
    return next_azure(e, d);
}
