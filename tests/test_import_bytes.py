"""A large extract's distinct cells kept as the file's bytes (`sources.Cells`, issue #15): a column of amounts is
read as numbers from its bytes, never as half a million strings; every other use sees the strings the careful
reading gives, and the numbers, conventions and problems are those of the cell-by-cell reading."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from snop_xl.paste import FIELDS, TABLE_MAX_ROWS, RecordReader, grid_from_csv
from snop_xl.paste.sources import Cells, _gather


def cells_of(texts: list[str]) -> Cells:
    raw = ";".join(texts).encode("utf-8")
    body = np.frombuffer(raw, dtype=np.uint8)
    length = np.array([len(t.encode("utf-8")) for t in texts])
    start = np.concatenate(([0], np.cumsum(length + 1)[:-1]))
    picked, offset = _gather(body, start, length)
    return Cells(picked, offset, length, np.array([not t.strip() for t in texts]))


def test_cells_index_as_the_array_of_their_strings() -> None:
    texts = ["1.200,50", "", "Äpfel", "-3", " ", "€ 12", "x" * 30]
    want = np.array([t if t.strip() else None for t in texts], dtype=object)
    decoded = cells_of(texts)
    decoded.strings()  # indexed through its strings from then on
    for cells in (cells_of(texts), decoded):
        assert len(cells) == len(texts) and [cells[k] for k in range(len(texts))] == want.tolist()
        assert list(cells) == want.tolist()
    cells = cells_of(texts)
    for pick in ([2, 5, 6], [6, 0], np.array([False, True, True, False, False, False, True]), slice(3, None)):
        part = cells[pick]
        assert isinstance(part, Cells) and list(part) == want[pick].tolist()  # a run up to the end too
        assert [part[k] for k in range(len(part))] == want[pick].tolist()


AMOUNTS = ["1.200,50", "-3", "7,5", "1.234", "(5)", "5-", "€ 12,00", "-1.234.567,89", "", " ", "abc",
           "#N/A", "0,125", "+4", "12.34,5", "-0", "00012", "1.000,-"]


@pytest.mark.parametrize("seed", [1, 2])
def test_amounts_from_bytes_read_as_the_careful_reading(tmp_path: Path, seed: int) -> None:
    """A Net Value column of many distinct amounts (decided from their bytes) among tricky cells: the same values,
    decimal convention and problems, cell for cell, as the careful reading of the same file."""
    rng = np.random.default_rng(seed)
    n = 4_000
    value = [f"{v:,.2f}".replace(",", " ").replace(".", ",").replace(" ", ".") for v in rng.uniform(-1e6, 1e6, n)]
    for i, t in enumerate(AMOUNTS):
        value[97 * i + 5] = t
    lines = ["Material;Billing Date;Billed Qty;Net Value"] + [
        f"A;{rng.integers(1, 29):02d}.{rng.integers(1, 13):02d}.2024;{rng.integers(-5, 50)};{v}" for v in value]
    src = tmp_path / "lines.csv"
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    fast, careful = grid_from_csv(src, TABLE_MAX_ROWS), grid_from_csv(src)
    assert isinstance(fast.columns[3][1], Cells)
    a = RecordReader(fast, FIELDS["History"], "History").read()
    b = RecordReader(careful, FIELDS["History"], "History").read()
    assert (a.decimal, a.day_first) == (b.decimal, b.day_first) == (",", True)
    assert [str(p) for p in a.problems] == [str(p) for p in b.problems] and a.problems
    assert a.values["value"] == b.values["value"]
    assert np.array_equal(a.values.numbers("value"), b.values.numbers("value"), equal_nan=True)
