"""Solving once: a scenario that leaves demand as it is reuses the base plan's family aggregate plans (the same numbers as
re-running the whole supply step for it); above its item budget the lot plan is the rounded LP plan."""

from __future__ import annotations

import pandas as pd

from snop_xl.steps import scenarios
from tests.test_scenarios import base_run, tight  # noqa: F401 (fixtures)


def test_scenario_with_base_demand_reuses_the_aggregate_plans_and_gets_the_same_numbers(tight, base_run):  # noqa: F811
    demand = base_run["DemandPlan"]
    base = {k: base_run[k] for k in ("AggregatePlan", "AggregateCosts")}
    for name in ("Neutral", "Outage", "Boom"):
        rows = tight.scenarios[tight.scenarios["scenario"] == name]
        fresh = scenarios.run_scenario(tight, demand, rows)
        reused = scenarios.run_scenario(tight, demand, rows, base)
        assert fresh["summary"] == reused["summary"]
        for k, frame in fresh["outputs"].items():
            pd.testing.assert_frame_equal(frame, reused["outputs"][k])
        if name != "Boom":  # demand unchanged: the base's very frames
            assert all(reused["outputs"][k] is base[k] for k in base)


def test_no_lot_search_above_the_item_budget_keeps_the_rounded_plan_and_says_its_gap(monkeypatch):
    """Above MILP_MAX_ITEMS items the plan is the rounded LP plan (the same on every machine) with its proven gap."""
    import numpy as np

    from snop_xl.calc.supply import constrained

    rng = np.random.default_rng(3)
    n, T = 12, 6
    demand = rng.gamma(2.0, 20.0, (n, T))
    pb = constrained.SupplyProblem(
        demand=demand, opening=np.zeros(n), safety_stock=np.zeros((n, T)), holding_cost=np.full(n, 0.5),
        shortage_cost=np.full(n, 10.0), ss_gap_cost=np.full(n, 1.0), can_make=np.ones(n, dtype=bool),
        min_lot=np.full(n, 70.0), hours=np.full((n, 1), 1.0), regular=np.full((1, T), 300.0),
        overtime=np.full((1, T), 50.0), overtime_cost=np.full((1, T), 2.0), pair_item=np.zeros(0, dtype=int),
        pair_cap=np.zeros((0, T)), pair_fill=np.zeros(0))
    searched = constrained.solve(pb, mip_gap=0.0)  # a gap of 0 sends it to the lot search
    assert searched.used_milp
    monkeypatch.setattr(constrained, "MILP_MAX_ITEMS", n - 1)
    kept = constrained.solve(pb, mip_gap=0.0)
    assert not kept.used_milp and f"proven within {kept.gap:.2%}" in kept.status and "no lot search" in kept.status
    assert kept.gap >= searched.gap - 1e-9  # the search can only do better
    again = constrained.solve(pb, mip_gap=0.0)
    np.testing.assert_array_equal(kept.production, again.production)
