"""The viewer's HTTP API, without a browser: every endpoint, its headers, its guard.

Requests go to the Starlette app in process (httpx's ASGI transport), or, for the
event stream, to a real server on a loopback port. The log is the story's (see
``_story``): written by a real run, read back through the log's own reader.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

import actorbus as ab
from actorbus._ui._api import PAGE_LIMIT
from actorbus._ui._app import STATIC, viewer_app
from actorbus._ui._guard import CSP
from actorbus._ui._server import ViewerServer
from actorbus._ui._viewer import Viewer

from ._story import BULK, EVIL_TAG, SECRET, XSS, Story, append_record

pytestmark = pytest.mark.timeout(120)

ENDPOINTS = [
    "/api/summary", "/api/records", "/api/facets", "/api/message?id=x", "/api/tree?id=x",
    "/api/actors", "/api/dead",
]  # fmt: skip


def _client(app: Any, host: str = "127.0.0.1") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"http://{host}")


@pytest.fixture
async def client(story: Story) -> AsyncIterator[httpx.AsyncClient]:
    viewer = Viewer(ab.SqliteLog(story.path).reader, shown="story.db", budget=0.5)
    async with _client(viewer_app(viewer)) as http:
        yield http
    await viewer.aclose()


async def _all_records(path: Path) -> list[ab.Record]:
    async with ab.SqliteLog(path).reader() as reader:
        return (await reader.records(limit=10_000)).records


class TestThePage:
    @pytest.mark.parametrize("path", list(STATIC))
    async def test_the_page_is_served_from_the_package_with_its_media_type(
        self, client: httpx.AsyncClient, path: str
    ) -> None:
        got = await client.get(path)
        assert got.status_code == 200
        assert got.headers["content-type"] == STATIC[path][1]
        assert got.content

    async def test_the_page_loads_only_what_the_viewer_serves(
        self, client: httpx.AsyncClient
    ) -> None:
        html = (await client.get("/")).text
        assert 'src="/static/viewer.js"' in html
        assert "http" not in html.replace('charset="utf-8"', "")  # nothing from elsewhere
        js = (await client.get("/static/viewer.js")).text
        assert "innerHTML" not in js
        assert "insertAdjacentHTML" not in js
        assert "eval(" not in js

    @pytest.mark.parametrize("path", ["/", "/static/viewer.js", *ENDPOINTS, "/nowhere"])
    async def test_every_response_carries_the_security_headers(
        self, client: httpx.AsyncClient, path: str
    ) -> None:
        got = await client.get(path)
        assert got.headers["content-security-policy"] == CSP
        assert got.headers["x-content-type-options"] == "nosniff"
        assert got.headers["referrer-policy"] == "no-referrer"
        assert got.headers["x-frame-options"] == "DENY"
        assert "access-control-allow-origin" not in got.headers

    def test_the_policy_allows_nothing_inline_and_nothing_from_elsewhere(self) -> None:
        rules = dict(rule.strip().split(" ", 1) for rule in CSP.split(";"))
        assert rules["default-src"] == "'none'"
        assert rules["script-src"] == "'self'"
        assert rules["style-src"] == "'self'"
        assert rules["connect-src"] == "'self'"
        assert rules["form-action"] == "'none'"
        assert rules["frame-ancestors"] == "'none'"
        assert "unsafe" not in CSP


class TestReadOnly:
    @pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
    @pytest.mark.parametrize("path", ["/", "/api/events", *ENDPOINTS])
    async def test_any_method_but_get_and_head_is_refused(
        self, client: httpx.AsyncClient, method: str, path: str
    ) -> None:
        got = await client.request(method, path, content=b"{}")
        assert got.status_code == 405
        assert got.headers["allow"] == "GET, HEAD"
        assert got.headers["content-security-policy"] == CSP

    async def test_reading_leaves_the_log_file_as_it_was(
        self, client: httpx.AsyncClient, story: Story
    ) -> None:
        before = story.path.read_bytes()
        for path in ENDPOINTS:
            await client.get(path)
        assert story.path.read_bytes() == before


class TestRecords:
    async def test_the_summary_counts_the_log(
        self, client: httpx.AsyncClient, story: Story
    ) -> None:
        got = (await client.get("/api/summary")).json()
        assert (got["count"], got["last_seq"]) == (story.count, story.count)
        assert (got["log"], got["budget"]) == ("story.db", 0.5)
        assert got["first"]["id"] == story.plan_id

    async def test_the_first_page_is_the_newest_in_seq_order(
        self, client: httpx.AsyncClient, story: Story
    ) -> None:
        got = (await client.get("/api/records")).json()
        assert [r["seq"] for r in got["records"]] == list(range(story.count - 99, story.count + 1))
        assert got["more"] is True

    async def test_paging_back_and_forth_gives_every_record_once(
        self, client: httpx.AsyncClient, story: Story
    ) -> None:
        backwards: list[int] = []
        before: int | None = None
        pages = 0
        while True:
            params = {"limit": 40, **({"before": before} if before else {})}
            page = (await client.get("/api/records", params=params)).json()
            backwards = [r["seq"] for r in page["records"]] + backwards
            pages += 1
            if not page["more"]:
                break
            before = page["records"][0]["seq"]
        forwards: list[int] = []
        after = 0
        while True:
            page = (await client.get("/api/records", params={"after": after, "limit": 40})).json()
            forwards += [r["seq"] for r in page["records"]]
            if not page["more"]:
                break
            after = page["records"][-1]["seq"]
        assert backwards == forwards == list(range(1, story.count + 1))
        assert pages == -(-story.count // 40)

    async def test_a_page_is_at_most_500_records(self, client: httpx.AsyncClient) -> None:
        got = (await client.get("/api/records", params={"limit": 100_000, "after": 0})).json()
        assert len(got["records"]) == PAGE_LIMIT == 500
        assert got["more"] is True

    @pytest.mark.parametrize(
        ("params", "where"),
        [
            pytest.param({"topic": "bulk.*"}, ab.RecordFilter(topic="bulk.*"), id="topic-pattern"),
            pytest.param({"topic": "trips.>"}, ab.RecordFilter(topic="trips.>"), id="topic-rest"),
            pytest.param({"type": "Bulk"}, ab.RecordFilter(type="Bulk"), id="type"),
            pytest.param({"sender": "planner"}, ab.RecordFilter(sender="planner"), id="actor"),
            pytest.param(
                {"correlation": "trip-1"},
                ab.RecordFilter(correlation_id="trip-1"),
                id="correlation",
            ),
            pytest.param(
                {"topic": "bulk.1", "type": "Bulk"},
                ab.RecordFilter(topic="bulk.1", type="Bulk"),
                id="topic-and-type",
            ),
        ],
    )
    async def test_filters_keep_exactly_the_matching_records(
        self, client: httpx.AsyncClient, story: Story, params: dict[str, str],
        where: ab.RecordFilter,
    ) -> None:  # fmt: skip
        expected = [r.seq for r in await _all_records(story.path) if where.matches(r)]
        got: list[int] = []
        after = 0
        while True:
            query: dict[str, str | int] = {**params, "after": after, "limit": 100}
            page = (await client.get("/api/records", params=query)).json()
            got += [r["seq"] for r in page["records"]]
            if not page["more"]:
                break
            after = page["records"][-1]["seq"]
        assert got == expected
        assert 0 < len(expected) < story.count

    @pytest.mark.parametrize(
        "params",
        [
            {"topic": "bad..topic"},
            {"topic": "a.>.b"},
            {"after": "x"},
            {"limit": "0"},
            {"before": "-2"},
        ],
    )
    async def test_a_bad_argument_is_a_400_that_says_why(
        self, client: httpx.AsyncClient, params: dict[str, str]
    ) -> None:
        got = await client.get("/api/records", params=params)
        assert got.status_code == 400
        assert got.json()["error"]

    async def test_facets_count_topics_types_and_senders(self, client: httpx.AsyncClient) -> None:
        got = (await client.get("/api/facets")).json()
        assert got["types"]["Bulk"] == BULK
        assert got["senders"]["planner"] == 2
        assert got["types"][EVIL_TAG] == 1


class TestMessage:
    async def test_a_message_shows_its_payload_masked(
        self, client: httpx.AsyncClient, story: Story
    ) -> None:
        records = await _all_records(story.path)
        [first_bulk] = [r for r in records if r.type == "Bulk" and r.plain()["n"] == 0]
        got = (await client.get("/api/message", params={"id": first_bulk.id})).json()
        assert got["payload"]["api_key"] == "***"
        assert SECRET not in str(got)
        plan = (await client.get("/api/message", params={"seq": 1})).json()
        assert plan["payload"]["notes"] == list(XSS)  # text, as it was

    async def test_a_message_shows_the_model_and_tool_calls_of_its_handling(
        self, client: httpx.AsyncClient, story: Story
    ) -> None:
        got = (await client.get("/api/message", params={"id": story.plan_id})).json()
        [handling] = got["handlings"]
        assert handling["actor"] == "planner"
        [call] = handling["calls"]
        first, second = call["turns"]
        assert [m["role"] for m in first["sent"]] == ["system", "user"]
        [tool] = first["tools"]
        assert tool["name"] == "get_weather"
        assert tool["arguments"] == {"city": XSS[1], "access_token": "***"}
        assert tool["result"].startswith("sunny in")
        assert second["answer"].startswith("Pack light.")
        assert (first["replayed"], second["replayed"]) == (False, False)
        assert SECRET not in str(got)

    async def test_a_missing_message_is_a_404(self, client: httpx.AsyncClient) -> None:
        got = await client.get("/api/message", params={"id": "nope"})
        assert got.status_code == 404
        assert "nope" in got.json()["error"]

    async def test_the_tree_goes_up_to_the_root_and_down_depth_first(
        self, client: httpx.AsyncClient, story: Story
    ) -> None:
        records = await _all_records(story.path)
        book = next(r for r in records if r.topic == "trips.book")
        got = (await client.get("/api/tree", params={"id": book.id})).json()
        assert (got["focus"], got["root"], got["truncated"]) == (book.id, story.plan_id, False)
        shown = [(n["topic"], n["depth"]) for n in got["nodes"]]
        assert shown == [
            ("trips.plan", 0),
            ("trips.book", 1),
            ("_dead.booker", 2),
            ("notes.summary", 1),
        ]
        assert got["nodes"][1]["parent"] == story.plan_id


class TestActorsAndDeadLetters:
    async def test_actors_show_their_work_and_model_usage(self, client: httpx.AsyncClient) -> None:
        got = (await client.get("/api/actors")).json()
        actors = {a["name"]: a for a in got["actors"]}
        assert (actors["booker"]["failed"], actors["booker"]["dead_lettered"]) == (2, 1)
        assert actors["planner"]["published"] == 2
        planner = got["usage"]["by_actor"]["planner"]["gpt-test"]
        assert planner["calls"] == 2
        assert planner["cost"] > 0
        assert got["usage"]["total_cost"] == pytest.approx(planner["cost"])
        assert len(got["usage"]["series"]["planner"]) == 2
        assert got["budget"] == 0.5

    async def test_dead_letters_say_who_gave_up_on_what_and_why(
        self, client: httpx.AsyncClient
    ) -> None:
        got = (await client.get("/api/dead")).json()
        [letter] = got["letters"]
        assert letter["actor"] == "booker"
        assert letter["error_type"] == "RuntimeError"
        assert letter["error"] == f"no rooms at {XSS[1]}"
        assert letter["attempts"] == 2
        assert "Traceback" in letter["traceback"]
        assert letter["original"]["topic"] == "trips.book"
        assert got["more"] is False


class TestGuard:
    async def test_a_request_naming_another_host_is_refused(
        self, client: httpx.AsyncClient
    ) -> None:
        for host in ("evil.example", "evil.example:8765", "127.0.0.1.nip.io"):
            got = await client.get("/api/summary", headers={"host": host})
            assert got.status_code == 403, host
        for host in ("127.0.0.1:8765", "localhost", "[::1]:8765"):
            got = await client.get("/api/summary", headers={"host": host})
            assert got.status_code == 200, host

    async def test_off_loopback_every_request_needs_the_token(self, story: Story) -> None:
        viewer = Viewer(ab.SqliteLog(story.path).reader, shown="story.db")
        app = viewer_app(viewer, token="t0ken", hosts=None)
        async with _client(app, "viewer.example") as http:
            assert (await http.get("/api/summary")).status_code == 401
            assert (await http.get("/api/summary?token=wrong")).status_code == 401
            bearer = await http.get("/api/summary", headers={"authorization": "Bearer t0ken"})
            assert bearer.status_code == 200
            assert (
                await http.get("/", headers={"authorization": "Bearer nope"})
            ).status_code == 401
            first = await http.get("/?token=t0ken&x=1")
            assert first.status_code == 303
            assert first.headers["location"] == "/?x=1"  # the token leaves the address bar
            cookie = first.headers["set-cookie"]
            assert "HttpOnly" in cookie
            assert "SameSite=Strict" in cookie
            after = await http.get(
                "/api/summary", headers={"cookie": "actorbus_viewer_token=t0ken"}
            )
            assert after.status_code == 200
            wrong = await http.get("/api/summary", headers={"cookie": "actorbus_viewer_token=x"})
            assert wrong.status_code == 401
        await viewer.aclose()

    def test_off_loopback_the_server_makes_a_token_and_prints_it(self, story: Story) -> None:
        viewer = Viewer(ab.SqliteLog(story.path).reader, shown="story.db")
        public = ViewerServer(viewer, host="0.0.0.0", port=0)
        local = ViewerServer(viewer, host="127.0.0.1", port=0)
        try:
            assert public.token is not None
            assert len(public.token) >= 32
            assert public.url.endswith(f"/?token={public.token}")
            assert local.token is None
            assert "token" not in local.url
        finally:
            public.stop()
            local.stop()


class TestLive:
    @pytest.fixture
    def anyio_backend(self) -> str:
        return "asyncio"

    async def test_events_say_the_log_grew(self, story: Story, tmp_path: Path) -> None:
        path = tmp_path / "live.db"
        path.write_bytes(story.path.read_bytes())
        server = ViewerServer(
            Viewer(ab.SqliteLog(path).reader, shown="live.db", interval=0.05), port=0
        )
        await anyio.to_thread.run_sync(server.start)
        try:
            seen: list[str] = []
            url = f"http://127.0.0.1:{server.port}/api/events"
            with anyio.fail_after(60):
                async with httpx.AsyncClient() as http, http.stream("GET", url) as events:
                    assert events.headers["content-type"].startswith("text/event-stream")
                    assert events.headers["content-security-policy"] == CSP
                    async for line in events.aiter_lines():
                        if line.startswith("data:"):
                            seen.append(line)
                            if len(seen) == 1:
                                await anyio.to_thread.run_sync(append_record, path, "live.new")
                            else:
                                break
            assert seen == [
                f'data: {{"last_seq":{story.count}}}',
                f'data: {{"last_seq":{story.count + 1}}}',
            ]
        finally:
            await anyio.to_thread.run_sync(server.stop)
