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
from collections.abc import Iterator, Mapping
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
from snop_xl.paste.sources import Cells, Grid, factorize_rows, mix

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


class FieldValues(Mapping[str, list[Any]]):
    """One value per record and field (None where blank), as lists. A column-wise reading keeps each field as the
    code of every record's cell into the field's distinct values (`coded`), so that a million lines are grouped
    and summed on integers; the list of a field is made only when asked for."""

    def __init__(self) -> None:
        self._lists: dict[str, list[Any]] = {}
        self._coded: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._numbers: dict[str, np.ndarray] = {}
        self._keys: dict[str, None] = {}

    def __setitem__(self, key: str, values: list[Any]) -> None:
        self._keys[key] = None
        self._lists[key] = values

    def set_coded(self, key: str, codes: np.ndarray, distinct: np.ndarray | None,
                  numbers: np.ndarray | None = None) -> None:
        """Field `key` as codes into its distinct values (`coded`); `numbers`: those values as floats, NaN for
        None (a number field's, known to its reader; its distinct values, None: made from them when asked for,
        as a million lines' amounts are mostly summed, not listed)."""
        self._keys[key] = None
        self._coded[key] = (codes, distinct)
        if numbers is not None:
            self._numbers[key] = numbers

    def __getitem__(self, key: str) -> list[Any]:
        if key not in self._lists:
            codes, distinct = self.coded(key)
            self._lists[key] = distinct[codes].tolist()
        return self._lists[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def __len__(self) -> int:
        return len(self._keys)

    def coded(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        """(code of each record, distinct values: an object array, None among them): `values[key]` is
        `distinct[codes]`. Two codes may hold equal values (cells written differently that read the same)."""
        if key not in self._coded:
            codes, uniques = pd.factorize(np.array(self._lists[key] + [None], dtype=object)[:-1])
            codes[codes < 0] = len(uniques)  # None (pandas' missing value) the last
            self._coded[key] = (codes, np.array(list(uniques) + [None], dtype=object))
        codes, distinct = self._coded[key]
        if distinct is None:  # a number field's: its floats, None where NaN
            numbers = self._numbers[key]
            distinct = np.where(np.isnan(numbers), None, numbers.astype(object))
            self._coded[key] = (codes, distinct)
        return codes, distinct

    def numbers(self, key: str) -> np.ndarray:
        """Each record's number in field `key` as a float array (NaN where blank); a number field's floats taken
        as they are, not through its distinct values as Python floats."""
        if key not in self._numbers:
            _, distinct = self.coded(key)
            self._numbers[key] = np.where(np.equal(distinct, None), np.nan, distinct).astype(float)
        return self._numbers[key][self._coded[key][0]]


@dataclass
class Records:
    """What a RecordReader understood: the header row, the columns read and ignored, one value per record and
    field (None where blank), the conventions decided, and every problem."""

    grid: Grid
    header_row: int = -1
    columns: dict[str, Column] = field(default_factory=dict)
    ignored: list[str] = field(default_factory=list)  # "D1 'Sales Org': why"
    skipped: list[int] = field(default_factory=list)  # grid rows that are no record (totals, notes)
    row_index: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.intp), compare=False)  # grid rows
    values: FieldValues = field(default_factory=FieldValues)
    decimal: str | None = None
    day_first: bool | None = None  # None: no date needed an order
    problems: list[Problem] = field(default_factory=list)
    _rows: list[int] | None = field(default=None, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.row_index)

    @property
    def rows(self) -> list[int]:
        """The grid row of each record, as a list (made when first asked for: `row_index` is the array)."""
        if self._rows is None:
            self._rows = self.row_index.tolist()
        return self._rows

    def coded(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        """Field `key` as the code of each record into its distinct values (`FieldValues.coded`)."""
        return self.values.coded(key)

    def line(self, i: int) -> int:
        """The line (sheet row) of record `i`, as a text editor or Excel numbers it."""
        return self.grid.first_row + int(self.row_index[i])

    def lines(self, records: np.ndarray) -> list[int]:
        """`line` of each of `records` (indices)."""
        return (self.grid.first_row + self.row_index[records]).tolist() if len(records) else []

    def cell(self, key: str, i: int) -> str:
        return self.grid.cell(int(self.row_index[i]), self.columns[key].index)

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
        if self.grid.columns is not None and len(self):
            rows = self.row_index
            parts = [take(codes, rows) for codes, _ in self.grid.columns]
            # only records whose cells mix to a number another record's mix to can repeat one: most are unique.
            # Counted first in 2**22 buckets of the number (no hash table): a record alone in its bucket is unique
            mixed = mix(parts)
            bucket = (mixed >> np.uint64(42)).astype(np.int32)
            maybe = np.flatnonzero(np.bincount(bucket, minlength=1 << 22)[bucket] > 1)
            maybe = maybe[pd.Series(mixed[maybe]).duplicated(keep=False).to_numpy()]
            key, first = factorize_rows([part[maybe] for part in parts])
            repeat = np.flatnonzero(first[key] != np.arange(len(key)))
            return list(zip((self.grid.first_row + rows[maybe[repeat]]).tolist(),
                            (self.grid.first_row + rows[maybe[first[key[repeat]]]]).tolist()))
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
        self._codes: dict[int, np.ndarray] = {}  # column -> its records' codes (a column-wise grid)
        self._number_shapes: dict[int, tuple[np.ndarray, dict[str, np.ndarray] | None]] = {}  # see `_texts`

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
            if self.g.columns is not None and column.field.kind != FLAG:
                self.out.values.set_coded(column.field.key, *self._read_column_by_column(column))
            else:
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
        rows = []
        for r in range(h + 1, len(self.g.rows)):
            row = self.g.rows[r]
            if all(v is None for v in row):
                continue
            cells = [row[c] if c < len(row) else None for c in required]
            if all(v is None for v in cells) or any(_is_total(v) for v in cells):
                self.out.skipped.append(r)
                continue
            rows.append(r)
        self.out.row_index, self.out._rows = np.array(rows, dtype=np.intp), rows

    def _records_by_column(self, h: int, required: list[int]) -> None:
        """`_records` for a column-wise grid: the same rows, decided per distinct cell."""
        n = len(self.g.rows) - h - 1

        def per_line(of: np.ndarray, codes: np.ndarray) -> np.ndarray | np.bool_:
            """`of` (a flag per distinct cell) for each line below the header; one flag where all agree."""
            return of[0] if len(of) and (of == of[0]).all() else of[codes[h + 1:]]

        filled, no_key, total = np.False_, np.True_, np.False_
        for codes, uniques in self.g.columns:
            filled = filled | per_line(_filled(uniques), codes)
        for c in required:
            codes, uniques = self.g.columns[c]
            no_key = no_key & ~per_line(_filled(uniques), codes)
            total = total | per_line(np.fromiter((_is_total(u) for u in uniques), dtype=bool, count=len(uniques)),
                                     codes)
        filled, no_key, total = (np.broadcast_to(x, n) for x in (filled, no_key, total))
        skipped = filled & (no_key | total)
        self.out.skipped += (np.flatnonzero(skipped) + h + 1).tolist()
        self._rows = self.out.row_index = np.flatnonzero(filled & ~skipped) + h + 1

    def _coded(self, column: Column) -> tuple[np.ndarray, np.ndarray]:
        """The codes of the records' cells in `column` and the column's distinct cells (None: blank)."""
        codes, uniques = self.g.columns[column.index]
        if column.index not in self._codes:
            self._codes[column.index] = take(codes, self._rows)
        return self._codes[column.index], uniques

    def _row_problems(self, column: Column, codes: np.ndarray, messages: dict[int, tuple[str, str]]) -> None:
        """A problem at each record whose cell's code has a message (message, expected), in line order."""
        if not messages:
            return
        _, uniques = self.g.columns[column.index]
        for i in np.flatnonzero(np.isin(codes, list(messages), kind="table")):
            message, expected = messages[int(codes[i])]
            self.problem(int(self._rows[i]), column.index, message, uniques[codes[i]], expected)

    def _read_column(self, column: Column) -> list[Any]:
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

    def _read_column_by_column(self, column: Column) -> tuple[np.ndarray | None, ...]:
        """`_read_column` for a column-wise grid: each distinct cell read once, the same values and problems, as
        (code of each record, value of each distinct cell[, the values as floats for a number column, whose
        distinct values are then None: `FieldValues` makes them from the floats when asked for])."""
        kind, label = column.field.kind, column.field.label
        codes, uniques = self._coded(column)
        blank = np.flatnonzero(~_filled(uniques)).tolist()
        if kind == NUMBER:
            self._decide_decimal()
            texts, shapes = self._texts(column)
            values, why = _number_values(uniques[texts], self._decimal, shapes)
            messages = {k: (f"no {label}", "a number (0 for none)") for k in blank} if column.field.required else {}
            messages.update({int(texts[i]): (f"bad {label}", w) for i, w in why.items() if w != "ambiguous"})
            self._row_problems(column, codes, messages)
            ambiguous = [int(texts[i]) for i, w in why.items() if w == "ambiguous"]
            if ambiguous:
                where = np.flatnonzero(np.isin(codes, ambiguous, kind="table"))
                r = int(self._rows[where[0]])
                more = [self.g.first_row + int(x) for x in self._rows[where[1:]]]
                self.problem(r, column.index, f"unclear decimal separator in {label}"
                             + (f" (and on lines {lines_text(more)})" if more else ""), self.g.get(r, column.index),
                             "numbers whose separator is clear: 1234, or 1,234.00 / 1.234,00 somewhere in the file "
                             "(nothing in it shows whether . or , is the decimal separator)")
            number = np.ones(len(texts), dtype=bool)
            number[list(why)] = False
            numbers = np.full(len(uniques), np.nan)
            numbers[texts[number]] = values[number]
            return codes, None, numbers  # the distinct values (Python floats) made when asked for
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
        return codes, np.array([_text(u) for u in uniques] + [None], dtype=object)

    def _texts(self, column: Column) -> tuple[np.ndarray, dict[str, np.ndarray] | None]:
        """Which distinct cells of a number column hold text, and their `_shapes` (worked out once per column:
        the decimal convention and the numbers both read them)."""
        if column.index not in self._number_shapes:
            _, uniques = self._coded(column)
            texts = np.flatnonzero(_filled(uniques))
            shapes = _shapes(uniques[texts]) if len(texts) >= _VECTOR_MIN else None
            self._number_shapes[column.index] = texts, shapes
        return self._number_shapes[column.index]

    def _decide_decimal(self) -> None:
        """The file's decimal convention over every number cell of the records, as `decimal_convention` decides
        it in reading order (line by line, left to right)."""
        if hasattr(self, "_decimal"):
            return
        first: dict[str, tuple[int, int]] = {}  # style -> (record, column) of its first cell
        for column in (c for c in self.out.columns.values() if c.field.kind == NUMBER):
            codes, uniques = self._coded(column)
            texts, shapes = self._texts(column)
            styles = np.zeros(len(uniques), dtype=np.int8)
            styles[texts] = _styles(uniques[texts], shapes)
            for style in ("dot", "comma"):
                mine = styles == STYLES.index(style)
                if not mine.any():
                    continue
                hit = mine[codes]
                where = int(hit.argmax())  # the first record with it (argmax stops at the first True)
                if hit[where] and (style not in first or (where, column.index) < first[style]):
                    first[style] = (where, column.index)
        self._decimal = self.out.decimal = None if len(first) == 2 else \
            {"dot": ".", "comma": ","}.get(next(iter(first), ""), None)
        if len(first) == 2:
            (i1, c1), (i2, c2) = sorted(first.values())
            r1, r2 = int(self._rows[i1]), int(self._rows[i2])
            self.problem(r2, c2, f"numbers use both decimal conventions ({self.g.cell(r1, c1)} has "
                         f"{self.g.get(r1, c1)!r})", self.g.get(r2, c2),
                         "one convention in the whole file: 1,234.50 or 1.234,50")

    def _months_decided(self, column: Column, cells: np.ndarray, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """`_months`'s end for a column-wise grid: the day/month order over the whole column, each cell's month."""
        present = np.bincount(codes, minlength=len(cells)) > 0  # the distinct cells some record has

        def keys(test) -> list[int]:
            return [k for k, m in enumerate(cells) if m is not None and present[k] and test(m)]

        def lines(keys: list[int]) -> list[int]:  # the records' lines, listed only for a problem
            return (self.g.first_row + self._rows[np.isin(codes, keys, kind="table")]).tolist() if keys else []

        day_keys, month_keys = keys(lambda m: m.day_first_only), keys(lambda m: m.month_first_only)
        ambiguous_keys = keys(lambda m: m.alternative is not None)
        day_first = None
        if day_keys and month_keys:
            day_only, month_only = lines(day_keys), lines(month_keys)
            r = month_only[0] - self.g.first_row
            self.problem(r, column.index, f"dates mix day/month and month/day order: lines {lines_text(day_only)} "
                         f"only read day first, lines {lines_text(month_only)} only month first",
                         self.g.get(r, column.index), "one order for all dates, or dates like 2024-01-03")
        elif day_keys or month_keys:
            day_first = self.out.day_first = bool(day_keys)
        elif ambiguous_keys:
            texts = {_text(self.g.columns[column.index][1][k]) for k in ambiguous_keys}
            if all("." in t and "/" not in t and "-" not in t for t in texts):
                day_first = self.out.day_first = True
            else:
                ambiguous = np.flatnonzero(np.isin(codes, ambiguous_keys, kind="table"))
                i0 = int(self._rows[ambiguous[0]])
                self.problem(i0, column.index, f"the {column.field.label.lower()}s never show whether the day or the "
                             f"month comes first (no day above 12), on lines "
                             f"{lines_text((self.g.first_row + self._rows[ambiguous]).tolist())}",
                             self.g.get(i0, column.index), "dates written unambiguously (2024-01-03), or an extract "
                             "that includes a day after the 12th")
        if day_first is None and ambiguous_keys:
            return np.zeros(len(codes), dtype=np.intp), np.array([None], dtype=object)
        return codes, np.array([None if m is None else m.alternative if day_first and m.alternative is not None
                                else m.period for m in cells] + [None], dtype=object)

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


def take(codes: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """`codes[rows]`, a slice where the rows are one run (an extract's records mostly are)."""
    if len(rows) and rows[-1] - rows[0] + 1 == len(rows):
        return codes[rows[0]:rows[-1] + 1]
    return codes[rows]


def _filled(uniques: np.ndarray | Cells) -> np.ndarray:
    """Which distinct cells of a column hold something."""
    return ~uniques.blank if isinstance(uniques, Cells) else np.not_equal(uniques, None)


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
_VECTOR_MIN = 64  # fewer distinct numbers than this: the careful parser reads each, as fast
_POWERS = np.array([float(10 ** k) for k in range(16)])  # exact
_WIDEST = 24  # a longer text is no plain number of at most 15 digits: the careful parser reads it
_ZERO, _DOT, _COMMA, _MINUS = (np.uint8(ord(c)) for c in "0.,-")


def _char_matrix(texts: np.ndarray | Cells) -> tuple[np.ndarray, np.ndarray]:
    """The UTF-8 bytes of `texts` as a matrix with one row per position and one column per text (0 past a text's
    end; at most `_WIDEST` rows), and each text's length in bytes. `Cells` give their bytes as they are; strings
    are joined and encoded at once rather than text by text (no text here holds a NUL: a CSV with one is read the
    careful way, so NUL separates them)."""
    if isinstance(texts, Cells):
        data = np.concatenate((texts.picked, np.zeros(_WIDEST + 1, dtype=np.uint8)))
        starts, length = texts.offset, texts.length
    else:
        data = np.frombuffer("\0".join(texts.tolist()).encode("utf-8") + b"\0" * (_WIDEST + 1), dtype=np.uint8)
        ends = np.flatnonzero(data[:len(data) - _WIDEST] == 0)
        starts = np.concatenate(([0], ends[:-1] + 1))
        length = ends - starts
    width = min(int(length.max(initial=0)), _WIDEST)
    chars = np.zeros((max(width, 1), len(texts)), dtype=np.uint8)
    for j in range(width):  # past its end a text's row holds the next text's bytes: masked off
        np.multiply(data[starts + j], length > j, out=chars[j])
    return chars, length


def _shapes(texts: np.ndarray | Cells) -> dict[str, np.ndarray]:
    """The plain number shapes among `texts` (ASCII digits, a leading '-', at most one '.' and one ','), worked out
    on their bytes as a matrix (`_char_matrix`, one row per position): for each text whether it is one (`ok`), its
    sign, the length of its body (without the sign), how many '.' and ',' and where (-1: none, positions in the
    body; a text with two of either is no plain shape, its positions meaningless), whether the body starts with
    '0', and its digits as an integer (`mantissa`, exact up to 15 digits)."""
    chars, length = _char_matrix(texts)
    value = chars - _ZERO  # a digit's value; any other byte wraps to 10 or more
    digit, dot, comma = value < 10, chars == _DOT, chars == _COMMA
    neg = chars[0] == _MINUS
    ndot, ncom, ndig = (m.sum(axis=0, dtype=np.int16) for m in (dot, comma, digit))
    allowed = digit | dot | comma | (chars == 0)  # a digit, '.', ',' or the padding after the text
    ok = allowed[1:].all(axis=0) & (allowed[0] | neg) & (ndig > 0) & (ndot <= 1) & (ncom <= 1) & \
        (length <= _WIDEST)
    mantissa = np.zeros(len(texts), dtype=np.int64)
    np.multiply(value, digit, out=value)  # what a position adds: its digit, else 0
    times = digit.view(np.uint8) * np.uint8(9)
    times += np.uint8(1)  # what a position multiplies by: 10 for a digit, else 1
    pdot, pcom = np.zeros(len(texts), dtype=np.int16), np.zeros(len(texts), dtype=np.int16)
    for j in range(len(chars)):  # the digits read left to right (wrapping past 18 digits: not `small`)
        mantissa *= times[j]
        mantissa += value[j]
        if j:  # the position of the one '.' and ',' (of texts with one at most)
            pdot += dot[j] * np.int16(j)
            pcom += comma[j] * np.int16(j)
    body = chars[1] if len(chars) > 1 else np.zeros(len(texts), dtype=np.uint8)
    return {"ok": ok, "neg": neg, "n": length - neg, "ndot": ndot, "ncom": ncom, "small": ndig <= 15,
            "pdot": np.where(ndot > 0, pdot - neg, -1), "pcom": np.where(ncom > 0, pcom - neg, -1),
            "zero": np.where(neg, body, chars[0]) == _ZERO, "mantissa": mantissa}


STYLES = (None, "dot", "comma", "ambiguous")  # `cells.decimal_style`'s answers, numbered


def _styles(texts: np.ndarray, s: dict[str, np.ndarray] | None) -> np.ndarray:
    """`cells.decimal_style` of each text as its index in STYLES (int8), the plain shapes from `s` (their
    `_shapes`; None: each text the careful way)."""
    if s is None:
        return np.array([STYLES.index(decimal_style(t)) for t in texts], dtype=np.int8)
    seps = s["ndot"] + s["ncom"]
    first, last = np.minimum(s["pdot"], s["pcom"]), np.maximum(s["pdot"], s["pcom"])  # -1: none
    plain = s["ok"] & (seps == 0)
    one = s["ok"] & (seps == 1) & (last < s["n"] - 1)  # a digit after the separator (1,5 and ,5, not 5,)
    two = s["ok"] & (seps == 2) & (first >= 1) & (last < s["n"] - 1) & (last - first >= 2)  # 1.234,5, not ,.5
    frac = s["n"] - last - 1
    ambiguous = one & (frac == 3) & (last >= 1) & (last <= 3) & ~((last == 1) & s["zero"])
    out = np.zeros(len(texts), dtype=np.int8)  # plain digits: None
    out[one] = np.where(s["ndot"][one] == 1, 1, 2)
    out[ambiguous] = 3
    out[two] = np.where(s["pdot"][two] > s["pcom"][two], 1, 2)
    rest = np.flatnonzero(~(plain | one | two))  # any other text: what the careful reading says
    out[rest] = [STYLES.index(decimal_style(t)) for t in texts[rest]]
    return out


def _number_values(texts: np.ndarray, decimal: str | None,
                   s: dict[str, np.ndarray] | None) -> tuple[np.ndarray, dict[int, str]]:
    """What `RecordReader` makes of each text in a number column: its float, or (by index) 'ambiguous' or why it
    is no number. The plain shapes from `s` (`_shapes`) as their digits over a power of ten, which is the float the
    text reads as (both exact, the division correctly rounded); the others one by one as the careful reading
    does."""
    values = np.full(len(texts), np.nan)
    decided = np.zeros(len(texts), dtype=bool)
    why: dict[int, str] = {}
    if s is not None:
        ok, n = s["ok"] & s["small"], s["n"]
        seps = s["ndot"] + s["ncom"]
        whole = np.where(s["ndot"] == 1, s["pdot"], s["pcom"])
        frac = n - whole - 1
        scale = np.full(len(texts), -1)  # the digits after the decimal separator; -1: not decided here
        scale[ok & (seps == 0)] = 0
        one = ok & (seps == 1) & (whole >= 1) & (frac >= 1)
        sep_is_dot = s["ndot"] == 1
        if decimal is None:
            ambiguous = one & (frac == 3) & (whole <= 3) & ~((whole == 1) & s["zero"])
            why.update(dict.fromkeys(np.flatnonzero(ambiguous).tolist(), "ambiguous"))
            decided |= ambiguous
            as_decimal = one & ~ambiguous
        else:
            as_decimal = one & (sep_is_dot == (decimal == "."))
            scale[one & ~as_decimal & (whole <= 3) & (frac == 3)] = 0  # a thousands separator
            t = s["pcom"] if decimal == "." else s["pdot"]
            d = s["pdot"] if decimal == "." else s["pcom"]
            both = ok & (seps == 2) & (t >= 1) & (t <= 3) & (d - t == 4) & (d < n - 1)
            scale[both] = (n - d - 1)[both]
        scale[as_decimal] = frac[as_decimal]
        number = scale >= 0
        values[number] = s["mantissa"][number] / _POWERS[scale[number]]
        values[number & s["neg"]] *= -1
        decided |= number
    for i in np.flatnonzero(~decided).tolist():
        got = _careful_number(texts[i], decimal)
        if isinstance(got, float):
            values[i] = got
        else:
            why[i] = got
    return values, why


def _careful_number(text: str, decimal: str | None) -> float | str:
    try:
        got = _plain_number(text, decimal)
        return parse_number(text, decimal) if got is None else got
    except AmbiguousNumber:
        return "ambiguous"
    except NumberError as exc:
        return str(exc)
