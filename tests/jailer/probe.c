// SPDX-License-Identifier: Apache-2.0
/*
 * probe: a static test program run by ember-jailer as its --exec-file. It
 * reports, from inside the jail, what it can see and do, one key=value per
 * line, for tests/jailer/run.sh to check.
 *   probe report [--fsize-test] [--wait]   the report; --wait then blocks
 *                                          until stdin reaches EOF
 *   probe now                              prints now=<CLOCK_MONOTONIC ns>
 *   probe mark                             writes /ran: "pid=P sid=S"
 *   probe exit N                           exits with status N
 *   probe touch MIB                        allocates and touches MIB MiB
 * The jailer's own arguments before these (--id ... --parent-cpu-time-us N
 * [--cgroup-memory-limit BYTES]) are taken off first and reported by
 * "report" (jailer_id=, jailer_times=, cgroup_memory_limit=).
 * There is no /proc in the jail: everything comes from system calls.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>
#include <linux/capability.h>

extern char **environ;

static const char *err_name(int e)
{
	switch (e) {
	case 0: return "ok";
	case ENOENT: return "ENOENT";
	case EPERM: return "EPERM";
	case EACCES: return "EACCES";
	case EFBIG: return "EFBIG";
	case EINVAL: return "EINVAL";
	case EROFS: return "EROFS";
	case EEXIST: return "EEXIST";
	case ENOSYS: return "ENOSYS";
	default: return strerror(e);
	}
}

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The sorted entries of DIR, comma-separated, or the error. */
static void list_dir(const char *key, const char *dir)
{
	char *names[64];
	int n = 0;
	struct dirent *de;
	DIR *d = opendir(dir);

	printf("%s=", key);
	if (!d) {
		printf("%s\n", err_name(errno));
		return;
	}
	while ((de = readdir(d)) && n < 64)
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			names[n++] = strdup(de->d_name);
	closedir(d);
	qsort(names, (size_t)n, sizeof(names[0]), cmp);
	for (int i = 0; i < n; i++)
		printf("%s%s", i ? "," : "", names[i]);
	printf("\n");
}

static void try_open(const char *key, const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC);

	printf("%s=%s\n", key, err_name(fd < 0 ? errno : 0));
	if (fd >= 0)
		close(fd);
}

static void caps(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];
	uint64_t bnd = 0, amb = 0;

	if (syscall(SYS_capget, &h, d) < 0) {
		printf("capget=%s\n", err_name(errno));
		return;
	}
	printf("capeff=%llx\n", (unsigned long long)d[0].effective | (unsigned long long)d[1].effective << 32);
	printf("capprm=%llx\n", (unsigned long long)d[0].permitted | (unsigned long long)d[1].permitted << 32);
	printf("capinh=%llx\n", (unsigned long long)d[0].inheritable | (unsigned long long)d[1].inheritable << 32);
	for (int c = 0; c < 64; c++) {
		if (prctl(PR_CAPBSET_READ, c, 0, 0, 0) == 1)
			bnd |= 1ULL << c;
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, c, 0, 0) == 1)
			amb |= 1ULL << c;
	}
	printf("capbnd=%llx\ncapamb=%llx\n", (unsigned long long)bnd, (unsigned long long)amb);
	printf("nnp=%d\n", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
	printf("securebits=%x\n", prctl(PR_GET_SECUREBITS, 0, 0, 0, 0));
}

static void ids(void)
{
	uid_t r, e, s;
	gid_t rg, eg, sg;

	getresuid(&r, &e, &s);
	getresgid(&rg, &eg, &sg);
	printf("uid=%u,%u,%u\ngid=%u,%u,%u\ngroups=%d\n", r, e, s, rg, eg, sg, getgroups(0, NULL));
	printf("pid=%d\n", (int)getpid());
}

/* Ways out or up that must all be closed. */
static void escapes(void)
{
	int r;

	try_open("passwd", "/etc/passwd", O_RDONLY);
	/* chdir("..") from / stays in /: the host's /etc stays out of reach. */
	for (int i = 0; i < 16; i++)
		if (chdir("..") < 0)
			break;
	try_open("escape", "etc/passwd", O_RDONLY);
	chdir("/");
	try_open("proc", "/proc/self/status", O_RDONLY);
	r = mknod("/probe-node", S_IFCHR | 0600, makedev(1, 3));
	printf("mknod=%s\n", err_name(r < 0 ? errno : 0));
	if (r == 0)
		unlink("/probe-node");
	r = mount("none", "/dev", "tmpfs", 0, NULL);
	printf("mount=%s\n", err_name(r < 0 ? errno : 0));
	r = chroot("/dev");
	printf("chroot=%s\n", err_name(r < 0 ? errno : 0));
	r = setuid(0);
	printf("setuid0=%s\n", err_name(r < 0 ? errno : 0));
	r = prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_SYS_ADMIN, 0, 0);
	printf("ambient_raise=%s\n", err_name(r < 0 ? errno : 0));
	r = unshare(CLONE_NEWUSER);
	printf("unshare_user=%s\n", err_name(r < 0 ? errno : 0));
}

static void limits(bool fsize_test)
{
	struct rlimit rl;

	getrlimit(RLIMIT_NOFILE, &rl);
	printf("rlimit_nofile=%llu,%llu\n", (unsigned long long)rl.rlim_cur,
	       (unsigned long long)rl.rlim_max);
	getrlimit(RLIMIT_FSIZE, &rl);
	if (rl.rlim_cur == RLIM_INFINITY)
		printf("rlimit_fsize=unlimited\n");
	else
		printf("rlimit_fsize=%llu,%llu\n", (unsigned long long)rl.rlim_cur,
		       (unsigned long long)rl.rlim_max);
	if (fsize_test && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (1 << 20)) {
		/* One byte past the limit: EFBIG (SIGXFSZ ignored). */
		size_t n = (size_t)rl.rlim_cur + 1;
		char *buf = calloc(1, n);
		int fd = open("/fsize-test", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		ssize_t w;

		signal(SIGXFSZ, SIG_IGN);
		if (fd < 0) {
			printf("fsize_write=open:%s\n", err_name(errno));
		} else {
			w = write(fd, buf, n);
			if (w == (ssize_t)n)
				printf("fsize_write=ok\n");
			else if (w >= 0)	/* short write up to the limit, then EFBIG */
				w = write(fd, buf, 1);
			if (w < 0)
				printf("fsize_write=%s\n", err_name(errno));
			else if (w != (ssize_t)n)
				printf("fsize_write=short\n");
			close(fd);
			unlink("/fsize-test");
		}
		free(buf);
	}
}

static void fds(void)
{
	printf("fds=");
	for (int fd = 0, first = 1; fd < 1024; fd++)
		if (fcntl(fd, F_GETFD) >= 0) {
			printf("%s%d", first ? "" : ",", fd);
			first = 0;
		}
	printf("\n");
}

/* What the jailer put before the user's arguments, as Firecracker's does. */
static const char *jailer_id = "none";
static const char *jailer_times = "none";
static const char *cgroup_memory_limit = "none";

static void report(int argc, char **argv)
{
	bool wait = false, fsize_test = false;
	char c;
	int n = 0;

	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--wait"))
			wait = true;
		if (!strcmp(argv[i], "--fsize-test"))
			fsize_test = true;
	}
	fds();	/* first, before stdio opens anything */
	ids();
	caps();
	list_dir("root", "/");
	list_dir("dev", "/dev");
	list_dir("devnet", "/dev/net");
	try_open("kvm_open", "/dev/kvm", O_RDWR);
	try_open("tun_open", "/dev/net/tun", O_RDWR);
	try_open("urandom_open", "/dev/urandom", O_RDONLY);
	escapes();
	limits(fsize_test);
	for (char **e = environ; e && *e; e++)
		n++;
	printf("env=%d\n", n);
	printf("jailer_id=%s\njailer_times=%s\n", jailer_id, jailer_times);
	printf("cgroup_memory_limit=%s\n", cgroup_memory_limit);
	printf("argv=");
	for (int i = 0; i < argc; i++)
		printf("%s%s", i ? "|" : "", argv[i]);
	printf("\n");
	if (wait) {
		printf("ready\n");
		fflush(stdout);
		while (read(0, &c, 1) > 0)
			;
	}
	printf("done\n");
}

static bool digits(const char *s)
{
	return *s && strspn(s, "0123456789") == strlen(s);
}

int main(int argc, char **argv)
{
	struct timespec ts;

	if (argc >= 9 && !strcmp(argv[1], "--id") && !strcmp(argv[3], "--start-time-us") &&
	    !strcmp(argv[5], "--start-time-cpu-us") && !strcmp(argv[7], "--parent-cpu-time-us")) {
		jailer_id = argv[2];
		jailer_times = digits(argv[4]) && digits(argv[6]) && digits(argv[8]) ? "ok" : "bad";
		argv[8] = argv[0];
		argv += 8;
		argc -= 8;
		if (argc >= 3 && !strcmp(argv[1], "--cgroup-memory-limit")) {
			cgroup_memory_limit = digits(argv[2]) ? argv[2] : "bad";
			argv[2] = argv[0];
			argv += 2;
			argc -= 2;
		}
	}

	if (argc >= 2 && !strcmp(argv[1], "now")) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		printf("now=%lld\n", (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
		return 0;
	}
	if (argc >= 2 && !strcmp(argv[1], "report")) {
		report(argc, argv);
		return 0;
	}
	if (argc >= 2 && !strcmp(argv[1], "mark")) {
		FILE *f = fopen("/ran", "w");

		if (!f)
			return 2;
		fprintf(f, "pid=%d sid=%d\n", (int)getpid(), (int)getsid(0));
		return fclose(f) ? 2 : 0;
	}
	if (argc >= 3 && !strcmp(argv[1], "exit"))
		return atoi(argv[2]);
	if (argc >= 3 && !strcmp(argv[1], "touch")) {
		size_t n = (size_t)atoi(argv[2]) << 20;
		volatile char *p = malloc(n);

		if (!p)
			return 3;
		for (size_t i = 0; i < n; i += 4096)
			p[i] = 1;
		printf("touched %s MiB\n", argv[2]);
		return 0;
	}
	fprintf(stderr, "usage: probe report|now|mark|exit N|touch MIB\n");
	return 2;
}
