"""Model calls need asyncio (aiolimiter is asyncio-only): these tests run on asyncio.

The one Trio test (that models refuse Trio clearly) runs Trio itself.
"""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    """Run each async test here on asyncio only."""
    return "asyncio"
