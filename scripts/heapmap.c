/* heapmap: an LD_PRELOAD library that names what fills and grows libc's
 * main heap (the brk area), for the soak's RSS diagnosis
 * (docs/reliability.md, "Soak").
 *
 *   cc -O2 -shared -fPIC -o heapmap.so scripts/heapmap.c -ldl
 *   LD_PRELOAD=./heapmap.so SOAK_SMAPS=60,235 build/tests/soak 240
 *
 * It wraps malloc, calloc, realloc, free and the aligned allocations
 * (calling glibc's __libc_* functions underneath) and keeps, for every live
 * block, its size and its call site (a backtrace of 8 frames). Every call
 * that moved the heap's end (sbrk) is counted against its site. A program
 * calls heapmap_dump(path) (found with dlsym) to write: the heap's range,
 * the sites by live bytes inside the heap, the sites that grew the heap,
 * and the live blocks of the heap's top 256 KiB by address (the ones that
 * keep it from shrinking). Backtraces are symbolized in the dump.
 *
 * The constructor removes LD_PRELOAD from the environment, so the
 * program's children do not load it. */
#define _GNU_SOURCE 1
#include <dlfcn.h>
#include <execinfo.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
extern void *__libc_memalign(size_t, size_t);

#define DEPTH 8
#define NSITES 8192
#define NBLOCKS (1u << 22)

typedef struct {
  uintptr_t pc[DEPTH];
  int used;
  long live, live_bytes, heap_live, heap_bytes, allocs, grew, grew_bytes;
} site;

typedef struct {
  uintptr_t p;  /* 0 empty, 1 deleted */
  size_t size;
  unsigned site;
  unsigned long seq;
} block;

static site sites[NSITES];
static block *blocks;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static __thread int inside;
static uintptr_t heap_lo;
static unsigned long seq;
static int ready;

static unsigned hash_ptr(uintptr_t p) { return (unsigned)((p >> 4) * 0x9e3779b1u) & (NBLOCKS - 1); }

static unsigned site_of(void) {
  void *bt[DEPTH + 2];
  int n = backtrace(bt, DEPTH + 2);
  uintptr_t pc[DEPTH] = {0};
  for (int i = 2; i < n; i++) pc[i - 2] = (uintptr_t)bt[i];
  uint64_t h = 1469598103934665603ull;
  for (int i = 0; i < DEPTH; i++) h = (h ^ pc[i]) * 1099511628211ull;
  for (unsigned k = 0, s = (unsigned)(h % NSITES); k < NSITES; k++, s = (s + 1) % NSITES) {
    if (!sites[s].used) {
      sites[s].used = 1;
      memcpy(sites[s].pc, pc, sizeof pc);
      return s;
    }
    if (!memcmp(sites[s].pc, pc, sizeof pc)) return s;
  }
  return 0;
}

static int in_heap(uintptr_t p) { return p >= heap_lo && p < (uintptr_t)sbrk(0); }

static void add(void *ptr, size_t size, unsigned s, int heap) {
  uintptr_t p = (uintptr_t)ptr;
  for (unsigned i = hash_ptr(p);; i = (i + 1) & (NBLOCKS - 1))
    if (blocks[i].p <= 1) {
      blocks[i] = (block){p, size, s, ++seq};
      break;
    }
  sites[s].live++;
  sites[s].live_bytes += (long)size;
  sites[s].allocs++;
  if (heap) {
    sites[s].heap_live++;
    sites[s].heap_bytes += (long)size;
  }
}

static void del(void *ptr) {
  uintptr_t p = (uintptr_t)ptr;
  for (unsigned i = hash_ptr(p);; i = (i + 1) & (NBLOCKS - 1)) {
    if (blocks[i].p == 0) return;
    if (blocks[i].p == p) {
      site *s = &sites[blocks[i].site];
      s->live--;
      s->live_bytes -= (long)blocks[i].size;
      if (in_heap(p)) {
        s->heap_live--;
        s->heap_bytes -= (long)blocks[i].size;
      }
      blocks[i].p = 1;
      return;
    }
  }
}

/* Record one allocation made by `call` (already done): the site, and
 * whether the heap's end moved. */
static void note(void *ptr, size_t size, uintptr_t brk0) {
  if (!ptr) return;
  uintptr_t brk1 = (uintptr_t)sbrk(0);
  unsigned s = site_of();
  add(ptr, size, s, in_heap((uintptr_t)ptr));
  if (brk1 > brk0) {
    sites[s].grew++;
    sites[s].grew_bytes += (long)(brk1 - brk0);
  }
}

#define WRAP(expr, size)                                   \
  do {                                                     \
    if (!ready || inside) return expr;                     \
    inside = 1;                                            \
    pthread_mutex_lock(&mu);                               \
    uintptr_t brk0 = (uintptr_t)sbrk(0);                   \
    void *r = expr;                                        \
    note(r, size, brk0);                                   \
    pthread_mutex_unlock(&mu);                             \
    inside = 0;                                            \
    return r;                                              \
  } while (0)

void *malloc(size_t n) { WRAP(__libc_malloc(n), n); }
void *calloc(size_t a, size_t b) { WRAP(__libc_calloc(a, b), a * b); }
void *memalign(size_t al, size_t n) { WRAP(__libc_memalign(al, n), n); }
void *aligned_alloc(size_t al, size_t n) { WRAP(__libc_memalign(al, n), n); }
void *valloc(size_t n) { WRAP(__libc_memalign((size_t)getpagesize(), n), n); }
int posix_memalign(void **out, size_t al, size_t n) {
  void *p = memalign(al, n);
  if (!p) return 12;
  *out = p;
  return 0;
}

void free(void *p) {
  if (!p) return;
  if (!ready || inside) {
    __libc_free(p);
    return;
  }
  inside = 1;
  pthread_mutex_lock(&mu);
  del(p);
  __libc_free(p);
  pthread_mutex_unlock(&mu);
  inside = 0;
}

void *realloc(void *p, size_t n) {
  if (!ready || inside) return __libc_realloc(p, n);
  inside = 1;
  pthread_mutex_lock(&mu);
  uintptr_t brk0 = (uintptr_t)sbrk(0);
  if (p) del(p);
  void *r = __libc_realloc(p, n);
  if (!r && p && n) {
    /* the old block stays: count it again under this site */
    note(p, n, brk0);
  } else {
    note(r, n, brk0);
  }
  pthread_mutex_unlock(&mu);
  inside = 0;
  return r;
}

__attribute__((constructor)) static void init(void) {
  inside = 1;
  void *bt[2];
  backtrace(bt, 2); /* loads libgcc_s now, outside the wrappers */
  blocks = __libc_calloc(NBLOCKS, sizeof *blocks);
  heap_lo = (uintptr_t)sbrk(0);
  unsetenv("LD_PRELOAD");
  inside = 0;
  ready = blocks != NULL;
}

static void print_site(FILE *f, site *s) {
  for (int i = 0; i < DEPTH && s->pc[i]; i++) {
    Dl_info di;
    if (dladdr((void *)s->pc[i], &di) && di.dli_fname) {
      const char *fn = strrchr(di.dli_fname, '/');
      fprintf(f, "      %s+0x%lx %s+0x%lx\n", di.dli_sname ? di.dli_sname : "?",
              (unsigned long)(s->pc[i] - (uintptr_t)di.dli_saddr),
              fn ? fn + 1 : di.dli_fname, (unsigned long)(s->pc[i] - (uintptr_t)di.dli_fbase));
    } else {
      fprintf(f, "      0x%lx\n", (unsigned long)s->pc[i]);
    }
  }
}

static int by_heap_bytes(const void *a, const void *b) {
  const site *x = *(site *const *)a, *y = *(site *const *)b;
  return (y->heap_bytes > x->heap_bytes) - (y->heap_bytes < x->heap_bytes);
}
static int by_grew(const void *a, const void *b) {
  const site *x = *(site *const *)a, *y = *(site *const *)b;
  return (y->grew_bytes > x->grew_bytes) - (y->grew_bytes < x->grew_bytes);
}
static int by_addr(const void *a, const void *b) {
  const block *x = a, *y = b;
  return (x->p > y->p) - (x->p < y->p);
}

void heapmap_dump(const char *path) {
  inside = 1;
  pthread_mutex_lock(&mu);
  FILE *f = fopen(path, "w");
  if (!f) goto out;
  uintptr_t hi = (uintptr_t)sbrk(0);
  fprintf(f, "heap %#lx-%#lx (%lu KiB)\n", (unsigned long)heap_lo, (unsigned long)hi,
          (unsigned long)((hi - heap_lo) / 1024));
  static site *order[NSITES];
  int n = 0;
  long total = 0;
  for (int i = 0; i < NSITES; i++)
    if (sites[i].used) {
      order[n++] = &sites[i];
      total += sites[i].heap_bytes;
    }
  fprintf(f, "\nlive bytes in the heap: %ld\nsites by live bytes in the heap:\n", total);
  qsort(order, (size_t)n, sizeof *order, by_heap_bytes);
  for (int i = 0; i < n && i < 25 && order[i]->heap_bytes > 0; i++) {
    fprintf(f, "  site %ld: %ld blocks, %ld bytes in the heap (%ld live anywhere, %ld allocations)\n",
            (long)(order[i] - sites), order[i]->heap_live, order[i]->heap_bytes, order[i]->live,
            order[i]->allocs);
    print_site(f, order[i]);
  }
  fprintf(f, "\nsites whose call moved the heap's end:\n");
  qsort(order, (size_t)n, sizeof *order, by_grew);
  for (int i = 0; i < n && order[i]->grew > 0; i++) {
    fprintf(f, "  site %ld: %ld times, %ld bytes\n", (long)(order[i] - sites), order[i]->grew,
            order[i]->grew_bytes);
    print_site(f, order[i]);
  }
  /* the live blocks in the top 256 KiB of the heap */
  static block top[65536];
  int m = 0;
  for (unsigned i = 0; i < NBLOCKS && m < 65536; i++)
    if (blocks[i].p > 1 && blocks[i].p >= hi - 262144 && blocks[i].p < hi) top[m++] = blocks[i];
  qsort(top, (size_t)m, sizeof *top, by_addr);
  fprintf(f, "\nlive blocks in the heap's top 256 KiB (offset from the end, size, site, sequence of %lu):\n", seq);
  for (int i = 0; i < m; i++)
    fprintf(f, "  -%lu %zu site %u seq %lu\n", (unsigned long)(hi - top[i].p), top[i].size,
            top[i].site, top[i].seq);
  fclose(f);
out:
  pthread_mutex_unlock(&mu);
  inside = 0;
}
