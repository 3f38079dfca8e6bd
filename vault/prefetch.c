/* RSA-OAEP unwraps under one key version spread over several threads: what a large
 * re-wrap (a rotation of a key many resources use) needs first when the resources do
 * not hold their DEKs. */
#include <pthread.h>
#include <stdlib.h>

#include "vault/internal.h"

struct prefetch {
    cry_secret *der; /* the old key version's private key */
    const char *kty;
    const cm_buf **wrapped;
    cry_secret **dek;
    size_t n, stride, first;
};

static void *prefetch_worker(void *arg)
{
    struct prefetch *p = arg;
    cry_pkey *k = cry_pkey_import(p->kty, p->der->b, p->der->len);
    char err[256];
    for (size_t i = p->first; k && i < p->n; i += p->stride)
        cry_pkey_unwrap(k, (const uint8_t *)p->wrapped[i]->p, p->wrapped[i]->len, &p->dek[i], err,
                        sizeof err); /* one that fails stays NULL */
    cry_pkey_free(k);
    return NULL;
}

int vlt_unwrap_parallel(vlt_state *s, const vlt_key *k, const vlt_keyver *kv,
                        const cm_buf **wrapped, size_t n, size_t threads, cry_secret **dek)
{
    char err[256];
    cry_pkey *pk;
    cry_secret *der =
        vlt_keyver_pkey(s, k, kv, &pk, err, sizeof err) == 0 ? cry_pkey_export(pk) : NULL;
    if (!der)
        return -1;
    struct prefetch work[8];
    pthread_t th[8];
    size_t started = 0, nt = threads < 1 ? 1 : threads > 8 ? 8 : threads;
    for (size_t i = 0; i < nt; i++) {
        work[i] = (struct prefetch){der, vlt_key_material_kty(k), wrapped, dek, n, nt, i};
        if (pthread_create(&th[i], NULL, prefetch_worker, &work[i]) == 0)
            started++;
        else
            break;
    }
    for (size_t i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    cry_secret_free(der);
    return 0;
}
