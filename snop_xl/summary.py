"""A few lines a planner reads after a run: what was planned, what is short, how it compares to budget."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from .supply import capacity_lines


def _total(frame: pd.DataFrame | None, column: str) -> float | None:
    if frame is None or column not in frame or not len(frame):
        return None
    return float(pd.to_numeric(frame[column], errors="coerce").sum())


def summary_lines(results: Mapping[str, pd.DataFrame]) -> list[str]:
    """Short text summary of whatever steps produced; tables that were not produced are skipped."""
    lines = []
    demand = results.get("DemandPlan")
    if demand is not None and len(demand):
        items = demand[demand["level"] == "Item"]
        periods = items["period"].nunique()
        lines.append(f"demand:  {items['item'].nunique()} items x {periods} months, consensus "
                     f"{_total(items, 'consensus'):,.0f} units (statistical {_total(items, 'statistical'):,.0f})")
    supply = results.get("SupplyPlan")
    if supply is not None and len(supply):
        short = supply[supply["shortage"].fillna(0) > 0.5]
        lines.append(f"supply:  {_total(supply, 'supply'):,.0f} units planned, {_total(supply, 'shortage'):,.0f} "
                     f"short in {len(short)} item-months")
    capacity = results.get("CapacityPlan")
    if capacity is not None and len(capacity):
        over = capacity[capacity["overloaded"].fillna(False).astype(bool)]
        lines.append(f"capacity: {capacity['resource'].nunique()} resources, {len(over)} overloaded resource-months")
        lines += [f"  {line}" for line in capacity_lines(capacity)]
    exceptions = results.get("Exceptions")
    if exceptions is not None and len(exceptions):
        top = exceptions.sort_values("rank").head(3)
        lines.append(f"exceptions: {len(exceptions)}; top: " + "; ".join(str(m) for m in top["message"]))
    finance = results.get("Financials")
    if finance is not None and len(finance):
        finance = finance[(finance["horizon"] == "Month") & (finance["level"] == "Family")
                          & (finance["basis"] != "Actual" if "basis" in finance else True)]
        revenue, budget = _total(finance, "revenue"), _total(finance, "budget_revenue")
        budgeted = finance[finance["budget_revenue"].notna()] if "budget_revenue" in finance else finance.iloc[:0]
        line = f"finance: revenue {revenue:,.0f}, margin {_total(finance, 'margin'):,.0f}"
        if len(budgeted):
            line += (f"; on budgeted months revenue {_total(budgeted, 'revenue'):,.0f} vs budget {budget:,.0f}"
                     f" ({_total(budgeted, 'revenue') - budget:+,.0f})")
        lines.append(line)
    scenarios = results.get("ScenarioComparison")
    if scenarios is not None and len(scenarios):
        lines.append("scenarios: " + "; ".join(f"{r.scenario} revenue {r.revenue:,.0f}"
                                                for r in scenarios.itertuples()))
    version = results.get("PlanVersion")
    if version is not None and len(version):
        lines.append(f"plan version: {version['version'].iloc[0]}")
    return lines
