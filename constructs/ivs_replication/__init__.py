"""Declare Amazon IVS real-time participant replication in an AWS CDK stack.

    from ivs_replication import ParticipantReplication, WhenNotPublishing

Also: ``ParticipantFanOut`` (one publisher into many stages), ``IngestReplication`` (an
encoder's participant into many stages, following it by default) and ``ReplicationSweep``.

The construct classes are loaded on first use, so ``ivs_replication.local`` (the local IVS
endpoint for tests) can be imported without starting the CDK's jsii runtime.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .fanout import IngestReplication, ParticipantFanOut
    from .modes import WhenNotPublishing
    from .provider import ReplicationProvider
    from .replication import ParticipantReplication, StageLike
    from .sweep import ReplicationSweep

__all__ = [
    "IngestReplication",
    "ParticipantFanOut",
    "ParticipantReplication",
    "ReplicationProvider",
    "ReplicationSweep",
    "StageLike",
    "WhenNotPublishing",
]

_LAZY = {
    "ParticipantReplication": ".replication",
    "StageLike": ".replication",
    "ReplicationProvider": ".provider",
    "WhenNotPublishing": ".modes",
    "ParticipantFanOut": ".fanout",
    "IngestReplication": ".fanout",
    "ReplicationSweep": ".sweep",
}


def __getattr__(name: str) -> object:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_LAZY[name], __name__), name)
