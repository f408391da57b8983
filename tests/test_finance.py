"""Finance: variance, price/volume/mix, the plan in money and the Financials table, checked by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from snop_xl import contract as C
from snop_xl.calc import finance

P = lambda s: pd.Period(s, "M")  # noqa: E731


def test_variance_kinds() -> None:
    assert finance.variance(110.0, 100.0) == pytest.approx(10.0)
    assert finance.variance(90.0, 100.0, "pct") == pytest.approx(-0.10)
    assert math.isnan(finance.variance(5.0, 0.0, "pct"))
    assert finance.variance(110.0, 100.0, "label") == "F"
    assert finance.variance(110.0, 100.0, "label", higher_is_better=False) == "U"  # a cost over plan
    assert finance.variance(100.0, 100.0, "label") == ""
    s = finance.variance(pd.Series([1.0, 3.0], index=[5, 6]), pd.Series([2.0, 2.0], index=[5, 6]), "favourable")
    assert list(s.index) == [5, 6] and s.tolist() == [False, True]
    with pytest.raises(ValueError, match="abs"):
        finance.variance(1, 2, "ratio")


def test_price_volume_mix_hand_worked() -> None:
    # budget: A 100 @ 10, B 100 @ 5 -> 1,500; actual: A 60 @ 11, B 160 @ 5 -> 1,460
    e = finance.price_volume_mix([60, 160], [11, 5], [100, 100], [10, 5])
    assert e["total"] == pytest.approx(1460 - 1500)
    assert e["price"] == pytest.approx(60 * 1)  # only A's price moved
    assert e["volume"] == pytest.approx((220 - 200) * 7.5)  # +20 units at the budget's average price 1,500/200
    # mix: at budget prices the actual mix is worth 60*10+160*5 = 1,400 vs 220*7.5 = 1,650
    assert e["mix"] == pytest.approx(1400 - 1650)
    assert e["price"] + e["volume"] + e["mix"] == pytest.approx(e["total"])


def test_single_line_has_no_mix() -> None:
    e = finance.price_volume_mix(120, 9.0, 100, 10.0)
    assert e == pytest.approx({"actual": 1080, "budget": 1000, "total": 80, "price": -120, "volume": 200, "mix": 0})


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 1e4), st.floats(0.01, 500), st.floats(0, 1e4), st.floats(0.01, 500)),
                min_size=1, max_size=8))
def test_effects_sum_to_total_variance(lines) -> None:
    aq, ap, bq, bp = (np.array(x) for x in zip(*lines))
    e = finance.price_volume_mix(aq, ap, bq, bp)
    total = float(aq @ ap - bq @ bp)
    assert e["total"] == pytest.approx(total, rel=1e-9, abs=1e-6)
    assert e["price"] + e["volume"] + e["mix"] == pytest.approx(total, rel=1e-9, abs=1e-6)


def _supply() -> pd.DataFrame:
    """Two items of family F, one of G, two months, with hand-picked shortages and stock."""
    rows = [("A", "F", "2027-01", 10, 5, 10, 5, 0, 0), ("A", "F", "2027-02", 10, 5, 3, 0, 0, 2),
            ("B", "F", "2027-01", 20, 0, 20, 0, 0, 0), ("B", "F", "2027-02", 20, 0, 25, 5, 0, 0),
            ("C", "G", "2027-01", 4, 0, 4, 0, 0, 0), ("C", "G", "2027-02", 4, 0, 4, 0, 0, 0)]
    df = pd.DataFrame(rows, columns=["item", "family", "period", "demand", "opening", "supply", "closing",
                                     "safety_stock", "shortage"])
    df["period"] = df["period"].map(P).astype("period[M]")
    df["days_of_supply"] = np.nan
    return df.astype({c: float for c in ["demand", "opening", "supply", "closing", "safety_stock", "shortage"]})


ITEMS = pd.DataFrame({"item": ["A", "B", "C"], "family": ["F", "F", "G"], "unit_price": [10.0, 5.0, 50.0],
                      "unit_cost": [6.0, 2.0, 30.0]})


def test_plan_money_by_hand() -> None:
    m = finance.plan_money(_supply(), ITEMS).set_index(["item", "period"])
    a2 = m.loc[("A", P("2027-02"))]
    assert a2["plan_units"] == 8 and a2["revenue"] == 80 and a2["cogs"] == 48 and a2["margin"] == 32
    assert m.loc[("B", P("2027-02")), "inventory_value"] == 5 * 2.0
    s = finance.summarise(m.reset_index())
    assert s["demand_units"] == 68 and s["supplied_units"] == 66 and s["fill_rate"] == pytest.approx(66 / 68)
    assert s["inventory_value"] == 10.0  # last month: B's 5 units at cost 2


def test_plan_cost_by_hand() -> None:
    cap_plan = pd.DataFrame({"resource": ["R", "R"], "period": [P("2027-01"), P("2027-02")],
                             "required_hours": [80.0, 120.0], "available_hours": [100.0, 100.0],
                             "overtime_hours": [0.0, 20.0]})
    cap = pd.DataFrame({"resource": ["R", "R"], "period": [P("2027-01"), P("2027-02")], "regular_cost": [10.0] * 2,
                        "overtime_cost": [15.0] * 2})
    c = finance.plan_cost(_supply(), ITEMS, cap_plan, cap, holding_rate=0.24, backlog_rate=0.1)
    assert c["holding"] == pytest.approx((5 * 6 + 5 * 2) * 0.02)
    assert c["backlog"] == pytest.approx(2 * 10 * 0.1)
    assert c["regular"] == pytest.approx((80 + 100) * 10) and c["overtime"] == pytest.approx(20 * 15)


def test_financials_against_family_budget() -> None:
    budget = pd.DataFrame({"family": ["F", "F", "G"], "item": [None, None, None],
                           "period": [P("2027-01"), P("2027-02"), P("2027-01")],
                           "units": [25.0, 30.0, 5.0], "revenue": [200.0, 210.0, 240.0]})
    money = finance.plan_money(_supply(), ITEMS)
    fin = finance.financials(money, budget, P("2027-01"))
    assert set(C.FINANCIALS.keys) <= set(fin.columns)
    f1 = fin[(fin.horizon == "Month") & (fin.family == "F") & (fin.period == P("2027-01"))].iloc[0]
    # plan F Jan: A 10 @ 10 + B 20 @ 5 = 200 for 30 units; budget 25 units for 200
    assert f1["revenue"] == 200 and f1["units_variance"] == 5 and f1["revenue_variance"] == 0
    assert f1["price_effect"] == pytest.approx(30 * (200 / 30 - 8))
    assert f1["volume_effect"] == pytest.approx(5 * 8) and f1["mix_effect"] == pytest.approx(0)
    assert f1["favourable"] == ""
    g2 = fin[(fin.horizon == "Month") & (fin.family == "G") & (fin.period == P("2027-02"))].iloc[0]
    assert pd.isna(g2["revenue_variance"]) and g2["revenue"] == 200  # not budgeted: no variance
    # Total of January: families are the mix lines
    t1 = fin[(fin.horizon == "Month") & (fin.level == "Total") & (fin.period == P("2027-01"))].iloc[0]
    e = finance.price_volume_mix([30, 4], [200 / 30, 50], [25, 5], [8, 48])
    assert t1["revenue_variance"] == pytest.approx(e["total"])
    assert (t1["price_effect"], t1["volume_effect"], t1["mix_effect"]) == pytest.approx((e["price"], e["volume"],
                                                                                          e["mix"]))
    # horizon rows: revenue variance over budgeted months only, effects sum to it on every row
    h = fin[(fin.horizon == "Horizon") & (fin.family == "F")].iloc[0]
    assert h["revenue"] == 200 + 180 and h["budget_revenue"] == 410
    assert h["revenue_variance"] == pytest.approx(380 - 410) and h["favourable"] == "U"
    budgeted = fin[fin["revenue_variance"].notna()]
    np.testing.assert_allclose(budgeted[["price_effect", "volume_effect", "mix_effect"]].sum(axis=1),
                               budgeted["revenue_variance"], atol=1e-6)
    ytd = fin[fin.horizon == "YTD"]
    assert ytd.empty or (ytd["period"] <= P("2027-12")).all()


def test_item_level_budget_gives_mix_within_family() -> None:
    budget = pd.DataFrame({"family": ["F", "F"], "item": ["A", "B"], "period": [P("2027-01")] * 2,
                           "units": [20.0, 10.0], "revenue": [200.0, 50.0]})
    fin = finance.financials(finance.plan_money(_supply(), ITEMS), budget, P("2027-01"))
    f1 = fin[(fin.horizon == "Month") & (fin.family == "F") & (fin.period == P("2027-01"))].iloc[0]
    e = finance.price_volume_mix([10, 20], [10, 5], [20, 10], [10, 5])
    assert f1["mix_effect"] == pytest.approx(e["mix"]) and e["mix"] != 0
    assert f1["revenue_variance"] == pytest.approx(200 - 250)


def test_year_to_date_and_full_horizon_totals_across_a_year_end() -> None:
    # cycle in November 2027 (fiscal year = calendar year, no actuals given): the Outlook rows cover November +
    # December, the Horizon rows run to February 2028, no YTD rows (no past month). Item A of family F,
    # price 10, cost 6, sells 10, 20, 30, 40 units; stock at month end 4, 3, 2, 1. Budget: 12 units for 110 a month.
    months = pd.period_range("2027-11", periods=4, freq="M")
    supply = pd.DataFrame({"item": "A", "family": "F", "period": months, "demand": [10.0, 20, 30, 40],
                           "shortage": 0.0, "closing": [4.0, 3, 2, 1]})
    budget = pd.DataFrame({"family": "F", "item": None, "period": months, "units": 12.0, "revenue": 110.0})
    fin = finance.financials(finance.plan_money(supply, ITEMS), budget, P("2027-11"))
    assert not (fin.horizon == "YTD").any()
    for label, n, last in (("Outlook", 2, P("2027-12")), ("Horizon", 4, P("2028-02"))):
        for level in ("Family", "Total"):
            row = fin[(fin.horizon == label) & (fin.level == level)].iloc[0]
            units = sum([10, 20, 30, 40][:n])
            assert row["period"] == last and row["plan_units"] == units and row["revenue"] == 10 * units
            assert row["margin"] == 4 * units and row["inventory_value"] == [4, 3, 2, 1][n - 1] * 6.0  # a stock
            assert row["budget_units"] == 12 * n and row["budget_revenue"] == 110 * n
            assert row["revenue_variance"] == pytest.approx(10 * units - 110 * n)
            assert row["favourable"] == ("F" if 10 * units > 110 * n else "U")
            assert row["price_effect"] + row["volume_effect"] + row["mix_effect"] == pytest.approx(
                row["revenue_variance"])
