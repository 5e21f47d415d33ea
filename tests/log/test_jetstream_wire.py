"""The pure parts of JetStreamLog: header values, KV keys, envelopes, and seq ordering.

Round trips are checked with hypothesis over any text; `InOrder` is held against a
reference that releases a sorted prefix.
"""

from __future__ import annotations

import re
import time

from hypothesis import given
from hypothesis import strategies as st

import actorbus as ab
from actorbus._codec import MessageCodec
from actorbus._log._jetstream._order import InOrder
from actorbus._log._jetstream._wire import (
    decode_envelope,
    decode_record,
    encode_headers,
    escape,
    key_name,
    name_key,
    unescape,
)

KV_KEY = re.compile(r"[-/_=\.a-zA-Z0-9]+\Z")


class WireNote(ab.Message):
    n: int


class TestHeaderValues:
    @given(st.text())
    def test_any_text_survives_escaping(self, value: str) -> None:
        assert unescape(escape(value)) == value

    @given(st.text())
    def test_an_escaped_value_is_what_nats_passes_through(self, value: str) -> None:
        # NATS trims values and turns CR/LF into spaces; an escaped value has neither.
        sent = escape(value)
        assert sent
        assert sent.isascii()
        assert sent.isprintable()
        assert sent == sent.strip()

    def test_plain_values_are_sent_as_they_are(self) -> None:
        assert escape("planner-1") == "planner-1"
        assert escape("a b") == "a b"
        assert escape("") == "%"
        assert escape("50%") == "50%25"


class TestKvKeys:
    @given(st.text())
    def test_any_name_survives_as_a_valid_kv_key(self, name: str) -> None:
        key = name_key(name)
        assert KV_KEY.match(key)
        assert ".." not in key
        assert not key.startswith(".")
        assert not key.endswith(".")
        assert key_name(key) == name

    def test_simple_names_are_their_own_keys(self) -> None:
        assert name_key("researcher-1") == "researcher-1"
        assert name_key("once:a.b") == "once=3Aa=2Eb"


class TestEnvelopes:
    @given(
        st.text(min_size=1),
        st.one_of(st.none(), st.text()),
        st.one_of(st.none(), st.text()),
        st.one_of(st.none(), st.text()),
        st.one_of(st.none(), st.text()),
        st.floats(allow_nan=False, allow_infinity=False),
    )
    def test_every_field_survives_the_trip(
        self,
        msg_id: str,
        sender: str | None,
        correlation: str | None,
        reply_to: str | None,
        causation: str | None,
        timestamp: float,
    ) -> None:
        env = ab.Envelope(
            msg_id, "a.b", WireNote(n=3), timestamp, sender, correlation, reply_to, causation
        )
        codec = MessageCodec()
        headers = encode_headers(env, env.type)
        back = decode_envelope(7, "a.b", headers, codec.encode(env.message), codec)
        env.seq = 7
        assert back.info() == env.info()
        assert back.message == env.message

    def test_a_record_of_an_unknown_type_becomes_undecodable(self) -> None:
        env = ab.Envelope("x", "a.b", WireNote(n=1), time.time())
        headers = {**encode_headers(env, env.type), "Ab-Type": "NoSuchType"}
        back = decode_envelope(1, "a.b", headers, b"\x80", MessageCodec())
        assert isinstance(back.message, ab.Undecodable)
        assert back.message.type_tag == "NoSuchType"


class TestRecords:
    """`decode_record`: the record as stored, for `actorbus log` (no message class)."""

    @given(
        st.text(min_size=1),
        st.one_of(st.none(), st.text()),
        st.one_of(st.none(), st.text()),
        st.floats(allow_nan=False, allow_infinity=False),
    )
    def test_holds_the_fields_the_envelope_holds_and_the_payload_as_stored(
        self, msg_id: str, sender: str | None, causation: str | None, timestamp: float
    ) -> None:
        env = ab.Envelope(msg_id, "a.b", WireNote(n=3), timestamp, sender, None, None, causation)
        payload = MessageCodec().encode(env.message)
        record = decode_record(7, "a.b", encode_headers(env, "NotRegisteredHere"), payload, 1.0)
        assert (record.seq, record.id, record.topic) == (7, msg_id, "a.b")
        assert record.type == "NotRegisteredHere"
        assert (record.sender, record.timestamp, record.causation) == (sender, timestamp, causation)
        assert record.payload == payload

    def test_a_foreign_record_gets_its_seq_as_id_and_the_servers_time(self) -> None:
        record = decode_record(9, "x.y", None, b"raw", 123.5)
        assert (record.id, record.type, record.timestamp, record.sender) == (
            "seq-9",
            "",
            123.5,
            None,
        )


def blocked(order: InOrder[str]) -> bool:
    return order.blocked  # read afresh: mypy would narrow the property across asserts


class TestInOrder:
    def test_items_wait_for_every_lower_seq(self) -> None:
        order: InOrder[str] = InOrder(released=10)
        assert order.add(13, "c") == []
        assert order.add(12, "b") == []
        assert blocked(order)
        assert order.add(11, "a") == ["a", "b", "c"]
        assert not blocked(order)
        assert order.released == 13

    def test_a_skipped_seq_releases_what_follows(self) -> None:
        order: InOrder[str] = InOrder()
        assert order.add(2, "b") == []
        assert order.add(1, None) == ["b"]
        assert order.next_seq == 3

    def test_seqs_released_already_are_ignored(self) -> None:
        order: InOrder[str] = InOrder(released=5)
        assert order.add(3, "old") == []
        assert order.add(6, "new") == ["new"]

    @given(st.permutations(list(range(1, 30))), st.sets(st.integers(1, 29)))
    def test_releases_exactly_the_prefix_that_is_complete(
        self, arrivals: list[int], skipped: set[int]
    ) -> None:
        order: InOrder[int] = InOrder()
        released: list[int] = []
        arrived: set[int] = set()
        for seq in arrivals:
            released += order.add(seq, None if seq in skipped else seq)
            arrived.add(seq)
            prefix = 0
            while prefix + 1 in arrived:
                prefix += 1
            assert order.released == prefix
            assert released == [s for s in range(1, prefix + 1) if s not in skipped]
