"""Publishing: receipts, seqs, routing by topic, and refused publishes."""

from __future__ import annotations

import anyio
import pytest

import actorbus as ab


class Item(ab.Message):
    n: int


class Collector(ab.Actor):
    """Records (topic, n, seq) of every Item on the patterns it is given."""

    subscribe = ("orders.*", "audit.>")

    def __init__(self) -> None:
        self.got: list[tuple[str, int, int]] = []

    async def on_item(self, msg: Item, ctx: ab.Context) -> None:
        self.got.append((ctx.topic, msg.n, ctx.seq))


class ExactCollector(ab.Actor):
    subscribe = ("orders.new",)

    def __init__(self) -> None:
        self.got: list[int] = []

    async def on_item(self, msg: Item, ctx: ab.Context) -> None:
        self.got.append(msg.n)


class TestReceipt:
    async def test_publish_returns_seq_id_and_not_duplicate(self) -> None:
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                await bus.spawn(ExactCollector)
                receipt = await bus.publish("orders.new", Item(n=1))
        assert isinstance(receipt, ab.Receipt)
        assert receipt.seq == 1
        assert receipt.duplicate is False
        assert isinstance(receipt.id, str)
        assert receipt.id

    async def test_seqs_increase_by_one_per_accepted_message(self) -> None:
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                receipts = [await bus.publish("orders.new", Item(n=i)) for i in range(5)]
                assert bus.log.last_seq == 5
        assert [r.seq for r in receipts] == [1, 2, 3, 4, 5]
        assert len({r.id for r in receipts}) == 5

    async def test_key_becomes_the_message_id(self) -> None:
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                receipt = await bus.publish("orders.new", Item(n=1), key="order-1")
        assert receipt.id == "order-1"

    async def test_a_message_nobody_subscribes_to_is_still_logged(self) -> None:
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                receipt = await bus.publish("nobody.listens", Item(n=1))
                [record] = await bus.log.read(receipt.seq)
        assert record.topic == "nobody.listens"
        assert record.message == Item(n=1)


class TestRouting:
    @pytest.mark.parametrize(
        ("topic", "delivered"),
        [
            pytest.param("orders.new", True, id="star-matches-one-token"),
            pytest.param("orders", False, id="star-needs-a-token"),
            pytest.param("orders.new.eu", False, id="star-matches-only-one-token"),
            pytest.param("audit.x", True, id="gt-matches-one-token"),
            pytest.param("audit.x.y.z", True, id="gt-matches-many-tokens"),
            pytest.param("audit", False, id="gt-needs-a-token"),
            pytest.param("other.new", False, id="other-topic"),
        ],
    )
    async def test_delivers_by_subscription_pattern(self, topic: str, delivered: bool) -> None:
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                ref = await bus.spawn(Collector)
                receipt = await bus.publish(topic, Item(n=7))
                await bus.drain()
        assert ref.actor.got == ([(topic, 7, receipt.seq)] if delivered else [])

    async def test_each_subscriber_gets_each_message_once(self) -> None:
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                wild = await bus.spawn(Collector)
                exact = await bus.spawn(ExactCollector)
                for i in range(3):
                    await bus.publish("orders.new", Item(n=i))
                await bus.drain()
        assert [n for _, n, _ in wild.actor.got] == [0, 1, 2]
        assert exact.actor.got == [0, 1, 2]

    async def test_only_messages_published_after_spawn_are_received(self) -> None:
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                await bus.publish("orders.new", Item(n=0))
                ref = await bus.spawn(ExactCollector)
                await bus.publish("orders.new", Item(n=1))
                await bus.drain()
        assert ref.actor.got == [1]


class TestRefusedPublish:
    @pytest.mark.parametrize(
        "topic",
        [
            pytest.param("", id="empty"),
            pytest.param("orders.*", id="star-wildcard"),
            pytest.param("orders.>", id="gt-wildcard"),
            pytest.param("orders..new", id="empty-token"),
            pytest.param("orders.new.", id="trailing-dot"),
            pytest.param("orders new", id="space"),
        ],
    )
    async def test_invalid_topic_raises_and_appends_nothing(self, topic: str) -> None:
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                ref = await bus.spawn(Collector)
                with pytest.raises(ab.InvalidTopic) as caught:
                    await bus.publish(topic, Item(n=1))
                assert bus.log.last_seq == 0
                await bus.drain()
        assert isinstance(caught.value, ValueError)
        assert ref.actor.got == []

    async def test_a_non_message_raises_type_error_and_appends_nothing(self) -> None:
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                await bus.spawn(ExactCollector)
                with pytest.raises(TypeError, match=r"actorbus\.Message"):
                    await bus.publish("orders.new", {"n": 1})  # type: ignore[arg-type]
                assert bus.log.last_seq == 0

    @pytest.mark.parametrize(
        "key", [pytest.param("", id="empty"), pytest.param(42, id="not-a-str")]
    )
    async def test_a_bad_key_raises_type_error_and_appends_nothing(self, key: object) -> None:
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                with pytest.raises(TypeError, match="key"):
                    await bus.publish("orders.new", Item(n=1), key=key)  # type: ignore[arg-type]
                assert bus.log.last_seq == 0
