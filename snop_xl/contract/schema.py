"""The contract's vocabulary: column types and number formats, and the Column, Table, Setting and Sheet types.

The workbook contract: every sheet, Excel table, column, type and owner of the S&OP workbook.

This module is the one place that says what the workbook looks like. The readers and writers (`snop_xl.io`), the
validation, the demo/template builders and `docs/workbook.md` all derive from it: change a column here and every
one of them follows.

Conventions
- Every table is an Excel table (ListObject) named ``tbl<Name>``; several tables on one sheet sit side by side,
  separated by one empty column, so a table can be rewritten whole without knowing the length of its neighbours.
- Input tables belong to users and are never written by the engine; output tables belong to the engine and are
  rewritten whole on each run (the Log is appended).
- Inside the engine a table is a long, tidy pandas frame whose columns are the ``key`` of each Column. Only History
  is wide on the sheet (items x months, as planners know it); it is converted to long ``item, period, qty``.
- Periods are monthly ``pandas.Period`` values in the engine and first-of-month dates shown as ``yyyy-mm`` on sheets.
"""

from __future__ import annotations

import math
import re
import textwrap
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

TEXT, NUMBER, INTEGER, PERCENT, DATE, PERIOD, BOOL, ANY = (
    "text", "number", "integer", "percent", "date", "period", "bool", "any")
DTYPES = (TEXT, NUMBER, INTEGER, PERCENT, DATE, PERIOD, BOOL, ANY)  # ANY: kept as found (Settings values)

#: Excel number formats used when the engine writes a column of this kind.
FORMATS = {
    "qty": "#,##0",
    "qty1": "#,##0.0",
    "money": "#,##0.00",
    "money0": "#,##0",
    "hours": "#,##0.0",
    "percent": "0.0%",
    "ratio": "0.00",
    "period": "yyyy-mm",
    "date": "yyyy-mm-dd",
    "datetime": "yyyy-mm-dd hh:mm:ss",
}


#: Height in points of one line of text (Calibri 11), and characters of text per unit of column width: Excel does
#: not grow a row for wrapped text on open, so the writer gives it the height of the lines the text takes.
LINE_HEIGHT = 15
CHARS_PER_WIDTH = 1.1


def wrapped_lines(text: Any, width: float) -> int:
    """Lines that `text` takes wrapped (at word boundaries) in a column `width` wide."""
    return max(1, len(textwrap.wrap(str(text), max(1, int(CHARS_PER_WIDTH * width)))))


#: Format of a cell whose column has ``fmt_by``, by the value of that other cell (a unit); others keep ``fmt``.
FORMATS_BY_UNIT = {"%": "qty1", "hours": "qty1"}


class Role(str, Enum):
    INPUT = "input"
    OUTPUT = "output"


@dataclass(frozen=True)
class Column:
    """One column of a table: its header on the sheet, its key in the engine's frame, its type and checks."""

    key: str
    header: str
    dtype: str
    doc: str = ""
    unit: str = ""
    required: bool = True  # the column must be present in the table
    nullable: bool = False  # a cell may be blank
    default: Any = None  # value used for a blank cell in a nullable column
    choices: tuple[str, ...] = ()
    min: float | None = None
    max: float | None = None
    fmt: str | None = None  # key of FORMATS used when writing
    fmt_by: str | None = None  # key of a column of the same row whose value picks the format (FORMATS_BY_UNIT)
    width: float | None = None  # column width when the engine writes the table (None: fitted to the values)
    wrap: bool = False  # long text wraps within `width` (rows grow), indented off the numbers to its left; the
    #                     table's rows are then top-aligned, so a row's figures sit beside its text's first line

    def __post_init__(self) -> None:
        assert self.dtype in DTYPES, self.dtype
        assert self.width or not self.wrap, f"{self.key}: a wrapping column needs its width"

    @property
    def number_format(self) -> str | None:
        if self.fmt:
            return FORMATS[self.fmt]
        return {PERIOD: FORMATS["period"], DATE: FORMATS["date"], PERCENT: FORMATS["percent"]}.get(self.dtype)

    def number_format_in(self, currency: str = "") -> str | None:
        """number_format, with the currency code after money amounts (unit "currency") when a code is given."""
        fmt = self.number_format
        if fmt and self.unit == "currency" and re.fullmatch(r"[A-Za-z]{2,5}", currency or ""):
            return f'{fmt} "{currency}"'
        return fmt


@dataclass(frozen=True)
class Table:
    """An Excel table (ListObject) on a sheet."""

    name: str  # engine name, e.g. "Items"; the ListObject is "tbl" + name
    sheet: str
    role: Role
    columns: tuple[Column, ...]
    doc: str = ""
    key: tuple[str, ...] = ()  # column keys that identify a row (checked for duplicates)
    wide_periods: bool = False  # after the columns, one column per month headed "yyyy-mm" (History)
    wide_value: Column | None = None  # type of the cells under the month headers

    @property
    def list_object(self) -> str:
        return "tbl" + self.name

    @property
    def headers(self) -> list[str]:
        return [c.header for c in self.columns]

    @property
    def keys(self) -> list[str]:
        return [c.key for c in self.columns]

    def column(self, key: str) -> Column:
        for c in self.columns:
            if c.key == key:
                return c
        raise KeyError(f"{self.name} has no column {key!r}")

    def cell_formats(self, row: Any, width: int | None = None, currency: str = "") -> list[str | None]:
        """The number format of each cell of `row` as written to the sheet (`width` cells; money amounts with the
        `currency` code after them, a wide table's month columns take `wide_value`'s format, a column with
        ``fmt_by`` the format its row's unit calls for)."""
        formats = [c.number_format_in(currency) for c in self.columns]
        if self.wide_periods and width is not None:
            formats += [self.wide_value.number_format] * (width - len(formats))
        for j, c in enumerate(self.columns):
            by = self.keys.index(c.fmt_by) if c.fmt_by else len(row)
            if by < len(row) and row[by] in FORMATS_BY_UNIT:
                formats[j] = FORMATS[FORMATS_BY_UNIT[row[by]]]
        return formats[:width] if width is not None else formats

    @property
    def wraps(self) -> bool:
        """A column wraps its text: rows are top-aligned (`Column.wrap`)."""
        return any(c.wrap for c in self.columns)

    @property
    def first_column(self) -> int:
        """1-based sheet column of this table's first column (tables on one sheet sit side by side, right of the
        sheet's canvas if it has one)."""
        col = 1 + SHEETS[self.sheet].canvas_columns
        for other in SHEETS[self.sheet].tables:
            if other.name == self.name:
                return col
            col += len(other.columns) + 1
        raise KeyError(self.name)

    @property
    def anchor(self) -> str:
        return f"{column_letter(self.first_column)}1"


@dataclass(frozen=True)
class Setting:
    """One row of the Settings table: a named, typed parameter of the cycle."""

    key: str
    label: str
    dtype: str
    default: Any
    doc: str
    choices: tuple[str, ...] = ()
    min: float | None = None
    max: float | None = None


@dataclass(frozen=True)
class Sheet:
    name: str
    role: Role
    doc: str
    tables: tuple[Table, ...] = field(default_factory=tuple)
    hidden: bool = False  # a machine-only sheet (the charts' series): hidden in every book
    canvas_columns: int = 0  # columns left of the tables for the tiles and charts (the Dashboard's first screen)

    @property
    def charts_column(self) -> int:
        """1-based column where charts go: the sheet's canvas, else right of its last table, one column between."""
        if self.canvas_columns:
            return 1
        return max(t.first_column + len(t.columns) for t in self.tables) + 1


#: Every sheet by name, in workbook order: filled by `snop_xl.contract.tables` (a Table finds its neighbours here).
SHEETS: dict[str, Sheet] = {}


def column_letter(n: int) -> str:
    """Excel's letters of 1-based column `n` (1 -> A, 27 -> AA)."""
    letters = ""
    while n > 0:
        n, r = divmod(n - 1, 26)
        letters = chr(65 + r) + letters
    return letters


def column_number(letters: str) -> int:
    """The 1-based number of Excel column `letters` (A -> 1, AA -> 27)."""
    n = 0
    for ch in letters.strip().upper():
        n = n * 26 + ord(ch) - 64
    return n


def is_blank(value: Any) -> bool:
    """A cell with nothing in it: None, a float NaN, or only spaces."""
    return value is None or (isinstance(value, str) and value.strip() == "") or (
        isinstance(value, float) and math.isnan(value))
