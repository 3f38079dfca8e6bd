#include "policy/yamlutil.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int pol_yaml_err(cm_err *err, const char *file, const yaml_node_t *n, const char *fmt, ...)
{
    char m[700];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m, sizeof m, fmt, ap);
    va_end(ap);
    cm_err_set(err, file, n ? (int)n->start_mark.line + 1 : 0,
               n ? (int)n->start_mark.column + 1 : 0, "%s", m);
    return -1;
}

const char *pol_yaml_scalar(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void push(char ***list, size_t *n, char *s)
{
    *list = cm_xrealloc(*list, (*n + 1) * sizeof **list);
    (*list)[(*n)++] = s;
}

int pol_collect_files(const char *path, bool (*match)(const char *name), bool recursive, size_t max,
                      const char *what, char ***list, size_t *n, cm_err *err)
{
    struct stat st;
    if (stat(path, &st) < 0) {
        cm_err_set(err, path, 0, 0, "cannot read %s: %s", what, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        push(list, n, cm_strdup(path));
        return 0;
    }
    DIR *d = opendir(path);
    if (!d) {
        cm_err_set(err, path, 0, 0, "cannot read %s: %s", what, strerror(errno));
        return -1;
    }
    char **names = NULL;
    size_t nn = 0;
    struct dirent *e;
    while ((e = readdir(d)) && nn < max) {
        if (e->d_name[0] == '.')
            continue;
        size_t len = strlen(path) + strlen(e->d_name) + 2;
        char *full = cm_xmalloc(len);
        snprintf(full, len, "%s%s%s", path, cm_endswith(path, "/") ? "" : "/", e->d_name);
        struct stat es;
        bool dir = recursive && stat(full, &es) == 0 && S_ISDIR(es.st_mode);
        if (dir || match(e->d_name))
            push(&names, &nn, full);
        else
            free(full);
    }
    closedir(d);
    if (nn)
        qsort(names, nn, sizeof *names, cmp_str);
    int rc = 0;
    for (size_t i = 0; i < nn; i++) {
        struct stat es;
        if (recursive && stat(names[i], &es) == 0 && S_ISDIR(es.st_mode)) {
            if (rc == 0)
                rc = pol_collect_files(names[i], match, recursive, max, what, list, n, err);
            free(names[i]);
        } else {
            push(list, n, names[i]);
        }
    }
    free(names);
    return rc;
}
