"""What the profiler records, independent of any output format.

greenlet_cffi.profile fills a Recording from tracing events and samples;
the format writers (Chrome Trace Event JSON, speedscope) only read it.
Times are integers from time.perf_counter_ns(); ids are small integers the
profiler assigns, so nothing here keeps a greenlet alive.
"""
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

# (function name, file name, line number), outermost frame first in a stack.
FrameKey = Tuple[str, str, int]


@dataclass
class GreenletInfo:
    id: int
    name: str                  # run callable's qualified name, or the subclass
    thread_id: int
    thread_name: str
    created_at: str            # "file:line" of the spawning code, or "" for main
    outcome: Optional[str] = None   # "returned", "raised <Type>", "killed", None (alive)
    is_main: bool = False
    switches_in: int = 0
    cpu_ns: int = 0            # CPU time while running
    wall_ns: int = 0           # wall time while running
    suspended_ns: int = 0      # wall time between start and finish not running


@dataclass
class Recording:
    start_ns: int
    end_ns: int = 0
    greenlets: List[GreenletInfo] = field(default_factory=list)
    # (greenlet id, thread id, start_ns, end_ns): one per running interval
    intervals: List[Tuple[int, int, int, int]] = field(default_factory=list)
    # (from greenlet id, to greenlet id, thread id, t_ns)
    switches: List[Tuple[int, int, int, int]] = field(default_factory=list)
    # (greenlet id, thread id, t_ns, kind, detail); kind is "throw", "kill", "blocking"
    instants: List[Tuple[int, int, int, str, str]] = field(default_factory=list)
    # (greenlet id, thread id, t_ns, stack outermost-first)
    samples: List[Tuple[int, int, int, List[FrameKey]]] = field(default_factory=list)
