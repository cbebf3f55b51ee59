"""The two commands, wired to AWS clients; imported only once boto3 is known to be there."""

from __future__ import annotations

import argparse
from typing import TextIO

from ivs_replication_cli import mirror_status, reconcile, status
from ivs_replication_cli.aws import (
    ClientFactory,
    command_deadline,
    one_line_errors,
    session_clients,
)
from ivs_replication_cli.errors import EXIT_DRIFT, EXIT_OK
from ivs_replication_cli.stack import read_stack
from ivs_replication_handler.ivs import IvsRealtime, paced
from ivs_replication_handler.registry import Registry
from ivs_replication_handler.retries import Deadline
from ivs_replication_handler.settings import IvsSettings
from ivs_replication_handler.spec import MirrorKey


def run(args: argparse.Namespace, *, clients: ClientFactory | None, out: TextIO) -> int:
    """Run ``status`` or ``reconcile``; returns the exit status, raises CliError."""
    client = clients or session_clients(args.region)
    with one_line_errors(args.stack_name):
        cloudformation = client("cloudformation")
        stack = read_stack(cloudformation, args.stack_name)
        if args.command == "status":
            # The region the SDK resolved, when --region was not given.
            region = args.region or cloudformation.meta.region_name
            return _status(args, region, stack, client, out)
        return _reconcile(args, stack, client, out)


def _status(
    args: argparse.Namespace,
    region: str | None,
    stack: status.DeployedStack,
    client: ClientFactory,
    out: TextIO,
) -> int:
    ivs, deadline = IvsRealtime(client("ivs-realtime")), command_deadline()
    statuses = status.check(stack, ivs, deadline)
    mirrors = mirror_status.check_mirrors(
        stack, ivs, deadline, user_ids_in_force=_registry_user_ids(stack, client, deadline)
    )
    if args.json:
        print(status.as_json(stack, region, statuses, mirrors), file=out)
    else:
        print(_tables(stack, statuses, mirrors), file=out)
    drift = status.drifts(statuses) or status.drifts(mirrors)
    return EXIT_DRIFT if drift else EXIT_OK


def _tables(
    stack: status.DeployedStack,
    statuses: list[status.ReplicationStatus],
    mirrors: list[mirror_status.MirrorStatus],
) -> str:
    """The replications' table and the mirrors', each only when the stack declares some."""
    tables = []
    if statuses:
        tables.append(status.as_table(statuses))
    if mirrors:
        tables.append(mirror_status.as_mirror_table(mirrors))
    if not tables:
        return f"Stack {stack.name} declares no IVS participant replication or stage mirror."
    return "\n\n".join(tables)


def _registry_user_ids(
    stack: status.DeployedStack, client: ClientFactory, deadline: Deadline
) -> mirror_status.UserIdsLookup | None:
    """The user ids in force, from the registry's declaration, for a mirror whose template
    leaves them to CloudFormation (a parameter); None when no mirror needs it. Such a mirror
    counts as taking every publisher when the stack has no table or the table no declaration
    of it."""
    if stack.registry_table is None or all(m.user_ids_stated for m in stack.mirrors):
        return None
    registry = Registry(stack.registry_table, client=client("dynamodb"))

    def user_ids(key: MirrorKey) -> tuple[str, ...] | None:
        declared = registry.mirror(key, deadline)
        return declared.user_ids if declared is not None else None

    return user_ids


def _reconcile(
    args: argparse.Namespace, stack: status.DeployedStack, client: ClientFactory, out: TextIO
) -> int:
    function = reconcile.require_reconciler(stack)
    if args.local:
        # At the deployed reconciler's pace: the settings its environment states in the template.
        settings = IvsSettings.from_environment(stack.reconciler_environment)
        result = reconcile.run_sweep_here(
            stack,
            paced(IvsRealtime(client("ivs-realtime"), settings=settings)),
            client("dynamodb"),
            command_deadline(),
        )
        where = f"here, with the reconciler's code at {settings.calls_per_second:g} IVS calls/s"
    else:
        result = reconcile.invoke_sweep(client("lambda"), function)
        where = f"Lambda function {function}"
    print(reconcile.describe(result, stack, where), file=out)
    failed = result.report is None or bool(result.report.get("failed"))
    return EXIT_DRIFT if failed else EXIT_OK
