"""Writers that turn a Recording into files other tools open.

* write_chrome: Chrome Trace Event JSON (chrome://tracing, Perfetto's UI,
  speedscope's importer). One track per greenlet, ordered so that the
  greenlets of one OS thread sit together; a complete slice per running
  interval; flow arrows for switches; instants for throws, kills and
  blocking episodes.
* write_speedscope: speedscope's own JSON format. One "sampled" profile per
  greenlet that has samples (its own flame graph), an "evented" profile made
  of its running intervals for a greenlet that has none.

Both only read the Recording; times in it are perf_counter_ns() values and
are written relative to Recording.start_ns.
"""
import bisect
import json
import os
from typing import Any, Dict, List, Optional, TextIO, Tuple

from ._recording import FrameKey, GreenletInfo, Recording

Event = Dict[str, Any]
Span = Tuple[int, int]

SPEEDSCOPE_SCHEMA = "https://www.speedscope.app/file-format-schema.json"
FORMATS = ("chrome", "speedscope")


def _exporter() -> str:
    # Late: __init__ defines it, and may one day import this module.
    from . import __version__
    return "greenlet_cffi %s" % __version__


def _thread_order(recording: Recording) -> List[int]:
    """Thread ids in a stable display order: first seen, main thread's first.

    A greenlet's info carries its thread; intervals may name threads whose
    greenlets were never described (defensive), those come last.
    """
    order: List[int] = []
    for info in sorted(recording.greenlets, key=lambda g: (not g.is_main, g.id)):
        if info.thread_id not in order:
            order.append(info.thread_id)
    for _gid, tid, _start, _end in recording.intervals:
        if tid not in order:
            order.append(tid)
    return order


def _label(info: GreenletInfo) -> str:
    return "%s #%d" % (info.name, info.id)


def _track_name(info: GreenletInfo) -> str:
    return "%s [%s]" % (_label(info), info.thread_name or info.thread_id)


def _us(recording: Recording, t_ns: int) -> float:
    # The format's unit is the microsecond; keep nanosecond precision (three
    # decimals) so that adjacent switch points do not collapse together.
    return round((t_ns - recording.start_ns) / 1000.0, 3)


class _Intervals:
    """Per-greenlet sorted running intervals, to place flow bind points."""

    def __init__(self, intervals: List[Tuple[int, int, int, int]]) -> None:
        self._by_gid: Dict[int, List[Span]] = {}
        for gid, _tid, start, end in intervals:
            self._by_gid.setdefault(gid, []).append((start, end))
        for spans in self._by_gid.values():
            spans.sort()
        self._starts = {gid: [s for s, _e in spans]
                        for gid, spans in self._by_gid.items()}

    def containing(self, gid: int, t_ns: int) -> Optional[Span]:
        spans = self._by_gid.get(gid)
        if not spans:
            return None
        i = bisect.bisect_right(self._starts[gid], t_ns) - 1
        if i >= 0 and spans[i][0] <= t_ns <= spans[i][1]:
            return spans[i]
        return None


def _bind_point(spans: Optional[Span], t_ns: int, nudge: int) -> int:
    """A time strictly inside the slice around t_ns, if there is one.

    A switch happens exactly where one slice ends and the next begins; a
    viewer that binds a flow end to "the enclosing slice" may pick neither
    at a shared boundary, so the point moves one nanosecond inwards.
    """
    if spans is None:
        return t_ns
    start, end = spans
    return min(max(t_ns + nudge, start), end)


def chrome_events(recording: Recording, pid: Optional[int] = None) -> List[Event]:
    """The list of trace events write_chrome writes (a dict per event)."""
    if pid is None:
        pid = os.getpid()
    infos = {g.id: g for g in recording.greenlets}
    threads = _thread_order(recording)
    thread_rank = {tid: i for i, tid in enumerate(threads)}
    events: List[Event] = [{"ph": "M", "name": "process_name", "pid": pid,
                            "tid": 0, "args": {"name": "greenlets"}}]

    # Track metadata: a name per greenlet track, and a sort index that
    # keeps one OS thread's greenlets adjacent (main greenlet first).
    def sort_key(info: GreenletInfo) -> Tuple[int, bool, int]:
        return (thread_rank.get(info.thread_id, len(threads)),
                not info.is_main, info.id)
    for rank, info in enumerate(sorted(recording.greenlets, key=sort_key)):
        events.append({"ph": "M", "name": "thread_name", "pid": pid,
                       "tid": info.id, "args": {"name": _track_name(info)}})
        events.append({"ph": "M", "name": "thread_sort_index", "pid": pid,
                       "tid": info.id, "args": {"sort_index": rank}})

    for gid, tid, start, end in recording.intervals:
        ginfo = infos.get(gid)
        # The same name and args on every slice of a greenlet, so viewers
        # that aggregate (speedscope) merge them into one frame; the args
        # show in a viewer's details panel.
        events.append({
            "ph": "X", "cat": "greenlet",
            "name": _label(ginfo) if ginfo else "greenlet #%d" % gid,
            "pid": pid, "tid": gid,
            "ts": _us(recording, start),
            "dur": round((end - start) / 1000.0, 3),
            "args": ({"thread": ginfo.thread_name,
                      "created at": ginfo.created_at or None,
                      "outcome": ginfo.outcome} if ginfo else {"thread": tid}),
        })

    spans = _Intervals(recording.intervals)
    for flow_id, (src, dst, _tid, t_ns) in enumerate(recording.switches, 1):
        out_t = _bind_point(spans.containing(src, t_ns), t_ns, -1)
        in_t = _bind_point(spans.containing(dst, t_ns), t_ns, +1)
        events.append({"ph": "s", "cat": "switch", "name": "switch",
                       "id": flow_id, "pid": pid, "tid": src,
                       "ts": _us(recording, out_t)})
        events.append({"ph": "f", "bp": "e", "cat": "switch",
                       "name": "switch", "id": flow_id, "pid": pid,
                       "tid": dst, "ts": _us(recording, in_t)})

    for gid, _tid, t_ns, kind, detail in recording.instants:
        events.append({"ph": "i", "s": "t", "cat": kind, "name": kind,
                       "pid": pid, "tid": gid, "ts": _us(recording, t_ns),
                       "args": {"detail": detail}})
    return events


def write_chrome(recording: Recording, fp: TextIO,
                 pid: Optional[int] = None) -> None:
    """Write recording to the text file fp as Chrome Trace Event JSON.

    pid is the process id written on every event (default: this process).
    """
    json.dump({"traceEvents": chrome_events(recording, pid),
               "displayTimeUnit": "ms",
               "otherData": {"exporter": _exporter()}},
              fp, separators=(",", ":"))
    fp.write("\n")


def _sampling_period(recording: Recording,
                     by_gid: Dict[int, List[Tuple[int, List[FrameKey]]]]) -> int:
    """The sampler's period in ns, estimated from the sample times.

    A sampler takes a greenlet at most once per tick, so the gaps between
    one greenlet's consecutive samples are the period or, where it was not
    running or not sampled, about a multiple of it. The shortest gaps are
    thus the period: the median of those below twice the 10th percentile
    (ticks jitter; a busy GIL delays some). A sampler that takes only the
    running greenlet, of several that alternate faster than it ticks, makes
    this an overestimate: pass the period then. With no two samples of
    one greenlet, the samples share the recording's duration.
    """
    gaps: List[int] = []
    for samples in by_gid.values():
        stamps = sorted(t for t, _s in samples)
        gaps.extend(b - a for a, b in zip(stamps, stamps[1:]) if b > a)
    if not gaps:
        count = sum(len(samples) for samples in by_gid.values())
        return max(1, (recording.end_ns - recording.start_ns) // max(count, 1))
    gaps.sort()
    low = gaps[len(gaps) // 10]
    short = [g for g in gaps if g < 2 * low]
    return short[len(short) // 2]


def speedscope_document(recording: Recording,
                        name: str = "greenlet_cffi profile",
                        sample_interval_ns: Optional[int] = None) -> Dict[str, Any]:
    """The dict write_speedscope writes."""
    frames: List[Dict[str, Any]] = []
    frame_index: Dict[FrameKey, int] = {}

    def frame(key: FrameKey) -> int:
        idx = frame_index.get(key)
        if idx is None:
            idx = frame_index[key] = len(frames)
            func, filename, line = key
            entry: Dict[str, Any] = {"name": func}
            if filename:
                entry["file"] = filename
            if line:
                entry["line"] = line
            frames.append(entry)
        return idx

    by_gid: Dict[int, List[Tuple[int, List[FrameKey]]]] = {}
    for gid, _tid, t_ns, stack in recording.samples:
        by_gid.setdefault(gid, []).append((t_ns, stack))
    spans_by_gid: Dict[int, List[Span]] = {}
    for gid, _tid, start, end in recording.intervals:
        spans_by_gid.setdefault(gid, []).append((start, end))

    period = sample_interval_ns or _sampling_period(recording, by_gid)
    profiles: List[Dict[str, Any]] = []
    busiest, busiest_weight = 0, -1
    threads = _thread_order(recording)
    thread_rank = {tid: i for i, tid in enumerate(threads)}
    order = sorted(recording.greenlets, key=lambda g: (
        thread_rank.get(g.thread_id, len(threads)), not g.is_main, g.id))
    for info in order:
        samples = sorted(by_gid.get(info.id, ()), key=lambda s: s[0])
        if samples:
            stamps = [t for t, _s in samples]
            weights = [period] * len(stamps)
            start = stamps[0] - recording.start_ns
            profile: Dict[str, Any] = {
                "type": "sampled", "name": _track_name(info),
                "unit": "nanoseconds",
                "startValue": start, "endValue": start + sum(weights),
                # (A stack's entries may be lists, e.g. read back from JSON.)
                "samples": [[frame((k[0], k[1], k[2])) for k in stack]
                            for _t, stack in samples],
                "weights": weights,
            }
            total = sum(weights)
        else:
            spans = sorted(spans_by_gid.get(info.id, ()))
            if not spans:
                continue
            # No samples: the greenlet's running intervals as one frame
            # opened and closed, which speedscope's time-order view shows as
            # its timeline.
            idx = frame((_label(info), info.created_at, 0))
            events: List[Event] = []
            for start, end in spans:
                events.append({"type": "O", "frame": idx,
                               "at": start - recording.start_ns})
                events.append({"type": "C", "frame": idx,
                               "at": end - recording.start_ns})
            end_ns = max(recording.end_ns, spans[-1][1])
            profile = {
                "type": "evented", "name": _track_name(info),
                "unit": "nanoseconds", "startValue": 0,
                "endValue": end_ns - recording.start_ns, "events": events,
            }
            total = sum(e - s for s, e in spans)
        if total > busiest_weight:
            busiest, busiest_weight = len(profiles), total
        profiles.append(profile)

    return {"$schema": SPEEDSCOPE_SCHEMA, "name": name,
            "exporter": _exporter(), "activeProfileIndex": busiest,
            "shared": {"frames": frames}, "profiles": profiles}


def write_speedscope(recording: Recording, fp: TextIO,
                     name: str = "greenlet_cffi profile",
                     sample_interval_ns: Optional[int] = None) -> None:
    """Write recording to the text file fp in speedscope's JSON format.

    sample_interval_ns: the sampler's period, the weight of one sample (the
    profiler knows it); by default estimated from the sample times.
    """
    json.dump(speedscope_document(recording, name, sample_interval_ns), fp,
              separators=(",", ":"))
    fp.write("\n")


def write(recording: Recording, fp: TextIO, fmt: str,
          sample_interval_ns: Optional[int] = None) -> None:
    """Write recording to fp in fmt, one of FORMATS."""
    if fmt == "chrome":
        write_chrome(recording, fp)
    elif fmt == "speedscope":
        write_speedscope(recording, fp, sample_interval_ns=sample_interval_ns)
    else:
        raise ValueError("unknown format %r (expected one of %s)"
                         % (fmt, ", ".join(FORMATS)))
