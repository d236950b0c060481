from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from c360.settings import Settings
from c360.storage import Lake
from ingestion import crm


def _lines(path: str) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines()]


def test_same_seed_scale_and_day_give_byte_identical_files(tmp_path: Path) -> None:
    outputs = []
    for name in ("a", "b"):
        settings = Settings().with_overrides(lake=str(tmp_path / name), scale=0.1, seed=3)
        written = crm.generate(settings, Lake(settings.lake))
        outputs.append([(Path(uri).relative_to(settings.lake), Path(uri).read_bytes()) for uri, _ in written])
    assert outputs[0] == outputs[1]
    other = Settings().with_overrides(lake=str(tmp_path / "c"), scale=0.1, seed=4)
    written = crm.generate(other, Lake(other.lake))
    assert Path(written[0][0]).read_bytes() != outputs[0][0][1]


def test_full_snapshot_then_incremental_changes(settings: Settings, lake: Lake) -> None:
    (full_uri, full_n), (delta_uri, delta_n) = crm.generate(settings, lake)
    assert "ingest_date=2024-12-01" in full_uri and "ingest_date=2024-12-31" in delta_uri
    full, delta = _lines(full_uri), _lines(delta_uri)
    assert len(full) == full_n and len(delta) == delta_n
    n = crm.client_count(settings.scale)
    ids = [r["client_id"] for r in full] + [r["client_id"] for r in delta]
    assert set(ids) == set(range(1, n + 1)), "every client appears, in one key space"
    assert len({r["client_id"] for r in full}) == len(full)
    changed = {r["client_id"] for r in delta} & {r["client_id"] for r in full}
    assert changed, "some customers change between the extracts"
    by_id = {r["client_id"]: r for r in full}
    for record in delta:
        if record["client_id"] in changed:
            assert record["updated_at"] > by_id[record["client_id"]]["updated_at"]


def test_records_are_strict_json_with_every_attribute(settings: Settings, lake: Lake) -> None:
    (uri, _), _ = crm.generate(settings, lake)
    text = Path(uri).read_text()
    assert "'" not in text.split("\n")[0].split('"occupation"')[0], "no Python dict repr"
    record = json.loads(text.splitlines()[0])
    expected = {
        "client_id",
        "first_name",
        "last_name",
        "email",
        "phone",
        "street_address",
        "city",
        "birth_date",
        "age",
        "gender",
        "home_ownership",
        "occupation",
        "marital_status",
        "head_of_household_flag",
        "income_band",
        "cars_owned",
        "client_created_date",
        "updated_at",
    }
    assert set(record) == expected
    assert record["gender"] in {"F", "M"} and record["home_ownership"] in {"O", "R", "U"}
    assert date.fromisoformat(record["birth_date"]) < date(2010, 1, 1)


def test_volume_grows_linearly_with_scale() -> None:
    assert crm.client_count(1) == 5000
    assert crm.client_count(10) == 50000
    assert crm.client_count(0.2) == 1000


def test_lambda_handler_writes_the_event_day_batch(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("C360_LAKE", str(tmp_path / "lk"))
    monkeypatch.setenv("C360_SCALE", "0.2")
    event = {
        "version": "0",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "time": "2024-12-20T00:00:00Z",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/c360-crm"],
        "detail": {},
    }
    result = crm.lambda_handler(event, None)
    assert result["source"] == "crm"
    assert "ingest_date=2024-12-20" in result["uri"]
    records = _lines(result["uri"])
    assert len(records) == result["records"] > 0
    assert all(r["updated_at"] >= "2024-12-19" for r in records)
