"""Structured output (issue 13, point 1): ``output=T``, its schema, re-asks, and failures.

The pure part first: `strict_schema` (msgspec's schema made to meet OpenAI's strict
rules) and `Output` (wrapping, decoding), by example and with hypothesis over
random Struct shapes, checked by FakeOpenAI's own strict-mode checker and by a
small reference validator. Then calls over real HTTP to FakeOpenAI: what the
request carries in each ``structured_output`` mode, the decoded value, the re-ask
with the validation error fed back, and `OutputValidationError` when none is valid.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Iterator
from typing import Any, Literal

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import actorbus as ab
from actorbus._models._schema import Output, strict_schema
from actorbus.testing import FakeOpenAI, Reply
from actorbus.testing._fake_openai._schema import schema_problem

from ._support import KEY_ENV, SENTINEL_KEY

pytestmark = pytest.mark.timeout(60)


class Verdict(msgspec.Struct):
    """The reviewer's decision on a draft."""

    approved: bool
    issues: list[str] = []


class Review(ab.Message):
    """A review, as a bus message."""

    score: int
    summary: str


class Node(msgspec.Struct):
    """A recursive type: its definition must stay in $defs."""

    name: str
    children: list[Node] = []


class Unschemable:
    """A plain class: msgspec has no JSON schema for it."""


def schema_of(tp: Any) -> dict[str, Any]:
    return msgspec.json.schema(tp)


# -- strict_schema and Output, by example -------------------------------------------------


class TestStrictSchema:
    def test_the_root_ref_is_inlined_and_every_field_required(self) -> None:
        strict, ok = strict_schema(schema_of(Verdict))
        assert ok
        assert strict == {
            "title": "Verdict",
            "description": "The reviewer's decision on a draft.",
            "type": "object",
            "properties": {
                "approved": {"type": "boolean"},
                "issues": {"type": "array", "items": {"type": "string"}},
            },
            "required": ["approved", "issues"],
            "additionalProperties": False,
        }

    def test_the_input_is_not_changed(self) -> None:
        original = schema_of(Verdict)
        kept = copy.deepcopy(original)
        strict_schema(original)
        assert original == kept

    def test_a_recursive_definition_is_kept_and_made_strict(self) -> None:
        strict, ok = strict_schema(schema_of(Node))
        assert ok
        assert strict["type"] == "object"
        assert strict["properties"]["children"]["items"] == {"$ref": "#/$defs/Node"}
        node = strict["$defs"]["Node"]
        assert node["required"] == ["name", "children"]
        assert node["additionalProperties"] is False
        assert schema_problem(strict, strict=True) is None

    def test_nested_definitions_are_made_strict(self) -> None:
        class Outer(msgspec.Struct):
            verdict: Verdict
            maybe: Verdict | None = None

        strict, ok = strict_schema(schema_of(Outer))
        assert ok
        assert strict["required"] == ["verdict", "maybe"]
        assert strict["$defs"]["Verdict"]["required"] == ["approved", "issues"]
        assert schema_problem(strict, strict=True) is None

    def test_an_open_dict_cannot_be_strict(self) -> None:
        class Counts(msgspec.Struct):
            counts: dict[str, int]

        strict, ok = strict_schema(schema_of(Counts))
        assert not ok
        assert strict["properties"]["counts"]["additionalProperties"] == {"type": "integer"}
        assert schema_problem(strict, strict=False) is None

    def test_an_untyped_object_cannot_be_strict(self) -> None:
        _, ok = strict_schema({"type": "object"})
        assert not ok


class TestOutput:
    def test_a_struct_is_its_own_object(self) -> None:
        output: Output[Verdict] = Output(Verdict)
        assert not output.wrapped
        assert output.name == "Verdict"
        assert output.response_format() == {
            "type": "json_schema",
            "json_schema": {
                "name": "Verdict",
                "schema": strict_schema(schema_of(Verdict))[0],
                "strict": True,
            },
        }

    @pytest.mark.parametrize(
        ("tp", "value"),
        [
            pytest.param(list[Verdict], [Verdict(approved=True, issues=["x"])], id="list"),
            pytest.param(Literal["yes", "no"], "no", id="literal"),
            pytest.param(int | None, None, id="optional"),
            pytest.param(int, 7, id="int"),
            pytest.param(Verdict | None, Verdict(approved=False), id="struct-or-none"),
        ],
    )
    def test_a_type_that_is_not_an_object_is_wrapped_as_value(self, tp: Any, value: Any) -> None:
        output: Output[Any] = Output(tp)
        assert output.wrapped
        assert output.schema["type"] == "object"
        assert output.schema["required"] == ["value"]
        assert schema_problem(output.schema, strict=True) is None
        text = msgspec.json.encode({"value": value}).decode()
        assert output.decode(text) == value
        name = output.response_format()["json_schema"]["name"]
        assert name
        assert all(c.isalnum() or c in "_-" for c in name)

    def test_a_wrapped_value_that_does_not_validate_names_its_path(self) -> None:
        output: Output[Any] = Output(list[int])
        with pytest.raises(msgspec.ValidationError, match=r"at `\$\.value\[1\]`"):
            output.decode('{"value": [1, "two"]}')
        with pytest.raises(msgspec.ValidationError, match="field `value`"):
            output.decode("[1, 2]")

    def test_a_fenced_answer_is_taken_from_its_fence(self) -> None:
        text = '```json\n{"approved": true, "issues": []}\n```'
        assert Output(Verdict).decode(text) == Verdict(approved=True)

    def test_a_message_type_decodes_with_or_without_its_tag(self) -> None:
        output: Output[Review] = Output(Review)
        assert output.decode('{"score": 3, "summary": "ok"}') == Review(score=3, summary="ok")
        assert output.decode('{"type": "Review", "score": 3, "summary": "ok"}') == Review(
            score=3, summary="ok"
        )

    def test_a_type_msgspec_cannot_describe_is_a_schema_error(self) -> None:
        with pytest.raises(ab.SchemaError) as caught:
            Output(Unschemable)
        assert caught.value.subject == "the output"
        assert "Unschemable" in caught.value.problem


# -- strict_schema and Output, with hypothesis --------------------------------------------

_names = itertools.count()
_FIELD = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True)


class Shape(msgspec.Struct, frozen=True):
    """A generated type, with a strategy for its values and whether it has an open dict."""

    tp: Any
    values: Any  # st.SearchStrategy of values of tp
    open: bool


_LEAVES = st.sampled_from(
    [
        Shape(int, st.integers(-(2**53), 2**53), False),
        Shape(float, st.floats(allow_nan=False, allow_infinity=False), False),
        Shape(str, st.text(max_size=5), False),
        Shape(bool, st.booleans(), False),
        Shape(Literal["a", "b"], st.sampled_from(["a", "b"]), False),
    ]
)


def _list_of(item: Shape) -> Shape:
    return Shape(list[item.tp], st.lists(item.values, max_size=3), item.open)  # type: ignore[name-defined]


def _optional(item: Shape) -> Shape:
    return Shape(item.tp | None, st.none() | item.values, item.open)


def _dict_of(item: Shape) -> Shape:
    values = st.dictionaries(st.text(max_size=3), item.values, max_size=2)
    return Shape(dict[str, item.tp], values, True)  # type: ignore[name-defined]


def _extend(inner: st.SearchStrategy[Shape]) -> st.SearchStrategy[Shape]:
    fields = st.lists(
        st.tuples(_FIELD, inner, st.booleans()), min_size=1, max_size=4, unique_by=lambda f: f[0]
    )
    return st.one_of(
        inner.map(_list_of), inner.map(_optional), inner.map(_dict_of), fields.map(_struct)
    )


def _struct(fields: list[tuple[str, Shape, bool]]) -> Shape:
    """A Struct of ``fields`` (name, shape, whether it defaults to None)."""
    spec: list[Any] = []
    values: dict[str, Any] = {}
    for name, shape, optional in fields:
        if optional:
            spec.append((name, shape.tp | None, None))
            values[name] = st.none() | shape.values
        else:
            spec.append((name, shape.tp))
            values[name] = shape.values
    tp = msgspec.defstruct(f"S{next(_names)}", spec, kw_only=True)
    return Shape(tp, st.builds(tp, **values), any(s.open for _, s, _ in fields))


SHAPES = st.recursive(_LEAVES, _extend, max_leaves=8)
STRUCTS = st.lists(
    st.tuples(_FIELD, SHAPES, st.booleans()), min_size=1, max_size=5, unique_by=lambda f: f[0]
).map(_struct)


def valid(value: Any, schema: Any, defs: dict[str, Any]) -> bool:
    """A reference check of ``value`` against the JSON Schema subset msgspec writes."""
    if "$ref" in schema:
        return valid(value, defs[schema["$ref"].removeprefix("#/$defs/")], defs)
    if "anyOf" in schema:
        return any(valid(value, option, defs) for option in schema["anyOf"])
    if "enum" in schema and value not in schema["enum"]:
        return False
    kinds = schema.get("type")
    kinds = [kinds] if isinstance(kinds, str) else kinds
    if kinds is not None and not any(_is(value, kind) for kind in kinds):
        return False
    if isinstance(value, list):
        return all(valid(item, schema.get("items", {}), defs) for item in value)
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        if any(name not in value for name in schema.get("required", [])):
            return False
        for name, item in value.items():
            sub = properties.get(name, extra)
            if sub is False or (isinstance(sub, dict) and not valid(item, sub, defs)):
                return False
    return True


def _is(value: Any, kind: str) -> bool:
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    python = {"string": str, "boolean": bool, "null": type(None), "array": list, "object": dict}
    return isinstance(value, python[kind])


class TestStrictSchemaProperties:
    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(shape=STRUCTS)
    def test_a_strict_schema_meets_openais_rules_unless_it_has_an_open_dict(
        self, shape: Shape
    ) -> None:
        original = schema_of(shape.tp)
        kept = copy.deepcopy(original)
        strict, ok = strict_schema(original)
        assert original == kept
        assert ok is not shape.open
        assert schema_problem(strict, strict=False) is None
        if ok:
            assert schema_problem(strict, strict=True) is None

    @settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(data=st.data(), shape=STRUCTS)
    def test_every_value_of_the_type_meets_the_schema_and_decodes_back(
        self, data: st.DataObject, shape: Shape
    ) -> None:
        output: Output[Any] = Output(shape.tp)
        value = data.draw(shape.values)
        sent = msgspec.json.decode(msgspec.json.encode(value))  # as a model would write it
        assert valid(sent, output.schema, output.schema.get("$defs", {}))
        assert output.decode(msgspec.json.encode(value).decode()) == value

    @settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(data=st.data(), shape=SHAPES)
    def test_any_output_type_is_an_object_root_and_decodes_back(
        self, data: st.DataObject, shape: Shape
    ) -> None:
        output: Output[Any] = Output(shape.tp)
        assert output.schema["type"] == "object"
        assert output.strict is not shape.open
        assert schema_problem(output.schema, strict=output.strict) is None
        value = data.draw(shape.values)
        text = msgspec.json.encode({"value": value} if output.wrapped else value).decode()
        assert valid(msgspec.json.decode(text), output.schema, output.schema.get("$defs", {}))
        assert output.decode(text) == value


# -- calls over real HTTP -----------------------------------------------------------------


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(KEY_ENV, SENTINEL_KEY)
    return SENTINEL_KEY


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(api_key=SENTINEL_KEY) as server:
        yield server


def models_for(fake: FakeOpenAI, **provider: Any) -> ab.Models:
    settings: dict[str, Any] = {
        "name": "fake",
        "base_url": fake.base_url,
        "api_key_env": KEY_ENV,
        "retry_base": 0.01,
        "retry_cap": 0.05,
        **provider,
    }
    return ab.Models(ab.ModelsConfig(providers=[ab.Provider(**settings)]))


ASK = [ab.system("You review drafts."), ab.user("Review: hello world")]
GOOD_VERDICT = Verdict(approved=True, issues=["too short"])
GOOD: dict[str, Any] = msgspec.to_builtins(GOOD_VERDICT)


def bodies(fake: FakeOpenAI) -> list[dict[str, Any]]:
    found = []
    for request in fake.requests:
        assert request.status == 200, request  # FakeOpenAI refuses malformed requests
        assert request.body is not None
        found.append(request.body)
    return found


class TestStructuredCalls:
    async def test_the_request_carries_the_strict_schema_and_the_answer_is_decoded(
        self, fake: FakeOpenAI
    ) -> None:
        fake.script(Reply.json(GOOD))
        async with models_for(fake) as models:
            done = await models.complete(ASK, model="gpt-4.1", output=Verdict)
        assert done.output == GOOD_VERDICT
        assert done.text == msgspec.json.encode(GOOD).decode()  # the raw text is kept
        (body,) = bodies(fake)
        assert body["response_format"] == {
            "type": "json_schema",
            "json_schema": {
                "name": "Verdict",
                "schema": strict_schema(schema_of(Verdict))[0],
                "strict": True,
            },
        }
        assert body["messages"] == msgspec.to_builtins(ASK)  # json_schema: the chat unchanged
        assert done.turns == []  # one request answered it

    @pytest.mark.parametrize(
        ("tp", "answer", "expected"),
        [
            pytest.param(
                Review,
                {"score": 4, "summary": "fine"},
                Review(score=4, summary="fine"),
                id="message",
            ),
            pytest.param(list[Verdict], {"value": [GOOD]}, [GOOD_VERDICT], id="list-of-structs"),
            pytest.param(Literal["approve", "reject"], {"value": "reject"}, "reject", id="literal"),
        ],
    )
    async def test_any_type_msgspec_decodes_is_an_output(
        self, fake: FakeOpenAI, tp: Any, answer: Any, expected: Any
    ) -> None:
        fake.script(Reply.json(answer))
        async with models_for(fake) as models:
            done = await models.complete(ASK, model="gpt-4.1", output=tp)
        assert done.output == expected
        (body,) = bodies(fake)
        assert body["response_format"]["json_schema"]["schema"] == Output(tp).schema

    async def test_an_invalid_answer_is_asked_again_with_the_error(self, fake: FakeOpenAI) -> None:
        fake.script(
            Reply.json({"approved": "yes", "issues": []}),  # wrong type
            Reply(text="Sure! Here it is"),  # not JSON
            Reply.json(GOOD),
        )
        async with models_for(fake) as models:
            done = await models.complete(ASK, model="gpt-4.1", output=Verdict)
        assert done.output == GOOD_VERDICT
        first, second, third = bodies(fake)
        assert second["messages"][: len(ASK)] == msgspec.to_builtins(ASK)
        answer, feedback = second["messages"][len(ASK) :]
        assert answer == {"role": "assistant", "content": '{"approved":"yes","issues":[]}'}
        assert feedback["role"] == "user"
        assert "Expected `bool`, got `str` - at `$.approved`" in feedback["content"]
        assert third["messages"][-1]["role"] == "user"
        assert "JSON" in third["messages"][-1]["content"]  # the decode error, fed back
        assert third["messages"][-2] == {"role": "assistant", "content": "Sure! Here it is"}
        for body in (first, second, third):  # every attempt asks for the schema
            assert body["response_format"]["type"] == "json_schema"

    async def test_every_attempt_is_priced_and_counted(self, fake: FakeOpenAI) -> None:
        fake.script(
            Reply(text="nope", prompt_tokens=1000, completion_tokens=100),
            Reply.json(GOOD, prompt_tokens=2000, completion_tokens=200),
        )
        async with models_for(fake) as models:
            done = await models.complete(ASK, model="gpt-4.1", actor="critic", output=Verdict)
            spend = models.costs().by_actor["critic"]
        assert len(done.turns) == 2
        assert [t.text for t in done.turns] == ["nope", msgspec.json.encode(GOOD).decode()]
        assert done.usage.prompt_tokens == 3000
        assert done.usage.completion_tokens == 300
        # gpt-4.1: $2.00 in, $8.00 out per million tokens
        assert done.cost == pytest.approx((3000 * 2.0 + 300 * 8.0) / 1e6)
        assert done.cost == pytest.approx(sum(t.cost or 0 for t in done.turns))
        assert spend.calls == 2
        assert spend.cost == pytest.approx(done.cost)

    async def test_after_output_retries_the_last_text_and_error_are_raised(
        self, fake: FakeOpenAI
    ) -> None:
        fake.reply_with(lambda body: Reply(text=f"no json here, key {SENTINEL_KEY}"))
        async with models_for(fake) as models:
            with pytest.raises(ab.OutputValidationError) as caught:
                await models.complete(ASK, model="gpt-4.1", actor="critic", output=Verdict)
            spend = models.costs().by_actor["critic"]
        error = caught.value
        assert isinstance(error, ab.ModelError)
        assert isinstance(error, ab.Permanent)
        assert fake.request_count == 3  # the answer, then output_retries=2 re-asks
        assert spend.calls == 3  # each one paid for and counted
        assert error.attempts == 3
        assert error.text.startswith("no json here, key ")
        assert SENTINEL_KEY not in error.text  # key-masked
        assert SENTINEL_KEY not in str(error)
        assert "JSON" in error.error
        assert error.model == "gpt-4.1"

    @pytest.mark.parametrize("retries", [0, 1, 4])
    async def test_output_retries_bounds_the_re_asks(self, fake: FakeOpenAI, retries: int) -> None:
        fake.reply_with(lambda body: Reply.json({"approved": 1}))
        async with models_for(fake) as models:
            with pytest.raises(ab.OutputValidationError) as caught:
                await models.complete(ASK, model="gpt-4.1", output=Verdict, output_retries=retries)
        assert fake.request_count == retries + 1
        assert "Expected `bool`, got `int` - at `$.approved`" in caught.value.error

    async def test_a_negative_bound_is_refused_before_any_request(self, fake: FakeOpenAI) -> None:
        async with models_for(fake) as models:
            with pytest.raises(ab.ModelsConfigError, match="output_retries"):
                await models.complete(ASK, model="gpt-4.1", output=Verdict, output_retries=-1)
        assert fake.request_count == 0

    async def test_an_output_type_msgspec_cannot_describe_is_refused_before_any_request(
        self, fake: FakeOpenAI
    ) -> None:
        async with models_for(fake) as models:
            with pytest.raises(ab.SchemaError, match="Unschemable"):
                await models.complete(ASK, model="gpt-4.1", output=Unschemable)
        assert fake.request_count == 0

    async def test_response_format_cannot_be_passed_by_hand(self, fake: FakeOpenAI) -> None:
        async with models_for(fake) as models:
            with pytest.raises(ab.ModelsConfigError, match="use output="):
                await models.complete(ASK, model="gpt-4.1", response_format={"type": "json_object"})
        assert fake.request_count == 0

    async def test_a_streamed_call_decodes_its_output(self, fake: FakeOpenAI) -> None:
        fake.script(Reply.json(GOOD))
        async with models_for(fake) as models:
            stream = models.stream(ASK, model="gpt-4.1", output=Verdict)
            text = await stream.text()
        assert stream.completion is not None
        assert stream.completion.output == GOOD_VERDICT
        assert text == msgspec.json.encode(GOOD).decode()
        (body,) = bodies(fake)
        assert body["stream"] is True
        assert body["response_format"]["type"] == "json_schema"


class TestProviderModes:
    async def test_json_object_sends_json_mode_and_the_schema_in_the_system_message(
        self, fake: FakeOpenAI
    ) -> None:
        fake.script(Reply.json(GOOD))
        async with models_for(fake, structured_output="json_object") as models:
            done = await models.complete(ASK, model="gpt-4.1", output=Verdict)
        assert done.output == GOOD_VERDICT
        (body,) = bodies(fake)
        assert body["response_format"] == {"type": "json_object"}
        system, user = body["messages"]
        assert system["role"] == "system"
        assert system["content"].startswith("You review drafts.\n\n")
        assert msgspec.json.encode(Output(Verdict).schema).decode() in system["content"]
        assert user == {"role": "user", "content": "Review: hello world"}

    async def test_prompt_sends_no_response_format_and_adds_a_system_message(
        self, fake: FakeOpenAI
    ) -> None:
        fake.script(Reply(text='```json\n{"approved": false}\n```'))
        async with models_for(fake, structured_output="prompt") as models:
            done = await models.complete([ab.user("Review: hi")], model="gpt-4.1", output=Verdict)
        assert done.output == Verdict(approved=False)
        (body,) = bodies(fake)
        assert "response_format" not in body
        system, user = body["messages"]
        assert system["role"] == "system"
        assert "JSON" in system["content"]
        assert msgspec.json.encode(Output(Verdict).schema).decode() in system["content"]
        assert user == {"role": "user", "content": "Review: hi"}

    async def test_a_re_ask_in_prompt_mode_keeps_the_instructions(self, fake: FakeOpenAI) -> None:
        fake.script(Reply(text="I approve"), Reply.json(GOOD))
        async with models_for(fake, structured_output="prompt") as models:
            done = await models.complete(ASK, model="gpt-4.1", output=Verdict)
        assert done.output == GOOD_VERDICT
        _, second = bodies(fake)
        assert "Schema:" in second["messages"][0]["content"]
        assert [m["role"] for m in second["messages"]] == ["system", "user", "assistant", "user"]


class Critic(ab.Actor):
    subscribe = ("drafts",)
    model = "gpt-4.1"

    async def on_draft(self, msg: ab.Request, ctx: ab.Context) -> Review:
        done = await ctx.complete([ab.user(msg.content)], output=Review)
        assert isinstance(done.output, Review)
        return done.output


class TestInAnActor:
    async def test_ctx_complete_returns_the_output(self, fake: FakeOpenAI) -> None:
        fake.script(Reply.json({"score": 5, "summary": "great"}))
        async with ab.Bus(models=models_for(fake)) as bus:
            await bus.spawn(Critic, name="critic")
            reply = await bus.ask("drafts", ab.Request(content="a draft"), timeout=10)
        assert reply == Review(score=5, summary="great")
        (body,) = bodies(fake)
        assert body["response_format"]["json_schema"]["name"] == "Review"

    async def test_an_invalid_output_fails_the_handler_once_without_retrying(
        self, fake: FakeOpenAI
    ) -> None:
        fake.reply_with(lambda body: Reply(text="not json"))
        async with ab.Bus(models=models_for(fake)) as bus:
            await bus.spawn(Critic, name="critic")
            with pytest.raises(ab.AskFailed) as caught:
                await bus.ask("drafts", ab.Request(content="a draft"), timeout=10)
        assert caught.value.error_type.endswith("OutputValidationError")
        assert fake.request_count == 3  # permanent: the handler was not run again
