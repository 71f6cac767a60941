/* Wait lists: a task woken by anything but the object it waits on (a
 * cancellation, the deadlock breaker) is out of the object's list before
 * it runs again, so the object's memory may go away meanwhile; a task still
 * waiting on an object in the stack frame of a task whose function returned
 * is told so (CORRAL_EINVAL and a report) instead of writing into that
 * stack. The scenario of corral_create_task's header note: a create_task
 * child waits on an object of its parent's frame. */
#include "test.h"

#include <stdint.h>

enum { K_EVENT, K_SEM, K_LOCK, K_COND, K_LIMITER, K_COUNT };
static const char *const kind_name[K_COUNT] = {"event", "semaphore", "lock",
                                               "condition", "limiter"};

/* The objects a parent lends its create_task child, in its frame. */
typedef struct {
  int kind;
  corral_event ev;
  corral_semaphore sem;
  corral_lock lock;
  corral_condition cond;
  corral_limiter lim;
  int child_rc;
  int child_done;
  const char *child_msg;
} lent;

static int child_waits(void *a, void **r) {
  (void)r;
  lent *o = a;
  int rc = 0;
  switch (o->kind) {
  case K_EVENT: rc = corral_event_wait(&o->ev); break;
  case K_SEM: rc = corral_semaphore_acquire(&o->sem); break;
  case K_LOCK: rc = corral_lock_acquire(&o->lock); break;
  case K_COND:
    rc = corral_lock_acquire(&o->lock);
    if (rc == 0) rc = corral_condition_wait(&o->cond);
    break;
  case K_LIMITER: rc = corral_limiter_acquire(&o->lim); break;
  }
  /* Only the waiter's own frame is touched from here on: o may be gone. */
  return rc;
}

static void lend_init(lent *o, int kind) {
  memset(o, 0, sizeof *o);
  o->kind = kind;
  corral_event_init(&o->ev);
  corral_semaphore_init(&o->sem, 0);
  corral_lock_init(&o->lock, "lent");
  corral_condition_init(&o->cond, &o->lock, "lent");
  CHECK_RC(corral_limiter_init(&o->lim, 1, "lent"), 0);
}

/* What the parent holds so that the child has to wait. */
static void parent_holds(lent *o) {
  if (o->kind == K_LOCK) CHECK_RC(corral_lock_acquire(&o->lock), 0);
  if (o->kind == K_LIMITER) CHECK_RC(corral_limiter_acquire(&o->lim), 0);
}

/* The frame goes away: what a return does to it, made certain. */
static void clobber(lent *o) {
  if (o->kind == K_LIMITER) corral_limiter_destroy(&o->lim);
  memset(o, 0xa5, sizeof *o);
}

/* The frame's memory is used again (as the next call's frame would): after
 * the child ran, nothing may have written into it. */
static void reuse_and_check(lent *o, corral_task *c) {
  int kind = o->kind;
  clobber(o);
  corral_scope sh;
  CHECK_RC(corral_shield(&sh, CORRAL_FOREVER), 0);
  int rc = corral_join(c, NULL);
  CHECK(rc == CORRAL_ECANCELED || rc == CORRAL_EDEADLK);
  CHECK_RC(corral_scope_exit(&sh, 0), 0);
  corral_task_release(c);
  const unsigned char *p = (const unsigned char *)o;
  for (size_t i = 0; i < sizeof *o; i++)
    if (p[i] != 0xa5)
      FAILF("%s: byte %zu of the parent's old frame was written (0x%02x) "
            "after it went away",
            kind_name[kind], i, p[i]);
}

/* Deadlock: the child waits on the parent's object, the parent on an event
 * nobody sets. The breaker cancels both; the parent runs first, its frame
 * is overwritten, it returns; then the child runs. */
static int parent_deadlocks(void *a, void **r) {
  (void)r;
  lent o;
  lend_init(&o, *(int *)a);
  parent_holds(&o);
  corral_task *c;
  CHECK_RC(corral_create_task(child_waits, &o, "child", &c), 0);
  CHECK_RC(corral_yield(), 0); /* the child parks on o */
  corral_event never;
  corral_event_init(&never);
  /* The breaker's first pass cancels the root scope (reason DEADLOCK). */
  CHECK_RC(corral_event_wait(&never), CORRAL_ECANCELED);
  reuse_and_check(&o, c);
  return 0;
}

TEST(deadlock_unwind_child_waits_on_parent_frame) {
  for (int k = 0; k < K_COUNT; k++) {
    FILE *rep = tmpfile();
    CHECK(rep);
    corral_options opts = {0};
    opts.virtual_clock = 1;
    opts.report = rep;
    int rc = corral_run(&opts, parent_deadlocks, &k, NULL);
    if (rc != CORRAL_EDEADLK)
      FAILF("%s: corral_run returned %s", kind_name[k], corral_err_name(rc));
    fclose(rep);
  }
}

/* The same with an ordinary cancellation: the parent cancels its child
 * and, before the child runs, its frame goes away. */
static int parent_cancels_child(void *a, void **r) {
  (void)r;
  lent o;
  lend_init(&o, *(int *)a);
  parent_holds(&o);
  corral_task *c;
  CHECK_RC(corral_create_task(child_waits, &o, "child", &c), 0);
  CHECK_RC(corral_yield(), 0); /* the child parks on o */
  CHECK_RC(corral_cancel(c, "stop"), 0);
  reuse_and_check(&o, c);
  return 0;
}

static int m_cancel_kinds(void *a, void **r) {
  (void)a, (void)r;
  for (int k = 0; k < K_COUNT; k++) {
    corral_task *t;
    CHECK_RC(corral_spawn(NULL, parent_cancels_child, &k, "parent", &t), 0);
    int rc = corral_join(t, NULL);
    if (rc != 0)
      FAILF("%s: parent returned %s", kind_name[k], corral_err_name(rc));
    corral_task_release(t);
  }
  return 0;
}

TEST(cancelled_child_waits_on_parent_frame) {
  CHECK_RC(run_virtual(m_cancel_kinds, NULL), 0);
}

/* No cancellation at all: the parent returns while its create_task child
 * still waits on an object of the returned frame. The child's wait ends
 * with CORRAL_EINVAL and a message; nothing writes into the old frame. */
static int g_child_rc;
static char g_child_msg[512];

static int child_reports(void *a, void **r) {
  int rc = child_waits(a, r);
  const corral_error *e = corral_last_error();
  g_child_rc = rc;
  snprintf(g_child_msg, sizeof g_child_msg, "%s",
           e ? corral_error_message(e) : "");
  return rc;
}

static int parent_returns(void *a, void **r) {
  (void)r;
  lent o;
  lend_init(&o, *(int *)a);
  parent_holds(&o);
  CHECK_RC(corral_create_task(child_reports, &o, "child", NULL), 0);
  CHECK_RC(corral_yield(), 0);
  clobber(&o);
  return 0;
}

static int m_returned_kinds(void *a, void **r) {
  (void)a, (void)r;
  for (int k = 0; k < K_COUNT; k++) {
    g_child_rc = 1;
    g_child_msg[0] = 0;
    corral_task *t;
    CHECK_RC(corral_spawn(NULL, parent_returns, &k, "parent", &t), 0);
    /* The child's error nobody joined fails the parent. */
    int rc = corral_join(t, NULL);
    /* A limiter is destroyed before its frame goes: its waiter learns it
     * from the destroy (CORRAL_ECLOSED). */
    int want = k == K_LIMITER ? CORRAL_ECLOSED : CORRAL_EINVAL;
    if (rc != CORRAL_EGROUP || g_child_rc != want)
      FAILF("%s: parent %s, child %s", kind_name[k], corral_err_name(rc),
            corral_err_name(g_child_rc));
    if (k != K_LIMITER && (!strstr(g_child_msg, "task 'parent'") ||
                           !strstr(g_child_msg, kind_name[k])))
      FAILF("%s: message \"%s\"", kind_name[k], g_child_msg);
    corral_task_release(t);
  }
  return 0;
}

TEST(waiter_on_returned_frame_is_reported) {
  FILE *rep = tmpfile();
  CHECK(rep);
  corral_options opts = {0};
  opts.virtual_clock = 1;
  opts.report = rep;
  CHECK_RC(corral_run(&opts, m_returned_kinds, NULL, NULL), 0);
  rewind(rep);
  char buf[4096];
  size_t n = fread(buf, 1, sizeof buf - 1, rep);
  buf[n] = 0;
  fclose(rep);
  if (!strstr(buf, "misuse")) FAILF("report: %s", buf);
}

/* Destroying a limiter tasks still wait on fails their acquire with
 * CORRAL_ECLOSED; none keeps a node in the destroyed storage. */
static int lim_waiter_fn(void *a, void **r) {
  (void)r;
  return corral_limiter_acquire(a);
}

static int m_limiter_destroy(void *a, void **r) {
  (void)a, (void)r;
  corral_limiter *lim = malloc(sizeof *lim);
  CHECK(lim);
  CHECK_RC(corral_limiter_init(lim, 1, "pool"), 0);
  CHECK_RC(corral_limiter_acquire(lim), 0);
  corral_task *t[2];
  CHECK_RC(corral_spawn(NULL, lim_waiter_fn, lim, "w0", &t[0]), 0);
  CHECK_RC(corral_spawn(NULL, lim_waiter_fn, lim, "w1", &t[1]), 0);
  CHECK_RC(corral_yield(), 0);
  CHECK_RC(corral_cancel(t[0], "one cancelled first"), 0);
  corral_limiter_destroy(lim);
  memset(lim, 0xa5, sizeof *lim);
  free(lim);
  CHECK_RC(corral_join(t[0], NULL), CORRAL_ECANCELED);
  CHECK_RC(corral_join(t[1], NULL), CORRAL_ECLOSED);
  corral_task_release(t[0]);
  corral_task_release(t[1]);
  return 0;
}

TEST(limiter_destroyed_with_waiters) {
  CHECK_RC(run_virtual(m_limiter_destroy, NULL), 0);
}
