"""`ReplicationSweep`: periodically re-check every follow-mode replication of the stack."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from constructs import Construct

from ivs_replication_handler import contract as c

from .durations import whole
from .follow import FollowInfrastructure, sweep_input

PROP = "interval"
DEFAULT_INTERVAL_MINUTES = 5
MAX_INTERVAL_MINUTES = 24 * 60
INTERVAL_FORM = f"a whole number of minutes from 1 minute to 1 day ({MAX_INTERVAL_MINUTES} minutes)"


class ReplicationSweep(Construct):
    """Every `interval`, the reconciler goes through every follow-mode replication the stack
    declares and starts those whose publisher publishes but whose replication is not running.

    A safety net: EventBridge delivers IVS's events on a best-effort basis, so a missed
    "Participant Published" event is caught up within one interval. One schedule rule with a
    constant input, whatever the number of replications (they are read from the registry).
    At most one per stack; it adds follow mode's shared infrastructure if the stack has none.

    :param interval: how often to sweep, whole minutes from 1 minute to 1 day.
        Default: ``Duration.minutes(5)``.
    :raises ValueError: if `interval` is a token, not whole minutes or out of range, or the
        stack already has a ReplicationSweep.
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, interval: Duration | None = None
    ) -> None:
        super().__init__(scope, construct_id)
        minutes = _interval_minutes(interval)
        follow = FollowInfrastructure.of(self)
        follow.claim_sweep(self)
        self.interval = Duration.minutes(minutes)
        self.rule = events.CfnRule(
            self,
            "Schedule",
            description="Starts the follow-mode IVS participant replications of this stack "
            "whose publisher publishes, in case an event was missed",
            schedule_expression=events.Schedule.rate(self.interval).expression_string,
            state="ENABLED",
            targets=[follow.reconciler_target(sweep_input())],
        )
        # A sweep triggered before the permission exists would be refused.
        self.rule.add_resource_dependency(follow.invoke_permission)


def _interval_minutes(interval: Duration | None) -> int:
    if interval is None:
        return DEFAULT_INTERVAL_MINUTES
    minutes = whole(PROP, interval, "minutes", INTERVAL_FORM)
    if not 1 <= minutes <= MAX_INTERVAL_MINUTES:
        raise c.InvalidPropertyError(
            PROP, f"{interval.to_human_string()} is out of range", INTERVAL_FORM
        )
    return minutes
