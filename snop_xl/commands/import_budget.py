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

import re
from collections.abc import Callable
from dataclasses import dataclass, field
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
    norm_text,
    norm_words,
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
    notes: list[str] = field(default_factory=list)  # what else was read: the money's scale and currency

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
        out += [f"  {note}" for note in self.notes]
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
    notes: list[str] = []
    if not problems:
        currency, currency_problems = paste_currency(grid, settings.currency if settings is not None else None)
        problems += currency_problems
        if currency:
            notes.append(f"currency {currency} (the {grid.sheet} Currency column), as Settings'")
    if problems:
        raise ValidationError(problems)
    frame = _to_frame(entries, names)
    scale, said = money_scale(grid)
    if scale != 1:
        frame[REVENUE] = frame[REVENUE] * scale
        notes.append(f"revenue in {_SCALE_WORDS[scale]} ({said}): multiplied by {scale:,}")
    # said, not refused: tests/test_budget_import's generated pastes (any units and revenue) are accepted by spec
    notes += [f"CHECK: {p.cell} {p.message}; {p.expected}" for p in
              check_prices(frame, items, parsed, grid.sheet, scale, said)]
    old, _ = book.read_table(C.BUDGET)
    level = "item" if frame["item"].notna().all() else "family" if frame["item"].isna().all() else \
        "family and item"
    window = settings.budget_months if settings is not None else None
    where = f"within the fiscal year and plan horizon {window[0]} to {window[-1]}" if window is not None else \
        "months NOT checked against the plan horizon (Settings has no valid cycle month)"
    return BudgetSummary(grid.description or grid.sheet, parsed.shape, level, frame,
                         len(parsed.totals) + sum(1 for e in parsed.entries if e not in entries), parsed.ignored,
                         len(old), where, notes=notes)


_CURRENCY_HEADERS = {"currency", "curr", "crcy", "ccy", "currency code", "currency key", "document currency"}
_MONEY = r"(?:usd|eur|gbp|chf|jpy|cad|aud|sek|nok|dkk|\$|€|£|¥)"
_THOUSANDS = re.compile(rf"(?:\b[kt]\s?{_MONEY}(?!\w)|(?<!\w){_MONEY}\s?(?:k|'?000s?|thousands?)\b|"
                        r"\bin\s+(?:\w+\s+)?thousands?\b|\(\s*'?000s?\s*\)|'000|\bthousands of\b)")
_MILLIONS = re.compile(rf"(?:\b(?:m|mn|mio)\s?{_MONEY}(?!\w)|(?<!\w){_MONEY}\s?(?:m|mn|mio|millions?)\b|"
                       r"\bin\s+(?:\w+\s+)?millions?\b|\bmillions of\b)")
_SCALE_WORDS = {1000: "thousands", 1_000_000: "millions"}
_PRICE_BAND = (300.0, 3000.0)  # revenue per unit ~1000x above or below every Items' price: a scale mistake


def money_scale(grid: Grid) -> tuple[int, str]:
    """The scale the paste states for its money: 1000 for 'Revenue (kEUR)', 'All values in USD 000', 'in
    thousands', '(000)'; 1,000,000 for 'EUR m', 'in millions'; 1 when nothing says so. The first text cell
    that says it (a title row or a header above the figures) is named."""
    for r, row in enumerate(grid.rows[:60]):
        for c, v in enumerate(row):
            if not isinstance(v, str):
                continue
            text = norm_text(v)
            for pattern, scale in ((_MILLIONS, 1_000_000), (_THOUSANDS, 1000)):
                if pattern.search(text):
                    return scale, f"{grid.cell(r, c)} says {v.strip()!r}"
    return 1, ""


def paste_currency(grid: Grid, book_currency: str | None) -> tuple[str | None, list[Problem]]:
    """The one currency a Currency column of the paste gives, or a problem naming the cells of a second currency
    (or of one that is not Settings' Currency): figures in two currencies cannot be added."""
    for h, row in enumerate(grid.rows[:60]):
        for c, v in enumerate(row):
            if isinstance(v, str) and norm_words(v) in _CURRENCY_HEADERS:
                return _column_currency(grid, h, c, book_currency)
    return None, []


def _column_currency(grid: Grid, h: int, c: int, book_currency: str | None) -> tuple[str | None, list[Problem]]:
    cells: dict[str, list[int]] = {}
    for r in range(h + 1, len(grid.rows)):
        v = grid.get(r, c)
        if v is not None and str(v).strip():
            cells.setdefault(str(v).strip().upper(), []).append(r)
    if not cells:
        return None, []
    want = (book_currency or "").strip().upper()
    first = next(iter(cells))
    main = want if want in cells else max(cells, key=lambda k: (len(cells[k]), k == first))
    problems = []
    for code, rows in cells.items():
        if code == main and (not want or code == want):
            continue
        where = ", ".join(grid.cell(r, c) for r in rows[:8]) + (" ..." if len(rows) > 8 else "")
        why = f"figures in {code} beside figures in {main} ({where})" if code != main else \
            f"figures in {code} ({where}), not Settings' Currency {want}"
        problems.append(Problem(grid.sheet, grid.cell(rows[0], c), why, code,
                                f"one currency for the whole budget: Settings' Currency {want or main} "
                                "(convert before pasting)"))
    return main, problems


def check_prices(frame: pd.DataFrame, items: pd.DataFrame, parsed, sheet: str, scale: int,
                 said: str) -> list[Problem]:
    """Revenue per unit of each family (or item) against Items' unit prices: when every family (or item) with
    units and revenue is 300x to 3000x below (or every one above) its items' prices, the money is in thousands
    not said (or said wrongly): refused at each revenue label."""
    prices = items.dropna(subset=["unit_price"]) if "unit_price" in items else items.iloc[0:0]
    prices = prices[pd.to_numeric(prices["unit_price"], errors="coerce") > 0] if len(prices) else prices
    if not len(prices):
        return []
    off: list[tuple[str, Problem]] = []  # (direction, problem) of each family or item far from its prices
    checked = 0
    sums = frame.assign(item=frame["item"].fillna("")).groupby(["family", "item"], sort=False)[[UNITS, REVENUE]].sum()
    for (family, item), row in sums.iterrows():
        units, revenue = float(row[UNITS]), float(row[REVENUE])
        if units < 1 or revenue <= 0:
            continue
        mine = prices[prices["item"] == item] if item else prices[prices["family"] == family]
        if not len(mine):
            continue
        checked += 1
        low, high = float(mine["unit_price"].min()), float(mine["unit_price"].max())
        per_unit = revenue / units
        factor = per_unit / high if per_unit > high else low / per_unit
        if not _PRICE_BAND[0] <= factor <= _PRICE_BAND[1]:
            continue
        name = item or family
        scale_text = f"; read as {_SCALE_WORDS[scale]} because {said}" if scale != 1 else ""
        direction = "above" if per_unit > high else "below"
        off.append((direction, Problem(sheet, parsed.key_cells.get((family, item or None, REVENUE), ""),
                                       f"{name} revenue per unit is {per_unit:,.4g} ({revenue:,.2f} / {units:,.0f} "
                                       f"units{scale_text}), {factor:,.0f}x {direction} Items' unit price "
                                       f"{low:,.4g}" + (f" to {high:,.4g}" if high != low else ""), None,
                                       "revenue in the currency's units, or the scale said in a title or header "
                                       "(e.g. 'All values in EUR 000', 'Revenue (kEUR)')")))
    # a scale mistake moves every figure: refused when every family (or item) checked is ~1000x off, one way
    if checked and len(off) == checked and len({d for d, _ in off}) == 1:
        return [p for _, p in off]
    return []



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
