#include "crypto/crypto.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/unit/t.h"

static void test_gcm(void)
{
    uint8_t key[32], key2[32];
    cry_random(key, 32);
    cry_random(key2, 32);
    cm_buf ct, pt;
    cm_buf_init(&ct, 0);
    cm_buf_init(&pt, 0);
    CHECK(cry_gcm_seal(key, "aad", 3, "hello", 5, &ct) == 0);
    CHECK(ct.len == 5 + CRY_GCM_OVERHEAD);
    /* Plaintext goes only into a buffer that wipes it. */
    CHECK(cry_gcm_open(key, "aad", 3, ct.p, ct.len, &pt) < 0);
    CHECK(pt.len == 0 && pt.p == NULL);
    cm_buf_init_secret(&pt, 0);
    CHECK(cry_gcm_open(key, "aad", 3, ct.p, ct.len, &pt) == 0);
    CHECK(pt.len == 5 && memcmp(pt.p, "hello", 5) == 0);
    cm_buf_reset(&pt);
    CHECK(cry_gcm_open(key2, "aad", 3, ct.p, ct.len, &pt) < 0);
    CHECK(cry_gcm_open(key, "aae", 3, ct.p, ct.len, &pt) < 0);
    ct.p[14] ^= 1;
    CHECK(cry_gcm_open(key, "aad", 3, ct.p, ct.len, &pt) < 0);
    CHECK(pt.len == 0);
    cm_buf_free(&ct);
    cm_buf_free(&pt);
    /* A seal that fails once the message is in the buffer (no room for the tag) leaves
     * the buffer as it was and nothing of the message behind it. */
    cm_buf b;
    cm_buf_init(&b, 64);
    cm_buf_adds(&b, "head");
    char msg[40];
    memset(msg, 'p', sizeof msg);
    CHECK(cry_gcm_seal(key, "aad", 3, msg, sizeof msg, &b) < 0);
    CHECK(b.len == 4 && b.p[4] == '\0' && b.cap >= 4 + 12 + sizeof msg);
    bool clean = true;
    for (size_t i = 4; i < 4 + 12 + sizeof msg; i++)
        clean = clean && b.p[i] == 0;
    CHECK(clean);
    cm_buf_free(&b);
}

static void test_kw(void)
{
    uint8_t kek[32], dek[32];
    cry_random(kek, 32);
    cry_random(dek, 32);
    cm_buf w;
    cm_buf_init(&w, 0);
    CHECK(cry_kw_wrap(kek, dek, 32, &w) == 0 && w.len == 40);
    cry_secret *s;
    CHECK(cry_kw_unwrap(kek, 32, (uint8_t *)w.p, w.len, &s) == 0);
    CHECK(s && s->len == 32 && memcmp(s->b, dek, 32) == 0);
    cry_secret_free(s);
    kek[0] ^= 1; /* a wrong key is caught by the library: the environment's failure */
    CHECK(cry_kw_unwrap(kek, 32, (uint8_t *)w.p, w.len, &s) == CM_EENV && s == NULL);
    CHECK(cry_kw_unwrap(kek, 32, (uint8_t *)w.p, 8, &s) == CM_EINPUT && s == NULL);
    cm_buf_free(&w);
}

/* A held KEK wraps exactly as a KEK given per call does, call after call (the context
 * starts over each time), unwraps what either made, and refuses what it did not. */
static void test_kw_held(void)
{
    uint8_t kek[32], other[32];
    cry_random(kek, 32);
    cry_random(other, 32);
    cry_kw *k = cry_kw_new(kek, 32), *o = cry_kw_new(other, 32);
    CHECK(k && o && cry_kw_new(kek, 20) == NULL);
    int bad = 0;
    for (int i = 0; i < 200; i++) {
        uint8_t dek[64];
        size_t n = i % 3 == 0 ? 16 : i % 3 == 1 ? 32 : 64;
        cry_random(dek, n);
        cm_buf a, b;
        cm_buf_init(&a, 0);
        cm_buf_init(&b, 0);
        bad += cry_kw_wrap_with(k, dek, n, &a) != 0 || cry_kw_wrap(kek, dek, n, &b) != 0 ||
               a.len != n + 8 || b.len != a.len || memcmp(a.p, b.p, a.len) != 0;
        cry_secret *s = NULL;
        bad += cry_kw_unwrap_with(k, (uint8_t *)b.p, b.len, &s) != 0 || !s || s->len != n ||
               memcmp(s->b, dek, n) != 0;
        cry_secret_free(s);
        bad += cry_kw_unwrap_with(o, (uint8_t *)a.p, a.len, &s) != CM_EENV || s != NULL;
        cm_buf_free(&a);
        cm_buf_free(&b);
    }
    CHECK(bad == 0);
    cry_secret *s = NULL;
    CHECK(cry_kw_unwrap_with(k, (const uint8_t *)"short", 5, &s) == CM_EINPUT && s == NULL);
    /* Lengths the key-wrap cipher refuses, refused the same way; a changed byte fails. */
    uint8_t d[48] = {1};
    cm_buf a;
    cm_buf_init(&a, 0);
    CHECK(cry_kw_wrap_with(k, d, 8, &a) == CM_EENV && cry_kw_wrap_with(k, d, 20, &a) == CM_EENV &&
          a.len == 0);
    CHECK(cry_kw_wrap_with(k, d, 24, &a) == 0 && a.len == 32);
    CHECK(cry_kw_unwrap_with(k, (uint8_t *)a.p, 28, &s) == CM_EENV && s == NULL);
    a.p[9] ^= 1;
    CHECK(cry_kw_unwrap_with(k, (uint8_t *)a.p, a.len, &s) == CM_EENV && s == NULL);
    cm_buf_free(&a);
    cry_kw_free(k);
    cry_kw_free(o);
    cry_kw_free(NULL);
    /* RFC 3394 4.6 (256-bit KEK, 256-bit key data), and 128- and 192-bit KEKs against the
     * library's key-wrap cipher. */
    uint8_t kek6[32], data6[32];
    for (int i = 0; i < 32; i++) {
        kek6[i] = (uint8_t)i;
        data6[i] = (uint8_t)(i < 16 ? i * 0x11 : i - 16);
    }
    static const uint8_t want6[40] = {0x28, 0xC9, 0xF4, 0x04, 0xC4, 0xB8, 0x10, 0xF4, 0xCB, 0xCC,
                                      0xB3, 0x5C, 0xFB, 0x87, 0xF8, 0x26, 0x3F, 0x57, 0x86, 0xE2,
                                      0xD8, 0x0E, 0xD3, 0x26, 0xCB, 0xC7, 0xF0, 0xE7, 0x1A, 0x99,
                                      0xF4, 0x3B, 0xFB, 0x98, 0x8B, 0x9B, 0x7A, 0x02, 0xDD, 0x21};
    k = cry_kw_new(kek6, 32);
    cm_buf_init(&a, 0);
    CHECK(k && cry_kw_wrap_with(k, data6, 32, &a) == 0 && a.len == 40 &&
          memcmp(a.p, want6, 40) == 0);
    cm_buf_free(&a);
    cry_kw_free(k);
    for (size_t kl = 16; kl <= 24; kl += 8) {
        k = cry_kw_new(kek6, kl);
        cm_buf_init(&a, 0);
        CHECK(k && cry_kw_wrap_with(k, data6, 32, &a) == 0 && a.len == 40);
        CHECK(k && cry_kw_unwrap(kek6, kl, (uint8_t *)a.p, a.len, &s) == 0 && s && s->len == 32 &&
              memcmp(s->b, data6, 32) == 0);
        cry_secret_free(s);
        s = NULL;
        cm_buf_free(&a);
        cry_kw_free(k);
    }
}

static void test_rsa(void)
{
    char err[256];
    cry_pkey *k;
    CHECK(cry_pkey_generate("RSA", 2048, &k, err, sizeof err) == 0 && k != NULL);
    uint8_t dek[32];
    cry_random(dek, 32);
    cm_buf w;
    cm_buf_init(&w, 0);
    CHECK(cry_pkey_wrap(k, dek, 32, &w, err, sizeof err) == 0 && w.len == 256);
    cry_secret *der = cry_pkey_export(k);
    CHECK(der != NULL);
    cry_pkey *k2 = cry_pkey_import("RSA", der->b, der->len);
    cry_secret_free(der);
    CHECK(k2 != NULL);
    cry_secret *s;
    CHECK(cry_pkey_unwrap(k2, (uint8_t *)w.p, w.len, &s, err, sizeof err) == 0);
    CHECK(s && s->len == 32 && memcmp(s->b, dek, 32) == 0);
    cry_secret_free(s);
    w.p[5] ^= 1;
    CHECK(cry_pkey_unwrap(k2, (uint8_t *)w.p, w.len, &s, err, sizeof err) == CM_EENV && !s);
    cry_pkey_free(k);
    cry_pkey_free(k2);
    cm_buf_free(&w);
    /* refusals decided before the library is asked are the input's */
    CHECK(cry_pkey_generate("RSA", 99999, &k, err, sizeof err) == CM_EINPUT && !k);
    CHECK(strstr(err, "unsupported RSA key size") != NULL);
    CHECK(cry_pkey_generate("DSA", 2048, &k, err, sizeof err) == CM_EINPUT && !k);
    cry_pkey *ec;
    CHECK(cry_pkey_generate("EC", 0, &ec, err, sizeof err) == 0 && ec != NULL);
    cm_buf_init(&w, 0);
    CHECK(cry_pkey_wrap(ec, dek, 32, &w, err, sizeof err) == CM_EINPUT);
    CHECK(cry_pkey_unwrap(ec, dek, 32, &s, err, sizeof err) == CM_EINPUT);
    cry_pkey_free(ec);
    cry_pkey *oct;
    CHECK(cry_pkey_generate("oct", 256, &oct, err, sizeof err) == 0);
    CHECK(oct && cry_pkey_wrap(oct, dek, 32, &w, err, sizeof err) == 0);
    s = NULL;
    if (oct)
        cry_pkey_unwrap(oct, (uint8_t *)w.p, w.len, &s, err, sizeof err);
    CHECK(s && memcmp(s->b, dek, 32) == 0);
    cry_secret_free(s);
    cry_pkey_free(oct);
    cm_buf_free(&w);
}

static void test_sign(void)
{
    char dir[] = "/tmp/cmkg-cryXXXXXX", prefix[128], path[160], kid[17];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(prefix, sizeof prefix, "%s/audit", dir);
    cm_err err;
    CHECK(cry_keygen_ed25519(prefix, kid, &err) == 0);
    snprintf(path, sizeof path, "%s.key", prefix);
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    cry_signer *s = cry_signer_load(path, &err);
    snprintf(path, sizeof path, "%s.pub", prefix);
    cry_verifier *v = cry_verifier_load(path, &err);
    CHECK(s && v);
    CHECK_STR(cry_signer_kid(s), kid);
    CHECK_STR(cry_verifier_kid(v), kid);
    uint8_t h[32], sig[64];
    cry_sha256("x", 1, h);
    uint64_t a[CRY_OP_COUNT], b[CRY_OP_COUNT];
    cry_ops_read(a);
    CHECK(cry_signer_sign(s, h, 32, sig) == 0);
    cry_ops_read(b);
    CHECK(b[CRY_OP_SIGN] - a[CRY_OP_SIGN] == 1);
    CHECK(cry_verifier_check(v, h, 32, sig, 64));
    h[0] ^= 1;
    CHECK(!cry_verifier_check(v, h, 32, sig, 64));
    CHECK(cry_signer_load(path, &err) == NULL);       /* a public key is no private key */
    CHECK(cry_keygen_ed25519(prefix, kid, &err) < 0); /* never overwrites */
    cry_signer_free(s);
    cry_verifier_free(v);
    snprintf(path, sizeof path, "%s.key", prefix);
    unlink(path);
    snprintf(path, sizeof path, "%s.pub", prefix);
    unlink(path);
    rmdir(dir);
}

/* Each operation counts once, under its kind and RSA size, and only when it succeeds. */
static void test_ops(void)
{
    uint64_t a[CRY_OP_COUNT], b[CRY_OP_COUNT], want[CRY_OP_COUNT] = {0};
    char err[256];
    uint8_t dek[32] = {7}, kek[32] = {9};
    cm_buf w, w1024, kw, ct, pt;
    cm_buf_init(&w, 0);
    cm_buf_init(&w1024, 0);
    cm_buf_init(&kw, 0);
    cm_buf_init(&ct, 0);
    cm_buf_init_secret(&pt, 0);
    cry_ops_read(a);
    cry_pkey *rsa = NULL, *rsa1024 = NULL, *oct = NULL, *ec = NULL, *back = NULL;
    CHECK(cry_pkey_generate("RSA", 2048, &rsa, err, sizeof err) == 0);
    want[CRY_OP_KEYGEN_RSA2048] = 1;
    CHECK(cry_pkey_generate("RSA-HSM", 1024, &rsa1024, err, sizeof err) == 0);
    want[CRY_OP_KEYGEN_RSA_OTHER] = 1;
    CHECK(cry_pkey_generate("oct", 256, &oct, err, sizeof err) == 0); /* not a DEK */
    want[CRY_OP_KEYGEN_OCT] = 1;
    CHECK(cry_pkey_generate("EC", 0, &ec, err, sizeof err) == 0);
    want[CRY_OP_KEYGEN_EC] = 1;
    CHECK(cry_pkey_generate("RSA", 99999, &back, err, sizeof err) == CM_EINPUT); /* refused */
    if (!rsa || !rsa1024 || !oct || !ec)
        return;
    for (int i = 0; i < 3; i++)
        CHECK(cry_pkey_wrap(rsa, dek, 32, &w, err, sizeof err) == 0);
    want[CRY_OP_WRAP_RSA2048] = 3;
    CHECK(cry_pkey_wrap(rsa1024, dek, 32, &w1024, err, sizeof err) == 0);
    want[CRY_OP_WRAP_RSA_OTHER] = 1;
    CHECK(cry_pkey_wrap(ec, dek, 32, &kw, err, sizeof err) == CM_EINPUT); /* refused */
    /* An imported key counts under its size too. */
    cry_secret *der = cry_pkey_export(rsa), *s = NULL;
    CHECK(der && (back = cry_pkey_import("RSA", der->b, der->len)) != NULL);
    cry_secret_free(der);
    CHECK(back && cry_pkey_unwrap(back, (uint8_t *)w.p, 256, &s, err, sizeof err) == 0);
    cry_secret_free(s);
    want[CRY_OP_UNWRAP_RSA2048] = 1;
    w.p[3] ^= 1; /* fails: not counted */
    CHECK(back && cry_pkey_unwrap(back, (uint8_t *)w.p, 256, &s, err, sizeof err) == CM_EENV);
    CHECK(cry_pkey_unwrap(rsa1024, (uint8_t *)w1024.p, w1024.len, &s, err, sizeof err) == 0);
    cry_secret_free(s);
    want[CRY_OP_UNWRAP_RSA_OTHER] = 1;
    CHECK(cry_kw_wrap(kek, dek, 32, &kw) == 0 &&
          cry_pkey_wrap(oct, dek, 32, &kw, err, sizeof err) == 0);
    CHECK(cry_kw_unwrap(kek, 32, (uint8_t *)kw.p, 40, &s) == 0);
    cry_secret_free(s);
    CHECK(cry_pkey_unwrap(oct, (uint8_t *)kw.p + 40, 40, &s, err, sizeof err) == 0);
    cry_secret_free(s);
    cry_kw *held = cry_kw_new(kek, 32); /* a held KEK counts the same */
    CHECK(held && cry_kw_wrap_with(held, dek, 32, &kw) == 0);
    CHECK(held && cry_kw_unwrap_with(held, (uint8_t *)kw.p, 40, &s) == 0);
    cry_secret_free(s);
    cry_kw_free(held);
    want[CRY_OP_KW_WRAP] = 3;
    kek[0] ^= 1; /* a wrong key: not counted */
    CHECK(cry_kw_unwrap(kek, 32, (uint8_t *)kw.p, 40, &s) == CM_EENV);
    want[CRY_OP_KW_UNWRAP] = 3;
    for (int i = 0; i < 5; i++)
        cry_secret_free(cry_secret_random(CRY_DEK_LEN));
    want[CRY_OP_DEK] = 5;
    CHECK(cry_gcm_seal(kek, "a", 1, "x", 1, &ct) == 0);
    CHECK(cry_gcm_open(kek, "a", 1, ct.p, ct.len, &pt) == 0);
    CHECK(cry_gcm_open(kek, "b", 1, ct.p, ct.len, &pt) == CM_EENV);
    want[CRY_OP_GCM_SEAL] = want[CRY_OP_GCM_OPEN] = 1;
    cry_ops_read(b);
    for (int i = 0; i < CRY_OP_COUNT; i++) {
        if (b[i] - a[i] != want[i])
            fprintf(stderr, "%s: %llu, expected %llu\n", cry_op_name(i),
                    (unsigned long long)(b[i] - a[i]), (unsigned long long)want[i]);
        CHECK(b[i] - a[i] == want[i]);
    }
    CHECK_STR(cry_op_name(CRY_OP_KEYGEN_RSA2048), "keygen_rsa2048");
    CHECK_STR(cry_op_name(CRY_OP_SIGN), "sign");
    cry_pkey_free(rsa);
    cry_pkey_free(rsa1024);
    cry_pkey_free(oct);
    cry_pkey_free(ec);
    cry_pkey_free(back);
    cm_buf_free(&w);
    cm_buf_free(&w1024);
    cm_buf_free(&kw);
    cm_buf_free(&ct);
    cm_buf_free(&pt);
}

int main(void)
{
    test_ops();
    test_gcm();
    test_kw();
    test_kw_held();
    test_rsa();
    test_sign();
    uint8_t h[32];
    char hex[65];
    cry_sha256("abc", 3, h);
    cm_hex(h, 32, hex);
    CHECK_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    T_DONE();
}
