"""``actorbus bench``: run the benchmark harness (the same one as ``python -m benchmarks``).

The harness ships in the wheel as the ``actorbus_benchmarks`` package (the
repository's ``benchmarks/`` directory, renamed so no generic top-level name lands
in site-packages). Run from a source checkout (an editable install), it is the
checkout's own ``benchmarks/``, preferred over the copy the install made. It is
imported only when the command runs, so the rest of the CLI never pays for it; if
neither is there, the command says how to get it.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

__all__ = ["NOT_FOUND", "add_bench_parser", "run_bench"]

INSTALLED = "actorbus_benchmarks"
CHECKOUT = Path(__file__).resolve().parents[2]
NOT_FOUND = (
    "actorbus: the benchmark harness is not installed with this actorbus. Install actorbus "
    "from its wheel or source distribution (pip install 'actorbus[bench]' also installs the "
    "peer runtimes and matplotlib), or run `python -m benchmarks` in a source checkout."
)


def add_bench_parser(commands: Any) -> None:
    """Add ``bench`` to the ``actorbus`` help; `run_bench` parses its own options."""
    commands.add_parser(
        "bench",
        add_help=False,
        help="benchmark actorbus against raw asyncio and peer runtimes "
        "(actorbus bench --help for its options)",
    )


def _from_checkout() -> ModuleType | None:
    package = CHECKOUT / "benchmarks"
    if not (package / "_runner.py").is_file() or not (CHECKOUT / "pyproject.toml").is_file():
        return None
    if str(CHECKOUT) not in sys.path:
        sys.path.insert(0, str(CHECKOUT))
    spec = importlib.util.find_spec("benchmarks")
    if spec is None or spec.origin is None or Path(spec.origin).parent != package:
        return None  # another `benchmarks` shadows the checkout's; not ours to run
    return importlib.import_module("benchmarks.__main__")


def _harness() -> ModuleType | None:
    # The checkout first: an editable install also has a copy of the harness as
    # of its install, which would run stale code.
    found = _from_checkout()
    if found is not None:
        return found
    try:
        return importlib.import_module(f"{INSTALLED}.__main__")
    except ModuleNotFoundError as exc:
        if exc.name != INSTALLED:
            raise
    return None


def run_bench(argv: Sequence[str]) -> int:
    """Run the harness with ``argv`` (the words after ``bench``); return the exit status."""
    harness = _harness()
    if harness is None:
        print(NOT_FOUND, file=sys.stderr)
        return 2
    return int(harness.main(list(argv), prog="actorbus bench"))
