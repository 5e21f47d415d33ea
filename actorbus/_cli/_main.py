"""Argument parsing and dispatch of the ``actorbus`` command."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from .._errors import ActorbusError
from .._version import __version__
from ._bench_cmd import add_bench_parser, run_bench
from ._fake_cmd import add_fake_openai_parser
from ._log_cmd import add_log_parser
from ._run_cmd import add_run_parser

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="actorbus",
        description="Typed actors on a pub/sub bus with an ordered, de-duplicating log.",
    )
    parser.add_argument("--version", action="version", version=f"actorbus {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    add_run_parser(commands)
    add_log_parser(commands)
    add_fake_openai_parser(commands)
    add_bench_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``actorbus`` command; return its exit status."""
    words = list(sys.argv[1:] if argv is None else argv)
    if words[:1] == ["bench"]:
        # The harness owns its options (and its --help): hand them over unparsed.
        return run_bench(words[1:])
    args = _parser().parse_args(words)
    args.words = words  # as typed, for commands that suggest running them again
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except ActorbusError as exc:
        print(f"actorbus: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # Whoever read our output stopped (`| head`): end quietly, and keep Python
        # from failing again when it flushes stdout on exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as exc:  # such as a --log path in a directory that does not exist
        print(f"actorbus: {exc}", file=sys.stderr)
        return 1
