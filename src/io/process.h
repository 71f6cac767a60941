/* Internal to the subprocess family (process.c, process_run.c). */
#ifndef CORRAL_IO_PROCESS_H
#define CORRAL_IO_PROCESS_H

#include "io/io.h"

/* TASK ONLY. Kill (SIGKILL) what is left of p's process group and park,
 * unabortably and for at most a second, until it is gone, reaping the
 * members that became the caller's children. */
CORRAL__HIDDEN void corral__process_end_group(corral_process *p);

/* 1 when a child with default options starts by posix_spawn and is
 * watched on a pidfd (the fast path); 0 when it is forked (tests). */
CORRAL__HIDDEN int corral__process_fast(void);

#endif
