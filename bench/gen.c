/* Workload generator for make bench: a deterministic stream of key-configuration
 * events from a fixed seed, over many tenants and resources, with about a fifth of
 * them violating a rule or arriving malformed, duplicated or out of place.
 *
 * usage: bench-gen [--events N] [--resources N] [--tenants N] [--cmk-tenants N]
 *                  [--seed N] [--rotate-fanout N]
 * --rotate-fanout N writes instead the fan-out workload: one versionless RSA-2048 key
 * used by N resources, then its rotation. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng;

static uint64_t next(void) /* xorshift64* */
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 2685821657736338717ULL;
}

static unsigned pick(unsigned n)
{
    return (unsigned)(next() % n);
}

static const char *const regions[] = {"westeurope", "northeurope", "eastus", "westus2"};
static const char *const kinds[] = {"ContentSafety", "Face", "TextAnalytics", "OpenAI"};
static uint64_t seq;
static unsigned minute;

static void stamp(char *out, size_t n)
{
    unsigned s = minute++;
    snprintf(out, n, "2026-11-%02uT%02u:%02u:%02uZ", 1 + (s / 86400) % 28, (s / 3600) % 24,
             (s / 60) % 60, s % 60);
}

/* One event line; data is a JSON object text. */
static void ev(const char *type, const char *subject, const char *data)
{
    char t[32];
    stamp(t, sizeof t);
    printf("{\"specversion\":\"1.0\",\"id\":\"b-%" PRIu64
           "\",\"source\":\"/bench\",\"type\":\"%s\","
           "\"subject\":\"%s\",\"time\":\"%s\",\"datacontenttype\":\"application/json\","
           "\"data\":%s}\n",
           ++seq, type, subject, t, data);
}

static void vault_uri(unsigned tenant, char *o, size_t n)
{
    snprintf(o, n, "https://kv-t%u.vault.azure.net", tenant);
}

static void res_id(unsigned r, unsigned tenant, char *o, size_t n)
{
    snprintf(o, n,
             "/subscriptions/sub-t%u/resourceGroups/rg-%u/providers/"
             "Microsoft.CognitiveServices/accounts/ai-%u",
             tenant, r % 50, r);
}

static void setup_tenant(unsigned t, bool key)
{
    char v[128], d[512];
    vault_uri(t, v, sizeof v);
    snprintf(d, sizeof d,
             "{\"tenant\":\"t%u\",\"region\":\"%s\",\"subscription\":\"sub-sec-t%u\","
             "\"soft_delete\":true,\"purge_protection\":true,\"retention_days\":90}",
             t, regions[t % 4], t);
    ev("vault.upserted", v, d);
    if (key) {
        char k[192];
        snprintf(k, sizeof k, "%s/keys/cmk", v);
        ev("key.created", k, "{\"version\":\"v1\",\"kty\":\"RSA\",\"size\":2048}");
    }
}

static void create(unsigned r, unsigned t)
{
    char id[256], d[512];
    res_id(r, t, id, sizeof id);
    snprintf(d, sizeof d,
             "{\"kind\":\"%s\",\"tenant\":\"t%u\",\"region\":\"%s\",\"subscription\":\"sub-t%u\"}",
             kinds[r % 4], t, regions[t % 4], t);
    ev("resource.created", id, d);
}

static void enable_cmk(unsigned r, unsigned t, unsigned key_tenant)
{
    char id[256], v[128], d[512];
    res_id(r, t, id, sizeof id);
    snprintf(d, sizeof d, "{\"principal\":\"mi-%u\",\"tenant\":\"t%u\"}", r, t);
    ev("resource.identity.enabled", id, d);
    vault_uri(key_tenant, v, sizeof v);
    snprintf(d, sizeof d,
             "{\"principal\":\"mi-%u\",\"permissions\":[\"get\",\"wrapKey\",\"unwrapKey\"]}", r);
    ev("vault.access.granted", v, d);
    snprintf(d, sizeof d, "{\"key_uri\":\"%s/keys/cmk\"}", v);
    ev("resource.cmk.enabled", id, d);
}

static int fanout(unsigned n)
{
    setup_tenant(0, true);
    for (unsigned r = 0; r < n; r++) {
        create(r, 0);
        enable_cmk(r, 0, 0);
    }
    ev("key.rotated", "https://kv-t0.vault.azure.net/keys/cmk", "{\"version\":\"v2\"}");
    return 0;
}

int main(int argc, char **argv)
{
    unsigned long events = 1000000, resources = 100000, tenants = 64, cmk_tenants = 4, seed = 1,
                  fan = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        unsigned long v = strtoul(argv[i + 1], NULL, 10);
        if (!strcmp(argv[i], "--events"))
            events = v;
        else if (!strcmp(argv[i], "--resources"))
            resources = v;
        else if (!strcmp(argv[i], "--tenants"))
            tenants = v;
        else if (!strcmp(argv[i], "--cmk-tenants"))
            cmk_tenants = v;
        else if (!strcmp(argv[i], "--seed"))
            seed = v;
        else if (!strcmp(argv[i], "--rotate-fanout"))
            fan = v;
        else {
            fprintf(stderr, "bench-gen: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    static char obuf[1 << 20];
    setvbuf(stdout, obuf, _IOFBF, sizeof obuf);
    rng = 0x9E3779B97F4A7C15ULL ^ (seed * 0xD1B54A32D192ED03ULL);
    if (fan)
        return fanout((unsigned)fan);
    if (cmk_tenants > tenants)
        cmk_tenants = tenants;
    for (unsigned t = 0; t < tenants; t++)
        setup_tenant(t, t < cmk_tenants);
    /* Resources come into being over the first part of the stream; CMK tenants' ones
     * are put on their own tenant's key (one in eight on the wrong tenant's key: denied). */
    unsigned created = 0;
    char id[200], v[128], d[512], last_id[64] = "";
    while (seq < events) {
        unsigned roll = pick(1000);
        if (created < resources && (roll < 300 || seq + (resources - created) * 2 >= events)) {
            unsigned t = created % tenants;
            create(created, t);
            if (t < cmk_tenants && pick(5) == 0)
                enable_cmk(created, t, pick(8) == 0 ? (t + 1) % cmk_tenants : t);
            created++;
            continue;
        }
        if (!created)
            continue;
        unsigned r = pick(created), t = r % tenants;
        res_id(r, t, id, sizeof id);
        vault_uri(t, v, sizeof v);
        if (roll < 450) { /* routine: an access grant to the resource's own principal */
            snprintf(d, sizeof d, "{\"principal\":\"mi-%u\",\"permissions\":[\"get\"]}", r);
            ev("vault.access.granted", v, d);
        } else if (roll < 600) { /* routine: identity on */
            snprintf(d, sizeof d, "{\"principal\":\"mi-%u\",\"tenant\":\"t%u\"}", r, t);
            ev("resource.identity.enabled", id, d);
        } else if (roll < 700) { /* routine: a move inside the tenant */
            snprintf(d, sizeof d, "{\"tenant\":\"t%u\",\"subscription\":\"sub-t%u-b\"}", t, t);
            ev("resource.moved", id, d);
        } else if (roll < 760) { /* violation: CMK at creation */
            char nid[256];
            snprintf(nid, sizeof nid, "%s-x%" PRIu64, id, seq);
            snprintf(d, sizeof d,
                     "{\"kind\":\"Face\",\"tenant\":\"t%u\",\"region\":\"%s\",\"subscription\":"
                     "\"sub-t%u\",\"key_uri\":\"%s/keys/cmk\"}",
                     t, regions[t % 4], t, v);
            ev("resource.created", nid, d);
        } else if (roll < 860) { /* violation: CMK without an identity or a known key */
            snprintf(d, sizeof d, "{\"key_uri\":\"https://kv-t%u.vault.azure.net/keys/none\"}", t);
            ev("resource.cmk.enabled", id, d);
        } else if (roll < 900) { /* violation: protection off on a vault */
            snprintf(d, sizeof d,
                     "{\"tenant\":\"t%u\",\"region\":\"%s\",\"subscription\":\"sub-sec-t%u\","
                     "\"soft_delete\":true,\"purge_protection\":%s,\"retention_days\":90}",
                     t, regions[t % 4], t, t < cmk_tenants ? "false" : "true");
            ev("vault.upserted", v, d);
        } else if (roll < 930) { /* bad input: an unknown resource */
            char nid[256];
            snprintf(nid, sizeof nid, "%s-gone", id);
            ev("resource.identity.disabled", nid, "{}");
        } else if (roll < 945) { /* bad input: malformed */
            printf("{\"specversion\":\"1.0\",\"id\":\"b-%" PRIu64 "\",\"type\":\"vault.upserted\","
                   "\"data\":{\"tenant\":\n",
                   ++seq);
        } else if (roll < 960 && last_id[0]) { /* a duplicate id */
            char t2[32];
            stamp(t2, sizeof t2);
            printf("{\"specversion\":\"1.0\",\"id\":\"%s\",\"source\":\"/bench\",\"type\":"
                   "\"resource.identity.enabled\",\"subject\":\"%s\",\"time\":\"%s\",\"data\":"
                   "{\"principal\":\"mi-%u\",\"tenant\":\"t%u\"}}\n",
                   last_id, id, t2, r, t);
            seq++;
        } else { /* routine: a vault refreshed as it is */
            snprintf(d, sizeof d,
                     "{\"tenant\":\"t%u\",\"region\":\"%s\",\"subscription\":\"sub-sec-t%u\","
                     "\"soft_delete\":true,\"purge_protection\":true,\"retention_days\":90}",
                     t, regions[t % 4], t);
            ev("vault.upserted", v, d);
        }
        snprintf(last_id, sizeof last_id, "b-%" PRIu64, seq);
    }
    return 0;
}
