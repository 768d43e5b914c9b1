/* SPDX-License-Identifier: Apache-2.0 */
/* Firecracker's JSON configuration bodies and file (see config.h). */
#include "api-socket/config.h"
#include "api-socket/json.h"
#include "api-socket/vm_config.h"
#include "core/ember.h"
#include "core/logger.h"
#include "core/metrics.h"
#include "mmds/mmds.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define SERDE JSON_SERDE

/* A schema from an array of fields indexed by an enum of their names. */
#define SCHEMA(var, type_name, fields) \
	const struct json_schema var = { type_name, fields, ARRAY_SIZE(fields) }

void ember_config_init(struct ember_config *c)
{
	/* vm_config_init()'s defaults, without linking the VMM (unit tests) */
	memset(c, 0, sizeof(*c));
	c->vm.mem_mib = DEFAULT_MEM_MIB;
	c->vm.vcpus = DEFAULT_VCPUS;
}

int (*config_tap_check)(const char *tap_name, char *err, size_t errlen);

const struct config_unsupported config_unsupported[] = {
	{ "balloon", "balloon", "a balloon device" },
	{ "vsock", "vsock", "vsock devices" },
	{ "entropy", "entropy", "an entropy device" },
	{ "cpu-config", "cpu-config", "custom CPU templates" },
	{ "pmem", "pmem", "pmem devices" },
	{ "hotplug", "memory-hotplug", "memory hotplug" },
	{ NULL, NULL, NULL },
};

/* ---- checks the handlers share ----------------------------------------------- */

bool config_valid_id(const char *id)
{
	char why[160];

	return field_id(id, strlen(id), "id", why, sizeof(why)) == 0;
}

static int check_id(const char *id, const char *name, char *err, size_t errlen)
{
	if (!id[0])
		return errorf(err, errlen, "The ID cannot be empty.");
	return field_id(id, strlen(id), name, err, errlen);
}

/*
 * The file can be opened as asked and is of a kind the VM can use (regular,
 * or a block device for drives): refused here, before the 204, and never
 * opened in a way that could block. The reason otherwise.
 */
static int can_open(const char *path, int flags, bool blk_ok, char *why, size_t size)
{
	int fd = open(path, flags | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);

	/* Rust's io::Error, as Firecracker prints it */
	if (fd < 0)
		return errorf(why, size, "%s (os error %d)", strerror(errno), errno);
	close(fd);
	fd = open_host_file(path, flags, blk_ok, why, size);
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

/*
 * A Firecracker TokenBucket: {size, refill_time, one_time_burst?}, kept as
 * given. ember does not enforce rate limits yet: one that limits (size and
 * refill_time both non-zero, as Firecracker reads them) is accepted and
 * reported back, with a warning in the log.
 */
enum { TB_SIZE, TB_BURST, TB_REFILL };
static const struct json_field bucket_fields[] = {
	[TB_SIZE] = { "size", J_UINT, J_REQ },
	[TB_BURST] = { "one_time_burst", J_UINT, J_NULL },
	[TB_REFILL] = { "refill_time", J_UINT, J_REQ },
};

static int parse_bucket(const cJSON *j, const char *name, struct config_bucket *b, char *err,
			size_t errlen)
{
	const struct json_schema s = { name, bucket_fields, ARRAY_SIZE(bucket_fields) };
	const cJSON *v[ARRAY_SIZE(bucket_fields)];

	memset(b, 0, sizeof(*b));
	if (!j)
		return 0;
	if (json_check(j, &s, v, err, errlen) < 0)
		return -1;
	b->set = true;
	b->size = json_uint(v[TB_SIZE]);
	b->refill_time = json_uint(v[TB_REFILL]);
	b->has_burst = v[TB_BURST] != NULL;
	b->one_time_burst = b->has_burst ? json_uint(v[TB_BURST]) : 0;
	if (b->size && b->refill_time)
		LOG_WARN("%s: rate limits are accepted and reported but not enforced by ember yet "
			 "(size %llu, refill_time %llu ms)", name, (unsigned long long)b->size,
			 (unsigned long long)b->refill_time);
	return 0;
}

/* A RateLimiter: {bandwidth?, ops?}, each a TokenBucket; NULL j: none. */
enum { RL_BANDWIDTH, RL_OPS };
static const struct json_field limiter_fields[] = {
	[RL_BANDWIDTH] = { "bandwidth", J_OBJ, J_NULL },
	[RL_OPS] = { "ops", J_OBJ, J_NULL },
};

static int parse_limiter(const cJSON *j, const char *name, struct config_limiter *l, char *err,
			 size_t errlen)
{
	const struct json_schema s = { name, limiter_fields, ARRAY_SIZE(limiter_fields) };
	const cJSON *v[ARRAY_SIZE(limiter_fields)];
	char sub[64];

	memset(l, 0, sizeof(*l));
	if (!j)
		return 0;
	if (json_check(j, &s, v, err, errlen) < 0)
		return -1;
	l->set = true;
	snprintf(sub, sizeof(sub), "%s.bandwidth", name);
	if (parse_bucket(v[RL_BANDWIDTH], sub, &l->bandwidth, err, errlen) < 0)
		return -1;
	snprintf(sub, sizeof(sub), "%s.ops", name);
	return parse_bucket(v[RL_OPS], sub, &l->ops, err, errlen);
}

/* Printable ASCII, like Firecracker's kernel command line. */
static bool printable(const char *s)
{
	for (; *s; s++)
		if (*s < 0x20 || *s > 0x7e)
			return false;
	return true;
}

/* ---- PUT /boot-source --------------------------------------------------- */

enum { BS_KERNEL, BS_INITRD, BS_ARGS };
static const struct json_field boot_source_fields[] = {
	[BS_KERNEL] = { "kernel_image_path", J_STR, J_REQ },
	[BS_INITRD] = { "initrd_path", J_STR, J_NULL },
	[BS_ARGS] = { "boot_args", J_STR, J_NULL },
};
SCHEMA(config_boot_source_schema, "BootSource", boot_source_fields);

int config_put_boot_source(struct ember_config *c, const cJSON *j, char *err, size_t errlen)
{
	const cJSON *v[ARRAY_SIZE(boot_source_fields)];
	struct vm_config *n = malloc(sizeof(*n));  /* two PATH_MAX paths and more */
	char why[300];
	int r = -1;

	if (!n)
		return errorf(err, errlen, "out of memory");
	*n = c->vm;
	if (json_check(j, &config_boot_source_schema, v, err, errlen) < 0)
		goto out;
	if (json_str(v[BS_KERNEL], "kernel_image_path", n->kernel, sizeof(n->kernel), err,
		     errlen) < 0)
		goto out;
	n->initrd[0] = '\0';
	if (v[BS_INITRD] && json_str(v[BS_INITRD], "initrd_path", n->initrd, sizeof(n->initrd),
				     err, errlen) < 0)
		goto out;
	n->cmdline[0] = '\0';
	n->cmdline_replaces = v[BS_ARGS] != NULL;
	if (v[BS_ARGS]) {
		const char *args = v[BS_ARGS]->valuestring;

		if (strlen(args) >= sizeof(n->cmdline)) {
			errorf(err, errlen, "Boot source error: The kernel command line is invalid: "
			       "longer than %zu bytes.", sizeof(n->cmdline) - 1);
			goto out;
		}
		if (!printable(args)) {
			errorf(err, errlen, "Boot source error: The kernel command line is invalid: "
			       "only printable ASCII characters are allowed.");
			goto out;
		}
		strcpy(n->cmdline, args);
	}
	if (!c->no_host_checks && can_open(n->kernel, O_RDONLY, false, why, sizeof(why)) < 0) {
		errorf(err, errlen, "Boot source error: The kernel file cannot be opened: %s", why);
		goto out;
	}
	if (!c->no_host_checks && n->initrd[0] &&
	    can_open(n->initrd, O_RDONLY, false, why, sizeof(why)) < 0) {
		errorf(err, errlen, "Boot source error: The initrd file cannot be opened: %s", why);
		goto out;
	}
	c->vm = *n;
	r = 0;
out:
	free(n);
	return r;
}

/* ---- PUT/PATCH /machine-config ------------------------------------------ */

static const char *const huge_pages_variants[] = { "None", "Transparent", "2M", NULL };

enum { MC_VCPUS, MC_MEM, MC_SMT, MC_TEMPLATE, MC_DIRTY, MC_HUGE };
static const struct json_field machine_fields[] = {
	[MC_VCPUS] = { "vcpu_count", J_UINT, J_REQ, .max = 255 },
	[MC_MEM] = { "mem_size_mib", J_UINT, J_REQ },  /* a usize: any u64 */
	[MC_SMT] = { "smt", J_BOOL, 0 },
	[MC_TEMPLATE] = { "cpu_template", J_STR, J_NULL },
	[MC_DIRTY] = { "track_dirty_pages", J_BOOL, 0 },
	[MC_HUGE] = { "huge_pages", J_ENUM, J_NULL, .variants = huge_pages_variants },
};
static const struct json_field machine_patch_fields[] = {
	[MC_VCPUS] = { "vcpu_count", J_UINT, J_NULL, .max = 255 },
	[MC_MEM] = { "mem_size_mib", J_UINT, J_NULL },
	[MC_SMT] = { "smt", J_BOOL, J_NULL },
	[MC_TEMPLATE] = { "cpu_template", J_STR, J_NULL },
	[MC_DIRTY] = { "track_dirty_pages", J_BOOL, J_NULL },
	[MC_HUGE] = { "huge_pages", J_ENUM, J_NULL, .variants = huge_pages_variants },
};
SCHEMA(config_machine_schema, "MachineConfiguration", machine_fields);
SCHEMA(config_machine_patch_schema, "MachineConfiguration", machine_patch_fields);

int config_machine(struct ember_config *c, const cJSON *j, bool patch, char *err, size_t errlen)
{
	const cJSON *v[ARRAY_SIZE(machine_fields)];
	uint64_t vcpus = c->vm.vcpus, mem = c->vm.mem_mib;
	bool dirty = patch ? c->track_dirty_pages : false, any = false;
	enum gm_pages pages = patch ? c->vm.pages : GM_PAGES_NORMAL;
	bool smt = patch ? c->vm.smt : false;
	char why[200];

	if (json_check(j, patch ? &config_machine_patch_schema : &config_machine_schema, v, err,
		       errlen) < 0)
		return -1;
	for (size_t i = 0; i < ARRAY_SIZE(v); i++)
		any |= v[i] != NULL;
	if (patch && !any)
		return errorf(err, errlen, "Empty PATCH request.");
	if (v[MC_VCPUS])
		vcpus = json_uint(v[MC_VCPUS]);
	if (v[MC_MEM])
		mem = json_uint(v[MC_MEM]);
	if (v[MC_SMT])
		smt = cJSON_IsTrue(v[MC_SMT]);
	/* The size's range is checked at InstanceStart, as Firecracker's allocation would fail. */
	if (field_vcpus(vcpus, smt, why, sizeof(why)) < 0 ||
	    (mem == 0 && field_mem_mib(mem, why, sizeof(why)) < 0))
		return errorf(err, errlen, "Machine config error: %s", why);
	if (v[MC_TEMPLATE] && strcmp(v[MC_TEMPLATE]->valuestring, "None"))
		return errorf(err, errlen, "Machine config error: CPU template \"%.32s\" is not "
			      "supported by ember (only \"None\").", v[MC_TEMPLATE]->valuestring);
	if (v[MC_DIRTY])
		dirty = cJSON_IsTrue(v[MC_DIRTY]);
	if (v[MC_HUGE] && field_huge_pages(v[MC_HUGE]->valuestring, mem, &pages, why,
					   sizeof(why)) < 0)
		return errorf(err, errlen, "Machine config error: %s", why);
	if (!v[MC_HUGE] && field_huge_pages(field_huge_pages_name(pages), mem, &pages, why,
					    sizeof(why)) < 0)
		return errorf(err, errlen, "Machine config error: %s", why);
	c->vm.vcpus = vcpus;
	c->vm.mem_mib = mem;
	c->vm.pages = pages;
	c->vm.smt = smt;
	c->track_dirty_pages = dirty;
	return 0;
}

/* ---- PUT/PATCH /drives/{id} ------------------------------------------------ */

static int find_drive(const struct ember_config *c, const char *id)
{
	for (int i = 0; i < c->vm.ndrives; i++)
		if (!strcmp(c->vm.drives[i].id, id))
			return i;
	return -1;
}

static void swap_drives(struct ember_config *c, int a, int b)
{
	struct drive_spec d = c->vm.drives[a];
	struct config_limiter lim = c->drive_limiter[a];
	char partuuid[PARTUUID_MAX + 1];
	bool wb = c->writeback[a];

	strcpy(partuuid, c->partuuid[a]);
	c->vm.drives[a] = c->vm.drives[b];
	c->drive_limiter[a] = c->drive_limiter[b];
	c->writeback[a] = c->writeback[b];
	strcpy(c->partuuid[a], c->partuuid[b]);
	c->vm.drives[b] = d;
	c->drive_limiter[b] = lim;
	c->writeback[b] = wb;
	strcpy(c->partuuid[b], partuuid);
}

static const char *const cache_variants[] = { "Unsafe", "Writeback", NULL };
static const char *const engine_variants[] = { "Sync", "Async", NULL };

enum { DR_ID, DR_PARTUUID, DR_ROOT, DR_CACHE, DR_RO, DR_PATH, DR_LIMITER, DR_ENGINE, DR_SOCKET };
static const struct json_field drive_fields[] = {
	[DR_ID] = { "drive_id", J_STR, J_REQ },
	[DR_PARTUUID] = { "partuuid", J_STR, J_NULL },
	[DR_ROOT] = { "is_root_device", J_BOOL, J_REQ },
	[DR_CACHE] = { "cache_type", J_ENUM, 0, .variants = cache_variants },
	[DR_RO] = { "is_read_only", J_BOOL, J_NULL },
	[DR_PATH] = { "path_on_host", J_STR, J_NULL },
	[DR_LIMITER] = { "rate_limiter", J_OBJ, J_NULL },
	[DR_ENGINE] = { "io_engine", J_ENUM, J_NULL, .variants = engine_variants },
	[DR_SOCKET] = { "socket", J_STR, J_NULL },
};
SCHEMA(config_drive_schema, "Drive", drive_fields);

int config_put_drive(struct ember_config *c, const cJSON *j, const char *path_id,
		     char *err, size_t errlen)
{
	const cJSON *v[ARRAY_SIZE(drive_fields)];
	struct drive_spec *d = calloc(1, sizeof(*d));  /* a PATH_MAX path */
	char why[300], partuuid[PARTUUID_MAX + 1] = "";
	struct config_limiter lim;
	bool wb, added;
	int at, r = -1;

	if (!d)
		return errorf(err, errlen, "out of memory");
	if (json_check(j, &config_drive_schema, v, err, errlen) < 0 ||
	    check_id(v[DR_ID]->valuestring, "drive_id", err, errlen) < 0)
		goto out;
	if (path_id && strcmp(path_id, v[DR_ID]->valuestring)) {
		errorf(err, errlen, "The id from the path does not match the id from the body!");
		goto out;
	}
	strcpy(d->id, v[DR_ID]->valuestring);
	d->root = cJSON_IsTrue(v[DR_ROOT]);
	d->read_only = v[DR_RO] && cJSON_IsTrue(v[DR_RO]);
	wb = v[DR_CACHE] && !strcmp(v[DR_CACHE]->valuestring, "Writeback");
	if (v[DR_PARTUUID]) {
		const char *p = v[DR_PARTUUID]->valuestring;

		if (!*p || strlen(p) > PARTUUID_MAX ||
		    strspn(p, "0123456789abcdefABCDEF-") != strlen(p)) {
			errorf(err, errlen, "Drive config error: partuuid \"%.70s\" is not 1 to %d "
			       "hexadecimal digits and '-'.", p, PARTUUID_MAX);
			goto out;
		}
		strcpy(partuuid, p);  /* used only for the root device, like Firecracker */
	}
	if (v[DR_ENGINE] && strcmp(v[DR_ENGINE]->valuestring, "Sync")) {
		errorf(err, errlen, "Drive config error: io_engine \"Async\" is not supported by "
		       "ember (only \"Sync\").");
		goto out;
	}
	if (v[DR_SOCKET]) {
		errorf(err, errlen, "Drive config error: vhost-user block devices (`socket`) are not "
		       "supported by ember; give path_on_host.");
		goto out;
	}
	if (!v[DR_PATH]) {
		errorf(err, errlen, "Drive config error: path_on_host is required.");
		goto out;
	}
	if (json_str(v[DR_PATH], "path_on_host", d->path, sizeof(d->path), err, errlen) < 0 ||
	    parse_limiter(v[DR_LIMITER], "rate_limiter", &lim, err, errlen) < 0)
		goto out;
	at = find_drive(c, d->id);
	for (int i = 0; i < c->vm.ndrives; i++)
		if (d->root && c->vm.drives[i].root && i != at) {
			errorf(err, errlen, "Drive config error: A root block device already exists!");
			goto out;
		}
	if (at < 0 && c->vm.ndrives == MAX_DRIVES) {
		errorf(err, errlen, "Drive config error: ember supports at most %d drives.",
		       MAX_DRIVES);
		goto out;
	}
	if (can_open(d->path, d->read_only ? O_RDONLY : O_RDWR, true, why, sizeof(why)) < 0) {
		errorf(err, errlen, "Drive config error: Unable to create the virtio block device: "
		       "%s", why);
		goto out;
	}
	added = at < 0;
	if (added)
		at = c->vm.ndrives++;
	c->vm.drives[at] = *d;
	strcpy(c->partuuid[at], partuuid);
	c->writeback[at] = wb;
	c->drive_limiter[at] = lim;
	/*
	 * Firecracker's order (its BlockBuilder::insert), which GET /vm/config
	 * shows and the slots follow (/dev/vda first): a new root drive goes to
	 * the front, the others after it as added; a drive updated into the
	 * root changes places with the first.
	 */
	if (d->root && added)
		for (int k = at; k > 0; k--)
			swap_drives(c, k, k - 1);
	else if (d->root && at > 0)
		swap_drives(c, 0, at);
	r = 0;
out:
	free(d);
	return r;
}

enum { DP_ID, DP_PATH, DP_LIMITER };
static const struct json_field drive_patch_fields[] = {
	[DP_ID] = { "drive_id", J_STR, J_REQ },
	[DP_PATH] = { "path_on_host", J_STR, J_NULL },
	[DP_LIMITER] = { "rate_limiter", J_OBJ, J_NULL },
};
SCHEMA(config_drive_patch_schema, "PartialDrive", drive_patch_fields);

int config_patch_drive(const struct ember_config *c, const cJSON *j, const char *path_id,
		       const char **path, struct config_limiter *limiter, char *err, size_t errlen)
{
	const cJSON *v[ARRAY_SIZE(drive_patch_fields)];
	const char *id;

	if (json_check(j, &config_drive_patch_schema, v, err, errlen) < 0)
		return -1;
	id = v[DP_ID]->valuestring;
	if (check_id(id, "drive_id", err, errlen) < 0)
		return -1;
	if (path_id && strcmp(path_id, id))
		return errorf(err, errlen, "The id from the path does not match the id from the "
			      "body!");
	if (find_drive(c, id) < 0)
		return errorf(err, errlen, "Drive config error: Unable to patch the block device: "
			      "no drive with drive_id \"%s\". Please verify the request arguments.",
			      id);
	if (parse_limiter(v[DP_LIMITER], "rate_limiter", limiter, err, errlen) < 0)
		return -1;
	*path = NULL;
	if (v[DP_PATH]) {
		const char *p = v[DP_PATH]->valuestring;

		if (!p[0])
			return errorf(err, errlen, "`path_on_host` is empty.");
		if (json_has_ctl(p))
			return errorf(err, errlen, "`path_on_host` contains a control character.");
		if (strlen(p) >= sizeof(c->vm.drives[0].path))
			return errorf(err, errlen, "`path_on_host` is longer than %zu bytes.",
				      sizeof(c->vm.drives[0].path) - 1);
		*path = p;
	}
	return 0;
}

/* ---- PUT/PATCH /network-interfaces/{id} ------------------------------------ */

static void mac_str(const uint8_t mac[6], char buf[18])
{
	snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3],
		 mac[4], mac[5]);
}

static int find_net(const struct ember_config *c, const char *id)
{
	for (int i = 0; i < c->vm.nnets; i++)
		if (!strcmp(c->iface_id[i], id))
			return i;
	return -1;
}

/* A MAC is read by serde in Firecracker: a bad one is a deserialization error. */
static int check_mac(const cJSON *v, const char *name, char *err, size_t errlen)
{
	uint8_t mac[6];
	char why[160];

	if (field_mac(v->valuestring, strlen(v->valuestring), mac, why, sizeof(why)) < 0)
		return errorf(err, errlen, SERDE "%s: %s.", name, why);
	return 0;
}

enum { NI_ID, NI_TAP, NI_MAC, NI_MTU, NI_RX_LIMITER, NI_TX_LIMITER };
static const struct json_field net_fields[] = {
	[NI_ID] = { "iface_id", J_STR, J_REQ },
	[NI_TAP] = { "host_dev_name", J_STR, J_REQ },
	[NI_MAC] = { "guest_mac", J_STR, J_NULL, .check = check_mac },
	[NI_MTU] = { "mtu", J_UINT, J_NULL },
	[NI_RX_LIMITER] = { "rx_rate_limiter", J_OBJ, J_NULL },
	[NI_TX_LIMITER] = { "tx_rate_limiter", J_OBJ, J_NULL },
};
SCHEMA(config_net_schema, "NetworkInterface", net_fields);

int config_put_net(struct ember_config *c, const cJSON *j, const char *path_id,
		   char *err, size_t errlen)
{
	const cJSON *v[ARRAY_SIZE(net_fields)];
	struct net_spec n = { 0 };
	struct config_limiter rx, tx;
	const char *id, *tap;
	char m[18], why[160];
	int at;

	if (json_check(j, &config_net_schema, v, err, errlen) < 0)
		return -1;
	id = v[NI_ID]->valuestring;
	tap = v[NI_TAP]->valuestring;
	if (check_id(id, "iface_id", err, errlen) < 0)
		return -1;
	if (path_id && strcmp(path_id, id))
		return errorf(err, errlen, "The id from the path [%s] does not match the id from the "
			      "body [%s]!", path_id, id);
	if (field_tap_name(tap, strlen(tap), why, sizeof(why)) < 0)
		return errorf(err, errlen, "Network config error: Cannot open/create the tap device: "
			      "%s.", why);
	strcpy(n.tap, tap);
	if (v[NI_MAC]) {
		/* checked by the schema */
		field_mac(v[NI_MAC]->valuestring, strlen(v[NI_MAC]->valuestring), n.mac, why,
			  sizeof(why));
		n.has_mac = true;
	}
	if (v[NI_MTU])
		return errorf(err, errlen, "Network config error: mtu is not supported by ember.");
	if (parse_limiter(v[NI_RX_LIMITER], "rx_rate_limiter", &rx, err, errlen) < 0 ||
	    parse_limiter(v[NI_TX_LIMITER], "tx_rate_limiter", &tx, err, errlen) < 0)
		return -1;
	at = find_net(c, id);
	for (int i = 0; i < c->vm.nnets; i++) {
		if (i == at)
			continue;
		if (!strcmp(c->vm.nets[i].tap, n.tap))
			return errorf(err, errlen, "Network config error: The host device %s is "
				      "already used by interface %s.", n.tap, c->iface_id[i]);
		if (n.has_mac && c->vm.nets[i].has_mac && !memcmp(c->vm.nets[i].mac, n.mac, 6)) {
			mac_str(n.mac, m);
			return errorf(err, errlen, "Network config error: The MAC address is already "
				      "in use: %s", m);
		}
	}
	if (at < 0 && c->vm.nnets == MAX_NETS)
		return errorf(err, errlen, "Network config error: ember supports at most %d "
			      "network interfaces.", MAX_NETS);
	if (!c->no_host_checks && config_tap_check && config_tap_check(n.tap, why, sizeof(why)) < 0)
		return errorf(err, errlen, "Network config error: Could not create the network "
			      "device: %s", why);
	if (at < 0)
		at = c->vm.nnets++;
	c->vm.nets[at] = n;
	strcpy(c->iface_id[at], id);
	c->rx_limiter[at] = rx;
	c->tx_limiter[at] = tx;
	return 0;
}

enum { NP_ID, NP_RX_LIMITER, NP_TX_LIMITER };
static const struct json_field net_patch_fields[] = {
	[NP_ID] = { "iface_id", J_STR, J_REQ },
	[NP_RX_LIMITER] = { "rx_rate_limiter", J_OBJ, J_NULL },
	[NP_TX_LIMITER] = { "tx_rate_limiter", J_OBJ, J_NULL },
};
SCHEMA(config_net_patch_schema, "PartialNetworkInterface", net_patch_fields);

int config_patch_net(struct ember_config *c, const cJSON *j, const char *path_id,
		     char *err, size_t errlen)
{
	const cJSON *v[ARRAY_SIZE(net_patch_fields)];
	struct config_limiter rx, tx;
	const char *id;
	int at;

	if (json_check(j, &config_net_patch_schema, v, err, errlen) < 0)
		return -1;
	id = v[NP_ID]->valuestring;
	if (check_id(id, "iface_id", err, errlen) < 0)
		return -1;
	if (path_id && strcmp(path_id, id))
		return errorf(err, errlen, "The id from the path [%s] does not match the id from the "
			      "body [%s]!", path_id, id);
	at = find_net(c, id);
	if (at < 0)
		return errorf(err, errlen, "Network config error: Unable to update the net device: "
			      "no network interface with iface_id \"%s\".", id);
	if (parse_limiter(v[NP_RX_LIMITER], "rx_rate_limiter", &rx, err, errlen) < 0 ||
	    parse_limiter(v[NP_TX_LIMITER], "tx_rate_limiter", &tx, err, errlen) < 0)
		return -1;
	/* a PATCH changes only the limiters it names */
	if (rx.set)
		c->rx_limiter[at] = rx;
	if (tx.set)
		c->tx_limiter[at] = tx;
	return 0;
}

/* ---- PUT /logger, /metrics, /serial -------------------------------------- */

static const char *const levels[][2] = {
	{ "off", "Off" }, { "trace", "Trace" }, { "debug", "Debug" }, { "info", "Info" },
	{ "warn", "Warning" }, { "warning", "Warning" }, { "error", "Error" },
};

/* Firecracker's LevelFilter: any case; NULL when not one. */
static const char *level_name(const char *s)
{
	for (size_t i = 0; i < ARRAY_SIZE(levels); i++)
		if (!strcasecmp(levels[i][0], s))
			return levels[i][1];
	return NULL;
}

static int check_level(const cJSON *v, const char *name, char *err, size_t errlen)
{
	if (!level_name(v->valuestring))
		return errorf(err, errlen, SERDE "Invalid LevelFilter \"%.32s\" for `%s` (Off, "
			      "Trace, Debug, Info, Warning, Error).", v->valuestring, name);
	return 0;
}

enum { LG_PATH, LG_LEVEL, LG_SHOW_LEVEL, LG_SHOW_ORIGIN, LG_MODULE };
static const struct json_field logger_fields[] = {
	[LG_PATH] = { "log_path", J_STR, J_NULL },
	[LG_LEVEL] = { "level", J_STR, J_NULL, .check = check_level },
	[LG_SHOW_LEVEL] = { "show_level", J_BOOL, J_NULL },
	[LG_SHOW_ORIGIN] = { "show_log_origin", J_BOOL, J_NULL },
	[LG_MODULE] = { "module", J_STR, J_NULL },
};
SCHEMA(config_logger_schema, "Logger", logger_fields);

int config_parse_logger(const struct config_logger *cur, const cJSON *j,
			struct config_logger *out, char *err, size_t errlen)
{
	const cJSON *v[ARRAY_SIZE(logger_fields)];
	struct config_logger l = *cur;  /* Firecracker: absent fields keep their value */

	if (json_check(j, &config_logger_schema, v, err, errlen) < 0)
		return -1;
	l.set = true;
	if (v[LG_PATH] && json_str(v[LG_PATH], "log_path", l.path, sizeof(l.path), err,
				   errlen) < 0)
		return -1;
	if (v[LG_LEVEL])
		strcpy(l.level, level_name(v[LG_LEVEL]->valuestring));
	if (v[LG_SHOW_LEVEL])
		l.show_level = cJSON_IsTrue(v[LG_SHOW_LEVEL]);
	if (v[LG_SHOW_ORIGIN])
		l.show_origin = cJSON_IsTrue(v[LG_SHOW_ORIGIN]);
	if (v[LG_MODULE]) {
		l.module[0] = '\0';
		if (v[LG_MODULE]->valuestring[0] &&
		    json_str(v[LG_MODULE], "module", l.module, sizeof(l.module), err, errlen) < 0)
			return -1;
	}
	*out = l;
	return 0;
}

int config_put_logger(struct ember_config *c, const cJSON *j, char *err, size_t errlen)
{
	return config_parse_logger(&c->logger, j, &c->logger, err, errlen);
}

enum { ME_PATH, ME_EMIT_ID, ME_PROPERTIES };
static const struct json_field metrics_fields[] = {
	[ME_PATH] = { "metrics_path", J_STR, J_REQ },
	[ME_EMIT_ID] = { "emit_id", J_BOOL, J_NULL },
	[ME_PROPERTIES] = { "properties", J_OBJ, J_NULL },
};
SCHEMA(config_metrics_schema, "Metrics", metrics_fields);

int config_parse_metrics(const cJSON *j, struct config_metrics *out, char *err, size_t errlen)
{
	const cJSON *v[ARRAY_SIZE(metrics_fields)];
	struct config_metrics m = { .set = true };

	if (json_check(j, &config_metrics_schema, v, err, errlen) < 0 ||
	    json_str(v[ME_PATH], "metrics_path", m.path, sizeof(m.path), err, errlen) < 0)
		return -1;
	m.emit_id = v[ME_EMIT_ID] && cJSON_IsTrue(v[ME_EMIT_ID]);
	if (v[ME_PROPERTIES]) {
		/* a map of strings, written with its keys sorted (serde's BTreeMap) */
		const cJSON *p;
		cJSON *sorted;
		char *s;

		cJSON_ArrayForEach(p, v[ME_PROPERTIES])
			if (!cJSON_IsString(p))
				return errorf(err, errlen, SERDE "invalid type: %s, expected a string "
					      "(properties.%.60s).", cJSON_IsNumber(p) ? "integer" :
					      cJSON_IsBool(p) ? "boolean" : cJSON_IsNull(p) ? "null" :
					      cJSON_IsArray(p) ? "sequence" : "map", p->string);
		sorted = cJSON_CreateObject();
		for (const cJSON *least = NULL, *prev = NULL;; prev = least, least = NULL) {
			cJSON_ArrayForEach(p, v[ME_PROPERTIES])
				if ((!prev || strcmp(p->string, prev->string) > 0) &&
				    (!least || strcmp(p->string, least->string) < 0))
					least = p;
			if (!least || !sorted)
				break;
			if (!cJSON_AddStringToObject(sorted, least->string, least->valuestring)) {
				cJSON_Delete(sorted);
				sorted = NULL;
			}
		}
		s = sorted ? cJSON_PrintUnformatted(sorted) : NULL;
		cJSON_Delete(sorted);
		if (!s)
			return errorf(err, errlen, "out of memory");
		if (strlen(s) >= sizeof(m.properties)) {
			free(s);
			return errorf(err, errlen, "Metrics error: properties longer than %d bytes.",
				      METRICS_PROPERTIES_MAX - 1);
		}
		strcpy(m.properties, s);
		free(s);
	}
	*out = m;
	return 0;
}

int config_put_metrics(struct ember_config *c, const cJSON *j, char *err, size_t errlen)
{
	return config_parse_metrics(j, &c->metrics, err, errlen);
}

enum { SE_PATH, SE_LIMITER };
static const struct json_field serial_fields[] = {
	[SE_PATH] = { "serial_out_path", J_STR, J_NULL },
	[SE_LIMITER] = { "rate_limiter", J_OBJ, J_NULL },
};
SCHEMA(config_serial_schema, "SerialDevice", serial_fields);

int config_parse_serial(const cJSON *j, struct config_serial *out, char *err, size_t errlen)
{
	const cJSON *v[ARRAY_SIZE(serial_fields)];
	struct config_serial s = { .set = true };

	if (json_check(j, &config_serial_schema, v, err, errlen) < 0)
		return -1;
	if (v[SE_PATH] && json_str(v[SE_PATH], "serial_out_path", s.path, sizeof(s.path), err,
				   errlen) < 0)
		return -1;
	if (parse_bucket(v[SE_LIMITER], "rate_limiter", &s.limiter, err, errlen) < 0)
		return -1;
	*out = s;
	return 0;
}

int config_put_serial(struct ember_config *c, const cJSON *j, char *err, size_t errlen)
{
	return config_parse_serial(j, &c->serial, err, errlen);
}

/* ---- PUT /actions, PATCH /vm --------------------------------------------- */

static const char *const action_variants[] = {
	[ACTION_INSTANCE_START] = "InstanceStart",
	[ACTION_CTRL_ALT_DEL] = "SendCtrlAltDel",
	[ACTION_FLUSH_METRICS] = "FlushMetrics",
	NULL,
};
static const struct json_field action_fields[] = {
	{ "action_type", J_ENUM, J_REQ, .variants = action_variants },
};
SCHEMA(config_action_schema, "InstanceActionInfo", action_fields);

int config_parse_action(const cJSON *j, enum config_action *a, char *err, size_t errlen)
{
	const cJSON *v[1];

	if (json_check(j, &config_action_schema, v, err, errlen) < 0)
		return -1;
	for (size_t i = 0; action_variants[i]; i++)
		if (!strcmp(v[0]->valuestring, action_variants[i]))
			*a = i;
	return 0;
}

static const char *const vm_state_variants[] = { "Paused", "Resumed", NULL };
static const struct json_field vm_state_fields[] = {
	{ "state", J_ENUM, J_REQ, .variants = vm_state_variants },
};
SCHEMA(config_vm_state_schema, "Vm", vm_state_fields);

int config_parse_vm_state(const cJSON *j, bool *pause, char *err, size_t errlen)
{
	const cJSON *v[1];

	if (json_check(j, &config_vm_state_schema, v, err, errlen) < 0)
		return -1;
	*pause = !strcmp(v[0]->valuestring, "Paused");
	return 0;
}

/* ---- snapshots --------------------------------------------------------------- */

static const char *const snapshot_type_variants[] = { "Full", "Diff", NULL };
enum { SC_TYPE, SC_PATH, SC_MEM, SC_VERSION };
static const struct json_field snapshot_create_fields[] = {
	[SC_TYPE] = { "snapshot_type", J_ENUM, J_NULL, .variants = snapshot_type_variants },
	[SC_PATH] = { "snapshot_path", J_STR, J_REQ },
	[SC_MEM] = { "mem_file_path", J_STR, J_REQ },
	[SC_VERSION] = { "version", J_STR, J_NULL }, /* Firecracker 1.x's, ignored there too */
};
SCHEMA(config_snapshot_create_schema, "CreateSnapshotParams", snapshot_create_fields);

int config_parse_snapshot_create(const cJSON *j, struct config_snapshot_create *out, char *err,
				 size_t errlen)
{
	const cJSON *v[ARRAY_SIZE(snapshot_create_fields)];

	memset(out, 0, sizeof(*out));
	if (json_check(j, &config_snapshot_create_schema, v, err, errlen) < 0 ||
	    json_str(v[SC_PATH], "snapshot_path", out->snapshot_path, sizeof(out->snapshot_path),
		     err, errlen) < 0 ||
	    json_str(v[SC_MEM], "mem_file_path", out->mem_path, sizeof(out->mem_path), err,
		     errlen) < 0)
		return -1;
	out->diff = v[SC_TYPE] && !strcmp(v[SC_TYPE]->valuestring, "Diff");
	return 0;
}

static const char *const mem_backend_variants[] = { "File", "Uffd", NULL };
enum { MB_TYPE, MB_PATH };
static const struct json_field mem_backend_fields[] = {
	[MB_TYPE] = { "backend_type", J_ENUM, J_REQ, .variants = mem_backend_variants },
	[MB_PATH] = { "backend_path", J_STR, J_REQ },
};
SCHEMA(mem_backend_schema, "MemBackendConfig", mem_backend_fields);

enum { NO_IFACE, NO_TAP };
static const struct json_field net_override_fields[] = {
	[NO_IFACE] = { "iface_id", J_STR, J_REQ },
	[NO_TAP] = { "host_dev_name", J_STR, J_REQ },
};
SCHEMA(net_override_schema, "NetworkOverride", net_override_fields);

enum { SL_PATH, SL_BACKEND, SL_MEM, SL_DIFF, SL_TRACK, SL_RESUME, SL_OVERRIDES };
static const struct json_field snapshot_load_fields[] = {
	[SL_PATH] = { "snapshot_path", J_STR, J_REQ },
	[SL_BACKEND] = { "mem_backend", J_OBJ, J_NULL },
	[SL_MEM] = { "mem_file_path", J_STR, J_NULL },          /* deprecated */
	[SL_DIFF] = { "enable_diff_snapshots", J_BOOL, J_NULL }, /* deprecated */
	[SL_TRACK] = { "track_dirty_pages", J_BOOL, J_NULL },
	[SL_RESUME] = { "resume_vm", J_BOOL, J_NULL },
	[SL_OVERRIDES] = { "network_overrides", J_ARR, J_NULL },
};
SCHEMA(config_snapshot_load_schema, "LoadSnapshotParams", snapshot_load_fields);

int config_parse_snapshot_load(const cJSON *j, struct config_snapshot_load *out, char *err,
			       size_t errlen)
{
	const cJSON *v[ARRAY_SIZE(snapshot_load_fields)], *b[ARRAY_SIZE(mem_backend_fields)];
	const cJSON *o[ARRAY_SIZE(net_override_fields)], *e;

	memset(out, 0, sizeof(*out));
	if (json_check(j, &config_snapshot_load_schema, v, err, errlen) < 0 ||
	    json_str(v[SL_PATH], "snapshot_path", out->snapshot_path, sizeof(out->snapshot_path),
		     err, errlen) < 0)
		return -1;
	/* Firecracker's rule: one of mem_backend and the deprecated mem_file_path. */
	if (!v[SL_BACKEND] == !v[SL_MEM])
		return errorf(err, errlen, "%s%s", SERDE, v[SL_MEM] ?
			      "too many fields: either `mem_backend` or `mem_file_path` exclusively." :
			      "missing field: either `mem_backend` or `mem_file_path` is required.");
	if (v[SL_MEM]) {
		if (json_str(v[SL_MEM], "mem_file_path", out->mem_path, sizeof(out->mem_path), err,
			     errlen) < 0)
			return -1;
		out->deprecated = true;
	} else {
		if (json_check(v[SL_BACKEND], &mem_backend_schema, b, err, errlen) < 0 ||
		    json_str(b[MB_PATH], "backend_path", out->mem_path, sizeof(out->mem_path), err,
			     errlen) < 0)
			return -1;
		out->uffd = !strcmp(b[MB_TYPE]->valuestring, "Uffd");
	}
	if (v[SL_DIFF])
		out->deprecated = true;
	out->track_dirty = (v[SL_TRACK] && cJSON_IsTrue(v[SL_TRACK])) ||
			   (v[SL_DIFF] && cJSON_IsTrue(v[SL_DIFF]));
	out->resume = v[SL_RESUME] && cJSON_IsTrue(v[SL_RESUME]);
	cJSON_ArrayForEach(e, v[SL_OVERRIDES]) {
		struct config_net_override *n = &out->overrides[out->noverrides];

		if (out->noverrides == MAX_NETS)
			return errorf(err, errlen, "%sat most %d network overrides", SERDE, MAX_NETS);
		if (json_check(e, &net_override_schema, o, err, errlen) < 0 ||
		    json_str(o[NO_IFACE], "iface_id", n->iface_id, sizeof(n->iface_id), err,
			     errlen) < 0 ||
		    json_str(o[NO_TAP], "host_dev_name", n->tap, sizeof(n->tap), err, errlen) < 0)
			return -1;
		out->noverrides++;
	}
	return 0;
}

int config_apply_overrides(struct ember_config *c, const struct config_snapshot_load *l,
			   char *err, size_t errlen)
{
	char why[200];

	for (int k = 0; k < l->noverrides; k++) {
		const struct config_net_override *n = &l->overrides[k];
		int i;

		for (i = 0; i < c->vm.nnets && strcmp(c->iface_id[i], n->iface_id); i++)
			;
		if (i == c->vm.nnets)
			return errorf(err, errlen, "Invalid network override: the snapshot has no "
				      "network interface '%s'.", n->iface_id);
		if (field_tap_name(n->tap, strlen(n->tap), why, sizeof(why)) < 0)
			return errorf(err, errlen, "Invalid network override for '%s': %s",
				      n->iface_id, why);
		snprintf(c->vm.nets[i].tap, sizeof(c->vm.nets[i].tap), "%s", n->tap);
	}
	return 0;
}

/* ---- the configuration's resources (config.h) ------------------------------ */

static int apply_boot_source(struct ember_config *c, const cJSON *j, const char *id, char *err,
			     size_t errlen)
{
	(void)id;
	return config_put_boot_source(c, j, err, errlen);
}

static int apply_machine(struct ember_config *c, const cJSON *j, const char *id, char *err,
			 size_t errlen)
{
	(void)id;
	return config_machine(c, j, false, err, errlen);
}

static int apply_machine_patch(struct ember_config *c, const cJSON *j, const char *id,
			       char *err, size_t errlen)
{
	(void)id;
	return config_machine(c, j, true, err, errlen);
}

/* --- MMDS -------------------------------------------------------------------- */

/* An address serde reads as an Ipv4Addr (four decimal octets, no leading zeros). */
static int parse_ipv4(const char *s, uint8_t o[4])
{
	for (int i = 0; i < 4; i++) {
		unsigned v = 0;
		int n = 0;

		while (isdigit((unsigned char)s[n]) && n < 4)
			v = v * 10 + (unsigned)(s[n++] - '0');
		if (!n || n > 3 || v > 255 || (n > 1 && s[0] == '0'))
			return -1;
		o[i] = (uint8_t)v;
		s += n;
		if (i < 3 && *s++ != '.')
			return -1;
	}
	return *s ? -1 : 0;
}

static int check_ipv4(const cJSON *v, const char *name, char *err, size_t errlen)
{
	uint8_t o[4];

	(void)name;
	if (parse_ipv4(v->valuestring, o) < 0)
		return errorf(err, errlen, SERDE "invalid IPv4 address syntax.");
	return 0;
}

static const char *const mmds_versions[] = { "V1", "V2", NULL };
enum { MC_VERSION, MC_IFACES, MC_IPV4, MC_IMDS };
static const struct json_field mmds_fields[] = {
	[MC_VERSION] = { "version", J_ENUM, 0, .variants = mmds_versions },
	[MC_IFACES] = { "network_interfaces", J_ARR, J_REQ },
	[MC_IPV4] = { "ipv4_address", J_STR, J_NULL, .check = check_ipv4 },
	[MC_IMDS] = { "imds_compat", J_BOOL, 0 },
};
SCHEMA(config_mmds_schema, "MmdsConfig", mmds_fields);

#define MMDS_ERR "MMMDS config error: " /* sic: Firecracker's words */

int config_put_mmds(struct ember_config *c, const cJSON *j, char *err, size_t errlen)
{
	const cJSON *v[ARRAY_SIZE(mmds_fields)], *it;
	struct config_mmds m = { .set = true };
	uint8_t o[4];

	if (json_check(j, &config_mmds_schema, v, err, errlen) < 0)
		return -1;
	cJSON_ArrayForEach(it, v[MC_IFACES])
		if (!cJSON_IsString(it))
			return errorf(err, errlen, SERDE "invalid type: %s, expected a string.",
				      cJSON_IsNumber(it) ? "integer" : cJSON_IsObject(it) ? "map" :
				      cJSON_IsArray(it) ? "sequence" : cJSON_IsBool(it) ? "boolean" :
				      "null");
	m.v2 = v[MC_VERSION] && !strcmp(v[MC_VERSION]->valuestring, "V2");
	m.imds_compat = v[MC_IMDS] && cJSON_IsTrue(v[MC_IMDS]);
	snprintf(m.ipv4, sizeof(m.ipv4), "%s", v[MC_IPV4] ? v[MC_IPV4]->valuestring :
		 MMDS_DEFAULT_IPV4);
	parse_ipv4(m.ipv4, o); /* checked by the schema */
	/* 169.254.X.Y, X neither 0 nor 255 (Firecracker's is_link_local_valid) */
	if (o[0] != 169 || o[1] != 254 || o[2] == 0 || o[2] == 255)
		return errorf(err, errlen, MMDS_ERR "The MMDS IPv4 address is not link local.");
	memcpy(&m.ip, o, 4);
	if (!v[MC_IFACES]->child)
		return errorf(err, errlen, MMDS_ERR "The list of network interface IDs that allow "
			      "forwarding MMDS requests is empty.");
	cJSON_ArrayForEach(it, v[MC_IFACES]) {
		bool dup = false;

		if (find_net(c, it->valuestring) < 0)
			return errorf(err, errlen, MMDS_ERR "The list of network interface IDs "
				      "provided contains at least one ID that does not correspond to "
				      "any existing network interface.");
		for (int i = 0; i < m.nifaces; i++)
			dup |= !strcmp(m.ifaces[i], it->valuestring);
		if (!dup && m.nifaces < MAX_NETS)
			strcpy(m.ifaces[m.nifaces++], it->valuestring);
	}
	c->mmds = m;
	return 0;
}

static int apply_mmds(struct ember_config *c, const cJSON *j, const char *id, char *err,
		      size_t errlen)
{
	(void)id;
	return config_put_mmds(c, j, err, errlen);
}

/* V1, given or by default, is deprecated (the response says so). */
static const char *mmds_deprecation(const cJSON *j)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "version");

	if (!v || (cJSON_IsString(v) && !strcmp(v->valuestring, "V1")))
		return "PUT /mmds/config: V1 is deprecated. Use V2 instead.";
	return NULL;
}

#define M_(g, n) .count = &ember_metrics.g.n##_count, .fails = &ember_metrics.g.n##_fails

const struct config_resource config_resources[] = {
	{ .resource = "boot-source", .in_file = true, .file_required = true,
	  .schema = &config_boot_source_schema, .apply = apply_boot_source,
	  M_(put_api_requests, boot_source) },
	{ .resource = "machine-config", .in_file = true, .schema = &config_machine_schema,
	  .apply = apply_machine, M_(put_api_requests, machine_cfg) },
	{ .resource = "machine-config", .patch = true, .schema = &config_machine_patch_schema,
	  .apply = apply_machine_patch, M_(patch_api_requests, machine_cfg) },
	{ .resource = "drives", .with_id = true, .in_file = true, .file_required = true,
	  .id_field = "drive_id", .schema = &config_drive_schema, .apply = config_put_drive,
	  M_(put_api_requests, drive) },
	{ .resource = "network-interfaces", .with_id = true, .in_file = true,
	  .id_field = "iface_id", .schema = &config_net_schema, .apply = config_put_net,
	  M_(put_api_requests, network) },
	/* after the interfaces, which it names */
	{ .resource = "mmds/config", .in_file = true, .file_key = "mmds-config",
	  .schema = &config_mmds_schema, .apply = apply_mmds, M_(put_api_requests, mmds),
	  .deprecation = mmds_deprecation },
	{ NULL },
};

/* ---- the whole document: --config-file ------------------------------------ */

/* The array key's items through r, each id given once. */
static int apply_items(struct ember_config *c, const struct config_resource *r, const cJSON *arr,
		       char *err, size_t errlen)
{
	const cJSON *item, *id, *prev;

	cJSON_ArrayForEach(item, arr) {
		id = cJSON_GetObjectItemCaseSensitive(item, r->id_field);
		for (prev = arr->child; cJSON_IsString(id) && prev != item; prev = prev->next) {
			const cJSON *pid = cJSON_GetObjectItemCaseSensitive(prev, r->id_field);

			if (cJSON_IsString(pid) && !strcmp(pid->valuestring, id->valuestring))
				return errorf(err, errlen, "%s: %s \"%s\" appears twice.", r->resource,
					      r->id_field, id->valuestring);
		}
		if (r->apply(c, item, NULL, err, errlen) < 0)
			return -1;
	}
	return 0;
}

enum { DOC_LOGGER, DOC_METRICS, DOC_OWN };

static int parse_doc(struct ember_config *c, const cJSON *j, char *err, size_t errlen)
{
	struct json_field all[JSON_MAX_FIELDS];
	const struct config_resource *res[JSON_MAX_FIELDS];
	struct json_schema doc = { "VmmConfig", all, DOC_OWN };
	const cJSON *v[JSON_MAX_FIELDS];

	all[DOC_LOGGER] = (struct json_field){ .name = "logger", .type = J_OBJ, .flags = J_NULL };
	all[DOC_METRICS] = (struct json_field){ .name = "metrics", .type = J_OBJ, .flags = J_NULL };
	for (const struct config_resource *r = config_resources; r->resource; r++) {
		if (!r->in_file || doc.n == JSON_MAX_FIELDS)
			continue;
		res[doc.n] = r;
		all[doc.n++] = (struct json_field){
			.name = r->file_key ? r->file_key : r->resource,
			.type = r->with_id ? J_ARR : J_OBJ,
			.flags = r->file_required ? J_REQ : J_NULL,
		};
	}
	/* Firecracker's keys for what ember does not have: null or empty only. */
	for (const struct config_unsupported *u = config_unsupported; u->resource; u++) {
		const cJSON *k;

		if (!u->config_key || doc.n == JSON_MAX_FIELDS)
			continue;
		k = cJSON_IsObject(j) ? cJSON_GetObjectItemCaseSensitive(j, u->config_key) : NULL;
		if (k && !cJSON_IsNull(k) && !((cJSON_IsArray(k) || cJSON_IsObject(k)) && !k->child))
			return errorf(err, errlen, "\"%s\" is not supported by ember (only null).",
				      u->config_key);
		res[doc.n] = NULL;
		all[doc.n++] = (struct json_field){
			.name = u->config_key,
			.type = k && cJSON_IsArray(k) ? J_ARR : J_OBJ,
			.flags = J_NULL,
		};
	}
	if (json_check(j, &doc, v, err, errlen) < 0)
		return -1;
	/* the resources in the table's order (the boot source first), then logger, metrics */
	for (size_t i = DOC_OWN; i < doc.n; i++) {
		if (!res[i] || !v[i])
			continue;
		if (res[i]->with_id ? apply_items(c, res[i], v[i], err, errlen) < 0 :
				      res[i]->apply(c, v[i], NULL, err, errlen) < 0)
			return -1;
	}
	if (v[DOC_LOGGER] && config_put_logger(c, v[DOC_LOGGER], err, errlen) < 0)
		return -1;
	if (v[DOC_METRICS] && config_put_metrics(c, v[DOC_METRICS], err, errlen) < 0)
		return -1;
	return 0;
}

static int parse_file(struct ember_config *out, const char *text, size_t len, bool snapshot,
		      char *err, size_t errlen)
{
	struct ember_config *c = malloc(sizeof(*c));  /* built aside: out stays as is on failure */
	cJSON *j;
	int r = -1;

	if (!c)
		return errorf(err, errlen, "out of memory");
	ember_config_init(c);
	c->no_host_checks = snapshot;
	j = json_parse(text, len, err, errlen);
	if (j)
		r = parse_doc(c, j, err, errlen);
	cJSON_Delete(j);
	/* Not an HTTP request: drop the API's wording. */
	if (r < 0 && !strncmp(err, SERDE, strlen(SERDE)))
		memmove(err, err + strlen(SERDE), strlen(err + strlen(SERDE)) + 1);
	c->no_host_checks = false;
	if (r == 0)
		*out = *c;
	free(c);
	return r;
}

int config_parse_file(struct ember_config *out, const char *text, size_t len,
		      char *err, size_t errlen)
{
	return parse_file(out, text, len, false, err, errlen);
}

int config_parse_snapshot_config(struct ember_config *out, const char *text, size_t len,
				 char *err, size_t errlen)
{
	return parse_file(out, text, len, true, err, errlen);
}

/* ---- JSON out -------------------------------------------------------------- */

static bool add_str_or_null(cJSON *o, const char *name, const char *s)
{
	return (s && s[0] ? cJSON_AddStringToObject(o, name, s) :
		cJSON_AddNullToObject(o, name)) != NULL;
}

static cJSON *machine_obj(const struct ember_config *c)
{
	cJSON *m = cJSON_CreateObject();
	bool ok = m != NULL;
	char num[24];

	ok = ok && cJSON_AddNumberToObject(m, "vcpu_count", c->vm.vcpus);
	/* as a u64, exactly (a double would round what PATCH may set, up to 2^64-1) */
	snprintf(num, sizeof(num), "%llu", (unsigned long long)c->vm.mem_mib);
	ok = ok && cJSON_AddRawToObject(m, "mem_size_mib", num);
	ok = ok && cJSON_AddBoolToObject(m, "smt", c->vm.smt);
	ok = ok && cJSON_AddBoolToObject(m, "track_dirty_pages", c->track_dirty_pages);
	ok = ok && cJSON_AddStringToObject(m, "huge_pages", field_huge_pages_name(c->vm.pages));
	if (!ok) {
		cJSON_Delete(m);
		return NULL;
	}
	return m;
}

static char *print(cJSON *j, bool ok)
{
	char *s = ok && j ? cJSON_PrintUnformatted(j) : NULL;

	cJSON_Delete(j);
	return s;
}

char *config_machine_json(const struct ember_config *c)
{
	return print(machine_obj(c), true);
}

static bool add_bucket(cJSON *o, const char *name, const struct config_bucket *b)
{
	cJSON *t;
	bool ok;

	if (!b->set)
		return cJSON_AddNullToObject(o, name) != NULL;
	ok = (t = cJSON_AddObjectToObject(o, name)) != NULL;
	ok = ok && cJSON_AddNumberToObject(t, "size", (double)b->size);
	ok = ok && (b->has_burst ? cJSON_AddNumberToObject(t, "one_time_burst",
							  (double)b->one_time_burst) :
		    cJSON_AddNullToObject(t, "one_time_burst"));
	ok = ok && cJSON_AddNumberToObject(t, "refill_time", (double)b->refill_time);
	return ok;
}

/* A RateLimiter as given, or null. */
static bool add_limiter(cJSON *o, const char *name, const struct config_limiter *l)
{
	cJSON *t;

	if (!l->set)
		return cJSON_AddNullToObject(o, name) != NULL;
	return (t = cJSON_AddObjectToObject(o, name)) && add_bucket(t, "bandwidth", &l->bandwidth) &&
	       add_bucket(t, "ops", &l->ops);
}

static bool add_drive(cJSON *arr, const struct ember_config *c, int i)
{
	const struct drive_spec *d = &c->vm.drives[i];
	cJSON *o = cJSON_CreateObject();
	bool ok = o && cJSON_AddItemToArray(arr, o);

	if (!ok) {
		cJSON_Delete(o);
		return false;
	}
	ok = ok && cJSON_AddStringToObject(o, "drive_id", d->id);
	ok = ok && add_str_or_null(o, "partuuid", c->partuuid[i]);
	ok = ok && cJSON_AddBoolToObject(o, "is_root_device", d->root);
	ok = ok && cJSON_AddStringToObject(o, "cache_type", c->writeback[i] ? "Writeback" : "Unsafe");
	ok = ok && cJSON_AddBoolToObject(o, "is_read_only", d->read_only);
	ok = ok && cJSON_AddStringToObject(o, "path_on_host", d->path);
	ok = ok && add_limiter(o, "rate_limiter", &c->drive_limiter[i]);
	ok = ok && cJSON_AddStringToObject(o, "io_engine", "Sync");
	ok = ok && cJSON_AddNullToObject(o, "socket");
	return ok;
}

static bool add_net(cJSON *arr, const struct ember_config *c, int i)
{
	const struct net_spec *n = &c->vm.nets[i];
	cJSON *o = cJSON_CreateObject();
	bool ok = o && cJSON_AddItemToArray(arr, o);
	char mac[18] = "";

	if (!ok) {
		cJSON_Delete(o);
		return false;
	}
	if (n->has_mac)
		mac_str(n->mac, mac);
	ok = ok && cJSON_AddStringToObject(o, "iface_id", c->iface_id[i]);
	ok = ok && cJSON_AddStringToObject(o, "host_dev_name", n->tap);
	ok = ok && add_str_or_null(o, "guest_mac", mac);
	ok = ok && add_limiter(o, "rx_rate_limiter", &c->rx_limiter[i]);
	ok = ok && add_limiter(o, "tx_rate_limiter", &c->tx_limiter[i]);
	return ok;
}

char *config_vm_json(const struct ember_config *c)
{
	cJSON *j = cJSON_CreateObject(), *o, *arr;
	bool ok = j != NULL;

	ok = ok && cJSON_AddNullToObject(j, "balloon");
	ok = ok && (arr = cJSON_AddArrayToObject(j, "drives"));
	for (int i = 0; ok && i < c->vm.ndrives; i++)
		ok = add_drive(arr, c, i);
	ok = ok && (o = cJSON_AddObjectToObject(j, "boot-source"));
	ok = ok && cJSON_AddStringToObject(o, "kernel_image_path", c->vm.kernel);
	ok = ok && add_str_or_null(o, "initrd_path", c->vm.initrd);
	ok = ok && (c->vm.cmdline_replaces ? cJSON_AddStringToObject(o, "boot_args", c->vm.cmdline)
		    : cJSON_AddNullToObject(o, "boot_args"));
	ok = ok && cJSON_AddNullToObject(j, "cpu-config");
	if (ok && c->logger.set) {
		ok = (o = cJSON_AddObjectToObject(j, "logger"));
		ok = ok && add_str_or_null(o, "log_path", c->logger.path);
		ok = ok && add_str_or_null(o, "level", c->logger.level);
		ok = ok && cJSON_AddBoolToObject(o, "show_level", c->logger.show_level);
		ok = ok && cJSON_AddBoolToObject(o, "show_log_origin", c->logger.show_origin);
		ok = ok && add_str_or_null(o, "module", c->logger.module);
	} else {
		ok = ok && cJSON_AddNullToObject(j, "logger");
	}
	ok = ok && (o = machine_obj(c)) && cJSON_AddItemToObject(j, "machine-config", o);
	if (ok && c->metrics.set) {
		ok = (o = cJSON_AddObjectToObject(j, "metrics"));
		ok = ok && cJSON_AddStringToObject(o, "metrics_path", c->metrics.path);
		ok = ok && cJSON_AddBoolToObject(o, "emit_id", c->metrics.emit_id);
		if (ok && c->metrics.properties[0])
			ok = cJSON_AddItemToObject(o, "properties", cJSON_Parse(c->metrics.properties));
	} else {
		ok = ok && cJSON_AddNullToObject(j, "metrics");
	}
	if (c->mmds.set) {
		cJSON *m = cJSON_AddObjectToObject(j, "mmds-config"), *ifs;

		ok = ok && m && cJSON_AddStringToObject(m, "version", c->mmds.v2 ? "V2" : "V1");
		ok = ok && (ifs = cJSON_AddArrayToObject(m, "network_interfaces"));
		for (int i = 0; ok && i < c->mmds.nifaces; i++)
			ok = cJSON_AddItemToArray(ifs, cJSON_CreateString(c->mmds.ifaces[i]));
		ok = ok && cJSON_AddStringToObject(m, "ipv4_address", c->mmds.ipv4);
		ok = ok && cJSON_AddBoolToObject(m, "imds_compat", c->mmds.imds_compat);
	} else {
		ok = ok && cJSON_AddNullToObject(j, "mmds-config");
	}
	ok = ok && (arr = cJSON_AddArrayToObject(j, "network-interfaces"));
	for (int i = 0; ok && i < c->vm.nnets; i++)
		ok = add_net(arr, c, i);
	ok = ok && cJSON_AddNullToObject(j, "vsock");
	ok = ok && cJSON_AddNullToObject(j, "entropy");
	/* Firecracker's newer keys: no pmem devices, no hotplug memory */
	ok = ok && cJSON_AddArrayToObject(j, "pmem");
	ok = ok && cJSON_AddNullToObject(j, "memory-hotplug");
	return print(j, ok);
}

/* ---- to boot ---------------------------------------------------------------- */

void config_mmds_attach(const struct ember_config *c, struct vm_config *out, struct mmds *m)
{
	if (!c->mmds.set)
		return;
	mmds_set_version(m, c->mmds.v2 ? MMDS_V2 : MMDS_V1, c->mmds.imds_compat);
	out->mmds = m;
	out->mmds_ip = c->mmds.ip;
	for (int i = 0; i < out->nnets; i++)
		for (int k = 0; k < c->mmds.nifaces; k++)
			if (!strcmp(c->iface_id[i], c->mmds.ifaces[k]))
				out->nets[i].mmds = true;
}

int config_to_vm(const struct ember_config *c, struct vm_config *out, char *err, size_t errlen)
{
	*out = c->vm;
	out->track_dirty = c->track_dirty_pages;
	for (int i = 0; i < out->nnets; i++)
		snprintf(out->nets[i].id, sizeof(out->nets[i].id), "%s", c->iface_id[i]);
	for (int i = 0; i < out->ndrives; i++) {
		struct drive_spec *d = &out->drives[i];
		size_t used = strlen(out->cmdline);
		int n;

		if (!d->root || !c->partuuid[i][0])
			continue;
		d->root = false;
		n = snprintf(out->cmdline + used, sizeof(out->cmdline) - used, "%sroot=PARTUUID=%s %s",
			     used ? " " : "", c->partuuid[i], d->read_only ? "ro" : "rw");
		if (n < 0 || (size_t)n >= sizeof(out->cmdline) - used)
			return errorf(err, errlen, "Start microvm error: the kernel command line is too "
				      "long for root=PARTUUID=%s.", c->partuuid[i]);
	}
	return 0;
}
