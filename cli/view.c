/* Rendering of the live view (view.h). */
#include "view.h"

#include <stdio.h>
#include <string.h>

static void add_trunc(cli_buf *out, const char *s, int width) {
  /* Cut at the width; a control character would break the frame. */
  int n = 0;
  for (const char *p = s; *p && n < width; p++, n++)
    cli_buf_addc(out, (unsigned char)*p < 0x20 ? ' ' : *p);
  if (s[n] && n > 0) {
    out->len--;
    cli_buf_adds(out, "~");
  }
}

void cli_view_render(const cli_view_state *s, cli_buf *out, int *lines) {
  int width = s->width > 20 ? s->width : 80;
  uint64_t done = s->ok + s->failed + s->cancelled;
  char head[256], eta[32] = "", el[32];
  cli_format_duration(s->elapsed_ns, el, sizeof el);
  int barw = 24;
  cli_buf_adds(out, "\r");
  if (s->total_known && s->total > 0) {
    int fill = (int)((double)done / (double)s->total * barw);
    if (fill > barw) fill = barw;
    cli_buf_addc(out, '[');
    for (int i = 0; i < barw; i++) cli_buf_addc(out, i < fill ? '#' : '.');
    cli_buf_addc(out, ']');
    if (done > 0 && done < s->total) {
      double per = (double)s->elapsed_ns / (double)done;
      cli_format_duration((int64_t)(per * (double)(s->total - done)), eta, sizeof eta);
    }
    snprintf(head, sizeof head, " %3d%% %llu/%llu", (int)(100.0 * (double)done / (double)s->total),
             (unsigned long long)done, (unsigned long long)s->total);
  } else {
    snprintf(head, sizeof head, "%llu done", (unsigned long long)done);
  }
  cli_buf_adds(out, head);
  cli_buf_printf(out, "  ok %llu  failed %llu", (unsigned long long)s->ok,
                 (unsigned long long)s->failed);
  if (s->cancelled) cli_buf_printf(out, "  cancelled %llu", (unsigned long long)s->cancelled);
  cli_buf_printf(out, "  running %llu  %s", (unsigned long long)s->running, el);
  if (*eta) cli_buf_printf(out, "  ETA %s", eta);
  cli_buf_adds(out, "\033[K\n");
  int n = 1;
  if (s->note) {
    cli_buf_adds(out, "  ");
    add_trunc(out, s->note, width - 3);
    cli_buf_adds(out, "\033[K\n");
    n++;
  }
  size_t show = s->njobs;
  if (s->max_jobs >= 0 && show > (size_t)s->max_jobs) show = (size_t)s->max_jobs;
  for (size_t i = 0; i < show; i++) {
    char e[32], pre[64];
    cli_format_duration(s->jobs[i].elapsed_ns, e, sizeof e);
    int l = snprintf(pre, sizeof pre, "  #%-5llu %7s  ", (unsigned long long)s->jobs[i].seq, e);
    cli_buf_adds(out, pre);
    add_trunc(out, s->jobs[i].cmd, width - l - 1);
    cli_buf_adds(out, "\033[K\n");
    n++;
  }
  if (s->njobs > show) {
    cli_buf_printf(out, "  ... and %zu more\033[K\n", s->njobs - show);
    n++;
  }
  *lines = n;
}

void cli_view_erase(int lines, cli_buf *out) {
  if (lines <= 0) return;
  cli_buf_printf(out, "\r\033[%dA\033[J", lines);
}
