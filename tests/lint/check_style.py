#!/usr/bin/env python3
"""Style check the test command runs: no line of C++ source over the column limit of .clang-format.

usage: check_style.py ROOT [FILE ...]   (no FILE: every *.cpp and *.hpp git tracks under ROOT,
or found by walking ROOT when it is not a git checkout). Exit 0 clean, 1 with one line per offence.
"""
import os
import re
import subprocess
import sys


def column_limit(root):
    try:
        with open(os.path.join(root, ".clang-format")) as f:
            m = re.search(r"^ColumnLimit:\s*(\d+)", f.read(), re.M)
            return int(m.group(1)) if m else 120
    except OSError:
        return 120


def sources(root):
    try:
        out = subprocess.run(["git", "-C", root, "ls-files", "*.cpp", "*.hpp"], capture_output=True, text=True,
                             check=True).stdout.split()
        return [os.path.join(root, f) for f in out]
    except (OSError, subprocess.CalledProcessError):
        found = []
        for d, dirs, files in os.walk(root):
            dirs[:] = [x for x in dirs if not x.startswith(("build", "."))]
            found += [os.path.join(d, f) for f in files if f.endswith((".cpp", ".hpp"))]
        return found


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    files = sys.argv[2:] or sources(root)
    limit = column_limit(root)
    bad = 0
    for path in files:
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                width = len(line.rstrip("\n"))
                if width > limit:
                    print(f"{os.path.relpath(path, root)}:{number}: {width} columns, over the limit of {limit}")
                    bad += 1
    print(f"check_style: {len(files)} files, {bad} lines over {limit} columns")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
