"""The README stays short, and every relative link in it and in docs/*.md leads somewhere.

A link's target must be a file or folder of the repository; a `#anchor` into a Markdown file
must name one of its headings, slugged as GitHub slugs them. Web and mail links are not checked.
"""

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
MAX_README_LINES = 200

FENCE = re.compile(r"^ {0,3}(```|~~~).*?^ {0,3}\1[^\n]*$", re.MULTILINE | re.DOTALL)
CODE_SPAN = re.compile(r"(`+)(?!`).*?(?<!`)\1(?!`)", re.DOTALL)
# [text](target) and ![alt](target), with an optional "title"; text may hold one level of brackets
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+[\"'(].*?[\"')])?\s*\)")
REFERENCE_DEFINITION = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$", re.MULTILINE)
HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)[ \t#]*$", re.MULTILINE)
EXTERNAL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")  # http:, https:, mailto:, ...


def prose(text: str) -> str:
    """The Markdown without fenced code blocks and code spans, where brackets are not links."""
    return CODE_SPAN.sub("", FENCE.sub("", text))


def links(text: str) -> list[str]:
    """Every inline, image and reference-definition link target of a Markdown text."""
    text = prose(text)
    return INLINE_LINK.findall(text) + REFERENCE_DEFINITION.findall(text)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: link text kept, lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading: its text
    text = re.sub(r"<[^>]+>", "", text).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """The anchors of a Markdown file's headings; repeated headings get -1, -2, ... as on GitHub."""
    seen: dict[str, int] = {}
    out = set()
    for _, heading in HEADING.findall(FENCE.sub("", page.read_text(encoding="utf-8"))):
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        out.add(base if count == 0 else f"{base}-{count}")
    return out


def broken_links(page: Path, root: Path = ROOT) -> list[str]:
    """The page's relative links whose file, folder or heading is missing, each with the reason."""
    problems = []
    for target in links(page.read_text(encoding="utf-8")):
        if not target or EXTERNAL.match(target):
            continue
        path, _, anchor = target.partition("#")
        destination = (page.parent / unquote(path)).resolve() if path else page
        if not destination.is_relative_to(root):
            problems.append(f"{target}: outside the repository")
        elif not destination.exists():
            problems.append(f"{target}: no such file or folder")
        elif anchor and destination.suffix == ".md" and anchor not in anchors(destination):
            problems.append(f"{target}: no heading #{anchor} in {destination.relative_to(root)}")
    return problems


def test_readme_reads_in_five_minutes():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= MAX_README_LINES, f"README.md has {len(lines)} lines; move detail to docs/"


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_relative_links_lead_somewhere(page):
    assert broken_links(page) == []


def test_the_readme_links_every_docs_page():
    linked = {(ROOT / target.partition("#")[0]).resolve() for target in links(README.read_text(encoding="utf-8"))}
    pages = set((ROOT / "docs").glob("*.md")) | set((ROOT / "docs").glob("*.ipynb"))
    assert sorted(str(page.relative_to(ROOT)) for page in pages - linked) == []


def test_the_link_checker_finds_what_is_missing(tmp_path):
    """The checker itself: a missing file, a missing heading and a link out of the repository are
    caught; code, web links, a heading with punctuation and a repeated heading are not mistaken."""
    assert slug("The study's rules and ours") == "the-studys-rules-and-ours"
    assert slug("`findings.csv`") == "findingscsv"
    assert slug("Since 2026-12-01: 2 cores, without AMX") == "since-2026-12-01-2-cores-without-amx"
    text = (
        "[a](missing.md) [b](README.md#no-such-heading) [c](https://example.org/x.md) ![d](docs)\n"
        "`[e](in-a-code-span.md)`\n```\n[f](in-a-fence.md)\n```\n[g]: missing-too.md\n"
    )
    assert links(text) == [
        "missing.md",
        "README.md#no-such-heading",
        "https://example.org/x.md",
        "docs",
        "missing-too.md",
    ]
    root = tmp_path / "repo"
    (root / "docs").mkdir(parents=True)
    (root / "README.md").write_text("# A heading\n## A heading\n", encoding="utf-8")
    assert anchors(root / "README.md") == {"a-heading", "a-heading-1"}
    page = root / "docs" / "page.md"
    page.write_text(
        "[ok](../README.md#a-heading-1) [ok](.) [ok](#here) [ok](mailto:a@b.c)\n# Here\n"
        "[x](missing.md) [y](../README.md#a-heading-2) [z](../../outside.md)\n",
        encoding="utf-8",
    )
    (tmp_path / "outside.md").write_text("", encoding="utf-8")
    assert broken_links(page, root) == [
        "missing.md: no such file or folder",
        "../README.md#a-heading-2: no heading #a-heading-2 in README.md",
        "../../outside.md: outside the repository",
    ]
