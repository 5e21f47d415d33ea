"""A provider's limits as a unit: token credit and shortfall, the in-flight cap."""

from __future__ import annotations

import anyio

from actorbus._models._limits import ProviderLimits


async def test_tokens_a_call_did_not_use_are_credited_to_the_next() -> None:
    limits = ProviderLimits(None, tokens_per_minute=600, max_concurrent=None)  # 10/s
    await limits.acquire(10)  # the bucket is full now: 9 more would take 0.9 s
    await limits.correct(estimated=10, used=1)
    with anyio.fail_after(0.3):
        await limits.acquire(9)  # paid from the 9 credited


async def test_tokens_a_call_used_beyond_its_estimate_are_taken_after() -> None:
    limits = ProviderLimits(None, tokens_per_minute=600, max_concurrent=None)
    await limits.acquire(1)
    started = anyio.current_time()
    await limits.correct(estimated=1, used=15)  # 14 more: 9 fit, 5 wait for 0.5 s
    assert anyio.current_time() - started >= 0.4


async def test_max_concurrent_holds_requests_until_one_is_released() -> None:
    limits = ProviderLimits(None, None, max_concurrent=1)
    await limits.acquire(0)
    second = anyio.Event()

    async def other() -> None:
        await limits.acquire(0)
        second.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(other)
        await anyio.wait_all_tasks_blocked()
        assert not second.is_set()
        limits.release()
        await second.wait()
        limits.release()


async def test_no_limits_never_wait() -> None:
    limits = ProviderLimits(None, None, None)
    with anyio.fail_after(1):
        for _ in range(1000):
            await limits.acquire(10_000)
            limits.release()
