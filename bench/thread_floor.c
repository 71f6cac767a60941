/* thread_floor: what a round trip between two threads costs on this
 * machine, without corral: the floor under corral_to_thread. A caller hands
 * a counter to a worker thread and waits for it to come back, 20,000 times,
 * four ways:
 *   futex        both sides sleep in FUTEX_WAIT, the other side wakes them
 *   futex+epoll  the worker answers through an eventfd the caller waits on
 *                in epoll_wait (how a finished call reaches an event loop)
 *   pause spin   both sides poll with pause instructions, never sleep
 *   yield spin   both sides poll with sched_yield() between looks
 * Prints the best and the mean round trip of each, in microseconds.
 *   thread_floor [rounds] */
#define _GNU_SOURCE
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

enum { FUTEX, FUTEX_EPOLL, PAUSE_SPIN, YIELD_SPIN, NMODES };
static const char *const names[NMODES] = {"futex", "futex+epoll", "pause spin",
                                          "yield spin"};
static _Atomic int req, rsp;
static int mode, efd, ep;
static long rounds = 20000;

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

static void futex_wait(_Atomic int *a, int old) {
  while (atomic_load(a) == old) syscall(SYS_futex, a, FUTEX_WAIT_PRIVATE, old, NULL, NULL, 0);
}
static void futex_wake(_Atomic int *a) {
  syscall(SYS_futex, a, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* Wait until *a == want, the way the mode says. */
static void await_value(_Atomic int *a, int want) {
  switch (mode) {
  case PAUSE_SPIN:
    while (atomic_load_explicit(a, memory_order_acquire) != want) relax();
    break;
  case YIELD_SPIN:
    while (atomic_load_explicit(a, memory_order_acquire) != want) sched_yield();
    break;
  default: futex_wait(a, want - 1);
  }
}

static void *worker(void *arg) {
  (void)arg;
  for (int i = 1; i <= rounds; i++) {
    await_value(&req, i);
    atomic_store(&rsp, i);
    if (mode == FUTEX) futex_wake(&rsp);
    if (mode == FUTEX_EPOLL) {
      uint64_t one = 1;
      if (write(efd, &one, sizeof one) != sizeof one) abort();
    }
  }
  return NULL;
}

int main(int argc, char **argv) {
  if (argc > 1) rounds = atol(argv[1]);
  if (rounds < 1) return 2;
  for (mode = 0; mode < NMODES; mode++) {
    atomic_store(&req, 0);
    atomic_store(&rsp, 0);
    efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN};
    if (efd < 0 || ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev)) return 1;
    pthread_t th;
    if (pthread_create(&th, NULL, worker, NULL)) return 1;
    int64_t best = INT64_MAX, t_all = now_ns();
    for (int i = 1; i <= rounds; i++) {
      int64_t t0 = now_ns();
      atomic_store(&req, i);
      if (mode == FUTEX || mode == FUTEX_EPOLL) futex_wake(&req);
      if (mode == FUTEX_EPOLL) {
        while (atomic_load(&rsp) != i) {
          struct epoll_event got;
          uint64_t v;
          if (epoll_wait(ep, &got, 1, -1) == 1 && read(efd, &v, sizeof v) < 0) {
          }
        }
      } else {
        await_value(&rsp, i);
      }
      int64_t d = now_ns() - t0;
      if (d < best) best = d;
    }
    double mean = (double)(now_ns() - t_all) / (double)rounds;
    pthread_join(th, NULL);
    close(efd);
    close(ep);
    printf("%-12s best %7.2f us   mean %7.2f us\n", names[mode], (double)best / 1e3,
           mean / 1e3);
  }
  return 0;
}
