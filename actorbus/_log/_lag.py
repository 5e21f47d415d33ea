"""How far each consumer of a log is behind, judged from the log alone.

A consumer is behind by the records after its cursor on the topics it is seen
handling (see `activity`, which judges it, with what else each actor did, in
the same pass). Counting every record after the cursor instead would count, for
an actor that finished its work, every later record on topics it never
subscribed to.
"""

from __future__ import annotations

from ._activity import activity
from ._reading import LogReader

__all__ = ["LAG_NOTE", "lags"]

LAG_NOTE = (
    "(lag: records after the cursor on the topics the consumer is seen handling: "
    "its cursor's, and those its own messages answer)"
)
"""What the lag `lags` gives counts, as ``actorbus log stats`` says it."""


async def lags(reader: LogReader) -> dict[str, int]:
    """Return each consumer's lag (see `ActorActivity.lag`), by name, in one pass over the log."""
    return {each.name: each.lag for each in await activity(reader) if each.cursor is not None}
