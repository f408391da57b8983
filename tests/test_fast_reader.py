"""The column-wise reading of a large extract (issue #15) gives the records, conventions and problems of the
careful cell-by-cell reading, on a file full of tricky cells."""

from __future__ import annotations

import codecs
import csv
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snop_xl.paste import FIELDS, TABLE_MAX_ROWS, RecordReader, grid_from_csv
from snop_xl.paste.sources import _trim

TRICKY = ["1.200,50", "-3", "7,5", "1.234", "12.34,5", " 8", "(5)", "5-", "€ 12,00", "1e3", "1,5e3", "--5",
          "+4", "0,125", "", "  ", "abc", "#N/A", "1.234.567,89", ",5", "5,", "00012", "-0", "1.000", "12,345"]
DATES = ["03.01.2024", "13.01.2024", "2024-02-03", "", "31.02.2024", "Jan 2024", "xx", "03/01/2024"]


def write(path: Path, decimal_values: bool, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    n = 5_000
    qty = [f"{v:,.2f}".replace(",", " ").replace(".", ",").replace(" ", ".") if decimal_values else str(v)
           for v in rng.uniform(-5000, 5000, n).round(2)]
    value = [str(int(v)) for v in rng.integers(-100, 10_000, n)]
    date = [f"{d:02d}.{m:02d}.2024" for d, m in zip(rng.integers(1, 29, n), rng.integers(1, 13, n))]
    for i, t in enumerate(TRICKY):
        qty[7 * i + 3], value[11 * i + 5] = t, t
    for i, t in enumerate(DATES):
        date[13 * i + 1] = t
    lines = ["Billing lines, exported", "", "Material;Billing Date;Billed Qty;Net Value;UoM"]
    lines += [f"{'A' if i % 3 else 'B '};{d};{q};{v};{'PC' if i % 5 else ''}"
              for i, (d, q, v) in enumerate(zip(date, qty, value))]
    lines += ["A;03.01.2024;5;5;PC"] * 2 + ["Total;;1;1;", "", ""]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(("decimal_values", "seed"), [(True, 1), (False, 2)])
def test_fast_and_careful_readings_agree(tmp_path: Path, decimal_values: bool, seed: int) -> None:
    src = write(tmp_path / "lines.csv", decimal_values, seed)
    fast, careful = grid_from_csv(src, TABLE_MAX_ROWS), grid_from_csv(src)
    assert fast.columns is not None and careful.columns is None
    assert len(fast.rows) == len(careful.rows) and fast.width == careful.width
    a = RecordReader(fast, FIELDS["History"], "History").read()
    b = RecordReader(careful, FIELDS["History"], "History").read()
    assert a.rows == b.rows and a.skipped == b.skipped and a.ignored == b.ignored
    assert (a.decimal, a.day_first) == (b.decimal, b.day_first)
    assert [str(p) for p in a.problems] == [str(p) for p in b.problems]
    assert a.problems  # the tricky cells are refused, each at its line
    assert a.values.keys() == b.values.keys()
    for key in a.values:
        assert a.values[key] == b.values[key], key
    assert a.duplicates() == b.duplicates()


# ---- the numpy split of a CSV without quotes (issue #15: a million lines at a few times read_csv's time): every
# line ending, width and encoding reads as csv.reader reads it, or falls back to it
SPLITS = {
    "crlf": "Title\r\n\r\nMaterial;Date;Qty\r\nA;03.01.2024;5\r\nB;04.01.2024;6;\r\n",
    "ragged": "x\nMaterial;Date;Qty;;\nA;1;2\n;;\nB;2\n\n\nC;3;4;5;6;7\n\n",
    "no final newline": "Material;Qty\nA;5\nB;1234567890123456789",
    "crlf, no final newline": "Material;Qty\r\nA;5\r\nBBBBBBBBBBBBBBBBBBBB;6",
    "empty cells at line ends": "a;b;\r\nc;;\r\n;;\r\n",
    "tiny": "a;b",
    "long cell last": "Material;Qty\nAAAAAAAAAAAAAAAAAAAAAAAA;5",
    "blanks of every kind": "a;b\n\u00a0;x\n\u3000;y\n \t;z\n;\n",
    "non-ASCII": "Matériel;Menge\nÄpfel ;1,5\n€ 12;3\n",
    "quoted (pandas' reader)": 'a;b\n"x;y";2\n',
    "lone carriage return (careful reading)": "a;b\rc;d\n",
    "square, crlf": "a;bb;c\r\n1;2;3\r\n;;\r\n",
    "one column": "Material\nA\nB\n\nC\n",
    "a carriage return at the end": "a;b\nc;d\r",
    "empty file": "",
}


def _both_ways(path: Path) -> list:
    out = []
    for max_rows in (TABLE_MAX_ROWS, None):
        try:
            grid = grid_from_csv(path, max_rows) if max_rows else grid_from_csv(path)
            out.append(([list(r) for r in grid.rows], grid.width, grid.description))
        except Exception as exc:  # the same refusal both ways
            out.append((type(exc).__name__, str(exc)))
    return out


@pytest.mark.parametrize("name", list(SPLITS))
def test_numpy_split_reads_as_csv_reader(tmp_path: Path, name: str) -> None:
    src = tmp_path / "lines.csv"
    src.write_bytes(SPLITS[name].encode("utf-8"))
    fast, careful = _both_ways(src)
    assert fast == careful


@pytest.mark.parametrize("data", [b"\xef\xbb\xbfMaterial;Qty\r\nA;5\r\n", b"\xef\xbb\xbf\xef\xbb\xbfa;b\nc;d\n",
                                  "Material;Menge\nÄpfel;1,5\n".encode("cp1252"),
                                  "Material;Qty\nA;5\n".encode("utf-16")])
def test_numpy_split_in_every_encoding(tmp_path: Path, data: bytes) -> None:
    src = tmp_path / "lines.csv"
    src.write_bytes(data)
    fast, careful = _both_ways(src)
    assert fast == careful


def test_numpy_split_on_random_texts(tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    pieces = ["a", "x", "1", "2,5", "1.234", " ", ";", ";", ";", "\n", "\n", "\r\n", "ä", "€", "\u00a0", "\t",
              "AAAAAAAAAAAA", "0000000000001234", "-7", "Total"]
    src = tmp_path / "lines.csv"
    for _ in range(300):
        text = "".join(rng.choice(pieces, rng.integers(1, 60)))
        if not text.strip("\n"):
            continue
        src.write_bytes(text.encode("utf-8"))
        fast, careful = _both_ways(src)
        assert fast == careful, repr(text)


def test_a_long_extract_reads_as_csv_reader(tmp_path: Path) -> None:
    """Over 65,536 lines the columns are split in order of their distinct cells (most first, on two threads):
    the grid is still csv.reader's, column for column; and a longer line anywhere makes it read line by line."""
    rng = np.random.default_rng(5)
    n = 70_000
    amounts = [f"{v:,.2f}".replace(",", " ").replace(".", ",").replace(" ", ".") for v in rng.uniform(-9e5, 9e5, n)]
    lines = [f"{i % 7:018d};{a};C{rng.integers(1000, 1100)};{'PC' if i % 11 else ''};"
             f"{rng.integers(1, 28):02d}.01.2024" for i, a in enumerate(amounts)]
    umlauts = [line.replace(";C105", ";Société €5").replace(";C10", ";Müller GmbH 10") for line in lines]
    longer = lines[:40_000] + [lines[40_000] + ";x"] + lines[40_001:]
    for name, body, bom in (("square", lines, b""), ("one line longer", longer, b""),
                            ("UTF-8 with a BOM", umlauts, codecs.BOM_UTF8)):
        src = tmp_path / f"{name}.csv"
        text = "Material;Net Value;Customer;UoM;Date\r\n" + "\r\n".join(body) + "\r\n"
        src.write_bytes(bom + text.encode("utf-8"))
        fast = grid_from_csv(src, TABLE_MAX_ROWS)
        expected = _trim([list(r) for r in csv.reader(io.StringIO(text), delimiter=";")], "x", TABLE_MAX_ROWS)
        assert fast.columns is not None and fast.width == len(expected[0]), name
        assert [list(r) for r in fast.rows] == expected, name


@pytest.mark.parametrize("distinct", [0, 1, 3, 5_000, 200_000])
def test_mostly_distinct_numbers_factorise_as_pandas(distinct: int) -> None:
    """`_factorize_many` (parts by top bits, renumbered): pandas' codes in order of first appearance, and where
    each first appears."""
    from snop_xl.paste.sources import _factorize_many, _firsts, mix

    rng = np.random.default_rng(distinct)
    values = rng.integers(0, 2**63, max(distinct, 1), dtype=np.uint64)
    mixed = mix([values[rng.integers(0, len(values), 0 if distinct == 0 else 300_000)]])
    key, first = _factorize_many(mixed)
    expected = pd.factorize(mixed)[0]
    assert np.array_equal(key, expected) and np.array_equal(first, _firsts(expected))


def test_cells_mixing_to_one_number_are_told_apart() -> None:
    """Cells are known by their 8-byte words mixed into one number; two cells whose words mix alike stay two."""
    from snop_xl.paste.sources import factorize_rows, mix

    a = [np.array([1, 0, 1], dtype=np.uint64), np.array([0, 0x9E3779B97F4A7C15, 0], dtype=np.uint64)]
    assert mix(a)[0] == mix(a)[1]  # rows 0 and 1 differ, yet mix to one number
    key, first = factorize_rows(a)
    assert key.tolist() == [0, 1, 0] and first.tolist() == [0, 1]


def test_number_shapes_read_as_the_careful_parser() -> None:
    """Numbers and decimal styles decided with numpy (`_shapes`) are those of the careful per-cell reading."""
    from snop_xl.paste.cells import decimal_style
    from snop_xl.paste.records import STYLES, _careful_number, _number_values, _shapes, _styles

    rng = np.random.default_rng(7)
    alphabet = list("0123456789" * 4 + ".,-" * 3 + " +e€()'x٣\u00a0")
    texts = {"".join(rng.choice(alphabet, rng.integers(1, 12))) for _ in range(6000)}
    texts |= {("-" if rng.random() < 0.3 else "") + str(rng.integers(0, 10 ** rng.integers(1, 8)))
              + rng.choice(["", ".", ","]) + str(rng.integers(0, 10 ** rng.integers(0, 5)))[:rng.integers(0, 5)]
              for _ in range(6000)}
    texts |= {"1" * 16, "12345678901234567,5", "0,125", "1.000", "-0", "007", "1.234,56", "1,234.56", "5,", ",5"}
    cells = np.array(sorted(t for t in texts if t.strip()), dtype=object)
    shapes = _shapes(cells)
    assert [STYLES[k] for k in _styles(cells, shapes)] == [decimal_style(t) for t in cells]
    for decimal in (None, ".", ","):
        values, why = _number_values(cells, decimal, shapes)
        for i, text in enumerate(cells):
            want, got = _careful_number(text, decimal), why.get(i, float(values[i]))
            assert type(got) is type(want) and str(got) == str(want), (text, decimal)


def test_a_number_with_digits_spaced_after_the_separator_is_refused() -> None:
    from snop_xl.paste.cells import NumberError, parse_number

    with pytest.raises(NumberError):
        parse_number("1683.9 1", ".")  # was a ValueError out of float(): a crash, not a problem at its cell


def test_history_from_codes_as_from_lists(tmp_path: Path) -> None:
    """`read_history` groups a column-wise reading on codes; a cell-by-cell reading of the same lines (lists of
    values) gives the same preview, table and Log line."""
    from snop_xl.commands.import_table import read_history
    from snop_xl.io import OpenpyxlBook

    from .conftest import make_book, small_frames

    book = OpenpyxlBook(make_book(tmp_path / "book.xlsx", small_frames()))
    rng = np.random.default_rng(3)
    qty = ["5", "-9", "0,1", "-0,7", "12"]  # returns: some item-months net negative
    lines = [f"{rng.choice(['A', 'B', 'a ', ' b'])};C{rng.integers(1, 4)};{rng.integers(1, 29):02d}."
             f"{rng.integers(1, 13):02d}.{rng.choice([2025, 2026])};1000;{rng.choice(qty)};"
             f"PC;{rng.integers(-99, 999)},{rng.integers(0, 100):02d}" for _ in range(3000)]
    src = tmp_path / "lines.csv"
    src.write_text("\n".join(["Material;Customer;Billing Date;Sales Org;Billed Qty;UoM;Net Value", *lines,
                              *lines[:20]]) + "\n", encoding="utf-8")
    fast, careful = grid_from_csv(src, TABLE_MAX_ROWS), grid_from_csv(src)
    assert fast.columns is not None and careful.columns is None
    a, b = read_history(book, fast), read_history(book, careful)
    assert a.lines == b.lines and a.rows == b.rows and a.header == b.header and a.log == b.log
    assert a.frame.equals(b.frame)
    assert any("net negative" in line for line in a.lines) and any("repeat an earlier line" in line for line in a.lines)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("aAbB1 ;\t\n\r\x0b\x1c\x1f\x85\xa0ÄäßẞＡＢ\u2003\u3000\u200bﬁ")) |
               st.characters(), max_size=12))
def test_names_are_compared_as_nfkc_casefolded_with_spaces_collapsed(text: str) -> None:
    """`norm_text`'s ASCII shortcut (str.split for the regex) is the definition: NFKC, runs of Unicode whitespace
    as one space, trimmed, casefolded."""
    import re
    import unicodedata

    from snop_xl.paste.cells import norm_text

    assert norm_text(text) == re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text)).strip().casefold()
