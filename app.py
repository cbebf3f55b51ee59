#!/usr/bin/env python3
"""Example CDK app: `npx cdk synth` (no AWS account needed) or `npx cdk deploy`.

The replicated participant id comes from context: `-c participantId=...` (default "host-1").
"""

from __future__ import annotations

import aws_cdk as cdk

from example.stack import DEFAULT_PARTICIPANT_ID, ReplicationExampleStack

app = cdk.App()
ReplicationExampleStack(
    app,
    "IvsReplicationExample",
    participant_id=str(app.node.try_get_context("participantId") or DEFAULT_PARTICIPANT_ID),
)
app.synth()
