"""`ReplicationAlarms`: CloudWatch alarms (and a dashboard) for a stack's replications."""

from __future__ import annotations

from collections.abc import Sequence

import jsii
from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_sns as sns
from constructs import Construct, IValidation

from ivs_replication_handler import contract as c

from .follow import FollowInfrastructure
from .metrics import PERIOD
from .provider import ReplicationProvider

DEFAULT_DRIFT_PERIODS = 3
# CloudWatch evaluates at most one day of periods.
MAX_EVALUATION_SECONDS = 24 * 60 * 60


class ReplicationAlarms(Construct):
    """Alarms on everything that means "a declared replication may not be running":

    - ``handler_failures``: a custom-resource request failed (the handler's ``Requests``
      metric, Outcome Failed), in any 5-minute period;
    - ``reconciler_errors``: a follow-mode reconciler run failed (Lambda ``Errors``);
    - ``dead_letters``: an event waits in the dead-letter queue
      (``ApproximateNumberOfMessagesVisible``);
    - ``sweep_drift``: the ``ReplicationSweep`` found drift (``SweepDrift`` > 0) in
      ``drift_periods`` sweeps in a row: something keeps stopping replications, or the
      reconciler cannot start them.

    The last three exist only in stacks with follow mode (and the sweep's with a
    ``ReplicationSweep``). Create this construct after the stack's replications and sweep: synth
    fails with an explanation otherwise, since alarms for infrastructure created later would be
    missing. Each alarm's description says what to do.

    Every alarm watches this stack's metrics only (their ``Stack`` dimension): several stacks
    with replications in one account and region each get their own alarms. The metrics are
    the provider's (``ReplicationProvider.of(stack).metric_failed_requests()`` and the other
    ``metric_*`` methods), so a dashboard of your own shows what the alarms watch.

    :param topic: an SNS topic notified when an alarm fires and when it is OK again (a
        shorthand for an ``SnsAction`` in both `alarm_actions` and `ok_actions`). Default:
        none.
    :param alarm_actions: what each alarm does when it fires (``cloudwatch.IAlarmAction``:
        ``aws_cloudwatch_actions.SnsAction``, ``LambdaAction``, ``SsmIncidentAction``...),
        after `topic`'s. Default: none.
    :param ok_actions: what each alarm does when it is OK again, after `topic`'s. Default:
        none.
    :param drift_periods: how many sweeps in a row must find drift, 1 or more (at most one day
        of sweeps). Default: 3.
    :param dashboard: also create a CloudWatch dashboard of these metrics. Default: False.
    :raises ValueError: if `drift_periods` is out of range.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        topic: sns.ITopic | None = None,
        drift_periods: int = DEFAULT_DRIFT_PERIODS,
        dashboard: bool = False,
        alarm_actions: Sequence[cloudwatch.IAlarmAction] | None = None,
        ok_actions: Sequence[cloudwatch.IAlarmAction] | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self._provider = ReplicationProvider.of(self)
        self._follow = self._provider.follow
        sweep = self._follow.sweep if self._follow is not None else None
        self._sweep_seen = sweep is not None
        # Checked even without a sweep, against the default interval: a typo fails at once.
        _drift_periods(drift_periods, getattr(sweep, "interval", PERIOD))
        self.handler_failures = self._handler_failures()
        self.reconciler_errors: cloudwatch.Alarm | None = None
        self.dead_letters: cloudwatch.Alarm | None = None
        self.sweep_drift: cloudwatch.Alarm | None = None
        if self._follow is not None:
            self.reconciler_errors = self._reconciler_errors()
            self.dead_letters = self._dead_letters()
            self.sweep_drift = self._sweep_drift(self._follow, drift_periods)
        self.alarms = [
            alarm
            for alarm in (
                self.handler_failures,
                self.reconciler_errors,
                self.dead_letters,
                self.sweep_drift,
            )
            if alarm is not None
        ]
        on_alarm = list(alarm_actions or ())
        on_ok = list(ok_actions or ())
        if topic is not None:
            on_alarm.insert(0, actions.SnsAction(topic))
            on_ok.insert(0, actions.SnsAction(topic))
        for alarm in self.alarms:
            if on_alarm:
                alarm.add_alarm_action(*on_alarm)
            if on_ok:
                alarm.add_ok_action(*on_ok)
        self.dashboard = self._dashboard() if dashboard else None
        self.node.add_validation(_CreatedLast(self))

    # --- the metrics ----------------------------------------------------------------------

    def metric(
        self,
        name: str,
        dimensions: dict[str, str],
        *,
        statistic: str = "Sum",
        period: Duration = PERIOD,
    ) -> cloudwatch.Metric:
        """One of the library's metrics (see ``ivs_replication_handler.metrics``), in the
        provider's namespace, for its service and stack: ``ReplicationProvider.metric``."""
        return self._provider.metric(
            name, dimensions_map=dimensions, statistic=statistic, period=period
        )

    def _handler_failures(self) -> cloudwatch.Alarm:
        return self._alarm(
            "HandlerFailures",
            self._provider.metric_failed_requests(),
            "A create, update or delete of an IVS participant replication failed, so its "
            "deployment failed or rolled back. Read the stack's events (status reason) and the "
            "handler's log group for the reason (it names the participant, the stage and the "
            "fix), correct it, and deploy again.",
        )

    def _reconciler_errors(self) -> cloudwatch.Alarm:
        return self._alarm(
            "ReconcilerErrors",
            self._provider.metric_reconciler_errors(),
            "The follow-mode reconciler failed to start some declared replications (Lambda "
            "retries twice, then the event goes to the dead-letter queue). Read the "
            "reconciler's log group ('Reconciled' report, 'failed'), fix the cause (IAM, IVS "
            "quota, throttling), then run 'ivs-replication reconcile --stack-name <stack>'.",
        )

    def _dead_letters(self) -> cloudwatch.Alarm:
        return self._alarm(
            "DeadLetters",
            self._provider.metric_dead_letters(),
            "Events the reconciler could not handle wait in the dead-letter queue (kept 14 "
            "days). Fix the cause named in each message (responsePayload.errorMessage) and the "
            "reconciler's logs, then replay them or run 'ivs-replication reconcile "
            "--stack-name <stack>' (see the README, 'Operations'), and delete the messages.",
        )

    def _sweep_drift(self, follow: FollowInfrastructure, periods: int) -> cloudwatch.Alarm | None:
        sweep = follow.sweep
        interval = getattr(sweep, "interval", None)
        if not isinstance(interval, Duration):
            return None
        checked = _drift_periods(periods, interval)
        return self._alarm(
            "SweepDrift",
            self._provider.metric_sweep_drift(period=interval),
            f"{checked} sweeps in a row found declared IVS participant replications not "
            "running while their publisher was live. Something stops them (a Stop outside the "
            "stack, another tool) or the reconciler cannot start them. Run 'ivs-replication "
            "status --stack-name <stack>' to see which, and read the reconciler's logs.",
            periods=checked,
            comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            threshold=0,
        )

    def _alarm(
        self,
        construct_id: str,
        metric: cloudwatch.IMetric,
        description: str,
        *,
        periods: int = 1,
        comparison: cloudwatch.ComparisonOperator = (
            cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
        ),
        threshold: float = 1,
    ) -> cloudwatch.Alarm:
        return cloudwatch.Alarm(
            self,
            construct_id,
            metric=metric,
            alarm_description=description,
            threshold=threshold,
            comparison_operator=comparison,
            evaluation_periods=periods,
            datapoints_to_alarm=periods,
            # No data is good news: no request, no failed run, no sweep yet.
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )

    def _dashboard(self) -> cloudwatch.Dashboard:
        board = cloudwatch.Dashboard(self, "Dashboard")
        board.add_widgets(
            *(
                cloudwatch.AlarmWidget(alarm=alarm, title=alarm.node.id, width=6)
                for alarm in self.alarms
            )
        )
        requests = [
            self._provider.metric_succeeded_requests(),
            self._provider.metric_failed_requests(),
        ]
        board.add_widgets(
            cloudwatch.GraphWidget(title="Custom-resource requests", left=requests, width=12)
        )
        if self._follow is not None:
            runs = [
                self.metric(name, {c.DIMENSION_TRIGGER: trigger})
                for name in (c.METRIC_STARTED, c.METRIC_NOT_PUBLISHING, c.METRIC_FAILED)
                for trigger in (c.TRIGGER_EVENT, c.TRIGGER_SWEEP)
            ]
            board.add_widgets(cloudwatch.GraphWidget(title="Reconciler", left=runs, width=12))
        return board


def _drift_periods(periods: object, interval: Duration) -> int:
    seconds = int(interval.to_seconds())
    most = max(1, MAX_EVALUATION_SECONDS // seconds)
    if isinstance(periods, bool) or not isinstance(periods, int) or not 1 <= periods <= most:
        raise c.InvalidPropertyError(
            "drift_periods",
            f"{c.echo(periods)} is not a number of sweeps from 1 to {most}",
            f"a whole number of sweeps in a row, from 1 to {most} (one day of "
            f"{interval.to_human_string()} sweeps)",
        )
    return periods


@jsii.implements(IValidation)
class _CreatedLast:
    """Fails synth when follow mode or the sweep was added after the alarms were made."""

    def __init__(self, alarms: ReplicationAlarms) -> None:
        self._alarms = alarms

    def validate(self) -> list[str]:
        alarms = self._alarms
        follow = alarms._provider.follow
        late: list[str] = []
        if alarms._follow is None and follow is not None:
            late.append("follow-mode replications")
        if not alarms._sweep_seen and follow is not None and follow.sweep:
            late.append("a ReplicationSweep")
        if not late:
            return []
        return [
            f"ReplicationAlarms {alarms.node.path} was created before the stack's "
            f"{' and '.join(late)} ({Stack.of(alarms).stack_name}), so it has no alarms for "
            "them. Create ReplicationAlarms last in the stack."
        ]
