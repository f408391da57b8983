"""Every kind of input error is reported with its sheet and cell, all in one pass, and the file stays unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest

from snop_xl.cli import main
from snop_xl.errors import ValidationError
from snop_xl.inputs import load_inputs
from snop_xl.io import open_book


def _edit(path: Path, sheet: str, cell: str, value: object) -> None:
    book = open_book(path)
    book.wb[sheet][cell] = value
    book.save()


def _problems(path: Path) -> dict[str, str]:
    with pytest.raises(ValidationError) as info:
        load_inputs(open_book(path))
    return {p.location: str(p) for p in info.value.problems}


@pytest.mark.parametrize("sheet, cell, value, location, words", [
    ("History", "A3", "ZZ", "History!A3", "unknown item"),
    ("History", "C2", "ten", "History!C2", "expected a number"),
    ("History", "D3", -4, "History!D3", "expected a value >= 0"),
    ("History", "B2", "#N/A", "History!B2", "Excel error #N/A"),
    ("Items", "A3", "A", "Items!A3", "duplicate item"),
    ("Items", "D2", "cheap", "Items!D2", "bad Unit Price"),
    ("Items", "C3", None, "Items!C3", "Family is empty"),
    ("Overrides", "A2", "A", None, None),  # placeholder row completed below
    ("Capacity", "B3", "2030-01", "Capacity!B3", "outside the plan horizon"),
    ("Budget", "A2", "Nope", "Budget!A2", "unknown family"),
    ("BillOfResources", "C2", "Oven", "BillOfResources!C2", "unknown resource"),
    ("Settings", "B3", 0, "Settings!B3", "bad Horizon"),
    ("Settings", "B2", "someday", "Settings!B2", "bad Cycle month"),
    ("Inventory", "C2", "magic", "Inventory!C2", "one of service, fixed, cover"),
])
def test_each_error_names_its_cell(small_book: Path, sheet: str, cell: str, value: object, location: str | None,
                                   words: str | None) -> None:
    if location is None:  # an override row with a month outside the horizon
        book = open_book(small_book)
        ws = book.wb["Overrides"]
        for col, v in zip("ABCDEF", ["A", None, "2031-05", 5, "Sales", "why"]):
            ws[f"{col}2"] = v
        book.save()
        location, words = "Overrides!C2", "outside the plan horizon"
    else:
        _edit(small_book, sheet, cell, value)
    problems = _problems(small_book)
    assert location in problems, problems
    assert words in problems[location]


def test_missing_column_and_missing_table(small_book: Path) -> None:
    book = open_book(small_book)
    book.wb["Items"]["C1"] = "Fam"  # the Family header renamed
    del book.wb["Capacity"].tables["tblCapacity"]
    book.save()
    problems = _problems(small_book)
    assert any("missing column 'Family'" in p for p in problems.values())
    assert "expected a sheet 'Capacity' with an Excel table tblCapacity" in problems["Capacity"]


def test_history_inside_plan_points_at_header(small_book: Path) -> None:
    _edit(small_book, "History", "N1", "2027-02")
    _edit(small_book, "History", "N2", 5)
    problems = _problems(small_book)
    assert "inside the plan" in problems["History!N1"]


def test_all_problems_in_one_pass_cli_exit_code_and_file_unchanged(small_book: Path,
                                                                    capsys: pytest.CaptureFixture) -> None:
    book = open_book(small_book)
    book.wb["History"]["A3"] = "ZZ"
    book.wb["Items"]["D2"] = "cheap"
    book.wb["Capacity"]["C4"] = "lots"
    book.save()
    before = small_book.read_bytes()
    assert main(["run", str(small_book)]) == 2
    err = capsys.readouterr().err
    for where in ("History!A3", "Items!D2", "Capacity!C4"):
        assert where in err
    assert "nothing was changed" in err
    assert small_book.read_bytes() == before
    assert main(["validate", str(small_book)]) == 2


def test_valid_book_validates(small_book: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["validate", str(small_book)]) == 0
    assert "valid (2 items" in capsys.readouterr().out
