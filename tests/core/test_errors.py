"""The error tree: the drawings in docs/concepts.md and in ``_errors`` are the classes' own."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import actorbus as ab
from actorbus import _errors

ROOT = Path(__file__).resolve().parent.parent.parent
# "+-- Name (Builtin)   [P] what"; each "|   " before it is one level of subclass.
_LINE = re.compile(
    r"^(?P<depth>(?:\|   )*)\+-- (?P<name>\w+)(?: \((?P<also>[\w, ]+)\))?\s*(?P<p>\[P\])?"
)


def _docs_tree() -> str:
    """The tree drawn in the concepts page's "Errors" section (to the next section)."""
    text = (ROOT / "docs" / "concepts.md").read_text()
    return text.split("\n## Errors\n", 1)[1].split("\n## ", 1)[0]


def _drawn(tree: str) -> dict[str, tuple[str, tuple[str, ...], bool]]:
    """Return name -> (drawn parent, builtins drawn after it, permanent as drawn)."""
    drawn: dict[str, tuple[str, tuple[str, ...], bool]] = {}
    parents: list[tuple[str, bool]] = [("ActorbusError", False)]  # the path to this line
    for line in tree.splitlines():
        found = _LINE.match(line.strip())
        if found is None:
            continue
        name, marked = found["name"], found["p"] is not None
        also = tuple(found["also"].split(", ")) if found["also"] else ()
        del parents[len(found["depth"]) // 4 + 1 :]
        parent, parent_permanent = parents[-1]
        permanent = marked or parent_permanent  # a [P] parent marks all below it
        drawn[name] = (parent, also, permanent)
        parents.append((name, permanent))
    return drawn


def _errors_exported() -> set[str]:
    return {
        name
        for name in ab.__all__
        if isinstance(getattr(ab, name), type)
        and issubclass(getattr(ab, name), ab.ActorbusError)
        and name != "ActorbusError"
    }


@pytest.mark.parametrize(
    "tree",
    [
        pytest.param(_docs_tree(), id="docs-concepts"),
        pytest.param(_errors.__doc__ or "", id="_errors-docstring"),
    ],
)
class TestTheDrawnTree:
    def test_draws_every_public_error(self, tree: str) -> None:
        assert set(_drawn(tree)) == _errors_exported()

    def test_draws_each_errors_bases(self, tree: str) -> None:
        for name, (parent, also, _) in _drawn(tree).items():
            bases = [b.__name__ for b in getattr(ab, name).__bases__ if b is not ab.Permanent]
            assert bases == [parent, *also], name

    def test_marks_exactly_the_permanent_errors(self, tree: str) -> None:
        for name, (_, _, permanent) in _drawn(tree).items():
            assert issubclass(getattr(ab, name), ab.Permanent) is permanent, name
