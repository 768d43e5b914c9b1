/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Metrics, shaped like Firecracker's (PUT /metrics, docs/metrics.md): one
 * JSON object per line, written to a file or named pipe every 60 seconds
 * and on demand (the FlushMetrics action):
 *
 *   {"utc_timestamp_ms":1714564800000,"api_server":{...},"block":{...},
 *    "block_rootfs":{...},"get_api_requests":{...},"logger":{...},"net":{...},
 *    "net_eth0":{...},"patch_api_requests":{...},"put_api_requests":{...},
 *    "vcpu":{...},"vmm":{...}}
 *
 * Counters report what happened since the last line written (Firecracker's
 * SharedIncMetric); a few values are absolute (SharedStoreMetric): the
 * process start-up times and the guest boot time. A line that cannot be
 * written (full FIFO, full disk) is counted in logger.missed_metrics_count
 * and its counts go into the next line, so nothing is lost. "block" and
 * "net" are the sums over the devices; "block_<drive id>" and
 * "net_<iface id>" are the devices', read from their own counters at flush
 * time: each device kind names its counters (struct metrics_kind, given by
 * virtio/blk.c and virtio/net.c), so this file knows no device.
 *
 * Names follow Firecracker's. ember additions: net rx_drops/tx_drops (frames
 * dropped without an error), vmm.guest_boot_time_us/_cpu_us (boot timer).
 * Firecracker's block execute_fails is ember's virtio_blk_stats.errors.
 *
 * The destination is opened as the logger's (core/logger.h): never blocks.
 */
#ifndef EMBER_METRICS_H
#define EMBER_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct evloop;

/*
 * The counters, group by group: X(group, name, kind), kind M_INC (a count
 * reported as its change since the last line) or M_STORE (reported as is).
 */
#define METRICS_api_server(X)                                                  \
	X(api_server, process_startup_time_us, M_STORE)                        \
	X(api_server, process_startup_time_cpu_us, M_STORE)
#define METRICS_deprecated_api(X)                                              \
	X(deprecated_api, deprecated_http_api_calls, M_INC)                    \
	X(deprecated_api, deprecated_cmd_line_api_calls, M_INC)
#define METRICS_get_api_requests(X)                                            \
	X(get_api_requests, instance_info_count, M_INC)                        \
	X(get_api_requests, machine_cfg_count, M_INC)                          \
	X(get_api_requests, mmds_count, M_INC)                                 \
	X(get_api_requests, vmm_version_count, M_INC)
#define METRICS_logger(X)                                                      \
	X(logger, missed_metrics_count, M_INC)                                 \
	X(logger, metrics_fails, M_INC)                                        \
	X(logger, missed_log_count, M_INC)
#define METRICS_mmds(X)                                                        \
	X(mmds, rx_accepted, M_INC)                                            \
	X(mmds, rx_accepted_err, M_INC)                                        \
	X(mmds, rx_accepted_unusual, M_INC)                                    \
	X(mmds, rx_bad_eth, M_INC)                                             \
	X(mmds, rx_invalid_token, M_INC)                                       \
	X(mmds, rx_no_token, M_INC)                                            \
	X(mmds, rx_count, M_INC)                                               \
	X(mmds, tx_bytes, M_INC)                                               \
	X(mmds, tx_count, M_INC)                                               \
	X(mmds, tx_errors, M_INC)                                              \
	X(mmds, tx_frames, M_INC)                                              \
	X(mmds, connections_created, M_INC)                                    \
	X(mmds, connections_destroyed, M_INC)
#define METRICS_patch_api_requests(X)                                          \
	X(patch_api_requests, drive_count, M_INC)                              \
	X(patch_api_requests, drive_fails, M_INC)                              \
	X(patch_api_requests, network_count, M_INC)                            \
	X(patch_api_requests, network_fails, M_INC)                            \
	X(patch_api_requests, machine_cfg_count, M_INC)                        \
	X(patch_api_requests, machine_cfg_fails, M_INC)                        \
	X(patch_api_requests, mmds_count, M_INC)                               \
	X(patch_api_requests, mmds_fails, M_INC)
#define METRICS_put_api_requests(X)                                            \
	X(put_api_requests, actions_count, M_INC)                              \
	X(put_api_requests, actions_fails, M_INC)                              \
	X(put_api_requests, boot_source_count, M_INC)                          \
	X(put_api_requests, boot_source_fails, M_INC)                          \
	X(put_api_requests, drive_count, M_INC)                                \
	X(put_api_requests, drive_fails, M_INC)                                \
	X(put_api_requests, logger_count, M_INC)                               \
	X(put_api_requests, logger_fails, M_INC)                               \
	X(put_api_requests, machine_cfg_count, M_INC)                          \
	X(put_api_requests, machine_cfg_fails, M_INC)                          \
	X(put_api_requests, metrics_count, M_INC)                              \
	X(put_api_requests, metrics_fails, M_INC)                              \
	X(put_api_requests, mmds_count, M_INC)                                 \
	X(put_api_requests, mmds_fails, M_INC)                                 \
	X(put_api_requests, network_count, M_INC)                              \
	X(put_api_requests, network_fails, M_INC)
#define METRICS_uart(X)                                                        \
	X(uart, missed_write_count, M_INC)                                     \
	X(uart, write_count, M_INC)
#define METRICS_vcpu(X)                                                        \
	X(vcpu, exit_io_in, M_INC)                                             \
	X(vcpu, exit_io_out, M_INC)                                            \
	X(vcpu, exit_mmio_read, M_INC)                                         \
	X(vcpu, exit_mmio_write, M_INC)                                        \
	X(vcpu, failures, M_INC)
#define METRICS_vmm(X)                                                         \
	X(vmm, guest_boot_time_us, M_STORE)                                    \
	X(vmm, guest_boot_time_cpu_us, M_STORE)

/* The groups in the order they are written (devices go after api_server and logger). */
#define METRICS_GROUPS(G)                                                      \
	G(api_server) G(deprecated_api) G(get_api_requests) G(logger) G(mmds)   \
	G(patch_api_requests)                                                  \
	G(put_api_requests) G(uart) G(vcpu) G(vmm)

#define METRICS_FIELD_(g, name, kind) uint64_t name;
#define METRICS_GROUP_(g) struct { METRICS_##g(METRICS_FIELD_) } g;
struct metrics {
	METRICS_GROUPS(METRICS_GROUP_)
};
#undef METRICS_GROUP_
#undef METRICS_FIELD_

extern struct metrics ember_metrics;

/* From any thread, lock-free: METRIC_INC(ember_metrics.vcpu.exit_io_in); */
#define METRIC_ADD(m, n) ((void)__atomic_fetch_add(&(m), (uint64_t)(n), __ATOMIC_RELAXED))
#define METRIC_INC(m)    METRIC_ADD(m, 1)
#define METRIC_SET(m, v) __atomic_store_n(&(m), (uint64_t)(v), __ATOMIC_RELAXED)
#define METRIC_GET(m)    __atomic_load_n(&(m), __ATOMIC_RELAXED)

/*
 * Write the metrics to path from now on. Once only, like Firecracker: 0, or
 * -1 with a one-line reason in err ("metrics: cannot open ...", "metrics:
 * already configured").
 */
int metrics_configure(const char *path, char *err, size_t errlen);
bool metrics_configured(void);

/*
 * Write one line now. 0 when written or when no path is configured; -1 when
 * the line was dropped (counted; its counts go into the next line).
 */
int metrics_flush(void);

#define METRICS_PERIOD_MS 60000ULL
/*
 * Flush every interval_ms on loop (a timerfd), and once now, as Firecracker
 * does. 0, or -1 with errno (already started: EBUSY).
 */
int metrics_start_periodic_ms(struct evloop *loop, uint64_t interval_ms);
static inline int metrics_start_periodic(struct evloop *loop)
{
	return metrics_start_periodic_ms(loop, METRICS_PERIOD_MS);
}
void metrics_stop_periodic(struct evloop *loop);

/*
 * A kind of device and its counters, e.g. virtio-blk's "block": each line
 * has "<group>", the sum over the kind's devices (also while it has none),
 * and "<group>_<id>" per device, placed after the group named after.
 * read(dev, vals) fills the device's counters, cumulative since its
 * creation, in the order of names; the line reports their changes.
 */
#define METRICS_DEV_VALS  8
#define METRICS_MAX_KINDS 8
#define METRICS_MAX_DEVS  16
#define METRICS_ID_MAX    64
struct metrics_kind {
	const char *group;
	const char *after;
	const char *const *names;
	int n;                                   /* at most METRICS_DEV_VALS */
	void (*read)(void *dev, uint64_t *vals); /* any thread: the device locks itself */
};
/* Write the kind's group from now on (again: nothing). 0, or -1 when full or malformed. */
int metrics_add_kind(const struct metrics_kind *k);
/*
 * Report dev as "<group>_<id>" (adds its kind). -1 for an empty, used or
 * non-printable id, or more than METRICS_MAX_DEVS devices.
 */
int metrics_add_device(const struct metrics_kind *k, const char *id, void *dev);

/*
 * Top-level members written after the timestamp on every line, as a JSON
 * fragment ("\"id\":\"vm1\",\"properties\":{...}"; "" for none): Firecracker's
 * emit_id and properties. Copied; longer than 8 KiB is cut off (not valid).
 */
void metrics_set_extra(const char *fragment);

/* api_server.process_startup_time_us and _cpu_us. */
void metrics_set_startup(uint64_t wall_us, uint64_t cpu_us);
/*
 * The same, measured now: wall time since start_mono_ns (CLOCK_MONOTONIC at
 * the top of main()), CPU time of the process so far. Firecracker stores
 * these when its API server is ready to serve.
 */
void metrics_mark_startup(uint64_t start_mono_ns);

/* Back to the start: no path, no timer, no kinds or devices, every counter 0 (tests). */
void metrics_reset(void);

#endif
