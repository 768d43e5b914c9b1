/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ember: boot a Linux kernel directly on KVM with a serial console, from
 * the command line (--kernel ...) or, like Firecracker, from its HTTP API
 * on a Unix socket and/or a JSON --config-file.
 */
#include "api-socket/api.h"
#include "api-socket/config.h"
#include "api-socket/json.h"
#include "api-socket/server.h"
#include "api-socket/vm_config.h"
#include "core/ember.h"
#include "core/logger.h"
#include "core/metrics.h"
#include "main/vmm.h"
#include "mmds/mmds.h"
#include "virtio/net.h"
#include "vmm/seccomp.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_CLONES 256 /* --clones */

#define STR_(x) #x
#define STR(x) STR_(x)

static const char usage_text[] =
"NAME\n"
"    ember - a minimal virtual machine monitor for single-application microVMs\n"
"\n"
"SYNOPSIS\n"
"    ember --kernel PATH [--initrd PATH] [--cmdline STR] [--mem-mib N] [--vcpus N]\n"
"          [--drive path=FILE[,id=ID][,ro][,root]]... [--net tap=NAME[,mac=MAC]]...\n"
"          [LOGGING]\n"
"    ember [--api-sock PATH] [--config-file FILE] [--id ID] [LOGGING] [...]\n"
"    ember --no-api --config-file FILE [--id ID] [LOGGING]\n"
"    ember --help | --version\n"
"\n"
"DESCRIPTION\n"
"    Boots a Linux kernel directly on KVM, without BIOS or firmware, with an\n"
"    8250 serial console on standard input and output (a terminal is put in raw\n"
"    mode, so every key, Ctrl-C included, goes to the guest). ember exits when\n"
"    the guest resets or powers off (e.g. `reboot` in the guest).\n"
"\n"
"    With --kernel, the command line describes the VM and it starts at once.\n"
"    Otherwise ember behaves like Firecracker: it serves Firecracker's HTTP API\n"
"    on a Unix socket (PUT /boot-source, /machine-config, /drives/ID,\n"
"    /network-interfaces/ID, /logger, /metrics, /serial, /actions; PATCH /vm,\n"
"    /drives/ID...; GET /, /version, /vm/config, /machine-config) and starts\n"
"    the VM on {\"action_type\": \"InstanceStart\"}, or at once from a\n"
"    --config-file in Firecracker's JSON format.\n"
"\n"
"OPTIONS (direct)\n"
"    --kernel PATH    the guest kernel: an ELF vmlinux or a bzImage (boot\n"
"                     protocol 2.12 or later, 64-bit entry)\n"
"    --initrd PATH    an initial ramdisk, placed at the top of low memory\n"
"    --cmdline STR    appended to the kernel command line, which starts with\n"
"                     \"" DEFAULT_CMDLINE "\"\n"
"    --mem-mib N      guest memory in MiB, 8 to 1048576 (default 128)\n"
"    --vcpus N        number of vCPUs, 1 to 32 (default 1), each on its own thread\n"
"    --smt            two threads per core (machine-config's smt; --vcpus 1\n"
"                     or even)\n"
"    --huge-pages None|Transparent|2M\n"
"                     what backs guest memory (machine-config's huge_pages):\n"
"                     4 KiB pages, the same advised to THP, or 2 MiB hugetlbfs\n"
"                     pages, all taken from the pool at start (even --mem-mib)\n"
"    --drive path=FILE[,id=ID][,ro][,root]\n"
"                     a virtio-blk disk backed by a raw file (repeatable). id is\n"
"                     what the guest reads as the disk's serial (default drive<n>);\n"
"                     ro refuses guest writes; the root drive (at most one) is\n"
"                     /dev/vda and adds \"root=/dev/vda rw\" (or ro) to the command line\n"
"    --net tap=NAME[,mac=MAC]\n"
"                     a virtio-net NIC on the host TAP device NAME (repeatable),\n"
"                     with checksum/TSO offloads; MAC as XX:XX:XX:XX:XX:XX\n"
"                     (default: a random locally administered one)\n"
"\n"
"OPTIONS (Firecracker's)\n"
"    --api-sock PATH  the API's Unix socket (default " API_DEFAULT_SOCK ",\n"
"                     Firecracker's); refused when PATH exists. At most\n"
"                     " STR(API_MAX_CONNS) " connections (more get 503); a request must arrive\n"
"                     within " STR(API_IDLE_TIMEOUT_MS) " ms (else 408), and a connection idle\n"
"                     between requests is closed after " STR(API_KEEPALIVE_TIMEOUT_MS) " ms\n"
"    --config-file FILE\n"
"                     start the VM at once from FILE: Firecracker's JSON with\n"
"                     \"boot-source\", \"drives\" and optionally \"machine-config\",\n"
"                     \"network-interfaces\", \"logger\", \"metrics\"\n"
"    --no-api         no API socket (needs --config-file or --restore)\n"
"    --restore SNAPSHOT --restore-mem MEMFILE [--resume]\n"
"                     start the VM a snapshot holds (PUT /snapshot/create wrote\n"
"                     both files), as PUT /snapshot/load does: paused until\n"
"                     PATCH /vm resumes it, or running at once with --resume\n"
"    --restore SNAPSHOT --restore-uffd SOCKET [--resume]\n"
"                     the same with the Uffd backend: guest memory filled on\n"
"                     demand by the page fault handler listening on SOCKET\n"
"    --net-override IFACE=TAP\n"
"                     with --restore: the snapshot's NIC IFACE on the host TAP\n"
"                     device TAP (the load's network_overrides; repeatable)\n"
"    --clones N       with --restore: start N microVMs (1 to " STR(MAX_CLONES) ") from the\n"
"                     snapshot, each an ember process of its own, all mapping its\n"
"                     memory file copy-on-write, each with a new VM generation ID\n"
"                     (ACPI's VMGenID: a guest with CONFIG_VMGENID reseeds its\n"
"                     random numbers). In --api-sock, --id, --log-path,\n"
"                     --metrics-path, --serial-out and --net-override's TAP, %d\n"
"                     is the clone's number (0 to N-1; %% is %); --api-sock and\n"
"                     each TAP must have it. The clones' standard input is\n"
"                     /dev/null; ember waits for them all, passes SIGTERM, SIGINT\n"
"                     and SIGHUP on, and exits with the first non-zero status of\n"
"                     theirs (0 if none); a clone ends if ember does\n"
"    --serial-out PATH\n"
"                     the guest's console to PATH (created, appended to) instead\n"
"                     of standard output (as PUT /serial's serial_out_path)\n"
"    --merge-diff DIFF --into BASE\n"
"                     put the pages of a Diff snapshot's memory file onto the\n"
"                     memory file it follows (then load BASE with the Diff's\n"
"                     state file), and exit\n"
"    --id ID          the instance id in GET / and the log, 1 to 64 letters,\n"
"                     digits and '-' (default " LOG_INSTANCE_ID_DEFAULT ")\n"
"    --boot-timer     log the guest's boot time when it writes 123 to the boot\n"
"                     timer device\n"
"    --no-acpi        no ACPI tables (the MP table and the command line's\n"
"                     virtio_mmio.device= entries describe the machine either way)\n"
"    --pvh            enter Linux's vmlinux at its PVH entry when it has Xen's PVH\n"
"                     note (by default at its 64-bit entry: Linux's PVH start-up\n"
"                     looks for Xen in 256 CPUID leaves, 256 VM exits); an ELF with\n"
"                     the note and without Linux's notes is entered there always\n"
"    --http-api-max-payload-size N\n"
"                     largest API request body in bytes (default and maximum 51200)\n"
"    --start-time-us N, --start-time-cpu-us N, --parent-cpu-time-us N\n"
"                     the process start times (as the jailer passes them), for\n"
"                     the metrics\n"
"    --cgroup-memory-limit BYTES\n"
"                     the memory limit of ember's cgroup (ember-jailer passes it:\n"
"                     the jail has no /proc or /sys). Without it ember reads its\n"
"                     cgroup's memory.max (v2) or memory.limit_in_bytes (v1) and\n"
"                     its ancestors' if it can. A guest larger than the limit is\n"
"                     refused at boot; less than 16 MiB left over is a warning\n"
"    --no-seccomp     no seccomp filters (by default each thread kind, VMM, API\n"
"                     and vCPU, may only make the syscalls it needs)\n"
"    --metadata FILE  the MMDS's data at start (JSON, as PUT /mmds)\n"
"    --mmds-size-limit N\n"
"                     the MMDS's largest data in bytes (default: the API's payload\n"
"                     limit)\n"
"    Refused: --seccomp-filter, --enable-pci, and --snapshot-version and\n"
"    --describe-snapshot (ember's snapshot files are its own).\n"
"\n"
"LOGGING (both modes)\n"
"    --log-path PATH  the log: a file (appended to) or a named pipe (default:\n"
"                     standard error)\n"
"    --level L        Error, Warning, Info (default), Debug, Trace or Off\n"
"    --show-level, --show-log-origin\n"
"                     add the level, the source file and line to each log line\n"
"    --module PREFIX  log only messages from source files under PREFIX\n"
"    --metrics-path PATH\n"
"                     write the metrics there (JSON lines, every 60 s)\n"
"    -h, --help       this text\n"
"    -V, --version    the version\n"
"\n"
"EXIT STATUS\n"
"    0  the guest reset or shut down\n"
"    1  a host failure (KVM unavailable or an ioctl failed), or a signal\n"
"    2  bad input: usage, an unreadable or malformed kernel, initrd or config\n"
"       file, a value out of range, an API socket path in use, a guest larger\n"
"       than the cgroup's memory limit\n"
"    3  the guest crashed: triple fault, KVM internal error (the message names\n"
"       the vCPU and its RIP), an unexpected exit\n"
"    148  a thread made a syscall its seccomp filter forbids; the message names\n"
"         the thread and the syscall number\n"
"    Every error is one line on standard error starting with \"ember: \".\n";

/* Everything the command line says. */
struct args {
	bool direct;                 /* a direct-mode option was given */
	const char *direct_opt;      /* the first one, for messages */
	const char *api_sock;        /* NULL: not given */
	const char *config_file;
	bool no_api;
	const char *id;
	const char *log_path, *level, *module;
	bool show_level, show_origin;
	const char *metrics_path;
	bool boot_timer;
	bool no_acpi;
	bool pvh;
	bool no_seccomp;
	uint64_t max_payload;
	bool has_start, has_start_cpu;
	uint64_t start_us, start_cpu_us, parent_cpu_us;
	bool has_mem_limit;
	uint64_t mem_limit;
	const char *metadata;        /* --metadata */
	const char *restore, *restore_mem; /* --restore, --restore-mem or --restore-uffd */
	bool restore_uffd;           /* --restore-uffd */
	bool resume;                 /* --resume */
	const char *merge_diff, *into; /* --merge-diff DIFF --into BASE */
	bool has_mmds_limit;
	uint64_t mmds_limit;
	int clones;                  /* --clones */
	const char *serial_out;      /* --serial-out */
	const char *net_override[MAX_NETS]; /* --net-override IFACE=TAP */
	int nnet_overrides;
};

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
	if (!*s || *end || errno || s[0] == '-' || s[0] == '+')
		die(EMBER_EXIT_BAD_INPUT, "%s: '%s' is not a number%s", opt, s,
		    errno == ERANGE ? " (too large)" : "");
	if (v < min || v > max)
		die(EMBER_EXIT_BAD_INPUT, "%s: '%s' is not a number from %llu to %llu", opt, s,
		    (unsigned long long)min, (unsigned long long)max);
	return v;
}

static void direct_opt(struct args *a, const char *opt)
{
	if (!a->direct)
		a->direct_opt = opt;
	a->direct = true;
}

/* A non-empty path argument. */
static const char *path_arg(const char *opt, const char *val)
{
	if (!val[0])
		die(EMBER_EXIT_BAD_INPUT, "%s: empty path", opt);
	if (strlen(val) >= PATH_MAX)
		die(EMBER_EXIT_BAD_INPUT, "%s: longer than %d bytes", opt, PATH_MAX - 1);
	return val;
}

/*
 * tmpl with "%d" replaced by i and "%%" by "%" into buf (PATH_MAX bytes);
 * another '%', or a result too long, is refused in one line naming opt.
 */
static const char *expand(const char *tmpl, int i, char *buf, const char *opt)
{
	size_t n = 0;

	for (const char *p = tmpl; *p; p++) {
		int w;

		if (*p != '%') {
			w = snprintf(buf + n, PATH_MAX - n, "%c", *p);
		} else if (p[1] == 'd') {
			w = snprintf(buf + n, PATH_MAX - n, "%d", i);
			p++;
		} else if (p[1] == '%') {
			w = snprintf(buf + n, PATH_MAX - n, "%%");
			p++;
		} else {
			die(EMBER_EXIT_BAD_INPUT, "%s: '%.80s': only %%d (the clone's number) and "
			    "%%%% may follow a %%", opt, tmpl);
		}
		if (w < 0 || (size_t)w >= PATH_MAX - n)
			die(EMBER_EXIT_BAD_INPUT, "%s: longer than %d bytes", opt, PATH_MAX - 1);
		n += (size_t)w;
	}
	buf[n] = '\0';
	return buf;
}

/* Clone i's own arguments: every template of --clones in a expanded for it. */
static void expand_args(struct args *a, int i)
{
	static char sock[PATH_MAX], id[PATH_MAX], log[PATH_MAX], met[PATH_MAX], ser[PATH_MAX];
	static char nets[MAX_NETS][PATH_MAX];

	if (a->api_sock)
		a->api_sock = expand(a->api_sock, i, sock, "--api-sock");
	if (a->id)
		a->id = expand(a->id, i, id, "--id");
	if (a->log_path)
		a->log_path = expand(a->log_path, i, log, "--log-path");
	if (a->metrics_path)
		a->metrics_path = expand(a->metrics_path, i, met, "--metrics-path");
	if (a->serial_out)
		a->serial_out = expand(a->serial_out, i, ser, "--serial-out");
	for (int k = 0; k < a->nnet_overrides; k++)
		a->net_override[k] = expand(a->net_override[k], i, nets[k], "--net-override");
}

/* An instance id: 1 to LOG_INSTANCE_ID_MAX letters, digits and '-', or one line and exit 2. */
static void check_id(const char *id)
{
	if (!id[0] || strlen(id) > LOG_INSTANCE_ID_MAX ||
	    strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") !=
	    strlen(id))
		die(EMBER_EXIT_BAD_INPUT, "--id: '%.80s' is not 1 to %d letters, digits or '-'",
		    id, LOG_INSTANCE_ID_MAX);
}

enum {
	O_KERNEL = 256, O_INITRD, O_CMDLINE, O_MEM, O_VCPUS, O_DRIVE, O_NET,
	O_API_SOCK, O_CONFIG_FILE, O_NO_API, O_ID, O_LOG_PATH, O_LEVEL, O_MODULE,
	O_SHOW_LEVEL, O_SHOW_ORIGIN, O_METRICS_PATH, O_BOOT_TIMER, O_MAX_PAYLOAD, O_HUGE_PAGES, O_SMT,
	O_START_US, O_START_CPU_US, O_PARENT_CPU_US, O_NO_SECCOMP, O_MMDS_LIMIT,
	O_MEM_LIMIT, O_METADATA, O_NO_ACPI, O_PVH, O_RESTORE, O_RESTORE_MEM, O_RESTORE_UFFD, O_RESUME,
	O_MERGE_DIFF, O_INTO, O_CLONES, O_SERIAL_OUT, O_NET_OVERRIDE,
	O_UNSUPPORTED_ARG, O_UNSUPPORTED_FLAG,
};

static void parse_args(int argc, char **argv, struct args *a, struct vm_config *o)
{
	static const struct option longopts[] = {
		{ "kernel", required_argument, NULL, O_KERNEL },
		{ "initrd", required_argument, NULL, O_INITRD },
		{ "cmdline", required_argument, NULL, O_CMDLINE },
		{ "mem-mib", required_argument, NULL, O_MEM },
		{ "vcpus", required_argument, NULL, O_VCPUS },
		{ "drive", required_argument, NULL, O_DRIVE },
		{ "net", required_argument, NULL, O_NET },
		{ "api-sock", required_argument, NULL, O_API_SOCK },
		{ "config-file", required_argument, NULL, O_CONFIG_FILE },
		{ "no-api", no_argument, NULL, O_NO_API },
		{ "id", required_argument, NULL, O_ID },
		{ "log-path", required_argument, NULL, O_LOG_PATH },
		{ "level", required_argument, NULL, O_LEVEL },
		{ "module", required_argument, NULL, O_MODULE },
		{ "show-level", no_argument, NULL, O_SHOW_LEVEL },
		{ "show-log-origin", no_argument, NULL, O_SHOW_ORIGIN },
		{ "metrics-path", required_argument, NULL, O_METRICS_PATH },
		{ "boot-timer", no_argument, NULL, O_BOOT_TIMER },
		{ "no-acpi", no_argument, NULL, O_NO_ACPI },
		{ "pvh", no_argument, NULL, O_PVH },
		{ "huge-pages", required_argument, NULL, O_HUGE_PAGES },
		{ "smt", no_argument, NULL, O_SMT },
		{ "http-api-max-payload-size", required_argument, NULL, O_MAX_PAYLOAD },
		{ "start-time-us", required_argument, NULL, O_START_US },
		{ "start-time-cpu-us", required_argument, NULL, O_START_CPU_US },
		{ "parent-cpu-time-us", required_argument, NULL, O_PARENT_CPU_US },
		{ "no-seccomp", no_argument, NULL, O_NO_SECCOMP },
		{ "cgroup-memory-limit", required_argument, NULL, O_MEM_LIMIT },
		{ "mmds-size-limit", required_argument, NULL, O_MMDS_LIMIT },
		{ "seccomp-filter", required_argument, NULL, O_UNSUPPORTED_ARG },
		{ "metadata", required_argument, NULL, O_METADATA },
		{ "restore", required_argument, NULL, O_RESTORE },
		{ "restore-mem", required_argument, NULL, O_RESTORE_MEM },
		{ "restore-uffd", required_argument, NULL, O_RESTORE_UFFD },
		{ "resume", no_argument, NULL, O_RESUME },
		{ "merge-diff", required_argument, NULL, O_MERGE_DIFF },
		{ "into", required_argument, NULL, O_INTO },
		{ "clones", required_argument, NULL, O_CLONES },
		{ "serial-out", required_argument, NULL, O_SERIAL_OUT },
		{ "net-override", required_argument, NULL, O_NET_OVERRIDE },
		{ "describe-snapshot", required_argument, NULL, O_UNSUPPORTED_ARG },
		{ "enable-pci", no_argument, NULL, O_UNSUPPORTED_FLAG },
		{ "snapshot-version", no_argument, NULL, O_UNSUPPORTED_FLAG },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	/* {flag, why} or {flag, NULL, the resource of config_unsupported it needs} */
	static const char *const why_unsupported[][3] = {
		{ "--seccomp-filter", "ember's filters are built in (--no-seccomp disables them)" },
		{ "--describe-snapshot", "ember's snapshot files are its own, not Firecracker's" },
		{ "--enable-pci", "ember has no PCI bus (its devices are virtio-mmio)" },
		{ "--snapshot-version", "ember's snapshot files are its own, not Firecracker's" },
	};
	char err[256];
	const char *huge = NULL;
	int c, idx, roots = 0;

	vm_config_init(o);
	opterr = 0;
	while ((idx = -1, c = getopt_long(argc, argv, ":hV", longopts, &idx)) != -1) {
		const char *opt = idx >= 0 ? longopts[idx].name : "";

		switch (c) {
		case O_KERNEL:
			direct_opt(a, "--kernel");
			copy_arg(o->kernel, sizeof(o->kernel), "--kernel", optarg);
			break;
		case O_INITRD:
			direct_opt(a, "--initrd");
			copy_arg(o->initrd, sizeof(o->initrd), "--initrd", optarg);
			break;
		case O_CMDLINE:
			direct_opt(a, "--cmdline");
			copy_arg(o->cmdline, sizeof(o->cmdline), "--cmdline", optarg);
			break;
		case O_MEM:
			direct_opt(a, "--mem-mib");
			o->mem_mib = parse_num("--mem-mib", optarg, 0, UINT64_MAX);
			if (field_mem_mib(o->mem_mib, err, sizeof(err)) < 0)
				die(EMBER_EXIT_BAD_INPUT, "--mem-mib: %s", err);
			break;
		case O_VCPUS: {
			uint64_t n;

			direct_opt(a, "--vcpus");
			n = parse_num("--vcpus", optarg, 0, UINT64_MAX);
			if (field_vcpus(n, false, err, sizeof(err)) < 0)
				die(EMBER_EXIT_BAD_INPUT, "--vcpus: %s", err);
			o->vcpus = (int)n;
			break;
		}
		case O_HUGE_PAGES:
			direct_opt(a, "--huge-pages");
			huge = optarg;
			break;
		case O_SMT:
			direct_opt(a, "--smt");
			o->smt = true;
			break;
		case O_DRIVE:
			direct_opt(a, "--drive");
			if (o->ndrives == MAX_DRIVES)
				die(EMBER_EXIT_BAD_INPUT, "--drive: at most %d drives", MAX_DRIVES);
			if (field_drive_spec(optarg, o->ndrives, &o->drives[o->ndrives], err,
					     sizeof(err)) < 0)
				die(EMBER_EXIT_BAD_INPUT, "--drive: %s", err);
			for (int i = 0; i < o->ndrives; i++)
				if (!strcmp(o->drives[i].id, o->drives[o->ndrives].id))
					die(EMBER_EXIT_BAD_INPUT, "--drive: id '%s' used twice",
					    o->drives[i].id);
			roots += o->drives[o->ndrives].root;
			if (roots > 1)
				die(EMBER_EXIT_BAD_INPUT, "--drive: only one drive can be root");
			/* As the API's (Firecracker's) order: the root first (/dev/vda) */
			if (o->drives[o->ndrives].root) {
				struct drive_spec root = o->drives[o->ndrives];

				memmove(&o->drives[1], &o->drives[0], o->ndrives * sizeof(o->drives[0]));
				o->drives[0] = root;
			}
			o->ndrives++;
			break;
		case O_NET: {
			struct net_spec *n = &o->nets[o->nnets];

			direct_opt(a, "--net");
			if (o->nnets == MAX_NETS)
				die(EMBER_EXIT_BAD_INPUT, "--net: at most %d NICs", MAX_NETS);
			if (field_net_spec(optarg, n, err, sizeof(err)) < 0)
				die(EMBER_EXIT_BAD_INPUT, "--net: %s", err);
			for (int i = 0; i < o->nnets; i++)
				if (!strcmp(o->nets[i].tap, n->tap))
					die(EMBER_EXIT_BAD_INPUT, "--net: TAP '%s' used twice", n->tap);
			o->nnets++;
			break;
		}
		case O_API_SOCK: a->api_sock = path_arg("--api-sock", optarg); break;
		case O_CONFIG_FILE: a->config_file = path_arg("--config-file", optarg); break;
		case O_NO_API: a->no_api = true; break;
		case O_ID: a->id = optarg; break;
		case O_LOG_PATH: a->log_path = path_arg("--log-path", optarg); break;
		case O_LEVEL: a->level = optarg; break;
		case O_MODULE:
			if (strlen(optarg) >= LOG_MODULE_MAX)
				die(EMBER_EXIT_BAD_INPUT, "--module: longer than %d bytes",
				    LOG_MODULE_MAX - 1);
			a->module = optarg;
			break;
		case O_SHOW_LEVEL: a->show_level = true; break;
		case O_SHOW_ORIGIN: a->show_origin = true; break;
		case O_METRICS_PATH: a->metrics_path = path_arg("--metrics-path", optarg); break;
		case O_BOOT_TIMER: a->boot_timer = true; break;
		case O_NO_ACPI: a->no_acpi = true; break;
		case O_PVH: a->pvh = true; break;
		case O_MAX_PAYLOAD:
			a->max_payload = parse_num("--http-api-max-payload-size", optarg, 1,
						   HTTP_MAX_BODY);
			break;
		case O_START_US:
			a->start_us = parse_num("--start-time-us", optarg, 0, UINT64_MAX);
			a->has_start = true;
			break;
		case O_START_CPU_US:
			a->start_cpu_us = parse_num("--start-time-cpu-us", optarg, 0, UINT64_MAX);
			a->has_start_cpu = true;
			break;
		case O_PARENT_CPU_US:
			a->parent_cpu_us = parse_num("--parent-cpu-time-us", optarg, 0, UINT64_MAX);
			break;
		case O_NO_SECCOMP: a->no_seccomp = true; break;
		case O_MEM_LIMIT:
			a->mem_limit = parse_num("--cgroup-memory-limit", optarg, 0, UINT64_MAX - 1);
			a->has_mem_limit = true;
			break;
		case O_MMDS_LIMIT:
			a->mmds_limit = parse_num("--mmds-size-limit", optarg, 0, UINT64_MAX);
			a->has_mmds_limit = true;
			break;
		case O_METADATA: a->metadata = path_arg("--metadata", optarg); break;
		case O_RESTORE: a->restore = path_arg("--restore", optarg); break;
		case O_RESTORE_MEM:
		case O_RESTORE_UFFD:
			if (a->restore_mem)
				die(EMBER_EXIT_BAD_INPUT, "one memory backend: --restore-mem or "
				    "--restore-uffd, once");
			a->restore_uffd = c == O_RESTORE_UFFD;
			a->restore_mem = path_arg(a->restore_uffd ? "--restore-uffd" :
						  "--restore-mem", optarg);
			break;
		case O_RESUME: a->resume = true; break;
		case O_MERGE_DIFF: a->merge_diff = path_arg("--merge-diff", optarg); break;
		case O_INTO: a->into = path_arg("--into", optarg); break;
		case O_CLONES: a->clones = (int)parse_num("--clones", optarg, 1, MAX_CLONES); break;
		case O_SERIAL_OUT: a->serial_out = path_arg("--serial-out", optarg); break;
		case O_NET_OVERRIDE:
			if (a->nnet_overrides == MAX_NETS)
				die(EMBER_EXIT_BAD_INPUT, "--net-override: at most %d", MAX_NETS);
			if (!strchr(optarg, '=') || strchr(optarg, '=') == optarg ||
			    !strchr(optarg, '=')[1])
				die(EMBER_EXIT_BAD_INPUT, "--net-override: '%.80s' is not IFACE=TAP",
				    optarg);
			a->net_override[a->nnet_overrides++] = optarg;
			break;
		case O_UNSUPPORTED_ARG:
		case O_UNSUPPORTED_FLAG:
			for (size_t i = 0; i < ARRAY_SIZE(why_unsupported); i++) {
				const char *const *w = why_unsupported[i];

				if (strcmp(opt, w[0] + 2))
					continue;
				if (w[1])
					die(EMBER_EXIT_BAD_INPUT, "%s: not supported: %s", w[0], w[1]);
				for (const struct config_unsupported *u = config_unsupported;
				     u->resource; u++)
					if (!strcmp(u->resource, w[2]))
						die(EMBER_EXIT_BAD_INPUT, "%s: not supported: ember "
						    "has no %s", w[0], u->what);
			}
			die(EMBER_EXIT_BAD_INPUT, "--%s: not supported", opt);
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
	if (huge && field_huge_pages(huge, o->mem_mib, &o->pages, err, sizeof(err)) < 0)
		die(EMBER_EXIT_BAD_INPUT, "--huge-pages: %s", err);
	if (o->smt && field_vcpus((uint64_t)o->vcpus, true, err, sizeof(err)) < 0)
		die(EMBER_EXIT_BAD_INPUT, "--smt: %s", err);
	if (optind < argc)
		die(EMBER_EXIT_BAD_INPUT, "unexpected argument '%s' (see ember --help)",
		    argv[optind]);
	if (a->direct) {
		const char *api = a->api_sock ? "--api-sock" : a->config_file ? "--config-file" :
				  a->no_api ? "--no-api" : NULL;

		if (api)
			die(EMBER_EXIT_BAD_INPUT, "%s cannot be combined with %s: the VM comes "
			    "from the command line or from the API and config file, not both "
			    "(see ember --help)", a->direct_opt, api);
		if (!o->kernel[0])
			die(EMBER_EXIT_BAD_INPUT, "%s needs --kernel (see ember --help)",
			    a->direct_opt);
	}
	if (!a->merge_diff != !a->into)
		die(EMBER_EXIT_BAD_INPUT, "%s needs %s (see ember --help)",
		    a->into ? "--into" : "--merge-diff", a->into ? "--merge-diff" : "--into");
	if (!a->restore != !a->restore_mem || (a->resume && !a->restore))
		die(EMBER_EXIT_BAD_INPUT, "%s needs %s (see ember --help)",
		    a->restore ? "--restore" : a->restore_uffd ? "--restore-uffd" :
		    a->restore_mem ? "--restore-mem" : "--resume",
		    a->restore ? "--restore-mem or --restore-uffd" : "--restore");
	if (a->restore && (a->direct || a->config_file))
		die(EMBER_EXIT_BAD_INPUT, "--restore cannot be combined with %s: the VM comes "
		    "from the snapshot", a->direct ? a->direct_opt : "--config-file");
	if (a->no_api && !a->config_file && !a->restore)
		die(EMBER_EXIT_BAD_INPUT, "--no-api needs --config-file or --restore: without the "
		    "API nothing could start the VM (see ember --help)");
	if (a->no_api && a->api_sock)
		die(EMBER_EXIT_BAD_INPUT, "--no-api and --api-sock contradict each other");
	if ((a->clones || a->nnet_overrides) && !a->restore)
		die(EMBER_EXIT_BAD_INPUT, "%s needs --restore (see ember --help)",
		    a->clones ? "--clones" : "--net-override");
	if (a->clones) {
		if (!a->no_api && (!a->api_sock || !strstr(a->api_sock, "%d")))
			die(EMBER_EXIT_BAD_INPUT, "--clones needs --api-sock with %%d in it (each "
			    "clone its own socket), or --no-api");
		for (int i = 0; i < a->nnet_overrides; i++)
			if (!strstr(strchr(a->net_override[i], '='), "%d"))
				die(EMBER_EXIT_BAD_INPUT, "--clones: --net-override %.80s: the TAP "
				    "needs %%d in it (each clone its own)", a->net_override[i]);
	}
	if (!a->id)
		a->id = LOG_INSTANCE_ID_DEFAULT;
	if (a->clones) {
		/* The templates as the last clone will have them (the longest). */
		struct args last = *a;

		expand_args(&last, a->clones - 1);
		check_id(last.id);
	} else {
		check_id(a->id);
	}
	if (a->level) {
		enum log_level l;

		if (log_level_parse(a->level, &l) < 0)
			die(EMBER_EXIT_BAD_INPUT, "--level: '%.40s' is not Error, Warning, Info, "
			    "Debug, Trace or Off", a->level);
	}
	if (!a->api_sock)
		a->api_sock = API_DEFAULT_SOCK;
}

static uint64_t clock_us(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* Firecracker's process start-up metrics, from the jailer's times. */
static void report_startup(const struct args *a)
{
	uint64_t wall = 0, cpu = 0, now;

	if (a->has_start) {
		now = clock_us(CLOCK_MONOTONIC);
		wall = now > a->start_us ? now - a->start_us : 0;
	}
	if (a->has_start_cpu) {
		now = clock_us(CLOCK_PROCESS_CPUTIME_ID);
		cpu = (now > a->start_cpu_us ? now - a->start_cpu_us : 0) + a->parent_cpu_us;
	}
	if (a->has_start || a->has_start_cpu)
		metrics_set_startup(wall, cpu);
}

/* The logger and metrics flags, as Firecracker applies them at start. */
static void apply_log_flags(struct api *api, const struct args *a)
{
	struct config_logger l = { .set = true };
	char err[512];

	logger_set_instance_id(a->id);
	if (a->log_path || a->level || a->show_level || a->show_origin || a->module) {
		snprintf(l.path, sizeof(l.path), "%s", a->log_path ? a->log_path : "");
		snprintf(l.level, sizeof(l.level), "%s", a->level ? a->level : "");
		l.show_level = a->show_level;
		l.show_origin = a->show_origin;
		snprintf(l.module, sizeof(l.module), "%s", a->module ? a->module : "");
		if (api_apply_logger(api, &l, err, sizeof(err)) < 0)
			die(EMBER_EXIT_BAD_INPUT, "--log-path: %s", err);
	}
	if (a->metrics_path) {
		struct config_metrics m = { .set = true };

		snprintf(m.path, sizeof(m.path), "%s", a->metrics_path);
		if (api_apply_metrics(api, &m, err, sizeof(err)) < 0)
			die(EMBER_EXIT_BAD_INPUT, "--metrics-path: %s", err);
	}
}

#define CONFIG_FILE_MAX (1 << 20)

/*
 * The whole of file path (at most CONFIG_FILE_MAX bytes; malloc'd), opened
 * without blocking; opt names it in messages.
 */
static char *read_config(const char *opt, const char *path, size_t *len)
{
	char *buf, why[300];
	size_t got = 0;
	ssize_t n;
	int fd = open_host_file(path, O_RDONLY, false, why, sizeof(why));

	if (fd < 0)
		die(EMBER_EXIT_BAD_INPUT, "%s: %s", opt, why);
	buf = malloc(CONFIG_FILE_MAX + 1);
	if (!buf)
		die(EMBER_EXIT_HOST_ERROR, "out of memory");
	while ((n = read(fd, buf + got, CONFIG_FILE_MAX + 1 - got)) > 0 || (n < 0 && errno == EINTR))
		if (n > 0 && (got += n) > CONFIG_FILE_MAX)
			die(EMBER_EXIT_BAD_INPUT, "%s: %s is larger than %d bytes", opt, path,
			    CONFIG_FILE_MAX);
	if (n < 0)
		die(EMBER_EXIT_BAD_INPUT, "%s: cannot read %s: %s", opt, path, strerror(errno));
	close(fd);
	*len = got;
	return buf;
}

/* --metadata: the MMDS's data at start, as PUT /mmds would put it. */
static void load_metadata(struct api *api, const char *path)
{
	char err[600], *text;
	enum mmds_error e;
	size_t len;
	cJSON *j;

	text = read_config("--metadata", path, &len);
	j = json_parse_value(text, len, err, sizeof(err));
	free(text);
	if (!j)
		die(EMBER_EXIT_BAD_INPUT, "--metadata %s: MMDS error: metadata provided not valid "
		    "json: %s", path, strncmp(err, JSON_SERDE, strlen(JSON_SERDE)) ? err :
		    err + strlen(JSON_SERDE));
	e = mmds_put(api->mmds, j);
	cJSON_Delete(j);
	if (e != MMDS_OK)
		die(e == MMDS_NO_MEMORY ? EMBER_EXIT_HOST_ERROR : EMBER_EXIT_BAD_INPUT,
		    "--metadata %s: Populating MMDS from file failed: %s", path, mmds_strerror(e));
}

/* --config-file: the configuration, its logger and metrics, and InstanceStart. */
static void start_from_file(struct api *api, const char *path)
{
	char err[1024], *text;
	size_t len;
	int status;

	text = read_config("--config-file", path, &len);
	if (config_parse_file(&api->cfg, text, len, err, sizeof(err)) < 0)
		die(EMBER_EXIT_BAD_INPUT, "--config-file %s: %s", path, err);
	free(text);
	if (api->cfg.logger.set && api_apply_logger(api, &api->cfg.logger, err, sizeof(err)) < 0)
		die(EMBER_EXIT_BAD_INPUT, "--config-file %s: %s", path, err);
	if (api->cfg.metrics.set &&
	    api_apply_metrics(api, &api->cfg.metrics, err, sizeof(err)) < 0)
		die(EMBER_EXIT_BAD_INPUT, "--config-file %s: %s", path, err);
	if (api_start(api, &status, err, sizeof(err)) < 0)
		die(status, "--config-file %s: %s", path, err);
}

/*
 * --merge-diff DIFF --into BASE: copy the pages a Diff snapshot's memory
 * file holds (its data, not its holes) onto the memory file it follows,
 * which then loads with the Diff's state file. Exits.
 */
static void merge_diff(const char *diff, const char *base)
{
	const size_t bufsize = 1 << 20;
	uint8_t *buf = malloc(bufsize);
	struct stat ds, bs;
	char err[512];
	int dfd = open_host_file(diff, O_RDONLY, false, err, sizeof(err));
	int bfd = dfd < 0 ? -1 : open_host_file(base, O_RDWR, false, err, sizeof(err));
	off_t off = 0, end, copied = 0;

	if (dfd < 0 || bfd < 0)
		die(EMBER_EXIT_BAD_INPUT, "%s: %s", dfd < 0 ? "--merge-diff" : "--into", err);
	if (!buf)
		die(EMBER_EXIT_HOST_ERROR, "out of memory");
	if (fstat(dfd, &ds) < 0 || fstat(bfd, &bs) < 0)
		die(EMBER_EXIT_HOST_ERROR, "--merge-diff: fstat failed: %s", strerror(errno));
	if (ds.st_size != bs.st_size)
		die(EMBER_EXIT_BAD_INPUT, "--merge-diff %s is %lld bytes, --into %s %lld: not the "
		    "same guest", diff, (long long)ds.st_size, base, (long long)bs.st_size);
	if (ds.st_dev == bs.st_dev && ds.st_ino == bs.st_ino)
		die(EMBER_EXIT_BAD_INPUT, "--merge-diff and --into are the same file");
	while ((off = lseek(dfd, off, SEEK_DATA)) >= 0) {
		end = lseek(dfd, off, SEEK_HOLE);
		if (end < 0)
			break;
		while (off < end) {
			size_t want = (size_t)(end - off) < bufsize ? (size_t)(end - off) : bufsize;
			ssize_t n = pread(dfd, buf, want, off);

			if (n <= 0 || pwrite_full(bfd, buf, (size_t)n, (uint64_t)off) < 0)
				die(EMBER_EXIT_HOST_ERROR, "--merge-diff: cannot copy at %lld: %s",
				    (long long)off, n == 0 ? "short read" : strerror(errno));
			off += n;
			copied += n;
		}
	}
	if (errno != ENXIO)
		die(EMBER_EXIT_HOST_ERROR, "--merge-diff %s: cannot find its data: %s", diff,
		    strerror(errno));
	if (fsync(bfd) < 0)
		die(EMBER_EXIT_HOST_ERROR, "--into %s: %s", base, strerror(errno));
	printf("merged %lld bytes of %s into %s\n", (long long)copied, diff, base);
	exit(0);
}

/* --restore: start the snapshot's VM now, as PUT /snapshot/load would. */
static void restore_snapshot(struct vmm *vmm, struct api *api, const struct args *a)
{
	struct config_snapshot_load p = { .resume = a->resume, .uffd = a->restore_uffd };
	char err[512];
	int status;

	snprintf(p.snapshot_path, sizeof(p.snapshot_path), "%s", a->restore);
	snprintf(p.mem_path, sizeof(p.mem_path), "%s", a->restore_mem);
	for (int i = 0; i < a->nnet_overrides; i++) {
		const char *eq = strchr(a->net_override[i], '=');
		struct config_net_override *o = &p.overrides[p.noverrides++];

		if ((size_t)(eq - a->net_override[i]) >= sizeof(o->iface_id) ||
		    strlen(eq + 1) >= sizeof(o->tap))
			die(EMBER_EXIT_BAD_INPUT, "--net-override %.80s: the interface id or the "
			    "TAP name is too long", a->net_override[i]);
		memcpy(o->iface_id, a->net_override[i], (size_t)(eq - a->net_override[i]));
		o->iface_id[eq - a->net_override[i]] = '\0';
		snprintf(o->tap, sizeof(o->tap), "%s", eq + 1);
	}
	if (vmm_snapshot_load(vmm, &p, &api->cfg, api->mmds, &status, err, sizeof(err)) < 0)
		die(status, "--restore: %s", err);
	api->booted = true;
	api->paused = !a->resume;
	LOG_INFO("Snapshot %s loaded%s", a->restore, a->resume ? " and resumed" : "");
}

/*
 * --serial-out: standard output (the console) to the file, opened as PUT
 * /serial's serial_out_path is (read-write: a FIFO without a reader does not
 * block the open).
 */
static void serial_out(const struct args *a)
{
	int fd = open(a->serial_out, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);

	if (fd < 0)
		die(EMBER_EXIT_BAD_INPUT, "--serial-out %s: %s", a->serial_out, strerror(errno));
	if (dup2(fd, STDOUT_FILENO) < 0)
		die(EMBER_EXIT_HOST_ERROR, "--serial-out: %s", strerror(errno));
	close(fd);
}

static pid_t clone_pid[MAX_CLONES];
static int nclone_pids;

static void pass_signal(int sig)
{
	for (int i = 0; i < nclone_pids; i++)
		if (clone_pid[i] > 0)
			kill(clone_pid[i], sig);
}

/*
 * --clones N: fork N embers before anything else starts (no thread, no VM
 * yet); each returns from here with its own arguments (expand_args) and
 * goes on as one --restore would. This process only waits for them.
 */
static void start_clones(struct args *a)
{
	pid_t parent = getpid();
	int status = 0, left;

	for (const int *s = (const int[]){ SIGTERM, SIGINT, SIGHUP, 0 }; *s; s++)
		signal(*s, pass_signal);
	for (int i = 0; i < a->clones; i++) {
		pid_t pid;

		fflush(stdout);
		fflush(stderr);
		pid = fork();
		if (pid < 0) {
			int e = errno;

			pass_signal(SIGKILL);
			die(EMBER_EXIT_HOST_ERROR, "--clones: cannot start clone %d: %s", i,
			    strerror(e));
		}
		if (pid == 0) {
			int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

			for (const int *s = (const int[]){ SIGTERM, SIGINT, SIGHUP, 0 }; *s; s++)
				signal(*s, SIG_DFL);
			/* Ends with this process (SIGTERM: a clean stop, its socket removed). */
			if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent)
				_exit(EMBER_EXIT_HOST_ERROR);
			if (null < 0 || dup2(null, STDIN_FILENO) < 0)
				die(EMBER_EXIT_HOST_ERROR, "clone %d: no /dev/null: %s", i,
				    strerror(errno));
			close(null);
			expand_args(a, i);
			a->clones = 0;
			return;
		}
		clone_pid[nclone_pids++] = pid;
	}
	for (left = nclone_pids; left > 0;) {
		int st;
		pid_t pid = waitpid(-1, &st, 0);

		if (pid < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (int i = 0; i < nclone_pids; i++)
			if (clone_pid[i] == pid) {
				int s = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);

				clone_pid[i] = -1;
				left--;
				if (s && !status)
					status = s;
			}
	}
	exit(status);
}

int main(int argc, char **argv)
{
	static struct vmm vmm;
	static struct vm_config cfg;
	static struct api api;
	static struct args args;
	struct api_server *srv = NULL;
	char err[512];
	int status;

	parse_args(argc, argv, &args, &cfg);
	if (args.merge_diff)
		merge_diff(args.merge_diff, args.into);
	if (args.clones)
		start_clones(&args); /* returns in each clone, its arguments its own */
	if (args.serial_out)
		serial_out(&args);
	config_tap_check = virtio_net_tap_check;
	seccomp_setup(!args.no_seccomp); /* seccomp: before any thread starts */
	vmm_init(&vmm);
	vmm.has_mem_limit = args.has_mem_limit;
	vmm.boot_timer = args.boot_timer;
	vmm.mem_limit = args.mem_limit;
	if (api_init(&api, &vmm_api_ops, &vmm, &vmm.loop, args.id) < 0)
		die(EMBER_EXIT_HOST_ERROR, "out of memory");
	api.boot_timer = args.boot_timer;
	api.no_acpi = args.no_acpi;
	api.pvh = args.pvh;
	/* Firecracker's default: the API's payload limit */
	mmds_set_limit(api.mmds, args.has_mmds_limit ? args.mmds_limit :
		       args.max_payload ? args.max_payload : HTTP_MAX_BODY);
	apply_log_flags(&api, &args);
	cfg.boot_timer = args.boot_timer;
	cfg.no_acpi = args.no_acpi;
	cfg.pvh = args.pvh;
	if (args.direct) {
		if (vmm_boot(&vmm, &cfg, &status, err, sizeof(err)) < 0)
			die(status, "%s", err);
		return vmm_run(&vmm);
	}
	if (args.metadata)
		load_metadata(&api, args.metadata);
	if (args.restore)
		restore_snapshot(&vmm, &api, &args);
	if (args.config_file)
		start_from_file(&api, args.config_file);
	if (!args.no_api) {
		api_server_set_max_payload(args.max_payload);
		if (api_server_start(&srv, args.api_sock, &vmm.loop, api_handle, &api, err,
				     sizeof(err)) < 0) {
			/* Firecracker's line, for the tools that look for it in the log file */
			if (args.log_path)
				LOG_ERROR("Failed to open the API socket at: %s. Check that it is "
					  "not already used.", args.api_sock);
			die(EMBER_EXIT_BAD_INPUT, "--api-sock %s: %s", args.api_sock, err);
		}
		LOG_INFO("API server started.");
	}
	report_startup(&args);
	status = vmm_run(&vmm);
	api_server_stop(srv);
	return status;
}
