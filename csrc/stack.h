/* Stack slicing: many coroutines share one C stack.
 *
 * A coroutine runs on the thread's ordinary stack.  Its slice is the range
 * [start, stop): `stop` is fixed when it starts (just below the frame that
 * started it), `start` is the stack pointer at which it last suspended.
 * Switching to a coroutine copies into the heap whatever part of other
 * slices its own slice would overwrite, then copies its saved bytes back.
 * Only the bytes actually in the way are saved, lazily: a coroutine started
 * high on the stack and switched with its neighbours costs a few hundred
 * bytes per switch.
 *
 *      high addresses
 *     +-----------------+  <- main: stop = top of the thread's stack
 *     |  main's frames  |
 *     |.................|  <- a.stop (a was started here)
 *     |   a's frames    |
 *     |.................|  <- b.stop  (b started from a)
 *     |   b's frames    |  <- b.start when b suspends
 *     +-----------------+
 *      low addresses
 *
 * `prev` links a running coroutine to the next one up whose frames are still
 * (partly) in place above its slice; it is recomputed at every switch-in, so
 * it is only meaningful for the running coroutine.
 *
 * Nothing here knows about Python: csrc/core.c adds the interpreter state.
 */
#ifndef GCFFI_STACK_H
#define GCFFI_STACK_H

#include <stddef.h>

typedef struct gcffi_stack gcffi_stack;

/* Runs on a new coroutine's slice; returns the coroutine to continue with
 * once this one has finished.  It must not return NULL. */
typedef gcffi_stack *(*gcffi_body)(gcffi_stack *self);

enum { GCFFI_UNSTARTED = 0, GCFFI_STARTED = 1, GCFFI_FINISHED = 2 };

struct gcffi_stack {
    char *start;            /* saved stack pointer while suspended */
    char *stop;             /* upper end of the slice */
    char *copy;             /* heap copy of [start, start + saved) */
    size_t saved;           /* bytes of the slice currently in `copy` */
    size_t capacity;        /* allocated size of `copy` */
    gcffi_stack *prev;      /* see above */
    gcffi_stack *target;    /* set on the origin during a switch */
    gcffi_body body;
    int state;
};

/* Initializes `s` as the coroutine already running on this thread's stack. */
void gcffi_stack_init_main(gcffi_stack *s);
/* Initializes `s` as an unstarted coroutine that will run `body`. */
void gcffi_stack_init(gcffi_stack *s, gcffi_body body);
/* From the running `origin` to `target` (unstarted or suspended).
 * Returns 0 when origin is resumed, -1 (nothing switched) if memory for the
 * saved stack could not be had. */
int gcffi_stack_transfer(gcffi_stack *origin, gcffi_stack *target);
/* Name of the platform switch compiled in (csrc/platform/). */
const char *gcffi_stack_platform(void);
/* Frees the saved copy of a coroutine that will never run again. */
void gcffi_stack_release(gcffi_stack *s);

/* Fault injection, for tests (built with -DGCFFI_FAULT_INJECTION, else a
 * no-op returning -1): the n-th allocation of the core from now on fails,
 * once (n <= 0: none).  Returns how many allocations were still to go
 * before it (0: the last countdown ran out). */
long gcffi_fault_after(long n);
#ifdef GCFFI_FAULT_INJECTION
int gcffi_alloc_fails(void);
#  define GCFFI_ALLOC_FAILS() gcffi_alloc_fails()
#else
#  define GCFFI_ALLOC_FAILS() 0
#endif

#endif
