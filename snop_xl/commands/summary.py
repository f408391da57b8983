"""A few lines a planner reads after a run: what was planned, what is short, how it compares to budget."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from snop_xl.calc.supply import capacity_lines


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


# ---- `snop-xl kpis`: the KPIs a planner reads first --------------------------------------------------------------
#: Sections of the KPI summary: heading, metrics (columns, by lag where they have one) and the bases they come from.
KPI_SECTIONS: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("Forecast accuracy (1 - WAPE), bias (+ = over-forecast) and tracking signal by lag: published plans vs actuals",
     ("ACCURACY", "BIAS", "TRACKING_SIGNAL"), ("published",)),
    ("Statistical forecast backtested on History (naive: the seasonal naive benchmark), same measures",
     ("ACCURACY", "BIAS", "TRACKING_SIGNAL"), ("backtest",)),
    ("Forecast value added by lag: accuracy gained over the step before (owners: on the months they changed)",
     ("FVA",), ("published",)),
    ("Plan adherence (published supply vs what arrived), fill rate and days of supply (current plan)",
     ("PLAN_ADHERENCE", "FILL_RATE", "DAYS_OF_SUPPLY"), ("published", "plan")),
)
#: Metrics shown as plain numbers; the others are shares, shown as percents.
KPI_NUMBERS = ("TRACKING_SIGNAL", "DAYS_OF_SUPPLY", "MASE")
#: Metrics whose sign says something (over or under the actuals, a gain or a loss): shown with it.
KPI_SIGNED = ("BIAS", "TRACKING_SIGNAL", "FVA", "FVA_BIAS")
_LEVEL_ORDER = {"Total": 0, "Family": 1, "Item": 2}


def select_kpis(kpis: pd.DataFrame, levels: Sequence[str] = ("Total", "Family"), family: str | None = None,
                items: pd.DataFrame | None = None, metrics: Sequence[str] = ()) -> pd.DataFrame:
    """The KPI rows at `levels` (of `family` and its items only, when given: `items` maps item to family), of
    `metrics` when given (case-insensitive)."""
    rows = kpis[kpis["level"].isin(levels)] if len(kpis) else kpis
    if family is not None and len(rows):
        members = set(items.loc[items["family"] == family, "item"]) if items is not None else set()
        rows = rows[((rows["level"] == "Family") & (rows["name"] == family))
                    | ((rows["level"] == "Item") & rows["name"].isin(members))]
    if metrics and len(rows):
        rows = rows[rows["metric"].str.upper().isin([m.upper() for m in metrics])]
    return rows


def kpi_summary(kpis: pd.DataFrame, others: bool = False) -> list[tuple[str, pd.DataFrame]]:
    """The KPI rows over all cycles together (no per-cycle trend rows) as KPI_SECTIONS: per section a table of one
    row per level, name and step, one column per metric and lag (e.g. ``ACCURACY L1``), values as text (percents
    for shares). With `others`, the metrics no section shows (WAPE, MAPE, MASE, ...) last, one section per basis."""
    if not len(kpis):
        return []
    rows = kpis[kpis["cycle"].isna()]
    shown = {m for _, metrics, _ in KPI_SECTIONS for m in metrics}
    rest = rows[~rows["metric"].isin(shown)] if others else rows.iloc[:0]
    sections = KPI_SECTIONS + tuple((f"Other metrics ({basis})", tuple(dict.fromkeys(part["metric"])), (basis,))
                                    for basis, part in rest.groupby("basis", sort=False))
    out = []
    for heading, metrics, bases in sections:
        part = rows[rows["metric"].isin(metrics) & rows["basis"].isin(bases)]
        if not len(part):
            continue
        part = part.assign(
            column=[m if pd.isna(lag) else f"{m} L{int(lag)}" for m, lag in zip(part["metric"], part["lag"])],
            text=[_kpi_text(m, v) for m, v in zip(part["metric"], part["value"])],
            step=part["step"].fillna(""))
        order = {k: i for i, k in enumerate(dict.fromkeys(part["step"]))}  # steps as the KPIs list them
        columns = sorted(dict.fromkeys(part["column"]), key=lambda c: (metrics.index(c.split(" ")[0]), c))
        table = part.pivot_table(index=["level", "name", "step"], columns="column", values="text", aggfunc="first")
        table = table.reindex(columns=columns).fillna("")
        table = table.reset_index().sort_values(
            ["level", "name", "step"], key=lambda s: s.map(_LEVEL_ORDER) if s.name == "level" else
            s.map(order) if s.name == "step" else s.map(lambda n: (n != "Total", str(n))), kind="stable")
        table.columns.name = None
        out.append((heading, table.reset_index(drop=True)))
    return out


def _kpi_text(metric: str, value: object) -> str:
    if value is None or pd.isna(value):
        return "-"
    sign = "+" if metric in KPI_SIGNED else ""
    return f"{float(value):{sign},.1f}" if metric in KPI_NUMBERS else f"{float(value):{sign}.1%}"
