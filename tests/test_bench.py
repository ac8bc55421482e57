"""bench/bench.py, the project's main job, runs and reports both modes."""
import json
import os
import subprocess
import sys

import pytest

BENCH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                     "bench", "bench.py")


def _reference_available():
    if sys.implementation.name == "pypy":
        return True         # PyPy's bundled greenlet
    try:
        import greenlet
    except ImportError:
        return False
    return "greenlet_cffi" not in (getattr(greenlet, "__file__", "") or "")


@pytest.mark.skipif(not _reference_available(),
                    reason="greenlet from PyPI is not installed in this venv: "
                           "bench.py compares against it")
def test_bench_reports_both_modes_with_round_one_apart(tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, BENCH, "--quick", "--only", "switch,getcurrent", "--rounds", "3",
         "--json", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
        timeout=600)
    assert proc.returncode == 0, proc.stdout
    rows = json.loads(out.read_text())["results"]
    modes = {(r["mode"], r["workload"]): r for r in rows}
    for name in ("switch", "getcurrent"):
        own, seq = modes[("workload", name)], modes[("sequence", name)]
        assert own["ours"] > 0 and own["reference"] > 0
        assert own["ratio"] == pytest.approx(own["ours"] / own["reference"])
        # Round 1 apart; best and worst over the two warm rounds.
        assert len(seq["ours_repeats"]) == 2 and len(seq["reference_repeats"]) == 2
        assert seq["ours"] == min(seq["ours_repeats"])
        assert seq["ours_worst"] == max(seq["ours_repeats"])
        assert seq["ours_first"] > 0 and seq["reference_first"] > 0
    assert "1st/b" in proc.stdout


KILLS = os.path.join(os.path.dirname(BENCH), "finalizer_kills.py")


def test_finalizer_kills_reports_every_case():
    proc = subprocess.run([sys.executable, KILLS, "--rounds", "2"], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, timeout=600)
    if sys.implementation.name != "pypy":
        # It reads PyPy's GC statistics: elsewhere it must say so and fail.
        assert proc.returncode != 0 and "PyPy only" in proc.stderr, proc
        return
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    for case in ("finalizer", "kept", "plain"):
        for module in ("greenlet_cffi", "greenlet"):
            row = [l for l in lines if l.split()[:2] == [case, module]]
            assert len(row) == 1, proc.stdout
            assert float(row[0].split()[3]) > 0, row
    sweep = [l for l in lines if l.startswith("sweep ")]
    assert len(sweep) == 2 and all("kills" in l for l in sweep), proc.stdout


def test_pileup_reports_every_round():
    proc = subprocess.run([sys.executable, os.path.join(os.path.dirname(BENCH), "pileup.py"),
                           "--rounds", "3", "--links", "1000"], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [l.split() for l in proc.stdout.splitlines() if l.split()[:1] in (["1"], ["2"], ["3"])]
    assert [r[0] for r in rows] == ["1", "2", "3"], proc.stdout
    assert all(float(x) > 0 for r in rows for x in r[1:]), proc.stdout


def _pypy_tool(script, *args):
    """Runs a PyPy-only bench script: its completed process on PyPy; elsewhere
    None, once it has said that it is for PyPy only and failed."""
    proc = subprocess.run([sys.executable, os.path.join(os.path.dirname(BENCH), script)]
                          + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=600)
    if sys.implementation.name != "pypy":
        assert proc.returncode != 0 and "PyPy only" in proc.stderr, proc
        return None
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def test_chain_heap_reports_both_implementations():
    proc = _pypy_tool("chain_heap.py", "--rounds", "2", "--links", "2000")
    if proc is None:
        return      # it reads PyPy's GC hooks
    for module in ("greenlet_cffi", "greenlet"):
        rows = [l.split() for l in proc.stdout.splitlines() if l.split()[:1] == [module]]
        assert [r[1] for r in rows] == ["1", "2"], proc.stdout
        for r in rows:
            assert float(r[2]) > 0 and r[6].endswith("B"), r     # chain time; heap


def test_deep_switch_profile_times_both_implementations():
    proc = _pypy_tool("deep_switch_profile.py", "--rounds", "2", "--runs", "1", "--quick")
    if proc is None:
        return      # it profiles PyPy's stacklets
    for impl in ("ours", "reference"):
        rows = [l.split() for l in proc.stdout.splitlines() if l.split()[:1] == [impl]]
        assert [r[1] for r in rows] == ["1", "2"], proc.stdout
        for r in rows:
            switch, memmove, malloc, big, free, mallocs = map(float, r[2:])
            # A switch 100 frames deep saves and restores stacks of more than
            # 1 KiB, so the preloaded library saw copies and allocations,
            # timed by the clock the switch is timed by, inside its time.
            assert memmove > 0 and mallocs >= 1, r
            assert memmove + malloc + big + free < switch, r


def _hold_floor(*args):
    return subprocess.run([sys.executable, os.path.join(os.path.dirname(BENCH), "hold_floor.py")]
                          + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=300)


def test_hold_floor_kills_nothing_and_times_both_modes():
    proc = _hold_floor("ours", "hold", "--links", "2000")
    if sys.implementation.name != "pypy":
        # It measures PyPy's finalizer ordering: elsewhere it must say so and fail.
        assert proc.returncode != 0 and "PyPy only" in proc.stderr, proc
        return
    for mode in ("hold", "finalizers"):
        if mode != "hold":      # "hold" ran above
            proc = _hold_floor("ours", mode, "--links", "2000")
        assert proc.returncode == 0, proc.stderr[-3000:]
        # Its numbers mean something only if greenlet_cffi killed nothing.
        assert proc.stdout.rstrip().endswith("kills 0"), proc.stdout
    for impl in ("ours", "bundled"):
        proc = _hold_floor(impl, "plain", "--links", "2000")
        assert proc.returncode == 0, proc.stderr[-3000:]
        line = proc.stdout.strip()
        assert line.startswith(impl + " plain: chain "), line
        assert float(line.split("gc.collect() ")[1].split()[0]) > 0, line
    for bad in (("ours", "nothing"), ("bundled", "finalizers")):
        proc = _hold_floor(*bad)
        assert proc.returncode != 0 and "hold_floor.py" in proc.stderr, proc
