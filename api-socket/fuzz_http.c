/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the HTTP parser and response builder.
 *
 * Input: byte 0 seeds the chunk sizes, the rest is the byte stream of a
 * connection. The stream is parsed twice, in one piece and in pseudo-random
 * chunks; both must give the same requests and the same final error (the
 * parser must not depend on how reads split the stream). Every request and
 * every error then goes through the response builder, whose output is
 * checked: valid header framing, Content-Length equal to the body, and a
 * JSON error body that is valid UTF-8 without raw control characters.
 */
#include "core/fuzz.h"
#include "api-socket/http.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_REQS 64

struct outcome {
	int nreq;
	uint64_t hash[MAX_REQS];
	int err_status;
};

static struct http_parser pa, pb;

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	return h;
}

static void check_serialized(const struct http_response *r, bool close)
{
	char *out, *end;
	size_t len;

	ASSERT(!http_response_serialize(r, close, &out, &len));
	ASSERT(len >= 17 && !memcmp(out, "HTTP/1.1 ", 9));
	end = strstr(out, "\r\n\r\n");
	ASSERT(end);
	size_t hlen = (size_t)(end - out) + 4;
	const char *cl = strstr(out, "Content-Length: ");

	if (r->status == 204) {
		ASSERT(!cl || cl > end);
		ASSERT(len == hlen);
	} else {
		ASSERT(cl && cl < end);
		ASSERT(strtoull(cl + 16, NULL, 10) == len - hlen);
		ASSERT(len - hlen == r->body_len);
	}
	ASSERT(strstr(out, close ? "Connection: close\r\n" : "Connection: keep-alive\r\n"));
	free(out);
}

static void check_error_body(const struct http_response *r)
{
	ASSERT(r->body && r->json);
	ASSERT(!strncmp(r->body, "{\"fault_message\":\"", 18));
	ASSERT(r->body_len >= 21 && !strcmp(r->body + r->body_len - 2, "\"}"));
	ASSERT(http_valid_utf8(r->body, r->body_len));
	for (size_t i = 0; i < r->body_len; i++)
		ASSERT((unsigned char)r->body[i] >= 0x20);
	/* No unescaped quote inside the message. */
	for (size_t i = 18; i < r->body_len - 2; i++)
		if (r->body[i] == '"')
			ASSERT(r->body[i - 1] == '\\');
}

static void on_request(const struct http_request *q)
{
	struct http_response r;

	ASSERT(q->method == HTTP_GET || q->method == HTTP_PUT || q->method == HTTP_PATCH ||
	       q->method == HTTP_DELETE);
	ASSERT(q->path[0] == '/' && strlen(q->path) <= HTTP_MAX_PATH);
	ASSERT(!strchr(q->path, '?'));
	ASSERT(q->body_len <= HTTP_MAX_BODY && q->body[q->body_len] == '\0');

	http_response_init(&r);
	/* Echo the path and the body through the builders. */
	http_response_error(&r, 404, "no %s %s (%.*s)", http_method_name(q->method),
			    q->path, (int)(q->body_len > 200 ? 200 : q->body_len), q->body);
	check_error_body(&r);
	check_serialized(&r, !q->keep_alive);
	if (http_valid_utf8(q->body, q->body_len)) {
		http_response_json(&r, 200, q->body);
		check_serialized(&r, false);
	}
	http_response_empty(&r, 204);
	check_serialized(&r, true);
	http_response_free(&r);

	char small[17];
	size_t n = http_json_escape(small, sizeof(small), q->body, q->body_len);

	ASSERT(n < sizeof(small) && small[n] == '\0' && http_valid_utf8(small, n));
}

/* Parse the stream in the given chunking; chunk == 0: all at once. */
static void run(struct http_parser *p, const uint8_t *d, size_t n, uint32_t seed,
		struct outcome *o)
{
	size_t off = 0;

	memset(o, 0, sizeof(*o));
	http_parser_init(p, 0);
	while (off < n) {
		size_t len = n - off, used;

		if (seed) {
			seed = seed * 1103515245u + 12345u;
			size_t c = 1 + (seed >> 16) % ((seed & 0x300) ? 7 : 600);

			if (c < len)
				len = c;
		}
		/* Feed this chunk until it is used up (pipelining). */
		while (len) {
			enum http_parse_result r =
				http_parser_feed(p, (const char *)d + off, len, &used);

			ASSERT(used <= len);
			off += used;
			len -= used;
			(void)http_parser_take_continue(p);
			if (r == HTTP_PARSE_ERROR)
				goto error;
			if (r == HTTP_PARSE_DONE) {
				const struct http_request *q = http_parser_request(p);

				ASSERT(q);
				if (o->nreq < MAX_REQS) {
					uint64_t h = fnv(0xcbf29ce484222325ULL, q->path,
							 strlen(q->path));

					h = fnv(h, &q->method, sizeof(q->method));
					h = fnv(h, q->body, q->body_len);
					h = fnv(h, &q->keep_alive, sizeof(q->keep_alive));
					o->hash[o->nreq] = h;
				}
				o->nreq++;
				if (p == &pa)
					on_request(q);
				http_parser_next(p);
			} else {
				ASSERT(len == 0); /* MORE consumes everything */
			}
		}
	}
	if (http_parser_eof(p) != HTTP_PARSE_ERROR)
		return;
error: {
	const char *msg;
	struct http_response r;

	o->err_status = http_parser_error(p, &msg);
	ASSERT(o->err_status >= 400 && o->err_status <= 599 && msg && *msg);
	ASSERT(!strchr(msg, '\n'));
	ASSERT(!http_parser_request(p));
	if (p == &pa) {
		http_response_init(&r);
		http_response_error(&r, o->err_status, "%s", msg);
		check_error_body(&r);
		check_serialized(&r, true);
		/* what the server sends: micro-http's envelope, one JSON string */
		http_response_parse_error(&r, msg);
		ASSERT(r.status == 400 && r.json && !strncmp(r.body, "{ \"error\": \"", 12));
		ASSERT(http_valid_utf8(r.body, r.body_len));
		check_serialized(&r, false);
		http_response_free(&r);
	}
}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct outcome a, b;
	uint32_t seed;

	if (!size)
		return 0;
	seed = data[0] | 1u;
	run(&pa, data + 1, size - 1, 0, &a);
	run(&pb, data + 1, size - 1, seed, &b);
	ASSERT(a.nreq == b.nreq);
	ASSERT(a.err_status == b.err_status);
	for (int i = 0; i < a.nreq && i < MAX_REQS; i++)
		ASSERT(a.hash[i] == b.hash[i]);
	/* The escaper turns anything into valid UTF-8 without raw controls. */
	static char esc[6 * 4096 + 1];
	size_t n = http_json_escape(esc, sizeof(esc), (const char *)data,
				    size > 4096 ? 4096 : size);

	ASSERT(n < sizeof(esc) && http_valid_utf8(esc, n));
	for (size_t i = 0; i < n; i++)
		ASSERT((unsigned char)esc[i] >= 0x20 && esc[i] != 0x7f);
	return 0;
}
