"""FakeOpenAI: a real loopback HTTP server speaking the OpenAI chat completions API."""

from __future__ import annotations

import json
import logging
import math
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import anyio
import httpx
import pytest

from actorbus.testing import FakeOpenAI, Fault, RecordedRequest, Reply

pytestmark = pytest.mark.timeout(30)

KEY = "sk-test-0123456789-secret"


def chat(text: str = "hello there", **extra: Any) -> dict[str, Any]:
    return {"model": "gpt-test", "messages": [{"role": "user", "content": text}], **extra}


def events(response: httpx.Response) -> list[str]:
    """The ``data:`` payloads of a streamed answer, in order."""
    return [line[6:] for line in response.iter_lines() if line.startswith("data: ")]


def stream_text(payloads: list[str]) -> str:
    chunks = [json.loads(p) for p in payloads if p != "[DONE]"]
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])


@pytest.fixture(
    params=[pytest.param("asyncio", id="asyncio"), pytest.param("trio", id="trio")],
)
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Unlike the other model tests, the server runs on both backends: it has its own thread."""
    return str(request.param)


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def client(fake: FakeOpenAI) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fake.base_url, timeout=5) as http:
        yield http


def wait_until(condition: Any, timeout: float = 5.0) -> None:
    """A bounded poll, for state the server thread changes after the client returns."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.005)


class TestDefaultReply:
    def test_echoes_the_last_user_message_as_a_chat_completion(self, client: httpx.Client) -> None:
        body = {
            "model": "gpt-test",
            "messages": [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": "first"},
                {"role": "assistant", "content": None},
                {"role": "user", "content": "hello there"},
            ],
        }
        response = client.post("/chat/completions", json=body)
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        answer = response.json()
        assert answer["id"].startswith("chatcmpl-")
        assert answer["object"] == "chat.completion"
        assert isinstance(answer["created"], int)
        assert answer["model"] == "gpt-test"
        assert answer["choices"] == [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "echo: hello there"},
                "finish_reason": "stop",
            }
        ]
        prompt = math.ceil(len("be brief" + "first" + "hello there") / 4)
        completion = math.ceil(len("echo: hello there") / 4)
        assert answer["usage"] == {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }

    def test_answers_without_the_v1_prefix_too(self, fake: FakeOpenAI) -> None:
        url = fake.base_url.removesuffix("/v1") + "/chat/completions"
        assert httpx.post(url, json=chat("hi")).json()["choices"][0]["message"]["content"] == (
            "echo: hi"
        )

    def test_ids_are_unique(self, client: httpx.Client) -> None:
        ids = {client.post("/chat/completions", json=chat()).json()["id"] for _ in range(3)}
        assert len(ids) == 3


class TestScript:
    def test_scripted_steps_answer_in_order_then_the_default(
        self, fake: FakeOpenAI, client: httpx.Client
    ) -> None:
        fake.script("one", Reply(text="two"))
        contents = [
            client.post("/chat/completions", json=chat("x")).json()["choices"][0]["message"][
                "content"
            ]
            for _ in range(3)
        ]
        assert contents == ["one", "two", "echo: x"]

    def test_reply_fields_override_the_defaults(
        self, fake: FakeOpenAI, client: httpx.Client
    ) -> None:
        calls = [{"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]
        fake.script(
            Reply(
                finish_reason="tool_calls",
                tool_calls=calls,
                prompt_tokens=7,
                completion_tokens=3,
                model="other-model",
            )
        )
        answer = client.post("/chat/completions", json=chat()).json()
        assert answer["model"] == "other-model"
        assert answer["choices"][0]["finish_reason"] == "tool_calls"
        assert answer["choices"][0]["message"] == {
            "role": "assistant",
            "content": None,
            "tool_calls": calls,
        }
        assert answer["usage"] == {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}

    def test_reply_with_sets_the_default(self, fake: FakeOpenAI, client: httpx.Client) -> None:
        fake.reply_with(lambda body: f"{len(body['messages'])} messages")
        answer = client.post("/chat/completions", json=chat()).json()
        assert answer["choices"][0]["message"]["content"] == "1 messages"

    def test_reply_with_may_return_a_fault(self, fake: FakeOpenAI, client: httpx.Client) -> None:
        fake.reply_with(lambda body: Fault.status(503))
        assert client.post("/chat/completions", json=chat()).status_code == 503

    def test_a_failing_reply_function_gets_500_and_the_server_keeps_serving(
        self, fake: FakeOpenAI, client: httpx.Client, caplog: pytest.LogCaptureFixture
    ) -> None:
        def broken(body: dict[str, Any]) -> str:
            raise ValueError("boom")

        fake.reply_with(broken)
        with caplog.at_level(logging.ERROR, logger="actorbus.testing"):
            response = client.post("/chat/completions", json=chat())
        assert response.status_code == 500
        assert "ValueError: boom" in response.json()["error"]["message"]
        assert "boom" in caplog.text
        assert fake.requests[-1].status == 500
        fake.script("fine")
        assert client.post("/chat/completions", json=chat()).status_code == 200

    def test_a_bad_step_is_refused_at_once(self, fake: FakeOpenAI) -> None:
        with pytest.raises(TypeError, match="str, Reply or Fault"):
            fake.script(42)  # type: ignore[arg-type]

    def test_reset_clears_the_script_and_the_recordings(
        self, fake: FakeOpenAI, client: httpx.Client
    ) -> None:
        client.post("/chat/completions", json=chat())
        fake.script("never sent")
        fake.reset()
        assert fake.requests == []
        assert fake.request_count == 0
        answer = client.post("/chat/completions", json=chat("x")).json()
        assert answer["choices"][0]["message"]["content"] == "echo: x"


class TestStatusFaults:
    def test_429_carries_retry_headers_and_an_openai_error_body(
        self, fake: FakeOpenAI, client: httpx.Client
    ) -> None:
        fake.script(Fault.status(429, retry_after="2", retry_after_ms=1500))
        response = client.post("/chat/completions", json=chat())
        assert response.status_code == 429
        assert response.headers["retry-after"] == "2"
        assert response.headers["retry-after-ms"] == "1500"
        assert response.json()["error"]["code"] == "rate_limit_exceeded"
        assert fake.requests[0].status == 429

    @pytest.mark.parametrize("code", [pytest.param(500, id="500"), pytest.param(503, id="503")])
    def test_server_errors_have_an_openai_error_body(
        self, fake: FakeOpenAI, client: httpx.Client, code: int
    ) -> None:
        fake.script(Fault.status(code))
        response = client.post("/chat/completions", json=chat())
        assert response.status_code == code
        assert "retry-after" not in response.headers
        error = response.json()["error"]
        assert error["type"] == "server_error"
        assert error["message"]

    def test_a_given_body_is_sent_raw(self, fake: FakeOpenAI, client: httpx.Client) -> None:
        fake.script(Fault.status(502, body="<html>bad gateway</html>"))
        response = client.post("/chat/completions", json=chat())
        assert response.status_code == 502
        assert response.text == "<html>bad gateway</html>"

    def test_a_status_outside_http_range_is_refused(self) -> None:
        with pytest.raises(ValueError, match=r"100\.\.599"):
            Fault.status(42)


class TestApiKey:
    @pytest.fixture
    def guarded(self) -> Iterator[FakeOpenAI]:
        with FakeOpenAI(api_key=KEY) as server:
            yield server

    @pytest.mark.parametrize(
        "headers",
        [
            pytest.param({}, id="missing"),
            pytest.param({"authorization": "Bearer sk-wrong"}, id="wrong"),
            pytest.param({"authorization": KEY}, id="no-scheme"),
        ],
    )
    def test_requests_without_the_key_get_401_without_the_key(
        self, guarded: FakeOpenAI, headers: dict[str, str], caplog: pytest.LogCaptureFixture
    ) -> None:
        guarded.script("scripted")
        with caplog.at_level(logging.DEBUG):
            response = httpx.post(
                guarded.base_url + "/chat/completions", json=chat(), headers=headers
            )
        assert response.status_code == 401
        assert response.json()["error"]["message"].startswith("Incorrect API key provided")
        assert response.json()["error"]["code"] == "invalid_api_key"
        assert KEY not in response.text
        assert KEY not in caplog.text

    def test_the_right_key_is_served_and_refusals_use_no_step(self, guarded: FakeOpenAI) -> None:
        guarded.script("scripted")
        assert httpx.post(guarded.base_url + "/chat/completions", json=chat()).status_code == 401
        response = httpx.post(
            guarded.base_url + "/chat/completions",
            json=chat(),
            headers={"authorization": f"Bearer {KEY}"},
        )
        assert response.status_code == 200
        assert response.json()["choices"][0]["message"]["content"] == "scripted"

    def test_the_key_never_shows_in_reprs_or_recordings(self, guarded: FakeOpenAI) -> None:
        httpx.post(
            guarded.base_url + "/chat/completions",
            json=chat(),
            headers={"authorization": f"Bearer {KEY}"},
        )
        assert KEY not in repr(guarded)
        assert KEY not in repr(guarded.requests)
        assert guarded.requests[0].headers["authorization"] == "Bearer [redacted]"


class TestBrokenAnswers:
    def test_hang_outlasts_a_client_timeout_quietly(
        self, fake: FakeOpenAI, client: httpx.Client, caplog: pytest.LogCaptureFixture
    ) -> None:
        fake.script(Fault.hang(30))
        with caplog.at_level(logging.DEBUG), pytest.raises(httpx.ReadTimeout):
            client.post("/chat/completions", json=chat(), timeout=0.2)
        assert client.post("/chat/completions", json=chat()).status_code == 200
        assert fake.requests[0].status == 0
        ours = [r for r in caplog.records if r.name.startswith(("actorbus", "asyncio"))]
        assert ours == []

    def test_hang_then_answers_with_the_default(
        self, fake: FakeOpenAI, client: httpx.Client
    ) -> None:
        fake.script(Fault.hang(0.1))
        start = time.monotonic()
        answer = client.post("/chat/completions", json=chat("late")).json()
        assert time.monotonic() - start >= 0.1
        assert answer["choices"][0]["message"]["content"] == "echo: late"

    def test_malformed_sends_the_raw_body_as_json(
        self, fake: FakeOpenAI, client: httpx.Client
    ) -> None:
        fake.script(Fault.malformed())
        response = client.post("/chat/completions", json=chat())
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        assert response.text == "{not json"
        with pytest.raises(json.JSONDecodeError):
            response.json()

    def test_malformed_in_a_stream_is_a_bad_event(
        self, fake: FakeOpenAI, client: httpx.Client
    ) -> None:
        fake.script(Fault.malformed("{oops"))
        with client.stream("POST", "/chat/completions", json=chat(stream=True)) as response:
            assert events(response) == ["{oops", "[DONE]"]

    def test_inconsistent_is_valid_json_without_choices(
        self, fake: FakeOpenAI, client: httpx.Client
    ) -> None:
        fake.script(Fault.inconsistent())
        answer = client.post("/chat/completions", json=chat()).json()
        assert answer["object"] == "chat.completion"
        assert answer["choices"] == []

    def test_inconsistent_in_a_stream_is_a_chunk_without_choices(
        self, fake: FakeOpenAI, client: httpx.Client
    ) -> None:
        fake.script(Fault.inconsistent())
        with client.stream("POST", "/chat/completions", json=chat(stream=True)) as response:
            payloads = events(response)
        assert payloads[-1] == "[DONE]"
        assert "choices" not in json.loads(payloads[0])

    def test_truncated_stream_breaks_off_after_some_chunks(
        self, fake: FakeOpenAI, client: httpx.Client
    ) -> None:
        fake.script(Fault.truncated_stream(after_chunks=2))
        payloads: list[str] = []

        def read() -> None:
            body = chat("one two three four five", stream=True)
            with client.stream("POST", "/chat/completions", json=body) as response:
                payloads.extend(line[6:] for line in response.iter_lines() if line[:6] == "data: ")

        with pytest.raises(httpx.RemoteProtocolError):
            read()
        assert "[DONE]" not in payloads
        assert stream_text(payloads) == "echo: one "
        assert fake.requests[0].status == 200

    def test_truncated_plain_answer_breaks_off_mid_body(
        self, fake: FakeOpenAI, client: httpx.Client
    ) -> None:
        fake.script(Fault.truncated_stream())
        with pytest.raises(httpx.RemoteProtocolError):
            client.post("/chat/completions", json=chat())
        assert client.post("/chat/completions", json=chat()).status_code == 200

    def test_disconnect_closes_without_a_response(
        self, fake: FakeOpenAI, client: httpx.Client
    ) -> None:
        fake.script(Fault.disconnect())
        with pytest.raises(httpx.RemoteProtocolError):
            client.post("/chat/completions", json=chat())
        assert fake.requests[0].status == 0
        assert client.post("/chat/completions", json=chat()).status_code == 200

    @pytest.mark.parametrize(
        "make",
        [
            pytest.param(lambda: Fault.hang(-1), id="hang"),
            pytest.param(lambda: Fault.truncated_stream(-1), id="truncated"),
        ],
    )
    def test_negative_amounts_are_refused(self, make: Any) -> None:
        with pytest.raises(ValueError, match=">= 0"):
            make()


class TestStreaming:
    def test_chunks_concatenate_to_the_text(self, fake: FakeOpenAI, client: httpx.Client) -> None:
        text = "  Streaming works,\nword by word!  "
        fake.script(text)
        with client.stream("POST", "/chat/completions", json=chat(stream=True)) as response:
            assert response.headers["content-type"] == "text/event-stream"
            assert response.headers["transfer-encoding"] == "chunked"
            payloads = events(response)
        assert payloads[-1] == "[DONE]"
        chunks = [json.loads(p) for p in payloads[:-1]]
        assert all(c["object"] == "chat.completion.chunk" for c in chunks)
        assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
        assert len(chunks) > 4  # role, several pieces, finish
        assert chunks[-1]["choices"][0] == {"index": 0, "delta": {}, "finish_reason": "stop"}
        assert "usage" not in chunks[-1]
        assert stream_text(payloads) == text

    def test_include_usage_adds_a_usage_chunk_before_done(self, client: httpx.Client) -> None:
        body = chat("count me", stream=True, stream_options={"include_usage": True})
        with client.stream("POST", "/chat/completions", json=body) as response:
            payloads = events(response)
        usage_chunk = json.loads(payloads[-2])
        assert usage_chunk["choices"] == []
        assert usage_chunk["usage"] == {
            "prompt_tokens": 2,
            "completion_tokens": 4,
            "total_tokens": 6,
        }
        assert stream_text(payloads) == "echo: count me"


class TestRouting:
    def test_unknown_paths_get_404(self, client: httpx.Client) -> None:
        response = client.post("/completions", json=chat())
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "unknown_url"

    def test_wrong_method_gets_405(self, client: httpx.Client) -> None:
        assert client.get("/chat/completions").status_code == 405

    @pytest.mark.parametrize(
        "content",
        [
            pytest.param(b"{nope", id="not-json"),
            pytest.param(b"[1, 2]", id="not-an-object"),
            pytest.param(b'{"messages": []}', id="no-model"),
            pytest.param(b'{"model": "m"}', id="no-messages"),
            pytest.param(b'{"a":' * 100_000 + b"1" + b"}" * 100_000, id="nested-too-deep"),
        ],
    )
    def test_bad_bodies_get_400(self, client: httpx.Client, content: bytes) -> None:
        response = client.post("/chat/completions", content=content)
        assert response.status_code == 400
        assert response.json()["error"]["type"] == "invalid_request_error"

    def test_a_body_over_max_body_gets_413_and_the_connection_goes_on(self) -> None:
        with FakeOpenAI(max_body=200) as fake, httpx.Client(base_url=fake.base_url) as client:
            response = client.post("/chat/completions", json=chat("x" * 500))
            assert response.status_code == 413
            assert fake.requests[0].body is None
            assert fake.requests[0].status == 413
            assert client.post("/chat/completions", json=chat()).status_code == 200
            assert fake.connections_accepted == 1

    def test_an_unknown_model_gets_404_when_models_are_given(self) -> None:
        with (
            FakeOpenAI(models=["gpt-a", "gpt-b"]) as fake,
            httpx.Client(base_url=fake.base_url) as client,
        ):
            response = client.post("/chat/completions", json={**chat(), "model": "gpt-z"})
            assert response.status_code == 404
            assert response.json()["error"]["code"] == "model_not_found"
            ok = client.post("/chat/completions", json={**chat(), "model": "gpt-b"})
            assert ok.status_code == 200
            listed = client.get("/models").json()
            assert [m["id"] for m in listed["data"]] == ["gpt-a", "gpt-b"]

    def test_garbage_gets_400_and_the_server_goes_on(
        self, fake: FakeOpenAI, client: httpx.Client
    ) -> None:
        with socket.create_connection(("127.0.0.1", fake.port), timeout=5) as raw:
            raw.sendall(b"NOT HTTP AT ALL\r\n\r\n")
            assert raw.recv(100).startswith(b"HTTP/1.1 400")
        assert client.post("/chat/completions", json=chat()).status_code == 200


class TestRecording:
    def test_requests_are_recorded_in_order_with_times_and_bodies(
        self, fake: FakeOpenAI, client: httpx.Client
    ) -> None:
        before = time.monotonic()
        client.post("/chat/completions?x=1", json=chat("a"), headers={"X-Trace": "t1"})
        client.post("/chat/completions", json=chat("b", stream=True))
        after = time.monotonic()
        first, second = fake.requests
        assert isinstance(first, RecordedRequest)
        assert before <= first.time <= second.time <= after
        assert (first.method, first.path, first.status) == ("POST", "/v1/chat/completions", 200)
        assert first.headers["x-trace"] == "t1"
        assert first.body == chat("a")
        assert second.body == chat("b", stream=True)
        assert fake.request_count == 2

    def test_requests_is_a_copy(self, fake: FakeOpenAI, client: httpx.Client) -> None:
        client.post("/chat/completions", json=chat())
        fake.requests.clear()
        assert fake.request_count == 1


class TestTiming:
    def test_latency_delays_every_answer(self) -> None:
        with FakeOpenAI(latency=0.1) as fake, httpx.Client(base_url=fake.base_url) as client:
            start = time.monotonic()
            assert client.post("/chat/completions", json=chat()).status_code == 200
            assert time.monotonic() - start >= 0.1
            fake.script(Fault.status(429))
            start = time.monotonic()
            assert client.post("/chat/completions", json=chat()).status_code == 429
            assert time.monotonic() - start >= 0.1

    def test_keep_alive_serves_many_requests_on_one_connection(
        self, fake: FakeOpenAI, client: httpx.Client
    ) -> None:
        for _ in range(50):
            assert client.post("/chat/completions", json=chat()).status_code == 200
        with client.stream("POST", "/chat/completions", json=chat(stream=True)) as response:
            assert events(response)[-1] == "[DONE]"
        assert fake.request_count == 51
        assert fake.connections_accepted == 1

    async def test_concurrent_requests_overlap(self) -> None:
        latency, count = 0.05, 100
        statuses: list[int] = []
        answered: list[float] = []  # time.monotonic, the clock the server stamps arrivals by
        limits = httpx.Limits(max_connections=count)
        async with (
            FakeOpenAI(latency=latency) as fake,
            httpx.AsyncClient(base_url=fake.base_url, limits=limits, timeout=10) as client,
        ):

            async def one(i: int) -> None:
                response = await client.post("/chat/completions", json=chat(f"n{i}"))
                answered.append(time.monotonic())
                statuses.append(response.status_code)

            start = time.monotonic()
            with anyio.fail_after(30):  # a safety net: serially it would take 5 s
                async with anyio.create_task_group() as tg:
                    for i in range(count):
                        tg.start_soon(one, i)
            elapsed = time.monotonic() - start
        assert statuses == [200] * count
        assert elapsed >= latency
        assert fake.request_count == count
        # Overlap, counted: served one at a time, only the first request would have
        # arrived before the first answer was back (whatever this machine's speed).
        first_answer = min(answered)
        assert sum(r.time < first_answer for r in fake.requests) > 1


class TestLifecycle:
    def test_repr_shows_the_url_and_request_count(
        self, fake: FakeOpenAI, client: httpx.Client
    ) -> None:
        client.post("/chat/completions", json=chat())
        assert repr(fake) == f"FakeOpenAI({fake.base_url!r}, requests=1)"

    def test_repr_before_start_and_after_stop(self) -> None:
        fake = FakeOpenAI(api_key=KEY)
        assert repr(fake) == "FakeOpenAI(not started, requests=0)"
        with fake:
            pass
        assert repr(fake) == f"FakeOpenAI({fake.base_url!r}, stopped, requests=0)"
        assert KEY not in repr(fake)

    def test_stop_is_idempotent_and_closes_the_port(self) -> None:
        fake = FakeOpenAI().start()
        url = fake.base_url
        fake.stop()
        fake.stop()
        with pytest.raises(httpx.ConnectError):
            httpx.post(url + "/chat/completions", json=chat())

    def test_stop_closes_open_connections_and_hanging_answers(self) -> None:
        fake = FakeOpenAI().start()
        fake.script(Fault.hang(60))
        body = json.dumps(chat()).encode()
        with socket.create_connection(("127.0.0.1", fake.port), timeout=5) as raw:
            raw.sendall(
                b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\n"
                b"content-length: %d\r\n\r\n%s" % (len(body), body)
            )
            wait_until(lambda: fake.request_count == 1)
            start = time.monotonic()
            fake.stop()
            assert time.monotonic() - start < 5
            assert raw.recv(100) == b""  # closed without an answer

    def test_a_stopped_server_does_not_restart(self) -> None:
        fake = FakeOpenAI()
        fake.stop()
        with pytest.raises(RuntimeError, match="starts only once"):
            fake.start()

    def test_the_url_needs_a_started_server(self) -> None:
        with pytest.raises(RuntimeError, match="not started"):
            _ = FakeOpenAI().base_url

    def test_negative_settings_are_refused(self) -> None:
        with pytest.raises(ValueError, match=">= 0"):
            FakeOpenAI(latency=-1)

    async def test_async_context_manager(self) -> None:
        async with FakeOpenAI() as fake, httpx.AsyncClient(base_url=fake.base_url) as client:
            response = await client.post("/chat/completions", json=chat("async"))
            assert response.json()["choices"][0]["message"]["content"] == "echo: async"
        async with httpx.AsyncClient() as client:
            with pytest.raises(httpx.ConnectError):
                await client.post(fake.base_url + "/chat/completions", json=chat())


class TestStandalone:
    def test_importing_actorbus_testing_does_not_import_pytest(self) -> None:
        code = "import sys, actorbus.testing; assert 'pytest' not in sys.modules"
        subprocess.run([sys.executable, "-c", code], check=True, timeout=20)

    def test_serve_forever_prints_the_url_and_stops_on_ctrl_c(self) -> None:
        code = (
            "from actorbus.testing._fake_openai import serve_forever\n"
            "serve_forever(host='127.0.0.1', port=0, latency=0.0, api_key='sk-cli')\n"
        )
        with subprocess.Popen(
            [sys.executable, "-c", code],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        ) as process:
            assert process.stdout is not None
            url = process.stdout.readline().strip()
            assert url.startswith("http://127.0.0.1:")
            assert url.endswith("/v1")
            response = httpx.post(
                url + "/chat/completions",
                json=chat("cli"),
                headers={"authorization": "Bearer sk-cli"},
            )
            assert response.json()["choices"][0]["message"]["content"] == "echo: cli"
            process.send_signal(signal.SIGINT)
            _, stderr = process.communicate(timeout=10)
        assert process.returncode == 0, stderr
        assert "Traceback" not in stderr
