"""The Supply review: step 2's plan as planners read it (layout: `snop_xl.contract.review`).

Per item, family and the Total: Demand, Planned supply, Projected inventory, Safety stock, Shortage and Days of
supply across the plan's months (the SupplyPlan table), then per resource Load, Capacity and Utilisation (the
CapacityPlan table). Family and total rows are SUMIF / sums over the rows below them and utilisation is load /
capacity, so the sheet adds up in Excel as it does in the engine; days of supply stay values (the engine's cover
rule, `calc.supply.periods_of_cover`, needs the months after each one: the families' and the total's are computed by
the same rule on their summed inventory and demand). Quarter and fiscal-year columns sum the flows and show the
stocks of their last month.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from snop_xl.calc.supply import periods_of_cover
from snop_xl.contract import column_letter
from snop_xl.contract import review as R
from snop_xl.inputs import Inputs
from snop_xl.io.grid import (FAMILY, FIGURE, HEADER, HELP, ITEM, LABEL, PLAN, QUARTER, TITLE, TOTAL, YEAR, Formula,
                             Grid, Highlight)
from snop_xl.steps.grid_cells import _num, fiscal_spans, head_rows

#: key figure -> (SupplyPlan column, unit, how a quarter or year shows it: "sum" of its months or its "last" month)
ITEM_FIGURES = {R.DEMAND: ("demand", "units", "sum"), R.SUPPLY: ("supply", "units", "sum"),
                R.INVENTORY: ("closing", "units", "last"), R.SAFETY_STOCK: ("safety_stock", "units", "last"),
                R.SHORTAGE: ("shortage", "units", "sum"), R.DAYS_OF_SUPPLY: ("days_of_supply", "days", "last")}
RESOURCE_FIGURES = {R.LOAD: ("required_hours", "hours", "sum"), R.CAPACITY: ("available_hours", "hours", "sum"),
                    R.UTILISATION: ("utilisation", "%", "ratio")}
UNITS_FORMAT, DAYS_FORMAT, PERCENT_FORMAT = "#,##0", "#,##0", "0%"
#: a shortage is highlighted when it shows as at least one unit
SHORTAGE_SHOWN = "0.5"


def supply_review(inputs: Inputs, plan: pd.DataFrame, capacity: pd.DataFrame) -> Grid:
    """The Supply review grid. `plan`: the SupplyPlan table; `capacity`: the CapacityPlan table."""
    s = inputs.settings
    months = list(s.periods)
    first = R.FIRST_MONTH_COL
    col = {m: first + k for k, m in enumerate(months)}
    quarters, years = fiscal_spans(months, months, s.fiscal_year_start)
    spans = quarters + years
    span_col = {k: first + len(months) + k for k in range(len(spans))}
    width = first - 1 + len(months) + len(spans)
    last_col = width

    keys = [key for key, _, _ in ITEM_FIGURES.values()]
    by_item: dict[str, dict[str, dict[int, Any]]] = {}  # item -> key figure -> column -> value
    col_of = {m.ordinal: c for m, c in col.items()}  # (integers: hashing 10,000s of Periods is slow)
    numbers = plan[keys].astype(float).to_numpy()
    for item, ordinal, values in zip(plan["item"], pd.PeriodIndex(plan["period"]).asi8, numbers.tolist()):
        if ordinal in col_of:
            cells = by_item.setdefault(str(item), {f: {} for f in ITEM_FIGURES})
            for figure, value in zip(ITEM_FIGURES, values):
                cells[figure][col_of[ordinal]] = None if value != value else value  # NaN: blank
    described = {str(i): d for i, d in inputs.items.drop_duplicates("item")[["item", "description"]].itertuples(
        index=False, name=None)} if "description" in inputs.items else {}
    order = list(dict.fromkeys([str(i) for i in inputs.active_items["item"] if str(i) in by_item] + list(by_item)))
    family_of = {str(i): str(f) for i, f in plan[["item", "family"]].drop_duplicates("item").itertuples(
        index=False, name=None)}
    families = list(dict.fromkeys(family_of[i] for i in order))

    rows: list[list[Any]] = []
    styles: list[str] = []
    levels: list[int] = []
    formats: dict[int, str] = {}

    def add(name: str, description: str, figure: str, unit: str, values: Mapping[int, Any], style: str,
            level: int) -> int:
        row: list[Any] = [None] * width
        row[R.COL_NAME - 1], row[R.COL_DESCRIPTION - 1] = name, description or None
        row[R.COL_FIGURE - 1], row[R.COL_UNIT - 1] = figure, unit
        for c, v in values.items():
            row[c - 1] = v
        rows.append(row)
        styles.append(style)
        levels.append(level)
        r = R.FIRST_ROW + len(rows) - 1
        if unit == "%":
            formats[r] = PERCENT_FORMAT
        elif unit == "days":
            formats[r] = DAYS_FORMAT
        return r

    def block(name: str, description: str, figures: Mapping[str, tuple[str, str, str]], style: str, level: int,
              values: Mapping[str, Mapping[int, Any]]) -> dict[str, int]:
        """One block's rows: the first styled as the block (Total, family, item, resource), the rest as figures."""
        return {figure: add(name, description, figure, unit, values.get(figure, {}),
                            style if k == 0 else FIGURE, level)
                for k, (figure, (_, unit, _)) in enumerate(figures.items())}

    def cover(frame: pd.DataFrame) -> dict[int, Any]:
        """Days of supply of summed inventory and demand (the engine's rule, as SupplyPlan's for an item)."""
        sums = frame.groupby("period")[["closing", "demand"]].sum().reindex(months).fillna(0.0)
        days = periods_of_cover(sums["closing"].to_numpy()[None, :], sums["demand"].to_numpy()[None, :])[0]
        return {col[m]: _num(d * s.days_per_period) for m, d in zip(months, days)}

    # rows first (the sums need every row number), then the family and total sums
    total_at = block(R.TOTAL, "", ITEM_FIGURES, TOTAL, 0, {R.DAYS_OF_SUPPLY: cover(plan)})
    family_at: dict[str, dict[str, int]] = {}
    family_items: dict[str, tuple[int, int]] = {}
    item_at: list[dict[str, int]] = []
    for family in families:
        family_at[family] = block(family, "Family", ITEM_FIGURES, FAMILY, 1,
                                  {R.DAYS_OF_SUPPLY: cover(plan[plan["family"].astype(str) == family])})
        lo = R.FIRST_ROW + len(rows)
        for item in (i for i in order if family_of[i] == family):
            description = described.get(item)
            item_at.append(block(item, description if isinstance(description, str) else "", ITEM_FIGURES, ITEM,
                                 2, by_item[item]))
        family_items[family] = (lo, R.FIRST_ROW + len(rows) - 1)
    resource_at: list[dict[str, int]] = []
    for resource, g in capacity.groupby("resource", sort=False):
        g = g.set_index("period")
        resource_at.append(block(str(resource), R.RESOURCE, RESOURCE_FIGURES, FAMILY, 0, {
            R.LOAD: {col[m]: _num(g["required_hours"].get(m)) for m in months if m in g.index},
            R.CAPACITY: {col[m]: _num(g["available_hours"].get(m)) for m in months if m in g.index}}))

    def put(r: int, c: int, value: Any) -> None:
        rows[r - R.FIRST_ROW][c - 1] = value

    for family, at in family_at.items():
        lo, hi = family_items[family]
        for figure, r in at.items():
            if figure != R.DAYS_OF_SUPPLY and hi >= lo:
                for c in col.values():
                    L = column_letter(c)
                    put(r, c, Formula(f'=SUMIF($C${lo}:$C${hi},"{figure}",{L}${lo}:{L}${hi})'))
    for figure, r in total_at.items():
        if figure != R.DAYS_OF_SUPPLY and family_at:
            for c in col.values():
                L = column_letter(c)
                put(r, c, Formula("=" + "+".join(f"{L}{at[figure]}" for at in family_at.values())))
    for at in resource_at:
        for c in list(col.values()) + list(span_col.values()):
            L = column_letter(c)
            load, cap = f"{L}{at[R.LOAD]}", f"{L}{at[R.CAPACITY]}"
            put(at[R.UTILISATION], c, Formula(f'=IF(N({cap})>0,{load}/{cap},"")'))
    # quarter and year columns
    ends = [(span_col[k], col[min(ms)], col[max(ms)]) for k, (_, ms) in enumerate(spans)]
    ends = [(c, column_letter(lo), column_letter(hi), hi) for c, lo, hi in ends]
    for at, figures in [(a, ITEM_FIGURES) for a in [total_at, *family_at.values(), *item_at]] + [
            (a, RESOURCE_FIGURES) for a in resource_at]:
        for figure, r in at.items():
            rule = figures[figure][2]
            for c, lo, hi, end in ends:
                if rule == "sum":
                    put(r, c, Formula(f"=SUM({lo}{r}:{hi}{r})"))
                elif rule == "last":
                    shown = rows[r - R.FIRST_ROW][end - 1]
                    put(r, c, shown if figure == R.DAYS_OF_SUPPLY or shown is None else Formula(f"={hi}{r}"))

    highlights = _highlights(total_at, [*family_at.values(), *item_at], resource_at, first, last_col, spans,
                             span_col)
    head = head_rows(width, ["Item / family / resource", "Description", "Key figure", "Unit"], col,
                     [(name, span_col[k]) for k, (name, _) in enumerate(spans)],
                     f"Supply review · cycle {s.cycle_month} · units, days of supply and hours",
                     "Red: a shortage (demand not met that month) and projected inventory below safety stock. "
                     "Utilisation is load / capacity (regular hours): green to 85%, yellow, red at 100% and over. "
                     "Families fold their items ([+] at the left). Quarters and years sum the flows and show the "
                     "stocks of their last month.")
    kinds = [LABEL] * (first - 1) + [PLAN] * len(months) + [QUARTER] * len(quarters) + [YEAR] * len(years)
    names = [str(r[R.COL_NAME - 1]) for r in rows]
    widths = [max(14.0, min(24.0, max((len(n) for n in names), default=0) + 2.0)), 26.0, 19.0, 7.0] + \
        [9.5] * len(months) + [max(11.0, len(name) + 2.0) for name, _ in spans]
    return Grid(R.SUPPLY_REVIEW, head + rows, [TITLE, HELP, HEADER] + styles,
                [0, 0, 0] + levels, kinds, widths, UNITS_FORMAT, (R.FIRST_ROW, first), [], highlights,
                header_row=R.HEADER_ROW, row_formats=formats)


def _highlights(total_at: Mapping[str, int], blocks: Sequence[Mapping[str, int]],
                resource_at: Sequence[Mapping[str, int]], first: int, last: int, spans: Sequence, span_col: Mapping
                ) -> list[Highlight]:
    """Shortages shown (red), projected inventory below safety stock as shown (red), utilisation as a heat map."""
    a, z = column_letter(first), column_letter(last)
    every = [total_at, *blocks]
    out = [Highlight(" ".join(f"{a}{at[R.SHORTAGE]}:{z}{at[R.SHORTAGE]}" for at in every), "above",
                     SHORTAGE_SHOWN)]
    top = every[0][R.INVENTORY]  # the safety stock row is the next one in every block
    out.append(Highlight(" ".join(f"{a}{at[R.INVENTORY]}:{z}{at[R.INVENTORY]}" for at in every), "below",
                         f"ROUND({a}{top},0)<ROUND({a}{top + 1},0)"))
    assert all(at[R.SAFETY_STOCK] == at[R.INVENTORY] + 1 for at in every)
    if resource_at:
        out.append(Highlight(" ".join(f"{a}{at[R.UTILISATION]}:{z}{at[R.UTILISATION]}" for at in resource_at),
                             "heat"))
    return out
