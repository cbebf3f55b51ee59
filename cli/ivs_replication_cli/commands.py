"""The two commands, wired to AWS clients; imported only once boto3 is known to be there."""

from __future__ import annotations

import argparse
from typing import TextIO

from ivs_replication_cli import reconcile, status
from ivs_replication_cli.aws import (
    ClientFactory,
    command_deadline,
    one_line_errors,
    session_clients,
)
from ivs_replication_cli.errors import EXIT_DRIFT, EXIT_OK
from ivs_replication_cli.stack import read_stack
from ivs_replication_handler.ivs import IvsRealtime, paced
from ivs_replication_handler.settings import IvsSettings


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
    statuses = status.check(stack, IvsRealtime(client("ivs-realtime")), command_deadline())
    if args.json:
        print(status.as_json(stack, region, statuses), file=out)
    elif statuses:
        print(status.as_table(statuses), file=out)
    else:
        print(f"Stack {stack.name} declares no IVS participant replication.", file=out)
    return EXIT_DRIFT if status.drifts(statuses) else EXIT_OK


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
