"""A faster serialiser for openpyxl's worksheet cells: the same XML openpyxl writes, without its per-cell XML tree.

openpyxl writes every cell through an XML element writer (et_xmlfile, or lxml's incremental writer): 8-40 us a cell,
which made saving a 2,000-item book (3 million cells, most of them in the KPIs, DemandPlan and SupplyPlan tables)
cost as much as planning it. Numbers, texts, dates, booleans, formulas and styled blanks (nearly every cell the
model writes) are formatted here as strings, exactly as openpyxl formats them ("%.16g" numbers, inline strings,
`xml:space="preserve"` where a text has outer spaces, dates as serial numbers, formulas without a value); every
other cell (errors, rich text, array formulas, NaN, dates with a time zone, hyperlinks) still goes through
openpyxl's own cell writer. The worksheet around the rows (views, columns, tables, conditional formats,
hyperlinks, comments) is openpyxl's, untouched: its row data is written to a side file while openpyxl writes the
rest, and spliced in where openpyxl wrote an empty sheetData.

A long output table need not become openpyxl cells at all (`add_block`): its rows wait in the sheet's cell dict
(`PendingCells`) and are formatted straight from their values here, as their cells would have been. Anything that
reads or changes the sheet's cells first turns the waiting rows into cells (the same cells the table would have had),
so no reader ever sees a sheet without them.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from tempfile import NamedTemporaryFile
from typing import Any, BinaryIO
from xml.sax.saxutils import escape, quoteattr

from openpyxl.cell._writer import etree_write_cell
from openpyxl.styles.cell_style import StyleArray
from openpyxl.worksheet.dimensions import SheetDimension
from openpyxl.comments.comment_sheet import CommentRecord
from openpyxl.drawing.spreadsheet_drawing import SpreadsheetDrawing
from openpyxl.utils import get_column_letter
from openpyxl.utils.datetime import to_excel
from openpyxl.worksheet._writer import WorksheetWriter
from openpyxl.writer.excel import ExcelWriter
from openpyxl.xml import LXML

from snop_xl.io.parse import EXCEL_CELL_CHARS

if LXML:
    from lxml.etree import tostring
else:
    from xml.etree.ElementTree import tostring

#: Text openpyxl's writer puts inside the empty sheetData; replaced by the rows (no cell can hold it: there are none)
_MARK = "snop-xl rows 8d0c61e2"
_TEXT_ESCAPES = {"\r": "&#13;"}  # lxml writes a carriage return in text as a character reference; so do we


class _Elements:
    """Stands in for openpyxl's XML stream: collects what its cell writer writes."""

    def __init__(self) -> None:
        self.written: list[Any] = []

    def write(self, element: Any) -> None:
        self.written.append(element)


def _openpyxl_cell(ws: Any, cell: Any, styled: bool) -> bytes:
    """The cell as openpyxl's own writer writes it (errors, rich text, array formulas, NaN, hyperlinks, ...)."""
    out = _Elements()
    etree_write_cell(out, ws, cell, styled)
    return b"".join(tostring(e) for e in out.written)


def number_format_style(format_id: int) -> StyleArray:
    """The style `cell.number_format = ...` gives a cell that had none: only its number format id set."""
    style = StyleArray()
    style.numFmtId = format_id
    return style


@dataclass(eq=False)  # one block is itself only (no comparison of its rows)
class Block:
    """Rows of a table not (yet) made into cells: row `top` + i holds `rows[i]` from column `first`, cell j with the
    number format id `formats[i][j]`. `make_cells()` makes them the sheet's cells; `make_cell(row, col, value,
    format_id)` makes one such cell apart from the sheet (for a value formatted by openpyxl's own writer)."""
    top: int
    first: int
    rows: list[list[Any]]
    formats: list[list[int | None]]
    make_cells: Callable[[], None]
    make_cell: Callable[[int, int, Any, int | None], Any]
    datetime_format: int | None = None  # the format id openpyxl gives a cell a date-time is put in (before its own)

    def __post_init__(self) -> None:
        self.width = max((len(values) for values in self.rows), default=0)

    def holds(self, key: tuple[int, int]) -> bool:
        r, c = key
        return self.top <= r < self.top + len(self.rows) and self.first <= c < self.first + self.width


class PendingCells(dict):
    """A worksheet's cell dict (`ws._cells`) with `blocks` of rows waiting to become cells. Every dict operation
    first makes them cells (`materialize`): a lookup of one cell only the block that holds it, anything that walks
    the whole dict all of them; so openpyxl and every reader see the cells. Only `write_sheet_data` and `dimension`
    read the blocks as they are."""

    __slots__ = ("blocks",)

    def __init__(self, cells: dict) -> None:
        super().__init__(cells)
        self.blocks: list[Block] = []

    def materialize(self, key: tuple[int, int] | None = None) -> None:
        """Make cells of every block (of the block holding `key`, when given)."""
        due = [b for b in self.blocks if key is None or b.holds(key)]
        if due:
            self.blocks = [b for b in self.blocks if b not in due]
            for block in due:
                block.make_cells()


def _materializing(name: str, by_key: bool) -> Callable[..., Any]:
    method = getattr(dict, name)

    def call(self: PendingCells, *args: Any, **kwargs: Any) -> Any:
        if self.blocks:
            key = args[0] if by_key and args else None
            self.materialize(key if isinstance(key, tuple) and len(key) == 2 else None)
        return method(self, *args, **kwargs)
    call.__name__ = name
    return call


for _name in ("__getitem__", "__setitem__", "__delitem__", "__contains__", "get", "pop", "setdefault"):
    setattr(PendingCells, _name, _materializing(_name, by_key=True))
for _name in ("__iter__", "__len__", "__reversed__", "__eq__", "__ne__", "__or__", "__ior__", "__repr__", "keys",
              "values", "items", "popitem", "update", "clear", "copy"):
    setattr(PendingCells, _name, _materializing(_name, by_key=False))


def add_block(ws: Any, block: Block) -> None:
    """Let `block`'s rows wait in `ws`'s cell dict instead of becoming cells now (its area holds no cell)."""
    if not isinstance(ws._cells, PendingCells):
        ws._cells = PendingCells(ws._cells)
    ws._cells.blocks.append(block)


def dimension(ws: Any) -> str:
    """`ws.calculate_dimension()` over its cells and waiting rows, as if every waiting value were a cell."""
    cells = ws._cells
    blocks = cells.blocks if isinstance(cells, PendingCells) else []
    if not blocks:
        return ws.calculate_dimension()
    keys = list(dict.keys(cells))
    rows, cols = [r for r, _ in keys], [c for _, c in keys]
    for b in blocks:
        filled = [i for i, values in enumerate(b.rows) if values]  # a row's values are cells, blank ones too
        if filled:
            rows += [b.top + filled[0], b.top + filled[-1]]
            cols += [b.first, b.first + b.width - 1]
    if not rows or not cols:
        return "A1:A1"
    return f"{get_column_letter(min(cols))}{min(rows)}:{get_column_letter(max(cols))}{max(rows)}"


class FastWorksheetWriter(WorksheetWriter):
    """openpyxl's WorksheetWriter with the rows formatted by `write_sheet_data`."""

    def write_dimensions(self) -> None:
        self.xf.send(SheetDimension(dimension(self.ws)).to_tree())

    def write_rows(self) -> None:
        xf = self.xf.send(True)
        with xf.element("sheetData"):
            xf.write(_MARK)
        self.xf.send(None)
        with NamedTemporaryFile("wb", prefix="snop-xl.rows.", delete=False) as rows:
            self._rows_file = rows.name
            write_sheet_data(self.ws, rows)

    def write(self) -> None:
        try:
            super().write()
            _splice(self.out, self._rows_file)
        finally:
            if getattr(self, "_rows_file", None):
                os.remove(self._rows_file)


def _splice(path: str, rows_file: str) -> None:
    """Put the rows in `rows_file` where openpyxl's worksheet XML at `path` holds the mark."""
    with open(path, "rb") as f:
        head, tail = f.read().split(_MARK.encode())
    with open(path, "wb") as out, open(rows_file, "rb") as rows:
        out.write(head)
        shutil.copyfileobj(rows, out, 1 << 20)
        out.write(tail)


def _value_xml(head: str, value: Any, data_type: str, texts: dict[str, str], dates_as_numbers: bool,
               epoch: Any) -> str | None:
    """A cell's XML from its start `<c r=".." s=".."`, value and data type, as openpyxl writes it; None for the
    cells left to openpyxl's own writer."""
    kind = type(value)
    if data_type == "n":
        if value is None:
            return f'{head} t="n"/>'
        if kind is int or (kind is float and value - value == 0):  # not NaN or infinite
            return f'{head} t="n"><v>{"%.16g" % value}</v></c>'
    elif data_type == "s":
        if value is None or value == "":
            return f'{head} t="inlineStr"/>'
        if kind is str:
            t = texts.get(value)
            if t is None:
                space = ' xml:space="preserve"' if value != value.strip() else ""
                t = texts[value] = f"<t{space}>{escape(value, _TEXT_ESCAPES)}</t>"
            return f'{head} t="inlineStr"><is>{t}</is></c>'
    elif data_type == "f":
        if kind is str:  # a formula, without its value
            return f'{head}><f>{escape(value[1:], _TEXT_ESCAPES)}</f><v/></c>'
    elif data_type == "b":
        if kind is bool:
            return f'{head} t="b"><v>{int(value)}</v></c>'
    elif data_type == "d" and kind is dt.datetime and value.tzinfo is None and dates_as_numbers:
        return f'{head} t="n"><v>{"%.16g" % to_excel(value, epoch)}</v></c>'  # the date's serial number
    return None


def write_sheet_data(ws: Any, out: BinaryIO) -> None:
    """The <row> elements of worksheet `ws`, as openpyxl's WorksheetWriter.write_rows writes them (with the rows
    of its blocks, see `add_block`, formatted as their cells would be)."""
    cells = ws._cells
    blocks = cells.blocks if isinstance(cells, PendingCells) else []
    by_row: dict[int, list[Any]] = defaultdict(list)
    for key in sorted(dict.keys(cells)):
        by_row[key[0]].append(dict.__getitem__(cells, key))
    block_rows: dict[int, list[tuple[Block, int]]] = defaultdict(list)
    for block in blocks:
        for i, values in enumerate(block.rows):
            if values:
                block_rows[block.top + i].append((block, i))
    dims = ws.row_dimensions
    for r in (dims.keys() | block_rows.keys()) - by_row.keys():
        by_row[r] = []
    letters: dict[int, str] = {}
    style_ids: dict[tuple, str] = {}
    texts: dict[str, str] = {}  # text -> its <t> element: names and labels repeat down a long table
    styles = ws.parent._cell_styles
    dates_as_numbers, epoch = not ws.parent.iso_dates, ws.parent.epoch

    def style_attr(style: Any) -> str:
        key = tuple(style)
        found = style_ids.get(key)
        if found is None:
            found = style_ids[key] = f' s="{styles.add(style)}"'
        return found

    def letter_of(col: int) -> str:
        return letters.get(col) or letters.setdefault(col, get_column_letter(col))

    def cell_xml(cell: Any, r: int) -> str | None:
        if cell._comment is not None:
            ws._comments.append(CommentRecord.from_cell(cell))
        style = cell._style
        styled = style is not None and any(style)
        value = cell._value
        if value is None and not styled and cell._comment is None:
            return None
        head = f'<c r="{letter_of(cell.column)}{r}"{style_attr(style) if styled else ""}'
        xml = None if cell.hyperlink is not None else _value_xml(head, value, cell.data_type, texts,
                                                                  dates_as_numbers, epoch)
        return xml if xml is not None else _openpyxl_cell(ws, cell, styled).decode()

    format_styles: dict[int, str] = {}  # number format id -> the s attribute of a cell that has only it

    def format_attr(format_id: int) -> str:
        found = format_styles.get(format_id)
        if found is None:
            found = format_styles[format_id] = style_attr(number_format_style(format_id))
        return found

    def block_xml(block: Block, i: int, r: int) -> list[str]:
        """Row i of `block` (sheet row r), as `OpenpyxlBook.write_rows` would have made and styled its cells."""
        values, ids = block.rows[i], block.formats[i]
        out: list[str] = []
        for j, value in enumerate(values):
            if value is None:  # a blank with no format: no cell written
                continue
            col, kind, fid = block.first + j, type(value), ids[j]
            if kind is str:
                data_type = "s"
            elif kind is float or kind is int:
                data_type = "n"
            elif kind is dt.datetime and value.tzinfo is None:
                data_type, fid = "d", block.datetime_format if fid is None else fid
            else:
                data_type = ""
            xml = None
            if data_type and (kind is not str or len(value) <= EXCEL_CELL_CHARS):
                head = f'<c r="{letter_of(col)}{r}"{"" if fid is None else format_attr(fid)}'
                xml = _value_xml(head, value, data_type, texts, dates_as_numbers, epoch)
            if xml is None:  # anything else: the cell itself, made as write_rows makes it
                xml = cell_xml(block.make_cell(r, col, value, ids[j]), r)
            if xml is not None:
                out.append(xml)
        return out

    chunk: list[str] = []
    for r in sorted(by_row):
        attrs = {"r": str(r)}
        if r in dims:
            attrs.update(dims[r])
        chunk.append("<row" + "".join(f" {k}={quoteattr(str(v))}" for k, v in attrs.items()) + ">")
        parts = [(cell.column, cell) for cell in by_row[r]]
        if r in block_rows:  # a block's cells sit in its own columns: placed among the others by column
            parts += [(block.first, (block, i)) for block, i in block_rows[r]]
            parts.sort(key=lambda part: part[0])
        for _, part in parts:
            if isinstance(part, tuple):
                chunk += block_xml(*part, r)
            else:
                xml = cell_xml(part, r)
                if xml is not None:
                    chunk.append(xml)
        chunk.append("</row>")
        if len(chunk) > 50_000:
            out.write("".join(chunk).encode())
            chunk.clear()
    out.write("".join(chunk).encode())


class FastExcelWriter(ExcelWriter):
    """openpyxl's ExcelWriter writing each worksheet through FastWorksheetWriter."""

    def write_worksheet(self, ws: Any) -> None:
        if self.workbook.write_only:  # not used by snop-xl; openpyxl's own path
            return super().write_worksheet(ws)
        ws._drawing = SpreadsheetDrawing()
        ws._drawing.charts = ws._charts
        ws._drawing.images = ws._images
        writer = FastWorksheetWriter(ws)
        writer.write()
        ws._rels = writer._rels
        self._archive.write(writer.out, ws.path[1:])
        self.manifest.append(ws)
        writer.cleanup()
