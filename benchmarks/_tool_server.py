"""A FakeOpenAI that plays a model using two tools, in its own process, for ``bench_tools``.

``python -m benchmarks._tool_server --latency 0.02`` prints the base URL, then
serves until its standard input closes (or it is terminated). Every request is
answered by the number of tool results it already carries, so any number of
loops can run at once: none, call ``add``; one, call ``lookup``; two, answer.
That is three model turns and two tool calls per task, as the same requests
whoever sends them (actorbus or raw httpx).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from actorbus.testing import FakeOpenAI, Reply, ToolCall

__all__ = ["ANSWER", "answer"]

ANSWER = "The sum is 5 and the key holds 42."
"""The model's final answer, after both tool results."""


def answer(body: dict[str, Any]) -> Reply:
    """Return the model's next step for a request, from the tool results it carries."""
    results = sum(1 for m in body["messages"] if m.get("role") == "tool")
    if results == 0:
        return Reply(tool_calls=[ToolCall("add", {"a": 2, "b": 3})])
    if results == 1:
        return Reply(tool_calls=[ToolCall("lookup", {"key": "answer"})])
    return Reply(text=ANSWER)


def main() -> None:
    """Serve until standard input closes."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--latency", type=float, default=0.02)
    latency = parser.parse_args().latency
    with FakeOpenAI(latency=latency) as fake:
        fake.reply_with(answer)
        print(fake.base_url, flush=True)
        sys.stdin.read()  # until the parent closes it, or ends this process


if __name__ == "__main__":
    main()
