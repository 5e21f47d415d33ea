"""The examples in examples/ run as written."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

import actorbus as ab

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def _run(name: str) -> str:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / name)], capture_output=True, text=True, timeout=60,
        check=False, env={"PATH": "", "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_custom_actor_fits_in_20_lines_and_answers() -> None:
    source = (EXAMPLES / "custom_actor.py").read_text()
    code = [line for line in source.splitlines() if line.strip() and not line.startswith('"""')]
    assert len(code) <= 20
    assert _run("custom_actor.py").strip() == "Counted(words=4)"


def test_the_trio_program_runs_on_trio() -> None:
    assert _run("trio_program.py").strip() == "[1, 2, 3]"


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_the_asgi_app_opens_its_bus_in_the_lifespan_and_answers_requests(
    anyio_backend: str,
) -> None:
    sys.path.insert(0, str(ROOT))
    try:
        from examples.asgi_lifespan import App
    finally:
        sys.path.remove(str(ROOT))
    app = App()
    to_app, from_server = anyio.create_memory_object_stream[MutableMapping[str, Any]](4)
    to_server, from_app = anyio.create_memory_object_stream[MutableMapping[str, Any]](4)
    async with to_app, from_server, to_server, from_app, anyio.create_task_group() as tg:
        tg.start_soon(app, {"type": "lifespan"}, from_server.receive, to_server.send)
        await to_app.send({"type": "lifespan.startup"})
        assert (await from_app.receive())["type"] == "lifespan.startup.complete"
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
            response = await client.get("/ada")
        assert response.json()["greeting"].startswith("hello, ada (message seq ")
        await to_app.send({"type": "lifespan.shutdown"})
        assert (await from_app.receive())["type"] == "lifespan.shutdown.complete"
    assert app.bus is not None
    with pytest.raises(ab.BusClosed):
        await app.bus.publish("greet", ab.Request())


def test_the_tracing_example_prints_one_trace_tree() -> None:
    pytest.importorskip(
        "opentelemetry.sdk", reason="needs pip install 'actorbus[otel]' and the SDK"
    )
    assert _run("tracing.py").splitlines() == [
        "publish questions",
        "  handle asker",
        "    publish to-model",
        "      handle thinker",
        "        chat echo",
        "        publish answers",
        "          handle printer",
    ]
