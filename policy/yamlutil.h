/* Helpers shared by the YAML readers of policy/: rules, rule tests, the run config. */
#ifndef POL_YAMLUTIL_H
#define POL_YAMLUTIL_H
#include <stdbool.h>
#include <stddef.h>

#include <yaml.h>

#include "common/util.h"

/* Sets err to FILE:LINE:COL (of node n; none when n is NULL): message. Returns -1. */
int pol_yaml_err(cm_err *err, const char *file, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The scalar's text, or NULL when n is no scalar. Borrowed from the document. */
const char *pol_yaml_scalar(const yaml_node_t *n);
/* Appends path to *list when it is a file, or the files under it whose names match
 * (descending into subfolders when recursive; at most max files per folder), each
 * folder's in name order. Names starting with '.' are skipped. New strings, caller
 * frees. what names the kind of file in errors ("rules", "rule tests"). */
int pol_collect_files(const char *path, bool (*match)(const char *name), bool recursive, size_t max,
                      const char *what, char ***list, size_t *n, cm_err *err);
#endif
