/*
 * corral/net.h -- name resolution and UDP. Included by corral.h.
 */
#ifndef CORRAL_NET_H
#define CORRAL_NET_H

#include "../corral.h"

#include <netdb.h>
#include <sys/socket.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Declared at file scope so that a strict ISO C build (which hides them in
 * <netdb.h>) still sees one type in every prototype below. */
struct addrinfo;
struct sockaddr;
struct sockaddr_storage;

/* ------------------------------------------------------------------------ */
/* Name resolution                                                           */
/* ------------------------------------------------------------------------ */

/* TASK ONLY. BLOCKS. getaddrinfo(3) on libuv's resolver (it runs on libuv's
 * worker threads). node and service as getaddrinfo's (either may be NULL,
 * not both); hints may be NULL (any family, any socket type). On success
 * *res is a list the caller owns: free it with corral_freeaddrinfo().
 * Cancelled: returns CORRAL_ECANCELED at once; a lookup still queued is
 * taken off the queue, one already running finishes on its worker thread
 * and its result is freed when it arrives (the runtime's end waits for it).
 * Returns 0, CORRAL_ENOTFOUND (no such name, or no address of the asked
 * family), CORRAL_EAGAIN (temporary failure of the name server),
 * CORRAL_ECANCELED, CORRAL_ETIMEDOUT, CORRAL_ENOMEM, CORRAL_EINVAL (bad
 * arguments or hints), CORRAL_EIO (another resolver failure; the message of
 * corral_last_error() names it), CORRAL_ENOTASK. */
CORRAL_NODISCARD CORRAL_API int corral_getaddrinfo(const char *node, const char *service,
                                  const struct addrinfo *hints,
                                  struct addrinfo **res);
/* Free a list from corral_getaddrinfo. NULL is accepted. Any thread. */
CORRAL_API void corral_freeaddrinfo(struct addrinfo *res);

/* Format the numeric address of sa ("127.0.0.1", "::1") into buf. Returns
 * buf, or "?" for an unknown family. */
CORRAL_API const char *corral_addr_string(const struct sockaddr *sa,
                                          char *buf, size_t size);

/* ------------------------------------------------------------------------ */
/* UDP                                                                       */
/* ------------------------------------------------------------------------ */

/* A UDP socket owned by the code that opened it; closed by
 * corral_udp_close or at the runtime's end. One task may receive and one
 * may send at a time (CORRAL_EBUSY otherwise); closing wakes them with
 * CORRAL_ECLOSED. */
typedef struct corral_udp corral_udp;

/* TASK ONLY. BLOCKS while a name is resolved. A UDP socket bound to
 * host:port (host NULL: every IPv4 interface, "::" for IPv6; port 0: a free
 * port). Returns 0 and *out, CORRAL_EADDRINUSE, CORRAL_ENOTFOUND,
 * CORRAL_EINVAL, CORRAL_ECANCELED, CORRAL_ENOTASK, or an errno-style code. */
CORRAL_NODISCARD CORRAL_API int corral_udp_open(const char *host, int port, corral_udp **out);
/* TASK ONLY. BLOCKS while a name is resolved. Fix the peer (connect(2)):
 * corral_udp_send then sends there and only its datagrams are received.
 * Returns 0 or the codes of corral_udp_open. */
CORRAL_NODISCARD CORRAL_API int corral_udp_connect(corral_udp *u, const char *host, int port);
/* The local port, or a negative code (CORRAL_EFOREIGN from another
 * runtime). */
CORRAL_API int corral_udp_port(const corral_udp *u);

/* TASK ONLY. BLOCKS until the datagram is handed to the kernel (a full
 * send buffer waits). to NULL: the connected peer. The whole datagram is
 * sent or nothing: returns 0, CORRAL_ECANCELED (nothing sent),
 * CORRAL_ECLOSED, CORRAL_EBUSY, CORRAL_EFOREIGN, CORRAL_ENOTASK, or an
 * errno-style code (-EMSGSIZE for a datagram too long, -ECONNREFUSED after
 * an ICMP error on a connected socket, ...). */
CORRAL_NODISCARD CORRAL_API int corral_udp_send_to(corral_udp *u, const void *buf, size_t len,
                                  const struct sockaddr *to);
#define corral_udp_send(u, buf, len) corral_udp_send_to((u), (buf), (len), NULL)

/* TASK ONLY. BLOCKS until a datagram arrives. Returns its length; a
 * datagram longer than len is cut to len and the call returns the length
 * it had (> len) so the caller can tell. from (optional) receives the
 * sender's address. Cancelled: no datagram is consumed. Returns also
 * CORRAL_ECANCELED, CORRAL_ECLOSED, CORRAL_EBUSY, CORRAL_EFOREIGN,
 * CORRAL_ENOTASK, or an errno-style code. */
CORRAL_NODISCARD CORRAL_API int corral_udp_recv_from(corral_udp *u, void *buf, size_t len,
                                    struct sockaddr_storage *from);
/* Close and free (never blocks; a blocked receiver or sender gets
 * CORRAL_ECLOSED). On the runtime's thread: returns 0, CORRAL_EFOREIGN or
 * CORRAL_ENOTASK, as corral_stream_close. NULL is accepted. */
CORRAL_API int corral_udp_close(corral_udp *u);

#ifdef __cplusplus
}
#endif
#endif /* CORRAL_NET_H */
