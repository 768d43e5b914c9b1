/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ember's API server: HTTP/1.1 on a Unix stream socket, served by one API
 * thread with its own epoll. Every complete request is handed to the VMM
 * thread (an eventfd in the VMM's evloop): the handler runs THERE, one
 * request at a time, in arrival order per connection, while the API thread
 * waits for it. Responses are written without blocking (slow readers do
 * not hold up other clients).
 *
 * Limits: API_MAX_CONNS concurrent connections (more are accepted and
 * closed at once); a connection with an incomplete request for
 * API_IDLE_TIMEOUT_MS is closed, and so is one idle between requests for
 * API_KEEPALIVE_TIMEOUT_MS (a client that leaks connections cannot lock
 * the others out for longer); a refused request gets its error response
 * and the connection is closed.
 */
#ifndef EMBER_API_SERVER_H
#define EMBER_API_SERVER_H

#include <stddef.h>

#include "api-socket/http.h"
#include "core/evloop.h"

#define API_MAX_CONNS        64
#define API_IDLE_TIMEOUT_MS  10000
#define API_KEEPALIVE_TIMEOUT_MS 30000

struct api_server;

/*
 * Runs on the VMM thread. Fill resp (http_response_json/_error/_empty);
 * a resp left untouched answers 500. Setting resp->close closes the
 * connection after the response.
 */
typedef void (*api_handler_fn)(void *opaque, const struct http_request *req,
			       struct http_response *resp);

/*
 * Bind sock_path (refused when something already exists there, like
 * Firecracker: the caller removes a stale socket), start the API thread and
 * register the hand-over eventfd in vmm_loop. Call it on the VMM thread or
 * before evloop_run() (evloop is not thread-safe). 0, or -1 with a
 * one-line reason in err.
 */
int api_server_start(struct api_server **out, const char *sock_path,
		     struct evloop *vmm_loop, api_handler_fn handler, void *opaque,
		     char *err, size_t errlen);

/* Change the incomplete-request / stalled-write timeout (tests). */
void api_server_set_idle_timeout(struct api_server *s, int ms);
/* Change the timeout of connections idle between requests (tests). */
void api_server_set_keepalive_timeout(struct api_server *s, int ms);
/*
 * The largest request body (--http-api-max-payload-size; 0 or more than
 * HTTP_MAX_BODY: HTTP_MAX_BODY), for every connection accepted from now
 * on: call it before api_server_start(). A request announcing more is
 * refused on its headers alone, as micro-http does.
 */
void api_server_set_max_payload(size_t bytes);

/*
 * Stop the API thread, close every connection, remove the eventfd from the
 * VMM loop, unlink the socket and free s. Call it on the VMM thread (or
 * after the loop stopped), never from inside the handler. NULL is a no-op.
 */
void api_server_stop(struct api_server *s);

#endif
