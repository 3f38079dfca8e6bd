/* Little-endian integers into a cm_buf, and a bounded reader over bytes whose failure
 * is sticky (as cm_buf's): a parser reads field after field and checks once that
 * nothing ran past the end. Binary formats (vault/delta.c, stream/changelog.c) use it. */
#ifndef CM_LE_H
#define CM_LE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

static inline void cm_put_u8(cm_buf *b, uint8_t v)
{
    cm_buf_addc(b, (char)v);
}

static inline void cm_put_u16(cm_buf *b, uint16_t v)
{
    uint8_t le[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    cm_buf_add(b, le, 2);
}

static inline void cm_put_u32(cm_buf *b, uint32_t v)
{
    uint8_t le[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    cm_buf_add(b, le, 4);
}

static inline void cm_put_u64(cm_buf *b, uint64_t v)
{
    uint8_t le[8];
    for (int i = 0; i < 8; i++)
        le[i] = (uint8_t)(v >> (8 * i));
    cm_buf_add(b, le, 8);
}

/* Writes v at p (4 bytes), for a count known only after what follows it. */
static inline void cm_set_u32(void *p, uint32_t v)
{
    uint8_t *q = p;
    for (int i = 0; i < 4; i++)
        q[i] = (uint8_t)(v >> (8 * i));
}

typedef struct cm_rd {
    const uint8_t *p;
    size_t n, at;
    bool bad; /* a read ran past the end: every later read gives 0 or NULL */
} cm_rd;

static inline cm_rd cm_rd_of(const void *p, size_t n)
{
    cm_rd r = {p, n, 0, false};
    return r;
}

/* The next n bytes (borrowed), or NULL (and r bad) when fewer are left. */
static inline const uint8_t *cm_rd_bytes(cm_rd *r, size_t n)
{
    if (r->bad || r->n - r->at < n) {
        r->bad = true;
        return NULL;
    }
    const uint8_t *q = r->p + r->at;
    r->at += n;
    return q;
}

static inline uint64_t cm_rd_uint(cm_rd *r, size_t n)
{
    const uint8_t *q = cm_rd_bytes(r, n);
    uint64_t v = 0;
    for (size_t i = 0; q && i < n; i++)
        v |= (uint64_t)q[i] << (8 * i);
    return v;
}

static inline uint8_t cm_rd_u8(cm_rd *r)
{
    return (uint8_t)cm_rd_uint(r, 1);
}
static inline uint16_t cm_rd_u16(cm_rd *r)
{
    return (uint16_t)cm_rd_uint(r, 2);
}
static inline uint32_t cm_rd_u32(cm_rd *r)
{
    return (uint32_t)cm_rd_uint(r, 4);
}
static inline uint64_t cm_rd_u64(cm_rd *r)
{
    return cm_rd_uint(r, 8);
}

/* Whether every byte was read and none past the end. */
static inline bool cm_rd_done(const cm_rd *r)
{
    return !r->bad && r->at == r->n;
}
#endif
