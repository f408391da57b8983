"""BookIO: the one interface through which the engine touches a workbook.

An engine (openpyxl headless, xlwings live Excel) only has to fetch a table's raw cells and write a frame of plain
values; turning cells into typed frames, and frames back into cells (`snop_xl.io.parse`), happens once for every
engine.
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Iterable
from typing import Any

import pandas as pd

from snop_xl import contract as C
from snop_xl.errors import Problem, SnopError
from snop_xl.io.grid import Grid
from snop_xl.io.parse import RawTable, empty_frame, parse_table, to_rows

#: how every "Published" page-header stamp begins: unstamp() clears only headers that are ours
STAMP_PREFIX = "PUBLISHED "
#: Value rows an output table's column widths are fitted to (both engines): enough to be right, quick on big tables.
FIT_ROWS = 300


class BookIO(ABC):
    """A workbook seen as the contract's tables. Subclasses implement the four raw operations."""

    path: Any = None
    live: bool = False  # writes land in an open workbook at once (live Excel), not when the book is saved
    currency: str = ""  # Settings' currency code, shown after money amounts in the outputs (set by the cycle)

    @abstractmethod
    def has_table(self, spec: C.Table) -> bool: ...

    @abstractmethod
    def read_raw(self, spec: C.Table) -> RawTable: ...

    @abstractmethod
    def write_rows(self, spec: C.Table, rows: list[list[Any]]) -> None:
        """Replace the whole table `spec` (an output) by these rows of plain cell values."""

    @abstractmethod
    def append_rows(self, spec: C.Table, rows: list[list[Any]]) -> None:
        """Add rows under the existing ones (the Log)."""

    def save(self) -> None:
        """Persist the changes (atomic for files; live Excel needs nothing)."""

    def save_undoable(self) -> Callable[[bool], None]:
        """Save so that the save can still be taken back: returns `finish(ok)`, which keeps the saved book (ok) or
        puts the one before it back (not ok). Publishing saves this way before the archive commits."""
        self.save()
        return lambda ok: None

    def sheet_values(self, name: str, calculated: bool = True) -> list[list[Any]] | None:
        """Values of a sheet that holds no table (a paste area), as a grid from A1; None if there is no such sheet.
        Formula cells give their calculated value; with `calculated` False an engine may give `Uncalculated`
        instead (cheaper when only the typed cells matter)."""
        raise NotImplementedError(f"{type(self).__name__} cannot read free-form sheets")

    def write_grid(self, grid: Grid) -> None:
        """Rewrite a review sheet (no Excel table) whole from `grid`: values, formulas, styles, outline."""
        raise NotImplementedError(f"{type(self).__name__} cannot write review sheets")

    def draw_charts(self, hosts: Collection[str] | None = None) -> None:
        """After the outputs are written: native Dashboard charts and clickable Go To links (default: nothing).
        `hosts`: only what sits on these sheets (None: everything)."""

    # ---- the "Published" stamp: one concern, two hooks per engine ------------------------------------------
    def _stamp_sheet(self, sheet: str, text: str) -> None:
        """Engine hook: protect `sheet` (no password) and put `text` in its page header (default: nothing)."""

    def _unstamp_sheet(self, sheet: str) -> None:
        """Engine hook: unprotect `sheet` and clear a header starting with STAMP_PREFIX (default: nothing)."""

    def stamp(self, sheets: Iterable[str], text: str) -> None:
        """Mark output sheets as the published plan: read-only, with `text` (starting STAMP_PREFIX) as header."""
        done = self.__dict__.setdefault("_unstamped", set())
        for sheet in sheets:
            self._stamp_sheet(sheet, text)
            done.discard(sheet)

    def unstamp(self, sheets: Iterable[str]) -> None:
        """Lift the stamp from `sheets` (once per sheet and session). `write_table` calls it before every write:
        a rewritten sheet no longer holds the published plan, and Excel refuses writes to protected sheets."""
        done = self.__dict__.setdefault("_unstamped", set())
        for sheet in sheets:
            if sheet not in done:
                self._unstamp_sheet(sheet)
                done.add(sheet)

    # ---- typed access, shared by every engine -------------------------------------------------------------
    def read_table(self, spec: C.Table | str) -> tuple[pd.DataFrame, list[Problem]]:
        """Typed frame of an input table (index = sheet row of each data row) and the problems found in its cells."""
        spec = C.table(spec) if isinstance(spec, str) else spec
        if not self.has_table(spec):
            return empty_frame(spec), [Problem(spec.sheet, "", f"table {spec.list_object} is missing",
                                               expected=f"a sheet {spec.sheet!r} with an Excel table "
                                                        f"{spec.list_object} (columns {', '.join(spec.headers)})")]
        return parse_table(spec, self.read_raw(spec))

    def read_tables(self, names: Iterable[str], readable_only: bool = True) -> dict[str, pd.DataFrame]:
        """The tables `names` that the book holds, by name (index 0, 1, ...); with `readable_only`, only those whose
        cells all read (a table to keep, such as an archived plan), else as read (a table to look at)."""
        out = {}
        for name in names:
            spec = C.table(name)
            if self.has_table(spec):
                frame, problems = self.read_table(spec)
                if not (problems and readable_only):
                    out[name] = frame.reset_index(drop=True)
        return out

    def write_table(self, spec: C.Table | str, df: pd.DataFrame) -> None:
        """Write an output table whole. Input tables belong to users and are refused."""
        spec = C.table(spec) if isinstance(spec, str) else spec
        if spec.role is not C.Role.OUTPUT:
            raise SnopError(f"refusing to write input table {spec.list_object} on sheet {spec.sheet}")
        rows = to_rows(spec, df)
        self.unstamp([spec.sheet])
        self.write_rows(spec, rows)

    def log(self, step: str, message: str, level: str = "INFO", location: str = "",
            when: dt.datetime | None = None) -> None:
        when = when or dt.datetime.now().replace(microsecond=0)
        self.append_rows(C.LOG, [[when, step, level, message, location or None]])


