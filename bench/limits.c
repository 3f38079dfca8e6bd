/* In-process limits for make bench, through the same crypto core cmkguard uses:
 *   ed25519_sign_per_s     signatures of a record-sized message, one core;
 *   rsa_unwrap_per_s       RSA-2048 OAEP-SHA256 unwraps of a 32-byte DEK, one core;
 *   rsa_unwrap_per_s_all   the same on every core at once (one thread per core);
 *   cores                  the cores used.
 * usage: bench-limits [--seconds S] [--sign-key KEY.key] */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crypto/crypto.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double seconds = 1.5;
static cry_secret *der; /* the RSA private key, each thread imports its own */
static cm_buf wrapped;

static void *unwrap_loop(void *arg)
{
    double *rate = arg;
    cry_pkey *k = cry_pkey_import("RSA", der->b, der->len);
    char err[256];
    long n = 0;
    double t0 = now(), t;
    do {
        for (int i = 0; i < 16; i++) {
            cry_secret *d;
            if (cry_pkey_unwrap(k, (const uint8_t *)wrapped.p, wrapped.len, &d, err, sizeof err) <
                0) {
                fprintf(stderr, "bench-limits: unwrap: %s\n", err);
                exit(1);
            }
            cry_secret_free(d);
            n++;
        }
        t = now();
    } while (t - t0 < seconds);
    *rate = (double)n / (t - t0);
    cry_pkey_free(k);
    return NULL;
}

int main(int argc, char **argv)
{
    const char *key = "tests/golden/test-signing.key";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--seconds"))
            seconds = strtod(argv[i + 1], NULL);
        else if (!strcmp(argv[i], "--sign-key"))
            key = argv[i + 1];
    }
    cm_err err;
    cry_signer *s = cry_signer_load(key, &err);
    if (!s) {
        cm_err_print(&err);
        return 1;
    }
    uint8_t msg[700], sig[CRY_SIG_LEN];
    memset(msg, 'r', sizeof msg);
    long n = 0;
    double t0 = now(), t;
    do {
        for (int i = 0; i < 64; i++, n++) {
            msg[n % sizeof msg] ^= 1;
            if (cry_signer_sign(s, msg, sizeof msg, sig) < 0)
                return 1;
        }
        t = now();
    } while (t - t0 < seconds);
    printf("ed25519_sign_per_s %.0f\n", (double)n / (t - t0));
    cry_signer_free(s);

    char e[256];
    cry_pkey *k = NULL;
    uint8_t dek[32] = {1};
    cm_buf_init(&wrapped, 0);
    if (cry_pkey_generate("RSA", 2048, &k, e, sizeof e) < 0 ||
        cry_pkey_wrap(k, dek, sizeof dek, &wrapped, e, sizeof e) < 0 ||
        !(der = cry_pkey_export(k))) {
        fprintf(stderr, "bench-limits: RSA setup: %s\n", e);
        return 1;
    }
    cry_pkey_free(k);
    double one;
    unwrap_loop(&one);
    printf("rsa_unwrap_per_s %.0f\n", one);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (cores < 1)
        cores = 1;
    pthread_t th[64];
    double rates[64], all = 0;
    for (long i = 0; i < cores && i < 64; i++)
        pthread_create(&th[i], NULL, unwrap_loop, &rates[i]);
    for (long i = 0; i < cores && i < 64; i++) {
        pthread_join(th[i], NULL);
        all += rates[i];
    }
    printf("rsa_unwrap_per_s_all %.0f\ncores %ld\n", all, cores);
    cry_secret_free(der);
    cm_buf_free(&wrapped);
    return 0;
}
