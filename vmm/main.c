/* SPDX-License-Identifier: Apache-2.0 */
/* ember: boot a Linux kernel directly on KVM with a serial console. */
#include "ember.h"
#include "vmm.h"

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


static const char usage_text[] =
"NAME\n"
"    ember - a minimal virtual machine monitor for single-application microVMs\n"
"\n"
"SYNOPSIS\n"
"    ember --kernel PATH [--initrd PATH] [--cmdline STR] [--mem-mib N] [--vcpus N]\n"
"          [--drive path=FILE[,id=ID][,ro][,root]]... [--net tap=NAME[,mac=MAC]]...\n"
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
"    --net tap=NAME[,mac=MAC]\n"
"                     a virtio-net NIC on the host TAP device NAME (repeatable),\n"
"                     with checksum/TSO offloads; MAC as XX:XX:XX:XX:XX:XX\n"
"                     (default: a random locally administered one)\n"
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

/* Copy a path or command line argument, refusing what does not fit. */
static void copy_arg(char *dst, size_t size, const char *opt, const char *val)
{
	if (strlen(val) >= size)
		die(EMBER_EXIT_BAD_INPUT, "%s: longer than %zu bytes", opt, size - 1);
	strcpy(dst, val);
}

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

static void parse_args(int argc, char **argv, struct vm_config *o)
{
	static const struct option longopts[] = {
		{ "kernel", required_argument, NULL, 'k' },
		{ "initrd", required_argument, NULL, 'i' },
		{ "cmdline", required_argument, NULL, 'c' },
		{ "mem-mib", required_argument, NULL, 'm' },
		{ "vcpus", required_argument, NULL, 'n' },
		{ "drive", required_argument, NULL, 'd' },
		{ "net", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	char err[256];
	int c, roots = 0;

	vm_config_init(o);
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'k': copy_arg(o->kernel, sizeof(o->kernel), "--kernel", optarg); break;
		case 'i': copy_arg(o->initrd, sizeof(o->initrd), "--initrd", optarg); break;
		case 'c': copy_arg(o->cmdline, sizeof(o->cmdline), "--cmdline", optarg); break;
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
		case 't': {
			struct net_spec *n = &o->nets[o->nnets];

			if (o->nnets == MAX_NETS)
				die(EMBER_EXIT_BAD_INPUT, "--net: at most %d NICs", MAX_NETS);
			if (virtio_net_parse(optarg, n->tap, sizeof(n->tap), n->mac, &n->has_mac,
					     err, sizeof(err)) < 0)
				die(EMBER_EXIT_BAD_INPUT, "--net: %s", err);
			for (int i = 0; i < o->nnets; i++)
				if (!strcmp(o->nets[i].tap, n->tap))
					die(EMBER_EXIT_BAD_INPUT, "--net: TAP '%s' used twice", n->tap);
			o->nnets++;
			break;
		}
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
	if (!o->kernel[0])
		die(EMBER_EXIT_BAD_INPUT, "--kernel is required (see ember --help)");
}

int main(int argc, char **argv)
{
	static struct vmm vmm;
	static struct vm_config cfg;
	char err[512];
	int status;

	parse_args(argc, argv, &cfg);
	vmm_init(&vmm);
	if (vmm_boot(&vmm, &cfg, &status, err, sizeof(err)) < 0)
		die(status, "%s", err);
	return vmm_run(&vmm);
}
