/* SPDX-License-Identifier: Apache-2.0 */
/* Firecracker's API endpoints (see api.h). Runs on the VMM thread only. */
#include "api-socket/api.h"
#include "api-socket/json.h"
#include "core/ember.h"
#include "core/metrics.h"
#include "mmds/mmds.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NOT_AFTER  "The requested operation is not supported after starting the microVM."
#define NOT_BEFORE "The requested operation is not supported before starting the microVM."

int api_init(struct api *a, const struct api_vm_ops *ops, void *vm, struct evloop *loop,
	     const char *id)
{
	memset(a, 0, sizeof(*a));
	a->ops = ops;
	a->vm = vm;
	a->loop = loop;
	ember_config_init(&a->cfg);
	snprintf(a->id, sizeof(a->id), "%s", id);
	a->mmds = mmds_new(HTTP_MAX_BODY);
	return a->mmds ? 0 : -1;
}

int api_apply_logger(struct api *a, const struct config_logger *l, char *err, size_t errlen)
{
	enum log_level level = LOG_LEVEL_DEFAULT;
	char why[300];

	(void)a;
	if (l->level[0] && log_level_parse(l->level, &level) < 0)
		return errorf(err, errlen, "Logger error: invalid level \"%s\"", l->level);
	if (logger_configure(l->path[0] ? l->path : NULL, level, l->show_level, l->show_origin,
			     why, sizeof(why)) < 0)
		return errorf(err, errlen, "Logger error: %s", why);
	logger_set_module(l->module);
	return 0;
}

int api_apply_metrics(struct api *a, const struct config_metrics *m, char *err, size_t errlen)
{
	char why[300], extra[METRICS_PROPERTIES_MAX + LOG_INSTANCE_ID_MAX + 32] = "";

	if (metrics_configure(m->path, why, sizeof(why)) < 0)
		return errorf(err, errlen, "Metrics error: Cannot initialize the metrics system due "
			      "to bad user input: %s", why);
	/* Firecracker's top-level fields after the timestamp (ids are plain: no escaping) */
	if (m->emit_id)
		snprintf(extra, sizeof(extra), "\"id\":\"%s\"", a->id);
	if (m->properties[0])
		snprintf(extra + strlen(extra), sizeof(extra) - strlen(extra), "%s\"properties\":%s",
			 extra[0] ? "," : "", m->properties);
	metrics_set_extra(extra);
	/* Firecracker writes the metrics every 60 s from the start, and once now. */
	if (metrics_start_periodic(a->loop) < 0 && errno != EBUSY)
		LOG_WARN("cannot start the periodic metrics: %s", strerror(errno));
	return 0;
}

/* --- InstanceStart -------------------------------------------------------- */

/*
 * serial_out_path: the guest's console goes to standard output, so point
 * standard output there (read-write, so a FIFO without a reader neither
 * blocks nor fails). *saved gets the old standard output back on failure.
 */
static int redirect_serial(const char *path, int *saved, char *err, size_t errlen)
{
	int fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);

	*saved = -1;
	if (fd < 0)
		return errorf(err, errlen, "cannot open serial_out_path %.200s: %s", path,
			      strerror(errno));
	fflush(stdout);
	*saved = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
	if (*saved < 0 || dup2(fd, STDOUT_FILENO) < 0) {
		errorf(err, errlen, "cannot redirect the serial console: %s", strerror(errno));
		close(fd);
		if (*saved >= 0)
			close(*saved);
		*saved = -1;
		return -1;
	}
	close(fd);
	return 0;
}

int api_start(struct api *a, int *status, char *err, size_t errlen)
{
	char why[400];
	int saved = -1;

	*status = EMBER_EXIT_BAD_INPUT;
	if (a->booted)
		return errorf(err, errlen, NOT_AFTER);
	if (!a->cfg.vm.kernel[0])
		return errorf(err, errlen, "Start microvm error: Cannot start microvm without kernel "
			      "configuration.");
	if (config_to_vm(&a->cfg, &a->boot, err, errlen) < 0)
		return -1;
	a->boot.boot_timer = a->boot_timer;
	a->boot.no_acpi = a->no_acpi;
	a->boot.pvh = a->pvh;
	config_mmds_attach(&a->cfg, &a->boot, a->mmds);
	if (a->cfg.serial.set && a->cfg.serial.path[0] &&
	    redirect_serial(a->cfg.serial.path, &saved, why, sizeof(why)) < 0) {
		return errorf(err, errlen, "Start microvm error: %s", why);
	}
	if (a->ops->boot(a->vm, &a->boot, status, why, sizeof(why)) < 0) {
		if (saved >= 0) {
			dup2(saved, STDOUT_FILENO);
			close(saved);
		}
		return errorf(err, errlen, "Start microvm error: %s", why);
	}
	if (saved >= 0)
		close(saved);
	a->booted = true;
	LOG_INFO("Successfully started microvm that was configured from one single json or "
		 "the API");
	return 0;
}

/* --- the request ------------------------------------------------------------ */

#define MAX_TOKENS 4

struct route {
	enum http_method method;
	char buf[HTTP_MAX_PATH + 1];
	const char *tok[MAX_TOKENS + 1];
	int ntok;      /* MAX_TOKENS + 1: too many */
	const char *path;
};

/*
 * Firecracker's reading of the path: leading '/'s trimmed, split at '/', a
 * trailing '/' ignored; the query string is not part of it.
 */
static void split_path(struct route *r, const char *path)
{
	char *p, *q;

	snprintf(r->buf, sizeof(r->buf), "%s", path);
	r->buf[strcspn(r->buf, "?#")] = '\0';
	r->ntok = 0;
	p = r->buf + strspn(r->buf, "/");
	if (!*p)
		return;
	for (;;) {
		if (r->ntok == MAX_TOKENS) {
			r->ntok = MAX_TOKENS + 1;
			return;
		}
		r->tok[r->ntok++] = p;
		q = strchr(p, '/');
		if (!q)
			return;
		*q = '\0';
		p = q + 1;
		if (!*p)   /* trailing '/' */
			return;
	}
}

static void fault(struct http_response *resp, const char *msg)
{
	LOG_ERROR("Received Error. Status code: 400 Bad Request. Message: %s", msg);
	http_response_error(resp, 400, "%s", msg);
}

/* The id token of /drives/{id} or /network-interfaces/{id}, checked; NULL after a fault. */
static const char *path_id(const struct route *r, struct http_response *resp)
{
	char msg[200];

	if (r->ntok < 2 || !r->tok[1][0]) {
		fault(resp, "The ID cannot be empty.");
		return NULL;
	}
	if (r->ntok > 2) {
		snprintf(msg, sizeof(msg), "Invalid request method and/or path: %s %.100s.",
			 http_method_name(r->method), r->path);
		fault(resp, msg);
		return NULL;
	}
	if (!config_valid_id(r->tok[1])) {
		fault(resp, "API Resource IDs can only contain alphanumeric characters and "
		      "underscores.");
		return NULL;
	}
	return r->tok[1];
}

/* --- GET ---------------------------------------------------------------------- */

static char *get_instance(struct api *a)
{
	cJSON *j = cJSON_CreateObject();
	bool ok = j != NULL;
	char *s;

	ok = ok && cJSON_AddStringToObject(j, "id", a->id);
	ok = ok && cJSON_AddStringToObject(j, "state", !a->booted ? "Not started" :
					   a->paused ? "Paused" : "Running");
	ok = ok && cJSON_AddStringToObject(j, "vmm_version", EMBER_VERSION);
	ok = ok && cJSON_AddStringToObject(j, "app_name", "ember");
	s = ok ? cJSON_PrintUnformatted(j) : NULL;
	cJSON_Delete(j);
	return s;
}

static char *get_version(struct api *a)
{
	cJSON *j = cJSON_CreateObject();
	char *s = NULL;

	(void)a;
	if (j && cJSON_AddStringToObject(j, "firecracker_version", EMBER_VERSION))
		s = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	return s;
}

static char *get_vm_config(struct api *a) { return config_vm_json(&a->cfg); }
static char *get_machine(struct api *a) { return config_machine_json(&a->cfg); }

/* --- bodies -------------------------------------------------------------------- */

static int put_actions(struct api *a, const char *id, const cJSON *j, char *err, size_t errlen)
{
	enum config_action act;
	char why[300];
	int status;

	(void)id;
	if (config_parse_action(j, &act, err, errlen) < 0)
		return -1;
	if (act == ACTION_INSTANCE_START)
		return api_start(a, &status, err, errlen);
	if (!a->booted)
		return errorf(err, errlen, NOT_BEFORE);
	if (act == ACTION_CTRL_ALT_DEL) {
		if (a->ops->ctrl_alt_del(a->vm, why, sizeof(why)) < 0)
			return errorf(err, errlen, "Internal VMM error: %s", why);
		return 0;
	}
	if (metrics_flush() < 0)
		return errorf(err, errlen, "Internal VMM error: the metrics could not be written "
			      "(destination full or failing).");
	return 0;
}

static int patch_drive(struct api *a, const char *id, const cJSON *j, char *err, size_t errlen)
{
	struct config_limiter lim;
	const char *path = NULL;
	char why[400];

	if (config_patch_drive(&a->cfg, j, id, &path, &lim, err, errlen) < 0)
		return -1;
	if (path && a->ops->drive_update(a->vm, id, path, why, sizeof(why)) < 0)
		return errorf(err, errlen, "Drive config error: Unable to patch the block device: "
			      "%s. Please verify the request arguments.", why);
	for (int i = 0; i < a->cfg.vm.ndrives; i++) {
		if (strcmp(a->cfg.vm.drives[i].id, id))
			continue;
		if (path)
			snprintf(a->cfg.vm.drives[i].path, sizeof(a->cfg.vm.drives[i].path), "%s",
				 path);
		if (lim.set)
			a->cfg.drive_limiter[i] = lim;
	}
	return 0;
}

static int patch_net(struct api *a, const char *id, const cJSON *j, char *err, size_t errlen)
{
	return config_patch_net(&a->cfg, j, id, err, errlen);
}

/* The logger, metrics and serial settings apply at once and are kept only if they did. */
static int put_logger(struct api *a, const char *id, const cJSON *j, char *err, size_t errlen)
{
	struct config_logger l;

	(void)id;
	if (config_parse_logger(&a->cfg.logger, j, &l, err, errlen) < 0 ||
	    api_apply_logger(a, &l, err, errlen) < 0)
		return -1;
	a->cfg.logger = l;
	return 0;
}

static int put_metrics(struct api *a, const char *id, const cJSON *j, char *err, size_t errlen)
{
	struct config_metrics m;

	(void)id;
	if (config_parse_metrics(j, &m, err, errlen) < 0 ||
	    api_apply_metrics(a, &m, err, errlen) < 0)
		return -1;
	a->cfg.metrics = m;
	return 0;
}

static int put_serial(struct api *a, const char *id, const cJSON *j, char *err, size_t errlen)
{
	(void)id;
	return config_parse_serial(j, &a->cfg.serial, err, errlen);
}

static int patch_vm(struct api *a, const char *id, const cJSON *j, char *err, size_t errlen)
{
	char why[300];
	bool pause;
	int r;

	(void)id;
	if (config_parse_vm_state(j, &pause, err, errlen) < 0)
		return -1;
	r = pause ? a->ops->pause(a->vm, why, sizeof(why)) : a->ops->resume(a->vm, why, sizeof(why));
	if (r < 0)
		return errorf(err, errlen, "Internal VMM error: %s", why);
	a->paused = pause;
	return 0;
}

/* --- snapshots --------------------------------------------------------------------- */

static int put_snapshot_create(struct api *a, const char *id, const cJSON *j, char *err,
			       size_t errlen)
{
	struct config_snapshot_create p;
	char why[400];
	char *json;
	int r;

	(void)id;
	if (config_parse_snapshot_create(j, &p, err, errlen) < 0)
		return -1;
	if (!a->paused)
		return errorf(err, errlen, "Create snapshot error: the microVM must be paused "
			      "first (PATCH /vm {\"state\": \"Paused\"}).");
	json = config_vm_json(&a->cfg);
	if (!json)
		return errorf(err, errlen, "Create snapshot error: out of memory");
	r = a->ops->snapshot_create(a->vm, json, &p, why, sizeof(why));
	free(json);
	if (r < 0)
		return errorf(err, errlen, "Create snapshot error: %s", why);
	LOG_INFO("Snapshot of the microVM written to %s (memory: %s)", p.snapshot_path,
		 p.mem_path);
	return 0;
}

static int put_snapshot_load(struct api *a, const char *id, const cJSON *j, char *err,
			     size_t errlen)
{
	struct config_snapshot_load p;
	struct ember_config cfg;
	char why[400];
	int status;

	(void)id;
	if (config_parse_snapshot_load(j, &p, err, errlen) < 0)
		return -1;
	if (a->configured)
		return errorf(err, errlen, "Loading a microVM snapshot not allowed after "
			      "configuring boot-specific resources.");
	cfg = a->cfg;
	if (a->ops->snapshot_load(a->vm, &p, &cfg, a->mmds, &status, why, sizeof(why)) < 0)
		return errorf(err, errlen, "Load snapshot error: %s", why);
	cfg.track_dirty_pages = p.track_dirty;
	/* The logger, metrics and serial settings stay this process's. */
	cfg.logger = a->cfg.logger;
	cfg.metrics = a->cfg.metrics;
	cfg.serial = a->cfg.serial;
	a->cfg = cfg;
	a->booted = true;
	a->paused = !p.resume;
	LOG_INFO("Snapshot %s loaded%s", p.snapshot_path, p.resume ? " and resumed" : "");
	return 0;
}

static const char *snapshot_load_deprecation(const cJSON *j)
{
	struct config_snapshot_load p;
	char err[200];

	if (config_parse_snapshot_load(j, &p, err, sizeof(err)) < 0 || !p.deprecated)
		return NULL;
	return "PUT /snapshot/load: mem_file_path and enable_diff_snapshots are deprecated; "
	       "use mem_backend and track_dirty_pages.";
}

/* --- MMDS ------------------------------------------------------------------------- */

#define MMDS_NOT_INIT "MMDS error: The MMDS data store is not initialized."
#define API_TOO_LARGE (-2) /* a handler's refusal answered 413 */

/* After boot, the store is reachable only when an interface serves it. */
static bool mmds_reachable(const struct api *a)
{
	return !a->booted || a->cfg.mmds.set;
}

static char *get_mmds(struct api *a)
{
	return mmds_json(a->mmds);
}

static int mmds_result(enum mmds_error e, char *err, size_t errlen)
{
	if (e == MMDS_OK)
		return 0;
	if (e == MMDS_TOO_BIG) {
		errorf(err, errlen, "MMDS limit exceeded error: %s", mmds_strerror(e));
		return API_TOO_LARGE;
	}
	return errorf(err, errlen, "MMDS error: %s", mmds_strerror(e));
}

static int put_mmds(struct api *a, const char *id, const cJSON *j, char *err, size_t errlen)
{
	(void)id;
	if (!mmds_reachable(a))
		return errorf(err, errlen, MMDS_NOT_INIT);
	return mmds_result(mmds_put(a->mmds, j), err, errlen);
}

static int patch_mmds(struct api *a, const char *id, const cJSON *j, char *err, size_t errlen)
{
	(void)id;
	if (!mmds_reachable(a))
		return errorf(err, errlen, MMDS_NOT_INIT);
	return mmds_result(mmds_patch(a->mmds, j), err, errlen);
}

/* --- the routes ------------------------------------------------------------------ */

/* When a route is served: Firecracker's pre-boot and post-boot controllers. */
enum phase { ANY, PRE_BOOT, POST_BOOT };

struct route_def {
	enum http_method method;
	const char *resource;     /* the path: its first token ("" for /, "vm/config") */
	bool with_id;             /* /resource/{id} */
	enum phase phase;
	/* GET: the JSON answer (malloc'd; NULL when out of memory) */
	char *(*get)(struct api *a);
	/* PUT/PATCH: the body's schema (checked first, whatever the phase) and handler */
	const struct json_schema *schema;
	int (*body)(struct api *a, const char *id, const cJSON *j, char *err, size_t errlen);
	uint64_t *count, *fails;  /* metrics (NULL: none) */
	const struct config_resource *res; /* instead of body: a configuration resource */
	bool prefix;              /* /resource and anything below it, no id */
	bool any_json;            /* the body is any JSON value (json_parse_value) */
	const char *(*deprecation)(const cJSON *j); /* see struct config_resource */
};

#define M_(g, n)     .count = &ember_metrics.g.n##_count, .fails = &ember_metrics.g.n##_fails
#define GET_M(n)     .count = &ember_metrics.get_api_requests.n##_count
#define PUT_M(n)     M_(put_api_requests, n)
#define PATCH_M(n)   M_(patch_api_requests, n)

static const struct route_def routes[] = {
	{ .method = HTTP_GET, .resource = "", .get = get_instance, GET_M(instance_info) },
	{ .method = HTTP_GET, .resource = "version", .get = get_version, GET_M(vmm_version) },
	{ .method = HTTP_GET, .resource = "vm/config", .get = get_vm_config },
	{ .method = HTTP_GET, .resource = "machine-config", .get = get_machine,
	  GET_M(machine_cfg) },
	{ .method = HTTP_PUT, .resource = "actions", .schema = &config_action_schema,
	  .body = put_actions, PUT_M(actions) },
	{ .method = HTTP_PATCH, .resource = "drives", .with_id = true, .phase = POST_BOOT,
	  .schema = &config_drive_patch_schema, .body = patch_drive, PATCH_M(drive) },
	{ .method = HTTP_PATCH, .resource = "network-interfaces", .with_id = true,
	  .phase = POST_BOOT, .schema = &config_net_patch_schema, .body = patch_net,
	  PATCH_M(network) },
	{ .method = HTTP_PUT, .resource = "logger", .phase = PRE_BOOT,
	  .schema = &config_logger_schema, .body = put_logger, PUT_M(logger) },
	{ .method = HTTP_PUT, .resource = "metrics", .phase = PRE_BOOT,
	  .schema = &config_metrics_schema, .body = put_metrics, PUT_M(metrics) },
	{ .method = HTTP_PUT, .resource = "serial", .phase = PRE_BOOT,
	  .schema = &config_serial_schema, .body = put_serial },
	{ .method = HTTP_PATCH, .resource = "vm", .phase = POST_BOOT,
	  .schema = &config_vm_state_schema, .body = patch_vm },
	{ .method = HTTP_PUT, .resource = "snapshot/create", .phase = POST_BOOT,
	  .schema = &config_snapshot_create_schema, .body = put_snapshot_create },
	{ .method = HTTP_PUT, .resource = "snapshot/load", .phase = PRE_BOOT,
	  .schema = &config_snapshot_load_schema, .body = put_snapshot_load,
	  .deprecation = snapshot_load_deprecation },
	/* Firecracker reads GET and PATCH /mmds/anything as /mmds */
	{ .method = HTTP_GET, .resource = "mmds", .prefix = true, .get = get_mmds, GET_M(mmds) },
	{ .method = HTTP_PUT, .resource = "mmds", .any_json = true, .body = put_mmds,
	  PUT_M(mmds) },
	{ .method = HTTP_PATCH, .resource = "mmds", .prefix = true, .any_json = true,
	  .body = patch_mmds, PATCH_M(mmds) },
};

static bool route_matches(const struct route_def *d, const struct route *r, const char *path)
{
	if (d->method != r->method)
		return false;
	return d->with_id || d->prefix ? r->ntok >= 1 && !strcmp(r->tok[0], d->resource) :
					 r->ntok <= 2 && !strcmp(path, d->resource);
}

/*
 * The route for r's method and path into *out: the API's own, or a
 * configuration resource (config_resources: pre-boot, applied to the
 * configuration). false when there is none.
 */
static bool find_route(const struct route *r, struct route_def *out)
{
	char path[HTTP_MAX_PATH + 1] = "";

	if (r->ntok > MAX_TOKENS)
		return false;
	for (int i = 0; i < r->ntok && i < 2; i++)
		snprintf(path + strlen(path), sizeof(path) - strlen(path), "%s%s", i ? "/" : "",
			 r->tok[i]);
	for (size_t i = 0; i < ARRAY_SIZE(routes); i++) {
		if (route_matches(&routes[i], r, path)) {
			*out = routes[i];
			return true;
		}
	}
	for (const struct config_resource *c = config_resources; c->resource; c++) {
		*out = (struct route_def){
			.method = c->patch ? HTTP_PATCH : HTTP_PUT,
			.resource = c->resource,
			.with_id = c->with_id,
			.phase = PRE_BOOT,
			.schema = c->schema,
			.count = c->count,
			.fails = c->fails,
			.res = c,
			.deprecation = c->deprecation,
		};
		if (route_matches(out, r, path))
			return true;
	}
	return false;
}

/* A body route: its id, its schema and phase, then its handler. */
static void serve_body(struct api *a, const struct route_def *d, const struct route *r,
		       const cJSON *j, struct http_response *resp)
{
	const cJSON *fields[JSON_MAX_FIELDS];
	const char *id = NULL;
	char err[600] = "";
	int rc;

	if (d->with_id && !(id = path_id(r, resp)))
		return;
	/*
	 * Firecracker reads the body before it asks the VM's state: a body
	 * that does not parse is refused as such in either phase.
	 */
	if ((d->phase == PRE_BOOT && a->booted) || (d->phase == POST_BOOT && !a->booted)) {
		rc = -1;
		if (json_check(j, d->schema, fields, err, sizeof(err)) == 0)
			errorf(err, sizeof(err), "%s", a->booted ? NOT_AFTER : NOT_BEFORE);
	} else if (d->res) {
		rc = d->res->apply(&a->cfg, j, id, err, sizeof(err));
		if (rc == 0)
			a->configured = true;
	} else {
		rc = d->body(a, id, j, err, sizeof(err));
	}
	if (d->count)
		METRIC_INC(*d->count);
	if (d->fails && rc < 0)
		METRIC_INC(*d->fails);
	if (rc == 0) {
		LOG_INFO("The request was executed successfully. Status code: 204 No Content.");
		http_response_empty(resp, 204);
	} else if (rc == API_TOO_LARGE) {
		LOG_ERROR("Received Error. Status code: 413 Payload too large. Message: %s", err);
		http_response_error(resp, 413, "%s", err);
	} else {
		fault(resp, err[0] ? err : "bad request");
	}
	/* A deprecated form the body parsed as: said in a header, whatever came of it. */
	if (d->deprecation && json_check(j, d->schema, fields, err, sizeof(err)) == 0) {
		const char *msg = d->deprecation(j);

		if (msg) {
			LOG_WARN("%s", msg);
			METRIC_INC(ember_metrics.deprecated_api.deprecated_http_api_calls);
			resp->deprecation = true;
		}
	}
}

/*
 * Firecracker's request line in the log: the method as "Put", the path and
 * the body quoted as Rust's {:?} writes strings ("{\"a\": 1}").
 */
static void log_request(const struct http_request *req)
{
	static char body[4096];
	size_t o = 0;

	if (!log_enabled(LOG_LEVEL_INFO))
		return;
	if (!req->body_len) {
		LOG_INFO("The API server received a %s request on \"%.200s\".",
			 http_method_title(req->method), req->path);
		return;
	}
	if (!http_valid_utf8(req->body, req->body_len)) {
		snprintf(body, sizeof(body), "inconvertible to UTF-8");
	} else {
		for (size_t i = 0; i < req->body_len && o + 12 < sizeof(body); i++) {
			unsigned char c = (unsigned char)req->body[i];

			if (c == '"' || c == '\\')
				o += snprintf(body + o, sizeof(body) - o, "\\%c", c);
			else if (c == '\n')
				o += snprintf(body + o, sizeof(body) - o, "\\n");
			else if (c == '\r')
				o += snprintf(body + o, sizeof(body) - o, "\\r");
			else if (c == '\t')
				o += snprintf(body + o, sizeof(body) - o, "\\t");
			else if (c < 0x20 || c == 0x7f)
				o += snprintf(body + o, sizeof(body) - o, "\\u{%x}", c);
			else
				body[o++] = (char)c;
		}
		body[o] = '\0';
	}
	LOG_INFO("The API server received a %s request on \"%.200s\" with body \"%s\".",
		 http_method_title(req->method), req->path, body);
}

void api_handle(void *opaque, const struct http_request *req, struct http_response *resp)
{
	struct api *a = opaque;
	struct route r = { .method = req->method, .path = req->path };
	struct route_def route, *d = &route;
	char err[600];
	cJSON *j;

	split_path(&r, req->path);
	log_request(req);
	for (const struct config_unsupported *u = config_unsupported; r.ntok >= 1 && u->resource;
	     u++)
		if (!strcmp(r.tok[0], u->resource)) {
			errorf(err, sizeof(err), "The requested operation is not supported: ember "
			       "has no %s.", u->what);
			fault(resp, err);
			return;
		}
	/* Firecracker's order (parsed_request.rs): a body where none belongs, or none where one must be, first. */
	if (req->method == HTTP_GET && req->body_len) {
		fault(resp, "GET request cannot have a body.");
		return;
	}
	if ((req->method == HTTP_PUT || req->method == HTTP_PATCH) && !req->body_len) {
		fault(resp, req->method == HTTP_PUT ? "Empty PUT request." : "Empty PATCH request.");
		return;
	}
	if (!find_route(&r, &route)) {
		if (r.method == HTTP_PUT && r.ntok >= 2 && !strcmp(r.tok[0], "mmds"))
			errorf(err, sizeof(err), "Unrecognized PUT request path `%.100s`.", r.tok[1]);
		else
			errorf(err, sizeof(err), "Invalid request method and/or path: %s %.100s.",
			       http_method_name(r.method), r.ntok >= 1 ? r.tok[0] : "");
		fault(resp, err);
		return;
	}
	if (d->get == get_mmds && !mmds_reachable(a)) {
		fault(resp, MMDS_NOT_INIT);
		return;
	}
	if (d->get) {
		char *json = d->get(a);

		if (d->count)
			METRIC_INC(*d->count);
		if (!json) {
			http_response_error(resp, 500, "out of memory");
			return;
		}
		LOG_INFO("The request was executed successfully. Status code: 200 OK.");
		http_response_json(resp, 200, json);
		free(json);
		return;
	}
	j = d->any_json ? json_parse_value(req->body, req->body_len, err, sizeof(err)) :
			  json_parse(req->body, req->body_len, err, sizeof(err));
	if (!j) {
		fault(resp, err);
		return;
	}
	serve_body(a, d, &r, j, resp);
	cJSON_Delete(j);
}
