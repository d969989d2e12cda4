#!/usr/bin/env python3
"""Checks the links of the Markdown docs so that they work in a fresh clone.

Every relative link (and image) in the given files must name a file or folder inside the repository;
an #anchor on a Markdown page must name one of its headings (GitHub's slugs); a line anchor (#L12,
#L12-L30) is refused, since it goes stale as soon as the file changes: link to the file and name the
symbol. Nothing may point outside the repository (`../shared/...` is not in a clone), also in text.
Links inside fenced code blocks and inline code are not links. URLs with a scheme are not checked.

usage: check_links.py [--root DIR] [FILE.md...]   (exit 0 when all are fine, 1 with one line per problem)
Without files it checks README.md and docs/**/*.md of the root.
"""
import argparse
import pathlib
import re
import sys
import urllib.parse

FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.S | re.M)
INLINE_CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
REF_DEF = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$", re.M)
HREF = re.compile(r"<(?:a|img)\b[^>]*?\b(?:href|src)=\"([^\"]*)\"", re.I)
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$", re.M)
LINE_ANCHOR = re.compile(r"^L\d+(-L?\d+)?$")
OUTSIDE_TEXT = re.compile(r"\.\./shared/")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: markup dropped, lower case, punctuation removed, spaces to '-'."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading keeps its text
    text = re.sub(r"<[^>]+>", "", text).replace("`", "")
    text = text.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text, flags=re.U)
    return text.replace(" ", "-")


def anchors(md: pathlib.Path) -> set:
    text = FENCE.sub("", md.read_text(encoding="utf-8"))
    seen = {}
    result = set()
    for m in HEADING.finditer(text):
        s = slug(m.group(1))
        n = seen.get(s, 0)
        result.add(s if n == 0 else f"{s}-{n}")
        seen[s] = n + 1
    result.update(re.findall(r"<a\s+(?:name|id)=\"([^\"]+)\"", text))
    return result


def line_of(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def blank_code(text: str) -> str:
    """Code replaced by spaces, so that positions (and line numbers) stay where they were."""
    text = FENCE.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)
    return INLINE_CODE.sub(lambda m: " " * len(m.group(0)), text)


def check(md: pathlib.Path, root: pathlib.Path) -> list:
    raw = md.read_text(encoding="utf-8")
    text = blank_code(raw)
    problems = []
    where = lambda pos: f"{md}:{line_of(raw, pos)}"
    for m in OUTSIDE_TEXT.finditer(raw):
        problems.append(f"{where(m.start())}: refers to '../shared/', which is not in the repository")
    targets = [(m.group(1), m.start()) for r in (LINK, REF_DEF, HREF) for m in r.finditer(text)]
    for target, pos in targets:
        if not target or re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target):  # http:, mailto:, ...
            continue
        path_part, _, anchor = target.partition("#")
        path_part = urllib.parse.unquote(path_part)
        if anchor and LINE_ANCHOR.match(anchor):
            problems.append(f"{where(pos)}: '{target}' links to line numbers, which go stale: "
                            "link to the file and name the symbol")
            continue
        if path_part.startswith("/"):
            problems.append(f"{where(pos)}: '{target}' is an absolute path: use a relative link")
            continue
        dest = (md.parent / path_part).resolve() if path_part else md.resolve()
        try:
            dest.relative_to(root)
        except ValueError:
            problems.append(f"{where(pos)}: '{target}' leaves the repository")
            continue
        if not dest.exists():
            problems.append(f"{where(pos)}: '{target}' names no file ({dest.relative_to(root)} does not exist)")
            continue
        if anchor and dest.suffix == ".md" and urllib.parse.unquote(anchor) not in anchors(dest):
            problems.append(f"{where(pos)}: '{target}': {dest.relative_to(root)} has no heading "
                            f"with the anchor '#{anchor}'")
    return problems


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", default=str(pathlib.Path(__file__).resolve().parents[2]),
                    help="the repository root; links may not leave it")
    ap.add_argument("files", nargs="*")
    args = ap.parse_args()
    root = pathlib.Path(args.root).resolve()
    if not args.files:
        args.files = [str(root / "README.md")] + sorted(str(f) for f in (root / "docs").rglob("*.md"))
    problems = []
    for f in args.files:
        problems += check(pathlib.Path(f), root)
    for p in problems:
        print(p)
    print(f"{len(args.files)} files checked, {len(problems)} broken or forbidden links")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
