/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The MMDS's store and its HTTP for the guest (mmds/mmds.c), against what
 * Firecracker's sources say (src/vmm/src/mmds/data_store.rs and mod.rs,
 * their unit tests; tests/integration_tests/functional/test_mmds.py): the
 * size limit, merge patches, sorted keys, last of duplicate keys; GET as
 * IMDS text or JSON, JSON pointers, V1 and V2 tokens, PUT /latest/api/token
 * and its refusals, micro-http's parse errors, the response bytes.
 */
#include "api-socket/json.h"
#include "core/metrics.h"
#include "mmds/mmds.h"
#include "tests/unit/unit.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static enum mmds_error put(struct mmds *m, const char *text)
{
	char err[300];
	cJSON *j = json_parse_value(text, strlen(text), err, sizeof(err));
	enum mmds_error e;

	CHECK(j != NULL);
	e = mmds_put(m, j);
	cJSON_Delete(j);
	return e;
}

static enum mmds_error patch(struct mmds *m, const char *text)
{
	char err[300];
	cJSON *j = json_parse_value(text, strlen(text), err, sizeof(err));
	enum mmds_error e;

	CHECK(j != NULL);
	e = mmds_patch(m, j);
	cJSON_Delete(j);
	return e;
}

static void check_json(struct mmds *m, const char *want)
{
	char *s = mmds_json(m);

	CHECK_STREQ(s, want);
	free(s);
}

/* One request to the guest side: the whole response (static). */
static const char *ask(struct mmds *m, const char *req)
{
	static char out[70000];
	uint8_t *o = NULL;
	size_t used = 0, olen = 0;
	bool close = true;
	int r = mmds_serve(m, (const uint8_t *)req, strlen(req), false, &used, &o, &olen, &close);

	CHECK_EQ(r, 1);
	CHECK_EQ(used, strlen(req));
	CHECK(!close);
	if (r != 1 || olen >= sizeof(out)) {
		free(o);
		return "";
	}
	memcpy(out, o, olen);
	out[olen] = '\0';
	free(o);
	return out;
}

static const char *body_of(const char *resp)
{
	const char *b = strstr(resp, "\r\n\r\n");

	return b ? b + 4 : "";
}

static void test_store(void)
{
	struct mmds *m = mmds_new(51200);

	check_json(m, "{}");
	CHECK_EQ(patch(m, "{\"a\": 1}"), MMDS_NOT_INITIALIZED);
	CHECK_STREQ(mmds_strerror(MMDS_NOT_INITIALIZED), "The MMDS data store is not initialized.");
	/* data_store.rs test_mmds: put, then patch replaces user-data */
	CHECK_EQ(put(m, "{\"meta-data\":{\"iam\":\"dummy\"},\"user-data\":\"1522850095\"}"), MMDS_OK);
	check_json(m, "{\"meta-data\":{\"iam\":\"dummy\"},\"user-data\":\"1522850095\"}");
	CHECK_EQ(patch(m, "{\"user-data\":\"10\"}"), MMDS_OK);
	check_json(m, "{\"meta-data\":{\"iam\":\"dummy\"},\"user-data\":\"10\"}");
	/* RFC 7396: null removes, objects merge, nulls inside new objects are dropped */
	CHECK_EQ(patch(m, "{\"meta-data\":{\"iam\":null,\"new\":{\"x\":null,\"y\":2}},"
		       "\"user-data\":null}"), MMDS_OK);
	check_json(m, "{\"meta-data\":{\"new\":{\"y\":2}}}");
	/* Keys sorted; of duplicates, the last */
	CHECK_EQ(put(m, "{\"b\":1,\"a\":{\"z\":1,\"c\":2},\"b\":3,\"aa\":[1.5,\"s\"]}"), MMDS_OK);
	check_json(m, "{\"a\":{\"c\":2,\"z\":1},\"aa\":[1.5,\"s\"],\"b\":3}");
	/* Not an object: any value may be put; a patch that is not an object replaces */
	CHECK_EQ(put(m, "\"string\""), MMDS_OK);
	check_json(m, "\"string\"");
	CHECK_EQ(patch(m, "{\"k\":\"v\"}"), MMDS_OK);
	check_json(m, "{\"k\":\"v\"}");
	/* The limit counts the compact JSON; equal fits */
	mmds_set_limit(m, 11);
	CHECK_EQ(put(m, "{\"k\": \"vvv\"}"), MMDS_OK); /* {"k":"vvv"} is 11 bytes */
	CHECK_EQ(put(m, "{\"k\":\"vvvv\"}"), MMDS_TOO_BIG);
	CHECK_EQ(patch(m, "{\"k\":\"vvvv\"}"), MMDS_TOO_BIG);
	check_json(m, "{\"k\":\"vvv\"}");
	CHECK_STREQ(mmds_strerror(MMDS_TOO_BIG), "The MMDS patch request doesn't fit.");
	mmds_free(m);
}

#define DATA "{\"latest\":{\"meta-data\":{\"ami-id\":\"ami-12345678\",\"dummy_array\":[\"arr_val1\"]," \
	"\"dummy_obj\":{\"a\":\"b\"},\"dummy_empty\":\"\",\"num\":512,\"a/b\":\"slash\",\"t~x\":\"tilde\"}}}"

static void test_get_v1(void)
{
	struct mmds *m = mmds_new(51200);
	const char *r;
	struct mmds_stats st;

	/* Before any PUT: null, which IMDS cannot show */
	r = ask(m, "GET / HTTP/1.1\r\n\r\n");
	CHECK(strstr(r, "HTTP/1.1 501 \r\n") == r);
	CHECK(put(m, DATA) == MMDS_OK);
	r = ask(m, "GET /latest/meta-data/ HTTP/1.1\r\n\r\n");
	CHECK_STREQ(r, "HTTP/1.1 200 \r\nServer: Firecracker API\r\nConnection: keep-alive\r\n"
		    "Content-Type: text/plain\r\nContent-Length: 53\r\n\r\n"
		    "a/b\nami-id\ndummy_array\ndummy_empty\ndummy_obj/\nnum\nt~x");
	CHECK_STREQ(body_of(ask(m, "GET //latest//meta-data/ami-id/ HTTP/1.0\r\n\r\n")),
		    "ami-12345678");
	CHECK(!strncmp(ask(m, "GET /latest/meta-data/ami-id HTTP/1.0\r\n\r\n"), "HTTP/1.0 200 ",
		       13));
	CHECK_STREQ(body_of(ask(m, "GET /latest/meta-data/dummy_array/0 HTTP/1.1\r\n\r\n")),
		    "arr_val1");
	CHECK_STREQ(body_of(ask(m, "GET /latest/meta-data/a~1b HTTP/1.1\r\n\r\n")), "slash");
	CHECK_STREQ(body_of(ask(m, "GET /latest/meta-data/t~0x HTTP/1.1\r\n\r\n")), "tilde");
	CHECK_STREQ(body_of(ask(m, "GET /latest/meta-data/dummy_empty HTTP/1.1\r\n\r\n")), "");
	r = ask(m, "GET /latest/meta-data/num HTTP/1.1\r\n\r\n");
	CHECK(strstr(r, "HTTP/1.1 501 ") == r);
	CHECK_STREQ(body_of(r), "Cannot retrieve value. The value has an unsupported type.");
	r = ask(m, "GET /latest/meta-data/dummy_array/01 HTTP/1.1\r\n\r\n");
	CHECK(strstr(r, "HTTP/1.1 404 ") == r);
	CHECK_STREQ(body_of(r), "Resource not found: /latest/meta-data/dummy_array/01.");
	/* JSON when asked for */
	r = ask(m, "GET /latest/meta-data/num HTTP/1.1\r\nAccept: application/json\r\n\r\n");
	CHECK(strstr(r, "Content-Type: application/json\r\n") != NULL);
	CHECK_STREQ(body_of(r), "512");
	CHECK_STREQ(body_of(ask(m, "GET /latest/meta-data/dummy_obj HTTP/1.1\r\naccept: "
				"application/json\r\n\r\n")), "{\"a\":\"b\"}");
	CHECK_STREQ(body_of(ask(m, "GET /latest/meta-data/ami-id HTTP/1.1\r\nAccept: "
				"application/json\r\n\r\n")), "\"ami-12345678\"");
	/* imds_compat: IMDS text whatever Accept says (the Content-Type still says JSON) */
	mmds_set_version(m, MMDS_V1, true);
	r = ask(m, "GET /latest/meta-data/dummy_obj HTTP/1.1\r\nAccept: application/json\r\n\r\n");
	CHECK_STREQ(body_of(r), "a");
	CHECK(strstr(r, "Content-Type: application/json\r\n") != NULL);
	/* V1 takes a missing or bad token, and counts it */
	mmds_get_stats(m, &st);
	CHECK(st.rx_no_token > 0);
	CHECK_EQ(st.rx_invalid_token, 0);
	ask(m, "GET / HTTP/1.1\r\nX-metadata-token: foo\r\n\r\n");
	mmds_get_stats(m, &st);
	CHECK_EQ(st.rx_invalid_token, 1);
	/* and so do Firecracker's metrics (test_mmds_token reads them) */
	CHECK_EQ(METRIC_GET(ember_metrics.mmds.rx_invalid_token), 1);
	CHECK_EQ(METRIC_GET(ember_metrics.mmds.rx_no_token), st.rx_no_token);
	CHECK_EQ(METRIC_GET(ember_metrics.mmds.rx_count), st.rx_count);
	/* An absolute URI */
	CHECK_STREQ(body_of(ask(m, "GET http://169.254.169.254/latest/meta-data/ami-id "
				"HTTP/1.1\r\n\r\n")), "ami-12345678");
	mmds_free(m);
}

static void test_tokens_v2(void)
{
	struct mmds *m = mmds_new(51200);
	char req[400], tok[MMDS_TOKEN_LEN + 1];
	const char *r;

	mmds_set_version(m, MMDS_V2, false);
	CHECK(put(m, DATA) == MMDS_OK);
	r = ask(m, "GET /latest/meta-data/ami-id HTTP/1.1\r\n\r\n");
	CHECK(strstr(r, "HTTP/1.1 401 ") == r);
	CHECK_STREQ(body_of(r), "No MMDS token provided. Use `X-metadata-token` or "
		    "`X-aws-ec2-metadata-token` header to specify the session token.");
	r = ask(m, "GET /latest/meta-data/ami-id HTTP/1.1\r\nX-metadata-token: foo\r\n\r\n");
	CHECK(strstr(r, "HTTP/1.1 401 ") == r);
	CHECK_STREQ(body_of(r), "MMDS token not valid.");
	/* A token: its TTL header echoed as the client spelled it */
	r = ask(m, "PUT /latest/api/token HTTP/1.1\r\nx-METADATA-token-ttl-seconds: 60\r\n\r\n");
	CHECK(strstr(r, "HTTP/1.1 200 \r\nServer: Firecracker API\r\nConnection: keep-alive\r\n"
		      "x-METADATA-token-ttl-seconds: 60\r\nContent-Type: text/plain\r\n"
		      "Content-Length: 48\r\n\r\n") == r);
	CHECK_EQ(strlen(body_of(r)), MMDS_TOKEN_LEN);
	snprintf(tok, sizeof(tok), "%s", body_of(r));
	snprintf(req, sizeof(req), "GET /latest/meta-data/ami-id HTTP/1.1\r\n"
		 "X-metadata-token: %s\r\n\r\n", tok);
	CHECK_STREQ(body_of(ask(m, req)), "ami-12345678");
	snprintf(req, sizeof(req), "GET /latest/meta-data/ami-id HTTP/1.1\r\n"
		 "X-aws-ec2-metadata-token: %s\r\n\r\n", tok);
	CHECK_STREQ(body_of(ask(m, req)), "ami-12345678");
	/* The AWS spelling of the TTL */
	r = ask(m, "PUT /latest/api/token HTTP/1.1\r\nX-aws-ec2-metadata-token-ttl-seconds: "
		"21600\r\n\r\n");
	CHECK(strstr(r, "HTTP/1.1 200 ") == r);
	/* test_mmds_v2_negative's refusals */
	r = ask(m, "PUT /latest/api/token HTTP/1.1\r\n\r\n");
	CHECK(strstr(r, "HTTP/1.1 400 ") == r);
	CHECK_STREQ(body_of(r), "Token time to live value not found. Use "
		    "`X-metadata-token-ttl-seconds` or `X-aws-ec2-metadata-token-ttl-seconds` "
		    "header to specify the token's lifetime.");
	CHECK_STREQ(body_of(ask(m, "PUT / HTTP/1.1\r\nX-Forwarded-For: foo\r\n\r\n")),
		    "Invalid header. Reason: Unsupported header name. Key: X-Forwarded-For");
	r = ask(m, "PUT /latest/api/toke HTTP/1.1\r\nX-metadata-token-ttl-seconds: 1\r\n\r\n");
	CHECK(strstr(r, "HTTP/1.1 404 ") == r);
	CHECK_STREQ(body_of(r), "Resource not found: /latest/api/toke.");
	CHECK_STREQ(body_of(ask(m, "PUT /latest/api/token HTTP/1.1\r\n"
				"X-metadata-token-ttl-seconds: 0\r\n\r\n")),
		    "Invalid time to live value provided for token: 0. Please provide a value "
		    "between 1 and 21600.");
	CHECK_STREQ(body_of(ask(m, "PUT /latest/api/token HTTP/1.1\r\n"
				"X-metadata-token-ttl-seconds: 21601\r\n\r\n")),
		    "Invalid time to live value provided for token: 21601. Please provide a "
		    "value between 1 and 21600.");
	CHECK_STREQ(body_of(ask(m, "PUT /latest/api/token HTTP/1.1\r\n"
				"X-metadata-token-ttl-seconds: application/json\r\n\r\n")),
		    "Invalid header. Reason: Invalid value. Key:X-metadata-token-ttl-seconds; "
		    "Value:application/json");
	/* A token of 1 s expires */
	r = ask(m, "PUT /latest/api/token HTTP/1.1\r\nX-metadata-token-ttl-seconds: 1\r\n\r\n");
	snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nX-metadata-token: %s\r\n\r\n", body_of(r));
	CHECK(strstr(ask(m, req), "HTTP/1.1 200 ") != NULL);
	usleep(1100 * 1000);
	CHECK_STREQ(body_of(ask(m, req)), "MMDS token not valid.");
	/* Other methods */
	r = ask(m, "PATCH / HTTP/1.1\r\n\r\n");
	CHECK(strstr(r, "HTTP/1.1 405 \r\nServer: Firecracker API\r\nConnection: keep-alive\r\n"
		      "Allow: GET, PUT\r\nContent-Type: text/plain\r\n") == r);
	CHECK_STREQ(body_of(r), "Not allowed HTTP method.");
	mmds_free(m);
}

static void test_parse_errors(void)
{
	struct mmds *m = mmds_new(51200);
	static const struct {
		const char *req;
		int status;
		const char *body;
	} t[] = {
		{ "GET /\r\n\r\n", 400, "Invalid request." },
		{ "GET / HTTP/1.1\n\n", 400, "Invalid request." },
		{ "POST / HTTP/1.1\r\n\r\n", 501, "Unsupported HTTP method." },
		{ "GET / HTTP/2.0\r\n\r\n", 501, "Unsupported HTTP version." },
		{ "GET  HTTP/1.0\r\n\r\n", 400, "Invalid request." }, /* under 14 bytes */
		{ "PATCH  HTTP/1.1\r\n\r\n", 400, "Empty URI not allowed." },
		{ "GET / HTTP/1.1\r\nbadheader\r\n\r\n", 400,
		  "Header is incorrectly formatted. Key: badheader" },
		{ "GET / HTTP/1.1\r\nContent-Length: 100\r\n\r\n", 400, "Invalid request." },
		{ "GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n", 400,
		  "Invalid value. Key:Content-Length; Value: x" },
		{ "GET latest HTTP/1.1\r\n\r\n", 400, "Invalid URI." },
	};
	char want[32];

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		const char *r = ask(m, t[i].req);

		snprintf(want, sizeof(want), "HTTP/1.1 %d \r\n", t[i].status);
		unit_check(strstr(r, want) == r, __FILE__, __LINE__, t[i].req, "got %.40s", r);
		unit_check(!strcmp(body_of(r), t[i].body), __FILE__, __LINE__, t[i].req,
			   "body \"%s\"", body_of(r));
	}
	/* The parser's refusals are sent as JSON (micro-http's default) */
	CHECK(strstr(ask(m, "POST / HTTP/1.1\r\n\r\n"), "Content-Type: application/json") != NULL);
	/* "Invalid URI." is text */
	CHECK(strstr(ask(m, "GET latest HTTP/1.1\r\n\r\n"), "Content-Type: text/plain") != NULL);
	mmds_free(m);
}

static void test_framing(void)
{
	struct mmds *m = mmds_new(51200);
	const char *two = "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n";
	uint8_t *o = NULL;
	size_t used = 0, olen = 0;
	bool close;

	/* Incomplete: wait */
	CHECK_EQ(mmds_serve(m, (const uint8_t *)"GET / HTTP/1.1\r\n", 16, false, &used, &o, &olen,
			    &close), 0);
	/* Pipelined: the first only */
	CHECK_EQ(mmds_serve(m, (const uint8_t *)two, strlen(two), false, &used, &o, &olen,
			    &close), 1);
	CHECK_EQ(used, 19);
	free(o);
	/* "\n\r\n" ends a head too */
	CHECK_EQ(mmds_serve(m, (const uint8_t *)"GET / HTTP/1.1\r\nA: b\n\r\nX", 25, false, &used,
			    &o, &olen, &close), 1);
	CHECK_EQ(used, 23);
	free(o);
	mmds_free(m);
}

UNIT_MAIN(TEST(test_store), TEST(test_get_v1), TEST(test_tokens_v2), TEST(test_parse_errors),
	  TEST(test_framing))
