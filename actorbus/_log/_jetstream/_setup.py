"""Opening a `JetStreamLog`: checking its names, and making (or finding) its stream and buckets.

A missing stream is created with file storage, limits retention and the log's
``duplicate_window``; an existing one is used as it is (its owner may have chosen
replicas, limits or placement), provided its subjects cover ``<prefix>.>``. The
cursors and journal are KV buckets named after the stream. Cursors are loaded
once, on open, from the last message of each key.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ..._errors import LogUnavailable
from ._pull import pull
from ._wire import key_name

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.js import JetStreamContext
    from nats.js.kv import KeyValue

__all__ = [
    "check_names",
    "ensure_stream",
    "load_bucket",
    "load_cursors",
    "open_bucket",
    "setup_problem",
]

_NAME = re.compile(r"[A-Za-z0-9_-]+\Z")
_TOKEN = re.compile(r"[^\s.*>]+\Z")


def check_names(stream: str, subject_prefix: str) -> None:
    """Refuse a stream name or subject prefix NATS would not take.

    Raises:
        ValueError: which one is wrong, and why.
    """
    if not _NAME.match(stream):
        raise ValueError(f"stream must be letters, digits, '-' and '_', not {stream!r}")
    if not all(_TOKEN.match(token) for token in subject_prefix.split(".")):
        raise ValueError(
            "subject_prefix must be dot-separated tokens without spaces or wildcards, "
            f"not {subject_prefix!r}"
        )


async def ensure_stream(
    js: JetStreamContext,
    stream: str,
    prefix: str,
    *,
    replicas: int,
    duplicate_window: float,
    shown_as: str,
) -> int:
    """Create ``stream`` if missing; return its last seq.

    Raises:
        LogUnavailable: it exists, and its subjects do not cover ``<prefix>.>``.
    """
    from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
    from nats.js.errors import NotFoundError

    subject = f"{prefix}.>"
    try:
        info = await js.stream_info(stream)
    except NotFoundError:
        config = StreamConfig(
            name=stream,
            subjects=[subject],
            retention=RetentionPolicy.LIMITS,
            discard=DiscardPolicy.OLD,
            storage=StorageType.FILE,
            num_replicas=replicas,
            duplicate_window=duplicate_window,
            allow_direct=True,
        )
        info = await js.add_stream(config)
    subjects = info.config.subjects or []
    if subject not in subjects and ">" not in subjects:
        raise LogUnavailable(
            shown_as,
            f"the stream exists with subjects {subjects}, which do not include "
            f"{subject!r}; pick another stream or subject_prefix",
        )
    return int(info.state.last_seq)


async def open_bucket(js: JetStreamContext, bucket: str, replicas: int) -> KeyValue:
    """Return the KV bucket ``bucket``, created (one value per key, on file) if missing."""
    from nats.js.api import KeyValueConfig, StorageType
    from nats.js.errors import BucketNotFoundError

    try:
        return await js.key_value(bucket)
    except BucketNotFoundError:
        config = KeyValueConfig(
            bucket=bucket, history=1, storage=StorageType.FILE, replicas=replicas
        )
        return await js.create_key_value(config)


async def load_cursors(client: Client, js: JetStreamContext, bucket: str) -> dict[str, int]:
    """Return every cursor in the KV bucket ``bucket``, by consumer name."""
    entries = await load_bucket(client, js, bucket)
    return {name: int(value) for name, value in entries.items()}


async def load_bucket(client: Client, js: JetStreamContext, bucket: str) -> dict[str, bytes]:
    """Return every entry in the KV bucket ``bucket`` (its newest value), by name."""
    pre = f"$KV.{bucket}."  # a bucket is the stream KV_<bucket>, one subject per key
    found = await pull(client, js, f"KV_{bucket}", f"{pre}>", last_per_subject=True)
    values: dict[str, bytes] = {}
    for msg in found:
        if msg.headers and msg.headers.get("KV-Operation") in ("DEL", "PURGE"):
            continue
        values[key_name(msg.subject[len(pre) :])] = msg.data
    return values


def setup_problem(exc: Exception) -> str:
    """Say what went wrong while opening, and what to do."""
    from nats.errors import NoRespondersError
    from nats.js.errors import ServiceUnavailableError

    if isinstance(exc, NoRespondersError | ServiceUnavailableError):
        return "the server has no JetStream: start it with -js, or enable jetstream in its config"
    return f"setting up the stream and buckets failed ({type(exc).__name__}: {exc})"
