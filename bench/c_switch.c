/* C-level benchmark of the stack-slicing core alone (csrc/stack.c), no Python.
 *
 * What one raw switch costs: the floor the Python-level numbers of
 * bench/bench.py are compared with.  Build and run through bench/c_switch.py,
 * or by hand:
 *
 *     cc -O2 -I csrc bench/c_switch.c csrc/stack.c -o c_switch && ./c_switch [--quick]
 *
 * Workloads (each timed with CLOCK_MONOTONIC, best of several repeats):
 *   switch        ping-pong between main and one started coroutine whose body
 *                 loops transferring back to main; ns per switch (a round
 *                 trip is 2 switches)
 *   switch_4k     the same, with the coroutine's body 4 KiB of recursion
 *                 deeper before its loop, so its saved slice is bigger
 *   start_finish  init + start + finish of a coroutine whose body returns
 *                 main at once; ns per coroutine
 * For each, the bytes the core saved to the heap are read from gcffi_stack's
 * `saved` field of the suspended side: "coro" is the coroutine's slice as
 * main sees it, "main" is main's slice as the running coroutine sees it.
 *
 * Correctness is checked along the way: a token passed through a global
 * across every switch, the body's own loop counter, and a pattern written in
 * the 4 KiB of recursion frames must all arrive intact.  Exit status 1 if not.
 */
#define _POSIX_C_SOURCE 199309L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "stack.h"

#define BARRIER() __asm__ __volatile__("" ::: "memory")
#define NOINLINE __attribute__((noinline))

#define MAGIC 0x5a5aa5a5c3c33c3cUL
#define DEEP_BYTES 4096
#define DEEP_FRAME 256                          /* pad bytes per recursion level */
#define DEEP_LEVELS (DEEP_BYTES / DEEP_FRAME)   /* 16 */

void
gcffi_fatal(const char *msg)
{
    fprintf(stderr, "c_switch: fatal: %s\n", msg);
    fflush(stderr);
    abort();
}

static gcffi_stack g_main;
static gcffi_stack g_co;

static volatile unsigned long g_token;      /* passed across every switch */
static volatile int g_stop;                 /* tells the body to finish */
static volatile unsigned long g_body_count; /* the body's loop counter, at exit */
static volatile size_t g_main_saved;        /* main's saved bytes, seen by the body */
static volatile unsigned long g_errors;
static volatile unsigned long g_sink;

static void
fail(const char *what)
{
    fprintf(stderr, "c_switch: FAILED: %s\n", what);
    g_errors++;
}

static double
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void
transfer(gcffi_stack *origin, gcffi_stack *target)
{
    if (gcffi_stack_transfer(origin, target) != 0)
        gcffi_fatal("gcffi_stack_transfer failed (out of memory)");
}

/* ------------------------------------------------------------- ping-pong */

/* The coroutine side of the ping-pong: check the token main sent, answer,
 * go back to main; until main sets g_stop. */
static NOINLINE void
pingpong_loop(gcffi_stack *self)
{
    unsigned long n = 0;
    for (;;) {
        if (g_token != n) {
            g_errors++;
        }
        g_token = n ^ MAGIC;
        transfer(self, &g_main);
        BARRIER();
        if (g_stop)
            break;
        n++;
    }
    g_main_saved = g_main.saved;    /* main is suspended right now */
    g_body_count = n;
}

static gcffi_stack *
flat_body(gcffi_stack *self)
{
    pingpong_loop(self);
    return &g_main;
}

/* Recursion of DEEP_LEVELS frames of DEEP_FRAME bytes each, then the loop;
 * the pads are checked on the way out, after all the switches. */
static NOINLINE void
descend(gcffi_stack *self, int level)
{
    volatile unsigned char pad[DEEP_FRAME];
    int i;
    for (i = 0; i < DEEP_FRAME; i++)
        pad[i] = (unsigned char)(level * 31 + i);
    if (level == 0)
        pingpong_loop(self);
    else
        descend(self, level - 1);
    for (i = 0; i < DEEP_FRAME; i++)
        if (pad[i] != (unsigned char)(level * 31 + i)) {
            fail("4 KiB recursion pad corrupted across switches");
            break;
        }
}

static gcffi_stack *
deep_body(gcffi_stack *self)
{
    descend(self, DEEP_LEVELS - 1);
    return &g_main;
}

typedef struct {
    double ns;              /* best ns per op */
    size_t coro_saved;      /* coroutine bytes saved while suspended */
    size_t main_saved;      /* main bytes saved while the coroutine runs */
} result;

/* One repeat: start the coroutine (untimed), time `iters` round trips, stop
 * it (untimed).  Returns ns per switch. */
static NOINLINE double
pingpong_once(gcffi_body body, unsigned long iters, result *res)
{
    unsigned long i;
    double t0, t1;
    volatile unsigned long local_check = MAGIC;  /* main's own frame, must survive */

    gcffi_stack_init(&g_co, body);
    g_stop = 0;
    g_token = 0;
    transfer(&g_main, &g_co);               /* start it: first round trip */
    if (g_token != (0 ^ MAGIC))
        fail("token not answered on start");

    t0 = now_ns();
    for (i = 1; i <= iters; i++) {
        g_token = i;
        transfer(&g_main, &g_co);
        if (g_token != (i ^ MAGIC))
            g_errors++;
    }
    t1 = now_ns();

    res->coro_saved = g_co.saved;           /* the coroutine is suspended now */
    g_stop = 1;
    transfer(&g_main, &g_co);               /* the body returns &g_main */
    if (g_co.state != GCFFI_FINISHED)
        fail("coroutine did not finish");
    if (g_body_count != iters)
        fail("body's loop counter lost across switches");
    if (local_check != MAGIC)
        fail("main's local lost across switches");
    res->main_saved = g_main_saved;
    return (t1 - t0) / (2.0 * (double)iters);
}

static void
bench_pingpong(gcffi_body body, unsigned long iters, int repeats, result *res)
{
    int r;
    res->ns = 1e30;
    for (r = 0; r < repeats; r++) {
        double ns = pingpong_once(body, iters, res);
        if (ns < res->ns)
            res->ns = ns;
    }
}

/* ---------------------------------------------------------- start+finish */

static gcffi_stack *
return_body(gcffi_stack *self)
{
    (void)self;
    g_main_saved = g_main.saved;
    g_token ^= MAGIC;
    return &g_main;
}

static NOINLINE double
start_finish_once(unsigned long iters, result *res)
{
    unsigned long i;
    double t0, t1;

    t0 = now_ns();
    for (i = 0; i < iters; i++) {
        g_token = i;
        gcffi_stack_init(&g_co, return_body);
        transfer(&g_main, &g_co);
        if (g_token != (i ^ MAGIC) || g_co.state != GCFFI_FINISHED)
            g_errors++;
    }
    t1 = now_ns();
    res->coro_saved = g_co.saved;   /* finished: 0, its buffer is freed */
    res->main_saved = g_main_saved;
    return (t1 - t0) / (double)iters;
}

static void
bench_start_finish(unsigned long iters, int repeats, result *res)
{
    int r;
    res->ns = 1e30;
    for (r = 0; r < repeats; r++) {
        double ns = start_finish_once(iters, res);
        if (ns < res->ns)
            res->ns = ns;
    }
}

/* ------------------------------------------------------------------ main */

static void
row(const char *name, const char *unit, const result *res)
{
    printf("%-14s %10.1f  %-14s %10zu %10zu\n",
           name, res->ns, unit, res->coro_saved, res->main_saved);
}

int
main(int argc, char **argv)
{
    unsigned long n_switch = 2000000, n_deep = 500000, n_spawn = 1000000;
    int repeats = 7;
    result r_switch, r_deep, r_spawn;
    int i;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            n_switch = 100000;
            n_deep = 30000;
            n_spawn = 50000;
            repeats = 3;
        } else {
            fprintf(stderr, "usage: %s [--quick]\n", argv[0]);
            return 2;
        }
    }

    gcffi_stack_init_main(&g_main);

    bench_pingpong(flat_body, n_switch, repeats, &r_switch);
    bench_pingpong(deep_body, n_deep, repeats, &r_deep);
    bench_start_finish(n_spawn, repeats, &r_spawn);

    printf("C core (no Python):\n");
    printf("%-14s %10s  %-14s %10s %10s\n",
           "name", "ns/op", "op", "coro saved", "main saved");
    row("switch", "switch", &r_switch);
    row("switch_4k", "switch", &r_deep);
    row("start_finish", "coroutine", &r_spawn);
    printf("(platform %s, best of %d; saved = bytes in the heap copy of the "
           "suspended side: coroutine as seen from main, main as seen from "
           "the coroutine)\n", gcffi_stack_platform(), repeats);

    gcffi_stack_release(&g_main);
    g_sink = g_token;

    if (g_errors) {
        fprintf(stderr, "c_switch: %lu correctness error(s): values did not "
                "survive the switches\n", (unsigned long)g_errors);
        return 1;
    }
    return 0;
}
