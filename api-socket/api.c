/* SPDX-License-Identifier: Apache-2.0 */
/* Firecracker's API endpoints (see api.h). Runs on the VMM thread only. */
#include "api-socket/api.h"
#include "core/ember.h"
#include "core/metrics.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NOT_AFTER  "The requested operation is not supported after starting the microVM."
#define NOT_BEFORE "The requested operation is not supported before starting the microVM."
#define SERDE_PREFIX "An error occurred when deserializing the json body of a request"

void api_init(struct api *a, const struct api_vm_ops *ops, void *vm, struct evloop *loop,
	      const char *id, size_t max_payload)
{
	memset(a, 0, sizeof(*a));
	a->ops = ops;
	a->vm = vm;
	a->loop = loop;
	ember_config_init(&a->cfg);
	snprintf(a->id, sizeof(a->id), "%s", id);
	a->max_payload = max_payload && max_payload < HTTP_MAX_BODY ? max_payload : HTTP_MAX_BODY;
}

int api_apply_logger(struct api *a, const struct ember_config *c, char *err, size_t errlen)
{
	enum log_level level = LOG_LEVEL_DEFAULT;
	char why[300];

	(void)a;
	if (c->logger.level[0] && log_level_parse(c->logger.level, &level) < 0) {
		snprintf(err, errlen, "Logger error: invalid level \"%s\"", c->logger.level);
		return -1;
	}
	if (logger_configure(c->logger.path[0] ? c->logger.path : NULL, level,
			     c->logger.show_level, c->logger.show_origin, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "Logger error: %s", why);
		return -1;
	}
	logger_set_module(c->logger.module);
	return 0;
}

int api_apply_metrics(struct api *a, const char *path, char *err, size_t errlen)
{
	char why[300];

	if (metrics_configure(path, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "Metrics error: Cannot initialize the metrics system due to "
			 "bad user input: %s", why);
		return -1;
	}
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
	if (fd < 0) {
		snprintf(err, errlen, "cannot open serial_out_path %.200s: %s", path, strerror(errno));
		return -1;
	}
	fflush(stdout);
	*saved = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
	if (*saved < 0 || dup2(fd, STDOUT_FILENO) < 0) {
		snprintf(err, errlen, "cannot redirect the serial console: %s", strerror(errno));
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
	if (a->booted) {
		snprintf(err, errlen, NOT_AFTER);
		return -1;
	}
	if (!a->cfg.vm.kernel[0]) {
		snprintf(err, errlen, "Start microvm error: Missing kernel configuration: "
			 "PUT /boot-source first.");
		return -1;
	}
	if (config_to_vm(&a->cfg, &a->boot, err, errlen) < 0)
		return -1;
	a->boot.boot_timer = a->boot_timer;
	if (a->cfg.serial.set && a->cfg.serial.path[0] &&
	    redirect_serial(a->cfg.serial.path, &saved, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "Start microvm error: %s", why);
		return -1;
	}
	if (a->ops->boot(a->vm, &a->boot, status, why, sizeof(why)) < 0) {
		if (saved >= 0) {
			dup2(saved, STDOUT_FILENO);
			close(saved);
		}
		snprintf(err, errlen, "Start microvm error: %s", why);
		return -1;
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

static bool is(const struct route *r, enum http_method m, const char *t0, const char *t1)
{
	if (r->method != m || r->ntok < 1 || strcmp(r->tok[0], t0))
		return false;
	if (!t1)
		return r->ntok == 1;
	return r->ntok == 2 && !strcmp(r->tok[1], t1);
}

static void fault(struct http_response *resp, const char *msg)
{
	LOG_ERROR("Received Error. Status code: 400 Bad Request. Message: %s", msg);
	http_response_error(resp, 400, "%s", msg);
}

static void ok_json(struct http_response *resp, char *json)
{
	if (!json) {
		http_response_error(resp, 500, "out of memory");
		return;
	}
	http_response_json(resp, 200, json);
	free(json);
}

static void get_instance(struct api *a, struct http_response *resp)
{
	cJSON *j = cJSON_CreateObject();
	bool ok = j != NULL;

	ok = ok && cJSON_AddStringToObject(j, "id", a->id);
	ok = ok && cJSON_AddStringToObject(j, "state", !a->booted ? "Not started" :
					   a->paused ? "Paused" : "Running");
	ok = ok && cJSON_AddStringToObject(j, "vmm_version", EMBER_VERSION);
	ok = ok && cJSON_AddStringToObject(j, "app_name", "ember");
	ok_json(resp, ok ? cJSON_PrintUnformatted(j) : NULL);
	cJSON_Delete(j);
}

/* Resources Firecracker has and ember does not. */
static const char *const unsupported[][2] = {
	{ "balloon", "a balloon device" },
	{ "mmds", "a microVM metadata service (MMDS)" },
	{ "vsock", "vsock devices" },
	{ "entropy", "an entropy device" },
	{ "snapshot", "snapshots" },
	{ "cpu-config", "custom CPU templates" },
	{ "pmem", "pmem devices" },
	{ "hotplug", "memory hotplug" },
};

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

static void count(uint64_t *total, uint64_t *fails, bool failed)
{
	if (total)
		METRIC_INC(*total);
	if (fails && failed)
		METRIC_INC(*fails);
}

#define PUT_M(name)   &ember_metrics.put_api_requests.name##_count, \
		      &ember_metrics.put_api_requests.name##_fails
#define PATCH_M(name) &ember_metrics.patch_api_requests.name##_count, \
		      &ember_metrics.patch_api_requests.name##_fails

/* A request with a JSON body j; r->method is PUT or PATCH. */
static void handle_body(struct api *a, const struct route *r, const cJSON *j,
			struct http_response *resp)
{
	char err[600];
	const char *id;
	int rc = -1;

	err[0] = '\0';
	if (is(r, HTTP_PUT, "actions", NULL)) {
		enum config_action act;
		int status;

		rc = config_parse_action(j, &act, err, sizeof(err));
		if (rc == 0 && act == ACTION_INSTANCE_START) {
			rc = api_start(a, &status, err, sizeof(err));
		} else if (rc == 0 && !a->booted) {
			rc = -1;
			snprintf(err, sizeof(err), NOT_BEFORE);
		} else if (rc == 0 && act == ACTION_CTRL_ALT_DEL) {
			char why[300];

			rc = a->ops->ctrl_alt_del(a->vm, why, sizeof(why));
			if (rc < 0)
				snprintf(err, sizeof(err), "Internal VMM error: %s", why);
		} else if (rc == 0) {
			rc = metrics_flush();
			if (rc < 0)
				snprintf(err, sizeof(err), "Internal VMM error: the metrics could not "
					 "be written (destination full or failing).");
		}
		count(PUT_M(actions), rc < 0);
	} else if (is(r, HTTP_PUT, "boot-source", NULL)) {
		rc = config_put_boot_source(&a->cfg, j, err, sizeof(err));
		count(PUT_M(boot_source), rc < 0);
	} else if (is(r, HTTP_PUT, "machine-config", NULL) ||
		   is(r, HTTP_PATCH, "machine-config", NULL)) {
		rc = config_machine(&a->cfg, j, r->method == HTTP_PATCH, err, sizeof(err));
		if (r->method == HTTP_PUT)
			count(PUT_M(machine_cfg), rc < 0);
		else
			count(PATCH_M(machine_cfg), rc < 0);
	} else if (r->ntok >= 1 && !strcmp(r->tok[0], "drives") && r->method == HTTP_PUT) {
		if (!(id = path_id(r, resp)))
			return;
		rc = config_put_drive(&a->cfg, j, id, err, sizeof(err));
		count(PUT_M(drive), rc < 0);
	} else if (r->ntok >= 1 && !strcmp(r->tok[0], "drives")) {
		const char *path = NULL;

		if (!(id = path_id(r, resp)))
			return;
		rc = config_patch_drive(&a->cfg, j, id, &path, err, sizeof(err));
		if (rc == 0 && !a->booted) {
			rc = -1;
			snprintf(err, sizeof(err), NOT_BEFORE);
		} else if (rc == 0 && path) {
			char why[400];

			rc = a->ops->drive_update(a->vm, id, path, why, sizeof(why));
			if (rc < 0) {
				snprintf(err, sizeof(err), "Drive config error: Unable to patch the "
					 "block device: %s. Please verify the request arguments.", why);
			} else {
				for (int i = 0; i < a->cfg.vm.ndrives; i++)
					if (!strcmp(a->cfg.vm.drives[i].id, id))
						snprintf(a->cfg.vm.drives[i].path,
							 sizeof(a->cfg.vm.drives[i].path), "%s", path);
			}
		}
		count(PATCH_M(drive), rc < 0);
	} else if (r->ntok >= 1 && !strcmp(r->tok[0], "network-interfaces")) {
		if (!(id = path_id(r, resp)))
			return;
		if (r->method == HTTP_PUT) {
			rc = config_put_net(&a->cfg, j, id, err, sizeof(err));
			count(PUT_M(network), rc < 0);
		} else {
			rc = config_patch_net(&a->cfg, j, id, err, sizeof(err));
			if (rc == 0 && !a->booted) {
				rc = -1;
				snprintf(err, sizeof(err), NOT_BEFORE);
			}
			count(PATCH_M(network), rc < 0);
		}
	} else if (is(r, HTTP_PUT, "logger", NULL)) {
		static struct ember_config n;

		n = a->cfg;
		rc = config_put_logger(&n, j, err, sizeof(err));
		if (rc == 0 && a->booted) {
			rc = -1;
			snprintf(err, sizeof(err), NOT_AFTER);
		} else if (rc == 0) {
			rc = api_apply_logger(a, &n, err, sizeof(err));
			if (rc == 0)
				a->cfg.logger = n.logger;
		}
		count(PUT_M(logger), rc < 0);
	} else if (is(r, HTTP_PUT, "metrics", NULL)) {
		static struct ember_config n;

		n = a->cfg;
		rc = config_put_metrics(&n, j, err, sizeof(err));
		if (rc == 0 && a->booted) {
			rc = -1;
			snprintf(err, sizeof(err), NOT_AFTER);
		} else if (rc == 0) {
			rc = api_apply_metrics(a, n.metrics.path, err, sizeof(err));
			if (rc == 0)
				a->cfg.metrics = n.metrics;
		}
		count(PUT_M(metrics), rc < 0);
	} else if (is(r, HTTP_PUT, "serial", NULL)) {
		static struct ember_config n;

		n = a->cfg;
		rc = config_put_serial(&n, j, err, sizeof(err));
		if (rc == 0 && a->booted) {
			rc = -1;
			snprintf(err, sizeof(err), NOT_AFTER);
		} else if (rc == 0) {
			a->cfg.serial = n.serial;
		}
	} else if (is(r, HTTP_PATCH, "vm", NULL)) {
		bool pause;

		rc = config_parse_vm_state(j, &pause, err, sizeof(err));
		if (rc == 0 && !a->booted) {
			rc = -1;
			snprintf(err, sizeof(err), NOT_BEFORE);
		} else if (rc == 0) {
			char why[300];

			rc = pause ? a->ops->pause(a->vm, why, sizeof(why)) :
				     a->ops->resume(a->vm, why, sizeof(why));
			if (rc < 0)
				snprintf(err, sizeof(err), "Internal VMM error: %s", why);
			else
				a->paused = pause;
		}
	} else {
		snprintf(err, sizeof(err), "Invalid request method and/or path: %s %.100s.",
			 http_method_name(r->method), r->path);
	}
	if (rc == 0) {
		http_response_empty(resp, 204);
		return;
	}
	fault(resp, err[0] ? err : "bad request");
}

/* The resources that only exist before InstanceStart: refused after it. */
static bool pre_boot_only(const struct route *r)
{
	static const char *const put[] = {
		"boot-source", "machine-config", "drives", "network-interfaces", "logger",
		"metrics", "serial",
	};

	if (r->ntok < 1)
		return false;
	if (r->method == HTTP_PATCH)
		return !strcmp(r->tok[0], "machine-config");
	for (size_t i = 0; i < ARRAY_SIZE(put); i++)
		if (!strcmp(r->tok[0], put[i]))
			return true;
	return false;
}

void api_handle(void *opaque, const struct http_request *req, struct http_response *resp)
{
	struct api *a = opaque;
	struct route r = { .method = req->method, .path = req->path };
	char err[600];
	cJSON *j;

	split_path(&r, req->path);
	LOG_INFO("The API server received a %s request on \"%.200s\".",
		 http_method_name(req->method), req->path);
	if (r.ntok >= 1)
		for (size_t i = 0; i < ARRAY_SIZE(unsupported); i++)
			if (!strcmp(r.tok[0], unsupported[i][0])) {
				snprintf(err, sizeof(err), "The requested operation is not supported: "
					 "ember has no %s.", unsupported[i][1]);
				fault(resp, err);
				return;
			}
	if (req->method == HTTP_GET) {
		if (req->body_len) {
			fault(resp, "GET request cannot have a body.");
		} else if (r.ntok == 0) {
			METRIC_INC(ember_metrics.get_api_requests.instance_info_count);
			get_instance(a, resp);
		} else if (is(&r, HTTP_GET, "version", NULL)) {
			METRIC_INC(ember_metrics.get_api_requests.vmm_version_count);
			snprintf(err, sizeof(err), "{\"firecracker_version\":\"%s\"}", EMBER_VERSION);
			http_response_json(resp, 200, err);
		} else if (is(&r, HTTP_GET, "vm", "config")) {
			ok_json(resp, config_vm_json(&a->cfg));
		} else if (is(&r, HTTP_GET, "machine-config", NULL)) {
			METRIC_INC(ember_metrics.get_api_requests.machine_cfg_count);
			ok_json(resp, config_machine_json(&a->cfg));
		} else {
			snprintf(err, sizeof(err), "Invalid request method and/or path: GET %.100s.",
				 req->path);
			fault(resp, err);
		}
		return;
	}
	if (!req->body_len) {
		fault(resp, req->method == HTTP_PUT ? "Empty PUT request." : "Empty PATCH request.");
		return;
	}
	if (req->body_len > a->max_payload) {
		snprintf(err, sizeof(err), "Request payload with size %zu is larger than the limit "
			 "of %zu allowed by server.", req->body_len, a->max_payload);
		LOG_ERROR("Received Error. Status code: 413 Payload Too Large. Message: %s", err);
		http_response_error(resp, 413, "%s", err);
		return;
	}
	j = config_parse_json(req->body, req->body_len, err, sizeof(err));
	if (!j) {
		fault(resp, err);
		return;
	}
	/*
	 * Firecracker checks the body, then whether the VM state allows the
	 * operation: handle_body() does both for the post-boot operations; a
	 * pre-boot resource after boot is refused once its body is valid.
	 */
	if (a->booted && pre_boot_only(&r)) {
		static struct ember_config scratch;
		const char *id = NULL;

		scratch = a->cfg;
		err[0] = '\0';
		if (!strcmp(r.tok[0], "drives") || !strcmp(r.tok[0], "network-interfaces")) {
			id = path_id(&r, resp);
			if (!id) {
				cJSON_Delete(j);
				return;
			}
		}
		/* only the body's validity matters here: scratch is thrown away */
		if (!strcmp(r.tok[0], "boot-source"))
			config_put_boot_source(&scratch, j, err, sizeof(err));
		else if (!strcmp(r.tok[0], "machine-config"))
			config_machine(&scratch, j, r.method == HTTP_PATCH, err, sizeof(err));
		else if (!strcmp(r.tok[0], "drives"))
			config_put_drive(&scratch, j, id, err, sizeof(err));
		else if (!strcmp(r.tok[0], "network-interfaces"))
			config_put_net(&scratch, j, id, err, sizeof(err));
		else if (!strcmp(r.tok[0], "logger"))
			config_put_logger(&scratch, j, err, sizeof(err));
		else if (!strcmp(r.tok[0], "metrics"))
			config_put_metrics(&scratch, j, err, sizeof(err));
		else if (!strcmp(r.tok[0], "serial"))
			config_put_serial(&scratch, j, err, sizeof(err));
		fault(resp, !strncmp(err, SERDE_PREFIX, strlen(SERDE_PREFIX)) ? err : NOT_AFTER);
		cJSON_Delete(j);
		return;
	}
	handle_body(a, &r, j, resp);
	cJSON_Delete(j);
}
