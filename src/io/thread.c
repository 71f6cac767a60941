/* Worker-thread offload (corral_to_thread) on the runtime's own pool.
 *
 * Why not libuv's pool: it is shared with file requests and name lookups
 * and has a fixed size (UV_THREADPOOL_SIZE, 4 by default, read once per
 * process), so a few long blocking calls would hold every file request and
 * DNS lookup of every runtime in the process. Offloaded calls get their own
 * threads, per runtime, started on demand up to
 * corral_options.offload_threads.
 *
 * The pool: a FIFO of jobs under a mutex and condition variable; finished
 * jobs go to a done list and uv_async_send wakes the loop, whose callback
 * wakes each waiting task. A worker that finishes a job polls the queue for
 * a moment before it sleeps, so a task offloading call after call does not
 * pay a thread wake-up each time (on a virtual machine, waking a thread
 * whose CPU went idle costs tens of microseconds). Both sides poll politely
 * (spin_until): a few pause instructions first, then sched_yield between
 * looks, so on a loaded machine the thread being waited for can run on the
 * poller's CPU instead of waiting for the poller's time slice to end (with
 * pause instructions alone, a no-op round trip cost 40-100 us under load).
 * The async handle keeps the loop alive only while jobs are outstanding, so
 * the deadlock check still works.
 *
 * A job is heap memory shared by the task and a worker; it is freed by the
 * task (normal end, cancelled while queued), by the loop callback
 * (abandoned: after its cleanup), or by the worker (detached at the
 * runtime's end). The pool itself is reference counted by the runtime and
 * each worker, because a worker still running a detached job outlives the
 * runtime. */
#include "io/io.h"
#include "ground/fault.h"
#include "io/threads.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#define cpu_relax() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define cpu_relax() __asm__ __volatile__("yield")
#else
#define cpu_relax() ((void)0)
#endif

/* How long an idle worker polls the queue before it sleeps. */
#define POOL_SPIN_NS 50000
/* How long a caller with nothing else to run polls for its call to finish
 * before it parks: a short call then costs no wake-up of the loop. */
#define CALLER_SPIN_NS 20000
/* Looks, 4 pause instructions apart, before the poller starts yielding:
 * a pause costs ~25 ns on recent x86-64 (it was ~140 cycles since
 * Skylake), so this is well under a microsecond. A longer pure spin is
 * what hurts on a loaded machine: when the other thread waits for this
 * CPU, every spin delays the answer it waits for (with 512 pauses a no-op
 * call never came back in under 12 us there). */
#define SPIN_PAUSE_ROUNDS 4

static int64_t mono_ns(void) { return (int64_t)uv_hrtime(); }

/* Poll until ready(arg) or `ns` passed; returns the last ready(). */
static bool spin_until(bool (*ready)(void *), void *arg, int64_t ns) {
  for (int i = 0; i < SPIN_PAUSE_ROUNDS; i++) {
    if (ready(arg)) return true;
    for (int k = 0; k < 4; k++) cpu_relax();
  }
  int64_t until = mono_ns() + ns;
  for (;;) {
    if (ready(arg)) return true;
    if (mono_ns() >= until) return false;
    sched_yield();
  }
}

enum { J_QUEUED = 1, J_RUNNING, J_DONE };

typedef struct job {
  corral__list node;         /* pool->queue or pool->done (under mu) */
  corral__list anode;        /* pool->abandoned (runtime thread) */
  int (*fn)(void *, void **);
  void *arg;
  void *result;
  int code;
  _Atomic int state;         /* J_* (written under mu; a spinning caller
                                reads it without) */
  int caller_spins;          /* under mu: the caller polls `state` itself,
                                so a finished job skips the done list */
  int abandoned;             /* runtime thread: nobody waits */
  int detached;              /* under mu: the runtime is gone */
  int returned;              /* runtime thread: on_async gave it back */
  int withdrawn;             /* runtime thread: taken off the queue by a
                                cancellation; fn never runs */
  corral_task *task;         /* the waiting task */
  corral_thread_cleanup_fn cleanup;
  corral__wait w;            /* the task's wait record (not on its stack:
                                compact tasks may offload) */
  int64_t started;           /* corral__now at the call */
  char name[CORRAL_NAME_MAX];
} job;

typedef struct worker {
  struct corral__pool *pool;
  pthread_t tid;
  job *current;              /* under mu */
  pthread_cond_t cv;         /* it sleeps on its own: wakes are exact */
  struct worker *next_sleeper; /* under mu */
  int woken;                 /* under mu */
} worker;

typedef struct corral__pool corral__pool;
struct corral__pool {
  pthread_mutex_t mu;
  corral__list queue, done;  /* under mu */
  size_t nthreads;           /* under mu */
  worker *sleepers;          /* under mu: a stack */
  atomic_size_t nqueued;     /* polled by spinning workers */
  int shutdown;              /* under mu */
  int refs;                  /* under mu: the runtime + each worker */
  size_t max;
  worker *workers;           /* max slots, nthreads used */
  /* Runtime thread only. */
  corral__rt *rt;
  uv_async_t async;
  int async_refd;
  size_t outstanding;        /* submitted jobs not yet given back */
  corral__list abandoned;
};

static void pool_free(corral__pool *p) {
  pthread_mutex_destroy(&p->mu);
  for (size_t i = 0; i < p->nthreads; i++) pthread_cond_destroy(&p->workers[i].cv);
  free(p->workers);
  free(p);
}

static bool queue_nonempty(void *arg) {
  corral__pool *p = arg;
  return atomic_load_explicit(&p->nqueued, memory_order_relaxed) != 0;
}

/* Wait for a job (under mu on entry and exit); NULL at shutdown. */
static job *next_job(corral__pool *p, worker *me) {
  for (;;) {
    corral__list *n = corral__list_head(&p->queue);
    if (n) {
      corral__list_remove(n);
      atomic_fetch_sub_explicit(&p->nqueued, 1, memory_order_relaxed);
      return corral__container_of(n, job, node);
    }
    if (p->shutdown) return NULL;
    /* Poll a moment before sleeping (see the top of the file). */
    pthread_mutex_unlock(&p->mu);
    bool seen = spin_until(queue_nonempty, p, POOL_SPIN_NS);
    pthread_mutex_lock(&p->mu);
    if (seen || !corral__list_empty(&p->queue) || p->shutdown) continue;
    me->woken = 0;
    me->next_sleeper = p->sleepers;
    p->sleepers = me;
    while (!me->woken) pthread_cond_wait(&me->cv, &p->mu);
  }
}

static void *worker_main(void *arg) {
  worker *me = arg;
  corral__pool *p = me->pool;
  pthread_mutex_lock(&p->mu);
  job *j;
  while ((j = next_job(p, me)) != NULL) {
    j->state = J_RUNNING;
    me->current = j;
    pthread_mutex_unlock(&p->mu);
    void *result = NULL;
    int code = j->fn(j->arg, &result);
    pthread_mutex_lock(&p->mu);
    me->current = NULL;
    j->code = code;
    j->result = result;
    int spins = j->caller_spins; /* stable under mu; j may go once DONE */
    atomic_store_explicit(&j->state, J_DONE, memory_order_release);
    if (spins) continue; /* the caller takes the job straight back */
    if (j->detached) { /* the runtime is gone: finish the job here */
      pthread_mutex_unlock(&p->mu);
      if (j->cleanup) j->cleanup(j->arg, code, result);
      free(j);
      pthread_mutex_lock(&p->mu);
      continue;
    }
    corral__list_insert_tail(&p->done, &j->node);
    /* Under mu: the runtime closes the handle only after taking mu with
     * shutdown set, so no send is ever in flight on a closed handle. */
    uv_async_send(&p->async);
  }
  int last = --p->refs == 0;
  pthread_mutex_unlock(&p->mu);
  if (last) pool_free(p);
  return NULL;
}

/* A job is back in the runtime's hands: the loop need not stay alive for
 * it any more. */
static void given_back(corral__pool *p) {
  if (--p->outstanding == 0 && p->async_refd) {
    uv_unref((uv_handle_t *)&p->async);
    p->async_refd = 0;
  }
}

/* The loop side: give finished jobs back. */
static void on_async(uv_async_t *h) {
  corral__pool *p = h->data;
  corral__list done;
  corral__list_init(&done);
  pthread_mutex_lock(&p->mu);
  if (!corral__list_empty(&p->done)) { /* splice */
    done.next = p->done.next;
    done.prev = p->done.prev;
    done.next->prev = &done;
    done.prev->next = &done;
    corral__list_init(&p->done);
  }
  pthread_mutex_unlock(&p->mu);
  corral__list *n;
  while ((n = corral__list_head(&done)) != NULL) {
    corral__list_remove(n);
    job *j = corral__container_of(n, job, node);
    given_back(p);
    j->returned = 1;
    if (j->abandoned) {
      corral__list_remove(&j->anode);
      if (j->cleanup) j->cleanup(j->arg, j->code, j->result);
      free(j);
    } else {
      corral__wake(j->task, 0);
    }
  }
}

static corral__pool *pool_get(corral__rt *rt, int *rc) {
  corral__pool *p = rt->threads.pool;
  if (p) return p;
  p = calloc(1, sizeof *p);
  size_t max = rt->threads.pool_size ? rt->threads.pool_size : 8;
  worker *ws = p ? calloc(max, sizeof *ws) : NULL;
  if (!p || !ws) {
    free(p);
    free(ws);
    *rc = CORRAL_ENOMEM;
    return NULL;
  }
  p->workers = ws;
  p->max = max;
  p->refs = 1;
  p->rt = rt;
  corral__list_init(&p->queue);
  corral__list_init(&p->done);
  corral__list_init(&p->abandoned);
  atomic_init(&p->nqueued, 0);
  pthread_mutex_init(&p->mu, NULL);
  *rc = CORRAL__UV("offload_async_init", ENOMEM, uv_async_init(rt->loop, &p->async, on_async));
  if (*rc) {
    pool_free(p);
    return NULL;
  }
  p->async.data = p;
  uv_unref((uv_handle_t *)&p->async);
  rt->threads.pool = p;
  return p;
}

/* Queue j; wake or start a worker. */
static int pool_submit(corral__pool *p, job *j) {
  int rc = 0;
  worker *wake = NULL;
  pthread_mutex_lock(&p->mu);
  corral__list_insert_tail(&p->queue, &j->node);
  j->state = J_QUEUED;
  atomic_fetch_add_explicit(&p->nqueued, 1, memory_order_relaxed);
  if (p->sleepers) {
    wake = p->sleepers;
    p->sleepers = wake->next_sleeper;
    wake->woken = 1;
  } else if (p->nthreads < p->max) {
    /* Idle (polling) workers take queued jobs; a new thread only when
     * the queue holds more jobs than there are idle workers. */
    size_t busy = 0;
    for (size_t i = 0; i < p->nthreads; i++) busy += p->workers[i].current != NULL;
    size_t queued = atomic_load_explicit(&p->nqueued, memory_order_relaxed);
    if (queued > p->nthreads - busy) {
      worker *w = &p->workers[p->nthreads];
      w->pool = p;
      pthread_cond_init(&w->cv, NULL);
      /* Signals are for the program's threads: a worker inherits a mask
       * that blocks them all, so no handler (SIGCHLD, the program's own)
       * runs on a worker in the middle of an offloaded call. The signals
       * a fault raises stay open: blocked, the kernel would reset their
       * handler and kill the process instead of running the program's
       * crash handler. */
      sigset_t all, old;
      sigfillset(&all);
      static const int faults[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS};
      for (size_t f = 0; f < sizeof faults / sizeof *faults; f++) sigdelset(&all, faults[f]);
      pthread_sigmask(SIG_SETMASK, &all, &old);
      /* A further worker has a fallback: the job waits for a busy one. */
      int made = CORRAL__ERR(p->nthreads ? "offload_thread_more" : "offload_thread", EAGAIN,
                             pthread_create(&w->tid, NULL, worker_main, w));
      pthread_sigmask(SIG_SETMASK, &old, NULL);
      if (made == 0) {
        p->nthreads++;
        p->refs++;
      } else {
        pthread_cond_destroy(&w->cv);
        if (p->nthreads == 0) { /* nobody will ever run it */
          corral__list_remove(&j->node);
          atomic_fetch_sub_explicit(&p->nqueued, 1, memory_order_relaxed);
          rc = CORRAL_EAGAIN;
        }
      }
    }
  }
  pthread_mutex_unlock(&p->mu);
  /* Signalled after the unlock: the woken worker does not go back to sleep
   * on the mutex we hold (its `woken` flag was set under it, and its
   * condition variable lives as long as the pool, which the runtime holds). */
  if (wake) pthread_cond_signal(&wake->cv);
  if (rc == 0) {
    p->outstanding++;
    if (!p->async_refd) {
      uv_ref((uv_handle_t *)&p->async);
      p->async_refd = 1;
    }
  }
  return rc;
}

int corral__pool_has_room(corral__rt *rt) {
  corral__pool *p = rt->threads.pool;
  if (!p) return 1; /* the first call starts a worker */
  pthread_mutex_lock(&p->mu);
  size_t busy = 0;
  for (size_t i = 0; i < p->nthreads; i++) busy += p->workers[i].current != NULL;
  size_t queued = atomic_load_explicit(&p->nqueued, memory_order_relaxed);
  int room = p->nthreads < p->max || busy + queued < p->nthreads;
  pthread_mutex_unlock(&p->mu);
  return room;
}

/* Cancellation reached the waiting task: withdraw a queued job. */
static corral_abort_result job_abort(corral_task *t, void *arg) {
  (void)t;
  job *j = arg;
  corral__pool *p = t->rt->threads.pool;
  int withdrawn = 0;
  pthread_mutex_lock(&p->mu);
  if (j->state == J_QUEUED) {
    corral__list_remove(&j->node);
    atomic_fetch_sub_explicit(&p->nqueued, 1, memory_order_relaxed);
    withdrawn = 1;
  }
  pthread_mutex_unlock(&p->mu);
  if (!withdrawn) return CORRAL_ABORT_FAILED; /* running: wait for it */
  j->withdrawn = 1;
  given_back(p);
  return CORRAL_ABORT_SUCCEEDED;
}

static bool job_done(void *arg) {
  job *j = arg;
  return atomic_load_explicit(&j->state, memory_order_acquire) == J_DONE;
}

int corral_to_thread(int (*fn)(void *, void **), void *arg, void **result,
                     const corral_thread_opts *opts) {
  corral_task *self = corral__self();
  if (result) *result = NULL;
  if (!self) return CORRAL_ENOTASK;
  if (!fn) return CORRAL_EINVAL;
  if (corral__checkpoint_scope(self->rt, self))
    return corral__fail(self, CORRAL_ECANCELED);
  corral__rt *rt = self->rt;
  int rc = 0;
  corral__pool *p = pool_get(rt, &rc);
  if (!p) return rc;
  job *j = calloc(1, sizeof *j);
  if (!j) return CORRAL_ENOMEM;
  j->fn = fn;
  j->arg = arg;
  j->task = self;
  j->started = corral__now(rt);
  corral__list_init(&j->anode);
  const char *name = opts && opts->name ? opts->name : "to_thread";
  snprintf(j->name, sizeof j->name, "%s", name);
  j->cleanup = opts ? opts->cleanup : NULL;
  j->w = (corral__wait){.abort = job_abort, .arg = j, .what = j->name};
  int64_t deadline = CORRAL_FOREVER; /* option field: 0 = not set */
  if (opts && opts->abandon_after_ns < 0) { /* already expired: never runs */
    free(j);
    return CORRAL_ETIMEDOUT;
  }
  if (opts && opts->abandon_after_ns > 0 && opts->abandon_after_ns != CORRAL_FOREVER)
    deadline = corral__deadline_after(rt, opts->abandon_after_ns);
  /* Nothing else to run: poll for a short call (see CALLER_SPIN_NS). */
  j->caller_spins = !rt->sched.rq_head;
  rc = pool_submit(p, j);
  if (rc) {
    free(j);
    return rc;
  }
  if (j->caller_spins) {
    bool done = spin_until(job_done, j, CALLER_SPIN_NS);
    if (!done) {
      pthread_mutex_lock(&p->mu);
      done = j->state == J_DONE;
      j->caller_spins = 0; /* from now on the worker reports through the loop */
      pthread_mutex_unlock(&p->mu);
    }
    if (done) {
      given_back(p);
      rc = j->code;
      if (result) *result = j->result;
      free(j);
      return rc;
    }
  }
  /* Decide by the job's state, never by the wake code alone: park can
   * also return without having parked (a checkpoint inside it may see a
   * cancellation first), and then the job is still queued or running. */
  const corral__wait *w = &j->w;
  for (;;) {
    rc = corral__park(self, CORRAL__W_OFFLOAD, w, deadline);
    if (j->withdrawn) { /* job_abort took it off the queue: never ran */
      free(j);
      return rc ? rc : CORRAL_ECANCELED;
    }
    pthread_mutex_lock(&p->mu);
    int state = j->state;
    if (state == J_QUEUED) {
      corral__list_remove(&j->node);
      atomic_fetch_sub_explicit(&p->nqueued, 1, memory_order_relaxed);
    } else if (state == J_DONE && !j->returned) {
      corral__list_remove(&j->node); /* finished meanwhile: it wins */
    }
    pthread_mutex_unlock(&p->mu);
    if (state == J_QUEUED) { /* deadline or cancellation: never runs */
      given_back(p);
      free(j);
      return rc == CORRAL_ETIMEDOUT ? rc : rc ? rc : CORRAL_ECANCELED;
    }
    if (state == J_DONE) {
      if (!j->returned) given_back(p);
      rc = j->code;
      if (result) *result = j->result;
      free(j);
      return rc;
    }
    if (rc == CORRAL_ETIMEDOUT) { /* running at the abandon deadline */
      j->abandoned = 1;
      j->task = NULL;
      corral__list_insert_tail(&p->abandoned, &j->anode);
      return corral_errorf(CORRAL_EABANDONED,
                           "offloaded call '%s' still running after its "
                           "deadline: abandoned", j->name);
    }
    /* Running and not abandoned: wait for it (the deadline still holds). */
    w = CORRAL__UNABORTABLE;
  }
}

/* ---- the runtime's end ---- */

static void on_drain_timer(uv_timer_t *t) { (void)t; }
static void on_closed(uv_handle_t *h) { (void)h; }

void corral__pool_end(corral__rt *rt) {
  corral__pool *p = rt->threads.pool;
  if (!p) return;
  /* Abandoned calls still running: wait for them, within the bound. */
  int64_t bound = rt->threads.drain_ns;
  if (p->outstanding && bound > 0) {
    uv_timer_t tm;
    int timed = CORRAL__UV("offload_drain_timer_init", ENOMEM,
                           uv_timer_init(rt->loop, &tm)) == 0;
    uv_update_time(rt->loop);
    int64_t until = bound == CORRAL_FOREVER ? INT64_MAX : mono_ns() + bound;
    /* A timer that cannot start must not let the wait sleep past its bound:
     * then poll without blocking (no bound: the finished call wakes it). */
    int armed = bound == CORRAL_FOREVER ||
                (timed && CORRAL__UV("offload_drain_timer", EINVAL,
                                     uv_timer_start(&tm, on_drain_timer,
                                                    (uint64_t)(bound / 1000000 + 1),
                                                    0)) == 0);
    while (p->outstanding && mono_ns() < until)
      uv_run(rt->loop, armed ? UV_RUN_ONCE : UV_RUN_NOWAIT);
    if (timed) uv_close((uv_handle_t *)&tm, on_closed);
    uv_run(rt->loop, UV_RUN_NOWAIT);
  }
  pthread_mutex_lock(&p->mu);
  corral__list *n;
  int64_t now = corral__now(rt);
  while ((n = corral__list_head(&p->abandoned)) != NULL) {
    corral__list_remove(n);
    job *j = corral__container_of(n, job, anode);
    if (j->state == J_DONE) { /* finished, not given back yet */
      corral__list_remove(&j->node);
      if (j->cleanup) j->cleanup(j->arg, j->code, j->result);
      free(j);
      continue;
    }
    j->detached = 1;
    fprintf(rt->report,
            "corral: offloaded call '%s' still running %lld ms after it "
            "started, when the runtime ended; left to finish on its worker "
            "thread, which runs its cleanup\n",
            j->name, (long long)((now - j->started) / 1000000));
  }
  fflush(rt->report);
  p->shutdown = 1;
  for (worker *w = p->sleepers; w; w = w->next_sleeper) {
    w->woken = 1;
    pthread_cond_signal(&w->cv);
  }
  p->sleepers = NULL;
  pthread_mutex_unlock(&p->mu);
  uv_close((uv_handle_t *)&p->async, on_closed);
  uv_run(rt->loop, UV_RUN_NOWAIT);
  for (size_t i = 0; i < p->nthreads; i++) {
    pthread_mutex_lock(&p->mu);
    int busy = p->workers[i].current != NULL; /* a detached job */
    pthread_mutex_unlock(&p->mu);
    if (busy)
      pthread_detach(p->workers[i].tid);
    else
      pthread_join(p->workers[i].tid, NULL);
  }
  pthread_mutex_lock(&p->mu);
  int last = --p->refs == 0;
  pthread_mutex_unlock(&p->mu);
  if (last) pool_free(p);
  rt->threads.pool = NULL;
}
