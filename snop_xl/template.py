"""Build workbook/SNOP_Template.xlsm on any OS, byte for byte the same from the same sources.

The template is the contract made visible: every sheet and Excel table of `snop_xl.contract` (via
`OpenpyxlBook.new`), input columns styled as inputs with drop-downs and checks, outputs styled as outputs, a
pre-filled Settings sheet, an Examples sheet using every SNOP_* function, a hidden ``xlwings.conf`` sheet, the VBA
project (xlwings' standalone module from the installed wheel, the ribbon callbacks in ``workbook/vba``, the UDF
wrappers generated from `udfs.functions`) and the ribbon ``workbook/customUI.xml``.

The build runs in three passes, because no single library writes all of it: openpyxl writes the sheets, pyOpenVBA
adds the VBA project, and a last pass over the zip adds the ribbon, sets the macro-enabled content type, fixes every
timestamp and writes the entries in a fixed order, so that CI can compare the committed file with a fresh build.
This is a developer/CI tool (extra ``build``); nothing here runs when planners use the workbook.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib.util
import io
import re
import sys
import tempfile
import types
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.formula import ArrayFormula

from . import contract as C
from .io.openpyxl_book import OpenpyxlBook, cell_alignment

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ROOT / "workbook"
TEMPLATE = SOURCES / "SNOP_Template.xlsm"
UDF_MODULE = "udfs.functions"
UDF_VBA_NAME = "SnopFunctions"
#: Every timestamp inside the file (zip entries, document properties): the build must not depend on the clock.
FIXED_TIME = dt.datetime(2026, 1, 1)
MACRO_WORKBOOK_TYPE = "application/vnd.ms-excel.sheet.macroEnabled.main+xml"
RIBBON_REL = "http://schemas.microsoft.com/office/2006/relationships/ui/extensibility"

INPUT_FONT = Font(name="Calibri", color="FF1F4E79")  # dark blue: a planner types here
INPUT_FILL = PatternFill("solid", fgColor="FFFFF2CC")  # light yellow: the cells to fill in
OUTPUT_FONT = Font(name="Calibri", color="FF404040")
NOTE_FONT = Font(name="Calibri", italic=True, color="FF595959")
TITLE_FONT = Font(name="Calibri", bold=True, size=14, color="FF1F4E79")
LABEL_FONT = Font(name="Calibri", bold=True)
MAX_VALIDATED_ROW = 5000  # drop-downs and checks cover this many rows of each input table


# ---------------------------------------------------------------------------------------------------------------
# The sheets
# ---------------------------------------------------------------------------------------------------------------
def build_sheets(path: Path) -> OpenpyxlBook:
    """The workbook's sheets: contract tables, styles, checks, Settings, Examples and xlwings.conf."""
    book = OpenpyxlBook.new(path)
    book.wb.properties.created = FIXED_TIME
    book.wb.properties.creator = "snop-xl"
    for spec in C.INPUT_TABLES + C.OUTPUT_TABLES:
        if spec.wide_periods:  # month columns are the planner's: typing a header beside the table extends it
            book.write_rows(spec, [], header=spec.headers)
        _style_table(book, spec)
    _fill_settings(book)
    _examples_sheet(book)
    _conf_sheet(book)
    book.wb.active = 0
    return book


#: Width of the Settings' description column (its text wraps).
SETTINGS_DOC_WIDTH = 100


def _fill_settings(book: OpenpyxlBook) -> None:
    """One row per contract setting: label, default value, description; each value cell checked as its type."""
    rows = [[s.label, _setting_value(s), s.doc] for s in C.SETTINGS]
    book.write_rows(C.SETTINGS_TABLE, rows)
    ws = book.wb[C.SETTINGS_TABLE.sheet]
    for r, setting in enumerate(C.SETTINGS, start=2):
        cell = ws.cell(r, 2)
        cell.font, cell.fill = INPUT_FONT, INPUT_FILL
        cell.alignment = Alignment(horizontal="left", vertical="top")
        ws.cell(r, 1).alignment = Alignment(vertical="top")
        cell.number_format = {C.PERCENT: "0.0%", C.PERIOD: "yyyy-mm", C.INTEGER: "0",
                              C.BOOL: '"TRUE";"TRUE";"FALSE"'}.get(setting.dtype, "General")  # LibreOffice: not 0/1
        ws.cell(r, 3).alignment = Alignment(wrap_text=True, vertical="top")  # long descriptions stay on the sheet
        lines = C.wrapped_lines(setting.doc, SETTINGS_DOC_WIDTH)
        if lines > 1:  # Excel does not grow a row for wrapped text on open
            ws.row_dimensions[r].height = C.LINE_HEIGHT * lines
        validation = _validation(setting.dtype, setting.choices, setting.min, setting.max, setting.label,
                                 setting.doc)
        if validation is not None:
            ws.add_data_validation(validation)
            validation.add(cell.coordinate)
    ws.column_dimensions["A"].width = 30
    ws.column_dimensions["B"].width = 14
    ws.column_dimensions["C"].width = SETTINGS_DOC_WIDTH
    # a short guide beside the table, so the first sheet tells a new planner what to do
    guide = ["How to use this workbook",
             "1. Fill the yellow cells here, then Items, History, Inventory, Capacity, ... (blue tabs).",
             "2. S&OP tab > Validate: every problem is listed with its cell on the Log sheet.",
             "3. Run the steps 1-5 in order, or Run all. Green tabs are written by the model: do not edit them.",
             "4. SNOP_* functions work in any cell: see the Examples sheet.",
             "Cycle month is required (first month of the plan, e.g. 2027-01)."]
    for i, text in enumerate(guide, start=1):
        ws.cell(len(C.SETTINGS) + 3 + i, 1, text).font = TITLE_FONT if i == 1 else NOTE_FONT


def _setting_value(setting: C.Setting) -> Any:
    if setting.default is None:
        return None
    if setting.dtype == C.BOOL:
        return bool(setting.default)
    return setting.default


def _validation(dtype: str, choices: tuple[str, ...], low: float | None, high: float | None, title: str,
                prompt: str) -> DataValidation | None:
    """An Excel data-validation rule for one kind of cell: a drop-down for choices, a range check for numbers."""
    kw: dict[str, Any] = dict(allow_blank=True, showErrorMessage=True, showInputMessage=bool(prompt),
                              promptTitle=title[:32], prompt=prompt[:255] or None, errorTitle=title[:32])
    if choices:
        return DataValidation(type="list", formula1='"' + ",".join(choices) + '"',
                              error=f"Choose one of {', '.join(choices)}."[:255], **kw)
    if dtype == C.BOOL:
        return DataValidation(type="list", formula1='"TRUE,FALSE"', error="Choose TRUE or FALSE.", **kw)
    if dtype in (C.NUMBER, C.INTEGER, C.PERCENT) and (low is not None or high is not None):
        kind = "whole" if dtype == C.INTEGER else "decimal"
        lo, hi = -1e15 if low is None else low, 1e15 if high is None else high
        shown = (lambda v: f"{v:.1%}") if dtype == C.PERCENT else (lambda v: f"{v:g}")
        text = (f"Enter a {'whole ' if kind == 'whole' else ''}number"
                + (f" from {shown(lo)}" if low is not None else "") + (f" up to {shown(hi)}" if high is not None else ""))
        return DataValidation(type=kind, operator="between", formula1=repr(float(lo)) if kind == "decimal" else
                              str(int(lo)), formula2=repr(float(hi)) if kind == "decimal" else str(int(hi)),
                              error=text + ".", **kw)
    if dtype in (C.PERIOD, C.DATE):
        return DataValidation(type="date", operator="greaterThan", formula1="1", error="Enter a date or a month "
                              "like 2027-01.", **kw)
    return None


def _style_table(book: OpenpyxlBook, spec: C.Table) -> None:
    """Number formats, widths and (for inputs) input styling and checks on every column of a table."""
    ws = book.wb[spec.sheet]
    first = spec.first_column
    for j, column in enumerate(spec.columns):
        letter = get_column_letter(first + j)
        dim = ws.column_dimensions[letter]
        dim.width = max(10, min(40, len(column.header) + 4, max(len(column.header), 12) + 2))
        if column.dtype == C.TEXT and column.key in ("description", "message", "note", "reason", "doc"):
            dim.width = 40
        dim.width = column.width or dim.width
        cell = ws.cell(2, first + j)
        if column.number_format:
            cell.number_format = column.number_format
        if spec.wraps:
            cell.alignment = cell_alignment(column)
        if column.doc:
            book_comment(ws.cell(1, first + j), column)
        if spec.role is C.Role.INPUT and spec is not C.SETTINGS_TABLE:
            cell.font, cell.fill = INPUT_FONT, INPUT_FILL
            validation = _validation(column.dtype, column.choices, column.min, column.max, column.header,
                                     column.doc)
            if validation is not None:
                ws.add_data_validation(validation)
                validation.add(f"{letter}2:{letter}{MAX_VALIDATED_ROW}")
        elif spec.role is C.Role.OUTPUT:
            cell.font = OUTPUT_FONT
    if spec.wide_periods:  # History: the item column stays in view while scrolling through the months
        ws.freeze_panes = "B2"
        ws.column_dimensions["B"].width = 10


def book_comment(cell: Any, column: C.Column) -> None:
    """The column's meaning as a header comment, so a planner sees it by hovering."""
    from openpyxl.comments import Comment

    unit = f" Unit: {column.unit}." if column.unit else ""
    text = f"{column.doc}{unit}"
    comment = Comment(text, "snop-xl")
    comment.width, comment.height = 240, 90
    cell.comment = comment


#: Sample numbers of the Examples sheet: 24 months of a seasonal series.
EXAMPLE_HISTORY = [112, 118, 132, 129, 121, 135, 148, 148, 136, 119, 104, 118,
                   115, 126, 141, 135, 125, 149, 170, 170, 158, 133, 114, 140]


def _examples_sheet(book: OpenpyxlBook) -> None:
    """Each SNOP_* function used once on sample numbers, with the formula shown beside it."""
    ws = book.wb.create_sheet("Examples")
    ws.sheet_properties.tabColor = "7F7F7F"
    ws.column_dimensions["A"].width = 32
    for letter in "BCDEFGHIJKLMNOPQRSTUVWXY":
        ws.column_dimensions[letter].width = 9
    ws["A1"] = "SNOP_* worksheet functions"
    ws["A1"].font = TITLE_FONT
    ws["A2"] = ("Sample numbers in blue; results in the grey cells. The formulas need Excel on Windows with the "
                "snop-xl Python package (see docs/functions.md).")
    ws["A2"].font = NOTE_FONT

    def label(row: int, text: str) -> None:
        ws.cell(row, 1, text).font = LABEL_FONT

    def data(row: int, values: list[Any], col: int = 2) -> str:
        for j, v in enumerate(values):
            c = ws.cell(row, col + j, v)
            c.font, c.fill = INPUT_FONT, INPUT_FILL
        return f"{get_column_letter(col)}{row}:{get_column_letter(col + len(values) - 1)}{row}"

    def result(row: int, col: int, formula: str, rows: int = 1, cols: int = 1, fmt: str = "#,##0",
               header: Alignment | None = None) -> None:
        """An (array) formula's cells; `header`: the alignment of a result whose first row is a header row."""
        ref = f"{get_column_letter(col)}{row}:{get_column_letter(col + cols - 1)}{row + rows - 1}"
        anchor = ws.cell(row, col)
        anchor.value = ArrayFormula(ref, formula) if rows * cols > 1 else formula
        for r in range(row, row + rows):
            for c in range(col, col + cols):
                ws.cell(r, c).number_format = fmt
                ws.cell(r, c).fill = PatternFill("solid", fgColor="FFF2F2F2")
                if header is not None and r == row:
                    ws.cell(r, c).alignment = header
        note = ws.cell(row + rows, col)  # the formula as text, so readers see what was typed
        note.value, note.data_type, note.font = formula, "s", NOTE_FONT
        note.alignment = Alignment(horizontal="left")

    label(4, "History (24 months)")
    hist = data(4, EXAMPLE_HISTORY)
    label(5, "SNOP_FORECAST (6 months)")
    result(5, 2, f"=SNOP_FORECAST({hist},6,\"auto\",12)", cols=6)

    label(8, "Actual")
    actual = data(8, [120, 135, 150, 128, 110, 142])
    label(9, "Forecast")
    fc = data(9, [118, 140, 141, 131, 119, 138])
    label(10, "SNOP_ACCURACY (WAPE)")
    result(10, 2, f"=SNOP_ACCURACY({actual},{fc},\"WAPE\")", fmt="0.0%")
    label(12, "SNOP_ACCURACY (BIAS)")
    result(12, 2, f"=SNOP_ACCURACY({actual},{fc},\"BIAS\")", fmt="0.0%")  # sum(F - A) / sum(A)

    label(14, "Lead time (months)")
    data(14, [2])
    label(15, "Service level")
    ws["B15"] = 0.95
    ws["B15"].number_format = "0%"
    ws["B15"].font, ws["B15"].fill = INPUT_FONT, INPUT_FILL
    label(16, "SNOP_SAFETY_STOCK")
    result(16, 2, f"=SNOP_SAFETY_STOCK({hist},B14,B15)")

    label(18, "Opening inventory")
    data(18, [300])
    label(19, "Supply")
    supply = data(19, [100, 150, 150, 100, 100, 150])
    label(20, "Demand")
    demand = data(20, [120, 135, 150, 128, 110, 142])
    label(21, "SNOP_INVENTORY")
    result(21, 2, f"=SNOP_INVENTORY(B18,{supply},{demand})", cols=6)
    label(23, "SNOP_DAYS_OF_SUPPLY")
    result(23, 2, f"=SNOP_DAYS_OF_SUPPLY(B21:G21,{demand},30)", cols=6, fmt="0.0")

    label(25, "Capacity per month")
    cap = data(25, [130])
    label(26, "SNOP_BALANCE (chase)")
    result(26, 2, f"=SNOP_BALANCE({demand},{cap},B18,50,\"chase\")", rows=3, cols=6)
    for i, text in enumerate(("production", "inventory", "shortage")):
        ws.cell(26 + i, 8, text).font = NOTE_FONT

    label(31, "Aggregate plan parameters")
    params = [("start_inventory", 300), ("min_end_inventory", 100), ("start_workforce", 3),
              ("hours_per_unit", 4), ("regular_hours_per_worker", 160), ("max_overtime_hours_per_worker", 20),
              ("cost_material", 10), ("cost_holding", 2), ("cost_backlog", 5), ("cost_hire", 300),
              ("cost_layoff", 500), ("cost_regular_hour", 4), ("cost_overtime_hour", 6), ("cost_subcontract", 30)]
    for i, (name, value) in enumerate(params):
        ws.cell(32 + i, 1, name)
        c = ws.cell(32 + i, 2, value)
        c.font, c.fill = INPUT_FONT, INPUT_FILL
    prange = f"A32:B{31 + len(params)}"
    label(48, "SNOP_AGGPLAN (optimal)")
    # its header names (overtime_production, ...) are wider than the month columns: written upwards
    result(48, 2, f"=SNOP_AGGPLAN({demand},{prange},\"optimal\")", rows=8, cols=12, fmt="#,##0",
           header=Alignment(horizontal="center", text_rotation=90))
    ws.row_dimensions[48].height = 105

    label(58, "Actual units / price")
    aq = data(58, [100, 80, 40])
    ap = data(59, [10.5, 20, 31])
    label(60, "Budget units / price")
    bq = data(60, [90, 100, 30])
    bp = data(61, [10, 21, 30])
    label(62, "SNOP_PVM")
    result(62, 2, f"=SNOP_PVM({aq},{ap},{bq},{bp})", rows=2, cols=4, fmt="#,##0.00",
           header=Alignment(horizontal="right"))
    label(65, "SNOP_VARIANCE (pct)")
    result(65, 2, f"=SNOP_VARIANCE({actual},{fc},\"pct\")", cols=6, fmt="0.0%")
    ws.freeze_panes = "B4"


#: xlwings.conf rows (A: key, B: value). Blank values fall back to xlwings' defaults (pythonw on the PATH).
CONF = (("Interpreter_Win", None), ("Interpreter_Mac", None), ("PYTHONPATH", None), ("UDF Modules", UDF_MODULE),
        ("Use UDF Server", False), ("Show Console", False))


def _conf_sheet(book: OpenpyxlBook) -> None:
    ws = book.wb.create_sheet("xlwings.conf")
    for r, (key, value) in enumerate(CONF, start=1):
        ws.cell(r, 1, key)
        if value is not None:
            ws.cell(r, 2, value)
    ws.column_dimensions["A"].width = 20
    ws.column_dimensions["B"].width = 60
    ws.sheet_state = "hidden"


# ---------------------------------------------------------------------------------------------------------------
# VBA
# ---------------------------------------------------------------------------------------------------------------
@contextlib.contextmanager
def _windows_stubs() -> Iterator[None]:
    """Let ``xlwings.udfs`` import on Linux/macOS: stub pywin32 for the duration, then restore sys.modules."""
    names = ("pythoncom", "pywintypes", "win32com", "win32com.client", "xlwings.udfs")
    saved = {n: sys.modules.get(n) for n in names}
    stub = types.ModuleType("stub")
    stub.CoInitialize = lambda *a: None
    stub.com_error = type("com_error", (Exception,), {})
    client = types.ModuleType("win32com.client")
    client.Dispatch = lambda *a, **k: None
    win32com = types.ModuleType("win32com")
    win32com.client = client
    try:
        if saved["pythoncom"] is None:  # on Windows the real modules are used
            sys.modules.update({"pythoncom": stub, "pywintypes": stub, "win32com": win32com,
                                "win32com.client": client})
            sys.modules.pop("xlwings.udfs", None)
        yield
    finally:
        for n, m in saved.items():
            if m is None:
                sys.modules.pop(n, None)
            else:
                sys.modules[n] = m


def decorated_udfs() -> types.ModuleType:
    """A private copy of `udfs.functions` loaded with xlwings' real decorators, so each carries ``__xlfunc__``.

    On Linux ``xw.func``/``xw.arg`` return the function unchanged; swapping in ``xlwings.udfs.xlfunc``/``xlarg``
    runs the same checks Excel's import runs (an ``@xw.arg`` naming a missing argument raises here).
    """
    import xlwings as xw

    with _windows_stubs():
        from xlwings import udfs as xl_udfs

        swapped = {"func": xl_udfs.xlfunc, "arg": xl_udfs.xlarg, "ret": xl_udfs.xlret, "sub": xl_udfs.xlsub}
        saved = {k: getattr(xw, k) for k in swapped}
        spec = importlib.util.find_spec(UDF_MODULE)
        module = importlib.util.module_from_spec(spec)
        try:
            for k, v in swapped.items():
                setattr(xw, k, v)
            spec.loader.exec_module(module)
        finally:
            for k, v in saved.items():
                setattr(xw, k, v)
        module.__dict__["_xlwings_udfs"] = xl_udfs
    return module


def udf_vba() -> str:
    """The VBA module of UDF wrappers, as ``xlwings.udfs.import_udfs`` would write it in Excel, plus registration.

    The registration Sub gives each function its category and argument help in Excel's function wizard.
    """
    module = decorated_udfs()
    xl_udfs = module.__dict__["_xlwings_udfs"]
    out = io.StringIO()
    out.write(f'Attribute VB_Name = "{UDF_VBA_NAME}"\n')
    out.write("'Generated by `snop-xl build-template` from udfs/functions.py: do not edit.\n")
    out.write('#Const App = "Microsoft Excel" \'Adjust when using outside of Excel\n')
    with _windows_stubs():
        xl_udfs.generate_vba_wrapper(UDF_MODULE, module, out, types.SimpleNamespace(Name="SNOP_Template.xlsm"))
    out.write("Public Sub RegisterSnopFunctions()\n")
    out.write("    ' Category and argument help for the function wizard (Excel 2010 and later).\n")
    out.write("    On Error Resume Next\n")
    for func in module.FUNCTIONS:
        meta = func.__xlfunc__
        args = ", ".join(_vba_string(a["doc"]) for a in meta["args"])
        out.write(f'    Application.MacroOptions Macro:="{meta["name"]}", '
                  f'Description:={_vba_string(meta["ret"]["doc"])}, Category:={_vba_string(meta["category"])}, '
                  f"ArgumentDescriptions:=Array({args})\n")
    out.write("End Sub\n")
    return _ascii_crlf(out.getvalue())


def _vba_string(text: str) -> str:
    text = " ".join(str(text).split())[:250]
    return '"' + text.replace('"', '""') + '"'


def _ascii_crlf(text: str) -> str:
    """VBA source is stored in a Windows code page: keep it ASCII, with CRLF line ends."""
    text.encode("ascii")  # raises on a non-ASCII character: fix the docstring or the .bas
    return text.replace("\r\n", "\n").replace("\n", "\r\n")


def xlwings_vba() -> tuple[str, str]:
    """xlwings' standalone VBA module and its Dictionary class, from the installed wheel (version-locked DLL)."""
    import xlwings

    base = Path(xlwings.__file__).parent
    return ((base / "xlwings.bas").read_text(encoding="ascii"),
            (base / "addin" / "Dictionary.cls").read_text(encoding="ascii"))


def vba_modules(sources: Path = SOURCES) -> dict[str, tuple[str, str]]:
    """Module name -> (kind, source) of the template's VBA project. kind: standard, class or document."""
    xlwings_bas, dictionary = xlwings_vba()
    modules = {"xlwings": ("standard", xlwings_bas), "Dictionary": ("class", dictionary)}
    for path in sorted((sources / "vba").glob("*.bas")):
        if path.stem == UDF_VBA_NAME:
            continue  # regenerated below from the decorators; the committed copy is for reading and diffs
        modules[path.stem] = ("standard", path.read_text(encoding="ascii"))
    modules[UDF_VBA_NAME] = ("standard", udf_vba())
    this = sources / "vba" / "ThisWorkbook.cls"
    if this.exists():
        modules["ThisWorkbook"] = ("document", this.read_text(encoding="ascii"))
    return {name: (kind, _ascii_crlf(src)) for name, (kind, src) in modules.items()}


def _add_vba(path: Path, target: Path, modules: dict[str, tuple[str, str]]) -> None:
    import pyopenvba

    with pyopenvba.ExcelFile(path) as xl:
        project = xl.add_vba_project()
        for name, (kind, source) in modules.items():
            if kind == "document":
                xl.set_module(name, source)
            else:
                project.add_module(name, source, kind=pyopenvba.VBAModuleKind.other if kind == "class"
                                   else pyopenvba.VBAModuleKind.standard)
        xl.save(target)
    with pyopenvba.ExcelFile(target) as xl:
        problems = xl.validate()
    if problems:
        raise RuntimeError("VBA project is inconsistent: " + "; ".join(problems))


# ---------------------------------------------------------------------------------------------------------------
# The package: ribbon, content types, fixed timestamps
# ---------------------------------------------------------------------------------------------------------------
CORE_XML = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><dc:title>S&amp;OP workbook (snop-xl)</dc:title>'
            '<dc:creator>snop-xl</dc:creator><cp:lastModifiedBy>snop-xl</cp:lastModifiedBy>'
            '<dcterms:created xsi:type="dcterms:W3CDTF">{t}</dcterms:created>'
            '<dcterms:modified xsi:type="dcterms:W3CDTF">{t}</dcterms:modified></cp:coreProperties>')


def _finish_package(source: Path, target: Path, ribbon: bytes) -> None:
    """Add the ribbon, mark the workbook macro-enabled, and rewrite the zip with fixed times and order."""
    with zipfile.ZipFile(source) as zin:
        parts = {name: zin.read(name) for name in zin.namelist()}
    parts["customUI/customUI.xml"] = ribbon
    rels = parts["_rels/.rels"].decode()
    if RIBBON_REL not in rels:
        rels = rels.replace("</Relationships>", f'<Relationship Id="rIdSnopRibbon" Type="{RIBBON_REL}" '
                                                'Target="customUI/customUI.xml"/></Relationships>')
    parts["_rels/.rels"] = rels.encode()
    types_xml = parts["[Content_Types].xml"].decode()
    types_xml = re.sub(r'(PartName="/xl/workbook.xml" ContentType=")[^"]+"', rf'\g<1>{MACRO_WORKBOOK_TYPE}"',
                       types_xml)
    assert MACRO_WORKBOOK_TYPE in types_xml, "workbook content type not found"
    parts["[Content_Types].xml"] = types_xml.encode()
    parts["docProps/core.xml"] = CORE_XML.replace("{t}", FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ")).encode()
    first = ["[Content_Types].xml", "_rels/.rels"]
    order = first + sorted(n for n in parts if n not in first)
    with zipfile.ZipFile(target, "w") as zout:
        for name in order:
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME.timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o600 << 16
            info.create_system = 0
            zout.writestr(info, parts[name], compresslevel=9)


def build_template(out: str | Path = TEMPLATE, sources: str | Path = SOURCES, write_sources: bool = False) -> Path:
    """Build the template at `out` from `sources`; with `write_sources`, refresh the committed generated .bas too."""
    out, sources = Path(out), Path(sources)
    modules = vba_modules(sources)
    if write_sources:
        (sources / "vba" / f"{UDF_VBA_NAME}.bas").write_bytes(modules[UDF_VBA_NAME][1].encode("ascii"))
    ribbon = (sources / "customUI.xml").read_bytes()
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        sheets, with_vba = Path(tmp) / "sheets.xlsm", Path(tmp) / "vba.xlsm"
        build_sheets(sheets).wb.save(sheets)
        _add_vba(sheets, with_vba, modules)
        staged = Path(tmp) / out.name
        _finish_package(with_vba, staged, ribbon)
        staged.replace(out) if staged.stat().st_dev == out.parent.stat().st_dev else out.write_bytes(
            staged.read_bytes())
    return out
