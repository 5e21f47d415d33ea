"""Defining tools (issue 13, point 2): schemas, descriptions, decorator forms, refusals.

A tool's JSON schema comes from msgspec (its parameters as a Struct), its
description from the docstring (a Google-style ``Args:`` section describes each
parameter), and ``name=``/``description=`` override both. A tool that cannot be
described is refused with `SchemaError` when it is made, naming the tool and the
parameter. Running one (`Tool.run`) validates the arguments first and bounds the
run by the tool's timeout; those tests run on both anyio backends, since a tool is
plain anyio code (only model calls need asyncio).
"""

from __future__ import annotations

import enum
import functools
import threading
from collections.abc import Callable
from typing import Annotated, Any, Literal

import anyio
import msgspec
import pytest

import actorbus as ab
from actorbus._models._tools import RESULT_CHARS, ToolArgumentsError, ToolTimeout
from actorbus.testing._fake_openai._schema import schema_problem

pytestmark = pytest.mark.timeout(30)


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Running a tool is anyio code: both backends (tests/models pins asyncio otherwise)."""
    return str(request.param)


class Point(msgspec.Struct):
    """A place on the map."""

    x: float
    y: float


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Unschemable:
    """A plain class: msgspec has no JSON schema for it."""


async def search(query: str, limit: int = 5) -> list[str]:
    """Search the team's notes.

    Looks in every notebook.

    Args:
        query: what to look for,
            in plain words.
        limit (int): how many results
            to return at most.

    Returns:
        The matching notes.

    Raises:
        ValueError: never, in fact.
    """
    return [query] * limit


def parameters_of(tool: ab.Tool) -> dict[str, Any]:
    """The ``parameters`` a request would carry for ``tool``."""
    function: dict[str, Any] = tool.definition()["function"]
    parameters: dict[str, Any] = function["parameters"]
    return parameters


def offered_well(tool: ab.Tool) -> None:
    """Assert ``tool``'s definition is one the OpenAI checker (FakeOpenAI's) accepts."""
    function = tool.definition()["function"]
    assert (
        schema_problem(
            function["parameters"], strict=function.get("strict") is True, object_root=True
        )
        is None
    )


class TestFunctionTools:
    def test_the_schema_comes_from_the_annotations(self) -> None:
        made = ab.tool(search)
        assert made.name == "search"
        assert made.strict
        parameters = parameters_of(made)
        assert parameters["type"] == "object"
        assert parameters["properties"]["query"]["type"] == "string"
        assert parameters["properties"]["limit"]["type"] == "integer"
        # strict mode: every property required, nothing else allowed, no defaults shown
        assert parameters["required"] == ["query", "limit"]
        assert parameters["additionalProperties"] is False
        assert "default" not in parameters["properties"]["limit"]
        assert made.definition() == {
            "type": "function",
            "function": {
                "name": "search",
                "description": made.description,
                "parameters": parameters,
                "strict": True,
            },
        }
        offered_well(made)

    def test_the_description_is_the_docstring_before_its_sections(self) -> None:
        assert ab.tool(search).description == "Search the team's notes.\n\nLooks in every notebook."

    def test_args_describe_each_parameter_continuations_joined_types_dropped(self) -> None:
        properties = parameters_of(ab.tool(search))["properties"]
        assert properties["query"]["description"] == "what to look for, in plain words."
        assert properties["limit"]["description"] == "how many results to return at most."

    @pytest.mark.parametrize("heading", ["Args", "Arguments", "Parameters"])
    def test_each_args_heading_is_read(self, heading: str) -> None:
        def fn(city: str) -> str:
            return city

        fn.__doc__ = f"""The weather.

        {heading}:
            city: the city's name.
        """
        made = ab.tool(fn)
        assert made.description == "The weather."
        assert parameters_of(made)["properties"]["city"]["description"] == "the city's name."

    def test_an_undocumented_parameter_has_no_description(self) -> None:
        async def fn(a: int, b: int) -> int:
            """Add.

            Args:
                a: the first.
            """
            return a + b

        properties = parameters_of(ab.tool(fn))["properties"]
        assert properties["a"]["description"] == "the first."
        assert "description" not in properties["b"]

    def test_a_function_without_a_docstring_has_no_description(self) -> None:
        async def bare(n: int) -> int:
            return n

        made = ab.tool(bare)
        assert made.description == ""
        assert "description" not in made.definition()["function"]

    def test_an_entry_is_found_by_its_indent_whatever_the_summary_says(self) -> None:
        async def fn(query: str, limit: int) -> str:
            """Search.

            query: the syntax is lucene-like.

            Args:
                query: what to look for.
                limit: how many.
            """
            return query

        properties = parameters_of(ab.tool(fn))["properties"]
        assert properties["query"]["description"] == "what to look for."
        assert properties["limit"]["description"] == "how many."

    def test_a_description_may_start_on_the_next_line(self) -> None:
        async def fn(query: str) -> str:
            """Search.

            Args:
                query:
                    what to look for.
            """
            return query

        assert parameters_of(ab.tool(fn))["properties"]["query"]["description"] == (
            "what to look for."
        )

    def test_structs_enums_literals_and_optionals_are_described(self) -> None:
        async def plot(
            where: Point,
            colour: Colour,
            size: Literal["s", "m", "l"],
            label: str | None = None,
            tags: list[str] | None = None,
        ) -> str:
            """Plot a point."""
            return "ok"

        made = ab.tool(plot)
        assert made.strict
        parameters = parameters_of(made)
        assert parameters["required"] == ["where", "colour", "size", "label", "tags"]
        assert parameters["properties"]["size"] == {"enum": ["l", "m", "s"]}
        point = parameters["$defs"]["Point"]
        assert point["required"] == ["x", "y"]
        assert point["additionalProperties"] is False
        offered_well(made)

    def test_annotated_constraints_reach_the_schema(self) -> None:
        async def pick(n: Annotated[int, msgspec.Meta(ge=1, le=10)]) -> int:
            """Pick."""
            return n

        assert parameters_of(ab.tool(pick))["properties"]["n"] == {
            "type": "integer",
            "minimum": 1,
            "maximum": 10,
        }

    def test_an_open_dict_parameter_cannot_be_strict(self) -> None:
        async def tally(counts: dict[str, int]) -> int:
            """Sum."""
            return sum(counts.values())

        made = ab.tool(tally)
        assert not made.strict
        assert "strict" not in made.definition()["function"]
        offered_well(made)

    def test_a_tool_without_parameters_takes_an_empty_object(self) -> None:
        async def now() -> str:
            """The time."""
            return "noon"

        parameters = parameters_of(ab.tool(now))
        assert parameters["properties"] == {}
        assert parameters["additionalProperties"] is False
        offered_well(ab.tool(now))


class TestForms:
    def test_a_bare_decorator_makes_a_tool(self) -> None:
        @ab.tool
        async def lookup(key: str) -> str:
            """Look a key up."""
            return key

        assert isinstance(lookup, ab.Tool)
        assert (lookup.name, lookup.description) == ("lookup", "Look a key up.")

    def test_a_decorator_with_options_overrides_name_description_and_timeout(self) -> None:
        @ab.tool(name="find", description="Find it.", timeout=5)
        async def lookup(key: str) -> str:
            """Look a key up."""
            return key

        assert isinstance(lookup, ab.Tool)
        assert (lookup.name, lookup.description, lookup.timeout) == ("find", "Find it.", 5)
        assert lookup.definition()["function"]["name"] == "find"
        assert lookup.definition()["function"]["description"] == "Find it."

    def test_a_call_overrides_and_keeps_the_parameters(self) -> None:
        made = ab.tool(search, name="notes", description="")
        assert made.name == "notes"
        assert made.description == ""
        assert "description" not in made.definition()["function"]
        assert parameters_of(made)["properties"].keys() == {"query", "limit"}

    def test_a_tool_made_again_is_the_same_tool(self) -> None:
        made = ab.tool(search)
        assert ab.tool(made) is made  # type: ignore[call-overload]  # allowed at run time

    def test_the_default_timeout_is_sixty_seconds(self) -> None:
        assert ab.tool(search).timeout == 60.0

    def test_an_async_callable_object_is_a_tool(self) -> None:
        class Adder:
            """Add two numbers."""

            async def __call__(self, a: int, b: int) -> int:
                return a + b

        made = ab.tool(Adder(), name="adder")
        assert made.description == "Add two numbers."
        assert parameters_of(made)["properties"] == {
            "a": {"type": "integer"},
            "b": {"type": "integer"},
        }

    def test_a_partial_keeps_its_functions_name_docstring_and_types(self) -> None:
        made = ab.tool(functools.partial(search, limit=2))
        assert made.name == "search"
        assert made.description.startswith("Search the team's notes.")
        assert parameters_of(made)["properties"]["query"]["type"] == "string"

    def test_a_repr_says_what_it_is(self) -> None:
        assert repr(ab.tool(search)) == "Tool('search', function)"


class TestRefusedAtDefinition:
    @staticmethod
    def refused(make: Callable[[], object]) -> ab.SchemaError:
        with pytest.raises(ab.SchemaError) as caught:
            make()
        error = caught.value
        assert isinstance(error, TypeError)
        assert isinstance(error, ab.Permanent)
        return error

    def test_an_unannotated_parameter_is_named(self) -> None:
        async def fn(query: str, limit) -> str:  # type: ignore[no-untyped-def]
            return query

        error = self.refused(lambda: ab.tool(fn))
        assert error.subject == "tool 'fn', parameter 'limit'"
        assert "annotate" in error.problem

    def test_a_type_msgspec_cannot_describe_is_named(self) -> None:
        async def fn(thing: Unschemable) -> str:
            return ""

        error = self.refused(lambda: ab.tool(fn))
        assert error.subject == "tool 'fn', parameter 'thing'"
        assert "Unschemable" in error.problem
        assert "no JSON schema" in error.problem

    def test_a_nested_type_msgspec_cannot_describe_is_named(self) -> None:
        async def fn(things: list[Unschemable]) -> str:
            return ""

        error = self.refused(lambda: ab.tool(fn))
        assert error.subject == "tool 'fn', parameter 'things'"

    @pytest.mark.parametrize(
        "fn",
        [
            pytest.param(lambda *args: None, id="*args"),
            pytest.param(lambda **kwargs: None, id="**kwargs"),
        ],
    )
    def test_variadic_parameters_are_refused(self, fn: Callable[..., Any]) -> None:
        error = self.refused(lambda: ab.tool(fn, name="variadic"))
        assert "named parameters only" in error.problem

    def test_positional_only_parameters_are_refused(self) -> None:
        async def fn(a: int, /) -> int:
            return a

        error = self.refused(lambda: ab.tool(fn))
        assert error.subject == "tool 'fn', parameter 'a'"

    def test_an_annotation_that_does_not_resolve_is_refused(self) -> None:
        async def fn(a: NotDefinedAnywhere) -> int:  # type: ignore[name-defined]  # noqa: F821
            return 1

        error = self.refused(lambda: ab.tool(fn))
        assert "cannot be read" in error.problem

    @pytest.mark.parametrize("name", ["has space", "dotted.name", "x" * 65], ids=repr)
    def test_an_invalid_name_is_refused(self, name: str) -> None:
        error = self.refused(lambda: ab.tool(search, name=name))
        assert "letters, digits" in error.problem

    def test_a_lambda_needs_a_name(self) -> None:
        error = self.refused(lambda: ab.tool(lambda: None))
        assert "letters, digits" in error.problem
        assert ab.tool(lambda: None, name="noop").name == "noop"

    def test_a_default_msgspec_refuses_is_a_schema_error(self) -> None:
        def fn(xs: list[int] = [1, 2]) -> int:  # noqa: B006
            return sum(xs)

        error = self.refused(lambda: ab.tool(fn))
        assert error.subject == "tool 'fn'"
        assert "[1, 2]" in error.problem

    @pytest.mark.parametrize("timeout", [0, -1.0])
    def test_a_timeout_that_is_not_positive_is_refused(self, timeout: float) -> None:
        error = self.refused(lambda: ab.tool(search, timeout=timeout))
        assert "timeout" in error.problem

    def test_something_not_callable_is_refused(self) -> None:
        error = self.refused(lambda: ab.tool("search"))  # type: ignore[call-overload]
        assert "function" in error.problem


class SearchRequest(ab.Message):
    """Search the team's notes.

    Attributes:
        query: what to look for.
        limit: how many results.
    """

    query: str
    limit: int = 5


class TestActorTools:
    def test_the_message_fields_are_the_parameters_without_the_type_tag(self) -> None:
        made = ab.actor_tool("tools.search", SearchRequest)
        assert made.topic == "tools.search"
        parameters = parameters_of(made)
        assert parameters["properties"].keys() == {"query", "limit"}
        assert parameters["required"] == ["query", "limit"]
        assert parameters["additionalProperties"] is False
        assert made.strict
        offered_well(made)

    def test_the_name_is_the_topic_with_underscores(self) -> None:
        assert ab.actor_tool("tools.search", SearchRequest).name == "tools_search"
        assert repr(ab.actor_tool("tools.search", SearchRequest)) == (
            "Tool('tools_search', topic='tools.search')"
        )

    def test_the_docstring_describes_the_tool_and_its_attributes_the_fields(self) -> None:
        made = ab.actor_tool("tools.search", SearchRequest)
        assert made.description == "Search the team's notes."
        properties = parameters_of(made)["properties"]
        assert properties["query"]["description"] == "what to look for."
        assert properties["limit"]["description"] == "how many results."

    def test_name_description_and_timeout_can_be_given(self) -> None:
        made = ab.actor_tool(
            "tools.search", SearchRequest, name="notes", description="Notes.", timeout=3
        )
        assert (made.name, made.description, made.timeout) == ("notes", "Notes.", 3)

    def test_a_request_type_that_is_not_a_message_is_refused(self) -> None:
        with pytest.raises(ab.SchemaError, match="must be a Message class"):
            ab.actor_tool("tools.search", Point)  # type: ignore[arg-type]

    def test_a_message_field_msgspec_cannot_describe_is_refused(self) -> None:
        class Odd(ab.Message):
            thing: Unschemable

        with pytest.raises(ab.SchemaError) as caught:
            ab.actor_tool("tools.odd", Odd)
        assert caught.value.subject == "tool 'tools_odd'"
        assert "Unschemable" in caught.value.problem


class TestRunning:
    async def test_arguments_are_validated_before_the_function_runs(self) -> None:
        ran: list[int] = []

        async def fn(n: int) -> int:
            ran.append(n)
            return n

        made = ab.tool(fn)
        for bad in ['{"n": "one"}', "{not json", '{"n": 1, "m": 2}', "[1]", "{}"]:
            with pytest.raises(ToolArgumentsError):
                await made.run(bad, None)
        assert ran == []
        assert await made.run('{"n": 3}', None) == "3"
        assert ran == [3]

    async def test_the_error_names_the_path_of_the_bad_argument(self) -> None:
        made = ab.tool(search)
        with pytest.raises(ToolArgumentsError, match=r"Expected `str`, got `int` - at `\$.query`"):
            await made.run('{"query": 1}', None)

    async def test_empty_arguments_mean_no_arguments(self) -> None:
        async def now() -> str:
            return "noon"

        assert await ab.tool(now).run("", None) == "noon"

    async def test_defaults_apply_to_missing_arguments(self) -> None:
        assert await ab.tool(search).run('{"query": "q"}', None) == '["q","q","q","q","q"]'

    async def test_a_plain_function_runs_in_a_worker_thread(self) -> None:
        loop_thread = threading.get_ident()

        def where() -> int:
            return threading.get_ident()

        ran_in = int(await ab.tool(where).run("{}", None))
        assert ran_in != loop_thread

    async def test_a_result_that_is_not_text_is_sent_as_json(self) -> None:
        async def locate() -> Point:
            return Point(x=1.0, y=2.5)

        assert await ab.tool(locate).run("{}", None) == '{"x":1.0,"y":2.5}'

    async def test_a_long_result_is_cut_and_says_so(self) -> None:
        async def essay() -> str:
            return "w" * (RESULT_CHARS + 500)

        text = await ab.tool(essay).run("{}", None)
        assert text.startswith("w" * RESULT_CHARS)
        assert text.endswith(f"[result cut at {RESULT_CHARS} characters]")
        assert len(text) < RESULT_CHARS + 100

    async def test_a_callable_object_and_a_partial_run(self) -> None:
        class Adder:
            async def __call__(self, a: int, b: int) -> int:
                return a + b

        assert await ab.tool(Adder(), name="adder").run('{"a": 1, "b": 2}', None) == "3"
        assert await ab.tool(functools.partial(search, limit=2)).run('{"query": "q"}', None) == (
            '["q","q"]'
        )

    async def test_a_tool_past_its_timeout_is_stopped(self) -> None:
        never = anyio.Event()
        stopped = anyio.Event()

        async def hangs() -> str:
            try:
                await never.wait()
            finally:
                stopped.set()
            return "never"

        with anyio.fail_after(10):
            with pytest.raises(ToolTimeout, match=r"ran past its timeout of 0\.05 s"):
                await ab.tool(hangs, timeout=0.05).run("{}", None)
        assert stopped.is_set()  # cancelled, not left running

    async def test_an_actor_tool_without_a_bus_says_what_to_do(self) -> None:
        made = ab.actor_tool("tools.search", SearchRequest)
        with pytest.raises(RuntimeError, match="asker=bus"):
            await made.run('{"query": "q", "limit": 1}', None)

    async def test_an_actor_tool_validates_its_arguments_as_the_message(self) -> None:
        made = ab.actor_tool("tools.search", SearchRequest)
        for bad in ['{"query": 1, "limit": 1}', "[]", "nope", '{"limit": 1}']:
            with pytest.raises(ToolArgumentsError):
                await made.run(bad, None)
