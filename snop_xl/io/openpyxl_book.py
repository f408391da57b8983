"""Headless BookIO on openpyxl: reads and writes .xlsx/.xlsm files with no Excel, saves atomically.

The VBA project (vbaProject.bin) and a 2007-schema ribbon (customUI/customUI.xml) are carried through a save
byte-for-byte by openpyxl's keep_vba mode; tests check it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import shutil
import time
import zipfile
from collections.abc import Callable, Collection
from copy import copy
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from openpyxl import Workbook, load_workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, TIME_TYPES, Cell, get_time_format
from openpyxl.utils.exceptions import IllegalCharacterError
from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.chart.series import SeriesLabel
from openpyxl.formatting.rule import CellIsRule, ColorScaleRule, FormulaRule
from openpyxl.styles import Alignment, Font, PatternFill, Protection
from openpyxl.styles.cell_style import StyleArray
from openpyxl.styles.numbers import BUILTIN_FORMATS_MAX_SIZE, BUILTIN_FORMATS_REVERSE
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.properties import Outline
from openpyxl.utils import get_column_letter, range_boundaries
from openpyxl.utils.datetime import to_excel
from openpyxl.worksheet.hyperlink import Hyperlink
from openpyxl.worksheet.table import Table as XLTable
from openpyxl.worksheet.table import TableStyleInfo

from snop_xl import contract as C
from snop_xl.contract import charts as CH
from snop_xl.errors import SnopError
from snop_xl.io.atomic import check_writable, keep_mode, write_atomically
from snop_xl.io import grid as G
from snop_xl.io.base import FIT_ROWS, STAMP_PREFIX, BookIO
from snop_xl.io.grid import Grid
from snop_xl.io.parse import EXCEL_CELL_CHARS, EXCEL_ERRORS, RawTable, Uncalculated, is_blank
from snop_xl.io.safe_open import check_workbook_file, load_safely
from snop_xl.io.styles import HEADER_FILL, TAB_COLOR, TABLE_STYLE
from snop_xl.io.sheet_xml import Block, FastExcelWriter, PendingCells, add_block, number_format_style

MACRO_SUFFIXES = {".xlsm", ".xltm", ".xlam"}
#: an output table of at least this many cells is written from its values on save, without openpyxl cells in between
BLOCK_MIN_CELLS = 20_000
HEADER_FONT = Font(name="Calibri", bold=True)  # named: a font without a name renders in a fallback (serif) face


class OpenpyxlBook(BookIO):
    """A workbook file opened with openpyxl. Nothing reaches the disk until save()."""

    def __init__(self, path: str | os.PathLike, workbook: Workbook | None = None):
        self.path = Path(path)
        if workbook is None:
            if not self.path.exists():
                raise SnopError(f"{self.path}: no such workbook")
            workbook = open_workbook(self.path)
        self.wb = workbook
        self._values: Workbook | None = None  # data_only twin, loaded only if a formula cell is read
        #: the file the workbook was loaded from: formula values come from it even after `path` is pointed at
        #: another target (`run -o OUT`) or the book is saved (openpyxl saves formulas without their values)
        self._source: Path | None = self.path if self.path.exists() else None
        #: the formulas input cells held when opened: only those may be given their calculated value on save
        self._opened_formulas = _input_formulas(workbook) if self._source is not None else {}

    @classmethod
    def new(cls, path: str | os.PathLike) -> "OpenpyxlBook":
        """An empty book with every sheet of the contract, inputs first, each with its (empty) tables."""
        wb = Workbook()
        wb.remove(wb.active)
        book = cls(path, wb)
        for sheet in C.SHEETS.values():
            book._sheet(sheet.name)
            for spec in sheet.tables:
                if not spec.wide_periods:
                    book.write_rows(spec, [])
        return book

    # ---- finding tables ------------------------------------------------------------------------------------
    def _find(self, spec: C.Table) -> tuple[Any, XLTable] | None:
        candidates = [self.wb[spec.sheet]] if spec.sheet in self.wb.sheetnames else []
        candidates += [ws for ws in self.wb.worksheets if ws.title != spec.sheet]
        for ws in candidates:
            for tbl in ws.tables.values():
                if tbl.displayName.lower() == spec.list_object.lower():
                    return ws, tbl
        return None

    def has_table(self, spec: C.Table) -> bool:
        return self._find(spec) is not None

    def read_raw(self, spec: C.Table) -> RawTable:
        ws, tbl = self._find(spec)
        min_col, min_row, max_col, max_row = range_boundaries(tbl.ref)
        max_row -= tbl.totalsRowCount or 0
        # columns headed and rows typed or pasted just beside a table belong to it, as Excel would extend it
        while not is_blank(ws.cell(min_row, max_col + 1).value):
            max_col += 1
        while any(not is_blank(ws.cell(max_row + 1, c).value) for c in range(min_col, max_col + 1)):
            max_row += 1
        grid = [list(r) for r in ws.iter_rows(min_row=min_row, max_row=max_row, min_col=min_col, max_col=max_col,
                                               values_only=True)]
        grid = [[self._value(ws, min_row + i, min_col + j, v) for j, v in enumerate(row)]
                for i, row in enumerate(grid)]
        return RawTable(ws.title, grid[0], grid[1:], min_row, min_col)

    def _value(self, ws: Any, row: int, col: int, value: Any) -> Any:
        """The cell's value; for a formula, the value Excel last calculated (None if it never was). A text that only
        starts with '=' (a note the engine wrote as text) is a value, not a formula."""
        if isinstance(value, str) and value.startswith("=") and ws.cell(row, col).data_type == "f":
            if self._source is None:
                return Uncalculated(value)
            if self._values is None:
                self._values = load_workbook(self._source, data_only=True, read_only=False)
            cached = self._values[ws.title].cell(row, col).value if ws.title in self._values.sheetnames else None
            return Uncalculated(value) if cached is None else cached
        return value

    def _calculated_inputs(self) -> dict[str, dict[str, Any]]:
        """Sheet -> {cell: value Excel last calculated} of the formulas in input sheets: openpyxl writes a formula
        without its value, so the next run would find it never calculated and refuse the book (a formula's value
        lost by a run). Only formulas the opened file held a value for; read from it once, when there are any."""
        out: dict[str, dict[str, Any]] = {}
        for (name, coordinate), formula in _input_formulas(self.wb).items():
            if self._opened_formulas.get((name, coordinate)) != formula:
                continue  # typed or moved since the book was opened: the file has no value for it
            ws = self.wb[name]
            cell = ws[coordinate]
            value = self._value(ws, cell.row, cell.column, formula)
            if not isinstance(value, Uncalculated):
                out.setdefault(name, {})[coordinate] = value
        return out

    def sheet_values(self, name: str, calculated: bool = True) -> list[list[Any]] | None:
        if name not in self.wb.sheetnames:
            return None
        ws = self.wb[name]
        if not calculated:
            return [[Uncalculated(v) if isinstance(v, str) and v.startswith("=") and ws.cell(i, j).data_type == "f"
                     else v for j, v in enumerate(row, start=1)]
                    for i, row in enumerate(ws.iter_rows(min_row=1, min_col=1, values_only=True), start=1)]
        return [[self._value(ws, i, j, v) for j, v in enumerate(row, start=1)]
                for i, row in enumerate(ws.iter_rows(min_row=1, min_col=1, values_only=True), start=1)]

    # ---- writing -------------------------------------------------------------------------------------------
    def _sheet(self, name: str) -> Any:
        if name in self.wb.sheetnames:
            return self.wb[name]
        order = list(C.SHEETS)
        position = len(self.wb.sheetnames)
        if name in order:  # keep contract order among the sheets that exist
            later = [s for s in order[order.index(name) + 1:] if s in self.wb.sheetnames]
            if later:
                position = self.wb.sheetnames.index(later[0])
        ws = self.wb.create_sheet(name, position)
        role = C.SHEETS[name].role if name in C.SHEETS else C.Role.OUTPUT
        ws.sheet_properties.tabColor = TAB_COLOR[role]
        if name in C.SHEETS and C.SHEETS[name].hidden:
            ws.sheet_state = "hidden"
        ws.freeze_panes = "A2"
        return ws

    def write_rows(self, spec: C.Table, rows: list[list[Any]], header: list[str] | None = None) -> None:
        header = header or spec.headers
        found = self._find(spec)
        if found is not None and (found[0].title != spec.sheet or C.moved_by_contract(
                spec, found[0].title, range_boundaries(found[1].ref)[0])):
            self._moved_table(spec, found)
            found = self._find(spec)
        ws = self._sheet(spec.sheet) if found is None else found[0]
        first = spec.first_column
        width = len(header)
        if found:
            old_min_col, _, old_max_col, old_max_row = range_boundaries(found[1].ref)
            width_to_clear = max(width, old_max_col - old_min_col + 1)
            del ws.tables[found[1].name]
            if spec.wraps:  # the heights of the rows its text took (a shorter table leaves none behind)
                for r in range(2, old_max_row + 1):
                    ws.row_dimensions[r].height = None
        else:
            width_to_clear, old_max_row = width, 1
        # the old table and the rows typed right under it (read as its rows), not what sits further below (the
        # Settings sheet's guide)
        last = first + width_to_clear - 1
        while any(not is_blank(ws.cell(old_max_row + 1, c).value) for c in range(first, last + 1)):
            old_max_row += 1
        # cleared: the cells of the old table the new one does not write (those it writes are overwritten below)
        cells = ws._cells
        if isinstance(cells, PendingCells) and any(b.first < first + width and first < b.first + b.width
                                                   for b in cells.blocks):
            cells.materialize()  # rows of an earlier table in these columns, not yet cells: cells first
        for r in range(1, max(old_max_row, 1) + 1):
            start = first + (width if r == 1 else len(rows[r - 2]) if r - 2 < len(rows) else 0)
            for c in range(start, last + 1):
                _put_fast(ws, cells, r, c, None)
        fill = PatternFill("solid", fgColor=HEADER_FILL[spec.role])
        for j, text in enumerate(header):
            cell = put_cell(ws, 1, first + j, text)
            cell.font = HEADER_FONT
            cell.fill = fill
            cell.alignment = Alignment(wrap_text=True, vertical="top")
            column = ws.column_dimensions[get_column_letter(first + j)]
            given = spec.columns[j].width if j < len(spec.columns) else None
            coded = j < len(spec.columns) and spec.columns[j].number_format_in(self.currency) != \
                spec.columns[j].number_format  # the currency code shown after the amount needs room too
            fitted = given or _width(text, (r[j] for r in rows[:FIT_ROWS])) + (len(self.currency) + 1 if coded else 0)
            if spec.role is C.Role.OUTPUT or column.width in (None, 13.0):
                column.width = fitted
            elif rows and not given and fitted > (column.width or 0):  # an input column: wider, never narrower,
                column.width = fitted                                  # so no typed text is cut
        # a header that wraps gets the lines it needs (Excel does not grow the row on open)
        lines = max((C.wrapped_lines(text, ws.column_dimensions[get_column_letter(first + j)].width or 13)
                     for j, text in enumerate(header)), default=1)
        if lines > 1:  # tables side by side share the row: the tallest header sets it
            ws.row_dimensions[1].height = max(ws.row_dimensions[1].height or 0, C.LINE_HEIGHT * lines)
        # input cells all look like the template's first row (styled as inputs), not just that row; a wide
        # table's month columns like its last column (Settings rows are styled one by one: left as they are)
        styles = ([copy(ws.cell(2, first + min(j, len(spec.columns) - 1))._style) for j in range(width)]
                  if spec.role is C.Role.INPUT and spec is not C.SETTINGS_TABLE and len(rows) > 1 else None)
        fixed = _fixed_formats(spec, width, self.currency)
        format_id = _FormatIds(self.wb)
        fixed_ids = None if fixed is None else [format_id(f) for f in fixed]
        checked: set[str] = set()

        def formats(i: int, values: list[Any]) -> list[int | None]:
            return fixed_ids if fixed_ids is not None else [
                format_id(f) for f in spec.cell_formats(values, width, self.currency)]

        def fill(cell: Any, value: Any, j: int, fid: int | None) -> None:
            """The style of a table cell holding `value` (its number format `fid`)."""
            if styles is not None:
                cell._style = copy(styles[j])
            if fid is not None and value is not None:  # what `cell.number_format = ...` sets
                if cell._style is None:
                    cell._style = StyleArray(format_id.style(fid))
                else:
                    cell._style.numFmtId = fid

        def make_cells(lo: int, hi: int) -> None:
            into = ws._cells  # the sheet's cell dict when called (a block's may be made cells after it changed)
            for i in range(lo, hi):
                values = rows[i]
                ids = formats(i, values)
                for j, value in enumerate(values):
                    fill(_put_fast(ws, into, 2 + i, first + j, value, checked), value, j, ids[j])

        def make_cell(r: int, c: int, value: Any, fid: int | None) -> Any:
            cell = _put_fast(ws, {}, r, c, value, checked)
            fill(cell, value, c - first, fid)
            return cell

        # a long output table: its rows below any cell already in its place wait as a block, written from their
        # values on save (as these cells would be) unless something reads them first (`sheet_xml.PendingCells`)
        start = len(rows)
        if spec.role is C.Role.OUTPUT and not spec.wraps and styles is None and len(rows) * width >= BLOCK_MIN_CELLS:
            start = min(len(rows), max((r - 1 for r, c in dict.keys(cells) if r >= 2 and first <= c < first + width),
                                       default=0))
            if (len(rows) - start) * width < BLOCK_MIN_CELLS:
                start = len(rows)
        make_cells(0, start)
        if start < len(rows):
            ids, date_ids = _as_if_put(rows[start:], lambda i, values: formats(start + i, values), checked, format_id)
            add_block(ws, Block(2 + start, first, rows[start:], ids,
                                lambda: make_cells(start, len(rows)), make_cell, date_ids.get(dt.datetime)))
        _wrap_rows(ws, spec, 2, first, rows)
        last_row = 1 + max(len(rows), 1)  # an Excel table needs at least one data row
        ref = f"{get_column_letter(first)}1:{get_column_letter(first + width - 1)}{last_row}"
        table = XLTable(displayName=spec.list_object, ref=ref)
        table.tableStyleInfo = TableStyleInfo(name=TABLE_STYLE[spec.role], showRowStripes=True)
        # the column names openpyxl's writer would take from the header cells (it builds a tuple of every cell of
        # the table's range to read its first row: seconds on a long table)
        table._initialise_columns()
        for j, column in enumerate(table.tableColumns):
            column.name = str(ws.cell(1, first + j).value)
        ws.add_table(table)

    def _moved_table(self, spec: C.Table, found: tuple[Any, XLTable]) -> None:
        """The table is on another sheet than the contract's (a planner renamed the sheet, or copied the table
        away): written where it is when its own sheet is gone, else the stray copy loses its table (cells kept) and
        the table is written on its own sheet. Either way the Log says so."""
        ws, tbl = found
        min_col, min_row, max_col, max_row = range_boundaries(tbl.ref)
        if C.moved_by_contract(spec, ws.title, min_col):
            del ws.tables[tbl.name]
            for row in ws.iter_rows(min_row=min_row, max_row=max_row, min_col=min_col, max_col=max_col):
                for cell in row:
                    cell.value, cell.hyperlink = None, None
            for r in range(min_row + 1, max_row + 1):  # the heights its wrapped text gave the rows
                ws.row_dimensions[r].height = None
            self.log("io", f"table {spec.list_object} moved from {ws.title}!{tbl.ref.split(':')[0]} to "
                     f"{spec.sheet}!{spec.anchor}", location=f"{spec.sheet}!{spec.anchor}")
            return
        if spec.sheet in self.wb.sheetnames:
            del ws.tables[tbl.name]
            what = (f"a copy of table {spec.list_object} on sheet {ws.title!r} was left as plain cells; the table is "
                    f"written on sheet {spec.sheet}")
        else:
            what = (f"sheet {spec.sheet} is gone but its table {spec.list_object} is on sheet {ws.title!r} "
                    f"(renamed?): written there")
        if spec is not C.LOG:
            self.log("io", what, level="WARNING", location=f"{ws.title}!{tbl.ref.split(':')[0]}")

    def append_rows(self, spec: C.Table, rows: list[list[Any]]) -> None:
        found = self._find(spec)
        if found is None:
            self.write_rows(spec, rows)
            return
        ws, tbl = found
        min_col, min_row, max_col, max_row = range_boundaries(tbl.ref)
        while max_row > min_row and all(is_blank(ws.cell(max_row, c).value) for c in range(min_col, max_col + 1)):
            max_row -= 1
        for j, column in enumerate(spec.columns[:max_col - min_col + 1]):  # a date-time needs its width
            dim = ws.column_dimensions[get_column_letter(min_col + j)]
            if column.width and (dim.width or 0) < column.width:
                dim.width = column.width
        fixed = _fixed_formats(spec, max_col - min_col + 1, self.currency)
        for i, values in enumerate(rows, start=1):
            formats = fixed if fixed is not None else spec.cell_formats(values, max_col - min_col + 1, self.currency)
            for j, value in enumerate(values):
                cell = put_cell(ws, max_row + i, min_col + j, value)
                if formats[j] and value is not None:
                    cell.number_format = formats[j]
        _wrap_rows(ws, spec, max_row + 1, min_col, rows)
        tbl.ref = f"{get_column_letter(min_col)}{min_row}:{get_column_letter(max_col)}{max_row + max(len(rows), 1)}"
        if tbl.autoFilter is not None:
            tbl.autoFilter.ref = tbl.ref

    def save(self, target: str | os.PathLike | None = None) -> Path:
        """Write to a temp file beside the target, then rename over it: the target is either old or new. Formulas
        planners typed into input cells keep the values Excel last calculated (`keep_calculated`)."""
        calculated = self._calculated_inputs()

        def write(tmp: Path) -> None:
            save_workbook(self.wb, tmp)
            keep_calculated(tmp, calculated)
        target = write_atomically(target or self.path, write)
        _remove_stale_temps(target)
        self.path = target
        return target

    def save_undoable(self) -> Callable[[bool], None]:
        """Save so that it can still be undone: saved beside itself, the original kept aside (a hard link, else a
        copy) and the new one renamed over it in one atomic step, so the workbook's path holds a whole workbook at
        every moment, even if the process is killed; the returned `finish(ok)` drops the kept original (ok) or puts
        it back (not ok)."""
        target = Path(self.path)
        check_writable(target)  # the rename below would replace a read-only book too
        staged = self.save(target.with_name(f".{target.stem}.publishing{target.suffix}"))
        keep_mode(target, staged)
        self.path = target
        backup = target.with_name(f".{target.stem}.before-publish{target.suffix}")
        try:
            backup.unlink(missing_ok=True)  # the remains of a killed publish
            try:
                os.link(target, backup)
            except OSError:  # a file system without hard links (FAT, some shares)
                shutil.copy2(target, backup)
            os.replace(staged, target)  # refused while another program locks the file (Excel on Windows)
        except BaseException:
            staged.unlink(missing_ok=True)
            backup.unlink(missing_ok=True)
            raise

        def finish(ok: bool) -> None:
            if ok:
                backup.unlink(missing_ok=True)
            else:
                os.replace(backup, target)
        return finish

    def draw_charts(self, hosts: Collection[str] | None = None) -> None:
        """Native charts (Dashboard: `C.CHARTS`; KPIs: `C.KPI_CHARTS`) and the Exceptions' Go To
        hyperlinks (after writing outputs, before save); `hosts`: only those on these sheets (None: all)."""

        for host, specs in ((C.DASHBOARD.sheet, C.CHARTS), (C.KPI_TREND.sheet, C.KPI_CHARTS)):
            if hosts is None or host in hosts:
                _draw_charts(self, host, specs)
        if hosts is None or C.EXCEPTIONS.sheet in hosts:
            _link_cells(self)

    def _stamp_sheet(self, sheet: str, text: str) -> None:
        if sheet in self.wb.sheetnames:
            ws = self.wb[sheet]
            ws.oddHeader.center.text = text
            ws.protection.sheet = True  # no password: Review > Unprotect Sheet lifts it

    def _unstamp_sheet(self, sheet: str) -> None:
        if sheet in self.wb.sheetnames:
            ws = self.wb[sheet]
            ws.protection.sheet = False
            if (ws.oddHeader.center.text or "").startswith(STAMP_PREFIX):
                ws.oddHeader.center.text = None

    def write_grid(self, grid: Grid) -> None:
        """Rewrite a review sheet whole from `grid` (`snop_xl.io.grid`): the sheet is made anew in its place."""
        self.unstamp([grid.sheet])
        if grid.sheet in self.wb.sheetnames:
            self.wb.remove(self.wb[grid.sheet])
        _write_grid(self._sheet(grid.sheet), grid)


#: A temp file older than this beside a workbook is the remains of a killed save, not a save in progress.
STALE_TEMP_SECONDS = 600


def _remove_stale_temps(target: Path) -> None:
    """Delete what killed saves of `target` left behind (a save in another process is younger and kept)."""
    now = time.time()
    for leftover in target.parent.glob(f".{target.name}.*.tmp"):
        try:
            if now - leftover.stat().st_mtime > STALE_TEMP_SECONDS:
                leftover.unlink()
        except OSError:  # gone already, or not ours to delete
            pass


#: zlib level of the saved package: 3, not zipfile's 6 (Excel's own files sit between the two). The 2,000-item book's
#: 162 MB of XML: level 6 5.2 s and 18.6 MB, level 3 1.1 s and 21.4 MB; a 15% larger file for a save 4 s faster
ZIP_LEVEL = 3


def save_workbook(wb: Workbook, path: Path) -> None:
    """openpyxl's Workbook.save, with its zip file closed even when writing fails (a full disk): openpyxl leaves it
    open, and its finaliser then fails again later and prints an '[Errno 28]' traceback after our message."""
    archive = zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, allowZip64=True, compresslevel=ZIP_LEVEL)
    try:
        wb.properties.modified = dt.datetime.now(tz=dt.timezone.utc).replace(tzinfo=None)  # as openpyxl's save
        FastExcelWriter(wb, archive).save()  # closes the zip when it succeeds; rows as openpyxl writes them
    finally:
        with contextlib.suppress(Exception):
            archive.close()


def _input_formulas(wb: Workbook) -> dict[tuple[str, str], str]:
    """(sheet, cell) -> formula of every formula in the input sheets of `wb`."""
    return {(name, cell.coordinate): cell.value for name in C.INPUT_SHEETS if name in wb.sheetnames
            for cell in wb[name]._cells.values() if cell.data_type == "f" and isinstance(cell.value, str)}


#: a formula cell as saved, with its empty value however the XML writer spells it (<v/>, <v />, <v></v>)
_FORMULA_CELL = re.compile(r'<c r="([A-Z]+[0-9]+)"([^>]*)><f>(.*?)</f>(?:<v ?/>|<v></v>)</c>', re.S)


def keep_calculated(path: Path, calculated: dict[str, dict[str, Any]]) -> None:
    """Write into the saved workbook at `path` the value each formula of `calculated` (sheet -> {cell: value})
    showed when the book was opened, as Excel stores it (<v> beside <f>): openpyxl writes formulas without one."""
    if not calculated:
        return
    with zipfile.ZipFile(path) as z:
        workbook, rels = z.read("xl/workbook.xml").decode(), z.read("xl/_rels/workbook.xml.rels").decode()
        targets = dict(re.findall(r'<Relationship[^>]*Id="([^"]+)"[^>]*Target="([^"]+)"', rels))
        targets.update({k: v for v, k in re.findall(r'<Relationship[^>]*Target="([^"]+)"[^>]*Id="([^"]+)"', rels)})
        parts = {}
        for name, rid in re.findall(r'<sheet[^>]*name="([^"]+)"[^>]*r:id="([^"]+)"', workbook):
            if name in calculated and rid in targets:
                target = targets[rid].lstrip("/")
                parts[target if target.startswith("xl/") else f"xl/{target}"] = calculated[name]
        entries = [(info, z.read(info.filename)) for info in z.infolist()]

    def with_value(m: re.Match, values: dict[str, Any]) -> str:
        if m.group(1) not in values or ' t="' in m.group(2):
            return m.group(0)
        value = values[m.group(1)]
        if isinstance(value, bool):
            kind, text = ' t="b"', str(int(value))
        elif isinstance(value, (int, float)):
            kind, text = "", repr(float(value)) if isinstance(value, float) else str(value)
        elif isinstance(value, (dt.datetime, dt.date)):
            kind, text = "", repr(float(to_excel(value)))
        else:
            text = escape(str(value))
            kind = ' t="e"' if text in EXCEL_ERRORS else ' t="str"'
        return f'<c r="{m.group(1)}"{m.group(2)}{kind}><f>{m.group(3)}</f><v>{text}</v></c>'

    fresh = path.with_name(path.name + ".values")
    with zipfile.ZipFile(fresh, "w", zipfile.ZIP_DEFLATED, allowZip64=True, compresslevel=ZIP_LEVEL) as out:
        for info, data in entries:
            if info.filename in parts:
                data = _FORMULA_CELL.sub(lambda m: with_value(m, parts[info.filename]), data.decode()).encode()
            out.writestr(info, data)
    os.replace(fresh, path)


def put_cell(ws: Any, row: int, col: int, value: Any) -> Any:
    """Write `value` into the cell and return the cell; a text always as a text (an inline string): openpyxl would
    store a str starting with '=' as a live formula (formula injection; Excel repairs an invalid one such as
    '=> moved') and one equal to an error code such as '#N/A' as an error value."""
    cell = ws.cell(row, col, value)
    if isinstance(value, str):
        cell.data_type = "s"
    return cell


_new_cell = Cell.__new__


def _put_fast(ws: Any, cells: dict, row: int, col: int, value: Any, checked: set[str] | None = None) -> Any:
    """`put_cell` (and, for None, what clearing a cell does) without openpyxl's per-cell lookups: numbers, blanks and
    texts already in `checked` (openpyxl took them unchanged before) are stored directly, in a cell made without
    `Cell.__init__` (what it sets, set here); other texts, dates and anything else go through openpyxl's own typing
    as before (a text it takes unchanged joins `checked`)."""
    cell = cells.get((row, col))
    kind = type(value)
    if value is None or kind is float or kind is int or (kind is str and checked is not None and value in checked):
        if cell is None:
            cell = _bare_cell(ws, cells, row, col)
        cell._value = value
        cell.data_type = "s" if kind is str else "n"
        return cell
    if cell is None:
        cell = cells[(row, col)] = Cell(ws, row=row, column=col)
    cell.value = value
    if kind is str or isinstance(value, str):
        cell.data_type = "s"
        if checked is not None and kind is str and cell._value == value:
            checked.add(value)
    return cell


def _put_formula(ws: Any, cells: dict, row: int, col: int, formula: str) -> Any:
    """A new cell holding `formula` (the engine's own: "=SUM(C5:C9)"), as `ws.cell(row, col, formula)` makes it
    (openpyxl's typing takes such a text unchanged, as a formula) without its per-cell typing."""
    if not (len(formula) > 1 and formula.startswith("=")) or ILLEGAL_CHARACTERS_RE.search(formula):
        return ws.cell(row, col, formula)
    cell = _bare_cell(ws, cells, row, col)
    cell._value, cell.data_type = formula, "f"
    return cell


def _bare_cell(ws: Any, cells: dict, row: int, col: int) -> Any:
    """A new, empty, unstyled cell of `ws` at (row, col), made without `Cell.__init__` (what it sets, set here)."""
    cell = cells[(row, col)] = _new_cell(Cell)
    cell.parent, cell._style, cell.row, cell.column = ws, None, row, col
    cell._hyperlink = cell._comment = None
    return cell


def _as_if_put(rows: list[list[Any]], formats: Callable[[int, list[Any]], list[int | None]], checked: set[str],
               format_id: "_FormatIds") -> tuple[list[list[int | None]], dict[type, int]]:
    """What putting `rows` into cells would do at once, done at once for rows that wait as a block: each row's
    number formats registered (their ids returned), the default format of each kind of date registered (openpyxl
    sets it before the column's own: ids by kind returned), every text checked as openpyxl checks it (one it would
    refuse raises here, when written, not when saved; one it takes whole joins `checked`)."""
    ids, date_ids = [], {}
    for i, values in enumerate(rows):
        ids.append(formats(i, values))
        for value in values:
            kind = type(value)
            if kind is str:
                if value not in checked:
                    if ILLEGAL_CHARACTERS_RE.search(value[:EXCEL_CELL_CHARS]):
                        raise IllegalCharacterError(f"{value[:EXCEL_CELL_CHARS]} cannot be used in worksheets.")
                    if len(value) <= EXCEL_CELL_CHARS:  # a longer one openpyxl cuts (`Block.make_cell`)
                        checked.add(value)
            elif kind not in date_ids and isinstance(value, TIME_TYPES):
                date_ids[kind] = format_id(get_time_format(kind))
    return ids, date_ids


class _FormatIds:
    """The style id of each number format text, as `cell.number_format = text` registers it (one lookup each)."""

    def __init__(self, wb: Workbook):
        self.formats = wb._number_formats
        self.known: dict[str, int] = {}
        self.styles: dict[int, StyleArray] = {}

    def style(self, format_id: int) -> StyleArray:
        """The style of an unstyled cell given number format `format_id` (copy it: openpyxl edits styles in place)."""
        found = self.styles.get(format_id)
        if found is None:
            found = self.styles[format_id] = number_format_style(format_id)
        return found

    def __call__(self, fmt: str | None) -> int | None:
        if not fmt:
            return None
        found = self.known.get(fmt)
        if found is None:
            found = self.known[fmt] = BUILTIN_FORMATS_REVERSE[fmt] if fmt in BUILTIN_FORMATS_REVERSE else \
                self.formats.add(fmt) + BUILTIN_FORMATS_MAX_SIZE
        return found


def _fixed_formats(spec: C.Table, width: int, currency: str = "") -> list[str | None] | None:
    """The number formats of every row of `spec` (None when a column's format depends on its row)."""
    return None if any(c.fmt_by for c in spec.columns) else spec.cell_formats((), width, currency)


def cell_alignment(column: C.Column) -> Alignment:
    """How a cell of a table with a wrapping column sits (`C.Column.wrap`): top-aligned; the wrapping column's text
    wrapped and indented one step off the (right-aligned) numbers to its left."""
    return Alignment(vertical="top", wrap_text=True, indent=1) if column.wrap else Alignment(vertical="top")


def _wrap_rows(ws: Any, spec: C.Table, top: int, first: int, rows: list[list[Any]]) -> None:
    """Rows `top`.. of a table with a wrapping column: aligned, and as tall as their wrapped text (Excel does not
    grow a row for wrapped text on open)."""
    if not spec.wraps:
        return
    aligned = [cell_alignment(c) for c in spec.columns]
    wrapped = [j for j, c in enumerate(spec.columns) if c.wrap]
    for i, values in enumerate(rows):
        for j in range(min(len(values), len(aligned))):
            ws.cell(top + i, first + j).alignment = aligned[j]
        lines = max(C.wrapped_lines(values[j] or "", spec.columns[j].width) for j in wrapped if j < len(values))
        ws.row_dimensions[top + i].height = C.LINE_HEIGHT * lines if lines > 1 else None


def _width(header: Any, values: Any) -> float:
    """Column width that shows the header and the values as formatted (no ##### in Excel)."""
    def shown(v: Any) -> int:
        if isinstance(v, bool):
            return 5
        if isinstance(v, float):
            return len(f"{v:,.2f}")
        if isinstance(v, int):
            return len(f"{v:,}")
        if hasattr(v, "hour"):  # a date-time (the Log's timestamps): yyyy-mm-dd hh:mm:ss
            return 19
        if hasattr(v, "year"):
            return 10
        return len(str(v)) if v is not None else 0
    longest = max([shown(v) for v in values] + [min(len(str(header)), 16)])
    return float(max(8, min(60, longest + 2)))


def sheet_names(path: str | os.PathLike) -> list[str]:
    """The sheet names of the workbook file at `path`, opened safely and read-only."""
    return load_safely(path, read_only=True).sheetnames


def open_values(path: Path) -> Workbook:
    """Another workbook's values as last calculated (never recalculated), opened safely and read-only, links off."""
    check_workbook_file(path)
    try:
        return load_workbook(path, read_only=True, data_only=True, keep_links=False)
    except Exception as exc:
        raise SnopError(f"{path.name}: cannot open as an Excel workbook ({type(exc).__name__}: {exc})") from None


def keeps_macros(path: Path) -> bool:
    """Whether a save must carry the package's VBA project and ribbon (openpyxl's keep_vba): whenever it holds a
    VBA project, whatever its name (an .xlsm renamed .xlsx keeps its macros), and for a macro-enabled name, whose
    content type must stay macro-enabled or Excel refuses to open it. Never for a plain .xlsx: keep_vba would give
    it the macro-enabled content type."""
    if path.suffix.lower() in MACRO_SUFFIXES:
        return True
    with zipfile.ZipFile(path) as package:
        return any(name.lower() == "xl/vbaproject.bin" for name in package.namelist())


def open_workbook(path: Path) -> Workbook:
    """Load a workbook for reading and rewriting, keeping its VBA project and ribbon if it has them, and its links
    to other workbooks as they are (openpyxl never follows or refreshes them; dropping them would break the user's
    formulas that use them on the next save)."""
    check_workbook_file(path)  # zip bombs, renamed or encrypted files, oversized sheets: refused before parsing
    try:
        return load_workbook(path, keep_vba=keeps_macros(path), keep_links=True)
    except Exception as exc:  # openpyxl raises many kinds for a file that is not a workbook
        raise SnopError(f"{path}: cannot open as an Excel workbook ({type(exc).__name__}: {exc})") from None


def _draw_charts(book: OpenpyxlBook, host: str, specs: Any) -> None:
    """Native Excel charts on sheet `host`, one per `ChartSpec` in `specs` (per group where grouped), each where
    `CH.chart_places` puts it (two a row right of the host's tables; on the Dashboard below its tiles), referencing
    the output tables' cells so Excel keeps them live. Old charts are replaced."""

    if host not in book.wb.sheetnames:
        return
    dash = book.wb[host]
    dash._charts = []
    charts = []
    for spec in specs:
        found = book._find(C.table(spec.table))
        if found is None:
            continue
        ws, tbl = found
        min_col, min_row, _, max_row = range_boundaries(tbl.ref)
        keys = C.table(spec.table).keys
        col = {k: min_col + keys.index(k) for k in keys}
        if max_row <= min_row or ws.cell(min_row + 1, min_col).value is None:
            continue
        top = min_row + 1  # sheet row of the first data row
        groups = [(g, top + i0, top + i1) for g, i0, i1 in spec.groups(
            lambda key: [ws.cell(r, col[key]).value for r in range(top, max_row + 1)])]
        if spec.label is None:
            def categories(r0: int, r1: int) -> Reference:
                return Reference(ws, min_col=col[spec.category], min_row=r0, max_row=r1)
        else:
            categories = _write_labels(book, spec, ws, col, groups)
        if spec.series_per_group:
            chart = LineChart() if spec.kind == "line" else BarChart()
            for g, r0, r1 in groups:
                ref = Reference(ws, min_col=col[spec.values[0]], min_row=r0, max_row=r1)
                chart.add_data(ref, titles_from_data=False)
                chart.series[-1].tx = SeriesLabel(v=str(g))
            _, r0, r1 = groups[0]
            chart.set_categories(categories(r0, r1))
            chart.title = spec.title
            charts.append((spec, chart))
        else:
            for g, r0, r1 in groups:
                chart = LineChart() if spec.kind == "line" else BarChart()
                for key in spec.values:
                    chart.add_data(Reference(ws, min_col=col[key], min_row=r0, max_row=r1), titles_from_data=False)
                    chart.series[-1].tx = SeriesLabel(v=C.table(spec.table).column(key).header)
                chart.set_categories(categories(r0, r1))
                chart.title = spec.chart_title(g, len(groups))
                charts.append((spec, chart))
    _draw_canvas(book, dash, host)
    for (spec, chart), place in zip(charts, CH.chart_places(host, len(charts))):
        chart.y_axis.title = spec.y_title
        chart.y_axis.number_format = "0%" if spec.percent else "#,##0"  # the axis needs no cents
        chart.x_axis.delete = chart.y_axis.delete = False  # openpyxl 3.1 leaves it out: Excel then hides axes
        if len(chart.series) == 1:
            chart.legend = None  # one series: the title says what it is
        if isinstance(chart, LineChart):
            for series in chart.series:  # straight lines between months: a curve would show values nobody planned
                series.smooth = False
        chart.width, chart.height = place.width, place.height
        if spec.horizontal:
            chart.type = "bar"  # bars across: the labels down the side
            chart.x_axis.scaling.orientation = "maxMin"  # the first row (the biggest) on top, as in the table
            chart.y_axis.crosses = "max"  # ... and the money axis still below
        dash.add_chart(chart, f"{get_column_letter(place.col)}{place.row}")


def _write_labels(book: OpenpyxlBook, spec: CH.ChartSpec, ws: Any, col: dict[str, int],
                  groups: list[tuple[Any, int, int]]) -> Callable[[int, int], Reference]:
    """The x labels `spec.label` makes of the rows it draws, written into its column of the (hidden) labels sheet
    on the same rows as the table's (the old ones cleared); returns the reference a chart takes its categories
    from, by the table's sheet rows."""
    sheet = book._sheet(CH.LABELS_SHEET)
    c = spec.labels_column
    for (_, j), cell in list(sheet._cells.items()):  # only the cells there are (reading one makes it)
        if j == c:
            cell.value = None
    put_cell(sheet, 1, c, f"Labels: {spec.title}").font = HEADER_FONT
    sheet.column_dimensions[get_column_letter(c)].width = CH.LABEL_CHARS + 2
    for _, r0, r1 in groups:
        rows = [{k: ws.cell(r, j).value for k, j in col.items()} for r in range(r0, r1 + 1)]
        for r, text in zip(range(r0, r1 + 1), spec.categories(rows)):
            put_cell(sheet, r, c, text)

    def categories(r0: int, r1: int) -> Reference:
        return Reference(sheet, min_col=c, min_row=r0, max_row=r1)
    return categories


def _draw_canvas(book: OpenpyxlBook, ws: Any, host: str) -> None:
    """The columns the charts lie on, sized as `CH.canvas_widths` says; on the Dashboard, the title and headline tiles
    (`CH.canvas_cells`) above the charts, and the sheet opened on them (its first screen)."""
    for c, width in CH.canvas_widths(host).items():
        ws.column_dimensions[get_column_letter(c)].width = width
    if host != C.DASHBOARD.sheet:
        return
    tables = book.read_tables((C.DASHBOARD.name, C.KPI_TREND.name), readable_only=False)
    frames = {name: frame.to_dict("records") for name, frame in tables.items()}
    for r, height in CH.canvas_heights(host).items():
        ws.row_dimensions[r].height = height
    for cell in CH.canvas_cells(frames, book.currency):
        size, bold, color, fill, wraps, across = CH.TILE_STYLES[cell.style]
        target = ws.cell(cell.row, cell.col, cell.value) if cell.formula else put_cell(ws, cell.row, cell.col,
                                                                                          cell.value)
        target.font = Font(name="Calibri", size=size, bold=bold, color=color)
        target.fill = PatternFill("solid", fgColor=fill) if fill else PatternFill()
        target.alignment = Alignment(horizontal=across, vertical="top" if wraps else "center", wrap_text=wraps,
                                     shrink_to_fit=cell.style == "value")
        target.number_format = cell.number_format or "General"


def _link_cells(book: OpenpyxlBook) -> None:
    """Make every Sheet!A1 address in the Exceptions' Go To column an in-workbook hyperlink."""

    found = book._find(C.EXCEPTIONS)
    if found is None:
        return
    ws, tbl = found
    min_col, min_row, _, max_row = range_boundaries(tbl.ref)
    col = min_col + C.EXCEPTIONS.keys.index("link")
    for r in range(min_row + 1, max_row + 1):
        cell = ws.cell(r, col)
        if isinstance(cell.value, str) and "!" in cell.value:
            cell.hyperlink = Hyperlink(ref=cell.coordinate, location=cell.value)  # a place in this workbook
            cell.style = "Hyperlink"
            if C.EXCEPTIONS.wraps:  # the named style resets the alignment: the link beside its text's first line
                cell.alignment = cell_alignment(C.EXCEPTIONS.column("link"))


# ---- review sheets ------------------------------------------------------------------------------------------------
RED_FILL = PatternFill("solid", fgColor="FFC7CE")
RED_FONT = Font(name="Calibri", color="9C0006")
GREEN_FILL = PatternFill("solid", fgColor="C6EFCE")
GREEN_FONT = Font(name="Calibri", color="006100")


def _grid_style(ws: Any, cache: dict, key: tuple, grid: Grid, r: int, c: int) -> Any:
    """The StyleArray of a cell kind (row style, column kind, typed-into, number): built once, then copied."""
    if key not in cache:
        row_style, kind, is_input, fmt = key
        cell = ws.cell(r, c)
        bold = row_style in (G.TITLE, G.HEADER, G.TOTAL, G.FAMILY)
        cell.font = Font(name="Calibri", bold=bold, italic=row_style == G.HELP, size=14 if row_style == G.TITLE
                         else 11, color=G.INPUT_FONT if is_input else None)
        fill = G.FILLS["input"] if is_input else G.FILLS.get(row_style) or (
            G.FILLS.get(kind) if row_style != G.HELP and row_style != G.TITLE else None)
        if fill:
            cell.fill = PatternFill("solid", fgColor=fill)
        if fmt:
            cell.number_format = fmt
        if row_style == G.HEADER:
            cell.alignment = Alignment(horizontal="center" if kind != G.LABEL else None, vertical="center",
                                       wrap_text=True)
        cell.protection = Protection(locked=not is_input)
        cache[key] = copy(cell._style)
    return StyleArray(cache[key])


def _write_grid(ws: Any, grid: Grid) -> None:
    inputs = {(r, c) for r1, c1, r2, c2 in grid.inputs for r in range(r1, r2 + 1) for c in range(c1, c2 + 1)}
    cache: dict = {}
    cells, checked = ws._cells, set()  # a new sheet
    for r, (values, row_style, level) in enumerate(zip(grid.rows, grid.row_styles, grid.row_levels), start=1):
        for c, value in enumerate(values, start=1):
            kind = grid.columns[c - 1]
            is_input = (r, c) in inputs
            if value is None and not (is_input or row_style in (G.HEADER, G.TOTAL, G.FAMILY)):
                continue  # an empty cell takes its column's shading (below): no cell object, much less to save
            fmt = (grid.date_format if r == grid.header_row else grid.row_formats.get(r, grid.number_format)) \
                if kind != G.LABEL else None
            cell = _put_fast(ws, cells, r, c, value, checked) if not isinstance(value, G.Formula) else \
                _put_formula(ws, cells, r, c, str(value))
            cell._style = _grid_style(ws, cache, (row_style, kind, is_input, fmt), grid, r, c)
        if level:
            ws.row_dimensions[r].outline_level = level
            ws.row_dimensions[r].hidden = level > 1  # the first screen: Total and families
    ws.sheet_properties.outlinePr = Outline(summaryBelow=False, summaryRight=True)
    for r, level in enumerate(grid.row_levels, start=1):  # the row above a hidden group holds its [+] button
        if level == 1 and r < len(grid.row_levels) and grid.row_levels[r] > 1:
            ws.row_dimensions[r].collapsed = True
    ws.row_dimensions[grid.header_row].height = 30
    for c, (width, kind) in enumerate(zip(grid.widths, grid.columns), start=1):
        column = ws.column_dimensions[get_column_letter(c)]
        column.width = width
        if kind in G.FILLS:  # actual months and totals shaded down the whole column
            column.fill = PatternFill("solid", fgColor=G.FILLS[kind])
    ws.freeze_panes = ws.cell(*grid.freeze).coordinate
    for h in grid.highlights:
        if h.kind == "heat":
            ws.conditional_formatting.add(h.ref, ColorScaleRule(
                start_type="num", start_value=0, start_color="63BE7B", mid_type="num", mid_value=0.85,
                mid_color="FFEB84", end_type="num", end_value=1, end_color="F8696B"))
        elif h.kind == "negative":
            ws.conditional_formatting.add(h.ref, CellIsRule(operator="lessThan", formula=["0"], fill=RED_FILL,
                                                            font=RED_FONT))
        elif h.kind in ("above", "favourable"):
            limit = h.formula or "0"
            if h.kind == "favourable":
                ws.conditional_formatting.add(h.ref, CellIsRule(operator="greaterThan", formula=[limit],
                                                                fill=GREEN_FILL, font=GREEN_FONT))
            ws.conditional_formatting.add(h.ref, CellIsRule(
                operator="greaterThan" if h.kind == "above" else "lessThan",
                formula=[limit if h.kind == "above" else f"-{limit}"], fill=RED_FILL, font=RED_FONT))
        else:
            ws.conditional_formatting.add(h.ref, FormulaRule(formula=[h.formula], fill=RED_FILL, font=RED_FONT))
    calculated = G.calculated_ranges(grid)
    if calculated:
        ws.add_data_validation(DataValidation(
            type="custom", formula1="FALSE", showErrorMessage=True, errorStyle="stop", errorTitle="Calculated cell",
            error=G.GUARD_MESSAGE, allow_blank=False, sqref=" ".join(calculated)))
