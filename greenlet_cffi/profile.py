"""A greenlet-aware profiler: who ran when, for how long, who switched to whom.

From the command line, on an unmodified program (``import greenlet`` gives
greenlet_cffi, as with ``python -m greenlet_cffi.run``)::

    python -m greenlet_cffi.profile [-o FILE] [--format chrome|speedscope]
        [--sample-hz N] [--max-blocking S] script.py [args...]
    python -m greenlet_cffi.profile [options] -m module [args...]

It prints a table per greenlet on stderr when the program ends, and with
``-o`` writes a Chrome Trace Event file (one track per greenlet, grouped by
thread) or, with ``--format speedscope``, a speedscope file (one sampled
profile per greenlet; use ``--sample-hz``).

From code::

    from greenlet_cffi import profile
    with profile.record(sample_hz=1000) as rec:
        ...
    rec.write("trace.json", format="chrome")
    print(rec.table())

Times come from ``time.perf_counter_ns()``; CPU time from
``time.thread_time_ns()`` read at every switch, in the thread switching.
Samples (``sample_hz``) are taken from a thread of their own through
``greenlet_cffi.tracing.current_frames()``: every live greenlet's stack,
running or suspended, so each greenlet's profile is a wall-clock one.
"""
import argparse
import sys
import threading
import time
import traceback
import weakref
from typing import Any, Dict, List, Optional

from . import _greenlet as _g
from . import tracing
from ._recording import GreenletInfo, Recording

__all__ = ["record", "Recorder", "main"]

_now = time.perf_counter_ns
_cpu = time.thread_time_ns


def _name_of(g, run=None) -> str:
    """The run callable's qualified name, or the subclass's name."""
    cls = type(g)
    if cls is not _g.greenlet:
        return cls.__qualname__
    if run is None:
        return "greenlet"
    name = getattr(run, "__qualname__", None)
    if name is None:    # a partial, a callable object
        name = getattr(getattr(run, "func", None), "__qualname__", None) \
            or type(run).__qualname__
    return name


class Recorder:
    """Records greenlet events into a Recording between start() and stop()."""

    def __init__(self, sample_hz: float = 0, max_blocking: Optional[float] = None):
        self.sample_hz = sample_hz
        self.max_blocking = max_blocking
        self.recording = Recording(start_ns=0)
        self._lock = threading.Lock()
        self._ids: Dict[int, Any] = {}      # id(g) -> (weakref to g, info)
        self._clocks: Dict[int, list] = {}  # thread -> [info running, since_ns, cpu_ns]
        self._born: Dict[int, int] = {}     # gid -> start (or first seen) ns
        self._ended: Dict[int, int] = {}    # gid -> finish ns
        self._listener = None
        self._sampler = None
        self._watch = None
        self._tracking = None
        self._stop = threading.Event()
        self.blocked: List[Any] = []

    # -- greenlets -> ids ------------------------------------------------------

    def _info(self, g, thread_id=None, new=False) -> GreenletInfo:
        entry = self._ids.get(id(g))
        if entry is not None and not new and self._same(entry, g):
            return entry[1]
        with self._lock:
            entry = self._ids.get(id(g))
            if entry is not None and not new and self._same(entry, g):
                return entry[1]
            if thread_id is None:
                ts = g._greenlet__ts
                thread_id = ts.ident if ts.ident is not None else threading.get_ident()
            info = GreenletInfo(
                id=len(self.recording.greenlets), name=_name_of(g),
                thread_id=thread_id, thread_name=_thread_name(thread_id),
                created_at="", is_main=g.parent is None)
            if info.is_main:
                info.name = "main"
            self.recording.greenlets.append(info)
            key = id(g)
            ids = self._ids

            def forget(ref, key=key):
                if ids.get(key, (None,))[0] is ref:
                    del ids[key]
            try:
                ref = weakref.ref(g, forget)
            except TypeError:
                # Garbage being killed (PyPy: its weak references are gone
                # already): known by id until its "finish".
                ref = None
            self._ids[key] = (ref, info)
            return info

    @staticmethod
    def _same(entry, g):
        ref = entry[0]
        if ref is None:
            return True
        known = ref()
        # Its weak reference is cleared while the GC kills it (PyPy); an
        # id taken over by a new greenlet comes through "spawn" (new=True).
        return known is g or (known is None and entry[1].outcome is None)

    # -- the listener ----------------------------------------------------------

    def _make_listener(self):
        # The switch is the hot path: everything it needs is a local here.
        ids, clocks, rec = self._ids, self._clocks, self.recording
        add_interval, add_switch = rec.intervals.append, rec.switches.append
        add_instant = rec.instants.append
        now_ns, cpu_ns, get_ident = _now, _cpu, threading.get_ident
        info_of, other = self._info, self._event

        def listener(event, args):
            if event != "switch" and event != "throw":
                return other(event, args)
            now = now_ns()
            cpu = cpu_ns()
            target = args[1]
            entry = ids.get(id(target))
            if entry is not None and entry[0] is not None and entry[0]() is target:
                tinfo = entry[1]
            else:
                tinfo = info_of(target)
            tinfo.switches_in += 1
            ident = get_ident()
            clock = clocks.get(ident)
            if clock is None:       # a thread's first switch seen
                clocks[ident] = [tinfo, now, cpu]
                add_switch((info_of(args[0]).id, tinfo.id, ident, now))
            else:
                # What ran since the last switch here (args[0], normally).
                oinfo, since, cpu0 = clock
                oinfo.wall_ns += now - since
                oinfo.cpu_ns += cpu - cpu0
                add_interval((oinfo.id, ident, since, now))
                add_switch((oinfo.id, tinfo.id, ident, now))
                clock[0] = tinfo
                clock[1] = now
                clock[2] = cpu
            if event == "throw":
                add_instant((tinfo.id, ident, now, "throw", type(args[2]).__name__))
        return listener

    def _event(self, event, args):
        if event == "spawn":
            g, creator, (filename, line) = args
            info = self._info(g, threading.get_ident(), new=True)
            info.created_at = "%s:%d" % (filename, line)
        elif event == "start":
            g, run = args
            info = self._info(g)
            info.name = _name_of(g, run)
            # Born when the switch into it was seen, the start of the first
            # interval its wall time counts (the "start" event comes later).
            clock = self._clocks.get(threading.get_ident())
            self._born[info.id] = clock[1] if clock is not None and clock[0] is info else _now()
        elif event == "finish":
            g, outcome, value = args
            info = self._info(g)
            info.outcome = "raised %s" % type(value).__name__ if outcome == "raised" \
                else outcome
            self._ended[info.id] = _now()
            if self._ids.get(id(g), (0,))[0] is None:
                del self._ids[id(g)]
        elif event == "collect":
            info = self._info(args[0])
            self.recording.instants.append((info.id, threading.get_ident(), _now(),
                                            "kill", "collected"))

    # -- sampling --------------------------------------------------------------

    def _sample(self):
        period = 1.0 / self.sample_hz
        samples = self.recording.samples
        while not self._stop.wait(period):
            self._sample_once(samples)

    def _sample_once(self, samples):
        # A function of its own, so that no greenlet outlives the round in
        # a local variable of the sampler (that would delay its collection).
        t = _now()
        for g, ident, frame in tracing.each_frame():
            if frame is not None:
                samples.append((self._info(g).id, ident, t, tracing.stack_of_greenlet(
                    g, frame, tracing.can_walk(ident))))
            g = frame = None

    def _on_blocking(self, blocked):
        self.blocked.append(blocked)
        info = self._info(blocked.greenlet)
        where = "%s:%s" % (blocked.stack[-1].filename, blocked.stack[-1].lineno) \
            if blocked.stack else "?"
        self.recording.instants.append((info.id, blocked.thread_id, _now(), "blocking",
                                        "%.3fs at %s" % (blocked.seconds, where)))
        sys.stderr.write("greenlet_cffi.profile: %s\n" % blocked.format())

    # -- start / stop ----------------------------------------------------------

    def start(self) -> "Recorder":
        rec = self.recording
        rec.start_ns = _now()
        here = _g.getcurrent()
        self._clocks[threading.get_ident()] = [self._info(here), rec.start_ns, _cpu()]
        self._listener = tracing.add_listener(self._make_listener())
        if self.sample_hz:
            self._tracking = tracing.track_greenlets()
            self._sampler = threading.Thread(target=self._sample, daemon=True,
                                             name="greenlet_cffi-sampler")
            self._sampler.start()
        if self.max_blocking:
            from .blocking import watch_blocking
            self._watch = watch_blocking(self.max_blocking, self._on_blocking)
        return self

    def stop(self) -> Recording:
        if self._listener is None:
            return self.recording
        self._listener.remove()
        self._listener = None
        self._stop.set()
        if self._sampler is not None:
            self._sampler.join()
            self._tracking.stop()
        if self._watch is not None:
            self._watch.stop()
        rec = self.recording
        rec.end_ns = end = _now()
        here = threading.get_ident()
        for ident, (info, since, cpu0) in self._clocks.items():
            info.wall_ns += end - since
            if ident == here:       # only this thread's CPU clock is at hand
                info.cpu_ns += _cpu() - cpu0
            rec.intervals.append((info.id, ident, since, end))
        for info in rec.greenlets:
            born = self._born.get(info.id)
            if born is None:
                continue
            life = self._ended.get(info.id, end) - born
            info.suspended_ns = max(0, life - info.wall_ns)
        return rec

    def __enter__(self) -> "Recorder":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- output ----------------------------------------------------------------

    def write(self, path: str, format: Optional[str] = None) -> None:
        """Write the recording: format "chrome" (Chrome Trace Event JSON)
        or "speedscope"; by default from the file name (.speedscope.json)."""
        if format is None:
            format = "speedscope" if path.endswith(".speedscope.json") else "chrome"
        period = int(1e9 / self.sample_hz) if self.sample_hz else None
        write_to(self.recording, path, format, period)

    def table(self, limit: int = 50) -> str:
        return format_table(self.recording, limit)


def write_to(recording: Recording, path: str, format: str,
             sample_interval_ns: Optional[int] = None) -> None:
    """Write recording to path; sample_interval_ns: the sampler's period."""
    if format not in ("chrome", "speedscope"):
        raise ValueError("format must be 'chrome' or 'speedscope', not %r" % (format,))
    from . import _formats     # the writers live with the format code
    with open(path, "w", encoding="utf-8") as fp:
        _formats.write(recording, fp, format, sample_interval_ns)


def record(sample_hz: float = 0, max_blocking: Optional[float] = None) -> Recorder:
    """A context manager recording greenlet activity of every thread:
    ``with record() as rec: ...``, then ``rec.recording``, ``rec.write()``,
    ``rec.table()``."""
    return Recorder(sample_hz, max_blocking)


def _thread_name(ident) -> str:
    for t in threading.enumerate():
        if t.ident == ident:
            return t.name
    return "thread %#x" % ident


def _ms(ns: int) -> str:
    return "%.3f" % (ns / 1e6)


def format_table(recording: Recording, limit: int = 50) -> str:
    """One row per greenlet, those that ran longest first."""
    rows = sorted(recording.greenlets, key=lambda i: -i.wall_ns)
    head = ("greenlet", "thread", "created at", "switches in", "wall ms", "cpu ms",
            "suspended ms", "outcome")
    body = [(i.name, i.thread_name, i.created_at or "-", str(i.switches_in),
             _ms(i.wall_ns), _ms(i.cpu_ns), _ms(i.suspended_ns),
             i.outcome or ("running" if not i.is_main else "-"))
            for i in rows[:limit]]
    widths = [max(len(r[c]) for r in [head] + body) for c in range(len(head))]
    # Long names and paths are cut from the left: the end says the most.
    widths = [min(w, 48) for w in widths]

    def line(r):
        cells = [(c if len(c) <= w else "..." + c[-(w - 3):]).ljust(w)
                 for c, w in zip(r, widths)]
        return "  ".join(cells).rstrip()
    out = [line(head), line(tuple("-" * w for w in widths))] + [line(r) for r in body]
    if len(rows) > limit:
        out.append("... %d more greenlets" % (len(rows) - limit))
    out.append("%d greenlets, %d switches, %.3f s recorded"
               % (len(rows), len(recording.switches),
                  (recording.end_ns - recording.start_ns) / 1e9))
    return "\n".join(out)


USAGE = "python -m greenlet_cffi.profile [options] (script.py | -m module) [args...]"


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m greenlet_cffi.profile", usage=USAGE,
                                     description="Run a greenlet program on greenlet_cffi "
                                     "and record what every greenlet did.")
    parser.add_argument("-o", "--output", help="write the recording to this file")
    parser.add_argument("--format", choices=("chrome", "speedscope"),
                        help="file format (default: chrome, or speedscope for "
                        "a .speedscope.json file)")
    parser.add_argument("--sample-hz", type=float, default=0,
                        help="sample every greenlet's stack this often")
    parser.add_argument("--max-blocking", type=float, default=None, metavar="S",
                        help="report greenlets running S seconds without switching")
    parser.add_argument("-m", dest="module", help="run a module, as python -m")
    parser.add_argument("args", nargs=argparse.REMAINDER,
                        help="the script and its arguments")
    opts = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if opts.module is not None:
        target = ["-m", opts.module] + opts.args
    elif opts.args:
        target = opts.args
    else:
        parser.error("a script or -m module is needed")
    if opts.sample_hz < 0:
        parser.error("--sample-hz must not be negative")
    from . import run
    status = 0
    rec = Recorder(opts.sample_hz, opts.max_blocking)
    with rec:
        try:
            status = run.main(target)
        except SystemExit as e:
            status = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        except BaseException:       # the program's own error: still profiled
            traceback.print_exc()
            status = 1
    sys.stderr.write("\n" + rec.table() + "\n")
    if opts.output:
        try:
            rec.write(opts.output, opts.format)
        except (RuntimeError, OSError) as e:
            sys.stderr.write("greenlet_cffi.profile: %s\n" % e)
            return status or 1
        sys.stderr.write("greenlet_cffi.profile: wrote %s\n" % opts.output)
    return status


if __name__ == "__main__":
    sys.exit(main())
