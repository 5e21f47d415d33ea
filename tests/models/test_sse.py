"""Server-sent events: lines end at CR, LF or CRLF only, however the bytes are cut."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from actorbus._models._sse import EventReader

# Characters str.splitlines (and so httpx's aiter_lines) also breaks at.
UNICODE_BREAKS = "\u2028\u2029\u0085\x0b\x0c\x1c\x1d\x1e"


def read(stream: bytes, cuts: list[int]) -> list[bytes]:
    reader = EventReader()
    points = sorted({min(c, len(stream)) for c in cuts})
    events: list[bytes] = []
    for a, b in zip([0, *points], [*points, len(stream)], strict=True):
        events += reader.feed(stream[a:b])
    last = reader.pending()
    return events + ([last] if last is not None else [])


def reference(stream: bytes) -> list[bytes]:
    """The specification's algorithm, written plainly over the whole stream."""
    events: list[bytes] = []
    data: list[bytes] = []
    for line in re.split(rb"\r\n|\r|\n", stream):
        if not line:
            if data:
                events.append(b"\n".join(data))
            data = []
        elif line.startswith(b"data:"):
            value = line[5:]
            data.append(value[1:] if value.startswith(b" ") else value)
        elif line == b"data":
            data.append(b"")
    if data:
        events.append(b"\n".join(data))
    return events


payloads = st.text(
    st.characters(blacklist_characters="\r\n", blacklist_categories=["Cs"]), max_size=20
)
endings = st.sampled_from(["\n", "\r", "\r\n"])


@st.composite
def streams(draw: st.DrawFn) -> bytes:
    parts: list[str] = []
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from(["data", "comment", "other", "blank"]))
        if kind == "data":
            parts.append("data:" + draw(st.sampled_from(["", " "])) + draw(payloads))
        elif kind == "comment":
            parts.append(": keep-alive")
        elif kind == "other":
            parts.append("event: x")
        else:
            parts.append("")
        parts.append(draw(endings))
    return "".join(parts).encode()


class TestEventReader:
    @given(streams(), st.lists(st.integers(0, 300), max_size=10))
    def test_any_cut_of_the_bytes_gives_the_specifications_events(
        self, stream: bytes, cuts: list[int]
    ) -> None:
        assert read(stream, cuts) == reference(stream)

    @given(st.text(alphabet=UNICODE_BREAKS + "ab ", max_size=20))
    def test_unicode_line_separators_stay_inside_the_data(self, text: str) -> None:
        stream = f"data: {text}\n\n".encode()
        assert read(stream, []) == [text.encode()]

    def test_a_crlf_split_over_two_pieces_is_one_line_end(self) -> None:
        reader = EventReader()
        assert reader.feed(b"data: a\r") == []
        assert reader.feed(b"\n\r\n") == [b"a"]

    def test_comments_and_other_fields_yield_nothing(self) -> None:
        assert read(b": ping\n\nevent: x\nid: 3\n\n", []) == []

    def test_multi_line_data_is_joined_with_lf(self) -> None:
        assert read(b"data: a\ndata: b\n\n", []) == [b"a\nb"]
