"""BookIO on a live Excel workbook through xlwings (Windows and macOS; what the ribbon buttons use).

It mirrors `OpenpyxlBook`: tables are found by ListObject name on any sheet (their own sheet first), read whole
as values (formulas as Excel last calculated them, error cells as text like ``#N/A``), and an output table is
rewritten whole by clearing it, writing the block of values in one call and resizing the ListObject. The
workbook is never saved here: in Excel the user decides when to save.

Only the xlwings API is used (``Sheet.tables``, ``Table.range/resize``, ``Range.value/options/number_format``),
so a small stand-in that records these calls tests this module on Linux (tests/test_macros.py).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Collection, Iterator
from typing import Any

from openpyxl.formula.translate import Translator

from snop_xl import contract as C
from snop_xl.contract import charts as CH
from snop_xl.errors import SnopError
from snop_xl.io import grid as G
from snop_xl.io.base import FIT_ROWS, STAMP_PREFIX, BookIO
from snop_xl.io.parse import RawTable, is_blank, literal_entry
from snop_xl.io.grid import Grid
from snop_xl.io.styles import TABLE_STYLE

#: Names of the Dashboard's and the KPIs sheet's chart pictures (replaced, not stacked, on each run); the Dashboard's
#: picture of books drawn before it had tiles (removed: the tiles are where it was).
CHARTS_PICTURE = "snopDashboardChartGrid"
KPI_PICTURE = "snopKPICharts"
OLD_CHARTS_PICTURE = "snopDashboardCharts"

class XlwingsBook(BookIO):
    """An open ``xw.Book``. Writes go straight to Excel; save() does nothing (the user saves)."""

    live = True

    def __init__(self, book: Any):
        self.book = book
        self.path = getattr(book, "fullname", None)

    # ---- finding tables ------------------------------------------------------------------------------------
    def _find(self, spec: C.Table) -> tuple[Any, Any] | None:
        sheets = list(self.book.sheets)
        sheets.sort(key=lambda s: s.name != spec.sheet)  # its own sheet first, then anywhere
        for sheet in sheets:
            for table in sheet.tables:
                if table.name.lower() == spec.list_object.lower():
                    return sheet, table
        return None

    def has_table(self, spec: C.Table) -> bool:
        return self._find(spec) is not None

    def read_raw(self, spec: C.Table) -> RawTable:
        sheet, table = self._find(spec)
        rng = table.range
        grid = rng.options(ndim=2, err_to_str=True).value
        if getattr(table, "show_totals", False):
            grid = grid[:-1]
        return RawTable(sheet.name, list(grid[0]), [list(r) for r in grid[1:]], rng.row, rng.column)

    def sheet_values(self, name: str, calculated: bool = True) -> list[list[Any]] | None:
        if name not in [s.name for s in self.book.sheets]:
            return None
        used = self.book.sheets[name].used_range
        grid = [list(r) for r in used.options(ndim=2, err_to_str=True).value]
        width = used.column - 1 + max((len(r) for r in grid), default=0)
        return [[None] * width for _ in range(used.row - 1)] + [[None] * (used.column - 1) + r for r in grid]

    # ---- writing -------------------------------------------------------------------------------------------
    def _sheet(self, name: str) -> Any:
        names = [s.name for s in self.book.sheets]
        if name in names:
            return self.book.sheets[name]
        return self.book.sheets.add(name, after=self.book.sheets[len(names) - 1])

    @contextlib.contextmanager
    def _quiet(self) -> Iterator[None]:
        """No screen redraw or recalculation while a block is written (one repaint at the end)."""
        app = getattr(self.book, "app", None)
        props = getattr(app, "properties", None)
        with props(screen_updating=False) if callable(props) else contextlib.nullcontext():
            yield

    def write_rows(self, spec: C.Table, rows: list[list[Any]], header: list[str] | None = None) -> None:
        header = header or spec.headers
        width = len(header)
        with self._quiet():
            found = self._find(spec)
            if found is not None and C.moved_by_contract(spec, found[0].name, found[1].range.column):
                found[1].api.Delete()  # the ListObject and its cells; written again where it belongs below
                self.log("io", f"table {spec.list_object} moved from sheet {found[0].name} to "
                         f"{spec.sheet}!{spec.anchor}", location=f"{spec.sheet}!{spec.anchor}")
                found = None
            if found is not None:
                sheet, table = found
                body = table.data_body_range
                if body is not None:
                    body.clear_contents()
                first_row, first_col = table.range.row, table.range.column
            else:
                sheet = self._sheet(spec.sheet)
                table = None
                first_row, first_col = 1, spec.first_column
            block = [list(header)] + [list(r) for r in rows] if rows else [list(header), [None] * width]
            top_left = sheet.range((first_row, first_col))
            top_left.value = [[literal_entry(v) for v in r] for r in block]  # texts stay texts
            self._formats(sheet, spec, first_row + 1, first_col, block[1:], width)
            self._align(sheet, spec, first_row + 1, first_col, len(block) - 1, width)
            if spec.role is C.Role.OUTPUT:  # wide enough for what was written (no ##### in Excel), as headless
                sheet.range((first_row, first_col), (first_row + min(len(block) - 1, FIT_ROWS),
                                                      first_col + width - 1)).columns.autofit()
                for j, column in enumerate(spec.columns[:width]):
                    if column.width:
                        sheet.range((first_row, first_col + j)).column_width = column.width
            target = sheet.range((first_row, first_col), (first_row + len(block) - 1, first_col + width - 1))
            if table is None:
                sheet.tables.add(source=target, name=spec.list_object, table_style_name=TABLE_STYLE[spec.role])
            else:
                table.resize(target)

    def append_rows(self, spec: C.Table, rows: list[list[Any]]) -> None:
        found = self._find(spec)
        if found is None:
            self.write_rows(spec, rows)
            return
        sheet, table = found
        rng = table.range
        grid = rng.options(ndim=2).value
        last = len(grid) - 1  # index of the last non-blank data row (0 = header only)
        while last > 0 and all(is_blank(v) for v in grid[last]):
            last -= 1
        if not rows:
            return
        with self._quiet():
            start = rng.row + last + 1
            sheet.range((start, rng.column)).value = [[literal_entry(v) for v in r] for r in rows]
            self._formats(sheet, spec, start, rng.column, rows, rng.columns.count)
            self._align(sheet, spec, start, rng.column, len(rows), rng.columns.count)
            end = max(start + len(rows) - 1, rng.row + rng.rows.count - 1)
            table.resize(sheet.range((rng.row, rng.column), (end, rng.column + rng.columns.count - 1)))

    def _formats(self, sheet: Any, spec: C.Table, row: int, col: int, rows: list[list[Any]], width: int) -> None:
        """The contract's number format on each written column (one call per column; one per cell where the
        format depends on the row, as on the Dashboard)."""
        if not rows:
            return
        for j, fmt in enumerate(spec.cell_formats((), width, self.currency)):
            if j < len(spec.columns) and spec.columns[j].fmt_by:
                for i, values in enumerate(rows):
                    cell_fmt = spec.cell_formats(values, width, self.currency)[j]
                    if cell_fmt:
                        sheet.range((row + i, col + j)).number_format = cell_fmt
            elif fmt:
                sheet.range((row, col + j), (row + len(rows) - 1, col + j)).number_format = fmt

    def _align(self, sheet: Any, spec: C.Table, row: int, col: int, n_rows: int, width: int) -> None:
        """A table with a wrapping column (`C.Column.wrap`, as `openpyxl_book.cell_alignment`): rows top-aligned
        and as tall as their text, the wrapping column's text wrapped and indented off the numbers to its left."""
        if not spec.wraps or n_rows < 1:
            return
        block = sheet.range((row, col), (row + n_rows - 1, col + width - 1))
        block.vertical_alignment = "top"
        for j, column in enumerate(spec.columns[:width]):
            if column.wrap:
                cells = sheet.range((row, col + j), (row + n_rows - 1, col + j))
                cells.wrap_text = True
                api = getattr(cells, "api", None)
                if api is not None and sys.platform == "win32":  # xlwings has no absolute indent: Excel's own
                    api.IndentLevel = 1
        block.rows.autofit()

    # ---- after the outputs are written ---------------------------------------------------------------------------
    def draw_charts(self, hosts: Collection[str] | None = None) -> None:
        """The Dashboard's headline tiles and its charts as one picture, the KPIs sheet's trend charts as another
        (`C.CHARTS`, `C.KPI_CHARTS`: what headless draws natively, laid out where it draws them), each replaced on
        every run, and the Exceptions' Go To cells as links. (Native Excel charts are drawn headless by
        `OpenpyxlBook`.) All are a courtesy: if Excel refuses one, the outputs stay written and the Log says what
        was not drawn. `hosts`: only those on these sheets (None: all)."""
        for host, what, draw in ((C.DASHBOARD.sheet, "Dashboard charts", self._draw_dashboard),
                                 (C.KPI_TREND.sheet, "KPI charts", self._draw_kpis),
                                 (C.EXCEPTIONS.sheet, "Go To links", self._link_exceptions)):
            if hosts is not None and host not in hosts:
                continue
            try:
                with self._quiet():
                    draw()
            except Exception as exc:
                self.log("review", f"{what} not drawn: {type(exc).__name__}: {exc}", level="WARNING")

    def _draw_dashboard(self) -> None:
        sheet = next((s for s in self.book.sheets if s.name == C.DASHBOARD.sheet), None)
        if sheet is not None and OLD_CHARTS_PICTURE in sheet.pictures:  # drawn before the tiles, where they go now
            sheet.pictures[OLD_CHARTS_PICTURE].delete()
        self._draw_specs(C.DASHBOARD.sheet, C.CHARTS, CHARTS_PICTURE)

    def _draw_kpis(self) -> None:
        self._draw_specs(C.KPI_TREND.sheet, C.KPI_CHARTS, KPI_PICTURE)

    def _draw_specs(self, host: str, specs: Any, name: str) -> None:
        """The charts `specs` describe as one picture `name` over the places headless draws them natively
        (`CH.charts_block`), the Dashboard's tiles above it; nothing while the first spec's table is empty (its
        step has not run yet, or no published cycle has actuals)."""
        from snop_xl.io.pictures import panels_figure, spec_panels  # matplotlib: loaded only when drawn

        tables = {spec.table for spec in specs}
        if not all(self.has_table(C.table(t)) for t in tables):
            return
        frames = {t: self.read_table(t)[0] for t in tables}
        panels = spec_panels(frames, specs)
        if frames[specs[0].table].empty or not panels:
            return
        self._draw_canvas(host)
        block = CH.charts_block(host, len(panels))
        self._picture(host, name, panels_figure(panels, (block.width / 2.54, block.height / 2.54)), block)

    def _draw_canvas(self, host: str) -> None:
        """What `OpenpyxlBook` draws around its native charts (`openpyxl_book._draw_canvas`): the columns sized as
        `CH.canvas_widths` says and, on the Dashboard, the title and headline tiles (`CH.canvas_cells`)."""
        sheet = self.book.sheets[host]
        for c, width in CH.canvas_widths(host).items():
            sheet.range((1, c)).column_width = width
        if host != C.DASHBOARD.sheet:
            return
        frames = {t.name: self.read_table(t)[0].to_dict("records") for t in (C.DASHBOARD, C.KPI_TREND)
                  if self.has_table(t)}
        for r, height in CH.canvas_heights(host).items():
            sheet.range((r, 1)).row_height = height
        for cell in CH.canvas_cells(frames, self.currency):
            size, bold, color, fill, wraps, across = CH.TILE_STYLES[cell.style]
            rng = sheet.range((cell.row, cell.col))
            rng.value = cell.value if cell.formula else literal_entry(cell.value)
            rng.number_format = cell.number_format or "General"
            font = rng.font
            font.size, font.bold, font.color = size, bold, f"#{color}"
            rng.color = f"#{fill}" if fill else None
            rng.wrap_text = wraps
            rng.horizontal_alignment, rng.vertical_alignment = across, "top" if wraps else "center"
            api = getattr(rng, "api", None)
            if cell.style == "value" and api is not None and sys.platform == "win32":  # no xlwings name for it
                api.ShrinkToFit = True

    def _picture(self, host: str, name: str, fig: Any, place: CH.Place) -> None:
        """`fig` as picture `name` on sheet `host` at `place` (an older one of that name replaced)."""
        from snop_xl.io.pictures import plt  # matplotlib: loaded only when drawn

        try:
            sheet = self.book.sheets[host]
            width, height = place.width / 2.54 * 72, place.height / 2.54 * 72  # points
            picture = sheet.pictures.add(fig, name=name, update=True, anchor=sheet.range((place.row, place.col)),
                                         width=width, height=height)
            picture.width, picture.height = width, height  # an updated picture keeps the old one's size
        finally:
            plt.close(fig)

    def _link_exceptions(self) -> None:
        found = self._find(C.EXCEPTIONS)
        body = found[1].data_body_range if found is not None else None
        if body is None:
            return
        j = C.EXCEPTIONS.keys.index("link")
        for i, row in enumerate(body.options(ndim=2).value):
            target = row[j]
            if isinstance(target, str) and "!" in target:
                found[0].range((body.row + i, body.column + j)).add_hyperlink("#" + target, target, f"Go to {target}")

    # ---- the "Published" stamp (Excel's object model through ``sheet.api``; Windows COM names) ---------------
    def _sheet_api(self, name: str) -> Any:
        """The Excel Worksheet object of sheet `name` (None: no such sheet, or a stand-in without one)."""
        sheet = next((s for s in self.book.sheets if s.name == name), None)
        return getattr(sheet, "api", None)

    def _stamp_sheet(self, sheet: str, text: str) -> None:
        api = self._sheet_api(sheet)
        if api is not None:
            api.PageSetup.CenterHeader = text
            api.Protect()  # no password: Review > Unprotect Sheet lifts it

    def _unstamp_sheet(self, sheet: str) -> None:
        api = self._sheet_api(sheet)
        if api is None:
            return
        if api.ProtectContents:
            try:
                api.Unprotect()
            except Exception as exc:  # a password someone set: Excel cannot write the sheet without it
                raise SnopError(f"sheet {sheet!r} is protected with a password; unprotect it (Review > Unprotect "
                                f"Sheet) so the plan can be written ({exc})") from None
        if str(api.PageSetup.CenterHeader or "").startswith(STAMP_PREFIX):
            api.PageSetup.CenterHeader = ""

    # ---- review sheets -------------------------------------------------------------------------------------
    def write_grid(self, grid: Grid) -> None:
        """Rewrite a review sheet whole: one block of values and formulas, then formats, fills and widths; the
        outline, frozen panes and the guard on calculated cells through Excel's object model."""
        self.unstamp([grid.sheet])
        with self._quiet():
            sheet = self._sheet(grid.sheet)
            sheet.clear()
            block = [[str(v) if isinstance(v, G.Formula) else literal_entry(v) for v in row] for row in grid.rows]
            sheet.range((1, 1)).value = block
            last = len(grid.rows)
            first_row, first_col = grid.freeze
            sheet.range((first_row, first_col), (last, grid.width)).number_format = grid.number_format
            sheet.range((grid.header_row, first_col), (grid.header_row, grid.width)).number_format = \
                grid.date_format
            for r, fmt in grid.row_formats.items():
                sheet.range((r, first_col), (r, grid.width)).number_format = fmt
            for c, kind in enumerate(grid.columns, start=1):
                if kind in G.FILLS:
                    sheet.range((grid.header_row + 1, c), (last, c)).color = _rgb(G.FILLS[kind])
            for r, style in enumerate(grid.row_styles, start=1):
                if style in G.FILLS:
                    row = sheet.range((r, 1), (r, grid.width))
                    row.color = _rgb(G.FILLS[style])
                    row.font.bold = True
            for r1, c1, r2, c2 in grid.inputs:
                cells = sheet.range((r1, c1), (r2, c2))
                cells.color = _rgb(G.FILLS["input"])
                cells.font.color = _rgb(G.INPUT_FONT)
            sheet.range((1, 1)).font.bold = True
            for c, width in enumerate(grid.widths, start=1):
                sheet.range((1, c)).column_width = width
            api = getattr(sheet, "api", None)
            if api is not None and sys.platform == "win32":  # xlwings has no outline, panes or validation
                _excel_grid_extras(sheet, api, grid)

    def __repr__(self) -> str:
        return f"XlwingsBook({self.path!r})"



def _rgb(hex_color: str) -> tuple[int, int, int]:
    return int(hex_color[0:2], 16), int(hex_color[2:4], 16), int(hex_color[4:6], 16)


def _excel_grid_extras(sheet: Any, api: Any, grid: Grid) -> None:
    """Outline levels (items folded under their family), frozen panes at the first month and the guard that
    refuses typing over calculated cells (Windows COM names; Excel constants spelled out)."""
    api.Outline.SummaryRow = 0  # xlAbove: a family's rows sit above its items
    for r, level in enumerate(grid.row_levels, start=1):
        if level:
            api.Rows(r).OutlineLevel = level + 1  # Excel counts the always-shown rows as level 1
    api.Outline.ShowLevels(RowLevels=2)
    sheet.activate()
    window = sheet.book.app.api.ActiveWindow
    window.FreezePanes = False
    window.ScrollRow, window.ScrollColumn = 1, 1
    api.Cells(*grid.freeze).Select()
    window.FreezePanes = True
    for ref in G.calculated_ranges(grid):
        validation = api.Range(ref).Validation
        validation.Delete()
        validation.Add(Type=7, AlertStyle=1, Formula1="=FALSE")  # xlValidateCustom, xlValidAlertStop
        validation.ErrorTitle, validation.ErrorMessage = "Calculated cell", G.GUARD_MESSAGE
    _excel_highlights(api, grid)
    api.Cells(*grid.freeze).Select()


#: Excel's colours are BGR integers; the light red / green fills and dark fonts of Excel's own presets
_RED, _RED_TEXT, _GREEN, _GREEN_TEXT = 0xCEC7FF, 0x06009C, 0xCEEFC6, 0x006100
_SCALE = ((0, 0x7BBE63), (0.85, 0x84EBFF), (1, 0x6B69F8))  # heat: value and BGR colour, as the openpyxl writer


def _excel_highlights(api: Any, grid: Grid) -> None:
    """The grid's conditional formats as FormatConditions (Excel constants spelled out). A range list longer than
    Excel's 255-character address limit is added in parts; a "below" condition, relative to the first cell, is
    moved to each part's first cell, which is selected while it is added (Excel reads relative references from
    the active cell)."""
    for h in grid.highlights:
        areas = h.ref.split()
        for part in _address_parts(areas):
            rng = api.Range(part)
            conditions = rng.FormatConditions
            if h.kind == "heat":
                scale = conditions.AddColorScale(ColorScaleType=3)
                for k, (value, color) in enumerate(_SCALE, start=1):
                    criterion = scale.ColorScaleCriteria(k)
                    criterion.Type, criterion.Value = 0, value  # xlConditionValueNumber
                    criterion.FormatColor.Color = color
                continue
            if h.kind == "below":
                first = part.split(",")[0].split(":")[0]
                formula = Translator("=" + h.formula, origin=areas[0].split(":")[0]).translate_formula(first)
                api.Range(first).Select()
                rules = [(conditions.Add(Type=2, Formula1=formula), _RED, _RED_TEXT)]  # xlExpression
            else:
                limit = "0" if h.kind == "negative" else h.formula or "0"
                rules = []
                if h.kind == "favourable":
                    rules.append((conditions.Add(Type=1, Operator=5, Formula1=f"={limit}"), _GREEN, _GREEN_TEXT))
                low = h.kind in ("negative", "favourable")  # xlCellValue; xlGreater 5, xlLess 6
                bound = f"=-{limit}" if h.kind == "favourable" else f"={limit}"
                rules.append((conditions.Add(Type=1, Operator=6 if low else 5, Formula1=bound), _RED, _RED_TEXT))
            for rule, fill, font in rules:
                rule.Interior.Color, rule.Font.Color = fill, font


def _address_parts(areas: list[str], limit: int = 250) -> list[str]:
    """Comma-joined runs of A1 areas, each within Excel's address length limit."""
    parts: list[str] = []
    for area in areas:
        if parts and len(parts[-1]) + 1 + len(area) <= limit:
            parts[-1] += "," + area
        else:
            parts.append(area)
    return parts
