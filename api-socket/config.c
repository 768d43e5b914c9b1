/* SPDX-License-Identifier: Apache-2.0 */
/* Firecracker's JSON configuration bodies and file (see config.h). */
#include "api-socket/config.h"
#include "api-socket/vm_config.h"
#include "core/ember.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Firecracker's prefix for every deserialization error. */
#define SERDE "An error occurred when deserializing the json body of a request: "


void ember_config_init(struct ember_config *c)
{
	/* vm_config_init()'s defaults, without linking the VMM (unit tests) */
	memset(c, 0, sizeof(*c));
	c->vm.mem_mib = DEFAULT_MEM_MIB;
	c->vm.vcpus = DEFAULT_VCPUS;
}

/* ---- JSON text: strict lexical checks, then cJSON ------------------------- */

/* Length of the UTF-8 sequence at s (at most n bytes), 0 when invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	uint32_t cp;
	size_t len;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

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
	return errorf(err, errlen, SERDE "%s at line %u column %u.", what, line, col);
}

/*
 * What cJSON lets through and Firecracker (serde_json) refuses: invalid
 * UTF-8, NUL bytes, control characters and \u0000 in strings, numbers with
 * a fraction or exponent (no field is a float), leading zeros.
 */
static int lex_check(const char *text, size_t len, bool *incomplete, char *err, size_t errlen)
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
			if (i < len && (s[i] == '.' || s[i] == 'e' || s[i] == 'E'))
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
					return errorf(err, errlen, SERDE "duplicate field `%s`.", a->string);
		if ((cJSON_IsObject(a) || cJSON_IsArray(a)) && dup_check(a, err, errlen) < 0)
			return -1;
	}
	return 0;
}

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

cJSON *config_parse_json(const char *text, size_t len, char *err, size_t errlen)
{
	const char *end = NULL;
	bool incomplete = false;
	size_t ws = 0;
	cJSON *j;

	if (lex_check(text, len, &incomplete, err, errlen) < 0)
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
	if (dup_check(j, err, errlen) < 0) {
		cJSON_Delete(j);
		return NULL;
	}
	return j;
}

/* ---- schema checks ------------------------------------------------------ */

enum ftype { F_STR, F_BOOL, F_UINT, F_OBJ, F_ARR };

#define F_REQ  1u  /* required */
#define F_NULL 2u  /* null accepted, meaning absent (Firecracker's Option<T>) */

struct field {
	const char *name;
	enum ftype type;
	unsigned flags;
};

static const char *const type_names[] = {
	[F_STR] = "a string", [F_BOOL] = "a boolean", [F_UINT] = "an unsigned integer",
	[F_OBJ] = "an object", [F_ARR] = "an array",
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

static bool type_ok(const cJSON *v, enum ftype t)
{
	switch (t) {
	case F_STR: return cJSON_IsString(v);
	case F_BOOL: return cJSON_IsBool(v);
	case F_UINT: return cJSON_IsNumber(v) && v->valuedouble >= 0;
	case F_OBJ: return cJSON_IsObject(v);
	case F_ARR: return cJSON_IsArray(v);
	}
	return false;
}

/*
 * Check object j (described as what) against the n fields f: out[i] gets
 * field i's value, NULL when absent or null.
 */
static int check_fields(const cJSON *j, const char *what, const struct field *f, size_t n,
			const cJSON **out, char *err, size_t errlen)
{
	char k[80];
	const cJSON *m;

	if (!cJSON_IsObject(j)) {
		kind(j, k, sizeof(k));
		return errorf(err, errlen, SERDE "invalid type: %s, expected %s object.", k, what);
	}
	for (size_t i = 0; i < n; i++)
		out[i] = NULL;
	cJSON_ArrayForEach(m, j) {
		size_t i;

		for (i = 0; i < n && strcmp(m->string, f[i].name); i++)
			;
		if (i == n) {
			char list[400] = "";
			size_t used = 0;

			for (size_t x = 0; x < n && used < sizeof(list); x++)
				used += snprintf(list + used, sizeof(list) - used, "%s`%s`",
						 x ? ", " : "", f[x].name);
			return errorf(err, errlen, SERDE "unknown field `%.64s`, expected one of %s.",
				    m->string, list);
		}
		if (cJSON_IsNull(m) && (f[i].flags & F_NULL))
			continue;
		if (!type_ok(m, f[i].type)) {
			kind(m, k, sizeof(k));
			return errorf(err, errlen, SERDE "invalid type: %s, expected %s for `%s`.", k,
				    type_names[f[i].type], f[i].name);
		}
		out[i] = m;
	}
	for (size_t i = 0; i < n; i++)
		if ((f[i].flags & F_REQ) && !out[i] && !cJSON_GetObjectItemCaseSensitive(j, f[i].name))
			return errorf(err, errlen, SERDE "missing field `%s`.", f[i].name);
	return 0;
}

/* An F_UINT value from 0 to max. */
static int get_uint(const cJSON *v, const char *name, uint64_t max, uint64_t *out,
		    char *err, size_t errlen)
{
	if (v->valuedouble > (double)max)
		return errorf(err, errlen, SERDE "invalid value: integer `%.0f`, expected an integer "
			    "from 0 to %llu for `%s`.", v->valuedouble, (unsigned long long)max, name);
	*out = (uint64_t)v->valuedouble;
	return 0;
}

static bool has_ctl(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

/*
 * A string that must fit size bytes (with its NUL), not be empty and hold
 * no control characters (paths end up in one-line messages and logs).
 */
static int get_str(const cJSON *v, const char *name, char *dst, size_t size,
		   char *err, size_t errlen)
{
	size_t len = strlen(v->valuestring);

	if (!len)
		return errorf(err, errlen, "`%s` is empty.", name);
	if (has_ctl(v->valuestring))
		return errorf(err, errlen, "`%s` contains a control character.", name);
	if (len >= size)
		return errorf(err, errlen, "`%s` is longer than %zu bytes.", name, size - 1);
	memcpy(dst, v->valuestring, len + 1);
	return 0;
}

bool config_valid_id(const char *id)
{
	char why[160];

	return field_id(id, strlen(id), "id", why, sizeof(why)) == 0;
}

static int check_id(const char *id, const char *name, char *err, size_t errlen)
{
	if (!id[0])
		return errorf(err, errlen, "The ID cannot be empty.");
	return field_id(id, strlen(id), name, err, errlen);
}

/*
 * The file can be opened as asked and is of a kind the VM can use (regular,
 * or a block device for drives): refused here, before the 204, and never
 * opened in a way that could block. The reason otherwise.
 */
static int can_open(const char *path, int flags, bool blk_ok, char *why, size_t size)
{
	int fd = open_host_file(path, flags, blk_ok, why, size);

	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

/*
 * A Firecracker TokenBucket: {size, refill_time, one_time_burst?}. ember
 * has no rate limiting: only a bucket that does not limit (size 0 or
 * refill_time 0, as Firecracker reads them) is accepted.
 */
static int check_bucket(const cJSON *j, const char *name, char *err, size_t errlen)
{
	static const struct field f[] = {
		{ "size", F_UINT, F_REQ },
		{ "one_time_burst", F_UINT, F_NULL },
		{ "refill_time", F_UINT, F_REQ },
	};
	const cJSON *v[3];

	if (check_fields(j, name, f, 3, v, err, errlen) < 0)
		return -1;
	if (v[0]->valuedouble != 0 && v[2]->valuedouble != 0)
		return errorf(err, errlen, "%s: rate limiting is not supported by ember (size %.0f, "
			    "refill_time %.0f); give size 0 or no rate limiter.", name,
			    v[0]->valuedouble, v[2]->valuedouble);
	return 0;
}

/* A RateLimiter: {bandwidth?, ops?}, each a TokenBucket. */
static int check_limiter(const cJSON *j, const char *name, char *err, size_t errlen)
{
	static const struct field f[] = {
		{ "bandwidth", F_OBJ, F_NULL },
		{ "ops", F_OBJ, F_NULL },
	};
	const cJSON *v[2];
	char sub[64];

	if (!j)
		return 0;
	if (check_fields(j, name, f, 2, v, err, errlen) < 0)
		return -1;
	for (int i = 0; i < 2; i++) {
		snprintf(sub, sizeof(sub), "%s.%s", name, f[i].name);
		if (v[i] && check_bucket(v[i], sub, err, errlen) < 0)
			return -1;
	}
	return 0;
}

/* Printable ASCII, like Firecracker's kernel command line. */
static bool printable(const char *s)
{
	for (; *s; s++)
		if (*s < 0x20 || *s > 0x7e)
			return false;
	return true;
}

/* ---- PUT /boot-source --------------------------------------------------- */

int config_put_boot_source(struct ember_config *c, const cJSON *j, char *err, size_t errlen)
{
	static const struct field f[] = {
		{ "kernel_image_path", F_STR, F_REQ },
		{ "initrd_path", F_STR, F_NULL },
		{ "boot_args", F_STR, F_NULL },
	};
	const cJSON *v[3];
	struct vm_config n = c->vm;
	char why[300];

	if (check_fields(j, "BootSource", f, 3, v, err, errlen) < 0)
		return -1;
	if (get_str(v[0], "kernel_image_path", n.kernel, sizeof(n.kernel), err, errlen) < 0)
		return -1;
	n.initrd[0] = '\0';
	if (v[1] && get_str(v[1], "initrd_path", n.initrd, sizeof(n.initrd), err, errlen) < 0)
		return -1;
	n.cmdline[0] = '\0';
	n.cmdline_replaces = v[2] != NULL;
	if (v[2]) {
		if (strlen(v[2]->valuestring) >= sizeof(n.cmdline))
			return errorf(err, errlen, "Boot source error: The kernel command line is "
				    "invalid: longer than %zu bytes.", sizeof(n.cmdline) - 1);
		if (!printable(v[2]->valuestring))
			return errorf(err, errlen, "Boot source error: The kernel command line is "
				    "invalid: only printable ASCII characters are allowed.");
		strcpy(n.cmdline, v[2]->valuestring);
	}
	if (can_open(n.kernel, O_RDONLY, false, why, sizeof(why)) < 0)
		return errorf(err, errlen, "Boot source error: The kernel file cannot be opened: %s",
			    why);
	if (n.initrd[0] && can_open(n.initrd, O_RDONLY, false, why, sizeof(why)) < 0)
		return errorf(err, errlen, "Boot source error: The initrd file cannot be opened: %s",
			    why);
	c->vm = n;
	return 0;
}

/* ---- PUT/PATCH /machine-config ------------------------------------------ */

int config_machine(struct ember_config *c, const cJSON *j, bool patch, char *err, size_t errlen)
{
	static const struct field f[] = {
		{ "vcpu_count", F_UINT, F_REQ },
		{ "mem_size_mib", F_UINT, F_REQ },
		{ "smt", F_BOOL, 0 },
		{ "cpu_template", F_STR, F_NULL },
		{ "track_dirty_pages", F_BOOL, 0 },
		{ "huge_pages", F_STR, F_NULL },
	};
	static const struct field fp[] = {
		{ "vcpu_count", F_UINT, F_NULL },
		{ "mem_size_mib", F_UINT, F_NULL },
		{ "smt", F_BOOL, F_NULL },
		{ "cpu_template", F_STR, F_NULL },
		{ "track_dirty_pages", F_BOOL, F_NULL },
		{ "huge_pages", F_STR, F_NULL },
	};
	const cJSON *v[6];
	uint64_t vcpus = c->vm.vcpus, mem = c->vm.mem_mib;
	bool dirty = patch ? c->track_dirty_pages : false, any = false;

	if (check_fields(j, "MachineConfiguration", patch ? fp : f, 6, v, err, errlen) < 0)
		return -1;
	for (int i = 0; i < 6; i++)
		any |= v[i] != NULL;
	if (patch && !any)
		return errorf(err, errlen, "Empty PATCH request.");
	if (v[0] && get_uint(v[0], "vcpu_count", 255, &vcpus, err, errlen) < 0)
		return -1;
	if (v[1] && get_uint(v[1], "mem_size_mib", UINT64_MAX >> 20, &mem, err, errlen) < 0)
		return -1;
	if (vcpus < 1 || vcpus > GUEST_VCPUS_MAX)
		return errorf(err, errlen, "Machine config error: The number of vCPUs must be greater "
			    "than 0, less than %d and must be 1 or an even number if SMT is enabled.",
			    GUEST_VCPUS_MAX + 1);
	if (mem == 0)
		return errorf(err, errlen, "Machine config error: The memory size (MiB) is either 0, "
			    "or not a multiple of the configured page size.");
	if (mem < GUEST_MEM_MIN_MIB || mem > GUEST_MEM_MAX_MIB)
		return errorf(err, errlen, "Machine config error: ember needs a memory size from %llu "
			    "to %llu MiB (got %llu).", GUEST_MEM_MIN_MIB, GUEST_MEM_MAX_MIB,
			    (unsigned long long)mem);
	if (v[2] && cJSON_IsTrue(v[2]))
		return errorf(err, errlen, "Machine config error: smt (simultaneous multithreading) "
			    "is not supported by ember: every vCPU is a core of its own; give "
			    "\"smt\": false.");
	if (v[3] && strcmp(v[3]->valuestring, "None"))
		return errorf(err, errlen, "Machine config error: CPU template \"%.32s\" is not "
			    "supported by ember (only \"None\").", v[3]->valuestring);
	if (v[4])
		dirty = cJSON_IsTrue(v[4]);
	if (v[5] && strcmp(v[5]->valuestring, "None")) {
		if (strcmp(v[5]->valuestring, "Transparent") && strcmp(v[5]->valuestring, "2M"))
			return errorf(err, errlen, SERDE "unknown variant `%.32s`, expected one of "
				    "`None`, `Transparent`, `2M` for `huge_pages`.",
				    v[5]->valuestring);
		return errorf(err, errlen, "Machine config error: huge_pages \"%s\" is not supported "
			    "by ember (only \"None\").", v[5]->valuestring);
	}
	c->vm.vcpus = vcpus;
	c->vm.mem_mib = mem;
	c->track_dirty_pages = dirty;
	return 0;
}

/* ---- PUT /drives/{id} ---------------------------------------------------- */

static int find_drive(const struct ember_config *c, const char *id)
{
	for (int i = 0; i < c->vm.ndrives; i++)
		if (!strcmp(c->vm.drives[i].id, id))
			return i;
	return -1;
}

int config_put_drive(struct ember_config *c, const cJSON *j, const char *path_id,
		     char *err, size_t errlen)
{
	static const struct field f[] = {
		{ "drive_id", F_STR, F_REQ },
		{ "partuuid", F_STR, F_NULL },
		{ "is_root_device", F_BOOL, F_REQ },
		{ "cache_type", F_STR, 0 },
		{ "is_read_only", F_BOOL, F_NULL },
		{ "path_on_host", F_STR, F_NULL },
		{ "rate_limiter", F_OBJ, F_NULL },
		{ "io_engine", F_STR, F_NULL },
		{ "socket", F_STR, F_NULL },
	};
	const cJSON *v[9];
	struct drive_spec d = { 0 };
	char why[300], partuuid[PARTUUID_MAX + 1] = "";
	bool wb = false;
	int at;

	if (check_fields(j, "Drive", f, 9, v, err, errlen) < 0)
		return -1;
	if (check_id(v[0]->valuestring, "drive_id", err, errlen) < 0)
		return -1;
	if (path_id && strcmp(path_id, v[0]->valuestring))
		return errorf(err, errlen, "The id from the path does not match the id from the body!");
	strcpy(d.id, v[0]->valuestring);
	d.root = cJSON_IsTrue(v[2]);
	d.read_only = v[4] && cJSON_IsTrue(v[4]);
	if (v[1]) {
		const char *p = v[1]->valuestring;

		if (!*p || strlen(p) > PARTUUID_MAX ||
		    strspn(p, "0123456789abcdefABCDEF-") != strlen(p))
			return errorf(err, errlen, "Drive config error: partuuid \"%.70s\" is not 1 to "
				    "%d hexadecimal digits and '-'.", p, PARTUUID_MAX);
		strcpy(partuuid, p);  /* used only for the root device, like Firecracker */
	}
	if (v[3]) {
		if (!strcmp(v[3]->valuestring, "Writeback"))
			wb = true;
		else if (strcmp(v[3]->valuestring, "Unsafe"))
			return errorf(err, errlen, SERDE "unknown variant `%.32s`, expected `Unsafe` or "
				    "`Writeback` for `cache_type`.", v[3]->valuestring);
	}
	if (v[7] && strcmp(v[7]->valuestring, "Sync")) {
		if (strcmp(v[7]->valuestring, "Async"))
			return errorf(err, errlen, SERDE "unknown variant `%.32s`, expected `Sync` or "
				    "`Async` for `io_engine`.", v[7]->valuestring);
		return errorf(err, errlen, "Drive config error: io_engine \"Async\" is not supported "
			    "by ember (only \"Sync\").");
	}
	if (v[8])
		return errorf(err, errlen, "Drive config error: vhost-user block devices (`socket`) "
			    "are not supported by ember; give path_on_host.");
	if (!v[5])
		return errorf(err, errlen, "Drive config error: path_on_host is required.");
	if (get_str(v[5], "path_on_host", d.path, sizeof(d.path), err, errlen) < 0)
		return -1;
	if (check_limiter(v[6], "rate_limiter", err, errlen) < 0)
		return -1;
	at = find_drive(c, d.id);
	for (int i = 0; i < c->vm.ndrives; i++)
		if (d.root && c->vm.drives[i].root && i != at)
			return errorf(err, errlen, "Drive config error: A root block device already "
				    "exists!");
	if (at < 0 && c->vm.ndrives == MAX_DRIVES)
		return errorf(err, errlen, "Drive config error: ember supports at most %d drives.",
			    MAX_DRIVES);
	if (can_open(d.path, d.read_only ? O_RDONLY : O_RDWR, true, why, sizeof(why)) < 0)
		return errorf(err, errlen, "Drive config error: Unable to create the virtio block "
			    "device: %s", why);
	if (at < 0)
		at = c->vm.ndrives++;
	c->vm.drives[at] = d;
	strcpy(c->partuuid[at], partuuid);
	c->writeback[at] = wb;
	return 0;
}

int config_patch_drive(const struct ember_config *c, const cJSON *j, const char *path_id,
		       const char **path, char *err, size_t errlen)
{
	static const struct field f[] = {
		{ "drive_id", F_STR, F_REQ },
		{ "path_on_host", F_STR, F_NULL },
		{ "rate_limiter", F_OBJ, F_NULL },
	};
	const cJSON *v[3];

	if (check_fields(j, "PartialDrive", f, 3, v, err, errlen) < 0)
		return -1;
	if (check_id(v[0]->valuestring, "drive_id", err, errlen) < 0)
		return -1;
	if (path_id && strcmp(path_id, v[0]->valuestring))
		return errorf(err, errlen, "The id from the path does not match the id from the body!");
	if (find_drive(c, v[0]->valuestring) < 0)
		return errorf(err, errlen, "Drive config error: Unable to patch the block device: "
			    "no drive with drive_id \"%s\". Please verify the request arguments.",
			    v[0]->valuestring);
	if (check_limiter(v[2], "rate_limiter", err, errlen) < 0)
		return -1;
	*path = NULL;
	if (v[1]) {
		if (!v[1]->valuestring[0])
			return errorf(err, errlen, "`path_on_host` is empty.");
		if (has_ctl(v[1]->valuestring))
			return errorf(err, errlen, "`path_on_host` contains a control character.");
		if (strlen(v[1]->valuestring) >= sizeof(c->vm.drives[0].path))
			return errorf(err, errlen, "`path_on_host` is longer than %zu bytes.",
				    sizeof(c->vm.drives[0].path) - 1);
		*path = v[1]->valuestring;
	}
	return 0;
}

/* ---- PUT /network-interfaces/{id} --------------------------------------- */

static void mac_str(const uint8_t mac[6], char buf[18])
{
	snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3],
		 mac[4], mac[5]);
}

static int find_net(const struct ember_config *c, const char *id)
{
	for (int i = 0; i < c->vm.nnets; i++)
		if (!strcmp(c->iface_id[i], id))
			return i;
	return -1;
}

int config_put_net(struct ember_config *c, const cJSON *j, const char *path_id,
		   char *err, size_t errlen)
{
	static const struct field f[] = {
		{ "iface_id", F_STR, F_REQ },
		{ "host_dev_name", F_STR, F_REQ },
		{ "guest_mac", F_STR, F_NULL },
		{ "mtu", F_UINT, F_NULL },
		{ "rx_rate_limiter", F_OBJ, F_NULL },
		{ "tx_rate_limiter", F_OBJ, F_NULL },
	};
	const cJSON *v[6];
	struct net_spec n = { 0 };
	const char *id, *tap;
	char m[18], why[160];
	int at;

	if (check_fields(j, "NetworkInterface", f, 6, v, err, errlen) < 0)
		return -1;
	id = v[0]->valuestring;
	tap = v[1]->valuestring;
	if (check_id(id, "iface_id", err, errlen) < 0)
		return -1;
	if (path_id && strcmp(path_id, id))
		return errorf(err, errlen, "The id from the path [%s] does not match the id from the "
			    "body [%s]!", path_id, id);
	if (field_tap_name(tap, strlen(tap), why, sizeof(why)) < 0)
		return errorf(err, errlen, "Network config error: Cannot open/create the tap device: "
			      "%s.", why);
	strcpy(n.tap, tap);
	if (v[2]) {
		if (field_mac(v[2]->valuestring, strlen(v[2]->valuestring), n.mac, why,
			      sizeof(why)) < 0)
			return errorf(err, errlen, SERDE "guest_mac: %s.", why);
		n.has_mac = true;
	}
	if (v[3])
		return errorf(err, errlen, "Network config error: mtu is not supported by ember.");
	if (check_limiter(v[4], "rx_rate_limiter", err, errlen) < 0 ||
	    check_limiter(v[5], "tx_rate_limiter", err, errlen) < 0)
		return -1;
	at = find_net(c, id);
	for (int i = 0; i < c->vm.nnets; i++) {
		if (i == at)
			continue;
		if (!strcmp(c->vm.nets[i].tap, n.tap))
			return errorf(err, errlen, "Network config error: The host device %s is already "
				    "used by interface %s.", n.tap, c->iface_id[i]);
		if (n.has_mac && c->vm.nets[i].has_mac && !memcmp(c->vm.nets[i].mac, n.mac, 6)) {
			mac_str(n.mac, m);
			return errorf(err, errlen, "Network config error: The MAC address is already "
				    "in use: %s", m);
		}
	}
	if (at < 0 && c->vm.nnets == MAX_NETS)
		return errorf(err, errlen, "Network config error: ember supports at most %d network "
			    "interfaces.", MAX_NETS);
	if (at < 0)
		at = c->vm.nnets++;
	c->vm.nets[at] = n;
	strcpy(c->iface_id[at], id);
	return 0;
}

int config_patch_net(const struct ember_config *c, const cJSON *j, const char *path_id,
		     char *err, size_t errlen)
{
	static const struct field f[] = {
		{ "iface_id", F_STR, F_REQ },
		{ "rx_rate_limiter", F_OBJ, F_NULL },
		{ "tx_rate_limiter", F_OBJ, F_NULL },
	};
	const cJSON *v[3];

	if (check_fields(j, "PartialNetworkInterface", f, 3, v, err, errlen) < 0)
		return -1;
	if (check_id(v[0]->valuestring, "iface_id", err, errlen) < 0)
		return -1;
	if (path_id && strcmp(path_id, v[0]->valuestring))
		return errorf(err, errlen, "The id from the path [%s] does not match the id from the "
			    "body [%s]!", path_id, v[0]->valuestring);
	if (find_net(c, v[0]->valuestring) < 0)
		return errorf(err, errlen, "Network config error: Unable to update the net device: "
			    "no network interface with iface_id \"%s\".", v[0]->valuestring);
	if (check_limiter(v[1], "rx_rate_limiter", err, errlen) < 0 ||
	    check_limiter(v[2], "tx_rate_limiter", err, errlen) < 0)
		return -1;
	return 0;
}

/* ---- PUT /logger, /metrics, /serial -------------------------------------- */

static const char *const levels[][2] = {
	{ "off", "Off" }, { "trace", "Trace" }, { "debug", "Debug" }, { "info", "Info" },
	{ "warn", "Warning" }, { "warning", "Warning" }, { "error", "Error" },
};

int config_put_logger(struct ember_config *c, const cJSON *j, char *err, size_t errlen)
{
	static const struct field f[] = {
		{ "log_path", F_STR, F_NULL },
		{ "level", F_STR, F_NULL },
		{ "show_level", F_BOOL, F_NULL },
		{ "show_log_origin", F_BOOL, F_NULL },
		{ "module", F_STR, F_NULL },
	};
	const cJSON *v[5];
	typeof(c->logger) l = c->logger;  /* Firecracker: absent fields keep their value */

	if (check_fields(j, "Logger", f, 5, v, err, errlen) < 0)
		return -1;
	l.set = true;
	if (v[0] && get_str(v[0], "log_path", l.path, sizeof(l.path), err, errlen) < 0)
		return -1;
	if (v[1]) {
		size_t i;

		for (i = 0; i < ARRAY_SIZE(levels) && strcasecmp(levels[i][0], v[1]->valuestring);
		     i++)
			;
		if (i == ARRAY_SIZE(levels))
			return errorf(err, errlen, SERDE "Invalid LevelFilter \"%.32s\" for `level` "
				    "(Off, Trace, Debug, Info, Warning, Error).", v[1]->valuestring);
		strcpy(l.level, levels[i][1]);
	}
	if (v[2])
		l.show_level = cJSON_IsTrue(v[2]);
	if (v[3])
		l.show_origin = cJSON_IsTrue(v[3]);
	if (v[4] && v[4]->valuestring[0] &&
	    get_str(v[4], "module", l.module, sizeof(l.module), err, errlen) < 0)
		return -1;
	if (v[4] && !v[4]->valuestring[0])
		l.module[0] = '\0';
	c->logger = l;
	return 0;
}

int config_put_metrics(struct ember_config *c, const cJSON *j, char *err, size_t errlen)
{
	static const struct field f[] = {
		{ "metrics_path", F_STR, F_REQ },
		{ "emit_id", F_BOOL, F_NULL },
		{ "properties", F_OBJ, F_NULL },
	};
	const cJSON *v[3];
	typeof(c->metrics) m = { .set = true };

	if (check_fields(j, "Metrics", f, 3, v, err, errlen) < 0)
		return -1;
	if (get_str(v[0], "metrics_path", m.path, sizeof(m.path), err, errlen) < 0)
		return -1;
	if ((v[1] && cJSON_IsTrue(v[1])) || (v[2] && v[2]->child))
		return errorf(err, errlen, "Metrics error: emit_id and properties are not supported "
			    "by ember.");
	c->metrics = m;
	return 0;
}

int config_put_serial(struct ember_config *c, const cJSON *j, char *err, size_t errlen)
{
	static const struct field f[] = {
		{ "serial_out_path", F_STR, F_NULL },
		{ "rate_limiter", F_OBJ, F_NULL },
	};
	const cJSON *v[2];
	typeof(c->serial) s = { .set = true };

	if (check_fields(j, "SerialDevice", f, 2, v, err, errlen) < 0)
		return -1;
	if (v[0] && get_str(v[0], "serial_out_path", s.path, sizeof(s.path), err, errlen) < 0)
		return -1;
	if (v[1] && check_bucket(v[1], "rate_limiter", err, errlen) < 0)
		return -1;
	c->serial = s;
	return 0;
}

/* ---- PUT /actions, PATCH /vm --------------------------------------------- */

int config_parse_action(const cJSON *j, enum config_action *a, char *err, size_t errlen)
{
	static const struct field f[] = { { "action_type", F_STR, F_REQ } };
	static const char *const names[] = {
		[ACTION_INSTANCE_START] = "InstanceStart",
		[ACTION_CTRL_ALT_DEL] = "SendCtrlAltDel",
		[ACTION_FLUSH_METRICS] = "FlushMetrics",
	};
	const cJSON *v[1];

	if (check_fields(j, "InstanceActionInfo", f, 1, v, err, errlen) < 0)
		return -1;
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (!strcmp(v[0]->valuestring, names[i])) {
			*a = i;
			return 0;
		}
	return errorf(err, errlen, SERDE "unknown variant `%.32s`, expected one of `FlushMetrics`, "
		    "`InstanceStart`, `SendCtrlAltDel`.", v[0]->valuestring);
}

int config_parse_vm_state(const cJSON *j, bool *pause, char *err, size_t errlen)
{
	static const struct field f[] = { { "state", F_STR, F_REQ } };
	const cJSON *v[1];

	if (check_fields(j, "Vm", f, 1, v, err, errlen) < 0)
		return -1;
	if (!strcmp(v[0]->valuestring, "Paused"))
		*pause = true;
	else if (!strcmp(v[0]->valuestring, "Resumed"))
		*pause = false;
	else
		return errorf(err, errlen, SERDE "unknown variant `%.32s`, expected `Paused` or "
			    "`Resumed`.", v[0]->valuestring);
	return 0;
}

/* ---- the whole document: --config-file ------------------------------------ */

/* Firecracker's keys for what ember does not have: accepted when null or empty. */
static const char *const absent_keys[] = {
	"balloon", "cpu-config", "mmds-config", "vsock", "entropy", "pmem", "memory-hotplug",
};

static int parse_doc(struct ember_config *c, const cJSON *j, char *err, size_t errlen)
{
	static const struct field f[] = {
		{ "boot-source", F_OBJ, F_REQ },
		{ "machine-config", F_OBJ, F_NULL },
		{ "drives", F_ARR, F_REQ },
		{ "network-interfaces", F_ARR, F_NULL },
		{ "logger", F_OBJ, F_NULL },
		{ "metrics", F_OBJ, F_NULL },
	};
	struct field all[ARRAY_SIZE(f) + ARRAY_SIZE(absent_keys)];
	const cJSON *v[ARRAY_SIZE(all)], *item;

	memcpy(all, f, sizeof(f));
	for (size_t i = 0; i < ARRAY_SIZE(absent_keys); i++)
		all[ARRAY_SIZE(f) + i] = (struct field){ absent_keys[i], F_OBJ, F_NULL };
	/* the absent keys: any type here, refused below unless null or empty */
	if (!cJSON_IsObject(j))
		return check_fields(j, "VmmConfig", all, ARRAY_SIZE(all), v, err, errlen);
	cJSON_ArrayForEach(item, j) {
		for (size_t i = 0; i < ARRAY_SIZE(absent_keys); i++) {
			if (strcmp(item->string, absent_keys[i]))
				continue;
			if (!cJSON_IsNull(item) && !((cJSON_IsArray(item) || cJSON_IsObject(item)) &&
						     !item->child))
				return errorf(err, errlen, "\"%s\" is not supported by ember (only "
					    "null).", absent_keys[i]);
			all[ARRAY_SIZE(f) + i].type = cJSON_IsArray(item) ? F_ARR : F_OBJ;
		}
	}
	if (check_fields(j, "VmmConfig", all, ARRAY_SIZE(all), v, err, errlen) < 0)
		return -1;
	if (config_put_boot_source(c, v[0], err, errlen) < 0)
		return -1;
	if (v[1] && config_machine(c, v[1], false, err, errlen) < 0)
		return -1;
	cJSON_ArrayForEach(item, v[2]) {
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(item, "drive_id");

		if (cJSON_IsString(id) && find_drive(c, id->valuestring) >= 0)
			return errorf(err, errlen, "drives: drive_id \"%s\" appears twice.",
				    id->valuestring);
		if (config_put_drive(c, item, NULL, err, errlen) < 0)
			return -1;
	}
	if (v[3])
		cJSON_ArrayForEach(item, v[3]) {
			const cJSON *id = cJSON_GetObjectItemCaseSensitive(item, "iface_id");

			if (cJSON_IsString(id) && find_net(c, id->valuestring) >= 0)
				return errorf(err, errlen, "network-interfaces: iface_id \"%s\" appears "
					    "twice.", id->valuestring);
			if (config_put_net(c, item, NULL, err, errlen) < 0)
				return -1;
		}
	if (v[4] && config_put_logger(c, v[4], err, errlen) < 0)
		return -1;
	if (v[5] && config_put_metrics(c, v[5], err, errlen) < 0)
		return -1;
	return 0;
}

int config_parse_file(struct ember_config *out, const char *text, size_t len,
		      char *err, size_t errlen)
{
	static struct ember_config c;   /* big: not on the stack */
	cJSON *j;
	int r;

	ember_config_init(&c);
	j = config_parse_json(text, len, err, errlen);
	if (!j)
		r = -1;
	else
		r = parse_doc(&c, j, err, errlen);
	cJSON_Delete(j);
	/* Not an HTTP request: drop the API's wording. */
	if (r < 0 && !strncmp(err, SERDE, strlen(SERDE)))
		memmove(err, err + strlen(SERDE), strlen(err + strlen(SERDE)) + 1);
	if (r == 0)
		*out = c;
	return r;
}

/* ---- JSON out -------------------------------------------------------------- */

static bool add_str_or_null(cJSON *o, const char *name, const char *s)
{
	return (s && s[0] ? cJSON_AddStringToObject(o, name, s) :
		cJSON_AddNullToObject(o, name)) != NULL;
}

static cJSON *machine_obj(const struct ember_config *c)
{
	cJSON *m = cJSON_CreateObject();
	bool ok = m != NULL;

	ok = ok && cJSON_AddNumberToObject(m, "vcpu_count", c->vm.vcpus);
	ok = ok && cJSON_AddNumberToObject(m, "mem_size_mib", (double)c->vm.mem_mib);
	ok = ok && cJSON_AddFalseToObject(m, "smt");
	ok = ok && cJSON_AddBoolToObject(m, "track_dirty_pages", c->track_dirty_pages);
	ok = ok && cJSON_AddStringToObject(m, "huge_pages", "None");
	if (!ok) {
		cJSON_Delete(m);
		return NULL;
	}
	return m;
}

static char *print(cJSON *j, bool ok)
{
	char *s = ok && j ? cJSON_PrintUnformatted(j) : NULL;

	cJSON_Delete(j);
	return s;
}

char *config_machine_json(const struct ember_config *c)
{
	return print(machine_obj(c), true);
}

static bool add_drive(cJSON *arr, const struct ember_config *c, int i)
{
	const struct drive_spec *d = &c->vm.drives[i];
	cJSON *o = cJSON_CreateObject();
	bool ok = o && cJSON_AddItemToArray(arr, o);

	if (!ok) {
		cJSON_Delete(o);
		return false;
	}
	ok = ok && cJSON_AddStringToObject(o, "drive_id", d->id);
	ok = ok && add_str_or_null(o, "partuuid", c->partuuid[i]);
	ok = ok && cJSON_AddBoolToObject(o, "is_root_device", d->root);
	ok = ok && cJSON_AddStringToObject(o, "cache_type", c->writeback[i] ? "Writeback" : "Unsafe");
	ok = ok && cJSON_AddBoolToObject(o, "is_read_only", d->read_only);
	ok = ok && cJSON_AddStringToObject(o, "path_on_host", d->path);
	ok = ok && cJSON_AddNullToObject(o, "rate_limiter");
	ok = ok && cJSON_AddStringToObject(o, "io_engine", "Sync");
	ok = ok && cJSON_AddNullToObject(o, "socket");
	return ok;
}

static bool add_net(cJSON *arr, const struct ember_config *c, int i)
{
	const struct net_spec *n = &c->vm.nets[i];
	cJSON *o = cJSON_CreateObject();
	bool ok = o && cJSON_AddItemToArray(arr, o);
	char mac[18] = "";

	if (!ok) {
		cJSON_Delete(o);
		return false;
	}
	if (n->has_mac)
		mac_str(n->mac, mac);
	ok = ok && cJSON_AddStringToObject(o, "iface_id", c->iface_id[i]);
	ok = ok && cJSON_AddStringToObject(o, "host_dev_name", n->tap);
	ok = ok && add_str_or_null(o, "guest_mac", mac);
	ok = ok && cJSON_AddNullToObject(o, "rx_rate_limiter");
	ok = ok && cJSON_AddNullToObject(o, "tx_rate_limiter");
	return ok;
}

char *config_vm_json(const struct ember_config *c)
{
	cJSON *j = cJSON_CreateObject(), *o, *arr;
	bool ok = j != NULL;

	ok = ok && cJSON_AddNullToObject(j, "balloon");
	ok = ok && (arr = cJSON_AddArrayToObject(j, "drives"));
	for (int i = 0; ok && i < c->vm.ndrives; i++)
		ok = add_drive(arr, c, i);
	ok = ok && (o = cJSON_AddObjectToObject(j, "boot-source"));
	ok = ok && cJSON_AddStringToObject(o, "kernel_image_path", c->vm.kernel);
	ok = ok && add_str_or_null(o, "initrd_path", c->vm.initrd);
	ok = ok && (c->vm.cmdline_replaces ? cJSON_AddStringToObject(o, "boot_args", c->vm.cmdline)
		    : cJSON_AddNullToObject(o, "boot_args"));
	ok = ok && cJSON_AddNullToObject(j, "cpu-config");
	if (ok && c->logger.set) {
		ok = (o = cJSON_AddObjectToObject(j, "logger"));
		ok = ok && add_str_or_null(o, "log_path", c->logger.path);
		ok = ok && add_str_or_null(o, "level", c->logger.level);
		ok = ok && cJSON_AddBoolToObject(o, "show_level", c->logger.show_level);
		ok = ok && cJSON_AddBoolToObject(o, "show_log_origin", c->logger.show_origin);
		ok = ok && add_str_or_null(o, "module", c->logger.module);
	} else {
		ok = ok && cJSON_AddNullToObject(j, "logger");
	}
	ok = ok && (o = machine_obj(c)) && cJSON_AddItemToObject(j, "machine-config", o);
	if (ok && c->metrics.set) {
		ok = (o = cJSON_AddObjectToObject(j, "metrics"));
		ok = ok && cJSON_AddStringToObject(o, "metrics_path", c->metrics.path);
	} else {
		ok = ok && cJSON_AddNullToObject(j, "metrics");
	}
	ok = ok && cJSON_AddNullToObject(j, "mmds-config");
	ok = ok && (arr = cJSON_AddArrayToObject(j, "network-interfaces"));
	for (int i = 0; ok && i < c->vm.nnets; i++)
		ok = add_net(arr, c, i);
	ok = ok && cJSON_AddNullToObject(j, "vsock");
	ok = ok && cJSON_AddNullToObject(j, "entropy");
	return print(j, ok);
}

/* ---- to boot ---------------------------------------------------------------- */

int config_to_vm(const struct ember_config *c, struct vm_config *out, char *err, size_t errlen)
{
	*out = c->vm;
	for (int i = 0; i < out->nnets; i++)
		snprintf(out->nets[i].id, sizeof(out->nets[i].id), "%s", c->iface_id[i]);
	for (int i = 0; i < out->ndrives; i++) {
		struct drive_spec *d = &out->drives[i];
		size_t used = strlen(out->cmdline);
		int n;

		if (!d->root || !c->partuuid[i][0])
			continue;
		d->root = false;
		n = snprintf(out->cmdline + used, sizeof(out->cmdline) - used, "%sroot=PARTUUID=%s %s",
			     used ? " " : "", c->partuuid[i], d->read_only ? "ro" : "rw");
		if (n < 0 || (size_t)n >= sizeof(out->cmdline) - used)
			return errorf(err, errlen, "Start microvm error: the kernel command line is too "
				    "long for root=PARTUUID=%s.", c->partuuid[i]);
	}
	return 0;
}
