/* The JSON Schema (draft 2020-12) of rule, exemption and rule-test files: the bytes of
 * rules/schema.json, embedded at build time (Makefile, $(BUILD)/gen/schema.c). */
#ifndef POL_SCHEMA_H
#define POL_SCHEMA_H
#include <stddef.h>

extern const unsigned char pol_schema_json[]; /* NUL-terminated */
extern const size_t pol_schema_json_len;      /* without the NUL */
#endif
