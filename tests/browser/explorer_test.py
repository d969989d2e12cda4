#!/usr/bin/env python3
"""Browser test of the tape explorer pages (tapegrad::write_html) in headless Chromium.

Runs the lessons that write explorer pages (graph_drawing twice: Graphviz layout and the page's own
layout; sleep_study), opens every page offline in Debian's chromium through chromedriver's W3C
WebDriver HTTP API (Python standard library only), presses "Step" and reads from the DOM the
highlighted value, its formula line and the gradients the page shows; compares them exactly with
the values tapegrad computed in C++ (name.expected.json, written by the lesson next to the page:
examples/lesson.hpp, explorer_expectations). Also checks back, run to end, keyboard stepping,
zoom and pan, that no request leaves the page, and takes the screenshots the lessons' docs embed.

Exit status: 0 passed, 1 failed, 77 skipped (chromium or chromedriver missing; with CI=true that
is a failure). Refresh the docs' screenshots and pages (after building) with
  python3 tests/browser/explorer_test.py --graph-drawing build/examples/graph_drawing \
      --sleep-study build/examples/sleep_study --work build/browser-docs \
      --screenshots docs/images --pages docs/lessons/explorer
"""
import argparse
import base64
import functools
import json
import math
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

SKIP = 77
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"  # the W3C WebDriver element reference key
KEYS = {"ArrowRight": "\ue014", "ArrowLeft": "\ue012", "Home": "\ue011", "End": "\ue010"}
WINDOW = (1400, 900)


class WebDriver:
    """The few W3C WebDriver commands the test needs, spoken to chromedriver over HTTP."""

    def __init__(self, chromedriver, chromium, profile):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.log = open(os.path.join(profile, "chromedriver.log"), "w")
        self.process = subprocess.Popen([chromedriver, f"--port={self.port}"], stdout=self.log,
                                        stderr=subprocess.STDOUT)
        self.session = None
        self.browser = None
        try:
            deadline = time.time() + 30
            while True:
                try:
                    self.call("GET", "/status")
                    break
                except (urllib.error.URLError, ConnectionError):
                    if time.time() > deadline or self.process.poll() is not None:
                        raise RuntimeError("chromedriver did not start (see chromedriver.log)")
                    time.sleep(0.1)
            # Chromium is started here, not by chromedriver: chromedriver would reach it at "localhost",
            # which a minimal root without /etc/hosts cannot resolve ("unable to connect to renderer").
            # Started by us, it listens on 127.0.0.1 at a port it picks and names in DevToolsActivePort.
            data_dir = os.path.join(profile, "chromium")
            os.makedirs(data_dir, exist_ok=True)
            args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--disable-extensions", "--hide-scrollbars", "--force-device-scale-factor=1",
                    f"--window-size={WINDOW[0]},{WINDOW[1]}", "--user-data-dir=" + data_dir,
                    "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0", "about:blank"]
            self.browser_log = open(os.path.join(profile, "chromium.log"), "w")
            self.browser = subprocess.Popen([chromium] + args, stdout=self.browser_log, stderr=subprocess.STDOUT)
            active_port = os.path.join(data_dir, "DevToolsActivePort")
            deadline = time.time() + 60
            while not (os.path.exists(active_port) and open(active_port).read().strip()):
                if time.time() > deadline or self.browser.poll() is not None:
                    raise RuntimeError("chromium did not start its DevTools port (see chromium.log)")
                time.sleep(0.1)
            debug_port = int(open(active_port).read().split()[0])
            caps = {"capabilities": {"alwaysMatch": {
                "browserName": "chrome", "goog:loggingPrefs": {"browser": "ALL"},
                "goog:chromeOptions": {"debuggerAddress": f"127.0.0.1:{debug_port}"}}}}
            self.session = self.call("POST", "/session", caps)["sessionId"]
        except BaseException:
            self.quit()  # the processes started so far do not outlive the failure
            raise

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=120) as r:
                return json.load(r)["value"]
        except urllib.error.HTTPError as e:
            raise RuntimeError(f"WebDriver {method} {path}: {e.read().decode(errors='replace')[:500]}") from None

    def s(self, method, path, body=None):
        return self.call(method, f"/session/{self.session}{path}", body)

    def open(self, path):
        self.s("POST", "/url", {"url": "file://" + os.path.abspath(path)})

    def find(self, css):
        return self.s("POST", "/element", {"using": "css selector", "value": css})[ELEMENT]

    def click(self, css):
        self.s("POST", f"/element/{self.find(css)}/click", {})

    def js(self, script, *args):
        return self.s("POST", "/execute/sync", {"script": script, "args": list(args)})

    def keys(self, names, repeat=1):
        actions = []
        for _ in range(repeat):
            for name in names:
                key = KEYS.get(name, name)
                actions += [{"type": "keyDown", "value": key}, {"type": "keyUp", "value": key}]
        self.s("POST", "/actions", {"actions": [{"type": "key", "id": "keyboard", "actions": actions}]})

    def pointer(self, actions):
        self.s("POST", "/actions", {"actions": [
            {"type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"}, "actions": actions}]})

    def wheel(self, x, y, delta):
        self.s("POST", "/actions", {"actions": [{"type": "wheel", "id": "wheel", "actions": [
            {"type": "scroll", "x": x, "y": y, "deltaX": 0, "deltaY": delta, "duration": 0}]}]})

    def screenshot(self, path):
        with open(path, "wb") as f:
            f.write(base64.b64decode(self.s("GET", "/screenshot")))

    def console(self):
        return self.s("POST", "/se/log", {"type": "browser"})

    def quit(self):
        try:
            if self.session:
                self.s("DELETE", "")
        finally:
            for process in (self.process, self.browser):
                if process is None:
                    continue
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
            self.log.close()
            if self.browser is not None:
                self.browser_log.close()


NUMBER = re.compile(r"-?(?:inf|nan)|-?\d+(?:\.\d*)?(?:e[-+]?\d+)?")


def numbers(text):
    """The values of a "show all" block, as the page shows them, in row-major order."""
    return [float(t) for t in NUMBER.findall(text.split("\n(the first")[0])]


def same(a, b):
    return len(a) == len(b) and all(x == y or (math.isnan(x) and math.isnan(y)) for x, y in zip(a, b))


# Everything the test reads from the page in one round trip: what is shown, as the browser renders it.
READ = """
const q = (s) => document.querySelector(s);
const text = (s) => { const e = q(s); return e ? e.innerText : null; };
const cur = q('#cur-node');
return {
  step: +q('#position').dataset.step, position: q('#position').innerText,
  node: cur ? +cur.dataset.node : null, call: cur ? cur.innerText : null, formula: text('#cur-formula'),
  highlighted: [...document.querySelectorAll('#nodes g.node.current')].map((g) => +g.dataset.node),
  receiving: [...document.querySelectorAll('#nodes g.node.receiving')].map((g) => +g.dataset.node),
  feeding: [...document.querySelectorAll('#nodes g.node.feeding')].map((g) => +g.dataset.node),
  badge: q('#nodes g.node.current text.badge') ? q('#nodes g.node.current text.badge').textContent : null,
  heading: text('#step-heading'),
  value: text('#cur-value pre.full'), valueSummary: text('#cur-value .summary'),
  upstream: text('#cur-upstream pre.full'), upstreamSummary: text('#cur-upstream .summary'),
  sends: [...document.querySelectorAll('#cur-sends li.send')].map((li) => ({
    to: +li.dataset.to, slot: +li.dataset.slot, full: li.querySelector('pre.full') ?
      li.querySelector('pre.full').innerText : null })),
  boxes: document.querySelectorAll('#nodes g.node').length, zoom: +q('#graph').dataset.zoom,
  transform: q('#viewport').getAttribute('transform'), layout: q('#graph').dataset.layout,
  resources: performance.getEntriesByType('resource').map((r) => r.name),
};
"""

# Opens every "show all values" of the step panel that is closed (each stays open for later steps).
SHOW_ALL = "#step-panel button.show-all[aria-expanded='false']"


class Check:
    def __init__(self, page):
        self.page, self.failures, self.count = page, [], 0

    def __call__(self, ok, what):
        self.count += 1
        if not ok:
            self.failures.append(f"{self.page}: {what}")
            print(f"  FAILED: {what}", flush=True)
        return ok


def open_all(driver):
    for _ in range(8):
        if not driver.js(f"return document.querySelectorAll(\"{SHOW_ALL}\").length"):
            return
        driver.click(SHOW_ALL)


def check_step(driver, exp, s, check, read=None):
    """The page after s steps against the expectations: highlighted value, formula, values."""
    F, B = len(exp["forward"]), len(exp["backward"])
    open_all(driver)
    r = read or driver.js(READ)
    check(r["step"] == s, f"after {s} steps the page says step {r['step']}")
    if s == 0:
        check(r["highlighted"] == [] and r["heading"] == "Start", f"step 0 highlights {r['highlighted']}")
        return r
    node = exp["forward"][s - 1] if s <= F else exp["backward"][s - F - 1]["node"]
    v = exp["values"][node]
    check(r["node"] == node and r["highlighted"] == [node],
          f"step {s}: the page highlights {r['highlighted']} (panel %{r['node']}), tapegrad's step is %{node}")
    check(r["call"] is not None and r["call"].startswith(f"%{node}") and f"= {v['op']}(" in r["call"],
          f"step {s}: the panel says {r['call']!r}, expected %{node} = {v['op']}(...)")
    check(r["formula"] == (v["formula"] or v["op"]),
          f"step {s}: formula line {r['formula']!r}, the op's is {v['formula']!r} (op {v['op']})")
    check(r["badge"] is not None and "\u25b6" in r["badge"], f"step {s}: the current box has no \u25b6 mark")
    inputs = set(v["inputs"]) - {node}
    if s <= F:
        check(set(r["feeding"]) == inputs, f"step {s}: boxes marked as inputs {r['feeding']}, the op's {inputs}")
        check(same(numbers(r["value"] or ""), v["value"]),
              f"step {s}: value of %{node} shown {r['value']!r}, tapegrad's {v['value']}")
        check(r["valueSummary"] == v["summary"], f"step {s}: summary {r['valueSummary']!r} != {v['summary']!r}")
        return r
    b = exp["backward"][s - F - 1]
    wanted = {m for m in inputs if exp["values"][m]["kind"] != "constant"}
    check(set(r["receiving"]) == wanted, f"step {s}: boxes marked as getting dx {r['receiving']}, expected {wanted}")
    for x in r["sends"]:
        if exp["values"][x["to"]]["kind"] == "constant":
            check(x["full"] is None, f"step {s}: the page sends a gradient to constant %{x['to']}")
    check(same(numbers(r["upstream"] or ""), b["grad"]),
          f"step {s}: upstream gradient of %{node} shown {r['upstream']!r}, tapegrad's dOut/d%{node} {b['grad']}")
    check(r["upstreamSummary"] == b["summary"], f"step {s}: summary {r['upstreamSummary']!r} != {b['summary']!r}")
    for send in b["sends"]:
        shown = [numbers(x["full"] or "") for x in r["sends"] if x["to"] == send["to"] and x["full"] is not None]
        total = functools.reduce(lambda a, c: [p + q for p, q in zip(a, c)], shown) if shown else []
        check(same(total, send["grad"]),
              f"step {s}: gradient sent to %{send['to']} shown {shown}, tapegrad's d<op, g>/d%{send['to']} "
              f"{send['grad']}")
    return r


BOXES = """
return [...document.querySelectorAll('#nodes g.node')].map((g) => ({
  node: +g.dataset.node, value: g.querySelector('text.l3').textContent,
  grad: g.querySelector('text.l4').textContent }));
"""


def close(shown, expected):
    """A box's numbers ({:.3g}: 3 significant digits) against the first of tapegrad's values."""
    if len(shown) != min(3, len(expected)):
        return False
    return all(math.isnan(x) and math.isnan(y) or x == y or abs(x - y) <= 5e-3 * abs(y)
               for x, y in zip(shown, expected))


def check_boxes(driver, exp, check, final):
    """Every box's value line, and after the sweep its gradient line: the numbers are tapegrad's."""
    grads = {b["node"]: b["grad"] for b in exp["backward"]}
    grads.update({int(k): v for k, v in exp["parameter_grads"].items()})
    for box in driver.js(BOXES):
        i, v = box["node"], exp["values"][box["node"]]
        check(box["value"].startswith("value [") and close(numbers(box["value"].split("]")[0]), v["value"]),
              f"box %{i} shows {box['value']!r}, tapegrad's value starts {v['value'][:3]}")
        if not final:
            continue
        if v["kind"] == "constant":
            check(box["grad"] == "no gradient", f"constant %{i} shows {box['grad']!r}")
        else:
            check(box["grad"].startswith("grad [") and close(numbers(box["grad"].split("]")[0]), grads[i]),
                  f"box %{i} shows {box['grad']!r}, tapegrad's gradient starts {grads[i][:3]}")


def check_page(driver, path, exp, check, screenshots, every):
    F, B = len(exp["forward"]), len(exp["backward"])
    S = F + B
    driver.open(path)
    r = driver.js(READ)
    check(r["boxes"] == len(exp["values"]), f"{r['boxes']} boxes for {len(exp['values'])} values")
    check(r["layout"] == exp["layout"], f"laid out by {r['layout']}, the lesson says {exp['layout']}")
    check(r["position"].startswith(f"step 0 of {S}"), f"position {r['position']!r}, expected 0 of {S}")
    check_step(driver, exp, 0, check, r)

    # "Step", pressed a known number of times: clicked, or for long jumps its key, in one request.
    steps = range(1, S + 1) if every else sorted({1, 2, F, F + 1, F + 2, F + B // 2, S - 1, S} - {0})
    done = 0
    for s in steps:
        if s - done > 3:
            driver.keys(["ArrowRight"], repeat=s - done)
        for _ in range(s - done if s - done <= 3 else 0):
            driver.click("#step")
        done = s
        check_step(driver, exp, s, check)
        if s == F:
            check_boxes(driver, exp, check, final=False)
    check_boxes(driver, exp, check, final=True)
    check(driver.js("return document.getElementById('step').disabled"), "Step is not disabled at the end")

    # Back one step; run to the end; the keyboard.
    driver.click("#back")
    check_step(driver, exp, S - 1, check)
    driver.click("#end")
    check_step(driver, exp, S, check)
    driver.keys(["Home"])
    check_step(driver, exp, 0, check)
    k = min(3, S)
    driver.keys(["ArrowRight"], repeat=k)
    check_step(driver, exp, k, check)
    driver.keys(["ArrowLeft"])
    check_step(driver, exp, k - 1, check)
    driver.keys(["j"], repeat=F + 1 - (k - 1))  # to the first VJP
    check_step(driver, exp, F + 1, check)
    driver.keys(["End"])

    # Every parameter's gradient, read from its box's panel after the sweep.
    driver.keys(["0"])  # fit: every box on screen
    for node, grad in exp["parameter_grads"].items():
        driver.click(f"#node-{node}")
        open_all_sel = "#node-panel button.show-all[aria-expanded='false']"
        while driver.js(f"return document.querySelectorAll(\"{open_all_sel}\").length"):
            driver.click(open_all_sel)
        shown = driver.js("return document.querySelector('#sel-grad pre.full').innerText")
        check(same(numbers(shown), grad), f"gradient of parameter %{node} shown {shown!r}, tapegrad's {grad}")

    # Zoom (buttons, keys, wheel) and pan (drag): the view's transform follows.
    z0 = driver.js(READ)["zoom"]
    driver.click("#zoom-in")
    z1 = driver.js(READ)["zoom"]
    check(abs(z1 / z0 - 1.25) < 1e-3, f"zoom in: {z0} -> {z1}")
    driver.keys(["-"])
    check(abs(driver.js(READ)["zoom"] - z0) < 1e-3, "'-' undoes zoom in")
    driver.wheel(400, 400, -300)
    check(driver.js(READ)["zoom"] > z0, "the wheel zooms in")
    before = driver.js(READ)["transform"]
    driver.pointer([{"type": "pointerMove", "duration": 0, "x": 300, "y": 600},
                    {"type": "pointerDown", "button": 0},
                    {"type": "pointerMove", "duration": 150, "x": 420, "y": 540},
                    {"type": "pointerUp", "button": 0}])
    after = driver.js(READ)["transform"]
    t0 = [float(x) for x in re.findall(r"-?[\d.]+", before)[:2]]
    t1 = [float(x) for x in re.findall(r"-?[\d.]+", after)[:2]]
    check(abs(t1[0] - t0[0] - 120) < 1 and abs(t1[1] - t0[1] + 60) < 1, f"drag by (120, -60) moved {before} -> {after}")
    check(driver.js(READ)["step"] == S, "dragging the graph changed the step")

    # Offline: nothing was fetched, nothing went wrong in the script.
    check(driver.js(READ)["resources"] == [], f"the page fetched {driver.js(READ)['resources']}")
    errors = [e["message"] for e in driver.console() if e.get("level") in ("SEVERE", "WARNING")]
    check(not errors, f"console errors: {errors}")

    if screenshots:
        # A fresh load, stepped to the middle of the backward sweep with the keyboard.
        driver.open(path)
        driver.keys(["ArrowRight"], repeat=F + (B + 1) // 2)
        name = os.path.splitext(os.path.basename(path))[0] + ".png"
        driver.screenshot(os.path.join(screenshots, name))
        print(f"  screenshot at step {F + (B + 1) // 2} of {S}: {os.path.join(screenshots, name)}")


def check_offline_source(path, check):
    """No address the browser could fetch: no src/href to a network, no @import, no url(http...)."""
    with open(path, encoding="utf-8") as f:
        html = f.read()
    fetches = re.findall(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//|@import|url\(\s*["']?(?:https?:)?//""", html)
    check(not fetches, f"the page names network resources: {fetches}")


def find_browser():
    """Chromium's binary (Debian's /usr/bin/chromium is a shell script around it) and chromedriver;
    TAPEGRAD_CHROMIUM and TAPEGRAD_CHROMEDRIVER name others."""
    def first(env, *candidates):
        for c in ([os.environ[env]] if os.environ.get(env) else list(candidates)):
            path = c if os.sep in c else shutil.which(c)
            if path and os.access(path, os.X_OK):
                return path
        return None
    return (first("TAPEGRAD_CHROMIUM", "/usr/lib/chromium/chromium", "chromium"),
            first("TAPEGRAD_CHROMEDRIVER", "chromedriver", "/usr/lib/chromium/chromedriver"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--graph-drawing", required=True, help="the graph_drawing lesson program")
    parser.add_argument("--sleep-study", required=True, help="the sleep_study lesson program")
    parser.add_argument("--work", required=True, help="directory for the pages, logs and screenshots")
    parser.add_argument("--screenshots", help="where the screenshots go (default: WORK/screenshots)")
    parser.add_argument("--pages", help="copy the pages that passed and have screenshots here (for the docs)")
    args = parser.parse_args()

    chromium, chromedriver = find_browser()
    if not chromium or not chromedriver:
        message = ("chromium or chromedriver is not installed (apt-get install chromium chromium-driver): "
                   "the explorer pages were not tested in a browser")
        if os.environ.get("CI", "").lower() == "true":
            print(f"FAILED: {message}, and CI=true requires the browser test")
            return 1
        print(f"SKIPPED: {message}")
        return SKIP

    work = os.path.abspath(args.work)
    graph_drawing, sleep_study = os.path.abspath(args.graph_drawing), os.path.abspath(args.sleep_study)
    shutil.rmtree(work, ignore_errors=True)
    auto, page = os.path.join(work, "auto"), os.path.join(work, "page")
    shots = os.path.abspath(args.screenshots or os.path.join(work, "screenshots"))
    for d in (auto, page, shots):
        os.makedirs(d, exist_ok=True)
    for command in ([graph_drawing, "--fast", "--out", auto],
                    [graph_drawing, "--fast", "--out", page, "--explorer-layout", "page"],
                    [sleep_study, "--fast", "--out", auto]):
        done = subprocess.run(command, capture_output=True, text=True, cwd=work)
        if done.returncode != 0:
            print(f"FAILED: {' '.join(command)} exited with {done.returncode}\n{done.stdout}\n{done.stderr}")
            return 1

    # name, directory, check every step (otherwise a sample), screenshot for the docs
    pages = [("explorer_neuron", auto, True, True), ("explorer_test_scores", auto, True, True),
             ("explorer_cnn", auto, True, True), ("explorer_accumulation", auto, True, False),
             ("explorer_rnn", auto, False, True),
             ("explorer_neuron", page, True, False), ("explorer_cnn", page, True, False),
             ("explorer_rnn", page, False, False)]
    failures, checks = [], 0
    profile = tempfile.mkdtemp(prefix="tapegrad-browser-")
    driver = None
    try:
        driver = WebDriver(chromedriver, chromium, profile)
        for name, directory, every, screenshot in pages:
            path = os.path.join(directory, name + ".html")
            with open(os.path.join(directory, name + ".expected.json")) as f:
                exp = json.load(f)
            label = os.path.relpath(path, work)
            print(f"{label}: {len(exp['values'])} values, {len(exp['forward'])} forward and "
                  f"{len(exp['backward'])} backward steps", flush=True)
            check = Check(label)
            check_offline_source(path, check)
            t = time.time()
            check_page(driver, path, exp, check, shots if screenshot else None, every)
            print(f"  {check.count} checks, {len(check.failures)} failed ({time.time() - t:.1f} s)", flush=True)
            failures += check.failures
            checks += check.count
    finally:
        if driver:
            driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
    if failures:
        print(f"FAILED: {len(failures)} of {checks} checks")
        return 1
    if args.pages:
        os.makedirs(args.pages, exist_ok=True)
        for name, directory, _, screenshot in pages:
            if screenshot:
                shutil.copy(os.path.join(directory, name + ".html"), args.pages)
        print(f"copied the pages to {args.pages}")
    print(f"passed: {checks} checks on {len(pages)} pages in {os.path.basename(chromium)} (headless)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
