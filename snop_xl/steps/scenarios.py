"""What-if scenarios: each is a set of factor rows on the Scenarios sheet, applied to a copy of the base inputs.

Row semantics (several rows may build one scenario; factors multiply where rows overlap):
- Applies To blank: everything; else the name of a family, item or supplier (demand, price and cost factors), a resource
  (capacity factor; 0 = outage) or a supplier or bought item (supplier fill factor). Only the namespaces whose factor
  is not 1 must know the name.
- From/To: the months affected (blank: plan start/end).
- demand_factor scales the consensus demand (and the forecast columns with it); capacity_factor scales regular and
  overtime hours; supply_factor scales a supplier's fill rate (what arrives of what is ordered); price and cost factors
  scale unit price and cost in the financial summary.

The demand step's output does not depend on any factor (history is untouched), so a scenario reuses the base
DemandPlan, scales it, and re-runs the supply step on its own copy of the inputs. Period-limited supplier
disruptions cannot be expressed on the Suppliers table (it has no months); they are passed to the supply step as
``inputs.supplier_factors`` (item, supplier, period, factor), which step 2 applies to what the supplier can deliver.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np
import pandas as pd

from snop_xl import contract as C
from snop_xl.calc import finance
from snop_xl.inputs import Inputs, factor_value, scope_text
from snop_xl.steps import supply

FACTORS = ("demand_factor", "capacity_factor", "supply_factor", "price_factor", "cost_factor")
BASE = C.BASE_SCENARIO
_DEMAND_COLS = ("statistical", "lo_80", "hi_80", "lo_95", "hi_95", "events", "override", "consensus")


def scenario_names(table: pd.DataFrame) -> list[str]:
    """Scenario names in the order they first appear (Base is the plan itself and never re-run)."""
    names = [str(n).strip() for n in table["scenario"].dropna()] if len(table) else []
    return [n for n in dict.fromkeys(names) if n and n.lower() != BASE.lower()]


def _in_months(periods: pd.Series, start: Any, end: Any) -> np.ndarray:
    mask = np.ones(len(periods), dtype=bool)
    if not pd.isna(start):
        mask &= (periods >= start).to_numpy()
    if not pd.isna(end):
        mask &= (periods <= end).to_numpy()
    return mask


def _matches(frame: pd.DataFrame, scope: str, keys: Sequence[str]) -> np.ndarray:
    if not scope:
        return np.ones(len(frame), dtype=bool)
    return np.logical_or.reduce([(frame[k] == scope).fillna(False).to_numpy(dtype=bool) for k in keys])


def item_factors(rows: pd.DataFrame, items: pd.DataFrame, periods: pd.PeriodIndex,
                 suppliers: pd.DataFrame | None = None) -> pd.DataFrame:
    """Demand, price and cost factor per item and month: the product of every row that covers it. A row's scope
    is an item, a family, or a supplier (the items it supplies)."""
    grid = pd.DataFrame({"item": np.repeat(items["item"].to_numpy(), len(periods)),
                         "family": np.repeat(items["family"].to_numpy(), len(periods)),
                         "period": pd.PeriodIndex(np.tile(periods, len(items)), freq="M")})
    for f in ("demand_factor", "price_factor", "cost_factor"):
        grid[f] = 1.0
    for _, row in rows.iterrows():
        scope = scope_text(row["scope"])
        mask = _matches(grid, scope, ("item", "family")) & _in_months(grid["period"], row["start"], row["end"])
        if scope and suppliers is not None and len(suppliers):
            supplied = set(suppliers.loc[suppliers["supplier"] == scope, "item"])
            mask |= grid["item"].isin(supplied).to_numpy() & _in_months(grid["period"], row["start"], row["end"])
        for f in ("demand_factor", "price_factor", "cost_factor"):
            grid.loc[mask, f] *= factor_value(row[f])
    return grid


def apply_scenario(inputs: Inputs, demand_plan: pd.DataFrame, rows: pd.DataFrame
                   ) -> tuple[Inputs, pd.DataFrame, pd.DataFrame]:
    """A scenario's inputs and demand plan, built on copies (the base is never touched), and its item factors."""
    periods = inputs.settings.periods
    factors = item_factors(rows, inputs.items, periods, inputs.suppliers)
    capacity = inputs.capacity.copy()
    suppliers = inputs.suppliers.copy()
    supplier_factors = []
    for _, row in rows.iterrows():
        scope, start, end = scope_text(row["scope"]), row["start"], row["end"]
        cf = factor_value(row["capacity_factor"])
        if cf != 1.0 and len(capacity):
            mask = _matches(capacity, scope, ("resource",)) & _in_months(capacity["period"], start, end)
            for col in ("available_hours", "overtime_hours"):
                capacity.loc[mask, col] = capacity.loc[mask, col].astype(float) * cf
        sf = factor_value(row["supply_factor"])
        if sf != 1.0 and len(suppliers):
            mask = _matches(suppliers, scope, ("supplier", "item"))
            whole = (pd.isna(start) or start <= periods[0]) and (pd.isna(end) or end >= periods[-1])
            if whole:  # the whole horizon: the supplier's terms themselves change
                suppliers.loc[mask, "fill_rate"] = (suppliers.loc[mask, "fill_rate"] * sf).clip(upper=1.0)
            else:
                months = periods[_in_months(pd.Series(periods), start, end)]
                for _, sup in suppliers[mask].iterrows():
                    supplier_factors += [{"item": sup["item"], "supplier": sup["supplier"], "period": p,
                                          "factor": sf} for p in months]
    changes = {}
    if supplier_factors:
        sf_frame = pd.DataFrame(supplier_factors)
        changes["supplier_factors"] = sf_frame.groupby(["item", "supplier", "period"], as_index=False)["factor"].prod()
    scenario_inputs = inputs.replace(capacity=capacity, suppliers=suppliers, **changes)
    return scenario_inputs, scale_demand(demand_plan, factors), factors


def scale_demand(demand_plan: pd.DataFrame, factors: pd.DataFrame) -> pd.DataFrame:
    """Item rows scaled by their demand factor; family and total rows rebuilt as the sums of their items."""
    plan = demand_plan.reset_index(drop=True)
    items = plan[plan["level"] == "Item"].merge(factors[["item", "period", "demand_factor"]],
                                                on=["item", "period"], how="left")
    f = items.pop("demand_factor").fillna(1.0).to_numpy()
    cols = [c for c in _DEMAND_COLS if c in items]
    for c in cols:
        items[c] = items[c].astype(float) * f
    if np.all(f == 1.0):
        return plan.copy()
    fam = items.groupby(["family", "period"], as_index=False)[cols].sum(min_count=1).assign(level="Family",
                                                                                            item=None)
    tot = items.groupby("period", as_index=False)[cols].sum(min_count=1).assign(level="Total", family=None,
                                                                                 item=None)
    return pd.concat([items, fam, tot], ignore_index=True)[list(plan.columns)]


def summarise_plan(inputs: Inputs, outputs: Mapping[str, pd.DataFrame],
                   factors: pd.DataFrame | None = None) -> dict[str, float]:
    """Headline figures of a plan (base or scenario), with price and cost factors applied per item-month."""
    supply = finance.with_prices(outputs["SupplyPlan"].reset_index(drop=True), inputs.items)
    if factors is not None:
        supply = supply.merge(factors[["item", "period", "price_factor", "cost_factor"]], on=["item", "period"],
                              how="left")
        supply["unit_price"] = supply["unit_price"] * supply.pop("price_factor").fillna(1.0)
        supply["unit_cost"] = supply["unit_cost"] * supply.pop("cost_factor").fillna(1.0)
    money = finance.plan_money(supply, inputs.items)
    s = inputs.settings
    cap = outputs.get("CapacityPlan")
    costs = finance.plan_cost(supply, inputs.items, cap, inputs.capacity, s.holding_rate, s.backlog_rate)
    out = finance.summarise(money, costs)
    out["aggregate_cost"] = aggregate_cost(outputs.get("AggregateCosts"))
    if cap is not None and len(cap):
        avail = float(cap["available_hours"].astype(float).sum())
        out["utilisation"] = float(cap["required_hours"].astype(float).sum()) / avail if avail > 0 else np.nan
        out["overloaded_months"] = int(cap["overloaded"].fillna(False).astype(bool).sum())
    else:
        out["utilisation"], out["overloaded_months"] = np.nan, 0
    return out


def aggregate_cost(costs: pd.DataFrame | None) -> float:
    """Total cost of the family aggregate plans under each family's chosen strategy; NaN when none is planned or
    a family's chosen strategy has no plan (AggregateCosts' note says why): a partial sum would compare unlike
    totals across scenarios."""
    if costs is None or not len(costs):
        return np.nan
    chosen = costs[costs["chosen"].fillna(False).astype(bool)]
    return float(chosen["total_cost"].astype(float).sum(min_count=len(chosen))) if len(chosen) else np.nan


#: the supply step's outputs that depend only on the demand plan (and inputs no scenario changes): the family
#: aggregate plans read each family's demand, its items' demand weights and opening stock, never capacity or suppliers
_DEMAND_ONLY = ("AggregatePlan", "AggregateCosts")


def run_scenario(inputs: Inputs, demand_plan: pd.DataFrame, rows: pd.DataFrame,
                 base: Mapping[str, pd.DataFrame] | None = None) -> dict[str, Any]:
    """Re-run supply for one scenario on its own copy of the inputs; its summary and its plan frames.

    `base`: the base plan's supply outputs. A scenario that leaves demand as it is (every demand factor 1) reuses
    their family aggregate plans (the same inputs give the same plans) and re-solves only the item plan."""

    scenario_inputs, scenario_demand, factors = apply_scenario(inputs, demand_plan, rows)
    outputs = {"DemandPlan": scenario_demand}
    same_demand = bool((factors["demand_factor"] == 1.0).all())
    if base is not None and same_demand and all(k in base for k in _DEMAND_ONLY):
        plan, cplan = supply.supply_plan(scenario_inputs, scenario_demand)
        outputs.update({"SupplyPlan": plan, "CapacityPlan": cplan, **{k: base[k] for k in _DEMAND_ONLY}})
    else:
        outputs.update(supply.run(scenario_inputs, outputs))
    return {"summary": summarise_plan(scenario_inputs, outputs, factors), "outputs": outputs}


def _summary_only(args: tuple[Inputs, pd.DataFrame, pd.DataFrame, Mapping[str, pd.DataFrame] | None]
                  ) -> dict[str, float]:
    return run_scenario(*args)["summary"]


#: Linux prctl option: the signal a process gets when the thread that forked it ends
_PR_SET_PDEATHSIG = 1


def _die_with_parent(parent: int) -> None:
    """Worker initializer: end this worker when the process that started it ends, even by kill -9. A forked
    worker inherits the write end of its own task pipe, so it would otherwise wait for a task forever, orphaned.
    Linux: the kernel sends SIGKILL (PR_SET_PDEATHSIG); other POSIX systems (macOS): a daemon thread watches for
    the parent's id to change (an orphan is adopted by another process)."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0:
                if os.getppid() != parent:  # the parent died before the prctl: nobody will send the signal
                    os._exit(1)
                return
        except (OSError, AttributeError):
            pass
    if os.name != "posix":  # Windows: a parent's id stays the same after it died; no cheap watch there
        return

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="snop-xl parent watch", daemon=True).start()


def compare(inputs: Inputs, outputs: Mapping[str, pd.DataFrame], workers: int | None = None) -> pd.DataFrame:
    """The ScenarioComparison table: the base plan and every scenario side by side.

    `workers`: processes to use (None: one per core, up to one per scenario, when there are several scenarios;
    1: serial, in this process).
    """
    names = scenario_names(inputs.scenarios)
    rows = [{"scenario": BASE, **summarise_plan(inputs, outputs)}]
    demand_plan = outputs["DemandPlan"]
    base = {k: outputs[k] for k in _DEMAND_ONLY if k in outputs} or None
    jobs = [(inputs, demand_plan, inputs.scenarios[inputs.scenarios["scenario"].astype(str).str.strip() == n], base)
            for n in names]
    if workers is None:
        workers = min(len(jobs), os.cpu_count() or 1)
    if workers > 1 and len(jobs) > 1:
        with ProcessPoolExecutor(max_workers=workers, initializer=_die_with_parent,
                                 initargs=(os.getpid(),)) as pool:
            summaries = list(pool.map(_summary_only, jobs))
    else:
        summaries = [_summary_only(job) for job in jobs]
    rows += [{"scenario": n, **s} for n, s in zip(names, summaries)]
    out = pd.DataFrame(rows)
    out["margin_vs_base"] = out["margin"] - out["margin"].iloc[0]
    return out[[c.key for c in C.SCENARIO_COMPARISON.columns]]
