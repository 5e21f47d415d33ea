"""The README's tour is real code: its Python blocks run, in order, as written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _tour_blocks() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    tour = readme.split("## The 30-second tour", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", tour, flags=re.DOTALL)


def test_the_tour_has_a_message_an_actor_an_asyncio_app_and_a_trio_app() -> None:
    code = "\n".join(_tour_blocks())
    assert "class Research(ab.Message)" in code
    assert "class Researcher(ab.Actor)" in code
    assert "asyncio.run(main())" in code
    assert "trio.run(main)" in code


def test_the_tour_runs_on_asyncio_then_trio(tmp_path: Path) -> None:
    script = tmp_path / "tour.py"
    script.write_text("\n".join(_tour_blocks()))
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("Report(text='done: logs')") == 2  # once per backend
