"""Long output tables are written from their values on save, without openpyxl cells in between (`sheet_xml.Block`).
The saved book must be byte for byte the one the cells would give, and anything that reads the sheet before the
save must see the cells."""

from __future__ import annotations

import datetime as dt
import math
import zipfile
from pathlib import Path

import pytest
from openpyxl.utils.exceptions import IllegalCharacterError

from snop_xl import contract as C
from snop_xl.commands.new import blank_book
from snop_xl.io import openpyxl_book
from snop_xl.io.sheet_xml import PendingCells

ODD = [None, "", " padded ", "=not a formula", "#N/A", "a & b < c", "line\nbreak", True, False, 0, -3, 2**53 + 1,
       1.5, -0.0, math.inf, dt.datetime(2026, 12, 7, 13, 5), dt.datetime(2027, 1, 1), dt.date(2026, 1, 31),
       "x" * 40_000, "ünïcødé € 漢字"]


def _rows(spec: C.Table, n: int, seed: int = 0) -> list[list]:
    """n rows of the table's width: mostly plain values, every odd value somewhere."""
    width = len(spec.columns)
    rows = []
    for i in range(n):
        row = [f"IT{(i * 7 + seed) % 97:04d}" if j % 3 == 0 else float(i * width + j) / 7 if j % 3 == 1
               else dt.datetime(2026, 1 + (i + j) % 12, 1) for j in range(width)]
        row[(i + seed) % width] = ODD[(i + seed) % len(ODD)]
        rows.append(row)
    return rows


def _save(tmp_path: Path, name: str, writes: list[tuple[str, list[list]]], blocks: bool,
          monkeypatch: pytest.MonkeyPatch) -> dict[str, bytes]:
    monkeypatch.setattr(openpyxl_book, "BLOCK_MIN_CELLS", 1 if blocks else 10**12)
    book = blank_book(tmp_path / f"{name}.xlsx")
    for table, rows in writes:
        book.write_rows(C.table(table), rows)
    if blocks and len(writes) == 1:
        assert any(isinstance(ws._cells, PendingCells) and ws._cells.blocks for ws in book.wb.worksheets)
    saved = book.save(tmp_path / f"{name}_{blocks}.xlsx")
    with zipfile.ZipFile(saved) as z:
        return {n: z.read(n) for n in z.namelist() if n != "docProps/core.xml"}  # its time stamp


@pytest.mark.parametrize("writes", [
    [("DemandPlan", 300)],
    [("KPIs", 200), ("KPITrend", 150)],  # two tables side by side on one sheet
    [("KPITrend", 150), ("KPIs", 200)],
    [("Dashboard", 120)],  # a number format per row (by the row's unit)
    [("SupplyPlan", 200), ("SupplyPlan", 50)],  # written again, shorter
    [("SupplyPlan", 50), ("SupplyPlan", 200)],  # and longer
])
def test_blocks_save_the_same_bytes_as_cells(tmp_path, monkeypatch, writes):
    data = [(table, _rows(C.table(table), n, seed=k)) for k, (table, n) in enumerate(writes)]
    with_cells = _save(tmp_path, "cells", data, False, monkeypatch)
    with_blocks = _save(tmp_path, "blocks", data, True, monkeypatch)
    assert with_cells.keys() == with_blocks.keys()
    assert [n for n in with_cells if with_cells[n] != with_blocks[n]] == []


def test_a_reader_before_the_save_sees_the_cells(tmp_path, monkeypatch):
    rows = _rows(C.table("SupplyPlan"), 120)
    seen = {}
    for blocks in (False, True):
        monkeypatch.setattr(openpyxl_book, "BLOCK_MIN_CELLS", 1 if blocks else 10**12)
        book = blank_book(tmp_path / f"read_{blocks}.xlsx")
        book.write_rows(C.table("SupplyPlan"), rows)
        ws = book.wb["SupplyPlan"]
        seen[blocks] = ([[c.value for c in row] for row in ws.iter_rows()], ws.max_row, ws["B60"].value,
                        book.sheet_values("SupplyPlan"))
        assert not (isinstance(ws._cells, PendingCells) and ws._cells.blocks)  # made cells by the reading
    assert seen[True] == seen[False]
    assert seen[True][1] == 121


def test_one_cell_looked_up_makes_only_its_block_cells(tmp_path, monkeypatch):
    monkeypatch.setattr(openpyxl_book, "BLOCK_MIN_CELLS", 1)
    book = blank_book(tmp_path / "two.xlsx")
    book.write_rows(C.table("KPIs"), _rows(C.table("KPIs"), 50))
    book.write_rows(C.table("KPITrend"), _rows(C.table("KPITrend"), 40))
    cells = book.wb["KPIs"]._cells
    assert len(cells.blocks) == 2
    assert book.wb["KPIs"].cell(1, 1).value == C.table("KPIs").headers[0]  # the header row: no block
    assert len(cells.blocks) == 2
    book.wb["KPIs"].cell(10, 12)  # inside the KPITrend rows (from column K)
    assert [b.first for b in cells.blocks] == [1]


def test_a_text_excel_cannot_hold_is_refused_when_written(tmp_path, monkeypatch):
    rows = _rows(C.table("DemandPlan"), 60)
    rows[40][1] = "bad \x01 text"
    for blocks in (False, True):
        monkeypatch.setattr(openpyxl_book, "BLOCK_MIN_CELLS", 1 if blocks else 10**12)
        book = blank_book(tmp_path / f"bad_{blocks}.xlsx")
        with pytest.raises(IllegalCharacterError):
            book.write_rows(C.table("DemandPlan"), rows)
