"""The functions' CloudWatch metrics as CDK metrics: one definition of each, used by the
provider's ``metric_*`` methods, by `ReplicationAlarms` and by your own dashboards and alarms.

The functions write their metrics in the embedded metric format (see
``ivs_replication_handler.metrics``); every one has the dimensions ``service`` and ``Stack``
(the stack's name), so the metrics of two stacks in one account and region never mix. The
namespace and the service are read when the template is written (``Lazy``), so
``ReplicationProvider.use_metrics`` may be called before or after the metrics are asked for.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypedDict, Unpack

import jsii
from aws_cdk import Duration, IStableStringProducer, Lazy
from aws_cdk import aws_cloudwatch as cloudwatch

from ivs_replication_handler import contract as c

# Every alarm's and every metric's default period: short enough to page within minutes.
PERIOD = Duration.minutes(5)
TRIGGERS = (c.TRIGGER_EVENT, c.TRIGGER_SWEEP)


class MetricOptions(TypedDict, total=False):
    """What a ``metric_*`` method lets you change: the fields of ``cloudwatch.MetricOptions``
    that do not change which metric it is (the dimensions stay the library's).

    ``period`` Default: 5 minutes (the sweep's interval for ``SweepDrift``); ``statistic``
    Default: ``Sum`` (``Maximum`` for ``SweepDrift`` and the dead letters); ``label``,
    ``color``, ``unit``, ``account``, ``region`` Default: CloudWatch's.
    """

    period: Duration
    statistic: str
    label: str
    color: str
    unit: cloudwatch.Unit
    account: str
    region: str


@jsii.implements(IStableStringProducer)
class _Late:
    """A setting read when the template is written (once every call has been made)."""

    def __init__(self, read: Callable[[], str]) -> None:
        self._read = read

    def produce(self) -> str:
        return self._read()


def late_string(read: Callable[[], str]) -> str:
    """A token for `read()`, resolved at synth."""
    return Lazy.string(_Late(read))


class FunctionMetrics:
    """The metrics a stack's functions write: its namespace and service (read at synth) and
    its stack name, as one place to build them from."""

    def __init__(self, namespace: str, service: str, stack_name: str) -> None:
        self._namespace = namespace
        self._dimensions = {c.DIMENSION_SERVICE: service, c.DIMENSION_STACK: stack_name}

    def metric(
        self,
        metric_name: str,
        dimensions_map: Mapping[str, str] | None = None,
        **options: Unpack[MetricOptions],
    ) -> cloudwatch.Metric:
        """`metric_name` under the stack's dimensions plus `dimensions_map` (which cannot
        replace ``service`` or ``Stack``). Statistic Default: ``Sum``; period Default: 5
        minutes."""
        settings = MetricOptions(statistic="Sum", period=PERIOD)
        settings.update(options)
        return cloudwatch.Metric(
            namespace=self._namespace,
            metric_name=metric_name,
            dimensions_map={**(dimensions_map or {}), **self._dimensions},
            **settings,
        )

    def by_trigger(
        self, metric_name: str, trigger: str | None, **options: Unpack[MetricOptions]
    ) -> cloudwatch.IMetric:
        """A reconciler metric for runs of one trigger (``event`` or ``sweep``), or of both
        added up (None).

        :raises ValueError: if `trigger` is neither.
        """
        if trigger is not None:
            return self.metric(metric_name, {c.DIMENSION_TRIGGER: _trigger(trigger)}, **options)
        # The expression's own settings; the statistic and the rest go to each trigger's.
        label = options.pop("label", metric_name)
        color = options.pop("color", None)
        period = options.pop("period", PERIOD)
        # Ids unique per metric: one graph or alarm may hold several such sums.
        ids = {
            trigger: f"{metric_name[0].lower()}{metric_name[1:]}_{trigger}" for trigger in TRIGGERS
        }
        using = {
            ids[trigger]: self.metric(metric_name, {c.DIMENSION_TRIGGER: trigger}, **options)
            for trigger in TRIGGERS
        }
        return cloudwatch.MathExpression(
            # A trigger without runs in a period has no data point: count it as 0.
            expression=" + ".join(f"FILL({ids[trigger]}, 0)" for trigger in TRIGGERS),
            using_metrics=using,
            period=period,
            label=label,
            color=color,
        )


def _trigger(trigger: object) -> str:
    if trigger not in TRIGGERS:
        raise c.InvalidPropertyError(
            "trigger",
            f"{c.echo(trigger)} is not a trigger",
            f"{' or '.join(repr(t) for t in TRIGGERS)}, or None for both",
        )
    return str(trigger)
