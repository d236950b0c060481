"""Fixtures of the reliability tests: one lake built through the CLI for the whole session, copied by the tests
that break things."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from c360.cli import app
from tests.reliability.lakes import can_mount

SCALE, SEED = "0.05", "5"
STEPS = (["generate", "--scale", SCALE, "--seed", SEED], ["stage"], ["build"], ["export"])


@pytest.fixture(scope="session")
def built_lake(spark, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A lake after generate, stage, build and export (scale 0.05). Tests copy it before breaking anything; the
    rerun test reruns the steps on it, which must leave its content as it was."""
    lake = tmp_path_factory.mktemp("reliability") / "lake"
    runner = CliRunner()
    for args in STEPS:
        result = runner.invoke(app, [*args, "--lake", str(lake)])
        assert result.exit_code == 0, f"c360 {args[0]}: {result.output}"
    return lake


@pytest.fixture(scope="session")
def mounts(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Skip unless this process can mount file systems (tmpfs, read-only binds): the container runs as root."""
    if not can_mount(tmp_path_factory.mktemp("mount-probe") / "probe"):
        pytest.skip("mounting file systems is not permitted here (needs root with CAP_SYS_ADMIN)")
