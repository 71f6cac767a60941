/* Error records (error.c): counted, immutable, nesting for aggregates. */
#ifndef CORRAL_CORE_ERROR_H
#define CORRAL_CORE_ERROR_H

#include "corral.h"
#include "ground/compiler.h"

typedef struct corral__rt corral__rt;

struct corral_error {
  uint32_t refs;
  int code;
  char *message;
  char task[CORRAL_NAME_MAX];
  size_t nchildren;
  corral_error **children;
  corral_cancel_reason *cause; /* raised while handling this cancel */
  corral_allocator al; /* copied: records may outlive the runtime */
};

CORRAL__HIDDEN corral_error *corral__error_new(corral__rt *rt, int code,
                                               const char *task,
                                               const char *msg);
/* Make e (a reference it takes) t's latest error record. */
CORRAL__HIDDEN void corral__set_last_error(corral_task *t, corral_error *e);
/* A record for rc: t's latest if it has that code, else a new one. */
CORRAL__HIDDEN corral_error *corral__error_for(corral_task *t, int rc);

#endif
