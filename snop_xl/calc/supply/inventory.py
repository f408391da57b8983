"""Inventory building blocks: safety stock, projected inventory, days of supply, a one-resource balance.

Plain numpy functions over one item's months; the supply step uses them on the whole plan and the Excel UDFs wrap
them for cells. Each one has a formula a planner can check by hand (noted in its docstring).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm

#: z of the two-sided 80% interval: (hi_80 - lo_80) / (2 * Z80) is the forecast's standard error.
Z80 = float(norm.ppf(0.90))


def _vector(values: Any, name: str, allow_inf: bool = False) -> np.ndarray:
    out = np.asarray(values, dtype=float).ravel()
    if not allow_inf and not np.all(np.isfinite(out[~np.isnan(out)])):
        raise ValueError(f"{name} must be finite numbers")
    return out


def safety_stock_from_sigma(sigma: Any, lead_time: Any, service_level: Any, review_period: float = 1.0) -> Any:
    """z(service level) * sigma * sqrt(lead time + review period).

    The periodic-review (R, S) formula: the plan is revised every month (R = 1), so the stock must cover the
    forecast error over the lead time plus one review period. Works elementwise on arrays.
    """
    sl = np.asarray(service_level, dtype=float)
    if np.any((sl <= 0) | (sl >= 1)):
        raise ValueError("service level must be between 0 and 1 (exclusive)")
    lt = np.asarray(lead_time, dtype=float)
    if np.any(lt < 0):
        raise ValueError("lead time must be >= 0")
    out = norm.ppf(sl) * np.maximum(np.asarray(sigma, dtype=float), 0.0) * np.sqrt(lt + review_period)
    return np.maximum(out, 0.0) if np.ndim(out) else max(float(out), 0.0)


def demand_sigma(demand_history: Any) -> float:
    """Sample standard deviation (ddof=1) of per-period demand, blanks ignored; 0 with fewer than two values."""
    h = _vector(demand_history, "demand history")
    h = h[~np.isnan(h)]
    return float(np.std(h, ddof=1)) if len(h) >= 2 else 0.0


def safety_stock(demand_history: Any, lead_time: float, service_level: float, review_period: float = 1.0) -> float:
    """Safety stock in units from a demand history: NORM.S.INV(p) * STDEV.S(history) * SQRT(lead time + 1).

    The textbook formula a planner can rebuild in Excel. `lead_time` and `review_period` are in periods of the
    history (months). The supply step uses the demand plan's own forecast error instead when it has one.
    """
    return float(safety_stock_from_sigma(demand_sigma(demand_history), lead_time, service_level, review_period))


def project_inventory(opening: float, supply: Any, demand: Any, backlog: bool = True) -> np.ndarray:
    """Closing inventory per period: opening + cumulative (supply - demand).

    backlog=True (the planner's projected available balance) lets it go negative: a negative value is demand owed.
    backlog=False is lost sales: unmet demand is gone, stock never goes below 0 (the SupplyPlan convention).
    """
    s, d = _vector(supply, "supply"), _vector(demand, "demand")
    if len(s) != len(d):
        raise ValueError(f"supply has {len(s)} periods, demand {len(d)}")
    s, d = np.nan_to_num(s), np.nan_to_num(d)
    if backlog:
        return float(opening) + np.cumsum(s - d)
    out = np.empty(len(d))
    stock = float(opening)
    for t in range(len(d)):
        stock = max(stock + s[t] - d[t], 0.0)
        out[t] = stock
    return out


def lost_sales(opening: np.ndarray, supply: np.ndarray, demand: np.ndarray) -> tuple[np.ndarray, np.ndarray,
                                                                                      np.ndarray]:
    """(opening, closing, shortage) per period for many items at once (rows = items) under lost sales.

    closing = opening + supply - (demand - shortage), shortage = demand not met in its month, closing >= 0.
    """
    n, T = demand.shape
    op, cl, sh = np.empty((n, T)), np.empty((n, T)), np.empty((n, T))
    stock = np.asarray(opening, dtype=float).copy()
    for t in range(T):
        op[:, t] = stock
        avail = stock + supply[:, t]
        sh[:, t] = np.maximum(demand[:, t] - avail, 0.0)
        stock = np.maximum(avail - demand[:, t], 0.0)
        cl[:, t] = stock
    return op, cl, sh


def _extended(demand: np.ndarray, extra: int) -> np.ndarray:
    """Demand (items x periods) followed by `extra` periods at each item's average: demand beyond the horizon."""
    mean = demand.mean(axis=1, keepdims=True) if demand.shape[1] else np.zeros((demand.shape[0], 1))
    return np.concatenate([demand, np.repeat(mean, extra, axis=1)], axis=1)


def cover(stock: np.ndarray, following: np.ndarray, rate_after: np.ndarray) -> np.ndarray:
    """Periods of the `following` demand (n x k, in order) that `stock` (n) lasts, the last period pro rata; past
    them demand continues at `rate_after` (n). 0 for no stock; NaN where the stock outlasts the listed demand and
    no demand follows (`rate_after` 0: cover is unbounded). The one definition of cover: SupplyPlan's days of
    supply and the KPIs' both use it."""
    stock = np.maximum(np.asarray(stock, dtype=float), 0.0)
    following = np.atleast_2d(np.asarray(following, dtype=float))
    n, k = len(stock), following.shape[1]
    cum = np.cumsum(following, axis=1)
    total = cum[:, -1] if k else np.zeros(n)
    out = np.zeros(n)
    if k:
        # first j with cum[j] >= stock; cover = j + (stock - cum[j-1]) / following[j]
        j = np.minimum((cum < stock[:, None]).sum(axis=1), k - 1)
        before = np.where(j > 0, np.take_along_axis(cum, np.maximum(j - 1, 0)[:, None], 1)[:, 0], 0.0)
        step = np.take_along_axis(following, j[:, None], 1)[:, 0]
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.where(step > 0, j + (stock - before) / step, j)
    rate = np.asarray(rate_after, dtype=float)
    beyond = k + np.divide(stock - total, rate, out=np.full(n, np.nan), where=rate > 0)
    out = np.where(stock <= total, out, beyond)
    return np.where(stock <= 0, 0.0, out)


def periods_of_cover(inventory: np.ndarray, demand: np.ndarray) -> np.ndarray:
    """Periods of the following demand that stock at the end of each period covers (items x periods arrays).

    Stock at the end of period t is consumed by demand of t+1, t+2, ...; past the horizon demand continues at the
    item's average. A fractional period counts pro rata. NaN where no demand ever follows (cover is unbounded).
    """
    inv = np.atleast_2d(np.asarray(inventory, dtype=float))
    dem = np.atleast_2d(np.asarray(demand, dtype=float))
    n, T = dem.shape
    avg = dem.mean(axis=1) if T else np.zeros(n)
    return np.stack([cover(inv[:, t], dem[:, t + 1:], avg) for t in range(T)], axis=1) if T else np.zeros((n, 0))


def days_of_supply(inventory: Any, demand: Any, days_per_period: float = 30) -> np.ndarray:
    """Days the stock at the end of each period lasts, consuming the following periods' demand.

    Forward-looking (the SupplyPlan definition): stock at the end of month t covers month t+1 first, then t+2, ...;
    past the last month demand continues at the average. 0 for no stock, NaN when no demand ever follows.
    Example: inventory 150 at the end of month 1, demand 100 in each later month -> 1.5 months = 45 days.
    """
    inv, dem = _vector(inventory, "inventory"), _vector(demand, "demand")
    if len(inv) != len(dem):
        raise ValueError(f"inventory has {len(inv)} periods, demand {len(dem)}")
    return periods_of_cover(inv[None, :], np.nan_to_num(dem)[None, :])[0] * float(days_per_period)


def forward_demand(demand: np.ndarray, months: np.ndarray) -> np.ndarray:
    """Units of the demand after each period that `months` months of cover hold (the inverse of periods_of_cover).

    Used for the "cover" safety stock policy: hold `months` months of the coming demand at each month end.
    """
    dem = np.atleast_2d(np.asarray(demand, dtype=float))
    n, T = dem.shape
    months = np.broadcast_to(np.asarray(months, dtype=float), (n,))
    whole = np.floor(months).astype(int)
    frac = months - whole
    ext = _extended(dem, int(whole.max(initial=0)) + 2)
    cum = np.concatenate([np.zeros((n, 1)), np.cumsum(ext, axis=1)], axis=1)  # cum[:, k] = sum of first k
    out = np.empty((n, T))
    rows = np.arange(n)
    for t in range(T):
        start = t + 1
        full = cum[rows, start + whole] - cum[rows, start]
        out[:, t] = full + frac * ext[rows, start + whole]
    return out


def balance(demand: Any, capacity: Any, opening_inventory: float, safety_stock: float = 0.0,
            strategy: str = "chase") -> pd.DataFrame:
    """Production per period for one item on one capacity, with inventory and shortage (lost sales).

    chase: each period make what brings stock back to the safety stock (demand + safety stock - stock on hand),
    up to capacity. level: make the same quantity every period, (total demand + safety stock - opening) / periods,
    up to capacity. Unmet demand is lost: closing = opening + production - (demand - shortage) >= 0.
    """
    d = np.nan_to_num(_vector(demand, "demand"))
    T = len(d)
    cap = np.broadcast_to(np.nan_to_num(_vector(capacity, "capacity", allow_inf=True), nan=np.inf), (T,)) if np.ndim(capacity) \
        else np.full(T, np.inf if capacity is None else float(capacity))
    if np.any(d < 0) or np.any(cap < 0):
        raise ValueError("demand and capacity must be >= 0")
    if strategy not in ("chase", "level"):
        raise ValueError(f"strategy must be 'chase' or 'level', not {strategy!r}")
    prod, inv, short = np.zeros(T), np.zeros(T), np.zeros(T)
    stock = float(opening_inventory)
    rate = max((d.sum() + safety_stock - stock) / T, 0.0) if T else 0.0
    for t in range(T):
        want = max(d[t] + safety_stock - stock, 0.0) if strategy == "chase" else rate
        prod[t] = min(want, cap[t])
        avail = stock + prod[t]
        short[t] = max(d[t] - avail, 0.0)
        stock = max(avail - d[t], 0.0)
        inv[t] = stock
    return pd.DataFrame({"period": np.arange(1, T + 1), "demand": d, "capacity": cap, "production": prod,
                         "inventory": inv, "shortage": short})
