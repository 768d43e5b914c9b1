// SPDX-License-Identifier: Apache-2.0
/*
 * cgroup v2: <cgroup2 mount>/<parent-cgroup>/<id>, controllers enabled in
 * cgroup.subtree_control from the mount's root down to <parent-cgroup>, each
 * --cgroup FILE=VALUE written, then the jailer joins it (its children and
 * the exec-ed binary stay in it).
 * cgroup v1: the same in each hierarchy a --cgroup names (<its mount>/
 * <parent-cgroup>/<id>), with no subtree_control but cpuset.cpus and
 * cpuset.mems copied from the parent into each new cpuset cgroup (they start
 * empty, and an empty cpuset cannot take a process).
 * All access goes through an fd on the mount, so cleanup still works after
 * pivot_root.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/cglimit.h"
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

/* cgroup v1 files a jail may set, per controller. */
static const char *const known_keys_v1[] = {
	"memory.limit_in_bytes", "memory.memsw.limit_in_bytes", "memory.soft_limit_in_bytes",
	"memory.swappiness", "memory.oom_control",
	"cpu.cfs_quota_us", "cpu.cfs_period_us", "cpu.cfs_burst_us", "cpu.shares", "cpu.idle",
	"cpu.rt_runtime_us", "cpu.rt_period_us",
	"cpuset.cpus", "cpuset.mems", "cpuset.cpu_exclusive", "cpuset.mem_exclusive",
	"cpuset.memory_migrate", "cpuset.sched_load_balance",
	"pids.max",
	"blkio.weight", "blkio.weight_device", "blkio.bfq.weight", "blkio.bfq.weight_device",
	"blkio.throttle.read_bps_device", "blkio.throttle.write_bps_device",
	"blkio.throttle.read_iops_device", "blkio.throttle.write_iops_device",
	"net_cls.classid", "net_prio.ifpriomap",
};

/*
 * hugetlb.<N>{KB,MB,GB}.max and hugetlb.<N>{KB,MB,GB}.rsvd.max (v1:
 * .limit_in_bytes and .rsvd.limit_in_bytes), for a huge page size this
 * kernel has (/sys/kernel/mm/hugepages/hugepages-<kB>kB).
 */
static bool hugetlb_key(const char *rest, int version)
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
	if (version == 2 ? strcmp(p, ".max") && strcmp(p, ".rsvd.max") :
			   strcmp(p, ".limit_in_bytes") && strcmp(p, ".rsvd.limit_in_bytes"))
		return false;
	snprintf(path, sizeof(path), "/sys/kernel/mm/hugepages/hugepages-%llukB", kb);
	return stat(path, &st) == 0;
}

static const char *const known_controllers[] = {
	"cgroup", "memory", "cpu", "cpuset", "pids", "io", "hugetlb", "rdma", "misc",
};
static const char *const known_controllers_v1[] = {
	"memory", "cpu", "cpuset", "pids", "blkio", "hugetlb", "net_cls", "net_prio",
};

#define N_(a) (sizeof(a) / sizeof((a)[0]))

int jail_cgroup_key_check(const char *key, int version, char *controller, size_t len,
			  const char **why)
{
	static char msg[600];
	const char *const *keys = version == 2 ? known_keys : known_keys_v1;
	size_t nkeys = version == 2 ? N_(known_keys) : N_(known_keys_v1);
	const char *const *ctrls = version == 2 ? known_controllers : known_controllers_v1;
	size_t nctrls = version == 2 ? N_(known_controllers) : N_(known_controllers_v1);
	const char *dot = strchr(key, '.');
	bool known = false;
	size_t n, used;

	if (!dot || dot == key || !dot[1]) {
		*why = version == 2 ? "not CONTROLLER.FILE (e.g. memory.max, cpu.max, pids.max)" :
		       "not CONTROLLER.FILE (e.g. memory.limit_in_bytes, cpu.shares, pids.max)";
		return -1;
	}
	n = (size_t)(dot - key);
	for (size_t i = 0; i < nctrls; i++)
		if (strlen(ctrls[i]) == n && !strncmp(key, ctrls[i], n))
			known = true;
	if (!known || n >= len) {
		used = (size_t)snprintf(msg, sizeof(msg), "unknown controller for cgroup v%d "
					"(known:", version);
		for (size_t i = 0; i < nctrls && used < sizeof(msg); i++)
			used += (size_t)snprintf(msg + used, sizeof(msg) - used, "%s%s",
						 i ? ", " : " ", ctrls[i]);
		if (used < sizeof(msg))
			snprintf(msg + used, sizeof(msg) - used, ")");
		*why = msg;
		return -1;
	}
	memcpy(controller, key, n);
	controller[n] = 0;
	if (!strcmp(controller, "hugetlb") && hugetlb_key(dot + 1, version))
		return 0;
	for (size_t i = 0; i < nkeys; i++)
		if (!strcmp(key, keys[i]))
			return 0;
	used = (size_t)snprintf(msg, sizeof(msg), "unknown file of controller %s in cgroup v%d "
				"(known:", controller, version);
	for (size_t i = 0; i < nkeys; i++)
		if (!strncmp(keys[i], key, n + 1) && used < sizeof(msg))
			used += (size_t)snprintf(msg + used, sizeof(msg) - used, " %s", keys[i]);
	if (!strcmp(controller, "hugetlb") && used < sizeof(msg))
		used += (size_t)snprintf(msg + used, sizeof(msg) - used, version == 2 ?
					 " hugetlb.<size>.max hugetlb.<size>.rsvd.max, size one of"
					 " /sys/kernel/mm/hugepages/ as 2MB, 1GB..." :
					 " hugetlb.<size>.limit_in_bytes"
					 " hugetlb.<size>.rsvd.limit_in_bytes, size one of"
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

/* v2: the controllers of the keys, enabled in DIR's cgroup.subtree_control. */
static void enable_controllers(const struct jail_cfg *cfg, struct jail_cg_dir *d,
			       const char *mnt, const char *dir)
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
		n = read_at(d->mount_fd, path, buf, sizeof(buf));
		if (n < 0) {
			errno = (int)-n;
			jail_die_errno(JX_CGROUP, "cgroup", "reading %s/%s", mnt, path);
		}
		if (word_in(buf, ctrl))
			continue;
		snprintf(cmd, sizeof(cmd), "+%s", ctrl);
		err = write_at(d->mount_fd, path, cmd);
		if (err) {
			errno = -err;
			jail_die_errno(JX_CGROUP, "cgroup", "enabling controller '%s' in %s/%s%s",
				       ctrl, mnt, path,
				       err == -EBUSY ? " (that cgroup has processes of its own)" : "");
		}
	}
}

/*
 * v1: a cpuset cgroup starts with empty cpuset.cpus and cpuset.mems, and
 * takes no process until they are set: DIR gets its parent's. Nothing to
 * do in a hierarchy without cpuset.
 */
static void inherit_cpuset(struct jail_cg_dir *d, const char *mnt, const char *dir)
{
	static const char *const files[] = { "cpuset.cpus", "cpuset.mems" };
	char path[8400], ppath[8400], parent[8192], buf[4096];
	char *slash;
	ssize_t n;
	int err;

	snprintf(parent, sizeof(parent), "%s", dir);
	slash = strrchr(parent, '/');
	if (slash)
		*slash = 0;
	else
		parent[0] = 0;
	for (int i = 0; i < 2; i++) {
		join_path(path, sizeof(path), dir, files[i]);
		n = read_at(d->mount_fd, path, buf, sizeof(buf));
		if (n == -ENOENT)
			return;
		if (n > 0 && buf[0] != '\n')
			continue;
		join_path(ppath, sizeof(ppath), parent, files[i]);
		n = read_at(d->mount_fd, ppath, buf, sizeof(buf));
		err = n < 0 ? (int)n : write_at(d->mount_fd, path, buf);
		if (err) {
			errno = -err;
			jail_die_errno(JX_CGROUP, "cgroup", "copying %s/%s to %s/%s", mnt, ppath,
				       mnt, path);
		}
	}
}

/* Our own cgroup in hierarchy H, relative to its mount ("" for its root). */
static void read_own_cgroup(const struct jail_cg_hier *h, struct jail_cg_dir *d)
{
	FILE *f = fopen("/proc/self/cgroup", "re");
	char line[4200], path[4200];
	const char *rel = NULL;

	d->orig_rel[0] = 0;
	if (!f)
		jail_die_errno(JX_CGROUP, "cgroup", "/proc/self/cgroup");
	while (!rel && fgets(line, sizeof(line), f))
		if (cg_proc_match(line, h->controller[0] ? h->controller : NULL, path,
				  sizeof(path)) == 0)
			rel = cg_rel_path(path, h->root);
	fclose(f);
	if (!rel)
		return;
	if (strlen(rel) >= sizeof(d->orig_rel))
		jail_die(JX_CGROUP, "cgroup", "our own cgroup path is too long");
	memcpy(d->orig_rel, rel, strlen(rel) + 1);
}

/*
 * Before anything is made: a live jail with this id is not to be disturbed.
 * Its exec file runs (writing to it fails with ETXTBSY), whatever the flags;
 * and with cgroups, its cgroups have processes.
 */
void jail_cgroup_check_busy(const struct jail_cfg *cfg)
{
	char path[8400], buf[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s/%s/root/%s", cfg->base_dir, cfg->exec_name, cfg->id,
		 cfg->exec_name);
	fd = open(path, O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd >= 0)
		close(fd);
	else if (errno == ETXTBSY)
		jail_die(JX_CGROUP, "cgroup", "%s is running: is a jail with id %s running?", path,
			 cfg->id);

	for (int i = 0; i < cfg->n_cg_hier; i++) {
		snprintf(path, sizeof(path), "%s/%s/%s/cgroup.procs", cfg->cg_hier[i].mount,
			 cfg->parent_cgroup, cfg->id);
		n = read_at(AT_FDCWD, path, buf, sizeof(buf));
		if (n > 0)
			jail_die(JX_CGROUP, "cgroup", "%s has processes: is a jail with id %s running?",
				 path, cfg->id);
	}
}

/* <mount>/<parent>/<id> in hierarchy HI: made, configured, joined. */
static void setup_one(const struct jail_cfg *cfg, int hi, struct jail_cg_dir *d)
{
	const char *mnt = cfg->cg_hier[hi].mount, *p = cfg->parent_cgroup;
	bool v2 = cfg->cgroup_version == 2, done[JAIL_MAX_CGROUPS] = { 0 };
	char dir[8192], path[8400], buf[64];
	struct stat st;
	ssize_t n;
	int err;

	read_own_cgroup(&cfg->cg_hier[hi], d);

	/* Root, then each component of --parent-cgroup: enable, then descend. */
	dir[0] = 0;
	if (v2)
		enable_controllers(cfg, d, mnt, dir);
	while (*p) {
		size_t len = strcspn(p, "/");

		snprintf(dir + strlen(dir), sizeof(dir) - strlen(dir), "%s%.*s",
			 dir[0] ? "/" : "", (int)len, p);
		if (mkdirat(d->mount_fd, dir, 0755) < 0 && errno != EEXIST)
			jail_die_errno(JX_CGROUP, "cgroup", "mkdir %s/%s", mnt, dir);
		if (v2)
			enable_controllers(cfg, d, mnt, dir);
		else
			inherit_cpuset(d, mnt, dir);
		p += len;
		while (*p == '/')
			p++;
	}

	snprintf(d->rel, sizeof(d->rel), "%s/%s", dir, cfg->id);
	if (mkdirat(d->mount_fd, d->rel, 0755) == 0) {
		d->created = true;
	} else if (errno != EEXIST) {
		jail_die_errno(JX_CGROUP, "cgroup", "mkdir %s/%s", mnt, d->rel);
	} else {
		/*
		 * Left by an earlier run: made afresh unless a process still uses
		 * it, so that none of its old values stays (or gets in the way: v1
		 * refuses a memory limit above the memsw limit); reused as it is if
		 * it cannot be removed (it has child cgroups).
		 */
		if (fstatat(d->mount_fd, d->rel, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISDIR(st.st_mode))
			jail_die(JX_CGROUP, "cgroup", "%s/%s exists and is not a cgroup", mnt, d->rel);
		join_path(path, sizeof(path), d->rel, "cgroup.procs");
		n = read_at(d->mount_fd, path, buf, sizeof(buf));
		if (n > 0)
			jail_die(JX_CGROUP, "cgroup",
				 "%s/%s already has processes: is a jail with id %s running?",
				 mnt, d->rel, cfg->id);
		if (unlinkat(d->mount_fd, d->rel, AT_REMOVEDIR) == 0) {
			if (mkdirat(d->mount_fd, d->rel, 0755) < 0)
				jail_die_errno(JX_CGROUP, "cgroup", "mkdir %s/%s", mnt, d->rel);
			d->created = true;
		}
	}
	if (!v2)
		inherit_cpuset(d, mnt, d->rel);

	/*
	 * Some values are refused until another is written (v1: a memsw limit
	 * below the current memory limit): what fails with EINVAL is tried
	 * again after the others.
	 */
	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i < cfg->n_cgroups; i++) {
			const struct jail_cgroup_kv *kv = &cfg->cgroups[i];

			if (kv->hier != hi || done[i])
				continue;
			join_path(path, sizeof(path), d->rel, kv->key);
			err = write_at(d->mount_fd, path, kv->value);
			if (err == -EINVAL && pass == 0)
				continue;
			if (err == -ENOENT)
				jail_die(JX_CGROUP, "cgroup", "%s/%s does not exist (%s)", mnt, path,
					 v2 ? "controller not enabled for this cgroup?" :
					 "not in this kernel's cgroup v1 interface?");
			if (err) {
				errno = -err;
				jail_die_errno(JX_CGROUP, "cgroup", "writing '%s' to %s/%s", kv->value,
					       mnt, path);
			}
			done[i] = true;
		}
	}

	join_path(path, sizeof(path), d->rel, "cgroup.procs");
	snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	err = write_at(d->mount_fd, path, buf);
	if (err) {
		errno = -err;
		jail_die_errno(JX_CGROUP, "cgroup", "joining %s/%s", mnt, d->rel);
	}
	d->joined = true;
}

void jail_cgroup_setup(const struct jail_cfg *cfg, struct jail_cgroup *cg)
{
	for (int i = 0; i < cfg->n_cg_hier; i++) {
		struct jail_cg_dir *d = &cg->dirs[i];

		d->mount_fd = open(cfg->cg_hier[i].mount, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (d->mount_fd < 0)
			jail_die_errno(JX_CGROUP, "cgroup", "opening the cgroup mount %s",
				       cfg->cg_hier[i].mount);
		cg->n = i + 1;
		setup_one(cfg, i, d);
	}
}

/* Best effort: leave the cgroup and remove it if this run made it. */
static void cleanup_one(struct jail_cg_dir *d)
{
	char path[4200], buf[32];

	if (d->joined) {
		join_path(path, sizeof(path), d->orig_rel, "cgroup.procs");
		snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
		if (write_at(d->mount_fd, path, buf) == 0)
			d->joined = false;
	}
	if (d->created && !d->joined && unlinkat(d->mount_fd, d->rel, AT_REMOVEDIR) == 0)
		d->created = false;
}

void jail_cgroup_cleanup(struct jail_cgroup *cg)
{
	for (int i = 0; i < cg->n; i++)
		cleanup_one(&cg->dirs[i]);
}

void jail_cgroup_release(struct jail_cgroup *cg, bool leave)
{
	for (int i = 0; i < cg->n; i++) {
		if (leave) {
			cg->dirs[i].created = false;
			cleanup_one(&cg->dirs[i]);
		}
		close(cg->dirs[i].mount_fd);
	}
	cg->n = 0;
}
