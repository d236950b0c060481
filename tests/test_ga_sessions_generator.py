"""The Google Analytics generator: the real export's shape, consistent totals, the bank's site, determinism."""

from __future__ import annotations

import gzip
import json
import re
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from c360.settings import Settings
from c360.storage import Lake, LakeError
from ingestion import ga_sessions as ga
from ingestion import visitor_map

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference-data"
GA_SAMPLE = REFERENCE / "ga_sessions"
END = date(2024, 12, 31)
JSON_TYPES = {
    bool: "bool",
    int: "int",
    float: "float",
    str: "str",
    type(None): "null",
    dict: "object",
    list: "array",
}


@pytest.fixture(scope="module")
def schedule() -> ga.Schedule:
    return ga.build_schedule(11, 0.2, END)


@pytest.fixture(scope="module")
def recent_sessions(schedule: ga.Schedule) -> list[dict]:
    """About 1,400 sessions: the last 20 days of the history at scale 0.2."""
    sessions = []
    for day in ga.history_days(END)[-20:]:
        data, count = ga.render_day(schedule, day)
        lines = data.decode("ascii").splitlines()
        assert len(lines) == count
        sessions += [json.loads(line) for line in lines]
    return sessions


def _shape(value: object, path: str, keys: dict[str, set], types: dict[str, set]) -> None:
    """Record, for every path, the ordered key lists of its objects and the JSON types of its values."""
    types[path].add(JSON_TYPES[type(value)])
    if isinstance(value, dict):
        keys[path].add(tuple(value))
        for key, item in value.items():
            _shape(item, f"{path}.{key}", keys, types)
    elif isinstance(value, list):
        for item in value:
            _shape(item, f"{path}[]", keys, types)


def test_sessions_have_the_real_exports_keys_nesting_and_types(recent_sessions: list[dict]) -> None:
    if not GA_SAMPLE.is_dir():
        pytest.skip(f"the real GA sample is not at {GA_SAMPLE} (../shared/reference-data beside the clone)")
    real_keys: dict[str, set] = defaultdict(set)
    real_types: dict[str, set] = defaultdict(set)
    for file in sorted(GA_SAMPLE.glob("ga_sessions_*.json")):
        for line in file.read_text().splitlines():
            _shape(json.loads(line), "", real_keys, real_types)
    assert real_keys, "no sessions read from the real sample"
    ours_keys: dict[str, set] = defaultdict(set)
    ours_types: dict[str, set] = defaultdict(set)
    for session in recent_sessions:
        _shape(session, "", ours_keys, ours_types)

    assert set(ours_keys) == set(real_keys), (
        "the same objects at the same paths (nothing missing, nothing extra)"
    )
    for path, key_lists in real_keys.items():
        assert ours_keys[path] == key_lists, f"{path or 'a session'}: keys (and their order) differ"
    assert set(ours_types) == set(real_types), "the same value paths"
    for path, real in real_types.items():
        ours = ours_types[path]
        if real - {"null"}:
            assert ours - {"null"} <= real - {"null"}, f"{path}: {ours} where the export has {real}"
        else:  # always null in the sample: any scalar will do, but not a new structure
            assert not ours & {"object", "array"}, f"{path}: a structure where the export has only nulls"


def test_full_visitor_id_is_a_string_and_some_start_with_zero(
    schedule: ga.Schedule, recent_sessions: list[dict]
) -> None:
    data, _ = ga.render_day(schedule, END)
    ids = re.findall(r'"fullVisitorId":("?)(\d+)("?)', data.decode("ascii"))
    assert ids and all(q1 == q2 == '"' for q1, _, q2 in ids), "fullVisitorId is a JSON string"
    visitors = {s["fullVisitorId"] for s in recent_sessions}
    assert all(isinstance(v, str) and v.isdigit() and 17 <= len(v) <= 19 for v in visitors)
    assert any(v.startswith("0") for v in visitors), "some sessions have a leading-zero visitor"
    everyone = schedule.visitors.visitor_id
    share = sum(v.startswith("0") for v in everyone) / len(everyone)
    assert 0.05 <= share <= 0.10, f"{share:.1%} of the visitor ids start with 0"


def test_totals_agree_with_the_hits(recent_sessions: list[dict]) -> None:
    for s in recent_sessions:
        totals, hits = s["totals"], s["hits"]
        pages = [h for h in hits if h["type"] == "PAGE"]
        purchases = [h for h in hits if h["eCommerceAction"]["action_type"] == "6"]
        assert 1 <= len(hits) <= 30
        assert totals["hits"] == len(hits)
        assert totals["pageviews"] == len(pages) >= 1
        assert totals["visits"] == 1
        assert totals["bounces"] == (1 if len(hits) == 1 else None)
        assert totals["newVisits"] == (1 if s["visitNumber"] == 1 else None)
        assert (totals["timeOnSite"] is None) == (len(hits) == 1)
        if len(hits) > 1:
            assert totals["timeOnSite"] == hits[-1]["time"] // 1000 > 0
        assert totals["transactions"] == (len(purchases) or None)
        revenue = sum(h["transaction"]["transactionRevenue"] for h in purchases)
        assert totals["transactionRevenue"] == totals["totalTransactionRevenue"] == (revenue or None)
        assert 0 not in totals.values(), "GA writes null, not 0"
        assert [h["hitNumber"] for h in hits] == list(range(1, len(hits) + 1))
        assert [h["time"] for h in hits] == sorted(h["time"] for h in hits) and hits[0]["time"] == 0
        assert [h["isEntrance"] for h in hits] == [True] + [None] * (len(hits) - 1)
        assert [h["isExit"] for h in hits] == [None] * (len(hits) - 1) + [True]
        assert hits[0]["type"] == "PAGE"


def test_dates_and_clock_fields_agree(recent_sessions: list[dict]) -> None:
    for s in recent_sessions:
        start = datetime.fromtimestamp(s["visitStartTime"], UTC)
        assert s["visitId"] == s["visitStartTime"]
        assert s["date"] == start.strftime("%Y%m%d"), "the view's time zone is UTC"
        for hit in s["hits"]:
            moment = start + timedelta(milliseconds=hit["time"])
            assert (hit["hour"], hit["minute"]) == (moment.hour, moment.minute)
    assert len({(s["fullVisitorId"], s["visitId"]) for s in recent_sessions}) == len(recent_sessions)


def test_pages_are_a_bank_website_with_content_groups(recent_sessions: list[dict]) -> None:
    hits = [h for s in recent_sessions for h in s["hits"]]
    paths = {h["page"]["pagePath"] for h in hits}
    for expected in ("/home", "/online-banking/login", "/cards/gold", "/loans/mortgage/rates"):
        assert expected in paths
    assert any(p.startswith("/personal/accounts/") for p in paths)
    assert any(p.startswith("/investments/") for p in paths)
    for hit in hits:
        page = hit["page"]
        parts = page["pagePath"].strip("/").split("/")
        assert page["pagePathLevel1"] == "/" + parts[0] + ("/" if len(parts) > 1 else "")
        if len(parts) > 3:
            assert page["pagePathLevel4"] == "/" + "/".join(parts[3:])
        assert page["hostname"] in (ga.WWW, ga.SECURE)
        group = hit["contentGroup"]["contentGroup1"]
        assert group in ga.SECTIONS
        if page["pagePath"].startswith("/online-banking/"):
            assert group == "Online Banking"
        if page["pagePath"].startswith("/cards/"):
            assert group == "Cards"
    channels = {s["channelGrouping"] for s in recent_sessions}
    assert channels == set(ga.CHANNELS)


def test_campaign_traffic_and_responses_can_be_measured(recent_sessions: list[dict]) -> None:
    themed = [
        s for s in recent_sessions if re.fullmatch(r"[a-z_]+_\d{4}_\d{2}", s["trafficSource"]["campaign"])
    ]
    assert len(themed) > 0.05 * len(recent_sessions)
    assert {s["channelGrouping"] for s in themed} <= set(ga.PAID_CHANNELS)
    by_theme = {t.name: t for t in ga.THEMES}
    responses = 0
    for s in themed:
        theme = by_theme[s["trafficSource"]["campaign"].rsplit("_", 2)[0]]
        assert s["hits"][0]["page"]["pagePath"] == theme.landing, "campaign traffic lands on its landing page"
        bought = {
            p["productSKU"]
            for h in s["hits"]
            if h["transaction"]
            for p in h["product"]
            if p["productRevenue"]
        }
        responses += theme.product in bought
    assert responses > 0, "some campaign sessions complete an application for the campaign's product"
    paid_search = [
        s
        for s in themed
        if s["trafficSource"]["medium"] == "cpc" and s["trafficSource"]["source"] == "google"
    ]
    assert all(s["trafficSource"]["adwordsClickInfo"]["gclId"] for s in paid_search)


def test_visitors_are_those_of_the_visitor_map_or_anonymous(tmp_path: Path) -> None:
    settings = Settings().with_overrides(lake=str(tmp_path / "lake"), scale=0.2, seed=5)
    lake = Lake(settings.lake)
    [(map_uri, _)] = visitor_map.generate(settings, lake)
    mapped = {line.split(",")[0] for line in Path(map_uri).read_text().splitlines()[1:]}
    [(ga_uri, sessions)] = ga.generate_day(settings, lake, END - timedelta(days=1))
    seen = [
        json.loads(line)["fullVisitorId"] for line in gzip.decompress(Path(ga_uri).read_bytes()).splitlines()
    ]
    assert len(seen) == sessions > 0
    universe = visitor_map.build_visitors(settings.seed, settings.scale, settings.end_date)
    anonymous = set(universe.visitor_id[~universe.known].tolist())
    assert all(v in mapped or v in anonymous for v in seen)
    assert any(v in mapped for v in seen) and any(v in anonymous for v in seen)


def test_known_visitors_visit_only_after_their_link(schedule: ga.Schedule) -> None:
    known = schedule.visitors.known[schedule.visitor]
    linked = schedule.visitors.linked_at[schedule.visitor[known]].astype("int64")
    assert (schedule.start[known] >= linked).all()
    assert known.mean() == pytest.approx(ga.KNOWN_SESSION_SHARE, abs=0.05)


def test_generate_is_deterministic_and_generate_day_matches_it(tmp_path: Path) -> None:
    outputs = []
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        settings = Settings().with_overrides(lake=str(tmp_path / name), scale=0.02, seed=seed)
        written = ga.generate(settings, Lake(settings.lake))
        outputs.append(
            {str(Path(uri).relative_to(settings.lake)): Path(uri).read_bytes() for uri, _ in written}
        )
    assert outputs[0] == outputs[1], "same seed, scale and end date: the same names and bytes"
    assert outputs[0] != outputs[2], "another seed gives other data"
    names = sorted(outputs[0])
    assert len(names) == ga.HISTORY_DAYS
    first = END - timedelta(days=ga.HISTORY_DAYS - 1)
    assert names[0] == f"raw/ga_sessions/ingest_date={first}/ga_sessions_{first:%Y%m%d}.json.gz"
    assert names[-1] == "raw/ga_sessions/ingest_date=2024-12-31/ga_sessions_20241231.json.gz"
    settings = Settings().with_overrides(lake=str(tmp_path / "d"), scale=0.02, seed=3)
    day = date(2024, 6, 3)
    [(uri, _)] = ga.generate_day(settings, Lake(settings.lake), day)
    assert (
        Path(uri).read_bytes()
        == outputs[0][f"raw/ga_sessions/ingest_date={day}/ga_sessions_{day:%Y%m%d}.json.gz"]
    )
    data, _ = ga.render_day(ga.build_schedule(3, 0.02, END), day)
    assert gzip.decompress(Path(uri).read_bytes()) == data and data.count(b"\n") > 0


def test_a_day_that_cannot_be_written_fails_the_generation(tmp_path: Path) -> None:
    """Days are compressed and written in a thread while the next ones are rendered: a failed write still stops
    ``generate`` with the lake's error, and the days after it are not written."""
    settings = Settings().with_overrides(lake=str(tmp_path / "lake"), scale=0.02, seed=3)
    lake = Lake(settings.lake)
    blocked = date(2023, 6, 1)
    Path(lake.uri("raw", ga.SOURCE)).mkdir(parents=True)
    Path(lake.uri("raw", ga.SOURCE, f"ingest_date={blocked}")).write_text(
        "a file where the day's folder goes"
    )
    with pytest.raises(LakeError, match=f"ingest_date={blocked}"):
        ga.generate(settings, lake)
    days = sorted(
        date.fromisoformat(p.parent.name.removeprefix("ingest_date="))
        for p in Path(lake.uri("raw", ga.SOURCE)).glob("ingest_date=*/*.json.gz")
    )
    assert days[0] == END - timedelta(days=ga.HISTORY_DAYS - 1) and blocked - timedelta(days=1) in days
    assert blocked not in days and days[-1] < blocked + timedelta(days=ga.WRITES_AHEAD), (
        "no day long after it"
    )


def test_volume_is_linear_in_scale() -> None:
    def history_sessions(scale: float) -> int:
        plan = ga.build_schedule(2, scale, END)
        start = datetime(END.year, END.month, END.day, tzinfo=UTC) - timedelta(days=ga.HISTORY_DAYS - 1)
        end = datetime(END.year, END.month, END.day, tzinfo=UTC) + timedelta(days=1)
        return int(((plan.start >= start.timestamp()) & (plan.start < end.timestamp())).sum())

    small, large = history_sessions(0.2), history_sessions(0.4)
    assert small == pytest.approx(0.2 * ga.SESSIONS_PER_SCALE, rel=0.03)
    assert large == pytest.approx(2 * small, rel=0.03)


def test_days_outside_the_simulation_are_refused(tmp_path: Path) -> None:
    settings = Settings().with_overrides(lake=str(tmp_path / "lake"), scale=0.02, seed=1)
    with pytest.raises(ValueError, match="outside"):
        ga.generate_day(settings, Lake(settings.lake), END - timedelta(days=ga.HISTORY_DAYS))


def test_lambda_handler_writes_the_event_day(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("C360_LAKE", str(tmp_path / "lk"))
    monkeypatch.setenv("C360_SCALE", "0.2")
    monkeypatch.setenv("C360_END_DATE", "2024-12-31")
    event = {
        "version": "0",
        "id": "7bf73129-1428-4cd3-a780-95db273d1602",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": "2024-12-20T00:00:00Z",
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/c360-ga-tables"],
        "detail": {},
    }
    result = ga.c360view_get_ga_tables(event, None)
    assert result["source"] == "ga_sessions"
    assert result["uri"].endswith("ingest_date=2024-12-20/ga_sessions_20241220.json.gz")
    sessions = [json.loads(line) for line in gzip.decompress(Path(result["uri"]).read_bytes()).splitlines()]
    assert len(sessions) == result["records"] > 0
    assert {s["date"] for s in sessions} == {"20241220"}
