"""`WhenNotPublishing`: what deploying a replication does while its publisher is not publishing."""

from __future__ import annotations

from aws_cdk import Duration

from ivs_replication_handler import contract as c

from .durations import whole

PROP = "when_not_publishing"
# How a user writes a mode, for messages about a value that is not one.
FORM = (
    "WhenNotPublishing.fail(), WhenNotPublishing.wait_up_to(duration) or WhenNotPublishing.follow()"
)


class WhenNotPublishing:
    """What a deploy does when IVS refuses to start a replication because the participant is
    not publishing (IVS can only replicate a participant while it publishes).

    Build one with a factory method: ``follow()`` (the default), ``wait_up_to(duration)`` or
    ``fail()``.

    On an Update and on CloudFormation's rollback every mode follows one rule: a request fails
    because the publisher is away only if the replication was ACTIVE when the request began.
    When nothing was running, the Update (or rollback, or continue-update-rollback) applies
    the declaration and succeeds with nothing running, so no stack reaches
    UPDATE_ROLLBACK_FAILED or DELETE_FAILED because a publisher is away.
    """

    __slots__ = ("_mode", "_wait_seconds")

    def __init__(self, mode: str, wait_seconds: int = 0) -> None:
        """Prefer the factory methods, which validate their argument."""
        self._mode = c.check_when_not_publishing(PROP, mode)
        if mode == c.MODE_WAIT:
            self._wait_seconds = c.check_wait_seconds(PROP, wait_seconds)
        elif wait_seconds != 0:
            raise c.InvalidPropertyError(
                PROP, f"a wait of {c.echo(wait_seconds)} s was given for {mode}", FORM
            )
        else:
            self._wait_seconds = 0

    @staticmethod
    def fail() -> WhenNotPublishing:
        """A Create fails, with a message naming the participant, the source stage and what
        to do (start publishing, then deploy again); an Update fails only if it would end a
        running replication. A replication whose publisher leaves beyond its reconnect window
        stays ended until a deploy changes it. Synth warns
        (``ivs-replication:fail-with-new-source-stage``) when the source stage is created in
        the same stack: nobody can publish in it before the first deploy."""
        return WhenNotPublishing(c.MODE_FAIL)

    @staticmethod
    def wait_up_to(duration: Duration) -> WhenNotPublishing:
        """The deploy waits for the participant to publish, retrying for at most `duration`,
        then fails as with ``fail()``. The stack's handler gets a longer Lambda timeout and
        the custom resource a longer ServiceTimeout to match.

        :param duration: whole seconds, from 1 second to 9 minutes; must be concrete (not a
            token), because the handler's timeout is sized from it at synth.
        :raises ValueError: if `duration` is a token, not whole seconds, or out of range.
        """
        return WhenNotPublishing(c.MODE_WAIT, _wait_seconds(duration))

    @staticmethod
    def follow() -> WhenNotPublishing:
        """The deploy succeeds at once, and the replication starts whenever the participant
        publishes, now or later, again and again, for as long as the stack declares it: a
        reconciler Lambda function, triggered by IVS's "Participant Published" events, starts
        it. The first follow-mode replication of a stack adds the reconciler, a DynamoDB table
        recording the declarations, a dead-letter queue and one EventBridge rule for every
        followed publisher of the stack. This is the default: a declaration holds whatever the
        publisher does."""
        return WhenNotPublishing(c.MODE_FOLLOW)

    @property
    def mode(self) -> str:
        """``"FAIL"``, ``"WAIT"`` or ``"FOLLOW"``."""
        return self._mode

    @property
    def wait_seconds(self) -> int:
        """How long a deploy waits for the publisher, in seconds; 0 unless the mode is WAIT."""
        return self._wait_seconds

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, WhenNotPublishing):
            return NotImplemented
        return (self._mode, self._wait_seconds) == (other._mode, other._wait_seconds)

    def __hash__(self) -> int:
        return hash((self._mode, self._wait_seconds))

    def __repr__(self) -> str:
        if self._mode == c.MODE_WAIT:
            return f"WhenNotPublishing.wait_up_to(Duration.seconds({self._wait_seconds}))"
        return f"WhenNotPublishing.{self._mode.lower()}()"


def checked_mode(value: object) -> WhenNotPublishing:
    """`value` if it is a WhenNotPublishing; the default (follow) for None; else a clear error."""
    if value is None:
        return WhenNotPublishing.follow()
    if not isinstance(value, WhenNotPublishing):
        raise c.InvalidPropertyError(PROP, f"a {type(value).__name__} was given", FORM)
    return value


def _wait_seconds(duration: Duration) -> int:
    # Concrete only: the handler's Lambda timeout is sized from the wait at synth.
    return c.check_wait_seconds(PROP, whole(PROP, duration, "seconds", c.WAIT_SECONDS_FORM))
