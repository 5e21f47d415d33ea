"""What the API answers, as plain data: records, payloads, handlings, dead letters, usage.

Pure functions from the reader layer's types to JSON-ready dicts and lists. A
payload is shown as ``actorbus log show --payload`` shows it: decoded without
its message class, every secret-looking value masked (`Record.plain`). Values
are data for the page to show as text; nothing here is markup.
"""

from __future__ import annotations

from typing import Any

import msgspec

from .._log import (
    ActorActivity,
    Handling,
    ModelTotals,
    Record,
    UsageTally,
)

__all__ = [
    "activity_shape",
    "dead_letter_shape",
    "handling_shape",
    "plain_data",
    "record_shape",
    "usage_shape",
]


def record_shape(record: Record) -> dict[str, Any]:
    """Return a record's envelope (no payload), for lists and trees."""
    return {
        "seq": record.seq,
        "id": record.id,
        "topic": record.topic,
        "type": record.type,
        "sender": record.sender,
        "time": record.timestamp,
        "correlation_id": record.correlation_id,
        "reply_to": record.reply_to,
        "causation": record.causation,
    }


def plain_data(data: Any) -> Any:
    """Return ``data`` as JSON can carry it: bytes as hex, other keys and values as text."""
    if isinstance(data, dict):
        return {k if isinstance(k, str) else repr(k): plain_data(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [plain_data(item) for item in data]
    if isinstance(data, bytes | bytearray | memoryview):
        return {"bytes": bytes(data).hex()}
    if data is None or isinstance(data, bool | int | float | str):
        return data
    return repr(data)


def payload_of(record: Record) -> tuple[Any, str | None]:
    """Return (the payload as shown, None), or (None, why it cannot be read)."""
    try:
        return plain_data(record.plain()), None
    except msgspec.DecodeError as exc:
        return None, f"undecodable payload: {exc}"


def handling_shape(handling: Handling) -> dict[str, Any]:
    """Return a handling's model calls, turns and tool calls as plain data."""
    shaped: dict[str, Any] = plain_data(msgspec.to_builtins(handling))
    return shaped


def dead_letter_shape(record: Record) -> dict[str, Any]:
    """Return a dead letter's record with what it says: actor, error, traceback, original."""
    shaped = record_shape(record)
    data, problem = payload_of(record)
    letter = data if isinstance(data, dict) else {}
    envelope = letter.get("envelope")
    shaped.update(
        actor=letter.get("actor", record.topic.removeprefix("_dead.")),
        error_type=letter.get("error_type"),
        error=letter.get("error", problem),
        traceback=letter.get("traceback", ""),
        attempts=letter.get("attempts"),
        original=envelope if isinstance(envelope, dict) else None,
        message=letter.get("message"),
    )
    return shaped


def activity_shape(actors: list[ActorActivity]) -> list[dict[str, Any]]:
    """Return each actor's activity as plain data."""
    shaped: list[dict[str, Any]] = msgspec.to_builtins(actors)
    return shaped


def _totals(totals: ModelTotals) -> dict[str, Any]:
    shaped: dict[str, Any] = msgspec.to_builtins(totals)
    return shaped


def usage_shape(tally: UsageTally) -> dict[str, Any]:
    """Return the usage per actor and model, each actor's series, and the total."""
    return {
        "by_actor": {
            actor: {model: _totals(t) for model, t in sorted(models.items())}
            for actor, models in sorted(tally.by_actor.items())
        },
        "series": {
            actor: [[p.at, p.cost, p.tokens] for p in tally.series(actor)]
            for actor in sorted(tally.by_actor)
        },
        "total_cost": tally.total_cost(),
        "first_at": tally.first_at,
        "last_at": tally.last_at,
    }
