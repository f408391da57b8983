"""Why the constrained plan looks the way it does: which resource binds when, and what one more hour is worth.

Reads only the CapacityPlan frame (contract keys), so Exceptions, the summary and the report can explain the plan
from the sheet as written, without re-solving. The shadow price of a resource-month is the LP dual of its capacity
row: what the plan's objective (cost, or margin) improves by with one more regular hour there, all else optimal.
"""

from __future__ import annotations

import pandas as pd

#: Shadow prices below this (currency per hour) are solver noise, not a binding resource.
MIN_SHADOW = 1e-6
BINDING_COLUMNS = ("resource", "first_period", "months", "peak_period", "max_shadow_price", "mean_shadow_price",
                   "hours_short", "message")


def hours_beyond(capacity_plan: pd.DataFrame) -> pd.Series:
    """Each resource-month's unconstrained load beyond its regular + overtime hours (0 within them): the hours its
    demand needs that the month cannot give, against the limits the plan used (the CapacityPlan's own columns,
    where a month Capacity does not list has its nearest month's hours). The one measure of an overload: the
    Capacity overload exceptions and the binding resources' hours short both count it."""
    overtime = pd.to_numeric(capacity_plan["overtime_limit"], errors="coerce").fillna(0.0).astype(float) \
        if "overtime_limit" in capacity_plan else 0.0  # an optional column: older sheets lack it
    return (pd.to_numeric(capacity_plan["unconstrained_hours"], errors="coerce").astype(float)
            - pd.to_numeric(capacity_plan["available_hours"], errors="coerce").astype(float)
            - overtime).clip(lower=0.0).fillna(0.0)


def binding_resources(capacity_plan: pd.DataFrame | None, currency: str = "") -> pd.DataFrame:
    """One row per resource that binds in some month, most valuable first.

    months: resource-months whose shadow price is positive (one more hour would improve the plan); first_period and
    peak_period: the first such month and the one where an hour is worth most; hours_short: the resource's
    `hours_beyond` over all its months (what its demand needs beyond regular + overtime, as the Capacity overload
    exception counts it).
    """
    if capacity_plan is None or not len(capacity_plan) or "shadow_price" not in capacity_plan:
        return pd.DataFrame(columns=list(BINDING_COLUMNS))
    short = hours_beyond(capacity_plan).groupby(capacity_plan["resource"]).sum()
    cp = capacity_plan.assign(
        shadow=pd.to_numeric(capacity_plan["shadow_price"], errors="coerce").fillna(0.0).astype(float))
    cp = cp[cp["shadow"] > MIN_SHADOW].sort_values(["resource", "period"], kind="stable")
    if not len(cp):
        return pd.DataFrame(columns=list(BINDING_COLUMNS))
    g = cp.groupby("resource", sort=False)
    peak = cp.loc[g["shadow"].idxmax()].set_index("resource")["period"]
    out = pd.DataFrame({"first_period": g["period"].min(), "months": g.size(), "peak_period": peak,
                        "max_shadow_price": g["shadow"].max(), "mean_shadow_price": g["shadow"].mean()})
    out = out.assign(hours_short=short.reindex(out.index).fillna(0.0)).reset_index()
    out = out.sort_values(["max_shadow_price", "resource"], ascending=[False, True], kind="stable")
    unit = f" {currency}" if currency else ""
    out["message"] = [
        f"{r.resource} binds in {r.months} month{'s' if r.months > 1 else ''} from {r.first_period}; one more hour "
        f"is worth up to {r.max_shadow_price:,.2f}{unit} (in {r.peak_period})"
        + (f"; {r.hours_short:,.0f} hours of demand beyond regular + overtime" if r.hours_short > 0.5 else "")
        for r in out.itertuples(index=False)]
    return out[list(BINDING_COLUMNS)].reset_index(drop=True)


def capacity_lines(capacity_plan: pd.DataFrame | None, currency: str = "", top: int = 3) -> list[str]:
    """A few sentences for the summary and the pre-S&OP pack: the `top` binding resources, most valuable first."""
    binding = binding_resources(capacity_plan, currency)
    if not len(binding):
        return []
    lines = list(binding["message"].head(top))
    if len(binding) > top:
        lines.append(f"... and {len(binding) - top} more binding resource(s)")
    return lines

