/* Worker-thread offload (thread.c) and portals (portal.c): what the
 * runtime's end calls. */
#ifndef CORRAL_IO_THREADS_H
#define CORRAL_IO_THREADS_H

#include "core/rt.h"

/* After the last task: wait (within options.offload_drain_ns) for
 * abandoned offloaded calls, report and detach the rest, stop the
 * workers. */
CORRAL__HIDDEN void corral__pool_end(corral__rt *rt);

/* 1 when a call offloaded now would start at once (an idle worker, or
 * room for one more), 0 when it would queue behind running calls. */
CORRAL__HIDDEN int corral__pool_has_room(corral__rt *rt);

#endif
