"""Static typing of the public API, checked by mypy (not run by pytest).

Lines with `assert_type` must hold; lines marked `# type: ignore[...]` must be
errors (mypy's warn_unused_ignores, part of --strict, fails if one stops being one).
"""

from __future__ import annotations

from typing import assert_type

import msgspec

import actorbus as ab


class Ping(ab.Message):
    n: int


class Pinger(ab.Actor):
    subscribe = ("ping",)

    async def on_ping(self, msg: Ping, ctx: ab.Context) -> Ping | None:
        assert_type(ctx.envelope, ab.Envelope)
        assert_type(await ctx.publish("pong", msg), ab.Receipt)
        return msg


async def uses_the_bus() -> None:
    async with ab.Bus(log=ab.MemoryLog(retain=10)) as bus:
        assert_type(bus, ab.Bus)
        ref = await bus.spawn(Pinger, name="p")
        assert_type(ref, ab.ActorRef[Pinger])
        assert_type(ref.actor, Pinger)
        assert_type(await bus.publish("ping", Ping(n=1), key="k"), ab.Receipt)
        assert_type(await bus.ask("ping", Ping(n=1), 1.0), ab.Message)
        assert_type(bus.statistics(), ab.BusStatistics)
        assert_type(bus.statistics().actors["p"].handler_p99, float)
        assert_type(bus.statistics().actors["p"].cursor_lag, int)
        assert_type(bus.statistics().models["echo"].rate_limited, int)
        assert_type(bus.kill("p"), int)

        await bus.publish("ping", "not a message")  # type: ignore[arg-type]
        await bus.publish("ping", Ping(n=1), key=3)  # type: ignore[arg-type]


def messages_are_frozen_and_keyword_only() -> None:
    ping = Ping(n=1)
    ping.n = 2  # type: ignore[misc]
    Ping(1)  # type: ignore[call-arg]
    Ping(n="one")  # type: ignore[arg-type]


class Verdict(msgspec.Struct):
    approved: bool


async def lookup(key: str) -> str:
    """Look a key up."""
    return key


async def calls_models(ctx: ab.Context, models: ab.Models) -> None:
    done = await ctx.complete([ab.user("review")], output=Verdict)
    assert_type(done, ab.Completion[Verdict])
    assert_type(done.output.approved, bool)
    assert_type(await ctx.complete([ab.user("hi")]), ab.Completion[None])
    assert_type(await ctx.complete([ab.user("hi")], tools=[lookup]), ab.Completion[None])
    assert_type(ctx.stream([ab.user("hi")], output=Verdict), ab.Stream[Verdict])
    assert_type(
        await models.complete([ab.user("hi")], model="m", output=Verdict), ab.Completion[Verdict]
    )
    assert_type(await models.complete([ab.user("hi")], model="m"), ab.Completion[None])
    assert_type(ab.tool(lookup), ab.Tool)
    assert_type(ab.tool(lookup, name="find", description="Find."), ab.Tool)
    assert_type(ab.tool(name="find")(lookup), ab.Tool)
    assert_type(ab.actor_tool("tools.ping", Ping), ab.Tool)

    ab.tool("lookup")  # type: ignore[call-overload]
    ab.actor_tool("tools.ping", Verdict)  # type: ignore[arg-type]
