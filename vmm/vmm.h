/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The VMM: a VM described by a vm_config, booted and run on the VMM
 * thread's event loop. The command line and the API both build a
 * vm_config; vmm_boot() checks all of it and returns a one-line error for
 * bad input instead of exiting.
 */
#ifndef EMBER_VMM_H
#define EMBER_VMM_H

#include <limits.h>
#include <stdbool.h>

#include "evloop.h"
#include "i8042.h"
#include "layout.h"
#include "serial.h"
#include "vm.h"
#include <net/if.h>

#include "../virtio/blk.h"
#include "../virtio/net.h"

#define MAX_DRIVES 8
#define MAX_NETS   8

struct net_spec {
	char id[DRIVE_ID_MAX + 1];      /* Firecracker's iface_id (CLI: the TAP name) */
	char tap[IFNAMSIZ];
	uint8_t mac[6];
	bool has_mac;
};

/*
 * The command line ember starts from (Firecracker's boot_args replace it):
 * the console, reboot through the i8042, and an i8042 with a keyboard only
 * that Linux need not probe.
 */
#define DEFAULT_CMDLINE "console=ttyS0 reboot=k panic=1 " \
	"i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd"
#define DEFAULT_MEM_MIB 128
#define DEFAULT_VCPUS   1

struct vm_config {
	char kernel[PATH_MAX];
	char initrd[PATH_MAX];           /* "" for none */
	char cmdline[CMDLINE_MAX_SIZE];  /* see cmdline_replaces */
	bool cmdline_replaces;           /* true: the whole command line; false: appended
					  * to DEFAULT_CMDLINE */
	uint64_t mem_mib;
	int vcpus;
	struct drive_spec drives[MAX_DRIVES];
	int ndrives;
	struct net_spec nets[MAX_NETS];
	int nnets;
	bool boot_timer;                 /* --boot-timer: map the boot-timer page */
};

struct vmm {
	struct evloop loop;
	struct vm_config cfg;     /* what the API builds before InstanceStart */
	struct vm vm;
	struct serial com1;
	struct i8042 i8042;
	struct virtio_blk blks[MAX_DRIVES];
	int nblks;
	struct virtio_net *nets[MAX_NETS];
	int nnets;
	bool booted;
	bool paused;
	bool has_mem_limit;       /* --cgroup-memory-limit given: mem_limit, else */
	uint64_t mem_limit;       /* the cgroup's is read at boot (vmm/cglimit.h) */
};

/* A config with the defaults. */
void vm_config_init(struct vm_config *c);

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

/*
 * Serve the event loop until the VM stops (guest reset, crash, signal),
 * then stop the vCPUs, restore the terminal, print the reason and return
 * the exit status.
 */
int vmm_run(struct vmm *v);

#endif
