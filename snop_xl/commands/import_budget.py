"""Import finance's budget from whatever they paste, into the contract's Budget table, or refuse precisely.

Where a budget comes from
- ``source=None``: the **BudgetPaste** sheet of the book (``contract.BUDGET_PASTE_SHEET``). Finance pastes their
  block there from cell A1, as it comes out of their model or ERP: no table, no fixed layout.
- a path to a ``.csv`` (any of , ; tab | as delimiter, UTF-8/UTF-16/Windows-1252) or to an ``.xlsx``/``.xlsm``
  (the sheet named BudgetPaste or Budget, else the only/active sheet; ``sheet=`` picks another).

What a paste may look like (months as columns or rows, long tables, numbers and months as text, totals and
subtotals, names against Items) is `snop_xl.paste`'s to understand; this command adds what is the budget's own:
the budget window, the summary shown before anything changes, and writing the Budget table.

Anything else is refused with every Problem found (sheet, cell, value, what was expected) and the book unchanged:
unknown names (closest Items names suggested), ambiguous dates or numbers, duplicates, blank or error cells,
months outside the budget window (the start of the cycle month's fiscal year to the end of the plan horizon,
``Settings.budget_months``) or missing between the first and last month, totals that do not add up.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from snop_xl import contract as C
from snop_xl.commands.import_table import write_input_table
from snop_xl.errors import Problem, ValidationError
from snop_xl.inputs import budget_month_problems, parse_settings
from snop_xl.io.base import BookIO
from snop_xl.io.parse import to_rows
from snop_xl.paste import (
    MEASURES,
    REVENUE,
    UNITS,
    Entry,
    Grid,
    LayoutReader,
    Names,
    check_completeness,
    check_totals,
    fold_levels,
    grid_from_book,
    grid_from_file,
    missing_months,
)


@dataclass
class BudgetSummary:
    """What was understood from the paste, shown to the user before the Budget table is replaced."""

    source: str
    shape: str
    level: str
    frame: pd.DataFrame  # the normalised Budget rows (contract keys)
    totals_checked: int
    ignored: list[str]
    replaced_rows: int
    horizon: str
    applied: bool = False

    @property
    def rows(self) -> int:
        return len(self.frame)

    @property
    def months(self) -> list[pd.Period]:
        return sorted(self.frame["period"].unique()) if len(self.frame) else []

    def totals(self) -> dict[str, float]:
        return {m: float(self.frame[m].sum()) for m in MEASURES}

    def lines(self) -> list[str]:
        months = self.months
        by_family = self.frame.groupby("family", sort=False)[list(MEASURES)].sum()
        out = [f"Budget from {self.source}: {self.shape}, by {self.level}",
               f"  {self.rows} rows; {len(months)} months {months[0]} to {months[-1]}; {len(by_family)} families"
               if months else "  no rows",
               f"  total units {self.totals()[UNITS]:,.0f}; total revenue {self.totals()[REVENUE]:,.2f}"]
        out += [f"    {family:<24} units {row[UNITS]:>14,.0f}   revenue {row[REVENUE]:>16,.2f}"
                for family, row in by_family.iterrows()]
        out.append(f"  {self.totals_checked} total/subtotal figure(s) checked and not imported"
                   if self.totals_checked else "  no total rows found")
        if self.ignored:
            out.append(f"  ignored title/note rows at {', '.join(self.ignored[:8])}"
                       + (" ..." if len(self.ignored) > 8 else ""))
        out.append(f"  {self.horizon}")
        verb = "replaced" if self.applied else "would replace"
        out.append(f"  {verb} the Budget table ({self.replaced_rows} rows now)")
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())


def read_source(book: BookIO, source: str | Path | None, sheet: str | None = None) -> Grid:
    """The grid to import: the BudgetPaste sheet (`source` None), else a CSV or workbook file (its BudgetPaste or
    Budget sheet, else the active one, unless `sheet` names another)."""
    if source is None:
        return grid_from_book(book, C.BUDGET_PASTE_SHEET, holding="the pasted budget",
                              expected="finance's budget pasted from cell A1 (or give a CSV/workbook)")
    return grid_from_file(source, sheet, prefer=(C.BUDGET_PASTE_SHEET, C.BUDGET.sheet), what="budget")


def read_budget(book: BookIO, grid: Grid) -> BudgetSummary:
    """Understand `grid` against the book's Items and Settings; raise ValidationError listing every problem."""

    items, item_problems = book.read_table(C.ITEMS)
    names = Names.from_items(items)
    if not names.families:
        raise ValidationError(item_problems + [Problem(C.ITEMS.sheet, "A2", "Items has no item with a family",
                                                       expected="the item master filled before the budget")])
    settings_frame, _ = book.read_table(C.SETTINGS_TABLE)
    settings, _ = parse_settings(settings_frame)
    reader = LayoutReader(grid, names)
    parsed = reader.read()
    problems = reader.finish()
    if settings is not None and parsed.months:  # the budget window: the cycle's fiscal year to the plan horizon
        problems += budget_month_problems(settings, grid.sheet, ((p, parsed.months[p]) for p in sorted(parsed.months)))
    problems += missing_months(parsed, grid.sheet)
    entries, fold_problems = fold_levels(parsed, grid.sheet)
    if not problems and not entries:
        where = parsed.months[min(parsed.months)] if parsed.months else "A1"
        problems.append(Problem(grid.sheet, where, "no budget figures found", expected="rows of units and revenue "
                                "per family (or item), one figure per month"))
    if not problems:  # completeness and sums only mean something once every cell was understood
        problems += check_completeness(parsed, entries, grid.sheet)
    if not problems:
        problems += fold_problems + check_totals(parsed, entries, grid.sheet)
    if problems:
        raise ValidationError(problems)
    frame = _to_frame(entries, names)
    old, _ = book.read_table(C.BUDGET)
    level = "item" if frame["item"].notna().all() else "family" if frame["item"].isna().all() else \
        "family and item"
    window = settings.budget_months if settings is not None else None
    where = f"within the fiscal year and plan horizon {window[0]} to {window[-1]}" if window is not None else \
        "months NOT checked against the plan horizon (Settings has no valid cycle month)"
    return BudgetSummary(grid.description or grid.sheet, parsed.shape, level, frame,
                         len(parsed.totals) + sum(1 for e in parsed.entries if e not in entries), parsed.ignored,
                         len(old), where)


def _to_frame(entries: list[Entry], names: Names) -> pd.DataFrame:
    long = pd.DataFrame([(e.key[0], e.key[1], e.period, e.key[2], e.value) for e in entries],
                        columns=["family", "item", "period", "measure", "value"])
    long["item"] = long["item"].astype(object).where(long["item"].notna(), "")
    wide = long.pivot_table(index=["family", "item", "period"], columns="measure", values="value",
                            aggfunc="sum", sort=False).reset_index()
    order = {f: i for i, f in enumerate(names.family_order)}
    wide = wide.assign(_f=wide["family"].map(order)).sort_values(["_f", "item", "period"]).drop(columns="_f")
    frame = pd.DataFrame({
        "family": wide["family"].astype(object).tolist(),
        "item": [None if i == "" else i for i in wide["item"]],
        "period": pd.PeriodIndex(wide["period"], freq="M"),
        UNITS: wide[UNITS].astype(float).to_numpy(),
        REVENUE: wide[REVENUE].astype(float).to_numpy(),
    })
    return frame.reset_index(drop=True)


def import_budget(book: BookIO, source: str | Path | None = None, *,
                  confirm: Callable[[BudgetSummary], bool] | None = None, sheet: str | None = None) -> BudgetSummary:
    """Replace the book's Budget table by finance's budget from `source` (None: the BudgetPaste sheet).

    The summary of what was understood is handed to `confirm` before anything changes; if it returns False the
    book is left as it was. On any problem a ValidationError lists them all and the book is unchanged. The
    caller saves the book (the CLI does so atomically).
    """
    summary = read_budget(book, read_source(book, source, sheet))
    if confirm is not None and not confirm(summary):
        return summary
    write_budget(book, summary.frame)
    book.log("import-budget", f"Budget imported from {summary.source}: {summary.rows} rows, "
             f"{len(summary.months)} months, units {summary.totals()[UNITS]:,.0f}, "
             f"revenue {summary.totals()[REVENUE]:,.2f}", location=f"{C.BUDGET.sheet}!A1")
    summary.applied = True
    return summary


def write_budget(book: BookIO, frame: pd.DataFrame) -> None:
    """Write the Budget table whole, as every import writes its input table (`import_table.write_input_table`):
    the user asked for the import, saw its summary, and every cell of the new table was validated above."""
    write_input_table(book, C.BUDGET, to_rows(C.BUDGET, frame))
