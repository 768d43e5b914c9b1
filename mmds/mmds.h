/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The microVM metadata service (MMDS), as Firecracker's: a JSON document
 * the API fills (PUT /mmds replaces it, PATCH /mmds merges into it as RFC
 * 7396 says, GET /mmds reads it) and the guest reads over HTTP at
 * 169.254.169.254 (or the address /mmds/config gives) through the network
 * side in mmds/tcp.h.
 *
 * The guest's HTTP: GET <path> reads the JSON pointer <path> (runs of '/'
 * collapsed, one trailing '/' ignored) as IMDS text (an object: its keys,
 * one per line, "/" after those holding objects; a string: itself; other
 * values: 501) or, with "Accept: application/json", as compact JSON. V2
 * wants a session token on every GET (X-metadata-token, or
 * X-aws-ec2-metadata-token), got from PUT /latest/api/token with
 * X-metadata-token-ttl-seconds (1 to 21600); V1 takes GETs without one.
 * Status codes, headers and messages are Firecracker's word for word
 * (src/vmm/src/mmds/mod.rs, data_store.rs, token.rs; micro-http's
 * response format).
 *
 * Objects are kept with their keys sorted (serde_json's order) and, of
 * duplicate keys, the last one's value. Thread-safe: the API and the
 * network devices share one store.
 */
#ifndef EMBER_MMDS_H
#define EMBER_MMDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cJSON;

enum mmds_version { MMDS_V1 = 1, MMDS_V2 = 2 };

#define MMDS_DEFAULT_IPV4   "169.254.169.254"
#define MMDS_MAX_TOKENS     1024   /* live session tokens kept; then the soonest to expire goes */
#define MMDS_TOKEN_TTL_MAX  21600
#define MMDS_TOKEN_LEN      48

/* The MAC the MMDS answers from (Firecracker's). */
extern const uint8_t mmds_mac[6];

struct mmds_stats {
	uint64_t rx_count;          /* requests served to the guest */
	uint64_t rx_no_token, rx_invalid_token;
	uint64_t tx_bytes;          /* response bytes */
};

struct mmds;

/* An empty store (not initialized: PATCH is refused until a PUT) of at most limit bytes. */
struct mmds *mmds_new(size_t limit);
void mmds_free(struct mmds *m);

void mmds_set_limit(struct mmds *m, size_t limit);
void mmds_set_version(struct mmds *m, enum mmds_version v, bool imds_compat);

/* What a change to the store can meet. */
enum mmds_error {
	MMDS_OK = 0,
	MMDS_NO_MEMORY = -1,
	MMDS_TOO_BIG = -2,          /* "The MMDS patch request doesn't fit." (413) */
	MMDS_NOT_INITIALIZED = -3,  /* "The MMDS data store is not initialized." */
};
/* Firecracker's words for e (without its "MMDS error: " prefixes). */
const char *mmds_strerror(enum mmds_error e);

/* PUT /mmds: v (any JSON value) replaces the store. */
enum mmds_error mmds_put(struct mmds *m, const struct cJSON *v);
/* PATCH /mmds: merge patch (RFC 7396) into an initialized store. */
enum mmds_error mmds_patch(struct mmds *m, const struct cJSON *patch);
/* GET /mmds: compact JSON, "{}" for an empty store (malloc'd; NULL: no memory). */
char *mmds_json(struct mmds *m);

/*
 * The guest's side of one connection (struct tcp_app's serve, opaque the
 * struct mmds): answers the first complete request in in[0..len), or
 * waits for more (0).
 */
int mmds_serve(void *m, const uint8_t *in, size_t len, bool eof, size_t *consumed,
	       uint8_t **out, size_t *outlen, bool *close);

void mmds_get_stats(struct mmds *m, struct mmds_stats *st);

#endif
