"""Step 3, pre-S&OP reconciliation: where demand and supply disagree, what is at risk, and the scenarios.

Every exception says what, where (item or family, month), how big (units or hours) and how much money is at stake,
and carries an Excel hyperlink to the cell it is about. Exceptions are ranked by money so the meeting starts with
what matters most. Thresholds are keyword arguments of `exceptions` (defaults in THRESHOLDS).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from snop_xl import contract as C
from snop_xl.calc import finance, kpi
from snop_xl.calc.forecast import forecast
from snop_xl.calc.supply import binding_resources, hours_beyond
from snop_xl.inputs import Inputs, Settings
from snop_xl.io.parse import cell_of
from snop_xl.steps import review
from snop_xl.steps.demand import pipeline_deals
from snop_xl.steps.scenarios import compare
from snop_xl.steps.supply import lead_times

THRESHOLDS: dict[str, float] = {
    "tracking_signal": 4.0,  # |kpi.tracking_signal| above this flags a biased forecast
    "bias_window": 6,  # months of history held out to measure the statistical forecast's bias
    "bias_share": 0.10,  # ... and the mean error must be at least this share of the mean actual to matter
    "consensus_gap": 0.25,  # |consensus - statistical| / statistical over the horizon above this is flagged
    "excess_cover": 3,  # stock above safety stock + this many months of demand is excess
    "min_units": 1.0,  # less than one unit (per item over the horizon, or per month) is not an exception
}
_EXC_COLS = [c.key for c in C.EXCEPTIONS.columns]
_DUST = 1e-6  # below this a quantity is the solver's tolerance


def run(inputs: Inputs, outputs: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Gaps, ranked Exceptions and the ScenarioComparison (base + every scenario of the Scenarios sheet). With a
    budget, the Financials step 4 writes are computed here, once, for the budget exceptions, and passed on."""
    supply = outputs["SupplyPlan"].reset_index(drop=True)
    fin = review.financials(inputs, outputs) if len(inputs.budget) else None
    out = {"Gaps": gaps(supply, inputs.items),
           "Exceptions": exceptions(inputs, outputs, fin),
           "ScenarioComparison": compare(inputs, outputs)}
    return out if fin is None else {**out, "Financials": fin}


# ---- links to cells -------------------------------------------------------------------------------------------
def cell_address(table: str, key: str, position: int) -> str:
    """Sheet!A1 of column `key` in data row `position` (0-based) of an output table as the engine writes it."""
    spec = C.table(table)
    col = spec.first_column + spec.keys.index(key)
    return f"'{spec.sheet}'!{C.column_letter(col)}{2 + int(position)}"


def _links(table: str, key: str, positions: Any) -> list[str]:
    """The Go To texts of exceptions: Sheet!A1 addresses; the BookIO makes each a clickable link on writing (a
    plain value rather than a HYPERLINK formula, so the table reads back without a recalculation)."""
    return [cell_address(table, key, p) for p in positions]


# ---- gaps ---------------------------------------------------------------------------------------------------
def gaps(supply: pd.DataFrame, items: pd.DataFrame) -> pd.DataFrame:
    """Demand vs supply per family and month, plus item rows for every item-month that is short."""
    s = finance.with_prices(supply, items)
    price = s["unit_price"].astype(float).fillna(0.0)
    frame = pd.DataFrame({"family": s["family"], "item": s["item"], "period": s["period"],
                          "demand": s["demand"].astype(float).fillna(0.0),
                          "supply": s["supply"].astype(float).fillna(0.0),
                          "shortage": s["shortage"].astype(float).fillna(0.0)})
    frame["gap"] = frame["supply"] - frame["demand"]
    frame["gap_value"] = frame["gap"] * price
    frame["shortage_value"] = frame["shortage"] * price
    cols = ["demand", "supply", "gap", "shortage", "gap_value", "shortage_value"]
    fam = frame.groupby(["family", "period"], as_index=False)[cols].sum()
    fam["level"], fam["item"] = "Family", None
    short = frame[short_items(frame)].copy()
    short["level"] = "Item"
    out = pd.concat([fam, short], ignore_index=True)
    out["_lvl"] = (out["level"] == "Item").astype(int)
    out = out.sort_values(["family", "_lvl", "item", "period"], kind="stable", na_position="first")
    return out[[c.key for c in C.GAPS.columns]].reset_index(drop=True)


# ---- exceptions ---------------------------------------------------------------------------------------------
def _exc(kind: str | pd.Series, rows: pd.DataFrame, message: pd.Series, uom: str = "units") -> pd.DataFrame:
    rows = rows.reset_index(drop=True)
    message = pd.Series(list(message))
    out = pd.DataFrame({"kind": kind, "family": rows.get("family"), "item": rows.get("item"),
                        "period": rows.get("period"), "months": rows.get("months"), "units": rows["units"],
                        "uom": uom, "value": rows["value"], "message": message, "link": rows.get("link")})
    return out.reset_index(drop=True)


def _per_item(flagged: pd.DataFrame, size: str) -> pd.DataFrame:
    """One row per item from flagged item-months: first month, number of months, position of the first month."""
    g = flagged.groupby("item", sort=False)
    return pd.DataFrame({"family": g["family"].first(), "period": g["period"].min(), "months": g.size(),
                         "total": g[size].sum(), "peak": g[size].max(),
                         "pos": g["_pos"].first()}).reset_index()


def _money(value: float, currency: str) -> str:
    return f"{currency} {value:,.0f}"


def _signed(value: float) -> str:
    """A whole number with its sign; what rounds to 0 reads +0 (never -0)."""
    return f"{int(round(float(value))):+,}"


def short_items(supply: pd.DataFrame) -> pd.Series:
    """The item-months of items short by at least `min_units` over the horizon (their every short month): what the
    Shortage exceptions and the Gaps' item rows list. An item short 0.9 units a month for a year is short 11 units;
    one short 0.49 of a forecast of 1.49 once is not an exception."""
    short = supply["shortage"].astype(float).fillna(0.0)
    total = short.groupby(supply["item"]).transform("sum")
    return (short > _DUST) & (total >= THRESHOLDS["min_units"])


def shortage_exceptions(supply: pd.DataFrame, currency: str) -> pd.DataFrame:
    """Items with demand not met: units short over the horizon at unit price (revenue at risk)."""
    s = supply[short_items(supply)].assign(_v=lambda d: d["shortage"] * d["unit_price"])
    if not len(s):
        return pd.DataFrame(columns=_EXC_COLS)
    r = _per_item(s.sort_values("period"), "shortage")
    r["value"] = s.groupby("item", sort=False)["_v"].sum().reindex(r["item"]).to_numpy()
    r["units"] = r["total"]
    r["link"] = _links("SupplyPlan", "shortage", r["pos"])
    msg = [f"{i} ({f}): {u:,.0f} units short in {m} month(s) from {p}; {_money(v, currency)} revenue at risk"
           for i, f, u, m, p, v in zip(r["item"], r["family"], r["units"], r["months"], r["period"], r["value"])]
    return _exc("Shortage", r, pd.Series(msg))


def safety_stock_exceptions(supply: pd.DataFrame, currency: str) -> pd.DataFrame:
    """Months that end below safety stock without being short: the buffer missing, at unit cost."""
    deficit = (supply["safety_stock"].fillna(0) - supply["closing"].fillna(0))
    s = supply.assign(deficit=deficit)
    s = s[(s["deficit"] >= THRESHOLDS["min_units"]) & (s["shortage"] <= _DUST)]
    if not len(s):
        return pd.DataFrame(columns=_EXC_COLS)
    r = _per_item(s.sort_values("period"), "deficit")
    cost = s.groupby("item", sort=False)["unit_cost"].first().reindex(r["item"]).to_numpy()
    r["units"], r["value"] = r["peak"], r["peak"] * cost
    r["link"] = _links("SupplyPlan", "closing", r["pos"])
    msg = [f"{i} ({f}): below safety stock in {m} month(s) from {p}, up to {u:,.0f} units "
           f"({_money(v, currency)} of buffer missing)"
           for i, f, u, m, p, v in zip(r["item"], r["family"], r["units"], r["months"], r["period"], r["value"])]
    return _exc("Below safety stock", r, pd.Series(msg))


def excess_exceptions(supply: pd.DataFrame, inputs: Inputs, currency: str) -> pd.DataFrame:
    """Stock above safety stock + N months of coming demand (excess), stock with no demand at all in the horizon
    and stock of inactive items (obsolete risk), valued at unit cost."""
    n = int(THRESHOLDS["excess_cover"])
    s = supply.sort_values(["item", "period"])
    s = s.assign(excess=s["closing"].fillna(0) - s["safety_stock"].fillna(0) - coming_demand(s, n))
    total_demand = s.groupby("item")["demand"].transform("sum")
    parts = []
    ex = s[(s["excess"] >= THRESHOLDS["min_units"]) & (total_demand > 0)]
    if len(ex):
        peak = ex.loc[ex.groupby("item", sort=False)["excess"].idxmax()]
        r = peak.assign(units=peak["excess"], value=peak["excess"] * peak["unit_cost"],
                        months=ex.groupby("item", sort=False).size().reindex(peak["item"]).to_numpy())
        r["link"] = _links("SupplyPlan", "closing", r["_pos"])
        msg = [f"{i} ({f}): {u:,.0f} units above safety stock + {n} months of demand in {p} "
               f"({_money(v, currency)} tied up)"
               for i, f, u, p, v in zip(r["item"], r["family"], r["units"], r["period"], r["value"])]
        parts.append(_exc("Excess stock", r, pd.Series(msg)))
    dead = s[(total_demand <= 0) & (s["opening"].fillna(0) >= THRESHOLDS["min_units"])]
    if len(dead):
        first = dead.loc[dead.groupby("item", sort=False)["period"].idxmin()]
        r = first.assign(units=first["opening"], value=first["opening"] * first["unit_cost"], months=None)
        r["link"] = _links("SupplyPlan", "opening", r["_pos"])
        msg = [f"{i} ({f}): {u:,.0f} units in stock and no demand in the whole horizon "
               f"({_money(v, currency)} at risk)" for i, f, u, v in zip(r["item"], r["family"], r["units"],
                                                                         r["value"])]
        parts.append(_exc("Obsolete risk", r, pd.Series(msg)))
    inactive = inputs.items[~inputs.items["active"].fillna(True).astype(bool)]
    stock = inputs.inventory.reset_index(drop=True)
    stock = stock.assign(_pos=np.arange(len(stock))).merge(inactive[["item", "family", "unit_cost"]], on="item")
    stock = stock[(stock["on_hand"] >= THRESHOLDS["min_units"]) & ~stock["item"].isin(set(supply["item"]))]
    if len(stock):
        r = stock.assign(units=stock["on_hand"], value=stock["on_hand"] * stock["unit_cost"], period=None,
                         months=None)
        inv = inputs.inventory
        from_book = inv.index.name == "row"  # read from a sheet: the index is the sheet row
        col = inv.attrs.get("cells", {}).get("on_hand", "B")
        r["link"] = [f"'{C.INVENTORY.sheet}'!{col}{inv.index[p] if from_book else p + 2}"
                     for p in r["_pos"]]
        msg = [f"{i} ({f}): inactive item with {u:,.0f} units on hand ({_money(v, currency)} at risk)"
               for i, f, u, v in zip(r["item"], r["family"], r["units"], r["value"])]
        parts.append(_exc("Obsolete risk", r, pd.Series(msg)))
    if not parts:
        return pd.DataFrame(columns=_EXC_COLS)
    columns = parts[0].columns  # all-blank columns (a kind without periods) take no part in the dtypes
    return pd.concat([p.dropna(axis=1, how="all") for p in parts], ignore_index=True).reindex(columns=columns)


def coming_demand(supply: pd.DataFrame, months: int) -> np.ndarray:
    """Per row of `supply` (sorted by item, period): demand of the next `months` months, months beyond the horizon
    at the item's average demand (so the last months are not all excess)."""
    wide = supply.pivot(index="item", columns="period", values="demand").astype(float).fillna(0.0)
    d = wide.to_numpy()
    padded = np.concatenate([d, np.repeat(d.mean(axis=1, keepdims=True), months, axis=1)], axis=1)
    csum = np.concatenate([np.zeros((len(d), 1)), np.cumsum(padded, axis=1)], axis=1)
    t = np.arange(d.shape[1])
    ahead = pd.DataFrame(csum[:, t + 1 + months] - csum[:, t + 1], index=wide.index, columns=wide.columns)
    return ahead.stack().reindex(pd.MultiIndex.from_arrays([supply["item"], supply["period"]])).to_numpy()


def capacity_exceptions(capacity_plan: pd.DataFrame, currency: str) -> pd.DataFrame:
    """Resource-months whose unconstrained load exceeds regular + overtime hours (`explain.hours_beyond`).

    The money at stake is what the overload costs the plan: each month's hours beyond the limit at that month's
    shadow price (the LP's value of one more hour there: the holding cost of building ahead, the overtime premium or
    the lost-sale penalty the shortfall forces). An hour is worth less as hours are added, so this is an upper
    bound; it is 0 when the plan absorbs the load at no cost (hours free in earlier months, items bought in). The
    revenue of demand the plan cannot meet is in the Shortage exceptions, not counted twice here.
    """
    cp = capacity_plan.reset_index(drop=True)
    cp = cp.assign(_pos=np.arange(len(cp)), excess=hours_beyond(cp))
    over = cp[cp["excess"] > 1e-6]
    if not len(over):
        return pd.DataFrame(columns=_EXC_COLS)
    shadow = pd.to_numeric(over.get("shadow_price", pd.Series(0.0, index=over.index)), errors="coerce").fillna(0.0)
    over = over.assign(value=over["excess"] * shadow.clip(lower=0.0)).sort_values("period")
    g = over.groupby("resource", sort=False)
    r = pd.DataFrame({"period": g["period"].min(), "months": g.size(), "units": g["excess"].sum(),
                      "value": g["value"].sum(), "_pos": g["_pos"].first()}).reset_index()
    r["item"], r["family"] = r["resource"], None
    r["link"] = _links("CapacityPlan", "unconstrained_hours", r["_pos"])
    worth = binding_resources(capacity_plan, currency).set_index("resource")["max_shadow_price"]
    msg = [f"{res}: the demand of {m} month(s) from {p} needs {u:,.0f} hours beyond regular + overtime; "
           + (f"it costs the plan up to {_money(v, currency)} (building ahead, overtime or lost sales)"
              if v >= 0.5 else "the plan absorbs it at no extra cost (hours free in other months, or items bought in)")
           + (f"; one more hour is worth up to {_money(worth[res], currency)}" if res in worth.index else "")
           for res, m, p, u, v in zip(r["resource"], r["months"], r["period"], r["units"], r["value"])]
    return _exc("Capacity overload", r, pd.Series(msg), uom="hours")


def bias_exceptions(inputs: Inputs, demand_items: pd.DataFrame, currency: str) -> pd.DataFrame:
    """Hold out the last `bias_window` months of history, forecast them with the cycle's method from the months
    before, and flag items whose tracking signal is beyond the threshold.

    Size: the mean monthly error over the months the bias acts before the next cycle can correct it: the item's
    lead time + 1 (supply inside the lead time is committed; the next monthly cycle re-forecasts and re-plans), at
    most the horizon. Money at stake: under-forecast, those units are sales the plan does not cover, valued at the
    unit margin (price - cost) they would have earned; over-forecast, they are stock built ahead of demand, valued at
    unit cost (as Excess stock). Why not the error x horizon x price: the bias is corrected at the next cycle, not
    carried for 18 months, and a unit mis-forecast loses its margin or ties up its cost, not its revenue."""

    w = int(THRESHOLDS["bias_window"])
    s = inputs.settings
    hist = inputs.history
    cut = s.cycle_month - w
    fit = hist[hist["period"] < cut]
    counts = fit.groupby("item")["qty"].size()
    fit = fit[fit["item"].isin(counts[counts >= 2 * w].index)]  # too short a history says nothing about bias
    if not len(fit):
        return pd.DataFrame(columns=_EXC_COLS)
    fc = forecast(fit, w, season_length=s.season_length, method=s.default_method)
    both = fc[["item", "period", "forecast"]].merge(hist[hist["period"] >= cut], on=["item", "period"])
    both = both.assign(err=both["forecast"] - both["qty"])  # kpi's convention: positive = over-forecast
    g = both.groupby("item")
    stats = pd.DataFrame({"n": g.size(), "sum": g["err"].sum(), "actual": g["qty"].mean(),
                          "ts": g.apply(lambda d: kpi.tracking_signal(d["qty"], d["forecast"]), include_groups=False)})
    stats = stats[(stats["n"] == w) & stats["ts"].notna()]
    material = (stats["sum"] / w).abs() >= THRESHOLDS["bias_share"] * stats["actual"].abs()
    flagged = stats[(stats["ts"].abs() > THRESHOLDS["tracking_signal"]) & material]
    if not len(flagged):
        return pd.DataFrame(columns=_EXC_COLS)
    d = demand_items.reset_index()
    first = d.sort_values("period").drop_duplicates("item").set_index("item")
    r = flagged.reset_index().merge(first[["family", "index"]].reset_index(), on="item", how="left")
    items = inputs.items.drop_duplicates("item").reset_index(drop=True)
    item = items.set_index("item")
    months = pd.Series(np.minimum(lead_times(inputs, items) + 1, s.horizon), index=items["item"])
    r["months"] = r["item"].map(months).fillna(1).astype(int)
    r["units"] = r["sum"] / w * r["months"]
    price, cost = (r["item"].map(item[k]).astype(float).fillna(0.0) for k in ("unit_price", "unit_cost"))
    over = r["units"] > 0
    r["value"] = r["units"].abs() * np.where(over, cost, (price - cost).clip(lower=0.0))
    r["period"] = None
    r["link"] = [cell_address("DemandPlan", "statistical", p) if not pd.isna(p) else None
                 for p in r["index"]]
    msg = [f"{i} ({f}): tracking signal {ts:+.1f} over the last {w} months; the forecast runs "
           f"{'above' if o else 'below'} demand by {abs(u) / m:,.0f} units a month, {abs(u):,.0f} units in the "
           f"{m} month(s) before the next cycle can correct it ({_money(v, currency)} "
           f"{'of stock built ahead of demand' if o else 'of margin on sales not planned'})"
           for i, f, ts, u, m, v, o in zip(r["item"], r["family"], r["ts"], r["units"], r["months"], r["value"],
                                           over)]
    return _exc("Forecast bias", r, pd.Series(msg))


def consensus_exceptions(demand_items: pd.DataFrame, items: pd.DataFrame, currency: str) -> pd.DataFrame:
    """Items whose consensus over the horizon is far from the statistical forecast (judgement to challenge)."""
    d = demand_items.reset_index()
    g = d.groupby("item", sort=False)
    tot = pd.DataFrame({"family": g["family"].first(), "cons": g["consensus"].sum(), "stat": g["statistical"].sum()})
    d = d.assign(_abs=(d["consensus"] - d["statistical"]).abs())
    tot["pos"] = d.loc[d.groupby("item", sort=False)["_abs"].idxmax(), ["item", "index"]].set_index("item")["index"]
    tot["period"] = d.loc[d.groupby("item", sort=False)["_abs"].idxmax(), ["item", "period"]].set_index("item")[
        "period"]
    diff = tot["cons"] - tot["stat"]
    rel = diff.abs() / tot["stat"].where(tot["stat"] > 0)
    flagged = tot[(rel > THRESHOLDS["consensus_gap"]) | ((tot["stat"] <= 0) & (diff.abs() >= 1))]
    if not len(flagged):
        return pd.DataFrame(columns=_EXC_COLS)
    r = flagged.reset_index()
    r["units"] = (r["cons"] - r["stat"]).to_numpy()
    r["value"] = r["units"].abs() * r["item"].map(items.set_index("item")["unit_price"]).astype(float).fillna(0)
    r["months"] = None
    r["link"] = _links("DemandPlan", "consensus", r["pos"])
    msg = [f"{i} ({f}): consensus {c:,.0f} vs statistical {s:,.0f} units over the horizon ({_signed(u)}, "
           f"{u / s:+.0%}); biggest difference in {p}" if s > 0 else
           f"{i} ({f}): consensus {c:,.0f} units with no statistical forecast"
           for i, f, c, s, u, p in zip(r["item"], r["family"], r["cons"], r["stat"], r["units"], r["period"])]
    return _exc("Consensus vs statistical", r, pd.Series(msg))


def order_exceptions(demand_items: pd.DataFrame, items: pd.DataFrame, currency: str) -> pd.DataFrame:
    """Item-months whose consensus is below their open orders (an Override said less than customers ordered):
    size the orders not planned, at unit price."""
    if "orders" not in demand_items:
        return pd.DataFrame(columns=_EXC_COLS)
    d = demand_items.reset_index()
    short = d["orders"].astype(float).fillna(0.0) - d["consensus"].astype(float)
    r = d[short >= 0.5].assign(units=short[short >= 0.5])
    if not len(r):
        return pd.DataFrame(columns=_EXC_COLS)
    r = r.assign(value=r["units"] * r["item"].map(items.set_index("item")["unit_price"]).astype(float).fillna(0),
                 months=1)
    r["link"] = _links("DemandPlan", "consensus", r["index"])
    msg = [f"{i} ({f}) {p}: consensus {c:,.0f} is below the {o:,.0f} units of open orders ({_signed(-u)}; an "
           f"override set it); {_money(v, currency)} of orders not planned"
           for i, f, p, c, o, u, v in zip(r["item"], r["family"], r["period"], r["consensus"], r["orders"],
                                          r["units"], r["value"])]
    return _exc("Below open orders", r, pd.Series(msg))


#: what `risky_deals` returns, one row per deal at risk
RISKY_COLUMNS = ["row", "opportunity", "account", "owner", "item", "family", "month", "stage", "close_date", "qty",
                 "used", "units", "cons", "value", "risk"]


def risky_deals(inputs: Inputs, demand: pd.DataFrame) -> pd.DataFrame:
    """The deals the meeting must know of (RISKY_COLUMNS), `risk` saying why: "stale" (not won or lost, close date
    before the cycle month: it carries no demand until its owner updates it; units: its quantity) or "large" (an
    open deal whose weighted quantity is more than half of its item's consensus that month, or its family's for a
    family deal: the month rides on it; units: the weighted quantity). value: units at unit price (a family's
    average); cons: the consensus of the deal's month; row: its row of the Pipeline table. The exceptions and the
    meeting pack both read them."""
    deals = pipeline_deals(inputs)  # the demand step's own reading of the Pipeline
    if not len(deals):
        return pd.DataFrame(columns=RISKY_COLUMNS)
    deals = deals.assign(row=deals.index).reset_index(drop=True)
    price = inputs.items.set_index("item")["unit_price"].astype(float)
    family_price = inputs.items.groupby("family")["unit_price"].mean().astype(float)
    family_of = inputs.items.set_index("item")["family"]
    deals["family"] = deals["family"].where(deals["item"].isna(), deals["item"].map(family_of))
    price = deals["item"].map(price).where(deals["item"].notna(), deals["family"].map(family_price))
    d = demand.reset_index()
    items_cons = d[d["level"] == "Item"].set_index(["item", "period"])["consensus"]
    fam_cons = d[d["level"] == "Family"].set_index(["family", "period"])["consensus"]
    cons = [items_cons.get((i, m)) if isinstance(i, str) else fam_cons.get((f, m))
            for i, f, m in zip(deals["item"], deals["family"], deals["month"])]
    deals = deals.assign(price=price, cons=[np.nan if c is None else float(c) for c in cons])
    stale = deals[deals["status"] == "stale"].assign(units=lambda x: x["qty"].astype(float), risk="stale")
    live = deals[deals["status"] == "open"]
    large = live[live["weighted"] > 0.5 * live["cons"]].assign(units=lambda x: x["weighted"].astype(float),
                                                                  risk="large")
    out = pd.concat([stale, large], ignore_index=True)
    out["value"] = out["units"] * out["price"].fillna(0)
    return out[RISKY_COLUMNS]


def deal_exceptions(inputs: Inputs, demand: pd.DataFrame, currency: str) -> pd.DataFrame:
    """The exceptions of `risky_deals`: Stale deal and Large deal, each with its owner; money: the full (stale) or
    weighted (large) quantity at unit price."""
    deals = risky_deals(inputs, demand)
    if not len(deals):
        return pd.DataFrame(columns=_EXC_COLS)
    pipe = inputs.pipeline

    def link(rows: pd.DataFrame) -> list:
        return [f"'{C.PIPELINE.sheet}'!{cell_of(pipe, 'close_date', r)}" if pipe.attrs.get("cells") else None
                for r in rows["row"]]

    parts = []
    stale = deals[deals["risk"] == "stale"]
    if len(stale):
        r = stale.assign(period=stale["month"], months=None, link=link(stale))
        msg = [f"deal {o} ({_text(a) or 'no account'}; owner {_text(w) or 'none'}): {q:,.0f} units of "
               f"{i if isinstance(i, str) else f'family {f}'}, stage {st}, expected to close "
               f"{pd.Timestamp(d):%Y-%m-%d}, before the cycle month {inputs.settings.cycle_month}: it carries no "
               "demand until its owner updates the close date or the stage"
               for o, a, w, q, i, f, st, d in zip(r["opportunity"], r["account"], r["owner"], r["units"], r["item"],
                                                   r["family"], r["stage"], r["close_date"])]
        parts.append(_exc("Stale deal", r, pd.Series(msg)))
    big = deals[deals["risk"] == "large"]
    if len(big):
        r = big.assign(period=big["month"], months=1, link=link(big))
        msg = [f"deal {o} ({_text(a) or 'no account'}; owner {_text(w) or 'none'}): {q:,.0f} x {p:.0%} = "
               f"{u:,.0f} units, {u / c:.0%} of the consensus of "
               f"{i if isinstance(i, str) else f'family {f}'} in {m} ({c:,.0f}); the month rides on one deal"
               for o, a, w, q, p, u, c, i, f, m in zip(r["opportunity"], r["account"], r["owner"], r["qty"],
                                                       r["used"], r["units"], r["cons"], r["item"],
                                                       r["family"], r["month"])]
        parts.append(_exc("Large deal", r, pd.Series(msg)))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=_EXC_COLS)


def _text(value: Any) -> str:
    return "" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value).strip()


def budget_exceptions(fin: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """Families below budget in revenue, from the Financials as written (`review.financials`): "Plan below budget"
    reads the Horizon rows (the plan's budgeted months), "Outlook below budget" the Outlook rows (YTD actuals + the
    rest of the year's plan against the fiscal year's budget). Size: the units variance; money at stake: the revenue
    shortfall, split into price, volume and mix in the message; linked to the row's Revenue Variance cell.

    A family whose budgeted months are the same in both (the fiscal year is the horizon) is listed once, as Plan
    below budget: the two would be the same shortfall counted twice in the ranking."""
    months = fin[(fin["horizon"] == "Month") & (fin["level"] == "Family") & fin["budget_units"].notna()]
    spans = finance.summary_spans(months["period"], settings.cycle_month, settings.fiscal_year_start)
    differs = set(months.loc[spans["Outlook"] != spans["Horizon"], "family"])
    plan, outlook = fin["horizon"] == "Horizon", (fin["horizon"] == "Outlook") & fin["family"].isin(differs)
    found = fin[(plan | outlook) & (fin["level"] == "Family") & (fin["revenue_variance"] < -0.5)]
    if not len(found):
        return pd.DataFrame(columns=_EXC_COLS)
    start, is_plan = settings.fiscal_year[0], (found["horizon"] == "Horizon").to_numpy()
    r = found.assign(units=found["units_variance"], value=-found["revenue_variance"], item=None,
                     period=[None if p else start for p in is_plan],  # blank: the plan's horizon
                     months=[None if p else (end - start).n + 1 for p, end in zip(is_plan, found["period"])])
    r["link"] = _links("Financials", "revenue_variance", found.index)
    what = ["plan revenue" if p else f"full-year outlook revenue ({start} to {end}, {basis.lower()})"
            for p, end, basis in zip(is_plan, found["period"], found["basis"])]
    msg = [f"{f}: {w} {_money(v, settings.currency)} below budget ({pct:+.1%}), {_signed(u)} units; "
           f"price {_signed(pe)}, volume {_signed(ve)}, mix {_signed(me)}"
           for f, w, v, pct, u, pe, ve, me in zip(r["family"], what, r["value"], r["revenue_variance_pct"], r["units"],
                                                  r["price_effect"], r["volume_effect"], r["mix_effect"])]
    kinds = pd.Series(np.where(is_plan, "Plan below budget", "Outlook below budget"))
    return _exc(kinds, r, pd.Series(msg))


def exceptions(inputs: Inputs, outputs: Mapping[str, pd.DataFrame], fin: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every exception of the cycle, ranked by money at stake (1 = most); `fin`: the Financials, if computed."""
    cur = inputs.settings.currency
    supply = finance.with_prices(outputs["SupplyPlan"].reset_index(drop=True), inputs.items)
    supply = supply.assign(_pos=np.arange(len(supply)))
    demand = outputs["DemandPlan"].reset_index(drop=True)
    demand_items = demand[demand["level"] == "Item"]
    parts = [shortage_exceptions(supply, cur), safety_stock_exceptions(supply, cur),
             excess_exceptions(supply, inputs, cur)]
    if "CapacityPlan" in outputs and len(outputs["CapacityPlan"]):
        parts.append(capacity_exceptions(outputs["CapacityPlan"], cur))
    if len(inputs.history):
        parts.append(bias_exceptions(inputs, demand_items, cur))
    if len(demand_items):
        parts.append(consensus_exceptions(demand_items, inputs.items, cur))
        parts.append(order_exceptions(demand_items, inputs.items, cur))
    if len(inputs.pipeline):
        parts.append(deal_exceptions(inputs, demand, cur))
    if len(inputs.budget):  # the Financials as the sheet shows them: the links point at their rows
        parts.append(budget_exceptions(review.financials(inputs, outputs) if fin is None else fin, inputs.settings))
    parts = [p.astype(object) for p in parts if len(p)]
    if not parts:
        return pd.DataFrame({c.key: pd.Series(dtype=object) for c in C.EXCEPTIONS.columns})
    out = pd.concat(parts, ignore_index=True)
    out["value"] = out["value"].astype(float).fillna(0.0)
    out["units"] = out["units"].astype(float)
    out = out.sort_values(["value", "kind"], ascending=[False, True], kind="stable").reset_index(drop=True)
    out["rank"] = np.arange(1, len(out) + 1)
    return out[_EXC_COLS]
