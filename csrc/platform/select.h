/* Picks the stack-switch header for the platform being compiled for.
 * Each header defines gcffi_slp_switch() (see switch_x86_64_sysv.h for the
 * contract) and GCFFI_PLATFORM.  Adding a platform is adding one header and
 * one line here.
 */
#ifndef GCFFI_PLATFORM_SELECT_H
#define GCFFI_PLATFORM_SELECT_H

#if defined(__x86_64__) && !defined(__ILP32__) && !defined(_WIN32) \
    && (defined(__GNUC__) || defined(__clang__))
#  include "switch_x86_64_sysv.h"
#else
#  error "greenlet_cffi has no stack switch for this platform (supported: x86-64 System V with GCC or Clang). Add csrc/platform/switch_<arch>_<abi>.h and select it in csrc/platform/select.h."
#endif

void *gcffi_slp_switch(void *(*save)(void *, void *),
                       void *(*restore)(void *, void *), void *arg);

#endif
