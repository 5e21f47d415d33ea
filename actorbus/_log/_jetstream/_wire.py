"""How an envelope travels on JetStream: a subject, headers and a msgpack payload.

Pure functions, no I/O. The topic becomes the subject ``<prefix>.<topic>``; the
message id goes in ``Nats-Msg-Id`` (the server's dedup key), and the other envelope
fields in ``Ab-*`` headers; the payload is the message encoded once by
`MessageCodec`. NATS trims header values and turns CR/LF into spaces, so a value
that is not plain printable ASCII (or has a ``%``, or edge spaces) is sent
percent-encoded, and an empty string as a lone ``%``: `unescape` undoes both.

Cursor and journal names become KV keys the same way, with ``=`` as the escape
character (KV keys allow only ``[-/_=.A-Za-z0-9]`` and no empty tokens): letters,
digits, ``-`` and ``_`` stay, every other byte of the UTF-8 is ``=XX``.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote, unquote

from ..._codec import MessageCodec
from ..._errors import UndecodableRecord
from ..._message import Envelope, Message, Undecodable
from .._record import Record

__all__ = [
    "ID",
    "MAX_PAYLOAD_SETTING",
    "decode_envelope",
    "decode_record",
    "encode_headers",
    "escape",
    "key_name",
    "name_key",
    "unescape",
]

ID = "Nats-Msg-Id"
MAX_PAYLOAD_SETTING = "the NATS server's max_payload"
"""What `MessageTooLarge` says to raise: a record, headers included, must fit in it."""
TYPE = "Ab-Type"
TIME = "Ab-Time"
SENDER = "Ab-Sender"
CORRELATION = "Ab-Correlation"
REPLY_TO = "Ab-Reply-To"
CAUSATION = "Ab-Causation"

# Kept as they are by quote(): printable ASCII but '%' and the space.
_SAFE = "".join(chr(c) for c in range(33, 127) if chr(c) != "%")
_KEY_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def escape(value: str) -> str:
    """Return ``value`` as a header value NATS passes through unchanged."""
    if value.isascii() and value.isprintable() and "%" not in value and value.strip() == value:
        return value if value else "%"
    return quote(value, safe=_SAFE)


def unescape(value: str) -> str:
    """Undo `escape`."""
    if "%" not in value:
        return value
    return "" if value == "%" else unquote(value)


def encode_headers(env: Envelope, type_tag: str) -> dict[str, str]:
    """Return the headers carrying ``env``'s fields (its id must be set)."""
    headers = {ID: escape(env.id), TYPE: escape(type_tag), TIME: repr(env.timestamp)}
    if env.sender is not None:
        headers[SENDER] = escape(env.sender)
    if env.correlation_id is not None:
        headers[CORRELATION] = escape(env.correlation_id)
    if env.reply_to is not None:
        headers[REPLY_TO] = escape(env.reply_to)
    if env.causation is not None:
        headers[CAUSATION] = escape(env.causation)
    return headers


def decode_envelope(
    seq: int,
    topic: str,
    headers: Mapping[str, str] | None,
    payload: bytes,
    codec: MessageCodec,
    stored_at: float = 0.0,
) -> Envelope:
    """Rebuild the envelope stored at ``seq`` on ``topic``.

    A payload that cannot be decoded here becomes an `Undecodable` message (the
    record itself is untouched). A record not written by actorbus (no type header)
    gets its seq as id and ``stored_at`` (the server's time) as timestamp, as does
    a record whose time header is not a number.
    """
    h = headers or {}

    def field(name: str) -> str | None:
        value = h.get(name)
        return None if value is None else unescape(value)

    tag = field(TYPE)
    if tag is None:
        message: Message = Undecodable(
            type_tag="", error="the record has no Ab-Type header: it was not published by actorbus"
        )
    else:
        try:
            message = codec.decode(tag, payload, seq)
        except UndecodableRecord as exc:
            message = Undecodable(type_tag=tag, error=exc.reason)
    return Envelope(
        field(ID) or f"seq-{seq}",
        topic,
        message,
        _timestamp(h.get(TIME), stored_at),
        field(SENDER),
        field(CORRELATION),
        field(REPLY_TO),
        field(CAUSATION),
        seq,
    )


def decode_record(
    seq: int, topic: str, headers: Mapping[str, str] | None, payload: bytes, stored_at: float
) -> Record:
    """Return the record stored at ``seq`` on ``topic`` as it is, its payload still msgpack.

    For inspection tools, which need no message class: the fields are those
    `decode_envelope` reads, with the same defaults for a record actorbus did not
    write (and an empty type tag).
    """
    h = headers or {}

    def field(name: str) -> str | None:
        value = h.get(name)
        return None if value is None else unescape(value)

    timestamp = h.get(TIME)
    return Record(
        seq,
        field(ID) or f"seq-{seq}",
        topic,
        field(TYPE) or "",
        field(SENDER),
        float(timestamp) if timestamp is not None else stored_at,
        field(CORRELATION),
        field(REPLY_TO),
        field(CAUSATION),
        payload,
    )


def _timestamp(header: str | None, stored_at: float) -> float:
    # A record with no time header, or one that is not a number (not written by
    # actorbus), has the server's time: decoding must not fail on it, or a feed
    # would never acknowledge the record and the server would send it forever.
    if header is not None:
        try:
            return float(header)
        except ValueError:
            pass
    return stored_at


def name_key(name: str) -> str:
    """Return a KV key standing for the cursor or journal name ``name``."""
    if not name:
        return "="
    if all(c in _KEY_SAFE for c in name):
        return name
    return "".join(c if c in _KEY_SAFE else "".join(f"={b:02X}" for b in c.encode()) for c in name)


def key_name(key: str) -> str:
    """Undo `name_key`."""
    if "=" not in key:
        return key
    if key == "=":
        return ""
    out = bytearray()
    i = 0
    while i < len(key):
        if key[i] == "=":
            out.append(int(key[i + 1 : i + 3], 16))
            i += 3
        else:
            out.extend(key[i].encode())
            i += 1
    return out.decode()
