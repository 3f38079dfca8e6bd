/* The floor for make bench: the work no implementation of a replay can skip, measured
 * in this run on one core (one thread), as `name value` lines:
 *   decode  every input line through the same decoder (dec_decode), and nothing else;
 *   sha256  one SHA-256 over each record the replay wrote, exactly its bytes;
 *   crypto  the replay's own crypto operations (key generations, RSA-OAEP wraps and
 *           unwraps, AES key wraps and unwraps, data keys, seals and opens of key
 *           material, checkpoint signatures), counted by the crypto core during a replay
 *           of the same events in this process, each kind then timed here standalone
 *           through the same crypto core and multiplied by its count.
 * floor_s is their sum, floor_events_per_s the input's lines over it. Key generation
 * takes a random time (the prime search): it is timed over as many keys as the replay
 * generated, at least --keygen-samples and at most 64 (or that many), and printed with
 * its spread. An RSA size other than 2048, 3072 or 4096 is timed
 * at 1024 bits, the smallest there is, so that the floor stays a floor.
 * The replay's trail goes to TRAIL, replaced if it is there.
 * usage: bench-floor --rules DIR [--sign-key KEY --checkpoint N] --out TRAIL
 *                    [--seconds S] [--keygen-samples N] EVENTS.jsonl */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "decode/decode.h"
#include "pipeline/replay.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
    fprintf(stderr, "bench-floor: %s\n", what);
    exit(1);
}

/* A whole file mapped read-only, its pages read in before any clock starts. */
struct mapped {
    const char *p;
    size_t n;
};

static struct mapped map_file(const char *path)
{
    struct mapped m = {NULL, 0};
    int fd = open(path, O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0)
        die(path);
    m.n = (size_t)st.st_size;
    if (m.n) {
        void *p = mmap(NULL, m.n, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
        if (p == MAP_FAILED)
            die(path);
        m.p = p;
    }
    close(fd);
    return m;
}

static void unmap(struct mapped *m)
{
    if (m->n)
        munmap((void *)m->p, m->n);
}

/* The lines the replay reads, as cm_lines gives them (common/lines.c): a trailing CR
 * off, blank lines skipped. Returns their count; starts and lengths into *off, *len. */
static size_t split(const struct mapped *m, size_t max, size_t **off, size_t **len)
{
    size_t cap = 1024, n = 0;
    *off = cm_xmalloc(cap * sizeof **off);
    *len = cm_xmalloc(cap * sizeof **len);
    for (size_t at = 0; at < m->n;) {
        const char *nl = memchr(m->p + at, '\n', m->n - at);
        size_t end = nl ? (size_t)(nl - m->p) : m->n, l = end - at;
        if (l <= max && l && m->p[at + l - 1] == '\r')
            l--;
        bool blank = true;
        for (size_t i = 0; i < l && blank && l <= max; i++)
            blank = m->p[at + i] == ' ' || m->p[at + i] == '\t' || m->p[at + i] == '\r';
        if (!blank || l > max) {
            if (n == cap) {
                cap *= 2;
                *off = cm_xrealloc(*off, cap * sizeof **off);
                *len = cm_xrealloc(*len, cap * sizeof **len);
            }
            (*off)[n] = at;
            (*len)[n++] = l;
        }
        at = end + 1;
    }
    return n;
}

/* Seconds to decode every line once, with one decoder, and nothing else. */
static double time_decode(const struct mapped *m, const size_t *off, const size_t *len, size_t n)
{
    dec_decoder *d = dec_decoder_new(DEC_MAX_MESSAGE_DEFAULT);
    char reason[1024];
    size_t refused = 0;
    double t0 = now();
    for (size_t i = 0; i < n; i++) {
        vlt_event ev;
        refused += dec_decode(d, m->p + off[i], len[i], &ev, reason, sizeof reason) < 0;
    }
    double t = now() - t0;
    dec_decoder_free(d);
    printf("floor_decode_refused %zu\n", refused);
    return t;
}

/* Seconds to hash each record of the trail on its own (one SHA-256 each, as the chain
 * does), over exactly its bytes, the newline left out. */
static double time_sha256(const struct mapped *m, const size_t *off, const size_t *len, size_t n)
{
    cry_hash *h = cry_hash_new();
    uint8_t out[CRY_HASH_LEN];
    if (!h)
        die("SHA-256 setup failed");
    double t0 = now();
    for (size_t i = 0; i < n; i++) {
        if (cry_hash_begin(h) < 0 || cry_hash_update(h, m->p + off[i], len[i]) < 0 ||
            cry_hash_final(h, out) < 0)
            die("SHA-256 failed");
    }
    double t = now() - t0;
    cry_hash_free(h);
    return t;
}

/* ---- the crypto operations, standalone ---- */

struct bench {
    double seconds;
    long keygen_samples;
    const char *sign_key;
};

static int rsa_bits(enum cry_op op, enum cry_op first)
{
    static const int bits[] = {2048, 3072, 4096, 1024};
    return bits[op - first];
}

static cry_pkey *rsa_key(int bits)
{
    char err[256];
    cry_pkey *k = NULL;
    if (cry_pkey_generate("RSA", bits, &k, err, sizeof err) < 0)
        die(err);
    return k;
}

/* Key generations: the mean of as many generations as the replay made, at least samples
 * and at most 64 (or samples), with its spread. */
static double time_keygen(enum cry_op op, uint64_t count, long samples)
{
    const char *kty = "RSA";
    int bits;
    if (op == CRY_OP_KEYGEN_EC)
        kty = "EC", bits = 256;
    else if (op == CRY_OP_KEYGEN_OCT)
        kty = "oct", bits = 256;
    else
        bits = rsa_bits(op, CRY_OP_KEYGEN_RSA2048);
    long cap = samples > 64 ? samples : 64; /* enough for a mean; the part is count x mean */
    long n = count > (uint64_t)cap ? cap : count > (uint64_t)samples ? (long)count : samples;
    double min = 1e9, max = 0, sum = 0;
    char err[256];
    for (long i = 0; i < n; i++) {
        cry_pkey *k = NULL;
        double t0 = now();
        if (cry_pkey_generate(kty, bits, &k, err, sizeof err) < 0)
            die(err);
        double t = now() - t0;
        cry_pkey_free(k);
        sum += t;
        min = t < min ? t : min;
        max = t > max ? t : max;
    }
    const char *name = cry_op_name(op);
    printf("floor_%s_samples %ld\nfloor_%s_min_ms %.2f\nfloor_%s_max_ms %.2f\n", name, n, name,
           min * 1e3, name, max * 1e3);
    return sum / (double)n;
}

/* The other kinds: the mean over at least seconds (and at least 16 operations). */
static double time_op(enum cry_op op, const struct bench *b)
{
    uint8_t dek[CRY_DEK_LEN] = {1}, kek[CRY_DEK_LEN] = {2}, msg[1024] = {3}, sig[CRY_SIG_LEN];
    char err[256];
    cry_pkey *k = NULL;
    cry_signer *signer = NULL;
    cry_kw *held = NULL; /* a KEK held ready, as the vault holds the master key */
    cm_buf in, out, pt;
    cm_buf_init(&in, 0);
    cm_buf_init(&out, 0);
    cm_buf_init_secret(&pt, 0);
    int rc = 0;
    if (op >= CRY_OP_WRAP_RSA2048 && op <= CRY_OP_WRAP_RSA_OTHER)
        k = rsa_key(rsa_bits(op, CRY_OP_WRAP_RSA2048));
    if (op >= CRY_OP_UNWRAP_RSA2048 && op <= CRY_OP_UNWRAP_RSA_OTHER) {
        k = rsa_key(rsa_bits(op, CRY_OP_UNWRAP_RSA2048));
        rc = cry_pkey_wrap(k, dek, sizeof dek, &in, err, sizeof err);
    }
    if (op == CRY_OP_KW_WRAP || op == CRY_OP_KW_UNWRAP)
        rc = (held = cry_kw_new(kek, sizeof kek)) ? 0 : -1;
    if (op == CRY_OP_KW_UNWRAP && rc == 0)
        rc = cry_kw_wrap_with(held, dek, sizeof dek, &in);
    if (op == CRY_OP_GCM_OPEN) /* key material is about a kilobyte (PKCS#8 of RSA-2048) */
        rc = cry_gcm_seal(kek, "aad", 3, msg, sizeof msg, &in);
    if (op == CRY_OP_SIGN) {
        cm_err e;
        if (!b->sign_key || !(signer = cry_signer_load(b->sign_key, &e)))
            die("the replay signed: --sign-key is needed to time its signatures");
    }
    if (rc < 0)
        die("crypto setup failed");
    long n = 0;
    double t0 = now(), t;
    do {
        for (int i = 0; i < 16 && rc == 0; i++, n++) {
            cry_secret *s = NULL;
            cm_buf_reset(&out);
            cm_buf_reset(&pt);
            if (op >= CRY_OP_WRAP_RSA2048 && op <= CRY_OP_WRAP_RSA_OTHER)
                rc = cry_pkey_wrap(k, dek, sizeof dek, &out, err, sizeof err);
            else if (op >= CRY_OP_UNWRAP_RSA2048 && op <= CRY_OP_UNWRAP_RSA_OTHER)
                rc = cry_pkey_unwrap(k, (const uint8_t *)in.p, in.len, &s, err, sizeof err);
            else if (op == CRY_OP_KW_WRAP)
                rc = cry_kw_wrap_with(held, dek, sizeof dek, &out);
            else if (op == CRY_OP_KW_UNWRAP)
                rc = cry_kw_unwrap_with(held, (const uint8_t *)in.p, in.len, &s);
            else if (op == CRY_OP_DEK)
                rc = (s = cry_secret_random(CRY_DEK_LEN)) ? 0 : -1;
            else if (op == CRY_OP_GCM_SEAL)
                rc = cry_gcm_seal(kek, "aad", 3, msg, sizeof msg, &out);
            else if (op == CRY_OP_GCM_OPEN)
                rc = cry_gcm_open(kek, "aad", 3, in.p, in.len, &pt);
            else if (op == CRY_OP_SIGN)
                rc = cry_signer_sign(signer, dek, sizeof dek, sig); /* a record's hash */
            cry_secret_free(s);
        }
        t = now();
    } while (rc == 0 && (t - t0 < b->seconds || n < 16));
    if (rc < 0)
        die(cry_op_name(op));
    cry_pkey_free(k);
    cry_signer_free(signer);
    cry_kw_free(held);
    cm_buf_free(&in);
    cm_buf_free(&out);
    cm_buf_free(&pt);
    return (t - t0) / (double)n;
}

int main(int argc, char **argv)
{
    const char *rules = NULL, *out = NULL, *events = NULL;
    struct bench b = {.seconds = 0.3, .keygen_samples = 16};
    int64_t checkpoint = 0, v;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--rules") && val)
            rules = argv[++i];
        else if (!strcmp(a, "--sign-key") && val)
            b.sign_key = argv[++i];
        else if (!strcmp(a, "--out") && val)
            out = argv[++i];
        else if (!strcmp(a, "--checkpoint") && val && cm_parse_i64(val, &checkpoint) &&
                 checkpoint >= 0)
            i++;
        else if (!strcmp(a, "--seconds") && val && (b.seconds = strtod(val, NULL)) > 0)
            i++;
        else if (!strcmp(a, "--keygen-samples") && val && cm_parse_i64(val, &v) && v >= 1 &&
                 v <= 4096)
            b.keygen_samples = (long)v, i++;
        else if (a[0] != '-' && !events)
            events = a;
        else
            events = NULL, i = argc;
    }
    if (!rules || !out || !events || (checkpoint && !b.sign_key)) {
        fprintf(stderr, "usage: bench-floor --rules DIR [--sign-key KEY --checkpoint N] --out "
                        "TRAIL [--seconds S] [--keygen-samples N] EVENTS.jsonl\n");
        return 2;
    }

    /* The replay, counted: the same pipeline the replay command drives. */
    const char *rule_paths[] = {rules};
    pip_replay_opts o = {.rules = rule_paths,
                         .nrules = 1,
                         .events = events,
                         .sign_key = b.sign_key,
                         .out = out,
                         .chain = "main",
                         .checkpoint = checkpoint,
                         .commit_every = 1000,
                         .max_message = (int64_t)DEC_MAX_MESSAGE_DEFAULT,
                         .clock = AUD_CLOCK_EVENT};
    uint64_t c0[CRY_OP_COUNT], c1[CRY_OP_COUNT];
    unlink(out); /* the tool's own trail, a fresh one each run */
    cry_ops_read(c0);
    double t0 = now();
    if (pip_replay(&o) != 0)
        die("the replay failed");
    printf("floor_replay_s %.3f\n", now() - t0);
    cry_ops_read(c1);

    struct mapped in = map_file(events), trail = map_file(out);
    size_t *off, *len, *roff, *rlen;
    size_t nev = split(&in, DEC_MAX_MESSAGE_DEFAULT, &off, &len);
    size_t nrec = split(&trail, SIZE_MAX, &roff, &rlen), bytes = 0;
    for (size_t i = 0; i < nrec; i++)
        bytes += rlen[i];
    printf("floor_events %zu\nfloor_records %zu\nfloor_record_bytes %zu\n", nev, nrec, bytes);
    double decode = time_decode(&in, off, len, nev);
    double sha = time_sha256(&trail, roff, rlen, nrec);
    printf("floor_decode_s %.3f\nfloor_sha256_s %.3f\n", decode, sha);

    double crypto = 0;
    for (int op = 0; op < CRY_OP_COUNT; op++) {
        uint64_t n = c1[op] - c0[op];
        if (!n)
            continue;
        double each =
            op <= CRY_OP_KEYGEN_OCT ? time_keygen(op, n, b.keygen_samples) : time_op(op, &b);
        const char *name = cry_op_name(op);
        printf("floor_n_%s %llu\nfloor_%s_us %.3f\nfloor_%s_s %.3f\n", name, (unsigned long long)n,
               name, each * 1e6, name, each * (double)n);
        crypto += each * (double)n;
    }
    double floor_s = decode + sha + crypto;
    printf("floor_crypto_s %.3f\nfloor_s %.3f\nfloor_events_per_s %.0f\n", crypto, floor_s,
           floor_s > 0 ? (double)nev / floor_s : 0);
    unmap(&in);
    unmap(&trail);
    free(off);
    free(len);
    free(roff);
    free(rlen);
    return 0;
}
