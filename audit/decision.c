#include "audit/decision.h"

#include <stdlib.h>
#include <string.h>

#include "common/util.h"

const char *aud_outcome_name(enum aud_outcome o)
{
    static const char *const n[] = {"allowed", "denied", "rejected", "duplicate", "failed"};
    return n[o];
}

const char *aud_finding_result(const aud_finding *f)
{
    return f->exemption ? "exempted" : f->unknown ? "unknown" : "match";
}

void aud_decision_reset(aud_decision *d)
{
    aud_rec *recs = d->recs;
    size_t cap = d->caprecs;
    cm_arena arena = d->arena;
    cm_arena_reset(&arena);
    memset(d, 0, sizeof *d);
    d->recs = recs;
    d->caprecs = cap;
    d->arena = arena;
}

void aud_decision_clear(aud_decision *d)
{
    free(d->recs);
    cm_arena_free(&d->arena);
    memset(d, 0, sizeof *d);
}

const char *aud_decision_str(aud_decision *d, const char *s)
{
    return cm_arena_strdup(&d->arena, s);
}

const char *aud_decision_strn(aud_decision *d, const char *s, size_t n)
{
    return cm_arena_strndup(&d->arena, s, n);
}

aud_rec *aud_decision_add(aud_decision *d, const char *subject)
{
    if (d->nrecs == d->caprecs) {
        d->caprecs = d->caprecs ? d->caprecs * 2 : 4;
        d->recs = cm_xrealloc(d->recs, d->caprecs * sizeof *d->recs);
    }
    aud_rec *r = &d->recs[d->nrecs++];
    memset(r, 0, sizeof *r);
    r->subject = cm_arena_strdup(&d->arena, subject);
    return r;
}

/* Makes room for one more element of a list in the arena: doubles it when full. */
static void *room(aud_decision *d, void *list, size_t n, size_t *cap, size_t size)
{
    if (n < *cap)
        return list;
    size_t ncap = *cap ? *cap * 2 : 4;
    list = cm_arena_grow(&d->arena, list, *cap * size, ncap * size);
    *cap = ncap;
    return list;
}

aud_finding *aud_rec_finding(aud_decision *d, aud_rec *r)
{
    r->f = room(d, r->f, r->nf, &r->capf, sizeof *r->f);
    aud_finding *f = &r->f[r->nf++];
    memset(f, 0, sizeof *f);
    return f;
}

aud_action *aud_rec_action(aud_decision *d, aud_rec *r)
{
    r->a = room(d, r->a, r->na, &r->capa, sizeof *r->a);
    aud_action *a = &r->a[r->na++];
    memset(a, 0, sizeof *a);
    return a;
}
