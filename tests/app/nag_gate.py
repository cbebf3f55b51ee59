"""What the cdk-nag gates accept, for cdk-nag 3 (tests/app/test_cdk_nag.py) and cdk-nag 2
(tests/app/nag2_matrix.py, in its own virtual environment): the same rules over the same apps.

Every configuration's app holds the gate stacks (the library's defaults) and the README's
organisation stack (`configure`d). The gate accepts:

- no finding of AwsSolutions or Serverless anywhere;
- no finding of a compliance pack (NIST 800-53 R5, HIPAA Security, PCI DSS 3.2.1) in the
  organisation stack;
- in the other stacks, only the compliance findings a setting of `configure` removes
  (FIXED_BY_SETTING, the README's table), on the library's own resources, and each of them
  (so the README's table stays true);
- no acknowledgment of the library's that cdk-nag did not need (a finding id that no longer
  matches what the template renders would leave one unused, and its finding reported).

Imports nothing but the standard library: both virtual environments run it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

GENERAL_PACKS = ("AwsSolutions", "Serverless")
COMPLIANCE_PACKS = ("NIST.800.53.R5", "HIPAA.Security", "PCI.DSS.321")
PACKS = GENERAL_PACKS + COMPLIANCE_PACKS
# Per compliance pack: the rules it reports on a stack that keeps the library's defaults,
# each removed by a setting (README, "Compliance packs").
FIXED_BY_SETTING = {
    "NIST.800.53.R5": {"CloudWatchLogGroupEncrypted", "LambdaConcurrency", "LambdaInsideVPC"},
    "HIPAA.Security": {"CloudWatchLogGroupEncrypted", "LambdaConcurrency", "LambdaInsideVPC"},
    "PCI.DSS.321": {"CloudWatchLogGroupEncrypted", "LambdaInsideVPC"},
}
# The README's organisation stack's id in every gate app.
ORGANISATION_STACK = "Governed"
LIBRARY_PATH = "/IvsParticipantReplicationProvider/"


@dataclass(frozen=True, order=True)
class Found:
    """A finding cdk-nag reported and did not consider acknowledged: `rule` as cdk-nag names
    it (``<pack>-<rule>``, a finding id in brackets where it has one), on `path`."""

    pack: str
    rule: str
    path: str

    @property
    def suffix(self) -> str:
        """The rule's name within its pack, without a finding id."""
        return self.rule.removeprefix(f"{self.pack}-").split("[", 1)[0]


def rejected(found: Iterable[Found], *, judge_users_resources: bool = True) -> list[Found]:
    """The findings the gate does not accept (see the module docstring).

    ``judge_users_resources`` Default: True; False leaves out the compliance packs' findings
    on resources the library did not make (the README's own acknowledgment of its operators'
    inline policy is cdk-nag 3's `Validations`, which cdk-nag 2 does not read).
    """
    return sorted(f for f in found if not _accepted(f, judge_users_resources))


def _accepted(found: Found, judge_users_resources: bool) -> bool:
    if found.pack not in COMPLIANCE_PACKS:
        return False
    if not judge_users_resources and LIBRARY_PATH not in found.path:
        return True
    in_organisation_stack = f"/{ORGANISATION_STACK}/" in f"/{found.path}"
    return (
        not in_organisation_stack
        and LIBRARY_PATH in found.path
        and found.suffix in FIXED_BY_SETTING[found.pack]
    )


def fixed_by_setting_found(found: Iterable[Found]) -> dict[str, set[str]]:
    """Per compliance pack, which of its fixable rules it reported."""
    reported: dict[str, set[str]] = {pack: set() for pack in COMPLIANCE_PACKS}
    for f in found:
        if f.pack in COMPLIANCE_PACKS and f.suffix in FIXED_BY_SETTING[f.pack]:
            reported[f.pack].add(f.suffix)
    return reported
