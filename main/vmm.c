/* SPDX-License-Identifier: Apache-2.0 */
#include "main/vmm.h"
#include "core/cglimit.h"
#include "core/ember.h"
#include "core/logger.h"
#include "core/metrics.h"
#include "kernel-loader/bootparam.h"
#include "kernel-loader/loader.h"
#include "virtio/mmio.h"
#include "vmm/acpi.h"
#include "vmm/boot_timer.h"
#include "vmm/legacy.h"
#include "vmm/mptable.h"
#include "vmm/seccomp.h"
#include "vmm/term.h"
#include "vmm/uffd.h"
#include "vmm/vmstate.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

void vmm_init(struct vmm *v)
{
	/* v is zeroed already (static): clearing it would only make it resident. */
	if (evloop_init(&v->loop) < 0 || stop_init(&v->loop) < 0)
		die(EMBER_EXIT_HOST_ERROR, "cannot set up the event loop: %s", strerror(errno));
	/* Firecracker's "block" and "net" metrics are there with no device too. */
	for (const struct device_kind *const *k = device_kinds; *k; k++)
		metrics_add_kind((*k)->metrics);
}

/* errorf() that also sets the exit status a failed boot gives. */
static int fail(int *status, int code, char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static int fail(int *status, int code, char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verrorf(err, errlen, fmt, ap);
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
 * The devices of the device table (main/devices.h), each on the next
 * virtio-mmio slot with its kernel parameter: opened now, so that a bad
 * path is bad input, not a half-built VM.
 */
static int open_devices(struct vmm *v, const struct vm_config *c, char *cmdline, size_t size,
			int *status, char *err, size_t errlen)
{
	char param[64];
	const char *extra;

	*status = EMBER_EXIT_BAD_INPUT;
	for (const struct device_kind *const *k = device_kinds; *k; k++) {
		for (int i = 0; i < (*k)->count(c); i++) {
			struct vm_device *d = &v->devs[v->ndevs];

			if (v->ndevs == VIRTIO_MMIO_MAX_DEVS)
				return fail(status, EMBER_EXIT_BAD_INPUT, err, errlen,
					    "too many devices (at most %d)", VIRTIO_MMIO_MAX_DEVS);
			memset(d, 0, sizeof(*d));
			if ((*k)->open(d, c, i, &v->vm.mem, &v->loop, err, errlen) < 0)
				return -1;
			d->kind = *k;
			d->slot = v->ndevs++;
			extra = (*k)->cmdline ? (*k)->cmdline(d, c, i) : NULL;
			if (virtio_mmio_param(d->slot, param, sizeof(param)) < 0 ||
			    !cmdline_append(cmdline, size, param) ||
			    (extra && !cmdline_append(cmdline, size, extra)))
				return fail(status, EMBER_EXIT_BAD_INPUT, err, errlen,
					    "kernel command line too long for the devices");
		}
	}
	return 0;
}

/* A failed boot gives back the files and TAPs it opened, so it can be retried. */
static void close_devices(struct vmm *v)
{
	for (int i = 0; i < v->ndevs; i++)
		v->devs[i].kind->close(&v->devs[i]);
	v->ndevs = 0;
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
 * The ACPI tables (kernels that read them find the CPUs, the IOAPIC and the
 * virtio-mmio devices there; the MP table and the command line stay for
 * the others) and their RSDP in boot_params. 0, or -1.
 */
static int write_acpi(struct vmm *v, const struct vm_config *c)
{
	struct acpi_mmio_dev devs[ACPI_MAX_DEVS];
	struct acpi_machine m = { .ncpus = c->vcpus, .devs = devs };
	uint64_t rsdp = ACPI_START;
	char why[200];

	for (int i = 0; i < v->ndevs && m.ndevs < ACPI_MAX_DEVS; i++)
		devs[m.ndevs++] = (struct acpi_mmio_dev){
			.base = VIRTIO_MMIO_BASE + (uint64_t)v->devs[i].slot * VIRTIO_MMIO_SIZE,
			.size = VIRTIO_MMIO_SIZE,
			.gsi = VIRTIO_MMIO_FIRST_GSI + (uint32_t)v->devs[i].slot,
		};
	if (acpi_setup(&v->vm, &m, why, sizeof(why)) < 0) {
		warn("%s", why);
		return -1;
	}
	return gm_write(&v->vm.mem, ZERO_PAGE_START + BP_ACPI_RSDP_ADDR, &rsdp, sizeof(rsdp));
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

/*
 * The IOAPIC's pins: the fixed ones (core/layout.h), then one per virtio
 * slot up to the highest taken. Fewer pins, fewer exits: the guest's kernel
 * reads and masks every one at boot.
 */
static int ioapic_pins(const struct vmm *v)
{
	int n = IOAPIC_MIN_PINS;

	for (int i = 0; i < v->ndevs; i++)
		if (GSI_VIRTIO_FIRST + v->devs[i].slot + 1 > n)
			n = GSI_VIRTIO_FIRST + v->devs[i].slot + 1;
	return n;
}

/*
 * The VM around its memory and opened devices: KVM, its IOAPIC, the
 * devices on their slots, the boot timer, metrics, the legacy devices. Dies
 * on failure (a host error).
 */
static void assemble(struct vmm *v, const struct vm_config *c, uint64_t start_ns)
{
	v->vm.threads_per_core = c->smt && c->vcpus > 1 ? 2 : 1;
	vm_create(&v->vm, c->vcpus);
	vm_add_ioapic(&v->vm, ioapic_pins(v));
	for (int i = 0; i < v->ndevs; i++)
		virtio_mmio_add(&v->vm, v->devs[i].slot, v->devs[i].dev);
	if (c->boot_timer && boot_timer_init(&v->vm, start_ns) < 0)
		die(EMBER_EXIT_HOST_ERROR, "cannot map the boot timer");
	for (int i = 0; i < v->ndevs; i++)
		if (metrics_add_device(v->devs[i].kind->metrics, v->devs[i].id,
				       v->devs[i].metrics_obj) < 0)
			warn("no metrics for %s %s", v->devs[i].kind->name, v->devs[i].id);
	legacy_init(&v->vm);
	i8042_init(&v->i8042, &v->vm);
	serial_init(&v->com1, &v->vm, SERIAL_COM1_BASE, SERIAL_COM1_IRQ, STDOUT_FILENO);
}

/* The console, then the vCPUs (parked from the start when paused), then seccomp. */
static void start(struct vmm *v, bool paused)
{
	term_raw(STDIN_FILENO);
	serial_attach_input(&v->com1, &v->loop, STDIN_FILENO);
	v->vm.pause_req = paused;
	v->paused = paused;
	vm_start_vcpus(&v->vm);
	v->booted = true;
	seccomp_vmm_booted(); /* seccomp: the VMM filter, once the loop serves too */
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
	if (field_mem_mib(c->mem_mib, why, sizeof(why)) < 0 ||
	    field_vcpus(c->vcpus < 0 ? 0 : (uint64_t)c->vcpus, c->smt, why, sizeof(why)) < 0)
		return fail(status, EMBER_EXIT_BAD_INPUT, err, errlen, "%s", why);
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
	if (gm_alloc(&v->vm.mem, c->mem_mib << 20, c->pages) < 0) {
		fail(status, EMBER_EXIT_HOST_ERROR, err, errlen,
		     "cannot map %llu MiB of guest memory%s: %s", (unsigned long long)c->mem_mib,
		     c->pages == GM_PAGES_HUGETLB_2M ? " in 2 MiB huge pages (the pool, "
		     "/proc/sys/vm/nr_hugepages, must hold them all)" : "", strerror(errno));
		goto unmap;
	}
	if (c->track_dirty && gm_track_dirty(&v->vm.mem) < 0) {
		fail(status, EMBER_EXIT_HOST_ERROR, err, errlen, "out of memory");
		goto free_mem;
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
	cmdline_append(cmdline, sizeof(cmdline), c->cmdline_replaces ? c->cmdline : DEFAULT_CMDLINE);
	if (open_devices(v, c, cmdline, sizeof(cmdline), status, err, errlen) < 0)
		goto close;
	if (mptable_write(&v->vm.mem, c->vcpus, ioapic_pins(v), err, errlen) < 0)
		goto close;
	if (!c->cmdline_replaces && c->cmdline[0] &&
	    !cmdline_append(cmdline, sizeof(cmdline), c->cmdline)) {
		fail(status, EMBER_EXIT_BAD_INPUT, err, errlen, "kernel command line too long");
		goto close;
	}
	if (write_boot_params(&v->vm.mem, &ki, cmdline, initrd_addr, initrd_len, err, errlen) < 0)
		goto close;
	/*
	 * An ELF with Xen's PVH note starts there, but Linux's vmlinux only with
	 * --pvh: its 64-bit entry boots it with 256 fewer exits (Linux's PVH
	 * start-up calls CPUID on each of 0x40000000..0x4000ff00 looking for Xen).
	 */
	if (ki.pvh_entry && ki.linux_notes && !c->pvh) {
		LOG_INFO("kernel %s: 64-bit entry at 0x%llx (Linux's; its PVH entry with --pvh)",
			 c->kernel, (unsigned long long)ki.entry);
		ki.pvh_entry = 0;
	}
	if (ki.pvh_entry) {
		if (write_pvh_start_info(&v->vm.mem, initrd_addr, initrd_len,
					 c->no_acpi ? 0 : ACPI_START, err, errlen) < 0)
			goto close;
		LOG_INFO("kernel %s: PVH entry at 0x%llx", c->kernel,
			 (unsigned long long)ki.pvh_entry);
	}
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
	assemble(v, c, start_ns);
	vm_write_boot_tables(&v->vm);
	if (!c->no_acpi && write_acpi(v, c) < 0)
		die(EMBER_EXIT_HOST_ERROR, "cannot write the ACPI tables");
	vm_create_vcpus(&v->vm, ki.pvh_entry ? ki.pvh_entry : ki.entry,
			ki.pvh_entry ? PVH_START_INFO : 0);
	start(v, false);
	return 0;
}

/* --- snapshots ----------------------------------------------------------------------- */

static int need_running(struct vmm *v, char *err, size_t errlen);

int vmm_snapshot_create(struct vmm *v, const char *cfg_json, const char *snap_path,
			const char *mem_path, bool diff, char *err, size_t errlen)
{
	struct snap_writer w;
	uint8_t *buf = NULL;
	uint64_t *dirty = NULL;
	size_t len = 0;
	char why[300];
	int fd, r = -1;

	if (need_running(v, err, errlen) < 0)
		return -1;
	if (!v->paused)
		return errorf(err, errlen, "the VM is not paused");
	if (diff && !v->vm.mem.dirty)
		return errorf(err, errlen, "a Diff snapshot needs dirty page tracking "
			      "(machine-config's track_dirty_pages, or the load's)");
	snap_w_init(&w);
	snap_w_section(&w, SNAP_TAG_CONFIG, cfg_json, strlen(cfg_json));
	if (vm_state_save(&v->vm, &w, why, sizeof(why)) < 0) {
		snap_w_finish(&w, &buf, &len);
		free(buf);
		return errorf(err, errlen, "%s", why);
	}
	serial_save(&v->com1, &w);
	i8042_save(&v->i8042, &w);
	for (int i = 0; i < v->ndevs; i++)
		virtio_mmio_save(v->devs[i].dev, &w);
	if (snap_w_finish(&w, &buf, &len) < 0)
		return errorf(err, errlen, "the state does not fit a snapshot file");

	/* What was written since the last snapshot (the used rings marked above). */
	if (v->vm.mem.dirty) {
		dirty = malloc(GM_BITMAP_WORDS(&v->vm.mem) * sizeof(*dirty));
		if (!dirty || vm_dirty_pages(&v->vm, dirty) < 0) {
			errorf(err, errlen, "cannot read the dirty page log: %s", strerror(errno));
			goto out;
		}
	}
	fd = open_host_file(mem_path, O_WRONLY | O_CREAT, false, err, errlen);
	if (fd < 0)
		goto out;
	if ((diff ? gm_dump_pages(&v->vm.mem, fd, dirty) : gm_dump(&v->vm.mem, fd)) < 0 ||
	    fsync(fd) < 0) {
		errorf(err, errlen, "cannot write guest memory to %.200s: %s", mem_path,
		       strerror(errno));
		close(fd);
		goto out;
	}
	close(fd);
	fd = open_host_file(snap_path, O_WRONLY | O_CREAT, false, err, errlen);
	if (fd < 0)
		goto out;
	if (ftruncate(fd, 0) < 0 || pwrite_full(fd, buf, len, 0) < 0 || fsync(fd) < 0) {
		errorf(err, errlen, "cannot write %.200s: %s", snap_path, strerror(errno));
		close(fd);
		goto out;
	}
	close(fd);
	r = 0;
out:
	/* A failed snapshot leaves the next Diff the pages it would have had. */
	if (r < 0 && dirty)
		for (uint64_t i = 0; i < GM_BITMAP_WORDS(&v->vm.mem); i++)
			__atomic_or_fetch(&v->vm.mem.dirty[i], dirty[i], __ATOMIC_RELAXED);
	free(dirty);
	free(buf);
	return r;
}

int vmm_snapshot_read(const char *snap_path, struct vmm_snapshot *s, char *err, size_t errlen)
{
	char why[300];
	size_t len;
	const uint8_t *map;

	memset(s, 0, sizeof(*s));
	map = map_file(snap_path, &len, why, sizeof(why));
	if (!map)
		return errorf(err, errlen, "snapshot %.200s: %s", snap_path, why);
	/* A private copy: the file may change under a mapping. */
	s->buf = malloc(len ? len : 1);
	if (!s->buf) {
		munmap((void *)map, len);
		return errorf(err, errlen, "out of memory");
	}
	memcpy(s->buf, map, len);
	munmap((void *)map, len);
	if (snap_parse(s->buf, len, s->secs, VMM_SNAP_MAX_SECTIONS, &s->n, why, sizeof(why)) < 0) {
		vmm_snapshot_free(s);
		return errorf(err, errlen, "snapshot %.200s: %s", snap_path, why);
	}
	for (unsigned int i = 0; i < s->n; i++)
		if (s->secs[i].tag == SNAP_TAG_CONFIG && !s->config) {
			s->config = (const char *)s->secs[i].data;
			s->config_len = s->secs[i].len;
		}
	if (!s->config) {
		vmm_snapshot_free(s);
		return errorf(err, errlen, "snapshot %.200s: it holds no configuration", snap_path);
	}
	return 0;
}

void vmm_snapshot_free(struct vmm_snapshot *s)
{
	free(s->buf);
	memset(s, 0, sizeof(*s));
}

/* The sections with tag, in file order, into out (room for max); their count. */
static unsigned int sections(const struct vmm_snapshot *s, uint32_t tag,
			     const struct snap_section **out, unsigned int max)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < s->n; i++)
		if (s->secs[i].tag == tag && n < max)
			out[n++] = &s->secs[i];
	return n;
}

/* The File backend: mem_path mapped private (pages on demand, writes copied). */
static int map_mem_file(struct vmm *v, const struct vm_config *c, const char *mem_path,
			int *status, char *err, size_t errlen)
{
	char why[300];
	struct stat st = { 0 };
	int fd;

	fd = open_host_file(mem_path, O_RDONLY, false, why, sizeof(why));
	if (fd < 0)
		return fail(status, EMBER_EXIT_BAD_INPUT, err, errlen, "memory file: %s", why);
	if (fstat(fd, &st) < 0 || (uint64_t)st.st_size != c->mem_mib << 20) {
		close(fd);
		return fail(status, EMBER_EXIT_BAD_INPUT, err, errlen, "memory file %.200s is %lld "
			    "bytes, the snapshot's guest has %llu MiB", mem_path,
			    (long long)st.st_size, (unsigned long long)c->mem_mib);
	}
	if (gm_map_file(&v->vm.mem, fd, c->mem_mib << 20) < 0) {
		close(fd);
		return fail(status, EMBER_EXIT_HOST_ERROR, err, errlen, "cannot map memory file "
			    "%.200s: %s", mem_path, strerror(errno));
	}
	close(fd); /* the mapping keeps the file */
	return 0;
}

int vmm_restore(struct vmm *v, const struct vm_config *c, const struct vmm_snapshot *s,
		const struct config_snapshot_load *p, int *status, char *err, size_t errlen)
{
	const char *mem_path = p->mem_path;
	const struct snap_section *uart[1] = { NULL }, *kbd[1] = { NULL };
	const struct snap_section *virt[VIRTIO_MMIO_MAX_DEVS + 1];
	char cmdline[CMDLINE_MAX_SIZE * 2] = "";
	char why[300];

	*status = EMBER_EXIT_BAD_INPUT;
	if (v->booted)
		return fail(status, EMBER_EXIT_BAD_INPUT, err, errlen, "the VM is already running");
	if (field_mem_mib(c->mem_mib, why, sizeof(why)) < 0 ||
	    field_vcpus(c->vcpus < 0 ? 0 : (uint64_t)c->vcpus, c->smt, why, sizeof(why)) < 0)
		return fail(status, EMBER_EXIT_BAD_INPUT, err, errlen, "the snapshot's %s", why);
	/* The whole file is checked before anything is made of it. */
	if (vm_state_check(s->secs, s->n, c->vcpus, why, sizeof(why)) < 0)
		return fail(status, EMBER_EXIT_BAD_INPUT, err, errlen, "%s", why);
	if (sections(s, SNAP_TAG_SERIAL, uart, 1) != 1 || sections(s, SNAP_TAG_I8042, kbd, 1) != 1)
		return fail(status, EMBER_EXIT_BAD_INPUT, err, errlen,
			    "the snapshot lacks the serial port's or the i8042's state");
	if (check_mem_limit(v, c, status, err, errlen) < 0)
		return -1;
	if (p->uffd) {
		/* Anonymous memory, filled by the page fault handler (below) on first touch. */
		if (gm_alloc(&v->vm.mem, c->mem_mib << 20, c->pages) < 0)
			return fail(status, EMBER_EXIT_HOST_ERROR, err, errlen, "cannot allocate "
				    "%llu MiB of guest memory: %s", (unsigned long long)c->mem_mib,
				    strerror(errno));
		/* Its pages not yet served hold the snapshot's data, not zeroes. */
		v->vm.mem.untouched_zero = false;
	} else if (map_mem_file(v, c, mem_path, status, err, errlen) < 0) {
		return -1;
	}
	if (c->track_dirty && gm_track_dirty(&v->vm.mem) < 0) {
		fail(status, EMBER_EXIT_HOST_ERROR, err, errlen, "out of memory");
		goto fail_mem;
	}
	if (open_devices(v, c, cmdline, sizeof(cmdline), status, err, errlen) < 0)
		goto fail_mem;
	if (sections(s, SNAP_TAG_VIRTIO, virt, VIRTIO_MMIO_MAX_DEVS + 1) != (unsigned int)v->ndevs) {
		fail(status, EMBER_EXIT_BAD_INPUT, err, errlen, "the snapshot's devices are not "
		     "its configuration's");
		goto fail_devs;
	}
	/* The last step that can fail: a handler gone from here on ends ember. */
	if (p->uffd && uffd_backend_start(&v->vm.mem, c->pages == GM_PAGES_HUGETLB_2M ?
					  2u << 20 : GM_PAGE_SIZE, mem_path, why, sizeof(why)) < 0) {
		fail(status, EMBER_EXIT_BAD_INPUT, err, errlen, "%s", why);
		goto fail_devs;
	}

	/* From here on the state is applied: a failure ends ember (KVM is half set). */
	assemble(v, c, boot_timer_now_ns());
	vm_create_vcpus_bare(&v->vm);
	*status = EMBER_EXIT_BAD_INPUT;
	if (vm_state_restore(&v->vm, s->secs, s->n, why, sizeof(why)) < 0 ||
	    serial_restore(&v->com1, uart[0], why, sizeof(why)) < 0 ||
	    i8042_restore(&v->i8042, kbd[0], why, sizeof(why)) < 0)
		die(EMBER_EXIT_BAD_INPUT, "cannot restore the snapshot: %s", why);
	for (int i = 0; i < v->ndevs; i++)
		if (virtio_mmio_restore(v->devs[i].dev, virt[i], why, sizeof(why)) < 0)
			die(EMBER_EXIT_BAD_INPUT, "cannot restore the snapshot: %s", why);
	/* The guest's ACPI tables, if it has them, are in its memory: their ports. */
	if (acpi_pm_init(&v->vm, why, sizeof(why)) < 0)
		die(EMBER_EXIT_HOST_ERROR, "%s", why);
	/* A new VM generation: its ID, then the interrupt that has the guest read it. */
	if (acpi_vmgenid_new(&v->vm))
		vm_irq_pulse(&v->vm, ACPI_GED_GSI);
	vm_clock_paused(&v->vm);
	start(v, !p->resume);
	return 0;

fail_devs:
	close_devices(v);
fail_mem:
	gm_free(&v->vm.mem);
	return -1;
}

static int need_running(struct vmm *v, char *err, size_t errlen)
{
	if (!v->booted)
		return errorf(err, errlen, "the VM is not running (InstanceStart first)");
	return 0;
}

int vmm_pause(struct vmm *v, char *err, size_t errlen)
{
	if (need_running(v, err, errlen) < 0)
		return -1;
	if (!v->paused && vm_pause_vcpus(&v->vm) < 0)
		return errorf(err, errlen, "the VM is stopping");
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
		errorf(err, errlen, "the i8042 output buffer is full; try again");
		return -1;
	}
	return 0;
}

int vmm_drive_update(struct vmm *v, const char *id, const char *path, char *err, size_t errlen)
{
	if (need_running(v, err, errlen) < 0)
		return -1;
	for (int i = 0; i < v->ndevs; i++)
		if (v->devs[i].kind == &device_virtio_blk && !strcmp(v->devs[i].id, id))
			return virtio_blk_set_backing(v->devs[i].obj, path, err, errlen);
	return errorf(err, errlen, "no drive with id '%s'", id);
}

static int op_boot(void *v, const struct vm_config *c, int *status, char *err, size_t errlen)
{
	return vmm_boot(v, c, status, err, errlen);
}
static int op_pause(void *v, char *err, size_t errlen) { return vmm_pause(v, err, errlen); }
static int op_resume(void *v, char *err, size_t errlen) { return vmm_resume(v, err, errlen); }
static int op_ctrl_alt_del(void *v, char *err, size_t errlen)
{
	return vmm_ctrl_alt_del(v, err, errlen);
}
static int op_drive_update(void *v, const char *id, const char *path, char *err, size_t errlen)
{
	return vmm_drive_update(v, id, path, err, errlen);
}

static int op_snapshot_create(void *v, const char *cfg_json,
			      const struct config_snapshot_create *p, char *err, size_t errlen)
{
	return vmm_snapshot_create(v, cfg_json, p->snapshot_path, p->mem_path, p->diff, err,
				   errlen);
}

/*
 * The snapshot's configuration: its CONF section read as a config file
 * (logger, metrics and serial aside), the network overrides on it.
 */
int vmm_snapshot_config(const struct vmm_snapshot *s, const struct config_snapshot_load *p,
			struct ember_config *cfg, struct vm_config *c, char *err, size_t errlen)
{
	char why[400];

	ember_config_init(cfg);
	if (config_parse_snapshot_config(cfg, s->config, s->config_len, why, sizeof(why)) < 0)
		return errorf(err, errlen, "the snapshot's configuration: %s", why);
	if (p && config_apply_overrides(cfg, p, err, errlen) < 0)
		return -1;
	return config_to_vm(cfg, c, err, errlen);
}

int vmm_snapshot_load(struct vmm *v, const struct config_snapshot_load *p,
		      struct ember_config *cfg, struct mmds *mmds, int *status, char *err,
		      size_t errlen)
{
	struct vmm_snapshot s;
	static struct vm_config c;
	int r;

	*status = EMBER_EXIT_BAD_INPUT;
	if (vmm_snapshot_read(p->snapshot_path, &s, err, errlen) < 0)
		return -1;
	r = vmm_snapshot_config(&s, p, cfg, &c, err, errlen);
	if (r == 0) {
		c.boot_timer = v->boot_timer;
		c.track_dirty = p->track_dirty;
		config_mmds_attach(cfg, &c, mmds);
		r = vmm_restore(v, &c, &s, p, status, err, errlen);
	}
	vmm_snapshot_free(&s);
	return r;
}

static int op_snapshot_load(void *v, const struct config_snapshot_load *p,
			    struct ember_config *cfg, struct mmds *mmds, int *status, char *err,
			    size_t errlen)
{
	return vmm_snapshot_load(v, p, cfg, mmds, status, err, errlen);
}

const struct api_vm_ops vmm_api_ops = {
	.boot = op_boot,
	.pause = op_pause,
	.resume = op_resume,
	.ctrl_alt_del = op_ctrl_alt_del,
	.drive_update = op_drive_update,
	.snapshot_create = op_snapshot_create,
	.snapshot_load = op_snapshot_load,
};

int vmm_run(struct vmm *v)
{
	seccomp_vmm_serving(); /* seccomp: the VMM filter, once the VM is booted too */
	evloop_run(&v->loop);
	stop_after_loop();
	if (v->booted)
		vm_stop_vcpus(&v->vm);
	term_restore();
	return stop_report();
}
