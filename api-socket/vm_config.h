/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The VM configuration model: what one VM is made of (struct vm_config),
 * built by the command line (main/main.c), the API and --config-file
 * (config.c) alike and booted by main/vmm.c, with one check per field: a
 * value gets the same refusal, in the same words, wherever it comes from.
 * Each check returns 0, or -1 with the reason in err (one line, no prefix:
 * the caller names the option or the API error kind in front).
 */
#ifndef EMBER_API_VM_CONFIG_H
#define EMBER_API_VM_CONFIG_H

#include <limits.h>
#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/guest_mem.h"
#include "core/layout.h"
#include "virtio/blk.h"

struct mmds;

#define MAX_DRIVES 8
#define MAX_NETS   8

struct net_spec {
	char id[DRIVE_ID_MAX + 1];      /* Firecracker's iface_id (CLI: the TAP name) */
	char tap[IFNAMSIZ];
	uint8_t mac[6];
	bool has_mac;
	bool mmds;                      /* the MMDS answers on this interface (vm_config.mmds) */
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
	bool no_acpi;                    /* --no-acpi: the MP table only */
	bool pvh;                        /* --pvh: Linux's vmlinux at its PVH entry too */
	enum gm_pages pages;             /* huge_pages: None, Transparent, 2M */
	bool smt;                        /* 2 threads per core (vcpus 1 or even) */
	bool track_dirty;                /* track_dirty_pages: log writes for Diff snapshots */
	struct mmds *mmds;               /* the MMDS store (mmds/mmds.h), or NULL */
	uint32_t mmds_ip;                /* its address (network order) */
};

/* A config with the defaults. */
void vm_config_init(struct vm_config *c);

#define FIELD_ID_MAX 64 /* drive_id, iface_id: [A-Za-z0-9_]{1,64}, as Firecracker's API */

/* A drive or interface id (also the CLI's --drive id=). */
int field_id(const char *id, size_t len, const char *what, char *err, size_t errlen);

/* A TAP name: 1 to IFNAMSIZ-1 printable characters, no '/', ':', '%', ',' or '='. */
int field_tap_name(const char *name, size_t len, char *err, size_t errlen);

/* A guest MAC "XX:XX:XX:XX:XX:XX" (hex, any case), unicast and not all zeroes. */
int field_mac(const char *s, size_t len, uint8_t mac[6], char *err, size_t errlen);

/*
 * vCPUs: 1 to GUEST_VCPUS_MAX, and 1 or even with SMT; memory:
 * GUEST_MEM_MIN_MIB to GUEST_MEM_MAX_MIB (Firecracker's words).
 */
int field_vcpus(uint64_t n, bool smt, char *err, size_t errlen);
int field_mem_mib(uint64_t mib, char *err, size_t errlen);
/*
 * huge_pages as Firecracker spells it ("None", "Transparent", "2M") into
 * *pages; with mib, the memory size it must divide (2M: an even number of
 * MiB). 0, or -1 with the reason.
 */
int field_huge_pages(const char *name, uint64_t mib, enum gm_pages *pages, char *err,
		     size_t errlen);
/* Firecracker's name of pages. */
const char *field_huge_pages_name(enum gm_pages pages);

/*
 * The command line's --drive "path=FILE[,id=ID][,ro][,root]" (id defaults
 * to "drive<n>") and --net "tap=NAME[,mac=MAC]" (keys in any order, each
 * once; the interface id is the TAP name).
 */
int field_drive_spec(const char *arg, int n, struct drive_spec *s, char *err, size_t errlen);
int field_net_spec(const char *arg, struct net_spec *n, char *err, size_t errlen);

#endif
