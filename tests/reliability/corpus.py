"""A corpus of malformed inputs for every source, as data: each :class:`Case` builds a small raw input (good
records around the bad ones) and says what the stage job must do with every record of it.

Every record of a case is one :class:`Rec`: a good record (its business key, and the stage values to expect), a
bad record (the quarantine reason to expect, as a substring), or a good record that another record of the same
key supersedes (counted as deduplicated). ``tests/reliability/test_bad_inputs.py`` writes the cases of one
``lake`` together, runs the source's real stage job once, and checks each case on its own records.

``corpus_summary()`` lists the cases (id, source, description) for reports.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from ingestion import mainframe
from ingestion.copybooks import load_layout
from spark_jobs import stage_retail_orders


@dataclass(frozen=True)
class Rec:
    """One raw record: a line (text, or bytes when it must hold invalid bytes), a fixed-length EBCDIC record
    (bytes), or a row of ``public.transactions`` (a tuple)."""

    data: str | bytes | tuple
    reason: str | None = None
    """The expected quarantine reason (a substring of it); None for a good record."""
    key: object = None
    """The business key of a good record (a tuple for composite keys)."""
    superseded: bool = False
    """A good record replaced by a later record of the same key: counted as deduplicated, not staged."""
    expect: Mapping[str, object] = field(default_factory=dict)
    """Stage column values the staged row of a good record must have."""


def good(data: str | bytes | tuple, key: object, **expect: object) -> Rec:
    return Rec(data, key=key, expect=expect)


def bad(data: str | bytes | tuple, reason: str) -> Rec:
    return Rec(data, reason=reason)


def superseded(data: str | bytes | tuple, key: object) -> Rec:
    return Rec(data, key=key, superseded=True)


@dataclass(frozen=True)
class RawFile:
    """A raw file, below the lake's raw zone. Files of one lake with the same path are concatenated (in case
    order), so that cases can share a file where only one file is staged (the visitor map's latest snapshot)."""

    path: str
    recs: tuple[Rec, ...]
    header: str | None = None
    header_reason: str | None = None
    """Set when the header is wrong: every line of the file (the header line too) is quarantined with it."""
    encoding: str = "utf-8"
    newline: str = "\n"
    """The record terminator ("" for fixed-length EBCDIC records)."""
    bom: bool = False


@dataclass(frozen=True)
class Case:
    id: str
    source: str
    """The stage table (and audit source) the case exercises."""
    description: str
    lake: str
    """Cases of one lake are written together and staged by one run of each job."""
    build: Callable[[], tuple[RawFile, ...]]
    """The raw input: files (for ``transactions``, one pseudo-file ``public.transactions`` of rows)."""
    error: str | None = None
    """Set when the documented outcome is a loud failure (this text in the error), not a quarantine."""


# --- CRM customers (JSON Lines) --------------------------------------------------------------------------------


def crm_record(client_id: int, updated_at: str = "2024-12-01T00:00:00Z", **changes: object) -> dict:
    record: dict = {
        "client_id": client_id,
        "first_name": "Ann",
        "last_name": "Lee",
        "email": "ann.lee@example.com",
        "phone": "+1-200-200-2000",
        "street_address": "1 Main St",
        "city": "Springfield",
        "birth_date": "1980-05-17",
        "age": 44,
        "gender": "F",
        "home_ownership": "O",
        "occupation": "Teacher",
        "marital_status": "M",
        "head_of_household_flag": "Y",
        "income_band": "50k_100k",
        "cars_owned": 2,
        "client_created_date": "2016-03-01T09:30:00Z",
        "updated_at": updated_at,
    }
    record.update(changes)
    return record


def crm_line(client_id: int, updated_at: str = "2024-12-01T00:00:00Z", **changes: object) -> str:
    return json.dumps(crm_record(client_id, updated_at, **changes))


def crm_good(client_id: int, **changes: object) -> Rec:
    return good(crm_line(client_id, **changes), client_id)


def crm(case: str, *recs: Rec, stamp: str = "20241201T000000Z", **options: object) -> tuple[RawFile, ...]:
    day = f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}"
    return (RawFile(f"crm/ingest_date={day}/crm_{stamp}_{case}.jsonl", recs, **options),)  # type: ignore[arg-type]


NOT_OBJECT = "not a JSON object"


def _crm_cases() -> list[Case]:
    def case(id_: str, description: str, build: Callable[[], tuple[RawFile, ...]]) -> Case:
        return Case(id_, "crm_customers", description, "crm", build)

    glued = crm_line(103) + crm_line(104)
    return [
        case(
            "crm_truncated_line",
            "a JSON line cut off mid-object",
            lambda: crm("truncated", crm_good(101), bad(crm_line(102)[:45], NOT_OBJECT), crm_good(105)),
        ),
        case(
            "crm_two_records_glued_on_one_line",
            "an overlong line: two objects with the newline between them lost (the second must not vanish)",
            lambda: crm("glued", crm_good(111), bad(glued, NOT_OBJECT), crm_good(112)),
        ),
        case(
            "crm_trailing_garbage",
            "a valid object followed by a stray closing brace",
            lambda: crm("trailing", bad(crm_line(121) + "}", NOT_OBJECT), crm_good(122)),
        ),
        case(
            "crm_overlong_value_kept_whole",
            "a 1 MiB street address: a long but valid line is staged whole, not truncated",
            lambda: crm(
                "overlong",
                good(crm_line(131, street_address="x" * 2**20), 131, street_address="x" * 2**20),
                crm_good(132),
            ),
        ),
        case(
            "crm_invalid_utf8",
            "a city with a byte that is not UTF-8",
            lambda: crm(
                "utf8",
                crm_good(141),
                bad(
                    crm_line(142).replace("Springfield", "Br\udcfcnn").encode("utf-8", "surrogateescape"),
                    "invalid utf-8 bytes",
                ),
            ),
        ),
        case(
            "crm_lone_surrogate_escape",
            "a \\u escape of half a UTF-16 surrogate pair (no character); a whole pair is fine",
            lambda: crm(
                "surrogate",
                bad(crm_line(311, city="Br\udcfcnn"), "lone UTF-16 surrogate"),
                good(crm_line(312, city="Brno \U0001f600"), 312, city="Brno \U0001f600"),
            ),
        ),
        case(
            "crm_wrong_type_number",
            "cars_owned given as a word",
            lambda: crm(
                "wrongtype",
                bad(crm_line(151, cars_owned="two"), "cars_owned is not a non-negative integer"),
                crm_good(152),
            ),
        ),
        case(
            "crm_wrong_type_object_in_text_field",
            "an object and an array where a text (city, first_name) is expected",
            lambda: crm(
                "nested",
                bad(crm_line(161, city={"name": "Brno"}), "city is not a text value"),
                bad(crm_line(162, first_name=["Ann"]), "first_name is not a text value"),
                good(crm_line(163, city="{curly} and [square]"), 163, city="{curly} and [square]"),
            ),
        ),
        case(
            "crm_impossible_birth_date",
            "birth_date 2024-02-30",
            lambda: crm(
                "baddate",
                bad(crm_line(171, birth_date="2024-02-30"), "birth_date is not a valid YYYY-MM-DD date"),
                crm_good(172, birth_date="2024-02-29"),
            ),
        ),
        case(
            "crm_impossible_updated_at",
            "updated_at on 2024-02-30",
            lambda: crm(
                "badts",
                bad(crm_line(181, updated_at="2024-02-30T10:00:00Z"), "updated_at missing or not an ISO"),
                crm_good(182),
            ),
        ),
        case(
            "crm_unknown_codes",
            "unknown gender, marital status and income band codes",
            lambda: crm(
                "codes",
                bad(crm_line(191, gender="X"), "unknown gender code"),
                bad(crm_line(192, marital_status="Z"), "unknown marital_status code"),
                bad(crm_line(193, income_band="1M_plus"), "unknown income_band"),
                crm_good(194),
            ),
        ),
        case(
            "crm_negative_count",
            "a negative number of cars owned",
            lambda: crm(
                "negative", bad(crm_line(201, cars_owned=-1), "cars_owned is not a non-negative integer")
            ),
        ),
        case(
            "crm_duplicate_clients",
            "one client three times: the latest updated_at wins, a tie goes to the later line",
            lambda: crm(
                "dups",
                superseded(crm_line(211, "2024-11-01T00:00:00Z", city="Old"), 211),
                good(crm_line(211, "2024-11-20T00:00:00Z", city="New"), 211, city="New"),
                superseded(crm_line(211, "2024-10-01T00:00:00Z", city="Older"), 211),
                superseded(crm_line(212, "2024-11-05T00:00:00Z", city="Tie-first"), 212),
                good(crm_line(212, "2024-11-05T00:00:00Z", city="Tie-second"), 212, city="Tie-second"),
            ),
        ),
        case(
            "crm_duplicate_json_key",
            "an object naming client_id twice: which client is it?",
            lambda: crm(
                "dupkey",
                bad(crm_line(221)[:-1] + ', "client_id": 222}', "a key appears more than once"),
                crm_good(223),
            ),
        ),
        case(
            "crm_json_list",
            "a JSON array instead of an object",
            lambda: crm("list", bad("[" + crm_line(231) + "]", NOT_OBJECT), crm_good(232)),
        ),
        case(
            "crm_json_number",
            "a JSON number instead of an object",
            lambda: crm("number", bad("42", NOT_OBJECT), crm_good(241)),
        ),
        case(
            "crm_json_string",
            "a JSON string instead of an object",
            lambda: crm("string", bad('"client 251"', NOT_OBJECT), bad("null", NOT_OBJECT), crm_good(252)),
        ),
        case(
            "crm_python_repr",
            "single-quoted pseudo-JSON (a Python dict printed)",
            lambda: crm("repr", bad(str(crm_record(261)), NOT_OBJECT), crm_good(262)),
        ),
        case(
            "crm_schema_drift_extra_fields",
            "new fields in the API (loyalty_tier, a nested preferences object): ignored, record staged",
            lambda: crm(
                "extra",
                good(
                    crm_line(271, loyalty_tier="gold", preferences={"sms": True}),
                    271,
                    city="Springfield",
                ),
            ),
        ),
        case(
            "crm_schema_drift_missing_fields",
            "fields dropped from the API: optional ones become null, a missing key or updated_at quarantines",
            lambda: crm(
                "missing",
                good(
                    json.dumps({k: v for k, v in crm_record(281).items() if k not in ("phone", "city")}),
                    281,
                    phone=None,
                    city=None,
                ),
                bad(
                    json.dumps({k: v for k, v in crm_record(282).items() if k != "updated_at"}),
                    "updated_at missing",
                ),
                bad(
                    json.dumps({k: v for k, v in crm_record(283).items() if k != "client_id"}),
                    "client_id missing",
                ),
            ),
        ),
        case(
            "crm_blank_lines",
            "an empty line and a line of spaces between records",
            lambda: crm(
                "blank", crm_good(291), bad("", "empty line"), bad("    ", "empty line"), crm_good(292)
            ),
        ),
        case(
            "crm_bom_and_crlf",
            "a UTF-8 byte-order mark and CRLF line ends (a Windows export): read as plain lines",
            lambda: crm("crlf", crm_good(301), crm_good(302), bom=True, newline="\r\n"),
        ),
        case(
            "crm_empty_file",
            "an extract of zero bytes",
            lambda: crm("empty"),
        ),
    ]


# --- mainframe extracts (fixed-width, copybooks) -----------------------------------------------------------------

MF_STAMP = "20241225T000000Z"


def mf_encode(raw_source: str, **record: object) -> str:
    return load_layout(mainframe.COPYBOOKS[raw_source]).encode_line(record)


def district(district_id: int, **changes: object) -> str:
    record: dict = {
        "district_id": district_id,
        "district_name": "Hlavni mesto Praha",
        "region": "Prague",
        "inhabitants": 1204953,
        "urban_ratio": Decimal("100.0"),
        "average_salary": 12541,
        "unemployment_95": Decimal("0.29"),
        "unemployment_96": Decimal("0.43"),
        "entrepreneurs_per_1000": 167,
        "crimes_95": 85677,
        "crimes_96": 99107,
    }
    return mf_encode("district", **{**record, **changes})


def account(
    account_id: int, district_id: int = 1, frequency: str = "POPLATEK MESICNE", opened: int = 20150210
) -> str:
    return mf_encode(
        "account", account_id=account_id, district_id=district_id, frequency=frequency, open_date=opened
    )


def disposition(disp_id: int, client_id: int = 1, account_id: int = 1, disp_type: str = "OWNER") -> str:
    return mf_encode(
        "gbank",
        disp_id=disp_id,
        client_id=client_id,
        account_id=account_id,
        disp_type=disp_type,
        valid_from=20150210,
    )


def card(card_id: int, disp_id: int = 1, card_type: str = "gold", issued_time: int | None = 123000) -> str:
    return mf_encode(
        "card",
        card_id=card_id,
        disp_id=disp_id,
        card_type=card_type,
        issued_date=20200101,
        issued_time=issued_time,
    )


def loan(loan_id: int, account_id: int = 1012, amount: str = "24000.00", status: str = "D") -> str:
    return mf_encode(
        "loan",
        loan_id=loan_id,
        account_id=account_id,
        granted_date=20200101,
        amount=Decimal(amount),
        duration=24,
        payments=Decimal("1000.00"),
        loan_status=status,
    )


def standing_order(
    order_id: int, account_id: int = 1012, amount: str = "123.45", k_symbol: str | None = "SIPO"
) -> str:
    return mf_encode(
        "standing_order",
        order_id=order_id,
        account_id=account_id,
        bank_to="AB",
        account_to="00012345",
        amount=Decimal(amount),
        k_symbol=k_symbol,
        start_date=20200101,
    )


def mf(raw_source: str, case: str, *recs: Rec, stamp: str = MF_STAMP, encoding: str = "ascii") -> RawFile:
    day = f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}"
    newline = "" if encoding == "cp037" else "\n"
    path = f"{raw_source}/ingest_date={day}/{raw_source}_{stamp}_{case}.dat"
    return RawFile(path, recs, encoding=encoding, newline=newline)


MAINFRAME_TABLES = {  # stage table -> (raw source, key), in run order
    "districts": ("district", "district_id"),
    "accounts": ("account", "account_id"),
    "dispositions": ("gbank", "disp_id"),
    "cards": ("card", "card_id"),
    "loans": ("loan", "loan_id"),
    "standing_orders": ("standing_order", "order_id"),
}
MAINFRAME_CLIENTS = (1,)
"""The ``crm_customers`` stage table the mainframe lakes check dispositions' clients against."""


def _mainframe_cases() -> list[Case]:
    def case(id_: str, table: str, description: str, build: Callable[[], tuple[RawFile, ...]]) -> Case:
        return Case(id_, table, description, "mainframe", build)

    a38 = account(1001)
    return [
        case(
            "mf_districts_baseline_and_blank_number",
            "districts",
            "the parent district (1) and a numeric field of spaces (not reported: null, not quarantined)",
            lambda: (
                mf(
                    "district",
                    "baseline",
                    good(district(1), 1),
                    good(district(2, crimes_95=None), 2, crimes_95=None),
                ),
            ),
        ),
        case(
            "mf_districts_wrong_type_and_truncated",
            "districts",
            "letters in INHABITANTS, and a record cut short",
            lambda: (
                mf(
                    "district",
                    "types",
                    bad(district(3)[:53] + "12AB4567" + district(3)[61:], "INHABITANTS is not numeric"),
                    bad(district(4)[:60], "record length 60, expected 100"),
                    good(district(5), 5),
                ),
            ),
        ),
        case(
            "mf_accounts_truncated_record",
            "accounts",
            "a record cut after 20 bytes",
            lambda: (
                mf(
                    "account",
                    "truncated",
                    bad(account(1011)[:20], "record length 20, expected 38"),
                    good(account(1012), 1012),
                ),
            ),
        ),
        case(
            "mf_accounts_overlong_record",
            "accounts",
            "schema drift: a field appended to the record (41 bytes)",
            lambda: (
                mf(
                    "account",
                    "overlong",
                    bad(account(1021) + "XYZ", "record length 41, expected 38"),
                    good(account(1022), 1022),
                ),
            ),
        ),
        case(
            "mf_accounts_missing_field",
            "accounts",
            "schema drift: the FREQUENCY field left out of the record",
            lambda: (
                mf(
                    "account",
                    "missingfield",
                    bad(account(1031)[:12] + account(1031)[30:], "record length 20, expected 38"),
                    good(account(1032), 1032),
                ),
            ),
        ),
        case(
            "mf_accounts_wrong_delimiter",
            "accounts",
            "a comma-separated line where a fixed-width record is expected",
            lambda: (
                mf(
                    "account",
                    "delimited",
                    bad("1041,1,POPLATEK MESICNE,20150210", "record length 32, expected 38"),
                    bad("000001042,001,POPLATEK MESICNE ,20150210", "expected 38"),
                    good(account(1043), 1043),
                ),
            ),
        ),
        case(
            "mf_accounts_wrong_type",
            "accounts",
            "letters in the numeric ACCOUNT-ID, a blank DISTRICT-ID",
            lambda: (
                mf(
                    "account",
                    "wrongtype",
                    bad("00000ABCD" + a38[9:], "ACCOUNT-ID is not numeric (PIC 9(9))"),
                    bad(account(1052)[:9] + "   " + account(1052)[12:], "district_id missing"),
                    good(account(1053), 1053),
                ),
            ),
        ),
        case(
            "mf_accounts_impossible_date",
            "accounts",
            "OPEN-DATE 20240230",
            lambda: (
                mf(
                    "account",
                    "baddate",
                    bad(account(1061, opened=20240230), "open_date is not a valid date"),
                    good(account(1062, opened=20240229), 1062),
                ),
            ),
        ),
        case(
            "mf_accounts_unknown_code",
            "accounts",
            "a frequency code the core system does not have",
            lambda: (
                mf(
                    "account",
                    "code",
                    bad(account(1071, frequency="POPLATEK ROCNE"), "unknown frequency code"),
                    good(account(1072, frequency="POPLATEK TYDNE"), 1072, frequency="weekly"),
                ),
            ),
        ),
        case(
            "mf_accounts_invalid_ascii",
            "accounts",
            "a byte above 0x7F in an ASCII extract, and a control character",
            lambda: (
                mf(
                    "account",
                    "ascii",
                    bad(
                        account(1081).encode()[:15] + b"\xe9" + account(1081).encode()[16:],
                        "invalid ascii bytes",
                    ),
                    bad(
                        account(1082)[:12] + "POPLATEK\tMESICNE  " + account(1082)[30:], "control characters"
                    ),
                    good(account(1083), 1083),
                ),
            ),
        ),
        case(
            "mf_accounts_negative_key",
            "accounts",
            "a zero account number (keys must be positive)",
            lambda: (
                mf(
                    "account",
                    "zerokey",
                    bad(account(0), "account_id is not positive"),
                    good(account(1091), 1091),
                ),
            ),
        ),
        case(
            "mf_accounts_duplicate_keys",
            "accounts",
            "an account in the full unload, re-sent twice by a later increment: the last record of the latest "
            "extract wins",
            lambda: (
                mf("account", "dups", superseded(account(1101), 1101), good(account(1102), 1102)),
                mf(
                    "account",
                    "dups",
                    superseded(account(1101, frequency="POPLATEK TYDNE"), 1101),
                    good(
                        account(1101, frequency="POPLATEK PO OBRATU"),
                        1101,
                        frequency="after each transaction",
                    ),
                    stamp="20241226T230000Z",
                ),
            ),
        ),
        case(
            "mf_accounts_orphan_district",
            "accounts",
            "an account in a district that is not in the districts table: kept, flagged",
            lambda: (
                mf(
                    "account",
                    "orphan",
                    good(account(1111, district_id=99), 1111, is_orphan=True),
                    good(account(1112, district_id=1), 1112, is_orphan=False),
                ),
            ),
        ),
        case(
            "mf_accounts_empty_file",
            "accounts",
            "an increment of zero bytes",
            lambda: (mf("account", "empty"),),
        ),
        case(
            "mf_dispositions_unknown_code_and_orphans",
            "dispositions",
            "a CO-OWNER disposition type; an unknown account and an unknown client (flagged, kept)",
            lambda: (
                mf(
                    "gbank",
                    "codes",
                    good(disposition(1, account_id=1012), 1, is_orphan=False),
                    bad(disposition(2, account_id=1012, disp_type="CO-OWNER"), "unknown disp_type code"),
                    good(disposition(3, account_id=999999), 3, is_orphan=True),
                    good(
                        disposition(4, client_id=77, account_id=1012, disp_type="DISPONENT"),
                        4,
                        is_orphan=True,
                    ),
                ),
            ),
        ),
        case(
            "mf_cards_bad_time_unknown_type_orphan",
            "cards",
            "ISSUED-TIME 256100, a silver card, a card of an unknown disposition",
            lambda: (
                mf(
                    "card",
                    "cards",
                    good(card(1), 1, is_orphan=False, card_type="gold"),
                    bad(card(2, issued_time=256100), "ISSUED-TIME is not a valid HHMMSS time"),
                    bad(card(3, card_type="silver"), "unknown card_type code"),
                    good(card(4, disp_id=9999), 4, is_orphan=True),
                ),
            ),
        ),
        case(
            "mf_loans_negative_amount",
            "loans",
            "a negative loan amount, and a sign character that is neither + nor -",
            lambda: (
                mf(
                    "loan",
                    "negative",
                    bad(loan(11, amount="-5.00"), "amount is not positive"),
                    bad(loan(12).replace("+000024000", "*000024000"), "AMOUNT is not numeric"),
                    good(loan(13), 13, amount=Decimal("24000.00")),
                ),
            ),
        ),
        case(
            "mf_loans_unknown_status_and_orphan",
            "loans",
            "loan status E; a loan of an unknown account (flagged, kept)",
            lambda: (
                mf(
                    "loan",
                    "status",
                    bad(loan(21, status="E"), "unknown loan_status code"),
                    good(loan(22, account_id=424242), 22, is_orphan=True),
                ),
            ),
        ),
        case(
            "mf_standing_orders_negative_and_unknown",
            "standing_orders",
            "a negative standing order amount, an unknown k_symbol, a blank k_symbol (allowed)",
            lambda: (
                mf(
                    "standing_order",
                    "orders",
                    bad(standing_order(31, amount="-1.00"), "amount is not positive"),
                    bad(standing_order(32, k_symbol="DARKY"), "unknown k_symbol code"),
                    good(standing_order(33, k_symbol=None), 33, k_symbol=None),
                    good(standing_order(34), 34, k_symbol="household"),
                ),
            ),
        ),
    ]


def _ebcdic_cases() -> list[Case]:
    def ebcdic(text: str) -> bytes:
        return text.encode("cp037")

    return [
        Case(
            "ebcdic_districts_baseline",
            "districts",
            "cp037 district records: the parent district",
            "mainframe-cp037",
            lambda: (
                mf(
                    "district",
                    "baseline",
                    good(ebcdic(district(1)), 1, district_name="Hlavni mesto Praha"),
                    encoding="cp037",
                ),
            ),
        ),
        Case(
            "ebcdic_invalid_bytes",
            "accounts",
            "cp037 records with bytes that are control codes in EBCDIC (x00, x01, x25 in the data)",
            "mainframe-cp037",
            lambda: (
                mf(
                    "account",
                    "bytes",
                    good(ebcdic(account(2001)), 2001),
                    bad(b"\x00\x01" + ebcdic(account(2002))[2:], "control characters"),
                    bad(
                        ebcdic(account(2003))[:20] + b"\x25" + ebcdic(account(2003))[21:],
                        "control characters",
                    ),
                    good(ebcdic(account(2004)), 2004),
                    encoding="cp037",
                ),
            ),
        ),
        Case(
            "ebcdic_wrong_code_page",
            "accounts",
            "an ASCII extract landed where cp037 is expected: every record is quarantined, none misread",
            "mainframe-cp037",
            lambda: (
                mf(
                    "account",
                    "asciifile",
                    bad(account(2011).encode("ascii"), "control characters"),
                    encoding="cp037",
                ),
            ),
        ),
        Case(
            "ebcdic_truncated_last_record",
            "accounts",
            "the last fixed-length record of a transfer cut short",
            "mainframe-cp037",
            lambda: (
                mf(
                    "account",
                    "short",
                    good(ebcdic(account(2021)), 2021),
                    bad(ebcdic(account(2022))[:10], "truncated record: 10 bytes, expected 38"),
                    encoding="cp037",
                ),
            ),
        ),
    ]


# --- GA sessions (nested NDJSON) ---------------------------------------------------------------------------------


def ga_hit(number: int, kind: str = "PAGE", action: str = "0", **changes: object) -> dict:
    record: dict = {
        "hitNumber": number,
        "time": 1000 * (number - 1),
        "isInteraction": True,
        "type": kind,
        "page": {"pagePath": "/cards/gold", "hostname": "www.c360bank.example", "pageTitle": "Gold"},
        "eCommerceAction": {"action_type": action, "step": 1, "option": None},
        "product": [],
    }
    record.update(changes)
    return record


def ga_session(visitor: str, visit_id: int, **changes: object) -> dict:
    record: dict = {
        "visitNumber": 1,
        "visitId": visit_id,
        "visitStartTime": visit_id,
        "date": "20241230",
        "totals": {"visits": 1, "hits": 2, "pageviews": 2, "timeOnSite": 30, "transactionRevenue": None},
        "trafficSource": {"source": "google", "medium": "organic"},
        "device": {"browser": "Chrome", "isMobile": False, "deviceCategory": "desktop"},
        "geoNetwork": {"country": "Ireland", "city": "Dublin"},
        "customDimensions": [{"index": 4, "value": "EMEA"}],
        "hits": [ga_hit(1), ga_hit(2, action="2")],
        "fullVisitorId": visitor,
        "channelGrouping": "Organic Search",
    }
    record.update(changes)
    return record


def ga_line(visitor: str, visit_id: int, **changes: object) -> str:
    return json.dumps(ga_session(visitor, visit_id, **changes))


def ga_good(visitor: str, visit_id: int, **changes: object) -> Rec:
    return good(ga_line(visitor, visit_id, **changes), f"{visitor}-{visit_id}")


def ga(case: str, *recs: Rec, day: str = "2024-12-30") -> RawFile:
    return RawFile(f"ga_sessions/ingest_date={day}/ga_sessions_{day.replace('-', '')}_{case}.json", recs)


def _ga_cases() -> list[Case]:
    def case(id_: str, description: str, *files: Callable[[], RawFile]) -> Case:
        return Case(id_, "ga_sessions", description, "ga", lambda: tuple(f() for f in files))

    without_totals = {
        k: v for k, v in ga_session("0301", 1735530301).items() if k not in ("totals", "trafficSource")
    }
    return [
        case(
            "ga_truncated_line",
            "a session cut off after 80 characters",
            lambda: ga(
                "truncated", ga_good("0101", 1735530101), bad(ga_line("0102", 1735530102)[:80], NOT_OBJECT)
            ),
        ),
        case(
            "ga_two_sessions_glued_on_one_line",
            "an overlong line: two sessions without the newline between them (the second must not vanish)",
            lambda: ga(
                "glued",
                bad(ga_line("0111", 1735530111) + ga_line("0112", 1735530112), NOT_OBJECT),
                ga_good("0113", 1735530113),
            ),
        ),
        case(
            "ga_trailing_garbage",
            "a session followed by a stray closing brace",
            lambda: ga(
                "trailing", bad(ga_line("0121", 1735530121) + "}", NOT_OBJECT), ga_good("0122", 1735530122)
            ),
        ),
        case(
            "ga_invalid_utf8",
            "a city with a byte that is not UTF-8",
            lambda: ga(
                "utf8",
                bad(
                    ga_line("0131", 1735530131)
                    .replace("Dublin", "Dubl\udcffn")
                    .encode("utf-8", "surrogateescape"),
                    "invalid utf-8 bytes",
                ),
                ga_good("0132", 1735530132),
            ),
        ),
        case(
            "ga_lone_surrogate_escape",
            "a \\u escape of half a UTF-16 surrogate pair in a city",
            lambda: ga(
                "surrogate",
                bad(ga_line("0321", 1735530321).replace("Dublin", "Dubl\\udcffn"), "lone UTF-16 surrogate"),
                ga_good("0322", 1735530322),
            ),
        ),
        case(
            "ga_wrong_types",
            "visitStartTime as a word; a hit time as a word (nested wrong type)",
            lambda: ga(
                "types",
                bad(
                    ga_line("0141", 1735530141, visitStartTime="yesterday"),
                    "visitStartTime missing or not a positive",
                ),
                bad(
                    ga_line("0142", 1735530142, hits=[ga_hit(1, time="soon")]),
                    "does not have the type of the GA export",
                ),
                ga_good("0143", 1735530143),
            ),
        ),
        case(
            "ga_impossible_date",
            "date 20240230",
            lambda: ga(
                "baddate",
                bad(ga_line("0151", 1735530151, date="20240230"), "date missing or not a valid"),
                ga_good("0152", 1735530152),
            ),
        ),
        case(
            "ga_unknown_codes",
            "an eCommerceAction.action_type 9 and a hit type CLICK",
            lambda: ga(
                "codes",
                bad(
                    ga_line("0161", 1735530161, hits=[ga_hit(1, action="9")]),
                    "unknown eCommerceAction.action_type",
                ),
                bad(ga_line("0162", 1735530162, hits=[ga_hit(1, kind="CLICK")]), "unknown hit type"),
                ga_good("0163", 1735530163),
            ),
        ),
        case(
            "ga_negative_ids",
            "a negative visitId and a zero visitNumber",
            lambda: ga(
                "negative",
                bad(ga_line("0171", -5), "visitId missing or not a positive integer"),
                bad(ga_line("0172", 1735530172, visitNumber=0), "visitNumber missing or not a positive"),
                ga_good("0173", 1735530173),
            ),
        ),
        case(
            "ga_session_without_hits",
            "hits empty, null, or absent",
            lambda: ga(
                "nohits",
                bad(ga_line("0181", 1735530181, hits=[]), "session without hits"),
                bad(ga_line("0182", 1735530182, hits=None), "session without hits"),
                bad(
                    json.dumps({k: v for k, v in ga_session("0183", 1735530183).items() if k != "hits"}),
                    "session without hits",
                ),
                ga_good("0184", 1735530184),
            ),
        ),
        case(
            "ga_repeated_hit_number",
            "two hits numbered 1",
            lambda: ga(
                "hitnumber",
                bad(ga_line("0191", 1735530191, hits=[ga_hit(1), ga_hit(1)]), "hitNumber repeated"),
                ga_good("0192", 1735530192),
            ),
        ),
        case(
            "ga_json_list",
            "a JSON array of sessions instead of one session",
            lambda: ga(
                "list", bad(f"[{ga_line('0201', 1735530201)}]", NOT_OBJECT), ga_good("0202", 1735530202)
            ),
        ),
        case(
            "ga_json_number",
            "a JSON number instead of a session",
            lambda: ga("number", bad("1735530211", NOT_OBJECT), ga_good("0212", 1735530212)),
        ),
        case(
            "ga_json_string",
            "a JSON string instead of a session",
            lambda: ga("string", bad('"session 0221"', NOT_OBJECT), ga_good("0222", 1735530222)),
        ),
        case(
            "ga_duplicate_sessions",
            "one session delivered in two day files (and twice in the later one): the later file's last line wins",
            lambda: ga(
                "dups",
                superseded(ga_line("0231", 1735530231, channelGrouping="Referral"), "0231-1735530231"),
                day="2024-12-30",
            ),
            lambda: ga(
                "dups",
                superseded(ga_line("0231", 1735530231, channelGrouping="Direct"), "0231-1735530231"),
                good(
                    ga_line("0231", 1735530231, channelGrouping="Email"),
                    "0231-1735530231",
                    channel_grouping="Email",
                ),
                day="2024-12-31",
            ),
        ),
        case(
            "ga_schema_drift_extra_fields",
            "new keys at the top level and inside a hit: ignored, session staged",
            lambda: ga(
                "extra",
                good(
                    ga_line(
                        "0241",
                        1735530241,
                        socialEngagementType="Not Socially Engaged",
                        hits=[ga_hit(1, experiment=[{"id": 1}])],
                    ),
                    "0241-1735530241",
                    channel_grouping="Organic Search",
                ),
            ),
        ),
        case(
            "ga_schema_drift_missing_fields",
            "totals and trafficSource absent (counts become 0); fullVisitorId absent (quarantined)",
            lambda: ga(
                "missing",
                good(json.dumps(without_totals), "0301-1735530301", pageviews=0, source=None),
                bad(
                    json.dumps(
                        {k: v for k, v in ga_session("0302", 1735530302).items() if k != "fullVisitorId"}
                    ),
                    "fullVisitorId missing",
                ),
            ),
        ),
        case(
            "ga_blank_line_and_empty_file",
            "a blank line in a day file, and a day file of zero bytes",
            lambda: ga("blank", ga_good("0311", 1735530311), bad("  ", "empty line")),
            lambda: ga("empty"),
        ),
    ]


# --- visitor map (CSV snapshots) ----------------------------------------------------------------------------------

VM_HEADER = "fullVisitorId,client_id"
VM_SNAPSHOT = "visitor_map/ingest_date=2024-12-30/visitor_map_20241230T000000Z.csv"


def vm(*recs: Rec, path: str = VM_SNAPSHOT, header: str | None = VM_HEADER, **options: object) -> RawFile:
    return RawFile(path, recs, header=header, **options)  # type: ignore[arg-type]


def vm_good(visitor: str, client: int, **expect: object) -> Rec:
    return good(f"{visitor},{client}", (visitor, client), **expect)


def _visitor_map_cases() -> list[Case]:
    """Line-level cases share the one snapshot that is staged (lake ``visitor-map``); header cases need lakes of
    their own, with an older valid snapshot that stays the current map."""

    def case(
        id_: str, description: str, build: Callable[[], tuple[RawFile, ...]], lake: str = "visitor-map"
    ) -> Case:
        return Case(id_, "visitor_map", description, lake, build)

    older = "visitor_map/ingest_date=2024-12-01/visitor_map_20241201T000000Z.csv"
    newer = "visitor_map/ingest_date=2024-12-31/visitor_map_20241231T000000Z.csv"
    return [
        case(
            "vm_truncated_line",
            "a line cut after the visitor id",
            lambda: (
                vm(
                    vm_good("0000000000000000101", 101),
                    bad("0000000000000000102", "expected 2 fields, got 1"),
                ),
            ),
        ),
        case(
            "vm_overlong_line",
            "a 26-digit visitor id, and a line with a third field",
            lambda: (
                vm(
                    bad("1" * 26 + ",111", "fullVisitorId is not a string of 1-25 digits"),
                    bad("112,112,web", "expected 2 fields, got 3"),
                    vm_good("113", 113),
                ),
            ),
        ),
        case(
            "vm_broken_quote",
            "an opening quote never closed: the next line is still read on its own",
            lambda: (
                vm(bad('"121,121', "fullVisitorId is not a string of 1-25 digits"), vm_good("122", 122)),
            ),
        ),
        case(
            "vm_wrong_delimiter",
            "a semicolon-separated line",
            lambda: (vm(bad("131;131", "expected 2 fields, got 1"), vm_good("132", 132)),),
        ),
        case(
            "vm_invalid_utf8",
            "a byte that is not UTF-8 in a visitor id",
            lambda: (
                vm(
                    bad("14\udcff1,141".encode("utf-8", "surrogateescape"), "invalid utf-8 bytes"),
                    vm_good("142", 142),
                ),
            ),
        ),
        case(
            "vm_wrong_type",
            "a client id in words, a zero client id, a negative client id",
            lambda: (
                vm(
                    bad("151,seven", "client_id missing or not a positive integer"),
                    bad("152,0", "client_id missing or not a positive integer"),
                    bad("153,-3", "client_id missing or not a positive integer"),
                    vm_good("154", 154),
                ),
            ),
        ),
        case(
            "vm_duplicate_link_and_shared_visitor",
            "a link repeated (deduplicated) and a visitor linked to two clients (kept, flagged ambiguous)",
            lambda: (
                vm(
                    superseded("0161,161", ("0161", 161)),
                    vm_good("0161", 161, is_ambiguous=False, client_count=1),
                    vm_good("162", 1621, is_ambiguous=True, client_count=2),
                    vm_good("162", 1622, is_ambiguous=True, client_count=2),
                ),
            ),
        ),
        case(
            "vm_header_extra_column",
            "schema drift: a newer snapshot with a third column; it is quarantined whole, the older one stays",
            lambda: (
                vm(vm_good("171", 171), path=older),
                vm(
                    bad("172,172,x", "unexpected header"),
                    path=newer,
                    header=VM_HEADER + ",source",
                    header_reason="unexpected header",
                ),
            ),
            lake="visitor-map-extra-column",
        ),
        case(
            "vm_header_missing_column",
            "schema drift: a newer snapshot without the client_id column (and a wrong delimiter in its header)",
            lambda: (
                vm(vm_good("181", 181), path=older),
                vm(
                    bad("182", "unexpected header"),
                    path=newer,
                    header="fullVisitorId",
                    header_reason="unexpected header",
                ),
            ),
            lake="visitor-map-missing-column",
        ),
        case(
            "vm_empty_latest_file",
            "a newer snapshot of zero bytes is no snapshot: the older map stays",
            lambda: (vm(vm_good("191", 191), path=older), vm(path=newer, header=None)),
            lake="visitor-map-empty-file",
        ),
    ]


# --- retail orders (SaaS Sales CSV) --------------------------------------------------------------------------------

RETAIL_COLUMNS = stage_retail_orders.COLUMNS
"""The job's names of the columns, in the file's order (the header text below is the file's, written out)."""
RETAIL_HEADER = (
    "Row ID,Order ID,Order Date,Date Key,Contact Name,Country,City,Region,Subregion,Customer,Customer ID,"
    "Industry,Segment,Product,License,Sales,Quantity,Discount,Profit"
)


def order_line(number: int, license_code: str, **changes: str) -> str:
    fields = {
        "row_id": str(number),
        "order_id": "EMEA-2024-100001",
        "order_date": "3/7/2024",
        "date_key": "20240307",
        "contact_name": "Ann Lee",
        "country": "Ireland",
        "city": "Dublin",
        "region": "EMEA",
        "subregion": "UKIR",
        "customer_name": "Lee Logistics",
        "client_id": "5017",
        "industry": "Energy",
        "segment": "SMB",
        "product": "Marketing Suite",
        "license": license_code,
        "sales": "261.96",
        "quantity": "2",
        "discount": "0.2",
        "profit": "-41.9136",
    }
    fields.update(changes)
    return ",".join(fields[name] for name in RETAIL_COLUMNS)


def order_good(row_id: int, **changes: str) -> Rec:
    return good(order_line(row_id, f"LIC{row_id:07d}", **changes), f"LIC{row_id:07d}")


def order_bad(row_id: int, reason: str, **changes: str) -> Rec:
    return bad(order_line(row_id, f"LIC{row_id:07d}", **changes), reason)


def retail(
    case: str,
    *recs: Rec,
    stamp: str = "20241230T000000Z",
    header: str | None = RETAIL_HEADER,
    **options: object,
) -> RawFile:
    day = f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}"
    path = f"retail_orders/ingest_date={day}/retail_orders_{stamp}_{case}.csv"
    return RawFile(path, recs, header=header, bom=True, newline="\r\n", **options)  # type: ignore[arg-type]


def _retail_cases() -> list[Case]:
    def case(id_: str, description: str, *files: Callable[[], RawFile]) -> Case:
        return Case(id_, "retail_orders", description, "retail", lambda: tuple(f() for f in files))

    cut = order_line(102, "LIC0000102")[:40]
    return [
        case(
            "rt_truncated_line",
            "an order line cut after 40 characters",
            lambda: retail(
                "truncated", order_good(101), bad(cut, f"expected 19 fields, got {cut.count(',') + 1}")
            ),
        ),
        case(
            "rt_overlong_line",
            "an order line with two extra fields, and one with a 100 kB product name (kept whole)",
            lambda: retail(
                "overlong",
                bad(order_line(111, "LIC0000111") + ",x,y", "expected 19 fields, got 21"),
                good(
                    order_line(112, "LIC0000112", product="P" * 100_000), "LIC0000112", product="P" * 100_000
                ),
            ),
        ),
        case(
            "rt_broken_quote",
            "an opening quote never closed (with a comma inside): the next line is not swallowed",
            lambda: retail(
                "quote",
                bad(
                    order_line(121, "LIC0000121", customer_name='"Lee, Logistics'),
                    "expected 19 fields, got 20",
                ),
                order_good(122),
                good(order_line(123, "LIC0000123", customer_name='"Lee'), "LIC0000123", customer_name='"Lee'),
                order_good(124),
            ),
        ),
        case(
            "rt_quoted_comma",
            "a properly quoted field with a comma: the export has no quoting, so the line is quarantined, not "
            "misaligned",
            lambda: retail(
                "quoted",
                bad(
                    order_line(131, "LIC0000131", customer_name='"Lee, Logistics"'),
                    "expected 19 fields, got 20",
                ),
                order_good(132),
            ),
        ),
        case(
            "rt_wrong_delimiter",
            "a semicolon-separated line in a comma-separated file",
            lambda: retail(
                "delimiter",
                bad(order_line(141, "LIC0000141").replace(",", ";"), "expected 19 fields, got 1"),
                order_good(142),
            ),
        ),
        case(
            "rt_wrong_delimiter_file",
            "a whole extract separated by semicolons: its header does not match, every line is quarantined",
            lambda: retail(
                "semicolons",
                bad(order_line(151, "LIC0000151").replace(",", ";"), "unexpected header"),
                header=RETAIL_HEADER.replace(",", ";"),
                header_reason="unexpected header",
            ),
        ),
        case(
            "rt_invalid_utf8",
            "a city with a byte that is not UTF-8",
            lambda: retail(
                "utf8",
                bad(
                    order_line(161, "LIC0000161", city="S\udce3o Paulo").encode("utf-8", "surrogateescape"),
                    "invalid utf-8 bytes",
                ),
                order_good(162, city="São Paulo"),
            ),
        ),
        case(
            "rt_wrong_types",
            "a quantity in words, a row id with letters, sales with a decimal comma",
            lambda: retail(
                "types",
                order_bad(171, "Quantity is not a positive integer", quantity="two"),
                bad(order_line(172, "LIC0000172", row_id="17x"), "Row ID missing or not a positive integer"),
                order_bad(173, "Sales is not a number with at most 4 decimals", sales="261;96"),
                order_good(174),
            ),
        ),
        case(
            "rt_impossible_dates",
            "Order Date 2/30/2024, Date Key 20240230",
            lambda: retail(
                "dates",
                order_bad(181, "Order Date missing or not a valid M/D/YYYY date", order_date="2/30/2024"),
                order_bad(182, "Date Key missing or not a valid YYYYMMDD date", date_key="20240230"),
                order_good(183, order_date="2/29/2024", date_key="20240229"),
            ),
        ),
        case(
            "rt_unknown_codes",
            "region MARS, subregion XX, segment Galactic",
            lambda: retail(
                "codes",
                order_bad(191, "unknown Region code", region="MARS"),
                order_bad(192, "unknown Subregion code", subregion="XX"),
                order_bad(193, "unknown Segment", segment="Galactic"),
                order_good(194),
            ),
        ),
        case(
            "rt_negative_amounts",
            "a negative quantity, a negative discount, a discount above 1; a negative profit is allowed",
            lambda: retail(
                "negative",
                order_bad(201, "Quantity is not a positive integer", quantity="-2"),
                order_bad(202, "Discount is not a fraction between 0 and 1", discount="-0.1"),
                order_bad(203, "Discount is not a fraction between 0 and 1", discount="1.5"),
                good(order_line(204, "LIC0000204", profit="-10.5"), "LIC0000204", profit=Decimal("-10.5")),
            ),
        ),
        case(
            "rt_duplicate_licenses",
            "an order line re-delivered by a later extract: the later load wins",
            lambda: retail(
                "dups", superseded(order_line(211, "LIC0000211", quantity="1"), "LIC0000211"), order_good(212)
            ),
            lambda: retail(
                "dups",
                good(order_line(211, "LIC0000211", quantity="3"), "LIC0000211", quantity=3),
                stamp="20241231T000000Z",
            ),
        ),
        case(
            "rt_header_extra_column",
            "schema drift: a new Currency column in the header",
            lambda: retail(
                "extracol",
                bad(order_line(221, "LIC0000221") + ",EUR", "unexpected header"),
                header=RETAIL_HEADER + ",Currency",
                header_reason="unexpected header",
            ),
        ),
        case(
            "rt_header_missing_column",
            "schema drift: the Sales column dropped from header and lines",
            lambda: retail(
                "missingcol",
                bad(order_line(231, "LIC0000231").replace(",261.96,", ","), "unexpected header"),
                header=RETAIL_HEADER.replace(",Sales,", ","),
                header_reason="unexpected header",
            ),
        ),
        case(
            "rt_no_header",
            "an extract without its header line: line 1 is data, so the file is quarantined whole",
            lambda: retail(
                "noheader",
                bad(order_line(242, "LIC0000242"), "unexpected header"),
                header=order_line(241, "LIC0000241"),
                header_reason="unexpected header",
            ),
        ),
        case(
            "rt_header_repeated_mid_file",
            "two extracts concatenated: the second header line is a bad record, the lines around it are kept",
            lambda: retail(
                "concat",
                order_good(251),
                bad(RETAIL_HEADER, "Row ID missing or not a positive integer"),
                order_good(252),
            ),
        ),
        case(
            "rt_empty_file_and_header_only",
            "an extract of zero bytes and one holding only its header",
            lambda: retail("empty", header=None),
            lambda: retail("headeronly"),
        ),
    ]


# --- transactions (PostgreSQL, JDBC) -------------------------------------------------------------------------------

TX_TABLE = "public.transactions"
TX_DDL = {
    # The source table without its constraints: it can hold what a broken source sends.
    "transactions": """
create table public.transactions (
    trans_id bigint, account_id bigint, date date, type varchar(16), operation varchar(32),
    amount numeric(12, 2), balance numeric(14, 2), k_symbol varchar(40), bank char(2), account varchar(8)
)""",
    # Every column but the key as text: values of the wrong type reach the job.
    "transactions-text": """
create table public.transactions (
    trans_id bigint, account_id text, date text, type text, operation text,
    amount text, balance text, k_symbol text, bank text, account text
)""",
    "transactions-extra-column": """
create table public.transactions (
    trans_id bigint primary key, account_id bigint not null, date date not null, type varchar(16) not null,
    operation varchar(32), amount numeric(12, 2) not null, balance numeric(14, 2) not null, k_symbol varchar(40),
    bank char(2), account varchar(8), channel varchar(16)
)""",
    "transactions-missing-column": """
create table public.transactions (
    trans_id bigint primary key, account_id bigint not null, date date not null, type varchar(16) not null,
    operation varchar(32), amount numeric(12, 2) not null, k_symbol varchar(40), bank char(2), account varchar(8)
)""",
    "transactions-empty": """
create table public.transactions (
    trans_id bigint primary key, account_id bigint not null, date date not null, type varchar(16) not null,
    operation varchar(32), amount numeric(12, 2) not null, balance numeric(14, 2) not null, k_symbol varchar(40),
    bank char(2), account varchar(8)
)""",
}
TX_ACCOUNTS = (1,)
"""The accounts stage table transactions are checked against."""


def tx_row(
    trans_id: int,
    *,
    account_id: object = 1,
    date: object = "2024-02-05",
    type_: object = "credit",
    operation: object = "credit in cash",
    amount: object = "5.00",
    balance: object = "100.00",
    k_symbol: object = None,
    bank: object = None,
    account: object = None,
    **extra: object,
) -> tuple:
    return (
        trans_id,
        account_id,
        date,
        type_,
        operation,
        amount,
        balance,
        k_symbol,
        bank,
        account,
        *extra.values(),
    )


def tx(*recs: Rec) -> tuple[RawFile, ...]:
    return (RawFile(TX_TABLE, recs),)


def _transaction_cases() -> list[Case]:
    def case(
        id_: str,
        description: str,
        build: Callable[[], tuple[RawFile, ...]],
        lake: str = "transactions",
        error: str | None = None,
    ) -> Case:
        return Case(id_, "transactions", description, lake, build, error)

    return [
        case(
            "tx_negative_amount",
            "a negative amount (the source's check constraint disabled); a zero amount is allowed",
            lambda: tx(
                bad(tx_row(101, amount="-5.00"), "amount is negative"),
                good(tx_row(102, amount="0.00"), 102, amount=Decimal("0.00")),
            ),
        ),
        case(
            "tx_unknown_codes",
            "unknown type, operation and k_symbol codes",
            lambda: tx(
                bad(tx_row(111, type_="REFUND"), "unknown type code"),
                bad(tx_row(112, operation="TELEPORT"), "unknown operation code"),
                bad(tx_row(113, k_symbol="BONUS"), "unknown k_symbol code"),
                good(
                    tx_row(114, type_=" vydaj ", operation="PREVOD NA UCET", k_symbol="SIPO"),
                    114,
                    trans_type="debit",
                    k_symbol="household",
                ),
            ),
        ),
        case(
            "tx_missing_values",
            "no date, no type",
            lambda: tx(
                bad(tx_row(121, date=None), "date missing"),
                bad(tx_row(122, type_=None), "type missing"),
                good(tx_row(123), 123),
            ),
        ),
        case(
            "tx_duplicate_trans_id",
            "one trans_id twice (the primary key disabled): one copy staged, one deduplicated, always the same",
            lambda: tx(
                superseded(tx_row(131, balance="100.00"), 131),
                good(tx_row(131, balance="999.00"), 131, balance=Decimal("999.00")),
            ),
        ),
        case(
            "tx_orphan_account",
            "a transaction of an account that is not in the accounts table: kept, flagged",
            lambda: tx(
                good(tx_row(141, account_id=4242), 141, is_orphan=True),
                good(tx_row(142), 142, is_orphan=False),
            ),
        ),
        case(
            "tx_wrong_types",
            "text in number columns: an amount with a decimal comma, a balance 'n/a', an account id in letters",
            lambda: tx(
                bad(tx_row(201, amount="12,50"), "amount missing or not a number"),
                bad(tx_row(202, balance="n/a"), "balance missing or not a number"),
                bad(tx_row(203, account_id="abc"), "account_id missing"),
                good(tx_row(204, account_id="1", amount="7.25"), 204, amount=Decimal("7.25")),
            ),
            lake="transactions-text",
        ),
        case(
            "tx_impossible_date",
            "a date 2024-02-30 and a date in another format",
            lambda: tx(
                bad(tx_row(211, date="2024-02-30"), "date is not a valid date"),
                bad(tx_row(212, date="05/02/2024"), "date is not a valid date"),
                good(tx_row(213, date="2024-02-29"), 213),
            ),
            lake="transactions-text",
        ),
        case(
            "tx_overlong_values",
            "a four-letter bank code, a type padded with spaces (trimmed, kept)",
            lambda: tx(
                bad(tx_row(221, bank="ABCD", account="00001234"), "bank is not a two-letter code"),
                good(
                    tx_row(222, type_="   credit   ", bank="ab", account="00001234"), 222, partner_bank="AB"
                ),
            ),
            lake="transactions-text",
        ),
        case(
            "tx_schema_drift_extra_column",
            "a new column in the source table: not read, rows staged",
            lambda: tx(good(tx_row(301, channel="mobile"), 301), good(tx_row(302, channel=None), 302)),
            lake="transactions-extra-column",
        ),
        case(
            "tx_schema_drift_missing_column",
            "the balance column dropped from the source: the batch fails loudly naming it, nothing is staged "
            "and the bookmark does not move (rows are read again once the source is fixed)",
            lambda: tx(Rec(tx_row(401)[:6] + tx_row(401)[7:])),
            lake="transactions-missing-column",
            error="balance",
        ),
        case(
            "tx_empty_table",
            "an empty source table: an empty, balanced batch",
            lambda: tx(),
            lake="transactions-empty",
        ),
    ]


# --- the corpus ---------------------------------------------------------------------------------------------------

CASES: list[Case] = [
    *_crm_cases(),
    *_mainframe_cases(),
    *_ebcdic_cases(),
    *_ga_cases(),
    *_visitor_map_cases(),
    *_retail_cases(),
    *_transaction_cases(),
]
BY_ID: dict[str, Case] = {case.id: case for case in CASES}
assert len(BY_ID) == len(CASES), "case ids are unique"

LAKE_SOURCES: dict[str, tuple[str, ...]] = {}
"""Each lake's stage jobs, in run order."""
for _case in CASES:
    _order = list(MAINFRAME_TABLES) if _case.lake.startswith("mainframe") else [_case.source]
    _sources = set(LAKE_SOURCES.get(_case.lake, ())) | {_case.source}
    LAKE_SOURCES[_case.lake] = tuple(s for s in _order if s in _sources)


def corpus_summary() -> list[dict[str, str]]:
    """Every case as ``{"id", "source", "description"}``, in corpus order."""
    return [{"id": c.id, "source": c.source, "description": c.description} for c in CASES]


def cases_of(lake: str) -> list[Case]:
    return [c for c in CASES if c.lake == lake]
