"""Cycle step 2: the SupplyPlan, CapacityPlan and family AggregatePlan from the inputs and the DemandPlan.

A pure function of (Inputs, DemandPlan): scenarios rerun it on modified inputs.

Conventions (exact, and relied on downstream):
- Unmet demand is LOST, not backlogged: shortage[t] = demand of month t not met in month t, and
  closing = opening + supply - (demand - shortage) >= 0; opening of a month = closing of the month before.
  Demand met in a month is therefore demand - shortage.
- Supply arrives in the month it is planned (monthly buckets); bought supply counts only after the supplier's lead
  time, at the supplier's fill rate, up to its monthly maximum.
- Settings "supply_objective": cost (default) minimises holding + lost-sale penalty (backlog rate x price) +
  overtime; margin maximises revenue of demand met - (unit cost of supply + holding + overtime), so demand whose
  price does not cover its cost is not served. The safety stock shortfall penalty (half the lost-sale penalty per
  unit-month) is the same under both: the policy weighs the same whatever the objective. Regular hours are paid
  whether used or not, so they are not a variable cost.
- Lots: supply is 0 or at least Items' min lot, and a whole multiple of its lot multiple (blank: none); for bought
  items both apply to the quantity ordered (receipts = fill rate x ordered).
- Safety stock (policy "service") = z(service level) * sigma * sqrt(lead time + 1), where sigma is the one-month-ahead
  forecast error of the demand plan's own model, read from its 80% interval in the first plan month:
  sigma = (hi_80 - lo_80) / (2 * 1.2816). Why: it is the error of the forecast the plan is built on (after model
  choice), not of a proxy; the 80% band depends less on tail assumptions than the 95% one. Items without an interval
  fall back to the standard deviation of their monthly history (see `safety_stock`).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from snop_xl import contract as C
from snop_xl.calc.supply.aggregate import AggregatePlanError, aggregate_plans
from snop_xl.calc.supply.constrained import SupplyProblem, solve
from snop_xl.calc.supply.inventory import (
    Z80,
    demand_sigma,
    forward_demand,
    lost_sales,
    periods_of_cover,
    safety_stock_from_sigma,
)
from snop_xl.inputs import Inputs

_TOL = 1e-6
HISTORY_MONTHS = 24  # history window for the fallback sigma


def _matrix(frame: pd.DataFrame, rows: pd.Index, periods: pd.PeriodIndex, value: str, row_key: str) -> np.ndarray:
    """rows x periods matrix of `value` from a long frame (missing cells 0)."""
    if frame.empty:
        return np.zeros((len(rows), len(periods)))
    wide = frame.pivot_table(index=row_key, columns="period", values=value, aggfunc="sum")
    return wide.reindex(index=rows, columns=periods).fillna(0.0).to_numpy(dtype=float)


def consensus_demand(demand_plan: pd.DataFrame | None, items: pd.Index, periods: pd.PeriodIndex) -> np.ndarray:
    """Item x month consensus from the DemandPlan's Item rows."""
    if demand_plan is None or demand_plan.empty:
        return np.zeros((len(items), len(periods)))
    rows = demand_plan[demand_plan["level"] == "Item"]
    rows = rows.assign(period=rows["period"].astype("period[M]"), consensus=rows["consensus"].astype(float))
    # rounded to a millionth of a unit: a demand plan read back from a sheet differs in the last bits, and that
    # noise must not change the solver's path (the min-lot search may break ties differently)
    return np.round(np.maximum(_matrix(rows, items, periods, "consensus", "item"), 0.0), 6)


def forecast_sigma(inputs: Inputs, demand_plan: pd.DataFrame | None, items: pd.Index) -> np.ndarray:
    """One-month-ahead forecast error per item: the DemandPlan's 80% band in the first month, else history."""
    sigma = pd.Series(np.nan, index=items, dtype=float)
    first = inputs.settings.periods[0]
    if demand_plan is not None and not demand_plan.empty and {"lo_80", "hi_80"} <= set(demand_plan.columns):
        rows = demand_plan[(demand_plan["level"] == "Item") & (demand_plan["period"] == first)]
        width = (rows["hi_80"].astype(float) - rows["lo_80"].astype(float)) / (2 * Z80)
        band = pd.Series(width.to_numpy(), index=rows["item"].to_numpy()).groupby(level=0).first()
        sigma = band.reindex(items).astype(float)
    missing = sigma.index[sigma.isna()]
    if len(missing):
        hist = inputs.history
        window = hist[hist["period"] >= first - HISTORY_MONTHS] if len(hist) else hist
        by_item = {k: g["qty"].to_numpy() for k, g in window.groupby("item")} if len(window) else {}
        sigma[missing] = [demand_sigma(by_item.get(i, [])) for i in missing]
    return np.round(np.maximum(sigma.fillna(0.0).to_numpy(), 0.0), 6)


def safety_stock_targets(inputs: Inputs, items: pd.DataFrame, demand: np.ndarray, sigma: np.ndarray,
                         lead_time: np.ndarray) -> np.ndarray:
    """Safety stock per item and month by each item's policy in Inventory (service, fixed or cover)."""
    inv = inputs.inventory.drop_duplicates("item").set_index("item").reindex(items["item"])
    policy = inv["ss_policy"].fillna("service").astype(str).str.lower().to_numpy()
    value = inv["ss_value"].astype(float).to_numpy()
    n, T = demand.shape
    service = np.where(np.isnan(value), inputs.settings.service_level, np.clip(value, 0.5, 0.999))
    out = np.repeat(safety_stock_from_sigma(sigma, lead_time, service)[:, None], T, axis=1)
    fixed = policy == "fixed"
    out[fixed] = np.nan_to_num(value[fixed])[:, None]
    cover = policy == "cover"
    if cover.any():
        out[cover] = forward_demand(demand[cover], np.nan_to_num(value[cover]))
    return out


def _bill_of_resources(inputs: Inputs, items: pd.DataFrame, resources: pd.Index) -> np.ndarray:
    """Hours per unit, item x resource: family rows apply to every item of the family; item rows override them (of
    two rows for the same family or item and resource, the lower one counts). One join per kind of row, not a
    frame assignment per row (thousands of rows in a large book)."""
    hours = np.zeros((len(items), len(resources)))
    column = pd.Series(np.arange(len(resources)), index=resources)
    bor = inputs.bill_of_resources
    for key, rows in (("family", bor[bor["item"].isna() & bor["family"].notna()]), ("item", bor[bor["item"].notna()])):
        rows = rows[rows["resource"].isin(resources)].drop_duplicates([key, "resource"], keep="last")
        if not len(rows):
            continue
        found = pd.DataFrame({key: items[key].to_numpy(dtype=object), "row": np.arange(len(items))}).merge(
            rows[[key, "resource", "hours_per_unit"]].astype({key: object}), on=key)
        hours[found["row"].to_numpy(), column[found["resource"]].to_numpy()] = \
            found["hours_per_unit"].astype(float).to_numpy()
    return hours


def _capacity(inputs: Inputs, periods: pd.PeriodIndex) -> tuple[pd.Index, dict[str, np.ndarray]]:
    """Resource x month regular hours, overtime limit and costs; a month missing for a resource repeats the nearest
    month given (planners fill the months that change)."""
    cap = inputs.capacity
    resources = pd.Index(sorted(cap["resource"].dropna().unique()), name="resource")
    out = {}
    for key in ("available_hours", "overtime_hours", "regular_cost", "overtime_cost"):
        wide = cap.pivot_table(index="resource", columns="period", values=key, aggfunc="sum") if len(cap) else \
            pd.DataFrame(index=resources)
        wide = wide.reindex(index=resources, columns=periods).astype(float).ffill(axis=1).bfill(axis=1)
        out[key] = wide.fillna(0.0).to_numpy()
    return resources, out


def _suppliers(inputs: Inputs, items: pd.DataFrame, T: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Item-supplier pairs and what each can deliver per month that the plan may count on."""
    pos = pd.Series(np.arange(len(items)), index=items["item"])
    sup = inputs.suppliers[inputs.suppliers["item"].isin(pos.index)].reset_index(drop=True)
    cap = np.zeros((len(sup), T))
    for k, row in enumerate(sup.itertuples(index=False)):
        per = float(row.fill_rate) * (np.inf if pd.isna(row.max_per_period) else float(row.max_per_period))
        cap[k, int(row.lead_time):] = per
    factors = inputs.supplier_factors  # month-limited disruptions set by scenarios
    if len(factors) and len(sup):
        month = {p: t for t, p in enumerate(inputs.settings.periods)}
        pair = {(i, s): k for k, (i, s) in enumerate(zip(sup["item"], sup["supplier"]))}
        for row in factors.itertuples(index=False):
            k, t = pair.get((row.item, row.supplier)), month.get(row.period)
            if k is not None and t is not None:
                cap[k, t] *= float(row.factor)
    return sup.assign(pos=sup["item"].map(pos).to_numpy()), cap


def lead_times(inputs: Inputs, items: pd.DataFrame) -> np.ndarray:
    """Months to replenish each item of `items`: its own lead time; bought items with none use their fastest
    supplier's."""
    lead_time = _num(items["lead_time"])
    sup = inputs.suppliers
    fastest = sup[sup["item"].isin(items["item"])].groupby("item")["lead_time"].min()
    if len(fastest):
        pos = pd.Series(np.arange(len(items)), index=items["item"]).groupby(level=0).first()[fastest.index].to_numpy()
        lead_time[pos] = np.where(lead_time[pos] > 0, lead_time[pos], fastest.to_numpy(dtype=float))
    return lead_time


def _num(series: pd.Series, default: float = 0.0) -> np.ndarray:
    return pd.to_numeric(series, errors="coerce").astype(float).fillna(default).to_numpy().copy()


def supply_plan(inputs: Inputs, demand_plan: pd.DataFrame | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(SupplyPlan, CapacityPlan) frames with the contract's column keys."""
    s = inputs.settings
    periods = s.periods
    T = len(periods)
    items = inputs.active_items.drop_duplicates("item").reset_index(drop=True)
    names = pd.Index(items["item"], name="item")
    n = len(items)
    demand = consensus_demand(demand_plan, names, periods)
    on_hand = inputs.inventory.drop_duplicates("item").set_index("item")["on_hand"]
    opening = on_hand.reindex(names).astype(float).fillna(0.0).to_numpy()

    sup, pair_cap = _suppliers(inputs, items, T)
    lead_time = lead_times(inputs, items)
    sigma = forecast_sigma(inputs, demand_plan, names)
    ss = safety_stock_targets(inputs, items, demand, sigma, lead_time)

    resources, cap = _capacity(inputs, periods)
    hours = _bill_of_resources(inputs, items, resources)
    made = hours.sum(axis=1) > 0
    bought = np.zeros(n, dtype=bool)
    bought[sup["pos"].to_numpy(dtype=int)] = True
    unit_cost, unit_price = _num(items["unit_cost"]), _num(items["unit_price"])
    holding = s.holding_rate / 12.0 * unit_cost
    penalty = np.maximum(s.backlog_rate * unit_price, 1e-3)  # a lost sale's cost under "cost"
    margin = str(s.supply_objective).lower() == "margin"
    problem = SupplyProblem(
        demand=demand, opening=opening, safety_stock=ss, holding_cost=holding,
        shortage_cost=unit_price if margin else penalty, ss_gap_cost=0.5 * penalty, can_make=made | ~bought,
        min_lot=_num(items["min_lot"]), hours=hours,
        regular=cap["available_hours"], overtime=cap["overtime_hours"], overtime_cost=cap["overtime_cost"],
        pair_item=sup["pos"].to_numpy(dtype=int), pair_cap=pair_cap, pair_fill=_num(sup["fill_rate"]),
        lot_multiple=_num(items["lot_multiple"]) if "lot_multiple" in items else None,
        supply_cost=unit_cost if margin else None)
    sol = solve(problem)

    purchases = np.zeros((n, T))
    np.add.at(purchases, problem.pair_item, sol.receipts)
    supply = sol.production + purchases
    op, closing, shortage = lost_sales(opening, supply, demand)
    dos = periods_of_cover(closing, demand) * s.days_per_period
    plan = pd.DataFrame({
        "item": np.repeat(names.to_numpy(dtype=object), T), "family": np.repeat(items["family"].to_numpy(dtype=object), T),
        "period": pd.PeriodIndex(np.tile(periods, n), freq="M"),
        "demand": demand.ravel(), "opening": op.ravel(), "supply": supply.ravel(),
        "production": sol.production.ravel(), "purchases": purchases.ravel(), "closing": closing.ravel(),
        "safety_stock": ss.ravel(), "shortage": shortage.ravel(), "days_of_supply": dos.ravel()})

    R = len(resources)
    required = hours.T @ sol.production  # R x T
    unconstrained = hours.T @ demand
    regular = cap["available_hours"]
    overtime_used = np.maximum(required - regular, 0.0)
    full_regular = required >= regular - _TOL * np.maximum(regular, 1.0)
    full_overtime = overtime_used >= cap["overtime_hours"] - _TOL * np.maximum(cap["overtime_hours"], 1.0)
    binding = np.where(full_regular & full_overtime & (required > 0), "overtime",
                       np.where(full_regular & (required > 0), "regular", ""))
    with np.errstate(divide="ignore", invalid="ignore"):
        utilisation = np.where(regular > 0, required / regular, np.nan)
    cplan = pd.DataFrame({
        "resource": np.repeat(resources.to_numpy(dtype=object), T),
        "period": pd.PeriodIndex(np.tile(periods, R), freq="M"),
        "required_hours": required.ravel(), "available_hours": regular.ravel(),
        "overtime_hours": overtime_used.ravel(), "overtime_limit": cap["overtime_hours"].ravel(),
        "unconstrained_hours": unconstrained.ravel(), "utilisation": utilisation.ravel(),
        "overloaded": (unconstrained > regular + cap["overtime_hours"] + _TOL).ravel(),
        "binding": binding.ravel(), "shadow_price": sol.shadow_price.ravel(),
        "overtime_shadow_price": sol.overtime_shadow_price.ravel(),
        "note": load_notes(hours, demand, op, closing, shortage, purchases).ravel()})
    cplan["binding"] = cplan["binding"].replace("", None)
    return plan[C.SUPPLY_PLAN.keys], cplan[C.CAPACITY_PLAN.keys]


def load_notes(hours: np.ndarray, demand: np.ndarray, opening: np.ndarray, closing: np.ndarray,
               shortage: np.ndarray, purchases: np.ndarray, min_hours: float = 1.0) -> np.ndarray:
    """Resource x month text: why the planned load differs from the load of the month's demand.

    Per item, production = demand - shortage + (closing - opening) - purchases, so the planned hours are the demand's
    hours minus those served from stock (opening > closing), lost (shortage) or bought in, plus those built ahead for
    later months (closing > opening). Why: a first month at 20% utilisation before overloaded months reads like a bug;
    it is the opening stock serving demand first (holding stock costs more than the free hours save)."""
    change = closing - opening
    parts = (("of demand served from stock", np.maximum(-change, 0.0)),
             ("built ahead for later months", np.maximum(change, 0.0)),
             ("of demand bought in", purchases), ("of demand lost (short)", shortage))
    per_part = [(what, hours.T @ q) for what, q in parts]  # R x T hours of each part, as required_hours
    notes = np.full((hours.shape[1], demand.shape[1]), None, dtype=object)
    for r, t in np.ndindex(notes.shape):
        text = [f"{h:,.0f} h {what}" for what, load in per_part if (h := float(load[r, t])) >= min_hours]
        if text:
            notes[r, t] = "; ".join(text)
    return notes


def family_inputs(inputs: Inputs, plan: pd.DataFrame) -> list[dict]:
    """aggregate_plan arguments per family with a row in AggregateParams: demand is the family's consensus, stock
    its items' on-hand, material its demand-weighted unit cost, holding and backlog costs from Settings."""
    params = inputs.aggregate_params
    if params is None or params.empty or plan.empty:
        return []
    s = inputs.settings
    items = inputs.active_items.set_index("item")
    cases = []
    for row in params.itertuples(index=False):
        fam = plan[plan["family"] == row.family]
        if fam.empty:
            continue
        demand = fam.groupby("period")["demand"].sum()
        weights = fam.groupby("item")["demand"].sum()
        w = weights / weights.sum() if weights.sum() > 0 else pd.Series(1 / len(weights), index=weights.index)
        cost = float((items.loc[w.index, "unit_cost"].astype(float) * w).sum())
        price = float((items.loc[w.index, "unit_price"].astype(float) * w).sum())
        opening = float(fam[fam["period"] == s.periods[0]]["opening"].sum())
        opt = lambda v, d: d if v is None or pd.isna(v) else float(v)  # noqa: E731
        cases.append(dict(
            family=row.family, strategy=row.strategy if isinstance(row.strategy, str) else "optimal",
            integer=bool(opt(row.integer, False)),
            demand=demand, start_inventory=opening, min_end_inventory=opt(row.min_end_inventory, 0.0),
            start_workforce=float(row.start_workforce), hours_per_unit=float(row.hours_per_unit),
            regular_hours_per_worker=float(row.regular_hours_per_worker),
            max_overtime_hours_per_worker=opt(row.max_overtime_hours_per_worker, 0.0),
            max_subcontract=opt(row.max_subcontract, None) if not pd.isna(row.subcontract_cost) else 0.0,
            costs=dict(material=cost, holding=s.holding_rate / 12 * cost, backlog=s.backlog_rate * price,
                       hire=opt(row.hire_cost, 0.0), layoff=opt(row.layoff_cost, 0.0),
                       regular_hour=opt(row.regular_hour_cost, 0.0), overtime_hour=opt(row.overtime_hour_cost, 0.0),
                       subcontract=opt(row.subcontract_cost, 0.0))))
    return cases


def family_plans(inputs: Inputs, plan: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(AggregatePlan, AggregateCosts): every family's plan under its chosen strategy, and all three strategies'
    costs side by side so the pre-S&OP meeting can compare them. A strategy that cannot plan a family keeps its
    row, without costs, and says why in the note (a family whose chosen strategy fails has no AggregatePlan rows)."""
    cases = family_inputs(inputs, plan)
    plans, costs = [], []
    for strategy in ("optimal", "level", "chase"):
        for integer in (False, True):
            group = [c for c in cases if c["integer"] is integer]
            if not group:
                continue
            args = [{k: v for k, v in c.items() if k not in ("family", "strategy", "integer")} for c in group]
            try:
                solved = aggregate_plans(args, strategy=strategy, integer=integer)
            except AggregatePlanError:  # one bad family: solve one by one to isolate it
                solved = []
                for a in args:
                    try:
                        solved += aggregate_plans([a], strategy=strategy, integer=integer)
                    except AggregatePlanError as err:
                        solved.append(err)
            for case, result in zip(group, solved):
                chosen = case["strategy"] == strategy
                row = {"family": case["family"], "strategy": strategy, "chosen": chosen}
                if isinstance(result, AggregatePlanError):
                    costs.append({**row, "note": f"no plan: {result}"})
                    continue
                costs.append({**row, "total_cost": result.total_cost, **result.costs})
                if chosen:
                    plans.append(result.plan.assign(family=case["family"], strategy=strategy))
    agg_cols = C.AGGREGATE_PLAN.keys
    cost_cols = C.AGGREGATE_COSTS.keys
    agg = pd.concat(plans, ignore_index=True)[agg_cols] if plans else pd.DataFrame(columns=agg_cols)
    cst = pd.DataFrame(costs, columns=cost_cols)
    return agg, cst


def run(inputs: Inputs, outputs: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Cycle step 2: SupplyPlan, CapacityPlan, AggregatePlan and AggregateCosts from the inputs and the DemandPlan."""
    plan, cplan = supply_plan(inputs, outputs.get("DemandPlan"))
    agg, costs = family_plans(inputs, plan)
    return {"SupplyPlan": plan, "CapacityPlan": cplan, "AggregatePlan": agg, "AggregateCosts": costs}

