"""The item-level constrained supply plan: one LP (MILP with minimum lots or lot multiples) over every item, month,
resource and supplier, on HiGHS; a large plan in independent blocks of items that share no resource (`solve`).

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
its lot multiple when it has one (a MILP: semi-continuous or (semi-)integer variables). The LP relaxation (with the
lots' caps) is solved first and its plan rounded to lots (`_round_lots`); when the rounded plan is proven within
MIP_GAP of the relaxation's cost it is kept, otherwise HiGHS's MILP searches (stopping at MIP_GAP or NODE_LIMIT nodes)
and the cheaper of the two plans is kept, with its gap to the best bound known in the status. The lot decisions are
then fixed and the LP re-solved for duals (with lot multiples, quantities are freed around the lots that run, see
`_dual_bounds`). The capacity rows' duals are the shadow prices: what one more regular hour of a resource in a month
saves.
"""

from __future__ import annotations

import ctypes
import os
import sys
from dataclasses import dataclass

import numpy as np
import highspy
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse.csgraph import connected_components

_EPS = 1e-6  # cost per unit supplied: among equal plans, prefer the one that supplies less
#: Stop the lot search within 0.5% of the best possible cost: closing the last tenths of a percent took the
#: demo's 36 items from 2.7 s to 12 s, far below the noise of any demand forecast. A gap (not a time limit) keeps
#: runs deterministic.
MIP_GAP = 5e-3
#: When the gap is not proven, the lot MILP stops after this many branch-and-bound nodes: a count of work, so the
#: plan kept is the same on every machine and under any load. Before, only the 60 s time limit stopped it, and the
#: machine's speed decided the plan (50 items with lot multiples: 41 nodes in 30 s, 50 in 60 s on 2 busy cores).
#: Those extra nodes bought nothing (gap 1.91% after 10, 1.89% after 50); 10 take ~28 s there, mostly the root.
#: The time limit stays as the safety net for problems where even these nodes take longer (200 items with
#: multiples: 2 nodes in 180 s); the status then says the plan depends on the machine.
NODE_LIMIT = 10
TIME_LIMIT = 60.0
#: The MILP's work budget in problem size: above this many items the lot search is not started and the rounded LP
#: plan is kept with its proven gap (said in the status). Why: HiGHS's root node alone outgrew the 60 s safety net
#: from about 500 items with lots on a tenth of them (2 busy cores), so there the machine's speed decided the plan
#: and each supply run (the base and every scenario) spent a minute on it. A count, so the plan is the same on every
#: machine; the demo (36 items) stays below it.
MILP_MAX_ITEMS = 100


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
    used_milp: bool  # the MILP decided the lots (the rounded LP plan was not proven within the gap)
    gap: float = 0.0  # proven relative gap of the lot decisions to the best possible plan (0 without lots)


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


def _whole(integrality: np.ndarray) -> np.ndarray:
    """Which lot variables are whole multiples (SciPy's integrality 1 integer, 3 semi-integer); 2 (semi-continuous:
    a minimum lot, any quantity above it) is not: treating it as whole rounded min-lot supply to whole units and
    fixed it there, so the re-solved plan drifted off its safety stock by fractions of a unit."""
    return np.isin(integrality, (1, 3))


def _round_lots(pb: SupplyProblem, x: np.ndarray, idx: np.ndarray, unit: np.ndarray,
                integrality: np.ndarray, lower: np.ndarray, upper: np.ndarray, up: bool) -> np.ndarray:
    """Lot quantities (per `idx`) next to the LP plan x: each source's cumulative supply follows the LP's, rounded
    to whole lots (`up`: to the next lot, else to the nearest), so stock stays close to the LP's; a month whose lots
    would load a resource beyond what the LP left them (regular + overtime - the other items' load) gives back the
    lots furthest ahead of the LP, one multiple at a time, until it fits.

    Why this is always feasible: less supply only means more shortage (0 <= s <= demand absorbs any deficit) and
    more supply only more stock, so the balance never binds; capacity and supplier caps are kept here.
    """
    n, T = pb.demand.shape
    R, N = pb.regular.shape[0], n * T
    src, t_of = idx // T, idx % T  # a source: one item's production or one item-supplier pair, T columns each
    sources, row = np.unique(src, return_inverse=True)
    S = len(sources)
    whole = np.zeros(S, dtype=bool)
    u, lot = np.ones(S), np.zeros(S)
    whole[row], u[row] = _whole(integrality), unit
    lot[row] = np.where(_whole(integrality), lower * unit, lower)  # smallest lot in quantity (0 = none)
    cap = np.zeros((S, T))  # largest allowed quantity (0 where the source is unusable or absent)
    cap[row, t_of] = np.where(integrality > 0, upper * unit, 0.0)
    lp = np.zeros((S, T))
    lp[row, t_of] = x[idx]
    made = sources < n  # production sources load resources
    h = np.zeros((S, R))
    h[made] = pb.hours[sources[made]]
    # room for the lots: regular + overtime limit minus what the LP's other production loads
    others = x[:N].reshape(n, T).copy()
    others[sources[made]] = 0.0
    room = pb.regular + pb.overtime - pb.hours.T @ others
    out = np.zeros((S, T))
    ahead = np.zeros(S)  # cumulative rounded supply minus the LP's
    tol = 1e-7
    for t in range(T):
        need = lp[:, t] - ahead
        k = np.where(whole, need / u, need)
        k = np.where(whole, np.ceil(k - tol) if up else np.round(k), k)
        q = np.where(whole, k * u, k)
        small = (q > tol) & (q < lot - tol)  # below the minimum lot: a whole lot when more than half is needed
        q[small] = np.where(up | (need[small] >= lot[small] / 2), lot[small], 0.0)
        q = np.maximum(q, 0.0)
        # supplier caps / finite bounds: the largest feasible lot below the cap
        capq = np.where(whole, np.floor(cap[:, t] / u + 1e-9) * u, cap[:, t])
        q = np.where(q > capq + tol, np.where(capq >= lot - tol, capq, 0.0), q)
        load = h.T @ q
        while R and (over := load - room[:, t]).max(initial=0.0) > 1e-7 * (1.0 + np.abs(room[:, t]).max()):
            r = int(np.argmax(over))
            cand = np.flatnonzero((h[:, r] > 0) & (q > tol))
            if not len(cand):
                break
            s = cand[np.argmax(ahead[cand] + q[cand] - lp[cand, t])]  # the lot furthest ahead of the LP
            # one multiple less; without multiples just what the resource is over (the LP re-solve sets the rest)
            smaller = q[s] - u[s] if whole[s] else max(q[s] - over[r] / h[s, r], lot[s])
            if smaller >= q[s] - tol:
                smaller = 0.0
            new = smaller if smaller >= lot[s] - tol and smaller > tol else 0.0
            load -= h[s] * (q[s] - new)
            q[s] = new
        out[:, t] = q
        ahead += q - lp[:, t]
    return out[row, t_of]


def _fix_lots(lb: np.ndarray, ub: np.ndarray, idx: np.ndarray, qty: np.ndarray, integrality: np.ndarray,
              unit: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """LP bounds with the lot decisions fixed: whole multiples at their quantity, minimum lots on (free between the
    lot and the cap) or off."""
    lb, ub = lb.copy(), ub.copy()
    on = qty > 1e-7
    whole = _whole(integrality)
    lb[idx[on]] = np.where(whole[on], qty[on], lower[on])
    ub[idx[on]] = np.where(whole[on], qty[on], upper[on])
    lb[idx[~on]] = ub[idx[~on]] = 0.0
    return lb, ub


def _dual_bounds(lb: np.ndarray, ub: np.ndarray, idx: np.ndarray, qty: np.ndarray, integrality: np.ndarray,
                 unit: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """LP bounds for the shadow prices of a plan with lot multiples: the lots that run keep running (at least their
    minimum lot) and those that do not stay off, but quantities are continuous. Why: with every multiple fixed at
    its quantity (`_fix_lots`) no production can move, so no capacity row has a dual and a resource that binds
    shows no value; here one more hour is worth what the plan would gain by making a little more of what it makes.
    Sources without a minimum lot may also start."""
    whole = _whole(integrality)
    low = np.where(whole, lower * unit, lower)
    high = np.where(integrality > 0, np.where(whole, upper * unit, upper), 0.0)
    on = qty > 1e-7
    lb, ub = lb.copy(), ub.copy()
    lb[idx] = np.where(on, low, 0.0)
    ub[idx] = np.where(on | (low <= 0), high, 0.0)
    return lb, ub


def _quiet_highs() -> highspy.Highs:
    """A HiGHS instance that prints nothing. HiGHS prints its banner on stdout when the first instance of a process
    is made, before any option can be set: stdout is pointed at the null device around that moment (and C's buffer
    flushed there), so the CLI's and a pipeline's output stays snop-xl's own."""
    if sys.stdout is not None:
        sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no stdout at all (Excel's embedded Python): nothing to keep clean
        saved = None
    try:
        if saved is not None:
            with open(os.devnull, "wb") as null:
                os.dup2(null.fileno(), 1)
        highs = highspy.Highs()
        highs.setOptionValue("output_flag", False)
        if saved is not None and os.name == "posix":
            ctypes.CDLL(None).fflush(None)
    finally:
        if saved is not None:
            os.dup2(saved, 1)
            os.close(saved)
    return highs


@dataclass(frozen=True)
class _LPResult:
    x: np.ndarray
    fun: float
    row_duals: np.ndarray  # of the A_ub rows (<= 0 where a row binds: what one more unit of its limit saves)
    upper_duals: np.ndarray  # of each column's upper bound where the column sits at it, else 0
    message: str


class _LP:
    """One plan's LP in one HiGHS instance (dual simplex, as SciPy's "highs-ds"), re-solved as its column bounds
    change. Why not `linprog`: it starts every solve from nothing, while fixing lots or freeing them for the duals
    only moves bounds, so HiGHS's dual simplex goes on from the last optimal basis (the second and third LPs of a
    plan with lots in a fraction of the first's time)."""

    def __init__(self, model: _Model):
        a = sp.vstack([model.a_ub, model.a_eq]).tocsc()
        self.rows_ub = model.a_ub.shape[0]
        self.highs = _quiet_highs()
        for option, value in (("solver", "simplex"), ("simplex_strategy", 1), ("presolve", "on"), ("random_seed", 0)):
            self.highs.setOptionValue(option, value)
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = a.shape[1], a.shape[0]
        lp.col_cost_ = np.asarray(model.c, dtype=float)
        lp.col_lower_, lp.col_upper_ = np.asarray(model.lb, dtype=float), np.asarray(model.ub, dtype=float)
        lp.row_lower_ = np.concatenate([np.full(self.rows_ub, -np.inf), model.b_eq])
        lp.row_upper_ = np.concatenate([model.b_ub, model.b_eq])
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = a.shape[1], a.shape[0]
        lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = a.indptr, a.indices, a.data
        self.highs.passModel(lp)
        self.lb, self.ub = lp.col_lower_.copy(), lp.col_upper_.copy()

    def solve(self, lb: np.ndarray, ub: np.ndarray) -> _LPResult:
        changed = np.flatnonzero((lb != self.lb) | (ub != self.ub))
        if len(changed):
            self.highs.changeColsBounds(len(changed), changed.astype(np.int32), lb[changed].astype(float),
                                        ub[changed].astype(float))
            self.lb, self.ub = lb.astype(float), ub.astype(float)
        self.highs.run()
        status = self.highs.getModelStatus()
        if status != highspy.HighsModelStatus.kOptimal:
            raise RuntimeError(f"supply plan LP failed: {self.highs.modelStatusToString(status)}")
        solution, basis = self.highs.getSolution(), self.highs.getBasis()
        at_upper = np.array([s == highspy.HighsBasisStatus.kUpper for s in basis.col_status], dtype=bool)
        col_duals = np.asarray(solution.col_dual)
        return _LPResult(np.asarray(solution.col_value), self.highs.getInfo().objective_function_value,
                         np.asarray(solution.row_dual)[:self.rows_ub], np.where(at_upper, col_duals, 0.0),
                         f"Optimization terminated successfully. (HiGHS Status {int(status)}: "
                         f"{self.highs.modelStatusToString(status)})")


def solve(pb: SupplyProblem, time_limit: float = TIME_LIMIT, mip_gap: float = MIP_GAP) -> SupplySolution:
    """Solve the constrained plan (`_solve_whole`), in independent blocks of items where it is large (`_blocks`):
    items that share no resource share no row of the LP, so its optimum is the sum of the blocks' optima, and
    HiGHS's simplex time grows faster than the LP (10,008 items: one LP 8.9 s for the three solves).
    The proven gap of the lot decisions is the whole plan's: the blocks' cost above their bounds over their cost."""
    blocks = _blocks(pb)
    if len(blocks) == 1:
        return _solve_whole(pb, time_limit, mip_gap)[0]
    n, T = pb.demand.shape
    R, m = pb.regular.shape[0], len(pb.pair_item)
    production, receipts = np.zeros((n, T)), np.zeros((m, T))
    overtime, shadow, ot_shadow = np.zeros((R, T)), np.zeros((R, T)), np.zeros((R, T))
    cost = bound = 0.0
    statuses, milp_blocks = [], 0
    for items, resources in blocks:
        pairs = np.flatnonzero(np.isin(pb.pair_item, items))
        sol, c, b = _solve_whole(_sub_problem(pb, items, resources, pairs), time_limit, mip_gap)
        production[items], receipts[pairs] = sol.production, sol.receipts
        overtime[resources], shadow[resources], ot_shadow[resources] = \
            sol.overtime, sol.shadow_price, sol.overtime_shadow_price
        cost, bound = cost + c, bound + b
        statuses.append(sol.status)
        milp_blocks += sol.used_milp
    gap = max(cost - bound, 0.0) / max(abs(cost), 1e-12) if cost != bound else 0.0
    no_search = f" (no lot search above {MILP_MAX_ITEMS} items)" if any("no lot search" in s for s in statuses) else ""
    how = ("" if not any(s.startswith("lots:") for s in statuses) else
           f"lots: MILP in {milp_blocks} of the blocks, gap {gap:.2%}; " if milp_blocks else
           f"lots: rounded LP plan, proven within {gap:.2%} of the best possible{no_search}; ")
    message = statuses[0][statuses[0].find("Optimization"):] if "Optimization" in statuses[0] else statuses[0]
    return SupplySolution(production, receipts, overtime, shadow, ot_shadow,
                          f"{how}{len(blocks)} independent blocks of items; {message}", milp_blocks > 0, gap)


#: Items per LP when a plan is split (`_blocks`): groups of items that share resources are packed, in item order,
#: into blocks of at least this many items (a group larger than that is one block). Below it the plan is one LP, so
#: small books (the demo's 36 items) solve exactly as before. 500: 10,008 items in 20 blocks (`cycle_bench.py`: the
#: supply step 14.1 -> 8.2 s, the three scenarios' plans 28.4 -> 16.7 s; one LP's three solves took 8.9 s).
BLOCK_ITEMS = 500


def _blocks(pb: SupplyProblem) -> list[tuple[np.ndarray, np.ndarray]]:
    """(items, resources) of each block of the plan: the connected groups of items and the resources they load
    (an item without resources is a group of its own), packed in order of their first item into blocks of at least
    BLOCK_ITEMS items; resources no item loads go with the first block. One block when the plan is small."""
    n, R = pb.hours.shape
    if n <= BLOCK_ITEMS:
        return [(np.arange(n), np.arange(R))]
    loads = sp.csr_matrix(pb.hours > 0)
    graph = sp.bmat([[None, loads], [loads.T, None]], format="csr")  # items, then resources
    _, label = connected_components(graph, directed=False)
    item_group, resource_group = label[:n], label[n:]
    order = np.unique(item_group, return_index=True)[1]  # the groups by their first item
    sizes = np.bincount(item_group)
    blocks: list[list[int]] = [[]]
    count = 0
    for g in item_group[np.sort(order)]:
        if count >= BLOCK_ITEMS:
            blocks.append([])
            count = 0
        blocks[-1].append(g)
        count += sizes[g]
    if len(blocks) > 1 and count < BLOCK_ITEMS // 2:  # a short last block joins the one before
        blocks[-2] += blocks.pop()
    idle = ~np.isin(resource_group, item_group)
    out = []
    for k, groups in enumerate(blocks):
        resources = np.isin(resource_group, groups) | (idle if k == 0 else False)
        out.append((np.flatnonzero(np.isin(item_group, groups)), np.flatnonzero(resources)))
    return out


def _sub_problem(pb: SupplyProblem, items: np.ndarray, resources: np.ndarray, pairs: np.ndarray) -> SupplyProblem:
    """The plan of `items` (sorted), the `resources` they load and their item-supplier `pairs` alone."""
    return SupplyProblem(
        demand=pb.demand[items], opening=pb.opening[items], safety_stock=pb.safety_stock[items],
        holding_cost=pb.holding_cost[items], shortage_cost=pb.shortage_cost[items],
        ss_gap_cost=pb.ss_gap_cost[items], can_make=pb.can_make[items], min_lot=pb.min_lot[items],
        hours=pb.hours[np.ix_(items, resources)], regular=pb.regular[resources], overtime=pb.overtime[resources],
        overtime_cost=pb.overtime_cost[resources], pair_item=np.searchsorted(items, pb.pair_item[pairs]),
        pair_cap=pb.pair_cap[pairs], pair_fill=pb.pair_fill[pairs],
        lot_multiple=None if pb.lot_multiple is None else pb.lot_multiple[items],
        supply_cost=None if pb.supply_cost is None else pb.supply_cost[items])


def _solve_whole(pb: SupplyProblem, time_limit: float = TIME_LIMIT,
                 mip_gap: float = MIP_GAP) -> tuple[SupplySolution, float, float]:
    """Solve the constrained plan in one LP; with lots, decide them, fix them and re-solve the LP for duals. Also
    the plan's cost and the best bound proven on it (equal without lots), for `solve` to add up over blocks.

    Lots are first decided by rounding the LP plan (`_round_lots`, up and to the nearest; the cheaper is kept): the
    LP's cost bounds every lot plan from below, so a rounded plan within `mip_gap` of it is proven within the gap of
    the best lot plan and kept. Why: HiGHS's MILP needed more than 60 s to prove 0.5% with lot multiples on 50 items
    (the time limit, i.e. the machine's speed, decided the plan); the rounding takes three LPs. Otherwise the MILP
    decides the lots, stopping at `mip_gap` or after NODE_LIMIT nodes; `time_limit` is only its safety net (when it
    decides, the status says so: that plan depends on the machine's speed). Above MILP_MAX_ITEMS items the MILP is
    not started: the rounded plan is kept and the status gives its proven gap.
    """
    n, T = pb.demand.shape
    R, m = pb.regular.shape[0], len(pb.pair_item)
    N, M = n * T, m * T
    oo = 4 * N + M
    model = _build(pb)
    idx, unit, integrality, lower, upper = _lots(pb, model)
    ub = model.ub.copy()
    # the lot plans' caps (whole multiples below a supplier's limit; 0 where the cap is below one lot): a tighter
    # relaxation, still below every lot plan
    ub[idx] = np.minimum(ub[idx], np.where(integrality > 0, upper * unit, 0.0))
    used_milp, gap = False, 0.0
    lot_status = ""
    lp = _LP(model)
    res = lp.solve(model.lb, ub)  # the relaxation: its cost bounds every lot plan from below
    # the split model's cost is the MILP's (unsplit) cost minus this constant: gaps are measured on the latter
    offset = float(np.repeat(pb.ss_gap_cost, T) @ np.maximum(pb.safety_stock.ravel(), 0.0))
    bound = res.fun + offset  # the best cost proven possible: the relaxation's, or the MILP's bound above it
    if len(idx):
        best = None
        for up in (False, True):
            qty = _round_lots(pb, res.x, idx, unit, integrality, lower, upper, up)
            fixed = lp.solve(*_fix_lots(model.lb, ub, idx, qty, integrality, unit, lower, upper))
            if best is None or fixed.fun < best[1].fun:
                best = (qty, fixed)
        qty, fixed = best
        cost = fixed.fun + offset
        gap = max(cost - bound, 0.0) / max(abs(cost), 1e-12)
        if gap <= mip_gap:
            lot_status = f"lots: rounded LP plan, proven within {gap:.2%} of the best possible; "
            res = fixed
        elif n > MILP_MAX_ITEMS:
            lot_status = (f"lots: rounded LP plan, proven within {gap:.2%} of the best possible (no lot search above "
                          f"{MILP_MAX_ITEMS} items); ")
            res = fixed
        else:
            used_milp = True
            found = _milp_lots(pb, idx, unit, integrality, lower, upper, time_limit, mip_gap)
            message = "no plan" if found is None else found[2]
            bound = max(bound, -np.inf if found is None else found[1])  # HiGHS's bound is at least the LP's
            res = fixed
            if found is not None:
                solved = lp.solve(*_fix_lots(model.lb, ub, idx, found[0], integrality, unit, lower, upper))
                if solved.fun < fixed.fun:
                    qty, res = found[0], solved
            # the kept plan's gap to the best bound known; a time limit shows here as a gap above mip_gap
            gap = max(res.fun + offset - bound, 0.0) / max(abs(res.fun + offset), 1e-12)
            lot_status = f"lots: MILP {message}, gap {gap:.2%}; "
    x = res.x
    duals = res
    if len(idx):  # exact multiples in the output (the LP holds them to its tolerance)
        fixed_idx = idx[_whole(integrality) & (x[idx] > 1e-7)]
        per = unit[np.searchsorted(idx, fixed_idx)]
        x[fixed_idx] = np.round(x[fixed_idx] / per) * per
        if R and _whole(integrality).any():  # whole multiples fixed: no capacity row would have a value
            duals = lp.solve(*_dual_bounds(model.lb, ub, idx, x[idx], integrality, unit, lower, upper))
    shadow = -duals.row_duals.reshape(R, T) if R else np.zeros((0, T))
    ot_shadow = -duals.upper_duals[oo:oo + R * T].reshape(R, T) if R else np.zeros((0, T))
    if duals is not res:  # another LP's duals: no value where the plan itself leaves hours idle
        over = pb.hours.T @ x[:N].reshape(n, T) - pb.regular  # regular hours the plan needs beyond those it has
        shadow[over < -1e-6 * np.maximum(pb.regular, 1.0)] = 0.0
        ot_shadow[x[oo:oo + R * T].reshape(R, T) < pb.overtime - 1e-6 * np.maximum(pb.overtime, 1.0)] = 0.0
    clean = lambda a: np.where(np.abs(a) < 1e-7, 0.0, a)  # noqa: E731
    cost = res.fun + offset
    return (SupplySolution(clean(x[:N].reshape(n, T)), clean(x[N:N + M].reshape(m, T)),
                           clean(x[oo:oo + R * T].reshape(R, T)), clean(shadow), clean(ot_shadow),
                           lot_status + res.message, used_milp, gap), cost, min(bound, cost))


def _milp_lots(pb: SupplyProblem, idx: np.ndarray, unit: np.ndarray, integrality: np.ndarray, lower: np.ndarray,
               upper: np.ndarray, time_limit: float, mip_gap: float) -> tuple[np.ndarray, float, str] | None:
    """The lot quantities (per `idx`) from HiGHS's MILP, its proven lower bound on the cost (the split model's cost
    plus the constant of `solve`) and message; None when it found no plan.

    The MILP uses the unsplit stock model (x and y keep their columns), which HiGHS's MILP solves several times
    faster."""
    model = _build(pb, split_stock=False)
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
               options={"time_limit": time_limit, "mip_rel_gap": mip_gap, "node_limit": NODE_LIMIT})
    if res.x is None:
        return None
    message = res.message
    if res.status != 0 and getattr(res, "mip_node_count", 0) >= NODE_LIMIT:  # SciPy has no words for this stop
        message = f"stopped at its {NODE_LIMIT}-node limit"
    elif res.status == 1:
        message = f"stopped at the {time_limit:.0f} s time limit (this plan depends on the machine's speed)"
    return res.x[idx] * unit, float(res.mip_dual_bound), message
