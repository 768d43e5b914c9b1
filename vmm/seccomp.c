/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ember's seccomp allowlists (the table below) and their installation
 * (seccomp.h says which thread gets which list, and when).
 *
 * This file is built in two ways:
 *   - with -DEMBER_SECCOMP_GEN, by the host compiler with libseccomp, as
 *     the build-time filter compiler: it turns the table into one BPF
 *     program per thread kind ($(BUILD)/seccomp/seccomp_bpf.h) and writes
 *     the lists as text for tests/seccomp (allowlists.txt);
 *   - into ember, where it installs those programs with seccomp(2) and
 *     reports a forbidden syscall from its SIGSYS handler. With
 *     -DEMBER_SECCOMP_TEST (build/tests/seccomp/ember-seccomp-test only,
 *     never build/ember) it also has test hooks: see the end of the file.
 * So ember has no libseccomp in it and builds no filter at start-up.
 *
 * Every list is as small as ember's code allows: each entry says who needs
 * it. Arguments are checked where that is cheap and the set of values is
 * known: ioctl requests, fcntl commands, futex operations, the signal kicked
 * vCPUs get, anonymous read-write memory only (no PROT_EXEC mapping).
 * ioctl requests are compared on their low 32 bits: musl passes the int
 * request sign-extended (KVM_GET_REGS arrives as 0xffffffff8090ae81), and
 * the kernel itself only looks at those 32 bits.
 */

#ifdef EMBER_SECCOMP_GEN
/* ========================= the build-time compiler ========================= */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* F_GETPIPE_SZ */
#endif
#include "seccomp.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/futex.h>
#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <seccomp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <termios.h>

#define VMM  (1u << SECCOMP_VMM)
#define API  (1u << SECCOMP_API)
#define VCPU (1u << SECCOMP_VCPU)
#define ALL  (VMM | API | VCPU)

/* (argument arg & mask) == val */
struct arg_check {
	int arg;
	uint64_t mask, val;
};

struct allow {
	unsigned int kinds;   /* VMM | API | VCPU */
	const char *name;     /* the syscall */
	const char *label;    /* what the argument check allows, for the lists */
	int nchecks;          /* all must hold */
	struct arg_check check[2];
};

#define ANY(k, n)                 { .kinds = k, .name = n }
#define ARG(k, n, l, a, m, v)     { .kinds = k, .name = n, .label = l, .nchecks = 1, \
				    .check = { { .arg = a, .mask = m, .val = v } } }
#define ARG2(k, n, l, a, m, v, b, m2, v2) { .kinds = k, .name = n, .label = l, .nchecks = 2, \
				    .check = { { .arg = a, .mask = m, .val = v }, \
					       { .arg = b, .mask = m2, .val = v2 } } }
/* ioctl(fd, req): the request's low 32 bits (see above). */
#define IOCTL(k, req)             ARG(k, "ioctl", #req, 1, 0xffffffffu, (uint32_t)(req))
/* futex(uaddr, op): op with or without FUTEX_PRIVATE_FLAG. */
#define FUTEX(op)                 ARG(ALL, "futex", #op, 1, 0xffffffffu & ~FUTEX_PRIVATE_FLAG, op)
/* mmap(addr, len, prot, flags): malloc's anonymous read-write memory only. */
#define MMAP_ANON(k)              ARG2(k, "mmap", "anonymous, read-write", \
				       2, 0xffffffffu & ~(PROT_READ | PROT_WRITE), 0, \
				       3, 0xffffffffu, MAP_PRIVATE | MAP_ANONYMOUS)

/* The kernel's O_LARGEFILE on x86-64, which musl's open() adds (glibc's header says 0). */
#define SYS_O_LARGEFILE 0100000

static const struct allow allowlist[] = {
	/*
	 * Every thread. The SIGSYS handler itself: write, exit_group (and
	 * rt_sigreturn, as for every handler). Locks and condition
	 * variables (musl's pthread_mutex/cond: wait, wake, requeue).
	 * Blocked signals around pthread_kill and at thread exit.
	 * clock_gettime: the vDSO's fallback and the CPU-time clocks.
	 */
	ANY(ALL, "write"),          /* SIGSYS report; serial output, eventfds, log */
	ANY(ALL, "exit_group"),     /* exit(), _exit(148) */
	ANY(ALL, "rt_sigreturn"),   /* SIGSYS, SIGUSR1 kicks, SIGTERM & co */
	ANY(ALL, "rt_sigprocmask"), /* pthread_kill, thread exit */
	ANY(ALL, "clock_gettime"),  /* metrics, logger, boot timer, API timeouts */
	FUTEX(FUTEX_WAIT),
	FUTEX(FUTEX_WAKE),
	FUTEX(FUTEX_REQUEUE),       /* pthread_cond_signal with the mutex contended */

	/* The VMM thread: the event loop and its devices. */
	ANY(VMM, "epoll_pwait"),    /* evloop_run (musl's epoll_wait) */
	ANY(VMM | VCPU, "epoll_ctl"), /* virtio-net starts/stops watching its TAP:
				       * on the vCPU thread when the driver
				       * activates or resets it */
	ANY(VMM, "read"),           /* eventfds, timerfd, TAP frames, stdin */
	ANY(VMM | VCPU, "writev"),  /* TAP frames (TX, also at activation on a vCPU),
				     * log and metrics lines, stdio (stderr) */
	ANY(VMM, "preadv"),         /* virtio-blk */
	ANY(VMM, "pwritev"),
	ANY(VMM, "fdatasync"),      /* virtio-blk flush */
	/* PATCH /drives after boot: open the new backing file (musl's open
	 * adds F_SETFD FD_CLOEXEC), check it, size a block device. Only as
	 * open_host_file() opens (musl adds O_LARGEFILE): no O_CREAT, no
	 * O_TRUNC, never blocking. */
	ARG(VMM, "open", "O_RDONLY|O_NONBLOCK|O_NOCTTY|O_CLOEXEC", 1, 0xffffffffu & ~SYS_O_LARGEFILE,
	    O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC),
	ARG(VMM, "open", "O_RDWR|O_NONBLOCK|O_NOCTTY|O_CLOEXEC", 1, 0xffffffffu & ~SYS_O_LARGEFILE,
	    O_RDWR | O_NONBLOCK | O_NOCTTY | O_CLOEXEC),
	ANY(VMM, "fstat"),
	ANY(VMM, "close"),          /* the old backing file; API socket at exit */
	ARG(VMM, "fcntl", "F_SETFD", 1, 0xffffffffu, F_SETFD),
	IOCTL(VMM, BLKGETSIZE64),
	/* Logger and metrics on a FIFO: the room left before a write. */
	ARG(VMM | VCPU, "fcntl", "F_GETPIPE_SZ", 1, 0xffffffffu, F_GETPIPE_SZ),
	IOCTL(VMM | VCPU, FIONREAD),
	IOCTL(VMM | VCPU, KVM_IRQ_LINE), /* i8042 (Ctrl-Alt-Del), serial interrupts */
	IOCTL(VMM, TCSETS),         /* the terminal restored at exit */
	ARG(VMM, "tkill", "SIGUSR1", 1, 0xffffffffu, SIGUSR1), /* kick vCPUs: pause, stop */
	/* Shutdown: remove the API socket if it is still ours. */
	ANY(VMM, "lstat"),
	ANY(VMM, "unlink"),
	/* malloc (cJSON, API requests, responses) and pthread_join. */
	MMAP_ANON(VMM | API),
	ANY(VMM | API, "munmap"),
	ARG(VMM | API, "madvise", "MADV_FREE", 2, 0xffffffffu, MADV_FREE),
	ANY(VMM | API, "brk"),

	/* vCPU threads: KVM_RUN and what their exits do. */
	IOCTL(VCPU, KVM_RUN),
	IOCTL(VCPU, KVM_GET_REGS),  /* the RIP in crash reports */
	IOCTL(VCPU, TUNSETOFFLOAD), /* virtio-net activation (a register write) */
	ANY(VCPU | API, "exit"),    /* the thread ends */

	/* The API thread: its socket, connections and epoll set. */
	ARG(API, "accept4", "SOCK_NONBLOCK|SOCK_CLOEXEC", 3, 0xffffffffu,
	    SOCK_NONBLOCK | SOCK_CLOEXEC),
	ANY(API, "epoll_pwait"),
	ANY(API, "epoll_ctl"),
	ANY(API, "read"),
	ARG(API, "sendto", "MSG_NOSIGNAL|MSG_DONTWAIT", 3, 0xffffffffu,
	    MSG_NOSIGNAL | MSG_DONTWAIT),
	ANY(API, "close"),
};

static const char *const kind_name[SECCOMP_NKINDS] = { "vmm", "api", "vcpu" };

static void fail(const char *what, const char *detail, int e)
{
	fprintf(stderr, "seccomp-gen: %s %s: %s\n", what, detail, strerror(e));
	exit(1);
}

/* Compile kind's list; its BPF program (struct sock_filter[]) into *len bytes. */
static unsigned char *compile(int kind, size_t *len)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_TRAP);
	unsigned char *buf;
	FILE *tmp;
	long size;
	int r;

	if (!ctx)
		fail("seccomp_init", kind_name[kind], ENOMEM);
	/* Another ABI (int 0x80, x32) is never ember: no report, just death. */
	if ((r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS)) ||
	    (r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2)))
		fail("seccomp_attr_set", kind_name[kind], -r);
	for (size_t i = 0; i < sizeof(allowlist) / sizeof(allowlist[0]); i++) {
		const struct allow *a = &allowlist[i];
		struct scmp_arg_cmp cmp[2];
		int nr;

		if (!(a->kinds & (1u << kind)))
			continue;
		nr = seccomp_syscall_resolve_name(a->name);
		if (nr == __NR_SCMP_ERROR || nr < 0)
			fail("unknown syscall", a->name, EINVAL);
		for (int c = 0; c < a->nchecks; c++)
			cmp[c] = SCMP_CMP64(a->check[c].arg, SCMP_CMP_MASKED_EQ, a->check[c].mask,
					    a->check[c].val);
		r = seccomp_rule_add_exact_array(ctx, SCMP_ACT_ALLOW, nr, a->nchecks, cmp);
		if (r)
			fail("seccomp_rule_add", a->name, -r);
	}
	tmp = tmpfile();
	if (!tmp)
		fail("tmpfile", "", errno);
	if ((r = seccomp_export_bpf(ctx, fileno(tmp))))
		fail("seccomp_export_bpf", kind_name[kind], -r);
	size = lseek(fileno(tmp), 0, SEEK_END);
	if (size <= 0 || size % 8 || !(buf = malloc(size)))
		fail("export", kind_name[kind], EINVAL);
	if (pread(fileno(tmp), buf, size, 0) != size)
		fail("export", kind_name[kind], errno);
	fclose(tmp);
	seccomp_release(ctx);
	*len = size;
	return buf;
}

/* Distinct syscalls in kind's list. */
static int count(int kind)
{
	const char *seen[64];
	int n = 0;

	for (size_t i = 0; i < sizeof(allowlist) / sizeof(allowlist[0]); i++) {
		int j;

		if (!(allowlist[i].kinds & (1u << kind)))
			continue;
		for (j = 0; j < n && strcmp(seen[j], allowlist[i].name); j++)
			;
		if (j == n && n < 64)
			seen[n++] = allowlist[i].name;
	}
	return n;
}

int main(int argc, char **argv)
{
	FILE *h, *l;

	if (argc != 3) {
		fprintf(stderr, "usage: seccomp-gen OUT.h OUT.txt\n");
		return 2;
	}
	h = fopen(argv[1], "w");
	l = fopen(argv[2], "w");
	if (!h || !l)
		fail("cannot create", h ? argv[2] : argv[1], errno);
	fprintf(h, "/* Generated from vmm/seccomp.c by seccomp-gen (libseccomp %u.%u.%u): "
		"do not edit. */\n", SCMP_VER_MAJOR, SCMP_VER_MINOR, SCMP_VER_MICRO);
	fprintf(l, "# ember's seccomp allowlists (generated from vmm/seccomp.c)\n"
		"# KIND SYSCALL NR [ALLOWED-ARGUMENT [ARG:MASK:VALUE...]]\n");
	for (int k = 0; k < SECCOMP_NKINDS; k++) {
		size_t len;
		unsigned char *bpf = compile(k, &len);

		fprintf(h, "/* %s: %d syscalls, %zu instructions */\n"
			"static const struct sock_filter seccomp_bpf_%s[] = {\n",
			kind_name[k], count(k), len / 8, kind_name[k]);
		for (size_t i = 0; i < len; i += 8) {
			struct { uint16_t code; uint8_t jt, jf; uint32_t k; } ins;

			memcpy(&ins, bpf + i, 8);
			fprintf(h, "\t{ 0x%04x, %u, %u, 0x%08x },\n", ins.code, ins.jt, ins.jf, ins.k);
		}
		fprintf(h, "};\n");
		free(bpf);
		for (size_t i = 0; i < sizeof(allowlist) / sizeof(allowlist[0]); i++) {
			const struct allow *a = &allowlist[i];

			if (!(a->kinds & (1u << k)))
				continue;
			fprintf(l, "%s %s %d", kind_name[k], a->name,
				seccomp_syscall_resolve_name(a->name));
			if (a->nchecks) {
				fprintf(l, " %s", a->label);
				for (int c = 0; c < a->nchecks; c++)
					fprintf(l, " %d:0x%llx:0x%llx", a->check[c].arg,
						(unsigned long long)a->check[c].mask,
						(unsigned long long)a->check[c].val);
			}
			fprintf(l, "\n");
		}
		fprintf(l, "# %s: %d distinct syscalls\n", kind_name[k], count(k));
	}
	if (fclose(h) || fclose(l))
		fail("cannot write", argv[1], errno);
	return 0;
}

#else
/* ============================ in ember itself ============================== */
#include "seccomp.h"
#include "ember.h"
#include "logger.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "seccomp_bpf.h" /* generated: seccomp_bpf_vmm, _api, _vcpu */

#ifdef EMBER_SECCOMP_TEST
#include <fcntl.h>
#include <sys/socket.h>
#endif

#define PROG(a) { sizeof(a) / sizeof((a)[0]), (struct sock_filter *)(a) }

static const struct sock_fprog progs[SECCOMP_NKINDS] = {
	[SECCOMP_VMM] = PROG(seccomp_bpf_vmm),
	[SECCOMP_API] = PROG(seccomp_bpf_api),
	[SECCOMP_VCPU] = PROG(seccomp_bpf_vcpu),
};

static bool enabled;
static bool vmm_booted, vmm_serving, vmm_done; /* VMM thread only */

/* The SIGSYS report of this thread, all but the syscall number. */
static __thread char report[96];
static __thread size_t report_len;

#ifdef EMBER_SECCOMP_TEST
static void test_hooks(enum seccomp_thread kind, bool *load);
static void test_setup(void);
#endif

/* Async-signal-safe: no stdio, no locks; the report was formatted before. */
static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
	static const char anon[] = "ember: seccomp: thread ? made forbidden syscall ";
	char buf[sizeof(report) + 16], digits[12];
	size_t n = 0, d = 0;
	unsigned int nr;

	(void)sig;
	(void)uc;
	if (report_len) {
		for (; n < report_len; n++)
			buf[n] = report[n];
	} else {
		for (; n < sizeof(anon) - 1; n++)
			buf[n] = anon[n];
	}
	nr = (unsigned int)si->si_syscall;
	do
		digits[d++] = (char)('0' + nr % 10);
	while ((nr /= 10) && d < sizeof(digits));
	while (d)
		buf[n++] = digits[--d];
	buf[n++] = '\n';
	if (write(STDERR_FILENO, buf, n) < 0) {
		/* nowhere else to say it */
	}
	_exit(EMBER_EXIT_SECCOMP);
}

void seccomp_setup(bool on)
{
	struct sigaction sa = { .sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO };

	enabled = on;
#ifdef EMBER_SECCOMP_TEST
	test_setup();
#endif
	if (!enabled)
		return;
	/*
	 * What would otherwise happen on first use, under a filter: musl
	 * reads the time zone (open, mmap of /etc/localtime) for the
	 * logger's first time stamp.
	 */
	tzset();
	sigfillset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) < 0)
		die(EMBER_EXIT_HOST_ERROR, "seccomp: cannot handle SIGSYS: %s", strerror(errno));
}

static void load(enum seccomp_thread kind, const char *name)
{
	sigset_t sys;
	bool do_load = enabled;

	report_len = (size_t)snprintf(report, sizeof(report),
				      "ember: seccomp: thread %s made forbidden syscall ", name);
	if (report_len >= sizeof(report))
		report_len = sizeof(report) - 1;
	/* A blocked SIGSYS would kill the thread silently (the API thread blocks all). */
	sigemptyset(&sys);
	sigaddset(&sys, SIGSYS);
	pthread_sigmask(SIG_UNBLOCK, &sys, NULL);
#ifdef EMBER_SECCOMP_TEST
	test_hooks(kind, &do_load);
#endif
	if (do_load &&
	    (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	     syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &progs[kind]) < 0))
		die(EMBER_EXIT_HOST_ERROR, "seccomp: cannot install the filter of thread %s: %s "
		    "(--no-seccomp runs without)", name, strerror(errno));
#ifdef EMBER_SECCOMP_TEST
	test_hooks(kind, NULL);
#endif
}

void seccomp_install(enum seccomp_thread kind, int id)
{
	char name[24];

	if (kind == SECCOMP_VMM || (unsigned int)kind >= SECCOMP_NKINDS)
		return;
#ifndef EMBER_SECCOMP_TEST
	if (!enabled)
		return;
#endif
	if (kind == SECCOMP_VCPU)
		snprintf(name, sizeof(name), "vcpu%d", id);
	else
		snprintf(name, sizeof(name), "api");
	load(kind, name);
}

static void vmm_maybe_install(void)
{
	char comm[17] = "";

	if (vmm_done || !vmm_booted || !vmm_serving)
		return;
#ifndef EMBER_SECCOMP_TEST
	if (!enabled)
		return;
#endif
	vmm_done = true;
	/*
	 * The logger names a thread without a name by asking the kernel
	 * (PR_GET_NAME) on every line: give it its own name once, now.
	 */
	if (enabled && prctl(PR_GET_NAME, (unsigned long)comm, 0, 0, 0) == 0 && comm[0])
		logger_set_thread_name(comm);
	load(SECCOMP_VMM, "vmm");
}

void seccomp_vmm_booted(void)
{
	vmm_booted = true;
	vmm_maybe_install();
}

void seccomp_vmm_serving(void)
{
	vmm_serving = true;
	vmm_maybe_install();
}

#ifdef EMBER_SECCOMP_TEST
/*
 * Test hooks (build/tests/seccomp/ember-seccomp-test only), from the
 * environment:
 *   EMBER_SECCOMP_TEST_VIOLATE=vmm|api|vcpu|vmm-open
 *       that thread makes a syscall its list forbids, right after its
 *       filter went on (vmm: execve, api: openat, vcpu: socket; vmm-open:
 *       the VMM thread's allowed open() with flags it does not allow,
 *       O_WRONLY|O_CREAT|O_TRUNC);
 *   EMBER_SECCOMP_TEST_TRACE=1
 *       no filter is loaded; each thread marks the moment it would be with
 *       write(-1, "ember-seccomp-mark KIND", ...), which strace shows, so
 *       that tests/seccomp can check what each thread does from then on.
 */
static int violate = -1;
static bool violate_open;
static bool trace;

static void test_setup(void)
{
	const char *v = getenv("EMBER_SECCOMP_TEST_VIOLATE");
	const char *t = getenv("EMBER_SECCOMP_TEST_TRACE");
	static const char *const kinds[SECCOMP_NKINDS] = { "vmm", "api", "vcpu" };

	for (int k = 0; v && k < SECCOMP_NKINDS; k++)
		if (!strcmp(v, kinds[k]))
			violate = k;
	if (v && !strcmp(v, "vmm-open")) {
		violate = SECCOMP_VMM;
		violate_open = true;
	}
	if (v && violate < 0)
		die(EMBER_EXIT_BAD_INPUT, "EMBER_SECCOMP_TEST_VIOLATE: '%s' is not vmm, api, "
		    "vcpu or vmm-open", v);
	trace = t && !strcmp(t, "1");
}

/* Before the filter is loaded (load != NULL), then after it (load == NULL). */
static void test_hooks(enum seccomp_thread kind, bool *load)
{
	static const char *const marks[SECCOMP_NKINDS] = {
		"ember-seccomp-mark vmm", "ember-seccomp-mark api", "ember-seccomp-mark vcpu",
	};
	long r;

	if (load) {
		if (trace) {
			*load = false;
			r = syscall(SYS_write, -1, marks[kind], strlen(marks[kind]));
			(void)r;
		}
		return;
	}
	if ((int)kind != violate)
		return;
	switch (kind) {
	case SECCOMP_VMM:
		if (violate_open) {
			r = open("/dev/null", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
			if (r >= 0)
				close((int)r);
		} else {
			r = syscall(SYS_execve, NULL, NULL, NULL);
		}
		break;
	case SECCOMP_API:
		r = syscall(SYS_openat, AT_FDCWD, "/", 0);
		if (r >= 0)
			close((int)r);
		break;
	default:
		r = syscall(SYS_socket, AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (r >= 0)
			close((int)r);
		break;
	}
	/* Still here: no filter (--no-seccomp). Say so for the test. */
	fprintf(stderr, "ember-seccomp-test: %s made its forbidden syscall and lives\n",
		marks[kind] + sizeof("ember-seccomp-mark ") - 1);
}
#endif

#endif /* EMBER_SECCOMP_GEN */
