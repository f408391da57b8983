"""The column-wise reading of a large extract (issue #15), checked against an independent computation: pandas'
`read_csv` and `groupby` on the same extract give the quantities History receives (summed per item and month,
returns netted, negative months written as 0) and the net value the preview states, on the inputs that make the
fast path's shortcuts risky: decimal commas with thousands points (a lone 1.200 decided from the whole file),
negative lines, blank lines, CRLF and quoted fields. Mixed day/month orders are refused as the careful reading
refuses them, and a bad cell is named at its line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snop_xl.errors import ValidationError
from snop_xl.paste import TABLE_MAX_ROWS, grid_from_csv

from .conftest import make_book, small_frames

HEADER = "Material;Customer;Billing Date;Sales Org;Billed Qty;UoM;Net Value"


def german(value: float, decimals: int) -> str:
    """1234.5 -> '1.234,50' (decimals 2), 1200 -> '1.200' (decimals 0): thousands points, decimal comma."""
    return f"{value:,.{decimals}f}".replace(",", " ").replace(".", ",").replace(" ", ".")


def extract_lines(n: int, seed: int) -> list[str]:
    """Billing lines of 2025 for items A and B (written A, B, ' a', 'b ' as ERPs do), German numbers: quantities
    with thousands points and a few halves, returns as negative lines (some item-months net negative)."""
    rng = np.random.default_rng(seed)
    lines = []
    for _ in range(n):
        qty = float(rng.choice([rng.integers(1, 40), rng.integers(1000, 3000), -rng.integers(1, 60)]))
        qty += 0.5 if rng.random() < 0.1 else 0.0
        lines.append(f"{rng.choice(['A', 'B', ' a', 'b '])};C{rng.integers(1, 9)};{rng.integers(1, 29):02d}."
                     f"{rng.integers(1, 13):02d}.2025;1000;{german(qty, 1 if qty % 1 else 0)};PC;"
                     f"{german(qty * rng.uniform(2, 30), 2)}")
    lines[0] = "A;C1;02.01.2025;1000;1.200;PC;12.000,00"  # 1.200 alone is ambiguous: the rest of the file decides
    lines[1] = "B;C1;15.06.2024;1000;-2.500;PC;-25.000,00"  # more returned than sold in B's June 2024
    lines[2] = "B;C1;16.06.2024;1000;300;PC;3.000,00"
    return lines


def expected(path: Path) -> tuple[pd.DataFrame, float]:
    """History's quantities per item and month (netted, negative written as 0) and the net value, by pandas."""
    frame = pd.read_csv(path, sep=";", decimal=",", thousands=".", dtype={"Material": str, "Billing Date": str},
                        float_precision="round_trip")
    frame["item"] = frame["Material"].str.strip().str.upper()
    frame["period"] = pd.to_datetime(frame["Billing Date"], format="%d.%m.%Y").dt.to_period("M")
    net = frame.groupby(["item", "period"])["Billed Qty"].sum().clip(lower=0)
    return net.rename("qty").reset_index(), float(frame["Net Value"].sum())


def imported(tmp_path: Path, path: Path):
    from snop_xl.commands.import_table import read_history
    from snop_xl.io import OpenpyxlBook

    book = OpenpyxlBook(make_book(tmp_path / "book.xlsx", small_frames()))
    grid = grid_from_csv(path, TABLE_MAX_ROWS)
    assert grid.columns is not None  # the column-wise reading, not the careful one
    return read_history(book, grid)


def write(path: Path, lines: list[str], newline: str = "\n") -> Path:
    path.write_bytes((newline.join(lines) + newline).encode("utf-8"))
    return path


def check(tmp_path: Path, src: Path) -> None:
    want, value = expected(src)
    summary = imported(tmp_path, src)
    got = summary.frame[summary.frame["period"] < pd.Period("2026-01", "M")]  # the book's History starts then
    both = got.merge(want, on=["item", "period"], how="outer", suffixes=("", "_want"), indicator=True)
    assert set(both["_merge"]) <= {"both", "left_only"}  # every item-month of the file is in History
    assert both["qty"].to_numpy() == pytest.approx(both["qty_want"].fillna(0.0).to_numpy(), rel=1e-12, abs=1e-9)
    assert both.loc[both["_merge"] == "left_only", "qty"].eq(0).all()  # months without lines after the first: 0
    assert want.set_index(["item", "period"]).loc[("B", pd.Period("2024-06", "M")), "qty"] == 0  # netted negative
    assert any("net negative" in line for line in summary.lines)
    stated = next(line for line in summary.lines if "net value" in line)
    assert float(stated.split("net value ")[1].replace(",", "")) == pytest.approx(value, abs=0.006)
    assert "decimal comma" in summary.lines[0] and "dates day first" in summary.lines[0]


@pytest.mark.parametrize("seed", [1, 2])
def test_history_is_pandas_groupby_of_the_extract(tmp_path: Path, seed: int) -> None:
    check(tmp_path, write(tmp_path / "lines.csv", [HEADER, *extract_lines(4000, seed)]))


def test_blank_lines_and_crlf(tmp_path: Path) -> None:
    lines = extract_lines(3000, 3)
    for at in (5, 700, 701, 2500):
        lines.insert(at, "")
    check(tmp_path, write(tmp_path / "lines.csv", [HEADER, *lines, "", ""], newline="\r\n"))


def test_blank_and_signed_amounts(tmp_path: Path) -> None:
    """Amounts read from their bytes (`sources.Cells`): blank net values, a '+' sign, the same sums."""
    lines = extract_lines(3000, 6)
    for i in range(3, 3000, 11):
        cells = lines[i].split(";")
        cells[6] = "" if i % 2 else "+" + cells[6].lstrip("-")
        cells[4] = cells[4] if cells[4].startswith("-") else "+" + cells[4]
        lines[i] = ";".join(cells)
    check(tmp_path, write(tmp_path / "lines.csv", [HEADER, *lines]))


def test_quoted_fields(tmp_path: Path) -> None:
    """Quoted cells (a delimiter inside, a quoted number): read by the quote-aware reader, the same sums."""
    lines = extract_lines(3000, 4)
    for i in range(0, 3000, 7):
        cells = lines[i].split(";")
        cells[1], cells[4] = f'"{cells[1]}; Sohn"', f'"{cells[4]}"'
        lines[i] = ";".join(cells)
    check(tmp_path, write(tmp_path / "lines.csv", [HEADER, *lines]))


def test_mixed_date_orders_are_refused_as_the_careful_reading_refuses_them(tmp_path: Path) -> None:
    from snop_xl.commands.import_table import read_history
    from snop_xl.io import OpenpyxlBook

    lines = extract_lines(3000, 5)
    lines[100] = "A;C1;01/13/2025;1000;5;PC;50,00"  # month first only
    lines[200] = "A;C1;7,5x;1000;abc;PC;50,00"  # a bad date and a bad quantity, named at their cells
    src = write(tmp_path / "lines.csv", [HEADER, *lines])
    book = OpenpyxlBook(make_book(tmp_path / "book.xlsx", small_frames()))
    refusals = []
    for grid in (grid_from_csv(src, TABLE_MAX_ROWS), grid_from_csv(src)):
        with pytest.raises(ValidationError) as caught:
            read_history(book, grid)
        refusals.append([str(p) for p in caught.value.problems])
    assert refusals[0] == refusals[1]
    text = "\n".join(refusals[0])
    assert "dates mix day/month and month/day order" in text and "C102" in text  # line 102: header + 101
    assert "C202" in text and "E202" in text


def test_no_month_name_is_shorter_than_the_guard() -> None:
    """`cells._month_number` answers None for a name shorter than SHORTEST_MONTH_NAME without loading CLDR's data
    (the C of C1234 in every sniffed line): no month name of MONTH_LOCALES is that short."""
    from snop_xl.io.parse import month_name_readings
    from snop_xl.paste.cells import SHORTEST_MONTH_NAME

    assert min(map(len, month_name_readings())) >= SHORTEST_MONTH_NAME


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 30), st.integers(-10**9, 10**9)), min_size=1, max_size=300),
       st.sampled_from(["halves", "cents", "tenths", "thirds", "large"]))
def test_sums_per_item_month_are_the_exact_sums(rows: list[tuple[int, int]], kind: str) -> None:
    """`group_sums` (bins where the sum is exact) against sums computed here without floats: quantities in whole
    or half units sum exactly, as pandas' compensated sum gives them; amounts in cents (or tenths) are the decimal
    sum rounded once; anything else (thirds, wholes too large to add exactly) is summed as pandas sums."""
    from decimal import Decimal

    from snop_xl.commands.import_table import group_sums

    key = np.array([k for k, _ in rows], dtype=np.int64)
    scale = {"halves": 2, "cents": 100, "tenths": 10, "thirds": 3, "large": 1}[kind]
    numbers = [n * 10**8 if kind == "large" else n for _, n in rows]
    values = np.array([float(Decimal(n) / scale) for n in numbers])
    got = group_sums(key, values, 31)
    assert got.index.tolist() == sorted(set(key.tolist()))
    pandas = pd.Series(values).groupby(key).sum()
    exactly = kind in ("halves", "cents", "tenths") or (kind == "thirds" and all(n % 3 == 0 for n in numbers))
    for k, total in got.items():
        if exactly:
            assert total == float(sum(Decimal(n) for (g, _), n in zip(rows, numbers) if g == k) / scale)
        else:
            assert total == pandas[k]
