"""The core banking system's code lists (PKDD'99 Czech vocabulary) and the documented English values the stage
layer writes instead. One place for every code the mainframe extracts and the transactions table use.

Each mapping takes a code, trimmed and upper-cased, to its English value. The English value itself is accepted
as well (a source that already translated, like ``public.transactions``, stages the same values). Anything else
is an unknown code: the record is quarantined with the reason ``unknown <field> code``.
"""

from __future__ import annotations

from collections.abc import Mapping

from pyspark.sql import Column
from pyspark.sql import functions as F

FREQUENCY: Mapping[str, str] = {
    "POPLATEK MESICNE": "monthly",
    "POPLATEK TYDNE": "weekly",
    "POPLATEK PO OBRATU": "after each transaction",
    # The AWS workshop's generator wrote these abbreviations of the same three frequencies.
    "MI": "monthly",
    "WI": "weekly",
    "TI": "after each transaction",
}
"""Statement frequency of an account."""

DISPOSITION_TYPE: Mapping[str, str] = {
    "OWNER": "owner",
    "DISPONENT": "disponent",
    "USER": "disponent",  # the workshop's word for a DISPONENT
}
"""A client's right on an account: the owner, or a disponent (a user allowed to operate it)."""

CARD_TYPE: Mapping[str, str] = {"JUNIOR": "junior", "CLASSIC": "classic", "GOLD": "gold"}

LOAN_STATUS: Mapping[str, str] = {
    "A": "finished, no problems",
    "B": "finished, loan not paid",
    "C": "running, OK so far",
    "D": "running, client in debt",
}

K_SYMBOL: Mapping[str, str] = {
    "SIPO": "household",
    "UVER": "loan payment",
    "POJISTNE": "insurance payment",
    "LEASING": "leasing",
    "SLUZBY": "payment for statement",
    "UROK": "interest credited",
    "SANKC. UROK": "sanction interest if negative balance",
    "DUCHOD": "old-age pension",
}
"""Purpose of a standing order or a transaction (blank: none given)."""

TRANSACTION_TYPE: Mapping[str, str] = {
    "PRIJEM": "credit",
    "VYDAJ": "debit",
    "VYBER": "cash withdrawal",  # the rare third type, always a withdrawal in cash
}

OPERATION: Mapping[str, str] = {
    "VYBER KARTOU": "credit card withdrawal",
    "VKLAD": "credit in cash",
    "PREVOD Z UCTU": "collection from another bank",
    "VYBER": "withdrawal in cash",
    "PREVOD NA UCET": "remittance to another bank",
    # The AWS workshop's English abbreviations of the same five operations.
    "CCW": "credit card withdrawal",
    "CCK": "credit in cash",
    "CAB": "collection from another bank",
    "WCA": "withdrawal in cash",
    "RAB": "remittance to another bank",
}


def lookup(mapping: Mapping[str, str]) -> dict[str, str]:
    """The mapping with its English values as keys too, all keys upper-case."""
    table = {value.upper(): value for value in mapping.values()}
    table.update({code.upper(): value for code, value in mapping.items()})
    return table


def translate(text: Column, mapping: Mapping[str, str]) -> Column:
    """The English value of a code column (trimmed, case-insensitive); null when blank or unknown."""
    pairs = [F.lit(part) for key, value in sorted(lookup(mapping).items()) for part in (key, value)]
    return F.element_at(F.create_map(*pairs), F.upper(F.trim(text)))


def blank(text: Column) -> Column:
    """True when the text is null or only spaces."""
    return text.isNull() | (F.trim(text) == "")
