"""Step 4, executive review: the plan in money against the budget, the headline figures and the chart series.

The Dashboard sheet holds the headline figures; native Excel charts beside them read the ChartData sheet and the
ScenarioComparison and Exceptions sheets (see `CHARTS`, drawn by the BookIO after the tables are written), so
they stay live when a planner edits or re-runs in Excel. The tiles above the charts (`C.charts.TILES`) show some of
these figures: the ones the meeting pack shows too are computed by its functions (`meeting.landing`, `binding`,
`options`), so the Dashboard and the pack cannot disagree.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from snop_xl import contract as C
from snop_xl.calc import finance
from snop_xl.inputs import Inputs, has_capacity_model
from snop_xl.steps import meeting
from snop_xl.steps.scenarios import BASE, summarise_plan

HISTORY_MONTHS_SHOWN = 24
#: Dashboard rows that are variances against the budget (positive = favourable): marked F/U in the meeting pack.
#: The full-year outlook (YTD actuals + rest-of-year plan) against the fiscal year's budget.
OUTLOOK_METRICS = ("Outlook vs budget revenue", "Outlook vs budget units")
NEXT_FY_METRICS = ("Next FY revenue vs budget", "Next FY units vs budget")
VARIANCE_METRICS = ("Revenue vs budget", "  of which price", "  of which volume", "  of which mix",
                    *OUTLOOK_METRICS, *NEXT_FY_METRICS)


def run(inputs: Inputs, outputs: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Financials, Dashboard and the ChartDemand / ChartCapacity series."""
    fin = outputs["Financials"] if "Financials" in outputs else financials(inputs, outputs)  # step 3's, if it ran
    return {"Financials": fin[[c.key for c in C.FINANCIALS.columns]],
            "Dashboard": dashboard(inputs, outputs, fin),
            "ChartDemand": chart_demand(inputs, outputs),
            "ChartCapacity": chart_capacity(outputs.get("CapacityPlan"))}


def financials(inputs: Inputs, outputs: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """The plan in money, with the fiscal year's past months as actuals, against the budget (finance.financials)."""
    s = inputs.settings
    plan = finance.plan_money(outputs["SupplyPlan"].reset_index(drop=True), inputs.items)
    actual = finance.actual_money(inputs.history, inputs.items, finance.year_to_date(s.cycle_month,
                                                                                       s.fiscal_year_start))
    money = pd.concat([actual, plan], ignore_index=True) if len(actual) else plan
    return finance.financials(money, inputs.budget, s.cycle_month, s.fiscal_year_start)


def dashboard(inputs: Inputs, outputs: Mapping[str, pd.DataFrame], fin: pd.DataFrame) -> pd.DataFrame:
    """Headline figures: money in the settings' currency, percentages as 0-100 with unit %."""

    cur = inputs.settings.currency
    comparison = outputs.get("ScenarioComparison")
    if comparison is not None and len(comparison) and (comparison["scenario"] == BASE).any():
        base = comparison[comparison["scenario"] == BASE].iloc[0].to_dict()
    else:
        base = summarise_plan(inputs, outputs)
    t, o = (_total_row(fin, label) for label in ("Horizon", "Outlook"))
    fy = f"{inputs.settings.fiscal_year[0]} to {o.get('period', inputs.settings.fiscal_year[-1])}"  # may end early
    exc = outputs.get("Exceptions")
    this_fy, next_fy = _landing_years(inputs, fin)
    rows = [
        ("Plan revenue", base.get("revenue"), cur),
        ("Gross margin", base.get("margin"), cur),
        ("Gross margin %", _pct(base.get("margin"), base.get("revenue")), "%"),
        ("Budget revenue (budgeted plan months)", t.get("budget_revenue"), cur),
        *[(m, t.get(k), cur) for m, k in zip(VARIANCE_METRICS, ("revenue_variance", "price_effect",
                                                                 "volume_effect", "mix_effect"))],
        (f"Full-year outlook revenue ({fy})", o.get("revenue"), cur),
        ("Full-year budget revenue", o.get("budget_revenue"), cur),
        (OUTLOOK_METRICS[0], o.get("revenue_variance"), cur),
        (f"Full-year outlook units ({fy})", o.get("plan_units"), "units"),
        ("Full-year budget units", o.get("budget_units"), "units"),
        (OUTLOOK_METRICS[1], o.get("units_variance"), "units"),
        (f"Full-year outlook margin ({fy})", this_fy.get("margin"), cur),
        ("Full-year outlook margin %", this_fy.get("margin_pct"), "%"),
        (f"Next FY revenue ({_year_label(next_fy)})", next_fy.get("revenue"), cur),
        (NEXT_FY_METRICS[0], next_fy.get("revenue_vs_budget"), cur),
        (f"Next FY units ({_year_label(next_fy)})", next_fy.get("units"), "units"),
        (NEXT_FY_METRICS[1], next_fy.get("units_vs_budget"), "units"),
        ("Demand", base.get("demand_units"), "units"),
        ("Fill rate", _pct(base.get("supplied_units"), base.get("demand_units")), "%"),
        ("Shortage", base.get("shortage_units"), "units"),
        ("Revenue at risk (shortage)", base.get("shortage_value"), cur),
        ("Ending inventory value", base.get("inventory_value"), cur),
        ("Capacity utilisation", None if pd.isna(base.get("utilisation", np.nan)) else 100 * base["utilisation"],
         "%"),
        ("Overloaded resource-months", base.get("overloaded_months"), "count"),
        ("Cost of plan", base.get("plan_cost"), cur),
        ("Cost of aggregate plan", base.get("aggregate_cost"), cur),
        (*_binding_headline(inputs, outputs), cur),
        ("Exceptions", len(exc) if exc is not None else None, "count"),
        ("Money at stake in exceptions", float(exc["value"].sum()) if exc is not None and len(exc) else None, cur),
        ("Scenarios compared", len(comparison) - 1 if comparison is not None and len(comparison) else None,
         "count"),
        (*_best_option(comparison), cur),
    ]
    return pd.DataFrame([{"metric": m, "value": None if v is None or pd.isna(v) else float(v), "unit": u}
                         for m, v, u in rows])


def _landing_years(inputs: Inputs, fin: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """This fiscal year's and the next one's full-year rows of the pack's landing (`meeting.landing`), so the
    Dashboard's tiles show what page 1 shows; an empty row for a year the plan does not reach."""
    s = inputs.settings
    land = meeting.landing(fin, inputs.history, inputs.items, s.cycle_month, s.fiscal_year_start) \
        if len(fin) else pd.DataFrame(columns=list(meeting.LANDING_COLUMNS))
    years = land[land["row"] == "Year"]
    this = meeting.fiscal_year_name(finance.fiscal_year(s.cycle_month, s.fiscal_year_start)[0], s.fiscal_year_start)
    pick = [years[years["year"] == this], years[years["year"] != this]]
    return tuple(y.iloc[0] if len(y) else pd.Series(dtype=object) for y in pick)


def _year_label(year: pd.Series) -> str:
    """"FY2027: 2027-01..2027-12, plan": the year, the months the plan has of it and their basis."""
    if not len(year):
        return "beyond the plan's horizon"
    return f"{year['year']}: {year['months']}, {str(year['basis']).lower()}"


def _binding_headline(inputs: Inputs, outputs: Mapping[str, pd.DataFrame]) -> tuple[str, float | None]:
    """The resource that binds with the most money at stake (`meeting.binding`: the pack's page 2 has its months)
    and that money."""
    if not has_capacity_model(inputs):
        return "Binding resource money at stake (no capacity data)", None
    b = meeting.binding(outputs.get("CapacityPlan"), outputs.get("SupplyPlan"), inputs.items,
                        inputs.bill_of_resources, outputs.get("Exceptions"))
    if not len(b):
        return "Binding resource money at stake (no resource binds)", 0.0
    top, more = b.iloc[0], f" and {len(b) - 1} more" if len(b) > 1 else ""
    return f"Binding resource money at stake ({top['resource']}{more})", float(top["at_stake"])


def _best_option(comparison: pd.DataFrame | None) -> tuple[str, float | None]:
    """The scenario with the most margin over the base plan (`meeting.options`, the pack's page 2)."""
    opts = meeting.options(comparison)
    others = opts[(opts["scenario"] != BASE) & opts["margin_vs_base"].notna()]
    if not len(others):
        return "Best scenario margin vs base (no scenario)", None
    best = others.loc[others["margin_vs_base"].astype(float).idxmax()]
    return f"Best scenario margin vs base ({best['scenario']})", float(best["margin_vs_base"])


def _total_row(fin: pd.DataFrame, label: str) -> pd.Series:
    rows = fin[(fin["horizon"] == label) & (fin["level"] == "Total")]
    return rows.iloc[0] if len(rows) else pd.Series(dtype=object)


def _pct(num: float | None, den: float | None) -> float | None:
    if num is None or den is None or pd.isna(num) or pd.isna(den) or den == 0:
        return None
    return 100.0 * float(num) / float(den)


def chart_demand(inputs: Inputs, outputs: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Per family and for the Total: recent history, then statistical, consensus, budget, supply, shortage."""
    s = inputs.settings
    fam_of = inputs.items.set_index("item")["family"]
    hist = inputs.history[inputs.history["period"] >= s.cycle_month - HISTORY_MONTHS_SHOWN]
    hist = hist.assign(family=hist["item"].map(fam_of)).groupby(["family", "period"])["qty"].sum().rename(
        "history")
    demand = outputs["DemandPlan"]
    d = demand[demand["level"] == "Item"].groupby(["family", "period"])[["statistical", "consensus"]].sum()
    sup = outputs["SupplyPlan"].groupby(["family", "period"])[["supply", "shortage"]].sum()
    bud = inputs.budget.groupby(["family", "period"])["units"].sum().rename("budget_units")
    frame = pd.concat([hist, d, bud, sup], axis=1).reset_index()
    families = sorted(frame["family"].dropna().unique())
    periods = pd.period_range(min(frame["period"].min(), s.cycle_month - HISTORY_MONTHS_SHOWN),
                              s.periods[-1], freq="M")
    grid = pd.MultiIndex.from_product([families, periods], names=["family", "period"])
    frame = frame.set_index(["family", "period"]).reindex(grid).reset_index()
    cols = ["history", "statistical", "consensus", "budget_units", "supply", "shortage"]
    total = frame.groupby("period", as_index=False)[cols].sum(min_count=1).assign(family="Total")
    out = pd.concat([total, frame], ignore_index=True)
    return out[[c.key for c in C.CHART_DEMAND.columns]]


def chart_capacity(capacity_plan: pd.DataFrame | None) -> pd.DataFrame:
    if capacity_plan is None or not len(capacity_plan):
        return pd.DataFrame({c.key: pd.Series(dtype=object) for c in C.CHART_CAPACITY.columns})
    cp = capacity_plan.sort_values(["resource", "period"], kind="stable")
    return cp[[c.key for c in C.CHART_CAPACITY.columns]].reset_index(drop=True)




