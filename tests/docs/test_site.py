"""The documentation site builds with ``mkdocs build --strict``, and the README maps it.

A broken link or anchor, a page missing from the nav, or a nav entry with no page
fails the build (see ``validation`` in mkdocs.yml). The README is not part of the
site (its links are GitHub's, relative to the repository), so its links are
checked here: each file exists, and each anchor into a page is one the built site
has.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# A line inside a paragraph or list item that starts like a list item: a list that
# Python-Markdown did not see (it wants a blank line before a list, and nested
# content indented by four spaces, where GitHub takes two).
_UNSEEN_LIST = re.compile(r"<(p|li)>(?:(?!</\1>).)*\n\s*(- |\d+\. |\* )", re.DOTALL)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site, built once for the module, into a temporary directory."""
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}  # Material's banner about MkDocs 2.0
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return out


def _nav_pages() -> list[str]:
    config = (ROOT / "mkdocs.yml").read_text()
    nav = config.split("\nnav:\n", 1)[1].split("\n\n", 1)[0]
    return re.findall(r"^  - [^:]+: (\S+\.md)$", nav, flags=re.MULTILINE)


def test_the_site_builds_strictly_with_every_page_in_the_nav(site: Path) -> None:
    pages = sorted(p.name for p in (ROOT / "docs").glob("*.md"))
    assert sorted(_nav_pages()) == pages
    for page in pages:
        name = page.removesuffix(".md")
        assert (site / ("index.html" if name == "index" else f"{name}/index.html")).is_file()


def test_markdown_lists_render_as_lists(site: Path) -> None:
    for html in sorted(site.glob("**/index.html")):
        article = re.sub(r"<pre.*?</pre>", "", html.read_text(), flags=re.DOTALL)
        unseen = [found[0][-300:] for found in _UNSEEN_LIST.finditer(article)]
        assert not unseen, f"{html.relative_to(site)}: {unseen}"


def _readme() -> str:
    """The README without its code blocks."""
    return re.sub(r"```.*?```", "", (ROOT / "README.md").read_text(), flags=re.DOTALL)


def _readme_links() -> list[str]:
    readme = _readme()
    return [
        link
        for link in re.findall(r"\]\(([^)\s]+)\)", readme)
        if not re.match(r"[a-z]+:", link)  # http:, https:, mailto:
    ]


def _anchors(html: str) -> set[str]:
    return set(re.findall(r'\bid="([^"]+)"', html))


def test_the_readmes_links_and_anchors_exist(site: Path) -> None:
    readme_anchors = _anchors(_github_headings())
    for link in _readme_links():
        path, _, anchor = link.partition("#")
        if not path:
            assert anchor in readme_anchors, f"README.md: no heading for #{anchor}"
            continue
        assert (ROOT / path).exists(), f"README.md links to {path}, which does not exist"
        if anchor:
            assert re.fullmatch(r"docs/[\w-]+\.md", path), f"README.md: {link} is not a page"
            name = path.removeprefix("docs/").removesuffix(".md")
            html = site / ("index.html" if name == "index" else f"{name}/index.html")
            assert anchor in _anchors(html.read_text()), f"README.md: {path} has no #{anchor}"


def _github_headings() -> str:
    """The README's headings as GitHub makes their anchors (lowercase, spaces as -)."""
    headings = re.findall(r"^#+ (.+)$", _readme(), flags=re.MULTILINE)
    slugs = (re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings)
    return "".join(f'<h id="{slug}">' for slug in slugs)


def test_the_readme_maps_every_page_of_the_site() -> None:
    readme = (ROOT / "README.md").read_text()
    documentation = readme.split("\n## Documentation\n", 1)[1].split("\n## ", 1)[0]
    linked = set(re.findall(r"\]\(docs/([\w-]+\.md)\)", documentation))
    assert linked == set(_nav_pages()) - {"index.md"}
