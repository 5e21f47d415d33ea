"""``python -m actorbus``: the same as the ``actorbus`` command."""

from __future__ import annotations

import sys

from ._cli import main

sys.exit(main())
