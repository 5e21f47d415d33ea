"""The team guide's example is real code: it runs offline as written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_guides_example_runs_offline(tmp_path: Path) -> None:
    guide = (ROOT / "docs" / "team.md").read_text()
    block = re.findall(r"```python\n(.*?)```", guide, flags=re.DOTALL)[0]
    script = tmp_path / "example.py"
    script.write_text(block + "\nimport asyncio\nasyncio.run(main())\n")
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60,
        env={"PATH": "", "PYTHONPATH": str(ROOT)}, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "[7/7] validator finished validate-2" in lines
    assert "True 2 " in result.stdout  # approved after two rounds
    assert "actor writer" in result.stdout
