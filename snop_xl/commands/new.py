"""Start a new cycle workbook from the user's item master: `snop-xl new BOOK --items ITEMS.csv`.

The item master is read as `snop-xl import BOOK Items FILE` reads it (`import_table.items_of_file`). The book
comes from the committed template (`workbook/SNOP_Template.xlsm`, with its macros and ribbon) when the
target is an .xlsm and the template exists, else from the contract (`OpenpyxlBook.new`). Items are filled from the
CSV, History lists the items with no months yet, Settings holds the defaults (and the cycle month if given), every
other input is empty: ready for history and the budget.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from snop_xl import contract as C
from snop_xl.commands.import_table import items_of_file, read_file
from snop_xl.errors import SnopError, UsageError
from snop_xl.inputs import write_inputs
from snop_xl.io import OpenpyxlBook
from snop_xl.io.parse import CellError, coerce_checked, empty_frame


def read_item_master(path: str | Path, sheet: str | None = None) -> pd.DataFrame:
    """Items from an item master file (CSV or workbook), read as `snop-xl import BOOK Items` reads it: ERP
    headers (Material, SKU, List Price, Std Cost, Lead Time (days) ...), either decimal convention, title rows
    above the header. Raises ValidationError naming the file cell of every problem."""
    return items_of_file(read_file(path, "Items", sheet))


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


def checked_settings(**given: object) -> dict[str, object]:
    """Settings given on the command line, held to the same rules as the Settings sheet (`None`: not given)."""
    settings = {}
    for key, value in given.items():
        if value is None:
            continue
        spec = C.SETTING_BY_KEY[key]
        try:
            settings[key] = coerce_checked(value, spec)
        except CellError as exc:
            raise UsageError(f"--{key.replace('_', '-')} {value!r}: not a valid {spec.label}; expected {exc}") \
                from None
    return settings


def new_book(path: str | Path, items_csv: str | Path, *, cycle_month: str | pd.Period | None = None,
             horizon: int | None = None, overwrite: bool = False) -> Path:
    """Create a cycle workbook at `path` holding the item master; returns the saved path."""

    path = Path(path)
    if path.exists() and not overwrite:
        raise SnopError(f"{path}: already exists (use --force to replace it)")
    if path.suffix.lower() not in (".xlsx", ".xlsm"):
        raise SnopError(f"{path}: a workbook name ends in .xlsx or .xlsm")
    settings = checked_settings(cycle_month=cycle_month, horizon=horizon)
    items = read_item_master(items_csv)
    book = blank_book(path)
    frames = {spec.name: empty_frame(spec) for spec in C.INPUT_TABLES
              if spec.name not in ("Settings", "History")}
    frames["Items"] = items
    write_inputs(book, frames, settings)
    book.write_rows(C.HISTORY, [[item] for item in items["item"]], header=C.HISTORY.headers)
    return book.save()
