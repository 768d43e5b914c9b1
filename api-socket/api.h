/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Firecracker's API endpoints over ember's VMM (src/firecracker/swagger/
 * firecracker.yaml): the handler api-socket/server.h calls on the VMM
 * thread for every request, and the InstanceStart both the API and
 * --config-file use.
 *
 *   GET   /                          InstanceInfo (app_name "ember")
 *   GET   /version                   {"firecracker_version": ember's version}
 *   GET   /vm/config                 the whole configuration (config-file format)
 *   GET   /machine-config
 *   PUT   /boot-source               pre-boot
 *   PUT   /machine-config            pre-boot; PATCH too
 *   PUT   /drives/{id}               pre-boot; PATCH post-boot: path_on_host swap
 *   PUT   /network-interfaces/{id}   pre-boot; PATCH post-boot (rate limiters: none)
 *   PUT   /logger, /metrics, /serial pre-boot
 *   PUT   /actions                   InstanceStart (pre), SendCtrlAltDel and
 *                                    FlushMetrics (post-boot)
 *   PATCH /vm                        {"state": "Paused" | "Resumed"}, post-boot
 *   PUT   /snapshot/create           post-boot, paused: Full (Diff refused)
 *   PUT   /snapshot/load             pre-boot, before any boot-specific resource
 *   GET   /mmds                      the MMDS's data; PUT replaces it, PATCH merges
 *   PUT   /mmds/config               pre-boot: version, interfaces, address
 *
 * Success is 204 (200 and JSON for GETs); every refusal is 400 with
 * {"fault_message":"..."} worded like Firecracker's ("The requested
 * operation is not supported after starting the microVM.", "The id from
 * the path does not match the id from the body!", ...); a body over
 * --http-api-max-payload-size is the HTTP server's to refuse (server.h).
 */
#ifndef EMBER_API_H
#define EMBER_API_H

#include <stdbool.h>
#include <stddef.h>

#include "api-socket/config.h"
#include "api-socket/http.h"
#include "core/logger.h"

#define API_DEFAULT_SOCK "/run/firecracker.socket"

struct evloop;

/*
 * What the API asks of the VM, provided by the program's top (main/vmm.c):
 * the API sits below it and knows the VM only through these. Each returns
 * 0, or -1 with a one-line reason in err; boot also sets *status, the exit
 * status that fits a failure (EMBER_EXIT_BAD_INPUT for bad input).
 */
struct api_vm_ops {
	int (*boot)(void *vm, const struct vm_config *c, int *status, char *err, size_t errlen);
	int (*pause)(void *vm, char *err, size_t errlen);
	int (*resume)(void *vm, char *err, size_t errlen);
	int (*ctrl_alt_del)(void *vm, char *err, size_t errlen);
	/* Swap the backing file of drive id while the guest runs. */
	int (*drive_update)(void *vm, const char *id, const char *path, char *err, size_t errlen);
	/* Write a snapshot of the paused VM: its state with cfg_json (GET /vm/config's). */
	int (*snapshot_create)(void *vm, const char *cfg_json,
			       const struct config_snapshot_create *p, char *err, size_t errlen);
	/*
	 * Start the VM a snapshot holds instead of booting one; *cfg gets the
	 * snapshot's configuration (network overrides applied), and mmds
	 * answers the guest as that configuration says. Sets *status as boot
	 * does.
	 */
	int (*snapshot_load)(void *vm, const struct config_snapshot_load *p,
			     struct ember_config *cfg, struct mmds *mmds, int *status, char *err,
			     size_t errlen);
};

struct api {
	const struct api_vm_ops *ops;
	void *vm;
	struct evloop *loop;      /* the VMM thread's: the periodic metrics */
	bool booted, paused;
	bool configured;          /* a boot-specific resource was set (no snapshot load) */
	struct ember_config cfg;
	struct vm_config boot;    /* what InstanceStart booted (from cfg) */
	char id[LOG_INSTANCE_ID_MAX + 1];
	bool boot_timer;          /* --boot-timer */
	bool no_acpi;             /* --no-acpi */
	bool pvh;                 /* --pvh */
	struct mmds *mmds;        /* the MMDS's store (/mmds, --metadata) */
};

/* id is the instance id (--id). -1 when out of memory. */
int api_init(struct api *a, const struct api_vm_ops *ops, void *vm, struct evloop *loop,
	     const char *id);

/*
 * Apply a logger or metrics configuration now (PUT /logger, /metrics, the
 * config file, --log-path, --metrics-path). 0, or -1 with a reason.
 */
int api_apply_logger(struct api *a, const struct config_logger *l, char *err, size_t errlen);
int api_apply_metrics(struct api *a, const struct config_metrics *m, char *err, size_t errlen);

/*
 * InstanceStart: boot a->cfg. 0, or -1 with a one-line reason in err and
 * the exit status that fits it in *status (for --config-file).
 */
int api_start(struct api *a, int *status, char *err, size_t errlen);

/* api_handler_fn (api-socket/server.h): opaque is the struct api. */
void api_handle(void *opaque, const struct http_request *req, struct http_response *resp);

#endif
