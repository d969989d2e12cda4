#!/usr/bin/env python3
"""Tests run_snippets.py's reading of pages (--list, no build): each kind of block and marker, and the marker
mistakes it must refuse with a message naming the page and line."""
import pathlib
import subprocess
import sys

here = pathlib.Path(__file__).resolve().parent
fixtures = here / "fixtures" / "snippets"
runner = [sys.executable, str(here / "run_snippets.py"), "--list"]


def run(name):
    r = subprocess.run(runner + [str(fixtures / name)], capture_output=True, text=True)
    return r.returncode, r.stdout + r.stderr


failures = []
code, out = run("good.md")
expected = ["program   {}:3", "fragment  {}:7 (body)", "fragment  {}:12 (toplevel)",
            "fragment  {}:22 (toplevel, after the previous block)",
            "skipped   {}:27: a declaration shown for reading", "fragment  {}:32 (body)"]
lines = out.splitlines()
if code != 0:
    failures.append(f"good.md refused (exit {code}):\n{out}")
for e in expected:
    want = e.format(fixtures / "good.md")
    if want not in lines:
        failures.append(f"good.md: expected the line '{want}' in:\n{out}")
if len(lines) != len(expected):
    failures.append(f"good.md: expected {len(expected)} lines, got {len(lines)}:\n{out}")

# The hidden set-up of the 'previous' block: its #include goes to the top, the rest before the block.
sys.path.insert(0, str(here))
import run_snippets  # noqa: E402

blocks = list(run_snippets.blocks(fixtures / "good.md"))
source = blocks[3].fragment_source(blocks[2])
if not (source.index("#include <tapegrad/nn/summary.hpp>") < source.index("struct Twice")
        < source.index("using Hidden = int;") < source.index("Twice<Hidden> t;")):
    failures.append(f"good.md:22: set-up and previous block not in order:\n{source}")

for name, words in [("skip_without_reason.md", "needs a reason"), ("unknown_directive.md", "unknown snippet directive"),
                    ("previous_first.md", "needs a compiled fragment just before it")]:
    code, out = run(name)
    if code == 0 or words not in out or f"{name}:4" not in out:
        failures.append(f"{name}: expected a failure naming {name}:4 and saying '{words}', got exit {code}:\n{out}")

for f in failures:
    print("FAIL:", f)
print(f"{'FAILED' if failures else 'passed'}: run_snippets.py on its fixtures")
sys.exit(1 if failures else 0)
