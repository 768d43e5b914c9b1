/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Strict incremental HTTP/1.1 request parser and response builder.
 *
 * The head (request line + headers) is gathered byte by byte into a fixed
 * buffer; every line is checked as soon as its CRLF arrives, so a bad
 * request line is refused before its headers are read. The body is then
 * copied into a fixed buffer up to its Content-Length.
 */
#include "api-socket/http.h"
#include "core/utf8.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { ST_HEAD, ST_BODY, ST_DONE, ST_ERROR };

/* Empty lines tolerated before a request line (RFC 9112 2.2). */
#define MAX_LEADING_EMPTY 2

static enum http_parse_result refuse(struct http_parser *p, int status,
				     const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static enum http_parse_result refuse(struct http_parser *p, int status,
				     const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->err_msg, sizeof(p->err_msg), fmt, ap);
	va_end(ap);
	p->err_status = status;
	p->state = ST_ERROR;
	return HTTP_PARSE_ERROR;
}

const char *http_method_name(enum http_method m)
{
	switch (m) {
	case HTTP_GET:
		return "GET";
	case HTTP_PUT:
		return "PUT";
	case HTTP_PATCH:
		return "PATCH";
	case HTTP_DELETE:
		return "DELETE";
	}
	return "?";
}

const char *http_method_title(enum http_method m)
{
	switch (m) {
	case HTTP_GET:
		return "Get";
	case HTTP_PUT:
		return "Put";
	case HTTP_PATCH:
		return "Patch";
	case HTTP_DELETE:
		return "Delete";
	}
	return "?";
}

static void reset_request(struct http_parser *p)
{
	p->state = ST_HEAD;
	p->head_len = 0;
	p->line_start = 0;
	p->nheaders = 0;
	p->empty_lines = 0;
	p->have_line = false;
	p->have_length = false;
	p->expect_continue = false;
	p->continue_due = false;
	p->body_want = 0;
	memset(&p->req, 0, sizeof(p->req));
	p->req.keep_alive = true;
	p->req.body = p->body;
	p->body[0] = '\0';
}

void http_parser_init(struct http_parser *p, size_t max_body)
{
	p->max_body = max_body && max_body < HTTP_MAX_BODY ? max_body : HTTP_MAX_BODY;
	p->err_status = 0;
	p->err_msg[0] = '\0';
	reset_request(p);
}

void http_parser_next(struct http_parser *p)
{
	if (p->state == ST_ERROR)
		return;
	reset_request(p);
}

const struct http_request *http_parser_request(const struct http_parser *p)
{
	return p->state == ST_DONE ? &p->req : NULL;
}

bool http_parser_busy(const struct http_parser *p)
{
	return p->state == ST_BODY || (p->state == ST_HEAD && p->head_len > 0);
}

bool http_parser_take_continue(struct http_parser *p)
{
	bool due = p->continue_due;

	p->continue_due = false;
	return due;
}

int http_parser_error(const struct http_parser *p, const char **msg)
{
	if (msg)
		*msg = p->err_msg;
	return p->state == ST_ERROR ? p->err_status : 0;
}

int http_parser_eof(struct http_parser *p)
{
	if (p->state == ST_ERROR)
		return HTTP_PARSE_ERROR;
	if (p->state == ST_BODY)
		return refuse(p, 400, "the connection closed after %zu of the %zu body bytes "
			      "announced by Content-Length", p->req.body_len, p->body_want);
	if (p->state == ST_HEAD && p->head_len > 0)
		return refuse(p, 400, "the connection closed in the middle of a request");
	return 0;
}

/* RFC 9110 tchar */
static bool is_tchar(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return true;
	if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')
		return true;
	return c && strchr("!#$%&'*+-.^_`|~", c);
}

static bool span_eq(const char *s, size_t n, const char *lit)
{
	return strlen(lit) == n && !memcmp(s, lit, n);
}

static bool span_ieq(const char *s, size_t n, const char *lit)
{
	return strlen(lit) == n && !strncasecmp(s, lit, n);
}

static enum http_parse_result parse_request_line(struct http_parser *p,
						 const char *l, size_t n)
{
	const char *sp1 = memchr(l, ' ', n), *sp2, *tgt, *ver;
	size_t mlen, tlen, vlen;

	if (!sp1 || !(sp2 = memchr(sp1 + 1, ' ', n - (size_t)(sp1 + 1 - l))))
		return refuse(p, 400, "malformed request line (want METHOD SP /path SP HTTP/1.1)");
	mlen = (size_t)(sp1 - l);
	tgt = sp1 + 1;
	tlen = (size_t)(sp2 - tgt);
	ver = sp2 + 1;
	vlen = n - (size_t)(ver - l);
	if (!mlen || !tlen || memchr(ver, ' ', vlen))
		return refuse(p, 400, "malformed request line (want METHOD SP /path SP HTTP/1.1)");
	for (size_t i = 0; i < mlen; i++)
		if (!is_tchar((unsigned char)l[i]))
			return refuse(p, 400, "malformed method in the request line");

	if (vlen != 8 || memcmp(ver, "HTTP/", 5) || ver[5] < '0' || ver[5] > '9' ||
	    ver[6] != '.' || ver[7] < '0' || ver[7] > '9')
		return refuse(p, 400, "malformed HTTP version in the request line");
	if (span_eq(l, mlen, "GET"))
		p->req.method = HTTP_GET;
	else if (span_eq(l, mlen, "PUT"))
		p->req.method = HTTP_PUT;
	else if (span_eq(l, mlen, "PATCH"))
		p->req.method = HTTP_PATCH;
	else if (span_eq(l, mlen, "DELETE"))
		p->req.method = HTTP_DELETE;
	else
		return refuse(p, 400, "Invalid HTTP Method: Unsupported HTTP method.");
	if (!span_eq(ver, vlen, "HTTP/1.1"))
		return refuse(p, 400, "Invalid HTTP Version: Unsupported HTTP version.");

	if (tgt[0] != '/')
		return refuse(p, 400, "the request target must be a path starting with '/'");
	if (tlen > HTTP_MAX_PATH)
		return refuse(p, 414, "the request path is longer than %d bytes", HTTP_MAX_PATH);
	for (size_t i = 0; i < tlen; i++) {
		unsigned char c = (unsigned char)tgt[i];

		if (c == '?')
			return refuse(p, 400, "query strings are not supported");
		if (c == '#' || c <= 0x20 || c >= 0x7f)
			return refuse(p, 400, "invalid character 0x%02x in the request path", c);
	}
	memcpy(p->req.path, tgt, tlen);
	p->req.path[tlen] = '\0';
	p->have_line = true;
	return HTTP_PARSE_MORE;
}

/* Case-insensitive: does the comma-separated list v contain token tok? */
static bool list_has(const char *v, size_t n, const char *tok)
{
	size_t i = 0;

	while (i < n) {
		size_t s, e;

		while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		s = i;
		while (i < n && v[i] != ',')
			i++;
		e = i;
		while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		if (e > s && span_ieq(v + s, e - s, tok))
			return true;
	}
	return false;
}

static enum http_parse_result parse_header(struct http_parser *p, const char *l, size_t n)
{
	const char *colon, *v;
	size_t nlen, vlen;

	if (l[0] == ' ' || l[0] == '\t')
		return refuse(p, 400, "folded header lines are not supported");
	if (++p->nheaders > HTTP_MAX_HEADERS)
		return refuse(p, 431, "more than %d header fields", HTTP_MAX_HEADERS);
	colon = memchr(l, ':', n);
	if (!colon)
		return refuse(p, 400, "malformed header line (no ':')");
	nlen = (size_t)(colon - l);
	if (!nlen)
		return refuse(p, 400, "empty header name");
	for (size_t i = 0; i < nlen; i++)
		if (!is_tchar((unsigned char)l[i]))
			return refuse(p, 400, "invalid character in a header name");
	v = colon + 1;
	vlen = n - nlen - 1;
	while (vlen && (*v == ' ' || *v == '\t'))
		v++, vlen--;
	while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
		vlen--;

	if (span_ieq(l, nlen, "Content-Length")) {
		size_t len = 0;

		if (!vlen)
			return refuse(p, 400, "empty Content-Length");
		for (size_t i = 0; i < vlen; i++) {
			if (v[i] < '0' || v[i] > '9' || len > (size_t)INT32_MAX)
				break;
			len = len * 10 + (size_t)(v[i] - '0');
		}
		/* micro-http reads it as an i32 */
		if (len > (size_t)INT32_MAX || strspn(v, "0123456789") < vlen)
			return refuse(p, 400, "Invalid header. Reason: Invalid value. "
				      "Key:Content-Length; Value: %.*s", (int)(vlen > 40 ? 40 : vlen), v);
		if (p->have_length && len != p->body_want)
			return refuse(p, 400, "conflicting Content-Length headers");
		if (len > p->max_body)
			return refuse(p, 400, "Request payload with size %zu is larger than the limit "
				      "of %zu allowed by server.", len, p->max_body);
		p->have_length = true;
		p->body_want = len;
	} else if (span_ieq(l, nlen, "Transfer-Encoding")) {
		return refuse(p, 501, "Transfer-Encoding is not supported (send Content-Length)");
	} else if (span_ieq(l, nlen, "Connection")) {
		if (list_has(v, vlen, "close"))
			p->req.keep_alive = false;
	} else if (span_ieq(l, nlen, "Content-Type")) {
		size_t m = 0;

		while (m < vlen && v[m] != ';' && v[m] != ' ' && v[m] != '\t')
			m++;
		p->req.content_type_json = span_ieq(v, m, "application/json");
	} else if (span_ieq(l, nlen, "Expect")) {
		if (!span_ieq(v, vlen, "100-continue"))
			return refuse(p, 417, "only \"Expect: 100-continue\" is supported");
		p->expect_continue = true;
	}
	/* Anything else (Host, Accept, User-Agent...) is ignored. */
	return HTTP_PARSE_MORE;
}

/* The blank line ended the head. */
static enum http_parse_result end_of_head(struct http_parser *p)
{
	/* No Content-Length: no body, as micro-http reads it (the API then says "Empty PUT request."). */
	if (!p->have_length)
		p->body_want = 0;
	if (!p->body_want) {
		p->state = ST_DONE;
		return HTTP_PARSE_DONE;
	}
	p->continue_due = p->expect_continue;
	p->state = ST_BODY;
	return HTTP_PARSE_MORE;
}

/* One byte of the head. */
static enum http_parse_result head_byte(struct http_parser *p, char c)
{
	unsigned char u = (unsigned char)c;
	const char *line;
	size_t n;

	if (p->head_len && p->head[p->head_len - 1] == '\r' && c != '\n')
		return refuse(p, 400, "CR without LF in the request head");
	if (u < 0x20 && c != '\r' && c != '\n' && c != '\t')
		return refuse(p, 400, "control character 0x%02x in the request head", u);
	if (u == 0x7f)
		return refuse(p, 400, "control character 0x7f in the request head");
	if (p->head_len == sizeof(p->head))
		return refuse(p, 431, "the request head is larger than %d bytes",
			      HTTP_MAX_HEADER_BYTES);
	p->head[p->head_len++] = c;
	if (c != '\n')
		return HTTP_PARSE_MORE;
	if (p->head_len < 2 || p->head[p->head_len - 2] != '\r' ||
	    p->head_len - 2 < p->line_start)
		return refuse(p, 400, "LF without CR in the request head");

	line = p->head + p->line_start;
	n = p->head_len - 2 - p->line_start;
	p->line_start = p->head_len;
	if (!p->have_line) {
		if (n == 0) {
			/* An empty line before the request line. */
			if (++p->empty_lines > MAX_LEADING_EMPTY)
				return refuse(p, 400, "empty lines instead of a request line");
			p->head_len = p->line_start = 0;
			return HTTP_PARSE_MORE;
		}
		return parse_request_line(p, line, n);
	}
	if (n == 0)
		return end_of_head(p);
	return parse_header(p, line, n);
}

enum http_parse_result http_parser_feed(struct http_parser *p, const char *data,
					size_t len, size_t *consumed)
{
	size_t i = 0;
	enum http_parse_result r = HTTP_PARSE_MORE;

	*consumed = 0;
	if (p->state == ST_ERROR)
		return HTTP_PARSE_ERROR;
	if (p->state == ST_DONE)
		return HTTP_PARSE_DONE;

	while (i < len && p->state == ST_HEAD) {
		r = head_byte(p, data[i++]);
		if (r == HTTP_PARSE_ERROR) {
			*consumed = i;
			return r;
		}
	}
	if (p->state == ST_BODY && i < len) {
		size_t take = p->body_want - p->req.body_len;

		if (take > len - i)
			take = len - i;
		memcpy(p->body + p->req.body_len, data + i, take);
		p->req.body_len += take;
		i += take;
		if (p->req.body_len == p->body_want) {
			p->body[p->req.body_len] = '\0';
			p->state = ST_DONE;
		}
	}
	*consumed = i;
	return p->state == ST_DONE ? HTTP_PARSE_DONE : HTTP_PARSE_MORE;
}

bool http_valid_utf8(const char *buf, size_t len)
{
	return utf8_valid(buf, len);
}

size_t http_json_escape(char *dst, size_t cap, const char *s, size_t len)
{
	size_t o = 0;

	if (!cap)
		return 0;
	for (size_t i = 0; i < len;) {
		unsigned char c = (unsigned char)s[i];
		char tmp[8];
		const char *piece = tmp;
		size_t plen, adv = 1;

		if (c == '"' || c == '\\') {
			tmp[0] = '\\', tmp[1] = (char)c, plen = 2;
		} else if (c == '\n') {
			piece = "\\n", plen = 2;
		} else if (c == '\r') {
			piece = "\\r", plen = 2;
		} else if (c == '\t') {
			piece = "\\t", plen = 2;
		} else if (c < 0x20 || c == 0x7f) {
			plen = (size_t)snprintf(tmp, sizeof(tmp), "\\u%04x", c);
		} else if (c < 0x80) {
			tmp[0] = (char)c, plen = 1;
		} else if ((adv = utf8_len((const unsigned char *)s + i, len - i))) {
			piece = s + i, plen = adv;
		} else {
			piece = "\\ufffd", plen = 6, adv = 1;
		}
		if (o + plen >= cap)
			break;
		memcpy(dst + o, piece, plen);
		o += plen;
		i += adv;
	}
	dst[o] = '\0';
	return o;
}

void http_response_init(struct http_response *r)
{
	memset(r, 0, sizeof(*r));
}

void http_response_free(struct http_response *r)
{
	free(r->body);
	r->body = NULL;
	r->body_len = 0;
}

static void set_body(struct http_response *r, int status, const char *b, size_t n,
		     bool json)
{
	http_response_free(r);
	r->status = status;
	r->json = json;
	if (!n)
		return;
	r->body = malloc(n + 1);
	if (!r->body) {
		r->status = 500;
		r->json = false;
		return;
	}
	memcpy(r->body, b, n);
	r->body[n] = '\0';
	r->body_len = n;
}

void http_response_json(struct http_response *r, int status, const char *json)
{
	set_body(r, status, json ? json : "", json ? strlen(json) : 0, true);
}

void http_response_empty(struct http_response *r, int status)
{
	set_body(r, status, NULL, 0, false);
}

void http_response_verror(struct http_response *r, int status, const char *fmt, va_list ap)
{
	static const char pre[] = "{\"fault_message\":\"", post[] = "\"}";
	char msg[1024];
	size_t n, cap;
	char *b;
	int k;

	k = vsnprintf(msg, sizeof(msg), fmt, ap);
	n = k < 0 ? 0 : (size_t)k >= sizeof(msg) ? sizeof(msg) - 1 : (size_t)k;
	cap = sizeof(pre) + n * 6 + sizeof(post);
	b = malloc(cap);
	if (!b) {
		set_body(r, 500, NULL, 0, false);
		return;
	}
	memcpy(b, pre, sizeof(pre) - 1);
	k = (int)(sizeof(pre) - 1);
	k += (int)http_json_escape(b + k, cap - (size_t)k - sizeof(post) + 1, msg, n);
	memcpy(b + k, post, sizeof(post));
	set_body(r, status, b, (size_t)k + sizeof(post) - 1, true);
	free(b);
}

void http_response_parse_error(struct http_response *r, const char *msg)
{
	static const char pre[] = "{ \"error\": \"",
		post[] = "\nAll previous unanswered requests will be dropped.\" }";
	size_t n = strlen(msg), cap = sizeof(pre) + n * 6 + sizeof(post);
	char *b = malloc(cap);
	size_t k;

	if (!b) {
		set_body(r, 500, NULL, 0, false);
		return;
	}
	memcpy(b, pre, sizeof(pre) - 1);
	k = sizeof(pre) - 1;
	k += http_json_escape(b + k, cap - k - sizeof(post) + 1, msg, n);
	memcpy(b + k, post, sizeof(post));
	set_body(r, 400, b, k + sizeof(post) - 1, true);
	free(b);
}

void http_response_error(struct http_response *r, int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	http_response_verror(r, status, fmt, ap);
	va_end(ap);
}

int http_response_serialize(const struct http_response *r, bool close,
			    char **out, size_t *outlen)
{
	int status = r->status >= 100 && r->status <= 599 ? r->status : 500;
	bool nobody = status == 204 || status < 200;
	size_t blen = nobody ? 0 : r->body_len;
	char head[256], *buf;
	int h;

	/* micro-http's: an empty reason phrase, its Server, keep-alive. */
	h = snprintf(head, sizeof(head), "HTTP/1.1 %d \r\nServer: Firecracker API\r\n"
		     "Connection: %s\r\n%s", status, close ? "close" : "keep-alive",
		     r->deprecation ? "Deprecation: true\r\n" : "");
	if (!nobody && h > 0 && (size_t)h < sizeof(head))
		h += snprintf(head + h, sizeof(head) - h, "Content-Type: application/json\r\n"
			      "Content-Length: %zu\r\n", blen);
	if (h > 0 && (size_t)h < sizeof(head))
		h += snprintf(head + h, sizeof(head) - h, "\r\n");
	if (h < 0 || (size_t)h >= sizeof(head))
		return -1;
	buf = malloc((size_t)h + blen + 1);
	if (!buf)
		return -1;
	memcpy(buf, head, (size_t)h);
	if (blen)
		memcpy(buf + h, r->body, blen);
	buf[(size_t)h + blen] = '\0';
	*out = buf;
	*outlen = (size_t)h + blen;
	return 0;
}
