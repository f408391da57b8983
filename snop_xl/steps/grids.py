"""The review sheets as planners read them: hierarchy down the rows, months across, roll-ups as Excel formulas.

`demand_review` lays out step 1's plan (layout: `snop_xl.contract.review`) with the Total and family rows and each
item's consensus as formulas over the cells beneath or above them, so a number typed into a contributor's row
recalculates its item, family and total at once in Excel or LibreOffice. The engine computes the same numbers
(`steps.demand`): the item consensus formula is the demand step's rule written in Excel.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from snop_xl import archive
from snop_xl.contract import column_letter
from snop_xl.contract import review as R
from snop_xl.inputs import Inputs
from snop_xl.steps.finance_review import financial_review
from snop_xl.steps.grid_cells import _num, fiscal_spans, head_rows, sum_over
from snop_xl.steps.kpi_review import kpi_review
from snop_xl.steps.pipeline_kpis import trust_of
from snop_xl.steps.supply_review import supply_review
from snop_xl.io.grid import (
    ACTUAL,
    FAMILY,
    FIGURE,
    HEADER,
    HELP,
    ITEM,
    LABEL,
    PLAN,
    QUARTER,
    TITLE,
    TOTAL,
    YEAR,
    Formula,
    Grid,
)

def review_grids(inputs: Inputs, outputs: Mapping[str, pd.DataFrame], produced: set[str]) -> list[Grid]:
    """The review sheets of the tables a run produced (each shows the plan of this run)."""
    grids = []
    if {"DemandPlan", "Contributions"} <= produced:
        grids.append(demand_review(inputs, outputs["DemandPlan"], outputs["Contributions"], inputs.contributors,
                                   last_published(inputs.archive_path)))
    if {"SupplyPlan", "CapacityPlan"} <= produced:
        grids.append(supply_review(inputs, outputs["SupplyPlan"], outputs["CapacityPlan"]))
    if "Financials" in produced:
        grids.append(financial_review(inputs, outputs["Financials"]))
    if "KPIs" in produced:
        grids.append(kpi_review(outputs["KPIs"], inputs.items))
    return grids


def last_published(path: Path | None) -> pd.DataFrame | None:
    """item, period, consensus of the latest published plan in the archive at `path` (None: none yet)."""
    if path is None or not path.exists() or not archive.versions(path):
        return None
    _, frames = archive.load(path, "latest")
    plan = frames.get("DemandPlan")
    return None if plan is None else plan[plan["level"] == "Item"][["item", "period", "consensus"]]


def contributor_values(contributions: pd.DataFrame) -> dict[tuple[str, str, pd.Period], float]:
    return {(str(o), str(i), p): float(q) for o, i, p, q in
            contributions[["owner", "item", "period", "qty"]].itertuples(index=False, name=None)}


def demand_review(inputs: Inputs, plan: pd.DataFrame, contributions: pd.DataFrame, contributors: Sequence[str],
                  published: pd.DataFrame | None = None) -> Grid:
    """The Demand review grid. `plan`: the DemandPlan table; `contributions`: the Contributions table (owner, item,
    period, qty, source, reason); `published`: item, period, consensus of the last published plan (or None)."""
    s = inputs.settings
    plan_months = list(s.periods)
    actual_months = list(pd.period_range(s.cycle_month - R.ACTUAL_MONTHS, periods=R.ACTUAL_MONTHS, freq="M"))
    months = actual_months + plan_months
    col = {m: R.FIRST_MONTH_COL + k for k, m in enumerate(months)}
    quarters, years = fiscal_spans(months, plan_months, s.fiscal_year_start)
    spans = quarters + years
    width = R.FIRST_MONTH_COL - 1 + len(months) + len(spans)
    first_plan, last_plan = col[plan_months[0]], col[plan_months[-1]]

    items = inputs.active_items
    item_rows = plan[plan["level"] == "Item"]
    by_item = {name: g for name, g in item_rows.groupby("item", sort=False)}
    hist = inputs.history
    actual = {(i, p): q for i, p, q in hist[hist["period"].isin(actual_months)][["item", "period", "qty"]]
              .itertuples(index=False, name=None)}
    given = contributor_values(contributions)
    reasons = {(str(o), str(i)): r for o, i, r in contributions[contributions["source"] == "Grid"][
        ["owner", "item", "reason"]].itertuples(index=False, name=None) if isinstance(r, str) and r}
    shown = {(i, p): q for i, p, q in published[["item", "period", "consensus"]].itertuples(index=False, name=None)
             } if published is not None and len(published) else {}
    budget = _family_budget(inputs)

    rows: list[list[Any]] = []
    styles: list[str] = []
    levels: list[int] = []
    inputs_at: list[tuple[int, int, int, int]] = []

    def add(name: str, description: str, figure: str, note: str, values: Mapping[int, Any], style: str,
            level: int) -> int:
        row: list[Any] = [None] * width
        row[R.COL_NAME - 1], row[R.COL_DESCRIPTION - 1] = name, description or None
        row[R.COL_FIGURE - 1], row[R.COL_NOTE - 1] = figure, note or None
        for c, v in values.items():
            row[c - 1] = v
        rows.append(row)
        styles.append(style)
        levels.append(level)
        return R.FIRST_ROW + len(rows) - 1

    # per quarter and year column: the sum of all its months, of its past ones and of its future ones
    span_sums_of = [(R.FIRST_MONTH_COL + len(months) + k, sum_over(ms, col),
                     sum_over([m for m in ms if m < s.cycle_month], col),
                     sum_over([m for m in ms if m >= s.cycle_month], col), any(m < s.cycle_month for m in ms))
                    for k, (_, ms) in enumerate(spans)]

    def span_sums(r: int, figure: str) -> dict[int, Any]:
        """Quarter and year cells of row r: sums of its months; the consensus adds actuals for past months."""
        out = {}
        for c, whole, past, future, has_past in span_sums_of:
            if figure == R.CONSENSUS and has_past:
                parts = [past(actuals_row[r]), future(r)]
                out[c] = Formula("=" + "+".join(p for p in parts if p))
            else:
                out[c] = Formula("=" + whole(r))
        return out

    actuals_row: dict[int, int] = {}  # consensus row -> actuals row of the same block
    signals = (R.ORDERS, R.PIPELINE) if len(inputs.orders) or len(inputs.pipeline) else ()
    trust = trust_of(inputs).share if signals else None

    def figure_cols(figure: str) -> range:
        """The month columns a family or total row fills: actuals the past, budget every month (its quarter and year
        totals add up the whole span, as the consensus's do with actuals), the other figures the plan."""
        return range(R.FIRST_MONTH_COL, first_plan) if figure == R.ACTUALS else \
            range(R.FIRST_MONTH_COL, last_plan + 1) if figure == R.BUDGET else range(first_plan, last_plan + 1)

    def block(name: str, description: str, level: int, style: str, sources: Mapping[str, Any]) -> dict[str, int]:
        """Rows of one family or the total: each key figure is a formula over `sources` (key figure -> formula
        builder for a column letter) or values."""
        at = {}
        for figure in (R.ACTUALS, R.STATISTICAL, R.EVENTS) + signals + (R.CONSENSUS, R.PUBLISHED, R.BUDGET):
            make = sources[figure]
            values = {c: make(c) for c in figure_cols(figure)}
            at[figure] = add(name, description, figure, "", values, style if figure == R.CONSENSUS else FIGURE,
                             level)
        actuals_row[at[R.CONSENSUS]] = at[R.ACTUALS]
        return at

    # the rows are placed first (formulas need every row number), then the sums are filled in
    families = list(dict.fromkeys(items["family"]))
    total_at = block(R.TOTAL, "", 0, TOTAL, {f: (lambda c: None) for f in R.KEY_FIGURES})
    family_at: dict[str, dict[str, int]] = {}
    family_items: dict[str, tuple[int, int]] = {}
    for family in families:
        family_at[family] = block(str(family), "Family", 1, FAMILY, {f: (lambda c: None) for f in R.KEY_FIGURES})
        first_item_row = R.FIRST_ROW + len(rows)
        for item in items[items["family"] == family].itertuples(index=False):
            _item_block(add, item, by_item.get(item.item), actual, given, reasons, shown, contributors,
                        actual_months, plan_months, col, actuals_row, inputs_at,
                        trust=trust)
        family_items[family] = (first_item_row, R.FIRST_ROW + len(rows) - 1)

    def put(r: int, c: int, value: Any) -> None:
        rows[r - R.FIRST_ROW][c - 1] = value

    for family, at in family_at.items():
        lo, hi = family_items[family]
        for figure, r in at.items():
            cols = figure_cols(figure)
            for c in cols:
                if figure == R.PUBLISHED and not shown:  # nothing published yet: blank, not a row of zeros
                    continue
                if figure == R.BUDGET:
                    put(r, c, budget.get((family, months[c - R.FIRST_MONTH_COL])))
                elif hi >= lo:
                    L = column_letter(c)
                    put(r, c, Formula(f'=SUMIF($C${lo}:$C${hi},"{figure}",{L}${lo}:{L}${hi})'))
    for figure, r in total_at.items():
        for c in figure_cols(figure) if figure != R.PUBLISHED or shown else ():
            L = column_letter(c)
            unbudgeted = figure == R.BUDGET and all(  # blank as its families' cells are, not a 0 summed from blanks
                budget.get((family, months[c - R.FIRST_MONTH_COL])) is None for family in family_at)
            put(r, c, Formula("=" + "+".join(f"{L}{at[figure]}" for at in family_at.values()))
                if family_at and not unbudgeted else None)
    for k, row in enumerate(rows):
        r = R.FIRST_ROW + k
        figure = row[R.COL_FIGURE - 1]
        if figure in R.KEY_FIGURES and (figure != R.PUBLISHED or shown):  # contributors' rows: single months
            for c, v in span_sums(r, figure).items():
                row[c - 1] = v

    head = head_rows(width, ["Item / family", "Description", "Key figure", "Note / reason"], col,
                     [(name, R.FIRST_MONTH_COL + len(months) + k) for k, (name, _) in enumerate(spans)],
                     f"Demand review · cycle {s.cycle_month} · units · contributors: {', '.join(contributors)}",
                     "Type your numbers into your yellow row (item and month; the Note cell is your reason). The "
                     "item's consensus is the last contributor's number listed (else statistical + events); "
                     "family and total rows recalculate at once, and the next run takes your numbers into the plan. "
                     "Grey months are actuals; the Consensus quarter and year totals add actuals for past months.")
    kinds = ([LABEL] * (R.FIRST_MONTH_COL - 1) + [ACTUAL] * len(actual_months) + [PLAN] * len(plan_months)
             + [QUARTER] * len(quarters) + [YEAR] * len(years))
    widths = [14.0, 26.0, 14.0, 22.0] + [9.5] * len(months) + [
        max(11.0, len(name) + 2.0) for name, _ in spans]
    return Grid(R.DEMAND_REVIEW, head + rows, [TITLE, HELP, HEADER] + styles,
                [0, 0, 0] + levels, kinds, widths, "#,##0", (R.FIRST_ROW, R.FIRST_MONTH_COL), inputs_at,
                header_row=R.HEADER_ROW)


def _item_block(add, item, plan: pd.DataFrame | None, actual: Mapping, given: Mapping, reasons: Mapping,
                shown: Mapping, contributors: Sequence[str], actual_months: list, plan_months: list,
                col: Mapping[pd.Period, int], actuals_row: dict[int, int], inputs_at: list,
                trust: float | None = None) -> None:
    """An item's key-figure rows; its consensus is a formula over its statistical, events and contributor rows
    (and, given the pipeline's `trust`, its Orders and Pipeline rows: the demand step's `listen` rule)."""
    signals = trust is not None
    code, description = str(item.item), getattr(item, "description", "") or ""
    stat = dict(zip(plan["period"], plan["statistical"])) if plan is not None else {}
    events = dict(zip(plan["period"], plan["events"])) if plan is not None else {}
    method = str(plan["method"].iloc[0]) if plan is not None and len(plan) and isinstance(
        plan["method"].iloc[0], str) else ""
    r_act = add(code, description, R.ACTUALS, "", {col[m]: _num(actual.get((code, m))) for m in actual_months},
                ITEM, 2)
    r_stat = add(code, description, R.STATISTICAL, method, {col[m]: _num(stat.get(m)) for m in plan_months},
                 FIGURE, 2)
    r_ev = add(code, description, R.EVENTS, "", {col[m]: _num(events.get(m)) or None for m in plan_months},
               FIGURE, 2)
    if signals:
        heard = {}
        for figure, key in ((R.ORDERS, "orders"), (R.PIPELINE, "pipeline")):
            values = dict(zip(plan["period"], plan[key])) if plan is not None and key in plan else {}
            heard[figure] = add(code, description, figure, "", {col[m]: _num(values.get(m)) or None
                                                                for m in plan_months}, FIGURE, 2)
    owner_rows = []
    for owner in contributors:
        r = add(code, description, owner, reasons.get((owner, code), ""),
                {col[m]: given.get((owner, code, m)) for m in plan_months}, FIGURE, 2)
        inputs_at.append((r, col[plan_months[0]], r, col[plan_months[-1]]))
        inputs_at.append((r, 4, r, 4))
        owner_rows.append(r)
    values = {}
    for m in plan_months:
        L = column_letter(col[m])
        formula = f"MAX(0,{L}{r_stat}+{L}{r_ev})"
        if signals:  # steps.demand.listen: orders are a floor, the pipeline adds what exceeds the statistical
            r_ord, r_pipe = heard[R.ORDERS], heard[R.PIPELINE]
            taken = "" if trust == 1.0 else f"{trust:.6g}*"
            formula = f"MAX({L}{r_ord},{formula}+{taken}MAX(0,{L}{r_pipe}-{L}{r_stat}))"
        for r in owner_rows:  # the last contributor listed who gave a number wins
            formula = f"IF(ISNUMBER({L}{r}),{L}{r},{formula})"
        values[col[m]] = Formula("=" + formula)
    r_cons = add(code, description, R.CONSENSUS, "", values, FIGURE, 2)
    actuals_row[r_cons] = r_act
    add(code, description, R.PUBLISHED, "", {col[m]: _num(shown.get((code, m))) for m in plan_months}, FIGURE, 2)


def _family_budget(inputs: Inputs) -> dict[tuple[str, pd.Period], float]:
    """Budget units by family and month (item-level budget rows counted in their family)."""
    budget = inputs.budget
    if not len(budget):
        return {}
    sums = budget.groupby(["family", "period"], sort=False)["units"].sum(min_count=1)
    return {(str(f), p): float(v) for (f, p), v in sums.items() if pd.notna(v)}
