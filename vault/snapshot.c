/* A state as bytes, and back: the seam a partition's state moves through (SPEC §7a).
 *
 * A partition's state is one vlt_state. Its snapshot holds every vault, key and
 * resource (their stored documents), access policy, seen event and fact, then what the
 * parts other modules attached to the state's store hold (chain heads and replay
 * positions, 'm', from pipeline/; input offsets, 'o', from stream/), as records of
 * (tag, name, value):
 *
 *   "CMKSNAP1"  then  tag:u8  name length:u32le  name  value length:u32le  value  ...
 *
 * and ends with a record tagged 'z' whose value is an HMAC-SHA-512, under a key derived
 * from the master key, of every byte before it. Restoring checks the MAC before it reads
 * anything, then loads the records the way a state file's rows are loaded; a part's
 * records are carried by the store until the part is attached. What a state
 * holds only while it runs (plaintext data keys, loaded key material, ids of deleted
 * resources) is not in it: a restored state is the compact form of the one it came from. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vault/facts.h"
#include "vault/internal.h"

#define MAGIC "CMKSNAP1"
#define MAGIC_LEN 8

enum {
    TAG_VAULT = 'v',
    TAG_KEY = 'k',
    TAG_RES = 'r',
    TAG_ACL = 'a',
    TAG_SEEN = 's',
    TAG_SEEN_ANY = 'l',
    TAG_FACT = 'f',
    TAG_MAC = 'z',
};

static void put_u32(cm_buf *b, size_t n)
{
    uint8_t le[4] = {(uint8_t)n, (uint8_t)(n >> 8), (uint8_t)(n >> 16), (uint8_t)(n >> 24)};
    cm_buf_add(b, le, 4);
}

static void rec(cm_buf *b, int tag, const char *name, const void *val, size_t vn)
{
    size_t nn = strlen(name);
    cm_buf_addc(b, (char)tag);
    put_u32(b, nn);
    cm_buf_add(b, name, nn);
    put_u32(b, vn);
    cm_buf_add(b, val, vn);
}

static void rec_str(cm_buf *b, int tag, const char *name, const char *val)
{
    rec(b, tag, name, val, strlen(val));
}

static cry_mac *snapshot_mac(const cry_secret *master)
{
    cry_secret *k = cry_hkdf(master, "cmkguard state snapshot v1", 64);
    cry_mac *m = k ? cry_mac_new(k) : NULL;
    cry_secret_free(k);
    return m;
}

static int docs(cm_buf *out, int table, const cm_itab *objs, int tag, cm_err *err)
{
    cm_buf d;
    cm_buf_init(&d, 0);
    uint32_t it = 0;
    const char *id;
    void *o;
    int rc = 0;
    while (rc == 0 && cm_itab_next(objs, &it, &id, &o)) {
        cm_buf_reset(&d);
        cm_jw j;
        cm_jw_init(&j, &d);
        vlt_doc_of(table, o, &j);
        if (cm_jw_done(&j) < 0)
            rc = cm_err_env(err, id, "state document larger than %zu bytes", d.max);
        else
            rec(out, tag, id, d.p, d.len);
    }
    cm_buf_free(&d);
    return rc;
}

static void seen_rec(void *arg, const char *key)
{
    rec(arg, TAG_SEEN, key, "", 0);
}

static void seen_any_rec(void *arg, const char *id)
{
    rec(arg, TAG_SEEN_ANY, id, "", 0);
}

struct acl_rec {
    char *name; /* "VAULT\x1fPRINCIPAL" */
    uint32_t perms;
};

static int cmp_acl(const void *a, const void *b)
{
    return strcmp(((const struct acl_rec *)a)->name, ((const struct acl_rec *)b)->name);
}

/* Access policies in the order of their names, so equal states give equal bytes. */
static void acls(vlt_state *s, cm_buf *out)
{
    size_t n = 0, it = 0;
    struct acl_rec *v = cm_xcalloc(cm_u64map_len(&s->acl) + 1, sizeof *v);
    uint64_t pair;
    uint32_t perms;
    while (cm_u64map_next(&s->acl, &it, &pair, &perms)) {
        char key[1400];
        vlt_acl_key_of(s, pair, key, sizeof key);
        v[n++] = (struct acl_rec){cm_strdup(key), perms & VLT_PERM_ALL};
    }
    qsort(v, n, sizeof *v, cmp_acl);
    for (size_t i = 0; i < n; i++) {
        char num[16];
        snprintf(num, sizeof num, "%u", (unsigned)v[i].perms);
        rec_str(out, TAG_ACL, v[i].name, num);
        free(v[i].name);
    }
    free(v);
}

/* A cm_map's entries in key order through fn. */
static void sorted(const cm_map *m, void (*fn)(cm_buf *out, const char *k, void *v), cm_buf *out)
{
    size_t n;
    const char **keys = cm_map_sorted_keys(m, &n);
    for (size_t i = 0; i < n; i++)
        fn(out, keys[i], cm_map_get(m, keys[i]));
    free(keys);
}

static void fact_rec(cm_buf *out, const char *k, void *v)
{
    rec_str(out, TAG_FACT, k, v);
}

static void part_rec(void *arg, int tag, const char *name, const char *val)
{
    rec_str(arg, tag, name, val);
}

int vlt_state_snapshot(vlt_state *s, cm_buf *out, cm_err *err)
{
    size_t start = out->len;
    cm_buf_add(out, MAGIC, MAGIC_LEN);
    if (docs(out, VLT_T_VAULT, &s->vaults, TAG_VAULT, err) < 0 ||
        docs(out, VLT_T_KEY, &s->keys, TAG_KEY, err) < 0 ||
        docs(out, VLT_T_RESOURCE, &s->resources, TAG_RES, err) < 0)
        return -1;
    acls(s, out);
    vlt_state_seen_each(s, seen_rec, out);
    if (s->seen_any)
        cm_strset_each(s->seen_any, seen_any_rec, out);
    if (s->facts)
        sorted(s->facts, fact_rec, out);
    sto_snapshot_parts(s->db, part_rec, out);
    if (cm_buf_failed(out))
        return cm_err_env(err, "snapshot", "the state is larger than %zu bytes", out->max);
    uint8_t mac[CRY_MAC_LEN];
    cry_mac *m = snapshot_mac(s->master);
    int rc = m && cry_mac_begin(m) == 0 &&
                     cry_mac_update(m, out->p + start, out->len - start) == 0 &&
                     cry_mac_final(m, mac) == 0
                 ? 0
                 : CM_EENV;
    cry_mac_free(m);
    if (rc < 0)
        return cm_err_env(err, "snapshot", "cannot authenticate the snapshot");
    rec(out, TAG_MAC, "", mac, sizeof mac);
    return cm_buf_failed(out)
               ? cm_err_env(err, "snapshot", "the state is larger than %zu bytes", out->max)
               : 0;
}

/* ---------- restore ---------- */

struct rd {
    const uint8_t *p;
    size_t n, at;
};

static bool get_u32(struct rd *r, size_t *v)
{
    if (r->n - r->at < 4)
        return false;
    const uint8_t *q = r->p + r->at;
    *v = (size_t)q[0] | (size_t)q[1] << 8 | (size_t)q[2] << 16 | (size_t)q[3] << 24;
    r->at += 4;
    return true;
}

/* The next record: its tag, name and value as new NUL-terminated strings. */
static bool next(struct rd *r, int *tag, char **name, char **val, size_t *vn)
{
    size_t nn;
    if (r->at >= r->n)
        return false;
    *tag = r->p[r->at++];
    if (!get_u32(r, &nn) || r->n - r->at < nn)
        return false;
    const uint8_t *np = r->p + r->at;
    r->at += nn;
    if (!get_u32(r, vn) || r->n - r->at < *vn)
        return false;
    *name = cm_strndup((const char *)np, nn);
    *val = cm_strndup((const char *)r->p + r->at, *vn);
    r->at += *vn;
    return true;
}

static int load(vlt_state *s, int tag, const char *name, const char *val)
{
    switch (tag) {
    case TAG_VAULT:
        return vlt_doc_load(s, VLT_T_VAULT, name, val);
    case TAG_KEY:
        return vlt_doc_load(s, VLT_T_KEY, name, val);
    case TAG_RES:
        return vlt_doc_load(s, VLT_T_RESOURCE, name, val);
    case TAG_ACL: {
        long p = strtol(val, NULL, 10);
        if (p < 0 || p > VLT_PERM_ALL || !strchr(name, '\x1f'))
            return -1;
        vlt_doc_load_acl(s, name, (unsigned)p);
        return 0;
    }
    case TAG_SEEN:
        if (!strchr(name, '\x1f'))
            return -1;
        vlt_state_seen_load(s, name);
        return 0;
    case TAG_SEEN_ANY:
        vlt_doc_load_seen_legacy(s, name);
        return 0;
    case TAG_FACT:
        vlt_fact_put(s, name, val);
        return 0;
    case TAG_MAC:
        return -1;
    default: /* a part's: carried until the part is attached */
        sto_carry(s->db, tag, name, val);
        return 0;
    }
}

vlt_state *vlt_state_restore(const void *p, size_t n, const cry_secret *master, cm_err *err)
{
    const uint8_t *b = p;
    /* the MAC record: tag, an empty name, a 64-byte value */
    size_t tail = 1 + 4 + 4 + CRY_MAC_LEN;
    if (n < MAGIC_LEN + tail || memcmp(b, MAGIC, MAGIC_LEN) != 0 || b[n - tail] != TAG_MAC) {
        cm_err_set(err, "snapshot", 0, 0, "not a cmkguard state snapshot");
        return NULL;
    }
    uint8_t want[CRY_MAC_LEN];
    cry_mac *m = snapshot_mac(master);
    int rc = m && cry_mac_begin(m) == 0 && cry_mac_update(m, b, n - tail) == 0 &&
                     cry_mac_final(m, want) == 0
                 ? 0
                 : -1;
    cry_mac_free(m);
    if (rc < 0) {
        cm_err_env(err, "snapshot", "cannot check the snapshot's authentication");
        return NULL;
    }
    if (!cry_memeq(want, b + n - CRY_MAC_LEN, CRY_MAC_LEN)) {
        cm_err_set(
            err, "snapshot", 0, 0,
            "the snapshot does not authenticate (altered, or made under another master key)");
        err->code = CM_ECHECK;
        return NULL;
    }
    vlt_state *s = vlt_state_new_mem(master, err);
    if (!s)
        return NULL;
    struct rd r = {b, n - tail, MAGIC_LEN};
    size_t nrec = 0;
    while (r.at < r.n) {
        int tag;
        char *name, *val;
        size_t vn;
        if (!next(&r, &tag, &name, &val, &vn)) {
            cm_err_set(err, "snapshot", 0, 0, "record %zu is cut short", nrec + 1);
            vlt_state_free(s);
            return NULL;
        }
        rc = load(s, tag, name, val);
        if (rc < 0)
            cm_err_set(err, "snapshot", 0, 0, "record %zu ('%c' %s) does not load", nrec + 1, tag,
                       name);
        free(name);
        free(val);
        if (rc < 0) {
            vlt_state_free(s);
            return NULL;
        }
        nrec++;
    }
    return s;
}
