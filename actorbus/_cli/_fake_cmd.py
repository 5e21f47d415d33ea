"""``actorbus fake-openai``: serve the FakeOpenAI test server in the foreground, for demos."""

from __future__ import annotations

import argparse
import os
from typing import Any

__all__ = ["add_fake_openai_parser"]


def add_fake_openai_parser(commands: Any) -> None:
    """Add the ``fake-openai`` command to the ``actorbus`` parser."""
    fake: argparse.ArgumentParser = commands.add_parser(
        "fake-openai",
        help="serve an offline OpenAI-compatible chat API on loopback (for demos and tests)",
        description="Serve actorbus.testing.FakeOpenAI until Ctrl-C. It answers "
        "POST /v1/chat/completions (plain and streaming) with 'echo: <last user message>', "
        "and refuses malformed tools, tool_choice, response_format or tool messages with 400. "
        "Its base URL is printed on the first line.",
    )
    fake.add_argument("--host", default="127.0.0.1", help="address to listen on (default loopback)")
    fake.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    fake.add_argument(
        "--latency", type=float, default=0.0, help="seconds to wait before each answer"
    )
    fake.add_argument(
        "--api-key-env",
        metavar="VAR",
        help="require the key held in this environment variable (401 otherwise)",
    )
    fake.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace) -> int:
    from ..testing._fake_openai import serve_forever

    key = None
    if args.api_key_env:
        key = os.environ.get(args.api_key_env)
        if not key:
            print(f"actorbus: the environment variable {args.api_key_env} is not set")
            return 2
    serve_forever(host=args.host, port=args.port, latency=args.latency, api_key=key)
    return 0
