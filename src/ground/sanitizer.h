/* Is AddressSanitizer on? (gcc defines __SANITIZE_ADDRESS__, clang has
 * __has_feature.) Its fiber and poisoning interfaces when it is. */
#ifndef CORRAL_SANITIZER_H
#define CORRAL_SANITIZER_H

#if defined(__SANITIZE_ADDRESS__)
#define CORRAL_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CORRAL_ASAN 1
#endif
#endif

#ifdef CORRAL_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

#endif
