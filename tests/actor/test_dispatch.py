"""Handler dispatch: a message goes to the handler for its most specific annotated type."""

from __future__ import annotations

import anyio
import pytest

import actorbus as ab


class Animal(ab.Message):
    name: str


class Dog(Animal):
    pass


class Puppy(Dog):
    pass


class Cat(Animal):
    pass


class Car(ab.Message):
    model: str


class Boat(ab.Message):
    model: str


class Unrelated(ab.Message):
    pass


class Recording(ab.Actor):
    """Records (handler, message type) for each message handled."""

    subscribe = ("in",)

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []


class Zoo(Recording):
    """Has a handler for the base class and one for a subclass."""

    async def on_animal(self, msg: Animal, ctx: ab.Context) -> None:
        self.calls.append(("on_animal", type(msg).__name__))

    async def on_dog(self, msg: Dog, ctx: ab.Context) -> None:
        self.calls.append(("on_dog", type(msg).__name__))


class ZooDogFirst(Recording):
    """The same handlers declared in the other order (and with names sorting the other way)."""

    async def on_a_dog(self, msg: Dog, ctx: ab.Context) -> None:
        self.calls.append(("on_dog", type(msg).__name__))

    async def on_z_animal(self, msg: Animal, ctx: ab.Context) -> None:
        self.calls.append(("on_animal", type(msg).__name__))


class Garage(Recording):
    """One handler for a union of message types, another for the rest."""

    async def on_vehicle(self, msg: Car | Boat, ctx: ab.Context) -> None:
        self.calls.append(("on_vehicle", type(msg).__name__))

    async def on_animal(self, msg: Animal, ctx: ab.Context) -> None:
        self.calls.append(("on_animal", type(msg).__name__))


class Catchall(Recording):
    async def on_any(self, msg: ab.Message, ctx: ab.Context) -> None:
        self.calls.append(("on_any", type(msg).__name__))

    async def on_cat(self, msg: Cat, ctx: ab.Context) -> None:
        self.calls.append(("on_cat", type(msg).__name__))


class DerivedZoo(Zoo):
    """Overrides the base's Dog handler under another name, and adds a Cat handler."""

    async def on_hound(self, msg: Dog, ctx: ab.Context) -> None:
        self.calls.append(("on_hound", type(msg).__name__))

    async def on_cat(self, msg: Cat, ctx: ab.Context) -> None:
        self.calls.append(("on_cat", type(msg).__name__))


class NotAHandlerHelper(Recording):
    """Methods not named on_* are left alone, whatever they look like."""

    def helper(self, value: int) -> int:
        return value + 1

    async def on_car(self, msg: Car, ctx: ab.Context) -> None:
        self.calls.append(("on_car", type(msg).__name__ + str(self.helper(1))))


class DeadLetters(ab.Actor):
    subscribe = ("_dead.>",)

    def __init__(self, dead: list[str]) -> None:
        self.dead = dead

    async def on_dead(self, msg: ab.DeadLetter, ctx: ab.Context) -> None:
        self.dead.append(type(msg.message).__name__)


async def deliver(
    actor: type[Recording], *messages: ab.Message
) -> tuple[list[tuple[str, str]], list[str]]:
    """Publish ``messages`` to a fresh ``actor``; return its calls and the dead letters' types."""
    dead: list[str] = []
    with anyio.fail_after(5):
        async with ab.Bus() as bus:
            ref = await bus.spawn(actor)
            await bus.spawn(DeadLetters, dead)
            for msg in messages:
                await bus.publish("in", msg)
            await bus.drain()
    return ref.actor.calls, dead


class TestDispatchByAnnotation:
    async def test_a_message_goes_to_the_handler_for_its_type(self) -> None:
        calls, dead = await deliver(Garage, Car(model="a"), Animal(name="b"))
        assert calls == [("on_vehicle", "Car"), ("on_animal", "Animal")]
        assert dead == []

    @pytest.mark.parametrize(
        "actor",
        [pytest.param(Zoo, id="base-declared-first"), pytest.param(ZooDogFirst, id="sub-first")],
    )
    async def test_a_handler_for_a_subclass_beats_one_for_its_base(
        self, actor: type[Recording]
    ) -> None:
        calls, dead = await deliver(actor, Animal(name="a"), Dog(name="d"), Cat(name="c"))
        assert calls == [
            ("on_animal", "Animal"),
            ("on_dog", "Dog"),
            ("on_animal", "Cat"),
        ]
        assert dead == []

    async def test_the_nearest_base_handler_takes_a_deeper_subclass(self) -> None:
        calls, _ = await deliver(Zoo, Puppy(name="p"))
        assert calls == [("on_dog", "Puppy")]

    async def test_a_union_annotation_handles_each_member(self) -> None:
        calls, dead = await deliver(Garage, Boat(model="b"), Car(model="c"))
        assert calls == [("on_vehicle", "Boat"), ("on_vehicle", "Car")]
        assert dead == []

    async def test_a_message_base_annotation_catches_everything_else(self) -> None:
        calls, dead = await deliver(Catchall, Cat(name="c"), Car(model="m"), Unrelated())
        assert calls == [
            ("on_cat", "Cat"),
            ("on_any", "Car"),
            ("on_any", "Unrelated"),
        ]
        assert dead == []

    async def test_a_subclass_actor_overrides_its_bases_handler_for_a_type(self) -> None:
        calls, dead = await deliver(DerivedZoo, Dog(name="d"), Cat(name="c"), Animal(name="a"))
        assert calls == [
            ("on_hound", "Dog"),
            ("on_cat", "Cat"),
            ("on_animal", "Animal"),
        ]
        assert dead == []

    async def test_a_type_without_a_handler_is_dead_lettered(self) -> None:
        calls, dead = await deliver(Garage, Unrelated(), Car(model="c"))
        assert calls == [("on_vehicle", "Car")]
        assert dead == ["Unrelated"]

    async def test_methods_not_named_on_are_not_handlers(self) -> None:
        calls, dead = await deliver(NotAHandlerHelper, Car(model="c"))
        assert calls == [("on_car", "Car2")]
        assert dead == []
