/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The VMM thread's epoll event loop: device I/O, console input and the stop
 * request all arrive here, never on a vCPU thread.
 */
#ifndef EMBER_EVLOOP_H
#define EMBER_EVLOOP_H

#include <stdint.h>
#include <sys/epoll.h>

typedef void (*ev_cb)(void *opaque, uint32_t events);

#define EVLOOP_MAX 64

struct ev_source {
	int fd;
	ev_cb fn;
	void *opaque;
};

struct evloop {
	int epfd;
	int n;
	struct ev_source src[EVLOOP_MAX];
	volatile int done;
};

int evloop_init(struct evloop *l);
/* Watch fd for events (EPOLLIN...); 0 or -1 with errno. */
int evloop_add(struct evloop *l, int fd, uint32_t events, ev_cb fn, void *opaque);
/* Change the events watched on fd (0 pauses it). */
int evloop_mod(struct evloop *l, int fd, uint32_t events);
int evloop_del(struct evloop *l, int fd);
/* Dispatch until a callback sets l->done. */
void evloop_run(struct evloop *l);

#endif
