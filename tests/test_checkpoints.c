/* Blocking calls that complete at once (a channel with room or an item, an
 * event already set, a free lock, a finished task, buffered stream bytes)
 * are still checkpoints. A cancellation point: inside a cancelled scope
 * they fail with CORRAL_ECANCELED and take nothing. A schedule point once
 * the task has used its slice: a task whose every call completes at once
 * still lets the others run (every CORRAL_YIELD_EVERY such calls, or as soon
 * as the watchdog saw a deadline pass or the task run a whole tick),
 * without losing what the call did (Trio's send and receive always
 * yield). On the virtual clock the count is the only trigger, so the
 * order is deterministic. */
#include "test.h"

#include <unistd.h>

enum { N = 2000 };

static int g_stop, g_ticks;

/* Counts how often it runs while the others make their calls. */
static int ticker(void *a, void **r) {
  (void)a, (void)r;
  while (!g_stop) {
    g_ticks++;
    if (corral_yield()) break;
  }
  return 0;
}

static int quick(void *a, void **r) {
  (void)a, (void)r;
  return 0;
}

enum { OP_SEND, OP_RECEIVE, OP_SELECT, OP_EVENT, OP_SEM, OP_LOCK,
       OP_LIMITER, OP_JOIN, OP_WAIT, OP_READ, OP_WRITE, OP_COUNT };
static const char *const op_name[OP_COUNT] = {
    "channel send", "channel receive", "select", "event wait",
    "semaphore acquire", "lock acquire", "limiter acquire", "join",
    "wait", "stream read", "stream write"};

/* N calls of one kind, each completing at once. */
static void run_quick(int op) {
  corral_channel *ch;
  CHECK_RC(corral_channel_open(&ch, sizeof(int), N, "q"), 0);
  corral_event ev;
  corral_event_init(&ev);
  corral_event_set(&ev);
  corral_semaphore sem;
  corral_semaphore_init(&sem, N);
  corral_lock lock;
  corral_lock_init(&lock, "l");
  corral_limiter lim;
  CHECK_RC(corral_limiter_init(&lim, 1, "lim"), 0);
  corral_task *done;
  CHECK_RC(corral_spawn(NULL, quick, NULL, "done", &done), 0);
  CHECK_RC(corral_wait(&done, 1, CORRAL_ALL_COMPLETED, CORRAL_FOREVER, NULL),
           0);
  static corral_task *finished[N]; /* join: N finished tasks */
  for (int i = 0; op == OP_JOIN && i < N; i++)
    CHECK_RC(corral_spawn(NULL, quick, NULL, "f", &finished[i]), 0);
  if (op == OP_JOIN)
    CHECK_RC(corral_wait(finished, N, CORRAL_ALL_COMPLETED, CORRAL_FOREVER,
                         NULL),
             0);
  corral_stream *rd = NULL, *wr = NULL;
  if (op == OP_READ || op == OP_WRITE) {
    CHECK_RC(corral_pipe(&rd, &wr), 0);
    if (op == OP_READ) { /* N bytes buffered in the kernel */
      char fill[N];
      memset(fill, 'x', sizeof fill);
      CHECK_RC(corral_stream_write(wr, fill, sizeof fill, NULL), 0);
    }
  }
  int v = 1;
  for (int i = 0; op == OP_RECEIVE && i < N; i++)
    CHECK_RC(corral_channel_try_send(ch, &v), 0);
  int before = g_ticks;
  for (int i = 0; i < N; i++) {
    int rc = 0;
    size_t fired;
    char c;
    corral_select_clause cl = {ch, CORRAL_SELECT_SEND, &v};
    switch (op) {
    case OP_SEND: rc = corral_channel_send(ch, &v); break;
    case OP_RECEIVE: rc = corral_channel_receive(ch, &v); break;
    case OP_SELECT: rc = corral_select(&cl, 1, &fired); break;
    case OP_EVENT: rc = corral_event_wait(&ev); break;
    case OP_SEM: rc = corral_semaphore_acquire(&sem); break;
    case OP_LOCK:
      rc = corral_lock_acquire(&lock);
      if (!rc) rc = corral_lock_release(&lock);
      break;
    case OP_LIMITER:
      rc = corral_limiter_acquire(&lim);
      if (!rc) rc = corral_limiter_release(&lim);
      break;
    case OP_JOIN:
      rc = corral_join(finished[i], NULL);
      corral_task_release(finished[i]);
      break;
    case OP_WAIT:
      rc = corral_wait(&done, 1, CORRAL_ALL_COMPLETED, CORRAL_FOREVER, NULL);
      break;
    case OP_READ: rc = corral_stream_read(rd, &c, 1) == 1 ? 0 : -1; break;
    case OP_WRITE: rc = corral_stream_write(wr, "y", 1, NULL); break;
    }
    if (rc) FAILF("%s #%d: %s", op_name[op], i, corral_err_name(rc));
  }
  int ran = g_ticks - before;
  /* At least one schedule point per CORRAL_YIELD_EVERY calls. */
  if (ran < N / CORRAL_YIELD_EVERY - 1)
    FAILF("%s: %d calls completing at once let the others run %d times",
          op_name[op], N, ran);
  corral_stream_close(rd);
  corral_stream_close(wr);
  corral_task_release(done);
  corral_limiter_destroy(&lim);
  corral_channel_free(ch);
}

static int m_quick_calls(void *a, void **r) {
  (void)a, (void)r;
  g_stop = 0;
  CHECK_RC(corral_create_task(ticker, NULL, "ticker", NULL), 0);
  for (int op = 0; op < OP_COUNT; op++) run_quick(op);
  g_stop = 1;
  return 0;
}

TEST(calls_completing_at_once_are_schedule_points) {
  int before = count_fds();
  CHECK_RC(run_virtual(m_quick_calls, NULL), 0);
  CHECK_EQ(count_fds(), before);
}

/* A task that sends into a channel with room and receives back what it
 * sent never parks; a timer still fires (real clock: the loop ends only
 * when the sleeper ran). */
static int g_fired;
static int sleeper(void *a, void **r) {
  (void)a, (void)r;
  int rc = corral_sleep(2 * MS);
  g_fired = 1;
  return rc;
}
/* a: the item size (int, or a word: the channels' fast paths). */
static int m_loop_and_timer(void *a, void **r) {
  (void)r;
  size_t isize = *(const size_t *)a;
  corral_channel *ch;
  CHECK_RC(corral_channel_open(&ch, isize, 1, "loop"), 0);
  CHECK_RC(corral_create_task(sleeper, NULL, "sleeper", NULL), 0);
  int64_t v = 0;
  while (!g_fired) {
    CHECK_RC(corral_channel_send(ch, &v), 0);
    CHECK_RC(corral_channel_receive(ch, &v), 0);
  }
  corral_channel_free(ch);
  return 0;
}
TEST(channel_loop_lets_a_timer_fire) {
  size_t isize = sizeof(int);
  g_fired = 0;
  CHECK_RC(corral_run(NULL, m_loop_and_timer, &isize, NULL), 0);
}
TEST(channel_loop_of_word_items_lets_a_timer_fire) {
  size_t isize = sizeof(int64_t);
  g_fired = 0;
  CHECK_RC(corral_run(NULL, m_loop_and_timer, &isize, NULL), 0);
}

/* Two tasks that pass a word back and forth over two rendezvous channels
 * park at every receive and switch straight to each other; a timer still
 * fires and a third task, which only yields, still runs (real clock: the
 * pair stops only when the sleeper ran). */
static corral_channel *g_ping, *g_pong;
static int pinger(void *a, void **r) {
  (void)r;
  int first = a != NULL;
  corral_channel *in = first ? g_ping : g_pong, *out = first ? g_pong : g_ping;
  int64_t v = 0;
  if (first) CHECK_RC(corral_channel_send(out, &v), 0);
  for (;;) {
    int rc = corral_channel_receive(in, &v);
    if (rc == 0 && !g_fired) {
      v++;
      if ((rc = corral_channel_send(out, &v)) == 0) continue;
    }
    /* The timer fired, or the partner stopped (parked in a send or a
     * receive, the partner sees EPIPE or EEOF). */
    if (rc != CORRAL_EEOF && rc != CORRAL_EPIPE) CHECK_RC(rc, 0);
    CHECK_RC(corral_channel_close_send(out), 0);
    CHECK_RC(corral_channel_close_receive(in), 0);
    return 0;
  }
}
static int m_pingpong_and_timer(void *a, void **r) {
  (void)a, (void)r;
  g_stop = 0;
  g_ticks = 0;
  CHECK_RC(corral_channel_open(&g_ping, sizeof(int64_t), 0, "ping"), 0);
  CHECK_RC(corral_channel_open(&g_pong, sizeof(int64_t), 0, "pong"), 0);
  corral_group g;
  CHECK_RC(corral_group_open(&g, NULL), 0);
  CHECK_RC(corral_spawn(&g, sleeper, NULL, "sleeper", NULL), 0);
  CHECK_RC(corral_spawn(&g, ticker, NULL, "ticker", NULL), 0);
  CHECK_RC(corral_spawn(&g, pinger, NULL, "b", NULL), 0);
  CHECK_RC(corral_spawn(&g, pinger, &g, "a", NULL), 0);
  while (!g_fired) CHECK_RC(corral_sleep(MS / 2), 0);
  int ticks = g_ticks;
  g_stop = 1;
  CHECK_RC(corral_group_close(&g, 0), 0);
  CHECK(ticks > 0);
  corral_channel_free(g_ping);
  corral_channel_free(g_pong);
  return 0;
}
TEST(pingpong_pair_lets_a_timer_and_a_third_task_run) {
  g_fired = 0;
  CHECK_RC(corral_run(NULL, m_pingpong_and_timer, NULL, NULL), 0);
}

/* Inside a cancelled scope, calls that would complete at once fail with
 * CORRAL_ECANCELED and take nothing. */
static int m_cancel_points(void *a, void **r) {
  (void)a, (void)r;
  corral_task *done;
  CHECK_RC(corral_spawn(NULL, quick, NULL, "done", &done), 0);
  CHECK_RC(corral_wait(&done, 1, CORRAL_ALL_COMPLETED, CORRAL_FOREVER, NULL),
           0);
  corral_channel *ch;
  CHECK_RC(corral_channel_open(&ch, sizeof(int), 4, "c"), 0);
  int v = 5;
  CHECK_RC(corral_channel_try_send(ch, &v), 0);
  corral_event ev;
  corral_event_init(&ev);
  corral_event_set(&ev);
  corral_semaphore sem;
  corral_semaphore_init(&sem, 1);
  corral_lock lock;
  corral_lock_init(&lock, "l");
  corral_stream *rd, *wr;
  CHECK_RC(corral_pipe(&rd, &wr), 0);
  CHECK_RC(corral_stream_write(wr, "z", 1, NULL), 0);
  corral_scope s;
  CHECK_RC(corral_scope_enter(&s, NULL), 0);
  CHECK_RC(corral_scope_cancel(&s, "stop"), 0);
  CHECK_RC(corral_channel_send(ch, &v), CORRAL_ECANCELED);
  CHECK_RC(corral_channel_receive(ch, &v), CORRAL_ECANCELED);
  CHECK_RC(corral_event_wait(&ev), CORRAL_ECANCELED);
  CHECK_RC(corral_semaphore_acquire(&sem), CORRAL_ECANCELED);
  CHECK_RC(corral_lock_acquire(&lock), CORRAL_ECANCELED);
  char c;
  CHECK_RC(corral_stream_read(rd, &c, 1), CORRAL_ECANCELED);
  CHECK_RC(corral_join(done, NULL), CORRAL_ECANCELED);
  CHECK_RC(corral_wait(&done, 1, CORRAL_ALL_COMPLETED, SEC, NULL),
           CORRAL_ECANCELED);
  corral_as_completed it;
  CHECK_RC(corral_as_completed_init(&it, &done, 1, SEC), 0);
  corral_task *got = NULL;
  CHECK_RC(corral_as_completed_next(&it, &got), CORRAL_ECANCELED);
  CHECK(got == NULL);
  /* wait_for: a result already there wins over the cancellation (as one
   * arriving at its deadline does). */
  corral_task *other;
  CHECK_RC(corral_spawn(NULL, quick, NULL, "other", &other), 0);
  CHECK_RC(corral_scope_exit(&s, CORRAL_ECANCELED), 0);
  CHECK_RC(corral_wait(&other, 1, CORRAL_ALL_COMPLETED, SEC, NULL), 0);
  CHECK_RC(corral_scope_enter(&s, NULL), 0);
  CHECK_RC(corral_scope_cancel(&s, "stop"), 0);
  CHECK_RC(corral_wait_for(other, SEC, NULL), 0);
  CHECK_RC(corral_scope_exit(&s, 0), 0);
  corral_task_release(other);
  /* Nothing was taken: the item, the unit, the lock, the byte, the
   * outcome, the iterator's task are all still there. */
  CHECK_RC(corral_as_completed_next(&it, &got), 0);
  CHECK(got == done);
  corral_as_completed_free(&it);
  CHECK_RC(corral_channel_try_receive(ch, &v), 0);
  CHECK_EQ(v, 5);
  CHECK_EQ(corral_semaphore_value(&sem), 1);
  CHECK(corral_lock_owner(&lock) == NULL);
  CHECK_RC(corral_stream_read(rd, &c, 1), 1);
  CHECK_RC(corral_join(done, NULL), 0);
  corral_task_release(done);
  corral_stream_close(rd);
  corral_stream_close(wr);
  corral_channel_free(ch);
  return 0;
}
TEST(calls_completing_at_once_are_cancellation_points) {
  int before = count_fds();
  CHECK_RC(run_virtual(m_cancel_points, NULL), 0);
  CHECK_EQ(count_fds(), before);
}

/* The same for word-sized items (the channels' fast paths), buffered and
 * rendezvous: nothing taken, nothing left behind. */
static int m_word_cancel_points(void *a, void **r) {
  (void)a, (void)r;
  corral_channel *ch, *rv;
  CHECK_RC(corral_channel_open(&ch, sizeof(int64_t), 4, "c"), 0);
  CHECK_RC(corral_channel_open(&rv, sizeof(int64_t), 0, "rv"), 0);
  int64_t v = 5, got = -1;
  CHECK_RC(corral_channel_try_send(ch, &v), 0);
  corral_scope s;
  CHECK_RC(corral_scope_enter(&s, NULL), 0);
  CHECK_RC(corral_scope_cancel(&s, "stop"), 0);
  CHECK_RC(corral_channel_send(ch, &v), CORRAL_ECANCELED);
  CHECK_RC(corral_channel_receive(ch, &got), CORRAL_ECANCELED);
  CHECK_RC(corral_channel_send(rv, &v), CORRAL_ECANCELED);
  CHECK_RC(corral_channel_receive(rv, &got), CORRAL_ECANCELED);
  CHECK_RC(corral_scope_exit(&s, CORRAL_ECANCELED), 0);
  CHECK_EQ(got, -1);
  corral_channel_stats st;
  CHECK_RC(corral_channel_stats_get(ch, &st), 0);
  CHECK_EQ(st.buffered, 1);
  CHECK_RC(corral_channel_stats_get(rv, &st), 0);
  CHECK_EQ(st.senders_waiting + st.receivers_waiting, 0);
  CHECK_RC(corral_channel_receive(ch, &got), 0);
  CHECK_EQ(got, 5);
  corral_channel_free(ch);
  corral_channel_free(rv);
  return 0;
}
TEST(word_item_channel_calls_are_cancellation_points) {
  CHECK_RC(run_virtual(m_word_cancel_points, NULL), 0);
}
