"""What to say when the ``ui`` extra (Starlette, uvicorn) is not installed."""

from __future__ import annotations

import importlib.util

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
    missing = [name for name in _NEEDED if importlib.util.find_spec(name) is None]
    if missing:
        raise UiMissing(missing)
