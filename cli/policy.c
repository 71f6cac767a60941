/* The decision engine behind --policy and --halt (policy.h). */
#include "policy.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse_count(const char *s, cli_policy *p) {
  size_t n = strlen(s);
  if (n > 1 && s[n - 1] == '%') {
    char *end;
    double v = strtod(s, &end);
    if (end != s + n - 1 || !(v > 0 && v <= 100)) return -1;
    p->pct = v;
    return 0;
  }
  uint64_t c;
  if (cli_parse_u64(s, &c) || c == 0) return -1;
  p->count = c;
  return 0;
}

int cli_policy_parse(const char *s, cli_policy *p, char *err, size_t errlen) {
  memset(p, 0, sizeof *p);
  snprintf(p->name, sizeof p->name, "%s", s);
  if (!strcmp(s, "all")) return p->when = CLI_WHEN_NEVER, 0;
  if (!strcmp(s, "fail-fast"))
    return p->when = CLI_WHEN_NOW, p->why = CLI_WHY_FAIL, p->count = 1, 0;
  if (!strcmp(s, "first"))
    return p->when = CLI_WHEN_NOW, p->why = CLI_WHY_SUCCESS, p->count = 1, 0;
  if (!strncmp(s, "quorum=", 7)) {
    uint64_t k;
    if (cli_parse_u64(s + 7, &k) == 0 && k > 0) {
      p->when = CLI_WHEN_NOW;
      p->why = CLI_WHY_QUORUM;
      p->count = k;
      return 0;
    }
  }
  snprintf(err, errlen,
           "unknown policy '%s': write --policy all, fail-fast, first or "
           "quorum=K (K >= 1)", s);
  return -1;
}

int cli_halt_parse(const char *s, cli_policy *p, char *err, size_t errlen) {
  memset(p, 0, sizeof *p);
  snprintf(p->name, sizeof p->name, "halt %s", s);
  p->halt = 1;
  /* GNU parallel's old numeric forms. */
  if (!strcmp(s, "0") || !strcmp(s, "never")) return p->when = CLI_WHEN_NEVER, 0;
  if (!strcmp(s, "1")) return p->when = CLI_WHEN_SOON, p->why = CLI_WHY_FAIL, p->count = 1, 0;
  if (!strcmp(s, "2")) return p->when = CLI_WHEN_NOW, p->why = CLI_WHY_FAIL, p->count = 1, 0;
  if (!strcmp(s, "-1")) return p->when = CLI_WHEN_SOON, p->why = CLI_WHY_SUCCESS, p->count = 1, 0;
  if (!strcmp(s, "-2")) return p->when = CLI_WHEN_NOW, p->why = CLI_WHY_SUCCESS, p->count = 1, 0;
  size_t n = strlen(s);
  if (n > 1 && s[n - 1] == '%' && !strchr(s, ',')) {
    p->when = CLI_WHEN_SOON;
    p->why = CLI_WHY_FAIL;
    if (parse_count(s, p) == 0 && p->pct < 100) return 0;
    goto bad;
  }
  const char *comma = strchr(s, ',');
  if (!comma) goto bad;
  if (!strncmp(s, "now,", 4)) p->when = CLI_WHEN_NOW;
  else if (!strncmp(s, "soon,", 5)) p->when = CLI_WHEN_SOON;
  else goto bad;
  const char *why = comma + 1, *eq = strchr(why, '=');
  if (!eq) goto bad;
  size_t wl = (size_t)(eq - why);
  if (wl == 4 && !strncmp(why, "fail", 4)) p->why = CLI_WHY_FAIL;
  else if (wl == 7 && !strncmp(why, "success", 7)) p->why = CLI_WHY_SUCCESS;
  else if (wl == 4 && !strncmp(why, "done", 4)) p->why = CLI_WHY_DONE;
  else goto bad;
  if (parse_count(eq + 1, p) == 0) return 0;
bad:
  snprintf(err, errlen,
           "cannot read --halt '%s': write --halt now,fail=1 (or "
           "soon|now,fail|success|done=N|N%%, or never)", s);
  return -1;
}

static uint64_t threshold(const cli_policy *p, const cli_tally *t, int *known) {
  *known = 1;
  if (p->pct <= 0) return p->count;
  if (!t->input_done) {
    *known = 0;
    return 0;
  }
  /* At least one job: "50% of 3" is 2 jobs (rounded up). */
  double x = p->pct * (double)t->total / 100.0;
  uint64_t k = (uint64_t)x;
  if ((double)k < x) k++;
  return k ? k : 1;
}

void cli_policy_decide(const cli_policy *p, const cli_tally *t,
                       uint64_t last_seq, int last_ok, cli_verdict *v) {
  if (v->triggered || p->when == CLI_WHEN_NEVER) return;
  int known;
  uint64_t k = threshold(p, t, &known);
  if (!known) return;
  cli_decision d = p->when == CLI_WHEN_NOW ? CLI_STOP_NOW : CLI_STOP_SOON;
  switch (p->why) {
  case CLI_WHY_FAIL:
    if (t->failed >= k) {
      v->triggered = 1, v->success = 0, v->decision = d;
      if (k == 1 && last_seq && !last_ok)
        snprintf(v->why, sizeof v->why, "job %llu failed (%s)",
                 (unsigned long long)last_seq, p->name);
      else
        snprintf(v->why, sizeof v->why, "%llu jobs failed (%s)",
                 (unsigned long long)t->failed, p->name);
    }
    break;
  case CLI_WHY_SUCCESS:
    if (t->ok >= k) {
      v->triggered = 1, v->success = 1, v->decision = d;
      if (k == 1 && last_seq && last_ok)
        snprintf(v->why, sizeof v->why, "job %llu succeeded first (%s)",
                 (unsigned long long)last_seq, p->name);
      else
        snprintf(v->why, sizeof v->why, "%llu jobs succeeded (%s)",
                 (unsigned long long)t->ok, p->name);
    }
    break;
  case CLI_WHY_DONE:
    if (t->ok + t->failed >= k) {
      v->triggered = 1, v->success = t->failed == 0, v->decision = d;
      snprintf(v->why, sizeof v->why, "%llu jobs done (%s)",
               (unsigned long long)(t->ok + t->failed), p->name);
    }
    break;
  case CLI_WHY_QUORUM:
    if (t->ok >= k) {
      v->triggered = 1, v->success = 1, v->decision = d;
      snprintf(v->why, sizeof v->why, "quorum of %llu reached", (unsigned long long)k);
    } else if (t->input_done && t->failed == 0 && t->total < k) {
      v->triggered = 1, v->success = 0, v->decision = d;
      snprintf(v->why, sizeof v->why, "quorum of %llu cannot be reached: %llu job%s",
               (unsigned long long)k, (unsigned long long)t->total, t->total == 1 ? "" : "s");
    } else if (t->input_done && (t->failed > t->total || t->total - t->failed < k)) {
      /* Even if every job not yet failed succeeded, k is out of reach. */
      v->triggered = 1, v->success = 0, v->decision = d;
      snprintf(v->why, sizeof v->why,
               "quorum of %llu impossible: %llu of %llu jobs failed",
               (unsigned long long)k, (unsigned long long)t->failed,
               (unsigned long long)t->total);
    }
    break;
  }
}

void cli_policy_final(const cli_policy *p, const cli_tally *t, cli_verdict *v) {
  if (v->triggered) return;
  cli_tally tt = *t;
  tt.input_done = 1;
  uint64_t seen = t->ok + t->failed + t->cancelled + t->running;
  if (tt.total < seen) tt.total = seen;
  cli_policy_decide(p, &tt, 0, 0, v);
  if (v->triggered) return;
  switch (p->when == CLI_WHEN_NEVER ? CLI_WHY_DONE : p->why) {
  case CLI_WHY_SUCCESS:
    v->success = 0;
    snprintf(v->why, sizeof v->why, "no job succeeded (%s)", p->name);
    if (t->ok) snprintf(v->why, sizeof v->why, "too few jobs succeeded (%s)", p->name);
    break;
  case CLI_WHY_QUORUM:
    v->success = 0;
    snprintf(v->why, sizeof v->why, "quorum of %llu not reached",
             (unsigned long long)p->count);
    break;
  default:
    v->success = t->failed == 0;
    if (t->failed)
      snprintf(v->why, sizeof v->why, "all jobs finished, %llu failed",
               (unsigned long long)t->failed);
    else
      snprintf(v->why, sizeof v->why, "all jobs finished");
  }
}

static int pct_up(uint64_t part, uint64_t whole) {
  if (!whole || !part) return 0;
  uint64_t v = (part * 100 + whole - 1) / whole;
  return v > 100 ? 100 : (int)v;
}

int cli_halt_status_at_trigger(const cli_policy *p, const cli_tally *t, int job_status) {
  if (p->why == CLI_WHY_SUCCESS || p->why == CLI_WHY_QUORUM) return 0;
  /* GNU parallel: a percentage that comes to exactly one job acts as
   * fail=1 (the job's own status) */
  if (p->pct > 0 && p->pct * (double)t->total / 100.0 == 1.0) return job_status;
  if (p->pct > 0) return pct_up(t->failed, t->total);
  if (p->count == 1) return job_status;
  return t->failed > 101 ? 101 : (int)t->failed;
}

int cli_halt_status_final(const cli_policy *p, const cli_tally *t) {
  if (p->pct > 0) return pct_up(t->failed, t->ok + t->failed);
  return t->failed > 101 ? 101 : (int)t->failed;
}
