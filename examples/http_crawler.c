/* Seed 003's crawler for real: a local site of 1,001 pages (nginx), links
 * followed to depth 2, at most 32 requests at once (gather's limit), best
 * effort: every URL gets its own outcome and a broken link does not stop
 * the crawl. Prints the outcome counts per depth and every URL that did
 * not answer 200. */
#include "http_common.h"

#define MAX_URLS 4096
#define MAX_DEPTH 2
#define LIMIT 32

typedef struct page {
  char *path;
  int depth;
  int status;      /* HTTP status, 0 if none */
  char **links;    /* paths found (depth < MAX_DEPTH only) */
  size_t nlinks;
} page;

static page pages[MAX_URLS];
static size_t npages;

static int seen(const char *path) {
  for (size_t i = 0; i < npages; i++)
    if (strcmp(pages[i].path, path) == 0) return 1;
  return 0;
}

static void add_page(const char *path, int depth) {
  if (npages < MAX_URLS && !seen(path))
    pages[npages++] = (page){strdup(path), depth, 0, NULL, 0};
}

static void extract_links(page *p, const char *html) {
  for (const char *s = html; (s = strstr(s, "href=\"")); ) {
    s += 6;
    const char *e = strchr(s, '"');
    if (!e) break;
    char **l = realloc(p->links, (p->nlinks + 1) * sizeof *l);
    if (!l) break;
    p->links = l;
    p->links[p->nlinks++] = strndup(s, (size_t)(e - s));
    s = e;
  }
}

static int fetch_page(void *arg, void **result) {
  (void)result;
  page *p = arg;
  char u[512];
  ex_url(u, sizeof u, ex_srv.nginx_port, p->path);
  corral_http_response r;
  corral_scope s; /* best effort: no page may take more than 5 s */
  corral_fail_after(&s, CORRAL_SEC(5));
  int rc = corral_http_get(ex_http, u, &r);
  rc = corral_scope_exit(&s, rc);
  if (rc) return rc;
  p->status = r.status;
  if (r.status == 200 && p->depth < MAX_DEPTH) extract_links(p, r.body);
  corral_http_response_free(&r);
  return 0; /* a 404 is an outcome, not a failure */
}

static int body(void *arg, void **result) {
  (void)arg, (void)result;
  add_page("/site/index.html", 0);
  size_t level_start = 0;
  size_t per_depth[MAX_DEPTH + 1] = {0}, ok = 0, not_found = 0, errors = 0;
  printf("Crawling http://127.0.0.1:%d/site/index.html to depth %d, "
         "%d requests at once\n", ex_srv.nginx_port, MAX_DEPTH, LIMIT);
  ex_start();
  for (int depth = 0; depth <= MAX_DEPTH && level_start < npages; depth++) {
    size_t level_end = npages, n = level_end - level_start;
    corral_call *calls = calloc(n, sizeof *calls);
    corral_outcome *out = calloc(n, sizeof *out);
    if (!calls || !out) return CORRAL_ENOMEM;
    for (size_t i = 0; i < n; i++)
      calls[i] = (corral_call){fetch_page, &pages[level_start + i], "page"};
    corral_gather_opts o = {.policy = CORRAL_GATHER_ALL, .limit = LIMIT};
    int64_t t0 = corral_now();
    int grc = corral_gather(calls, n, out, &o);
    if (grc && grc != CORRAL_EGROUP) { /* EGROUP: failures are in out[] */
      corral_outcomes_clear(out, n);
      free(out);
      free(calls);
      return grc;
    }
    for (size_t i = 0; i < n; i++) {
      page *p = &pages[level_start + i];
      per_depth[depth]++;
      if (out[i].status != CORRAL_STATUS_OK) {
        errors++;
        printf("  %-28s %s\n", p->path,
               out[i].error ? corral_error_message(out[i].error)
                            : corral_status_name(out[i].status));
      } else if (p->status == 200) {
        ok++;
      } else {
        not_found += p->status == 404;
        printf("  %-28s %d %s\n", p->path, p->status,
               corral_http_status_name(p->status));
      }
      for (size_t k = 0; k < p->nlinks; k++) add_page(p->links[k], depth + 1);
    }
    printf("depth %d: %zu URLs in %.3fs\n", depth, n,
           (double)(corral_now() - t0) / 1e9);
    corral_outcomes_clear(out, n);
    free(out);
    free(calls);
    level_start = level_end;
  }
  double elapsed = ex_elapsed();
  corral_http_client_stats st;
  corral_http_client_stats_get(ex_http, &st);
  printf("Crawled %zu URLs in %.2fs (%.0f pages/s) over %llu connections: "
         "%zu OK, %zu Not Found, %zu errors\n",
         npages, elapsed, (double)npages / elapsed,
         (unsigned long long)st.connections, ok, not_found, errors);
  for (size_t i = 0; i < npages; i++) {
    for (size_t k = 0; k < pages[i].nlinks; k++) free(pages[i].links[k]);
    free(pages[i].links);
    free(pages[i].path);
  }
  return per_depth[0] == 1 && per_depth[1] == 10 && per_depth[2] == 1000 &&
                 ok == 1001 && not_found == 10 && errors == 0
             ? 0
             : CORRAL_EIO;
}

int main(int argc, char **argv) { return ex_http_run(argc, argv, body); }
