"""Live progress for ``actorbus run``: a status line on a terminal, plain lines elsewhere.

On a terminal one status line is redrawn in place (carriage return, clear to its
end): the tasks done so far, what just happened, and the tokens and dollars
spent, plus how many calls had no price (read from the bus's cost report).
Anywhere else (a pipe, a log file, CI) each of those is a plain line of its own,
so the record reads top to bottom. Lasting lines (verdicts and their issues,
problems, retries and waits of model calls) are printed as they are, in both
modes; the status line comes back with the next event.

Every line is cut to the terminal's width (``$COLUMNS`` when set; 100 columns
when the output is not a terminal), so a long verdict or error never floods the
display: the full texts are in the log (``actorbus log trace``).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from typing import TextIO, final

from .._models import CostReport

__all__ = ["StatusLine", "cut", "width"]

_CLEAR = "\r\x1b[K"


def width() -> int:
    """Return the columns a line may use: the terminal's, ``$COLUMNS``, else 100; less one."""
    return max(shutil.get_terminal_size((100, 24)).columns - 1, 20)


def cut(line: str, room: int) -> str:
    """Return ``line`` cut to ``room`` characters, ending in ``...`` if it was longer."""
    return line if len(line) <= room else line[: max(room - 3, 0)] + "..."


@final
class StatusLine:
    """A `Progress` that writes to ``stream`` (see the module docs).

    Args:
        stream: where to write.
        costs: returns the costs so far (``bus.costs``); may be set later, as the
            attribute ``costs``, once the bus is open (None: status lines show none).
        tty: redraw one line in place (True) or write a line per event (False).
    """

    __slots__ = ("_drawn", "_stream", "_tty", "costs")

    def __init__(
        self, stream: TextIO, costs: Callable[[], CostReport] | None = None, *, tty: bool
    ) -> None:
        self._stream = stream
        self.costs = costs
        self._tty = tty
        self._drawn = False

    def __call__(self, text: str, *, done: int, total: int, lasting: bool = False) -> None:
        """Show one event."""
        if lasting:
            self.note(text)
            return
        room = width()
        spent = "" if self.costs is None else f" | {self._spent(self.costs())}"
        head = f"[{done}/{total}] "
        line = head + cut(" ".join(text.split()), room - len(head) - len(spent)) + spent
        if self._tty:
            self._stream.write(_CLEAR + cut(line, room))
            self._drawn = True
        else:
            self._stream.write(line + "\n")
        self._stream.flush()

    def note(self, text: str) -> None:
        """Print a lasting text, each of its lines cut to the width, above the status line."""
        room = width()
        lines = [cut(line.rstrip(), room) for line in text.splitlines() or [""]]
        self._stream.write(_CLEAR if self._drawn else "")
        self._stream.write("".join(f"{line}\n" for line in lines))
        self._drawn = False
        self._stream.flush()

    def close(self) -> None:
        """Clear the status line, if one is drawn, so what follows starts clean."""
        if self._drawn:
            self._stream.write(_CLEAR)
            self._stream.flush()
            self._drawn = False

    @staticmethod
    def _spent(costs: CostReport) -> str:
        total = costs.total
        tokens = total.prompt_tokens + total.completion_tokens
        unpriced = f" + {total.unpriced_calls} unpriced" if total.unpriced_calls else ""
        return f"{tokens:,} tokens, ${total.cost:.4f}{unpriced}"
