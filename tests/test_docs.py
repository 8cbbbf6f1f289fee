#!/usr/bin/python3
"""The Markdown pages: every link of each to a file or heading of the repository leads to one that is there (GitHub's
anchors), and every page in docs/ is reached from the README.

usage: test_docs.py
"""
import re
import subprocess
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FENCE = re.compile(r"^ {0,3}(```|~~~)")


def pages():
    """The repository's Markdown files: git's list where this is a checkout, else every one below ROOT."""
    r = subprocess.run(["git", "-C", str(ROOT), "ls-files", "*.md"], capture_output=True, text=True)
    names = r.stdout.split() if r.returncode == 0 and r.stdout.strip() else \
        [str(p.relative_to(ROOT)) for p in ROOT.rglob("*.md") if not {"build", ".venv", ".git"} & set(p.parts)]
    return sorted(ROOT / n for n in names)


def prose(text):
    """The page's lines outside fenced code (a shell comment there is no heading, a `[x](y)` no link)."""
    fenced = None
    for line in text.split("\n"):
        m = FENCE.match(line)
        if m and (fenced is None or m.group(1) == fenced):
            fenced = m.group(1) if fenced is None else None
        elif fenced is None:
            yield line


def anchors(text):
    """The anchors GitHub gives a page's headings: lower case, punctuation but hyphens dropped, blanks as hyphens,
    a repeated one numbered from -1."""
    found, seen = set(), {}
    for line in prose(text):
        m = re.match(r" {0,3}(#{1,6}) +(.*?)(?: +#+)? *$", line)
        if m:
            slug = re.sub(r"[^\w\- ]", "", m.group(2).lower()).replace(" ", "-")
            n = seen.get(slug, 0)
            seen[slug] = n + 1
            found.add(slug if n == 0 else f"{slug}-{n}")
    return found


def links(text):
    """The page's links to the repository (not URLs), as (target, file or "", anchor or ""): inline ones, with or
    without a title or angle brackets, and reference definitions."""
    body = "\n".join(prose(text))
    body = re.sub(r"`[^`\n]*`", "", body)  # (code spans: shown as text)
    targets = re.findall(r"\]\(\s*<([^>]*)>", body) + re.findall(r"\]\(\s*([^<)\s]+)(?:\s+\"[^\"]*\")?\s*\)", body)
    targets += re.findall(r"^ {0,3}\[[^\]]+\]:\s*<?([^>\s]+)>?", body, re.M)
    for target in targets:
        if not re.match(r"[a-z][a-z0-9+.-]*:", target):
            path, _, anchor = target.partition("#")
            yield target, path, anchor


class Docs(unittest.TestCase):
    def test_parsing(self):
        self.assertEqual(anchors("# A `b` (c, d)?\n## pool5: keep it\n```\n# not\n```\n~~~\n# not\n~~~\n## A b c d\n"
                                 "## x\n## x ##\n"), {"a-b-c-d", "pool5-keep-it", "a-b-c-d-1", "x", "x-1"})
        page = ('[a](b.md#c) [d](<e f.md>) [g](h.md "title") [i](https://x.org/j.md) `[k](l.md)`\n'
                "```\n[m](n.md)\n```\n[ref]: o.md#p\n")
        self.assertEqual(list(links(page)), [("e f.md", "e f.md", ""), ("b.md#c", "b.md", "c"), ("h.md", "h.md", ""),
                                             ("o.md#p", "o.md", "p")])

    def test_links_lead_somewhere(self):
        checked = 0
        for page in pages():
            for target, path, anchor in links(page.read_text()):
                to = (page.parent / path).resolve() if path else page
                where = f"{page.relative_to(ROOT)}: {target}"
                self.assertTrue(to.exists(), f"{where}: no such file")
                if anchor and to.suffix == ".md":
                    self.assertIn(anchor, anchors(to.read_text()), f"{where}: no such heading")
                checked += 1
        self.assertGreater(checked, 40)  # (the pages link to each other: a parse that finds none checks nothing)

    def test_every_page_reached(self):
        readme = ROOT / "README.md"
        reached = {(ROOT / path).resolve() for _, path, _ in links(readme.read_text()) if path}
        docs = [p for p in pages() if (ROOT / "docs") in p.parents]
        self.assertGreater(len(docs), 1)
        for page in docs:
            self.assertIn(page, reached, f"{page.relative_to(ROOT)} is not linked from the README")


if __name__ == "__main__":
    unittest.main()
