"""The fast row writer (snop_xl/io/sheet_xml.py) against openpyxl's own writer: the same worksheet XML, cell for
cell, on every kind of cell openpyxl writes; and the saved book read back by openpyxl and LibreOffice."""

from __future__ import annotations

import datetime as dt
import math
import zipfile
from pathlib import Path

import pytest
from lxml import etree
from openpyxl import Workbook, load_workbook
from openpyxl.cell.rich_text import CellRichText, TextBlock
from openpyxl.cell.text import InlineFont
from openpyxl.comments import Comment
from openpyxl.styles import Font, PatternFill
from openpyxl.worksheet.table import Table
from openpyxl.writer.excel import ExcelWriter

from snop_xl.io.sheet_xml import FastExcelWriter

VALUES = [1, -7, 0, 2**53 + 1, 10**20, 1.5, 0.1 + 0.2, -1e-300, 1e308, 123456789.123456789, math.nan, math.inf,
          "text", " outer spaces ", "   ", "", "a & b < c > d", 'quote " and \' apostrophe', "line\nbreak\r\nCR",
          "tab\there", "ünïcødé € 漢字", "=not a formula", "#N/A", True, False, dt.datetime(2026, 12, 7, 13, 5),
          dt.date(2026, 1, 31), None]


def _book() -> Workbook:
    wb = Workbook()
    ws = wb.active
    ws.title = "Cells"
    for i, value in enumerate(VALUES, start=1):
        ws.cell(i, 1, value)
        if isinstance(value, str):  # as the engine's put_cell: a text is always a text
            ws.cell(i, 1).data_type = "s"
        ws.cell(i, 2, value).number_format = "#,##0.00"
        ws.cell(i, 3).fill = PatternFill("solid", fgColor="FFEEAA")  # a styled blank
    ws["D1"] = "=SUM(B1:B5)"
    ws["D2"] = CellRichText([TextBlock(InlineFont(b=True), "bold"), " plain"])
    ws["D3"] = "link"
    ws["D3"].hyperlink = "#Cells!A1"
    ws["D4"] = "noted"
    ws["D4"].comment = Comment("a comment", "snop-xl")
    ws["D5"].font = Font(bold=True)
    ws.row_dimensions[3].height = 30
    ws.row_dimensions[40].hidden = True  # a row with dimensions and no cells
    ws.row_dimensions[5].outlineLevel = 1
    ws["F1"] = "merged title"
    ws.merge_cells("F1:H2")  # merged cells are MergedCell objects in the sheet's cells
    big = wb.create_sheet("Big")
    big.append(["Item", "Period", "Qty"])
    for r in range(2, 500):
        big.append([f"IT{r:05d}", "2026-01", r * 1.25])
    big.add_table(Table(displayName="BigTable", ref="A1:C499"))
    return wb


def _save(wb: Workbook, path: Path, writer: type) -> dict[str, bytes]:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        writer(wb, archive).save()
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist()}


def _canonical(xml: bytes) -> bytes:
    return etree.tostring(etree.fromstring(xml), method="c14n")


def test_rows_are_the_xml_openpyxl_writes(tmp_path):
    theirs = _save(_book(), tmp_path / "openpyxl.xlsx", ExcelWriter)
    ours = _save(_book(), tmp_path / "fast.xlsx", FastExcelWriter)
    assert sorted(theirs) == sorted(ours)
    for name in theirs:
        if name.endswith(".xml") and "docProps" not in name:
            assert _canonical(ours[name]) == _canonical(theirs[name]), name


def test_saved_cells_read_back_by_openpyxl(tmp_path):
    _save(_book(), tmp_path / "openpyxl.xlsx", ExcelWriter)
    _save(_book(), tmp_path / "fast.xlsx", FastExcelWriter)
    theirs, ours = (load_workbook(tmp_path / name)["Cells"] for name in ("openpyxl.xlsx", "fast.xlsx"))
    for i, value in enumerate(VALUES, start=1):
        got, want = ours.cell(i, 1).value, theirs.cell(i, 1).value
        assert got == want and type(got) is type(want), (i, value, got, want)
        if isinstance(value, str) and value:
            assert got == value  # texts exactly
        elif isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            assert got == pytest.approx(value, rel=1e-15)  # numbers to 16 digits, as openpyxl writes them
    assert ours["D1"].value == "=SUM(B1:B5)" and ours["D3"].hyperlink.target == "#Cells!A1"
    assert ours["D4"].comment.text == "a comment" and ours.row_dimensions[3].height == 30


@pytest.mark.skipif(not __import__("shutil").which("soffice"), reason="LibreOffice not installed")
def test_libreoffice_reads_the_fast_rows(tmp_path):
    from snop_xl.build.recalc import recalc_file

    path = tmp_path / "fast.xlsx"
    _save(_book(), path, FastExcelWriter)
    out = recalc_file(path, tmp_path / "lo")
    ws = load_workbook(out, data_only=True)["Cells"]
    assert ws["A6"].value == pytest.approx(1.5) and ws["A13"].value == "text"
    assert ws["A14"].value == " outer spaces " and ws["A19"].value.replace("\r", "") == "line\nbreak\nCR"
    assert ws["D1"].value == pytest.approx(sum(v for v in VALUES[:5]))
    assert load_workbook(out, data_only=True)["Big"]["C499"].value == pytest.approx(499 * 1.25)
