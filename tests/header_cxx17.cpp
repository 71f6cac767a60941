// corral.h as a C++17 user sees it: -std=c++17 -Wall -Wextra -Wpedantic
// -Werror (tests/CMakeLists.txt). Spawn options inline, by value.
#include "corral.h"

#include <cstdio>

static int child(void *, void **res) {
  static int value = 42;
  *res = &value;
  return corral_sleep(CORRAL_MS(1));
}

static int body(void *, void **) {
  corral_group g;
  int rc = corral_group_open(&g, nullptr);
  if (rc) return rc;
  corral_task *t = nullptr;
  rc = corral_spawn(&g, child, nullptr, "named", nullptr);
  if (!rc) rc = corral_spawn_with(&g, child, nullptr, &t,
                                  corral_spawn_opts{"inline", 0, 1, 0});
  void *r = nullptr;
  if (!rc) rc = corral_join(t, &r);
  if (!rc && *static_cast<int *>(r) != 42) rc = CORRAL_EIO;
  corral_task_release(t);
  corral_gather_opts go{};
  go.policy = CORRAL_GATHER_ALL;
  corral_call calls[2] = {{child, nullptr, "a"}, {child, nullptr, "b"}};
  corral_outcome out[2];
  if (!rc) rc = corral_gather(calls, 2, out, &go);
  corral_outcomes_clear(out, 2);
  corral_scope s;
  if (!rc) rc = corral_move_on_after(&s, CORRAL_MS(5));
  if (!rc) rc = corral_scope_exit(&s, corral_sleep(CORRAL_SEC(1)));
  return corral_group_close(&g, rc);
}

int main() {
  corral_options o{};
  o.virtual_clock = 1;
  int rc = corral_run(&o, body, nullptr, nullptr);
  if (rc) std::printf("corral_run: %s\n", corral_strerror(rc));
  return rc == 0 ? 0 : 1;
}
