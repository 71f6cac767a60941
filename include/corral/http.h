/*
 * corral/http.h -- HTTP client for corral tasks (libcorral-http, on libcurl).
 *
 * A client owns one libcurl multi handle driven by the runtime's libuv loop:
 * one connection pool shared by every task of the runtime, keep-alive, HTTP/2
 * multiplexing when the server offers it, limits on connections in total and
 * per host. A request looks blocking to the task that makes it and is a
 * cancellation point: when the task's scope is cancelled (a deadline, a
 * failing sibling, Ctrl-C) the transfer is removed from the pool at once,
 * its connection closed, and the call returns CORRAL_ECANCELED.
 *
 * Link with libcorral-http (pkg-config: corral-http; CMake:
 * corral::corral_http or corral::corral_http_static).
 * Conventions are those of corral.h (BLOCKS, TASK ONLY, OWNERSHIP; times in
 * nanoseconds; 0 or a negative code).
 *
 * Results and errors. An HTTP response, whatever its status (404, 500, ...),
 * is a result: the call returns 0 and fills the response. Only transport
 * failures are errors; the error record (corral_last_error()) holds the
 * method, the URL (control characters escaped, long ones shortened) and
 * curl's own message. The codes:
 *   CORRAL_ECONNREFUSED       nobody listens at the address
 *   CORRAL_ECONNRESET         the connection broke: reset by the peer, closed
 *                             before the whole response arrived, empty reply
 *   CORRAL_HTTP_ERESOLVE      the host name could not be resolved (DNS)
 *   CORRAL_HTTP_ETOOBIG       the response body exceeds the size cap, or the
 *                             header lines of the transfer's responses
 *                             (1xx, the final one) exceed 256 KiB together,
 *                             or one line is longer than 100 KiB
 *   CORRAL_ETIMEDOUT          the connect timeout option expired
 *   CORRAL_HTTP_ETLS          TLS handshake or certificate verification failed
 *   CORRAL_HTTP_EPROTO        the server broke the HTTP protocol (a reply
 *                             that is not HTTP, a malformed status line,
 *                             a NUL in a header, a broken chunked
 *                             encoding, a Content-Length that is not a
 *                             number or two different ones: RFC 9112
 *                             6.3),
 *                             too many redirects, or a redirect to a scheme
 *                             other than http / https (file://, ftp://,
 *                             gopher://, dict://, ...: never followed)
 *   CORRAL_ECANCELED          the calling task's scope was cancelled, or the
 *                             client was closed under the request
 *   CORRAL_EINVAL             bad argument; a URL that does not start with
 *                             http:// or https:// (no scheme is guessed),
 *                             has no host, or holds a space or control
 *                             character; a method that is not an RFC 9110
 *                             token; a header line that is not "Name: value"
 *                             with a token name, or holds CR, LF or another
 *                             control character (header injection), or
 *                             sets the framing (a Content-Length other
 *                             than body_len, a Transfer-Encoding: request
 *                             smuggling; neither as a default header); a
 *                             client that is closed; a HEAD with a body.
 *                             Nothing is sent.
 *   CORRAL_ENOMEM, CORRAL_EIO (any other curl failure; see the message)
 *   CORRAL_EFOREIGN           the client belongs to another runtime
 *   CORRAL_ENOTASK            called outside a corral task
 * The CORRAL_HTTP_E* codes are negative errno values: corral_strerror()
 * describes them, corral_err_name() gives the errno name ("EMSGSIZE").
 * Messages and corral_dump show a password in a URL's userinfo as "***".
 * Timeouts come from corral scopes (corral_move_on_after, corral_fail_after,
 * group and gather timeouts) plus the connect timeout option: a server that
 * accepts and never answers is only given up by a deadline.
 */
#ifndef CORRAL_HTTP_H
#define CORRAL_HTTP_H

#include "corral.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CORRAL_HTTP_ERESOLVE (-ENXIO)         /* "No such device or address" */
#define CORRAL_HTTP_ETOOBIG (-EMSGSIZE)       /* "Message too long" */
#define CORRAL_HTTP_ETLS (-EKEYREJECTED)      /* "Key was rejected by service" */
#define CORRAL_HTTP_EPROTO (-EPROTO)          /* "Protocol error" */

/* libcurl version in use ("8.5.0"), static. */
CORRAL_API const char *corral_http_curl_version(void);

/* ------------------------------------------------------------------------ */
/* Client                                                                    */
/* ------------------------------------------------------------------------ */

typedef struct corral_http_client corral_http_client;

typedef enum {
  CORRAL_HTTP_VERSION_DEFAULT = 0, /* curl's choice: HTTP/2 over TLS when the
                                      server offers it (ALPN), else 1.1 */
  CORRAL_HTTP_VERSION_1_1,         /* HTTP/1.1 only */
  CORRAL_HTTP_VERSION_2,           /* ask for HTTP/2 (ALPN or Upgrade: h2c) */
  CORRAL_HTTP_VERSION_2_PRIOR_KNOWLEDGE /* cleartext HTTP/2 without upgrade
                                           (curl --http2-prior-knowledge) */
} corral_http_version;

typedef struct corral_http_client_opts {
  const char *user_agent;       /* NULL: "corral-http/<version>"; copied;
                                   a control character: CORRAL_EINVAL */
  const char *const *headers;   /* default request headers, "Name: value",
                                   NULL-terminated; copied. A request header
                                   of the same name replaces it */
  long max_connections;         /* open connections in total; 0: no limit.
                                   Requests beyond it wait for a free one */
  long max_host_connections;    /* per host (and port); 0: no limit */
  int64_t connect_timeout_ns;   /* TCP + TLS connect; CORRAL_FOREVER: none;
                                   0 (not set): 30 s; < 0: already expired */
  long max_redirects;           /* follow up to this many redirects (3xx
                                   with Location); 0: do not follow */
  int insecure;                 /* 1: do not verify the server's TLS
                                   certificate and name. Default: verify */
  const char *ca_file;          /* PEM bundle to verify with (copied; one
                                   that cannot be read: CORRAL_EINVAL at
                                   open); NULL: the system's */
  corral_http_version version;  /* see corral_http_version */
  size_t max_body;              /* default in-memory body cap, bytes;
                                   0: 64 MiB */
  int verbose;                  /* 1: curl's trace on stderr */
  int decompress;               /* 1: send Accept-Encoding with the codings
                                   libcurl decodes (gzip, deflate, and br,
                                   zstd where built in) and hand over the
                                   decoded body; the body cap counts decoded
                                   bytes. 0 (default, as libcurl and curl
                                   without --compressed): nothing is asked
                                   for and a body is handed over as it came,
                                   Content-Encoding and all */
  const char *proxy;            /* NULL: from the environment (see
                                   corral_http_client_open); "": no proxy,
                                   whatever the environment says; else the
                                   proxy's URL ("http://host:port", also
                                   https://, socks4://, socks5://,
                                   socks5h://; curl's CURLOPT_PROXY), for
                                   every request. Copied; a control character or space:
                                   CORRAL_EINVAL */
} corral_http_client_opts;

/* TASK ONLY. Open a client: connection pool and defaults, on the current
 * runtime's loop. opts may be NULL. Proxies (opts->proxy NULL): curl's
 * environment variables are honoured, as libcurl does by default:
 * http_proxy (lower case only: HTTP_PROXY is what a CGI program gets from
 * a request's "Proxy:" header), https_proxy / HTTPS_PROXY, all_proxy /
 * ALL_PROXY, and no_proxy / NO_PROXY (hosts reached directly); they are
 * looked at when the client opens: if none is set, no proxy is used.
 * The calling task owns the client and
 * must close it before it returns; any task of the same runtime may make
 * requests with it meanwhile (typically its children). A client still open
 * when its owner task (and every task it spawned) has ended is a misuse:
 * it is reported on stderr and closed then, so no connection outlives it.
 * Returns 0, CORRAL_EINVAL, CORRAL_ENOMEM, CORRAL_ENOTASK. On error *out is
 * NULL. */
CORRAL_API int corral_http_client_open(corral_http_client **out,
                                       const corral_http_client_opts *opts);

/* Close the client: every connection is closed, everything it owns is
 * freed. Never blocks. Requests still in flight in other tasks are
 * cancelled first: they return CORRAL_ECANCELED. NULL is accepted; a client
 * closed already, or one of another runtime, is left alone (a message on
 * stderr). Any task of the runtime may close it, also from inside a body
 * callback. */
CORRAL_API void corral_http_client_close(corral_http_client *c);

typedef struct corral_http_client_stats {
  uint64_t requests;     /* transfers finished (any outcome) */
  uint64_t connections;  /* new connections opened (the rest were reused) */
  uint64_t in_flight;    /* transfers now in the pool */
  uint64_t bytes_in;     /* response body bytes received */
} corral_http_client_stats;

/* Zeroes when c is NULL, closed or of another runtime. */
CORRAL_API void corral_http_client_stats_get(const corral_http_client *c,
                                             corral_http_client_stats *out);

/* ------------------------------------------------------------------------ */
/* Requests                                                                  */
/* ------------------------------------------------------------------------ */

/* Streaming: called in the requesting task for each piece of the response
 * body (at most 8 KiB), in order, so it may block (write to a socket, a
 * file, sleep) and may make requests of its own. While it runs, the
 * transfer is paused (flow control). A cancellation reaches its blocking
 * calls like any other. Return 0 to go on, or a negative code to stop: the
 * request then returns that code (with the record the callback made, e.g.
 * with corral_errorf). */
typedef int (*corral_http_body_fn)(void *arg, const void *data, size_t len);

/* A ready-made corral_http_body_fn: writes each piece to the corral_stream
 * given as its arg (a pipe, a socket, stdout: corral/stream.h), so a
 * response flows into a stream with the reader's pace as back-pressure:
 *   req.on_body = corral_http_body_to_stream; req.on_body_arg = stream;
 * Returns what corral_stream_write returns (0, CORRAL_EPIPE, ...). */
CORRAL_API int corral_http_body_to_stream(void *stream, const void *data,
                                          size_t len);

typedef struct corral_http_request {
  const char *method;          /* "GET", "POST", "HEAD", ... NULL: GET, or
                                  POST when a body is given */
  const char *url;             /* "http://..." or "https://..." (scheme in
                                  any case); a C string: a NUL ends it */
  const char *const *headers;  /* "Name: value", NULL-terminated; "Name:"
                                  removes a default header */
  const void *body;            /* request body (borrowed until return), sent
                                  with Content-Length. No Content-Type is
                                  sent unless a header names one */
  size_t body_len;
  size_t max_body;             /* cap on the body, bytes: in memory, 0 means
                                  the client's; streamed (on_body), 0 means
                                  none */
  corral_http_body_fn on_body; /* non-NULL: stream the body to it instead of
                                  keeping it in memory */
  void *on_body_arg;
} corral_http_request;

typedef struct corral_http_header {
  const char *name;  /* as sent by the server */
  const char *value; /* leading/trailing blanks removed */
} corral_http_header;

/* The response to one request. corral_http_fetch() zeroes it first (free a
 * previous response before reusing the struct), then fills it. On an error
 * return the numbers that arrived are kept (status, version, redirects,
 * reused, total_ns) but nothing is owned (headers, body and url are NULL),
 * so returning at once leaks nothing. After a success the caller owns what
 * it points to: release with corral_http_response_free(). */
typedef struct corral_http_response {
  int status;                   /* 200, 404, ...; 0 if none arrived */
  int version;                  /* 10, 11, 20 (HTTP/1.0, 1.1, 2) */
  corral_http_header *headers;  /* of the final response (after redirects);
                                   a folded value (obs-fold) joined with one
                                   space, RFC 9112 5.2 */
  size_t header_count;
  char *body;                   /* NUL-terminated (not counted in body_len);
                                   NULL when streamed or empty */
  size_t body_len;
  char *url;                    /* the final URL (after redirects), as
                                   curl reports it: a password given in
                                   the URL is in it */
  long redirects;               /* redirects followed */
  int reused;                   /* 1: the request went on a pooled
                                   connection, no new connect */
  int64_t total_ns;             /* curl's total time for the transfer */
} corral_http_response;

/* TASK ONLY, BLOCKS. Send the request and wait for the whole response
 * (status, headers, body in memory or streamed to req->on_body). resp may be
 * NULL when only the return code matters. 4xx / 5xx statuses are results:
 * 0 is returned and resp->status says which. On a transport failure a
 * negative code (see the top of this file) with curl's message in the error
 * record. Cancelled (the task's scope): the transfer is removed at once,
 * its connection closed, CORRAL_ECANCELED returned.
 * An idempotent request (GET, HEAD, OPTIONS, TRACE, PUT, DELETE; RFC 9110
 * 9.2.2) that broke on a reused connection before any byte of a response
 * arrived (the server closed it as the request went out) is sent once more
 * on a new connection.
 * Methods: GET, HEAD and POST as curl sends them; any other token (PUT,
 * DELETE, PATCH, OPTIONS, PROPFIND, ...) as the request line's method, with
 * the body when one is given (a GET with a body stays a GET). An empty
 * POST, PUT or PATCH says Content-Length: 0 (RFC 9110 8.6).
 * Redirects (max_redirects > 0; 301, 302, 303, 307, 308 with a Location)
 * follow curl's rules: a POST answered with 301, 302 or 303 continues as a
 * GET without its body, 307 and 308 keep method and body; 303 turns any
 * method but HEAD into a GET (RFC 9110 15.4.4); other methods keep method
 * and body. corral-http follows redirects itself (curl alone sends a PUT
 * or DELETE again without its body, and drains a redirect's body without
 * end): a redirect's body is drained up to 64 KiB to keep the connection,
 * beyond that its connection is closed; either way the redirect is
 * followed.
 * Authorization and Cookie headers (given or default) and the URL's
 * credentials are not sent once a redirect leaves the first request's
 * scheme, host and port (curl since 7.83, Go's net/http). Only http and
 * https targets are followed (CORRAL_HTTP_EPROTO otherwise). The body of
 * a redirect followed is not kept nor streamed. max_redirects 0: a 3xx is
 * the result, its Location among the headers.
 * No Content-Length, no chunked encoding: the body ends when the server
 * closes the connection (RFC 9112 6.3). 204, 304 and a HEAD's response
 * have no body whatever they announce.
 * Content-Encoding: handed over as it came unless the client's decompress
 * option is set. */
CORRAL_API int corral_http_fetch(corral_http_client *c,
                                 const corral_http_request *req,
                                 corral_http_response *resp);

/* TASK ONLY, BLOCKS. GET url into resp (corral_http_fetch with defaults). */
CORRAL_API int corral_http_get(corral_http_client *c, const char *url,
                               corral_http_response *resp);

/* A response header by name (case-insensitive, RFC 9110 5.1): its value, or
 * NULL. Borrowed from resp. */
CORRAL_API const char *
corral_http_response_header(const corral_http_response *resp,
                            const char *name);

/* Free what the response holds and zero it. NULL is accepted. */
CORRAL_API void corral_http_response_free(corral_http_response *resp);

/* Reason phrase of a status code (RFC 9110 section 15 and the IANA
 * registry): 404 -> "Not Found". "Unknown" for unregistered codes. Static. */
CORRAL_API const char *corral_http_status_name(int status);

#ifdef __cplusplus
}
#endif
#endif /* CORRAL_HTTP_H */
