"""The installed `ivs-replication` command as a process: its help, and the errors it must
report in one line before talking to any service (no boto3, no credentials)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ivs_replication_cli.errors import EXIT_MISSING_DEPENDENCY, EXIT_NO_CREDENTIALS
from ivs_replication_cli.main import main

COMMAND = Path(sys.executable).parent / "ivs-replication"


def run(*argv: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(COMMAND), *argv], capture_output=True, text=True, env=env, check=False, timeout=60
    )


def test_the_console_script_is_installed_and_documents_its_exit_codes():
    result = run("--help", env=dict(os.environ))
    assert result.returncode == 0
    assert "status" in result.stdout
    assert "reconcile" in result.stdout
    assert "5 no such stack" in result.stdout.replace("\n", " ").replace("  ", " ")


def test_no_credentials_or_no_region_is_one_line_and_exit_4(tmp_path):
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",  # no instance-metadata lookup
        # Should a request ever leave, it reaches a closed local port, never AWS.
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
    }
    result = run("status", "--stack-name", "LiveStack", "--region", "us-east-1", env=env)
    assert result.returncode == EXIT_NO_CREDENTIALS, result.stderr
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("ivs-replication: no AWS credentials")

    # Without a region either, the region is what it asks for first.
    result = run("status", "--stack-name", "LiveStack", env=env)
    assert result.returncode == EXIT_NO_CREDENTIALS
    assert (
        result.stderr == "ivs-replication: no AWS region; pass --region or set AWS_DEFAULT_REGION\n"
    )


def test_without_boto3_it_says_what_to_install_in_one_line(monkeypatch):
    for name in list(sys.modules):
        if name == "ivs_replication_cli.commands" or name.split(".")[0] == "boto3":
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "boto3", None)  # import boto3 now fails
    err = io.StringIO()

    code = main(["status", "--stack-name", "LiveStack"], out=io.StringIO(), err=err)

    assert code == EXIT_MISSING_DEPENDENCY
    assert err.getvalue() == (
        "ivs-replication: boto3 is not installed; the command needs the cli extra: "
        "pip install 'ivs-participant-replication[cli]'\n"
    )


@pytest.mark.parametrize("argv", [[], ["status"], ["drift", "--stack-name", "x"]])
def test_usage_errors_exit_2(argv):
    with pytest.raises(SystemExit) as caught:
        main(argv, out=io.StringIO(), err=io.StringIO())
    assert caught.value.code == 2
