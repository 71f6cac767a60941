/* The I/O layer: the handle registry, awaiting requests, bounce buffers. */
#include "io/io.h"

void corral__io_init(corral__rt *rt) { corral__list_init(&rt->io.handles); }

void corral__io_close_all(corral__rt *rt) {
  corral__list *n;
  while ((n = corral__list_head(&rt->io.handles)) != NULL) {
    corral__handle *h = corral__container_of(n, corral__handle, node);
    h->close(h);
    if (corral__list_head(&rt->io.handles) == n) /* a close that forgot */
      corral__list_remove(n);
  }
}

int corral__ioreq_wait(corral_task *self, corral__ioreq *r, int kind,
                       const corral__wait *w) {
  while (!r->done) {
    r->task = self;
    int rc = corral__park(self, kind, w, CORRAL_FOREVER);
    r->task = NULL;
    if (rc && !r->done) return rc;
  }
  return r->result;
}

char *corral__io_bounce(corral_task *self, const void *buf, size_t *len,
                        int *err) {
  const corral__stack *st = self->compact ? self->stack : NULL;
  *err = 0;
  if (!st || (const char *)buf < st->lo || (const char *)buf >= st->lo + st->size)
    return NULL;
  if (*len > 65536) *len = 65536;
  char *b = corral__malloc(self->rt, *len ? *len : 1);
  if (!b) *err = CORRAL_ENOMEM;
  return b;
}
