"""What to say when the ``ui`` extra (Starlette, uvicorn) is not installed."""

from __future__ import annotations

import importlib

from .._errors import ActorbusError

__all__ = ["UiMissing", "require_ui"]

_NEEDED = ("starlette", "uvicorn")


class UiMissing(ActorbusError, ImportError):
    """The viewer needs the ``ui`` extra, which is not installed."""

    def __init__(self, missing: list[str]) -> None:
        self.missing = missing
        super().__init__(
            f"the log viewer needs {' and '.join(missing)}: pip install 'actorbus[ui]'"
        )


def require_ui() -> None:
    """Raise `UiMissing` unless Starlette and uvicorn can be imported."""
    missing = []
    for name in _NEEDED:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise UiMissing(missing)
