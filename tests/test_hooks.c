/* The public hooks for foreign libraries: corral_park / corral_unpark,
 * corral_wait_readable / _writable / corral_notify_closing, task-locals. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "test.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <uv.h>


/* ---- park / unpark ---- */

typedef struct {
  corral_task *parked;
  int aborts;
  corral_abort_result answer;
  uv_timer_t timer; /* a "foreign operation" completing later */
  int code;
  int stopped; /* the foreign operation has reported that it stopped */
} foreign;

static corral_abort_result on_abort(corral_task *t, void *arg) {
  foreign *f = arg;
  CHECK(t == f->parked);
  f->aborts++;
  return f->answer;
}

static int parker(void *arg, void **res) {
  (void)res;
  foreign *f = arg;
  f->parked = corral_current();
  return corral_park("foreign op", on_abort, f);
}

static int unparker(void *arg, void **res) {
  (void)res;
  foreign *f = arg;
  CHECK_RC(corral_sleep(CORRAL_MS(5)), 0);
  CHECK_RC(corral_unpark(f->parked, 42), 0);
  CHECK_RC(corral_unpark(f->parked, 43), CORRAL_EINVAL); /* already woken */
  return 0;
}

static int main_unpark(void *arg, void **res) {
  (void)arg, (void)res;
  foreign f = {0};
  corral_group g;
  CHECK_RC(corral_group_open(&g, NULL), 0);
  corral_task *p;
  CHECK_RC(corral_spawn(&g, parker, &f, "parker", &p), 0);
  CHECK_RC(corral_spawn(&g, unparker, &f, "unparker", NULL), 0);
  CHECK_RC(corral_group_close(&g, 0), CORRAL_EGROUP); /* parker "failed" 42 */
  CHECK_EQ(corral_task_code(p), 42);
  CHECK_EQ(f.aborts, 0);
  corral_task_release(p);
  CHECK_RC(corral_unpark(NULL, 0), CORRAL_EINVAL);
  return 0;
}

TEST(unpark_wakes_with_code) { CHECK_RC(run_virtual(main_unpark, NULL), 0); }

static int main_abort_succeeds(void *arg, void **res) {
  (void)arg, (void)res;
  foreign f = {.answer = CORRAL_ABORT_SUCCEEDED};
  corral_scope s;
  CHECK_RC(corral_move_on_after(&s, CORRAL_MS(10)), 0);
  f.parked = corral_current();
  int rc = corral_park("foreign op", on_abort, &f);
  CHECK_RC(rc, CORRAL_ECANCELED);
  CHECK_RC(corral_scope_exit(&s, rc), 0);
  CHECK_EQ(f.aborts, 1);
  CHECK_EQ(corral_now(), 1000000000LL + CORRAL_MS(10)); /* at the deadline */
  /* Already cancelled on entry: no park, no abort call. */
  CHECK_RC(corral_move_on_after(&s, 0), 0);
  CHECK_RC(corral_park("x", on_abort, &f), CORRAL_ECANCELED);
  CHECK_EQ(f.aborts, 1);
  CHECK_RC(corral_scope_exit(&s, CORRAL_ECANCELED), 0);
  return 0;
}

TEST(abort_succeeded_wakes_at_once) {
  CHECK_RC(run_virtual(main_abort_succeeds, NULL), 0);
}

static void finish_foreign(uv_timer_t *h) {
  foreign *f = h->data;
  f->stopped = 1;
  CHECK_RC(corral_unpark(f->parked, f->code), 0);
  uv_close((uv_handle_t *)h, NULL);
}

static corral_abort_result abort_later(corral_task *t, void *arg) {
  (void)t;
  foreign *f = arg;
  f->aborts++;
  /* The foreign operation cannot stop at once: it reports in 20 ms. */
  f->code = CORRAL_ECANCELED;
  uv_timer_init(corral_loop(), &f->timer);
  f->timer.data = f;
  uv_timer_start(&f->timer, finish_foreign, 20, 0);
  return CORRAL_ABORT_FAILED;
}

static int main_abort_fails(void *arg, void **res) {
  (void)arg, (void)res;
  static foreign f; /* its timer handle is closed after this task returns */
  corral_scope s;
  CHECK_RC(corral_move_on_after(&s, CORRAL_MS(10)), 0);
  f.parked = corral_current();
  int rc = corral_park("slow to stop", abort_later, &f);
  /* Woken only by the foreign operation, with its code. */
  CHECK_RC(rc, CORRAL_ECANCELED);
  CHECK_EQ(f.stopped, 1); /* not before it reported that it stopped */
  CHECK_EQ(f.aborts, 1);
  CHECK_RC(corral_scope_exit(&s, rc), 0);
  return 0;
}

TEST(abort_failed_stays_parked_until_unpark) {
  CHECK_RC(corral_run(NULL, main_abort_fails, NULL, NULL), 0);
}

static int main_park_deadlock(void *arg, void **res) {
  (void)arg, (void)res;
  foreign f = {.answer = CORRAL_ABORT_SUCCEEDED};
  f.parked = corral_current();
  return corral_park("never unparked", on_abort, &f);
}

static void deadlock_child(void) {
  corral_options o = {0};
  o.virtual_clock = 1;
  int rc = corral_run(&o, main_park_deadlock, NULL, NULL);
  fprintf(stderr, "rc=%d\n", rc);
}

TEST(park_nobody_unparks_is_a_deadlock_report) {
  char buf[4096];
  int st = run_child(deadlock_child, buf, sizeof buf);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  CHECK(strstr(buf, "deadlock") != NULL);
  CHECK(strstr(buf, "waits on park (never unparked)") != NULL);
  char want[32];
  snprintf(want, sizeof want, "rc=%d", CORRAL_EDEADLK);
  CHECK(strstr(buf, want) != NULL);
}

TEST(park_outside_a_task) {
  CHECK_RC(corral_park("x", NULL, NULL), CORRAL_ENOTASK);
  CHECK_RC(corral_unpark(NULL, 0), CORRAL_ENOTASK);
  CHECK_RC(corral_wait_readable(0), CORRAL_ENOTASK);
  CHECK_RC(corral_notify_closing(0), CORRAL_ENOTASK);
  CHECK_RC(corral_local_set(NULL, NULL), CORRAL_ENOTASK);
  CHECK(corral_local_get(NULL) == NULL);
}

/* ---- wait_readable / wait_writable / notify_closing ---- */

typedef struct {
  int fds[2];
  int got;
} pipe_pair;

static int reader(void *arg, void **res) {
  (void)res;
  pipe_pair *p = arg;
  int rc = corral_wait_readable(p->fds[0]);
  if (rc) return rc;
  char c;
  CHECK_EQ(read(p->fds[0], &c, 1), 1);
  p->got = c;
  return 0;
}

static int writer(void *arg, void **res) {
  (void)res;
  pipe_pair *p = arg;
  CHECK_RC(corral_sleep(CORRAL_MS(1)), 0);
  CHECK_RC(corral_wait_writable(p->fds[1]), 0);
  CHECK_EQ(write(p->fds[1], "x", 1), 1);
  return 0;
}

static int main_fd(void *arg, void **res) {
  (void)arg, (void)res;
  pipe_pair p = {0};
  CHECK_EQ(pipe2(p.fds, O_NONBLOCK | O_CLOEXEC), 0);
  corral_group g;
  CHECK_RC(corral_group_open(&g, NULL), 0);
  CHECK_RC(corral_spawn(&g, reader, &p, "reader", NULL), 0);
  CHECK_RC(corral_spawn(&g, writer, &p, "writer", NULL), 0);
  CHECK_RC(corral_group_close(&g, 0), 0);
  CHECK_EQ(p.got, 'x');

  /* A second reader of the same fd is refused while one waits. */
  CHECK_RC(corral_group_open(&g, &(corral_group_opts){.policy = CORRAL_COLLECT}),
           0);
  corral_task *r1, *r2;
  CHECK_RC(corral_spawn(&g, reader, &p, "r1", &r1), 0);
  CHECK_RC(corral_spawn(&g, reader, &p, "r2", &r2), 0);
  CHECK_RC(corral_yield(), 0);
  CHECK_RC(corral_yield(), 0);
  CHECK(corral_task_done(r2));
  CHECK_RC(corral_task_code(r2), CORRAL_EBUSY);
  /* notify_closing wakes the waiter with ECLOSED; the fd can be closed. */
  CHECK_RC(corral_notify_closing(p.fds[0]), 0);
  CHECK_RC(corral_group_close(&g, 0), CORRAL_EGROUP);
  CHECK_RC(corral_task_code(r1), CORRAL_ECLOSED);
  corral_task_release(r1);
  corral_task_release(r2);
  close(p.fds[0]);

  /* A cancelled wait leaves no registration behind: the fd number can be
   * closed, reused and waited on again. */
  int fds2[2];
  CHECK_EQ(pipe2(fds2, O_NONBLOCK | O_CLOEXEC), 0);
  corral_scope s;
  CHECK_RC(corral_move_on_after(&s, CORRAL_MS(5)), 0);
  int rc = corral_wait_readable(fds2[0]);
  CHECK_RC(rc, CORRAL_ECANCELED);
  CHECK_RC(corral_scope_exit(&s, rc), 0);
  close(fds2[0]);
  close(fds2[1]);
  int fds3[2];
  CHECK_EQ(pipe2(fds3, O_NONBLOCK | O_CLOEXEC), 0);
  CHECK_RC(corral_wait_writable(fds3[1]), 0); /* an empty pipe: at once */
  close(fds3[0]);
  close(fds3[1]);

  CHECK_RC(corral_wait_readable(-1), CORRAL_EBADF);
  CHECK_RC(corral_wait_readable(9999), CORRAL_EBADF);
  CHECK_RC(corral_notify_closing(-1), CORRAL_EBADF);
  CHECK_RC(corral_notify_closing(p.fds[1]), 0); /* nobody waits: fine */
  close(p.fds[1]);
  return 0;
}

TEST(fd_waits) {
  int before = count_fds();
  corral_options o = {0};
  o.virtual_clock = 1;
  o.autojump_threshold_ns = CORRAL_MS(20);
  CHECK_RC(corral_run(&o, main_fd, NULL, NULL), 0);
  CHECK_EQ(count_fds(), before);
}

static int main_fd_hangup(void *arg, void **res) {
  (void)arg, (void)res;
  int fds[2];
  CHECK_EQ(pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
  close(fds[1]);
  CHECK_RC(corral_wait_readable(fds[0]), 0); /* EOF counts as readable */
  char c;
  CHECK_EQ(read(fds[0], &c, 1), 0);
  close(fds[0]);
  return 0;
}

TEST(fd_hangup_wakes_reader) {
  CHECK_RC(corral_run(NULL, main_fd_hangup, NULL, NULL), 0);
}

static int left_waiting(void *arg, void **res) {
  (void)res;
  return corral_wait_readable(*(int *)arg);
}

static int main_fd_end(void *arg, void **res) {
  (void)res;
  int *fds = arg;
  corral_group g;
  CHECK_RC(corral_group_open(&g, NULL), 0);
  CHECK_RC(corral_spawn(&g, left_waiting, &fds[0], "waiter", NULL), 0);
  CHECK_RC(corral_yield(), 0);
  CHECK_RC(corral_group_cancel(&g, "done"), 0);
  return corral_group_close(&g, 0);
}

TEST(fd_wait_cancelled_leaves_nothing) {
  int before = count_fds();
  int fds[2];
  CHECK_EQ(pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
  CHECK_RC(corral_run(NULL, main_fd_end, fds, NULL), 0);
  close(fds[0]);
  close(fds[1]);
  CHECK_EQ(count_fds(), before);
}

/* ---- task-locals ---- */

static int destroyed;
static void destroy(void *v) {
  destroyed++;
  free(v);
}
static corral_local_key key = CORRAL_LOCAL_KEY_INIT(destroy);
static corral_local_key other = CORRAL_LOCAL_KEY_INIT(NULL);

static int *boxed(int v) {
  int *p = malloc(sizeof *p);
  *p = v;
  return p;
}

static int child_sees(void *arg, void **res) {
  (void)res;
  int *v = corral_local_get(&key);
  CHECK(v && *v == (int)(intptr_t)arg);
  CHECK_RC(corral_sleep(CORRAL_MS(2)), 0);
  /* The parent's later set is not seen: a snapshot. */
  v = corral_local_get(&key);
  CHECK(v && *v == (int)(intptr_t)arg);
  CHECK_RC(corral_local_set(&key, boxed(99)), 0); /* its own, not parent's */
  CHECK_EQ(*(int *)corral_local_get(&key), 99);
  return 0;
}

static int main_locals(void *arg, void **res) {
  (void)arg, (void)res;
  CHECK(corral_local_get(&key) == NULL);
  CHECK_RC(corral_local_set(&key, boxed(1)), 0);
  CHECK_RC(corral_local_set(&other, (void *)"x"), 0);
  corral_group g;
  CHECK_RC(corral_group_open(&g, NULL), 0);
  CHECK_RC(corral_spawn(&g, child_sees, (void *)1, "c1", NULL), 0);
  CHECK_RC(corral_spawn(&g, child_sees, (void *)1, "c2", NULL), 0);
  CHECK_RC(corral_yield(), 0);
  CHECK_RC(corral_local_set(&key, boxed(2)), 0); /* children keep 1 */
  CHECK_EQ(destroyed, 0);                        /* they still hold it */
  CHECK_RC(corral_group_close(&g, 0), 0);
  CHECK_EQ(destroyed, 3); /* value 1 once (after both), two 99s */
  CHECK_EQ(*(int *)corral_local_get(&key), 2);
  CHECK_STR(corral_local_get(&other), "x");
  void *same = corral_local_get(&key);
  CHECK_RC(corral_local_set(&key, same), 0); /* same value: not destroyed */
  CHECK_EQ(destroyed, 3);
  CHECK_RC(corral_local_set(NULL, NULL), CORRAL_EINVAL);
  return 0;
}

TEST(task_locals_inherit_snapshot_destroy_once) {
  destroyed = 0;
  CHECK_RC(run_virtual(main_locals, NULL), 0);
  CHECK_EQ(destroyed, 4); /* main's 2, when main ended */
}

/* Save, set, restore in a child: the parent's value must survive the
 * child's end (values are counted per value, not per table entry). */
static int restorer(void *arg, void **res) {
  (void)arg, (void)res;
  void *saved = corral_local_get(&key);
  CHECK_RC(corral_local_set(&key, boxed(7)), 0);
  CHECK_RC(corral_local_set(&key, saved), 0);
  CHECK(corral_local_get(&key) == saved);
  return 0;
}

static int main_restore(void *arg, void **res) {
  (void)arg, (void)res;
  int *mine = boxed(5);
  CHECK_RC(corral_local_set(&key, mine), 0);
  corral_task *t;
  CHECK_RC(corral_create_task(restorer, NULL, "restorer", &t), 0);
  CHECK_RC(corral_join(t, NULL), 0);
  corral_task_release(t);
  CHECK_EQ(destroyed, 1); /* the 7 only */
  CHECK(corral_local_get(&key) == mine);
  CHECK_EQ(*mine, 5); /* still alive (ASan would say otherwise) */
  /* In one task: the value read before a set stays alive while held. */
  void *saved = corral_local_get(&key);
  CHECK_RC(corral_local_set(&key, boxed(8)), 0);
  CHECK_EQ(destroyed, 2); /* 5 was held by this task only: destroyed */
  (void)saved;
  CHECK_RC(corral_local_set(&key, NULL), 0); /* NULL is never destroyed */
  CHECK_EQ(destroyed, 3);
  return 0;
}

TEST(task_locals_save_set_restore) {
  destroyed = 0;
  CHECK_RC(run_virtual(main_restore, NULL), 0);
  CHECK_EQ(destroyed, 3);
}

/* Destructors that read or set locals as their task ends. */
static corral_local_key note_key = CORRAL_LOCAL_KEY_INIT(NULL);
static int seen_in_destroy = -1;
static void destroy_reads(void *v) {
  seen_in_destroy = corral_local_get(&note_key) != NULL;
  CHECK_RC(corral_local_set(&note_key, (void *)"late"), 0);
  free(v);
}
static corral_local_key reading_key = CORRAL_LOCAL_KEY_INIT(destroy_reads);

static int ends_with_locals(void *arg, void **res) {
  (void)arg, (void)res;
  CHECK_RC(corral_local_set(&note_key, (void *)"note"), 0);
  CHECK_RC(corral_local_set(&reading_key, boxed(1)), 0);
  return 0;
}

TEST(task_locals_destructor_at_task_end) {
  CHECK_RC(run_virtual(ends_with_locals, NULL), 0);
  CHECK_EQ(seen_in_destroy, 0); /* an ending task has no locals any more */
}

/* A foreign wait whose abort fails and which nothing will ever complete:
 * the deadlock breaker asks its abort callback once more, then reports the
 * task it cannot unwind and aborts (no endless retries). */
static int stubborn_calls;
static corral_abort_result stubborn(corral_task *t, void *arg) {
  (void)t, (void)arg;
  stubborn_calls++;
  return CORRAL_ABORT_FAILED;
}

static int main_stubborn(void *arg, void **res) {
  (void)arg, (void)res;
  return corral_park("never completes", stubborn, NULL);
}

static void stubborn_child(void) {
  corral_options o = {0};
  o.virtual_clock = 1;
  corral_run(&o, main_stubborn, NULL, NULL);
}

static void report_calls(int sig) {
  (void)sig;
  char b[64];
  int n = snprintf(b, sizeof b, "abort calls: %d\n", stubborn_calls);
  if (write(2, b, (size_t)n) < 0) _exit(3);
  _exit(4);
}

static void stubborn_child_counting(void) {
  signal(SIGABRT, report_calls);
  stubborn_child();
}

TEST(failed_abort_that_never_completes_is_reported) {
  char buf[8192];
  int st = run_child(stubborn_child_counting, buf, sizeof buf);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 4); /* through abort() */
  CHECK(strstr(buf, "cannot be unwound") != NULL);
  CHECK(strstr(buf, "waits on park (never completes)") != NULL);
  CHECK(strstr(buf, "abort calls: 2") != NULL); /* cancel, forced pass */
}

/* A cancelled waiter frees its slot at once: a new waiter on the same
 * descriptor is not refused while the cancelled one has not run yet. A
 * regular file is always ready, as poll(2) says. */
static int main_fd_replace(void *arg, void **res) {
  (void)arg, (void)res;
  int fds[2];
  CHECK_EQ(pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
  corral_group g;
  CHECK_RC(corral_group_open(&g, &(corral_group_opts){.policy = CORRAL_COLLECT}),
           0);
  corral_task *old, *fresh;
  CHECK_RC(corral_spawn(&g, left_waiting, &fds[0], "old", &old), 0);
  CHECK_RC(corral_yield(), 0);
  CHECK_RC(corral_cancel(old, "replaced"), 0);
  CHECK_RC(corral_spawn_ex(&g, left_waiting, &fds[0],
                           (&(corral_spawn_opts){.name = "fresh", .eager = 1}),
                           &fresh),
           0);
  CHECK(!corral_task_done(fresh)); /* it waits: not CORRAL_EBUSY */
  CHECK_EQ(write(fds[1], "x", 1), 1);
  CHECK_RC(corral_group_close(&g, 0), 0);
  CHECK_EQ(corral_task_status(old), CORRAL_STATUS_CANCELLED);
  CHECK_RC(corral_task_code(fresh), 0);
  corral_task_release(old);
  corral_task_release(fresh);
  close(fds[0]);
  close(fds[1]);
  int f = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  CHECK(f >= 0);
  CHECK_RC(corral_wait_readable(f), 0);
  CHECK_RC(corral_wait_writable(f), 0);
  close(f);
  return 0;
}

TEST(fd_wait_slot_freed_at_cancel_and_files_ready) {
  int before = count_fds();
  CHECK_RC(corral_run(NULL, main_fd_replace, NULL, NULL), 0);
  CHECK_EQ(count_fds(), before);
}

/* A libuv handle a user left open on corral_loop() is closed, and
 * reported, when the runtime ends: the loop and its descriptors go. */
static uv_timer_t forgotten;
static void never(uv_timer_t *h) { (void)h; }
static int main_forget(void *arg, void **res) {
  (void)arg, (void)res;
  uv_timer_init(corral_loop(), &forgotten);
  uv_timer_start(&forgotten, never, 10000, 0); /* 10 s, ref'd */
  return 0;
}

TEST(handle_left_on_the_loop_is_closed_and_reported) {
  int before = count_fds();
  char report[512] = {0};
  FILE *f = fmemopen(report, sizeof report - 1, "w");
  corral_options o = {0};
  o.report = f;
  CHECK_RC(corral_run(&o, main_forget, NULL, NULL), 0);
  fclose(f);
  CHECK(strstr(report, "1 libuv handle(s) left open") != NULL);
  CHECK_EQ(count_fds(), before);
}

/* A descriptor of corral's own stream is refused even while libuv is not
 * watching it: the stream's own calls keep working. */
static int main_owned(void *arg, void **res) {
  (void)arg, (void)res;
  corral_stream *r, *w;
  CHECK_RC(corral_pipe(&r, &w), 0);
  CHECK_RC(corral_wait_readable(corral_stream_fd(r)), CORRAL_EBUSY);
  CHECK_RC(corral_wait_writable(corral_stream_fd(w)), CORRAL_EBUSY);
  CHECK_RC(corral_stream_write(w, "x", 1, NULL), 0);
  char c;
  CHECK_RC(corral_stream_read(r, &c, 1), 1);
  CHECK_RC(corral_stream_close(r), 0);
  CHECK_RC(corral_stream_close(w), 0);
  return 0;
}

TEST(own_stream_descriptors_refused) {
  CHECK_RC(corral_run(NULL, main_owned, NULL, NULL), 0);
}

/* A task woken from a libuv timer callback runs in that pass: the loop
 * does not block in poll until some later, unrelated event. */
static uv_timer_t wake_timer, late_timer;
static int late_fired;
static corral_task *sleeper_task;
static void on_wake_timer(uv_timer_t *h) {
  (void)h;
  CHECK_RC(corral_unpark(sleeper_task, 0), 0);
}
static void on_late_timer(uv_timer_t *h) {
  (void)h;
  late_fired = 1;
}
static void closed_cb(uv_handle_t *h) { (void)h; }

static int main_wake_in_pass(void *arg, void **res) {
  (void)arg, (void)res;
  sleeper_task = corral_current();
  uv_timer_init(corral_loop(), &wake_timer);
  uv_timer_init(corral_loop(), &late_timer);
  uv_timer_start(&wake_timer, on_wake_timer, 1, 0);
  uv_timer_start(&late_timer, on_late_timer, 3000, 0);
  /* Busy past the wake timer's due time before parking: the next libuv
   * pass runs its callback first, then decides how long to poll. */
  uint64_t t0 = uv_hrtime();
  while (uv_hrtime() - t0 < 5000000) {
  }
  CHECK_RC(corral_park("timer", NULL, NULL), 0);
  CHECK_EQ(late_fired, 0); /* resumed before the unrelated timer */
  uv_close((uv_handle_t *)&wake_timer, closed_cb);
  uv_close((uv_handle_t *)&late_timer, closed_cb);
  return 0;
}

TEST(wake_from_a_libuv_callback_runs_in_that_pass) {
  CHECK_RC(corral_run(NULL, main_wake_in_pass, NULL, NULL), 0);
}
