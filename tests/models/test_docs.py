"""The models guide's first example is real code: it runs offline as written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_guides_first_example_runs_offline(tmp_path: Path) -> None:
    guide = (ROOT / "docs" / "models.md").read_text()
    block = re.findall(r"```python\n(.*?)```", guide, flags=re.DOTALL)[0]
    script = tmp_path / "example.py"
    script.write_text(block + "\nimport asyncio\nasyncio.run(main())\n")
    env = {"PATH": "", "PYTHONPATH": str(ROOT)}  # no endpoint configured: offline echo
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, env=env,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Report(text='echo: actors')" in result.stdout
    assert "actor researcher" in result.stdout
    assert "total" in result.stdout
