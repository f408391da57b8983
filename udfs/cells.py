"""Cell values <-> plain Python values for the SNOP_* functions, with messages a planner can act on.

Excel hands a UDF a range as a list of rows (xlwings ``ndim=2``): blanks arrive as None, error cells as text like
``#N/A`` (``err_to_str=True``). Nothing here knows about forecasting or inventory; it only checks and reshapes.
A wrapper that raises `CellProblem` (or anything else) shows one line of text in the cell, never a traceback.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from snop_xl.io.parse import EXCEL_ERRORS

#: What a cell shows when a SNOP_* function cannot answer: the prefix makes it easy to filter for.
PREFIX = "#SNOP! "


class CellProblem(ValueError):
    """Bad input cells; the message says which argument, which value and what was expected."""


def guarded(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn any failure of a worksheet function into one line of text in the cell (Excel shows tracebacks badly)."""

    @functools.wraps(func)
    def wrapper(*args: Any) -> Any:
        try:
            return func(*args)
        except CellProblem as exc:
            return PREFIX + str(exc)
        except Exception as exc:  # the engine refused the numbers: say why, in one line
            return PREFIX + f"{func.__name__}: {' '.join(str(exc).split()) or type(exc).__name__}"

    return wrapper


def grid(values: Any) -> list[list[Any]]:
    """Any cell argument (scalar, list, list of rows) as a list of rows."""
    if values is None or not isinstance(values, (list, tuple, np.ndarray)):
        return [[values]]
    rows = list(values)
    if not rows:
        return [[]]
    if not isinstance(rows[0], (list, tuple, np.ndarray)):
        return [rows]
    return [list(r) for r in rows]


def is_row(values: Any) -> bool:
    """True when a range argument is one row wide-ways (so results go back as a row)."""
    g = grid(values)
    return len(g) == 1 and len(g[0]) >= 1


def _number(value: Any, name: str, position: int, count: int) -> float:
    where = f"{name}: value {position} of {count}" if count > 1 else f"{name}"
    if value is None or (isinstance(value, str) and value.strip() == ""):
        raise CellProblem(f"{where} is blank; expected a number")
    if isinstance(value, str) and value.strip() in EXCEL_ERRORS:
        raise CellProblem(f"{where} is the error {value.strip()}; fix that cell first")
    if isinstance(value, bool):
        raise CellProblem(f"{where} is {str(value).upper()}; expected a number")
    if isinstance(value, (int, float, np.number)):
        if not math.isfinite(float(value)):
            raise CellProblem(f"{where} is not a finite number")
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip().replace(",", ""))
        except ValueError:
            pass
    raise CellProblem(f"{where} is the text {str(value)!r}; expected a number")


def vector(values: Any, name: str, *, allow_leading_blanks: bool = False, min_length: int = 1) -> np.ndarray:
    """A one-row or one-column range as a float array; every other cell is a CellProblem.

    With `allow_leading_blanks`, blanks before the first number are dropped (a series not launched yet), as on
    the History sheet.
    """
    g = grid(values)
    if len(g) > 1 and any(len(r) > 1 for r in g):
        raise CellProblem(f"{name} is {len(g)} rows x {len(g[0])} columns; expected one row or one column")
    flat = [v for row in g for v in row]
    if allow_leading_blanks:
        while flat and (flat[0] is None or (isinstance(flat[0], str) and not flat[0].strip())):
            flat.pop(0)
    if len(flat) < min_length:
        raise CellProblem(f"{name} has {len(flat)} value(s); expected at least {min_length}")
    return np.array([_number(v, name, i + 1, len(flat)) for i, v in enumerate(flat)], dtype=float)


def scalar(value: Any, name: str, default: Any = None, *, integer: bool = False, low: float | None = None,
           high: float | None = None) -> float | int:
    """One number from one cell (None/blank gives `default`), checked against its range."""
    if isinstance(value, (list, tuple)):
        g = grid(value)
        if len(g) * len(g[0]) != 1:
            raise CellProblem(f"{name} must be a single cell")
        value = g[0][0]
    if (value is None or (isinstance(value, str) and not value.strip())) and default is not None:
        return default
    percent = isinstance(value, str) and value.strip().endswith("%")
    number = _number(value.strip().rstrip("%") if percent else value, name, 1, 1) / (100 if percent else 1)
    if integer:
        if not number.is_integer():
            raise CellProblem(f"{name} is {number:g}; expected a whole number")
        number = int(number)
    if low is not None and number < low:
        raise CellProblem(f"{name} is {number:g}; expected at least {low:g}")
    if high is not None and number > high:
        raise CellProblem(f"{name} is {number:g}; expected at most {high:g}")
    return number


def choice(value: Any, name: str, choices: Sequence[str], default: str) -> str:
    """A text option matched case-insensitively against `choices` (blank gives `default`)."""
    if isinstance(value, (list, tuple)):
        value = grid(value)[0][0]
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    text = str(value).strip()
    for c in choices:
        if c.lower() == text.lower():
            return c
    raise CellProblem(f"{name} is {text!r}; expected one of {', '.join(choices)}")


def same_length(**arrays: np.ndarray) -> int:
    """The common length of several ranges, or a CellProblem naming the lengths."""
    lengths = {name: len(a) for name, a in arrays.items()}
    if len(set(lengths.values())) > 1:
        raise CellProblem("ranges differ in length: " + ", ".join(f"{k} {v}" for k, v in lengths.items()))
    return next(iter(lengths.values()))


def shaped(values: Sequence[Any], like: Any) -> list[list[Any]]:
    """Results laid out like the input range: a row stays a row, a column stays a column."""
    clean = [_cell(v) for v in values]
    return [clean] if is_row(like) else [[v] for v in clean]


def pairs(values: Any, name: str) -> dict[str, Any]:
    """A two-column name/value range as a dict (blank rows skipped); names are lower-cased, spaces -> _."""
    out: dict[str, Any] = {}
    for i, row in enumerate(grid(values), start=1):
        if not row or all(v is None or (isinstance(v, str) and not v.strip()) for v in row):
            continue
        if len(row) < 2:
            raise CellProblem(f"{name} must have two columns (name, value)")
        key = str(row[0]).strip().lower().replace(" ", "_")
        if not key or row[0] is None:
            raise CellProblem(f"{name}: row {i} has a value but no name")
        out[key] = row[1]
    return out


def table(frame: Any, header: bool = True) -> list[list[Any]]:
    """A DataFrame as rows for the sheet, headers first; NaN becomes a blank cell, periods text."""
    rows = [list(map(str, frame.columns))] if header else []
    for record in frame.itertuples(index=False):
        rows.append([_cell(v) for v in record])
    return rows


def _cell(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, float, np.number)):
        return None if math.isnan(float(value)) else float(value)
    return str(value) if str(value) else None
