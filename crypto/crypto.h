/* crypto: the envelope core. Knows nothing of events or rules.
 *
 * Secrets live in one of two types, and both wipe on every free:
 * - cry_secret: key bytes of a size fixed when made (DEKs, the master key, HKDF output,
 *   an unwrapped key, an exported private key). Made by cry_secret_new/_random/_dup or
 *   returned by the functions below; cry_secret_free wipes and frees.
 * - a secret cm_buf (cm_buf_init_secret, common/buf.h): plaintext or key material whose
 *   size grows as it comes (opened data, a DER private key on its way in or out of its
 *   seal). It wipes whenever it grows, is reset or freed; cm_buf_free is all it needs.
 * Anything else (sealed or wrapped bytes, records, documents) is a plain cm_buf. */
#ifndef CRY_CRYPTO_H
#define CRY_CRYPTO_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/util.h"

#define CRY_DEK_LEN 32
#define CRY_HASH_LEN 32
#define CRY_SIG_LEN 64
#define CRY_GCM_OVERHEAD (12 + 16)

/* Errors (common/util.h): a failure of the crypto library, or a wrong key or corrupt
 * input it detects, is CM_EENV (memory, provider, a wrong master key: the
 * environment's, never the event's); a refusal decided before any library call (an EC
 * key asked to wrap, an unsupported size) is CM_EINPUT. A function that returns a
 * pointer and says nothing else returns NULL only when the library failed. */
int cry_random(void *buf, size_t n);
void cry_sha256(const void *d, size_t n, uint8_t out[CRY_HASH_LEN]);
bool cry_memeq(const void *a, const void *b, size_t n); /* constant time */
void cry_cleanse(void *p, size_t n);

/* Incremental SHA-256, reusable: begin, update..., final, begin again. */
typedef struct cry_hash cry_hash;
cry_hash *cry_hash_new(void);
void cry_hash_free(cry_hash *h);
int cry_hash_begin(cry_hash *h);
int cry_hash_update(cry_hash *h, const void *d, size_t n);
int cry_hash_final(cry_hash *h, uint8_t out[CRY_HASH_LEN]);

/* A secret byte string: allocated by cry_secret_new, wiped and freed by cry_secret_free. */
typedef struct cry_secret {
    size_t len;
    uint8_t b[];
} cry_secret;
cry_secret *cry_secret_new(size_t len);
cry_secret *cry_secret_random(size_t len);
cry_secret *cry_secret_dup(const uint8_t *d, size_t len);
void cry_secret_free(cry_secret *s);

/* HKDF-SHA-256 (RFC 5869, no salt): a new secret of n bytes derived from ikm (borrowed)
 * for the purpose named by info. NULL on failure. */
cry_secret *cry_hkdf(const cry_secret *ikm, const char *info, size_t n);

/* HMAC-SHA-512 under one key, reusable: begin, update..., final, begin again. The key
 * (borrowed) is copied into the library's context and wiped with it by cry_mac_free. */
#define CRY_MAC_LEN 64
typedef struct cry_mac cry_mac;
cry_mac *cry_mac_new(const cry_secret *key);
void cry_mac_free(cry_mac *m);
int cry_mac_begin(cry_mac *m);
int cry_mac_update(cry_mac *m, const void *d, size_t n);
int cry_mac_final(cry_mac *m, uint8_t out[CRY_MAC_LEN]);

/* AES-256-GCM: out receives nonce(12) || ciphertext || tag(16). aad binds context. The
 * plaintext is encrypted in place in out: on failure out is as it was and none of the
 * plaintext is left behind in it. */
int cry_gcm_seal(const uint8_t key[CRY_DEK_LEN], const void *aad, size_t aadn, const void *pt,
                 size_t n, cm_buf *out);
/* Opens what cry_gcm_seal made; the plaintext is appended to out, which must be a secret
 * buffer (cm_buf_init_secret): CM_EENV otherwise, before anything is opened. On failure
 * nothing opened stays behind in out. */
int cry_gcm_open(const uint8_t key[CRY_DEK_LEN], const void *aad, size_t aadn, const void *in,
                 size_t n, cm_buf *out);

/* AES key wrap (RFC 3394) under a 256-bit KEK: out gets n+8 bytes. */
int cry_kw_wrap(const uint8_t kek[CRY_DEK_LEN], const uint8_t *in, size_t n, cm_buf *out);
/* Unwraps into *out, a new secret; fails on a wrong key or corrupt input. */
int cry_kw_unwrap(const uint8_t *kek, size_t keklen, const uint8_t *in, size_t n, cry_secret **out);

/* A KEK held ready for AES key wrap: its key schedule made once, not per call. Safe to
 * share between threads (one call at a time). */
typedef struct cry_kw cry_kw;
/* NULL when the library fails or keklen is not 16, 24 or 32. */
cry_kw *cry_kw_new(const uint8_t *kek, size_t keklen);
void cry_kw_free(cry_kw *k); /* wipes the key schedule; NULL is a no-op */
/* As cry_kw_wrap and cry_kw_unwrap, under k's KEK. */
int cry_kw_wrap_with(cry_kw *k, const uint8_t *in, size_t n, cm_buf *out);
int cry_kw_unwrap_with(cry_kw *k, const uint8_t *in, size_t n, cry_secret **out);

/* A key-vault key version's material: RSA, EC (P-256) or oct (raw AES). */
typedef struct cry_pkey cry_pkey;
/* A new key into *out, of the named kty (RSA, RSA-HSM, EC, EC-HSM, oct, oct-HSM) and
 * size in bits (ignored for EC); a message in err on failure or an unsupported size. */
int cry_pkey_generate(const char *kty, int64_t bits, cry_pkey **out, char *err, size_t errn);
/* Whether cry_pkey_generate accepts this kty and size: 0, or CM_EINPUT with the message it
 * would give. (What is left to fail then is the library: CM_EENV.) */
int cry_pkey_check(const char *kty, int64_t bits, char *err, size_t errn);
void cry_pkey_free(cry_pkey *k);
/* Serializes the private material (PKCS#8 DER, or raw bytes for oct) into a new secret. */
cry_secret *cry_pkey_export(const cry_pkey *k);
/* Rebuilds a key from cry_pkey_export output (borrowed); NULL for an unknown kty too. */
cry_pkey *cry_pkey_import(const char *kty, const uint8_t *d, size_t n);
/* Wraps a DEK: RSA-OAEP with SHA-256 for RSA, AES key wrap for oct. EC cannot wrap. */
int cry_pkey_wrap(cry_pkey *k, const uint8_t *dek, size_t n, cm_buf *out, char *err, size_t errn);
/* Unwraps into *out, a new secret. */
int cry_pkey_unwrap(cry_pkey *k, const uint8_t *in, size_t n, cry_secret **out, char *err,
                    size_t errn);

/* Ed25519 audit signing. Keys are PEM: PKCS#8 private, SubjectPublicKeyInfo public. */
typedef struct cry_signer cry_signer;
cry_signer *cry_signer_load(const char *path, cm_err *err);
void cry_signer_free(cry_signer *s);
int cry_signer_sign(cry_signer *s, const uint8_t *msg, size_t n, uint8_t sig[CRY_SIG_LEN]);
const char *cry_signer_kid(const cry_signer *s); /* 16 hex chars */

typedef struct cry_verifier cry_verifier;
cry_verifier *cry_verifier_load(const char *path, cm_err *err);
void cry_verifier_free(cry_verifier *v);
bool cry_verifier_check(cry_verifier *v, const uint8_t *msg, size_t n, const uint8_t *sig,
                        size_t sign);
const char *cry_verifier_kid(const cry_verifier *v);

/* Writes PREFIX.key (mode 0600) and PREFIX.pub; fills kid (17 bytes). */
int cry_keygen_ed25519(const char *prefix, char kid[17], cm_err *err);

/* Operation counts: every key generated, data key wrapped or unwrapped, random secret,
 * seal, open and signature this process has made (successful ones), by kind and, for RSA,
 * by size, for the benchmark's floor (bench/floor.c). They are the crypto core's one state
 * across calls: one relaxed atomic counter per kind, each on its own cache line, so that
 * counting costs nothing beside the operation and threads do not contend. */
enum cry_op {
    CRY_OP_KEYGEN_RSA2048,
    CRY_OP_KEYGEN_RSA3072,
    CRY_OP_KEYGEN_RSA4096,
    CRY_OP_KEYGEN_RSA_OTHER, /* any other RSA size */
    CRY_OP_KEYGEN_EC,
    CRY_OP_KEYGEN_OCT,
    CRY_OP_WRAP_RSA2048, /* RSA-OAEP-SHA256 */
    CRY_OP_WRAP_RSA3072,
    CRY_OP_WRAP_RSA4096,
    CRY_OP_WRAP_RSA_OTHER,
    CRY_OP_UNWRAP_RSA2048,
    CRY_OP_UNWRAP_RSA3072,
    CRY_OP_UNWRAP_RSA4096,
    CRY_OP_UNWRAP_RSA_OTHER,
    CRY_OP_KW_WRAP, /* AES key wrap: cry_kw_wrap, cry_kw_wrap_with, or under an oct key */
    CRY_OP_KW_UNWRAP,
    CRY_OP_DEK,      /* cry_secret_random: data keys (and a new state's master key) */
    CRY_OP_GCM_SEAL, /* AES-256-GCM */
    CRY_OP_GCM_OPEN,
    CRY_OP_SIGN, /* Ed25519 */
    CRY_OP_COUNT
};
/* The kind's name, as the benchmark prints it ("keygen_rsa2048", "kw_wrap", ...). */
const char *cry_op_name(enum cry_op op);
/* The counts so far into counts (caller-owned); a run's own are the difference of two reads. */
void cry_ops_read(uint64_t counts[CRY_OP_COUNT]);
#endif
