/* corral merge (merge.h). */
#include "merge.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static const char *const status_names[] = {"OK", "ERROR", "CANCELLED", "TIMED_OUT",
                                           "NOT_STARTED"};

int cli_merge(char *const *paths, size_t n, int summary_only, FILE *out) {
  json_int_t counts[5] = {0}, left = 0, escaped = 0, shard_count = 0;
  size_t summaries = 0, failures = 0;
  unsigned char *seen = NULL;
  json_t *reasons = json_array(); /* {log, shard, reason} per failed log */
  json_t *failed = json_array();  /* the failed shards' indices */
  int bad = 0;
  for (size_t i = 0; i < n; i++) {
    FILE *f = !strcmp(paths[i], "-") ? stdin : fopen(paths[i], "re");
    if (!f) {
      fprintf(stderr, "corral merge: cannot read %s: %s\n", paths[i], strerror(errno));
      bad = 1;
      continue;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    size_t lineno = 0;
    while ((len = getline(&line, &cap, f)) > 0) {
      lineno++;
      json_error_t je;
      json_t *o = json_loadb(line, (size_t)len, 0, &je);
      const char *type = o ? json_string_value(json_object_get(o, "type")) : NULL;
      if (!type) {
        fprintf(stderr, "corral merge: %s:%zu: not a corral JSON line\n", paths[i], lineno);
        bad = 1;
        json_decref(o);
        continue;
      }
      if (!strcmp(type, "job")) {
        if (!summary_only) fwrite(line, 1, (size_t)len, out);
      } else if (!strcmp(type, "summary")) {
        summaries++;
        json_t *c = json_object_get(o, "counts");
        for (int k = 0; k < 5; k++)
          counts[k] += json_integer_value(json_object_get(c, status_names[k]));
        left += json_integer_value(json_object_get(o, "processes_left"));
        escaped += json_integer_value(json_object_get(o, "escaped_killed"));
        const char *d = json_string_value(json_object_get(o, "decision"));
        json_t *sh = json_object_get(o, "shard");
        if (!d || strcmp(d, "success")) {
          failures++;
          const char *r = json_string_value(json_object_get(o, "reason"));
          json_t *fo = json_pack("{s:s,s:s}", "log", paths[i], "reason", r ? r : "?");
          if (sh) {
            json_t *idx = json_object_get(sh, "index");
            json_array_append(failed, idx);
            json_object_set(fo, "shard", idx);
          }
          json_array_append_new(reasons, fo);
        }
        if (sh) {
          json_int_t idx = json_integer_value(json_object_get(sh, "index"));
          json_int_t cnt = json_integer_value(json_object_get(sh, "count"));
          if (cnt > 0 && cnt <= 1000000 && (!shard_count || cnt == shard_count)) {
            if (!seen) seen = calloc((size_t)cnt, 1);
            shard_count = cnt;
            if (seen && idx >= 0 && idx < cnt && seen[idx]++) {
              /* its counts would be summed twice */
              fprintf(stderr, "corral merge: %s: shard %lld was already given by another log\n",
                      paths[i], (long long)idx);
              bad = 1;
            }
          }
        }
      }
      json_decref(o);
    }
    free(line);
    if (f != stdin) fclose(f);
  }
  json_t *missing = json_array();
  for (json_int_t k = 0; seen && k < shard_count; k++)
    if (!seen[k]) json_array_append_new(missing, json_integer(k));
  int ok = !bad && summaries > 0 && failures == 0 && json_array_size(missing) == 0;
  json_t *c = json_object();
  for (int k = 0; k < 5; k++) json_object_set_new(c, status_names[k], json_integer(counts[k]));
  json_t *o = json_pack("{s:s,s:s,s:I,s:o,s:I,s:I,s:o,s:o,s:o}", "type", "summary", "decision",
                        ok ? "success" : "failure", "logs", (json_int_t)summaries, "counts", c,
                        "processes_left", left, "escaped_killed", escaped, "failed_shards",
                        failed, "failures", reasons, "missing_shards", missing);
  if (shard_count) json_object_set_new(o, "shards", json_integer(shard_count));
  char *s = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
  if (s) {
    fputs(s, out);
    fputc('\n', out);
    free(s);
  }
  json_decref(o);
  free(seen);
  return bad ? 2 : ok ? 0 : 1;
}
