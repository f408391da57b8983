"""Lenient cell parsing: what one pasted cell means, whatever program or country wrote it.

- months as dates, Excel serials or text: 2027-01, Jan 2027, January-27, Jan-27, 01/2027, 2027M01, 1/1/2027, with
  month names in the languages `io.parse.MONTH_LOCALES` lists (Dez 2027, janv. 2027, mrt-27) (day and
  month order left open when the text allows both: `MonthCell.alternative`, decided over the whole paste);
- numbers as text with thousands separators, currency symbols or codes, accounting negatives (1,234), trailing
  minus, '-' for zero, non-breaking spaces, in either decimal convention (the caller passes the paste's; 1.234
  alone is `AmbiguousNumber`);
- `norm_text`, the case- and space-insensitive form every name comparison uses.

Shared by every import of foreign grids; nothing here knows a workbook or a table.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from snop_xl.io.parse import EXCEL_ERRORS, CellError, month_key, month_number

_EPOCH = dt.datetime(1899, 12, 30)


SHORTEST_MONTH_NAME = 3  # letters of the shortest month name of MONTH_LOCALES (mai, dez): checked by a test


def _month_number(name: str) -> int | None:
    """The month a name means in any language month texts are read in (`io.parse.month_number`: CLDR's names of
    MONTH_LOCALES: Jan, Dez, janv., mrt, Sept.); None for none, and for a name that means different months. A
    name shorter than any month's (the C of a customer number C1234) is none without loading CLDR's data."""
    if len(month_key(name)) < SHORTEST_MONTH_NAME:
        return None
    try:
        return month_number(name)
    except CellError:
        return None


_CURRENCY = r"(?:[$€£¥₹]|usd|eur|gbp|chf|jpy|cad|aud|sek|nok|dkk|kr)"
_CURRENCY_EDGE = re.compile(rf"^{_CURRENCY}\s*|\s*{_CURRENCY}$", re.IGNORECASE)
_CORE = re.compile(r"(?:\d[\d.,' ]*\d|\d|[.,]\d+)")
_SCI = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)[eE][+-]?\d+")
DASHES = {"-", "–", "—", "−"}


def norm_text(value: Any) -> str:
    """Case- and space-insensitive form of a name: NFKC (non-breaking spaces become spaces), collapsed, casefolded."""
    text = str(value)
    if not text.isascii():  # NFKC leaves ASCII as it is
        text = unicodedata.normalize("NFKC", text)
    return " ".join(text.split()).casefold()  # str.split's whitespace is the \s of a str pattern


def _year(text: str) -> int | None:
    year = int(text)
    if len(text) == 2:
        year += 2000
    return year if 1990 <= year <= 2100 else None


def _period(year: int | None, month: int) -> pd.Period | None:
    if year is None or not 1 <= month <= 12:
        return None
    return _month(year, month)


@functools.lru_cache(maxsize=4096)
def _month(year: int, month: int) -> pd.Period:
    """A month as a Period, made once: a pandas Period takes ~50 us to build, and an extract repeats its months."""
    return pd.Period(year=year, month=month, freq="M")


@dataclass(frozen=True)
class MonthCell:
    """A cell read as a month. `alternative` is set when the text is d/m/y vs m/d/y ambiguous."""

    period: pd.Period
    alternative: pd.Period | None = None
    day_first_only: bool = False  # the text only makes sense day-first (e.g. 13/01/2027)
    month_first_only: bool = False


_ISO = re.compile(r"(\d{4})\s*[-/.]\s*(\d{1,2})(?:\s*[-/.]\s*(\d{1,2}))?(?:[ t]\d{1,2}:\d{2}(?::\d{2})?)?")
_MY = re.compile(r"(\d{1,2})\s*[-/.]\s*(\d{4})")
_DMY = re.compile(r"(\d{1,2})\s*[-/.]\s*(\d{1,2})\s*[-/.]\s*(\d{4}|\d{2})")
_LETTERS = r"[^\W\d_]+"  # a word in any script: Dez, janv, mär, août
_NAME_Y = re.compile(rf"({_LETTERS})\.?\s*[-/ ',.’]?\s*(\d{{4}}|\d{{2}})")
_Y_NAME = re.compile(rf"(\d{{4}})\s*[-/ ]?\s*({_LETTERS})\.?")
_D_NAME_Y = re.compile(rf"(\d{{1,2}})\.?\s*[-/ .]\s*({_LETTERS})\.?\s*[-/ .,]\s*(\d{{4}})")
_NAME_D_Y = re.compile(rf"({_LETTERS})\.?\s+(\d{{1,2}}),?\s+(\d{{4}})")
_YM = re.compile(r"(\d{4})\s*m(\d{1,2})")


def month_cell(value: Any) -> MonthCell | None:
    """The month a header or row label means, or None if it is not a month (a year alone is not a month)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, pd.Period):
        return MonthCell(value.asfreq("M"))
    if isinstance(value, (dt.datetime, dt.date)):
        return MonthCell(pd.Period(year=value.year, month=value.month, freq="M"))
    if isinstance(value, (int, float)):
        # an Excel serial: only a whole first-of-month in 2000..2100, so budget numbers are never taken for months
        if not math.isfinite(value) or not float(value).is_integer() or not 36526 <= value <= 73051:
            return None
        day = _EPOCH + dt.timedelta(days=float(value))
        return MonthCell(pd.Period(day, "M")) if day.day == 1 else None
    if not isinstance(value, str):
        return None
    text = norm_text(value)
    if re.fullmatch(r"\d{5}", text):  # a serial exported as text by a CSV save of a General-format date
        return month_cell(int(text))
    if m := _ISO.fullmatch(text):
        p = _period(_year(m.group(1)), int(m.group(2)))
        return MonthCell(p) if p else None
    if m := _YM.fullmatch(text):
        p = _period(_year(m.group(1)), int(m.group(2)))
        return MonthCell(p) if p else None
    if m := _MY.fullmatch(text):
        p = _period(_year(m.group(2)), int(m.group(1)))
        return MonthCell(p) if p else None
    if m := _DMY.fullmatch(text):
        a, b, year = int(m.group(1)), int(m.group(2)), _year(m.group(3))
        month_first, day_first = _period(year, a) if b <= 31 else None, _period(year, b) if a <= 31 else None
        if month_first and day_first and a != b:
            return MonthCell(month_first, alternative=day_first)
        if month_first and (b > 12 or a == b):
            return MonthCell(month_first, month_first_only=b > 12)
        if day_first:
            return MonthCell(day_first, day_first_only=a > 12)
        return None
    for pattern, name_group, year_group in ((_NAME_Y, 1, 2), (_Y_NAME, 2, 1), (_D_NAME_Y, 2, 3), (_NAME_D_Y, 1, 3)):
        if m := pattern.fullmatch(text):
            month = _month_number(m.group(name_group))
            p = _period(_year(m.group(year_group)), month) if month else None
            return MonthCell(p) if p else None
    return None



def month_names(row: list[Any]) -> dict[int, int]:
    """Column -> month number of the cells of `row` that are a month's name alone (Jan, Sept., October)."""
    return {c: n for c, v in enumerate(row)
            if isinstance(v, str) and not any(ch.isdigit() for ch in v) and (n := _month_number(v)) is not None}


class NumberError(ValueError):
    """A value cell that is not a number; the message says what was expected."""


class AmbiguousNumber(NumberError):
    """A number like 1.234 that reads 1234 or 1.234 and nothing in the paste says which."""


def _number_core(text: str) -> tuple[int, str] | None:
    """(sign, digits-and-separators) of a number written as text, or None if it is not one. '-' alone is zero."""
    s = unicodedata.normalize("NFKC", text).replace("\u2212", "-").strip()
    if s in DASHES:
        return 1, "0"
    sign = 1
    for _ in range(3):  # currency, parentheses and signs may nest in any order: $(1,234), ($1,234), -$1,234
        before = s
        s = _CURRENCY_EDGE.sub("", s).strip()
        if s.startswith("(") and s.endswith(")"):
            sign, s = -sign, s[1:-1].strip()
        elif s[:1] in ("-", "+"):
            sign, s = (-sign if s[0] == "-" else sign), s[1:].strip()
        elif s[-1:] == "-":  # SAP-style trailing minus
            sign, s = -sign, s[:-1].strip()
        if s == before:
            break
    if s in DASHES:
        return 1, "0"
    if _CORE.fullmatch(s) and not re.search(r"[.,' ]{2,}", s):
        return sign, s
    return None


def number_style(core: str) -> str | None:
    """'dot' or 'comma' (the decimal separator this text proves), 'ambiguous' ("1.234"), or None (no separator)."""
    has_dot, has_comma = "." in core, "," in core
    if has_dot and has_comma:
        return "dot" if core.rfind(".") > core.rfind(",") else "comma"
    sep = "." if has_dot else "," if has_comma else None
    if sep is None:
        return None
    if core.count(sep) > 1:
        return "comma" if sep == "." else "dot"
    whole, frac = core.split(sep)
    digits = whole.replace(" ", "").replace("'", "")
    if len(frac) == 3 and 1 <= len(digits) <= 3 and digits != "0" and whole == digits:
        return "ambiguous"
    return "dot" if sep == "." else "comma"


def decimal_style(text: str) -> str | None:
    """The decimal convention a number written as text proves: `number_style` of its digits, 'dot' for 1.5e3,
    None when it is no number or shows no separator."""
    parsed = _number_core(text)
    return number_style(parsed[1]) if parsed else ("dot" if _SCI.fullmatch(text.strip()) else None)


def decimal_convention(cells: Iterable[tuple[Any, Any]], months: bool = True) -> tuple[str | None,
                                                                                    list[tuple[Any, Any]]]:
    """The decimal separator ('.', ',' or None: nothing shows it) that the text numbers among `cells` ((position,
    value) pairs, in reading order) prove, decided over all of them: one ambiguous 1.234 means nothing alone.
    When both conventions appear, None and the first (position, value) of each, in reading order. `months`: cells
    that read as months (2027.01) may be among them, and prove nothing."""
    first: dict[str, tuple[Any, Any]] = {}
    seen: dict[str, str | None] = {}
    for pos, v in cells:
        if not isinstance(v, str):
            continue
        if v not in seen:
            seen[v] = None if months and month_cell(v) is not None else decimal_style(v)
        style = seen[v]
        if style in ("dot", "comma") and style not in first:
            first[style] = (pos, v)
            if len(first) == 2:
                break
    if len(first) == 2:
        return None, list(first.values())
    return {"dot": ".", "comma": ","}.get(next(iter(first), ""), None), []


def parse_number(value: Any, decimal: str | None) -> float:
    """A budget number from a cell; `decimal` is the paste's decimal separator ('.' or ',', None if undecided)."""
    if isinstance(value, bool):
        raise NumberError("a number, not TRUE/FALSE")
    if isinstance(value, (int, float)):
        if not math.isfinite(float(value)):
            raise NumberError("a finite number")
        return float(value)
    if isinstance(value, (dt.datetime, dt.date)):
        raise NumberError("a number, not a date")
    if not isinstance(value, str):
        raise NumberError("a number")
    text = value.strip()
    if text.upper() in EXCEL_ERRORS:
        raise NumberError(f"a number, not the Excel error {text.upper()}")
    if _SCI.fullmatch(text):
        if not math.isfinite(float(text)):  # 1e999 overflows to infinity
            raise NumberError("a finite number")
        return float(text)
    parsed = _number_core(text)
    if parsed is None:
        if text.endswith("%"):
            raise NumberError("units or money, not a percentage")
        raise NumberError("a number like 1234, 1,234.50, (1,234) or -")
    sign, core = parsed
    style = number_style(core)
    if style == "ambiguous" and decimal is None:
        raise AmbiguousNumber("a number whose decimal separator is clear: 1234 or 1.234,00 / 1,234.00 (nothing in the "
                          "paste shows whether . or , is the decimal separator)")
    dec = decimal or ("," if style == "comma" else ".")
    thousands = "," if dec == "." else "."
    whole, _, frac = core.partition(dec)
    if dec in frac:
        raise NumberError(f"a number with one decimal separator {dec!r}")
    groups = re.split(r"[ ']|" + re.escape(thousands), whole) if whole else [""]
    if len(groups) > 1 and (not 1 <= len(groups[0]) <= 3 or any(len(g) != 3 for g in groups[1:])):
        raise NumberError(f"a number with thousands separators every 3 digits and {dec!r} as decimal separator")
    try:
        return sign * float("".join(groups) + ("." + frac if frac else ""))
    except ValueError:  # digits and spaces after the decimal separator: 1683.9 1
        raise NumberError("a number like 1234, 1,234.50, (1,234) or -") from None


def looks_numeric(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return True
    return isinstance(value, str) and value.strip() not in DASHES and (
        _number_core(value) is not None or bool(_SCI.fullmatch(value.strip())))
