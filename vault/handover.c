/* Resources that leave for another tenant's partition (vault/state.h, SPEC §7a): the
 * moves noted at commit, the resources taken out with their documents and MACs, and the
 * check of a MAC where they arrive. */
#include <stdlib.h>
#include <string.h>

#include "vault/internal.h"

#define HANDOVER_INFO "cmkguard handover v1"

void vlt_state_set_handover(vlt_state *s, bool on)
{
    s->handover = on;
}

void vlt_handover_note(vlt_txn *t)
{
    vlt_state *s = t->s;
    const vlt_event *ev = t->ev;
    const vlt_resource *r = t->moved ? vlt_txn_resource_at(t, t->subject, false) : NULL;
    if (!s->handover || !r || !ev || !ev->tenant)
        return;
    if (s->nmoved == s->capmoved) {
        s->capmoved = s->capmoved ? s->capmoved * 2 : 4;
        s->moved = cm_xrealloc(s->moved, s->capmoved * sizeof *s->moved);
    }
    s->moved[s->nmoved++] = (vlt_handover){.id = cm_strdup(r->id),
                                           .tenant = cm_strdup(r->tenant),
                                           .subscription = cm_strdup(r->subscription),
                                           .cause = cm_strdup(ev->id),
                                           .source = cm_strdup(ev->source),
                                           .time = cm_strdup(ev->time)};
}

static void handover_clear(vlt_handover *h)
{
    free(h->id);
    free(h->tenant);
    free(h->subscription);
    free(h->cause);
    free(h->source);
    free(h->time);
    free(h->doc); /* wrapped keys only */
    free(h->mac);
}

void vlt_handovers_free(vlt_handover *h, size_t n)
{
    for (size_t i = 0; i < n; i++)
        handover_clear(&h[i]);
    free(h);
}

/* The MAC (hex, 2 * CRY_MAC_LEN + 1) over id, tenant and doc, each with its NUL. */
static int handover_mac(vlt_state *s, const char *id, const char *tenant, const char *doc,
                        char *hex)
{
    cry_secret *k = cry_hkdf(s->master, HANDOVER_INFO, 32);
    cry_mac *m = k ? cry_mac_new(k) : NULL;
    uint8_t out[CRY_MAC_LEN];
    int rc = m && cry_mac_begin(m) == 0 && cry_mac_update(m, id, strlen(id) + 1) == 0 &&
                     cry_mac_update(m, tenant, strlen(tenant) + 1) == 0 &&
                     cry_mac_update(m, doc, strlen(doc) + 1) == 0 && cry_mac_final(m, out) == 0
                 ? 0
                 : -1;
    if (rc == 0)
        cm_hex(out, sizeof out, hex);
    cry_mac_free(m);
    cry_secret_free(k);
    return rc;
}

bool vlt_handover_check(vlt_state *s, const char *id, const char *tenant, const char *doc,
                        const char *mac)
{
    char want[2 * CRY_MAC_LEN + 1];
    if (!id || !tenant || !doc || !mac || strlen(mac) != 2 * CRY_MAC_LEN ||
        handover_mac(s, id, tenant, doc, want) < 0)
        return false;
    char lower[2 * CRY_MAC_LEN + 1];
    for (size_t i = 0; i <= 2 * CRY_MAC_LEN; i++)
        lower[i] = (char)(mac[i] >= 'A' && mac[i] <= 'F' ? mac[i] - 'A' + 'a' : mac[i]);
    return cry_memeq(want, lower, 2 * CRY_MAC_LEN);
}

int vlt_state_hand_over(vlt_state *s, vlt_handover **out, size_t *n, cm_err *err)
{
    *out = NULL;
    *n = 0;
    size_t k = 0;
    int rc = 0;
    for (size_t i = 0; i < s->nmoved; i++) {
        vlt_handover *h = &s->moved[i];
        uint32_t rh = cm_intern_find(s->rids, h->id);
        const vlt_resource *r = rh ? cm_itab_at(&s->resources, rh) : NULL;
        char mac[2 * CRY_MAC_LEN + 1];
        cm_buf b;
        cm_jw j;
        cm_buf_init(&b, 0);
        cm_jw_init(&j, &b);
        if (r)
            vlt_doc_of(VLT_T_RESOURCE, r, &j);
        if (!r || rc < 0 || cm_jw_done(&j) < 0 || handover_mac(s, h->id, h->tenant, b.p, mac) < 0) {
            if (r && rc == 0) {
                cm_err_set(err, h->id, 0, 0, "cannot hand the resource over to tenant %s",
                           h->tenant);
                rc = -1;
            }
            cm_buf_free(&b);
            handover_clear(h); /* (deleted since: nothing to hand over) */
            continue;
        }
        h->doc = cm_buf_take(&b);
        h->mac = cm_strdup(mac);
        vlt_txn *t = vlt_txn_begin(s); /* it leaves: its DEK is wiped with it */
        vlt_txn_put_res_at(t, rh, NULL);
        vlt_txn_commit(t);
        s->moved[k++] = *h;
    }
    s->nmoved = 0;
    if (rc < 0 || !k) {
        vlt_handovers_free(s->moved, k);
        s->moved = NULL;
        s->capmoved = 0;
        return rc;
    }
    *out = s->moved;
    *n = k;
    s->moved = NULL;
    s->capmoved = 0;
    return 0;
}
