"""actorbus benchmark harness: ``python -m benchmarks`` (see ``benchmarks/RESULTS.md``).

One module per scenario (``bench_*.py``). Each runs in its own subprocess, once per
repeat, and measures the same workload twice in that process: on actorbus and on a
raw asyncio baseline, so every figure comes with a ratio. The parent process
(``__main__``) runs the scenarios, shows progress, takes the median over repeats
and writes the table, JSON and Markdown reports.

This is tooling, not library code: it may print, and it is not part of the
installed wheel.
"""

from __future__ import annotations
