"""``python -m ivs_replication_probe``: measure, in a sandbox AWS account, what IVS real-time
answers where its documentation is silent, and write it as an emulator service profile.

Shipped in the emulator's distribution because it writes the emulator's profile format and
needs nothing else than boto3; it imports nothing of the CDK library or its handler.
"""

from __future__ import annotations

from ivs_replication_probe.probe import Probe, ProbeError, ProbeOptions, Timing

__all__ = ["Probe", "ProbeError", "ProbeOptions", "Timing"]
