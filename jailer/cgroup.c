// SPDX-License-Identifier: Apache-2.0
/*
 * cgroup v2: <cgroup2 mount>/<parent-cgroup>/<id>, controllers enabled in
 * cgroup.subtree_control from the mount's root down to <parent-cgroup>, each
 * --cgroup FILE=VALUE written, then the jailer joins it (its children and
 * the exec-ed binary stay in it). All access goes through an fd on the mount,
 * so cleanup still works after pivot_root.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jailer/jailer.h"

/* cgroup v2 interface files a jail may set, per controller. */
static const char *const known_keys[] = {
	"cgroup.max.descendants", "cgroup.max.depth",
	"memory.max", "memory.high", "memory.low", "memory.min", "memory.swap.max",
	"memory.swap.high", "memory.zswap.max", "memory.oom.group",
	"cpu.max", "cpu.max.burst", "cpu.weight", "cpu.weight.nice", "cpu.idle",
	"cpu.uclamp.min", "cpu.uclamp.max",
	"cpuset.cpus", "cpuset.mems", "cpuset.cpus.exclusive", "cpuset.cpus.partition",
	"pids.max",
	"io.max", "io.weight", "io.latency", "io.bfq.weight",
	"rdma.max", "misc.max",
};

/*
 * hugetlb.<N>{KB,MB,GB}.max and hugetlb.<N>{KB,MB,GB}.rsvd.max, for a huge
 * page size this kernel has (/sys/kernel/mm/hugepages/hugepages-<kB>kB).
 */
static bool hugetlb_key(const char *rest)
{
	const char *p = rest;
	unsigned long long n = 0, kb;
	char path[128];
	struct stat st;

	if (*p < '1' || *p > '9')
		return false;
	while (*p >= '0' && *p <= '9' && n < 1000000)
		n = n * 10 + (unsigned long long)(*p++ - '0');
	if (!strncmp(p, "KB", 2))
		kb = n;
	else if (!strncmp(p, "MB", 2))
		kb = n << 10;
	else if (!strncmp(p, "GB", 2))
		kb = n << 20;
	else
		return false;
	p += 2;
	if (strcmp(p, ".max") && strcmp(p, ".rsvd.max"))
		return false;
	snprintf(path, sizeof(path), "/sys/kernel/mm/hugepages/hugepages-%llukB", kb);
	return stat(path, &st) == 0;
}

static const char *const known_controllers[] = {
	"cgroup", "memory", "cpu", "cpuset", "pids", "io", "hugetlb", "rdma", "misc",
};

int jail_cgroup_key_check(const char *key, char *controller, size_t len, const char **why)
{
	static char msg[512];
	const char *dot = strchr(key, '.');
	bool known = false;
	size_t n, used;

	if (!dot || dot == key || !dot[1]) {
		*why = "not CONTROLLER.FILE (e.g. memory.max, cpu.max, pids.max)";
		return -1;
	}
	n = (size_t)(dot - key);
	for (size_t i = 0; i < sizeof(known_controllers) / sizeof(known_controllers[0]); i++)
		if (strlen(known_controllers[i]) == n && !strncmp(key, known_controllers[i], n))
			known = true;
	if (!known || n >= len) {
		*why = "unknown controller (known: cgroup, memory, cpu, cpuset, pids, io, "
		       "hugetlb, rdma, misc)";
		return -1;
	}
	memcpy(controller, key, n);
	controller[n] = 0;
	if (!strcmp(controller, "hugetlb") && hugetlb_key(dot + 1))
		return 0;
	for (size_t i = 0; i < sizeof(known_keys) / sizeof(known_keys[0]); i++)
		if (!strcmp(key, known_keys[i]))
			return 0;
	used = (size_t)snprintf(msg, sizeof(msg), "unknown file of controller %s (known:",
				controller);
	for (size_t i = 0; i < sizeof(known_keys) / sizeof(known_keys[0]); i++)
		if (!strncmp(known_keys[i], key, n + 1) && used < sizeof(msg))
			used += (size_t)snprintf(msg + used, sizeof(msg) - used, " %s",
						 known_keys[i]);
	if (!strcmp(controller, "hugetlb") && used < sizeof(msg))
		used += (size_t)snprintf(msg + used, sizeof(msg) - used,
					 " hugetlb.<size>.max hugetlb.<size>.rsvd.max, size one of"
					 " /sys/kernel/mm/hugepages/ as 2MB, 1GB...");
	if (used < sizeof(msg))
		snprintf(msg + used, sizeof(msg) - used, ")");
	*why = msg;
	return -1;
}

/* Writes S to the file PATH under the mount: 0 or -errno. */
static int write_at(int dirfd, const char *path, const char *s)
{
	int fd = openat(dirfd, path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	size_t len = strlen(s);
	ssize_t w;
	int err;

	if (fd < 0)
		return -errno;
	w = write(fd, s, len);
	err = errno;
	close(fd);
	if (w < 0)
		return -err;
	return (size_t)w == len ? 0 : -EIO;
}

/* Reads up to LEN-1 bytes of PATH under the mount: length or -errno. */
static ssize_t read_at(int dirfd, const char *path, char *buf, size_t len)
{
	int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	ssize_t n;
	int err;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	err = errno;
	close(fd);
	if (n < 0)
		return -err;
	buf[n] = 0;
	return n;
}

static bool word_in(const char *list, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = list; (p = strstr(p, word)); p += n)
		if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\n' || !p[n]))
			return true;
	return false;
}

/* "." for the root, else DIR; the file NAME in it. */
static void join_path(char *out, size_t len, const char *dir, const char *name)
{
	snprintf(out, len, "%s/%s", dir[0] ? dir : ".", name);
}

static void enable_controllers(const struct jail_cfg *cfg, struct jail_cgroup *cg,
			       const char *dir)
{
	char path[8400], buf[1024];

	join_path(path, sizeof(path), dir, "cgroup.subtree_control");
	for (int i = 0; i < cfg->n_cgroups; i++) {
		const char *ctrl = cfg->cgroups[i].controller;
		char cmd[40];
		ssize_t n;
		int err;

		if (!strcmp(ctrl, "cgroup"))
			continue;
		n = read_at(cg->mount_fd, path, buf, sizeof(buf));
		if (n < 0) {
			errno = (int)-n;
			jail_die_errno(JX_CGROUP, "cgroup", "reading %s/%s", cfg->cg_mount, path);
		}
		if (word_in(buf, ctrl))
			continue;
		snprintf(cmd, sizeof(cmd), "+%s", ctrl);
		err = write_at(cg->mount_fd, path, cmd);
		if (err) {
			errno = -err;
			jail_die_errno(JX_CGROUP, "cgroup", "enabling controller '%s' in %s/%s%s",
				       ctrl, cfg->cg_mount, path,
				       err == -EBUSY ? " (that cgroup has processes of its own)" : "");
		}
	}
}

/* Our own cgroup, relative to the mount (empty for its root). */
static void read_own_cgroup(const struct jail_cfg *cfg, struct jail_cgroup *cg)
{
	FILE *f = fopen("/proc/self/cgroup", "re");
	char line[4200];
	size_t rootlen = strlen(cfg->cg_mount_root);

	cg->orig_rel[0] = 0;
	if (!f)
		jail_die_errno(JX_CGROUP, "cgroup", "/proc/self/cgroup");
	while (fgets(line, sizeof(line), f)) {
		const char *p;

		if (strncmp(line, "0::", 3))
			continue;
		line[strcspn(line, "\n")] = 0;
		p = line + 3;
		if (rootlen > 1 && !strncmp(p, cfg->cg_mount_root, rootlen))
			p += rootlen;
		while (*p == '/')
			p++;
		if (strlen(p) >= sizeof(cg->orig_rel))
			jail_die(JX_CGROUP, "cgroup", "our own cgroup path is too long");
		memcpy(cg->orig_rel, p, strlen(p) + 1);
		break;
	}
	fclose(f);
}

/* Before anything is made: a live jail with this id is not to be disturbed. */
void jail_cgroup_check_busy(const struct jail_cfg *cfg)
{
	char path[8400], buf[64];
	ssize_t n;

	if (cfg->n_cgroups == 0)
		return;
	snprintf(path, sizeof(path), "%s/%s/%s/cgroup.procs", cfg->cg_mount, cfg->parent_cgroup,
		 cfg->id);
	n = read_at(AT_FDCWD, path, buf, sizeof(buf));
	if (n > 0)
		jail_die(JX_CGROUP, "cgroup", "%s has processes: is a jail with id %s running?",
			 path, cfg->id);
}

void jail_cgroup_setup(const struct jail_cfg *cfg, struct jail_cgroup *cg)
{
	char dir[8192], path[8400], buf[64];
	const char *p = cfg->parent_cgroup;
	struct stat st;
	ssize_t n;
	int err;

	if (cfg->n_cgroups == 0)
		return;
	cg->mount_fd = open(cfg->cg_mount, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (cg->mount_fd < 0)
		jail_die_errno(JX_CGROUP, "cgroup", "opening the cgroup2 mount %s", cfg->cg_mount);
	read_own_cgroup(cfg, cg);

	/* Root, then each component of --parent-cgroup: enable, then descend. */
	dir[0] = 0;
	enable_controllers(cfg, cg, dir);
	while (*p) {
		size_t len = strcspn(p, "/");

		snprintf(dir + strlen(dir), sizeof(dir) - strlen(dir), "%s%.*s",
			 dir[0] ? "/" : "", (int)len, p);
		if (mkdirat(cg->mount_fd, dir, 0755) < 0 && errno != EEXIST)
			jail_die_errno(JX_CGROUP, "cgroup", "mkdir %s/%s", cfg->cg_mount, dir);
		enable_controllers(cfg, cg, dir);
		p += len;
		while (*p == '/')
			p++;
	}

	snprintf(cg->rel, sizeof(cg->rel), "%s/%s", dir, cfg->id);
	if (mkdirat(cg->mount_fd, cg->rel, 0755) == 0) {
		cg->created = true;
	} else if (errno != EEXIST) {
		jail_die_errno(JX_CGROUP, "cgroup", "mkdir %s/%s", cfg->cg_mount, cg->rel);
	} else {
		/* Left by an earlier run: reuse it unless a process still uses it. */
		if (fstatat(cg->mount_fd, cg->rel, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISDIR(st.st_mode))
			jail_die(JX_CGROUP, "cgroup", "%s/%s exists and is not a cgroup",
				 cfg->cg_mount, cg->rel);
		join_path(path, sizeof(path), cg->rel, "cgroup.procs");
		n = read_at(cg->mount_fd, path, buf, sizeof(buf));
		if (n > 0)
			jail_die(JX_CGROUP, "cgroup",
				 "%s/%s already has processes: is a jail with id %s running?",
				 cfg->cg_mount, cg->rel, cfg->id);
	}

	for (int i = 0; i < cfg->n_cgroups; i++) {
		const struct jail_cgroup_kv *kv = &cfg->cgroups[i];

		join_path(path, sizeof(path), cg->rel, kv->key);
		err = write_at(cg->mount_fd, path, kv->value);
		if (err == -ENOENT)
			jail_die(JX_CGROUP, "cgroup", "%s/%s does not exist (controller '%s' not enabled "
				 "for this cgroup?)", cfg->cg_mount, path, kv->controller);
		if (err) {
			errno = -err;
			jail_die_errno(JX_CGROUP, "cgroup", "writing '%s' to %s/%s", kv->value,
				       cfg->cg_mount, path);
		}
	}

	join_path(path, sizeof(path), cg->rel, "cgroup.procs");
	snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	err = write_at(cg->mount_fd, path, buf);
	if (err) {
		errno = -err;
		jail_die_errno(JX_CGROUP, "cgroup", "joining %s/%s", cfg->cg_mount, cg->rel);
	}
	cg->joined = true;
}

/* Best effort: leave the cgroup and remove it if this run made it. */
void jail_cgroup_cleanup(struct jail_cgroup *cg)
{
	char path[4200], buf[32];

	if (cg->mount_fd < 0)
		return;
	if (cg->joined) {
		join_path(path, sizeof(path), cg->orig_rel, "cgroup.procs");
		snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
		if (write_at(cg->mount_fd, path, buf) == 0)
			cg->joined = false;
	}
	if (cg->created && !cg->joined && unlinkat(cg->mount_fd, cg->rel, AT_REMOVEDIR) == 0)
		cg->created = false;
}
