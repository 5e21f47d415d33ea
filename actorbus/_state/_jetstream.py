"""`bus.state` in a JetStream KV bucket, ``<stream>_state``, shared by every bus on the stream.

`shared_storage` gives a `Bus` on a `JetStreamLog` this storage instead of a local
one: a `StateBucket`, registered with the log as its ``state`` companion, so the
log opens the bucket with itself (and closes it) although it sits below this
layer (see ``_log._jetstream._companion``). Entries are `Stored` tuples
``(msgpack of the value, revision, updated_by, updated_at)``.

- A key's revision is the KV entry's revision (the bucket stream's sequence): it
  grows with every change of the key, but not one by one, since every key of the
  bucket shares the counter. A value that goes A -> B -> A has three revisions.
- create is a KV create (refused if the key exists; a deleted key can be created
  again), cas a KV update with ``last=revision``, put a plain put, and delete a
  delete marker, itself checked against the key's last revision. The server
  checks the revision, so changes from several processes cannot both pass.
- Each value is stored with who changed it and when (a msgpack array), so any
  process reads them back.
- `keys` never blocks: it answers from a set of keys kept up to date by a watch
  of the bucket (loaded on open, so a reopened bus has them), so a key another
  process just made or deleted may show a moment late. The bus's own changes
  show at once.

Errors from the server become `LogUnavailable`; a lost compare becomes
`StateConflict` naming the key's actual revision (read after the refusal).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, final

import anyio
import msgspec

from .._errors import LogUnavailable, MessageTooLarge, StateConflict
from .._log import EventLog, JetStreamLog
from .._log._jetstream._wire import MAX_PAYLOAD_SETTING, key_name, name_key
from ._storage import StateStorage, Stored, Undo

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.js import JetStreamContext
    from nats.js.kv import KeyValue

__all__ = ["StateBucket", "shared_storage"]

logger = logging.getLogger("actorbus.jetstream")

_LOAD_TIMEOUT = 30.0  # seconds to load the keys on open

_WRONG_LAST = (10071, 10164)  # JetStream's "wrong last sequence" error codes


class _Record(msgspec.Struct, array_like=True, frozen=True):
    """What a KV entry holds: the value's msgpack, who changed it, and when."""

    value: bytes
    by: str | None
    at: float


_encode = msgspec.msgpack.Encoder().encode
_decode = msgspec.msgpack.Decoder(_Record).decode


def kv_key(key: str) -> str:
    """Return the KV key of the state key ``key`` (its tokens escaped one by one)."""
    return ".".join(name_key(token) for token in key.split("."))


def state_key(kv_key: str) -> str:
    """Undo `kv_key`."""
    return ".".join(key_name(token) for token in kv_key.split("."))


def shared_storage(log: EventLog) -> StateStorage | None:
    """Return the storage ``log`` keeps a shared state in, or None for a local state.

    A `JetStreamLog` keeps it in its KV bucket ``<stream>_state`` (one `StateBucket`
    per log, whoever asks); call it before the log opens.
    """
    if isinstance(log, JetStreamLog):
        return log.companion("state", StateBucket)
    return None


@final
class StateBucket:
    """The shared state of every bus on one stream, in its KV bucket (see the module)."""

    __slots__ = ("_client", "_js", "_kv", "_live", "_revisions", "_shown_as", "_subject", "_watch")

    def __init__(self, shown_as: str) -> None:
        self._shown_as = shown_as
        self._client: Client | None = None
        self._js: JetStreamContext | None = None
        self._kv: KeyValue | None = None
        self._subject = ""
        self._watch: KeyValue.KeyWatcher | None = None
        self._revisions: dict[str, int] = {}  # the newest revision seen of each key
        self._live: set[str] = set()  # the keys that exist, as far as seen

    def __repr__(self) -> str:
        return f"StateBucket({self._shown_as}, keys={len(self._live)})"

    # -- opening and closing ---------------------------------------------------------

    async def open(self, client: Client, js: JetStreamContext, kv: KeyValue, bucket: str) -> None:
        """Use ``kv``: watch it, and load its keys (returns once they are loaded).

        Raises:
            Exception: from nats-py; the log turns it into `LogUnavailable`.
        """
        self._revisions.clear()
        self._live.clear()
        watch = await kv.watchall(meta_only=True)
        try:
            with anyio.fail_after(_LOAD_TIMEOUT):
                async for entry in watch:  # the entries there are now, then None
                    if entry is None:
                        break
                    self._see(entry.key, entry.revision or 0, entry.operation is not None)
        except BaseException:
            await _stop(watch)
            raise
        self._client, self._js, self._kv, self._watch = client, js, kv, watch
        self._subject = f"$KV.{bucket}."

    async def follow(self) -> None:
        """Keep the set of keys up to date until cancelled (a task of the open log)."""
        watch = self._watch
        if watch is None:
            return
        async for entry in watch:
            if entry is not None:
                self._see(entry.key, entry.revision or 0, entry.operation is not None)

    async def close(self) -> None:
        """Stop watching; later calls raise `LogUnavailable`."""
        watch, self._watch = self._watch, None
        self._client = self._js = self._kv = None
        if watch is not None:
            await _stop(watch)

    # -- the storage protocol --------------------------------------------------------

    def keys(self, prefix: str) -> list[str]:
        """Return the keys that exist (as last seen) and start with ``prefix``, sorted."""
        return sorted(k for k in self._live if k.startswith(prefix))

    async def get(self, key: str) -> Stored | None:
        """Return ``key``'s entry from the server, or None if it does not exist.

        Raises:
            LogUnavailable: the server did not answer, or the entry was not written
                by actorbus.
        """
        kv = self._bound()
        found = await self._read(kv, key)
        if found is None:
            return None
        record, revision = found
        self._see(kv_key(key), revision, False)
        return record.value, revision, record.by, record.at

    async def write(
        self, key: str, raw: bytes | None, expected: int | None, by: str | None, at: float
    ) -> tuple[int, Undo | None]:
        """Set ``key`` to ``raw`` (None: delete) if its revision is ``expected`` (None: any).

        Returns the new revision, and no undo: others may have read the change.

        Raises:
            StateConflict: the key's revision is another.
            MessageTooLarge: the value is over the server's max_payload.
            LogUnavailable: the server did not answer (the change may be stored).
        """
        kv = self._bound()
        from nats.js.errors import APIError, KeyWrongLastSequenceError

        name = kv_key(key)
        try:
            if raw is None:
                revision = await self._delete(name, expected)
            else:
                revision = await self._put(kv, key, name, _encode(_Record(raw, by, at)), expected)
        except (StateConflict, MessageTooLarge):
            raise
        except KeyWrongLastSequenceError:
            raise StateConflict(key, expected, await self._actual(kv, key)) from None
        except APIError as exc:
            if exc.err_code in _WRONG_LAST:
                raise StateConflict(key, expected, await self._actual(kv, key)) from None
            raise self._unavailable(f"changing state key {key!r}", exc) from exc
        except Exception as exc:
            raise self._unavailable(f"changing state key {key!r}", exc) from exc
        self._see(name, revision, raw is None)
        return revision, None

    # -- steps -----------------------------------------------------------------------

    async def _put(
        self, kv: KeyValue, key: str, name: str, data: bytes, expected: int | None
    ) -> int:
        client = self._client
        limit = 0 if client is None else client.max_payload
        if limit and len(data) > limit:
            raise MessageTooLarge(f"_state.{key}", len(data), limit, setting=MAX_PAYLOAD_SETTING)
        if expected is None:
            return await kv.put(name, data)
        if expected == 0:
            return await kv.create(name, data)  # a deleted key is created again
        return await kv.update(name, data, last=expected)

    async def _delete(self, name: str, expected: int | None) -> int:
        # kv.delete does not return the marker's revision: publish the marker here.
        js = self._js
        assert js is not None
        headers = {"KV-Operation": "DEL"}
        if expected:
            headers["Nats-Expected-Last-Subject-Sequence"] = str(expected)
        ack = await js.publish(self._subject + name, b"", headers=headers)
        return int(ack.seq)

    async def _read(self, kv: KeyValue, key: str) -> tuple[_Record, int] | None:
        from nats.js.errors import KeyNotFoundError

        try:
            entry = await kv.get(kv_key(key))
        except KeyNotFoundError:  # KeyDeletedError is one too
            return None
        except Exception as exc:
            raise self._unavailable(f"reading state key {key!r}", exc) from exc
        try:
            return _decode(entry.value or b""), int(entry.revision or 0)
        except msgspec.DecodeError:
            raise LogUnavailable(
                self._shown_as,
                f"state key {key!r} holds a value that actorbus did not write; change it "
                "only through bus.state",
            ) from None

    async def _actual(self, kv: KeyValue, key: str) -> int:
        found = await self._read(kv, key)
        return 0 if found is None else found[1]

    def _see(self, name: str, revision: int, deleted: bool) -> None:
        if revision <= self._revisions.get(name, 0):
            return  # older than what this bucket saw already (a watch running behind)
        self._revisions[name] = revision
        key = state_key(name)
        if deleted:
            self._live.discard(key)
        else:
            self._live.add(key)

    def _bound(self) -> KeyValue:
        kv = self._kv
        if kv is None:
            raise LogUnavailable(self._shown_as, "the log is not open")
        return kv

    def _unavailable(self, doing: str, exc: Exception) -> LogUnavailable:
        return LogUnavailable(self._shown_as, f"{doing} failed ({type(exc).__name__}: {exc})")


async def _stop(watch: Any) -> None:
    try:
        await watch.stop()
    except Exception:  # the connection may be gone already
        logger.debug("stopping the state watch failed", exc_info=True)
