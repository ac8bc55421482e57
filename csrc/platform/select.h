/* Picks the stack-switch header for the platform being compiled for.
 * Each header defines gcffi_slp_switch() (see switch_x86_64_sysv.h for the
 * contract) and GCFFI_PLATFORM.  Adding a platform is adding one header and
 * one line here.
 */
#ifndef GCFFI_PLATFORM_SELECT_H
#define GCFFI_PLATFORM_SELECT_H

/* The headers write ELF assembly (symbol names without a leading
 * underscore, .hidden/.type/.size): Linux and the BSDs. */
#if defined(__ELF__) && (defined(__GNUC__) || defined(__clang__))
#  if defined(__x86_64__) && !defined(__ILP32__)
#    include "switch_x86_64_sysv.h"
#  elif defined(__aarch64__)
#    include "switch_aarch64_aapcs.h"
#  endif
#endif
#ifndef GCFFI_PLATFORM
#  error "greenlet_cffi has no stack switch for this platform (supported: x86-64 System V and AArch64 AAPCS64, ELF, GCC or Clang). Add csrc/platform/switch_<arch>_<abi>.h and select it in csrc/platform/select.h."
#endif

void *gcffi_slp_switch(void *(*save)(void *, void *),
                       void *(*restore)(void *, void *), void *arg);

#endif
