"""The source article's failures, against a real HTTP server (FakeOpenAI).

401 (a clear error, one request), 429 (backoff honouring Retry-After, then success),
malformed and inconsistent answers (clear errors), concurrency (100 actors sharing
one limited provider, measured by the server's own clock), and a crash between
paying for a completion and finishing the handler (the re-run pays nothing).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import pytest

import actorbus as ab
from actorbus.testing import FakeOpenAI, Fault, Reply

from ._support import KEY_ENV, SENTINEL_KEY

HI = [ab.user("hi")]


@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(api_key=SENTINEL_KEY) as fake:
        yield fake


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(KEY_ENV, SENTINEL_KEY)
    return SENTINEL_KEY


def models_for(server: FakeOpenAI, **provider: object) -> ab.Models:
    settings: dict[str, object] = {
        "name": "fake",
        "base_url": server.base_url,
        "api_key_env": KEY_ENV,
        "retry_base": 0.01,
        "retry_cap": 0.05,
        **provider,
    }
    return ab.Models(ab.ModelsConfig(providers=[ab.Provider(**settings)]))  # type: ignore[arg-type]


def stamped_models_for(server: FakeOpenAI, **provider: object) -> tuple[ab.Models, _Stamped]:
    """Models for ``server`` whose requests are stamped as the limiter lets each go.

    The transport is called in the event loop right after the limits are taken, so
    its stamps say what the limiter did; the server, a thread of this process that a
    loaded machine may starve, stamps when it happens to read a request.
    """
    sent = _Stamped(httpx.AsyncHTTPTransport())
    models = models_for(server, **provider)
    return ab.Models(models.config, transports={"fake": sent}), sent


class TestTheArticlesFailures:
    async def test_401_a_wrong_key_is_one_request_and_a_clear_error(
        self, server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv(KEY_ENV, "sk-wrong")
        async with models_for(server) as models:
            with pytest.raises(ab.AuthenticationError) as caught:
                await models.complete(HI, model="gpt-4.1")
        assert server.request_count == 1
        assert server.base_url in str(caught.value)
        assert KEY_ENV in str(caught.value)

    async def test_429_backs_off_as_long_as_retry_after_says_then_succeeds(
        self, server: FakeOpenAI
    ) -> None:
        server.script(Fault.status(429, retry_after="1"), "finally")
        async with models_for(server) as models:
            done = await models.complete(HI, model="gpt-4.1")
        first, second = server.requests
        assert (first.status, second.status) == (429, 200)
        assert second.time - first.time >= 1.0  # by the server's clock
        assert done.text == "finally"
        assert done.attempts == 2

    async def test_429_honours_retry_after_ms(self, server: FakeOpenAI) -> None:
        server.script(Fault.status(429, retry_after_ms=250), Fault.status(503), "ok")
        async with models_for(server) as models:
            done = await models.complete(HI, model="gpt-4.1")
        times = [r.time for r in server.requests]
        assert times[1] - times[0] >= 0.25
        assert done.attempts == 3

    @pytest.mark.parametrize(
        ("fault", "reason"),
        [
            (Fault.malformed(), "not valid JSON"),
            (Fault.inconsistent(), "choices"),
        ],
    )
    async def test_a_malformed_or_inconsistent_answer_is_a_clear_error(
        self, server: FakeOpenAI, fault: Fault, reason: str
    ) -> None:
        server.script(fault)
        async with models_for(server) as models:
            with pytest.raises(ab.ModelResponseError, match=reason) as caught:
                await models.complete(HI, model="gpt-4.1")
        assert caught.value.status == 200
        assert caught.value.model == "gpt-4.1"
        assert caught.value.excerpt
        assert server.request_count == 1

    async def test_a_hung_request_times_out_and_is_retried(self, server: FakeOpenAI) -> None:
        server.script(Fault.hang(5.0), "after the hang")
        async with models_for(server, timeout=0.3) as models:
            done = await models.complete(HI, model="gpt-4.1")
        assert done.text == "after the hang"
        assert done.attempts == 2

    async def test_a_dropped_connection_is_retried(self, server: FakeOpenAI) -> None:
        server.script(Fault.disconnect(), "reconnected")
        async with models_for(server) as models:
            done = await models.complete(HI, model="gpt-4.1")
        assert done.text == "reconnected"
        assert done.attempts == 2

    async def test_a_truncated_stream_is_an_error_not_half_an_answer(
        self, server: FakeOpenAI
    ) -> None:
        server.script(Fault.truncated_stream(after_chunks=2))
        async with models_for(server) as models:
            with pytest.raises(ab.ModelResponseError, match="stream"):
                await models.stream(HI, model="gpt-4.1").text()

    async def test_a_stream_carries_the_servers_text_and_usage(self, server: FakeOpenAI) -> None:
        server.script(Reply(text="one two three", prompt_tokens=11, completion_tokens=3))
        async with models_for(server) as models:
            stream = models.stream(HI, model="gpt-4.1")
            deltas = [d async for d in stream]
        assert "".join(deltas) == "one two three"
        assert len(deltas) > 1
        assert stream.completion is not None
        assert not stream.completion.usage_estimated
        assert stream.completion.usage == ab.Usage(
            prompt_tokens=11, completion_tokens=3, total_tokens=14
        )


async def test_calls_reuse_one_pooled_connection(server: FakeOpenAI) -> None:
    async with models_for(server) as models:
        for _ in range(20):
            await models.complete(HI, model="gpt-4.1")
    assert server.request_count == 20
    assert server.connections_accepted == 1


class Caller(ab.Actor):
    subscribe = ("calls.{name}",)
    model = "deepseek-v3"

    async def on_request(self, msg: ab.Request, ctx: ab.Context) -> None:
        await ctx.complete([ab.user(msg.content)], max_tokens=16)


class Caller96(ab.Actor):
    subscribe = ("calls.{name}",)
    model = "deepseek-v3"

    async def on_request(self, msg: ab.Request, ctx: ab.Context) -> None:
        await ctx.complete([ab.user(msg.content)], max_tokens=96)


class TestSharedLimits:
    async def test_100_actors_share_one_provider_within_its_request_rate(
        self, server: FakeOpenAI
    ) -> None:
        rate = 25.0  # per second: the bucket holds one second's worth, 25 requests
        models, sent = stamped_models_for(server, requests_per_minute=rate * 60)
        async with ab.Bus(models=models) as bus:
            for i in range(100):
                await bus.spawn(Caller, name=f"caller-{i}")
            for i in range(100):
                await bus.publish(f"calls.caller-{i}", ab.Request(action="a", content="x"))
            await bus.drain()
            report = bus.costs()
        assert report.total.calls == 100
        assert len(report.by_actor) == 100
        assert server.request_count == 100
        times = sorted(sent.times)
        assert len(times) == 100
        # Never above the rate, allowing one burst of the bucket, and 0.05 s for the
        # steps between the limiter and the transport.
        jitter = 0.05
        for i in range(len(times)):
            for j in range(i + 1, len(times)):
                assert j - i + 1 <= 25 + rate * (times[j] - times[i] + jitter)
        # Saturated: after the burst, the requests come at >= 90% of the rate.
        after_burst = times[25:]
        achieved = (len(after_burst) - 1) / (after_burst[-1] - after_burst[0])
        assert achieved >= 0.9 * rate

    async def test_tokens_per_minute_holds_by_the_usage_the_server_reports(
        self, server: FakeOpenAI
    ) -> None:
        # Each call is estimated at its prompt (2 tokens) + max_tokens (96) = 98 tokens
        # and really uses 100 (as the server reports): the 2 short are taken after.
        server.reply_with(lambda body: Reply(text="x", prompt_tokens=10, completion_tokens=90))
        per_second = 2500.0  # 25 calls/s; the bucket holds one second's worth
        models, sent = stamped_models_for(server, tokens_per_minute=per_second * 60)
        async with ab.Bus(models=models) as bus:
            for i in range(100):
                await bus.spawn(Caller96, name=f"caller-{i}")
            for i in range(100):
                await bus.publish(f"calls.caller-{i}", ab.Request(action="a", content="x"))
            await bus.drain()
            assert bus.costs().total.prompt_tokens == 100 * 10
        assert server.request_count == 100
        times = sorted(sent.times)
        jitter = 0.05  # as above: stamped as the limiter lets each request go
        for i in range(len(times)):
            for j in range(i + 1, len(times)):
                tokens = (j - i + 1) * 100
                assert tokens <= per_second + per_second * (times[j] - times[i] + jitter) + 100
        after_burst = times[25:]
        achieved = (len(after_burst) - 1) * 100 / (after_burst[-1] - after_burst[0])
        assert achieved >= 0.9 * per_second

    async def test_max_concurrent_caps_requests_in_flight(self, server: FakeOpenAI) -> None:
        server_latency = FakeOpenAI(latency=0.05)
        with server_latency:
            models = models_for(server_latency, api_key_env=None, max_concurrent=5)
            async with ab.Bus(models=models) as bus:
                for i in range(20):
                    await bus.spawn(Caller, name=f"caller-{i}")
                for i in range(20):
                    await bus.publish(f"calls.caller-{i}", ab.Request(action="a", content="x"))
                await bus.drain()
            times = sorted(r.time for r in server_latency.requests)
        assert len(times) == 20
        # Five at a time, 50 ms each: the 6th arrives only once one has been answered.
        for i in range(5, 20):
            assert times[i] - times[i - 5] >= 0.045


class Stuck(ab.Actor):
    subscribe = ("work",)
    model = "gpt-4.1"
    paid: anyio.Event

    async def on_request(self, msg: ab.Request, ctx: ab.Context) -> None:
        await ctx.complete([ab.user(msg.content)])
        type(self).paid.set()
        await anyio.sleep_forever()  # the process dies here


class Finisher(ab.Actor):
    subscribe = ("work",)
    model = "gpt-4.1"
    got: list[ab.Completion[None]]

    async def on_request(self, msg: ab.Request, ctx: ab.Context) -> None:
        type(self).got.append(await ctx.complete([ab.user(msg.content)]))


async def test_a_handler_rerun_after_a_crash_does_not_pay_for_its_completion_again(
    server: FakeOpenAI, tmp_path: Path
) -> None:
    path = tmp_path / "events.db"
    Stuck.paid = anyio.Event()
    with anyio.CancelScope() as crash:
        async with ab.Bus(log=ab.SqliteLog(path), models=models_for(server)) as bus:
            await bus.spawn(Stuck, name="worker")
            await bus.publish("work", ab.Request(action="write", content="an essay"))
            await Stuck.paid.wait()
            crash.cancel()
    assert server.request_count == 1

    Finisher.got = []
    async with ab.Bus(log=ab.SqliteLog(path), models=models_for(server)) as bus:
        await bus.spawn(Finisher, name="worker")
        await bus.drain()
    (completion,) = Finisher.got
    assert completion.journaled
    assert completion.text == "echo: an essay"
    assert server.request_count == 1  # nothing was requested (or paid) again


class Answerer(ab.Actor):
    """Calls its model for each request, answers with the text; retries like any actor."""

    subscribe = ("ask",)
    model = "gpt-4.1"
    max_retries = 3
    retry_delay = 0

    def __init__(self) -> None:
        self.attempts = 0

    async def on_request(self, msg: ab.Request, ctx: ab.Context) -> ab.Response:
        self.attempts += 1
        done = await ctx.complete([ab.user(msg.content)], max_tokens=16)
        return ab.Response(content=done.text)


class Letters(ab.Actor):
    subscribe = ("_dead.>",)

    def __init__(self) -> None:
        self.got: list[ab.DeadLetter] = []

    async def on_dead(self, msg: ab.DeadLetter, ctx: ab.Context) -> None:
        self.got.append(msg)


async def _handle_one(models: ab.Models, *, ask: bool = False) -> tuple[int, ab.DeadLetter]:
    """Have an `Answerer` handle one request that fails; return its attempts and letter."""
    with anyio.fail_after(30):
        async with ab.Bus(models=models) as bus:
            ref = await bus.spawn(Answerer, name="answerer")
            letters = await bus.spawn(Letters)
            request = ab.Request(action="a", content="hi")
            if ask:
                with pytest.raises(ab.AskFailed) as caught:
                    await bus.ask("ask", request, timeout=20)
                assert caught.value.attempts == 1
            else:
                await bus.publish("ask", request)
            await bus.drain()
    [letter] = letters.actor.got
    return ref.actor.attempts, letter


class TestRetriesDoNotMultiply:
    """The models layer retries; the handler that called it is not run again (issue 12, 4)."""

    @pytest.mark.parametrize("ask", [False, True], ids=["published", "asked"])
    async def test_a_persistent_502_is_max_attempts_requests_per_message(
        self, server: FakeOpenAI, ask: bool
    ) -> None:
        server.reply_with(lambda body: Fault.status(502))
        attempts, letter = await _handle_one(models_for(server, max_attempts=3), ask=ask)
        assert server.request_count == 3
        assert attempts == 1
        assert (letter.error_type, letter.attempts) == ("actorbus.ModelUnavailable", 1)
        assert "HTTP 502" in letter.error

    async def test_a_401_is_one_request(
        self, server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv(KEY_ENV, "sk-wrong-key-never-print-me")
        attempts, letter = await _handle_one(models_for(server))
        assert server.request_count == 1
        assert attempts == 1
        assert (letter.error_type, letter.attempts) == ("actorbus.AuthenticationError", 1)
        assert KEY_ENV in letter.error
        for text in (letter.error, letter.traceback):
            assert "sk-wrong-key-never-print-me" not in text
            assert SENTINEL_KEY not in text

    async def test_a_model_no_provider_serves_is_not_retried(self, server: FakeOpenAI) -> None:
        attempts, letter = await _handle_one(models_for(server, models=["deepseek-v3"]))
        assert server.request_count == 0
        assert attempts == 1
        assert (letter.error_type, letter.attempts) == ("actorbus.ModelsConfigError", 1)
        assert "gpt-4.1" in letter.error

    async def test_a_failure_a_retry_can_mend_is_still_retried_by_the_models_layer(
        self, server: FakeOpenAI
    ) -> None:
        server.script(Fault.status(502), Fault.status(503))
        async with ab.Bus(models=models_for(server, max_attempts=3)) as bus:
            ref = await bus.spawn(Answerer)
            reply = await bus.ask("ask", ab.Request(action="a", content="hi"), timeout=20)
        assert isinstance(reply, ab.Response)
        assert reply.content == "echo: hi"
        assert server.request_count == 3
        assert ref.actor.attempts == 1


class _Stamped(httpx.AsyncBaseTransport):
    """A transport that notes when each request is handed to it, then sends it on."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.times: list[float] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.times.append(time.monotonic())
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()
