#!/usr/bin/env python3
"""Builds every C++ program shown in the docs against an installed tapegrad, as a user would, and runs it.

A ```cpp block that defines `int main(` is a whole program: it is compiled with find_package(tapegrad)
and must exit with 0. It is optimised as in Release but with assert() active (no NDEBUG), so that the
asserts a page uses to show its results are checked. Other C++ blocks are fragments; they are listed, not built.

usage: run_snippets.py --prefix <install prefix> --out <build dir> FILE.md...
"""
import argparse
import pathlib
import re
import shutil
import subprocess
import sys

BLOCK = re.compile(r"^```cpp\n(.*?)^```", re.S | re.M)


def programs(md: pathlib.Path):
    for i, m in enumerate(BLOCK.finditer(md.read_text())):
        code = m.group(1)
        line = md.read_text()[: m.start()].count("\n") + 1
        yield i, line, code, "int main(" in code


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--prefix", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("files", nargs="+")
    args = ap.parse_args()
    out = pathlib.Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    targets = []
    fragments = 0
    for f in args.files:
        md = pathlib.Path(f)
        for i, line, code, whole in programs(md):
            if not whole:
                fragments += 1
                continue
            name = re.sub(r"[^A-Za-z0-9]+", "_", f"{md.with_suffix('')}_{i}").strip("_")
            (out / f"{name}.cpp").write_text(f"// {md}:{line}\n{code}")
            targets.append((name, f"{md}:{line}"))
    cmake = ["cmake_minimum_required(VERSION 3.25)", "project(doc_snippets CXX)",
             "set(CMAKE_CXX_STANDARD 17)", "find_package(tapegrad REQUIRED)"]
    for name, _ in targets:
        cmake += [f"add_executable({name} {name}.cpp)", f"target_link_libraries({name} PRIVATE tapegrad::tapegrad)"]
    (out / "CMakeLists.txt").write_text("\n".join(cmake) + "\n")
    build = out / "build"
    subprocess.run(["cmake", "-S", str(out), "-B", str(build), f"-DCMAKE_PREFIX_PATH={pathlib.Path(args.prefix).resolve()}",
                    "-DCMAKE_BUILD_TYPE=Release", "-DCMAKE_CXX_FLAGS_RELEASE=-O2"]
                   + (["-DCMAKE_CXX_COMPILER_LAUNCHER=ccache"] if shutil.which("ccache") else []),
                   check=True, stdout=subprocess.DEVNULL)
    failed = []
    for name, where in targets:
        b = subprocess.run(["cmake", "--build", str(build), "--target", name], capture_output=True, text=True)
        if b.returncode != 0:
            print(f"FAILED to build the program at {where}:\n{b.stdout[-4000:]}{b.stderr[-4000:]}")
            failed.append(where)
            continue
        r = subprocess.run([str(build / name)], capture_output=True, text=True, cwd=build, timeout=600)
        status = "ok" if r.returncode == 0 else f"FAILED (exit {r.returncode})"
        print(f"{status}: {where}")
        if r.returncode != 0:
            print(r.stdout[-4000:] + r.stderr[-4000:])
            failed.append(where)
    print(f"{len(targets) - len(failed)} of {len(targets)} doc programs built and ran; {fragments} fragments not built")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
