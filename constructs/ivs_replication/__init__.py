"""Declare Amazon IVS real-time participant replication in an AWS CDK stack.

    from ivs_replication import ParticipantReplication, WhenNotPublishing

Also: ``ParticipantFanOut`` (one publisher into many stages), ``IngestReplication`` (an
encoder's participant into many stages) and ``ReplicationSweep``.
``ivs_replication.testing`` (the ``testing`` extra) deploys a synthesized template on local
endpoints for tests.
"""

from __future__ import annotations

from .fanout import IngestReplication, ParticipantFanOut
from .modes import WhenNotPublishing
from .provider import ReplicationProvider
from .replication import FAIL_WITH_NEW_SOURCE_STAGE_WARNING, ParticipantReplication, StageLike
from .sweep import ReplicationSweep

__all__ = [
    "FAIL_WITH_NEW_SOURCE_STAGE_WARNING",
    "IngestReplication",
    "ParticipantFanOut",
    "ParticipantReplication",
    "ReplicationProvider",
    "ReplicationSweep",
    "StageLike",
    "WhenNotPublishing",
]
