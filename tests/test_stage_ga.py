"""The GA stage job: session and hit tables, quarantine reasons, both reconciliations, incremental runs, and the
real public GA sample."""

from __future__ import annotations

import copy
import gzip
import hashlib
import json
import shutil
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from c360.settings import Settings
from c360.storage import Lake
from ingestion import ga_sessions as generator
from spark_jobs import stage_ga_sessions as job
from spark_jobs.common import quality, runner
from spark_jobs.common.code_version import stage_code_fingerprint
from spark_jobs.common.file_bookmarks import FileBookmark
from spark_jobs.common.hadoopfs import HadoopFS
from spark_jobs.common.runner import replace_partition as original_replace_partition

pytestmark = pytest.mark.spark

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference-data" / "ga_sessions"


def hit(
    number: int, path: str = "/cards/gold", kind: str = "PAGE", action: str = "0", **changes: object
) -> dict:
    levels = [part for part in path.split("/") if part]
    record: dict = {
        "hitNumber": number,
        "time": 1000 * (number - 1),
        "isInteraction": True,
        "isEntrance": True if number == 1 else None,
        "isExit": None,
        "type": kind,
        "page": {
            "pagePath": path,
            "hostname": "www.c360bank.example",
            "pageTitle": f"Page {number}",
            "pagePathLevel1": f"/{levels[0]}/" if len(levels) > 1 else f"/{levels[0]}",
            "pagePathLevel2": f"/{levels[1]}" if len(levels) > 1 else "",
            "pagePathLevel3": "",
            "pagePathLevel4": "",
        },
        "transaction": None,
        "eventInfo": None,
        "eCommerceAction": {"action_type": action, "step": 1, "option": None},
        "product": [],
        "contentGroup": {"contentGroup1": "Cards", "contentGroup2": "Product"},
    }
    record.update(changes)
    return record


def session(visitor: str, visit_id: int, day: str = "20241230", **changes: object) -> dict:
    record: dict = {
        "visitorId": None,
        "visitNumber": 2,
        "visitId": visit_id,
        "visitStartTime": visit_id,
        "date": day,
        "totals": {
            "visits": 1,
            "hits": 2,
            "pageviews": 2,
            "timeOnSite": 30,
            "bounces": None,
            "transactions": None,
            "transactionRevenue": None,
            "newVisits": None,
        },
        "trafficSource": {
            "referralPath": None,
            "campaign": "(not set)",
            "source": "google",
            "medium": "organic",
            "keyword": "(not provided)",
            "adContent": None,
            "isTrueDirect": None,
        },
        "device": {
            "browser": "Chrome",
            "operatingSystem": "Windows",
            "isMobile": False,
            "deviceCategory": "desktop",
        },
        "geoNetwork": {
            "continent": "Europe",
            "subContinent": "Northern Europe",
            "country": "United Kingdom",
            "region": "England",
            "metro": "London",
            "city": "not available in demo dataset",
        },
        "customDimensions": [{"index": 4, "value": "EMEA"}],
        "hits": [hit(1), hit(2, "/cards/gold/apply", action="5")],
        "fullVisitorId": visitor,
        "userId": None,
        "clientId": None,
        "channelGrouping": "Organic Search",
    }
    record.update(changes)
    return record


def day_file(root: Path, day: date) -> Path:
    return root / "raw" / "ga_sessions" / f"ingest_date={day.isoformat()}" / f"ga_sessions_{day:%Y%m%d}.json"


def write_day(root: Path, day: date, lines: list[str | bytes]) -> Path:
    path = day_file(root, day)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = [line if isinstance(line, bytes) else line.encode() for line in lines]
    path.write_bytes(b"".join(line + b"\n" for line in data))
    return path


def run_job(spark, root: Path, full_refresh: bool = False):
    return job.run(spark, str(root / "raw"), str(root / "stage"), str(root / "logs"), full_refresh)


def rows(root: Path, table: str, key: tuple[str, ...]) -> list[dict]:
    folder = root / "stage" / table
    found = ds.dataset(folder, format="parquet", partitioning="hive").to_table().to_pylist()
    return sorted(found, key=lambda r: tuple(r[k] for k in key))


def content_hash(root: Path) -> str:
    """Both tables' content, whatever the batch that wrote them."""
    sessions = [
        {k: v for k, v in r.items() if k != "_batch_id"} for r in rows(root, "ga_sessions", ("session_id",))
    ]
    hits = [
        {k: v for k, v in r.items() if k != "_batch_id"}
        for r in rows(root, "ga_hits", ("session_id", "hit_number"))
    ]
    return hashlib.sha256(repr((sessions, hits)).encode()).hexdigest()


def audit(root: Path, source: str) -> dict:
    return json.loads((root / "logs" / "audit" / source / "latest.json").read_text())


def file_stamps(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file below ``folder``: (inode, modification time in ns)."""
    return {
        str(p.relative_to(folder)): (p.stat().st_ino, p.stat().st_mtime_ns)
        for p in folder.rglob("*")
        if p.is_file()
    }


def utc(epoch: int) -> datetime:
    """A naive UTC timestamp, as pyarrow reads Spark's."""
    return datetime.fromtimestamp(epoch, UTC).replace(tzinfo=None)


def hits_of(line: bytes) -> int | None:
    """The number of hits of a raw line, when the line is a JSON object (Python's reading, not the job's)."""
    try:
        value = json.loads(line.decode("utf-8", errors="replace"))
    except json.JSONDecodeError:
        return None
    return len(value.get("hits") or []) if isinstance(value, dict) else None


# --- hand-written inputs --------------------------------------------------------------------------------------
S1 = session(
    "0012345678901234567",
    1735550000,
    totals={
        "visits": 1,
        "hits": 3,
        "pageviews": 2,
        "timeOnSite": 95,
        "bounces": None,
        "transactions": 1,
        "transactionRevenue": 12_500_000,
        "newVisits": 1,
    },
    hits=[
        hit(
            1,
            "/cards/gold",
            action="2",
            product=[
                {
                    "productSKU": "BNK-CRD-GLD",
                    "v2ProductName": "Gold Card",
                    "v2ProductCategory": "Home/Cards/",
                    "productPrice": 95_000_000,
                },
                {
                    "productSKU": "BNK-CRD-CLA",
                    "v2ProductName": "Classic Card",
                    "v2ProductCategory": "Home/Cards/",
                    "productPrice": 45_000_000,
                },
            ],
        ),
        hit(
            2,
            "/cards/gold",
            kind="EVENT",
            eventInfo={
                "eventCategory": "Product",
                "eventAction": "Rate Check",
                "eventLabel": "Gold Card",
                "eventValue": None,
            },
        ),
        {
            **hit(3, action="6", transaction={"transactionId": "APP-1"}),
            "page": {
                "pagePath": "/cards/gold/apply/confirmation",
                "hostname": "www.c360bank.example",
                "pageTitle": "Done",
            },
        },
    ],
)
BAD_LINES: dict[str, tuple[bytes, str]] = {
    "array": (b"[1, 2, 3]", "not a JSON object"),
    "truncated": (json.dumps(session("111", 1735551111)).encode()[:80], "not a JSON object"),
    "missing_visitor": (
        json.dumps({k: v for k, v in session("1", 1735552222).items() if k != "fullVisitorId"}).encode(),
        "fullVisitorId missing",
    ),
    "wrong_type": (
        json.dumps(session("222", 1735553333, visitStartTime="yesterday")).encode(),
        "visitStartTime missing or not a positive integer",
    ),
    "bad_date": (
        json.dumps(session("333", 1735554444, date="20241331")).encode(),
        "date missing or not a valid",
    ),
    "no_hits": (json.dumps(session("444", 1735555555, hits=[])).encode(), "session without hits"),
    "unknown_code": (
        json.dumps(session("555", 1735556666, hits=[hit(1, action="9")])).encode(),
        "unknown eCommerceAction.action_type code",
    ),
    "nested_wrong_type": (
        json.dumps(session("666", 1735557777, hits=[hit(1, time="soon")])).encode(),
        "a value does not have the type of the GA export",
    ),
    "empty": (b"", "empty line"),
    "bad_encoding": (
        json.dumps(session("777", 1735558888))
        .replace("England", "Engl\udcffnd", 1)
        .encode("utf-8", "surrogateescape"),
        "invalid utf-8 bytes",
    ),
    "missing_ids": (
        json.dumps(
            {k: v for k, v in session("888", 1735559999).items() if k not in ("visitId", "visitStartTime")}
        ).encode(),
        "visitId missing or not a positive integer; visitStartTime missing",
    ),
    "unknown_hit_type": (
        json.dumps(session("999", 1735560000, hits=[hit(1, kind="CLICK")])).encode(),
        "unknown hit type",
    ),
    "scalar": (b'"just text"', "not a JSON object"),
}


def test_sessions_hits_quarantine_and_both_reconciliations(spark, tmp_path: Path) -> None:
    s2_first = session("98765432109876543", 1735560500, channelGrouping="Referral")
    s2_again = copy.deepcopy(s2_first) | {"channelGrouping": "Direct"}
    s4 = session("5555", 1735650000, day="20241231", customDimensions=[])
    first = [
        json.dumps(S1).encode(),
        *[text for text, _ in BAD_LINES.values()],
        json.dumps(s2_first).encode(),
    ]
    second = [json.dumps(s2_again).encode(), json.dumps(s4).encode()]
    write_day(tmp_path, date(2024, 12, 30), first)
    write_day(tmp_path, date(2024, 12, 31), second)

    record = run_job(spark, tmp_path)

    assert (record.raw_rows, record.stage_rows, record.quarantined_rows, record.deduplicated_rows) == (
        len(first) + len(second),
        3,
        len(BAD_LINES),
        1,
    )
    # The hit table reconciles through its sessions: counted here from the raw lines with Python's JSON reader.
    objects = [hits_of(line) for line in first + second]
    bad = {1 + i for i in range(len(BAD_LINES))}  # line numbers (0-based in ``first``) of the bad lines
    expected_hits = {
        "raw_rows": sum(n for n in objects if n is not None),
        "stage_rows": len(S1["hits"]) + len(s2_again["hits"]) + len(s4["hits"]),
        "quarantined_rows": sum(objects[i] for i in bad if objects[i] is not None),
        "deduplicated_rows": len(s2_first["hits"]),
    }
    hits_audit = audit(tmp_path, "ga_hits")
    assert {k: hits_audit[k] for k in expected_hits} == expected_hits and hits_audit["balanced"]
    assert audit(tmp_path, "ga_sessions")["balanced"]
    # The audit's stage counts follow from the per-file counts: they must be what the tables hold.
    for table, record_rows in (("ga_hits", hits_audit["stage_rows"]), ("ga_sessions", record.stage_rows)):
        written = ds.dataset(tmp_path / "stage" / table, format="parquet", partitioning="hive").count_rows()
        assert written == record_rows, table

    quarantined = {
        r["_line_number"]: r
        for r in ds.dataset(tmp_path / "stage" / "_quarantine" / "ga_sessions", partitioning="hive")
        .to_table()
        .to_pylist()
    }
    for line_number, (name, (text, reason)) in enumerate(BAD_LINES.items(), start=2):
        row = quarantined[line_number]
        assert reason in row["reason"], (name, row["reason"])
        assert row["raw_record"] == text.decode("utf-8", errors="replace"), name
        assert row["_source_file"].endswith("ingest_date=2024-12-30/ga_sessions_20241230.json"), name
        assert row["raw_file"] == "ingest_date_2024-12-30_ga_sessions_20241230.json"

    sessions = {r["session_id"]: r for r in rows(tmp_path, "ga_sessions", ("session_id",))}
    assert set(sessions) == {
        "0012345678901234567-1735550000",
        "98765432109876543-1735560500",
        "5555-1735650000",
    }
    s1 = sessions["0012345678901234567-1735550000"]
    assert s1["full_visitor_id"] == "0012345678901234567"
    assert (s1["hits"], s1["pageviews"], s1["bounces"], s1["transactions"], s1["new_visits"]) == (
        3,
        2,
        0,
        1,
        1,
    )
    assert s1["transaction_revenue"] == Decimal("12.5")
    assert s1["custom_dimensions"] == [(4, "EMEA")] and s1["sales_region"] == "EMEA"
    assert s1["city"] is None and s1["is_true_direct"] is False and s1["device_category"] == "desktop"
    assert str(s1["session_date"]) == "2024-12-30" and s1["visit_start_at"] == utc(1735550000)
    assert sessions["98765432109876543-1735560500"]["channel_grouping"] == "Direct"  # the later load wins
    assert sessions["98765432109876543-1735560500"]["_ingested_at"].date() == date(2024, 12, 31)
    assert (
        sessions["5555-1735650000"]["custom_dimensions"] == [] and sessions["5555-1735650000"]["bounces"] == 0
    )

    hits = [
        r for r in rows(tmp_path, "ga_hits", ("session_id", "hit_number")) if r["session_id"].startswith("00")
    ]
    assert [h["hit_type"] for h in hits] == ["PAGE", "EVENT", "PAGE"]
    assert [h["ecommerce_action_type"] for h in hits] == ["product_detail_view", "unknown", "purchase"]
    assert (hits[0]["product_count"], hits[0]["product_sku"], hits[0]["product_price"]) == (
        2,
        "BNK-CRD-GLD",
        Decimal("95"),
    )
    assert hits[1]["event_action"] == "Rate Check" and hits[1]["product_count"] == 0
    assert hits[2]["transaction_id"] == "APP-1"
    # Levels the export lacks are derived from the path; the ones it has are kept.
    assert [hits[2][f"page_path_level{k}"] for k in (1, 2, 3, 4)] == [
        "/cards/",
        "/gold/",
        "/apply/",
        "/confirmation",
    ]
    assert [hits[0][f"page_path_level{k}"] for k in (1, 2, 3, 4)] == ["/cards/", "/gold", None, None]
    assert hits[1]["hit_at"] == utc(1735550001)

    for table, schema, key in (
        ("ga_sessions", job.SESSION_SCHEMA, ("session_id",)),
        ("ga_hits", job.HIT_SCHEMA, ("session_id", "hit_number")),
    ):
        read = spark.read.parquet(str(tmp_path / "stage" / table)).schema
        assert [(f.name, f.dataType) for f in read] == [(f.name, f.dataType) for f in schema], table
        # Both days in their month's partition, one file, sorted by day and key.
        assert [p.name for p in (tmp_path / "stage" / table).iterdir() if p.is_dir()] == [
            "session_month=2024-12"
        ]
        (file,) = (tmp_path / "stage" / table / "session_month=2024-12").glob("*.parquet")
        in_file = [(r["session_date"], *(r[k] for k in key)) for r in pq.read_table(file).to_pylist()]
        assert in_file == sorted(in_file) and {day for day, *_ in in_file} == {
            date(2024, 12, 30),
            date(2024, 12, 31),
        }


def test_gzip_days_are_staged_and_a_truncated_one_quarantines_its_cut_line(spark, tmp_path: Path) -> None:
    first = [session("1111", 1735550000), session("2222", 1735560500)]
    second = [session("3333", 1735650000, day="20241231"), session("4444", 1735660000, day="20241231")]
    for day, records, cut in ((date(2024, 12, 30), first, 0), (date(2024, 12, 31), second, 8)):
        path = day_file(tmp_path, day).with_suffix(".json.gz")
        path.parent.mkdir(parents=True, exist_ok=True)
        data = gzip.compress(b"".join(json.dumps(r).encode() + b"\n" for r in records))
        path.write_bytes(data[: len(data) - cut])  # the second day's upload lost its CRC and length trailer

    record = run_job(spark, tmp_path)

    assert (record.raw_rows, record.stage_rows, record.quarantined_rows, record.deduplicated_rows) == (
        4,
        3,
        1,
        0,
    )
    assert {r["session_id"] for r in rows(tmp_path, "ga_sessions", ("session_id",))} == {
        "1111-1735550000",
        "2222-1735560500",
        "3333-1735650000",
    }
    (bad,) = (
        ds.dataset(tmp_path / "stage" / "_quarantine" / "ga_sessions", partitioning="hive")
        .to_table()
        .to_pylist()
    )
    assert bad["_source_file"].endswith("ingest_date=2024-12-31/ga_sessions_20241231.json.gz")
    assert (bad["_line_number"], json.loads(bad["raw_record"])) == (2, second[1])
    assert "gzip stream ends early" in bad["reason"]


# --- incremental runs ------------------------------------------------------------------------------------------
def raw_lines(path: Path) -> list[bytes]:
    return gzip.decompress(path.read_bytes()).splitlines()


def _generated_days(
    settings: Settings, lake: Lake, count: int, last: date | None = None
) -> list[tuple[date, Path]]:
    """The last ``count`` days of generated GA history that have sessions (up to ``last``, when given)."""
    schedule = generator.build_schedule(settings.seed, settings.scale, settings.end_date)
    days = []
    for day in reversed(generator.history_days(settings.end_date)):
        if last is not None and day > last:
            continue
        uri, sessions = generator.write_day(lake, schedule, day)
        if sessions:
            days.append((day, Path(uri)))
        else:
            Path(uri).unlink()
        if len(days) == count:
            return sorted(days)
    raise AssertionError("not enough days with sessions")


def _file_name(row: dict) -> dict:
    return {"_source_file": Path(row["_source_file"]).name} if "_source_file" in row else {}


def test_many_day_files_are_read_in_groups_with_the_same_result(
    spark, settings: Settings, lake: Lake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past ``SPREAD_BYTES`` the day files are read in groups, one task each, instead of the one split Spark packs
    them into: the sessions, hits, counts and line numbers come out exactly as from one read."""
    root = Path(lake.root)
    days = _generated_days(settings, lake, 6)
    whole = run_job(spark, root)
    shutil.copytree(root / "raw", tmp_path / "grouped" / "raw")

    monkeypatch.setattr(quality, "SPREAD_BYTES", 1)
    files = HadoopFS(spark).list_files(str(tmp_path / "grouped" / "raw" / "ga_sessions"), suffixes=(".gz",))
    groups = quality.file_groups(files, spark.sparkContext.defaultParallelism)
    assert len(files) == len(days) and len(groups) >= 2
    assert quality.read_lines(spark, files).rdd.getNumPartitions() == len(groups)
    grouped = run_job(spark, tmp_path / "grouped")

    counts = (whole.raw_rows, whole.stage_rows, whole.quarantined_rows, whole.deduplicated_rows)
    assert whole.raw_rows == sum(len(raw_lines(path)) for _, path in days) > 0
    assert (
        grouped.raw_rows,
        grouped.stage_rows,
        grouped.quarantined_rows,
        grouped.deduplicated_rows,
    ) == counts

    def content(at: Path) -> list[list[dict]]:  # both tables, each file named without its folder
        tables = [rows(at, "ga_sessions", ("session_id",)), rows(at, "ga_hits", ("session_id", "hit_number"))]
        return [[{**r, **_file_name(r)} for r in table] for table in tables]

    sessions, hits = content(root)
    assert len(sessions) == whole.stage_rows and len(hits) == audit(root, "ga_hits")["stage_rows"] > 0
    assert content(tmp_path / "grouped") == [sessions, hits]


def test_incremental_runs_rewrite_only_the_months_of_the_new_or_changed_days(
    spark, settings: Settings, lake: Lake, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = Path(lake.root)
    fs = HadoopFS(spark)
    ((d1, f1),) = _generated_days(settings, lake, 1, last=date(2024, 11, 30))
    (d2, f2), (d3, f3) = _generated_days(settings, lake, 2)
    nov, dec = (f"session_month={day:%Y-%m}" for day in (d1, d3))
    assert (nov, dec, f"{d2:%Y-%m}") == ("session_month=2024-11", "session_month=2024-12", "2024-12")
    held = f3.read_bytes()
    f3.unlink()
    first = run_job(spark, root)  # no bookmark yet: a full build
    assert first.raw_rows == first.stage_rows == len(raw_lines(f1)) + len(raw_lines(f2))
    sessions_dir, hits_dir = root / "stage" / "ga_sessions", root / "stage" / "ga_hits"
    before = {table: file_stamps(table) for table in (sessions_dir, hits_dir)}

    def of_day(day: date) -> list[list[dict]]:
        """Both tables' rows of one session date, lineage (the batch that wrote them) included."""
        tables = (("ga_sessions", ("session_id",)), ("ga_hits", ("session_id", "hit_number")))
        return [[r for r in rows(root, table, key) if r["session_date"] == day] for table, key in tables]

    d2_rows = of_day(d2)
    assert all(d2_rows)

    f3.write_bytes(held)  # a new day arrives, in December
    added = run_job(spark, root)
    assert added.files == [str(f3)] and added.raw_rows == added.stage_rows == len(
        gzip.decompress(held).splitlines()
    )
    for table in (sessions_dir, hits_dir):
        now = file_stamps(table)
        # November is not touched; December is one new file, holding its earlier day as it was staged.
        assert {k: v for k, v in now.items() if not k.startswith(f"{dec}/")} == {
            k: v for k, v in before[table].items() if not k.startswith(f"{dec}/")
        }
        assert any(k.startswith(f"{nov}/") for k in now)
        (december,) = [k for k in now if k.startswith(f"{dec}/") and k.endswith(".parquet")]
        assert december not in before[table]
    assert of_day(d2) == d2_rows
    new_day = of_day(d3)
    assert all(new_day) and {r["_batch_id"] for table in new_day for r in table} == {added.batch_id}
    assert added.batch_id not in {r["_batch_id"] for table in d2_rows for r in table}
    bookmark = FileBookmark.load(fs, str(root / "logs" / "bookmarks" / "ga_sessions.json"), "ga_sessions")
    assert bookmark is not None and sorted(bookmark.files) == [
        f"ingest_date={d}/ga_sessions_{d:%Y%m%d}.json.gz" for d in (d1, d2, d3)
    ]
    assert bookmark.files[f"ingest_date={d3}/ga_sessions_{d3:%Y%m%d}.json.gz"].partitions == (d3.isoformat(),)

    incremental = content_hash(root)
    nothing = run_job(spark, root)  # rerun: nothing new, nothing written
    assert (nothing.raw_rows, nothing.stage_rows) == (0, 0) and content_hash(root) == incremental
    full = run_job(spark, root, full_refresh=True)
    assert full.raw_rows == sum(len(raw_lines(f)) for f in (f1, f2, f3))
    assert content_hash(root) == incremental  # incremental runs give what a full rebuild gives

    # Staged by other code (the bookmark's fingerprint of the job differs): every file again, though none is new,
    # so that an edited rule reaches every session.
    bookmark_file = root / "logs" / "bookmarks" / "ga_sessions.json"
    document = json.loads(bookmark_file.read_text())
    assert document["inputs"] == {"code": stage_code_fingerprint("ga_sessions")}
    document["inputs"]["code"] = "staged-by-older-code"
    bookmark_file.write_text(json.dumps(document))
    (bookmark_file.parent / f".{bookmark_file.name}.crc").unlink()  # Hadoop's checksum of the old text
    recoded = run_job(spark, root)
    assert recoded.raw_rows == full.raw_rows and content_hash(root) == incremental
    assert json.loads(bookmark_file.read_text())["inputs"]["code"] == stage_code_fingerprint("ga_sessions")

    d3_rows = of_day(d3)
    bookmark_text = (root / "logs" / "bookmarks" / "ga_sessions.json").read_text()
    f1.write_bytes(gzip.compress(b"".join(line + b"\n" for line in raw_lines(f1)[1:])))  # a day re-delivered
    f2.unlink()  # and a day withdrawn

    swaps: list[str] = []

    def killed_after_one_swap(fs: HadoopFS, staged: str, target: str, trash: str) -> None:
        if swaps:
            raise RuntimeError("killed mid-publish")
        swaps.append(target)
        original_replace_partition(fs, staged, target, trash)

    with monkeypatch.context() as patch:
        patch.setattr(runner, "replace_partition", killed_after_one_swap)
        with pytest.raises(RuntimeError, match="killed"):
            run_job(spark, root)
    # Killed between two partitions: each partition is whole (old or new), nothing half-written is visible,
    # and the bookmark still says the batch is to do.
    assert swaps == [str(sessions_dir / nov)]
    for table in (sessions_dir, hits_dir):
        assert sorted(p.name for p in table.iterdir() if not p.name.startswith(("_", "."))) == [nov, dec]
        assert all(len(list(p.glob("*.parquet"))) == 1 for p in table.iterdir() if p.is_dir())
    assert (root / "logs" / "bookmarks" / "ga_sessions.json").read_text() == bookmark_text

    changed = run_job(spark, root)  # the rerun finishes the batch
    assert changed.files == [str(f1)] and changed.stage_rows == len(raw_lines(f1))
    for table in (sessions_dir, hits_dir):
        assert sorted(p.name for p in table.iterdir() if not p.name.startswith(("_", "."))) == [nov, dec]
    # December lost its withdrawn day and kept the other as it was staged; November holds the new delivery.
    assert of_day(d2) == [[], []] and of_day(d3) == d3_rows
    assert {r["session_date"] for r in rows(root, "ga_sessions", ("session_id",))} == {d1, d3}
    assert not list((root / "stage" / "_staging").rglob("*.parquet"))
    incremental = content_hash(root)
    run_job(spark, root, full_refresh=True)
    assert content_hash(root) == incremental


# --- the real public sample ------------------------------------------------------------------------------------
@pytest.mark.skipif(not REFERENCE.is_dir(), reason=f"reference data not found at {REFERENCE}")
def test_real_ga_sample_through_the_glue_entry_point(
    spark, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = tmp_path / "raw" / "ga_sessions"
    raw.mkdir(parents=True)
    for path in sorted(REFERENCE.glob("ga_sessions_*.json")):
        shutil.copy(path, raw / path.name)
    sessions = [json.loads(line) for p in sorted(raw.glob("*.json")) for line in p.read_bytes().splitlines()]

    job.main(["--JOB_NAME", "c360-stage-ga", "--lake", str(tmp_path), "--full_refresh", "true"])

    printed = json.loads(capsys.readouterr().out)
    assert (printed["raw_rows"], printed["stage_rows"], printed["quarantined_rows"]) == (len(sessions), 90, 0)
    hits = audit(tmp_path, "ga_hits")
    assert hits["stage_rows"] == hits["raw_rows"] == sum(len(s["hits"]) for s in sessions) == 255
    staged = rows(tmp_path, "ga_sessions", ("session_id",))
    assert sorted(r["full_visitor_id"] for r in staged) == sorted(s["fullVisitorId"] for s in sessions)
    assert sum(r["pageviews"] for r in staged) == sum(s["totals"]["pageviews"] or 0 for s in sessions)
    by_day = {}
    for s in sessions:
        by_day[s["date"]] = by_day.get(s["date"], 0) + 1
    assert {str(r["session_date"]).replace("-", "") for r in staged} == set(by_day)
    hit_table = pq.read_table(tmp_path / "stage" / "ga_hits").to_pylist()
    assert len({(h["session_id"], h["hit_number"]) for h in hit_table}) == len(hit_table) == 255


# --- the pieces that keep the job cheap ------------------------------------------------------------------------
def test_lone_surrogate_escapes_are_still_found_behind_the_substring_filter(spark) -> None:
    from spark_jobs.common.json_lines import has_lone_surrogate_escape

    texts = {
        "lone high": r'{"city": "Br\ud800no"}',
        "lone low": r'{"city": "\udc00"}',
        "high then a non-surrogate": r'{"city": "\ud83d\u00e9"}',
        "pair": r'{"city": "\ud83d\ude00"}',
        "other escape": r'{"city": "Br\u00e9no"}',
        "no escape": '{"city": "Brno"}',
        "null": None,
    }
    frame = spark.createDataFrame(list(texts.items()), "case string, text string")
    found = {
        row["case"]: row["lone"]
        for row in frame.select("case", has_lone_surrogate_escape(frame["text"]).alias("lone")).collect()
    }
    assert found == {
        "lone high": True,
        "lone low": True,
        "high then a non-surrogate": True,
        "pair": False,
        "other escape": False,
        "no escape": False,
        "null": False,
    }


def test_duplicate_sessions_are_found_and_dropped_by_their_line_keys(spark) -> None:
    schema = (
        "session_id string, _ingested_at timestamp, _source_file string, _line_number long, _hit_count int, "
        "payload string"
    )
    day1, day2 = datetime(2024, 12, 30), datetime(2024, 12, 31)
    good = spark.createDataFrame(
        [
            ("a", day1, "f1", 1, 2, "a from day 1"),
            ("a", day2, "f2", 5, 3, "a from day 2, line 5"),
            ("a", day2, "f2", 7, 4, "a from day 2, line 7: the latest"),
            ("b", day2, "f1", 2, 1, "b: a later file wins a tie"),
            ("b", day2, "f0", 9, 6, "b from an earlier file"),
            ("c", None, "f3", 1, 1, "c: the only copy"),
        ],
        schema,
    )
    duplicates = job.duplicate_lines(good)
    assert sorted(tuple(r) for r in duplicates.collect()) == [("f0", 9, 6), ("f1", 1, 2), ("f2", 5, 3)]
    kept = job.without_lines(good, duplicates, 3)
    assert sorted(r["payload"] for r in kept.collect()) == [
        "a from day 2, line 7: the latest",
        "b: a later file wins a tie",
        "c: the only copy",
    ]
    assert sorted(r["payload"] for r in job.latest_sessions(good).collect()) == sorted(
        r["payload"] for r in kept.collect()
    )
    assert job.without_lines(good, duplicates, 0) is good  # nothing to drop: no join at all
    # Past the broadcast limit the same rows are dropped by a shuffled join.
    assert sorted(r["payload"] for r in job.without_lines(good, duplicates, 10**9).collect()) == sorted(
        r["payload"] for r in kept.collect()
    )


def test_a_line_that_closes_the_array_check_itself_is_not_one_object(spark) -> None:
    from spark_jobs.common.json_lines import is_one_json_object

    one = json.dumps(S1)
    texts = {
        "one": one,
        "one, spaced": f"  {one} ",
        "glued": one + one,
        "comma": f"{one},{one}",
        "stray brace": one + "}",
        "bracket then object": one + '] {"x": 1}',
        "bracket then brace": one + "]}",
        "bracket, zero, bracket": one + ",0] [{}",
        "array": f"[{one}]",
        "null": None,
    }
    frame = spark.createDataFrame(list(texts.items()), "case string, text string")
    single = {
        row["case"]: row["single"]
        for row in frame.select("case", is_one_json_object(frame["text"]).alias("single")).collect()
    }
    assert single == {case: case.startswith("one") for case in texts}
    # ... and the job quarantines such a line instead of staging its first session.
    lines = spark.createDataFrame(
        [("f", 1, one + '] {"x": 1}', None)],
        "_source_file string, _line_number long, raw_record string, _decode_error string",
    )
    assert [r["reason"] for r in job.parse(lines, "b").collect()] == [
        "not a JSON object (malformed JSON, an array or a scalar)"
    ]
