"""The structure of the files greenlet_cffi._formats writes, on Recordings
built by hand (tests/test_viewer.py opens real ones in a real viewer)."""
import io
import json

import pytest

from greenlet_cffi import _formats
from greenlet_cffi._recording import GreenletInfo, Recording

T0 = 5_000_000_000          # an arbitrary perf_counter_ns() origin
MAIN_T, OTHER_T = 111, 222  # thread ids


def us(ns):
    return ns / 1000.0


def two_threads():
    """Thread MAIN_T: main #1, worker #3; thread OTHER_T: main #2, job #4.
    Ids interleave across threads on purpose."""
    rec = Recording(start_ns=T0, end_ns=T0 + 100_000)
    rec.greenlets = [
        GreenletInfo(1, "main", MAIN_T, "MainThread", "", is_main=True),
        GreenletInfo(2, "main", OTHER_T, "Thread-1", "", is_main=True),
        GreenletInfo(3, "worker", MAIN_T, "MainThread", "demo.py:10",
                     outcome="returned"),
        GreenletInfo(4, "Job", OTHER_T, "Thread-1", "demo.py:20",
                     outcome="killed"),
    ]
    rec.intervals = [
        (1, MAIN_T, T0, T0 + 10_000),
        (3, MAIN_T, T0 + 10_000, T0 + 30_000),
        (1, MAIN_T, T0 + 30_000, T0 + 100_000),
        (2, OTHER_T, T0 + 5_000, T0 + 40_000),
        (4, OTHER_T, T0 + 40_000, T0 + 41_000),
        (2, OTHER_T, T0 + 41_000, T0 + 90_000),
    ]
    rec.switches = [
        (1, 3, MAIN_T, T0 + 10_000),
        (3, 1, MAIN_T, T0 + 30_000),
        (2, 4, OTHER_T, T0 + 40_000),
        (4, 2, OTHER_T, T0 + 41_000),
    ]
    rec.instants = [
        (4, OTHER_T, T0 + 40_500, "kill", "GreenletExit"),
        (3, MAIN_T, T0 + 20_000, "blocking", "ran 0.2 s without switching"),
    ]
    return rec


def chrome(rec):
    buf = io.StringIO()
    _formats.write_chrome(rec, buf, pid=77)
    doc = json.loads(buf.getvalue())
    return doc["traceEvents"]


def by_ph(events, ph):
    return [e for e in events if e["ph"] == ph]


def test_chrome_every_event_is_well_formed():
    events = chrome(two_threads())
    for e in events:
        assert e["pid"] == 77
        assert isinstance(e["tid"], int)
        assert e["ph"] in "MXsfi"
        if e["ph"] != "M":
            assert isinstance(e["ts"], (int, float)) and e["ts"] >= 0


def test_chrome_tracks_named_and_grouped_by_thread():
    events = chrome(two_threads())
    names = {e["tid"]: e["args"]["name"] for e in by_ph(events, "M")
             if e["name"] == "thread_name"}
    assert names == {1: "main #1 [MainThread]", 2: "main #2 [Thread-1]",
                     3: "worker #3 [MainThread]", 4: "Job #4 [Thread-1]"}
    sort = {e["tid"]: e["args"]["sort_index"] for e in by_ph(events, "M")
            if e["name"] == "thread_sort_index"}
    # One thread's greenlets adjacent, its main greenlet first.
    assert sorted(sort, key=sort.get) == [1, 3, 2, 4]
    procs = [e for e in by_ph(events, "M") if e["name"] == "process_name"]
    assert len(procs) == 1


def test_chrome_a_slice_per_running_interval():
    rec = two_threads()
    slices = by_ph(chrome(rec), "X")
    got = sorted((e["tid"], e["ts"], e["dur"]) for e in slices)
    want = sorted((gid, us(s - T0), us(e - s)) for gid, _t, s, e in rec.intervals)
    assert got == want
    # Same name and args on every slice of a greenlet: viewers merge them.
    main = {(e["name"], json.dumps(e["args"])) for e in slices if e["tid"] == 1}
    assert len(main) == 1
    job = [e["args"] for e in slices if e["tid"] == 4]
    assert job == [{"thread": "Thread-1", "created at": "demo.py:20",
                    "outcome": "killed"}]


def test_chrome_flow_per_switch_bound_inside_the_slices():
    rec = two_threads()
    events = chrome(rec)
    starts = {e["id"]: e for e in by_ph(events, "s")}
    ends = {e["id"]: e for e in by_ph(events, "f")}
    assert len(starts) == len(ends) == len(rec.switches)
    slices = by_ph(events, "X")

    def inside(tid, ts):
        return [x for x in slices if x["tid"] == tid
                and x["ts"] < ts < x["ts"] + x["dur"]]
    for flow_id, (src, dst, _tid, t) in enumerate(rec.switches, 1):
        s, f = starts[flow_id], ends[flow_id]
        assert (s["tid"], f["tid"]) == (src, dst)
        assert f["bp"] == "e"
        assert s["cat"] == f["cat"] == "switch"
        # Strictly inside the slice that ends (starts) at the switch.
        assert len(inside(src, s["ts"])) == 1, s
        assert len(inside(dst, f["ts"])) == 1, f
        # ... and one nanosecond away from it (float rounding aside).
        assert abs(s["ts"] - us(t - T0)) < 0.0011
        assert abs(f["ts"] - us(t - T0)) < 0.0011


def test_chrome_flow_without_an_enclosing_slice_stays_at_the_switch():
    rec = two_threads()
    rec.switches.append((3, 4, MAIN_T, T0 + 95_000))   # neither ran then
    events = chrome(rec)
    last = max(e["id"] for e in by_ph(events, "s"))
    pair = [e for e in events if e.get("id") == last]
    assert [e["ts"] for e in pair] == [us(95_000)] * 2


def test_chrome_instants():
    rec = two_threads()
    inst = by_ph(chrome(rec), "i")
    got = sorted((e["tid"], e["ts"], e["name"], e["args"]["detail"], e["s"])
                 for e in inst)
    assert got == sorted((g, us(t - T0), kind, detail, "t")
                         for g, _th, t, kind, detail in rec.instants)


def stack(*names):
    return [(n, "demo.py", i + 1) for i, n in enumerate(names)]


def sampled():
    rec = two_threads()
    # worker #3 sampled every 1000 ns, once with a gap (it was suspended);
    # job #4 twice, 2000 ns apart; nothing for the main greenlets.
    for t in (11_000, 12_000, 13_000, 25_000, 26_000):
        rec.samples.append((3, MAIN_T, T0 + t, stack("worker", "step")))
    rec.samples.append((3, MAIN_T, T0 + 14_000, stack("worker", "other")))
    rec.samples.append((4, OTHER_T, T0 + 40_100, stack("run", "step")))
    rec.samples.append((4, OTHER_T, T0 + 42_100, stack("run")))
    return rec


def speedscope(rec, **kw):
    buf = io.StringIO()
    _formats.write_speedscope(rec, buf, **kw)
    return json.loads(buf.getvalue())


REQUIRED = {"sampled": {"type", "name", "unit", "startValue", "endValue",
                        "samples", "weights"},
            "evented": {"type", "name", "unit", "startValue", "endValue",
                        "events"}}


def check_schema(doc):
    """The required fields and types of speedscope's file-format-schema."""
    assert doc["$schema"] == "https://www.speedscope.app/file-format-schema.json"
    frames = doc["shared"]["frames"]
    assert all(isinstance(f["name"], str) for f in frames)
    assert 0 <= doc["activeProfileIndex"] < len(doc["profiles"])
    for p in doc["profiles"]:
        assert REQUIRED[p["type"]] <= set(p)
        assert p["unit"] == "nanoseconds"
        assert p["startValue"] <= p["endValue"]
        if p["type"] == "sampled":
            assert len(p["samples"]) == len(p["weights"])
            assert all(0 <= i < len(frames) for s in p["samples"] for i in s)
        else:
            ats = [e["at"] for e in p["events"]]
            assert ats == sorted(ats)
            depth = 0
            for e in p["events"]:
                assert 0 <= e["frame"] < len(frames)
                depth += 1 if e["type"] == "O" else -1
                assert depth in (0, 1)
            assert depth == 0


def test_speedscope_sampled_profile_per_greenlet_shared_frames():
    doc = speedscope(sampled())
    check_schema(doc)
    frames = doc["shared"]["frames"]
    profiles = {p["name"]: p for p in doc["profiles"]}
    worker = profiles["worker #3 [MainThread]"]
    job = profiles["Job #4 [Thread-1]"]
    assert worker["type"] == job["type"] == "sampled"
    # Samples in time order, outermost frame first.
    assert [[frames[i]["name"] for i in s] for s in worker["samples"]] == [
        ["worker", "step"], ["worker", "step"], ["worker", "step"],
        ["worker", "other"], ["worker", "step"], ["worker", "step"]]
    # "step" at demo.py:2 is one frame shared by both greenlets.
    step = [i for i, f in enumerate(frames) if f["name"] == "step"]
    assert len(step) == 1
    assert frames[step[0]] == {"name": "step", "file": "demo.py", "line": 2}
    assert step[0] in job["samples"][0]
    # Weight: the period (the shortest gaps), not the suspension gap, and
    # the same for all (one sampler).
    assert worker["weights"] == [1000] * 6
    assert job["weights"] == [1000] * 2
    assert worker["startValue"] == 11_000
    assert worker["endValue"] == 11_000 + 6000


def test_speedscope_period_estimate_ignores_jitter_and_pauses():
    # A sampler that takes every live greenlet on each tick (one after the
    # other: 50 ns apart), ticks of 1000 ns +- 100; greenlet #4 is missing
    # from every third tick (not started, finished, or not running).
    rec = two_threads()
    t = T0
    for i in range(200):
        t += 1000 + (100 if i % 2 else -100)
        rec.samples.append((3, MAIN_T, t, stack("f")))
        if i % 3:
            rec.samples.append((4, MAIN_T, t + 50, stack("g")))
    doc = speedscope(rec)
    weights = {w for p in doc["profiles"] if p["type"] == "sampled"
               for w in p["weights"]}
    assert len(weights) == 1
    assert 900 <= weights.pop() <= 1100


def test_speedscope_period_of_lone_samples():
    rec = two_threads()             # 100_000 ns long
    rec.samples = [(3, MAIN_T, T0 + 15_000, stack("f")),
                   (4, OTHER_T, T0 + 40_500, stack("g"))]
    doc = speedscope(rec)
    assert [p["weights"] for p in doc["profiles"] if p["type"] == "sampled"
            ] == [[50_000], [50_000]]


def test_speedscope_given_period():
    doc = speedscope(sampled(), sample_interval_ns=500)
    assert all(w == 500 for p in doc["profiles"] if p["type"] == "sampled"
               for w in p["weights"])


def test_speedscope_evented_from_intervals_without_samples():
    rec = sampled()
    doc = speedscope(rec)
    check_schema(doc)
    profiles = {p["name"]: p for p in doc["profiles"]}
    # The main greenlets have no samples: their running intervals instead.
    main1 = profiles["main #1 [MainThread]"]
    assert main1["type"] == "evented"
    assert [(e["type"], e["at"]) for e in main1["events"]] == [
        ("O", 0), ("C", 10_000), ("O", 30_000), ("C", 100_000)]
    assert main1["endValue"] == 100_000
    assert doc["shared"]["frames"][main1["events"][0]["frame"]]["name"] == "main #1"
    # Order: grouped by thread, main greenlet first.
    assert [p["name"] for p in doc["profiles"]] == [
        "main #1 [MainThread]", "worker #3 [MainThread]",
        "main #2 [Thread-1]", "Job #4 [Thread-1]"]
    # The busiest profile is the one shown first: main #2 ran 84 us
    # (main #1: 80 us).
    assert doc["activeProfileIndex"] == 2


def test_speedscope_active_profile_is_the_busiest_and_idle_ones_are_left_out():
    rec = sampled()
    rec.intervals = [i for i in rec.intervals if i[0] in (3, 4)]
    rec.greenlets.append(GreenletInfo(5, "never", MAIN_T, "MainThread", "x:1"))
    doc = speedscope(rec)
    names = [p["name"] for p in doc["profiles"]]
    assert names == ["worker #3 [MainThread]", "Job #4 [Thread-1]"]
    assert doc["activeProfileIndex"] == 0   # 6 samples vs 2


def test_speedscope_empty_recording():
    doc = speedscope(Recording(start_ns=T0, end_ns=T0))
    assert doc["profiles"] == [] and doc["shared"]["frames"] == []


def test_write_dispatch():
    rec = two_threads()
    for fmt in _formats.FORMATS:
        buf = io.StringIO()
        _formats.write(rec, buf, fmt)
        json.loads(buf.getvalue())
    with pytest.raises(ValueError, match="unknown format"):
        _formats.write(rec, io.StringIO(), "svg")
