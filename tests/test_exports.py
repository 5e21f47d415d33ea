"""The public API: what `actorbus`, `actorbus.testing` and `actors` export, all documented.

Each namespace's ``__all__`` is checked against an explicit list below, so an
accidental export (or a lost one) fails here and the list changes on purpose; it
is sorted by ruff's isort-style rule (RUF022), checked with that rule's own key;
every name exists, is documented in README.md or docs/, and no private module
leaks through a public one.
"""

from __future__ import annotations

import re
import types
from pathlib import Path

import msgspec
import pytest

import actorbus
import actorbus.testing
import actors

ROOT = Path(__file__).resolve().parent.parent

# fmt: off
EXPECTED: dict[str, set[str]] = {
    "actorbus": {
        # constants
        "DEFAULT_MAILBOX_SIZE", "DEFAULT_MAX_TOKENS", "DEFAULT_PRICES", "ECHO_MODEL",
        # actors and the bus
        "Actor", "ActorRef", "ActorStatistics", "Bus", "BusStatistics", "Context", "Overflow",
        # messages
        "DeadLetter", "Envelope", "EnvelopeInfo", "Message", "Receipt", "Register", "Request",
        "Response", "StateUpdate", "TaskDelegation", "Undecodable", "message_tag", "new_id",
        # topics
        "topic_matches", "validate_pattern", "validate_topic",
        # logs, and what a backend author implements or receives
        "Durability", "EventLog", "JetStreamLog", "MemoryLog", "SqliteLog", "StartAt",
        "LogReader", "LogSummary", "Record", "RecordFilter", "RecordPage", "JournalEntry",
        "JournalPage",
        # shared state
        "State", "StateEntry", "StateView",
        # models
        "Asker", "Budgets", "CallJournal", "ChatMessage", "Completion", "CostReport",
        "EchoTransport", "FunctionCall", "ModelEvent", "Models", "ModelsConfig", "Price",
        "PromptTokensDetails", "Provider", "ProviderStatistics", "Spend", "Stream",
        "StructuredOutput", "Tool", "ToolCall", "ToolRun", "Usage", "actor_tool", "assistant",
        "system", "tool", "tool_result", "user",
        # errors
        "ActorDefinitionError", "ActorbusError", "AskFailed", "AskTimeout", "AsyncioRequired",
        "AuthenticationError", "BudgetExceeded", "BusClosed", "DuplicateActor",
        "InvalidSubscription", "InvalidTopic", "LogFileError", "LogTruncated", "LogUnavailable",
        "MailboxFull", "MessageTooLarge", "ModelError", "ModelResponseError", "ModelTimeout",
        "ModelUnavailable", "ModelsConfigError", "NoReplyExpected", "NoSubscriber",
        "OutputValidationError", "Permanent", "SchemaError", "StateConflict", "ToolLoopError",
        "UndecodableRecord", "UnknownActor", "UnpricedModel",
    },
    "actorbus.testing": {
        "EventLogConformance", "FakeOpenAI", "Fault", "LogReaderConformance", "NatsServer",
        "RecordedRequest", "Reply", "ToolCall",
    },
    "actors": {
        "ANNOUNCE", "ANSWER_GRACE", "Coordinator", "LLMWorker", "Researcher", "Review",
        "RunWorkflow", "Task", "TaskOutcome", "TaskRecord", "TaskResult", "TaskStatus", "Team",
        "TeamError", "TeamEvent", "TeamResult", "Validator", "Verdict", "Worker",
        "WorkflowError", "WorkflowKind", "WorkflowResult", "Writer", "check_workflow",
        "check_workflow_id", "offline_models", "offline_reply", "registry_topic", "run_task",
        "run_workflow", "task_topic",
    },
}
# fmt: on
NAMESPACES = [actorbus, actorbus.testing, actors]


def _public_names(module: types.ModuleType) -> set[str]:
    # dir(), not vars(): a module may load a public name on first use (__getattr__).
    return {
        name
        for name in dir(module)
        if not name.startswith("_")
        and not isinstance(getattr(module, name), types.ModuleType)
        and name not in {"annotations"}
    }


def isort_key(name: str) -> tuple[int, list[int | str]]:
    """Ruff's RUF022 order: SCREAMING_CASE, then CamelCase, then the rest; natural within."""
    if len(name) > 1 and name.isupper():
        kind = 0
    elif name[:1].isupper():
        kind = 1
    else:
        kind = 2
    return kind, [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def is_isort_sorted(names: list[str]) -> bool:
    return names == sorted(names, key=isort_key)


@pytest.mark.parametrize("module", NAMESPACES, ids=lambda m: m.__name__)
class TestAll:
    def test_all_is_the_expected_list(self, module: types.ModuleType) -> None:
        # Issue 15: internals (TopicIndex, DedupWindow, backoff_delay) were exported.
        exported = set(module.__all__)
        expected = EXPECTED[module.__name__]
        assert not exported - expected, f"exported, not expected: {sorted(exported - expected)}"
        assert not expected - exported, f"expected, not exported: {sorted(expected - exported)}"

    def test_all_lists_exactly_the_public_names(self, module: types.ModuleType) -> None:
        assert set(module.__all__) == _public_names(module)

    def test_every_name_in_all_exists(self, module: types.ModuleType) -> None:
        missing = [name for name in module.__all__ if not hasattr(module, name)]
        assert not missing

    def test_all_is_sorted_as_ruff_sorts_it_and_unique(self, module: types.ModuleType) -> None:
        assert is_isort_sorted(list(module.__all__)), sorted(module.__all__, key=isort_key)
        assert len(module.__all__) == len(set(module.__all__))

    def test_no_private_module_leaks(self, module: types.ModuleType) -> None:
        names = list(module.__all__)
        assert not [name for name in names if name.startswith("_")]
        leaked = [n for n in names if isinstance(getattr(module, n), types.ModuleType)]
        assert not leaked


class TestTheSortCheckCanFail:
    """Issue 15: the old check held for any list without duplicates."""

    @pytest.mark.parametrize(
        "names",
        [
            pytest.param(["b", "a"], id="reversed"),
            pytest.param(["Actor", "ANSWER"], id="constants-first"),
            pytest.param(["run", "Bus"], id="classes-before-functions"),
            pytest.param(["ActorbusError", "ActorRef"], id="by-code-point-not-by-case"),
            pytest.param(["v10", "v9"], id="natural-numbers"),
        ],
    )
    def test_an_unsorted_list_is_refused(self, names: list[str]) -> None:
        assert not is_isort_sorted(names)

    def test_a_sorted_list_passes(self) -> None:
        assert is_isort_sorted(["ECHO_MODEL", "ActorRef", "ActorbusError", "Bus", "v9", "v10"])


def test_public_classes_and_functions_claim_the_public_module() -> None:
    for name in actorbus.__all__:
        value = getattr(actorbus, name)
        if isinstance(value, type) and issubclass(value, msgspec.Struct):
            # msgspec resolves a Struct's annotations in its defining module.
            assert value.__module__.startswith("actorbus."), name
        elif isinstance(value, type | types.FunctionType):
            assert value.__module__ == "actorbus", name


def test_every_public_name_is_documented() -> None:
    docs = (ROOT / "README.md").read_text() + "".join(
        p.read_text() for p in sorted((ROOT / "docs").glob("*.md"))
    )
    missing = [
        f"{module.__name__}.{name}"
        for module in NAMESPACES
        for name in module.__all__
        if not re.search(rf"\b{re.escape(name)}\b", docs)
    ]
    assert not missing, f"public names not mentioned in README.md or docs/*.md: {missing}"
