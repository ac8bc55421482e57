#!/usr/bin/env python3
"""C-level benchmark of greenlet_cffi's stack-slicing core, without Python.

Compiles bench/c_switch.c together with csrc/stack.c using the system C
compiler (``cc``, or ``$CC``) at -O2 in a temporary directory, runs it and
prints its table, which starts with the line "C core (no Python):".  This is
the floor for the Python-level numbers of bench/bench.py.

    python3 bench/c_switch.py [--quick] [--valgrind]

--quick     fewer iterations (well under 2 s)
--valgrind  run the program under ``valgrind --error-exitcode=1`` (built with -g)

Exit status: that of the program (1 if a value did not survive the switches),
or 1 with a message if the compiler is missing or the build fails.
No dependencies beyond Python 3.9.
"""
import argparse
import os
import shlex
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
CSRC = os.path.join(REPO, "csrc")
SOURCES = (os.path.join(HERE, "c_switch.c"), os.path.join(CSRC, "stack.c"))


def die(msg):
    sys.stderr.write("c_switch: %s\n" % msg)
    sys.exit(1)


def find_compiler():
    cc = shlex.split(os.environ.get("CC", "") or "cc")
    if not cc or shutil.which(cc[0]) is None:
        die("C compiler %r not found (install a C compiler, e.g. gcc, "
            "or set CC)" % (cc[0] if cc else ""))
    return cc


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="fewer iterations (well under 2 s)")
    ap.add_argument("--valgrind", action="store_true",
                    help="run under valgrind --error-exitcode=1")
    args = ap.parse_args(argv)

    for src in SOURCES:
        if not os.path.isfile(src):
            die("missing source file %s" % src)
    cc = find_compiler()
    runner = []
    if args.valgrind:
        if shutil.which("valgrind") is None:
            die("valgrind not found")
        runner = ["valgrind", "-q", "--error-exitcode=1"]

    with tempfile.TemporaryDirectory(prefix="c_switch-") as tmp:
        exe = os.path.join(tmp, "c_switch")
        cmd = cc + ["-O2"] + (["-g"] if args.valgrind else []) + [
            "-I", CSRC, "-o", exe] + list(SOURCES)
        try:
            build = subprocess.run(cmd, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT,
                                   universal_newlines=True)
        except OSError as e:
            die("cannot run the C compiler %s: %s" % (cc[0], e))
        if build.returncode != 0:
            sys.stderr.write(build.stdout)
            die("build failed (exit %d): %s"
                % (build.returncode, " ".join(shlex.quote(c) for c in cmd)))

        sys.stdout.flush()
        run = subprocess.run(runner + [exe] + (["--quick"] if args.quick else []))
        if run.returncode != 0:
            if run.returncode < 0:
                how = "was killed by signal %d" % -run.returncode
            else:
                how = "exited with status %d" % run.returncode
            die("the benchmark program %s%s" % (
                how, " (valgrind reported errors?)" if args.valgrind else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
