/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The API server (api-socket/server.c) end to end on a real Unix socket:
 * a thread runs an evloop as the fake VMM thread, a trivial handler
 * answers, and clients connect, pipeline, dribble, overflow, truncate,
 * stall and vanish. Every wait is bounded.
 */
#define _GNU_SOURCE /* memmem */
#include "tests/unit/unit.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "api-socket/server.h"

#define BIG_BODY (48 * 1024)
#define WAIT_MS  5000

static struct evloop loop;
static struct api_server *srv;
static pthread_t vmm_thread;
static int vmm_stop_fd = -1;
static char dir[64], sock[128];
static volatile int handled, wrong_thread;

/* ---- fake VMM ------------------------------------------------------------ */

static void handler(void *opaque, const struct http_request *req, struct http_response *resp)
{
	char buf[256];

	(void)opaque;
	if (!pthread_equal(pthread_self(), vmm_thread))
		wrong_thread++;
	handled++;
	if (req->method == HTTP_GET && !strcmp(req->path, "/ping")) {
		snprintf(buf, sizeof(buf), "{\"pong\": %d}", handled);
		http_response_json(resp, 200, buf);
	} else if (req->method == HTTP_PUT && !strcmp(req->path, "/echo")) {
		if (!http_valid_utf8(req->body, req->body_len) || strlen(req->body) != req->body_len)
			http_response_error(resp, 400, "the body is not valid UTF-8");
		else
			http_response_json(resp, 200, req->body);
	} else if (req->method == HTTP_GET && !strcmp(req->path, "/big")) {
		char *b = malloc(BIG_BODY + 1);

		memset(b, 'x', BIG_BODY);
		b[0] = '"';
		b[BIG_BODY - 1] = '"';
		b[BIG_BODY] = '\0';
		http_response_json(resp, 200, b);
		free(b);
	} else if (req->method == HTTP_GET && !strcmp(req->path, "/slow")) {
		usleep(100 * 1000);
		http_response_empty(resp, 204);
	} else if (req->method == HTTP_PUT && !strcmp(req->path, "/close")) {
		http_response_empty(resp, 204);
		resp->close = true;
	} else if (req->method == HTTP_GET && !strcmp(req->path, "/nothing")) {
		/* leave resp alone */
	} else {
		http_response_error(resp, 404, "no route %s %s", http_method_name(req->method),
				    req->path);
	}
}

static void on_vmm_stop(void *opaque, uint32_t events)
{
	uint64_t v;

	(void)opaque;
	(void)events;
	if (read(vmm_stop_fd, &v, sizeof(v)) < 0) {
		/* nothing to do */
	}
	loop.done = 1;
}

static void *vmm_main(void *arg)
{
	(void)arg;
	evloop_run(&loop);
	return NULL;
}

/* ---- clients ------------------------------------------------------------- */

struct client {
	int fd;
	size_t len;
	char buf[1 << 20];
};

struct resp {
	int status;
	bool close;
	bool has_length;
	bool json;
	size_t body_len;
	char body[BIG_BODY + 1];
};

static struct resp rsp;

static struct client *cl_open(void)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct client *c = calloc(1, sizeof(*c));

	strcpy(a.sun_path, sock);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&a, sizeof(a))) {
		unit_check(0, __FILE__, __LINE__, "connect", "%s", strerror(errno));
		if (c->fd >= 0)
			close(c->fd);
		c->fd = -1;
	}
	return c;
}

static void cl_close(struct client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c);
}

static int cl_send(struct client *c, const void *d, size_t n)
{
	const char *p = d;

	while (n) {
		ssize_t k = send(c->fd, p, n, MSG_NOSIGNAL);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

static int cl_sends(struct client *c, const char *s)
{
	return cl_send(c, s, strlen(s));
}

/* Read more into c->buf: >0 bytes, 0 EOF, -1 error or timeout. */
static int cl_fill(struct client *c, int timeout_ms)
{
	struct pollfd p = { .fd = c->fd, .events = POLLIN };
	ssize_t n;

	if (c->len == sizeof(c->buf))
		return -1;
	if (poll(&p, 1, timeout_ms) != 1)
		return -1;
	n = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
	if (n < 0)
		return errno == ECONNRESET ? 0 : -1;
	c->len += (size_t)n;
	return (int)(n > 0);
}

/* The next response into rsp; 0, or -1 (timeout, EOF, garbage). */
static int cl_response(struct client *c, int timeout_ms)
{
	for (;;) {
		char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);

		if (end) {
			size_t hlen = (size_t)(end - c->buf) + 4, blen = 0;
			char head[1024];
			const char *cl;

			if (hlen >= sizeof(head) || memcmp(c->buf, "HTTP/1.1 ", 9))
				return -1;
			memcpy(head, c->buf, hlen);
			head[hlen] = '\0';
			memset(&rsp, 0, sizeof(rsp));
			rsp.status = atoi(head + 9);
			rsp.close = strstr(head, "\r\nConnection: close\r\n") != NULL;
			rsp.json = strstr(head, "\r\nContent-Type: application/json\r\n") != NULL;
			cl = strstr(head, "\r\nContent-Length: ");
			rsp.has_length = cl != NULL;
			if (cl)
				blen = strtoul(cl + 18, NULL, 10);
			if (blen > BIG_BODY || !strstr(head, "\r\nServer: Firecracker API\r\n") ||
			    !(rsp.close || strstr(head, "\r\nConnection: keep-alive\r\n")))
				return -1;
			if (c->len >= hlen + blen) {
				memcpy(rsp.body, c->buf + hlen, blen);
				rsp.body[blen] = '\0';
				rsp.body_len = blen;
				memmove(c->buf, c->buf + hlen + blen, c->len - hlen - blen);
				c->len -= hlen + blen;
				return 0;
			}
		}
		if (cl_fill(c, timeout_ms) <= 0)
			return -1;
	}
}

/* The server closed the connection (after what was read). */
static bool cl_eof(struct client *c, int timeout_ms)
{
	for (;;) {
		int r = cl_fill(c, timeout_ms);

		if (r == 0)
			return true;
		if (r < 0)
			return false;
	}
}

#define EXPECT_RESPONSE(c, st)                                                \
	do {                                                                  \
		int r_ = cl_response((c), WAIT_MS);                           \
		unit_check(r_ == 0 && rsp.status == (st), __FILE__, __LINE__, \
			   "response " #st, "got %d, status %d, body %s", r_, \
			   rsp.status, rsp.body);                             \
	} while (0)

static int ping(void)
{
	struct client *c = cl_open();
	int ret = -1;

	if (c->fd >= 0 && !cl_sends(c, "GET /ping HTTP/1.1\r\n\r\n") &&
	    !cl_response(c, WAIT_MS) && rsp.status == 200)
		ret = 0;
	cl_close(c);
	return ret;
}

static uint64_t ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- tests --------------------------------------------------------------- */

static void test_start(void)
{
	char err[256];
	struct api_server *s;
	char longp[200];
	int fd;

	snprintf(dir, sizeof(dir), "/tmp/ember-api-test.XXXXXX");
	CHECK(mkdtemp(dir) != NULL);
	snprintf(sock, sizeof(sock), "%s/api.sock", dir);
	CHECK_EQ(evloop_init(&loop), 0);
	vmm_stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	CHECK_EQ(evloop_add(&loop, vmm_stop_fd, EPOLLIN, on_vmm_stop, NULL), 0);

	/* Something at the path already: refused, and left alone. */
	fd = open(sock, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	CHECK(fd >= 0);
	close(fd);
	CHECK_FAIL(api_server_start(&s, sock, &loop, handler, NULL, err, sizeof(err)), err,
		   "already exists");
	CHECK(s == NULL);
	CHECK_EQ(access(sock, F_OK), 0);
	unlink(sock);
	memset(longp, 'a', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = '\0';
	CHECK_FAIL(api_server_start(&s, longp, &loop, handler, NULL, err, sizeof(err)), err,
		   "longer than");
	CHECK_FAIL(api_server_start(&s, "/nonexistent-dir/x/api.sock", &loop, handler, NULL,
				    err, sizeof(err)), err, "No such file");
	CHECK_FAIL(api_server_start(&s, "", &loop, handler, NULL, err, sizeof(err)), err, "empty");

	CHECK_OK(api_server_start(&srv, sock, &loop, handler, NULL, err, sizeof(err)), err);
	CHECK(srv != NULL);
	struct stat st;

	CHECK(!lstat(sock, &st) && S_ISSOCK(st.st_mode));
	CHECK_EQ(pthread_create(&vmm_thread, NULL, vmm_main, NULL), 0);
}

static void test_basic(void)
{
	struct client *c = cl_open();

	CHECK_EQ(cl_sends(c, "GET /ping HTTP/1.1\r\nHost: localhost\r\n\r\n"), 0);
	EXPECT_RESPONSE(c, 200);
	CHECK(rsp.json && !rsp.close);
	CHECK(!strncmp(rsp.body, "{\"pong\": ", 9));
	/* keep-alive: the same connection serves again */
	CHECK_EQ(cl_sends(c, "PUT /echo HTTP/1.1\r\nContent-Length: 11\r\n\r\n{\"a\": \"\xc3\xa9\"}"), 0);
	EXPECT_RESPONSE(c, 200);
	CHECK_STREQ(rsp.body, "{\"a\": \"\xc3\xa9\"}");
	CHECK_EQ(cl_sends(c, "GET /missing HTTP/1.1\r\n\r\n"), 0);
	EXPECT_RESPONSE(c, 404);
	CHECK_STREQ(rsp.body, "{\"fault_message\":\"no route GET /missing\"}");
	CHECK_EQ(cl_sends(c, "GET /slow HTTP/1.1\r\n\r\n"), 0);
	EXPECT_RESPONSE(c, 204);
	CHECK(!rsp.has_length && rsp.body_len == 0);
	/* The handler gave nothing: 500. */
	CHECK_EQ(cl_sends(c, "GET /nothing HTTP/1.1\r\n\r\n"), 0);
	EXPECT_RESPONSE(c, 500);
	CHECK(strstr(rsp.body, "fault_message") != NULL);
	/* The handler asks to close. */
	CHECK_EQ(cl_sends(c, "PUT /close HTTP/1.1\r\nContent-Length: 0\r\n\r\n"), 0);
	EXPECT_RESPONSE(c, 204);
	CHECK(rsp.close);
	CHECK(cl_eof(c, WAIT_MS));
	cl_close(c);
}

static void test_pipelined(void)
{
	static const char reqs[] =
		"GET /ping HTTP/1.1\r\n\r\n"
		"PUT /echo HTTP/1.1\r\nContent-Length: 7\r\n\r\n[1,2,3]"
		"GET /nope HTTP/1.1\r\n\r\n"
		"PATCH /echo HTTP/1.1\r\nContent-Length: 0\r\n\r\n"
		"PUT /echo HTTP/1.1\r\nContent-Length: 4\r\nConnection: close\r\n\r\ntrue"
		"GET /ping HTTP/1.1\r\n\r\n"; /* after close: never served */
	struct client *c = cl_open();
	int before = handled;

	CHECK_EQ(cl_sends(c, reqs), 0);
	EXPECT_RESPONSE(c, 200);
	CHECK(!strncmp(rsp.body, "{\"pong\"", 7));
	EXPECT_RESPONSE(c, 200);
	CHECK_STREQ(rsp.body, "[1,2,3]");
	EXPECT_RESPONSE(c, 404);
	EXPECT_RESPONSE(c, 404);
	CHECK_STREQ(rsp.body, "{\"fault_message\":\"no route PATCH /echo\"}");
	EXPECT_RESPONSE(c, 200);
	CHECK_STREQ(rsp.body, "true");
	CHECK(rsp.close);
	CHECK(cl_eof(c, WAIT_MS));
	CHECK_EQ(c->len, 0);
	CHECK_EQ(handled - before, 5);
	cl_close(c);
}

static void test_slow_client(void)
{
	static const char req[] =
		"PUT /echo HTTP/1.1\r\nContent-Type: application/json\r\n"
		"Content-Length: 13\r\n\r\n{\"slow\": 1.5}";
	struct client *c = cl_open();

	for (size_t i = 0; i < sizeof(req) - 1; i++) {
		CHECK_EQ(cl_send(c, req + i, 1), 0);
		usleep(1000);
	}
	EXPECT_RESPONSE(c, 200);
	CHECK_STREQ(rsp.body, "{\"slow\": 1.5}");
	cl_close(c);
}

/* s gets status and the connection is closed. */
static void refused(const char *s, size_t len, int status, const char *substr, int line)
{
	struct client *c = cl_open();
	int r;

	cl_send(c, s, len);
	r = cl_response(c, WAIT_MS);
	/* micro-http's answer (which says keep-alive), then the connection closes */
	unit_check(r == 0 && rsp.status == status && strstr(rsp.body, substr) &&
		   !strncmp(rsp.body, "{ \"error\": \"", 12) &&
		   strstr(rsp.body, "\nAll previous unanswered requests will be dropped.\" }"),
		   __FILE__, line, "refused", "got %d status %d close %d body %s", r, rsp.status,
		   rsp.close, rsp.body);
	/* the server reads and drops what follows until the client ends it */
	shutdown(c->fd, SHUT_WR);
	unit_check(cl_eof(c, WAIT_MS), __FILE__, line, "closed after refusal", NULL);
	cl_close(c);
}

static void test_refusals(void)
{
	char *big = malloc(70000);
	size_t n;

	refused("POST /ping HTTP/1.1\r\n\r\n", 23, 400,
		"Invalid HTTP Method: Unsupported HTTP method.", __LINE__);
	refused("GET /ping HTTP/1.0\r\n\r\n", 22, 400,
		"Invalid HTTP Version: Unsupported HTTP version.", __LINE__);
	refused("GET /ping?x=1 HTTP/1.1\r\n\r\n", 26, 400, "query", __LINE__);
	refused("PUT /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n", 60,
		400, "Transfer-Encoding", __LINE__);
	refused("PUT /echo HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n{}", 60,
		400, "conflicting", __LINE__);
	/* Oversized body: refused from the header, the body never read. */
	n = (size_t)sprintf(big, "PUT /echo HTTP/1.1\r\nContent-Length: 60000\r\n\r\n");
	memset(big + n, '1', 60000);
	refused(big, n + 60000, 400, "Request payload with size 60000 is larger than the limit "
		"of 51200 allowed by server.", __LINE__);
	/* Oversized head. */
	n = (size_t)sprintf(big, "GET /ping HTTP/1.1\r\nX-Big: ");
	memset(big + n, 'h', 9000);
	memcpy(big + n + 9000, "\r\n\r\n", 4);
	refused(big, n + 9004, 400, "8192", __LINE__);
	/* A request served before a bad one in the same write is answered. */
	{
		struct client *c = cl_open();

		cl_sends(c, "GET /ping HTTP/1.1\r\n\r\nBREW /pot HTTP/1.1\r\n\r\nGET /ping HTTP/1.1\r\n\r\n");
		EXPECT_RESPONSE(c, 200);
		EXPECT_RESPONSE(c, 400);
		CHECK(strstr(rsp.body, "Invalid HTTP Method") != NULL);
		/* the request after the bad one is dropped, not answered */
		shutdown(c->fd, SHUT_WR);
		CHECK(cl_eof(c, WAIT_MS));
		CHECK_EQ(c->len, 0);
		cl_close(c);
	}
	free(big);
}

static void test_expect_continue(void)
{
	struct client *c = cl_open();
	static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";

	cl_sends(c, "PUT /echo HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n");
	while (c->len < sizeof(cont) - 1 && cl_fill(c, WAIT_MS) > 0)
		;
	CHECK(c->len >= sizeof(cont) - 1 && !memcmp(c->buf, cont, sizeof(cont) - 1));
	memmove(c->buf, c->buf + sizeof(cont) - 1, c->len - (sizeof(cont) - 1));
	c->len -= sizeof(cont) - 1;
	cl_sends(c, "{}");
	EXPECT_RESPONSE(c, 200);
	CHECK_STREQ(rsp.body, "{}");
	cl_close(c);
}

static void test_truncated(void)
{
	struct client *c = cl_open();

	/* The body stops short of its Content-Length; the client half-closes. */
	cl_sends(c, "PUT /echo HTTP/1.1\r\nContent-Length: 10\r\n\r\n{\"a\":");
	usleep(20 * 1000);
	shutdown(c->fd, SHUT_WR);
	EXPECT_RESPONSE(c, 400);
	CHECK(strstr(rsp.body, "5 of the 10") != NULL);
	CHECK(cl_eof(c, WAIT_MS));
	cl_close(c);

	/* Complete requests before a half-close are still answered. */
	c = cl_open();
	cl_sends(c, "GET /ping HTTP/1.1\r\n\r\nGET /ping HTTP/1.1\r\n\r\n");
	shutdown(c->fd, SHUT_WR);
	EXPECT_RESPONSE(c, 200);
	EXPECT_RESPONSE(c, 200);
	CHECK(cl_eof(c, WAIT_MS));
	cl_close(c);
}

static void test_concurrent(void)
{
	enum { N = 24 };
	struct client *c[N];
	char body[32], req[128];

	for (int i = 0; i < N; i++) {
		c[i] = cl_open();
		cl_sends(c[i], "PUT /echo HTTP/1.1\r\nContent-Length: ");
	}
	/* Finish them in reverse order. */
	for (int i = N - 1; i >= 0; i--) {
		int bl = snprintf(body, sizeof(body), "{\"client\": %d}", i);

		snprintf(req, sizeof(req), "%d\r\n\r\n%s", bl, body);
		cl_sends(c[i], req);
	}
	for (int i = 0; i < N; i++) {
		snprintf(body, sizeof(body), "{\"client\": %d}", i);
		EXPECT_RESPONSE(c[i], 200);
		CHECK_STREQ(rsp.body, body);
		cl_close(c[i]);
	}
}

/* API_MAX_CONNS clients, each served once (so accepted) before the next opens; how many were. */
static int open_all(struct client **c)
{
	int ok = 0;

	for (int i = 0; i < API_MAX_CONNS; i++) {
		c[i] = cl_open();
		cl_sends(c[i], "GET /ping HTTP/1.1\r\n\r\n");
		ok += !cl_response(c[i], WAIT_MS) && rsp.status == 200;
	}
	return ok;
}

static void test_connection_cap(void)
{
	struct client *c[API_MAX_CONNS], *extra;
	uint64_t t0;

	usleep(100 * 1000); /* let the server reap the clients closed before */
	CHECK_EQ(open_all(c), API_MAX_CONNS);
	extra = cl_open();
	EXPECT_RESPONSE(extra, 503);
	CHECK(rsp.close);
	CHECK(strstr(rsp.body, "Too many open connections") != NULL);
	CHECK(cl_eof(extra, WAIT_MS));
	cl_close(extra);
	/* Existing connections still work. */
	cl_sends(c[7], "GET /ping HTTP/1.1\r\n\r\n");
	EXPECT_RESPONSE(c[7], 200);
	/* Once one goes, a new client gets in. */
	cl_close(c[0]);
	t0 = ms();
	while (ping() && ms() - t0 < WAIT_MS)
		usleep(10 * 1000);
	CHECK_EQ(ping(), 0);
	for (int i = 1; i < API_MAX_CONNS; i++)
		cl_close(c[i]);
}

static void test_slow_reader(void)
{
	enum { NBIG = 64 };
	struct client *a = cl_open(), *b;
	uint64_t t0;
	int got = 0;

	/* a asks for 3 MiB of responses and reads none for now. */
	for (int i = 0; i < NBIG; i++)
		cl_sends(a, "GET /big HTTP/1.1\r\n\r\n");
	usleep(100 * 1000);
	/* b is served meanwhile. */
	t0 = ms();
	b = cl_open();
	cl_sends(b, "GET /ping HTTP/1.1\r\n\r\n");
	EXPECT_RESPONSE(b, 200);
	CHECK(ms() - t0 < 2000);
	cl_close(b);
	/* a gets everything, in order, intact. */
	for (int i = 0; i < NBIG; i++) {
		if (cl_response(a, WAIT_MS) || rsp.status != 200 || rsp.body_len != BIG_BODY ||
		    rsp.body[0] != '"' || rsp.body[BIG_BODY - 1] != '"')
			break;
		got++;
	}
	CHECK_EQ(got, NBIG);
	cl_close(a);
}

static void test_vanished(void)
{
	/* Clients that go away with requests and responses in flight. */
	for (int k = 0; k < 8; k++) {
		struct client *c = cl_open();

		for (int i = 0; i < 8; i++)
			cl_sends(c, "GET /big HTTP/1.1\r\n\r\n");
		if (k & 1)
			usleep(5 * 1000);
		cl_close(c);
	}
	/* A client that resets with unread responses. */
	{
		struct client *c = cl_open();
		struct linger l = { .l_onoff = 1, .l_linger = 0 };

		setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
		cl_sends(c, "GET /big HTTP/1.1\r\nContent-Length: 3\r\n\r\n");
		cl_close(c);
	}
	usleep(50 * 1000);
	CHECK_EQ(ping(), 0);
}

static void test_timeout(void)
{
	struct client *idle, *slow;
	uint64_t t0;

	api_server_set_idle_timeout(srv, 300);
	idle = cl_open();
	slow = cl_open();
	t0 = ms();
	cl_sends(slow, "GET /ping HT");
	EXPECT_RESPONSE(slow, 408);
	CHECK(rsp.close);
	CHECK(cl_eof(slow, WAIT_MS));
	CHECK(ms() - t0 >= 250 && ms() - t0 < 3000);
	/* A connection idle between requests is not timed out. */
	usleep(500 * 1000);
	cl_sends(idle, "GET /ping HTTP/1.1\r\n\r\n");
	EXPECT_RESPONSE(idle, 200);
	/* A body that dribbles in but never completes is cut too. */
	cl_sends(idle, "PUT /echo HTTP/1.1\r\nContent-Length: 100\r\n\r\n");
	t0 = ms();
	for (int i = 0; i < 10; i++) {
		if (cl_send(idle, "x", 1))
			break;
		usleep(50 * 1000);
	}
	EXPECT_RESPONSE(idle, 408);
	CHECK(cl_eof(idle, WAIT_MS));
	CHECK(ms() - t0 < 3000);
	cl_close(idle);
	cl_close(slow);
	api_server_set_idle_timeout(srv, API_IDLE_TIMEOUT_MS);
}

/*
 * Connections idle between requests, or silent since they connected, are
 * closed after the keep-alive timeout: a client that leaks connections
 * locks the others out (503) only until then.
 */
static void test_keepalive_timeout(void)
{
	struct client *c[API_MAX_CONNS], *silent, *busy;
	uint64_t t0;

	usleep(100 * 1000); /* let the server reap the clients closed before */
	api_server_set_keepalive_timeout(srv, 400);
	silent = cl_open();
	busy = cl_open();
	cl_sends(busy, "GET /ping HTTP/1.1\r\n\r\n");
	EXPECT_RESPONSE(busy, 200);
	t0 = ms();
	CHECK(cl_eof(silent, WAIT_MS));
	CHECK(cl_eof(busy, WAIT_MS));
	CHECK(ms() - t0 >= 250 && ms() - t0 < 3000);
	cl_close(silent);
	cl_close(busy);
	/* API_MAX_CONNS leaked connections: a 503 now, a 200 once they time out. */
	usleep(100 * 1000);
	api_server_set_keepalive_timeout(srv, 1500);
	CHECK_EQ(open_all(c), API_MAX_CONNS);
	busy = cl_open();
	EXPECT_RESPONSE(busy, 503);
	cl_close(busy);
	t0 = ms();
	while (ping() && ms() - t0 < WAIT_MS)
		usleep(20 * 1000);
	CHECK_EQ(ping(), 0);
	CHECK(ms() - t0 < 4000);
	for (int i = 0; i < API_MAX_CONNS; i++)
		cl_close(c[i]);
	api_server_set_keepalive_timeout(srv, API_KEEPALIVE_TIMEOUT_MS);
}

static void test_handler_thread(void)
{
	CHECK_EQ(ping(), 0);
	CHECK(handled > 100);
	CHECK_EQ(wrong_thread, 0);
}

static void test_stop(void)
{
	uint64_t one = 1, t0;
	struct client *c;
	char err[256];
	struct api_server *s2;
	struct evloop l2;

	/* The VMM loop stops; a request then waits for it forever... */
	CHECK_EQ(write(vmm_stop_fd, &one, sizeof(one)), 8);
	CHECK_EQ(pthread_join(vmm_thread, NULL), 0);
	c = cl_open();
	cl_sends(c, "GET /ping HTTP/1.1\r\n\r\n");
	usleep(50 * 1000);
	/* ...until the server stops: no hang, the socket is gone. */
	t0 = ms();
	api_server_stop(srv);
	srv = NULL;
	CHECK(ms() - t0 < 2000);
	CHECK(access(sock, F_OK) != 0);
	CHECK(cl_eof(c, WAIT_MS));
	cl_close(c);
	api_server_stop(NULL);

	/* The path is free again: start and stop without ever serving. */
	CHECK_EQ(evloop_init(&l2), 0);
	CHECK_OK(api_server_start(&s2, sock, &l2, handler, NULL, err, sizeof(err)), err);
	api_server_stop(s2);
	CHECK(access(sock, F_OK) != 0);
	close(l2.epfd);
	close(loop.epfd);
	close(vmm_stop_fd);
	rmdir(dir);
}

UNIT_MAIN(TEST(test_start), TEST(test_basic), TEST(test_pipelined), TEST(test_slow_client),
	  TEST(test_refusals), TEST(test_expect_continue), TEST(test_truncated),
	  TEST(test_concurrent), TEST(test_connection_cap), TEST(test_slow_reader),
	  TEST(test_vanished), TEST(test_timeout), TEST(test_keepalive_timeout), TEST(test_handler_thread), TEST(test_stop))
