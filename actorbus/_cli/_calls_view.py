"""How ``actorbus log trace`` shows a handling's model calls: a line per turn and per tool call.

Under a message, for each actor whose handling of it called a model (read back
from the journal by `handlings`)::

    researcher: model call 0, 2 turns
      turn 0  gpt-4.1  openai  tokens 120 in, 18 out  $0.000384  0.84s
        tool get_weather  {"city":"Paris"} -> "sunny, 21 C"  ok  3.1ms
        tool login  {"user":"ada","password":"***"} -> "error: ..."  error  0.2ms  replayed
      turn 1  gpt-4.1  openai  tokens 160 in, 9 out  $0.000392  0.61s  replayed

``replayed``: a re-run of the handler (a retry, or a restart after a crash) got
the turn or the tool result from the journal instead of asking or running again.
A tool line keeps its name, status, duration and marks whole, and cuts the
arguments and the result (masked: see `masked`) to fit the width.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import msgspec

from .._log import Handling, JournaledTool, JournaledTurn

__all__ = ["handling_lines"]

_MIN_EXCERPT = 12  # characters an excerpt keeps however narrow the terminal
_ARROW = " -> "


def handling_lines(found: Handling, width: int) -> Iterator[str]:
    """Yield the lines showing ``found``'s model calls, each at most ``width`` wide if it can."""
    for call in found.calls:
        n = len(call.turns)
        yield f"{found.actor}: model call {call.index}, {n} turn{'' if n == 1 else 's'}"
        for turn in call.turns:
            yield "  " + _turn(turn)
            for tool in turn.tools:
                yield "    " + _tool(tool, width - 4)


def _turn(turn: JournaledTurn) -> str:
    if turn.problem is not None:
        return _joined(f"turn {turn.index}", f"<{turn.problem}>", _replayed(turn.replayed))
    cost = "unpriced" if turn.cost is None else f"${turn.cost:.6f}"
    return _joined(
        f"turn {turn.index}",
        turn.model,
        turn.provider,
        f"tokens {turn.prompt_tokens} in, {turn.completion_tokens} out",
        cost,
        _seconds(turn.latency),
        f"{turn.attempts} attempts" if turn.attempts > 1 else "",
        _replayed(turn.replayed),
    )


def _tool(tool: JournaledTool, width: int) -> str:
    head = f"tool {tool.name}  "
    arguments = _excerpt(tool.arguments)
    if not tool.ran:
        return head + _cut(arguments, max(width - len(head) - 11, _MIN_EXCERPT)) + "  (not run)"
    if tool.problem is not None:
        tail = _joined("", f"<{tool.problem}>", _replayed(tool.replayed))
        return head + _cut(arguments, max(width - len(head) - len(tail), _MIN_EXCERPT)) + tail
    tail = _joined(
        "", "error" if tool.error else "ok", _seconds(tool.duration), _replayed(tool.replayed)
    )
    result = _excerpt(tool.result)
    room = width - len(head) - len(_ARROW) - len(tail)
    a, r = _split(len(arguments), len(result), room)
    return head + _cut(arguments, a) + _ARROW + _cut(result, r) + tail


def _split(args: int, result: int, room: int) -> tuple[int, int]:
    """Return how many characters the arguments and the result get out of ``room``.

    The shorter is kept whole if it takes at most two thirds of the room; else
    they share it.
    """
    if args + result <= room:
        return args, result
    room = max(room, 2 * _MIN_EXCERPT)
    if min(args, result) <= room * 2 // 3:
        if args <= result:
            return args, max(room - args, _MIN_EXCERPT)
        return max(room - result, _MIN_EXCERPT), result
    return room // 2, room - room // 2


def _excerpt(data: Any) -> str:
    # Compact JSON: one line whatever the text holds (newlines are escaped).
    try:
        return msgspec.json.encode(data).decode()
    except (msgspec.EncodeError, TypeError):  # pragma: no cover - decoded JSON re-encodes
        return repr(data)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(limit - 3, 0)] + "..."


def _seconds(seconds: float) -> str:
    return f"{seconds * 1000:.1f}ms" if seconds < 1 else f"{seconds:.2f}s"


def _replayed(replayed: bool) -> str:
    return "replayed" if replayed else ""


def _joined(first: str, *parts: str) -> str:
    # Two spaces between the parts that say something; a leading "" keeps them.
    return "  ".join([first, *(p for p in parts if p)])
