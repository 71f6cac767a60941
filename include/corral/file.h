/* corral/file.h -- files through libuv's worker pool. Included by corral.h.
 *
 * Every call here that touches the file system BLOCKS the calling task (not
 * the thread): the system call runs on libuv's worker pool. Cancellation
 * (Trio's rule for thread work): a request still queued is withdrawn and the
 * call returns CORRAL_ECANCELED without having done anything; a request
 * already running in a worker cannot be interrupted, so the task waits for
 * it and the call returns its real result (the next blocking call then sees
 * the cancellation). Timeouts come from scopes. Compact tasks cannot use
 * these calls (CORRAL_EINVAL): the worker writes into the caller's memory
 * while the task is parked.
 *
 * A corral_file is owned by the code that opened it; one still open when
 * the runtime ends is closed then, so no descriptor outlives corral_run.
 * Paths are copied; buffers are the caller's and are not used after the
 * call returns.
 */
#ifndef CORRAL_FILE_H
#define CORRAL_FILE_H

#include "corral.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct corral_file corral_file;

/* BLOCKS. open(2): flags O_RDONLY, O_WRONLY | O_CREAT | O_TRUNC, ... (O_CLOEXEC
 * is always added), mode for a created file (e.g. 0644). Returns 0 and *out,
 * CORRAL_ENOENT and other negative errno codes, CORRAL_ECANCELED,
 * CORRAL_EINVAL, CORRAL_ENOMEM, CORRAL_ENOTASK. */
CORRAL_NODISCARD CORRAL_API int corral_file_open(const char *path, int flags, int mode,
                                corral_file **out);
/* The descriptor (valid until close), or CORRAL_EINVAL for NULL. Do not
 * close it yourself. */
CORRAL_API int corral_file_fd(const corral_file *f);

/* BLOCKS. Read up to len bytes (at most INT_MAX) at the current position
 * (corral_file_read) or at offset (corral_file_pread, position unchanged).
 * Returns the number read, 0 at end of file, or a negative code (errno
 * codes, CORRAL_ECANCELED: nothing was read, CORRAL_ECLOSED: f is being
 * closed, CORRAL_EFOREIGN: another runtime's file). */
CORRAL_NODISCARD CORRAL_API int corral_file_read(corral_file *f, void *buf, size_t len);
CORRAL_NODISCARD CORRAL_API int corral_file_pread(corral_file *f, void *buf, size_t len,
                                 int64_t offset);
/* BLOCKS until all len bytes are written (several requests if the system
 * writes less) at the current position / at offset. Returns 0 or a negative
 * code; *written (may be NULL) gets how many bytes were written in every
 * case, so after CORRAL_ECANCELED or an error the caller knows exactly
 * where the file stands. */
CORRAL_NODISCARD CORRAL_API int corral_file_write(corral_file *f, const void *buf, size_t len,
                                 size_t *written);
CORRAL_NODISCARD CORRAL_API int corral_file_pwrite(corral_file *f, const void *buf, size_t len,
                                  int64_t offset, size_t *written);
/* BLOCKS. fsync(2). 0 or a negative code. */
CORRAL_NODISCARD CORRAL_API int corral_file_sync(corral_file *f);

/* Close and free (NULL is fine). Inside a task it BLOCKS (not a
 * cancellation point: the descriptor is always closed) and returns close's
 * result; elsewhere it closes at once. If other tasks still have requests
 * running on f, they finish first, f's descriptor is closed after the last
 * of them, and the call returns 0. Further calls on f are invalid; a
 * second close inside the runtime that opened f is refused with
 * CORRAL_EINVAL (or CORRAL_ECLOSED while the first one waits for requests
 * in flight), as is a close, from a task, of another runtime's file. */
CORRAL_API int corral_file_close(corral_file *f);

/* File metadata (from stat(2)); times in ns since the epoch. */
typedef struct corral_stat {
  uint64_t size;
  uint64_t mode;   /* type and permission bits, as st_mode */
  uint64_t nlink, uid, gid, ino, dev;
  int64_t atime_ns, mtime_ns, ctime_ns;
} corral_stat;

/* BLOCKS. stat(2) a path / fstat(2) an open file. 0 or a negative code
 * (CORRAL_ENOENT, ...). */
CORRAL_NODISCARD CORRAL_API int corral_file_stat(const char *path, corral_stat *st);
CORRAL_NODISCARD CORRAL_API int corral_file_fstat(corral_file *f, corral_stat *st);
/* BLOCKS. unlink(2), rename(2), mkdir(2), rmdir(2). 0 or a negative code. */
CORRAL_NODISCARD CORRAL_API int corral_file_unlink(const char *path);
CORRAL_NODISCARD CORRAL_API int corral_file_rename(const char *from, const char *to);
CORRAL_NODISCARD CORRAL_API int corral_file_mkdir(const char *path, int mode);
CORRAL_NODISCARD CORRAL_API int corral_file_rmdir(const char *path);

/* BLOCKS. Read a whole file into a new buffer (Python's
 * Path.read_bytes). At most max_size bytes: a larger file fails with
 * CORRAL_ERANGE and returns nothing. On 0, *data is malloc'd, holds *len
 * bytes plus a terminating NUL (not counted), and the caller frees it with
 * free(); on error *data is NULL. */
CORRAL_NODISCARD CORRAL_API int corral_file_read_all(const char *path, size_t max_size,
                                    char **data, size_t *len);
/* BLOCKS. Create or truncate path (mode for a new file, e.g. 0644) and
 * write len bytes of data to it. 0 or a negative code; a cancelled or
 * failed write leaves a partial file. */
CORRAL_NODISCARD CORRAL_API int corral_file_write_all(const char *path, const void *data,
                                     size_t len, int mode);

#ifdef __cplusplus
}
#endif
#endif
