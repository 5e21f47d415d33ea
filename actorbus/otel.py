"""OpenTelemetry tracing for a bus: ``actorbus.otel.instrument(bus)``.

Needs the ``otel`` extra (``pip install 'actorbus[otel]'``, which brings
``opentelemetry-api``); spans go wherever the application's tracer provider sends
them (configure one with ``opentelemetry-sdk``; without one, the API's default
provider records nothing).

Spans, one trace per run that starts outside the bus:

* ``publish <topic>`` (PRODUCER): each append to the log, a child of the span
  current in the publishing task (inside a handler: that handling's span).
* ``handle <actor>`` (CONSUMER): each handling of a message by an actor, a child
  of the span of the publish that appended it; current while the handler runs,
  so spans the handler opens (its own, or instrumented libraries') nest under it.
* ``chat <model>`` (CLIENT): each model request (each turn of a tool loop), a
  child of the current span.
* ``execute_tool <tool>`` (INTERNAL): each tool call of a tool loop, a child of
  the current span and current while the tool runs (an actor tool's ask is its
  child). Attributes follow the GenAI semantic conventions' execute_tool span;
  arguments and results are not recorded (they may hold secrets or personal
  data: ``actorbus log trace`` shows them, masked).

The link from a publish to its handlings is kept in this process, keyed by the
message id (the most recent 65,536 publishes), so it holds for `MemoryLog` and
`SqliteLog`, and for a `JetStreamLog` when publisher and actor share a process.
A message from another process (or older than that window) starts a new trace:
the span context is not carried in JetStream headers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import final

try:
    from opentelemetry import context as otel_context
    from opentelemetry import trace
except ImportError as exc:  # pragma: no cover (the tests run with the extra installed)
    raise ImportError("actorbus.otel needs OpenTelemetry: pip install 'actorbus[otel]'") from exc

from ._bus import Bus
from ._message import Envelope, Receipt
from ._trace import Tracing

__all__ = ["instrument", "uninstrument"]

_KEEP = 65_536  # publish span contexts kept for handlings still to come
_SYSTEM = "actorbus"


def instrument(bus: Bus, tracer_provider: trace.TracerProvider | None = None) -> None:
    """Trace ``bus``'s publishes, handlings and model calls with OpenTelemetry.

    Call it before or after the bus opens; spans start with the next publish,
    handling or call. Instrumenting again replaces the tracer.

    Args:
        bus: the bus to trace (and its models, if it has any).
        tracer_provider: where spans go; by default OpenTelemetry's global provider.

    Version added: 0.1
    """
    tracer = trace.get_tracer("actorbus", tracer_provider=tracer_provider)
    tracing: Tracing = _OtelTracing(tracer)
    bus.tracing = tracing
    if bus.models is not None:
        bus.models.tracing = tracing


def uninstrument(bus: Bus) -> None:
    """Stop tracing ``bus``: what runs next makes no spans.

    Version added: 0.1
    """
    bus.tracing = None
    if bus.models is not None:
        bus.models.tracing = None


@final
class _HandleScope:
    __slots__ = ("_span",)

    def __init__(self, span: trace.Span) -> None:
        self._span = span

    def finish(self, *, attempts: int, dead_lettered: bool) -> None:
        self._span.set_attribute("actorbus.attempts", attempts)
        if dead_lettered:
            self._span.set_attribute("actorbus.dead_lettered", True)
            self._span.set_status(trace.StatusCode.ERROR, "dead-lettered")


@final
class _ChatScope:
    __slots__ = ("_span",)

    def __init__(self, span: trace.Span) -> None:
        self._span = span

    def finish(
        self,
        *,
        model: str,
        provider: str,
        prompt_tokens: int,
        completion_tokens: int,
        cost: float | None,
        attempts: int,
        journaled: bool,
    ) -> None:
        self._span.set_attributes(
            {
                "gen_ai.response.model": model,
                "gen_ai.provider.name": provider,
                "gen_ai.usage.input_tokens": prompt_tokens,
                "gen_ai.usage.output_tokens": completion_tokens,
                "actorbus.attempts": attempts,
                "actorbus.journaled": journaled,
            }
        )
        if cost is None:
            self._span.set_attribute("actorbus.unpriced", True)  # what it cost is unknown
        else:
            self._span.set_attribute("actorbus.cost", cost)


@final
class _ToolScope:
    __slots__ = ("_span",)

    def __init__(self, span: trace.Span) -> None:
        self._span = span

    def finish(self, *, error: bool, journaled: bool) -> None:
        self._span.set_attribute("actorbus.journaled", journaled)
        if error:  # the model was given an error result: the tool call failed
            self._span.set_status(trace.StatusCode.ERROR, "tool error result")
            self._span.set_attribute("error.type", "tool_error")


@final
class _OtelTracing:
    """`Tracing` over an OpenTelemetry tracer; see the module docstring."""

    __slots__ = ("_appending", "_sent", "_tracer")

    def __init__(self, tracer: trace.Tracer) -> None:
        self._tracer = tracer
        # Message id -> its publish span, oldest first, for the handlings to come.
        self._sent: dict[str, trace.SpanContext] = {}
        # Envelopes whose append is under way (by identity): a log that delivers
        # once durable may hand one to an actor before its publisher resumes.
        self._appending: dict[int, tuple[Envelope, trace.Span]] = {}

    # -- publish --------------------------------------------------------------------

    def append_nowait(self, append: Callable[[Envelope], Receipt], env: Envelope) -> Receipt:
        span = self._publish_span(env)
        try:
            receipt = append(env)
        except BaseException as exc:
            _failed(span, exc)
            raise
        self._published(span, receipt)
        return receipt

    async def append(
        self, append: Callable[[Envelope], Awaitable[Receipt]], env: Envelope
    ) -> Receipt:
        span = self._publish_span(env)
        key = id(env)
        self._appending[key] = (env, span)
        try:
            receipt = await append(env)
        except BaseException as exc:
            _failed(span, exc)
            raise
        else:
            self._published(span, receipt)
        finally:
            del self._appending[key]
        return receipt

    def _publish_span(self, env: Envelope) -> trace.Span:
        attributes: dict[str, str] = {
            "messaging.system": _SYSTEM,
            "messaging.operation.type": "send",
            "messaging.destination.name": env.topic,
        }
        if env.sender is not None:
            attributes["actorbus.sender"] = env.sender
        if env.correlation_id is not None:
            attributes["messaging.message.conversation_id"] = env.correlation_id
        return self._tracer.start_span(
            f"publish {env.topic}", kind=trace.SpanKind.PRODUCER, attributes=attributes
        )

    def _published(self, span: trace.Span, receipt: Receipt) -> None:
        span.set_attribute("actorbus.seq", receipt.seq)
        span.set_attribute("messaging.message.id", receipt.id)
        if receipt.duplicate:
            span.set_attribute("actorbus.duplicate", True)
        else:
            sent = self._sent
            sent[receipt.id] = span.get_span_context()
            if len(sent) > _KEEP:
                del sent[next(iter(sent))]
        span.end()

    # -- handle ---------------------------------------------------------------------

    @contextmanager
    def handling(self, actor: str, env: Envelope) -> Iterator[_HandleScope]:
        parent = self._publish_of(env)
        # No known publish (another process, or long ago): a trace of its own,
        # not a child of whatever span the drain task happened to inherit.
        within = trace.set_span_in_context(
            trace.NonRecordingSpan(parent) if parent is not None else trace.INVALID_SPAN,
            otel_context.Context(),
        )
        attributes: dict[str, str | int] = {
            "messaging.system": _SYSTEM,
            "messaging.operation.type": "process",
            "messaging.destination.name": env.topic,
            "messaging.message.id": env.id,
            "actorbus.seq": env.seq,
            "actorbus.actor": actor,
        }
        span = self._tracer.start_span(
            f"handle {actor}", context=within, kind=trace.SpanKind.CONSUMER, attributes=attributes
        )
        token = otel_context.attach(trace.set_span_in_context(span))
        try:
            yield _HandleScope(span)
        except BaseException as exc:
            _failed(span, exc)
            raise
        finally:
            otel_context.detach(token)
            span.end()

    def _publish_of(self, env: Envelope) -> trace.SpanContext | None:
        found = self._sent.get(env.id)
        if found is not None:
            return found
        appending = self._appending.get(id(env))
        if appending is not None and appending[0] is env:
            return appending[1].get_span_context()
        return None

    # -- chat -----------------------------------------------------------------------

    @contextmanager
    def chat(self, model: str, actor: str | None) -> Iterator[_ChatScope]:
        attributes: dict[str, str] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": model,
        }
        if actor is not None:
            attributes["actorbus.actor"] = actor
        # Not made current: a stream's span stays open across its reader's awaits.
        span = self._tracer.start_span(
            f"chat {model}", kind=trace.SpanKind.CLIENT, attributes=attributes
        )
        try:
            yield _ChatScope(span)
        except GeneratorExit:  # the reader closed a stream early: not a failure
            span.set_attribute("actorbus.closed_early", True)
            raise
        except BaseException as exc:
            _failed(span, exc)
            raise
        finally:
            span.end()

    # -- tools ----------------------------------------------------------------------

    @contextmanager
    def tool(
        self, name: str, call_id: str, actor: str | None, description: str | None
    ) -> Iterator[_ToolScope]:
        attributes: dict[str, str] = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": name,
            "gen_ai.tool.call.id": call_id,
            "gen_ai.tool.type": "function",  # function and actor tools alike run here
        }
        if description:
            attributes["gen_ai.tool.description"] = description
        if actor is not None:
            attributes["actorbus.actor"] = actor
        # Current while the tool runs, so an actor tool's ask is its child.
        with self._tracer.start_as_current_span(
            f"execute_tool {name}",
            kind=trace.SpanKind.INTERNAL,
            attributes=attributes,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            try:
                yield _ToolScope(span)
            except BaseException as exc:
                _failed(span, exc)
                raise


def _failed(span: trace.Span, exc: BaseException) -> None:
    # Only the exception's type: its text may quote a payload (a handler's error).
    span.set_status(trace.StatusCode.ERROR, type(exc).__qualname__)
    span.set_attribute("error.type", type(exc).__qualname__)
