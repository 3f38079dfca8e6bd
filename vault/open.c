/* A state's life: its store and master key opened and checked, its documents loaded,
 * and everything it holds freed. The top of vault/: the model (state.c), the documents
 * (doc.c) and the facts (facts.c) lie below it and never call up into it. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fault.h"
#include "vault/internal.h"

/* Writes a new master key: a temporary file, synced, then linked into place, so a
 * failure never leaves a partial key behind. */
static int create_master(const char *path, const uint8_t *k, size_t n, cm_err *err)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.%d.tmp", path, (int)getpid()); /* one per process */
    unlink(tmp);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0600);
    ssize_t w = -1;
    if (fd >= 0) {
        if (CM_FAULT(CM_FAULT_IO, "master key write")) {
            w = write(fd, k, n / 2); /* a short write, as on a full disk */
            errno = ENOSPC;
        } else {
            w = write(fd, k, n);
        }
    }
    if (fd < 0 || w != (ssize_t)n || fsync(fd) < 0 || close(fd) < 0 || link(tmp, path) < 0) {
        cm_err_set(err, path, 0, 0, "cannot create the service master key: %s", strerror(errno));
        if (fd >= 0 && w != (ssize_t)n)
            close(fd);
        unlink(tmp);
        return -1;
    }
    unlink(tmp);
    return 0;
}

/* A check value for the master key, kept in the state: a one-way digest, so a wrong
 * or replaced key file is refused before anything is decrypted with it. */
static void master_check(const cry_secret *m, char out[65])
{
    static const char label[] = "cmkguard service master key check";
    uint8_t buf[sizeof label + CRY_DEK_LEN], h[CRY_HASH_LEN];
    memcpy(buf, label, sizeof label);
    memcpy(buf + sizeof label, m->b, CRY_DEK_LEN);
    cry_sha256(buf, sizeof buf, h);
    cm_wipe(buf, sizeof buf);
    cm_hex(h, sizeof h, out);
}

cry_secret *vlt_master_load(const char *path, bool may_create, cm_err *err)
{
    uint8_t k[CRY_DEK_LEN];
    int fd = open(path, O_RDONLY);
    if (fd < 0 && errno == ENOENT && !may_create) {
        cm_err_set(err, path, 0, 0,
                   "the service master key of this state is missing: nothing can be decrypted "
                   "without it");
        return NULL;
    }
    if (fd < 0 && errno == ENOENT) {
        if (cry_random(k, sizeof k) < 0) {
            cm_err_set(err, path, 0, 0, "cannot generate the service master key");
            return NULL;
        }
        int rc = create_master(path, k, sizeof k, err);
        cry_secret *m = rc == 0 ? cry_secret_dup(k, sizeof k) : NULL;
        cm_wipe(k, sizeof k);
        if (rc == 0 || errno != EEXIST)
            return m;
        /* another process created it first (instances sharing one key): read theirs */
        fd = open(path, O_RDONLY);
    }
    if (fd < 0) {
        cm_err_set(err, path, 0, 0, "cannot read the service master key: %s", strerror(errno));
        return NULL;
    }
    struct stat st;
    ssize_t n = read(fd, k, sizeof k);
    char extra;
    bool more = read(fd, &extra, 1) > 0;
    if (fstat(fd, &st) == 0 && (st.st_mode & 077))
        cm_log("%s: warning: master key file is readable by others (mode %03o)", path,
               (unsigned)(st.st_mode & 0777));
    close(fd);
    if (n != (ssize_t)sizeof k || more) {
        cm_wipe(k, sizeof k);
        cm_err_set(err, path, 0, 0, "not a service master key (expected exactly 32 bytes)");
        return NULL;
    }
    cry_secret *m = cry_secret_dup(k, sizeof k);
    cm_wipe(k, sizeof k);
    return m;
}

/* Reads the master key; creates one only for a state that holds nothing yet. */
static int load_master(vlt_state *s, const char *path, bool may_create, cm_err *err)
{
    s->master = vlt_master_load(path, may_create && !s->master_check[0], err);
    return s->master ? 0 : -1;
}

/* Opens the store and its master key, checked against the state's check value (read
 * before authentication, only to refuse a wrong or missing key early and clearly). */
int vlt_state_open_store(vlt_state *s, const char *path, const char *master_path, cm_err *err)
{
    char mpath[4096];
    if (!master_path) {
        snprintf(mpath, sizeof mpath, "%s.mkey", path);
        master_path = mpath;
    }
    if (!(s->db = sto_open(path, err)))
        return -1;
    sto_meta_peek(s->db, "master:check", s->master_check, sizeof s->master_check);
    if (load_master(s, master_path, sto_is_new(s->db), err) < 0)
        return -1;
    char check[65];
    master_check(s->master, check);
    if (s->master_check[0] && strcmp(check, s->master_check) != 0) {
        cm_err_set(err, master_path, 0, 0,
                   "not the service master key of %s (its check value differs): nothing was "
                   "decrypted",
                   path);
        return -1;
    }
    return 0;
}

int vlt_state_verify(const char *path, const char *master_path,
                     void (*bad)(void *arg, const char *what), void *arg, cm_err *err)
{
    vlt_state *s = cm_xcalloc(1, sizeof *s);
    int rc = -1;
    if (sto_is_file_new(path)) {
        cm_err_set(err, path, 0, 0, "no such state");
        goto out;
    }
    if (vlt_state_open_store(s, path, master_path, err) < 0)
        goto out;
    rc = sto_verify(s->db, s->master, bad, arg, err);
out:
    cry_secret_free(s->master);
    sto_close(s->db);
    free(s);
    return rc;
}

static vlt_state *state_new(void)
{
    vlt_state *s = cm_xcalloc(1, sizeof *s);
    s->rids = cm_intern_new();
    s->strs = cm_intern_new();
    cm_itab_init(&s->resources, s->rids);
    cm_itab_init(&s->vaults, s->strs);
    cm_itab_init(&s->keys, s->strs);
    cm_itab_init(&s->by_key, s->strs);
    cm_itab_init(&s->by_vault, s->strs);
    cm_itab_init(&s->by_principal, s->strs);
    s->seen = cm_idset_new();
    return s;
}

/* The master key's AES key-wrap schedule, made once for every wrap under "mmk". */
static int hold_master(vlt_state *s, cm_err *err)
{
    if (!(s->mmk = cry_kw_new(s->master->b, s->master->len))) {
        cm_err_env(err, "master key", "cannot hold the master key for key wrap");
        return -1;
    }
    return 0;
}

/* A store in memory, with the vault as its first part. */
static void mem_store(vlt_state *s)
{
    s->db = sto_open(NULL, NULL);
    sto_part_attach(s->db, &vlt_part, s);
}

vlt_state *vlt_state_new_mem(const cry_secret *master, cm_err *err)
{
    vlt_state *s = state_new();
    mem_store(s);
    s->master = cry_secret_dup(master->b, master->len);
    if (hold_master(s, err) < 0) {
        vlt_state_free(s);
        return NULL;
    }
    return s;
}

vlt_state *vlt_state_open(const char *path, const char *master_path, cm_err *err)
{
    vlt_state *s = state_new();
    if (!path) {
        mem_store(s);
        s->master = cry_secret_random(CRY_DEK_LEN);
        if (!s->master) {
            cm_err_set(err, "master key", 0, 0, "cannot generate the service master key");
            goto out_fail;
        }
        if (hold_master(s, err) < 0)
            goto out_fail;
        return s;
    }
    if (vlt_state_open_store(s, path, master_path, err) < 0)
        goto out_fail;
    /* Authenticated from here on: every row read is checked against its MAC. */
    s->master_check[0] = '\0';
    if (sto_auth(s->db, s->master, err) < 0 || vlt_tables_open(s, err) < 0 ||
        vlt_state_load_docs(s, err) < 0)
        goto out_fail;
    s->persistent = true;
    sto_part_attach(s->db, &vlt_part, s); /* first: its rows are written first */
    char check[65];
    master_check(s->master, check);
    if (!s->master_check[0]) {
        if (sto_meta_put(s->db, "master:check", check, err) < 0)
            goto out_fail;
        memcpy(s->master_check, check, sizeof check);
    }
    if (hold_master(s, err) < 0)
        goto out_fail;
    return s;
out_fail:
    vlt_state_free(s);
    return NULL;
}

static void free_idtab(cm_itab *t)
{
    uint32_t it = 0;
    void *v;
    while (cm_itab_next(t, &it, NULL, &v)) {
        vlt_idl_free(v);
        free(v);
    }
    cm_itab_free(t);
}

static void free_tab(cm_itab *t, void (*fn)(void *))
{
    uint32_t it = 0;
    void *v;
    while (cm_itab_next(t, &it, NULL, &v))
        fn(v);
    cm_itab_free(t);
}

static void vault_free_v(void *p)
{
    vlt_vault_free(p);
}
static void key_free_v(void *p)
{
    vlt_key_free(p);
}
static void res_free_v(void *p)
{
    vlt_res_free(p);
}

void vlt_state_free(vlt_state *s)
{
    if (!s)
        return;
    sto_close(s->db); /* first: the parts other modules attached go with it */
    vlt_handovers_free(s->moved, s->nmoved);
    free_tab(&s->vaults, vault_free_v);
    free_tab(&s->keys, key_free_v);
    free_tab(&s->resources, res_free_v);
    free_idtab(&s->by_key);
    free_idtab(&s->by_vault);
    free_idtab(&s->by_principal);
    cm_idset_free(s->seen);
    free(s->gone);
    cm_strset_free(s->seen_any);
    free(s->fold);
    cm_u64map_free(&s->acl);
    cm_u64map_free(&s->dirty_acl);
    cm_u64map_free(&s->bind);
    free(s->binds);
    vlt_facts_free(s);
    for (int i = 0; i < 3; i++)
        cm_hset_free(&s->dirty[i]);
    vlt_strl_free(&s->dirty_seen);
    vlt_txn_dispose(s->spare);
    cry_kw_free(s->mmk);
    cry_secret_free(s->master);
    cm_intern_free(s->rids);
    cm_intern_free(s->strs);
    free(s);
}
