"""CSV exports that are safe to open in Excel: no cell can become a formula (CSV/formula injection).

A text cell starting with = + - @ (or a tab / carriage return, which Excel strips before them) is prefixed with an
apostrophe, as OWASP recommends, so Excel shows it as text instead of evaluating it; so is such a character after a
line break, ';' or tab inside a text, where a reader using another delimiter than ',' starts a new cell. Numbers stay
numbers.
"""

from __future__ import annotations

import csv
import io
import math
import re
from pathlib import Path
from typing import Any

import pandas as pd

from snop_xl import contract as C
from snop_xl.errors import UsageError
from snop_xl.io.atomic import write_atomically
from snop_xl.io.base import BookIO
from snop_xl.io.parse import to_cell

_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")  # incl. full-width forms
#: Where a reader may start a new cell inside our text: a line break (a reader that does not honour quotes split by
#: another delimiter ends the row there) and the other delimiters Excel uses (';' in many locales, tab), which our
#: ','-separated file does not quote.
_BREAK_THEN_TRIGGER = re.compile("([\n\r\t;])(?=[" + re.escape("".join(_TRIGGERS)) + "])")


def neutralise(value: Any) -> Any:
    """The value to write in a CSV cell: text that Excel would read as a formula gets a leading apostrophe, at its
    start and after every line break or delimiter inside it (`_BREAK_THEN_TRIGGER`), so no reader finds a cell that
    starts a formula, whatever delimiter its locale uses."""
    if not isinstance(value, str):
        return value
    value = _BREAK_THEN_TRIGGER.sub("\\1'", value)
    return "'" + value if value.startswith(_TRIGGERS) else value


def _text(value: Any, dtype: str) -> Any:
    value = to_cell(value, dtype)
    if value is None:
        return ""
    if dtype == C.PERIOD:
        return value.strftime("%Y-%m")
    if dtype == C.DATE:
        return value.isoformat(sep=" ") if value.time() != value.min.time() else value.date().isoformat()
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ""
    return neutralise(value)


def table_csv(spec: C.Table, frame: pd.DataFrame) -> str:
    """CSV text of a typed frame of `spec` (History long: item, period, qty), every cell neutralised."""
    if spec.wide_periods:
        columns = [(c.key, c.header, c.dtype) for c in spec.columns] + \
                  [("period", "Period", C.PERIOD), ("qty", spec.wide_value.header, spec.wide_value.dtype)]
    else:
        columns = [(c.key, c.header, c.dtype) for c in spec.columns if c.key in frame.columns]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([neutralise(header) for _, header, _ in columns])
    for values in zip(*[frame[key].tolist() for key, _, _ in columns]):
        writer.writerow([_text(v, d) for v, (_, _, d) in zip(values, columns)])
    return out.getvalue()


def table_named(name: str) -> C.Table:
    """The table a user means by `name`: a table's name (DemandPlan, tblDemandPlan) or a sheet holding one table
    (Reconciliation); a review sheet or a sheet of several tables is refused naming the tables to choose from."""
    try:
        return C.table(name)
    except KeyError:
        pass
    sheet = next((s for s in C.SHEETS.values() if s.name.casefold() == str(name).strip().casefold()), None)
    if sheet is not None and len(sheet.tables) == 1:
        return sheet.tables[0]
    if sheet is not None and sheet.tables:
        raise UsageError(f"sheet {sheet.name} holds the tables {', '.join(t.name for t in sheet.tables)}: name one")
    if sheet is not None and sheet.name in C.REVIEW_SHEETS:
        raise UsageError(f"{sheet.name} is a review sheet (a grid, no table); its numbers are table "
                         f"{C.REVIEW_SHEETS[sheet.name]}")
    raise UsageError(f"no table {name!r}; the tables are {', '.join(C.TABLES)}")


def export_table(book: BookIO, table: str, target: str | Path | None) -> str:
    """Write table `table` of `book` as a safe CSV to `target` (atomically; None or '-': return the text only)."""
    spec = table_named(table)
    frame, _ = book.read_table(spec)
    text = table_csv(spec, frame)
    if target not in (None, "-"):
        write_text_atomic(Path(target), text)
    return text


def write_text_atomic(target: Path, text: str) -> None:
    """UTF-8 with BOM (Excel then reads accents right), written beside the target and renamed over it."""
    write_atomically(target, lambda tmp: tmp.write_text(text, encoding="utf-8-sig", newline=""))
