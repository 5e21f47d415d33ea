"""A scripted, offline provider for the team: sensible answers with no network.

`offline_reply` answers a chat request the way each role would, recognised by its
system prompt, using only the words of the task: the researcher writes a few
bullet points on its angle; the writer turns the notes into a paragraph, but in
its first draft leaves out some of the task's key terms (unless the feedback names
them); the validator answers with a JSON `Verdict`, approving a draft that
mentions every key term and otherwise listing ``mention X`` for each one missing.
So an offline run shows a real, bounded review loop: a first draft sent back, a
second one approved. Deterministic: the same task gives the same answers. None of
it is a model's work, which is why ``actorbus run`` says so when it uses it.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

import actorbus as ab

__all__ = ["offline_models", "offline_reply"]

_STOPWORD_TEXT = """a about after again all also an and any are as at be because been before being
    between both but by can could did do does doing done each few for from get had has
    have how i if in into is it its just make may me more most must my no not now of on
    once one only or our out over own same should so some such than that the their them
    then there these they this those through to too two under until up us use using very
    was we were what when where which while who why will with without would you your"""
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())
_WORD = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_ROLE = re.compile(r"\b(researcher|writer|validator)\b", re.IGNORECASE)

_ANGLE_LINES = {
    "background": (
        "the question turns on {a} and {b}",
        "{c} is where most of the difficulty lies",
        "{d} and {e} need precise definitions before anything else",
    ),
    "approaches": (
        "give {a} a single owner, and record every change to {b}",
        "make each step that touches {c} idempotent, so that a retry is harmless",
        "check {d} against {e} before acting",
    ),
    "risks": (
        "{a} goes wrong silently when two agents act at once",
        "{b} drifts unless someone validates it",
        "retries around {c} and {d} cost time and money: bound them",
    ),
}
_OTHER_ANGLE = ("start from {a} and {b}", "see how {c} affects {d}", "keep {e} in view")


def offline_models(config: ab.ModelsConfig | None = None) -> ab.Models:
    """Return models whose offline (``echo:``) providers answer with `offline_reply`.

    Args:
        config: the configuration (default: `actorbus.ModelsConfig.offline`); its
            prices, assignments and budgets apply as usual, and its calls are
            priced as the model names the roles ask for.
    """
    config = ab.ModelsConfig.offline() if config is None else config
    transports = {
        p.name: ab.EchoTransport(respond=offline_reply) for p in config.providers if p.offline
    }
    return ab.Models(config, transports=transports)


def offline_reply(body: dict[str, Any]) -> str:
    """Answer a chat completions request body as the role its system prompt names.

    Roles are recognised by the words ``researcher``, ``writer`` or ``validator``
    in the system prompt (the first one found); any other request is echoed
    (``"echo: "`` and the last user message).
    """
    messages: list[dict[str, Any]] = body.get("messages") or []
    system = next((str(m.get("content")) for m in messages if m.get("role") == "system"), "")
    prompt = next(
        (str(m.get("content")) for m in reversed(messages) if m.get("role") == "user"), ""
    )
    role = _ROLE.search(system)
    if role is None:
        return f"echo: {prompt}"
    answer = {"researcher": _research, "writer": _write, "validator": _validate}
    return answer[role.group(1).lower()](prompt)


def key_terms(task: str, limit: int = 6) -> list[str]:
    """Return the task's first ``limit`` distinct words that are not stopwords."""
    words = [w for w in _WORD.findall(task.lower()) if len(w) > 2 and w not in _STOPWORDS]
    return list(dict.fromkeys(words))[:limit]


def _research(prompt: str) -> str:
    terms = key_terms(_field(prompt, "Task")) or ["the task"]
    angle = _field(prompt, "Angle") or "overview"
    start = len(angle) % len(terms)  # each angle leads with another term
    a, b, c, d, e = (terms[(start + i) % len(terms)] for i in range(5))
    lines: tuple[str, ...] | None = _ANGLE_LINES.get(angle.lower())
    if lines is None:
        lines = tuple(f"{angle}: {line}" for line in _OTHER_ANGLE)
    return "\n".join(f"- {line.format(a=a, b=b, c=c, d=d, e=e)}" for line in lines)


def _write(prompt: str) -> str:
    terms = key_terms(_field(prompt, "Task"))
    feedback = prompt.partition("Reviewer feedback, to address:")[2]
    named = set(_WORD.findall(feedback.split("\n\nWrite the answer.")[0].lower()))
    held_back = terms[len(terms) - min(2, len(terms) // 2) :]  # a first draft's gaps
    omitted = {t for t in held_back if t not in named}
    sentences: list[str] = []
    seen: set[str] = set()
    for bullet in _bullets(prompt):
        words = set(_WORD.findall(bullet.lower()))
        if words & omitted or (len(sentences) >= 2 and not (words & set(terms)) - seen):
            continue
        sentences.append(bullet[0].upper() + bullet[1:].rstrip(".") + ".")
        seen |= words
    sentences += [f"Keep {t} in view." for t in terms if t not in seen and t not in omitted]
    if named & set(terms):
        sentences.append(f"This revision also covers {', '.join(sorted(named & set(terms)))}.")
    # The fixed words above could be key terms too: a gap must stay a gap.
    kept = [s for s in sentences if not set(_WORD.findall(s.lower())) & omitted]
    return " ".join(kept) or "Nothing to add."


def _validate(prompt: str) -> str:
    terms = key_terms(_field(prompt, "Task"))
    draft = prompt.split("Draft:", 1)[-1].rsplit("\n\nJudge the draft.", 1)[0]
    present = set(_WORD.findall(draft.lower()))
    missing = [t for t in terms if t not in present]
    verdict = {"approved": not missing, "issues": [f"mention {t}" for t in missing]}
    return msgspec.json.encode(verdict).decode()


def _field(prompt: str, label: str) -> str:
    match = re.search(rf"^{re.escape(label)}: (.*)$", prompt, re.MULTILINE)
    return match.group(1).strip() if match else ""


def _bullets(prompt: str) -> list[str]:
    notes = prompt.split("Your previous draft:", 1)[0]  # not the old draft's lines
    return [line[2:].strip() for line in notes.splitlines() if line.startswith("- ")]
