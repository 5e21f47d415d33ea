"""The log viewer: a read-only web page over any log's `LogReader` (``actorbus log serve``).

A Starlette app (``_app``) serves a JSON API (``_api``), server-sent events that
tell the page the log grew (``_live``) and a static page (``static/``: HTML, one
vanilla JS module, CSS; no build step, nothing loaded from elsewhere). Every
response goes through ``_guard``: only GET and HEAD, a strict
Content-Security-Policy, and a token when bound to anything but loopback.
``_server`` runs it with uvicorn, in the foreground or beside a run.

Starlette and uvicorn are the optional extra ``ui`` (``pip install
'actorbus[ui]'``); importing this package without them raises `UiMissing`, which
says so. Nothing else in actorbus imports it.
"""

from __future__ import annotations

from ._missing import UiMissing as UiMissing
from ._missing import require_ui as require_ui

__all__ = ["UiMissing", "require_ui"]
