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
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections import defaultdict
from tempfile import NamedTemporaryFile
from typing import Any, BinaryIO
from xml.sax.saxutils import escape, quoteattr

from openpyxl.cell._writer import etree_write_cell
from openpyxl.comments.comment_sheet import CommentRecord
from openpyxl.drawing.spreadsheet_drawing import SpreadsheetDrawing
from openpyxl.utils import get_column_letter
from openpyxl.utils.datetime import to_excel
from openpyxl.worksheet._writer import WorksheetWriter
from openpyxl.writer.excel import ExcelWriter
from openpyxl.xml import LXML

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


class FastWorksheetWriter(WorksheetWriter):
    """openpyxl's WorksheetWriter with the rows formatted by `write_sheet_data`."""

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


def write_sheet_data(ws: Any, out: BinaryIO) -> None:
    """The <row> elements of worksheet `ws`, as openpyxl's WorksheetWriter.write_rows writes them."""
    by_row: dict[int, list[Any]] = defaultdict(list)
    for key in sorted(ws._cells):
        by_row[key[0]].append(ws._cells[key])
    dims = ws.row_dimensions
    for r in dims.keys() - by_row.keys():
        by_row[r] = []
    letters: dict[int, str] = {}
    style_ids: dict[tuple, str] = {}
    texts: dict[str, str] = {}  # text -> its <t> element: names and labels repeat down a long table
    styles = ws.parent._cell_styles
    dates_as_numbers, epoch = not ws.parent.iso_dates, ws.parent.epoch
    chunk: list[str] = []
    for r in sorted(by_row):
        attrs = {"r": str(r)}
        if r in dims:
            attrs.update(dims[r])
        chunk.append("<row" + "".join(f" {k}={quoteattr(str(v))}" for k, v in attrs.items()) + ">")
        for cell in by_row[r]:
            if cell._comment is not None:
                ws._comments.append(CommentRecord.from_cell(cell))
            style = cell._style
            styled = style is not None and any(style)
            value = cell._value
            if value is None and not styled and cell._comment is None:
                continue
            col = cell.column
            letter = letters.get(col) or letters.setdefault(col, get_column_letter(col))
            s = ""
            if styled:
                key = tuple(style)
                s = style_ids.get(key)
                if s is None:
                    s = style_ids[key] = f' s="{styles.add(style)}"'
            head, kind, data_type, xml = f'<c r="{letter}{r}"{s}', type(value), cell.data_type, None
            if cell.hyperlink is not None:  # openpyxl's writer also lists the link for the sheet's hyperlinks
                pass
            elif data_type == "n":
                if value is None:
                    xml = f'{head} t="n"/>'
                elif kind is int or (kind is float and value - value == 0):  # not NaN or infinite
                    xml = f'{head} t="n"><v>{"%.16g" % value}</v></c>'
            elif data_type == "s":
                if value is None or value == "":
                    xml = f'{head} t="inlineStr"/>'
                elif kind is str:
                    t = texts.get(value)
                    if t is None:
                        space = ' xml:space="preserve"' if value != value.strip() else ""
                        t = texts[value] = f"<t{space}>{escape(value, _TEXT_ESCAPES)}</t>"
                    xml = f'{head} t="inlineStr"><is>{t}</is></c>'
            elif data_type == "f":
                if kind is str:  # a formula, without its value
                    xml = f'{head}><f>{escape(value[1:], _TEXT_ESCAPES)}</f><v/></c>'
            elif data_type == "b":
                if kind is bool:
                    xml = f'{head} t="b"><v>{int(value)}</v></c>'
            elif data_type == "d" and kind is dt.datetime and value.tzinfo is None and dates_as_numbers:
                xml = f'{head} t="n"><v>{"%.16g" % to_excel(value, epoch)}</v></c>'  # the date's serial number
            chunk.append(xml if xml is not None else _openpyxl_cell(ws, cell, styled).decode())
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
