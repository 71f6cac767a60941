/* Stack slots.
 *
 * Linux caps a process at vm.max_map_count (65530) mappings. One mmap per
 * stack plus an mprotect'ed guard page costs two VMAs per task and stalls
 * near 32k tasks. We map stacks in chunks of up to 64 slots (one VMA) and
 * guard each slot with MADV_GUARD_INSTALL, which marks guard pages inside a
 * mapping without splitting it. Older kernels fall back to mprotect while a
 * VMA budget lasts, then to canary words checked at every suspend. See
 * docs/stacks.md. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "stack.h"

#include "corral.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <ucontext.h>
#include <unistd.h>

#ifdef CORRAL_HAVE_VALGRIND
#include <valgrind/valgrind.h>
#endif

#include "sanitizer.h"
#include "ground/fault.h"

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

#define CORRAL__GUARD_BYTES ((size_t)16 * 1024)
#define CORRAL__CHUNK_TARGET ((size_t)64 * 1024 * 1024)
#define CORRAL__MPROTECT_BUDGET 8192

static int probe_guard_install(size_t page) {
  char *m = CORRAL__MMAP("stack_probe_mmap", ENOMEM,
                         mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  if (m == MAP_FAILED) return 0;
  int ok = CORRAL__SYS("stack_probe_madvise", EINVAL,
                       madvise(m, page, MADV_GUARD_INSTALL)) == 0;
  if (ok) {
    /* Some layers (qemu-user) accept the advice as a no-op hint: check that
     * the kernel now refuses to read the page. */
    int p[2];
    ok = 0;
    if (CORRAL__SYS("stack_probe_pipe", EMFILE, pipe(p)) == 0) {
      ok = write(p[1], m, 1) < 0 && errno == EFAULT;
      close(p[0]);
      close(p[1]);
    }
  }
  munmap(m, 2 * page);
  return ok;
}

void corral__stack_pool_init(corral__stack_pool *p, int allow_guard_install,
                             size_t cache_max, int paint,
                             void *(*alloc)(void *, size_t),
                             void (*dealloc)(void *, void *), void *actx) {
  memset(p, 0, sizeof *p);
  p->page = (size_t)sysconf(_SC_PAGESIZE);
  p->guard_bytes = CORRAL__GUARD_BYTES < p->page ? p->page : CORRAL__GUARD_BYTES;
  p->cache_max = cache_max;
  p->paint = paint;
  p->alloc = alloc;
  p->dealloc = dealloc;
  p->actx = actx;
  p->mprotect_budget = CORRAL__MPROTECT_BUDGET;
  p->mode = (allow_guard_install && probe_guard_install(p->page))
                ? CORRAL__GUARD_INSTALL
                : CORRAL__GUARD_MPROTECT;
  p->pidfd = -1;
#if defined(SYS_process_madvise) && defined(SYS_pidfd_open)
  int vg = 0;
#ifdef CORRAL_HAVE_VALGRIND
  vg = RUNNING_ON_VALGRIND; /* older Valgrinds do not know pidfd_open */
#endif
  if (p->mode == CORRAL__GUARD_INSTALL && !vg)
    p->pidfd = (int)CORRAL__SYS("stack_pidfd_open", EMFILE,
                                syscall(SYS_pidfd_open, getpid(), 0));
#endif
}

/* One vectored madvise over the same range of every slot of a chunk (the
 * guard zones, or the top stack pages). 0 if the kernel did it all. */
static int chunk_madvise(corral__stack_pool *p, char *map, size_t n,
                         size_t slot, size_t off, size_t len, int advice) {
#if defined(SYS_process_madvise)
  struct iovec v[64];
  if (p->pidfd < 0 || n > 64) return -1;
  for (size_t i = 0; i < n; i++)
    v[i] = (struct iovec){map + i * slot + off, len};
  long done = CORRAL__SYS("stack_process_madvise", EINVAL,
                          syscall(SYS_process_madvise, p->pidfd, v, n, advice, 0));
  return done == (long)(n * len) ? 0 : -1;
#else
  (void)p, (void)map, (void)n, (void)slot, (void)off, (void)len, (void)advice;
  return -1;
#endif
}

const char *corral__stack_mode_name(int mode) {
  switch (mode) {
  case CORRAL__GUARD_INSTALL: return "guard-install";
  case CORRAL__GUARD_MPROTECT: return "mprotect";
  default: return "canary";
  }
}

static void slot_register(corral__stack *s) {
#ifdef CORRAL_HAVE_VALGRIND
  s->vgid = VALGRIND_STACK_REGISTER(s->lo, s->lo + s->size);
#else
  (void)s;
#endif
}

static int new_chunk(corral__stack_pool *p, corral__sizepool *sp) {
  size_t slot = p->guard_bytes + sp->size;
  size_t n = CORRAL__CHUNK_TARGET / slot;
  if (n < 1) n = 1;
  if (n > 64) n = 64;
  corral__chunk *c = p->alloc(p->actx, sizeof *c + n * sizeof(corral__stack));
  if (!c) return -ENOMEM;
  size_t len = n * slot;
  char *m = CORRAL__MMAP("stack_mmap", ENOMEM,
                         mmap(NULL, len, PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0));
  if (m == MAP_FAILED) {
    p->dealloc(p->actx, c);
    return -ENOMEM;
  }
#ifdef MADV_NOHUGEPAGE
  /* THP would back a touched stack page with 2 MiB. */
  (void)CORRAL__SYS("stack_madvise_nohuge", EINVAL, madvise(m, len, MADV_NOHUGEPAGE));
#endif
  c->map = m;
  c->maplen = len;
  c->nslots = n;
  c->given = 0;
  /* Fresh slots cost a guard install and a page fault each; where the kernel
   * allows, do both for the whole chunk in two calls (the top page of every
   * slot is touched by its first task anyway). */
  c->guarded = p->mode == CORRAL__GUARD_INSTALL &&
               chunk_madvise(p, m, n, slot, 0, p->guard_bytes,
                             MADV_GUARD_INSTALL) == 0;
  if (c->guarded && !p->paint)
    (void)chunk_madvise(p, m, n, slot, slot - p->page, p->page,
                        MADV_POPULATE_WRITE);
  c->next = sp->chunks;
  sp->chunks = c;
  p->mapped_chunks++;
  return 0;
}

static corral__stack *carve(corral__stack_pool *p, corral__sizepool *sp) {
  corral__chunk *c = sp->chunks;
  if (!c || c->given == c->nslots) return NULL;
  size_t slot = p->guard_bytes + sp->size;
  char *g = c->map + c->given * slot;
  corral__stack *s = &c->slots[c->given++];
  s->lo = g + p->guard_bytes;
  s->size = (uint32_t)sp->size;
  s->pool = sp;
  s->next = NULL;
  s->warm = 0;
  s->used = 0;
  s->guard = CORRAL__GUARD_CANARY;
  if (c->guarded) {
    s->guard = CORRAL__GUARD_INSTALL;
  } else if (p->mode == CORRAL__GUARD_INSTALL &&
             CORRAL__SYS("stack_guard_install", EINVAL,
                         madvise(g, p->guard_bytes, MADV_GUARD_INSTALL)) == 0) {
    s->guard = CORRAL__GUARD_INSTALL;
  } else if (p->mprotect_budget > 0 &&
             CORRAL__SYS("stack_mprotect", ENOMEM,
                         mprotect(g, p->guard_bytes, PROT_NONE)) == 0) {
    p->mprotect_budget--;
    s->guard = CORRAL__GUARD_MPROTECT;
  }
  if (s->guard == CORRAL__GUARD_CANARY) p->ncanary++;
  slot_register(s);
  return s;
}

int corral__stack_acquire(corral__stack_pool *p, size_t size,
                          corral__stack **out) {
  *out = NULL;
  if (size < CORRAL_STACK_MIN || size > CORRAL_STACK_MAX) return -EINVAL;
  size = (size + p->page - 1) & ~(p->page - 1);
  corral__sizepool *sp = p->pools, **link = &p->pools;
  while (sp && sp->size != size) link = &sp->next, sp = sp->next;
  if (sp && link != &p->pools) { /* to the front: the fast path looks there */
    *link = sp->next;
    sp->next = p->pools;
    p->pools = sp;
  }
  if (!sp) {
    sp = p->alloc(p->actx, sizeof *sp);
    if (!sp) return -ENOMEM;
    memset(sp, 0, sizeof *sp);
    sp->size = size;
    sp->next = p->pools;
    p->pools = sp;
  }
  corral__stack *s = sp->warm;
  if (s) {
    sp->warm = s->next;
    sp->nwarm--;
  } else if ((s = sp->cold) != NULL) {
    sp->cold = s->next;
  } else {
    s = carve(p, sp);
    if (!s) {
      int rc = new_chunk(p, sp);
      if (rc) return rc;
      s = carve(p, sp);
    }
  }
  s->next = NULL;
  s->used = 1;
  if (p->paint) memset(s->lo, CORRAL__PAINT, s->size - 64);
  if (s->guard == CORRAL__GUARD_CANARY) *(uint64_t *)s->lo = CORRAL__CANARY;
  *out = s;
  return 0;
}

void corral__stack_trim(corral__stack_pool *p, uint64_t now_ns, size_t max) {
  if (now_ns - p->last_trim_ns < 1000000000ull) return;
  p->last_trim_ns = now_ns;
  for (corral__sizepool *sp = p->pools; sp && max; sp = sp->next) {
    size_t excess = sp->nwarm > p->cache_max ? sp->nwarm - p->cache_max : 0;
    size_t goal = sp->nwarm - (excess + 1) / 2;
    while (sp->nwarm > goal && max) {
      corral__stack *s = sp->warm;
      sp->warm = s->next;
      sp->nwarm--;
      max--;
      /* Give the pages back but keep the slot (and its guard). */
      (void)CORRAL__SYS("stack_madvise_dontneed", EINVAL,
                        madvise(s->lo, s->size, MADV_DONTNEED));
      s->warm = 0;
      s->next = sp->cold;
      sp->cold = s;
    }
  }
}

size_t corral__stack_peak(const corral__stack_pool *p, const corral__stack *s) {
  if (!p->paint) return 0;
#ifdef CORRAL_HAVE_VALGRIND
  /* The scan reads the unused part of the stack, which may be below the
   * stack pointer of the task doing it (a task measures its own stack as it
   * ends). */
  VALGRIND_MAKE_MEM_DEFINED(s->lo, s->size - 64);
#endif
  size_t i = s->guard == CORRAL__GUARD_CANARY ? sizeof(uint64_t) : 0;
  while (i < s->size - 64 && (unsigned char)s->lo[i] == CORRAL__PAINT) i++;
  return s->size - i;
}

int corral__stack_guard_hit(const corral__stack_pool *p, const corral__stack *s,
                            const void *addr) {
  const char *a = addr;
  return s && a < s->lo && a >= s->lo - p->guard_bytes;
}

void corral__stack_pool_destroy(corral__stack_pool *p) {
  corral__sizepool *sp = p->pools;
  while (sp) {
    corral__sizepool *nsp = sp->next;
    corral__chunk *c = sp->chunks;
    while (c) {
      corral__chunk *nc = c->next;
#ifdef CORRAL_HAVE_VALGRIND
      for (size_t i = 0; i < c->given; i++)
        VALGRIND_STACK_DEREGISTER(c->slots[i].vgid);
#endif
      munmap(c->map, c->maplen);
      p->dealloc(p->actx, c);
      c = nc;
    }
    p->dealloc(p->actx, sp);
    sp = nsp;
  }
  p->pools = NULL;
  if (p->pidfd >= 0) close(p->pidfd);
  p->pidfd = -1;
}

/* ---- overflow reporting ---- */

static _Thread_local const corral__fault_hook *tl_hook;
static struct sigaction old_segv, old_bus;
static pthread_once_t fault_once = PTHREAD_ONCE_INIT;
#define ALTSTACK_SIZE ((size_t)64 * 1024)

static void put(const char *s) {
  size_t n = strlen(s);
  while (n) {
    ssize_t w = write(2, s, n);
    if (w <= 0) return;
    s += w;
    n -= (size_t)w;
  }
}

static void put_num(size_t v) {
  char buf[24];
  int i = 23;
  buf[i] = 0;
  do {
    buf[--i] = (char)('0' + v % 10);
    v /= 10;
  } while (v && i > 0);
  put(buf + i);
}

static void report(const char *name, const corral__stack *s,
                   const char *how) {
  put("corral: stack overflow in task '");
  put(name ? name : "?");
  put("' (stack of ");
  put_num(s ? s->size : 0);
  put(" bytes; ");
  put(how);
  put(")\n");
}

void corral__stack_overflow_abort(const char *name, const corral__stack *s) {
  report(name, s, "canary overwritten");
  abort();
}

/* The stack pointer when the fault happened, or NULL where unknown. */
static const char *fault_sp(void *uctx) {
#if defined(__linux__) && defined(__x86_64__)
  return (const char *)((ucontext_t *)uctx)->uc_mcontext.gregs[REG_RSP];
#elif defined(__linux__) && defined(__aarch64__)
  return (const char *)((ucontext_t *)uctx)->uc_mcontext.sp;
#else
  (void)uctx;
  return NULL;
#endif
}

/* Why a fault of the running task is an overflow of its stack, or NULL:
 * the address is in its guard zone, or its stack pointer has left its stack
 * downwards (a frame larger than the guard, or the canary mode's missing
 * guard: the fault then comes from further below). */
static const char *overflow_how(const corral__stack_pool *pool,
                                const corral__stack *s, const void *addr,
                                const char *sp) {
  if (corral__stack_guard_hit(pool, s, addr)) return "guard page hit";
  if (sp && sp < s->lo && sp >= s->lo - ((size_t)1 << 30))
    return "stack pointer below the stack";
  const char *a = addr;
  if (a < s->lo && a >= s->lo - ((size_t)s->size + pool->guard_bytes))
    return "fault just below the stack";
  return NULL;
}

static void on_fault(int sig, siginfo_t *si, void *uctx) {
  const corral__fault_hook *h = tl_hook;
  if (h) {
    const char *name = NULL;
    const corral__stack_pool *pool = NULL;
    const corral__stack *s = h->who(h->ctx, &name, &pool);
    const char *how =
        s && pool ? overflow_how(pool, s, si->si_addr, fault_sp(uctx)) : NULL;
    if (how) {
      report(name, s, how);
      signal(sig, SIG_DFL); /* returning re-faults and kills us honestly */
      return;
    }
  }
  struct sigaction *old = sig == SIGSEGV ? &old_segv : &old_bus;
  if (old->sa_flags & SA_SIGINFO) {
    if (old->sa_sigaction) {
      old->sa_sigaction(sig, si, uctx);
      return;
    }
  } else if (old->sa_handler != SIG_DFL && old->sa_handler != SIG_IGN &&
             old->sa_handler) {
    old->sa_handler(sig);
    return;
  }
  signal(sig, SIG_DFL);
}

static void install_once(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_fault;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGSEGV, &sa, &old_segv);
  sigaction(SIGBUS, &sa, &old_bus);
}

int corral__fault_begin(const corral__fault_hook *hook, void **altstack) {
  *altstack = NULL;
  pthread_once(&fault_once, install_once);
  stack_t cur;
  if (sigaltstack(NULL, &cur) == 0 && (cur.ss_flags & SS_DISABLE)) {
    void *m = CORRAL__MMAP("altstack_mmap", ENOMEM,
                           mmap(NULL, ALTSTACK_SIZE, PROT_READ | PROT_WRITE,
                                MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    if (m != MAP_FAILED) {
      stack_t ss = {.ss_sp = m, .ss_size = ALTSTACK_SIZE, .ss_flags = 0};
      if (CORRAL__SYS("sigaltstack", ENOMEM, sigaltstack(&ss, NULL)) == 0)
        *altstack = m;
      else
        munmap(m, ALTSTACK_SIZE);
    }
  }
  tl_hook = hook;
  return 0;
}

void corral__fault_end(void *altstack) {
  tl_hook = NULL;
  if (altstack) {
    stack_t ss = {.ss_sp = NULL, .ss_size = 0, .ss_flags = SS_DISABLE};
    sigaltstack(&ss, NULL);
    munmap(altstack, ALTSTACK_SIZE);
  }
}
