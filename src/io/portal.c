/* Portals: other threads submit functions to run as tasks in a runtime
 * (Trio's from_thread and TrioToken).
 *
 * A portal is one object per runtime, reference counted across threads:
 * the runtime holds one reference while it runs, every corral_portal_open
 * and corral_portal_ref another. Submissions go to a list under the portal's
 * mutex and uv_async_send wakes the loop, whose callback spawns each as a
 * task into the main task's create_task group. The runtime's end (through
 * the handle registry) sets `closed` under the mutex, closes the async
 * handle and answers what never ran with CORRAL_ECLOSED; later submissions
 * see `closed` and fail the same way, and the object lives on until the last
 * reference is dropped. uv_async_send is always called under the mutex, so
 * it never races with the close. */
#include "core/group.h"
#include "ground/fault.h"
#include "io/io.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct corral_portal {
  pthread_mutex_t mu;
  int refs;                /* under mu */
  long user_refs; /* held by the program (open, ref, release) */
  int closed;              /* under mu */
  corral__list pending;    /* under mu: submissions not yet spawned */
  /* Runtime thread only, while open. */
  corral__rt *rt;
  uv_async_t async;
  int async_refd;
  corral__handle reg;
  corral__list spawned;    /* submissions whose task has not run yet */
};

typedef struct sub {
  corral__list node;       /* pending, then calls */
  int (*fn)(void *, void **);
  void *arg;
  char name[CORRAL_NAME_MAX];
  int call;                /* a thread waits (sub lives on its stack) */
  pthread_mutex_t mu;      /* call: the outcome */
  pthread_cond_t cv;
  int done, code;
  void *result;
} sub;

static void sub_answer(sub *s, int code, void *result) {
  pthread_mutex_lock(&s->mu);
  s->code = code;
  s->result = result;
  s->done = 1;
  pthread_cond_signal(&s->cv);
  pthread_mutex_unlock(&s->mu); /* s may be gone from here on */
}

/* A submission that will never run. */
static void sub_fail(sub *s, int code) {
  if (s->call)
    sub_answer(s, code, NULL);
  else
    free(s);
}

static void portal_free(corral_portal *p) {
  pthread_mutex_destroy(&p->mu);
  free(p);
}

/* The task a submission runs as. */
static int portal_task(void *arg, void **result) {
  sub *s = arg;
  corral__list_remove(&s->node); /* it runs: off `spawned` */
  void *res = NULL;
  int rc = s->fn(s->arg, &res);
  if (!s->call) {
    free(s);
    *result = res;
    return rc; /* as create_task: the task's own outcome */
  }
  sub_answer(s, rc, res); /* the caller gets the error, not the group */
  return 0;
}

/* Keep the loop alive while references are held outside the runtime. */
static void portal_sync_ref(corral_portal *p, int outside) {
  if (outside && !p->async_refd) uv_ref((uv_handle_t *)&p->async);
  if (!outside && p->async_refd) uv_unref((uv_handle_t *)&p->async);
  p->async_refd = outside;
}

static void on_async(uv_async_t *h) {
  corral_portal *p = h->data;
  corral__rt *rt = p->rt;
  corral__list todo;
  corral__list_init(&todo);
  pthread_mutex_lock(&p->mu);
  while (!corral__list_empty(&p->pending)) {
    corral__list *n = corral__list_head(&p->pending);
    corral__list_remove(n);
    corral__list_insert_tail(&todo, n);
  }
  int outside = p->refs > 1;
  pthread_mutex_unlock(&p->mu);
  portal_sync_ref(p, outside);
  /* Once the main task's function has returned (its create_task group is
   * closing, or it is done), nothing more is spawned: a thread that keeps
   * submitting must not keep the runtime from ending. */
  corral_task *root = rt->root;
  int open = root && root->state != CORRAL__T_DONE &&
             (!root->implicit || root->implicit->state == CORRAL__G_OPEN);
  if (!open) {
    pthread_mutex_lock(&p->mu);
    p->closed = 1;
    pthread_mutex_unlock(&p->mu);
    portal_sync_ref(p, 0); /* nothing can come in any more */
  }
  corral__list *n;
  while ((n = corral__list_head(&todo)) != NULL) {
    corral__list_remove(n);
    sub *s = corral__container_of(n, sub, node);
    int rc = CORRAL_ECLOSED;
    if (open) {
      corral__group *g = corral__implicit_group(rt, root);
      rc = g ? corral__spawn(rt, g, portal_task, s,
                             &(const corral_spawn_opts){.name = s->name}, NULL,
                             "corral_portal_submit", 0)
             : CORRAL_ENOMEM;
    }
    /* No memory for its task: the caller learns it (it was told
     * ECLOSED, as if the runtime had ended); a submission nobody waits for
     * is reported, not dropped in silence. */
    if (rc == CORRAL_ENOMEM && !s->call)
      fprintf(rt->report, "corral: portal submission '%s' not run: out of memory\n",
              s->name);
    if (rc)
      sub_fail(s, rc == CORRAL_ECANCELED || rc == CORRAL_ENOMEM ? rc : CORRAL_ECLOSED);
    else /* until it runs: a task cancelled before it starts never runs,
            and the runtime's end answers for it */
      corral__list_insert_tail(&p->spawned, &s->node);
  }
}

static void on_closed(uv_handle_t *h) {
  corral_portal *p = h->data;
  pthread_mutex_lock(&p->mu);
  int last = --p->refs == 0; /* the runtime's reference */
  pthread_mutex_unlock(&p->mu);
  if (last) portal_free(p);
}

/* The runtime's end. */
static void portal_close(corral__handle *h) {
  corral_portal *p = corral__container_of(h, corral_portal, reg);
  corral__handle_unregister(&p->reg);
  p->rt->threads.portal = NULL;
  corral__list never;
  corral__list_init(&never);
  pthread_mutex_lock(&p->mu);
  p->closed = 1;
  while (!corral__list_empty(&p->pending)) {
    corral__list *n = corral__list_head(&p->pending);
    corral__list_remove(n);
    corral__list_insert_tail(&never, n);
  }
  uv_close((uv_handle_t *)&p->async, on_closed);
  pthread_mutex_unlock(&p->mu);
  corral__list *n;
  while ((n = corral__list_head(&never)) != NULL) {
    corral__list_remove(n);
    sub_fail(corral__container_of(n, sub, node), CORRAL_ECLOSED);
  }
  while ((n = corral__list_head(&p->spawned)) != NULL) { /* never ran */
    corral__list_remove(n);
    sub_fail(corral__container_of(n, sub, node), CORRAL_ECANCELED);
  }
}

int corral_portal_open(corral_portal **out) {
  corral_task *self = corral__self();
  if (out) *out = NULL;
  if (!self) return CORRAL_ENOTASK;
  if (!out) return CORRAL_EINVAL;
  corral__rt *rt = self->rt;
  corral_portal *p = rt->threads.portal;
  if (!p) {
    p = calloc(1, sizeof *p);
    if (!p) return CORRAL_ENOMEM;
    int rc = CORRAL__UV("portal_async_init", ENOMEM, uv_async_init(rt->loop, &p->async, on_async));
    if (rc) {
      free(p);
      return rc;
    }
    pthread_mutex_init(&p->mu, NULL);
    p->async.data = p;
    p->rt = rt;
    p->refs = 1; /* the runtime's */
    corral__list_init(&p->pending);
    corral__list_init(&p->spawned);
    uv_unref((uv_handle_t *)&p->async);
    corral__handle_register(rt, &p->reg, "portal", portal_close);
    rt->threads.portal = p;
  }
  pthread_mutex_lock(&p->mu);
  p->refs++;
  p->user_refs++;
  pthread_mutex_unlock(&p->mu);
  portal_sync_ref(p, 1);
  *out = p;
  return 0;
}

corral_portal *corral_portal_ref(corral_portal *p) {
  if (!p) return NULL;
  pthread_mutex_lock(&p->mu);
  p->refs++;
  p->user_refs++;
  pthread_mutex_unlock(&p->mu);
  return p;
}

void corral_portal_release(corral_portal *p) {
  if (!p) return;
  pthread_mutex_lock(&p->mu);
  if (p->user_refs <= 0) {
    /* A release too many would drop the runtime's own reference: the
     * portal would be freed under the runtime (a use after free at its
     * end). While the runtime lives the object is still there to say so. */
    fprintf(stderr, "corral: corral_portal_release: portal %p released more "
                    "times than it was opened or referenced\n", (void *)p);
    abort();
  }
  p->user_refs--;
  int last = --p->refs == 0;
  /* Only the runtime's own reference left: let the loop unref the handle
   * (on its thread). */
  if (!last && p->refs == 1 && !p->closed) uv_async_send(&p->async);
  pthread_mutex_unlock(&p->mu);
  if (last) portal_free(p);
}

static int submit(corral_portal *p, sub *s) {
  pthread_mutex_lock(&p->mu);
  int closed = p->closed;
  if (!closed) {
    corral__list_insert_tail(&p->pending, &s->node);
    uv_async_send(&p->async);
  }
  pthread_mutex_unlock(&p->mu);
  return closed ? CORRAL_ECLOSED : 0;
}

static void sub_init(sub *s, int (*fn)(void *, void **), void *arg,
                     const char *name) {
  memset(s, 0, sizeof *s);
  s->fn = fn;
  s->arg = arg;
  snprintf(s->name, sizeof s->name, "%s", name ? name : "portal");
}

int corral_portal_submit(corral_portal *p, int (*fn)(void *, void **),
                         void *arg, const char *name) {
  if (!p || !fn) return CORRAL_EINVAL;
  sub *s = malloc(sizeof *s);
  if (!s) return CORRAL_ENOMEM;
  sub_init(s, fn, arg, name);
  int rc = submit(p, s);
  if (rc) free(s);
  return rc;
}

int corral_portal_call(corral_portal *p, int (*fn)(void *, void **), void *arg,
                       void **result) {
  if (result) *result = NULL;
  if (!p || !fn) return CORRAL_EINVAL;
  if (corral__tl_rt) return CORRAL_EBUSY; /* a runtime runs on this thread */
  sub s;
  sub_init(&s, fn, arg, "portal call");
  s.call = 1;
  pthread_mutex_init(&s.mu, NULL);
  pthread_cond_init(&s.cv, NULL);
  int rc = submit(p, &s);
  if (rc == 0) {
    pthread_mutex_lock(&s.mu);
    while (!s.done) pthread_cond_wait(&s.cv, &s.mu);
    pthread_mutex_unlock(&s.mu);
    rc = s.code;
    if (result) *result = s.result;
  }
  pthread_cond_destroy(&s.cv);
  pthread_mutex_destroy(&s.mu);
  return rc;
}
