"""One side of P1 in its own process: `python -m bench.synth_child KIND RUNS N,N,... OUT.json`.

KIND is "construct" (ParticipantReplication), "aws_custom_resource" (the hand-written
equivalent) or "provider_floor" (the least any construct following DESIGN.md's architecture
builds: one handler function with CDK's default role, one `custom_resources.Provider`, and a
`CustomResource` per replication; no log groups, no scoped policies, no validation).

The first synth (at the largest N) warms the jsii runtime up and is reported apart as a
cold-process figure; one discarded synth at each N follows; the measured runs after them each
build a fresh App and synthesize it into a fresh temporary outdir. The CDK's in-process asset
cache is cleared before each run, so the handler's asset is staged again every time, as in a
new `cdk synth` process (copy plus hash of the prebuilt bundle, no pip).
"""

from __future__ import annotations

import time

PROCESS_STARTED = time.perf_counter()

import json  # noqa: E402 - the clock above must start before the heavy imports
import shutil  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import aws_cdk as cdk  # noqa: E402
from aws_cdk import aws_ivs as ivs  # noqa: E402
from aws_cdk import aws_lambda as lambda_  # noqa: E402
from aws_cdk import custom_resources as cr  # noqa: E402

from bench.aws_custom_resource import aws_custom_resource  # noqa: E402
from ivs_replication import ParticipantReplication, WhenNotPublishing  # noqa: E402
from ivs_replication.asset import RUNTIME, handler_code  # noqa: E402

STACK_NAME = "BenchReplications"
CONSTRUCT = "construct"
AWS_CUSTOM_RESOURCE = "aws_custom_resource"
PROVIDER_FLOOR = "provider_floor"


def build(kind: str, replications: int, outdir: str) -> cdk.App:
    """A stack with two stages and `replications` replications of distinct participants."""
    app = cdk.App(outdir=outdir)
    stack = cdk.Stack(
        app, STACK_NAME, env=cdk.Environment(account="123456789012", region="us-east-1")
    )
    source = ivs.CfnStage(stack, "Source", name="source")
    destination = ivs.CfnStage(stack, "Destination", name="destination")
    if kind == PROVIDER_FLOOR:
        _provider_floor(stack, replications, source.attr_arn, destination.attr_arn)
        return app
    for index in range(replications):
        participant = f"participant-{index}"
        if kind == CONSTRUCT:
            # fail(): what the baseline does (start on create, fail if nobody publishes).
            ParticipantReplication(
                stack,
                f"Replication{index}",
                source_stage=source,
                destination_stage=destination,
                participant_id=participant,
                when_not_publishing=WhenNotPublishing.fail(),
            )
        else:
            # What a careful user writes without this library (bench.aws_custom_resource).
            aws_custom_resource(
                stack,
                f"Replication{index}",
                source_arn=source.attr_arn,
                destination_arn=destination.attr_arn,
                participant_id=participant,
            )
    return app


def _provider_floor(
    stack: cdk.Stack, replications: int, source_arn: str, destination_arn: str
) -> None:
    """The design's skeleton alone: the handler (our bundle, CDK's default role and log
    group), the provider framework in front of it, and one custom resource per replication."""
    handler = lambda_.Function(
        stack,
        "OnEvent",
        runtime=RUNTIME,
        handler="ivs_replication_handler.handler.on_event",
        code=handler_code(),
    )
    provider = cr.Provider(stack, "Provider", on_event_handler=handler)
    for index in range(replications):
        cdk.CustomResource(
            stack,
            f"Replication{index}",
            service_token=provider.service_token,
            resource_type="Custom::IvsParticipantReplication",
            properties={
                "SourceStageArn": source_arn,
                "DestinationStageArn": destination_arn,
                "ParticipantId": f"participant-{index}",
            },
        )


def synth_once(kind: str, replications: int) -> dict[str, Any]:
    """Build and synthesize one fresh App; the timing covers both, not the cleanup."""
    outdir = tempfile.mkdtemp(prefix="bench-synth-")
    try:
        cdk.AssetStaging.clear_asset_hash_cache()
        started = time.perf_counter()
        build(kind, replications, outdir).synth()
        seconds = time.perf_counter() - started
        template_file = Path(outdir) / f"{STACK_NAME}.template.json"
        template = json.loads(template_file.read_text(encoding="utf-8"))
        types = [resource["Type"] for resource in template["Resources"].values()]
        return {
            "replications": replications,
            "seconds": seconds,
            "template_bytes": template_file.stat().st_size,
            "resources": len(types),
            "lambda_functions": types.count("AWS::Lambda::Function"),
        }
    finally:
        shutil.rmtree(outdir, ignore_errors=True)


def main(argv: list[str]) -> None:
    kind, runs, counts, out = argv[0], int(argv[1]), [int(n) for n in argv[2].split(",")], argv[3]
    imported = time.perf_counter() - PROCESS_STARTED
    warmup = synth_once(kind, max(counts))
    cold = {
        "replications": warmup["replications"],
        "import_seconds": imported,
        "first_synth_seconds": warmup["seconds"],
        "process_to_first_synth_seconds": time.perf_counter() - PROCESS_STARTED,
    }
    # One more discarded synth at each N: node's JIT compiles what a stack of that size runs
    # (at N=1 the provider's code is most of it), so the samples measure the steady state.
    for replications in counts:
        synth_once(kind, replications)
    samples: list[dict[str, Any]] = []
    for run in range(runs):
        # Rotate the order of N, so no N always runs right after the largest one.
        shift = run % len(counts)
        for replications in counts[shift:] + counts[:shift]:
            samples.append(synth_once(kind, replications))
    Path(out).write_text(json.dumps({"cold": cold, "samples": samples}), encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1:])
