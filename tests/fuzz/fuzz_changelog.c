/* libFuzzer: the changelog's decoder and restore on arbitrary records. The input is a
 * log of records, each as length:u16 (little-endian) and its bytes without their MAC;
 * the harness authenticates each under a fixed master key, so the fuzzer reaches the
 * parsers behind the MAC check (a record that does not authenticate is refused first). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stream/changelog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static cry_secret *master;
    static stm_clog *c;
    static cry_mac *mac;
    if (!master) {
        uint8_t k[CRY_DEK_LEN] = {0};
        cm_err err;
        master = cry_secret_dup(k, sizeof k);
        c = stm_clog_new(master, 0, &err);
        cry_secret *mk = cry_hkdf(master, "cmkguard changelog v1 partition 0", 64);
        mac = mk ? cry_mac_new(mk) : NULL;
        cry_secret_free(mk);
        if (!c || !mac)
            return 0;
    }
    stm_cl_msg *log = calloc(size / 2 + 1, sizeof *log);
    size_t n = 0;
    for (size_t at = 0; at + 2 <= size;) {
        size_t len = (size_t)data[at] | (size_t)data[at + 1] << 8;
        at += 2;
        if (len > size - at)
            len = size - at;
        uint8_t *rec = malloc(len + CRY_MAC_LEN);
        memcpy(rec, data + at, len);
        if (cry_mac_begin(mac) < 0 || cry_mac_update(mac, rec, len) < 0 ||
            cry_mac_final(mac, rec + len) < 0)
            memset(rec + len, 0, CRY_MAC_LEN);
        log[n] = (stm_cl_msg){(int64_t)n, rec, len + CRY_MAC_LEN};
        n++;
        at += len;
    }
    cm_err err;
    stm_cl_rec r;
    for (size_t i = 0; i < n; i++)
        stm_clog_decode(c, log[i].p, log[i].n, &r, &err);
    stm_cl_restored res;
    if (stm_clog_restore(c, master, log, n, 2, &res, &err) == 0)
        stm_cl_restored_clear(&res);
    for (size_t i = 0; i < n; i++)
        free((void *)log[i].p);
    free(log);
    return 0;
}
