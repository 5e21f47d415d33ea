"""actorbus.testing: tools for testing code built on actorbus, and actorbus backends.

`EventLogConformance` is the test suite every `EventLog` backend must pass: subclass
it in a test module and override its ``open_log`` fixture. This module needs pytest
(and anyio's pytest plugin, which comes with anyio), which are not dependencies of
actorbus itself: install them where you run your tests.
"""

from __future__ import annotations

from ._conformance import EventLogConformance as EventLogConformance

__all__ = ["EventLogConformance"]
