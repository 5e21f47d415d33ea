"""`Record`: one stored record as a log reader hands it out, its payload still encoded.

Payloads stay msgpack (what a durable log stores), so reading a log needs no
message class. `Record.plain` decodes one to plain data with every
secret-looking value replaced by ``"***"`` (`redact`), which is how inspection
tools show it.
"""

from __future__ import annotations

from typing import Any, final

import msgspec

__all__ = ["REDACTED", "LogSummary", "Record", "plain_payload", "redact"]

REDACTED = "***"
# Keys whose values are never shown, compared lower-cased with '-' read as '_':
# these, and any key ending in one of the suffixes (``access_token``, ``x_api_key``).
_SECRET_KEYS = frozenset(("api_key", "apikey", "authorization", "token", "secret", "password"))
_SECRET_SUFFIXES = ("_key", "_token", "_secret", "_password")


@final
class Record(msgspec.Struct, frozen=True, gc=False):
    """One stored record, as the log holds it (the payload still encoded).

    Field meanings are those of `Envelope`; ``type`` is the message's type tag and
    ``payload`` its msgpack encoding.

    Version added: 0.1
    """

    seq: int
    id: str
    topic: str
    type: str
    sender: str | None
    timestamp: float
    correlation_id: str | None
    reply_to: str | None
    causation: str | None
    payload: bytes

    def plain(self) -> Any:
        """Return the payload decoded to plain data (dicts, lists, str...), secrets redacted.

        Needs no message class: the msgpack is read as it is. See `redact` for
        which values are replaced by ``"***"``.

        Raises:
            msgspec.DecodeError: the payload is not valid msgpack.
        """
        return plain_payload(self.payload)


@final
class LogSummary(msgspec.Struct, frozen=True):
    """How many records a log holds, and its first and last.

    Version added: 0.1
    """

    count: int
    """The number of records."""
    first: Record | None
    """The oldest record (None for an empty log)."""
    last: Record | None
    """The newest record (None for an empty log)."""


def redact(data: Any) -> Any:
    """Return ``data`` with the value of every secret-looking key replaced by ``"***"``.

    Looks into nested dicts and lists. A key looks secret if, lower-cased and with
    ``-`` read as ``_``, it is ``api_key``, ``apikey``, ``authorization``, ``token``,
    ``secret`` or ``password``, or ends in ``_key``, ``_token``, ``_secret`` or
    ``_password``. A bare ``key`` is not secret: `StateUpdate.key` names a state key.
    """
    if isinstance(data, dict):
        return {k: REDACTED if _secret(k) else redact(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [redact(item) for item in data]
    return data


def _secret(key: object) -> bool:
    if not isinstance(key, str):
        return False
    name = key.lower().replace("-", "_")
    return name in _SECRET_KEYS or name.endswith(_SECRET_SUFFIXES)


def plain_payload(payload: bytes) -> Any:
    """Decode a stored payload to plain data (dicts, lists, str...), secrets redacted.

    Needs no message class: the msgpack is read as it is.

    Raises:
        msgspec.DecodeError: the payload is not valid msgpack.
    """
    return redact(msgspec.msgpack.decode(payload))
