"""A day's batch is generated at the scale and seed of the lake's history (``c360 generate --day``)."""

from __future__ import annotations

import gzip
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from c360 import pipeline
from c360.cli import app
from c360.errors import C360Error
from c360.settings import Settings
from c360.storage import Lake

DAY = date(2025, 1, 3)


def _history(lake: Path, scale: float, seed: int) -> Settings:
    """The file sources' history (no source database: the transactions are not what this is about)."""
    settings = Settings().with_overrides(lake=str(lake), scale=scale, seed=seed)
    pipeline.generate(settings, Lake(settings.lake))
    return settings


def _day_records(lake: Path) -> dict[str, int]:
    """Lines per raw file of the day, by path under raw/."""
    counts = {}
    for path in sorted((lake / "raw").rglob("*")):
        if path.is_file() and f"ingest_date={DAY}" in path.parts:
            data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
            counts[str(path.relative_to(lake / "raw"))] = data.count(b"\n")
    return counts


def test_the_history_records_its_scale_and_seed(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    assert pipeline.generated_history(Lake(str(lake))) is None  # nothing generated yet
    _history(lake, 0.02, 5)
    assert pipeline.generated_history(Lake(str(lake))) == (0.02, 5)


def test_a_day_without_scale_or_seed_takes_the_historys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`c360 generate --day` alone writes the day the history's scale and seed give, not the defaults' (scale 1
    would replace a small lake's visitor map with 5,000 clients' links)."""
    monkeypatch.delenv("C360_SCALE", raising=False)
    monkeypatch.delenv("C360_SEED", raising=False)
    cli_lake, expected_lake = tmp_path / "cli", tmp_path / "expected"
    result = CliRunner().invoke(app, ["generate", "--scale", "0.02", "--seed", "5", "--lake", str(cli_lake)])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(app, ["generate", "--day", str(DAY), "--lake", str(cli_lake)])
    assert result.exit_code == 0, result.output

    settings = _history(expected_lake, 0.02, 5)
    pipeline.generate(settings, Lake(settings.lake), DAY)
    expected = _day_records(expected_lake)
    assert expected and any("visitor_map" in path for path in expected)
    assert _day_records(cli_lake) == expected


@pytest.mark.parametrize(("scale", "seed"), [(1.0, 5), (0.02, 6)])
def test_a_day_at_another_scale_or_seed_than_the_history_is_refused(
    tmp_path: Path, scale: float, seed: int
) -> None:
    lake = tmp_path / "lake"
    _history(lake, 0.02, 5)
    other = Settings().with_overrides(lake=str(lake), scale=scale, seed=seed)
    with pytest.raises(C360Error, match=r"generated at scale 0\.02 with seed 5") as error:
        pipeline.generate(other, Lake(other.lake), DAY)
    assert f"a day at scale {scale} with seed {seed}" in str(error.value)
    assert _day_records(lake) == {}  # nothing of the day written


def test_the_cli_refuses_a_day_whose_option_or_environment_differs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = tmp_path / "lake"
    _history(lake, 0.02, 5)
    monkeypatch.delenv("C360_SEED", raising=False)
    monkeypatch.delenv("C360_SCALE", raising=False)
    runner = CliRunner()
    given = runner.invoke(app, ["generate", "--day", str(DAY), "--scale", "1", "--lake", str(lake)])
    assert given.exit_code == 1
    assert "generated at scale 0.02 with seed 5" in given.output and "--scale 0.02 --seed 5" in given.output
    monkeypatch.setenv("C360_SEED", "9")  # the environment is given too: it is not overridden silently
    from_env = runner.invoke(app, ["generate", "--day", str(DAY), "--lake", str(lake)])
    assert from_env.exit_code == 1 and "a day at scale 0.02 with seed 9" in from_env.output
    assert _day_records(lake) == {}


def test_a_lake_without_a_generated_history_takes_any_day(tmp_path: Path) -> None:
    """Raw files imported from the public datasets carry no generated scale: a day is generated as asked."""
    settings = Settings().with_overrides(lake=str(tmp_path / "lake"), scale=0.02, seed=5)
    pipeline.generate(settings, Lake(settings.lake), DAY)
    assert _day_records(tmp_path / "lake")


def test_an_unreadable_record_is_a_clear_error(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    _history(lake, 0.02, 5)
    record = lake / Path(*pipeline.HISTORY_RECORD)
    record.write_text('{"scale": "many"}')
    with pytest.raises(C360Error, match="is not a record of a generated history"):
        pipeline.generated_history(Lake(str(lake)))
    result = CliRunner().invoke(app, ["generate", "--day", str(DAY), "--lake", str(lake)])
    assert result.exit_code == 1 and "generate the history again" in result.output
