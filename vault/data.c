/* Data at rest (SPEC §3, F13/F14): a resource's data sealed under its DEKs, and read
 * back only while the resource is neither locked nor lost. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vault/internal.h"

static const char *class_name(enum vlt_class c)
{
    return c == VLT_CLASS_BLOCKLIST ? "blocklist-name" : "data";
}

static const char *lock_text(const vlt_resource *r, char *buf, size_t n)
{
    cm_join(buf, n, ", ", (const char *const *)r->reasons, r->nreasons);
    return buf;
}

/* The DEKs that seal a resource's data of one class, outermost first: 0, CM_EREFUSED
 * while the resource is locked or lost, CM_EENV when a key does not unwrap. */
static int deks_for(vlt_state *s, const vlt_resource *r, enum vlt_class c, cry_secret **outer,
                    cry_secret **inner, cm_err *err)
{
    char e[512], why[512];
    vlt_key_lookup look = vlt_key_lookup_committed(s);
    *outer = *inner = NULL;
    int rc;
    if (c == VLT_CLASS_BLOCKLIST) {
        /* Blocklist names are always under the MMK, CMK or not (F14). */
        cm_buf w = vlt_kw_view(&r->wblk);
        rc = vlt_unwrap(s, &look, VLT_MMK, &w, outer, e, sizeof e);
    } else {
        if (r->lost || r->locked) {
            cm_err_set(err, r->id, 0, 0, "%s: data access refused (%s)",
                       r->lost ? "lost" : "locked", lock_text(r, why, sizeof why));
            err->code = CM_EREFUSED;
            return CM_EREFUSED;
        }
        cm_buf wd = vlt_wdek_view(&r->wdek);
        rc = vlt_unwrap(s, &look, r->wrap_ref, &wd, outer, e, sizeof e);
        cm_buf w = vlt_kw_view(&r->wsvc);
        if (rc == 0 && r->wsvc.len &&
            (rc = vlt_unwrap(s, &look, VLT_MMK, &w, inner, e, sizeof e)) < 0) {
            cry_secret_free(*outer);
            *outer = NULL;
        }
    }
    if (rc < 0) /* the state's own key does not open what it wrapped */
        return cm_err_env(err, r->id, "cannot unwrap the data key: %s", e);
    return 0;
}

static const vlt_resource *need_res(vlt_state *s, const char *rid, cm_err *err)
{
    const char *sp = vlt_state_resource_spelling(s, rid);
    const vlt_resource *r = sp ? cm_itab_get(&s->resources, sp) : NULL;
    if (!r) {
        cm_err_set(err, rid, 0, 0, "no such resource");
        err->code = CM_EREFUSED;
    }
    return r;
}

/* The resource whose data is asked for, in a state with a store: 0 with *r, CM_EINPUT
 * without a store, CM_EREFUSED when there is no such resource. */
static int data_resource(vlt_state *s, const char *rid, const vlt_resource **r, cm_err *err)
{
    *r = NULL;
    if (!s->persistent) {
        cm_err_set(err, rid, 0, 0, "data needs a state store (--state)");
        return CM_EINPUT;
    }
    return (*r = need_res(s, rid, err)) ? 0 : CM_EREFUSED;
}

int vlt_data_put(vlt_state *s, const char *rid, enum vlt_class c, const void *d, size_t n,
                 cm_err *err)
{
    const vlt_resource *r;
    int rc = data_resource(s, rid, &r, err);
    if (rc < 0)
        return rc;
    cry_secret *outer, *inner;
    if ((rc = deks_for(s, r, c, &outer, &inner, err)) < 0)
        return rc;
    rid = r->id; /* the resource's own spelling of its id */
    char aad[1200];
    snprintf(aad, sizeof aad, "%s|%s", rid, class_name(c));
    cm_buf mid, out;
    cm_buf_init(&mid, 0);
    cm_buf_init(&out, 0);
    if (inner) { /* Face: the service layer inside the customer layer (F13) */
        rc = cry_gcm_seal(inner->b, aad, strlen(aad), d, n, &mid);
        if (rc == 0)
            rc = cry_gcm_seal(outer->b, aad, strlen(aad), mid.p, mid.len, &out);
    } else {
        rc = cry_gcm_seal(outer->b, aad, strlen(aad), d, n, &out);
    }
    cry_secret_free(outer);
    cry_secret_free(inner);
    if (rc < 0)
        rc = cm_err_env(err, rid, "sealing failed");
    else {
        sto_val row[3] = {sto_text(rid), sto_text(class_name(c)), sto_blob(out.p, out.len)};
        if (sto_put(s->db, &vlt_tab_data, row, err) < 0)
            rc = err->code = CM_EENV;
    }
    cm_buf_free(&mid);
    cm_buf_free(&out);
    return rc;
}

/* The sealed bytes of a checked row of data into the buffer arg. */
static int sealed_of(void *arg, const sto_row *r, cm_err *err)
{
    size_t n;
    const void *p = sto_row_blob(r, 2, &n);
    if (cm_buf_add(arg, p, n) < 0) {
        cm_err_set(err, sto_row_text(r, 0), 0, 0, "stored data too large to read");
        return -1;
    }
    return 0;
}

int vlt_data_get(vlt_state *s, const char *rid, enum vlt_class c, bool sealed, cm_buf *out,
                 cm_err *err)
{
    const vlt_resource *r;
    int rc = data_resource(s, rid, &r, err);
    if (rc < 0)
        return rc;
    rid = r->id; /* the resource's own spelling of its id */
    cm_buf blob;
    cm_buf_init(&blob, 0);
    sto_val key[2] = {sto_text(rid), sto_text(class_name(c))};
    int found = sto_read(s->db, &vlt_tab_data, key, 2, NULL, sealed_of, &blob, err);
    if (found <= 0) {
        cm_buf_free(&blob);
        if (found < 0)
            return err->code = CM_EENV;
        cm_err_set(err, rid, 0, 0, "no %s stored", class_name(c));
        return err->code = CM_EREFUSED;
    }
    if (sealed) {
        rc = cm_buf_add(out, blob.p, blob.len);
        cm_buf_free(&blob);
        if (rc < 0)
            rc = cm_err_env(err, rid, "stored %s larger than %zu bytes", class_name(c), out->max);
        return rc;
    }
    cry_secret *outer, *inner;
    if ((rc = deks_for(s, r, c, &outer, &inner, err)) < 0) {
        cm_buf_free(&blob);
        return rc;
    }
    char aad[1200];
    snprintf(aad, sizeof aad, "%s|%s", rid, class_name(c));
    cm_buf mid; /* what the outer layer opens to */
    cm_buf_init_secret(&mid, 0);
    if (inner) {
        rc = cry_gcm_open(outer->b, aad, strlen(aad), blob.p, blob.len, &mid);
        if (rc == 0)
            rc = cry_gcm_open(inner->b, aad, strlen(aad), mid.p, mid.len, out);
    } else {
        rc = cry_gcm_open(outer->b, aad, strlen(aad), blob.p, blob.len, out);
    }
    cry_secret_free(outer);
    cry_secret_free(inner);
    cm_buf_free(&mid);
    cm_buf_free(&blob);
    if (rc < 0)
        rc = cm_err_env(err, rid, "stored data does not open (tampered or wrong key)");
    return rc;
}
