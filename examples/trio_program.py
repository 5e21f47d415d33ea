"""The bus in a Trio program: the same actors, Trio's nursery and cancellation."""

import trio

import actorbus as ab


class Ping(ab.Message):
    n: int


class Pong(ab.Message):
    n: int


class Ponger(ab.Actor):
    subscribe = ("ping",)

    async def on_ping(self, msg: Ping, ctx: ab.Context) -> Pong:
        return Pong(n=msg.n + 1)


async def main() -> None:
    async with ab.Bus() as bus:
        await bus.spawn(Ponger, name="ponger")
        replies: list[ab.Message] = []

        async def ask(n: int) -> None:
            replies.append(await bus.ask("ping", Ping(n=n), timeout=5))

        async with trio.open_nursery() as nursery:
            for n in range(3):
                nursery.start_soon(ask, n)
        print(sorted(r.n for r in replies if isinstance(r, Pong)))


if __name__ == "__main__":
    trio.run(main)
