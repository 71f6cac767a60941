/* The task tree, for corral_dump() and deadlock reports. */
#include "core/group.h"
#include "core/channel.h"

const char *corral__state_name(int st) {
  switch (st) {
  case CORRAL__T_NEW: return "new";
  case CORRAL__T_RUNNABLE: return "runnable";
  case CORRAL__T_RUNNING: return "running";
  case CORRAL__T_BLOCKED: return "blocked";
  default: return "done";
  }
}

static const char *wait_name(int w) {
  return (unsigned)w < CORRAL__W_COUNT ? corral__wait_names[w] : "?";
}

static void line_task(corral__rt *rt, corral_task *t, FILE *f, int depth) {
  fprintf(f, "%*s- task '%s' [%s]", depth * 2, "", t->name,
          corral__state_name(t->state));
  if (t->state == CORRAL__T_BLOCKED)
    fprintf(f, " waits on %s%s%s%s", wait_name(t->wait_kind),
            t->wait && t->wait->what ? " (" : "",
            t->wait && t->wait->what ? t->wait->what : "",
            t->wait && t->wait->what ? ")" : "");
  if (t->state == CORRAL__T_BLOCKED && t->wait)
    corral__sync_describe(t->wait_kind, t->wait->arg, f);
  if (corral__timer_armed(&t->timer))
    fprintf(f, ", deadline in %.3f ms",
            (double)(t->timer.deadline - corral__now(rt)) / 1e6);
  for (corral__scope *s = t->scope; s && s->owner == t; s = s->parent) {
    corral__timer *tm = corral__scope_timer(s);
    if (tm && corral__timer_armed(tm))
      fprintf(f, ", scope '%s' deadline in %.3f ms", s->name,
              (double)(tm->deadline - corral__now(rt)) / 1e6);
    if (s->cancelled) fprintf(f, ", scope '%s' cancelled", s->name);
    if (s->shield) fprintf(f, ", shielded by '%s'", s->name);
  }
  if (t->file && t->line)
    fprintf(f, ", spawned at %s:%d", t->file, t->line);
  else if (t->file)
    fprintf(f, ", spawned by %s", t->file);
  fputc('\n', f);
}

static void dump_task(corral__rt *rt, corral_task *t, FILE *f, int depth);

static void dump_group(corral__rt *rt, corral__group *g, FILE *f, int depth) {
  static const char *const pol[] = {"FAIL_FAST", "COLLECT", "FIRST", "QUORUM"};
  fprintf(f, "%*s+ group '%s' (%s, %zu running, %zu ok, %zu failed)%s\n",
          depth * 2, "", g->scope.name, pol[g->policy & 3], g->running,
          g->nsucc, g->nfail, g->scope.cancelled ? " cancelled" : "");
  for (corral_task *c = g->first_child; c; c = c->g_next)
    dump_task(rt, c, f, depth + 1);
}

static void dump_task(corral__rt *rt, corral_task *t, FILE *f, int depth) {
  line_task(rt, t, f, depth);
  /* open_groups is a stack, innermost first: print outermost first. */
  corral__group *stack[64];
  int n = 0;
  for (corral__group *g = t->open_groups; g && n < 64; g = g->prev_open)
    stack[n++] = g;
  while (n--) dump_group(rt, stack[n], f, depth + 1);
  if (t->implicit) dump_group(rt, t->implicit, f, depth + 1);
}

void corral__dump(corral__rt *rt, FILE *f) {
  corral__task_link(rt->sched.current); /* an eager task running inside spawn */
  fprintf(f, "corral task tree (%zu alive, clock %s, now %.6f s):\n",
          rt->sched.alive, rt->clock.virtual_clock ? "virtual" : "monotonic",
          (double)corral__now(rt) / 1e9);
  if (rt->root && !rt->root->finalized) dump_task(rt, rt->root, f, 1);
}

void corral_dump(FILE *f) {
  corral__rt *rt = corral__tl_rt;
  if (!rt || !f) return;
  corral__dump(rt, f);
}
