/* SPDX-License-Identifier: Apache-2.0 */
/* Strict JSON: the text and the schemas (see json.h). */
#include "api-socket/json.h"
#include "core/ember.h"
#include "core/utf8.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the text: strict lexical checks, then cJSON --------------------------- */

/* Line and column (1-based, in bytes) of offset off. */
static void position(const char *text, size_t off, unsigned *line, unsigned *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < off; i++) {
		if (text[i] == '\n') {
			(*line)++;
			*col = 1;
		} else {
			(*col)++;
		}
	}
}

static int lex_fail(const char *text, size_t off, char *err, size_t errlen, const char *what)
{
	unsigned line, col;

	position(text, off, &line, &col);
	return errorf(err, errlen, JSON_SERDE "%s at line %u column %u.", what, line, col);
}

/*
 * What cJSON lets through and Firecracker (serde_json) refuses: invalid
 * UTF-8, NUL bytes, control characters and \u0000 in strings, numbers with
 * a fraction or exponent (no field is a float), leading zeros.
 */
static int lex_check(const char *text, size_t len, bool floats, bool *incomplete, char *err,
		     size_t errlen)
{
	const unsigned char *s = (const unsigned char *)text;
	bool in_str = false;
	long depth = 0;

	for (size_t i = 0; i < len;) {
		size_t n = utf8_len(s + i, len - i);

		if (!n)
			return lex_fail(text, i, err, errlen, "invalid UTF-8");
		if (s[i] == 0)
			return lex_fail(text, i, err, errlen, "NUL byte");
		if (in_str) {
			if (s[i] < 0x20)
				return lex_fail(text, i, err, errlen,
						"control character (\\u0000-\\u001F) found while "
						"parsing a string");
			if (s[i] == '"') {
				in_str = false;
			} else if (s[i] == '\\' && i + 1 < len) {
				if (s[i + 1] == 'u' && i + 6 <= len && !memcmp(s + i + 2, "0000", 4))
					return lex_fail(text, i, err, errlen, "\\u0000 (NUL) in a string");
				i += 2;
				continue;
			}
			i += n;
			continue;
		}
		if (s[i] == '"') {
			in_str = true;
		} else if (s[i] == '{' || s[i] == '[') {
			depth++;
		} else if (s[i] == '}' || s[i] == ']') {
			depth--;
		} else if (s[i] == '-' || isdigit(s[i])) {
			size_t start = i;

			if (s[i] == '-')
				i++;
			if (i + 1 < len && s[i] == '0' && isdigit(s[i + 1]))
				return lex_fail(text, start, err, errlen, "invalid number (leading zero)");
			while (i < len && isdigit(s[i]))
				i++;
			if (!floats && i < len && (s[i] == '.' || s[i] == 'e' || s[i] == 'E'))
				return lex_fail(text, start, err, errlen,
						"invalid type: floating point number, expected an "
						"integer");
			continue;
		}
		i += n;
	}
	/* the text stops inside a string, object or array */
	*incomplete = in_str || depth > 0;
	return 0;
}

/* serde refuses duplicate fields; cJSON keeps both. */
static int dup_check(const cJSON *j, char *err, size_t errlen)
{
	const cJSON *a, *b;

	cJSON_ArrayForEach(a, j) {
		if (cJSON_IsObject(j))
			for (b = a->next; b; b = b->next)
				if (!strcmp(a->string, b->string))
					return errorf(err, errlen, JSON_SERDE "duplicate field `%s`.", a->string);
		if ((cJSON_IsObject(a) || cJSON_IsArray(a)) && dup_check(a, err, errlen) < 0)
			return -1;
	}
	return 0;
}

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/*
 * Where the members of the last document's top-level object are, as
 * serde_json reports positions ("at line 1 column 21"): after a member's
 * key, after its value, and the object's closing brace. Kept for the root
 * json_parse() returned last (members matched by pointer and order).
 */
#define POS_MAX 64
static struct {
	const cJSON *root;
	int n;
	const cJSON *member[POS_MAX];
	unsigned key_line[POS_MAX], key_col[POS_MAX], val_line[POS_MAX], val_col[POS_MAX];
	unsigned end_line, end_col;
} pos;

/* The offset just past the JSON value at off (valid JSON: cJSON read it). */
static size_t skip_value(const char *t, size_t len, size_t off)
{
	int depth = 0;
	bool str = false;

	for (size_t i = off; i < len; i++) {
		char c = t[i];

		if (str) {
			if (c == '\\')
				i++;
			else if (c == '"' && (str = false, depth == 0))
				return i + 1;
			continue;
		}
		if (c == '"')
			str = true;
		else if (c == '{' || c == '[')
			depth++;
		else if ((c == '}' || c == ']') && --depth == 0)
			return i + 1;
		else if (depth == 0 && (c == ',' || c == '}' || c == ']' || is_ws(c)))
			return i;
		else if (depth < 0)
			return i;
	}
	return len;
}

static void remember_positions(const char *t, size_t len, const cJSON *root)
{
	const cJSON *m = root->child;
	size_t i = 0, e;

	pos.root = NULL;
	pos.n = 0;
	while (i < len && is_ws(t[i]))
		i++;
	if (i == len || t[i] != '{')
		return;
	i++;
	for (;;) {
		while (i < len && (is_ws(t[i]) || t[i] == ','))
			i++;
		if (i >= len)
			return;
		if (t[i] == '}')
			break;
		e = skip_value(t, len, i);             /* the key */
		if (m && pos.n < POS_MAX) {
			pos.member[pos.n] = m;
			position(t, e - 1, &pos.key_line[pos.n], &pos.key_col[pos.n]);
		}
		i = e;
		while (i < len && (is_ws(t[i]) || t[i] == ':'))
			i++;
		e = skip_value(t, len, i);             /* the value */
		if (m && pos.n < POS_MAX) {
			position(t, e - 1, &pos.val_line[pos.n], &pos.val_col[pos.n]);
			pos.n++;
		}
		m = m ? m->next : NULL;
		i = e;
	}
	position(t, i, &pos.end_line, &pos.end_col);
	pos.root = root;
}

/* " at line L column C" for member m of j (key: after its key), or "". */
static const char *where(const cJSON *j, const cJSON *m, bool key, char *buf, size_t size)
{
	buf[0] = '\0';
	if (!j || j != pos.root)
		return buf;
	if (!m) {
		snprintf(buf, size, " at line %u column %u", pos.end_line, pos.end_col);
		return buf;
	}
	for (int i = 0; i < pos.n; i++)
		if (pos.member[i] == m)
			snprintf(buf, size, " at line %u column %u", key ? pos.key_line[i] :
				 pos.val_line[i], key ? pos.key_col[i] : pos.val_col[i]);
	return buf;
}

/*
 * cJSON keeps numbers as doubles, which cannot tell 2^64-1 from 2^64: give
 * each number node its text (in valuestring, which cJSON frees and copies
 * with the node but never prints for a number), for json_uint(). Strict
 * documents only (integers: the number tokens outside strings come in the
 * order a pre-order walk meets the nodes). 0, or -1 when out of memory.
 */
struct num_cursor {
	const char *t;
	size_t len, i;
};

static bool next_number(struct num_cursor *c, size_t *start, size_t *n)
{
	bool in_str = false;

	for (; c->i < c->len; c->i++) {
		char ch = c->t[c->i];

		if (in_str) {
			if (ch == '\\')
				c->i++;
			else if (ch == '"')
				in_str = false;
		} else if (ch == '"') {
			in_str = true;
		} else if (ch == '-' || isdigit((unsigned char)ch)) {
			*start = c->i;
			while (++c->i < c->len && isdigit((unsigned char)c->t[c->i]))
				;
			*n = c->i - *start;
			return true;
		}
	}
	return false;
}

static int attach_numbers(cJSON *j, struct num_cursor *c)
{
	for (; j; j = j->next) {
		if (cJSON_IsNumber(j)) {
			size_t start, n;

			if (!next_number(c, &start, &n))
				return 0;
			if (!(j->valuestring = strndup(c->t + start, n)))
				return -1;
		}
		if (j->child && attach_numbers(j->child, c) < 0)
			return -1;
	}
	return 0;
}

static cJSON *parse(const char *text, size_t len, bool any, char *err, size_t errlen)
{
	const char *end = NULL;
	bool incomplete = false;
	size_t ws = 0;
	cJSON *j;

	if (lex_check(text, len, any, &incomplete, err, errlen) < 0)
		return NULL;
	j = cJSON_ParseWithLengthOpts(text, len, &end, false);
	if (!j) {
		size_t off = end && end >= text && end <= text + len ? (size_t)(end - text) : 0;

		while (ws < len && is_ws(text[ws]))
			ws++;
		if (incomplete || ws == len)
			lex_fail(text, off, err, errlen, "EOF while parsing a value");
		else
			lex_fail(text, off, err, errlen, "expected value");
		return NULL;
	}
	for (size_t off = end - text; off < len; off++)
		if (!is_ws(text[off])) {
			cJSON_Delete(j);
			lex_fail(text, off, err, errlen, "trailing characters");
			return NULL;
		}
	if (any)
		return j;
	if (dup_check(j, err, errlen) < 0) {
		cJSON_Delete(j);
		return NULL;
	}
	{
		struct num_cursor c = { text, len, 0 };

		if (attach_numbers(j, &c) < 0) {
			cJSON_Delete(j);
			errorf(err, errlen, "out of memory");
			return NULL;
		}
	}
	if (cJSON_IsObject(j))
		remember_positions(text, len, j);
	return j;
}

cJSON *json_parse(const char *text, size_t len, char *err, size_t errlen)
{
	return parse(text, len, false, err, errlen);
}

cJSON *json_parse_value(const char *text, size_t len, char *err, size_t errlen)
{
	return parse(text, len, true, err, errlen);
}

/* The exact value of an integer's text; ERANGE past u64 (a double's value otherwise). */
static uint64_t exact_uint(const cJSON *v, bool *range)
{
	unsigned long long x;
	char *end;

	*range = false;
	if (!v->valuestring || v->valuestring[0] == '-')
		return v->valuedouble >= 18446744073709551616.0 ? (*range = true, UINT64_MAX) :
		       v->valuedouble <= 0 ? 0 : (uint64_t)v->valuedouble;
	errno = 0;
	x = strtoull(v->valuestring, &end, 10);
	*range = errno == ERANGE;
	return x;
}

/* ---- objects against schemas --------------------------------------------- */

static const char *const type_names[] = {
	[J_STR] = "a string", [J_BOOL] = "a boolean", [J_UINT] = "an unsigned integer",
	[J_OBJ] = "an object", [J_ARR] = "an array", [J_ENUM] = "a string",
};

/* serde's words for what was found. */
static void kind(const cJSON *v, char *buf, size_t size)
{
	if (cJSON_IsNull(v))
		snprintf(buf, size, "null");
	else if (cJSON_IsBool(v))
		snprintf(buf, size, "boolean `%s`", cJSON_IsTrue(v) ? "true" : "false");
	else if (cJSON_IsNumber(v))
		snprintf(buf, size, "integer `%.0f`", v->valuedouble);
	else if (cJSON_IsString(v))
		snprintf(buf, size, "string \"%.40s%s\"", v->valuestring,
			 strlen(v->valuestring) > 40 ? "..." : "");
	else if (cJSON_IsArray(v))
		snprintf(buf, size, "sequence");
	else
		snprintf(buf, size, "map");
}

static bool type_ok(const cJSON *v, enum json_type t)
{
	switch (t) {
	case J_STR: case J_ENUM: return cJSON_IsString(v);
	case J_BOOL: return cJSON_IsBool(v);
	case J_UINT: return cJSON_IsNumber(v) && v->valuedouble >= 0;
	case J_OBJ: return cJSON_IsObject(v);
	case J_ARR: return cJSON_IsArray(v);
	}
	return false;
}

/* "unknown variant `X`, expected `A` or `B`" / "expected one of `A`, `B`, `C`", as serde. */
static int bad_variant(const cJSON *v, const struct json_field *f, const char *at, char *err,
		       size_t errlen)
{
	char list[300] = "";
	size_t used = 0, n = 0;

	while (f->variants[n])
		n++;
	for (size_t i = 0; i < n && used < sizeof(list); i++)
		used += snprintf(list + used, sizeof(list) - used, "%s`%s`",
				 !i ? "" : n == 2 ? " or " : ", ", f->variants[i]);
	return errorf(err, errlen, JSON_SERDE "unknown variant `%.32s`, expected %s%s for `%s`%s.",
		      v->valuestring, n > 2 ? "one of " : "", list, f->name, at);
}

/* A present value against its field: type, range, variants, extra check. */
static int check_value(const cJSON *m, const struct json_field *f, const char *at, char *err,
		       size_t errlen)
{
	char k[80];

	if (!type_ok(m, f->type)) {
		kind(m, k, sizeof(k));
		return errorf(err, errlen, JSON_SERDE "invalid type: %s, expected %s for `%s`%s.", k,
			      type_names[f->type], f->name, at);
	}
	/* past u64, serde_json reads a number as a float: an invalid type */
	if (f->type == J_UINT) {
		bool range;
		uint64_t x = exact_uint(m, &range);

		if (range)
			return errorf(err, errlen, JSON_SERDE "invalid type: floating point `%.0f`, "
				      "expected %s for `%s`%s.", m->valuedouble, type_names[f->type],
				      f->name, at);
		if (f->max && x > f->max)
			return errorf(err, errlen, JSON_SERDE "invalid value: integer `%llu`, expected "
				      "an integer from 0 to %llu for `%s`%s.", (unsigned long long)x,
				      (unsigned long long)f->max, f->name, at);
	}
	if (f->type == J_ENUM) {
		size_t i;

		for (i = 0; f->variants[i] && strcmp(f->variants[i], m->valuestring); i++)
			;
		if (!f->variants[i])
			return bad_variant(m, f, at, err, errlen);
	}
	if (f->check && f->check(m, f->name, err, errlen) < 0)
		return -1;
	return 0;
}

int json_check(const cJSON *j, const struct json_schema *s, const cJSON **out,
	       char *err, size_t errlen)
{
	const struct json_field *f = s->fields;
	char k[80], at[48];
	const cJSON *m;

	if (s->n > JSON_MAX_FIELDS)
		return errorf(err, errlen, "%s: a schema of %zu fields", s->name, s->n);
	if (!cJSON_IsObject(j)) {
		kind(j, k, sizeof(k));
		return errorf(err, errlen, JSON_SERDE "invalid type: %s, expected %s object.", k,
			      s->name);
	}
	for (size_t i = 0; i < s->n; i++)
		out[i] = NULL;
	cJSON_ArrayForEach(m, j) {
		size_t i;

		for (i = 0; i < s->n && strcmp(m->string, f[i].name); i++)
			;
		if (i == s->n) {
			char list[400] = "";
			size_t used = 0;

			for (size_t x = 0; x < s->n && used < sizeof(list); x++)
				used += snprintf(list + used, sizeof(list) - used, "%s`%s`",
						 x ? ", " : "", f[x].name);
			return errorf(err, errlen, JSON_SERDE "unknown field `%.64s`, expected one "
				      "of %s%s.", m->string, list, where(j, m, true, at, sizeof(at)));
		}
		if (cJSON_IsNull(m) && (f[i].flags & J_NULL))
			continue;
		if (check_value(m, &f[i], where(j, m, false, at, sizeof(at)), err, errlen) < 0)
			return -1;
		out[i] = m;
	}
	for (size_t i = 0; i < s->n; i++)
		if ((f[i].flags & J_REQ) && !out[i] && !cJSON_GetObjectItemCaseSensitive(j, f[i].name))
			return errorf(err, errlen, JSON_SERDE "missing field `%s`%s.", f[i].name,
				      where(j, NULL, false, at, sizeof(at)));
	return 0;
}

uint64_t json_uint(const cJSON *v)
{
	bool range;

	return exact_uint(v, &range);
}

bool json_has_ctl(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

int json_str(const cJSON *v, const char *name, char *dst, size_t size, char *err, size_t errlen)
{
	size_t len = strlen(v->valuestring);

	if (!len)
		return errorf(err, errlen, "`%s` is empty.", name);
	if (json_has_ctl(v->valuestring))
		return errorf(err, errlen, "`%s` contains a control character.", name);
	if (len >= size)
		return errorf(err, errlen, "`%s` is longer than %zu bytes.", name, size - 1);
	memcpy(dst, v->valuestring, len + 1);
	return 0;
}
