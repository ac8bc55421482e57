/* libFuzzer harness for the stack-slicing core alone (csrc/stack.c and the
 * platform switch), under ASan/UBSan.  An input is a program: each byte an
 * operation of whichever coroutine is running -- switch to another one
 * (starting it if new), finish (naming the coroutine to continue with), or
 * go deeper -- among up to NCORO coroutines started at random C-stack
 * depths.  Every frame keeps a pattern in a local buffer and checks it when
 * control returns to it, so a byte of a saved slice lost or misplaced by a
 * switch is caught; so is a coroutine resumed out of turn.
 *
 * Build and run: fuzz/run.sh (CI smoke: tests/test_fuzz_stack.py). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stack.h"

#define NCORO 8             /* plus main, number 0 */
#define PAD 48

typedef struct {
    gcffi_stack s;          /* first: a gcffi_stack * is a coro * */
    int id;
} coro;

static coro co[NCORO + 1];
static coro *running;
static const uint8_t *in;
static size_t len, pos;

void
gcffi_fatal(const char *msg)
{
    fprintf(stderr, "fatal: %s\n", msg);
    abort();
}

static void
check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_stack: %s (at input byte %zu)\n", what, pos);
        abort();
    }
}

static int
next_byte(void)
{
    return pos < len ? in[pos++] : -1;
}

static gcffi_stack *descend(coro *me, int depth);

/* Control goes to `to`; back here when someone switches to `me`. */
static void
switch_to(coro *me, coro *to)
{
    running = to;
    check(gcffi_stack_transfer(&me->s, &to->s) == 0, "transfer failed");
    check(running == me, "resumed a coroutine nobody switched to");
    check(me->s.state == GCFFI_STARTED, "resumed coroutine not marked started");
}

/* Runs operations until this coroutine finishes; returns where to go. */
static gcffi_stack *
run_ops(coro *me)
{
    for (;;) {
        int b = next_byte();
        if (b < 0) {
            running = &co[0];           /* input done: back to main */
            return &co[0].s;
        }
        int arg = b >> 2;
        coro *t = &co[arg % (NCORO + 1)];
        switch (b & 3) {
        case 0:
        case 1:
            if (t != me && t->s.state != GCFFI_FINISHED)
                switch_to(me, t);
            break;
        case 2:
            if (me->id != 0) {
                if (t == me || t->s.state == GCFFI_FINISHED)
                    t = &co[0];
                running = t;
                return &t->s;
            }
            break;
        default:
            return descend(me, arg % 16);
        }
    }
}

/* depth frames further down, each with its pattern, then the operations. */
static gcffi_stack * __attribute__((noinline))
descend(coro *me, int depth)
{
    volatile unsigned char pad[PAD];
    unsigned char mark = (unsigned char)(me->id * 37 + depth * 11 + 1);
    gcffi_stack *r;
    int i;
    for (i = 0; i < PAD; i++)
        pad[i] = (unsigned char)(mark + i);
    r = depth > 0 ? descend(me, depth - 1) : run_ops(me);
    for (i = 0; i < PAD; i++)
        check(pad[i] == (unsigned char)(mark + i), "a frame's bytes changed across switches");
    return r;
}

static gcffi_stack *
body(gcffi_stack *s)
{
    coro *me = (coro *)s;
    int d = next_byte();
    check(running == me, "started a coroutine nobody switched to");
    return descend(me, d < 0 ? 0 : d % 64);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int i;
    in = data;
    len = size;
    pos = 0;
    gcffi_stack_init_main(&co[0].s);
    co[0].id = 0;
    for (i = 1; i <= NCORO; i++) {
        gcffi_stack_init(&co[i].s, body);
        co[i].id = i;
    }
    running = &co[0];
    /* Main itself at a depth the input picks, so slices start anywhere. */
    descend(&co[0], size ? data[0] % 8 : 0);
    check(running == &co[0], "main resumed out of turn");
    /* Coroutines still suspended are abandoned: only their copies go (and
     * main's buffer, kept for its next save). */
    for (i = 0; i <= NCORO; i++)
        gcffi_stack_release(&co[i].s);
    return 0;
}
