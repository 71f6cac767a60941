/* Error codes: names and messages derived from the one X-macro table in
 * corral.h. No dependency on libuv, so the cross-built tests can use it. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "corral.h"

#include <string.h>

const char *corral_strerror(int code) {
  switch (code) {
  case 0: return "success";
#define XX(name, val, msg)                                                   \
  case val: return msg;
    CORRAL_ERRNO_MAP(XX) CORRAL_OWN_ERROR_MAP(XX)
#undef XX
  default: break;
  }
  if (code < 0 && code > -4096) return strerror(-code);
  return "unknown error";
}

const char *corral_err_name(int code) {
  switch (code) {
  case 0: return "OK";
#define XX(name, val, msg)                                                   \
  case val: return "CORRAL_" #name;
    CORRAL_ERRNO_MAP(XX) CORRAL_OWN_ERROR_MAP(XX)
#undef XX
  default: break;
  }
  if (code < 0 && code > -4096) {
    const char *n = strerrorname_np(-code);
    if (n) return n;
  }
  return "E?";
}

const char *corral_status_name(corral_status s) {
  static const char *const names[] = {"PENDING", "OK", "ERROR", "CANCELLED",
                                      "TIMED_OUT", "NOT_STARTED"};
  return (unsigned)s < sizeof names / sizeof *names ? names[s] : "?";
}

const char *corral_cancel_kind_name(corral_cancel_kind k) {
  static const char *const names[] = {
      "none",        "explicit",    "deadline", "sibling failed",
      "parent cancelled", "signal", "group done", "deadlock"};
  return (unsigned)k < sizeof names / sizeof *names ? names[k] : "?";
}

