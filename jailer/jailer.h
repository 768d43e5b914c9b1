/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ember-jailer: starts ember (or any static binary) in a chroot-like jail
 * (pivot_root), inside cgroups (v2 or v1), network/mount/pid namespaces, with
 * resource limits, without capabilities and as an unprivileged uid/gid.
 * Flags follow Firecracker's jailer where they overlap.
 */
#ifndef EMBER_JAILER_H
#define EMBER_JAILER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define JAILER_NAME		"ember-jailer"
#define JAIL_ID_MAX		64
#define JAIL_MAX_CGROUPS	32
#define JAIL_MAX_HIER		8	/* cgroup hierarchies: 1 for v2, one per v1 mount */
#define JAIL_DEFAULT_BASE	"/srv/jailer"
#define JAIL_DEFAULT_NOFILE	2048

/*
 * Exit codes: one per step, so a caller can tell where a start failed.
 * 1-9: bad input (nothing was created); 10-29: a step of the start failed.
 * Keep usage_text() in main.c in sync.
 */
enum jail_exit {
	JX_USAGE	= 1,	/* unknown option, missing or repeated value */
	JX_ID		= 2,	/* --id */
	JX_EXEC_FILE	= 3,	/* --exec-file */
	JX_BASE_DIR	= 4,	/* --chroot-base-dir */
	JX_IDS		= 5,	/* --uid / --gid */
	JX_CGROUP_ARG	= 6,	/* --cgroup, --cgroup-version, --parent-cgroup */
	JX_RLIMIT_ARG	= 7,	/* --resource-limit */
	JX_NETNS_ARG	= 8,	/* --netns */
	JX_SANITIZE	= 10,	/* closing inherited fds, clearing the environment */
	JX_JAIL_DIR	= 11,	/* <base>/<exec-name>/<id>/root */
	JX_COPY		= 12,	/* copying the exec file into the jail */
	JX_DEVICES	= 13,	/* dev/kvm, dev/net/tun, dev/urandom */
	JX_CGROUP	= 14,	/* creating, configuring or joining the cgroup */
	JX_NETNS	= 15,	/* joining the network namespace */
	JX_MOUNT_NS	= 16,	/* new mount namespace, private propagation */
	JX_PIVOT	= 17,	/* bind mount, pivot_root, detaching the old root */
	JX_PID_NS	= 18,	/* new pid namespace: fork, pid file, wait */
	JX_RLIMIT	= 19,	/* setrlimit */
	JX_CAPS		= 20,	/* bounding/ambient/securebits/cap sets (libcap) */
	JX_NNP		= 21,	/* no_new_privs */
	JX_DROP_IDS	= 22,	/* setgroups, setresgid, setresuid */
	JX_DAEMONIZE	= 23,	/* setsid, stdio to /dev/null */
	JX_EXEC		= 24,	/* execve */
};

struct jail_cgroup_kv {
	const char *key;	/* e.g. "memory.max" */
	const char *value;
	char controller[32];	/* "memory"; "cgroup" for core files */
	int hier;		/* its hierarchy: index in jail_cfg.cg_hier */
};

/* A cgroup hierarchy the jail joins (when a --cgroup names it). */
struct jail_cg_hier {
	char mount[4096];	/* its mount point */
	char root[4096];	/* the mount's root within the hierarchy */
	char controller[32];	/* v1: a controller it has, to find our cgroup; v2: "" */
};

struct jail_cfg {
	const char *id;
	char exec_path[4096];	/* canonical path of --exec-file */
	const char *exec_name;	/* its last component (points into exec_path) */
	char base_dir[4096];	/* canonical --chroot-base-dir */
	uid_t uid;
	gid_t gid;
	const char *netns;
	bool daemonize;
	bool new_pid_ns;
	int cgroup_version;
	const char *parent_cgroup;	/* default: exec_name */
	struct jail_cgroup_kv cgroups[JAIL_MAX_CGROUPS];
	int n_cgroups;
	bool have_fsize, have_nofile;
	uint64_t fsize, nofile;
	char **exec_argv;	/* arguments after "--" */
	int exec_argc;
	struct jail_cg_hier cg_hier[JAIL_MAX_HIER];	/* found when --cgroup given */
	int n_cg_hier;
};

/* args.c: parse and validate everything; touches nothing. */
void jail_parse_args(struct jail_cfg *cfg, int argc, char **argv);

/* main.c: print "ember-jailer: STEP: MSG" and exit with CODE, after cleanup. */
__attribute__((noreturn, format(printf, 3, 4)))
void jail_die(int code, const char *step, const char *fmt, ...);
/* Same, appending ": strerror(errno)". */
__attribute__((noreturn, format(printf, 3, 4)))
void jail_die_errno(int code, const char *step, const char *fmt, ...);

/* jail.c: the jail directory, the exec file copy, device nodes (and run/,
 * owned as they are), pivot. */
struct jail_fs {
	int exec_dir_fd;	/* <base>/<exec-name>, O_PATH */
	int id_fd;		/* <base>/<exec-name>/<id>, O_PATH */
	int root_fd;		/* <base>/<exec-name>/<id>/root */
	int host_mnt_ns_fd;	/* the mount namespace we started in */
	bool created_id_dir;	/* this run made <id>/: remove it on failure */
	char id_path[8192];
	char root_path[8192];
};
void jail_make_dirs(const struct jail_cfg *cfg, struct jail_fs *fs);
void jail_copy_exec(const struct jail_cfg *cfg, struct jail_fs *fs);
void jail_make_devices(const struct jail_cfg *cfg, struct jail_fs *fs);
void jail_pivot(const struct jail_cfg *cfg, struct jail_fs *fs);
void jail_fs_cleanup(const struct jail_cfg *cfg, struct jail_fs *fs);
int jail_rm_tree_at(int dirfd, const char *name);

/* cgroup.c: cgroup v2, or v1 (one cgroup per hierarchy a key names). */
struct jail_cg_dir {
	int mount_fd;		/* the hierarchy's mount, O_PATH */
	char rel[8192];		/* <parent>/<id>, relative to the mount */
	char orig_rel[4096];	/* our cgroup before joining, relative */
	bool created;		/* this run made the <id> cgroup */
	bool joined;
};
struct jail_cgroup {
	struct jail_cg_dir dirs[JAIL_MAX_HIER];	/* as jail_cfg.cg_hier */
	int n;			/* how many have an open mount_fd */
};
int jail_cgroup_key_check(const char *key, int version, char *controller, size_t len,
			  const char **why);
void jail_cgroup_check_busy(const struct jail_cfg *cfg);
void jail_cgroup_setup(const struct jail_cfg *cfg, struct jail_cgroup *cg);
void jail_cgroup_cleanup(struct jail_cgroup *cg);
/*
 * The cgroups are the jailed process's now: close the fds, first leaving
 * them (without removing them) when leave is true (the pid ns parent).
 */
void jail_cgroup_release(struct jail_cgroup *cg, bool leave);

/* privs.c: rlimits, capabilities, ids, no_new_privs, exec. */
void jail_set_rlimits(const struct jail_cfg *cfg);
void jail_drop_bounding(void);
void jail_drop_ids(const struct jail_cfg *cfg);
void jail_clear_caps(void);
void jail_no_new_privs(void);
void jail_reset_signals(void);

#endif /* EMBER_JAILER_H */
