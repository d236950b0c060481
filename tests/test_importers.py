"""The importers on the real public files: exact row counts, every record landed or quarantined with a reason."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from c360.cli import app

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference-data"
pytestmark = pytest.mark.skipif(not REFERENCE.is_dir(), reason=f"reference data not found at {REFERENCE}")


def _audit(lake: Path, source: str) -> dict:
    return json.loads((lake / "logs" / "audit" / source / "latest.json").read_text())


def test_ga_sample_and_visitor_map(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    folder = REFERENCE / "ga_sessions"
    visitors = REFERENCE / "workshop_2024" / "visitors" / "ga_visitors.csv"
    result = CliRunner().invoke(
        app, ["import", "ga", str(folder), "--visitor-map", str(visitors), "--lake", str(lake)]
    )
    assert result.exit_code == 0, result.output
    expected_sessions = sum(len(p.read_bytes().splitlines()) for p in folder.glob("*.json"))
    sessions = _audit(lake, "import_ga_sessions")
    assert sessions["raw_rows"] == sessions["stage_rows"] == expected_sessions == 90
    landed = sorted((lake / "raw" / "ga_sessions").rglob("*"))
    landed = [p for p in landed if p.is_file()]
    assert all(p.name.endswith(".json.gz") for p in landed), landed
    assert sum(len(gzip.decompress(p.read_bytes()).splitlines()) for p in landed) == expected_sessions
    for path in landed:
        day = path.parent.name.removeprefix("ingest_date=").replace("-", "")
        assert all(
            json.loads(line)["date"] == day for line in gzip.decompress(path.read_bytes()).splitlines()
        )
    mapping = _audit(lake, "import_visitor_map")
    expected_rows = len(visitors.read_text().splitlines())
    assert mapping["raw_rows"] == mapping["stage_rows"] == expected_rows
    (landed_map,) = (lake / "raw" / "visitor_map").rglob("*.csv")
    lines = landed_map.read_text().splitlines()
    assert lines[0] == "fullVisitorId,client_id" and len(lines) == expected_rows + 1
    original_ids = {line.split(",")[0] for line in visitors.read_text().splitlines()}
    assert {line.split(",")[0] for line in lines[1:]} == original_ids, "visitor ids keep their leading zeros"


def test_ga_import_quarantines_lines_that_are_not_sessions(tmp_path: Path) -> None:
    folder = tmp_path / "ga"
    folder.mkdir()
    good = (REFERENCE / "ga_sessions" / "ga_sessions_20170724.json").read_bytes().splitlines()[0]
    (folder / "ga_sessions_20170724.json").write_bytes(good + b'\n{"date": 20170724}\n[1]\nnot json\n')
    result = CliRunner().invoke(app, ["import", "ga", str(folder), "--lake", str(tmp_path / "lake")])
    assert result.exit_code == 0, result.output
    audit = _audit(tmp_path / "lake", "import_ga_sessions")
    assert (audit["raw_rows"], audit["stage_rows"], audit["quarantined_rows"]) == (4, 1, 3)
    rejected = pq.read_table(tmp_path / "lake" / "stage" / "_quarantine" / "import_ga_sessions").to_pylist()
    assert [r["_line_number"] for r in rejected] == [2, 3, 4]
    assert "not JSON" in rejected[2]["reason"] and "YYYYMMDD" in rejected[0]["reason"]


def test_ga_import_reads_gzip_exports_and_refuses_a_damaged_one(tmp_path: Path) -> None:
    folder = tmp_path / "ga"
    folder.mkdir()
    original = (REFERENCE / "ga_sessions" / "ga_sessions_20170724.json").read_bytes()
    (folder / "ga_sessions_20170724.json.gz").write_bytes(gzip.compress(original))
    result = CliRunner().invoke(app, ["import", "ga", str(folder), "--lake", str(tmp_path / "lake")])
    assert result.exit_code == 0, result.output
    audit = _audit(tmp_path / "lake", "import_ga_sessions")
    assert audit["raw_rows"] == audit["stage_rows"] == len(original.splitlines()) > 0
    (landed,) = (tmp_path / "lake" / "raw" / "ga_sessions").rglob("*.json.gz")
    assert gzip.decompress(landed.read_bytes()).splitlines() == original.splitlines()

    (folder / "ga_sessions_20170724.json.gz").write_bytes(gzip.compress(original)[:-200])
    result = CliRunner().invoke(app, ["import", "ga", str(folder), "--lake", str(tmp_path / "other")])
    assert result.exit_code != 0
    assert "not a readable gzip file" in result.output and "ga_sessions_20170724.json.gz" in result.output


def test_saas_sales_lands_every_line(tmp_path: Path) -> None:
    source = REFERENCE / "saas_sales" / "SaaS-Sales.csv"
    lake = tmp_path / "lake"
    result = CliRunner().invoke(app, ["import", "saas-sales", str(source), "--lake", str(lake)])
    assert result.exit_code == 0, result.output
    expected = len(source.read_bytes().splitlines()) - 1
    audit = _audit(lake, "import_saas_sales")
    assert audit["raw_rows"] == audit["stage_rows"] == expected == 9994
    (landed,) = (lake / "raw" / "retail_orders").rglob("*.csv")
    data = landed.read_bytes()
    assert data.startswith(b"\xef\xbb\xbfRow ID,Order ID,Order Date") and data.count(b"\r\n") == expected + 1


def test_saas_sales_broken_lines_do_not_swallow_the_next(tmp_path: Path) -> None:
    lines = (REFERENCE / "saas_sales" / "SaaS-Sales.csv").read_bytes().split(b"\r\n")[:4]
    broken = lines[1].replace(b",", b',"', 1)  # an opening quote that never closes
    path = tmp_path / "orders.csv"
    path.write_bytes(b"\r\n".join([lines[0], broken, lines[2], b"1,too,few", lines[3]]) + b"\r\n")
    result = CliRunner().invoke(app, ["import", "saas-sales", str(path), "--lake", str(tmp_path / "lake")])
    assert result.exit_code == 0, result.output
    audit = _audit(tmp_path / "lake", "import_saas_sales")
    assert (audit["raw_rows"], audit["stage_rows"], audit["quarantined_rows"]) == (4, 3, 1)


def test_wrong_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("a,b\n1,2\n")
    result = CliRunner().invoke(app, ["import", "saas-sales", str(path), "--lake", str(tmp_path / "lake")])
    assert result.exit_code == 1 and "unexpected header" in result.output
    missing = CliRunner().invoke(
        app, ["import", "ga", str(tmp_path / "nope"), "--lake", str(tmp_path / "lake")]
    )
    assert missing.exit_code == 1 and "is not a folder" in missing.output


BERKA_COUNTS = {
    "client": 5369,
    "district": 77,
    "account": 4500,
    "disp": 5369,
    "card": 892,
    "loan": 682,
    "order": 6471,
    "trans": 49102,
}


@pytest.fixture
def berka_db(postgres, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh database in the shared test cluster, given to the importer as C360_PG_DSN."""
    import dataclasses

    import psycopg

    with psycopg.connect(postgres.dsn, autocommit=True) as conn:
        conn.execute('drop database if exists "berka"')
        conn.execute('create database "berka"')
    dsn = dataclasses.replace(postgres, database="berka").dsn
    monkeypatch.setenv("C360_PG_DSN", dsn)
    return dsn


def test_berka_lands_every_table_with_exact_counts(tmp_path: Path, berka_db: str) -> None:
    import psycopg

    from ingestion.copybooks import load_layout

    folder = REFERENCE / "berka"
    lake = tmp_path / "lake"
    result = CliRunner().invoke(app, ["import", "berka", str(folder), "--lake", str(lake)])
    assert result.exit_code == 0, result.output
    for table, expected in BERKA_COUNTS.items():
        lines = len((folder / f"{table}.asc").read_bytes().splitlines()) - 1
        audit = _audit(lake, f"import_berka_{table}")
        assert audit["raw_rows"] == lines == expected, table
        assert audit["stage_rows"] + audit["quarantined_rows"] == audit["raw_rows"], table
        assert audit["quarantined_rows"] == 0, table
    (crm_file,) = (lake / "raw" / "crm").rglob("*.jsonl")
    clients = [json.loads(line) for line in crm_file.read_text().splitlines()]
    by_id = {c["client_id"]: c for c in clients}
    assert len(by_id) == 5369
    assert by_id[1]["birth_date"] == "1970-12-13" and by_id[1]["gender"] == "F"  # birth_number 706213
    assert by_id[2]["birth_date"] == "1945-02-04" and by_id[2]["gender"] == "M"  # birth_number 450204
    (accounts,) = (lake / "raw" / "account").rglob("*.dat")
    layout = load_layout("account")
    first = layout.decode_line(accounts.read_text().splitlines()[0])
    assert (
        first["account_id"] == 576
        and first["frequency"] == "POPLATEK MESICNE"
        and first["open_date"] == 19930101
    )
    with psycopg.connect(berka_db) as conn:
        count, credits, kinds = conn.execute(
            "select count(*), count(*) filter (where type = 'credit'), count(distinct type) from public.transactions"
        ).fetchone()
    assert count == BERKA_COUNTS["trans"]
    expected_credits = sum(
        1 for line in (folder / "trans.asc").read_text().splitlines()[1:] if line.split(";")[3] == '"PRIJEM"'
    )
    assert credits == expected_credits and kinds == 3


def test_berka_bad_records_are_quarantined_not_lost(tmp_path: Path, berka_db: str) -> None:
    folder = tmp_path / "berka"
    folder.mkdir()
    for table in BERKA_COUNTS:
        lines = (REFERENCE / "berka" / f"{table}.asc").read_bytes().split(b"\r\n")[:4]
        (folder / f"{table}.asc").write_bytes(b"\r\n".join(lines) + b"\r\n")
    client = (folder / "client.asc").read_bytes().split(b"\r\n")
    client[2] = b'2;"451304";1'  # month 13: not a date
    client.insert(3, b'99;"7062;18')  # a broken quote must not swallow the next line
    (folder / "client.asc").write_bytes(b"\r\n".join(client))
    trans = (folder / "trans.asc").read_bytes().split(b"\r\n")
    trans[1] = trans[1].replace(b'"PRIJEM"', b'"XYZ"')
    (folder / "trans.asc").write_bytes(b"\r\n".join(trans))
    lake = tmp_path / "lake"
    result = CliRunner().invoke(app, ["import", "berka", str(folder), "--lake", str(lake)])
    assert result.exit_code == 0, result.output
    clients = _audit(lake, "import_berka_client")
    assert (clients["raw_rows"], clients["stage_rows"], clients["quarantined_rows"]) == (4, 2, 2)
    rejected = pq.read_table(lake / "stage" / "_quarantine" / "import_berka_client").to_pylist()
    reasons = {r["_line_number"]: r["reason"] for r in rejected}
    assert "not a valid date" in reasons[3]
    assert reasons[4].startswith("not a ;-separated record")
    assert _audit(lake, "import_berka_trans")["quarantined_rows"] == 1
