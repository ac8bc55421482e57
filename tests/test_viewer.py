"""A real viewer loads our files: the producer/consumer demo, recorded on
the interpreter under test, written as a Chrome trace and as a speedscope
file, each opened by speedscope in headless Chromium (tests/viewer_harness.py).
Screenshots are kept under $GREENLET_CFFI_ARTIFACTS (default: pytest's
tmp dir) and their paths printed (past pytest's capture)."""
import json
import os
import sys

import pytest

TESTS = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, TESTS)
import viewer_harness  # noqa: E402

DEMO = os.path.join(os.path.dirname(TESTS), "examples", "producer_consumer.py")

# The recording is the profiler's, run as a user would:
# python -m greenlet_cffi.profile -o FILE --format FMT [--sample-hz N] DEMO 150
RECORD = """
import sys
from greenlet_cffi import profile
sys.exit(profile.main(["-o", %r, "--format", %r] + %r + [%r, "150"]))
"""


@pytest.fixture(name="viewer", scope="module")
def viewer_fixture():
    try:
        viewer_harness.chromium()
        return viewer_harness.speedscope_app()
    except viewer_harness.Unavailable as exc:
        print("viewer unavailable: %s" % exc)
        pytest.skip("viewer unavailable: %s" % exc)


@pytest.fixture(name="artifacts")
def artifacts_fixture(tmp_path):
    where = os.environ.get("GREENLET_CFFI_ARTIFACTS")
    if where:
        os.makedirs(where, exist_ok=True)
        return where
    return str(tmp_path)


def record(check_script, fmt, out):
    if not os.path.isfile(DEMO):
        pytest.skip("examples/producer_consumer.py is not here (an sdist?)")
    sampling = ["--sample-hz", "1000"] if fmt == "speedscope" else []
    check_script(RECORD % (out, fmt, sampling, DEMO), timeout=120)
    with open(out) as fp:
        return json.load(fp)


def shot_name(artifacts, fmt):
    tag = "%s%d%d" % (sys.implementation.name, *sys.version_info[:2])
    return os.path.join(artifacts, "viewer-%s-%s.png" % (fmt, tag))


def check_page(page, shot, names, capsys):
    with capsys.disabled():
        print("\nviewer screenshot: %s" % shot)
    assert not page.errors, page.errors
    assert not page.landing, "speedscope shows its start page: nothing loaded"
    assert page.flamegraph
    # The toolbar shows one of our tracks/profiles, and all of them exist.
    assert page.profile_name is not None, page.dom[-3000:]
    assert any(n in page.profile_name for n in names), (page.profile_name, names)
    assert page.profile_count == len(names)
    assert os.path.getsize(shot) > 1000


def test_speedscope_file(viewer, check_script, artifacts, tmp_path, capsys):
    out = str(tmp_path / "demo.speedscope.json")
    doc = record(check_script, "speedscope", out)
    names = [p["name"] for p in doc["profiles"]]
    assert any(n.startswith("producer #") for n in names), names
    shot = shot_name(artifacts, "speedscope")
    page = viewer_harness.load_in_speedscope(out, shot)
    check_page(page, shot, names, capsys)
    # The file's own name is the page title.
    assert page.title.startswith(doc["name"]), page.title
    # The profile shown is the busiest, as activeProfileIndex asks.
    assert names[doc["activeProfileIndex"]] in page.profile_name


def test_chrome_trace(viewer, check_script, artifacts, tmp_path, capsys):
    out = str(tmp_path / "demo-trace.json")
    doc = record(check_script, "chrome", out)
    names = [e["args"]["name"] for e in doc["traceEvents"]
             if e["ph"] == "M" and e["name"] == "thread_name"]
    assert len(names) == 4, names       # main, producer, 2 consumers
    # What speedscope does not draw, on the real recording: every switch's
    # flow has both ends, each bound inside a running slice of its track.
    slices = {}
    for e in doc["traceEvents"]:
        if e["ph"] == "X":
            slices.setdefault(e["tid"], []).append((e["ts"], e["ts"] + e["dur"]))
    ends = {}
    for e in doc["traceEvents"]:
        if e["ph"] in "sf":
            ends.setdefault(e["id"], []).append(e["ph"])
            assert any(a <= e["ts"] <= b for a, b in slices[e["tid"]]), e
    assert len(ends) > 100 and all(sorted(v) == ["f", "s"] for v in ends.values())
    # the consumers are killed: GreenletExit thrown into them
    assert any(e["ph"] == "i" and e["name"] == "throw" and "GreenletExit" in json.dumps(e)
               for e in doc["traceEvents"])
    shot = shot_name(artifacts, "chrome")
    page = viewer_harness.load_in_speedscope(out, shot)
    check_page(page, shot, names, capsys)
    # speedscope's importer names a track "process, thread (tid N)".
    assert page.profile_name.startswith("greenlets (pid "), page.profile_name


def test_check_sees_import_errors(viewer, tmp_path):
    """The checks above can fail: a file speedscope cannot read is reported
    as an error, not as a page that loaded."""
    bad = tmp_path / "bad.json"
    bad.write_text('{"not": "a profile"}')
    page = viewer_harness.load_in_speedscope(str(bad), str(tmp_path / "bad.png"))
    assert page.errors, page.dom[-3000:]
    assert page.profile_name is None


def test_speedscope_file_matches_the_viewers_schema(viewer, check_script, tmp_path):
    """The file conforms to the JSON schema speedscope ships
    (file-format-schema.json), checked on every field."""
    with open(os.path.join(viewer, "file-format-schema.json")) as fp:
        schema = json.load(fp)
    doc = record(check_script, "speedscope", str(tmp_path / "demo.json"))
    assert {p["type"] for p in doc["profiles"]} <= {"sampled", "evented"}
    assert viewer_harness.schema_errors(doc, schema) == []
    # An evented profile too (a greenlet without samples).
    from greenlet_cffi import _formats
    from greenlet_cffi._recording import GreenletInfo, Recording
    rec = Recording(start_ns=0, end_ns=100,
                    greenlets=[GreenletInfo(1, "main", 1, "MainThread", "")],
                    intervals=[(1, 1, 10, 20), (1, 1, 30, 90)])
    evented = _formats.speedscope_document(rec)
    assert [p["type"] for p in evented["profiles"]] == ["evented"]
    assert viewer_harness.schema_errors(evented, schema) == []
    # The check can fail: a frame without a name, a sample that is not
    # a list of numbers, an unknown unit.
    doc["shared"]["frames"][0] = {"file": "x.py"}
    doc["profiles"][0]["unit"] = "furlongs"
    errors = viewer_harness.schema_errors(doc, schema)
    assert any("frames[0]: no 'name'" in e for e in errors), errors
    assert any("furlongs" in e for e in errors), errors
