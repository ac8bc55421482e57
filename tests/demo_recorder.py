"""A small stand-in for greenlet_cffi.profile: records a program run on one
thread into a Recording, with greenlet_cffi.settrace for the switches and a
sampler thread for the stacks, and writes it with greenlet_cffi._formats.

Only the viewer tests use it, to have real files of a real program to load;
the profiler proper records more (all threads, CPU time, lifecycle).

    python tests/demo_recorder.py --format chrome|speedscope -o FILE \\
        script.py [args...]
"""
import argparse
import os
import runpy
import sys
import threading
import time

from greenlet_cffi import _formats, compat, getcurrent, settrace
from greenlet_cffi._recording import GreenletInfo, Recording

PACKAGE_DIR = os.path.dirname(os.path.abspath(compat.__file__))


def frames_outward(frame, limit=200):
    """frame, its f_back, ... -- stopping at a repeat: on PyPy a suspended
    greenlet's chain loops back through the continulet that runs it."""
    seen = set()
    while frame is not None and id(frame) not in seen and len(seen) < limit:
        seen.add(id(frame))
        yield frame
        frame = frame.f_back


def run_name(frame):
    """The qualified name of the outermost frame of a suspended greenlet
    that is the program's (the run callable), or None."""
    name = None
    for f in frames_outward(frame):
        internal = os.path.abspath(f.f_code.co_filename).startswith(PACKAGE_DIR)
        if internal and name is not None:
            break        # below the run callable: the switch machinery
        if not internal:  # (above the program's frames: the switch itself)
            name = getattr(f.f_code, "co_qualname", f.f_code.co_name)
    return name


class HandRecorder:
    def __init__(self, sample_hz=1000):
        self.rec = Recording(start_ns=time.perf_counter_ns())
        self.thread = threading.get_ident()
        self.ids = {}          # greenlet -> id; the harness may keep them alive
        self.current = None    # id of the running greenlet
        self.since = self.rec.start_ns
        self.period = 1.0 / sample_hz
        self.stop = threading.Event()

    def gid(self, g):
        gid = self.ids.get(g)
        if gid is None:
            gid = self.ids[g] = len(self.ids) + 1
            # Named once it is seen suspended (a tracer sees a greenlet
            # first when it starts, and its run attribute is gone by then).
            self.rec.greenlets.append(GreenletInfo(
                id=gid, name="main" if g.parent is None else type(g).__name__,
                thread_id=self.thread, thread_name="MainThread",
                created_at="", is_main=g.parent is None))
        return gid

    def trace(self, event, args):
        now = time.perf_counter_ns()
        origin, target = args
        src, dst = self.gid(origin), self.gid(target)
        self.rec.intervals.append((src, self.thread, self.since, now))
        self.rec.switches.append((src, dst, self.thread, now))
        if event == "throw":
            self.rec.instants.append((dst, self.thread, now, "kill",
                                      "thrown into from #%d" % src))
        self.info(dst).switches_in += 1
        # The callback runs in the target: the origin has just been
        # suspended, so its frames tell what it runs.
        info = self.info(src)
        if info.name == type(origin).__name__ and origin.gr_frame is not None:
            info.name = run_name(origin.gr_frame) or info.name
        self.current, self.since = dst, now

    def info(self, gid):
        return self.rec.greenlets[gid - 1]

    def sample(self):
        # Attribute the main thread's Python stack to the greenlet running.
        while not self.stop.wait(self.period):
            frame = sys._current_frames().get(self.thread)
            gid, t = self.current, time.perf_counter_ns()
            # One frame per function (its first line), as flame graphs
            # merge them.
            stack = [(getattr(f.f_code, "co_qualname", f.f_code.co_name),
                      f.f_code.co_filename, f.f_code.co_firstlineno)
                     for f in frames_outward(frame)]
            stack.reverse()
            self.rec.samples.append((gid, self.thread, t, stack))

    def run(self, script, args):
        self.current = self.gid(getcurrent())
        sampler = threading.Thread(target=self.sample, daemon=True)
        # The sampler needs the GIL: ask the running thread for it often.
        sys.setswitchinterval(self.period / 4)
        settrace(self.trace)
        sampler.start()
        sys.argv[:] = [script] + list(args)
        try:
            runpy.run_path(script, run_name="__main__")
        finally:
            settrace(None)
            self.stop.set()
            sampler.join()
            end = time.perf_counter_ns()
            self.rec.intervals.append((self.current, self.thread,
                                       self.since, end))
            self.rec.end_ns = end
            killed = {i[0] for i in self.rec.instants if i[3] == "kill"}
            for g, gid in self.ids.items():
                if g.dead and g.parent is not None:
                    self.info(gid).outcome = (
                        "killed" if gid in killed else "returned")
        return self.rec


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("-o", "--output", required=True)
    parser.add_argument("--format", choices=_formats.FORMATS, required=True)
    parser.add_argument("--sample-hz", type=int, default=1000)
    parser.add_argument("script")
    parser.add_argument("args", nargs=argparse.REMAINDER)
    opts = parser.parse_args(argv)
    compat.register()   # the program imports greenlet: it gets greenlet_cffi
    sys.path[0] = os.path.dirname(os.path.abspath(opts.script))
    rec = HandRecorder(opts.sample_hz).run(opts.script, opts.args)
    # The period achieved (the sampler waits for the GIL), as the profiler
    # would pass it: one greenlet is sampled per tick here, which defeats
    # the writer's estimate from sample times.
    period = (rec.end_ns - rec.start_ns) // max(len(rec.samples), 1)
    with open(opts.output, "w") as fp:
        _formats.write(rec, fp, opts.format, sample_interval_ns=period)
    print("%d greenlets, %d intervals, %d samples -> %s" % (
        len(rec.greenlets), len(rec.intervals), len(rec.samples),
        opts.output))


if __name__ == "__main__":
    main()
