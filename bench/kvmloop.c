/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kvmloop: the floor for ember's exit cost. A minimal VM (one vCPU, 2 MiB of
 * memory, no devices) whose guest runs, in 64-bit mode, the same loop as
 * tests/guests/exitloop.c (out %al,%dx to port 0x510; add; cmp; jne) N times,
 * then writes 0xfe to port 0x64. The VMM loop does nothing but KVM_RUN and
 * look at the exit port.
 *
 *   kvmloop N [--irqchip]
 *
 * --irqchip also gives the VM KVM's local APICs (a split irqchip, as ember's).
 * Writes "RST" to stdout at the first exit (as bench/reset.S makes ember do:
 * the time to the first guest instruction), then, at the end,
 * "kvmloop N exits in US us (NS ns/exit)" (the KVM_RUN loop alone);
 * bench/run.sh times the whole process like ember's, to compare like with
 * like. Exits 0, or 1 with a one-line error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define MEM_SIZE   0x200000ULL
#define PML4       0x1000
#define PDPT       0x2000
#define PD         0x3000
#define CODE       0x8000
#define STACK_TOP  0x10000
#define LOOP_PORT  0x510

static void die(const char *what)
{
	fprintf(stderr, "kvmloop: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void fail(const char *msg)
{
	fprintf(stderr, "kvmloop: %s\n", msg);
	exit(1);
}

/* The loop as gcc compiles exitloop.c's, then the i8042 reset. */
static const uint8_t guest_code[] = {
	0x31, 0xc0,                   /* xor %eax,%eax */
	0xba, 0x10, 0x05, 0, 0,       /* mov $0x510,%edx */
	0xee,                         /* 1: out %al,(%dx) */
	0x48, 0x83, 0xc0, 0x01,       /* add $1,%rax */
	0x48, 0x39, 0xf0,             /* cmp %rsi,%rax */
	0x75, 0xf6,                   /* jne 1b */
	0xb0, 0xfe,                   /* mov $0xfe,%al */
	0xe6, 0x64,                   /* out %al,$0x64 */
	0xf4,                         /* hlt */
};

static void seg(struct kvm_segment *s, uint16_t sel, uint8_t type, int code)
{
	memset(s, 0, sizeof(*s));
	s->base = 0;
	s->limit = 0xffffffff;
	s->selector = sel;
	s->type = type;
	s->present = 1;
	s->dpl = 0;
	s->db = code ? 0 : 1;
	s->s = 1;
	s->l = code ? 1 : 0;
	s->g = 1;
}

int main(int argc, char **argv)
{
	struct kvm_userspace_memory_region region;
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	struct kvm_run *run;
	struct timespec t0, t1;
	unsigned long long n, exits = 0;
	int kvm, vm, vcpu, mmap_size, irqchip = 0;
	uint64_t *pt;
	uint8_t *mem;
	char *end;

	if (argc < 2 || argc > 3 || (argc == 3 && strcmp(argv[2], "--irqchip")))
		fail("usage: kvmloop N [--irqchip]");
	irqchip = argc == 3;
	errno = 0;
	n = strtoull(argv[1], &end, 10);
	if (!*argv[1] || *end || errno || n < 1 || n > 1000000000ULL || argv[1][0] == '-')
		fail("N must be a number from 1 to 1000000000");

	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		die("/dev/kvm");
	if (ioctl(kvm, KVM_GET_API_VERSION, 0) != KVM_API_VERSION)
		fail("unexpected KVM API version");
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0)
		die("KVM_CREATE_VM");
	mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		   -1, 0);
	if (mem == MAP_FAILED)
		die("mmap guest memory");
	region = (struct kvm_userspace_memory_region){
		.slot = 0, .guest_phys_addr = 0, .memory_size = MEM_SIZE,
		.userspace_addr = (uintptr_t)mem,
	};
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		die("KVM_SET_USER_MEMORY_REGION");
	/*
	 * The irqchip after the memory, as ember does: created first, it makes
	 * the memory slot's registration several ms slower here.
	 */
	if (irqchip) {
		struct kvm_enable_cap split = { .cap = KVM_CAP_SPLIT_IRQCHIP, .args = { 24 } };

		if (ioctl(vm, KVM_SET_TSS_ADDR, 0xfffbd000UL) < 0)
			die("KVM_SET_TSS_ADDR");
		if (ioctl(vm, KVM_ENABLE_CAP, &split) < 0)
			die("KVM_ENABLE_CAP(KVM_CAP_SPLIT_IRQCHIP)");
	}

	/* Identity map of the first 2 MiB with one large page. */
	pt = (uint64_t *)(mem + PML4);
	pt[0] = PDPT | 3;
	pt = (uint64_t *)(mem + PDPT);
	pt[0] = PD | 3;
	pt = (uint64_t *)(mem + PD);
	pt[0] = 0 | 0x83; /* present, writable, 2 MiB page */
	memcpy(mem + CODE, guest_code, sizeof(guest_code));

	vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	if (vcpu < 0)
		die("KVM_CREATE_VCPU");
	mmap_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (mmap_size < (int)sizeof(*run))
		die("KVM_GET_VCPU_MMAP_SIZE");
	run = mmap(NULL, (size_t)mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED)
		die("mmap kvm_run");

	if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0)
		die("KVM_GET_SREGS");
	seg(&sregs.cs, 0x8, 11, 1);
	seg(&sregs.ds, 0x10, 3, 0);
	sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
	sregs.cr3 = PML4;
	sregs.cr4 = 1u << 5;                          /* PAE */
	sregs.cr0 = 1u | (1u << 4) | (1u << 31);      /* PE, ET, PG */
	sregs.efer = (1u << 8) | (1u << 10);          /* LME, LMA */
	if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0)
		die("KVM_SET_SREGS");
	memset(&regs, 0, sizeof(regs));
	regs.rip = CODE;
	regs.rsp = STACK_TOP;
	regs.rsi = n;
	regs.rflags = 2;
	if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0)
		die("KVM_SET_REGS");

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		if (ioctl(vcpu, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			die("KVM_RUN");
		}
		if (run->exit_reason == KVM_EXIT_IO && run->io.port == LOOP_PORT) {
			if (!exits && write(1, "RST", 3) != 3)
				die("write");
			exits++;
			continue;
		}
		if (run->exit_reason == KVM_EXIT_IO && run->io.port == 0x64)
			break;
		fprintf(stderr, "kvmloop: unexpected exit reason %u after %llu exits\n",
			run->exit_reason, exits);
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (exits != n) {
		fprintf(stderr, "kvmloop: %llu exits, expected %llu\n", exits, n);
		return 1;
	}
	double us = (double)(t1.tv_sec - t0.tv_sec) * 1e6 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e3;
	printf("kvmloop %llu exits in %.0f us (%.0f ns/exit)\n", n, us, us * 1000.0 / (double)n);
	return 0;
}
