"""A local emulator of Amazon IVS real-time, for tests and local development.

Nobody offers one (moto has no ivs-realtime), so this package serves the stage, participant
and participant-replication part of the REST-JSON API on 127.0.0.1, validated against
botocore's own service model, with an in-process control API, a manual clock and fault
injection::

    with IvsRealtimeEmulator(clock=ManualClock()) as ivs:
        client = boto3.client("ivs-realtime", endpoint_url=ivs.endpoint_url)

Laid out like a moto service: ``models`` (state), ``responses`` (the AWS operations),
``control`` (the ``/_local/`` routes), ``server`` (HTTP), ``validation`` (against botocore's
model), ``exceptions``, ``faults``, ``profiles`` (switchable answers to what IVS leaves
open); every guess about what IVS does not document is in ``assumptions`` (``ASSUMPTIONS``).

Only the standard library is imported here; botocore loads on the first request.
"""

from __future__ import annotations

from ivs_realtime_emulator.assumptions import ASSUMPTIONS
from ivs_realtime_emulator.exceptions import IvsRealtimeError
from ivs_realtime_emulator.faults import ALL_OPERATIONS, FaultPlan, FaultPlanError, Faults
from ivs_realtime_emulator.models import ManualClock, ReplicaRecord, SystemClock
from ivs_realtime_emulator.profiles import (
    PROFILES,
    ProfileError,
    ServiceProfile,
    load_profile,
    profile_named,
)
from ivs_realtime_emulator.responses import SUPPORTED_OPERATIONS
from ivs_realtime_emulator.server import IvsRealtimeEmulator, ServerNotRunningError
from ivs_realtime_emulator.validation import ResponseShapeError, validate_response

__all__ = [
    "ALL_OPERATIONS",
    "ASSUMPTIONS",
    "PROFILES",
    "SUPPORTED_OPERATIONS",
    "FaultPlan",
    "FaultPlanError",
    "Faults",
    "IvsRealtimeEmulator",
    "IvsRealtimeError",
    "ManualClock",
    "ProfileError",
    "ReplicaRecord",
    "ResponseShapeError",
    "ServerNotRunningError",
    "ServiceProfile",
    "SystemClock",
    "load_profile",
    "profile_named",
    "validate_response",
]
