"""Step 4, the executive meeting's content: what each page of the pack (and the Dashboard) shows, as plain frames.

Data first, drawing second: every function here takes output tables as written (contract keys) and a few inputs,
and returns frames or short texts; `snop_xl.commands.report` draws them, and the Dashboard can show the same.
Each function answers one question of the meeting:

- `landing`          where do we land? this fiscal year (actuals + plan) and the next, by quarter, vs budget and
                     last year, with the variance split into price / volume / mix
- `binding` / `shortages_by_family` / `options` / `decision_log`   what must we decide?
- `risks`            risks and exceptions, one line per family (or resource) and cause, with cause, action, owner
- `demand_supply` / `capacity_series`   demand and supply, with projected inventory and safety stock;
                     `order_coverage` / `deals_at_risk`   what orders already cover and which deals carry risk
- `accuracy_by_lag` / `fva_by_contributor`   how good is our forecast?
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from snop_xl.calc import finance
from snop_xl.calc.supply.explain import binding_resources


# ---- who and when -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Header:
    """What every page carries: the book, the plan version (or draft), the cycle month, the date; stale reasons."""

    book: str
    version: str
    cycle_month: pd.Period
    date: str
    stale: tuple[str, ...] = field(default_factory=tuple)

    @property
    def line(self) -> str:
        return f"{self.book}  |  plan {self.version}  |  cycle {self.cycle_month}  |  {self.date}"


def plan_version_label(plan_version: pd.DataFrame | None) -> str:
    """"<version> (published)" or "<version> (draft)"; just "draft" when the book has no PlanVersion row."""
    if plan_version is None or not len(plan_version) or pd.isna(plan_version["version"].iloc[0]):
        return "draft"
    row = plan_version.iloc[0]
    status = str(row.get("status") or "Draft").strip().lower()
    return f"{row['version']} ({status})"


# ---- page 1: where do we land ------------------------------------------------------------------------------------
LANDING_COLUMNS = ("year", "row", "label", "months", "basis", "units", "revenue", "margin", "margin_pct",
                   "budget_units", "budget_revenue", "units_vs_budget", "revenue_vs_budget", "price", "volume",
                   "mix", "ly_units", "ly_revenue", "ly_margin", "revenue_vs_ly")


def fiscal_year_name(first: pd.Period, start_month: int = 1) -> str:
    """FY2026 for a calendar fiscal year, FY2026/27 for one that starts in another month."""
    return f"FY{first.year}" if start_month == 1 else f"FY{first.year}/{(first.year + 1) % 100:02d}"


def span(months: Iterable[pd.Period]) -> str:
    """"2027-01..2027-03" (one month: "2027-01")."""
    months = sorted(months)
    return str(months[0]) if len(months) == 1 else f"{months[0]}..{months[-1]}"


def monthly_totals(fin: pd.DataFrame, history: pd.DataFrame, items: pd.DataFrame) -> pd.DataFrame:
    """One row per month (all families): units, revenue, margin, budget and the variance effects. Months in the
    Financials table come from its Total month rows; months before them (last year) are History valued like the
    Financials' actuals (`finance.actual_money`: Items' price and cost)."""
    cols = ["plan_units", "revenue", "margin", "budget_units", "budget_revenue", "units_variance",
            "revenue_variance", "price_effect", "volume_effect", "mix_effect"]
    f = fin[(fin["horizon"] == "Month") & (fin["level"] == "Total")]
    f = f.set_index("period")[cols + ["basis"]].astype({c: float for c in cols})
    earlier = sorted(set(history["period"]) - set(f.index))
    if earlier:
        a = finance.actual_money(history, items, earlier).groupby("period")[["plan_units", "revenue", "margin"]].sum()
        a["basis"] = "Actual"
        f = pd.concat([a.reindex(columns=f.columns), f])
    return f.sort_index()


def _sum(frame: pd.DataFrame, col: str) -> float:
    return float(frame[col].sum(min_count=1)) if col in frame else float("nan")


def landing(fin: pd.DataFrame, history: pd.DataFrame, items: pd.DataFrame, cycle_month: pd.Period,
            start_month: int = 1) -> pd.DataFrame:
    """This fiscal year (actuals + plan) and the next, by quarter and in total (LANDING_COLUMNS): units, revenue,
    margin against the budget (variance = price + volume + mix, on budgeted months) and against the same months a
    year earlier. A year or quarter the plan does not cover to its end is labelled with the months it has."""
    monthly = monthly_totals(fin, history, items)
    this = finance.fiscal_year(cycle_month, start_month)
    rows = []
    for fy in (this, this + 12):
        name = fiscal_year_name(fy[0], start_month)
        for q, months in [(f"Q{k + 1}", fy[3 * k:3 * k + 3]) for k in range(4)] + [("Year", fy)]:
            have = [m for m in months if m in monthly.index and pd.notna(monthly.at[m, "revenue"])]
            if not have:
                continue
            part = monthly.loc[have]
            ly = monthly.reindex([m - 12 for m in have])
            bases = set(part["basis"].dropna())
            basis = bases.pop() if len(bases) == 1 else "Actual + plan"
            revenue, margin = _sum(part, "revenue"), _sum(part, "margin")
            ly_revenue = _sum(ly, "revenue")
            rows.append({
                "year": name, "row": q, "label": f"{name} {q}" if q != "Year" else f"{name} full year",
                "months": span(have), "basis": basis, "units": _sum(part, "plan_units"), "revenue": revenue,
                "margin": margin, "margin_pct": 100 * margin / revenue if revenue else float("nan"),
                "budget_units": _sum(part, "budget_units"), "budget_revenue": _sum(part, "budget_revenue"),
                "units_vs_budget": _sum(part, "units_variance"), "revenue_vs_budget": _sum(part, "revenue_variance"),
                "price": _sum(part, "price_effect"), "volume": _sum(part, "volume_effect"),
                "mix": _sum(part, "mix_effect"), "ly_units": _sum(ly, "plan_units"), "ly_revenue": ly_revenue,
                "ly_margin": _sum(ly, "margin"), "revenue_vs_ly": revenue - ly_revenue})
    return pd.DataFrame(rows, columns=list(LANDING_COLUMNS))


# ---- page 2: what must we decide ---------------------------------------------------------------------------------
def _resources_of(bor: pd.DataFrame, items: pd.DataFrame) -> pd.DataFrame:
    """(item, resource) pairs: a BillOfResources item row, or a family row for every item of the family."""
    if bor is None or not len(bor):
        return pd.DataFrame(columns=["item", "resource"])
    direct = bor[bor["item"].notna()][["item", "resource"]]
    fam = bor[bor["item"].isna() & bor["family"].notna()].drop(columns="item").merge(items[["item", "family"]], on="family")
    return pd.concat([direct, fam[["item", "resource"]]], ignore_index=True).drop_duplicates()


def binding(capacity_plan: pd.DataFrame | None, supply_plan: pd.DataFrame | None, items: pd.DataFrame,
            bor: pd.DataFrame | None, exceptions: pd.DataFrame | None = None) -> pd.DataFrame:
    """Each resource that binds (`binding_resources`) with the money at stake: revenue lost on the items it makes
    in the months it binds (shortage at unit price) plus what its overload costs the plan (its Capacity overload
    exception's value)."""
    b = binding_resources(capacity_plan)
    if not len(b):
        return b.assign(binding_months="", lost_revenue=0.0, overload_cost=0.0, at_stake=0.0)
    cp = capacity_plan.assign(shadow=pd.to_numeric(capacity_plan["shadow_price"], errors="coerce").fillna(0.0))
    uses = _resources_of(bor, items)
    rows = []
    for r in b.itertuples(index=False):
        months = set(cp.loc[(cp["resource"] == r.resource) & (cp["shadow"] > 1e-6), "period"])
        lost = 0.0
        if supply_plan is not None and len(supply_plan):
            made = set(uses.loc[uses["resource"] == r.resource, "item"])
            s = supply_plan[supply_plan["item"].isin(made) & supply_plan["period"].isin(months)]
            s = s.merge(items[["item", "unit_price"]], on="item", how="left")
            lost = float((s["shortage"].astype(float).fillna(0) * s["unit_price"].astype(float).fillna(0)).sum())
        cost = 0.0
        if exceptions is not None and len(exceptions):
            e = exceptions[(exceptions["kind"] == "Capacity overload") & (exceptions["item"] == r.resource)]
            cost = float(e["value"].astype(float).fillna(0).sum())
        rows.append({"binding_months": span(months), "lost_revenue": lost, "overload_cost": cost,
                     "at_stake": lost + cost})
    return pd.concat([b.reset_index(drop=True), pd.DataFrame(rows)], axis=1).sort_values(
        ["at_stake", "resource"], ascending=[False, True], kind="stable").reset_index(drop=True)


def shortages_by_family(gaps: pd.DataFrame | None) -> pd.DataFrame:
    """Per family: units short, revenue at risk, the months concerned and how many items (Gaps' item rows)."""
    cols = ["family", "units", "value", "months", "items"]
    if gaps is None or not len(gaps):
        return pd.DataFrame(columns=cols)
    g = gaps[(gaps["level"] == "Item") & (gaps["shortage"].astype(float) > 0.5)]
    if not len(g):
        return pd.DataFrame(columns=cols)
    out = g.groupby("family").agg(units=("shortage", "sum"), value=("shortage_value", "sum"),
                                  months=("period", lambda p: span(set(p))), items=("item", "nunique"))
    return out.reset_index().sort_values("value", ascending=False, kind="stable").reset_index(drop=True)[cols]


OPTION_COLUMNS = ("scenario", "revenue", "margin", "margin_vs_base", "plan_cost", "fill_rate", "shortage_value",
                  "inventory_value", "utilisation")


def options(comparison: pd.DataFrame | None) -> pd.DataFrame:
    """The scenarios side by side (ScenarioComparison): cost, revenue, margin and service of each option."""
    if comparison is None or not len(comparison):
        return pd.DataFrame(columns=list(OPTION_COLUMNS))
    return comparison.reindex(columns=list(OPTION_COLUMNS)).reset_index(drop=True)


def decision_log(decisions: pd.DataFrame | None) -> pd.DataFrame:
    """Decisions already taken, latest first: date, decision, owner, the month it is due (blank in a book without
    the Due column), scenario, note."""
    cols = ["date", "decision", "owner", "due", "scenario", "note"]
    if decisions is None or not len(decisions):
        return pd.DataFrame(columns=cols)
    d = decisions.reindex(columns=cols)
    return d.sort_values("date", ascending=False, kind="stable").reset_index(drop=True)


# ---- page 3: risks and exceptions --------------------------------------------------------------------------------
#: cause class of each exception kind: the two budget shortfalls of a family are one risk
CAUSE_OF_KIND = {"Outlook below budget": "Below budget", "Plan below budget": "Below budget"}
#: what the meeting is asked to do about each kind, and who usually owns it
ACTIONS = {
    "Shortage": ("add capacity or supply where it binds, or agree what is allocated", "Supply planning"),
    "Below safety stock": ("expedite supply or accept the service risk", "Supply planning"),
    "Capacity overload": ("approve overtime, build ahead or subcontract; else shift demand", "Operations"),
    "Excess stock": ("cut or delay supply", "Supply planning"),
    "Obsolete risk": ("stop supply, plan run-out or write-down", "Supply planning"),
    "Forecast bias": ("review the forecast and the overrides behind it", "Demand planning"),
    "Consensus vs statistical": ("confirm or withdraw the override", "Demand planning"),
    "Below budget": ("close the gap (price, volume actions) or restate the outlook", "Finance and Sales"),
    "Below open orders": ("confirm the override below booked orders, or tell the customers", "Sales"),
    "Stale deal": ("update the deal's close date or stage in the CRM", "Sales"),
    "Large deal": ("confirm the deal and its timing with its owner before supply is committed", "Sales"),
}
#: the cause of the kinds whose exception says it all (the others are worked out from the plan)
CAUSES = {"Excess stock": "stock beyond the demand it can serve",
          "Obsolete risk": "no demand left for stock still held",
          "Below open orders": "an override set the consensus below the open orders",
          "Stale deal": "a close date before the cycle month: the deal carries no demand",
          "Large deal": "one deal carries most of the month"}
RISK_COLUMNS = ("rank", "kind", "where", "value", "what", "cause", "action", "owner")


def describe(item: object, items: pd.DataFrame) -> str:
    """"HT-008 Hand Tools item 8": the code with its description beside it (the code alone when it has none)."""
    desc = items.set_index("item")["description"].get(item) if "description" in items else None
    return f"{item} {desc}" if desc is not None and pd.notna(desc) and str(desc).strip() else str(item)


def _listing(parts: list[str], most: int = 4) -> str:
    return "; ".join(parts[:most]) + (f"; and {len(parts) - most} more" if len(parts) > most else "")


def _grouped(causes: dict[str, list[str]]) -> str:
    """"Machining at capacity (2027-03..2027-06): HT-008, HT-010; lead time ...: HT-003": items by cause."""
    return "; ".join(f"{cause}: {', '.join(who)}" for cause, who in causes.items())


def _supply_cause(rows: pd.DataFrame, capacity_plan: pd.DataFrame | None, uses: pd.DataFrame,
                  suppliers: pd.DataFrame | None, items: pd.DataFrame, cycle_month: pd.Period | None) -> str:
    """Why each item is short or below safety stock, items grouped by cause: the resources binding in its months,
    else its suppliers' limits, else a lead time the cycle month cannot beat."""
    binding_months: dict[str, set] = {}
    if capacity_plan is not None and len(capacity_plan) and "shadow_price" in capacity_plan:
        cp = capacity_plan[pd.to_numeric(capacity_plan["shadow_price"], errors="coerce").fillna(0) > 1e-6]
        binding_months = {r: set(g["period"]) for r, g in cp.groupby("resource")}
    lead = items.set_index("item")["lead_time"]
    min_lot = items.set_index("item")["min_lot"] if "min_lot" in items else pd.Series(dtype=float)
    causes: dict[str, list[str]] = {}
    months_of: dict[str, set] = {}
    for r in rows.itertuples(index=False):
        n = int(r.months) if pd.notna(getattr(r, "months", None)) else 1
        window = set(pd.period_range(r.period, periods=max(n, 1), freq="M")) if pd.notna(r.period) else set()
        found = []
        for res in sorted(set(uses.loc[uses["item"] == r.item, "resource"])):
            hit = binding_months.get(res, set()) & window
            if hit:
                found.append(f"{res} at capacity")
                months_of.setdefault(found[-1], set()).update(hit)
        if not found and suppliers is not None and len(suppliers):
            for s in suppliers[suppliers["item"] == r.item].itertuples(index=False):
                limit = f", at most {s.max_per_period:,.0f}/month" if pd.notna(s.max_per_period) else ""
                found.append(f"bought from {s.supplier} (fill rate {100 * s.fill_rate:.0f}%{limit})")
        t = lead.get(r.item)
        if not found and cycle_month is not None and pd.notna(r.period) and pd.notna(t) and \
                r.period < cycle_month + int(t):
            found.append(f"lead time {int(t)} month{'s' if int(t) != 1 else ''}: nothing arrives before "
                         f"{cycle_month + int(t)}")
        lot = min_lot.get(r.item)
        if not found and pd.notna(lot) and float(lot) > 0:  # nothing binds: a lot costs more than the shortfall
            found.append(f"minimum lot {lot:,.0f}: the plan finds a lot dearer than the units short")
        for cause in found or ["demand above what the plan supplies"]:
            causes.setdefault(cause, []).append(str(r.item))
    return _grouped({f"{c} ({span(months_of[c])})" if c in months_of else c: who for c, who in causes.items()})


def _forecast_cause(rows: pd.DataFrame, overrides: pd.DataFrame | None, items: pd.DataFrame) -> tuple[str, str]:
    """The overrides behind a bias (owner and reason) item by item, the statistical forecast where there is none;
    and who owns the answer (the overriding owners, demand planning for the rest)."""
    fam = items.set_index("item")["family"]
    causes: dict[str, list[str]] = {}
    owners: list[str] = []
    for item in rows["item"]:
        o = overrides[(overrides["item"] == item) | (overrides["item"].isna() & (overrides["family"] == fam.get(item)))] \
            if overrides is not None and len(overrides) else pd.DataFrame(columns=["owner", "reason"])
        if len(o):
            for w in dict.fromkeys(o["owner"].astype(str)):
                why = ", ".join(sorted(set(o.loc[o["owner"] == w, "reason"].dropna().astype(str)) - {""}))
                causes.setdefault(f"override by {w}" + (f" ({why})" if why else ""), []).append(str(item))
                owners.append(w)
        else:
            causes.setdefault("statistical forecast, no override", []).append(str(item))
            owners.append(ACTIONS["Forecast bias"][1])
    return _grouped(causes), ", ".join(dict.fromkeys(owners))


def risks(exceptions: pd.DataFrame | None, items: pd.DataFrame, capacity_plan: pd.DataFrame | None = None,
          bor: pd.DataFrame | None = None, suppliers: pd.DataFrame | None = None,
          overrides: pd.DataFrame | None = None, cycle_month: pd.Period | None = None) -> pd.DataFrame:
    """Exceptions deduplicated to one line per family (or resource) and cause, most money first (RISK_COLUMNS):
    what (items with their descriptions, sizes and months, or both budget shortfalls), the cause (the binding
    resource behind a shortage, the override behind a bias), the action and the owner. Money: the largest of a
    family's budget shortfalls (outlook and plan overlap), else the sum of its exceptions."""
    if exceptions is None or not len(exceptions):
        return pd.DataFrame(columns=list(RISK_COLUMNS))
    e = exceptions.copy()
    e["cause_kind"] = e["kind"].map(lambda k: CAUSE_OF_KIND.get(k, k))
    e["where"] = np.where(e["kind"] == "Capacity overload", e["item"], e["family"])
    e["where"] = e["where"].where(pd.notna(e["where"]), "All")
    uses = _resources_of(bor, items)
    rows = []
    for (where, kind), g in e.groupby(["where", "cause_kind"], sort=False):
        g = g.sort_values("value", ascending=False, kind="stable")
        action, owner = ACTIONS.get(kind, ("review", "S&OP lead"))
        items_rows = g[g["item"].notna() & (g["kind"] != "Capacity overload")]
        if kind == "Below budget":
            value = float(g["value"].max())
            what = "; ".join(str(m) for m in g["message"])
            cause = _budget_cause(g)
        elif kind == "Capacity overload":
            value = float(g["value"].sum())
            what = "; ".join(str(m) for m in g["message"])
            cause = "demand beyond regular + overtime hours"
            if value <= 0:
                action = "none needed now: the plan absorbs it at no extra cost (watch those months)"
        else:
            value = float(g["value"].sum())
            parts = []
            for r in items_rows.itertuples(index=False):
                size = f"{abs(r.units):,.0f} {r.uom or 'units'}" if pd.notna(r.units) else ""
                when = f" from {r.period}" if pd.notna(r.period) else ""
                parts.append(f"{describe(r.item, items)}: {size}{when}".strip())
            what = f"{kind}: {len(items_rows)} item{'s' if len(items_rows) != 1 else ''} - " + _listing(parts)
            if kind in ("Shortage", "Below safety stock"):
                cause = _supply_cause(items_rows, capacity_plan, uses, suppliers, items, cycle_month)
            elif kind in ("Forecast bias", "Consensus vs statistical"):
                cause, owner = _forecast_cause(items_rows, overrides, items)
            else:
                cause = CAUSES.get(kind, kind.lower())
        rows.append({"kind": kind, "where": where, "value": value, "what": what, "cause": cause,
                     "action": action, "owner": owner})
    out = pd.DataFrame(rows).sort_values(["value", "where"], ascending=[False, True], kind="stable")
    out.insert(0, "rank", range(1, len(out) + 1))
    return out[list(RISK_COLUMNS)].reset_index(drop=True)


def _budget_cause(g: pd.DataFrame) -> str:
    msg = " ".join(str(m) for m in g["message"])
    effects = {}
    for name in ("price", "volume", "mix"):
        found = [float(x.replace(",", "")) for x in pd.Series([msg]).str.findall(rf"{name} ([+-]?[\d,]+)")[0]]
        if found:
            effects[name] = min(found, key=lambda v: v)  # the larger shortfall of outlook and plan
    if not effects:
        return "plan below budget"
    worst = min(effects, key=effects.get)
    return f"mainly {worst} ({effects[worst]:+,.0f})" if effects[worst] < 0 else "plan below budget"


# ---- page 4: demand and supply -----------------------------------------------------------------------------------
DEMAND_SUPPLY_COLUMNS = ("period", "history", "statistical", "consensus", "budget_units", "supply", "closing",
                         "safety_stock", "shortage")


def demand_supply(chart_demand: pd.DataFrame, supply_plan: pd.DataFrame | None) -> pd.DataFrame:
    """All families per month: history, statistical, consensus and budget (ChartDemand's Total rows) with planned
    supply, projected closing inventory, safety stock and shortage (SupplyPlan summed)."""
    total = chart_demand[chart_demand["family"] == "Total"].set_index("period")
    out = total.reindex(columns=["history", "statistical", "consensus", "budget_units", "supply", "shortage"])
    if supply_plan is not None and len(supply_plan):
        s = supply_plan.groupby("period")[["supply", "closing", "safety_stock", "shortage"]].sum(min_count=1)
        out = out.drop(columns=["supply", "shortage"]).join(s, how="outer")
    else:
        out = out.assign(closing=np.nan, safety_stock=np.nan)
    return out.reset_index().rename(columns={"index": "period"}).reindex(columns=list(DEMAND_SUPPLY_COLUMNS))


def capacity_series(chart_capacity: pd.DataFrame | None) -> pd.DataFrame | None:
    """Utilisation per resource and month; None when the book has no capacity data (nothing to draw)."""
    if chart_capacity is None or not len(chart_capacity) or chart_capacity["utilisation"].isna().all():
        return None
    return chart_capacity


SIGNAL_COLUMNS = ("period", "consensus", "orders", "coverage", "pipeline", "budget_units", "gap_to_budget")


def order_coverage(demand_plan: pd.DataFrame, budget: pd.DataFrame, months: Iterable[pd.Period]) -> pd.DataFrame:
    """All items per month of the pipeline horizon: consensus, open orders and the share of the consensus they
    already cover, the weighted pipeline, the budget and the gap to it (budget - consensus: positive, the plan is
    short of budget and the pipeline is where the rest must come from). Empty without orders or pipeline."""
    total = demand_plan[demand_plan["level"] == "Total"].set_index("period")
    months = [m for m in months if m in total.index]
    if not months or not (total.loc[months, ["orders", "pipeline"]].fillna(0) > 0).any().any():
        return pd.DataFrame(columns=list(SIGNAL_COLUMNS))
    out = total.loc[months, ["consensus", "orders", "pipeline"]].astype(float)
    out["coverage"] = out["orders"] / out["consensus"].where(out["consensus"] > 0)
    units = budget.groupby("period")["units"].sum(min_count=1) if len(budget) else pd.Series(dtype=float)
    out["budget_units"] = units.reindex(out.index).astype(float)
    out["gap_to_budget"] = out["budget_units"] - out["consensus"]
    return out.rename_axis("period").reset_index().reindex(columns=list(SIGNAL_COLUMNS))


def deals_at_risk(risky: pd.DataFrame, most: int = 5) -> pd.DataFrame:
    """The largest deals at risk (`reconcile.risky_deals`), most money first, with their owners and why: a stale
    close date, or a month that rides on the one deal."""
    if not len(risky):
        return risky
    why = np.where(risky["risk"] == "stale",
                   [f"close date {pd.Timestamp(d):%Y-%m-%d} passed: no demand counted" for d in risky["close_date"]],
                   [f"{u / c:.0%} of its month's consensus" if c and c > 0 else "the month rides on it"
                    for u, c in zip(risky["units"], risky["cons"])])
    return risky.assign(why=why).sort_values("value", ascending=False, kind="stable").head(most)


# ---- page 5: how good is our forecast ----------------------------------------------------------------------------
def accuracy_by_lag(kpi_trend: pd.DataFrame | None, last: int = 6) -> pd.DataFrame:
    """Per family (and Total) and lag: accuracy (1 - WAPE) and bias of the consensus, mean over the last `last`
    published cycles, with the cycles they cover."""
    cols = ["name", "lag", "accuracy", "bias", "cycles"]
    if kpi_trend is None or not len(kpi_trend):
        return pd.DataFrame(columns=cols)
    rows = []
    for name, g in kpi_trend.groupby("name", sort=False):
        g = g.sort_values("cycle").tail(last)
        for lag in (1, 2, 3):
            acc, bias = g[f"accuracy_lag{lag}"].astype(float), g[f"bias_lag{lag}"].astype(float)
            have = g.loc[acc.notna(), "cycle"]
            if not len(have):
                continue
            rows.append({"name": name, "lag": lag, "accuracy": float(acc.mean()), "bias": float(bias.mean()),
                         "cycles": span(set(have))})
    return pd.DataFrame(rows, columns=cols)


def fva_by_contributor(kpis: pd.DataFrame | None) -> pd.DataFrame:
    """Forecast value added per step and contributor (KPIs' FVA rows, all families, all published cycles): the
    accuracy points each adds over the forecast it was given, by lag, and the accuracy after it."""
    cols = ["contributor", "lag", "fva", "accuracy", "observations"]
    if kpis is None or not len(kpis):
        return pd.DataFrame(columns=cols)
    k = kpis[(kpis["level"] == "Total") & kpis["cycle"].isna()]
    pub = k[k["basis"] == "published"]
    k = pub if len(pub[pub["metric"] == "FVA"]) else k[k["basis"] == "backtest"]
    fva = k[k["metric"] == "FVA"][["step", "lag", "value", "observations"]].rename(columns={"value": "fva"})
    acc = k[k["metric"] == "FVA_ACCURACY"][["step", "lag", "value"]].rename(columns={"value": "accuracy"})
    out = fva.merge(acc, on=["step", "lag"], how="left").rename(columns={"step": "contributor"})
    out["contributor"] = out["contributor"].astype(str).str.replace("owner: ", "", regex=False)
    return out[cols].reset_index(drop=True)
