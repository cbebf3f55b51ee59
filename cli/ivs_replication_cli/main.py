"""The ``ivs-replication`` entry point: arguments, the dependency check, one line per error."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import TYPE_CHECKING, TextIO

from ivs_replication_cli.errors import EXIT_MISSING_DEPENDENCY, CliError

if TYPE_CHECKING:
    from ivs_replication_cli.aws import ClientFactory

PROG = "ivs-replication"
# What the commands import; without them the command says how to install them.
DEPENDENCIES = ("boto3", "botocore", "aws_lambda_powertools")
INSTALL_HINT = "pip install 'ivs-participant-replication[cli]'"


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog=PROG,
        description="Whether the IVS participant replications and stage mirrors a stack "
        "declares are running.",
        epilog="Exit status: 0 ok, 1 drift (or failed starts), 3 boto3 missing, 4 no "
        "credentials or region, 5 no such stack, 6 access denied, 7 other AWS error, "
        "8 no reconciler in the stack.",
    )
    commands = top.add_subparsers(dest="command", required=True)
    status = commands.add_parser(
        "status", help="list the stack's replications and mirror destinations, with verdicts"
    )
    _common(status)
    status.add_argument("--json", action="store_true", help="print a JSON document")
    reconcile = commands.add_parser(
        "reconcile", help="run the stack's follow-mode sweep now and print what it started"
    )
    _common(reconcile)
    reconcile.add_argument(
        "--local",
        action="store_true",
        help="run the sweep here with the reconciler's code (your credentials), not in Lambda, "
        "at the IVS pace the deployed reconciler's environment states (Default: 5 calls/s)",
    )
    return top


def _common(command: argparse.ArgumentParser) -> None:
    command.add_argument("--stack-name", required=True, help="the CloudFormation stack")
    command.add_argument(
        "--region", help="Default: the AWS SDK's (AWS_DEFAULT_REGION, the profile)"
    )


def main(
    argv: Sequence[str] | None = None,
    *,
    clients: ClientFactory | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Run one command; returns its exit status (see ``ivs_replication_cli``).

    ``clients`` Default: boto3 clients of a session in ``--region``; ``out``/``err`` Default:
    ``sys.stdout``/``sys.stderr``.
    """
    out = out or sys.stdout
    err = err or sys.stderr
    args = parser().parse_args(argv)
    try:
        commands = _load_commands()
        exit_code: int = commands.run(args, clients=clients, out=out)
    except CliError as error:
        print(f"{PROG}: {error}", file=err)
        return error.exit_code
    return exit_code


def _load_commands() -> ModuleType:
    """Import the commands (and boto3) only now, so a missing SDK is one line, not a trace."""
    try:
        from ivs_replication_cli import commands  # noqa: PLC0415
    except ModuleNotFoundError as error:
        if error.name is None or error.name.split(".")[0] not in DEPENDENCIES:
            raise
        raise CliError(
            EXIT_MISSING_DEPENDENCY,
            f"{error.name} is not installed; the command needs the cli extra: {INSTALL_HINT}",
        ) from error
    return commands
