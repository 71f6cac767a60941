/* --joblog, --resume, --resume-failed (joblog.h). */
#include "joblog.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

static const char header[] =
    "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand\n";

int cli_joblog_open(cli_joblog *j, const char *path, int append) {
  if (path[0] == '+') {
    append = 1;
    path++;
  }
  if (!strcmp(path, "-")) { /* standard output, as GNU parallel */
    int fd = fcntl(1, F_DUPFD_CLOEXEC, 3);
    if (fd < 0) return -errno;
    if (!(j->f = fdopen(fd, "w"))) {
      int err = -errno;
      close(fd);
      return err;
    }
    j->to_stdout = 1;
    fputs(header, j->f);
    return fflush(j->f) ? -errno : 0;
  }
  j->f = fopen(path, append ? "ae" : "we");
  if (!j->f) return -errno;
  struct stat st;
  if (append && fstat(fileno(j->f), &st) == 0 && st.st_size > 0 && S_ISREG(st.st_mode)) {
    /* A torn last line (a run that was killed mid-write) ends here, so the
     * next line is a line of its own (it is ignored, as torn). */
    char last = '\n';
    int rfd = open(path, O_RDONLY | O_CLOEXEC);
    if (rfd >= 0) {
      if (pread(rfd, &last, 1, st.st_size - 1) == 1 && last != '\n') fputc('\n', j->f);
      close(rfd);
    }
  }
  if (fstat(fileno(j->f), &st) == 0 && st.st_size == 0) {
    fputs(header, j->f);
    if (fflush(j->f)) { /* e.g. /dev/full: say so before anything runs */
      int err = -errno;
      fclose(j->f);
      j->f = NULL;
      return err;
    }
  }
  return 0;
}

int cli_joblog_line(cli_buf *b, uint64_t seq, double start_epoch, double runtime_s,
                    uint64_t receive, int exitval, int sig, const char *cmd) {
  int rc = cli_buf_printf(b, "%llu\t:\t%.3f\t%10.3f\t0\t%llu\t%d\t%d\t", (unsigned long long)seq,
                          start_epoch, runtime_s, (unsigned long long)receive, exitval, sig);
  /* One line per job: a newline inside the command is written as \n. */
  for (const char *p = cmd; *p && !rc; p++)
    rc = *p == '\n' ? cli_buf_adds(b, "\\n") : cli_buf_addc(b, *p);
  return rc ? rc : cli_buf_addc(b, '\n');
}

int cli_joblog_write(cli_joblog *j, uint64_t seq, double start_epoch,
                     double runtime_s, uint64_t receive, int exitval, int sig,
                     const char *cmd) {
  if (!j->f) return 0;
  cli_buf b = {0};
  int rc = cli_joblog_line(&b, seq, start_epoch, runtime_s, receive, exitval, sig, cmd);
  if (rc == 0 && fwrite(b.data, 1, b.len, j->f) != b.len) rc = -errno;
  cli_buf_free(&b);
  /* Flushed per job so that --resume after a crash sees every finished job. */
  if (fflush(j->f) && !rc) rc = -errno;
  return rc;
}

void cli_joblog_close(cli_joblog *j) {
  if (j->f) fclose(j->f);
  j->f = NULL;
}

static int seqset_add(cli_seqset *s, uint64_t seq) {
  if (seq >= s->nbits) {
    uint64_t n = s->nbits ? s->nbits : 1024;
    while (n <= seq) n *= 2;
    uint8_t *nb = realloc(s->bits, n / 8);
    if (!nb) return -ENOMEM;
    memset(nb + s->nbits / 8, 0, (n - s->nbits) / 8);
    s->bits = nb;
    s->nbits = n;
  }
  s->bits[seq / 8] |= (uint8_t)(1u << (seq % 8));
  return 0;
}

int cli_seqset_has(const cli_seqset *s, uint64_t seq) {
  return seq < s->nbits && (s->bits[seq / 8] >> (seq % 8)) & 1;
}

void cli_seqset_free(cli_seqset *s) {
  free(s->bits);
  s->bits = NULL;
  s->nbits = 0;
}

/* A joblog to read, its header line read: *out is NULL when there is no
 * such file. 0, -EINVAL (not a joblog: no header) or -errno. */
static int jl_open(const char *path, FILE **out) {
  *out = NULL;
  if (path[0] == '+') path++;
  FILE *f = fopen(path, "re");
  if (!f) return errno == ENOENT ? 0 : -errno;
  char *line = NULL;
  size_t cap = 0;
  int bad = getline(&line, &cap, f) > 0 && strncmp(line, "Seq\t", 4) != 0;
  free(line);
  if (bad) {
    fclose(f);
    return -EINVAL;
  }
  *out = f;
  return 0;
}

int cli_seqset_load(cli_seqset *s, const char *path, int failed_too) {
  memset(s, 0, sizeof *s);
  FILE *f;
  int rc = jl_open(path, &f);
  if (rc || !f) return rc;
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  while ((n = getline(&line, &cap, f)) > 0) {
    unsigned long long seq;
    double st, rt;
    int ev, sig;
    char host[256];
    if (sscanf(line, "%llu\t%255[^\t]\t%lf\t%lf\t%*s\t%*s\t%d\t%d", &seq, host,
               &st, &rt, &ev, &sig) != 6)
      continue; /* a torn last line after a crash: that job did not finish */
    /* A Seq no run of corral reaches (its bitmap would need that many
     * bits) is a corrupt line, as a torn one. */
    if (seq == 0 || seq > CLI_SEQ_MAX) continue;
    if (failed_too && (ev != 0 || sig != 0)) continue;
    if ((rc = seqset_add(s, seq))) break;
  }
  free(line);
  fclose(f);
  if (rc) cli_seqset_free(s);
  return rc;
}

typedef struct {
  uint64_t seq;
  size_t pos; /* line order: of several lines of one job the last decides */
  int failed;
  char *cmd;
} jl_entry;

static int jl_cmp(const void *a, const void *b) {
  const jl_entry *x = a, *y = b;
  if (x->seq != y->seq) return x->seq < y->seq ? -1 : 1;
  return x->pos < y->pos ? -1 : x->pos > y->pos;
}

int cli_joblog_failed(const char *path, char ***cmds, uint64_t **seqs, size_t *n) {
  *cmds = NULL;
  *seqs = NULL;
  *n = 0;
  FILE *f;
  int rc = jl_open(path, &f);
  if (rc || !f) return rc;
  jl_entry *e = NULL;
  size_t ne = 0, cap = 0;
  char *line = NULL;
  size_t lcap = 0;
  ssize_t len;
  while ((len = getline(&line, &lcap, f)) > 0) {
    if (line[len - 1] == '\n') line[--len] = 0;
    unsigned long long seq;
    int ev, sig, off = -1;
    if (sscanf(line, "%llu\t%*[^\t]\t%*s\t%*s\t%*s\t%*s\t%d\t%d\t%n", &seq, &ev, &sig, &off) < 3 ||
        off < 0)
      continue; /* a torn line */
    if (ne == cap) {
      cap = cap ? cap * 2 : 64;
      jl_entry *ng = realloc(e, cap * sizeof *e);
      if (!ng) {
        rc = -ENOMEM;
        break;
      }
      e = ng;
    }
    if (!(e[ne].cmd = strdup(line + off))) {
      rc = -ENOMEM;
      break;
    }
    e[ne].seq = seq;
    e[ne].pos = ne;
    e[ne].failed = ev != 0 || sig != 0;
    ne++;
  }
  free(line);
  fclose(f);
  if (!rc && ne) qsort(e, ne, sizeof *e, jl_cmp);
  if (rc) {
    for (size_t i = 0; i < ne; i++) free(e[i].cmd);
    free(e);
    return rc;
  }
  *cmds = calloc(ne + 1, sizeof **cmds);
  *seqs = calloc(ne + 1, sizeof **seqs);
  if (!*cmds || !*seqs) rc = -ENOMEM;
  for (size_t i = 0; i < ne; i++) {
    if (!rc && e[i].failed && (i + 1 == ne || e[i + 1].seq != e[i].seq)) {
      (*cmds)[*n] = e[i].cmd;
      (*seqs)[*n] = e[i].seq;
      ++*n;
    } else {
      free(e[i].cmd);
    }
  }
  free(e);
  if (rc) {
    for (size_t i = 0; i < *n; i++) free((*cmds)[i]);
    free(*cmds);
    free(*seqs);
    *cmds = NULL;
    *seqs = NULL;
    *n = 0;
  }
  return rc;
}
