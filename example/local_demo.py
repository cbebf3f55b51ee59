"""The main job, locally: the replication declared in app.py created, changed and removed.

``python -m example.local_demo`` (``make demo``) synthesizes app.py with the pinned CDK CLI,
starts the local IVS real-time endpoint with a manual clock, creates its stages, and sends the
replication's Create, Update and Delete requests through the real Lambda handler, whose boto3
client reaches the endpoint over HTTP (``AWS_ENDPOINT_URL_IVS_REALTIME``). Nothing reaches AWS:
the CLI gets no credentials, the handler dummy ones. Exit status 0 when every step showed what
it should, 1 with the reason otherwise.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, cast

from ivs_replication.local import LocalIvsRealtime, ManualClock
from ivs_replication.local.deploy import Handler, LocalDeployment
from ivs_replication.local.template import LocalTemplate

if TYPE_CHECKING:
    from collections.abc import Mapping

REPO_ROOT = Path(__file__).resolve().parent.parent
CDK_CLI = REPO_ROOT / "node_modules" / ".bin" / "cdk"
HANDLER_ROOT = REPO_ROOT / "lambda" / "replication"
HANDLER_MODULE = "ivs_replication_handler.handler"
REGION = "us-east-1"
SYNTH_TIMEOUT_SECONDS = 300
STEPS = 8
ACTIVE: Final = "ACTIVE"
STOPPED: Final = "STOPPED"
IVS_OPERATIONS = (
    "StopParticipantReplication",
    "StartParticipantReplication",
    "ListParticipantReplicas",
)
UPDATED_ATTRIBUTE = ("mood", "updated")
RESTARTED_ATTRIBUTE = ("mood", "back")
# Dummy credentials: boto3 needs some to sign; the endpoint is local, so they reach nothing.
HANDLER_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_REGION": REGION,
    "AWS_DEFAULT_REGION": REGION,
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}
# The CLI gets no credentials at all, so it cannot look up an account or reach AWS.
CLI_REMOVED_VARIABLES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_IVS_REALTIME",
)


class DemoError(Exception):
    """A step did not show what it should; the message says which and why."""


def say(text: str) -> None:
    print(text, flush=True)


def step(number: int, title: str) -> None:
    say(f"\n[{number}/{STEPS}] {title}")


def detail(text: str) -> None:
    say(f"      {text}")


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


# --- (b) the endpoint and the handler --------------------------------------------------------


def point_handler_at(ivs: LocalIvsRealtime) -> None:
    """What a boto3 program reads: the endpoint URL, dummy credentials and a region."""
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL"):
        os.environ.pop(name, None)
    os.environ.update(HANDLER_ENVIRONMENT)
    os.environ["AWS_ENDPOINT_URL_IVS_REALTIME"] = ivs.endpoint_url


def load_handler() -> Handler:
    """The real `on_event` from lambda/replication, its INFO logs quieted unless asked for."""
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    if str(HANDLER_ROOT) not in sys.path:
        sys.path.insert(0, str(HANDLER_ROOT))
    module = importlib.import_module(HANDLER_MODULE)
    return cast("Handler", module.on_event)


# --- the story -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Replication:
    """One replication of the template, resolved to local stages."""

    logical_id: str
    properties: dict[str, object]

    @property
    def source(self) -> str:
        return str(self.properties["SourceStageArn"])

    @property
    def destination(self) -> str:
        return str(self.properties["DestinationStageArn"])

    @property
    def participant(self) -> str:
        return str(self.properties["ParticipantId"])

    @property
    def window_seconds(self) -> int:
        return int(str(self.properties.get("ReconnectWindowSeconds") or 0))

    def with_attribute(self, key: str, value: str) -> dict[str, object]:
        attributes = dict(cast("Mapping[str, str]", self.properties.get("Attributes") or {}))
        return {**self.properties, "Attributes": {**attributes, key: value}}


class Demo:
    """The template's replications on a local endpoint, driven through the real handler."""

    def __init__(self, ivs: LocalIvsRealtime, template: LocalTemplate, handler: Handler) -> None:
        self.ivs = ivs
        self.template = template
        self.deployment = LocalDeployment(handler)
        self.replications: list[Replication] = []

    # -- reading state --

    def name(self, stage_arn: str) -> str:
        return f'"{self.template.stage_names.get(stage_arn, stage_arn)}"'

    def state(self, replication: Replication) -> str:
        records = self.ivs.replicas(
            source_stage_arn=replication.source,
            participant_id=replication.participant,
            destination_stage_arn=replication.destination,
        )
        return records[-1].state if records else "none"

    def expect(self, replication: Replication, wanted: str, when: str) -> str:
        state = self.state(replication)
        if state != wanted:
            raise DemoError(f"{replication.logical_id} is {state} {when}; expected {wanted}")
        return state

    def attribute_keys(self, replication: Replication) -> str:
        records = self.ivs.replicas(
            source_stage_arn=replication.source,
            participant_id=replication.participant,
            destination_stage_arn=replication.destination,
        )
        return ", ".join(sorted(records[-1].attributes)) if records else "(no replica)"

    def update(self, replication: Replication, properties: dict[str, object]) -> Replication:
        """Send an Update with `properties`; returns the replication as now declared."""
        updated = Replication(replication.logical_id, properties)
        self.deployment.update(updated.logical_id, updated.properties)
        self.replications[self.replications.index(replication)] = updated
        return updated

    def calls_made(self) -> str:
        """The IVS operations the endpoint received since the last reset, e.g. "Start x1"."""
        calls = self.ivs.calls
        shown = [f"{name} x{calls[name]}" for name in IVS_OPERATIONS if calls.get(name)]
        return ", ".join(shown) or "nothing"

    # -- steps --

    def create_stages(self) -> None:
        for logical_id, arn in self.template.create_stages().items():
            detail(f"{logical_id} -> local stage {self.name(arn)}  {arn}")
        self.replications = [
            Replication(logical_id, properties)
            for logical_id, properties in self.template.replication_properties().items()
        ]
        if not self.replications:
            raise DemoError("the template declares no Custom::IvsParticipantReplication")

    def create(self) -> None:
        for r in self.replications:
            self.ivs.publish(r.source, r.participant)
            detail(f"participant {r.participant} publishes in stage {self.name(r.source)}")
            detail(
                f"Create {r.logical_id}: {r.participant} from {self.name(r.source)} to "
                f"{self.name(r.destination)}, reconnect window {r.window_seconds} s"
            )
            self.ivs.reset_calls()
            resource = self.deployment.create(r.logical_id, r.properties)
            state = self.expect(r, ACTIVE, "after Create")
            detail(f"-> the handler called {self.calls_made()} over HTTP")
            detail(f"-> physical id {resource.physical_id}")
            detail(f"-> IVS lists the replica as {state}; attribute keys: {self.attribute_keys(r)}")

    def update_attributes(self) -> None:
        for declared in list(self.replications):
            before = self.deployment.physical_id(declared.logical_id)
            self.ivs.reset_calls()
            key, value = UPDATED_ATTRIBUTE
            detail(f'Update {declared.logical_id}: add attribute "{key}": "{value}"')
            r = self.update(declared, declared.with_attribute(key, value))
            if self.deployment.physical_id(r.logical_id) != before:
                raise DemoError(f"{r.logical_id} was replaced, not updated in place")
            state = self.expect(r, ACTIVE, "after Update")
            detail(f"-> the handler called {self.calls_made()}")
            detail("-> Stop then Start, in place (IVS has no update call): same physical id")
            detail(f"-> {state}; attribute keys now on the replica: {self.attribute_keys(r)}")

    def publisher_drops(self) -> None:
        for r in self.replications:
            window = r.window_seconds
            if window < 2:  # noqa: PLR2004 - "inside the window" needs at least 1 s of it
                detail(f"{r.logical_id}: reconnect window {window} s, nothing to show")
                continue
            self.ivs.unpublish(r.source, r.participant)
            self.ivs.clock.advance(window - 1)
            state = self.expect(r, ACTIVE, "inside the reconnect window")
            detail(
                f"{r.participant} stops publishing; {window - 1} s pass "
                f"(window {window} s): still {state}"
            )
            self.ivs.publish(r.source, r.participant)
            state = self.expect(r, ACTIVE, "after republishing")
            detail(f"{r.participant} publishes again within the window: {state}")
            self.ivs.unpublish(r.source, r.participant)
            self.ivs.clock.advance(window + 1)
            state = self.expect(r, STOPPED, "after the reconnect window passed")
            detail(f"{r.participant} stops publishing; {window + 1} s pass: {state}")
            detail("-> IVS ends a replication once its publisher stays away past the window")

    def restart_and_delete(self) -> None:
        for declared in list(self.replications):
            self.ivs.publish(declared.source, declared.participant)
            key, value = RESTARTED_ATTRIBUTE
            detail(f"{declared.participant} publishes again in {self.name(declared.source)}")
            detail(
                "CloudFormation never saw IVS stop it: the next Update "
                f'("{key}": "{value}") starts it again'
            )
            r = self.update(declared, declared.with_attribute(key, value))
            detail(f"-> {self.expect(r, ACTIVE, 'after the restarting Update')}")
            self.ivs.reset_calls()
            self.deployment.delete(r.logical_id)
            state = self.expect(r, STOPPED, "after Delete")
            active = self.ivs.replicas(participant_id=r.participant, state=ACTIVE)
            if active:
                raise DemoError(f"{len(active)} replica(s) of {r.participant} still ACTIVE")
            detail(f"Delete {r.logical_id}: the handler called {self.calls_made()}")
            detail(f"-> {state}, no ACTIVE replica left")

    def table(self) -> None:
        rows = [("logical id", "source", "destination", "participant", "state")]
        rows += [
            (
                r.logical_id,
                self.name(r.source),
                self.name(r.destination),
                r.participant,
                self.state(r),
            )
            for r in self.replications
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        for row in rows:
            cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
            detail("  ".join(cells).rstrip())


def run(out_dir: Path) -> None:
    step(1, "Synthesize app.py with the pinned CDK CLI (cdk synth --quiet)")
    started = time.monotonic()
    template = synthesize(out_dir)
    detail(f"done in {time.monotonic() - started:.1f} s; template loaded from {out_dir}")
    with LocalIvsRealtime(clock=ManualClock()) as ivs:
        local_template = LocalTemplate(template, ivs)
        detail(
            f"it declares {len(local_template.stages)} AWS::IVS::Stage and "
            f"{len(local_template.replications)} Custom::IvsParticipantReplication"
        )
        point_handler_at(ivs)
        step(2, "Start the local IVS real-time endpoint (manual clock)")
        detail(f"serving on {ivs.endpoint_url}")
        detail("the handler's boto3 client finds it through AWS_ENDPOINT_URL_IVS_REALTIME")
        demo = Demo(ivs, local_template, load_handler())
        step(3, "Create a local stage for each AWS::IVS::Stage of the template")
        demo.create_stages()
        step(4, "Create each replication through the real handler (on_event)")
        demo.create()
        step(5, "Update: change the attributes")
        demo.update_attributes()
        step(6, "The publisher drops out: the reconnect window")
        demo.publisher_drops()
        step(7, "Start it again, then Delete through the handler")
        demo.restart_and_delete()
        step(8, "Final state")
        demo.table()


def main() -> int:
    say("IVS participant replication: app.py deployed onto a local IVS real-time endpoint")
    try:
        with tempfile.TemporaryDirectory(prefix="ivs-replication-demo-") as out_dir:
            run(Path(out_dir) / "cdk.out")
    except Exception as error:  # the demo reports any failure and exits 1
        say(f"\nDEMO FAILED: {type(error).__name__}: {error}")
        return 1
    say("\nDemo complete: created, updated, outlived a short drop, ended, restarted, deleted.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
