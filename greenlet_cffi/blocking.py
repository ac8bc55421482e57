"""Find greenlets that run too long without switching.

``watch_blocking(max_seconds=0.1, callback=None)`` starts one monitor thread.
Every thread that switches greenlets counts its switches (one increment per
switch, in its tracing hook); the monitor looks at the counts a few times per
``max_seconds``, and a thread whose count has not moved for ``max_seconds``
while it has switched before is reported once for that episode, with the
greenlet running there, how long it has been running (at least) and its
current stack.  Threads that never switched greenlets are never reported.

A thread that is done with greenlets and goes on with plain work (or waits)
is a greenlet running without switching too: it is reported once.
"""
import logging
import sys
import threading
import time
import traceback
from types import FrameType
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Tuple

from . import tracing

__all__ = ["watch_blocking", "Blocked", "BlockingWatch"]

log = logging.getLogger("greenlet_cffi.blocking")


class Blocked(NamedTuple):
    """One episode: a greenlet running without switching."""
    thread_id: int
    thread_name: str
    greenlet: Any
    seconds: float                  # how long it has run without switching
    stack: List[traceback.FrameSummary]     # outermost first

    def format(self) -> str:
        return ("greenlet %r in thread %s (%#x) has run %.3fs without switching:\n%s"
                % (self.greenlet, self.thread_name, self.thread_id, self.seconds,
                   "".join(traceback.format_list(self.stack)).rstrip("\n")))


def _warn(blocked: Blocked) -> None:
    log.warning("%s", blocked.format())


class BlockingWatch:
    """The monitor; ``stop()`` ends it (and the counting)."""

    def __init__(self, max_seconds: float, callback: Callable[[Blocked], Any]):
        self.max_seconds = max_seconds
        self.callback = callback
        self.reports = 0
        self._stop = threading.Event()
        # Several looks per max_seconds: a report comes at most a quarter
        # of it late, and its duration is short by at most that.
        self._period = max(min(max_seconds / 4.0, 0.25), 0.001)
        tracing._count_switches(True)
        self._thread = threading.Thread(target=self._run, name="greenlet_cffi-blocking",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if not self._stop.is_set():
            self._stop.set()
            if self._thread is not threading.current_thread():
                self._thread.join()
            tracing._count_switches(False)

    def __enter__(self) -> "BlockingWatch":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        # hook -> [switch count, when it last changed, reported]
        seen: Dict[Any, List[Any]] = {}
        while not self._stop.wait(self._period):
            now = time.monotonic()
            for hook in tracing._thread_hooks():
                count = hook.switches
                mark = seen.get(hook)
                if mark is None or mark[0] != count:
                    seen[hook] = [count, now, False]
                    continue
                if count == 0 or mark[2] or now - mark[1] < self.max_seconds:
                    continue
                mark[2] = True
                self._report(hook, now - mark[1])
            for hook in [h for h in seen if h.ts() is None or not h.ts().alive]:
                del seen[hook]

    def _report(self, hook: Any, seconds: float) -> None:
        ts = hook.ts()
        if ts is None or not ts.alive or ts.ident is None:
            return
        ident = ts.ident
        frame = sys._current_frames().get(ident)
        if frame is None:
            return      # the thread ended (PyPy tells its state late)
        g = ts.current
        top = tracing._outside(frame)
        walked = _walk(top) if tracing.can_walk(ident) else [(top, top.f_lineno)] if top else []
        stack = traceback.StackSummary.extract(walked, capture_locals=False)
        name = "?"
        for t in threading.enumerate():
            if t.ident == ident:
                name = t.name
        self.reports += 1
        try:
            self.callback(Blocked(ident, name, g, seconds, list(stack)))
        except Exception:
            log.exception("greenlet_cffi: the blocking callback failed")


def _walk(frame: Optional[FrameType]) -> List[Tuple[FrameType, int]]:
    """(frame, lineno) from the outermost caller to frame."""
    out = [(f, f.f_lineno) for f in tracing.frames_from(frame)]
    out.reverse()
    return out


def watch_blocking(max_seconds: float = 0.1,
                   callback: Optional[Callable[[Blocked], Any]] = None) -> BlockingWatch:
    """Start watching every thread for a greenlet that runs longer than
    ``max_seconds`` without switching; report each episode once through
    ``callback(Blocked)`` (default: a ``logging`` warning).  Returns the
    watch; ``stop()`` it (or use it as a context manager)."""
    if max_seconds <= 0:
        raise ValueError("max_seconds must be positive")
    return BlockingWatch(max_seconds, callback or _warn)
