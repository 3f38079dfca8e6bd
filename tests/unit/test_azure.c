/* Azure shapes translated against the state: each shape, each derivation, bad input.
 * JSON is written with single quotes for readability and turned into JSON by J(). */
#include <stdlib.h>

#include "azure/azure.h"
#include "policy/engine.h"
#include "tests/unit/t.h"
#include "vault/facts.h"
#include "vault/internal.h" /* white-box: the key's own fields */

#define SUB "/subscriptions/s1"
#define RG SUB "/resourceGroups/rg"
#define KVID RG "/providers/Microsoft.KeyVault/vaults/kv1"
#define ACC RG "/providers/Microsoft.CognitiveServices/accounts/cs1"
#define V "https://kv1.vault.azure.net"
#define VER1 "0123456789abcdef0123456789abcdef"
#define VER2 "fedcba9876543210fedcba9876543210"
#define VER3 "33333333333333333333333333333333"

static pol_engine *eng;
static vlt_state *st;
static aud_decision d;
static az_obs o;
static char jbuf[8192];

static const char *J(const char *s)
{
    snprintf(jbuf, sizeof jbuf, "%s", s);
    for (char *p = jbuf; *p; p++)
        if (*p == '\'')
            *p = '"';
    return jbuf;
}

static const char *type_at(size_t i)
{
    return i < o.nev ? o.ev[i].type : "";
}

/* Translates one Azure event: the count of derived events, or -1. */
static int tr(const char *single_quoted)
{
    const char *j = J(single_quoted);
    int rc = az_translate_json(j, strlen(j), st, &o) < 0 ? -1 : (int)o.nev;
    if (getenv("T_VERBOSE"))
        fprintf(stderr, "  tr %s: %d %s %s\n", o.id ? o.id : "?", rc, o.reason, type_at(0));
    return rc;
}

/* Sends a message through the engine: the outcomes of all its decisions, as letters
 * (a allowed, d denied, r rejected, u duplicate, f failed). */
static const char *send(const char *single_quoted)
{
    static char out[64];
    const char *j = J(single_quoted);
    size_t n = 0;
    pol_engine_process(eng, j, strlen(j), "test", &d);
    do {
        if (n + 1 < sizeof out)
            out[n++] = "adruf"[d.outcome];
        if (d.reason && getenv("T_VERBOSE"))
            fprintf(stderr, "  %s: %s\n", d.cause ? d.cause : "?", d.reason);
    } while (pol_engine_more(eng, &d));
    out[n] = '\0';
    return out;
}

#define RN(id, body)                                                                               \
    "{'id':'" id "','topic':'" SUB "','subject':'x','eventType':"                                  \
    "'Microsoft.ResourceNotifications.Resources.CreatedOrUpdated',"                                \
    "'eventTime':'2026-11-22T10:00:00Z','data':{'resourceInfo':" body                              \
    ",'operationalInfo':{'resourceEventTime':'2026-11-22T10:00:05.1234567Z'}}}"
#define RN_DEL(id, body)                                                                           \
    "{'id':'" id "','topic':'" SUB "','subject':'x','eventType':"                                  \
    "'Microsoft.ResourceNotifications.Resources.Deleted',"                                         \
    "'eventTime':'2026-11-22T10:00:00Z','data':{'resourceInfo':" body "}}"
#define VAULT(props)                                                                               \
    "{'id':'" KVID "','name':'kv1','type':'Microsoft.KeyVault/vaults','location':'West US',"       \
    "'properties':{'tenantId':'T1','vaultUri':'" V "/'" props "}}"
#define ACCOUNT(extra)                                                                             \
    "{'id':'" ACC "','name':'cs1','type':'Microsoft.CognitiveServices/accounts','kind':'Face',"    \
    "'location':'westus'" extra "}"
#define ID_SYS ",'identity':{'type':'SystemAssigned','principalId':'P1','tenantId':'T1'}"
#define CMK(ver)                                                                                   \
    ",'properties':{'encryption':{'keySource':'Microsoft.KeyVault','keyVaultProperties':"          \
    "{'keyVaultUri':'" V "/','keyName':'k','keyVersion':'" ver "'}}}"
#define EGKEY(id, type, ver, extra)                                                                \
    "{'specversion':'1.0','id':'" id "','source':'" KVID "','type':'Microsoft.KeyVault." type      \
    "','subject':'k','time':'2026-11-22T10:00:00Z','data':{'Id':'" V "/keys/k/" ver                \
    "','VaultName':'kv1','ObjectType':'Key','ObjectName':'k','Version':'" ver "'" extra "}}"

static void test_event_grid(void)
{
    /* a key cmkguard does not know: key.created, type and size unknown */
    CHECK(tr(EGKEY("e1", "KeyNewVersionCreated", "0123456789ABCDEF0123456789ABCDEF",
                   ",'NBF':null,'EXP':1893456000")) == 1);
    CHECK_STR(type_at(0), "key.created");
    CHECK_STR(o.ev[0].subject, V "/keys/k");
    CHECK_STR(o.ev[0].version, VER1);
    CHECK(o.ev[0].kty == NULL && !((o.ev[0].has >> VLT_F_SIZE) & 1u));
    CHECK_STR(o.ev[0].exp, "2030-01-01T00:00:00Z");
    CHECK(o.ev[0].nbf == NULL);
    CHECK_STR(o.id, "e1");
    CHECK_STR(o.source, KVID);
    /* the Event Grid schema, names in another case, epoch seconds as text */
    CHECK(tr("{'id':'e2','topic':'" KVID "','subject':'k','eventType':"
             "'Microsoft.KeyVault.KeyNearExpiry','eventTime':'2026-11-22T10:00:00Z',"
             "'data':{'id':'" V "/keys/k/" VER1 "','vaultName':'kv1','objectType':'Key',"
             "'objectName ':'k','version':' " VER1 " ','nbf':'951782400','exp':' 0 '},"
             "'dataVersion':'1','metadataVersion':'1'}") == 1);
    CHECK_STR(type_at(0), "key.expiring");
    CHECK_STR(o.ev[0].nbf, "2000-02-29T00:00:00Z");
    CHECK_STR(o.ev[0].exp, "1970-01-01T00:00:00Z");
    CHECK(tr(EGKEY("e3", "KeyExpired", VER1, "")) == 1);
    CHECK_STR(type_at(0), "key.expired");
    CHECK_STR(o.ev[0].version, VER1);
    /* access policy changed, secrets, certificates: nothing derived */
    CHECK(tr("{'id':'e4','topic':'" KVID "','subject':'kv1','eventType':"
             "'Microsoft.KeyVault.VaultAccessPolicyChanged','eventTime':'2026-11-22T10:00:00Z',"
             "'data':{'Id':'" V "','VaultName':'kv1','ObjectType':'Vault'}}") == 0);
    CHECK(tr("{'id':'e5','topic':'" KVID "','subject':'s','eventType':"
             "'Microsoft.KeyVault.CertificateNearExpiry','eventTime':'2026-11-22T10:00:00Z',"
             "'data':{}}") == 0);
    /* with the key known: a new version rotates it, a known one derives nothing */
    CHECK_STR(send("{'specversion':'1.0','id':'c1','source':'t','type':'vault.upserted',"
                   "'subject':'" V "','time':'2026-11-22T09:00:00Z','data':{'tenant':'t1',"
                   "'region':'westus','subscription':'s1','soft_delete':true,"
                   "'purge_protection':true,'retention_days':90}}"),
              "a");
    CHECK_STR(send("{'specversion':'1.0','id':'c2','source':'t','type':'key.created',"
                   "'subject':'" V "/keys/k','time':'2026-11-22T09:00:00Z','data':{'version':'" VER1
                   "','kty':'RSA','size':2048}}"),
              "a");
    CHECK(tr(EGKEY("e6", "KeyNewVersionCreated", VER1, "")) == 0);
    CHECK(tr(EGKEY("e7", "KeyNewVersionCreated", VER2, "")) == 1);
    CHECK_STR(type_at(0), "key.rotated");
    /* through the engine: one derived decision, then a duplicate */
    CHECK_STR(send(EGKEY("e8", "KeyNewVersionCreated", VER2, "")), "a");
    CHECK_STR(d.cause, "e8#1");
    CHECK_STR(d.event_type, "key.rotated");
    CHECK_STR(d.derived_id, "e8");
    CHECK_STR(d.derived_type, "Microsoft.KeyVault.KeyNewVersionCreated");
    CHECK_STR(send(EGKEY("e8", "KeyNewVersionCreated", VER2, "")), "u");
    CHECK(d.derived_id == NULL);
    /* a batch: each element its own event, a non-object named by its position */
    CHECK_STR(send("[" EGKEY("e9", "KeyNewVersionCreated", VER2,
                             "") ",7," EGKEY("e10", "SecretNewVersionCreated", "abc", "") "]"),
              "ara");
}

static void test_vault(void)
{
    /* known from the cmkguard events above: tenant T1 westus s1, soft delete and purge
     * protection on; the body says the same (region spelled otherwise, booleans 1/0) */
    CHECK(tr(RN("v1", VAULT(",'enableSoftDelete':1,'enablePurgeProtection':1,"
                            "'accessPolicies':[]"))) == 0);
    /* absent enablePurgeProtection means off */
    CHECK(tr(RN("v2", VAULT(",'accessPolicies':[]"))) == 1);
    CHECK_STR(type_at(0), "vault.upserted");
    CHECK(o.ev[0].soft_delete && !o.ev[0].purge_protection && o.ev[0].retention_days == 90);
    CHECK_STR(o.ev[0].region, "westus");
    CHECK_STR(o.time, "2026-11-22T10:00:05.1234567Z");
    /* access policies: a grant per principal whose key permissions change */
    CHECK_STR(
        send(RN("v3", VAULT(",'enablePurgeProtection':true,'accessPolicies':["
                            "{'tenantId':'T1','objectId':'P1','permissions':{'keys':"
                            "['Get','WrapKey','UnwrapKey','Purge']}},"
                            "{'tenantId':'T1','objectId':'P2','permissions':{'keys':['all']}}]"))),
        "aa");
    CHECK(vlt_state_access(st, V, "p1") == VLT_PERM_ALL);
    CHECK(vlt_state_access(st, V, "p2") == VLT_PERM_ALL);
    /* P2 reduced to get, P1 removed */
    CHECK(tr(RN("v4",
                VAULT(",'enablePurgeProtection':true,'accessPolicies':["
                      "{'tenantId':'T1','objectId':'P2','permissions':{'keys':['get']}}]"))) == 3);
    CHECK_STR(type_at(0), "vault.access.revoked");
    CHECK_STR(o.ev[0].principal, "p1");
    CHECK_STR(type_at(1), "vault.access.revoked");
    CHECK_STR(type_at(2), "vault.access.granted");
    CHECK(o.ev[2].permissions == VLT_PERM_GET);
    /* the facts it teaches */
    CHECK(o.nfacts == 2);
    /* a body that leaves accessPolicies out leaves access as it was */
    CHECK(tr(RN("v4b", VAULT(",'enablePurgeProtection':true"))) == 0);
    CHECK(tr(RN("v5", VAULT(",'enableSoftDelete':'yes'"))) == -1);
    CHECK(strstr(o.reason, "properties.enableSoftDelete: expected a boolean") != NULL);
    CHECK(tr(RN("v6", VAULT(",'accessPolicies':{}"))) == -1);
    CHECK(strstr(o.reason, "properties.accessPolicies: expected an array") != NULL);
}

static void test_account(void)
{
    /* unknown: created on MMK, then its identity, then CMK (F12) */
    CHECK(tr(RN("a1", ACCOUNT(ID_SYS CMK(VER1)))) == 3);
    CHECK_STR(type_at(0), "resource.created");
    CHECK_STR(o.ev[0].tenant, "t1");
    CHECK_STR(o.ev[0].kind, "Face");
    CHECK_STR(type_at(1), "resource.identity.enabled");
    CHECK_STR(o.ev[1].principal, "p1");
    CHECK_STR(type_at(2), "resource.cmk.enabled");
    CHECK_STR(o.ev[2].key_uri, V "/keys/k/" VER1);
    /* without identity, tenant, or a vault in the subscription: the tenant is unknown */
    CHECK(
        tr(RN(
            "a2",
            "{'id':'" RG "/providers/Microsoft.CognitiveServices/accounts/x',"
            "'type':'Microsoft.CognitiveServices/accounts','kind':'Face','location':'westus'}")) ==
        1); /* the vault seen above told subscription s1's tenant */
    CHECK_STR(o.ev[0].tenant, "t1");
    CHECK_STR(send(RN("a3", ACCOUNT(ID_SYS CMK(VER1)))), "aaa");
    CHECK(tr(RN("a4", ACCOUNT(ID_SYS CMK(VER1)))) == 0);
    /* a body that leaves the identity out leaves it as it was */
    CHECK(tr(RN("a4b", ACCOUNT(CMK(VER1)))) == 0);
    /* the key version changes; versionless follows the latest */
    CHECK(tr(RN("a5", ACCOUNT(ID_SYS CMK(VER2)))) == 1);
    CHECK_STR(type_at(0), "resource.key.updated");
    CHECK(tr(RN("a6", ACCOUNT(ID_SYS CMK("")))) == 1);
    CHECK_STR(o.ev[0].key_uri, V "/keys/k");
    /* back to MMK, identity gone: CMK off first, then the identity */
    CHECK(tr(RN("a7", ACCOUNT(",'identity':{'type':'None'},'properties':{'encryption':"
                              "{'keySource':'Microsoft.CognitiveServices'}}"))) == 2);
    CHECK_STR(type_at(0), "resource.cmk.disabled");
    CHECK_STR(type_at(1), "resource.identity.disabled");
    /* another tenant, same id: a move */
    CHECK(tr(RN("a8", ACCOUNT(",'identity':{'type':'SystemAssigned','principalId':'P1',"
                              "'tenantId':'T9'}" CMK(VER1)))) == 2);
    CHECK_STR(type_at(0), "resource.moved");
    CHECK_STR(o.ev[0].tenant, "t9");
    /* a user-assigned identity named by identityClientId */
    CHECK(tr(RN("a9", ACCOUNT(",'identity':{'type':'SystemAssigned, UserAssigned','principalId':"
                              "'P1','tenantId':'T1','userAssignedIdentities':{'/subscriptions/s1/"
                              "resourceGroups/rg/providers/Microsoft.ManagedIdentity/"
                              "userAssignedIdentities/u1':{'principalId':'PU','clientId':'CU'}}},"
                              "'properties':{'encryption':{'keySource':'Microsoft.KeyVault',"
                              "'keyVaultProperties':{'keyVaultUri':'" V "','keyName':'k',"
                              "'keyVersion':'" VER1 "','identityClientId':'cu'}}}"))) == 1);
    CHECK_STR(type_at(0), "resource.identity.enabled");
    CHECK_STR(o.ev[0].principal, "pu");
    /* deleted */
    CHECK(tr(RN_DEL("a10", "{'id':'" ACC "','type':'Microsoft.CognitiveServices/accounts'}")) == 1);
    CHECK_STR(type_at(0), "resource.deleted");
    CHECK(tr(RN("a11", "{'id':'/subscriptions/s1/resourceGroups//x','type':"
                       "'Microsoft.CognitiveServices/accounts','kind':'Face'}")) == -1);
    CHECK(strstr(o.reason, "id: ") && strstr(o.reason, "not an ARM resource id"));
}

#define RA_ID RG "/providers/Microsoft.Authorization/roleAssignments/ra1"
#define RBAC_KV RG "/providers/Microsoft.KeyVault/vaults/kv2"
#define V2 "https://kv2.vault.azure.net"

static void test_rbac(void)
{
    /* an assignment at resource-group scope before any vault: nothing yet, a fact */
    const char *ra = RN("r1", "{'id':'" RA_ID "','type':'Microsoft.Authorization/roleAssignments',"
                              "'properties':{'roleDefinitionId':'/subscriptions/s1/providers/"
                              "Microsoft.Authorization/roleDefinitions/"
                              "E147488A-F6F5-4113-8E2D-B22465E65BF6','principalId':'PR',"
                              "'scope':'/SUBSCRIPTIONS/s1/resourcegroups/RG'}}");
    CHECK_STR(send(ra), "a");
    CHECK(vlt_fact_get(st, "ra:"
                           "/subscriptions/s1/resourcegroups/rg/providers/"
                           "microsoft.authorization/roleassignments/ra1") != NULL);
    /* the RBAC vault appears: the assignment covers it */
    CHECK(tr(RN("r2", "{'id':'" RBAC_KV "','type':'Microsoft.KeyVault/vaults','location':'westus',"
                      "'properties':{'tenantId':'T1','vaultUri':'" V2 "','enablePurgeProtection':"
                      "true,'enableRbacAuthorization':true,'accessPolicies':[{'objectId':'PX',"
                      "'permissions':{'keys':['all']}}]}}")) == 2);
    CHECK_STR(type_at(0), "vault.upserted");
    CHECK_STR(type_at(1), "vault.access.granted");
    CHECK_STR(o.ev[1].principal, "pr");
    CHECK(o.ev[1].permissions == VLT_PERM_ALL);
    az_observe(&o, st);
    CHECK_STR(send(RN("r3", "{'id':'" RBAC_KV "','type':'Microsoft.KeyVault/vaults','location':"
                            "'westus','properties':{'tenantId':'T1','vaultUri':'" V2 "',"
                            "'enablePurgeProtection':true,'enableRbacAuthorization':true}}")),
              "aa");
    CHECK(vlt_state_access(st, V2, "pr") == VLT_PERM_ALL);
    /* a second assignment for the same principal, then the first one deleted: kept */
    const char *ra2 = RN("r4", "{'id':'" RBAC_KV "/providers/Microsoft.Authorization/"
                               "roleAssignments/ra2','type':'Microsoft.Authorization/"
                               "roleAssignments','properties':{'roleDefinitionId':"
                               "'00482a5a-887f-4fb3-b363-3b7fe8e74483','principalId':'pr',"
                               "'scope':'" RBAC_KV "'}}");
    CHECK_STR(send(ra2), "a");
    CHECK(tr(RN_DEL("r5", "{'id':'" RA_ID "','type':'Microsoft.Authorization/roleAssignments'}")) ==
          0);
    CHECK_STR(send(RN_DEL("r6", "{'id':'" RBAC_KV "/providers/Microsoft.Authorization/"
                                "roleAssignments/ra2','type':'Microsoft.Authorization/"
                                "roleAssignments'}")),
              "a");
    CHECK_STR(send(RN_DEL("r7", "{'id':'" RA_ID "','type':'Microsoft.Authorization/"
                                "roleAssignments'}")),
              "a");
    CHECK(vlt_state_access(st, V2, "pr") == 0);
    /* the flat form `az role assignment list` writes */
    CHECK(tr(RN("r7b", "{'id':'" RA_ID "','type':'Microsoft.Authorization/roleAssignments',"
                       "'roleDefinitionId':'/subscriptions/s1/providers/Microsoft.Authorization/"
                       "roleDefinitions/12338af0-0e69-4776-bea7-57ae8d297424','principalId':'PR',"
                       "'scope':'" RG "'}")) == 1);
    CHECK_STR(type_at(0), "vault.access.granted");
    /* a role that gives no key permissions */
    CHECK(tr(RN("r8", "{'id':'" RA_ID "','type':'Microsoft.Authorization/roleAssignments',"
                      "'properties':{'roleDefinitionId':'acdd72a7-3385-48ef-bd42-f606fba81ae7',"
                      "'principalId':'PR','scope':'" RG "'}}")) == 0);
}

static void test_keys(void)
{
    /* an ARM key body: a key cmkguard does not know, disabled */
    CHECK(tr(RN("k1", "{'id':'" KVID "/keys/k2','type':'Microsoft.KeyVault/vaults/keys',"
                      "'properties':{'kty':'RSA','keySize':2048,'keyUriWithVersion':'" V
                      "/keys/k2/" VER1 "','attributes':{'enabled':false,'exp':1893456000}}}")) ==
          2);
    CHECK_STR(type_at(0), "key.created");
    CHECK_STR(o.ev[0].kty, "RSA");
    CHECK(o.ev[0].size == 2048);
    CHECK_STR(o.ev[0].exp, "2030-01-01T00:00:00Z");
    CHECK_STR(type_at(1), "key.disabled");
    /* announced by Event Grid (type unknown), completed by the body */
    CHECK_STR(send("{'specversion':'1.0','id':'k2','source':'" KVID "','type':"
                   "'Microsoft.KeyVault.KeyNewVersionCreated','subject':'k3','time':"
                   "'2026-11-22T10:00:00Z','data':{'Id':'" V "/keys/k3/" VER1 "'}}"),
              "a");
    const vlt_key *k = vlt_state_key(st, V "/keys/k3");
    CHECK(k && k->kty == NULL && k->nvers == 1);
    const char *body =
        RN("k3", "{'id':'" KVID "/keys/k3','type':'Microsoft.KeyVault/vaults/keys',"
                 "'properties':{'kty':'RSA-HSM','keySize':3072,'keyUriWithVersion':'" V
                 "/keys/k3/" VER1 "','attributes':{'enabled':true}}}");
    CHECK(tr(body) == 1);
    CHECK_STR(type_at(0), "key.created");
    CHECK_STR(send(body), "a");
    k = vlt_state_key(st, V "/keys/k3");
    CHECK(k && k->kty && !strcmp(k->kty, "RSA-HSM") && k->size == 3072);
    /* a new version, then disabled */
    CHECK(tr(RN("k4", "{'id':'" KVID "/keys/k3','type':'Microsoft.KeyVault/vaults/keys',"
                      "'properties':{'kty':'RSA-HSM','keySize':3072,'keyUriWithVersion':'" V
                      "/keys/k3/" VER2
                      "','attributes':{'enabled':0,'nbf':'2026-01-01T00:00:00Z'}}}")) == 2);
    CHECK_STR(type_at(0), "key.rotated");
    CHECK_STR(o.ev[0].nbf, "2026-01-01T00:00:00Z");
    CHECK_STR(type_at(1), "key.disabled");
    /* the JSON of a derived event carries nbf and exp */
    CHECK(tr(EGKEY("k5", "KeyNewVersionCreated", VER3, ",'NBF':1764000000,'EXP':1893456000")) == 1);
    cm_buf b;
    cm_buf_init(&b, 0);
    az_event_json(&o.ev[0], "k5#1", "src", "2026-11-22T10:00:00Z", &b);
    CHECK_STR(b.p, "{\"specversion\":\"1.0\",\"id\":\"k5#1\",\"source\":\"src\",\"type\":"
                   "\"key.rotated\",\"subject\":\"" V "/keys/k\",\"time\":\"2026-11-22T10:00:00Z\","
                   "\"data\":{\"version\":\"" VER3 "\",\"nbf\":\"2025-11-24T16:00:00Z\","
                   "\"exp\":\"2030-01-01T00:00:00Z\"}}");
    cm_buf_free(&b);
    CHECK(tr(RN("k6", "{'id':'" KVID "/keys/k9','type':'Microsoft.KeyVault/vaults/keys',"
                      "'properties':{'kty':'RSA','keySize':'big'}}")) == -1);
    CHECK(strstr(o.reason, "properties.keySize: expected an integer") != NULL);
}

/* import: data-plane keys sized from their modulus; the same input, the same bytes */
static void test_import(void)
{
    static const char *docs[3] = {
        "[{'id':'" KVID "','type':'Microsoft.KeyVault/vaults','location':'westus','properties':"
        "{'tenantId':'T1','vaultUri':'" V "','accessPolicies':[{'objectId':'P1','permissions':"
        "{'keys':['get','wrapKey','unwrapKey']}}]}}]",
        NULL, /* a data-plane key, its modulus made below */
        "{'data':[{'id':'" ACC "','type':'microsoft.cognitiveservices/accounts','kind':'Face',"
        "'location':'westus','tenantId':'T1','subscriptionId':'s1'}]}",
    };
    /* n: 0x00 then 256 bytes (0xc3, zeros): RSA 2048, the leading zero not counted */
    static char dp[1200];
    char n[400] = "AMMA";
    memset(n + 4, 'A', 339);
    n[343] = '\0';
    snprintf(dp, sizeof dp,
             "{'key':{'kid':'" V "/keys/dp/" VER1 "','kty':'RSA','n':'%s',"
             "'e':'AQAB','keyOps':['wrapKey']},'attributes':{'enabled':true,'expires':"
             "'2030-01-01T00:00:00+00:00'}}",
             n);
    docs[1] = dp;
    cm_buf out1, out2;
    cm_buf_init(&out1, 0);
    cm_buf_init(&out2, 0);
    cm_err err;
    for (int round = 0; round < 2; round++) {
        az_import *im = az_import_new(NULL);
        for (size_t i = 0; i < 3; i++) {
            const char *j = J(docs[2 - i]); /* any order of files */
            CHECK(az_import_add(im, j, strlen(j), "doc", &err) == 0);
        }
        CHECK(az_import_write(im, round ? &out2 : &out1, &err) == 0);
        az_import_free(im);
    }
    CHECK(out1.len > 0 && out1.len == out2.len && !memcmp(out1.p, out2.p, out1.len));
    CHECK(strstr(out1.p, "\"kty\":\"RSA\",\"size\":2048") != NULL);
    CHECK(strstr(out1.p, "\"time\":\"1970-01-01T00:00:00Z\"") != NULL);
    /* vaults, keys, access, then the resource */
    const char *v = strstr(out1.p, "vault.upserted"), *k = strstr(out1.p, "key.created"),
               *a = strstr(out1.p, "vault.access.granted"), *r = strstr(out1.p, "resource.created");
    CHECK(v && k && a && r && v < k && k < a && a < r);
    az_import *im = az_import_new("2026-11-22T10:00:00Z");
    const char *bad = J("[{'id':'x','type':'Microsoft.Storage/storageAccounts'}]");
    CHECK(az_import_add(im, bad, strlen(bad), "bad.json", &err) < 0);
    CHECK(strstr(err.msg, "body 1") && strstr(err.msg, "Microsoft.Storage/storageAccounts"));
    az_import_free(im);
    cm_buf_free(&out1);
    cm_buf_free(&out2);
}

int main(void)
{
    cm_err err;
    st = vlt_state_open(NULL, NULL, &err);
    pol_ruleset *rs = pol_ruleset_empty();
    eng = pol_engine_new(rs, st, 0);
    test_event_grid();
    test_vault();
    test_account();
    test_rbac();
    test_keys();
    test_import();
    az_obs_clear(&o);
    aud_decision_clear(&d);
    pol_engine_free(eng);
    pol_ruleset_free(rs);
    vlt_state_free(st);
    T_DONE();
}
