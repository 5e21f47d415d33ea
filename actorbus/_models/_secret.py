"""Masking the API key in text that came from a provider, before anything shows it.

Some gateways echo the caller's key back: in 4xx and 5xx bodies, in debug fields,
even in an answer. Every piece of a response that actorbus turns into text (an
error's excerpt of a body, an invalid streamed chunk, a completion's text and tool
arguments) goes through `Secret.mask` first, and only then is it cut to an excerpt:
cutting first would let a key that straddles the cut escape the mask with most of
its characters.

A mask covers the whole key and any run of `SLICE` or more of its characters (a
gateway may echo part of a key: ``sk-proj-...abcd``), replaced by `MASK`.
"""

from __future__ import annotations

from typing import final

__all__ = ["EXCERPT", "MASK", "SLICE", "Secret", "StreamMask"]

MASK = "***"
"""What stands in for a masked key (or part of one)."""

SLICE = 8
"""Runs of this many characters of the key, or more, are masked wherever they appear."""

EXCERPT = 200
"""Characters of a bad body kept in an error (after masking)."""


@final
class Secret:
    """One provider's API key, to be masked out of text from its responses.

    An empty key masks nothing (the offline provider, or a gateway with no key).
    """

    __slots__ = ("_key", "_slices")

    def __init__(self, key: str) -> None:
        self._key = key
        # Every distinct run of SLICE characters; a key shorter than that is only
        # masked whole.
        self._slices = frozenset(key[i : i + SLICE] for i in range(len(key) - SLICE + 1))

    def __repr__(self) -> str:
        return "Secret(***)" if self._key else "Secret()"

    @property
    def key(self) -> str:
        """The key itself (for the Authorization header only)."""
        return self._key

    def mask(self, text: str) -> str:
        """Return ``text`` with the key, and every run of `SLICE` of its characters, masked."""
        key = self._key
        if not key or not text:
            return text
        if key in text:
            text = text.replace(key, MASK)
        spans = self._spans(text)
        if not spans:
            return text
        parts: list[str] = []
        done = 0
        for start, end in spans:
            parts += (text[done:start], MASK)
            done = end
        parts.append(text[done:])
        return "".join(parts)

    def _spans(self, text: str) -> list[tuple[int, int]]:
        # The merged ranges of text covered by slices of the key.
        found: list[tuple[int, int]] = []
        for piece in self._slices:
            at = text.find(piece)
            while at != -1:
                found.append((at, at + SLICE))
                at = text.find(piece, at + 1)
        if not found:
            return found
        found.sort()
        merged = [found[0]]
        for start, end in found[1:]:
            last_start, last_end = merged[-1]
            if start <= last_end:
                merged[-1] = (last_start, max(last_end, end))
            else:
                merged.append((start, end))
        return merged

    def excerpt(self, body: bytes | str) -> str:
        """Return the start of ``body`` for an error message: masked first, then cut."""
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        text = self.mask(text)
        return text if len(text) <= EXCERPT else text[:EXCERPT] + "..."

    def stream(self) -> StreamMask:
        """Return a mask for text arriving in pieces (a streamed answer's deltas)."""
        return StreamMask(self)


@final
class StreamMask:
    """Masks the key in text arriving in pieces, even when it is split across them.

    `feed` returns what can be shown now: the masked text, less a tail that could
    be the start of the key (held back until the next piece says whether it is).
    `flush` returns the held tail at the end. With no key it passes pieces through.
    """

    __slots__ = ("_held", "_secret")

    def __init__(self, secret: Secret) -> None:
        self._secret = secret
        self._held = ""

    def feed(self, piece: str) -> str:
        """Return the part of the text so far that is safe to show now."""
        key = self._secret.key
        if not key:
            return piece
        text = self._held + piece
        if key in text:
            text = text.replace(key, MASK)
        cut = _key_prefix_at(text, key)
        self._held = text[cut:]
        return text[:cut]

    def flush(self) -> str:
        """Return the text held back (the stream has ended)."""
        held, self._held = self._held, ""
        return held


def _key_prefix_at(text: str, key: str) -> int:
    """Return where the longest tail of ``text`` that begins ``key`` starts (len if none)."""
    first = key[0]
    at = text.find(first, max(0, len(text) - len(key) + 1))
    while at != -1:
        if key.startswith(text[at:]):
            return at
        at = text.find(first, at + 1)
    return len(text)
