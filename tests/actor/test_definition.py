"""Actor definitions: mistakes raise ActorDefinitionError (or InvalidTopic) early."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

import actorbus as ab


class Ping(ab.Message):
    pass


class Pong(ab.Message):
    pass


class Good(ab.Actor):
    subscribe = ("in",)

    def __init__(self) -> None:
        self.got = 0

    async def on_ping(self, msg: Ping, ctx: ab.Context) -> None:
        self.got += 1


# Handlers are checked when a class is first spawned (their annotations may name
# types defined after the class), so these classes can be defined; spawning fails.


class NotAsync(ab.Actor):
    def on_ping(self, msg: Ping, ctx: ab.Context) -> None:
        pass


class MissingContext(ab.Actor):
    async def on_ping(self, msg: Ping) -> None:
        pass


class ExtraParameter(ab.Actor):
    async def on_ping(self, msg: Ping, ctx: ab.Context, extra: int) -> None:
        pass


class KeywordOnlyParameters(ab.Actor):
    async def on_ping(self, *, msg: Ping, ctx: ab.Context) -> None:
        pass


class VariadicParameters(ab.Actor):
    async def on_ping(self, *args: Any) -> None:
        pass


class NoAnnotation(ab.Actor):
    async def on_ping(self, msg, ctx: ab.Context) -> None:  # type: ignore[no-untyped-def]
        pass


class NotAMessageAnnotation(ab.Actor):
    async def on_ping(self, msg: int, ctx: ab.Context) -> None:
        pass


class UnionWithANonMessage(ab.Actor):
    async def on_ping(self, msg: Ping | str, ctx: ab.Context) -> None:
        pass


class UnresolvableAnnotation(ab.Actor):
    async def on_ping(self, msg: NoSuchMessage, ctx: ab.Context) -> None:  # type: ignore[name-defined]  # noqa: F821
        pass


class TwoHandlersForOneType(ab.Actor):
    async def on_ping(self, msg: Ping, ctx: ab.Context) -> None:
        pass

    async def on_ping_again(self, msg: Ping, ctx: ab.Context) -> None:
        pass


class TwoHandlersThroughAUnion(ab.Actor):
    async def on_either(self, msg: Ping | Pong, ctx: ab.Context) -> None:
        pass

    async def on_pong(self, msg: Pong, ctx: ab.Context) -> None:
        pass


class TestBadHandlers:
    @pytest.mark.parametrize(
        ("actor", "problem"),
        [
            pytest.param(NotAsync, "async def", id="not-async"),
            pytest.param(MissingContext, r"\(self, msg, ctx\)", id="missing-ctx"),
            pytest.param(ExtraParameter, r"\(self, msg, ctx\)", id="extra-parameter"),
            pytest.param(KeywordOnlyParameters, r"\(self, msg, ctx\)", id="keyword-only"),
            pytest.param(VariadicParameters, r"\(self, msg, ctx\)", id="variadic"),
            pytest.param(NoAnnotation, "annotation", id="no-annotation"),
            pytest.param(NotAMessageAnnotation, "Message subclass", id="not-a-message"),
            pytest.param(UnionWithANonMessage, "Message subclass", id="union-with-non-message"),
            pytest.param(UnresolvableAnnotation, "cannot resolve", id="unresolvable"),
            pytest.param(TwoHandlersForOneType, "both", id="two-handlers-one-type"),
            pytest.param(TwoHandlersThroughAUnion, "both", id="two-handlers-via-union"),
        ],
    )
    async def test_spawning_raises_actor_definition_error(
        self, actor: type[ab.Actor], problem: str
    ) -> None:
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                with pytest.raises(ab.ActorDefinitionError, match=problem) as caught:
                    await bus.spawn(actor, name="bad")
                # The bus is unharmed and the name is still free.
                assert bus.actors() == ()
                good = await bus.spawn(Good, name="bad")
                await bus.publish("in", Ping())
                await bus.drain()
        assert caught.value.actor == actor.__qualname__
        assert isinstance(caught.value, TypeError)
        assert good.actor.got == 1


def define(**attributes: object) -> type[ab.Actor]:
    """Define an Actor subclass with the given class attributes."""
    return type("Defined", (ab.Actor,), dict(attributes))


class TestBadClassAttributes:
    @pytest.mark.parametrize(
        "attributes",
        [
            pytest.param({"subscribe": "a.b"}, id="subscribe-is-a-str"),
            pytest.param({"subscribe": None}, id="subscribe-is-none"),
            pytest.param({"subscribe": 5}, id="subscribe-is-an-int"),
            pytest.param({"concurrency": 0}, id="concurrency-0"),
            pytest.param({"concurrency": -1}, id="concurrency-negative"),
            pytest.param({"concurrency": 1.5}, id="concurrency-float"),
            pytest.param({"concurrency": True}, id="concurrency-bool"),
            pytest.param({"max_retries": -1}, id="max_retries-negative"),
            pytest.param({"mailbox_size": 0}, id="mailbox_size-0"),
            pytest.param({"mailbox_size": "big"}, id="mailbox_size-str"),
            pytest.param({"retry_delay": -0.1}, id="retry_delay-negative"),
            pytest.param({"retry_delay_max": "1"}, id="retry_delay_max-str"),
            pytest.param({"overflow": "explode"}, id="overflow-unknown"),
        ],
    )
    def test_raises_actor_definition_error_at_class_definition(
        self, attributes: dict[str, object]
    ) -> None:
        with pytest.raises(ab.ActorDefinitionError) as caught:
            define(**attributes)
        assert caught.value.actor == "Defined"
        (name,) = attributes
        assert f"`{name}`" in caught.value.problem

    @pytest.mark.parametrize(
        ("pattern", "reason"),
        [
            pytest.param("", "empty", id="empty"),
            pytest.param("a..b", "empty token", id="empty-token"),
            pytest.param("a.>.b", "last token", id="gt-not-last"),
            pytest.param("a.b*", "mixes a wildcard", id="wildcard-inside-a-token"),
            pytest.param("a b", "whitespace", id="space"),
            pytest.param("agents.{name}..x", "empty token", id="with-the-name-placeholder"),
        ],
    )
    def test_an_invalid_pattern_raises_an_actor_definition_error_naming_it(
        self, pattern: str, reason: str
    ) -> None:
        # Issue 12, point 8: an ActorDefinitionError naming the class, the pattern
        # and why, which is also an InvalidTopic (so `except InvalidTopic` works).
        with pytest.raises(ab.InvalidSubscription) as caught:
            define(subscribe=("ok", pattern))
        error = caught.value
        assert isinstance(error, ab.ActorDefinitionError)
        assert isinstance(error, ab.InvalidTopic)
        assert (error.actor, error.topic) == ("Defined", pattern)
        assert reason in error.reason
        assert str(error).startswith("actor class Defined: `subscribe`")
        assert repr(pattern) in str(error)
        assert reason in str(error)

    @pytest.mark.parametrize(
        ("entry", "shown"),
        [
            pytest.param(5, "5", id="int"),
            pytest.param(None, "None", id="none"),
            pytest.param(b"a.b", "b'a.b'", id="bytes"),
        ],
    )
    def test_a_subscribe_entry_that_is_not_a_str_raises_an_actor_definition_error(
        self, entry: object, shown: str
    ) -> None:
        with pytest.raises(ab.ActorDefinitionError) as caught:
            define(subscribe=("ok", entry))
        assert isinstance(caught.value, ab.InvalidSubscription)
        assert caught.value.actor == "Defined"
        assert f"invalid pattern {shown}: a pattern must be a str" in caught.value.problem

    @pytest.mark.parametrize(
        "attributes",
        [
            pytest.param({"subscribe": ["a.*", "b.>"]}, id="subscribe-list"),
            pytest.param({"concurrency": 8}, id="concurrency-8"),
            pytest.param({"max_retries": 0}, id="max_retries-0"),
            pytest.param({"retry_delay": 0}, id="retry_delay-0"),
            pytest.param({"overflow": "drop_oldest"}, id="drop_oldest"),
            pytest.param({"overflow": "reject"}, id="reject"),
            pytest.param({"mailbox_size": 1}, id="mailbox_size-1"),
        ],
    )
    def test_valid_attributes_are_accepted(self, attributes: dict[str, object]) -> None:
        cls = define(**attributes)
        for name, value in attributes.items():
            assert getattr(cls, name) == value
