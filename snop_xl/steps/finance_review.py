"""The Financial review: step 4's money as finance reads it (layout: `snop_xl.contract.review`).

Per family and for the Total: plan revenue, budget revenue, variance (plan - budget in budgeted months, as the
Financials table computes it), last year (History's units of the same month a year earlier at Items' prices, as
`calc.finance.actual_money` values the year's past months) and gross margin, month by month (the fiscal year's
past months are actuals), then quarters and fiscal years. The family numbers are the Financials table's; the
variance, the Total rows and every quarter and year are formulas over them, so the fiscal-year column of the
cycle's year is the Financials' Outlook.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from snop_xl.calc import finance
from snop_xl.contract import column_letter
from snop_xl.contract import review as R
from snop_xl.inputs import Inputs
from snop_xl.io.grid import (ACTUAL, FAMILY, FIGURE, HEADER, HELP, LABEL, PLAN, QUARTER, TITLE, TOTAL, YEAR, Formula,
                             Grid, Highlight)
from snop_xl.steps.grid_cells import _num, _sum, fiscal_spans, head_rows

MONEY_FORMAT = "#,##0"
#: a variance is coloured when it shows as at least one unit of money
VARIANCE_SHOWN = "0.5"


def financial_review(inputs: Inputs, fin: pd.DataFrame) -> Grid:
    """The Financial review grid. `fin`: the Financials table."""
    s = inputs.settings
    start = s.fiscal_year_start
    months = list(finance.year_to_date(s.cycle_month, start)) + list(s.periods)
    first = R.FIN_FIRST_MONTH_COL
    col = {m: first + k for k, m in enumerate(months)}
    quarters, years = fiscal_spans(months, months, start)
    this_year = finance.fiscal_year(s.cycle_month, start)
    if s.cycle_month >= this_year[9]:  # the last quarter: the next fiscal year is shown, planned or not
        following = this_year[-1] + 1
        name = fiscal_spans([following], [following], start)[1][0][0].split(" (")[0]
        if not any(n.split(" (")[0] == name for n, _ in years):
            years.append((f"{name} (0 of 12 mo)", []))
    spans = quarters + years
    span_col = {k: first + len(months) + k for k in range(len(spans))}
    width = first - 1 + len(months) + len(spans)

    monthly = fin[(fin["horizon"] == "Month") & (fin["level"] == "Family")]
    key = {(str(f), p): row for f, p, row in zip(monthly["family"], monthly["period"],
                                                  monthly.to_dict("records"))}
    last_year = _last_year(inputs, months)
    present = set(monthly["family"].astype(str))
    families = [f for f in dict.fromkeys(inputs.active_items["family"].astype(str)) if f in present]
    families += sorted(present - set(families))

    rows: list[list[Any]] = []
    styles: list[str] = []
    levels: list[int] = []

    def block(name: str, style: str, level: int) -> dict[str, int]:
        at = {}
        for k, figure in enumerate(R.FINANCIAL_FIGURES):
            row: list[Any] = [None] * width
            row[R.FIN_COL_NAME - 1], row[R.FIN_COL_FIGURE - 1] = name, figure
            rows.append(row)
            styles.append(style if k == 0 else FIGURE)
            levels.append(level)
            at[figure] = R.FIRST_ROW + len(rows) - 1
        return at

    def put(r: int, c: int, value: Any) -> None:
        rows[r - R.FIRST_ROW][c - 1] = value

    def cell(r: int, c: int) -> Any:
        return rows[r - R.FIRST_ROW][c - 1]

    total_at = block(R.TOTAL, TOTAL, 0)
    family_at = {family: block(family, FAMILY, 1) for family in families}
    for family, at in family_at.items():
        for m, c in col.items():
            row = key.get((family, m))
            if row is not None:
                put(at[R.PLAN_REVENUE], c, _num(row["revenue"]))
                put(at[R.BUDGET_REVENUE], c, _num(row["budget_revenue"]))
                put(at[R.MARGIN], c, _num(row["margin"]))
                if _num(row["revenue_variance"]) is not None:  # budgeted: plan (0 if none) - budget
                    L = column_letter(c)
                    put(at[R.VARIANCE], c, Formula(f"={L}{at[R.PLAN_REVENUE]}-{L}{at[R.BUDGET_REVENUE]}"))
            put(at[R.LAST_YEAR], c, last_year.get((family, m)))
    for figure, r in total_at.items():
        for c in col.values():
            if any(cell(at[figure], c) is not None for at in family_at.values()):
                L = column_letter(c)
                put(r, c, Formula("=" + "+".join(f"{L}{at[figure]}" for at in family_at.values())))
    for r in range(R.FIRST_ROW, R.FIRST_ROW + len(rows)):
        for k, (_, ms) in enumerate(spans):
            if any(cell(r, col[m]) is not None for m in ms):
                put(r, span_col[k], Formula("=" + _sum(r, ms, col)))

    a, z = column_letter(first), column_letter(width)
    variance_rows = [at[R.VARIANCE] for at in [total_at, *family_at.values()]]
    highlights = [Highlight(" ".join(f"{a}{r}:{z}{r}" for r in variance_rows), "favourable", VARIANCE_SHOWN)]
    head = head_rows(width, ["Family", "Key figure"], col, [(name, span_col[k]) for k, (name, _) in enumerate(spans)],
                     f"Financial review · cycle {s.cycle_month} · {s.currency}",
                     "Grey months are actuals. Variance = plan - budget in budgeted months: green favourable, red "
                     "unfavourable. Last year: the same month a year earlier (History at today's prices). Quarters "
                     "and years add actuals and plan: a fiscal year's column is its outlook.")
    kinds = [LABEL] * (first - 1) + [ACTUAL if m < s.cycle_month else PLAN for m in months] + \
        [QUARTER] * len(quarters) + [YEAR] * len(years)
    name_width = max((len(f) for f in families), default=0) + 2.0
    widths = [max(14.0, min(24.0, name_width)), 15.0] + [10.5] * len(months) + [
        max(12.0, len(name) + 2.0) for name, _ in spans]
    return Grid(R.FINANCIAL_REVIEW, head + rows, [TITLE, HELP, HEADER] + styles,
                [0, 0, 0] + levels, kinds, widths, MONEY_FORMAT, (R.FIRST_ROW, first), [], highlights,
                header_row=R.HEADER_ROW)


def _last_year(inputs: Inputs, months: list[pd.Period]) -> Mapping[tuple[str, pd.Period], float]:
    """Revenue by family of the month a year before each of `months`, keyed by the later month."""
    earlier = [m - 12 for m in months]
    money = finance.actual_money(inputs.history, inputs.items, earlier)
    if not len(money):
        return {}
    sums = money.groupby(["family", "period"])["revenue"].sum()
    return {(str(f), p + 12): float(v) for (f, p), v in sums.items()}
