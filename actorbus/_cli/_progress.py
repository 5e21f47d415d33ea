"""Live progress for ``actorbus run``: a status line on a terminal, plain lines elsewhere.

On a terminal one status line is redrawn in place (carriage return, clear to its
end), cut to the terminal's width so it never wraps: the tasks done so far, what
just happened, and the tokens and dollars spent, plus how many calls had no price
(read from the bus's cost report). Anywhere else (a pipe, a log file, CI) each of
those is a plain line of its own, so the record reads top to bottom. Lasting lines
(verdicts, problems) are printed as they are, in both modes; the status line comes
back with the next event.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from typing import TextIO, final

from .._models import CostReport

__all__ = ["StatusLine"]

_CLEAR = "\r\x1b[K"


@final
class StatusLine:
    """A `Progress` that writes to ``stream`` (see the module docs).

    Args:
        stream: where to write.
        costs: returns the costs so far (``bus.costs``).
        tty: redraw one line in place (True) or write a line per event (False).
    """

    __slots__ = ("_costs", "_drawn", "_stream", "_tty")

    def __init__(self, stream: TextIO, costs: Callable[[], CostReport], *, tty: bool) -> None:
        self._stream = stream
        self._costs = costs
        self._tty = tty
        self._drawn = False

    def __call__(self, text: str, *, done: int, total: int, lasting: bool = False) -> None:
        """Show one event."""
        if lasting:
            self._stream.write(f"{_CLEAR if self._drawn else ''}{text}\n")
            self._drawn = False
        else:
            line = f"[{done}/{total}] {text} | {self._spent()}"
            if self._tty:
                self._stream.write(_CLEAR + self._fit(line))
                self._drawn = True
            else:
                self._stream.write(line + "\n")
        self._stream.flush()

    def close(self) -> None:
        """Clear the status line, if one is drawn, so what follows starts clean."""
        if self._drawn:
            self._stream.write(_CLEAR)
            self._stream.flush()
            self._drawn = False

    def _spent(self) -> str:
        total = self._costs().total
        tokens = total.prompt_tokens + total.completion_tokens
        unpriced = f" + {total.unpriced_calls} unpriced" if total.unpriced_calls else ""
        return f"{tokens:,} tokens, ${total.cost:.4f}{unpriced}"

    @staticmethod
    def _fit(line: str) -> str:
        width = shutil.get_terminal_size().columns - 1
        return line if len(line) <= width else line[: max(width - 3, 0)] + "..."
