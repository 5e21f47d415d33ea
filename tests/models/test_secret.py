"""Masking the key in provider text: the whole key, runs of it, and keys split over deltas."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from actorbus._models._secret import EXCERPT, MASK, SLICE, Secret

from ._support import SENTINEL_KEY

KEY = SENTINEL_KEY
SECRET = Secret(KEY)


def leaks(text: str, key: str = KEY) -> list[str]:
    """Return every run of SLICE characters of ``key`` found in ``text``."""
    return [key[i : i + SLICE] for i in range(len(key) - SLICE + 1) if key[i : i + SLICE] in text]


class TestMask:
    def test_the_whole_key_is_masked_wherever_it_appears(self) -> None:
        text = f"{KEY} then {KEY}{KEY} and end {KEY}"
        assert SECRET.mask(text) == f"{MASK} then {MASK}{MASK} and end {MASK}"

    def test_part_of_the_key_is_masked_too(self) -> None:
        partial = KEY[:12] + "..." + KEY[-9:]  # as gateways that half-mask echo it
        masked = SECRET.mask(f"key {partial} refused")
        assert leaks(masked) == []
        assert masked.startswith("key ")
        assert masked.endswith(" refused")

    def test_short_runs_of_common_characters_are_left_alone(self) -> None:
        assert SECRET.mask("sk- never print me") == "sk- never print me"

    def test_no_key_masks_nothing(self) -> None:
        assert Secret("").mask(f"{KEY}") == KEY

    def test_the_repr_does_not_show_the_key(self) -> None:
        assert KEY not in repr(SECRET)
        assert leaks(repr(SECRET)) == []

    @given(st.text(max_size=300), st.integers(0, 400), st.text(max_size=300))
    def test_an_excerpt_never_holds_any_run_of_the_key(
        self, before: str, at: int, after: str
    ) -> None:
        body = (before * 3)[:at] + KEY + after  # the key inside, at and across the cut
        excerpt = SECRET.excerpt(body.encode())
        assert leaks(excerpt) == []
        assert len(excerpt) <= EXCERPT + len("...")


class TestStreamMask:
    @given(st.text(max_size=60), st.text(max_size=60), st.lists(st.integers(0, 200), max_size=8))
    def test_a_key_split_over_any_pieces_never_shows(
        self, before: str, after: str, cuts: list[int]
    ) -> None:
        text = before + KEY + after
        mask = SECRET.stream()
        points = sorted({min(c, len(text)) for c in cuts})
        pieces = [text[a:b] for a, b in zip([0, *points], [*points, len(text)], strict=True)]
        shown = "".join(mask.feed(piece) for piece in pieces) + mask.flush()
        assert KEY not in shown
        assert shown == text.replace(KEY, MASK) or KEY in before + after

    def test_text_without_the_key_passes_through_whole(self) -> None:
        mask = SECRET.stream()
        pieces = ["hello", " wor", "ld", "!"]
        assert [mask.feed(p) for p in pieces] + [mask.flush()] == [*pieces, ""]

    def test_a_tail_that_may_start_the_key_waits_for_the_next_piece(self) -> None:
        mask = SECRET.stream()
        assert mask.feed("use " + KEY[:5]) == "use "
        assert mask.feed(KEY[5:] + " now") == MASK + " now"
        assert mask.flush() == ""
