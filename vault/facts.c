#include "vault/facts.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vault/internal.h"

static void ensure(vlt_state *s)
{
    if (!s->facts) {
        s->facts = cm_map_new();
        s->dirty_facts = cm_map_new();
    }
}

const char *vlt_fact_get(const vlt_state *s, const char *key)
{
    return s->facts ? cm_map_get(s->facts, key) : NULL;
}

void vlt_fact_put(vlt_state *s, const char *key, const char *doc)
{
    ensure(s);
    char *old = cm_map_get(s->facts, key);
    if (cm_streq(old, doc))
        return;
    if (doc)
        cm_map_put(s->facts, key, cm_strdup(doc));
    else
        cm_map_del(s->facts, key);
    free(old);
    cm_map_put(s->dirty_facts, key, (void *)1);
}

const char **vlt_fact_keys(const vlt_state *s, const char *prefix, size_t *n)
{
    size_t all = 0, k = 0, plen = strlen(prefix);
    const char **keys = s->facts ? cm_map_sorted_keys(s->facts, &all) : NULL;
    for (size_t i = 0; i < all; i++)
        if (!strncmp(keys[i], prefix, plen))
            keys[k++] = keys[i];
    *n = k;
    return keys;
}

static int load_fact(void *arg, const sto_row *r, cm_err *err)
{
    (void)err;
    vlt_state *s = arg;
    const char *key = sto_row_text(r, 0), *doc = sto_row_text(r, 1);
    if (!key || !doc)
        return 0;
    ensure(s);
    free(cm_map_get(s->facts, key));
    cm_map_put(s->facts, key, cm_strdup(doc));
    return 0;
}

int vlt_facts_load(vlt_state *s, cm_err *err)
{
    return sto_read(s->db, &vlt_tab_facts, NULL, 0, "k", load_fact, s, err) < 0 ? -1 : 0;
}

int vlt_facts_flush(vlt_state *s, cm_err *err)
{
    size_t it = 0;
    const char *k;
    int rc = 0;
    while (s->dirty_facts && rc == 0 && cm_map_next(s->dirty_facts, &it, &k, NULL)) {
        const char *doc = cm_map_get(s->facts, k);
        sto_val row[2] = {sto_text(k), sto_text(doc)};
        rc = doc ? sto_put(s->db, &vlt_tab_facts, row, err)
                 : sto_del(s->db, &vlt_tab_facts, row, 1, err);
    }
    return rc;
}

void vlt_facts_flushed(vlt_state *s)
{
    if (s->dirty_facts)
        cm_map_clear(s->dirty_facts);
}

void vlt_facts_free(vlt_state *s)
{
    size_t it = 0;
    void *v;
    while (s->facts && cm_map_next(s->facts, &it, NULL, &v))
        free(v);
    cm_map_free(s->facts);
    cm_map_free(s->dirty_facts);
}

unsigned vlt_state_access(const vlt_state *s, const char *vault_uri, const char *principal)
{
    uint32_t p = 0;
    cm_u64map_get(&s->acl, vlt_acl_find(s, vault_uri, principal), &p);
    return p & VLT_PERM_ALL;
}

void vlt_state_access_each(const vlt_state *s, const char *vault_uri,
                           void (*fn)(void *arg, const char *principal, unsigned perms), void *arg)
{
    uint32_t vh = cm_intern_find(s->strs, vault_uri), v;
    size_t it = 0;
    uint64_t k;
    while (vh && cm_u64map_next(&s->acl, &it, &k, &v))
        if ((uint32_t)(k >> 32) == vh && (v & VLT_PERM_ALL))
            fn(arg, cm_intern_str(s->strs, (uint32_t)k), v & VLT_PERM_ALL);
}
