"""What one row of a `SqliteLog` may hold, and telling a refused write from a failing file.

A record is checked in the event loop before the log gives it a seq: its message is
encoded there (once: the writer stores those bytes), and the payload plus the
envelope's text fields (id, topic, type tag, sender, correlation id, reply-to,
causation; UTF-8) must fit in ``max_message_bytes``. That limit is kept well below
what SQLite accepts in one row (``SQLITE_LIMIT_LENGTH``, 1,000,000,000 bytes in
standard builds), so SQLite never refuses a record for its size, and text SQLite
cannot store (a lone surrogate, as ``os.fsdecode`` makes of undecodable bytes) is
refused here too, with no seq consumed.

If SQLite refuses a write anyway, `refused` tells whether it refused what the batch
carried (the file is fine: the log goes on) or the file itself is failing (the disk,
or another writer): see `SqliteLog` for what each means.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from typing import Final

import msgspec

from .._codec import MessageCodec
from .._errors import MessageTooLarge
from .._ids import ID_LENGTH
from .._message import Envelope

__all__ = [
    "DEFAULT_MAX_MESSAGE_BYTES",
    "SETTING",
    "check_room",
    "encode_record",
    "entry_size",
    "refused",
]

DEFAULT_MAX_MESSAGE_BYTES: Final = 16 * 1024 * 1024
"""The default limit (16 MiB): far above what messages between actors and models carry
(a 128k-token context is about half a megabyte of text), far below SQLite's 1 GB."""

SETTING: Final = "SqliteLog(max_message_bytes=...)"
"""What `MessageTooLarge` says to raise."""

_encode = MessageCodec.encode
_tag_sizes: dict[type, int] = {}  # message class -> bytes of its type tag

# What a row of the log takes beyond its values' bytes (the record header, the
# numbers): under 200 bytes; SQLite's limit applies to the whole row.
_ROW_OVERHEAD = 1024

# Errors of a write that say SQLite (or the binding of a value) refused what the
# batch carried, leaving the file as it was: a value too big or of a type SQLite
# cannot bind, text that is not valid UTF-8, an integer over 64 bits.
_REFUSALS = (
    sqlite3.DataError,
    sqlite3.InterfaceError,
    sqlite3.ProgrammingError,
    TypeError,
    ValueError,
    OverflowError,
)


def check_room(max_message_bytes: int) -> None:
    """Check that a record of ``max_message_bytes`` fits in a row of this process's SQLite.

    Asks an in-memory database, so no file is touched.

    Raises:
        ValueError: the limit is under 1, or over SQLite's row limit.
    """
    if max_message_bytes < 1:
        raise ValueError(f"max_message_bytes must be at least 1, got {max_message_bytes}")
    with closing(sqlite3.connect(":memory:")) as conn:
        room = conn.getlimit(sqlite3.SQLITE_LIMIT_LENGTH) - _ROW_OVERHEAD
    if max_message_bytes > room:
        raise ValueError(
            f"max_message_bytes={max_message_bytes:,} is over what SQLite stores in one row "
            f"({room:,} bytes); choose a smaller limit (the default is "
            f"{DEFAULT_MAX_MESSAGE_BYTES:,})"
        )


def encode_record(env: Envelope, limit: int) -> bytes:
    """Return ``env``'s message encoded, once checked that the record fits in ``limit``.

    Raises:
        MessageTooLarge: the payload and the text fields are over ``limit`` bytes.
        TypeError: the message cannot be encoded (a field holds what msgpack cannot).
        ValueError: a text field is not valid Unicode.
    """
    message = env.message
    try:
        payload = _encode(message)
    except (TypeError, ValueError, OverflowError, msgspec.EncodeError) as exc:
        raise TypeError(
            f"a {env.type} message on {env.topic!r} cannot be encoded for the log ({exc}); "
            "give its fields values msgspec encodes (no arbitrary objects, integers of at "
            "most 64 bits, valid Unicode text)"
        ) from exc
    # Every publish comes this way: the text fields are measured together, and
    # ASCII text (nearly always) by its length alone.
    size = _tag_sizes.get(message.__class__)
    if size is None:
        size = _tag_sizes[message.__class__] = _utf8_size(env, env.type)
    texts = (
        env.id + env.topic + (env.sender or "") + (env.correlation_id or "")
        + (env.reply_to or "") + (env.causation or "")
    )  # fmt: skip
    size += len(payload) + (len(texts) if texts.isascii() else _utf8_size(env, texts))
    if not env.id:
        size += ID_LENGTH  # the log generates one
    if size > limit:
        raise MessageTooLarge(env.topic, size, limit, setting=SETTING)
    return payload


def entry_size(key: str, value: bytes) -> int:
    """Return the bytes a journal entry takes against the limit.

    Raises:
        ValueError: ``key`` is not valid Unicode.
    """
    if key.isascii():
        return len(key) + len(value)
    try:
        return len(key.encode()) + len(value)
    except UnicodeEncodeError as exc:
        raise _not_unicode("journal key", key, exc) from None


def refused(exc: Exception) -> bool:
    """Tell whether a failed write was refused for what it carried (the file is fine).

    False means the file is failing: the disk (I/O error, full, read-only, locked),
    damage, or another writer that took a seq this log gave out.
    """
    if isinstance(exc, sqlite3.IntegrityError):
        return exc.sqlite_errorcode != sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
    return isinstance(exc, _REFUSALS)


# The envelope's text fields, as a message names them.
_TEXT_FIELDS = {
    "id": "key",
    "topic": "topic",
    "type": "type tag",
    "sender": "sender",
    "correlation_id": "correlation id",
    "reply_to": "reply-to",
    "causation": "causation",
}


def _utf8_size(env: Envelope, text: str) -> int:
    try:
        return len(text.encode())
    except UnicodeEncodeError:
        pass
    for field, name in _TEXT_FIELDS.items():  # which one is it?
        value = getattr(env, field)
        try:
            if value:
                value.encode()
        except UnicodeEncodeError as exc:
            raise _not_unicode(f"{name} of a message on {env.topic!r}", value, exc) from None
    raise AssertionError("unreachable: one of the fields failed to encode")


def _not_unicode(what: str, text: str, exc: UnicodeEncodeError) -> ValueError:
    shown = text if len(text) <= 60 else text[:57] + "..."
    return ValueError(
        f"the {what}, {shown!r}, cannot be stored in the log: it is not valid Unicode "
        f"({exc.reason} at position {exc.start}); decode such bytes with "
        "errors='replace', or encode them (hex, base64) first; nothing was stored"
    )
