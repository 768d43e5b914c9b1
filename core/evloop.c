/* SPDX-License-Identifier: Apache-2.0 */
#include "core/evloop.h"
#include "core/ember.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

int evloop_init(struct evloop *l)
{
	memset(l, 0, sizeof(*l));
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	return l->epfd < 0 ? -1 : 0;
}

static struct ev_source *find(struct evloop *l, int fd)
{
	for (int i = 0; i < l->n; i++)
		if (l->src[i].fd == fd)
			return &l->src[i];
	return NULL;
}

int evloop_add(struct evloop *l, int fd, uint32_t events, ev_cb fn, void *opaque)
{
	struct epoll_event ev = { .events = events };
	struct ev_source *s;

	if (fd < 0 || find(l, fd)) {
		errno = EINVAL;
		return -1;
	}
	s = find(l, -1); /* a slot freed by evloop_del */
	if (!s && l->n == EVLOOP_MAX) {
		errno = ENOSPC;
		return -1;
	}
	if (!s)
		s = &l->src[l->n];
	ev.data.ptr = s;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -1;
	if (s == &l->src[l->n])
		l->n++;
	*s = (struct ev_source){ fd, fn, opaque };
	return 0;
}

int evloop_mod(struct evloop *l, int fd, uint32_t events)
{
	struct ev_source *s = find(l, fd);
	struct epoll_event ev = { .events = events, .data.ptr = s };

	if (!s) {
		errno = ENOENT;
		return -1;
	}
	return epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev);
}

int evloop_del(struct evloop *l, int fd)
{
	struct ev_source *s = find(l, fd);

	if (!s) {
		errno = ENOENT;
		return -1;
	}
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
	/* Sources keep their slots (epoll holds pointers to them): mark free. */
	s->fd = -1;
	s->fn = NULL;
	return 0;
}

void evloop_run(struct evloop *l)
{
	struct epoll_event evs[16];

	while (!l->done) {
		int n = epoll_wait(l->epfd, evs, ARRAY_SIZE(evs), -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			die(EMBER_EXIT_HOST_ERROR, "epoll_wait: %s", strerror(errno));
		}
		for (int i = 0; i < n && !l->done; i++) {
			struct ev_source *s = evs[i].data.ptr;

			if (s->fn)
				s->fn(s->opaque, evs[i].events);
		}
	}
}
