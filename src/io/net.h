/* Addresses for the socket families (tcp.c, udp.c), from dns.c. */
#ifndef CORRAL_IO_NET_H
#define CORRAL_IO_NET_H

#include "io/io.h"

#include <netinet/in.h>
#include <sys/socket.h>

#define CORRAL__ADDRS_MAX 16

/* Resolve host:port for sockets of `socktype` and `family` (0: any) into
 * at most max addresses, in the resolver's order, duplicates dropped. A
 * numeric host is parsed without the resolver. passive: host NULL or ""
 * means every interface (AI_PASSIVE). BLOCKS while a name is resolved.
 * Returns the count (>= 1) or a code (with a message recorded). */
CORRAL__HIDDEN int corral__resolve(const char *host, int port, int socktype,
                                   int family, bool passive,
                                   struct sockaddr_storage *out, int max);

/* tcp.c: connect to the n addresses a[], in this order, as
 * corral_tcp_connect_ex does after resolving (tests use it to control the
 * list). */
CORRAL__HIDDEN int corral__tcp_connect_addrs(const struct sockaddr_storage *a,
                                             int n, int64_t delay,
                                             corral_stream **out);

static inline socklen_t corral__addr_len(const struct sockaddr_storage *ss) {
  return ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                   : sizeof(struct sockaddr_in);
}
static inline int corral__addr_port(const struct sockaddr_storage *ss) {
  return ss->ss_family == AF_INET6
             ? ntohs(((const struct sockaddr_in6 *)ss)->sin6_port)
             : ntohs(((const struct sockaddr_in *)ss)->sin_port);
}
static inline void corral__addr_set_port(struct sockaddr_storage *ss, int p) {
  if (ss->ss_family == AF_INET6)
    ((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)p);
  else
    ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)p);
}

#endif
