/* SPDX-License-Identifier: Apache-2.0 */
/* The MMDS's store, tokens and HTTP for the guest (see mmds.h). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* asprintf */
#endif
#include "mmds/mmds.h"
#include "core/ember.h"
#include "core/metrics.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

const uint8_t mmds_mac[6] = { 0x06, 0x01, 0x23, 0x45, 0x67, 0x01 };

#define TOKEN_PATH     "/latest/api/token"
#define TOKEN_MAX_LEN  70   /* longer: refused unread (Firecracker's limit) */

struct token {
	char s[MMDS_TOKEN_LEN + 1];
	uint64_t expiry_ms;     /* CLOCK_MONOTONIC; 0: free */
};

struct mmds {
	pthread_mutex_t lock;
	cJSON *data;            /* NULL: not initialized */
	size_t limit;
	enum mmds_version version;
	bool imds_compat;
	struct token tokens[MMDS_MAX_TOKENS];
	struct mmds_stats st;
};

struct mmds *mmds_new(size_t limit)
{
	struct mmds *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	pthread_mutex_init(&m->lock, NULL);
	m->limit = limit;
	m->version = MMDS_V1;
	return m;
}

void mmds_free(struct mmds *m)
{
	if (!m)
		return;
	cJSON_Delete(m->data);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

void mmds_set_limit(struct mmds *m, size_t limit)
{
	pthread_mutex_lock(&m->lock);
	m->limit = limit;
	pthread_mutex_unlock(&m->lock);
}

void mmds_set_version(struct mmds *m, enum mmds_version v, bool imds_compat)
{
	pthread_mutex_lock(&m->lock);
	m->version = v;
	m->imds_compat = imds_compat;
	pthread_mutex_unlock(&m->lock);
}

void mmds_get_stats(struct mmds *m, struct mmds_stats *st)
{
	pthread_mutex_lock(&m->lock);
	*st = m->st;
	pthread_mutex_unlock(&m->lock);
}

const char *mmds_strerror(enum mmds_error e)
{
	switch (e) {
	case MMDS_OK:
		return "success";
	case MMDS_TOO_BIG:
		return "The MMDS patch request doesn't fit.";
	case MMDS_NOT_INITIALIZED:
		return "The MMDS data store is not initialized.";
	case MMDS_NO_MEMORY:
		break;
	}
	return "out of memory";
}

/* --- the store ----------------------------------------------------------------- */

struct ent {
	cJSON *item;
	size_t pos;
};

/* By key; of equal keys, the later given first. */
static int ent_cmp(const void *a, const void *b)
{
	const struct ent *x = a, *y = b;
	int c = strcmp(x->item->string, y->item->string);

	if (c)
		return c;
	return x->pos < y->pos ? 1 : -1;
}

/*
 * Sort every object's keys (byte order, serde_json's) and keep, of
 * duplicate keys, the last one. -1 when out of memory.
 */
static int normalize(cJSON *j)
{
	struct ent *e;
	cJSON *c, *prev = NULL;
	size_t n = 0, i;

	for (c = j->child; c; c = c->next) {
		if ((cJSON_IsObject(c) || cJSON_IsArray(c)) && normalize(c) < 0)
			return -1;
		n++;
	}
	if (!cJSON_IsObject(j) || n < 2)
		return 0;
	e = malloc(n * sizeof(*e));
	if (!e)
		return -1;
	for (c = j->child, i = 0; c; c = c->next, i++) {
		e[i].item = c;
		e[i].pos = i;
	}
	qsort(e, n, sizeof(*e), ent_cmp);
	j->child = NULL;
	for (i = 0; i < n; i++) {
		c = e[i].item;
		if (prev && !strcmp(prev->string, c->string)) {
			c->next = c->prev = NULL;
			cJSON_Delete(c);
			continue;
		}
		c->next = NULL;
		if (!prev) {
			j->child = c;
		} else {
			prev->next = c;
			c->prev = prev;
		}
		prev = c;
	}
	/* cJSON: the first child's prev is the last child */
	j->child->prev = prev;
	free(e);
	return 0;
}

/* The compact JSON's length (what Firecracker's limit counts): 0 when out of memory. */
static size_t json_size(const cJSON *v)
{
	char *s = cJSON_PrintUnformatted(v);
	size_t n = s ? strlen(s) : 0;

	free(s);
	return n;
}

/* The store becomes d (NULL: out of memory), when it fits (lock held; d is taken). */
static enum mmds_error replace(struct mmds *m, cJSON *d)
{
	size_t n;

	if (!d || normalize(d) < 0 || !(n = json_size(d))) {
		cJSON_Delete(d);
		return MMDS_NO_MEMORY;
	}
	if (n > m->limit) {
		cJSON_Delete(d);
		return MMDS_TOO_BIG;
	}
	cJSON_Delete(m->data);
	m->data = d;
	return MMDS_OK;
}

enum mmds_error mmds_put(struct mmds *m, const cJSON *v)
{
	cJSON *d = cJSON_Duplicate(v, true);
	enum mmds_error e;

	pthread_mutex_lock(&m->lock);
	e = replace(m, d);
	pthread_mutex_unlock(&m->lock);
	return e;
}

/* RFC 7396 onto t (owned; NULL: null): the result, or NULL when out of memory. */
static cJSON *merge(cJSON *t, const cJSON *p)
{
	const cJSON *v;

	if (!cJSON_IsObject(p)) {
		cJSON_Delete(t);
		return cJSON_Duplicate(p, true);
	}
	if (!cJSON_IsObject(t)) {
		cJSON_Delete(t);
		if (!(t = cJSON_CreateObject()))
			return NULL;
	}
	cJSON_ArrayForEach(v, p) {
		cJSON *old, *nv;

		old = cJSON_DetachItemFromObjectCaseSensitive(t, v->string);
		if (cJSON_IsNull(v)) {
			cJSON_Delete(old);
			continue;
		}
		nv = merge(old, v);
		if (!nv || !cJSON_AddItemToObject(t, v->string, nv)) {
			cJSON_Delete(nv);
			cJSON_Delete(t);
			return NULL;
		}
	}
	return t;
}

enum mmds_error mmds_patch(struct mmds *m, const cJSON *patch)
{
	enum mmds_error e;
	cJSON *d;

	pthread_mutex_lock(&m->lock);
	if (!m->data) {
		pthread_mutex_unlock(&m->lock);
		return MMDS_NOT_INITIALIZED;
	}
	d = merge(cJSON_Duplicate(m->data, true), patch);
	e = replace(m, d);
	pthread_mutex_unlock(&m->lock);
	return e;
}

char *mmds_json(struct mmds *m)
{
	char *s;

	pthread_mutex_lock(&m->lock);
	s = !m->data || cJSON_IsNull(m->data) ? strdup("{}") : cJSON_PrintUnformatted(m->data);
	pthread_mutex_unlock(&m->lock);
	return s;
}

/* --- tokens --------------------------------------------------------------------- */

static void base64(const uint8_t *in, size_t n, char *out)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

		*out++ = a[v >> 18];
		*out++ = a[(v >> 12) & 63];
		*out++ = a[(v >> 6) & 63];
		*out++ = a[v & 63];
	}
	*out = '\0';
}

/* A new token valid for ttl seconds into out (lock held). -1: no randomness. */
static int token_new(struct mmds *m, unsigned ttl, char out[MMDS_TOKEN_LEN + 1])
{
	uint8_t r[MMDS_TOKEN_LEN / 4 * 3];
	uint64_t now = mono_ms();
	struct token *t = &m->tokens[0];

	if (getrandom(r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r))
		return -1;
	base64(r, sizeof(r), out);
	/* A free or expired slot, else the one that expires first. */
	for (int i = 0; i < MMDS_MAX_TOKENS; i++) {
		if (m->tokens[i].expiry_ms <= now) {
			t = &m->tokens[i];
			break;
		}
		if (m->tokens[i].expiry_ms < t->expiry_ms)
			t = &m->tokens[i];
	}
	memcpy(t->s, out, MMDS_TOKEN_LEN + 1);
	t->expiry_ms = now + (uint64_t)ttl * 1000;
	return 0;
}

static bool token_valid(struct mmds *m, const char *s, size_t len)
{
	uint64_t now = mono_ms();

	if (len != MMDS_TOKEN_LEN)
		return false;
	for (int i = 0; i < MMDS_MAX_TOKENS; i++)
		if (m->tokens[i].expiry_ms > now && !memcmp(m->tokens[i].s, s, MMDS_TOKEN_LEN))
			return true;
	return false;
}

/* --- the guest's HTTP -------------------------------------------------------------- */

struct hdr {
	const char *name, *value;
	size_t name_len, value_len;
};

#define MAX_HDRS 64

struct req {
	char method[8];
	const char *uri;
	size_t uri_len;
	bool http10;
	struct hdr h[MAX_HDRS];
	int nh;
	bool json;              /* Accept: application/json */
};

struct resp {
	int status;
	bool http10;
	bool json;              /* Content-Type: application/json (else text/plain) */
	bool allow;             /* Allow: GET, PUT */
	char extra[160];        /* another header line ("Name: value"), or "" */
	char *body;             /* malloc'd */
	size_t body_len;
	bool nomem;
};

static void set_body(struct resp *r, int status, bool json, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void set_body(struct resp *r, int status, bool json, const char *fmt, ...)
{
	va_list ap;
	int n;

	r->status = status;
	r->json = json;
	free(r->body);
	va_start(ap, fmt);
	n = vasprintf(&r->body, fmt, ap);
	va_end(ap);
	if (n < 0) {
		r->body = NULL;
		r->body_len = 0;
		r->nomem = true;
		return;
	}
	r->body_len = (size_t)n;
}

/* Take body (malloc'd, NUL-terminated) as the response's. */
static void take_body(struct resp *r, int status, bool json, char *body)
{
	r->status = status;
	r->json = json;
	free(r->body);
	r->body = body;
	r->body_len = body ? strlen(body) : 0;
	r->nomem = !body;
}

static const struct hdr *header(const struct req *q, const char *a, const char *b)
{
	for (int i = 0; i < q->nh; i++) {
		const struct hdr *h = &q->h[i];

		if ((strlen(a) == h->name_len && !strncasecmp(h->name, a, h->name_len)) ||
		    (b && strlen(b) == h->name_len && !strncasecmp(h->name, b, h->name_len)))
			return h;
	}
	return NULL;
}

static bool is_sp(char c)
{
	return c == ' ' || c == '\t';
}

/*
 * The request in buf[0..len) (its head, through the blank line), as
 * micro-http reads one: 0, or -1 with the refusal in r.
 */
static int parse(struct req *q, const char *buf, size_t len, struct resp *r)
{
	const char *eol = NULL, *p, *sp1, *sp2, *end = buf + len;
	size_t line;

	for (p = buf; p + 1 < end; p++)
		if (p[0] == '\r' && p[1] == '\n') {
			eol = p;
			break;
		}
	line = eol ? (size_t)(eol - buf) : 0;
	if (!eol || line < 14 || !(sp1 = memchr(buf, ' ', line)) ||
	    !(sp2 = memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1)))) {
		set_body(r, 400, true, "Invalid request.");
		return -1;
	}
	if ((size_t)(sp1 - buf) >= sizeof(q->method)) {
		set_body(r, 501, true, "Unsupported HTTP method.");
		return -1;
	}
	memcpy(q->method, buf, (size_t)(sp1 - buf));
	q->method[sp1 - buf] = '\0';
	if (strcmp(q->method, "GET") && strcmp(q->method, "PUT") && strcmp(q->method, "PATCH") &&
	    strcmp(q->method, "DELETE")) {
		set_body(r, 501, true, "Unsupported HTTP method.");
		return -1;
	}
	q->uri = sp1 + 1;
	q->uri_len = (size_t)(sp2 - sp1 - 1);
	if (!q->uri_len) {
		set_body(r, 400, true, "Empty URI not allowed.");
		return -1;
	}
	if ((size_t)(eol - sp2 - 1) != 8 ||
	    (memcmp(sp2 + 1, "HTTP/1.1", 8) && memcmp(sp2 + 1, "HTTP/1.0", 8))) {
		set_body(r, 501, true, "Unsupported HTTP version.");
		return -1;
	}
	q->http10 = !memcmp(sp2 + 1, "HTTP/1.0", 8);
	r->http10 = q->http10;
	/* Header lines, up to the blank one. */
	for (p = eol + 2; p < end;) {
		const char *le = p, *colon, *ne, *vs, *ve;

		while (le < end && *le != '\n')
			le++;
		ve = le;
		if (ve > p && ve[-1] == '\r')
			ve--;
		if (ve == p)
			break;
		colon = memchr(p, ':', (size_t)(ve - p));
		if (!colon) {
			set_body(r, 400, true, "Header is incorrectly formatted. Key: %.*s",
				 (int)(ve - p), p);
			return -1;
		}
		for (ne = colon; ne > p && is_sp(ne[-1]); ne--)
			;
		for (vs = colon + 1; vs < ve && is_sp(*vs); vs++)
			;
		if ((size_t)(colon - p) == 14 && !strncasecmp(p, "Content-Length", 14)) {
			char *e;
			unsigned long n;
			const char *raw = colon + 1;

			n = strtoul(vs, &e, 10);
			if (vs == ve || !isdigit((unsigned char)*vs) || e != ve || n > UINT32_MAX) {
				set_body(r, 400, true, "Invalid value. Key:Content-Length; Value:%.*s",
					 (int)(ve - raw), raw);
				return -1;
			}
			if (n) {
				/* The body is never read: a request with one is refused. */
				set_body(r, 400, true, "Invalid request.");
				return -1;
			}
		} else if ((size_t)(colon - p) == 6 && !strncasecmp(p, "Accept", 6)) {
			q->json = (size_t)(ve - vs) == 16 && !strncmp(vs, "application/json", 16);
		} else if (q->nh < MAX_HDRS) {
			struct hdr *h = &q->h[q->nh++];

			h->name = p;
			h->name_len = (size_t)(ne - p);
			h->value = vs;
			h->value_len = (size_t)(ve - vs);
		}
		p = le + 1;
	}
	return 0;
}

/* The request's absolute path (NUL-terminated copy into out), or false. */
static bool abs_path(const struct req *q, char *out, size_t size)
{
	const char *u = q->uri, *end = q->uri + q->uri_len;

	if (q->uri_len > 7 && !strncasecmp(u, "http://", 7)) {
		u = memchr(u + 7, '/', (size_t)(end - u - 7));
		if (!u)
			return false;
	} else if (*u != '/') {
		return false;
	}
	if ((size_t)(end - u) >= size)
		return false;
	memcpy(out, u, (size_t)(end - u));
	out[end - u] = '\0';
	return true;
}

/* Runs of '/' collapsed. */
static void sanitize(char *s)
{
	char *o = s;

	for (char *i = s; *i; i++)
		if (!(*i == '/' && o > s && o[-1] == '/'))
			*o++ = *i;
	*o = '\0';
}

/* RFC 6901 as serde_json's pointer() reads it. */
static const cJSON *pointer(const cJSON *root, const char *path)
{
	const cJSON *cur = root;
	char tok[4096];

	if (!*path)
		return root;
	if (*path != '/')
		return NULL;
	while (*path == '/' && cur) {
		size_t n = strcspn(path + 1, "/"), o = 0;

		if (n >= sizeof(tok))
			return NULL;
		for (size_t i = 0; i < n; i++) {
			const char *c = path + 1 + i;

			if (c[0] == '~' && i + 1 < n && c[1] == '1') {
				tok[o++] = '/';
				i++;
			} else if (c[0] == '~' && i + 1 < n && c[1] == '0') {
				tok[o++] = '~';
				i++;
			} else {
				tok[o++] = *c;
			}
		}
		tok[o] = '\0';
		path += 1 + n;
		if (cJSON_IsObject(cur)) {
			const cJSON *c;

			cJSON_ArrayForEach(c, cur)
				if (!strcmp(c->string, tok))
					break;
			cur = c;
		} else if (cJSON_IsArray(cur)) {
			char *e;
			unsigned long idx;

			if (!o || tok[0] == '+' || (tok[0] == '0' && o > 1) || !isdigit((unsigned char)tok[0]))
				return NULL;
			idx = strtoul(tok, &e, 10);
			if (*e || idx >= (unsigned long)cJSON_GetArraySize(cur))
				return NULL;
			cur = cJSON_GetArrayItem(cur, (int)idx);
		} else {
			return NULL;
		}
	}
	return cur;
}

/* IMDS text: an object's keys ("/" after objects), a string itself; NULL: unsupported. */
static char *imds_text(const cJSON *v, bool *nomem)
{
	const cJSON *c;
	size_t n = 1, o = 0;
	char *s;

	if (cJSON_IsString(v)) {
		s = strdup(v->valuestring);
		*nomem = !s;
		return s;
	}
	if (!cJSON_IsObject(v))
		return NULL;
	cJSON_ArrayForEach(c, v)
		n += strlen(c->string) + 2;
	s = malloc(n);
	if (!s) {
		*nomem = true;
		return NULL;
	}
	cJSON_ArrayForEach(c, v)
		o += (size_t)sprintf(s + o, "%s%s%s", o ? "\n" : "", c->string,
				     cJSON_IsObject(c) ? "/" : "");
	s[o] = '\0';
	return s;
}

static void serve_get(struct mmds *m, const struct req *q, const char *uri, struct resp *r)
{
	const struct hdr *t = header(q, "X-metadata-token", "X-aws-ec2-metadata-token");
	char path[4096];
	const cJSON *v;
	bool nomem = false;
	size_t n;

	bool valid = t && t->value_len <= TOKEN_MAX_LEN && token_valid(m, t->value, t->value_len);

	/* V1 serves without a valid token; the metrics count them all the same. */
	if (!t) {
		m->st.rx_no_token++;
		METRIC_INC(ember_metrics.mmds.rx_no_token);
	} else if (!valid) {
		m->st.rx_invalid_token++;
		METRIC_INC(ember_metrics.mmds.rx_invalid_token);
	}
	if (m->version == MMDS_V2 && !t) {
		set_body(r, 401, false, "No MMDS token provided. Use `X-metadata-token` or "
			 "`X-aws-ec2-metadata-token` header to specify the session token.");
		return;
	}
	if (m->version == MMDS_V2 && !valid) {
		set_body(r, 401, false, "MMDS token not valid.");
		return;
	}
	snprintf(path, sizeof(path), "%s", uri);
	sanitize(path);
	n = strlen(path);
	if (n && path[n - 1] == '/')
		path[n - 1] = '\0';
	v = pointer(m->data, path);
	if (!m->data && !*path) {
		/* The store before any PUT is null. */
		if (q->json && !m->imds_compat)
			take_body(r, 200, true, strdup("null"));
		else
			set_body(r, 501, false, "Cannot retrieve value. The value has an "
				 "unsupported type.");
		return;
	}
	if (!v) {
		set_body(r, 404, false, "Resource not found: %s.", uri);
		return;
	}
	if (q->json && !m->imds_compat) {
		take_body(r, 200, true, cJSON_PrintUnformatted(v));
		return;
	}
	{
		char *s = imds_text(v, &nomem);

		if (!s && !nomem) {
			set_body(r, 501, false, "Cannot retrieve value. The value has an unsupported "
				 "type.");
			return;
		}
		/* The Content-Type is the one asked for, even when IMDS text (imds_compat). */
		take_body(r, 200, q->json, s);
	}
}

static void serve_put(struct mmds *m, const struct req *q, const char *uri, struct resp *r)
{
	const struct hdr *h = header(q, "X-Forwarded-For", NULL);
	char path[4096], tok[MMDS_TOKEN_LEN + 1], num[16];
	unsigned long ttl;
	const char *v;
	char *e;

	if (h) {
		set_body(r, 400, false, "Invalid header. Reason: Unsupported header name. Key: %.*s",
			 (int)h->name_len, h->name);
		return;
	}
	snprintf(path, sizeof(path), "%s", uri);
	sanitize(path);
	if (strcmp(path, TOKEN_PATH)) {
		set_body(r, 404, false, "Resource not found: %s.", uri);
		return;
	}
	h = header(q, "X-metadata-token-ttl-seconds", "X-aws-ec2-metadata-token-ttl-seconds");
	if (!h) {
		set_body(r, 400, false, "Token time to live value not found. Use "
			 "`X-metadata-token-ttl-seconds` or `X-aws-ec2-metadata-token-ttl-seconds` "
			 "header to specify the token's lifetime.");
		return;
	}
	/* Rust's u32 parse: digits, an optional '+'. */
	v = h->value;
	if (h->value_len && *v == '+')
		v++;
	snprintf(num, sizeof(num), "%.*s", (int)(h->value + h->value_len - v), v);
	ttl = strtoul(num, &e, 10);
	if (!isdigit((unsigned char)num[0]) || *e || h->value + h->value_len - v > 10 ||
	    ttl > UINT32_MAX) {
		set_body(r, 400, false, "Invalid header. Reason: Invalid value. Key:%.*s; Value:%.*s",
			 (int)h->name_len, h->name, (int)h->value_len, h->value);
		return;
	}
	if (ttl < 1 || ttl > MMDS_TOKEN_TTL_MAX) {
		set_body(r, 400, false, "Invalid time to live value provided for token: %lu. Please "
			 "provide a value between 1 and %d.", ttl, MMDS_TOKEN_TTL_MAX);
		return;
	}
	if (token_new(m, (unsigned)ttl, tok) < 0) {
		set_body(r, 400, false, "Token Authority error: Failed to generate a key");
		return;
	}
	set_body(r, 200, false, "%s", tok);
	snprintf(r->extra, sizeof(r->extra), "%.*s: %lu", (int)h->name_len, h->name, ttl);
}

/* micro-http's bytes: see api-socket/http.h (the same server, here for the guest). */
static int serialize(const struct resp *r, uint8_t **out, size_t *outlen)
{
	char *s;
	int n;

	if (r->nomem)
		return -1;
	n = asprintf(&s, "HTTP/1.%c %d \r\nServer: Firecracker API\r\nConnection: keep-alive\r\n"
		     "%s%s%s%sContent-Type: %s\r\nContent-Length: %zu\r\n\r\n",
		     r->http10 ? '0' : '1', r->status, r->allow ? "Allow: GET, PUT\r\n" : "",
		     r->extra, r->extra[0] ? "\r\n" : "", "",
		     r->json ? "application/json" : "text/plain", r->body_len);
	if (n < 0)
		return -1;
	*out = malloc((size_t)n + r->body_len);
	if (!*out) {
		free(s);
		return -1;
	}
	memcpy(*out, s, (size_t)n);
	if (r->body_len)
		memcpy(*out + n, r->body, r->body_len);
	*outlen = (size_t)n + r->body_len;
	free(s);
	return 0;
}

/* The end of the request head (after "\n\n" or "\n\r\n"): its length, or 0. */
static size_t head_len(const uint8_t *in, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++) {
		if (in[i] != '\n')
			continue;
		if (in[i + 1] == '\n')
			return i + 2;
		if (in[i + 1] == '\r' && i + 2 < len && in[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

int mmds_serve(void *opaque, const uint8_t *in, size_t len, bool eof, size_t *consumed,
	       uint8_t **out, size_t *outlen, bool *close)
{
	struct mmds *m = opaque;
	size_t n = head_len(in, len);
	struct req q;
	struct resp r;
	char uri[4096];
	int rc;

	(void)eof;
	*close = false;
	if (!n)
		return 0;
	*consumed = n;
	memset(&q, 0, sizeof(q));
	memset(&r, 0, sizeof(r));
	pthread_mutex_lock(&m->lock);
	m->st.rx_count++;
	METRIC_INC(ember_metrics.mmds.rx_count);
	if (parse(&q, (const char *)in, n, &r) == 0) {
		if (!abs_path(&q, uri, sizeof(uri))) {
			set_body(&r, 400, false, "Invalid URI.");
		} else if (!strcmp(q.method, "GET")) {
			serve_get(m, &q, uri, &r);
		} else if (!strcmp(q.method, "PUT")) {
			serve_put(m, &q, uri, &r);
		} else {
			set_body(&r, 405, false, "Not allowed HTTP method.");
			r.allow = true;
		}
	} else {
		r.http10 = false; /* refusals of the parser go out as HTTP/1.1 */
	}
	rc = serialize(&r, out, outlen);
	if (rc == 0) {
		m->st.tx_bytes += *outlen;
		METRIC_INC(ember_metrics.mmds.tx_count);
	} else {
		METRIC_INC(ember_metrics.mmds.tx_errors);
	}
	pthread_mutex_unlock(&m->lock);
	free(r.body);
	return rc < 0 ? -1 : 1;
}
