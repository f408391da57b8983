"""Where grids come from: the `Grid` of pasted cells, read from a CSV file, a sheet of another workbook or a sheet of
the open book, with blanks normalised, trailing empty rows and columns trimmed and oversized pastes refused.

A CSV's encoding (UTF-8/UTF-16/Windows-1252) and delimiter (, ; tab |) are detected; a workbook is opened safely
(`io.safe_open`) and read as last calculated, never recalculated. Every cell keeps its place, so a problem names it.
"""

from __future__ import annotations

import codecs
import dataclasses
import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from snop_xl import contract as C
from snop_xl.errors import Problem, SnopError, ValidationError
from snop_xl.io.base import BookIO
from snop_xl.io.openpyxl_book import open_values
from snop_xl.io.parse import is_blank
from snop_xl.io.safe_open import DEFAULT_LIMITS, check_csv_file
from snop_xl.paste.cells import looks_numeric, month_cell

MAX_ROWS, MAX_COLS = 20_000, 400  # a paste is small; anything bigger is a wrong file
TABLE_MAX_ROWS = 1_100_000  # an ERP extract of transaction lines (a year of billing lines) is not


@dataclass
class Grid:
    """Pasted cells as a list of rows, and where they sit, so every problem can name its cell."""

    sheet: str  # what Problems call the sheet: a sheet name, "[file.xlsx]Sheet" or "file.csv"
    rows: list[list[Any]]
    first_row: int = 1
    first_col: int = 1
    description: str = ""

    def cell(self, r: int, c: int) -> str:
        return f"{C.column_letter(self.first_col + c)}{self.first_row + r}"

    def get(self, r: int, c: int) -> Any:
        row = self.rows[r] if 0 <= r < len(self.rows) else []
        return row[c] if 0 <= c < len(row) else None

    @property
    def width(self) -> int:
        return max((len(r) for r in self.rows), default=0)


def _trim(rows: list[list[Any]], sheet: str, max_rows: int = MAX_ROWS) -> list[list[Any]]:
    """Normalise blanks to None and drop empty trailing rows/columns; refuse a paste too large to be what it
    should (`max_rows`: a budget is small, an ERP extract of lines is not)."""
    out = [[None if is_blank(v) else v for v in row] for row in rows]
    while out and all(v is None for v in out[-1]):
        out.pop()
    if len(out) > max_rows:
        raise ValidationError([Problem(sheet, f"A{max_rows + 1}", f"the paste has {len(out):,} rows",
                                       expected=f"at most {max_rows:,} rows")])
    width = max((max((i + 1 for i, v in enumerate(r) if v is not None), default=0) for r in out), default=0)
    if width > MAX_COLS:
        raise ValidationError([Problem(sheet, f"{C.column_letter(MAX_COLS + 1)}1",
                                       f"the paste has {width} columns", expected=f"at most {MAX_COLS} columns")])
    return [r[:width] + [None] * (width - len(r)) for r in out]


def grid_from_csv(path: str | Path, max_rows: int = MAX_ROWS) -> Grid:
    """Cells of a CSV file: encoding and delimiter detected, row/column numbers as Excel would show them."""
    path = Path(path)
    # an extract of a million lines is ~100 MB of text: allowed where the caller allows that many rows
    check_csv_file(path, DEFAULT_LIMITS if max_rows <= MAX_ROWS else
                   dataclasses.replace(DEFAULT_LIMITS, max_csv_bytes=max(DEFAULT_LIMITS.max_csv_bytes, max_rows * 400)))
    data = path.read_bytes()
    text = _decode(data, path)
    delimiter = _sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        rows = [list(r) for r in reader]
    except csv.Error as exc:  # a cell of over 128 KB, a NUL character: not a budget someone typed
        raise ValidationError([Problem(path.name, f"A{reader.line_num}", f"line {reader.line_num} cannot be "
                                       f"read as CSV ({exc})", expected="a text file of rows of cells")]) from None
    return Grid(path.name, _trim(rows, path.name, max_rows),
                description=f"{path.name} (CSV, {delimiter!r}-separated)")


def _decode(data: bytes, path: Path) -> str:
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16")
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def _sniff_delimiter(text: str) -> str:
    """The delimiter that splits most lines into the same number (> 1) of fields; on a tie (a title line with
    commas above a ';'-separated European paste), the one whose fields read as more numbers and months."""
    sample = [line for line in text.splitlines()[:200] if line.strip()]
    best, best_score = ",", (-1, -1, -1)
    for d in (",", ";", "\t", "|"):
        try:
            rows = list(csv.reader(sample, delimiter=d))
        except csv.Error:  # reported with its line when the file is read
            continue
        counts = [len(r) for r in rows]
        if not counts:
            continue
        mode = max(set(counts), key=counts.count)
        typed = sum(looks_numeric(v) or month_cell(v) is not None for r in rows for v in r)
        score = (counts.count(mode) if mode > 1 else 0, typed, mode)
        if score > best_score:
            best, best_score = d, score
    return best


def grid_from_workbook(path: str | Path, sheet: str | None = None, prefer: Iterable[str] = (),
                       max_rows: int = MAX_ROWS) -> Grid:
    """Values (last calculated, never recalculated) of one sheet of another workbook, opened safely: `sheet`, else
    the first that holds anything of the sheets named in `prefer` (any case) and the active sheet (the active one
    when all are empty)."""
    path = Path(path)
    wb = open_values(path)
    try:
        names = wb.sheetnames
        if sheet is not None and sheet not in names:
            raise SnopError(f"{path.name}: no sheet {sheet!r}; it has {', '.join(names)}")
        by_lower = {n.lower(): n for n in names}
        candidates = [sheet] if sheet else [by_lower[n] for n in (p.lower() for p in prefer)
                                            if n in by_lower] + [wb.active.title]
        for sheet in candidates:
            rows = []
            for row in wb[sheet].iter_rows(values_only=True):
                rows.append(list(row))
                if len(rows) > max_rows + 1:
                    break
            if any(not is_blank(v) for r in rows for v in r):
                break
    finally:
        wb.close()
    label = f"[{path.name}]{sheet}"
    return Grid(label, _trim(rows, label, max_rows), description=f"{path.name}, sheet {sheet}")


def grid_from_book(book: BookIO, name: str, *, holding: str, expected: str) -> Grid:
    """What a user pasted on the book's sheet `name`, from cell A1; `holding` and `expected` say what the paste
    should be in the problem raised when the sheet is missing ("a sheet NAME holding ...") or empty.

    Formula cells give their last calculated value (BookIO.sheet_values, in every engine).
    """
    rows = book.sheet_values(name)
    if rows is None:
        raise ValidationError([Problem(name, "A1", f"there is no {name} sheet",
                                       expected=f"a sheet {name} holding {holding}")])
    grid = Grid(name, _trim(rows, name), description=f"the {name} sheet")
    if not grid.rows:
        raise ValidationError([Problem(name, "A1", "nothing is pasted", expected=expected)])
    return grid


def grid_from_file(path: str | Path, sheet: str | None = None, *, prefer: Iterable[str] = (),
                   what: str = "", max_rows: int = MAX_ROWS) -> Grid:
    """The grid of a CSV (.csv .txt .tsv) or workbook (.xlsx .xlsm .xltx .xltm) file; `sheet` and `prefer` pick a
    workbook's sheet (`grid_from_workbook`); `what` names the kind of file when another type is refused; `max_rows`
    caps its size (TABLE_MAX_ROWS for an ERP extract)."""
    path = Path(path)
    if not path.exists():
        raise SnopError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt", ".tsv"):
        return grid_from_csv(path, max_rows)
    if suffix in (".xlsx", ".xlsm", ".xltx", ".xltm"):
        return grid_from_workbook(path, sheet, prefer, max_rows)
    kind = f"{what} file type" if what else "file type"
    raise SnopError(f"{path.name}: unsupported {kind} {suffix or '(none)'}; expected .csv, .xlsx or .xlsm")
