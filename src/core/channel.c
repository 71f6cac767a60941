/* Channels and select (Go channels, Trio memory channels): a bounded ring
 * of fixed-size items and two FIFO lists of blocked operations.
 *
 * The hand-off that makes delivery exactly-once: whoever completes an
 * operation of a blocked task (a partner or a close) moves the item and
 * wakes that task in one step, on the runtime's only thread. A blocked
 * task is "live" while its state is BLOCKED; once anything woke it (a
 * partner, a close, a cancellation, the deadlock breaker), its waiter
 * nodes are dead: partners skip and unlink them, and nothing can move an
 * item for it any more. So a cancelled receiver never consumes, and a
 * sender learns from its return code alone whether its item was taken.
 * A blocked task touches only its own nodes after it wakes, never the
 * channel (which a close-and-free may have released meanwhile). */
#include "core/channel.h"
#include "core/sched.h"

#include <stdlib.h>
#include <string.h>

#define CHAN_MAGIC 0xc4a7c4a7u

static inline uintptr_t fast_key(const void *rt) { return (uintptr_t)rt | 1; }

struct corral_channel {
  uint32_t magic;
  uint8_t send_closed, recv_closed;
  /* The fast paths' one test of the channel: fast_key(rt) while the
   * channel is open (neither side closed), of runtime rt, with word-sized
   * items; 0 otherwise. An odd value, which no pointer stored in freed
   * memory is. */
  uintptr_t key;
  size_t isize, cap;
  size_t head, count;        /* ring: items at head .. head+count-1 */
  corral__list senders;      /* chan_waiter: blocked sends, FIFO */
  corral__list receivers;    /* chan_waiter: blocked receives, FIFO */
  /* The wait records of a blocked send and receive (the dump's argument:
   * the channel), shared by its waiters: each finds its own node through
   * its task (chan_wait). No record to build at every park. */
  corral__wait send_wait, recv_wait;
  corral__rt *rt;
  corral_allocator al;       /* to free it after the runtime ended */
  char name[CORRAL_NAME_MAX];
  _Alignas(16) unsigned char buf[];
};

/* One blocked select. */
typedef struct chan_op {
  corral_task *task;
  size_t fired;                        /* clause that took effect */
  const corral_select_clause *clauses; /* for the dump */
  size_t n;
  struct chan_waiter *ws;              /* select: its n waiters */
} chan_op;

/* One blocked operation: a single send or receive (op NULL; its task's
 * chan_wait while it waits), or one clause of a select. */
typedef struct chan_waiter {
  corral__list node; /* in its channel's senders or receivers */
  corral_task *task;
  chan_op *op;       /* select: its call; single operation: NULL */
  void *item;        /* send: the item; receive: destination or NULL */
  size_t index;      /* clause index (select) */
} chan_waiter;

static inline bool live(const chan_waiter *w) {
  return w->task->state == CORRAL__T_BLOCKED;
}

/* The oldest live waiter of h; dead ones met on the way are unlinked. */
static inline chan_waiter *first_live(corral__list *h) {
  corral__list *n;
  while ((n = corral__list_head(h)) != NULL) {
    chan_waiter *w = corral__container_of(n, chan_waiter, node);
    if (likely(live(w))) return w;
    corral__list_remove(n);
  }
  return NULL;
}

static inline void complete(chan_waiter *w, int rc) {
  corral__list_remove(&w->node);
  if (w->op) w->op->fired = w->index;
  corral__wake_inline(w->task, rc);
}

/* Items are small values as a rule: fixed-size copies the compiler inlines
 * (a call to memcpy costs as much as the rest of an operation). */
static inline void item_copy(void *dst, const void *src, size_t n) {
  if (likely(n == 8))
    memcpy(dst, src, 8);
  else if (n == 4)
    memcpy(dst, src, 4);
  else if (n == 16)
    memcpy(dst, src, 16);
  else
    memcpy(dst, src, n);
}

static inline void ring_push(corral_channel *ch, const void *item) {
  size_t tail = ch->head + ch->count;
  if (tail >= ch->cap) tail -= ch->cap;
  item_copy(ch->buf + tail * ch->isize, item, ch->isize);
  ch->count++;
}

static inline void ring_pop(corral_channel *ch, void *item) {
  if (item) item_copy(item, ch->buf + ch->head * ch->isize, ch->isize);
  if (++ch->head == ch->cap) ch->head = 0;
  ch->count--;
}

/* The same for the fast paths, whose items are 8 bytes. */
static inline void ring_push8(corral_channel *ch, const void *item) {
  size_t tail = ch->head + ch->count;
  if (tail >= ch->cap) tail -= ch->cap;
  memcpy(ch->buf + tail * 8, item, 8);
  ch->count++;
}

static inline void ring_pop8(corral_channel *ch, void *item) {
  if (item) memcpy(item, ch->buf + ch->head * 8, 8);
  if (++ch->head == ch->cap) ch->head = 0;
  ch->count--;
}

/* ---- the operations, without blocking: CORRAL_EAGAIN where they would
 * wait ---- */

static inline int op_send(corral_channel *ch, const void *item) {
  if (ch->send_closed) return CORRAL_ECLOSED;
  if (ch->recv_closed) return CORRAL_EPIPE;
  chan_waiter *r = first_live(&ch->receivers);
  if (r) { /* a receiver waits only while the ring is empty */
    if (r->item) item_copy(r->item, item, ch->isize);
    complete(r, 0);
    return 0;
  }
  if (ch->count < ch->cap) {
    ring_push(ch, item);
    return 0;
  }
  return CORRAL_EAGAIN;
}

static inline int op_receive(corral_channel *ch, void *item) {
  if (ch->recv_closed) return CORRAL_ECLOSED;
  if (ch->count) {
    ring_pop(ch, item);
    chan_waiter *s = first_live(&ch->senders); /* refill from a sender */
    if (s) {
      ring_push(ch, s->item);
      complete(s, 0);
    }
    return 0;
  }
  chan_waiter *s = first_live(&ch->senders); /* rendezvous */
  if (s) {
    if (item) item_copy(item, s->item, ch->isize);
    complete(s, 0);
    return 0;
  }
  return ch->send_closed ? CORRAL_EEOF : CORRAL_EAGAIN;
}

static bool send_ready(corral_channel *ch) {
  return ch->send_closed || ch->recv_closed || ch->count < ch->cap ||
         first_live(&ch->receivers);
}

static bool receive_ready(corral_channel *ch) {
  return ch->recv_closed || ch->count || ch->send_closed ||
         first_live(&ch->senders);
}

/* ---- the dump ---- */

static size_t count_live(corral__list *h) {
  size_t n = 0;
  corral__list_foreach(it, h) {
    if (live(corral__container_of(it, chan_waiter, node))) n++;
  }
  return n;
}

static void describe_channel(corral_channel *ch, FILE *f) {
  fprintf(f, "'%s' (%zu/%zu buffered, %zu sender(s) and %zu receiver(s) "
             "waiting%s%s)",
          ch->name, ch->count, ch->cap, count_live(&ch->senders),
          count_live(&ch->receivers), ch->send_closed ? ", send closed" : "",
          ch->recv_closed ? ", receive closed" : "");
}

static void describe_op(const chan_op *op, FILE *f) {
  fputs(" of", f);
  const char *sep = " ";
  for (size_t i = 0; i < op->n; i++) {
    corral_channel *ch = op->clauses[i].channel;
    if (!ch) continue;
    fprintf(f, "%s[%zu] %s ", sep, i,
            op->clauses[i].op == CORRAL_SELECT_SEND ? "send to" : "receive from");
    describe_channel(ch, f);
    sep = ", ";
  }
}

void corral__sync_describe(int kind, const void *arg, FILE *f) {
  switch (kind) {
  case CORRAL__W_CHAN_SEND:
  case CORRAL__W_CHAN_RECEIVE:
    fputc(' ', f);
    describe_channel((corral_channel *)arg, f);
    break;
  case CORRAL__W_CHAN_SELECT: describe_op(arg, f); break;
  default: corral__lock_describe(kind, arg, f);
  }
}

/* ---- blocking ---- */

/* Every waker of a single operation takes its waiter out of the list: a
 * partner or a close (complete, wake_all, the fast paths' hand_over),
 * a cancellation or the deadlock breaker (single_leave, through
 * corral__wait_leave, also when corral__park returns at once). So the
 * blocked task never touches its node, nor the channel, once it wakes. */
#ifdef NDEBUG
#define CHECK_UNLINKED(w) ((void)0)
#else
static void check_unlinked(const chan_waiter *w) {
  if (!corral__list_linked(&w->node)) return;
  fputs("corral: internal error: a channel waiter linked after its wait\n",
        stderr);
  abort();
}
#define CHECK_UNLINKED(w) check_unlinked(w)
#endif

/* A single operation's waiter leaves its list: its task found it by
 * chan_wait (a cancellation, the deadlock breaker). */
static void single_leave(const corral__wait *w, corral_task *t) {
  (void)w;
  corral__list_remove(&((chan_waiter *)t->chan_wait)->node);
}

/* Out of line, like every rare path of send and receive: their fast paths
 * then need no stack frame and no saved registers. */
static __attribute__((noinline)) int block_on(corral_task *self,
                                              corral_channel *ch,
                                              corral__list *h, void *item,
                                              int kind) {
  uint64_t discard; /* a receive into NULL: its partner's fast path */
  if (!item && ch->isize == 8) item = &discard; /* copies without a test */
  chan_waiter w = {{NULL, NULL}, self, NULL, item, 0};
  corral__list_insert_tail(h, &w.node);
  self->chan_wait = &w;
  int rc = corral__park(
      self, kind, kind == CORRAL__W_CHAN_SEND ? &ch->send_wait : &ch->recv_wait,
      CORRAL_FOREVER);
  self->rq_next = NULL; /* chan_wait, if it returned without parking */
  CHECK_UNLINKED(&w);
  return rc;
}

/* The same from the fast paths (word-sized items, item not NULL), which
 * made the checkpoint test; one function per direction, whose arguments
 * are the fast path's own, in the same registers. */
static inline __attribute__((always_inline)) int
block_checked(corral_task *self, corral__list *h, void *item, int kind,
              const corral__wait *rec) {
  chan_waiter w;
  w.task = self;
  w.op = NULL; /* w.index is read only with an op */
  w.item = item;
  corral__list_insert_tail(h, &w.node);
  self->chan_wait = &w;
  int rc = corral__park_checked(self, kind, rec);
  CHECK_UNLINKED(&w);
  return rc;
}
static __attribute__((noinline)) int block_send(corral_channel *ch,
                                                const void *item,
                                                corral_task *self) {
  return block_checked(self, &ch->senders, (void *)item, CORRAL__W_CHAN_SEND,
                       &ch->send_wait);
}
static __attribute__((noinline)) int block_receive(corral_channel *ch,
                                                   void *item,
                                                   corral_task *self) {
  return block_checked(self, &ch->receivers, item, CORRAL__W_CHAN_RECEIVE,
                       &ch->recv_wait);
}

static inline int check(const corral_channel *ch, const corral__rt *rt) {
  if (unlikely(!ch || ch->magic != CHAN_MAGIC)) return CORRAL_EINVAL;
  if (unlikely(ch->rt != rt)) return CORRAL_EFOREIGN;
  return 0;
}

/* ---- public ---- */

int corral_channel_open(corral_channel **out, size_t item_size,
                        size_t capacity, const char *name) {
  corral__rt *rt = corral__tl_rt;
  if (!rt) return CORRAL_ENOTASK;
  if (!out || item_size == 0) return CORRAL_EINVAL;
  *out = NULL;
  if (capacity && item_size > (SIZE_MAX - sizeof(corral_channel)) / capacity)
    return CORRAL_EINVAL;
  corral_channel *ch =
      corral__malloc(rt, sizeof *ch + capacity * item_size);
  if (!ch) return CORRAL_ENOMEM;
  memset(ch, 0, sizeof *ch);
  ch->magic = CHAN_MAGIC;
  ch->isize = item_size;
  ch->cap = capacity;
  corral__list_init(&ch->senders);
  corral__list_init(&ch->receivers);
  ch->send_wait.arg = ch->recv_wait.arg = ch;
  ch->send_wait.leave = ch->recv_wait.leave = single_leave;
  ch->rt = rt;
  if (item_size == 8) ch->key = fast_key(rt);
  ch->al = rt->al;
  corral__copy_name(ch->name, name ? name : "channel");
  /* Known to its runtime: a free that is not of a live channel (freed
   * twice, another runtime's) is refused before touching the memory. */
  if (corral__aset_add(&rt->live, &rt->al, ch)) {
    corral__free(rt, ch);
    return CORRAL_ENOMEM;
  }
  *out = ch;
  return 0;
}

/* Unlink every waiter of h; wake the live ones with rc. */
static void wake_all(corral__list *h, int rc) {
  corral__list *n;
  while ((n = corral__list_head(h)) != NULL) {
    chan_waiter *w = corral__container_of(n, chan_waiter, node);
    corral__list_remove(n);
    if (live(w)) {
      if (w->op) w->op->fired = w->index;
      corral__wake(w->task, rc);
    }
  }
}

int corral_channel_close_send(corral_channel *ch) {
  int rc = check(ch, corral__tl_rt);
  if (rc) return rc;
  if (ch->send_closed) return 0;
  ch->send_closed = 1;
  ch->key = 0; /* receives drain the ring, then EEOF: the general path */
  wake_all(&ch->senders, CORRAL_ECLOSED);
  if (!ch->count) wake_all(&ch->receivers, CORRAL_EEOF);
  return 0;
}

int corral_channel_close_receive(corral_channel *ch) {
  int rc = check(ch, corral__tl_rt);
  if (rc) return rc;
  if (ch->recv_closed) return 0;
  ch->recv_closed = 1;
  ch->key = 0;
  ch->count = ch->head = 0; /* nobody can receive them: dropped */
  wake_all(&ch->senders, CORRAL_EPIPE);
  wake_all(&ch->receivers, CORRAL_ECLOSED);
  return 0;
}

void corral_channel_free(corral_channel *ch) {
  if (!ch) return;
  corral__rt *rt = corral__tl_rt;
  if (rt) {
    /* On a runtime's thread only its own live channels are freed: one
     * freed twice, or another runtime's, is left alone (and reported)
     * rather than read after its free. */
    if (!corral__aset_has(&rt->live, ch)) {
      fprintf(rt->report, "corral: corral_channel_free(%p): not a live channel of "
              "this runtime (freed twice, or another runtime's): ignored\n", (void *)ch);
      return;
    }
    corral__aset_del(&rt->live, ch);
  }
  if (ch->magic != CHAN_MAGIC) return;
  if (ch->rt == rt) {
    corral_channel_close_send(ch);
    corral_channel_close_receive(ch);
  }
  ch->magic = 0;
  ch->key = 0;
  corral_allocator al = ch->al;
  corral__al_free(&al, ch);
}

/* The calling task inside a cancelled scope? The checkpoint test every
 * blocking call makes (corral__checkpoint_scope: two loads while nothing
 * is cancelled and no deadline passed). */
static inline bool cancelled(corral__rt *rt, corral_task *self) {
  return corral__checkpoint_scope(rt, self) &&
         corral__fail(self, CORRAL_ECANCELED);
}

/* Every check of a blocking send or receive, in order, with its own code;
 * then the operation. The fast paths below come here whenever anything is
 * out of the ordinary. */
static __attribute__((noinline, cold)) int send_slow(corral_channel *ch,
                                                     const void *item) {
  corral__rt *rt = corral__tl_rt;
  corral_task *self = rt ? rt->sched.current : NULL;
  if (!self) return CORRAL_ENOTASK;
  int rc = check(ch, rt);
  if (rc) return rc;
  if (!item) return CORRAL_EINVAL;
  CORRAL__NO_COMPACT(self, "corral_channel_send");
  if (cancelled(rt, self)) return CORRAL_ECANCELED;
  rc = op_send(ch, item);
  if (rc != CORRAL_EAGAIN) {
    corral__quick_done(rt, self); /* a schedule point all the same */
    return rc;
  }
  return block_on(self, ch, &ch->senders, (void *)item, CORRAL__W_CHAN_SEND);
}

static __attribute__((noinline, cold)) int receive_slow(corral_channel *ch,
                                                        void *item) {
  corral__rt *rt = corral__tl_rt;
  corral_task *self = rt ? rt->sched.current : NULL;
  if (!self) return CORRAL_ENOTASK;
  int rc = check(ch, rt);
  if (rc) return rc;
  CORRAL__NO_COMPACT(self, "corral_channel_receive");
  if (cancelled(rt, self)) return CORRAL_ECANCELED;
  rc = op_receive(ch, item);
  if (rc != CORRAL_EAGAIN) {
    corral__quick_done(rt, self);
    return rc;
  }
  return block_on(self, ch, &ch->receivers, item, CORRAL__W_CHAN_RECEIVE);
}

/* The calling task, in the ordinary case: a task of the channel's runtime
 * (whose rt is never NULL, so rt is not either), the channel's side open
 * with word-sized items (key, see struct corral_channel), plain, nothing
 * cancelled and no deadline due; else NULL. */
static inline corral_task *ordinary(uintptr_t key, corral__rt *rt) {
  if (unlikely(key != fast_key(rt))) return NULL;
  corral_task *self = rt->sched.current;
  if (unlikely(!self || !corral__task_plain(self) ||
               (rt->sched.ncancelled | corral__preempt_pending(rt)) != 0))
    return NULL;
  return self;
}

/* The partner t of a single operation that just completed: its waiter n
 * leaves its list and t becomes runnable, its wake_rc 0 (0 since it ran;
 * the first waker of a wait sets it, and that is us). Release builds leave
 * n's own links stale: t never reads them (CHECK_UNLINKED). */
static inline void hand_over(corral__rt *rt, corral__list *n, corral_task *t) {
#ifdef NDEBUG
  n->prev->next = n->next;
  n->next->prev = n->prev;
#else
  corral__list_remove(n);
#endif
  t->state = CORRAL__T_RUNNABLE;
  corral__runq_push(rt, t);
}

/* The fast paths of send and receive: the ordinary case with word-sized
 * items, a partner of a single operation at the head of its list, an item
 * or room in the ring, or blocking. They make no call but a tail call, so
 * they need no stack frame; everything else (other sizes, select partners,
 * dead waiters, closed sides, bad arguments) takes the general path above,
 * which is the same operation. A single operation's waiter is in its list
 * exactly while its task is blocked on it (every waker takes it out, see
 * CHECK_UNLINKED), so the head of a list is live unless it is a select's.
 * A task never runs inside uv_run, so the wake-ups here need not stop a
 * libuv pass (corral__wake). */
int corral_channel_send(corral_channel *ch, const void *item) {
  corral__rt *rt = corral__tl_rt;
  corral_task *self;
  if (unlikely(!ch || !item || !(self = ordinary(ch->key, rt))))
    return send_slow(ch, item);
  corral__list *n = ch->receivers.next;
  if (n != &ch->receivers) { /* a receiver waits only while the ring is empty */
    chan_waiter *r = corral__container_of(n, chan_waiter, node);
    if (unlikely(r->op)) return send_slow(ch, item);
    corral_task *t = r->task;
    memcpy(r->item, item, 8);
    hand_over(rt, n, t);
    return corral__quick_done0(rt, self); /* a schedule point all the same */
  }
  if (ch->count < ch->cap) {
    ring_push8(ch, item);
    return corral__quick_done0(rt, self);
  }
  return block_send(ch, item, self);
}

int corral_channel_receive(corral_channel *ch, void *item) {
  corral__rt *rt = corral__tl_rt;
  corral_task *self;
  if (unlikely(!ch || !item || !(self = ordinary(ch->key, rt))))
    return receive_slow(ch, item); /* also a receive into NULL */
  corral__list *n = ch->senders.next;
  bool sender = n != &ch->senders;
  if (ch->count) {
    if (sender) return receive_slow(ch, item); /* and refill from it */
    ring_pop8(ch, item);
    return corral__quick_done0(rt, self);
  }
  if (sender) { /* rendezvous */
    chan_waiter *s = corral__container_of(n, chan_waiter, node);
    if (unlikely(s->op)) return receive_slow(ch, item);
    corral_task *t = s->task;
    memcpy(item, s->item, 8);
    hand_over(rt, n, t);
    return corral__quick_done0(rt, self); /* a schedule point all the same */
  }
  return block_receive(ch, item, self); /* (send side open: the key) */
}

int corral_channel_try_send(corral_channel *ch, const void *item) {
  corral__rt *rt = corral__tl_rt;
  if (!rt) return CORRAL_ENOTASK;
  int rc = check(ch, rt);
  if (rc) return rc;
  if (!item) return CORRAL_EINVAL;
  return op_send(ch, item);
}

int corral_channel_try_receive(corral_channel *ch, void *item) {
  corral__rt *rt = corral__tl_rt;
  if (!rt) return CORRAL_ENOTASK;
  int rc = check(ch, rt);
  if (rc) return rc;
  return op_receive(ch, item);
}

int corral_channel_stats_get(const corral_channel *cch,
                             corral_channel_stats *st) {
  corral_channel *ch = (corral_channel *)cch;
  if (!ch || ch->magic != CHAN_MAGIC || !st) return CORRAL_EINVAL;
  st->item_size = ch->isize;
  st->capacity = ch->cap;
  st->buffered = ch->count;
  st->senders_waiting = count_live(&ch->senders);
  st->receivers_waiting = count_live(&ch->receivers);
  st->send_closed = ch->send_closed;
  st->receive_closed = ch->recv_closed;
  return 0;
}

/* ---- select ---- */

static uint64_t next_random(corral__rt *rt) {
  uint64_t x = rt->select_rng ? rt->select_rng : 0x9e3779b97f4a7c15ull;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return rt->select_rng = x;
}

static inline bool clause_ready(const corral_select_clause *c) {
  return c->op == CORRAL_SELECT_SEND ? send_ready(c->channel)
                                     : receive_ready(c->channel);
}

#define SELECT_ON_STACK 8

/* A select woken otherwise than by a clause leaves every channel at once. */
static void select_leave(const corral__wait *w, corral_task *t) {
  (void)t;
  const chan_op *op = w->arg;
  for (size_t i = 0; i < op->n; i++) corral__list_remove(&op->ws[i].node);
}

static int select_impl(const corral_select_clause *cl, size_t n,
                       size_t *fired, bool block) {
  corral__rt *rt = corral__tl_rt;
  if (!rt) return CORRAL_ENOTASK;
  corral_task *self = rt->sched.current;
  if (block && !self) return CORRAL_ENOTASK;
  if (!fired || (!cl && n)) return CORRAL_EINVAL;
  *fired = n;
  for (size_t i = 0; i < n; i++) {
    if (!cl[i].channel) continue;
    int rc = check(cl[i].channel, rt);
    if (rc) return rc;
    if (cl[i].op != CORRAL_SELECT_SEND && cl[i].op != CORRAL_SELECT_RECEIVE)
      return CORRAL_EINVAL;
    if (cl[i].op == CORRAL_SELECT_SEND && !cl[i].item) return CORRAL_EINVAL;
  }
  if (block) {
    CORRAL__NO_COMPACT(self, "corral_select");
    if (cancelled(rt, self)) return CORRAL_ECANCELED;
  }
  /* Uniform choice among the ready clauses (reservoir of one). */
  size_t pick = n, nready = 0;
  for (size_t i = 0; i < n; i++) {
    if (!cl[i].channel || !clause_ready(&cl[i])) continue;
    if (++nready == 1 || next_random(rt) % nready == 0) pick = i;
  }
  if (pick < n) {
    const corral_select_clause *c = &cl[pick];
    *fired = pick;
    int rc = c->op == CORRAL_SELECT_SEND ? op_send(c->channel, c->item)
                                         : op_receive(c->channel, c->item);
    if (block) corral__quick_done(rt, self);
    return rc;
  }
  if (!block) return CORRAL_EAGAIN;

  chan_waiter on_stack[SELECT_ON_STACK], *ws = on_stack;
  if (n > SELECT_ON_STACK) {
    if (n > SIZE_MAX / sizeof *ws) return CORRAL_ENOMEM;
    ws = corral__malloc(rt, n * sizeof *ws);
    if (!ws) return CORRAL_ENOMEM;
  }
  chan_op op = {self, n, cl, n, ws};
  for (size_t i = 0; i < n; i++) {
    corral_channel *ch = cl[i].channel;
    ws[i] = (chan_waiter){{NULL, NULL}, self, &op, cl[i].item, i};
    if (!ch)
      corral__list_init(&ws[i].node);
    else
      corral__list_insert_tail(
          cl[i].op == CORRAL_SELECT_SEND ? &ch->senders : &ch->receivers,
          &ws[i].node);
  }
  const corral__wait rec = {.arg = &op, .leave = select_leave};
  int rc = corral__park(self, CORRAL__W_CHAN_SELECT, &rec, CORRAL_FOREVER);
  for (size_t i = 0; i < n; i++) corral__list_remove(&ws[i].node);
  if (ws != on_stack) corral__free(rt, ws);
  *fired = op.fired;
  return rc;
}

int corral_select(const corral_select_clause *clauses, size_t n,
                  size_t *fired) {
  return select_impl(clauses, n, fired, true);
}

int corral_try_select(const corral_select_clause *clauses, size_t n,
                      size_t *fired) {
  return select_impl(clauses, n, fired, false);
}
