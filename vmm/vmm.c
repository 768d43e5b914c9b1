/* SPDX-License-Identifier: Apache-2.0 */
#include "vmm.h"
#include "boot_timer.h"
#include "cglimit.h"
#include "ember.h"
#include "legacy.h"
#include "logger.h"
#include "metrics.h"
#include "mptable.h"
#include "seccomp.h"
#include "term.h"
#include "../kernel-loader/loader.h"
#include "../virtio/mmio.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

/* --- the stop request: from vCPU threads and signal handlers to the VMM thread */

static struct {
	pthread_mutex_t lock;
	int fd;              /* eventfd watched by the event loop */
	int requested;
	int status;
	char msg[256];
	volatile sig_atomic_t signo;
} stop = { .lock = PTHREAD_MUTEX_INITIALIZER, .fd = -1 };

void vm_request_stop(int status, const char *fmt, ...)
{
	uint64_t one = 1;
	va_list ap;

	pthread_mutex_lock(&stop.lock);
	if (!stop.requested) {
		stop.status = status;
		if (fmt) {
			va_start(ap, fmt);
			vsnprintf(stop.msg, sizeof(stop.msg), fmt, ap);
			va_end(ap);
		}
		__atomic_store_n(&stop.requested, 1, __ATOMIC_SEQ_CST);
		if (write(stop.fd, &one, sizeof(one)) < 0)
			die(status, "%s", stop.msg[0] ? stop.msg : "stopping");
	}
	pthread_mutex_unlock(&stop.lock);
}

int vm_stop_requested(void)
{
	return __atomic_load_n(&stop.requested, __ATOMIC_SEQ_CST);
}

static void on_signal(int sig)
{
	uint64_t one = 1;

	stop.signo = sig;
	if (write(stop.fd, &one, sizeof(one)) < 0)
		_exit(EMBER_EXIT_HOST_ERROR);
}

static void on_stop(void *opaque, uint32_t events)
{
	struct evloop *l = opaque;

	(void)events;
	l->done = 1;
}

void vm_config_init(struct vm_config *c)
{
	memset(c, 0, sizeof(*c));
	c->mem_mib = DEFAULT_MEM_MIB;
	c->vcpus = DEFAULT_VCPUS;
}

void vmm_init(struct vmm *v)
{
	/* v is zeroed already (static): clearing its ~220 KB would only make it resident. */
	if (evloop_init(&v->loop) < 0 || (stop.fd = eventfd(0, EFD_CLOEXEC)) < 0 ||
	    evloop_add(&v->loop, stop.fd, EPOLLIN, on_stop, &v->loop) < 0)
		die(EMBER_EXIT_HOST_ERROR, "cannot set up the event loop: %s", strerror(errno));
	for (const int *s = (const int[]){ SIGTERM, SIGINT, SIGHUP, SIGQUIT, 0 }; *s; s++)
		signal(*s, on_signal);
	signal(SIGPIPE, SIG_IGN);
}

static int fail(int *status, int code, char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static int fail(int *status, int code, char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	*status = code;
	return -1;
}

/* Append " text" to the command line being built; false if it does not fit. */
static bool cmdline_append(char *cmdline, size_t size, const char *text)
{
	size_t used = strlen(cmdline);

	return (size_t)snprintf(cmdline + used, size - used, "%s%s", used ? " " : "", text) <
	       size - used;
}

/*
 * The devices in slot order (the root drive first, so that it is /dev/vda),
 * opened now so that a bad path is bad input, not a half-built VM.
 */
static int open_drives(struct vmm *v, const struct vm_config *c, char *cmdline,
		       size_t size, int *status, char *err, size_t errlen)
{
	char param[64];

	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i < c->ndrives; i++) {
			const struct drive_spec *s = &c->drives[i];
			struct virtio_blk *b = &v->blks[v->nblks];

			if (s->root != (pass == 0))
				continue;
			*status = EMBER_EXIT_BAD_INPUT;
			if (virtio_blk_create(b, s, &v->vm.mem, &v->loop, err, errlen) < 0)
				return -1;
			v->nblks++;
			if (virtio_mmio_param(v->nblks - 1, param, sizeof(param)) < 0 ||
			    !cmdline_append(cmdline, size, param) ||
			    (s->root && !cmdline_append(cmdline, size, s->read_only ?
							"root=/dev/vda ro" : "root=/dev/vda rw")))
				return fail(status, EMBER_EXIT_BAD_INPUT, err, errlen,
					    "kernel command line too long for the devices");
		}
	}
	return 0;
}

/* The NICs take the slots after the drives. */
static int open_nets(struct vmm *v, const struct vm_config *c, char *cmdline,
		     size_t size, int *status, char *err, size_t errlen)
{
	char param[64];

	for (int i = 0; i < c->nnets; i++) {
		const struct net_spec *s = &c->nets[i];

		*status = EMBER_EXIT_BAD_INPUT;
		if (virtio_net_create(&v->nets[v->nnets], s->tap, s->has_mac ? s->mac : NULL,
				      &v->vm.mem, &v->loop, err, errlen) < 0)
			return -1;
		v->nnets++;
		if (virtio_mmio_param(v->nblks + v->nnets - 1, param, sizeof(param)) < 0 ||
		    !cmdline_append(cmdline, size, param))
			return fail(status, EMBER_EXIT_BAD_INPUT, err, errlen,
				    "kernel command line too long for the devices");
	}
	return 0;
}

/* A failed boot gives back the files and TAPs it opened, so it can be retried. */
static void close_devices(struct vmm *v)
{
	for (int i = 0; i < v->nblks; i++)
		close(v->blks[i].fd);
	v->nblks = 0;
	for (int i = 0; i < v->nnets; i++)
		virtio_net_destroy(v->nets[i]);
	v->nnets = 0;
}

/* What ember needs beside guest memory, about: below it, a warning. */
#define MEM_LIMIT_HEADROOM (16ULL << 20)

/* "64 MiB", or "67108865 bytes" when not a whole number of MiB. */
static const char *mem_size(uint64_t bytes, char *buf, size_t len)
{
	if (bytes & ((1ULL << 20) - 1))
		snprintf(buf, len, "%llu bytes", (unsigned long long)bytes);
	else
		snprintf(buf, len, "%llu MiB", (unsigned long long)(bytes >> 20));
	return buf;
}

/*
 * A guest larger than the cgroup's memory limit would get ember OOM-killed
 * (SIGKILL, not a word) once it has touched enough of its memory, or later:
 * refused here instead.
 */
static int check_mem_limit(struct vmm *v, const struct vm_config *c, int *status, char *err,
			   size_t errlen)
{
	const char *file = "given by --cgroup-memory-limit";
	uint64_t limit = v->has_mem_limit ? v->mem_limit : cg_memory_limit(&file);
	uint64_t guest = c->mem_mib << 20;
	char buf[32];

	if (limit == CG_NO_LIMIT)
		return 0;
	if (guest > limit)
		return fail(status, EMBER_EXIT_BAD_INPUT, err, errlen,
			    "the guest's %llu MiB of memory do not fit the cgroup memory limit of "
			    "%s (%s)", (unsigned long long)c->mem_mib,
			    mem_size(limit, buf, sizeof(buf)), file);
	if (limit - guest < MEM_LIMIT_HEADROOM)
		LOG_WARN("the cgroup memory limit of %s (%s) leaves ember %llu KiB beside the "
			 "guest's %llu MiB of memory: it may be OOM-killed",
			 mem_size(limit, buf, sizeof(buf)), file,
			 (unsigned long long)((limit - guest) >> 10), (unsigned long long)c->mem_mib);
	return 0;
}

static void net_stats(void *n, struct virtio_net_stats *st)
{
	virtio_net_get_stats(n, st);
}

int vmm_boot(struct vmm *v, const struct vm_config *c, int *status, char *err, size_t errlen)
{
	uint64_t start_ns = boot_timer_now_ns(); /* InstanceStart */
	struct kernel_info ki;
	const uint8_t *kernel, *initrd = NULL;
	size_t kernel_len, initrd_len = 0;
	uint64_t initrd_addr = 0;
	char cmdline[CMDLINE_MAX_SIZE * 2] = "";
	char why[256];
	int r = -1;

	/* Everything about the input is checked before KVM is touched. */
	if (v->booted)
		return fail(status, EMBER_EXIT_BAD_INPUT, err, errlen, "the VM is already running");
	if (c->mem_mib < GUEST_MEM_MIN_MIB || c->mem_mib > GUEST_MEM_MAX_MIB)
		return fail(status, EMBER_EXIT_BAD_INPUT, err, errlen,
			    "memory size %llu MiB is not from %llu to %llu",
			    (unsigned long long)c->mem_mib, GUEST_MEM_MIN_MIB, GUEST_MEM_MAX_MIB);
	if (c->vcpus < 1 || c->vcpus > GUEST_VCPUS_MAX)
		return fail(status, EMBER_EXIT_BAD_INPUT, err, errlen,
			    "vCPU count %d is not from 1 to %d", c->vcpus, GUEST_VCPUS_MAX);
	if (!c->kernel[0])
		return fail(status, EMBER_EXIT_BAD_INPUT, err, errlen, "no kernel given");
	if (check_mem_limit(v, c, status, err, errlen) < 0)
		return -1;
	kernel = map_file(c->kernel, &kernel_len, why, sizeof(why));
	if (!kernel)
		return fail(status, EMBER_EXIT_BAD_INPUT, err, errlen, "kernel: %s", why);
	if (c->initrd[0]) {
		initrd = map_file(c->initrd, &initrd_len, why, sizeof(why));
		if (!initrd) {
			fail(status, EMBER_EXIT_BAD_INPUT, err, errlen, "initrd: %s", why);
			goto unmap;
		}
	}
	if (gm_alloc(&v->vm.mem, c->mem_mib << 20) < 0) {
		fail(status, EMBER_EXIT_HOST_ERROR, err, errlen,
		     "cannot map %llu MiB of guest memory: %s",
		     (unsigned long long)c->mem_mib, strerror(errno));
		goto unmap;
	}
	*status = EMBER_EXIT_BAD_INPUT;
	if (load_kernel(&v->vm.mem, kernel, kernel_len, &ki, why, sizeof(why)) < 0) {
		fail(status, EMBER_EXIT_BAD_INPUT, err, errlen, "kernel %s: %s", c->kernel, why);
		goto free_mem;
	}
	if (initrd && load_initrd(&v->vm.mem, &ki, initrd, initrd_len, &initrd_addr, why,
				  sizeof(why)) < 0) {
		fail(status, EMBER_EXIT_BAD_INPUT, err, errlen, "initrd %s: %s", c->initrd, why);
		goto free_mem;
	}
	if (mptable_write(&v->vm.mem, c->vcpus, err, errlen) < 0)
		goto free_mem;
	cmdline_append(cmdline, sizeof(cmdline), c->cmdline_replaces ? c->cmdline : DEFAULT_CMDLINE);
	if (open_drives(v, c, cmdline, sizeof(cmdline), status, err, errlen) < 0 ||
	    open_nets(v, c, cmdline, sizeof(cmdline), status, err, errlen) < 0)
		goto close;
	if (!c->cmdline_replaces && c->cmdline[0] &&
	    !cmdline_append(cmdline, sizeof(cmdline), c->cmdline)) {
		fail(status, EMBER_EXIT_BAD_INPUT, err, errlen, "kernel command line too long");
		goto close;
	}
	if (write_boot_params(&v->vm.mem, &ki, cmdline, initrd_addr, initrd_len, err, errlen) < 0)
		goto close;
	r = 0;
close:
	if (r < 0)
		close_devices(v);
free_mem:
	if (r < 0)
		gm_free(&v->vm.mem);
unmap:
	munmap((void *)kernel, kernel_len);
	if (initrd)
		munmap((void *)initrd, initrd_len);
	if (r < 0)
		return r;

	/* From here on a failure is the host's: KVM or resources. */
	vm_create(&v->vm, c->vcpus);
	for (int i = 0; i < v->nblks; i++)
		virtio_mmio_add(&v->vm, &v->blks[i].dev);
	for (int i = 0; i < v->nnets; i++)
		virtio_mmio_add(&v->vm, virtio_net_dev(v->nets[i]));
	if (c->boot_timer && boot_timer_init(&v->vm, start_ns) < 0)
		die(EMBER_EXIT_HOST_ERROR, "cannot map the boot timer");
	for (int i = 0; i < v->nblks; i++)
		if (metrics_add_block(v->blks[i].spec.id, &v->blks[i].stats) < 0)
			warn("no metrics for drive %s", v->blks[i].spec.id);
	for (int i = 0; i < v->nnets; i++)
		if (metrics_add_net(c->nets[i].id[0] ? c->nets[i].id : c->nets[i].tap, net_stats,
				    v->nets[i]) < 0)
			warn("no metrics for network interface %s", c->nets[i].tap);
	vm_write_boot_tables(&v->vm);
	legacy_init(&v->vm);
	i8042_init(&v->i8042, &v->vm);
	serial_init(&v->com1, &v->vm, SERIAL_COM1_BASE, SERIAL_COM1_IRQ, STDOUT_FILENO);
	vm_create_vcpus(&v->vm, ki.entry);

	term_raw(STDIN_FILENO);
	serial_attach_input(&v->com1, &v->loop, STDIN_FILENO);
	vm_start_vcpus(&v->vm);
	v->booted = true;
	seccomp_vmm_booted(); /* seccomp: the VMM filter, once the loop serves too */
	return 0;
}

static int need_running(struct vmm *v, char *err, size_t errlen)
{
	if (!v->booted) {
		snprintf(err, errlen, "the VM is not running (InstanceStart first)");
		return -1;
	}
	return 0;
}

int vmm_pause(struct vmm *v, char *err, size_t errlen)
{
	if (need_running(v, err, errlen) < 0)
		return -1;
	if (!v->paused && vm_pause_vcpus(&v->vm) < 0) {
		snprintf(err, errlen, "the VM is stopping");
		return -1;
	}
	v->paused = true;
	return 0;
}

int vmm_resume(struct vmm *v, char *err, size_t errlen)
{
	if (need_running(v, err, errlen) < 0)
		return -1;
	if (v->paused)
		vm_resume_vcpus(&v->vm);
	v->paused = false;
	return 0;
}

int vmm_ctrl_alt_del(struct vmm *v, char *err, size_t errlen)
{
	if (need_running(v, err, errlen) < 0)
		return -1;
	if (i8042_ctrl_alt_del(&v->i8042) < 0) {
		snprintf(err, errlen, "the i8042 output buffer is full; try again");
		return -1;
	}
	return 0;
}

int vmm_drive_update(struct vmm *v, const char *id, const char *path, char *err, size_t errlen)
{
	if (need_running(v, err, errlen) < 0)
		return -1;
	for (int i = 0; i < v->nblks; i++)
		if (!strcmp(v->blks[i].spec.id, id))
			return virtio_blk_set_backing(&v->blks[i], path, err, errlen);
	snprintf(err, errlen, "no drive with id '%s'", id);
	return -1;
}

int vmm_run(struct vmm *v)
{
	seccomp_vmm_serving(); /* seccomp: the VMM filter, once the VM is booted too */
	evloop_run(&v->loop);
	if (!stop.requested)
		vm_request_stop(EMBER_EXIT_HOST_ERROR, "stopped by signal %d", (int)stop.signo);
	if (v->booted)
		vm_stop_vcpus(&v->vm);
	term_restore();
	pthread_mutex_lock(&stop.lock);
	if (stop.msg[0])
		fprintf(stderr, "ember: %s\n", stop.msg);
	return stop.status;
}
