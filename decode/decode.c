#include "decode/decode.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yajl/yajl_parse.h>

#include "common/buf.h"
#include "common/timestamp.h"
#include "common/util.h"

enum top_key {
    TK_UNKNOWN = -1,
    TK_SPECVERSION,
    TK_ID,
    TK_TYPE,
    TK_SOURCE,
    TK_SUBJECT,
    TK_TIME,
    TK_DATA,
    TK__COUNT
};
static const char *const top_names[TK__COUNT] = {"specversion", "id",   "type", "source",
                                                 "subject",     "time", "data"};

/* String slots resolved against the arena once parsing is done. */
enum slot {
    S_SPECVERSION,
    S_ID,
    S_TYPE,
    S_SOURCE,
    S_SUBJECT,
    S_TIME,
    S_TENANT,
    S_REGION,
    S_SUBSCRIPTION,
    S_PRINCIPAL,
    S_VERSION,
    S_KTY,
    S_KIND,
    S_KEY_URI,
    S_NBF,
    S_EXP,
    S_STATE,
    S_MAC,
    S__COUNT
};

/* Member names seen in the message, per object: an open-addressing table whose slots
 * belong to one message (gen), so nothing is cleared between messages. */
struct name_slot {
    uint32_t gen, obj, off, len; /* off/len: the name's bytes in names */
    uint64_t h;
};

struct dec_decoder {
    size_t max_message;
    cm_buf arena;
    cm_buf names; /* member names of this message, for duplicates and paths */
    struct name_slot *slots;
    size_t nslots, used; /* nslots: a power of two */
    uint32_t gen, nobj;
    uint32_t obj[DEC_MAX_DEPTH + 2];                                   /* open object per depth */
    uint32_t path_off[DEC_MAX_DEPTH + 2], path_len[DEC_MAX_DEPTH + 2]; /* last name per depth */
    bool path_arr[DEC_MAX_DEPTH + 2];                                  /* depth is an array */
    size_t off[S__COUNT];
    bool set[S__COUNT];
    unsigned top_seen;
    int depth;
    int top_key;
    int data_key;
    bool in_data, data_seen, in_perms;
    vlt_event *ev;
    char *reason;
    size_t reason_len;
    bool failed;
};

__attribute__((format(printf, 2, 3))) static int fail(struct dec_decoder *d, const char *fmt, ...)
{
    if (!d->failed) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(d->reason, d->reason_len, fmt, ap);
        va_end(ap);
    }
    d->failed = true;
    return 0;
}

static int slot_of_data(int f)
{
    switch (f) {
    case VLT_F_TENANT:
        return S_TENANT;
    case VLT_F_REGION:
        return S_REGION;
    case VLT_F_SUBSCRIPTION:
        return S_SUBSCRIPTION;
    case VLT_F_PRINCIPAL:
        return S_PRINCIPAL;
    case VLT_F_VERSION:
        return S_VERSION;
    case VLT_F_KTY:
        return S_KTY;
    case VLT_F_KIND:
        return S_KIND;
    case VLT_F_KEY_URI:
        return S_KEY_URI;
    case VLT_F_NBF:
        return S_NBF;
    case VLT_F_EXP:
        return S_EXP;
    case VLT_F_STATE:
        return S_STATE;
    case VLT_F_MAC:
        return S_MAC;
    default:
        return -1;
    }
}

static bool is_bool_field(int f)
{
    return f == VLT_F_SOFT_DELETE || f == VLT_F_PURGE_PROTECTION;
}

static bool is_int_field(int f)
{
    return f == VLT_F_RETENTION_DAYS || f == VLT_F_SIZE;
}

static const char *type_of(int f)
{
    if (is_bool_field(f))
        return "a boolean";
    if (is_int_field(f))
        return "an integer";
    if (f == VLT_F_PERMISSIONS)
        return "a list of strings";
    if (f == VLT_F_NBF || f == VLT_F_EXP)
        return "an RFC 3339 date-time string";
    return "a string";
}

static int store(struct dec_decoder *d, int slot, const unsigned char *s, size_t n)
{
    if (memchr(s, '\0', n))
        return fail(d, "%s contains a NUL character", slot < S_TENANT ? top_names[slot] : "data");
    d->off[slot] = d->arena.len;
    d->set[slot] = true;
    if (cm_buf_add(&d->arena, s, n) < 0 || cm_buf_addc(&d->arena, '\0') < 0)
        return fail(d, "message too large%s", "");
    return 1;
}

/* Where a scalar lands: top-level member, data member, permission entry, or nowhere. */
enum where { W_NONE, W_TOP, W_DATA, W_PERM };

static enum where where_am_i(struct dec_decoder *d)
{
    if (d->depth == 1)
        return W_TOP;
    if (d->depth == 2 && d->in_data)
        return W_DATA;
    if (d->depth == 3 && d->in_perms)
        return W_PERM;
    return W_NONE;
}

static const char *data_name(struct dec_decoder *d)
{
    return d->data_key >= 0 ? vlt_efield_name((enum vlt_efield)d->data_key) : "?";
}

static int wrong_top(struct dec_decoder *d, const char *what)
{
    char m[96];
    snprintf(m, sizeof m, "%s: expected %s", top_names[d->top_key],
             d->top_key == TK_DATA ? "an object" : "a string");
    (void)what;
    return fail(d, "%s", m);
}

static int wrong_data(struct dec_decoder *d)
{
    char m[96];
    snprintf(m, sizeof m, "data.%s: expected %s", data_name(d), type_of(d->data_key));
    return fail(d, "%s", m);
}

static int on_null(void *ctx)
{
    struct dec_decoder *d = ctx;
    switch (where_am_i(d)) {
    case W_TOP:
        return d->top_key >= 0 ? wrong_top(d, "null") : 1;
    case W_DATA:
        return d->data_key >= 0 ? wrong_data(d) : 1;
    case W_PERM:
        return fail(d, "data.permissions: expected a list of strings%s", "");
    default:
        return d->depth == 0 ? fail(d, "event is not a JSON object%s", "") : 1;
    }
}

static int on_bool(void *ctx, int b)
{
    struct dec_decoder *d = ctx;
    switch (where_am_i(d)) {
    case W_TOP:
        return d->top_key >= 0 ? wrong_top(d, "bool") : 1;
    case W_DATA:
        if (d->data_key < 0)
            return 1;
        if (!is_bool_field(d->data_key))
            return wrong_data(d);
        if (d->data_key == VLT_F_SOFT_DELETE)
            d->ev->soft_delete = b;
        else
            d->ev->purge_protection = b;
        d->ev->has |= 1u << d->data_key;
        return 1;
    case W_PERM:
        return fail(d, "data.permissions: expected a list of strings%s", "");
    default:
        return d->depth == 0 ? fail(d, "event is not a JSON object%s", "") : 1;
    }
}

static int on_int(void *ctx, long long v)
{
    struct dec_decoder *d = ctx;
    switch (where_am_i(d)) {
    case W_TOP:
        return d->top_key >= 0 ? wrong_top(d, "int") : 1;
    case W_DATA:
        if (d->data_key < 0)
            return 1;
        if (!is_int_field(d->data_key))
            return wrong_data(d);
        if (v < 0 || v > 1000000)
            return fail(d, "data.%s: out of range", data_name(d));
        if (d->data_key == VLT_F_SIZE)
            d->ev->size = v;
        else
            d->ev->retention_days = v;
        d->ev->has |= 1u << d->data_key;
        return 1;
    case W_PERM:
        return fail(d, "data.permissions: expected a list of strings%s", "");
    default:
        return d->depth == 0 ? fail(d, "event is not a JSON object%s", "") : 1;
    }
}

static int on_double(void *ctx, double v)
{
    struct dec_decoder *d = ctx;
    (void)v;
    switch (where_am_i(d)) {
    case W_TOP:
        return d->top_key >= 0 ? wrong_top(d, "number") : 1;
    case W_DATA:
        if (d->data_key < 0)
            return 1;
        return is_int_field(d->data_key)
                   ? fail(d, "data.%s: expected an integer, not a fraction", data_name(d))
                   : wrong_data(d);
    case W_PERM:
        return fail(d, "data.permissions: expected a list of strings%s", "");
    default:
        return d->depth == 0 ? fail(d, "event is not a JSON object%s", "") : 1;
    }
}

/* Key Vault's key permissions (access policies), compared case-insensitively; `all`
 * grants every one. Those cmkguard does not need are valid and carry no weight. */
static const struct {
    const char *name;
    unsigned bits;
} key_perms[] = {
    {"get", VLT_PERM_GET},
    {"wrapkey", VLT_PERM_WRAP},
    {"unwrapkey", VLT_PERM_UNWRAP},
    {"all", VLT_PERM_ALL},
    {"list", 0},
    {"update", 0},
    {"create", 0},
    {"import", 0},
    {"delete", 0},
    {"recover", 0},
    {"backup", 0},
    {"restore", 0},
    {"decrypt", 0},
    {"encrypt", 0},
    {"verify", 0},
    {"sign", 0},
    {"purge", 0},
    {"release", 0},
    {"rotate", 0},
    {"getrotationpolicy", 0},
    {"setrotationpolicy", 0},
};

static int permission(struct dec_decoder *d, const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < CM_ARRAY_LEN(key_perms); i++)
        if (strlen(key_perms[i].name) == n && !strncasecmp(key_perms[i].name, (const char *)s, n)) {
            d->ev->permissions |= key_perms[i].bits;
            return 1;
        }
    return fail(d, "data.permissions: '%.*s' is not a Key Vault key permission",
                (int)(n > 64 ? 64 : n), (const char *)s);
}

static int on_string(void *ctx, const unsigned char *s, size_t n)
{
    struct dec_decoder *d = ctx;
    switch (where_am_i(d)) {
    case W_TOP:
        if (d->top_key < 0)
            return 1;
        if (d->top_key == TK_DATA)
            return wrong_top(d, "string");
        return store(d, d->top_key, s, n);
    case W_DATA: {
        if (d->data_key < 0)
            return 1;
        int slot = slot_of_data(d->data_key);
        if (slot < 0)
            return wrong_data(d);
        d->ev->has |= 1u << d->data_key;
        return store(d, slot, s, n);
    }
    case W_PERM:
        return permission(d, s, n);
    default:
        return d->depth == 0 ? fail(d, "event is not a JSON object%s", "") : 1;
    }
}

static int on_start_map(void *ctx)
{
    struct dec_decoder *d = ctx;
    enum where w = where_am_i(d);
    if (++d->depth > DEC_MAX_DEPTH)
        return fail(d, "nesting deeper than %s", "64");
    d->obj[d->depth] = ++d->nobj;
    d->path_arr[d->depth] = false;
    d->path_len[d->depth] = 0;
    if (w == W_TOP && d->top_key >= 0) {
        if (d->top_key != TK_DATA)
            return wrong_top(d, "object");
        d->in_data = true;
        d->data_seen = true;
        d->data_key = -1;
    } else if (w == W_DATA && d->data_key >= 0) {
        return wrong_data(d);
    } else if (w == W_PERM) {
        return fail(d, "data.permissions: expected a list of strings%s", "");
    }
    return 1;
}

static int on_end_map(void *ctx)
{
    struct dec_decoder *d = ctx;
    if (d->depth == 2 && d->in_data)
        d->in_data = false;
    d->depth--;
    return 1;
}

static int on_start_array(void *ctx)
{
    struct dec_decoder *d = ctx;
    enum where w = where_am_i(d);
    if (d->depth == 0)
        return fail(d, "event is not a JSON object%s", "");
    if (++d->depth > DEC_MAX_DEPTH)
        return fail(d, "nesting deeper than %s", "64");
    d->path_arr[d->depth] = true;
    if (w == W_TOP && d->top_key >= 0)
        return wrong_top(d, "array");
    if (w == W_DATA && d->data_key >= 0) {
        if (d->data_key != VLT_F_PERMISSIONS)
            return wrong_data(d);
        d->in_perms = true;
        d->ev->has |= 1u << VLT_F_PERMISSIONS;
    } else if (w == W_PERM) {
        return fail(d, "data.permissions: expected a list of strings%s", "");
    }
    return 1;
}

static int on_end_array(void *ctx)
{
    struct dec_decoder *d = ctx;
    if (d->depth == 3 && d->in_perms)
        d->in_perms = false;
    d->depth--;
    return 1;
}

static uint64_t name_hash(uint32_t obj, const unsigned char *k, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL ^ obj;
    for (size_t i = 0; i < n; i++)
        h = (h ^ k[i]) * 0x100000001b3ULL;
    return h ^ (h >> 31);
}

static void slot_put(struct dec_decoder *d, const struct name_slot *e)
{
    size_t i = (size_t)e->h & (d->nslots - 1);
    while (d->slots[i].gen == d->gen)
        i = (i + 1) & (d->nslots - 1);
    d->slots[i] = *e;
}

/* Doubles the name table, keeping this message's names. */
static void slots_grow(struct dec_decoder *d)
{
    struct name_slot *old = d->slots;
    size_t n = d->nslots;
    d->nslots *= 2;
    d->slots = cm_xcalloc(d->nslots, sizeof *d->slots);
    for (size_t i = 0; i < n; i++)
        if (old[i].gen == d->gen)
            slot_put(d, &old[i]);
    free(old);
}

/* "data.a[].b": the names leading to the member just read. */
static void member_path(struct dec_decoder *d, char *out, size_t outn)
{
    size_t w = 0;
    out[0] = '\0';
    for (int i = 1; i <= d->depth && w + 1 < outn; i++) {
        int k = 0;
        if (d->path_arr[i])
            k = snprintf(out + w, outn - w, "[]");
        else
            k = snprintf(out + w, outn - w, "%s%.*s", i > 1 ? "." : "",
                         (int)(d->path_len[i] > 64 ? 64 : d->path_len[i]),
                         d->names.p + d->path_off[i]);
        if (k < 0)
            break;
        w += (size_t)k < outn - w ? (size_t)k : outn - w - 1;
    }
}

/* A member name given twice in one object, at any depth, is bad input (SPEC §2). */
static int name_check(struct dec_decoder *d, const unsigned char *k, size_t n)
{
    uint32_t obj = d->obj[d->depth];
    struct name_slot e = {.gen = d->gen,
                          .obj = obj,
                          .off = (uint32_t)d->names.len,
                          .len = (uint32_t)n,
                          .h = name_hash(obj, k, n)};
    if (cm_buf_add(&d->names, k, n) < 0 || cm_buf_addc(&d->names, '\0') < 0)
        return fail(d, "message too large%s", "");
    d->path_off[d->depth] = e.off;
    d->path_len[d->depth] = e.len;
    for (size_t i = (size_t)e.h & (d->nslots - 1); d->slots[i].gen == d->gen;
         i = (i + 1) & (d->nslots - 1)) {
        const struct name_slot *o = &d->slots[i];
        if (o->h == e.h && o->obj == obj && o->len == n && !memcmp(d->names.p + o->off, k, n)) {
            char path[320];
            member_path(d, path, sizeof path);
            return fail(d, "duplicate member '%s'", path);
        }
    }
    if (++d->used * 2 > d->nslots)
        slots_grow(d);
    slot_put(d, &e);
    return 1;
}

static int on_map_key(void *ctx, const unsigned char *k, size_t n)
{
    struct dec_decoder *d = ctx;
    if (!name_check(d, k, n))
        return 0;
    if (d->depth == 1) {
        d->top_key = TK_UNKNOWN;
        for (int i = 0; i < TK__COUNT; i++)
            if (strlen(top_names[i]) == n && !memcmp(top_names[i], k, n)) {
                if (d->top_seen & (1u << i))
                    return fail(d, "duplicate member '%s'", top_names[i]);
                d->top_seen |= 1u << i;
                d->top_key = i;
            }
    } else if (d->depth == 2 && d->in_data) {
        d->data_key = -1;
        for (int i = 0; i < VLT_F__COUNT; i++) {
            const char *nm = vlt_efield_name((enum vlt_efield)i);
            if (strlen(nm) == n && !memcmp(nm, k, n)) {
                if (d->ev->has & (1u << i))
                    return fail(d, "duplicate member 'data.%s'", nm);
                d->data_key = i;
            }
        }
    }
    return 1;
}

static const yajl_callbacks callbacks = {
    on_null,      on_bool,    on_int,     on_double,      NULL,         on_string,
    on_start_map, on_map_key, on_end_map, on_start_array, on_end_array,
};

static int hex4(const char *p)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        int x = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (x < 0)
            return -1;
        v = v << 4 | x;
    }
    return v;
}

/* yajl turns an unpaired UTF-16 surrogate escape (\uD800) into '?', so two different
 * strings could decode alike: such an escape is not UTF-8 text and the message is bad
 * input (SPEC §2). Escapes are read from the raw bytes; an escaped backslash (\\)
 * starts no escape. Returns true (with a reason) when one is found. */
static bool lone_surrogate(const char *msg, size_t n, char *reason, size_t reason_len)
{
    const char *p = msg, *end = msg + n;
    while ((p = memchr(p, '\\', (size_t)(end - p))) && p + 1 < end) {
        if (p[1] != 'u') {
            p += 2; /* \\, \", \n...: one escaped character */
            continue;
        }
        int u = end - p >= 6 ? hex4(p + 2) : -1;
        if (u >= 0xD800 && u <= 0xDBFF) {
            int lo = end - p >= 12 && p[6] == '\\' && p[7] == 'u' ? hex4(p + 8) : -1;
            if (lo >= 0xDC00 && lo <= 0xDFFF) {
                p += 12;
                continue;
            }
        }
        if (u >= 0xD800 && u <= 0xDFFF) {
            snprintf(reason, reason_len,
                     "a string holds a lone UTF-16 surrogate escape \\u%.4s at byte %zu: not "
                     "UTF-8 text",
                     p + 2, (size_t)(p - msg));
            return true;
        }
        p += 2;
    }
    return false;
}

dec_decoder *dec_decoder_new(size_t max_message)
{
    dec_decoder *d = cm_xcalloc(1, sizeof *d);
    d->max_message = max_message ? max_message : DEC_MAX_MESSAGE_DEFAULT;
    cm_buf_init(&d->arena, d->max_message * 2 + 4096);
    cm_buf_init(&d->names, d->max_message * 2 + 4096);
    d->nslots = 256;
    d->slots = cm_xcalloc(d->nslots, sizeof *d->slots);
    return d;
}

void dec_decoder_free(dec_decoder *d)
{
    if (!d)
        return;
    cm_buf_free(&d->arena);
    cm_buf_free(&d->names);
    free(d->slots);
    free(d);
}

static const char *get(dec_decoder *d, enum slot s)
{
    return d->set[s] ? d->arena.p + d->off[s] : NULL;
}

/* The event's strings, each NULL or in the arena (resolve sets them all), are copied
 * together: one copy of the arena, and every pointer moved by the same offset. */
int dec_event_keep(const dec_decoder *d, vlt_event *ev, cm_buf *to)
{
    const char **all[] = {
        &ev->type_name, &ev->id,           &ev->source,    &ev->subject, &ev->time, &ev->tenant,
        &ev->region,    &ev->subscription, &ev->principal, &ev->version, &ev->kty,  &ev->kind,
        &ev->key_uri,   &ev->nbf,          &ev->exp,       &ev->state,   &ev->mac};
    size_t base = to->len;
    if (cm_buf_add(to, d->arena.p ? d->arena.p : "", d->arena.len) < 0)
        return -1;
    for (size_t i = 0; i < CM_ARRAY_LEN(all); i++)
        if (*all[i])
            *all[i] = to->p + base + (*all[i] - d->arena.p);
    return 0;
}

static void resolve(dec_decoder *d, vlt_event *ev)
{
    ev->id = get(d, S_ID);
    ev->type_name = get(d, S_TYPE);
    ev->source = get(d, S_SOURCE);
    ev->subject = get(d, S_SUBJECT);
    ev->time = get(d, S_TIME);
    ev->tenant = get(d, S_TENANT);
    ev->region = get(d, S_REGION);
    ev->subscription = get(d, S_SUBSCRIPTION);
    ev->principal = get(d, S_PRINCIPAL);
    ev->version = get(d, S_VERSION);
    ev->kty = get(d, S_KTY);
    ev->kind = get(d, S_KIND);
    ev->key_uri = get(d, S_KEY_URI);
    ev->nbf = get(d, S_NBF);
    ev->exp = get(d, S_EXP);
    ev->state = get(d, S_STATE);
    ev->mac = get(d, S_MAC);
    if (ev->type_name)
        ev->type = vlt_etype_parse(ev->type_name);
}

/* A key version's validity window (nbf, exp): real instants, nbf before exp. */
static int check_validity(dec_decoder *d, vlt_event *ev)
{
    if (vlt_event_has(ev, VLT_F_NBF) && !cm_ts_parse(ev->nbf, strlen(ev->nbf), &ev->nbf_at))
        return fail(d, "data.nbf '%s' is not an RFC 3339 date-time (a real calendar instant)",
                    ev->nbf),
               -1;
    if (vlt_event_has(ev, VLT_F_EXP) && !cm_ts_parse(ev->exp, strlen(ev->exp), &ev->exp_at))
        return fail(d, "data.exp '%s' is not an RFC 3339 date-time (a real calendar instant)",
                    ev->exp),
               -1;
    if (vlt_event_has(ev, VLT_F_NBF) && vlt_event_has(ev, VLT_F_EXP) && ev->exp_at <= ev->nbf_at)
        return fail(d, "data.exp '%s' is not after data.nbf '%s'", ev->exp, ev->nbf), -1;
    return 0;
}

/* The arena bytes of a slot, writable for canonicalisation in place; NULL when unset. */
static char *wr(dec_decoder *d, enum slot s)
{
    return d->set[s] ? d->arena.p + d->off[s] : NULL;
}

/* A vault or key URI made canonical in place; left as sent when it is none, so that
 * the rejection quotes it. */
static enum vlt_uri_kind canon_uri(char *s)
{
    char buf[VLT_URI_MAX + 1];
    enum vlt_uri_kind k = vlt_uri_canon(s, buf, sizeof buf, NULL);
    if (k != VLT_URI_BAD)
        memcpy(s, buf, strlen(buf) + 1); /* never longer than s */
    return k;
}

/* A CloudEvents source is a URI-reference: no control characters, so that
 * "source\x1fid" names one event. */
static bool source_ok(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return false;
    return true;
}

static int check(dec_decoder *d, vlt_event *ev)
{
    static const char *const req_top[] = {"specversion", "id", "type", "subject", "time"};
    const char *vals[] = {get(d, S_SPECVERSION), ev->id, ev->type_name, ev->subject, ev->time};
    for (size_t i = 0; i < CM_ARRAY_LEN(req_top); i++)
        if (!vals[i])
            return fail(d, "missing required member '%s'", req_top[i]), -1;
    if (!d->data_seen)
        return fail(d, "missing required member '%s'", "data"), -1;
    if (strcmp(vals[0], "1.0") != 0)
        return fail(d, "specversion '%s' is not 1.0", vals[0]), -1;
    if (!*ev->id)
        return fail(d, "id is empty%s", ""), -1;
    if (ev->type == VLT_EV_NONE)
        return fail(d, "unknown event type '%s'", ev->type_name), -1;
    /* One pass checks the time and reads the instant. */
    if (!cm_ts_parse(ev->time, strlen(ev->time), &ev->at))
        return fail(d, "time '%s' is not an RFC 3339 date-time (a real calendar instant)",
                    ev->time),
               -1;
    if (ev->source && !source_ok(ev->source))
        return fail(d, "source is not a URI-reference (a control character)%s", ""), -1;
    /* Identifiers become canonical here, once, in place: every later stage sees one
     * spelling (SPEC §2a). A canonical spelling is never longer than the one sent. */
    char *subj = wr(d, S_SUBJECT);
    switch (vlt_etype_subject(ev->type)) {
    case VLT_SUBJ_VAULT:
        if (canon_uri(subj) != VLT_URI_VAULT)
            return fail(d, "subject '%s' is not a key vault URI", ev->subject), -1;
        break;
    case VLT_SUBJ_KEY:
        if (canon_uri(subj) != VLT_URI_KEY)
            return fail(d, "subject '%s' is not a versionless key URI", ev->subject), -1;
        break;
    case VLT_SUBJ_RESOURCE:
        if (!vlt_resource_id_valid(ev->subject))
            return fail(d, "subject '%s' is not a resource id", ev->subject), -1;
        break;
    }
    unsigned req = vlt_etype_required(ev->type);
    if (ev->type == VLT_EV_KEY_CREATED && ev->kty && strncmp(ev->kty, "EC", 2) != 0)
        req |= 1u << VLT_F_SIZE;
    for (int f = 0; f < VLT_F__COUNT; f++)
        if ((req >> f & 1u) && !vlt_event_has(ev, (enum vlt_efield)f))
            return fail(d, "missing required member 'data.%s'",
                        vlt_efield_name((enum vlt_efield)f)),
                   -1;
    /* Fields a type does not use are dropped so nothing downstream reads them. */
    ev->has &= req | vlt_etype_optional(ev->type);
    if (ev->key_uri && vlt_event_has(ev, VLT_F_KEY_URI)) {
        enum vlt_uri_kind kind = canon_uri(wr(d, S_KEY_URI));
        if (kind != VLT_URI_KEY && kind != VLT_URI_KEY_VERSION)
            return fail(d, "data.key_uri '%s' is not a key URI", ev->key_uri), -1;
    }
    /* Tenants, principals and versions compare case-insensitively; regions also
     * without spaces ("West US" is westus). */
    vlt_id_lower(wr(d, S_TENANT));
    vlt_id_lower(wr(d, S_PRINCIPAL));
    vlt_id_lower(wr(d, S_VERSION));
    vlt_region_compact(wr(d, S_REGION));
    if (check_validity(d, ev) < 0)
        return -1;
    const char *strs[] = {ev->tenant,  ev->region, ev->subscription, ev->principal,
                          ev->version, ev->kty,    ev->kind};
    for (size_t i = 0; i < CM_ARRAY_LEN(strs); i++)
        if (strs[i] && !*strs[i])
            return fail(d, "an empty string in data%s", ""), -1;
    if (ev->version && vlt_event_has(ev, VLT_F_VERSION)) {
        for (const char *p = ev->version; *p; p++)
            if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
                  (*p >= 'A' && *p <= 'Z') || *p == '-'))
                return fail(d, "data.version '%s' is not a key version", ev->version), -1;
        if (strlen(ev->version) > 64)
            return fail(d, "data.version is longer than 64 characters%s", ""), -1;
    }
    return 0;
}

int dec_decode(dec_decoder *d, const char *msg, size_t n, vlt_event *ev, char *reason,
               size_t reason_len)
{
    memset(ev, 0, sizeof *ev);
    memset(d->set, 0, sizeof d->set);
    cm_buf_reset(&d->arena);
    cm_buf_reset(&d->names);
    if (++d->gen == 0) { /* wrapped: slots of 2^32 messages ago must not count */
        memset(d->slots, 0, d->nslots * sizeof *d->slots);
        d->gen = 1;
    }
    d->used = 0;
    d->nobj = 0;
    d->top_seen = 0;
    d->depth = 0;
    d->top_key = d->data_key = -1;
    d->in_data = d->data_seen = d->in_perms = false;
    d->ev = ev;
    d->reason = reason;
    d->reason_len = reason_len;
    d->failed = false;
    reason[0] = '\0';
    if (n > d->max_message) {
        snprintf(reason, reason_len, "message is %zu bytes, over the limit of %zu", n,
                 d->max_message);
        return -1;
    }
    yajl_handle h = yajl_alloc(&callbacks, NULL, d);
    if (!h) {
        snprintf(reason, reason_len, "out of memory");
        return -1;
    }
    yajl_status st = yajl_parse(h, (const unsigned char *)msg, n);
    bool at_end = false;
    if (st == yajl_status_ok) {
        st = yajl_complete_parse(h);
        at_end = true;
    }
    if (st == yajl_status_error && !d->failed) {
        unsigned char *e = yajl_get_error(h, 0, (const unsigned char *)msg, n);
        size_t at = at_end ? n : yajl_get_bytes_consumed(h);
        char m[256];
        snprintf(m, sizeof m, "not valid JSON at byte %zu: %s", at, e ? (char *)e : "parse error");
        for (char *p = m; *p; p++)
            if (*p == '\n')
                *p = ' ';
        for (size_t l = strlen(m); l && (m[l - 1] == ' ' || m[l - 1] == '.'); l--)
            m[l - 1] = '\0';
        yajl_free_error(h, e);
        fail(d, "%s", m);
    }
    yajl_free(h);
    if (!d->failed && d->depth != 0)
        fail(d, "event is not a single JSON object%s", "");
    /* yajl ends a text after a complete value without looking at a string token still
     * open after it (`{…}"abc` passes): an object's text ends with its brace. */
    if (!d->failed) {
        size_t end = n;
        while (end > 0 && (msg[end - 1] == ' ' || msg[end - 1] == '\t' || msg[end - 1] == '\r' ||
                           msg[end - 1] == '\n'))
            end--;
        if (end > 0 && msg[end - 1] != '}')
            fail(d, "not valid JSON at byte %zu: trailing garbage after the object", end);
    }
    if (!d->failed && !d->top_seen && !d->data_seen && !d->arena.len)
        fail(d, "event is not a JSON object%s", "");
    bool surrogate = !d->failed && lone_surrogate(msg, n, reason, reason_len);
    resolve(d, ev);
    if (surrogate) {
        /* yajl read the escape as a replacement character: no string of this message
         * can name the event faithfully, so the rejection names none. */
        d->failed = true;
        ev->id = ev->subject = ev->source = NULL;
    }
    if (d->failed)
        return -1;
    return check(d, ev);
}
