"""`Models`: the gateway every actor's model calls go through.

It routes a model name to the first provider serving it, applies the per-actor
assignment table, tries fallbacks once a model is exhausted, reserves budget,
prices the usage and keeps the totals. One `Models` belongs to one bus (one run):
the bus opens it and closes its connections.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple, Protocol, final

import anyio
import httpx
import msgspec

from .._backend import current_library
from .._errors import (
    AsyncioRequired,
    ModelResponseError,
    ModelsConfigError,
    ModelTimeout,
    ModelUnavailable,
)
from .._trace import ChatScope, Tracing
from ._chat import ChatMessage, Completion, Usage, estimate_tokens, prompt_chars
from ._client import GiveUp, ProviderClient, ProviderCounters, ProviderStatistics
from ._config import ModelsConfig, Provider
from ._costs import CostReport, Ledger, Reservation
from ._price_file import price_table
from ._secret import Secret
from ._sse import EventReader
from ._wire import Chunk, WireCompletion, decode_chunk, decode_completion, encode_request

__all__ = ["DEFAULT_MAX_TOKENS", "CompletionJournal", "Models", "Stream"]

log = logging.getLogger("actorbus.models")

DEFAULT_MAX_TOKENS = 1024
"""Output tokens assumed, for limits and budgets, of a call that sets no ``max_tokens``."""


class CompletionJournal(Protocol):
    """Where one call's completion is recorded, so a re-run replays it instead of paying."""

    async def recorded(self) -> Completion | None:
        """Return the completion recorded earlier, or None."""
        ...

    async def record(self, completion: Completion) -> None:
        """Record the completion (durably, before the handler goes on)."""
        ...


@final
class Models:
    """Model providers, routing, limits, retries, fallbacks, costs and budgets.

    Args:
        config: the configuration (default: `ModelsConfig.offline`, the echo provider).
        transports: provider name -> an httpx transport to use instead of the network
            (tests; ``httpx.MockTransport``).

    Pass it to ``Bus(models=...)``; actors then call `Context.complete` and
    `Context.stream`. Model calls need asyncio (aiolimiter is asyncio-only).

    Attributes:
        tracing: the tracer each call is reported to (set by ``actorbus.otel.instrument``;
            None: tracing is off).

    Version added: 0.1
    """

    __slots__ = (
        "_clients", "_config", "_ledger", "_open", "_prices", "_stats", "_transports", "tracing",
    )  # fmt: skip

    def __init__(
        self,
        config: ModelsConfig | None = None,
        *,
        transports: Mapping[str, httpx.AsyncBaseTransport] | None = None,
    ) -> None:
        self._config = ModelsConfig.offline() if config is None else config
        if not self._config.providers:
            raise ModelsConfigError("a model configuration needs at least one provider")
        names = [p.name for p in self._config.providers]
        if len(set(names)) != len(names):
            raise ModelsConfigError(f"provider names must be unique, got {names}")
        self._transports = dict(transports or {})
        self._prices = price_table(self._config)
        self._ledger = Ledger(self._config.budget)
        self._clients: dict[str, ProviderClient] = {}
        self._stats = {name: ProviderCounters() for name in names}
        self._open = False
        self.tracing: Tracing | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Models:
        """Return models configured from the environment; see `ModelsConfig.from_env`."""
        return cls(ModelsConfig.from_env(environ))

    @classmethod
    def from_toml(cls, path: str | Path) -> Models:
        """Return models configured from a TOML file; see `ModelsConfig`."""
        return cls(ModelsConfig.from_toml(path))

    @property
    def config(self) -> ModelsConfig:
        """The configuration."""
        return self._config

    def __repr__(self) -> str:
        providers = ", ".join(f"{p.name}={p.base_url}" for p in self._config.providers)
        return f"Models({providers})"

    # -- lifecycle ------------------------------------------------------------------

    async def open(self) -> None:
        """Make one pooled HTTP client per provider.

        Raises:
            AsyncioRequired: not running on asyncio.
            ModelsConfigError: a provider's API key variable is not set.
        """
        if current_library() != "asyncio":
            raise AsyncioRequired(
                "actorbus models", "aiolimiter, which enforces rate limits, is asyncio-only"
            )
        if self._open:
            return
        clients: dict[str, ProviderClient] = {}
        try:
            for provider in self._config.providers:
                clients[provider.name] = ProviderClient(
                    provider, self._transports.get(provider.name), self._stats[provider.name]
                )
        except BaseException:
            for client in clients.values():
                await client.aclose()
            raise
        self._clients = clients
        self._open = True

    async def aclose(self) -> None:
        """Close every provider's connections. Closing twice does nothing."""
        clients, self._clients = self._clients, {}
        self._open = False
        for client in clients.values():
            await client.aclose()

    async def __aenter__(self) -> Models:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- routing ----------------------------------------------------------------------

    def model_for(self, actor: str | None, declared: str | None) -> str:
        """Return the model ``actor`` uses: its assignment, else what it declares, else the default.

        Raises:
            ModelsConfigError: none of them names a model.
        """
        if actor is not None and (assigned := self._config.assignments.get(actor)):
            return assigned
        model = declared or self._config.default_model
        if model is None:
            raise ModelsConfigError(
                f"actor {actor!r} has no model: declare `model = ...` on the actor, pass "
                "model= to complete(), assign one in [assignments], or set default_model"
            )
        return model

    def _client(self, model: str) -> ProviderClient:
        if not self._open:
            raise ModelsConfigError(
                "these models are not open: use them through a Bus (or `async with`)"
            )
        for provider in self._config.providers:
            if provider.serves(model):
                return self._clients[provider.name]
        served = sorted({m for p in self._config.providers for m in p.models})
        raise ModelsConfigError(
            f"no provider serves model {model!r} (served: {', '.join(served)}): add it to a "
            "provider's models, or fix the name"
        )

    # -- calls ------------------------------------------------------------------------

    async def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        model: str | None = None,
        actor: str | None = None,
        journal: CompletionJournal | None = None,
        **params: Any,
    ) -> Completion:
        """Ask a model (then its fallbacks) for a completion of ``messages``.

        The model is ``actor``'s assignment, else ``model``, else the configured
        ``default_model`` (see `model_for`). ``params`` go into the request as they
        are (``temperature``, ``max_tokens``, ``tools``...). ``actor`` is whose
        budget and totals the call counts in. With a ``journal`` holding a
        completion, that is returned and nothing is sent; otherwise the new
        completion is recorded there before it is returned.

        Raises:
            AuthenticationError: the provider refused the key.
            ModelResponseError: an answer was not a valid completion.
            ModelUnavailable: every attempt of the model and its fallbacks failed.
            ModelTimeout: the call ran past its provider's ``deadline``.
            BudgetExceeded: the call could overspend a budget; nothing was sent.
            ModelsConfigError: no model is named or configured, or none serves it.
        """
        model = self.model_for(actor, model)
        tracing = self.tracing
        if tracing is None:
            return await self._journaled(messages, model, actor, journal, params)
        with tracing.chat(model, actor) as scope:
            completion = await self._journaled(messages, model, actor, journal, params)
            _report(scope, completion)
        return completion

    async def _journaled(
        self,
        messages: Sequence[ChatMessage],
        model: str,
        actor: str | None,
        journal: CompletionJournal | None,
        params: dict[str, Any],
    ) -> Completion:
        if journal is not None and (recorded := await journal.recorded()) is not None:
            return recorded
        completion = await self._complete(list(messages), model, actor, params)
        if journal is not None:
            await journal.record(completion)
        return completion

    async def _complete(
        self, chat: list[ChatMessage], model: str, actor: str | None, params: dict[str, Any]
    ) -> Completion:
        call = await self._answer(model, actor, chat, params, stream=False)
        answer: WireCompletion = call.result
        message = answer.choices[0].message
        secret = call.client.secret
        text = secret.mask(message.content or "")
        tool_calls = _masked_calls(secret, message.tool_calls)
        usage, estimated = _usage(answer.usage, chat, text, tool_calls)
        completion = self._settle(
            call.client, call.model, actor, call.reservation, call.tokens, usage,
            text=text, finish_reason=answer.choices[0].finish_reason, tool_calls=tool_calls,
            latency=call.latency, attempts=call.attempts,
            answered_by=answer.model or call.model, estimated=estimated,
        )  # fmt: skip
        await call.client.correct_tokens(call.tokens, usage)
        return completion

    async def _answer(
        self,
        model: str,
        actor: str | None,
        chat: list[ChatMessage],
        params: dict[str, Any],
        *,
        stream: bool,
    ) -> _Call:
        """Walk ``model`` and its fallbacks until one answers 200; its budget stays reserved.

        A whole answer comes back decoded; a stream comes back as the open response.

        Raises:
            ModelUnavailable: the model and every fallback were exhausted.
        """
        attempts, last, late = 0, "", None
        for candidate in self._chain(model):
            client = self._client(candidate)
            deadline = time.monotonic() + client.provider.deadline
            tokens, reservation = self._reserve(client, candidate, actor, chat, params)
            body = encode_request(candidate, chat, params, stream=stream)
            receive = _opened if stream else functools.partial(_whole, client, candidate)
            try:
                result, tries, latency = await client.attempts(
                    candidate, body, tokens, receive, deadline, keep_open=stream
                )
            except GiveUp as exc:
                self._ledger.release(reservation)
                attempts += exc.attempts
                last = f"{candidate}: {exc.last_error}"
                late = client.provider.deadline if exc.late else None
                log.info(
                    "model %s is exhausted (%s); trying its fallbacks", candidate, exc.last_error,
                    extra={"model": candidate, "actor": actor},
                )  # fmt: skip
                continue
            except BaseException:
                self._ledger.release(reservation)
                raise
            return _Call(
                result, candidate, client, tokens, reservation, attempts + tries, latency, deadline
            )
        if late is not None:
            raise ModelTimeout(model, attempts, late, f"before an answer came (last: {last})")
        raise ModelUnavailable(model, attempts, last)

    def stream(
        self,
        messages: Sequence[ChatMessage],
        *,
        model: str | None = None,
        actor: str | None = None,
        journal: CompletionJournal | None = None,
        **params: Any,
    ) -> Stream:
        """Return a `Stream` of a model's answer as text deltas, over server-sent events.

        The model is chosen as for `complete`. Limits, retries and fallbacks apply
        until the first byte of a 200 answer; after that a broken stream raises
        `ModelResponseError`, and one still going at the provider's ``deadline``
        raises `ModelTimeout`. A ``journal`` works as for `complete`: a recorded
        completion comes back as one delta.

        Raises:
            ModelsConfigError: no model is named or configured.
        """
        return Stream(self, list(messages), self.model_for(actor, model), actor, params, journal)

    def _chain(self, model: str) -> list[str]:
        return [model, *self._config.fallbacks.get(model, [])]

    def _reserve(
        self,
        client: ProviderClient,
        model: str,
        actor: str | None,
        chat: list[ChatMessage],
        params: Mapping[str, Any],
    ) -> tuple[int, Reservation]:
        prompt = estimate_tokens(prompt_chars(chat))
        out = params.get("max_tokens") or params.get("max_completion_tokens") or DEFAULT_MAX_TOKENS
        worst = self._prices.worst_case(
            model, prompt, int(out), offline=client.provider.offline
        )  # None: unpriced, which a budget refuses
        reservation = self._ledger.reserve(model, actor, worst)
        return prompt + int(out), reservation

    def _settle(
        self,
        client: ProviderClient,
        model: str,
        actor: str | None,
        reservation: Reservation,
        tokens: int,
        usage: Usage,
        *,
        text: str,
        finish_reason: str | None,
        tool_calls: list[dict[str, Any]] | None,
        latency: float,
        attempts: int,
        answered_by: str,
        estimated: bool,
    ) -> Completion:
        if usage.total_tokens == 0 and (usage.prompt_tokens or usage.completion_tokens):
            usage = msgspec.structs.replace(
                usage, total_tokens=usage.prompt_tokens + usage.completion_tokens
            )
        price = self._prices.price(model, offline=client.provider.offline)
        cost = None if price is None else price.cost(usage)  # None: unpriced, not $0
        self._ledger.settle(reservation, model, usage, cost)
        stats = client.stats
        stats.prompt_tokens += usage.prompt_tokens
        stats.completion_tokens += usage.completion_tokens
        stats.cost += cost or 0.0
        return Completion(
            text=text, finish_reason=finish_reason, tool_calls=tool_calls, usage=usage,
            model=answered_by, provider=client.provider.name, latency=latency, cost=cost,
            attempts=attempts, usage_estimated=estimated,
        )  # fmt: skip

    # -- reports ----------------------------------------------------------------------

    def costs(self) -> CostReport:
        """Return what calls cost so far: in all, per actor and per model."""
        return self._ledger.report()

    def statistics(self) -> dict[str, ProviderStatistics]:
        """Return each provider's request counts (attempts, retries, failures, 429s)."""
        return {name: stats.snapshot() for name, stats in self._stats.items()}

    def providers(self) -> list[Provider]:
        """Return the configured providers."""
        return list(self._config.providers)


async def _whole(client: ProviderClient, model: str, response: httpx.Response) -> WireCompletion:
    body = await client.read(response, model)
    return decode_completion(model, response.status_code, body, client.secret)


def _usage(
    reported: Usage | None, chat: list[ChatMessage], text: str, tool_calls: list[Any] | None
) -> tuple[Usage, bool]:
    """Return a call's usage and whether it is an estimate.

    A provider that reports none (or only zeros) is charged an estimate of the
    prompt and of what came back, so budgets and token limits still bind.
    """
    if reported is not None and (reported.prompt_tokens or reported.completion_tokens):
        return reported, False
    prompt = estimate_tokens(prompt_chars(chat))
    calls = len(msgspec.json.encode(tool_calls)) if tool_calls else 0
    out = estimate_tokens(len(text) + calls)
    return Usage(prompt_tokens=prompt, completion_tokens=out, total_tokens=prompt + out), True


def _masked_calls(
    secret: Secret, calls: list[dict[str, Any]] | None
) -> list[dict[str, Any]] | None:
    """Return tool calls with the key masked in their arguments (a gateway may echo it)."""
    if not calls or not secret.key:
        return calls
    masked: list[dict[str, Any]] = []
    for call in calls:
        function = call.get("function")
        if isinstance(function, dict) and isinstance(function.get("arguments"), str):
            function = {**function, "arguments": secret.mask(function["arguments"])}
            call = {**call, "function": function}
        masked.append(call)
    return masked


@final
class Stream:
    """A model's answer arriving as text deltas: ``async for delta in stream``.

    After the last delta, `completion` holds the whole answer with its usage and
    cost. Use ``async with`` around it when you may stop reading early, so the
    connection is released at once. Usage comes from the stream's final usage chunk
    (requested with ``stream_options.include_usage``); a provider that sends none
    gets an estimate (prompt and text at about four characters a token), flagged
    by ``Completion.usage_estimated``.

    Version added: 0.1
    """

    __slots__ = (
        "_actor", "_chat", "_gen", "_journal", "_model", "_models", "_params", "completion",
    )  # fmt: skip

    def __init__(
        self,
        models: Models,
        chat: list[ChatMessage],
        model: str,
        actor: str | None,
        params: dict[str, Any],
        journal: CompletionJournal | None = None,
    ) -> None:
        self._models = models
        self._journal = journal
        self._chat = chat
        self._model = model
        self._actor = actor
        self._params = params
        self._gen: AsyncGenerator[str, None] | None = None
        self.completion: Completion | None = None

    def __aiter__(self) -> Stream:
        return self

    async def __anext__(self) -> str:
        if self._gen is None:
            self._gen = self._run()
        return await self._gen.__anext__()

    async def __aenter__(self) -> Stream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop reading and release the connection."""
        gen = self._gen
        if gen is not None:
            await gen.aclose()

    async def text(self) -> str:
        """Read the whole stream and return its text."""
        return "".join([delta async for delta in self])

    async def _run(self) -> AsyncGenerator[str, None]:
        tracing = self._models.tracing
        traced: AbstractContextManager[ChatScope | None] = (
            nullcontext() if tracing is None else tracing.chat(self._model, self._actor)
        )
        deltas = self._deltas()
        try:
            with traced as scope:
                async for delta in deltas:
                    yield delta
                if scope is not None and self.completion is not None:
                    _report(scope, self.completion)
        finally:
            await deltas.aclose()

    async def _deltas(self) -> AsyncGenerator[str, None]:
        journal = self._journal
        if journal is not None and (recorded := await journal.recorded()) is not None:
            self.completion = recorded
            if recorded.text:
                yield recorded.text
            return
        request = self._request()
        try:
            async for delta in request:
                yield delta
        finally:
            await request.aclose()  # left early: release the connection and the reservation
        if journal is not None and self.completion is not None:
            await journal.record(self.completion)

    async def _request(self) -> AsyncGenerator[str, None]:
        models = self._models
        call = await models._answer(self._model, self._actor, self._chat, self._params, stream=True)
        response: httpx.Response = call.result
        client, candidate, reservation, tokens = (
            call.client, call.model, call.reservation, call.tokens,
        )  # fmt: skip
        settled = False
        try:
            started = _now()
            parts: list[str] = []
            usage: Usage | None = None
            finish: str | None = None
            answered_by = candidate
            mask = client.secret.stream()
            events = _events(client, response, candidate, call.deadline, call.attempts)
            async for chunk in events:
                answered_by = chunk.model or answered_by
                if chunk.usage is not None:
                    usage = chunk.usage
                for choice in chunk.choices:
                    if choice.finish_reason is not None:
                        finish = choice.finish_reason
                    if choice.delta.content and (shown := mask.feed(choice.delta.content)):
                        parts.append(shown)
                        yield shown
            if shown := mask.flush():
                parts.append(shown)
                yield shown
            text = client.secret.mask("".join(parts))
            usage, estimated = _usage(usage, self._chat, text, None)
            self.completion = models._settle(
                client, candidate, self._actor, reservation, tokens, usage, text=text,
                finish_reason=finish, tool_calls=None, latency=_now() - started,
                attempts=call.attempts, answered_by=answered_by, estimated=estimated,
            )  # fmt: skip
            settled = True
            await client.correct_tokens(tokens, usage)
        finally:
            if not settled:
                models._ledger.release(reservation)
            await response.aclose()


class _Call(NamedTuple):
    """A model call that was answered: the answer and what settling it needs."""

    result: Any  # a decoded WireCompletion, or the open response of a stream
    model: str
    client: ProviderClient
    tokens: int
    reservation: Reservation
    attempts: int
    latency: float
    deadline: float  # when the call must end (time.monotonic), streaming included


def _report(scope: ChatScope, completion: Completion) -> None:
    """Tell a tracing scope what a call gave."""
    usage = completion.usage
    scope.finish(
        model=completion.model, provider=completion.provider, prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens, cost=completion.cost,
        attempts=completion.attempts, journaled=completion.journaled,
    )  # fmt: skip


async def _opened(response: httpx.Response) -> httpx.Response:
    return response  # a stream: its reader consumes (and closes) the response


def _now() -> float:
    return time.monotonic()


async def _events(
    client: ProviderClient, response: httpx.Response, model: str, deadline: float, attempts: int
) -> AsyncIterator[Chunk]:
    """Yield the chunks of a server-sent event stream until ``[DONE]``.

    Each read ends by ``deadline``: a server that keeps the stream alive (comments,
    empty deltas) without finishing cannot hold the call past it.

    Raises:
        ModelResponseError: the stream ends (or breaks) before ``[DONE]``, a chunk
            is invalid, or the stream exceeds ``max_response_bytes``.
        ModelTimeout: ``deadline`` passed before the stream ended.
    """
    provider = client.provider
    limit = provider.max_response_bytes
    size = 0
    reader = EventReader()
    pieces = response.aiter_bytes()
    try:
        while (piece := await _next_piece(pieces, deadline)) is not None:
            size += len(piece)
            if size > limit:
                raise ModelResponseError(
                    model, 200, f"the stream is larger than max_response_bytes={limit}"
                )
            for data in reader.feed(piece):
                if data == b"[DONE]":
                    return
                yield decode_chunk(model, data, client.secret)
        if reader.pending() == b"[DONE]":
            return
    except _Late:
        during = "while the answer streamed"
        raise ModelTimeout(model, attempts, provider.deadline, during) from None
    except httpx.HTTPError as exc:
        raise ModelResponseError(
            model, 200, f"the stream broke before its end ({type(exc).__name__}: {exc})"
        ) from None
    raise ModelResponseError(model, 200, "the stream ended without [DONE]: the answer is cut short")


class _Late(Exception):
    """A stream's deadline passed (internal: becomes `ModelTimeout`)."""


async def _next_piece(pieces: AsyncIterator[bytes], deadline: float) -> bytes | None:
    """Return the stream's next bytes (None at its end), waiting no later than ``deadline``.

    Raises:
        _Late: the deadline passed first.
    """
    left = deadline - time.monotonic()
    if left > 0:
        with anyio.move_on_after(left):
            return await anext(pieces, None)
    raise _Late
