"""Model calls over a mock transport: decoding, errors, retries, fallbacks, budgets."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx
import pytest

import actorbus as ab

from ._support import KEY_ENV, SENTINEL_KEY, answer, models_over, sse


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(KEY_ENV, SENTINEL_KEY)
    return SENTINEL_KEY


HI = [ab.system("be brief"), ab.user("hi")]


class TestAnswers:
    async def test_a_completion_is_decoded_into_a_typed_result_with_its_cost(self) -> None:
        tools = [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]
        models, seen = models_over(
            lambda r: httpx.Response(
                200, json=answer("hi there", prompt=1_000_000, completion=0, tool_calls=tools)
            )
        )
        async with models:
            done = await models.complete(HI, model="gpt-4.1", actor="a", temperature=0.2)
        assert done.text == "hi there"
        assert done.finish_reason == "stop"
        assert done.tool_calls == [
            ab.ToolCall(id="c1", function=ab.FunctionCall(name="f", arguments="{}"))
        ]  # typed; no tools were offered, so they come back to the caller, not run
        assert done.usage == ab.Usage(
            prompt_tokens=1_000_000, completion_tokens=0, total_tokens=1_000_000
        )
        assert done.model == "gpt-4.1"
        assert done.provider == "p"
        assert done.attempts == 1
        assert done.cost == pytest.approx(2.00)  # gpt-4.1's default input price per MTok
        assert done.latency >= 0
        assert not done.journaled
        (request,) = seen
        assert request.url == "https://gateway.test/v1/chat/completions"
        assert request.headers["authorization"] == f"Bearer {SENTINEL_KEY}"
        body = json.loads(request.content)
        assert body["model"] == "gpt-4.1"
        assert body["temperature"] == 0.2
        assert body["messages"] == [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "hi"},
        ]

    async def test_costs_are_totalled_per_actor_and_model(self) -> None:
        models, _ = models_over(
            lambda r: httpx.Response(200, json=answer(prompt=500_000, completion=500_000))
        )
        async with models:
            await models.complete(HI, model="deepseek-v3", actor="researcher")
            await models.complete(HI, model="gpt-4.1", actor="writer")
        report = models.costs()
        # half a MTok in and out: deepseek-v3 at 0.28/0.42, gpt-4.1 at 2.00/8.00 per MTok
        assert report.by_actor["researcher"].cost == pytest.approx(0.35)
        assert report.by_actor["writer"].cost == pytest.approx(5.00)
        assert report.by_model["gpt-4.1"].calls == 1
        assert report.total.cost == pytest.approx(5.35)

    @pytest.mark.parametrize(
        ("body", "reason"),
        [
            (b"{not json", "not valid JSON"),
            (b'{"id": "x", "object": "chat.completion"}', "not a chat completion"),
            (b'{"id": "x", "choices": []}', "no choices"),
            (b'{"choices": [{"message": {"content": 5}}]}', "not a chat completion"),
            (b"[1, 2, 3]", "not a chat completion"),
        ],
    )
    async def test_an_invalid_answer_is_a_clear_error_not_a_key_error(
        self, body: bytes, reason: str
    ) -> None:
        models, seen = models_over(lambda r: httpx.Response(200, content=body))
        async with models:
            with pytest.raises(ab.ModelResponseError, match=reason) as caught:
                await models.complete(HI, model="gpt-4.1")
        error = caught.value
        assert error.status == 200
        assert error.model == "gpt-4.1"
        assert error.excerpt == body.decode()
        assert len(seen) == 1  # not retried

    async def test_the_excerpt_of_a_huge_bad_body_is_truncated(self) -> None:
        models, _ = models_over(lambda r: httpx.Response(200, content=b"x" * 10_000))
        async with models:
            with pytest.raises(ab.ModelResponseError) as caught:
                await models.complete(HI, model="gpt-4.1")
        assert len(caught.value.excerpt) < 300

    async def test_an_answer_over_the_size_limit_is_refused(self) -> None:
        big = answer("y" * 5_000)
        models, _ = models_over(lambda r: httpx.Response(200, json=big), max_response_bytes=1_000)
        async with models:
            with pytest.raises(ab.ModelResponseError, match="max_response_bytes"):
                await models.complete(HI, model="gpt-4.1")

    async def test_a_refused_request_is_not_retried_and_the_key_is_masked(self) -> None:
        echoed = {"error": {"message": f"bad header Bearer {SENTINEL_KEY}"}}
        models, seen = models_over(lambda r: httpx.Response(400, json=echoed))
        async with models:
            with pytest.raises(ab.ModelResponseError) as caught:
                await models.complete(HI, model="gpt-4.1")
        assert len(seen) == 1
        assert caught.value.status == 400
        assert SENTINEL_KEY not in str(caught.value)
        assert "***" in caught.value.excerpt


class TestAuthentication:
    @pytest.mark.parametrize("status", [401, 403])
    async def test_refused_credentials_fail_at_once_naming_url_and_variable(
        self, status: int
    ) -> None:
        models, seen = models_over(lambda r: httpx.Response(status, json={"error": {}}))
        async with models:
            with pytest.raises(ab.AuthenticationError) as caught:
                await models.complete(HI, model="gpt-4.1")
        assert len(seen) == 1
        message = str(caught.value)
        assert "https://gateway.test/v1" in message
        assert KEY_ENV in message
        assert SENTINEL_KEY not in message
        assert SENTINEL_KEY not in repr(caught.value)
        assert caught.value.status == status


class TestRetries:
    async def test_429_is_retried_after_retry_after_ms(self) -> None:
        replies = iter(
            [
                httpx.Response(429, headers={"retry-after-ms": "60"}),
                httpx.Response(200, json=answer()),
            ]
        )
        models, seen = models_over(lambda r: next(replies))
        async with models:
            started = time.monotonic()
            done = await models.complete(HI, model="gpt-4.1")
            waited = time.monotonic() - started
        assert len(seen) == 2
        assert done.attempts == 2
        assert waited >= 0.06  # as told, not the 1 ms backoff
        stats = models.statistics()["p"]
        assert (stats.requests, stats.retried, stats.rate_limited, stats.succeeded) == (2, 1, 1, 1)
        assert (stats.prompt_tokens, stats.completion_tokens) == (10, 5)
        assert stats.cost == done.cost

    @pytest.mark.parametrize("status", [408, 409, 500, 502, 503, 504])
    async def test_transient_statuses_are_retried(self, status: int) -> None:
        replies = iter([httpx.Response(status), httpx.Response(200, json=answer())])
        models, seen = models_over(lambda r: next(replies))
        async with models:
            done = await models.complete(HI, model="gpt-4.1")
        assert len(seen) == 2
        assert done.attempts == 2

    async def test_dropped_connections_are_retried(self) -> None:
        calls = 0

        def flaky(request: httpx.Request) -> httpx.Response:
            nonlocal calls
            calls += 1
            if calls == 1:
                raise httpx.ConnectError("connection refused", request=request)
            if calls == 2:
                raise httpx.ReadTimeout("timed out", request=request)
            return httpx.Response(200, json=answer())

        models, _ = models_over(flaky)
        async with models:
            done = await models.complete(HI, model="gpt-4.1")
        assert done.attempts == 3

    async def test_attempts_are_bounded(self) -> None:
        models, seen = models_over(lambda r: httpx.Response(503), max_attempts=3)
        async with models:
            with pytest.raises(ab.ModelUnavailable) as caught:
                await models.complete(HI, model="gpt-4.1")
        assert len(seen) == 3
        assert caught.value.attempts == 3
        assert "HTTP 503" in caught.value.last_error

    async def test_a_retry_after_beyond_the_deadline_gives_up_at_once(self) -> None:
        models, seen = models_over(
            lambda r: httpx.Response(429, headers={"retry-after": "30"}), deadline=1.0
        )
        async with models:
            with pytest.raises(ab.ModelUnavailable):
                await models.complete(HI, model="gpt-4.1")
        assert len(seen) == 1

    async def test_every_attempt_is_logged(self, caplog: pytest.LogCaptureFixture) -> None:
        replies = iter([httpx.Response(500), httpx.Response(200, json=answer())])
        models, _ = models_over(lambda r: next(replies))
        caplog.set_level(logging.DEBUG, logger="actorbus.models")
        async with models:
            await models.complete(HI, model="gpt-4.1")
        lines = [r.getMessage() for r in caplog.records if r.name == "actorbus.models"]
        assert any("attempt 1: HTTP 500; retrying" in line for line in lines)
        assert any("attempt 2: ok" in line for line in lines)


class TestFallbacks:
    def _config(self, **provider: object) -> ab.ModelsConfig:
        return ab.ModelsConfig(
            providers=[
                ab.Provider(
                    name="p", base_url="https://gateway.test/v1", api_key_env=KEY_ENV,
                    retry_base=0.001, max_attempts=2, **provider,  # type: ignore[arg-type]
                )
            ],
            fallbacks={"gpt-4.1": ["claude-sonnet-4", "deepseek-v3"]},
        )  # fmt: skip

    async def test_fallbacks_are_tried_in_order_once_a_model_is_exhausted(self) -> None:
        def by_model(request: httpx.Request) -> httpx.Response:
            model = json.loads(request.content)["model"]
            if model == "deepseek-v3":
                return httpx.Response(200, json=answer(model=model))
            return httpx.Response(503)

        models, seen = models_over(by_model, config=self._config())
        async with models:
            done = await models.complete(HI, model="gpt-4.1", actor="writer")
        asked = [json.loads(r.content)["model"] for r in seen]
        assert asked == ["gpt-4.1"] * 2 + ["claude-sonnet-4"] * 2 + ["deepseek-v3"]
        assert done.model == "deepseek-v3"
        assert done.attempts == 5
        spent = models.costs().by_model
        assert {m for m, spend in spent.items() if spend.calls} == {"deepseek-v3"}
        # every request is counted, answered or not, under the model it asked
        assert {m: spend.requests for m, spend in spent.items()} == {
            "gpt-4.1": 2, "claude-sonnet-4": 2, "deepseek-v3": 1
        }  # fmt: skip

    async def test_an_unknown_model_goes_straight_to_its_fallback(self) -> None:
        def by_model(request: httpx.Request) -> httpx.Response:
            model = json.loads(request.content)["model"]
            if model == "gpt-4.1":
                return httpx.Response(404, json={"error": {"code": "model_not_found"}})
            return httpx.Response(200, json=answer(model=model))

        models, seen = models_over(by_model, config=self._config())
        async with models:
            done = await models.complete(HI, model="gpt-4.1")
        assert len(seen) == 2
        assert done.model == "claude-sonnet-4"

    async def test_when_everything_is_exhausted_the_error_counts_every_attempt(self) -> None:
        models, seen = models_over(lambda r: httpx.Response(500), config=self._config())
        async with models:
            with pytest.raises(ab.ModelUnavailable) as caught:
                await models.complete(HI, model="gpt-4.1")
        assert caught.value.attempts == len(seen) == 6
        assert "deepseek-v3" in caught.value.last_error

    async def test_authentication_errors_do_not_fall_back(self) -> None:
        models, seen = models_over(lambda r: httpx.Response(401), config=self._config())
        async with models:
            with pytest.raises(ab.AuthenticationError):
                await models.complete(HI, model="gpt-4.1")
        assert len(seen) == 1


class TestBudgets:
    async def test_a_call_over_budget_is_refused_without_a_request(self) -> None:
        config = ab.ModelsConfig(
            providers=[
                ab.Provider(name="p", base_url="https://gateway.test/v1", api_key_env=KEY_ENV)
            ],
            budget=ab.Budgets(run=0.001),
        )
        models, seen = models_over(lambda r: httpx.Response(200, json=answer()), config=config)
        async with models:
            with pytest.raises(ab.BudgetExceeded) as caught:
                # 1,024 output tokens of gpt-4.1 could cost $0.008 > $0.001
                await models.complete(HI, model="gpt-4.1", actor="writer")
            assert seen == []
            cheap = await models.complete(HI, model="gpt-4.1", max_tokens=10)
        assert caught.value.scope == "run"
        assert cheap.cost is not None
        assert cheap.cost <= 0.001

    @pytest.mark.parametrize(
        "budget",
        [
            pytest.param(ab.Budgets(run=100.0), id="run"),
            pytest.param(ab.Budgets(actors={"writer": 100.0}), id="actor"),
        ],
    )
    async def test_a_budget_refuses_an_unpriced_model_without_a_request(
        self, budget: ab.Budgets
    ) -> None:
        config = ab.ModelsConfig(
            providers=[
                ab.Provider(name="p", base_url="https://gateway.test/v1", api_key_env=KEY_ENV)
            ],
            budget=budget,
        )
        models, seen = models_over(lambda r: httpx.Response(200, json=answer()), config=config)
        async with models:
            with pytest.raises(ab.UnpricedModel, match="allow_unpriced"):
                await models.complete(HI, model="mystery-model", actor="writer")
            with pytest.raises(ab.UnpricedModel):
                await anext(aiter(models.stream(HI, model="mystery-model", actor="writer")))
            assert seen == []
            await models.complete(HI, model="gpt-4.1", actor="writer")  # priced: it runs
        assert len(seen) == 1

    async def test_allow_unpriced_lets_an_unpriced_model_run_under_a_budget(self) -> None:
        config = ab.ModelsConfig(
            providers=[
                ab.Provider(name="p", base_url="https://gateway.test/v1", api_key_env=KEY_ENV)
            ],
            budget=ab.Budgets(run=0.001, allow_unpriced=True),
        )
        models, seen = models_over(lambda r: httpx.Response(200, json=answer()), config=config)
        async with models:
            done = await models.complete(HI, model="mystery-model", actor="writer")
            with pytest.raises(ab.BudgetExceeded):  # priced calls are still held to it
                await models.complete(HI, model="gpt-4.1", actor="writer")
        assert done.cost is None
        assert len(seen) == 1
        assert models.costs().total.unpriced_calls == 1

    async def test_the_reservation_is_released_when_the_call_fails(self) -> None:
        config = ab.ModelsConfig(
            providers=[
                ab.Provider(
                    name="p",
                    base_url="https://gateway.test/v1",
                    api_key_env=KEY_ENV,
                    max_attempts=1,
                )
            ],
            budget=ab.Budgets(actors={"writer": 0.01}),
        )
        replies = iter([httpx.Response(500), httpx.Response(200, json=answer())])
        models, _ = models_over(lambda r: next(replies), config=config)
        async with models:
            with pytest.raises(ab.ModelUnavailable):
                await models.complete(HI, model="gpt-4.1", actor="writer", max_tokens=1000)
            await models.complete(HI, model="gpt-4.1", actor="writer", max_tokens=1000)


def with_cache(body: dict[str, Any], cached_tokens: int) -> dict[str, Any]:
    """Add OpenAI's usage details (cached prompt tokens, and fields we ignore) to a body."""
    body["usage"]["prompt_tokens_details"] = {"cached_tokens": cached_tokens, "audio_tokens": 0}
    body["usage"]["completion_tokens_details"] = {"reasoning_tokens": 0}
    return body


class TestPrices:
    async def test_cached_prompt_tokens_are_decoded_and_priced_apart(self) -> None:
        body = with_cache(answer(prompt=1_000_000, completion=100_000), 400_000)
        models, _ = models_over(lambda r: httpx.Response(200, json=body))
        async with models:
            done = await models.complete(HI, model="gpt-4.1", actor="a")
        assert done.usage.cached_tokens == 400_000
        assert done.usage.prompt_tokens_details == ab.PromptTokensDetails(cached_tokens=400_000)
        # gpt-4.1: 600k uncached at $2.00, 400k cached at $0.50, 100k out at $8.00 per MTok
        assert done.cost == pytest.approx(1.2 + 0.2 + 0.8)
        assert models.costs().total.cost == pytest.approx(2.2)

    async def test_a_streams_usage_chunk_brings_its_cached_tokens(self) -> None:
        usage = {
            "prompt_tokens": 1_000_000,
            "completion_tokens": 0,
            "total_tokens": 1_000_000,
            "prompt_tokens_details": {"cached_tokens": 1_000_000},
        }
        body = sse("hi", usage=usage)
        models, _ = models_over(lambda r: httpx.Response(200, content=body))
        async with models:
            stream = models.stream(HI, model="deepseek-chat")
            await stream.text()
        assert stream.completion is not None
        assert stream.completion.usage.cached_tokens == 1_000_000
        assert stream.completion.cost == pytest.approx(0.028)  # deepseek-chat's cache hit price

    async def test_an_unpriced_model_on_a_real_endpoint_costs_unknown_not_zero(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.WARNING, logger="actorbus.models")
        models, seen = models_over(lambda r: httpx.Response(200, json=answer(model="m")))
        async with models:
            first = await models.complete(HI, model="mystery-model", actor="a")
            await models.complete(HI, model="mystery-model", actor="a")
            priced = await models.complete(HI, model="gpt-4.1", actor="a")
        assert len(seen) == 3  # no budget: unpriced calls run
        assert first.cost is None
        assert priced.cost is not None
        spend = models.costs().by_model["mystery-model"]
        assert (spend.calls, spend.unpriced_calls, spend.cost) == (2, 2, 0.0)
        assert models.statistics()["p"].cost == pytest.approx(priced.cost)
        text = models.costs().format()
        row = next(line for line in text.splitlines() if line.startswith("model mystery-model"))
        assert row.endswith("unpriced")
        assert "2 calls to unpriced models (mystery-model): add prices with --prices FILE" in text
        warnings = [r.getMessage() for r in caplog.records if "has no price" in r.getMessage()]
        assert len(warnings) == 1
        assert "'mystery-model'" in warnings[0]

    async def test_the_offline_echo_provider_prices_an_unknown_model_at_zero(self) -> None:
        async with ab.Models(ab.ModelsConfig.offline()) as models:
            done = await models.complete(HI, model="mystery-model")
        assert done.cost == 0.0
        assert models.costs().total.unpriced_calls == 0

    async def test_a_configured_price_applies_to_a_dated_and_prefixed_name(self) -> None:
        config = ab.ModelsConfig(
            providers=[
                ab.Provider(name="p", base_url="https://gateway.test/v1", api_key_env=KEY_ENV)
            ],
            prices={"house-model": ab.Price(input=1.0, output=3.0)},
        )
        models, _ = models_over(
            lambda r: httpx.Response(200, json=answer(prompt=1_000_000, completion=1_000_000)),
            config=config,
        )
        async with models:
            done = await models.complete(HI, model="gw/house-model-2026-01-31")
        assert done.cost == pytest.approx(4.0)


class TestStreams:
    async def test_deltas_arrive_in_order_and_the_completion_has_the_reported_usage(self) -> None:
        usage = {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}
        body = sse("Hel", "lo", " world", usage=usage)
        models, seen = models_over(
            lambda r: httpx.Response(
                200, content=body, headers={"content-type": "text/event-stream"}
            )
        )
        async with models:
            stream = models.stream(HI, model="gpt-4.1", actor="a")
            deltas = [d async for d in stream]
        assert deltas == ["Hel", "lo", " world"]
        done = stream.completion
        assert done is not None
        assert done.text == "Hello world"
        assert done.finish_reason == "stop"
        assert done.usage == ab.Usage(prompt_tokens=7, completion_tokens=3, total_tokens=10)
        assert not done.usage_estimated
        request = json.loads(seen[0].content)
        assert request["stream"] is True
        assert request["stream_options"] == {"include_usage": True}
        assert models.costs().by_actor["a"].completion_tokens == 3

    async def test_a_stream_without_usage_gets_an_estimate_flagged_as_such(self) -> None:
        models, _ = models_over(lambda r: httpx.Response(200, content=sse("abcdefgh")))
        async with models:
            stream = models.stream(HI, model="gpt-4.1")
            assert await stream.text() == "abcdefgh"
        assert stream.completion is not None
        assert stream.completion.usage_estimated
        assert stream.completion.usage.completion_tokens == 2  # 8 characters

    async def test_a_stream_cut_short_is_an_error_not_a_partial_answer(self) -> None:
        models, _ = models_over(
            lambda r: httpx.Response(200, content=sse("par", "tial", done=False))
        )
        async with models:
            got: list[str] = []

            async def read() -> None:
                async for delta in models.stream(HI, model="gpt-4.1"):
                    got.append(delta)  # noqa: PERF401  # kept as they arrive, up to the error

            with pytest.raises(ab.ModelResponseError, match=r"without \[DONE\]"):
                await read()
        assert got == ["par", "tial"]

    async def test_failures_before_the_first_byte_are_retried(self) -> None:
        replies = iter([httpx.Response(503), httpx.Response(200, content=sse("ok"))])
        models, seen = models_over(lambda r: next(replies))
        async with models:
            stream = models.stream(HI, model="gpt-4.1")
            assert await stream.text() == "ok"
        assert len(seen) == 2
        assert stream.completion is not None
        assert stream.completion.attempts == 2

    async def test_an_invalid_chunk_is_a_clear_error(self) -> None:
        body = b'data: {"choices": "nope"}\n\ndata: [DONE]\n\n'
        models, _ = models_over(lambda r: httpx.Response(200, content=body))
        async with models:
            with pytest.raises(ab.ModelResponseError, match="chunk"):
                await models.stream(HI, model="gpt-4.1").text()

    async def test_a_stream_left_early_releases_its_reservation(self) -> None:
        config = ab.ModelsConfig(
            providers=[
                ab.Provider(name="p", base_url="https://gateway.test/v1", api_key_env=KEY_ENV)
            ],
            budget=ab.Budgets(run=0.02),
        )
        models, _ = models_over(
            lambda r: httpx.Response(200, content=sse("a", "b", "c")), config=config
        )
        async with models:
            for _ in range(3):  # each reserves ~$0.008; leaving early must give it back
                async with models.stream(HI, model="gpt-4.1") as stream:
                    async for _delta in stream:
                        break


def _priced(budget: ab.Budgets | None = None) -> ab.ModelsConfig:
    return ab.ModelsConfig(
        providers=[ab.Provider(name="p", base_url="https://gateway.test/v1", api_key_env=KEY_ENV)],
        prices={"m": ab.Price(input=10.0, output=10.0)},
        budget=budget or ab.Budgets(),
    )


class TestAnswersWithoutUsage:
    """Issue 12, point 2: an answer without ``usage`` is charged an estimate, not $0."""

    ANSWER = "x" * 400  # about 100 tokens at four characters a token

    async def _calls_within(self, budget: float, *, report_usage: bool) -> int:
        """How many calls a run budget of ``budget`` dollars lets through (at most 100)."""

        def handler(request: httpx.Request) -> httpx.Response:
            body = answer(self.ANSWER, model="m", prompt=8, completion=100)
            if not report_usage:
                del body["usage"]
            return httpx.Response(200, json=body)

        models, _ = models_over(handler, config=_priced(ab.Budgets(run=budget)))
        async with models:
            for n in range(100):
                try:
                    await models.complete(HI, model="m", max_tokens=100)
                except ab.BudgetExceeded:
                    return n
        return 100

    async def test_a_budget_binds_about_as_tightly_without_usage_as_with_it(self) -> None:
        per_call = 108 * 10.0 / 1e6  # reported tokens at $10 per MTok
        budget = 14.5 * per_call
        with_usage = await self._calls_within(budget, report_usage=True)
        without = await self._calls_within(budget, report_usage=False)
        assert 12 <= with_usage <= 14
        assert abs(without - with_usage) <= 2  # the estimate is within a few tokens
        assert without < 100  # never every call

    async def test_the_estimate_is_charged_counted_and_flagged(self) -> None:
        body = answer(self.ANSWER, model="m")
        del body["usage"]
        models, _ = models_over(lambda r: httpx.Response(200, json=body), config=_priced())
        async with models:
            done = await models.complete(HI, model="m", actor="a")
        assert done.usage_estimated
        assert done.usage.completion_tokens == 100
        assert done.usage.prompt_tokens > 0
        assert done.cost is not None
        assert done.cost > 0
        assert models.costs().by_actor["a"].completion_tokens == 100
        assert models.statistics()["p"].completion_tokens == 100

    async def test_an_all_zero_usage_counts_as_none(self) -> None:
        body = answer(self.ANSWER, model="m", prompt=0, completion=0)
        models, _ = models_over(lambda r: httpx.Response(200, json=body), config=_priced())
        async with models:
            done = await models.complete(HI, model="m")
        assert done.usage_estimated
        assert done.usage.completion_tokens == 100

    async def test_tool_calls_count_toward_the_estimate(self) -> None:
        call = {"id": "c", "type": "function", "function": {"name": "f", "arguments": "y" * 400}}
        body = answer("", model="m", tool_calls=[call])
        del body["usage"]
        models, _ = models_over(lambda r: httpx.Response(200, json=body), config=_priced())
        async with models:
            done = await models.complete(HI, model="m")
        assert done.usage.completion_tokens > 100


class _Drip(httpx.AsyncByteStream):
    """A body that never ends: ``piece`` every ``every`` seconds (the server's pace)."""

    def __init__(self, head: bytes, piece: bytes, every: float = 0.02) -> None:
        self.head, self.piece, self.every = head, piece, every

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self.head
        while True:
            await anyio.sleep(self.every)
            yield self.piece


class TestDeadline:
    """Issue 12, point 3: the deadline bounds the whole call, first byte to last."""

    @pytest.mark.parametrize(
        ("stream", "head", "piece"),
        [
            pytest.param(True, b": hello\n\n", b": keep-alive\n\n", id="keep-alive-comments"),
            pytest.param(
                True,
                b"",
                b'data: {"choices": [{"index": 0, "delta": {"content": ""}}]}\n\n',
                id="empty-deltas",
            ),
            pytest.param(False, b"", b" ", id="a-plain-body-dripping-whitespace"),
        ],
    )
    async def test_a_server_that_keeps_sending_cannot_outlast_the_deadline(
        self, stream: bool, head: bytes, piece: bytes
    ) -> None:
        def handler(request: httpx.Request) -> httpx.Response:
            return httpx.Response(200, stream=_Drip(head, piece))

        config = ab.ModelsConfig(
            providers=[
                ab.Provider(
                    name="p", base_url="https://gateway.test/v1", api_key_env=KEY_ENV,
                    deadline=2.0, timeout=30.0,
                )
            ],
            default_model="gpt-4.1",
        )  # fmt: skip
        models, _ = models_over(handler, config=config)
        async with models:
            started = time.monotonic()
            call = models.stream(HI, model="gpt-4.1").text() if stream else models.complete(HI)
            with anyio.fail_after(60), pytest.raises(ab.ModelTimeout) as caught:
                await call
            elapsed = time.monotonic() - started
        assert elapsed >= 2.0  # not before its deadline...
        assert elapsed < 20.0  # ...and not long after it (a far-off safety net)
        assert isinstance(caught.value, TimeoutError)
        assert isinstance(caught.value, ab.ModelUnavailable)
        assert "deadline of 2 s" in str(caught.value)


class TestLineBreaks:
    """Issue 12, point 6: streamed text may hold any character but CR and LF."""

    @pytest.mark.parametrize("char", ["\u2028", "\u2029", "\u0085"])
    async def test_a_separator_in_streamed_content_is_kept_not_split_on(self, char: str) -> None:
        text = f"one{char}two"
        chunk = {"choices": [{"index": 0, "delta": {"content": text}}]}
        body = ("data: " + json.dumps(chunk, ensure_ascii=False) + "\n\ndata: [DONE]\n\n").encode()
        assert char.encode() in body  # sent raw, not escaped
        models, _ = models_over(lambda r: httpx.Response(200, content=body))
        async with models:
            assert await models.stream(HI, model="gpt-4.1").text() == text

    async def test_cr_and_crlf_end_lines_as_lf_does(self) -> None:
        body = b'data: {"choices": [{"delta": {"content": "a"}}]}\r\r'
        body += b'data: {"choices": [{"delta": {"content": "b"}}]}\r\n\r\ndata: [DONE]\r\n\r\n'
        models, _ = models_over(lambda r: httpx.Response(200, content=body))
        async with models:
            assert await models.stream(HI, model="gpt-4.1").text() == "ab"

    async def test_an_error_event_in_a_stream_is_an_error_not_an_empty_answer(self) -> None:
        body = b'data: {"error": {"message": "overloaded"}}\n\ndata: [DONE]\n\n'
        models, _ = models_over(lambda r: httpx.Response(200, content=body))
        async with models:
            with pytest.raises(ab.ModelResponseError, match="error in the middle"):
                await models.stream(HI, model="gpt-4.1").text()


class TestDefaultModel:
    """Issue 12, point 7: no model named means the configured default, never null."""

    def _config(self, default: str | None) -> ab.ModelsConfig:
        provider = ab.Provider(name="p", base_url="https://gateway.test/v1", api_key_env=KEY_ENV)
        return ab.ModelsConfig(providers=[provider], default_model=default)

    async def test_complete_and_stream_use_the_default_model(self) -> None:
        models, seen = models_over(
            lambda r: httpx.Response(200, json=answer(model="")), config=self._config("m1")
        )
        async with models:
            await models.complete(HI)
            await models.complete(HI, model=None)
        report = models.costs()
        assert [json.loads(r.content)["model"] for r in seen] == ["m1", "m1"]
        assert set(report.by_model) == {"m1"}
        assert "None" not in report.format()

    async def test_without_a_default_the_call_is_refused_before_a_request(self) -> None:
        models, seen = models_over(lambda r: httpx.Response(200, json=answer()))
        async with models:
            with pytest.raises(ab.ModelsConfigError, match="default_model"):
                await models.complete(HI)
            with pytest.raises(ab.ModelsConfigError, match="default_model"):
                models.stream(HI)
        assert seen == []

    async def test_an_actor_without_a_model_uses_the_default(self) -> None:
        class Plain(ab.Actor):
            subscribe = ("plain",)

            async def on_msg(self, msg: ab.Request, ctx: ab.Context) -> ab.Response:
                done = await ctx.complete([ab.user("hi")])
                return ab.Response(content=done.model)

        models, seen = models_over(
            lambda r: httpx.Response(200, json=answer(model="")), config=self._config("m2")
        )
        async with ab.Bus(models=models) as bus:
            await bus.spawn(Plain, name="plain")
            reply = await bus.ask("plain", ab.Request(content="x"), timeout=30)
        assert json.loads(seen[0].content)["model"] == "m2"
        assert isinstance(reply, ab.Response)
        assert reply.content == "m2"
        assert "None" not in models.costs().format()
