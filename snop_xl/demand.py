"""Step 1 of S&OP, demand planning: statistical forecast -> events -> overrides -> consensus, per item and month.

Pure functions of the Inputs (the scenario step calls `run` on modified Inputs). The pieces are public because other
parts reuse them: `apply_overrides` gives the demand after each override owner, which forecast value added (FVA)
per owner is computed from.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import contract as C
from .forecast import forecast
from .inputs import Inputs

KEY = ["item", "period"]
SUMMED = ["statistical", "lo_80", "hi_80", "lo_95", "hi_95", "events", "override", "consensus"]


def run(inputs: Inputs, outputs: Mapping[str, pd.DataFrame] | None = None) -> dict[str, pd.DataFrame]:
    """The DemandPlan table: item rows, then family and total rows that are exact sums of their items."""
    items = item_families(inputs)
    stat = statistical_forecast(inputs)
    events = event_uplift(stat, inputs.events, items, inputs.settings.periods)
    base = stat[KEY].assign(qty=(stat["statistical"] + events["events"]).clip(lower=0.0))
    result = apply_overrides(base, inputs.overrides, items)
    plan = stat.merge(events, on=KEY, how="left").merge(result.consensus, on=KEY, how="left")
    plan = plan.merge(items, on="item", how="left")
    return {"DemandPlan": roll_up(plan)}


@dataclass
class OverrideResult:
    """Consensus demand after all overrides, and the demand after each owner's overrides (FVA steps).

    consensus: item, period, override (the final overridden quantity, NaN where none), consensus.
    steps: owner -> frame item, period, qty: the demand once the overrides of that owner and of every owner listed
    before it (in order of first appearance in the table) are applied. The last step equals the consensus.
    """

    consensus: pd.DataFrame
    steps: dict[str, pd.DataFrame]


def item_families(inputs: Inputs) -> pd.DataFrame:
    """Active items (Items sheet order) with their family."""
    active = inputs.active_items
    return pd.DataFrame({"item": active["item"].to_numpy(dtype=object),
                         "family": active["family"].to_numpy(dtype=object)})


def statistical_forecast(inputs: Inputs) -> pd.DataFrame:
    """Forecast of every active item over the plan's months: item, period, statistical, bounds, method.

    Months missing between an item's first history month and the cycle month count as zero sales; items without any
    history get 0 with method "no history".
    """
    s = inputs.settings
    items = item_families(inputs)
    periods = s.periods
    hist = inputs.history
    hist = hist[hist["item"].isin(set(items["item"])) & (hist["period"] < periods[0])][["item", "period", "qty"]]
    hist = hist.dropna(subset=["qty"])
    if s.cleanse_history and len(inputs.events):
        hist = cleanse(hist, inputs.events, items)
    last = periods[0] - 1
    with_hist = hist["item"].unique()
    pad = pd.DataFrame({"item": with_hist, "period": pd.PeriodIndex([last] * len(with_hist), freq="M"),
                        "qty": 0.0})  # extends every item's calendar to the month before the cycle
    hist = pd.concat([hist, pad], ignore_index=True) if len(hist) else hist
    fc = forecast(hist, len(periods), season_length=s.season_length, method=s.default_method)
    fc = fc.rename(columns={"forecast": "statistical"})
    grid = pd.DataFrame({"item": np.repeat(items["item"].to_numpy(dtype=object), len(periods)),
                         "period": pd.PeriodIndex(np.tile(periods, len(items)), freq="M")})
    out = grid.merge(fc, on=KEY, how="left")
    none = out["method"].isna()
    out.loc[none, ["statistical", "lo_80", "hi_80", "lo_95", "hi_95"]] = 0.0
    out["method"] = out["method"].astype(object).where(~none, "no history")
    return out


def _event_targets(events: pd.DataFrame, items: pd.DataFrame) -> list[tuple[int, np.ndarray, pd.Series]]:
    """For each event row: its position, the items it concerns and the row."""
    out = []
    for pos, (_, ev) in enumerate(events.iterrows()):
        if isinstance(ev["item"], str) and ev["item"]:
            targets = items["item"][items["item"] == ev["item"]].to_numpy(dtype=object)
        else:
            targets = items["item"][items["family"] == ev["family"]].to_numpy(dtype=object)
        out.append((pos, targets, ev))
    return out


def _spread(frame: pd.DataFrame, mask: np.ndarray, weight: str, total: float | np.ndarray) -> np.ndarray:
    """Share of `total` (per period) each masked row gets, proportional to `weight` (equal when the weights are 0)."""
    share = np.zeros(len(frame))
    sub = frame[mask]
    w = sub[weight].to_numpy(dtype=float).clip(min=0)
    per_period = pd.Series(w).groupby(sub["period"].to_numpy()).transform("sum").to_numpy()
    count = pd.Series(w).groupby(sub["period"].to_numpy()).transform("size").to_numpy()
    share[mask] = np.where(per_period > 0, w / np.where(per_period > 0, per_period, 1), 1 / count)
    return share * total


def event_uplift(stat: pd.DataFrame, events: pd.DataFrame, items: pd.DataFrame, periods: pd.PeriodIndex
                 ) -> pd.DataFrame:
    """Uplift of every event on the statistical forecast: item, period, events (units; several events add up).

    Uplift % multiplies the item's statistical forecast; Uplift Qty is units per month for an item, or for a family
    spread over its items in proportion to their statistical forecast that month.
    """
    out = stat[KEY].copy()
    uplift = np.zeros(len(stat))
    for _, targets, ev in _event_targets(events, items):
        months = (stat["period"] >= ev["start"]) & (stat["period"] <= ev["end"])
        mask = (stat["item"].isin(set(targets)) & months).to_numpy()
        if not mask.any():
            continue
        if pd.notna(ev["uplift_pct"]):
            uplift[mask] += stat["statistical"].to_numpy()[mask] * float(ev["uplift_pct"])
        else:
            uplift += _spread(stat, mask, "statistical", float(ev["uplift_qty"]))
    out["events"] = uplift
    return out


def cleanse(history: pd.DataFrame, events: pd.DataFrame, items: pd.DataFrame) -> pd.DataFrame:
    """History with the effect of past events removed, so promotions do not inflate the baseline.

    Uplift % divides the month's sales by (1 + uplift); Uplift Qty subtracts the units (a family's spread by the
    items' sales that month). Never below zero.
    """
    hist = history.reset_index(drop=True).copy()
    qty = hist["qty"].to_numpy(dtype=float).copy()
    for _, targets, ev in _event_targets(events, items):
        mask = (hist["item"].isin(set(targets)) & (hist["period"] >= ev["start"])
                & (hist["period"] <= ev["end"])).to_numpy()
        if not mask.any():
            continue
        if pd.notna(ev["uplift_pct"]):
            qty[mask] = qty[mask] / max(1 + float(ev["uplift_pct"]), 1e-9)
        else:
            qty -= _spread(hist.assign(qty=qty), mask, "qty", float(ev["uplift_qty"]))
    hist["qty"] = np.maximum(qty, 0.0)
    return hist


def apply_overrides(base: pd.DataFrame, overrides: pd.DataFrame, items: pd.DataFrame) -> OverrideResult:
    """Apply the Overrides rows in table order on `base` (item, period, qty); the last one for an item-month wins.

    A family override replaces the family's total that month and is spread over its items in proportion to their
    demand at that point (equal shares when that is zero). `items` maps item -> family (active items); rows about
    other items or months outside `base` are ignored.
    """
    family = base["item"].map(dict(zip(items["item"], items["family"]))).to_numpy(dtype=object)
    rows = list(overrides.itertuples(index=False)) if len(overrides) else []
    owners = list(dict.fromkeys(str(r.owner) for r in rows))
    steps = {}
    for k, owner in enumerate(owners):
        upto = set(owners[:k + 1])
        qty, _ = _apply(base, [r for r in rows if str(r.owner) in upto], family)
        steps[owner] = base[KEY].reset_index(drop=True).assign(qty=qty)
    qty, overridden = _apply(base, rows, family)
    consensus = base[KEY].reset_index(drop=True).assign(override=overridden, consensus=qty)
    return OverrideResult(consensus, steps)


def _apply(base: pd.DataFrame, rows: list, family: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Demand after `rows` in order, and the overridden quantity of each item-month (NaN where none)."""
    demand = base[KEY].reset_index(drop=True).assign(qty=base["qty"].to_numpy(dtype=float))
    items, periods = demand["item"].to_numpy(dtype=object), demand["period"]
    overridden = np.full(len(demand), np.nan)
    for row in rows:
        month = (periods == row.period).to_numpy()
        if isinstance(row.item, str) and row.item:
            mask = month & (items == row.item)
        else:
            mask = month & (family == row.family)
        if not mask.any():
            continue
        qty = demand["qty"].to_numpy().copy()
        qty[mask] = _spread(demand, mask, "qty", float(row.qty))[mask]
        demand["qty"] = qty
        overridden[mask] = qty[mask]
    return demand["qty"].to_numpy(), overridden


def roll_up(plan: pd.DataFrame) -> pd.DataFrame:
    """Item rows as given, then per family and period, then per period: sums of the item rows."""
    cols = C.DEMAND_PLAN.keys
    item_rows = plan.assign(level="Item")
    fam_order = list(dict.fromkeys(item_rows["family"]))

    def total(frame: pd.DataFrame, by: list[str]) -> pd.DataFrame:
        g = frame.groupby(by, sort=False)
        out = g[[c for c in SUMMED if c != "override"]].sum()
        out["override"] = g["override"].sum(min_count=1)
        return out.reset_index()

    fam = total(item_rows, ["family", "period"]).assign(level="Family", item=None, method=None)
    fam["_f"] = fam["family"].map({f: i for i, f in enumerate(fam_order)})
    fam = fam.sort_values(["_f", "period"], kind="stable").drop(columns="_f")
    tot = total(item_rows, ["period"]).assign(level="Total", family=None, item=None, method=None)
    tot = tot.sort_values("period", kind="stable")
    out = pd.concat([item_rows[cols], fam[cols], tot[cols]], ignore_index=True)
    for c in ("level", "family", "item", "method"):
        out[c] = out[c].astype(object)
    return out
