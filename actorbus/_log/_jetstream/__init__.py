"""The event log on NATS JetStream (needs the ``nats`` extra: ``pip install 'actorbus[nats]'``).

nats-py is imported when a `JetStreamLog` is made, not when this package is.
"""

from __future__ import annotations

from ._connect import redact_url as redact_url
from ._inspect import JetStreamReader as JetStreamReader
from ._log import JetStreamLog as JetStreamLog

__all__ = ["JetStreamLog", "JetStreamReader", "redact_url"]
