/*
 * fuzz_runtime: the fuzzer's input is a small program of runtime operations.
 *
 * Every task interprets a slice of the input: one byte picks an operation,
 * the next bytes are its operands. An operation that starts tasks (spawn,
 * gather) takes a length operand: the next `len` bytes are the child's
 * program and the parent skips them. So the input is a tree of tasks, and a
 * mutation that flips one byte changes one operation of one task.
 *
 * Each input runs once on the virtual clock with a counting allocator, in
 * one fresh runtime. The harness checks, while it runs and after:
 *  - every call returns one of the codes its documentation lists;
 *  - every task function that was entered returned exactly once, and a
 *    task that never ran is CANCELLED (or NOT_STARTED in a gather);
 *  - a task's status and code are what its function returned;
 *  - when a group closes, every task spawned into it is done; its failure
 *    count is the number of children that ended in ERROR; an EGROUP
 *    aggregate holds exactly those errors plus the body's;
 *  - a sleep that returns 0 returned at exactly start + duration, before
 *    every deadline around it; a call ended by a deadline returned at
 *    exactly that deadline (or at once when it had already passed); a
 *    timeout of wait / as_completed fired at exactly start + timeout;
 *  - once a blocking call failed with CORRAL_ECANCELED, the next one in the
 *    same scope fails too (level-triggered cancellation);
 *  - channels hand every item over exactly once: no item is received twice
 *    or without a send that returned 0, and what was sent is received or
 *    still buffered at the end (unless the receiving side was closed);
 *  - a lock is owned by exactly the task that acquired it (double acquire:
 *    CORRAL_EDEADLK, release by a non-owner: CORRAL_EPERM), also after a
 *    condition wait; a limiter's token likewise;
 *  - a task sees the task-local values its spawner had when it spawned it,
 *    then what it sets itself; every value is destroyed exactly once, never
 *    while a task can still read it, and all of them by the run's end;
 *  - after corral_run returns, every block the runtime allocated is freed.
 * Blocking calls may also return CORRAL_EDEADLK: when cancelling every
 * task did not break a deadlock (waits inside shields), the runtime fails
 * the remaining waits with it.
 * A violation prints what broke and aborts, which libFuzzer records as a
 * crash with the input that caused it.
 *
 * The same file builds with a small main() (fuzz/replay.c) into the normal
 * test suite, which replays the seed corpus and every regression input.
 */
#include "corral.h"
#include "corral/channel.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MS CORRAL_MS(1)
#define MAX_TASKS 192   /* task contexts per input */
#define MAX_SCOPES 512  /* scope records per input */
#define MAX_FRAMES 4    /* scopes and groups open at once in one task */
#define MAX_KIDS 12     /* handles one task keeps */
#define MAX_GATHER 4
#define NEVENTS 3
#define NSEMS 2

/* ---- what a run knows about every scope: its deadline and its parent ---- */

typedef struct srec {
  int64_t deadline; /* CORRAL_FOREVER: none */
  int shield;
  struct srec *parent;
  char name[12];
} srec;

typedef struct tctx {
  const uint8_t *p;
  size_t n;
  srec *root;     /* the task's own root scope */
  int entered, returned;
  int ret;        /* what the function returned */
  int gathered;   /* started by a gather: no handle */
  struct tctx *spawner; /* create_task: the task whose implicit group holds it */
  void *local[2];  /* the task-local values it must see (inherited at spawn) */
} tctx;

typedef struct frame {
  int is_group;
  corral_group g;
  corral_scope s;
  srec *rec;
  corral_policy policy;
  size_t quorum;
  int body_rc;
  int kids[MAX_KIDS]; /* indices into R.handles */
  int nkids;
} frame;

typedef struct exec {
  tctx *t;
  size_t pc;
  frame fr[MAX_FRAMES];
  int nfr;
  int hs[MAX_KIDS]; /* indices into R.handles */
  int nh;
  int rc;
  int sticky_cancel; /* last blocking call was cancelled; no frame change since */
  int compact;
  int holds_lock, holds_token;
} exec;

#define NCHANNELS 2
#define MAX_ITEMS 4096

static struct {
  tctx tasks[MAX_TASKS];
  int ntasks;
  srec scopes[MAX_SCOPES];
  int nscopes;
  corral_task *handles[MAX_TASKS];
  tctx *hctx[MAX_TASKS];
  unsigned char released[MAX_TASKS]; /* released early (misuse) */
  int nhandles;
  corral_event ev[NEVENTS];
  corral_semaphore sem[NSEMS];
  corral_channel *ch[NCHANNELS];
  int next_item;                  /* items are numbered 1.. */
  unsigned char item_sent[MAX_ITEMS];     /* a send returned 0 */
  unsigned char item_received[MAX_ITEMS]; /* a receive returned it */
  unsigned char item_channel[MAX_ITEMS];
  long sent[NCHANNELS], received[NCHANNELS];
  int receive_closed[NCHANNELS];
  struct lval {
    int destroyed;
  } lv[256];                      /* task-local values handed out */
  int nlv;
  corral_lock lock;
  corral_condition cond;
  corral_limiter limiter;
  long budget;        /* operations left for this input */
  int compact_works;  /* compact tasks exist in this build */
  const uint8_t *input;
  size_t input_len;
  long live_blocks;   /* counting allocator */
  long total_blocks;
  FILE *devnull;
} R;

static void fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "fuzz_runtime: invariant broken: ");
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  abort();
}

static void bad_rc(const char *op, int rc) {
  fail("%s returned %s (%d), which its documentation does not list", op,
       corral_err_name(rc), rc);
}

/* ---- counting allocator ---- */

static void *c_malloc(void *c, size_t n) {
  (void)c;
  void *p = malloc(n);
  if (p) R.live_blocks++, R.total_blocks++;
  return p;
}
static void *c_realloc(void *c, void *p, size_t n) {
  (void)c;
  void *q = realloc(p, n);
  if (!p && q) R.live_blocks++, R.total_blocks++;
  return q;
}
static void c_free(void *c, void *p) {
  (void)c;
  if (p) R.live_blocks--;
  free(p);
}

/* ---- scope records ---- */

static srec *new_scope(char kind, int64_t deadline, int shield, srec *parent) {
  if (R.nscopes == MAX_SCOPES) return NULL;
  srec *s = &R.scopes[R.nscopes];
  s->deadline = deadline;
  s->shield = shield;
  s->parent = parent;
  snprintf(s->name, sizeof s->name, "%c%d", kind, R.nscopes);
  R.nscopes++;
  return s;
}

static srec *find_scope(const char *name) {
  if (!name[0] || !name[1]) return NULL;
  if (name[0] != 's' && name[0] != 'g' && name[0] != 'G') return NULL;
  char *end;
  long i = strtol(name + 1, &end, 10);
  if (*end || i < 0 || i >= R.nscopes) return NULL;
  return &R.scopes[i];
}

/* The earliest deadline that can cancel code in scope s: walk out until a
 * shield (whose own deadline still counts). */
static int64_t effective_deadline(const srec *s) {
  int64_t d = CORRAL_FOREVER;
  for (; s; s = s->parent) {
    if (s->deadline < d) d = s->deadline;
    if (s->shield) break;
  }
  return d;
}

static srec *cur_scope(exec *x) {
  return x->nfr ? x->fr[x->nfr - 1].rec : x->t->root;
}

/* ---- reading the program ---- */

static unsigned byte(exec *x) {
  return x->pc < x->t->n ? x->t->p[x->pc++] : 0;
}

/* The next len bytes become a child's program; the parent skips them. */
static void take_block(exec *x, unsigned len, const uint8_t **p, size_t *n) {
  size_t left = x->t->n - x->pc;
  if (len > left) len = (unsigned)left;
  *p = x->t->p + x->pc;
  *n = len;
  x->pc += len;
}

static tctx *new_task(const uint8_t *p, size_t n, srec *parent) {
  if (R.ntasks == MAX_TASKS) return NULL;
  srec *root = new_scope('t', CORRAL_FOREVER, 0, parent);
  if (!root) return NULL;
  tctx *t = &R.tasks[R.ntasks++];
  memset(t, 0, sizeof *t);
  t->p = p;
  t->n = n;
  t->root = root;
  return t;
}

/* Did a child in t's implicit group (create_task) end in ERROR? Then t
 * itself fails with CORRAL_EGROUP unless the error was joined. */
static int implicit_child_failed(const tctx *t) {
  for (int i = 0; i < R.nhandles; i++)
    if (R.hctx[i]->spawner == t &&
        (R.released[i] || corral_task_status(R.handles[i]) == CORRAL_STATUS_ERROR))
      return 1;
  return 0;
}

/* ---- checks around blocking calls ---- */

/* After a blocking call that began at t0 and returned rc. */
static void after_block(exec *x, const char *op, int64_t t0, int rc) {
  int64_t t1 = corral_now();
  if (t1 < t0) fail("%s: time went back from %lld to %lld", op, (long long)t0,
                    (long long)t1);
  if (x->sticky_cancel && rc != CORRAL_ECANCELED && rc != CORRAL_ETIMEDOUT &&
      rc != CORRAL_EDEADLK)
    fail("%s returned %s after an earlier call in the same scope was "
         "cancelled (cancellation must be level-triggered)",
         op, corral_err_name(rc));
  if (rc != CORRAL_ECANCELED) return;
  x->sticky_cancel = 1;
  corral_cancel_reason r;
  if (corral_cancel_reason_get(&r) != 0)
    fail("%s returned ECANCELED but the task reads no cancel reason", op);
  if (r.cause != CORRAL_CANCEL_DEADLINE) return;
  srec *s = find_scope(r.scope);
  if (!s || s->deadline == CORRAL_FOREVER) return;
  int64_t want = t0 > s->deadline ? t0 : s->deadline;
  if (t1 != want)
    fail("%s: deadline of scope %s (%lld) cancelled it at %lld, want %lld", op,
         r.scope, (long long)s->deadline, (long long)t1, (long long)want);
}

/* ---- the interpreter ---- */

static int task_fn(void *arg, void **res);

/* Spawn operands: flags, len. flags: bits 0-1 lazy/eager/compact/lazy,
 * bit 2: into the implicit group (create_task), bit 3: no handle. */
static void op_spawn(exec *x) {
  unsigned flags = byte(x), len = byte(x) % 48;
  const uint8_t *p;
  size_t n;
  take_block(x, len, &p, &n);
  frame *gf = NULL;
  for (int i = x->nfr - 1; i >= 0; i--)
    if (x->fr[i].is_group) {
      gf = &x->fr[i];
      break;
    }
  int implicit = (flags & 4) || !gf;
  if (gf && !implicit && gf->nkids == MAX_KIDS) return;
  if (x->nh == MAX_KIDS || R.nhandles == MAX_TASKS) return;
  /* A child of an explicit group runs in the group's scope; one of the
   * implicit group runs in the spawner's root scope. */
  tctx *c = new_task(p, n, implicit ? x->t->root : gf->rec);
  if (!c) return;
  memcpy(c->local, x->t->local, sizeof c->local);
  if (implicit) c->spawner = x->t;
  corral_spawn_opts so = {.name = "kid",
                          .eager = (flags & 3) == 1,
                          .compact = (flags & 3) == 2};
  corral_task *h = NULL;
  int rc = corral_spawn_ex(implicit ? NULL : &gf->g, task_fn, c, &so, &h);
  if (rc == 0) {
    if (!h) fail("spawn returned 0 without a handle");
    int hi = R.nhandles++;
    R.handles[hi] = h;
    R.hctx[hi] = c;
    x->hs[x->nh++] = hi;
    if (!implicit) gf->kids[gf->nkids++] = hi;
    return;
  }
  if (h) fail("spawn failed with %s but returned a handle", corral_err_name(rc));
  if (c->entered) fail("spawn failed with %s but the task ran", corral_err_name(rc));
  if (!(rc == CORRAL_ECLOSED || rc == CORRAL_EFAILED || rc == CORRAL_ECANCELED))
    bad_rc("corral_spawn", rc);
}

static void op_group_open(exec *x) {
  unsigned a = byte(x), b = byte(x);
  if (x->nfr == MAX_FRAMES) return;
  frame *f = &x->fr[x->nfr];
  memset(f, 0, sizeof *f);
  f->is_group = 1;
  f->policy = (corral_policy)(a & 3);
  f->quorum = 1 + ((a >> 2) & 3);
  int64_t timeout = (b & 1) ? (int64_t)(b >> 1) * MS : 0;
  int64_t now = corral_now();
  f->rec = new_scope('g', timeout > 0 ? now + timeout : CORRAL_FOREVER, 0,
                     cur_scope(x));
  if (!f->rec) return;
  corral_group_opts o = {.policy = f->policy,
                         .quorum = f->quorum,
                         .name = f->rec->name,
                         .timeout_ns = timeout,
                         .eager = (a >> 4) & 1,
                         .compact = (a >> 5) & 1};
  int rc = corral_group_open(&f->g, &o);
  if (x->compact) {
    if (rc != CORRAL_EINVAL) bad_rc("corral_group_open in a compact task", rc);
    return;
  }
  if (rc) bad_rc("corral_group_open", rc);
  x->nfr++;
  x->sticky_cancel = 0;
}

static void op_scope_open(exec *x) {
  unsigned a = byte(x), d = byte(x);
  if (x->nfr == MAX_FRAMES) return;
  frame *f = &x->fr[x->nfr];
  memset(f, 0, sizeof *f);
  int64_t now = corral_now();
  int shield = (a & 3) == 2;
  int has_deadline = (a & 4) != 0 || !shield;
  int64_t deadline = has_deadline ? now + (int64_t)(d % 80) * MS : CORRAL_FOREVER;
  f->rec = new_scope('s', deadline, shield, cur_scope(x));
  if (!f->rec) return;
  corral_scope_opts o = {.name = f->rec->name,
                         .deadline = has_deadline ? deadline : 0,
                         .shield = shield,
                         .fail = (a & 3) == 1};
  int rc = corral_scope_enter(&f->s, &o);
  if (x->compact) {
    if (rc != CORRAL_EINVAL) bad_rc("corral_scope_enter in a compact task", rc);
    return;
  }
  if (rc) bad_rc("corral_scope_enter", rc);
  x->nfr++;
  x->sticky_cancel = 0;
}

static void check_group_closed(exec *x, frame *f, int body, int rc) {
  (void)x;
  size_t ok = 0, err = 0;
  int unknown = 0; /* children whose handle was released early */
  for (int i = 0; i < f->nkids; i++) {
    corral_task *h = R.handles[f->kids[i]];
    if (R.released[f->kids[i]]) {
      unknown++;
      continue;
    }
    if (!corral_task_done(h))
      fail("group %s closed while its child is still running", f->rec->name);
    corral_status st = corral_task_status(h);
    if (st == CORRAL_STATUS_OK) ok++;
    if (st == CORRAL_STATUS_ERROR) err++;
  }
  if (unknown) {
    if (corral_group_failed(&f->g) < err || corral_group_succeeded(&f->g) < ok ||
        corral_group_running(&f->g) != 0)
      fail("group %s: counters below what its children show", f->rec->name);
    err = corral_group_failed(&f->g);
  } else if (corral_group_failed(&f->g) != err)
    fail("group %s counts %zu failures, its children show %zu", f->rec->name,
         corral_group_failed(&f->g), err);
  if (!unknown && corral_group_succeeded(&f->g) != ok)
    fail("group %s counts %zu successes, its children show %zu", f->rec->name,
         corral_group_succeeded(&f->g), ok);
  if (corral_group_running(&f->g) != 0)
    fail("group %s closed with running children", f->rec->name);
  int body_failed = body < 0 && body != CORRAL_ECANCELED;
  if ((f->policy == CORRAL_FAIL_FAST || f->policy == CORRAL_COLLECT) &&
      (err || body_failed) && rc != CORRAL_EGROUP)
    fail("group %s (policy %d) had %zu failed children%s but closed with %s",
         f->rec->name, (int)f->policy, err, body_failed ? " and a failed body" : "",
         corral_err_name(rc));
  if (rc == CORRAL_EGROUP) {
    const corral_error *e = corral_last_error();
    if (!e || corral_error_code(e) != CORRAL_EGROUP)
      fail("group %s: EGROUP without an aggregate", f->rec->name);
    size_t want = err + (size_t)body_failed;
    int tolerant = f->policy == CORRAL_FIRST || f->policy == CORRAL_QUORUM;
    if (tolerant ? corral_error_count(e) > want : corral_error_count(e) != want)
      fail("group %s: aggregate holds %zu errors, want %zu children + %d body",
           f->rec->name, corral_error_count(e), err, body_failed);
  }
}

/* Close the innermost frame, passing the task's code as the body's. */
static void op_end(exec *x) {
  if (x->nfr == 0) return;
  frame *f = &x->fr[--x->nfr];
  x->sticky_cancel = 0;
  if (!f->is_group) {
    int in = x->rc;
    int rc = corral_scope_exit(&f->s, in);
    if (rc == CORRAL_ETIMEDOUT && in != CORRAL_ETIMEDOUT && !corral_scope_timed_out(&f->s))
      fail("scope %s reported a timeout its deadline did not cause", f->rec->name);
    if (rc == CORRAL_ETIMEDOUT && in != CORRAL_ETIMEDOUT && corral_now() < f->rec->deadline)
      fail("scope %s timed out before its deadline", f->rec->name);
    if (corral_scope_timed_out(&f->s) && corral_now() < f->rec->deadline)
      fail("scope %s says its deadline fired at %lld, before %lld", f->rec->name,
           (long long)corral_now(), (long long)f->rec->deadline);
    if (corral_scope_caught(&f->s) &&
        !(in == CORRAL_ECANCELED && (rc == 0 || rc == CORRAL_ETIMEDOUT)))
      fail("scope %s says it caught its cancellation, but turned %s into %s",
           f->rec->name, corral_err_name(in), corral_err_name(rc));
    x->rc = rc;
    /* A second exit of the same scope is refused. */
    int again = corral_scope_exit(&f->s, 0);
    if (again != CORRAL_EINVAL) bad_rc("second corral_scope_exit", again);
    return;
  }
  int body = f->body_rc ? f->body_rc : x->rc;
  int rc = corral_group_close(&f->g, body);
  if (!(rc == 0 || rc == CORRAL_EGROUP || rc == CORRAL_ETIMEDOUT ||
        rc == CORRAL_ECANCELED))
    bad_rc("corral_group_close", rc);
  check_group_closed(x, f, body, rc);
  x->rc = rc;
  /* Closing twice and spawning into a closed group are refused. */
  int again = corral_group_close(&f->g, 0);
  if (again != CORRAL_ECLOSED) bad_rc("second corral_group_close", again);
  tctx dummy = {0};
  corral_task *h = NULL;
  again = corral_spawn(&f->g, task_fn, &dummy, "late", &h);
  if (again != CORRAL_ECLOSED || h || dummy.entered)
    bad_rc("corral_spawn into a closed group", again);
}

static void op_cancel_frame(exec *x) {
  if (x->nfr == 0) {
    /* Cancel yourself: the task's root scope. */
    int rc = corral_cancel(corral_current(), "self");
    if (rc) bad_rc("corral_cancel(self)", rc);
    return;
  }
  frame *f = &x->fr[x->nfr - 1];
  int rc = f->is_group ? corral_group_cancel(&f->g, "fuzz")
                       : corral_scope_cancel(&f->s, "fuzz");
  if (rc) bad_rc("cancel of an open frame", rc);
}

/* A handle of this task's, unless released already. (A released handle
 * whose task still runs is the same value as the task's borrowed handle,
 * so the runtime cannot refuse it: the harness never uses one.) */
static corral_task *pick_handle(exec *x, unsigned i, int *hi) {
  if (x->nh == 0) return NULL;
  *hi = x->hs[i % (unsigned)x->nh];
  return R.released[*hi] ? NULL : R.handles[*hi];
}

static void op_cancel_task(exec *x) {
  int hi;
  corral_task *h = pick_handle(x, byte(x), &hi);
  if (!h) return;
  int done = corral_task_done(h);
  int rc = corral_cancel(h, "fuzz cancel");
  if (rc != (done ? CORRAL_ESRCH : 0)) bad_rc("corral_cancel", rc);
}

/* 1: the handle was joined; 2: maybe (a join that returned ECANCELED while
 * the task ended at the same instant). */
static int joined[MAX_TASKS];

static void op_join(exec *x) {
  int hi;
  unsigned a = byte(x), d = byte(x);
  corral_task *h = pick_handle(x, a, &hi);
  if (!h) return;
  tctx *c = R.hctx[hi];
  int64_t t0 = corral_now();
  int rc;
  int waitfor = (a & 0x80) != 0;
  const char *op = waitfor ? "corral_wait_for" : "corral_join";
  int64_t to = (int64_t)(d % 64) * MS;
  rc = waitfor ? corral_wait_for(h, to, NULL) : corral_join(h, NULL);
  if (x->compact) {
    if (rc != CORRAL_EINVAL) bad_rc("join in a compact task", rc);
    return;
  }
  if (joined[hi] == 1) {
    if (rc != CORRAL_EJOINED) bad_rc("a second join of a handle", rc);
    return;
  }
  if (rc == CORRAL_EJOINED) {
    if (joined[hi] != 2) bad_rc(op, rc);
    return;
  }
  int done = corral_task_done(h);
  if (waitfor && !done) fail("wait_for returned with its task running");
  if (!done) {
    if (rc != CORRAL_ECANCELED && rc != CORRAL_EDEADLK)
      fail("%s returned %s with the task still running", op, corral_err_name(rc));
    after_block(x, op, t0, rc);
    return;
  }
  corral_status st = corral_task_status(h);
  if (st == CORRAL_STATUS_TIMED_OUT && rc != CORRAL_ETIMEDOUT && rc != CORRAL_ECANCELED &&
      rc != CORRAL_EDEADLK)
    fail("%s of a TIMED_OUT task gave %s", op, corral_err_name(rc));
  if (!waitfor && (rc == CORRAL_ECANCELED || rc == CORRAL_EDEADLK) &&
      st != CORRAL_STATUS_CANCELLED) {
    joined[hi] = 2; /* the caller was cancelled as the task ended */
    return;
  }
  joined[hi] = waitfor || st != CORRAL_STATUS_CANCELLED ? 1 : 2;
  if (waitfor && rc == CORRAL_ETIMEDOUT && st == CORRAL_STATUS_CANCELLED &&
      corral_now() < t0 + to)
    fail("wait_for timed out at %lld, before its deadline %lld",
         (long long)corral_now(), (long long)(t0 + to));
  if (st == CORRAL_STATUS_OK && rc != 0)
    fail("%s of an OK task gave %s", op, corral_err_name(rc));
  if (st == CORRAL_STATUS_ERROR && rc != c->ret && rc != CORRAL_ECANCELED &&
      rc != CORRAL_ETIMEDOUT &&
      !(rc == CORRAL_EGROUP && implicit_child_failed(c)))
    fail("%s gave %s, the task returned %s", op, corral_err_name(rc),
         corral_err_name(c->ret));
}

static void op_wait(exec *x) {
  unsigned a = byte(x), d = byte(x);
  if (x->nh == 0) return;
  corral_task *ts[MAX_KIDS];
  size_t n = 0;
  for (int i = 0; i < x->nh; i++)
    if (((a >> (i & 7)) & 1 || i >= 8) && !R.released[x->hs[i]]) ts[n++] = R.handles[x->hs[i]];
  if (n == 0) return;
  int64_t to = (d & 0x80) ? CORRAL_FOREVER : (int64_t)(d % 64) * MS;
  int64_t t0 = corral_now();
  if (a & 0x80) {
    corral_as_completed it;
    int rc = corral_as_completed_init(&it, ts, n, to);
    if (x->compact) {
      if (rc != CORRAL_EINVAL) bad_rc("as_completed in a compact task", rc);
      return;
    }
    if (rc) bad_rc("corral_as_completed_init", rc);
    size_t got = 0;
    int64_t last_seq_time = t0;
    for (;;) {
      corral_task *t = NULL;
      rc = corral_as_completed_next(&it, &t);
      if (rc == CORRAL_EEOF) break;
      if (rc == 0) {
        if (!t || !corral_task_done(t)) fail("as_completed yielded a running task");
        got++;
        last_seq_time = corral_now();
        continue;
      }
      if (rc == CORRAL_ETIMEDOUT) {
        if (corral_now() != t0 + to && corral_now() != last_seq_time)
          fail("as_completed timed out at %lld, want %lld",
               (long long)corral_now(), (long long)(t0 + to));
        break;
      }
      if (rc != CORRAL_ECANCELED && rc != CORRAL_EDEADLK)
        bad_rc("corral_as_completed_next", rc);
      after_block(x, "as_completed_next", t0, rc);
      break;
    }
    if (rc == CORRAL_EEOF && got != n) fail("as_completed: EOF after %zu of %zu", got, n);
    corral_as_completed_free(&it);
    return;
  }
  int mode = 1 + (int)(d % 3);
  size_t ndone = 0;
  int rc = corral_wait(ts, n, mode, to, &ndone);
  if (x->compact) {
    if (rc != CORRAL_EINVAL) bad_rc("corral_wait in a compact task", rc);
    return;
  }
  size_t done = 0, errs = 0;
  for (size_t i = 0; i < n; i++) {
    done += corral_task_done(ts[i]) != 0;
    errs += corral_task_status(ts[i]) == CORRAL_STATUS_ERROR;
  }
  if (rc == 0) {
    int holds = mode == CORRAL_FIRST_COMPLETED   ? done >= 1
                : mode == CORRAL_ALL_COMPLETED   ? done == n
                                                 : (done == n || errs > 0);
    if (!holds) fail("corral_wait(mode %d) returned 0: %zu of %zu done", mode, done, n);
    if (ndone != done) fail("corral_wait: ndone %zu, %zu are done", ndone, done);
  } else if (rc == CORRAL_ETIMEDOUT) {
    if (corral_now() != t0 + to)
      fail("corral_wait timed out at %lld, want %lld", (long long)corral_now(),
           (long long)(t0 + to));
  } else if (rc == CORRAL_ECANCELED || rc == CORRAL_EDEADLK) {
    after_block(x, "corral_wait", t0, rc);
  } else {
    bad_rc("corral_wait", rc);
  }
}

static void op_gather(exec *x) {
  unsigned a = byte(x), b = byte(x), len = byte(x) % 40;
  const uint8_t *p;
  size_t plen;
  take_block(x, len, &p, &plen);
  size_t k = 1 + (a & 3);
  static const int pols[4] = {CORRAL_GATHER_ALL, CORRAL_GATHER_FAIL_FAST,
                              CORRAL_GATHER_FIRST, CORRAL_GATHER_QUORUM};
  int pol = pols[(a >> 2) & 3];
  size_t quorum = 1 + ((a >> 4) & 3);
  if (quorum > k) quorum = k;
  int64_t timeout = (b & 1) ? (int64_t)((b >> 1) % 64) * MS : 0;
  int64_t t0 = corral_now();
  srec *g = new_scope('G', timeout > 0 ? t0 + timeout : CORRAL_FOREVER, 0,
                      cur_scope(x));
  if (!g) return;
  corral_call calls[MAX_GATHER];
  corral_outcome out[MAX_GATHER];
  tctx *c[MAX_GATHER];
  for (size_t i = 0; i < k; i++) {
    c[i] = new_task(p, plen, g);
    if (!c[i]) return;
    c[i]->gathered = 1;
    memcpy(c[i]->local, x->t->local, sizeof c[i]->local);
    calls[i] = (corral_call){task_fn, c[i], "call"};
  }
  corral_gather_opts o = {.policy = pol,
                          .quorum = quorum,
                          .timeout_ns = timeout,
                          .limit = (b >> 7) ? 1 + ((a >> 6) & 1) : 0,
                          .name = g->name,
                          .eager = (b >> 6) & 1,
                          .compact = (b >> 5) & 1};
  int rc = corral_gather(calls, k, out, &o);
  if (x->compact) {
    if (rc != CORRAL_EINVAL) bad_rc("gather in a compact task", rc);
    return;
  }
  if (!(rc == 0 || rc == CORRAL_EGROUP || rc == CORRAL_ETIMEDOUT ||
        rc == CORRAL_ECANCELED))
    bad_rc("corral_gather", rc);
  size_t errs = 0;
  for (size_t i = 0; i < k; i++) {
    corral_status st = out[i].status;
    if (st == CORRAL_STATUS_PENDING) fail("gather left outcome %zu pending", i);
    if (st == CORRAL_STATUS_NOT_STARTED && c[i]->entered)
      fail("gather: outcome %zu NOT_STARTED but the task ran", i);
    if (c[i]->entered && c[i]->returned != 1)
      fail("gather: task %zu returned %d times", i, c[i]->returned);
    if (st == CORRAL_STATUS_OK && c[i]->ret != 0)
      fail("gather: outcome %zu OK, the task returned %s", i, corral_err_name(c[i]->ret));
    if (st == CORRAL_STATUS_ERROR) {
      errs++;
      if (out[i].code != c[i]->ret &&
          !(out[i].code == CORRAL_EGROUP && implicit_child_failed(c[i])))
        fail("gather: outcome %zu code %s, the task returned %s", i,
             corral_err_name(out[i].code), corral_err_name(c[i]->ret));
      if (!out[i].error) fail("gather: outcome %zu ERROR without a record", i);
    }
    if (st == CORRAL_STATUS_TIMED_OUT && timeout <= 0)
      fail("gather: outcome %zu TIMED_OUT without a timeout", i);
  }
  if (rc == CORRAL_EGROUP) {
    const corral_error *e = corral_last_error();
    if (!e || corral_error_count(e) != errs)
      fail("gather: aggregate holds %zu errors, outcomes show %zu",
           e ? corral_error_count(e) : 0, errs);
  }
  if (pol == CORRAL_GATHER_FAIL_FAST && errs && rc != CORRAL_EGROUP)
    fail("gather FAIL_FAST with %zu errors returned %s", errs, corral_err_name(rc));
  if (pol == CORRAL_GATHER_ALL && rc == CORRAL_EGROUP)
    fail("gather ALL returned EGROUP");
  if (rc == CORRAL_ETIMEDOUT && corral_now() < t0 + timeout)
    fail("gather timed out at %lld, before %lld", (long long)corral_now(),
         (long long)(t0 + timeout));
  corral_outcomes_clear(out, k);
}

static void op_event(exec *x, int what) {
  corral_event *e = &R.ev[byte(x) % NEVENTS];
  if (what == 0) {
    corral_event_set(e);
    if (!corral_event_is_set(e)) fail("event not set after set");
    return;
  }
  if (what == 1) {
    corral_event_clear(e);
    return;
  }
  int64_t t0 = corral_now();
  int rc = corral_event_wait(e);
  if (x->compact) {
    if (rc != CORRAL_EINVAL) bad_rc("event_wait in a compact task", rc);
    return;
  }
  if (rc != 0 && rc != CORRAL_ECANCELED && rc != CORRAL_EDEADLK)
    bad_rc("corral_event_wait", rc);
  after_block(x, "corral_event_wait", t0, rc);
}

static void op_sem(exec *x, int what) {
  corral_semaphore *s = &R.sem[byte(x) % NSEMS];
  if (what == 0) {
    corral_semaphore_release(s);
    return;
  }
  if (what == 1) {
    size_t v = corral_semaphore_value(s);
    int rc = corral_semaphore_try_acquire(s);
    if (rc == 0 && corral_semaphore_value(s) != v - 1) fail("try_acquire took nothing");
    if (rc != 0 && rc != CORRAL_EAGAIN) bad_rc("corral_semaphore_try_acquire", rc);
    return;
  }
  int64_t t0 = corral_now();
  int rc = corral_semaphore_acquire(s);
  if (x->compact) {
    if (rc != CORRAL_EINVAL) bad_rc("semaphore_acquire in a compact task", rc);
    return;
  }
  if (rc != 0 && rc != CORRAL_ECANCELED && rc != CORRAL_EDEADLK)
    bad_rc("corral_semaphore_acquire", rc);
  after_block(x, "corral_semaphore_acquire", t0, rc);
}

static void op_sleep(exec *x) {
  unsigned d = byte(x);
  int64_t ns = (int64_t)(d % 64) * MS;
  int64_t t0 = corral_now();
  int rc = d & 0x80 ? corral_sleep_until(t0 + ns) : corral_sleep(ns);
  if (rc != 0 && rc != CORRAL_ECANCELED) bad_rc("corral_sleep", rc);
  if (rc == 0) {
    if (corral_now() != t0 + ns)
      fail("sleep(%lld ms) from %lld returned at %lld", (long long)(ns / MS),
           (long long)t0, (long long)corral_now());
    int64_t eff = effective_deadline(cur_scope(x));
    if (ns > 0 && t0 + ns >= eff)
      fail("sleep until %lld returned 0 although a deadline at %lld encloses it",
           (long long)(t0 + ns), (long long)eff);
  }
  after_block(x, "corral_sleep", t0, rc);
}

/* ---- task-local values ---- */

static void lv_destroy(void *v) {
  struct lval *l = v;
  if (l < R.lv || l >= R.lv + R.nlv) fail("destroy of a value never set");
  if (l->destroyed++) fail("task-local value %d destroyed twice", (int)(l - R.lv));
}
static const corral_local_key lkeys[2] = {CORRAL_LOCAL_KEY_INIT(lv_destroy),
                                          CORRAL_LOCAL_KEY_INIT(NULL)};
static int static_vals[4];

static void check_locals(exec *x, const char *when) {
  for (int k = 0; k < 2; k++) {
    void *v = corral_local_get(&lkeys[k]);
    if (v != x->t->local[k])
      fail("%s: task-local %d is %p, want %p", when, k, v, x->t->local[k]);
    if (k == 0 && v && ((struct lval *)v)->destroyed)
      fail("%s: task-local value %d read after it was destroyed", when,
           (int)((struct lval *)v - R.lv));
  }
}

static void op_local(exec *x) {
  unsigned a = byte(x);
  int k = a & 1;
  void *v;
  switch ((a >> 1) % 3) {
  case 0: /* a new value */
    if (k == 0) {
      if (R.nlv == (int)(sizeof R.lv / sizeof R.lv[0])) return;
      v = &R.lv[R.nlv++];
    } else {
      v = &static_vals[(a >> 3) & 3];
    }
    break;
  case 1: v = NULL; break;
  default: v = corral_local_get(&lkeys[k]); break; /* get, then set again */
  }
  int rc = corral_local_set(&lkeys[k], v);
  if (rc) bad_rc("corral_local_set", rc);
  x->t->local[k] = v;
  check_locals(x, "after local_set");
}

/* ---- channels, select, lock, condition, limiter ---- */

static int new_item(int c) {
  if (R.next_item >= MAX_ITEMS - 1) return 0;
  int v = ++R.next_item;
  R.item_channel[v] = (unsigned char)c;
  return v;
}

static void got_item(int c, int v) {
  if (v <= 0 || v > R.next_item) fail("received item %d, never offered", v);
  if (R.item_received[v]) fail("item %d received twice", v);
  if (R.item_channel[v] != c) fail("item %d sent on channel %d, received on %d", v,
                                   R.item_channel[v], c);
  R.item_received[v] = 1;
  R.received[c]++;
}

static void sent_item(int c, int v) {
  if (R.item_sent[v]) fail("item %d sent twice", v);
  R.item_sent[v] = 1;
  R.sent[c]++;
}

static void op_send(exec *x) {
  unsigned a = byte(x);
  int c = a & 1, v = new_item(c);
  if (!v) return;
  int64_t t0 = corral_now();
  if (a & 2) {
    int rc = corral_channel_try_send(R.ch[c], &v);
    if (rc == 0) sent_item(c, v);
    else if (rc != CORRAL_EAGAIN && rc != CORRAL_ECLOSED && rc != CORRAL_EPIPE)
      bad_rc("corral_channel_try_send", rc);
    return;
  }
  int rc = corral_channel_send(R.ch[c], &v);
  if (x->compact) {
    if (rc != CORRAL_EINVAL) bad_rc("corral_channel_send in a compact task", rc);
    return;
  }
  if (rc == 0) sent_item(c, v);
  else if (rc != CORRAL_ECLOSED && rc != CORRAL_EPIPE && rc != CORRAL_ECANCELED &&
           rc != CORRAL_EDEADLK)
    bad_rc("corral_channel_send", rc);
  if (rc == CORRAL_ECANCELED || rc == CORRAL_EDEADLK) after_block(x, "channel_send", t0, rc);
}

static void op_receive(exec *x) {
  unsigned a = byte(x);
  int c = a & 1, v = -1;
  int64_t t0 = corral_now();
  if (a & 2) {
    int rc = corral_channel_try_receive(R.ch[c], &v);
    if (rc == 0) got_item(c, v);
    else if (rc != CORRAL_EAGAIN && rc != CORRAL_EEOF && rc != CORRAL_ECLOSED)
      bad_rc("corral_channel_try_receive", rc);
    return;
  }
  int rc = corral_channel_receive(R.ch[c], &v);
  if (x->compact) {
    if (rc != CORRAL_EINVAL) bad_rc("corral_channel_receive in a compact task", rc);
    return;
  }
  if (rc == 0) got_item(c, v);
  else if (rc != CORRAL_EEOF && rc != CORRAL_ECLOSED && rc != CORRAL_ECANCELED &&
           rc != CORRAL_EDEADLK)
    bad_rc("corral_channel_receive", rc);
  else if (v != -1) fail("a failed receive (%s) wrote an item", corral_err_name(rc));
  if (rc == CORRAL_ECANCELED || rc == CORRAL_EDEADLK) after_block(x, "channel_receive", t0, rc);
}

static void op_close(exec *x) {
  unsigned a = byte(x);
  int c = a & 1;
  int rc = (a & 2) ? corral_channel_close_receive(R.ch[c]) : corral_channel_close_send(R.ch[c]);
  if (rc) bad_rc("corral_channel_close", rc);
  if (a & 2) R.receive_closed[c] = 1;
}

static void op_select(exec *x) {
  unsigned a = byte(x);
  corral_select_clause cl[2];
  int vals[2] = {-1, -1}, nc = 1 + (a & 1);
  for (int i = 0; i < nc; i++) {
    int c = (a >> (1 + 2 * i)) & 1, send = (a >> (2 + 2 * i)) & 1;
    if (send) {
      vals[i] = new_item(c);
      if (!vals[i]) return;
    }
    cl[i] = (corral_select_clause){R.ch[c], send ? CORRAL_SELECT_SEND : CORRAL_SELECT_RECEIVE,
                                   &vals[i]};
  }
  int try = (a >> 7) & 1;
  size_t fired = 99;
  int64_t t0 = corral_now();
  int rc = try ? corral_try_select(cl, (size_t)nc, &fired)
               : corral_select(cl, (size_t)nc, &fired);
  if (x->compact && !try) {
    if (rc != CORRAL_EINVAL) bad_rc("corral_select in a compact task", rc);
    return;
  }
  if (rc == CORRAL_ECANCELED || rc == CORRAL_EDEADLK || rc == CORRAL_EAGAIN) {
    if (fired != (size_t)nc) fail("select returned %s with clause %zu fired", corral_err_name(rc), fired);
    if (rc == CORRAL_EAGAIN && !try) bad_rc("corral_select", rc);
    if (rc != CORRAL_EAGAIN) after_block(x, "corral_select", t0, rc);
    return;
  }
  if (fired >= (size_t)nc) fail("select returned %s without a fired clause", corral_err_name(rc));
  int c = cl[fired].channel == R.ch[0] ? 0 : 1;
  int send = cl[fired].op == CORRAL_SELECT_SEND;
  if (rc == 0) {
    if (send) sent_item(c, vals[fired]);
    else got_item(c, vals[fired]);
    return;
  }
  if (send ? (rc != CORRAL_ECLOSED && rc != CORRAL_EPIPE)
           : (rc != CORRAL_EEOF && rc != CORRAL_ECLOSED))
    bad_rc(send ? "corral_select (send clause)" : "corral_select (receive clause)", rc);
}

static void check_lock_owner(exec *x, const char *after) {
  int mine = corral_lock_owner(&R.lock) == corral_current();
  if (mine != x->holds_lock)
    fail("after %s the task %s the lock, but it should %s", after,
         mine ? "owns" : "does not own", x->holds_lock ? "own it" : "not");
}

static void op_lock(exec *x) {
  unsigned a = byte(x);
  int64_t t0 = corral_now();
  int rc;
  switch (a % 6) {
  case 0: case 1: /* acquire / try_acquire */
    rc = (a % 6) ? corral_lock_try_acquire(&R.lock) : corral_lock_acquire(&R.lock);
    if (x->compact && a % 6 == 0) {
      /* Both rules apply to a compact owner: either code is right. */
      if (rc != CORRAL_EINVAL && !(x->holds_lock && rc == CORRAL_EDEADLK))
        bad_rc("corral_lock_acquire in a compact task", rc);
      return;
    }
    if (x->holds_lock) {
      if (rc != CORRAL_EDEADLK) bad_rc("a second acquire of an owned lock", rc);
    } else if (rc == 0) {
      x->holds_lock = 1;
    } else if (!((a % 6) ? rc == CORRAL_EAGAIN
                         : (rc == CORRAL_ECANCELED || rc == CORRAL_EDEADLK))) {
      bad_rc("corral_lock_acquire", rc);
    } else if (!(a % 6)) {
      after_block(x, "corral_lock_acquire", t0, rc);
    }
    check_lock_owner(x, "acquire");
    break;
  case 2: /* release (a second release is refused) */
    rc = corral_lock_release(&R.lock);
    if (rc != (x->holds_lock ? 0 : CORRAL_EPERM)) bad_rc("corral_lock_release", rc);
    x->holds_lock = 0;
    check_lock_owner(x, "release");
    break;
  case 3: /* condition wait */
    rc = corral_condition_wait(&R.cond);
    if (x->compact) {
      if (rc != CORRAL_EINVAL) bad_rc("corral_condition_wait in a compact task", rc);
      return;
    }
    if (!x->holds_lock) {
      if (rc != CORRAL_EPERM) bad_rc("corral_condition_wait without the lock", rc);
    } else if (rc == CORRAL_EDEADLK) {
      x->holds_lock = 0;
    } else if (rc != 0 && rc != CORRAL_ECANCELED) {
      bad_rc("corral_condition_wait", rc);
    }
    if (rc == CORRAL_ECANCELED) x->sticky_cancel = 1;
    check_lock_owner(x, "condition_wait");
    break;
  case 4:
    (a & 8) ? corral_condition_notify_all(&R.cond) : corral_condition_notify(&R.cond, 1);
    break;
  default: { /* the limiter: acquire, try, release */
    unsigned k = (a >> 3) % 3;
    if (k == 2) {
      rc = corral_limiter_release(&R.limiter);
      if (rc != (x->holds_token ? 0 : CORRAL_EPERM)) bad_rc("corral_limiter_release", rc);
      x->holds_token = 0;
    } else {
      rc = k ? corral_limiter_try_acquire(&R.limiter) : corral_limiter_acquire(&R.limiter);
      if (x->compact && !k) {
        if (rc != CORRAL_EINVAL && !(x->holds_token && rc == CORRAL_EDEADLK))
          bad_rc("corral_limiter_acquire in a compact task", rc);
        return;
      }
      if (x->holds_token) {
        if (rc != CORRAL_EDEADLK) bad_rc("a second limiter acquire", rc);
      } else if (rc == 0) {
        x->holds_token = 1;
      } else if (!(k ? rc == CORRAL_EAGAIN
                     : (rc == CORRAL_ECANCELED || rc == CORRAL_EDEADLK))) {
        bad_rc("corral_limiter_acquire", rc);
      } else if (!k) {
        after_block(x, "corral_limiter_acquire", t0, rc);
      }
    }
    if (corral_limiter_holds(&R.limiter, corral_current()) != x->holds_token)
      fail("limiter: holds() disagrees with what the task acquired");
    break;
  }
  }
}

static void op_misuse(exec *x) {
  unsigned a = byte(x);
  switch (a % 7) {
  case 4: /* enter the innermost scope again / open the innermost group again */
    if (x->nfr) {
      frame *f = &x->fr[x->nfr - 1];
      int rc = f->is_group ? corral_group_open(&f->g, NULL) : corral_scope_enter(&f->s, NULL);
      if (rc != CORRAL_EBUSY) bad_rc("a second open of an open scope or group", rc);
    }
    break;
  case 5: { /* release a handle early: every later use is refused */
    int hi;
    corral_task *h = pick_handle(x, a >> 3, &hi);
    if (h) {
      corral_task_release(h);
      R.released[hi] = 1;
    }
    break;
  }
  case 6: { /* cancel, join, wait on NULL / nothing */
    if (corral_cancel(NULL, "x") != CORRAL_EINVAL) bad_rc("corral_cancel(NULL)", -1);
    if (!x->compact) {
      int rc = corral_wait(NULL, 0, CORRAL_ALL_COMPLETED, 0, NULL);
      if (rc != CORRAL_EINVAL) bad_rc("corral_wait on nothing", rc);
      rc = corral_join(NULL, NULL);
      if (rc != CORRAL_EINVAL) bad_rc("corral_join(NULL)", rc);
    }
    break;
  }
  case 0: /* exit a scope that is not the innermost */
    if (x->nfr >= 2 && !x->fr[0].is_group) {
      int rc = corral_scope_exit(&x->fr[0].s, 0);
      if (rc != CORRAL_ENESTING) bad_rc("out-of-order corral_scope_exit", rc);
    }
    break;
  case 1: /* close a group that is not the innermost */
    if (x->nfr >= 2 && x->fr[0].is_group) {
      int rc = corral_group_close(&x->fr[0].g, 0);
      if (rc != CORRAL_ENESTING) bad_rc("out-of-order corral_group_close", rc);
    }
    break;
  case 2: { /* join yourself */
    int rc = x->compact ? CORRAL_EDEADLK : corral_join(corral_current(), NULL);
    if (rc != CORRAL_EDEADLK) bad_rc("corral_join(self)", rc);
    break;
  }
  default: { /* an unknown policy / a quorum of 0 */
    corral_group g;
    memset(&g, 0, sizeof g); /* see "Uninitialised storage" in docs/reliability.md */
    int rc = corral_group_open(&g, &(corral_group_opts){.policy = CORRAL_QUORUM});
    if (rc != CORRAL_EINVAL) bad_rc("corral_group_open(QUORUM 0)", rc);
    break;
  }
  }
}

static int trace = -1; /* FUZZ_TRACE=1: print every operation */

static void run_ops(exec *x) {
  while (x->pc < x->t->n && R.budget-- > 0) {
    unsigned op = byte(x) % 32;
    if (trace)
      fprintf(stderr, "t%d @%lldms: op %u at %zu\n", (int)(x->t - R.tasks),
              (long long)(corral_now() / MS), op, x->pc - 1);
    switch (op) {
    case 0: case 1: op_sleep(x); break;
    case 2: {
      int64_t t0 = corral_now();
      int rc = corral_yield();
      if (rc != 0 && rc != CORRAL_ECANCELED) bad_rc("corral_yield", rc);
      after_block(x, "corral_yield", t0, rc);
      break;
    }
    case 3: /* fail: the task returns an error now */
      x->rc = corral_errorf(CORRAL_EIO, "task fails");
      return;
    case 4: case 5: op_spawn(x); break;
    case 6: op_group_open(x); break;
    case 7: op_scope_open(x); break;
    case 8: case 9: op_end(x); break;
    case 10: op_cancel_frame(x); break;
    case 11: op_cancel_task(x); break;
    case 12: op_join(x); break;
    case 13: op_wait(x); break;
    case 14: op_gather(x); break;
    case 15: op_event(x, 0); break;
    case 16: op_event(x, 1); break;
    case 17: op_event(x, 2); break;
    case 18: op_sem(x, 0); break;
    case 19: op_sem(x, byte(x) & 1 ? 1 : 2); break;
    case 20: {
      int rc = corral_checkpoint_cancel();
      corral_cancel_reason r;
      int rr = corral_cancel_reason_get(&r);
      if (rc != 0 && rc != CORRAL_ECANCELED) bad_rc("corral_checkpoint_cancel", rc);
      if ((rc == CORRAL_ECANCELED) != (rr == 0))
        fail("checkpoint says %s but the cancel reason says %s",
             corral_err_name(rc), corral_err_name(rr));
      if (rc == CORRAL_ECANCELED) x->sticky_cancel = 1;
      break;
    }
    case 21: /* the body of the innermost group fails */
      if (x->nfr && x->fr[x->nfr - 1].is_group)
        x->fr[x->nfr - 1].body_rc = corral_errorf(CORRAL_ERANGE, "body fails");
      break;
    case 22: op_misuse(x); break;
    case 24: op_send(x); break;
    case 25: op_receive(x); break;
    case 26: op_close(x); break;
    case 27: op_select(x); break;
    case 28: case 29: op_lock(x); break;
    case 30: op_local(x); break;
    case 31: check_locals(x, "check"); break;
    default: /* stop: return what we have (often ECANCELED) */
      if (byte(x) & 1) return;
      break;
    }
  }
}

static int task_fn(void *arg, void **res) {
  (void)res;
  tctx *t = arg;
  if (t->entered++) fail("a task function was entered twice");
  exec *x = calloc(1, sizeof *x); /* off the task's stack: compact tasks */
  if (!x) abort();
  x->t = t;
  /* Is this a compact task? Only they refuse scopes. */
  if (R.compact_works) {
    corral_scope probe;
    memset(&probe, 0, sizeof probe);
    int rc = corral_scope_enter(&probe, NULL);
    if (rc == 0)
      CORRAL_IGNORE(corral_scope_exit(&probe, 0));
    else if (rc == CORRAL_EINVAL)
      x->compact = 1;
    else
      bad_rc("corral_scope_enter", rc);
  }
  check_locals(x, "at the task's start");
  run_ops(x);
  while (x->nfr) op_end(x);
  /* A task releases its lock and its token before it ends. */
  if (x->holds_lock && corral_lock_release(&R.lock) != 0)
    fail("the lock owner could not release it");
  if (x->holds_token && corral_limiter_release(&R.limiter) != 0)
    fail("the token holder could not release it");
  int rc = x->rc;
  if (trace)
    fprintf(stderr, "t%d @%lldms: returns %s\n", (int)(t - R.tasks),
            (long long)(corral_now() / MS), corral_err_name(rc));
  free(x);
  if (rc > 0) fail("a task code is positive");
  t->ret = rc;
  t->returned++;
  return rc;
}

/* ---- one input ---- */


static int root_fn(void *arg, void **res) {
  (void)arg, (void)res;
  for (int i = 0; i < NEVENTS; i++) corral_event_init(&R.ev[i]);
  for (int i = 0; i < NSEMS; i++) corral_semaphore_init(&R.sem[i], (size_t)i);
  for (int i = 0; i < NCHANNELS; i++) {
    int rc = corral_channel_open(&R.ch[i], sizeof(int), (size_t)(2 * i), i ? "buffered" : "rendezvous");
    if (rc) bad_rc("corral_channel_open", rc);
  }
  corral_lock_init(&R.lock, "lock");
  corral_condition_init(&R.cond, &R.lock, "cond");
  if (corral_limiter_init(&R.limiter, 2, "limiter") != 0) fail("limiter_init");
  srec *top = new_scope('t', CORRAL_FOREVER, 0, NULL);
  tctx *main_t = new_task(R.input, R.input_len, top);
  corral_group g;
  int rc = corral_group_open(&g, &(corral_group_opts){.policy = CORRAL_COLLECT});
  if (rc) bad_rc("corral_group_open", rc);
  corral_task *h = NULL;
  rc = corral_spawn(&g, task_fn, main_t, "main", &h);
  if (rc) bad_rc("corral_spawn", rc);
  rc = corral_group_close(&g, 0);
  /* ECANCELED: a deadlock was found and every task unwound. */
  if (rc != 0 && rc != CORRAL_EGROUP && rc != CORRAL_ECANCELED)
    bad_rc("top corral_group_close", rc);
  /* Nothing outlives its parent: every task of the tree is done now. */
  for (int i = 0; i < R.nhandles; i++) {
    corral_task *t = R.handles[i];
    tctx *c = R.hctx[i];
    if (R.released[i]) continue;
    if (!corral_task_done(t)) fail("task %d still runs after its tree closed", i);
    corral_status st = corral_task_status(t);
    if (!c->entered && st != CORRAL_STATUS_CANCELLED && st != CORRAL_STATUS_TIMED_OUT)
      fail("task %d never ran but ended %s", i, corral_status_name(st));
    if (c->entered) {
      int want = c->ret == 0                   ? CORRAL_STATUS_OK
                 : c->ret == CORRAL_ECANCELED ? CORRAL_STATUS_CANCELLED
                                              : CORRAL_STATUS_ERROR;
      int egroup = st == CORRAL_STATUS_ERROR &&
                   corral_task_code(t) == CORRAL_EGROUP && implicit_child_failed(c);
      /* Ended by its own or its group's deadline: TIMED_OUT. */
      if (want == CORRAL_STATUS_CANCELLED && st == CORRAL_STATUS_TIMED_OUT)
        want = st;
      if ((int)st != want && !egroup)
        fail("task %d returned %s but ended %s", i, corral_err_name(c->ret),
             corral_status_name(st));
      if (st == CORRAL_STATUS_ERROR && corral_task_code(t) != c->ret && !egroup)
        fail("task %d returned %s, its code is %s", i, corral_err_name(c->ret),
             corral_err_name(corral_task_code(t)));
    }
  }
  for (int i = 0; i < R.nhandles; i++)
    if (!R.released[i]) corral_task_release(R.handles[i]);
  corral_task_release(h);
  /* Exactly once: what was sent was received, or is still buffered. */
  for (int c = 0; c < NCHANNELS; c++) {
    corral_channel_stats st;
    if (corral_channel_stats_get(R.ch[c], &st) != 0) fail("channel stats");
    if (!R.receive_closed[c] && R.sent[c] != R.received[c] + (long)st.buffered)
      fail("channel %d: %ld items sent, %ld received, %zu buffered", c, R.sent[c],
           R.received[c], st.buffered);
    corral_channel_free(R.ch[c]);
  }
  for (int v = 1; v <= R.next_item; v++)
    if (R.item_received[v] && !R.item_sent[v])
      fail("item %d was received, but its send did not return 0", v);
  if (corral_lock_owner(&R.lock) != NULL) fail("the lock is still owned at the end");
  corral_limiter_destroy(&R.limiter);
  for (int i = 0; i < R.ntasks; i++) {
    tctx *c = &R.tasks[i];
    if (c->entered > 1 || c->returned != c->entered)
      fail("task context %d entered %d times, returned %d times", i, c->entered,
           c->returned);
  }
  return 0;
}

static int probe_fn(void *arg, void **res) {
  (void)res;
  corral_scope s;
  memset(&s, 0, sizeof s);
  int rc = corral_scope_enter(&s, NULL);
  if (rc == 0) CORRAL_IGNORE(corral_scope_exit(&s, 0));
  *(int *)arg = rc == CORRAL_EINVAL;
  return 0;
}
static int probe_root(void *arg, void **res) {
  (void)res;
  corral_task *t;
  corral_spawn_opts so = {.name = "probe", .compact = 1};
  int rc = corral_spawn_ex(NULL, probe_fn, arg, &so, &t);
  if (rc) return rc;
  rc = corral_join(t, NULL);
  corral_task_release(t);
  return rc;
}

/* Calls outside a task are refused with CORRAL_ENOTASK. */
static void check_outside(void) {
  corral_scope s;
  corral_group g;
  corral_event e;
  corral_semaphore sem;
  corral_event_init(&e);
  corral_semaphore_init(&sem, 0);
  struct {
    const char *what;
    int rc;
  } c[] = {
      {"corral_sleep", corral_sleep(MS)},
      {"corral_yield", corral_yield()},
      {"corral_scope_enter", corral_scope_enter(&s, NULL)},
      {"corral_group_open", corral_group_open(&g, NULL)},
      {"corral_event_wait", corral_event_wait(&e)},
      {"corral_semaphore_acquire", corral_semaphore_acquire(&sem)},
      {"corral_checkpoint_cancel", corral_checkpoint_cancel()},
      {"corral_spawn", corral_spawn(NULL, probe_fn, NULL, "x", NULL)},
  };
  for (size_t i = 0; i < sizeof c / sizeof c[0]; i++)
    if (c[i].rc != CORRAL_ENOTASK)
      fail("%s outside a task returned %s, want CORRAL_ENOTASK", c[i].what,
           corral_err_name(c[i].rc));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static int inited;
  if (!inited) {
    inited = 1;
    trace = getenv("FUZZ_TRACE") != NULL;
    R.devnull = fopen("/dev/null", "w");
    corral_options o = {.virtual_clock = 1};
    int works = 0;
    if (corral_run(&o, probe_root, &works, NULL) == 0) R.compact_works = works;
  }
  if (size > 4096) return 0; /* keep one run short */
  memset(R.tasks, 0, sizeof R.tasks);
  R.ntasks = R.nscopes = R.nhandles = 0;
  R.next_item = 0;
  memset(R.lv, 0, sizeof R.lv);
  R.nlv = 0;
  memset(R.item_sent, 0, sizeof R.item_sent);
  memset(R.item_received, 0, sizeof R.item_received);
  memset(R.sent, 0, sizeof R.sent);
  memset(R.received, 0, sizeof R.received);
  memset(R.receive_closed, 0, sizeof R.receive_closed);
  memset(joined, 0, sizeof joined);
  memset(R.released, 0, sizeof R.released);
  R.budget = 4000;
  R.input = data;
  R.input_len = size;
  R.live_blocks = 0;
  check_outside();
  corral_allocator al = {c_malloc, c_realloc, c_free, NULL};
  corral_options o = {.virtual_clock = 1,
                      .allocator = &al,
                      .stack_size = 64 * 1024,
                      .report = R.devnull,
                      .shuffle_seed = size && (data[0] & 0x40) ? data[size - 1] | 1u : 0,
                      /* The watchdog thread (stall reports) for some inputs
                       * only: a thread per run costs most of a run. */
                      .stall_report_ns = size && (data[0] & 0x20) ? 0 : CORRAL_FOREVER};
  int rc = corral_run(&o, root_fn, NULL, NULL);
  if (rc != 0 && rc != CORRAL_EDEADLK) bad_rc("corral_run", rc);
  if (R.live_blocks != 0)
    fail("%ld blocks of the runtime were not freed after corral_run", R.live_blocks);
  for (int i = 0; i < R.nlv; i++)
    if (R.lv[i].destroyed != 1)
      fail("task-local value %d destroyed %d times by the end of the run", i,
           R.lv[i].destroyed);
  return 0;
}
