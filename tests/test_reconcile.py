"""Step 3 reconciliation and step 4 review on a small hand-made plan whose every exception is worked out by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from snop_xl import contract as C
from snop_xl.steps import reconcile, review
from snop_xl.inputs import load_inputs
from snop_xl.io import open_book
from tests.conftest import make_book, small_frames

P = lambda s: pd.Period(s, "M")  # noqa: E731
MONTHS = pd.period_range("2027-01", periods=6, freq="M")


@pytest.fixture
def inputs(tmp_path):
    frames = small_frames()
    cap = frames["Capacity"]
    cap.loc[3, "available_hours"] = 20.0  # April: 20 h for a load of 30 h, no overtime
    return load_inputs(open_book(make_book(tmp_path / "r.xlsx", frames)))


def plan_frames() -> dict[str, pd.DataFrame]:
    """A: 15 on hand, no supply until March, short 5 in February, safety stock 8. B: made to order, no stock.
    The consensus of B (20/month) is twice its statistical forecast (10)."""
    rows = []
    for t, p in enumerate(MONTHS):
        rows.append({"item": "A", "family": "F", "period": p, "demand": 10.0, "opening": [15, 5, 0, 0, 0, 0][t],
                     "supply": [0, 0, 10, 10, 10, 10][t], "closing": [5, 0, 0, 0, 0, 0][t], "safety_stock": 8.0,
                     "shortage": [0, 5, 0, 0, 0, 0][t], "days_of_supply": np.nan})
        rows.append({"item": "B", "family": "F", "period": p, "demand": 20.0, "opening": 0.0, "supply": 20.0,
                     "closing": 0.0, "safety_stock": 0.0, "shortage": 0.0, "days_of_supply": np.nan})
    supply = pd.DataFrame(rows).astype({"opening": float, "supply": float, "closing": float, "shortage": float})
    demand = []
    for p in MONTHS:
        demand.append({"level": "Item", "family": "F", "item": "A", "period": p, "statistical": 10.0,
                       "consensus": 10.0})
        demand.append({"level": "Item", "family": "F", "item": "B", "period": p, "statistical": 10.0,
                       "consensus": 20.0})
        demand.append({"level": "Family", "family": "F", "item": None, "period": p, "statistical": 20.0,
                       "consensus": 30.0})
    cap = pd.DataFrame({"resource": "Line", "period": MONTHS, "required_hours": [30.0, 25, 30, 20, 30, 30],
                        "available_hours": [100.0, 100, 100, 20, 100, 100], "overtime_hours": 0.0,
                        "unconstrained_hours": 30.0, "utilisation": [0.3, 0.25, 0.3, 1.0, 0.3, 0.3],
                        "overloaded": [False, False, False, True, False, False],
                        "shadow_price": [0.0, 0.0, 0.0, 2.5, 0.0, 0.0]})
    return {"DemandPlan": pd.DataFrame(demand), "SupplyPlan": supply, "CapacityPlan": cap}


def by_kind(exc: pd.DataFrame, kind: str) -> pd.DataFrame:
    return exc[exc["kind"] == kind].reset_index(drop=True)


def test_gaps_by_hand(inputs) -> None:
    g = reconcile.gaps(plan_frames()["SupplyPlan"], inputs.items)
    feb = g[(g.level == "Family") & (g.period == P("2027-02"))].iloc[0]
    assert (feb.demand, feb.supply, feb.gap, feb.shortage) == (30, 20, -10, 5)
    assert feb.gap_value == -10 * 10.0 and feb.shortage_value == 5 * 10.0
    items = g[g.level == "Item"]
    assert items[["item", "period"]].values.tolist() == [["A", P("2027-02")]]


def test_exceptions_by_hand(inputs) -> None:
    exc = reconcile.exceptions(inputs, plan_frames())
    assert list(exc.columns) == C.EXCEPTIONS.keys
    short = by_kind(exc, "Shortage").iloc[0]
    assert (short["item"], short["period"], short["units"], short["value"]) == ("A", P("2027-02"), 5, 50)
    # February is row 4 of the SupplyPlan as written (A Jan, B Jan, A Feb -> sheet row 4), Shortage is column I
    assert short["link"] == "'SupplyPlan'!I4"
    ss = by_kind(exc, "Below safety stock").iloc[0]
    assert (ss["item"], ss["period"], ss["months"], ss["units"], ss["value"]) == ("A", P("2027-01"), 5, 8, 8 * 6.0)
    cap = by_kind(exc, "Capacity overload").iloc[0]
    # 10 h beyond capacity in April, where one more hour is worth 2.5 (the LP's shadow price): at most 25 at stake
    assert (cap["item"], cap["period"], cap["units"], cap["uom"]) == ("Line", P("2027-04"), 10, "hours")
    assert cap["value"] == pytest.approx(10 * 2.5) and "up to USD 25 " in cap["message"]
    # the same overload absorbed at no cost (no hour worth anything): listed, nothing at stake
    free = plan_frames()
    free["CapacityPlan"]["shadow_price"] = 0.0
    cap = by_kind(reconcile.exceptions(inputs, free), "Capacity overload").iloc[0]
    assert cap["value"] == 0 and cap["units"] == 10 and "no extra cost" in cap["message"]
    cons = by_kind(exc, "Consensus vs statistical").iloc[0]
    assert (cons["item"], cons["units"], cons["value"]) == ("B", 60, 60 * 5.0)
    budget = by_kind(exc, "Plan below budget").iloc[0]
    # plan revenue: A sells 55 units at 10, B 120 at 5 = 1,150 against a budget of 6 x 200
    assert budget["family"] == "F" and budget["value"] == pytest.approx(50) and budget["units"] == pytest.approx(-5)
    assert budget["message"].endswith("mix +0")  # one family-level budget line: no mix, and never "-0"
    # the fiscal year starts in the cycle month and its budgeted months are the horizon's: no Outlook below budget
    # repeating the same shortfall
    assert by_kind(exc, "Outlook below budget").empty
    assert exc["rank"].tolist() == list(range(1, len(exc) + 1))
    assert exc["value"].is_monotonic_decreasing
    assert set(exc["kind"]) <= set(C.EXCEPTION_KINDS)
    assert by_kind(exc, "Forecast bias").empty  # flat history: the forecast is exact


def test_shortages_below_one_unit_are_not_exceptions(inputs) -> None:
    plans = plan_frames()
    s = plans["SupplyPlan"]
    b = s["item"] == "B"
    # B short 0.49 once (a forecast of 20 met but for a fraction): not an exception, no item row on Gaps
    s.loc[b & (s["period"] == P("2027-01")), ["supply", "shortage"]] = [19.51, 0.49]
    exc = reconcile.exceptions(inputs, plans)
    assert by_kind(exc, "Shortage")["item"].tolist() == ["A"]
    g = reconcile.gaps(s, inputs.items)
    assert g.loc[g.level == "Item", "item"].tolist() == ["A"]
    # the family row still adds up the plan (A's 5 + B's 0.49): Gaps agree with the SupplyPlan
    jan = g[(g.level == "Family") & (g.period == P("2027-01"))].iloc[0]
    assert jan.shortage == pytest.approx(0.49)
    # 0.9 short in each of 6 months is 5.4 units: listed, every short month counted
    s.loc[b, ["supply", "shortage"]] = [19.1, 0.9]
    short = by_kind(reconcile.exceptions(inputs, plans), "Shortage").set_index("item").loc["B"]
    assert (short["months"], short["units"], short["value"]) == (6, pytest.approx(5.4), pytest.approx(5.4 * 5.0))
    assert len(reconcile.gaps(s, inputs.items).query("level == 'Item' and item == 'B'")) == 6


def test_excess_and_obsolete(inputs) -> None:
    plans = plan_frames()
    s = plans["SupplyPlan"]
    s.loc[s["item"] == "B", "closing"] = 200.0  # B holds 200 units for a demand of 20 a month
    exc = reconcile.exceptions(inputs, plans)
    ex = by_kind(exc, "Excess stock").iloc[0]
    # last month: 200 - 0 safety stock - 3 months beyond the horizon at B's average demand of 20
    assert (ex["item"], ex["units"], ex["value"]) == ("B", 200 - 60, 140 * 2.0)
    s.loc[s["item"] == "B", ["demand", "opening"]] = [0.0, 50.0]
    exc = reconcile.exceptions(inputs, plans)
    ob = by_kind(exc, "Obsolete risk").iloc[0]
    assert (ob["item"], ob["units"], ob["value"]) == ("B", 50, 100)


def test_tracking_signal_and_bias(inputs) -> None:
    # A sold 10 a month for 18 months, then 20 for the last 6: a forecast from the flat part is 10 below each month
    months = pd.period_range("2025-07", "2026-12", freq="M")
    hist = pd.DataFrame({"item": "A", "period": months, "qty": [10.0] * 12 + [20.0] * 6})
    biased = inputs.replace(history=hist)
    exc = reconcile.bias_exceptions(biased, plan_frames()["DemandPlan"].query("level == 'Item'"), "USD")
    row = exc.iloc[0]
    # errors forecast - actual = -10 six times: tracking signal -60 / 10 = -6 (the KPIs sheet's sign: under-forecast)
    assert row["item"] == "A" and "-6.0" in row["message"] and "below demand" in row["message"]
    # lead time 0: the next monthly cycle corrects it after 1 month; 10 units of sales not planned at A's unit
    # margin 10 - 6 = 4 (not 10 a month x 18 months x price 10 = 1,800)
    assert (row["months"], row["units"], row["value"]) == (1, pytest.approx(-10), pytest.approx(40))
    assert "margin" in row["message"]
    # a lead time of 2 months: the bias acts 3 months before supply can follow the next forecast
    slow = biased.replace(items=biased.items.assign(lead_time=[2, 0]))
    row = reconcile.bias_exceptions(slow, plan_frames()["DemandPlan"].query("level == 'Item'"), "USD").iloc[0]
    assert (row["months"], row["units"], row["value"]) == (3, pytest.approx(-30), pytest.approx(120))
    # over-forecast (20 a month, then 10): the surplus is stock built ahead of demand, at unit cost 6
    over = inputs.replace(history=hist.assign(qty=[20.0] * 12 + [10.0] * 6))
    row = reconcile.bias_exceptions(over, plan_frames()["DemandPlan"].query("level == 'Item'"), "USD").iloc[0]
    assert "+6.0" in row["message"] and "above demand" in row["message"] and "stock" in row["message"]
    assert (row["months"], row["units"], row["value"]) == (1, pytest.approx(10), pytest.approx(60))


def test_review_financials_and_dashboard(inputs) -> None:
    out = review.run(inputs, plan_frames())
    fin = out["Financials"]
    assert list(fin.columns) == C.FINANCIALS.keys
    total = fin[(fin.horizon == "Horizon") & (fin.level == "Total")].iloc[0]
    assert total["revenue"] == 1150 and total["budget_revenue"] == 1200 and total["revenue_variance"] == -50
    assert total["price_effect"] + total["volume_effect"] + total["mix_effect"] == pytest.approx(-50)
    dash = out["Dashboard"].set_index("metric")["value"]
    assert dash["Plan revenue"] == 1150 and dash["Fill rate"] == pytest.approx(100 * 175 / 180)
    assert dash["Gross margin"] == pytest.approx(55 * 4 + 120 * 3)
    chart = out["ChartDemand"]
    assert chart["family"].iloc[0] == "Total" and set(chart["family"]) == {"Total", "F"}
    assert chart.loc[(chart.family == "F") & (chart.period == P("2026-12")), "history"].item() == 30
    assert chart.loc[(chart.family == "F") & (chart.period == P("2027-02")), "supply"].item() == 20


def test_one_measure_of_overload_for_the_exceptions_and_the_binding_resources() -> None:
    """The run summary's 'hours of demand beyond regular + overtime' and the Capacity overload exception count the
    same hours: each month's unconstrained load beyond the regular and overtime hours the plan used (its
    CapacityPlan columns), binding or absorbed. Line: 150 - (100 + 20) = 30 in a binding month, 130 - 120 = 10 in
    a month the plan absorbs (shadow price 0), nothing in the third."""
    from snop_xl.calc.supply import binding_resources

    months = pd.period_range("2027-01", periods=3, freq="M")
    cap = pd.DataFrame({"resource": "Line", "period": months, "required_hours": [120.0, 120, 50],
                        "available_hours": 100.0, "overtime_hours": [20.0, 20, 0], "overtime_limit": 20.0,
                        "unconstrained_hours": [150.0, 130, 50], "utilisation": [1.2, 1.2, 0.5],
                        "overloaded": [True, True, False], "shadow_price": [1.0, 0.0, 0.0]})
    exc = reconcile.capacity_exceptions(cap, "USD").iloc[0]
    why = binding_resources(cap, "USD").iloc[0]
    assert exc["units"] == pytest.approx(40) and why["hours_short"] == pytest.approx(40)
    assert (exc["months"], why["months"]) == (2, 1)  # overloaded in two months, binding in one
    assert "needs 40 hours beyond regular + overtime" in exc["message"]
    assert why["message"].endswith("40 hours of demand beyond regular + overtime")
