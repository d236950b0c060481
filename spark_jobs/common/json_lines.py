"""Checks on a line of JSON text that Spark's JSON reader does not make on its own.

Spark's ``from_json`` reads the first JSON value of a text and ignores what follows it, and it reads any value
(an object, an array) into a string field as its JSON text. So without these checks two records glued on one line
(``{...}{...}``, a lost newline) stage as the first record alone, the second one silently lost; a stray ``}`` after
a record passes; and ``"city": {"name": "Brno"}`` stages the city as the text ``{"name":"Brno"}``.
"""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F


def is_one_json_object(text: Column) -> Column:
    """True when ``text`` holds exactly one JSON object and nothing after it (false, never null, otherwise).

    The text is read as the JSON array ``[text]``: inside an array the parser must meet ``,`` or ``]`` after the
    first value, so a second value or a stray character makes the array malformed, and a second value after a
    comma makes it longer than one. The parser stops at the bracket that closes the array, though, so a text
    that closes it itself (``{...}] {...}``) would pass; the same text read as ``[text,0]`` then closes at that
    same bracket and holds one value, not two. ``json_array_length`` only tokenizes (no value is built)."""
    trimmed = F.trim(text)
    alone = F.json_array_length(F.concat(F.lit("["), text, F.lit("]"))) == 1
    then_zero = F.json_array_length(F.concat(F.lit("["), text, F.lit(",0]"))) == 2
    return F.coalesce(trimmed.startswith("{") & alone & then_zero, F.lit(False))


def has_repeated_key(text: Column) -> Column:
    """True when the JSON object ``text`` names one of its top-level keys twice (its value is ambiguous)."""
    keys = F.json_object_keys(text)
    return F.coalesce(F.size(F.array_distinct(keys)) != F.size(keys), F.lit(False))


def holds_object_or_array(text: Column, key: str) -> Column:
    """True when the flat JSON object ``text`` gives ``key`` an object or an array as its value (for a key
    whose value must be a scalar). ``key`` is a plain field name (letters, digits, ``_``)."""
    return F.coalesce(text.rlike(f'"{key}"\\s*:\\s*[\\[{{]'), F.lit(False))


_HIGH = r"\\u[dD][89abAB][0-9a-fA-F]{2}"
_LOW = r"\\u[dD][c-fC-F][0-9a-fA-F]{2}"
_LONE_SURROGATE = f"{_HIGH}(?!{_LOW})|(?<!{_HIGH}){_LOW}"


def has_lone_surrogate_escape(text: Column) -> Column:
    """True when the JSON text holds a ``\\uD800``-``\\uDFFF`` escape that is not half of a surrogate pair: it
    names no character, and the parser would silently stage it as ``?``.

    The regular expression (a look-behind tried at every character) is run only on texts that hold a ``\\u`` at
    all, found by a plain substring search: on JSON lines of several kilobytes it was most of a parse's cost."""
    return F.coalesce(F.when(text.contains("\\u"), text.rlike(_LONE_SURROGATE)), F.lit(False))
