"""Inputs that used to be accepted wrongly or crash (#12): command-line settings held to the Settings rules, text
numbers that overflow, notes longer than a cell holds, an output sheet a planner renamed."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from snop_xl.cli import main
from snop_xl.io import OpenpyxlBook
from snop_xl.io.parse import EXCEL_CELL_CHARS
from tests.conftest import make_book, small_frames


@pytest.fixture
def items_csv(tmp_path: Path) -> Path:
    path = tmp_path / "items.csv"
    path.write_text("Item,Family\nA,F\nB,F\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("option, value, words", [
    ("--horizon", "0", "--horizon 0: not a valid Horizon (months); expected a value >= 1"),
    ("--horizon", "61", "expected a value <= 60"),
    ("--cycle-month", "Smarch 2026", "--cycle-month 'Smarch 2026': not a valid Cycle month"),
])
def test_new_refuses_settings_the_settings_sheet_would_refuse(items_csv: Path, tmp_path: Path, capsys,
                                                              option: str, value: str, words: str) -> None:
    book = tmp_path / "n.xlsx"
    assert main(["new", str(book), "--items", str(items_csv), option, value]) == 2
    assert words in capsys.readouterr().err
    assert not book.exists()


@pytest.mark.parametrize("value", ["Dez 2026", "déc. 2026", "dic 2026", "2026-12"])
def test_new_reads_a_cycle_month_written_in_another_language(items_csv: Path, tmp_path: Path, value: str) -> None:
    """Month names as Excel shows them in German, French, Spanish (CLDR, via Babel) are the month they name."""
    from snop_xl import contract as C
    from snop_xl.inputs import parse_settings
    from snop_xl.io import open_book

    book = tmp_path / "n.xlsx"
    assert main(["new", str(book), "--items", str(items_csv), "--cycle-month", value]) == 0
    settings, problems = parse_settings(open_book(book).read_table(C.SETTINGS_TABLE)[0])
    assert problems == [] and settings.cycle_month == pd.Period("2026-12", "M")


def test_a_number_that_overflows_is_refused_at_its_cell(tmp_path: Path, capsys) -> None:
    book = make_book(tmp_path / "b.xlsx", small_frames())
    wb = openpyxl.load_workbook(book)
    ws = wb["Items"]
    price = [c.value for c in ws[1]].index("Unit Price") + 1
    ws.cell(2, price).value = "1e999"
    wb.save(book)
    assert main(["validate", str(book)]) == 2
    assert f"Items!{openpyxl.utils.get_column_letter(price)}2" in capsys.readouterr().err
    paste = tmp_path / "budget.csv"
    paste.write_text("family,measure,2027-01\nF,units,1e999\nF,revenue,100\n", encoding="utf-8")
    other = make_book(tmp_path / "c.xlsx", small_frames())
    before = other.read_bytes()
    assert main(["import-budget", str(other), str(paste), "--yes"]) == 2
    err = capsys.readouterr().err
    assert "budget.csv!C2" in err and "a finite number" in err
    assert other.read_bytes() == before


def test_a_note_longer_than_a_cell_is_cut_with_a_word(tmp_path: Path) -> None:
    frames = small_frames()
    long_note = "promo " * 8000  # 48,000 characters
    frames["Events"] = pd.DataFrame({"item": ["A"], "family": [None], "start": [pd.Period("2027-02", "M")],
                                     "end": [pd.Period("2027-02", "M")], "uplift_pct": [0.1], "uplift_qty": [None],
                                     "owner": ["Marketing"], "note": [long_note]})
    book = make_book(tmp_path / "b.xlsx", frames)
    assert main(["run", str(book), "--steps", "demand"]) == 0
    ws = openpyxl.load_workbook(book)["DemandPlan"]
    column = [c.value for c in ws[1]].index("Notes") + 1
    notes = [r[0] for r in ws.iter_rows(min_col=column, max_col=column, values_only=True)
             if isinstance(r[0], str) and r[0].startswith("promo")]
    assert notes and all(len(n) <= EXCEL_CELL_CHARS for n in notes)
    assert all("more characters; a cell holds 32,767]" in n for n in notes)


def test_a_renamed_output_sheet_is_written_where_it_is_and_logged(tmp_path: Path) -> None:
    book = make_book(tmp_path / "b.xlsx", small_frames())
    assert main(["run", str(book)]) == 0
    wb = openpyxl.load_workbook(book)
    wb["Financials"].title = "Fin"
    wb.save(book)
    assert main(["run", str(book)]) == 0
    wb = openpyxl.load_workbook(book)
    assert "Fin" in wb.sheetnames and "Financials" not in wb.sheetnames
    log, _ = OpenpyxlBook(book).read_table("Log")
    warning = log[log["level"] == "WARNING"]["message"].tolist()
    assert any("tblFinancials is on sheet 'Fin'" in m for m in warning)
    fin, problems = OpenpyxlBook(book).read_table("Financials")
    assert not problems and len(fin)
