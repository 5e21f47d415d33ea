"""A custom actor in 20 lines: it counts words, and a client asks it."""

import asyncio

import actorbus as ab


class Count(ab.Message):
    text: str


class Counted(ab.Message):
    words: int


class Counter(ab.Actor):
    subscribe = ("text.count",)

    async def on_count(self, msg: Count, ctx: ab.Context) -> Counted:
        return Counted(words=len(msg.text.split()))


async def main() -> None:
    async with ab.Bus() as bus:
        await bus.spawn(Counter, name="counter")
        print(await bus.ask("text.count", Count(text="actors keep their promises")))


if __name__ == "__main__":
    asyncio.run(main())
