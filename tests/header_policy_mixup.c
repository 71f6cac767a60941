/* Must NOT compile cleanly: a group policy where a gather policy belongs
 * (tests/CMakeLists.txt expects the enum-conversion diagnostic). */
#include "corral.h"

int mixup(void);
int mixup(void) {
  corral_gather_opts o = {0};
  o.policy = CORRAL_FIRST; /* a corral_policy, not a corral_gather_policy */
  return (int)o.policy;
}
