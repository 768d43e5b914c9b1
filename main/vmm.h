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

/* The operations above, for the API (api_init). */
extern const struct api_vm_ops vmm_api_ops;

/*
 * Serve the event loop until the VM stops (guest reset, crash, signal),
 * then stop the vCPUs, restore the terminal, print the reason and return
 * the exit status.
 */
int vmm_run(struct vmm *v);

#endif
