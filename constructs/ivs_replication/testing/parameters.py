"""A template's parameters, given values the way CloudFormation gives them at deploy time.

Each parameter takes the value the caller passes, else its ``Default``; one with neither is an
error, as is a value its ``AllowedValues``, ``AllowedPattern``, ``MinLength``/``MaxLength``,
``MinValue``/``MaxValue`` or ``Number`` type refuses, and a value for a parameter the template
does not declare. ``CommaDelimitedList`` and ``List<...>`` parameters are lists.

A parameter of an SSM type (``AWS::SSM::Parameter::Value<...>``) names a Parameter Store
parameter; locally it is read from ``ssm_parameters``. CDK's ``BootstrapVersion`` parameter
(``/cdk-bootstrap/<qualifier>/version``) reads ``LOCAL_BOOTSTRAP_VERSION`` unless
``ssm_parameters`` names it: a local environment counts as bootstrapped by the current CDK CLI,
so the template's ``CheckBootstrapVersion`` rule passes as it does in a bootstrapped account.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final, NoReturn

from ivs_replication.testing.intrinsics import ParameterValue

LOCAL_BOOTSTRAP_VERSION: Final = "33"
"""The version `cdk bootstrap` of the pinned CDK CLI (2.1148) writes to Parameter Store."""

SSM_TYPE_PREFIX: Final = "AWS::SSM::Parameter::Value<"
_BOOTSTRAP_VERSION_NAME: Final = re.compile(r"/cdk-bootstrap/[^/]+/version")


class ParameterValueError(ValueError):
    """A template parameter has no value, a value its constraints refuse, or is not declared."""


def template_parameters(
    template: Mapping[str, Any],
    given: Mapping[str, str],
    ssm_parameters: Mapping[str, str],
) -> dict[str, ParameterValue]:
    """Every declared parameter's value: ``given`` (parameter name -> value, as
    CloudFormation's ``ParameterValue``), else its ``Default``. Raises ``ParameterValueError``."""
    declared = template.get("Parameters") or {}
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise ParameterValueError(
            f"Parameters {unknown} are not declared by the template (it declares: "
            f"{', '.join(declared) or 'none'})"
        )
    return {
        name: _value(name, declaration, given.get(name), ssm_parameters)
        for name, declaration in declared.items()
    }


def _value(
    name: str,
    declaration: Mapping[str, Any],
    given: str | None,
    ssm_parameters: Mapping[str, str],
) -> ParameterValue:
    raw = given if given is not None else declaration.get("Default")
    if raw is None:
        raise ParameterValueError(
            f"Parameter {name} has no Default and no value was given: pass "
            f"parameters={{{name!r}: ...}}"
        )
    text = _as_text(raw)
    kind = str(declaration.get("Type", "String"))
    if kind.startswith(SSM_TYPE_PREFIX):
        text = _from_parameter_store(name, text, ssm_parameters)
        kind = kind.removeprefix(SSM_TYPE_PREFIX).removesuffix(">")
    is_list = kind == "CommaDelimitedList" or kind.startswith("List<")
    items = [item.strip() for item in text.split(",")] if is_list else [text]
    for item in items:
        _check(name, declaration, kind, item)
    return items if is_list else text


def _as_text(raw: object) -> str:
    """A value as CloudFormation holds it: a string (a list default is comma-joined)."""
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, list):
        return ",".join(_as_text(item) for item in raw)
    return str(raw)


def _from_parameter_store(name: str, key: str, ssm_parameters: Mapping[str, str]) -> str:
    if key in ssm_parameters:
        return ssm_parameters[key]
    if _BOOTSTRAP_VERSION_NAME.fullmatch(key):
        return LOCAL_BOOTSTRAP_VERSION
    raise ParameterValueError(
        f"Parameter {name} reads the SSM parameter {key}, which has no local value: pass "
        f"ssm_parameters={{{key!r}: ...}}"
    )


def _check(name: str, declaration: Mapping[str, Any], kind: str, value: str) -> None:
    """Raise ``ParameterValueError`` when a constraint of the declaration refuses ``value``."""
    allowed = declaration.get("AllowedValues")
    if isinstance(allowed, list) and value not in [_as_text(a) for a in allowed]:
        _refuse(name, value, f"is not one of its AllowedValues {allowed}")
    pattern = declaration.get("AllowedPattern")
    if isinstance(pattern, str) and not re.fullmatch(pattern, value):
        _refuse(name, value, f"does not match its AllowedPattern {pattern!r}")
    if "MinLength" in declaration and len(value) < int(declaration["MinLength"]):
        _refuse(name, value, f"is shorter than its MinLength {declaration['MinLength']}")
    if "MaxLength" in declaration and len(value) > int(declaration["MaxLength"]):
        _refuse(name, value, f"is longer than its MaxLength {declaration['MaxLength']}")
    if kind in ("Number", "List<Number>"):
        _check_number(name, declaration, value)


def _check_number(name: str, declaration: Mapping[str, Any], value: str) -> None:
    try:
        number = float(value)
    except ValueError:
        _refuse(name, value, "is not a number")
    if "MinValue" in declaration and number < float(declaration["MinValue"]):
        _refuse(name, value, f"is below its MinValue {declaration['MinValue']}")
    if "MaxValue" in declaration and number > float(declaration["MaxValue"]):
        _refuse(name, value, f"is above its MaxValue {declaration['MaxValue']}")


def _refuse(name: str, value: str, why: str) -> NoReturn:
    raise ParameterValueError(f"Parameter {name}: the value {value!r} {why}")
