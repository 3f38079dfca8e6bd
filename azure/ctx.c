/* The engine's side of Azure input: one message (an event or an Event Grid batch) in,
 * its elements translated one at a time as the previous one's decisions are made, so
 * each element sees the state its predecessors left. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "azure/internal.h"

struct az_ctx {
    yajl_val root;
    yajl_val *elems; /* borrowed from root */
    size_t nelem, next;
    bool batch;
    az_obs cur;      /* the element in hand */
    size_t cur_next; /* its next derived event */
    bool in_elem;
    vlt_event ev; /* the derived event handed out */
    char id[AZ_MAX_ID + 24];
    char reason[1024];
};

az_ctx *az_ctx_new(void)
{
    return cm_xcalloc(1, sizeof(az_ctx));
}

void az_reset(az_ctx *a)
{
    if (!a->root && !a->nelem)
        return;
    yajl_tree_free(a->root);
    free(a->elems);
    az_obs_clear(&a->cur);
    a->root = NULL;
    a->elems = NULL;
    a->nelem = a->next = a->cur_next = 0;
    a->in_elem = a->batch = false;
}

void az_ctx_free(az_ctx *a)
{
    if (!a)
        return;
    az_reset(a);
    free(a);
}

bool az_pending(const az_ctx *a)
{
    return (a->in_elem && a->cur_next < a->cur.nev) || a->next < a->nelem;
}

static bool contains_ci(const char *m, size_t n, const char *w)
{
    size_t wl = strlen(w);
    for (size_t i = 0; i + wl <= n; i++)
        if (tolower((unsigned char)m[i]) == w[0] && !strncasecmp(m + i, w, wl))
            return true;
    return false;
}

bool az_recognise(const char *msg, size_t n, const char *type_name)
{
    size_t i = 0;
    if (n >= 3 && !memcmp(msg, "\xEF\xBB\xBF", 3))
        i = 3;
    while (i < n && (msg[i] == ' ' || msg[i] == '\t' || msg[i] == '\r' || msg[i] == '\n'))
        i++;
    if (i < n && msg[i] == '[')
        return true;
    if (type_name && !strncasecmp(type_name, "Microsoft.", 10))
        return true;
    return contains_ci(msg, n, "\"eventtype\"") || contains_ci(msg, n, "\"microsoft.");
}

int az_load(az_ctx *a, const char *msg, size_t n, char *reason, size_t rn)
{
    az_reset(a);
    if (n >= 3 && !memcmp(msg, "\xEF\xBB\xBF", 3)) {
        msg += 3;
        n -= 3;
    }
    a->root = az_json_parse(msg, n, reason, rn);
    if (!a->root)
        return -1;
    if (YAJL_IS_ARRAY(a->root)) {
        size_t len = a->root->u.array.len;
        if (len == 0 || len > AZ_MAX_BATCH) {
            snprintf(reason, rn, "Event Grid batch: %s", len ? "more than 1024 events" : "empty");
            az_reset(a);
            return -1;
        }
        a->batch = true;
        a->elems = cm_xcalloc(len, sizeof *a->elems);
        memcpy(a->elems, a->root->u.array.values, len * sizeof *a->elems);
        a->nelem = len;
    } else {
        a->elems = cm_xcalloc(1, sizeof *a->elems);
        a->elems[0] = a->root;
        a->nelem = 1;
    }
    return 0;
}

static void item_from(const az_obs *o, az_item *it, enum az_step step)
{
    memset(it, 0, sizeof *it);
    it->step = step;
    it->type = o->type;
    it->id = o->id;
    it->source = o->source;
    it->subject = o->subject;
    it->time = o->time;
}

/* The derived event as the engine decides it. */
static int to_vlt(az_ctx *a, const az_event *e, size_t pos)
{
    snprintf(a->id, sizeof a->id, "%s#%zu", a->cur.id, pos);
    if (az_event_vlt(e, &a->ev) < 0) {
        snprintf(a->reason, sizeof a->reason,
                 "%s: derives %s, an event type this build cannot apply", a->cur.type, e->type);
        return -1;
    }
    a->ev.id = a->id;
    a->ev.source = a->cur.source;
    a->ev.time = a->cur.time;
    return 0;
}

enum az_step az_next(az_ctx *a, vlt_state *st, az_item *it)
{
    for (;;) {
        if (a->in_elem && a->cur_next < a->cur.nev) {
            size_t pos = a->cur_next++;
            if (to_vlt(a, &a->cur.ev[pos], pos + 1) < 0) {
                item_from(&a->cur, it, AZ_REJECTED);
                it->reason = a->reason;
                it->derived_id = a->id;
                it->derived_type = a->cur.ev[pos].type;
                return it->step;
            }
            item_from(&a->cur, it, AZ_EVENT);
            it->ev = &a->ev;
            return it->step;
        }
        a->in_elem = false;
        if (a->next >= a->nelem)
            return AZ_DONE;
        size_t pos = a->next++;
        yajl_val el = a->elems[pos];
        az_obs_clear(&a->cur);
        if (!YAJL_IS_OBJECT(el) || az_translate_val(el, st, &a->cur) < 0) {
            if (!YAJL_IS_OBJECT(el))
                snprintf(a->cur.reason, sizeof a->cur.reason, "not a JSON object");
            item_from(&a->cur, it, AZ_REJECTED);
            if (a->batch)
                snprintf(a->reason, sizeof a->reason, "Event Grid batch, element %zu: %s", pos + 1,
                         a->cur.reason);
            else
                snprintf(a->reason, sizeof a->reason, "%s", a->cur.reason);
            it->reason = a->reason;
            return it->step;
        }
        if (vlt_state_seen(st, a->cur.source, a->cur.id)) {
            item_from(&a->cur, it, AZ_DUPLICATE);
            return it->step;
        }
        az_observe(&a->cur, st);
        if (!a->cur.nev) {
            item_from(&a->cur, it, AZ_UNCHANGED);
            return it->step;
        }
        a->in_elem = true;
        a->cur_next = 0;
    }
}
