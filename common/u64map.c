#include "common/u64map.h"

#include <stdlib.h>
#include <string.h>

#include "common/util.h"

struct cm_u64slot {
    uint64_t key; /* 0: empty */
    uint32_t val;
};

static size_t slot_of(const cm_u64map *m, uint64_t key)
{
    uint64_t h = key * 0x9E3779B97F4A7C15ULL;
    return (size_t)(h ^ h >> 29) & (m->cap - 1);
}

void cm_u64map_free(cm_u64map *m)
{
    free(m->s);
    *m = (cm_u64map){0};
}

size_t cm_u64map_bytes(const cm_u64map *m)
{
    return m->cap * sizeof *m->s;
}

void cm_u64map_clear(cm_u64map *m)
{
    if (m->s)
        memset(m->s, 0, m->cap * sizeof *m->s);
    m->len = 0;
}

/* The slot holding key, or the empty slot where it would go (the table has room). */
static struct cm_u64slot *find(const cm_u64map *m, uint64_t key)
{
    size_t i = slot_of(m, key);
    while (m->s[i].key && m->s[i].key != key)
        i = (i + 1) & (m->cap - 1);
    return &m->s[i];
}

bool cm_u64map_get(const cm_u64map *m, uint64_t key, uint32_t *val)
{
    if (!m->len || !key)
        return false;
    const struct cm_u64slot *sl = find(m, key);
    if (!sl->key)
        return false;
    if (val)
        *val = sl->val;
    return true;
}

static void grow(cm_u64map *m)
{
    struct cm_u64slot *old = m->s;
    size_t ocap = m->cap;
    m->cap = ocap ? ocap * 2 : 64;
    m->s = cm_xcalloc(m->cap, sizeof *m->s);
    for (size_t i = 0; i < ocap; i++)
        if (old[i].key)
            *find(m, old[i].key) = old[i];
    free(old);
}

void cm_u64map_put(cm_u64map *m, uint64_t key, uint32_t val)
{
    if ((m->len + 1) * 4 > m->cap * 3)
        grow(m);
    struct cm_u64slot *sl = find(m, key);
    if (!sl->key) {
        sl->key = key;
        m->len++;
    }
    sl->val = val;
}

bool cm_u64map_del(cm_u64map *m, uint64_t key)
{
    if (!m->len || !key)
        return false;
    struct cm_u64slot *sl = find(m, key);
    if (!sl->key)
        return false;
    /* Backward shift: move up every later entry of the run that may sit in the hole. */
    size_t mask = m->cap - 1, hole = (size_t)(sl - m->s), i = hole;
    for (;;) {
        i = (i + 1) & mask;
        if (!m->s[i].key)
            break;
        size_t home = slot_of(m, m->s[i].key);
        /* the entry at i may move to hole when its home is not in (hole, i] */
        bool stays = hole <= i ? (home > hole && home <= i) : (home > hole || home <= i);
        if (!stays) {
            m->s[hole] = m->s[i];
            hole = i;
        }
    }
    m->s[hole].key = 0;
    m->s[hole].val = 0;
    m->len--;
    return true;
}

bool cm_u64map_next(const cm_u64map *m, size_t *it, uint64_t *key, uint32_t *val)
{
    for (size_t i = *it; i < m->cap; i++)
        if (m->s[i].key) {
            if (key)
                *key = m->s[i].key;
            if (val)
                *val = m->s[i].val;
            *it = i + 1;
            return true;
        }
    *it = m->cap;
    return false;
}
