/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The human-readable log, shaped like Firecracker's (PUT /logger, docs/logger.md):
 *
 *   <local time> [<instance id>:<thread name>[:<LEVEL>][:<file>:<line>]] <message>
 *   2024-05-01T12:00:00.123456789 [anonymous-instance:vmm:INFO] Guest-boot-time = ...
 *
 * LEVEL is ERROR, WARN, INFO, DEBUG or TRACE; show_level and show_log_origin
 * (file:line) are off by default, the level is Info, as in Firecracker.
 * Until logger_configure() names a file, lines go to standard error
 * (Firecracker uses stdout, which is ember's serial console).
 *
 * The destination, a regular file (created 0600 when missing, appended to)
 * or a named pipe, is opened read-write and non-blocking like Firecracker
 * does: opening a FIFO without a reader neither blocks nor fails, and the
 * FIFO buffers lines until one comes. Writing never blocks: a line that
 * does not fit (FIFO full, disk full) is dropped and counted
 * (logger_lost_lines(), reported as logger.missed_log_count in metrics).
 * Every line is one write() of at most LOG_LINE_MAX bytes, so lines from
 * different threads never interleave. Control characters in a message
 * (e.g. a newline in a guest-supplied string) are written as '?'.
 */
#ifndef EMBER_LOGGER_H
#define EMBER_LOGGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum log_level {
	LOG_LEVEL_OFF = 0,
	LOG_LEVEL_ERROR,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
	LOG_LEVEL_TRACE,
};

#define LOG_LEVEL_DEFAULT   LOG_LEVEL_INFO
#define LOG_INSTANCE_ID_DEFAULT "anonymous-instance"
#define LOG_INSTANCE_ID_MAX 64    /* Firecracker's --id limit */
#define LOG_THREAD_NAME_MAX 32
#define LOG_LINE_MAX        4096  /* PIPE_BUF: one atomic write to a FIFO */

/*
 * "Error", "Warning" (or "Warn"), "Info", "Debug", "Trace", "Off", in any
 * case, as the API accepts them. 0, or -1 for anything else.
 */
int log_level_parse(const char *s, enum log_level *out);
/* "Error", "Warning", ... (the API's spelling). */
const char *log_level_name(enum log_level l);

/*
 * Send the log to path (NULL: keep the current destination) with these
 * settings; the previous file is closed. 0, or -1 with a one-line reason in
 * err (nothing changes then). May be called again (the API decides whether
 * that is allowed).
 */
int logger_configure(const char *path, enum log_level level, bool show_level,
		     bool show_origin, char *err, size_t errlen);

/*
 * Only messages from source files whose path (as __FILE__, e.g.
 * "virtio/blk.c") starts with prefix are written; NULL or "" logs all.
 * Firecracker's `module` filter.
 */
void logger_set_module(const char *prefix);

/* The instance id at the start of every line (default "anonymous-instance"). */
void logger_set_instance_id(const char *id);

/*
 * The calling thread's name in its lines (also its kernel comm name).
 * Unnamed threads show their comm name ("ember" unless set).
 */
void logger_set_thread_name(const char *name);

/* Lines dropped since the start: destination full or failing. */
uint64_t logger_lost_lines(void);

/* Back to the start state: stderr, Info, no level or origin, default id. */
void logger_reset(void);

/* The macros' back end; use LOG_*(). */
void logger_log(enum log_level level, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

extern int logger_max_level_; /* enum log_level, read atomically */

static inline bool log_enabled(enum log_level l)
{
	return (int)l <= __atomic_load_n(&logger_max_level_, __ATOMIC_RELAXED);
}

#define LOG_AT_(lvl, ...)                                                     \
	do {                                                                  \
		if (log_enabled(lvl))                                         \
			logger_log(lvl, __FILE__, __LINE__, __VA_ARGS__);     \
	} while (0)
#define LOG_ERROR(...) LOG_AT_(LOG_LEVEL_ERROR, __VA_ARGS__)
#define LOG_WARN(...)  LOG_AT_(LOG_LEVEL_WARN, __VA_ARGS__)
#define LOG_INFO(...)  LOG_AT_(LOG_LEVEL_INFO, __VA_ARGS__)
#define LOG_DEBUG(...) LOG_AT_(LOG_LEVEL_DEBUG, __VA_ARGS__)
#define LOG_TRACE(...) LOG_AT_(LOG_LEVEL_TRACE, __VA_ARGS__)

/*
 * A non-blocking line sink (shared with the metrics): open path as the
 * logger does, write whole lines or drop them.
 */
struct log_sink {
	int fd;         /* -1: closed */
	bool fifo;
	bool broken;    /* a partial line was written: end it before the next one */
};

/* 0, or -1 with "cannot open PATH: reason" in err. */
int log_sink_open(struct log_sink *s, const char *path, char *err, size_t errlen);
void log_sink_close(struct log_sink *s);
/*
 * Write buf (one or more whole lines) with one write(). 0 when written; -1
 * when dropped, with errno EAGAIN if there was no room (a full FIFO) or the
 * write error. The caller serialises writes to one sink.
 */
int log_sink_write(struct log_sink *s, const char *buf, size_t len);

#endif
