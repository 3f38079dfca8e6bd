/* The physics of envelope encryption (SPEC §3): after an event's change, every affected
 * resource is settled: DEKs created and wrapped, re-wrapped under the key it should be
 * under, shredded with a destroyed key, locked while its key cannot be used, unlocked
 * when it can again. Lock reasons are the physics' own or a rule's ("rule:ID"). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fault.h"
#include "vault/internal.h"

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool has_reason(const vlt_resource *r, const char *why)
{
    for (size_t i = 0; i < r->nreasons; i++)
        if (!strcmp(r->reasons[i], why))
            return true;
    return false;
}

static void add_reason(vlt_state *s, vlt_resource *r, const char *why)
{
    if (has_reason(r, why))
        return;
    r->reasons = cm_xrealloc(r->reasons, (r->nreasons + 1) * sizeof *r->reasons);
    r->reasons[r->nreasons++] = vlt_str(s, why);
    qsort(r->reasons, r->nreasons, sizeof *r->reasons, cmp_str);
}

static void del_reasons(vlt_resource *r, bool rules)
{
    size_t j = 0;
    for (size_t i = 0; i < r->nreasons; i++) {
        bool is_rule = !strncmp(r->reasons[i], "rule:", 5);
        if (is_rule != rules)
            r->reasons[j++] = r->reasons[i];
    }
    r->nreasons = j;
}

void vlt_txn_rule_lock(vlt_txn *t, const char *rid, const char *rule_id, bool hold)
{
    vlt_txn_rule_lock_at(t, rid ? cm_intern_find(t->s->rids, rid) : 0, rule_id, hold);
}

void vlt_txn_rule_lock_at(vlt_txn *t, vlt_rh h, const char *rule_id, bool hold)
{
    char why[256];
    snprintf(why, sizeof why, "rule:%s", rule_id);
    const vlt_resource *cur = vlt_txn_resource_at(t, h, false);
    if (!cur || has_reason(cur, why) == hold)
        return;
    vlt_resource *r = vlt_txn_wr_res_at(t, h);
    if (hold) {
        add_reason(t->s, r, why);
    } else {
        for (size_t i = 0; i < r->nreasons; i++)
            if (!strcmp(r->reasons[i], why)) {
                memmove(&r->reasons[i], &r->reasons[i + 1],
                        (r->nreasons - i - 1) * sizeof *r->reasons);
                r->nreasons--;
                break;
            }
    }
}

/* Why a CMK resource cannot use the key version its DEK is wrapped under. */
static void physics_reasons(vlt_txn *t, vlt_resource *r)
{
    if (r->lost) {
        add_reason(t->s, r, "key-destroyed");
        return;
    }
    if (!r->cmk)
        return;
    vlt_keyref kr;
    char vuri[256], kuri[512];
    const char *ref = r->wrap_ref && strcmp(r->wrap_ref, VLT_MMK) ? r->wrap_ref : r->key_uri;
    if (!ref || !vlt_key_uri_parse(ref, &kr)) {
        add_reason(t->s, r, "key-missing");
        return;
    }
    vlt_vault_uri(&kr, vuri, sizeof vuri);
    vlt_key_uri(&kr, false, kuri, sizeof kuri);
    const vlt_vault *v = vlt_txn_vault(t, vuri, false);
    const vlt_key *k = vlt_txn_key(t, kuri, false);
    const vlt_keyver *kv = vlt_key_version(k, kr.version);
    if (!v)
        add_reason(t->s, r, "vault-missing");
    if (!kv)
        add_reason(t->s, r, "key-missing");
    else if (k->deleted)
        add_reason(t->s, r, "key-deleted");
    else if (!kv->enabled)
        add_reason(t->s, r, "key-disabled");
    if (!r->identity) {
        add_reason(t->s, r, "identity-missing");
        return;
    }
    if (v && !cm_streq(r->identity_tenant, v->tenant))
        add_reason(t->s, r, "identity-tenant-mismatch");
    unsigned p = v ? vlt_txn_access_of(t, v, r, false) : 0;
    if (v && (p & VLT_PERM_ALL) != VLT_PERM_ALL) {
        static const char *const names[] = {"get", "wrapKey", "unwrapKey"};
        const char *missing[3];
        size_t nm = 0;
        for (int i = 0; i < 3; i++)
            if (!(p & (1u << i)))
                missing[nm++] = names[i];
        char list[32], why[64];
        cm_join(list, sizeof list, ",", missing, nm); /* "get,wrapKey,unwrapKey" fits */
        snprintf(why, sizeof why, "access-missing:%s", list);
        add_reason(t->s, r, why);
    }
}

/* Physics-only usability of a CMK reference for this resource (ignores rule locks). */
static bool usable_for(vlt_txn *t, const vlt_resource *r, const char *ref, char *why, size_t wn)
{
    if (!strcmp(ref, VLT_MMK))
        return true;
    vlt_resource probe = *r;
    probe.reasons = NULL;
    probe.nreasons = 0;
    probe.cmk = true;
    probe.lost = r->lost;
    const char *saved_ref = probe.wrap_ref;
    probe.wrap_ref = ref;
    physics_reasons(t, &probe);
    probe.wrap_ref = saved_ref;
    bool ok = probe.nreasons == 0;
    if (!ok)
        cm_join(why, wn, ", ", (const char *const *)probe.reasons, probe.nreasons);
    free(probe.reasons);
    return ok;
}

/* ---------- settle ---------- */

/* Records a failed action and says why in reason; returns code (CM_EINPUT: the operation
 * cannot be done in this state; CM_EENV: the library failed). rid, like every resource id
 * settling handles (a resource's own, or the transaction's affected ids), is the copy in
 * the state's pool: its handle is where it is. */
static int fail_op(vlt_txn *t, int code, const char *rid, const char *op, const char *from,
                   const char *to, const char *error, char *reason, size_t rn)
{
    vlt_txn_act(t, cm_intern_handle(rid), op, from, to, error);
    snprintf(reason, rn, "%s of %s failed: %s", op, rid, error);
    return code;
}

/* Wraps a DEK under the MMK into w. */
static int wrap_kw(vlt_txn *t, const cry_secret *dek, vlt_kwrapped *w, char *err, size_t errn)
{
    cm_buf b;
    cm_buf_init(&b, 0);
    int rc = vlt_txn_wrap(t, VLT_MMK, dek, &b, err, errn);
    if (rc == 0 && (rc = vlt_kw_set(w, b.p, b.len)) < 0)
        snprintf(err, errn, "a key wrapped under the MMK has %zu bytes", b.len);
    cm_buf_free(&b);
    return rc;
}

static int create_deks(vlt_txn *t, vlt_resource *r, char *reason, size_t rn)
{
    char err[256];
    cry_secret *dek = cry_secret_random(CRY_DEK_LEN);
    cry_secret *svc = cry_secret_random(CRY_DEK_LEN);
    cry_secret *blk = cry_secret_random(CRY_DEK_LEN);
    int rc = CM_EENV;
    if (!dek || !svc || !blk) {
        snprintf(err, sizeof err, "random generator failed");
        goto out_wipe;
    }
    cm_buf w;
    cm_buf_init(&w, 0);
    rc = vlt_txn_wrap(t, VLT_MMK, dek, &w, err, sizeof err);
    if (rc == 0)
        vlt_wdek_set(&r->wdek, w.p, w.len);
    cm_buf_free(&w);
    if (rc < 0 || (rc = wrap_kw(t, blk, &r->wblk, err, sizeof err)) < 0)
        goto out_wipe;
    if (!strcmp(r->kind, "Face") && (rc = wrap_kw(t, svc, &r->wsvc, err, sizeof err)) < 0)
        goto out_wipe;
    vlt_set_str(t->s, &r->wrap_ref, VLT_MMK);
    vlt_res_set_dek(r, dek);
    dek = NULL;
    rc = 0;
out_wipe:
    cry_secret_free(dek);
    cry_secret_free(svc);
    cry_secret_free(blk);
    if (rc < 0)
        return fail_op(t, rc, r->id, "wrap", NULL, VLT_MMK, err, reason, rn);
    vlt_txn_act(t, cm_intern_handle(r->id), "wrap", NULL, VLT_MMK, NULL);
    return 0;
}

/* The reference a resource's DEK should be wrapped under now. */
static void target_ref(vlt_txn *t, const vlt_resource *r, char *out, size_t n)
{
    if (!r->cmk || !r->key_uri) {
        snprintf(out, n, "%s", VLT_MMK);
        return;
    }
    if (!r->versionless) {
        snprintf(out, n, "%s", r->key_uri);
        return;
    }
    vlt_keyref kr;
    char kuri[512];
    vlt_key_uri_parse(r->key_uri, &kr);
    vlt_key_uri(&kr, false, kuri, sizeof kuri);
    const vlt_keyver *kv = vlt_key_version(vlt_txn_key(t, kuri, false), NULL);
    size_t kl = strlen(kuri);
    if (!kv && r->wrap_ref && !strncmp(r->wrap_ref, kuri, kl) && r->wrap_ref[kl] == '/') {
        /* A key the state does not hold (one that arrived with a resource from another
         * tenant's partition, SPEC §7a): its latest version is not known here, so the DEK
         * stays under the version of it that wraps it. */
        snprintf(out, n, "%s", r->wrap_ref);
        return;
    }
    if (kv)
        snprintf(kr.version, sizeof kr.version, "%s", kv->version);
    vlt_key_uri(&kr, true, out, n);
}

/* Whether the version a reference names may wrap at the event's time (SPEC §3: before its
 * nbf or from its exp on it wraps nothing). The VLT_MMK and a missing version (reported by
 * usable_for) pass here. */
static bool wrap_valid(vlt_txn *t, const char *ref, char *why, size_t wn)
{
    vlt_keyref kr;
    char kuri[512];
    if (!strcmp(ref, VLT_MMK) || !vlt_key_uri_parse(ref, &kr) || !kr.version[0])
        return true;
    vlt_key_uri(&kr, false, kuri, sizeof kuri);
    const vlt_keyver *kv = vlt_key_version(vlt_txn_key(t, kuri, false), kr.version);
    return !kv || vlt_keyver_valid_at(kv, vlt_event_at(t->ev), why, wn);
}

/* Whether the event asks for a wrap under this resource's target: a binding of the
 * resource itself, or a rotation (SPEC §3). Other events only let a resource catch up. */
static bool wrap_requested(const vlt_txn *t, const char *rid)
{
    switch (t->ev->type) {
    case VLT_EV_RES_CMK_ENABLED:
    case VLT_EV_RES_KEY_UPDATED:
        return !strcmp(t->ev->subject, rid);
    case VLT_EV_KEY_ROTATED:
        return true;
    default:
        return false;
    }
}

/* ahead_to and ahead: the DEK already wrapped under ahead_to (taken when it is the target),
 * or NULL. */
static int rewrap(vlt_txn *t, vlt_resource *r, const char *to, bool tolerant, const char *ahead_to,
                  cm_buf *ahead, char *reason, size_t rn)
{
    char err[1400], why[256];
    const char *from = r->wrap_ref;
    if (r->lost)
        return fail_op(t, CM_EINPUT, r->id, "rewrap", from, to,
                       "the data key was destroyed with its key", reason, rn);
    if (!usable_for(t, r, from, why, sizeof why)) {
        if (tolerant)
            return 0; /* a locked resource stays on the version it has */
        snprintf(err, sizeof err, "cannot unwrap under %s: %s", from, why);
        return fail_op(t, CM_EINPUT, r->id, "rewrap", from, to, err, reason, rn);
    }
    if (!usable_for(t, r, to, why, sizeof why)) {
        snprintf(err, sizeof err, "cannot wrap under %s: %s", to, why);
        return fail_op(t, CM_EINPUT, r->id, "rewrap", from, to, err, reason, rn);
    }
    if (!wrap_valid(t, to, why, sizeof why)) {
        if (!wrap_requested(t, r->id))
            return 0; /* not asked to move: it stays under the version it has */
        snprintf(err, sizeof err, "cannot wrap under %s: %s", to, why);
        return fail_op(t, CM_EINPUT, r->id, "rewrap", from, to, err, reason, rn);
    }
    /* A usable resource holds its DEK, as the service does: re-wrapping it needs only
     * the new key. Without it (after a restart), the old key unwraps it first. */
    cry_secret *dek = vlt_res_dek(r);
    cm_buf w = vlt_wdek_view(&r->wdek);
    int rc = dek ? 0 : vlt_txn_unwrap(t, from, &w, &dek, err, sizeof err);
    if (rc < 0)
        return fail_op(t, rc, r->id, "rewrap", from, to, err, reason, rn);
    cm_buf nw;
    cm_buf_init(&nw, 0);
    if (ahead_to && !strcmp(ahead_to, to)) {
        nw = *ahead;
        cm_buf_init(ahead, 0);
    } else if ((rc = vlt_txn_wrap(t, to, dek, &nw, err, sizeof err)) < 0) {
        cry_secret_free(dek);
        cm_buf_free(&nw);
        return fail_op(t, rc, r->id, "rewrap", from, to, err, reason, rn);
    }
    vlt_wdek_set(&r->wdek, nw.p, nw.len);
    cm_buf_free(&nw);
    vlt_txn_act(t, cm_intern_handle(r->id), "rewrap", from, to, NULL);
    vlt_set_str(t->s, &r->wrap_ref, to);
    vlt_res_set_dek(r, dek);
    return 0;
}

static bool key_destroyed(vlt_txn *t, const vlt_resource *r)
{
    if (!r->cmk || r->lost || !r->wrap_ref || !strcmp(r->wrap_ref, VLT_MMK))
        return false;
    vlt_keyref kr;
    char kuri[512];
    vlt_key_uri_parse(r->wrap_ref, &kr);
    vlt_key_uri(&kr, false, kuri, sizeof kuri);
    return !vlt_txn_key(t, kuri, false) && vlt_txn_key(t, kuri, true);
}

/* Whether settling would change a resource the event itself did not touch. */
static bool needs_settle(vlt_txn *t, const vlt_resource *r)
{
    if (key_destroyed(t, r))
        return true;
    char to[640];
    target_ref(t, r, to, sizeof to);
    if (!r->lost && r->wrap_ref && strcmp(to, r->wrap_ref) != 0)
        return true;
    vlt_resource probe = *r;
    probe.reasons = NULL;
    probe.nreasons = 0;
    physics_reasons(t, &probe);
    bool same = true;
    size_t j = 0;
    for (size_t i = 0; same && i < r->nreasons; i++) {
        if (!strncmp(r->reasons[i], "rule:", 5))
            continue;
        same = j < probe.nreasons && !strcmp(r->reasons[i], probe.reasons[j]);
        j++;
    }
    same = same && j == probe.nreasons;
    free(probe.reasons);
    return !same;
}

static int settle_one(vlt_txn *t, vlt_rh h, const char *rid, const char *ahead_to, cm_buf *ahead,
                      char *reason, size_t rn)
{
    const vlt_resource *prior = vlt_txn_resource_at(t, h, true);
    const vlt_resource *cur = vlt_txn_resource_at(t, h, false);
    if (!cur) {
        if (prior) { /* resource.deleted: its keys and data go with it */
            vlt_resource *gone = (vlt_resource *)prior;
            vlt_txn_act(t, h, "shred", gone->lost ? NULL : gone->wrap_ref, NULL, NULL);
        }
        return 0;
    }
    if (!vlt_txn_res_written(t, h) && !needs_settle(t, cur))
        return 0; /* nothing about it changes: no copy */
    vlt_resource *r = vlt_txn_wr_res_at(t, h);
    int rc;
    /* Arrived from another tenant's partition (SPEC §7a): its data keys come wrapped as they
     * left, and no key operation is made on it here (its key may be one this partition
     * does not hold); only its usability is settled again. */
    bool arrived = !prior && t->ev && t->ev->type == VLT_EV_RES_ARRIVED;
    bool came_locked = r->locked;
    if (!prior && !arrived && (rc = create_deks(t, r, reason, rn)) < 0)
        return rc;
    /* A destroyed key takes the data key with it (F15). */
    if (key_destroyed(t, r)) {
        vlt_txn_act(t, h, "shred", r->wrap_ref, NULL, NULL);
        r->lost = true;
        vlt_wdek_clear(&r->wdek);
        vlt_res_set_dek(r, NULL);
    }
    char to[640];
    target_ref(t, r, to, sizeof to);
    if (arrived) {
        /* as it came */
    } else if (!r->lost && r->wrap_ref && strcmp(to, r->wrap_ref) != 0) {
        bool tolerant = t->ev->type == VLT_EV_KEY_ROTATED;
        if ((rc = rewrap(t, r, to, tolerant, ahead_to, ahead, reason, rn)) < 0)
            return rc;
    } else if (r->lost && prior &&
               (r->cmk != prior->cmk || !cm_streq(r->key_uri, prior->key_uri))) {
        return fail_op(t, CM_EINPUT, rid, "rewrap", r->wrap_ref, to,
                       "the data key was destroyed with its key", reason, rn);
    } else if (!r->lost && wrap_requested(t, rid) && t->ev->type != VLT_EV_KEY_ROTATED) {
        /* A binding to the version the data key is already under still has to wrap. */
        char why[256], err[1400];
        if (!wrap_valid(t, to, why, sizeof why)) {
            snprintf(err, sizeof err, "cannot wrap under %s: %s", to, why);
            return fail_op(t, CM_EINPUT, rid, "rewrap", r->wrap_ref, to, err, reason, rn);
        }
    }
    del_reasons(r, false);
    physics_reasons(t, r);
    bool was_locked = prior ? prior->locked : arrived && came_locked;
    r->locked = r->nreasons > 0;
    if (r->locked && !was_locked) {
        vlt_res_set_dek(r, NULL); /* the plaintext DEK goes: nothing can read the data */
        vlt_txn_act(t, h, "lockout", r->wrap_ref, NULL, NULL);
    } else if (!r->locked && was_locked) {
        char err[512];
        cry_secret *dek;
        cm_buf w = vlt_wdek_view(&r->wdek);
        if ((rc = vlt_txn_unwrap(t, r->wrap_ref, &w, &dek, err, sizeof err)) < 0)
            return fail_op(t, rc, rid, "unlock", NULL, r->wrap_ref, err, reason, rn);
        vlt_res_set_dek(r, dek);
        vlt_txn_act(t, h, "unlock", NULL, r->wrap_ref, NULL);
    }
    if (r->locked && r->dek_held)
        vlt_res_set_dek(r, NULL);
    return 0;
}

/* A rotation re-wraps every resource on the key. Those that do not hold their DEK (after
 * a restart) need the old version to unwrap it: an RSA private operation each. Workers
 * unwrap them while the new version's key is made here, then wrap each under it at once,
 * while the resources are settled here in order as their results come. A DEK that does
 * not come out, one unwrapped before the new key was there, or a wrap that fails, is left
 * to the ordinary path, which does it and says why; so this only ever saves time, and
 * decides nothing. (Not under fault injection, which counts calls on one thread.) */
struct ahead {
    vlt_rewrap *job;
    size_t *slot;      /* per affected id: its item in job, or SIZE_MAX */
    char to[640];      /* the reference the items are wrapped under */
    const vlt_key *tk; /* and its key version, given to the job once it has material */
    const vlt_keyver *tkv;
};

static void ahead_start(vlt_txn *t, const vlt_rh *hs, size_t n, struct ahead *a)
{
    a->job = NULL;
    a->slot = NULL;
    a->tk = NULL;
    a->tkv = NULL;
    size_t threads = n < 64 || cm_fault_armed ? 1 : vlt_bulk_threads();
    if (threads < 2)
        return;
    const char *from = NULL;
    size_t *slot = cm_xcalloc(n, sizeof *slot);
    const cm_buf **wrapped = cm_xcalloc(n, sizeof *wrapped);
    cm_buf *views = cm_xcalloc(n, sizeof *views); /* over the wrapped DEKs, for the start */
    bool *wrap = cm_xcalloc(n, sizeof *wrap);
    size_t m = 0;
    char to[640], why[256];
    for (size_t i = 0; i < n; i++) {
        slot[i] = SIZE_MAX;
        const vlt_resource *r = vlt_txn_resource_at(t, hs[i], false);
        if (!r || r->lost || r->dek_held || !r->wrap_ref || !strcmp(r->wrap_ref, VLT_MMK) ||
            !r->wdek.len)
            continue;
        if (from && strcmp(from, r->wrap_ref) != 0)
            continue; /* one key version at a time: a rotation's resources share it */
        target_ref(t, r, to, sizeof to);
        if (!strcmp(to, r->wrap_ref) || !usable_for(t, r, r->wrap_ref, why, sizeof why))
            continue;
        if (!from) {
            from = r->wrap_ref;
            snprintf(a->to, sizeof a->to, "%s", to);
        }
        /* Wrapped ahead only where settling will wrap: the same target, usable and valid. */
        wrap[m] = !strcmp(to, a->to) && strcmp(to, VLT_MMK) != 0 &&
                  usable_for(t, r, to, why, sizeof why) && wrap_valid(t, to, why, sizeof why);
        slot[i] = m;
        views[m] = vlt_wdek_view(&r->wdek);
        wrapped[m] = &views[m];
        m++;
    }
    const vlt_key *fk = NULL, *tk = NULL;
    const vlt_keyver *fkv = NULL, *tkv = NULL;
    vlt_keyref kr;
    char kuri[512];
    if (m >= 64 && vlt_key_uri_parse(from, &kr)) {
        vlt_key_uri(&kr, false, kuri, sizeof kuri);
        fk = vlt_txn_key(t, kuri, false);
        fkv = vlt_key_version(fk, kr.version);
    }
    if (fkv && strcmp(a->to, VLT_MMK) != 0 && vlt_key_uri_parse(a->to, &kr)) {
        vlt_key_uri(&kr, false, kuri, sizeof kuri);
        tk = vlt_txn_key(t, kuri, false);
        tkv = vlt_key_version(tk, kr.version);
    }
    if (fkv)
        a->job = vlt_rewrap_start(t->s, fk, fkv, wrapped, wrap, m, threads);
    if (a->job) {
        a->slot = slot;
        a->tk = tkv ? tk : NULL;
        a->tkv = tkv;
    } else {
        free(slot);
    }
    free(wrapped);
    free(views);
    free(wrap);
}

int vlt_txn_settle(vlt_txn *t, char *reason, size_t rn)
{
    size_t n;
    const char *const *ids;
    const vlt_rh *hs = vlt_txn_affected_h(t, false, &ids, &n);
    struct ahead a;
    ahead_start(t, hs, n, &a);
    /* Material the event left to be made (a rotation's new version), made while the
     * workers unwrap; then they wrap under it too. */
    int rc = vlt_txn_ready(t, reason, rn);
    if (rc == 0 && a.job)
        vlt_rewrap_to(a.job, t->s, a.tk, a.tkv);
    for (size_t i = 0; i < n && rc == 0; i++) {
        cm_buf w;
        cm_buf_init(&w, 0);
        if (a.job && a.slot[i] != SIZE_MAX) {
            cry_secret *dek;
            vlt_rewrap_take(a.job, a.slot[i], &dek, &w);
            if (dek) { /* the resource holds its DEK again, as before the restart */
                vlt_res_set_dek(vlt_txn_wr_res_at(t, hs[i]), dek);
            }
        }
        rc = settle_one(t, hs[i], ids[i], w.len ? a.to : NULL, &w, reason, rn);
        cm_buf_free(&w);
    }
    vlt_rewrap_free(a.job);
    free(a.slot);
    return rc;
}
