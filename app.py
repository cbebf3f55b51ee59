#!/usr/bin/env python3
"""Example CDK app: `npx cdk synth` (no AWS account needed) or `npx cdk deploy`.

Context: `-c participantId=...` (default "host-1") names the replicated participant;
`-c withReplication=false` leaves the replication out (a first deploy that only creates the
stages, so the participant has a stage to publish in before the replication starts).
"""

from __future__ import annotations

import aws_cdk as cdk

from example.stack import DEFAULT_PARTICIPANT_ID, ReplicationExampleStack

app = cdk.App()
ReplicationExampleStack(
    app,
    "IvsReplicationExample",
    participant_id=str(app.node.try_get_context("participantId") or DEFAULT_PARTICIPANT_ID),
    # Context values from the command line are strings: "false" must mean False.
    with_replication=str(app.node.try_get_context("withReplication")).lower() != "false",
)
app.synth()
