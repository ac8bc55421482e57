"""Opens profile files in a real viewer: speedscope (from the npm registry)
served on 127.0.0.1 and loaded in headless Chromium (Debian's package).

    page = load_in_speedscope("out.json", "shot.png")
    page.errors, page.profile_name, page.profile_count, page.dom

scripts/setup_viewer.sh installs both; here a missing piece raises
Unavailable with the reason (the tests skip with it), except that the
speedscope package is fetched with npm into the cache when npm exists.
"""
import contextlib
import functools
import html
import http.server
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import threading
import urllib.parse

SPEEDSCOPE_VERSION = "1.25.0"


class Unavailable(Exception):
    """The viewer cannot run here; the message says why."""


def cache_root():
    return os.environ.get("GREENLET_CFFI_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "greenlet_cffi")


def speedscope_app():
    """The directory of speedscope's built app (index.html), from the npm
    registry's tarball, unpacked once into the cache."""
    base = os.path.join(cache_root(), "speedscope-" + SPEEDSCOPE_VERSION)
    app = os.path.join(base, "package", "dist", "release")
    if os.path.isfile(os.path.join(app, "index.html")):
        return app
    npm = shutil.which("npm")
    if npm is None:
        raise Unavailable("speedscope is not in %s and npm is not installed "
                          "(scripts/setup_viewer.sh installs it)" % base)
    # Unpack in a scratch directory and rename, so that concurrent test
    # runs never see half a package.
    os.makedirs(cache_root(), exist_ok=True)
    scratch = tempfile.mkdtemp(dir=cache_root(), prefix=".speedscope-")
    try:
        proc = subprocess.run(
            [npm, "pack", "--silent", "speedscope@" + SPEEDSCOPE_VERSION],
            cwd=scratch, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            universal_newlines=True, timeout=300)
        tgz = os.path.join(scratch, "speedscope-%s.tgz" % SPEEDSCOPE_VERSION)
        if proc.returncode != 0 or not os.path.isfile(tgz):
            raise Unavailable("npm pack speedscope@%s failed: %s"
                              % (SPEEDSCOPE_VERSION, proc.stderr.strip()[-500:]))
        with tarfile.open(tgz) as tar:
            for member in tar.getmembers():   # nothing outside package/
                if not member.name.startswith("package/") or ".." in member.name:
                    raise Unavailable("unexpected member %r in %s"
                                      % (member.name, tgz))
            if hasattr(tarfile, "data_filter"):   # 3.12+, and backports
                tar.extractall(scratch, filter="data")
            else:
                tar.extractall(scratch)
        os.remove(tgz)
        try:
            os.rename(scratch, base)
        except OSError:
            if not os.path.isdir(app):    # not a concurrent run's rename
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return app


def chromium():
    """The headless browser's executable."""
    for name in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser",
                 "google-chrome"):
        path = name and shutil.which(name)
        if path:
            return path
    raise Unavailable("no chromium executable (apt-get install chromium; "
                      "scripts/setup_viewer.sh does)")


# Put before speedscope's script in index.html. speedscope reports an
# unrecognised file with alert(), a modal dialog that would block headless
# Chromium until the timeout, and a failed import with console.log; both,
# and uncaught errors, are copied into a <meta> in <head> (React renders
# into <body> and would drop anything put there) that the test reads.
PROBE = """<script>
(function () {
  function note(kind, args) {
    var text = kind + ": " + Array.prototype.map.call(args, String).join(" ");
    var meta = document.querySelector('meta[name="gcffi-errors"]');
    if (!meta) {
      meta = document.createElement("meta");
      meta.name = "gcffi-errors";
      meta.content = "";
      document.head.appendChild(meta);
    }
    meta.content += text + "\\n";
  }
  window.alert = function () { note("alert", arguments); };
  var log = console.log, error = console.error;
  console.log = function () {
    if (/^Failed/.test(String(arguments[0]))) note("console.log", arguments);
    return log.apply(console, arguments);
  };
  console.error = function () {
    note("console.error", arguments);
    return error.apply(console, arguments);
  };
  window.addEventListener("error", function (e) { note("error", [e.message]); });
  window.addEventListener("unhandledrejection",
                          function (e) { note("rejection", [e.reason]); });
})();
</script>
"""


class _Handler(http.server.SimpleHTTPRequestHandler):
    """/files/NAME from the profiles directory, everything else from the
    app; index.html with the probe."""

    def __init__(self, *args, app, files, **kwargs):
        self.app, self.files = app, files
        super().__init__(*args, directory=app, **kwargs)

    def translate_path(self, path):
        path = urllib.parse.unquote(path.split("?", 1)[0].split("#", 1)[0])
        if path.startswith("/files/"):
            return os.path.join(self.files, os.path.basename(path))
        return super().translate_path(path)

    def do_GET(self):
        if self.path.split("?", 1)[0] in ("/", "/index.html"):
            with open(os.path.join(self.app, "index.html"), "rb") as fp:
                page = fp.read().replace(b"<head>", b"<head>" + PROBE.encode(), 1)
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)
        else:
            super().do_GET()

    def log_message(self, *args):
        pass    # quiet test output


@contextlib.contextmanager
def serve(app, files):
    """An HTTP server on 127.0.0.1 (a free port) in a thread; yields its
    base URL."""
    handler = functools.partial(_Handler, app=app, files=files)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield "http://127.0.0.1:%d" % server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


class Page:
    """What the rendered page shows."""

    def __init__(self, dom):
        self.dom = dom
        meta = re.search(r'<meta name="gcffi-errors" content="([^"]*)"', dom)
        self.errors = [line for line in
                       html.unescape(meta.group(1)).splitlines() if line] if meta else []
        if "Something went wrong" in dom:
            self.errors.append("speedscope shows its error view")
        title = re.search(r"<title>(.*?)</title>", dom, re.S)
        self.title = html.unescape(title.group(1)) if title else ""
        # The toolbar names the profile shown and "(i/N)" with N profiles.
        bar = re.search(r'<span>([^<]*)<span class="[^"]*">\((\d+)/(\d+)\)</span>', dom)
        self.profile_name = html.unescape(bar.group(1)).strip() if bar else None
        self.profile_count = int(bar.group(3)) if bar else 0
        self.landing = "Drag and drop a profile file" in dom
        self.flamegraph = "<canvas" in dom


def load_in_speedscope(profile, screenshot, timeout=180, view=None,
                       size=(1200, 700)):
    """Render speedscope with `profile` loaded (its #profileURL= parameter)
    in headless Chromium; save a screenshot; return the Page.

    view: speedscope's initial view ("time-ordered", "left-heavy",
    "sandwich"); size: the window's, in pixels."""
    app, browser = speedscope_app(), chromium()
    with tempfile.TemporaryDirectory(prefix="gcffi-viewer-") as tmp:
        files = os.path.join(tmp, "files")
        os.mkdir(files)
        name = os.path.basename(profile)
        shutil.copy(profile, os.path.join(files, name))
        with serve(app, files) as base:
            url = "%s/index.html#profileURL=%s" % (
                base, urllib.parse.quote("%s/files/%s" % (base, name), safe=""))
            if view:
                url += "&view=" + view
            cmd = [browser, "--headless", "--disable-gpu",
                   "--user-data-dir=" + os.path.join(tmp, "profile"),
                   "--window-size=%d,%d" % size, "--hide-scrollbars",
                   # Virtual time: the page gets this long, and runs as
                   # fast as it can, however slow the machine is.
                   "--virtual-time-budget=10000",
                   "--screenshot=" + os.path.abspath(screenshot),
                   "--dump-dom", url]
            if os.geteuid() == 0:
                cmd.insert(1, "--no-sandbox")   # Chromium refuses root without it
            try:
                proc = subprocess.run(cmd, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE,
                                      universal_newlines=True, timeout=timeout)
            except subprocess.TimeoutExpired:
                raise AssertionError("chromium did not finish in %ss: %s"
                                     % (timeout, " ".join(cmd)))
    if proc.returncode != 0 or "<html" not in proc.stdout:
        raise AssertionError("chromium failed (%s): %s" % (
            proc.returncode, proc.stderr[-2000:]))
    return Page(proc.stdout)


def schema_errors(doc, schema, node=None, where="$"):
    """Where doc breaks a JSON schema, for the draft-07 subset speedscope's
    file-format-schema.json uses ($ref into definitions, type, const, enum,
    properties, required, items, anyOf). An empty list: it conforms."""
    node = schema if node is None else node
    if "$ref" in node:
        name = node["$ref"].split("/")[-1]
        return schema_errors(doc, schema, schema["definitions"][name], where)
    if "anyOf" in node:
        options = [schema_errors(doc, schema, alt, where) for alt in node["anyOf"]]
        return [] if any(not o for o in options) else min(options, key=len)
    types = {"object": dict, "array": list, "string": str, "number": (int, float)}
    kind = node.get("type")
    if kind and (not isinstance(doc, types[kind]) or isinstance(doc, bool)):
        return ["%s: %r is not of type %s" % (where, doc, kind)]
    if "const" in node and doc != node["const"]:
        return ["%s: %r is not %r" % (where, doc, node["const"])]
    if "enum" in node and doc not in node["enum"]:
        return ["%s: %r is not one of %r" % (where, doc, node["enum"])]
    errors = []
    if kind == "object":
        errors += ["%s: no %r" % (where, key) for key in node.get("required", ())
                   if key not in doc]
        for key, sub in node.get("properties", {}).items():
            if key in doc:
                errors += schema_errors(doc[key], schema, sub, "%s.%s" % (where, key))
    if kind == "array" and "items" in node:
        for i, item in enumerate(doc):
            errors += schema_errors(item, schema, node["items"], "%s[%d]" % (where, i))
    return errors


def main(argv=None):
    """python tests/viewer_harness.py PROFILE PNG [--view V] [--size WxH]:
    a screenshot of speedscope showing PROFILE (the README's is made so)."""
    import argparse
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("profile")
    parser.add_argument("png")
    parser.add_argument("--view", choices=("time-ordered", "left-heavy",
                                           "sandwich"))
    parser.add_argument("--size", default="1200x700")
    opts = parser.parse_args(argv)
    size = tuple(int(n) for n in opts.size.split("x"))
    page = load_in_speedscope(opts.profile, opts.png, view=opts.view, size=size)
    print("%s: %s (%d profiles)%s" % (
        opts.png, page.profile_name, page.profile_count,
        "; errors: %s" % page.errors if page.errors else ""))
    return 1 if page.errors or page.profile_name is None else 0


if __name__ == "__main__":
    raise SystemExit(main())
