"""The running async library's own fast primitives: a checkpoint and a one-shot waiter.

anyio finds the backend on every call, and its cancel scopes cost about 10 us to
enter and leave on asyncio; the bus checkpoints between batches and waits for every
``ask`` reply, so it picks the backend's primitives once, when it opens. They keep
anyio's semantics: a checkpoint yields to the scheduler and delivers a pending
cancellation, and a waiter's wait is cancelled by an enclosing anyio cancel scope.
"""

from __future__ import annotations

import asyncio
import math
import queue
import threading
from collections.abc import Awaitable, Callable
from typing import Any, Generic, Protocol, TypeVar, final

__all__ = [
    "Gate",
    "Pending",
    "Primitives",
    "Waiter",
    "Worker",
    "current_library",
    "gate",
    "primitives",
    "worker",
]

T = TypeVar("T")


class Waiter(Protocol[T]):
    """A one-shot slot one task waits on and another fills."""

    def done(self) -> bool:
        """Tell whether a value has been set (or the wait timed out)."""
        ...

    def set(self, value: T) -> None:
        """Fill the slot and wake the waiting task; ignored once done."""
        ...

    async def wait(self, timeout: float) -> T:
        """Return the value once set.

        Raises:
            TimeoutError: no value within ``timeout`` seconds.
        """
        ...


class Gate(Protocol):
    """A one-shot gate many tasks wait on until one opens it."""

    def open(self) -> None:
        """Let every waiting (and future) waiter through."""
        ...

    def waiter(self) -> Awaitable[None]:
        """Return an awaitable that completes once the gate is open (no coroutine)."""
        ...


@final
class _AsyncioGate:
    # One future per waiter (a cancelled waiter must not cancel the others), kept
    # in a list that is never searched: asyncio.Event removes each waiter from a
    # deque, which is quadratic when a hundred wait on one event.
    __slots__ = ("_loop", "_open", "_waiters")

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._open = False
        self._waiters: list[asyncio.Future[None]] = []

    def open(self) -> None:
        self._open = True
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._waiters.clear()

    def waiter(self) -> Awaitable[None]:
        waiter = self._loop.create_future()
        if self._open:
            waiter.set_result(None)
        else:
            self._waiters.append(waiter)
        return waiter


def gate() -> Gate:
    """Return a new gate for the async library running this task."""
    if current_library() == "asyncio":
        return _AsyncioGate()
    return _TrioGate()


@final
class _TrioGate:
    __slots__ = ("_event",)

    def __init__(self) -> None:
        import trio

        self._event = trio.Event()

    def open(self) -> None:
        self._event.set()

    def waiter(self) -> Awaitable[None]:
        result: Awaitable[None] = self._event.wait()
        return result


class Worker(Protocol):
    """Runs blocking calls, one at a time and in order, in a thread of its own."""

    def submit(self, fn: Callable[..., T], *args: Any, handoff: bool = False) -> Pending[T]:
        """Queue ``fn(*args)`` for the worker's thread now; return its pending outcome.

        With ``handoff``, wait (at most 0.5 ms, blocking) for the thread to start
        the call, so that its I/O runs beside the event loop's next burst of work.
        """
        ...

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Return ``fn(*args)``, called in the worker's thread."""
        ...

    def stop(self) -> None:
        """Let the thread end once the calls already given are done."""
        ...


@final
class Pending(Generic[T]):
    """The outcome of a call given to a `Worker`: awaited by one task, once."""

    __slots__ = ("_error", "_result", "_waiter")

    def __init__(self, waiter: Waiter[None]) -> None:
        self._waiter = waiter
        self._result: T | None = None
        self._error: BaseException | None = None

    def settle(self, result: T | None, error: BaseException | None) -> None:
        """Store the outcome and wake the awaiting task (called in the loop's thread)."""
        self._result, self._error = result, error
        self._waiter.set(None)

    async def result(self) -> T:
        """Return the call's result once it is done, or raise its exception."""
        await self._waiter.wait(math.inf)
        if self._error is not None:
            raise self._error
        return self._result  # type: ignore[return-value]  # settle() stored a T


_HANDOFF = 0.0005  # seconds `submit` lets the worker's thread start the call


@final
class _ThreadWorker:
    # A dedicated thread fed through a SimpleQueue that answers through the loop's
    # thread-safe callback: about half the round trip of anyio.to_thread, which
    # matters when every group commit makes one, and `submit` hands the call over
    # at once, so a caller can start a write without awaiting it.
    __slots__ = ("_call_soon", "_make_waiter", "_queue", "_thread")

    def __init__(
        self, call_soon: Callable[..., object], make_waiter: Callable[[], Waiter[None]]
    ) -> None:
        self._call_soon = call_soon
        self._make_waiter = make_waiter
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._serve, name="actorbus-worker", daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[..., T], *args: Any, handoff: bool = False) -> Pending[T]:
        pending: Pending[T] = Pending(self._make_waiter())
        started = threading.Event() if handoff else None
        self._queue.put((fn, args, pending, started))
        if started is not None:
            # Give the thread the GIL now, while it is cheap to wait: otherwise it
            # waits for the loop to go idle (or for the 5 ms switch interval), and
            # its I/O starts only after the loop's burst of work instead of beside
            # it. Bounded: a thread busy with an earlier call costs at most 0.5 ms.
            started.wait(_HANDOFF)
        return pending

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        return await self.submit(fn, *args).result()

    def stop(self) -> None:
        self._queue.put(None)

    def _serve(self) -> None:
        while (item := self._queue.get()) is not None:
            fn, args, pending, started = item
            if started is not None:
                started.set()
            outcome: tuple[Any, BaseException | None]
            try:
                outcome = (fn(*args), None)
            except BaseException as exc:  # handed to the awaiting task, not swallowed
                outcome = (None, exc)
            try:
                self._call_soon(pending.settle, *outcome)
            except RuntimeError:  # the loop is gone: nobody is waiting any more
                return


def worker() -> Worker:
    """Return a new worker (and its thread) for the async library running this task."""
    if current_library() == "asyncio":
        loop = asyncio.get_running_loop()
        deadlines = _Deadlines(loop)
        return _ThreadWorker(loop.call_soon_threadsafe, lambda: _AsyncioWaiter(deadlines))
    import trio

    return _ThreadWorker(trio.lowlevel.current_trio_token().run_sync_soon, _TrioWaiter)


def current_library() -> str:
    """Return ``"asyncio"`` or ``"trio"``: the async library running this task."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return "trio"
    return "asyncio"


def _asyncio_checkpoint() -> Awaitable[None]:
    return asyncio.sleep(0)


@final
class _Deadlines:
    """Time-outs for many asyncio waiters on one timer, armed at the earliest deadline.

    A ``call_later`` per wait costs more than the rest of an ask's bookkeeping;
    here adding and removing a deadline is a dict operation, and the timer is only
    re-armed when a deadline earlier than the armed one arrives.
    """

    __slots__ = ("_armed_at", "_handle", "_loop", "_waiting")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._waiting: dict[asyncio.Future[Any], float] = {}
        self._handle: asyncio.TimerHandle | None = None
        self._armed_at = math.inf

    def add(self, future: asyncio.Future[Any], deadline: float) -> None:
        self._waiting[future] = deadline
        if deadline < self._armed_at:
            self._arm(deadline)

    def remove(self, future: asyncio.Future[Any]) -> None:
        del self._waiting[future]

    def _arm(self, deadline: float) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._armed_at = deadline
        self._handle = self._loop.call_at(deadline, self._fire)

    def _fire(self) -> None:
        self._handle = None
        self._armed_at = math.inf
        now = self._loop.time()
        earliest = math.inf
        for future, deadline in list(self._waiting.items()):
            if deadline <= now:
                del self._waiting[future]
                if not future.done():
                    future.set_exception(TimeoutError())
            else:
                earliest = min(earliest, deadline)
        if earliest < math.inf:
            self._arm(earliest)


@final
class _AsyncioWaiter(Generic[T]):
    __slots__ = ("_deadlines", "_future")

    def __init__(self, deadlines: _Deadlines) -> None:
        self._deadlines = deadlines
        self._future: asyncio.Future[T] = deadlines._loop.create_future()

    def done(self) -> bool:
        return self._future.done()

    def set(self, value: T) -> None:
        if not self._future.done():
            self._future.set_result(value)

    async def wait(self, timeout: float) -> T:
        future = self._future
        if math.isinf(timeout):
            return await future
        deadlines = self._deadlines
        deadlines.add(future, deadlines._loop.time() + timeout)
        try:
            return await future
        finally:
            deadlines._waiting.pop(future, None)


@final
class _TrioWaiter(Generic[T]):
    __slots__ = ("_event", "_value")

    def __init__(self) -> None:
        import trio

        self._event = trio.Event()
        self._value: T | None = None

    def done(self) -> bool:
        return self._event.is_set()

    def set(self, value: T) -> None:
        if not self._event.is_set():
            self._value = value
            self._event.set()

    async def wait(self, timeout: float) -> T:
        import trio

        with trio.move_on_after(timeout):
            await self._event.wait()
            return self._value  # type: ignore[return-value]  # set() stored a T
        raise TimeoutError


@final
class Primitives:
    """The primitives of one async library.

    Attributes:
        library: ``"asyncio"`` or ``"trio"``.
        checkpoint: a zero-argument checkpoint.
        waiter: makes a new `Waiter`.
        clock: the library's clock, in seconds (what ``anyio.current_time`` reads).
    """

    __slots__ = ("checkpoint", "clock", "library", "waiter")

    def __init__(
        self,
        library: str,
        checkpoint: Callable[[], Awaitable[None]],
        waiter: Callable[[], Waiter[Any]],
        clock: Callable[[], float],
    ) -> None:
        self.library = library
        self.checkpoint = checkpoint
        self.waiter = waiter
        self.clock = clock


def primitives() -> Primitives:
    """Return the primitives of the async library running this task."""
    if current_library() == "asyncio":
        loop = asyncio.get_running_loop()
        deadlines = _Deadlines(loop)
        return Primitives(
            "asyncio", _asyncio_checkpoint, lambda: _AsyncioWaiter(deadlines), loop.time
        )
    import trio

    return Primitives("trio", trio.lowlevel.checkpoint, _TrioWaiter, trio.current_time)
