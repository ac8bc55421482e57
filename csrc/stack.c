/* Stack slicing core; see stack.h for the picture. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stack.h"
#include "platform/select.h"

/* Defined by the embedder (core.c: Py_FatalError). */
extern void gcffi_fatal(const char *msg);

/* What slp_switch's restore callback returns: never NULL, which means
 * "the save failed, nothing moved". */
#define RESUMED ((void *)1)
#define FRESH ((void *)2)

#define ADDR(p) ((uintptr_t)(p))

#ifdef GCFFI_FAULT_INJECTION
/* See stack.h: the countdown to the allocation that fails. */
static long fault_countdown;

long
gcffi_fault_after(long n)
{
    long left = fault_countdown;
    fault_countdown = n;
    return left;
}

int
gcffi_alloc_fails(void)
{
    return fault_countdown > 0 && --fault_countdown == 0;
}
#else
long
gcffi_fault_after(long n)
{
    (void)n;
    return -1;
}
#endif

#if defined(__SANITIZE_ADDRESS__) || defined(GCFFI_ASAN)
#include <sanitizer/asan_interface.h>
/* Saving and restoring slices reads and writes stack memory that ASan
 * knows as redzones of frames, or of frames long gone: copy it unchecked
 * (volatile, so that the loop is not turned back into a checked memcpy). */
__attribute__((no_sanitize_address)) static void
copy_stack(void *dst, const void *src, size_t n)
{
    volatile char *d = dst;
    const volatile char *s = src;
    while (n--)
        *d++ = *s++;
}
/* Once the target's bytes are back, ASan's shadow of them is still that of
 * the frames that ran there meanwhile (and below them, of frames abandoned
 * by switches): clear it, from well below the new stack pointer up to the
 * end of what was restored, so that neither the target's frames nor the
 * ones it calls are taken for redzones. */
#define UNPOISON_BELOW (256 * 1024)
#define UNPOISON(lo, hi) __asan_unpoison_memory_region((char *)(lo) - UNPOISON_BELOW, \
        (size_t)((char *)(hi) - (char *)(lo)) + UNPOISON_BELOW)
#else
#define copy_stack memcpy
#define UNPOISON(lo, hi) ((void)0)
#endif

const char *
gcffi_stack_platform(void)
{
    return GCFFI_PLATFORM;
}

void
gcffi_stack_init_main(gcffi_stack *s)
{
    memset(s, 0, sizeof(*s));
    s->stop = (char *)UINTPTR_MAX;  /* nothing lies above the thread's first frames */
    s->state = GCFFI_STARTED;
}

void
gcffi_stack_init(gcffi_stack *s, gcffi_body body)
{
    memset(s, 0, sizeof(*s));
    s->body = body;
}

void
gcffi_stack_release(gcffi_stack *s)
{
    free(s->copy);
    s->copy = NULL;
    s->saved = s->capacity = 0;
}

/* Makes sure [g->start, upto) is in g's heap copy. */
static int
save_upto(gcffi_stack *g, char *upto)
{
    size_t need;
    if (ADDR(upto) <= ADDR(g->start))
        return 0;               /* all of g lies above: nothing in the way */
    need = (size_t)(upto - g->start);
    if (need <= g->saved)
        return 0;
    if (need > g->capacity) {
        size_t cap = need < 2 * g->capacity ? 2 * g->capacity : need;
        char *copy = GCFFI_ALLOC_FAILS() ? NULL : realloc(g->copy, cap);
        if (copy == NULL)
            return -1;
        g->copy = copy;
        g->capacity = cap;
    }
    copy_stack(g->copy + g->saved, g->start + g->saved, need - g->saved);
    g->saved = need;
    return 0;
}

/* Runs on the origin's stack: saves every slice the target's slice overlaps
 * and returns the stack pointer to move to. */
static void *
save_cb(void *sp, void *arg)
{
    gcffi_stack *origin = arg, *target = origin->target;
    gcffi_stack *owner = origin;
    uintptr_t stop = ADDR(target->stop);

    if (origin->state == GCFFI_FINISHED)
        owner = origin->prev;           /* its frames are garbage now */
    else
        origin->start = sp;
    /* Slices lying wholly below the target's top are saved whole... */
    while (ADDR(owner->stop) < stop) {
        if (save_upto(owner, owner->stop) < 0)
            goto failed;
        owner = owner->prev;
    }
    /* ...and the one the target's top cuts through, up to that top. */
    if (owner != target && save_upto(owner, target->stop) < 0)
        goto failed;
    /* A fresh coroutine starts right here, below its `stop`. */
    return target->state == GCFFI_UNSTARTED ? sp : target->start;
failed:
    /* The origin runs on: what was copied of its live slice will be stale
     * by its next switch (suspended slices do not change: theirs stays). */
    if (origin->state != GCFFI_FINISHED)
        origin->saved = 0;
    return NULL;
}

/* Runs on the target's stack, below the bytes it puts back. */
static void *
restore_cb(void *sp, void *arg)
{
    gcffi_stack *origin = arg, *target = origin->target;
    gcffi_stack *owner;
    void *result = target->state == GCFFI_UNSTARTED ? FRESH : RESUMED;

    UNPOISON(sp, target->state == GCFFI_UNSTARTED ? (char *)sp
             : target->start + target->saved);
    if (target->saved) {
        copy_stack(target->start, target->copy, target->saved);
        target->saved = 0;      /* the buffer is kept for the next save */
    }
    owner = origin->state == GCFFI_FINISHED ? origin->prev : origin;
    while (owner != NULL && ADDR(owner->stop) <= ADDR(target->stop))
        owner = owner->prev;
    target->prev = owner;
    target->state = GCFFI_STARTED;
    return result;
}

int gcffi_stack_transfer(gcffi_stack *origin, gcffi_stack *target);

static int
switch_to(gcffi_stack *origin, gcffi_stack *target)
{
    void *r;
    origin->target = target;
    r = gcffi_slp_switch(save_cb, restore_cb, origin);
    if (r == NULL)
        return -1;
    if (r == FRESH) {
        /* We are `target` now, on its new slice, inside start_slice's frame
         * (origin/target are this frame's locals, identical on both sides). */
        gcffi_stack *next = target->body(target);
        target->state = GCFFI_FINISHED;
        gcffi_stack_release(target);
        gcffi_stack_transfer(target, next);     /* returns only on failure */
        gcffi_fatal("greenlet_cffi: no memory to leave a finished greenlet");
    }
    return 0;
}

/* Separate and not inlined, so that all of its frame lies below `mark`. */
static int __attribute__((noinline))
start_slice(gcffi_stack *origin, gcffi_stack *target)
{
    return switch_to(origin, target);
}

int
gcffi_stack_transfer(gcffi_stack *origin, gcffi_stack *target)
{
    if (target->state == GCFFI_UNSTARTED) {
        volatile char mark = 0;
        int r;
        target->stop = (char *)&mark;
        r = start_slice(origin, target);
        (void)mark;     /* read after the call: no tail call may pop this frame */
        return r;
    }
    return switch_to(origin, target);
}
