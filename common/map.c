#include "common/map.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

struct slot {
    char *key; /* NULL empty; TOMB deleted */
    void *val;
    uint64_t hash;
};

struct cm_map {
    struct slot *s;
    size_t cap, len, used;
};

static char tomb_;
#define TOMB (&tomb_)

static uint64_t fnv(const char *k)
{
    size_t n;
    return cm_strhash(k, &n); /* the length is not needed here */
}

cm_map *cm_map_new(void)
{
    cm_map *m = cm_xcalloc(1, sizeof *m);
    m->cap = 16;
    m->s = cm_xcalloc(m->cap, sizeof *m->s);
    return m;
}

void cm_map_free(cm_map *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->cap; i++)
        if (m->s[i].key && m->s[i].key != TOMB)
            free(m->s[i].key);
    free(m->s);
    free(m);
}

void cm_map_clear(cm_map *m)
{
    for (size_t i = 0; i < m->cap; i++)
        if (m->s[i].key && m->s[i].key != TOMB)
            free(m->s[i].key);
    memset(m->s, 0, m->cap * sizeof *m->s);
    m->len = m->used = 0;
}

static struct slot *find(const cm_map *m, const char *key, uint64_t h)
{
    size_t i = h & (m->cap - 1);
    for (;;) {
        struct slot *s = &m->s[i];
        if (!s->key)
            return NULL;
        if (s->key != TOMB && s->hash == h && strcmp(s->key, key) == 0)
            return s;
        i = (i + 1) & (m->cap - 1);
    }
}

void *cm_map_get(const cm_map *m, const char *key)
{
    struct slot *s = find(m, key, fnv(key));
    return s ? s->val : NULL;
}

static void rehash(cm_map *m, size_t ncap)
{
    struct slot *old = m->s;
    size_t ocap = m->cap;
    m->s = cm_xcalloc(ncap, sizeof *m->s);
    m->cap = ncap;
    m->used = m->len;
    for (size_t i = 0; i < ocap; i++) {
        if (!old[i].key || old[i].key == TOMB)
            continue;
        size_t j = old[i].hash & (ncap - 1);
        while (m->s[j].key)
            j = (j + 1) & (ncap - 1);
        m->s[j] = old[i];
    }
    free(old);
}

void cm_map_put(cm_map *m, const char *key, void *val)
{
    uint64_t h = fnv(key);
    struct slot *s = find(m, key, h);
    if (s) {
        s->val = val;
        return;
    }
    if ((m->used + 1) * 4 > m->cap * 3)
        rehash(m, m->len * 2 + 2 > m->cap / 2 ? m->cap * 2 : m->cap);
    size_t i = h & (m->cap - 1);
    while (m->s[i].key && m->s[i].key != TOMB)
        i = (i + 1) & (m->cap - 1);
    if (!m->s[i].key)
        m->used++;
    m->s[i].key = cm_strdup(key);
    m->s[i].val = val;
    m->s[i].hash = h;
    m->len++;
}

void *cm_map_del(cm_map *m, const char *key)
{
    struct slot *s = find(m, key, fnv(key));
    if (!s)
        return NULL;
    void *v = s->val;
    free(s->key);
    s->key = TOMB;
    s->val = NULL;
    m->len--;
    return v;
}

size_t cm_map_len(const cm_map *m)
{
    return m->len;
}

bool cm_map_next(const cm_map *m, size_t *it, const char **key, void **val)
{
    while (*it < m->cap) {
        struct slot *s = &m->s[(*it)++];
        if (s->key && s->key != TOMB) {
            if (key)
                *key = s->key;
            if (val)
                *val = s->val;
            return true;
        }
    }
    return false;
}

static int cmpstr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

const char **cm_map_sorted_keys(const cm_map *m, size_t *n)
{
    const char **k = cm_xcalloc(m->len + 1, sizeof *k);
    size_t i = 0, it = 0;
    const char *key;
    while (cm_map_next(m, &it, &key, NULL))
        k[i++] = key;
    qsort(k, i, sizeof *k, cmpstr);
    *n = i;
    return k;
}
