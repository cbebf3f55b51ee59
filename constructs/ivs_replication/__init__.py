"""Declare Amazon IVS real-time participant replication in an AWS CDK stack.

    from ivs_replication import ParticipantReplication, WhenNotPublishing

Also: ``ParticipantFanOut`` (one publisher into many stages), ``IngestReplication`` (an
encoder's participant into many stages, following it by default), ``StageMirror`` (every
publisher of a stage into many stages), ``ReplicationSweep`` and ``ReplicationAlarms``
(CloudWatch alarms, opt in).
``ivs_replication.testing`` (the ``testing`` extra) deploys a synthesized template on local
endpoints for tests.
"""

from __future__ import annotations

from ._version import __version__
from .alarms import ReplicationAlarms
from .fanout import IngestReplication, ParticipantFanOut
from .mirror import MirrorDestination, StageMirror
from .modes import WhenNotPublishing
from .provider import DECLARED_IN_SEVERAL_STACKS_WARNING, ReplicationProvider
from .replication import FAIL_WITH_NEW_SOURCE_STAGE_WARNING, ParticipantReplication, StageLike
from .sweep import ReplicationSweep

__all__ = [
    "DECLARED_IN_SEVERAL_STACKS_WARNING",
    "FAIL_WITH_NEW_SOURCE_STAGE_WARNING",
    "IngestReplication",
    "MirrorDestination",
    "ParticipantFanOut",
    "ParticipantReplication",
    "ReplicationAlarms",
    "ReplicationProvider",
    "ReplicationSweep",
    "StageLike",
    "StageMirror",
    "WhenNotPublishing",
    "__version__",
]
