"""The layout reader: where the months, labels, figures and totals of a foreign grid are, whatever its layout.

- months as columns (a header row of months, labels on the left, an optional Total column) or as rows (a column of
  months with one column per family and measure, or a long table family/item, month, units, revenue);
- title and notes rows above the header and notes below; month names under a row of years as an Excel pivot table
  lays them out (2027 over Oct, Nov, Dec, then 2027 Total); the decimal convention and the day/month order of
  dates decided from the whole grid;
- one measure column (units / revenue) or the measure inside the label ("Garden units");
- total and subtotal rows/columns (Total, Grand total, Subtotal, "Garden total", a family row above its items,
  quarter / half-year / year columns or rows between the months: Q1 2027, H1, FY27) become `TotalCheck`s, never
  figures: a Q or H sums the months since the previous subtotal of its level or above, so fiscal quarters work
  too; in a long table, a row whose month is Total / FY27 / Q1 (or blank beside 'Grand total') sums its family's
  (or every) rows since its previous subtotal, a 'Total' row with a month that month.

`LayoutReader(grid, names).read()` gives a `Parsed`; `finish()` every Problem met on the way (unknown names,
unclear numbers or dates, duplicates, blank or error cells), all of them rather than the first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from snop_xl.errors import Problem
from snop_xl.io.parse import EXCEL_ERRORS
from snop_xl.paste.cells import (
    DASHES,
    AmbiguousNumber,
    MonthCell,
    NumberError,
    decimal_convention,
    looks_numeric,
    month_cell,
    month_names,
    norm_text,
    parse_number,
)
from snop_xl.paste.names import (
    FAMILY_HEADERS,
    IGNORED_HEADERS,
    ITEM_HEADERS,
    MEASURE_HEADERS,
    MEASURES,
    VALUE_HEADERS,
    Names,
    measure_of,
    norm_words,
    split_measure,
    subtotal_level,
    total_label,
)
from snop_xl.paste.sources import Grid

_SKIP_SCAN_ROWS = 60  # title/notes rows allowed above the header
Key = tuple[str, "str | None", str]  # family, item (None: family level), measure


@dataclass
class Entry:
    """One figure of the paste: a family (or item) and measure, a month, its value and the cell it came from."""

    key: Key
    period: pd.Period
    value: float
    cell: str


@dataclass
class TotalCheck:
    """A total in the paste and what it must equal: entries of `measure` in `keys` (None: all), `periods`."""

    label: str
    measure: str
    cell: str
    value: float
    family: str | None = None  # only this family's entries
    keys: frozenset | None = None
    periods: frozenset | None = None


@dataclass
class Parsed:
    """What a LayoutReader understood: the layout's name, figures, totals to check, months and labels with their
    cells, and the title/note rows it skipped."""

    shape: str = ""
    entries: list[Entry] = field(default_factory=list)
    totals: list[TotalCheck] = field(default_factory=list)
    months: dict[pd.Period, str] = field(default_factory=dict)  # month -> its header cell
    key_cells: dict[Key, str] = field(default_factory=dict)  # where each family/item/measure is labelled
    ignored: list[str] = field(default_factory=list)


def subtotal_spans(sequence: list[tuple[Any, pd.Period | int]]) -> dict[Any, frozenset]:
    """The months each subtotal sums, from the order of a header (or month column): `sequence` holds (position,
    month) and (position, level) for subtotals. A subtotal of level L sums the months since the previous subtotal
    of level L or above, so Q2 sums the months after Q1, H1 those since the start, FY those since the last FY."""
    spans: dict[Any, frozenset] = {}
    for i, (pos, what) in enumerate(sequence):
        if isinstance(what, pd.Period):
            continue
        months = []
        for _, before in reversed(sequence[:i]):
            if isinstance(before, pd.Period):
                months.append(before)
            elif before >= what:
                break
        spans[pos] = frozenset(months)
    return spans


class LayoutReader:
    """Turns a Grid into entries and total checks, collecting every Problem rather than stopping at the first."""

    def __init__(self, grid: Grid, names: Names):
        self.g = grid
        self.names = names
        self.problems: list[Problem] = []
        self.out = Parsed()
        self.decimal = self._decimal_convention()
        self.ambiguous: list[tuple[int, int]] = []  # cells like 1.234: one problem for all of them, in `finish`
        self.header_row = 0

    def problem(self, r: int, c: int, message: str, value: Any = None, expected: str = "") -> None:
        self.problems.append(Problem(self.g.sheet, self.g.cell(r, c), message, value, expected))

    # -- conventions decided over the whole paste
    def _decimal_convention(self) -> str | None:
        decimal, both = decimal_convention(((r, c), v) for r, row in enumerate(self.g.rows) for c, v in enumerate(row))
        if both:
            ((r1, c1), v1), ((r2, c2), v2) = both
            self.problem(r2, c2, f"numbers use both decimal conventions ({self.g.cell(r1, c1)} has {v1!r})", v2,
                         "one convention in the whole paste: 1,234.50 or 1.234,50")
        return decimal

    def parse_value(self, r: int, c: int, what: str) -> float | None:
        value = self.g.get(r, c)
        if value is None:
            self.problem(r, c, f"no value for {what}", expected="a number (0 or - for none)")
            return None
        try:
            return parse_number(value, self.decimal)
        except AmbiguousNumber:
            self.ambiguous.append((r, c))
            return None
        except NumberError as exc:
            self.problem(r, c, f"bad value for {what}", value, str(exc))
            return None

    def finish(self) -> list[Problem]:
        """Every problem found; cells with the same ambiguous number format as one problem naming them all."""
        if self.ambiguous:
            (r, c), more = self.ambiguous[0], self.ambiguous[1:]
            cells = ", ".join(self.g.cell(*rc) for rc in more[:12]) + (" ..." if len(more) > 12 else "")
            value = self.g.get(r, c)
            sep = "." if "." in str(value) else ","
            readings = f"{parse_number(value, ',' if sep == '.' else '.'):.0f} or {parse_number(value, sep):g}"
            self.problem(r, c, f"unclear decimal separator: {str(value).strip()} could be {readings}"
                         + (f" (and {len(more)} more cells like it: {cells})" if more else ""), value,
                         "numbers whose separator is clear: 1234, or 1,234.00 / 1.234,00 somewhere in the paste "
                         "(nothing in it shows whether . or , is the decimal separator)")
            self.ambiguous = []
        return self.problems

    def resolve_months(self, cells: dict[tuple[int, int], MonthCell]) -> dict[tuple[int, int], pd.Period]:
        """Months of the header (or month column), deciding day/month order for d/m/y text from the whole set."""
        day_first = any(m.day_first_only for m in cells.values())
        month_first = any(m.month_first_only for m in cells.values())
        ambiguous = [(pos, m) for pos, m in cells.items() if m.alternative is not None]
        if ambiguous and not (day_first or month_first):
            as_month_first = [m.period for m in cells.values()]
            as_day_first = [m.alternative or m.period for m in cells.values()]
            ok_mf, ok_df = len(set(as_month_first)) == len(cells), len(set(as_day_first)) == len(cells)
            if ok_mf != ok_df:
                month_first, day_first = ok_mf, ok_df
            else:
                (r, c), _ = ambiguous[0]
                self.problem(r, c, "date is ambiguous (day/month or month/day)", self.g.get(r, c),
                             "months written unambiguously, e.g. 2027-01 or Jan 2027")
                return {}
        elif ambiguous and day_first and month_first:
            (r, c), _ = ambiguous[0]
            self.problem(r, c, "dates mix day/month and month/day order", self.g.get(r, c),
                         "one order for all dates, or months like 2027-01")
            return {}
        return {pos: (m.alternative if (day_first and m.alternative is not None) else m.period)
                for pos, m in cells.items()}

    # -- locating the block
    def read(self) -> Parsed:
        for r, row in enumerate(self.g.rows[:_SKIP_SCAN_ROWS]):
            months = {c: m for c, v in enumerate(row) if (m := month_cell(v)) is not None} or \
                self._months_under_years(r)
            if not months:
                continue
            if self._note_row(r, months):
                continue
            numbers = [c for c, v in enumerate(row) if c not in months and looks_numeric(v)]
            if numbers:
                self.out.shape = "months as rows"
                self.rows_shape(r, min(months))
                return self.out
            below = self.g.get(self._next_row(r), min(months))
            # one month heading a column is a header when an amount sits below it ('-' is finance's zero)
            if len(months) >= 2 or looks_numeric(below) or (isinstance(below, str) and below.strip() in DASHES):
                self.out.shape = "months as columns"
                self.wide(r, months)
                return self.out
            self.out.ignored.append(self.g.cell(r, 0))
        for r, row in enumerate(self.g.rows[:_SKIP_SCAN_ROWS]):  # the usual cause: Jan, Feb ... with no year
            names = list(month_names(row))
            if len(names) >= 2:
                self.problem(r, names[0], "month names without a year", self.g.get(r, names[0]),
                             "the year in every month header (Jan 2027, 2027-01), or each year in the row just "
                             "above, over its first month, as a pivot table lays it out")
                return self.out
        self.problem(0, 0, "no months found in the paste",
                     expected="a header row of months (2027-01, Jan 2027, ...) or a column of months, "
                              f"within the first {_SKIP_SCAN_ROWS} rows")
        return self.out

    def _note_row(self, r: int, months: dict[int, MonthCell]) -> bool:
        """Whether row `r`, which holds a month, is a title or note above the paste ('Printed on 2026-11-15, rev 3',
        'Approved Nov 2026', 'From 2027-01 to 2027-12'): it names no label column (Family, Item, Measure), a row
        below starts the paste better (a header of more months, or a column of months), and no row between names a
        family or item (a block of figures under `r` would). Its numbers are then never read as figures."""
        label_words = FAMILY_HEADERS | ITEM_HEADERS | MEASURE_HEADERS
        if any(isinstance(v, str) and norm_words(v) in label_words for v in self.g.rows[r]):
            return False
        below = self._next_row(r)
        starts_rows = below < len(self.g.rows) and any(month_cell(self.g.get(below, c)) is not None for c in months)
        if starts_rows:  # a column of months begins here: months as rows
            return False
        for b in range(r + 1, min(len(self.g.rows), _SKIP_SCAN_ROWS)):
            row = self.g.rows[b]
            cells = [c for c, v in enumerate(row) if month_cell(v) is not None]
            more = max(len(cells), len(month_names(row)))
            if more >= 2 and more > len(months):
                return True  # a header of more months below
            after = self._next_row(b)
            if len(cells) == 1 and after < len(self.g.rows) and month_cell(self.g.get(after, cells[0])) is not None:
                return True  # a column of months starts below
            if any(not isinstance(v, (int, float)) and v is not None and self.names.resolve(v) is not None
                   for v in row):
                return False  # a family or item under the row's months: it heads figures
        return False

    def _months_under_years(self, r: int) -> dict[int, MonthCell]:
        """Month names without a year under a row of years, as an Excel pivot table grouped by years and months
        lays them out (2027 over Jan ... Dec, then '2027 Total'): each month takes the year to its left in the row
        above. The year row's subtotal headings ('2027 Total', 'Grand Total') are copied down into the blank
        cells of the month row, so the header reads as one row. {} when row `r` is not such a header."""
        row = self.g.rows[r]
        names = month_names(row)
        above = next((a for a in range(r - 1, -1, -1) if any(v is not None for v in self.g.rows[a])), None)
        if len(names) < 2 or above is None:
            return {}
        years, year = {}, None
        for c, v in enumerate(self.g.rows[above]):
            if v is not None:
                text = str(int(v)) if isinstance(v, (int, float)) and float(v).is_integer() else norm_text(v)
                year = int(text) if re.fullmatch(r"(19|20|21)\d\d", text) else None
            years[c] = year
        if any(years.get(c) is None for c in names):
            return {}
        for c, v in enumerate(self.g.rows[above]):
            if row[c] is None and v is not None and subtotal_level(v):
                row[c] = v
        return {c: MonthCell(pd.Period(year=years[c], month=m, freq="M")) for c, m in names.items()}

    def _next_row(self, r: int) -> int:
        r += 1
        while r < len(self.g.rows) and all(v is None for v in self.g.rows[r]):
            r += 1
        return r

    def _note_rows_above(self, header: int) -> None:
        self.out.ignored += [self.g.cell(r, 0) for r in range(header) if any(v is not None for v in self.g.rows[r])]

    def _register_months(self, positions: dict[tuple[int, int], pd.Period]) -> None:
        for (r, c), p in positions.items():
            if p in self.out.months:
                self.problem(r, c, f"month {p} appears twice (also {self.out.months[p]})", self.g.get(r, c),
                             "each month once")
            else:
                self.out.months[p] = self.g.cell(r, c)

    # -- months as columns
    def wide(self, h: int, month_cols: dict[int, MonthCell]) -> None:
        self.header_row = h  # total rows name their quarter / year columns by this row's headings
        self._note_rows_above(h)
        header = self.g.rows[h]
        first_month = min(month_cols)
        periods = self.resolve_months({(h, c): m for c, m in month_cols.items()})
        self._register_months(periods)
        col_period = {c: p for (_, c), p in periods.items()}
        order: list[tuple[int, pd.Period | int]] = []  # months and subtotal columns, left to right
        for c in range(first_month, self.g.width):
            if c in col_period:
                order.append((c, col_period[c]))
                continue
            if c in month_cols:
                continue
            text = header[c] if c < len(header) else None
            has_values = any(self.g.get(r, c) is not None for r in range(h + 1, len(self.g.rows)))
            if text is None:
                if has_values:
                    self.problem(h, c, "a column of values has no month header", expected="a month header "
                                 "(2027-01, Jan 2027, ...) or Total")
                continue
            if level := subtotal_level(text):
                order.append((c, level))
            elif norm_words(text) not in IGNORED_HEADERS:
                self.problem(h, c, "column header not understood", text,
                             "a month with its year (2027-01, Jan 2027, January-27, a date), a quarter (Q1 2027) "
                             "or Total")
        total_cols = subtotal_spans(order)
        roles = self._label_roles(h, range(first_month))
        for c, role in roles.items():  # a column of numbers left of the months: a month header we could not read
            values = [v for r in range(h + 1, len(self.g.rows)) if (v := self.g.get(r, c)) is not None]
            if role == "ignore" and norm_words(header[c] or "") not in IGNORED_HEADERS and values \
                    and sum(map(looks_numeric, values)) * 2 > len(values):
                self.problem(h, c, "column header not understood", header[c],
                             "a month with its year (2027-01, Jan 2027, January-27, a date)")
        if not any(r in ("family", "item", "label") for r in roles.values()):
            self.problem(h, 0, "no family or item column left of the months", header[0] if header else None,
                         "a column naming each row's family or item")
            return
        measure_col = next((c for c, r in roles.items() if r == "measure"), None)
        self._wide_rows(h, roles, measure_col, col_period, total_cols)

    def _label_roles(self, h: int, cols: range) -> dict[int, str]:
        """What each column left of the months holds: family, item, measure, label (either), or ignore."""
        roles: dict[int, str] = {}
        for c in cols:
            # "Revenue (kEUR)": what brackets add (a scale, a currency) is read by the command, not the role
            head = norm_words(re.sub(r"[\(\[].*?[\)\]]", " ", str(self.g.get(h, c) or "")))
            values = [v for r in range(h + 1, len(self.g.rows)) if (v := self.g.get(r, c)) is not None]
            resolved = [self.names.resolve(v) or self.names.resolve(split_measure(v)[0]) for v in values]
            fam = sum(1 for x in resolved if x and x[1] is None)
            itm = sum(1 for x in resolved if x and x[1] is not None)
            meas = sum(1 for v in values if measure_of(v) and not split_measure(v)[0])  # "units", not "Garden units"
            if head in FAMILY_HEADERS:
                roles[c] = "family"
            elif head in ITEM_HEADERS:
                roles[c] = "item"
            elif (fam + itm) * 2 > len(values):
                roles[c] = "label"
            elif head in MEASURE_HEADERS or (values and meas * 2 > len(values) and meas > fam + itm):
                roles[c] = "measure"
            elif head in IGNORED_HEADERS or not values:
                roles[c] = "ignore"
            elif fam + itm > 0 or not any(r in ("family", "item", "label") for r in roles.values()):
                roles[c] = "label"
            else:
                roles[c] = "ignore"
        self._one_column_each(h, roles)
        return roles

    def _one_column_each(self, h: int, roles: dict[int, str]) -> None:
        """Two columns headed for one role (Family and Product family, Measure twice, Units twice): refused at the
        second, never one of them used without a word."""
        first: dict[str, int] = {}
        for c, role in roles.items():
            if role not in ("family", "item", "measure", "value", *MEASURES):
                continue
            if role in ("family", "item", "measure") and norm_words(re.sub(r"[\(\[].*?[\)\]]", " ", str(
                    self.g.get(h, c) or ""))) not in FAMILY_HEADERS | ITEM_HEADERS | MEASURE_HEADERS:
                continue  # a role read from the values, not a header: the layout decides between those
            if role in first:
                self.problem(h, c, f"a second {role} column (the first is {self.g.cell(h, first[role])} "
                             f"{self.g.get(h, first[role])!r})", self.g.get(h, c),
                             f"one {role} column: delete or rename the other")
            else:
                first[role] = c

    def _wide_rows(self, h: int, roles: dict[int, str], measure_col: int | None, col_period: dict[int, pd.Period],
                   total_cols: dict[int, frozenset]) -> None:
        label_cols = [c for c, r in roles.items() if r in ("family", "item", "label")]
        item_col = next((c for c in label_cols if roles[c] == "item"), None)
        family_col = next((c for c in label_cols if roles[c] == "family"), None)
        seen: dict[Key, int] = {}
        group: list[Key] = []  # detail rows since the last subtotal
        previous: tuple[str, str | None] | None = None
        for r in range(h + 1, len(self.g.rows)):
            row = self.g.rows[r]
            values = [row[c] for c in col_period if c < len(row)]
            if all(v is None for v in row):
                continue
            # the label: item column first (finest), else family, else the generic label column
            label_c = next((c for c in ([item_col] if item_col is not None else []) + label_cols
                            if self.g.get(r, c) is not None), label_cols[0])
            raw_label = self.g.get(r, label_c)
            measure_text = self.g.get(r, measure_col) if measure_col is not None else None
            if raw_label is None:
                if previous is not None and measure_col is not None and any(v is not None for v in values):
                    target, label_text, measure = previous, None, measure_of(measure_text)
                elif all(v is None for v in values):
                    self.out.ignored.append(self.g.cell(r, 0))
                    continue
                else:
                    self.problem(r, label_c, "numbers with no family or item", expected=self.names.suggest(""))
                    continue
            else:
                name_text, measure = split_measure(raw_label) if measure_col is None else (norm_words(raw_label), None)
                if measure_col is not None:
                    measure = measure_of(measure_text)
                target = self.names.resolve(name_text) or self.names.resolve(raw_label)
                label_text = name_text
            if target is None:
                is_total, scope = total_label(label_text or "")
                if is_total:
                    self._total_row(r, label_c, raw_label, scope, measure, measure_col, col_period, group,
                                    total_cols)
                    if scope == "" and "sub" in norm_text(raw_label):
                        group = []
                    continue
                if all(v is None for v in values):
                    self.out.ignored.append(self.g.cell(r, label_c))
                    continue
                self.problem(r, label_c, "unknown family or item", raw_label, self.names.suggest(label_text))
                continue
            if family_col is not None and item_col is not None and target[1] is not None:
                given = self.g.get(r, family_col)
                if given is not None and norm_text(given) != norm_text(target[0]):
                    self.problem(r, family_col, f"item {target[1]} belongs to family {target[0]} in Items", given,
                                 target[0])
            previous = target
            if measure is None:
                where = measure_col if measure_col is not None else label_c
                self.problem(r, where, "measure not understood", measure_text if measure_col is not None
                             else raw_label, "units or revenue (or a label like 'Garden units')")
                continue
            key: Key = (target[0], target[1], measure)
            if key in seen:
                self.problem(r, label_c, f"{key_text(key)} appears twice (also row {self.g.first_row + seen[key]})",
                             raw_label, "one row per family (or item) and measure")
                continue
            seen[key] = r
            group.append(key)
            self.out.key_cells[key] = self.g.cell(r, label_c)
            for c, period in col_period.items():
                v = self.parse_value(r, c, f"{key_text(key)} {period}")
                if v is not None:
                    self.out.entries.append(Entry(key, period, v, self.g.cell(r, c)))
            for c, months in total_cols.items():
                what = f"{str(self.g.get(h, c)).strip()} of {key_text(key)}"
                if self.g.get(r, c) is not None and (v := self.parse_value(r, c, what)) is not None:
                    self.out.totals.append(TotalCheck(what, measure, self.g.cell(r, c), v, keys=frozenset([key]),
                                                      periods=months))

    def _total_row(self, r: int, label_c: int, raw_label: Any, scope: str, measure: str | None,
                   measure_col: int | None, col_period: dict[int, pd.Period], group: list[Key],
                   total_cols: dict[int, frozenset]) -> None:
        """A Total / subtotal row: each month's figure, and its figure under each quarter or year column."""
        if measure is None:
            where = measure_col if measure_col is not None else label_c
            self.problem(r, where, "total row without a measure", raw_label, "units or revenue for this total")
            return
        family = None
        keys = None
        if scope:
            resolved = self.names.resolve(scope)
            if resolved is None or resolved[1] is not None:
                self.problem(r, label_c, "total of an unknown family", raw_label, self.names.suggest(scope))
                return
            family = resolved[0]
        elif "sub" in norm_text(raw_label):
            keys = frozenset(k for k in group if k[2] == measure)
        spans = {c: frozenset([period]) for c, period in col_period.items()}
        spans.update({c: months for c, months in total_cols.items() if self.g.get(r, c) is not None})
        for c, months in spans.items():
            what = f"{str(raw_label).strip()} {col_period.get(c) or str(self.g.get(self.header_row, c)).strip()}"
            if (v := self.parse_value(r, c, what)) is not None:
                self.out.totals.append(TotalCheck(what if c in total_cols else str(raw_label).strip(), measure,
                                                  self.g.cell(r, c), v, family=family, keys=keys, periods=months))

    # -- months as rows
    def rows_shape(self, r0: int, month_col: int) -> None:
        h = r0 - 1
        while h >= 0 and all(v is None for v in self.g.rows[h]):
            h -= 1
        if h < 0:
            self.problem(r0, month_col, "no header row above the first month", self.g.get(r0, month_col),
                         "a header naming each column (e.g. 'Garden units', or Family / Units / Revenue)")
            return
        self._note_rows_above(h)
        data_rows = [r for r in range(h + 1, len(self.g.rows)) if any(v is not None for v in self.g.rows[r])]
        month_rows, total_rows = {}, {}
        for r in data_rows:
            v = self.g.get(r, month_col)
            m = month_cell(v)
            if m is not None:
                month_rows[(r, month_col)] = m
            elif v is not None and (level := subtotal_level(v)):
                total_rows[r] = level
            elif v is None and any(isinstance(x, str) and subtotal_level(x) == 4 and not total_label(norm_words(x))[1]
                                   for c, x in enumerate(self.g.rows[r]) if c != month_col):
                total_rows[r] = 4  # 'Grand total' in another column and no month: the total of everything
            elif any(looks_numeric(x) or x in EXCEL_ERRORS for c, x in enumerate(self.g.rows[r]) if c != month_col):
                self.problem(r, month_col, "month not understood", v,
                             "a month with its year (2027-01, Jan 2027, a date), a quarter (Q1 2027) or Total")
            else:
                self.out.ignored.append(self.g.cell(r, month_col))
        periods = self.resolve_months(month_rows)
        row_period = {r: p for (r, _), p in periods.items()}
        total_spans = subtotal_spans([(r, row_period.get(r) or total_rows[r]) for r in data_rows
                                      if r in row_period or r in total_rows])
        head = self.g.rows[h]
        roles = self._long_roles(h, month_col)
        if any(role in ("family", "item") for role in roles.values()):
            self.out.shape = "long table (one row per family and month)"
            self._long_rows(h, roles, month_col, row_period, total_rows)
            return
        self._register_months(periods)
        columns: dict[int, Key] = {}
        total_cols: list[tuple[int, str]] = []
        for c in range(self.g.width):
            if c == month_col:
                continue
            text = head[c] if c < len(head) else None
            has_values = any(self.g.get(r, c) is not None for r in row_period)
            if text is None:
                if has_values:
                    self.problem(h, c, "a column of values has no header",
                                 expected="a header like 'Garden units' or 'Garden revenue'")
                continue
            name, measure = split_measure(text)
            target = self.names.resolve(name)
            is_total, scope = total_label(name)
            if target is None and is_total and measure and not scope:
                total_cols.append((c, measure))
                continue
            if norm_words(text) in IGNORED_HEADERS:
                continue
            if target is None:
                self.problem(h, c, "unknown family or item", text, self.names.suggest(name))
                continue
            if measure is None:
                self.problem(h, c, "measure missing from the header", text, f"'{target[1] or target[0]} units' or "
                             f"'{target[1] or target[0]} revenue'")
                continue
            key: Key = (target[0], target[1], measure)
            if key in self.out.key_cells:
                self.problem(h, c, f"{key_text(key)} appears twice (also {self.out.key_cells[key]})", text,
                             "one column per family (or item) and measure")
                continue
            self.out.key_cells[key] = self.g.cell(h, c)
            columns[c] = key
        for r, period in row_period.items():
            for c, key in columns.items():
                if (v := self.parse_value(r, c, f"{key_text(key)} {period}")) is not None:
                    self.out.entries.append(Entry(key, period, v, self.g.cell(r, c)))
            for c, measure in total_cols:
                if self.g.get(r, c) is not None and (v := self.parse_value(r, c, f"total {period}")) is not None:
                    self.out.totals.append(TotalCheck(f"{head[c]} {period}", measure, self.g.cell(r, c), v,
                                                      periods=frozenset([period])))
        for r, months in total_spans.items():
            for c, key in columns.items():
                what = f"{str(self.g.get(r, month_col)).strip()} of {key_text(key)}"
                if self.g.get(r, c) is not None and (v := self.parse_value(r, c, what)) is not None:
                    self.out.totals.append(TotalCheck(what, key[2], self.g.cell(r, c), v, keys=frozenset([key]),
                                                      periods=months))

    def _long_roles(self, h: int, month_col: int) -> dict[int, str]:
        roles: dict[int, str] = {}
        for c in range(self.g.width):
            if c == month_col:
                continue
            # "Revenue (kEUR)": what brackets add (a scale, a currency) is read by the command, not the role
            head = norm_words(re.sub(r"[\(\[].*?[\)\]]", " ", str(self.g.get(h, c) or "")))
            values = [v for r in range(h + 1, len(self.g.rows)) if (v := self.g.get(r, c)) is not None]
            names = sum(1 for v in values if self.names.resolve(v))
            if head in FAMILY_HEADERS:
                roles[c] = "family"
            elif head in ITEM_HEADERS:
                roles[c] = "item"
            elif head in MEASURE_HEADERS:
                roles[c] = "measure"
            elif head in VALUE_HEADERS:
                roles[c] = "value"
            elif measure_of(head) and not split_measure(head)[0]:  # a header that is only a measure: "Units"
                roles[c] = measure_of(head) or ""
            elif values and names * 2 > len(values) and not any(looks_numeric(v) for v in values):
                roles[c] = "label"
            else:
                roles[c] = "other"
        if "label" in roles.values() and not any(r in ("family", "item") for r in roles.values()):
            roles[next(c for c, r in roles.items() if r == "label")] = "family"
        self._one_column_each(h, roles)
        return roles

    def _long_rows(self, h: int, roles: dict[int, str], month_col: int, row_period: dict[int, pd.Period],
                   total_rows: dict[int, int]) -> None:
        item_col = next((c for c, r in roles.items() if r == "item"), None)
        family_col = next((c for c, r in roles.items() if r == "family"), None)
        measure_col = next((c for c, r in roles.items() if r == "measure"), None)
        value_col = next((c for c, r in roles.items() if r == "value"), None)
        measure_cols = {c: r for c, r in roles.items() if r in MEASURES}
        if measure_col is not None and value_col is None:
            self.problem(h, measure_col, "a measure column but no value column", expected="a column 'Value'")
            return
        if measure_col is None and not measure_cols:
            self.problem(h, month_col, "no units or revenue column", expected="columns 'Units' and 'Revenue'")
            return
        seen: dict[tuple[Key, pd.Period], int] = {}
        rows = sorted(set(row_period) | set(total_rows))
        labels = {}  # row -> (label column, label, family/item it names, a total label?)
        for r in rows:
            label_c = item_col if item_col is not None and self.g.get(r, item_col) is not None else family_col
            if label_c is None:
                label_c = item_col
            raw = self.g.get(r, label_c)
            target = self.names.resolve(raw) if raw is not None else None
            is_total, scope = total_label(norm_words(raw)) if target is None and raw is not None else (False, "")
            labels[r] = (label_c, raw, self.names.resolve(scope) if scope else target, is_total)
        for r in rows:
            label_c, raw, target, is_total = labels[r]
            pairs = [(measure_of(self.g.get(r, measure_col)), value_col)] if measure_col is not None else \
                [(m, c) for c, m in measure_cols.items()]
            if r in total_rows:  # month cell 'Total', 'Q1' (or blank): the months since its previous subtotal
                sequence = [(r2, row_period.get(r2) or total_rows[r2]) for r2 in rows
                            if (r2 in total_rows and labels[r2][2] == target)
                            or (r2 not in total_rows and not labels[r2][3] and _within(labels[r2][2], target))]
                self._long_total(r, label_c, raw, target, pairs, subtotal_spans(sequence)[r])
                continue
            if is_total:  # 'Total' (or 'Garden total') for one month: of everything (of the family) that month
                self._long_total(r, label_c, raw, target, pairs, frozenset([row_period[r]]))
                continue
            period = row_period[r]
            self.out.months.setdefault(period, self.g.cell(r, month_col))
            if raw is None:
                self.problem(r, label_c, "no family or item", expected=self.names.suggest(""))
                continue
            if target is None:
                self.problem(r, label_c, "unknown family or item", raw, self.names.suggest(raw))
                continue
            if target[1] is None and item_col is not None and label_c == family_col:
                target = (target[0], None)
            if family_col is not None and target[1] is not None:
                given = self.g.get(r, family_col)
                if given is not None and norm_text(given) != norm_text(target[0]):
                    self.problem(r, family_col, f"item {target[1]} belongs to family {target[0]} in Items", given,
                                 target[0])
            for measure, c in pairs:
                if measure is None:
                    self.problem(r, measure_col, "measure not understood", self.g.get(r, measure_col),
                                 "units or revenue")
                    continue
                key: Key = (target[0], target[1], measure)
                if (key, period) in seen:
                    self.problem(r, label_c, f"{key_text(key)} {period} appears twice (also row "
                                 f"{self.g.first_row + seen[(key, period)]})", raw, "one row per family and month")
                    continue
                seen[(key, period)] = r
                self.out.key_cells.setdefault(key, self.g.cell(r, label_c))
                if (v := self.parse_value(r, c, f"{key_text(key)} {period}")) is not None:
                    self.out.entries.append(Entry(key, period, v, self.g.cell(r, c)))

    def _long_total(self, r: int, label_c: int, raw: Any, target: tuple[str, str | None] | None,
                    pairs: list[tuple[str | None, int]], months: frozenset) -> None:
        """A total row of a long table (`target` None: of everything), checked against the entries it sums."""
        if target is None and raw is not None:
            is_total, scope = total_label(norm_words(raw))
            if not is_total or scope:
                self.problem(r, label_c, "total of an unknown family" if is_total else "unknown family or item",
                             raw, self.names.suggest(scope if is_total else raw))
                return
        label = "total" if target is None else f"total of {target[1] or target[0]}"
        for measure, c in pairs:
            if measure is None or self.g.get(r, c) is None:
                continue
            if (v := self.parse_value(r, c, f"{label} {measure}")) is not None:
                keys = None if target is None else frozenset([(target[0], target[1], measure)])
                self.out.totals.append(TotalCheck(f"{label} {measure}", measure, self.g.cell(r, c), v, keys=keys,
                                                  periods=months))


def _within(named: tuple[str, str | None] | None, scope: tuple[str, str | None] | None) -> bool:
    """Whether a row naming `named` (family, item) counts in a total of `scope` (None: everything; a family: its
    items too)."""
    return scope is None or named is not None and (named == scope or scope[1] is None and named[0] == scope[0])


def key_text(key: Key) -> str:
    """'Garden units', 'HT-100 revenue': a key as messages name it."""
    return f"{key[1] or key[0]} {key[2]}"

