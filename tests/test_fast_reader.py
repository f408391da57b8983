"""The column-wise reading of a large extract (issue #15) gives the records, conventions and problems of the
careful cell-by-cell reading, on a file full of tricky cells."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from snop_xl.paste import FIELDS, TABLE_MAX_ROWS, RecordReader, grid_from_csv

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
