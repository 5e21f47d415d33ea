"""LLM role actors: workers whose `perform` is one model call.

`LLMWorker` turns a task into a prompt, asks its model and returns the answer.
The roles are the source article's team, each with its own system prompt and
model, following its cost pattern: a cheap model for the many research calls, a
strong one for the writing that users read, and a fast, cheap one from another
vendor for validation (see `Validator`), which answers with a typed `Verdict`.

Every call is streamed: a provider's ``timeout`` then bounds the silence between
two pieces of the answer, not the whole answer, so a slow local model that takes
a minute to write is not cut off while it writes (the provider's ``deadline``
still bounds the call).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import msgspec

import actorbus as ab

from ._worker import Worker

__all__ = ["LLMWorker", "Researcher", "Validator", "Verdict", "Writer"]

# Inputs the coordinator adds to a task (sequential and DAG workflows): not part
# of what a role is asked, unless a subclass decides otherwise.
_PLUMBING = ("previous", "deps")


class LLMWorker(Worker):
    """A worker that does each task with one model call: subclass it per role.

    `perform` sends ``[system(system_prompt), user(prompt(task))]`` to the actor's
    model with ``max_tokens``, streamed (see the module docs), and returns
    ``parse(text)`` as the task's output.
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
        done = await self.ask_model(ctx, task)
        return self.parse(done.text)

    async def ask_model(
        self, ctx: ab.Context, task: ab.TaskDelegation, output: object = None
    ) -> ab.Completion[Any]:
        """Send the task's messages as one streamed call; return its completion.

        ``output`` is a structured output type, as for `actorbus.Context.stream`.
        """
        stream = ctx.stream(
            [ab.system(self.system_prompt), ab.user(self.prompt(task))],
            output=output,
            model=self.chosen_model,
            max_tokens=self.max_tokens,
        )
        async with stream:
            async for _ in stream:
                pass
        done = stream.completion
        if done is None:  # a stream read to its end always has its completion
            raise RuntimeError("the model's stream ended without its completion")
        return done


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
    ``feedback`` (a list of issues to fix). Writing is what users read, so it goes
    to a strong model.
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
        """Return the task, the notes, and on a revision the draft and the issues to fix."""
        notes = task.inputs.get("notes") or []
        parts = [f"Task: {_one_line(task.description)}"]
        parts.append("Research notes:\n" + "\n\n".join(str(n).strip() for n in notes))
        if draft := str(task.inputs.get("draft") or "").strip():
            parts.append(f"Your previous draft:\n{draft}")
        if issues := _issues(task.inputs.get("feedback")):
            parts.append("Reviewer feedback, to address:\n" + "\n".join(f"- {i}" for i in issues))
        parts.append("Write the answer.")
        return "\n\n".join(parts)


class Verdict(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A validator's judgement of a draft, as the model gives it (structured output).

    Attributes:
        approved: whether the draft answers the task completely and correctly.
        issues: what to change, one short item each (empty when approved).
    """

    approved: bool
    issues: list[str]


class Validator(LLMWorker):
    """Judges a draft (input ``draft``) with a typed `Verdict`.

    The model answers through structured output (``output=Verdict``): a JSON
    object the models layer validates, asking again with the error when it does
    not fit, up to ``output_retries`` times. The task's output is the verdict as
    a dict, ``{"approved": bool, "issues": [str, ...]}``; a model that gave no
    valid verdict in those answers gives ``{"approved": False, "issues": [],
    "no_verdict": "why"}`` instead, which the team reports as such (it is never
    read as a request for changes).

    It runs once per review round, reads a checklist and writes a few items, so
    a fast, cheap model does: Gemini 2.5 Flash costs a sixth of Claude Sonnet 4 in
    the article's table, and being from another vendor than the writer's model,
    it does not grade its own family's style.
    """

    capabilities = ("validate",)
    model = "gemini-2.5-flash"
    max_tokens = 300
    system_prompt = (
        "You are the validator on a small team. Check whether the draft answers the "
        "task completely and correctly. Answer with a JSON verdict: approved (true "
        "when it does) and issues (what to change, one short item each; empty when "
        "approved)."
    )

    def prompt(self, task: ab.TaskDelegation) -> str:
        """Return the task and the draft to judge."""
        draft = str(task.inputs.get("draft") or "").strip()
        return f"Task: {_one_line(task.description)}\n\nDraft:\n{draft}\n\nJudge the draft."

    async def perform(self, task: ab.TaskDelegation, ctx: ab.Context) -> dict[str, Any]:
        """Ask for a `Verdict`; return it as a dict, or say that none came."""
        try:
            done = await self.ask_model(ctx, task, output=Verdict)
        except ab.OutputValidationError as exc:
            return {"approved": False, "issues": [], "no_verdict": _no_verdict(exc)}
        verdict: Verdict = done.output
        issues = [line for line in (_one_line(i) for i in verdict.issues) if line]
        return {"approved": verdict.approved, "issues": issues}


def _no_verdict(exc: ab.OutputValidationError) -> str:
    return f"{exc.attempts} answer(s), none a valid verdict (last: {exc.error})"


def _issues(value: Any) -> list[str]:
    """Return the issues in a ``feedback`` input: a list of items, or one text."""
    items = value if isinstance(value, list | tuple) else [value]
    return [line for line in (_one_line(str(v)) for v in items if v) if line]


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _text(value: Any) -> str:
    if isinstance(value, list | tuple):
        return "\n" + "\n".join(f"- {_one_line(str(v))}" for v in value)
    return _one_line(str(value))
