/* SPDX-License-Identifier: Apache-2.0 */
/* The HTTP/1.1 parser and response builder (api-socket/http.c). */
#include "tests/unit/unit.h"

#include <stdio.h>
#include <stdlib.h>

#include "api-socket/http.h"
#include "core/ember.h"

#define MAX_REQ 8

struct got {
	int n;
	struct {
		enum http_method method;
		char path[HTTP_MAX_PATH + 1];
		char *body;
		size_t body_len;
		bool keep_alive;
		bool json;
	} r[MAX_REQ];
	int err;            /* 0 or the error status */
	char msg[160];
	int continues;      /* 100-continue prompts */
	size_t consumed;    /* bytes used before stopping */
};

static struct http_parser parser;

static void got_free(struct got *g)
{
	for (int i = 0; i < g->n && i < MAX_REQ; i++)
		free(g->r[i].body);
	memset(g, 0, sizeof(*g));
}

/*
 * Parse data fed in pieces: cuts[] are the offsets where reads end (the
 * stream is also cut at len). eof: then tell the parser the peer closed.
 */
static void parse_cuts(const char *data, size_t len, const size_t *cuts, int ncuts,
		       bool eof, struct got *g)
{
	size_t off = 0;

	memset(g, 0, sizeof(*g));
	http_parser_init(&parser, 0);
	for (int c = 0; c <= ncuts; c++) {
		size_t end = c < ncuts ? cuts[c] : len;

		while (off < end) {
			size_t used;
			enum http_parse_result r =
				http_parser_feed(&parser, data + off, end - off, &used);

			off += used;
			g->consumed = off;
			if (http_parser_take_continue(&parser))
				g->continues++;
			if (r == HTTP_PARSE_ERROR) {
				const char *m;

				g->err = http_parser_error(&parser, &m);
				snprintf(g->msg, sizeof(g->msg), "%s", m);
				return;
			}
			if (r == HTTP_PARSE_DONE) {
				const struct http_request *q = http_parser_request(&parser);

				if (g->n < MAX_REQ) {
					g->r[g->n].method = q->method;
					strcpy(g->r[g->n].path, q->path);
					g->r[g->n].body = malloc(q->body_len + 1);
					memcpy(g->r[g->n].body, q->body, q->body_len + 1);
					g->r[g->n].body_len = q->body_len;
					g->r[g->n].keep_alive = q->keep_alive;
					g->r[g->n].json = q->content_type_json;
				}
				g->n++;
				http_parser_next(&parser);
			} else {
				CHECK_EQ(off, end); /* MORE consumes everything */
			}
		}
	}
	if (eof && http_parser_eof(&parser) == HTTP_PARSE_ERROR) {
		const char *m;

		g->err = http_parser_error(&parser, &m);
		snprintf(g->msg, sizeof(g->msg), "%s", m);
	}
}

static void parse_all(const char *s, struct got *g)
{
	parse_cuts(s, strlen(s), NULL, 0, true, g);
}

/* s must be refused with status, with a message containing substr. */
#define REFUSED(s, status, substr)                                            \
	do {                                                                  \
		struct got g_;                                                \
		parse_all((s), &g_);                                          \
		unit_check(g_.err == (status) && strstr(g_.msg, (substr)) &&  \
				   !strchr(g_.msg, '\n'),                     \
			   __FILE__, __LINE__, #s,                            \
			   "got %d \"%s\", want %d \"%s\"", g_.err, g_.msg,   \
			   (status), (substr));                               \
		got_free(&g_);                                                \
	} while (0)

/* s must give exactly one request and no error. */
#define ACCEPTED(s)                                                           \
	do {                                                                  \
		struct got g_;                                                \
		parse_all((s), &g_);                                          \
		unit_check(g_.err == 0 && g_.n == 1, __FILE__, __LINE__, #s,  \
			   "got %d requests, error %d \"%s\"", g_.n, g_.err,  \
			   g_.msg);                                           \
		got_free(&g_);                                                \
	} while (0)

static void test_simple_get(void)
{
	struct got g;

	parse_all("GET /machine-config HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\n\r\n", &g);
	CHECK_EQ(g.err, 0);
	CHECK_EQ(g.n, 1);
	CHECK_EQ(g.r[0].method, HTTP_GET);
	CHECK_STREQ(g.r[0].path, "/machine-config");
	CHECK_EQ(g.r[0].body_len, 0);
	CHECK_STREQ(g.r[0].body, "");
	CHECK(g.r[0].keep_alive);
	CHECK(!g.r[0].json);
	got_free(&g);

	/* Nothing at all, and a clean close between requests, are fine. */
	parse_all("", &g);
	CHECK_EQ(g.err, 0);
	CHECK_EQ(g.n, 0);
	got_free(&g);
	CHECK_STREQ(http_method_name(HTTP_PATCH), "PATCH");
}

static void test_put_patch_body(void)
{
	static const char put[] =
		"PUT /boot-source HTTP/1.1\r\n"
		"content-type: Application/JSON; charset=utf-8\r\n"
		"CONTENT-LENGTH:  23 \r\n"
		"\r\n"
		"{\"kernel_image_path\":1}";
	struct got g;

	parse_all(put, &g);
	CHECK_EQ(g.err, 0);
	CHECK_EQ(g.n, 1);
	CHECK_EQ(g.r[0].method, HTTP_PUT);
	CHECK_STREQ(g.r[0].path, "/boot-source");
	CHECK_EQ(g.r[0].body_len, 23);
	CHECK_STREQ(g.r[0].body, "{\"kernel_image_path\":1}");
	CHECK(g.r[0].json);
	got_free(&g);

	{
		static const char patch[] = "PATCH /vm HTTP/1.1\r\nContent-Length: 4\r\n"
					    "Content-Type: text/plain\r\n\r\nab\0d";

		parse_cuts(patch, sizeof(patch) - 1, NULL, 0, true, &g);
	}
	CHECK_EQ(g.err, 0);
	CHECK_EQ(g.n, 1);
	CHECK_EQ(g.r[0].method, HTTP_PATCH);
	CHECK_EQ(g.r[0].body_len, 4);
	CHECK(!memcmp(g.r[0].body, "ab\0d", 5));
	CHECK(!g.r[0].json);
	got_free(&g);

	/* Content-Length: 0 on a PUT, and a GET with a body, are accepted. */
	ACCEPTED("PUT /actions HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
	ACCEPTED("GET / HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}");
	/* Same Content-Length twice is fine. */
	ACCEPTED("PUT /x HTTP/1.1\r\nContent-Length: 2\r\ncontent-length: 02\r\n\r\n{}");
	/* Unknown headers are ignored; empty values too. */
	ACCEPTED("GET / HTTP/1.1\r\nX-Foo:\r\nUser-Agent: curl/7.88.1\r\n\r\n");
}

static void test_connection_close(void)
{
	struct got g;

	parse_all("GET / HTTP/1.1\r\nConnection: close\r\n\r\n", &g);
	CHECK_EQ(g.n, 1);
	CHECK(!g.r[0].keep_alive);
	got_free(&g);
	parse_all("GET / HTTP/1.1\r\nConnection: Keep-Alive , CLOSE\r\n\r\n", &g);
	CHECK_EQ(g.n, 1);
	CHECK(!g.r[0].keep_alive);
	got_free(&g);
	parse_all("GET / HTTP/1.1\r\nConnection: keep-alive\r\n\r\n", &g);
	CHECK_EQ(g.n, 1);
	CHECK(g.r[0].keep_alive);
	got_free(&g);
	/* "closed" is not "close" */
	parse_all("GET / HTTP/1.1\r\nConnection: closed\r\n\r\n", &g);
	CHECK_EQ(g.n, 1);
	CHECK(g.r[0].keep_alive);
	got_free(&g);
}

static const char pipelined[] =
	"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
	"PUT /drives/rootfs HTTP/1.1\r\nContent-Length: 11\r\n"
	"Expect: 100-continue\r\n\r\n{\"x\": true}"
	"PATCH /machine-config HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}"
	"\r\n" /* a stray empty line between requests is tolerated */
	"GET /last HTTP/1.1\r\nConnection: close\r\n\r\n";

static void check_pipelined(const struct got *g, const char *how)
{
	unit_check(g->err == 0 && g->n == 4 && g->continues == 1, __FILE__, __LINE__,
		   "pipelined", "%s: err %d (%s) n %d continues %d", how, g->err,
		   g->msg, g->n, g->continues);
	if (g->n != 4)
		return;
	CHECK_STREQ(g->r[0].path, "/a");
	CHECK_EQ(g->r[1].method, HTTP_PUT);
	CHECK_STREQ(g->r[1].path, "/drives/rootfs");
	CHECK_STREQ(g->r[1].body, "{\"x\": true}");
	CHECK_EQ(g->r[2].method, HTTP_PATCH);
	CHECK_STREQ(g->r[2].body, "{}");
	CHECK_STREQ(g->r[3].path, "/last");
	CHECK(g->r[2].keep_alive && !g->r[3].keep_alive);
}

static void test_pipelined_every_split(void)
{
	size_t len = strlen(pipelined), cuts[2];
	struct got g;
	char how[64];

	parse_cuts(pipelined, len, NULL, 0, true, &g);
	check_pipelined(&g, "whole");
	got_free(&g);
	/* One cut at every byte boundary. */
	for (size_t i = 0; i <= len; i++) {
		cuts[0] = i;
		parse_cuts(pipelined, len, cuts, 1, true, &g);
		snprintf(how, sizeof(how), "cut at %zu", i);
		check_pipelined(&g, how);
		got_free(&g);
	}
	/* Two cuts at every pair of boundaries (i < j). */
	for (size_t i = 0; i <= len; i += 3) {
		for (size_t j = i; j <= len; j++) {
			cuts[0] = i;
			cuts[1] = j;
			parse_cuts(pipelined, len, cuts, 2, true, &g);
			snprintf(how, sizeof(how), "cuts at %zu, %zu", i, j);
			check_pipelined(&g, how);
			got_free(&g);
		}
	}
	/* Byte by byte. */
	{
		size_t *all = malloc(len * sizeof(*all));

		for (size_t i = 0; i < len; i++)
			all[i] = i + 1;
		parse_cuts(pipelined, len, all, (int)len, true, &g);
		check_pipelined(&g, "byte by byte");
		got_free(&g);
		free(all);
	}
}

static void test_bad_request_line(void)
{
	/* micro-http's words; DELETE is a method it knows (the API refuses it) */
	REFUSED("POST / HTTP/1.1\r\n\r\n", 400, "Invalid HTTP Method: Unsupported HTTP method.");
	REFUSED("BREW /x HTTP/1.1\r\n\r\n", 400, "Invalid HTTP Method");
	REFUSED("get / HTTP/1.1\r\n\r\n", 400, "Invalid HTTP Method");
	REFUSED("GET / HTTP/1.0\r\n\r\n", 400, "Invalid HTTP Version: Unsupported HTTP version.");
	REFUSED("GET / HTTP/2.0\r\n\r\n", 400, "Invalid HTTP Version");
	REFUSED("GET / HTTP/1.1x\r\n\r\n", 400, "version");
	REFUSED("GET / HTTP/1\r\n\r\n", 400, "version");
	REFUSED("GET / http/1.1\r\n\r\n", 400, "version");
	REFUSED("GET /\r\n\r\n", 400, "request line");
	REFUSED("GET\r\n\r\n", 400, "request line");
	REFUSED("GET  / HTTP/1.1\r\n\r\n", 400, "request line");
	REFUSED("GET / HTTP/1.1 \r\n\r\n", 400, "request line");
	REFUSED("GET / x HTTP/1.1\r\n\r\n", 400, "request line");
	REFUSED(" GET / HTTP/1.1\r\n\r\n", 400, "request line");
	REFUSED("G(T / HTTP/1.1\r\n\r\n", 400, "method");
	REFUSED("GET * HTTP/1.1\r\n\r\n", 400, "'/'");
	REFUSED("GET http://localhost/ HTTP/1.1\r\n\r\n", 400, "'/'");
	REFUSED("GET /a?b=c HTTP/1.1\r\n\r\n", 400, "query");
	REFUSED("GET /a#b HTTP/1.1\r\n\r\n", 400, "character");
	REFUSED("GET /\xc3\xa9 HTTP/1.1\r\n\r\n", 400, "character");
	REFUSED("GET /a\tb HTTP/1.1\r\n\r\n", 400, "");
	/* The request line is refused before the headers arrive. */
	{
		struct got g;

		parse_cuts("POST / HTTP/1.1\r\nHost: x\r\n", 27, NULL, 0, false, &g);
		CHECK_EQ(g.err, 400);
		CHECK_EQ(g.consumed, 17);
		got_free(&g);
	}
}

static void test_path_limit(void)
{
	char req[HTTP_MAX_PATH + 64];
	struct got g;

	for (int len = HTTP_MAX_PATH; len <= HTTP_MAX_PATH + 1; len++) {
		memset(req, 0, sizeof(req));
		memcpy(req, "GET /", 5);
		memset(req + 5, 'p', (size_t)len - 1);
		strcat(req, " HTTP/1.1\r\n\r\n");
		parse_all(req, &g);
		if (len == HTTP_MAX_PATH) {
			CHECK_EQ(g.err, 0);
			CHECK_EQ(g.n, 1);
			CHECK_EQ(strlen(g.r[0].path), HTTP_MAX_PATH);
		} else {
			CHECK_EQ(g.err, 414);
		}
		got_free(&g);
	}
}

/* A request with n headers of the given value length. */
static char *many_headers(int n, size_t vlen)
{
	size_t cap = 64 + (size_t)n * (vlen + 16);
	char *s = malloc(cap), *p = s;

	p += sprintf(p, "GET / HTTP/1.1\r\n");
	for (int i = 0; i < n; i++) {
		p += sprintf(p, "X-H%d: ", i);
		memset(p, 'v', vlen);
		p += vlen;
		p += sprintf(p, "\r\n");
	}
	sprintf(p, "\r\n");
	return s;
}

static void test_header_limits(void)
{
	struct got g;
	char *s;

	s = many_headers(HTTP_MAX_HEADERS, 4);
	parse_all(s, &g);
	CHECK_EQ(g.err, 0);
	CHECK_EQ(g.n, 1);
	got_free(&g);
	free(s);

	s = many_headers(HTTP_MAX_HEADERS + 1, 4);
	parse_all(s, &g);
	CHECK_EQ(g.err, 431);
	got_free(&g);
	free(s);

	/* One header line filling the head exactly: request line (16) +
	 * "X-H0: " (6) + value + CRLF + CRLF = 8192. */
	s = many_headers(1, HTTP_MAX_HEADER_BYTES - 16 - 6 - 4);
	CHECK_EQ(strlen(s), HTTP_MAX_HEADER_BYTES);
	parse_all(s, &g);
	CHECK_EQ(g.err, 0);
	CHECK_EQ(g.n, 1);
	got_free(&g);
	free(s);

	s = many_headers(1, HTTP_MAX_HEADER_BYTES - 16 - 6 - 4 + 1);
	parse_all(s, &g);
	CHECK_EQ(g.err, 431);
	CHECK(strstr(g.msg, "8192") != NULL);
	got_free(&g);
	free(s);

	/* A request line that never ends. */
	s = malloc(HTTP_MAX_HEADER_BYTES * 2);
	memset(s, 'a', HTTP_MAX_HEADER_BYTES * 2 - 1);
	memcpy(s, "GET /", 5);
	s[HTTP_MAX_HEADER_BYTES * 2 - 1] = '\0';
	parse_all(s, &g);
	CHECK_EQ(g.err, 431);
	CHECK_EQ(g.consumed, HTTP_MAX_HEADER_BYTES + 1);
	got_free(&g);
	free(s);
}

static void test_bad_headers(void)
{
	REFUSED("GET / HTTP/1.1\r\nHost localhost\r\n\r\n", 400, "':'");
	REFUSED("GET / HTTP/1.1\r\nHost : localhost\r\n\r\n", 400, "header name");
	REFUSED("GET / HTTP/1.1\r\n: x\r\n\r\n", 400, "empty header name");
	REFUSED("GET / HTTP/1.1\r\nHost: a\r\n  folded\r\n\r\n", 400, "folded");
	REFUSED("GET / HTTP/1.1\nHost: x\n\n", 400, "LF without CR");
	REFUSED("GET / HTTP/1.1\r\nHost: x\n\r\n", 400, "LF without CR");
	REFUSED("GET / HTTP/1.1\r\nHost: x\rY\r\n\r\n", 400, "CR without LF");
	REFUSED("GET / HTTP/1.1\r\nHost: x\x01y\r\n\r\n", 400, "control character 0x01");
	REFUSED("GET / HTTP/1.1\r\nHost: x\x7f\r\n\r\n", 400, "0x7f");
	{
		struct got g;

		parse_cuts("GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n", 30, NULL, 0, true, &g);
		CHECK_EQ(g.err, 400);
		got_free(&g);
	}
	/* Obs-text in a value is allowed (ignored header). */
	ACCEPTED("GET / HTTP/1.1\r\nX-Name: caf\xc3\xa9\r\n\r\n");
	/* Tabs around values are trimmed. */
	ACCEPTED("PUT / HTTP/1.1\r\nContent-Length:\t1\t\r\n\r\nx");
	/* Leading empty lines: two are tolerated, three are not. */
	ACCEPTED("\r\n\r\nGET / HTTP/1.1\r\n\r\n");
	REFUSED("\r\n\r\n\r\nGET / HTTP/1.1\r\n\r\n", 400, "empty lines");
}

static void test_content_length(void)
{
	struct got g;
	char *big;
	size_t hl;

#define BADLEN "Invalid header. Reason: Invalid value. Key:Content-Length; Value: "
	REFUSED("PUT / HTTP/1.1\r\nContent-Length: abc\r\n\r\n", 400, BADLEN "abc");
	REFUSED("PUT / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400, BADLEN "-1");
	REFUSED("PUT / HTTP/1.1\r\nContent-Length: +5\r\n\r\nhello", 400, BADLEN "+5");
	REFUSED("PUT / HTTP/1.1\r\nContent-Length: 0x10\r\n\r\n", 400, BADLEN "0x10");
	REFUSED("PUT / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\nhello", 400, BADLEN "5, 5");
	REFUSED("PUT / HTTP/1.1\r\nContent-Length: 1 2\r\n\r\n", 400, BADLEN "1 2");
	REFUSED("PUT / HTTP/1.1\r\nContent-Length:\r\n\r\n", 400, "empty");
	REFUSED("PUT / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
		400, "conflicting");
	/* over the limit: refused on the header, in micro-http's words */
	REFUSED("PUT / HTTP/1.1\r\nContent-Length: 51201\r\n\r\n", 400,
		"Request payload with size 51201 is larger than the limit of 51200 allowed by "
		"server.");
	/* more than an i32, as micro-http reads it */
	REFUSED("PUT / HTTP/1.1\r\nContent-Length: 99999999999999999999999999\r\n\r\n",
		400, BADLEN "99999999999999999999999999");
	REFUSED("GET / HTTP/1.1\r\nContent-Length: 2147483648\r\n\r\n", 400, BADLEN);
	REFUSED("GET / HTTP/1.1\r\nContent-Length: 2147483647\r\n\r\n", 400,
		"Request payload with size 2147483647");
	/* a lower limit (--http-api-max-payload-size) */
	http_parser_init(&parser, 250);
	{
		static const char req[] = "PUT /mmds/config HTTP/1.1\r\nContent-Length: 260\r\n\r\nx";
		size_t used;

		CHECK_EQ(http_parser_feed(&parser, req, sizeof(req) - 1, &used), HTTP_PARSE_ERROR);
		CHECK_EQ(http_parser_error(&parser, NULL), 400);
		CHECK(strstr(parser.err_msg, "size 260 is larger than the limit of 250 allowed") !=
		      NULL);
	}
	/*
	 * No Content-Length on PUT/PATCH: no body, as micro-http reads it (the
	 * API answers "Empty PUT request."); bytes after the head start the next
	 * request.
	 */
	parse_all("PUT /actions HTTP/1.1\r\n\r\n", &g);
	CHECK_EQ(g.n, 1);
	CHECK_EQ(g.r[0].method, HTTP_PUT);
	CHECK_EQ(g.r[0].body_len, 0);
	CHECK_EQ(g.err, 0);
	got_free(&g);
	parse_all("PATCH /vm HTTP/1.1\r\n\r\n{\"state\": \"Paused\"}", &g);
	CHECK_EQ(g.n, 1);
	CHECK_EQ(g.r[0].body_len, 0);
	CHECK_EQ(g.err, 400);
	got_free(&g);
	/* Transfer-Encoding of any kind. */
	REFUSED("PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n", 501,
		"Transfer-Encoding");
	REFUSED("PUT / HTTP/1.1\r\nContent-Length: 2\r\ntransfer-encoding: identity\r\n\r\n{}",
		501, "Transfer-Encoding");
	REFUSED("GET / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501, "");
	/* Expect */
	REFUSED("PUT / HTTP/1.1\r\nContent-Length: 2\r\nExpect: 200-ok\r\n\r\n{}", 417, "100-continue");

	/* The body limit exactly. */
	big = malloc(HTTP_MAX_BODY + 128);
	hl = (size_t)sprintf(big, "PUT /big HTTP/1.1\r\nContent-Length: %d\r\n\r\n", HTTP_MAX_BODY);
	memset(big + hl, 'b', HTTP_MAX_BODY);
	parse_cuts(big, hl + HTTP_MAX_BODY, NULL, 0, true, &g);
	CHECK_EQ(g.err, 0);
	CHECK_EQ(g.n, 1);
	CHECK_EQ(g.r[0].body_len, HTTP_MAX_BODY);
	CHECK_EQ(g.r[0].body[HTTP_MAX_BODY], 0);
	got_free(&g);
	free(big);
}

static void test_truncated(void)
{
	struct got g;

	/* A lying Content-Length: the peer closes before the body is complete. */
	REFUSED("PUT /x HTTP/1.1\r\nContent-Length: 10\r\n\r\n{\"a\":", 400, "5 of the 10");
	/* Closed in the middle of the head. */
	REFUSED("GET / HTTP/1.1\r\nHost: x\r\n", 400, "closed in the middle");
	REFUSED("G", 400, "closed");
	/* Between two requests: clean. */
	parse_all("GET / HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n", &g);
	CHECK_EQ(g.err, 0);
	CHECK_EQ(g.n, 2);
	got_free(&g);
	/* Not closed: just waiting. */
	parse_cuts("PUT /x HTTP/1.1\r\nContent-Length: 10\r\n\r\n{", 41, NULL, 0, false, &g);
	CHECK_EQ(g.err, 0);
	CHECK_EQ(g.n, 0);
	CHECK(http_parser_busy(&parser));
	got_free(&g);
}

static void test_parser_api(void)
{
	static const char two[] = "GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n";
	const char *msg;
	size_t used;

	http_parser_init(&parser, 0);
	CHECK(!http_parser_busy(&parser));
	CHECK(http_parser_request(&parser) == NULL);
	CHECK_EQ(http_parser_feed(&parser, two, sizeof(two) - 1, &used), HTTP_PARSE_DONE);
	CHECK_EQ(used, 19);
	CHECK_STREQ(http_parser_request(&parser)->path, "/1");
	/* Feeding again before next(): same answer, nothing consumed. */
	CHECK_EQ(http_parser_feed(&parser, two + 19, 19, &used), HTTP_PARSE_DONE);
	CHECK_EQ(used, 0);
	http_parser_next(&parser);
	CHECK_EQ(http_parser_feed(&parser, two + 19, 19, &used), HTTP_PARSE_DONE);
	CHECK_EQ(used, 19);
	CHECK_STREQ(http_parser_request(&parser)->path, "/2");
	http_parser_next(&parser);
	CHECK_EQ(http_parser_eof(&parser), 0);

	/* After an error: sticky, nothing consumed, next() does not clear it. */
	http_parser_init(&parser, 0);
	CHECK_EQ(http_parser_feed(&parser, "BREW / HTTP/1.1\r\n", 17, &used), HTTP_PARSE_ERROR);
	CHECK_EQ(http_parser_error(&parser, &msg), 400);
	CHECK(http_parser_request(&parser) == NULL);
	CHECK_EQ(http_parser_feed(&parser, two, 19, &used), HTTP_PARSE_ERROR);
	CHECK_EQ(used, 0);
	http_parser_next(&parser);
	CHECK_EQ(http_parser_error(&parser, NULL), 400);
	CHECK_EQ(http_parser_eof(&parser), HTTP_PARSE_ERROR);

	/* 100-continue: only when a body is awaited, once. */
	http_parser_init(&parser, 0);
	CHECK_EQ(http_parser_feed(&parser, "PUT / HTTP/1.1\r\nExpect: 100-continue\r\n"
				  "Content-Length: 2\r\n\r\n", 59, &used), HTTP_PARSE_MORE);
	CHECK(http_parser_take_continue(&parser));
	CHECK(!http_parser_take_continue(&parser));
	CHECK_EQ(http_parser_feed(&parser, "{}", 2, &used), HTTP_PARSE_DONE);
	http_parser_init(&parser, 0);
	CHECK_EQ(http_parser_feed(&parser, "PUT / HTTP/1.1\r\nExpect: 100-Continue\r\n"
				  "Content-Length: 0\r\n\r\n", 59, &used), HTTP_PARSE_DONE);
	CHECK(!http_parser_take_continue(&parser));
}

static void test_utf8(void)
{
	static const struct {
		const char *s;
		size_t len;
		bool ok;
	} cases[] = {
		{ "", 0, true },
		{ "plain ascii {}", 14, true },
		{ "\xc3\xa9", 2, true },               /* é */
		{ "\xe2\x82\xac", 3, true },           /* € */
		{ "\xf0\x9f\x94\xa5", 4, true },       /* U+1F525 */
		{ "\xf4\x8f\xbf\xbf", 4, true },       /* U+10FFFF */
		{ "\xef\xbf\xbf", 3, true },           /* U+FFFF */
		{ "a\0b", 3, true },                   /* NUL is valid UTF-8 */
		{ "\xc0\x80", 2, false },              /* overlong NUL */
		{ "\xc1\xbf", 2, false },              /* overlong */
		{ "\xe0\x80\x80", 3, false },          /* overlong */
		{ "\xf0\x80\x80\x80", 4, false },      /* overlong */
		{ "\xed\xa0\x80", 3, false },          /* surrogate D800 */
		{ "\xed\xbf\xbf", 3, false },          /* surrogate DFFF */
		{ "\xf4\x90\x80\x80", 4, false },      /* > U+10FFFF */
		{ "\xf5\x80\x80\x80", 4, false },
		{ "\xff", 1, false },
		{ "\x80", 1, false },                  /* lone continuation */
		{ "\xc3", 1, false },                  /* truncated */
		{ "\xe2\x82", 2, false },
		{ "\xe2\x28\xa1", 3, false },          /* bad continuation */
		{ "ok\xf0\x9f\x94", 5, false },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		bool ok = http_valid_utf8(cases[i].s, cases[i].len);

		unit_check(ok == cases[i].ok, __FILE__, __LINE__, "http_valid_utf8",
			   "case %zu: got %d", i, ok);
	}
}

static void test_json_escape(void)
{
	char buf[64];
	size_t n;

	n = http_json_escape(buf, sizeof(buf), "a\"b\\c\nd\te\x01\x7f", 11);
	CHECK_STREQ(buf, "a\\\"b\\\\c\\nd\\te\\u0001\\u007f");
	CHECK_EQ(n, strlen(buf));
	/* Valid UTF-8 passes; invalid bytes become U+FFFD. */
	http_json_escape(buf, sizeof(buf), "\xc3\xa9\xff\xed\xa0\x80!", 7);
	CHECK_STREQ(buf, "\xc3\xa9\\ufffd\\ufffd\\ufffd\\ufffd!");
	/* Cut on a whole character/escape, always NUL-terminated. */
	n = http_json_escape(buf, 4, "ab\"", 3);
	CHECK_STREQ(buf, "ab");
	CHECK_EQ(n, 2);
	n = http_json_escape(buf, 4, "a\xe2\x82\xac", 4);
	CHECK_STREQ(buf, "a");
	n = http_json_escape(buf, 5, "a\xe2\x82\xac", 4);
	CHECK_STREQ(buf, "a\xe2\x82\xac");
	CHECK_EQ(http_json_escape(buf, 0, "x", 1), 0);
	n = http_json_escape(buf, 1, "x", 1);
	CHECK_EQ(n, 0);
	CHECK_EQ(buf[0], 0);
}

/* Serialize r and compare with want. */
static void check_wire(const struct http_response *r, bool close, const char *want)
{
	char *out = NULL;
	size_t len = 0;

	CHECK_EQ(http_response_serialize(r, close, &out, &len), 0);
	unit_check(out && len == strlen(want) && !memcmp(out, want, len), __FILE__,
		   __LINE__, "wire", "got \"%.*s\"", (int)len, out ? out : "");
	free(out);
}

static void test_responses(void)
{
	struct http_response r;

	http_response_init(&r);
	http_response_json(&r, 200, "{\"a\": 1}");
	/* micro-http's shape: no reason phrase, its Server, keep-alive */
	check_wire(&r, false,
		   "HTTP/1.1 200 \r\nServer: Firecracker API\r\nConnection: keep-alive\r\n"
		   "Content-Type: application/json\r\nContent-Length: 8\r\n\r\n{\"a\": 1}");
	check_wire(&r, true,
		   "HTTP/1.1 200 \r\nServer: Firecracker API\r\nConnection: close\r\n"
		   "Content-Type: application/json\r\nContent-Length: 8\r\n\r\n{\"a\": 1}");

	http_response_empty(&r, 204);
	CHECK(r.body == NULL && r.body_len == 0);
	check_wire(&r, false, "HTTP/1.1 204 \r\nServer: Firecracker API\r\n"
		   "Connection: keep-alive\r\n\r\n");
	/* A 204 never carries a body even if one was set. */
	http_response_json(&r, 204, "{}");
	check_wire(&r, false, "HTTP/1.1 204 \r\nServer: Firecracker API\r\n"
		   "Connection: keep-alive\r\n\r\n");

	http_response_empty(&r, 200);
	check_wire(&r, false, "HTTP/1.1 200 \r\nServer: Firecracker API\r\nConnection: keep-alive"
		   "\r\nContent-Type: application/json\r\nContent-Length: 0\r\n\r\n");

	/* Firecracker's fault message: serde_json's compact object */
	http_response_error(&r, 400, "bad \"%s\"\n%d", "x\\y", 7);
	CHECK_EQ(r.status, 400);
	CHECK(r.json);
	CHECK_STREQ(r.body, "{\"fault_message\":\"bad \\\"x\\\\y\\\"\\n7\"}");
	check_wire(&r, false,
		   "HTTP/1.1 400 \r\nServer: Firecracker API\r\nConnection: keep-alive\r\n"
		   "Content-Type: application/json\r\nContent-Length: 35\r\n\r\n"
		   "{\"fault_message\":\"bad \\\"x\\\\y\\\"\\n7\"}");

	/* A request micro-http could not parse: its 400, to the byte */
	http_response_parse_error(&r, "Request payload with size 51201 is larger than the limit "
				  "of 51200 allowed by server.");
	check_wire(&r, false,
		   "HTTP/1.1 400 \r\nServer: Firecracker API\r\nConnection: keep-alive\r\n"
		   "Content-Type: application/json\r\nContent-Length: 149\r\n\r\n"
		   "{ \"error\": \"Request payload with size 51201 is larger than the limit of 51200 "
		   "allowed by server.\nAll previous unanswered requests will be dropped.\" }");

	/* Invalid UTF-8 in a message (e.g. an echoed path) stays valid JSON. */
	http_response_error(&r, 404, "no %s", "\xff\xfe");
	CHECK_STREQ(r.body, "{\"fault_message\":\"no \\ufffd\\ufffd\"}");

	/* A long message is cut, the JSON stays whole. */
	{
		char longmsg[3000];

		memset(longmsg, '"', sizeof(longmsg) - 1);
		longmsg[sizeof(longmsg) - 1] = '\0';
		http_response_error(&r, 500, "%s", longmsg);
		CHECK(r.body_len > 1000 && r.body_len < 2200);
		CHECK_STREQ(r.body + r.body_len - 4, "\\\"\"}");
		CHECK(http_valid_utf8(r.body, r.body_len));
	}

	/* Status outside 100..599: sent as 500. */
	http_response_json(&r, 42, "{}");
	check_wire(&r, false,
		   "HTTP/1.1 500 \r\nServer: Firecracker API\r\nConnection: keep-alive\r\n"
		   "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}");
	http_response_free(&r);
	http_response_free(&r); /* twice is fine */

}

UNIT_MAIN(TEST(test_simple_get), TEST(test_put_patch_body), TEST(test_connection_close),
	  TEST(test_pipelined_every_split), TEST(test_bad_request_line), TEST(test_path_limit),
	  TEST(test_header_limits), TEST(test_bad_headers), TEST(test_content_length),
	  TEST(test_truncated), TEST(test_parser_api), TEST(test_utf8), TEST(test_json_escape),
	  TEST(test_responses))
