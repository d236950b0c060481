"""Mainframe extracts: the copybook parser, the fixed-width files in the raw zone, and the Lambda handlers."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from c360.settings import Settings
from c360.storage import Lake
from ingestion import bank, mainframe
from ingestion.copybooks import CopybookError, load_layout, parse_copybook

END = date(2024, 12, 31)

SAMPLE = """\
      * A test record.
       01  SAMPLE-RECORD.
      *    A code.
           05  CODE              PIC X(3).
               88  CODE-A        VALUE 'AAA'.
               88  CODE-B        VALUE 'B B'.
           05  GROUP-PART.
      *    A count.
               10  COUNT         PIC 9(4).
               10  FILLER        PIC X(2).
           05  OVERPUNCHED       PIC S9(3)V99.
           05  SEPARATE-SIGN     PIC S9(3)V9(2) SIGN IS LEADING SEPARATE.
           05  TRAILING-SIGN     PIC S999 SIGN TRAILING SEPARATE CHARACTER.   *> inline comment
           05  RATE              PIC 9V999.
"""


@pytest.fixture(scope="module")
def ks() -> bank.BankKeyspace:
    return bank.build_keyspace(42, 1.0, END)


def _settings(root: Path, seed: int = 42, scale: float = 0.3) -> Settings:
    return Settings().with_overrides(lake=str(root), seed=seed, scale=scale, end_date=END)


# --- the copybook parser -----------------------------------------------------------------------------------


def test_parser_exposes_ordered_fields_with_offsets_lengths_and_types() -> None:
    layout = parse_copybook(SAMPLE)
    assert layout.name == "SAMPLE-RECORD"
    got = [(f.name, f.offset, f.length, f.kind) for f in layout.fields]
    assert got == [
        ("CODE", 0, 3, "string"),
        ("COUNT", 3, 4, "integer"),
        ("FILLER", 7, 2, "string"),
        ("OVERPUNCHED", 9, 5, "decimal"),
        ("SEPARATE-SIGN", 14, 6, "decimal"),
        ("TRAILING-SIGN", 20, 4, "integer"),
        ("RATE", 24, 4, "decimal"),
    ]
    assert layout.record_length == 28
    assert layout.columns == ["code", "count", "overpunched", "separate_sign", "trailing_sign", "rate"]
    assert layout.field("code").values == ("AAA", "B B")
    assert layout.field("count").description == "A count."
    assert layout.field("rate").scale == 3 and not layout.field("rate").signed


def test_encoding_follows_cobol_display_rules() -> None:
    layout = parse_copybook(SAMPLE)
    record = {
        "code": "B B",
        "count": 42,
        "overpunched": Decimal("-12.34"),
        "separate_sign": Decimal("5.5"),
        "trailing_sign": -7,
        "rate": Decimal("0.125"),
    }
    line = layout.encode_line(record)
    # 01234 negative: the last digit 4 carries the sign as 'M'; +005.50 with a leading '+'; 007 then '-'.
    assert line == "B B0042  0123M+00550007-0125"
    assert layout.decode_line(line) == {**record, "separate_sign": Decimal("5.50")}
    assert layout.decode_line("AAA0000  0000{+00000000+0000")["overpunched"] == Decimal("0.00")
    assert layout.decode_line(" " * 28) == dict.fromkeys(layout.columns)


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"code": "TOOLONG"}, "longer than PIC X"),
        ({"count": 12345}, "does not fit"),
        ({"count": -1}, "negative but the PIC has no S"),
        ({"overpunched": Decimal("1.234")}, "decimal places"),
        ({"count": "abc"}, "not a number"),
    ],
)
def test_encoding_refuses_values_that_do_not_fit(record: dict, message: str) -> None:
    layout = parse_copybook(SAMPLE)
    base = dict.fromkeys(layout.columns)
    with pytest.raises(CopybookError, match=message):
        layout.encode_line({**base, **record})


def test_decoding_reports_where_a_line_is_wrong() -> None:
    layout = parse_copybook(SAMPLE)
    with pytest.raises(CopybookError, match="line 2: 27 characters where the copybook defines 28"):
        list(layout.decode_records(b"AAA0000  0000{+00000000+0000\nAAA0000  0000{+00000000+000\n"))
    with pytest.raises(CopybookError, match="offset 3: COUNT"):
        layout.decode_line("AAA00x0  0000{+00000000+0000")
    with pytest.raises(CopybookError, match="record has no value for COUNT"):
        layout.encode_line({"code": "AAA"})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("       01  R.\n           05  A  PIC X(2) OCCURS 3.\n", "OCCURS is not supported"),
        ("       01  R.\n           05  A  COMP-3 PIC S9(5).\n", "COMP-3 is not supported"),
        ("       01  R.\n           05  A  PIC X(2)\n", "does not end with a period"),
        ("       01  R.\n           05  A  PIC 9X.\n", "mixes X and 9"),
        ("       01  R.\n           05  A.\n", "neither a PIC nor subordinate items"),
    ],
)
def test_parser_rejects_what_it_does_not_understand(text: str, message: str) -> None:
    with pytest.raises(CopybookError, match=message):
        parse_copybook(text)


@pytest.mark.parametrize("encoding", ["ascii", "utf-8", "cp037"])
@pytest.mark.parametrize("source", mainframe.SOURCES)
def test_every_extract_round_trips_through_its_copybook(
    ks: bank.BankKeyspace, source: str, encoding: str
) -> None:
    records = mainframe.RECORD_BUILDERS[source](ks, None, END)
    assert records, source
    data = mainframe.encode_extract(source, records, encoding)
    layout = load_layout(mainframe.COPYBOOKS[source])
    if encoding == "cp037":
        assert len(data) == layout.record_length * len(records), "fixed-block records, no line ends"
        assert data[:1] != b"0" and b"\n" not in data
    else:
        assert data.count(b"\n") == len(records)
    assert list(layout.decode_records(data, encoding)) == records


def test_ebcdic_digits_and_overpunch_are_the_zoned_nibbles() -> None:
    layout = parse_copybook(SAMPLE)
    record = dict.fromkeys(layout.columns) | {"count": 1, "overpunched": Decimal("-0.01")}
    data = layout.encode(record, "cp037")
    assert data[3:7] == bytes([0xF0, 0xF0, 0xF0, 0xF1])
    assert data[13] == 0xD1, "negative 1 is zone D, digit 1"
    assert layout.decode(data, "cp037") == record


def test_the_shipped_copybooks_document_every_field() -> None:
    for name in set(mainframe.COPYBOOKS.values()):
        layout = load_layout(name)
        assert layout.description, name
        for field in layout.data_fields:
            assert field.description, f"{name}.{field.name} has no comment"
    assert load_layout("account").field("frequency").values == bank.FREQUENCIES
    assert set(load_layout("card").field("card_type").values) == set(bank.CARD_TYPES)
    assert load_layout("disposition").field("disp_type").values == (bank.OWNER, bank.DISPONENT)


# --- the raw files -----------------------------------------------------------------------------------------


def _decode_file(uri: str) -> list[dict]:
    source = Path(uri).parent.parent.name
    return list(load_layout(mainframe.COPYBOOKS[source]).decode_records(Path(uri).read_bytes()))


def test_generate_writes_a_full_unload_then_nightly_increments(tmp_path: Path) -> None:
    settings = _settings(tmp_path / "lake")
    written = mainframe.generate(settings, Lake(settings.lake))
    first_increment = END - timedelta(days=mainframe.INCREMENT_DAYS - 1)
    expected_names = {
        f"{source}/ingest_date={first_increment}/{source}_{first_increment:%Y%m%d}T000000Z.dat"
        for source in mainframe.SOURCES
    } | {
        f"{source}/ingest_date={first_increment + timedelta(days=i)}/"
        f"{source}_{first_increment + timedelta(days=i):%Y%m%d}T230000Z.dat"
        for source in mainframe.DAILY_SOURCES
        for i in range(mainframe.INCREMENT_DAYS)
    }
    relative = {str(Path(uri).relative_to(Path(settings.lake) / "raw")) for uri, _ in written}
    assert relative == expected_names
    for uri, count in written:
        layout = load_layout(mainframe.COPYBOOKS[Path(uri).parent.parent.name])
        lines = Path(uri).read_bytes().split(b"\n")
        assert lines[-1] == b"" and len(lines) - 1 == count
        assert all(len(line) == layout.record_length for line in lines[:-1])


def test_every_entity_of_the_history_is_in_exactly_one_file(tmp_path: Path) -> None:
    settings = _settings(tmp_path / "lake")
    written = mainframe.generate(settings, Lake(settings.lake))
    ks = bank.build_keyspace(settings.seed, settings.scale, settings.end_date)
    end_day = np.datetime64(END.isoformat(), "D")
    expected = {
        "account": ("account_id", ks.accounts.account_id[ks.accounts.open_date <= end_day]),
        "gbank": ("disp_id", ks.dispositions.disp_id[ks.dispositions.valid_from <= end_day]),
        "card": ("card_id", ks.cards.card_id[ks.cards.issued_at.astype("datetime64[D]") <= end_day]),
        "loan": ("loan_id", ks.loans.loan_id[ks.loans.granted_date <= end_day]),
        "standing_order": ("order_id", ks.orders.order_id[ks.orders.start_date <= end_day]),
        "district": ("district_id", ks.districts.district_id),
    }
    for source, (key, ids) in expected.items():
        found = [r[key] for uri, _ in written if f"/raw/{source}/" in uri for r in _decode_file(uri)]
        assert sorted(found) == sorted(ids.tolist()), source
    accounts = [r for uri, _ in written if "/raw/account/" in uri for r in _decode_file(uri)]
    assert max(r["open_date"] for r in accounts) <= 20241231


def test_same_settings_give_byte_identical_files_and_another_seed_differs(tmp_path: Path) -> None:
    outputs = []
    for name in ("a", "b"):
        settings = _settings(tmp_path / name)
        written = mainframe.generate(settings, Lake(settings.lake))
        outputs.append([(Path(uri).relative_to(settings.lake), Path(uri).read_bytes()) for uri, _ in written])
    assert outputs[0] == outputs[1]
    other = _settings(tmp_path / "c", seed=43)
    written = mainframe.generate(other, Lake(other.lake))
    assert [Path(uri).relative_to(other.lake) for uri, _ in written] == [name for name, _ in outputs[0]]
    assert [Path(uri).read_bytes() for uri, _ in written] != [data for _, data in outputs[0]]


def test_ebcdic_files_hold_the_same_records(tmp_path: Path) -> None:
    ascii_settings, ebcdic_settings = (
        _settings(tmp_path / "a", scale=0.05),
        _settings(tmp_path / "e", scale=0.05),
    )
    plain = mainframe.generate(ascii_settings, Lake(ascii_settings.lake))
    ebcdic = mainframe.generate(ebcdic_settings, Lake(ebcdic_settings.lake), encoding="cp037")
    for (a_uri, a_count), (e_uri, e_count) in zip(plain, ebcdic, strict=True):
        layout = load_layout(mainframe.COPYBOOKS[Path(a_uri).parent.parent.name])
        assert a_count == e_count
        assert list(layout.decode_records(Path(e_uri).read_bytes(), "cp037")) == _decode_file(a_uri)


def test_generate_day_after_the_end_date_carries_that_days_creations(
    tmp_path: Path, ks: bank.BankKeyspace
) -> None:
    settings = _settings(tmp_path / "lake", scale=1.0)
    opened_later = ks.accounts.open_date[ks.accounts.open_date > np.datetime64(END.isoformat(), "D")]
    day = opened_later[len(opened_later) // 2].astype(object)
    written = dict(
        (Path(uri).parent.parent.name, (uri, n))
        for uri, n in mainframe.generate_day(settings, Lake(settings.lake), day)
    )
    assert set(written) == set(mainframe.DAILY_SOURCES)
    account_uri, count = written["account"]
    assert f"ingest_date={day}" in account_uri and account_uri.endswith(f"account_{day:%Y%m%d}T230000Z.dat")
    records = _decode_file(account_uri)
    expected = ks.accounts.account_id[ks.accounts.open_date == np.datetime64(day, "D")]
    assert count == len(records) == expected.size > 0
    assert [r["account_id"] for r in records] == expected.tolist()
    gbank = _decode_file(written["gbank"][0])
    assert {r["account_id"] for r in gbank if r["disp_type"] == "OWNER"} >= set(expected.tolist())
    assert all(r["valid_from"] == int(f"{day:%Y%m%d}") for r in gbank)


# --- Lambda handlers ------------------------------------------------------------------------------------------


def _scheduled_event(day: date) -> dict:
    """The shape of an EventBridge scheduled event."""
    return {
        "version": "0",
        "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": f"{day.isoformat()}T00:00:00Z",
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/c360view-mf-schedule"],
        "detail": {},
    }


@pytest.mark.parametrize(
    ("handler", "source", "key"),
    [
        (mainframe.c360view_mf_gen_account, "account", "account_id"),
        (mainframe.c360view_mf_gen_card, "card", "card_id"),
        (mainframe.c360view_mf_gen_gbank, "gbank", "disp_id"),
    ],
)
def test_lambda_handlers_land_one_batch_for_the_events_day(
    handler: Callable[[dict, object], dict],
    source: str,
    key: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    ks: bank.BankKeyspace,
) -> None:
    monkeypatch.setenv("C360_LAKE", str(tmp_path / "bucket"))
    monkeypatch.setenv("C360_SEED", "42")
    monkeypatch.setenv("C360_SCALE", "1")
    monkeypatch.setenv("C360_END_DATE", END.isoformat())
    created = {
        "account": ks.accounts.open_date,
        "card": ks.cards.issued_at.astype("datetime64[D]"),
        "gbank": ks.dispositions.valid_from,
    }[source]
    ids = {"account": ks.accounts.account_id, "card": ks.cards.card_id, "gbank": ks.dispositions.disp_id}[
        source
    ]
    busiest = Counter(created[created > np.datetime64(END.isoformat(), "D")].tolist()).most_common(1)[0][0]
    result = handler(_scheduled_event(busiest), None)
    assert result["source"] == source and result["day"] == busiest.isoformat()
    assert result["uri"].startswith(str(tmp_path / "bucket" / "raw" / source / f"ingest_date={busiest}"))
    records = _decode_file(result["uri"])
    assert result["records"] == len(records) > 0
    assert [r[key] for r in records] == ids[created == np.datetime64(busiest, "D")].tolist()
