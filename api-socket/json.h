/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Strict JSON for the API and the config file, as Firecracker's serde_json
 * with deny_unknown_fields reads it: the text (valid UTF-8, no NUL, no
 * control characters or \u0000 in strings, no floats, no leading zeros, no
 * duplicate keys, nothing after the value), then an object against its
 * schema (unknown, missing and mistyped fields, integers out of range,
 * unknown enum variants, and any field check of serde's kind). Every
 * refusal is one line that starts with JSON_SERDE, Firecracker's prefix.
 * The handlers (config.c) see only checked objects and check meaning.
 */
#ifndef EMBER_API_JSON_H
#define EMBER_API_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cJSON;

#define JSON_SERDE "An error occurred when deserializing the json body of a request: "

enum json_type { J_STR, J_BOOL, J_UINT, J_OBJ, J_ARR, J_ENUM };

#define J_REQ  1u  /* required */
#define J_NULL 2u  /* null accepted, meaning absent (Firecracker's Option<T>) */

struct json_field {
	const char *name;
	enum json_type type;
	unsigned flags;
	uint64_t max;                  /* J_UINT: the largest value (0: any) */
	const char *const *variants;   /* J_ENUM: a string, one of these (NULL-terminated) */
	/* More of serde's checks on a present value (a MAC's form...): 0 or -1 with err. */
	int (*check)(const struct cJSON *v, const char *name, char *err, size_t errlen);
};

#define JSON_MAX_FIELDS 32 /* in one schema */

struct json_schema {
	const char *name;              /* serde's type name: "BootSource" */
	const struct json_field *fields;
	size_t n;
};

/*
 * Parse len bytes of JSON text (need not be NUL-terminated) into a tree
 * the caller frees with cJSON_Delete. NULL with a one-line reason in err
 * ("... invalid UTF-8 at line 1 column 12.", "... EOF while parsing...").
 */
struct cJSON *json_parse(const char *text, size_t len, char *err, size_t errlen);
/*
 * Any JSON value, as serde_json reads a Value (the MMDS's data): floats
 * too, and duplicate keys (all kept: mmds_put() keeps the last, as serde).
 */
struct cJSON *json_parse_value(const char *text, size_t len, char *err, size_t errlen);

/*
 * Check object j against schema s: out[i] gets field i's value (s->n
 * entries), NULL when absent or null. 0, or -1 with the reason in err.
 */
int json_check(const struct cJSON *j, const struct json_schema *s, const struct cJSON **out,
	       char *err, size_t errlen);

/*
 * A string field's value copied into dst (size bytes with its NUL): not
 * empty, no control characters (paths end up in one-line messages and
 * logs), not too long. 0, or -1 with the reason ("`name` is empty.").
 */
int json_str(const struct cJSON *v, const char *name, char *dst, size_t size,
	     char *err, size_t errlen);

/* A J_UINT value (range already checked by json_check). */
uint64_t json_uint(const struct cJSON *v);

/* Whether s holds a control character (0x00-0x1f, 0x7f). */
bool json_has_ctl(const char *s);

#endif
