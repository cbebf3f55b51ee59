"""`ReplicationProvider.configure`: one order-independent API tunes the shared functions, log
groups, registry and dead-letter queue, before or after the replications exist; every invalid
value is refused naming the argument and the allowed form; the read-only properties expose
what the stack has."""

from __future__ import annotations

import json
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk.assertions import Annotations, Match, Template

from ivs_replication import ReplicationProvider, ReplicationSweep, WhenNotPublishing
from ivs_replication.asset import bundle_path
from ivs_replication.tuning import RETENTION_DAYS, VPC_ACTIONS
from ivs_replication_handler import contract as c
from tests.construct.helpers import NO_BUNDLING, new_stack, replicate

PRIVATE_SUBNETS = ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"]
PUBLIC_SUBNETS = ["subnet-0bbbbbbbbbbbbbbb1", "subnet-0bbbbbbbbbbbbbbb2"]


def shared_vpc(stack: cdk.Stack) -> ec2.IVpc:
    """An organisation's VPC, imported: private subnets with a route out, public ones."""
    return ec2.Vpc.from_vpc_attributes(
        stack,
        "SharedVpc",
        vpc_id="vpc-0123456789abcdef0",
        availability_zones=["us-east-1a", "us-east-1b"],
        private_subnet_ids=PRIVATE_SUBNETS,
        public_subnet_ids=PUBLIC_SUBNETS,
    )


@pytest.fixture(scope="module")
def rebuilt_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bundle as `hatch_build.py --out` makes one after a pin changed: other bytes."""
    path = tmp_path_factory.mktemp("bundle") / "handler.zip"
    shutil.copy(bundle_path(), path)
    with zipfile.ZipFile(path, "a") as bundle:
        bundle.writestr("PATCHED", "a pin was changed")
    return path


def everything(stack: cdk.Stack, bundle: Path) -> dict[str, Any]:
    keys = {
        name: kms.Key(stack, name, enable_key_rotation=True)
        for name in ("LogKey", "RegistryKey", "QueueKey")
    }
    return {
        "memory_size": 512,
        "log_retention": logs.RetentionDays.ONE_YEAR,
        "log_encryption_key": keys["LogKey"],
        "registry_encryption_key": keys["RegistryKey"],
        "dead_letter_encryption_key": keys["QueueKey"],
        "reserved_concurrent_executions": 10,
        "architecture": lambda_.Architecture.X86_64,
        "runtime": lambda_.Runtime.PYTHON_3_12,
        "vpc": shared_vpc(stack),
        "bundle": bundle,
    }


def declare(stack: cdk.Stack) -> None:
    replicate(stack, when_not_publishing=WhenNotPublishing.follow())
    ReplicationSweep(stack, "Sweep")


def configured(order: str, bundle: Path) -> cdk.Stack:
    stack = new_stack()
    settings = everything(stack, bundle)
    if order == "before":
        ReplicationProvider.of(stack).configure(**settings)
        declare(stack)
    else:
        declare(stack)
        ReplicationProvider.of(stack).configure(**settings)
    return stack


@pytest.fixture(scope="module")
def tuned(rebuilt_bundle: Path) -> dict[str, Any]:
    return Template.from_stack(configured("after", rebuilt_bundle)).to_json()


def resources(template: dict[str, Any], type_name: str) -> dict[str, dict[str, Any]]:
    return {
        lid: r.get("Properties", {})
        for lid, r in template["Resources"].items()
        if r["Type"] == type_name
    }


def functions_by_role(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    named = {c.ON_EVENT_ENTRY_POINT: "handler", c.RECONCILER_ENTRY_POINT: "reconciler"}
    return {
        named.get(props.get("Handler"), "framework"): props
        for props in resources(template, "AWS::Lambda::Function").values()
    }


def test_configure_after_the_replications_gives_the_template_configure_before_gives(
    rebuilt_bundle: Path,
) -> None:
    """Order-independent: applied to what exists, and to what is created afterwards (a
    policy's statements may come in another order, which means the same)."""
    before = Template.from_stack(configured("before", rebuilt_bundle)).to_json()
    after = Template.from_stack(configured("after", rebuilt_bundle)).to_json()
    assert unordered_statements(before) == unordered_statements(after)


def unordered_statements(template: dict[str, Any]) -> str:
    for props in resources(template, "AWS::IAM::Policy").values():
        document = props["PolicyDocument"]
        document["Statement"] = sorted(document["Statement"], key=json.dumps)
    return json.dumps(template, sort_keys=True)


def test_the_python_functions_take_every_function_setting(tuned: dict[str, Any]) -> None:
    functions = functions_by_role(tuned)
    for name in ("handler", "reconciler"):
        props = functions[name]
        assert props["MemorySize"] == 512, name
        assert props["Runtime"] == "python3.12", name
        assert props["Architectures"] == ["x86_64"], name
        assert props["ReservedConcurrentExecutions"] == 10, name
        assert props["VpcConfig"]["SubnetIds"] == PRIVATE_SUBNETS, name
    # The framework's Node.js function: concurrency and network, its own runtime and memory.
    framework = functions["framework"]
    assert framework["ReservedConcurrentExecutions"] == 10
    assert framework["VpcConfig"] == functions["handler"]["VpcConfig"]
    assert framework["MemorySize"] == 128
    assert framework["Runtime"].startswith("nodejs")


def test_the_default_security_group_lets_only_https_out(tuned: dict[str, Any]) -> None:
    [(group_id, group)] = resources(tuned, "AWS::EC2::SecurityGroup").items()
    assert group["SecurityGroupEgress"] == [
        {
            "CidrIp": "0.0.0.0/0",
            "Description": group["SecurityGroupEgress"][0]["Description"],
            "FromPort": 443,
            "IpProtocol": "tcp",
            "ToPort": 443,
        }
    ]
    assert "SecurityGroupIngress" not in group
    for props in functions_by_role(tuned).values():
        assert props["VpcConfig"]["SecurityGroupIds"] == [{"Fn::GetAtt": [group_id, "GroupId"]}]


def test_each_role_may_attach_network_interfaces_and_each_function_waits_for_it(
    tuned: dict[str, Any],
) -> None:
    policies = resources(tuned, "AWS::IAM::Policy")
    with_eni = [
        lid
        for lid, props in policies.items()
        for s in props["PolicyDocument"]["Statement"]
        if s["Action"] == list(VPC_ACTIONS) or s["Action"] == sorted(VPC_ACTIONS)
    ]
    assert len(with_eni) == 3
    for function in tuned["Resources"].values():
        if function["Type"] == "AWS::Lambda::Function":
            assert function["DependsOn"][0] in with_eni


def test_log_groups_take_the_retention_and_the_key_whose_policy_lets_logs_use_it(
    tuned: dict[str, Any],
) -> None:
    groups = resources(tuned, "AWS::Logs::LogGroup")
    keys = resources(tuned, "AWS::KMS::Key")
    log_key = next(lid for lid in keys if lid.startswith("LogKey"))
    assert len(groups) == 3
    for props in groups.values():
        assert props["RetentionInDays"] == 365
        assert props["KmsKeyId"] == {"Fn::GetAtt": [log_key, "Arn"]}
    statements = keys[log_key]["KeyPolicy"]["Statement"]
    [logs_statement] = [s for s in statements if "Service" in s.get("Principal", {})]
    assert "logs." in json.dumps(logs_statement["Principal"])
    assert "kms:EncryptionContext:aws:logs:arn" in logs_statement["Condition"]["ArnLike"]


def test_the_registry_and_the_queue_take_their_keys_used_only_through_their_service(
    tuned: dict[str, Any],
) -> None:
    keys = resources(tuned, "AWS::KMS::Key")
    registry_key = next(lid for lid in keys if lid.startswith("RegistryKey"))
    queue_key = next(lid for lid in keys if lid.startswith("QueueKey"))
    [table] = resources(tuned, "AWS::DynamoDB::Table").values()
    assert table["SSESpecification"] == {
        "SSEEnabled": True,
        "SSEType": "KMS",
        "KMSMasterKeyId": {"Fn::GetAtt": [registry_key, "Arn"]},
    }
    [queue] = resources(tuned, "AWS::SQS::Queue").values()
    assert queue["KmsMasterKeyId"] == {"Fn::GetAtt": [queue_key, "Arn"]}
    assert "SqsManagedSseEnabled" not in queue
    # EventBridge rules of this account may put undeliverable events into the queue.
    [events_statement] = [
        s
        for s in keys[queue_key]["KeyPolicy"]["Statement"]
        if s.get("Principal") == {"Service": "events.amazonaws.com"}
    ]
    assert sorted(events_statement["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey"]
    # Each role uses a key through its service only.
    key_statements = [
        (s["Resource"]["Fn::GetAtt"][0], s)
        for props in resources(tuned, "AWS::IAM::Policy").values()
        for s in props["PolicyDocument"]["Statement"]
        if any(a.startswith("kms:") for a in s["Action"])
    ]
    by_key: dict[str, list[str]] = {}
    for key, statement in key_statements:
        via = statement["Condition"]["StringEquals"]["kms:ViaService"]
        by_key.setdefault(key, []).append(json.dumps(via))
    assert len(by_key[registry_key]) == 2  # the handler writes, the reconciler reads
    assert all("dynamodb." in via for via in by_key[registry_key])
    assert len(by_key[queue_key]) == 1  # the reconciler's on-failure destination
    assert all("sqs." in via for via in by_key[queue_key])


def test_a_rebuilt_bundle_is_the_only_one_staged(rebuilt_bundle: Path, tmp_path: Path) -> None:
    """Configured after the functions exist, it still replaces the prebuilt one: the prebuilt
    bundle is neither referenced nor staged nor uploaded."""
    app = cdk.App(outdir=str(tmp_path), context=NO_BUNDLING)
    stack = cdk.Stack(app, "Live")
    declare(stack)
    ReplicationProvider.of(stack).configure(bundle=str(rebuilt_bundle))
    app.synth()

    manifest = json.loads((tmp_path / "Live.assets.json").read_text())
    zips = [f for f in manifest["files"].values() if f["source"]["path"].endswith(".zip")]
    assert len(zips) == 1
    staged = tmp_path / zips[0]["source"]["path"]
    assert staged.read_bytes() == rebuilt_bundle.read_bytes()
    template = json.loads((tmp_path / "Live.template.json").read_text())
    [destination] = zips[0]["destinations"].values()
    for name, props in functions_by_role(template).items():
        if name != "framework":
            assert props["Code"]["S3Key"] == destination["objectKey"]


def test_without_configure_the_defaults_hold() -> None:
    stack = new_stack()
    declare(stack)
    template = Template.from_stack(stack).to_json()
    for name, props in functions_by_role(template).items():
        assert "VpcConfig" not in props, name
        assert "ReservedConcurrentExecutions" not in props, name
        if name != "framework":
            assert props["MemorySize"] == 256
            assert props["Runtime"] == "python3.14"
            assert props["Architectures"] == ["arm64"]
    for props in resources(template, "AWS::Logs::LogGroup").values():
        assert props["RetentionInDays"] == 30
        assert "KmsKeyId" not in props
    assert not resources(template, "AWS::EC2::SecurityGroup")


def test_plain_values_may_change_and_the_last_one_wins() -> None:
    stack = new_stack()
    provider = ReplicationProvider.of(stack)
    provider.configure(memory_size=512, log_retention=logs.RetentionDays.ONE_YEAR)
    provider.configure(memory_size=1024)  # retention kept
    template = Template.from_stack(stack).to_json()
    assert functions_by_role(template)["handler"]["MemorySize"] == 1024
    assert {p["RetentionInDays"] for p in resources(template, "AWS::Logs::LogGroup").values()} == {
        365
    }


def test_the_retention_table_is_what_cdk_writes_for_each_retention() -> None:
    stack = new_stack()
    groups = {r.name: logs.LogGroup(stack, r.name, retention=r) for r in logs.RetentionDays}
    written = {
        name: stack.resolve(group.node.default_child.retention_in_days)  # type: ignore[union-attr]
        for name, group in groups.items()
    }
    assert written == RETENTION_DAYS


def test_an_infinite_retention_keeps_the_logs_forever() -> None:
    stack = new_stack()
    ReplicationProvider.of(stack).configure(log_retention=logs.RetentionDays.INFINITE)
    groups = resources(Template.from_stack(stack).to_json(), "AWS::Logs::LogGroup")
    assert len(groups) == 2
    assert all("RetentionInDays" not in props for props in groups.values())


def _key(stack: cdk.Stack, name: str) -> kms.Key:
    return kms.Key(stack, name)


INVALID: list[tuple[str, Callable[[cdk.Stack], dict[str, Any]], str]] = [
    ("memory", lambda s: {"memory_size": 64}, "Invalid memory_size: 64 is out of range"),
    ("memory-bool", lambda s: {"memory_size": True}, "Invalid memory_size"),
    (
        "concurrency",
        lambda s: {"reserved_concurrent_executions": 0},
        "Invalid reserved_concurrent_executions",
    ),
    (
        "old-python",
        lambda s: {"runtime": lambda_.Runtime.PYTHON_3_10},
        "Invalid runtime: python3.10 is not a runtime the bundle runs on. Expected a Python "
        "Lambda runtime the bundle runs on: lambda_.Runtime.PYTHON_3_11",
    ),
    ("node", lambda s: {"runtime": lambda_.Runtime.NODEJS_22_X}, "Invalid runtime: nodejs22.x"),
    ("architecture", lambda s: {"architecture": "arm64"}, "Invalid architecture"),
    ("retention", lambda s: {"log_retention": 30}, "Invalid log_retention"),
    (
        "subnets-without-vpc",
        lambda s: {
            "vpc_subnets": ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)
        },
        "Invalid vpc_subnets: it is given without a vpc",
    ),
    (
        "public-subnets",
        lambda s: {
            "vpc": shared_vpc(s),
            "vpc_subnets": ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC),
        },
        "Invalid vpc_subnets: it selects public subnets",
    ),
    (
        "no-groups",
        lambda s: {"vpc": shared_vpc(s), "security_groups": []},
        "Invalid security_groups",
    ),
    (
        "bundle-missing",
        lambda s: {"bundle": "/nonexistent/handler.zip"},
        "Invalid bundle: '/nonexistent/handler.zip' is not a file",
    ),
]


@pytest.mark.parametrize(
    ("given", "message"), [(g, m) for _, g, m in INVALID], ids=[i for i, _, _ in INVALID]
)
def test_invalid_settings_are_refused_naming_the_argument_and_the_allowed_form(
    given: Callable[[cdk.Stack], dict[str, Any]], message: str
) -> None:
    stack = new_stack()
    declare(stack)
    provider = ReplicationProvider.of(stack)
    with pytest.raises(ValueError, match="Expected") as refused:
        provider.configure(**given(stack))
    assert str(refused.value).startswith(message)
    # Nothing was applied.
    assert "VpcConfig" not in json.dumps(Template.from_stack(stack).to_json())


def test_a_zip_without_the_handler_package_is_no_bundle(tmp_path: Path) -> None:
    stranger = tmp_path / "other.zip"
    with zipfile.ZipFile(stranger, "w") as archive:
        archive.writestr("index.py", "")
    with pytest.raises(
        ValueError, match=r"Invalid bundle: .* has no ivs_replication_handler/handler.py"
    ):
        ReplicationProvider.of(new_stack()).configure(bundle=stranger)


def test_a_set_once_setting_may_be_repeated_but_not_changed() -> None:
    stack = new_stack()
    provider = ReplicationProvider.of(stack)
    first = _key(stack, "First")
    provider.configure(log_encryption_key=first)
    provider.configure(log_encryption_key=first)  # the same: fine
    with pytest.raises(
        ValueError,
        match="Invalid log_encryption_key: the stack's resources already use another one",
    ):
        provider.configure(log_encryption_key=_key(stack, "Second"))


def test_an_imported_key_warns_what_its_policy_must_allow() -> None:
    stack = new_stack()
    imported = kms.Key.from_key_arn(
        stack,
        "Imported",
        "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555",
    )
    ReplicationProvider.of(stack).configure(log_encryption_key=imported)
    warnings = Annotations.from_stack(stack).find_warning(
        "*", Match.string_like_regexp("log_encryption_key .* must allow logs\\.")
    )
    assert len(warnings) == 1


def test_the_provider_exposes_its_functions_table_queue_and_rule() -> None:
    stack = new_stack()
    provider = ReplicationProvider.of(stack)
    assert provider.handler_function is provider.on_event_function
    assert provider.reconciler_function is None
    assert provider.dead_letter_queue is None
    assert provider.published_rule is None

    declare(stack)
    template = Template.from_stack(stack)
    reconciler = provider.reconciler_function
    assert reconciler is not None
    assert stack.resolve(reconciler.function_name)["Ref"] in template.find_resources(
        "AWS::Lambda::Function", {"Properties": {"Handler": c.RECONCILER_ENTRY_POINT}}
    )
    # The registry is in every stack, follow mode or not.
    assert stack.resolve(provider.registry_table.table_name)["Ref"] in template.find_resources(
        "AWS::DynamoDB::Table"
    )

    assert provider.dead_letter_queue is not None
    assert provider.published_rule is not None
    assert provider.published_rule.event_pattern is not None
