/*
 * corral.h -- structured concurrency for C.
 *
 * Tasks are stackful coroutines scheduled on a libuv loop, one runtime per
 * thread. Every task belongs to a group; a group does not close until all of
 * its children have finished; corral_run() returns only when every task has
 * finished. Errors are values: every call returns 0 or a negative code
 * (CORRAL_E*), never jumps through your frames.
 *
 * Reading guide for each call:
 *   BLOCKS      the call may suspend the calling task. Every blocking call
 *               is a cancellation point: inside a cancelled scope it fails
 *               with CORRAL_ECANCELED at once and keeps failing until the
 *               code leaves that scope (level-triggered cancellation).
 *   TASK ONLY   must be called from inside a corral task; elsewhere it
 *               returns CORRAL_ENOTASK.
 *   OWNERSHIP   who frees what is stated per call. Every release/free
 *               function accepts NULL.
 *
 * TIME, one rule for every call. Times are monotonic nanoseconds
 * (int64_t); build durations with CORRAL_US / CORRAL_MS / CORRAL_SEC.
 *   - A relative timeout of CORRAL_FOREVER means none; any value <= 0 means
 *     already expired (the call does not wait; a wait that finds its
 *     condition already true still succeeds).
 *   - An absolute deadline (a value of corral_now()) of CORRAL_FOREVER
 *     means none; any deadline <= corral_now() is already expired.
 *   - The only exception: a timeout or deadline FIELD of an options struct
 *     (corral_scope_opts.deadline, corral_group_opts.timeout_ns,
 *     corral_gather_opts.timeout_ns) reads 0 as "not set" (= none), so a
 *     zeroed struct means "no timeout". There, CORRAL_FOREVER is none too
 *     and a negative value is already expired.
 *
 * HANDLES (corral_task *) die with their runtime: after corral_run returns,
 * calls that return a code get CORRAL_ENOTASK, the others abort with a
 * message. A released or otherwise stale handle gets CORRAL_EINVAL (or an
 * abort from the calls with no code to return); it never reaches another
 * task, even one that reuses the memory.
 *
 * The header compiles as C11 (-Wpedantic) and C++17. Calls marked
 * CORRAL_NODISCARD warn when their code is dropped: dropping a
 * CORRAL_ECANCELED is how a task ends up ignoring its cancellation. Drop one
 * on purpose with CORRAL_IGNORE(call) (GCC does not accept a plain (void)).
 */
#ifndef CORRAL_H
#define CORRAL_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(CORRAL_STATIC)
#define CORRAL_API
#elif defined(__GNUC__)
#define CORRAL_API __attribute__((visibility("default")))
#else
#define CORRAL_API
#endif

#if defined(__GNUC__)
#define CORRAL_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define CORRAL_PRINTF(f, a)
#endif

#if defined(__cplusplus) && __cplusplus >= 201703L
#define CORRAL_NODISCARD [[nodiscard]]
#elif defined(__GNUC__)
#define CORRAL_NODISCARD __attribute__((warn_unused_result))
#else
#define CORRAL_NODISCARD
#endif
#define CORRAL_IGNORE(call) ((void)!(call))

/* Storage the library lays its own structs in. */
#ifdef __cplusplus
#define CORRAL_ALIGN16 alignas(16)
#else
#define CORRAL_ALIGN16 _Alignas(16)
#endif

#define CORRAL_VERSION_MAJOR 0
#define CORRAL_VERSION_MINOR 1
#define CORRAL_VERSION_PATCH 0
#define CORRAL_VERSION_HEX                                                   \
  ((CORRAL_VERSION_MAJOR << 16) | (CORRAL_VERSION_MINOR << 8) |              \
   CORRAL_VERSION_PATCH)

/* Runtime version: compare with CORRAL_VERSION_HEX to detect a mismatch
 * between the header you compiled with and the library you run with. */
CORRAL_API unsigned corral_version(void);
CORRAL_API const char *corral_version_string(void);

/* ------------------------------------------------------------------------ */
/* Error codes                                                               */
/* ------------------------------------------------------------------------ */

/* errno-style codes: CORRAL_EINVAL == -EINVAL and so on. */
#define CORRAL_ERRNO_MAP(XX)                                                 \
  XX(EINVAL, -EINVAL, "invalid argument")                                    \
  XX(EPERM, -EPERM, "operation not permitted")                               \
  XX(ENOMEM, -ENOMEM, "out of memory")                                       \
  XX(EAGAIN, -EAGAIN, "resource temporarily unavailable")                    \
  XX(EBUSY, -EBUSY, "resource busy")                                         \
  XX(ENOENT, -ENOENT, "no such file or directory")                           \
  XX(EIO, -EIO, "input/output error")                                        \
  XX(EPIPE, -EPIPE, "broken pipe")                                           \
  XX(ECONNREFUSED, -ECONNREFUSED, "connection refused")                      \
  XX(ECONNRESET, -ECONNRESET, "connection reset by peer")                    \
  XX(ERANGE, -ERANGE, "result out of range")                                 \
  XX(EBADF, -EBADF, "bad file descriptor")                                   \
  XX(ESRCH, -ESRCH, "no such task: it already finished")                     \
  XX(EMFILE, -EMFILE, "too many open files")                                 \
  XX(ENFILE, -ENFILE, "too many open files in system")                       \
  XX(EADDRINUSE, -EADDRINUSE, "address already in use")                      \
  XX(EPROTO, -EPROTO, "protocol error: a task broke its start protocol")

/* corral's own codes. ECANCELED, ETIMEDOUT and EDEADLK take their errno
 * values, so a timeout is one code whether corral or libuv produced it; the
 * others live in a reserved range: -30999 .. -30000. */
#define CORRAL_OWN_ERROR_MAP(XX)                                             \
  XX(ECANCELED, -ECANCELED, "cancelled")                                     \
  XX(ETIMEDOUT, -ETIMEDOUT, "deadline expired")                              \
  XX(EGROUP, -30003, "one or more tasks of the group failed")                \
  XX(ECLOSED, -30004, "object is closed")                                    \
  XX(EDEADLK, -EDEADLK, "deadlock: no task can make progress")               \
  XX(EJOINED, -30006, "task was already joined")                             \
  XX(EFOREIGN, -30007, "object belongs to another runtime")                  \
  XX(ENOTASK, -30008, "not called from a corral task")                       \
  XX(ENOTFOUND, -30101, "host name not found")                               \
  XX(EFAILED, -30009, "group has failed")                                    \
  XX(EEOF, -30010, "no more items")                                          \
  XX(ENESTING, -30011, "scopes or groups exited out of order")               \
  XX(EABANDONED, -30012, "offloaded work abandoned after its deadline")

#define CORRAL_ERROR_RANGE_MIN (-30999)
#define CORRAL_ERROR_RANGE_MAX (-30000)

typedef enum {
#define CORRAL__XX(name, val, msg) CORRAL_##name = (val),
  CORRAL_ERRNO_MAP(CORRAL__XX) CORRAL_OWN_ERROR_MAP(CORRAL__XX)
#undef CORRAL__XX
  CORRAL_OK_CODE = 0
} corral_errcode;

/* Message for any code (corral's own, errno-style, or unknown). Never NULL;
 * the string is static. */
CORRAL_API const char *corral_strerror(int code);
/* Symbolic name for a code: "OK" for 0, corral's name for its codes
 * ("CORRAL_ECANCELED"; those equal to a negative errno, like CORRAL_EINVAL
 * == -EINVAL, are named the corral way), the errno name for another
 * negative errno ("ECHILD"), "E?" for anything else. Static. */
CORRAL_API const char *corral_err_name(int code);

/* ------------------------------------------------------------------------ */
/* Core types                                                                */
/* ------------------------------------------------------------------------ */

#define CORRAL_FOREVER INT64_MAX

/* Durations in nanoseconds from other units (int64_t). */
#define CORRAL_US(n) ((int64_t)(n) * 1000)
#define CORRAL_MS(n) ((int64_t)(n) * 1000000)
#define CORRAL_SEC(n) ((int64_t)(n) * 1000000000)

typedef struct corral_task corral_task;
typedef struct corral_error corral_error;

/* A task body. Return 0 for success (optionally storing a result pointer in
 * *result: corral never dereferences nor frees it), or a negative code. A
 * message for the code can be attached with corral_errorf(). */
typedef int (*corral_fn)(void *arg, void **result);

/* How a task ended: corral_task_status(), corral_outcome.status. Each
 * status comes with one code (corral_task_code(), corral_outcome.code):
 *   PENDING      0                  still running (or never ran yet); the
 *                                   zero value of a cleared outcome
 *   OK           0                  returned 0; `result` is what it stored
 *   ERROR        its negative code  returned a code other than
 *                                   CORRAL_ECANCELED; `error` holds the
 *                                   record (code, message, task name)
 *   CANCELLED    CORRAL_ECANCELED   a cancellation ended it; `reason` says
 *                                   why (kind NONE when it returned
 *                                   CORRAL_ECANCELED on its own)
 *   TIMED_OUT    CORRAL_ETIMEDOUT   cancelled by its group's or gather's
 *                                   deadline, or by wait_for's timeout;
 *                                   `reason.kind` is DEADLINE
 *   NOT_STARTED  0                  collective calls only (corral_gather
 *                                   with a concurrency limit): the call
 *                                   ended (failure, timeout, cancel) before
 *                                   admitting it; it never ran, so it has
 *                                   no code, result, error or reason */
typedef enum {
  CORRAL_STATUS_PENDING = 0,
  CORRAL_STATUS_OK,
  CORRAL_STATUS_ERROR,
  CORRAL_STATUS_CANCELLED,
  CORRAL_STATUS_TIMED_OUT,
  CORRAL_STATUS_NOT_STARTED
} corral_status;

/* "PENDING", "OK", "ERROR", "CANCELLED", "TIMED_OUT", "NOT_STARTED"
 * (static; "?" for another value). */
CORRAL_API const char *corral_status_name(corral_status s);

/* Why a scope was cancelled. */
typedef enum {
  CORRAL_CANCEL_NONE = 0,
  CORRAL_CANCEL_EXPLICIT,       /* corral_cancel / corral_scope_cancel ... */
  CORRAL_CANCEL_DEADLINE,       /* a scope's deadline expired */
  CORRAL_CANCEL_SIBLING_FAILED, /* FAIL_FAST group: another child failed */
  CORRAL_CANCEL_PARENT,         /* inherited from a scope of an ancestor task */
  CORRAL_CANCEL_SIGNAL,         /* a signal (SIGINT/SIGTERM) handler */
  CORRAL_CANCEL_GROUP_DONE,     /* FIRST / QUORUM group already satisfied */
  CORRAL_CANCEL_DEADLOCK        /* runtime found a deadlock and unwinds */
} corral_cancel_kind;

/* "none", "explicit", "deadline", "sibling failed", "parent cancelled",
 * "signal", "group done", "deadlock" (static; "?" for another value). */
CORRAL_API const char *corral_cancel_kind_name(corral_cancel_kind k);

#define CORRAL_NAME_MAX 32
#define CORRAL_REASON_MSG_MAX 96

typedef struct corral_cancel_reason {
  corral_cancel_kind kind;  /* PARENT when the cancelled scope belongs to an
                               ancestor task; `cause` then says why */
  corral_cancel_kind cause; /* the original kind (== kind unless PARENT) */
  char scope[CORRAL_NAME_MAX];  /* name of the scope that was cancelled */
  char task[CORRAL_NAME_MAX];   /* task that cancelled it (or failed) */
  char message[CORRAL_REASON_MSG_MAX];
} corral_cancel_reason;

/* The outcome of one task, filled by corral_gather, corral_safe_gather,
 * corral_gather_tasks and corral_task_outcome (by value: it stays valid
 * after the task's handle is released). `error` is a counted reference
 * owned by the outcome: release it with corral_outcome_clear(). Which
 * fields are set for each status: see corral_status. */
typedef struct corral_outcome {
  corral_status status;
  int code;           /* the status's code (see corral_status): 0 for OK,
                         PENDING and NOT_STARTED, the task's negative code
                         for ERROR, CORRAL_ECANCELED, CORRAL_ETIMEDOUT */
  void *result;       /* OK: what the task stored in *result (never
                         dereferenced nor freed by corral); else NULL */
  corral_error *error; /* ERROR: the error record (an EGROUP record nests
                          its children's); else NULL. Owned reference */
  corral_cancel_reason reason; /* CANCELLED / TIMED_OUT: why (kind, cause,
                                  scope, task, message); else zeroed
                                  (kind NONE) */
} corral_outcome;

/* Drop o's error reference and zero it (status PENDING). NULL is fine;
 * clearing twice is fine. corral_outcomes_clear: the same for o[0..n-1]. */
CORRAL_API void corral_outcome_clear(corral_outcome *o);
CORRAL_API void corral_outcomes_clear(corral_outcome *o, size_t n);

/* ------------------------------------------------------------------------ */
/* Error records                                                             */
/* ------------------------------------------------------------------------ */

/* Error records are immutable and reference counted. An EGROUP record holds
 * the errors of the group's children, in completion order, the body's error
 * last; a child that itself failed with EGROUP nests its own aggregate.
 * The accessors never block and accept NULL: code 0, message "", task "",
 * count 0, child NULL. Strings are borrowed from e (valid while a
 * reference is held). */
CORRAL_API int corral_error_code(const corral_error *e);
/* The message (corral_errorf's text, or the code's corral_strerror). */
CORRAL_API const char *corral_error_message(const corral_error *e);
/* The name of the task that recorded it. */
CORRAL_API const char *corral_error_task(const corral_error *e);
/* Nested records (EGROUP: one per failed child, then the body's). */
CORRAL_API size_t corral_error_count(const corral_error *e);
/* The i-th nested record (borrowed from e), NULL when i >= count. */
CORRAL_API const corral_error *corral_error_child(const corral_error *e,
                                                  size_t i);
/* Take a reference (returns e; NULL gives NULL); corral_error_unref drops
 * one and frees the record with the last. Records may outlive the runtime
 * that made them (they carry its allocator). */
CORRAL_API corral_error *corral_error_ref(corral_error *e);
CORRAL_API void corral_error_unref(corral_error *e);
/* An error raised while its task was handling a cancellation (inside a
 * cancelled scope: failed cleanup) carries that cancellation's reason as
 * its cause; NULL otherwise. Borrowed from e. */
CORRAL_API const corral_cancel_reason *corral_error_cause(const corral_error *e);
/* Print the record (its cause, and nested aggregates, indented) to f. */
CORRAL_API void corral_error_print(const corral_error *e, FILE *f);

/* TASK ONLY. Record `code` with a printf-style message as the current task's
 * error and return `code`, so a body can `return corral_errorf(...)`. */
CORRAL_API int corral_errorf(int code, const char *fmt, ...)
    CORRAL_PRINTF(2, 3);
/* The current task's latest error record (errno-like: read it right after
 * a call failed; borrowed, valid until the next call that records or drops
 * one). NULL if none. Never stale: a call that fails with a code and no
 * record of its own (a cancellation, a refused spawn) drops a record of
 * another code, so what you read belongs to the failure you just saw or is
 * NULL. A call that succeeds leaves it alone. */
CORRAL_API const corral_error *corral_last_error(void);

/* ------------------------------------------------------------------------ */
/* Runtime                                                                   */
/* ------------------------------------------------------------------------ */

typedef struct corral_allocator {
  void *(*malloc)(void *ctx, size_t size);
  void *(*realloc)(void *ctx, void *ptr, size_t size);
  void (*free)(void *ctx, void *ptr);
  void *ctx;
} corral_allocator;

struct uv_loop_s;

typedef struct corral_options {
  size_t stack_size;        /* default task stack; 0 = 256 KiB */
  int virtual_clock;        /* 1: virtual time with autojump */
  int64_t autojump_threshold_ns; /* virtual clock with real I/O pending:
                                    wait up to this much real time for I/O
                                    before jumping (0 = not set: jump at
                                    once) */
  uint64_t shuffle_seed;    /* != 0: seeded random run-queue order */
  struct uv_loop_s *loop;   /* run on this libuv loop; NULL = own loop */
  const corral_allocator *allocator; /* NULL = malloc/realloc/free */
  FILE *report;             /* deadlock and runaway-task reports, misuse
                               messages; NULL = stderr */
  int stack_paint;          /* 1: measure peak stack use per task */
  size_t stack_cache;       /* warm stacks kept per size; 0 = 64 */
  int no_guard_install;     /* 1: pretend MADV_GUARD_INSTALL is missing */
  /* Runaway tasks, reported once per task (name and spawn site) to
   * `report`. The runtime cannot interrupt a task that never reaches a
   * checkpoint; it can say so. */
  int64_t stall_report_ns;  /* a task that runs this long without reaching
                               a checkpoint stalls every other task: report
                               it. 0 = not set: 100 ms; CORRAL_FOREVER:
                               never */
  unsigned cancel_spin_report; /* a task that hits this many checkpoints in
                               a row inside a cancelled scope without giving
                               the CPU away is ignoring CORRAL_ECANCELED:
                               report it. 0 = not set: 10000; UINT_MAX:
                               never */
  int cancel_spin_fatal;    /* 1: abort() after that report */
  struct corral_error **error; /* != NULL: receives the root task's error
                               record when corral_run returns an error (an
                               EGROUP aggregate with every child's error
                               included), else NULL. A reference you own:
                               corral_error_unref() it */
  int huge_pages;           /* 1: task structs in 2 MiB transparent huge
                               pages once bursts are large (default
                               allocator only). Halves the cost of a burst
                               of a million lazily started tasks, but a
                               fragmented machine may stall in the kernel's
                               compaction (THP "defrag" setting) */
  size_t offload_threads;   /* corral_to_thread's worker threads at most;
                               0 = 8 (started on demand) */
  int64_t offload_drain_ns; /* the runtime's end waits this long for
                               abandoned offloaded calls (corral/thread.h);
                               0 (not set) = 10 s, CORRAL_FOREVER = as long
                               as they run, < 0 = not at all */
} corral_options;

/* Task stacks have a guard page below them; an overflow is reported with
 * the task's name. Compile code that runs in tasks with
 * -fstack-clash-protection (pkg-config --cflags corral adds it), so that a
 * frame larger than the guard (a big array, alloca) probes the guard page
 * instead of writing over a neighbouring task's stack. See docs/stacks.md. */
#define CORRAL_STACK_MIN ((size_t)16 * 1024)
#define CORRAL_STACK_MAX ((size_t)1024 * 1024 * 1024)

/* Run `main_fn(arg, result)` as the root task of a new runtime on the
 * calling thread and return when every task has finished. Returns 0 (and
 * *result), main's error code (its record through opts->error), CORRAL_ECANCELED
 * when main ended cancelled, CORRAL_EDEADLK if the runtime found a deadlock
 * (the task tree is printed to opts->report and every task is unwound),
 * CORRAL_EINVAL (main_fn NULL, a bad option), CORRAL_EBUSY (a runtime
 * already runs on this thread), CORRAL_ENOMEM, or a libuv error starting
 * the loop. opts may be NULL. One runtime per thread at a time. The
 * runtime runs one helper thread of its own while it lives (the watchdog:
 * deadlines on time, runaway-task reports; it blocks every signal and
 * never runs your code). */
CORRAL_API int corral_run(const corral_options *opts, corral_fn main_fn,
                          void *arg, void **result);

/* Which context switch this build uses: "x86_64-sysv-asm",
 * "aarch64-aapcs64-asm" or "ucontext". */
CORRAL_API const char *corral_context_backend(void);
/* Which stack guard strategy the current runtime uses ("guard-install",
 * "mprotect", "canary"), or NULL outside a runtime. */
CORRAL_API const char *corral_stack_guard_mode(void);

/* Monotonic now in ns (virtual when the runtime runs a virtual clock). */
CORRAL_API int64_t corral_now(void);
/* The current runtime's libuv loop (NULL outside a runtime). */
CORRAL_API struct uv_loop_s *corral_loop(void);

/* Print the task tree of the current runtime: name, state, what each task
 * waits on, remaining deadline, spawn site. */
CORRAL_API void corral_dump(FILE *f);

/* ------------------------------------------------------------------------ */
/* Tasks                                                                     */
/* ------------------------------------------------------------------------ */

typedef struct corral_spawn_opts {
  const char *name;   /* copied (truncated to CORRAL_NAME_MAX-1) */
  size_t stack_size;  /* 0 = runtime default */
  int eager;          /* 1: run the child at once, until it first blocks or
                         finishes, then resume the spawner (which is then a
                         switch point, not a cancellation point). Default:
                         the child starts when the FIFO scheduler reaches it. */
  int compact;        /* 1: leaf task on the runtime's shared stack; while
                         suspended only its live stack bytes are kept (a few
                         hundred bytes instead of a page). A compact task may
                         sleep, yield, spawn lazily, create_task, read its
                         cancel reason, use TCP sockets (its reads go
                         through a bounce buffer) and wait for descriptors
                         (corral_wait_readable / _writable); calls that
                         would let other code point into its stack while it
                         is suspended (scopes, groups, join, corral_wait,
                         wait_for, as_completed, gather, events, semaphores,
                         corral_park) return CORRAL_EINVAL. Nothing may hold a pointer into a
                         compact task's stack. Ignored (a normal stack is
                         used) under AddressSanitizer and with the ucontext
                         back end. */
} corral_spawn_opts;

/* Groups live in caller storage (usually the body's stack frame). */
typedef struct corral_group {
  CORRAL_ALIGN16 unsigned char opaque_[320];
} corral_group;

/* TASK ONLY. Spawn fn(arg) as a child of group g (g == NULL: the current
 * task's implicit group, see corral_create_task). The task starts when the
 * scheduler reaches it (or at once with opts->eager); it gets its stack
 * only then. If out != NULL it
 * receives a handle the caller owns: release it with corral_task_release()
 * (after or before the task finished). Returns 0, CORRAL_ECLOSED (group
 * closed), CORRAL_EFAILED (group failed), CORRAL_ECANCELED (group
 * cancelled or satisfied), CORRAL_EINVAL (fn NULL, bad stack size, g not a
 * group), CORRAL_ENOMEM, CORRAL_EFOREIGN (g of another runtime),
 * CORRAL_ENOTASK. On error nothing runs and *out is NULL. */
CORRAL_API int corral_spawn_at(corral_group *g, corral_fn fn, void *arg,
                               const corral_spawn_opts *opts,
                               corral_task **out, const char *file, int line);
/* The same with the options by value, so they can be written inline, last:
 * corral_spawn_with(g, fn, arg, &t, (corral_spawn_opts){.name = "x",
 * .eager = 1}) in C, corral_spawn_with(g, fn, arg, &t,
 * corral_spawn_opts{"x", 0, 1, 0}) in C++. */
CORRAL_API int corral_spawn_with_at(corral_group *g, corral_fn fn, void *arg,
                                    corral_spawn_opts opts, corral_task **out,
                                    const char *file, int line);
/* The same with only a name (borrowed, copied). */
CORRAL_API int corral_spawn_named_at(corral_group *g, corral_fn fn, void *arg,
                                     const char *name, corral_task **out,
                                     const char *file, int line);
#define corral_spawn(g, fn, arg, nm, out)                                    \
  corral_spawn_named_at((g), (fn), (arg), (nm), (out), __FILE__, __LINE__)
#define corral_spawn_ex(g, fn, arg, opts, out)                               \
  corral_spawn_at((g), (fn), (arg), (opts), (out), __FILE__, __LINE__)
#define corral_spawn_with(g, fn, arg, out, ...)                              \
  corral_spawn_with_at((g), (fn), (arg), __VA_ARGS__, (out), __FILE__,       \
                       __LINE__)

/* BLOCKS. Trio's nursery.start: spawn fn(arg) and wait until it calls
 * corral_started(value) -- for example once a server has bound its port.
 * Until then the task belongs to the caller: its error (or its
 * cancellation, or the caller's) is what corral_start returns, and nothing
 * reaches g. Once started it moves into g (NULL: the caller's implicit
 * group) and corral_start returns 0 with *value (optional) and, if out is
 * not NULL, a handle to release. Returns 0; the task's own error code (its
 * record in corral_last_error()); CORRAL_EPROTO when it finished without
 * calling corral_started; CORRAL_ECANCELED / CORRAL_ETIMEDOUT when it was
 * cancelled before it started; CORRAL_ECLOSED, CORRAL_EFAILED,
 * CORRAL_ECANCELED when g no longer takes tasks (then it is cancelled and
 * waited for); CORRAL_EINVAL (fn NULL, g not a group, compact caller),
 * CORRAL_EFOREIGN, CORRAL_ENOMEM, CORRAL_ENOTASK. */
CORRAL_NODISCARD CORRAL_API int corral_start_at(corral_group *g, corral_fn fn,
                                                void *arg, const char *name,
                                                void **value,
                                                corral_task **out,
                                                const char *file, int line);
#define corral_start(g, fn, arg, name, value, out)                           \
  corral_start_at((g), (fn), (arg), (name), (value), (out), __FILE__,        \
                  __LINE__)
/* Called by a task started with corral_start: hand `value` to the starter
 * and move into the target group. Does not block. Returns 0, CORRAL_EINVAL
 * (not started by corral_start, or signalled already: the second call
 * changes nothing), CORRAL_ENOTASK. */
CORRAL_API int corral_started(void *value);

/* asyncio.create_task: spawn into the current task's implicit group. The
 * implicit group is closed when the current task's function returns: its
 * children are awaited (cancelled first if the task failed or was
 * cancelled), and any child error nobody joined makes the task fail with
 * CORRAL_EGROUP. Nothing outlives its parent task, but these children may
 * outlive the parent's FUNCTION (they are awaited after it returned, e.g.
 * when a cancelled join returned early): never lend them memory of the
 * parent's stack frame (a buffer, an event, a semaphore); for that, open a
 * group and close it in the same function. Should a child still wait on
 * an event, semaphore, lock, condition or limiter of the returned frame
 * (a wait lent so by mistake), the runtime takes it out of that object's
 * queue without touching the object, its wait returns CORRAL_EINVAL with
 * a message, and the misuse is reported to corral_options.report. A
 * child woken otherwise (cancelled, the deadlock breaker) leaves the
 * queue at once, so the parent's frame may go before the child runs. */
#define corral_create_task(fn, arg, nm, out)                                 \
  corral_spawn(NULL, (fn), (arg), (nm), (out))

/* BLOCKS. Wait for t to finish. Returns 0 (and *result if result != NULL)
 * when it succeeded, its error code when it failed (the error record becomes
 * the caller's corral_last_error(), so returning the code propagates it),
 * CORRAL_ETIMEDOUT when its own or its group's deadline ended it (status
 * TIMED_OUT), or CORRAL_ECANCELED when it was cancelled or when the caller
 * is cancelled while waiting (t then keeps running; see
 * corral_task_done()) -- also when t finished already: a join inside a
 * cancelled scope takes nothing (a later join outside it gets the
 * outcome). Also CORRAL_EJOINED (joined already), CORRAL_EDEADLK
 * (t is the caller), CORRAL_EINVAL (NULL or stale handle, compact caller),
 * CORRAL_EFOREIGN, CORRAL_ENOTASK. */
CORRAL_NODISCARD CORRAL_API int corral_join(corral_task *t, void **result);
/* What a task ended with (PENDING while it runs; NULL handle: PENDING, 0,
 * NULL). The error is borrowed: valid until corral_task_release(t). These
 * have no code to return: a stale handle aborts with a message. */
CORRAL_API corral_status corral_task_status(const corral_task *t);
CORRAL_API int corral_task_code(const corral_task *t);
CORRAL_API void *corral_task_result(const corral_task *t);
CORRAL_API const corral_error *corral_task_error(const corral_task *t);
/* Why a CANCELLED or TIMED_OUT task was cancelled: 0, CORRAL_ENOENT if it
 * was not, CORRAL_EINVAL (NULL out, NULL or stale handle),
 * CORRAL_EFOREIGN, CORRAL_ENOTASK. */
CORRAL_API int corral_task_cancel_reason(const corral_task *t,
                                         corral_cancel_reason *out);
/* Copy the whole outcome; out->error is a new reference, released by
 * corral_outcome_clear(out). Returns the status. */
CORRAL_API corral_status corral_task_outcome(const corral_task *t,
                                             corral_outcome *out);
CORRAL_API int corral_task_done(const corral_task *t);
CORRAL_API const char *corral_task_name(const corral_task *t);
/* Peak stack bytes the task used (needs options.stack_paint; else 0). */
CORRAL_API size_t corral_task_stack_peak(const corral_task *t);
/* Give the handle back (NULL is fine). The handle is dead afterwards: a
 * second release aborts with a message, as does releasing a borrowed
 * handle. */
CORRAL_API void corral_task_release(corral_task *t);
/* Cancel t (its root scope) with an explicit reason (message copied; may be
 * NULL). Does not block. Returns 0, CORRAL_ESRCH when t already finished
 * (nothing changes), CORRAL_EINVAL (NULL or stale handle), CORRAL_EFOREIGN,
 * CORRAL_ENOTASK. */
CORRAL_API int corral_cancel(corral_task *t, const char *message);

/* The calling task as a borrowed handle (never released; valid while the
 * task lives), or NULL outside a task. */
CORRAL_API corral_task *corral_current(void);

/* Checkpoints. Every call marked BLOCKS is a cancellation point, also
 * when it completes at once (a channel with room, an event already set, a
 * finished task, bytes already buffered): inside a cancelled scope it
 * fails with CORRAL_ECANCELED and takes nothing (Trio's rule). A call that
 * completes at once is also a schedule point once the task has used its
 * slice: at least every CORRAL_YIELD_EVERY such calls, and at the next one
 * after a deadline passed or the task ran a whole watchdog tick (1 ms)
 * without giving the CPU away (real clock only: on the virtual clock the
 * count alone decides, so the order stays deterministic). That yield is
 * not a cancellation point: the call's effect is kept. One exception:
 * corral_wait_for returns a result already there (a result wins over a
 * cancellation, as it wins over the deadline). */
#define CORRAL_YIELD_EVERY 256

/* BLOCKS. Give other runnable tasks a turn (a checkpoint). Returns 0,
 * CORRAL_ECANCELED, CORRAL_ENOTASK. */
CORRAL_NODISCARD CORRAL_API int corral_yield(void);
/* BLOCKS. Sleep for ns / until an absolute time (the time rule: <= 0 or a
 * deadline passed already is a plain checkpoint, CORRAL_FOREVER sleeps
 * until cancelled). Returns 0, CORRAL_ECANCELED, CORRAL_ENOTASK. */
CORRAL_NODISCARD CORRAL_API int corral_sleep(int64_t ns);
CORRAL_NODISCARD CORRAL_API int corral_sleep_until(int64_t deadline);
/* Returns CORRAL_ECANCELED if the current task is inside a cancelled scope,
 * else 0 (CORRAL_ENOTASK outside a task), without blocking. */
CORRAL_NODISCARD CORRAL_API int corral_checkpoint_cancel(void);
/* Fill *out with why the current task is cancelled. Returns 0 if it is,
 * CORRAL_ENOENT if it is not, CORRAL_EINVAL (out NULL), CORRAL_ENOTASK. */
CORRAL_API int corral_cancel_reason_get(corral_cancel_reason *out);

/* ------------------------------------------------------------------------ */
/* Cancel scopes and deadlines                                               */
/* ------------------------------------------------------------------------ */

typedef struct corral_scope {
  CORRAL_ALIGN16 unsigned char opaque_[256];
} corral_scope;

typedef struct corral_scope_opts {
  const char *name; /* borrowed: must stay valid while the scope is entered */
  int64_t deadline; /* absolute; 0 = not set (none); CORRAL_FOREVER none;
                       <= corral_now(): already expired */
  int shield;       /* 1: outer cancellations do not reach inside */
  int fail;         /* 1: fail-after: exit reports CORRAL_ETIMEDOUT when this
                       scope's own deadline fired; 0: move-on-after */
} corral_scope_opts;

/* TASK ONLY. Enter a scope (LIFO with other scopes and groups of the task).
 * The scope lives in caller storage until corral_scope_exit(). o NULL: no
 * deadline, no shield, move-on. Returns 0, CORRAL_EBUSY (s is entered
 * already, by this task or another), CORRAL_EINVAL (s NULL, compact task),
 * CORRAL_ENOMEM, CORRAL_ENOTASK. */
/* Every scope entered and every group opened must be exited / closed
 * before the task's function returns (an early `return rc;` between them
 * is the classic mistake): a task that returns with one still open ends
 * the process with a message naming the task and the scope or group. */
CORRAL_API int corral_scope_enter(corral_scope *s, const corral_scope_opts *o);
/* Leave the scope. Pass the code the code inside produced; returns it
 * translated: CORRAL_ECANCELED caused by this scope's own cancellation
 * becomes 0 (move-on) or CORRAL_ETIMEDOUT (fail-after whose deadline fired)
 * -- but only when no enclosing scope's cancellation reaches this one: the
 * outermost cancelled scope converts, inner ones pass CORRAL_ECANCELED
 * through (Trio, asyncio). Anything else passes through (a fail scope whose
 * deadline fired but whose code finished anyway keeps the code). Also
 * CORRAL_ENESTING (s is not the task's innermost scope), CORRAL_EINVAL (s
 * not entered), CORRAL_ENOTASK. */
CORRAL_NODISCARD CORRAL_API int corral_scope_exit(corral_scope *s, int rc);
/* Cancel the scope (message copied, may be NULL); does not block. Returns
 * 0 (also when cancelled already), CORRAL_EINVAL (not entered),
 * CORRAL_EFOREIGN, CORRAL_ENOTASK. */
CORRAL_API int corral_scope_cancel(corral_scope *s, const char *message);
/* Move the scope's deadline (absolute; CORRAL_FOREVER removes it; a deadline
 * already passed cancels now). Returns 0, CORRAL_EINVAL, CORRAL_ENOMEM,
 * CORRAL_ENOTASK. */
CORRAL_API int corral_scope_set_deadline(corral_scope *s, int64_t deadline);
/* 1 if this scope was cancelled (explicitly or by its deadline). */
CORRAL_API int corral_scope_cancelled(const corral_scope *s);
/* 1 if this scope's own deadline fired. */
CORRAL_API int corral_scope_timed_out(const corral_scope *s);
/* 1 if corral_scope_exit converted this scope's cancellation (to 0 or
 * CORRAL_ETIMEDOUT): Trio's CancelScope.cancelled_caught. */
CORRAL_API int corral_scope_caught(const corral_scope *s);

/* Configure a scope before entering it (Trio's CancelScope(...) then
 * `with`): the options are kept, and corral_scope_enter(s, NULL) enters it
 * as configured. Before entry, corral_scope_cancel (its message must stay
 * valid until entry), corral_scope_set_deadline and corral_scope_set_shield
 * change the configuration; the cancel takes effect on entry. Does not
 * need a task. Returns 0, CORRAL_EINVAL (s NULL), CORRAL_EBUSY (entered). */
CORRAL_API int corral_scope_init(corral_scope *s, const corral_scope_opts *o);
/* Read back: the scope's deadline (CORRAL_FOREVER: none), whether it is
 * shielded. Valid configured, entered and after exit. */
CORRAL_API int64_t corral_scope_deadline(const corral_scope *s);
CORRAL_API int corral_scope_shielded(const corral_scope *s);
/* Shield or unshield a configured or entered scope. Unshielding while an
 * enclosing scope is cancelled cancels the calls blocked inside at once.
 * Returns 0, CORRAL_EINVAL, CORRAL_EFOREIGN, CORRAL_ENOTASK. */
CORRAL_API int corral_scope_set_shield(corral_scope *s, int on);

/* Cancel the scope (reason CORRAL_CANCEL_SIGNAL) when signal signum
 * arrives, for as long as the scope is entered. While it watches, the
 * runtime does not report a deadlock: the signal may still come. Returns 0,
 * CORRAL_EBUSY (it watches a signal already), CORRAL_EINVAL,
 * CORRAL_EFOREIGN, CORRAL_ENOTASK, a libuv error for a bad signum. */
CORRAL_API int corral_scope_cancel_on_signal(corral_scope *s, int signum);

/* Conveniences (Trio's names), entering s: codes as corral_scope_enter.
 * The time rule: CORRAL_FOREVER none, <= 0 (or a deadline passed) already
 * expired, so the scope is cancelled at once. */
CORRAL_API int corral_move_on_after(corral_scope *s, int64_t ns);
CORRAL_API int corral_move_on_at(corral_scope *s, int64_t deadline);
CORRAL_API int corral_fail_after(corral_scope *s, int64_t ns);
CORRAL_API int corral_fail_at(corral_scope *s, int64_t deadline);
/* A shielded scope bounded by its own timeout (CORRAL_FOREVER: none; <= 0
 * already expired). For cleanup that must still wait inside a cancelled
 * task. */
CORRAL_API int corral_shield(corral_scope *s, int64_t timeout_ns);

/* ------------------------------------------------------------------------ */
/* Groups (TaskGroup / nursery)                                              */
/* ------------------------------------------------------------------------ */

typedef enum {
  CORRAL_FAIL_FAST = 0, /* TaskGroup: the first error cancels the rest */
  CORRAL_COLLECT,       /* supervisor: failures do not cancel siblings */
  CORRAL_FIRST,         /* first success wins, the rest are cancelled */
  CORRAL_QUORUM         /* `quorum` successes win, the rest are cancelled */
} corral_policy;

typedef struct corral_group_opts {
  corral_policy policy;
  size_t quorum;        /* QUORUM: successes needed (>= 1) */
  const char *name;     /* borrowed: must stay valid until close returns */
  int64_t timeout_ns;   /* fail-after for the whole group: close returns
                           CORRAL_ETIMEDOUT if it fired and ended the group.
                           0 = not set (none); CORRAL_FOREVER none; < 0
                           already expired */
  int eager;            /* 1: every spawn into it is eager (spawn opts) */
  int compact;          /* 1: every child is compact (spawn opts) */
} corral_group_opts;

/* TASK ONLY. Open a group in caller storage; the body (the code between open
 * and close) runs inside the group's cancel scope and counts like a child:
 * its error (passed to close) fails the group. opts NULL = FAIL_FAST.
 * Returns 0, CORRAL_EBUSY (g is open already, by this task or another),
 * CORRAL_EINVAL (g NULL, bad policy or quorum, compact task),
 * CORRAL_ENOMEM, CORRAL_ENOTASK. */
CORRAL_API int corral_group_open(corral_group *g, const corral_group_opts *o);
/* BLOCKS (not abortable: it always waits for every child). Close the group:
 * pass the body's code; a body error cancels the children (FAIL_FAST).
 * One rule for every policy, in this order (docs/semantics.md):
 *   1. CORRAL_EGROUP when the group failed: the body failed, or a child
 *      failed and the policy did not tolerate it (FAIL_FAST, COLLECT: any
 *      child error; FIRST, QUORUM(k): child errors count only while fewer
 *      than k children succeeded), or a FIRST/QUORUM group ran to its end
 *      without a cancel short of k successes. A failure wins over every
 *      deadline and cancel: no error is dropped. The aggregate is
 *      corral_last_error(): children's errors in completion order, the
 *      body's last.
 *   2. 0 when a FIRST/QUORUM group was satisfied.
 *   3. CORRAL_ECANCELED when an enclosing scope's cancellation reaches the
 *      group (it passes through; the outermost cancelled scope converts).
 *   4. CORRAL_ETIMEDOUT when the group's own deadline fired (its cancelled
 *      children end TIMED_OUT).
 *   5. Else 0 (a cancel the group caused itself is not an error).
 * Also CORRAL_ECLOSED (closed already), CORRAL_ENESTING (not the task's
 * innermost scope, or another task's group), CORRAL_EINVAL,
 * CORRAL_EFOREIGN, CORRAL_ENOTASK. After close the storage may be reused;
 * further spawns get CORRAL_ECLOSED. */
CORRAL_NODISCARD CORRAL_API int corral_group_close(corral_group *g,
                                                   int body_rc);
/* Cancel the group (reason EXPLICIT; message copied, may be NULL). Does
 * not block. Returns 0, CORRAL_ECLOSED, CORRAL_EINVAL, CORRAL_EFOREIGN,
 * CORRAL_ENOTASK. */
CORRAL_API int corral_group_cancel(corral_group *g, const char *message);
/* Cancel the group (reason CORRAL_CANCEL_SIGNAL) when signum arrives, until
 * it closes: e.g. SIGINT for Ctrl-C. Codes as corral_scope_cancel_on_signal,
 * and CORRAL_ECLOSED. */
CORRAL_API int corral_group_cancel_on_signal(corral_group *g, int signum);
/* Was the group itself cancelled, and why (Trio's
 * nursery.cancel_scope.cancel_called, with the cause): CORRAL_CANCEL_NONE
 * (0) if not; else CORRAL_CANCEL_EXPLICIT (corral_group_cancel),
 * CORRAL_CANCEL_SIGNAL (corral_group_cancel_on_signal: e.g. Ctrl-C, so a
 * program can exit with 130 although corral_group_close returned 0),
 * CORRAL_CANCEL_DEADLINE (opts.timeout_ns), CORRAL_CANCEL_SIBLING_FAILED
 * (FAIL_FAST: a child failed), CORRAL_CANCEL_GROUP_DONE (FIRST / QUORUM
 * satisfied). A cancellation that reached the group from an enclosing scope
 * is not the group's own: CORRAL_CANCEL_NONE. Valid during and after the
 * group's life (until its storage is reused); CORRAL_CANCEL_NONE for NULL
 * or a storage that never held a group. */
CORRAL_API corral_cancel_kind corral_group_cancelled(const corral_group *g);
/* Counters (valid during and after the group's life). */
CORRAL_API size_t corral_group_succeeded(const corral_group *g);
CORRAL_API size_t corral_group_failed(const corral_group *g);
CORRAL_API size_t corral_group_running(const corral_group *g);

/* ------------------------------------------------------------------------ */
/* Collective calls                                                          */
/* ------------------------------------------------------------------------ */

typedef struct corral_call {
  corral_fn fn;
  void *arg;
  const char *name;
} corral_call;

/* Its own type and values: a group policy (CORRAL_FIRST ...) passed here
 * is a compiler warning in C (-Wenum-conversion, in -Wextra), an error in
 * C++, and CORRAL_EINVAL at run time. */
typedef enum {
  CORRAL_GATHER_FAIL_FAST = 0, /* safe_gather: the first error cancels */
  CORRAL_GATHER_ALL = 100,     /* gather(return_exceptions=True): never
                                  cancels, errors are values */
  CORRAL_GATHER_FIRST,         /* first success wins */
  CORRAL_GATHER_QUORUM         /* `quorum` successes win */
} corral_gather_policy;

typedef struct corral_gather_opts {
  corral_gather_policy policy; /* 0 = CORRAL_GATHER_FAIL_FAST */
  size_t quorum;
  int64_t timeout_ns; /* overall timeout: unfinished tasks end TIMED_OUT.
                         0 = not set (none); CORRAL_FOREVER none; < 0
                         already expired */
  size_t limit;       /* > 0: at most `limit` tasks run at once */
  const char *name;
  int eager;          /* 1: start each task at once (see corral_spawn_opts) */
  int compact;        /* 1: compact tasks (see corral_spawn_opts) */
} corral_gather_opts;

/* BLOCKS. Run every call as a task and fill out[i] for calls[i] (input
 * order). Returns after every task it started has finished. Returns 0 when
 * the policy is satisfied (ALL: always, unless timed out / cancelled),
 * CORRAL_EGROUP when it failed (aggregate in corral_last_error()),
 * CORRAL_ETIMEDOUT when the overall timeout fired, CORRAL_ECANCELED when the
 * caller was cancelled -- by the same rule as corral_group_close (an error
 * wins over a deadline or a cancel; ALL keeps errors as values). Outcomes
 * are filled in every case; release them with corral_outcomes_clear(out, n).
 * Zero calls: 0 at once. Also CORRAL_EINVAL (NULL calls or out, a call
 * without fn, bad policy or quorum, compact task), CORRAL_ENOMEM (or the
 * code of a spawn that failed: that call's outcome is ERROR),
 * CORRAL_ENOTASK. */
CORRAL_NODISCARD CORRAL_API int corral_gather(const corral_call *calls,
                                              size_t n, corral_outcome *out,
                                              const corral_gather_opts *opts);
/* Handles in collect calls. The calls that take task handles (corral_join,
 * corral_wait_for, corral_gather_tasks, corral_wait,
 * corral_as_completed_init / _next) check every handle before anything
 * waits or is cancelled, by one rule: NULL or stale (released, freed) is
 * CORRAL_EINVAL; another runtime's is CORRAL_EFOREIGN (CORRAL_ENOTASK once
 * no runtime runs on the thread); the caller's own is CORRAL_EDEADLK. A
 * task whose outcome was taken already (joined: by corral_join,
 * corral_wait_for or corral_gather_tasks) is CORRAL_EJOINED from those
 * three, which take outcomes; corral_wait and as_completed only observe
 * and count it as finished. A refused call leaves every task given to it
 * as it was (not cancelled, outcome still to take). */

/* BLOCKS. gather over tasks that already run (asyncio.gather(*tasks)):
 * fills out[i] for tasks[i] and returns only when every one has finished.
 * The policy acts on them as corral_gather's does (FAIL_FAST cancels the
 * others on the first error, FIRST/QUORUM once satisfied, the timeout and
 * a cancel of the caller cancel every unfinished one, which end TIMED_OUT
 * or CANCELLED) and the code follows the same rule. A handle given twice is
 * waited for once and reported in both places. Marks the tasks joined (an
 * error gathered here no longer fails their create_task parent). Also
 * CORRAL_EJOINED (a task's outcome was taken already: joined, gathered,
 * wait_for), CORRAL_EINVAL (NULL out, a NULL or stale handle, bad policy
 * or quorum, compact caller), CORRAL_EDEADLK (the caller is among them),
 * CORRAL_EFOREIGN, CORRAL_ENOMEM, CORRAL_ENOTASK; these come before
 * anything is waited for or cancelled (see "Handles in collect calls"). */
CORRAL_NODISCARD CORRAL_API int corral_gather_tasks(corral_task *const *tasks,
                                                    size_t n,
                                                    corral_outcome *out,
                                                    const corral_gather_opts *opts);
/* safe_gather(*calls, return_exceptions=re, timeout=timeout_ns); the time
 * rule: CORRAL_FOREVER none, <= 0 already expired. Codes as
 * corral_gather. */
CORRAL_NODISCARD CORRAL_API int corral_safe_gather(const corral_call *calls, size_t n,
                                  corral_outcome *out, int return_exceptions,
                                  int64_t timeout_ns);

typedef enum {
  CORRAL_FIRST_COMPLETED = 1,
  CORRAL_FIRST_EXCEPTION,
  CORRAL_ALL_COMPLETED
} corral_wait_mode;

/* BLOCKS. asyncio.wait: wait until the condition holds or timeout_ns passes
 * (CORRAL_FOREVER: no timeout; <= 0: only look). Observes only: never
 * cancels the tasks. Returns 0 when the condition held, CORRAL_ETIMEDOUT,
 * CORRAL_ECANCELED; CORRAL_EINVAL (no tasks -- asyncio's ValueError --, a
 * NULL or stale handle, bad mode, compact task), CORRAL_EDEADLK (the
 * caller is among the tasks), CORRAL_EFOREIGN, CORRAL_ENOMEM,
 * CORRAL_ENOTASK. *ndone (optional) gets how many places of tasks[] hold
 * a finished task (a handle given twice counts twice; the condition is the
 * same as over the set, as asyncio's). A joined task counts as done (it
 * does not take outcomes: join them after). */
CORRAL_NODISCARD CORRAL_API int corral_wait(corral_task *const *tasks, size_t n, int mode,
                           int64_t timeout_ns, size_t *ndone);

/* BLOCKS. asyncio.wait_for: join t with a timeout (CORRAL_FOREVER: none;
 * <= 0: already expired, so a task that has not started is cancelled
 * before it ever runs). On timeout t is cancelled (reason DEADLINE; it ends
 * TIMED_OUT) and waited for (always); if t nevertheless finished with a
 * result (a result arriving at the deadline wins) that result is returned,
 * else CORRAL_ETIMEDOUT. The same when the caller is cancelled: t is
 * cancelled and waited for, and a result t finished with (meanwhile or
 * before the call) wins over the caller's cancellation. Otherwise codes as
 * corral_join. Marks t joined. */
CORRAL_NODISCARD CORRAL_API int corral_wait_for(corral_task *t, int64_t timeout_ns,
                               void **result);

/* as_completed: an iterator in caller storage. */
typedef struct corral_as_completed {
  corral_task *const *tasks;
  size_t n, yielded;
  int64_t deadline;
  unsigned char *taken;
} corral_as_completed;

/* tasks (and their handles) must stay valid while iterating. timeout_ns:
 * CORRAL_FOREVER none, <= 0 only what already finished. Returns 0,
 * CORRAL_EINVAL (it NULL, a NULL or stale handle, compact task),
 * CORRAL_EDEADLK, CORRAL_EFOREIGN, CORRAL_ENOMEM, CORRAL_ENOTASK. Joined
 * tasks are accepted (yielded as finished); it never takes outcomes. A
 * handle given twice is yielded once (asyncio takes a set). */
CORRAL_API int corral_as_completed_init(corral_as_completed *it,
                                        corral_task *const *tasks, size_t n,
                                        int64_t timeout_ns);
/* BLOCKS. Next task in completion order: 0 and *t; CORRAL_EEOF when all were
 * returned; CORRAL_ETIMEDOUT; CORRAL_ECANCELED; CORRAL_EINVAL (a handle was
 * released meanwhile); CORRAL_ENOMEM; CORRAL_ENOTASK. */
CORRAL_NODISCARD CORRAL_API int corral_as_completed_next(corral_as_completed *it,
                                        corral_task **t);
CORRAL_API void corral_as_completed_free(corral_as_completed *it);

/* ------------------------------------------------------------------------ */
/* Synchronisation                                                           */
/* ------------------------------------------------------------------------ */

/* An event (asyncio.Event, Trio's Event) in caller storage: no allocation,
 * nothing to free. It must stay valid while a task waits on it (see
 * corral_create_task for the parent's stack frame). Used on the runtime's
 * thread (set also from a libuv callback on corral_loop()). */
typedef struct corral_event {
  CORRAL_ALIGN16 unsigned char opaque_[32];
} corral_event;

/* Initialise, not set (NULL is ignored). Never blocks. */
CORRAL_API void corral_event_init(corral_event *e);
/* Set: wakes every task waiting at that moment, even if the event is
 * cleared again before they run (waking is an edge); later waits return
 * at once until corral_event_clear. Never blocks. NULL or an uninitialised
 * event is ignored. */
CORRAL_API void corral_event_set(corral_event *e);
/* Back to not set (tasks woken by the last set still return 0). */
CORRAL_API void corral_event_clear(corral_event *e);
/* 1 if set, else 0 (also for NULL or an uninitialised event). */
CORRAL_API int corral_event_is_set(const corral_event *e);
/* BLOCKS. 0 once set, CORRAL_ECANCELED, CORRAL_EDEADLK (the runtime
 * broke a deadlock and cancelling did not: a wait inside a shield),
 * CORRAL_EINVAL (not initialised, compact task; or e was in the stack
 * frame of a task that returned while this one waited, see
 * corral_create_task), CORRAL_ENOTASK. An event already set is a
 * checkpoint all the same (see CORRAL_YIELD_EVERY). */
CORRAL_NODISCARD CORRAL_API int corral_event_wait(corral_event *e);

/* A counting semaphore in caller storage (asyncio.Semaphore): no
 * allocation, nothing to free; valid while a task waits on it. */
typedef struct corral_semaphore {
  CORRAL_ALIGN16 unsigned char opaque_[32];
} corral_semaphore;

/* Initialise with `value` units (NULL is ignored). Never blocks. */
CORRAL_API void corral_semaphore_init(corral_semaphore *s, size_t value);
/* BLOCKS. FIFO fair. 0, CORRAL_ECANCELED, CORRAL_EDEADLK (as
 * corral_event_wait), CORRAL_EINVAL (not initialised, compact task; or s
 * was in the stack frame of a task that returned while this one waited),
 * CORRAL_ENOTASK. */
CORRAL_NODISCARD CORRAL_API int corral_semaphore_acquire(corral_semaphore *s);
/* 0, CORRAL_EAGAIN (no unit free, or others wait first), CORRAL_EINVAL. */
CORRAL_NODISCARD CORRAL_API int corral_semaphore_try_acquire(corral_semaphore *s);
/* Give a unit back: straight to the task that waited longest (it owns
 * the unit even if cancelled before it runs), else value + 1. Never
 * blocks; NULL or uninitialised is ignored. Any task may release (no
 * owner, as asyncio's). */
CORRAL_API void corral_semaphore_release(corral_semaphore *s);
/* Units free now (0 for NULL or uninitialised). */
CORRAL_API size_t corral_semaphore_value(const corral_semaphore *s);

/* ------------------------------------------------------------------------ */
/* Hooks for foreign libraries                                               */
/* ------------------------------------------------------------------------ */

/* With these, any C library that can be driven from a file descriptor or a
 * callback (a database client, a DNS resolver, libcurl's multi interface)
 * runs inside tasks and is cancellable, without patching corral. */

/* What an abort callback answers (Trio's Abort.SUCCEEDED / FAILED). */
typedef enum {
  CORRAL_ABORT_FAILED = 0,   /* the operation still runs: stay parked until
                                it has stopped and calls corral_unpark */
  CORRAL_ABORT_SUCCEEDED = 1 /* stopped: wake the task with the cancel code */
} corral_abort_result;

/* Called on the runtime's thread, never concurrently with the parked task,
 * when a cancellation reaches a task parked in corral_park (its scope or an
 * enclosing one was cancelled), and once more if the runtime finds a
 * deadlock while the task is still parked. It runs in the context of
 * whatever cancels (another task, a deadline, a signal): it must not block,
 * park or sleep, and corral_current() is not the parked task (it may be
 * NULL). It may call corral_unpark(task, code) itself; the parked call then
 * returns that code whatever the callback answers. */
typedef corral_abort_result (*corral_abort_fn)(corral_task *task, void *arg);

/* TASK ONLY. BLOCKS. Park the calling task until someone calls
 * corral_unpark(task, code); returns that code. This is Trio's
 * wait_task_rescheduled with an abort_fn.
 *   - If the task is inside a cancelled scope when it calls, returns
 *     CORRAL_ECANCELED at once without parking (abort is not called).
 *   - If a cancellation reaches it while parked, abort(task, arg) runs:
 *     CORRAL_ABORT_SUCCEEDED wakes the task at once with CORRAL_ECANCELED
 *     (the foreign operation must not call corral_unpark afterwards);
 *     CORRAL_ABORT_FAILED keeps it parked until corral_unpark. abort NULL
 *     behaves as an abort that always succeeds.
 * After CORRAL_ABORT_FAILED, the operation should unpark the task with
 * CORRAL_ECANCELED once it has stopped (with 0 or a result code if it
 * completed anyway: the scope stays cancelled, so the next blocking call
 * fails). The code is returned as is: pass results through your own
 * storage and use 0 or negative codes. `what` (borrowed, may be NULL) names
 * the wait in corral_dump and deadlock reports.
 * What counts as pending work: while a task is parked, the runtime waits
 * for the libuv loop (corral_loop()) as long as it has active, referenced
 * handles or requests; a parked task with nothing alive in the loop to
 * wake it is a deadlock (reported; the abort callback is asked to stop the
 * wait, and a task that still cannot be unwound ends the process with a
 * report). Handles you start on corral_loop() must be closed (uv_close,
 * their memory valid until the close callback) before the main task
 * returns; the runtime closes and reports any left open.
 * Returns the unpark code, CORRAL_ECANCELED, CORRAL_EDEADLK (the runtime
 * found a deadlock and aborted the wait), CORRAL_ENOTASK, or CORRAL_EINVAL
 * in a compact task (its stack is not addressable while parked). */
CORRAL_NODISCARD CORRAL_API int corral_park(const char *what,
                                            corral_abort_fn abort, void *arg);

/* Wake `task`, parked in corral_park, so that corral_park returns `code`.
 * Call it on the runtime's thread only: from another task, a libuv callback
 * on corral_loop(), or an abort callback; never from another thread. Does
 * not block. Returns 0, CORRAL_EINVAL if task is NULL or not parked in
 * corral_park (already woken, aborted, or never parked), CORRAL_EFOREIGN if
 * it belongs to another runtime, CORRAL_ENOTASK outside a runtime. */
CORRAL_API int corral_unpark(corral_task *task, int code);

/* TASK ONLY. BLOCKS until descriptor fd is readable (corral_wait_readable)
 * or writable (corral_wait_writable), or in an error or hang-up state (the
 * next read or write reports it). Level-triggered, like poll(2): returns at
 * once if the condition already holds; a regular file or a directory is
 * always ready. Cancellation points (Trio's wait_readable / wait_writable);
 * timeouts come from scopes. fd must be in non-blocking mode for the I/O
 * that follows to be non-blocking; corral does not change its flags and
 * never closes it. One task per direction per fd; compact tasks may wait.
 * Never close(fd) while a task waits on it without calling
 * corral_notify_closing(fd) first: the waiter would wait for ever (or be
 * woken by whatever reuses the number). Do not wait on descriptors of
 * corral's own objects (a corral_tcp's socket): use their calls. On the
 * virtual clock, time jumps to the next deadline at once even while a task
 * waits on a descriptor, unless corral_options.autojump_threshold_ns gives
 * real I/O time to arrive first.
 * Returns 0, CORRAL_ECANCELED, CORRAL_ECLOSED (corral_notify_closing(fd)
 * was called meanwhile), CORRAL_EBUSY (another task already waits for the
 * same direction of fd, or libuv already watches fd for the runtime),
 * CORRAL_EBADF (fd is not an open descriptor), CORRAL_EINVAL (fd cannot be
 * watched: e.g. the loop's own epoll descriptor), CORRAL_ENOMEM,
 * CORRAL_ENOTASK. */
CORRAL_NODISCARD CORRAL_API int corral_wait_readable(int fd);
CORRAL_NODISCARD CORRAL_API int corral_wait_writable(int fd);

/* Tell the runtime that fd is about to be closed (Trio's notify_closing):
 * every task waiting on it in corral_wait_readable / _writable wakes with
 * CORRAL_ECLOSED and the runtime drops its registration, so the number can
 * be reused safely. Call it BEFORE close(fd) whenever a task may be waiting
 * on fd. Does not block. Returns 0 (also when nobody waits),
 * CORRAL_ENOTASK outside a runtime, CORRAL_EBADF for a negative fd. */
CORRAL_API int corral_notify_closing(int fd);

/* Task-local values (Python's contextvars). A key is an object in your
 * storage, usually static, initialised with CORRAL_LOCAL_KEY_INIT(destroy).
 * A spawned task starts with the values its spawner had at spawn time (a
 * snapshot: a later set in either task is not seen by the other). Setting a
 * value hands it to the runtime, which counts its holders per (key, value):
 * however a value travels (inherited, read with get and set again), it is
 * destroyed once, when no task holds it any more: destroy(value) then runs
 * on the runtime's thread, in whatever context ends the last holder (it
 * must not block; a task that is ending has no values any more when its
 * destructors run). NULL values are never destroyed. Values belong to one
 * runtime. */
typedef struct corral_local_key {
  void (*destroy)(void *value); /* NULL: nothing to free */
} corral_local_key;
#define CORRAL_LOCAL_KEY_INIT(destroy_fn) {destroy_fn}

/* TASK ONLY. Set the current task's value for key (replacing, and dropping
 * its reference to, the previous one). Returns 0, CORRAL_EINVAL (key NULL),
 * CORRAL_ENOMEM (the previous value stays), CORRAL_ENOTASK. */
CORRAL_API int corral_local_set(const corral_local_key *key, void *value);
/* The current task's value for key, or NULL (unset, NULL key, no task).
 * Borrowed: valid while some task holds it (setting another value in the
 * only task that held it destroys it). */
CORRAL_API void *corral_local_get(const corral_local_key *key);

#ifdef __cplusplus
}
#endif

/* Families, one header each. */
#include "corral/channel.h"
#include "corral/stream.h"
#include "corral/net.h"
#include "corral/signal.h"
#include "corral/file.h"
#include "corral/thread.h"
#include "corral/process.h"

#endif /* CORRAL_H */
