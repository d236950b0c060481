"""Splitting raw files into numbered lines: line endings, byte-order marks, encodings and undecodable bytes."""

from __future__ import annotations

from spark_jobs.common.quality import split_lines


def test_crlf_bom_and_missing_final_newline() -> None:
    rows = split_lines("f.csv", b"\xef\xbb\xbfRow ID,Sales\r\n1,2.5\r\n2,3")
    assert rows == [
        ("f.csv", 1, "Row ID,Sales", None),
        ("f.csv", 2, "1,2.5", None),
        ("f.csv", 3, "2,3", None),
    ]


def test_blank_lines_are_kept_so_they_can_be_counted() -> None:
    assert [r[2] for r in split_lines("f", b"a\n\nb\n")] == ["a", "", "b"]


def test_empty_file_has_no_lines() -> None:
    assert split_lines("f", b"") == []


def test_ebcdic_lines() -> None:
    data = "00012ACCOUNT\n00013CARD   \n".encode("cp037")
    assert [r[2] for r in split_lines("f.dat", data, "cp037")] == ["00012ACCOUNT", "00013CARD   "]


def test_undecodable_line_keeps_its_text_and_a_reason() -> None:
    rows = split_lines("f", b'{"city": "Br\xfcnn"}\n{"ok": 1}\n')
    assert rows[0][2] == '{"city": "Br\ufffdnn"}' and rows[0][3].startswith("invalid utf-8 bytes")
    assert rows[1] == ("f", 2, '{"ok": 1}', None)


def test_fixed_length_ebcdic_records_without_separators() -> None:
    from spark_jobs.common.quality import split_fixed

    data = "ABC001DEF002GH".encode("cp037")
    rows = split_fixed("f.dat", data, "cp037", 6)
    assert [(r[1], r[2], r[3]) for r in rows] == [
        (1, "ABC001", None),
        (2, "DEF002", None),
        (3, "GH", "truncated record: 2 bytes, expected 6"),
    ]
