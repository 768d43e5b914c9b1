/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The installation of ember's seccomp filters (seccomp.h says which thread
 * gets which list, and when) and the report of a forbidden syscall from the
 * SIGSYS handler. The lists themselves are in vmm/seccomp_gen.c, compiled to
 * BPF at build time ($(BUILD)/seccomp/seccomp_bpf.h, included below): ember
 * has no libseccomp in it and builds no filter at start-up. With
 * -DEMBER_SECCOMP_TEST (build/tests/seccomp/ember-seccomp-test only, never
 * build/ember) it also has test hooks: see the end of the file.
 */
#include "vmm/seccomp.h"
#include "core/ember.h"
#include "core/logger.h"

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

