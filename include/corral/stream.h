/*
 * corral/stream.h -- byte streams: TCP connections, pipes, stdin / stdout /
 * stderr and terminals, behind one interface. Included by corral.h.
 *
 * A stream is owned by the code that opened it: close it with
 * corral_stream_close(). A stream still open when the runtime ends is
 * closed then, so no descriptor outlives corral_run().
 *
 * One task may read and one task may write a stream at the same time (a
 * second reader or writer gets CORRAL_EBUSY). Closing a stream while other
 * tasks are blocked on it wakes them with CORRAL_ECLOSED; the stream's
 * memory stays valid until every one of them has returned, so closing is
 * safe at any time from any task of the runtime. Using a stream after
 * corral_stream_close() returned is a use after free, as with close(2).
 *
 * Writing to a peer that went away returns CORRAL_EPIPE; it never raises
 * SIGPIPE, and the application's SIGPIPE disposition is left as it is
 * (sockets are written with MSG_NOSIGNAL; for pipes and terminals SIGPIPE is
 * blocked in the writing thread for the duration of write(2) and a SIGPIPE
 * that write raised is consumed before it is unblocked).
 *
 * Every call on a stream of another runtime returns CORRAL_EFOREIGN.
 *
 * Direction. A stream that goes one way only refuses the other at once
 * with CORRAL_EBADF (what read(2) and write(2) say for such a descriptor)
 * and a message in corral_last_error() naming the stream ("pipe fd 7 is
 * not open for reading: it is write-only ..."); nothing blocks and the
 * stream stays usable the right way. Write-only: a pipe's write end, a
 * child's stdin (corral_process_stream(p, 0)), a descriptor opened
 * O_WRONLY (corral_stdio_open, corral_pipe_open, terminals and files
 * alike): every read call returns CORRAL_EBADF. Read-only: a pipe's read
 * end, a child's stdout and stderr, a descriptor opened O_RDONLY:
 * corral_stream_write and corral_stream_shutdown return CORRAL_EBADF. A
 * UNIX socket already shut down one way when it becomes a stream
 * (shutdown(2) by either end, with nothing left unread) is one-way too.
 */
#ifndef CORRAL_STREAM_H
#define CORRAL_STREAM_H

#include "../corral.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct corral_stream corral_stream;

/* ------------------------------------------------------------------------ */
/* Reading                                                                   */
/* ------------------------------------------------------------------------ */

/* TASK ONLY. BLOCKS until at least one byte is available. Returns the number
 * of bytes read (1 .. min(len, INT_MAX)), 0 at end of stream, or a negative
 * code: CORRAL_ECANCELED / CORRAL_ETIMEDOUT (nothing was consumed: bytes
 * that arrive later go to the next read), CORRAL_ECLOSED (another task
 * closed the stream), CORRAL_ECONNRESET and other errno-style codes from the
 * system (delivered once; the next read returns 0), CORRAL_EBADF (a
 * write-only stream, see Direction above), CORRAL_EBUSY (another task
 * reads), CORRAL_EINVAL, CORRAL_EFOREIGN, CORRAL_ENOTASK. len == 0 returns
 * 0 without blocking (CORRAL_EBADF on a write-only stream). */
CORRAL_NODISCARD CORRAL_API int corral_stream_read(corral_stream *s, void *buf, size_t len);

/* TASK ONLY. BLOCKS until exactly len bytes are in buf. Returns 0, or
 * CORRAL_EEOF when the stream ended first, or any code of
 * corral_stream_read. *got (optional) receives the bytes stored in buf in
 * every case: they are consumed from the stream, so after a cancellation
 * the caller keeps what arrived and nothing is lost. */
CORRAL_NODISCARD CORRAL_API int corral_stream_read_exactly(corral_stream *s, void *buf,
                                          size_t len, size_t *got);

/* TASK ONLY. BLOCKS until the byte sequence delim (dlen >= 1 bytes) has
 * arrived, then moves everything up to and including it into buf and
 * returns its length. Buffered: bytes arrive into the stream's own buffer
 * and leave it only when a whole piece fits, so a cancelled call loses
 * nothing (the next read or read_until sees every byte). Returns the length
 * (>= dlen), CORRAL_ERANGE when cap bytes arrived without the delimiter (the
 * bytes stay buffered: read them with corral_stream_read), CORRAL_EEOF when
 * the stream ended before the delimiter (what arrived stays readable), or
 * any code of corral_stream_read. cap is at most INT_MAX. */
CORRAL_NODISCARD CORRAL_API int corral_stream_read_until(corral_stream *s, void *buf,
                                        size_t cap, const void *delim,
                                        size_t dlen);

/* TASK ONLY. BLOCKS. One line, terminated by "\n", of at most cap - 1 bytes
 * (the "\n" included), stored NUL-terminated in buf. Buffered like
 * corral_stream_read_until. The last line of a stream that does not end
 * with "\n" is returned as it is. Returns the line's length (>= 1, without
 * the NUL), CORRAL_EEOF at the end of the stream, CORRAL_ERANGE when the
 * line is longer than cap - 1 (nothing is consumed), or any code of
 * corral_stream_read. cap >= 2. */
CORRAL_NODISCARD CORRAL_API int corral_stream_read_line(corral_stream *s, char *buf,
                                       size_t cap);

/* ------------------------------------------------------------------------ */
/* Writing                                                                   */
/* ------------------------------------------------------------------------ */

/* TASK ONLY. BLOCKS until every byte of buf was handed to the kernel; any
 * size. The stream writes straight from buf (no copy, nothing is queued
 * behind the caller's back): when the call returns, buf is no longer used
 * and *written (optional) holds exactly how many bytes the kernel took, on
 * success (== len) and on failure alike. A cancelled or timed-out write
 * therefore tells the caller which bytes to send again. Returns 0,
 * CORRAL_ECANCELED, CORRAL_ETIMEDOUT, CORRAL_EPIPE (the peer went away or
 * the stream was shut down for writing), CORRAL_ECONNRESET, CORRAL_ECLOSED,
 * CORRAL_EBADF (a read-only stream, see Direction above), CORRAL_EBUSY
 * (another task writes), CORRAL_EINVAL, CORRAL_EFOREIGN, CORRAL_ENOTASK, or
 * another errno-style code. */
CORRAL_NODISCARD CORRAL_API int corral_stream_write(corral_stream *s, const void *buf,
                                   size_t len, size_t *written);

/* TASK ONLY. Does not block (not a cancellation point: cleanup code can
 * call it inside a cancelled scope). Half-close: no more writes; the peer
 * reads end of stream once it has read what was written. Reading goes on.
 * On a socket this is shutdown(2, SHUT_WR). On a pipe's write end it
 * releases the descriptor (the reader sees end of stream); on a terminal or
 * a file it only refuses further writes. Returns 0, CORRAL_ECLOSED,
 * CORRAL_EBADF (a read-only stream: nothing to shut down), CORRAL_EBUSY (a
 * write is in progress), CORRAL_EFOREIGN, CORRAL_ENOTASK, or an
 * errno-style code from shutdown(2). */
CORRAL_API int corral_stream_shutdown(corral_stream *s);

/* Close the stream and free it. Never blocks; may be called in a cancelled
 * scope. Tasks blocked on s wake with CORRAL_ECLOSED. Bytes already handed
 * to the kernel are still delivered by it; nothing else is pending (writes
 * are never queued in the library). A stdio stream gives its descriptor's
 * flags back and leaves the descriptor itself open. Call it on the
 * runtime's thread (a task, or a callback of its loop). Returns 0,
 * CORRAL_EFOREIGN (s belongs to another runtime; nothing is done) or
 * CORRAL_ENOTASK (no runtime on this thread; nothing is done). NULL is
 * accepted (0). */
CORRAL_API int corral_stream_close(corral_stream *s);

/* The descriptor under s (for getsockopt and the like; do not close it or
 * read from it), or a negative code (CORRAL_ECLOSED, CORRAL_EFOREIGN). */
CORRAL_API int corral_stream_fd(const corral_stream *s);
/* "tcp", "pipe", "tty" or "file". */
CORRAL_API const char *corral_stream_kind(const corral_stream *s);

/* ------------------------------------------------------------------------ */
/* Pipes and standard streams                                                */
/* ------------------------------------------------------------------------ */

/* TASK ONLY. Take ownership of descriptor fd (a pipe end, a UNIX socket, a
 * connected TCP socket, a terminal or other character device) as a stream
 * of its kind: it is set non-blocking and closed by corral_stream_close. Returns 0, CORRAL_EBADF, CORRAL_EINVAL (a regular
 * file: use corral_stdio_open), CORRAL_ENOMEM, CORRAL_ENOTASK. On error fd
 * is left open and *out is NULL. */
CORRAL_API int corral_pipe_open(int fd, corral_stream **out);

/* TASK ONLY. A new pipe(2): bytes written to *write_end are read from
 * *read_end. Both close-on-exec. Returns 0 or an errno-style code
 * (CORRAL_EMFILE ...). */
CORRAL_API int corral_pipe(corral_stream **read_end,
                           corral_stream **write_end);

/* TASK ONLY. Borrow descriptor fd (usually 0, 1 or 2) as a stream of the
 * right kind: a terminal, a pipe, a socket or a regular file (read and
 * written directly: a regular file never makes a task wait). The stream
 * works on a duplicate: corral_stream_close leaves fd open and gives the
 * open file description back the flags it had (libuv sets pipes and
 * sockets non-blocking). Returns 0, CORRAL_EBADF, CORRAL_ENOMEM,
 * CORRAL_ENOTASK, or an errno-style code. */
CORRAL_API int corral_stdio_open(int fd, corral_stream **out);

/* ------------------------------------------------------------------------ */
/* TCP                                                                       */
/* ------------------------------------------------------------------------ */

/* Happy Eyeballs delay of RFC 8305, section 5 (the recommended value). */
#define CORRAL_HAPPY_EYEBALLS_DELAY CORRAL_MS(250)

typedef struct corral_connect_opts {
  int64_t happy_eyeballs_delay_ns; /* 0 (not set): 250 ms, RFC 8305's
                                      value; CORRAL_FOREVER: one address
                                      at a time (the next starts when the
                                      previous failed); < 0: every address
                                      at once */
  int family;                      /* 0: any; AF_INET or AF_INET6 only */
} corral_connect_opts;

/* TASK ONLY. BLOCKS. Connect to host (a name, or a numeric IPv4 / IPv6
 * address) on port. A name is resolved (corral_getaddrinfo); the addresses
 * are tried as RFC 8305 says (Trio's open_tcp_stream does the same): IPv6
 * and IPv4 interleaved, IPv6 first, a new attempt every
 * happy_eyeballs_delay_ns or as soon as the previous one failed, each
 * attempt a task of one group; the first connection wins and every other
 * attempt is cancelled and its socket closed. Cancelled: every attempt is
 * cancelled and closed, nothing is left. The stream has TCP_NODELAY set.
 * Returns 0 and *out, CORRAL_ENOTFOUND (no such host), CORRAL_ECONNREFUSED,
 * CORRAL_ETIMEDOUT, ... (when every address failed: the error of the first
 * attempt; the message lists them all), CORRAL_ECANCELED, CORRAL_EINVAL
 * (host NULL or empty, port outside 0..65535), CORRAL_ENOTASK. opts may be
 * NULL. In a compact task the attempts run one at a time. */
CORRAL_NODISCARD CORRAL_API int corral_tcp_connect_ex(const char *host, int port,
                                     const corral_connect_opts *opts,
                                     corral_stream **out);
#define corral_tcp_connect(host, port, out)                                  \
  corral_tcp_connect_ex((host), (port), NULL, (out))

/* A listening socket (or several: a name may resolve to an IPv6 and an IPv4
 * address, each gets its own socket on the same port). */
typedef struct corral_listener corral_listener;

typedef struct corral_listen_opts {
  int backlog;    /* 0 (not set) or < 0: 511 */
  int reuse_port; /* 1: SO_REUSEPORT, so several listeners (one per runtime
                     and thread, say) share the port and the kernel spreads
                     the connections among them; every one of them must set
                     it */
} corral_listen_opts;

/* TASK ONLY. BLOCKS while a name is resolved. Listen on host:port: host is
 * a name or a numeric address, NULL or "" for every interface (IPv6 and
 * IPv4); port 0 picks a free port (the same one for every socket).
 * SO_REUSEADDR is set. opts may be NULL. Returns 0 and *out,
 * CORRAL_EADDRINUSE, CORRAL_ENOTFOUND, CORRAL_EINVAL, CORRAL_ECANCELED,
 * CORRAL_ENOTASK, or an errno-style code. */
CORRAL_NODISCARD CORRAL_API int corral_tcp_listen_ex(
    const char *host, int port, const corral_listen_opts *opts,
    corral_listener **out);
/* corral_tcp_listen_ex with opts.backlog = backlog (<= 0: 511). */
CORRAL_NODISCARD CORRAL_API int corral_tcp_listen(const char *host, int port,
                                                  int backlog,
                                                  corral_listener **out);
/* The local port, or a negative code (CORRAL_EFOREIGN from another
 * runtime). */
CORRAL_API int corral_listener_port(const corral_listener *l);
/* TASK ONLY. BLOCKS until a connection arrives; it becomes a stream with
 * TCP_NODELAY. Connections wait in the kernel's backlog until a task
 * accepts them: none is ever accepted and dropped behind the caller's back.
 * Returns 0 and *out, CORRAL_EMFILE / CORRAL_ENFILE (out of descriptors:
 * the connection stays in the backlog; accept again once descriptors are
 * free), CORRAL_ECANCELED, CORRAL_ECLOSED (another task closed the
 * listener), CORRAL_EBUSY (another task accepts), CORRAL_EFOREIGN,
 * CORRAL_ENOTASK, or an errno-style code. */
CORRAL_NODISCARD CORRAL_API int corral_listener_accept(corral_listener *l,
                                      corral_stream **out);
/* Close and free (never blocks; tasks in accept get CORRAL_ECLOSED). On
 * the runtime's thread: returns 0, CORRAL_EFOREIGN or CORRAL_ENOTASK, as
 * corral_stream_close. NULL is accepted. */
CORRAL_API int corral_listener_close(corral_listener *l);

#ifdef __cplusplus
}
#endif
#endif /* CORRAL_STREAM_H */
