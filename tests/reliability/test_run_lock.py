"""One writer per lake: a second lake-changing command is refused while another process holds the lake, naming
the holder; a killed run's lock is cleared with a message; ``c360 run`` takes the lock again for its own steps.

The holder is a real second process (a Python process holding :func:`c360.lock.lake_lock`, as ``c360 run`` does
across its steps), and every refused command is the installed ``c360`` entry point in a process of its own."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from c360.cli import app
from c360.lock import LOCK_FILE, lake_lock
from c360.storage import Lake

C360 = str(Path(sys.executable).parent / "c360")
HOLDER = """
import sys
from c360.lock import lake_lock
from c360.storage import Lake
with lake_lock(Lake(sys.argv[1]), "c360 run"):
    print("held", flush=True)
    sys.stdin.read()
"""


def c360(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([C360, *args], capture_output=True, text=True, timeout=120)


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    return tmp_path / "lake"


@pytest.fixture
def holder(lake: Path) -> Iterator[subprocess.Popen[str]]:
    """A process holding the lake's run lock until its stdin closes."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(lake)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None and process.stdout.readline().strip() == "held"
    yield process
    if process.poll() is None:
        process.kill()
    process.wait(timeout=30)


def lock_record(lake: Path) -> str:
    return (lake / "logs" / LOCK_FILE).read_text()


def dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


LOCKED_COMMANDS = {
    "run": ["run"],
    "generate": ["generate", "--scale", "0.01"],
    "stage": ["stage"],
    "build": ["build"],
    "export": ["export"],
    "import saas-sales": ["import", "saas-sales", "orders.csv"],
    "import berka": ["import", "berka", "."],
    "import ga": ["import", "ga", "."],
}


def test_every_lake_changing_command_is_refused_while_another_process_holds_the_lake(
    lake: Path, holder: subprocess.Popen[str]
) -> None:
    record = json.loads(lock_record(lake))
    assert record["pid"] == holder.pid and record["command"] == "c360 run"
    expected = (
        f"in use by pid {holder.pid} on host {socket.gethostname()} (c360 run, started {record['started']})"
    )
    for name, args in LOCKED_COMMANDS.items():
        result = c360(*args, "--lake", str(lake))
        assert result.returncode == 1, f"c360 {name} was not refused: {result.stdout}{result.stderr}"
        assert expected in result.stderr, f"c360 {name}: {result.stderr}"
        assert "Traceback" not in result.stderr
    assert json.loads(lock_record(lake)) == record, "a refused command must not touch the holder's record"
    assert not (lake / "raw").exists() and not (lake / "analytics").exists(), "a refused command wrote"


def test_the_lake_is_free_again_once_the_holder_finishes(lake: Path, holder: subprocess.Popen[str]) -> None:
    assert holder.stdin is not None
    holder.stdin.close()
    assert holder.wait(timeout=30) == 0
    assert lock_record(lake) == "", "a clean release leaves no record"
    result = c360("export", "--lake", str(lake))
    assert "in use" not in result.stderr and "stale" not in result.stderr
    assert "run `c360 build` first" in result.stderr


def test_a_killed_runs_lock_is_cleared_with_a_message(lake: Path, holder: subprocess.Popen[str]) -> None:
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    assert json.loads(lock_record(lake))["pid"] == holder.pid, "the killed run left its record"
    result = c360("export", "--lake", str(lake))
    assert f"cleared a stale lock of a run that is gone: pid {holder.pid}" in result.stderr
    assert "run `c360 build` first" in result.stderr, "the command went on under its own lock"
    assert lock_record(lake) == ""


def test_a_stale_lock_file_with_a_dead_pid_is_cleared(lake: Path) -> None:
    pid = dead_pid()
    (lake / "logs").mkdir(parents=True)
    stale = {
        "pid": pid,
        "host": socket.gethostname(),
        "command": "c360 build",
        "started": "2025-01-01T00:00:00",
    }
    (lake / "logs" / LOCK_FILE).write_text(json.dumps(stale))
    result = c360("export", "--lake", str(lake))
    assert (
        f"cleared a stale lock of a run that is gone: pid {pid} on host {socket.gethostname()} (c360 build, "
        in (result.stderr)
    )
    assert "run `c360 build` first" in result.stderr
    assert lock_record(lake) == ""


def test_a_lock_left_by_another_host_is_not_broken(lake: Path) -> None:
    (lake / "logs").mkdir(parents=True)
    other = {"pid": 1, "host": "batch-7.example", "command": "c360 run", "started": "2025-01-01T00:00:00"}
    (lake / "logs" / LOCK_FILE).write_text(json.dumps(other))
    result = c360("stage", "--lake", str(lake))
    assert result.returncode == 1
    assert "pid 1 on host batch-7.example (c360 run" in result.stderr
    assert f"delete {lake / 'logs' / LOCK_FILE}" in result.stderr
    assert json.loads(lock_record(lake)) == other


def test_the_lock_is_reentrant_within_a_process_and_kept_until_the_outer_holder_ends(lake: Path) -> None:
    """What ``c360 run`` does: hold the lake, then call the steps, which take the lock again."""
    store = Lake(str(lake))
    with lake_lock(store, "c360 run"):
        inner = CliRunner().invoke(app, ["export", "--lake", str(lake)])
        assert "in use" not in inner.output and "run `c360 build` first" in inner.output
        assert json.loads(lock_record(lake))["pid"] == os.getpid(), "the inner step released the outer lock"
        other = c360("stage", "--lake", str(lake))
        assert other.returncode == 1 and f"in use by pid {os.getpid()}" in other.stderr
    assert lock_record(lake) == ""


def test_an_s3_lake_is_not_locked_and_the_log_says_so(caplog: pytest.LogCaptureFixture) -> None:
    with (
        caplog.at_level(logging.WARNING, logger="c360.lock"),
        lake_lock(Lake("s3://bucket/lake"), "c360 run"),
    ):
        pass
    assert "no run lock" in caplog.text


def test_a_read_only_lake_cannot_be_locked_and_says_why(lake: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The lock file is the first write of every command: on a read-only lake it fails with a clear message.
    (tests/reliability/test_full_or_read_only_lake.py does the same on a real read-only mount.)"""
    import errno

    def read_only_open(*args: object, **kwargs: object) -> int:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr("c360.lock.os.open", read_only_open)
    result = CliRunner().invoke(app, ["build", "--lake", str(lake)])
    assert result.exit_code == 1
    assert "cannot lock the lake" in result.output and "read-only file system" in result.output
