"""Server-sent events: the bytes of a ``text/event-stream`` in, each event's data out.

Written here rather than taken from a library because the split is the whole job
and the usual tools get it wrong for this use: httpx's ``aiter_lines`` follows
`str.splitlines`, which also breaks lines at U+2028, U+2029 and U+0085 (and at
form feeds and other separators), so a chunk whose text holds one is cut in two
and fails to decode. The SSE specification (WHATWG HTML, "Parsing an event
stream") ends lines at CR, LF or CRLF only, and that is all this does, on bytes,
before any decoding: a UTF-8 character never contains either byte. The core also
takes no dependency beyond anyio, httpx, msgspec and aiolimiter.
"""

from __future__ import annotations

import re
from typing import final

__all__ = ["EventReader"]

_LINE_END = re.compile(rb"\r\n|\r|\n")


@final
class EventReader:
    """Parses an event stream fed in arbitrary pieces; pure (no I/O).

    `feed` returns the data of every event the piece completed (the ``data:``
    lines of an event joined by LF, as the specification says); comments
    (``:`` lines, such as keep-alives), other fields and empty events yield
    nothing. A CR at the end of one piece and an LF at the start of the next are
    one line end.
    """

    __slots__ = ("_data", "_partial", "_skip_lf")

    def __init__(self) -> None:
        self._partial = b""  # the start of a line whose end has not arrived
        self._data: list[bytes] = []  # the data lines of the event being read
        self._skip_lf = False  # the last piece ended with CR: a leading LF is its pair

    def feed(self, piece: bytes) -> list[bytes]:
        """Take the next bytes of the stream; return the data of the events they complete."""
        if self._skip_lf and piece.startswith(b"\n"):
            piece = piece[1:]
        self._skip_lf = piece.endswith(b"\r")
        lines = _LINE_END.split(self._partial + piece)
        self._partial = lines.pop()
        events: list[bytes] = []
        for line in lines:
            if line:
                self._field(line)
            elif self._data:
                events.append(b"\n".join(self._data))
                self._data = []
        return events

    def _field(self, line: bytes) -> None:
        name, _, value = line.partition(b":")
        if name == b"data":
            self._data.append(value[1:] if value.startswith(b" ") else value)
        # Anything else is a comment (an empty name: ':' first) or a field the
        # chat completions API does not use (event, id, retry): ignored.

    def pending(self) -> bytes | None:
        """Return the data of an event left unfinished when the stream ended, if any.

        A stream should end each event with a blank line; a server that ends
        without one leaves its last event here.
        """
        if self._partial:
            self._field(self._partial)
            self._partial = b""
        if not self._data:
            return None
        data, self._data = b"\n".join(self._data), []
        return data
