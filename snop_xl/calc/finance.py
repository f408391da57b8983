"""The plan in money: revenue, COGS, margin, inventory value, cost of the plan, and variance against the budget.

The building blocks (`variance`, `price_volume_mix`) are plain functions over numbers or arrays so worksheet
functions can wrap them; `plan_money`, `plan_cost` and `financials` turn the step 2 frames into the Financials
table. The formulas are stated in docs/finance.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

VARIANCE_KINDS = ("abs", "pct", "favourable", "label")


def variance(actual: Any, plan: Any, kind: str = "abs", higher_is_better: bool = True) -> Any:
    """Variance of `actual` against `plan` (scalars, arrays or Series alike).

    kind "abs": actual - plan; "pct": (actual - plan) / |plan| (NaN where plan is 0 or missing);
    "favourable": True where the variance is good for the business (higher_is_better says which way that is);
    "label": "F" (favourable), "U" (unfavourable) or "" (no variance or not computable), as finance marks them.
    """
    if kind not in VARIANCE_KINDS:
        raise ValueError(f"unknown variance kind {kind!r}; choose from {', '.join(VARIANCE_KINDS)}")
    scalar = np.ndim(actual) == 0 and np.ndim(plan) == 0
    a = np.asarray(actual, dtype=float)
    p = np.asarray(plan, dtype=float)
    diff = a - p
    if kind == "abs":
        out: Any = diff
    elif kind == "pct":
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.where((p != 0) & np.isfinite(p), diff / np.abs(p), np.nan)
    else:
        good = diff > 0 if higher_is_better else diff < 0
        if kind == "favourable":
            out = good
        else:
            out = np.where(np.isnan(diff) | (np.abs(diff) < 1e-9), "", np.where(good, "F", "U")).astype(object)
    if scalar:
        return out.item() if hasattr(out, "item") else out
    if isinstance(actual, pd.Series):
        return pd.Series(out, index=actual.index, name=actual.name)
    return out


def price_volume_mix(actual_qty: Any, actual_price: Any, budget_qty: Any, budget_price: Any) -> dict[str, float]:
    """Split revenue variance over the lines of a mix (items of a family, families of a total) into effects.

    With AQ, AP the actual (plan) quantity and price of each line and BQ, BP the budget's:
      total  = sum(AQ*AP) - sum(BQ*BP)
      price  = sum(AQ*(AP - BP))                       what the price difference is worth at actual volumes
      volume = (sum(AQ) - sum(BQ)) * sum(BQ*BP)/sum(BQ)  the change in total units at the budget's average price
      mix    = sum(BP*AQ) - sum(AQ) * sum(BQ*BP)/sum(BQ) the shift between lines at budget prices
    so price + volume + mix == total exactly. A line with no budget price is valued at its actual price (no price
    effect); with no budget units at all the whole non-price change is volume. NaN quantities count as 0.
    """
    aq = np.nan_to_num(np.atleast_1d(np.asarray(actual_qty, dtype=float)))
    bq = np.nan_to_num(np.atleast_1d(np.asarray(budget_qty, dtype=float)))
    ap = np.atleast_1d(np.asarray(actual_price, dtype=float))
    bp = np.atleast_1d(np.asarray(budget_price, dtype=float))
    aq, bq, ap, bp = np.broadcast_arrays(aq, bq, ap, bp)
    bp = np.where(np.isfinite(bp), bp, ap)  # no budget price: the line carries no price effect
    ap = np.where(np.isfinite(ap), ap, bp)
    ap, bp = np.nan_to_num(ap), np.nan_to_num(bp)
    actual_rev, budget_rev = float(aq @ ap), float(bq @ bp)
    price = float(aq @ (ap - bp))
    at_budget_price = float(aq @ bp)
    if bq.sum() > 0:
        volume = (aq.sum() - bq.sum()) * budget_rev / bq.sum()
        mix = at_budget_price - aq.sum() * budget_rev / bq.sum()
    else:
        volume, mix = at_budget_price - budget_rev, 0.0
    return {"actual": actual_rev, "budget": budget_rev, "total": actual_rev - budget_rev, "price": price,
            "volume": float(volume), "mix": float(mix)}


def fiscal_year(month: pd.Period, start_month: int = 1) -> pd.PeriodIndex:
    """The twelve months of the fiscal year that contains `month`, for a fiscal year starting in `start_month`."""
    year = month.year if month.month >= start_month else month.year - 1
    return pd.period_range(pd.Period(year=year, month=start_month, freq="M"), periods=12, freq="M")


def year_to_date(cycle_month: pd.Period, start_month: int = 1) -> pd.PeriodIndex:
    """The fiscal year's months before the cycle month: the past months valued from actuals."""
    year = fiscal_year(cycle_month, start_month)
    return year[year < cycle_month]


def summary_spans(periods: pd.Series, cycle_month: pd.Period, start_month: int = 1) -> dict[str, pd.Series]:
    """Which of `periods` each summary row of the Financials sums: YTD (the fiscal year's months before the cycle
    month), Outlook (the whole fiscal year of the cycle month) and Horizon (the plan's months), as boolean masks."""
    return {"YTD": periods.isin(year_to_date(cycle_month, start_month)),
            "Outlook": periods.isin(fiscal_year(cycle_month, start_month)),
            "Horizon": periods >= cycle_month}


# ---- the plan in money ----------------------------------------------------------------------------------------
def with_prices(supply: pd.DataFrame, items: pd.DataFrame) -> pd.DataFrame:
    """SupplyPlan rows with `unit_price` and `unit_cost` of their item (scenarios may scale them afterwards)."""
    cols = [c for c in ("unit_price", "unit_cost") if c not in supply]
    if not cols:
        return supply
    return supply.merge(items[["item", *cols]], on="item", how="left")


def plan_money(supply: pd.DataFrame, items: pd.DataFrame) -> pd.DataFrame:
    """Per item and month: units sold (demand met), revenue, COGS, margin and closing inventory value."""
    s = with_prices(supply, items)
    demand = s["demand"].astype(float).fillna(0.0)
    met = (demand - s["shortage"].astype(float).fillna(0.0)).clip(lower=0.0)
    price, cost = s["unit_price"].astype(float).fillna(0.0), s["unit_cost"].astype(float).fillna(0.0)
    out = pd.DataFrame({"item": s["item"], "family": s["family"], "period": s["period"], "demand": demand,
                        "plan_units": met, "shortage": s["shortage"].astype(float).fillna(0.0),
                        "revenue": met * price, "cogs": met * cost,
                        "inventory_value": s["closing"].astype(float).clip(lower=0.0) * cost,
                        "unit_price": price, "unit_cost": cost})
    out["margin"] = out["revenue"] - out["cogs"]
    return out


def actual_money(history: pd.DataFrame, items: pd.DataFrame, months: Any) -> pd.DataFrame:
    """Per item and month of `months` (past months): History's units sold valued like the plan (`plan_money`), at
    the item's unit price and cost from Items (no invoiced prices in the book); closing stock unknown (blank)."""
    h = history[history["period"].isin(months)]
    h = h.merge(items[["item", "family"]], on="item", how="inner")
    qty = h["qty"].astype(float).fillna(0.0)
    sold = pd.DataFrame({"item": h["item"], "family": h["family"], "period": h["period"], "demand": qty,
                         "shortage": 0.0, "closing": np.nan})
    return plan_money(sold, items)


def plan_cost(supply: pd.DataFrame, items: pd.DataFrame, capacity_plan: pd.DataFrame | None,
              capacity: pd.DataFrame | None, holding_rate: float, backlog_rate: float) -> dict[str, float]:
    """Cost of running the plan: holding + backlog + regular and overtime hours (the aggregate plan's objective).

    holding = sum(closing * unit_cost) * holding_rate / 12; backlog = sum(shortage * unit_price) * backlog_rate;
    labour = sum(min(required, available) * regular cost/h) + sum(overtime used * overtime cost/h).
    """
    s = with_prices(supply, items)
    holding = float((s["closing"].astype(float).fillna(0).clip(lower=0) * s["unit_cost"].astype(float)).sum()
                    * holding_rate / 12)
    backlog = float((s["shortage"].astype(float).fillna(0) * s["unit_price"].astype(float)).sum() * backlog_rate)
    regular = overtime = 0.0
    if capacity_plan is not None and len(capacity_plan) and capacity is not None and len(capacity):
        rates = capacity[["resource", "period", "regular_cost", "overtime_cost"]]
        c = capacity_plan.merge(rates, on=["resource", "period"], how="left")
        hours = np.minimum(c["required_hours"].astype(float).fillna(0), c["available_hours"].astype(float).fillna(0))
        regular = float((hours * c["regular_cost"].astype(float).fillna(0)).sum())
        overtime = float((c["overtime_hours"].astype(float).fillna(0) * c["overtime_cost"].astype(float).fillna(0))
                         .sum())
    return {"holding": holding, "backlog": backlog, "regular": regular, "overtime": overtime,
            "total": holding + backlog + regular + overtime}


# ---- against the budget ---------------------------------------------------------------------------------------
_SUMS = ["plan_units", "revenue", "cogs", "margin", "inventory_value", "budget_units", "budget_revenue"]


def _budget_lines(budget: pd.DataFrame, money: pd.DataFrame) -> pd.DataFrame:
    """Budget and plan on one grain per family-month: item lines where finance budgeted items, else the family."""
    b = budget.copy()
    b["line"] = b["item"].where(b["item"].notna() & (b["item"].astype(str) != ""), b["family"]) \
        if len(b) else pd.Series(dtype=object)
    item_budgeted = set(b.loc[b["line"] != b["family"], "family"]) if len(b) else set()
    m = money.copy()
    m["line"] = np.where(m["family"].isin(item_budgeted), m["item"], m["family"])
    plan = m.groupby(["family", "period", "line"], as_index=False)[["plan_units", "revenue"]].sum()
    bud = b.groupby(["family", "period", "line"], as_index=False)[["units", "revenue"]].sum().rename(
        columns={"units": "budget_units", "revenue": "budget_revenue"}) if len(b) else \
        pd.DataFrame(columns=["family", "period", "line", "budget_units", "budget_revenue"])
    lines = plan.merge(bud, on=["family", "period", "line"], how="outer")
    for c in ("plan_units", "revenue", "budget_units", "budget_revenue"):
        lines[c] = lines[c].astype(float)
    return lines


def _pvm_of(lines: pd.DataFrame) -> dict[str, float]:
    with np.errstate(divide="ignore", invalid="ignore"):
        ap = lines["revenue"] / lines["plan_units"]
        bp = lines["budget_revenue"] / lines["budget_units"]
    return price_volume_mix(lines["plan_units"].fillna(0), ap.where(np.isfinite(ap)),
                            lines["budget_units"].fillna(0), bp.where(np.isfinite(bp)))


def financials(money: pd.DataFrame, budget: pd.DataFrame, cycle_month: pd.Period,
               fiscal_year_start: int = 1) -> pd.DataFrame:
    """The Financials table: money per family and month against the budget with price/volume/mix effects, plus
    a Total row per month (mix = shift between families) and summary rows: YTD (the fiscal year's months before
    the cycle month), Outlook (the whole fiscal year of the cycle month) and Horizon (the plan's months).

    `money` holds plan rows (`plan_money`) and, for months before the cycle month, actual rows (`actual_money`):
    both go through the same comparison. Months the budget does not cover get no variance (blank), so totals
    compare like with like.
    """
    by = money.groupby(["family", "period"], as_index=False)[["plan_units", "revenue", "cogs", "margin",
                                                              "inventory_value"]].sum(min_count=1)
    lines = _budget_lines(budget, money)
    budgeted = lines.groupby(["family", "period"])["budget_units"].apply(lambda s: s.notna().any())
    rows = []
    for (family, period), grp in lines.groupby(["family", "period"], sort=True):
        if not budgeted.get((family, period), False):
            rows.append({"family": family, "period": period})
            continue
        e = _pvm_of(grp)
        rows.append({"family": family, "period": period, "budget_units": grp["budget_units"].sum(),
                     "budget_revenue": grp["budget_revenue"].sum(), "price_effect": e["price"],
                     "volume_effect": e["volume"], "mix_effect": e["mix"]})
    budget_columns = ["budget_units", "budget_revenue", "price_effect", "volume_effect", "mix_effect"]
    fam = by.merge(pd.DataFrame(rows, columns=["family", "period", *budget_columns]), on=["family", "period"],
                   how="outer")  # no budget yet (a first run): every budget column there, blank
    fam["level"] = "Family"
    for c in ("plan_units", "revenue"):  # the plan on budgeted lines only: variances compare like with like
        fam[f"_{c}_b"] = fam[c].fillna(0.0).where(fam["budget_units"].notna())
    # Total per month: the families are the lines of the mix
    totals = []
    for period, grp in fam.groupby("period", sort=True):
        row = {"level": "Total", "family": "Total", "period": period}
        for c in ("plan_units", "revenue", "cogs", "margin", "inventory_value"):
            row[c] = grp[c].sum(min_count=1)
        has_budget = grp["budget_units"].notna()
        if has_budget.any():
            g = grp[has_budget].fillna({"plan_units": 0.0, "revenue": 0.0})
            e = _pvm_of(g)
            row.update(budget_units=g["budget_units"].sum(), budget_revenue=g["budget_revenue"].sum(),
                       _plan_units_b=g["plan_units"].sum(), _revenue_b=g["revenue"].sum(),
                       price_effect=e["price"], volume_effect=e["volume"], mix_effect=e["mix"])
        totals.append(row)
    monthly = pd.concat([fam, pd.DataFrame(totals)], ignore_index=True)
    monthly = _add_variances(monthly, plan_units="_plan_units_b", revenue="_revenue_b")
    monthly["horizon"] = "Month"
    monthly["basis"] = np.where(monthly["period"] < cycle_month, "Actual", "Plan")
    # summaries per family and total: sums of the month rows (effects included), a stock at its last month
    summaries = []
    for label, mask in summary_spans(monthly["period"], cycle_month, fiscal_year_start).items():
        part = monthly[mask]
        if not len(part):
            continue
        agg = part.groupby(["level", "family"], sort=False).agg(
            {c: (lambda s: s.sum(min_count=1)) for c in _SUMS + ["price_effect", "volume_effect", "mix_effect",
                                                                  "_plan_units_b", "_revenue_b"]})
        # a stock: the closing value of the last month, not a sum
        agg["inventory_value"] = part.sort_values("period").groupby(["level", "family"])["inventory_value"].last()
        agg = agg.reset_index()
        agg["horizon"] = label
        agg["period"] = part["period"].max()
        bases = set(part["basis"])
        agg["basis"] = bases.pop() if len(bases) == 1 else "Actual + plan"
        summaries.append(_add_variances(agg, plan_units="_plan_units_b", revenue="_revenue_b"))
    out = pd.concat([monthly, *summaries], ignore_index=True)
    order = {"Month": 0, "YTD": 1, "Outlook": 2, "Horizon": 3}
    out["_o"] = out["horizon"].map(order)
    out["_t"] = (out["level"] == "Total").astype(int)
    out = out.sort_values(["_o", "_t", "family", "period"], kind="stable").drop(
        columns=[c for c in out.columns if c.startswith("_")])
    return out.reset_index(drop=True)


def _add_variances(df: pd.DataFrame, plan_units: str = "plan_units", revenue: str = "revenue") -> pd.DataFrame:
    """Unit and revenue variance columns where a budget exists (plan columns may be restricted to budgeted months)."""
    df = df.copy()
    has = df["budget_units"].notna()
    pu = df[plan_units].astype(float).fillna(0.0)
    rv = df[revenue].astype(float).fillna(0.0)
    df["units_variance"] = (pu - df["budget_units"]).where(has)
    df["revenue_variance"] = (rv - df["budget_revenue"]).where(has)
    df["revenue_variance_pct"] = pd.Series(variance(rv, df["budget_revenue"], "pct"), index=df.index).where(has)
    df["favourable"] = pd.Series(variance(rv, df["budget_revenue"], "label"), index=df.index).where(has, "")
    return df


def summarise(money: pd.DataFrame, costs: Mapping[str, float] | None = None) -> dict[str, float]:
    """Headline figures of a plan: units, revenue, COGS, margin, fill rate, shortages, ending inventory value."""
    demand = float(money["demand"].sum())
    last = money["period"].max() if len(money) else None
    out = {"demand_units": demand, "supplied_units": float(money["plan_units"].sum()),
           "revenue": float(money["revenue"].sum()), "cogs": float(money["cogs"].sum()),
           "margin": float(money["margin"].sum()),
           "fill_rate": float(money["plan_units"].sum() / demand) if demand > 0 else float("nan"),
           "shortage_units": float(money["shortage"].sum()),
           "shortage_value": float((money["shortage"] * money["unit_price"]).sum()),
           "inventory_value": float(money.loc[money["period"] == last, "inventory_value"].sum())
           if last is not None else 0.0}
    if costs is not None:
        out["plan_cost"] = float(costs["total"])
    return out
