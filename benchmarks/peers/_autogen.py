"""autogen-core: ``SingleThreadedAgentRuntime`` with ``RoutedAgent`` handlers.

Agents are ``RoutedAgent`` subclasses whose ``@message_handler`` methods are
routed by the message's type, registered with ``Agent.register(runtime, type,
factory)``; the runtime is started with ``runtime.start()``. Events go through
``runtime.publish_message(msg, TopicId(...))`` to a ``TypeSubscription`` and the
clock stops when ``await runtime.stop_when_idle()`` returns, the documented way to
wait for a published batch; requests go through ``await
runtime.send_message(msg, AgentId(...))``, which returns the handler's reply. It
runs on asyncio, in one event loop, as actorbus does here.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from autogen_core import (
    AgentId,
    MessageContext,
    RoutedAgent,
    SingleThreadedAgentRuntime,
    TopicId,
    TypeSubscription,
    message_handler,
)

from ._work import FANOUT, PONG, Ping, Pong, Tick, TracedGrowth, collect

__all__ = ["DIST", "HOW", "NAME", "ask", "fan_out", "idle_actors", "one_to_one"]

NAME = "autogen-core"
DIST = "autogen-core"
TOPIC = "bench"
HOW = {
    "throughput": "`SingleThreadedAgentRuntime`; `await runtime.publish_message(msg, "
    "TopicId)` N times to one `RoutedAgent` on a `TypeSubscription`, then `await "
    "runtime.stop_when_idle()`",
    "fanout": "10 agent types, each with a `TypeSubscription` to the topic; N/10 "
    "`publish_message`, then `stop_when_idle()`",
    "ask": "`await runtime.send_message(msg, AgentId)` (autogen's request/reply) to a "
    "`RoutedAgent` whose `@message_handler` returns the reply",
    "actors": "one agent type subscribed to a topic type; one `publish_message` to each of "
    "N topic sources creates N agents (one per source), then `stop_when_idle()`",
}


class Sink(RoutedAgent):
    """Handles Tick and Ping by doing nothing."""

    def __init__(self) -> None:
        super().__init__("sink")

    @message_handler
    async def on_tick(self, message: Tick, ctx: MessageContext) -> None:
        return None

    @message_handler
    async def on_ping(self, message: Ping, ctx: MessageContext) -> None:
        return None


class Echo(RoutedAgent):
    """Answers every Ping with the same Pong."""

    def __init__(self) -> None:
        super().__init__("echo")

    @message_handler
    async def on_ping(self, message: Ping, ctx: MessageContext) -> Pong:
        return PONG


async def _sinks(runtime: SingleThreadedAgentRuntime, count: int) -> None:
    for i in range(count):
        await Sink.register(runtime, f"sink{i}", Sink)
        await runtime.add_subscription(TypeSubscription(TOPIC, f"sink{i}"))


async def _publish(runtime: SingleThreadedAgentRuntime, msg: Tick, count: int) -> None:
    topic = TopicId(TOPIC, "default")
    runtime.start()
    for _ in range(count):
        await runtime.publish_message(msg, topic)
    await runtime.stop_when_idle()


async def _timed_publishes(subscribers: int, count: int, warmup: int) -> float:
    runtime = SingleThreadedAgentRuntime()
    await _sinks(runtime, subscribers)
    msg = Tick(n=0)
    await _publish(runtime, msg, warmup)
    collect()
    start = time.perf_counter()
    await _publish(runtime, msg, count)
    return time.perf_counter() - start


def one_to_one(count: int, warmup: int) -> float:
    """Seconds for ``count`` publishes to one agent, until the runtime is idle."""
    return asyncio.run(_timed_publishes(1, count, warmup))


def fan_out(publishes: int, warmup: int) -> float:
    """Seconds for ``publishes`` publishes to 10 subscribed agents, until idle."""
    return asyncio.run(_timed_publishes(FANOUT, publishes, warmup))


async def _round_trips(runtime: Any, target: AgentId, msg: Ping, count: int) -> list[float]:
    clock = time.perf_counter
    samples = [0.0] * count
    for i in range(count):
        start = clock()
        await runtime.send_message(msg, target)
        samples[i] = clock() - start
    return samples


async def _asks(count: int, warmup: int) -> list[float]:
    runtime = SingleThreadedAgentRuntime()
    await Echo.register(runtime, "echo", Echo)
    runtime.start()
    target = AgentId("echo", "default")
    msg = Ping(n=0)
    try:
        await _round_trips(runtime, target, msg, warmup)
        collect()
        return await _round_trips(runtime, target, msg, count)
    finally:
        await runtime.stop()


def ask(count: int, warmup: int) -> list[float]:
    """Seconds of each of ``count`` sequential requests, after ``warmup`` untimed ones."""
    return asyncio.run(_asks(count, warmup))


async def _idle(runtime: SingleThreadedAgentRuntime, first: int, count: int) -> None:
    runtime.start()
    for i in range(first, first + count):
        await runtime.publish_message(Ping(n=i), TopicId("idle", f"a{i}"))
    await runtime.stop_when_idle()


async def _memory(count: int) -> float:
    runtime = SingleThreadedAgentRuntime()
    await Sink.register(runtime, "idle", Sink)
    await runtime.add_subscription(TypeSubscription("idle", "idle"))
    await _idle(runtime, 0, 10)  # warm-up: ten agents of their own
    with TracedGrowth() as growth:
        await _idle(runtime, 10, count)
        return growth.per_actor(count)


def idle_actors(count: int) -> float:
    """Traced bytes per idle agent, ``count`` agents each sent one message."""
    return asyncio.run(_memory(count))
