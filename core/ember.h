/* SPDX-License-Identifier: Apache-2.0 */
/* Things every part of the monitor uses: exit statuses and messages. */
#ifndef EMBER_H
#define EMBER_H

#include <stdarg.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "core/logger.h"

/* Process exit statuses (see `ember --help`). */
enum ember_status {
	EMBER_EXIT_OK = 0,          /* the guest reset or shut down */
	EMBER_EXIT_HOST_ERROR = 1,  /* KVM or the host failed */
	EMBER_EXIT_BAD_INPUT = 2,   /* usage, kernel/initrd, values out of range */
	EMBER_EXIT_GUEST_CRASH = 3, /* triple fault, KVM internal error, ... */
};

/*
 * Format a one-line reason into err (control characters become '?', so
 * whatever the input held it stays one line) and return -1.
 */
int errorf(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int verrorf(char *err, size_t errlen, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

/* Print "ember: <msg>" on stderr and exit(status). Thread-safe. */
void die(int status, const char *fmt, ...)
	__attribute__((noreturn, format(printf, 2, 3)));
/*
 * A warning about the host or ember itself, through the logger (stderr
 * until PUT /logger names a file; dropped below level Warning).
 */
#define warn(...) LOG_WARN(__VA_ARGS__)

/*
 * warn() for what the guest caused (a broken queue, an unhandled port...).
 * Callers warn once per cause until the device is reset (a flag of theirs);
 * and whatever the causes, the guest must not flood the log: at most
 * GUEST_WARN_BURST lines at once and one more per GUEST_WARN_EVERY_MS. The
 * rest are counted in the metrics (logger.missed_log_count).
 */
#define GUEST_WARN_BURST    32
#define GUEST_WARN_EVERY_MS 1000
#define guest_warn(...) guest_warn_at(__FILE__, __LINE__, __VA_ARGS__)
void guest_warn_at(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* A full burst again (tests). */
void guest_warn_reset(void);

/*
 * Ask the VMM thread to end the VM: it restores the terminal, prints
 * "ember: <msg>" (when fmt is not NULL) and exits with status. The first
 * request wins; safe from any thread (not from signal handlers).
 */
void vm_request_stop(int status, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Whether a stop was requested: a vCPU must not enter the guest again. */
int vm_stop_requested(void);

/*
 * The stop request's wiring (core/stop.c), for the program's top: an
 * eventfd on loop that ends evloop_run(), and SIGTERM, SIGINT, SIGHUP and
 * SIGQUIT turned into a stop (SIGPIPE ignored). 0, or -1 with errno.
 */
struct evloop;
int stop_init(struct evloop *loop);
/* After evloop_run(): a loop ended by a signal becomes a stop request. */
void stop_after_loop(void);
/* Print the stop's message (if any) as "ember: <msg>" and return its status. */
int stop_report(void);

/*
 * Open a host file the VM reads or writes (kernel, initrd, drive, snapshot
 * files; created 0600 with O_CREAT) without blocking (a FIFO or a device would stall the thread that opens it) and
 * check what it is: a regular file, or also a block device when blk_ok.
 * The fd (O_CLOEXEC), or -1 with a one-line reason in err.
 */
int open_host_file(const char *path, int flags, bool blk_ok, char *err, size_t errlen);
/* All len bytes at off (a short write or EINTR goes on). 0, or -1 with errno. */
int pwrite_full(int fd, const void *buf, size_t len, uint64_t off);

/* Map a whole regular file read-only; *len gets its size. NULL + err on failure. */
const uint8_t *map_file(const char *path, size_t *len, char *err, size_t errlen);

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* CLOCK_MONOTONIC in milliseconds (timeouts, rate limits, expiries). */
static inline uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

#endif
