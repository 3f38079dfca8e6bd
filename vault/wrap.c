/* Key wrapping (SPEC §3): a DEK is wrapped under a reference, "mmk" (AES key wrap under
 * the service master key) or a versioned key URI (RSA-OAEP under that key version).
 * One resolver turns a reference into a key version, through whichever view of the keys
 * the caller holds: the committed state, or a transaction's proposed one. */
#include <stdio.h>
#include <string.h>

#include "vault/internal.h"

/* The version ref names, as look sees keys (prior: a transaction's view before the
 * event, used only when the key is gone from the proposed one), with its key in *k.
 * NULL with err when there is none. */
static const vlt_keyver *resolve(const vlt_key_lookup *look, const char *ref, bool prior_too,
                                 const vlt_key **k, char *err, size_t errn)
{
    vlt_keyref kr;
    char kuri[512];
    if (!vlt_key_uri_parse(ref, &kr)) {
        snprintf(err, errn, "bad key reference %s", ref);
        return NULL;
    }
    vlt_key_uri(&kr, false, kuri, sizeof kuri);
    *k = look->fn(look->arg, kuri, false);
    if (!*k && prior_too)
        *k = look->fn(look->arg, kuri, true);
    const vlt_keyver *kv = vlt_key_version(*k, kr.version);
    if (!kv)
        snprintf(err, errn, "key %s does not exist", ref);
    return kv;
}

int vlt_wrap(vlt_state *s, const vlt_key_lookup *look, const char *ref, const cry_secret *dek,
             cm_buf *out, char *err, size_t errn)
{
    if (!strcmp(ref, VLT_MMK)) {
        int rc = cry_kw_wrap_with(s->mmk, dek->b, dek->len, out);
        if (rc < 0)
            snprintf(err, errn, "AES key wrap under the service master key failed");
        return rc;
    }
    const vlt_key *k;
    cry_pkey *pk;
    const vlt_keyver *kv = resolve(look, ref, false, &k, err, errn);
    if (!kv)
        return CM_EINPUT;
    int rc = vlt_keyver_pkey(s, k, kv, &pk, err, errn);
    return rc < 0 ? rc : cry_pkey_wrap(pk, dek->b, dek->len, out, err, errn);
}

int vlt_unwrap(vlt_state *s, const vlt_key_lookup *look, const char *ref, const cm_buf *w,
               cry_secret **out, char *err, size_t errn)
{
    *out = NULL;
    if (!w->len) {
        snprintf(err, errn, "no wrapped data key");
        return CM_EINPUT;
    }
    if (!strcmp(ref, VLT_MMK)) {
        const uint8_t *in = (const uint8_t *)w->p;
        int rc = cry_kw_unwrap_with(s->mmk, in, w->len, out);
        if (rc < 0)
            snprintf(err, errn, "AES key unwrap under the service master key failed");
        return rc;
    }
    const vlt_key *k;
    cry_pkey *pk;
    const vlt_keyver *kv = resolve(look, ref, true, &k, err, errn);
    if (!kv)
        return CM_EINPUT;
    int rc = vlt_keyver_pkey(s, k, kv, &pk, err, errn);
    return rc < 0 ? rc : cry_pkey_unwrap(pk, (const uint8_t *)w->p, w->len, out, err, errn);
}

static const vlt_key *committed(void *arg, const char *uri, bool prior)
{
    (void)prior; /* the committed state has one view */
    return cm_itab_get(&((vlt_state *)arg)->keys, uri);
}

vlt_key_lookup vlt_key_lookup_committed(vlt_state *s)
{
    return (vlt_key_lookup){committed, s};
}
