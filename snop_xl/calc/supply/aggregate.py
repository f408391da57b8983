"""The classic aggregate production plan of one product family, solved on HiGHS.

Decision per period t: workforce W, hires H, layoffs L, regular-time units R, overtime units V, subcontracted units
S, end inventory I and end backlog B. Constraints:

    W[t] = W[t-1] + H[t] - L[t]                          workforce balance
    hours_per_unit * R[t] <= regular_hours_per_worker * W[t]
    hours_per_unit * V[t] <= max_overtime_hours_per_worker * W[t]
    I[t] - B[t] = I[t-1] - B[t-1] + R[t] + V[t] + S[t] - demand[t]
    S[t] <= max_subcontract,  I[T] >= min_end_inventory,  B[T] = 0 unless allow_end_backlog

Cost = material * (R + V) + regular_hour * regular_hours_per_worker * W (workers are paid for their regular hours,
used or not) + overtime_hour * hours_per_unit * V + subcontract * S + hire * H + layoff * L + holding * I
+ backlog * B. Strategies "level" and "chase" are the same model with extra restrictions, so the optimal plan can
never cost more than either of them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

STRATEGIES = ("optimal", "level", "chase")
COST_KEYS = ("material", "holding", "backlog", "hire", "layoff", "regular_hour", "overtime_hour", "subcontract")
#: Variable blocks, in order; each holds one value per period.
BLOCKS = ("W", "H", "L", "R", "V", "S", "I", "B")
_TOL = 1e-6
#: integer=True on a large problem (see EXACT_MAX_FAMILY_MONTHS) stops once the plan's cost is proven within 0.5% of
#: the best possible (HiGHS's relative gap): proving the last fraction of a percent on whole workers took 20 s for 5
#: families and is far below the noise of the demand. A gap, not a time limit, decides, so the same inputs always
#: give the same plan. Small problems get the proven optimum instead (gap 0, below).
MIP_GAP = 5e-3
#: Whole-number plans of small problems are searched for the proven optimum (mip_rel_gap 0) first, within this many
#: HiGHS branch-and-bound nodes per family: a count of work, not seconds, so the plan is the same on every machine
#: and under any load. Why: at 0.5% the textbook 6-month problem (Red Tomato) came back 0.18% above its optimum,
#: which HiGHS proves in a handful of nodes. Measured (HiGHS 1.12, 2 busy cores): the demo's two 18-month families
#: prove it in 211 and 318 nodes (about 2.5 s CPU each, nearly all of it at the root); random 12-month families
#: in a median of about 110, 18-month ones in about 300. A family not proven within the limit keeps the cheaper of
#: the search's best plan and the tolerance plan, and its status gives the gap to the best bound known.
EXACT_NODE_LIMIT = 500
#: The problem is small, and searched for the proven optimum, when one call plans at most this many family-months
#: (families x periods: 4 families of 18 months, 6 of 12) and the family at most EXACT_MAX_PERIODS periods; larger
#: problems get MIP_GAP. Counts of the problem's size, so the route a plan takes never depends on the machine. Why:
#: HiGHS's root node alone costs 0.3-0.5 s CPU for 6 months, 1.4-1.8 s for 12, 2-4 s for 18 and 6 s for 36
#: (rarely proven within the node limit), 20 s for 72; 500 families of 18 months (benchmarks/supply_bench.py) must
#: stay within seconds, and each supply run (the base and every scenario) plans all three strategies.
EXACT_MAX_FAMILY_MONTHS = 72
EXACT_MAX_PERIODS = 24
#: Status of a whole-number plan proven optimal.
PROVEN = "optimal (gap 0)"
#: Families per HiGHS call when many are planned at once (see `_solve_blocks`).
BLOCK = 50


class AggregatePlanError(ValueError):
    """Parameters that cannot make a plan (the message says which and why)."""


@dataclass(frozen=True)
class AggregatePlan:
    """A solved aggregate plan: cost, per-period decisions and cost by component."""

    strategy: str
    total_cost: float
    plan: pd.DataFrame  # one row per period, columns PLAN_COLUMNS
    costs: dict[str, float] = field(default_factory=dict)  # component -> cost over the horizon
    integer: bool = False
    #: how good the plan is proven to be: "optimal" (continuous), PROVEN (whole numbers, proven optimum) or
    #: "whole numbers within x% of the best possible (...)" with the reason the optimum was not proven
    status: str = "optimal"
    gap: float = 0.0  # proven relative gap to the best possible plan (0: optimal)


PLAN_COLUMNS = ("period", "demand", "workforce", "hired", "laid_off", "regular_production", "overtime_hours",
                "overtime_production", "subcontract", "production", "inventory", "backlog")


@dataclass(frozen=True)
class _Model:
    c: np.ndarray
    a_eq: sp.csr_matrix
    b_eq: np.ndarray
    a_ub: sp.csr_matrix
    b_ub: np.ndarray
    lb: np.ndarray
    ub: np.ndarray
    integrality: np.ndarray


def _per_period(value: Any, T: int, name: str) -> np.ndarray:
    out = np.broadcast_to(np.asarray(np.inf if value is None else value, dtype=float), (T,)).astype(float)
    if np.any(np.isnan(out)) or np.any(out < 0):
        raise AggregatePlanError(f"{name} must be >= 0 (or None for no limit)")
    return out


def _chase_inventory(d: np.ndarray, start_inventory: float, start_backlog: float, min_end: float) -> np.ndarray:
    """End inventory when production follows demand: use up the opening stock, build only the end minimum."""
    inv = np.empty(len(d))
    stock = start_inventory - start_backlog
    for t in range(len(d)):
        stock = max(stock - d[t], 0.0)
        inv[t] = stock
    inv[-1] = max(inv[-1], min_end)
    return inv


def _build(d: np.ndarray, p: dict[str, Any], strategy: str, integer: bool) -> _Model:
    T = len(d)
    n = len(BLOCKS) * T
    at = {b: k * T for k, b in enumerate(BLOCKS)}
    hpu, rh, ot = p["hours_per_unit"], p["regular_hours_per_worker"], p["max_overtime_hours_per_worker"]
    costs = p["costs"]
    t = np.arange(T)

    c = np.zeros(n)
    c[at["W"]:at["W"] + T] = costs["regular_hour"] * rh
    c[at["H"]:at["H"] + T] = costs["hire"]
    c[at["L"]:at["L"] + T] = costs["layoff"]
    c[at["R"]:at["R"] + T] = costs["material"]
    c[at["V"]:at["V"] + T] = costs["material"] + costs["overtime_hour"] * hpu
    c[at["S"]:at["S"] + T] = costs["subcontract"]
    c[at["I"]:at["I"] + T] = costs["holding"]
    c[at["B"]:at["B"] + T] = costs["backlog"]

    rows, cols, vals = [], [], []

    def add(r: np.ndarray, block: str, offset: int, v: float, mask: np.ndarray | None = None) -> None:
        tt = t if mask is None else t[mask]
        rr = r if mask is None else r[mask]
        rows.append(rr)
        cols.append(at[block] + tt + offset)
        vals.append(np.full(len(tt), v))

    # workforce balance rows 0..T-1, inventory balance rows T..2T-1
    wr, ir = t, T + t
    later = t > 0
    add(wr, "W", 0, 1.0)
    add(wr, "W", -1, -1.0, later)
    add(wr, "H", 0, -1.0)
    add(wr, "L", 0, 1.0)
    add(ir, "I", 0, 1.0)
    add(ir, "B", 0, -1.0)
    add(ir, "I", -1, -1.0, later)
    add(ir, "B", -1, 1.0, later)
    for b in ("R", "V", "S"):
        add(ir, b, 0, -1.0)
    b_eq = np.concatenate([np.zeros(T), -d])
    b_eq[0] = p["start_workforce"]
    b_eq[T] += p["start_inventory"] - p["start_backlog"]
    n_eq = 2 * T
    if strategy == "level":  # R[t] + V[t] = R[0] + V[0]
        lr = n_eq + np.arange(T - 1)
        m = t[1:]
        for block, sign in (("R", 1.0), ("V", 1.0)):
            rows += [lr, lr]
            cols += [at[block] + m, np.full(T - 1, at[block])]
            vals += [np.full(T - 1, sign), np.full(T - 1, -sign)]
        b_eq = np.concatenate([b_eq, np.zeros(T - 1)])
        n_eq += T - 1
    a_eq = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n_eq, n))

    # hours: hpu*R - rh*W <= 0 ; hpu*V - ot*W <= 0
    ur = np.concatenate([t, T + t, t, T + t])
    uc = np.concatenate([at["R"] + t, at["V"] + t, at["W"] + t, at["W"] + t])
    uv = np.concatenate([np.full(T, hpu), np.full(T, hpu), np.full(T, -rh), np.full(T, -ot)])
    a_ub = sp.csr_matrix((uv, (ur, uc)), shape=(2 * T, n))
    b_ub = np.zeros(2 * T)

    lb, ub = np.zeros(n), np.full(n, np.inf)
    ub[at["S"]:at["S"] + T] = p["max_subcontract"]
    lb[at["I"] + T - 1] = p["min_end_inventory"]
    if not p["allow_end_backlog"]:
        ub[at["B"] + T - 1] = 0.0
    if strategy == "level":  # one workforce for the horizon, set in the first period; no subcontracting
        ub[at["H"] + 1:at["H"] + T] = 0.0
        ub[at["L"] + 1:at["L"] + T] = 0.0
        ub[at["S"]:at["S"] + T] = 0.0
    elif strategy == "chase":  # make what demand needs each period with regular time only; no stock build
        inv = _chase_inventory(d, p["start_inventory"], p["start_backlog"], p["min_end_inventory"])
        need = np.diff(np.concatenate([[p["start_inventory"] - p["start_backlog"]], inv])) + d
        workers = np.maximum(need, 0.0) * hpu / rh
        if integer:  # whole units: a month may have to make up to ceil(need), so the workers must cover that
            workers = np.ceil(np.ceil(np.maximum(need, 0.0) - 1e-9) * hpu / rh - 1e-9)
        lb[at["W"]:at["W"] + T] = ub[at["W"]:at["W"] + T] = workers
        ub[at["V"]:at["V"] + T] = 0.0
        ub[at["S"]:at["S"] + T] = 0.0
        ub[at["B"]:at["B"] + T] = 0.0
        ub[at["I"]:at["I"] + T] = inv + (1.0 - 1e-9 if integer else 0.0)
        lb[at["I"] + T - 1] = min(p["min_end_inventory"], ub[at["I"] + T - 1])
    integrality = np.zeros(n, dtype=int)
    if integer:
        for b in ("W", "H", "L", "R", "V", "S"):
            integrality[at[b]:at[b] + T] = 1
    return _Model(c, a_eq, b_eq, a_ub, b_ub, lb, ub, integrality)


def _check(demand: Any, start_inventory: float, min_end_inventory: float, start_workforce: float,
           hours_per_unit: float, regular_hours_per_worker: float, max_overtime_hours_per_worker: float,
           costs: Mapping[str, float], start_backlog: float, allow_end_backlog: bool, max_subcontract: Any,
           strategy: str) -> tuple[np.ndarray, dict[str, Any]]:
    d = np.asarray(demand, dtype=float).ravel()
    if len(d) == 0 or np.any(~np.isfinite(d)) or np.any(d < 0):
        raise AggregatePlanError("demand must be one or more finite quantities >= 0")
    if strategy not in STRATEGIES:
        raise AggregatePlanError(f"strategy must be one of {', '.join(STRATEGIES)}, not {strategy!r}")
    missing = [k for k in COST_KEYS if k not in costs]
    if missing:
        raise AggregatePlanError(f"costs lacks {', '.join(missing)} (needs {', '.join(COST_KEYS)})")
    cost = {k: float(costs[k]) for k in COST_KEYS}
    if any(not np.isfinite(v) or v < 0 for v in cost.values()):
        raise AggregatePlanError("costs must be finite and >= 0")
    if not hours_per_unit > 0 or not regular_hours_per_worker > 0:
        raise AggregatePlanError("hours_per_unit and regular_hours_per_worker must be > 0")
    scalars = dict(start_inventory=start_inventory, min_end_inventory=min_end_inventory,
                   start_workforce=start_workforce, max_overtime_hours_per_worker=max_overtime_hours_per_worker,
                   start_backlog=start_backlog)
    bad = [k for k, v in scalars.items() if not (np.isfinite(float(v)) and float(v) >= 0)]
    if bad:
        raise AggregatePlanError(f"{', '.join(bad)} must be finite and >= 0")
    p = {k: float(v) for k, v in scalars.items()}
    p.update(hours_per_unit=float(hours_per_unit), regular_hours_per_worker=float(regular_hours_per_worker),
             costs=cost, allow_end_backlog=bool(allow_end_backlog),
             max_subcontract=_per_period(max_subcontract, len(d), "max_subcontract"))
    return d, p


def _solve(model: _Model, time_limit: float | None = None, mip_gap: float = MIP_GAP,
           with_bound: bool = False) -> Any:
    """The model's solution x (with_bound: (x, a lower bound on the best cost))."""
    if not model.integrality.any():  # HiGHS's LP path: far faster than its MIP path on a continuous model
        res = linprog(model.c, A_ub=model.a_ub, b_ub=model.b_ub, A_eq=model.a_eq, b_eq=model.b_eq,
                      bounds=np.column_stack([model.lb, model.ub]), method="highs",
                      options={"time_limit": time_limit} if time_limit else None)
        if res.status != 0:
            raise AggregatePlanError(f"no feasible aggregate plan: {res.message}")
        return (res.x, float(res.fun)) if with_bound else res.x
    constraints = [LinearConstraint(model.a_eq, model.b_eq, model.b_eq),
                   LinearConstraint(model.a_ub, -np.inf, model.b_ub)]
    options: dict[str, Any] = {"mip_rel_gap": float(mip_gap)}
    if time_limit:
        options["time_limit"] = time_limit
    res = milp(model.c, integrality=model.integrality, bounds=Bounds(model.lb, model.ub), constraints=constraints,
               options=options)
    if res.x is None:
        raise AggregatePlanError(f"no feasible aggregate plan: {res.message}")
    if not with_bound:
        return res.x
    return res.x, float(res.mip_dual_bound) if res.mip_dual_bound is not None else -np.inf


def _result(x: np.ndarray, d: np.ndarray, p: dict[str, Any], strategy: str, integer: bool,
            index: Any, status: tuple[str, float] = ("optimal", 0.0)) -> AggregatePlan:
    T = len(d)
    v = {b: x[k * T:(k + 1) * T].copy() for k, b in enumerate(BLOCKS)}
    for b in BLOCKS:  # solver noise
        v[b][np.abs(v[b]) < _TOL] = 0.0
        if integer and b in ("W", "H", "L", "R", "V", "S"):
            v[b] = np.round(v[b])
    hpu, rh, c = p["hours_per_unit"], p["regular_hours_per_worker"], p["costs"]
    # Stock and backlog as solved: both can be positive in one month only when the end minimum forces stock that
    # is cheaper to hold than to ship against the backlog (allow_end_backlog).
    inv, back = v["I"], v["B"]
    plan = pd.DataFrame({
        "period": index, "demand": d, "workforce": v["W"], "hired": v["H"], "laid_off": v["L"],
        "regular_production": v["R"], "overtime_hours": v["V"] * hpu, "overtime_production": v["V"],
        "subcontract": v["S"], "production": v["R"] + v["V"], "inventory": inv, "backlog": back})
    costs = {
        "material": c["material"] * float(plan["production"].sum()),
        "regular_time": c["regular_hour"] * rh * float(v["W"].sum()),
        "overtime": c["overtime_hour"] * float(plan["overtime_hours"].sum()),
        "subcontract": c["subcontract"] * float(v["S"].sum()),
        "hire": c["hire"] * float(v["H"].sum()),
        "layoff": c["layoff"] * float(v["L"].sum()),
        "holding": c["holding"] * float(inv.sum()),
        "backlog": c["backlog"] * float(back.sum()),
    }
    return AggregatePlan(strategy, float(sum(costs.values())), plan, costs, integer, *status)


def aggregate_plan(demand: Sequence[float] | np.ndarray | pd.Series, *, start_inventory: float,
                   min_end_inventory: float, start_workforce: float, hours_per_unit: float,
                   regular_hours_per_worker: float, max_overtime_hours_per_worker: float,
                   costs: Mapping[str, float], start_backlog: float = 0, allow_end_backlog: bool = False,
                   max_subcontract: float | Sequence[float] | None = None, integer: bool = False,
                   strategy: str = "optimal", time_limit: float | None = None,
                   mip_gap: float = MIP_GAP) -> AggregatePlan:
    """The least-cost aggregate plan of one family under `strategy` ("optimal", "level" or "chase").

    optimal: the LP (or MILP with integer=True: whole workers, hires, layoffs and units) over all levers.
    level: one workforce for the whole horizon (hired or laid off in period 1) and the same in-house production every
    period, no subcontracting; inventory and backlog absorb demand swings. chase: in-house regular-time production
    follows demand (net of opening stock, plus the end minimum), the workforce is exactly what that production needs,
    no overtime, subcontracting, backlog or stock build. Both are the optimal model with extra restrictions.
    `demand` may be a Series: its index becomes the plan's `period` column (else 1..T).
    integer=True: the proven optimum (status PROVEN) when HiGHS proves it within EXACT_NODE_LIMIT nodes (horizons of
    up to EXACT_MAX_PERIODS periods); otherwise a plan proven within `mip_gap` (relative, default 0.5%) of the best
    whole-number plan, with its gap in `status`. mip_gap=0 asks for the proven optimum whatever the size and work.
    `time_limit` is a safety net only (wall time would make the plan depend on the machine).
    """
    d, p = _check(demand, start_inventory, min_end_inventory, start_workforce, hours_per_unit,
                  regular_hours_per_worker, max_overtime_hours_per_worker, costs, start_backlog, allow_end_backlog,
                  max_subcontract, strategy)
    index = list(demand.index) if isinstance(demand, pd.Series) else list(range(1, len(d) + 1))
    model = _build(d, p, strategy, integer)
    [(x, status)] = _solve_many([(d, p, model)], strategy, integer, mip_gap, time_limit)
    return _result(x, d, p, strategy, integer, index, status)


def _stack(models: Sequence[_Model]) -> _Model:
    """Independent models as one block-diagonal model."""
    if len(models) == 1:
        return models[0]
    return _Model(np.concatenate([m.c for m in models]), sp.block_diag([m.a_eq for m in models], format="csr"),
                  np.concatenate([m.b_eq for m in models]), sp.block_diag([m.a_ub for m in models], format="csr"),
                  np.concatenate([m.b_ub for m in models]), np.concatenate([m.lb for m in models]),
                  np.concatenate([m.ub for m in models]), np.concatenate([m.integrality for m in models]))


def _split(x: np.ndarray, models: Sequence[_Model]) -> list[np.ndarray]:
    return np.split(x, np.cumsum([len(m.c) for m in models])[:-1])


def _solve_blocks(models: Sequence[_Model], time_limit: float | None = None, mip_gap: float = MIP_GAP,
                  with_gap: bool = False) -> list[Any]:
    """Solutions of independent models, BLOCK of them per HiGHS call: the simplex's cost per iteration grows with
    the model, so 500 families as 10 LPs of 50 solve in 0.50 s against 0.85 s as one LP (and 2 s one by one).
    with_gap: (x, the proven relative gap of its block's total cost, the block's size) per model."""
    out: list[Any] = []
    for at in range(0, len(models), BLOCK):
        group = models[at:at + BLOCK]
        stacked = _stack(group)
        x, bound = _solve(stacked, time_limit, mip_gap, with_bound=True)
        gap = _gap(float(stacked.c @ x), bound)
        out += [(part, gap, len(group)) for part in _split(x, group)] if with_gap else _split(x, group)
    return out


def _rounded(x: np.ndarray, d: np.ndarray, p: dict[str, Any]) -> np.ndarray | None:
    """A whole-number "optimal" plan next to the LP plan x, or None where rounding cannot keep it feasible.

    Workers round up (more capacity, never less; `_solve_many` passes a whole workforce already); cumulative supply
    rounds up (stock and backlog never worse than the LP's, so the end minimum and the no-end-backlog rule still
    hold); a month whose whole capacity is below its
    rounded supply builds the excess a month earlier. Each month's supply then fills the cheapest lever first
    (regular time costs material only: workers are paid anyway; overtime adds its hourly cost; subcontracting
    costs its unit price).
    """
    T = len(d)
    v = {b: x[k * T:(k + 1) * T] for k, b in enumerate(BLOCKS)}
    w0 = p["start_workforce"]
    if abs(w0 - round(w0)) > 1e-9:
        return None
    hpu, rh, ot, c = p["hours_per_unit"], p["regular_hours_per_worker"], p["max_overtime_hours_per_worker"], p["costs"]
    W = np.maximum(np.ceil(v["W"] - 1e-6), 0.0)
    step = np.diff(np.concatenate([[round(w0)], W]))
    caps = np.vstack([np.floor(rh * W / hpu + 1e-9), np.floor(ot * W / hpu + 1e-9),
                      np.floor(p["max_subcontract"] + 1e-9)])  # R, V, S
    cum = np.ceil(np.cumsum(v["R"] + v["V"] + v["S"]) - 1e-6)
    supply = np.diff(np.concatenate([[0.0], cum]))
    room = caps.sum(axis=0)
    for t in range(T - 1, 0, -1):
        excess = max(supply[t] - room[t], 0.0)
        supply[t] -= excess
        supply[t - 1] += excess
    if supply[0] > room[0] + 1e-9:
        return None
    qty = np.zeros((3, T))
    rest = supply.copy()
    for lever in np.argsort([c["material"], c["material"] + c["overtime_hour"] * hpu, c["subcontract"]],
                            kind="stable"):
        qty[lever] = np.minimum(rest, caps[lever])
        rest = rest - qty[lever]
    net = p["start_inventory"] - p["start_backlog"] + np.cumsum(qty.sum(axis=0) - d)
    inv, back = np.maximum(net, 0.0), np.maximum(-net, 0.0)
    if inv[-1] < p["min_end_inventory"] - 1e-9 or (not p["allow_end_backlog"] and back[-1] > 1e-9):
        return None
    return np.concatenate([W, np.maximum(step, 0.0), np.maximum(-step, 0.0), qty[0], qty[1], qty[2], inv, back])


def _fixed_workforce(m: _Model, x: np.ndarray, d: np.ndarray, p: dict[str, Any], how: Any) -> _Model:
    """The family's LP with its workforce fixed at whole numbers (`how` rounds the LP's workforce)."""
    T = len(d)
    W = np.maximum(how(x[:T]), 0.0)
    step = np.diff(np.concatenate([[round(p["start_workforce"])], W]))
    lb, ub = m.lb.copy(), m.ub.copy()
    lb[:3 * T] = ub[:3 * T] = np.concatenate([W, np.maximum(step, 0.0), np.maximum(-step, 0.0)])
    return _Model(m.c, m.a_eq, m.b_eq, m.a_ub, m.b_ub, lb, ub, np.zeros_like(m.integrality))


def _solve_lps(models: Sequence[_Model], time_limit: float | None = None) -> list[np.ndarray | None]:
    """LP solutions of independent models, one block LP; where that fails, one by one (None: infeasible)."""
    try:
        return _solve_blocks(models, time_limit)
    except AggregatePlanError:
        out: list[np.ndarray | None] = []
        for m in models:
            try:
                out.append(_solve(m, time_limit))
            except AggregatePlanError:
                out.append(None)
        return out


def _gap(cost: float, bound: float) -> float:
    """Relative gap of a plan's cost to a lower bound on the best cost (inf: no bound known); 0 within HiGHS's own
    absolute tolerance (mip_abs_gap 1e-6), where it reports a proven optimum."""
    if cost - bound <= 1e-6:
        return 0.0
    return (cost - bound) / max(abs(cost), 1e-12) if np.isfinite(bound) else np.inf


def _exact(case: tuple[np.ndarray, dict[str, Any], _Model], node_limit: int | None,
           time_limit: float | None) -> tuple[np.ndarray | None, float, bool]:
    """HiGHS's MILP at gap 0 within `node_limit` nodes: (its best plan or None, its lower bound, proven optimal).

    The bound is the dual bound HiGHS proved when it stopped, so it bounds every whole-number plan of the model.
    Hires and layoffs are left continuous when the starting workforce is whole: with whole workers the cheapest
    hires and layoffs are whole anyway (max(+-change, 0), set here), and a third fewer integer columns mean less
    root work for HiGHS (its reduced-cost fixing grows with the integer columns and their ranges). Measured on 24
    random families of 6, 12 and 18 months: 48 s CPU -> 34 s; the demo's two families: 4.3 s -> 5.2 s (their
    branch-and-bound takes another path: 232 nodes -> 529). Same optimum either way.
    """
    d, p, m = case
    T = len(d)
    integrality = m.integrality.copy()
    w0 = p["start_workforce"]
    whole_start = abs(w0 - round(w0)) <= 1e-9
    if whole_start:
        integrality[T:3 * T] = 0
    options: dict[str, Any] = {"mip_rel_gap": 0.0}
    if node_limit is not None:
        options["node_limit"] = int(node_limit)
    if time_limit:
        options["time_limit"] = time_limit
    res = milp(m.c, integrality=integrality, bounds=Bounds(m.lb, m.ub), options=options,
               constraints=[LinearConstraint(m.a_eq, m.b_eq, m.b_eq), LinearConstraint(m.a_ub, -np.inf, m.b_ub)])
    if res.status == 2:  # infeasible: no whole-number plan at all
        raise AggregatePlanError(f"no feasible aggregate plan: {res.message}")
    bound = float(res.mip_dual_bound) if res.mip_dual_bound is not None else -np.inf
    x = res.x
    if x is not None and whole_start:
        x = x.copy()
        step = np.diff(np.concatenate([[round(w0)], np.round(x[:T])]))
        x[T:2 * T], x[2 * T:3 * T] = np.maximum(step, 0.0), np.maximum(-step, 0.0)
    return x, bound, res.status == 0 and x is not None


def _tolerance_status(gap: float, mip_gap: float, why: str, shared: int = 1) -> tuple[str, float]:
    """(status, gap) of a plan from the tolerance route; a gap of 0 is a proven optimum all the same."""
    if gap == 0.0:
        return PROVEN, 0.0
    said = "an unknown gap" if not np.isfinite(gap) else f"{gap:.2%}"
    whose = "whole numbers" if shared == 1 else f"whole numbers, planned with {shared - 1} other families: their total"
    return f"{whose} within {said} of the best possible (tolerance {mip_gap:.1%}; {why})", gap


def _solve_many(cases: Sequence[tuple[np.ndarray, dict[str, Any], _Model]], strategy: str, integer: bool,
                mip_gap: float, time_limit: float | None = None) -> list[tuple[np.ndarray, tuple[str, float]]]:
    """Solutions of independent family models, each with its (status, proven gap).

    Whole numbers: when the problem is small (at most EXACT_MAX_FAMILY_MONTHS family-months in all), each family of
    at most EXACT_MAX_PERIODS periods is first searched for its proven optimum (gap 0) within EXACT_NODE_LIMIT
    nodes; mip_gap=0 searches every family without a limit. The other families get a plan within mip_gap
    (`_within_gap`), or the exact search's best plan where that is cheaper, with the gap in the status.
    """
    models = [m for *_, m in cases]
    if not integer:
        return [(x, ("optimal", 0.0)) for x in _solve_blocks(models, time_limit)]
    size = sum(len(d) for d, _, _ in cases)
    out: list[Any] = [None] * len(cases)
    why: dict[int, str] = {}
    searched: dict[int, tuple[np.ndarray | None, float]] = {}
    for k, (d, _, _) in enumerate(cases):
        if mip_gap > 0 and size > EXACT_MAX_FAMILY_MONTHS:
            why[k] = f"{size} family-months is above the {EXACT_MAX_FAMILY_MONTHS} searched for the exact optimum"
        elif mip_gap > 0 and len(d) > EXACT_MAX_PERIODS:
            why[k] = f"{len(d)} periods is above the {EXACT_MAX_PERIODS} searched for the exact optimum"
        else:
            limit = None if mip_gap <= 0 else EXACT_NODE_LIMIT
            x, bound, proven = _exact(cases[k], limit, time_limit)
            if proven:
                out[k] = (x, (PROVEN, 0.0))
                continue
            searched[k] = (x, bound)
            why[k] = (f"gap 0 not proven within {EXACT_NODE_LIMIT} nodes" if limit is not None else
                      f"stopped at the {time_limit} s time limit: this plan depends on the machine's speed")
    todo = [k for k in range(len(cases)) if out[k] is None]
    tolerance = mip_gap if mip_gap > 0 else MIP_GAP  # gap 0 asked: only a time limit leaves a family unproven
    for k, (x, gap, shared) in zip(todo, _within_gap([cases[k] for k in todo], strategy, tolerance, time_limit)):
        c = models[k].c
        x0, bound = searched.get(k, (None, -np.inf))
        if shared == 1 and np.isfinite(gap):  # the tolerance plan's own bound
            bound = max(bound, float(c @ x) * (1.0 - gap))
        if x0 is not None and c @ x0 < c @ x - 1e-9:
            x = x0
        if np.isfinite(bound):  # a bound for this family alone
            gap, shared = _gap(float(c @ x), bound), 1
        out[k] = (x, _tolerance_status(gap, tolerance, why[k], shared))
    return out


def _level_x(d: np.ndarray, p: dict[str, Any], workers: int, rate: int) -> np.ndarray:
    """The level plan with `workers` all horizon long making `rate` units every month: regular time first, the rest
    in overtime; stock and backlog follow (the last month holds at least the end minimum)."""
    T = len(d)
    regular = min(rate, np.floor(p["regular_hours_per_worker"] * workers / p["hours_per_unit"] + 1e-9))
    net = p["start_inventory"] - p["start_backlog"] + np.cumsum(rate - d)
    inv, back = np.maximum(net, 0.0), np.maximum(-net, 0.0)
    inv[-1] = max(net[-1], p["min_end_inventory"])
    back[-1] = inv[-1] - net[-1]
    change = np.zeros((2, T))
    step = workers - round(p["start_workforce"])
    change[:, 0] = max(step, 0), max(-step, 0)
    return np.concatenate([np.full(T, float(workers)), change[0], change[1], np.full(T, regular),
                           np.full(T, rate - regular), np.zeros(T), inv, back])


def _feasible(m: _Model, x: np.ndarray) -> bool:
    """Whether x meets every bound and row of the model (to a tolerance relative to each row's size)."""
    eq, ub = m.a_eq @ x, m.a_ub @ x
    return bool(np.all(x >= m.lb - 1e-6) and np.all(x <= m.ub + 1e-6)
                and np.all(np.abs(eq - m.b_eq) <= 1e-7 * (1.0 + np.abs(m.b_eq)))
                and np.all(ub <= m.b_ub + 1e-7 * (1.0 + np.abs(m.b_ub))))


def _level_rounded(m: _Model, x: np.ndarray, d: np.ndarray, p: dict[str, Any]) -> np.ndarray | None:
    """The cheapest whole-number level plan whose workforce lies within one worker of the LP plan x's, or None.

    A level plan is two whole numbers: its workforce and its monthly rate. For a given workforce the cost is convex
    in the rate (material and overtime grow with it, stock and backlog are convex in it), so the cheapest whole rate
    is the first whose successor costs no less: a binary search over the rates the workforce can make and the end
    minimum needs. Measured on the 2,000-item benchmark's 28 families: 25 s in HiGHS's MILP (one per 50 families,
    their total within 0.5%) -> milliseconds, each family within 0.5% of its own LP bound."""
    T, hpu = len(d), p["hours_per_unit"]
    opening = p["start_inventory"] - p["start_backlog"]
    best, best_cost = None, np.inf
    for workers in range(max(int(np.floor(x[0])) - 1, 0), int(np.ceil(x[0] - 1e-9)) + 2):
        top = int(np.floor(p["regular_hours_per_worker"] * workers / hpu + 1e-9)
                  + np.floor(p["max_overtime_hours_per_worker"] * workers / hpu + 1e-9))
        low = 0 if p["allow_end_backlog"] else max(
            int(np.ceil((p["min_end_inventory"] + d.sum() - opening) / T - 1e-9)), 0)
        if low > top:
            continue

        def cost(rate: int, workers: int = workers) -> float:
            return float(m.c @ _level_x(d, p, workers, rate))

        while low < top:
            mid = (low + top) // 2
            if cost(mid + 1) >= cost(mid) - 1e-9 * (1.0 + abs(cost(mid))):
                top = mid
            else:
                low = mid + 1
        candidate = _level_x(d, p, workers, low)
        if _feasible(m, candidate) and m.c @ candidate < best_cost:
            best, best_cost = candidate, float(m.c @ candidate)
    return best


def _optimal_rounded(cases: Sequence[tuple[np.ndarray, dict[str, Any], _Model]], relaxed: Sequence[_Model],
                     xs: Sequence[np.ndarray | None], time_limit: float | None) -> list[np.ndarray | None]:
    """Whole-number "optimal" plans next to the LP plans xs: the workforce rounded to the nearest and up, the LP
    re-solved with it (all families in block LPs), and its supply rounded (`_rounded`); the cheaper of the two."""
    best: list[np.ndarray | None] = [None] * len(cases)
    for how in (np.round, lambda w: np.ceil(w - 1e-6)):
        fixed = [_fixed_workforce(m, x, d, p, how) for (d, p, _), m, x in zip(cases, relaxed, xs) if x is not None]
        solved = iter(_solve_lps(fixed, time_limit))
        for k, ((d, p, m), x) in enumerate(zip(cases, xs)):
            if x is None:
                continue
            x2 = next(solved)
            r = None if x2 is None else _rounded(x2, d, p)
            if r is not None and (best[k] is None or m.c @ r < m.c @ best[k]):
                best[k] = r
    return best


def _within_gap(cases: Sequence[tuple[np.ndarray, dict[str, Any], _Model]], strategy: str, mip_gap: float,
                time_limit: float | None = None) -> list[tuple[np.ndarray, float, int]]:
    """Whole-number plans within mip_gap of the best: (x, proven gap, how many families that gap is for).

    "optimal" and "level" plans first try a rounding of the LP of every family at once (`_optimal_rounded`,
    `_level_rounded`). A rounded plan whose cost is within mip_gap of the family's LP cost is proven within the gap
    of the best whole-number plan (the LP cost is a lower bound on it) and kept. Only the other families go to the
    MILP, one at a time so each keeps its own gap guarantee. Why: HiGHS's MILP took 1.5-3 s per 18-month family at
    its root node, nearly all of it searching for an integer plan that the rounding finds with a few more LPs.
    Chase plans (their workforce is fixed by demand) and fractional starting workforces are one MILP per BLOCK
    families: each family gets its block's gap.
    """
    if not cases:
        return []
    models = [m for *_, m in cases]
    if strategy == "chase" or any(abs(p["start_workforce"] - round(p["start_workforce"])) > 1e-9
                                  for _, p, _ in cases):
        return _solve_blocks(models, time_limit, mip_gap, with_gap=True)
    relaxed = [_Model(m.c, m.a_eq, m.b_eq, m.a_ub, m.b_ub, m.lb, m.ub, np.zeros_like(m.integrality)) for m in models]
    xs = _solve_lps(relaxed, time_limit)
    if strategy == "level":
        best = [None if x is None else _level_rounded(m, x, d, p) for (d, p, m), x in zip(cases, xs)]
    else:
        best = _optimal_rounded(cases, relaxed, xs, time_limit)

    def within(c: np.ndarray, r: np.ndarray | None, bound: float) -> bool:
        return r is not None and float(c @ r) - bound <= mip_gap * abs(float(c @ r)) + 1e-9

    out = []
    for (d, p, m), x, r in zip(cases, xs, best):
        if x is not None and within(m.c, r, float(m.c @ x)):
            out.append((r, _gap(float(m.c @ r), float(m.c @ x)), 1))
            continue
        bound = -np.inf
        if strategy == "optimal":
            # small workforces: a worker is a large share, so the LP bound is too weak. Whole workers only (units
            # continuous) is a quick MILP whose bound also bounds the whole-number plan; round its units.
            integrality = np.zeros_like(m.integrality)
            integrality[:3 * len(d)] = 1
            try:
                x1, bound = _solve(_Model(m.c, m.a_eq, m.b_eq, m.a_ub, m.b_ub, m.lb, m.ub, integrality), time_limit,
                                   mip_gap / 2, with_bound=True)
                r1 = _rounded(_solve(_fixed_workforce(m, x1, d, p, np.round), time_limit), d, p)
            except AggregatePlanError:
                r1, bound = None, -np.inf
            if r is None or (r1 is not None and m.c @ r1 < m.c @ r):
                r = r1
            if within(m.c, r, bound):
                out.append((r, _gap(float(m.c @ r), bound), 1))
                continue
        x3, bound3 = _solve(m, time_limit, mip_gap, with_bound=True)
        if r is not None and m.c @ r < m.c @ x3:
            x3 = r
        out.append((x3, _gap(float(m.c @ x3), max(bound, bound3)), 1))
    return out


def aggregate_plans(cases: Sequence[Mapping[str, Any]], strategy: str = "optimal",
                    integer: bool = False, mip_gap: float = MIP_GAP) -> list[AggregatePlan]:
    """Many families at once: block-diagonal LPs of BLOCK families on HiGHS instead of one solve per family (far
    faster). Each case holds aggregate_plan's keyword arguments plus `demand`. The result is the same as solving one
    by one, except that with integer=True the problem's size is all the cases together: up to
    EXACT_MAX_FAMILY_MONTHS family-months each family is searched for its proven optimum, above it each gets the
    mip_gap tolerance (level and chase: for each block's total cost), its gap in `status`.
    """
    if not cases:
        return []
    parsed = []
    for case in cases:
        kw = dict(case)
        demand = kw.pop("demand")
        kw.setdefault("start_backlog", 0)
        kw.setdefault("allow_end_backlog", False)
        kw.setdefault("max_subcontract", None)
        d, p = _check(demand, strategy=strategy, **kw)
        index = list(demand.index) if isinstance(demand, pd.Series) else list(range(1, len(d) + 1))
        parsed.append((d, p, index, _build(d, p, strategy, integer)))
    xs = _solve_many([(d, p, m) for d, p, _, m in parsed], strategy, integer, mip_gap)
    return [_result(x, d, p, strategy, integer, index, status) for (d, p, index, _), (x, status) in zip(parsed, xs)]
