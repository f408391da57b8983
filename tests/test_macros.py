"""Ribbon entry points against a real openpyxl book and against a recording stand-in for a live xw.Book.

xlwings cannot drive Excel on Linux, so `FakeBook` implements the few xlwings calls `XlwingsBook` makes (sheets,
tables, range values, number formats, status bar, alert) over a dict of cells, and records them. The same inputs
run through `XlwingsBook` and through `OpenpyxlBook` must give the same tables.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib.util
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from openpyxl.utils import range_boundaries

import macros
from snop_xl import contract as C
from snop_xl.io import OpenpyxlBook
from snop_xl.io.xlwings_book import CHARTS_PICTURE, XlwingsBook


# ---- the stand-in ---------------------------------------------------------------------------------------------
class _Count:
    def __init__(self, n: int, rng: "FakeRange | None" = None, what: str = "autofit"):
        self.count, self.rng, self.what = n, rng, what

    def autofit(self) -> None:  # Range.columns.autofit(), Range.rows.autofit() ("autofit_rows")
        r = self.rng
        r.sheet.book.calls.append((self.what, r.sheet.name, r.row, r.column, r.last_row, r.last_column))


class FakeRange:
    def __init__(self, sheet: "FakeSheet", r1: int, c1: int, r2: int | None = None, c2: int | None = None,
                 ndim: int | None = None, err_to_str: bool = False):
        self.sheet, self.row, self.column = sheet, r1, c1
        self.last_row, self.last_column = r2 or r1, c2 or c1
        self.ndim, self.err_to_str = ndim, err_to_str
        self.rows = _Count(self.last_row - r1 + 1, self, "autofit_rows")
        self.columns = _Count(self.last_column - c1 + 1, self)

    def _align(self, what: str, value: Any) -> None:  # Range.wrap_text / vertical_alignment = value
        self.sheet.book.calls.append((what, self.sheet.name, self.row, self.column, self.last_row, self.last_column,
                                      value))

    wrap_text = property(None, lambda self, v: self._align("wrap_text", v))
    vertical_alignment = property(None, lambda self, v: self._align("vertical_alignment", v))

    @property
    def column_width(self) -> float:
        return self.sheet.widths.get(self.column, 8.43)

    @column_width.setter
    def column_width(self, width: float) -> None:
        self.sheet.widths[self.column] = width

    def options(self, ndim: int | None = None, err_to_str: bool = False, **_: Any) -> "FakeRange":
        return FakeRange(self.sheet, self.row, self.column, self.last_row, self.last_column, ndim, err_to_str)

    @property
    def value(self) -> Any:
        grid = [[self.sheet.cells.get((r, c)) for c in range(self.column, self.last_column + 1)]
                for r in range(self.row, self.last_row + 1)]
        if self.ndim == 2:
            return grid
        if len(grid) == 1 and len(grid[0]) == 1:
            return grid[0][0]
        return grid[0] if len(grid) == 1 else [r[0] for r in grid] if len(grid[0]) == 1 else grid

    @value.setter
    def value(self, values: Any) -> None:
        self.sheet.book.calls.append(("value", self.sheet.name, self.row, self.column))
        rows = values if isinstance(values, list) and values and isinstance(values[0], list) else [
            values if isinstance(values, list) else [values]]
        for i, row in enumerate(rows):
            for j, v in enumerate(row):  # as Excel: a leading apostrophe marks a text and is not kept
                self.sheet.set(self.row + i, self.column + j, v[1:] if isinstance(v, str) and v[:1] == "'" else v)

    @property
    def number_format(self) -> str:
        return self.sheet.formats.get((self.row, self.column), "General")

    @number_format.setter
    def number_format(self, fmt: str) -> None:
        self.sheet.book.calls.append(("number_format", self.sheet.name, self.row, self.column, fmt))
        for r in range(self.row, self.last_row + 1):
            for c in range(self.column, self.last_column + 1):
                self.sheet.formats[(r, c)] = fmt

    color = property(None, lambda self, rgb: self._align("color", rgb))  # Range.color = (r, g, b)

    @property
    def font(self) -> "FakeFont":
        return FakeFont(self)

    def add_hyperlink(self, address: str, text_to_display: str | None = None, screen_tip: str | None = None) -> None:
        self.sheet.book.calls.append(("hyperlink", self.sheet.name, self.row, self.column, address))
        self.sheet.set(self.row, self.column, text_to_display or address)

    def clear_contents(self) -> None:
        self.sheet.book.calls.append(("clear_contents", self.sheet.name, self.row, self.column))
        for r in range(self.row, self.last_row + 1):
            for c in range(self.column, self.last_column + 1):
                self.sheet.cells.pop((r, c), None)


class FakeFont:
    """Range.font: bold and color are recorded as calls."""

    def __init__(self, rng: FakeRange):
        self.rng = rng

    bold = property(None, lambda self, v: self.rng._align("bold", v))
    color = property(None, lambda self, v: self.rng._align("font_color", v))


class FakeTable:
    def __init__(self, sheet: "FakeSheet", name: str, rng: FakeRange):
        self.sheet, self.name, self.range, self.show_totals = sheet, name, rng, False

    @property
    def data_body_range(self) -> FakeRange | None:
        r = self.range
        return None if r.last_row == r.row else FakeRange(self.sheet, r.row + 1, r.column, r.last_row,
                                                          r.last_column)

    def resize(self, rng: FakeRange) -> None:
        self.sheet.book.calls.append(("resize", self.name, rng.row, rng.column, rng.last_row, rng.last_column))
        self.range = rng


class FakeTables(list):
    def __init__(self, sheet: "FakeSheet"):
        super().__init__()
        self.sheet = sheet

    def add(self, source: FakeRange, name: str, table_style_name: str = "") -> FakeTable:
        self.sheet.book.calls.append(("add_table", name, table_style_name))
        table = FakeTable(self.sheet, name, source)
        self.append(table)
        return table


class FakeSheet:
    def __init__(self, book: "FakeBook", name: str):
        self.book, self.name = book, name
        self.cells: dict[tuple[int, int], Any] = {}
        self.formats: dict[tuple[int, int], str] = {}
        self.widths: dict[int, float] = {}
        self.tables = FakeTables(self)
        self.pictures = FakePictures(self)

    def set(self, r: int, c: int, v: Any) -> None:
        if v is None:
            self.cells.pop((r, c), None)
        else:
            self.cells[(r, c)] = v

    def clear(self) -> None:  # Sheet.clear(): contents and formats
        self.book.calls.append(("clear", self.name))
        self.cells.clear()
        self.formats.clear()

    def range(self, a: tuple[int, int], b: tuple[int, int] | None = None) -> FakeRange:
        return FakeRange(self, a[0], a[1], *(b if b else (None, None)))

    @property
    def used_range(self) -> FakeRange:
        if not self.cells:
            return FakeRange(self, 1, 1)
        rows, cols = zip(*self.cells)
        return FakeRange(self, min(rows), min(cols), max(rows), max(cols))


class FakePictures(dict):
    """Sheet.pictures: add(image, name=, update=True) replaces the picture of that name."""

    def __init__(self, sheet: "FakeSheet"):
        super().__init__()
        self.sheet = sheet

    def add(self, image: Any, name: str | None = None, update: bool = False, anchor: Any = None, **_: Any) -> Any:
        from matplotlib.figure import Figure

        assert isinstance(image, Figure) and name and (update or name not in self)
        self.sheet.book.calls.append(("picture", self.sheet.name, name, anchor.row, anchor.column))
        self[name] = image
        return image


class FakeSheets(list):
    def __init__(self, book: "FakeBook"):
        super().__init__()
        self.book = book

    def __getitem__(self, key: Any) -> FakeSheet:
        if isinstance(key, str):
            return next(s for s in self if s.name == key)
        return list.__getitem__(self, key)

    def add(self, name: str, after: FakeSheet | None = None) -> FakeSheet:
        self.book.calls.append(("add_sheet", name))
        sheet = FakeSheet(self.book, name)
        self.insert(self.index(after) + 1 if after is not None else 0, sheet)
        return sheet


class FakeApp:
    def __init__(self, book: "FakeBook"):
        self.book = book
        self.status: list[Any] = []
        self.alerts: list[tuple[str, str, str]] = []
        self.answer = "yes"  # what the user clicks in a Yes/No box

    @property
    def status_bar(self) -> Any:
        return self.status[-1] if self.status else False

    @status_bar.setter
    def status_bar(self, text: Any) -> None:
        self.status.append(text)

    def alert(self, prompt: str, title: str = "", mode: str = "", buttons: str = "ok", **_: Any) -> str:
        self.alerts.append((prompt, title, mode))
        return self.answer if buttons == "yes_no" else "ok"

    @contextlib.contextmanager
    def properties(self, **kw: Any):
        self.book.calls.append(("properties", tuple(sorted(kw))))
        yield


def live_grid_like_headless(path: Path, grid: Any) -> tuple["FakeBook", Any]:
    """Write `grid` through the live engine onto a stand-in of the book at `path` and check every cell equals what
    the headless engine wrote there (numbers to float precision); returns the stand-in and the headless sheet."""
    fake = FakeBook.copy_of(path)
    XlwingsBook(fake).write_grid(grid)
    sheet = fake.sheets[grid.sheet]
    ws = OpenpyxlBook(path).wb[grid.sheet]
    for row in ws.iter_rows(min_row=1, max_row=ws.max_row):
        for cell in row:
            got = sheet.cells.get((cell.row, cell.column))
            if isinstance(cell.value, float):
                assert got == pytest.approx(cell.value), cell.coordinate
            else:
                assert got == cell.value, cell.coordinate
    return fake, ws


class FakeBook:
    """What XlwingsBook sees of an xw.Book: sheets with tables, an app with status bar and alert."""

    def __init__(self, fullname: str = "Fake.xlsm"):
        self.fullname = fullname
        self.calls: list[tuple] = []
        self.sheets = FakeSheets(self)
        self.app = FakeApp(self)

    @classmethod
    def copy_of(cls, path: Path) -> "FakeBook":
        """The cells and tables of a workbook file, as Excel would hold them after opening it."""
        wb = OpenpyxlBook(path).wb
        book = cls(str(path))
        for ws in wb.worksheets:
            sheet = FakeSheet(book, ws.title)
            book.sheets.append(sheet)
            for row in ws.iter_rows():
                for cell in row:
                    if cell.value is not None:
                        sheet.cells[(cell.row, cell.column)] = cell.value
            for tbl in ws.tables.values():
                c1, r1, c2, r2 = range_boundaries(tbl.ref)
                sheet.tables.append(FakeTable(sheet, tbl.displayName, FakeRange(sheet, r1, c1, r2, c2)))
        book.calls.clear()
        return book


# ---- XlwingsBook against OpenpyxlBook -------------------------------------------------------------------------
def test_xlwings_book_reads_every_input_like_openpyxl(small_book: Path) -> None:
    live, headless = XlwingsBook(FakeBook.copy_of(small_book)), OpenpyxlBook(small_book)
    for spec in C.INPUT_TABLES:
        a, pa = live.read_table(spec)
        b, pb = headless.read_table(spec)
        pd.testing.assert_frame_equal(a, b)
        assert pa == pb


def test_xlwings_book_writes_and_appends_like_openpyxl(small_book: Path, tmp_path: Path) -> None:
    fake = FakeBook.copy_of(small_book)
    live, headless = XlwingsBook(fake), OpenpyxlBook(small_book)
    frame = pd.DataFrame({"metric": ["Revenue", "Fill rate", "Blank"], "value": [1200.5, 0.97, None],
                          "unit": ["USD", "%", None]})
    for book in (live, headless):
        book.write_table("Dashboard", frame)
        book.write_table("Dashboard", frame.iloc[:2])  # shorter: the third row must be gone
        book.log("test", "first", when=dt.datetime(2026, 11, 25, 9, 0))
        book.log("test", "second", level="WARNING", location="Items!B2", when=dt.datetime(2026, 11, 25, 9, 1))
    for spec in (C.DASHBOARD, C.LOG):
        a, _ = live.read_table(spec)
        b, _ = headless.read_table(spec)
        pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True))
    log, _ = live.read_table(C.LOG)
    assert list(log["message"]) == ["first", "second"] and log["location"].isna().tolist() == [True, False]
    dash = next(t for s in fake.sheets for t in s.tables if t.name == "tblDashboard")
    assert dash.range.last_row == 3  # header + 2 rows: the table shrank with its content
    sheet, c = fake.sheets["Dashboard"], C.DASHBOARD.first_column
    assert sheet.cells.get((4, c)) is None
    assert sheet.formats[(2, c + 1)] == C.DASHBOARD.column("value").number_format
    # the Value column's format follows each row's unit (money whole, % with a decimal), as headless writes it
    ws = headless.wb["Dashboard"]
    assert [sheet.formats[(r, c + 1)] for r in (2, 3)] == [ws.cell(r, c + 1).number_format for r in (2, 3)] \
        == ["#,##0", "#,##0.0"]
    # output columns fitted to what was written (header and values), as headless: no ##### in Excel
    assert ("autofit", "Dashboard", 1, c, 3, c + 2) in fake.calls
    live.write_table("PlanVersion", pd.DataFrame({"version": ["v1"], "cycle_month": [pd.Period("2027-01", "M")],
                                                  "content_hash": ["f" * 64], "status": ["Draft"]}))
    hash_col = C.PLAN_VERSION.first_column + C.PLAN_VERSION.keys.index("content_hash")
    given = {C.PLAN_VERSION.first_column + j: c.width for j, c in enumerate(C.PLAN_VERSION.columns) if c.width}
    assert hash_col in given and sheet.widths == given  # the hash and the Published At date-time
    with pytest.raises(Exception, match="refusing"):
        live.write_table("Items", pd.DataFrame())


def test_exception_messages_wrap_in_both_engines(small_book: Path) -> None:
    """The Message column wraps at its declared width, indented off the Value beside it, its rows top-aligned and
    as tall as their text (Excel does not grow rows on open); a shorter rewrite leaves no tall rows behind."""
    long = "PT-001 (Power Tools): tracking signal -5.4 over the last 6 months; " * 4
    frame = pd.DataFrame({"rank": [1, 2], "kind": ["Forecast bias", "Shortage"], "value": [364449.0, 5.0],
                          "message": [long, "short"], "link": ["'Items'!A2", "'Items'!A3"]}
                         ).reindex(columns=C.EXCEPTIONS.keys)
    spec, message = C.EXCEPTIONS, C.EXCEPTIONS.column("message")
    first, j = spec.first_column, spec.first_column + spec.keys.index("message")
    headless = OpenpyxlBook(small_book)
    headless.write_table(spec, frame)
    headless.draw_charts()
    ws = headless.wb[spec.sheet]
    cell = ws.cell(2, j)
    assert (cell.alignment.wrap_text, cell.alignment.indent, cell.alignment.vertical) == (True, 1, "top")
    assert {ws.cell(2, c).alignment.vertical for c in range(first, first + len(spec.keys))} == {"top"}
    assert ws.cell(2, first + spec.keys.index("link")).hyperlink is not None  # the link keeps its row's alignment
    assert ws.column_dimensions[cell.column_letter].width == message.width == 110
    lines = C.wrapped_lines(long, message.width)
    assert lines == 3 and ws.row_dimensions[2].height == C.LINE_HEIGHT * lines and ws.row_dimensions[3].height is None
    headless.write_table(spec, frame.iloc[1:])
    assert ws.row_dimensions[2].height is None  # "short" now: one line
    fake = FakeBook.copy_of(small_book)
    live = XlwingsBook(fake)
    live.write_table(spec, frame)
    last = first + len(spec.keys) - 1
    assert ("vertical_alignment", spec.sheet, 2, first, 3, last, "top") in fake.calls
    assert ("wrap_text", spec.sheet, 2, j, 3, j, True) in fake.calls
    assert ("autofit_rows", spec.sheet, 2, first, 3, last) in fake.calls
    assert fake.sheets[spec.sheet].widths[j] == message.width


def test_xlwings_book_creates_missing_sheet_and_table() -> None:
    fake = FakeBook()
    fake.sheets.append(FakeSheet(fake, "Settings"))
    live = XlwingsBook(fake)
    live.write_table("KPIs", pd.DataFrame({"level": ["Total"], "name": ["Total"], "metric": ["WAPE"],
                                           "value": [0.12]}))
    assert ("add_sheet", "KPIs") in fake.calls
    assert ("add_table", "tblKPIs", "TableStyleMedium4") in fake.calls
    frame, problems = live.read_table("KPIs")
    assert not problems and frame["value"].tolist() == [0.12]


# ---- entry points ---------------------------------------------------------------------------------------------
def _entry_names_in_ribbon() -> set[str]:
    text = (Path(__file__).resolve().parents[1] / "workbook" / "vba" / "SnopRibbon.bas").read_text()
    import re

    return set(re.findall(r"macros\.(\w+)\(\)", text))


def test_every_ribbon_target_is_an_entry_point() -> None:
    assert _entry_names_in_ribbon() == set(macros.ENTRY_POINTS)


def test_validate_on_openpyxl_book(small_book: Path) -> None:
    before = small_book.read_bytes()
    outcome = macros.validate(OpenpyxlBook(small_book))
    assert outcome.ok and "2 items" in outcome.message
    assert small_book.read_bytes() == before  # validating writes nothing


def test_errors_go_to_log_and_nothing_else_is_written(small_book: Path) -> None:
    book = OpenpyxlBook(small_book)
    ws = book.wb["Items"]
    ws["D2"] = "ten"  # Unit Price of item A
    ws["C3"] = None  # Family of item B
    book.save()
    outcome = macros.run_all(OpenpyxlBook(small_book))
    assert not outcome.ok and len(outcome.problems) >= 2 and "Items!D2" in outcome.message
    after = OpenpyxlBook(small_book)
    log, _ = after.read_table(C.LOG)
    errors = log[log["level"] == "ERROR"]
    assert {"Items!D2", "Items!C3"} <= set(errors["location"])
    plan, _ = after.read_table(C.DEMAND_PLAN)
    assert plan.empty  # no step output was written


def test_unexpected_error_is_reported_not_raised(small_book: Path) -> None:
    def broken(io, progress):
        raise ZeroDivisionError("boom")

    outcome = macros.run_entry(OpenpyxlBook(small_book), "Broken", broken)
    assert not outcome.ok and "ZeroDivisionError: boom" in outcome.message
    log, _ = OpenpyxlBook(small_book).read_table(C.LOG)
    assert "boom" in log["message"].iloc[-1]


_STEPS = {"forecast_demand": "demand", "plan_supply": "supply", "reconcile": "reconcile", "review": "review",
          "publish": "publish"}


def _engines_present() -> bool:
    return all(importlib.util.find_spec(f"snop_xl.steps.{m}") for m in ("demand", "supply", "reconcile", "review",
                                                                          "kpis"))


@pytest.mark.skipif(not _engines_present(), reason="cycle steps not all present yet")
def test_step_buttons_in_order_equal_run_all_on_both_engines(small_book: Path, tmp_path: Path) -> None:
    book = OpenpyxlBook(small_book)
    settings = book.wb["Settings"]
    row = next(r for r in range(2, settings.max_row + 1) if settings.cell(r, 1).value == "Approver")
    settings.cell(row, 2, "S&OP Lead")  # the Publish button archives an approved plan only
    book.save()
    stepwise = shutil.copy(small_book, tmp_path / "stepwise.xlsx")
    fresh = shutil.copy(small_book, tmp_path / "fresh.xlsx")
    for name in _STEPS:
        outcome = macros.ENTRY_POINTS[name](OpenpyxlBook(stepwise))
        assert outcome.ok, outcome.message
    from snop_xl import archive

    assert [v.version for v in archive.versions(archive.default_path(stepwise))] == ["2027-01-r1"]
    assert macros.run_all(OpenpyxlBook(small_book)).ok
    fake = FakeBook.copy_of(tmp_path / "stepwise.xlsx")
    outcome = macros.run_all(fake)
    assert outcome.ok, outcome.message
    assert fake.app.alerts and fake.app.alerts[-1][2] == "info"
    assert any(str(s).startswith("S&OP: step 1") for s in fake.app.status) and fake.app.status[-1] is False
    stepwise_fake = FakeBook.copy_of(fresh)  # each step button on the stand-in, in order
    for name in _STEPS:
        outcome = macros.ENTRY_POINTS[name](stepwise_fake)
        assert outcome.ok, outcome.message
        assert stepwise_fake.app.alerts[-1][2] == "info" and stepwise_fake.app.status[-1] is False
    live, a, b = XlwingsBook(fake), OpenpyxlBook(stepwise), OpenpyxlBook(small_book)
    for spec in C.OUTPUT_TABLES:
        if spec.name in ("Log", "PlanVersion"):
            continue  # timestamps and versions differ between runs by design
        x, _ = a.read_table(spec)
        for other in (b, live, XlwingsBook(stepwise_fake)):
            y, _ = other.read_table(spec)
            pd.testing.assert_frame_equal(x.reset_index(drop=True), y.reset_index(drop=True), check_dtype=False)
    # live Excel: the Dashboard's charts as one picture where headless draws its first native chart (below the
    # tiles, right of the tables), replaced (not stacked) on every run
    first = C.charts.chart_places("Dashboard", 1)[0]
    assert list(fake.sheets["Dashboard"].pictures) == [CHARTS_PICTURE]
    assert {c for c in fake.calls if c[0] == "picture"} == {
        ("picture", "Dashboard", CHARTS_PICTURE, first.row, first.col)}
    log, _ = live.read_table(C.LOG)
    assert not log["message"].str.contains("not drawn").any()
    # `snop-xl kpis --write` (kpis_cmd.write_kpis) redraws the KPIs sheet only: the Dashboard's picture is not re-read
    # and redrawn, nor the Go To links relinked
    from snop_xl.commands.kpis import write_kpis

    fake.calls.clear()
    write_kpis(live, live.read_table(C.KPIS)[0])
    assert [c for c in fake.calls if c[0] in ("picture", "hyperlink") and c[1] != "KPIs"] == []


def test_go_to_links_and_charts_excel_refuses_are_a_warning_not_a_failure(small_book: Path) -> None:
    fake = FakeBook.copy_of(small_book)
    outcome = macros.forecast_demand(fake)
    assert outcome.ok
    live = XlwingsBook(fake)
    live.write_table(C.EXCEPTIONS, pd.DataFrame({"link": ["'Items'!A2", None]}).reindex(columns=C.EXCEPTIONS.keys))
    live.draw_charts()
    col = C.EXCEPTIONS.first_column + C.EXCEPTIONS.keys.index("link")
    assert [c for c in fake.calls if c[0] == "hyperlink"] == [("hyperlink", "Exceptions", 2, col, "#'Items'!A2")]

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("Excel says no")
    for sheet in fake.sheets:
        sheet.pictures.add = refuse
    FakeRange.add_hyperlink, saved = refuse, FakeRange.add_hyperlink
    try:
        live.draw_charts()
    finally:
        FakeRange.add_hyperlink = saved
    log, _ = live.read_table(C.LOG)
    warned = log[log["level"] == "WARNING"]["message"].tolist()
    assert warned == ["Go To links not drawn: RuntimeError: Excel says no"]  # no Dashboard tables yet: no picture


def test_entry_points_on_stand_in_report_errors_in_message_box(small_book: Path) -> None:
    fake = FakeBook.copy_of(small_book)
    fake.sheets["Settings"].cells.pop((2, 2))  # Cycle month blank
    for name, entry in macros.ENTRY_POINTS.items():
        if name == "import_budget":
            continue
        outcome = entry(fake)
        assert not outcome.ok and "Cycle month" in outcome.message, name
        assert fake.app.alerts[-1][1] == "S&OP" and fake.app.alerts[-1][2] == "critical"
        assert fake.app.status[-1] is False
    log, _ = XlwingsBook(fake).read_table(C.LOG)
    assert (log["level"] == "ERROR").sum() == len(macros.ENTRY_POINTS) - 1
    assert not any(c[0] == "add_table" and c[1] != "tblLog" for c in fake.calls)


def test_book_none_means_caller(monkeypatch: pytest.MonkeyPatch, small_book: Path) -> None:
    import xlwings as xw

    fake = FakeBook.copy_of(small_book)
    monkeypatch.setattr(xw.Book, "caller", staticmethod(lambda: fake))
    assert macros.validate().ok
    assert fake.app.alerts[-1][2] == "info"


def test_import_budget_entry_point(small_book: Path) -> None:
    outcome = macros.import_budget(OpenpyxlBook(small_book))
    if importlib.util.find_spec("snop_xl.commands.import_budget") is None:
        assert not outcome.ok and "budget_import" in outcome.message
    else:
        assert isinstance(outcome.ok, bool) and outcome.message


def test_import_budget_button_shows_what_it_understood_and_asks(tmp_path: Path) -> None:
    """Finance pastes on BudgetPaste in Excel; the button shows the summary; No changes nothing, Yes imports."""
    import csv
    import json

    from snop_xl.commands.new import new_book

    from .conftest import require_budget_samples

    samples = require_budget_samples()
    path = new_book(tmp_path / "cycle.xlsx", samples / "items.csv", cycle_month="2027-01", horizon=12)
    book = OpenpyxlBook(path)
    with open(samples / "01_clean_wide.csv", newline="") as fh:
        for row in csv.reader(fh):
            book.wb["BudgetPaste"].append([float(v) if v.replace(".", "").isdigit() else v for v in row])
    book.save()

    declined = FakeBook.copy_of(path)
    declined.app.answer = "no"
    outcome = macros.import_budget(declined)
    assert outcome.ok and "cancelled" in outcome.message
    assert "Replace the Budget table" in declined.app.alerts[0][0] and "36 rows" in declined.app.alerts[0][0]
    assert XlwingsBook(declined).read_table("Budget")[0].empty

    accepted = FakeBook.copy_of(path)
    outcome = macros.import_budget(accepted)
    assert outcome.ok, outcome.message
    budget, problems = XlwingsBook(accepted).read_table("Budget")
    assert problems == [] and len(budget) == 36
    expected = json.loads((samples / "expected_values.json").read_text())["units"]
    assert budget.groupby("family")["units"].sum().to_dict() == {f: sum(m.values()) for f, m in expected.items()}


def test_money_columns_carry_the_currency_in_both_engines(small_book: Path) -> None:
    fake = FakeBook.copy_of(small_book)
    live, headless = XlwingsBook(fake), OpenpyxlBook(small_book)
    frame = pd.DataFrame({"scenario": ["Base"], "revenue": [1200.5], "fill_rate": [0.97]})
    keys = C.SCENARIO_COMPARISON.keys
    revenue, fill = 1 + keys.index("revenue"), 1 + keys.index("fill_rate")
    for book in (live, headless):
        book.currency = "EUR"
        book.write_table("ScenarioComparison", frame)
    sheet = fake.sheets["ScenarioComparison"]
    ws = headless.wb["ScenarioComparison"]
    assert sheet.formats[(2, revenue)] == ws.cell(2, revenue).number_format == C.SCENARIO_COMPARISON.column("revenue").number_format + ' "EUR"'
    assert sheet.formats[(2, fill)] == ws.cell(2, fill).number_format == C.SCENARIO_COMPARISON.column(
        "fill_rate").number_format
