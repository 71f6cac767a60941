/* `corral merge`: join the JSON logs of shards into one summary. */
#ifndef CORRAL_CLI_MERGE_H
#define CORRAL_CLI_MERGE_H
#include <stdio.h>
/* Read the logs, write their job lines (unless summary_only) and one merged
 * summary object to out. Returns the exit status: 0 when every shard
 * succeeded and none is missing, 1 otherwise, 2 for unreadable input. */
int cli_merge(char *const *paths, size_t n, int summary_only, FILE *out);
#endif
