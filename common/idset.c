#include "common/idset.h"

#include <stdlib.h>
#include <string.h>

#include "common/intern.h"
#include "common/strset.h"
#include "common/u64map.h"
#include "common/util.h"

#define MAX_DIGITS 18     /* below 10^18 < 2^60: the number's high bits fit in 44 */
#define MAX_PREFIX 192    /* a longer prefix makes the id one of the second form */
#define MAX_CLASSES 65535 /* past it, new classes' ids take the second form */
#define ARRAY_MAX 4096    /* values an array container holds before it is a bitmap */
#define INLINE_MAX 4
/* A class whose numbers are sparse (fewer than 2.5 per container, once it holds
 * DEMOTE_MIN) costs more as containers than as strings: its ids move to the second form
 * for good. */
#define DEMOTE_MIN 1024
#define UU_CHUNK 4096 /* UUIDs a chunk of the third form holds */

enum { C_INLINE, C_ARRAY, C_BITMAP };

/* The numbers of one class whose high bits are key's. */
struct cont {
    uint64_t key; /* class << 44 | number >> 16; never 0 (classes start at 1) */
    union {
        uint16_t in[INLINE_MAX]; /* C_INLINE, sorted */
        uint16_t *arr;           /* C_ARRAY, sorted, cap entries */
        uint64_t *bits;          /* C_BITMAP, 1024 words */
    } u;
    uint32_t n;   /* values held */
    uint16_t cap; /* C_ARRAY */
    uint8_t kind;
};

/* What a class holds. */
struct cls_info {
    uint32_t ids, conts;
    bool strings; /* demoted: its ids take the second form */
};

struct cm_idset {
    cm_intern *cls;      /* class keys: varint(src) then the prefix */
    struct cls_info *ci; /* by class */
    size_t capci;
    cm_u64map index; /* cont.key -> its position in c */
    struct cont *c;  /* creation order */
    size_t nc, capc;
    cm_strset *other; /* the second form: varint(src) then the id */
    /* The third form: UUIDs, 20 bytes each in chunks (in the order added), found through
     * an open-addressing table of their positions + 1. */
    struct uu **uu;
    size_t nuu, capchunks;
    uint32_t *uut;
    size_t uucap;
    size_t len;
    /* The class last found: ids from one source mostly share their prefix. */
    uint32_t last_src, last_cls;
    size_t last_plen;
    char last_prefix[MAX_PREFIX];
};

/* A UUID of the third form: its 16 bytes, and its source with its letters' case. */
struct uu {
    uint8_t b[16];
    uint32_t tag; /* src << 1 | 1 when its letters are upper case */
};

static void cont_free(struct cont *c);

cm_idset *cm_idset_new(void)
{
    cm_idset *s = cm_xcalloc(1, sizeof *s);
    s->cls = cm_intern_new();
    s->other = cm_strset_new();
    return s;
}

void cm_idset_free(cm_idset *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nc; i++)
        cont_free(&s->c[i]);
    free(s->c);
    free(s->ci);
    cm_u64map_free(&s->index);
    cm_intern_free(s->cls);
    cm_strset_free(s->other);
    for (size_t i = 0; i * UU_CHUNK < s->nuu; i++)
        free(s->uu[i]);
    free(s->uu);
    free(s->uut);
    free(s);
}

size_t cm_idset_len(const cm_idset *s)
{
    return s->len;
}

/* src in bytes that are never NUL and end themselves (only the last has its high bit
 * clear) into out (5 bytes at most); their count. */
static size_t put_src(uint8_t *out, uint32_t src)
{
    size_t n = 0;
    for (; src >= 127; src /= 127)
        out[n++] = (uint8_t)(0x80 | (src % 127 + 1));
    out[n++] = (uint8_t)(src + 1);
    return n;
}

/* The source put_src wrote at p; *end past it. */
static uint32_t get_src(const char *p, const char **end)
{
    const uint8_t *q = (const uint8_t *)p;
    uint32_t h = 0, mult = 1;
    for (; *q & 0x80; q++, mult *= 127)
        h += ((uint32_t)(*q & 0x7f) - 1) * mult;
    h += ((uint32_t)*q - 1) * mult;
    *end = (const char *)q + 1;
    return h;
}

/* Whether id is a prefix then a canonical decimal number: the prefix's length into *plen
 * and the number into *num. One pass: the number is read as the digits come, and starts
 * over after any other byte. */
static bool numbered(const char *id, size_t *plen, uint64_t *num)
{
    size_t i = 0, start = 0;
    uint64_t v = 0;
    for (; id[i]; i++) {
        unsigned d = (unsigned)(unsigned char)id[i] - '0';
        if (d > 9) {
            start = i + 1;
            v = 0;
        } else if (i - start < MAX_DIGITS) {
            v = v * 10 + d;
        }
    }
    size_t nd = i - start;
    if (nd == 0 || nd > MAX_DIGITS || (nd > 1 && id[start] == '0') || start > MAX_PREFIX)
        return false;
    *plen = start;
    *num = v;
    return true;
}

/* The class key of (src, the first plen bytes of id) into buf (MAX_PREFIX + 6 bytes). */
static const char *class_key(char *buf, uint32_t src, const char *id, size_t plen)
{
    size_t k = put_src((uint8_t *)buf, src);
    memcpy(buf + k, id, plen);
    buf[k + plen] = '\0';
    return buf;
}

/* The key of a second-form id: into buf when it fits, else a new string in *heap. */
static const char *other_key(char *buf, size_t bn, uint32_t src, const char *id, char **heap)
{
    uint8_t pre[5];
    size_t pn = put_src(pre, src), il = strlen(id);
    char *k = buf;
    *heap = NULL;
    if (pn + il + 1 > bn)
        k = *heap = cm_xmalloc(pn + il + 1);
    memcpy(k, pre, pn);
    memcpy(k + pn, id, il + 1);
    return k;
}

/* ---------- containers ---------- */

/* The position of v in a sorted array of n, or where it would go. */
static uint32_t lower(const uint16_t *a, uint32_t n, uint16_t v)
{
    uint32_t lo = 0, hi = n;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (a[mid] < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static const uint16_t *cont_vals(const struct cont *c)
{
    return c->kind == C_INLINE ? c->u.in : c->u.arr;
}

static bool cont_has(const struct cont *c, uint16_t v)
{
    if (c->kind == C_BITMAP)
        return c->u.bits[v >> 6] >> (v & 63) & 1;
    const uint16_t *a = cont_vals(c);
    uint32_t i = lower(a, c->n, v);
    return i < c->n && a[i] == v;
}

static void to_bitmap(struct cont *c)
{
    uint64_t *bits = cm_xcalloc(1024, sizeof *bits);
    const uint16_t *a = cont_vals(c);
    for (uint32_t i = 0; i < c->n; i++)
        bits[a[i] >> 6] |= (uint64_t)1 << (a[i] & 63);
    if (c->kind == C_ARRAY)
        free(c->u.arr);
    c->u.bits = bits;
    c->kind = C_BITMAP;
}

/* Adds v; false when it was there. */
static bool cont_add(struct cont *c, uint16_t v)
{
    if (c->kind == C_BITMAP) {
        uint64_t bit = (uint64_t)1 << (v & 63);
        if (c->u.bits[v >> 6] & bit)
            return false;
        c->u.bits[v >> 6] |= bit;
        c->n++;
        return true;
    }
    const uint16_t *a = cont_vals(c);
    uint32_t i = lower(a, c->n, v);
    if (i < c->n && a[i] == v)
        return false;
    if (c->n == ARRAY_MAX) {
        to_bitmap(c);
        return cont_add(c, v);
    }
    if (c->kind == C_INLINE && c->n == INLINE_MAX) {
        uint16_t *arr = cm_xmalloc(2 * INLINE_MAX * sizeof *arr);
        memcpy(arr, c->u.in, sizeof c->u.in);
        c->u.arr = arr;
        c->cap = 2 * INLINE_MAX;
        c->kind = C_ARRAY;
    } else if (c->kind == C_ARRAY && c->n == c->cap) {
        c->cap = (uint16_t)(c->cap * 2);
        c->u.arr = cm_xrealloc(c->u.arr, c->cap * sizeof *c->u.arr);
    }
    uint16_t *w = c->kind == C_INLINE ? c->u.in : c->u.arr;
    memmove(w + i + 1, w + i, (c->n - i) * sizeof *w);
    w[i] = v;
    c->n++;
    return true;
}

static uint64_t cont_key(uint32_t cls, uint64_t num)
{
    return (uint64_t)cls << 44 | num >> 16;
}

/* Calls fn for every value of c, in increasing order. */
static void cont_each(const struct cont *c, void (*fn)(void *arg, uint16_t v), void *arg)
{
    if (c->kind == C_BITMAP) {
        for (uint32_t w = 0; w < 1024; w++)
            for (uint64_t b = c->u.bits[w]; b; b &= b - 1)
                fn(arg, (uint16_t)(w * 64 + __builtin_ctzll(b)));
        return;
    }
    const uint16_t *a = cont_vals(c);
    for (uint32_t k = 0; k < c->n; k++)
        fn(arg, a[k]);
}

static void cont_free(struct cont *c)
{
    if (c->kind == C_ARRAY)
        free(c->u.arr);
    else if (c->kind == C_BITMAP)
        free(c->u.bits);
}

/* The id numbered high * 2^16 + v of a class with the given prefix into buf (MAX_PREFIX +
 * MAX_DIGITS + 1 bytes). */
static const char *num_id(char *buf, const char *prefix, size_t plen, uint64_t high, uint16_t v)
{
    char digits[MAX_DIGITS + 1];
    uint64_t num = high << 16 | v;
    size_t nd = 0;
    do {
        digits[nd++] = (char)('0' + num % 10);
        num /= 10;
    } while (num);
    memcpy(buf, prefix, plen);
    for (size_t i = 0; i < nd; i++)
        buf[plen + i] = digits[nd - 1 - i];
    buf[plen + nd] = '\0';
    return buf;
}

/* ---------- UUIDs ---------- */

/* Whether id is a UUID as written canonically, 8-4-4-4-12 hex digits whose letters are
 * all lower case or all upper case (digits alone count as lower case), with a source
 * that fits a tag: its 16 bytes and tag into *out. Any other spelling (mixed case,
 * braces, no hyphens) is another id, and takes the second form. */
static bool uuid_form(const char *id, uint32_t src, struct uu *out)
{
    if (src >= 1u << 31)
        return false;
    bool lower = false, upper = false;
    size_t k = 0;
    for (size_t i = 0; i < 36; i++) {
        unsigned char c = (unsigned char)id[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-')
                return false;
            continue;
        }
        int v = cm_hexval(c);
        if (v < 0)
            return false;
        lower |= c >= 'a';
        upper |= c >= 'A' && c <= 'F';
        if (k & 1)
            out->b[k / 2] |= (uint8_t)v;
        else
            out->b[k / 2] = (uint8_t)(v << 4);
        k++;
    }
    if (id[36] || (lower && upper))
        return false;
    out->tag = src << 1 | upper;
    return true;
}

/* The UUID at position i (0-based). */
static struct uu *uu_at(const cm_idset *s, size_t i)
{
    return &s->uu[i / UU_CHUNK][i % UU_CHUNK];
}

static uint64_t uu_hash(const struct uu *u)
{
    uint64_t a, b;
    memcpy(&a, u->b, 8);
    memcpy(&b, u->b + 8, 8);
    uint64_t h = (a ^ (b * 0x9e3779b97f4a7c15ULL) ^ u->tag) * 0xff51afd7ed558ccdULL;
    return h ^ h >> 29;
}

/* The table's slot holding u, or the empty slot where it would go. */
static uint32_t *uu_find(const cm_idset *s, const struct uu *u)
{
    size_t i = (size_t)uu_hash(u) & (s->uucap - 1);
    for (;; i = (i + 1) & (s->uucap - 1)) {
        uint32_t *sl = &s->uut[i];
        if (!*sl)
            return sl;
        const struct uu *x = uu_at(s, *sl - 1);
        if (x->tag == u->tag && !memcmp(x->b, u->b, 16))
            return sl;
    }
}

static bool uu_has(const cm_idset *s, const struct uu *u)
{
    return s->uucap && *uu_find(s, u) != 0;
}

static void uu_grow(cm_idset *s)
{
    free(s->uut);
    s->uucap = s->uucap ? s->uucap * 2 : 1024;
    s->uut = cm_xcalloc(s->uucap, sizeof *s->uut);
    for (size_t i = 0; i < s->nuu; i++)
        *uu_find(s, uu_at(s, i)) = (uint32_t)(i + 1);
}

static bool uu_add(cm_idset *s, const struct uu *u)
{
    if (uu_has(s, u))
        return false;
    if (s->nuu >= UINT32_MAX - 1)
        cm_oom(s->nuu); /* positions are 32-bit */
    if ((s->nuu + 1) * 4 >= s->uucap * 3)
        uu_grow(s);
    size_t chunk = s->nuu / UU_CHUNK;
    if (s->nuu % UU_CHUNK == 0) {
        if (chunk == s->capchunks) {
            s->capchunks = s->capchunks ? s->capchunks * 2 : 16;
            s->uu = cm_xrealloc(s->uu, s->capchunks * sizeof *s->uu);
        }
        s->uu[chunk] = cm_xmalloc(UU_CHUNK * sizeof **s->uu);
    }
    *uu_at(s, s->nuu) = *u;
    *uu_find(s, u) = (uint32_t)++s->nuu;
    return true;
}

/* The text of u into buf (37 bytes). */
static const char *uu_text(char *buf, const struct uu *u)
{
    const char *digits = u->tag & 1 ? "0123456789ABCDEF" : "0123456789abcdef";
    size_t o = 0;
    for (size_t k = 0; k < 16; k++) {
        if (k == 4 || k == 6 || k == 8 || k == 10)
            buf[o++] = '-';
        buf[o++] = digits[u->b[k] >> 4];
        buf[o++] = digits[u->b[k] & 15];
    }
    buf[o] = '\0';
    return buf;
}

/* ---------- the set ---------- */

/* The class of (src, the first plen bytes of id), made when add is true and there is
 * room for one more; 0 when there is none. */
static uint32_t class_of(cm_idset *s, uint32_t src, const char *id, size_t plen, bool add)
{
    if (s->last_cls && s->last_src == src && s->last_plen == plen &&
        !memcmp(s->last_prefix, id, plen))
        return s->last_cls;
    char buf[MAX_PREFIX + 8];
    const char *ck = class_key(buf, src, id, plen);
    uint32_t cls = cm_intern_find(s->cls, ck);
    if (!cls && add && cm_intern_count(s->cls) < MAX_CLASSES)
        cls = cm_intern_add(s->cls, ck);
    if (cls) {
        s->last_src = src;
        s->last_cls = cls;
        s->last_plen = plen;
        memcpy(s->last_prefix, id, plen);
    }
    return cls;
}

struct demoting {
    cm_strset *other;
    uint32_t src;
    const char *prefix;
    size_t plen;
    uint64_t high;
};

static void demote_one(void *arg, uint16_t v)
{
    struct demoting *d = arg;
    char id[MAX_PREFIX + MAX_DIGITS + 2], kb[512], *heap;
    num_id(id, d->prefix, d->plen, d->high, v);
    cm_strset_add(d->other, other_key(kb, sizeof kb, d->src, id, &heap));
    free(heap);
}

/* Moves every id of class cls to the second form, for good. */
static void demote(cm_idset *s, uint32_t cls)
{
    struct demoting d = {.other = s->other};
    d.src = get_src(cm_intern_str(s->cls, cls), &d.prefix);
    d.plen = strlen(d.prefix);
    size_t keep = 0;
    for (size_t i = 0; i < s->nc; i++) {
        struct cont *c = &s->c[i];
        if (c->key >> 44 != cls) {
            s->c[keep++] = *c;
            continue;
        }
        d.high = c->key & (((uint64_t)1 << 44) - 1);
        cont_each(c, demote_one, &d);
        cont_free(c);
    }
    s->nc = keep;
    cm_u64map_free(&s->index);
    for (size_t i = 0; i < s->nc; i++)
        cm_u64map_put(&s->index, s->c[i].key, (uint32_t)i);
    s->ci[cls] = (struct cls_info){.strings = true};
}

bool cm_idset_has(cm_idset *s, uint32_t src, const char *id)
{
    size_t plen;
    uint64_t num;
    struct uu u;
    if (uuid_form(id, src, &u))
        return uu_has(s, &u);
    if (numbered(id, &plen, &num)) {
        uint32_t cls = class_of(s, src, id, plen, false);
        if (cls && !s->ci[cls].strings) {
            uint32_t at;
            return cm_u64map_get(&s->index, cont_key(cls, num), &at) &&
                   cont_has(&s->c[at], (uint16_t)num);
        }
        /* a class never made (the id may have come when there was no room for one) or
         * demoted: the id is a string if anything */
    }
    char kb[512], *heap;
    bool has = cm_strset_has(s->other, other_key(kb, sizeof kb, src, id, &heap));
    free(heap);
    return has;
}

bool cm_idset_add(cm_idset *s, uint32_t src, const char *id)
{
    size_t plen;
    uint64_t num;
    bool added;
    struct uu u;
    if (uuid_form(id, src, &u)) {
        added = uu_add(s, &u);
        s->len += added;
        return added;
    }
    if (numbered(id, &plen, &num)) {
        uint32_t cls = class_of(s, src, id, plen, true);
        if (cls >= s->capci) {
            size_t cap = s->capci ? s->capci * 2 : 16;
            while (cap <= cls)
                cap *= 2;
            s->ci = cm_xrealloc(s->ci, cap * sizeof *s->ci);
            memset(s->ci + s->capci, 0, (cap - s->capci) * sizeof *s->ci);
            s->capci = cap;
        }
        if (cls && !s->ci[cls].strings) {
            struct cls_info *ci = &s->ci[cls];
            uint64_t key = cont_key(cls, num);
            uint32_t at;
            if (!cm_u64map_get(&s->index, key, &at)) {
                if (s->nc == s->capc) {
                    s->capc = s->capc ? s->capc * 2 : 16;
                    s->c = cm_xrealloc(s->c, s->capc * sizeof *s->c);
                }
                at = (uint32_t)s->nc++;
                s->c[at] = (struct cont){.key = key, .kind = C_INLINE};
                cm_u64map_put(&s->index, key, at);
                ci->conts++;
            }
            added = cont_add(&s->c[at], (uint16_t)num);
            s->len += added;
            ci->ids += added;
            if (ci->ids >= DEMOTE_MIN && (uint64_t)ci->conts * 5 > (uint64_t)ci->ids * 2)
                demote(s, cls);
            return added;
        }
    }
    char kb[512], *heap;
    added = cm_strset_add(s->other, other_key(kb, sizeof kb, src, id, &heap));
    free(heap);
    s->len += added;
    return added;
}

struct each_other {
    void (*fn)(void *arg, uint32_t src, const char *id);
    void *arg;
};

static void each_other(void *arg, const char *key)
{
    struct each_other *e = arg;
    const char *id;
    uint32_t src = get_src(key, &id);
    e->fn(e->arg, src, id);
}

static int cmp_cont(const void *a, const void *b)
{
    uint64_t x = (*(const struct cont *const *)a)->key, y = (*(const struct cont *const *)b)->key;
    return (x > y) - (x < y);
}

struct each_num {
    void (*fn)(void *arg, uint32_t src, const char *id);
    void *arg;
    uint32_t src;
    const char *prefix;
    size_t plen;
    uint64_t high;
};

static void each_num(void *arg, uint16_t v)
{
    struct each_num *e = arg;
    char buf[MAX_PREFIX + MAX_DIGITS + 2];
    e->fn(e->arg, e->src, num_id(buf, e->prefix, e->plen, e->high, v));
}

void cm_idset_each(const cm_idset *s, void (*fn)(void *arg, uint32_t src, const char *id),
                   void *arg)
{
    struct each_other e = {fn, arg};
    cm_strset_each(s->other, each_other, &e);
    char text[37];
    for (size_t i = 0; i < s->nuu; i++) {
        const struct uu *u = uu_at(s, i);
        fn(arg, u->tag >> 1, uu_text(text, u));
    }
    const struct cont **order = cm_xmalloc((s->nc + 1) * sizeof *order);
    for (size_t i = 0; i < s->nc; i++)
        order[i] = &s->c[i];
    qsort(order, s->nc, sizeof *order, cmp_cont);
    for (size_t i = 0; i < s->nc; i++) {
        const struct cont *c = order[i];
        struct each_num en = {.fn = fn, .arg = arg};
        en.src = get_src(cm_intern_str(s->cls, (uint32_t)(c->key >> 44)), &en.prefix);
        en.plen = strlen(en.prefix);
        en.high = c->key & (((uint64_t)1 << 44) - 1);
        cont_each(c, each_num, &en);
    }
    free(order);
}

size_t cm_idset_bytes(const cm_idset *s)
{
    size_t b = sizeof *s + s->capc * sizeof *s->c + s->capci * sizeof *s->ci +
               cm_u64map_bytes(&s->index) + cm_strset_bytes(s->other) +
               s->capchunks * sizeof *s->uu + s->uucap * sizeof *s->uut;
    for (size_t i = 0; i * UU_CHUNK < s->nuu; i++)
        b += UU_CHUNK * sizeof **s->uu;
    for (size_t i = 0; i < s->nc; i++)
        if (s->c[i].kind == C_ARRAY)
            b += s->c[i].cap * sizeof *s->c[i].u.arr;
        else if (s->c[i].kind == C_BITMAP)
            b += 1024 * sizeof *s->c[i].u.bits;
    return b;
}
