/* Channels and select: buffering, rendezvous, close semantics, exactly-once
 * delivery under random cancellation, select correctness and fairness,
 * deadlock report text, bad input. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "test.h"

#include <pthread.h>
#include <semaphore.h>

static corral_channel *open_ch(size_t isize, size_t cap, const char *name) {
  corral_channel *ch = NULL;
  CHECK_RC(corral_channel_open(&ch, isize, cap, name), 0);
  CHECK(ch != NULL);
  return ch;
}

/* Run fn on the virtual clock with a report stream; return its code and
 * the report in *out (malloc'd). */
static int run_report(corral_fn fn, void *arg, uint64_t seed, char **out) {
  size_t len = 0;
  *out = NULL;
  FILE *f = open_memstream(out, &len);
  corral_options o = {.virtual_clock = 1, .report = f, .shuffle_seed = seed};
  int rc = corral_run(&o, fn, arg, NULL);
  fclose(f);
  return rc;
}

static int run_seed(corral_fn fn, void *arg, uint64_t seed) {
  corral_options o = {.virtual_clock = 1, .shuffle_seed = seed};
  return corral_run(&o, fn, arg, NULL);
}

/* ---- buffering ---- */

static int m_buffered(void *a, void **r) {
  (void)a, (void)r;
  corral_channel *ch = open_ch(sizeof(int), 2, "buf");
  int v = 1, got = 0;
  CHECK_RC(corral_channel_try_receive(ch, &got), CORRAL_EAGAIN);
  CHECK_RC(corral_channel_try_send(ch, &v), 0);
  v = 2;
  CHECK_RC(corral_channel_send(ch, &v), 0); /* room: does not block */
  v = 3;
  CHECK_RC(corral_channel_try_send(ch, &v), CORRAL_EAGAIN);
  corral_channel_stats st;
  CHECK_RC(corral_channel_stats_get(ch, &st), 0);
  CHECK_EQ(st.buffered, 2);
  CHECK_EQ(st.capacity, 2);
  CHECK_EQ(st.item_size, sizeof(int));
  CHECK_RC(corral_channel_receive(ch, &got), 0);
  CHECK_EQ(got, 1);
  CHECK_RC(corral_channel_try_send(ch, &v), 0); /* wraps around the ring */
  CHECK_RC(corral_channel_try_receive(ch, &got), 0);
  CHECK_EQ(got, 2);
  CHECK_RC(corral_channel_try_receive(ch, NULL), 0); /* taken and dropped */
  CHECK_RC(corral_channel_try_receive(ch, &got), CORRAL_EAGAIN);
  corral_channel_free(ch);
  corral_channel_free(NULL);
  return 0;
}

TEST(buffered_fifo_and_try) { CHECK_RC(run_virtual(m_buffered, NULL), 0); }

/* A full buffer blocks the sender until a receiver makes room; the
 * sender's item then moves into the buffer, in order. */
typedef struct {
  corral_channel *ch;
  int n;
  int64_t t_done;
  int rc;
} peer;

static int sender_n(void *a, void **r) {
  (void)r;
  peer *p = a;
  for (int i = 0; i < p->n; i++) {
    p->rc = corral_channel_send(p->ch, &i);
    if (p->rc) return p->rc;
  }
  p->t_done = corral_now();
  return 0;
}

static int m_full_blocks(void *a, void **r) {
  (void)a, (void)r;
  peer p = {open_ch(sizeof(int), 2, "full"), 5, -1, 0};
  int64_t t0 = corral_now();
  corral_group g;
  corral_group_open(&g, NULL);
  CHECK_RC(corral_spawn(&g, sender_n, &p, "sender", NULL), 0);
  for (int i = 0; i < 5; i++) {
    CHECK_RC(corral_sleep(CORRAL_MS(10)), 0);
    int got = -1;
    CHECK_RC(corral_channel_receive(p.ch, &got), 0);
    CHECK_EQ(got, i);
  }
  CHECK_RC(corral_group_close(&g, 0), 0);
  /* Items 0,1 buffered at once; 2 waits for the first receive (10 ms)... */
  CHECK_EQ(p.t_done - t0, CORRAL_MS(30));
  corral_channel_free(p.ch);
  return 0;
}

TEST(full_buffer_blocks_sender) { CHECK_RC(run_virtual(m_full_blocks, NULL), 0); }

/* ---- rendezvous ---- */

static int late_receiver(void *a, void **r) {
  (void)r;
  peer *p = a;
  CHECK_RC(corral_sleep(CORRAL_MS(10)), 0);
  int got = -1;
  CHECK_RC(corral_channel_receive(p->ch, &got), 0);
  CHECK_EQ(got, 7);
  p->t_done = corral_now();
  return 0;
}

static int m_rendezvous(void *a, void **r) {
  (void)a, (void)r;
  peer p = {open_ch(sizeof(int), 0, "rv"), 0, -1, 0};
  int64_t t0 = corral_now();
  int v = 7;
  CHECK_RC(corral_channel_try_send(p.ch, &v), CORRAL_EAGAIN); /* nobody */
  corral_group g;
  corral_group_open(&g, NULL);
  CHECK_RC(corral_spawn(&g, late_receiver, &p, "rx", NULL), 0);
  CHECK_RC(corral_channel_send(p.ch, &v), 0);
  CHECK_EQ(corral_now() - t0, CORRAL_MS(10)); /* returned when taken */
  CHECK_RC(corral_group_close(&g, 0), 0);
  /* Receiver first: the sender finds it waiting. */
  corral_group_open(&g, NULL);
  peer q = {p.ch, 0, -1, 0};
  CHECK_RC(corral_spawn(&g, late_receiver, &q, "rx2", NULL), 0);
  CHECK_RC(corral_sleep(CORRAL_MS(20)), 0);
  corral_channel_stats st;
  corral_channel_stats_get(p.ch, &st);
  CHECK_EQ(st.receivers_waiting, 1);
  CHECK_RC(corral_channel_try_send(p.ch, &v), 0);
  CHECK_RC(corral_group_close(&g, 0), 0);
  corral_channel_free(p.ch);
  return 0;
}

TEST(rendezvous) { CHECK_RC(run_virtual(m_rendezvous, NULL), 0); }

/* ---- close ---- */

typedef struct {
  corral_channel *ch;
  int rc;
  int got;
} slot;

static int do_receive(void *a, void **r) {
  (void)r;
  slot *s = a;
  s->got = -1;
  s->rc = corral_channel_receive(s->ch, &s->got);
  return 0;
}

static int do_send(void *a, void **r) {
  (void)r;
  slot *s = a;
  s->rc = corral_channel_send(s->ch, &s->got);
  return 0;
}

static int m_close_send(void *a, void **r) {
  (void)a, (void)r;
  corral_channel *ch = open_ch(sizeof(int), 3, "cs");
  for (int i = 0; i < 3; i++) CHECK_RC(corral_channel_send(ch, &i), 0);
  CHECK_RC(corral_channel_close_send(ch), 0);
  CHECK_RC(corral_channel_close_send(ch), 0); /* idempotent */
  int v = 9, got;
  CHECK_RC(corral_channel_send(ch, &v), CORRAL_ECLOSED);
  CHECK_RC(corral_channel_try_send(ch, &v), CORRAL_ECLOSED);
  for (int i = 0; i < 3; i++) { /* receivers drain first */
    CHECK_RC(corral_channel_receive(ch, &got), 0);
    CHECK_EQ(got, i);
  }
  CHECK_RC(corral_channel_receive(ch, &got), CORRAL_EEOF);
  CHECK_RC(corral_channel_try_receive(ch, &got), CORRAL_EEOF);
  corral_channel_free(ch);

  /* Blocked receivers wake with EEOF, blocked senders with ECLOSED. */
  corral_channel *rx = open_ch(sizeof(int), 0, "rx");
  corral_channel *tx = open_ch(sizeof(int), 0, "tx");
  slot s[4] = {{rx, 1, 0}, {rx, 1, 0}, {tx, 1, 5}, {tx, 1, 6}};
  corral_group g;
  corral_group_open(&g, NULL);
  corral_spawn(&g, do_receive, &s[0], "r0", NULL);
  corral_spawn(&g, do_receive, &s[1], "r1", NULL);
  corral_spawn(&g, do_send, &s[2], "s0", NULL);
  corral_spawn(&g, do_send, &s[3], "s1", NULL);
  CHECK_RC(corral_yield(), 0);
  CHECK_RC(corral_channel_close_send(rx), 0);
  CHECK_RC(corral_channel_close_send(tx), 0);
  CHECK_RC(corral_group_close(&g, 0), 0);
  CHECK_RC(s[0].rc, CORRAL_EEOF);
  CHECK_RC(s[1].rc, CORRAL_EEOF);
  CHECK_RC(s[2].rc, CORRAL_ECLOSED);
  CHECK_RC(s[3].rc, CORRAL_ECLOSED);
  CHECK_RC(corral_channel_try_receive(tx, &got), CORRAL_EEOF); /* not taken */
  corral_channel_free(rx);
  corral_channel_free(tx);
  return 0;
}

TEST(close_send_drains_then_eof) { CHECK_RC(run_virtual(m_close_send, NULL), 0); }

static int m_close_receive(void *a, void **r) {
  (void)a, (void)r;
  corral_channel *ch = open_ch(sizeof(int), 1, "cr");
  corral_channel *rx = open_ch(sizeof(int), 0, "cr2");
  int v = 1, got;
  CHECK_RC(corral_channel_send(ch, &v), 0); /* fills it */
  slot s[3] = {{ch, 1, 2}, {ch, 1, 3}, {rx, 1, 0}};
  corral_group g;
  corral_group_open(&g, NULL);
  corral_spawn(&g, do_send, &s[0], "s0", NULL);
  corral_spawn(&g, do_send, &s[1], "s1", NULL);
  corral_spawn(&g, do_receive, &s[2], "r0", NULL);
  CHECK_RC(corral_yield(), 0);
  CHECK_RC(corral_channel_close_receive(ch), 0);
  CHECK_RC(corral_channel_close_receive(rx), 0);
  CHECK_RC(corral_group_close(&g, 0), 0);
  CHECK_RC(s[0].rc, CORRAL_EPIPE);
  CHECK_RC(s[1].rc, CORRAL_EPIPE);
  CHECK_RC(s[2].rc, CORRAL_ECLOSED);
  CHECK_RC(corral_channel_send(ch, &v), CORRAL_EPIPE);
  CHECK_RC(corral_channel_receive(ch, &got), CORRAL_ECLOSED);
  corral_channel_stats st;
  corral_channel_stats_get(ch, &st);
  CHECK_EQ(st.buffered, 0); /* dropped */
  CHECK(st.receive_closed && !st.send_closed);
  corral_channel_free(ch);
  corral_channel_free(rx);
  return 0;
}

TEST(close_receive_fails_senders) { CHECK_RC(run_virtual(m_close_receive, NULL), 0); }

/* Close is an edge: every task blocked then returns the close code, even
 * when the channel is closed otherwise and freed before they run. */
static int m_close_edge(void *a, void **r) {
  (void)a, (void)r;
  corral_channel *ch = open_ch(sizeof(int), 0, "edge");
  slot s[5];
  corral_group g;
  corral_group_open(&g, NULL);
  for (int i = 0; i < 5; i++) {
    s[i] = (slot){ch, 1, 0};
    corral_spawn(&g, do_receive, &s[i], "r", NULL);
  }
  CHECK_RC(corral_yield(), 0);
  corral_channel_stats st;
  corral_channel_stats_get(ch, &st);
  CHECK_EQ(st.receivers_waiting, 5);
  CHECK_RC(corral_channel_close_send(ch), 0);
  CHECK_RC(corral_channel_close_receive(ch), 0); /* too late for them */
  corral_channel_free(ch);                        /* nobody touches it */
  CHECK_RC(corral_group_close(&g, 0), 0);
  for (int i = 0; i < 5; i++) CHECK_RC(s[i].rc, CORRAL_EEOF);
  return 0;
}

TEST(close_wakes_every_waiter_as_an_edge) { CHECK_RC(run_virtual(m_close_edge, NULL), 0); }

/* ---- cancellation never loses nor duplicates ---- */

static int m_cancel(void *a, void **r) {
  (void)a, (void)r;
  corral_channel *ch = open_ch(sizeof(int), 0, "c");
  int v = 42, got = 0;
  /* A receiver cancelled while waiting consumed nothing. */
  slot s = {ch, 1, 0};
  corral_task *t;
  CHECK_RC(corral_create_task(do_receive, &s, "rx", &t), 0);
  CHECK_RC(corral_yield(), 0);
  CHECK_RC(corral_cancel(t, "stop"), 0);
  CHECK_RC(corral_channel_try_send(ch, &v), CORRAL_EAGAIN);
  CHECK_RC(corral_join(t, NULL), 0);
  CHECK_RC(s.rc, CORRAL_ECANCELED);
  CHECK_EQ(s.got, -1);
  corral_task_release(t);
  /* A receiver whose item was handed over before the cancel reached it
   * keeps the item (returns 0). */
  s = (slot){ch, 1, 0};
  CHECK_RC(corral_create_task(do_receive, &s, "rx", &t), 0);
  CHECK_RC(corral_yield(), 0);
  CHECK_RC(corral_channel_try_send(ch, &v), 0);
  CHECK_RC(corral_cancel(t, "too late"), 0);
  CHECK_RC(corral_join(t, NULL), 0);
  CHECK_RC(s.rc, 0);
  CHECK_EQ(s.got, 42);
  corral_task_release(t);
  /* A sender cancelled while waiting keeps its item. */
  s = (slot){ch, 1, 5};
  CHECK_RC(corral_create_task(do_send, &s, "tx", &t), 0);
  CHECK_RC(corral_yield(), 0);
  CHECK_RC(corral_cancel(t, "stop"), 0);
  CHECK_RC(corral_channel_try_receive(ch, &got), CORRAL_EAGAIN);
  CHECK_RC(corral_join(t, NULL), 0);
  CHECK_RC(s.rc, CORRAL_ECANCELED);
  corral_task_release(t);
  /* ...and one whose item was taken first learns it was taken. */
  s = (slot){ch, 1, 6};
  CHECK_RC(corral_create_task(do_send, &s, "tx", &t), 0);
  CHECK_RC(corral_yield(), 0);
  CHECK_RC(corral_channel_try_receive(ch, &got), 0);
  CHECK_EQ(got, 6);
  CHECK_RC(corral_cancel(t, "too late"), 0);
  CHECK_RC(corral_join(t, NULL), 0);
  CHECK_RC(s.rc, 0);
  corral_task_release(t);
  /* In a cancelled scope a ready operation still fails, moving nothing. */
  corral_channel *b = open_ch(sizeof(int), 4, "b");
  CHECK_RC(corral_channel_send(b, &v), 0);
  corral_scope sc;
  CHECK_RC(corral_scope_enter(&sc, NULL), 0);
  corral_scope_cancel(&sc, "x");
  CHECK_RC(corral_channel_receive(b, &got), CORRAL_ECANCELED);
  CHECK_RC(corral_channel_send(b, &v), CORRAL_ECANCELED);
  CHECK_RC(corral_scope_exit(&sc, 0), 0);
  corral_channel_stats st;
  corral_channel_stats_get(b, &st);
  CHECK_EQ(st.buffered, 1);
  corral_channel_free(b);
  corral_channel_free(ch);
  return 0;
}

TEST(cancel_never_loses_an_item) { CHECK_RC(run_virtual(m_cancel, NULL), 0); }

/* The stress test: P producers and C consumers with random per-operation
 * deadlines (some already expired), random sleeps and the shuffled run
 * queue. Every item is either delivered to exactly one consumer (its send
 * returned 0) or kept by its producer (its send failed), never both, never
 * twice. Half the runs go through select over two channels. The chaos
 * runs also cancel whole tasks and close the receiving side mid-stream:
 * then every item sent was received once or dropped with the buffer.
 * 12 seeds each; CORRAL_STRESS_RUNS (make stress) sets more. */
enum { NP = 4, NC = 3, PER = 300 };

typedef struct {
  corral_channel *ch[2];
  int use_select;
  uint64_t seed;
  unsigned char sent[NP * PER];     /* send returned 0 */
  unsigned char received[NP * PER]; /* times received */
  int dup, cancelled_ops;
  int chaos;                        /* cancel whole tasks, close receiving */
  corral_task *ptask[NP], *ctask[NC];
  long dropped;                     /* buffered when receiving was closed */
  int closed_early;
  size_t isize;                     /* 4 or 8 (the word-sized fast paths) */
} stress;

typedef struct {
  stress *st;
  int id;
  uint64_t rng;
} actor;

static uint64_t rnd(uint64_t *s) {
  *s = *s * 6364136223846793005ull + 1442695040888963407ull;
  return *s >> 33;
}

static int64_t rnd_deadline(actor *a) {
  uint64_t x = rnd(&a->rng) % 8;
  return x == 0 ? 0 : (int64_t)(rnd(&a->rng) % 300) * 1000;
}

static int producer(void *arg, void **r) {
  (void)r;
  actor *a = arg;
  stress *st = a->st;
  for (int i = 0; i < PER; i++) {
    int item = a->id * PER + i;
    int64_t wide = item;
    void *p = st->isize == 8 ? (void *)&wide : (void *)&item;
    for (;;) { /* resend until taken: a failed send kept the item */
      corral_scope sc;
      CHECK_RC(corral_move_on_after(&sc, rnd_deadline(a)), 0);
      int rc;
      if (st->use_select) {
        corral_select_clause cl[2] = {{st->ch[0], CORRAL_SELECT_SEND, p},
                                      {st->ch[1], CORRAL_SELECT_SEND, p}};
        size_t fired;
        rc = corral_select(cl, 2, &fired);
        if (rc == CORRAL_ECANCELED) CHECK_EQ(fired, 2);
        else CHECK(fired < 2);
      } else {
        rc = corral_channel_send(st->ch[0], p);
      }
      int ex = corral_scope_exit(&sc, rc == CORRAL_ECANCELED ? rc : 0);
      if (ex == CORRAL_ECANCELED && st->chaos) return ex; /* task cancelled */
      CHECK_RC(ex, 0);
      if (rc == 0) {
        if (st->sent[item]) st->dup++;
        st->sent[item] = 1;
        break;
      }
      if (rc == CORRAL_EPIPE && st->chaos) return 0; /* nobody receives */
      CHECK_RC(rc, CORRAL_ECANCELED);
      st->cancelled_ops++;
      if (rnd(&a->rng) % 4 == 0) break; /* give up: the item stays here */
    }
    if (rnd(&a->rng) % 3 == 0) CORRAL_IGNORE(corral_sleep((int64_t)(rnd(&a->rng) % 50) * 1000));
  }
  return 0;
}

static int consumer(void *arg, void **r) {
  (void)r;
  actor *a = arg;
  stress *st = a->st;
  corral_channel *chs[2] = {st->ch[0], st->use_select ? st->ch[1] : NULL};
  for (;;) {
    int item = -1, rc;
    int64_t wide = -1;
    void *p = st->isize == 8 ? (void *)&wide : (void *)&item;
    corral_scope sc;
    CHECK_RC(corral_move_on_after(&sc, rnd_deadline(a)), 0);
    if (st->use_select) {
      corral_select_clause cl[2] = {{chs[0], CORRAL_SELECT_RECEIVE, p},
                                    {chs[1], CORRAL_SELECT_RECEIVE, p}};
      size_t fired;
      rc = corral_select(cl, 2, &fired);
      if (rc == CORRAL_EEOF) chs[fired] = NULL; /* Go: nil the channel */
      if (!chs[0] && !chs[1]) rc = CORRAL_EEOF;
      else if (rc == CORRAL_EEOF) rc = 1; /* go on with the other */
    } else {
      rc = corral_channel_receive(st->ch[0], p);
    }
    if (st->isize == 8) {
      CHECK(wide >= -1 && wide < NP * PER);
      item = (int)wide;
    }
    int ex = corral_scope_exit(&sc, rc == CORRAL_ECANCELED ? rc : 0);
    if (ex == CORRAL_ECANCELED && st->chaos) return ex; /* task cancelled */
    CHECK_RC(ex, 0);
    if (rc == CORRAL_EEOF) return 0;
    if (rc == CORRAL_ECLOSED && st->chaos) return 0;
    if (rc == 1) continue;
    if (rc == CORRAL_ECANCELED) {
      st->cancelled_ops++;
      CHECK_EQ(item, -1); /* consumed nothing */
      continue;
    }
    CHECK_RC(rc, 0);
    CHECK(item >= 0 && item < NP * PER);
    if (st->received[item]++) st->dup++;
    if (rnd(&a->rng) % 3 == 0) CORRAL_IGNORE(corral_sleep((int64_t)(rnd(&a->rng) % 50) * 1000));
  }
}

static int chaos(void *arg, void **r) {
  (void)r;
  stress *st = arg;
  uint64_t rng = st->seed * 7 + 3;
  CHECK_RC(corral_sleep((int64_t)(rnd(&rng) % 1500) * 1000), 0);
  corral_cancel(st->ptask[rnd(&rng) % NP], "chaos");
  CHECK_RC(corral_sleep((int64_t)(rnd(&rng) % 1500) * 1000), 0);
  corral_cancel(st->ctask[rnd(&rng) % NC], "chaos");
  CHECK_RC(corral_sleep((int64_t)(rnd(&rng) % 6000) * 1000), 0);
  for (int k = 0; k < 2; k++) {
    corral_channel_stats cs;
    if (!st->ch[k]) continue;
    CHECK_RC(corral_channel_stats_get(st->ch[k], &cs), 0);
    if (!cs.send_closed) st->closed_early++;
    st->dropped += (long)cs.buffered;
    CHECK_RC(corral_channel_close_receive(st->ch[k]), 0);
  }
  return 0;
}

static int m_stress(void *arg, void **r) {
  (void)r;
  stress *st = arg;
  actor ps[NP], cs[NC];
  corral_group all, prod;
  CHECK_RC(corral_group_open(&all, NULL), 0);
  for (int i = 0; i < NC; i++) {
    cs[i] = (actor){st, i, st->seed * 31 + (uint64_t)i + 100};
    CHECK_RC(corral_spawn(&all, consumer, &cs[i], "consumer",
                          st->chaos ? &st->ctask[i] : NULL), 0);
  }
  CHECK_RC(corral_group_open(&prod, NULL), 0);
  for (int i = 0; i < NP; i++) {
    ps[i] = (actor){st, i, st->seed * 17 + (uint64_t)i};
    CHECK_RC(corral_spawn(&prod, producer, &ps[i], "producer",
                          st->chaos ? &st->ptask[i] : NULL), 0);
  }
  if (st->chaos) CHECK_RC(corral_spawn(&all, chaos, st, "chaos", NULL), 0);
  CHECK_RC(corral_group_close(&prod, 0), 0);
  corral_channel_close_send(st->ch[0]);
  if (st->ch[1]) corral_channel_close_send(st->ch[1]);
  int rc = corral_group_close(&all, 0);
  for (int i = 0; st->chaos && i < NP; i++) corral_task_release(st->ptask[i]);
  for (int i = 0; st->chaos && i < NC; i++) corral_task_release(st->ctask[i]);
  return rc;
}

typedef struct {
  stress *st;
  size_t cap;
} boot;

static int m_boot(void *arg, void **r) {
  boot *b = arg;
  b->st->ch[0] = open_ch(b->st->isize, b->cap, "a");
  if (b->st->use_select) b->st->ch[1] = open_ch(b->st->isize, b->cap, "b");
  int rc = m_stress(b->st, r);
  corral_channel_free(b->st->ch[0]);
  corral_channel_free(b->st->ch[1]);
  return rc;
}

/* isize 8: the word-sized fast paths, and every other seed in FIFO order
 * (the direct switch of a blocking operation). */
static void stress_all(size_t cap, int use_select, int with_chaos,
                       size_t isize) {
  long total_sent = 0, total_cancels = 0, total_dropped = 0;
  int closed_early = 0;
  const char *e = getenv("CORRAL_STRESS_RUNS"); /* make stress: more seeds */
  long runs = e && atol(e) >= 12 ? atol(e) : 12;
  for (uint64_t seed = 1; seed <= (uint64_t)runs; seed++) {
    static stress st;
    memset(&st, 0, sizeof st);
    st.use_select = use_select;
    st.seed = seed;
    st.chaos = with_chaos;
    st.isize = isize;
    boot b = {&st, cap};
    CHECK_RC(run_seed(m_boot, &b, isize == 8 && seed % 2 ? 0 : seed), 0);
    CHECK_EQ(st.dup, 0);
    long sent = 0, received = 0;
    for (int i = 0; i < NP * PER; i++) {
      if (st.received[i] > st.sent[i] ||
          (!with_chaos && st.received[i] != st.sent[i]))
        FAILF("seed %llu item %d: sent %d, received %d times",
              (unsigned long long)seed, i, st.sent[i], st.received[i]);
      sent += st.sent[i];
      received += st.received[i];
    }
    /* What was sent and not received is exactly what the close dropped. */
    if (sent != received + st.dropped)
      FAILF("seed %llu: sent %ld, received %ld, dropped %ld",
            (unsigned long long)seed, sent, received, st.dropped);
    total_sent += sent;
    total_cancels += st.cancelled_ops;
    total_dropped += st.dropped;
    closed_early += st.closed_early;
  }
  if (getenv("STRESS_VERBOSE"))
    fprintf(stderr, "sent %ld of %d, cancelled operations %ld, dropped %ld, "
            "closed early %d\n", total_sent, (int)runs * NP * PER, total_cancels,
            total_dropped, closed_early);
  /* The test means something only if both outcomes happened a lot. */
  CHECK(total_sent > runs * NP * PER / (with_chaos ? 8 : 2));
  CHECK(total_cancels > (with_chaos ? 100 : 1000));
  if (with_chaos) CHECK(closed_early >= 3);
}

TEST(exactly_once_random_cancel_rendezvous) { stress_all(0, 0, 0, 4); }
TEST(exactly_once_random_cancel_buffered) { stress_all(3, 0, 0, 4); }
TEST(exactly_once_random_cancel_select_rendezvous) { stress_all(0, 1, 0, 4); }
TEST(exactly_once_random_cancel_select_buffered) { stress_all(2, 1, 0, 4); }
TEST(exactly_once_task_cancels_and_close_receive) { stress_all(3, 0, 1, 4); }
TEST(exactly_once_task_cancels_and_close_receive_select) { stress_all(2, 1, 1, 4); }
/* The same with word-sized items: the fast paths of send and receive. */
TEST(exactly_once_word_items_rendezvous) { stress_all(0, 0, 0, 8); }
TEST(exactly_once_word_items_buffered) { stress_all(3, 0, 0, 8); }
TEST(exactly_once_word_items_select_rendezvous) { stress_all(0, 1, 0, 8); }
TEST(exactly_once_word_items_task_cancels_and_close_receive) {
  stress_all(3, 0, 1, 8);
}
TEST(exactly_once_word_items_rendezvous_task_cancels) { stress_all(0, 0, 1, 8); }

/* ---- select ---- */

static int m_select(void *a, void **r) {
  (void)a, (void)r;
  corral_channel *x = open_ch(sizeof(int), 1, "x");
  corral_channel *y = open_ch(sizeof(int), 1, "y");
  int in = 0, out = 5;
  size_t fired = 99;
  corral_select_clause cl[3] = {{x, CORRAL_SELECT_RECEIVE, &in},
                                {NULL, CORRAL_SELECT_RECEIVE, &in},
                                {y, CORRAL_SELECT_SEND, &out}};
  /* Only the send is ready (x empty, y has room). */
  CHECK_RC(corral_select(cl, 3, &fired), 0);
  CHECK_EQ(fired, 2);
  /* Now nothing is ready. */
  CHECK_RC(corral_try_select(cl, 3, &fired), CORRAL_EAGAIN);
  CHECK_EQ(fired, 3);
  /* Fairness: both clauses ready every time; each fires about half. */
  int hits[2] = {0, 0};
  int v = 1;
  corral_select_clause rc2[2] = {{x, CORRAL_SELECT_RECEIVE, &in},
                                 {y, CORRAL_SELECT_RECEIVE, &in}};
  CORRAL_IGNORE(corral_channel_try_receive(y, NULL));
  for (int i = 0; i < 2000; i++) {
    CORRAL_IGNORE(corral_channel_try_send(x, &v));
    CORRAL_IGNORE(corral_channel_try_send(y, &v));
    CHECK_RC(corral_try_select(rc2, 2, &fired), 0);
    hits[fired]++;
    /* Exactly one took effect: the other still holds its item. */
    corral_channel_stats sx, sy;
    corral_channel_stats_get(x, &sx);
    corral_channel_stats_get(y, &sy);
    CHECK_EQ(sx.buffered + sy.buffered, 1);
  }
  if (hits[0] < 850 || hits[1] < 850)
    FAILF("unfair: %d vs %d", hits[0], hits[1]);
  /* A closed channel's clause is ready, with its code. */
  CORRAL_IGNORE(corral_channel_try_receive(x, NULL));
  CORRAL_IGNORE(corral_channel_try_receive(y, NULL));
  corral_channel_close_send(y);
  CHECK_RC(corral_select(rc2, 2, &fired), CORRAL_EEOF);
  CHECK_EQ(fired, 1);
  corral_select_clause snd[1] = {{y, CORRAL_SELECT_SEND, &v}};
  CHECK_RC(corral_select(snd, 1, &fired), CORRAL_ECLOSED);
  CHECK_EQ(fired, 0);
  /* Bad input. */
  CHECK_RC(corral_select(NULL, 1, &fired), CORRAL_EINVAL);
  CHECK_RC(corral_select(rc2, 2, NULL), CORRAL_EINVAL);
  corral_select_clause bad[1] = {{x, 7, &v}};
  CHECK_RC(corral_select(bad, 1, &fired), CORRAL_EINVAL);
  corral_select_clause nullsend[1] = {{x, CORRAL_SELECT_SEND, NULL}};
  CHECK_RC(corral_select(nullsend, 1, &fired), CORRAL_EINVAL);
  /* No channel at all: waits until cancelled. */
  corral_scope sc;
  int64_t t0 = corral_now();
  corral_move_on_after(&sc, CORRAL_MS(5));
  CHECK_RC(corral_select(NULL, 0, &fired), CORRAL_ECANCELED);
  CHECK_EQ(fired, 0);
  CHECK_RC(corral_scope_exit(&sc, CORRAL_ECANCELED), 0);
  CHECK_EQ(corral_now() - t0, CORRAL_MS(5));
  corral_channel_free(x);
  corral_channel_free(y);
  return 0;
}

TEST(select_ready_fair_closed_bad_input) { CHECK_RC(run_virtual(m_select, NULL), 0); }

typedef struct {
  corral_channel *a, *b;
  int rc, got;
  size_t fired;
} selwait;

static int sel_receiver(void *arg, void **r) {
  (void)r;
  selwait *s = arg;
  corral_select_clause cl[2] = {{s->a, CORRAL_SELECT_RECEIVE, &s->got},
                                {s->b, CORRAL_SELECT_RECEIVE, &s->got}};
  s->rc = corral_select(cl, 2, &s->fired);
  return 0;
}

static int m_select_blocked(void *a, void **r) {
  (void)a, (void)r;
  corral_channel *x = open_ch(sizeof(int), 0, "x");
  corral_channel *y = open_ch(sizeof(int), 0, "y");
  selwait s = {x, y, 1, -1, 9};
  corral_group g;
  corral_group_open(&g, NULL);
  corral_spawn(&g, sel_receiver, &s, "sel", NULL);
  CHECK_RC(corral_yield(), 0);
  corral_channel_stats st;
  corral_channel_stats_get(x, &st);
  CHECK_EQ(st.receivers_waiting, 1);
  int v = 11;
  CHECK_RC(corral_channel_try_send(y, &v), 0); /* completes clause 1 */
  /* Its clause on x is dead: a sender on x finds nobody. */
  CHECK_RC(corral_channel_try_send(x, &v), CORRAL_EAGAIN);
  CHECK_RC(corral_channel_try_send(y, &v), CORRAL_EAGAIN);
  CHECK_RC(corral_group_close(&g, 0), 0);
  CHECK_RC(s.rc, 0);
  CHECK_EQ(s.fired, 1);
  CHECK_EQ(s.got, 11);
  /* A close completes a blocked select with the close code. */
  s = (selwait){x, y, 1, -1, 9};
  corral_group_open(&g, NULL);
  corral_spawn(&g, sel_receiver, &s, "sel", NULL);
  CHECK_RC(corral_yield(), 0);
  corral_channel_close_send(x);
  CHECK_RC(corral_group_close(&g, 0), 0);
  CHECK_RC(s.rc, CORRAL_EEOF);
  CHECK_EQ(s.fired, 0);
  /* Send and receive clauses on the same rendezvous channel never match
   * each other: the select waits for a partner. */
  corral_channel *z = open_ch(sizeof(int), 0, "z");
  int in = -1, outv = 3;
  corral_select_clause cl[2] = {{z, CORRAL_SELECT_SEND, &outv},
                                {z, CORRAL_SELECT_RECEIVE, &in}};
  size_t fired;
  CHECK_RC(corral_try_select(cl, 2, &fired), CORRAL_EAGAIN);
  slot rx = {z, 1, 0};
  corral_group_open(&g, NULL);
  corral_spawn(&g, do_receive, &rx, "rx", NULL);
  CHECK_RC(corral_select(cl, 2, &fired), 0);
  CHECK_EQ(fired, 0);
  CHECK_RC(corral_group_close(&g, 0), 0);
  CHECK_EQ(rx.got, 3);
  CHECK_EQ(in, -1);
  /* More clauses than fit on the stack. */
  corral_select_clause many[20];
  for (int i = 0; i < 20; i++)
    many[i] = (corral_select_clause){i == 13 ? y : z, CORRAL_SELECT_RECEIVE, &in};
  slot tx = {y, 1, 77};
  corral_group_open(&g, NULL);
  corral_spawn(&g, do_send, &tx, "tx", NULL);
  CHECK_RC(corral_select(many, 20, &fired), 0);
  CHECK_EQ(fired, 13);
  CHECK_EQ(in, 77);
  CHECK_RC(corral_group_close(&g, 0), 0);
  corral_channel_free(x);
  corral_channel_free(y);
  corral_channel_free(z);
  return 0;
}

TEST(select_blocked_exactly_one_clause) { CHECK_RC(run_virtual(m_select_blocked, NULL), 0); }

/* ---- deadlock report ---- */

static int stuck_receiver(void *a, void **r) {
  (void)r;
  int v;
  return corral_channel_receive(a, &v);
}

static corral_channel *sel_chs[2];

static int stuck_select(void *a, void **r) {
  (void)a, (void)r;
  int in, out = 1;
  size_t fired;
  corral_select_clause cl[3] = {{sel_chs[0], CORRAL_SELECT_RECEIVE, &in},
                                {NULL, CORRAL_SELECT_RECEIVE, &in},
                                {sel_chs[1], CORRAL_SELECT_SEND, &out}};
  return corral_select(cl, 3, &fired);
}

static int m_deadlock(void *a, void **r) {
  (void)a, (void)r;
  corral_channel *ch = open_ch(sizeof(int), 4, "jobs");
  sel_chs[0] = open_ch(sizeof(int), 0, "events");
  sel_chs[1] = open_ch(sizeof(int), 0, "replies");
  corral_group g;
  corral_group_open(&g, &(corral_group_opts){.policy = CORRAL_COLLECT});
  corral_spawn(&g, stuck_receiver, ch, "worker", NULL);
  corral_spawn(&g, stuck_select, NULL, "router", NULL);
  int rc = corral_group_close(&g, 0);
  corral_channel_free(ch);
  corral_channel_free(sel_chs[0]);
  corral_channel_free(sel_chs[1]);
  return rc;
}

TEST(deadlock_report_names_the_channel) {
  char *out;
  CHECK_RC(run_report(m_deadlock, NULL, 0, &out), CORRAL_EDEADLK);
  if (!strstr(out, "task 'worker' [blocked] waits on channel receive 'jobs' "
                   "(0/4 buffered, 0 sender(s) and 1 receiver(s) waiting)") ||
      !strstr(out, "task 'router' [blocked] waits on channel select of [0] "
                   "receive from 'events' (0/0 buffered, 0 sender(s) and 1 "
                   "receiver(s) waiting), [2] send to 'replies' (0/0 "
                   "buffered, 1 sender(s) and 0 receiver(s) waiting)"))
    FAILF("report was:\n%s", out);
  free(out);
}

/* ---- compact tasks, bad input, foreign runtime ---- */

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

static int compact_body(void *a, void **r) {
  (void)r;
  if (!compact_ok()) return 0;
  corral_channel *ch = a;
  int v = 1;
  CHECK_RC(corral_channel_send(ch, &v), CORRAL_EINVAL);
  CHECK_RC(corral_channel_receive(ch, &v), CORRAL_EINVAL);
  CHECK_RC(corral_channel_try_send(ch, &v), 0);
  CHECK_RC(corral_channel_try_receive(ch, &v), 0);
  return 0;
}

static int m_bad(void *a, void **r) {
  (void)a, (void)r;
  corral_channel *ch = NULL;
  CHECK_RC(corral_channel_open(NULL, 4, 1, NULL), CORRAL_EINVAL);
  CHECK_RC(corral_channel_open(&ch, 0, 1, NULL), CORRAL_EINVAL);
  CHECK_RC(corral_channel_open(&ch, SIZE_MAX / 2, 4, NULL), CORRAL_EINVAL);
  CHECK(ch == NULL);
  int v = 0;
  CHECK_RC(corral_channel_send(NULL, &v), CORRAL_EINVAL);
  CHECK_RC(corral_channel_receive(NULL, &v), CORRAL_EINVAL);
  CHECK_RC(corral_channel_try_send(NULL, &v), CORRAL_EINVAL);
  CHECK_RC(corral_channel_close_send(NULL), CORRAL_EINVAL);
  CHECK_RC(corral_channel_stats_get(NULL, NULL), CORRAL_EINVAL);
  ch = open_ch(sizeof v, 1, NULL);
  CHECK_RC(corral_channel_send(ch, NULL), CORRAL_EINVAL);
  corral_spawn_opts o = {.name = "compact", .compact = 1};
  corral_task *t;
  CHECK_RC(corral_spawn_ex(NULL, compact_body, ch, &o, &t), 0);
  CHECK_RC(corral_join(t, NULL), 0);
  corral_task_release(t);
  corral_channel_free(ch);
  return 0;
}

TEST(bad_input_and_compact_tasks) {
  corral_channel *ch = NULL;
  int v = 0;
  CHECK_RC(corral_channel_open(&ch, 4, 1, NULL), CORRAL_ENOTASK);
  CHECK_RC(corral_channel_try_send(ch, &v), CORRAL_ENOTASK);
  size_t fired;
  CHECK_RC(corral_select(NULL, 0, &fired), CORRAL_ENOTASK);
  CHECK_RC(run_virtual(m_bad, NULL), 0);
}

static corral_channel *foreign_ch;
static sem_t foreign_ready, foreign_done;

static int m_thread_owner(void *a, void **r) {
  (void)a, (void)r;
  foreign_ch = open_ch(sizeof(int), 1, "theirs");
  sem_post(&foreign_ready);
  while (sem_wait(&foreign_done) != 0) {
  }
  corral_channel_free(foreign_ch);
  return 0;
}

static void *thread_main(void *a) {
  (void)a;
  CHECK_RC(corral_run(NULL, m_thread_owner, NULL, NULL), 0);
  return NULL;
}

static int m_foreign(void *a, void **r) {
  (void)a, (void)r;
  int v = 1;
  size_t fired;
  CHECK_RC(corral_channel_send(foreign_ch, &v), CORRAL_EFOREIGN);
  CHECK_RC(corral_channel_try_receive(foreign_ch, &v), CORRAL_EFOREIGN);
  CHECK_RC(corral_channel_close_send(foreign_ch), CORRAL_EFOREIGN);
  corral_select_clause cl[1] = {{foreign_ch, CORRAL_SELECT_SEND, &v}};
  CHECK_RC(corral_select(cl, 1, &fired), CORRAL_EFOREIGN);
  return 0;
}

TEST(foreign_runtime_refused) {
  sem_init(&foreign_ready, 0, 0);
  sem_init(&foreign_done, 0, 0);
  pthread_t th;
  CHECK(pthread_create(&th, NULL, thread_main, NULL) == 0);
  while (sem_wait(&foreign_ready) != 0) {
  }
  CHECK_RC(run_virtual(m_foreign, NULL), 0);
  sem_post(&foreign_done);
  pthread_join(th, NULL);
}

/* A channel freed twice, or one of another runtime freed here, is refused
 * and reported, never read after its free (AddressSanitizer would see the
 * second free read the freed magic). */
static corral_channel *other_rt_ch;

static int m_open_other(void *a, void **r) {
  (void)a, (void)r;
  other_rt_ch = open_ch(sizeof(int), 1, "other");
  return 0;
}

static int m_double_free(void *a, void **r) {
  (void)a, (void)r;
  corral_channel *ch = open_ch(sizeof(int), 1, "twice");
  int v = 7;
  CHECK_RC(corral_channel_send(ch, &v), 0);
  corral_channel_free(ch);
  corral_channel_free(ch); /* refused: not live any more */
  corral_channel *again = open_ch(sizeof(int), 1, "after");
  CHECK_RC(corral_channel_send(again, &v), 0);
  corral_channel_free(again);
  corral_channel_free(other_rt_ch); /* another runtime's: refused here */
  return 0;
}

TEST(channel_freed_twice_is_refused) {
  CHECK_RC(run_seed(m_open_other, NULL, 0), 0);
  char *rep = NULL;
  CHECK_RC(run_report(m_double_free, NULL, 0, &rep), 0);
  CHECK(rep && strstr(rep, "not a live channel of this runtime") != NULL);
  CHECK(strstr(strstr(rep, "not a live channel") + 1, "not a live channel") != NULL);
  free(rep);
  corral_channel_free(other_rt_ch); /* outside any runtime: freed */
}

/* Word-sized items (the fast paths): a receiver parked on the channel is
 * handed an item, and before it runs its sender cancels it, closes the
 * channel's receive side or frees the channel: the receive returns 0 with
 * the item (it was delivered), never CORRAL_ECANCELED or CORRAL_ECLOSED. */
typedef struct {
  corral_channel *ch;
  uint64_t got;
  int rc;
} handed;
static int handed_receiver(void *a, void **r) {
  (void)r;
  handed *h = a;
  h->rc = corral_channel_receive(h->ch, &h->got);
  return 0;
}
static void until_parked(corral_channel *ch) {
  corral_channel_stats st = {0};
  for (int i = 0; i < 100 && !st.receivers_waiting; i++) {
    CHECK_RC(corral_yield(), 0);
    CHECK_RC(corral_channel_stats_get(ch, &st), 0);
  }
  CHECK_EQ(st.receivers_waiting, 1);
}
static int m_handed_then_disturbed(void *a, void **r) {
  (void)a, (void)r;
  for (int what = 0; what < 4; what++) {
    handed h = {open_ch(8, what & 1, "handed"), 0, 99};
    corral_task *t;
    CHECK_RC(corral_spawn(NULL, handed_receiver, &h, "receiver", &t), 0);
    until_parked(h.ch); /* it parks (fast path) */
    uint64_t v = 0x1234567890abcdefull;
    CHECK_RC(corral_channel_try_send(h.ch, &v), 0); /* handed over */
    switch (what) {
    case 0: CHECK_RC(corral_cancel(t, "after the hand-over"), 0); break;
    case 1: CHECK_RC(corral_channel_close_receive(h.ch), 0); break;
    case 2: CHECK_RC(corral_channel_close_send(h.ch), 0); break;
    default: break;
    }
    corral_channel_free(h.ch);
    CHECK_RC(corral_join(t, NULL), 0);
    corral_task_release(t);
    CHECK_RC(h.rc, 0);
    CHECK_EQ(h.got, v);
  }
  /* the same with a blocking send as the hand-over (its fast path) */
  for (int seed = 0; seed < 4; seed++) {
    handed h = {open_ch(8, 0, "handed"), 0, 99};
    corral_task *t;
    CHECK_RC(corral_spawn(NULL, handed_receiver, &h, "receiver", &t), 0);
    until_parked(h.ch);
    uint64_t v = 42 + (uint64_t)seed;
    CHECK_RC(corral_channel_send(h.ch, &v), 0);
    if (seed & 1) CHECK_RC(corral_cancel(t, "after the hand-over"), 0);
    corral_channel_free(h.ch);
    CHECK_RC(corral_join(t, NULL), 0);
    corral_task_release(t);
    CHECK_RC(h.rc, 0);
    CHECK_EQ(h.got, v);
  }
  return 0;
}
TEST(word_item_handed_over_then_cancelled_closed_or_freed) {
  for (uint64_t seed = 0; seed < 3; seed++)
    CHECK_RC(run_seed(m_handed_then_disturbed, NULL, seed), 0);
}
