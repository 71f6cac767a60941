/* Rendering of the live view (view.h). */
#include "view.h"

#include <stdio.h>
#include <string.h>

/* One line of the frame: what `line` holds, cut to the width, then erase
 * to the end of the row. */
static void put_line(cli_buf *out, cli_buf *line, int width, int *n) {
  cli_buf_add_visible(out, line->data ? line->data : "", line->len, width);
  cli_buf_adds(out, "\033[K\n");
  cli_buf_reset(line);
  (*n)++;
}

void cli_view_render(const cli_view_state *s, cli_buf *out, int *lines) {
  /* Every line stays a column short of the terminal's width and the frame
   * a row short of its height: a line that wrapped, or a frame that
   * scrolled, would make the next frame's erase miss rows. */
  int width = (s->width > 0 ? s->width : 80) - 1;
  if (width < 1) width = 1;
  int budget = s->height > 1 ? s->height - 1 : s->height == 1 ? 1 : 12;
  uint64_t done = s->ok + s->failed + s->cancelled;
  char eta[32] = "", el[32];
  cli_format_duration(s->elapsed_ns, el, sizeof el);
  cli_buf line = {0};
  int n = 0;
  cli_buf_adds(out, "\r");
  if (s->total_known && s->total > 0) {
    int barw = width >= 72 ? 24 : width >= 56 ? 12 : 0; /* no bar on a narrow terminal */
    if (barw) {
      int fill = (int)((double)done / (double)s->total * barw);
      if (fill > barw) fill = barw;
      cli_buf_addc(&line, '[');
      for (int i = 0; i < barw; i++) cli_buf_addc(&line, i < fill ? '#' : '.');
      cli_buf_adds(&line, "] ");
    }
    if (done > 0 && done < s->total) {
      double per = (double)s->elapsed_ns / (double)done;
      cli_format_duration((int64_t)(per * (double)(s->total - done)), eta, sizeof eta);
    }
    cli_buf_printf(&line, "%3d%% %llu/%llu", (int)(100.0 * (double)done / (double)s->total),
                   (unsigned long long)done, (unsigned long long)s->total);
  } else {
    cli_buf_printf(&line, "%llu done", (unsigned long long)done);
  }
  cli_buf_printf(&line, "  ok %llu  failed %llu", (unsigned long long)s->ok,
                 (unsigned long long)s->failed);
  if (s->cancelled) cli_buf_printf(&line, "  cancelled %llu", (unsigned long long)s->cancelled);
  cli_buf_printf(&line, "  running %llu  %s", (unsigned long long)s->running, el);
  if (*eta) cli_buf_printf(&line, "  ETA %s", eta);
  put_line(out, &line, width, &n);
  if (s->note && n < budget) {
    cli_buf_printf(&line, "  %s", s->note);
    put_line(out, &line, width, &n);
  }
  size_t room = (size_t)(budget - n), show = s->njobs;
  if (s->max_jobs >= 0 && show > (size_t)s->max_jobs) show = (size_t)s->max_jobs;
  if (show > room) show = room;
  if (show < s->njobs && show == room && show > 0) show--; /* the "... and N more" line */
  for (size_t i = 0; i < show; i++) {
    char e[32];
    cli_format_duration(s->jobs[i].elapsed_ns, e, sizeof e);
    cli_buf_printf(&line, "  #%-5llu %7s  %s", (unsigned long long)s->jobs[i].seq, e, s->jobs[i].cmd);
    put_line(out, &line, width, &n);
  }
  if (s->njobs > show && n < budget) {
    cli_buf_printf(&line, "  ... and %zu more", s->njobs - show);
    put_line(out, &line, width, &n);
  }
  cli_buf_free(&line);
  *lines = n;
}

void cli_view_erase(int lines, cli_buf *out) {
  if (lines <= 0) return;
  cli_buf_printf(out, "\r\033[%dA\033[J", lines);
}
