"""`snop-xl new BOOK --items ITEMS.csv`: a cycle book from the user's item master, or a refusal naming the cell."""

from __future__ import annotations

import csv
import zipfile
from pathlib import Path

import openpyxl
import pandas as pd

from snop_xl import contract as C
from snop_xl.cli import main as cli
from snop_xl.inputs import parse_settings
from snop_xl.io import OpenpyxlBook


def write_items(path: Path, rows: list[list[object]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)
    return path


def test_new_book_holds_the_item_master_and_nothing_else(tmp_path: Path) -> None:
    src = write_items(tmp_path / "items.csv", [["Item", "Family", "Unit Price", "Lead Time"],
                                               ["A-1", "Tools", "12.5", "2"], ["B-2", "Garden", "", ""]])
    assert cli(["new", str(tmp_path / "cycle.xlsm"), "--items", str(src), "--cycle-month", "2027-03",
                "--horizon", "12"]) == 0
    path = tmp_path / "cycle.xlsm"
    with zipfile.ZipFile(path) as z:  # from the macro template: the VBA project and the ribbon came along
        assert "xl/vbaProject.bin" in z.namelist() and "customUI/customUI.xml" in z.namelist()
    ws = openpyxl.load_workbook(path)["Items"]  # read back cell by cell, not through the engine's reader
    header = [c.value for c in ws[1]]
    rows = [dict(zip(header, (c.value for c in r))) for r in ws.iter_rows(min_row=2) if r[0].value is not None]
    assert [(r["Item"], r["Family"], r["Unit Price"], r["Lead Time"]) for r in rows] == \
        [("A-1", "Tools", 12.5, 2), ("B-2", "Garden", None, 0)]  # lead time defaults to 0, prices do not
    book = OpenpyxlBook(path)
    settings, problems = parse_settings(book.read_table(C.SETTINGS_TABLE)[0])
    assert problems == [] and settings.cycle_month == pd.Period("2027-03", "M") and settings.horizon == 12
    history, _ = book.read_table(C.HISTORY)
    assert history.empty or history["qty"].isna().all()
    for spec in (C.BUDGET, C.OVERRIDES, C.EVENTS, C.CAPACITY):
        frame, _ = book.read_table(spec)
        assert frame.empty, spec.name


def test_bad_item_masters_are_refused_and_nothing_is_written(tmp_path: Path, capsys) -> None:
    cases = {
        "nofamily.csv": ([["item", "fam"], ["A", "F"]], "missing column 'Family'"),
        "dup.csv": ([["item", "family"], ["A", "F"], ["B", "F"], ["A", "G"]],
                    "dup.csv!A4: item appears twice (found 'A'); expected each item once"),
        "blank.csv": ([["item", "family"], ["A", ""]], "blank.csv!B2: Family is empty"),
    }
    for name, (rows, words) in cases.items():
        target = tmp_path / f"{name}.xlsx"
        assert cli(["new", str(target), "--items", str(write_items(tmp_path / name, rows))]) == 2
        assert words in capsys.readouterr().err
        assert not target.exists()


def test_an_existing_book_is_not_replaced_without_force(tmp_path: Path, capsys) -> None:
    src = write_items(tmp_path / "items.csv", [["item", "family"], ["A", "F"]])
    target = tmp_path / "cycle.xlsx"
    target.write_bytes(b"the planner's own file")
    assert cli(["new", str(target), "--items", str(src)]) == 1
    assert "already exists" in capsys.readouterr().err and target.read_bytes() == b"the planner's own file"
    assert cli(["new", str(target), "--items", str(src), "--force"]) == 0
    items = pd.read_excel(target, sheet_name="Items")
    assert items[["Item", "Family"]].values.tolist() == [["A", "F"]]


def test_erp_names_for_item_and_family_are_understood(tmp_path: Path) -> None:
    src = write_items(tmp_path / "erp.csv", [["SKU", "Product Family", "Description"], ["A-1", "Tools", "Hammer"],
                                             ["B-2", "Garden", "Rake"]])
    assert cli(["new", str(tmp_path / "erp.xlsx"), "--items", str(src)]) == 0
    items = pd.read_excel(tmp_path / "erp.xlsx", sheet_name="Items")
    assert items[["Item", "Family", "Description"]].values.tolist() == [["A-1", "Tools", "Hammer"],
                                                                       ["B-2", "Garden", "Rake"]]
    # two columns that could each be the item: nothing is guessed, the missing column is named
    both = write_items(tmp_path / "both.csv", [["SKU", "Product", "Family"], ["A-1", "Hammer", "Tools"]])
    assert cli(["new", str(tmp_path / "both.xlsx"), "--items", str(both)]) == 2
    assert not (tmp_path / "both.xlsx").exists()
