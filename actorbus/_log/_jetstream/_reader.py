"""`Reader`: records read back from the stream, decoded into envelopes.

Reads go through `pull` (a short-lived consumer). A record the process cannot
decode comes back as an `Undecodable` message; the stored record is untouched.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, final

from ..._codec import MessageCodec
from ..._errors import LogTruncated, LogUnavailable
from ..._message import Envelope
from ._pull import pull
from ._wire import decode_envelope

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.aio.msg import Msg
    from nats.js import JetStreamContext

__all__ = ["Reader"]


@final
class Reader:
    """Reads the records of one log's stream."""

    __slots__ = ("_client", "_codec", "_js", "_prefix", "_shown_as", "_stream")

    def __init__(
        self, client: Client, js: JetStreamContext, stream: str, prefix: str, shown_as: str
    ) -> None:
        self._client = client
        self._js = js
        self._stream = stream
        self._prefix = prefix
        self._shown_as = shown_as
        self._codec = MessageCodec()

    async def read(self, from_seq: int, limit: int) -> list[Envelope]:
        """See `EventLog.read`.

        Raises:
            LogTruncated: the stream no longer holds ``from_seq``.
            LogUnavailable: the server did not answer.
        """
        from_seq = max(from_seq, 1)
        try:
            info = await self._js.stream_info(self._stream)
        except Exception as exc:
            raise self._unavailable("reading the stream's state", exc) from exc
        state = info.state
        if limit < 1 or not state.messages or from_seq > state.last_seq:
            return []
        if from_seq < state.first_seq:
            raise LogTruncated(from_seq, state.first_seq)
        return await self.read_range(from_seq, min(limit, state.last_seq - from_seq + 1))

    async def read_range(self, from_seq: int, count: int) -> list[Envelope]:
        """Return the log's records among the ``count`` seqs from ``from_seq`` on.

        Raises:
            LogUnavailable: the server did not answer.
        """
        return await self._pull(f"{self._prefix}.>", start_seq=from_seq, limit=count)

    async def read_topic_prefix(self, prefix: str) -> list[Envelope]:
        """Return every record whose topic starts with ``prefix``, in seq order.

        The server filters by subject where the prefix ends a token, so only
        matching records travel.

        Raises:
            LogUnavailable: the server did not answer.
        """
        head, _, rest = prefix.rpartition(".")
        subject = f"{self._prefix}.{head}.>" if head else f"{self._prefix}.>"
        found = await self._pull(subject)
        return [env for env in found if env.topic.startswith(prefix)] if rest else found

    async def _pull(self, subject: str, **options: Any) -> list[Envelope]:
        try:
            msgs = await pull(self._client, self._js, self._stream, subject, **options)
        except Exception as exc:
            raise self._unavailable("reading records", exc) from exc
        return [self._decode(msg) for msg in msgs]

    def _decode(self, msg: Msg) -> Envelope:
        meta = msg.metadata
        return decode_envelope(
            meta.sequence.stream,
            msg.subject[len(self._prefix) + 1 :],
            msg.headers,
            msg.data,
            self._codec,
            meta.timestamp.timestamp(),
        )

    def _unavailable(self, doing: str, exc: Exception) -> LogUnavailable:
        return LogUnavailable(self._shown_as, f"{doing} failed ({type(exc).__name__}: {exc})")
