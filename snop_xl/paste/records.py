"""The record reader: a foreign grid that is one long table (an ERP extract: billing lines, an item master, a stock
snapshot, capacity per work centre), one record per row under a header row, read by the `fields.Field`s a table
import asks for.

- the header row is found among the first rows (title rows above it are skipped), its columns named by header
  synonyms (Material, SKU, Billing Date, Billed Qty, Net Value, List Price, Std Cost, Lead Time (days) ...);
  every other column is listed with why it is ignored, and a missing column is named at the header cell that
  comes closest (or the header row's first cell);
- number cells read as `cells.parse_number` reads them, in the decimal convention decided from every number cell
  of the file (a lone 1.234 is refused, never guessed); date cells in the day/month order decided from the whole
  column (13.01.2024 proves day first, 01/13/2024 month first; dotted dates are day first, as every locale that
  writes them does); both orders in one file, or no way to tell, is refused with the lines named;
- rows without any of the required fields (a Total row, notes under the data) are skipped and listed.

`RecordReader(grid, fields, table).read()` gives `Records`: one value per record and field, each with its cell,
and every Problem met on the way, all of them rather than the first.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from snop_xl.errors import Problem
from snop_xl.io.parse import EXCEL_ERRORS
from snop_xl.paste.cells import AmbiguousNumber, MonthCell, NumberError, decimal_convention, decimal_style, \
    month_cell, parse_number
from snop_xl.paste.fields import FLAG, MONTH, NUMBER, Field
from snop_xl.paste.names import header_words, total_label
from snop_xl.paste.sources import Grid

_SCAN = 60  # title rows allowed above the header
_BRACKETS = re.compile(r"[\(\[].*?[\)\]]")
_TRUE = {"true", "yes", "y", "1", "x", "active", "wahr", "ja", "oui"}
_FALSE = {"false", "no", "n", "0", "inactive", "falsch", "nein", "non", "blocked"}


@dataclass
class Column:
    """A column of the grid read as `field`: where it is, its header and every word of it (units in brackets
    included: "Lead Time (days)" has 'days')."""

    field: Field
    index: int
    header: Any
    words: frozenset[str]


@dataclass
class Records:
    """What a RecordReader understood: the header row, the columns read and ignored, one value per record and
    field (None where blank), the conventions decided, and every problem."""

    grid: Grid
    header_row: int = -1
    columns: dict[str, Column] = field(default_factory=dict)
    ignored: list[str] = field(default_factory=list)  # "D1 'Sales Org': why"
    skipped: list[int] = field(default_factory=list)  # grid rows that are no record (totals, notes)
    rows: list[int] = field(default_factory=list)  # grid row of each record
    values: dict[str, list[Any]] = field(default_factory=dict)
    decimal: str | None = None
    day_first: bool | None = None  # None: no date needed an order
    problems: list[Problem] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.rows)

    def line(self, i: int) -> int:
        """The line (sheet row) of record `i`, as a text editor or Excel numbers it."""
        return self.grid.first_row + self.rows[i]

    def cell(self, key: str, i: int) -> str:
        return self.grid.cell(self.rows[i], self.columns[key].index)

    def header_cell(self, key: str) -> str:
        return self.grid.cell(self.header_row, self.columns[key].index)

    def conventions(self) -> str:
        """How numbers and dates were read, for the preview."""
        decimal = {",": "decimal comma", ".": "decimal point", None: "no decimals seen"}[self.decimal]
        order = "" if self.day_first is None else "; dates day first (03.01.2024 = 3 Jan)" if self.day_first else \
            "; dates month first (01/03/2024 = 3 Jan)"
        return decimal + order

    def duplicates(self) -> list[tuple[int, int]]:
        """(line, line it repeats) of every record whose cells all equal an earlier record's."""
        if self.grid.columns is not None and self.rows:
            rows = np.asarray(self.rows)
            frame = pd.DataFrame({c: codes[rows] for c, (codes, _) in enumerate(self.grid.columns)})
            repeat = frame.duplicated(keep="first").to_numpy()
            if not repeat.any():
                return []
            firsts = frame[~repeat].assign(_first=np.flatnonzero(~repeat))
            first_of = frame[repeat].merge(firsts, how="left", on=list(frame.columns))["_first"].to_numpy()
            return [(self.grid.first_row + int(rows[i]), self.grid.first_row + int(rows[j]))
                    for i, j in zip(np.flatnonzero(repeat), first_of)]
        first: dict[tuple, int] = {}
        out = []
        for r in self.rows:
            key = tuple(self.grid.rows[r])
            if key in first:
                out.append((self.grid.first_row + r, self.grid.first_row + first[key]))
            else:
                first[key] = r
        return out


def lines_text(lines: list[int], most: int = 8) -> str:
    """'4, 9, 17 and 12 more': lines as a problem names them."""
    shown = ", ".join(map(str, lines[:most]))
    return shown + (f" and {len(lines) - most:,} more" if len(lines) > most else "")


class RecordReader:
    """Reads a Grid as records of `fields`, collecting every Problem rather than stopping at the first."""

    def __init__(self, grid: Grid, fields: tuple[Field, ...], table: str):
        self.g = grid
        self.fields = fields
        self.table = table
        self.out = Records(grid)

    def problem(self, r: int, c: int, message: str, value: Any = None, expected: str = "") -> None:
        self.out.problems.append(Problem(self.g.sheet, self.g.cell(r, c), message, value, expected))

    def read(self) -> Records:
        if not self.g.rows:
            self.problem(0, 0, "the file is empty", expected=f"a header row naming the {self.table} columns")
            return self.out
        h = self._header_row()
        if h is None:
            return self.out
        self.out.header_row = h
        self._columns(h)
        if self.out.problems:
            return self.out
        self._records(h)
        for column in self.out.columns.values():
            self.out.values[column.field.key] = self._read_column(column)
        return self.out

    # -- the header
    def _field_of(self, text: Any) -> Field | None:
        for words in (header_words(text), header_words(_BRACKETS.sub(" ", str(text)))):
            for f in self.fields:
                if words in f.synonyms:
                    return f
        return None

    def _header_row(self) -> int | None:
        """The first row naming the most required fields (then the most fields) among the first rows."""
        best, best_score = None, (0, 0)
        for r, row in enumerate(self.g.rows[:_SCAN]):
            found = {f for v in row if isinstance(v, str) and (f := self._field_of(v)) is not None}
            score = (sum(f.required for f in found), len(found))
            if score > best_score:
                best, best_score = r, score
        if best is None:
            wanted = ", ".join(f"{f.label} (or {', '.join(sorted(f.synonyms - {header_words(f.label)})[:3])})"
                               for f in self.fields if f.required)
            self.problem(0, 0, f"no header row naming the {self.table} columns in the first {_SCAN} rows",
                         self.g.get(0, 0), f"a header row with {wanted}")
        return best

    def _columns(self, h: int) -> None:
        header = self.g.rows[h]
        unmatched: dict[int, Any] = {}
        for c, text in enumerate(header):
            if text is None:
                if self._filled_below(h, c):
                    self.out.ignored.append(f"{self.g.cell(h, c)} (no header): not read")
                continue
            f = self._field_of(text)
            if f is None:
                unmatched[c] = text
                continue
            if f.key in self.out.columns:
                first = self.out.columns[f.key]
                if f.stored or f.required:
                    self.problem(h, c, f"two columns could be the {f.label}: {self.g.cell(h, first.index)} "
                                 f"{first.header!r} and this one", text,
                                 f"one {f.label} column (rename or delete the other)")
                else:
                    self.out.ignored.append(f"{self.g.cell(h, c)} {text!r}: a second {f.label} column")
                continue
            words = frozenset(header_words(str(text).replace("(", " ").replace(")", " ")).split())
            self.out.columns[f.key] = Column(f, c, text, words)
        for f in self.fields:
            if f.required and f.key not in self.out.columns:
                self._missing(h, f, unmatched)
        all_names = {s: f for f in self.fields for s in f.synonyms}
        for c, text in unmatched.items():
            close = difflib.get_close_matches(header_words(text), list(all_names), n=1, cutoff=0.8)
            hint = f" (if it is the {all_names[close[0]].label}, name it {all_names[close[0]].label!r})" \
                if close and all_names[close[0]].key not in self.out.columns else ""
            self.out.ignored.append(f"{self.g.cell(h, c)} {text!r}: not a column {self.table} reads{hint}")

    def _filled_below(self, h: int, c: int) -> bool:
        if self.g.columns is not None:
            codes, uniques = self.g.columns[c]
            return bool(_filled(uniques)[codes[h + 1:]].any())
        return any(self.g.get(r, c) is not None for r in range(h + 1, len(self.g.rows)))

    def _missing(self, h: int, f: Field, unmatched: dict[int, Any]) -> None:
        """A required column not found: named at the header cell closest to its names, else at the row's start."""
        scores = {c: max(difflib.SequenceMatcher(None, header_words(t), s).ratio() for s in f.synonyms)
                  for c, t in unmatched.items()}
        others = sorted(f.synonyms - {header_words(f.label), f.key})[:4]
        expected = f"a header {f.label!r} (or {', '.join(repr(o) for o in others)})"
        c = max(scores, key=lambda k: scores[k], default=None)
        if c is not None and scores[c] >= 0.6:
            self.problem(h, c, f"missing column {f.label!r}", unmatched[c],
                         f"{expected}: if this column is the {f.label}, name it {f.label!r}")
        else:
            self.problem(h, 0, f"missing column {f.label!r} in the header row {self.g.first_row + h}", None, expected)

    # -- the records
    def _records(self, h: int) -> None:
        required = [c.index for c in self.out.columns.values() if c.field.required]
        if self.g.columns is not None:
            return self._records_by_column(h, required)
        for r in range(h + 1, len(self.g.rows)):
            row = self.g.rows[r]
            if all(v is None for v in row):
                continue
            cells = [row[c] if c < len(row) else None for c in required]
            if all(v is None for v in cells) or any(_is_total(v) for v in cells):
                self.out.skipped.append(r)
                continue
            self.out.rows.append(r)

    def _records_by_column(self, h: int, required: list[int]) -> None:
        """`_records` for a column-wise grid: the same rows, decided per distinct cell."""
        n = len(self.g.rows) - h - 1
        filled = np.zeros(n, dtype=bool)
        for codes, uniques in self.g.columns:
            filled |= _filled(uniques)[codes[h + 1:]]
        no_key, total = np.ones(n, dtype=bool), np.zeros(n, dtype=bool)
        for c in required:
            codes, uniques = self.g.columns[c]
            no_key &= ~_filled(uniques)[codes[h + 1:]]
            total |= np.fromiter((_is_total(u) for u in uniques), dtype=bool, count=len(uniques))[codes[h + 1:]]
        skipped = filled & (no_key | total)
        self.out.skipped += (np.flatnonzero(skipped) + h + 1).tolist()
        self._rows = np.flatnonzero(filled & ~skipped) + h + 1
        self.out.rows += self._rows.tolist()

    def _coded(self, column: Column) -> tuple[np.ndarray, np.ndarray]:
        """The codes of the records' cells in `column` and the column's distinct cells (None: blank)."""
        codes, uniques = self.g.columns[column.index]
        return codes[self._rows], uniques

    def _row_problems(self, column: Column, codes: np.ndarray, messages: dict[int, tuple[str, str]]) -> None:
        """A problem at each record whose cell's code has a message (message, expected), in line order."""
        if not messages:
            return
        _, uniques = self.g.columns[column.index]
        for i in np.flatnonzero(np.isin(codes, list(messages))):
            message, expected = messages[int(codes[i])]
            self.problem(int(self._rows[i]), column.index, message, uniques[codes[i]], expected)

    def _read_column(self, column: Column) -> list[Any]:
        if self.g.columns is not None and column.field.kind != FLAG:
            return self._read_column_by_column(column)
        kind = column.field.kind
        if kind == NUMBER:
            return self._numbers(column)
        if kind == MONTH:
            return self._months(column)
        cells = [self.g.get(r, column.index) for r in self.out.rows]
        if column.field.required:
            for i, v in enumerate(cells):
                if v is None:
                    self.problem(self.out.rows[i], column.index, f"{column.field.label} is empty",
                                 expected=f"a {column.field.label.lower()} on every line")
        if kind == FLAG:
            return [self._flag(self.out.rows[i], column, v) for i, v in enumerate(cells)]
        return [_text(v) for v in cells]

    def _read_column_by_column(self, column: Column) -> list[Any]:
        """`_read_column` for a column-wise grid: each distinct cell read once, the same values and problems."""
        kind, label = column.field.kind, column.field.label
        codes, uniques = self._coded(column)
        blank = [k for k, u in enumerate(uniques) if u is None]
        if kind == NUMBER:
            self._decide_decimal()
            got = np.empty(len(uniques), dtype=object)
            texts = [k for k, u in enumerate(uniques) if u is not None]
            got[texts] = _number_values(np.array([uniques[k] for k in texts], dtype=object), self._decimal)
            messages = {k: (f"no {label}", "a number (0 for none)") for k in blank} if column.field.required else {}
            messages.update({k: (f"bad {label}", g) for k, g in enumerate(got)
                             if isinstance(g, str) and g != "ambiguous"})
            self._row_problems(column, codes, messages)
            ambiguous = [k for k, g in enumerate(got) if g == "ambiguous"]
            if ambiguous:
                where = np.flatnonzero(np.isin(codes, ambiguous))
                r = int(self._rows[where[0]])
                more = [self.g.first_row + int(x) for x in self._rows[where[1:]]]
                self.problem(r, column.index, f"unclear decimal separator in {label}"
                             + (f" (and on lines {lines_text(more)})" if more else ""), self.g.get(r, column.index),
                             "numbers whose separator is clear: 1234, or 1,234.00 / 1.234,00 somewhere in the file "
                             "(nothing in it shows whether . or , is the decimal separator)")
            values = np.array([g if isinstance(g, float) else None for g in got], dtype=object)
            return values[codes].tolist()
        if kind == MONTH:
            cells = np.array([None if u is None else month_cell(u) for u in uniques], dtype=object)
            messages = {k: (f"no {label}", "a date or month on every line") for k in blank}
            why = "a date (03.01.2024, 2024-01-03, 1/3/2024) or a month (2024-01, Jan 2024)"
            messages.update({k: (f"bad {label}", f"a date, not the Excel error {u}" if u.strip() in EXCEL_ERRORS
                                 else why) for k, u in enumerate(uniques) if u is not None and cells[k] is None})
            self._row_problems(column, codes, messages)
            return self._months_decided(column, cells, codes)
        if column.field.required:
            self._row_problems(column, codes, {k: (f"{label} is empty", f"a {label.lower()} on every line")
                                               for k in blank})
        return np.array([_text(u) for u in uniques] or [None], dtype=object)[codes].tolist()

    def _decide_decimal(self) -> None:
        """The file's decimal convention over every number cell of the records, as `decimal_convention` decides
        it in reading order (line by line, left to right)."""
        if hasattr(self, "_decimal"):
            return
        first: dict[str, tuple[int, int]] = {}  # style -> (record, column) of its first cell
        for column in (c for c in self.out.columns.values() if c.field.kind == NUMBER):
            codes, uniques = self._coded(column)
            texts = [k for k, u in enumerate(uniques) if isinstance(u, str)]
            styles = np.full(len(uniques), None, dtype=object)
            styles[texts] = _styles(np.array([uniques[k] for k in texts], dtype=object))
            for style in ("dot", "comma"):
                where = np.flatnonzero(np.isin(codes, np.flatnonzero(styles == style)))
                if len(where) and (style not in first or (where[0], column.index) < first[style]):
                    first[style] = (int(where[0]), column.index)
        self._decimal = self.out.decimal = None if len(first) == 2 else \
            {"dot": ".", "comma": ","}.get(next(iter(first), ""), None)
        if len(first) == 2:
            (i1, c1), (i2, c2) = sorted(first.values())
            r1, r2 = int(self._rows[i1]), int(self._rows[i2])
            self.problem(r2, c2, f"numbers use both decimal conventions ({self.g.cell(r1, c1)} has "
                         f"{self.g.get(r1, c1)!r})", self.g.get(r2, c2),
                         "one convention in the whole file: 1,234.50 or 1.234,50")

    def _months_decided(self, column: Column, cells: np.ndarray, codes: np.ndarray) -> list[Any]:
        """`_months`'s end for a column-wise grid: the day/month order over the whole column, each cell's month."""
        def lines(test) -> list[int]:
            keys = [k for k, m in enumerate(cells) if m is not None and test(m)]
            return (self.g.first_row + self._rows[np.isin(codes, keys)]).tolist() if keys else []

        day_only, month_only = lines(lambda m: m.day_first_only), lines(lambda m: m.month_first_only)
        ambiguous_keys = [k for k, m in enumerate(cells) if m is not None and m.alternative is not None]
        ambiguous = np.flatnonzero(np.isin(codes, ambiguous_keys)) if ambiguous_keys else np.array([], dtype=int)
        day_first = None
        if day_only and month_only:
            r = month_only[0] - self.g.first_row
            self.problem(r, column.index, f"dates mix day/month and month/day order: lines {lines_text(day_only)} "
                         f"only read day first, lines {lines_text(month_only)} only month first",
                         self.g.get(r, column.index), "one order for all dates, or dates like 2024-01-03")
        elif day_only or month_only:
            day_first = self.out.day_first = bool(day_only)
        elif len(ambiguous):
            texts = {_text(self.g.columns[column.index][1][k]) for k in ambiguous_keys}
            if all("." in t and "/" not in t and "-" not in t for t in texts):
                day_first = self.out.day_first = True
            else:
                i0 = int(self._rows[ambiguous[0]])
                self.problem(i0, column.index, f"the {column.field.label.lower()}s never show whether the day or the "
                             f"month comes first (no day above 12), on lines "
                             f"{lines_text((self.g.first_row + self._rows[ambiguous]).tolist())}",
                             self.g.get(i0, column.index), "dates written unambiguously (2024-01-03), or an extract "
                             "that includes a day after the 12th")
        if day_first is None and len(ambiguous):
            return [None] * len(codes)
        months = np.array([None if m is None else m.alternative if day_first and m.alternative is not None
                           else m.period for m in cells] or [None], dtype=object)
        return months[codes].tolist()

    def _flag(self, r: int, column: Column, value: Any) -> bool | None:
        if value is None or isinstance(value, bool):
            return value
        text = _text(value).casefold()
        if text in _TRUE or text in _FALSE:
            return text in _TRUE
        self.problem(r, column.index, f"bad {column.field.label}", value, "TRUE or FALSE (yes/no, X/blank)")
        return None

    def _numbers(self, column: Column) -> list[float | None]:
        """Every number of the column; the file's decimal convention decided once, over every number column."""
        if not hasattr(self, "_decimal"):
            number_cols = [c.index for c in self.out.columns.values() if c.field.kind == NUMBER]
            decimal, both = decimal_convention((((r, c), self.g.get(r, c)) for r in self.out.rows
                                                for c in number_cols), months=False)
            if both:
                ((r1, c1), v1), ((r2, c2), v2) = both
                self.problem(r2, c2, f"numbers use both decimal conventions ({self.g.cell(r1, c1)} has {v1!r})",
                             v2, "one convention in the whole file: 1,234.50 or 1.234,50")
            self._decimal = self.out.decimal = decimal
        out: list[float | None] = []
        seen: dict[Any, float | str] = {}
        ambiguous: list[int] = []
        label = column.field.label
        for r in self.out.rows:
            v = self.g.get(r, column.index)
            if v is None:
                if column.field.required:
                    self.problem(r, column.index, f"no {label}", expected="a number (0 for none)")
                out.append(None)
                continue
            key = v if isinstance(v, str) else None
            got = seen.get(key) if key is not None else None
            if got is None:
                try:
                    got = _plain_number(v, self._decimal) if key is not None else None
                    if got is None:
                        got = parse_number(v, self._decimal)
                except AmbiguousNumber:
                    got = "ambiguous"
                except NumberError as exc:
                    got = str(exc)
                if key is not None:
                    seen[key] = got
            if isinstance(got, float):
                out.append(got)
                continue
            out.append(None)
            if got == "ambiguous":
                ambiguous.append(r)
            else:
                self.problem(r, column.index, f"bad {label}", v, got)
        if ambiguous:
            r = ambiguous[0]
            more = [self.g.first_row + x for x in ambiguous[1:]]
            self.problem(r, column.index, f"unclear decimal separator in {label}"
                         + (f" (and on lines {lines_text(more)})" if more else ""), self.g.get(r, column.index),
                         "numbers whose separator is clear: 1234, or 1,234.00 / 1.234,00 somewhere in the file "
                         "(nothing in it shows whether . or , is the decimal separator)")
        return out

    def _months(self, column: Column) -> list[Any]:
        """Each cell's month; the day/month order decided from the whole column, or refused with its lines."""
        label = column.field.label
        seen: dict[Any, MonthCell | None] = {}
        cells: list[MonthCell | None] = []
        for r in self.out.rows:
            v = self.g.get(r, column.index)
            if v is None:
                self.problem(r, column.index, f"no {label}", expected="a date or month on every line")
                cells.append(None)
                continue
            key = v if isinstance(v, (str, int, float, dt.date)) else repr(v)
            if key not in seen:
                seen[key] = month_cell(v)
            m = seen[key]
            if m is None:
                why = f"a date, not the Excel error {v}" if isinstance(v, str) and v.strip() in EXCEL_ERRORS else \
                    "a date (03.01.2024, 2024-01-03, 1/3/2024) or a month (2024-01, Jan 2024)"
                self.problem(r, column.index, f"bad {label}", v, why)
            cells.append(m)
        day_first = self._order(column, cells)
        if day_first is None and any(m is not None and m.alternative is not None for m in cells):
            return [None] * len(cells)
        return [None if m is None else m.alternative if day_first and m.alternative is not None else m.period
                for m in cells]

    def _order(self, column: Column, cells: list[MonthCell | None]) -> bool | None:
        """True day first, False month first, None when no cell needs an order or it cannot be decided (then a
        Problem names the lines)."""
        def lines(test) -> list[int]:
            return [self.out.line(i) for i, m in enumerate(cells) if m is not None and test(m)]

        day_only, month_only = lines(lambda m: m.day_first_only), lines(lambda m: m.month_first_only)
        ambiguous = [i for i, m in enumerate(cells) if m is not None and m.alternative is not None]
        if day_only and month_only:
            r = month_only[0] - self.g.first_row
            self.problem(r, column.index, f"dates mix day/month and month/day order: lines {lines_text(day_only)} "
                         f"only read day first, lines {lines_text(month_only)} only month first",
                         self.g.get(r, column.index), "one order for all dates, or dates like 2024-01-03")
            return None
        if day_only or month_only:
            self.out.day_first = bool(day_only)
            return self.out.day_first
        if not ambiguous:
            return None
        texts = {_text(self.g.get(self.out.rows[i], column.index)) for i in ambiguous}
        if all("." in t and "/" not in t and "-" not in t for t in texts):
            self.out.day_first = True  # 03.01.2024: the dotted form is day first wherever it is written
            return True
        i0 = self.out.rows[ambiguous[0]]
        self.problem(i0, column.index, f"the {column.field.label.lower()}s never show whether the day or the month comes first (no day "
                     f"above 12), on lines {lines_text([self.out.line(i) for i in ambiguous])}",
                     self.g.get(i0, column.index), "dates written unambiguously (2024-01-03), or an extract that "
                     "includes a day after the 12th")
        return None


_PLAIN = {None: re.compile(r"-?\d+"), ".": re.compile(r"-?\d+(?:\.\d+)?"), ",": re.compile(r"-?\d+(?:,\d+)?")}


def _plain_number(text: str, decimal: str | None) -> float | None:
    """The quick reading of the common cell (digits, a sign, the file's decimal separator); None: ask
    `parse_number`, which knows every other form."""
    return float(text.replace(",", ".")) if _PLAIN[decimal].fullmatch(text) else None


def _filled(uniques: np.ndarray) -> np.ndarray:
    """Which distinct cells of a column hold something."""
    return np.fromiter((u is not None for u in uniques), dtype=bool, count=len(uniques))


def _is_total(value: Any) -> bool:
    """A footer or subtotal label in a key column ('Total', 'Grand total', 'Sum'): the row is no record."""
    if not isinstance(value, str) or len(value) > 40 or not ("tot" in value.lower() or "sum" in value.lower()):
        return False
    words = header_words(value)
    return total_label(words)[0] and words.split()[0] in ("total", "grand", "sum", "subtotal", "totals")


def _text(value: Any) -> str | None:
    """A text cell as written: codes typed as numbers lose Excel's '.0', blanks are None."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


# ---- the column-wise reading of a large extract (`Grid.columns`): each distinct cell decided once, the common
# number shapes decided together with numpy; the careful per-cell functions above decide every other cell, so the
# records, the conventions and the problems are those of the cell-by-cell reading.
_VECTOR_MIN = 2_000  # fewer distinct numbers than this: the careful parser reads each, as fast


def _shapes(texts: np.ndarray) -> dict[str, np.ndarray]:
    """The plain number shapes among `texts` (ASCII digits, a leading '-', at most one '.' and one ','): for each
    text its sign, its digits without separators and where the separators are, as numpy arrays."""
    ascii_ = np.fromiter((t.isascii() for t in texts), dtype=bool, count=len(texts))
    u = np.where(ascii_, texts, "").astype(str)
    neg = np.strings.startswith(u, "-")
    body = np.where(neg, np.strings.slice(u, 1, None), u)
    n = np.strings.str_len(body)
    ndot, ncom = np.strings.count(body, "."), np.strings.count(body, ",")
    digits = np.strings.replace(np.strings.replace(body, ".", ""), ",", "")
    ok = ascii_ & (n > 0) & np.strings.isdigit(digits) & (ndot <= 1) & (ncom <= 1)
    return {"ok": ok, "neg": neg, "body": body, "n": n, "ndot": ndot, "ncom": ncom, "digits": digits,
            "pdot": np.strings.find(body, "."), "pcom": np.strings.find(body, ",")}


def _styles(texts: np.ndarray) -> np.ndarray:
    """`cells.decimal_style` of each text (object array of 'dot', 'comma', 'ambiguous' or None)."""
    out = np.empty(len(texts), dtype=object)
    s = _shapes(texts) if len(texts) >= _VECTOR_MIN else None
    if s is None:
        out[:] = [decimal_style(t) for t in texts]
        return out
    seps = s["ndot"] + s["ncom"]
    one = s["ok"] & (seps == 1)
    p = np.where(s["ndot"] == 1, s["pdot"], s["pcom"])
    frac = s["n"] - p - 1
    zero = (p == 1) & np.strings.startswith(s["body"], "0")
    ambiguous = one & (frac == 3) & (p >= 1) & (p <= 3) & ~zero
    out[s["ok"] & (seps == 0)] = None
    out[one & ~ambiguous] = np.where(s["ndot"][one & ~ambiguous] == 1, "dot", "comma")
    out[ambiguous] = "ambiguous"
    two = s["ok"] & (seps == 2)
    out[two] = np.where(s["pdot"][two] > s["pcom"][two], "dot", "comma")
    rest = ~s["ok"] | (seps > 2)
    out[rest] = [decimal_style(t) for t in texts[rest]]
    return out


def _number_values(texts: np.ndarray, decimal: str | None) -> np.ndarray:
    """What `RecordReader` makes of each text in a number column: a float, 'ambiguous', or why it is no number;
    the plain shapes with numpy, the others one by one as the careful reading does."""
    out = np.empty(len(texts), dtype=object)
    decided = np.zeros(len(texts), dtype=bool)
    if len(texts) >= _VECTOR_MIN:
        s = _shapes(texts)
        ok, body, n, digits = s["ok"], s["body"], s["n"], s["digits"]
        seps = s["ndot"] + s["ncom"]
        canon = np.full(len(texts), "", dtype=body.dtype)
        whole = np.where(s["ndot"] == 1, s["pdot"], s["pcom"])
        frac = n - whole - 1
        plain = ok & (seps == 0)
        canon[plain] = body[plain]
        one = ok & (seps == 1) & (whole >= 1) & (frac >= 1)
        sep_is_dot = s["ndot"] == 1
        if decimal is None:
            zero = (whole == 1) & np.strings.startswith(body, "0")
            ambiguous = one & (frac == 3) & (whole <= 3) & ~zero
            out[ambiguous] = "ambiguous"
            decided |= ambiguous
            as_decimal = one & ~ambiguous
        else:
            as_decimal = one & (sep_is_dot == (decimal == "."))
            as_thousands = one & ~as_decimal & (whole <= 3) & (frac == 3)
            canon[as_thousands] = digits[as_thousands]
            plain |= as_thousands
            t = s["pcom"] if decimal == "." else s["pdot"]
            d = s["pdot"] if decimal == "." else s["pcom"]
            both = ok & (seps == 2) & (t >= 1) & (t <= 3) & (d - t == 4) & (d < n - 1)
            canon[both] = np.strings.add(np.strings.add(np.strings.slice(digits[both], 0, d[both] - 1), "."),
                                         np.strings.slice(digits[both], d[both] - 1, None))
            plain |= both
        canon[as_decimal] = np.strings.add(np.strings.add(np.strings.slice(body[as_decimal], 0, whole[as_decimal]),
                                                          "."), np.strings.slice(body[as_decimal],
                                                                                  whole[as_decimal] + 1, None))
        number = plain | as_decimal
        values = np.where(number, canon, "0").astype(float)
        values[s["neg"]] *= -1
        out[number] = values[number].tolist()
        decided |= number
    for i in np.flatnonzero(~decided):
        out[i] = _careful_number(texts[i], decimal)
    return out


def _careful_number(text: str, decimal: str | None) -> float | str:
    try:
        got = _plain_number(text, decimal)
        return parse_number(text, decimal) if got is None else got
    except AmbiguousNumber:
        return "ambiguous"
    except NumberError as exc:
        return str(exc)
