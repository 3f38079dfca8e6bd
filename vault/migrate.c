/* `state migrate`: upgrades a state written by an older build, once and explicitly
 * (SPEC §3a). Format 1 kept identifiers as events spelled them and seen ids without
 * their source; format 2 keeps one canonical spelling per thing (SPEC §2a):
 *
 *   vaults     URI canonical; tenant lower case; region compact
 *   keys       URI and vault URI canonical; versions lower case, their sealed key
 *              material re-sealed under its new name (the seal is bound to it)
 *   resources  id as stored (its first spelling; two ids equal but for case are refused:
 *              they cannot be merged safely); tenant, principal and identity tenant
 *              lower case; region compact; key URI and wrapping reference canonical
 *   access     principal lower case; entries that become one are merged (their union,
 *              as Key Vault holds one policy per object id)
 *   seen ids   a format 1 row has no source: it moves to seen_legacy, where the id
 *              counts as seen from every source, so no event is ever applied twice;
 *              the price is that a new event reusing such an id from another source is
 *              called a duplicate
 *
 * Audit chains, replay positions, offsets, the outbox and sealed data are untouched.
 * Everything is checked and made canonical in memory first: a refusal writes nothing.
 * Then the documents are written and the format is stamped last, each step in its own
 * transaction; both steps are idempotent, so an interrupted migration is simply run
 * again. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vault/internal.h"

struct mig {
    vlt_state *s;
    const char *path;
    cm_err *err;
    vlt_migrate_report *rep;
};

static int bad(struct mig *m, const char *what, const char *id)
{
    cm_err_set(m->err, m->path, 0, 0, "cannot migrate: %s '%s'", what, id);
    return -1;
}

/* Rewrites *uri in its canonical spelling; false when it is not of the kind wanted. */
static bool canon_uri(vlt_state *s, const char **uri, bool key, vlt_keyref *kr)
{
    char buf[VLT_URI_MAX + 1];
    enum vlt_uri_kind k = *uri ? vlt_uri_canon(*uri, buf, sizeof buf, kr) : VLT_URI_BAD;
    if (key ? k != VLT_URI_KEY && k != VLT_URI_KEY_VERSION : k != VLT_URI_VAULT)
        return false;
    vlt_set_str(s, uri, buf);
    return true;
}

/* A string an object holds, rewritten by fix (strings are shared: never in place). */
static void respell(vlt_state *s, const char **str, void (*fix)(char *))
{
    if (!*str)
        return;
    char *c = cm_strdup(*str);
    fix(c);
    vlt_set_str(s, str, c);
    free(c);
}

static void dirty(vlt_state *s, int table, const char *id)
{
    cm_intern *pool = table == VLT_T_RESOURCE ? s->rids : s->strs;
    cm_hset_add(&s->dirty[table], cm_intern_add(pool, id));
}

static int vaults(struct mig *m)
{
    vlt_state *s = m->s;
    cm_itab nv;
    cm_itab_init(&nv, s->strs);
    uint32_t it = 0;
    const char *id;
    void *val;
    int rc = 0;
    while (rc == 0 && cm_itab_next(&s->vaults, &it, &id, &val)) {
        vlt_vault *v = val;
        vlt_keyref kr;
        dirty(s, VLT_T_VAULT, id);
        if (!canon_uri(s, &v->uri, false, &kr)) {
            rc = bad(m, "a vault record has no vault URI", id);
            break;
        }
        vlt_set_str(s, &v->name, kr.vault);
        respell(s, &v->tenant, vlt_id_lower);
        respell(s, &v->region, vlt_region_compact);
        if (cm_itab_get(&nv, v->uri)) {
            rc = bad(m, "two vault records name one vault", v->uri);
            break;
        }
        cm_itab_put(&nv, v->uri, v);
        dirty(s, VLT_T_VAULT, v->uri);
        m->rep->vaults++;
    }
    /* The old table holds every object until nv, which then holds them all, replaces it. */
    if (rc == 0) {
        cm_itab_free(&s->vaults);
        s->vaults = nv;
    } else {
        cm_itab_free(&nv);
    }
    return rc;
}

/* The seal of a key version's material is bound to "KEY_URI/VERSION": re-seal it when
 * the name changes. */
static int reseal(struct mig *m, vlt_keyver *kv, const char *old_aad, const char *new_aad)
{
    if (!strcmp(old_aad, new_aad))
        return 0;
    cm_buf der, sealed;
    cm_buf_init_secret(&der, 0);
    cm_buf_init(&sealed, 0);
    int rc =
        cry_gcm_open(m->s->master->b, old_aad, strlen(old_aad), kv->sealed.p, kv->sealed.len, &der);
    if (rc == 0)
        rc = cry_gcm_seal(m->s->master->b, new_aad, strlen(new_aad), der.p, der.len, &sealed);
    cm_buf_free(&der);
    if (rc < 0) {
        cm_buf_free(&sealed);
        return bad(m, "cannot re-seal the key material of", old_aad);
    }
    cm_buf_free(&kv->sealed);
    kv->sealed = sealed;
    m->rep->resealed++;
    return 0;
}

static int key(struct mig *m, vlt_key *k)
{
    const char *old_uri = k->uri; /* the state's copy: it stays */
    vlt_keyref kr;
    int rc = 0;
    if (!canon_uri(m->s, &k->uri, true, &kr) || kr.version[0] ||
        !canon_uri(m->s, &k->vault_uri, false, NULL))
        rc = bad(m, "a key record has no versionless key URI", old_uri);
    if (rc == 0)
        vlt_set_str(m->s, &k->name, kr.name);
    for (size_t i = 0; rc == 0 && i < k->nvers; i++) {
        vlt_keyver *kv = &k->vers[i];
        char old_aad[768], new_aad[768];
        snprintf(old_aad, sizeof old_aad, "%s/%s", old_uri, kv->version);
        respell(m->s, &kv->version, vlt_id_lower);
        snprintf(new_aad, sizeof new_aad, "%s/%s", k->uri, kv->version);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(k->vers[j].version, kv->version))
                rc = bad(m, "two versions of a key differ only in case", new_aad);
        if (rc == 0)
            rc = reseal(m, kv, old_aad, new_aad);
    }
    return rc;
}

static int keys(struct mig *m)
{
    vlt_state *s = m->s;
    cm_itab nk;
    cm_itab_init(&nk, s->strs);
    uint32_t it = 0;
    const char *id;
    void *val;
    int rc = 0;
    while (rc == 0 && cm_itab_next(&s->keys, &it, &id, &val)) {
        vlt_key *k = val;
        dirty(s, VLT_T_KEY, id);
        rc = key(m, k);
        if (rc == 0 && cm_itab_get(&nk, k->uri))
            rc = bad(m, "two key records name one key", k->uri);
        if (rc == 0) {
            cm_itab_put(&nk, k->uri, k);
            dirty(s, VLT_T_KEY, k->uri);
            m->rep->keys++;
        }
    }
    if (rc == 0) {
        cm_itab_free(&s->keys);
        s->keys = nk;
    } else {
        cm_itab_free(&nk);
    }
    return rc;
}

static int resources(struct mig *m)
{
    vlt_state *s = m->s;
    cm_map *folded = cm_map_new(); /* folded id -> id */
    uint32_t it = 0;
    const char *id;
    void *val;
    int rc = 0;
    while (rc == 0 && cm_itab_next(&s->resources, &it, &id, &val)) {
        vlt_resource *r = val;
        char f[1100];
        vlt_resource_id_fold(id, f, sizeof f);
        const char *other = cm_map_get(folded, f);
        if (other) {
            cm_err_set(m->err, m->path, 0, 0,
                       "cannot migrate: resources '%s' and '%s' differ only in case, which now "
                       "names one resource; delete one of them with the build that wrote the "
                       "state first",
                       other, id);
            rc = -1;
            break;
        }
        cm_map_put(folded, f, (void *)id);
        respell(s, &r->tenant, vlt_id_lower);
        respell(s, &r->region, vlt_region_compact);
        respell(s, &r->principal, vlt_id_lower);
        respell(s, &r->identity_tenant, vlt_id_lower);
        if (r->key_uri && !canon_uri(s, &r->key_uri, true, NULL))
            rc = bad(m, "a resource is bound to no key URI", id);
        if (rc == 0 && r->wrap_ref && strcmp(r->wrap_ref, VLT_MMK) != 0 &&
            !canon_uri(s, &r->wrap_ref, true, NULL))
            rc = bad(m, "a resource's data key is wrapped under no key URI", id);
        dirty(s, VLT_T_RESOURCE, id);
        m->rep->resources++;
    }
    cm_map_free(folded);
    return rc;
}

static int acls(struct mig *m)
{
    vlt_state *s = m->s;
    cm_u64map na = {0};
    size_t it = 0;
    uint64_t pair;
    uint32_t val;
    int rc = 0;
    while (rc == 0 && cm_u64map_next(&s->acl, &it, &pair, &val)) {
        char k[1400], vault[VLT_URI_MAX + 1], principal[1024];
        vlt_acl_key_of(s, pair, k, sizeof k);
        const char *sep = strchr(k, '\x1f');
        cm_u64map_put(&s->dirty_acl, pair, 1);
        if (!sep || (size_t)(sep - k) > VLT_URI_MAX || strlen(sep + 1) >= sizeof principal) {
            rc = bad(m, "an access record is not VAULT/PRINCIPAL", k);
            break;
        }
        snprintf(vault, sizeof vault, "%.*s", (int)(sep - k), k);
        snprintf(principal, sizeof principal, "%s", sep + 1);
        if (vlt_uri_canon(vault, vault, sizeof vault, NULL) != VLT_URI_VAULT) {
            rc = bad(m, "an access record names no vault URI", k);
            break;
        }
        vlt_id_lower(principal);
        uint64_t np = vlt_acl_pair(s, vault, principal);
        uint32_t merged = 0;
        cm_u64map_get(&na, np, &merged);
        cm_u64map_put(&na, np, merged | val);
        m->rep->access++;
    }
    if (rc == 0) {
        /* every new pair is written; old pairs not among them are deleted by the flush */
        it = 0;
        while (cm_u64map_next(&na, &it, &pair, NULL))
            cm_u64map_put(&s->dirty_acl, pair, 1);
        cm_u64map_free(&s->acl);
        s->acl = na;
    } else {
        cm_u64map_free(&na);
    }
    return rc;
}

static void count_seen(void *arg, const char *id)
{
    (void)id;
    ((vlt_migrate_report *)arg)->seen++;
}

static void remove_db(const char *path)
{
    char p[4300];
    unlink(path);
    snprintf(p, sizeof p, "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", path);
    unlink(p);
}

int vlt_state_migrate(const char *path, const char *master_path, vlt_migrate_report *rep,
                      cm_err *err)
{
    memset(rep, 0, sizeof *rep);
    rep->to = STO_FORMAT;
    char mpath[4200], tmp[4200];
    if (!master_path) {
        snprintf(mpath, sizeof mpath, "%s.mkey", path);
        master_path = mpath;
    }
    snprintf(tmp, sizeof tmp, "%s.migrating", path);
    if (sto_is_file_new(path)) {
        cm_err_set(err, path, 0, 0, "no such state");
        return -1;
    }
    /* 1. The original: its format, and the master key it was written under. */
    vlt_state *s = cm_xcalloc(1, sizeof *s);
    int rc = vlt_state_open_store(s, path, master_path, err);
    if (rc == 0)
        rep->from = sto_format(s->db);
    if (rc == 0 && rep->from == STO_FORMAT)
        rc = 1; /* nothing to do */
    /* 2. A consistent copy of it, converted there: the original is not written until
     * the copy is complete, so a refusal or a crash leaves it as it was. */
    remove_db(tmp);
    if (rc == 0)
        rc = sto_copy(s->db, tmp, err);
    cry_secret_free(s->master);
    sto_close(s->db);
    free(s);
    s = NULL;
    if (rc != 0)
        return rc;
    vlt_state *k = cm_xcalloc(1, sizeof *k);
    rc = vlt_state_open_store(k, tmp, master_path, err);
    if (rc == 0)
        rc = sto_migrate(k->db, k->master, err);
    cry_secret_free(k->master);
    sto_close(k->db);
    free(k);
    /* 3. Canonical spellings, checked in memory first, then written in one flush. */
    if (rc == 0 && !(s = vlt_state_open(tmp, master_path, err)))
        rc = -1;
    struct mig m = {.s = s, .path = path, .err = err, .rep = rep};
    if (rc == 0 &&
        (vaults(&m) < 0 || keys(&m) < 0 || resources(&m) < 0 || acls(&m) < 0 ||
         vlt_seen_legacy_each(s, count_seen, rep, err) < 0 || vlt_state_flush(s, err) < 0))
        rc = -1;
    vlt_state_free(s);
    /* 4. Into place. */
    if (rc == 0 && rename(tmp, path) < 0) {
        cm_err_set(err, path, 0, 0, "cannot put the migrated state in place: %s", strerror(errno));
        rc = -1;
    }
    if (rc != 0)
        remove_db(tmp);
    return rc;
}
