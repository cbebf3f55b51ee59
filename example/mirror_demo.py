"""The demo's stage mirror: example/mirror_stack.py synthesized in this process, deployed on
the local endpoints, and driven through its hosts' comings and goings, then an update that stops
mirroring into one audience stage."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aws_cdk as cdk

from example.demo_support import DemoError, DeployedExample, detail, print_table
from example.mirror_stack import AUDIENCE_STAGE_NAMES, StageMirrorExampleStack
from ivs_replication.testing import TemplateDeployment
from ivs_replication.testing.deployment import STAGE_TYPE
from ivs_replication_handler.contract import (
    MIRROR_RESOURCE_TYPE,
    PROP_DESTINATION_STAGE_ARN,
    PROP_RECONNECT_WINDOW_SECONDS,
)

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from ivs_realtime_emulator import IvsRealtimeEmulator
    from ivs_replication.testing import LocalDynamoDB

CDK_JSON = Path(__file__).resolve().parent.parent / "cdk.json"
MIRROR_STACK_NAME = "IvsStageMirrorExample"
STUDIO = "studio"
HOSTS = ("host-1", "host-2", "host-3")
LATE_HOST = "host-4"
ROAMING_HOST = "host-2"
UNMIRRORED_AUDIENCE = AUDIENCE_STAGE_NAMES[-1]
_ACTIVE = "ACTIVE"
# What `cdk synth` sets for an app: construct paths in the template's metadata, printed here.
_PATH_METADATA = {"aws:cdk:enable-path-metadata": True}


@dataclass(frozen=True)
class MirrorTemplates:
    """The example's template as deployed, and as its update that leaves one audience stage
    out of ``mirrored_into`` synthesizes it."""

    deployed: Mapping[str, Any]
    updated: Mapping[str, Any]


def synthesize_mirror_example(out_dir: Path) -> MirrorTemplates:
    """example/mirror_stack.py synthesized here, with the project's cdk.json context (what
    ``cdk synth`` gives an app), into two assemblies under `out_dir`: as deployed, and without
    UNMIRRORED_AUDIENCE."""
    context = {**(json.loads(CDK_JSON.read_text()).get("context") or {}), **_PATH_METADATA}

    def synthesize(assembly: str, mirrored_into: Sequence[str]) -> Mapping[str, Any]:
        app = cdk.App(outdir=str(out_dir / assembly), context=context)
        StageMirrorExampleStack(app, MIRROR_STACK_NAME, mirrored_into=mirrored_into)
        template: Mapping[str, Any] = app.synth().get_stack_by_name(MIRROR_STACK_NAME).template
        return template

    kept = [name for name in AUDIENCE_STAGE_NAMES if name != UNMIRRORED_AUDIENCE]
    return MirrorTemplates(synthesize("mirror", AUDIENCE_STAGE_NAMES), synthesize("update", kept))


class MirrorDemo(DeployedExample):
    """The mirror example's template as a ``TemplateDeployment``: hosts publish in the studio
    stage, and who runs in each audience stage is checked after every step."""

    def __init__(
        self, ivs: IvsRealtimeEmulator, dynamodb: LocalDynamoDB, templates: MirrorTemplates
    ) -> None:
        super().__init__(
            TemplateDeployment(
                templates.deployed, ivs=ivs, dynamodb=dynamodb, stack_name=MIRROR_STACK_NAME
            ),
            templates.deployed,
        )
        self.ivs = ivs
        self.updated = templates.updated
        self.studio = ""
        self.audiences: dict[str, str] = {}  # stage name -> ARN
        self.mirrored: list[str] = []  # the audience stages a mirror destination holds
        self.expected: dict[str, frozenset[str]] = {}  # stage name -> hosts running there

    # -- reading state --

    def running(self) -> dict[str, frozenset[str]]:
        """By audience stage: the hosts whose replica runs there now."""
        return {
            name: frozenset(
                r.participant_id
                for r in self.ivs.replicas(source_stage_arn=self.studio, destination_stage_arn=arn)
                if r.state == _ACTIVE and not r.stopping
            )
            for name, arn in self.audiences.items()
        }

    def expect(self, when: str, changes: Mapping[str, frozenset[str]]) -> None:
        """Check each audience stage holds what it held, with `changes`, and print it: one
        line per group of stages that hold the same hosts."""
        self.expected.update(changes)
        running = self.running()
        if running != self.expected:
            raise DemoError(f"{when}: expected {_shown(self.expected)}, found {_shown(running)}")
        groups: dict[frozenset[str], list[str]] = {}
        for name, hosts in running.items():
            groups.setdefault(hosts, []).append(name)
        for hosts, names in groups.items():
            detail(f"-> {', '.join(names)}: {', '.join(sorted(hosts)) or 'nobody'}")

    def window_seconds(self) -> int:
        """The reconnect window the mirror destinations declare."""
        [window] = {
            int(str(self.template["Resources"][lid]["Properties"][PROP_RECONNECT_WINDOW_SECONDS]))
            for lid in self.stack.logical_ids(MIRROR_RESOURCE_TYPE)
        }
        return window

    # -- steps --

    def deploy(self) -> None:
        self.stack.deploy()
        for logical_id in self.stack.logical_ids(STAGE_TYPE):
            name = str(self.template["Resources"][logical_id]["Properties"]["Name"])
            arn = self.stack.physical_ids[logical_id]
            if name == STUDIO:
                self.studio = arn
            else:
                self.audiences[name] = arn
        names = {arn: name for name, arn in self.audiences.items()}
        mirrors = self.stack.logical_ids(MIRROR_RESOURCE_TYPE)
        self.mirrored = [names[self._destination_of(logical_id)] for logical_id in mirrors]
        owners = sorted({self.path(logical_id).split("/")[0] for logical_id in mirrors})
        detail(f'stage "{STUDIO}" and {len(self.audiences)} audience stages')
        detail(
            f"StageMirror {', '.join(owners)}: {len(mirrors)} {MIRROR_RESOURCE_TYPE}, one per "
            "audience stage, created with nobody publishing"
        )
        self.expect("after deploy", dict.fromkeys(self.audiences, frozenset[str]()))

    def hosts_publish(self, hosts: Sequence[str]) -> None:
        """Each host publishes in the studio; its event starts it in every mirrored stage."""
        rules = {self._publish(host) for host in hosts}
        verb = "publishes" if len(hosts) == 1 else "publish"
        detail(f'{", ".join(hosts)} {verb} in "{STUDIO}"')
        detail(
            f"-> each host's event: rule {', '.join(sorted(rules))} invoked the reconciler, "
            f"it started {len(self.mirrored)} replication(s)"
        )
        joined = {name: self.expected[name] | set(hosts) for name in self.mirrored}
        self.expect(f"after {', '.join(hosts)} published", joined)

    def _publish(self, host: str) -> str:
        """`host` publishes; its event's one reconciler run must start it in every mirrored
        stage. Returns the rule that ran it."""
        self.ivs.publish(self.studio, host, user_id=host)
        runs = self.runs()
        if [started for _, started in runs] != [len(self.mirrored)]:
            raise DemoError(
                f"{host}'s event: reconciler runs {runs}, not one that started "
                f"{len(self.mirrored)} replication(s)"
            )
        [(rule, _)] = runs
        return rule

    def host_away_and_back(self, host: str) -> None:
        window = self.window_seconds()
        self.ivs.unpublish(self.studio, host)
        self.ivs.clock.advance(window + 1)
        detail(f"{host} stops publishing; {window + 1} s pass (reconnect window {window} s)")
        self.expect(
            f"after {host} left", {name: self.expected[name] - {host} for name in self.mirrored}
        )
        self.hosts_publish([host])

    def stop_mirroring_into(self, name: str) -> None:
        """Apply the update without `name`: CloudFormation deletes the one resource it drops."""
        removed = self._dropped_by_update()
        if self._destination_of(removed) != self.audiences[name]:
            raise DemoError(f"the update drops {removed}, which does not mirror into {name}")
        owner = self.path(removed).split("/")[0]
        detail(
            f"the updated template (mirrored_into without {name}) drops one resource: "
            f"{owner}'s {MIRROR_RESOURCE_TYPE} into {name}"
        )
        self.ivs.reset_calls()
        # The update also changes the functions' environment (their share of the IVS pace per
        # destination), which nothing here needs: only the Delete is applied.
        self.stack.remove_resource(removed)
        self.mirrored.remove(name)
        stops = self.ivs.calls.get("StopParticipantReplication", 0)
        detail(
            "CloudFormation deletes it: the handler withdrew its declaration and called "
            f"StopParticipantReplication x{stops}; the stage itself stays"
        )
        if stops != len(self.expected[name]):
            raise DemoError(f"the handler stopped {stops} replicas in {name}")
        self.expect(f"after the mirror into {name} was removed", {name: frozenset()})

    def table(self) -> None:
        rows = [("audience stage", "mirrored", "hosts running there")]
        rows += [
            (name, "yes" if name in self.mirrored else "no", ", ".join(sorted(hosts)) or "nobody")
            for name, hosts in self.running().items()
        ]
        print_table(rows)

    def _destination_of(self, logical_id: str) -> str:
        """The destination stage ARN a deployed mirror destination was created with."""
        deployment = self.stack.deployment
        if deployment is None:
            raise DemoError(f"the template declares no {MIRROR_RESOURCE_TYPE}")
        return str(deployment.resources[logical_id].properties[PROP_DESTINATION_STAGE_ARN])

    def _dropped_by_update(self) -> str:
        """The one resource the update drops: a mirror destination (and nothing is added)."""
        before, after = self.template["Resources"], self.updated["Resources"]
        dropped = [lid for lid in before if lid not in after]
        added = [lid for lid in after if lid not in before]
        if added or [before[lid]["Type"] for lid in dropped] != [MIRROR_RESOURCE_TYPE]:
            raise DemoError(f"the update drops {dropped} and adds {added}, not one mirror")
        return str(dropped[0])


def _shown(hosts_by_stage: Mapping[str, frozenset[str]]) -> str:
    return "; ".join(f"{name}: {sorted(hosts)}" for name, hosts in hosts_by_stage.items())
