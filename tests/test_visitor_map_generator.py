"""The web visitor map: string visitor ids, clients of the CRM, several devices, flagged ambiguity."""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest

from c360.settings import Settings
from c360.storage import Lake
from ingestion import visitor_map
from ingestion.common import start_of_day
from ingestion.crm import build_population

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference-data"
WORKSHOP_MAP = REFERENCE / "workshop_2024" / "visitors" / "ga_visitors.csv"
END = date(2024, 12, 31)


def _rows(uri: str) -> list[tuple[str, int]]:
    with open(uri, newline="") as handle:
        reader = csv.reader(handle)
        assert next(reader) == ["fullVisitorId", "client_id"]
        return [(visitor, int(client)) for visitor, client in reader]


@pytest.fixture(scope="module")
def full_map(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, str, list[tuple[str, int]]]:
    """The end date's map at scale 1 (5,000 clients)."""
    settings = Settings().with_overrides(lake=str(tmp_path_factory.mktemp("map") / "lake"), scale=1, seed=9)
    [(uri, count)] = visitor_map.generate(settings, Lake(settings.lake))
    rows = _rows(uri)
    assert len(rows) == count
    return settings, uri, rows


def test_file_layout_and_text_format(full_map: tuple[Settings, str, list[tuple[str, int]]]) -> None:
    settings, uri, _ = full_map
    assert Path(uri).relative_to(settings.lake).as_posix() == (
        "raw/visitor_map/ingest_date=2024-12-31/visitor_map_20241231T000000Z.csv"
    )
    data = Path(uri).read_bytes()
    assert data.startswith(b"fullVisitorId,client_id\n")
    assert b"\r" not in data and data.endswith(b"\n")


def test_visitor_ids_are_strings_and_some_start_with_zero(
    full_map: tuple[Settings, str, list[tuple[str, int]]],
) -> None:
    _, _, rows = full_map
    visitors = {visitor for visitor, _ in rows}
    assert all(v.isdigit() and 17 <= len(v) <= 19 for v in visitors)
    share = sum(v.startswith("0") for v in visitors) / len(visitors)
    assert 0.05 <= share <= 0.10, f"{share:.1%} start with 0"
    assert all(len(v) == 19 for v in visitors if v.startswith("0")), "zero-padded to GA's 19 digits"


def test_visitor_ids_look_like_the_workshop_maps() -> None:
    if not WORKSHOP_MAP.is_file():
        pytest.skip(f"the workshop's visitor map is not at {WORKSHOP_MAP} (../shared/reference-data)")
    with open(WORKSHOP_MAP, newline="") as handle:
        real_lengths = {len(visitor) for visitor, _ in csv.reader(handle)}
    ours = visitor_map.build_visitors(1, 0.2, END).visitor_id
    assert {len(v) for v in ours} == real_lengths


def test_every_client_exists_in_the_crm_when_linked(
    full_map: tuple[Settings, str, list[tuple[str, int]]],
) -> None:
    settings, _, rows = full_map
    pop = build_population(settings.seed, settings.scale, settings.end_date)
    at = np.datetime64(start_of_day(settings.end_date).replace(tzinfo=None), "s")
    existing = set(pop.client_id[pop.created_at <= at].tolist())
    assert {client for _, client in rows} <= existing
    assert len(set(rows)) == len(rows), "no duplicate row"


def test_clients_have_several_devices_and_not_all_bank_online(
    full_map: tuple[Settings, str, list[tuple[str, int]]],
) -> None:
    settings, _, rows = full_map
    devices = Counter(client for _, client in rows)
    assert max(devices.values()) >= 3
    assert sum(n >= 2 for n in devices.values()) > 0.2 * len(devices)
    pop = build_population(settings.seed, settings.scale, settings.end_date)
    at = np.datetime64(start_of_day(settings.end_date).replace(tzinfo=None), "s")
    share = len(devices) / int((pop.created_at <= at).sum())
    assert share == pytest.approx(visitor_map.DIGITAL_SHARE, abs=0.05)


def test_a_small_documented_share_of_visitors_is_ambiguous(
    full_map: tuple[Settings, str, list[tuple[str, int]]],
) -> None:
    _, _, rows = full_map
    clients = defaultdict(set)
    for visitor, client in rows:
        clients[visitor].add(client)
    ambiguous = [v for v, c in clients.items() if len(c) > 1]
    assert max(len(c) for c in clients.values()) == 2
    assert len(ambiguous) / len(clients) == pytest.approx(visitor_map.AMBIGUOUS_SHARE, abs=0.01)


def test_anonymous_visitors_are_not_in_the_map(full_map: tuple[Settings, str, list[tuple[str, int]]]) -> None:
    settings, _, rows = full_map
    universe = visitor_map.build_visitors(settings.seed, settings.scale, settings.end_date)
    assert len(set(universe.visitor_id.tolist())) == len(universe), "ids never collide"
    anonymous = set(universe.visitor_id[~universe.known].tolist())
    assert anonymous
    assert not anonymous & {visitor for visitor, _ in rows}


def test_daily_snapshots_grow(tmp_path: Path) -> None:
    settings = Settings().with_overrides(lake=str(tmp_path / "lake"), scale=0.2, seed=4)
    lake = Lake(settings.lake)
    [(earlier_uri, _)] = visitor_map.generate_day(settings, lake, END - timedelta(days=200))
    [(later_uri, _)] = visitor_map.generate(settings, lake)
    earlier, later = set(_rows(earlier_uri)), set(_rows(later_uri))
    assert earlier < later
    assert "ingest_date=2024-06-14" in earlier_uri


def test_same_settings_give_the_same_file_and_another_seed_another(tmp_path: Path) -> None:
    outputs = []
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        settings = Settings().with_overrides(lake=str(tmp_path / name), scale=0.2, seed=seed)
        [(uri, _)] = visitor_map.generate(settings, Lake(settings.lake))
        outputs.append((Path(uri).relative_to(settings.lake), Path(uri).read_bytes()))
    assert outputs[0] == outputs[1]
    assert outputs[0][0] == outputs[2][0] and outputs[0][1] != outputs[2][1]


def test_volume_is_linear_in_scale(tmp_path: Path) -> None:
    counts = {}
    for scale in (0.2, 0.4):
        settings = Settings().with_overrides(lake=str(tmp_path / str(scale)), scale=scale, seed=2)
        [(_, counts[scale])] = visitor_map.generate(settings, Lake(settings.lake))
    # 1,000 clients at scale 0.2, DIGITAL_SHARE of them online with 1-3 devices (some linked only later).
    online = 1000 * visitor_map.DIGITAL_SHARE
    assert online <= counts[0.2] <= online * float(np.dot(visitor_map.DEVICES, visitor_map.DEVICES_P)) * 1.05
    assert counts[0.4] == pytest.approx(2 * counts[0.2], rel=0.1)


def test_lambda_handler_writes_the_event_day_snapshot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("C360_LAKE", str(tmp_path / "lk"))
    monkeypatch.setenv("C360_SCALE", "0.2")
    monkeypatch.setenv("C360_END_DATE", "2024-12-31")
    event = {
        "version": "0",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "time": "2024-12-20T00:00:00Z",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/c360-visitor-map"],
        "detail": {},
    }
    result = visitor_map.c360view_visitor_map(event, None)
    assert result["source"] == "visitor_map"
    assert "ingest_date=2024-12-20/visitor_map_20241220T000000Z.csv" in result["uri"]
    assert len(_rows(result["uri"])) == result["records"] > 0
