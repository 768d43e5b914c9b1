/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A strict, incremental HTTP/1.1 request parser and response builder for
 * ember's API socket. Pure code: no I/O, no threads.
 *
 * Parsing: feed the bytes read from a connection, in any chunking, to
 * http_parser_feed(); it consumes at most one request at a time and says
 * when that request is complete (then serve it, call http_parser_next() and
 * feed the rest of the bytes: pipelined requests come out in order) or that
 * the input is refused (then send http_parser_error() and close).
 *
 * What is accepted, as Firecracker's micro-http does: "METHOD SP
 * /origin-path SP HTTP/1.1 CRLF", methods GET, PUT, PATCH, DELETE (the API
 * refuses DELETE itself); header lines "Name: value" (names
 * case-insensitive, no obs-fold); at most HTTP_MAX_HEADER_BYTES of header
 * section and HTTP_MAX_HEADERS headers; a body only by Content-Length
 * (digits, at most the parser's limit, HTTP_MAX_BODY unless set lower; no
 * Content-Length: no body); keep-alive unless "Connection: close". Refusals
 * use micro-http's words where it has them ("Invalid HTTP Method: ...",
 * "Request payload with size N is larger than the limit of M allowed by
 * server.").
 */
#ifndef EMBER_HTTP_H
#define EMBER_HTTP_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#define HTTP_MAX_HEADER_BYTES 8192  /* request line + headers + blank line */
#define HTTP_MAX_HEADERS      64
#define HTTP_MAX_BODY         51200 /* Firecracker's default payload limit */
#define HTTP_MAX_PATH         1024

enum http_method {
	HTTP_GET = 1,
	HTTP_PUT,
	HTTP_PATCH,
	HTTP_DELETE,
};

/* "GET", "PUT", "PATCH", "DELETE" ("?" for anything else). */
const char *http_method_name(enum http_method m);
/* "Get", "Put", "Patch", "Delete": Firecracker's log lines. */
const char *http_method_title(enum http_method m);

/* A complete request, valid until http_parser_next() or the parser's end. */
struct http_request {
	enum http_method method;
	char path[HTTP_MAX_PATH + 1];   /* NUL-terminated, starts with '/' */
	char *body;                     /* NUL-terminated (always, "" when none) */
	size_t body_len;                /* may contain NULs: use body_len */
	bool keep_alive;                /* false after "Connection: close" */
	bool content_type_json;         /* Content-Type: application/json[;...] */
};

enum http_parse_result {
	HTTP_PARSE_MORE = 0,    /* everything consumed, request incomplete */
	HTTP_PARSE_DONE = 1,    /* a request is complete: http_parser_request() */
	HTTP_PARSE_ERROR = -1,  /* refused: http_parser_error(), then close */
};

struct http_parser {
	/* private */
	int state;
	char head[HTTP_MAX_HEADER_BYTES];
	size_t head_len;
	size_t line_start;
	int nheaders;
	int empty_lines;
	bool have_line;         /* request line parsed */
	bool have_length;
	bool expect_continue;
	bool continue_due;
	size_t body_want;
	size_t max_body;        /* at most HTTP_MAX_BODY */
	struct http_request req;
	char body[HTTP_MAX_BODY + 1];
	int err_status;
	char err_msg[160];
};

/* max_body: the largest body accepted (0 or more than HTTP_MAX_BODY: HTTP_MAX_BODY). */
void http_parser_init(struct http_parser *p, size_t max_body);

/*
 * Feed len bytes. *consumed gets how many were used (the rest belong to
 * the next request: feed them again after http_parser_next()). After DONE
 * or ERROR, feeding again returns the same result and consumes nothing.
 */
enum http_parse_result http_parser_feed(struct http_parser *p, const char *data,
					size_t len, size_t *consumed);

/* The complete request (after HTTP_PARSE_DONE), else NULL. */
const struct http_request *http_parser_request(const struct http_parser *p);

/*
 * Whether the client asked "Expect: 100-continue" for the body now awaited:
 * true once per request (then send "HTTP/1.1 100 Continue\r\n\r\n").
 */
bool http_parser_take_continue(struct http_parser *p);

/* Forget the served request and start on the next one. */
void http_parser_next(struct http_parser *p);

/*
 * The peer closed its side. Returns 0 when that happened between requests,
 * else HTTP_PARSE_ERROR (a truncated request: the error is set, e.g. the
 * body was shorter than its Content-Length).
 */
int http_parser_eof(struct http_parser *p);

/* Whether the parser holds part of a request (bytes since the last one). */
bool http_parser_busy(const struct http_parser *p);

/*
 * After HTTP_PARSE_ERROR: the status code and a one-line reason (msg may be
 * NULL). 400 malformed, an unknown method, a version other than HTTP/1.1 or
 * a body over the limit; 414 path over HTTP_MAX_PATH, 417 Expect other than
 * 100-continue, 431 header section over its limits, 501 Transfer-Encoding.
 * (The API server answers each as micro-http does: 400 and
 * http_response_parse_error().)
 */
int http_parser_error(const struct http_parser *p, const char **msg);

/* Whether buf holds valid UTF-8 (no overlongs, surrogates or > U+10FFFF). */
bool http_valid_utf8(const char *buf, size_t len);

/*
 * A response a handler fills. Start from http_response_init(); every
 * setter replaces what was there. The body is malloc'd: http_response_free().
 * On allocation failure a setter leaves status 500 with no body.
 */
struct http_response {
	int status;          /* 200, 204, 400... */
	char *body;          /* NULL or body_len bytes */
	size_t body_len;
	bool json;           /* send "Content-Type: application/json" */
	bool close;          /* close the connection after this response */
	bool deprecation;    /* send "Deprecation: true" (kept by the setters) */
};

void http_response_init(struct http_response *r);
void http_response_free(struct http_response *r);
/* A JSON body (copied) with status. */
void http_response_json(struct http_response *r, int status, const char *json);
/* An error: {"fault_message": "<formatted, JSON-escaped>"}. */
void http_response_error(struct http_response *r, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void http_response_verror(struct http_response *r, int status, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
/* No body (e.g. 204 No Content). */
void http_response_empty(struct http_response *r, int status);
/*
 * A request that could not be parsed, as micro-http answers it: 400 and
 * { "error": "<msg>\nAll previous unanswered requests will be dropped." }.
 */
void http_response_parse_error(struct http_response *r, const char *msg);

/*
 * Serialize as Firecracker's micro-http does: "HTTP/1.1 <code> \r\n
 * Server: Firecracker API\r\nConnection: keep-alive\r\n[Deprecation: true\r\n][Content-Type:
 * application/json\r\nContent-Length: N\r\n]\r\n<body>" into a malloc'd
 * buffer (*out, *outlen); "Connection: close" when close. A 204 carries
 * neither body nor Content-Length (RFC 9110); a status outside 100..599 is
 * sent as 500. 0, or -1 (no memory).
 */
int http_response_serialize(const struct http_response *r, bool close,
			    char **out, size_t *outlen);

/*
 * JSON-escape len bytes of s into dst (cap bytes, NUL-terminated, cut on a
 * character boundary when too long); returns the length written. Invalid
 * UTF-8 bytes become U+FFFD.
 */
size_t http_json_escape(char *dst, size_t cap, const char *s, size_t len);

#endif
