#!/usr/bin/env python3
"""Format check the test command runs: every C++ source is exactly as clang-format lays it out with .clang-format.

usage: check_format.py ROOT [FILE ...]   (no FILE: every *.cpp and *.hpp git tracks under ROOT). A FILE that does
not end in .cpp/.hpp (a test fixture) is checked as if it were a .cpp file in ROOT. Exit 0 clean, 1 with
clang-format's report of each difference, 77 (skipped) when clang-format is missing, unless CI=true or
TAPEGRAD_REQUIRE_TOOLS=1 make a missing tool a failure. Fix a failure with: clang-format -i FILE.
"""
import os
import shutil
import subprocess
import sys

from check_style import sources


def tools_required():
    return os.environ.get("CI") == "true" or os.environ.get("TAPEGRAD_REQUIRE_TOOLS") == "1"


def main():
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else ".")
    files = sys.argv[2:] or sources(root)
    tool = shutil.which("clang-format")
    if not tool:
        print("check_format: clang-format not found (Debian package clang-format)")
        return 1 if tools_required() else 77
    version = subprocess.run([tool, "--version"], capture_output=True, text=True).stdout.strip()
    bad = 0
    for path in files:
        if path.endswith((".cpp", ".hpp")):
            run = subprocess.run([tool, "--dry-run", "--Werror", path], capture_output=True, text=True, cwd=root)
        else:
            with open(path, encoding="utf-8") as f:
                run = subprocess.run([tool, "--dry-run", "--Werror", "--assume-filename=" + os.path.join(root, "x.cpp")],
                                     stdin=f, capture_output=True, text=True, cwd=root)
        if run.returncode != 0:
            bad += 1
            sys.stdout.write(run.stderr[:4000])
            print(f"-> {os.path.relpath(path, root)} differs from .clang-format's layout; fix: clang-format -i FILE")
    print(f"check_format: {len(files)} files, {bad} not formatted ({version})")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
