"""Deploy a synthesized template on local endpoints, for tests of your own stacks.

Install with the ``testing`` extra (``pip install 'ivs-participant-replication[testing]'``,
after ``pip install ./emulator`` from a checkout). ``TemplateDeployment`` creates a template's
resources in CloudFormation's dependency order on a local IVS real-time endpoint
(``ivs_realtime_emulator.IvsRealtimeEmulator``), a local DynamoDB (``LocalDynamoDB``, moto's
server) and an in-process EventBridge bus (``LocalEventBus``), running the real custom-resource
handler and reconciler in-process, and deletes them in reverse::

    with IvsRealtimeEmulator(clock=ManualClock()) as ivs, LocalDynamoDB() as dynamodb:
        deployment = TemplateDeployment(template, ivs=ivs, dynamodb=dynamodb)
        deployment.deploy()

``AppDeployment`` does the same for every stack of a synthesized app (``app.synth()`` or a
``cdk.out`` directory), in dependency order on shared endpoints, one stack's
``Fn::ImportValue`` reading another's export (``LocalExports``)::

    with IvsRealtimeEmulator(clock=ManualClock()) as ivs, LocalDynamoDB() as dynamodb:
        deployment = AppDeployment(app.synth(), ivs=ivs, dynamodb=dynamodb)
        deployment.deploy()
        deployment.stack("Replications").physical_ids

pytest fixtures ``local_dynamodb`` (and the emulator's ``local_ivs``) are opt-in:
``pytest_plugins = ["ivs_replication.testing.pytest_plugin"]`` in your ``conftest.py``.
"""

from __future__ import annotations

from ivs_replication.testing.assembly import AppDeployment
from ivs_replication.testing.deploy import LocalDeployment, LocalDeploymentError
from ivs_replication.testing.deployment import (
    LocalIngestConfiguration,
    StackEvent,
    TemplateDeployment,
    TemplateDeploymentError,
)
from ivs_replication.testing.dynamodb import LocalDynamoDB
from ivs_replication.testing.events import Delivery, EventPatternError, LocalEventBus, RuleError
from ivs_replication.testing.exports import LocalExports
from ivs_replication.testing.intrinsics import MissingExportError, UnsupportedTemplateError
from ivs_replication.testing.parameters import LOCAL_BOOTSTRAP_VERSION, ParameterValueError
from ivs_replication.testing.runtime import FunctionRuntime, HandlerRuntime, LocalFunction

__all__ = [
    "LOCAL_BOOTSTRAP_VERSION",
    "AppDeployment",
    "Delivery",
    "EventPatternError",
    "FunctionRuntime",
    "HandlerRuntime",
    "LocalDeployment",
    "LocalDeploymentError",
    "LocalDynamoDB",
    "LocalEventBus",
    "LocalExports",
    "LocalFunction",
    "LocalIngestConfiguration",
    "MissingExportError",
    "ParameterValueError",
    "RuleError",
    "StackEvent",
    "TemplateDeployment",
    "TemplateDeploymentError",
    "UnsupportedTemplateError",
]
