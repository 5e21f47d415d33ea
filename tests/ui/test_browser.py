"""The viewer in a real browser (Chromium, driven by Playwright): issue 16, points 3 and 4.

One Chromium for the module, one viewer on a loopback port over the story's log
(see ``_story``), a fresh browser context per test. Every wait is on an element
or a count (Playwright's ``expect``, with a generous timeout), never a sleep.
Each test also checks that nothing in the page was hostile enough to run: the
flag the `XSS` payloads would set stays unset, and no Content-Security-Policy
violation was reported.

The screenshots of the docs (docs/images/viewer-*.png) are taken by
`test_each_main_view_renders_and_is_photographed` from the same story written with
plain words: ``ACTORBUS_SCREENSHOTS=docs/images pytest tests/ui -k photographed``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from ._story import BULK, EVIL_TAG, XSS, Story, append_record, write_story
from .conftest import serve

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page

sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
expect = sync_api.expect
expect.set_options(timeout=30_000)  # far above what it takes: CI may be slower

pytestmark = pytest.mark.timeout(180)

WATCH = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__violations.push(`${event.violatedDirective} ${event.blockedURI}`);
});
"""


def _inert(page: Page, errors: list[str]) -> None:
    """Assert that nothing the log holds ran in the page, and the page itself had no error."""
    assert page.evaluate("window.__pwned") is None
    assert page.evaluate("window.__violations") == []
    assert errors == []
    assert page.locator("img, iframe, object, embed").count() == 0
    assert page.locator("script").count() == 1  # the viewer's own module


@pytest.fixture
def page(browser: Browser) -> Iterator[tuple[Page, list[str]]]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    opened.add_init_script(WATCH)
    errors: list[str] = []
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    opened.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    try:
        yield opened, errors
    finally:
        context.close()


def _open(page: Page, url: str) -> None:
    page.goto(url)
    expect(page.locator("body")).to_have_attribute("data-ready", "true")


def rows(page: Page) -> Locator:
    return page.locator("#records tbody tr")


def seqs(page: Page) -> list[int]:
    return [int(s) for s in rows(page).evaluate_all("rows => rows.map(r => r.dataset.seq)")]


def test_the_timeline_shows_the_records_of_the_log(
    page: tuple[Page, list[str]], served: object, story: Story
) -> None:
    view, errors = page
    _open(view, served.url)  # type: ignore[attr-defined]
    expect(rows(view)).to_have_count(100)
    assert seqs(view) == list(range(story.count - 99, story.count + 1))
    expect(view.locator("#log-name")).to_have_text(f"story.db · {story.count} records")
    view.click("#page-first")
    expect(rows(view).first).to_have_attribute("data-seq", "1")
    assert seqs(view) == list(range(1, 101))
    first = rows(view).first.locator("td")
    assert first.all_inner_texts()[2:5] == ["trips.plan", "Plan", "-"]
    view.click("#page-newer")
    expect(rows(view).first).to_have_attribute("data-seq", "101")
    _inert(view, errors)


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        pytest.param("topic", "trips.*", [1, 2], id="topic-pattern"),
        pytest.param("sender", "planner", [2, 3], id="actor"),
        pytest.param("correlation", "trip-1", [1, 2, 3, 4], id="correlation"),
        pytest.param("type", "Bulk", None, id="type"),
    ],
)
def test_filters_narrow_the_timeline(
    page: tuple[Page, list[str]], served: object, story: Story, field: str, value: str,
    expected: list[int] | None,
) -> None:  # fmt: skip
    view, errors = page
    _open(view, served.url)  # type: ignore[attr-defined]
    expect(rows(view)).to_have_count(100)
    view.fill(f"#filters input[name={field}]", value)
    view.click("#filters button[type=submit]")
    if expected is not None:
        expect(rows(view)).to_have_count(len(expected))
        assert seqs(view) == expected
    else:  # every Bulk record, newest page: the last 100 of them
        expect(rows(view).first).to_have_attribute("data-seq", str(story.count - 99))
        types = rows(view).locator("td:nth-child(4)").all_inner_texts()
        assert types == ["Bulk"] * 100
    expect(view.locator("#page-info")).to_contain_text("(filtered)")
    view.click("#clear-filters")
    expect(rows(view)).to_have_count(100)
    expect(rows(view).last).to_have_attribute("data-seq", str(story.count))
    _inert(view, errors)


def test_opening_a_message_shows_its_causation_tree_and_its_calls(
    page: tuple[Page, list[str]], served: object, story: Story
) -> None:
    view, errors = page
    _open(view, served.url)  # type: ignore[attr-defined]
    view.click("#page-first")
    view.click("#records tbody tr[data-seq='2']")  # the booking: the tree goes up to the plan
    nodes = view.locator("#tree button.node")
    expect(nodes).to_have_count(4)
    topics = nodes.locator(".topic").all_inner_texts()
    assert topics == ["trips.plan", "trips.book", "_dead.booker", "notes.summary"]
    expect(view.locator("#tree button.node.selected .topic")).to_have_text("trips.book")
    expect(view.locator("#detail h2")).to_have_text("trips.book · Book")
    # the plan: its payload, and the planner's model call with its tool call
    view.click(f"#tree button.node[data-node-id='{story.plan_id}']")
    expect(view.locator("#detail h2")).to_have_text("trips.plan · Plan")
    expect(view.locator("#detail pre.payload")).to_contain_text('"destination": "Lisbon"')
    call = view.locator("#detail .call[data-actor=planner]")
    expect(call.locator(".turn")).to_have_count(2)
    expect(call.locator(".turn").first).to_contain_text("turn 0 gpt-test via fake")
    tool = call.locator(".tool[data-tool=get_weather]")
    expect(tool).to_contain_text('"access_token": "***"')
    expect(tool.locator(".badge.ok")).to_have_text("ok")
    expect(call.locator("pre.answer")).to_contain_text("Pack light.")
    _inert(view, errors)


def test_a_record_appended_while_the_page_is_open_appears_without_reload(
    page: tuple[Page, list[str]], browser: Browser, story: Story, tmp_path: Path
) -> None:
    path = tmp_path / "live.db"
    shutil.copyfile(story.path, path)
    server = serve(path)
    try:
        view, errors = page
        _open(view, server.url)
        expect(view.locator("#live-status")).to_contain_text(f"live · seq {story.count}")
        view.evaluate("window.__same_page = true")
        new = append_record(path, "live.new")
        row = view.locator(f"#records tbody tr[data-seq='{new}']")
        expect(row).to_be_visible()
        expect(row.locator("td:nth-child(3)")).to_have_text("live.new")
        expect(rows(view)).to_have_count(100)  # the page stays a page: the oldest row went
        assert view.evaluate("window.__same_page") is True  # no reload
        expect(view.locator("#live-status")).to_contain_text(f"seq {new}")
        _inert(view, errors)
    finally:
        server.stop()


def test_hostile_text_in_the_log_stays_text(
    page: tuple[Page, list[str]], served: object, story: Story
) -> None:
    view, errors = page
    url = served.url  # type: ignore[attr-defined]
    _open(view, url)
    view.click("#page-first")
    evil = view.locator("#records tbody tr[data-seq='5'] td:nth-child(4)")
    expect(evil).to_have_text(EVIL_TAG)  # a type tag that is markup, shown as text
    view.click("#records tbody tr[data-seq='1']")
    expect(view.locator("#detail pre.payload")).to_contain_text(XSS[0])
    expect(view.locator("#detail pre.answer")).to_contain_text(XSS[5])
    expect(view.locator("#detail .tool")).to_contain_text(XSS[2])  # a tool result
    view.click("#tree button.node >> nth=2")  # the dead letter, with its error
    expect(view.locator("#detail pre.payload")).to_contain_text("no rooms at")
    view.goto(url + "#/message/" + view.evaluate("encodeURIComponent('x')"))
    expect(view.locator("#problem")).to_contain_text("no record with id 'x'")
    assert [e for e in errors if "404" not in e] == []
    errors.clear()  # the browser reports the 404 it was just answered
    view.goto(url + "#/dead")
    letter = view.locator("details.letter").first
    letter.locator("summary").click()
    expect(letter.locator(".error")).to_contain_text(f"no rooms at {XSS[1]}")
    expect(letter.locator("pre.traceback")).to_contain_text("RuntimeError")
    view.goto(url + "#/actors")
    expect(view.locator("#actors tbody tr[data-actor=booker] td").nth(3)).to_have_text("2")
    view.goto(url + "#/timeline")
    view.fill("#filters input[name=topic]", "evil.>")
    view.click("#filters button[type=submit]")
    expect(rows(view)).to_have_count(1)
    _inert(view, errors)


def test_each_main_view_renders_and_is_photographed(
    page: tuple[Page, list[str]], tmp_path: Path
) -> None:
    plain = write_story(tmp_path / "story.db", hostile=False)
    server = serve(plain.path)
    shots = tmp_path / "shots"
    shots.mkdir()
    try:
        view, errors = page
        _open(view, server.url)
        expect(rows(view)).to_have_count(100)
        view.screenshot(path=shots / "viewer-timeline.png")
        view.goto(server.url + f"#/message/{plain.plan_id}")
        expect(view.locator("#detail .call .turn")).to_have_count(2)
        view.screenshot(path=shots / "viewer-request.png", full_page=True)
        view.click("#tree button.node >> nth=2")
        expect(view.locator("#detail h2")).to_have_text("_dead.booker · DeadLetter")
        view.screenshot(path=shots / "viewer-tree.png")
        view.goto(server.url + "#/actors")
        expect(view.locator("#cost-chart svg path")).to_have_count(1)
        view.screenshot(path=shots / "viewer-actors.png", full_page=True)
        view.goto(server.url + "#/dead")
        view.locator("details.letter summary").first.click()
        expect(view.locator("details.letter pre.traceback")).to_be_visible()
        view.screenshot(path=shots / "viewer-dead-letters.png", full_page=True)
        _inert(view, errors)
    finally:
        server.stop()
    taken = sorted(shots.iterdir())
    assert [p.name for p in taken] == [
        "viewer-actors.png", "viewer-dead-letters.png", "viewer-request.png",
        "viewer-timeline.png", "viewer-tree.png",
    ]  # fmt: skip
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in taken)
    target = os.environ.get("ACTORBUS_SCREENSHOTS")
    if target:
        for shot in taken:
            shutil.copyfile(shot, Path(target) / shot.name)


assert BULK > 100  # the pages above need more than one page of records
