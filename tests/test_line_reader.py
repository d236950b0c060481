"""Splitting raw files into numbered lines: line endings, byte-order marks, encodings and undecodable bytes."""

from __future__ import annotations

import gzip

from spark_jobs.common.hadoopfs import RemoteFile
from spark_jobs.common.quality import SPLIT_BYTES, SPREAD_BYTES, file_groups, line_partitions, split_lines


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


def test_gzip_files_every_member_and_their_damage() -> None:
    from spark_jobs.common.quality import split_gzip_lines

    lines = [f'{{"n": {i}, "pad": "{"x" * (i % 50)}"}}'.encode() for i in range(2_000)]
    data = b"".join(line + b"\n" for line in lines)
    whole = gzip.compress(data)
    assert [r[2].encode() for r in split_gzip_lines("d.json.gz", whole)] == lines
    assert all(r[3] is None for r in split_gzip_lines("d.json.gz", whole))
    members = gzip.compress(data[:1000]) + gzip.compress(
        data[1000:]
    )  # `cat a.gz b.gz`: one file, two members
    assert [r[2].encode() for r in split_gzip_lines("d.json.gz", members)] == lines

    cut = split_gzip_lines("d.json.gz", whole[: len(whole) // 2])  # an upload cut off halfway
    assert 0 < len(cut) < len(lines)
    assert [r[2].encode() for r in cut[:-1]] == lines[: len(cut) - 1], "the lines before the cut are kept"
    assert all(r[3] is None for r in cut[:-1])
    assert cut[-1][1] == len(cut) and "ends early" in cut[-1][3], "the line at the cut carries the reason"

    no_trailer = split_gzip_lines("d.json.gz", whole[:-8])  # every line there, the CRC and length missing
    assert [r[2].encode() for r in no_trailer] == lines and "ends early" in no_trailer[-1][3]

    (garbage,) = split_gzip_lines("d.json.gz", b"plain text, not gzip\n")
    assert garbage[:3] == ("d.json.gz", 1, "") and "not a readable gzip stream" in garbage[3]


def test_only_a_file_larger_than_split_bytes_spreads_the_lines() -> None:
    small = [RemoteFile(f"f{n}.json.gz", SPLIT_BYTES) for n in range(700)]  # spread by file_groups instead
    assert line_partitions(small, 2) == 0
    assert line_partitions([], 2) == 0
    assert line_partitions([RemoteFile("big.csv", SPLIT_BYTES + 1)], 2) == 2  # at least one per core
    assert line_partitions([RemoteFile("big.csv", 7 * SPLIT_BYTES + 1)], 2) == 8
    assert line_partitions([RemoteFile("big.csv", 3 * SPLIT_BYTES), *small[:3]], 4) == 6


def _sizes(groups: list[list[RemoteFile]]) -> list[int]:
    return [sum(f.size for f in group) for group in groups]


def test_many_files_are_read_in_groups_of_about_equal_size() -> None:
    day = 75_000  # GA's day files at scale 1: 730 of ~75 kB of gzip, 55 MB together
    ga = [RemoteFile(f"ga_sessions_{n:03d}.json.gz", day + n) for n in range(730)]
    groups = file_groups(ga, 4)
    assert len(groups) == 4  # 55 MB: one group per core
    assert sorted(f.uri for group in groups for f in group) == sorted(f.uri for f in ga)  # each file once
    assert max(_sizes(groups)) - min(_sizes(groups)) <= day + 730

    big = [RemoteFile(f"d{n}.json.gz", SPLIT_BYTES // 4) for n in range(40)]  # 10 x SPLIT_BYTES
    assert len(file_groups(big, 2)) == 10  # one group per SPLIT_BYTES when that is more than the cores
    assert _sizes(file_groups(big, 2)) == [SPLIT_BYTES] * 10

    skewed = [RemoteFile("large", 6 * SPREAD_BYTES), *(RemoteFile(f"s{n}", SPREAD_BYTES) for n in range(6))]
    assert sorted(_sizes(file_groups(skewed, 2))) == [6 * SPREAD_BYTES] * 2  # the large file alone in one


def test_few_or_small_files_stay_one_read() -> None:
    extracts = [RemoteFile(f"loan_{n}.dat", 10_000) for n in range(8)]
    assert file_groups(extracts, 4) == [sorted(extracts, key=lambda f: f.uri)]  # below SPREAD_BYTES
    two = [RemoteFile("crm_1.json", 3 * SPREAD_BYTES), RemoteFile("crm_2.json", SPREAD_BYTES)]
    assert file_groups(two, 4) == [[two[0]], [two[1]]]  # never more groups than files
    assert file_groups([], 4) == []
