"""The template's sheets, written with openpyxl: every contract table styled (inputs with drop-downs and checks,
outputs greyed), a pre-filled Settings sheet with a short guide, an Examples sheet using every SNOP_* function and
the hidden ``xlwings.conf`` sheet."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.formula import ArrayFormula

from snop_xl import contract as C
from snop_xl.build.package import FIXED_TIME
from snop_xl.build.vba import UDF_MODULE
from snop_xl.io.openpyxl_book import OpenpyxlBook, cell_alignment

INPUT_FONT = Font(name="Calibri", color="FF1F4E79")  # dark blue: a planner types here
INPUT_FILL = PatternFill("solid", fgColor="FFFFF2CC")  # light yellow: the cells to fill in
OUTPUT_FONT = Font(name="Calibri", color="FF404040")
NOTE_FONT = Font(name="Calibri", italic=True, color="FF595959")
TITLE_FONT = Font(name="Calibri", bold=True, size=14, color="FF1F4E79")
LABEL_FONT = Font(name="Calibri", bold=True)
MAX_VALIDATED_ROW = 5000  # drop-downs and checks cover this many rows of each input table


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
    _paste_prompt(book)
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
             "4. Demand review: type your numbers into your yellow row; consensus and totals recalculate, the next "
             "run takes them in.",
             "5. SNOP_* functions work in any cell: see the Examples sheet.",
             "Cycle month is required (first month of the plan, e.g. 2027-01)."]
    for i, text in enumerate(guide, start=1):
        ws.cell(len(C.SETTINGS) + 3 + i, 1, text).font = TITLE_FONT if i == 1 else NOTE_FONT


#: what the empty BudgetPaste sheet says when a planner selects A1 (text on the sheet would be read as the paste)
PASTE_PROMPT = ("Paste finance's budget here from A1, as their model gives it: months across or down, title rows, "
                "totals, text numbers. Then S&OP tab > Import budget (or snop-xl import-budget BOOK): it shows "
                "what it understood and fills the Budget sheet.")


def _paste_prompt(book: OpenpyxlBook) -> None:
    ws = book.wb[C.BUDGET_PASTE_SHEET]
    prompt = DataValidation(type=None, allow_blank=True, showInputMessage=True, promptTitle="Paste the budget here",
                            prompt=PASTE_PROMPT[:255])
    ws.add_data_validation(prompt)
    prompt.add("A1")


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
