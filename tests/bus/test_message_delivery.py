"""Messages and envelopes: frozen, keyword-only, tagged Structs, carried as objects."""

from __future__ import annotations

import time

import anyio
import msgspec
import pytest

import actorbus as ab


class Note(ab.Message):
    text: str
    tags: list[str] = msgspec.field(default_factory=list)


class Renamed(ab.Message, tag="renamed-note"):
    text: str


class Seen:
    """What a handler saw: the message object and its envelope."""

    def __init__(self) -> None:
        self.messages: list[ab.Message] = []
        self.envelopes: list[ab.Envelope] = []


class Keeper(ab.Actor):
    subscribe = ("notes.>",)

    def __init__(self, seen: Seen) -> None:
        self.seen = seen

    async def on_message(self, msg: ab.Message, ctx: ab.Context) -> None:
        self.seen.messages.append(msg)
        self.seen.envelopes.append(ctx.envelope)


class TestMessageClass:
    def test_is_a_msgspec_struct(self) -> None:
        assert issubclass(Note, msgspec.Struct)
        assert isinstance(Note(text="a"), ab.Message)

    def test_instances_are_frozen(self) -> None:
        note = Note(text="a")
        with pytest.raises(AttributeError):
            note.text = "b"  # type: ignore[misc]

    def test_fields_are_keyword_only(self) -> None:
        with pytest.raises(TypeError):
            Note("a")  # type: ignore[call-arg]

    def test_encoding_is_tagged_with_the_class_name(self) -> None:
        assert msgspec.json.decode(msgspec.json.encode(Note(text="a"))) == {
            "type": "Note",
            "text": "a",
            "tags": [],
        }
        assert ab.message_tag(Note) == "Note"

    def test_a_subclass_may_choose_its_tag(self) -> None:
        assert ab.message_tag(Renamed) == "renamed-note"
        assert b'"type":"renamed-note"' in msgspec.json.encode(Renamed(text="a"))

    def test_the_tag_tells_types_apart_when_decoding(self) -> None:
        decoder = msgspec.json.Decoder(Note | Renamed)
        assert decoder.decode(msgspec.json.encode(Renamed(text="x"))) == Renamed(text="x")
        assert decoder.decode(msgspec.json.encode(Note(text="x"))) == Note(text="x")


BUILT_INS = [
    pytest.param(ab.Request(action="summarize", content="text"), id="Request"),
    pytest.param(ab.Response(content="done"), id="Response"),
    pytest.param(ab.StateUpdate(key="k", value=1, revision=2), id="StateUpdate"),
    pytest.param(ab.TaskDelegation(task_id="t1", capability="search"), id="TaskDelegation"),
    pytest.param(ab.Register(actor="a", capabilities=("search",)), id="Register"),
    pytest.param(
        ab.DeadLetter(
            actor="a",
            message=ab.Request(),
            envelope=ab.EnvelopeInfo(
                seq=1,
                id="x",
                topic="t",
                type="Request",
                sender=None,
                timestamp=0.0,
                correlation_id=None,
                reply_to=None,
                causation=None,
            ),
            error_type="ValueError",
            error="bad",
        ),
        id="DeadLetter",
    ),
]


class TestBuiltInMessages:
    @pytest.mark.parametrize("msg", BUILT_INS)
    def test_is_a_frozen_tagged_message(self, msg: ab.Message) -> None:
        cls = type(msg)
        assert issubclass(cls, ab.Message)
        assert cls.__struct_config__.frozen
        assert msgspec.json.decode(msgspec.json.encode(msg))["type"] == cls.__name__

    @pytest.mark.parametrize("msg", BUILT_INS)
    def test_fields_are_keyword_only(self, msg: ab.Message) -> None:
        values = [getattr(msg, name) for name in type(msg).__struct_fields__]
        with pytest.raises(TypeError):
            type(msg)(*values)

    @pytest.mark.parametrize("msg", BUILT_INS)
    async def test_is_delivered_as_the_same_object(self, msg: ab.Message) -> None:
        seen = Seen()
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                await bus.spawn(Keeper, seen)
                await bus.publish("notes.builtin", msg)
                await bus.drain()
        assert seen.messages == [msg]
        assert seen.messages[0] is msg


class TestInMemoryDelivery:
    async def test_handler_receives_the_published_object_not_a_copy(self) -> None:
        note = Note(text="a", tags=["mutable", "list"])
        seen = Seen()
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                await bus.spawn(Keeper, seen)
                await bus.publish("notes.one", note)
                await bus.drain()
        assert seen.messages[0] is note
        assert seen.messages[0].tags is note.tags
        assert seen.envelopes[0].message is note

    async def test_every_subscriber_receives_the_same_object(self) -> None:
        first, second = Seen(), Seen()
        note = Note(text="shared")
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                await bus.spawn(Keeper, first)
                await bus.spawn(Keeper, second)
                await bus.publish("notes.shared", note)
                await bus.drain()
        assert first.messages[0] is note
        assert second.messages[0] is note


class TestEnvelope:
    async def test_carries_where_and_when_the_message_travelled(self) -> None:
        seen = Seen()
        before = time.time()
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                await bus.spawn(Keeper, seen)
                receipt = await bus.publish("notes.env", Note(text="a"))
                await bus.drain()
        after = time.time()
        [env] = seen.envelopes
        assert env.seq == receipt.seq == 1
        assert env.id == receipt.id
        assert env.topic == "notes.env"
        assert env.type == "Note"
        assert env.sender is None
        assert before <= env.timestamp <= after
        assert env.correlation_id is None
        assert env.reply_to is None
        assert env.causation is None

    async def test_type_is_the_message_tag(self) -> None:
        seen = Seen()
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                await bus.spawn(Keeper, seen)
                await bus.publish("notes.env", Renamed(text="a"))
                await bus.drain()
        assert seen.envelopes[0].type == "renamed-note"

    async def test_carries_the_callers_correlation_id(self) -> None:
        seen = Seen()
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                await bus.spawn(Keeper, seen)
                await bus.publish("notes.env", Note(text="a"), correlation_id="conv-7")
                await bus.drain()
        assert seen.envelopes[0].correlation_id == "conv-7"

    async def test_info_has_every_field_but_the_message(self) -> None:
        seen = Seen()
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                await bus.spawn(Keeper, seen)
                await bus.publish("notes.env", Note(text="a"), key="k-1", correlation_id="c")
                await bus.drain()
        env = seen.envelopes[0]
        assert env.info() == ab.EnvelopeInfo(
            seq=env.seq,
            id="k-1",
            topic="notes.env",
            type="Note",
            sender=None,
            timestamp=env.timestamp,
            correlation_id="c",
            reply_to=None,
            causation=None,
        )
