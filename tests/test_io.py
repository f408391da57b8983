"""BookIO on real files: typed round trip, whole-table rewrites, input protection, atomic saves, VBA survival."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pandas as pd
import pytest
import xlwings
from openpyxl.utils import get_column_letter

from snop_xl import contract as C
from snop_xl.errors import SnopError
from snop_xl.io import OpenpyxlBook, open_book

from .conftest import make_book, small_frames


def test_inputs_round_trip_typed(small_book: Path) -> None:
    book = open_book(small_book)
    frames = small_frames()
    items, problems = book.read_table("Items")
    assert problems == []
    assert list(items.index) == [2, 3]  # index = sheet rows, for error addresses
    pd.testing.assert_frame_equal(items.reset_index(drop=True)[["item", "family", "unit_price", "unit_cost"]],
                                  frames["Items"][["item", "family", "unit_price", "unit_cost"]],
                                  check_dtype=False)
    history, problems = book.read_table("History")
    assert problems == [] and len(history) == 24
    assert history["period"].dtype == "period[M]"
    assert history.groupby("item")["qty"].sum().to_dict() == {"A": 120.0, "B": 240.0}
    capacity, _ = book.read_table("Capacity")
    assert capacity["period"].iloc[0] == pd.Period("2027-01", "M")


def _filled(spec: C.Table, n: int, text: str = "x") -> pd.DataFrame:
    """n rows of plausible values for every column of an output table (whatever its columns are today)."""
    value = {C.TEXT: text, C.NUMBER: 1.0, C.INTEGER: 1, C.PERCENT: 0.5, C.BOOL: True, C.ANY: text,
             C.DATE: pd.Timestamp("2027-01-05"), C.PERIOD: pd.Period("2027-01", "M")}
    return pd.DataFrame({c.key: [c.choices[0] if c.choices else value[c.dtype]] * n for c in spec.columns})


def test_output_rewritten_whole_and_side_by_side(small_book: Path) -> None:
    book = open_book(small_book)
    book.write_table("AggregatePlan", _filled(C.AGGREGATE_PLAN, 5))
    book.write_table("AggregateCosts", _filled(C.AGGREGATE_COSTS, 1, text="costs"))
    book.write_table("AggregatePlan", _filled(C.AGGREGATE_PLAN, 2))
    book.save()
    again = open_book(small_book)
    assert len(again.read_table("AggregatePlan")[0]) == 2
    costs, problems = again.read_table("AggregateCosts")
    assert problems == [] and len(costs) == 1
    assert C.AGGREGATE_COSTS.first_column == len(C.AGGREGATE_PLAN.columns) + 2  # beside it, one empty column between
    ws = again.wb["AggregatePlan"]
    assert ws["A4"].value is None and ws.cell(2, C.AGGREGATE_COSTS.first_column).value is not None


def test_exceptions_of_an_older_book_move_off_reconciliation(small_book: Path) -> None:
    """A book written when Exceptions sat beside Gaps on Reconciliation: the next run clears that table there (the
    Gaps rows keep their own heights) and writes it on its own sheet, saying so in the Log."""
    from openpyxl.worksheet.table import Table as XLTable

    book = open_book(small_book)
    book.write_table("Gaps", _filled(C.GAPS, 3))
    del book.wb["Exceptions"]
    ws = book.wb["Reconciliation"]
    first = len(C.GAPS.columns) + 2
    for j, header in enumerate(C.EXCEPTIONS.headers):
        ws.cell(1, first + j, header)
        ws.cell(2, first + j, "old message " * 40 if C.EXCEPTIONS.keys[j] == "message" else 1)
    ws.row_dimensions[2].height = 120
    last = ws.cell(2, first + len(C.EXCEPTIONS.headers) - 1).coordinate
    ws.add_table(XLTable(displayName=C.EXCEPTIONS.list_object, ref=f"{ws.cell(1, first).coordinate}:{last}"))
    book.save()

    book = open_book(small_book)
    book.write_table("Exceptions", _filled(C.EXCEPTIONS, 2, text="new"))
    book.save()
    again = open_book(small_book)
    exc, problems = again.read_table("Exceptions")
    assert problems == [] and exc["message"].tolist() == ["new", "new"]
    rec = again.wb["Reconciliation"]
    assert list(rec.tables) == [C.GAPS.list_object] and list(again.wb["Exceptions"].tables) == [C.EXCEPTIONS.list_object]
    assert all(rec.cell(r, c).value is None for r in (1, 2) for c in range(first, first + len(C.EXCEPTIONS.headers)))
    assert rec.row_dimensions[2].height is None
    log, _ = again.read_table("Log")
    assert log["message"].str.contains("moved from Reconciliation!").any()
    assert again.wb.sheetnames.index("Exceptions") < again.wb.sheetnames.index("Reconciliation")


def test_input_tables_are_never_written(small_book: Path) -> None:
    before = small_book.read_bytes()
    with pytest.raises(SnopError, match="input table"):
        open_book(small_book).write_table("Items", small_frames()["Items"])
    assert small_book.read_bytes() == before


def test_log_appends(small_book: Path) -> None:
    book = open_book(small_book)
    book.log("test", "first")
    book.log("test", "second", level="WARNING", location="Items!A2")
    book.save()
    log, problems = open_book(small_book).read_table("Log")
    assert problems == []
    assert log["message"].tolist() == ["first", "second"]
    assert log["location"].tolist()[1] == "Items!A2"


def test_failed_save_leaves_file_and_no_temp(small_book: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = small_book.read_bytes()
    book = open_book(small_book)
    book.log("test", "never saved")

    def broken_save(wb: object, filename: str) -> None:
        Path(filename).write_bytes(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr("snop_xl.io.openpyxl_book.save_workbook", broken_save)
    with pytest.raises(SnopError, match="disk full"):
        book.save()
    assert small_book.read_bytes() == before
    assert [p.name for p in small_book.parent.iterdir()] == [small_book.name]


def test_rows_pasted_under_a_table_are_read(small_book: Path) -> None:
    book = open_book(small_book)
    ws = book.wb["Items"]
    values = {"item": "C", "description": "pasted", "family": "F", "unit_price": 1.0, "unit_cost": 0.5}
    ws.append([values.get(key) for key in C.ITEMS.keys])  # below the table's ref, as a paste leaves it
    items, problems = book.read_table("Items")
    assert problems == [] and items["item"].tolist() == ["A", "B", "C"]


def _with_ribbon(path: Path) -> None:
    """Add a 2007-schema customUI ribbon part to an .xlsm, as the template has."""
    ribbon = (b'<customUI xmlns="http://schemas.microsoft.com/office/2006/01/customui"><ribbon><tabs>'
              b'<tab id="snop" label="S&amp;OP"/></tabs></ribbon></customUI>')
    rel = (b'<Relationship Id="rIdSnopUI" Type="http://schemas.microsoft.com/office/2006/relationships/ui/'
           b'extensibility" Target="customUI/customUI.xml"/>')
    tmp = path.with_suffix(".tmp")
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "_rels/.rels":
                data = data.replace(b"</Relationships>", rel + b"</Relationships>")
            dst.writestr(info, data)
        dst.writestr("customUI/customUI.xml", ribbon)
    tmp.replace(path)


def test_vba_project_and_ribbon_survive_a_run(tmp_path: Path) -> None:
    path = tmp_path / "macro.xlsm"
    shutil.copy(Path(xlwings.__file__).parent / "quickstart_standalone.xlsm", path)
    _with_ribbon(path)
    with zipfile.ZipFile(path) as z:
        vba, ribbon = z.read("xl/vbaProject.bin"), z.read("customUI/customUI.xml")
    book = OpenpyxlBook(path)
    book.write_table("Gaps", pd.DataFrame(columns=C.GAPS.keys))
    book.log("test", "run")
    book.save()
    with zipfile.ZipFile(path) as z:
        assert z.read("xl/vbaProject.bin") == vba
        assert z.read("customUI/customUI.xml") == ribbon
        assert b"ui/extensibility" in z.read("_rels/.rels")
        assert b"application/vnd.ms-excel.sheet.macroEnabled.main+xml" in z.read("[Content_Types].xml")
    assert "Reconciliation" in OpenpyxlBook(path).wb.sheetnames


def test_not_a_workbook_is_a_clear_error(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.xlsx"
    bogus.write_text("hello")
    with pytest.raises(SnopError, match="bogus.xlsx"):
        open_book(bogus)
    with pytest.raises(SnopError, match="no such workbook"):
        open_book(tmp_path / "missing.xlsx")


def test_formula_cells_give_their_calculated_value_or_a_clear_error(small_book: Path) -> None:
    book = open_book(small_book)
    book.wb["History"]["B2"] = "=4+6"  # written without a cached value, as any non-Excel tool writes it
    book.save()
    history, problems = open_book(small_book).read_table("History")
    assert len(problems) == 1 and problems[0].location == "History!B2"
    assert "never calculated" in str(problems[0])


def test_save_removes_what_killed_saves_left_behind(small_book: Path) -> None:
    import os
    import time

    stale = small_book.parent / f".{small_book.name}.dead1234.tmp"
    fresh = small_book.parent / f".{small_book.name}.live5678.tmp"  # another process saving right now
    for leftover in (stale, fresh):
        leftover.write_bytes(b"partial")
    old = time.time() - 3600
    os.utime(stale, (old, old))
    open_book(small_book).save()
    assert not stale.exists() and fresh.exists()


def test_headers_and_dashboard_values_are_formatted_for_reading(small_book: Path) -> None:
    book = open_book(small_book)
    book.write_table("Dashboard", pd.DataFrame({"metric": ["Revenue", "Fill rate", "Exceptions", "Blank"],
                                                "value": [1234567.8, 98.94, 6.0, None],
                                                "unit": ["USD", "%", "count", None]}))
    book.write_table("PlanVersion", _filled(C.PLAN_VERSION, 1, text="f" * 64))
    book.save()
    ws = open_book(small_book).wb["Dashboard"]
    first = C.DASHBOARD.first_column
    assert [ws.cell(r, first + 1).number_format for r in (2, 3, 4)] == ["#,##0", "#,##0.0", "#,##0"]
    assert {ws.cell(1, c).font.name for c in range(first, first + 3)} == {"Calibri"}  # not a fallback (serif) face
    assert ws.cell(1, first).font.b
    hash_col = C.PLAN_VERSION.first_column + C.PLAN_VERSION.keys.index("content_hash")
    assert ws.column_dimensions[get_column_letter(hash_col)].width == C.PLAN_VERSION.column("content_hash").width


def test_written_input_rows_all_look_like_inputs(tmp_path: Path) -> None:
    """The demo (and `snop-xl new`, budget imports) fill input tables built from the template: every row gets the
    template's input style, not only the first; Settings keeps its per-row formats."""
    from snop_xl.commands.demo import write_demo_book

    demo_book = write_demo_book(tmp_path / "demo.xlsm")
    wb = open_book(demo_book).wb
    for sheet, col in (("Items", 1), ("Items", 4), ("History", 1), ("History", 20)):
        ws = wb[sheet]
        assert ws.cell(2, col).fill.fgColor.rgb == ws.cell(ws.max_row, col).fill.fgColor.rgb != "00000000", sheet
        assert ws.cell(2, col).font.color.rgb == ws.cell(ws.max_row, col).font.color.rgb, sheet
    settings, problems = open_book(demo_book).read_table(C.SETTINGS_TABLE)
    assert problems == []


@pytest.mark.skipif(__import__("shutil").which("soffice") is None, reason="LibreOffice is not installed")
def test_formulas_in_input_cells_keep_their_calculated_values_run_after_run(tmp_path: Path) -> None:
    """A price typed as a formula and saved by a spreadsheet (LibreOffice here: it stores the value beside the
    formula, and TRUE as =TRUE()): a run in place, and a run to another file, keep each formula and the value it
    showed, so the next run and validate read the book as before instead of refusing it as never calculated."""
    from openpyxl import load_workbook

    from snop_xl.build.recalc import recalc_file
    from snop_xl.cli import main

    path = make_book(tmp_path / "f.xlsx", small_frames())
    wb = load_workbook(path)
    col = [c.value for c in wb["Items"][1]].index("Unit Price") + 1
    wb["Items"].cell(2, col).value = "=5*2"
    wb.save(path)
    book = recalc_file(path, tmp_path / "lo")  # saved by LibreOffice: formulas with their values
    assert load_workbook(book, data_only=True)["Items"].cell(2, col).value == 10
    for args in (["run", str(book)], ["run", str(book)], ["run", str(book), "-o", str(tmp_path / "out.xlsx")]):
        assert main(args) == 0
    for result in (book, tmp_path / "out.xlsx"):
        assert main(["validate", str(result)]) == 0
        assert load_workbook(result)["Items"].cell(2, col).value == "=5*2"
        assert load_workbook(result, data_only=True)["Items"].cell(2, col).value == 10
        items, problems = open_book(result).read_table("Items")
        assert problems == [] and items["unit_price"].tolist() == [10.0, 5.0]
