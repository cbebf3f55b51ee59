"""``python -m ivs_replication_probe [--dry-run] [--endpoint-url URL] [--output FILE]``.

Without ``--dry-run`` it works in the account and region of your AWS credentials (creating,
then deleting, two stages and an ingest configuration); with it, against a local emulator
(``--endpoint-url``, or one started in-process), publishing through its control routes.
Exit status: 0 written, 1 the probe failed, 130 interrupted (cleanup ran in every case).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from ivs_replication_probe.probe import Probe, ProbeError, ProbeOptions

if TYPE_CHECKING:
    from collections.abc import Sequence

EXIT_FAILED = 1
EXIT_INTERRUPTED = 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ivs_replication_probe",
        description="Measure what IVS real-time answers where it is undocumented; write an "
        "emulator service profile.",
    )
    parser.add_argument("--output", type=Path, default=None, help="Default: probed-<name>.json")
    parser.add_argument("--region", default=None, help="Default: your AWS configuration's")
    parser.add_argument(
        "--endpoint-url", default=None, help="an IVS real-time endpoint (e.g. the emulator's)"
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="against the emulator: --endpoint-url, or one started in-process",
    )
    parser.add_argument(
        "--emulator-profile", default=None, help="dry run in-process: the emulator's profile"
    )
    parser.add_argument("--publish-timeout", type=float, default=600.0, help="Default: 600 s")
    parser.add_argument("--session-timeout", type=float, default=900.0, help="Default: 900 s")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    arguments = _parser().parse_args(argv)
    if arguments.dry_run and arguments.endpoint_url is None:
        from ivs_realtime_emulator import IvsRealtimeEmulator  # noqa: PLC0415 - dry run only

        with IvsRealtimeEmulator(profile=arguments.emulator_profile) as emulator:
            return _probe(arguments, emulator.endpoint_url)
    return _probe(arguments, arguments.endpoint_url)


def _probe(arguments: argparse.Namespace, endpoint_url: str | None) -> int:
    # A dry run signs with dummy credentials: it can never reach a real account.
    dummy = "dry-run" if arguments.dry_run else None
    session = boto3.session.Session(
        aws_access_key_id=dummy,
        aws_secret_access_key=dummy,
        region_name=arguments.region or ("us-east-1" if arguments.dry_run else None),
    )
    region = session.region_name or "us-east-1"
    client = session.client("ivs-realtime", endpoint_url=endpoint_url)
    options = ProbeOptions(
        region=region,
        control_url=endpoint_url if arguments.dry_run else None,
        publish_timeout=arguments.publish_timeout,
        session_timeout=arguments.session_timeout,
    )
    probe = Probe(client, options)
    try:
        profile = probe.run()
    except (ProbeError, BotoCoreError, ClientError) as error:
        print(f"probe failed (what it created was deleted): {error}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("interrupted; what the probe created was deleted", file=sys.stderr)
        return EXIT_INTERRUPTED
    output = arguments.output or Path(f"{profile.name}.json")
    output.write_text(json.dumps(profile.to_json(), indent=2, sort_keys=True) + "\n")
    print(f"wrote {output}: load it with IvsRealtimeEmulator(profile={str(output)!r})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
