"""Typed cells: what a workbook cell holds turned into the contract's types and back, with A1 addresses for every
problem. Shared by every BookIO engine, the inputs' validation and the worksheet functions (udfs)."""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
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


def to_period(value: Any) -> pd.Period:
    """A month from a date, an Excel serial number or text like 2026-12, Dec 2026, 2026-12-01."""
    if isinstance(value, pd.Period):
        return value.asfreq("M")
    if isinstance(value, (dt.datetime, dt.date, pd.Timestamp)):
        return pd.Period(value, "M")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if 20000 <= value <= 80000:  # an Excel date serial (1954..2119)
            return pd.Period(_EXCEL_EPOCH + dt.timedelta(days=float(value)), "M")
        raise CellError("a month")
    if isinstance(value, str):
        text = value.strip()
        for fmt in ("%Y-%m", "%Y-%m-%d", "%Y/%m", "%b %Y", "%B %Y", "%b-%Y", "%b-%y", "%m/%Y", "%Y-%m-%d %H:%M:%S"):
            try:
                return pd.Period(dt.datetime.strptime(text, fmt), "M")
            except ValueError:
                pass
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
    positions = {_normal(h): i for i, h in reversed(list(enumerate(raw.header)))}
    cols: dict[str, int] = {}
    for column in spec.columns:
        pos = positions.get(_normal(column.header), positions.get(_normal(column.key)))
        if pos is None:
            if column.required:
                problems.append(Problem(raw.sheet, raw.cell(len(raw.header)), f"missing column {column.header!r}",
                                        expected=f"a header {column.header!r} in table {spec.list_object}"))
            continue
        cols[column.key] = pos

    period_cols: dict[pd.Period, int] = {}
    if spec.wide_periods:
        known = set(cols.values())
        for pos, header in enumerate(raw.header):
            if pos in known or is_blank(header):
                continue
            try:
                period = to_period(header)
            except CellError as exc:
                problems.append(Problem(raw.sheet, raw.cell(pos), "month header not understood", header, str(exc)))
                continue
            if period in period_cols:
                problems.append(Problem(raw.sheet, raw.cell(pos), f"month {period} appears twice", header,
                                        "each month once"))
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
    series = [df[c.key].tolist() if c.key in df.columns else [None] * len(df) for c in spec.columns]
    dtypes = [c.dtype for c in spec.columns]
    return [[to_cell(v, d) for v, d in zip(values, dtypes)] for values in zip(*series)] if len(df) else []
