#include "common/intern.h"

#include <stdlib.h>
#include <string.h>

#include "common/util.h"

#define CHUNK (64u * 1024u)
#define FREE_CLASSES 64 /* blocks of up to 512 bytes are reused once forgotten */

struct slot {
    uint32_t hash; /* the hash's upper half: most misses end here */
    uint32_t h;    /* handle; 0 is empty */
};

struct cm_intern {
    struct slot *t;
    size_t cap;
    const char **str; /* str[h]: the copy of handle h */
    uint32_t n;       /* handles given */
    size_t nstr;      /* entries of str */
    char **chunks;    /* each string is [handle, 4 bytes][bytes][NUL] inside one chunk,
                         its block rounded up to 8 bytes */
    size_t nchunks, capchunks;
    size_t used, size; /* of the last chunk */
    /* Forgotten: their handles, given again first; their blocks by size (in units of 8
     * bytes), each block's first bytes pointing to the next one of its size. */
    uint32_t *freeh;
    size_t nfreeh, capfreeh;
    char *freeb[FREE_CLASSES];
};

cm_intern *cm_intern_new(void)
{
    cm_intern *p = cm_xcalloc(1, sizeof *p);
    p->cap = 256;
    p->t = cm_xcalloc(p->cap, sizeof *p->t);
    return p;
}

void cm_intern_free(cm_intern *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->nchunks; i++)
        free(p->chunks[i]);
    free(p->chunks);
    free(p->freeh);
    free(p->str);
    free(p->t);
    free(p);
}

uint32_t cm_intern_count(const cm_intern *p)
{
    return p->n;
}

const char *cm_intern_str(const cm_intern *p, uint32_t h)
{
    return h && h <= p->n ? p->str[h] : NULL; /* NULL too once forgotten */
}

uint32_t cm_intern_handle(const char *interned)
{
    uint32_t h;
    memcpy(&h, interned - sizeof h, sizeof h);
    return h;
}

/* The slot holding s, or the empty slot where it would go. */
static struct slot *find(const cm_intern *p, const char *s, size_t n, uint64_t hash)
{
    size_t i = (size_t)hash & (p->cap - 1);
    uint32_t hi = (uint32_t)(hash >> 32);
    for (;;) {
        struct slot *sl = &p->t[i];
        if (!sl->h)
            return sl;
        if (sl->hash == hi && !memcmp(p->str[sl->h], s, n + 1))
            return sl;
        i = (i + 1) & (p->cap - 1);
    }
}

uint32_t cm_intern_find(const cm_intern *p, const char *s)
{
    if (!s)
        return 0;
    size_t n;
    uint64_t hash = cm_strhash(s, &n);
    return find(p, s, n, hash)->h;
}

static void grow_table(cm_intern *p)
{
    struct slot *old = p->t;
    size_t ocap = p->cap;
    p->cap *= 2;
    p->t = cm_xcalloc(p->cap, sizeof *p->t);
    for (size_t i = 0; i < ocap; i++) {
        if (!old[i].h)
            continue;
        size_t n;
        uint64_t hash = cm_strhash(p->str[old[i].h], &n);
        size_t j = (size_t)hash & (p->cap - 1);
        while (p->t[j].h)
            j = (j + 1) & (p->cap - 1);
        p->t[j] = old[i];
    }
    free(old);
}

/* The size of the block of a string of n bytes. */
static size_t block_size(size_t n)
{
    return (sizeof(uint32_t) + n + 1 + 7) & ~(size_t)7;
}

/* Room for need bytes (a block size) that will not move: a forgotten block of that
 * size, or new room. */
static char *room(cm_intern *p, size_t need)
{
    size_t cls = need / 8;
    if (cls < FREE_CLASSES && p->freeb[cls]) {
        char *at = p->freeb[cls];
        memcpy(&p->freeb[cls], at, sizeof p->freeb[cls]);
        return at;
    }
    if (!p->nchunks || p->used + need > p->size) {
        size_t size = need > CHUNK ? need : CHUNK;
        if (p->nchunks == p->capchunks) {
            p->capchunks = p->capchunks ? p->capchunks * 2 : 16;
            p->chunks = cm_xrealloc(p->chunks, p->capchunks * sizeof *p->chunks);
        }
        p->chunks[p->nchunks++] = cm_xmalloc(size);
        p->used = 0;
        p->size = size;
    }
    char *at = p->chunks[p->nchunks - 1] + p->used;
    p->used += need;
    return at;
}

uint32_t cm_intern_add(cm_intern *p, const char *s)
{
    size_t n;
    uint64_t hash = cm_strhash(s, &n);
    struct slot *sl = find(p, s, n, hash);
    if (sl->h)
        return sl->h;
    uint32_t h;
    if (p->nfreeh) {
        h = p->freeh[--p->nfreeh];
    } else {
        if (p->n == UINT32_MAX - 1)
            cm_oom(n); /* four billion identifiers */
        h = ++p->n;
        if (h >= p->nstr) {
            p->nstr = p->nstr ? p->nstr * 2 : 256;
            p->str = cm_xrealloc(p->str, p->nstr * sizeof *p->str);
        }
    }
    char *at = room(p, block_size(n));
    memcpy(at, &h, sizeof h);
    memcpy(at + sizeof h, s, n + 1);
    p->str[h] = at + sizeof h;
    sl->hash = (uint32_t)(hash >> 32);
    sl->h = h;
    if ((size_t)(p->n - p->nfreeh) * 4 >= p->cap * 3)
        grow_table(p);
    return h;
}

void cm_intern_forget(cm_intern *p, uint32_t h)
{
    const char *str = cm_intern_str(p, h);
    if (!str)
        return;
    size_t n, mask = p->cap - 1;
    uint64_t hash = cm_strhash(str, &n);
    size_t hole = (size_t)hash & mask;
    while (p->t[hole].h != h)
        hole = (hole + 1) & mask;
    /* Backward-shift deletion: the later entries of the run that may move up, do. */
    for (size_t i = hole;;) {
        i = (i + 1) & mask;
        if (!p->t[i].h)
            break;
        size_t m;
        size_t home = (size_t)cm_strhash(p->str[p->t[i].h], &m) & mask;
        bool stays = hole <= i ? (home > hole && home <= i) : (home > hole || home <= i);
        if (!stays) {
            p->t[hole] = p->t[i];
            hole = i;
        }
    }
    p->t[hole] = (struct slot){0};
    size_t cls = block_size(n) / 8;
    char *block = (char *)str - sizeof(uint32_t);
    if (cls < FREE_CLASSES) {
        memcpy(block, &p->freeb[cls], sizeof p->freeb[cls]);
        p->freeb[cls] = block;
    }
    p->str[h] = NULL;
    if (p->nfreeh == p->capfreeh) {
        p->capfreeh = p->capfreeh ? p->capfreeh * 2 : 64;
        p->freeh = cm_xrealloc(p->freeh, p->capfreeh * sizeof *p->freeh);
    }
    p->freeh[p->nfreeh++] = h;
}

const char *cm_intern_copy(cm_intern *p, const char *s)
{
    if (!s)
        return NULL;
    uint32_t h = cm_intern_add(p, s); /* before p->str is read: adding may move it */
    return p->str[h];
}

/* ---------- tables ---------- */

void cm_itab_init(cm_itab *t, cm_intern *pool)
{
    *t = (cm_itab){.pool = pool};
}

void cm_itab_free(cm_itab *t)
{
    free(t->v);
    t->v = NULL;
    t->cap = 0;
    t->len = 0;
}

void *cm_itab_at(const cm_itab *t, uint32_t h)
{
    return h < t->cap ? t->v[h] : NULL;
}

void *cm_itab_get(const cm_itab *t, const char *key)
{
    return key ? cm_itab_at(t, cm_intern_find(t->pool, key)) : NULL;
}

void cm_itab_put_at(cm_itab *t, uint32_t h, void *val)
{
    if (h >= t->cap) {
        uint32_t cap = t->cap ? t->cap : 64;
        while (cap <= h)
            cap *= 2;
        t->v = cm_xrealloc(t->v, (size_t)cap * sizeof *t->v);
        memset(t->v + t->cap, 0, (size_t)(cap - t->cap) * sizeof *t->v);
        t->cap = cap;
    }
    t->len += (size_t)(val != NULL) - (size_t)(t->v[h] != NULL);
    t->v[h] = val;
}

const char *cm_itab_put(cm_itab *t, const char *key, void *val)
{
    uint32_t h = cm_intern_add(t->pool, key);
    cm_itab_put_at(t, h, val);
    return cm_intern_str(t->pool, h);
}

void *cm_itab_del(cm_itab *t, const char *key)
{
    uint32_t h = key ? cm_intern_find(t->pool, key) : 0;
    void *old = cm_itab_at(t, h);
    if (old)
        cm_itab_put_at(t, h, NULL);
    return old;
}

bool cm_itab_next(const cm_itab *t, uint32_t *it, const char **key, void **val)
{
    for (uint32_t h = *it; h < t->cap; h++)
        if (t->v[h]) {
            if (key)
                *key = cm_intern_str(t->pool, h);
            if (val)
                *val = t->v[h];
            *it = h + 1;
            return true;
        }
    *it = t->cap;
    return false;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

const char **cm_itab_sorted_keys(const cm_itab *t, size_t *n)
{
    const char **k = cm_xcalloc(t->len + 1, sizeof *k);
    size_t m = 0;
    for (uint32_t h = 0; h < t->cap; h++)
        if (t->v[h])
            k[m++] = cm_intern_str(t->pool, h);
    qsort(k, m, sizeof *k, cmp_str);
    *n = m;
    return k;
}

/* ---------- handle sets ---------- */

void cm_hset_add(cm_hset *s, uint32_t h)
{
    if (h >= s->incap) {
        size_t cap = s->incap ? s->incap : 64;
        while (cap <= h)
            cap *= 2;
        s->in = cm_xrealloc(s->in, cap);
        memset(s->in + s->incap, 0, cap - s->incap);
        s->incap = cap;
    }
    if (s->in[h])
        return;
    s->in[h] = 1;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 64;
        s->h = cm_xrealloc(s->h, s->cap * sizeof *s->h);
    }
    s->h[s->n++] = h;
}

void cm_hset_clear(cm_hset *s)
{
    for (size_t i = 0; i < s->n; i++)
        s->in[s->h[i]] = 0;
    s->n = 0;
}

void cm_hset_free(cm_hset *s)
{
    free(s->h);
    free(s->in);
    *s = (cm_hset){0};
}
