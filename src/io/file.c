/* Files on libuv's file API (its worker pool), as blocking task calls.
 *
 * One shape for every call: check, start the uv_fs_* request with on_fs as
 * callback, park with an abort that tries uv_cancel. A request still queued
 * is withdrawn (its callback then reports UV_ECANCELED, which is
 * CORRAL_ECANCELED); one already running cannot be, so the abort answers
 * FAILED and the task stays parked until the callback. Either way the
 * callback is what wakes the task, so the request can live in the task's
 * frame. Files register in the runtime's handle registry; a file closed
 * while other tasks still have requests on it is closed after the last of
 * them, so a descriptor number is never reused under a running request. */
#include "io/io.h"
#include "ground/fault.h"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

struct corral_file {
  corral__rt *rt;
  corral__handle reg;
  uv_file fd;
  int closing;       /* corral_file_close was called */
  unsigned inflight; /* requests on fd not completed yet */
};

typedef struct fsop {
  uv_fs_t req;
  corral_task *task;
  corral_file *f; /* counted in f->inflight, or NULL */
  int done;
} fsop;

static void file_free_now(corral_file *f) {
  corral__aset_del(&f->rt->live, f);
  uv_fs_t req;
  int rc = uv_fs_close(NULL, &req, f->fd, NULL); /* synchronous */
  uv_fs_req_cleanup(&req);
  (void)rc;
  corral__free(f->rt, f);
}

static void on_fs(uv_fs_t *r) {
  fsop *op = r->data;
  corral_file *f = op->f;
  /* Not on open: a failure injected there would leak the descriptor the
   * real call opened. */
  if (r->fs_type != UV_FS_OPEN) r->result = CORRAL__CB("file_cb", EIO, r->result);
  op->done = 1;
  if (f && --f->inflight == 0 && f->closing) file_free_now(f);
  corral__wake(op->task, 0);
}

static corral_abort_result fs_abort(corral_task *t, void *arg) {
  (void)t;
  fsop *op = arg;
  uv_cancel((uv_req_t *)&op->req); /* fails once running: wait for it */
  return CORRAL_ABORT_FAILED;
}

/* The common start: a non-compact task, not cancelled, f (if any) of this
 * runtime and open. Leaves *self set. */
#define FS_BEGIN(self, f, call)                                              \
  corral_task *self = corral__self();                                        \
  if (!self) return CORRAL_ENOTASK;                                          \
  CORRAL__NO_COMPACT(self, call);                                            \
  do {                                                                       \
    int rc_ = corral__io_check(self, (f) ? ((corral_file *)(f))->rt : NULL); \
    if (rc_) return rc_;                                                     \
    if ((f) && ((corral_file *)(f))->closing) return CORRAL_ECLOSED;         \
    if (corral__checkpoint_scope(self->rt, self))                            \
      return corral__fail(self, CORRAL_ECANCELED);                           \
  } while (0)

static void op_init(fsop *op, corral_task *self, corral_file *f) {
  memset(op, 0, sizeof *op);
  op->req.data = op;
  op->task = self;
  op->f = f;
  if (f) f->inflight++;
}

/* Wait for the request op started (start: the uv_fs_* return code).
 * Returns the request's result; the caller reads anything else it needs
 * from op->req and then calls uv_fs_req_cleanup. */
static ssize_t op_wait(corral_task *self, fsop *op, int start) {
  if (start < 0) {
    if (op->f) op->f->inflight--;
    uv_fs_req_cleanup(&op->req);
    return start;
  }
  corral__wait w = {.abort = fs_abort, .arg = op, .what = "file"};
  corral__park(self, CORRAL__W_FILE, &w, CORRAL_FOREVER);
  while (!op->done) /* defensive: only the callback wakes it */
    corral__park(self, CORRAL__W_FILE, CORRAL__UNABORTABLE, CORRAL_FOREVER);
  return op->req.result;
}

/* A request whose only result is its code. */
static int op_finish(corral_task *self, fsop *op, int start) {
  ssize_t r = op_wait(self, op, start);
  if (start >= 0) uv_fs_req_cleanup(&op->req);
  return r < 0 ? (int)r : 0;
}

static void close_registered(corral__handle *h) {
  corral_file *f = corral__container_of(h, corral_file, reg);
  corral__handle_unregister(&f->reg);
  f->closing = 1;
  if (f->inflight == 0) file_free_now(f);
}

/* ---- open / close ---- */

int corral_file_open(const char *path, int flags, int mode, corral_file **out) {
  if (out) *out = NULL;
  FS_BEGIN(self, NULL, "corral_file_open");
  if (!path || !out) return CORRAL_EINVAL;
  corral__rt *rt = self->rt;
  corral_file *f = corral__calloc(rt, sizeof *f);
  if (!f) return CORRAL_ENOMEM;
  f->rt = rt;
  fsop op;
  op_init(&op, self, NULL);
  ssize_t r = op_wait(self, &op,
                      CORRAL__UV("file_open", EMFILE, uv_fs_open(rt->loop, &op.req, path, flags | O_CLOEXEC,
                                 mode, on_fs)));
  uv_fs_req_cleanup(&op.req);
  if (r < 0) {
    corral__free(rt, f);
    return corral_errorf((int)r, "open %s: %s", path, uv_strerror((int)r));
  }
  f->fd = (uv_file)r;
  /* Known to the runtime while open: a second close is refused, not a
   * use after free. */
  if (corral__aset_add(&rt->live, &rt->al, f)) {
    uv_fs_t req;
    uv_fs_close(NULL, &req, f->fd, NULL);
    uv_fs_req_cleanup(&req);
    corral__free(rt, f);
    return CORRAL_ENOMEM;
  }
  corral__handle_register(rt, &f->reg, "file", close_registered);
  *out = f;
  return 0;
}

int corral_file_fd(const corral_file *f) { return f ? f->fd : CORRAL_EINVAL; }

int corral_file_close(corral_file *f) {
  if (!f) return 0;
  /* Closed already (its memory may be gone): refused without reading it. */
  if (corral__tl_rt && !corral__aset_has(&corral__tl_rt->live, f)) {
    return CORRAL_EINVAL;
  }
  if (f->closing) return CORRAL_ECLOSED;
  corral__handle_unregister(&f->reg);
  f->closing = 1;
  if (f->inflight) return 0; /* the last request's callback closes it */
  corral_task *self = corral__self();
  if (!self || self->rt != f->rt || self->compact) {
    file_free_now(f);
    return 0;
  }
  fsop op;
  op_init(&op, self, NULL);
  if (CORRAL__UV("file_close", EIO, uv_fs_close(f->rt->loop, &op.req, f->fd, on_fs)) != 0) {
    file_free_now(f); /* could not queue it: close here */
    return 0;
  }
  while (!op.done) /* not a cancellation point: always closes */
    corral__park(self, CORRAL__W_FILE, CORRAL__UNABORTABLE, CORRAL_FOREVER);
  int rc = (int)(op.req.result < 0 ? op.req.result : 0);
  uv_fs_req_cleanup(&op.req);
  corral__aset_del(&f->rt->live, f);
  corral__free(f->rt, f);
  return rc;
}

/* ---- read / write ---- */

static int file_read(corral_file *f, void *buf, size_t len, int64_t off,
                     const char *call) {
  FS_BEGIN(self, f, call);
  if (!buf && len) return CORRAL_EINVAL;
  if (off < -1) return CORRAL_EINVAL;
  uv_buf_t b = uv_buf_init(buf, (unsigned)(len > INT_MAX ? INT_MAX : len));
  fsop op;
  op_init(&op, self, f);
  ssize_t r = op_wait(self, &op,
                      CORRAL__UV("file_read", EIO, uv_fs_read(f->rt->loop, &op.req, f->fd, &b, 1, off, on_fs)));
  uv_fs_req_cleanup(&op.req);
  return (int)r;
}

int corral_file_read(corral_file *f, void *buf, size_t len) {
  if (!f) return CORRAL_EINVAL;
  return file_read(f, buf, len, -1, "corral_file_read");
}

int corral_file_pread(corral_file *f, void *buf, size_t len, int64_t offset) {
  if (!f || offset < 0) return CORRAL_EINVAL;
  return file_read(f, buf, len, offset, "corral_file_pread");
}

static int file_write(corral_file *f, const void *buf, size_t len, int64_t off,
                      size_t *written) {
  size_t done = 0;
  int rc = 0;
  if (written) *written = 0;
  if (!f || (!buf && len)) return CORRAL_EINVAL;
  do {
    FS_BEGIN(self, f, "corral_file_write");
    size_t chunk = len - done > INT_MAX ? INT_MAX : len - done;
    uv_buf_t b = uv_buf_init((char *)buf + done, (unsigned)chunk);
    fsop op;
    op_init(&op, self, f);
    ssize_t r = op_wait(self, &op,
                        CORRAL__UV("file_write", ENOSPC, uv_fs_write(f->rt->loop, &op.req, f->fd, &b, 1,
                                    off < 0 ? -1 : off + (int64_t)done, on_fs)));
    uv_fs_req_cleanup(&op.req);
    if (r < 0) {
      rc = (int)r;
      break;
    }
    if (r == 0 && chunk) {
      rc = CORRAL_EIO; /* the system accepted nothing */
      break;
    }
    done += (size_t)r;
    if (written) *written = done;
  } while (done < len);
  return rc;
}

int corral_file_write(corral_file *f, const void *buf, size_t len,
                      size_t *written) {
  return file_write(f, buf, len, -1, written);
}

int corral_file_pwrite(corral_file *f, const void *buf, size_t len,
                       int64_t offset, size_t *written) {
  if (written) *written = 0;
  if (offset < 0) return CORRAL_EINVAL;
  return file_write(f, buf, len, offset, written);
}

int corral_file_sync(corral_file *f) {
  if (!f) return CORRAL_EINVAL;
  FS_BEGIN(self, f, "corral_file_sync");
  fsop op;
  op_init(&op, self, f);
  return op_finish(self, &op, CORRAL__UV("file_fsync", EIO, uv_fs_fsync(f->rt->loop, &op.req, f->fd, on_fs)));
}

/* ---- metadata and names ---- */

static int64_t ts_ns(uv_timespec_t t) {
  return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static void stat_copy(corral_stat *st, const uv_stat_t *s) {
  st->size = s->st_size;
  st->mode = s->st_mode;
  st->nlink = s->st_nlink;
  st->uid = s->st_uid;
  st->gid = s->st_gid;
  st->ino = s->st_ino;
  st->dev = s->st_dev;
  st->atime_ns = ts_ns(s->st_atim);
  st->mtime_ns = ts_ns(s->st_mtim);
  st->ctime_ns = ts_ns(s->st_ctim);
}

static int stat_finish(corral_task *self, fsop *op, int start, corral_stat *st) {
  ssize_t r = op_wait(self, op, start);
  if (start < 0) return (int)r;
  if (r >= 0) stat_copy(st, &op->req.statbuf);
  uv_fs_req_cleanup(&op->req);
  return r < 0 ? (int)r : 0;
}

int corral_file_stat(const char *path, corral_stat *st) {
  FS_BEGIN(self, NULL, "corral_file_stat");
  if (!path || !st) return CORRAL_EINVAL;
  fsop op;
  op_init(&op, self, NULL);
  return stat_finish(self, &op, CORRAL__UV("file_stat", ENOENT, uv_fs_stat(self->rt->loop, &op.req, path, on_fs)),
                     st);
}

int corral_file_fstat(corral_file *f, corral_stat *st) {
  if (!f || !st) return CORRAL_EINVAL;
  FS_BEGIN(self, f, "corral_file_fstat");
  fsop op;
  op_init(&op, self, f);
  return stat_finish(self, &op, CORRAL__UV("file_fstat", EIO, uv_fs_fstat(f->rt->loop, &op.req, f->fd, on_fs)),
                     st);
}

int corral_file_unlink(const char *path) {
  FS_BEGIN(self, NULL, "corral_file_unlink");
  if (!path) return CORRAL_EINVAL;
  fsop op;
  op_init(&op, self, NULL);
  return op_finish(self, &op, CORRAL__UV("file_unlink", EACCES, uv_fs_unlink(self->rt->loop, &op.req, path, on_fs)));
}

int corral_file_rename(const char *from, const char *to) {
  FS_BEGIN(self, NULL, "corral_file_rename");
  if (!from || !to) return CORRAL_EINVAL;
  fsop op;
  op_init(&op, self, NULL);
  return op_finish(self, &op,
                   CORRAL__UV("file_rename", EACCES, uv_fs_rename(self->rt->loop, &op.req, from, to, on_fs)));
}

int corral_file_mkdir(const char *path, int mode) {
  FS_BEGIN(self, NULL, "corral_file_mkdir");
  if (!path) return CORRAL_EINVAL;
  fsop op;
  op_init(&op, self, NULL);
  return op_finish(self, &op,
                   CORRAL__UV("file_mkdir", ENOSPC, uv_fs_mkdir(self->rt->loop, &op.req, path, mode, on_fs)));
}

int corral_file_rmdir(const char *path) {
  FS_BEGIN(self, NULL, "corral_file_rmdir");
  if (!path) return CORRAL_EINVAL;
  fsop op;
  op_init(&op, self, NULL);
  return op_finish(self, &op, CORRAL__UV("file_rmdir", EBUSY, uv_fs_rmdir(self->rt->loop, &op.req, path, on_fs)));
}

/* ---- whole files ---- */

int corral_file_read_all(const char *path, size_t max_size, char **data,
                         size_t *len) {
  if (data) *data = NULL;
  if (len) *len = 0;
  if (!path || !data || !len) return CORRAL_EINVAL;
  corral_file *f;
  int rc = corral_file_open(path, O_RDONLY, 0, &f);
  if (rc) return rc;
  corral_stat st;
  rc = corral_file_fstat(f, &st);
  size_t cap = 0, n = 0;
  char *buf = NULL;
  if (rc == 0 && st.size > max_size)
    rc = corral_errorf(CORRAL_ERANGE, "%s: %llu bytes, more than the %zu allowed",
                       path, (unsigned long long)st.size, max_size);
  /* st.size is a hint (files in /proc say 0, files grow): read to EOF. */
  cap = st.size ? (size_t)st.size : 4096;
  if (cap > max_size) cap = max_size;
  if (rc == 0 && !(buf = malloc(cap + 1))) rc = CORRAL_ENOMEM;
  while (rc == 0) {
    if (n == cap) {
      if (cap >= max_size) { /* full: anything more is too much */
        char probe;
        int r = corral_file_read(f, &probe, 1);
        if (r > 0)
          rc = corral_errorf(CORRAL_ERANGE,
                             "%s: more than the %zu bytes allowed", path,
                             max_size);
        else
          rc = r;
        break;
      }
      size_t ncap = cap < 2048 ? 4096 : cap * 2;
      if (ncap > max_size || ncap < cap) ncap = max_size;
      char *nb = realloc(buf, ncap + 1);
      if (!nb) {
        rc = CORRAL_ENOMEM;
        break;
      }
      buf = nb;
      cap = ncap;
    }
    int r = corral_file_read(f, buf + n, cap - n);
    if (r < 0) rc = r;
    if (r <= 0) break;
    n += (size_t)r;
  }
  int crc = corral_file_close(f);
  if (rc == 0) rc = crc;
  if (rc) {
    free(buf);
    return rc;
  }
  buf[n] = 0;
  *data = buf;
  *len = n;
  return 0;
}

int corral_file_write_all(const char *path, const void *data, size_t len,
                          int mode) {
  if (!path || (!data && len)) return CORRAL_EINVAL;
  corral_file *f;
  int rc = corral_file_open(path, O_WRONLY | O_CREAT | O_TRUNC, mode, &f);
  if (rc) return rc;
  rc = corral_file_write(f, data, len, NULL);
  int crc = corral_file_close(f);
  return rc ? rc : crc;
}
