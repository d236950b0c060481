"""Every case of the malformed-input corpus (:mod:`tests.reliability.corpus`) through the source's real stage job.

The cases of one lake are written together and staged by one run of each job (Spark starts few jobs); each case is
then checked on its own records: the job finished; each bad record is quarantined with its reason, file and line;
each good record is staged with the expected values (duplicates counted as deduplicated, orphans flagged); the
case's records all end somewhere; the lake's stage table holds exactly the good records of its cases; and the
audit reconciles exactly (raw = stage + quarantined + deduplicated, with the counts the corpus predicts).
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pyarrow.dataset as ds
import pytest

from spark_jobs import (
    stage_accounts,
    stage_cards,
    stage_crm_customers,
    stage_dispositions,
    stage_districts,
    stage_ga_sessions,
    stage_loans,
    stage_retail_orders,
    stage_standing_orders,
    stage_transactions,
    stage_visitor_map,
)
from spark_jobs.common.jdbc import JdbcSource
from spark_jobs.common.quality import AuditRecord
from tests.reliability.corpus import (
    CASES,
    LAKE_SOURCES,
    MAINFRAME_CLIENTS,
    MAINFRAME_TABLES,
    TX_ACCOUNTS,
    TX_DDL,
    TX_TABLE,
    Case,
    RawFile,
    Rec,
    cases_of,
    corpus_summary,
)

pytestmark = pytest.mark.spark

KEYS: dict[str, tuple[str, ...]] = {
    "crm_customers": ("client_id",),
    **{table: (key,) for table, (_, key) in MAINFRAME_TABLES.items()},
    "ga_sessions": ("session_id",),
    "visitor_map": ("full_visitor_id", "client_id"),
    "retail_orders": ("license",),
    "transactions": ("trans_id",),
}
MAINFRAME_JOBS = {
    "districts": stage_districts,
    "accounts": stage_accounts,
    "dispositions": stage_dispositions,
    "cards": stage_cards,
    "loans": stage_loans,
    "standing_orders": stage_standing_orders,
}
FILE_JOBS = {"crm_customers": stage_crm_customers, "retail_orders": stage_retail_orders}
FILE_JOBS |= {"visitor_map": stage_visitor_map, "ga_sessions": stage_ga_sessions}

Position = tuple[str, int]
"""Where a raw record is: (its file below the raw zone, or the source table; its line, record number or key)."""


@dataclass
class Staged:
    """One lake after its jobs ran: what was written where, and what the jobs produced."""

    root: Path
    built: dict[str, tuple[RawFile, ...]]
    positions: dict[tuple[str, int, int], Position]
    """(case id, file index, record index) -> position."""
    header_lines: dict[str, list[tuple[Position, str]]]
    """Case id -> the header lines of its wrong-header files (quarantined too) and their reason."""
    audits: dict[str, AuditRecord] = field(default_factory=dict)
    errors: dict[str, BaseException] = field(default_factory=dict)
    stage: dict[str, dict[object, dict]] = field(default_factory=dict)
    quarantine: dict[str, dict[Position, dict]] = field(default_factory=dict)


# --- writing the raw inputs -----------------------------------------------------------------------------------


def _bytes(data: str | bytes, encoding: str) -> bytes:
    return data if isinstance(data, bytes) else data.encode(encoding, "surrogateescape")


def write_files(root: Path, cases: list[Case]) -> Staged:
    """Write the lake's raw files (files of the same path concatenated in case order) and note where every
    record lands."""
    built = {case.id: case.build() for case in cases}
    grouped: dict[str, tuple[RawFile, str, list[tuple[tuple[str, int, int], Rec]]]] = {}
    for case in cases:
        for file_index, raw in enumerate(built[case.id]):
            entry = grouped.setdefault(raw.path, (raw, case.id, []))
            entry[2].extend(((case.id, file_index, i), rec) for i, rec in enumerate(raw.recs))
    positions: dict[tuple[str, int, int], Position] = {}
    headers: dict[str, list[tuple[Position, str]]] = {}
    for path, (raw, owner, recs) in grouped.items():
        if path == TX_TABLE:
            positions.update({ident: (TX_TABLE, int(rec.data[0])) for ident, rec in recs})  # type: ignore[index]
            continue
        lines = ([raw.header] if raw.header is not None else []) + [rec.data for _, rec in recs]
        newline = raw.newline.encode(raw.encoding)
        data = b"".join(_bytes(line, raw.encoding) + newline for line in lines)  # type: ignore[arg-type]
        if data and raw.bom:
            data = b"\xef\xbb\xbf" + data
        target = root / "raw" / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        first = 2 if raw.header is not None else 1
        positions.update({ident: (path, first + i) for i, (ident, _) in enumerate(recs)})
        if raw.header_reason:
            headers.setdefault(owner, []).append(((path, 1), raw.header_reason))
    return Staged(root, built, positions, headers)


def write_parent(spark, root: Path, table: str, key: str, ids: tuple[int, ...]) -> None:
    """A stage table holding only the keys that foreign keys are checked against."""
    frame = spark.createDataFrame([(i,) for i in ids], f"{key} bigint")
    frame.coalesce(1).write.mode("overwrite").parquet(str(root / "stage" / table))


def load_source_table(postgres, lake: str, cases: list[Case], built: dict[str, tuple[RawFile, ...]]):
    """A fresh database of the shared cluster holding the lake's rows in ``public.transactions``."""
    name = f"reliability_{lake.replace('-', '_')}"
    with psycopg.connect(postgres.dsn, autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')
        conn.execute(f'create database "{name}"')
    info = dataclasses.replace(postgres, database=name)
    as_text = lake == "transactions-text"
    with psycopg.connect(info.dsn) as conn:
        conn.execute(TX_DDL[lake])
        for case in cases:
            for raw in built[case.id]:
                for rec in raw.recs:
                    row = tuple(
                        v if v is None or not as_text or i == 0 else str(v) for i, v in enumerate(rec.data)
                    )  # type: ignore[arg-type]
                    placeholders = ", ".join(["%s"] * len(row))
                    conn.execute(f"insert into {TX_TABLE} values ({placeholders})", row)
    return info


# --- running the jobs and reading what they wrote -------------------------------------------------------------


def run_lake(spark, request: pytest.FixtureRequest, root: Path, lake: str) -> Staged:
    cases = cases_of(lake)
    staged = write_files(root, cases)
    raw, stage, logs = str(root / "raw"), str(root / "stage"), str(root / "logs")
    jdbc = None
    if lake.startswith("transactions"):
        info = load_source_table(request.getfixturevalue("postgres"), lake, cases, staged.built)
        jdbc = JdbcSource(url=info.jdbc_url, user=info.user, password=info.password)
        write_parent(spark, root, "accounts", "account_id", TX_ACCOUNTS)
    if lake.startswith("mainframe"):
        write_parent(spark, root, "crm_customers", "client_id", MAINFRAME_CLIENTS)
    encoding = "cp037" if lake == "mainframe-cp037" else "ascii"
    for source in LAKE_SOURCES[lake]:
        try:
            if source in MAINFRAME_JOBS:
                staged.audits[source] = MAINFRAME_JOBS[source].run(spark, raw, stage, logs, encoding)
            elif source == "transactions":
                staged.audits[source] = stage_transactions.run(
                    spark, raw, stage, logs, jdbc, num_partitions=2, max_attempts=1, backoff_seconds=0.1
                )
            else:
                staged.audits[source] = FILE_JOBS[source].run(spark, raw, stage, logs)
        except Exception as exc:  # the corpus says which failures are expected; the tests check them
            staged.errors[source] = exc
            continue
        staged.stage[source] = {_key(source, r): r for r in _read(root / "stage" / source)}
        staged.quarantine[source] = {_position(r): r for r in _read(root / "stage" / "_quarantine" / source)}
    return staged


def _read(folder: Path) -> list[dict]:
    if not folder.exists():
        return []
    return ds.dataset(folder, format="parquet", partitioning="hive").to_table().to_pylist()


def _key(source: str, row: dict) -> object:
    columns = KEYS[source]
    return row[columns[0]] if len(columns) == 1 else tuple(row[c] for c in columns)


def _relative(source_file: str) -> str:
    """A raw file's path below the raw zone (the source table for the JDBC job)."""
    return source_file.rsplit("/raw/", 1)[1] if "/raw/" in source_file else TX_TABLE


def _position(row: dict) -> Position:
    return _relative(row["_source_file"]), int(row["_line_number"])


class Lakes:
    """Each lake staged once, on first use, in its own folder."""

    def __init__(self, spark, request: pytest.FixtureRequest, factory: pytest.TempPathFactory) -> None:
        self.spark, self.request, self.factory = spark, request, factory
        self.done: dict[str, Staged] = {}

    def get(self, lake: str) -> Staged:
        if lake not in self.done:
            root = self.factory.mktemp(f"reliability-{lake}")
            self.done[lake] = run_lake(self.spark, self.request, root, lake)
        return self.done[lake]


@pytest.fixture(scope="module")
def lakes(spark, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lakes]:
    yield Lakes(spark, request, tmp_path_factory)


# --- the expectations -----------------------------------------------------------------------------------------


def expected_counts(lake: str, staged: Staged, source: str) -> tuple[int, int, int, int]:
    """(raw, stage, quarantined, deduplicated) of ``source`` in ``lake`` as the corpus predicts them."""
    recs = [rec for c in cases_of(lake) if c.source == source for f in staged.built[c.id] for rec in f.recs]
    headers = sum(len(staged.header_lines.get(c.id, [])) for c in cases_of(lake) if c.source == source)
    good_keys = {rec.key for rec in recs if rec.reason is None and not rec.superseded}
    quarantined = sum(rec.reason is not None for rec in recs) + headers
    deduplicated = sum(rec.reason is None for rec in recs) - len(good_keys)
    return len(recs) + headers, len(good_keys), quarantined, deduplicated


def _params() -> list[object]:
    params = []
    for case in sorted(CASES, key=lambda c: list(LAKE_SOURCES).index(c.lake)):  # a lake's cases together
        marks = [pytest.mark.postgres] if case.source == "transactions" else []
        params.append(pytest.param(case, id=case.id, marks=marks))
    return params


@pytest.mark.parametrize("case", _params())
def test_bad_input_is_quarantined_and_reconciled(case: Case, lakes: Lakes) -> None:
    staged = lakes.get(case.lake)
    if case.error is not None:
        check_loud_failure(case, staged)
        return
    assert case.source not in staged.errors, (
        f"the {case.source} job failed: {staged.errors.get(case.source)!r}"
    )

    stage = staged.stage[case.source]
    quarantine = staged.quarantine[case.source]

    # This case's records, one by one.
    ended = Counter()
    for file_index, raw in enumerate(staged.built[case.id]):
        for rec_index, rec in enumerate(raw.recs):
            position = staged.positions[(case.id, file_index, rec_index)]
            if rec.reason is not None:
                assert position in quarantine, f"{position} should be quarantined ({rec.reason})"
                row = quarantine[position]
                assert rec.reason in row["reason"], (position, row["reason"])
                check_raw_record(rec, raw, row)
                ended["quarantined"] += 1
                continue
            assert position not in quarantine, (position, quarantine.get(position, {}).get("reason"))
            assert rec.key in stage, f"good record {rec.key!r} at {position} is not staged"
            if rec.superseded:
                ended["deduplicated"] += 1
                continue
            row = stage[rec.key]
            if raw.path != TX_TABLE:
                assert _relative(row["_source_file"]) == position[0], (
                    "the staged copy comes from this record's file"
                )
            for column, value in rec.expect.items():
                assert row[column] == value, (rec.key, column, row[column])
            ended["staged"] += 1
    for position, reason in staged.header_lines.get(case.id, []):
        assert reason in quarantine[position]["reason"], position
        ended["quarantined"] += 1
    records = sum(len(f.recs) for f in staged.built[case.id]) + len(staged.header_lines.get(case.id, []))
    assert sum(ended.values()) == records, "every record of the case ends staged, quarantined or deduplicated"
    # From files of this case alone, exactly its bad records (and wrong headers) are quarantined.
    others = {f.path for c in cases_of(case.lake) if c.id != case.id for f in staged.built[c.id]}
    own = {f.path for f in staged.built[case.id]} - others
    expected = {p for (cid, fi, ri), p in staged.positions.items() if cid == case.id and p[0] in own}
    expected = {p for p in expected if _rec(staged, case, p).reason is not None}
    expected |= {p for p, _ in staged.header_lines.get(case.id, [])}
    assert {p for p in quarantine if p[0] in own} == expected

    # The stage table holds exactly the good records of the lake's cases.
    lake_good = {
        rec.key
        for c in cases_of(case.lake)
        if c.source == case.source
        for f in staged.built[c.id]
        for rec in f.recs
        if rec.reason is None
    }
    assert set(stage) == lake_good

    # The audit reconciles, with exactly the counts the corpus predicts for the whole lake.
    record = staged.audits[case.source]
    assert record.balanced, record
    counts = (record.raw_rows, record.stage_rows, record.quarantined_rows, record.deduplicated_rows)
    assert counts == expected_counts(case.lake, staged, case.source)
    if case.source == "ga_sessions":
        hits = json.loads((staged.root / "logs" / "audit" / "ga_hits" / "latest.json").read_text())
        assert hits["balanced"] is True, hits


def _rec(staged: Staged, case: Case, position: Position) -> Rec:
    for (cid, fi, ri), p in staged.positions.items():
        if cid == case.id and p == position:
            return staged.built[cid][fi].recs[ri]
    raise KeyError(position)


def check_raw_record(rec: Rec, raw: RawFile, row: dict) -> None:
    """The quarantine keeps the record as it came (text lines exactly; a row of the source table as JSON)."""
    if isinstance(rec.data, tuple):
        assert json.loads(row["raw_record"])["trans_id"] == rec.data[0]
    elif isinstance(rec.data, str) and raw.encoding != "cp037":
        assert row["raw_record"] == rec.data
    else:
        assert row["raw_record"], "the undecodable record is kept, with replacement characters"


def check_loud_failure(case: Case, staged: Staged) -> None:
    """The documented outcome is a failure that names the problem, before anything is staged or bookmarked."""
    error = staged.errors.get(case.source)
    assert error is not None, f"the {case.source} job should have failed ({case.error})"
    assert case.error in str(error), str(error)[:500]
    assert not (staged.root / "stage" / case.source).exists(), "nothing staged"
    assert not (staged.root / "logs" / "bookmarks" / f"{case.source}.json").exists(), (
        "the bookmark did not move"
    )


def test_the_corpus_covers_every_source_and_is_countable() -> None:
    summary = corpus_summary()
    assert len(summary) >= 32
    assert len({s["id"] for s in summary}) == len(summary)
    sources = {s["source"] for s in summary}
    assert sources >= {*KEYS}, sorted(set(KEYS) - sources)
    assert all(s["description"] for s in summary)
