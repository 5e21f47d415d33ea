"""The README's tour is real code, and its commands are the ones that work.

Every block of the README also runs in tests/docs/test_code_blocks.py; these tests
check what that generic run cannot: what the tour prints, on both backends, and
that the test command is the one CI runs.
"""

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


def _sh_blocks(text: str) -> list[str]:
    return re.findall(r"```sh\n(.*?)```", text, flags=re.DOTALL)


def test_it_opens_with_the_two_commands_and_the_second_is_what_ci_runs() -> None:
    readme = (ROOT / "README.md").read_text()
    run, suite = (block.strip() for block in _sh_blocks(readme)[:2])
    assert run.startswith("python3 -m venv .venv && .venv/bin/pip install -q -e . && ")
    assert ".venv/bin/actorbus run " in run
    ci = (ROOT / ".ci" / "run").read_text()
    assert suite in ci.splitlines()
    assert readme.index(suite) < readme.index("\n## ")  # both before the first section
