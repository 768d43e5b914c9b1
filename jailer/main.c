// SPDX-License-Identifier: Apache-2.0
/*
 * ember-jailer: the steps, in order, and what a failed step undoes.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/cglimit.h"
#include "jailer/jailer.h"

#ifndef EMBER_VERSION
#define EMBER_VERSION "unknown"
#endif

static struct jail_cfg cfg;
static struct jail_fs fs = { .exec_dir_fd = -1, .id_fd = -1, .root_fd = -1, .host_mnt_ns_fd = -1 };
static struct jail_cgroup cg;
static int status_fd = -1;	/* pid-ns child: reports its failed step to the parent */
static bool dropped;		/* no longer root: cleanup is the parent's (or nobody's) */

void jail_usage(FILE *f);
void jail_version(void);

void jail_usage(FILE *f)
{
	fputs(
"NAME\n"
"    ember-jailer - start ember in a jail: chroot (pivot_root), cgroups (v2\n"
"    or v1), namespaces, resource limits, no capabilities, an unprivileged\n"
"    uid/gid\n"
"\n"
"SYNOPSIS\n"
"    ember-jailer --id ID --exec-file PATH --uid UID --gid GID\n"
"                 [--chroot-base-dir DIR] [--netns PATH] [--daemonize]\n"
"                 [--new-pid-ns] [--cgroup-version 1|2] [--cgroup FILE=VALUE]...\n"
"                 [--parent-cgroup PATH] [--resource-limit RES=VALUE]...\n"
"                 [-- ARGS...]\n"
"\n"
"DESCRIPTION\n"
"    Run as root. Builds DIR/<exec-name>/ID/root holding a copy of the exec\n"
"    file (a static ELF) and the nodes dev/kvm (10:232), dev/net/tun\n"
"    (10:200), dev/urandom (1:9), made with these fixed numbers whether the\n"
"    host has them or not (mode 0600, owned by UID:GID), and dev/userfaultfd\n"
"    with the host's numbers where the host has it, puts itself in the\n"
"    cgroup <cgroup2 mount>/PATH/ID (v1: in <mount>/PATH/ID of each\n"
"    hierarchy a --cgroup FILE names), joins the\n"
"    network namespace, makes DIR/<exec-name>/ID the root of a new mount\n"
"    namespace (pivot_root; the host's root is detached) and chroots into\n"
"    its root/ (which also denies it new user namespaces), sets the limits,\n"
"    drops every capability (bounding and ambient sets too) and becomes\n"
"    UID:GID with no supplementary groups and no_new_privs, then execs\n"
"    /<exec-name> ARGS with an empty environment and only fds 0, 1, 2.\n"
"    As Firecracker's jailer, it puts --id ID --start-time-us N\n"
"    --start-time-cpu-us N --parent-cpu-time-us N before ARGS, then\n"
"    --cgroup-memory-limit BYTES when its cgroups (the jail's, or any it is\n"
"    in, and their ancestors) limit memory: the smallest memory.max (v2) or\n"
"    memory.limit_in_bytes (v1), which ember checks the guest against.\n"
"    A failed start removes ID/ and the ID cgroups if it made them; an\n"
"    existing ID/ (e.g. with a kernel image put in root/ beforehand) is\n"
"    reused and existing ID cgroups without processes are made afresh, so\n"
"    a retry works.\n"
"\n"
"OPTIONS\n"
"    --id ID                letters, digits and '-', 1 to 64 characters\n"
"    --exec-file PATH       the binary to run jailed (statically linked)\n"
"    --uid UID, --gid GID   numeric ids to run as (0 to 4294967294)\n"
"    --chroot-base-dir DIR  an existing directory (default " JAIL_DEFAULT_BASE ")\n"
"    --netns PATH           a network namespace file to join (setns), e.g.\n"
"                           /var/run/netns/NAME\n"
"    --daemonize            setsid() and stdin/stdout/stderr to /dev/null just\n"
"                           before exec (without --new-pid-ns the jailer must\n"
"                           not lead a process group: checked up front)\n"
"    --new-pid-ns           exec in a new pid namespace (as its pid 1); its pid\n"
"                           as seen from here goes to /<exec-name>.pid in the\n"
"                           jail. Without --daemonize the jailer waits, passes\n"
"                           on SIGINT/SIGTERM/SIGHUP/SIGQUIT, and exits with the\n"
"                           jailed process's status (128+N if killed by signal\n"
"                           N), which then may overlap the codes below; with\n"
"                           --daemonize it exits 0 once the exec succeeded\n"
"    --cgroup-version 1|2   cgroup v2 (the default) or v1 (each controller in\n"
"                           its own hierarchy, as on hybrid hosts)\n"
"    --cgroup FILE=VALUE    write VALUE to the jail cgroup's FILE (repeatable).\n"
"                           v2: memory.max, memory.high, cpu.max, cpu.weight,\n"
"                           cpuset.cpus, cpuset.mems, pids.max, io.max,\n"
"                           hugetlb.<size>.max, cgroup.max.descendants, ...\n"
"                           The controller must be listed in the cgroup2\n"
"                           root's cgroup.controllers; it is enabled in\n"
"                           cgroup.subtree_control down to the parent.\n"
"                           v1: memory.limit_in_bytes,\n"
"                           memory.memsw.limit_in_bytes, cpu.cfs_quota_us,\n"
"                           cpu.cfs_period_us, cpu.shares, cpuset.cpus,\n"
"                           cpuset.mems, pids.max, blkio.weight,\n"
"                           blkio.throttle.read_bps_device, ...,\n"
"                           hugetlb.<size>.limit_in_bytes, ...\n"
"                           The controller's hierarchy must be mounted;\n"
"                           a new cpuset cgroup gets its parent's cpus and mems\n"
"    --parent-cgroup PATH   relative path of the jail cgroup's parent\n"
"                           (default: <exec-name>)\n"
"    --resource-limit RES=VALUE\n"
"                           setrlimit, soft and hard (repeatable): fsize\n"
"                           (bytes), no-file (default 2048)\n"
"    --                     the rest are the jailed binary's arguments (ARGS)\n"
"    -h, --help, -V, --version\n"
"\n"
"EXIT STATUS (each failed step prints one line: ember-jailer: STEP: WHY)\n"
"    Bad input, refused before anything is created:\n"
"     1  arguments: unknown option, missing or repeated value\n"
"     2  --id          3  --exec-file   4  --chroot-base-dir\n"
"     5  --uid/--gid   6  --cgroup, --cgroup-version, --parent-cgroup\n"
"                      (syntax, unknown file, controller not available or\n"
"                      not mounted)\n"
"     7  --resource-limit              8  --netns (no such file)\n"
"    A step of the start failed:\n"
"    10  closing inherited fds, clearing the environment\n"
"    11  jail directory    12  copy exec file    13  device nodes\n"
"    14  cgroups, or a jail with this ID is running (checked up front)\n"
"    15  network namespace (setns)\n"
"    16  mount namespace   17  pivot_root        18  pid namespace\n"
"    19  resource limits   20  capabilities      21  no_new_privs\n"
"    22  drop privileges (setgroups/setresgid/setresuid)\n"
"    23  daemonize, or the jailer leads a process group (checked up front)\n"
"    24  exec\n"
"    A failure once the uid has changed (20-24) cannot remove what was\n"
"    made unless --new-pid-ns (the parent does); a retry reuses it.\n"
"    On success the jailer is replaced by the exec file (exit status: its).\n", f);
}

void jail_version(void)
{
	printf(JAILER_NAME " " EMBER_VERSION "\n");
}

static void cleanup(void)
{
	if (dropped)
		return;
	jail_cgroup_cleanup(&cg);
	jail_fs_cleanup(&cfg, &fs);
}

__attribute__((noreturn))
static void vdie(int code, const char *step, int err, const char *fmt, va_list ap)
{
	char msg[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (err)
		fprintf(stderr, JAILER_NAME ": %s: %s: %s\n", step, msg, strerror(err));
	else
		fprintf(stderr, JAILER_NAME ": %s: %s\n", step, msg);
	if (status_fd >= 0) {
		unsigned char c = (unsigned char)code;

		/* The parent (still root) cleans up and exits with CODE. */
		if (write(status_fd, &c, 1) != 1)
			_exit(code);
		_exit(code);
	}
	cleanup();
	exit(code);
}

void jail_die(int code, const char *step, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vdie(code, step, 0, fmt, ap);
}

void jail_die_errno(int code, const char *step, const char *fmt, ...)
{
	int err = errno;
	va_list ap;

	va_start(ap, fmt);
	vdie(code, step, err, fmt, ap);
}

/* Only fds 0, 1, 2 (each open: /dev/null if it was not), no environment. */
static void sanitize(void)
{
	if (syscall(SYS_close_range, 3U, ~0U, 0U) < 0) {
		/* Kernels before 5.9: close them one by one. */
		long max = sysconf(_SC_OPEN_MAX);

		if (max < 0 || max > 1 << 20)
			max = 1 << 20;
		for (int fd = 3; fd < max; fd++)
			close(fd);
	}
	for (int fd = 0; fd < 3; fd++) {
		if (fcntl(fd, F_GETFD) >= 0)
			continue;
		int n = open("/dev/null", O_RDWR);

		if (n != fd)
			jail_die_errno(JX_SANITIZE, "sanitize", "opening /dev/null as fd %d", fd);
	}
	if (clearenv() != 0)
		jail_die(JX_SANITIZE, "sanitize", "clearenv failed");
	jail_reset_signals();
}

static void join_netns(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		jail_die_errno(JX_NETNS, "network namespace", "%s", path);
	if (setns(fd, CLONE_NEWNET) < 0)
		jail_die_errno(JX_NETNS, "network namespace", "setns(%s)%s", path,
			       errno == EINVAL ? " (not a network namespace file?)" : "");
	close(fd);
}

static pid_t child_pid;

static void forward_signal(int sig)
{
	if (child_pid > 0)
		kill(child_pid, sig);
}

static int wait_status(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return 127;
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	return 128 + WTERMSIG(st);
}

/*
 * Forks into a new pid namespace. Returns in the child only. The parent
 * writes the pid file, lets the child go on, and learns from a close-on-exec
 * pipe whether the child reached execve (EOF) or failed (one byte: its exit
 * code), in which case it cleans up as root.
 */
static void enter_pid_ns(void)
{
	int go[2], st[2];
	char pidfile[300], buf[32];
	unsigned char code;
	ssize_t n;
	int fd;

	if (unshare(CLONE_NEWPID) < 0)
		jail_die_errno(JX_PID_NS, "pid namespace", "unshare(CLONE_NEWPID)");
	if (pipe2(go, O_CLOEXEC) < 0 || pipe2(st, O_CLOEXEC) < 0)
		jail_die_errno(JX_PID_NS, "pid namespace", "pipe");
	child_pid = fork();
	if (child_pid < 0)
		jail_die_errno(JX_PID_NS, "pid namespace", "fork");
	if (child_pid == 0) {
		close(go[1]);
		close(st[0]);
		status_fd = st[1];
		if (read(go[0], &code, 1) != 1)
			_exit(JX_PID_NS);	/* the parent failed and said why */
		close(go[0]);
		return;
	}
	close(go[0]);
	close(st[1]);

	snprintf(pidfile, sizeof(pidfile), "/%s.pid", cfg.exec_name);
	snprintf(buf, sizeof(buf), "%d\n", (int)child_pid);
	/*
	 * A new file: whatever an earlier jailed process left there (a FIFO
	 * would block us, as root) is removed first, and nothing is followed.
	 */
	if (unlink(pidfile) < 0 && errno != ENOENT)
		fd = -1;
	else
		fd = open(pidfile, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC,
			  0644);
	if (fd < 0 || write(fd, buf, strlen(buf)) != (ssize_t)strlen(buf) || close(fd) < 0) {
		int err = errno;

		kill(child_pid, SIGKILL);
		wait_status(child_pid);
		errno = err;
		jail_die_errno(JX_PID_NS, "pid namespace", "writing %s in the jail", pidfile);
	}
	if (write(go[1], "g", 1) != 1)
		jail_die_errno(JX_PID_NS, "pid namespace", "starting the child");
	close(go[1]);

	do
		n = read(st[0], &code, 1);
	while (n < 0 && errno == EINTR);
	close(st[0]);
	if (n == 1) {
		/* The child printed why; it left nothing for the next try. */
		wait_status(child_pid);
		unlink(pidfile);
		cleanup();
		exit(code);
	}

	/* The exec succeeded: leave the jail cgroup to the jailed process alone. */
	jail_cgroup_release(&cg, true);
	close(fs.exec_dir_fd);
	close(fs.id_fd);
	close(fs.host_mnt_ns_fd);
	if (cfg.daemonize)
		exit(0);
	signal(SIGINT, forward_signal);
	signal(SIGTERM, forward_signal);
	signal(SIGHUP, forward_signal);
	signal(SIGQUIT, forward_signal);
	exit(wait_status(child_pid));
}

static unsigned long long now_us(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (unsigned long long)ts.tv_sec * 1000000ULL + ts.tv_nsec / 1000;
}

static void daemonize(int devnull)
{
	if (setsid() < 0)
		jail_die_errno(JX_DAEMONIZE, "daemonize", "setsid");
	if (dup2(devnull, 0) < 0 || dup2(devnull, 1) < 0 || dup2(devnull, 2) < 0)
		jail_die_errno(JX_DAEMONIZE, "daemonize", "redirecting stdio to /dev/null");
	close(devnull);
}

int main(int argc, char **argv)
{
	/* Firecracker's jailer hands these to the VMM for its start-up metrics. */
	unsigned long long start_us = now_us(CLOCK_MONOTONIC);
	char exec_in_jail[300], id_arg[80], start_arg[24], cpu_arg[24], parent_arg[24];
	char mem_arg[24];
	const char *mem_file;
	uint64_t mem_limit;
	char *envp[] = { NULL };
	char **nargv;
	int devnull = -1, n = 0;

	umask(022);
	jail_parse_args(&cfg, argc, argv);
	sanitize();
	jail_cgroup_check_busy(&cfg);
	/* setsid() would fail at the very end: say so before making anything. */
	if (cfg.daemonize && !cfg.new_pid_ns && getpgrp() == getpid())
		jail_die(JX_DAEMONIZE, "daemonize",
			 "the jailer leads a process group (or session), so it cannot setsid(): "
			 "start it from a process that is not one (not through setsid(1)), or add "
			 "--new-pid-ns");

	jail_make_dirs(&cfg, &fs);
	jail_copy_exec(&cfg, &fs);
	jail_make_devices(&cfg, &fs);
	jail_cgroup_setup(&cfg, &cg);
	/* The jail has no /proc or /sys: ember learns its memory limit from us. */
	mem_limit = cg_memory_limit(&mem_file);
	if (cfg.netns)
		join_netns(cfg.netns);
	if (cfg.daemonize) {
		/* The jail has no /dev/null: open it now, use it last. */
		devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (devnull < 0)
			jail_die_errno(JX_DAEMONIZE, "daemonize", "/dev/null");
	}
	jail_pivot(&cfg, &fs);
	if (cfg.new_pid_ns)
		enter_pid_ns();

	jail_set_rlimits(&cfg);
	jail_drop_bounding();
	jail_drop_ids(&cfg);
	/* From here on the parent (pid ns) or nobody cleans up: we cannot. */
	dropped = true;
	jail_clear_caps();
	jail_no_new_privs();
	if (cfg.new_pid_ns && !cfg.daemonize && prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		jail_die_errno(JX_PID_NS, "pid namespace", "PR_SET_PDEATHSIG");
	if (cfg.daemonize)
		daemonize(devnull);

	/* No fd on the host's file system may reach the jailed process. */
	close(fs.exec_dir_fd);
	close(fs.id_fd);
	close(fs.host_mnt_ns_fd);
	jail_cgroup_release(&cg, false);
	snprintf(exec_in_jail, sizeof(exec_in_jail), "/%s", cfg.exec_name);
	nargv = calloc((size_t)cfg.exec_argc + 12, sizeof(*nargv));
	if (!nargv)
		jail_die(JX_EXEC, "exec", "out of memory");
	/*
	 * As Firecracker's jailer: --id, the start times, then ours: the memory
	 * limit in force (if any), then the user's arguments.
	 */
	snprintf(id_arg, sizeof(id_arg), "%s", cfg.id);
	snprintf(start_arg, sizeof(start_arg), "%llu", start_us);
	snprintf(cpu_arg, sizeof(cpu_arg), "%llu", now_us(CLOCK_PROCESS_CPUTIME_ID));
	snprintf(parent_arg, sizeof(parent_arg), "%llu", now_us(CLOCK_PROCESS_CPUTIME_ID));
	nargv[n++] = exec_in_jail;
	nargv[n++] = "--id";
	nargv[n++] = id_arg;
	nargv[n++] = "--start-time-us";
	nargv[n++] = start_arg;
	nargv[n++] = "--start-time-cpu-us";
	nargv[n++] = cpu_arg;
	nargv[n++] = "--parent-cpu-time-us";
	nargv[n++] = parent_arg;
	if (mem_limit != CG_NO_LIMIT) {
		snprintf(mem_arg, sizeof(mem_arg), "%llu", (unsigned long long)mem_limit);
		nargv[n++] = "--cgroup-memory-limit";
		nargv[n++] = mem_arg;
	}
	for (int i = 0; i < cfg.exec_argc; i++)
		nargv[n++] = cfg.exec_argv[i];
	umask(077);
	execve(exec_in_jail, nargv, envp);
	jail_die_errno(JX_EXEC, "exec", "%s in the jail", exec_in_jail);
}
