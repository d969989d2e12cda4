#!/usr/bin/env python3
"""Builds every C++ block shown in the docs against an installed tapegrad, as a user would, so that no page drifts.

A ```cpp block that defines `int main(` is a whole program: it is compiled with find_package(tapegrad) and must
exit with 0 (one that names tapegrad::distributed links that component, and is left out, saying so, when the
installed package lacks it). It is optimised as in Release but with assert() active (no NDEBUG), so that the
asserts a page uses to show its results are checked.

Every other ```cpp block is a fragment: it is compiled (not run) inside a function body, after
`#include <tapegrad/tapegrad.hpp>`, a few standard headers, `using namespace tapegrad;` and the aliases
tg, nn, optim, data and io. An HTML comment on the line just before the block (invisible on the rendered page)
changes that:

    <!-- snippet: toplevel -->          the block is declarations (types, templates): compiled at namespace scope
    <!-- snippet: body
    auto x = tg::parameter(xt::xarray<double>{1.0});
    -->                                 hidden set-up lines (any mode) go on the lines after the directive;
                                        #include lines among them go to the top of the file
    <!-- snippet: toplevel previous --> the page's previous C++ block (with its set-up) comes first, as on the page
    <!-- snippet: skip REASON -->       not compiled; REASON (required) says why, and is printed

Set-up lines go before the block, in the same scope. Toplevel fragments are wrapped in `namespace snippet {}` so
that a page may define its own `Sin` next to the library's.

usage: run_snippets.py --prefix <install prefix> --out <build dir> FILE.md...
       run_snippets.py --list FILE.md...      (what would be built, with each fragment's mode; builds nothing)
"""
import argparse
import os
import pathlib
import re
import shutil
import subprocess
import sys

BLOCK = re.compile(r"^```cpp\n(.*?)^```", re.S | re.M)
MARKER = re.compile(r"<!--\s*snippet:(?P<directive>[^\n]*?)(?:\n(?P<setup>.*?))?\s*-->\s*", re.S)
MODES = {"body", "toplevel"}

PRELUDE = """#include <tapegrad/tapegrad.hpp>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

using namespace tapegrad;
namespace tg = tapegrad;
namespace nn = tapegrad::nn;
namespace optim = tapegrad::optim;
namespace data = tapegrad::data;
namespace io = tapegrad::io;
"""


class Block:
    def __init__(self, md, index, line, code, marker):
        self.md, self.index, self.line, self.code = md, index, line, code
        self.whole = "int main(" in code
        self.distributed = "tapegrad::distributed" in code
        self.mode, self.previous, self.skip, self.setup, self.includes = "body", False, None, "", ""
        if marker is None:
            return
        words = marker.group("directive").split()
        setup = (marker.group("setup") or "").strip("\n").split("\n")
        self.includes = "".join(f"{s}\n" for s in setup if s.startswith("#include"))
        self.setup = "\n".join(s for s in setup if s and not s.startswith("#include"))
        if words and words[0] == "skip":
            self.skip = " ".join(words[1:])
            if not self.skip:
                raise ValueError(f"{self.where}: '<!-- snippet: skip -->' needs a reason after 'skip'")
            return
        for w in words:
            if w in MODES:
                self.mode = w
            elif w == "previous":
                self.previous = True
            else:
                raise ValueError(f"{self.where}: unknown snippet directive '{w}' (body, toplevel, previous, skip)")

    @property
    def where(self):
        return f"{self.md}:{self.line}"

    def name(self):
        return re.sub(r"[^A-Za-z0-9]+", "_", f"{self.md.with_suffix('')}_{self.index}").strip("_")

    def fragment_source(self, before):
        """The fragment as a translation unit; `before` is the page's previous block when asked for."""
        head, includes = "", self.includes
        if self.previous:
            if before is None or before.whole or before.skip:
                raise ValueError(f"{self.where}: 'previous' needs a compiled fragment just before it on the page")
            head, includes = before.wrapped() + "\n", before.includes + includes
        return f"// {self.where} (fragment, {self.mode})\n{PRELUDE}{includes}\n{head}{self.wrapped()}"

    def wrapped(self):
        body = (self.setup + "\n" if self.setup else "") + self.code
        if self.mode == "toplevel":
            return f"namespace snippet {{\n// {self.where}\n{body}}}  // namespace snippet\n"
        return f"[[maybe_unused]] static void fragment_{self.index}() {{\n// {self.where}\n{body}}}\n"


def blocks(md: pathlib.Path):
    text = md.read_text()
    for i, m in enumerate(BLOCK.finditer(text)):
        line = text[: m.start()].count("\n") + 1
        before = text[: m.start()]
        # the marker is the HTML comment that ends just before the block (blank space between allowed)
        marker = MARKER.fullmatch(before[before.rfind("<!--"):]) if before.rstrip().endswith("-->") else None
        yield Block(md, i, line, m.group(1), marker)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--prefix")
    ap.add_argument("--out")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("files", nargs="+")
    args = ap.parse_args()
    if not args.list and not (args.prefix and args.out):
        ap.error("--prefix and --out are needed to build (or --list)")
    programs, fragments, skipped = [], [], []
    try:
        for f in args.files:
            md = pathlib.Path(f)
            before = None
            for b in blocks(md):
                if b.skip:
                    skipped.append(b)
                elif b.whole:
                    programs.append((b, f"// {b.where}\n{b.code}"))
                else:
                    fragments.append((b, b.fragment_source(before)))
                before = b
    except ValueError as e:
        print(f"run_snippets.py: {e}", file=sys.stderr)
        return 2
    if args.list:
        for b, _ in programs:
            print(f"program   {b.where}")
        for b, _ in fragments:
            print(f"fragment  {b.where} ({b.mode}{', after the previous block' if b.previous else ''})")
        for b in skipped:
            print(f"skipped   {b.where}: {b.skip}")
        return 0

    out = pathlib.Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    # A program that uses tapegrad::distributed links the package's distributed component (with MPI).
    cmake = ["cmake_minimum_required(VERSION 3.25)", "project(doc_snippets CXX)",
             "set(CMAKE_CXX_STANDARD 17)", "find_package(tapegrad REQUIRED OPTIONAL_COMPONENTS distributed)",
             "file(WRITE ${CMAKE_BINARY_DIR}/distributed_found \"${tapegrad_distributed_FOUND}\")"]
    for b, source in programs:
        (out / f"{b.name()}.cpp").write_text(source)
        if b.distributed:
            cmake += ["if(tapegrad_distributed_FOUND)", f"add_executable({b.name()} {b.name()}.cpp)",
                      f"target_link_libraries({b.name()} PRIVATE tapegrad::distributed)", "endif()"]
        else:
            cmake += [f"add_executable({b.name()} {b.name()}.cpp)",
                      f"target_link_libraries({b.name()} PRIVATE tapegrad::tapegrad)"]
    for b, source in fragments:
        (out / f"{b.name()}.cpp").write_text(source)
        cmake += [f"add_library({b.name()} OBJECT {b.name()}.cpp)",
                  f"target_link_libraries({b.name()} PRIVATE tapegrad::tapegrad)"]
    (out / "CMakeLists.txt").write_text("\n".join(cmake) + "\n")
    build = out / "build"
    subprocess.run(["cmake", "-S", str(out), "-B", str(build),
                    f"-DCMAKE_PREFIX_PATH={pathlib.Path(args.prefix).resolve()}",
                    "-DCMAKE_BUILD_TYPE=Release", "-DCMAKE_CXX_FLAGS_RELEASE=-O2"]
                   + (["-DCMAKE_CXX_COMPILER_LAUNCHER=ccache"] if shutil.which("ccache") else []),
                   check=True, stdout=subprocess.DEVNULL)
    failed = []
    # Every block at once, on every core, keeping on past failures; a block that failed is built
    # again on its own below, so that its errors are printed apart from the others'.
    subprocess.run(["cmake", "--build", str(build), "-j", str(os.cpu_count() or 1), "--", "-k"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def build_target(b):
        r = subprocess.run(["cmake", "--build", str(build), "--target", b.name()], capture_output=True, text=True)
        if r.returncode != 0:
            print(f"FAILED to build the {'program' if b.whole else 'fragment'} at {b.where}:\n"
                  f"{r.stdout[-4000:]}{r.stderr[-4000:]}")
            failed.append(b.where)
        return r.returncode == 0

    skips = len(skipped)
    have_distributed = (build / "distributed_found").read_text().strip() in ("1", "TRUE", "ON")
    for b, _ in programs:
        if b.distributed and not have_distributed:
            print(f"not built: {b.where}: it uses tapegrad::distributed, which this install lacks (built without MPI)")
            skipped.append(b)
            continue
        if not build_target(b):
            continue
        r = subprocess.run([str(build / b.name())], capture_output=True, text=True, cwd=build, timeout=600)
        print(f"{'ok' if r.returncode == 0 else f'FAILED (exit {r.returncode})'}: {b.where}")
        if r.returncode != 0:
            print(r.stdout[-4000:] + r.stderr[-4000:])
            failed.append(b.where)
    for b, _ in fragments:
        if build_target(b):
            print(f"ok (compiled): {b.where}")
    for b in skipped[:skips]:
        print(f"not compiled: {b.where}: {b.skip}")
    built = len(programs) + len(fragments) - (len(skipped) - skips)
    print(f"{built - len(failed)} of {built} doc blocks built ({built - len(fragments)} programs, built and run; "
          f"{len(fragments)} fragments, compiled); {len(skipped)} not compiled, each saying why")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
