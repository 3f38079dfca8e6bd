#include "crypto/crypto.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fault.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

/* A failure of the crypto library (or an injected one) is the environment's: CM_EENV.
 * A refusal decided before any library call (an EC key asked to wrap, say) is the
 * input's: CM_EINPUT. */
static int lib_fail(void)
{
    return CM_EENV;
}

/* The crypto fault seam: true when this call must fail (as the library would). */
static bool seam(const char *what)
{
    return CM_FAULT(CM_FAULT_CRYPTO, what);
}

/* ---- operation counts (crypto.h) ---- */

static struct {
    _Alignas(64) atomic_uint_least64_t n;
} ops[CRY_OP_COUNT];

static const char *const op_names[CRY_OP_COUNT] = {
    [CRY_OP_KEYGEN_RSA2048] = "keygen_rsa2048",
    [CRY_OP_KEYGEN_RSA3072] = "keygen_rsa3072",
    [CRY_OP_KEYGEN_RSA4096] = "keygen_rsa4096",
    [CRY_OP_KEYGEN_RSA_OTHER] = "keygen_rsa_other",
    [CRY_OP_KEYGEN_EC] = "keygen_ec",
    [CRY_OP_KEYGEN_OCT] = "keygen_oct",
    [CRY_OP_WRAP_RSA2048] = "wrap_rsa2048",
    [CRY_OP_WRAP_RSA3072] = "wrap_rsa3072",
    [CRY_OP_WRAP_RSA4096] = "wrap_rsa4096",
    [CRY_OP_WRAP_RSA_OTHER] = "wrap_rsa_other",
    [CRY_OP_UNWRAP_RSA2048] = "unwrap_rsa2048",
    [CRY_OP_UNWRAP_RSA3072] = "unwrap_rsa3072",
    [CRY_OP_UNWRAP_RSA4096] = "unwrap_rsa4096",
    [CRY_OP_UNWRAP_RSA_OTHER] = "unwrap_rsa_other",
    [CRY_OP_KW_WRAP] = "kw_wrap",
    [CRY_OP_KW_UNWRAP] = "kw_unwrap",
    [CRY_OP_DEK] = "dek",
    [CRY_OP_GCM_SEAL] = "gcm_seal",
    [CRY_OP_GCM_OPEN] = "gcm_open",
    [CRY_OP_SIGN] = "sign",
};

static void count(enum cry_op op)
{
    atomic_fetch_add_explicit(&ops[op].n, 1, memory_order_relaxed);
}

/* The RSA kind of op (a *_RSA2048 kind) for a key of this many bits. */
static enum cry_op rsa_op(enum cry_op rsa2048, int bits)
{
    switch (bits) {
    case 2048:
        return rsa2048;
    case 3072:
        return rsa2048 + 1;
    case 4096:
        return rsa2048 + 2;
    default:
        return rsa2048 + 3;
    }
}

const char *cry_op_name(enum cry_op op)
{
    return (unsigned)op < CRY_OP_COUNT ? op_names[op] : "?";
}

void cry_ops_read(uint64_t counts[CRY_OP_COUNT])
{
    for (int i = 0; i < CRY_OP_COUNT; i++)
        counts[i] = atomic_load_explicit(&ops[i].n, memory_order_relaxed);
}

int cry_random(void *buf, size_t n)
{
    if (seam("random") || RAND_bytes(buf, (int)n) != 1)
        return lib_fail();
    return 0;
}

void cry_sha256(const void *d, size_t n, uint8_t out[CRY_HASH_LEN])
{
    unsigned int len = CRY_HASH_LEN;
    EVP_Digest(d, n, out, &len, EVP_sha256(), NULL);
}

bool cry_memeq(const void *a, const void *b, size_t n)
{
    return CRYPTO_memcmp(a, b, n) == 0;
}

void cry_cleanse(void *p, size_t n)
{
    OPENSSL_cleanse(p, n);
}

struct cry_hash {
    EVP_MD_CTX *ctx;
    EVP_MD *md;
};

cry_secret *cry_hkdf(const cry_secret *ikm, const char *info, size_t n)
{
    cry_secret *out = cry_secret_new(n);
    EVP_KDF *kdf = seam("hkdf") ? NULL : EVP_KDF_fetch(NULL, "HKDF", NULL);
    EVP_KDF_CTX *ctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)ikm->b, ikm->len),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, strlen(info)),
        OSSL_PARAM_construct_end()};
    if (!out || !ctx || EVP_KDF_derive(ctx, out->b, n, params) != 1) {
        cry_secret_free(out);
        out = NULL;
    }
    EVP_KDF_CTX_free(ctx);
    EVP_KDF_free(kdf);
    return out;
}

struct cry_mac {
    EVP_MAC *mac;
    EVP_MAC_CTX *ctx;
};

cry_mac *cry_mac_new(const cry_secret *key)
{
    cry_mac *m = cm_xcalloc(1, sizeof *m);
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA512", 0),
        OSSL_PARAM_construct_end()};
    m->mac = seam("hmac") ? NULL : EVP_MAC_fetch(NULL, "HMAC", NULL);
    m->ctx = m->mac ? EVP_MAC_CTX_new(m->mac) : NULL;
    if (!m->ctx || EVP_MAC_init(m->ctx, key->b, key->len, params) != 1) {
        cry_mac_free(m);
        return NULL;
    }
    return m;
}

void cry_mac_free(cry_mac *m)
{
    if (!m)
        return;
    EVP_MAC_CTX_free(m->ctx); /* wipes the key it holds */
    EVP_MAC_free(m->mac);
    free(m);
}

int cry_mac_begin(cry_mac *m)
{
    /* A NULL key keeps the one given at creation. */
    return EVP_MAC_init(m->ctx, NULL, 0, NULL) == 1 ? 0 : lib_fail();
}

int cry_mac_update(cry_mac *m, const void *d, size_t n)
{
    return EVP_MAC_update(m->ctx, d, n) == 1 ? 0 : lib_fail();
}

int cry_mac_final(cry_mac *m, uint8_t out[CRY_MAC_LEN])
{
    size_t len = 0;
    return !seam("hmac") && EVP_MAC_final(m->ctx, out, &len, CRY_MAC_LEN) == 1 && len == CRY_MAC_LEN
               ? 0
               : lib_fail();
}

cry_hash *cry_hash_new(void)
{
    cry_hash *h = cm_xcalloc(1, sizeof *h);
    h->ctx = EVP_MD_CTX_new();
    h->md = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (!h->ctx || !h->md) {
        cry_hash_free(h);
        return NULL;
    }
    return h;
}

void cry_hash_free(cry_hash *h)
{
    if (!h)
        return;
    EVP_MD_CTX_free(h->ctx);
    EVP_MD_free(h->md);
    free(h);
}

int cry_hash_begin(cry_hash *h)
{
    return !seam("sha256") && EVP_DigestInit_ex(h->ctx, h->md, NULL) == 1 ? 0 : lib_fail();
}

int cry_hash_update(cry_hash *h, const void *d, size_t n)
{
    return EVP_DigestUpdate(h->ctx, d, n) == 1 ? 0 : lib_fail();
}

int cry_hash_final(cry_hash *h, uint8_t out[CRY_HASH_LEN])
{
    unsigned int len = CRY_HASH_LEN;
    return !seam("sha256") && EVP_DigestFinal_ex(h->ctx, out, &len) == 1 ? 0 : lib_fail();
}

cry_secret *cry_secret_new(size_t len)
{
    cry_secret *s = CM_FAULT(CM_FAULT_ALLOC, "secret") ? NULL : OPENSSL_zalloc(sizeof *s + len + 1);
    if (!s)
        cm_oom(sizeof *s + len + 1);
    // cppcheck-suppress nullPointerRedundantCheck ; cm_oom does not return
    s->len = len;
    return s;
}

static cry_secret *secret_random(size_t len)
{
    cry_secret *s = cry_secret_new(len);
    if (cry_random(s->b, len) < 0) {
        cry_secret_free(s);
        return NULL;
    }
    return s;
}

cry_secret *cry_secret_random(size_t len)
{
    cry_secret *s = secret_random(len);
    if (s)
        count(CRY_OP_DEK);
    return s;
}

cry_secret *cry_secret_dup(const uint8_t *d, size_t len)
{
    cry_secret *s = cry_secret_new(len);
    memcpy(s->b, d, len);
    return s;
}

void cry_secret_free(cry_secret *s)
{
    if (s)
        OPENSSL_clear_free(s, sizeof *s + s->len + 1);
}

/* ---- AES-256-GCM ---- */

int cry_gcm_seal(const uint8_t key[CRY_DEK_LEN], const void *aad, size_t aadn, const void *pt,
                 size_t n, cm_buf *out)
{
    int rc = -1, len = 0;
    uint8_t nonce[12], tag[16];
    if (n > (size_t)INT32_MAX)
        return CM_EINPUT;
    if (seam("aes-gcm seal") || cry_random(nonce, sizeof nonce) < 0)
        return lib_fail();
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    if (!c)
        return lib_fail();
    size_t start = out->len;
    if (EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, nonce) != 1)
        goto out_free;
    if (aadn && EVP_EncryptUpdate(c, NULL, &len, aad, (int)aadn) != 1)
        goto out_free;
    if (cm_buf_add(out, nonce, sizeof nonce) < 0 || cm_buf_add(out, NULL, 0) < 0)
        goto out_free;
    /* Reserve room for the ciphertext, then encrypt in place into the buffer. */
    if (n && cm_buf_add(out, pt, n) < 0)
        goto out_free;
    if (n && EVP_EncryptUpdate(c, (uint8_t *)out->p + start + 12, &len,
                               (const uint8_t *)out->p + start + 12, (int)n) != 1)
        goto out_free;
    if (EVP_EncryptFinal_ex(c, tag, &len) != 1 ||
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, tag) != 1)
        goto out_free;
    if (cm_buf_add(out, tag, sizeof tag) < 0)
        goto out_free;
    count(CRY_OP_GCM_SEAL);
    rc = 0;
out_free:
    if (rc < 0) { /* what was copied in may still be plaintext: none of it stays behind */
        if (out->p && out->len > start)
            cm_wipe(out->p + start, out->len - start);
        out->len = start;
        if (out->p)
            out->p[start] = '\0';
        rc = lib_fail();
    }
    EVP_CIPHER_CTX_free(c);
    return rc;
}

int cry_gcm_open(const uint8_t key[CRY_DEK_LEN], const void *aad, size_t aadn, const void *inp,
                 size_t n, cm_buf *out)
{
    const uint8_t *in = inp;
    int rc = -1, len = 0;
    if (!out->secret) /* plaintext goes only where it is wiped */
        return CM_EENV;
    if (n < CRY_GCM_OVERHEAD || n - CRY_GCM_OVERHEAD > (size_t)INT32_MAX)
        return CM_EINPUT;
    size_t ctn = n - CRY_GCM_OVERHEAD, start = out->len;
    if (seam("aes-gcm open"))
        return lib_fail();
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    if (!c)
        return lib_fail();
    if (EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, in) != 1)
        goto out_free;
    if (aadn && EVP_DecryptUpdate(c, NULL, &len, aad, (int)aadn) != 1)
        goto out_free;
    if (ctn && cm_buf_add(out, in + 12, ctn) < 0)
        goto out_free;
    if (ctn && EVP_DecryptUpdate(c, (uint8_t *)out->p + start, &len, (uint8_t *)out->p + start,
                                 (int)ctn) != 1)
        goto out_free;
    if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, (void *)(in + 12 + ctn)) != 1)
        goto out_free;
    if (EVP_DecryptFinal_ex(c, NULL, &len) != 1)
        goto out_free;
    count(CRY_OP_GCM_OPEN);
    rc = 0;
out_free:
    if (rc < 0) {
        if (out->p)
            cry_cleanse(out->p + start, out->len - start);
        out->len = start;
        ERR_clear_error();
        rc = lib_fail();
    }
    EVP_CIPHER_CTX_free(c);
    return rc;
}

/* ---- AES key wrap ---- */

static const EVP_CIPHER *kw_cipher(size_t keklen)
{
    switch (keklen) {
    case 16:
        return EVP_aes_128_wrap();
    case 24:
        return EVP_aes_192_wrap();
    case 32:
        return EVP_aes_256_wrap();
    default:
        return NULL;
    }
}

static int kw_do(bool enc, const uint8_t *kek, size_t keklen, const uint8_t *in, size_t n,
                 uint8_t *out, size_t *outn)
{
    const EVP_CIPHER *ci = kw_cipher(keklen);
    if (!ci || n > 4096)
        return CM_EINPUT;
    if (seam("aes key wrap"))
        return lib_fail();
    int rc = -1, l1 = 0, l2 = 0;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    if (!c)
        return lib_fail();
    EVP_CIPHER_CTX_set_flags(c, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
    if (EVP_CipherInit_ex(c, ci, NULL, kek, NULL, enc ? 1 : 0) != 1)
        goto out_free;
    if (EVP_CipherUpdate(c, out, &l1, in, (int)n) != 1)
        goto out_free;
    if (EVP_CipherFinal_ex(c, out + l1, &l2) != 1)
        goto out_free;
    *outn = (size_t)(l1 + l2);
    count(enc ? CRY_OP_KW_WRAP : CRY_OP_KW_UNWRAP);
    rc = 0;
out_free:
    if (rc < 0) {
        ERR_clear_error();
        rc = lib_fail();
    }
    EVP_CIPHER_CTX_free(c);
    return rc;
}

int cry_kw_wrap(const uint8_t kek[CRY_DEK_LEN], const uint8_t *in, size_t n, cm_buf *out)
{
    uint8_t tmp[4096 + 16];
    size_t outn = 0;
    if (n + 8 > sizeof tmp)
        return CM_EINPUT;
    int rc = kw_do(true, kek, CRY_DEK_LEN, in, n, tmp, &outn);
    return rc < 0 ? rc : cm_buf_add(out, tmp, outn);
}

int cry_kw_unwrap(const uint8_t *kek, size_t keklen, const uint8_t *in, size_t n, cry_secret **out)
{
    *out = NULL;
    if (n < 16 || n > 4096 + 8)
        return CM_EINPUT;
    cry_secret *s = cry_secret_new(n);
    size_t outn = 0;
    int rc = kw_do(false, kek, keklen, in, n, s->b, &outn);
    if (rc < 0) {
        cry_secret_free(s);
        return rc;
    }
    s->len = outn;
    *out = s;
    return 0;
}

/* A held KEK does RFC 3394 itself over the KEK's AES block cipher (ECB, schedules made
 * once): the key-wrap cipher made its context start over for every wrap, and ran a
 * table AES where the ECB cipher uses the CPU's instructions (4.5 against 1.3 us a
 * 32-byte wrap). The bytes are the same as the key-wrap cipher's (test_crypto). */
struct cry_kw {
    pthread_mutex_t mu;
    EVP_CIPHER_CTX *c[2]; /* AES-ECB decrypt, encrypt: each keeps the KEK's schedule */
};

static const EVP_CIPHER *kw_ecb(size_t keklen)
{
    switch (keklen) {
    case 16:
        return EVP_aes_128_ecb();
    case 24:
        return EVP_aes_192_ecb();
    case 32:
        return EVP_aes_256_ecb();
    default:
        return NULL;
    }
}

cry_kw *cry_kw_new(const uint8_t *kek, size_t keklen)
{
    const EVP_CIPHER *ci = kw_ecb(keklen);
    if (!ci)
        return NULL;
    cry_kw *k = cm_xcalloc(1, sizeof *k);
    pthread_mutex_init(&k->mu, NULL);
    for (int enc = 0; enc < 2; enc++) {
        k->c[enc] = EVP_CIPHER_CTX_new();
        if (!k->c[enc] || EVP_CipherInit_ex(k->c[enc], ci, NULL, kek, NULL, enc) != 1 ||
            EVP_CIPHER_CTX_set_padding(k->c[enc], 0) != 1)
            goto fail;
    }
    return k;
fail:
    ERR_clear_error();
    cry_kw_free(k);
    return NULL;
}

void cry_kw_free(cry_kw *k)
{
    if (!k)
        return;
    EVP_CIPHER_CTX_free(k->c[0]); /* cleanses the key schedule */
    EVP_CIPHER_CTX_free(k->c[1]);
    pthread_mutex_destroy(&k->mu);
    free(k);
}

/* RFC 3394 with the default IV, through one AES block at a time (b: A then R[i]). The
 * counter t goes into A big-endian. Unwrapping checks the IV in constant time. */
static const uint8_t kw_iv[8] = {0xA6, 0xA6, 0xA6, 0xA6, 0xA6, 0xA6, 0xA6, 0xA6};

static bool kw_block(EVP_CIPHER_CTX *c, uint8_t b[16])
{
    return EVP_Cipher(c, b, b, 16) > 0;
}

static void kw_xor_t(uint8_t a[8], uint64_t t)
{
    for (int i = 7; i >= 0; i--, t >>= 8)
        a[i] ^= (uint8_t)t;
}

static bool kw_wrap_blocks(EVP_CIPHER_CTX *c, const uint8_t *in, size_t n, uint8_t *out)
{
    size_t m = n / 8;
    uint8_t b[16];
    memcpy(b, kw_iv, 8);
    memmove(out + 8, in, n);
    bool ok = true;
    for (uint64_t j = 0; ok && j < 6; j++)
        for (size_t i = 1; ok && i <= m; i++) {
            memcpy(b + 8, out + 8 * i, 8);
            ok = kw_block(c, b);
            kw_xor_t(b, m * j + i);
            memcpy(out + 8 * i, b + 8, 8);
        }
    memcpy(out, b, 8);
    cm_wipe(b, sizeof b);
    if (!ok)
        cm_wipe(out, n + 8); /* a half-wrapped key is still the key */
    return ok;
}

static bool kw_unwrap_blocks(EVP_CIPHER_CTX *c, const uint8_t *in, size_t n, uint8_t *out)
{
    size_t m = n / 8 - 1;
    uint8_t b[16];
    memcpy(b, in, 8);
    memmove(out, in + 8, n - 8);
    bool ok = true;
    for (uint64_t j = 6; ok && j-- > 0;)
        for (size_t i = m; ok && i >= 1; i--) {
            kw_xor_t(b, m * j + i);
            memcpy(b + 8, out + 8 * (i - 1), 8);
            ok = kw_block(c, b);
            memcpy(out + 8 * (i - 1), b + 8, 8);
        }
    uint8_t diff = 0;
    for (int i = 0; i < 8; i++)
        diff |= (uint8_t)(b[i] ^ kw_iv[i]);
    cm_wipe(b, sizeof b);
    ok = ok && diff == 0;
    if (!ok)
        cm_wipe(out, n - 8);
    return ok;
}

/* One wrap or unwrap with a held KEK. Lengths the key-wrap cipher refuses (not whole
 * 8-byte blocks, fewer than two of them) fail as it did. */
static int kw_with(cry_kw *k, bool enc, const uint8_t *in, size_t n, uint8_t *out, size_t *outn)
{
    if (n > 4096)
        return CM_EINPUT;
    if (seam("aes key wrap"))
        return lib_fail();
    if (n % 8 || n < (enc ? 16u : 24u))
        return lib_fail();
    pthread_mutex_lock(&k->mu);
    bool ok = enc ? kw_wrap_blocks(k->c[1], in, n, out) : kw_unwrap_blocks(k->c[0], in, n, out);
    pthread_mutex_unlock(&k->mu);
    if (!ok) {
        ERR_clear_error();
        return lib_fail();
    }
    *outn = enc ? n + 8 : n - 8;
    count(enc ? CRY_OP_KW_WRAP : CRY_OP_KW_UNWRAP);
    return 0;
}

int cry_kw_wrap_with(cry_kw *k, const uint8_t *in, size_t n, cm_buf *out)
{
    uint8_t tmp[4096 + 16];
    size_t outn = 0;
    if (n + 8 > sizeof tmp)
        return CM_EINPUT;
    int rc = kw_with(k, true, in, n, tmp, &outn);
    if (rc == 0)
        rc = cm_buf_add(out, tmp, outn);
    cm_wipe(tmp, n + 8);
    return rc;
}

int cry_kw_unwrap_with(cry_kw *k, const uint8_t *in, size_t n, cry_secret **out)
{
    *out = NULL;
    if (n < 16 || n > 4096 + 8)
        return CM_EINPUT;
    cry_secret *s = cry_secret_new(n);
    size_t outn = 0;
    int rc = kw_with(k, false, in, n, s->b, &outn);
    if (rc < 0) {
        cry_secret_free(s);
        return rc;
    }
    s->len = outn;
    *out = s;
    return 0;
}

/* ---- key-vault key material ---- */

enum pk_kind { PK_RSA, PK_EC, PK_OCT };

struct cry_pkey {
    enum pk_kind kind;
    int bits;          /* RSA: the modulus size, which the operation counts tell apart */
    EVP_PKEY *pk;      /* RSA, EC */
    cry_secret *raw;   /* oct */
    EVP_PKEY_CTX *enc; /* reused wrap context */
    EVP_PKEY_CTX *dec; /* reused unwrap context */
};

static int kind_of(const char *kty, enum pk_kind *k)
{
    if (!kty)
        return -1;
    if (!strcmp(kty, "RSA") || !strcmp(kty, "RSA-HSM"))
        *k = PK_RSA;
    else if (!strcmp(kty, "EC") || !strcmp(kty, "EC-HSM"))
        *k = PK_EC;
    else if (!strcmp(kty, "oct") || !strcmp(kty, "oct-HSM"))
        *k = PK_OCT;
    else
        return -1;
    return 0;
}

/* The library's own reason for a failure into err; returns CM_EENV. */
static int ossl_err(char *err, size_t errn, const char *what)
{
    unsigned long e = ERR_get_error();
    char detail[256] = "";
    if (e)
        ERR_error_string_n(e, detail, sizeof detail);
    ERR_clear_error();
    if (err)
        snprintf(err, errn, "%s%s%s", what, e ? ": " : "", detail);
    return lib_fail();
}

/* Whether a key of this kty and size can be made at all (into *kind); CM_EINPUT with
 * the message when not. */
static int pkey_check(const char *kty, int64_t bits, enum pk_kind *kind, char *err, size_t errn)
{
    if (kind_of(kty, kind) < 0) {
        snprintf(err, errn, "unsupported key type '%s'", kty ? kty : "");
        return CM_EINPUT;
    }
    if (*kind == PK_RSA && (bits < 1024 || bits > 4096 || bits % 8)) {
        snprintf(err, errn, "unsupported RSA key size %lld (1024..4096, whole bytes)",
                 (long long)bits);
        return CM_EINPUT;
    }
    if (*kind == PK_OCT && bits != 128 && bits != 192 && bits != 256) {
        snprintf(err, errn, "unsupported oct key size %lld (128, 192 or 256)", (long long)bits);
        return CM_EINPUT;
    }
    return 0;
}

int cry_pkey_check(const char *kty, int64_t bits, char *err, size_t errn)
{
    enum pk_kind kind;
    return pkey_check(kty, bits, &kind, err, errn);
}

int cry_pkey_generate(const char *kty, int64_t bits, cry_pkey **out, char *err, size_t errn)
{
    enum pk_kind kind;
    *out = NULL;
    if (kind_of(kty, &kind) < 0)
        return pkey_check(kty, bits, &kind, err, errn);
    if (seam("key generation")) {
        snprintf(err, errn, "key generation failed");
        return lib_fail();
    }
    int rc = pkey_check(kty, bits, &kind, err, errn);
    if (rc < 0)
        return rc;
    cry_pkey *k = cm_xcalloc(1, sizeof *k);
    k->kind = kind;
    switch (kind) {
    case PK_RSA:
        k->pk = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
        break;
    case PK_EC:
        k->pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
        break;
    case PK_OCT:
        k->raw = secret_random((size_t)bits / 8);
        if (!k->raw) {
            rc = ossl_err(err, errn, "random");
            goto out_fail;
        }
        count(CRY_OP_KEYGEN_OCT);
        *out = k;
        return 0;
    }
    if (!k->pk) {
        rc = ossl_err(err, errn, "key generation failed");
        goto out_fail;
    }
    if (kind == PK_RSA) {
        k->bits = (int)bits;
        count(rsa_op(CRY_OP_KEYGEN_RSA2048, k->bits));
    } else {
        count(CRY_OP_KEYGEN_EC);
    }
    *out = k;
    return 0;
out_fail:
    cry_pkey_free(k);
    return rc;
}

void cry_pkey_free(cry_pkey *k)
{
    if (!k)
        return;
    EVP_PKEY_CTX_free(k->enc);
    EVP_PKEY_CTX_free(k->dec);
    EVP_PKEY_free(k->pk);
    cry_secret_free(k->raw);
    free(k);
}

cry_secret *cry_pkey_export(const cry_pkey *k)
{
    if (k->kind == PK_OCT)
        return cry_secret_dup(k->raw->b, k->raw->len);
    uint8_t *der = NULL;
    int n = seam("key export") ? 0 : i2d_PrivateKey(k->pk, &der);
    if (n <= 0) {
        ERR_clear_error();
        return NULL;
    }
    cry_secret *s = cry_secret_dup(der, (size_t)n);
    OPENSSL_clear_free(der, (size_t)n);
    return s;
}

cry_pkey *cry_pkey_import(const char *kty, const uint8_t *d, size_t n)
{
    enum pk_kind kind;
    if (kind_of(kty, &kind) < 0 || seam("key import"))
        return NULL;
    cry_pkey *k = cm_xcalloc(1, sizeof *k);
    k->kind = kind;
    if (kind == PK_OCT) {
        k->raw = cry_secret_dup(d, n);
        return k;
    }
    const uint8_t *p = d;
    k->pk = d2i_AutoPrivateKey(NULL, &p, (long)n);
    if (!k->pk) {
        ERR_clear_error();
        cry_pkey_free(k);
        return NULL;
    }
    if (kind == PK_RSA)
        k->bits = EVP_PKEY_get_bits(k->pk);
    return k;
}

static EVP_PKEY_CTX *oaep_ctx(EVP_PKEY *pk, bool enc)
{
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
    if (!c)
        return NULL;
    if ((enc ? EVP_PKEY_encrypt_init(c) : EVP_PKEY_decrypt_init(c)) != 1 ||
        EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_OAEP_PADDING) != 1 ||
        EVP_PKEY_CTX_set_rsa_oaep_md_name(c, "SHA256", NULL) != 1 ||
        EVP_PKEY_CTX_set_rsa_mgf1_md_name(c, "SHA256", NULL) != 1) {
        EVP_PKEY_CTX_free(c);
        return NULL;
    }
    return c;
}

int cry_pkey_wrap(cry_pkey *k, const uint8_t *dek, size_t n, cm_buf *out, char *err, size_t errn)
{
    if (k->kind == PK_EC) {
        snprintf(err, errn, "an EC key cannot wrap a data key");
        return CM_EINPUT;
    }
    if (k->kind == PK_OCT) {
        uint8_t tmp[4096 + 16];
        size_t outn = 0;
        int rc = kw_do(true, k->raw->b, k->raw->len, dek, n, tmp, &outn);
        if (rc < 0) {
            ossl_err(err, errn, "AES key wrap failed");
            return rc;
        }
        return cm_buf_add(out, tmp, outn);
    }
    if (!k->enc && !(k->enc = oaep_ctx(k->pk, true)))
        return ossl_err(err, errn, "RSA-OAEP setup failed");
    size_t outn = 0;
    if (seam("rsa-oaep wrap") || EVP_PKEY_encrypt(k->enc, NULL, &outn, dek, n) != 1)
        return ossl_err(err, errn, "RSA-OAEP wrap failed");
    uint8_t *tmp = cm_xmalloc(outn);
    int rc;
    if (EVP_PKEY_encrypt(k->enc, tmp, &outn, dek, n) != 1) {
        rc = ossl_err(err, errn, "RSA-OAEP wrap failed");
    } else {
        count(rsa_op(CRY_OP_WRAP_RSA2048, k->bits));
        rc = cm_buf_add(out, tmp, outn);
    }
    free(tmp);
    return rc;
}

int cry_pkey_unwrap(cry_pkey *k, const uint8_t *in, size_t n, cry_secret **out, char *err,
                    size_t errn)
{
    *out = NULL;
    if (k->kind == PK_EC) {
        snprintf(err, errn, "an EC key cannot unwrap a data key");
        return CM_EINPUT;
    }
    if (k->kind == PK_OCT) {
        int rc = cry_kw_unwrap(k->raw->b, k->raw->len, in, n, out);
        if (rc < 0)
            ossl_err(err, errn, "AES key unwrap failed");
        return rc;
    }
    if (!k->dec && !(k->dec = oaep_ctx(k->pk, false)))
        return ossl_err(err, errn, "RSA-OAEP setup failed");
    size_t outn = (size_t)EVP_PKEY_get_size(k->pk);
    cry_secret *s = cry_secret_new(outn);
    if (seam("rsa-oaep unwrap") || EVP_PKEY_decrypt(k->dec, s->b, &outn, in, n) != 1) {
        cry_secret_free(s);
        return ossl_err(err, errn, "RSA-OAEP unwrap failed");
    }
    count(rsa_op(CRY_OP_UNWRAP_RSA2048, k->bits));
    s->len = outn;
    *out = s;
    return 0;
}

/* ---- Ed25519 audit signing ---- */

struct cry_signer {
    EVP_PKEY *pk;
    EVP_MD_CTX *md;
    char kid[17];
};

struct cry_verifier {
    EVP_PKEY *pk;
    EVP_MD_CTX *md;
    char kid[17];
};

static int kid_of(EVP_PKEY *pk, char kid[17])
{
    uint8_t *der = NULL, h[CRY_HASH_LEN];
    int n = i2d_PUBKEY(pk, &der);
    if (n <= 0)
        return -1;
    cry_sha256(der, (size_t)n, h);
    OPENSSL_free(der);
    cm_hex(h, 8, kid);
    return 0;
}

static FILE *open_pem(const char *path, cm_err *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        cm_err_set(err, path, 0, 0, "cannot open key: %s", strerror(errno));
    return f;
}

cry_signer *cry_signer_load(const char *path, cm_err *err)
{
    FILE *f = open_pem(path, err);
    if (!f)
        return NULL;
    EVP_PKEY *pk = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    if (!pk || EVP_PKEY_get_id(pk) != EVP_PKEY_ED25519) {
        ERR_clear_error();
        EVP_PKEY_free(pk);
        cm_err_set(err, path, 0, 0, "not an Ed25519 private key in PEM (PKCS#8)");
        return NULL;
    }
    cry_signer *s = cm_xcalloc(1, sizeof *s);
    s->pk = pk;
    s->md = EVP_MD_CTX_new();
    if (!s->md || kid_of(pk, s->kid) < 0) {
        cry_signer_free(s);
        cm_err_set(err, path, 0, 0, "cannot use signing key");
        return NULL;
    }
    return s;
}

void cry_signer_free(cry_signer *s)
{
    if (!s)
        return;
    EVP_MD_CTX_free(s->md);
    EVP_PKEY_free(s->pk);
    free(s);
}

int cry_signer_sign(cry_signer *s, const uint8_t *msg, size_t n, uint8_t sig[CRY_SIG_LEN])
{
    size_t siglen = CRY_SIG_LEN;
    if (seam("ed25519 sign") ||
        EVP_DigestSignInit_ex(s->md, NULL, NULL, NULL, NULL, s->pk, NULL) != 1 ||
        EVP_DigestSign(s->md, sig, &siglen, msg, n) != 1) {
        ERR_clear_error();
        return lib_fail();
    }
    count(CRY_OP_SIGN);
    return 0;
}

const char *cry_signer_kid(const cry_signer *s)
{
    return s->kid;
}

cry_verifier *cry_verifier_load(const char *path, cm_err *err)
{
    FILE *f = open_pem(path, err);
    if (!f)
        return NULL;
    EVP_PKEY *pk = PEM_read_PUBKEY(f, NULL, NULL, NULL);
    fclose(f);
    if (!pk || EVP_PKEY_get_id(pk) != EVP_PKEY_ED25519) {
        ERR_clear_error();
        EVP_PKEY_free(pk);
        cm_err_set(err, path, 0, 0, "not an Ed25519 public key in PEM (SubjectPublicKeyInfo)");
        return NULL;
    }
    cry_verifier *v = cm_xcalloc(1, sizeof *v);
    v->pk = pk;
    v->md = EVP_MD_CTX_new();
    if (!v->md || kid_of(pk, v->kid) < 0) {
        cry_verifier_free(v);
        cm_err_set(err, path, 0, 0, "cannot use public key");
        return NULL;
    }
    return v;
}

void cry_verifier_free(cry_verifier *v)
{
    if (!v)
        return;
    EVP_MD_CTX_free(v->md);
    EVP_PKEY_free(v->pk);
    free(v);
}

bool cry_verifier_check(cry_verifier *v, const uint8_t *msg, size_t n, const uint8_t *sig,
                        size_t sign)
{
    bool ok = EVP_DigestVerifyInit_ex(v->md, NULL, NULL, NULL, NULL, v->pk, NULL) == 1 &&
              EVP_DigestVerify(v->md, sig, sign, msg, n) == 1;
    ERR_clear_error();
    return ok;
}

const char *cry_verifier_kid(const cry_verifier *v)
{
    return v->kid;
}

int cry_keygen_ed25519(const char *prefix, char kid[17], cm_err *err)
{
    int rc = -1, fd = -1;
    FILE *f = NULL;
    char kpath[4096], ppath[4096];
    snprintf(kpath, sizeof kpath, "%s.key", prefix);
    snprintf(ppath, sizeof ppath, "%s.pub", prefix);
    EVP_PKEY *pk = seam("ed25519 keygen") ? NULL : EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    if (!pk) {
        cm_err_set(err, kpath, 0, 0, "Ed25519 key generation failed");
        return -1;
    }
    fd = open(kpath, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0) {
        cm_err_set(err, kpath, 0, 0, "cannot create: %s", strerror(errno));
        goto out_free_key;
    }
    f = fdopen(fd, "w");
    bool wrote = f && PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL, NULL) == 1;
    if (!f)
        close(fd);
    else if (fclose(f) != 0)
        wrote = false;
    if (!wrote) {
        cm_err_set(err, kpath, 0, 0, "cannot write private key");
        goto out_free_key;
    }
    f = fopen(ppath, "w");
    wrote = f && PEM_write_PUBKEY(f, pk) == 1;
    if (f && fclose(f) != 0) /* closed once, whatever the write did */
        wrote = false;
    if (!wrote) {
        cm_err_set(err, ppath, 0, 0, "cannot write public key");
        goto out_free_key;
    }
    if (kid_of(pk, kid) < 0)
        goto out_free_key;
    rc = 0;
out_free_key:
    ERR_clear_error();
    EVP_PKEY_free(pk);
    return rc;
}
