"""What ``actorbus run`` prints: the offline notice, and the report at the end.

An offline run says first, before anything else, that its replies are scripted
and no model is called, and how to use a real one; its answer is then headed as
scripted too. The report at the end is the answer (or, for a run cut short or
failed, the best draft so far, marked unfinished, and how to go on with
``--resume``), each review round with one line per issue, the problems, the cost
table, where the log is and an ``actorbus log trace`` command per request.
Every line of verdicts and problems is cut to the terminal's width.
"""

from __future__ import annotations

import argparse
import shlex
import textwrap
from collections.abc import Sequence

from ._log_target import LogTarget
from ._progress import cut, width
from ._run_session import Session
from ._team import TeamOutcome

__all__ = ["OFFLINE_NOTICE", "report", "stopped_line"]

OFFLINE_NOTICE = """\
offline demo: these replies are scripted, and no model is called.
  to call a model: --base-url URL --model NAME (key: $OPENAI_API_KEY or --api-key-env VAR)
  local servers (llama-server, Ollama, vLLM): see "Run it on a local model" in README.md"""
"""The first thing an offline run prints."""


def report(args: argparse.Namespace, session: Session, target: LogTarget, elapsed: float) -> str:
    """Return the whole report printed at the end of a run (not ``--quiet``)."""
    offline = args.run_models.offline
    lines = [""]
    outcome = session.outcome
    if session.ended != "done":
        room = width()
        lines += [cut(stopped_line(args, session), room), *_resume_hint(args), ""]
    if outcome is not None:
        lines += _answer(outcome, finished=session.ended == "done", offline=offline)
    whose = " of this session (not the earlier one's)" if args.resume else ""
    lines += ["", f"model calls{whose}, through {args.run_models.where}:", session.costs.format()]
    lines += ["", f"{session.published} messages in {elapsed:.2f} s, logged to {target.shown}"]
    if outcome is not None and outcome.traces:
        lines.append("see how each step was handled (one causation tree per request):")
        trace = ["actorbus", "log", "trace", *target.log_args()]
        lines += [f"  {step}: {shlex.join([*trace, mid])}" for step, mid in outcome.traces]
    if (note := target.paste_note()) is not None:
        lines.append(note)
    return "\n".join(lines)


def stopped_line(args: argparse.Namespace, session: Session) -> str:
    """Say how a run that did not finish ended, in one line."""
    if session.ended == "timeout":
        return (
            f"unfinished: the run did not finish within --timeout {args.timeout:g} s "
            "(allow more with --timeout)"
        )
    if session.ended == "interrupted":
        return "unfinished: the run was stopped (Ctrl-C)"
    return f"unfinished: the run failed: {session.error}"


def _resume_hint(args: argparse.Namespace) -> list[str]:
    words = [w for w in args.words if w != "--resume"]
    return [f"go on from where it stopped: {shlex.join(['actorbus', *words, '--resume'])}"]


def _answer(outcome: TeamOutcome, *, finished: bool, offline: bool) -> list[str]:
    n = outcome.rounds
    if len(outcome.reviews) < n:  # its last draft got no verdict (yet)
        verdict = f"round {n} has no verdict" if finished else "not reviewed"
    else:
        approved = "approved" if outcome.approved else "not approved"
        verdict = f"{approved} after {n} review round{'s' if n != 1 else ''}"
    if not finished:
        if not outcome.answer:
            head = "no draft was written before it stopped"
        else:
            head = f"best draft so far (round {n}, {verdict.split(' after ')[0]}; unfinished):"
    elif offline:
        head = f"scripted answer (offline demo, no model was called; {verdict}):"
    else:
        head = f"answer ({verdict}):"
    lines = [head]
    if outcome.answer:
        lines += [_indent(outcome.answer), "", "review rounds:", *_reviews(outcome.reviews)]
    if outcome.problems:
        room = width()
        lines += ["", "problems along the way:", *(cut(f"  - {p}", room) for p in outcome.problems)]
    return lines


def _reviews(reviews: Sequence[str]) -> list[str]:
    if not reviews:
        return ["  (no draft was reviewed)"]
    room = width()
    lines: list[str] = []
    for i, review in enumerate(reviews, 1):
        verdict, *issues = review.splitlines() or [""]
        lines.append(cut(f"  {i}. {verdict}", room))
        lines += [cut(f"     - {issue}", room) for issue in issues]
    return lines


def _indent(text: str) -> str:
    out: list[str] = []
    room = min(width(), 88)
    for line in text.strip().splitlines() or [""]:
        out += textwrap.wrap(line, room, initial_indent="  ", subsequent_indent="  ") or [""]
    return "\n".join(out)
