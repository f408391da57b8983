"""Scenarios: factors applied to copies of the inputs, steps re-run, the base never touched."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from snop_xl import contract as C
from snop_xl.steps import scenarios
from snop_xl.cycle import STEPS, compute
from snop_xl.inputs import scenario_problems, load_inputs
from snop_xl.io import open_book
from snop_xl.calc.supply import aggregate_plan
from tests.conftest import make_book, small_frames

P = lambda s: pd.Period(s, "M")  # noqa: E731


def scen(*rows: dict) -> pd.DataFrame:
    base = {"scope": "", "start": None, "end": None, **{f: 1.0 for f in scenarios.FACTORS}, "note": ""}
    return pd.DataFrame([{**base, **r} for r in rows])


@pytest.fixture
def tight(tmp_path):
    """The small book with capacity just enough for the demand (30 units a month at 1 h each)."""
    frames = small_frames()
    frames["Capacity"]["available_hours"] = 32.0
    frames["AggregateParams"] = pd.DataFrame([{
        "family": "F", "start_workforce": 2.0, "hours_per_unit": 1.0, "regular_hours_per_worker": 16.0,
        "max_overtime_hours_per_worker": 4.0, "hire_cost": 50.0, "layoff_cost": 80.0, "regular_hour_cost": 1.0,
        "overtime_hour_cost": 1.5, "subcontract_cost": None, "max_subcontract": None, "min_end_inventory": 0.0,
        "strategy": "optimal", "integer": False}])
    frames["Scenarios"] = scen({"scenario": "Neutral"},
                               {"scenario": "Outage", "scope": "Line", "start": P("2027-02"), "end": P("2027-03"),
                                "capacity_factor": 0.0},
                               {"scenario": "Boom", "demand_factor": 1.2, "price_factor": 1.1, "scope": "F"})
    return load_inputs(open_book(make_book(tmp_path / "s.xlsx", frames)))


def test_apply_scenario_on_copies(tight) -> None:
    before = pickle.dumps(tight)
    demand = pd.DataFrame({"level": ["Item", "Item", "Family"], "family": ["F", "F", "F"], "item": ["A", "B", None],
                           "period": [P("2027-02")] * 3, "statistical": [10.0, 20.0, 30.0],
                           "consensus": [10.0, 20.0, 30.0]})
    rows = tight.scenarios[tight.scenarios.scenario == "Outage"]
    s_inputs, s_demand, _ = scenarios.apply_scenario(tight, demand, rows)
    hours = s_inputs.capacity.set_index("period")["available_hours"]
    assert hours[P("2027-01")] == 32 and hours[P("2027-02")] == 0 and hours[P("2027-03")] == 0
    boom = tight.scenarios[tight.scenarios.scenario == "Boom"]
    _, s_demand, factors = scenarios.apply_scenario(tight, demand, boom)
    fam = s_demand[s_demand.level == "Family"].iloc[0]
    assert fam["consensus"] == pytest.approx(36.0) and fam["statistical"] == pytest.approx(36.0)
    assert (factors["price_factor"] == 1.1).all()
    assert pickle.dumps(tight) == before  # the base inputs are byte-identical


def test_unknown_scope_is_reported_with_its_cell(tight) -> None:
    bad = tight.replace(scenarios=tight.scenarios.assign(scope=["", "Oven", "F"]))
    bad.scenarios.attrs.update(tight.scenarios.attrs)
    frames = {"Scenarios": bad.scenarios, "Items": bad.items, "Suppliers": bad.suppliers, "Capacity": bad.capacity}
    [problem] = scenario_problems(frames)
    assert problem.sheet == "Scenarios" and problem.cell == f"{tight.scenarios.attrs['cells']['scope']}3"
    assert "Oven" in str(problem) and "resource" in str(problem)


@pytest.fixture
def base_run(tight):
    return compute(tight, STEPS[:2])


def test_neutral_equals_base_and_outage_hurts(tight, base_run) -> None:
    before = pickle.dumps(tight)
    table = scenarios.compare(tight, base_run, workers=1).set_index("scenario")
    assert list(table.reset_index().columns) == C.SCENARIO_COMPARISON.keys
    assert list(table.index) == ["Base", "Neutral", "Outage", "Boom"]
    base, neutral, outage, boom = (table.loc[n] for n in ("Base", "Neutral", "Outage", "Boom"))
    pd.testing.assert_series_equal(base, neutral, check_names=False)
    assert outage["shortage_units"] > base["shortage_units"] + 1
    assert outage["fill_rate"] < base["fill_rate"] and outage["revenue"] < base["revenue"]
    assert boom["demand_units"] == pytest.approx(1.2 * base["demand_units"])
    # revenue = units met x price x 1.1: check against the scenario's own supply plan
    assert boom["revenue"] == pytest.approx(1.1 * _revenue(tight, "Boom"))
    # the family aggregate plan of Boom is the one of 1.2 x the family's consensus (costs from Items, Settings)
    demand = base_run["DemandPlan"].query("level == 'Item'").groupby("period")["consensus"].sum()
    s = tight.settings
    cost, price = (10 * 6 + 20 * 2) / 30, (10 * 10 + 20 * 5) / 30  # A sells 10 a month at 10, B 20 at 5
    expected = aggregate_plan(1.2 * demand, start_inventory=15.0, min_end_inventory=0.0, start_workforce=2.0,
                              hours_per_unit=1.0, regular_hours_per_worker=16.0, max_overtime_hours_per_worker=4.0,
                              max_subcontract=0.0, costs=dict(
                                  material=cost, holding=s.holding_rate / 12 * cost, backlog=s.backlog_rate * price,
                                  hire=50.0, layoff=80.0, regular_hour=1.0, overtime_hour=1.5, subcontract=0.0))
    assert boom["aggregate_cost"] == pytest.approx(expected.total_cost, rel=1e-6)
    assert base["aggregate_cost"] < boom["aggregate_cost"]
    assert pickle.dumps(tight) == before


def _revenue(inputs, name: str) -> float:
    rows = inputs.scenarios[inputs.scenarios.scenario == name]
    plan = scenarios.run_scenario(inputs, compute(inputs, STEPS[:1])["DemandPlan"], rows)["outputs"]["SupplyPlan"]
    price = plan["item"].map(inputs.items.set_index("item")["unit_price"])
    return float(((plan["demand"] - plan["shortage"]) * price).sum())


def test_parallel_equals_serial(tight, base_run) -> None:
    serial = scenarios.compare(tight, base_run, workers=1)
    parallel = scenarios.compare(tight, base_run, workers=2)
    pd.testing.assert_frame_equal(serial, parallel)


def test_supplier_disruption_limits_what_arrives_in_its_months_only() -> None:
    # item A bought from S: no lead time, 80% of what is ordered arrives, at most 100 ordered a month; demand 100 a
    # month. Base: 80 arrive, 20 lost each month. A strike at S in February-March halves its fill rate there:
    # 40 arrive, 60 lost; other months unchanged. The same factor on the whole horizon changes S's terms.
    from tests.test_supply import demand_plan, fixed_ss, item, make_inputs

    inputs = make_inputs([item("A")], [fixed_ss("A")],
                         suppliers=[dict(item="A", supplier="S", lead_time=0, fill_rate=0.8, max_per_period=100.0)])
    demand = demand_plan({"A": [100.0] * 6})
    before = pickle.dumps(inputs)
    strike = scen({"scenario": "Strike", "scope": "S", "start": P("2027-02"), "end": P("2027-03"),
                   "supply_factor": 0.5})
    plan = scenarios.run_scenario(inputs, demand, strike)["outputs"]["SupplyPlan"]
    np.testing.assert_allclose(plan["purchases"], [80, 40, 40, 80, 80, 80], atol=1e-6)
    np.testing.assert_allclose(plan["shortage"], [20, 60, 60, 20, 20, 20], atol=1e-6)
    always = scen({"scenario": "Weak", "scope": "A", "supply_factor": 0.5})
    plan = scenarios.run_scenario(inputs, demand, always)["outputs"]["SupplyPlan"]
    np.testing.assert_allclose(plan["purchases"], [40] * 6, atol=1e-6)
    assert pickle.dumps(inputs) == before
