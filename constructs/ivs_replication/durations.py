"""A `Duration` property as a whole number of seconds or minutes: the one conversion every
construct of the library uses (the reconnect window, the wait for the publisher, the sweep's
interval), with the same errors."""

from __future__ import annotations

from typing import Literal

from aws_cdk import Duration, Token

from ivs_replication_handler import contract as c

Unit = Literal["seconds", "minutes"]
_EXAMPLES: dict[Unit, str] = {"seconds": "Duration.seconds(30)", "minutes": "Duration.minutes(5)"}


def whole(prop: str, duration: object, unit: Unit, form: str) -> int:
    """`duration` in whole `unit`s; `form` (the allowed values, with units) ends every error.

    :raises InvalidPropertyError: naming `prop`, if `duration` is no `Duration`, a token, or not
        a whole number of `unit`s (the range is the caller's rule).
    """
    amount = whole_or_token(prop, duration, unit, form)
    if isinstance(amount, str):
        raise c.InvalidPropertyError(
            prop, "the value is a token, unknown until deploy", f"a concrete Duration: {form}"
        )
    return amount


def whole_or_token(prop: str, duration: object, unit: Unit, form: str) -> int | str:
    """As `whole`, but a token (resolved at deploy) is returned as its string, for the handler
    to check then."""
    if not isinstance(duration, Duration):
        raise c.InvalidPropertyError(
            prop,
            f"a {type(duration).__name__} was given ({c.echo(duration)})",
            f"a Duration such as {_EXAMPLES[unit]}: {form}",
        )
    amount = (
        duration.to_seconds(integral=False)
        if unit == "seconds"
        else duration.to_minutes(integral=False)
    )
    if Token.is_unresolved(amount):
        return Token.as_string(amount)
    if not float(amount).is_integer():
        raise c.InvalidPropertyError(
            prop, f"{duration.to_human_string()} is not whole {unit}", form
        )
    return int(amount)
