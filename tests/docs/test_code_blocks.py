"""Every code block of the README and of docs/ is real: it runs, type-checks or parses.

- ``python`` blocks run, page by page, in one child process per page
  (``run_blocks.py``): in order, in one namespace, offline (no endpoint, no key),
  in an empty directory; each page's blocks also go through ``mypy --strict``.
- ``actorbus ...`` commands (``sh`` blocks, and ``$ actorbus`` lines of transcripts)
  run offline through the command's entry point, in the page's directory, in
  order: a command must succeed, and each line a transcript shows must be in what
  the command printed.
- ``toml`` and ``json`` blocks parse.

A block that cannot run here (it needs a server, a cluster, an installer, or takes
too long) is listed in `NOT_RUN` with the reason: that list is the one place
where such exceptions are made and reviewed, and an entry that matches no block
fails.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RUNNER = Path(__file__).with_name("run_blocks.py")
PAGES = ["README.md", *(f"docs/{p.name}" for p in sorted((ROOT / "docs").glob("*.md")))]

# (page, text found in the block) -> why the block does not run in the tests.
NOT_RUN: dict[tuple[str, str], str] = {
    ("README.md", ".venv/bin/pip install -q -e . &&"): (
        "installs actorbus into a new virtualenv; tests/test_cli.py runs its `actorbus run` "
        "task offline"
    ),
    ("README.md", ".venv/bin/pip install -q -e '.[dev]' &&"): (
        "installs, then runs this whole suite: it is .ci/run's command, which "
        "tests/test_readme.py checks"
    ),
    ("README.md", "--request-timeout 2\n"): (
        "a 40 s recording against `actorbus fake-openai --latency 5`; "
        "tests/test_cli_models.py runs slow and timed-out endpoints against FakeOpenAI"
    ),
    ("README.md", "llama-server -m"): "needs llama.cpp, Ollama or vLLM, and a model",
    ("docs/index.md", ".venv/bin/pip install -q -e . &&"): (
        "installs actorbus into a new virtualenv (the README's first command, with another task)"
    ),
    ("docs/benchmarks.md", "python -m benchmarks --markdown"): (
        "a full run takes most of an hour; tests/test_benchmarks.py runs the harness --quick"
    ),
    ("docs/cli.md", "llama-server -m"): "needs llama.cpp, Ollama or vLLM, and a model",
    ("docs/cli.md", "--base-url https://api.example.com/v1"): (
        "needs model endpoints; tests/test_cli_models.py runs these options against FakeOpenAI"
    ),
    ("docs/cli.md", "actorbus fake-openai --port"): (
        "serves until Ctrl-C; tests/test_cli_models.py runs it"
    ),
    ("docs/cli.md", "--log nats://127.0.0.1:4222"): (
        "needs a NATS server on port 4222; tests/test_cli_nats.py runs these against a test server"
    ),
    ("docs/jetstream.md", "--log nats://127.0.0.1:4222"): (
        "needs a NATS server on port 4222; tests/test_cli_nats.py runs these against a test server"
    ),
    ("docs/jetstream.md", 'ab.JetStreamLog("nats://nats-1:4222"'): (
        "needs the NATS server it names (and the README tour's Researcher); "
        "tests/log/test_jetstream_log.py does the same against a test server"
    ),
    ("docs/jetstream.md", 'cafile="ca.pem"'): "needs the cluster's CA file and credentials",
    ("docs/viewer.md", "actorbus log serve events.db"): (
        "installs the ui extra, then serves until Ctrl-C; tests/ui/test_cli_serve.py runs "
        "`actorbus log serve` and stops it"
    ),
    ("docs/viewer.md", 'actorbus run "Plan a release" --serve'): (
        "runs, then serves until Ctrl-C; tests/ui/test_cli_serve.py runs `run --serve` and stops it"
    ),
    ("docs/jetstream.md", "# worker.py, run as many times"): (
        "two programs for processes of their own, against the server `URL` names; "
        "tests/log/js_processes.py runs such workers"
    ),
}

# Names a page's blocks use without defining them, for mypy: (page) -> source.
PRELUDES: dict[str, str] = {
    # Its examples use the README tour's message and actor, and a server's URL.
    "docs/jetstream.md": (
        "import anyio; import actorbus as ab; URL = 'nats://127.0.0.1:4222'\n"
        "class Research(ab.Message): query: str\n"
        "class Researcher(ab.Actor): pass\n"
    ),
}

COMMAND_LANGS = ("sh", "bash", "console", "text")
_FENCE = re.compile(r"^(?P<indent> *)```(?P<lang>[\w-]*)\s*$")


@dataclass(frozen=True)
class Block:
    page: str
    line: int  # the Markdown line of the block's first line of code
    lang: str
    code: str
    run: bool
    # Each command as typed, with the lines the block shows it printing (a transcript).
    commands: list[tuple[str, list[str]]]


def _commands(lang: str, code: str) -> list[tuple[str, list[str]]]:
    """Every line of an ``sh`` block is a command; elsewhere ``$ ...`` and ``actorbus ...``
    lines are, and the lines after a command are what it printed ("..." for lines left out).
    """
    found: list[tuple[str, list[str]]] = []
    shell = lang in ("sh", "bash")
    for raw in code.splitlines():
        line = raw.strip()
        if (shell and line and not line.startswith("#")) or line.startswith(("$ ", "actorbus ")):
            found.append((line.removeprefix("$ ").split("  #", 1)[0].strip(), []))
        elif found and not shell and raw != "...":
            found[-1][1].append(raw)
    return found


def blocks(page: str) -> list[Block]:
    """Return the page's fenced code blocks, with whether each runs here."""
    found: list[Block] = []
    lines = (ROOT / page).read_text().splitlines()
    i = 0
    while i < len(lines):
        fence = _FENCE.match(lines[i])
        if fence is None:
            i += 1
            continue
        indent, end = len(fence["indent"]), i + 1
        while lines[end].strip() != "```":
            end += 1
        code = "".join(line[indent:] + "\n" for line in lines[i + 1 : end])
        lang = fence["lang"] or "text"
        run = not any(p == page and text in code for (p, text) in NOT_RUN)
        found.append(Block(page, i + 2, lang, code, run, _commands(lang, code)))
        i = end + 1
    return found


def _pages_with(*langs: str) -> list[str]:
    return [page for page in PAGES if any(b.lang in langs for b in blocks(page))]


def _offline_env(home: Path) -> dict[str, str]:
    # No endpoint, no key, no log configured: the commands and examples run offline.
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "PYTHONPATH": str(ROOT),
        "COLUMNS": "100",
    }


def test_every_not_run_entry_matches_a_block() -> None:
    for page, text in NOT_RUN:
        assert any(text in b.code for b in blocks(page)), f"stale NOT_RUN entry: {page}: {text!r}"


@pytest.mark.parametrize("page", PAGES)
def test_every_command_block_runs_only_actorbus_or_says_why_not(page: str) -> None:
    for block in blocks(page):
        others = [c for c, _ in block.commands if not c.startswith("actorbus ")]
        assert not (block.run and others), (
            f"{page}:{block.line}: {others} cannot run in the tests: add the block to NOT_RUN "
            "with the reason"
        )


def _run_page(page: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    spec = tmp_path / "blocks.json"
    spec.write_text(json.dumps([asdict(b) for b in blocks(page)]))
    workdir = tmp_path / "work"
    workdir.mkdir()
    return subprocess.run(
        [sys.executable, str(RUNNER), str(spec)], cwd=workdir, env=_offline_env(tmp_path),
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def _outputs(stdout: str) -> list[tuple[str, str, str]]:
    """Split the child's output into (command, its output, its exit status)."""
    parts = re.split(r"^@@@ (.*)\n", stdout, flags=re.MULTILINE)[1:]
    pairs = list(zip(parts[::2], parts[1::2], strict=True))
    return [
        (command, output, status.removeprefix("exit "))
        for (command, output), (status, _) in zip(pairs[::2], pairs[1::2], strict=True)
    ]


@pytest.mark.parametrize("page", _pages_with("python", *COMMAND_LANGS))
def test_the_pages_blocks_run_offline(page: str, tmp_path: Path) -> None:
    result = _run_page(page, tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    ran = _outputs(result.stdout)
    expected = [
        (block, command, shown)
        for block in blocks(page)
        if block.run
        for command, shown in block.commands
        if command.startswith("actorbus ")
    ]
    assert [command for command, _, _ in ran] == [command for _, command, _ in expected]
    for (command, output, status), (block, _, shown) in zip(ran, expected, strict=True):
        assert status == "0", f"{page}:{block.line}: `{command}` exited {status}:\n{output}"
        missing = [line for line in shown if line not in output.splitlines()]
        assert not missing, f"{page}:{block.line}: `{command}` did not print {missing}"


@pytest.mark.parametrize("page", _pages_with("toml", "json"))
def test_the_pages_data_blocks_parse(page: str) -> None:
    for block in blocks(page):
        if block.lang == "toml":
            tomllib.loads(block.code)
        elif block.lang == "json":
            json.loads(block.code)


def _typed_module(page: str) -> str:
    """The page's Python blocks as one module, each at its own Markdown line numbers."""
    lines = [""] * len((ROOT / page).read_text().splitlines())
    prelude = PRELUDES.get(page, "").splitlines()
    lines[: len(prelude)] = prelude  # over the page's title and first prose
    for block in blocks(page):
        if block.lang == "python":
            first = block.line - 1
            assert first >= len(prelude), f"{page}: the prelude overlaps its first block"
            for n, line in enumerate(block.code.splitlines()):
                lines[first + n] = line
    return "\n".join(lines) + "\n"


@pytest.mark.timeout(240)
def test_every_python_block_type_checks(tmp_path: Path) -> None:
    files: dict[str, str] = {}
    for page in _pages_with("python"):
        module = tmp_path / (re.sub(r"\W", "_", page.removesuffix(".md")) + ".py")
        module.write_text(_typed_module(page))
        files[str(module)] = page
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary",
         # Blocks may await at the top, as in `python -m asyncio`; they run that way.
         "--disable-error-code", "top-level-await", "--disable-error-code", "syntax",
         *files],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    report = result.stdout
    for path, page in files.items():
        report = report.replace(path, page)
    assert result.returncode == 0, report + result.stderr
