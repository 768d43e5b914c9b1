/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Seccomp allowlists, one per thread kind, as Firecracker has them: the VMM
 * thread (the event loop, and the API handler running on it), each vCPU
 * thread, and the API thread. The lists live in seccomp.c and are compiled
 * to BPF at build time (libseccomp is a build tool only; see
 * tests/seccomp/seccomp.mk); ember installs the BPF with seccomp(2).
 *
 * A syscall that is not allowed traps (SIGSYS): the handler writes
 * "ember: seccomp: thread <name> made forbidden syscall <nr>" on standard
 * error and ends the process with status 148 (Firecracker's). ioctl() is
 * allowed by request number only.
 *
 * When each filter goes on:
 *   vCPU  in its thread, before the first KVM_RUN;
 *   API   in its thread, before it accepts a connection;
 *   VMM   once the VM is built (vCPU threads started) AND the event loop is
 *         about to serve it: the loop is where guest-driven work (virtio
 *         queues, the TAP, the API after boot) runs. Building the VM (files,
 *         guest memory, KVM objects, threads) happens before, so the VMM list
 *         has none of it (Firecracker too applies its VMM filter after
 *         building the microVM). Before InstanceStart there is no guest, and
 *         the VMM thread only serves the pre-boot API, unfiltered.
 * Filters are per thread (no TSYNC): each thread gets exactly one, as
 * every thread is created before its creator's filter goes on.
 */
#ifndef EMBER_SECCOMP_H
#define EMBER_SECCOMP_H

#include <stdbool.h>

/* Firecracker's exit status for a forbidden syscall. */
#define EMBER_EXIT_SECCOMP 148

enum seccomp_thread {
	SECCOMP_VMM,
	SECCOMP_API,
	SECCOMP_VCPU,
	SECCOMP_NKINDS,
};

/*
 * From main(), before any thread is started: the SIGSYS handler; enabled
 * false (--no-seccomp) makes every other call here a no-op.
 */
void seccomp_setup(bool enabled);

/*
 * Install the calling thread's filter (API and vCPU threads); id is the
 * vCPU index (unused for the API thread). Dies (status 1) if the kernel
 * refuses the filter.
 */
void seccomp_install(enum seccomp_thread kind, int id);

/*
 * The VMM thread's two conditions for its filter (see above), in either
 * order: the VM was built and its vCPU threads started (end of vmm_boot),
 * and the event loop is about to run (vmm_run). The filter goes on when
 * both have happened.
 */
void seccomp_vmm_booted(void);
void seccomp_vmm_serving(void);

#endif
