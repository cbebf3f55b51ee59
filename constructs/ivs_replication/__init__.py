"""Declare Amazon IVS real-time participant replication in an AWS CDK stack.

    from ivs_replication import ParticipantReplication

The construct classes are loaded on first use, so ``ivs_replication.local`` (the local IVS
endpoint for tests) can be imported without starting the CDK's jsii runtime.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .provider import ReplicationProvider
    from .replication import ParticipantReplication, StageLike

__all__ = ["ParticipantReplication", "ReplicationProvider", "StageLike"]

_LAZY = {
    "ParticipantReplication": ".replication",
    "StageLike": ".replication",
    "ReplicationProvider": ".provider",
}


def __getattr__(name: str) -> object:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_LAZY[name], __name__), name)
