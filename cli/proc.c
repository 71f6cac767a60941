/* Child processes on the runtime's libuv loop (proc.h). */
#include "proc.h"

#include <corral.h>
#include <uv.h>

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>

#include "util.h"

struct cli_proc {
  uv_process_t proc;
  uv_pipe_t pipe[3];
  int piped[3], open_handles;
  int exited, exit_status, term_signal, eofs, pipes_wanted, freed;
  pid_t pid;
  corral_event exit_ev, eof_ev;
  void (*on_data)(void *, int, const char *, size_t);
  void *ctx;
  char rbuf[65536];
};

static const struct { const char *name; int sig; } signames[] = {
    {"TERM", SIGTERM}, {"KILL", SIGKILL}, {"INT", SIGINT}, {"HUP", SIGHUP},
    {"QUIT", SIGQUIT}, {"USR1", SIGUSR1}, {"USR2", SIGUSR2}, {"ALRM", SIGALRM},
    {"CONT", SIGCONT}, {"STOP", SIGSTOP}, {"PIPE", SIGPIPE}, {"ABRT", SIGABRT},
    {"SEGV", SIGSEGV}, {"BUS", SIGBUS}, {"FPE", SIGFPE}, {"ILL", SIGILL},
    {"TRAP", SIGTRAP}, {"XCPU", SIGXCPU}, {"XFSZ", SIGXFSZ}};

const char *cli_signame(int sig, char *buf, size_t len) {
  for (size_t i = 0; i < sizeof signames / sizeof *signames; i++)
    if (signames[i].sig == sig) return signames[i].name;
  snprintf(buf, len, "%d", sig);
  return buf;
}

static int parse_sig(const char *s, size_t n) {
  if (n > 3 && !strncasecmp(s, "SIG", 3)) s += 3, n -= 3;
  if (n && isdigit((unsigned char)*s)) {
    int v = 0;
    for (size_t i = 0; i < n; i++) {
      if (!isdigit((unsigned char)s[i])) return -1;
      v = v * 10 + (s[i] - '0');
      if (v > 64) return -1;
    }
    return v > 0 ? v : -1;
  }
  for (size_t i = 0; i < sizeof signames / sizeof *signames; i++)
    if (strlen(signames[i].name) == n && !strncasecmp(s, signames[i].name, n))
      return signames[i].sig;
  return -1;
}

void cli_termseq_default(cli_termseq *ts) {
  memset(ts, 0, sizeof *ts);
  ts->step[0].sig = SIGTERM;
  ts->step[0].wait_ns = 2 * CLI_NS_PER_SEC;
  ts->step[1].sig = SIGKILL;
  ts->step[1].wait_ns = 0;
  ts->n = 2;
}

int cli_termseq_parse(const char *s, cli_termseq *ts, char *err, size_t errlen) {
  memset(ts, 0, sizeof *ts);
  const char *p = s;
  int want_sig = 1;
  while (*p) {
    size_t n = strcspn(p, ",");
    char tok[64];
    if (n == 0 || n >= sizeof tok) goto bad;
    memcpy(tok, p, n);
    tok[n] = 0;
    if (want_sig) {
      int sig = parse_sig(tok, n);
      if (sig < 0 || ts->n == CLI_TERMSEQ_MAX) goto bad;
      ts->step[ts->n].sig = sig;
      ts->step[ts->n].wait_ns = 0;
      ts->n++;
      want_sig = 0;
    } else {
      int64_t ns;
      uint64_t ms;
      if (cli_parse_u64(tok, &ms) == 0) ns = (int64_t)ms * CLI_NS_PER_MS;
      else if (cli_parse_duration(tok, &ns) != 0) {
        /* Not a time: a signal right after a signal, wait 0. */
        int sig = parse_sig(tok, n);
        if (sig < 0 || ts->n == CLI_TERMSEQ_MAX) goto bad;
        ts->step[ts->n].sig = sig;
        ts->n++;
        p += n;
        if (*p) p++;
        continue;
      }
      ts->step[ts->n - 1].wait_ns = ns;
      want_sig = 1;
    }
    p += n;
    if (*p) {
      p++;
      if (!*p) goto bad;
    }
  }
  if (ts->n == 0) goto bad;
  return 0;
bad:
  snprintf(err, errlen,
           "cannot read --term-seq '%s': write signals and waits, e.g. "
           "--term-seq TERM,2s,KILL (bare numbers are milliseconds)", s);
  return -1;
}

/* ---- the libuv side ---- */

static void maybe_free(cli_proc *p) {
  if (p->freed && p->open_handles == 0) free(p);
}

static void on_close(uv_handle_t *h) {
  cli_proc *p = h->data;
  p->open_handles--;
  maybe_free(p);
}

static void on_exit_cb(uv_process_t *h, int64_t status, int sig) {
  cli_proc *p = h->data;
  p->exited = 1;
  p->exit_status = (int)status;
  p->term_signal = sig;
  uv_close((uv_handle_t *)h, on_close);
  corral_event_set(&p->exit_ev);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  (void)hint;
  cli_proc *p = h->data;
  buf->base = p->rbuf;
  buf->len = sizeof p->rbuf;
}

static void pipe_done(cli_proc *p, int which) {
  if (!p->piped[which]) return;
  p->piped[which] = 0;
  uv_read_stop((uv_stream_t *)&p->pipe[which]);
  uv_close((uv_handle_t *)&p->pipe[which], on_close);
  if (p->on_data) p->on_data(p->ctx, which, NULL, 0);
  if (++p->eofs == p->pipes_wanted) corral_event_set(&p->eof_ev);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  cli_proc *p = s->data;
  int which = s == (uv_stream_t *)&p->pipe[1] ? 1 : 2;
  if (n > 0) {
    if (p->on_data) p->on_data(p->ctx, which, buf->base, (size_t)n);
  } else if (n < 0) {
    pipe_done(p, which); /* EOF or error: the stream ended */
  }
}

int cli_proc_spawn(const cli_proc_opts *o, cli_proc **out) {
  *out = NULL;
  uv_loop_t *loop = corral_loop();
  if (!loop) return CORRAL_ENOTASK;
  cli_proc *p = calloc(1, sizeof *p);
  if (!p) return -ENOMEM;
  corral_event_init(&p->exit_ev);
  corral_event_init(&p->eof_ev);
  p->on_data = o->on_data;
  p->ctx = o->ctx;
  uv_stdio_container_t st[3];
  for (int i = 0; i < 3; i++) {
    switch (o->io[i]) {
    case CLI_IO_INHERIT:
      st[i].flags = UV_INHERIT_FD;
      st[i].data.fd = i;
      break;
    case CLI_IO_NULL:
      st[i].flags = UV_IGNORE; /* libuv opens /dev/null for 0-2 */
      break;
    case CLI_IO_FD:
      st[i].flags = UV_INHERIT_FD;
      st[i].data.fd = o->fd[i];
      break;
    case CLI_IO_PIPE:
      if (i == 0) { /* input pipes are not needed by the command */
        st[i].flags = UV_IGNORE;
        break;
      }
      uv_pipe_init(loop, &p->pipe[i], 0);
      p->pipe[i].data = p;
      p->open_handles++;
      p->piped[i] = 1;
      p->pipes_wanted++;
      st[i].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
      st[i].data.stream = (uv_stream_t *)&p->pipe[i];
      break;
    }
  }
  uv_process_options_t po;
  memset(&po, 0, sizeof po);
  po.exit_cb = on_exit_cb;
  po.file = o->argv[0];
  po.args = o->argv;
  po.env = o->env;
  po.cwd = o->cwd;
  po.stdio = st;
  po.stdio_count = 3;
  /* setsid(): the child leads a new session and process group, so a kill
   * of -pid reaches all of it and the terminal's Ctrl-C does not: corral
   * runs the termination sequence itself. */
  po.flags = UV_PROCESS_DETACHED;
  p->proc.data = p;
  int rc = uv_spawn(loop, &p->proc, &po);
  if (rc < 0) {
    /* libuv wants the handle closed even when spawn failed. */
    p->open_handles++;
    uv_close((uv_handle_t *)&p->proc, on_close);
    for (int i = 1; i < 3; i++)
      if (p->piped[i]) {
        p->piped[i] = 0;
        uv_close((uv_handle_t *)&p->pipe[i], on_close);
      }
    p->freed = 1;
    maybe_free(p);
    return rc;
  }
  p->open_handles++;
  p->pid = p->proc.pid;
  for (int i = 1; i < 3; i++)
    if (p->piped[i]) uv_read_start((uv_stream_t *)&p->pipe[i], on_alloc, on_read);
  if (p->pipes_wanted == 0) corral_event_set(&p->eof_ev);
  *out = p;
  return 0;
}

pid_t cli_proc_pid(const cli_proc *p) { return p->pid; }
int cli_proc_exited(const cli_proc *p) { return p->exited; }
int cli_proc_exit_status(const cli_proc *p) { return p->exit_status; }
int cli_proc_term_signal(const cli_proc *p) { return p->term_signal; }

int cli_proc_signal(cli_proc *p, int sig) {
  if (p->pid <= 0) return -ESRCH;
  return kill(-p->pid, sig) == 0 ? 0 : -errno;
}

/* Is anything of the process group left? Reap what of it became our child
 * (we are a subreaper on Linux, so orphans of the job come to us). */
static int group_alive(cli_proc *p) {
  while (waitpid(-p->pid, NULL, WNOHANG) > 0) {
  }
  return kill(-p->pid, 0) == 0;
}

/* Wait for ev with a timeout, inside whatever shield the caller holds.
 * Returns 1 if the event is set. */
static int wait_event_for(corral_event *ev, int64_t ns) {
  if (corral_event_is_set(ev)) return 1;
  if (ns <= 0) return 0;
  corral_scope s;
  corral_move_on_after(&s, ns);
  int rc = corral_event_wait(ev);
  corral_scope_exit(&s, rc);
  return corral_event_is_set(ev);
}

/* Poll until the group is gone or ns passed. */
static int wait_group_for(cli_proc *p, int64_t ns) {
  int64_t end = corral_now() + ns;
  while (group_alive(p)) {
    int64_t left = end - corral_now();
    if (left <= 0) return 0;
    corral_sleep(left < 10 * CLI_NS_PER_MS ? left : 10 * CLI_NS_PER_MS);
  }
  return 1;
}

/* Run the sequence on the group until the leader is reaped (leader) or
 * the whole group is gone (!leader). Always ends with SIGKILL. */
static void terminate(cli_proc *p, const cli_termseq *ts, int leader) {
  cli_termseq def;
  if (!ts || ts->n == 0) {
    cli_termseq_default(&def);
    ts = &def;
  }
  for (size_t i = 0; i < ts->n; i++) {
    kill(-p->pid, ts->step[i].sig);
    if (ts->step[i].sig == SIGSTOP) continue;
    int gone = leader ? wait_event_for(&p->exit_ev, ts->step[i].wait_ns)
                      : wait_group_for(p, ts->step[i].wait_ns);
    if (gone) return;
  }
  kill(-p->pid, SIGKILL);
  kill(-p->pid, SIGCONT);
  if (leader) {
    while (!corral_event_is_set(&p->exit_ev)) corral_event_wait(&p->exit_ev);
  } else {
    wait_group_for(p, 5 * CLI_NS_PER_SEC);
  }
}

int cli_proc_wait(cli_proc *p, const cli_termseq *ts) {
  int rc = corral_event_wait(&p->exit_ev);
  int cancelled = rc != 0;
  corral_scope sh;
  corral_shield(&sh, 0); /* cleanup below must finish even when cancelled */
  if (cancelled) terminate(p, ts, 1);
  /* The leader is reaped; end what is left of its group. */
  if (group_alive(p)) terminate(p, ts, 0);
  /* Output streams end once every writer is gone; a process that left the
   * group may still hold one: stop reading after a short while. */
  if (!wait_event_for(&p->eof_ev, 200 * CLI_NS_PER_MS)) {
    for (int i = 1; i < 3; i++) pipe_done(p, i);
  }
  corral_scope_exit(&sh, 0);
  return cancelled ? CORRAL_ECANCELED : 0;
}

void cli_proc_free(cli_proc *p) {
  if (!p) return;
  for (int i = 1; i < 3; i++) pipe_done(p, i);
  p->freed = 1;
  maybe_free(p);
}
