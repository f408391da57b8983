"""The item-level constrained supply plan: one LP (MILP with minimum lots) over every item, month, resource and
supplier, on HiGHS.

Per item i and month t: production x (loads resources through the bill of resources), receipts y from each supplier
(what can be counted on: fill rate x committed quantity, none inside the supplier's lead time), closing stock I,
shortage s (demand lost in its month, 0 <= s <= demand), safety-stock gap u (stock below the target), and per
resource overtime hours o. Minimise
    sum holding*I + shortage_cost*s + ss_gap_cost*u + overtime_cost*o
subject to I[t] = I[t-1] + x[t] + sum y[t] - (demand[t] - s[t]),  I[t] + u[t] >= safety stock,
sum_i hours[i,r] x[i,t] - o[r,t] <= regular hours[r,t],  o <= overtime limit, y <= supplier limit,
and x (and y) either 0 or at least the item's minimum lot.
The capacity rows' duals are the shadow prices: what one more regular hour of a resource in a month saves.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

_EPS = 1e-6  # cost per unit supplied: among equal plans, prefer the one that supplies less
#: Stop the minimum-lot search within 0.5% of the best possible cost: closing the last tenths of a percent took the
#: demo's 36 items from 2.7 s to 12 s, far below the noise of any demand forecast. A gap (not a time limit) keeps
#: runs deterministic.
MIP_GAP = 5e-3


@dataclass(frozen=True)
class SupplyProblem:
    """Arrays of one planning problem (n items, T months, R resources, m item-supplier pairs)."""

    demand: np.ndarray  # n x T
    opening: np.ndarray  # n
    safety_stock: np.ndarray  # n x T
    holding_cost: np.ndarray  # n, per unit and month
    shortage_cost: np.ndarray  # n, per unit short
    ss_gap_cost: np.ndarray  # n, per unit and month below safety stock
    can_make: np.ndarray  # n bool: production allowed
    min_lot: np.ndarray  # n
    hours: np.ndarray  # n x R hours per unit
    regular: np.ndarray  # R x T
    overtime: np.ndarray  # R x T limit
    overtime_cost: np.ndarray  # R x T per hour
    pair_item: np.ndarray  # m: item index of each item-supplier pair
    pair_cap: np.ndarray  # m x T most receipts that can be counted on (0 inside the lead time)
    pair_fill: np.ndarray  # m fill rate (minimum lot applies to the quantity ordered)


@dataclass(frozen=True)
class SupplySolution:
    production: np.ndarray  # n x T
    receipts: np.ndarray  # m x T
    overtime: np.ndarray  # R x T
    shadow_price: np.ndarray  # R x T, value of one more regular hour
    overtime_shadow_price: np.ndarray  # R x T, value of one more overtime hour
    status: str
    used_milp: bool


def solve(pb: SupplyProblem, time_limit: float = 60.0) -> SupplySolution:
    """Solve the constrained plan; with minimum lots, fix the lot decisions of the MILP and re-solve the LP for duals."""
    n, T = pb.demand.shape
    R, m = pb.regular.shape[0], len(pb.pair_item)
    N = n * T
    ox, oy, oi, os_, ou, oo = 0, N, N + m * T, 2 * N + m * T, 3 * N + m * T, 4 * N + m * T
    nv = oo + R * T
    item_t = np.arange(N)  # row index i*T+t
    it_i, it_t = np.divmod(item_t, T)

    c = np.zeros(nv)
    c[ox:ox + N] = _EPS
    c[oy:oy + m * T] = _EPS
    c[oi:oi + N] = np.repeat(pb.holding_cost, T)
    c[os_:os_ + N] = np.repeat(pb.shortage_cost, T)
    c[ou:ou + N] = np.repeat(pb.ss_gap_cost, T)
    c[oo:oo + R * T] = pb.overtime_cost.ravel()

    # balance: I[t] - I[t-1] - x[t] - sum y[t] - s[t] = -d[t] (+ opening at t=0)
    later = it_t > 0
    pair_rows = (pb.pair_item[:, None] * T + np.arange(T)[None, :]).ravel()
    rows = np.concatenate([item_t, item_t[later], item_t, pair_rows, item_t])
    cols = np.concatenate([oi + item_t, oi + item_t[later] - 1, ox + item_t, oy + np.arange(m * T), os_ + item_t])
    vals = np.concatenate([np.ones(N), -np.ones(later.sum()), -np.ones(N), -np.ones(m * T), -np.ones(N)])
    a_eq = sp.csr_matrix((vals, (rows, cols)), shape=(N, nv))
    b_eq = -pb.demand.ravel().astype(float)
    b_eq[it_t == 0] += pb.opening

    # safety stock: -I - u <= -ss ; capacity: sum_i h[i,r] x[i,t] - o[r,t] <= regular[r,t]
    hi, hr = np.nonzero(pb.hours)
    cap_rows = (hr[:, None] * T + np.arange(T)[None, :]).ravel()
    cap_cols = (hi[:, None] * T + np.arange(T)[None, :]).ravel()
    cap_vals = np.repeat(pb.hours[hi, hr], T)
    rows = np.concatenate([item_t, item_t, N + cap_rows, N + np.arange(R * T)])
    cols = np.concatenate([oi + item_t, ou + item_t, ox + cap_cols, oo + np.arange(R * T)])
    vals = np.concatenate([-np.ones(N), -np.ones(N), cap_vals, -np.ones(R * T)])
    a_ub = sp.csr_matrix((vals, (rows, cols)), shape=(N + R * T, nv))
    b_ub = np.concatenate([-pb.safety_stock.ravel(), pb.regular.ravel()])

    lb, ub = np.zeros(nv), np.full(nv, np.inf)
    ub[ox:ox + N] = np.where(np.repeat(pb.can_make, T), np.inf, 0.0)
    ub[oy:oy + m * T] = pb.pair_cap.ravel()
    ub[os_:os_ + N] = pb.demand.ravel()
    ub[oo:oo + R * T] = pb.overtime.ravel()

    lots = np.repeat(pb.min_lot, T)
    pair_lot = np.repeat(pb.min_lot[pb.pair_item] * pb.pair_fill, T) if m else np.zeros(0)
    lot_vars = np.concatenate([np.flatnonzero((lots > 0) & (ub[ox:ox + N] > 0)) + ox,
                               np.flatnonzero((pair_lot > 0) & (ub[oy:oy + m * T] > 0)) + oy])
    used_milp = bool(len(lot_vars))
    if used_milp:
        # semi-continuous: 0 or [lot, cap]; HiGHS needs a finite cap, and more than all demand + target is useless
        need = pb.demand.sum(axis=1) + pb.safety_stock.max(axis=1, initial=0) + pb.min_lot
        cap = np.concatenate([np.repeat(need, T), np.repeat(need[pb.pair_item], T) if m else np.zeros(0)])
        lot_lb = np.concatenate([lots, pair_lot])
        rel = lot_vars - ox  # x and y are contiguous from ox
        integrality = np.zeros(nv, dtype=int)
        integrality[lot_vars] = 2
        mlb, mub = lb.copy(), ub.copy()
        mlb[lot_vars] = lot_lb[rel]
        mub[lot_vars] = np.minimum(ub[lot_vars], cap[rel])
        infeasible_lot = mub[lot_vars] < mlb[lot_vars]  # cap below the lot: the source cannot be used at all
        mub[lot_vars[infeasible_lot]] = 0.0
        mlb[lot_vars[infeasible_lot]] = 0.0
        integrality[lot_vars[infeasible_lot]] = 0
        res = milp(c, integrality=integrality, bounds=Bounds(mlb, mub),
                   constraints=[LinearConstraint(a_eq, b_eq, b_eq), LinearConstraint(a_ub, -np.inf, b_ub)],
                   options={"time_limit": time_limit, "mip_rel_gap": MIP_GAP})
        if res.x is None:
            raise RuntimeError(f"supply plan MILP failed: {res.message}")
        on = res.x[lot_vars] > 1e-7
        lb[lot_vars[on]] = mlb[lot_vars[on]]
        ub[lot_vars[~on]] = 0.0
        ub[lot_vars[on]] = mub[lot_vars[on]]
    res = linprog(c, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=b_eq, bounds=np.column_stack([lb, ub]), method="highs")
    if res.status != 0:
        raise RuntimeError(f"supply plan LP failed: {res.message}")
    x = res.x
    shadow = -res.ineqlin.marginals[N:].reshape(R, T) if R else np.zeros((0, T))
    ot_shadow = -res.upper.marginals[oo:oo + R * T].reshape(R, T) if R else np.zeros((0, T))
    clean = lambda a: np.where(np.abs(a) < 1e-7, 0.0, a)  # noqa: E731
    return SupplySolution(clean(x[ox:ox + N].reshape(n, T)), clean(x[oy:oy + m * T].reshape(m, T)),
                          clean(x[oo:oo + R * T].reshape(R, T)), clean(shadow), clean(ot_shadow), res.message,
                          used_milp)
