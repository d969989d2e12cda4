#!/usr/bin/env python3
"""Tests check_links.py on fixtures: the good pages pass, and every bad link of bad.md is reported."""
import pathlib
import subprocess
import sys

here = pathlib.Path(__file__).resolve().parent
fixtures = here / "fixtures" / "links"
checker = [sys.executable, str(here / "check_links.py"), "--root", str(fixtures)]


def run(*files):
    r = subprocess.run(checker + [str(fixtures / f) for f in files], capture_output=True, text=True)
    return r.returncode, r.stdout


failures = []
code, out = run("good.md", "sub/other.md")
if code != 0:
    failures.append(f"good pages refused (exit {code}):\n{out}")
code, out = run("bad.md")
if code != 1:
    failures.append(f"bad.md accepted (exit {code})")
# One report per line 3..11 of bad.md, each with what is wrong with it.
expected = {3: "names no file", 4: "has no heading", 5: "line numbers", 6: "line numbers",
            7: "leaves the repository", 8: "names no file", 9: "absolute path", 10: "has no heading",
            11: "'../shared/'"}
for line, words in expected.items():
    if not any(f"bad.md:{line}:" in l and words in l for l in out.splitlines()):
        failures.append(f"bad.md:{line} not reported as '{words}'")
if out.count("bad.md:") != len(expected):
    failures.append(f"expected {len(expected)} reports, got:\n{out}")
for f in failures:
    print("FAILED:", f)
print("check_links.py self-test:", "failed" if failures else "passed")
sys.exit(1 if failures else 0)
