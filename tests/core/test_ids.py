"""Message ids: fixed length and shape, unique, and sorted in creation order."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from actorbus import new_id
from actorbus._ids import ID_LENGTH, SEQ_OFFSET, id_prefix, is_log_id

HEX = set("0123456789abcdef")


def ms_of(id_or_prefix: str) -> int:
    return int(id_or_prefix[:11], 16)


class TestNewId:
    def test_is_31_characters(self) -> None:
        assert ID_LENGTH == 31
        assert all(len(new_id()) == 31 for _ in range(1_000))

    def test_is_time_node_and_counter(self) -> None:
        msg_id = new_id()
        time_part, node, counter = msg_id[:11], msg_id[11:18], msg_id[18:]
        assert set(time_part + node) <= HEX
        assert counter.isdigit()
        assert len(counter) == 13
        assert node == new_id()[11:18]  # one node per process
        assert 10**12 <= int(counter) < SEQ_OFFSET  # below every log-generated counter

    def test_is_unique_over_a_hundred_thousand(self) -> None:
        ids = [new_id() for _ in range(100_000)]
        assert len(set(ids)) == len(ids)

    def test_sorts_in_creation_order(self) -> None:
        ids = [new_id() for _ in range(100_000)]
        assert ids == sorted(ids)

    def test_encodes_the_time_it_is_given(self) -> None:
        latest = ms_of(new_id())
        now = (latest + 5.5) / 1000  # a few milliseconds on: a fresh time prefix
        msg_id = new_id(now)
        assert ms_of(msg_id) == latest + 5
        assert new_id() > msg_id

    def test_keeps_its_order_when_the_clock_steps_back(self) -> None:
        before = new_id()
        stepped_back = new_id(time.time() - 3_600)
        assert stepped_back > before
        assert ms_of(stepped_back) >= ms_of(before)


class TestIdPrefix:
    def test_is_now_in_milliseconds_and_a_node(self) -> None:
        before = int(time.time() * 1000)
        prefix = id_prefix()
        after = int(time.time() * 1000)
        assert len(prefix) == 18
        assert set(prefix) <= HEX
        assert before <= ms_of(prefix) <= after

    def test_gives_every_log_of_this_process_a_node_of_its_own(self) -> None:
        nodes = {id_prefix()[11:] for _ in range(10_000)}
        assert len(nodes) == 10_000


class TestIsLogId:
    def test_reads_back_the_seq_of_a_log_id(self) -> None:
        prefix = id_prefix()
        assert is_log_id(prefix + str(SEQ_OFFSET + 42), prefix) == 42

    @pytest.mark.parametrize(
        "make",
        [
            pytest.param(lambda p: new_id(), id="a-new-id"),
            pytest.param(lambda p: id_prefix() + str(SEQ_OFFSET + 1), id="another-log"),
            pytest.param(lambda p: p + str(10**12 + 1), id="new-id-counter-range"),
            pytest.param(lambda p: p + "x" * 13, id="not-digits"),
            pytest.param(lambda p: p + "1", id="too-short"),
        ],
    )
    def test_refuses_what_this_log_did_not_make(self, make: Callable[[str], str]) -> None:
        prefix = id_prefix()
        assert is_log_id(make(prefix), prefix) is None
