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
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

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
    #: the same cells column by column, where a large extract was read that way (`columnar_csv`): per column the
    #: code of each row's cell and the distinct cells (None for blank), so a reader decides each distinct cell once
    columns: list[tuple[np.ndarray, np.ndarray]] | None = None

    def cell(self, r: int, c: int) -> str:
        return f"{C.column_letter(self.first_col + c)}{self.first_row + r}"

    def get(self, r: int, c: int) -> Any:
        if self.columns is not None:
            if 0 <= r < len(self.rows) and 0 <= c < len(self.columns):
                codes, uniques = self.columns[c]
                return uniques[codes[r]]
            return None
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


class _Rows:
    """The rows of a column-wise grid, built when asked for (a reader looking at the header, a message), so that a
    million lines are never held as a million lists."""

    def __init__(self, columns: list[tuple[np.ndarray, np.ndarray]], n: int):
        self.columns, self.n = columns, n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, r):
        if isinstance(r, slice):
            return [self[i] for i in range(*r.indices(self.n))]
        if r < 0:
            r += self.n
        if not 0 <= r < self.n:
            raise IndexError(r)
        return [uniques[codes[r]] for codes, uniques in self.columns]

    def __iter__(self):
        return (self[r] for r in range(self.n))


def columnar_csv(text: str, delimiter: str, sheet: str, max_rows: int) -> Grid | None:
    """The cells of a CSV read column by column (pandas' C reader, every cell as text), exactly as `csv.reader` and
    `_trim` read them; None where this reading could differ (a NUL, a cell over the csv module's 128 KB, lines
    longer than the first 200 lines foretell), and the caller reads the careful way."""
    if "\x00" in text:
        return None
    sample = list(csv.reader(text[:200_000].splitlines()[:200], delimiter=delimiter))
    width = max((len(r) for r in sample), default=0) + 1  # one spare column: a longer line later is an error
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a ParserWarning: a line pandas would read otherwise than csv
            frame = pd.read_csv(io.StringIO(text), sep=delimiter, header=None, names=range(width), dtype=object,
                                na_filter=False, keep_default_na=False, skip_blank_lines=False, engine="c",
                                index_col=False)
    except (pd.errors.ParserError, ValueError, csv.Error, Warning):
        return None
    if len(frame.columns) != width or frame.iloc[:, -1].ne("").any():
        return None
    limit = csv.field_size_limit()
    columns: list[tuple[np.ndarray, np.ndarray]] = []
    blank_rows = np.ones(len(frame), dtype=bool)
    for c in range(width - 1):
        codes, uniques = pd.factorize(frame.iloc[:, c].to_numpy(dtype=object), use_na_sentinel=False)
        uniques = np.asarray(uniques, dtype=object)
        if '"' in text and max(map(len, uniques), default=0) > limit:
            return None  # csv.reader refuses such a cell, with its line
        blank = np.fromiter((is_blank(u) for u in uniques), dtype=bool, count=len(uniques))
        uniques[blank] = None
        if blank.sum() > 1:  # every blank cell one code, as every blank is one None to the careful reading
            same = np.arange(len(uniques))
            same[blank] = np.flatnonzero(blank)[0]
            codes = same[codes]
        if blank.any():
            blank_rows &= blank[codes]
        else:
            blank_rows[:] = False
        columns.append((codes, uniques))
    del frame
    n = int(np.flatnonzero(~blank_rows)[-1]) + 1 if (~blank_rows).any() else 0
    if n > max_rows:
        raise ValidationError([Problem(sheet, f"A{max_rows + 1}", f"the paste has {n:,} rows",
                                       expected=f"at most {max_rows:,} rows")])
    used = [c for c, (codes, uniques) in enumerate(columns) if n and
            any(u is not None for u in uniques) and _any_filled(codes[:n], uniques)]
    keep = used[-1] + 1 if used else 0
    if keep > MAX_COLS:
        raise ValidationError([Problem(sheet, f"{C.column_letter(MAX_COLS + 1)}1",
                                       f"the paste has {keep} columns", expected=f"at most {MAX_COLS} columns")])
    columns = [(codes[:n], uniques) for codes, uniques in columns[:keep]]
    return Grid(sheet, _Rows(columns, n) if keep else [], columns=columns if keep else None)  # type: ignore[arg-type]


def _any_filled(codes: np.ndarray, uniques: np.ndarray) -> bool:
    filled = np.array([u is not None for u in uniques], dtype=bool)
    return bool(filled[codes].any())


def grid_from_csv(path: str | Path, max_rows: int = MAX_ROWS) -> Grid:
    """Cells of a CSV file: encoding and delimiter detected, row/column numbers as Excel would show them."""
    path = Path(path)
    # an extract of a million lines is ~100 MB of text: allowed where the caller allows that many rows
    check_csv_file(path, DEFAULT_LIMITS if max_rows <= MAX_ROWS else
                   dataclasses.replace(DEFAULT_LIMITS, max_csv_bytes=max(DEFAULT_LIMITS.max_csv_bytes, max_rows * 400)))
    data = path.read_bytes()
    text = _decode(data, path)
    delimiter = _sniff_delimiter(text)
    description = f"{path.name} (CSV, {delimiter!r}-separated)"
    if max_rows > MAX_ROWS and (grid := columnar_csv(text, delimiter, path.name, max_rows)) is not None:
        return dataclasses.replace(grid, description=description)  # an extract: read column by column
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        rows = [list(r) for r in reader]
    except csv.Error as exc:  # a cell of over 128 KB, a NUL character: not a budget someone typed
        raise ValidationError([Problem(path.name, f"A{reader.line_num}", f"line {reader.line_num} cannot be "
                                       f"read as CSV ({exc})", expected="a text file of rows of cells")]) from None
    return Grid(path.name, _trim(rows, path.name, max_rows), description=description)


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
