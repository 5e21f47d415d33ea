"""actorbus benchmark harness: ``python -m benchmarks`` (see ``benchmarks/RESULTS.md``).

One module per scenario (``bench_*.py``). Each runs in its own subprocess, once per
repeat, and measures the same workload twice in that process: on actorbus and on a
raw asyncio baseline, so every figure comes with a ratio. The parent process
(``__main__``) runs the scenarios, shows progress, takes the median over repeats
and writes the table, JSON and Markdown reports.

The ``peers`` package runs the same work on other runtimes (autogen-core, pykka,
thespian) when they are installed, and ``_charts`` draws PNG charts with
matplotlib (both from ``pip install 'actorbus[bench]'``).

This is tooling, not library code: it may print. The wheel ships it as
``actorbus_benchmarks`` (run by ``actorbus bench``), so no generic top-level
``benchmarks`` module lands in site-packages.
"""

from __future__ import annotations
