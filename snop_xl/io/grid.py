"""A review sheet as plain data: cells, what each row and column is, which cells planners type into, and what is
highlighted. The step code builds a Grid (`snop_xl.steps.grids`); each engine draws it (`write_grid`), so both
engines show the same sheet and neither knows what the numbers mean.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from snop_xl.contract import column_letter


class Formula(str):
    """An Excel formula ("=SUM(E5:E9)"). The only text an engine writes as a formula: every other str is text."""


#: row styles: how a row looks (bold, fill); engines map them to their own objects
TITLE, HELP, HEADER, TOTAL, FAMILY, ITEM, FIGURE = "title", "help", "header", "total", "family", "item", "figure"
#: column kinds: label columns, actual months (shaded), plan months, quarter and fiscal-year totals
LABEL, ACTUAL, PLAN, QUARTER, YEAR = "label", "actual", "plan", "quarter", "year"
#: fills (RGB) shared by the engines
FILLS = {TOTAL: "D9E1F2", FAMILY: "E2EFDA", HEADER: "D9D9D9", ACTUAL: "F2F2F2", "input": "FFF2CC",
         QUARTER: "EDEDED", YEAR: "DDDDDD"}
INPUT_FONT = "0000FF"  # numbers typed by people: blue (the financial-modelling convention)
#: what Excel says when someone types over a calculated cell of a review sheet (a data validation that refuses
#: every entry: unlike sheet protection, it leaves the outline's [+]/[-] buttons working)
GUARD_MESSAGE = ("This cell is calculated by the plan. Type your numbers into your yellow row; the next run takes "
                 "them in.")


@dataclass(frozen=True)
class Highlight:
    """Conditional formatting on `ref` (an A1 range, or several separated by spaces). kind "below" (red fill where
    `formula`, a condition relative to the first range's top-left cell, is true), "negative" (red where < 0),
    "above" (red where > `formula`, a number: "0" if blank), "favourable" (green where > `formula`, red where <
    minus it: a variance) or "heat" (three-colour scale, green at 0, yellow at 0.85, red at 1 and above)."""

    ref: str
    kind: str
    formula: str = ""


@dataclass
class Grid:
    """Rows of cell values from A1 (None: empty; Formula: a formula; str: text) and how to show them."""

    sheet: str
    rows: list[list[Any]]
    row_styles: list[str]
    row_levels: list[int]  # Excel outline level of each row (0: always shown)
    columns: list[str]  # kind of each column (LABEL, ACTUAL, PLAN, QUARTER, YEAR)
    widths: list[float]
    number_format: str  # of every number cell
    freeze: tuple[int, int]  # first scrolling row and column (1-based)
    inputs: list[tuple[int, int, int, int]] = field(default_factory=list)  # (row1, col1, row2, col2) typed into
    highlights: list[Highlight] = field(default_factory=list)
    header_row: int = 3
    date_format: str = "mmm yy"  # month headers (first-of-month dates)
    row_formats: dict[int, str] = field(default_factory=dict)  # sheet row -> its number format (else number_format)

    @property
    def width(self) -> int:
        return len(self.columns)


def calculated_ranges(grid: Grid) -> list[str]:
    """A1 ranges of the number cells below the header that nobody types into: rows with the same columns typed
    into are merged, so a long sheet needs about one range per block of rows."""
    first_row, first_col = grid.freeze
    typed: dict[int, set[int]] = {}
    for r1, c1, r2, c2 in grid.inputs:
        for r in range(r1, r2 + 1):
            typed.setdefault(r, set()).update(c for c in range(c1, c2 + 1) if c >= first_col)
    segments_of: dict[frozenset, list[tuple[int, int]]] = {}

    def segments(cols: frozenset) -> list[tuple[int, int]]:
        if cols not in segments_of:
            out, start = [], None
            for c in range(first_col, grid.width + 2):
                free = c <= grid.width and c not in cols
                if free and start is None:
                    start = c
                elif not free and start is not None:
                    out.append((start, c - 1))
                    start = None
            segments_of[cols] = out
        return segments_of[cols]

    ranges, run_start, run_cols = [], None, None
    last = len(grid.rows)
    for r in range(first_row, last + 2):
        cols = frozenset(typed.get(r, ())) if r <= last else None
        if cols != run_cols:
            if run_cols is not None:
                ranges += [f"{column_letter(a)}{run_start}:{column_letter(b)}{r - 1}" for a, b in segments(run_cols)]
            run_start, run_cols = r, cols
    return ranges
