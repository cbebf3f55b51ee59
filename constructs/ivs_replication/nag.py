"""Why a cdk-nag finding on the library's resources is intended, recorded for cdk-nag 3 and
cdk-nag 2 alike, without importing cdk-nag (an application picks its own version).

- cdk-nag 3 (validation plugins) reads ``Validations.of(scope).acknowledge(...)``: an id
  ``<pack>::<rule>`` or ``<pack>::<rule>[<finding>]``, on the resource or an ancestor.
- cdk-nag 2 (aspects) reads the resource's own ``cdk_nag`` metadata, as ``NagSuppressions``
  writes it: ``{"rules_to_suppress": [{"id": <rule>, "reason": ..., "applies_to": [<finding>]}]}``.

A finding id names what the rule saw, as cdk-nag renders it (``flatten``): an IAM5 finding on
a policy is ``Resource::<the statement's resource>``, whose text depends on the stack's
environment and feature flags (a token ``<AWS::Region>`` or a literal ``us-east-1``,
``<AWS::Partition>`` or ``aws-cn``). So every finding id here is computed from the value the
template will hold, never written out by hand.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aws_cdk import Acknowledgment, CfnResource, Stack, Validations
from constructs import IConstruct

from .reads import default_child_of

# The packs' names, as cdk-nag prefixes their rules.
AWS_SOLUTIONS = "AwsSolutions"
SERVERLESS = "Serverless"
NIST_800_53_R5 = "NIST.800.53.R5"
HIPAA_SECURITY = "HIPAA.Security"
PCI_DSS_321 = "PCI.DSS.321"
# The compliance packs whose findings the library acknowledges or removes by a setting.
COMPLIANCE_PACKS = (NIST_800_53_R5, HIPAA_SECURITY, PCI_DSS_321)
_V2_KEY = "cdk_nag"
# cdk-nag 2 stores a reason with characters past Latin-1 base64-encoded (NagSuppressionHelper).
_LATIN_1_MAX = 255


@dataclass(frozen=True)
class Finding:
    """One intended cdk-nag finding: `rule` of `pack` (e.g. ``AwsSolutions-IAM5``), for one
    finding of it (`applies_to`, e.g. ``Resource::*``; Default: None, the whole rule), and why.
    """

    pack: str
    rule: str
    reason: str
    applies_to: str | None = None

    @property
    def acknowledgment_id(self) -> str:
        """The id cdk-nag 3 reads."""
        finding = f"[{self.applies_to}]" if self.applies_to is not None else ""
        return f"{self.pack}::{self.rule}{finding}"

    def suppression(self) -> dict[str, Any]:
        """The entry cdk-nag 2 reads, as ``NagSuppressions.addResourceSuppressions`` writes
        it."""
        entry: dict[str, Any] = {"id": self.rule}
        if self.applies_to is not None:
            entry["applies_to"] = [self.applies_to]
        if any(ord(character) > _LATIN_1_MAX for character in self.reason):
            entry["is_reason_encoded"] = True
            return {"reason": base64.b64encode(self.reason.encode()).decode(), **entry}
        return {"reason": self.reason, **entry}


def finding(rule: str, reason: str, *, pack: str = AWS_SOLUTIONS) -> Finding:
    """A finding of `rule` (``AwsSolutions-IAM5`` for the whole rule, or
    ``AwsSolutions-IAM5[Resource::*]`` for one finding of it) of `pack` (Default:
    ``AwsSolutions``)."""
    name, bracket, rest = rule.partition("[")
    return Finding(pack, name, reason, rest[:-1] if bracket else None)


def rule_of(pack: str, suffix: str) -> str:
    """The rule's id as cdk-nag names it: ``<pack>-<suffix>``."""
    return f"{pack}-{suffix}"


def in_packs(packs: tuple[str, ...], suffix: str, reason: str) -> list[Finding]:
    """The same rule (`suffix`, e.g. ``LambdaDLQ``) in each of `packs`, for one reason."""
    return [Finding(pack, rule_of(pack, suffix), reason) for pack in packs]


def acknowledge_all(scope: IConstruct, *findings: Finding) -> None:
    """Acknowledge `findings` on `scope` (a CloudFormation resource, or the construct whose
    default child is one) for cdk-nag 3 and cdk-nag 2.

    :raises TypeError: if `scope` is neither.
    """
    resource = scope if isinstance(scope, CfnResource) else default_child_of(scope)
    if not isinstance(resource, CfnResource):
        raise TypeError(f"{scope.node.path} has no CloudFormation resource to acknowledge on")
    Validations.of(resource).acknowledge(
        *(Acknowledgment(id=f.acknowledgment_id, reason=f.reason) for f in findings)
    )
    _suppress_for_v2(resource, findings)


def _suppress_for_v2(resource: CfnResource, findings: tuple[Finding, ...]) -> None:
    # What is there already (the application's NagSuppressions, earlier acknowledgments) is
    # kept, as NagSuppressions keeps it: the metadata holds one list per resource.
    existing = resource.get_metadata(_V2_KEY)
    written = list(existing.get("rules_to_suppress", [])) if existing else []
    for found in findings:
        entry = found.suppression()
        if entry not in written:
            written.append(entry)
    resource.add_metadata(_V2_KEY, {"rules_to_suppress": written})


def resource_finding(scope: IConstruct, value: object) -> str:
    """The IAM5 finding id of a policy statement's resource `value` (a string or token), as
    cdk-nag renders it once the template is written: ``Resource::<text>``."""
    return f"Resource::{flatten(Stack.of(scope).resolve(value))}"


def flatten(value: object) -> str:
    """cdk-nag's ``flattenCfnReference`` (the same in versions 2 and 3): intrinsics turned
    into one string, ``{"Ref": X}`` as ``<X>``, ``{"Fn::GetAtt": [X, Y]}`` as ``<X.Y>``,
    ``${X}`` as ``<X>``, joins joined; anything else as compact JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.replace("${", "<").replace("}", ">")
    if isinstance(value, dict):
        # In cdk-nag's order, and as it tests them: the first key present with a truthy value.
        for key, render in _INTRINSICS.items():
            if value.get(key):
                return render(value[key])
    return json.dumps(value, separators=(",", ":"))  # JSON.stringify's compact form


_INTRINSICS: dict[str, Callable[[Any], str]] = {
    "Fn::Join": lambda join: str(join[0]).join(flatten(item) for item in join[1]),
    "Fn::Sub": flatten,
    "Fn::GetAtt": lambda get_att: f"<{flatten(get_att[0])}.{flatten(get_att[1])}>",
    "Fn::ImportValue": flatten,
    "Ref": lambda name: f"<{flatten(name)}>",
}
