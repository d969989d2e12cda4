#!/usr/bin/env python3
"""The API reference test: runs Doxygen on build/docs/Doxyfile and fails on any warning it writes.

usage: check_api_reference.py --doxyfile FILE [--doxygen EXE] [--work DIR]
                              [--input HEADER --expect-undocumented NAME --expect-documented NAME]
Without --input: the reference of the installed headers, into the Doxyfile's own OUTPUT_DIRECTORY (what `cmake
--install` ships); exit 0 with no warning, 1 listing each warning (an undocumented public symbol, a broken \\ref,
an unknown command). With --input: the checker's check, Doxygen with the same settings over one fixture header;
exit 0 when it warns about the undocumented NAME and not about the documented one. Exit 77 (skipped) when doxygen
is missing, unless CI=true or TAPEGRAD_REQUIRE_TOOLS=1 make a missing tool a failure.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile


def tools_required():
    return os.environ.get("CI") in ("true", "1") or os.environ.get("TAPEGRAD_REQUIRE_TOOLS") == "1"


def run_doxygen(doxygen, doxyfile, work, overrides):
    """Doxygen over `doxyfile` with `overrides` (name -> value) appended; returns the warning lines."""
    os.makedirs(work, exist_ok=True)
    log = os.path.join(work, "doxygen-warnings.log")
    if os.path.exists(log):
        os.remove(log)
    config = os.path.join(work, "Doxyfile.test")
    with open(config, "w", encoding="utf-8") as f:
        f.write(f"@INCLUDE = {doxyfile}\n")
        for name, value in dict(overrides, WARN_LOGFILE=log, WARN_AS_ERROR="NO").items():
            f.write(f"{name} = {value}\n")
    run = subprocess.run([doxygen, config], capture_output=True, text=True, cwd=work)
    if run.returncode != 0:
        print(run.stdout[-4000:] + run.stderr[-4000:])
        raise SystemExit(f"check_api_reference: doxygen exited with {run.returncode}")
    with open(log, encoding="utf-8", errors="replace") as f:
        warnings = [line.rstrip("\n") for line in f if line.strip()]
    # Warnings about the configuration itself (an obsolete tag) go to the console, not to the log.
    console = [line for line in (run.stdout + run.stderr).splitlines() if "warning:" in line.lower()]
    return console + warnings


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--doxyfile", required=True)
    ap.add_argument("--doxygen", default="")
    ap.add_argument("--work", default="")
    ap.add_argument("--input", default="")
    ap.add_argument("--expect-undocumented", default="")
    ap.add_argument("--expect-documented", default="")
    args = ap.parse_args()

    doxygen = args.doxygen if args.doxygen and os.path.exists(args.doxygen) else shutil.which("doxygen")
    if not doxygen:
        print("check_api_reference: doxygen not found (Debian package doxygen)")
        return 1 if tools_required() else 77
    version = subprocess.run([doxygen, "--version"], capture_output=True, text=True).stdout.strip()

    if not args.input:
        work = args.work or os.path.dirname(os.path.abspath(args.doxyfile))
        warnings = run_doxygen(doxygen, os.path.abspath(args.doxyfile), work, {})
        for line in warnings[:200]:
            print(line)
        if len(warnings) > 200:
            print(f"... and {len(warnings) - 200} more")
        unique = len(set(warnings))
        print(f"check_api_reference: doxygen {version}: {len(warnings)} warnings ({unique} distinct)"
              + ("; document each symbol named above with a /// comment" if warnings else ""))
        return 1 if warnings else 0

    work = args.work or tempfile.mkdtemp(prefix="api_reference_checker.")
    warnings = run_doxygen(doxygen, os.path.abspath(args.doxyfile), work,
                           {"INPUT": os.path.abspath(args.input), "USE_MDFILE_AS_MAINPAGE": "",
                            "OUTPUT_DIRECTORY": os.path.join(work, "out"),
                            "STRIP_FROM_PATH": os.path.dirname(os.path.abspath(args.input))})
    for line in warnings:
        print(line)
    caught = any(args.expect_undocumented in w and "not documented" in w for w in warnings)
    false_alarm = args.expect_documented and any(args.expect_documented in w for w in warnings)
    print(f"check_api_reference (checker): undocumented '{args.expect_undocumented}' "
          f"{'caught' if caught else 'NOT caught'}; documented '{args.expect_documented}' "
          f"{'wrongly warned about' if false_alarm else 'not warned about'}")
    return 0 if caught and not false_alarm else 1


if __name__ == "__main__":
    sys.exit(main())
