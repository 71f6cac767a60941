/* Lock, condition variable, capacity limiter: FIFO order, owner checks,
 * cancellation, hand-off, statistics, deadlock report text. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "test.h"

static int run_report(corral_fn fn, void *arg, char **out) {
  size_t len = 0;
  *out = NULL;
  FILE *f = open_memstream(out, &len);
  corral_options o = {.virtual_clock = 1, .report = f};
  int rc = corral_run(&o, fn, arg, NULL);
  fclose(f);
  if (getenv("SHOW_REPORT")) fputs(*out, stderr);
  return rc;
}

/* ---- lock ---- */

typedef struct {
  corral_lock *l;
  int rc;
} lslot;

static int try_other(void *a, void **r) {
  (void)r;
  lslot *s = a;
  s->rc = corral_lock_try_acquire(s->l);
  return 0;
}

static int release_other(void *a, void **r) {
  (void)r;
  lslot *s = a;
  s->rc = corral_lock_release(s->l);
  return 0;
}

static int m_lock_basic(void *a, void **r) {
  (void)a, (void)r;
  corral_lock l;
  corral_lock_init(&l, "L");
  CHECK(corral_lock_owner(&l) == NULL);
  CHECK_RC(corral_lock_release(&l), CORRAL_EPERM); /* not held */
  CHECK_RC(corral_lock_acquire(&l), 0);
  CHECK(corral_lock_owner(&l) == corral_current());
  CHECK_RC(corral_lock_acquire(&l), CORRAL_EDEADLK); /* not re-entrant */
  CHECK_RC(corral_lock_try_acquire(&l), CORRAL_EDEADLK);
  lslot s = {&l, 1};
  corral_task *t;
  CHECK_RC(corral_create_task(try_other, &s, "other", &t), 0);
  CHECK_RC(corral_join(t, NULL), 0);
  corral_task_release(t);
  CHECK_RC(s.rc, CORRAL_EAGAIN);
  CHECK_RC(corral_create_task(release_other, &s, "other", &t), 0);
  CHECK_RC(corral_join(t, NULL), 0);
  corral_task_release(t);
  CHECK_RC(s.rc, CORRAL_EPERM); /* owner-checked */
  CHECK(corral_lock_owner(&l) == corral_current());
  CHECK_RC(corral_lock_release(&l), 0);
  CHECK_RC(corral_lock_try_acquire(&l), 0);
  CHECK_RC(corral_lock_release(&l), 0);
  CHECK_RC(corral_lock_acquire(NULL), CORRAL_EINVAL);
  corral_lock junk;
  memset(&junk, 0, sizeof junk);
  CHECK_RC(corral_lock_acquire(&junk), CORRAL_EINVAL);
  return 0;
}

TEST(lock_owner_checked_not_reentrant) {
  corral_lock l;
  corral_lock_init(&l, NULL);
  CHECK_RC(corral_lock_acquire(&l), CORRAL_ENOTASK);
  CHECK_RC(run_virtual(m_lock_basic, NULL), 0);
}

static int order[16], norder;

typedef struct {
  corral_lock *l;
  int id;
  int rc;
} locker;

static int lock_and_record(void *a, void **r) {
  (void)r;
  locker *k = a;
  k->rc = corral_lock_acquire(k->l);
  if (k->rc) return 0;
  order[norder++] = k->id;
  CORRAL_IGNORE(corral_sleep(CORRAL_MS(1)));
  return corral_lock_release(k->l);
}

static int m_lock_fifo(void *a, void **r) {
  (void)a, (void)r;
  corral_lock l;
  corral_lock_init(&l, "fifo");
  CHECK_RC(corral_lock_acquire(&l), 0);
  corral_group g;
  corral_group_open(&g, NULL);
  locker k[6];
  corral_task *t[6];
  for (int i = 0; i < 6; i++) {
    k[i] = (locker){&l, i, 1};
    CHECK_RC(corral_spawn(&g, lock_and_record, &k[i], "locker", &t[i]), 0);
    CHECK_RC(corral_yield(), 0); /* queue in spawn order */
  }
  CHECK_EQ(corral_lock_waiting(&l), 6);
  corral_cancel(t[2], "leave the queue");
  CHECK_RC(corral_yield(), 0);
  CHECK_EQ(corral_lock_waiting(&l), 5);
  /* The release hands it to task 0 at once: even a task that was running
   * already cannot barge in. */
  CHECK_RC(corral_lock_release(&l), 0);
  CHECK(corral_lock_owner(&l) != NULL && corral_lock_owner(&l) != corral_current());
  CHECK_RC(corral_lock_try_acquire(&l), CORRAL_EAGAIN);
  CHECK_RC(corral_group_close(&g, 0), 0);
  for (int i = 0; i < 6; i++) corral_task_release(t[i]);
  int want[] = {0, 1, 3, 4, 5};
  CHECK_EQ(norder, 5);
  for (int i = 0; i < 5; i++) CHECK_EQ(order[i], want[i]);
  CHECK_RC(k[2].rc, CORRAL_ECANCELED);
  CHECK(corral_lock_owner(&l) == NULL);
  return 0;
}

TEST(lock_fifo_order_and_cancelled_waiter) { CHECK_RC(run_virtual(m_lock_fifo, NULL), 0); }

/* A release hands the lock over; a cancel reaching the new owner before it
 * runs does not take it back. */
static int m_lock_handoff_cancel(void *a, void **r) {
  (void)a, (void)r;
  corral_lock l;
  corral_lock_init(&l, "h");
  CHECK_RC(corral_lock_acquire(&l), 0);
  locker k = {&l, 7, 1};
  corral_task *t;
  norder = 0;
  CHECK_RC(corral_create_task(lock_and_record, &k, "waiter", &t), 0);
  CHECK_RC(corral_yield(), 0);
  CHECK_RC(corral_lock_release(&l), 0);
  CHECK_RC(corral_cancel(t, "late"), 0);
  CHECK(corral_lock_owner(&l) == t);
  CHECK_RC(corral_join(t, NULL), 0); /* its sleep was cancelled, ignored */
  corral_task_release(t);
  CHECK_RC(k.rc, 0); /* but it got the lock */
  CHECK_EQ(norder, 1);
  CHECK(corral_lock_owner(&l) == NULL); /* and released it */
  return 0;
}

TEST(lock_handoff_survives_late_cancel) { CHECK_RC(run_virtual(m_lock_handoff_cancel, NULL), 0); }

/* ---- condition ---- */

typedef struct {
  corral_lock l;
  corral_condition c;
  int items;
  int woken;
  int rc[8];
} shared;

static int cond_next; /* waiters number themselves in spawn order */

static int cond_waiter(void *a, void **r) {
  (void)r;
  shared *s = a;
  int me = cond_next++ % 8;
  CHECK_RC(corral_lock_acquire(&s->l), 0);
  s->rc[me] = 1;
  while (s->items == 0) {
    int rc = corral_condition_wait(&s->c);
    CHECK(corral_lock_owner(&s->l) == corral_current()); /* held again */
    if (rc) {
      s->rc[me] = rc;
      corral_lock_release(&s->l);
      return 0;
    }
  }
  s->items--;
  s->woken++;
  s->rc[me] = 0;
  return corral_lock_release(&s->l);
}

static int m_cond(void *a, void **r) {
  (void)a, (void)r;
  cond_next = 0;
  shared s;
  memset(&s, 0, sizeof s);
  corral_lock_init(&s.l, "L");
  corral_condition_init(&s.c, &s.l, "C");
  /* Without the lock: EPERM, nothing changes. */
  CHECK_RC(corral_condition_wait(&s.c), CORRAL_EPERM);
  /* A notify with nobody waiting is lost (an edge). */
  CHECK_EQ(corral_condition_notify(&s.c, 1), 0);
  corral_group g;
  corral_group_open(&g, NULL);
  for (int i = 0; i < 4; i++) corral_spawn(&g, cond_waiter, &s, "w", NULL);
  CHECK_RC(corral_sleep(CORRAL_MS(1)), 0);
  CHECK(corral_lock_owner(&s.l) == NULL); /* every waiter released it */
  CHECK_RC(corral_lock_acquire(&s.l), 0);
  s.items = 1;
  CHECK_EQ(corral_condition_notify(&s.c, 1), 1);
  CHECK_RC(corral_lock_release(&s.l), 0);
  CHECK_RC(corral_sleep(CORRAL_MS(1)), 0);
  CHECK_EQ(s.woken, 1);
  CHECK_RC(corral_lock_acquire(&s.l), 0);
  s.items = 3;
  CHECK_EQ(corral_condition_notify_all(&s.c), 3);
  /* They wait for the lock now: holding it keeps them out. */
  CHECK_RC(corral_sleep(CORRAL_MS(1)), 0);
  CHECK_EQ(s.woken, 1);
  CHECK_EQ(corral_lock_waiting(&s.l), 3);
  CHECK_RC(corral_lock_release(&s.l), 0);
  CHECK_RC(corral_group_close(&g, 0), 0);
  CHECK_EQ(s.woken, 4);
  CHECK_EQ(s.items, 0);
  return 0;
}

TEST(condition_notify_and_notify_all) { CHECK_RC(run_virtual(m_cond, NULL), 0); }

static int m_cond_cancel(void *a, void **r) {
  (void)a, (void)r;
  cond_next = 0;
  shared s;
  memset(&s, 0, sizeof s);
  corral_lock_init(&s.l, "L");
  corral_condition_init(&s.c, &s.l, "C");
  corral_task *t;
  /* Cancelled while the lock is held by someone else: the waiter returns
   * only once it holds the lock again. */
  CHECK_RC(corral_create_task(cond_waiter, &s, "w0", &t), 0);
  CHECK_RC(corral_sleep(CORRAL_MS(1)), 0);
  CHECK_RC(corral_lock_acquire(&s.l), 0);
  CHECK_RC(corral_cancel(t, "stop"), 0);
  CHECK_RC(corral_sleep(CORRAL_MS(1)), 0);
  CHECK_EQ(s.rc[0], 1); /* still inside wait: the lock is ours */
  CHECK_EQ(corral_lock_waiting(&s.l), 1);
  CHECK_RC(corral_lock_release(&s.l), 0);
  CHECK_RC(corral_join(t, NULL), 0);
  corral_task_release(t);
  CHECK_RC(s.rc[0], CORRAL_ECANCELED);
  /* Cancelled while the lock is free: returns at once, holding it. */
  CHECK_RC(corral_create_task(cond_waiter, &s, "w1", &t), 0);
  CHECK_RC(corral_sleep(CORRAL_MS(1)), 0);
  CHECK_RC(corral_cancel(t, "stop"), 0);
  CHECK_RC(corral_join(t, NULL), 0);
  corral_task_release(t);
  CHECK_RC(s.rc[1], CORRAL_ECANCELED);
  /* Notified, then cancelled while waiting for the lock: the notify is
   * not lost (returns 0). */
  CHECK_RC(corral_create_task(cond_waiter, &s, "w2", &t), 0);
  CHECK_RC(corral_sleep(CORRAL_MS(1)), 0);
  CHECK_RC(corral_lock_acquire(&s.l), 0);
  s.items = 1;
  CHECK_EQ(corral_condition_notify(&s.c, 1), 1);
  CHECK_RC(corral_cancel(t, "stop"), 0);
  CHECK_RC(corral_lock_release(&s.l), 0);
  CHECK_RC(corral_join(t, NULL), 0);
  corral_task_release(t);
  CHECK_RC(s.rc[2], 0);
  CHECK_EQ(s.woken, 1);
  /* Already cancelled when calling: fails first, the lock stays held. */
  CHECK_RC(corral_lock_acquire(&s.l), 0);
  corral_scope sc;
  corral_scope_enter(&sc, NULL);
  corral_scope_cancel(&sc, "x");
  CHECK_RC(corral_condition_wait(&s.c), CORRAL_ECANCELED);
  CHECK(corral_lock_owner(&s.l) == corral_current());
  CORRAL_IGNORE(corral_scope_exit(&sc, 0));
  CHECK_RC(corral_lock_release(&s.l), 0);
  return 0;
}

TEST(condition_wait_reacquires_when_cancelled) { CHECK_RC(run_virtual(m_cond_cancel, NULL), 0); }

/* ---- capacity limiter ---- */

typedef struct {
  corral_limiter *lim;
  int inside, peak, done;
} limctx;

static int limited(void *a, void **r) {
  (void)r;
  limctx *c = a;
  int rc = corral_limiter_acquire(c->lim);
  if (rc) return rc;
  CHECK(corral_limiter_holds(c->lim, corral_current()));
  if (++c->inside > c->peak) c->peak = c->inside;
  CORRAL_IGNORE(corral_sleep(CORRAL_MS(10)));
  c->inside--;
  c->done++;
  return corral_limiter_release(c->lim);
}

static int m_limiter(void *a, void **r) {
  (void)a, (void)r;
  corral_limiter lim;
  CHECK_RC(corral_limiter_init(&lim, 0, NULL), CORRAL_EINVAL);
  CHECK_RC(corral_limiter_init(&lim, 2, "pool"), 0);
  limctx c = {&lim, 0, 0, 0};
  int64_t t0 = corral_now();
  corral_group g;
  corral_group_open(&g, NULL);
  for (int i = 0; i < 6; i++) corral_spawn(&g, limited, &c, "job", NULL);
  CHECK_RC(corral_sleep(CORRAL_MS(1)), 0);
  corral_limiter_stats st;
  CHECK_RC(corral_limiter_stats_get(&lim, &st), 0);
  CHECK_EQ(st.total_tokens, 2);
  CHECK_EQ(st.borrowed_tokens, 2);
  CHECK_EQ(st.available_tokens, 0);
  CHECK_EQ(st.tasks_waiting, 4);
  /* Not a borrower: EPERM. On behalf of another object: its own token. */
  CHECK_RC(corral_limiter_release(&lim), CORRAL_EPERM);
  static int job_ticket;
  CHECK_RC(corral_limiter_try_acquire_on_behalf_of(&lim, &job_ticket), CORRAL_EAGAIN);
  /* More tokens wake waiters at once. */
  CHECK_RC(corral_limiter_set_total_tokens(&lim, 4), 0);
  corral_limiter_stats_get(&lim, &st);
  CHECK_EQ(st.borrowed_tokens, 4);
  CHECK_EQ(st.tasks_waiting, 2);
  CHECK_RC(corral_group_close(&g, 0), 0);
  CHECK_EQ(c.done, 6);
  CHECK_EQ(c.peak, 4);
  CHECK_EQ(corral_now() - t0, CORRAL_MS(20));
  /* One token per borrower; only the borrower gives it back. */
  CHECK_RC(corral_limiter_acquire_on_behalf_of(&lim, &job_ticket), 0);
  CHECK_RC(corral_limiter_acquire_on_behalf_of(&lim, &job_ticket), CORRAL_EDEADLK);
  CHECK(corral_limiter_holds(&lim, &job_ticket));
  CHECK(!corral_limiter_holds(&lim, corral_current()));
  CHECK_RC(corral_limiter_acquire(&lim), 0);
  CHECK_RC(corral_limiter_acquire(&lim), CORRAL_EDEADLK);
  /* Fewer tokens: borrowers keep theirs, no new grants. */
  CHECK_RC(corral_limiter_set_total_tokens(&lim, 1), 0);
  corral_limiter_stats_get(&lim, &st);
  CHECK_EQ(st.borrowed_tokens, 2);
  CHECK_EQ(st.available_tokens, 0);
  static int other;
  CHECK_RC(corral_limiter_try_acquire_on_behalf_of(&lim, &other), CORRAL_EAGAIN);
  CHECK_RC(corral_limiter_release_on_behalf_of(&lim, &job_ticket), 0);
  CHECK_RC(corral_limiter_release_on_behalf_of(&lim, &job_ticket), CORRAL_EPERM);
  CHECK_RC(corral_limiter_try_acquire_on_behalf_of(&lim, &other), CORRAL_EAGAIN);
  CHECK_RC(corral_limiter_release(&lim), 0);
  CHECK_RC(corral_limiter_try_acquire_on_behalf_of(&lim, &other), 0);
  CHECK_RC(corral_limiter_release_on_behalf_of(&lim, &other), 0);
  CHECK_RC(corral_limiter_acquire_on_behalf_of(&lim, NULL), CORRAL_EINVAL);
  CHECK_RC(corral_limiter_set_total_tokens(&lim, 0), CORRAL_EINVAL);
  corral_limiter_destroy(&lim);
  corral_limiter_destroy(NULL);
  CHECK_RC(corral_limiter_acquire(&lim), CORRAL_EINVAL); /* destroyed */
  return 0;
}

TEST(limiter_borrowers_tokens_statistics) { CHECK_RC(run_virtual(m_limiter, NULL), 0); }

/* Many borrowers: the table grows; a cancelled waiter leaves the queue. */
static int m_limiter_many(void *a, void **r) {
  (void)a, (void)r;
  corral_limiter lim;
  corral_limiter_init(&lim, 50, "wide");
  limctx c = {&lim, 0, 0, 0};
  corral_group g;
  corral_group_open(&g, NULL);
  corral_task *t[120];
  for (int i = 0; i < 120; i++) corral_spawn(&g, limited, &c, "job", &t[i]);
  CHECK_RC(corral_sleep(CORRAL_MS(1)), 0);
  for (int i = 100; i < 120; i++) corral_cancel(t[i], "skip");
  CHECK_RC(corral_group_close(&g, 0), 0);
  for (int i = 0; i < 120; i++) corral_task_release(t[i]);
  CHECK_EQ(c.done, 100);
  CHECK_EQ(c.peak, 50);
  corral_limiter_stats st;
  corral_limiter_stats_get(&lim, &st);
  CHECK_EQ(st.borrowed_tokens, 0);
  CHECK_EQ(st.tasks_waiting, 0);
  corral_limiter_destroy(&lim);
  return 0;
}

TEST(limiter_many_borrowers_and_cancelled_waiters) {
  CHECK_RC(run_virtual(m_limiter_many, NULL), 0);
}

/* ---- deadlock report: who waits for what, held by whom ---- */

typedef struct {
  corral_lock a, b;
} two_locks;

static int take_a_then_b(void *arg, void **r) {
  (void)r;
  two_locks *k = arg;
  CHECK_RC(corral_lock_acquire(&k->a), 0);
  CORRAL_IGNORE(corral_sleep(CORRAL_MS(1)));
  int rc = corral_lock_acquire(&k->b);
  if (!rc) corral_lock_release(&k->b);
  corral_lock_release(&k->a);
  return rc;
}

static int take_b_then_a(void *arg, void **r) {
  (void)r;
  two_locks *k = arg;
  CHECK_RC(corral_lock_acquire(&k->b), 0);
  CORRAL_IGNORE(corral_sleep(CORRAL_MS(1)));
  int rc = corral_lock_acquire(&k->a);
  if (!rc) corral_lock_release(&k->a);
  corral_lock_release(&k->b);
  return rc;
}

static int m_lock_deadlock(void *a, void **r) {
  (void)a, (void)r;
  two_locks k;
  corral_lock_init(&k.a, "accounts");
  corral_lock_init(&k.b, "ledger");
  corral_group g;
  corral_group_open(&g, &(corral_group_opts){.policy = CORRAL_COLLECT});
  corral_spawn(&g, take_a_then_b, &k, "transfer", NULL);
  corral_spawn(&g, take_b_then_a, &k, "audit", NULL);
  return corral_group_close(&g, 0);
}

TEST(deadlock_report_names_lock_holders) {
  char *out;
  CHECK_RC(run_report(m_lock_deadlock, NULL, &out), CORRAL_EDEADLK);
  if (!strstr(out, "task 'transfer' [blocked] waits on lock 'ledger' held by "
                   "task 'audit'") ||
      !strstr(out, "task 'audit' [blocked] waits on lock 'accounts' held by "
                   "task 'transfer'"))
    FAILF("report was:\n%s", out);
  free(out);
}

static int cond_forever(void *arg, void **r) {
  (void)r;
  shared *s = arg;
  CHECK_RC(corral_lock_acquire(&s->l), 0);
  int rc = corral_condition_wait(&s->c);
  if (rc != CORRAL_EDEADLK) corral_lock_release(&s->l);
  return rc;
}

static int lim_forever(void *arg, void **r) {
  (void)r;
  return corral_limiter_acquire(arg);
}

static int m_other_deadlock(void *a, void **r) {
  (void)a, (void)r;
  shared s;
  memset(&s, 0, sizeof s);
  corral_lock_init(&s.l, "state");
  corral_condition_init(&s.c, &s.l, "changed");
  corral_limiter lim;
  corral_limiter_init(&lim, 1, "db");
  CHECK_RC(corral_limiter_acquire(&lim), 0);
  corral_group g;
  corral_group_open(&g, &(corral_group_opts){.policy = CORRAL_COLLECT});
  corral_spawn(&g, cond_forever, &s, "watcher", NULL);
  corral_spawn(&g, lim_forever, &lim, "query", NULL);
  int rc = corral_group_close(&g, 0);
  corral_limiter_release(&lim);
  corral_limiter_destroy(&lim);
  return rc;
}

TEST(deadlock_report_names_condition_and_limiter) {
  char *out;
  CHECK_RC(run_report(m_other_deadlock, NULL, &out), CORRAL_EDEADLK);
  if (!strstr(out, "task 'watcher' [blocked] waits on condition 'changed' "
                   "(lock 'state')") ||
      !strstr(out, "task 'query' [blocked] waits on capacity limiter 'db' "
                   "(1/1 tokens borrowed by task 'main')"))
    FAILF("report was:\n%s", out);
  free(out);
}

/* Compact tasks cannot block on these (their waiter lives on their
 * stack); the non-blocking calls work. */
/* Compact tasks exist only with the assembly switch and without ASan. */
static int compact_ok(void) {
#if defined(__SANITIZE_ADDRESS__)
  return 0;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
  return 0;
#endif
#endif
#ifdef CORRAL_CTX_UCONTEXT
  return 0;
#endif
  return 1;
}

static int compact_locker(void *a, void **r) {
  (void)r;
  if (!compact_ok()) return 0;
  corral_lock *l = a;
  CHECK_RC(corral_lock_acquire(l), CORRAL_EINVAL);
  CHECK_RC(corral_lock_try_acquire(l), 0);
  CHECK_RC(corral_lock_release(l), 0);
  return 0;
}

static int m_compact(void *a, void **r) {
  (void)a, (void)r;
  corral_lock l;
  corral_lock_init(&l, "c");
  corral_spawn_opts o = {.name = "compact", .compact = 1};
  corral_task *t;
  CHECK_RC(corral_spawn_ex(NULL, compact_locker, &l, &o, &t), 0);
  int rc = corral_join(t, NULL);
  corral_task_release(t);
  return rc;
}

TEST(compact_tasks_refused_where_they_would_block) {
  CHECK_RC(run_virtual(m_compact, NULL), 0);
}

/* The deadlock breaker's forced pass frees a condition waiter stuck
 * reacquiring a lock whose holder never lets go: CORRAL_EDEADLK, without
 * the lock. */
typedef struct {
  shared s;
  corral_event never;
  int watcher_rc;
} stuck;

static int shielded_holder(void *arg, void **r) {
  (void)r;
  stuck *k = arg;
  CHECK_RC(corral_lock_acquire(&k->s.l), 0);
  corral_scope sh;
  corral_shield(&sh, CORRAL_FOREVER); /* no timeout: the time rule */
  int rc = corral_event_wait(&k->never); /* immune to the first pass */
  CORRAL_IGNORE(corral_scope_exit(&sh, rc));
  corral_lock_release(&k->s.l);
  return 0;
}

static int watcher(void *arg, void **r) {
  (void)r;
  stuck *k = arg;
  CHECK_RC(corral_lock_acquire(&k->s.l), 0);
  k->watcher_rc = corral_condition_wait(&k->s.c);
  if (k->watcher_rc == CORRAL_EDEADLK)
    CHECK(corral_lock_owner(&k->s.l) != corral_current());
  else
    corral_lock_release(&k->s.l);
  return 0;
}

static int m_forced(void *a, void **r) {
  (void)a, (void)r;
  stuck *k = calloc(1, sizeof *k);
  corral_lock_init(&k->s.l, "state");
  corral_condition_init(&k->s.c, &k->s.l, "changed");
  corral_event_init(&k->never);
  corral_group g;
  corral_group_open(&g, &(corral_group_opts){.policy = CORRAL_COLLECT});
  corral_spawn(&g, watcher, k, "watcher", NULL);
  CHECK_RC(corral_yield(), 0);
  corral_spawn(&g, shielded_holder, k, "holder", NULL);
  int rc = corral_group_close(&g, 0);
  CHECK_RC(k->watcher_rc, CORRAL_EDEADLK);
  free(k);
  return rc;
}

TEST(condition_waiter_freed_by_deadlock_breaker) {
  char *out;
  CHECK_RC(run_report(m_forced, NULL, &out), CORRAL_EDEADLK);
  free(out);
}
