#!/usr/bin/python3
"""The README and docs/: every link between them leads to a file that is there and, where it names one, to a
heading of that file (GitHub's anchors), and every page in docs/ is reached from the README.

usage: test_docs.py
"""
import re
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def anchors(text):
    """The anchors GitHub gives a Markdown page's headings: lower case, punctuation but hyphens dropped, blanks as
    hyphens, a repeated one numbered from -1. Lines inside fenced code are not headings (a shell comment)."""
    found, seen, fenced = set(), {}, False
    for line in text.split("\n"):
        if line.startswith("```"):
            fenced = not fenced
            continue
        m = None if fenced else re.match(r"(#{1,6}) +(.*?) *#*$", line)
        if m:
            slug = re.sub(r"[^\w\- ]", "", m.group(2).lower()).replace(" ", "-")
            n = seen.get(slug, 0)
            seen[slug] = n + 1
            found.add(slug if n == 0 else f"{slug}-{n}")
    return found


def links(text):
    """The page's relative links (not URLs), as (target file or "", anchor or ""), outside fenced code."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.M | re.S)
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if not re.match(r"[a-z]+:", target):
            path, _, anchor = target.partition("#")
            yield target, path, anchor


class Docs(unittest.TestCase):
    def test_anchors(self):
        self.assertEqual(anchors("# A `b` (c, d)?\n## pool5: keep it\n```\n# not\n```\n## A b c d\n## x\n## x\n"),
                         {"a-b-c-d", "pool5-keep-it", "a-b-c-d-1", "x", "x-1"})

    def test_links_lead_somewhere(self):
        checked = 0
        for page in PAGES:
            for target, path, anchor in links(page.read_text()):
                to = (page.parent / path).resolve() if path else page
                self.assertTrue(to.exists(), f"{page.relative_to(ROOT)}: {target}: no such file")
                if anchor and to.suffix == ".md":
                    self.assertIn(anchor, anchors(to.read_text()), f"{page.relative_to(ROOT)}: {target}: no such heading")
                checked += 1
        self.assertGreater(checked, 40)  # (the pages link to each other: a parse that finds none checks nothing)

    def test_every_page_reached(self):
        readme = {(ROOT / path).resolve() for _, path, _ in links(PAGES[0].read_text()) if path}
        self.assertGreater(len(PAGES), 1)
        for page in PAGES[1:]:
            self.assertIn(page, readme, f"{page.relative_to(ROOT)} is not linked from the README")


if __name__ == "__main__":
    unittest.main()
