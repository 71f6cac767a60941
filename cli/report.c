/* Statistics, JSON lines, the summary table and the exit status of a run
 * (engine_int.h). */
#include "engine_int.h"

#include <jansson.h>

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ------------------------------------------------------------------ JSON */

double cli_epoch_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A JSON string from bytes: invalid UTF-8 becomes U+FFFD (JSON strings
 * are Unicode; the byte counts keep the exact sizes). */
static json_t *jstr_n(const char *p, size_t n) {
  if (!p) return json_string("");
  json_t *v = json_stringn(p, n);
  if (v) return v;
  cli_buf b = {0};
  const unsigned char *s = (const unsigned char *)p;
  for (size_t i = 0; i < n;) {
    size_t l = s[i] < 0x80 ? 1 : (s[i] & 0xe0) == 0xc0 ? 2 : (s[i] & 0xf0) == 0xe0 ? 3
             : (s[i] & 0xf8) == 0xf0 ? 4 : 0;
    int ok = l > 0 && i + l <= n && s[i] != 0;
    for (size_t k = 1; ok && k < l; k++) ok = (s[i + k] & 0xc0) == 0x80;
    if (ok) {
      json_t *t = json_stringn((const char *)s + i, l);
      ok = t != NULL;
      json_decref(t);
    }
    if (ok) {
      cli_buf_add(&b, s + i, l);
      i += l;
    } else {
      cli_buf_adds(&b, "\xEF\xBF\xBD");
      i++;
    }
  }
  v = json_stringn(b.data ? b.data : "", b.len);
  cli_buf_free(&b);
  return v ? v : json_string("");
}

/* One JSON line, written whole (standard output: under its lock). */
static void json_emit(engine *e, json_t *o) {
  char *s = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(16));
  json_decref(o);
  if (!s) return;
  size_t n = strlen(s);
  s[n] = '\n'; /* json_dumps's NUL becomes the line's end */
  cli_sink_put(e, e->json_stdout ? CLI_SINK_OUT : CLI_SINK_JSON, s, n + 1);
  free(s);
}

/* A spool as a JSON string written in pieces (--json on standard output:
 * a job's output may be larger than memory should hold). ASCII out, as
 * json_dumps with JSON_ENSURE_ASCII; bytes that are not UTF-8 become
 * U+FFFD, as jstr_n does. The caller holds the sink's lock. */
static int put_json_string(engine *e, const cli_spool *sp) {
  enum { CHUNK = 32 * 1024 };
  unsigned char *in = malloc(CHUNK + 4);
  cli_buf out = {0};
  if (!in) return -ENOMEM;
  int rc = cli_sink_write(e, CLI_SINK_OUT, "\"", 1);
  size_t carry = 0, got;
  uint64_t off = 0;
  for (;;) {
    got = cli_spool_read(sp, off, (char *)in + carry, CHUNK);
    off += got;
    size_t n = carry + got, i = 0;
    int last = got == 0;
    while (i < n) {
      unsigned c = in[i];
      size_t l = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3
               : (c & 0xf8) == 0xf0 ? 4 : 0;
      if (l > 1 && i + l > n && !last) break; /* finish it with the next piece */
      uint32_t cp = c;
      int ok = l > 0 && i + l <= n;
      if (ok && l > 1) {
        cp = c & (0xff >> (l + 1));
        for (size_t k = 1; ok && k < l; k++) {
          ok = (in[i + k] & 0xc0) == 0x80;
          cp = cp << 6 | (in[i + k] & 0x3f);
        }
        /* overlong forms, surrogates, beyond U+10FFFF: not UTF-8 */
        static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
        ok = ok && cp >= min[l] && cp <= 0x10ffff && (cp < 0xd800 || cp > 0xdfff);
      }
      if (!ok) cp = 0xfffd, l = 1;
      if (cp == '"') cli_buf_adds(&out, "\\\"");
      else if (cp == '\\') cli_buf_adds(&out, "\\\\");
      else if (cp == '\n') cli_buf_adds(&out, "\\n");
      else if (cp == '\t') cli_buf_adds(&out, "\\t");
      else if (cp == '\r') cli_buf_adds(&out, "\\r");
      else if (cp >= 0x20 && cp < 0x7f) cli_buf_addc(&out, (char)cp);
      else if (cp < 0x10000) cli_buf_printf(&out, "\\u%04x", (unsigned)cp);
      else cli_buf_printf(&out, "\\u%04x\\u%04x", (unsigned)(0xd800 + ((cp - 0x10000) >> 10)),
                          (unsigned)(0xdc00 + ((cp - 0x10000) & 0x3ff)));
      i += l;
    }
    carry = n - i;
    memmove(in, in + i, carry);
    if (rc == 0 && out.len) rc = cli_sink_write(e, CLI_SINK_OUT, out.data, out.len);
    cli_buf_reset(&out);
    if (last || rc) break;
  }
  if (rc == 0) rc = cli_sink_write(e, CLI_SINK_OUT, "\"", 1);
  cli_buf_free(&out);
  free(in);
  return rc;
}

/* A job's line with its output inside, on standard output, whole. */
static void json_emit_with_output(engine *e, json_t *o, job *j) {
  char *s = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(16));
  json_decref(o);
  if (!s) return;
  size_t n = strlen(s);
  s[n - 1] = ','; /* the object goes on: its closing brace comes last */
  corral_scope sh;
  memset(&sh, 0, sizeof sh);
  int on = corral_current() && corral_shield(&sh, CORRAL_FOREVER) == 0;
  if (cli_sink_lock(e, CLI_SINK_OUT) == 0) {
    int rc = cli_sink_write(e, CLI_SINK_OUT, s, n);
    if (rc == 0) rc = cli_sink_write(e, CLI_SINK_OUT, "\"stdout\":", 9);
    if (rc == 0) rc = put_json_string(e, &j->out);
    if (rc == 0) rc = cli_sink_write(e, CLI_SINK_OUT, ",\"stderr\":", 10);
    if (rc == 0) rc = put_json_string(e, &j->err);
    if (rc == 0) rc = cli_sink_write(e, CLI_SINK_OUT, "}\n", 2);
    cli_sink_unlock(e, CLI_SINK_OUT);
  }
  if (on && corral_scope_exit(&sh, 0)) {
    /* nothing inside was cancellable */
  }
  free(s);
}

void cli_json_job(engine *e, job *j) {
  if (!e->json) return;
  json_t *o = json_object();
  json_object_set_new(o, "type", json_string("job"));
  json_object_set_new(o, "seq", json_integer((json_int_t)j->seq));
  json_t *in = json_array();
  for (size_t i = 0; i < j->args.n; i++)
    json_array_append_new(in, jstr_n(j->args.v[i], strlen(j->args.v[i])));
  json_object_set_new(o, "input", in);
  json_object_set_new(o, "command", jstr_n(j->cmd, strlen(j->cmd)));
  json_object_set_new(o, "status", json_string(cli_jobstatus_name(j->status)));
  if (j->status == CLI_JOB_NOT_STARTED) {
    json_object_set_new(o, "cancel", json_pack("{s:s,s:s}", "by", e->stop_by,
                                               "reason", e->stop_why));
  } else {
    json_object_set_new(o, "exit_code", j->sig || j->attempts == 0 ? json_null()
                                                                   : json_integer(j->exit_code));
    char sb[16];
    json_object_set_new(o, "signal", j->sig ? json_string(cli_signame(j->sig, sb, sizeof sb))
                                            : json_null());
    json_object_set_new(o, "start", json_real(j->epoch0));
    double dur = (double)(j->t1 - j->t0) / 1e9;
    json_object_set_new(o, "end", json_real(j->epoch0 + dur));
    json_object_set_new(o, "duration_s", json_real(dur));
    json_object_set_new(o, "attempts", json_integer(j->attempts));
    json_object_set_new(o, "retries", json_integer(j->attempts > 0 ? j->attempts - 1 : 0));
    json_object_set_new(o, "slot", json_integer(j->slot));
    json_object_set_new(o, "stdout_bytes", json_integer((json_int_t)j->bytes[1]));
    json_object_set_new(o, "stderr_bytes", json_integer((json_int_t)j->bytes[2]));
    if (e->c->http) {
      json_object_set_new(o, "url", jstr_n(j->cmd, strlen(j->cmd)));
      json_object_set_new(o, "http_status", j->http_status ? json_integer(j->http_status) : json_null());
      json_object_set_new(o, "hedged", json_boolean(j->hedged));
    }
    if (j->status == CLI_JOB_CANCELLED || j->status == CLI_JOB_TIMED_OUT)
      json_object_set_new(o, "cancel", json_pack("{s:s,s:s}", "by", j->by, "reason", j->why));
    else if (j->status == CLI_JOB_ERROR && j->why[0])
      json_object_set_new(o, "error", json_string(j->why));
    if (e->json_stdout && (j->out.fd >= 0 || j->err.fd >= 0)) {
      /* With the JSON log on standard output, the jobs' output is in it;
       * a large one is written from its file, piece by piece. */
      json_emit_with_output(e, o, j);
      return;
    }
    if (e->json_stdout) {
      json_object_set_new(o, "stdout", jstr_n(j->out.mem.data, j->out.mem.len));
      json_object_set_new(o, "stderr", jstr_n(j->err.mem.data, j->err.mem.len));
    }
  }
  json_emit(e, o);
}

/* ------------------------------------------------------------ statistics */

static int hist_bucket(int64_t ns) {
  if (ns < 1000) return 0;
  int b = (int)(log((double)ns / 1000.0) / log(1.02)) + 1;
  return b < HIST_N ? b : HIST_N - 1;
}

int64_t cli_median_ns(engine *e) {
  if (e->hist_n < 3) return 0;
  uint64_t half = (e->hist_n + 1) / 2, acc = 0;
  for (int b = 0; b < HIST_N; b++) {
    acc += e->hist[b];
    if (acc >= half) return b == 0 ? 1000 : (int64_t)(1000.0 * pow(1.02, b));
  }
  return 0;
}

void cli_record_stats(engine *e, job *j) {
  int64_t ns = j->t1 - j->t0;
  if (j->status == CLI_JOB_OK) {
    e->hist[hist_bucket(ns)]++;
    e->hist_n++;
  }
  if (j->attempts > 0) {
    int k = -1;
    for (int i = 0; i < SLOWEST; i++)
      if (e->slow[i].seq == 0 || e->slow[i].ns < ns) {
        k = i;
        break;
      }
    if (k >= 0) {
      memmove(&e->slow[k + 1], &e->slow[k], (SLOWEST - 1 - k) * sizeof e->slow[0]);
      e->slow[k].seq = j->seq;
      e->slow[k].ns = ns;
      snprintf(e->slow[k].cmd, sizeof e->slow[k].cmd, "%s", j->cmd);
    }
  }
  if ((j->status == CLI_JOB_ERROR || j->status == CLI_JOB_TIMED_OUT) && e->nfails < FAIL_KEEP) {
    fail_rec *f = &e->fails[e->nfails++];
    f->seq = j->seq;
    f->status = j->status;
    f->exit_code = j->exit_code;
    f->sig = j->sig;
    snprintf(f->cmd, sizeof f->cmd, "%s", j->cmd);
    /* the last 3 lines of its stderr */
    const char *t = j->tail.data ? j->tail.data : "";
    size_t l = j->tail.len;
    while (l && t[l - 1] == '\n') l--;
    size_t s = l;
    for (int lines = 0; s > 0; s--)
      if (t[s - 1] == '\n' && ++lines == 3) break;
    if (l - s >= sizeof f->tail) s = l - (sizeof f->tail - 1);
    memcpy(f->tail, t + s, l - s);
    f->tail[l - s] = 0;
    if (!f->tail[0] && j->why[0]) snprintf(f->tail, sizeof f->tail, "%s", j->why);
  }
}

/* The rest of a summary line that started `start` bytes (all ASCII) ago:
 * a job's command or its stderr, with control characters made visible (a
 * job's text must not drive the terminal) and, on a terminal, cut to its
 * width so the table keeps its shape. */
static void put_text(engine *e, cli_buf *b, size_t start, const char *s, size_t n) {
  int cols = -1;
  if (e->view_on) {
    cols = e->tty_cols - 1 - (int)(b->len - start);
    if (cols < 8) cols = 8;
  }
  cli_buf_add_visible(b, s, n, cols);
  cli_buf_addc(b, '\n');
}

void cli_print_summary(engine *e, int64_t elapsed) {
  cli_buf b = {0};
  size_t at;
  char d[32];
  cli_format_duration(elapsed, d, sizeof d);
  uint64_t total = e->tally.ok + e->tally.failed + e->tally.cancelled;
  cli_buf_printf(&b, "corral: %llu jobs in %s: %llu ok, %llu failed, %llu cancelled",
                 (unsigned long long)total, d, (unsigned long long)e->tally.ok,
                 (unsigned long long)e->tally.failed, (unsigned long long)e->tally.cancelled);
  if (e->not_started) cli_buf_printf(&b, ", %llu not started", (unsigned long long)e->not_started);
  cli_buf_printf(&b, "\n  decision: %s (%s)\n", e->verdict.success ? "success" : "failure", e->verdict.why);
  if (e->slow[0].seq) {
    cli_buf_adds(&b, "  slowest:\n");
    for (int i = 0; i < SLOWEST && e->slow[i].seq; i++) {
      cli_format_duration(e->slow[i].ns, d, sizeof d);
      at = b.len;
      cli_buf_printf(&b, "    #%-5llu %8s  ", (unsigned long long)e->slow[i].seq, d);
      put_text(e, &b, at, e->slow[i].cmd, strlen(e->slow[i].cmd));
    }
  }
  if (e->nfails) {
    cli_buf_adds(&b, "  failures:\n");
    for (size_t i = 0; i < e->nfails; i++) {
      fail_rec *f = &e->fails[i];
      char sb[16];
      at = b.len;
      if (f->status == CLI_JOB_TIMED_OUT)
        cli_buf_printf(&b, "    #%-5llu timed out     ", (unsigned long long)f->seq);
      else if (f->sig)
        cli_buf_printf(&b, "    #%-5llu killed by %-4s ", (unsigned long long)f->seq,
                       cli_signame(f->sig, sb, sizeof sb));
      else
        cli_buf_printf(&b, "    #%-5llu exit %-8d ", (unsigned long long)f->seq, f->exit_code);
      put_text(e, &b, at, f->cmd, strlen(f->cmd));
      for (char *line = f->tail, *nl; line && *line; line = nl ? nl + 1 : NULL) {
        nl = strchr(line, '\n');
        at = b.len;
        cli_buf_adds(&b, "           | ");
        put_text(e, &b, at, line, nl ? (size_t)(nl - line) : strlen(line));
      }
    }
    if (e->tally.failed > e->nfails)
      cli_buf_printf(&b, "    ... and %llu more\n", (unsigned long long)(e->tally.failed - e->nfails));
  }
  cli_buf_printf(&b, "  processes left behind: %llu", (unsigned long long)e->left_behind);
  if (e->strays)
    cli_buf_printf(&b, " (%llu escaped process%s killed)", (unsigned long long)e->strays,
                   e->strays == 1 ? "" : "es");
  cli_buf_addc(&b, '\n');
  cli_sink_put(e, CLI_SINK_ERR, b.data, b.len);
  cli_buf_free(&b);
}

int cli_exit_status(engine *e) {
  if (e->stop_sig) return 128 + e->stop_sig;
  if (e->deadline_hit) return CLI_EXIT_DEADLINE;
  if (e->out_closed && e->sink[CLI_SINK_OUT].err == -EPIPE) return CLI_EXIT_PIPE;
  if (e->own_error) return CLI_EXIT_INTERNAL;
  const cli_policy *p = &e->c->policy;
  if (p->halt && p->when != CLI_WHEN_NEVER) /* GNU parallel's statuses */
    return e->verdict.triggered ? e->halt_status : cli_halt_status_final(p, &e->tally);
  if (e->verdict.success) return 0;
  if (e->verdict.triggered && p->why == CLI_WHY_FAIL && p->count == 1)
    return e->halt_status ? e->halt_status : 1;
  uint64_t f = e->tally.failed;
  return f == 0 ? 1 : f > 101 ? 101 : (int)f;
}

void cli_summary_json(engine *e, int status, int64_t elapsed) {
  if (!e->json) return;
  json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:b}", "type", "summary", "policy",
                        e->c->policy.name[0] ? e->c->policy.name : "all", "decision",
                        e->verdict.success ? "success" : "failure", "reason", e->verdict.why,
                        "input_complete", e->input_ended);
  json_t *c = json_pack("{s:I,s:I,s:I,s:I,s:I}", "OK", (json_int_t)e->tally.ok, "ERROR",
                        (json_int_t)(e->tally.failed - e->timed_out), "CANCELLED",
                        (json_int_t)e->tally.cancelled, "TIMED_OUT", (json_int_t)e->timed_out,
                        "NOT_STARTED", (json_int_t)e->not_started);
  json_object_set_new(o, "counts", c);
  json_object_set_new(o, "stopped_by", e->stop_by[0] ? json_string(e->stop_by) : json_null());
  json_object_set_new(o, "duration_s", json_real((double)elapsed / 1e9));
  json_object_set_new(o, "processes_left", json_integer((json_int_t)e->left_behind));
  json_object_set_new(o, "escaped_killed", json_integer((json_int_t)e->strays));
  char cont[64];
  snprintf(cont, sizeof cont, "process-group%s%s", e->subreaper ? "+subreaper" : "",
           e->cg_used ? "+cgroup" : "");
  json_object_set_new(o, "containment", json_string(cont));
  json_object_set_new(o, "exit_status", json_integer(status));
  if (e->c->shard_n)
    json_object_set_new(o, "shard", json_pack("{s:I,s:I}", "index", (json_int_t)e->c->shard_i,
                                              "count", (json_int_t)e->c->shard_n));
  json_emit(e, o);
}

