#!/usr/bin/env python3
"""Example CDK app: `npx cdk synth` (no AWS account needed) or `npx cdk deploy`.

One stack (example/stack.py): an encoder's participant replicated from a main stage into three
side stages, following the encoder. It deploys whether or not the encoder is publishing.
"""

from __future__ import annotations

import aws_cdk as cdk

from example.stack import ReplicationExampleStack

app = cdk.App()
ReplicationExampleStack(app, "IvsReplicationExample")
app.synth()
