/* A producer/consumer pipeline on a bounded channel: 3 producers make 4
 * items each (one every 100 ms), 2 consumers take 250 ms per item, the
 * channel buffers 4 items, so producers wait for room (backpressure).
 * When every producer is done the sending side is closed; the consumers
 * drain the buffer and see the end of the stream.
 *   --fail   consumer-2 fails on its third item: the task group cancels
 *            everything else, and the story says what was left where.
 * Exits 0 when the pipeline behaved as intended: every item sent was
 * consumed exactly once, or (with --fail) was consumed or is still in the
 * buffer, and the failure was reported. */
#include "common.h"

enum { PRODUCERS = 3, CONSUMERS = 2, ITEMS = 4, BUFFER = 4 };

typedef struct {
  int producer, seq;
} item;

typedef struct {
  corral_channel *jobs;
  int fail;
  int sent, consumed;
  unsigned char seen[PRODUCERS + 1][ITEMS + 1];
  int duplicates;
} pipeline;

typedef struct {
  pipeline *p;
  int id;
} worker;

static int producer(void *arg, void **result) {
  (void)result;
  worker *w = arg;
  for (int k = 1; k <= ITEMS; k++) {
    int rc = corral_sleep(CORRAL_MS(100));
    if (rc) return rc;
    item it = {w->id, k};
    int64_t t = corral_now();
    rc = corral_channel_send(w->p->jobs, &it);
    if (rc == CORRAL_ECANCELED) {
      printf("%5.2fs  producer-%d  stopped; item %d.%d was not sent\n",
             ex_elapsed(), w->id, w->id, k);
      return rc;
    }
    if (rc) return rc;
    w->p->sent++;
    double waited = (double)(corral_now() - t) / 1e9;
    if (waited > 0)
      printf("%5.2fs  producer-%d  sent %d.%d (waited %.2fs for room)\n",
             ex_elapsed(), w->id, w->id, k, waited);
    else
      printf("%5.2fs  producer-%d  sent %d.%d\n", ex_elapsed(), w->id, w->id,
             k);
  }
  return 0;
}

static int consumer(void *arg, void **result) {
  (void)result;
  worker *w = arg;
  pipeline *p = w->p;
  int n = 0;
  for (;;) {
    item it;
    int rc = corral_channel_receive(p->jobs, &it);
    if (rc == CORRAL_EEOF) {
      printf("%5.2fs  consumer-%d  end of stream after %d items\n",
             ex_elapsed(), w->id, n);
      return 0;
    }
    if (rc == CORRAL_ECANCELED) {
      printf("%5.2fs  consumer-%d  stopped after %d items\n", ex_elapsed(),
             w->id, n);
      return rc;
    }
    if (rc) return rc;
    n++;
    p->consumed++;
    if (p->seen[it.producer][it.seq]++) p->duplicates++;
    printf("%5.2fs  consumer-%d  got %d.%d\n", ex_elapsed(), w->id,
           it.producer, it.seq);
    if (p->fail && w->id == 2 && n == 3) {
      printf("%5.2fs  consumer-%d  fails on %d.%d\n", ex_elapsed(), w->id,
             it.producer, it.seq);
      return corral_errorf(CORRAL_EIO, "consumer-2 could not store item %d.%d",
                           it.producer, it.seq);
    }
    rc = corral_sleep(CORRAL_MS(250)); /* the work */
    if (rc == CORRAL_ECANCELED) {
      printf("%5.2fs  consumer-%d  stopped while working, after %d items\n",
             ex_elapsed(), w->id, n);
      return rc;
    }
    if (rc) return rc;
  }
}

static int body(void *arg, void **result) {
  (void)arg, (void)result;
  pipeline p;
  memset(&p, 0, sizeof p);
  p.fail = ex_flag("--fail");
  int rc = corral_channel_open(&p.jobs, sizeof(item), BUFFER, "jobs");
  if (rc) return rc;
  ex_start();

  worker cw[CONSUMERS], pw[PRODUCERS];
  corral_group all, producers;
  corral_group_open(&all, &(corral_group_opts){.name = "pipeline"});
  for (int i = 0; i < CONSUMERS; i++) {
    cw[i] = (worker){&p, i + 1};
    corral_spawn(&all, consumer, &cw[i], "consumer", NULL);
  }
  corral_group_open(&producers, &(corral_group_opts){.name = "producers"});
  for (int i = 0; i < PRODUCERS; i++) {
    pw[i] = (worker){&p, i + 1};
    corral_spawn(&producers, producer, &pw[i], "producer", NULL);
  }
  rc = corral_group_close(&producers, 0);
  if (rc == 0) {
    printf("%5.2fs  all producers done: closing the sending side\n",
           ex_elapsed());
    corral_channel_close_send(p.jobs);
  }
  /* A cancellation of the producers came from the pipeline's own failure:
   * the pipeline group reports it. */
  rc = corral_group_close(&all, rc == CORRAL_ECANCELED ? 0 : rc);

  corral_channel_stats st;
  corral_channel_stats_get(p.jobs, &st);
  int ok;
  if (!p.fail) {
    printf("pipeline done at %.2fs: %d items sent, %d consumed, %s\n",
           ex_elapsed(), p.sent, p.consumed,
           p.duplicates ? "SOME TWICE" : "each exactly once");
    ok = rc == 0 && p.sent == PRODUCERS * ITEMS && p.consumed == p.sent &&
         !p.duplicates;
  } else {
    const corral_error *e = corral_last_error();
    const corral_error *first = e && corral_error_count(e) ? corral_error_child(e, 0) : e;
    printf("pipeline stopped at %.2fs: %s (%s)\n", ex_elapsed(),
           first ? corral_error_message(first) : "?",
           first ? corral_err_name(corral_error_code(first)) : "?");
    printf("%d items sent: %d consumed, %zu left in the buffer%s\n", p.sent,
           p.consumed, st.buffered, p.duplicates ? ", SOME TWICE" : "");
    ok = rc == CORRAL_EGROUP && first &&
         corral_error_code(first) == CORRAL_EIO &&
         p.sent == p.consumed + (int)st.buffered && !p.duplicates;
  }
  corral_channel_free(p.jobs);
  return ok ? 0 : corral_errorf(CORRAL_EIO, "the pipeline misbehaved");
}

int main(int argc, char **argv) { return ex_main(argc, argv, body); }
