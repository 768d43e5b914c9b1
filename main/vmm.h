/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The VMM: a VM described by a vm_config, booted and run on the VMM
 * thread's event loop. The command line and the API both build a
 * vm_config; vmm_boot() checks all of it and returns a one-line error for
 * bad input instead of exiting.
 */
#ifndef EMBER_VMM_H
#define EMBER_VMM_H

#include <stdbool.h>

#include "api-socket/api.h"
#include "api-socket/vm_config.h"
#include "core/evloop.h"
#include "core/snapfile.h"
#include "vmm/i8042.h"
#include "vmm/serial.h"
#include "vmm/vm.h"

#include "main/devices.h"
#include "virtio/mmio.h"

struct vmm {
	struct evloop loop;
	struct vm vm;
	struct serial com1;
	struct i8042 i8042;
	struct vm_device devs[VIRTIO_MMIO_MAX_DEVS]; /* the device table's, in slot order */
	int ndevs;
	bool booted;
	bool paused;
	bool boot_timer;          /* --boot-timer: a restored VM maps it too */
	bool has_mem_limit;       /* --cgroup-memory-limit given: mem_limit, else */
	uint64_t mem_limit;       /* the cgroup's is read at boot (core/cglimit.h) */
};

/*
 * The event loop, the stop request and the signal handlers, in a zeroed
 * struct vmm (a static one: most of it is device state that stays
 * untouched, and so not resident, until used). Dies on failure.
 */
void vmm_init(struct vmm *v);

/*
 * Load, build and start the VM described by c. On failure returns -1 with
 * a one-line reason in err and the exit status that fits it in *status
 * (EMBER_EXIT_BAD_INPUT for bad input).
 */
int vmm_boot(struct vmm *v, const struct vm_config *c, int *status, char *err, size_t errlen);

/*
 * Operations on a running VM, for the API (VMM thread only). Each returns
 * 0, or -1 with a one-line reason in err (e.g. "the VM is not running").
 */
/* Stop every vCPU outside the guest (devices keep their state). */
int vmm_pause(struct vmm *v, char *err, size_t errlen);
int vmm_resume(struct vmm *v, char *err, size_t errlen);
/* Press Ctrl-Alt-Del on the i8042 keyboard: the guest shuts down (reboot=k: exits). */
int vmm_ctrl_alt_del(struct vmm *v, char *err, size_t errlen);
/* Swap the backing file of drive id; the guest sees a config change (new capacity). */
int vmm_drive_update(struct vmm *v, const char *id, const char *path, char *err, size_t errlen);

/* --- snapshots (issue 16; the file's sections: core/snapfile.h) --- */

#define VMM_SNAP_MAX_SECTIONS (4 + GUEST_VCPUS_MAX + VIRTIO_MMIO_MAX_DEVS + 8)

/* A snapshot file read and checked whole (CRC, sections). */
struct vmm_snapshot {
	uint8_t *buf;
	struct snap_section secs[VMM_SNAP_MAX_SECTIONS];
	unsigned int n;
	const char *config;       /* its configuration (config-file JSON), not NUL-ended */
	size_t config_len;
};

/*
 * Write a snapshot of the paused VM: its state and cfg_json (the
 * configuration, as GET /vm/config gives it) to snap_path, all of guest
 * memory to mem_path (zero pages as holes); with diff (dirty tracking on)
 * only the pages written since the last snapshot, or since the boot or
 * load (the rest holes: --merge-diff puts them onto the memory file they
 * follow). 0, or -1 with a reason.
 */
int vmm_snapshot_create(struct vmm *v, const char *cfg_json, const char *snap_path,
			const char *mem_path, bool diff, char *err, size_t errlen);
/* Read and check snap_path. 0, or -1 with a one-line reason. */
int vmm_snapshot_read(const char *snap_path, struct vmm_snapshot *s, char *err, size_t errlen);
void vmm_snapshot_free(struct vmm_snapshot *s);
/* The snapshot's configuration into *cfg and *c, p's network overrides (p may be NULL) on it. */
int vmm_snapshot_config(const struct vmm_snapshot *s, const struct config_snapshot_load *p,
			struct ember_config *cfg, struct vm_config *c, char *err, size_t errlen);
/*
 * Start the VM of s, configured as c, with its memory from p's backend: the
 * File mem_path mapped private (pages read on demand, never written back),
 * or Uffd, anonymous memory filled by the page fault handler listening on
 * mem_path (vmm/uffd.h); parked until resumed unless p->resume. Bad input
 * (a file that does not fit c) is refused before KVM is touched, as
 * vmm_boot() does.
 */
int vmm_restore(struct vmm *v, const struct vm_config *c, const struct vmm_snapshot *s,
		const struct config_snapshot_load *p, int *status, char *err, size_t errlen);

/*
 * PUT /snapshot/load and --restore: read and check p's snapshot, take its
 * configuration into *cfg (p's network overrides on it) and start its VM
 * (vmm_restore), with mmds answering as that configuration says (an empty
 * data store, as in Firecracker). Sets *status as vmm_boot() does.
 */
int vmm_snapshot_load(struct vmm *v, const struct config_snapshot_load *p,
		      struct ember_config *cfg, struct mmds *mmds, int *status, char *err,
		      size_t errlen);

/* The operations above, for the API (api_init). */
extern const struct api_vm_ops vmm_api_ops;

/*
 * Serve the event loop until the VM stops (guest reset, crash, signal),
 * then stop the vCPUs, restore the terminal, print the reason and return
 * the exit status.
 */
int vmm_run(struct vmm *v);

#endif
