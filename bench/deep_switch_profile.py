"""Where the time of bench.py's "switch 100 frames deep" goes in the
one-process sequence on PyPy: copying stacks, or allocating room for them.

    pypy3 bench/deep_switch_profile.py [--rounds 6] [--runs 2] [--quick]

For greenlet_cffi and for PyPy's bundled greenlet, each in a fresh process,
it runs every workload of bench.py's sequence in order, round after round,
and prints per round the deep switch's time and, per switch, the time spent
in memmove/memcpy, malloc and free calls of 1 KiB or more (PyPy's stacklets
save and restore stacks with these); malloc is split by size: under 32 KiB,
and 32 KiB or more, where each of glibc's bins (kept sorted by size) spans
32 KiB.  It times them with a small C library
preloaded into the child (LD_PRELOAD), compiled here with the system's C
compiler into a temporary directory; glibc systems only.

What it showed (PyPy 7.3.11, 2026-11-28; see the README's "Where PyPy
misses"): both implementations copy the same bytes per switch in the same
time; the difference is glibc's malloc inside the stacklet switch, whose
cost depends on the free lists that the earlier workloads left.
"""
import argparse
import gc
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

# Times the large calls only: small ones are the interpreter's own traffic.
SHIM = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <malloc.h>
#include <stddef.h>
#include <time.h>
extern void *__libc_malloc(size_t);
extern void __libc_free(void *);
static long ns[4], calls[4];
static long now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000L + t.tv_nsec;
}
void profile_reset(void) { for (int i = 0; i < 4; i++) ns[i] = calls[i] = 0; }
long profile_ns(int i) { return ns[i]; }
long profile_calls(int i) { return calls[i]; }
#define TIMED(k, call) do { long t0 = now(); call; ns[k] += now() - t0; calls[k]++; } while (0)
/* memmove and memcpy alike: the next definition's, timed when large. */
#define TIMED_COPY(name)                                                  \
void *name(void *d, const void *s, size_t n) {                            \
    static void *(*next)(void *, const void *, size_t);                   \
    void *r;                                                              \
    if (!next) next = dlsym(RTLD_NEXT, #name);                            \
    if (n < 1024) return next(d, s, n);                                   \
    TIMED(0, r = next(d, s, n));                                          \
    return r;                                                             \
}
TIMED_COPY(memmove)
TIMED_COPY(memcpy)
void *malloc(size_t n) {
    void *r;
    if (n < 1024) return __libc_malloc(n);
    if (n < 32768)
        TIMED(1, r = __libc_malloc(n));
    else                /* from 32 KiB, glibc's bins are 32 KiB wide */
        TIMED(3, r = __libc_malloc(n));
    return r;
}
void free(void *p) {
    if (p == NULL || malloc_usable_size(p) < 1024) { __libc_free(p); return; }
    TIMED(2, __libc_free(p));
}
"""

# bench.py's sequence on PyPy, with fixed sizes near what it calibrates.
PLAN = [("switch", 200000), ("switch_value", 200000), ("switch_deep", 100000),
        ("spawn", 100000), ("chain", 10000), ("getcurrent", 1000000),
        ("throw", 100000), ("switch_traced", 100000), ("switch_thread", 300000),
        ("chain_garbage", 10000), ("gc_chain_garbage", 10000),
        ("round_robin", 50000), ("churn", 20000), ("gc_alive", 3)]


def child(which, rounds, shrink):
    import bench
    from cffi import FFI
    ffi = FFI()
    ffi.cdef("void profile_reset(void); long profile_ns(int); long profile_calls(int);")
    lib = ffi.dlopen(None)
    # The wall clock, as the preloaded library's: the parts it times then
    # lie inside the switch's own time.
    bench.clock = time.perf_counter
    bench._alive_count[0] = bench.PYPY_SEQUENCE_CAP // shrink
    mod = bench.load(which)
    works = [(w, max(1, n // shrink)) for name, n in PLAN for w in bench.WORKLOADS
             if w.name == name]
    for r in range(rounds):
        for work, n in works:
            gc.collect()
            lib.profile_reset()
            elapsed, ops = work.func(mod, n)
            if work.name == "switch_deep":
                per = [lib.profile_ns(i) / float(ops) for i in range(4)]
                print("%-10s %5d %9.0f %9.0f %9.0f %9.0f %9.0f %9.1f" % (
                    which, r + 1, elapsed / ops * 1e9, per[0], per[1], per[3], per[2],
                    (lib.profile_calls(1) + lib.profile_calls(3)) / float(ops)))
                sys.stdout.flush()
        bench.release_alive()
    os._exit(0)                 # skip killing greenlets at shutdown


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--runs", type=int, default=2, help="fresh processes per implementation")
    ap.add_argument("--quick", action="store_true",
                    help="every workload 20 times smaller (for tests; not what the README reports)")
    ap.add_argument("--_child", dest="child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    shrink = 20 if args.quick else 1
    if args.child:
        child(args.child, args.rounds, shrink)
    if not hasattr(sys, "pypy_version_info"):
        sys.exit("deep_switch_profile.py: PyPy only (it profiles PyPy's stacklets)")
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        sys.exit("deep_switch_profile.py: needs a C compiler (cc) for its preloaded library")
    tmp = tempfile.mkdtemp(prefix="deep_switch_profile.")
    try:
        src, lib = os.path.join(tmp, "shim.c"), os.path.join(tmp, "shim.so")
        with open(src, "w") as f:
            f.write(SHIM)
        subprocess.check_call([cc, "-O2", "-shared", "-fPIC", "-o", lib, src, "-ldl"])
        print("switch 100 frames deep in bench.py's sequence, per switch (ns); "
              "calls of 1 KiB or more")
        print("%-10s %5s %9s %9s %9s %9s %9s %9s" % (
            "impl", "round", "switch", "memmove", "malloc", ">=32KiB", "free", "mallocs"))
        env = dict(os.environ, LD_PRELOAD=lib)
        for run in range(args.runs):
            for which in ("ours", "reference"):
                subprocess.check_call([sys.executable, os.path.abspath(__file__), "--_child",
                                       which, "--rounds", str(args.rounds)]
                                      + (["--quick"] if args.quick else []), env=env)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
