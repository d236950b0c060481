"""Incremental line sources (the mainframe extracts, CRM, retail orders): a run stages only the files that are new
since the last one and merges their rows into the stage table by key. After every step the table must equal what
staging every file again gives (``full_refresh``), and the batch's audit must count what it changed."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow.dataset as ds
import pytest

from spark_jobs import stage_accounts, stage_retail_orders, stage_visitor_map
from spark_jobs.common.runner import stage_code_fingerprint
from tests.test_stage_mainframe import account, write_parent, write_raw
from tests.test_stage_retail import line
from tests.test_stage_retail import write as write_retail
from tests.test_stage_visitor_map import write as write_snapshot

pytestmark = pytest.mark.spark

LINEAGE_OF_THE_RUN = "_batch_id"
"""The one column a merge may leave different from a full run: rows it did not touch keep their batch."""


def table(root: Path, name: str) -> list[dict]:
    frame = ds.dataset(root / "stage" / name, format="parquet", partitioning="hive").to_table()
    return sorted(frame.to_pylist(), key=repr)


def without_batch(rows: list[dict]) -> list[dict]:
    return sorted(({k: v for k, v in r.items() if k != LINEAGE_OF_THE_RUN} for r in rows), key=repr)


def file_times(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*.parquet")}


def counts(record) -> tuple[int, int, int, int]:
    return (record.raw_rows, record.stage_rows, record.quarantined_rows, record.deduplicated_rows)


def accounts(spark, root: Path, full_refresh: bool = False, stage: Path | None = None):
    stage = stage or root / "stage"
    return stage_accounts.run(
        spark, str(root / "raw"), str(stage), str(stage.parent / "logs"), "ascii", full_refresh
    )


def full_copy(spark, root: Path, name: str, parents: dict[str, list[int]]) -> list[dict]:
    """The table a full run over every raw file of ``root`` gives, in a separate stage zone."""
    other = root / "full"
    for parent, ids in parents.items():
        write_parent(spark, other, parent, "district_id", ids)
    record = accounts(spark, root, full_refresh=True, stage=other / "stage")
    assert record.balanced
    return table(other, name)


def test_new_extracts_merge_by_key_and_equal_a_full_run(spark, tmp_path: Path) -> None:
    write_parent(spark, tmp_path, "districts", "district_id", [1])
    write_raw(tmp_path, "account", "20241225T000000Z", [account(1), account(2), account(3, district_id=99)])
    first = accounts(spark, tmp_path)
    assert counts(first) == (3, 3, 0, 0)

    # A nightly increment: account 2 changed, account 4 new (sent twice: the later line wins), a bad record.
    write_raw(
        tmp_path,
        "account",
        "20241226T230000Z",
        [
            account(2, frequency="POPLATEK TYDNE"),
            account(4, frequency="POPLATEK TYDNE"),
            account(4),
            account(5)[:20],
        ],
    )
    second = accounts(spark, tmp_path)
    assert second.files == [str(next((tmp_path / "raw" / "account").rglob("*20241226T230000Z.dat")))]
    # 4 lines: 1 quarantined, 3 good; the table grew by 1 (account 4), 2 good rows did not add one.
    assert counts(second) == (4, 1, 1, 2) and second.balanced
    staged = {r["account_id"]: r for r in table(tmp_path, "accounts")}
    assert {k: (r["frequency"], r["is_orphan"]) for k, r in staged.items()} == {
        1: ("monthly", False),
        2: ("weekly", False),
        3: ("monthly", True),
        4: ("monthly", False),
    }
    assert staged[1][LINEAGE_OF_THE_RUN] == first.batch_id, "a row the batch did not touch keeps its batch"
    assert staged[4][LINEAGE_OF_THE_RUN] == second.batch_id
    assert without_batch(list(staged.values())) == without_batch(
        full_copy(spark, tmp_path, "accounts", {"districts": [1]})
    )
    quarantined = ds.dataset(tmp_path / "stage" / "_quarantine" / "accounts" / f"batch_id={second.batch_id}")
    assert [r["_line_number"] for r in quarantined.to_table().to_pylist()] == [4]

    # The parent table was rewritten, but no flag changes (district 7 has no account): the flags are checked, the
    # check is audited under its own batch id, and the table is left as it is.
    times = file_times(tmp_path / "stage" / "accounts")
    write_parent(spark, tmp_path, "districts", "district_id", [1, 7])
    checked = accounts(spark, tmp_path)
    assert counts(checked) == (0, 0, 0, 0) and checked.files == []
    assert file_times(tmp_path / "stage" / "accounts") == times
    audits = tmp_path / "logs" / "audit" / "accounts"
    assert json.loads((audits / "latest.json").read_text())["batch_id"] == checked.batch_id

    # The parent table changed (district 99 arrived): no new file, but the orphan flags are checked again.
    write_parent(spark, tmp_path, "districts", "district_id", [1, 99])
    third = accounts(spark, tmp_path)
    assert third.batch_id != checked.batch_id and file_times(tmp_path / "stage" / "accounts") != times
    assert {checked.batch_id, third.batch_id} <= {p.stem for p in audits.glob("*.json")}
    assert counts(third) == (0, 0, 0, 0) and third.files == []
    assert {r["account_id"]: r["is_orphan"] for r in table(tmp_path, "accounts")} == {
        1: False,
        2: False,
        3: False,
        4: False,
    }

    # Nothing new: the table is not touched and no audit is written.
    times = file_times(tmp_path / "stage" / "accounts")
    latest = (tmp_path / "logs" / "audit" / "accounts" / "latest.json").read_text()
    assert counts(accounts(spark, tmp_path)) == (0, 0, 0, 0)
    assert file_times(tmp_path / "stage" / "accounts") == times
    assert (tmp_path / "logs" / "audit" / "accounts" / "latest.json").read_text() == latest

    # An empty increment (a night without new accounts): audited, remembered, the table not rewritten.
    empty = write_raw(tmp_path, "account", "20241227T230000Z", [])
    fourth = accounts(spark, tmp_path)
    assert counts(fourth) == (0, 0, 0, 0) and fourth.files == [str(empty)]
    assert json.loads((tmp_path / "logs" / "audit" / "accounts" / "latest.json").read_text())["batch_id"] == (
        fourth.batch_id
    )
    assert file_times(tmp_path / "stage" / "accounts") == times

    # An empty increment while a parent was rewritten (the mainframe's quiet night after a CRM day): the flags
    # are checked, none changes, the table is not rewritten.
    write_parent(spark, tmp_path, "districts", "district_id", [1, 8, 99])
    quiet = write_raw(tmp_path, "account", "20241228T230000Z", [])
    fifth = accounts(spark, tmp_path)
    assert counts(fifth) == (0, 0, 0, 0) and fifth.files == [str(quiet)]
    assert file_times(tmp_path / "stage" / "accounts") == times
    bookmark = json.loads((tmp_path / "logs" / "bookmarks" / "accounts.json").read_text())
    assert len(bookmark["files"]) == 4 and bookmark["inputs"]["code"] == stage_code_fingerprint("accounts")


def test_a_changed_or_removed_extract_new_code_or_full_refresh_stage_every_file(
    spark, tmp_path: Path
) -> None:
    write_parent(spark, tmp_path, "districts", "district_id", [1])
    unload = write_raw(tmp_path, "account", "20241225T000000Z", [account(1), account(2)])
    write_raw(tmp_path, "account", "20241226T230000Z", [account(3)])
    assert counts(accounts(spark, tmp_path)) == (3, 3, 0, 0)

    # The unload was delivered again without account 1: every file is staged, account 1 is gone.
    unload.write_bytes(account(2).encode("ascii") + b"\n")
    os.utime(unload, ns=(unload.stat().st_mtime_ns + 10**9,) * 2)
    assert counts(accounts(spark, tmp_path)) == (2, 2, 0, 0)
    assert [r["account_id"] for r in table(tmp_path, "accounts")] == [2, 3]

    # A file removed: every remaining file again.
    unload.unlink()
    assert counts(accounts(spark, tmp_path)) == (1, 1, 0, 0)
    assert [r["account_id"] for r in table(tmp_path, "accounts")] == [3]

    # Staged by other code (the fingerprint differs): every file again, so new rules reach old rows.
    bookmark_file = tmp_path / "logs" / "bookmarks" / "accounts.json"
    bookmark = json.loads(bookmark_file.read_text())
    bookmark["inputs"]["code"] = "staged-by-older-code"
    bookmark_file.write_text(json.dumps(bookmark))
    (bookmark_file.parent / f".{bookmark_file.name}.crc").unlink()  # Hadoop's checksum of the old text
    assert counts(accounts(spark, tmp_path)) == (1, 1, 0, 0)

    # An unreadable bookmark (here it no longer matches Hadoop's checksum of it): every file again.
    bookmark_file.write_text(bookmark_file.read_text().replace('"accounts"', '"account5"'))
    assert counts(accounts(spark, tmp_path)) == (1, 1, 0, 0)

    # Nothing new, yet full_refresh stages every file.
    assert counts(accounts(spark, tmp_path)) == (0, 0, 0, 0)
    assert counts(accounts(spark, tmp_path, full_refresh=True)) == (1, 1, 0, 0)

    # The Glue entry point takes --full_refresh true.
    args = ["--lake", str(tmp_path), "--encoding", "ascii"]
    stage_accounts.main(args)
    assert json.loads((tmp_path / "logs" / "audit" / "accounts" / "latest.json").read_text())["raw_rows"] == 1
    write_raw(tmp_path, "account", "20241227T230000Z", [account(4)])
    stage_accounts.main(args)
    assert json.loads((tmp_path / "logs" / "audit" / "accounts" / "latest.json").read_text())["raw_rows"] == 1
    stage_accounts.main([*args, "--full_refresh", "true"])
    assert json.loads((tmp_path / "logs" / "audit" / "accounts" / "latest.json").read_text())["raw_rows"] == 2


def test_retail_orders_merge_moves_a_line_to_its_new_month(spark, tmp_path: Path) -> None:
    """A partitioned table: a re-sent order line whose date changed must leave its old month's partition."""

    def run(full_refresh: bool = False, stage: Path | None = None):
        stage = stage or tmp_path / "stage"
        return stage_retail_orders.run(
            spark, str(tmp_path / "raw"), str(stage), str(stage.parent / "logs"), full_refresh
        )

    write_retail(tmp_path, "20240310T000000Z", [line(1, "LIC1"), line(2, "LIC2")])
    assert counts(run()) == (2, 2, 0, 0)
    moved = line(3, "LIC1", order_date="4/2/2024", date_key="20240402")
    write_retail(tmp_path, "20240402T000000Z", [moved, line(4, "LIC4"), "1,2,3"])
    assert counts(run()) == (3, 1, 1, 1)
    rows = table(tmp_path, "retail_orders")
    assert {(r["license"], r["order_month"]) for r in rows} == {
        ("LIC1", "2024-04"),
        ("LIC2", "2024-03"),
        ("LIC4", "2024-03"),
    }
    full = run(full_refresh=True, stage=tmp_path / "full" / "stage")
    assert counts(full) == (5, 3, 1, 1)
    assert without_batch(rows) == without_batch(table(tmp_path / "full", "retail_orders"))
    # A file with a wrong header is quarantined whole in its own batch, as in a full run.
    write_retail(tmp_path, "20240403T000000Z", [line(5, "LIC5")], header="Row ID,Order ID")
    assert counts(run()) == (2, 0, 2, 0)
    assert without_batch(table(tmp_path, "retail_orders")) == without_batch(rows)


def test_a_snapshot_source_reads_the_new_snapshots_and_the_current_one_only(spark, tmp_path: Path) -> None:
    """The visitor map: every file is the whole map, the table is the latest snapshot's links."""

    def run(full_refresh: bool = False, stage: Path | None = None):
        stage = stage or tmp_path / "stage"
        return stage_visitor_map.run(
            spark, str(tmp_path / "raw"), str(stage), str(stage.parent / "logs"), full_refresh
        )

    def links() -> list[tuple[str, int]]:
        return sorted((r["full_visitor_id"], r["client_id"]) for r in table(tmp_path, "visitor_map"))

    first = write_snapshot(tmp_path, "20240101T000000Z", ["01,1", "02,2"])
    assert counts(run()) == (2, 2, 0, 0)
    second = write_snapshot(tmp_path, "20240102T000000Z", ["01,1", "03,3", "03,3"])
    batch = run()
    # The new snapshot and the one the table was taken from: 5 lines, 2 links, 3 lines not in the table.
    assert batch.files == [str(first), str(second)] and counts(batch) == (5, 2, 0, 3)
    assert links() == [("01", 1), ("03", 3)]

    # A late delivery of an older snapshot, and a snapshot with a wrong header: the table stays the second one,
    # and the first snapshot is not read again.
    late = write_snapshot(tmp_path, "20231231T000000Z", ["04,4"])
    wrong = write_snapshot(tmp_path, "20240103T000000Z", ["05,5"], header="visitor,client")
    batch = run()
    assert batch.files == [str(late), str(second), str(wrong)]
    assert counts(batch) == (6, 2, 2, 2)  # the wrong file's header and line are quarantined
    assert links() == [("01", 1), ("03", 3)]
    full = run(full_refresh=True, stage=tmp_path / "full" / "stage")
    assert counts(full) == (8, 2, 2, 4)
    assert without_batch(table(tmp_path, "visitor_map")) == without_batch(
        table(tmp_path / "full", "visitor_map")
    )

    assert counts(run()) == (0, 0, 0, 0)  # nothing new: nothing read
    third = write_snapshot(tmp_path, "20240104T000000Z", ["06,6"])
    batch = run()
    assert batch.files == [str(second), str(third)] and counts(batch) == (4, 1, 0, 3)
    assert links() == [("06", 6)]


def test_retail_orders_merge_rewrites_only_the_months_it_touches(spark, tmp_path: Path) -> None:
    """A merge reads and rewrites the months of its new lines and the months those lines' licenses were in, and
    no other: a month it does not touch keeps its files; a month it empties goes. The table equals a full run's."""

    def run(full_refresh: bool = False, stage: Path | None = None):
        stage = stage or tmp_path / "stage"
        return stage_retail_orders.run(
            spark, str(tmp_path / "raw"), str(stage), str(stage.parent / "logs"), full_refresh
        )

    def dated(row_id: int, license_code: str, day: str) -> str:  # day: YYYYMMDD
        return line(
            row_id, license_code, order_date=f"{int(day[4:6])}/{int(day[6:])}/{day[:4]}", date_key=day
        )

    folder = tmp_path / "stage" / "retail_orders"
    write_retail(
        tmp_path,
        "20240310T000000Z",
        [dated(1, "LIC1", "20240105"), dated(2, "LIC2", "20240205"), line(3, "LIC3")],
    )
    assert counts(run()) == (3, 3, 0, 0)
    before = file_times(folder)
    assert {name.split("/")[0] for name in before} == {f"order_month=2024-0{m}" for m in (1, 2, 3)}

    # LIC2 is sent again with an April date (it leaves February, which it was alone in); LIC5 is new in March
    write_retail(tmp_path, "20240402T000000Z", [dated(4, "LIC2", "20240402"), line(5, "LIC5")])
    assert counts(run()) == (2, 1, 0, 1)
    after = file_times(folder)
    january = {name: time for name, time in before.items() if name.startswith("order_month=2024-01/")}
    assert january and all(after.get(name) == time for name, time in january.items())  # untouched
    assert {name.split("/")[0] for name in after} == {f"order_month=2024-0{m}" for m in (1, 3, 4)}
    march = [name for name in after if name.startswith("order_month=2024-03/")]
    assert march and all(before.get(name) != after[name] for name in march)  # rewritten, with LIC5
    rows = table(tmp_path, "retail_orders")
    assert {(r["license"], r["order_month"]) for r in rows} == {
        ("LIC1", "2024-01"),
        ("LIC2", "2024-04"),
        ("LIC3", "2024-03"),
        ("LIC5", "2024-03"),
    }
    assert counts(run(full_refresh=True, stage=tmp_path / "full" / "stage")) == (5, 4, 0, 1)
    assert without_batch(rows) == without_batch(table(tmp_path / "full", "retail_orders"))
