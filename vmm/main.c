/* SPDX-License-Identifier: Apache-2.0 */
/* ember: boot a Linux kernel directly on KVM with a serial console. */
#include "ember.h"
#include "evloop.h"
#include "layout.h"
#include "legacy.h"
#include "mptable.h"
#include "serial.h"
#include "term.h"
#include "vm.h"
#include "../kernel-loader/loader.h"
#include "../virtio/blk.h"
#include "../virtio/mmio.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#define DEFAULT_CMDLINE "console=ttyS0 reboot=k panic=1"
#define DEFAULT_MEM_MIB 128
#define DEFAULT_VCPUS   1

static const char usage_text[] =
"NAME\n"
"    ember - a minimal virtual machine monitor for single-application microVMs\n"
"\n"
"SYNOPSIS\n"
"    ember --kernel PATH [--initrd PATH] [--cmdline STR] [--mem-mib N] [--vcpus N]\n"
"          [--drive path=FILE[,id=ID][,ro][,root]]...\n"
"    ember --help | --version\n"
"\n"
"DESCRIPTION\n"
"    Boots a Linux kernel directly on KVM, without BIOS or firmware, with an\n"
"    8250 serial console on standard input and output (a terminal is put in raw\n"
"    mode, so every key, Ctrl-C included, goes to the guest). ember exits when\n"
"    the guest resets or powers off (e.g. `reboot` in the guest).\n"
"\n"
"OPTIONS\n"
"    --kernel PATH    the guest kernel: an ELF vmlinux or a bzImage (boot\n"
"                     protocol 2.12 or later, 64-bit entry)\n"
"    --initrd PATH    an initial ramdisk, placed at the top of low memory\n"
"    --cmdline STR    appended to the kernel command line, which starts with\n"
"                     \"" DEFAULT_CMDLINE "\"\n"
"    --mem-mib N      guest memory in MiB, 8 to 1048576 (default 128)\n"
"    --vcpus N        number of vCPUs, 1 to 32 (default 1), each on its own thread\n"
"    --drive path=FILE[,id=ID][,ro][,root]\n"
"                     a virtio-blk disk backed by a raw file (repeatable). id is\n"
"                     what the guest reads as the disk's serial (default drive<n>);\n"
"                     ro refuses guest writes; the root drive (at most one) is\n"
"                     /dev/vda and adds \"root=/dev/vda rw\" (or ro) to the command line\n"
"    -h, --help       this text\n"
"    -V, --version    the version\n"
"\n"
"EXIT STATUS\n"
"    0  the guest reset or shut down\n"
"    1  a host failure (KVM unavailable or an ioctl failed)\n"
"    2  bad input: usage, an unreadable or malformed kernel or initrd, a value\n"
"       out of range\n"
"    3  the guest crashed: triple fault, KVM internal error (the message names\n"
"       the vCPU and its RIP), an unexpected exit\n"
"    Every error is one line on standard error starting with \"ember: \".\n";

#define MAX_DRIVES 8

struct options {
	const char *kernel;
	const char *initrd;
	const char *cmdline;
	uint64_t mem_mib;
	int vcpus;
	struct drive_spec drives[MAX_DRIVES];
	int ndrives;
};

static uint64_t parse_num(const char *opt, const char *s, uint64_t min, uint64_t max)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (!*s || *end || errno || s[0] == '-' || s[0] == '+' || v < min || v > max)
		die(EMBER_EXIT_BAD_INPUT, "%s: '%s' is not a number from %llu to %llu", opt, s,
		    (unsigned long long)min, (unsigned long long)max);
	return v;
}

static void parse_args(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "kernel", required_argument, NULL, 'k' },
		{ "initrd", required_argument, NULL, 'i' },
		{ "cmdline", required_argument, NULL, 'c' },
		{ "mem-mib", required_argument, NULL, 'm' },
		{ "vcpus", required_argument, NULL, 'n' },
		{ "drive", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	char err[256];
	int c, roots = 0;

	*o = (struct options){ .mem_mib = DEFAULT_MEM_MIB, .vcpus = DEFAULT_VCPUS };
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'k': o->kernel = optarg; break;
		case 'i': o->initrd = optarg; break;
		case 'c': o->cmdline = optarg; break;
		case 'm':
			o->mem_mib = parse_num("--mem-mib", optarg, GUEST_MEM_MIN_MIB,
					       GUEST_MEM_MAX_MIB);
			break;
		case 'n':
			o->vcpus = parse_num("--vcpus", optarg, 1, GUEST_VCPUS_MAX);
			break;
		case 'd':
			if (o->ndrives == MAX_DRIVES)
				die(EMBER_EXIT_BAD_INPUT, "--drive: at most %d drives", MAX_DRIVES);
			if (drive_parse(optarg, o->ndrives, &o->drives[o->ndrives], err,
					sizeof(err)) < 0)
				die(EMBER_EXIT_BAD_INPUT, "%s", err);
			for (int i = 0; i < o->ndrives; i++)
				if (!strcmp(o->drives[i].id, o->drives[o->ndrives].id))
					die(EMBER_EXIT_BAD_INPUT, "--drive: id '%s' used twice",
					    o->drives[i].id);
			roots += o->drives[o->ndrives++].root;
			if (roots > 1)
				die(EMBER_EXIT_BAD_INPUT, "--drive: only one drive can be root");
			break;
		case 'h':
			fputs(usage_text, stdout);
			exit(0);
		case 'V':
			printf("ember %s\n", EMBER_VERSION);
			exit(0);
		case ':':
			die(EMBER_EXIT_BAD_INPUT, "%s needs a value (see ember --help)",
			    argv[optind - 1]);
		default:
			die(EMBER_EXIT_BAD_INPUT, "unknown option '%s' (see ember --help)",
			    argv[optind - 1]);
		}
	}
	if (optind < argc)
		die(EMBER_EXIT_BAD_INPUT, "unexpected argument '%s' (see ember --help)",
		    argv[optind]);
	if (!o->kernel)
		die(EMBER_EXIT_BAD_INPUT, "--kernel is required (see ember --help)");
}

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
		__atomic_store_n(&stop.requested, 1, __ATOMIC_SEQ_CST);
		stop.status = status;
		if (fmt) {
			va_start(ap, fmt);
			vsnprintf(stop.msg, sizeof(stop.msg), fmt, ap);
			va_end(ap);
		}
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

/* Append " text" to the command line being built; false if it does not fit. */
static bool cmdline_append(char *cmdline, size_t size, const char *text)
{
	size_t used = strlen(cmdline);

	return (size_t)snprintf(cmdline + used, size - used, " %s", text) < size - used;
}

/* Drives in order, the root drive first so that it is /dev/vda. */
static void add_drives(struct vm *vm, struct evloop *loop, struct options *o,
		       char *cmdline, size_t size)
{
	static struct virtio_blk blks[MAX_DRIVES];
	char err[512];
	int n = 0;

	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i < o->ndrives; i++) {
			struct drive_spec *s = &o->drives[i];

			if (s->root != (pass == 0))
				continue;
			if (virtio_blk_create(&blks[n], s, &vm->mem, loop, err, sizeof(err)) < 0)
				die(EMBER_EXIT_BAD_INPUT, "%s", err);
			virtio_mmio_add(vm, &blks[n].dev, cmdline, size);
			n++;
			if (s->root && !cmdline_append(cmdline, size, s->read_only ?
						       "root=/dev/vda ro" : "root=/dev/vda rw"))
				die(EMBER_EXIT_BAD_INPUT, "kernel command line too long");
		}
	}
}

int main(int argc, char **argv)
{
	static struct vm vm;
	static struct serial com1;
	struct options o;
	struct kernel_info ki;
	struct evloop loop;
	const uint8_t *kernel, *initrd = NULL;
	size_t kernel_len, initrd_len = 0;
	uint64_t initrd_addr = 0;
	char err[256];
	char cmdline[CMDLINE_MAX_SIZE * 2] = DEFAULT_CMDLINE;

	parse_args(argc, argv, &o);

	/* Everything about the input is checked before KVM is touched. */
	kernel = map_file(o.kernel, &kernel_len, err, sizeof(err));
	if (!kernel)
		die(EMBER_EXIT_BAD_INPUT, "kernel: %s", err);
	if (o.initrd) {
		initrd = map_file(o.initrd, &initrd_len, err, sizeof(err));
		if (!initrd)
			die(EMBER_EXIT_BAD_INPUT, "initrd: %s", err);
	}
	if (gm_alloc(&vm.mem, o.mem_mib << 20) < 0)
		die(EMBER_EXIT_HOST_ERROR, "cannot map %llu MiB of guest memory: %s",
		    (unsigned long long)o.mem_mib, strerror(errno));
	if (load_kernel(&vm.mem, kernel, kernel_len, &ki, err, sizeof(err)) < 0)
		die(EMBER_EXIT_BAD_INPUT, "kernel %s: %s", o.kernel, err);
	if (initrd && load_initrd(&vm.mem, &ki, initrd, initrd_len, &initrd_addr, err,
				  sizeof(err)) < 0)
		die(EMBER_EXIT_BAD_INPUT, "initrd %s: %s", o.initrd, err);
	if (o.cmdline && strlen(o.cmdline) >= CMDLINE_MAX_SIZE)
		die(EMBER_EXIT_BAD_INPUT, "--cmdline: longer than %llu bytes",
		    CMDLINE_MAX_SIZE - 1);
	if (mptable_write(&vm.mem, o.vcpus, err, sizeof(err)) < 0)
		die(EMBER_EXIT_BAD_INPUT, "%s", err);
	munmap((void *)kernel, kernel_len);
	if (initrd)
		munmap((void *)initrd, initrd_len);

	/* The event loop and the stop request exist before any vCPU runs. */
	if (evloop_init(&loop) < 0 || (stop.fd = eventfd(0, EFD_CLOEXEC)) < 0 ||
	    evloop_add(&loop, stop.fd, EPOLLIN, on_stop, &loop) < 0)
		die(EMBER_EXIT_HOST_ERROR, "cannot set up the event loop: %s", strerror(errno));
	for (const int *s = (const int[]){ SIGTERM, SIGINT, SIGHUP, SIGQUIT, 0 }; *s; s++)
		signal(*s, on_signal);
	signal(SIGPIPE, SIG_IGN);

	vm_create(&vm, o.vcpus);
	add_drives(&vm, &loop, &o, cmdline, sizeof(cmdline));
	if (o.cmdline && !cmdline_append(cmdline, sizeof(cmdline), o.cmdline))
		die(EMBER_EXIT_BAD_INPUT, "kernel command line too long");
	if (write_boot_params(&vm.mem, &ki, cmdline, initrd_addr, initrd_len, err,
			      sizeof(err)) < 0)
		die(EMBER_EXIT_BAD_INPUT, "%s", err);
	vm_write_boot_tables(&vm);
	legacy_init(&vm);
	serial_init(&com1, &vm, SERIAL_COM1_BASE, SERIAL_COM1_IRQ, STDOUT_FILENO);
	vm_create_vcpus(&vm, ki.entry);

	term_raw(STDIN_FILENO);
	serial_attach_input(&com1, &loop, STDIN_FILENO);
	vm_start_vcpus(&vm);
	evloop_run(&loop);
	if (!stop.requested)
		vm_request_stop(EMBER_EXIT_HOST_ERROR, "stopped by signal %d", (int)stop.signo);
	vm_stop_vcpus(&vm);

	term_restore();
	pthread_mutex_lock(&stop.lock);
	if (stop.msg[0])
		fprintf(stderr, "ember: %s\n", stop.msg);
	exit(stop.status);
}
