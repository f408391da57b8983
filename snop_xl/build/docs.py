"""docs/workbook.md generated from the contract, so the documentation cannot drift from the code."""

from __future__ import annotations

from snop_xl import contract as C
from snop_xl.contract import review as R


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def workbook_markdown() -> str:
    """The workbook contract as Markdown: sheets, their owner, tables, columns and Settings."""
    out = ["# The workbook contract", "",
           "Generated from `snop_xl/contract.py` by `snop-xl docs`; a test checks this file is current.", "",
           "Input sheets (blue tabs) belong to planners: the engine reads them and never writes them. Output sheets "
           "(green tabs) belong to the engine and are rewritten whole on each run; the Log is appended. Every table "
           "is an Excel table named `tbl<Name>`; tables sharing a sheet sit side by side, one empty column apart.",
           "", "| Sheet | Owner | Tables | What |", "|---|---|---|---|"]
    for sheet in C.SHEETS.values():
        owner = "planner (input)" if sheet.role is C.Role.INPUT else "engine (output)"
        tables = ", ".join(f"`{t.list_object}` ({t.anchor})" for t in sheet.tables)
        out.append(f"| {sheet.name} | {owner} | {tables} | {_cell(sheet.doc)} |")
    out += ["", "## Review sheets", "", R.GUIDE.rstrip()]
    out += ["", "## Settings", "", "Rows of `tblSettings` (Setting, Value). The Setting column takes the label or the "
            "key.", "", "| Label | Key | Type | Default | Allowed | Meaning |", "|---|---|---|---|---|---|"]
    for s in C.SETTINGS:
        allowed = ", ".join(s.choices) or _range(s)
        out.append(f"| {s.label} | `{s.key}` | {s.dtype} | {'' if s.default is None else s.default} | "
                   f"{_cell(allowed)} | {_cell(s.doc)} |")
    for spec in C.INPUT_TABLES + C.OUTPUT_TABLES:
        out += ["", f"## {spec.name} (`{spec.list_object}` on sheet {spec.sheet}, {spec.role.value})", "",
                _cell(spec.doc)]
        if spec.key:
            out += ["", "Unique key: " + " + ".join(spec.column(k).header for k in spec.key) + "."]
        out += ["", "| Column | Key | Type | Unit | Blank allowed | Allowed | Meaning |", "|---|---|---|---|---|---|---|"]
        columns = list(spec.columns) + ([spec.wide_value] if spec.wide_periods else [])
        for c in columns:
            header = "*one per month, headed yyyy-mm*" if c is spec.wide_value else c.header
            allowed = ", ".join(c.choices) or _range(c)
            blank = ("yes" + (f" (= {c.default})" if c.default not in (None, "") else "")) if c.nullable else "no"
            out.append(f"| {header} | `{c.key}` | {c.dtype} | {c.unit} | {blank} | {_cell(allowed)} | "
                       f"{_cell(c.doc)} |")
    return "\n".join(out) + "\n"


def _range(spec: C.Column | C.Setting) -> str:
    if spec.min is not None and spec.max is not None:
        return f"{spec.min:g} to {spec.max:g}"
    if spec.min is not None:
        return f">= {spec.min:g}"
    if spec.max is not None:
        return f"<= {spec.max:g}"
    return ""
