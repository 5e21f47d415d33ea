"""FakeOpenAI: a loopback HTTP server speaking the OpenAI chat completions API.

The pieces, lowest first: ``_spec`` (what to answer: `Reply`, `ToolCall`, `Fault`,
and `RecordedRequest`), ``_wire`` (the JSON and event-stream shapes), ``_schema``
and ``_checks`` (refusing malformed tools, tool_choice, response_format and tool
messages), ``_state`` (the script and recordings shared with the test's thread),
``_routes`` (deciding an answer), ``_http`` (one h11 connection), ``_respond`` and
``_serving`` (acting the answer out), and ``_server`` (the thread and the public
class). Nothing here needs pytest, so ``actorbus fake-openai`` runs without it.
"""

from __future__ import annotations

from ._server import FakeOpenAI as FakeOpenAI
from ._server import serve_forever as serve_forever
from ._spec import Fault as Fault
from ._spec import RecordedRequest as RecordedRequest
from ._spec import Reply as Reply
from ._spec import ToolCall as ToolCall

__all__ = ["FakeOpenAI", "Fault", "RecordedRequest", "Reply", "ToolCall", "serve_forever"]
