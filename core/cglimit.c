/* SPDX-License-Identifier: Apache-2.0 */
#include "core/cglimit.h"

#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Whether word is one of the comma-separated items of list[0..len). */
static bool in_list(const char *list, size_t len, const char *word)
{
	size_t n = strlen(word);

	while (len > 0) {
		size_t item = strcspn(list, ",");

		if (item > len)
			item = len;
		if (item == n && !strncmp(list, word, n))
			return true;
		if (item == len)
			break;
		list += item + 1;
		len -= item + 1;
	}
	return false;
}

/* Undoes mountinfo's octal escapes (\040 for a space) in place. */
static void unescape(char *s)
{
	char *d = s;

	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*d++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 4;
		} else {
			*d++ = *s++;
		}
	}
	*d = 0;
}

int cg_mountinfo_match(char *line, const char *controller, char *mnt, size_t mnt_len,
		       char *root, size_t root_len)
{
	/* id parent maj:min root mountpoint opts [optional...] - fstype source superopts */
	char *sep = strstr(line, " - "), *fields[5], *save = NULL, *tok, *t;
	int n = 0;

	if (!sep)
		return -1;
	*sep = 0;
	t = sep + 3;
	if (controller) {
		char *fstype = strtok_r(t, " \n", &save), *opts;

		if (!fstype || strcmp(fstype, "cgroup") || !strtok_r(NULL, " \n", &save) ||
		    !(opts = strtok_r(NULL, " \n", &save)) ||
		    !in_list(opts, strlen(opts), controller))
			return -1;
	} else if (strncmp(t, "cgroup2 ", 8)) {
		return -1;
	}
	save = NULL;
	for (tok = strtok_r(line, " ", &save); tok && n < 5; tok = strtok_r(NULL, " ", &save))
		fields[n++] = tok;
	if (n < 5)
		return -1;
	unescape(fields[3]);
	unescape(fields[4]);
	if (strlen(fields[4]) >= mnt_len || strlen(fields[3]) >= root_len)
		return -1;
	strcpy(mnt, fields[4]);
	strcpy(root, fields[3]);
	return 0;
}

int cg_find_mount(const char *controller, char *mnt, size_t mnt_len, char *root,
		  size_t root_len)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[8192];
	int ret = -1;

	if (!f)
		return -1;
	while (ret < 0 && fgets(line, sizeof(line), f))
		ret = cg_mountinfo_match(line, controller, mnt, mnt_len, root, root_len);
	fclose(f);
	return ret;
}

int cg_proc_match(const char *line, const char *controller, char *path, size_t len)
{
	const char *list = strchr(line, ':'), *p;
	size_t n;

	if (!list++ || !(p = strchr(list, ':')))
		return -1;
	if (controller ? !in_list(list, (size_t)(p - list), controller) :
			 strncmp(line, "0::", 3) != 0)
		return -1;
	p++;
	n = strcspn(p, "\n");
	if (n >= len)
		return -1;
	memcpy(path, p, n);
	path[n] = 0;
	return 0;
}

const char *cg_rel_path(const char *path, const char *root)
{
	size_t n = strlen(root);

	while (n > 0 && root[n - 1] == '/')
		n--;
	if (strncmp(path, root, n) || (path[n] && path[n] != '/'))
		return NULL;
	path += n;
	while (*path == '/')
		path++;
	return path;
}

int cg_parse_limit(const char *text, uint64_t *bytes)
{
	uint64_t v = 0;
	const char *p = text;

	if (!strcmp(text, "max") || !strcmp(text, "max\n")) {
		*bytes = CG_NO_LIMIT;
		return 0;
	}
	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (*p && strcmp(p, "\n"))
		return -1;
	/* v1 says "no limit" with its largest page count in bytes (~2^63). */
	*bytes = v >= 1ULL << 62 ? CG_NO_LIMIT : v;
	return 0;
}

/* The limit in the file PATH, CG_NO_LIMIT if it cannot be read. */
static uint64_t read_limit(const char *path)
{
	char buf[64];
	uint64_t v;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return CG_NO_LIMIT;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return CG_NO_LIMIT;
	buf[n] = 0;
	return cg_parse_limit(buf, &v) == 0 ? v : CG_NO_LIMIT;
}

uint64_t cg_memory_limit(const char **file)
{
	char mnt[PATH_MAX], root[PATH_MAX], path[PATH_MAX], line[PATH_MAX + 64];
	char dir[PATH_MAX * 2 + 32];
	const char *ctrl = "memory", *rel = NULL;
	uint64_t limit = CG_NO_LIMIT, v;
	size_t base;
	FILE *f;

	/* On a hybrid host the memory controller is v1's even if v2 is mounted. */
	if (cg_find_mount(ctrl, mnt, sizeof(mnt), root, sizeof(root)) < 0) {
		ctrl = NULL;
		if (cg_find_mount(NULL, mnt, sizeof(mnt), root, sizeof(root)) < 0)
			return CG_NO_LIMIT;
	}
	*file = ctrl ? "memory.limit_in_bytes" : "memory.max";
	f = fopen("/proc/self/cgroup", "re");
	if (!f)
		return CG_NO_LIMIT;
	while (!rel && fgets(line, sizeof(line), f))
		if (cg_proc_match(line, ctrl, path, sizeof(path)) == 0)
			rel = cg_rel_path(path, root);
	fclose(f);
	if (!rel)
		return CG_NO_LIMIT;

	/* The cgroup, then each ancestor up to the mount's root. */
	base = (size_t)snprintf(dir, sizeof(dir), "%s/", mnt);
	snprintf(dir + base, sizeof(dir) - base, "%s", rel);
	for (;;) {
		char *slash = strrchr(dir + base, '/');
		size_t len = strlen(dir);
		char p[sizeof(dir) + 32];

		snprintf(p, sizeof(p), "%s%s%s", dir, len > base ? "/" : "", *file);
		v = read_limit(p);
		if (v < limit)
			limit = v;
		if (len == base)
			break;
		if (slash)
			*slash = 0;
		else
			dir[base] = 0;
	}
	return limit;
}
