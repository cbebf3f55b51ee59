"""The probe's dry run: against the emulator it recovers the emulator's own profile, writes a
file the emulator loads, and deletes everything it created, also when interrupted."""

from __future__ import annotations

import json

import pytest

from ivs_realtime_emulator import PROFILES, IvsRealtimeEmulator, ManualClock, load_profile
from ivs_replication_probe import Probe, ProbeError, ProbeOptions, Timing
from ivs_replication_probe.__main__ import EXIT_INTERRUPTED, main

PROBED_FIELDS = (
    "not_publishing_code",
    "not_publishing_status",
    "not_publishing_text",
    "duplicate_start",
    "stop_stopped",
    "history",
    "publish_propagation_seconds",
    "session_end_delay_seconds",
    "stop_effect_delay_seconds",
)


def _nothing_left(server: IvsRealtimeEmulator) -> bool:
    return server.snapshot()["stages"] == [] and not server.state._ingest


@pytest.mark.parametrize("name", list(PROFILES))
def test_a_dry_run_recovers_the_emulators_profile_and_cleans_up(name):
    expected = PROFILES[name]
    clock = ManualClock()
    with IvsRealtimeEmulator(clock=clock, profile=expected) as server:
        options = ProbeOptions(region="us-east-1", control_url=server.endpoint_url)
        probe = Probe(
            server.client(),
            options,
            say=lambda _: None,
            timing=Timing(sleep=clock.advance, monotonic=clock.now),
        )

        probed = probe.run()

        assert {f: getattr(probed, f) for f in PROBED_FIELDS} == {
            f: getattr(expected, f) for f in PROBED_FIELDS
        }
        assert probed.observations["not_publishing"]["absent_participant"]["code"]
        assert _nothing_left(server)


def test_the_dry_run_command_writes_a_profile_the_emulator_loads(tmp_path, capsys):
    output = tmp_path / "probed.json"

    assert main(["--dry-run", "--output", str(output), "--region", "eu-west-1"]) == 0

    data = json.loads(output.read_text())
    assert data["format"] == "ivs-realtime-emulator/profile/1"
    assert data["name"].startswith("probed-eu-west-1-")
    assert all("dry run" in source for source in data["sources"].values())
    with IvsRealtimeEmulator(profile=output) as server:
        assert server.profile == load_profile(output)
    assert str(output) in capsys.readouterr().out


def test_an_interrupted_probe_deletes_what_it_created(monkeypatch):
    clock = ManualClock()

    def interrupt(_: float) -> None:
        raise KeyboardInterrupt  # Ctrl-C while waiting for the publisher

    with IvsRealtimeEmulator(clock=clock) as server:
        printed: list[str] = []
        probe = Probe(
            server.client(),
            ProbeOptions(region="us-east-1"),  # not a dry run: it waits for ffmpeg
            say=printed.append,
            timing=Timing(sleep=interrupt, monotonic=clock.now),
        )
        with pytest.raises(KeyboardInterrupt):
            probe.run()

        assert any("ffmpeg -re -f lavfi -i testsrc2" in line for line in printed)
        assert probe.remaining() == {"ingest_configurations": [], "stages": []}
        assert _nothing_left(server)


def test_the_command_reports_an_interrupt_with_its_exit_status(monkeypatch, tmp_path):
    def interrupted(self):
        self.cleanup()
        raise KeyboardInterrupt

    monkeypatch.setattr(Probe, "run", interrupted)
    assert main(["--dry-run", "--output", str(tmp_path / "x.json")]) == EXIT_INTERRUPTED
    assert not (tmp_path / "x.json").exists()


def test_a_dry_run_needs_no_credentials_and_signs_with_dummy_ones(monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    assert main(["--dry-run", "--output", str(tmp_path / "p.json")]) == 0


def test_a_dry_run_publishes_only_through_a_local_endpoint():
    probe = Probe(
        client=None,  # never reached
        options=ProbeOptions(region="us-east-1", control_url="https://ivsrealtime.amazonaws.com"),
        say=lambda _: None,
    )
    with pytest.raises(ProbeError, match="local emulator"):
        probe._publish("arn:aws:ivs:us-east-1:123456789012:stage/abc", {"participantId": "p"})
