"""Recalculate a workbook in a real spreadsheet engine (LibreOffice headless), SNOP_* functions included, and read
the computed values back: how the numbers are checked without Excel (docs/excel.md, "Checking the numbers without
Excel").

LibreOffice runs with a private profile built by scripts/libreoffice_bridge/profile.py: it recalculates every
formula on load, ignores the workbook's VBA, and resolves each SNOP_* name to a Basic function that calls
`call_udf` below through the Python script provider. `call_udf` hands the arguments to `udfs.functions` as
xlwings hands Excel's (ranges as lists of rows, blanks as None), so a cell shows here what it shows in Excel.

The book is copied first and LibreOffice's saved file is only read: LibreOffice rewrites the whole package on
save (VBA, ribbon, styles), so it is never handed back as the user's workbook.
"""

from __future__ import annotations

import functools
import importlib.util
import math
import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from openpyxl import load_workbook
from openpyxl.utils import range_boundaries
from openpyxl.utils.cell import (
    column_index_from_string,
    coordinate_from_string,
    get_column_letter,
)

from snop_xl.build.vba import decorated_udfs
from snop_xl.errors import SnopError
from snop_xl.io.safe_open import check_workbook_file, existing_file, load_safely

ROOT = Path(__file__).resolve().parents[2]
BRIDGE = ROOT / "scripts" / "libreoffice_bridge"
#: What the Basic wrappers pass for an optional argument left out (bridge.bas SNOP_MISSING).
MISSING = "<snop-xl:missing>"
PREFIX = "#SNOP! "  # as udfs.cells.PREFIX; not imported, so that a broken udfs package still gets a message
TIMEOUT_S = 300

SheetValues = list[list[Any]]


# ---- LibreOffice's side: one SNOP_* call -------------------------------------------------------------------------

@functools.cache
def _udf_args() -> dict[str, list[dict[str, Any]]]:
    """Function name -> its xlwings argument declarations (name, optional default, options such as ndim)."""

    return {f.__xlfunc__["name"]: f.__xlfunc__["args"] for f in decorated_udfs().FUNCTIONS}


def call_udf(name: str, args: tuple[Any, ...]) -> Any:
    """What the cell ``=name(args...)`` shows, given LibreOffice's arguments: a number, a text or a tuple of rows.

    LibreOffice gives a range as a tuple of row tuples (blank cells None, whole numbers sometimes int) and a single
    cell as its value; xlwings gives a range declared ``ndim=2`` as a list of rows and any other argument as a
    value (one cell) or a list (one row or column). A left-out optional argument takes the function's default.
    """
    try:
        import udfs.functions as functions

        declared = _udf_args()
        if name not in declared:
            return PREFIX + f"{name} is not a snop-xl worksheet function"
        values = []
        for spec, value in zip(declared[name], args):
            if isinstance(value, str) and value == MISSING:
                values.append(spec.get("optional"))
            elif spec["options"].get("ndim") == 2:
                values.append(_rows(value))
            else:
                values.append(_plain(value))
        return _to_libreoffice(getattr(functions, name)(*values))
    except Exception as exc:  # noqa: BLE001 - the cell says why, in one line; never a traceback
        return PREFIX + f"{name}: {type(exc).__name__}: {' '.join(str(exc).split())}"


def _value(v: Any) -> Any:
    return float(v) if isinstance(v, int) and not isinstance(v, bool) else v


def _rows(value: Any) -> SheetValues:
    if isinstance(value, (tuple, list)):
        return [[_value(v) for v in row] for row in value]
    return [[_value(value)]]


def _plain(value: Any) -> Any:
    if not isinstance(value, (tuple, list)):
        return _value(value)
    rows = _rows(value)
    if len(rows) == 1 and len(rows[0]) == 1:
        return rows[0][0]
    if len(rows) == 1:
        return rows[0]
    if all(len(r) == 1 for r in rows):
        return [r[0] for r in rows]
    return rows


def _to_libreoffice(result: Any) -> Any:
    """A function's answer as Basic receives it: scalars, or a tuple of equal-length row tuples."""
    if isinstance(result, (list, tuple)):
        if any(isinstance(r, (list, tuple)) for r in result):
            rows = [list(r) if isinstance(r, (list, tuple)) else [r] for r in result]
        else:
            rows = [list(result)] if result else []  # a flat list is one row, as xlwings writes it
        if not rows:
            return None
        width = max(len(r) for r in rows)
        return tuple(tuple(_scalar(v) for v in r) + (None,) * (width - len(r)) for r in rows)
    return _scalar(result)


def _scalar(v: Any) -> Any:
    if v is None or isinstance(v, str):
        return v
    if isinstance(v, bool) or type(v).__name__ == "bool_":
        return bool(v)
    try:
        number = float(v)
    except (TypeError, ValueError):
        return str(v)
    return None if math.isnan(number) else number


# ---- this side: run LibreOffice over a copy ----------------------------------------------------------------------

def _bridge() -> ModuleType:
    """scripts/libreoffice_bridge/profile.py (a source-checkout tool, not part of the installed package)."""
    path = BRIDGE / "profile.py"
    if not path.exists():
        raise SnopError(f"recalc needs a source checkout of snop-xl: {path} not found")
    spec = importlib.util.spec_from_file_location("snop_libreoffice_bridge", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def unavailable() -> str | None:
    """Why recalculation cannot run on this machine (what to install), or None when it can."""
    try:
        return _bridge().missing_requirements()
    except SnopError as exc:
        return str(exc)


def recalc_file(book_path: str | Path, out_dir: str | Path) -> Path:
    """Recalculate a copy of `book_path` in LibreOffice with the SNOP_* bridge; the path of LibreOffice's saved
    copy under `out_dir` (to read values from, never to give back as the user's workbook)."""

    book = existing_file(book_path, "workbook")
    check_workbook_file(book)  # zip bombs, renamed or encrypted files: refused before LibreOffice sees them
    problem = unavailable()
    if problem:
        raise SnopError(f"cannot recalculate {book.name}: {problem}")
    out = Path(out_dir).resolve()
    source, saved = out / "source", out / "recalculated"
    for folder in (source, saved):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
    copy = source / book.name
    shutil.copyfile(book, copy)
    bridge = _bridge()
    profile = bridge.build_profile(out / "profile")
    cmd = [bridge.soffice(), f"-env:UserInstallation={profile.as_uri()}", "--headless", "--norestore",
           "--convert-to", "xlsx", "--outdir", str(saved), str(copy)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S,
                              env={**os.environ, "SNOP_XL_SYS_PATH": os.pathsep.join(bridge.environment_paths())})
    except subprocess.TimeoutExpired:
        raise SnopError(f"LibreOffice did not finish recalculating {book.name} within {TIMEOUT_S} s") from None
    result = saved / f"{copy.stem}.xlsx"
    if done.returncode != 0 or not result.exists():
        raise SnopError(f"LibreOffice could not recalculate {book.name} (exit {done.returncode}): "
                        f"{' '.join((done.stderr or done.stdout).split())[-500:]}")
    return result


def read_values(path: str | Path) -> dict[str, SheetValues]:
    """Every sheet's cached values as rows (openpyxl data_only; error cells read as their text, e.g. '#NAME?')."""

    wb = load_workbook(path, data_only=True)
    try:
        return {ws.title: [list(row) for row in ws.iter_rows(values_only=True)] for ws in wb.worksheets}
    finally:
        wb.close()


def recalc(book_path: str | Path, out_dir: str | Path) -> dict[str, SheetValues]:
    """Sheet name -> values grid (row 1 first, column A first) of `book_path` recalculated by LibreOffice, SNOP_*
    functions computed by this environment's engine. `book_path` is not modified; `out_dir` keeps the copy, the
    LibreOffice profile and LibreOffice's saved file."""
    return read_values(recalc_file(book_path, out_dir))


def formula_cells(book_path: str | Path) -> dict[str, list[tuple[str, str]]]:
    """Sheet -> (cell, formula) of every formula cell, array formulas expanded over their range (the formula text
    on the first cell, '{A1:B2}' on the others), in row order."""


    wb = load_safely(book_path, keep_links=False)  # a damaged or hostile book is a message, not a traceback
    try:
        out: dict[str, list[tuple[str, str]]] = {}
        for ws in wb.worksheets:
            cells: dict[tuple[int, int], str] = {}
            for row in ws.iter_rows():
                for cell in row:
                    if cell.data_type != "f":
                        continue
                    ref = getattr(cell.value, "ref", None)
                    if ref:  # array formula: its text on the first cell, the range on the others
                        c1, r1, c2, r2 = range_boundaries(ref)
                        for r in range(r1, r2 + 1):
                            for c in range(c1, c2 + 1):
                                cells[(r, c)] = cell.value.text if (r, c) == (r1, c1) else "{" + ref + "}"
                    else:
                        cells[(cell.row, cell.column)] = str(cell.value)
            if cells:
                out[ws.title] = [(f"{get_column_letter(c)}{r}", f) for (r, c), f in sorted(cells.items())]
        return out
    finally:
        wb.close()


def value_at(values: Mapping[str, SheetValues], sheet: str, cell: str) -> Any:
    """The value of `sheet`!`cell` in a `recalc` result (None outside the used range)."""

    letters, row = coordinate_from_string(cell)
    grid = values[sheet]
    col = column_index_from_string(letters)
    if row > len(grid) or col > len(grid[row - 1]):
        return None
    return grid[row - 1][col - 1]
