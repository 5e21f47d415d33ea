"""LLM role actors: workers whose `perform` is one model call.

`LLMWorker` turns a task into a prompt, asks its model and returns the answer.
The roles are the source article's team, each with its own system prompt and
model, following its cost pattern: a cheap model for the many research calls, a
strong one for the writing that users read, and a fast, cheap one from another
vendor for validation (see `Validator`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, ClassVar

import actorbus as ab

from ._worker import Worker

__all__ = ["LLMWorker", "Researcher", "Validator", "Writer", "parse_verdict"]

# Inputs the coordinator adds to a task (sequential and DAG workflows): not part
# of what a role is asked, unless a subclass decides otherwise.
_PLUMBING = ("previous", "deps")


class LLMWorker(Worker):
    """A worker that does each task with one model call: subclass it per role.

    `perform` sends ``[system(system_prompt), user(prompt(task))]`` to the actor's
    model with ``max_tokens`` and returns ``parse(text)`` as the task's output.
    Model errors are not retried by the handler (``max_retries = 0``): the models
    layer already retried what can succeed on a retry (429, 5xx, timeouts), and
    what reaches the handler (`ModelUnavailable`, `AuthenticationError`,
    `BudgetExceeded`) would fail again; the coordinator may try another actor.

    Args:
        coordinator: the coordinator to work for.
        capabilities: overrides the class's `capabilities` for this instance.
        model: the model this instance calls, instead of the class's ``model``
            (an assignment in the model configuration still wins).

    Class attributes:
        system_prompt: who the model is and how to answer.
        max_tokens: the most tokens an answer may have (also what budgets reserve).
        model: the model to call (see `actorbus.Actor`).
    """

    system_prompt: ClassVar[str] = "You are a careful assistant. Answer the task."
    max_tokens: ClassVar[int] = 800
    max_retries = 0

    def __init__(
        self,
        coordinator: str | None = "coordinator",
        capabilities: Sequence[str] | None = None,
        *,
        model: str | None = None,
    ) -> None:
        super().__init__(coordinator, capabilities)
        self.chosen_model = model

    def prompt(self, task: ab.TaskDelegation) -> str:
        """Return the user message for ``task``: its description, then its inputs."""
        lines = [f"Task: {_one_line(task.description)}"]
        for name, value in task.inputs.items():
            if name in _PLUMBING or value in (None, "", [], {}):
                continue
            lines.append(f"{name}: {_text(value)}")
        return "\n".join(lines)

    def parse(self, text: str) -> Any:
        """Return the task's output made from the model's answer (here: the text)."""
        return text.strip()

    async def perform(self, task: ab.TaskDelegation, ctx: ab.Context) -> Any:
        """Ask the model once and return the parsed answer."""
        done = await ctx.complete(
            [ab.system(self.system_prompt), ab.user(self.prompt(task))],
            model=self.chosen_model,
            max_tokens=self.max_tokens,
        )
        return self.parse(done.text)


class Researcher(LLMWorker):
    """Researches one angle of a task (input ``angle``) in a few bullet points.

    Research is the many, small calls of a run, so it goes to a cheap model.
    """

    capabilities = ("research",)
    model = "deepseek-v3"
    max_tokens = 400
    system_prompt = (
        "You are a researcher on a small team. Given a task and one angle on it, "
        "answer with three to five short, concrete bullet points on that angle only. "
        "No introduction, no conclusion."
    )

    def prompt(self, task: ab.TaskDelegation) -> str:
        """Return the task and the angle to research."""
        angle = str(task.inputs.get("angle") or "overview")
        return (
            f"Task: {_one_line(task.description)}\nAngle: {_one_line(angle)}\n\n"
            "Write the bullet points for this angle."
        )


class Writer(LLMWorker):
    """Writes the answer from the research notes (input ``notes``, a list).

    On a revision it also gets its previous ``draft`` and the validator's
    ``feedback``. Writing is what users read, so it goes to a strong model.
    """

    capabilities = ("write",)
    model = "gpt-4.1"
    max_tokens = 1200
    system_prompt = (
        "You are the writer on a small team. Using the research notes, write a clear, "
        "direct answer to the task in one or two paragraphs. When you get reviewer "
        "feedback, revise your previous draft to address all of it."
    )

    def prompt(self, task: ab.TaskDelegation) -> str:
        """Return the task, the notes, and on a revision the draft and the feedback."""
        notes = task.inputs.get("notes") or []
        parts = [f"Task: {_one_line(task.description)}"]
        parts.append("Research notes:\n" + "\n\n".join(str(n).strip() for n in notes))
        if draft := str(task.inputs.get("draft") or "").strip():
            parts.append(f"Your previous draft:\n{draft}")
        if feedback := str(task.inputs.get("feedback") or "").strip():
            parts.append(f"Reviewer feedback: {_one_line(feedback)}")
        parts.append("Write the answer.")
        return "\n\n".join(parts)


class Validator(LLMWorker):
    """Judges a draft (input ``draft``): ``{"approved": bool, "feedback": str}``.

    The model is asked to begin with ``APPROVED`` or ``REVISE: <what to change>``;
    `parse_verdict` reads that leniently and never raises. It runs once per review
    round, reads a checklist and writes a line or two, so a fast, cheap model
    does: Gemini 2.5 Flash costs a sixth of Claude Sonnet 4 in the article's table,
    and being from another vendor than the writer's model, it does not grade its
    own family's style.
    """

    capabilities = ("validate",)
    model = "gemini-2.5-flash"
    max_tokens = 300
    system_prompt = (
        "You are the validator on a small team. Check whether the draft answers the "
        "task completely and correctly. Reply with APPROVED on the first line if it "
        "does; otherwise reply with REVISE: followed by what to change, briefly."
    )

    def prompt(self, task: ab.TaskDelegation) -> str:
        """Return the task and the draft to judge."""
        draft = str(task.inputs.get("draft") or "").strip()
        return (
            f"Task: {_one_line(task.description)}\n\nDraft:\n{draft}\n\n"
            "Reply APPROVED, or REVISE: and what to change."
        )

    def parse(self, text: str) -> dict[str, Any]:
        """Return the verdict in the model's answer (see `parse_verdict`)."""
        return parse_verdict(text)


_VERDICT = re.compile(r"(APPROVED?|REVISE)\b[\s:.,;!-]*(.*)", re.IGNORECASE | re.DOTALL)


def parse_verdict(text: str) -> dict[str, Any]:
    """Read a validator's answer as ``{"approved": bool, "feedback": str}``; never raises.

    The first non-empty line decides, ignoring case and Markdown emphasis:
    ``APPROVED`` (the rest is kept as feedback) or ``REVISE: what to change``. Any
    other answer is not an approval, and the whole text becomes the feedback, so a
    garbled verdict sends the draft round again with the model's words rather than
    passing it.
    """
    body = text.strip()
    first, _, rest = body.partition("\n")
    match = _VERDICT.match(first.strip().strip("*_#>` \t"))
    if match is None:
        return {"approved": False, "feedback": body or "the validator gave no answer"}
    approved = match.group(1).upper().startswith("APPROVE")
    feedback = " ".join(part for part in (match.group(2).strip(), rest.strip()) if part)
    if not approved and not feedback:
        feedback = "the validator asked for a revision without saying what to change"
    return {"approved": approved, "feedback": feedback}


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _text(value: Any) -> str:
    if isinstance(value, list | tuple):
        return "\n" + "\n".join(f"- {_one_line(str(v))}" for v in value)
    return _one_line(str(value))
