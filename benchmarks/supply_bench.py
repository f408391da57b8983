"""Supply planning at scale: 500 family aggregate plans x 18 months (LP and whole numbers), and the item-level
constrained LP for 5,000 items x 18 months x 10 resources (and with lots). Prints wall time, CPU time and peak
memory (targets: < 2 s and < 10 s).

    .venv/bin/python benchmarks/supply_bench.py [--families 500] [--items 5000] [--resources 10] [--periods 18]
                                                [--lot-items 20]

Peak memory is the process's max resident set size (getrusage), which includes HiGHS's own heap. CPU time is this
process's: on a shared 2-core machine it is the steadier figure (HiGHS runs single-threaded here).
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np

from snop_xl.calc.supply import aggregate_plan, aggregate_plans
from snop_xl.calc.supply.aggregate import MIP_GAP
from snop_xl.calc.supply.constrained import SupplyProblem, solve


def families(n: int, T: int, rng: np.random.Generator) -> list[dict]:
    season = 1 + 0.3 * np.sin(np.arange(T) * 2 * np.pi / 12)
    cases = []
    for _ in range(n):
        base = rng.uniform(500, 5000)
        demand = np.round(base * season * rng.uniform(0.8, 1.2, T))
        hpu = rng.uniform(1, 5)
        cases.append(dict(demand=demand, start_inventory=float(rng.uniform(0, base)), min_end_inventory=base * 0.2,
                          start_workforce=float(np.round(base * hpu / 160)), hours_per_unit=hpu,
                          regular_hours_per_worker=160.0, max_overtime_hours_per_worker=20.0,
                          max_subcontract=base * 0.3,
                          costs=dict(material=10, holding=2, backlog=5, hire=300, layoff=500, regular_hour=4,
                                     overtime_hour=6, subcontract=30)))
    return cases


def item_problem(n: int, T: int, R: int, rng: np.random.Generator) -> SupplyProblem:
    demand = rng.gamma(2.0, 50.0, (n, T)) * (rng.random((n, 1)) < 0.95)
    hours = np.zeros((n, R))
    hours[np.arange(n), rng.integers(0, R, n)] = rng.uniform(0.05, 0.5, n)  # each item on 1-2 resources
    second = rng.random(n) < 0.5
    hours[np.flatnonzero(second), rng.integers(0, R, second.sum())] += rng.uniform(0.05, 0.2, second.sum())
    load = hours.T @ demand
    regular = load.mean(axis=1, keepdims=True) * rng.uniform(0.7, 1.0, (R, T))  # most months short
    bought = rng.random(n) < 0.2
    pair_item = np.flatnonzero(bought)
    pair_cap = np.repeat((demand[pair_item].mean(axis=1) * 0.9)[:, None], T, axis=1)
    pair_cap[:, :2] = 0.0  # lead time 2
    cost = rng.uniform(5, 50, n)
    return SupplyProblem(
        demand=demand, opening=demand[:, 0] * rng.uniform(0, 2, n), safety_stock=demand.mean(axis=1, keepdims=True)
        * np.ones((1, T)) * 0.5, holding_cost=0.25 / 12 * cost, shortage_cost=0.1 * cost * 1.6,
        ss_gap_cost=0.05 * cost * 1.6, can_make=~bought, min_lot=np.zeros(n), hours=np.where(bought[:, None], 0, hours),
        regular=regular, overtime=0.1 * regular, overtime_cost=np.full((R, T), 40.0), pair_item=pair_item,
        pair_cap=pair_cap, pair_fill=np.full(len(pair_item), 0.95))


def measure(label: str, fn) -> object:
    """Wall and CPU time of fn(), and the process's peak resident memory after it (getrusage max RSS)."""
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{label:<62} {wall:7.2f} s wall {cpu:7.2f} s CPU   peak RSS {rss:7.1f} MiB", flush=True)
    return out


def with_lots(pb: SupplyProblem, k: int, rng: np.random.Generator) -> SupplyProblem:
    """The first k items of pb with minimum lots and lot multiples of about half a month's demand."""
    sub = {f: getattr(pb, f) for f in ("demand", "opening", "safety_stock", "holding_cost", "shortage_cost",
                                       "ss_gap_cost", "can_make", "hours")}
    sub = {f: v[:k] for f, v in sub.items()}
    keep = pb.pair_item < k
    size = np.round(sub["demand"].mean(axis=1) / 2 / 10) * 10
    share = k / len(pb.opening)  # capacity scaled to the items kept: as tight as the full problem
    return SupplyProblem(**sub, min_lot=np.where(rng.random(k) < 0.5, 2 * size, 0.0),
                         lot_multiple=np.where(rng.random(k) < 0.5, size, 0.0), regular=pb.regular * share,
                         overtime=pb.overtime * share, overtime_cost=pb.overtime_cost,
                         pair_item=pb.pair_item[keep], pair_cap=pb.pair_cap[keep], pair_fill=pb.pair_fill[keep])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--families", type=int, default=500)
    ap.add_argument("--items", type=int, default=5000)
    ap.add_argument("--resources", type=int, default=10)
    ap.add_argument("--periods", type=int, default=18)
    ap.add_argument("--lot-items", type=int, default=20)
    args = ap.parse_args()
    rng = np.random.default_rng(7)
    T = args.periods

    cases = families(args.families, T, rng)
    batched = measure(f"aggregate plans, {args.families} families x {T} (one LP)",
                      lambda: aggregate_plans(cases))
    one_by_one = measure(f"aggregate plans, {args.families} families x {T} (one LP each)",
                         lambda: [aggregate_plan(c["demand"], **{k: v for k, v in c.items() if k != "demand"})
                                  for c in cases])
    gap = max(abs(a.total_cost - b.total_cost) / b.total_cost for a, b in zip(batched, one_by_one))
    print(f"  batched vs one-by-one: max relative cost difference {gap:.1e}")
    for strategy in ("level", "chase"):
        measure(f"aggregate plans, {args.families} families x {T}, {strategy}",
                lambda: aggregate_plans(cases, strategy=strategy))
    whole = measure(f"aggregate plans, whole numbers, {args.families} families x {T} (gap {MIP_GAP:.1%})",
                    lambda: aggregate_plans(cases, integer=True))
    above = np.array([w.total_cost / b.total_cost - 1 for w, b in zip(whole, batched)])
    print(f"  whole-number cost above the LP: mean {above.mean():.3%}, max {above.max():.3%}")

    pb = item_problem(args.items, T, args.resources, rng)
    sol = measure(f"item LP, {args.items} items x {T} x {args.resources} resources", lambda: solve(pb))
    binding = (sol.shadow_price > 1e-6).sum()
    print(f"  {sol.status}; {binding} of {sol.shadow_price.size} resource-months bind, "
          f"max shadow price {sol.shadow_price.max():.2f}/h")
    if args.lot_items:
        lots = with_lots(pb, min(args.lot_items, args.items), rng)
        sol = measure(f"item MILP, min lots + multiples, {len(lots.opening)} items x {T} x {args.resources} "
                      f"resources", lambda: solve(lots))
        print(f"  {sol.status}")


if __name__ == "__main__":
    main()
