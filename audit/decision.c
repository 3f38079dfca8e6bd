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

void aud_finding_free(aud_finding *f)
{
    free(f->rule);
    free(f->message);
    free(f->resource);
    free(f->exemption);
    for (size_t i = 0; i < f->ntags; i++)
        free(f->tags[i]);
    free(f->tags);
    for (size_t i = 0; i < f->ncompliance; i++) {
        free(f->standards[i]);
        free(f->controls[i]);
    }
    free(f->standards);
    free(f->controls);
}

static void rec_clear(aud_rec *r)
{
    free(r->subject);
    for (size_t i = 0; i < r->nf; i++)
        aud_finding_free(&r->f[i]);
    free(r->f);
    for (size_t i = 0; i < r->na; i++) {
        free(r->a[i].from);
        free(r->a[i].to);
        free(r->a[i].error);
    }
    free(r->a);
    free(r->st.key_uri);
    for (size_t i = 0; i < r->st.nreasons; i++)
        free(r->st.reasons[i]);
    free(r->st.reasons);
    memset(r, 0, sizeof *r);
}

void aud_decision_clear(aud_decision *d)
{
    for (size_t i = 0; i < d->nrecs; i++)
        rec_clear(&d->recs[i]);
    free(d->recs);
    free(d->reason);
    free(d->cause);
    free(d->event_type);
    free(d->time);
    free(d->input);
    free(d->derived_type);
    free(d->derived_id);
    memset(d, 0, sizeof *d);
}

aud_rec *aud_decision_add(aud_decision *d, const char *subject)
{
    if (d->nrecs == d->caprecs) {
        d->caprecs = d->caprecs ? d->caprecs * 2 : 4;
        d->recs = cm_xrealloc(d->recs, d->caprecs * sizeof *d->recs);
    }
    aud_rec *r = &d->recs[d->nrecs++];
    memset(r, 0, sizeof *r);
    r->subject = cm_strdup(subject);
    return r;
}

aud_finding *aud_rec_finding(aud_rec *r)
{
    if (r->nf == r->capf) {
        r->capf = r->capf ? r->capf * 2 : 4;
        r->f = cm_xrealloc(r->f, r->capf * sizeof *r->f);
    }
    aud_finding *f = &r->f[r->nf++];
    memset(f, 0, sizeof *f);
    return f;
}

aud_action *aud_rec_action(aud_rec *r)
{
    if (r->na == r->capa) {
        r->capa = r->capa ? r->capa * 2 : 4;
        r->a = cm_xrealloc(r->a, r->capa * sizeof *r->a);
    }
    aud_action *a = &r->a[r->na++];
    memset(a, 0, sizeof *a);
    return a;
}
