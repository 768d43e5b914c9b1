/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Firecracker's JSON configuration, for the API socket and --config-file:
 * the bodies of PUT /boot-source, /machine-config, /drives/{id},
 * /network-interfaces/{id}, /logger, /metrics, /serial, PATCH /drives/{id},
 * /network-interfaces/{id}, /machine-config, /vm, PUT /actions, and the
 * whole-VM document of --config-file and GET /vm/config.
 *
 * Each body has a schema (json.h: Firecracker's serde checks, every
 * refusal prefixed as serde's) and a handler that checks what the values
 * mean. Values ember cannot honour (CPU templates,
 * rate limits that limit, the Async io_engine, vhost-user drives,
 * an MTU...) are refused with a reason naming the field, never silently
 * ignored.
 *
 * Every function leaves *c untouched when it fails. Pure code: no I/O
 * except the file checks named below, no VMM state.
 */
#ifndef EMBER_API_CONFIG_H
#define EMBER_API_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api-socket/vm_config.h"

struct cJSON;

#define API_ID_MAX       FIELD_ID_MAX /* drive_id, iface_id (vm_config.h) */
#define PARTUUID_MAX     64
#define LOG_LEVEL_MAX    8   /* "Warning" */
#define LOG_MODULE_MAX   256

/* A Firecracker TokenBucket and RateLimiter, as given (not enforced yet: a warning). */
struct config_bucket {
	bool set;
	uint64_t size, refill_time;
	bool has_burst;
	uint64_t one_time_burst;
};

struct config_limiter {
	bool set;
	struct config_bucket bandwidth, ops;
};

struct config_logger {
	bool set;
	char path[PATH_MAX];      /* "" for none (standard error) */
	char level[LOG_LEVEL_MAX]; /* canonical: Off Trace Debug Info Warning Error; "" default */
	bool show_level, show_origin;
	char module[LOG_MODULE_MAX];  /* source path prefix; "" for all */
};

#define METRICS_PROPERTIES_MAX 4096

struct config_metrics {
	bool set;
	char path[PATH_MAX];
	bool emit_id;             /* an "id" (the instance id) on every line */
	char properties[METRICS_PROPERTIES_MAX]; /* "properties" on every line: a compact
					  * JSON object of strings, keys sorted; "" none */
};

struct config_serial {
	bool set;
	char path[PATH_MAX];      /* serial_out_path; "" for standard output */
	struct config_bucket limiter;
};

/* PUT /mmds/config (Firecracker's MmdsConfig). */
struct config_mmds {
	bool set;
	bool v2;                  /* version "V2" (else "V1") */
	bool imds_compat;
	char ipv4[16];            /* dotted, MMDS_DEFAULT_IPV4 unless given */
	uint32_t ip;              /* the same, network order */
	char ifaces[MAX_NETS][API_ID_MAX + 1];
	int nifaces;
};

/* What the API builds before InstanceStart (and GET /vm/config shows). */
struct ember_config {
	struct vm_config vm;     /* kernel, initrd, cmdline, mem, vCPUs, drives, NICs */
	bool track_dirty_pages;  /* log the pages written, for Diff snapshots */
	/* per drive (same index as vm.drives) */
	char partuuid[MAX_DRIVES][PARTUUID_MAX + 1]; /* "" for none */
	bool writeback[MAX_DRIVES];  /* cache_type "Writeback" (else "Unsafe") */
	struct config_limiter drive_limiter[MAX_DRIVES];
	/* per NIC (same index as vm.nets) */
	char iface_id[MAX_NETS][API_ID_MAX + 1];
	struct config_limiter rx_limiter[MAX_NETS], tx_limiter[MAX_NETS];
	struct config_logger logger;
	struct config_metrics metrics;
	struct config_serial serial;
	struct config_mmds mmds;
	/*
	 * Set while a snapshot's configuration is parsed: its kernel and initrd
	 * are not needed (the guest is in the memory file) and its TAPs are
	 * opened, after the load's network_overrides, when the VM starts.
	 */
	bool no_host_checks;
};

/*
 * How PUT /network-interfaces checks that its TAP can be opened now, as
 * Firecracker does (it creates the device then): set by the program's top
 * (virtio_net_tap_check); NULL checks nothing (unit tests).
 */
extern int (*config_tap_check)(const char *tap_name, char *err, size_t errlen);

/* The defaults: no kernel, 1 vCPU, 128 MiB, no devices. */
void ember_config_init(struct ember_config *c);

/*
 * The Firecracker resources ember does not have, in one list: the API's
 * /<resource> answers that they are not supported, and the config file
 * accepts <config_key> only null or empty.
 */
struct config_unsupported {
	const char *resource;     /* the API's first path token */
	const char *config_key;   /* the config file's key (NULL: none) */
	const char *what;         /* "ember has no <what>" */
};
extern const struct config_unsupported config_unsupported[]; /* ends with resource NULL */

/*
 * The configuration's own resources: a PUT (or PATCH) before InstanceStart
 * that only changes the configuration. The API routes each one as
 * /<resource> or /<resource>/{id}, pre-boot only; the config file reads
 * its key (an object, or an array of them when it has ids, each id given
 * once). A new device's configuration is one entry here.
 */
struct config_resource {
	const char *resource;     /* the API's path ("drives") and the config file's key */
	bool patch;               /* PATCH /resource (else PUT) */
	bool with_id;             /* /resource/{id}; an array in the config file */
	bool in_file;             /* read from the config file */
	bool file_required;       /* ... and required there */
	const char *id_field;     /* with_id: the body's id ("drive_id") */
	const struct json_schema *schema;
	/* Check the body j (id: from the path, NULL in the config file) and change c. */
	int (*apply)(struct ember_config *c, const struct cJSON *j, const char *id, char *err,
		     size_t errlen);
	uint64_t *count, *fails;  /* the API's metrics (NULL: none) */
	const char *file_key;     /* the config file's key, when not resource */
	/* A deprecation the request's body asks for (its log line), or NULL. */
	const char *(*deprecation)(const struct cJSON *j);
};
extern const struct config_resource config_resources[]; /* ends with resource NULL */

/* The schemas of the bodies (json.h): checked before the VM's state is. */
struct json_schema;
extern const struct json_schema config_boot_source_schema, config_machine_schema,
	config_machine_patch_schema, config_drive_schema, config_drive_patch_schema,
	config_net_schema, config_net_patch_schema, config_logger_schema, config_metrics_schema,
	config_serial_schema, config_action_schema, config_vm_state_schema, config_mmds_schema;

/* PUT /snapshot/create (Firecracker's CreateSnapshotParams). */
struct config_snapshot_create {
	bool diff;                /* snapshot_type "Diff" (else "Full") */
	char snapshot_path[PATH_MAX];
	char mem_path[PATH_MAX];
};

/* PUT /snapshot/load (Firecracker's LoadSnapshotParams). */
struct config_net_override {
	char iface_id[API_ID_MAX + 1];
	char tap[IFNAMSIZ];       /* host_dev_name */
};
struct config_snapshot_load {
	char snapshot_path[PATH_MAX];
	char mem_path[PATH_MAX];  /* mem_backend's backend_path, or mem_file_path */
	bool uffd;                /* backend_type "Uffd" (else "File") */
	bool track_dirty;         /* track_dirty_pages, or enable_diff_snapshots */
	bool resume;              /* resume_vm */
	bool deprecated;          /* mem_file_path or enable_diff_snapshots given */
	struct config_net_override overrides[MAX_NETS];
	int noverrides;
};
extern const struct json_schema config_snapshot_create_schema, config_snapshot_load_schema;
int config_parse_snapshot_create(const struct cJSON *j, struct config_snapshot_create *out,
				 char *err, size_t errlen);
int config_parse_snapshot_load(const struct cJSON *j, struct config_snapshot_load *out,
			       char *err, size_t errlen);
/* The load's network_overrides on c, the snapshot's configuration: each TAP replaced. */
int config_apply_overrides(struct ember_config *c, const struct config_snapshot_load *l,
			   char *err, size_t errlen);

/* A resource id from a URL or a body: 1 to 64 of [A-Za-z0-9_]. */
bool config_valid_id(const char *id);

/*
 * The API bodies. Each checks j fully, then updates c. path_id is the id
 * from the URL; the body's id must equal it. Pre-boot-only rules (state)
 * are the caller's. File checks: PUT /boot-source opens the kernel and
 * initrd, PUT /drives opens the backing file (read-only or read-write as
 * asked), PUT /serial nothing (the caller opens it).
 */
int config_put_boot_source(struct ember_config *c, const struct cJSON *j,
			   char *err, size_t errlen);
/* PUT replaces (vcpu_count and mem_size_mib required); PATCH updates (at least one field). */
int config_machine(struct ember_config *c, const struct cJSON *j, bool patch,
		   char *err, size_t errlen);
int config_put_drive(struct ember_config *c, const struct cJSON *j, const char *path_id,
		     char *err, size_t errlen);
int config_put_net(struct ember_config *c, const struct cJSON *j, const char *path_id,
		   char *err, size_t errlen);
int config_put_logger(struct ember_config *c, const struct cJSON *j, char *err, size_t errlen);
int config_put_metrics(struct ember_config *c, const struct cJSON *j, char *err, size_t errlen);
int config_put_serial(struct ember_config *c, const struct cJSON *j, char *err, size_t errlen);
/*
 * The same three into *out alone, for a caller that applies them before
 * keeping them (the API): out starts from cur (the logger keeps the values
 * of absent fields, as Firecracker's does).
 */
int config_parse_logger(const struct config_logger *cur, const struct cJSON *j,
			struct config_logger *out, char *err, size_t errlen);
int config_parse_metrics(const struct cJSON *j, struct config_metrics *out,
			 char *err, size_t errlen);
int config_parse_serial(const struct cJSON *j, struct config_serial *out,
			char *err, size_t errlen);

/*
 * PATCH /drives/{id}: *path gets path_on_host (NULL when absent: nothing
 * to do; a pointer into j), *limiter the rate_limiter (limiter->set false
 * when absent). The drive must exist in c. The caller applies and keeps them.
 */
int config_patch_drive(const struct ember_config *c, const struct cJSON *j,
		       const char *path_id, const char **path, struct config_limiter *limiter,
		       char *err, size_t errlen);
/* PATCH /network-interfaces/{id}: new rate limiters, kept in c. */
int config_patch_net(struct ember_config *c, const struct cJSON *j,
		     const char *path_id, char *err, size_t errlen);

/* PUT /mmds/config (and the config file's mmds-config): into c->mmds. */
int config_put_mmds(struct ember_config *c, const struct cJSON *j, char *err, size_t errlen);

enum config_action { ACTION_INSTANCE_START, ACTION_CTRL_ALT_DEL, ACTION_FLUSH_METRICS };
int config_parse_action(const struct cJSON *j, enum config_action *a, char *err, size_t errlen);
/* PATCH /vm: *pause true for "Paused", false for "Resumed". */
int config_parse_vm_state(const struct cJSON *j, bool *pause, char *err, size_t errlen);

/*
 * A whole --config-file document (Firecracker's format: boot-source,
 * machine-config, drives, network-interfaces, logger, metrics; Firecracker's
 * other keys only when null or empty; unknown keys refused) into c, which
 * starts from the defaults.
 */
int config_parse_file(struct ember_config *c, const char *text, size_t len,
		      char *err, size_t errlen);
/*
 * The same for a snapshot's configuration (GET /vm/config's JSON in its
 * CONF section): the kernel and initrd need not exist any more (the guest
 * is in the memory file) and the TAPs are not checked here: they are opened
 * with the VM, after the load's network_overrides.
 */
int config_parse_snapshot_config(struct ember_config *c, const char *text, size_t len,
				 char *err, size_t errlen);

/* The JSON documents (malloc'd, NUL-terminated; NULL when out of memory). */
char *config_vm_json(const struct ember_config *c);       /* GET /vm/config */
char *config_machine_json(const struct ember_config *c);  /* GET /machine-config */

/*
 * The vm_config to boot: c->vm with a root drive that has a partuuid made
 * "root=PARTUUID=<uuid> rw|ro" on the command line instead of
 * "root=/dev/vda". -1 with a reason when the result does not fit.
 */
int config_to_vm(const struct ember_config *c, struct vm_config *out, char *err, size_t errlen);
/*
 * With an MMDS configured in c: m answers as its version says, on its
 * address and the interfaces it names (out->mmds, mmds_ip, nets[].mmds).
 * For a boot and for a snapshot's load, whose MMDS configuration comes back
 * (its data store does not, as in Firecracker).
 */
void config_mmds_attach(const struct ember_config *c, struct vm_config *out, struct mmds *m);

#endif
