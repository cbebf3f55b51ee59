"""Local deployments: synthesized templates deployed on the local endpoints by
`ivs_replication.testing`, and the operator's CLI against such a deployment."""

from __future__ import annotations

from tests.local.deployed_stack import template, world

__all__ = ["template", "world"]
