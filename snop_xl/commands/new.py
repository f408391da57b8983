"""Start a new cycle workbook from the user's item master: `snop-xl new BOOK --items ITEMS.csv`.

The book comes from the committed template (`workbook/SNOP_Template.xlsm`, with its macros and ribbon) when the
target is an .xlsm and the template exists, else from the contract (`OpenpyxlBook.new`). Items are filled from the
CSV, History lists the items with no months yet, Settings holds the defaults (and the cycle month if given), every
other input is empty: ready for history and the budget.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd

from snop_xl import contract as C
from snop_xl.errors import Problem, SnopError, ValidationError
from snop_xl.inputs import write_inputs
from snop_xl.io import OpenpyxlBook
from snop_xl.io.parse import RawTable, empty_frame, parse_table
from snop_xl.io.safe_open import check_csv_file
from snop_xl.paste import FAMILY_HEADERS, ITEM_HEADERS, grid_from_csv, norm_words

_REQUIRED = ("item", "family")


def read_item_master(path: str | Path) -> pd.DataFrame:
    """Items from a CSV with at least `item` and `family` columns (headers or keys, any case); other Items
    columns are optional. Raises ValidationError naming the CSV cell of every problem."""

    path = Path(path)
    check_csv_file(path)
    grid = grid_from_csv(path)
    if not grid.rows:
        raise ValidationError([Problem(path.name, "A1", "the file is empty", expected="a header row item,family")])
    relaxed = dataclasses.replace(C.ITEMS, columns=tuple(
        c if c.key in _REQUIRED else dataclasses.replace(c, required=False, nullable=True) for c in C.ITEMS.columns))
    raw = RawTable(path.name, _named_headers(grid.rows[0]), grid.rows[1:], 1, 1)
    frame, problems = parse_table(relaxed, raw)
    seen: dict[str, int] = {}
    for row, item in frame.get("item", pd.Series(dtype=object)).items():
        if item is None:
            continue
        if item in seen:
            problems.append(Problem(path.name, f"{frame.attrs['cells'].get('item', 'A')}{row}", "item appears twice",
                                    item, f"each item once (first at row {seen[item]})"))
        seen.setdefault(item, row)
    if not problems and frame.empty:
        problems.append(Problem(path.name, "A2", "no items", expected="one row per item"))
    if problems:
        raise ValidationError(problems)
    return frame.reset_index(drop=True)


def _named_headers(header: list) -> list:
    """The header with an ERP's names for the two required columns (SKU, Product code, Product family, Category,
    ... as every import reads them: snop_xl.paste.names) renamed to Item and Family, where the header has no Item
    or Family column and exactly one column goes by such a name."""

    out = list(header)
    words = [norm_words(h) if h is not None else "" for h in header]
    for key, synonyms in (("item", ITEM_HEADERS), ("family", FAMILY_HEADERS)):
        if key in words:
            continue
        found = [i for i, w in enumerate(words) if w in synonyms]
        if len(found) == 1:
            out[found[0]] = key
    return out


def blank_book(path: str | Path) -> OpenpyxlBook:
    """An empty cycle book that will be saved at `path`: the macro template (ribbon, functions) for .xlsm, a plain
    contract workbook for .xlsx. Nothing is written until the caller saves."""
    path = Path(path)
    if path.suffix.lower() == ".xlsm":
        if not C.TEMPLATE.exists():  # a book without a VBA project named .xlsm is refused by Excel
            raise SnopError(f"{C.TEMPLATE} is missing: build it with `snop-xl build-template`, or write .xlsx")
        book = OpenpyxlBook(C.TEMPLATE)
        book.path = path
        return book
    return OpenpyxlBook.new(path)


def new_book(path: str | Path, items_csv: str | Path, *, cycle_month: str | pd.Period | None = None,
             horizon: int | None = None, overwrite: bool = False) -> Path:
    """Create a cycle workbook at `path` holding the item master; returns the saved path."""

    path = Path(path)
    if path.exists() and not overwrite:
        raise SnopError(f"{path}: already exists (use --force to replace it)")
    if path.suffix.lower() not in (".xlsx", ".xlsm"):
        raise SnopError(f"{path}: a workbook name ends in .xlsx or .xlsm")
    items = read_item_master(items_csv)
    settings: dict[str, object] = {}
    if cycle_month is not None:
        settings["cycle_month"] = pd.Period(str(cycle_month), "M")
    if horizon is not None:
        settings["horizon"] = int(horizon)
    book = blank_book(path)
    frames = {spec.name: empty_frame(spec) for spec in C.INPUT_TABLES
              if spec.name not in ("Settings", "History")}
    frames["Items"] = _complete(items)
    write_inputs(book, frames, settings)
    book.write_rows(C.HISTORY, [[item] for item in items["item"]], header=C.HISTORY.headers)
    return book.save()


def _complete(items: pd.DataFrame) -> pd.DataFrame:
    """Every Items column present; blanks where the CSV had none (the user fills prices before running)."""
    out = items.copy()
    for column in C.ITEMS.columns:
        if column.key not in out:
            out[column.key] = column.default
    return out[C.ITEMS.keys]
