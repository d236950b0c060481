"""COBOL copybooks for the mainframe extracts, and a small parser that turns one into a record layout.

One copybook drives both sides: :mod:`ingestion.mainframe` encodes records with it, and the Spark stage jobs
decode the raw files with it. This module is deliberately standard-library only, so that it can be shipped to
AWS Glue or EMR as a plain ``.py`` file next to the ``.cpy`` files.

Supported (enough for fixed-width DISPLAY records, the usual mainframe text unload):

* levels 01-49 (group items only structure the record) and level 88 condition names, whose ``VALUE`` literals
  are kept as the field's documented code values;
* ``PIC``/``PICTURE`` with ``X``, ``A``, ``9``, ``S`` and ``V`` and repeat counts, e.g. ``X(18)``, ``9(8)``,
  ``S9(9)V99``, ``9(2)V9(2)``; ``USAGE DISPLAY``;
* signs: ``SIGN [IS] LEADING|TRAILING [SEPARATE [CHARACTER]]`` (a ``+``/``-`` byte), or by default the zoned
  "overpunch" in the last digit (``{ABCDEFGHI`` for +0..+9, ``}JKLMNOPQR`` for -0..-9, which are the EBCDIC zone
  nibbles C and D once the line is encoded as cp037);
* ``FILLER`` (written as spaces, not decoded); comment lines (``*`` in column 7, or a line starting with ``*``)
  and inline ``*>`` comments. The comment lines just above a field become its ``description``.

Anything else (``OCCURS``, ``REDEFINES``, ``COMP-3`` ...) raises :class:`CopybookError` naming the line, rather
than producing a wrong layout.

Blank fields mean "not reported": an all-space field decodes to ``None``, and ``None`` encodes as spaces.

Files: with an ASCII-compatible encoding (the default) every record is one line ending in ``\\n``. With an EBCDIC
code page (``encoding="cp037"``) records are concatenated without separators, as a ``RECFM=FB`` data set
transferred in binary: record ``i`` is bytes ``[i * record_length, (i + 1) * record_length)``.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from functools import cache
from importlib import resources
from typing import Literal

__all__ = [
    "DEFAULT_ENCODING",
    "CopybookError",
    "Field",
    "RecordLayout",
    "is_ebcdic",
    "load_layout",
    "parse_copybook",
]

DEFAULT_ENCODING = "ascii"
EBCDIC_CODECS = frozenset({"cp037", "cp273", "cp500", "cp875", "cp1026", "cp1140"})

_POSITIVE_OVERPUNCH = "{ABCDEFGHI"
_NEGATIVE_OVERPUNCH = "}JKLMNOPQR"
_OVERPUNCH_DIGIT = {c: (i, 1) for i, c in enumerate(_POSITIVE_OVERPUNCH)} | {
    c: (i, -1) for i, c in enumerate(_NEGATIVE_OVERPUNCH)
}
_TOKEN = re.compile(r"'[^']*'\.?|\"[^\"]*\"\.?|\S+")
_PIC_SYMBOL = re.compile(r"([XA9SV])(?:\((\d+)\))?")
_UNSUPPORTED = {"OCCURS", "REDEFINES", "COMP", "COMP-1", "COMP-2", "COMP-3", "COMP-4", "COMP-5", "BINARY"}
_UNSUPPORTED |= {"PACKED-DECIMAL", "JUSTIFIED", "JUST", "BLANK", "SYNC", "SYNCHRONIZED", "INDEXED"}

Kind = Literal["string", "integer", "decimal"]


class CopybookError(ValueError):
    """A copybook, a record or a line does not fit the layout; the message says where and what."""


def is_ebcdic(encoding: str) -> bool:
    """True for the EBCDIC code pages Python ships (cp037 and friends): files are then fixed-block, unlined."""
    return codecs.lookup(encoding).name in EBCDIC_CODECS


@dataclass(frozen=True)
class Field:
    """One elementary item of a record: where it sits on the line and how its text maps to a value."""

    name: str
    """The COBOL name, e.g. ``OPEN-DATE``."""
    offset: int
    """0-based position of the first byte on the record (add 1 for Spark's 1-based ``substring``)."""
    length: int
    """Bytes on the record, a separate sign included."""
    kind: Kind
    """``string`` (PIC X/A), ``integer`` (PIC 9 without decimals) or ``decimal`` (PIC 9 with V)."""
    digits: int = 0
    """Numeric fields: total digits (integer and fraction)."""
    scale: int = 0
    """Numeric fields: digits after the implied decimal point (``V``)."""
    signed: bool = False
    sign_separate: bool = False
    sign_leading: bool = False
    description: str = ""
    """The comment lines written just above the field in the copybook."""
    values: tuple[str, ...] = ()
    """The code values its level-88 conditions document (empty when the field has none)."""

    @property
    def column(self) -> str:
        """The field's name as a column: ``OPEN-DATE`` becomes ``open_date``."""
        return self.name.lower().replace("-", "_")

    @property
    def is_filler(self) -> bool:
        return self.name == "FILLER"

    # --- encoding ----------------------------------------------------------------------------------
    def encode(self, value: object) -> str:
        """The field's text (exactly ``length`` characters) for ``value``; ``None`` gives spaces."""
        if value is None:
            return " " * self.length
        if self.kind == "string":
            text = str(value)
            if len(text) > self.length:
                raise CopybookError(f"{self.name}: {text!r} is longer than PIC X({self.length})")
            return text.ljust(self.length)
        return self._encode_number(value)

    def _encode_number(self, value: object) -> str:
        if isinstance(value, bool) or not isinstance(value, int | Decimal | str | float):
            raise CopybookError(f"{self.name}: {value!r} is not a number")
        try:
            number = Decimal(str(value)) if isinstance(value, float | str) else Decimal(value)
        except InvalidOperation as exc:
            raise CopybookError(f"{self.name}: {value!r} is not a number") from exc
        scaled = number.scaleb(self.scale)
        if scaled != scaled.to_integral_value():
            raise CopybookError(f"{self.name}: {value} has more than {self.scale} decimal places")
        unscaled = int(scaled)
        if unscaled < 0 and not self.signed:
            raise CopybookError(f"{self.name}: {value} is negative but the PIC has no S")
        digits = str(abs(unscaled)).rjust(self.digits, "0")
        if len(digits) > self.digits:
            raise CopybookError(f"{self.name}: {value} does not fit in {self.digits} digits")
        if not self.signed:
            return digits
        negative = unscaled < 0
        if self.sign_separate:
            sign = "-" if negative else "+"
            return sign + digits if self.sign_leading else digits + sign
        punch = _NEGATIVE_OVERPUNCH if negative else _POSITIVE_OVERPUNCH
        if self.sign_leading:
            return punch[int(digits[0])] + digits[1:]
        return digits[:-1] + punch[int(digits[-1])]

    # --- decoding ----------------------------------------------------------------------------------
    def decode(self, text: str) -> str | int | Decimal | None:
        """The value of the field's ``text``: ``None`` when it is all spaces."""
        if not text.strip():
            return None
        if self.kind == "string":
            return text.rstrip()
        digits, sign = self._split_sign(text)
        if not digits.isdigit() or not digits.isascii():
            raise CopybookError(f"{self.name}: {text!r} is not a PIC {'S' if self.signed else ''}9 value")
        unscaled = sign * int(digits)
        if self.kind == "integer":
            return unscaled
        return Decimal(unscaled).scaleb(-self.scale)

    def _split_sign(self, text: str) -> tuple[str, int]:
        if not self.signed:
            return text, 1
        if self.sign_separate:
            sign_char, digits = (text[0], text[1:]) if self.sign_leading else (text[-1], text[:-1])
            if sign_char not in "+-":
                raise CopybookError(f"{self.name}: {text!r} has no +/- sign where SIGN SEPARATE puts it")
            return digits, -1 if sign_char == "-" else 1
        punched = text[0] if self.sign_leading else text[-1]
        if punched.isdigit():  # an unsigned digit is accepted as positive, as COBOL does
            return text, 1
        if punched not in _OVERPUNCH_DIGIT:
            raise CopybookError(f"{self.name}: {text!r} has no valid overpunched sign")
        digit, sign = _OVERPUNCH_DIGIT[punched]
        digits = str(digit) + text[1:] if self.sign_leading else text[:-1] + str(digit)
        return digits, sign


@dataclass(frozen=True)
class RecordLayout:
    """The layout of one fixed-width record: its ordered fields and how to encode and decode it."""

    name: str
    """The level-01 name, e.g. ``ACCOUNT-RECORD``."""
    fields: tuple[Field, ...]
    """Every elementary item in record order, FILLER included."""
    description: str = ""

    @property
    def record_length(self) -> int:
        return sum(f.length for f in self.fields)

    @property
    def data_fields(self) -> tuple[Field, ...]:
        """The fields that carry data (FILLER left out), in record order."""
        return tuple(f for f in self.fields if not f.is_filler)

    @property
    def columns(self) -> list[str]:
        return [f.column for f in self.data_fields]

    def field(self, column: str) -> Field:
        for f in self.data_fields:
            if f.column == column or f.name == column:
                return f
        raise KeyError(f"{self.name} has no field {column!r}; fields: {', '.join(self.columns)}")

    # --- one record ---------------------------------------------------------------------------------
    def encode_line(self, record: Mapping[str, object]) -> str:
        """The record as one fixed-width text line (no line terminator). Keys are column names."""
        parts = []
        for f in self.fields:
            if f.is_filler:
                parts.append(" " * f.length)
                continue
            if f.column not in record:
                raise CopybookError(f"{self.name}: the record has no value for {f.name} ({f.column})")
            parts.append(f.encode(record[f.column]))
        return "".join(parts)

    def decode_line(self, line: str, line_number: int | None = None) -> dict[str, str | int | Decimal | None]:
        """The values of one fixed-width line, by column name. ``line_number`` only improves error messages."""
        where = f" line {line_number}" if line_number is not None else ""
        if len(line) != self.record_length:
            raise CopybookError(
                f"{self.name}{where}: {len(line)} characters where the copybook defines {self.record_length}"
            )
        values = {}
        for f in self.data_fields:
            try:
                values[f.column] = f.decode(line[f.offset : f.offset + f.length])
            except CopybookError as exc:
                raise CopybookError(f"{self.name}{where}, offset {f.offset}: {exc}") from exc
        return values

    def encode(self, record: Mapping[str, object], encoding: str = DEFAULT_ENCODING) -> bytes:
        """One record as bytes, exactly ``record_length`` of them (no terminator)."""
        data = self.encode_line(record).encode(encoding)
        if len(data) != self.record_length:
            raise CopybookError(
                f"{self.name}: {encoding} turned a {self.record_length}-character record into {len(data)} bytes; "
                "fixed-width fields need single-byte characters (strip accents before writing)"
            )
        return data

    def decode(self, data: bytes, encoding: str = DEFAULT_ENCODING) -> dict[str, str | int | Decimal | None]:
        return self.decode_line(data.decode(encoding))

    # --- whole files --------------------------------------------------------------------------------
    def encode_records(
        self, records: Iterable[Mapping[str, object]], encoding: str = DEFAULT_ENCODING
    ) -> bytes:
        """A file of records: ``\\n``-terminated lines, or unlined fixed-length records for EBCDIC."""
        encoded = [self.encode(record, encoding) for record in records]
        if is_ebcdic(encoding):
            return b"".join(encoded)
        newline = "\n".encode(encoding)
        return b"".join(line + newline for line in encoded)

    def decode_records(
        self, data: bytes, encoding: str = DEFAULT_ENCODING
    ) -> Iterator[dict[str, str | int | Decimal | None]]:
        """The records of a file written by :meth:`encode_records` (CRLF line ends are accepted too)."""
        if is_ebcdic(encoding):
            size = self.record_length
            if len(data) % size:
                raise CopybookError(
                    f"{self.name}: {len(data)} bytes is not a whole number of {size}-byte records"
                )
            for number, start in enumerate(range(0, len(data), size), start=1):
                yield self.decode_line(data[start : start + size].decode(encoding), number)
            return
        lines = data.decode(encoding).split("\n")
        if lines[-1] == "":
            lines.pop()  # the terminator of the last line (or an empty file)
        for number, line in enumerate(lines, start=1):
            yield self.decode_line(line.removesuffix("\r"), number)


# --- parsing --------------------------------------------------------------------------------------------


@dataclass
class _Statement:
    tokens: list[str]
    line: int
    comments: list[str]


def _comment_text(text: str) -> str:
    """A comment's words, without the box-drawing asterisks at its ends."""
    return " ".join(text.strip().strip("*").split())


def _code_and_comment(raw: str) -> tuple[str, str | None]:
    """Split a source line into its code and, for a comment line, the comment text."""
    line = raw.rstrip("\n\r")
    if re.match(r"\d{6}", line):  # fixed format: columns 1-6 hold a sequence number
        line = " " * 6 + line[6:]
    if len(line) > 6 and line[6] in "*/" and not line[:6].strip():
        return "", _comment_text(line[7:])
    stripped = line.strip()
    if stripped.startswith("*"):
        return "", _comment_text(stripped.lstrip("*>"))
    code = line.split("*>", 1)[0]
    return code, None


def _statements(text: str) -> Iterator[_Statement]:
    """The period-terminated statements of a copybook, with the comments written just above each."""
    tokens: list[str] = []
    comments: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        code, comment = _code_and_comment(raw)
        if comment is not None:
            if not tokens:
                comments.append(comment)
            continue
        for token in _TOKEN.findall(code):
            if not tokens:
                start = number
            if token.endswith(".") and not re.fullmatch(r"[+-]?\d*\.\d+", token):
                if token != ".":
                    tokens.append(token[:-1])
                yield _Statement(tokens, start, [c for c in comments if c.strip("-=* ")])
                tokens, comments = [], []
            else:
                tokens.append(token)
    if tokens:
        raise CopybookError(f"line {start}: the statement {' '.join(tokens)!r} does not end with a period")


def _parse_picture(picture: str, line: int) -> tuple[Kind, int, int, bool]:
    """``(kind, digits or length, scale, signed)`` of a PIC string."""
    pic = picture.upper()
    pos, length, scale, signed, seen_v, kinds = 0, 0, 0, False, False, set()
    for match in _PIC_SYMBOL.finditer(pic):
        if match.start() != pos:
            break
        pos = match.end()
        symbol, count = match.group(1), int(match.group(2) or 1)
        if symbol == "S":
            if match.start() != 0 or count != 1:
                raise CopybookError(f"line {line}: S must come first, once, in PIC {picture}")
            signed = True
        elif symbol == "V":
            if seen_v or count != 1:
                raise CopybookError(f"line {line}: more than one V in PIC {picture}")
            seen_v = True
        else:
            kinds.add("9" if symbol == "9" else "X")
            length += count
            if seen_v:
                scale += count
    if pos != len(pic) or not length:
        raise CopybookError(f"line {line}: unsupported PIC {picture!r} (use X(n), 9(n), S9(n)V99 ...)")
    if kinds == {"X"}:
        if signed or seen_v:
            raise CopybookError(f"line {line}: PIC {picture} mixes S or V with X")
        return "string", length, 0, False
    if kinds != {"9"}:
        raise CopybookError(f"line {line}: PIC {picture} mixes X and 9")
    return ("decimal" if scale else "integer"), length, scale, signed


def _literals(tokens: list[str]) -> list[str]:
    out = []
    for token in tokens:
        if token.upper() in ("VALUE", "VALUES", "IS", "ARE", "THRU", "THROUGH"):
            continue
        out.append(token[1:-1] if token[:1] in "'\"" else token)
    return out


def _elementary(statement: _Statement, offset: int) -> Field:
    tokens, line = statement.tokens, statement.line
    name = tokens[1].upper()
    rest = [t.upper() if t[:1] not in "'\"" else t for t in tokens[2:]]
    picture: str | None = None
    sign_separate = sign_leading = False
    i = 0
    while i < len(rest):
        token = rest[i]
        if token in _UNSUPPORTED:
            raise CopybookError(f"line {line}: {name}: {token} is not supported by this parser")
        if token in ("PIC", "PICTURE"):
            i += 2 if rest[i + 1 : i + 2] == ["IS"] else 1
            if i >= len(rest):
                raise CopybookError(f"line {line}: {name}: PIC without a picture string")
            picture = rest[i]
        elif token == "SIGN":
            i += 1
            if rest[i : i + 1] == ["IS"]:
                i += 1
            if rest[i : i + 1] not in (["LEADING"], ["TRAILING"]):
                raise CopybookError(f"line {line}: {name}: SIGN must be LEADING or TRAILING")
            sign_leading = rest[i] == "LEADING"
            if rest[i + 1 : i + 2] == ["SEPARATE"]:
                sign_separate = True
                i += 1
                if rest[i + 1 : i + 2] == ["CHARACTER"]:
                    i += 1
        elif token in ("USAGE", "IS", "DISPLAY"):
            pass
        elif token in ("VALUE", "VALUES"):
            break  # an initial value does not change the layout
        else:
            raise CopybookError(f"line {line}: {name}: unexpected {tokens[2 + i]!r}")
        i += 1
    if picture is None:
        raise CopybookError(f"line {line}: {name} has neither a PIC nor subordinate items")
    kind, size, scale, signed = _parse_picture(picture, line)
    if (sign_leading or sign_separate) and not signed:
        raise CopybookError(f"line {line}: {name}: a SIGN clause needs an S in the PIC")
    length = size + (1 if sign_separate else 0)
    return Field(
        name=name,
        offset=offset,
        length=length,
        kind=kind,
        digits=size if kind != "string" else 0,
        scale=scale,
        signed=signed,
        sign_separate=sign_separate,
        sign_leading=sign_leading,
        description=" ".join(statement.comments),
    )


def parse_copybook(text: str) -> RecordLayout:
    """The layout of the single level-01 record that ``text`` (a copybook) describes."""
    statements = list(_statements(text))
    record_name: str | None = None
    record_description = ""
    fields: list[Field] = []
    offset = 0
    for index, statement in enumerate(statements):
        tokens, line = statement.tokens, statement.line
        if len(tokens) < 2 or not tokens[0].isdigit():
            raise CopybookError(
                f"line {line}: expected a level number and a name, found {' '.join(tokens)!r}"
            )
        level = int(tokens[0])
        if level == 88:
            if not fields:
                raise CopybookError(f"line {line}: level 88 before any field")
            last = fields[-1]
            fields[-1] = replace(last, values=(*last.values, *_literals(tokens[2:])))
            continue
        if level == 1:
            if record_name is not None:
                raise CopybookError(f"line {line}: a second 01 record; keep one record per copybook")
            record_name = tokens[1].upper()
            record_description = " ".join(statement.comments)
            continue
        if not 2 <= level <= 49:
            raise CopybookError(f"line {line}: level {level} is not supported (use 01-49 and 88)")
        if record_name is None:
            raise CopybookError(f"line {line}: a field before the 01 record")
        upper = [t.upper() for t in tokens]
        is_group = "PIC" not in upper and "PICTURE" not in upper
        if is_group:
            following = statements[index + 1].tokens if index + 1 < len(statements) else []
            if not following or not following[0].isdigit() or int(following[0]) <= level:
                raise CopybookError(f"line {line}: {tokens[1]} has neither a PIC nor subordinate items")
            if any(t in _UNSUPPORTED for t in upper):
                raise CopybookError(f"line {line}: {tokens[1]}: {' '.join(upper[2:])} is not supported")
            continue
        field = _elementary(statement, offset)
        fields.append(field)
        offset += field.length
    if record_name is None or not fields:
        raise CopybookError("the copybook defines no 01 record with fields")
    names = [f.name for f in fields if not f.is_filler]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise CopybookError(f"{record_name}: duplicate field names {', '.join(duplicates)}")
    return RecordLayout(name=record_name, fields=tuple(fields), description=record_description)


@cache
def load_layout(name: str) -> RecordLayout:
    """The layout of the packaged copybook ``<name>.cpy`` (e.g. ``account``); works from a zip on Glue too."""
    try:
        text = resources.files(__name__).joinpath(f"{name}.cpy").read_text(encoding="ascii")
    except FileNotFoundError as exc:
        raise CopybookError(f"no copybook {name}.cpy in {__name__}") from exc
    return parse_copybook(text)
