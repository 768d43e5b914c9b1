/* SPDX-License-Identifier: Apache-2.0 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* strchrnul */
#endif
#include "api-socket/vm_config.h"
#include "core/ember.h"

#include <ctype.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>

void vm_config_init(struct vm_config *c)
{
	memset(c, 0, sizeof(*c));
	c->mem_mib = DEFAULT_MEM_MIB;
	c->vcpus = DEFAULT_VCPUS;
}

/* At most 40 bytes of a value, for quoting it in a reason. */
#define SHOW(len) ((int)((len) > 40 ? 40 : (len)))

int field_id(const char *id, size_t len, const char *what, char *err, size_t errlen)
{
	if (len == 0)
		return errorf(err, errlen, "the %s cannot be empty", what);
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)id[i]) && id[i] != '_')
			return errorf(err, errlen, "invalid %s \"%.*s\": 1 to %d letters, digits "
				      "and underscores", what, SHOW(len), id, FIELD_ID_MAX);
	if (len > FIELD_ID_MAX)
		return errorf(err, errlen, "invalid %s \"%.*s...\": longer than %d characters",
			      what, SHOW(len), id, FIELD_ID_MAX);
	return 0;
}

int field_vcpus(uint64_t n, bool smt, char *err, size_t errlen)
{
	if (n < 1 || n > GUEST_VCPUS_MAX || (smt && n > 1 && n % 2))
		return errorf(err, errlen, "The number of vCPUs must be greater than 0, less than %d "
			      "and must be 1 or an even number if SMT is enabled.",
			      GUEST_VCPUS_MAX + 1);
	return 0;
}

int field_mem_mib(uint64_t mib, char *err, size_t errlen)
{
	if (mib == 0)
		return errorf(err, errlen, "The memory size (MiB) is either 0, or not a multiple of "
			      "the configured page size.");
	if (mib < GUEST_MEM_MIN_MIB || mib > GUEST_MEM_MAX_MIB)
		return errorf(err, errlen, "ember needs a memory size from %llu to %llu MiB (got "
			      "%llu).", GUEST_MEM_MIN_MIB, GUEST_MEM_MAX_MIB,
			      (unsigned long long)mib);
	return 0;
}

static const char *const page_names[] = {
	[GM_PAGES_NORMAL] = "None", [GM_PAGES_THP] = "Transparent", [GM_PAGES_HUGETLB_2M] = "2M",
};

int field_huge_pages(const char *name, uint64_t mib, enum gm_pages *pages, char *err,
		     size_t errlen)
{
	for (size_t i = 0; i < ARRAY_SIZE(page_names); i++) {
		if (strcmp(name, page_names[i]))
			continue;
		if (i == GM_PAGES_HUGETLB_2M && mib % 2)
			return errorf(err, errlen, "The memory size (MiB) is either 0, or not a "
				      "multiple of the configured page size.");
		*pages = (enum gm_pages)i;
		return 0;
	}
	return errorf(err, errlen, "huge_pages \"%.32s\" is not None, Transparent or 2M", name);
}

const char *field_huge_pages_name(enum gm_pages pages)
{
	return (unsigned)pages < ARRAY_SIZE(page_names) ? page_names[pages] : "None";
}

int field_tap_name(const char *name, size_t len, char *err, size_t errlen)
{
	if (len == 0)
		return errorf(err, errlen, "the TAP name cannot be empty");
	if (len >= IFNAMSIZ)
		return errorf(err, errlen, "TAP name \"%.*s\" is longer than %d characters",
			      SHOW(len), name, IFNAMSIZ - 1);
	if ((len == 1 && name[0] == '.') || (len == 2 && !memcmp(name, "..", 2)))
		return errorf(err, errlen, "\"%.*s\" is not a TAP name", (int)len, name);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = name[i];

		/* '%' would make the kernel pick a new name ("tap%d"), not open ours. */
		if (!isgraph(c) || strchr("/:%,=", c))
			return errorf(err, errlen, "TAP name \"%.*s\" has an invalid character "
				      "(printable, no '/', ':', '%%', ',' or '=')", (int)len, name);
	}
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int field_mac(const char *s, size_t len, uint8_t mac[6], char *err, size_t errlen)
{
	static const uint8_t zero[6];

	for (int i = 0; len == 17 && i < 6; i++) {
		int hi = hexval(s[3 * i]), lo = hexval(s[3 * i + 1]);

		if (hi < 0 || lo < 0 || (i < 5 && s[3 * i + 2] != ':'))
			break;
		mac[i] = (uint8_t)(hi << 4 | lo);
		if (i < 5)
			continue;
		if (mac[0] & 1)
			return errorf(err, errlen, "MAC %.17s is a multicast address", s);
		if (!memcmp(mac, zero, 6))
			return errorf(err, errlen, "MAC %.17s is all zeroes", s);
		return 0;
	}
	return errorf(err, errlen, "invalid MAC \"%.*s\": expected XX:XX:XX:XX:XX:XX in "
		      "hexadecimal", SHOW(len), s);
}

int field_drive_spec(const char *arg, int n, struct drive_spec *s, char *err, size_t errlen)
{
	static const char usage[] = "expected path=FILE[,id=ID][,ro][,root]";
	const char *p = arg;

	memset(s, 0, sizeof(*s));
	snprintf(s->id, sizeof(s->id), "drive%d", n);
	for (const char *c = arg; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return errorf(err, errlen, "control character in the argument");
	for (;;) {
		const char *end = strchrnul(p, ',');
		const char *eq = memchr(p, '=', end - p);
		size_t klen = (eq ? eq : end) - p, vlen = eq ? (size_t)(end - eq - 1) : 0;

		if (end == p) {
			/* an empty item (",,") */
		} else if (klen == 4 && !memcmp(p, "path", 4) && eq && vlen) {
			if (vlen >= sizeof(s->path))
				return errorf(err, errlen, "path= is longer than %zu bytes",
					      sizeof(s->path) - 1);
			memcpy(s->path, eq + 1, vlen);
			s->path[vlen] = '\0';
		} else if (klen == 2 && !memcmp(p, "id", 2) && eq) {
			if (field_id(eq + 1, vlen, "drive id", err, errlen) < 0)
				return -1;
			memcpy(s->id, eq + 1, vlen);
			s->id[vlen] = '\0';
		} else if (klen == 2 && !memcmp(p, "ro", 2) && !eq) {
			s->read_only = true;
		} else if (klen == 4 && !memcmp(p, "root", 4) && !eq) {
			s->root = true;
		} else {
			return errorf(err, errlen, "bad item '%.*s' (%s)", SHOW(end - p), p, usage);
		}
		if (!*end)
			break;
		p = end + 1;
	}
	if (!s->path[0])
		return errorf(err, errlen, "path=FILE is required (%s)", usage);
	return 0;
}

int field_net_spec(const char *arg, struct net_spec *n, char *err, size_t errlen)
{
	static const char usage[] = "expected tap=NAME[,mac=XX:XX:XX:XX:XX:XX]";
	const char *p = arg;
	bool has_tap = false;

	memset(n, 0, sizeof(*n));
	for (;;) {
		const char *end = strchrnul(p, ',');
		const char *eq = memchr(p, '=', end - p);
		size_t klen = (eq ? eq : end) - p, vlen = eq ? (size_t)(end - eq - 1) : 0;

		if (!eq)
			return errorf(err, errlen, "'%.*s' is not KEY=VALUE (%s)", SHOW(end - p), p,
				      usage);
		if (klen == 3 && !memcmp(p, "tap", 3)) {
			if (has_tap)
				return errorf(err, errlen, "tap= given twice");
			if (field_tap_name(eq + 1, vlen, err, errlen) < 0)
				return -1;
			memcpy(n->tap, eq + 1, vlen);
			n->tap[vlen] = '\0';
			has_tap = true;
		} else if (klen == 3 && !memcmp(p, "mac", 3)) {
			if (n->has_mac)
				return errorf(err, errlen, "mac= given twice");
			if (field_mac(eq + 1, vlen, n->mac, err, errlen) < 0)
				return -1;
			n->has_mac = true;
		} else {
			return errorf(err, errlen, "unknown key '%.*s' (%s)", SHOW(klen), p, usage);
		}
		if (!*end)
			break;
		p = end + 1;
	}
	if (!has_tap)
		return errorf(err, errlen, "no tap=NAME (%s)", usage);
	return 0;
}
