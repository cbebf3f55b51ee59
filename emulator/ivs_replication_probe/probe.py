"""The probe: what IVS real-time answers where its documentation is silent, measured once in a
sandbox account, written as a service profile the emulator loads.

It creates two stages and an RTMPS ingest configuration, prints the ffmpeg command that
publishes a test pattern into it, waits for the publisher, then records for each undocumented
behaviour what the service answers (codes, texts, list records, timings), and deletes
everything it created, also on Ctrl-C or SIGTERM. A dry run does the same against the
emulator (``--endpoint-url``), publishing through its ``/_local/`` control routes.

Only boto3 and the emulator's profile format (``ivs_realtime_emulator.profiles``, pure Python)
are imported: the probe belongs to no layer of the product.
"""

from __future__ import annotations

import datetime
import functools
import json
import signal
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from ivs_realtime_emulator.profiles import ServiceProfile

if TYPE_CHECKING:
    from types import FrameType

    from mypy_boto3_ivs_realtime import IvsrealtimeClient

Say = Callable[[str], None]
_THROTTLED = "ThrottlingException"
# Waits before trying a throttled Start again; after the last, its 429 is the answer.
_THROTTLED_WAITS = (0.5, 1.0, 2.0, 4.0, 8.0)
# How often the replica's record is read while a Stop has yet to land.
_STOP_POLL_SECONDS = 0.5
PROBE_PARTICIPANT_ABSENT = "probe-nobody"
# ffmpeg's built-in test pattern and tone, as an RTMPS encoder would push them.
FFMPEG = (
    "ffmpeg -re -f lavfi -i testsrc2=size=1280x720:rate=30 -f lavfi -i sine=frequency=440 "
    "-c:v libx264 -preset veryfast -b:v 2500k -g 60 -c:a aac -b:a 128k -f flv '{url}'"
)


class ProbeError(Exception):
    """The probe could not go on (the publisher never came, a call was refused)."""


@dataclass
class Answer:
    """What one call answered: HTTP status, error code (None on success) and text."""

    status: int
    code: str | None = None
    text: str = ""

    def as_json(self) -> dict[str, Any]:
        return {"status": self.status, "code": self.code, "text": self.text}


@dataclass
class Timing:
    """Where the probe's time comes from: injectable so its dry run needs no real waits."""

    sleep: Callable[[float], None] = time.sleep
    monotonic: Callable[[], float] = time.monotonic


@dataclass
class Created:
    """Everything the probe made, so cleanup can undo exactly that, newest first."""

    stages: list[str] = field(default_factory=list)
    ingest_configurations: list[str] = field(default_factory=list)
    replications: list[tuple[str, str, str]] = field(default_factory=list)


@dataclass
class ProbeOptions:
    """``publish_timeout`` default 600 s (time to start ffmpeg); ``session_timeout`` default
    900 s (a session ends some minutes after the publisher leaves); ``region`` is recorded
    in the profile's name and sources."""

    region: str
    control_url: str | None = None  # the emulator's endpoint: publish through /_local/
    publish_timeout: float = 600.0
    session_timeout: float = 900.0
    cleanup_timeout: float = 900.0
    poll_seconds: float = 2.0


class Probe:
    """One probe run over an ivs-realtime client; `run()` returns the probed profile."""

    def __init__(
        self,
        client: IvsrealtimeClient,
        options: ProbeOptions,
        *,
        say: Say = print,
        timing: Timing | None = None,
    ) -> None:
        self.client = client
        self.options = options
        self.say = say
        self.timing = timing or Timing()
        self.created = Created()
        self.observations: dict[str, Any] = {}

    # --- the run -----------------------------------------------------------------------------

    def run(self) -> ServiceProfile:
        """Create, measure, clean up (always); raises ProbeError or KeyboardInterrupt."""
        with _sigterm_as_interrupt():
            try:
                return self._measure()
            finally:
                self.cleanup()

    def _measure(self) -> ServiceProfile:
        source = self._create_stage("ivs-replication-probe-source")
        destination = self._create_stage("ivs-replication-probe-destination")
        encoder = self._create_ingest(source)
        participant = str(encoder["participantId"])
        fields: dict[str, Any] = {}
        fields.update(self._not_publishing(source, destination, participant))
        self._publish(source, encoder)
        started_at = self._wait_until_publishing(source, participant)
        self._propagation(source, destination, participant, started_at, fields)
        fields["duplicate_start"] = self._duplicate_start(source, destination, participant)
        self._replica_participant(destination, participant)
        fields.update(self._stop_twice(source, destination, participant))
        fields["history"] = self._history(source, destination, participant)
        fields["session_end_delay_seconds"] = self._session_end(source, encoder)
        return self._profile(fields)

    # --- steps ---------------------------------------------------------------------------------

    def _create_stage(self, name: str) -> str:
        arn = str(self.client.create_stage(name=name)["stage"]["arn"])
        self.created.stages.append(arn)
        self.say(f"created stage {arn}")
        return arn

    def _create_ingest(self, stage_arn: str) -> dict[str, Any]:
        answer = self.client.create_ingest_configuration(
            name="ivs-replication-probe-encoder", stageArn=stage_arn, ingestProtocol="RTMPS"
        )
        config = dict(answer["ingestConfiguration"])
        self.created.ingest_configurations.append(str(config["arn"]))
        self.say(f"created RTMPS ingest configuration {config['arn']}")
        return config

    def _not_publishing(self, source: str, destination: str, participant: str) -> dict[str, Any]:
        """Start for a participant that never joined, and for the encoder before it publishes."""
        nobody = self._start(source, destination, PROBE_PARTICIPANT_ABSENT)
        before = self._start(source, destination, participant)
        self.observations["not_publishing"] = {
            "absent_participant": nobody.as_json(),
            "encoder_not_yet_publishing": before.as_json(),
        }
        if before.code is None:
            raise ProbeError("Start succeeded for an encoder that does not publish yet")
        return {
            "not_publishing_code": before.code,
            "not_publishing_status": before.status,
            "not_publishing_text": before.text.replace(participant, "{participant_id}"),
        }

    def _publish(self, stage_arn: str, encoder: dict[str, Any]) -> None:
        if self.options.control_url is not None:
            self.say("dry run: the emulator's control route publishes the encoder")
            _control(self.options.control_url, "publish", stage_arn, encoder["participantId"])
            return
        self.say("Publish the test pattern now, from another terminal:\n")
        self.say("    " + FFMPEG.format(url=self._ingest_url(stage_arn, encoder)) + "\n")

    def _ingest_url(self, stage_arn: str, encoder: dict[str, Any]) -> str:
        endpoints = self.client.get_stage(arn=stage_arn)["stage"].get("endpoints", {})
        base = str(endpoints.get("rtmps") or "rtmps://<stage rtmps endpoint>:443/app/")
        return base.rstrip("/") + "/" + str(encoder["streamKey"])

    def _wait_until_publishing(self, stage_arn: str, participant: str) -> float:
        self.say(f"waiting up to {self.options.publish_timeout:.0f} s for {participant}...")
        give_up = self.timing.monotonic() + self.options.publish_timeout
        while self.timing.monotonic() < give_up:
            if self._is_publishing(stage_arn, participant):
                self.say("the encoder publishes")
                return self.timing.monotonic()
            self.timing.sleep(self.options.poll_seconds)
        raise ProbeError(f"{participant} did not publish within the publish timeout")

    def _propagation(
        self, source: str, destination: str, participant: str, since: float, fields: dict[str, Any]
    ) -> None:
        """Start until it succeeds: how long after publishing IVS replicates the publisher."""
        refusals: list[dict[str, Any]] = []
        give_up = since + 120.0
        while True:
            answer = self._start(source, destination, participant)
            if answer.code is None:
                break
            refusals.append(answer.as_json())
            if self.timing.monotonic() >= give_up:
                raise ProbeError(f"Start kept failing while publishing: {answer.as_json()}")
            self.timing.sleep(0.5)
        waited = round(self.timing.monotonic() - since, 1)
        self.observations["propagation"] = {"seconds": waited, "refusals": refusals}
        # Only a refusal proves a delay: one poll's worth of time is measurement noise.
        fields["publish_propagation_seconds"] = waited if refusals else 0.0

    def _duplicate_start(self, source: str, destination: str, participant: str) -> str:
        answer = self._start(source, destination, participant)
        self.observations["duplicate_start"] = answer.as_json()
        self.observations["replicas_after_start"] = self._records(source, participant)
        return "ok" if answer.code is None else "conflict"

    def _replica_participant(self, destination: str, participant: str) -> None:
        session = self._active_session(destination)
        if session is None:
            return
        try:
            found = self.client.get_participant(
                stageArn=destination, sessionId=session, participantId=participant
            )["participant"]
        except ClientError as error:
            self.observations["replica_participant"] = _answer(error).as_json()
            return
        self.observations["replica_participant"] = {
            k: found.get(k) for k in ("replicationType", "replicationState", "state", "published")
        }

    def _stop_twice(self, source: str, destination: str, participant: str) -> dict[str, Any]:
        """Stop, wait until the record says STOPPED (how late a Stop lands), Stop again."""
        first = self._stop(source, destination, participant)
        delay = self._until_stopped(source, destination, participant)
        second = self._stop(source, destination, participant)
        self.observations["stop"] = first.as_json()
        self.observations["stop_stopped"] = second.as_json()
        if second.code is None:
            stop_stopped = "ok"
        else:
            stop_stopped = "conflict" if second.status == 409 else "not-found"  # noqa: PLR2004
        return {"stop_stopped": stop_stopped, "stop_effect_delay_seconds": delay}

    def _until_stopped(self, source: str, destination: str, participant: str) -> float:
        """Seconds from a Stop's answer until no record of the destination is ACTIVE."""
        since = self.timing.monotonic()
        give_up = since + self.options.session_timeout
        while any(
            r["replicationState"] == "ACTIVE" and r["destinationStageArn"] == destination
            for r in self._records(source, participant)
        ):
            if self.timing.monotonic() >= give_up:
                raise ProbeError("the replica stayed ACTIVE after a Stop answered 200")
            self.timing.sleep(_STOP_POLL_SECONDS)
        waited = round(self.timing.monotonic() - since, 1)
        self.observations["stop_effect"] = {"seconds": waited}
        return waited

    def _history(self, source: str, destination: str, participant: str) -> str:
        """Start again after the Stop: is the STOPPED record replaced or kept, and where?"""
        self._start(source, destination, participant)
        records = self._records(source, participant, max_results=1)
        self._stop(source, destination, participant)
        self.observations["history_records"] = records
        states = [r["replicationState"] for r in records if r["destinationStageArn"] == destination]
        if len(states) <= 1:
            return "replace"
        return "keep-oldest-first" if states[-1] == "ACTIVE" else "keep-newest-first"

    def _session_end(self, stage_arn: str, encoder: dict[str, Any]) -> float:
        """How long the session lives on after the publisher leaves."""
        if self.options.control_url is not None:
            _control(self.options.control_url, "unpublish", stage_arn, encoder["participantId"])
        else:
            self.say("Stop ffmpeg now (q or Ctrl-C in its terminal).")
        participant = str(encoder["participantId"])
        give_up = self.timing.monotonic() + self.options.publish_timeout
        while self._is_publishing(stage_arn, participant):
            if self.timing.monotonic() >= give_up:
                raise ProbeError("the encoder kept publishing")
            self.timing.sleep(self.options.poll_seconds)
        left = self.timing.monotonic()
        give_up = left + self.options.session_timeout
        while self._active_session(stage_arn) is not None:
            if self.timing.monotonic() >= give_up:
                self.observations["session_end"] = {"ended": False, "waited": round(give_up - left)}
                return round(self.options.session_timeout, 1)
            self.timing.sleep(self.options.poll_seconds)
        waited = round(self.timing.monotonic() - left, 1)
        self.observations["session_end"] = {"ended": True, "seconds": waited}
        return waited

    def _profile(self, fields: dict[str, Any]) -> ServiceProfile:
        today = datetime.datetime.now(tz=datetime.UTC).date().isoformat()
        source = f"probed in {self.options.region} on {today}"
        if self.options.control_url is not None:
            source = f"dry run against the emulator on {today}"
        return ServiceProfile(
            name=f"probed-{self.options.region}-{today}",
            sources=dict.fromkeys(fields, source),
            observations=self.observations,
            **fields,
        )

    # --- cleanup -------------------------------------------------------------------------------

    def cleanup(self) -> None:
        """Delete what the probe created, newest first; a second Ctrl-C abandons the rest and
        prints it. DeleteStage conflicts while a session is active, so it is retried."""
        try:
            for key in reversed(self.created.replications):
                self._stop(*key)
            self.created.replications.clear()
            while self.created.ingest_configurations:
                arn = self.created.ingest_configurations[-1]
                self._ignore_missing(functools.partial(self._delete_ingest, arn))
                self.created.ingest_configurations.pop()
                self.say(f"deleted ingest configuration {arn}")
            while self.created.stages:
                arn = self.created.stages[-1]
                self._delete_stage(arn)
                self.created.stages.pop()
                self.say(f"deleted stage {arn}")
        except (KeyboardInterrupt, ClientError, ProbeError):
            self.say("NOT deleted (delete by hand): " + json.dumps(self.remaining()))
            raise

    def remaining(self) -> dict[str, list[str]]:
        """What the probe created and has not deleted yet."""
        return {
            "ingest_configurations": list(self.created.ingest_configurations),
            "stages": list(self.created.stages),
        }

    def _delete_ingest(self, arn: str) -> None:
        self.client.delete_ingest_configuration(arn=arn)

    def _delete_stage(self, arn: str) -> None:
        give_up = self.timing.monotonic() + self.options.cleanup_timeout
        while True:
            try:
                self._ignore_missing(lambda: self.client.delete_stage(arn=arn))
                return
            except ClientError as error:
                conflict = _answer(error).code == "ConflictException"
                if not conflict or self.timing.monotonic() >= give_up:
                    raise
                self.say("the stage's session is still active; retrying DeleteStage")
                self.timing.sleep(self.options.poll_seconds * 5)

    @staticmethod
    def _ignore_missing(call: Callable[[], object]) -> None:
        try:
            call()
        except ClientError as error:
            if _answer(error).code != "ResourceNotFoundException":
                raise

    # --- calls ---------------------------------------------------------------------------------

    def _start(self, source: str, destination: str, participant: str) -> Answer:
        """One Start's answer; a throttled Start is tried again (the rate is not what the
        probe measures), a few times, after growing waits."""
        for wait in (*_THROTTLED_WAITS, None):
            try:
                self.client.start_participant_replication(
                    sourceStageArn=source,
                    destinationStageArn=destination,
                    participantId=participant,
                )
                break
            except ClientError as error:
                answer = _answer(error)
                if answer.code != _THROTTLED or wait is None:
                    return answer
                self.timing.sleep(wait)
        key = (source, destination, participant)
        if key not in self.created.replications:
            self.created.replications.append(key)
        return Answer(200)

    def _stop(self, source: str, destination: str, participant: str) -> Answer:
        try:
            self.client.stop_participant_replication(
                sourceStageArn=source, destinationStageArn=destination, participantId=participant
            )
        except ClientError as error:
            return _answer(error)
        return Answer(200)

    def _records(
        self, source: str, participant: str, *, max_results: int | None = None
    ) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"sourceStageArn": source, "participantId": participant}
            if max_results is not None:
                kwargs["maxResults"] = max_results
            if token:
                kwargs["nextToken"] = token
            page = self.client.list_participant_replicas(**kwargs)
            records += [dict(r) for r in page.get("replicas", [])]
            token = page.get("nextToken")
            if not token:
                return records

    def _active_session(self, stage_arn: str) -> str | None:
        session = self.client.get_stage(arn=stage_arn)["stage"].get("activeSessionId")
        return str(session) if session else None

    def _is_publishing(self, stage_arn: str, participant: str) -> bool:
        session = self._active_session(stage_arn)
        if session is None:
            return False
        try:
            found = self.client.get_participant(
                stageArn=stage_arn, sessionId=session, participantId=participant
            )["participant"]
        except ClientError:
            return False
        return bool(found.get("published")) and found.get("state") == "CONNECTED"


def _answer(error: ClientError) -> Answer:
    response: dict[str, Any] = dict(error.response)
    details = response.get("Error", {})
    status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
    text = response.get("exceptionMessage") or details.get("Message") or ""
    return Answer(status, str(details.get("Code", "Unknown")), str(text))


def _control(endpoint_url: str, action: str, stage_arn: str, participant_id: str) -> None:
    """The emulator's control route (dry run only): ``POST /_local/<action>``."""
    body = json.dumps({"stageArn": stage_arn, "participantId": participant_id}).encode()
    if not endpoint_url.startswith(("http://127.0.0.1", "http://localhost")):
        raise ProbeError("a dry run publishes only through a local emulator's control routes")
    request = urllib.request.Request(  # noqa: S310 - a local http URL, checked above
        f"{endpoint_url.rstrip('/')}/_local/{action}", data=body, method="POST"
    )
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=10):  # noqa: S310 - a local http URL, checked
        pass


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM ends the run like Ctrl-C does, so cleanup runs in both cases."""

    def interrupt(_signal: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread: signals cannot be caught here
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
