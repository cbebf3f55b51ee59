"""A failed Start in the reconciler, at the AWS edge: the first attempt's answer is lost (a read
timeout, so IVS may have carried it out) and the retry is refused. What the lost attempt may
have started is stopped again (`replicas.Replicas.undo`) unless the registry, read again after
the Start, still declares it with the settings the run started; a registry that cannot be read
is no declaration, and the run fails so that Lambda retries it. The run's failure says what is
left: the stop that ended it, or the stop that failed too."""

from __future__ import annotations

import pytest
from botocore.exceptions import ReadTimeoutError

from ivs_replication_handler import contract as c
from ivs_replication_handler import retries
from ivs_replication_handler.errors import ReconcileError, ServiceError
from ivs_replication_handler.reconciler import START_ATTEMPTS, handle_event, reconcile
from ivs_replication_handler.retries import Deadline
from ivs_replication_handler.spec import ReplicationKey, ReplicationSpec
from tests.edge.test_handler_faults import throttled_forever
from tests.edge.test_undocumented_answers import sid
from tests.publishing import published_event

# As in conftest.py (this folder is no package).
SOURCE = "arn:aws:ivs:us-east-1:123456789012:stage/SourceStage01"
DESTINATION = "arn:aws:ivs:us-east-1:123456789012:stage/DestinationStage01"
PARTICIPANT = "host-1"
KEY = ReplicationKey(SOURCE, DESTINATION, PARTICIPANT)
SPEC = ReplicationSpec(KEY, when_not_publishing=c.MODE_FOLLOW)
ENDPOINT = "https://ivsrealtime.us-east-1.amazonaws.com"

START = "StartParticipantReplication"
STOP = "StopParticipantReplication"
LIST = "ListParticipantReplicas"

_REFUSED_READ = ServiceError("GetItem", "AccessDeniedException", 400, "not authorized to read")


class _Registry:
    """The run reads SPEC declared; the re-read after the Start answers `now` (a spec, None for
    withdrawn), or is refused when `now` is the refusal."""

    attempt_budget_seconds = 0.0

    def __init__(self, now: ReplicationSpec | ServiceError | None) -> None:
        self.now = now
        self.re_reads = 0

    def declarations_of(self, *_: object) -> list[ReplicationSpec]:
        return [SPEC]

    def mirrors_of(self, *_: object) -> list[object]:
        return []  # no StageMirror takes the source stage

    def declaration(self, *_: object) -> ReplicationSpec | None:
        self.re_reads += 1
        if isinstance(self.now, ServiceError):
            raise self.now
        return self.now


def refused_after_a_lost_answer(stubbed) -> None:
    """The run's List, then a Start carried out whose answer is lost, and its retry refused."""
    stubbed.expect_list({})
    stubbed.fail_next(START, ReadTimeoutError(endpoint_url=ENDPOINT))
    stubbed.expect_start_error("ServiceQuotaExceededException", 402, "Replication quota exceeded")


def _warnings(lines) -> list[tuple[str, str]]:
    return [
        (line["message"], line.get("physical_id")) for line in lines if line["level"] == "WARNING"
    ]


def run(stubbed, context, registry: _Registry):
    return run_with(stubbed.ivs, context, registry)


def run_with(ivs, context, registry: _Registry):
    deadline = Deadline(context.get_remaining_time_in_millis)
    return reconcile(published_event(SOURCE, PARTICIPANT), ivs, registry, deadline)


def test_a_failed_start_that_is_still_declared_is_kept_and_fails_the_run(
    stubbed, context, read_logs
):
    """Declared with the same settings: what the lost attempt started is wanted, so no Stop;
    the run fails with the refusal, so Lambda retries it."""
    refused_after_a_lost_answer(stubbed)
    registry = _Registry(SPEC)

    report = run(stubbed, context, registry)

    assert stubbed.calls == [LIST, START, START]
    assert registry.re_reads == 1
    assert "ServiceQuotaExceededException" in report.failed[KEY.physical_id()]
    assert _warnings(read_logs()) == []  # nothing stopped, nothing to say


@pytest.mark.parametrize(
    "now",
    [None, ReplicationSpec(KEY, {"role": "new"}, when_not_publishing=c.MODE_FOLLOW)],
    ids=["withdrawn", "declared-with-other-settings"],
)
def test_a_failed_start_that_is_not_declared_so_is_stopped_again(stubbed, context, now, read_logs):
    refused_after_a_lost_answer(stubbed)
    stubbed.expect_undo_stop()

    report = run(stubbed, context, _Registry(now))

    assert stubbed.calls == [LIST, START, START, STOP, LIST]
    assert "ServiceQuotaExceededException" in report.failed[KEY.physical_id()]
    assert _warnings(read_logs()) == [
        (
            "A failed start may have started it, and it is not declared so; stopped it",
            KEY.physical_id(),
        )
    ]


def test_a_failed_start_with_the_registry_unreadable_is_stopped_and_the_run_says_why(
    stubbed, context
):
    """Nothing undeclared outlives the run: an unreadable registry is no declaration, so the
    replication is stopped, and the run fails naming the registry check (Lambda's retry
    starts it again if it is declared)."""
    refused_after_a_lost_answer(stubbed)
    stubbed.expect_undo_stop()

    report = run(stubbed, context, _Registry(_REFUSED_READ))

    assert stubbed.calls == [LIST, START, START, STOP, LIST]
    assert report.failed[KEY.physical_id()] == (
        f"the registry check after the start failed, so it was stopped: {_REFUSED_READ}"
    )


def test_a_failed_start_whose_stop_fails_too_says_both(stubbed, context):
    """The registry unreadable and the Stop refused with the listing unreadable: the run's
    failure names both, since the replication may still run."""
    refused_after_a_lost_answer(stubbed)
    stubbed.expect_stop_error("ConflictException", 409, "busy")
    stubbed.stubber.add_client_error("list_participant_replicas", "AccessDeniedException", "", 403)

    report = run(stubbed, context, _Registry(_REFUSED_READ))

    failure = report.failed[KEY.physical_id()]
    assert failure.startswith(f"the registry check after the start failed ({_REFUSED_READ})")
    assert "and so did the stop (" in failure
    assert "reading the state to tell whether it still runs then failed" in failure


def test_a_withdrawn_failed_start_whose_stop_fails_reports_the_stop(stubbed, context):
    """Withdrawn, and the Stop refused with the listing unreadable: the run's failure is the
    Stop's (the replication may still run), not the Start's refusal."""
    refused_after_a_lost_answer(stubbed)
    stubbed.expect_stop_error("ConflictException", 409, "busy")
    stubbed.stubber.add_client_error("list_participant_replicas", "AccessDeniedException", "", 403)

    report = run(stubbed, context, _Registry(None))

    failure = report.failed[KEY.physical_id()]
    assert "reading the state to tell whether it still runs then failed" in failure
    assert "ServiceQuotaExceededException" not in failure


@pytest.mark.parametrize("now", [None, _REFUSED_READ], ids=["withdrawn", "unreadable"])
def test_a_started_replication_nothing_declares_is_stopped_before_the_run_ends(
    stubbed, context, now, read_logs
):
    """The Start succeeded, and the re-read finds the declaration withdrawn (or cannot read
    it): the replication is stopped, and the run returns only once IVS shows it stopped, so
    that whoever reads the listing next does not count it as running."""
    stubbed.expect_list({})
    stubbed.expect_start()
    stubbed.expect_stop()
    stubbed.expect_list({DESTINATION: "ACTIVE"})  # the Stop is still landing
    stubbed.expect_list({DESTINATION: "STOPPED"})

    report = run(stubbed, context, _Registry(now))

    assert stubbed.calls == [LIST, START, STOP, LIST, LIST]
    assert (KEY.physical_id() in report.failed) == (now is not None)
    logged = read_logs()
    errors = [
        (line["message"], line.get("reason"), line.get("physical_id"))
        for line in logged
        if line["level"] == "ERROR"
    ]
    unverified = (
        "Registry check after a start failed; stopping it and failing the run",
        str(_REFUSED_READ),
        KEY.physical_id(),
    )
    assert errors == ([] if now is None else [unverified])
    withdrawn = ("Declaration withdrawn during the start; stopping", KEY.physical_id())
    assert _warnings(logged) == ([withdrawn] if now is None else [])


def test_a_start_whose_declaration_changed_meanwhile_restarts_with_the_declared_settings(
    stubbed, context, read_logs
):
    """An in-place Update wrote new settings after the run read the old ones: the run stops
    what it started and starts the declared settings, and says so."""
    changed = ReplicationSpec(KEY, {"role": "new"}, when_not_publishing=c.MODE_FOLLOW)
    stubbed.expect_list({})
    stubbed.expect_start()
    stubbed.expect_stop()
    stubbed.expect_list({DESTINATION: "STOPPED"})
    stubbed.expect_start(attributes={"role": "new"})

    report = run(stubbed, context, _Registry(changed))

    assert stubbed.calls == [LIST, START, STOP, LIST, START]
    assert report.started == [KEY.physical_id()]
    assert _warnings(read_logs()) == [
        (
            "Declaration changed during the start; restarting with the declared settings",
            KEY.physical_id(),
        )
    ]


def test_a_restart_for_a_changed_declaration_whose_stop_fails_fails_the_run_with_the_stop(
    stubbed, context
):
    """The declaration changed during the start, and the Stop before the restart is refused
    with the listing unreadable: the run fails naming the Stop (the replication may still run
    with the old settings), and starts nothing more."""
    changed = ReplicationSpec(KEY, {"role": "new"}, when_not_publishing=c.MODE_FOLLOW)
    stubbed.expect_list({})
    stubbed.expect_start()
    stubbed.expect_stop_error("ConflictException", 409, "busy")
    stubbed.stubber.add_client_error("list_participant_replicas", "AccessDeniedException", "", 403)

    report = run(stubbed, context, _Registry(changed))

    assert stubbed.calls == [LIST, START, STOP, LIST]
    assert report.started == []
    assert (
        "reading the state to tell whether it still runs then failed"
        in (report.failed[KEY.physical_id()])
    )


class _EverChangingRegistry(_Registry):
    """Each re-read after a Start finds the declaration changed again (an in-place Update
    after each), with the role `v1`, `v2`, ..."""

    def __init__(self) -> None:
        super().__init__(None)

    def declaration(self, *_: object) -> ReplicationSpec:
        self.re_reads += 1
        return ReplicationSpec(
            KEY, {"role": f"v{self.re_reads}"}, when_not_publishing=c.MODE_FOLLOW
        )


def test_a_declaration_changed_during_every_start_is_left_stopped_and_fails_the_run(
    stubbed, context
):
    """Settings that change again during each restart: after START_ATTEMPTS starts the run
    gives up with the last one stopped (never running settings no longer declared), and
    fails saying so, so that Lambda's retry starts what is declared by then."""
    stubbed.expect_list({})
    for attributes in [None, *({"role": f"v{n}"} for n in range(1, START_ATTEMPTS))]:
        stubbed.expect_start(attributes=attributes)
        stubbed.expect_stop()
        stubbed.expect_list({DESTINATION: "STOPPED"})
    registry = _EverChangingRegistry()

    report = run(stubbed, context, registry)

    assert stubbed.calls == [LIST, *[START, STOP, LIST] * START_ATTEMPTS]
    assert registry.re_reads == START_ATTEMPTS
    assert report.started == []
    assert report.failed == {
        KEY.physical_id(): f"the declaration of {KEY.physical_id()} changed during each of "
        f"{START_ATTEMPTS} starts; it is stopped, the next run starts it"
    }


def test_a_start_throttled_throughout_keeps_back_the_time_to_re_read_and_stop(context, monkeypatch):
    """A run's Start gives up while the registry's re-read and a Stop still fit (each an
    attempt's budget of its own client): a Start that used the whole run could not undo what
    it may have started. With every backoff at its ceiling, each wait ends exactly where the
    last attempt that fits begins."""
    monkeypatch.setattr(retries.random, "uniform", lambda low, high: high)
    registry = _Registry(SPEC)
    registry.attempt_budget_seconds = 7.0  # not the IVS client's: each is counted once
    calls: list[str] = []
    ivs, _keep_alive = throttled_forever(context, calls, [])

    report = run_with(ivs, context, registry)

    assert "ThrottlingException" in report.failed[KEY.physical_id()]
    assert STOP not in calls  # every Start was refused: nothing to undo
    kept_back = retries.DEADLINE_MARGIN_SECONDS + 7.0 + 2 * ivs.attempt_budget_seconds
    elapsed = context.elapsed_ms / 1000
    assert elapsed == pytest.approx(context.remaining_ms / 1000 - kept_back, abs=0.5)


def test_an_event_of_a_new_session_starts_it_over_an_active_record_of_an_earlier_one(
    stubbed, context
):
    """What IVS lists for an earlier session of the publisher is history: the event's own
    session has no replica yet, so the run starts one rather than reporting it already
    active (which would leave the new session unreplicated)."""
    stubbed.expect_list_records([(DESTINATION, "ACTIVE", sid("old"))])
    stubbed.expect_start()
    event = published_event(SOURCE, PARTICIPANT, session_id=sid("live"))
    deadline = Deadline(context.get_remaining_time_in_millis)

    report = reconcile(event, stubbed.ivs, _Registry(SPEC), deadline)

    assert stubbed.calls == [LIST, START]
    assert report.started == [KEY.physical_id()]
    assert report.already_active == []


class _FanOutRegistry(_Registry):
    """Declares the publisher into `count` destinations."""

    def __init__(self, count: int) -> None:
        super().__init__(SPEC)
        self.specs = [
            ReplicationSpec(
                ReplicationKey(SOURCE, f"{DESTINATION[:-2]}{n:02}", PARTICIPANT),
                when_not_publishing=c.MODE_FOLLOW,
            )
            for n in range(count)
        ]

    def declarations_of(self, *_: object) -> list[ReplicationSpec]:
        return self.specs


def test_a_run_with_many_failures_fails_naming_them_within_2000_characters(stubbed, context):
    """Lambda keeps the error of a failed run: it counts the failures, then names as many as
    2,000 characters hold (physical id and cause each, sorted), cut there."""
    stubbed.stubber.add_client_error("list_participant_replicas", "AccessDeniedException", "", 403)
    registry = _FanOutRegistry(15)  # 15 failures of about 200 characters each

    with pytest.raises(ReconcileError) as caught:
        handle_event(published_event(SOURCE, PARTICIPANT), context, stubbed.ivs, registry)

    head = "15 of 15 declarations failed: "
    message = str(caught.value)
    first_id = registry.specs[0].key.physical_id()
    assert message.startswith(f"{head}{first_id}: ListParticipantReplicas: AccessDeniedException")
    assert len(message) == len(head) + 2000
