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
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Generic, TypeVar, final, overload

import httpx
import msgspec

from .._backend import current_library
from .._errors import (
    AsyncioRequired,
    ModelsConfigError,
    ModelTimeout,
    ModelUnavailable,
    SchemaError,
)
from .._trace import Tracing
from ._chat import ChatMessage, Completion, ToolCall, Usage, estimate_tokens, prompt_chars
from ._client import GiveUp, ProviderClient, ProviderCounters, ProviderStatistics
from ._config import ModelsConfig, Provider
from ._costs import CostReport, Ledger, Reservation
from ._events import ModelEvent, OnModelEvent, report
from ._loop import Bounds, Call, CallJournal
from ._price_file import price_table
from ._schema import Output
from ._tools import Asker, Tool, tool_set
from ._turn import Answered, plain_turn, shaped, streamed_turn, whole
from ._wire import encode_request

__all__ = ["DEFAULT_MAX_TOKENS", "Models", "Stream"]

T = TypeVar("T")
Tools = Sequence[Tool | Callable[..., Any]]
"""What ``tools=`` takes: `Tool` values, or functions (each made a tool with `tool`)."""

log = logging.getLogger("actorbus.models")

DEFAULT_MAX_TOKENS = 1024
"""Output tokens assumed, for limits and budgets, of a call that sets no ``max_tokens``."""


@final
class Models:
    """Model providers, routing, limits, retries, fallbacks, costs and budgets.

    Args:
        config: the configuration (default: `ModelsConfig.offline`, the echo provider).
        transports: provider name -> an httpx transport to use instead of the network
            (tests; ``httpx.MockTransport``).
        on_event: called with a `ModelEvent` for each retry and each wait on a
            provider's limit, as it starts (see the attribute).

    Pass it to ``Bus(models=...)``; actors then call `Context.complete` and
    `Context.stream`. Model calls need asyncio (aiolimiter is asyncio-only).

    Attributes:
        tracing: the tracer each call is reported to (set by ``actorbus.otel.instrument``;
            None: tracing is off).
        on_event: the function told of each retry and each wait on a limit as it
            starts, with a `ModelEvent` (None: nobody); may be set at any time. It
            runs in the event loop and must not block; an exception it raises is
            logged and ignored.

    Version added: 0.1
    """

    __slots__ = (
        "_clients", "_config", "_ledger", "_open", "_prices", "_stats", "_transports",
        "on_event", "tracing",
    )  # fmt: skip

    def __init__(
        self,
        config: ModelsConfig | None = None,
        *,
        transports: Mapping[str, httpx.AsyncBaseTransport] | None = None,
        on_event: OnModelEvent | None = None,
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
        self.on_event = on_event

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
                    provider,
                    self._transports.get(provider.name),
                    self._stats[provider.name],
                    _Hooks(self),
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

    @overload
    async def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        output: type[T],
        model: str | None = None,
        actor: str | None = None,
        tools: Tools = (),
        journal: CallJournal | None = None,
        asker: Asker | None = None,
        output_retries: int = 2,
        max_tool_rounds: int = 8,
        max_repeats: int = 2,
        max_tool_errors: int = 3,
        **params: Any,
    ) -> Completion[T]: ...
    @overload
    async def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        output: None = None,
        model: str | None = None,
        actor: str | None = None,
        tools: Tools = (),
        journal: CallJournal | None = None,
        asker: Asker | None = None,
        output_retries: int = 2,
        max_tool_rounds: int = 8,
        max_repeats: int = 2,
        max_tool_errors: int = 3,
        **params: Any,
    ) -> Completion[None]: ...
    @overload
    async def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        output: object,
        model: str | None = None,
        actor: str | None = None,
        tools: Tools = (),
        journal: CallJournal | None = None,
        asker: Asker | None = None,
        output_retries: int = 2,
        max_tool_rounds: int = 8,
        max_repeats: int = 2,
        max_tool_errors: int = 3,
        **params: Any,
    ) -> Completion[Any]: ...
    async def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        output: object = None,
        model: str | None = None,
        actor: str | None = None,
        tools: Tools = (),
        journal: CallJournal | None = None,
        asker: Asker | None = None,
        output_retries: int = 2,
        max_tool_rounds: int = 8,
        max_repeats: int = 2,
        max_tool_errors: int = 3,
        **params: Any,
    ) -> Completion[Any]:
        """Ask a model (then its fallbacks) for a completion of ``messages``.

        The model is ``actor``'s assignment, else ``model``, else the configured
        ``default_model`` (see `model_for`). ``params`` go into the request as they
        are (``temperature``, ``max_tokens``...). ``actor`` is whose budget and
        totals the call counts in.

        With ``output=T`` (a msgspec Struct, a `Message`, or any type msgspec can
        decode) the answer is decoded and validated as a ``T`` (``done.output``);
        one that is not is asked for again with the error, up to ``output_retries``
        times. With ``tools`` the call is a loop: the model's tool calls are run
        (concurrently within a turn) and their results sent back until it answers
        without calling one, within ``max_tool_rounds``, ``max_repeats`` and
        ``max_tool_errors``. ``asker`` is what actor tools ask through (a `Bus`;
        inside a handler, the `Context`).

        With a ``journal``, every turn and tool result is recorded as it finishes,
        and a call run again replays what was recorded instead of asking or
        running again.

        Raises:
            AuthenticationError: the provider refused the key.
            ModelResponseError: an answer was not a valid completion.
            ModelUnavailable: every attempt of the model and its fallbacks failed.
            ModelTimeout: the call ran past its provider's ``deadline``.
            BudgetExceeded: a turn could overspend a budget; it was not sent.
            OutputValidationError: no answer gave a valid ``output``.
            ToolLoopError: the tool loop reached one of its bounds.
            SchemaError: a tool or the output type cannot be described to a model.
            ModelsConfigError: no model is named or configured, or none serves it.
        """
        bounds = Bounds(
            output_retries=output_retries, max_tool_rounds=max_tool_rounds,
            max_repeats=max_repeats, max_tool_errors=max_tool_errors,
        )  # fmt: skip
        call = self._call(
            messages, model, actor, params, stream=False, output=output, tools=tools,
            journal=journal, asker=asker, bounds=bounds,
        )  # fmt: skip
        async for _ in call.run():
            pass
        assert call.completion is not None
        return call.completion

    def _call(
        self,
        messages: Sequence[ChatMessage],
        model: str | None,
        actor: str | None,
        params: dict[str, Any],
        *,
        stream: bool,
        output: object,
        tools: Tools,
        journal: CallJournal | None,
        asker: Asker | None,
        bounds: Bounds,
    ) -> Call:
        for reserved in ("response_format", "stream", "stream_options", "messages", "model"):
            if reserved in params:
                raise ModelsConfigError(
                    f"{reserved}= is set by actorbus (use output= for a structured answer, "
                    "stream() for a stream, model= for the model)"
                )
        if not isinstance(tools, list | tuple):
            raise SchemaError("tools", "pass a list of tools: tools=[search, ...]")
        for item in tools:
            if isinstance(item, dict):
                raise SchemaError(
                    "tools", "a tool is a function or ab.tool(...)/ab.actor_tool(...), not a dict"
                )
        return Call(
            self,
            streamed_turn if stream else plain_turn,
            list(messages),
            self.model_for(actor, model),
            actor,
            params,
            journal=journal,
            output=None if output is None else Output(output),
            tools=tool_set(tools),
            bounds=bounds,
            asker=asker,
            stream=stream,
        )

    async def _answer(
        self,
        model: str,
        actor: str | None,
        chat: list[ChatMessage],
        params: dict[str, Any],
        output: Output[Any] | None,
        *,
        stream: bool,
    ) -> Answered:
        """Walk ``model`` and its fallbacks until one answers 200; its budget stays reserved.

        A whole answer comes back decoded; a stream comes back as the open response.

        Raises:
            ModelUnavailable: the model and every fallback were exhausted.
        """
        attempts, last, late = 0, "", None
        for candidate in self._chain(model):
            client = self._client(candidate)
            deadline = time.monotonic() + client.provider.deadline
            asked, shape = shaped(chat, params, output, client.provider.structured_output)
            tokens, reservation = self._reserve(client, candidate, actor, asked, shape)
            body = encode_request(candidate, asked, shape, stream=stream)
            receive = _opened if stream else functools.partial(whole, client, candidate)
            try:
                result, tries, latency = await client.attempts(
                    candidate, body, tokens, receive, deadline, keep_open=stream, actor=actor
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
            return Answered(
                result, candidate, client, tokens, reservation, attempts + tries, latency, deadline
            )
        if late is not None:
            raise ModelTimeout(model, attempts, late, f"before an answer came (last: {last})")
        raise ModelUnavailable(model, attempts, last)

    @overload
    def stream(
        self,
        messages: Sequence[ChatMessage],
        *,
        output: type[T],
        model: str | None = None,
        actor: str | None = None,
        tools: Tools = (),
        journal: CallJournal | None = None,
        asker: Asker | None = None,
        output_retries: int = 2,
        max_tool_rounds: int = 8,
        max_repeats: int = 2,
        max_tool_errors: int = 3,
        **params: Any,
    ) -> Stream[T]: ...
    @overload
    def stream(
        self,
        messages: Sequence[ChatMessage],
        *,
        output: None = None,
        model: str | None = None,
        actor: str | None = None,
        tools: Tools = (),
        journal: CallJournal | None = None,
        asker: Asker | None = None,
        output_retries: int = 2,
        max_tool_rounds: int = 8,
        max_repeats: int = 2,
        max_tool_errors: int = 3,
        **params: Any,
    ) -> Stream[None]: ...
    @overload
    def stream(
        self,
        messages: Sequence[ChatMessage],
        *,
        output: object,
        model: str | None = None,
        actor: str | None = None,
        tools: Tools = (),
        journal: CallJournal | None = None,
        asker: Asker | None = None,
        output_retries: int = 2,
        max_tool_rounds: int = 8,
        max_repeats: int = 2,
        max_tool_errors: int = 3,
        **params: Any,
    ) -> Stream[Any]: ...
    def stream(
        self,
        messages: Sequence[ChatMessage],
        *,
        output: object = None,
        model: str | None = None,
        actor: str | None = None,
        tools: Tools = (),
        journal: CallJournal | None = None,
        asker: Asker | None = None,
        output_retries: int = 2,
        max_tool_rounds: int = 8,
        max_repeats: int = 2,
        max_tool_errors: int = 3,
        **params: Any,
    ) -> Stream[Any]:
        """Return a `Stream` of a model's answer as text deltas, over server-sent events.

        Takes what `complete` takes. Every turn is streamed: the deltas are the
        text of each turn in turn (tool calls are assembled from their deltas and
        run between turns), and `Stream.completion` is the whole call's, as
        `complete` returns it. Limits, retries and fallbacks apply until the first
        byte of each 200 answer; after that a broken stream raises
        `ModelResponseError`, and one still going at the provider's ``deadline``
        raises `ModelTimeout`. A journaled turn comes back as one delta.

        Raises:
            ModelsConfigError: no model is named or configured.
            SchemaError: a tool or the output type cannot be described to a model.
        """
        bounds = Bounds(
            output_retries=output_retries, max_tool_rounds=max_tool_rounds,
            max_repeats=max_repeats, max_tool_errors=max_tool_errors,
        )  # fmt: skip
        call = self._call(
            messages, model, actor, params, stream=True, output=output, tools=tools,
            journal=journal, asker=asker, bounds=bounds,
        )  # fmt: skip
        return Stream(call)

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
        prompt = estimate_tokens(prompt_chars(chat, params))
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
        usage: Usage,
        *,
        text: str,
        finish_reason: str | None,
        tool_calls: list[ToolCall] | None,
        latency: float,
        attempts: int,
        answered_by: str,
        estimated: bool,
    ) -> Completion[None]:
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


@final
class _Hooks:
    # What a provider's client tells its Models: requests sent, retries and waits.
    __slots__ = ("_models",)

    def __init__(self, models: Models) -> None:
        self._models = models

    def sent(self, actor: str | None, model: str) -> None:
        self._models._ledger.requested(actor, model)

    def event(self, event: ModelEvent) -> None:
        report(self._models.on_event, event)


async def _opened(response: Any) -> Any:
    return response  # a stream: its reader consumes (and closes) the response


@final
class Stream(Generic[T]):
    """A model's answer arriving as text deltas: ``async for delta in stream``.

    After the last delta, `completion` holds the whole call's answer with its
    usage and cost (as `Models.complete` returns it). Use ``async with`` around
    it when you may stop reading early, so the connection is released at once.
    Usage comes from each stream's final usage chunk (requested with
    ``stream_options.include_usage``); a provider that sends none gets an
    estimate (prompt and text at about four characters a token), flagged by
    ``Completion.usage_estimated``.

    Version added: 0.1
    """

    __slots__ = ("_call", "_gen")

    def __init__(self, call: Call) -> None:
        self._call = call
        self._gen: AsyncGenerator[str, None] | None = None

    @property
    def completion(self) -> Completion[T] | None:
        """The whole answer, once the last delta has been read (None before)."""
        return self._call.completion

    def __aiter__(self) -> Stream[T]:
        return self

    async def __anext__(self) -> str:
        if self._gen is None:
            self._gen = self._call.run()
        return await self._gen.__anext__()

    async def __aenter__(self) -> Stream[T]:
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
