"""Ready-made actors: the coordinator and LLM role actors (arriving with the coordination issue)."""

from __future__ import annotations

__all__: list[str] = []
