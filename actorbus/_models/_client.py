"""One provider's HTTP client: a pooled connection, its limits, and the retry loop.

Each attempt takes the provider's limits (tokens, then a request, then an
in-flight slot), sends the request, and sorts the answer: 200 is decoded; 401 and
403 raise `AuthenticationError` at once; 408, 409, 429, 5xx, timeouts and dropped
connections are retried after ``Retry-After`` (or ``retry-after-ms``) when the
server gives one, else after exponential backoff with full jitter, within
``max_attempts`` and the call's ``deadline``; 404 gives the model up (fallbacks
follow); other statuses raise `ModelResponseError`. Every attempt is logged on
``actorbus.models`` and counted in the provider's statistics, and each request
sent is reported to the `Hooks` (per-actor request counts); each retry, and each
wait on a limit, is reported there as a `ModelEvent` as it starts.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Awaitable, Callable
from typing import Literal, Protocol, TypeVar, final

import anyio
import httpx
import msgspec

from .._backoff import backoff_delay
from .._errors import AuthenticationError, ModelResponseError, ModelsConfigError
from ._chat import Usage
from ._config import Provider
from ._echo import EchoTransport
from ._events import ModelEvent
from ._lanes import LANE_DEPTH, Lanes
from ._limits import ProviderLimits
from ._retry import is_retryable_error, is_retryable_status, retry_after
from ._secret import Secret

__all__ = ["GiveUp", "Hooks", "ProviderClient", "ProviderCounters", "ProviderStatistics"]

T = TypeVar("T")
log = logging.getLogger("actorbus.models")


class ProviderStatistics(msgspec.Struct, frozen=True, kw_only=True):
    """Counts for one provider since the bus opened: a frozen snapshot.

    Attributes:
        requests: requests sent (every attempt).
        succeeded: requests answered with a completion.
        retried: attempts that failed and were tried again.
        failed: attempts that failed for good (no retry left, or not retryable).
        rate_limited: 429 answers (each also counts in ``retried`` or ``failed``).
        in_flight: requests being answered now.
        prompt_tokens: prompt tokens of the completions it gave.
        completion_tokens: completion tokens of the completions it gave.
        cost: dollars those completions cost, from the price table.

    Version added: 0.1
    """

    requests: int = 0
    succeeded: int = 0
    retried: int = 0
    failed: int = 0
    rate_limited: int = 0
    in_flight: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0


@final
class ProviderCounters:
    """The live counts behind `ProviderStatistics` (internal, mutable)."""

    __slots__ = tuple(ProviderStatistics.__struct_fields__)

    def __init__(self) -> None:
        for name in self.__slots__:
            setattr(self, name, 0)
        self.cost = 0.0

    requests: int
    succeeded: int
    retried: int
    failed: int
    rate_limited: int
    in_flight: int
    prompt_tokens: int
    completion_tokens: int
    cost: float

    def snapshot(self) -> ProviderStatistics:
        """Return the counts now, frozen."""
        return ProviderStatistics(**{name: getattr(self, name) for name in self.__slots__})


class Hooks(Protocol):
    """Who hears of a client's requests as they happen (internal: `Models`)."""

    def sent(self, actor: str | None, model: str) -> None:
        """Count a request sent to ``model`` for ``actor``."""
        ...

    def event(self, event: ModelEvent) -> None:
        """Report a retry, or a wait on a limit, as it starts."""
        ...


class GiveUp(Exception):
    """This model is exhausted on its provider: try the fallbacks (internal).

    ``late`` says the call's deadline was what ended it.
    """

    def __init__(self, attempts: int, last_error: str, *, late: bool = False) -> None:
        self.attempts = attempts
        self.last_error = last_error
        self.late = late
        super().__init__(last_error)


@final
class ProviderClient:
    """Calls one provider; shared by every actor of a bus."""

    __slots__ = ("_hooks", "_lanes", "_limits", "provider", "secret", "stats")

    def __init__(
        self,
        provider: Provider,
        transport: httpx.AsyncBaseTransport | None,
        stats: ProviderCounters,
        hooks: Hooks,
    ) -> None:
        self.provider = provider
        self._hooks = hooks
        self.secret = Secret(_read_key(provider))
        key = self.secret.key
        headers = {"authorization": f"Bearer {key}"} if key else {}
        if provider.offline:
            transport = transport or EchoTransport()
        base_url = "http://echo.invalid/v1" if provider.offline else provider.base_url
        timeout = httpx.Timeout(provider.timeout, connect=provider.connect_timeout, pool=None)
        # One TLS context for all lanes: httpx builds (and loads CA certificates
        # into) a new one per client otherwise, some 20 ms each, in the event loop.
        tls = httpx.create_ssl_context()
        self._lanes = Lanes(
            lambda: httpx.AsyncClient(
                base_url=base_url,
                headers=headers,
                timeout=timeout,
                verify=tls,
                limits=httpx.Limits(max_connections=None, max_keepalive_connections=LANE_DEPTH * 2),
                transport=transport,
                follow_redirects=False,
            )
        )
        self._limits = ProviderLimits(
            provider.requests_per_minute, provider.tokens_per_minute, provider.max_concurrent
        )
        self.stats = stats

    def __repr__(self) -> str:
        return f"ProviderClient({self.provider.name!r}, {self.provider.base_url!r})"

    async def aclose(self) -> None:
        """Close the pooled connections."""
        await self._lanes.aclose()

    async def correct_tokens(self, estimated: int, usage: Usage) -> None:
        """Settle the tokens-per-minute limit with a call's real usage."""
        await self._limits.correct(estimated, usage.total_tokens)

    async def attempts(
        self,
        model: str,
        body: bytes,
        tokens: int,
        receive: Callable[[httpx.Response], Awaitable[T]],
        deadline: float,
        keep_open: bool = False,
        actor: str | None = None,
    ) -> tuple[T, int, float]:
        """Send ``body`` until an attempt succeeds: (``receive``'s result, attempts, latency).

        ``receive`` turns a 200 answer into the result; it runs inside the attempt,
        so a body cut short is retried like any dropped connection. With
        ``keep_open`` the answer is left open for the caller (streams). Waiting for
        the limits, each attempt and each pause between attempts all end by
        ``deadline`` (a `time.monotonic` time). ``actor`` is whose call it is, for
        the hooks.

        Raises:
            AuthenticationError: 401 or 403.
            ModelResponseError: an answer that is not a completion, or a refused request.
            GiveUp: attempts or deadline exhausted, or 404: try the fallbacks.
        """
        provider, stats = self.provider, self.stats
        attempt, last = 0, "no attempt made"
        while True:
            attempt += 1
            await self._wait_for_limits(model, tokens, deadline, attempt, last, actor)
            stats.requests += 1
            stats.in_flight += 1
            self._hooks.sent(actor, model)
            started = time.monotonic()
            delay: float | None = None
            try:
                with anyio.move_on_after(max(deadline - started, 0.0)) as scope:
                    result = await self._attempt(model, body, receive, keep_open)
                if scope.cancelled_caught:
                    raise httpx.ReadTimeout("the call's deadline passed during the request")
            except httpx.HTTPError as exc:
                if not is_retryable_error(exc):
                    stats.failed += 1
                    raise GiveUp(attempt, f"{type(exc).__name__}: {exc}") from None
                last = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                reason = type(exc).__name__
            except _Status as answer:
                if answer.status == 429:
                    stats.rate_limited += 1
                last, delay = f"HTTP {answer.status}", answer.retry_after
                reason = last
            except GiveUp as exc:
                stats.failed += 1
                raise GiveUp(attempt, exc.last_error) from None
            except BaseException:
                stats.failed += 1
                raise
            else:
                latency = time.monotonic() - started
                stats.succeeded += 1
                log.debug(
                    "%s %s attempt %d: ok in %.3fs", provider.name, model, attempt, latency,
                    extra={"provider": provider.name, "model": model, "attempt": attempt},
                )  # fmt: skip
                return result, attempt, latency
            finally:
                stats.in_flight -= 1
                self._limits.release()
            # A retryable failure: wait, within the attempts and the deadline.
            if delay is None:
                delay = backoff_delay(attempt, provider.retry_base, provider.retry_cap)
            self._retry_or_give_up(model, attempt, last, reason, delay, deadline, actor)
            await anyio.sleep(delay)

    async def _wait_for_limits(
        self, model: str, tokens: int, deadline: float, attempt: int, last: str, actor: str | None
    ) -> None:
        """Take the limits for one request, saying so first if they make it wait.

        Raises:
            GiveUp: the deadline passed while waiting (``late``).
        """
        holding = self._limits.holding(tokens)
        if holding is not None:
            self._event("wait", model, attempt, holding, None, actor)
            log.info(
                "%s %s attempt %d: waiting for the %s limit", self.provider.name, model, attempt,
                holding, extra={"provider": self.provider.name, "model": model, "actor": actor},
            )  # fmt: skip
        with anyio.move_on_after(max(deadline - time.monotonic(), 0.0)) as waited:
            await self._limits.acquire(tokens)
        if waited.cancelled_caught:
            self.stats.failed += 1
            raise GiveUp(attempt - 1, f"waiting for the rate limits ({last})", late=True)

    def _retry_or_give_up(
        self,
        model: str,
        attempt: int,
        last: str,
        reason: str,
        delay: float,
        deadline: float,
        actor: str | None,
    ) -> None:
        """Count and report a retry that will follow, or raise `GiveUp` if none can."""
        provider, stats = self.provider, self.stats
        extra = {"provider": provider.name, "model": model, "attempt": attempt, "actor": actor}
        if attempt >= provider.max_attempts or time.monotonic() + delay >= deadline:
            stats.failed += 1
            log.warning(
                "%s %s attempt %d: %s; giving up", provider.name, model, attempt, last, extra=extra
            )
            raise GiveUp(attempt, last, late=attempt < provider.max_attempts)
        stats.retried += 1
        self._event("retry", model, attempt, reason, delay, actor)
        log.warning(
            "%s %s attempt %d: %s; retrying in %.2fs", provider.name, model, attempt, last, delay,
            extra=extra,
        )  # fmt: skip

    def _event(
        self,
        kind: Literal["retry", "wait"],
        model: str,
        attempt: int,
        reason: str,
        delay: float | None,
        actor: str | None,
    ) -> None:
        provider = self.provider
        event = ModelEvent(
            kind=kind, actor=actor, model=model, provider=provider.name, attempt=attempt,
            max_attempts=provider.max_attempts, reason=reason, delay=delay,
        )  # fmt: skip
        self._hooks.event(event)

    async def _attempt(
        self,
        model: str,
        body: bytes,
        receive: Callable[[httpx.Response], Awaitable[T]],
        keep_open: bool,
    ) -> T:
        lanes = self._lanes
        lane = lanes.take()
        try:
            http = lanes.client(lane)
            request = http.build_request(
                "POST",
                "chat/completions",
                content=body,
                headers={"content-type": "application/json"},
            )
            response = await http.send(request, stream=True)
            close = True
            try:
                status = response.status_code
                if status == 200:
                    result = await receive(response)
                    close = not keep_open  # a stream is closed by its reader
                    return result
                error = await self.read(response, model)
            finally:
                if close:
                    await response.aclose()
        finally:
            lanes.give_back(lane)
        raise self._refusal(model, status, response.headers, error)

    def _refusal(self, model: str, status: int, headers: httpx.Headers, error: bytes) -> Exception:
        provider = self.provider
        log.warning(
            "%s %s: HTTP %d", provider.name, model, status,
            extra={"provider": provider.name, "model": model, "status": status},
        )  # fmt: skip
        if status in (401, 403):
            return AuthenticationError(model, status, provider.base_url, provider.api_key_env)
        if is_retryable_status(status):
            return _Status(status, retry_after(headers))
        if status == 404:
            return GiveUp(1, f"HTTP 404 (no model {model!r} at {provider.base_url}?)")
        return ModelResponseError(
            model,
            status,
            "the provider refused the request: check the model name and parameters",
            self.secret.excerpt(error),
        )

    async def read(self, response: httpx.Response, model: str) -> bytes:
        """Read a whole answer body, refusing one over ``max_response_bytes``.

        Raises:
            ModelResponseError: the answer is too large.
        """
        limit = self.provider.max_response_bytes
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise _too_large(model, response.status_code, limit)
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > limit:
                raise _too_large(model, response.status_code, limit)
            chunks.append(chunk)
        return b"".join(chunks)


class _Status(Exception):
    # A retryable status, carried from an attempt to the retry loop.
    def __init__(self, status: int, retry_after: float | None) -> None:
        self.status = status
        self.retry_after = retry_after
        super().__init__(status)


def _too_large(model: str, status: int, limit: int) -> ModelResponseError:
    return ModelResponseError(
        model,
        status,
        f"the answer is larger than max_response_bytes={limit}: raise it in the provider's "
        "settings if such answers are expected",
    )


def _read_key(provider: Provider) -> str:
    if provider.api_key_env is None or provider.offline:
        return ""
    key = os.environ.get(provider.api_key_env, "")
    if not key:
        raise ModelsConfigError(
            f"provider {provider.name!r} reads its API key from the environment variable "
            f"{provider.api_key_env}, which is not set: export it, or set api_key_env to the "
            "variable that holds the key"
        )
    return key
