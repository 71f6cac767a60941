/* Channels, select, locks, conditions and limiters (channel.c, lock.c):
 * the public API is include/corral/channel.h; this is what the dump needs
 * to name who holds what in a deadlock report. */
#ifndef CORRAL_CORE_CHANNEL_H
#define CORRAL_CORE_CHANNEL_H

#include "core/rt.h"

/* Print the detail of a wait of kind CORRAL__W_CHAN_* / LOCK / CONDITION /
 * LIMITER whose record's arg is `arg`, after the kind's name, e.g.
 * " 'L' held by task 'B'"; nothing for other kinds. Must not block. */
CORRAL__HIDDEN void corral__sync_describe(int kind, const void *arg, FILE *f);

/* lock.c's part of it. */
CORRAL__HIDDEN void corral__lock_describe(int kind, const void *arg, FILE *f);

#endif
