"""Connecting to NATS: the optional import, credentials, redaction, and the deadline.

nats-py is imported only when a `JetStreamLog` is made, so actorbus imports without
the ``nats`` extra. Credentials (user and password or a token in a URL, a creds
file, an NKey seed, a TLS context) go to nats-py and nowhere else: URLs are shown
with their user part replaced by ``***``, and nats-py's own error callback (which
logs whole exceptions) is replaced by one that logs the error's type and text
under ``actorbus.jetstream``.

nats-py retries a first connection forever when reconnects are unlimited, so
`connect` bounds it with ``connect_timeout`` and reports the last error.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import ssl
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from ..._errors import LogUnavailable

if TYPE_CHECKING:
    from nats.aio.client import Client

__all__ = ["Credentials", "connect", "import_nats", "redact_url"]

logger = logging.getLogger("actorbus.jetstream")


def import_nats() -> ModuleType:
    """Return the ``nats`` package (nats-py).

    Raises:
        ImportError: it is not installed; the message says how to install it.
    """
    try:
        import nats
        import nats.js.errors
    except ImportError as exc:
        raise ImportError(
            "JetStreamLog needs nats-py, the NATS client, which is not installed: "
            "pip install 'actorbus[nats]'"
        ) from exc
    return nats


def redact_url(url: str) -> str:
    """Return ``url`` with any user, password or token replaced by ``***``.

    A comma-separated list of URLs (as other NATS clients take) is redacted URL by URL.
    """
    if "," in url:
        return ",".join(redact_url(part) for part in url.split(","))
    parts = urlsplit(url if "://" in url else f"nats://{url}")
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"***@{host}"))


class Credentials:
    """How to authenticate: kept out of every repr, log line and error message."""

    __slots__ = ("creds_file", "nkeys_seed", "tls")

    def __init__(
        self,
        creds_file: str | Path | None,
        tls: ssl.SSLContext | None,
        nkeys_seed: str | Path | None,
    ) -> None:
        self.creds_file = creds_file
        self.tls = tls
        self.nkeys_seed = nkeys_seed

    def __repr__(self) -> str:
        return "Credentials(***)"

    def check(self) -> None:
        """Fail now, not at connect, if a creds file or seed is given without ``nkeys``.

        Raises:
            ImportError: the ``nkeys`` package (which signs with them) is missing.
        """
        if self.creds_file is None and self.nkeys_seed is None:
            return
        if importlib.util.find_spec("nkeys") is None:
            raise ImportError(
                "a creds file or NKey seed needs the nkeys package, which is not "
                "installed: pip install nkeys"
            )

    def options(self) -> dict[str, Any]:
        """Return nats-py ``connect`` keyword arguments."""
        found: dict[str, Any] = {}
        if self.creds_file is not None:
            found["user_credentials"] = str(self.creds_file)
        if self.tls is not None:
            found["tls"] = self.tls
        seed = self.nkeys_seed
        if isinstance(seed, str) and seed.startswith("SU") and not Path(seed).exists():
            found["nkeys_seed_str"] = seed  # the seed itself
        elif seed is not None:
            found["nkeys_seed"] = str(seed)  # a file holding it
        return found


async def connect(
    servers: Sequence[str],
    credentials: Credentials,
    timeout: float,
    shown_as: str,
    on_disconnect: Callable[[], Awaitable[None]],
    on_reconnect: Callable[[], Awaitable[None]],
) -> Client:
    """Connect to one of ``servers`` within ``timeout`` seconds; reconnect forever after.

    Raises:
        LogUnavailable: no server answered in time (the last error is named).
    """
    nats = import_nats()
    last: list[BaseException] = []
    connecting = True

    refusal: list[BaseException] = []  # the first refusal, kept: later errors follow it

    async def on_error(exc: Exception) -> None:
        last[:] = [exc]
        logger.warning("%s: NATS error: %s: %s", shown_as, type(exc).__name__, exc)
        if connecting and _refused(exc):
            refusal[:] = refusal or [exc]
            raise _Refused  # out of nats-py's first-connect loop, which would retry forever

    client: Client = nats.NATS()
    try:
        async with asyncio.timeout(timeout):
            await client.connect(
                servers=list(servers),
                name="actorbus",
                connect_timeout=max(1, round(timeout)),
                reconnect_time_wait=0.25,  # type: ignore[arg-type]  # seconds, float is fine
                max_reconnect_attempts=-1,
                error_cb=on_error,
                disconnected_cb=on_disconnect,
                reconnected_cb=on_reconnect,
                **credentials.options(),
            )
    except _Refused:
        await _abandon(client)
        raise LogUnavailable(
            shown_as,
            f"the server refused the credentials ({(refusal or last)[0]}); check the user "
            "and password or token in the URL, the creds file or the NKey seed",
        ) from None
    except TimeoutError:
        await _abandon(client)
        cause = f" (last error: {type(last[0]).__name__}: {last[0]})" if last else ""
        raise LogUnavailable(
            shown_as,
            f"no NATS server answered within {timeout:g}s{cause}; check the URL, that the "
            "server runs with JetStream enabled, and the credentials",
        ) from None
    except BaseException:
        await _abandon(client)
        raise
    connecting = False
    return client


class _Refused(Exception):
    """The server refused the credentials while connecting (raised through nats-py)."""


def _refused(exc: Exception) -> bool:
    from nats.errors import AuthorizationError

    return isinstance(exc, AuthorizationError) or "Authorization Violation" in str(exc)


async def _abandon(client: Client) -> None:
    try:
        await client.close()
    except Exception:  # a half-made connection: nothing more to release
        logger.debug("closing an abandoned NATS connection failed", exc_info=True)
