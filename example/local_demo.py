"""The main job, locally: app.py's stack deployed, following its encoder, and deleted; then a
stage mirror's hosts coming and going.

``python -m example.local_demo`` (``make demo``) synthesizes app.py with the pinned CDK CLI (and
meanwhile example/mirror_stack.py in this process), then deploys the templates with
``TemplateDeployment`` onto a local IVS real-time endpoint (manual clock), a local DynamoDB
(moto) and an in-process EventBridge bus. The stacks' own handler and reconciler run
in-process, their boto3 clients pointed at those endpoints. The story: deploy with nobody
publishing, the encoder publishes (replicated into every side stage), drops out past the
reconnect window (stopped), comes back (replicated again), one event is lost and the sweep
catches up, and the stack is deleted (stopped everywhere, no rule left). Then the mirror
example (`mirror_demo`): three hosts publish in its studio stage and appear in three audience
stages, a fourth joins, one leaves and comes back, and an update stops mirroring into one
audience stage (its replicas stop, the others keep running).

Nothing reaches AWS: the CLI gets no credentials and the clients dummy ones. Exit status 0
when every step showed what it should, 1 with the reason otherwise.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from example.demo_support import DemoError, DeployedExample, detail, print_table, say
from example.mirror_demo import (
    HOSTS,
    LATE_HOST,
    ROAMING_HOST,
    STUDIO,
    UNMIRRORED_AUDIENCE,
    MirrorDemo,
    synthesize_mirror_example,
)
from ivs_realtime_emulator import IvsRealtimeEmulator, ManualClock
from ivs_replication.testing import LocalDynamoDB, TemplateDeployment
from ivs_replication.testing.deployment import (
    FUNCTION_TYPE,
    INGEST_TYPE,
    RULE_TYPE,
    STAGE_TYPE,
    TABLE_TYPE,
)
from ivs_replication_handler.contract import LOGGER_SERVICE, MIRROR_RESOURCE_TYPE
from ivs_replication_handler.contract import RESOURCE_TYPE as REPLICATION_TYPE

if TYPE_CHECKING:
    from collections.abc import Mapping

REPO_ROOT = Path(__file__).resolve().parent.parent
CDK_CLI = REPO_ROOT / "node_modules" / ".bin" / "cdk"
STACK_NAME = "IvsReplicationExample"
REGION = "us-east-1"
SYNTH_TIMEOUT_SECONDS = 300
STEPS = 14
DELETE_STEP = 8
ACTIVE: Final = "ACTIVE"
STOPPED: Final = "STOPPED"
SHOWN_TYPES = (
    STAGE_TYPE,
    INGEST_TYPE,
    REPLICATION_TYPE,
    MIRROR_RESOURCE_TYPE,
    TABLE_TYPE,
    RULE_TYPE,
    FUNCTION_TYPE,
)
# The CLI gets no credentials at all, so it cannot look up an account or reach AWS.
CLI_REMOVED_VARIABLES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_IVS_REALTIME",
)


def step(number: int, title: str) -> None:
    say(f"\n[{number}/{STEPS}] {title}")


# --- (a) synthesize --------------------------------------------------------------------------


def cli_environment() -> dict[str, str]:
    """The CLI's environment: this venv's python first (cdk.json runs `python3 app.py`)."""
    env = {k: v for k, v in os.environ.items() if k not in CLI_REMOVED_VARIABLES}
    env.update(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="20",
        CDK_DISABLE_VERSION_CHECK="1",
        AWS_EC2_METADATA_DISABLED="true",
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_REGION=env.get("AWS_REGION", REGION),
        AWS_DEFAULT_REGION=env.get("AWS_DEFAULT_REGION", REGION),
    )
    return env


def synthesize(out_dir: Path) -> dict[str, Any]:
    """Run `cdk synth` on app.py into `out_dir`; returns the stack's template."""
    if not CDK_CLI.exists():
        raise DemoError(f"{CDK_CLI} is missing: run `make setup` (npm ci) first")
    command = [str(CDK_CLI), "synth", "--quiet", "--no-notices", "-o", str(out_dir)]
    result = subprocess.run(  # noqa: S603 - a fixed command: the project's pinned CLI
        command,
        cwd=REPO_ROOT,
        env=cli_environment(),
        capture_output=True,
        text=True,
        timeout=SYNTH_TIMEOUT_SECONDS,
        check=False,
    )
    if result.returncode != 0:
        output = (result.stderr or result.stdout).strip().splitlines()[-15:]
        raise DemoError(f"cdk synth exited with {result.returncode}:\n" + "\n".join(output))
    templates = sorted(out_dir.glob("*.template.json"))
    if len(templates) != 1:
        raise DemoError(f"expected one stack template in {out_dir}, found {len(templates)}")
    template: dict[str, Any] = json.loads(templates[0].read_text())
    return template


def type_counts(template: Mapping[str, Any]) -> str:
    """ "4 AWS::IVS::Stage, 1 AWS::IVS::IngestConfiguration, ..." for the types that matter."""
    types = [str(r.get("Type")) for r in (template.get("Resources") or {}).values()]
    return ", ".join(f"{types.count(t)} {t}" for t in SHOWN_TYPES if t in types)


# --- the story -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Replication:
    """One declared replication, resolved to local ARNs (it outlives the stack's delete)."""

    logical_id: str
    source: str
    destination: str
    participant: str
    window_seconds: int


class Demo(DeployedExample):
    """app.py's template as a ``TemplateDeployment``, driven through the encoder's life."""

    def __init__(
        self, ivs: IvsRealtimeEmulator, dynamodb: LocalDynamoDB, template: Mapping[str, Any]
    ) -> None:
        super().__init__(
            TemplateDeployment(template, ivs=ivs, dynamodb=dynamodb, stack_name=STACK_NAME),
            template,
        )
        self.ivs = ivs
        self.dynamodb = dynamodb
        self.replications: list[Replication] = []
        self.stage_names: dict[str, str] = {}
        self.encoder = ""
        self.participant = ""

    # -- reading state --

    def name(self, stage_arn: str) -> str:
        return self.stage_names.get(stage_arn, stage_arn)

    def state(self, replication: Replication) -> str:
        records = self.ivs.replicas(
            source_stage_arn=replication.source,
            participant_id=replication.participant,
            destination_stage_arn=replication.destination,
        )
        return records[-1].state if records else "none"

    def expect_all(self, wanted: str, when: str) -> str:
        """Check every replication is `wanted`; returns "side-1 ACTIVE, side-2 ACTIVE, ..."."""
        states = {self.name(r.destination): self.state(r) for r in self.replications}
        wrong = {name: state for name, state in states.items() if state != wanted}
        if wrong:
            raise DemoError(f"{when}: expected {wanted} in every side stage, found {wrong}")
        return ", ".join(f"{name} {state}" for name, state in states.items())

    # -- steps --

    def deploy(self) -> None:
        self.stack.deploy()
        created = [e for e in self.stack.history if e.status == "CREATE_COMPLETE"]
        detail(f"{len(created)} resources created in dependency order; the ones that act:")
        for logical_id in self.stack.logical_ids(STAGE_TYPE):
            arn = self.stack.physical_ids[logical_id]
            self.stage_names[arn] = str(
                self.template["Resources"][logical_id]["Properties"]["Name"]
            )
            detail(f'  {logical_id}: stage "{self.name(arn)}"  {arn}')
        [(self.encoder, encoder)] = self.stack.ingest_configurations.items()
        self.participant = encoder.participant_id
        detail(
            f"  {self.encoder}: ingest configuration into "
            f'"{self.name(str(encoder.stage_arn))}"; IVS gave it participant id {self.participant}'
        )
        self.describe_replications()
        self.describe_follow_mode()
        detail(f"-> replicas in the side stages: {self.expect_all('none', 'after deploy')}")

    def describe_replications(self) -> None:
        deployment = self.stack.deployment
        if deployment is None:
            raise DemoError(f"the template declares no {REPLICATION_TYPE}")
        for logical_id, resource in deployment.resources.items():
            properties = resource.properties
            replication = Replication(
                logical_id,
                str(properties["SourceStageArn"]),
                str(properties["DestinationStageArn"]),
                str(properties["ParticipantId"]),
                int(str(properties.get("ReconnectWindowSeconds") or 0)),
            )
            self.replications.append(replication)
            detail(
                f"  replication into {self.name(replication.destination)}: Create succeeded "
                f"with nobody publishing ({properties.get('WhenNotPublishing')} mode)"
            )

    def describe_follow_mode(self) -> None:
        [table] = self.stack.logical_ids(TABLE_TYPE)
        items = self.dynamodb.items(self.stack.physical_ids[table])
        detail(f"  {self.path(table)}: the registry holds {len(items)} declarations")
        for rule in self.stack.logical_ids(RULE_TYPE):
            resource = self.template["Resources"][rule]
            schedule = resource["Properties"].get("ScheduleExpression")
            if schedule:
                detail(f"  {self.path(rule)}: rule on the schedule {schedule}")
                continue
            pattern = resource["Properties"]["EventPattern"]
            stages = len(pattern.get("resources", []))
            participants = len(pattern["detail"].get("participant_id", []))
            detail(
                f"  {self.path(rule)}: the stack's one rule on Participant Published "
                f"({stages} stage(s), {participants} participant(s) in its pattern), depending "
                "on no replication"
            )

    def encoder_publishes(self, *, expect_started: int) -> None:
        source = self.name(self.replications[0].source)
        self.stack.start_encoder(self.encoder)
        detail(f'encoder {self.participant} publishes in "{source}"')
        self.report_deliveries(expect_started=expect_started)

    def encoder_away_beyond_the_window(self) -> None:
        window = self.replications[0].window_seconds
        self.stack.stop_encoder(self.encoder)
        self.ivs.clock.advance(window + 1)
        detail(f"encoder stops publishing; {window + 1} s pass (reconnect window {window} s)")
        detail(f"-> {self.expect_all(STOPPED, 'after the reconnect window passed')}")

    def lost_event_and_sweep(self) -> None:
        self.encoder_away_beyond_the_window()
        self.stack.bus.drop_next()
        self.encoder_publishes(expect_started=0)
        detail(f"-> still {self.expect_all(STOPPED, 'after the lost event')}")
        self.stack.bus.run_schedules()
        detail("the sweep's schedule fires (every 5 minutes in AWS; once, here)")
        self.report_deliveries(expect_started=len(self.replications))
        detail(f"-> {self.expect_all(ACTIVE, 'after the sweep')}")

    def delete(self) -> None:
        self.ivs.reset_calls()
        self.stack.delete()
        deleted = [e for e in self.stack.history if e.status == "DELETE_COMPLETE"]
        rules = [e.logical_id for e in deleted if e.resource_type == RULE_TYPE]
        replications = [e.logical_id for e in deleted if e.resource_type == REPLICATION_TYPE]
        detail(f"{len(deleted)} resources deleted in reverse dependency order:")
        detail(f"  the {len(rules)} rules: {', '.join(map(self.path, rules))}")
        stops = self.ivs.calls.get("StopParticipantReplication", 0)
        if stops != len(replications):
            raise DemoError(f"the handler stopped {stops} replications, not {len(replications)}")
        detail(
            f"  the {len(replications)} replications: the handler withdrew each declaration "
            f"and called StopParticipantReplication x{stops}"
        )
        rest = [e.resource_type for e in deleted if e.logical_id not in {*rules, *replications}]
        kinds = ", ".join(t.split("::")[-1] for t in SHOWN_TYPES if t in rest)
        detail(f"  the other {len(rest)}, among them: {kinds}")
        rules_left, tables_left = sorted(self.stack.bus.rules()), self.dynamodb.tables()
        if rules_left or tables_left:
            raise DemoError(f"left behind: rules {rules_left}, tables {tables_left}")
        detail(f"-> {self.expect_all(STOPPED, 'after the delete')}; no rule left, no table left")

    def table(self) -> None:
        rows = [("replication", "source", "destination", "participant", "state")]
        rows += [
            (
                f"{self.path(r.logical_id).split('/')[0]} -> {self.name(r.destination)}",
                self.name(r.source),
                self.name(r.destination),
                r.participant,
                self.state(r),
            )
            for r in self.replications
        ]
        print_table(rows)


@contextmanager
def quiet_handler_logs() -> Iterator[None]:
    """The handlers log JSON at INFO for CloudWatch; here it would drown the story. Their
    levels are restored afterwards: `main` also runs inside other programs (the tests)."""
    # Powertools gives each module's child logger a level of its own.
    loggers = [
        logging.getLogger(name)
        for name in [LOGGER_SERVICE, *logging.root.manager.loggerDict]
        if name.split(".")[0] == LOGGER_SERVICE
    ]
    levels = [(logger, logger.level) for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for logger, level in levels:
            logger.setLevel(level)


def run(out_dir: Path) -> None:
    step(1, "Synthesize app.py with the pinned CDK CLI, and the mirror example in this process")
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=1) as pool:
        # The mirror example synthesizes here while the CLI runs app.py in processes of its own.
        mirror_synth = pool.submit(synthesize_mirror_example, out_dir / "mirror")
        template = synthesize(out_dir / "app")
        mirror_templates = mirror_synth.result()
    detail(f"done in {time.monotonic() - started:.1f} s; app.py's template declares:")
    detail(type_counts(template))
    detail(f"example/mirror_stack.py's: {type_counts(mirror_templates.deployed)}")
    step(2, "Start the local endpoints")
    with (
        quiet_handler_logs(),
        IvsRealtimeEmulator(clock=ManualClock()) as ivs,
        LocalDynamoDB() as dynamodb,
    ):
        detail(f"IVS real-time on {ivs.endpoint_url} (manual clock)")
        detail(f"DynamoDB on {dynamodb.endpoint_url} (moto)")
        detail("an in-process EventBridge bus; the stack's handler and reconciler run in-process")
        demo = Demo(ivs, dynamodb, template)
        follow_the_encoder(demo)
        mirror = MirrorDemo(ivs, dynamodb, mirror_templates)
        mirror_the_hosts(mirror)
        step(STEPS, "Final state")
        detail(f"app.py's stack (deleted in step {DELETE_STEP}):")
        demo.table()
        detail("the mirror example's stack:")
        mirror.table()


def follow_the_encoder(demo: Demo) -> None:
    """Steps 3 to 8: app.py's stack through the encoder's life, then deleted."""
    step(3, "Deploy the stack, with nobody publishing")
    demo.deploy()
    step(4, "The encoder starts publishing")
    demo.encoder_publishes(expect_started=len(demo.replications))
    detail(f"-> {demo.expect_all(ACTIVE, 'after the encoder published')}")
    step(5, "The encoder drops out for longer than the reconnect window")
    demo.encoder_away_beyond_the_window()
    step(6, "The encoder comes back")
    demo.encoder_publishes(expect_started=len(demo.replications))
    detail(f"-> {demo.expect_all(ACTIVE, 'after the encoder came back')}")
    step(7, "An event is lost: the sweep catches up")
    demo.lost_event_and_sweep()
    step(DELETE_STEP, "Delete the stack")
    demo.delete()


def mirror_the_hosts(mirror: MirrorDemo) -> None:
    """Steps 9 to 13: the mirror example's hosts come and go; one audience stage is dropped."""
    step(9, "Deploy the mirror example (a StageMirror of a studio stage), with nobody publishing")
    mirror.deploy()
    step(10, f"Three hosts publish in the {STUDIO} stage")
    mirror.hosts_publish(HOSTS)
    step(11, "A fourth host joins")
    mirror.hosts_publish([LATE_HOST])
    step(12, f"{ROAMING_HOST} drops out for longer than the reconnect window, and comes back")
    mirror.host_away_and_back(ROAMING_HOST)
    step(13, f"An update stops mirroring into {UNMIRRORED_AUDIENCE}")
    mirror.stop_mirroring_into(UNMIRRORED_AUDIENCE)


def main() -> int:
    say("IVS participant replication: app.py and a stage mirror deployed locally (no AWS account)")
    try:
        with tempfile.TemporaryDirectory(prefix="ivs-replication-demo-") as out_dir:
            run(Path(out_dir) / "cdk.out")
    except Exception as error:  # the demo reports any failure and exits 1
        say(f"\nDEMO FAILED: {type(error).__name__}: {error}")
        return 1
    say(
        "\nDemo complete: deployed with nobody live, followed the encoder out and back in, "
        "caught up a lost event, deleted;\nmirrored hosts as they came and went, and stopped "
        "mirroring into one audience stage."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
