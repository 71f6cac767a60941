/* Shared by the examples: --virtual-clock, elapsed time, running main. */
#ifndef CORRAL_EXAMPLE_COMMON_H
#define CORRAL_EXAMPLE_COMMON_H

#include "corral.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static int64_t ex_t0;
static int ex_argc;
static char **ex_argv;

static inline int ex_flag(const char *name) {
  for (int i = 1; i < ex_argc; i++)
    if (strcmp(ex_argv[i], name) == 0) return 1;
  return 0;
}

static inline const char *ex_value(const char *name) {
  for (int i = 1; i + 1 < ex_argc; i++)
    if (strcmp(ex_argv[i], name) == 0) return ex_argv[i + 1];
  return NULL;
}

static inline void ex_start(void) { ex_t0 = corral_now(); }
static inline double ex_elapsed(void) {
  return (double)(corral_now() - ex_t0) / 1e9;
}

/* Every example's main: run `body` as the root task, on the virtual clock
 * when --virtual-clock is given (times are then exact). */
static inline int ex_main(int argc, char **argv, corral_fn body) {
  ex_argc = argc;
  ex_argv = argv;
  corral_options o = {0};
  o.virtual_clock = ex_flag("--virtual-clock");
  int rc = corral_run(&o, body, NULL, NULL);
  fflush(stdout);
  if (rc < 0) {
    fprintf(stderr, "error: %s\n", corral_strerror(rc));
    return 1;
  }
  return 0;
}

#endif
