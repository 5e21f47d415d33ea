"""Fixtures of the viewer's tests: the story's log, a viewer serving it, and Chromium.

Browser tests drive Debian's Chromium (``apt-get install chromium``; ``.ci/run``
installs it) through Playwright, which is told where it is: Playwright's own
browser downloads are not used. Without a Chromium they skip, saying so.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

import actorbus as ab
from actorbus._ui._server import ViewerServer
from actorbus._ui._viewer import Viewer

from ._story import Story, write_story

if TYPE_CHECKING:
    from playwright.sync_api import Browser

CHROMIUM = os.environ.get("ACTORBUS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def story(tmp_path_factory: pytest.TempPathFactory) -> Story:
    return write_story(tmp_path_factory.mktemp("story") / "story.db")


def serve(path: Path, **options: Any) -> ViewerServer:
    """Start a viewer of the log at ``path`` on a free loopback port (stop it after)."""
    log = ab.SqliteLog(path)
    server = ViewerServer(
        Viewer(log.reader, shown=path.name, budget=options.pop("budget", 0.01), interval=0.05),
        host=options.pop("host", "127.0.0.1"),
        port=0,
    )
    server.start()
    return server


@pytest.fixture(scope="module")
def served(story: Story) -> Iterator[ViewerServer]:
    server = serve(story.path)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = shutil.which(CHROMIUM) or (CHROMIUM if os.path.exists(CHROMIUM) else None)
    if executable is None:
        pytest.skip(
            f"no Chromium at {CHROMIUM}: apt-get install chromium (or set ACTORBUS_CHROMIUM); "
            ".ci/run installs it"
        )
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        try:
            yield launched
        finally:
            launched.close()
