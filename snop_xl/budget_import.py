"""Import finance's budget from whatever they paste, into the contract's Budget table, or refuse precisely.

Where a budget comes from
- ``source=None``: the **BudgetPaste** sheet of the book (``contract.BUDGET_PASTE_SHEET``). Finance pastes their
  block there from cell A1, as it comes out of their model or ERP: no table, no fixed layout.
- a path to a ``.csv`` (any of , ; tab | as delimiter, UTF-8/UTF-16/Windows-1252) or to an ``.xlsx``/``.xlsm``
  (the sheet named BudgetPaste or Budget, else the only/active sheet; ``sheet=`` picks another).

What is understood
- months as columns (a header row of months, labels on the left, an optional Total column) or as rows (a column of
  months with one column per family and measure, or a long table family/item, month, units, revenue);
- title and notes rows above the header and notes below; month headers as dates, Excel serials or text
  (2027-01, Jan 2027, January-27, Jan-27, 01/2027, 1/1/2027 when the paste disambiguates day and month), or month
  names under a row of years as an Excel pivot table lays them out (2027 over Oct, Nov, Dec, then 2027 Total);
- numbers as text with thousands separators, currency symbols or codes, accounting negatives (1,234), trailing
  minus, '-' for zero, non-breaking spaces; the decimal convention is decided from the whole paste;
- family or item names that differ from Items only by case or spacing; one measure column (units / revenue, with
  synonyms) or the measure inside the label ("Garden units");
- total and subtotal rows/columns (Total, Grand total, Subtotal, "Garden total", a family row above its items,
  quarter / half-year / year columns or rows between the months: Q1 2027, H1, FY27): each is checked against what
  it sums (a Q or H the months since the previous subtotal of its level or above, so fiscal quarters work too)
  and is never imported as data; in a long table, a row whose month is Total / FY27 / Q1 (or blank beside
  'Grand total') sums its family's (or every) rows since its previous subtotal, a 'Total' row with a month that
  month.

Anything else is refused with every Problem found (sheet, cell, value, what was expected) and the book unchanged:
unknown names (closest Items names suggested), ambiguous dates or numbers, duplicates, blank or error cells,
months outside the budget window (the start of the cycle month's fiscal year to the end of the plan horizon,
``Settings.budget_months``) or missing between the first and last month, totals that do not add up.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import difflib
import io
import math
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from openpyxl.utils import get_column_letter

from . import contract as C
from .errors import Problem, SnopError, ValidationError
from .io.base import EXCEL_ERRORS, BookIO, is_blank, to_rows
from .safe_open import check_csv_file, check_workbook_file

if TYPE_CHECKING:
    from .inputs import Settings

UNITS, REVENUE = "units", "revenue"
MEASURES = (UNITS, REVENUE)
MAX_ROWS, MAX_COLS = 20_000, 400  # a budget paste is small; anything bigger is a wrong file
_EPOCH = dt.datetime(1899, 12, 30)
_SKIP_SCAN_ROWS = 60  # title/notes rows allowed above the header

_UNIT_WORDS = {"units", "unit", "qty", "quantity", "quantities", "volume", "volumes", "vol", "pcs", "pieces", "ea",
               "eaches"}
_REVENUE_WORDS = {"revenue", "revenues", "rev", "sales", "turnover", "amount", "value", "net sales", "gross sales",
                  "sales value", "income"}
_FAMILY_HEADERS = {"family", "families", "product family", "product group", "category", "group", "segment",
                   "product line", "family name"}
_ITEM_HEADERS = {"item", "items", "sku", "item code", "product", "product code", "article", "material", "part"}
_MEASURE_HEADERS = {"measure", "measures", "metric", "kpi", "type", "account", "line", "data", "key figure"}
_MONTH_HEADERS = {"month", "period", "date", "months", "periods"}
_VALUE_HEADERS = {"value", "amount", "budget", "number", "figure"}
_IGNORED_HEADERS = {"description", "desc", "comment", "comments", "note", "notes", "remark", "remarks", "source",
                    "uom", "unit of measure", "currency", "owner"}
_TOTAL_WORDS = {"total", "totals", "subtotal", "sub-total", "grand", "sum", "fy", "year", "ytd", "full year"}
_MONTHS = {m.lower(): i for i, m in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], start=1)}
_MONTHS.update({m.lower(): i for i, m in enumerate(
    ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
     "november", "december"], start=1)})
_MONTHS["sept"] = 9
_CURRENCY = r"(?:[$€£¥₹]|usd|eur|gbp|chf|jpy|cad|aud|sek|nok|dkk|kr)"
_CURRENCY_EDGE = re.compile(rf"^{_CURRENCY}\s*|\s*{_CURRENCY}$", re.IGNORECASE)
_CORE = re.compile(r"(?:\d[\d.,' ]*\d|\d|[.,]\d+)")
_SCI = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)[eE][+-]?\d+")
_DASHES = {"-", "–", "—", "−"}


# ---- the grid of pasted cells -------------------------------------------------------------------------------
@dataclass
class Grid:
    """Pasted cells as a list of rows, and where they sit, so every problem can name its cell."""

    sheet: str  # what Problems call the sheet: a sheet name, "[file.xlsx]Sheet" or "file.csv"
    rows: list[list[Any]]
    first_row: int = 1
    first_col: int = 1
    description: str = ""

    def cell(self, r: int, c: int) -> str:
        return f"{get_column_letter(self.first_col + c)}{self.first_row + r}"

    def get(self, r: int, c: int) -> Any:
        row = self.rows[r] if 0 <= r < len(self.rows) else []
        return row[c] if 0 <= c < len(row) else None

    @property
    def width(self) -> int:
        return max((len(r) for r in self.rows), default=0)


def _trim(rows: list[list[Any]], sheet: str) -> list[list[Any]]:
    """Normalise blanks to None and drop empty trailing rows/columns; refuse a paste too large to be a budget."""
    out = [[None if is_blank(v) else v for v in row] for row in rows]
    while out and all(v is None for v in out[-1]):
        out.pop()
    if len(out) > MAX_ROWS:
        raise ValidationError([Problem(sheet, f"A{MAX_ROWS + 1}", f"the paste has {len(out):,} rows",
                                       expected=f"a budget of at most {MAX_ROWS:,} rows")])
    width = max((max((i + 1 for i, v in enumerate(r) if v is not None), default=0) for r in out), default=0)
    if width > MAX_COLS:
        raise ValidationError([Problem(sheet, f"{get_column_letter(MAX_COLS + 1)}1",
                                       f"the paste has {width} columns", expected=f"at most {MAX_COLS} columns")])
    return [r[:width] + [None] * (width - len(r)) for r in out]


def grid_from_csv(path: str | Path) -> Grid:
    """Cells of a CSV file: encoding and delimiter detected, row/column numbers as Excel would show them."""
    path = Path(path)
    check_csv_file(path)
    data = path.read_bytes()
    text = _decode(data, path)
    delimiter = _sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        rows = [list(r) for r in reader]
    except csv.Error as exc:  # a cell of over 128 KB, a NUL character: not a budget someone typed
        raise ValidationError([Problem(path.name, f"A{reader.line_num}", f"line {reader.line_num} cannot be "
                                       f"read as CSV ({exc})", expected="a text file of rows of cells")]) from None
    return Grid(path.name, _trim(rows, path.name), description=f"{path.name} (CSV, {delimiter!r}-separated)")


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
        typed = sum(_looks_numeric(v) or month_cell(v) is not None for r in rows for v in r)
        score = (counts.count(mode) if mode > 1 else 0, typed, mode)
        if score > best_score:
            best, best_score = d, score
    return best


def grid_from_workbook(path: str | Path, sheet: str | None = None) -> Grid:
    """Values (last calculated, never recalculated) of one sheet of another workbook, opened safely."""
    from openpyxl import load_workbook

    path = Path(path)
    check_workbook_file(path)
    try:
        wb = load_workbook(path, read_only=True, data_only=True, keep_links=False)
    except Exception as exc:
        raise SnopError(f"{path.name}: cannot open as an Excel workbook ({type(exc).__name__}: {exc})") from None
    try:
        names = wb.sheetnames
        if sheet is not None and sheet not in names:
            raise SnopError(f"{path.name}: no sheet {sheet!r}; it has {', '.join(names)}")
        by_lower = {n.lower(): n for n in names}
        candidates = [sheet] if sheet else [by_lower[n] for n in (C.BUDGET_PASTE_SHEET.lower(), C.BUDGET.sheet.lower())
                                            if n in by_lower] + [wb.active.title]
        for sheet in candidates:  # the first of BudgetPaste, Budget, the active sheet that holds anything
            rows = []
            for row in wb[sheet].iter_rows(values_only=True):
                rows.append(list(row))
                if len(rows) > MAX_ROWS + 1:
                    break
            if any(not is_blank(v) for r in rows for v in r):
                break
    finally:
        wb.close()
    label = f"[{path.name}]{sheet}"
    return Grid(label, _trim(rows, label), description=f"{path.name}, sheet {sheet}")


def grid_from_book(book: BookIO) -> Grid:
    """What finance pasted on the book's BudgetPaste sheet.

    Formula cells give their last calculated value (BookIO.sheet_values, in every engine).
    """
    name = C.BUDGET_PASTE_SHEET
    rows = book.sheet_values(name)
    if rows is None:
        raise ValidationError([Problem(name, "A1", f"there is no {name} sheet",
                                       expected=f"a sheet {name} holding the pasted budget")])
    grid = Grid(name, _trim(rows, name), description=f"the {name} sheet")
    if not grid.rows:
        raise ValidationError([Problem(name, "A1", "nothing is pasted",
                                       expected="finance's budget pasted from cell A1 (or give a CSV/workbook)")])
    return grid


def read_source(book: BookIO, source: str | Path | None, sheet: str | None = None) -> Grid:
    if source is None:
        return grid_from_book(book)
    path = Path(source)
    if not path.exists():
        raise SnopError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt", ".tsv"):
        return grid_from_csv(path)
    if suffix in (".xlsx", ".xlsm", ".xltx", ".xltm"):
        return grid_from_workbook(path, sheet)
    raise SnopError(f"{path.name}: unsupported budget file type {suffix or '(none)'}; expected .csv, .xlsx or .xlsm")


# ---- cell values: text, months, numbers ---------------------------------------------------------------------
def norm_text(value: Any) -> str:
    """Case- and space-insensitive form of a name: NFKC (non-breaking spaces become spaces), collapsed, casefolded."""
    text = unicodedata.normalize("NFKC", str(value))
    return re.sub(r"\s+", " ", text).strip().casefold()


def _words(value: Any) -> str:
    return re.sub(r"[^\w\s$€£¥-]+", " ", norm_text(value)).replace("_", " ").strip()


def _year(text: str) -> int | None:
    year = int(text)
    if len(text) == 2:
        year += 2000
    return year if 1990 <= year <= 2100 else None


def _period(year: int | None, month: int) -> pd.Period | None:
    if year is None or not 1 <= month <= 12:
        return None
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
_NAME_Y = re.compile(r"([a-z]+)\.?\s*[-/ ',.’]?\s*(\d{4}|\d{2})")
_Y_NAME = re.compile(r"(\d{4})\s*[-/ ]?\s*([a-z]+)\.?")
_D_NAME_Y = re.compile(r"(\d{1,2})\s*[-/ .]\s*([a-z]+)\.?\s*[-/ .,]\s*(\d{4})")
_NAME_D_Y = re.compile(r"([a-z]+)\.?\s+(\d{1,2}),?\s+(\d{4})")
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
            month = _MONTHS.get(m.group(name_group))
            p = _period(_year(m.group(year_group)), month) if month else None
            return MonthCell(p) if p else None
    return None


class NumberError(ValueError):
    """A value cell that is not a number; the message says what was expected."""


class AmbiguousNumber(NumberError):
    """A number like 1.234 that reads 1234 or 1.234 and nothing in the paste says which."""


def _number_core(text: str) -> tuple[int, str] | None:
    """(sign, digits-and-separators) of a number written as text, or None if it is not one. '-' alone is zero."""
    s = unicodedata.normalize("NFKC", text).replace("\u2212", "-").strip()
    if s in _DASHES:
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
    if s in _DASHES:
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
    return sign * float("".join(groups) + ("." + frac if frac else ""))


def _looks_numeric(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return True
    return isinstance(value, str) and value.strip() not in _DASHES and (
        _number_core(value) is not None or bool(_SCI.fullmatch(value.strip())))


# ---- names --------------------------------------------------------------------------------------------------
@dataclass
class Names:
    """Families and items of the book's Items sheet, looked up case- and space-insensitively."""

    families: dict[str, str]  # normalised -> as in Items
    items: dict[str, tuple[str, str]]  # normalised -> (item, family)
    family_order: list[str]

    @classmethod
    def from_items(cls, items: pd.DataFrame) -> "Names":
        families: dict[str, str] = {}
        codes: dict[str, tuple[str, str]] = {}
        for item, family in zip(items.get("item", []), items.get("family", [])):
            if is_blank(item) or is_blank(family):
                continue
            families.setdefault(norm_text(family), str(family).strip())
            codes.setdefault(norm_text(item), (str(item).strip(), str(family).strip()))
        return cls(families, codes, list(dict.fromkeys(families.values())))

    def resolve(self, text: Any) -> tuple[str, str | None] | None:
        """(family, item or None) a label names, or None."""
        key = norm_text(text)
        if key in self.families:
            return self.families[key], None
        if key in self.items:
            item, family = self.items[key]
            return family, item
        return None

    def suggest(self, text: Any) -> str:
        known = list(self.families.values()) + [i for i, _ in self.items.values()]
        by_norm = {norm_text(k): k for k in known}
        close = difflib.get_close_matches(norm_text(text), list(by_norm), n=3, cutoff=0.6)
        hint = f" (closest: {', '.join(repr(by_norm[c]) for c in close)})" if close else ""
        return f"a family or item from the Items sheet{hint}"


def measure_of(value: Any) -> str | None:
    """units / revenue from a measure label and its synonyms (qty, volume, sales, net sales, amount ...)."""
    words = _words(value)
    tokens = set(words.split())
    if tokens & _UNIT_WORDS or words in _UNIT_WORDS:
        return UNITS
    if tokens & _REVENUE_WORDS or words in _REVENUE_WORDS or tokens & {"$", "€", "£", "usd", "eur", "gbp"}:
        return REVENUE
    return None


def split_measure(value: Any) -> tuple[str, str | None]:
    """("garden", "units") from labels like "Garden units", "Garden - Revenue ($)", "Units: Garden"."""
    text = _words(value)
    phrases = sorted(_UNIT_WORDS | _REVENUE_WORDS, key=len, reverse=True)
    for phrase in phrases:
        for pattern in (rf"^(.*?)[\s\-:|/]*\b{re.escape(phrase)}\b(?:\s*(?:\$|€|£|usd|eur|gbp))?$",
                        rf"^{re.escape(phrase)}\b[\s\-:|/]*(.+)$"):
            if m := re.match(pattern, text):
                rest = m.group(1).strip(" -:|/")
                return rest, measure_of(phrase)
    return text, None


def _is_total(name: str) -> tuple[bool, str]:
    """(is a total label, the scope it names: '' for everything)."""
    tokens = name.replace("-", " ").split()
    if not tokens or not (set(tokens) & _TOTAL_WORDS or re.fullmatch(r"fy\s?\d{2,4}", name)):
        return False, ""
    scope = " ".join(t for t in tokens if t not in _TOTAL_WORDS and not re.fullmatch(r"fy\d{2,4}|\d{2,4}", t))
    return True, scope


_QUARTER = re.compile(r"(?:q|qtr|quarter)\s*[1-4]|[1-4]\s*q(?:tr)?|[1-4](?:st|nd|rd|th)\s*(?:quarter|qtr)")
_HALF = re.compile(r"(?:h|hy|half|half year)\s*[12]|[12]\s*h|[12](?:st|nd)\s*half|(?:first|second)\s*half")
_YEARISH = re.compile(r"fy\s?\d{2,4}|fy|\d{2}|\d{4}")


def subtotal_level(text: Any) -> int:
    """How much a total heading sums: 1 a quarter (Q1, Qtr 2 2027, 3Q27), 2 a half (H1, 1st half), 3 a year (FY27,
    2027 Total, Full year), 4 everything (Total, Grand total); 0 when `text` is no total heading."""
    words = _words(text).replace("-", " ").replace("/", " ")
    tokens = words.split()
    rest = " ".join(t for t in tokens if t not in _TOTAL_WORDS and not _YEARISH.fullmatch(t))
    if _QUARTER.fullmatch(rest) or re.fullmatch(r"[1-4]q\d{2}(?:\d{2})?", words.replace(" ", "")):
        return 1
    if _HALF.fullmatch(rest):
        return 2
    if not _is_total(words)[0]:
        return 0
    return 3 if {"year", "fy", "ytd"} & set(tokens) or any(_YEARISH.fullmatch(t) for t in tokens) else 4


def subtotal_spans(sequence: list[tuple[Any, "pd.Period | int"]]) -> dict[Any, frozenset]:
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


def _month_names(row: list[Any]) -> dict[int, int]:
    """Column -> month number of the cells of `row` that are a month's name alone (Jan, Sept., October)."""
    return {c: _MONTHS[n] for c, v in enumerate(row)
            if isinstance(v, str) and (n := norm_text(v).rstrip(".")) in _MONTHS}


# ---- parsing ------------------------------------------------------------------------------------------------
Key = tuple[str, "str | None", str]  # family, item (None: family level), measure


@dataclass
class Entry:
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
    shape: str = ""
    entries: list[Entry] = field(default_factory=list)
    totals: list[TotalCheck] = field(default_factory=list)
    months: dict[pd.Period, str] = field(default_factory=dict)  # month -> its header cell
    key_cells: dict[Key, str] = field(default_factory=dict)  # where each family/item/measure is labelled
    ignored: list[str] = field(default_factory=list)


class _Reader:
    """Turns a Grid into entries and total checks, collecting every Problem rather than stopping at the first."""

    def __init__(self, grid: Grid, names: Names):
        self.g = grid
        self.names = names
        self.problems: list[Problem] = []
        self.out = Parsed()
        self.decimal = self._decimal_convention()
        self.ambiguous: list[tuple[int, int]] = []  # cells like 1.234: one problem for all of them, in `finish`
        self.month_cells: dict[tuple[int, int], MonthCell] = {}
        self.header_row = 0

    def problem(self, r: int, c: int, message: str, value: Any = None, expected: str = "") -> None:
        self.problems.append(Problem(self.g.sheet, self.g.cell(r, c), message, value, expected))

    # -- conventions decided over the whole paste
    def _decimal_convention(self) -> str | None:
        first: dict[str, tuple[int, int, str]] = {}
        for r, row in enumerate(self.g.rows):
            for c, v in enumerate(row):
                if not isinstance(v, str) or month_cell(v) is not None:
                    continue
                parsed = _number_core(v)
                style = number_style(parsed[1]) if parsed else ("dot" if _SCI.fullmatch(v.strip()) else None)
                if style in ("dot", "comma"):
                    first.setdefault(style, (r, c, v))
        if len(first) == 2:
            (s1, (r1, c1, v1)), (s2, (r2, c2, v2)) = sorted(first.items(), key=lambda kv: kv[1][:2])
            self.problem(r2, c2, f"numbers use both decimal conventions ({self.g.cell(r1, c1)} has {v1!r})", v2,
                         "one convention in the whole paste: 1,234.50 or 1.234,50")
            return None
        return {"dot": ".", "comma": ","}.get(next(iter(first), ""), None)

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
            numbers = [c for c, v in enumerate(row) if c not in months and _looks_numeric(v)]
            if numbers:
                self.out.shape = "months as rows"
                self.rows_shape(r, min(months))
                return self.out
            below = self.g.get(self._next_row(r), min(months))
            # one month heading a column is a header when an amount sits below it ('-' is finance's zero)
            if len(months) >= 2 or _looks_numeric(below) or (isinstance(below, str) and below.strip() in _DASHES):
                self.out.shape = "months as columns"
                self.wide(r, months)
                return self.out
            self.out.ignored.append(self.g.cell(r, 0))
        for r, row in enumerate(self.g.rows[:_SKIP_SCAN_ROWS]):  # the usual cause: Jan, Feb ... with no year
            names = list(_month_names(row))
            if len(names) >= 2:
                self.problem(r, names[0], "month names without a year", self.g.get(r, names[0]),
                             "the year in every month header (Jan 2027, 2027-01), or each year in the row just "
                             "above, over its first month, as a pivot table lays it out")
                return self.out
        self.problem(0, 0, "no months found in the paste",
                     expected="a header row of months (2027-01, Jan 2027, ...) or a column of months, "
                              f"within the first {_SKIP_SCAN_ROWS} rows")
        return self.out

    def _months_under_years(self, r: int) -> dict[int, MonthCell]:
        """Month names without a year under a row of years, as an Excel pivot table grouped by years and months
        lays them out (2027 over Jan ... Dec, then '2027 Total'): each month takes the year to its left in the row
        above. The year row's subtotal headings ('2027 Total', 'Grand Total') are copied down into the blank
        cells of the month row, so the header reads as one row. {} when row `r` is not such a header."""
        row = self.g.rows[r]
        names = _month_names(row)
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
            elif _words(text) not in _IGNORED_HEADERS:
                self.problem(h, c, "column header not understood", text,
                             "a month with its year (2027-01, Jan 2027, January-27, a date), a quarter (Q1 2027) "
                             "or Total")
        total_cols = subtotal_spans(order)
        roles = self._label_roles(h, range(first_month))
        for c, role in roles.items():  # a column of numbers left of the months: a month header we could not read
            values = [v for r in range(h + 1, len(self.g.rows)) if (v := self.g.get(r, c)) is not None]
            if role == "ignore" and _words(header[c] or "") not in _IGNORED_HEADERS and values \
                    and sum(map(_looks_numeric, values)) * 2 > len(values):
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
            head = _words(self.g.get(h, c) or "")
            values = [v for r in range(h + 1, len(self.g.rows)) if (v := self.g.get(r, c)) is not None]
            resolved = [self.names.resolve(v) or self.names.resolve(split_measure(v)[0]) for v in values]
            fam = sum(1 for x in resolved if x and x[1] is None)
            itm = sum(1 for x in resolved if x and x[1] is not None)
            meas = sum(1 for v in values if measure_of(v) and not split_measure(v)[0])  # "units", not "Garden units"
            if head in _FAMILY_HEADERS:
                roles[c] = "family"
            elif head in _ITEM_HEADERS:
                roles[c] = "item"
            elif (fam + itm) * 2 > len(values):
                roles[c] = "label"
            elif head in _MEASURE_HEADERS or (values and meas * 2 > len(values) and meas > fam + itm):
                roles[c] = "measure"
            elif head in _IGNORED_HEADERS or not values:
                roles[c] = "ignore"
            elif fam + itm > 0 or not any(r in ("family", "item", "label") for r in roles.values()):
                roles[c] = "label"
            else:
                roles[c] = "ignore"
        return roles

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
                name_text, measure = split_measure(raw_label) if measure_col is None else (_words(raw_label), None)
                if measure_col is not None:
                    measure = measure_of(measure_text)
                target = self.names.resolve(name_text) or self.names.resolve(raw_label)
                label_text = name_text
            if target is None:
                is_total, scope = _is_total(label_text or "")
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
                self.problem(r, label_c, f"{_key_text(key)} appears twice (also row {self.g.first_row + seen[key]})",
                             raw_label, "one row per family (or item) and measure")
                continue
            seen[key] = r
            group.append(key)
            self.out.key_cells[key] = self.g.cell(r, label_c)
            for c, period in col_period.items():
                v = self.parse_value(r, c, f"{_key_text(key)} {period}")
                if v is not None:
                    self.out.entries.append(Entry(key, period, v, self.g.cell(r, c)))
            for c, months in total_cols.items():
                what = f"{str(self.g.get(h, c)).strip()} of {_key_text(key)}"
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
            elif v is None and any(isinstance(x, str) and subtotal_level(x) == 4 and not _is_total(_words(x))[1]
                                   for c, x in enumerate(self.g.rows[r]) if c != month_col):
                total_rows[r] = 4  # 'Grand total' in another column and no month: the total of everything
            elif any(_looks_numeric(x) or x in EXCEL_ERRORS for c, x in enumerate(self.g.rows[r]) if c != month_col):
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
            is_total, scope = _is_total(name)
            if target is None and is_total and measure and not scope:
                total_cols.append((c, measure))
                continue
            if _words(text) in _IGNORED_HEADERS:
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
                self.problem(h, c, f"{_key_text(key)} appears twice (also {self.out.key_cells[key]})", text,
                             "one column per family (or item) and measure")
                continue
            self.out.key_cells[key] = self.g.cell(h, c)
            columns[c] = key
        for r, period in row_period.items():
            for c, key in columns.items():
                if (v := self.parse_value(r, c, f"{_key_text(key)} {period}")) is not None:
                    self.out.entries.append(Entry(key, period, v, self.g.cell(r, c)))
            for c, measure in total_cols:
                if self.g.get(r, c) is not None and (v := self.parse_value(r, c, f"total {period}")) is not None:
                    self.out.totals.append(TotalCheck(f"{head[c]} {period}", measure, self.g.cell(r, c), v,
                                                      periods=frozenset([period])))
        for r, months in total_spans.items():
            for c, key in columns.items():
                what = f"{str(self.g.get(r, month_col)).strip()} of {_key_text(key)}"
                if self.g.get(r, c) is not None and (v := self.parse_value(r, c, what)) is not None:
                    self.out.totals.append(TotalCheck(what, key[2], self.g.cell(r, c), v, keys=frozenset([key]),
                                                      periods=months))

    def _long_roles(self, h: int, month_col: int) -> dict[int, str]:
        roles: dict[int, str] = {}
        for c in range(self.g.width):
            if c == month_col:
                continue
            head = _words(self.g.get(h, c) or "")
            values = [v for r in range(h + 1, len(self.g.rows)) if (v := self.g.get(r, c)) is not None]
            names = sum(1 for v in values if self.names.resolve(v))
            if head in _FAMILY_HEADERS:
                roles[c] = "family"
            elif head in _ITEM_HEADERS:
                roles[c] = "item"
            elif head in _MEASURE_HEADERS:
                roles[c] = "measure"
            elif head in _VALUE_HEADERS:
                roles[c] = "value"
            elif measure_of(head) and not split_measure(head)[0]:  # a header that is only a measure: "Units"
                roles[c] = measure_of(head) or ""
            elif values and names * 2 > len(values) and not any(_looks_numeric(v) for v in values):
                roles[c] = "label"
            else:
                roles[c] = "other"
        if "label" in roles.values() and not any(r in ("family", "item") for r in roles.values()):
            roles[next(c for c, r in roles.items() if r == "label")] = "family"
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
            is_total, scope = _is_total(_words(raw)) if target is None and raw is not None else (False, "")
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
                    self.problem(r, label_c, f"{_key_text(key)} {period} appears twice (also row "
                                 f"{self.g.first_row + seen[(key, period)]})", raw, "one row per family and month")
                    continue
                seen[(key, period)] = r
                self.out.key_cells.setdefault(key, self.g.cell(r, label_c))
                if (v := self.parse_value(r, c, f"{_key_text(key)} {period}")) is not None:
                    self.out.entries.append(Entry(key, period, v, self.g.cell(r, c)))

    def _long_total(self, r: int, label_c: int, raw: Any, target: tuple[str, str | None] | None,
                    pairs: list[tuple[str | None, int]], months: frozenset) -> None:
        """A total row of a long table (`target` None: of everything), checked against the entries it sums."""
        if target is None and raw is not None:
            is_total, scope = _is_total(_words(raw))
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


def _key_text(key: Key) -> str:
    return f"{key[1] or key[0]} {key[2]}"


# ---- checks over the whole paste ----------------------------------------------------------------------------
def _check_months(parsed: Parsed, sheet: str, settings: Settings | None) -> list[Problem]:
    from .inputs import budget_month_problems

    out = []
    months = sorted(parsed.months)
    if not months:
        return out
    if settings is not None:
        out += budget_month_problems(settings, sheet, ((p, parsed.months[p]) for p in months))
    full = pd.period_range(months[0], months[-1], freq="M")
    missing = [p for p in full if p not in parsed.months]
    if missing:
        after = next(p for p in months if p > missing[0])
        out.append(Problem(sheet, parsed.months[after], f"month {missing[0]} is missing"
                           + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""),
                           str(after), f"every month from {months[0]} to {months[-1]}"))
    return out


def _tolerance(total: float) -> float:
    """Pasted totals are often rounded to whole units: accept half a unit (and float noise on big sums)."""
    return 0.5 + 1e-9 * abs(total)


def _check_completeness(parsed: Parsed, entries: list[Entry], sheet: str) -> list[Problem]:
    """Every family (or item) has units and revenue for every month of the paste."""
    out = []
    have: dict[Key, set[pd.Period]] = {}
    for e in entries:
        have.setdefault(e.key, set()).add(e.period)
    months = set(parsed.months)
    for key, periods in have.items():
        if periods != months:
            gap = sorted(months - periods)
            out.append(Problem(sheet, parsed.key_cells.get(key, ""), f"{_key_text(key)} has no value for "
                               f"{', '.join(map(str, gap[:3]))}" + (" ..." if len(gap) > 3 else ""),
                               expected="a value for every month of the budget"))
        other = (key[0], key[1], REVENUE if key[2] == UNITS else UNITS)
        if other not in have:
            out.append(Problem(sheet, parsed.key_cells.get(key, ""), f"{key[1] or key[0]} has {key[2]} but no "
                               f"{other[2]}", expected=f"a {other[2]} row for {key[1] or key[0]} as well"))
    return out


def _fold_levels(parsed: Parsed, sheet: str) -> tuple[list[Entry], list[Problem]]:
    """Where a family has both its own rows and item rows, the family rows are subtotals: check, then drop them."""
    by_family_level: dict[tuple[str, str, pd.Period], Entry] = {}
    item_sums: dict[tuple[str, str, pd.Period], float] = {}
    for e in parsed.entries:
        family, item, measure = e.key
        if item is None:
            by_family_level[(family, measure, e.period)] = e
        else:
            k = (family, measure, e.period)
            item_sums[k] = item_sums.get(k, 0.0) + e.value
    families_with_items = {k[0] for k in item_sums}
    problems = []
    for (family, measure, period), e in by_family_level.items():
        if family not in families_with_items:
            continue
        expected = item_sums.get((family, measure, period), 0.0)
        if abs(e.value - expected) > _tolerance(expected):
            problems.append(Problem(sheet, e.cell, f"{family} {measure} {period} is not the sum of its items "
                                    f"({expected:,.2f})", e.value,
                                    "a family row equal to the sum of the item rows below it, or only one level"))
    kept = [e for e in parsed.entries if e.key[1] is not None or e.key[0] not in families_with_items]
    return kept, problems


def _check_totals(parsed: Parsed, entries: list[Entry], sheet: str) -> list[Problem]:
    out = []
    for t in parsed.totals:
        total = sum(e.value for e in entries if e.key[2] == t.measure
                    and (t.family is None or e.key[0] == t.family)
                    and (t.keys is None or e.key in t.keys or (e.key[1] is not None and (e.key[0], None, e.key[2])
                                                               in t.keys))
                    and (t.periods is None or e.period in t.periods))
        if abs(total - t.value) > _tolerance(total):
            out.append(Problem(sheet, t.cell, f"{t.label} does not add up: the rows sum to {total:,.2f}", t.value,
                               f"{total:,.2f}"))
    return out


# ---- the import ---------------------------------------------------------------------------------------------
@dataclass
class BudgetSummary:
    """What was understood from the paste, shown to the user before the Budget table is replaced."""

    source: str
    shape: str
    level: str
    frame: pd.DataFrame  # the normalised Budget rows (contract keys)
    totals_checked: int
    ignored: list[str]
    replaced_rows: int
    horizon: str
    applied: bool = False

    @property
    def rows(self) -> int:
        return len(self.frame)

    @property
    def months(self) -> list[pd.Period]:
        return sorted(self.frame["period"].unique()) if len(self.frame) else []

    def totals(self) -> dict[str, float]:
        return {m: float(self.frame[m].sum()) for m in MEASURES}

    def lines(self) -> list[str]:
        months = self.months
        by_family = self.frame.groupby("family", sort=False)[list(MEASURES)].sum()
        out = [f"Budget from {self.source}: {self.shape}, by {self.level}",
               f"  {self.rows} rows; {len(months)} months {months[0]} to {months[-1]}; {len(by_family)} families"
               if months else "  no rows",
               f"  total units {self.totals()[UNITS]:,.0f}; total revenue {self.totals()[REVENUE]:,.2f}"]
        out += [f"    {family:<24} units {row[UNITS]:>14,.0f}   revenue {row[REVENUE]:>16,.2f}"
                for family, row in by_family.iterrows()]
        out.append(f"  {self.totals_checked} total/subtotal figure(s) checked and not imported"
                   if self.totals_checked else "  no total rows found")
        if self.ignored:
            out.append(f"  ignored title/note rows at {', '.join(self.ignored[:8])}"
                       + (" ..." if len(self.ignored) > 8 else ""))
        out.append(f"  {self.horizon}")
        verb = "replaced" if self.applied else "would replace"
        out.append(f"  {verb} the Budget table ({self.replaced_rows} rows now)")
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())


def read_budget(book: BookIO, grid: Grid) -> BudgetSummary:
    """Understand `grid` against the book's Items and Settings; raise ValidationError listing every problem."""
    from .inputs import parse_settings

    items, item_problems = book.read_table(C.ITEMS)
    names = Names.from_items(items)
    if not names.families:
        raise ValidationError(item_problems + [Problem(C.ITEMS.sheet, "A2", "Items has no item with a family",
                                                       expected="the item master filled before the budget")])
    settings_frame, _ = book.read_table(C.SETTINGS_TABLE)
    settings, _ = parse_settings(settings_frame)
    reader = _Reader(grid, names)
    parsed = reader.read()
    problems = reader.finish()
    problems += _check_months(parsed, grid.sheet, settings)
    entries, fold_problems = _fold_levels(parsed, grid.sheet)
    if not problems and not entries:
        where = parsed.months[min(parsed.months)] if parsed.months else "A1"
        problems.append(Problem(grid.sheet, where, "no budget figures found", expected="rows of units and revenue "
                                "per family (or item), one figure per month"))
    if not problems:  # completeness and sums only mean something once every cell was understood
        problems += _check_completeness(parsed, entries, grid.sheet)
    if not problems:
        problems += fold_problems + _check_totals(parsed, entries, grid.sheet)
    if problems:
        raise ValidationError(problems)
    frame = _to_frame(entries, names)
    old, _ = book.read_table(C.BUDGET)
    level = "item" if frame["item"].notna().all() else "family" if frame["item"].isna().all() else \
        "family and item"
    window = settings.budget_months if settings is not None else None
    where = f"within the fiscal year and plan horizon {window[0]} to {window[-1]}" if window is not None else \
        "months NOT checked against the plan horizon (Settings has no valid cycle month)"
    return BudgetSummary(grid.description or grid.sheet, parsed.shape, level, frame,
                         len(parsed.totals) + sum(1 for e in parsed.entries if e not in entries), parsed.ignored,
                         len(old), where)


def _to_frame(entries: list[Entry], names: Names) -> pd.DataFrame:
    long = pd.DataFrame([(e.key[0], e.key[1], e.period, e.key[2], e.value) for e in entries],
                        columns=["family", "item", "period", "measure", "value"])
    long["item"] = long["item"].astype(object).where(long["item"].notna(), "")
    wide = long.pivot_table(index=["family", "item", "period"], columns="measure", values="value",
                            aggfunc="sum", sort=False).reset_index()
    order = {f: i for i, f in enumerate(names.family_order)}
    wide = wide.assign(_f=wide["family"].map(order)).sort_values(["_f", "item", "period"]).drop(columns="_f")
    frame = pd.DataFrame({
        "family": wide["family"].astype(object).tolist(),
        "item": [None if i == "" else i for i in wide["item"]],
        "period": pd.PeriodIndex(wide["period"], freq="M"),
        UNITS: wide[UNITS].astype(float).to_numpy(),
        REVENUE: wide[REVENUE].astype(float).to_numpy(),
    })
    return frame.reset_index(drop=True)


def import_budget(book: BookIO, source: str | Path | None = None, *,
                  confirm: Callable[[BudgetSummary], bool] | None = None, sheet: str | None = None) -> BudgetSummary:
    """Replace the book's Budget table by finance's budget from `source` (None: the BudgetPaste sheet).

    The summary of what was understood is handed to `confirm` before anything changes; if it returns False the
    book is left as it was. On any problem a ValidationError lists them all and the book is unchanged. The
    caller saves the book (the CLI does so atomically).
    """
    summary = read_budget(book, read_source(book, source, sheet))
    if confirm is not None and not confirm(summary):
        return summary
    write_budget(book, summary.frame)
    book.log("import-budget", f"Budget imported from {summary.source}: {summary.rows} rows, "
             f"{len(summary.months)} months, units {summary.totals()[UNITS]:,.0f}, "
             f"revenue {summary.totals()[REVENUE]:,.2f}", location=f"{C.BUDGET.sheet}!A1")
    summary.applied = True
    return summary


def write_budget(book: BookIO, frame: pd.DataFrame) -> None:
    """Write the Budget table whole.

    Budget is a user-owned *input*, so ``BookIO.write_table`` refuses it. This is the one place allowed to write it,
    through the low-level ``write_rows``: the user asked for the import, saw its summary, and every cell of the new
    table was validated above. Nothing else in the engine may write an input table.
    """
    book.write_rows(C.BUDGET, to_rows(C.BUDGET, frame))
