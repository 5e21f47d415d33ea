"""Peers: other actor runtimes doing the same work as actorbus, side by side.

Each peer has its own module (``_autogen``, ``_pykka``, ``_thespian``) that
drives the peer through its public API in its fastest documented way and says how
in ``HOW``. The peers are optional (``pip install 'actorbus[bench]'``): a peer
that is not installed is reported as such, and the run goes on. This package
imports no peer at import time; `installed` only looks for them.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

__all__ = ["PEERS", "PEER_SCENARIOS", "Peer", "installed"]

PEER_SCENARIOS = ("throughput", "fanout", "ask", "actors")
"""The actorbus scenarios every peer also runs, with the same workload."""


@dataclass(frozen=True)
class Peer:
    """One peer runtime.

    Attributes:
        name: the name in reports.
        module: its adapter module in this package.
        dist: its distribution name, for the version.
        imports: the top-level module whose presence means it is installed.
    """

    name: str
    module: str
    dist: str
    imports: str


PEERS = (
    Peer("autogen-core", "_autogen", "autogen-core", "autogen_core"),
    Peer("pykka", "_pykka", "pykka", "pykka"),
    Peer("thespian", "_thespian", "thespian", "thespian"),
)
"""Every peer, in report order."""


def installed(peer: Peer) -> bool:
    """Tell whether ``peer`` can be imported here (without importing it)."""
    return importlib.util.find_spec(peer.imports) is not None
