"""The item-level constrained supply plan: one LP (MILP with minimum lots or lot multiples) over every item, month,
resource and supplier, on HiGHS.

Per item i and month t: production x (loads resources through the bill of resources), receipts y from each supplier
(what can be counted on: fill rate x quantity ordered, none inside the supplier's lead time), closing stock split in
a (the part up to the safety stock target, 0 <= a <= ss) and b (the part above it), shortage s (demand lost in its
month, 0 <= s <= demand) and per resource overtime hours o. Minimise

    sum supply_cost*(x + y) + holding*(a + b) - ss_gap_cost*a + shortage_cost*s + overtime_cost*o

subject to a[t] + b[t] = a[t-1] + b[t-1] + x[t] + sum y[t] - (demand[t] - s[t]) and
sum_i hours[i,r] x[i,t] - o[r,t] <= regular hours[r,t], o <= overtime limit, y <= supplier limit.
Rewarding the stock below target (-ss_gap_cost*a) is the same LP as charging ss_gap_cost per unit below target
(ss_gap_cost*(ss - a) differs by a constant) with half the rows: the "I + u >= ss" rows cost HiGHS 80% more
simplex iterations (7.3 s -> 4.9 s on the 5,000-item benchmark). The lot MILP keeps those rows (see `_build`).

"cost" objective: supply_cost = 0 and shortage_cost = the penalty of a lost sale (Settings backlog rate x price).
"margin" objective: maximise revenue of demand met - variable costs, i.e. supply_cost = unit cost and
shortage_cost = unit price (each unit short loses its price); demand whose price does not cover its cost is left
unserved.

Lots: x (and the quantity ordered, y / fill rate) is 0 or at least the item's minimum lot, and a whole multiple of
its lot multiple when it has one (a MILP: semi-continuous or (semi-)integer variables). The MILP stops within MIP_GAP
of the best possible cost; its lot decisions are then fixed and the LP re-solved for duals. The capacity rows' duals
are the shadow prices: what one more regular hour of a resource in a month saves.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

_EPS = 1e-6  # cost per unit supplied: among equal plans, prefer the one that supplies less
#: Stop the lot search within 0.5% of the best possible cost: closing the last tenths of a percent took the
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
    pair_fill: np.ndarray  # m fill rate (lots apply to the quantity ordered)
    lot_multiple: np.ndarray | None = None  # n, 0 = none: supply is a whole multiple of it
    supply_cost: np.ndarray | None = None  # n, per unit made or received ("margin" objective; None = 0)


@dataclass(frozen=True)
class SupplySolution:
    production: np.ndarray  # n x T
    receipts: np.ndarray  # m x T
    overtime: np.ndarray  # R x T
    shadow_price: np.ndarray  # R x T, value of one more regular hour
    overtime_shadow_price: np.ndarray  # R x T, value of one more overtime hour
    status: str
    used_milp: bool


@dataclass(frozen=True)
class _Model:
    c: np.ndarray
    a_eq: sp.csr_matrix
    b_eq: np.ndarray
    a_ub: sp.csr_matrix  # capacity rows last (R x T, resource-major): their duals are the shadow prices
    b_ub: np.ndarray
    lb: np.ndarray
    ub: np.ndarray


def _build(pb: SupplyProblem, split_stock: bool = True) -> _Model:
    """The LP's arrays, built vectorised (no Python loop over items). Columns: x, y, then the stock block, then o.

    split_stock=True: stock as a (up to the target) + b (above), no safety-stock rows: the faster LP.
    split_stock=False: stock I, shortage s, gap u with rows -I - u <= -ss: the same problem, which HiGHS's MILP
    solves several times faster (200 items with minimum lots: 8 s against 34 s), so the lot search uses it.
    """
    n, T = pb.demand.shape
    R, m = pb.regular.shape[0], len(pb.pair_item)
    N, M = n * T, m * T
    ox, oy, o1, o2, o3, oo = 0, N, N + M, 2 * N + M, 3 * N + M, 4 * N + M  # o1..o3: a, b, s or I, s, u
    nv = oo + R * T
    k = np.arange(N)  # item-month index i*T+t
    it_t = k % T

    supply_cost = np.zeros(n) if pb.supply_cost is None else np.asarray(pb.supply_cost, dtype=float)
    hold, gap = np.repeat(pb.holding_cost, T), np.repeat(pb.ss_gap_cost, T)
    c = np.empty(nv)
    c[ox:ox + N] = _EPS + np.repeat(supply_cost, T)
    c[oy:oy + M] = _EPS + np.repeat(supply_cost[pb.pair_item], T)
    c[o1:oo] = np.concatenate([hold - gap, hold, np.repeat(pb.shortage_cost, T)]) if split_stock else \
        np.concatenate([hold, np.repeat(pb.shortage_cost, T), gap])
    c[oo:] = pb.overtime_cost.ravel()

    # balance: stock[t] - stock[t-1] - x[t] - sum y[t] - s[t] = -d[t] (+ opening at t=0)
    prev = k[it_t > 0]
    stock = [o1, o2] if split_stock else [o1]
    short = o3 if split_stock else o2
    pair_rows = (pb.pair_item[:, None] * T + np.arange(T)[None, :]).ravel()
    rows = np.concatenate([k] * len(stock) + [prev] * len(stock) + [k, pair_rows, k])
    cols = np.concatenate([o + k for o in stock] + [o + prev - 1 for o in stock]
                          + [ox + k, oy + np.arange(M), short + k])
    vals = np.concatenate([np.ones(len(stock) * N), -np.ones(len(stock) * len(prev)), -np.ones(2 * N + M)])
    a_eq = sp.csr_matrix((vals, (rows, cols)), shape=(N, nv))
    b_eq = -pb.demand.ravel().astype(float)
    b_eq[it_t == 0] += pb.opening

    # capacity: sum_i h[i,r] x[i,t] - o[r,t] <= regular[r,t] (the last R*T rows); unsplit: -I - u <= -ss first
    hi, hr = np.nonzero(pb.hours)
    cap_rows = (hr[:, None] * T + np.arange(T)[None, :]).ravel()
    cap_cols = (hi[:, None] * T + np.arange(T)[None, :]).ravel()
    first = 0 if split_stock else N
    rows = np.concatenate([first + cap_rows, first + np.arange(R * T)])
    cols = np.concatenate([ox + cap_cols, oo + np.arange(R * T)])
    vals = np.concatenate([np.repeat(pb.hours[hi, hr], T), -np.ones(R * T)])
    b_ub = pb.regular.ravel().astype(float)
    if not split_stock:
        rows, cols = np.concatenate([k, k, rows]), np.concatenate([o1 + k, o3 + k, cols])
        vals = np.concatenate([-np.ones(2 * N), vals])
        b_ub = np.concatenate([-pb.safety_stock.ravel(), b_ub])
    a_ub = sp.csr_matrix((vals, (rows, cols)), shape=(first + R * T, nv))

    lb, ub = np.zeros(nv), np.full(nv, np.inf)
    ub[ox:ox + N] = np.where(np.repeat(pb.can_make, T), np.inf, 0.0)
    ub[oy:oy + M] = pb.pair_cap.ravel()
    if split_stock:
        ub[o1:o1 + N] = np.maximum(pb.safety_stock.ravel(), 0.0)
    ub[short:short + N] = pb.demand.ravel()
    ub[oo:] = pb.overtime.ravel()
    return _Model(c, a_eq, b_eq, a_ub, b_ub, lb, ub)


def _lots(pb: SupplyProblem, model: _Model) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The supply variables that need a MILP and how: (index, unit, integrality, lower, upper) where the MILP's
    variable is the quantity divided by `unit` (the lot multiple in receipts, else 1), integrality follows SciPy's
    milp (1 integer, 2 semi-continuous, 3 semi-integer) and lower/upper are in that variable's units."""
    n, T = pb.demand.shape
    m, N = len(pb.pair_item), n * T
    multiple = np.zeros(n) if pb.lot_multiple is None else np.nan_to_num(np.asarray(pb.lot_multiple, dtype=float))
    fill = np.asarray(pb.pair_fill, dtype=float)
    # per supply variable (x then y): lot and multiple in units counted in the balance (receipts for y)
    lot = np.concatenate([np.repeat(pb.min_lot, T), np.repeat(pb.min_lot[pb.pair_item] * fill, T)])
    mult = np.concatenate([np.repeat(multiple, T), np.repeat(multiple[pb.pair_item] * fill, T)])
    # a finite cap (HiGHS needs one on semi-continuous variables): more than all demand + target + a lot is useless
    need = pb.demand.sum(axis=1) + pb.safety_stock.max(axis=1, initial=0) + np.maximum(pb.min_lot, multiple)
    cap = np.minimum(model.ub[:N + m * T], np.concatenate([np.repeat(need, T), np.repeat(need[pb.pair_item], T)]))
    idx = np.flatnonzero(((lot > 0) | (mult > 0)) & (cap > 0))
    lot, mult, cap = lot[idx], mult[idx], cap[idx]
    whole = mult > 0
    unit = np.where(whole, mult, 1.0)
    lower = np.where(whole, np.ceil(lot / unit - 1e-9), lot)
    upper = np.where(whole, np.floor(cap / unit + 1e-9), cap)
    integrality = np.where(whole, np.where(lower > 0, 3, 1), 2)
    unusable = upper < lower  # the cap is below one lot: the source cannot be used at all
    lower[unusable] = upper[unusable] = 0.0
    integrality[unusable] = 0
    return idx, unit, integrality, lower, upper


def solve(pb: SupplyProblem, time_limit: float = 60.0, mip_gap: float = MIP_GAP) -> SupplySolution:
    """Solve the constrained plan; with lots, fix the MILP's lot decisions and re-solve the LP for duals.

    `time_limit` is only a safety net for the MILP: the relative gap `mip_gap` decides when it stops.
    """
    n, T = pb.demand.shape
    R, m = pb.regular.shape[0], len(pb.pair_item)
    N, M = n * T, m * T
    oo = 4 * N + M
    model = _build(pb)
    lb, ub = model.lb.copy(), model.ub.copy()
    idx, unit, integrality, lower, upper = _lots(pb, model)
    used_milp = bool(len(idx))
    lot_status = ""
    if used_milp:
        lp = model
        model = _build(pb, split_stock=False)  # x and y keep their columns: the lot decisions carry over to lp
        scale = np.ones(len(model.c))
        scale[idx] = unit  # MILP variable = quantity / unit
        dscale = sp.diags(scale)
        mlb, mub = model.lb / scale, model.ub / scale
        mlb[idx], mub[idx] = lower, upper
        kinds = np.zeros(len(model.c), dtype=int)
        kinds[idx] = integrality
        res = milp(model.c * scale, integrality=kinds, bounds=Bounds(mlb, mub),
                   constraints=[LinearConstraint(model.a_eq @ dscale, model.b_eq, model.b_eq),
                                LinearConstraint(model.a_ub @ dscale, -np.inf, model.b_ub)],
                   options={"time_limit": time_limit, "mip_rel_gap": mip_gap})
        if res.x is None:
            raise RuntimeError(f"supply plan MILP failed: {res.message}")
        lot_status = f"lots: {res.message}, gap {res.mip_gap:.2%}; "  # a time limit shows here: gap above mip_gap
        qty = res.x[idx] * unit
        on = res.x[idx] > 1e-7
        whole = integrality >= 1
        # semi-continuous: keep the on/off decision, the quantity stays free above the lot; whole multiples: fixed
        lb[idx[on]] = np.where(whole[on], qty[on], lower[on])
        ub[idx[on]] = np.where(whole[on], qty[on], upper[on])
        lb[idx[~on]] = ub[idx[~on]] = 0.0
        model = lp
    res = linprog(model.c, A_ub=model.a_ub, b_ub=model.b_ub, A_eq=model.a_eq, b_eq=model.b_eq,
                  bounds=np.column_stack([lb, ub]), method="highs-ds")
    if res.status != 0:
        raise RuntimeError(f"supply plan LP failed: {res.message}")
    x = res.x
    if used_milp:  # exact multiples in the output (the LP holds them to its tolerance)
        fixed = idx[(integrality >= 1) & (x[idx] > 1e-7)]
        per = unit[np.searchsorted(idx, fixed)]
        x[fixed] = np.round(x[fixed] / per) * per
    shadow = -res.ineqlin.marginals.reshape(R, T) if R else np.zeros((0, T))
    ot_shadow = -res.upper.marginals[oo:oo + R * T].reshape(R, T) if R else np.zeros((0, T))
    clean = lambda a: np.where(np.abs(a) < 1e-7, 0.0, a)  # noqa: E731
    return SupplySolution(clean(x[:N].reshape(n, T)), clean(x[N:N + M].reshape(m, T)),
                          clean(x[oo:oo + R * T].reshape(R, T)), clean(shadow), clean(ot_shadow),
                          lot_status + res.message, used_milp)
