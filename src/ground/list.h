/* One intrusive list for every queue in the library: a circular, doubly
 * linked list whose head is a node of its own (libuv's src/queue.h is the
 * model). A node knows nothing of what embeds it; corral__container_of
 * gets the owner back. Every operation is O(1) and allocation-free. */
#ifndef CORRAL_GROUND_LIST_H
#define CORRAL_GROUND_LIST_H

#include <stdbool.h>
#include <stddef.h>

typedef struct corral__list {
  struct corral__list *next, *prev;
} corral__list;

static inline void corral__list_init(corral__list *h) { h->next = h->prev = h; }
static inline bool corral__list_empty(const corral__list *h) {
  return h->next == h;
}
/* A node that is in no list (after corral__list_init or _remove). */
static inline bool corral__list_linked(const corral__list *n) {
  return n->next != n;
}
static inline void corral__list_insert_tail(corral__list *h, corral__list *n) {
  n->next = h;
  n->prev = h->prev;
  n->prev->next = n;
  h->prev = n;
}
static inline void corral__list_insert_head(corral__list *h, corral__list *n) {
  n->prev = h;
  n->next = h->next;
  n->next->prev = n;
  h->next = n;
}
/* Unlink n (safe to call again: the node then points at itself). */
static inline void corral__list_remove(corral__list *n) {
  n->prev->next = n->next;
  n->next->prev = n->prev;
  n->next = n->prev = n;
}
static inline corral__list *corral__list_head(const corral__list *h) {
  return h->next == h ? NULL : h->next;
}

/* The same nodes in a ring with no head node: *first is NULL (empty) or
 * the oldest node. One pointer instead of a head node, for a list that sits
 * in every task. */
static inline void corral__ring_push(corral__list **first, corral__list *n) {
  if (*first) {
    corral__list_insert_tail(*first, n);
  } else {
    n->next = n->prev = n;
    *first = n;
  }
}
/* Unlink n from the ring (a no-op for a node already unlinked). */
static inline void corral__ring_remove(corral__list **first, corral__list *n) {
  if (*first == n) *first = n->next == n ? NULL : n->next;
  corral__list_remove(n);
}

#define corral__list_foreach(it, h)                                          \
  for (corral__list *it = (h)->next; it != (h); it = it->next)
/* Safe against removal of `it` inside the loop. */
#define corral__list_foreach_safe(it, nx, h)                                 \
  for (corral__list *it = (h)->next, *nx = it->next; it != (h);            \
       it = nx, nx = it->next)

#endif
