/* SPDX-License-Identifier: Apache-2.0 */
/*
 * seccomp-gen, a build-time tool (never part of ember): ember's seccomp
 * allowlists (the table below), compiled with the host's libseccomp into
 * one BPF program per thread kind ($(BUILD)/seccomp/seccomp_bpf.h, which
 * vmm/seccomp.c installs), and written as text for tests/seccomp
 * (allowlists.txt).
 *
 * Every list is as small as ember's code allows: each entry says who needs
 * it. Arguments are checked where that is cheap and the set of values is
 * known: ioctl requests, fcntl commands, futex operations, the signal kicked
 * vCPUs get, anonymous read-write memory only (no PROT_EXEC mapping).
 * ioctl requests are compared on their low 32 bits: musl passes the int
 * request sign-extended (KVM_GET_REGS arrives as 0xffffffff8090ae81), and
 * the kernel itself only looks at those 32 bits.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* F_GETPIPE_SZ */
#endif
#include "vmm/seccomp.h"

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
	ANY(VMM, "getrandom"),      /* the MMDS: TCP sequence numbers, session tokens */
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
	IOCTL(VCPU, KVM_SET_GSI_ROUTING), /* the guest programs the IOAPIC (vmm/ioapic.c) */
	IOCTL(VMM, TCSETS),         /* the terminal restored at exit */
	/* Pause: a guest on kvmclock learns that it was stopped. */
	IOCTL(VMM, KVM_KVMCLOCK_CTRL),
	/* PUT /snapshot/create (paused): the VM's and every vCPU's state ... */
	IOCTL(VMM, KVM_GET_TSC_KHZ), IOCTL(VMM, KVM_GET_CLOCK), IOCTL(VMM, KVM_CHECK_EXTENSION),
	IOCTL(VMM, KVM_GET_MSR_INDEX_LIST), IOCTL(VMM, KVM_GET_MP_STATE),
	IOCTL(VMM, KVM_GET_REGS), IOCTL(VMM, KVM_GET_SREGS), IOCTL(VMM, KVM_GET_XSAVE),
	IOCTL(VMM, KVM_GET_XSAVE2), IOCTL(VMM, KVM_GET_XCRS), IOCTL(VMM, KVM_GET_DEBUGREGS),
	IOCTL(VMM, KVM_GET_LAPIC), IOCTL(VMM, KVM_GET_VCPU_EVENTS), IOCTL(VMM, KVM_GET_CPUID2),
	IOCTL(VMM, KVM_GET_MSRS), IOCTL(VMM, KVM_GET_DIRTY_LOG), /* Diff: the guest's writes */
	/* ... into its two files, created or cut (never blocking), memory with holes. */
	ARG(VMM, "open", "O_WRONLY|O_CREAT|O_NONBLOCK|O_NOCTTY|O_CLOEXEC", 1,
	    0xffffffffu & ~SYS_O_LARGEFILE, O_WRONLY | O_CREAT | O_NONBLOCK | O_NOCTTY | O_CLOEXEC),
	ANY(VMM, "ftruncate"),
	ANY(VMM, "pwrite64"),
	ANY(VMM, "fsync"),
	/* Full: pages never touched are holes unread (gm_dump: no swap, mincore). */
	ANY(VMM, "sysinfo"),
	ANY(VMM, "mincore"),
	ARG(VMM, "tkill", "SIGUSR1", 1, 0xffffffffu, SIGUSR1), /* kick vCPUs: pause, stop */
	/* The Uffd backend's SIGIO handler: has the page fault handler closed its socket? */
	ANY(VMM, "poll"),
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
	fprintf(h, "/* Generated from vmm/seccomp_gen.c by seccomp-gen (libseccomp %u.%u.%u): "
		"do not edit. */\n", SCMP_VER_MAJOR, SCMP_VER_MINOR, SCMP_VER_MICRO);
	fprintf(l, "# ember's seccomp allowlists (generated from vmm/seccomp_gen.c)\n"
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
