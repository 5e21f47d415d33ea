"""Topics and patterns: validation, matching, and the subscription index.

Matching is checked exhaustively over short topics, and with hypothesis against a
plain recursive matcher written here; the index is checked against a list of live
subscriptions after random adds and removes.
"""

from __future__ import annotations

import itertools
from collections import Counter
from typing import Any, ClassVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from actorbus import InvalidTopic, topic_matches, validate_pattern, validate_topic
from actorbus._topic import TopicIndex


def reference_matches(pattern: list[str], topic: list[str]) -> bool:
    """NATS matching, token by token: '*' takes one token, a final '>' one or more."""
    if not pattern:
        return not topic
    head, rest = pattern[0], pattern[1:]
    if head == ">":
        return len(topic) >= 1
    if not topic:
        return False
    return (head in ("*", topic[0])) and reference_matches(rest, topic[1:])


# Shared by validate_topic and validate_pattern: (text, words the reason must contain).
MALFORMED_EITHER = [
    pytest.param("", "empty", id="empty"),
    pytest.param(".", "empty token", id="only-a-dot"),
    pytest.param(".tasks", "empty token", id="leading-dot"),
    pytest.param("tasks.", "empty token", id="trailing-dot"),
    pytest.param("tasks..web", "empty token", id="double-dot"),
    pytest.param("tasks web", "whitespace", id="space"),
    pytest.param("tasks\tweb", "whitespace", id="tab"),
    pytest.param("tasks.web\n", "whitespace", id="trailing-newline"),
    pytest.param("tasks.\u00a0", "whitespace", id="no-break-space"),
    pytest.param("tasks\x00web", "control", id="nul"),
    pytest.param("tasks\x1bweb", "control", id="escape"),
    pytest.param("tasks\u200bweb", "control", id="zero-width-space"),
    pytest.param("tasks.a*", "mixes a wildcard", id="star-suffix"),
    pytest.param("tasks.*a", "mixes a wildcard", id="star-prefix"),
    pytest.param("tasks.a>", "mixes a wildcard", id="gt-suffix"),
    pytest.param("tasks.>>", "mixes a wildcard", id="double-gt"),
    pytest.param("tasks.**", "mixes a wildcard", id="double-star"),
    pytest.param("x" * 1025, "at most 1024", id="too-long"),
]

NOT_STR: list[Any] = [
    pytest.param(None, id="none"),
    pytest.param(7, id="int"),
    pytest.param(b"tasks.web", id="bytes"),
    pytest.param(["tasks", "web"], id="list"),
]


class TestValidateTopic:
    @pytest.mark.parametrize(
        "topic",
        [
            pytest.param("tasks", id="one-token"),
            pytest.param("tasks.research.web", id="three-tokens"),
            pytest.param("_reply.planner-1", id="punctuation"),
            pytest.param("états.café", id="non-ascii"),
            pytest.param("x" * 1024, id="longest"),
        ],
    )
    def test_returns_a_valid_topic(self, topic: str) -> None:
        assert validate_topic(topic) == topic

    @pytest.mark.parametrize(("topic", "reason"), MALFORMED_EITHER)
    def test_refuses_a_malformed_topic_with_a_reason(self, topic: str, reason: str) -> None:
        with pytest.raises(InvalidTopic) as info:
            validate_topic(topic)
        assert reason in info.value.reason
        assert info.value.reason in str(info.value)

    @pytest.mark.parametrize(
        "topic",
        [
            pytest.param("tasks.*", id="star"),
            pytest.param("*", id="only-star"),
            pytest.param("tasks.>", id="gt"),
            pytest.param(">", id="only-gt"),
            pytest.param("*.research", id="leading-star"),
        ],
    )
    def test_refuses_a_wildcard_in_a_published_topic(self, topic: str) -> None:
        with pytest.raises(InvalidTopic) as info:
            validate_topic(topic)
        assert "wildcard" in info.value.reason
        assert info.value.topic == topic

    @pytest.mark.parametrize("topic", NOT_STR)
    def test_refuses_a_non_str(self, topic: Any) -> None:
        with pytest.raises(InvalidTopic) as info:
            validate_topic(topic)
        assert "must be a str" in info.value.reason

    def test_invalid_topic_is_a_value_error(self) -> None:
        with pytest.raises(ValueError, match="invalid topic"):
            validate_topic("a..b")


class TestValidatePattern:
    @pytest.mark.parametrize(
        "pattern",
        [
            pytest.param("tasks.research", id="literal"),
            pytest.param("*", id="only-star"),
            pytest.param(">", id="only-gt"),
            pytest.param("tasks.*", id="final-star"),
            pytest.param("*.research.*", id="stars"),
            pytest.param("tasks.*.>", id="star-then-gt"),
        ],
    )
    def test_returns_a_valid_pattern(self, pattern: str) -> None:
        assert validate_pattern(pattern) == pattern

    @pytest.mark.parametrize(("pattern", "reason"), MALFORMED_EITHER)
    def test_refuses_a_malformed_pattern_with_a_reason(self, pattern: str, reason: str) -> None:
        with pytest.raises(InvalidTopic) as info:
            validate_pattern(pattern)
        assert reason in info.value.reason

    @pytest.mark.parametrize(
        "pattern",
        [
            pytest.param(">.tasks", id="leading-gt"),
            pytest.param("tasks.>.web", id="middle-gt"),
            pytest.param(">.>", id="two-gts"),
        ],
    )
    def test_refuses_gt_before_the_last_token(self, pattern: str) -> None:
        with pytest.raises(InvalidTopic) as info:
            validate_pattern(pattern)
        assert "last token" in info.value.reason

    @pytest.mark.parametrize("pattern", NOT_STR)
    def test_refuses_a_non_str(self, pattern: Any) -> None:
        with pytest.raises(InvalidTopic) as info:
            validate_pattern(pattern)
        assert "must be a str" in info.value.reason


class TestTopicMatches:
    @pytest.mark.parametrize(
        ("pattern", "topic", "expected"),
        [
            pytest.param("a.b", "a.b", True, id="literal"),
            pytest.param("a.b", "a.c", False, id="literal-differs"),
            pytest.param("a.b", "a.b.c", False, id="literal-is-not-a-prefix"),
            pytest.param("a.*", "a.b", True, id="star-one-token"),
            pytest.param("a.*", "a.b.c", False, id="star-not-two-tokens"),
            pytest.param("a.*", "a", False, id="star-not-zero-tokens"),
            pytest.param("a.>", "a.b", True, id="gt-one-token"),
            pytest.param("a.>", "a.b.c.d", True, id="gt-many-tokens"),
            pytest.param("a.>", "a", False, id="gt-not-zero-tokens"),
            pytest.param(">", "a.b.c", True, id="gt-alone-matches-everything"),
            pytest.param("*.b.>", "x.b.y", True, id="star-and-gt"),
            pytest.param("*.b.>", "x.c.y", False, id="star-and-gt-literal-differs"),
        ],
    )
    def test_matches_like_nats_subjects(self, pattern: str, topic: str, expected: bool) -> None:
        assert topic_matches(pattern, topic) is expected

    @pytest.mark.parametrize(
        ("pattern", "topic"),
        [
            pytest.param("a..b", "a.b", id="bad-pattern"),
            pytest.param("a.b", "a.*", id="wildcard-topic"),
            pytest.param("a.>.b", "a.x.b", id="gt-not-last"),
        ],
    )
    def test_validates_both_arguments(self, pattern: str, topic: str) -> None:
        with pytest.raises(InvalidTopic):
            topic_matches(pattern, topic)

    def test_agrees_with_the_reference_on_every_short_topic(self) -> None:
        topics = [list(t) for n in (1, 2, 3) for t in itertools.product("ab", repeat=n)]
        for n in (1, 2, 3, 4):
            for tokens in itertools.product(["a", "b", "*", ">"], repeat=n):
                pattern = list(tokens)
                if ">" in pattern[:-1]:
                    continue
                for topic in topics:
                    assert topic_matches(".".join(pattern), ".".join(topic)) is (
                        reference_matches(pattern, topic)
                    ), (pattern, topic)


tokens = st.sampled_from(["a", "b", "c"])
topic_tokens = st.lists(tokens, min_size=1, max_size=5)
pattern_tokens = st.builds(
    lambda body, gt: [*body, ">"] if gt else body,
    st.lists(st.one_of(tokens, st.just("*")), min_size=0, max_size=4),
    st.booleans(),
).filter(bool)


@given(pattern=pattern_tokens, topic=topic_tokens)
def test_topic_matches_agrees_with_the_reference(pattern: list[str], topic: list[str]) -> None:
    assert topic_matches(".".join(pattern), ".".join(topic)) is reference_matches(pattern, topic)


class TestTopicIndex:
    def test_an_empty_index_matches_nothing(self) -> None:
        index: TopicIndex[str] = TopicIndex()
        assert index.match("a.b") == ()
        assert len(index) == 0

    def test_matches_values_by_pattern(self) -> None:
        index: TopicIndex[str] = TopicIndex()
        index.add("tasks.research", "exact")
        index.add("tasks.*", "star")
        index.add("tasks.>", "rest")
        index.add("other", "unrelated")
        assert set(index.match("tasks.research")) == {"exact", "star", "rest"}
        assert set(index.match("tasks.write")) == {"star", "rest"}
        assert index.match("tasks.write.draft") == ("rest",)
        assert index.match("tasks") == ()

    def test_returns_a_value_matched_by_two_patterns_once(self) -> None:
        index: TopicIndex[str] = TopicIndex()
        index.add("a.*", "v")
        index.add("a.b", "v")
        index.add(">", "v")
        assert index.match("a.b") == ("v",)
        assert index.match("a.c") == ("v",)

    def test_len_counts_subscriptions(self) -> None:
        index: TopicIndex[str] = TopicIndex()
        index.add("a.*", "v")
        index.add("a.*", "v")
        index.add("a.b", "v")
        index.add("a.b", "w")
        assert len(index) == 4
        index.remove("a.*", "v")
        assert len(index) == 3

    def test_the_order_of_a_match_is_stable(self) -> None:
        index: TopicIndex[str] = TopicIndex()
        for value, pattern in [("c", "a.>"), ("a", "*.b"), ("b", "a.b"), ("d", ">")]:
            index.add(pattern, value)
        first = index.match("a.b")
        assert sorted(first) == ["a", "b", "c", "d"]
        assert all(index.match("a.b") == first for _ in range(3))

    def test_each_add_needs_its_own_remove(self) -> None:
        index: TopicIndex[str] = TopicIndex()
        index.add("a.*", "v")
        index.add("a.*", "v")
        index.remove("a.*", "v")
        assert index.match("a.b") == ("v",)
        index.remove("a.*", "v")
        assert index.match("a.b") == ()
        assert len(index) == 0
        with pytest.raises(KeyError):
            index.remove("a.*", "v")

    @pytest.mark.parametrize(
        ("pattern", "value"),
        [
            pytest.param("x.y", "v", id="pattern-never-added"),
            pytest.param("a.b", "w", id="value-not-under-pattern"),
            pytest.param("a.*", "v", id="star-is-not-the-literal"),
            pytest.param("a.b.>", "v", id="gt-is-not-the-literal"),
            pytest.param("a", "v", id="prefix-of-a-pattern"),
            pytest.param("a.b.c", "v", id="longer-than-a-pattern"),
            pytest.param("q.>", "v", id="gt-with-unknown-prefix"),
        ],
    )
    def test_removing_what_is_not_there_raises_key_error(self, pattern: str, value: str) -> None:
        index: TopicIndex[str] = TopicIndex()
        index.add("a.b", "v")
        with pytest.raises(KeyError):
            index.remove(pattern, value)
        assert index.match("a.b") == ("v",)

    def test_a_removed_subscription_leaves_the_others(self) -> None:
        index: TopicIndex[str] = TopicIndex()
        index.add("a.b.c", "deep")
        index.add("a.b", "shallow")
        index.add("a.>", "rest")
        index.remove("a.b.c", "deep")
        assert set(index.match("a.b")) == {"shallow", "rest"}
        assert index.match("a.b.c") == ("rest",)
        index.remove("a.>", "rest")
        assert index.match("a.b") == ("shallow",)

    def test_refuses_a_malformed_pattern_and_stays_unchanged(self) -> None:
        index: TopicIndex[str] = TopicIndex()
        with pytest.raises(InvalidTopic):
            index.add("a.>.b", "v")
        assert len(index) == 0
        assert index.match("a.x.b") == ()

    def test_matches_correctly_among_ten_thousand_unrelated_subscriptions(self) -> None:
        index: TopicIndex[str] = TopicIndex()
        for n in range(2_500):
            index.add(f"noise{n}.x", f"literal-{n}")
            index.add(f"tasks.noise{n}", f"sibling-{n}")
            index.add(f"*.noise{n}.>", f"star-{n}")
            index.add(f"tasks.research.noise{n}.>", f"deeper-{n}")
        index.add("tasks.research", "researcher")
        index.add("tasks.*", "any-task")
        index.add(">", "audit")
        assert len(index) == 10_003
        assert set(index.match("tasks.research")) == {"researcher", "any-task", "audit"}
        assert set(index.match("tasks.noise7")) == {"sibling-7", "any-task", "audit"}
        assert set(index.match("x.noise9.y.z")) == {"star-9", "audit"}
        assert set(index.match("tasks.research.noise3.q")) == {"deeper-3", "audit"}
        assert set(index.match("q.noise3.r")) == {"star-3", "audit"}
        assert index.match("nothing.here") == ("audit",)
        assert index.match("noise5.x.y") == ("audit",)
        assert set(index.match("noise5.x")) == {"literal-5", "audit"}

    def test_matching_does_not_touch_unrelated_subscribers(self) -> None:
        # The cost of a match must not grow with unrelated subscriptions. Without
        # timing anything: values that count how often they are hashed or compared
        # show whether a match looked at them at all.
        index: TopicIndex[Tracked] = TopicIndex()
        unrelated = [Tracked(f"unrelated-{n}") for n in range(3_000)]
        for n, value in enumerate(unrelated[:1_000]):
            index.add(f"other{n}.x", value)
        for n, value in enumerate(unrelated[1_000:2_000]):
            index.add(f"tasks.other{n}", value)  # a sibling of the topic
        for n, value in enumerate(unrelated[2_000:]):
            index.add(f"tasks.research.deeper{n}.>", value)  # below the topic
        first, second = Tracked("first"), Tracked("second")
        index.add("tasks.*", first)
        index.add("tasks.>", second)
        Tracked.touched.clear()
        found = index.match("tasks.research")
        assert not Tracked.touched.keys() & {value.name for value in unrelated}
        assert set(found) == {first, second}


class Tracked:
    """A subscriber value that records every hash and comparison made with it."""

    touched: ClassVar[Counter[str]] = Counter()

    def __init__(self, name: str) -> None:
        self.name = name

    def __hash__(self) -> int:
        Tracked.touched[self.name] += 1
        return hash(self.name)

    def __eq__(self, other: object) -> bool:
        Tracked.touched[self.name] += 1
        return isinstance(other, Tracked) and other.name == self.name

    def __repr__(self) -> str:
        return f"Tracked({self.name!r})"


PATTERNS = ["a", "b", "a.b", "a.*", "*.b", "*", "a.>", ">", "*.*", "a.b.c", "*.>", "b.*.c"]


class TopicIndexMachine(RuleBasedStateMachine):
    """Random adds and removes against a multiset of the live subscriptions."""

    def __init__(self) -> None:
        super().__init__()
        self.index: TopicIndex[int] = TopicIndex()
        self.live: Counter[tuple[str, int]] = Counter()

    @rule(pattern=st.sampled_from(PATTERNS), value=st.integers(0, 4))
    def add(self, pattern: str, value: int) -> None:
        self.index.add(pattern, value)
        self.live[pattern, value] += 1

    @rule(pattern=st.sampled_from(PATTERNS), value=st.integers(0, 4))
    def remove(self, pattern: str, value: int) -> None:
        if self.live[pattern, value] == 0:
            with pytest.raises(KeyError):
                self.index.remove(pattern, value)
        else:
            self.index.remove(pattern, value)
            self.live[pattern, value] -= 1

    @rule(topic=topic_tokens)
    def match(self, topic: list[str]) -> None:
        expected = {
            value
            for (pattern, value), n in self.live.items()
            if n and reference_matches(pattern.split("."), topic)
        }
        found = self.index.match(".".join(topic))
        assert len(found) == len(set(found)), "a value was returned twice"
        assert set(found) == expected

    @invariant()
    def counts_the_live_subscriptions(self) -> None:
        assert len(self.index) == self.live.total()


TestTopicIndexMachine = TopicIndexMachine.TestCase
TestTopicIndexMachine.settings = settings(max_examples=200, stateful_step_count=40, deadline=None)
