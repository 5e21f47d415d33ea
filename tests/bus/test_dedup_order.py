"""De-duplication by key, and per-actor seq order under concurrent publishers."""

from __future__ import annotations

import anyio
import pytest

import actorbus as ab


class Entry(ab.Message):
    publisher: int
    n: int


class Recorder(ab.Actor):
    """Records (seq, publisher, n) of every entry; yields once per entry."""

    subscribe = ("entries.*",)

    def __init__(self) -> None:
        self.got: list[tuple[int, int, int]] = []

    async def on_entry(self, msg: Entry, ctx: ab.Context) -> None:
        self.got.append((ctx.seq, msg.publisher, msg.n))
        await anyio.lowlevel.checkpoint()


class SmallRecorder(Recorder):
    """A recorder whose mailbox fills, so publishers must wait and interleave."""

    mailbox_size = 3


class HeldRecorder(Recorder):
    """Holds its first entry until ``gate`` is set, with a mailbox of one."""

    mailbox_size = 1

    def __init__(self, gate: anyio.Event, started: anyio.Event) -> None:
        super().__init__()
        self.gate = gate
        self.started = started

    async def on_entry(self, msg: Entry, ctx: ab.Context) -> None:
        await super().on_entry(msg, ctx)
        self.started.set()
        await self.gate.wait()


class TestDedup:
    async def test_a_repeated_key_returns_the_original_seq_and_is_handled_once(self) -> None:
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                ref = await bus.spawn(Recorder)
                first = await bus.publish("entries.a", Entry(publisher=0, n=1), key="k1")
                second = await bus.publish("entries.a", Entry(publisher=0, n=2), key="k1")
                assert bus.log.last_seq == 1
                await bus.drain()
                stats = bus.statistics()
        assert first == ab.Receipt(seq=1, id="k1", duplicate=False)
        assert second == ab.Receipt(seq=1, id="k1", duplicate=True)
        assert ref.actor.got == [(1, 0, 1)]
        assert (stats.published, stats.duplicates) == (1, 1)

    async def test_a_duplicate_is_detected_on_another_topic_too(self) -> None:
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                ref = await bus.spawn(Recorder)
                await bus.publish("entries.a", Entry(publisher=0, n=1), key="k1")
                again = await bus.publish("entries.b", Entry(publisher=0, n=1), key="k1")
                await bus.drain()
        assert again.duplicate
        assert ref.actor.got == [(1, 0, 1)]

    async def test_distinct_keys_are_not_duplicates(self) -> None:
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                ref = await bus.spawn(Recorder)
                a = await bus.publish("entries.a", Entry(publisher=0, n=1), key="k1")
                b = await bus.publish("entries.a", Entry(publisher=0, n=1), key="k2")
                await bus.drain()
        assert (a.duplicate, b.duplicate) == (False, False)
        assert [seq for seq, _, _ in ref.actor.got] == [1, 2]

    async def test_republishing_a_generated_id_as_key_is_a_duplicate(self) -> None:
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                ref = await bus.spawn(Recorder)
                first = await bus.publish("entries.a", Entry(publisher=0, n=1))
                again = await bus.publish("entries.a", Entry(publisher=0, n=1), key=first.id)
                await bus.drain()
        assert again == ab.Receipt(seq=first.seq, id=first.id, duplicate=True)
        assert len(ref.actor.got) == 1

    @pytest.mark.parametrize(
        "busy",
        [
            pytest.param(False, id="idle-actor"),
            # The first publish of the key waits for room in the full mailbox while
            # the others arrive.
            pytest.param(True, id="publisher-waiting-for-room"),
        ],
    )
    async def test_concurrent_publishes_of_one_key_deliver_exactly_once(self, busy: bool) -> None:
        tasks = 50
        go, gate, started = anyio.Event(), anyio.Event(), anyio.Event()
        receipts: list[ab.Receipt] = []

        async def publish(i: int) -> None:
            await go.wait()
            receipts.append(await bus.publish("entries.k", Entry(publisher=i, n=0), key="same"))

        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                if not busy:
                    gate.set()
                held = await bus.spawn(HeldRecorder, gate, started)
                plain = await bus.spawn(Recorder)
                if busy:
                    await bus.publish("entries.x", Entry(publisher=-1, n=0))
                    await started.wait()
                    await bus.publish("entries.x", Entry(publisher=-1, n=1))  # full now
                async with anyio.create_task_group() as tg:
                    for i in range(tasks):
                        tg.start_soon(publish, i)
                    await anyio.wait_all_tasks_blocked()
                    go.set()
                    await anyio.wait_all_tasks_blocked()
                    gate.set()
                await bus.drain()
        originals = [r for r in receipts if not r.duplicate]
        assert len(receipts) == tasks
        assert len(originals) == 1
        assert {r.seq for r in receipts} == {originals[0].seq}
        for ref in (held, plain):
            keyed = [seq for seq, publisher, _ in ref.actor.got if publisher >= 0]
            assert keyed == [originals[0].seq]


class TestOrderUnderConcurrentPublishers:
    @pytest.mark.parametrize(
        "actor",
        [
            pytest.param(Recorder, id="roomy-mailbox"),
            pytest.param(SmallRecorder, id="full-mailbox-blocks"),
        ],
    )
    async def test_each_actor_sees_increasing_seqs_and_each_publishers_order(
        self, actor: type[Recorder]
    ) -> None:
        publishers, per_publisher = 5, 200
        receipts: dict[int, list[int]] = {i: [] for i in range(publishers)}

        async def publish(i: int) -> None:
            for n in range(per_publisher):
                receipt = await bus.publish(f"entries.p{i % 2}", Entry(publisher=i, n=n))
                receipts[i].append(receipt.seq)
                await anyio.lowlevel.checkpoint()  # let the publishers interleave

        with anyio.fail_after(10):
            async with ab.Bus() as bus:
                refs = [await bus.spawn(actor) for _ in range(3)]
                async with anyio.create_task_group() as tg:
                    for i in range(publishers):
                        tg.start_soon(publish, i)
                await bus.drain()
        for seqs in receipts.values():
            assert seqs == sorted(seqs)
        all_seqs = sorted(seq for seqs in receipts.values() for seq in seqs)
        assert all_seqs == list(range(1, publishers * per_publisher + 1))
        # The publishers really interleaved: some seq of one falls between another's.
        assert max(receipts[0]) > min(receipts[1])
        assert max(receipts[1]) > min(receipts[0])
        for ref in refs:
            got = ref.actor.got
            assert len(got) == publishers * per_publisher
            assert [seq for seq, _, _ in got] == all_seqs
            for i in range(publishers):
                assert [n for _, p, n in got if p == i] == list(range(per_publisher))
