"""Topics and subscription patterns: validation and matching, with no I/O.

A topic is a string of dot-separated tokens (``tasks.research.web``). A subscription
pattern is a topic in which a token may be ``*`` (exactly one token) or, as the last
token only, ``>`` (one or more tokens), as in NATS subjects. Wildcard characters may
only stand as a whole token, so a topic or pattern never has two readings.

`TopicIndex` finds the subscribers of a topic with a token trie: matching walks one
path per wildcard branch, so its cost depends on the topic's length and the
subscriptions that actually match, not on how many unrelated subscriptions exist.
"""

from __future__ import annotations

from typing import Generic, TypeVar

from ._errors import InvalidTopic

__all__ = ["TopicIndex", "topic_matches", "validate_pattern", "validate_topic"]

V = TypeVar("V")  # must be hashable: values are dict keys

_MAX_TOPIC_LENGTH = 1024


def _check_tokens(text: str, what: str) -> list[str]:
    if not isinstance(text, str):
        raise InvalidTopic(repr(text), f"a {what} must be a str, not {type(text).__name__}")
    if not text:
        raise InvalidTopic(text, f"a {what} cannot be empty")
    if len(text) > _MAX_TOPIC_LENGTH:
        raise InvalidTopic(text[:40] + "...", f"a {what} is at most {_MAX_TOPIC_LENGTH} characters")
    if not text.isprintable() or any(c.isspace() for c in text):
        raise InvalidTopic(text, f"a {what} cannot contain whitespace or control characters")
    tokens = text.split(".")
    if "" in tokens:
        raise InvalidTopic(text, "empty token (a leading, trailing or doubled '.')")
    for token in tokens:
        if len(token) > 1 and ("*" in token or ">" in token):
            raise InvalidTopic(text, f"token {token!r} mixes a wildcard with other characters")
    return tokens


def validate_topic(topic: str) -> str:
    """Check that ``topic`` can be published to, and return it.

    Raises:
        InvalidTopic: the topic is empty, has an empty token, whitespace, or a
            wildcard (``*`` or ``>``), which only subscriptions may use.
    """
    for token in _check_tokens(topic, "topic"):
        if token in ("*", ">"):
            raise InvalidTopic(
                topic, f"wildcard {token!r} in a published topic (only subscriptions use them)"
            )
    return topic


def validate_pattern(pattern: str) -> str:
    """Check that ``pattern`` is a valid subscription pattern, and return it.

    Raises:
        InvalidTopic: the pattern is empty, has an empty token or whitespace, or a
            ``>`` that is not its last token.
    """
    tokens = _check_tokens(pattern, "pattern")
    if ">" in tokens[:-1]:
        raise InvalidTopic(pattern, "'>' may only be the last token")
    return pattern


def topic_matches(pattern: str, topic: str) -> bool:
    """Tell whether the subscription ``pattern`` matches the published ``topic``.

    Both are validated first.

    Raises:
        InvalidTopic: either is malformed.
    """
    want = validate_pattern(pattern).split(".")
    have = validate_topic(topic).split(".")
    for i, token in enumerate(want):
        if token == ">":
            return len(have) > i
        if i >= len(have) or (token != "*" and token != have[i]):
            return False
    return len(want) == len(have)


class _Node(Generic[V]):
    """One token position of the trie.

    Containers are made only when needed (most nodes are leaves with one
    subscriber). ``here`` and ``rest`` hold a value once per subscription, so a
    value subscribed twice to the same pattern is held twice.
    """

    __slots__ = ("children", "here", "rest", "star")

    def __init__(self) -> None:
        self.children: dict[str, _Node[V]] | None = None
        self.star: _Node[V] | None = None
        self.here: tuple[V, ...] | None = None  # patterns ending at this node
        self.rest: tuple[V, ...] | None = None  # patterns ending in '>' after this node

    def empty(self) -> bool:
        return not (self.children or self.star or self.here or self.rest)


class TopicIndex(Generic[V]):
    """Subscribers by pattern, found by topic.

    A value may be added under many patterns (and the same pattern more than once:
    each `add` needs its `remove`); `match` returns each matching value once, in an
    order fixed by the subscriptions (not by the order of adds).
    """

    __slots__ = ("_root", "_size")

    def __init__(self) -> None:
        self._root: _Node[V] = _Node()
        self._size = 0

    def add(self, pattern: str, value: V) -> None:
        """Subscribe ``value`` to ``pattern``.

        Raises:
            InvalidTopic: the pattern is malformed.
        """
        node = self._root
        tokens = validate_pattern(pattern).split(".")
        for token in tokens[:-1]:
            node = self._child(node, token)
        last = tokens[-1]
        if last == ">":
            node.rest = (*(node.rest or ()), value)
        else:
            leaf = self._child(node, last)
            leaf.here = (*(leaf.here or ()), value)
        self._size += 1

    def remove(self, pattern: str, value: V) -> None:
        """Undo one `add` of ``value`` under ``pattern``.

        Raises:
            KeyError: ``value`` is not subscribed to ``pattern``.
        """
        tokens = validate_pattern(pattern).split(".")
        path: list[tuple[_Node[V], str]] = []
        node = self._root
        for token in tokens[:-1] if tokens[-1] == ">" else tokens:
            child = node.star if token == "*" else (node.children or {}).get(token)
            if child is None:
                raise KeyError((pattern, value))
            path.append((node, token))
            node = child
        if tokens[-1] == ">":
            node.rest = _without(node.rest, value, pattern)
        else:
            node.here = _without(node.here, value, pattern)
        self._size -= 1
        self._prune(path)

    def match(self, topic: str) -> tuple[V, ...]:
        """Return the values subscribed to a pattern matching ``topic``.

        The caller validates ``topic`` (see `validate_topic`).
        """
        found: dict[V, None] = {}
        self._collect(self._root, topic.split("."), 0, found)
        return tuple(found)

    def __len__(self) -> int:
        """The number of subscriptions (adds not yet removed)."""
        return self._size

    def _collect(self, node: _Node[V], tokens: list[str], i: int, found: dict[V, None]) -> None:
        while True:
            if node.rest and i < len(tokens):
                found.update(dict.fromkeys(node.rest))
            if i == len(tokens):
                if node.here:
                    found.update(dict.fromkeys(node.here))
                return
            if node.star is not None:
                self._collect(node.star, tokens, i + 1, found)
            if node.children is None:
                return
            child = node.children.get(tokens[i])
            if child is None:
                return
            node, i = child, i + 1

    @staticmethod
    def _child(node: _Node[V], token: str) -> _Node[V]:
        if token == "*":
            if node.star is None:
                node.star = _Node()
            return node.star
        if node.children is None:
            node.children = {}
        child = node.children.get(token)
        if child is None:
            child = node.children[token] = _Node()
        return child

    @staticmethod
    def _prune(path: list[tuple[_Node[V], str]]) -> None:
        for parent, token in reversed(path):
            child = parent.star if token == "*" else (parent.children or {}).get(token)
            if child is None or not child.empty():
                return
            if token == "*":
                parent.star = None
            elif parent.children is not None:
                del parent.children[token]
                if not parent.children:
                    parent.children = None


def _without(values: tuple[V, ...] | None, value: V, pattern: str) -> tuple[V, ...] | None:
    if not values or value not in values:
        raise KeyError((pattern, value))
    rest = list(values)
    rest.remove(value)
    return tuple(rest) or None
