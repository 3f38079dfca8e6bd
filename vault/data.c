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

/* The DEKs that seal a resource's data of one class, outermost first. */
static int deks_for(vlt_state *s, const vlt_resource *r, enum vlt_class c, cry_secret **outer,
                    cry_secret **inner, int *code, cm_err *err)
{
    char e[512], why[512];
    vlt_key_lookup look = vlt_key_lookup_committed(s);
    *outer = *inner = NULL;
    if (c == VLT_CLASS_BLOCKLIST) {
        /* Blocklist names are always under the MMK, CMK or not (F14). */
        *outer = vlt_unwrap(s, &look, VLT_MMK, &r->wblk, e, sizeof e);
    } else {
        if (r->lost || r->locked) {
            *code = 1;
            cm_err_set(err, r->id, 0, 0, "%s: data access refused (%s)",
                       r->lost ? "lost" : "locked", lock_text(r, why, sizeof why));
            return -1;
        }
        *outer = vlt_unwrap(s, &look, r->wrap_ref, &r->wdek, e, sizeof e);
        if (*outer && r->wsvc.len) {
            *inner = vlt_unwrap(s, &look, VLT_MMK, &r->wsvc, e, sizeof e);
            if (!*inner) {
                cry_secret_free(*outer);
                *outer = NULL;
            }
        }
    }
    if (!*outer) {
        *code = 3;
        cm_err_set(err, r->id, 0, 0, "cannot unwrap the data key: %s", e);
        return -1;
    }
    return 0;
}

static const vlt_resource *need_res(vlt_state *s, const char *rid, int *code, cm_err *err)
{
    const char *sp = vlt_state_resource_spelling(s, rid);
    const vlt_resource *r = sp ? cm_map_get(s->resources, sp) : NULL;
    if (!r) {
        *code = 1;
        cm_err_set(err, rid, 0, 0, "no such resource");
    }
    return r;
}

int vlt_data_put(vlt_state *s, const char *rid, enum vlt_class c, const void *d, size_t n,
                 int *code, cm_err *err)
{
    *code = 0;
    if (!s->db) {
        *code = 2;
        cm_err_set(err, rid, 0, 0, "data needs a state store (--state)");
        return -1;
    }
    const vlt_resource *r = need_res(s, rid, code, err);
    cry_secret *outer, *inner;
    if (!r || deks_for(s, r, c, &outer, &inner, code, err) < 0)
        return -1;
    rid = r->id; /* the resource's own spelling of its id */
    char aad[1200];
    snprintf(aad, sizeof aad, "%s|%s", rid, class_name(c));
    cm_buf mid, out;
    cm_buf_init(&mid, 0);
    cm_buf_init(&out, 0);
    int rc = 0;
    if (inner) { /* Face: the service layer inside the customer layer (F13) */
        rc = cry_gcm_seal(inner->b, aad, strlen(aad), d, n, &mid);
        if (rc == 0)
            rc = cry_gcm_seal(outer->b, aad, strlen(aad), mid.p, mid.len, &out);
    } else {
        rc = cry_gcm_seal(outer->b, aad, strlen(aad), d, n, &out);
    }
    cry_secret_free(outer);
    cry_secret_free(inner);
    if (rc < 0) {
        *code = 3;
        cm_err_set(err, rid, 0, 0, "sealing failed");
    } else {
        rc = vlt_store_data_put(s->db, rid, class_name(c), out.p, out.len, err);
        if (rc < 0)
            *code = 3;
    }
    cm_buf_free(&mid);
    cm_buf_free(&out);
    return rc;
}

int vlt_data_get(vlt_state *s, const char *rid, enum vlt_class c, bool sealed, cm_buf *out,
                 int *code, cm_err *err)
{
    *code = 0;
    if (!s->db) {
        *code = 2;
        cm_err_set(err, rid, 0, 0, "data needs a state store (--state)");
        return -1;
    }
    const vlt_resource *r = need_res(s, rid, code, err);
    if (!r)
        return -1;
    rid = r->id; /* the resource's own spelling of its id */
    cm_buf blob;
    cm_buf_init(&blob, 0);
    int found = vlt_store_data_get(s->db, rid, class_name(c), &blob, err);
    if (found <= 0) {
        cm_buf_free(&blob);
        *code = found < 0 ? 3 : 1;
        if (found == 0)
            cm_err_set(err, rid, 0, 0, "no %s stored", class_name(c));
        return -1;
    }
    if (sealed) {
        cm_buf_add(out, blob.p, blob.len);
        cm_buf_free(&blob);
        return 0;
    }
    cry_secret *outer, *inner;
    if (deks_for(s, r, c, &outer, &inner, code, err) < 0) {
        cm_buf_free(&blob);
        return -1;
    }
    char aad[1200];
    snprintf(aad, sizeof aad, "%s|%s", rid, class_name(c));
    cm_buf mid;
    cm_buf_init(&mid, 0);
    int rc;
    if (inner) {
        rc = cry_gcm_open(outer->b, aad, strlen(aad), blob.p, blob.len, &mid);
        if (rc == 0)
            rc = cry_gcm_open(inner->b, aad, strlen(aad), mid.p, mid.len, out);
    } else {
        rc = cry_gcm_open(outer->b, aad, strlen(aad), blob.p, blob.len, out);
    }
    cry_secret_free(outer);
    cry_secret_free(inner);
    cm_buf_free_secret(&mid);
    cm_buf_free(&blob);
    if (rc < 0) {
        *code = 3;
        cm_err_set(err, rid, 0, 0, "stored data does not open (tampered or wrong key)");
    }
    return rc;
}
