"""The README and docs/ stay truthful: links lead somewhere, every page is reachable, commands and paths exist.

Checks every relative link of README.md and docs/*.md (the file, and the heading a `#fragment` names,
by GitHub's slug rules), that the README links every docs page, that every `npm run X` / `npm test` /
`npm start` shown is a script in package.json, and that every `scripts/...` or `bench/...` path named
in backticks exists.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = [README, *DOCS]

FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.M | re.S)
CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.S)
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$", re.M)
NPM = re.compile(r"\bnpm (?:run ([\w:.-]+)|(test|start)\b)")
REPO_PATH = re.compile(r"(?<![\w./-])((?:scripts|bench)/[\w./-]*[\w/])")


def prose(text: str) -> str:
    """The text outside fenced code blocks (a `# comment` in a shell block is no heading)."""
    return FENCE.sub("", text)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: its rendered text lower-cased, punctuation but `-` and `_`
    dropped, spaces made hyphens."""
    text = CODE_SPAN.sub(lambda match: match.group(2), heading)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)  # a link's text stands for it
    text = re.sub(r"[*_]{1,3}(\S(?:.*?\S)?)[*_]{1,3}", r"\1", text)  # emphasis markers
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    found = set()
    for match in HEADING.finditer(prose(path.read_text())):
        base = slug(match.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def relative_links(text: str) -> list[str]:
    body = CODE_SPAN.sub("", prose(text))
    return [target for target in LINK.findall(body) if not re.match(r"[a-z][a-z0-9+.-]*:", target, re.I)]


def broken_links(path: Path) -> list[str]:
    """Each relative link of the page that leads to no file, or to no heading of it."""
    broken = []
    for target in relative_links(path.read_text()):
        file_part, _, fragment = target.partition("#")
        destination = (path.parent / file_part).resolve() if file_part else path
        if not destination.exists():
            broken.append(f"{target}: no such file")
        elif fragment and destination.suffix == ".md" and fragment not in anchors(destination):
            broken.append(f"{target}: no heading #{fragment} in {destination.name}")
    return broken


def code_spans(text: str) -> list[str]:
    """What the page shows as code: inline spans and fenced blocks."""
    return [match.group(0) for match in FENCE.finditer(text)] + [
        match.group(2) for match in CODE_SPAN.finditer(prose(text))]


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_relative_link_leads_to_a_file_and_heading(page):
    assert broken_links(page) == []


def test_the_readme_links_every_docs_page():
    linked = {(README.parent / target.partition("#")[0]).resolve() for target in relative_links(README.read_text())}
    assert [page.name for page in DOCS if page.resolve() not in linked] == []


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_page_starts_with_a_title_and_a_line_saying_what_it_holds(page):
    first, blank, summary, *_ = page.read_text().split("\n")
    assert first.startswith("# ") and blank == "" and summary.strip()


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_npm_command_shown_is_a_package_script(page):
    scripts = json.loads((ROOT / "package.json").read_text())["scripts"]
    shown = {run or builtin for run, builtin in NPM.findall(page.read_text())}
    assert sorted(shown - set(scripts)) == []


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_scripts_or_bench_path_in_backticks_exists(page):
    named = {path for span in code_spans(page.read_text()) for path in REPO_PATH.findall(span)}
    assert sorted(path for path in named if not (ROOT / path).exists()) == []


# The checker itself, on pages written here, so that a regression in it cannot pass silently.

@pytest.mark.parametrize("heading, anchor", [
    ("Use it from Immersive Translate (DeepLX)", "use-it-from-immersive-translate-deeplx"),
    ("The DeepL API (`/v2`)", "the-deepl-api-v2"),
    ("CPU within the Free plan's 10 ms", "cpu-within-the-free-plans-10-ms"),
    ("Budgets: what is reserved, when it settles, how far a cap can be passed",
     "budgets-what-is-reserved-when-it-settles-how-far-a-cap-can-be-passed"),
    ("Python tools: which are used, and why", "python-tools-which-are-used-and-why"),
    ("The `openai` SDKs", "the-openai-sdks"),
])
def test_slugs_follow_github(heading, anchor):
    assert slug(heading) == anchor


def test_a_dead_link_a_missing_heading_and_a_fenced_comment_are_told_apart(tmp_path):
    (tmp_path / "other.md").write_text("# Other\n\n## Real part\n")
    page = tmp_path / "page.md"
    page.write_text("# Page\n\n```sh\n# not a heading\n```\n\n[ok](other.md#real-part) [gone](missing.md) "
                    "[no heading](other.md#nowhere) [fenced](#not-a-heading) [web](https://example.com/x) "
                    "`[in code](nothing.md)`\n")
    assert broken_links(page) == [
        "missing.md: no such file",
        "other.md#nowhere: no heading #nowhere in other.md",
        "#not-a-heading: no heading #not-a-heading in page.md",
    ]
