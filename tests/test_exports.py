"""The public API: what `actorbus`, `actorbus.testing` and `actors` export, all documented."""

from __future__ import annotations

import re
import types
from pathlib import Path

import msgspec
import pytest

import actorbus
import actorbus.testing
import actors

ROOT = Path(__file__).resolve().parent.parent


def _public_names(module: types.ModuleType) -> set[str]:
    # dir(), not vars(): a module may load a public name on first use (__getattr__).
    return {
        name
        for name in dir(module)
        if not name.startswith("_")
        and not isinstance(getattr(module, name), types.ModuleType)
        and name not in {"annotations"}
    }


@pytest.mark.parametrize("module", [actorbus, actorbus.testing, actors], ids=lambda m: m.__name__)
class TestAll:
    def test_all_lists_exactly_the_public_names(self, module: types.ModuleType) -> None:
        assert set(module.__all__) == _public_names(module)

    def test_all_is_sorted_and_unique(self, module: types.ModuleType) -> None:
        assert list(module.__all__) == sorted(set(module.__all__), key=module.__all__.index)
        assert len(module.__all__) == len(set(module.__all__))


def test_public_classes_and_functions_claim_the_public_module() -> None:
    for name in actorbus.__all__:
        value = getattr(actorbus, name)
        if isinstance(value, type) and issubclass(value, msgspec.Struct):
            # msgspec resolves a Struct's annotations in its defining module.
            assert value.__module__.startswith("actorbus."), name
        elif isinstance(value, type | types.FunctionType):
            assert value.__module__ == "actorbus", name


def test_every_public_name_is_documented() -> None:
    docs = (ROOT / "README.md").read_text() + "".join(
        p.read_text() for p in sorted((ROOT / "docs").glob("*.md"))
    )
    missing = [
        f"{module.__name__}.{name}"
        for module in (actorbus, actorbus.testing, actors)
        for name in module.__all__
        if not re.search(rf"\b{re.escape(name)}\b", docs)
    ]
    assert not missing, f"public names not mentioned in README.md or docs/*.md: {missing}"
