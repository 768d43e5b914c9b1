/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The API thread: accepts connections on the Unix socket, reads and parses
 * requests, hands each complete request to the VMM thread and writes the
 * response, all without blocking on any one client.
 *
 * Hand-over: the API thread stores the request in s->req, pokes vmm_fd (an
 * eventfd in the VMM's evloop) and waits on s->cond; on_vmm() runs the
 * handler on the VMM thread and signals s->cond. api_server_stop() sets
 * s->stopping, which also ends such a wait.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* accept4 */
#endif
#include "api-socket/server.h"
#include "core/ember.h"
#include "core/logger.h"
#include "vmm/seccomp.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define IN_BUF        4096
#define SERVE_BUDGET  16 /* requests per connection before others get a turn */
#define DISCARD_MAX   (1 << 20) /* bytes read and dropped after a refusal, then close */

struct conn {
	int fd;
	bool peer_eof;      /* read() returned 0 */
	bool closing;       /* close once the output is written */
	bool discard;       /* after a request that could not be parsed: read and drop */
	size_t discarded;   /* bytes dropped so far (at most DISCARD_MAX, then close) */
	bool more;          /* budget used up with input left: serve again soon */
	uint32_t events;    /* what epoll watches */
	uint64_t req_start; /* ms, when the current partial request began */
	uint64_t deadline;  /* ms, 0 for none */
	size_t in_off, in_len;
	char in[IN_BUF];
	char *out;
	size_t out_off, out_len;
	struct http_parser parser;
};

struct api_server {
	int listen_fd;
	int epfd;
	int stop_fd;        /* eventfd: wakes the API thread to stop */
	int vmm_fd;         /* eventfd in the VMM loop: a request is waiting */
	struct evloop *loop;
	api_handler_fn handler;
	void *opaque;
	pthread_t thread;
	bool thread_started;
	int timeout_ms;     /* atomic: API_IDLE_TIMEOUT_MS unless changed */
	int keepalive_ms;   /* atomic: API_KEEPALIVE_TIMEOUT_MS unless changed */

	pthread_mutex_t lock;
	pthread_cond_t cond;
	const struct http_request *req; /* in flight, under lock */
	struct http_response *resp;
	bool done;
	bool stopping;

	struct conn *conns[API_MAX_CONNS];
	int nconns;

	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	dev_t sock_dev;
	ino_t sock_ino;
};

static void poke(int fd)
{
	uint64_t one = 1;

	while (write(fd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
}

/* ---- VMM thread ---------------------------------------------------------- */

static void on_vmm(void *opaque, uint32_t events)
{
	struct api_server *s = opaque;
	const struct http_request *req;
	struct http_response *resp;
	uint64_t v;

	(void)events;
	if (read(s->vmm_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return;
	pthread_mutex_lock(&s->lock);
	req = s->done ? NULL : s->req;
	resp = s->resp;
	pthread_mutex_unlock(&s->lock);
	if (!req)
		return;
	s->handler(s->opaque, req, resp);
	pthread_mutex_lock(&s->lock);
	s->done = true;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

/* ---- API thread ---------------------------------------------------------- */

/* Run the handler on the VMM thread; -1 when the server is stopping. */
static int dispatch(struct api_server *s, const struct http_request *req,
		    struct http_response *resp)
{
	bool ok;

	pthread_mutex_lock(&s->lock);
	s->req = req;
	s->resp = resp;
	s->done = false;
	pthread_mutex_unlock(&s->lock);
	poke(s->vmm_fd);
	pthread_mutex_lock(&s->lock);
	while (!s->done && !s->stopping)
		pthread_cond_wait(&s->cond, &s->lock);
	ok = s->done;
	s->req = NULL;
	s->resp = NULL;
	pthread_mutex_unlock(&s->lock);
	return ok ? 0 : -1;
}

static void conn_close(struct api_server *s, struct conn *c)
{
	for (int i = 0; i < s->nconns; i++) {
		if (s->conns[i] == c) {
			s->conns[i] = s->conns[--s->nconns];
			break;
		}
	}
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c->out);
	free(c);
}

static int queue_out(struct conn *c, const char *buf, size_t len)
{
	size_t pending = c->out_len - c->out_off;
	char *n;

	if (c->out_off) { /* compact */
		memmove(c->out, c->out + c->out_off, pending);
		c->out_off = 0;
		c->out_len = pending;
	}
	n = realloc(c->out, pending + len);
	if (!n)
		return -1;
	memcpy(n + pending, buf, len);
	c->out = n;
	c->out_len = pending + len;
	return 0;
}

static int queue_response(struct conn *c, const struct http_response *r, bool close)
{
	char *buf;
	size_t len;
	int ret;

	if (http_response_serialize(r, close, &buf, &len))
		return -1;
	ret = queue_out(c, buf, len);
	free(buf);
	return ret;
}

/*
 * A request that could not be parsed: micro-http's 400 (which says
 * keep-alive, as Firecracker's does). The rest of the stream cannot be
 * trusted to start a request: what the client still sends (the body of an
 * oversized request, say) is read and dropped until it closes, the idle
 * timeout or DISCARD_MAX bytes, so that it reads the answer instead of a
 * reset. At the peer's end of input there is nothing left to drop.
 */
static int queue_error(struct conn *c, const char *msg)
{
	struct http_response r;
	int ret;

	http_response_init(&r);
	http_response_parse_error(&r, msg);
	ret = queue_response(c, &r, false);
	http_response_free(&r);
	if (c->peer_eof)
		c->closing = true;
	else
		c->discard = true;
	return ret;
}

/* Write what can be written: 1 progress, 0 would block / nothing, -1 gone. */
static int flush_out(struct conn *c)
{
	int progress = 0;

	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return progress;
			return -1; /* EPIPE, ECONNRESET... */
		}
		c->out_off += (size_t)n;
		progress = 1;
	}
	free(c->out);
	c->out = NULL;
	c->out_off = c->out_len = 0;
	return progress;
}

static bool out_pending(const struct conn *c)
{
	return c->out_off < c->out_len;
}

/* Serve one complete request. -1: drop the connection. */
static int serve(struct api_server *s, struct conn *c)
{
	const struct http_request *req = http_parser_request(&c->parser);
	struct http_response resp;
	bool close;
	int ret;

	http_response_init(&resp);
	if (dispatch(s, req, &resp)) {
		http_response_free(&resp);
		return -1;
	}
	if (!resp.status)
		http_response_error(&resp, 500, "the request was not handled");
	close = !req->keep_alive || resp.close;
	ret = queue_response(c, &resp, close);
	http_response_free(&resp);
	if (close)
		c->closing = true;
	http_parser_next(&c->parser);
	c->req_start = 0;
	return ret;
}

/*
 * Make progress on c: write pending output, parse and serve buffered
 * requests, read more. Returns -1 when c must be closed.
 */
static int service(struct api_server *s, struct conn *c)
{
	int budget = SERVE_BUDGET, wrote = 0;

	c->more = false;
	for (;;) {
		if (out_pending(c)) {
			int r = flush_out(c);

			if (r < 0)
				return -1;
			wrote |= r;
			if (out_pending(c))
				break; /* slow reader: wait for EPOLLOUT */
		}
		if (c->closing)
			return -1;
		if (c->discard) {
			c->discarded += c->in_len - c->in_off;
			c->in_off = c->in_len;
			if (c->peer_eof || c->discarded > DISCARD_MAX)
				return -1;
		}
		if (c->in_off < c->in_len) {
			size_t used;
			enum http_parse_result r;

			if (!budget) {
				c->more = true;
				break;
			}
			r = http_parser_feed(&c->parser, c->in + c->in_off,
					     c->in_len - c->in_off, &used);
			c->in_off += used;
			/* 100 Continue only while the body is still awaited. */
			if (http_parser_take_continue(&c->parser) && r == HTTP_PARSE_MORE) {
				static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";

				if (queue_out(c, cont, sizeof(cont) - 1))
					return -1;
			}
			if (r == HTTP_PARSE_DONE) {
				budget--;
				if (serve(s, c))
					return -1;
			} else if (r == HTTP_PARSE_ERROR) {
				const char *msg;

				http_parser_error(&c->parser, &msg);
				if (queue_error(c, msg))
					return -1;
			}
			continue;
		}
		if (c->peer_eof) {
			const char *msg;

			if (!c->discard && http_parser_eof(&c->parser) == HTTP_PARSE_ERROR) {
				http_parser_error(&c->parser, &msg);
				if (queue_error(c, msg))
					return -1;
				continue;
			}
			return -1;
		}
		c->in_off = c->in_len = 0;
		ssize_t n = read(c->fd, c->in, sizeof(c->in));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			return -1; /* ECONNRESET... */
		}
		if (n == 0)
			c->peer_eof = true;
		c->in_len = (size_t)n;
	}

	/* Timeouts: a partial request must complete, output must move. */
	uint64_t now = mono_ms();
	uint64_t tmo = (uint64_t)__atomic_load_n(&s->timeout_ms, __ATOMIC_RELAXED);

	if (out_pending(c)) {
		if (wrote || !c->deadline)
			c->deadline = now + tmo;
	} else if (http_parser_busy(&c->parser)) {
		if (!c->req_start)
			c->req_start = now;
		c->deadline = c->req_start + tmo;
	} else {
		/* Idle between requests: kept alive for a while, not for ever. */
		c->req_start = 0;
		c->deadline = now + (uint64_t)__atomic_load_n(&s->keepalive_ms, __ATOMIC_RELAXED);
	}

	uint32_t want = out_pending(c) ? EPOLLOUT : c->more ? 0 : EPOLLIN;

	if (want != c->events) {
		struct epoll_event ev = { .events = want, .data.ptr = c };

		if (epoll_ctl(s->epfd, EPOLL_CTL_MOD, c->fd, &ev))
			return -1;
		c->events = want;
	}
	return 0;
}

static void on_timeout(struct api_server *s, struct conn *c)
{
	if (!out_pending(c) && http_parser_busy(&c->parser)) {
		struct http_response r;
		char *buf;
		size_t len;

		/* Best effort: tell the client why, then hang up. */
		http_response_init(&r);
		http_response_error(&r, 408, "the request did not arrive within %d ms",
				    __atomic_load_n(&s->timeout_ms, __ATOMIC_RELAXED));
		if (!http_response_serialize(&r, true, &buf, &len)) {
			if (send(c->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
				/* gone or full: closing anyway */
			}
			free(buf);
		}
		http_response_free(&r);
	}
	conn_close(s, c);
}

/* The request body limit for connections accepted from now on (atomic). */
static size_t max_payload;

static void accept_all(struct api_server *s)
{
	/* micro-http's answer, to the byte */
	static const char full[] =
		"HTTP/1.1 503\r\nServer: Firecracker API\r\nConnection: close\r\n"
		"Content-Length: 40\r\n\r\n{ \"error\": \"Too many open connections\" }";

	for (;;) {
		int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct conn *c;

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return; /* EAGAIN, or EMFILE & co: try again on the next event */
		}
		if (s->nconns == API_MAX_CONNS || !(c = calloc(1, sizeof(*c)))) {
			if (send(fd, full, sizeof(full) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
				/* closing anyway */
			}
			close(fd);
			continue;
		}
		c->fd = fd;
		c->events = EPOLLIN;
		/* A client that connects and says nothing is idle too. */
		c->deadline = mono_ms() + (uint64_t)__atomic_load_n(&s->keepalive_ms, __ATOMIC_RELAXED);
		http_parser_init(&c->parser, __atomic_load_n(&max_payload, __ATOMIC_RELAXED));
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };

		if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev)) {
			close(fd);
			free(c);
			continue;
		}
		s->conns[s->nconns++] = c;
	}
}

static bool stopping(struct api_server *s)
{
	bool st;

	pthread_mutex_lock(&s->lock);
	st = s->stopping;
	pthread_mutex_unlock(&s->lock);
	return st;
}

/*
 * seccomp: the API thread's filter (vmm/seccomp.c). Weak: the unit tests
 * link this file without vmm/seccomp.c (tests/seccomp checks that ember's
 * API thread does get its filter).
 */
#pragma weak seccomp_install

static void *api_thread(void *arg)
{
	struct api_server *s = arg;
	struct epoll_event evs[16];

	logger_set_thread_name("ember_api");
	pthread_setname_np(pthread_self(), "ember_api");
	if (seccomp_install) /* seccomp: before any client byte is handled */
		seccomp_install(SECCOMP_API, 0);
	while (!stopping(s)) {
		uint64_t now = mono_ms(), next = 0;
		bool more = false;
		int timeout = -1, n;

		for (int i = 0; i < s->nconns; i++) {
			more |= s->conns[i]->more;
			if (s->conns[i]->deadline && (!next || s->conns[i]->deadline < next))
				next = s->conns[i]->deadline;
		}
		if (more)
			timeout = 0;
		else if (next)
			timeout = next <= now ? 0 : (int)(next - now);

		n = epoll_wait(s->epfd, evs, (int)(sizeof(evs) / sizeof(evs[0])), timeout);
		if (n < 0 && errno != EINTR)
			break;
		for (int i = 0; i < n; i++) {
			void *p = evs[i].data.ptr;

			if (p == &s->stop_fd)
				goto out;
			if (p == &s->listen_fd) {
				accept_all(s);
				continue;
			}
			if (service(s, p))
				conn_close(s, p);
			if (stopping(s))
				goto out;
		}
		/* Connections with buffered requests left, then timeouts. */
		for (int i = s->nconns - 1; i >= 0 && i < s->nconns; i--) {
			struct conn *c = s->conns[i];

			if (c->more && service(s, c))
				conn_close(s, c);
		}
		now = mono_ms();
		for (int i = s->nconns - 1; i >= 0 && i < s->nconns; i--) {
			struct conn *c = s->conns[i];

			if (c->deadline && c->deadline <= now)
				on_timeout(s, c);
		}
	}
out:
	while (s->nconns)
		conn_close(s, s->conns[s->nconns - 1]);
	return NULL;
}

/* ---- start / stop -------------------------------------------------------- */

static void destroy(struct api_server *s)
{
	if (s->vmm_fd >= 0) {
		evloop_del(s->loop, s->vmm_fd);
		close(s->vmm_fd);
	}
	if (s->stop_fd >= 0)
		close(s->stop_fd);
	if (s->epfd >= 0)
		close(s->epfd);
	if (s->listen_fd >= 0) {
		struct stat st;

		close(s->listen_fd);
		/* Remove the socket only if it is still ours. */
		if (!lstat(s->path, &st) && st.st_dev == s->sock_dev && st.st_ino == s->sock_ino)
			unlink(s->path);
	}
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

int api_server_start(struct api_server **out, const char *sock_path,
		     struct evloop *vmm_loop, api_handler_fn handler, void *opaque,
		     char *err, size_t errlen)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct api_server *s;
	struct stat st;
	sigset_t all, old;
	int e;

	*out = NULL;
	if (!sock_path || !*sock_path)
		return errorf(err, errlen, "the API socket path is empty");
	if (strlen(sock_path) >= sizeof(addr.sun_path))
		return errorf(err, errlen, "the API socket path is longer than %zu bytes",
			      sizeof(addr.sun_path) - 1);
	if (!lstat(sock_path, &st))
		return errorf(err, errlen, "API socket %s: already exists (remove it first)",
			      sock_path);
	s = calloc(1, sizeof(*s));
	if (!s)
		return errorf(err, errlen, "API server: out of memory");
	s->listen_fd = s->epfd = s->stop_fd = s->vmm_fd = -1;
	s->loop = vmm_loop;
	s->handler = handler;
	s->opaque = opaque;
	s->timeout_ms = API_IDLE_TIMEOUT_MS;
	s->keepalive_ms = API_KEEPALIVE_TIMEOUT_MS;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	strcpy(s->path, sock_path);
	strcpy(addr.sun_path, sock_path);

	s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->listen_fd < 0)
		goto sys_fail;
	/*
	 * Bind a temporary name and link it into place once listening: a client
	 * that sees the socket file can connect at once, and link() refuses a
	 * path that appeared meanwhile.
	 */
	if ((size_t)snprintf(addr.sun_path, sizeof(addr.sun_path), "%s.%d", sock_path,
			     (int)getpid()) >= sizeof(addr.sun_path))
		strcpy(addr.sun_path, sock_path); /* no room: bind in place */
	if (bind(s->listen_fd, (struct sockaddr *)&addr, sizeof(addr))) {
		e = errno;
		close(s->listen_fd);
		s->listen_fd = -1; /* not ours: do not unlink */
		errno = e;
		goto sys_fail;
	}
	if (listen(s->listen_fd, API_MAX_CONNS) ||
	    (strcmp(addr.sun_path, sock_path) && link(addr.sun_path, sock_path))) {
		e = errno;
		if (strcmp(addr.sun_path, sock_path))
			unlink(addr.sun_path);
		close(s->listen_fd);
		s->listen_fd = -1; /* the path is not ours: do not unlink */
		errno = e;
		goto sys_fail;
	}
	if (strcmp(addr.sun_path, sock_path))
		unlink(addr.sun_path);
	if (!lstat(sock_path, &st)) {
		s->sock_dev = st.st_dev;
		s->sock_ino = st.st_ino;
	}
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	s->stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	s->vmm_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (s->epfd < 0 || s->stop_fd < 0 || s->vmm_fd < 0)
		goto sys_fail;
	struct epoll_event lev = { .events = EPOLLIN, .data.ptr = &s->listen_fd };
	struct epoll_event sev = { .events = EPOLLIN, .data.ptr = &s->stop_fd };

	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->listen_fd, &lev) ||
	    epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->stop_fd, &sev))
		goto sys_fail;
	if (evloop_add(vmm_loop, s->vmm_fd, EPOLLIN, on_vmm, s)) {
		e = errno;
		close(s->vmm_fd);
		s->vmm_fd = -1;
		errno = e;
		goto sys_fail;
	}

	/* Signals belong to the VMM thread: the API thread blocks them all. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	e = pthread_create(&s->thread, NULL, api_thread, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e) {
		errno = e;
		goto sys_fail;
	}
	s->thread_started = true;
	*out = s;
	return 0;

sys_fail:
	errorf(err, errlen, "API socket %s: %s", sock_path, strerror(errno));
	destroy(s);
	return -1;
}

void api_server_set_idle_timeout(struct api_server *s, int ms)
{
	/* Applies to deadlines set from now on. */
	__atomic_store_n(&s->timeout_ms, ms > 0 ? ms : 1, __ATOMIC_RELAXED);
}

void api_server_set_max_payload(size_t bytes)
{
	__atomic_store_n(&max_payload, bytes, __ATOMIC_RELAXED);
}

void api_server_set_keepalive_timeout(struct api_server *s, int ms)
{
	__atomic_store_n(&s->keepalive_ms, ms > 0 ? ms : 1, __ATOMIC_RELAXED);
}

void api_server_stop(struct api_server *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->stopping = true;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	poke(s->stop_fd);
	if (s->thread_started)
		pthread_join(s->thread, NULL);
	destroy(s);
}
