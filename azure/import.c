/* import: bare ARM bodies -> the cmkguard events that build that estate (SPEC §6).
 *
 * Bodies are observed in dependency order (vaults, role assignments, keys, accounts)
 * against a scratch in-memory state to which every derived event is applied, so that
 * each body sees what the earlier ones built (a second version of a key rotates it; a
 * second assignment covering the same vault grants nothing new). The events are then
 * written ordered as SPEC §6 asks — vaults, keys, access, resources created on MMK,
 * their identities, their CMK bindings — each kind by the ids of the bodies, so the
 * order of the files does not matter.
 *
 * Ids are derived from the event itself: "import:" + the first 32 hex digits of the
 * SHA-256 of its JSON with an empty id, so the same bodies and time give the same
 * bytes, and importing twice into one state is a duplicate, not a second change.
 * Time: --time, else the latest time the bodies state (systemData.lastModifiedAt or
 * createdAt, a key's attributes.updated or created), else 1970-01-01T00:00:00Z. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "azure/internal.h"
#include "common/json.h"
#include "crypto/crypto.h"

#define MAX_BODIES 100000

typedef struct body {
    yajl_val v;         /* borrowed from a document */
    const char *tenant; /* Resource Graph's tenantId column, or NULL */
    char where[600];
    int rank;   /* observation order: 0 vaults, 1 role assignments, 2 keys, 3 accounts */
    size_t seq; /* as given */
} body;

struct az_import {
    char *time;
    bool time_given;
    char latest[32];
    yajl_val *docs;
    size_t ndocs;
    body *b;
    size_t nb, capb;
};

az_import *az_import_new(const char *time)
{
    az_import *im = cm_xcalloc(1, sizeof *im);
    im->time_given = time != NULL;
    im->time = cm_strdup(time ? time : AZ_IMPORT_TIME);
    return im;
}

void az_import_free(az_import *im)
{
    if (!im)
        return;
    for (size_t i = 0; i < im->ndocs; i++)
        yajl_tree_free(im->docs[i]);
    free(im->docs);
    free(im->b);
    free(im->time);
    free(im);
}

static int rank_of(yajl_val v)
{
    const char *k = az_body_kind(v);
    if (!k)
        return -1;
    if (!strcmp(k, "Microsoft.KeyVault/vaults"))
        return 0;
    if (!strcmp(k, "Microsoft.Authorization/roleAssignments"))
        return 1;
    if (!strcmp(k, "Microsoft.CognitiveServices/accounts"))
        return 3;
    return 2;
}

/* A time a body states about itself, as "YYYY-MM-DDTHH:MM:SS" for comparing. */
static void note_time(az_import *im, yajl_val obj, const char *name)
{
    az_obs o = {0};
    az_rd r = {&o, "", false};
    const char *t;
    if (az_time(&r, obj, "", name, &t) > 0 && strlen(t) >= 19 && t[10] == 'T') {
        char c[32];
        snprintf(c, sizeof c, "%.19sZ", t);
        if (strcmp(c, im->latest) > 0)
            memcpy(im->latest, c, sizeof c);
    }
    az_obs_clear(&o);
}

static void note_times(az_import *im, yajl_val v)
{
    yajl_val sd = az_get(v, "systemData"), props = az_get(v, "properties");
    note_time(im, sd, "lastModifiedAt");
    note_time(im, sd, "createdAt");
    yajl_val attrs = az_get(props, "attributes");
    if (!attrs)
        attrs = az_get(v, "attributes");
    note_time(im, attrs, "updated");
    note_time(im, attrs, "created");
}

static int add_body(az_import *im, yajl_val v, const char *tenant, const char *where, size_t pos,
                    bool listed, cm_err *err)
{
    int rank = YAJL_IS_OBJECT(v) ? rank_of(v) : -1;
    if (rank < 0) {
        yajl_val t = az_get(v, "type");
        cm_err_set(err, where, 0, 0, "%s%zu%s%s%.200s%s", listed ? "body " : "",
                   listed ? pos + 1 : 0, listed ? ": " : "",
                   !YAJL_IS_OBJECT(v)  ? "not a JSON object"
                   : YAJL_IS_STRING(t) ? "type '"
                                       : "no type: not an ARM body, nor a key in "
                                         "data-plane form (key.kid)",
                   YAJL_IS_OBJECT(v) && YAJL_IS_STRING(t) ? t->u.string : "",
                   YAJL_IS_OBJECT(v) && YAJL_IS_STRING(t) ? "' is not a resource cmkguard imports"
                                                          : "");
        return -1;
    }
    if (im->nb >= MAX_BODIES) {
        cm_err_set(err, where, 0, 0, "more than %d bodies", MAX_BODIES);
        return -1;
    }
    if (im->nb == im->capb) {
        im->capb = im->capb ? im->capb * 2 : 16;
        im->b = cm_xrealloc(im->b, im->capb * sizeof *im->b);
    }
    body *b = &im->b[im->nb++];
    b->v = v;
    b->tenant = tenant;
    b->rank = rank;
    b->seq = im->nb - 1;
    if (listed)
        snprintf(b->where, sizeof b->where, "%s: body %zu", where, pos + 1);
    else
        snprintf(b->where, sizeof b->where, "%s", where);
    note_times(im, v);
    return 0;
}

int az_import_add(az_import *im, const char *json, size_t n, const char *where, cm_err *err)
{
    char reason[512];
    if (n >= 3 && !memcmp(json, "\xEF\xBB\xBF", 3)) {
        json += 3;
        n -= 3;
    }
    yajl_val v = az_json_parse(json, n, reason, sizeof reason);
    if (!v) {
        cm_err_set(err, where, 0, 0, "%s", reason);
        return -1;
    }
    im->docs = cm_xrealloc(im->docs, (im->ndocs + 1) * sizeof *im->docs);
    im->docs[im->ndocs++] = v;
    /* Resource Graph: {"data": [rows]}, rows carrying tenantId and subscriptionId. */
    yajl_val data = YAJL_IS_OBJECT(v) && !az_get(v, "type") ? az_get(v, "data") : NULL;
    if (YAJL_IS_ARRAY(data)) {
        for (size_t i = 0; i < data->u.array.len; i++) {
            yajl_val row = data->u.array.values[i], t = az_get(row, "tenantId");
            if (add_body(im, row, YAJL_IS_STRING(t) ? t->u.string : NULL, where, i, true, err) < 0)
                return -1;
        }
        return 0;
    }
    if (YAJL_IS_ARRAY(v)) {
        for (size_t i = 0; i < v->u.array.len; i++)
            if (add_body(im, v->u.array.values[i], NULL, where, i, true, err) < 0)
                return -1;
        return 0;
    }
    return add_body(im, v, NULL, where, 0, false, err);
}

/* Where each derived event goes in the output (SPEC §6). */
/* Where a line goes: the SPEC §6 order, with the Azure facts of vaults and role
 * assignments (AZ_FACTS) right after the access they explain. */
#define AZ_FACTS "Microsoft.ResourceNotifications."
static int bucket(const char *type)
{
    static const char *const order[] = {
        "vault.upserted",     "key.",     "vault.access.", AZ_FACTS, "resource.created",
        "resource.identity.", "resource."};
    for (size_t i = 0; i < CM_ARRAY_LEN(order); i++)
        if (!strncmp(type, order[i], strlen(order[i])))
            return (int)i;
    return (int)CM_ARRAY_LEN(order);
}

typedef struct line {
    int bucket;
    size_t seq;
    char *json;
} line;

static int cmp_line(const void *a, const void *b)
{
    const line *x = a, *y = b;
    if (x->bucket != y->bucket)
        return x->bucket < y->bucket ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* A parsed JSON value written back as JSON (numbers as they were written). */
static void json_of(cm_jw *j, yajl_val v)
{
    if (YAJL_IS_STRING(v)) {
        cm_jw_str(j, v->u.string);
    } else if (YAJL_IS_NUMBER(v)) {
        cm_jw_raw(j, v->u.number.r, strlen(v->u.number.r));
    } else if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v)) {
        cm_jw_bool(j, YAJL_IS_TRUE(v));
    } else if (YAJL_IS_OBJECT(v)) {
        cm_jw_obj_begin(j);
        for (size_t i = 0; i < v->u.object.len; i++) {
            cm_jw_key(j, v->u.object.keys[i]);
            json_of(j, v->u.object.values[i]);
        }
        cm_jw_obj_end(j);
    } else if (YAJL_IS_ARRAY(v)) {
        cm_jw_arr_begin(j);
        for (size_t i = 0; i < v->u.array.len; i++)
            json_of(j, v->u.array.values[i]);
        cm_jw_arr_end(j);
    } else {
        cm_jw_null(j);
    }
}

/* The facts a body teaches that cmkguard's own events cannot carry (a vault's ARM id
 * and permission model, what a role assignment grants, so that a later Deleted
 * notification can withdraw it): the body as a Resource Notification, which replay
 * observes and which derives nothing the events before it have not done already.
 * -1 when js hit its bound. */
static int facts_line(cm_buf *js, yajl_val b, const char *time)
{
    yajl_val id = az_get(b, "id");
    cm_buf_reset(js);
    cm_jw j;
    cm_jw_init(&j, js);
    cm_jw_obj_begin(&j);
    cm_jw_kstr(&j, "specversion", "1.0");
    cm_jw_kstr(&j, "id", "");
    cm_jw_kstr(&j, "source", AZ_IMPORT_SOURCE);
    cm_jw_kstr(&j, "type", "Microsoft.ResourceNotifications.Resources.CreatedOrUpdated");
    cm_jw_kstr(&j, "subject", YAJL_IS_STRING(id) ? id->u.string : "");
    cm_jw_kstr(&j, "time", time);
    cm_jw_key(&j, "data");
    cm_jw_obj_begin(&j);
    cm_jw_key(&j, "resourceInfo");
    json_of(&j, b);
    cm_jw_obj_end(&j);
    cm_jw_obj_end(&j);
    return cm_jw_done(&j);
}

/* The line's id: "import:" and 32 hex digits of the SHA-256 of the line without one. */
static void line_id(const cm_buf *js, char id[48])
{
    uint8_t h[CRY_HASH_LEN];
    cry_sha256(js->p, js->len, h);
    char hex[2 * CRY_HASH_LEN + 1];
    cm_hex(h, sizeof h, hex);
    snprintf(id, 48, "import:%.32s", hex);
}

/* Applies a derived event to the scratch state, as replay will (no rules). */
static void apply(vlt_state *st, const az_event *e, const char *time)
{
    vlt_event ev;
    char reason[512];
    if (az_event_vlt(e, &ev) < 0)
        return;
    ev.id = "import";
    ev.source = AZ_IMPORT_SOURCE;
    ev.time = time;
    vlt_txn *t = vlt_txn_begin(st);
    if (vlt_txn_apply(t, &ev, reason, sizeof reason) == 0) {
        size_t n;
        vlt_txn_affected(t, false, &n);
        if (vlt_txn_settle(t, reason, sizeof reason) == 0) {
            vlt_txn_commit(t);
            return;
        }
    }
    vlt_txn_abort(t);
}

static const char *body_id(const body *b)
{
    yajl_val id = az_get(b->v, "id");
    if (!YAJL_IS_STRING(id))
        id = az_get(az_get(b->v, "key"), "kid");
    return YAJL_IS_STRING(id) ? id->u.string : "";
}

/* Bodies in observation order: by rank, then by id without case, then as given. */
static int cmp_body(const void *a, const void *b)
{
    const body *x = a, *y = b;
    if (x->rank != y->rank)
        return x->rank < y->rank ? -1 : 1;
    int c = strcasecmp(body_id(x), body_id(y));
    if (c)
        return c;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

int az_import_write(az_import *im, cm_buf *out, cm_err *err)
{
    if (im->nb)
        qsort(im->b, im->nb, sizeof *im->b, cmp_body);
    const char *time = im->time_given || !im->latest[0] ? im->time : im->latest;
    vlt_state *st = vlt_state_open(NULL, NULL, err);
    if (!st)
        return -1;
    line *lines = NULL;
    size_t nl = 0, cap = 0;
    int rc = 0;
    az_obs o = {0};
    cm_buf js;
    cm_buf_init(&js, 0);
    {
        for (size_t i = 0; i < im->nb && rc == 0; i++) {
            az_obs_clear(&o);
            az_rd r = {&o, im->b[i].where, false};
            if (az_body(&r, im->b[i].v, false, im->b[i].tenant, st) < 0) {
                cm_err_set(err, "import", 0, 0, "%s", o.reason);
                rc = -1;
                break;
            }
            az_observe(&o, st);
            char id[48];
            for (size_t k = 0; k <= o.nev; k++) {
                /* Only vaults and role assignments teach facts events cannot carry. */
                if (k == o.nev && (!o.nfacts || im->b[i].rank > 1))
                    break;
                if (k < o.nev) {
                    apply(st, &o.ev[k], time);
                    cm_buf_reset(&js);
                    if (az_event_json(&o.ev[k], "", AZ_IMPORT_SOURCE, time, &js) == 0) {
                        line_id(&js, id);
                        cm_buf_reset(&js);
                        az_event_json(&o.ev[k], id, AZ_IMPORT_SOURCE, time, &js);
                    }
                } else if (facts_line(&js, im->b[i].v, time) == 0) {
                    line_id(&js, id);
                    char *p = strstr(js.p, "\"id\":\"\"");
                    size_t at = (size_t)(p - js.p) + 6;
                    cm_buf t;
                    cm_buf_init(&t, 0);
                    cm_buf_add(&t, js.p, at);
                    cm_buf_adds(&t, id);
                    cm_buf_adds(&t, js.p + at);
                    cm_buf_free(&js);
                    js = t;
                }
                if (cm_buf_failed(&js)) { /* never a cut line in the output */
                    cm_err_set(err, im->b[i].where, 0, 0, "import line larger than %zu bytes",
                               js.max);
                    rc = -1;
                    break;
                }
                if (nl == cap) {
                    cap = cap ? cap * 2 : 64;
                    lines = cm_xrealloc(lines, cap * sizeof *lines);
                }
                lines[nl] =
                    (line){bucket(k < o.nev ? o.ev[k].type : AZ_FACTS), nl, cm_strdup(js.p)};
                nl++;
            }
        }
    }
    az_obs_clear(&o);
    cm_buf_free(&js);
    if (rc == 0 && nl)
        qsort(lines, nl, sizeof *lines, cmp_line);
    for (size_t i = 0; i < nl; i++) {
        if (rc == 0) {
            cm_buf_adds(out, lines[i].json);
            cm_buf_addc(out, '\n');
        }
        free(lines[i].json);
    }
    free(lines);
    if (rc == 0 && cm_buf_failed(out)) {
        cm_err_set(err, "import", 0, 0, "import output larger than %zu bytes", out->max);
        rc = -1;
    }
    vlt_state_free(st);
    return rc;
}
