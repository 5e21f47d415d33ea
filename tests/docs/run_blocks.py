"""Run one page's code blocks in order, as a reader pasting them would: the child process.

``python run_blocks.py SPEC`` reads a JSON list of blocks (``page``, ``line``,
``lang``, ``code``, ``run``, ``commands``) and, in the current directory:

- runs each ``python`` block in one namespace shared by the page, so a block may
  use what an earlier one defined. A block with a top-level ``await`` or ``async
  with`` runs in an event loop of its own (as in ``python -m asyncio``); a block
  that defines ``async def main()`` without running it gets it run on asyncio.
  A block marked not to run is compiled (a syntax check) and only its imports
  are run, so the blocks after it see the names a reader would have.
- runs each ``actorbus ...`` command of an ``sh`` or ``console`` block through
  the command's own entry point, printing ``@@@ <command>`` before its output and
  ``@@@ exit <status>`` after, so the parent can check each one.

A traceback names the page and the line of the Markdown file.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import json
import shlex
import sys
import types
from pathlib import Path
from typing import Any

from actorbus._cli import main as actorbus_main


def _compile(block: dict[str, Any]) -> types.CodeType:
    # Blank lines first, so that line numbers are the Markdown file's.
    source = "\n" * (block["line"] - 1) + str(block["code"])
    code: types.CodeType = compile(
        source, str(block["page"]), "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
    )
    return code


def _imports_only(block: dict[str, Any]) -> types.CodeType:
    tree = ast.parse("\n" * (block["line"] - 1) + block["code"])
    tree.body = [node for node in tree.body if isinstance(node, ast.Import | ast.ImportFrom)]
    return compile(tree, block["page"], "exec")


def _run_python(block: dict[str, Any], namespace: dict[str, Any]) -> None:
    code = _compile(block)
    if not block["run"]:
        exec(_imports_only(block), namespace)
        return
    before = namespace.get("main")
    if code.co_flags & inspect.CO_COROUTINE:
        asyncio.run(eval(code, namespace))  # a block with a top-level await
    else:
        exec(code, namespace)
    main = namespace.get("main")
    if main is not before and inspect.iscoroutinefunction(main) and "(main" not in block["code"]:
        asyncio.run(main())


def _run_commands(block: dict[str, Any]) -> None:
    for command, _ in block["commands"]:
        if not command.startswith("actorbus "):
            continue  # the parent test refuses such a block unless it is not run
        print(f"@@@ {command}", flush=True)
        try:
            status: object = actorbus_main(shlex.split(command)[1:])
        except SystemExit as exit_:  # argparse: --help, or a usage error
            status = exit_.code
        sys.stdout.flush()
        print(f"@@@ exit {status}", flush=True)


def main() -> None:
    blocks: list[dict[str, Any]] = json.loads(Path(sys.argv[1]).read_text())
    module = types.ModuleType("docs_page")  # a real module: msgspec resolves names in it
    sys.modules[module.__name__] = module
    for block in blocks:
        if block["lang"] == "python":
            _run_python(block, module.__dict__)
        elif block["run"]:
            _run_commands(block)


if __name__ == "__main__":
    main()
