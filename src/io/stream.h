/* Streams inside the library (stream.c): the object behind corral_stream,
 * shared by TCP (tcp.c), pipes and standard streams (pipe.c) and, through
 * the constructors below, subprocess pipes.
 *
 * Reading stays armed between reads (libuv reads straight into a waiting
 * task's buffer; what arrives while no task reads goes to the stream's own
 * buffer, one chunk ahead at most). Writing never goes through uv_write:
 * the stream sends from the caller's buffer (send(MSG_NOSIGNAL) on sockets,
 * write(2) with SIGPIPE blocked on pipes) and, when the kernel's buffer is
 * full, waits for writability on a duplicate of the descriptor (libuv
 * already watches the original), so the caller knows exactly what the
 * kernel took and nothing is queued behind its back.
 *
 * Lifetime: `refs` counts the tasks inside a call on the stream plus the
 * libuv handles still closing; the memory is freed when the stream is
 * closed and the count drops to zero. A task woken by a close therefore
 * never touches freed memory, however late it runs. */
#ifndef CORRAL_IO_STREAM_H
#define CORRAL_IO_STREAM_H

#include "io/io.h"

enum {
  CORRAL__S_TCP,  /* uv_tcp_t */
  CORRAL__S_PIPE, /* uv_pipe_t: pipe, UNIX socket, character device */
  CORRAL__S_TTY,  /* uv_tty_t */
  CORRAL__S_FILE  /* a plain descriptor of a regular file, no libuv handle */
};

struct corral_stream {
  union {
    uv_handle_t handle;
    uv_stream_t stream;
    uv_tcp_t tcp;
    uv_pipe_t pipe;
    uv_tty_t tty;
  } uv;
  corral__rt *rt;
  corral__handle reg;       /* in the runtime's registry while open */
  unsigned refs;            /* tasks inside calls + handles still closing */
  uint8_t type;
  uint8_t is_socket;        /* send(MSG_NOSIGNAL), shutdown(2) */
  uint8_t closed;           /* closed by its owner or the runtime's end */
  uint8_t released;         /* the libuv handle is closed (or never was) */
  uint8_t armed;            /* uv_read_start in effect */
  uint8_t eof;              /* the peer ended the stream */
  uint8_t wshut;            /* shut down for writing */
  uint8_t rdirect;          /* the waiting reader's buffer is its own */
  uint8_t rdone;            /* data / end / error arrived for the reader */
  uint8_t wpoll_open;
  uint8_t noread;           /* write-only: a pipe's write end, a child's
                               stdin, a descriptor opened O_WRONLY */
  uint8_t nowrite;          /* read-only, likewise */
  int rerr;                 /* read error, delivered once */
  int fd;                   /* the descriptor, -1 until known */
  int wfd;                  /* duplicate watched for writability, or -1 */
  int restore_flags;        /* stdio: F_GETFL to give back, or -1 */
  corral_task *reader, *writer;
  char *rbuf;               /* where libuv reads for the waiting reader */
  size_t rlen;
  ssize_t rresult;          /* bytes read straight into rbuf */
  char *buf;                /* read-ahead / read_until buffer */
  size_t boff, blen, bcap;
  uv_poll_t wpoll;          /* on wfd */
  corral__wait rwait, wwait; /* wait records naming the stream in dumps
                               (no abort callback: a cancel wakes at once) */
  char label[32];           /* "pipe fd 7" */
  uv_connect_t creq;        /* TCP connect (tcp.c) */
  int cstatus;              /* its result; 1 while pending */
};

/* A stream of `type` with its libuv handle initialised (TCP and pipes;
 * for a pipe, ipc = 0) but not open yet, registered in the runtime. *rc:
 * CORRAL_ENOMEM or libuv's code. For subprocess pipes: give
 * (uv_stream_t *)&s->uv.pipe to uv_spawn's stdio container as
 * UV_CREATE_PIPE; after the spawn the stream is ready (call
 * corral__stream_opened); if the spawn fails, corral_stream_close(s). */
CORRAL__HIDDEN corral_stream *corral__stream_new(corral__rt *rt, int type,
                                                 int *rc);
/* The handle was opened behind the stream's back (uv_spawn, uv_accept):
 * learn its descriptor and which ways it goes (a child's stdin is
 * write-only, its stdout read-only, as uv_spawn opened them). */
CORRAL__HIDDEN void corral__stream_opened(corral_stream *s);
/* Wrap descriptor fd (taken over: closed with the stream) as a pipe, TCP
 * socket or terminal stream, by what it is. Returns 0 and *out, or a code;
 * on error fd is left open. */
CORRAL__HIDDEN int corral__stream_from_fd(corral__rt *rt, int fd,
                                          corral_stream **out);
/* pipe.c: learn which ways s goes (its noread / nowrite), once its
 * descriptor is known; and refuse a call against that direction
 * (CORRAL_EBADF with a message, in corral_last_error). */
CORRAL__HIDDEN void corral__stream_learn_direction(corral_stream *s);
CORRAL__HIDDEN int corral__stream_wrong_way(corral_stream *s, bool reading);
/* Close (as corral_stream_close, after the checks). */
CORRAL__HIDDEN void corral__stream_close(corral_stream *s);

#endif
