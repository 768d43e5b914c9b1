/* SPDX-License-Identifier: Apache-2.0 */
/* The stop request: from vCPU threads, devices and signal handlers to the VMM thread. */
#include "core/ember.h"
#include "core/evloop.h"

#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <unistd.h>

static struct {
	pthread_mutex_t lock;
	int fd;              /* eventfd watched by the event loop */
	int requested;
	int status;
	char msg[256];
	volatile sig_atomic_t signo;
} stop = { .lock = PTHREAD_MUTEX_INITIALIZER, .fd = -1 };

void vm_request_stop(int status, const char *fmt, ...)
{
	uint64_t one = 1;
	va_list ap;

	pthread_mutex_lock(&stop.lock);
	if (!stop.requested) {
		stop.status = status;
		if (fmt) {
			va_start(ap, fmt);
			vsnprintf(stop.msg, sizeof(stop.msg), fmt, ap);
			va_end(ap);
		}
		__atomic_store_n(&stop.requested, 1, __ATOMIC_SEQ_CST);
		if (write(stop.fd, &one, sizeof(one)) < 0)
			die(status, "%s", stop.msg[0] ? stop.msg : "stopping");
	}
	pthread_mutex_unlock(&stop.lock);
}

int vm_stop_requested(void)
{
	return __atomic_load_n(&stop.requested, __ATOMIC_SEQ_CST);
}

static void on_signal(int sig)
{
	uint64_t one = 1;

	stop.signo = sig;
	if (write(stop.fd, &one, sizeof(one)) < 0)
		_exit(EMBER_EXIT_HOST_ERROR);
}

static void on_stop(void *opaque, uint32_t events)
{
	struct evloop *l = opaque;

	(void)events;
	l->done = 1;
}

int stop_init(struct evloop *loop)
{
	stop.fd = eventfd(0, EFD_CLOEXEC);
	if (stop.fd < 0 || evloop_add(loop, stop.fd, EPOLLIN, on_stop, loop) < 0)
		return -1;
	for (const int *s = (const int[]){ SIGTERM, SIGINT, SIGHUP, SIGQUIT, 0 }; *s; s++)
		signal(*s, on_signal);
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

void stop_after_loop(void)
{
	if (!vm_stop_requested())
		vm_request_stop(EMBER_EXIT_HOST_ERROR, "stopped by signal %d", (int)stop.signo);
}

int stop_report(void)
{
	pthread_mutex_lock(&stop.lock);
	if (stop.msg[0])
		fprintf(stderr, "ember: %s\n", stop.msg);
	return stop.status;
}
