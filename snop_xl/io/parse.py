"""Typed cells: what a workbook cell holds turned into the contract's types and back, with A1 addresses for every
problem. Shared by every BookIO engine, the inputs' validation and the worksheet functions (udfs)."""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from babel.dates import get_month_names
from openpyxl.utils import get_column_letter

from snop_xl import contract as C
from snop_xl.contract import is_blank
from snop_xl.errors import Problem

EXCEL_ERRORS = {"#N/A", "#REF!", "#VALUE!", "#DIV/0!", "#NAME?", "#NUM!", "#NULL!", "#SPILL!", "#CALC!",
                "#GETTING_DATA"}
_EXCEL_EPOCH = dt.datetime(1899, 12, 30)
_TRUE = {"true", "yes", "y", "1", "x", "wahr", "oui"}
_FALSE = {"false", "no", "n", "0", "", "falsch", "non"}


@dataclass(frozen=True)
class Uncalculated:
    """A formula cell whose value was never calculated (the file was written by a tool that does not calculate)."""

    formula: str

    def __repr__(self) -> str:  # how a problem shows what it found: the formula, not a Python object
        return f"the formula {self.formula}, never calculated"


@dataclass
class RawTable:
    """The cells of one table as found on the sheet: header texts and row values, with where they sit."""

    sheet: str
    header: list[Any]
    rows: list[list[Any]]
    first_row: int  # sheet row of the header
    first_col: int  # 1-based sheet column of the first table column

    def cell(self, col_offset: int, row_offset: int | None = None) -> str:
        """A1 address of a header cell (row_offset None) or of a data cell."""
        row = self.first_row if row_offset is None else self.first_row + 1 + row_offset
        return f"{get_column_letter(self.first_col + col_offset)}{row}"


# ---- cells -> typed values ---------------------------------------------------------------------------------
class CellError(ValueError):
    """A cell value that does not fit its column; the message says what was expected."""


#: Languages whose month names and abbreviations are read in month texts (Dez 2026, janv. 2027, mrt-27, Mär 2026):
#: CLDR's data through Babel rather than a hand-written table, so every form a locale's Excel or ERP writes (wide
#: and abbreviated, format and stand-alone) is there, spelt as the locale spells it.
MONTH_LOCALES = ("en", "de", "fr", "es", "it", "nl", "pt")
_MONTH_EXPECTED = "a month (a date, or text like 2026-12 or Dec 2026)"


def month_key(text: str) -> str:
    """The form month names are compared in: NFKC, case-folded, spaces collapsed, a trailing dot dropped."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text)).strip().casefold().rstrip(".").strip()


def _unaccented(key: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKD", key) if not unicodedata.combining(ch))


@functools.cache
def month_name_readings(locales: tuple[str, ...] = MONTH_LOCALES) -> dict[str, tuple[tuple[int, str], ...]]:
    """Every month name and abbreviation of `locales` (and its unaccented spelling: Marz, fevr, aout) -> the
    (month, locale) readings it has, sorted. One month among them: the name is that month; several: it is ambiguous
    and refused, never guessed (none among the default locales; Croatian and Polish 'listopad' would be). Built
    once, the same in every process (no hash order, no system locale)."""
    readings: dict[str, set[tuple[int, str]]] = {}
    for locale in locales:
        for width in ("wide", "abbreviated"):
            for context in ("format", "stand-alone"):
                for month, name in get_month_names(width, context, locale).items():
                    key = month_key(name)
                    for form in {key, _unaccented(key)}:
                        if form and not form.isdigit():
                            readings.setdefault(form, set()).add((month, locale))
    out = {}
    for form, found in sorted(readings.items()):
        months = {m for m, _ in found}
        # the readings that differ: one per month (its first locale), so an unambiguous name has exactly one
        out[form] = tuple(sorted(min((m, loc) for m2, loc in found if m2 == m) for m in months))
    return out


def month_number(name: str) -> int | None:
    """The month a month name or abbreviation means in any of MONTH_LOCALES (Dez, janv., mrt, March), None if it
    is none. Raises CellError when it names different months in different languages."""
    readings = month_name_readings().get(month_key(name))
    if not readings:
        return None
    if len(readings) > 1:
        meanings = " or ".join(f"{dt.date(2000, m, 1):%B} ({loc})" for m, loc in readings)
        raise CellError(f"a month name with one meaning: {name.strip()!r} is {meanings}; write the month as "
                        "2026-12")
    return readings[0][0]


_LETTERS = r"[^\W\d_]+"
_NAME_YEAR = re.compile(rf"({_LETTERS})\.?(?:\s*[-/.,]\s*|\s+|)(\d{{4}})|({_LETTERS})\.?\s*[-'’]\s*(\d{{2}})")
_YEAR_NAME = re.compile(rf"(\d{{4}})\s*[-/ ]\s*({_LETTERS})\.?")
_DAY_NAME_YEAR = re.compile(rf"(\d{{1,2}})\.?\s*[-/ .]?\s*({_LETTERS})\.?\s*[-/ .,]\s*(\d{{4}})")
_NAME_DAY_YEAR = re.compile(rf"({_LETTERS})\.?\s+(\d{{1,2}}),?\s+(\d{{4}})")
_ISO_MONTH = re.compile(r"(\d{4})\s*[-/.]\s*(\d{1,2})(?:\s*[-/.]\s*(\d{1,2}))?(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?")
_MONTH_YEAR = re.compile(r"(\d{1,2})\s*[-/.]\s*(\d{4})")
_DATE = re.compile(r"(\d{1,2})\s*([-/.])\s*(\d{1,2})\s*\2\s*(\d{4})")


def _month(year: int, month: int, day: int = 1) -> pd.Period:
    try:
        dt.date(year, month, day)
    except ValueError:
        raise CellError(_MONTH_EXPECTED) from None
    if not 1900 <= year <= 2199:
        raise CellError(_MONTH_EXPECTED)
    return pd.Period(year=year, month=month, freq="M")


def _named(name: str, year: int) -> pd.Period:
    month = month_number(name)
    if month is None:
        raise CellError(_MONTH_EXPECTED)
    return _month(year, month)


def _text_month(text: str) -> pd.Period:
    """The month a text names, in the forms planners and ERPs write: 2026-12, 2026/12, 2026-12-01, 2026-12-01
    00:00:00, 12/2026, 12.2026, Dec 2026, December 2026, Dez 2026, janv. 2027, Dec-2026, Dec-26, Dec '26, 2026 Dec,
    15 Dec 2026, Dec 15, 2026, 31.12.2026 (dotted dates are day first), and 31/12/2026 or 12/31/2026 where only one
    order makes a date (3/1/2026 is refused: March or January?). Raises CellError saying what was expected."""
    if m := _ISO_MONTH.fullmatch(text):
        return _month(int(m.group(1)), int(m.group(2)), int(m.group(3) or 1))
    if m := _MONTH_YEAR.fullmatch(text):
        return _month(int(m.group(2)), int(m.group(1)))
    if m := _DATE.fullmatch(text):
        a, sep, b, year = int(m.group(1)), m.group(2), int(m.group(3)), int(m.group(4))
        if sep == "." or a > 12:  # day first: dotted dates always are, and a first number over 12 is a day
            return _month(year, b, a)
        if b > 12 or a == b:
            return _month(year, a, b)
        raise CellError(f"a month written unambiguously: {text} is {_month(year, a, b)} read month first, "
                        f"{_month(year, b, a)} read day first; write the month as {_month(year, a, b)} or "
                        f"{_month(year, b, a)}")
    if m := _NAME_YEAR.fullmatch(text):
        if m.group(1):
            return _named(m.group(1), int(m.group(2)))
        return _named(m.group(3), 2000 + int(m.group(4)))
    if m := _YEAR_NAME.fullmatch(text):
        return _named(m.group(2), int(m.group(1)))
    if m := _DAY_NAME_YEAR.fullmatch(text):
        return _named(m.group(2), int(m.group(3)))
    if m := _NAME_DAY_YEAR.fullmatch(text):
        return _named(m.group(1), int(m.group(3)))
    if re.fullmatch(r"(19|20|21)\d\d(0[1-9]|1[0-2])", text):
        raise CellError(f"a month written with a separator, e.g. {text[:4]}-{text[4:]} ({text} reads as a number)")
    raise CellError(_MONTH_EXPECTED)


def to_period(value: Any) -> pd.Period:
    """A month from a date, an Excel serial number or text (`_text_month`: 2026-12, Dec 2026, Dez 2026, 2026-12-01)."""
    if isinstance(value, pd.Period):
        return value.asfreq("M")
    if isinstance(value, (dt.datetime, dt.date, pd.Timestamp)):
        return pd.Period(value, "M")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if 20000 <= value <= 80000:  # an Excel date serial (1954..2119)
            return pd.Period(_EXCEL_EPOCH + dt.timedelta(days=float(value)), "M")
        if float(value).is_integer() and re.fullmatch(r"(19|20|21)\d\d(0[1-9]|1[0-2])", str(int(value))):
            raise CellError(f"a month, not the number {int(value)}: write {int(value) // 100}-{int(value) % 100:02d}"
                            " (a text, or a date cell)")
        raise CellError("a month")
    if isinstance(value, str):
        return _text_month(value.strip())
    raise CellError("a month (a date, or text like 2026-12)")


def coerce(value: Any, dtype: str) -> Any:
    """Convert one cell value to the engine's type for `dtype`; raises CellError naming what was expected."""
    if isinstance(value, str) and value.strip() in EXCEL_ERRORS:
        raise CellError(f"a value, not the Excel error {value.strip()}")
    if isinstance(value, Uncalculated):
        raise CellError(f"a value; the formula {value.formula} was never calculated: open and save the book in "
                        "Excel or LibreOffice, or paste values")
    if dtype == C.ANY:
        return value.strip() if isinstance(value, str) else value
    if dtype == C.TEXT:
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        if isinstance(value, (dt.datetime, dt.date)):
            return value.isoformat()
        return str(value).strip()
    if dtype in (C.NUMBER, C.INTEGER, C.PERCENT):
        number = _to_number(value, dtype)
        if not math.isfinite(float(number)):  # NaN, or text such as 1e999 that overflows to infinity
            raise CellError("a finite number")
        if dtype == C.INTEGER:
            if not float(number).is_integer():
                raise CellError("a whole number")
            return int(number)
        return float(number)
    if dtype == C.PERIOD:
        return to_period(value)
    if dtype == C.DATE:
        if isinstance(value, (dt.datetime, dt.date)):
            return pd.Timestamp(value)
        if isinstance(value, str):
            try:
                return pd.Timestamp(dt.date.fromisoformat(value.strip()))
            except ValueError:
                pass
        raise CellError("a date")
    if dtype == C.BOOL:
        if isinstance(value, bool):
            return value
        if isinstance(value, (int, float)) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise CellError("TRUE or FALSE")
    raise AssertionError(dtype)


def _to_number(value: Any, dtype: str) -> float:
    if isinstance(value, bool):
        raise CellError("a number")
    if isinstance(value, (int, float, np.number)):
        if not math.isfinite(float(value)):
            raise CellError("a finite number")
        return float(value)
    if isinstance(value, str):
        text = value.strip().replace("\u00a0", "")
        pct = text.endswith("%")
        text = text.rstrip("%").strip()
        if re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", text):
            return float(text) / (100 if pct else 1)
    raise CellError("a percentage like 95% or 0.95" if dtype == C.PERCENT else "a number")


def _check_range(column: C.Column | C.Setting, value: Any) -> str | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if column.min is not None and value < column.min:
            return f"a value >= {column.min:g}"
        if column.max is not None and value > column.max:
            return f"a value <= {column.max:g}"
    if column.choices and str(value).lower() not in {c.lower() for c in column.choices}:
        return "one of " + ", ".join(column.choices)
    return None


def coerce_checked(value: Any, column: C.Column | C.Setting) -> Any:
    """coerce() plus the column's range and choice checks."""
    out = coerce(value, column.dtype)
    if column.choices and isinstance(out, str):
        out = next((c for c in column.choices if c.lower() == out.lower()), out)
    bad = _check_range(column, out)
    if bad:
        raise CellError(bad)
    return out


def _pandas_dtype(dtype: str) -> str:
    return {C.NUMBER: "float64", C.PERCENT: "float64", C.INTEGER: "Int64", C.BOOL: "boolean",
            C.DATE: "datetime64[ns]"}.get(dtype, "object")


def empty_frame(spec: C.Table) -> pd.DataFrame:
    if spec.wide_periods:
        return pd.DataFrame({"item": pd.Series(dtype=object), "period": pd.Series(dtype="period[M]"),
                             "qty": pd.Series(dtype="float64")})
    return pd.DataFrame({c.key: pd.Series(dtype=_pandas_dtype(c.dtype)) for c in spec.columns})


def _normal(header: Any) -> str:
    return re.sub(r"\s+", " ", str(header or "")).strip().lower()


def parse_table(spec: C.Table, raw: RawTable) -> tuple[pd.DataFrame, list[Problem]]:
    """Typed frame from raw cells. Every bad cell becomes a Problem; the frame keeps the good values.

    The frame's index is the sheet row of each data row, and ``df.attrs["cells"]`` maps each column key (and, for
    History, each period) to its sheet column letter, so later checks can point at cells too.
    """
    problems: list[Problem] = []
    cols: dict[str, int] = {}
    for column in spec.columns:
        names = {_normal(column.header), _normal(column.key)}
        found = [i for i, h in enumerate(raw.header) if _normal(h) in names]
        if not found:
            if column.required:
                problems.append(Problem(raw.sheet, raw.cell(len(raw.header)), f"missing column {column.header!r}",
                                        expected=f"a header {column.header!r} in table {spec.list_object}"))
            continue
        for again in found[1:]:  # never one of them silently: which one holds the right values?
            problems.append(Problem(raw.sheet, raw.cell(again), f"a second {column.header!r} column (the first is "
                                    f"{raw.cell(found[0])})", raw.header[again],
                                    f"one {column.header!r} column: delete or rename the other"))
        cols[column.key] = found[0]

    period_cols: dict[pd.Period, int] = {}
    if spec.wide_periods:
        known = set(cols.values())
        named = {_normal(c.header) for c in spec.columns} | {_normal(c.key) for c in spec.columns}
        for pos, header in enumerate(raw.header):
            if pos in known or _normal(header) in named:  # a second key column: said above
                continue
            if is_blank(header):
                filled = [r for r, row in enumerate(raw.rows) if pos < len(row) and not is_blank(row[pos])]
                if filled:  # its values would be dropped without a word
                    problems.append(Problem(raw.sheet, raw.cell(pos), "a column of values has no month header",
                                            None, f"the month of the values below (e.g. {raw.cell(pos, filled[0])}) "
                                            "as its header, like 2026-12; or clear the column"))
                continue
            try:
                period = to_period(header)
            except CellError as exc:
                problems.append(Problem(raw.sheet, raw.cell(pos), "month header not understood", header, str(exc)))
                continue
            if period in period_cols:
                problems.append(Problem(raw.sheet, raw.cell(pos), f"month {period} appears twice (also "
                                        f"{raw.cell(period_cols[period])})", header, "each month once"))
                continue
            period_cols[period] = pos

    rows, index = [], []
    for r, values in enumerate(raw.rows):
        if all(is_blank(v) for v in values):
            continue
        record = {}
        for column in spec.columns:
            if column.key not in cols:
                record[column.key] = column.default
                continue
            pos = cols[column.key]
            value = values[pos] if pos < len(values) else None
            if is_blank(value):
                if not column.nullable:
                    problems.append(Problem(raw.sheet, raw.cell(pos, r), f"{column.header} is empty",
                                            expected=_expected(column)))
                record[column.key] = column.default
                continue
            try:
                record[column.key] = coerce_checked(value, column)
            except CellError as exc:
                problems.append(Problem(raw.sheet, raw.cell(pos, r), f"bad {column.header}", value, str(exc)))
                record[column.key] = column.default
        if spec.wide_periods:
            for period, pos in period_cols.items():
                value = values[pos] if pos < len(values) else None
                if is_blank(value):
                    continue
                try:
                    qty = coerce_checked(value, spec.wide_value)
                except CellError as exc:
                    problems.append(Problem(raw.sheet, raw.cell(pos, r), f"bad quantity for {period}", value,
                                            str(exc)))
                    continue
                rows.append({**record, "period": period, "qty": qty})
                index.append(raw.first_row + 1 + r)
        else:
            rows.append(record)
            index.append(raw.first_row + 1 + r)

    frame = pd.DataFrame(rows, index=pd.Index(index, name="row")) if rows else empty_frame(spec)
    if rows:
        for column in spec.columns:
            if column.key in frame and column.dtype in (C.NUMBER, C.PERCENT, C.INTEGER, C.BOOL, C.DATE):
                frame[column.key] = frame[column.key].astype(_pandas_dtype(column.dtype))
        if spec.wide_periods:
            frame["period"] = frame["period"].astype("period[M]")
            frame["qty"] = frame["qty"].astype("float64")
    letters = {key: get_column_letter(raw.first_col + pos) for key, pos in cols.items()}
    letters.update({p: get_column_letter(raw.first_col + pos) for p, pos in period_cols.items()})
    frame.attrs["sheet"] = raw.sheet
    frame.attrs["cells"] = letters
    frame.attrs["header_row"] = raw.first_row
    return frame, problems


def _expected(column: C.Column) -> str:
    return {C.ANY: "a value", C.TEXT: "a text", C.NUMBER: "a number", C.INTEGER: "a whole number", C.PERCENT: "a percentage",
            C.DATE: "a date", C.PERIOD: "a month like 2026-12", C.BOOL: "TRUE or FALSE"}[column.dtype]


def cell_of(frame: pd.DataFrame, key: Any, row: int | None = None) -> str:
    """A1 address of column `key` (or History period) at sheet row `row` (None: the header) of a parsed frame."""
    letter = frame.attrs.get("cells", {}).get(key, "A")
    return f"{letter}{frame.attrs.get('header_row', 1) if row is None else row}"


# ---- typed frames -> cells ----------------------------------------------------------------------------------
def to_cell(value: Any, dtype: str) -> Any:
    """A plain value openpyxl and xlwings both write: None for missing, datetimes for months and dates."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if dtype == C.PERIOD:
        return to_period(value).to_timestamp().to_pydatetime()
    if dtype == C.DATE:
        return pd.Timestamp(value).to_pydatetime()
    if dtype == C.BOOL:
        return bool(value)
    if dtype == C.ANY:
        return value.to_timestamp().to_pydatetime() if isinstance(value, pd.Period) else value
    if dtype == C.INTEGER:
        return int(value)
    if dtype in (C.NUMBER, C.PERCENT):
        return float(value)
    return within_cell(str(value))


#: the most characters an Excel cell holds
EXCEL_CELL_CHARS = 32_767


def within_cell(text: str) -> str:
    """`text`, cut to what a cell holds with a note saying so (Excel would cut it, or refuse the file, silently)."""
    if len(text) <= EXCEL_CELL_CHARS:
        return text
    def note(cut: int) -> str:
        return f" … [cut here: {cut:,} more characters; a cell holds {EXCEL_CELL_CHARS:,}]"
    keep = EXCEL_CELL_CHARS - len(note(len(text) - EXCEL_CELL_CHARS + 100))  # the note is under 100 characters
    return text[:keep] + note(len(text) - keep)


def literal_entry(value: Any) -> Any:
    """`value` as it must be handed to Excel's object model (the live engine) to land in the cell unchanged.

    Excel parses a value assigned to a range as if it were typed, so a text like ``=HYPERLINK(...)``, ``+1``,
    ``-A1`` or ``@SUM(...)`` would become a live formula (formula injection) and ``00123``, ``1-2``, ``TRUE`` or
    ``12%`` a number, a date or a boolean. A leading apostrophe is Excel's own "this is text" mark: it is not kept in
    the value (Range.Value reads the text back as written; the cell's PrefixCharacter holds it), and unlike the
    NumberFormat "@" it leaves the cell's format alone, so a number typed into the cell later is still a number.
    Every non-empty text gets it (it is cheaper to be sure than to predict Excel's parser); other values pass."""
    return "'" + value if isinstance(value, str) and value else value


def to_rows(spec: C.Table, df: pd.DataFrame) -> list[list[Any]]:
    """Rows of plain cell values in the contract's column order; missing optional columns are left blank."""
    missing = [c.key for c in spec.columns if c.key not in df.columns and not c.nullable]
    if missing:
        raise KeyError(f"{spec.name}: frame lacks columns {missing}")
    if not len(df):
        return []
    columns = [column_cells(df[c.key], c.dtype) if c.key in df.columns else [None] * len(df) for c in spec.columns]
    return [list(values) for values in zip(*columns)]


def column_cells(series: pd.Series, dtype: str) -> list[Any]:
    """`to_cell` of every value of a column, done once per column rather than once per cell: numbers straight from
    their array, every other value once per distinct value (a long table repeats its items, months and labels)."""
    kind = series.dtype.kind
    if dtype in (C.NUMBER, C.PERCENT) and kind in "fiu":
        return [None if v != v else v for v in series.to_numpy(dtype=float, na_value=np.nan).tolist()]
    if dtype == C.INTEGER and kind in "iu" and isinstance(series.dtype, np.dtype):  # no missing value
        return series.tolist()
    if isinstance(series.dtype, (pd.PeriodDtype, pd.DatetimeTZDtype)) or kind == "M":  # months, dates: by code
        codes, uniques = pd.factorize(series)
        cells = [to_cell(value, dtype) for value in uniques.tolist()] + [None]  # code -1: missing
        return [cells[code] for code in codes.tolist()]
    done: dict[tuple[type, Any], Any] = {}
    out = []
    for value in series.tolist():
        if type(value) is float:  # not cached: -0.0 == 0.0, and NaN is never found again
            out.append(to_cell(value, dtype))
            continue
        try:
            cell = done[(type(value), value)]
        except KeyError:
            cell = done[(type(value), value)] = to_cell(value, dtype)
        except TypeError:  # unhashable
            cell = to_cell(value, dtype)
        out.append(cell)
    return out
