"""Supply planning: building blocks, the aggregate plan, and the step's SupplyPlan/CapacityPlan on small inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from scipy.stats import norm

from snop_xl import contract as C
from snop_xl.inputs import Inputs, Settings
from snop_xl.io.parse import empty_frame
from snop_xl.calc.supply import (AggregatePlanError, aggregate_plan, aggregate_plans, balance, binding_resources,
                            capacity_lines, days_of_supply, project_inventory, safety_stock)
from snop_xl.steps.supply import run
from snop_xl.calc.supply.constrained import MIP_GAP, SupplyProblem, solve
from snop_xl.calc.supply.inventory import Z80

P0 = pd.Period("2027-01", "M")
MONTHS = pd.period_range(P0, periods=6, freq="M")


# ---- building blocks, against hand-worked numbers -------------------------------------------------------------
def test_safety_stock_textbook_formula():
    # STDEV.S(10, 20, 30) = 10; lead time 3 + review 1 -> sqrt(4) = 2; z(95%) = 1.644854
    assert safety_stock([10, 20, 30], 3, 0.95) == pytest.approx(1.6448536 * 10 * 2, rel=1e-6)
    assert safety_stock([5, 5, 5], 2, 0.99) == 0.0
    with pytest.raises(ValueError):
        safety_stock([1, 2], 1, 1.0)


def test_project_inventory_backlog_and_lost_sales():
    np.testing.assert_allclose(project_inventory(10, [0, 5, 10], [8, 10, 4]), [2, -3, 3])
    np.testing.assert_allclose(project_inventory(10, [0, 5, 10], [8, 10, 4], backlog=False), [2, 0, 6])


def test_days_of_supply_looks_forward():
    # 150 at end of month 1 covers month 2 (100) and half of month 3: 1.5 months = 45 days
    np.testing.assert_allclose(days_of_supply([150, 50, 0], [100, 100, 100]), [45, 15, 0])
    # past the horizon demand continues at the average (100): 250 at the end of month 2 -> 100 + 150 -> 2.5 months
    np.testing.assert_allclose(days_of_supply([0, 250, 0], [100, 100, 100], days_per_period=20), [0, 50, 0])
    assert np.isnan(days_of_supply([5], [0])[0])


def test_balance_chase_and_level():
    chase = balance([10, 20, 30], 25, 5, strategy="chase")
    np.testing.assert_allclose(chase["production"], [5, 20, 25])
    np.testing.assert_allclose(chase["inventory"], [0, 0, 0])
    np.testing.assert_allclose(chase["shortage"], [0, 0, 5])
    level = balance([10, 20, 30], 25, 5, strategy="level")
    np.testing.assert_allclose(level["production"], [55 / 3] * 3)
    np.testing.assert_allclose(level["inventory"], [5 + 55 / 3 - 10, 5 + 110 / 3 - 30, 0], atol=1e-9)
    with_ss = balance([10, 10], [100, 100], 0, safety_stock=5)
    np.testing.assert_allclose(with_ss["production"], [15, 10])


# ---- aggregate plan -------------------------------------------------------------------------------------------
RED_TOMATO = dict(start_inventory=1000, min_end_inventory=500, start_workforce=80, hours_per_unit=4,
                  regular_hours_per_worker=160, max_overtime_hours_per_worker=10,
                  costs=dict(material=10, holding=2, backlog=5, hire=300, layoff=500, regular_hour=4,
                             overtime_hour=6, subcontract=30))
RED_TOMATO_DEMAND = [1600, 3000, 3200, 3800, 2200, 2200]


def check_plan(result, demand, kw):
    """Every constraint of the model on a returned plan, and the cost recomputed from its decisions."""
    p, c, tol = result.plan, kw["costs"], 1e-6
    w0 = kw["start_workforce"]
    W = p["workforce"].to_numpy()
    prev = np.concatenate([[w0], W[:-1]])
    np.testing.assert_allclose(W, prev + p["hired"] - p["laid_off"], atol=tol)
    assert (p[["workforce", "hired", "laid_off", "regular_production", "overtime_hours", "subcontract", "inventory",
               "backlog"]].to_numpy() >= -tol).all()
    assert (kw["hours_per_unit"] * p["regular_production"] <= kw["regular_hours_per_worker"] * W + tol).all()
    assert (p["overtime_hours"] <= kw["max_overtime_hours_per_worker"] * W + tol).all()
    np.testing.assert_allclose(p["overtime_hours"], kw["hours_per_unit"] * p["overtime_production"], atol=tol)
    net = p["inventory"] - p["backlog"]
    prev_net = np.concatenate([[kw["start_inventory"] - kw.get("start_backlog", 0)], net[:-1]])
    np.testing.assert_allclose(net, prev_net + p["production"] + p["subcontract"] - np.asarray(demand), atol=1e-5)
    assert p["inventory"].iloc[-1] >= kw["min_end_inventory"] - tol
    if not kw.get("allow_end_backlog", False):
        assert p["backlog"].iloc[-1] <= tol
    if kw.get("max_subcontract") is not None:
        assert (p["subcontract"] <= np.asarray(kw["max_subcontract"]) + tol).all()
    cost = (c["material"] * p["production"].sum() + c["holding"] * p["inventory"].sum()
            + c["backlog"] * p["backlog"].sum() + c["hire"] * p["hired"].sum() + c["layoff"] * p["laid_off"].sum()
            + c["regular_hour"] * kw["regular_hours_per_worker"] * W.sum()
            + c["overtime_hour"] * p["overtime_hours"].sum() + c["subcontract"] * p["subcontract"].sum())
    assert result.total_cost == pytest.approx(cost, rel=1e-9, abs=1e-6)
    assert result.total_cost == pytest.approx(sum(result.costs.values()), rel=1e-12)
    if result.integer:
        for col in ("workforce", "hired", "laid_off", "regular_production", "overtime_production", "subcontract"):
            np.testing.assert_allclose(p[col], np.round(p[col]), atol=1e-9)


def test_red_tomato_optimal_matches_the_textbook():
    # Chopra & Meindl, Supply Chain Management, ch. 8 (Red Tomato Tools): optimal aggregate plan costs $422,275
    result = aggregate_plan(RED_TOMATO_DEMAND, **RED_TOMATO)
    assert result.total_cost == pytest.approx(422_275, abs=0.5)
    check_plan(result, RED_TOMATO_DEMAND, RED_TOMATO)
    milp = aggregate_plan(RED_TOMATO_DEMAND, integer=True, **RED_TOMATO)
    check_plan(milp, RED_TOMATO_DEMAND, RED_TOMATO)
    assert milp.total_cost >= result.total_cost - 1e-6
    for strategy in ("level", "chase"):
        other = aggregate_plan(RED_TOMATO_DEMAND, strategy=strategy, **RED_TOMATO)
        check_plan(other, RED_TOMATO_DEMAND, RED_TOMATO)
        assert result.total_cost <= other.total_cost + 1e-6


SMALL = dict(start_inventory=0, min_end_inventory=0, start_workforce=2, hours_per_unit=1, regular_hours_per_worker=100,
             max_overtime_hours_per_worker=0, costs=dict(material=1, holding=0.5, backlog=10, hire=50, layoff=50,
                                                         regular_hour=1, overtime_hour=100, subcontract=100))


def test_small_case_each_strategy_by_hand():
    # chase: workers [1, 3]: lay off 1 (50) + hire 2 (100) + pay 4 worker-months * 100 h (400) + material 400 = 950
    chase = aggregate_plan([100, 300], strategy="chase", **SMALL)
    assert chase.total_cost == pytest.approx(950)
    np.testing.assert_allclose(chase.plan["workforce"], [1, 3])
    # level: 2 workers make 200 a month, 100 held after month 1 (50): pay 400 + material 400 + 50 = 850
    level = aggregate_plan([100, 300], strategy="level", **SMALL)
    assert level.total_cost == pytest.approx(850)
    np.testing.assert_allclose(level.plan["production"], [200, 200])
    np.testing.assert_allclose(level.plan["inventory"], [100, 0])
    # optimal: keeping 2 workers and building ahead is the cheapest plan as well
    optimal = aggregate_plan([100, 300], **SMALL)
    assert optimal.total_cost == pytest.approx(850)
    assert optimal.costs["holding"] == pytest.approx(50)
    for r in (chase, level, optimal):
        check_plan(r, [100, 300], SMALL)


def test_backlog_and_subcontract_levers():
    # no workers, hiring too dear: subcontract (at most 50 a month) then owe the rest one month (backlog 10/unit)
    kw = {**SMALL, "start_workforce": 0, "costs": {**SMALL["costs"], "hire": 1e6, "subcontract": 5},
          "max_subcontract": 50, "allow_end_backlog": False}
    r = aggregate_plan([60, 20], **kw)
    np.testing.assert_allclose(r.plan["subcontract"], [50, 30])
    np.testing.assert_allclose(r.plan["backlog"], [10, 0])
    assert r.total_cost == pytest.approx(80 * 5 + 10 * 10)
    check_plan(r, [60, 20], kw)
    with pytest.raises(ValueError, match="costs lacks"):
        aggregate_plan([1], **{**SMALL, "costs": {"material": 1}})


def test_batched_plans_equal_one_by_one():
    cases = [dict(demand=d, **SMALL) for d in ([100, 300], [300, 100], [0, 50])]
    together = aggregate_plans(cases)
    for case, r in zip(cases, together):
        alone = aggregate_plan(case["demand"], **SMALL)
        assert r.total_cost == pytest.approx(alone.total_cost, abs=1e-6)



def test_chase_in_whole_numbers_with_fractional_demand():
    # a forecast is fractional: 10.5, 21, 10.5 units at 1 h/unit, 10.5 h per worker. One worker covers 10.5 units
    # but whole units mean making 11 in month 1 (0.5 left), 21 - 0.5 -> 21 in month 2 (0.5 left), 10 in month 3:
    # two workers throughout (one would make at most 10 whole units and the plan had no solution)
    kw = dict(start_inventory=0.0, min_end_inventory=0.0, start_workforce=1.0, hours_per_unit=1.0,
              regular_hours_per_worker=10.5, max_overtime_hours_per_worker=0.0,
              costs=dict(material=1, holding=1, backlog=5, hire=10, layoff=10, regular_hour=1, overtime_hour=2,
                         subcontract=30))
    demand = [10.5, 21.0, 10.5]
    chase = aggregate_plan(demand, strategy="chase", integer=True, **kw)
    check_plan(chase, demand, kw)
    np.testing.assert_allclose(chase.plan["production"], [11, 21, 10])
    np.testing.assert_allclose(chase.plan["workforce"], [2, 2, 2])
    assert aggregate_plan(demand, integer=True, **kw).total_cost <= chase.total_cost + 1e-9

@st.composite
def instances(draw):
    T = draw(st.integers(2, 6))
    demand = draw(st.lists(st.integers(0, 400), min_size=T, max_size=T))
    kw = dict(start_inventory=float(draw(st.integers(0, 200))), min_end_inventory=float(draw(st.integers(0, 100))),
              start_workforce=float(draw(st.integers(0, 10))), hours_per_unit=float(draw(st.sampled_from([0.5, 1, 4]))),
              regular_hours_per_worker=float(draw(st.sampled_from([80, 160]))),
              max_overtime_hours_per_worker=float(draw(st.sampled_from([0, 10, 20]))),
              start_backlog=float(draw(st.integers(0, 50))), allow_end_backlog=draw(st.booleans()),
              max_subcontract=draw(st.sampled_from([None, 0.0, 50.0])),
              costs={k: float(draw(st.integers(0 if k != "backlog" else 1, 600))) for k in
                     ("material", "holding", "backlog", "hire", "layoff", "regular_hour", "overtime_hour",
                      "subcontract")})
    return demand, kw


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances())
def test_optimal_beats_level_and_chase_and_milp_costs_at_least_lp(case):
    demand, kw = case
    optimal = aggregate_plan(demand, **kw)
    check_plan(optimal, demand, kw)
    for strategy in ("level", "chase"):
        other = aggregate_plan(demand, strategy=strategy, **kw)
        check_plan(other, demand, kw)
        assert optimal.total_cost <= other.total_cost + 1e-6 * max(1.0, other.total_cost)
    milp = aggregate_plan(demand, integer=True, **kw)
    check_plan(milp, demand, kw)
    assert milp.total_cost >= optimal.total_cost - 1e-6 * max(1.0, optimal.total_cost)


# ---- the cycle step on a small Inputs built here ------------------------------------------------------------
def frame(name: str, rows: list[dict] | None = None) -> pd.DataFrame:
    spec = C.table(name)
    empty = empty_frame(spec)
    if not rows:
        return empty
    df = pd.DataFrame(rows)
    for col in empty.columns:
        if col not in df:
            df[col] = spec.column(col).default
    return df[list(empty.columns)]


def make_inputs(items, inventory=(), capacity=(), bor=(), suppliers=(), history=(), aggregate=(), **settings):
    return Inputs(settings=Settings(cycle_month=P0, horizon=6, **settings), items=frame("Items", items),
                  history=pd.DataFrame(list(history), columns=["item", "period", "qty"]).astype(
                      {"period": "period[M]", "qty": float}),
                  events=frame("Events"), overrides=frame("Overrides"), inventory=frame("Inventory", list(inventory)),
                  capacity=frame("Capacity", list(capacity)), bill_of_resources=frame("BillOfResources", list(bor)),
                  suppliers=frame("Suppliers", list(suppliers)), budget=frame("Budget"), scenarios=frame("Scenarios"),
                  decisions=frame("Decisions"), aggregate_params=frame("AggregateParams", list(aggregate)))


def demand_plan(demand: dict[str, list[float]], sigma: dict[str, float] | None = None) -> pd.DataFrame:
    rows = []
    for item, qty in demand.items():
        s = (sigma or {}).get(item)
        for p, q in zip(MONTHS, qty):
            rows.append(dict(level="Item", family="F", item=item, period=p, consensus=float(q),
                             lo_80=None if s is None else q - Z80 * s, hi_80=None if s is None else q + Z80 * s))
    return pd.DataFrame(rows)


def item(name, price=10.0, cost=6.0, lead_time=0, min_lot=0.0, family="F", lot_multiple=None):
    return dict(item=name, family=family, unit_price=price, unit_cost=cost, lead_time=lead_time, min_lot=min_lot,
                lot_multiple=lot_multiple, active=True)


def fixed_ss(name, on_hand=0.0, ss=0.0):
    return dict(item=name, on_hand=on_hand, ss_policy="fixed", ss_value=ss)


def cap_rows(resource, hours, overtime=None, ot_cost=None):
    overtime = overtime or [0.0] * 6
    ot_cost = ot_cost or [0.0] * 6
    return [dict(resource=resource, period=p, available_hours=h, overtime_hours=o, regular_cost=0.0, overtime_cost=c)
            for p, h, o, c in zip(MONTHS, hours, overtime, ot_cost)]


def check_supply_plan(plan: pd.DataFrame):
    """The SupplyPlan's identities: lost sales, months chained, nothing negative."""
    assert list(plan.columns) == C.SUPPLY_PLAN.keys
    met = plan["demand"] - plan["shortage"]
    np.testing.assert_allclose(plan["closing"], plan["opening"] + plan["supply"] - met, atol=1e-9)
    np.testing.assert_allclose(plan["supply"], plan["production"] + plan["purchases"], atol=1e-9)
    assert (plan[["opening", "supply", "closing", "shortage"]] >= -1e-9).all().all()
    assert (plan["shortage"] <= plan["demand"] + 1e-9).all()
    assert ((plan["shortage"] < 1e-9) | (plan["closing"] < 1e-9)).all()  # never short while holding stock
    for _, g in plan.groupby("item"):
        np.testing.assert_allclose(g["opening"].to_numpy()[1:], g["closing"].to_numpy()[:-1])


def test_capacity_binds_and_shadow_prices():
    # 100 h a month at 1 h/unit, demand 150 in months 1-2. Month 2 may add 20 overtime hours at 0.5/h.
    # Shortage costs backlog_rate 10% x price 10 = 1 per unit: one more hour in month 1 saves 1; in month 2 it
    # saves one overtime hour (0.5). Month 1 short 50, month 2 short 30.
    inputs = make_inputs([item("A")], [fixed_ss("A")], cap_rows("Line", [100.0] * 6, [0, 20, 0, 0, 0, 0],
                                                                    [0, 0.5, 0, 0, 0, 0]),
                         [dict(item="A", family=None, resource="Line", hours_per_unit=1.0)])
    out = run(inputs, {"DemandPlan": demand_plan({"A": [150, 150, 0, 0, 0, 0]})})
    plan, cap = out["SupplyPlan"], out["CapacityPlan"]
    check_supply_plan(plan)
    np.testing.assert_allclose(plan["supply"], [100, 120, 0, 0, 0, 0], atol=1e-6)
    np.testing.assert_allclose(plan["shortage"], [50, 30, 0, 0, 0, 0], atol=1e-6)
    np.testing.assert_allclose(cap["required_hours"], [100, 120, 0, 0, 0, 0], atol=1e-6)
    np.testing.assert_allclose(cap["overtime_hours"], [0, 20, 0, 0, 0, 0], atol=1e-6)
    np.testing.assert_allclose(cap["shadow_price"], [1, 1, 0, 0, 0, 0], atol=1e-4)
    np.testing.assert_allclose(cap["overtime_shadow_price"], [1, 0.5, 0, 0, 0, 0], atol=1e-4)
    assert cap["binding"].tolist()[:2] == ["overtime", "overtime"] and cap["binding"].iloc[2:].isna().all()
    assert cap["overloaded"].tolist()[:3] == [True, True, False]
    np.testing.assert_allclose(cap["unconstrained_hours"], [150, 150, 0, 0, 0, 0])
    # the explanation read back from the CapacityPlan: binds 2 months, 1/h at most (month 1 is the first peak),
    # 150 - 100 + 150 - (100 + 20) = 80 hours of demand beyond regular + overtime
    why = binding_resources(cap, "USD")
    assert why[["resource", "first_period", "months", "peak_period"]].values.tolist() == [["Line", P0, 2, P0]]
    assert why["max_shadow_price"].iloc[0] == pytest.approx(1, abs=1e-4)
    assert why["hours_short"].iloc[0] == pytest.approx(80, abs=1e-6)
    assert capacity_lines(cap, "USD") == [f"Line binds in 2 months from {P0}; one more hour is worth up to 1.00 USD "
                                          f"(in {P0}); 80 hours of demand beyond regular + overtime"]


def test_overtime_is_used_when_cheaper_and_regular_shadow_is_its_cost():
    inputs = make_inputs([item("A")], [fixed_ss("A")], cap_rows("Line", [100.0] * 6, [50] * 6, [0.25] * 6),
                         [dict(item="A", family=None, resource="Line", hours_per_unit=1.0)])
    out = run(inputs, {"DemandPlan": demand_plan({"A": [120] * 6})})
    cap = out["CapacityPlan"]
    np.testing.assert_allclose(cap["overtime_hours"], [20] * 6, atol=1e-6)
    np.testing.assert_allclose(cap["shadow_price"], [0.25] * 6, atol=1e-4)
    assert cap["binding"].tolist() == ["regular"] * 6
    np.testing.assert_allclose(out["SupplyPlan"]["shortage"], 0, atol=1e-6)


def test_family_bill_of_resources_safety_stock_and_builds_ahead():
    # family row: both items load the line; 100 h/month, demand 60 + 60 in month 3 only: build ahead in month 2
    # (holding 0.25/12*6 = 0.125 per unit-month is less than a shortage at 1).
    inputs = make_inputs([item("A"), item("B")], [fixed_ss("A", on_hand=10), fixed_ss("B")],
                         cap_rows("Line", [100.0] * 6),
                         [dict(item=None, family="F", resource="Line", hours_per_unit=1.0)])
    out = run(inputs, {"DemandPlan": demand_plan({"A": [0, 0, 60, 0, 0, 0], "B": [0, 0, 60, 0, 0, 0]})})
    plan = out["SupplyPlan"]
    check_supply_plan(plan)
    assert plan["shortage"].sum() == pytest.approx(0, abs=1e-6)
    assert plan.groupby("period")["supply"].sum().max() <= 100 + 1e-6
    assert plan["supply"].sum() == pytest.approx(110, abs=1e-6)  # 120 demand - 10 on hand, nothing extra


def test_service_safety_stock_from_the_demand_plan_interval():
    # sigma 10 from the 80% band, lead time 3 -> z(0.95) * 10 * sqrt(3 + 1); unconstrained item reaches it
    inputs = make_inputs([item("A", lead_time=3)], [dict(item="A", on_hand=0.0, ss_policy="service", ss_value=None)])
    out = run(inputs, {"DemandPlan": demand_plan({"A": [50] * 6}, sigma={"A": 10.0})})
    plan = out["SupplyPlan"]
    expected = norm.ppf(0.95) * 10 * 2
    np.testing.assert_allclose(plan["safety_stock"], expected, rtol=1e-9)
    np.testing.assert_allclose(plan["closing"], expected, atol=1e-6)
    check_supply_plan(plan)
    # no interval: the history's standard deviation (10, 20, 30 -> 10)
    hist = [("A", pd.Period(p, "M"), q) for p, q in (("2026-10", 10.0), ("2026-11", 20.0), ("2026-12", 30.0))]
    inputs = make_inputs([item("A", lead_time=3)], [dict(item="A", on_hand=0.0, ss_policy="service", ss_value=0.99)],
                         history=hist)
    plan = run(inputs, {"DemandPlan": demand_plan({"A": [50] * 6})})["SupplyPlan"]
    np.testing.assert_allclose(plan["safety_stock"], norm.ppf(0.99) * 10 * 2, rtol=1e-9)


def test_cover_policy_holds_next_months_demand():
    inputs = make_inputs([item("A")], [dict(item="A", on_hand=0.0, ss_policy="cover", ss_value=1.5)])
    plan = run(inputs, {"DemandPlan": demand_plan({"A": [10, 20, 30, 40, 50, 60]})})["SupplyPlan"]
    # month 1 end: all of month 2 (20) + half of month 3 (15); month 6 end: beyond the horizon at the average 35
    np.testing.assert_allclose(plan["safety_stock"], [35, 50, 65, 80, 60 + 17.5, 52.5])
    check_supply_plan(plan)


def test_supplier_lead_time_fill_rate_and_limit():
    # bought item: nothing can arrive in months 1-2 (lead time 2); then at most 80% of 100 a month
    inputs = make_inputs([item("A")], [fixed_ss("A", on_hand=30)],
                         suppliers=[dict(item="A", supplier="S", lead_time=2, fill_rate=0.8, max_per_period=100.0)])
    plan = run(inputs, {"DemandPlan": demand_plan({"A": [20, 20, 100, 100, 0, 0]})})["SupplyPlan"]
    check_supply_plan(plan)
    np.testing.assert_allclose(plan["purchases"], [0, 0, 80, 80, 0, 0], atol=1e-6)
    np.testing.assert_allclose(plan["production"], 0, atol=1e-9)
    np.testing.assert_allclose(plan["shortage"], [0, 10, 20, 20, 0, 0], atol=1e-6)


def test_min_lot_makes_supply_zero_or_a_whole_lot():
    inputs = make_inputs([item("A", min_lot=25.0)], [fixed_ss("A")], cap_rows("Line", [100.0] * 6),
                         [dict(item="A", family=None, resource="Line", hours_per_unit=1.0)])
    plan = run(inputs, {"DemandPlan": demand_plan({"A": [10] * 6})})["SupplyPlan"]
    check_supply_plan(plan)
    s = plan["supply"].to_numpy()
    assert ((s < 1e-6) | (s >= 25 - 1e-6)).all()
    assert plan["shortage"].sum() == pytest.approx(0, abs=1e-6)
    assert s.sum() == pytest.approx(60, abs=1e-6)


def test_min_lot_alone_leaves_quantities_free_above_the_lot():
    # a minimum lot is not a lot multiple: above 5 units any quantity goes, so the plan meets a fractional demand
    # exactly and holds its safety stock to the unit's fraction (it used to be rounded to whole units and fixed
    # there, leaving closing stock a fraction below target: "below safety stock by 1 unit" noise)
    inputs = make_inputs([item("A", min_lot=5.0)], [fixed_ss("A", ss=3.5)], cap_rows("Line", [100.0] * 6),
                         [dict(item="A", family=None, resource="Line", hours_per_unit=1.0)])
    plan = run(inputs, {"DemandPlan": demand_plan({"A": [10.3] * 6})})["SupplyPlan"]
    check_supply_plan(plan)
    np.testing.assert_allclose(plan["supply"], [13.8] + [10.3] * 5, atol=1e-6)
    np.testing.assert_allclose(plan["closing"], 3.5, atol=1e-6)
    assert plan["shortage"].max() < 1e-9


def test_capacity_note_says_why_the_first_month_reads_low():
    # 25 on hand, demand 10 a month, 1 h a unit, 100 h free: the plan serves months 1-2 from stock (holding stock
    # costs, free hours do not), so month 1 loads 0 h of a demand load of 10 h and month 3 makes 5 for the 5 short
    inputs = make_inputs([item("A")], [fixed_ss("A", on_hand=25.0)], cap_rows("Line", [100.0] * 6),
                         [dict(item="A", family=None, resource="Line", hours_per_unit=1.0)])
    cap = run(inputs, {"DemandPlan": demand_plan({"A": [10] * 6})})["CapacityPlan"]
    np.testing.assert_allclose(cap["required_hours"], [0, 0, 5, 10, 10, 10], atol=1e-6)
    np.testing.assert_allclose(cap["unconstrained_hours"], 10.0)
    notes = cap["note"].tolist()
    assert notes[:3] == ["10 h of demand served from stock"] * 2 + ["5 h of demand served from stock"]
    assert all(pd.isna(n) for n in notes[3:])  # no note (None or NaN, by pandas version)


def test_family_aggregate_plan_in_the_step():
    params = dict(family="F", start_workforce=2.0, hours_per_unit=1.0, regular_hours_per_worker=100.0,
                  max_overtime_hours_per_worker=0.0, hire_cost=50.0, layoff_cost=50.0, regular_hour_cost=1.0,
                  overtime_hour_cost=100.0, subcontract_cost=None, max_subcontract=None, min_end_inventory=0.0,
                  strategy="chase", integer=False)
    inputs = make_inputs([item("A"), item("B")], [fixed_ss("A"), fixed_ss("B")], aggregate=[params])
    out = run(inputs, {"DemandPlan": demand_plan({"A": [50, 150, 0, 0, 0, 0], "B": [50, 150, 0, 0, 0, 0]})})
    agg, costs = out["AggregatePlan"], out["AggregateCosts"]
    assert list(agg.columns) == C.AGGREGATE_PLAN.keys and list(costs.columns) == C.AGGREGATE_COSTS.keys
    assert (agg["strategy"] == "chase").all() and len(agg) == 6
    np.testing.assert_allclose(agg["demand"], [100, 300, 0, 0, 0, 0])
    by = costs.set_index("strategy")
    assert by.loc["optimal", "total_cost"] <= by.loc["level", "total_cost"] + 1e-6
    assert by.loc["optimal", "total_cost"] <= by.loc["chase", "total_cost"] + 1e-6
    assert by["chosen"].tolist() == [False, False, True]
    assert (costs["subcontract"] == 0).all()  # blank subcontract cost: no subcontracting
    assert costs["note"].isna().all()


def test_a_strategy_that_cannot_plan_a_family_says_so(monkeypatch):
    import snop_xl.steps.supply as step

    real = step.aggregate_plans

    def failing(args, strategy, integer):  # the level plan of every family fails (e.g. the solver finds none)
        if strategy == "level":
            raise AggregatePlanError("no feasible aggregate plan: infeasible")
        return real(args, strategy=strategy, integer=integer)

    monkeypatch.setattr(step, "aggregate_plans", failing)
    params = dict(family="F", start_workforce=2.0, hours_per_unit=1.0, regular_hours_per_worker=100.0,
                  max_overtime_hours_per_worker=0.0, hire_cost=50.0, layoff_cost=50.0, regular_hour_cost=1.0,
                  overtime_hour_cost=100.0, subcontract_cost=None, max_subcontract=None, min_end_inventory=0.0,
                  strategy="level", integer=False)
    inputs = make_inputs([item("A")], [fixed_ss("A")], aggregate=[params])
    out = run(inputs, {"DemandPlan": demand_plan({"A": [50, 150, 0, 0, 0, 0]})})
    costs = out["AggregateCosts"].set_index("strategy")
    assert costs.index.tolist() == ["optimal", "level", "chase"]  # the failed strategy keeps its row
    assert np.isnan(costs.loc["level", "total_cost"]) and bool(costs.loc["level", "chosen"])
    assert costs.loc["level", "note"] == "no plan: no feasible aggregate plan: infeasible"
    assert costs.loc[["optimal", "chase"], "note"].isna().all()
    assert out["AggregatePlan"].empty  # the chosen strategy has no plan to show
    from snop_xl.steps.scenarios import aggregate_cost
    assert np.isnan(aggregate_cost(out["AggregateCosts"]))  # no partial total in the scenario comparison


def test_step_is_pure_and_handles_no_capacity_data():
    inputs = make_inputs([item("A"), item("B")], [fixed_ss("A", on_hand=5)])
    dp = demand_plan({"A": [10] * 6, "B": [3] * 6})
    a, b = run(inputs, {"DemandPlan": dp}), run(inputs, {"DemandPlan": dp})
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name])
    check_supply_plan(a["SupplyPlan"])
    assert a["CapacityPlan"].empty and a["AggregatePlan"].empty
    assert a["SupplyPlan"]["shortage"].sum() == pytest.approx(0, abs=1e-6)


# ---- lot multiples and the margin objective, hand-computed ---------------------------------------------------
# Unconstrained item, price 10, cost 6: holding 0.25/12 * 6 = 0.125 per unit-month; demand 50 in month 1 only.
ONE_MONTH = {"A": [50, 0, 0, 0, 0, 0]}


def test_lot_multiple_rounds_down_when_a_lost_sale_is_cheap():
    # multiples of 40: make 40 (10 lost at 10% x 10 = 1 each: 10) or 80 (30 held 6 months: 30*0.125*6 = 22.5)
    inputs = make_inputs([item("A", lot_multiple=40.0)], [fixed_ss("A")])
    plan = run(inputs, {"DemandPlan": demand_plan(ONE_MONTH)})["SupplyPlan"]
    check_supply_plan(plan)
    np.testing.assert_allclose(plan["supply"], [40, 0, 0, 0, 0, 0], atol=1e-9)
    np.testing.assert_allclose(plan["shortage"], [10, 0, 0, 0, 0, 0], atol=1e-9)


def test_lot_multiple_rounds_up_when_a_lost_sale_is_dear_and_min_lot_still_applies():
    # backlog rate 100%: 10 lost cost 100 > 22.5 of holding 30: make 80, carry 30 to the end
    inputs = make_inputs([item("A", lot_multiple=40.0)], [fixed_ss("A")], backlog_rate=1.0)
    plan = run(inputs, {"DemandPlan": demand_plan(ONE_MONTH)})["SupplyPlan"]
    np.testing.assert_allclose(plan["supply"], [80, 0, 0, 0, 0, 0], atol=1e-9)
    np.testing.assert_allclose(plan["closing"], [30] * 6, atol=1e-9)
    # min lot 100 with multiples of 40: 0 or 120, 160, ...; 0 loses 50 x 10 = 500, 120 holds 70 x 0.75 = 52.5
    inputs = make_inputs([item("A", lot_multiple=40.0, min_lot=100.0)], [fixed_ss("A")], backlog_rate=1.0)
    plan = run(inputs, {"DemandPlan": demand_plan(ONE_MONTH)})["SupplyPlan"]
    np.testing.assert_allclose(plan["supply"], [120, 0, 0, 0, 0, 0], atol=1e-9)
    check_supply_plan(plan)


def test_lot_multiple_of_a_bought_item_applies_to_the_quantity_ordered():
    # cases of 50 ordered, 80% arrive: receipts come in 40s; 40 (10 lost: 10) beats 80 (30 held: 22.5)
    inputs = make_inputs([item("A", lot_multiple=50.0)], [fixed_ss("A")],
                         suppliers=[dict(item="A", supplier="S", lead_time=0, fill_rate=0.8, max_per_period=None)])
    plan = run(inputs, {"DemandPlan": demand_plan(ONE_MONTH)})["SupplyPlan"]
    np.testing.assert_allclose(plan["purchases"], [40, 0, 0, 0, 0, 0], atol=1e-9)
    np.testing.assert_allclose(plan["production"], 0, atol=1e-9)


def test_margin_objective_drops_unprofitable_demand():
    # B sells at 5 but costs 6: under "cost" it is served (a lost sale costs 0.5), under "margin" it is not
    items = [item("A"), item("B", price=5.0)]
    dp = demand_plan({"A": [10] * 6, "B": [10] * 6})
    cost = run(make_inputs(items, [fixed_ss("A"), fixed_ss("B")]), {"DemandPlan": dp})["SupplyPlan"]
    margin = run(make_inputs(items, [fixed_ss("A"), fixed_ss("B")], supply_objective="margin"),
                 {"DemandPlan": dp})["SupplyPlan"]
    assert cost["shortage"].sum() == pytest.approx(0, abs=1e-9)
    by = margin.set_index("item")
    np.testing.assert_allclose(by.loc["A", "supply"], 10, atol=1e-9)
    np.testing.assert_allclose(by.loc["B", "supply"], 0, atol=1e-9)
    np.testing.assert_allclose(by.loc["B", "shortage"], 10, atol=1e-9)
    check_supply_plan(margin)


def test_margin_objective_gives_the_line_to_the_best_margin_per_hour():
    # 100 h in month 1. A: margin 10 - 6 = 4 per unit at 1 h (4/h), demand 60. C: 20 - 6 = 14 at 2 h (7/h),
    # demand 30. Margin: C takes 60 h, A the other 40 (20 lost); one more hour makes one more A: worth 4.
    bor = [dict(item=i, family=None, resource="Line", hours_per_unit=h) for i, h in (("A", 1.0), ("C", 2.0))]
    inputs = make_inputs([item("A"), item("C", price=20.0)], [fixed_ss("A"), fixed_ss("C")],
                         cap_rows("Line", [100.0] * 6), bor, supply_objective="margin")
    out = run(inputs, {"DemandPlan": demand_plan({"A": [60, 0, 0, 0, 0, 0], "C": [30, 0, 0, 0, 0, 0]})})
    plan = out["SupplyPlan"].set_index("item")
    assert plan.loc["C", "supply"].iloc[0] == pytest.approx(30, abs=1e-6)
    assert plan.loc["A", "supply"].iloc[0] == pytest.approx(40, abs=1e-6)
    np.testing.assert_allclose(out["CapacityPlan"]["shadow_price"], [4, 0, 0, 0, 0, 0], atol=1e-4)


def test_milp_gap_keeps_the_aggregate_plan_within_half_a_percent():
    # large workforces (the rounded LP plan is proven within the gap) and small ones (a worker is ~15% of capacity:
    # the whole-worker MILP decides the workforce)
    rng = np.random.default_rng(3)
    for scale, workers in ((1.0, 80), (1.0, 80), (0.07, 5), (0.07, 5)):
        demand = np.round(rng.uniform(1000, 4000, 8) * scale)
        kw = {**RED_TOMATO, "start_inventory": float(rng.uniform(0, 800) * scale),
              "min_end_inventory": 500 * scale, "start_workforce": workers}
        lp = aggregate_plan(demand, **kw).total_cost
        exact = aggregate_plan(demand, integer=True, mip_gap=0.0, **kw).total_cost
        fast = aggregate_plan(demand, integer=True, **kw)
        check_plan(fast, demand, kw)
        assert lp - 1e-6 <= exact <= fast.total_cost + 1e-6
        assert fast.total_cost <= exact * 1.005 + 1e-6


def test_lot_multiples_on_200_items_are_exact_capacity_held_and_the_gap_proven():
    # 200 items on 4 lines, demand in whole cases of each item's multiple, half with a min lot of 2 cases and room
    # on every line: the LP plan chases demand, the rounded plan equals it, so the gap is proven without the MILP.
    rng = np.random.default_rng(5)
    n, T, R = 200, 12, 4
    mult = rng.integers(1, 5, n) * 10.0
    demand = rng.integers(2, 8, (n, T)) * mult[:, None]
    hours = np.zeros((n, R))
    hours[np.arange(n), rng.integers(0, R, n)] = rng.uniform(0.1, 0.5, n)
    regular = (hours.T @ demand) * 1.2
    pb = SupplyProblem(demand=demand, opening=np.zeros(n), safety_stock=np.zeros((n, T)),
                       holding_cost=np.full(n, 0.1), shortage_cost=np.full(n, 5.0), ss_gap_cost=np.zeros(n),
                       can_make=np.ones(n, dtype=bool), min_lot=np.where(np.arange(n) % 2 == 0, 2 * mult, 0.0),
                       hours=hours, regular=regular, overtime=np.zeros((R, T)), overtime_cost=np.zeros((R, T)),
                       pair_item=np.zeros(0, dtype=int), pair_cap=np.zeros((0, T)), pair_fill=np.zeros(0),
                       lot_multiple=mult)
    sol = solve(pb)
    x = sol.production
    cases = x / mult[:, None]
    np.testing.assert_array_equal(cases, np.round(cases))  # exact whole multiples
    assert ((x == 0) | (x >= pb.min_lot[:, None])).all()
    assert (hours.T @ x <= regular + 1e-6).all()
    assert not sol.used_milp and sol.gap <= MIP_GAP and f"proven within {sol.gap:.2%}" in sol.status
    # every unit of demand is met (shortage 5 per unit >> holding), so the plan is the demand itself
    np.testing.assert_allclose(x.sum(), demand.sum())


def test_shadow_prices_still_explain_a_plan_with_lot_multiples():
    # 100 h a month at 1 h/unit, demand 150 in months 1-2, lots of 25: 4 lots a month fill the line, 50 lost.
    # One more hour would let the plan make (and sell) one more unit, worth the lost-sale penalty 10% x price 10
    # = 1 per hour: the LP dual with the lots that run kept on but their quantities free (with every multiple
    # fixed at its quantity nothing could move and every shadow price would read 0).
    inputs = make_inputs([item("A", lot_multiple=25.0)], [fixed_ss("A")], cap_rows("Line", [100.0] * 6),
                         [dict(item="A", family=None, resource="Line", hours_per_unit=1.0)])
    out = run(inputs, {"DemandPlan": demand_plan({"A": [150, 150, 0, 0, 0, 0]})})
    plan, cap = out["SupplyPlan"], out["CapacityPlan"]
    check_supply_plan(plan)
    np.testing.assert_allclose(plan["supply"], [100, 100, 0, 0, 0, 0], atol=1e-9)  # 4 lots of 25
    np.testing.assert_allclose(cap["shadow_price"], [1, 1, 0, 0, 0, 0], atol=1e-4)
    assert binding_resources(cap)["months"].tolist() == [2]
    # lots of 30: 3 lots (90 h) fit, a 4th does not; the plan leaves 10 h idle, so one more hour is worth nothing
    inputs = inputs.replace(items=inputs.items.assign(lot_multiple=30.0))
    cap = run(inputs, {"DemandPlan": demand_plan({"A": [150, 150, 0, 0, 0, 0]})})["CapacityPlan"]
    np.testing.assert_allclose(cap["required_hours"], [90, 90, 0, 0, 0, 0], atol=1e-9)
    np.testing.assert_allclose(cap["shadow_price"], 0, atol=1e-9)


def _separable_problem(n: int = 1300, T: int = 12, lots: bool = False, seed: int = 1) -> SupplyProblem:
    """Items in 13 groups of 3 resources each (a tenth without any), half with a supplier: the plan separates."""
    rng = np.random.default_rng(seed)
    R = 40  # the last resource loads no item
    hours = np.zeros((n, R))
    loaded = rng.random(n) < 0.9
    hours[np.flatnonzero(loaded), (rng.integers(0, 13, n) * 3 + rng.integers(0, 3, n))[loaded]] = \
        rng.uniform(0.1, 1.0, loaded.sum())
    demand = rng.gamma(2.0, 20.0, (n, T))
    pairs = np.arange(0, n, 2)
    return SupplyProblem(
        demand=demand, opening=rng.uniform(0, 50, n), safety_stock=0.3 * demand, holding_cost=rng.uniform(0.1, 1, n),
        shortage_cost=rng.uniform(5, 20, n), ss_gap_cost=rng.uniform(1, 3, n), can_make=rng.random(n) < 0.8,
        min_lot=np.where(lots & (rng.random(n) < 0.1), 60.0, 0.0), hours=hours, regular=np.full((R, T), 150.0),
        overtime=np.full((R, T), 30.0), overtime_cost=rng.uniform(1, 6, (R, T)), pair_item=pairs,
        pair_cap=np.full((len(pairs), T), 30.0), pair_fill=np.full(len(pairs), 0.95))


def _plan_cost(pb: SupplyProblem, sol) -> float:
    """The LP's objective replayed from the plan alone (split stock: holding on all stock, the part up to the target
    rewarded at ss_gap_cost), the lost sales where supply falls short, overtime hours at their cost."""
    n, T = pb.demand.shape
    supply = sol.production.copy()
    np.add.at(supply, pb.pair_item, sol.receipts)
    stock, cost = pb.opening.astype(float).copy(), 0.0
    for t in range(T):
        have = stock + supply[:, t]
        short = np.maximum(pb.demand[:, t] - have, 0.0)
        stock = have - pb.demand[:, t] + short
        cost += (pb.holding_cost * stock - pb.ss_gap_cost * np.minimum(stock, pb.safety_stock[:, t])
                 + pb.shortage_cost * short).sum() + 1e-6 * supply[:, t].sum()
    return cost + (pb.overtime_cost * sol.overtime).sum()


def test_a_large_plan_is_solved_in_independent_blocks_at_the_same_optimum(monkeypatch):
    from snop_xl.calc.supply import constrained

    pb = _separable_problem()
    blocks = constrained._blocks(pb)
    items = np.concatenate([b[0] for b in blocks])
    resources = np.concatenate([b[1] for b in blocks])
    assert len(blocks) == 3 and all(len(b[0]) >= constrained.BLOCK_ITEMS // 2 for b in blocks)
    assert np.array_equal(np.sort(items), np.arange(1300)) and np.array_equal(np.sort(resources), np.arange(40))
    for its, res in blocks:  # no resource is loaded from outside its block
        outside = np.setdiff1d(np.arange(1300), its)
        assert not (pb.hours[np.ix_(outside, res)] > 0).any()
    split = solve(pb)
    monkeypatch.setattr(constrained, "BLOCK_ITEMS", 10 ** 9)
    whole = solve(pb)
    assert "3 independent blocks" in split.status and "blocks" not in whole.status
    # the same optimum (the plans may be alternate optima): the cost of each, replayed from its plan
    assert _plan_cost(pb, split) == pytest.approx(_plan_cost(pb, whole), rel=1e-7)
    # every bound kept, hours within regular + overtime
    used = pb.hours.T @ split.production - split.overtime
    assert (used <= pb.regular + 1e-6).all() and (split.overtime <= pb.overtime + 1e-9).all()
    assert (split.receipts <= pb.pair_cap + 1e-9).all() and not split.production[~pb.can_make].any()


def test_blocks_with_lots_keep_the_whole_plans_proven_gap(monkeypatch):
    from snop_xl.calc.supply import constrained

    pb = _separable_problem(lots=True, seed=4)
    split = solve(pb)
    monkeypatch.setattr(constrained, "BLOCK_ITEMS", 10 ** 9)
    whole = solve(pb)
    # each block rounds its own lots: the plan costs no more than the whole plan's rounding, and its proven gap
    # (its cost over the blocks' LP bounds, which add up to the whole LP's) is the gap of that cost
    assert _plan_cost(pb, split) <= _plan_cost(pb, whole) * (1 + 1e-9)
    assert 0 < split.gap <= whole.gap + 1e-12 and f"{split.gap:.2%}" in split.status
    lots = pb.min_lot > 0
    q = split.production[lots]
    assert ((q < 1e-7) | (q >= 60.0 - 1e-6)).all()  # zero or at least the minimum lot
