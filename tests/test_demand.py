"""Demand step: events, history cleansing, overrides, consensus and the roll-up, on a small Inputs built here."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from snop_xl import contract as C
from snop_xl.steps.demand import apply_overrides, run, statistical_forecast
from snop_xl.inputs import Inputs, Settings
from snop_xl.io.parse import empty_frame

HIST_MONTHS = pd.period_range("2024-01", periods=24, freq="M")


def frame(name: str, rows: list[dict] | None = None) -> pd.DataFrame:
    empty = empty_frame(C.table(name))
    if not rows:
        return empty
    df = pd.DataFrame(rows)
    for col in empty.columns:
        if col not in df:
            df[col] = None
    return df[list(empty.columns)]


def make_inputs(events=None, overrides=None, cleanse=False, method="auto") -> Inputs:
    items = pd.DataFrame({"item": ["A", "B", "C", "NEW", "OLD"], "description": "", "family": ["F", "F", "G", "G", "G"],
                          "unit_price": 10.0, "unit_cost": 5.0, "lead_time": 1, "min_lot": 0.0,
                          "active": [True, True, True, True, False]})
    rng = np.random.default_rng(1)
    hist = []
    for item, level in (("A", 100.0), ("B", 50.0), ("C", 20.0), ("OLD", 5.0)):
        hist += [{"item": item, "period": p, "qty": float(level + rng.normal(0, 3))} for p in HIST_MONTHS]
    history = pd.DataFrame(hist).astype({"period": "period[M]"})
    s = Settings(cycle_month=pd.Period("2026-01", "M"), horizon=6, cleanse_history=cleanse, default_method=method)
    empty = {name: frame(name) for name in ("Inventory", "Capacity", "BillOfResources", "Suppliers", "Budget",
                                            "Scenarios", "Decisions")}
    return Inputs(settings=s, items=items, history=history, events=frame("Events", events),
                  overrides=frame("Overrides", overrides), inventory=empty["Inventory"], capacity=empty["Capacity"],
                  bill_of_resources=empty["BillOfResources"], suppliers=empty["Suppliers"], budget=empty["Budget"],
                  scenarios=empty["Scenarios"], decisions=empty["Decisions"])


def plan_of(inputs: Inputs) -> pd.DataFrame:
    return run(inputs, {})["DemandPlan"]


def item_rows(plan: pd.DataFrame) -> pd.DataFrame:
    return plan[plan["level"] == "Item"].set_index(["item", "period"])


P = lambda s: pd.Period(s, "M")  # noqa: E731


def test_plan_shape_and_coherent_rollup():
    plan = plan_of(make_inputs())
    assert list(plan.columns) == C.DEMAND_PLAN.keys
    items = plan[plan["level"] == "Item"]
    assert set(items["item"]) == {"A", "B", "C", "NEW"}  # inactive OLD left out
    assert list(items["period"].unique()) == list(pd.period_range("2026-01", periods=6, freq="M"))
    assert list(plan["level"].unique()) == ["Item", "Family", "Total"]
    new = items[items["item"] == "NEW"]
    assert (new["statistical"] == 0).all() and (new["method"] == "no history").all()
    fam = plan[plan["level"] == "Family"].set_index(["family", "period"])
    for col in ("statistical", "events", "consensus", "lo_95", "hi_95"):
        sums = items.groupby(["family", "period"])[col].sum()
        np.testing.assert_allclose(fam.loc[sums.index, col], sums)
        tot = plan[plan["level"] == "Total"].set_index("period")[col]
        np.testing.assert_allclose(tot, items.groupby("period")[col].sum().loc[tot.index])
    assert plan.loc[plan["level"] != "Item", "item"].isna().all()
    assert plan.loc[plan["level"] != "Item", "method"].isna().all()
    # no events, no overrides: consensus is the statistical forecast
    np.testing.assert_allclose(items["consensus"], items["statistical"])


def test_events_pct_and_family_qty():
    events = [{"item": "A", "family": None, "start": P("2026-02"), "end": P("2026-03"), "uplift_pct": 0.5,
               "uplift_qty": np.nan, "owner": "mkt"},
              {"item": None, "family": "F", "start": P("2026-03"), "end": P("2026-03"), "uplift_pct": np.nan,
               "uplift_qty": 30.0, "owner": "mkt"}]
    rows = item_rows(plan_of(make_inputs(events=events)))
    a, b = rows.loc["A"], rows.loc["B"]
    assert a.loc[P("2026-01"), "events"] == 0
    assert a.loc[P("2026-02"), "events"] == pytest.approx(0.5 * a.loc[P("2026-02"), "statistical"])
    share_a = a.loc[P("2026-03"), "statistical"] / (a.loc[P("2026-03"), "statistical"]
                                                    + b.loc[P("2026-03"), "statistical"])
    assert a.loc[P("2026-03"), "events"] == pytest.approx(0.5 * a.loc[P("2026-03"), "statistical"] + 30 * share_a)
    assert b.loc[P("2026-03"), "events"] == pytest.approx(30 * (1 - share_a))
    np.testing.assert_allclose(rows["consensus"], rows["statistical"] + rows["events"])


def test_overrides_last_wins_and_family_spread():
    overrides = [{"item": "A", "family": None, "period": P("2026-01"), "qty": 500.0, "owner": "sales"},
                 {"item": None, "family": "F", "period": P("2026-02"), "qty": 300.0, "owner": "marketing"},
                 {"item": "A", "family": None, "period": P("2026-01"), "qty": 400.0, "owner": "marketing"}]
    inputs = make_inputs(overrides=overrides)
    rows = item_rows(plan_of(inputs))
    assert rows.loc[("A", P("2026-01")), "consensus"] == 400.0
    assert rows.loc[("A", P("2026-01")), "override"] == 400.0
    feb = rows.xs(P("2026-02"), level="period")
    assert feb.loc[["A", "B"], "consensus"].sum() == pytest.approx(300.0)
    share = feb.loc["A", "statistical"] / feb.loc[["A", "B"], "statistical"].sum()
    assert feb.loc["A", "consensus"] == pytest.approx(300 * share)
    assert np.isnan(rows.loc[("C", P("2026-01")), "override"])
    # FVA steps: sales alone, then sales + marketing (= consensus)
    stat = statistical_forecast(inputs)
    base = stat[["item", "period"]].assign(qty=stat["statistical"])
    items = inputs.active_items[["item", "family"]]
    res = apply_overrides(base, inputs.overrides, items)
    assert list(res.steps) == ["sales", "marketing"]
    sales = res.steps["sales"].set_index(["item", "period"])["qty"]
    assert sales.loc[("A", P("2026-01"))] == 500.0
    assert sales.loc[("A", P("2026-02"))] == pytest.approx(feb.loc["A", "statistical"])
    np.testing.assert_allclose(res.steps["marketing"]["qty"], res.consensus["consensus"])


def test_cleansing_removes_past_promotions():
    promo = [{"item": "A", "family": None, "start": P("2025-06"), "end": P("2025-12"), "uplift_pct": 1.0,
              "uplift_qty": np.nan, "owner": "mkt"}]
    inputs = make_inputs(events=promo)
    hist = inputs.history.copy()
    promo_months = (hist["item"] == "A") & (hist["period"] >= P("2025-06"))
    hist.loc[promo_months, "qty"] *= 2  # the promotion doubled sales
    inflated = inputs.replace(history=hist)
    raw = item_rows(plan_of(inflated)).loc["A", "statistical"].mean()
    clean = item_rows(plan_of(inflated.replace(settings=Settings(**{**inflated.settings.__dict__,
                                                                    "cleanse_history": True})))).loc["A"]
    assert raw > 150
    assert clean["statistical"].mean() == pytest.approx(100, abs=10)


def test_pure_and_deterministic():
    inputs = make_inputs(events=[{"item": None, "family": "G", "start": P("2026-01"), "end": P("2026-06"),
                                  "uplift_pct": np.nan, "uplift_qty": 10.0, "owner": "x"}])
    before = inputs.history.copy()
    first, second = plan_of(inputs), plan_of(inputs)
    pd.testing.assert_frame_equal(first, second)
    pd.testing.assert_frame_equal(inputs.history, before)
    # family G: C has a forecast, NEW has none -> the qty uplift all goes to C
    rows = item_rows(first)
    np.testing.assert_allclose(rows.loc["C", "events"], 10.0)
    np.testing.assert_allclose(rows.loc["NEW", "events"], 0.0)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["A", "B", "C", None]), st.integers(0, 5),
                          st.floats(0, 1000, allow_nan=False), st.sampled_from(["s", "m", "f"])), max_size=8))
def test_overrides_keep_rollup_coherent(rows):
    months = pd.period_range("2026-01", periods=6, freq="M")
    overrides = [{"item": it, "family": None if it else "F", "period": months[k], "qty": q, "owner": o}
                 for it, k, q, o in rows]
    plan = plan_of(make_inputs(overrides=overrides))
    items = plan[plan["level"] == "Item"]
    assert (items["consensus"] >= 0).all()
    fam = plan[plan["level"] == "Family"].set_index(["family", "period"])["consensus"]
    sums = items.groupby(["family", "period"])["consensus"].sum()
    np.testing.assert_allclose(fam.loc[sums.index], sums, rtol=1e-12)
    tot = plan[plan["level"] == "Total"]["consensus"].sum()
    assert tot == pytest.approx(items["consensus"].sum())
    # the last override of an item-month is what the consensus says, contributors taken in precedence order
    # (no Contributors setting: the order owners first appear), each contributor's rows in table order
    rank = {o: k for k, o in enumerate(dict.fromkeys(r[3] for r in rows))}
    last = {}
    for it, k, q, o in sorted(rows, key=lambda r: rank[r[3]]):
        if it:
            last[(it, months[k])] = q
        else:
            for key in list(last):
                if key[1] == months[k] and key[0] in ("A", "B"):
                    del last[key]
    idx = items.set_index(["item", "period"])["consensus"]
    for key, q in last.items():
        assert idx.loc[key] == pytest.approx(q)


def test_notes_say_which_event_and_override_apply_where():
    events = [{"item": None, "family": "F", "start": P("2026-02"), "end": P("2026-03"), "uplift_pct": 0.2,
               "uplift_qty": np.nan, "owner": "Marketing", "note": "Spring promo"},
              {"item": "C", "family": None, "start": P("2026-03"), "end": P("2026-03"), "uplift_pct": np.nan,
               "uplift_qty": 1500.0, "owner": None, "note": None}]
    overrides = [{"item": None, "family": "F", "period": P("2026-03"), "qty": 1000.0, "owner": "Sales",
                  "reason": "Key account"},
                 {"item": "A", "family": None, "period": P("2026-01"), "qty": 90.0, "owner": "Ops", "reason": None}]
    plan = plan_of(make_inputs(events=events, overrides=overrides))
    notes = plan.set_index(["level", "family", "item", "period"])["notes"]
    promo = "Spring promo (Marketing, family F): +20%"
    assert notes[("Item", "F", "A", P("2026-01"))] == "override 90 by Ops"
    assert pd.isna(notes[("Item", "F", "B", P("2026-01"))])  # no note (None or NaN, by pandas version)
    assert notes[("Item", "F", "B", P("2026-02"))] == promo
    assert notes[("Item", "F", "A", P("2026-03"))] == promo + "; override 1,000 by Sales (family F): Key account"
    assert notes[("Item", "G", "C", P("2026-03"))] == "event: +1,500/month"
    assert pd.isna(notes[("Item", "G", "C", P("2026-04"))])
    # family rows: only what was given for the whole family; total rows: nothing
    fam = plan[plan["level"] == "Family"].set_index(["family", "period"])["notes"]
    assert fam[("F", P("2026-02"))] == promo
    assert fam[("F", P("2026-03"))] == promo + "; override 1,000 by Sales (family F): Key account"
    assert pd.isna(fam[("F", P("2026-01"))]) and pd.isna(fam[("G", P("2026-03"))])
    assert plan.loc[plan["level"] == "Total", "notes"].isna().all()


def test_cleanse_qty_events_by_hand():
    from snop_xl.steps.demand import cleanse

    items = pd.DataFrame({"item": ["A", "B"], "family": ["F", "F"]})
    hist = pd.DataFrame({"item": ["A", "A", "B", "B"], "period": [P("2025-05"), P("2025-06")] * 2,
                         "qty": [100.0, 130.0, 50.0, 20.0]})
    events = frame("Events", [
        {"item": "A", "family": None, "start": P("2025-06"), "end": P("2025-06"), "uplift_pct": np.nan,
         "uplift_qty": 20.0},
        # family: 30 units spread by the items' sales that month (after the event above): A 110, B 20
        {"item": None, "family": "F", "start": P("2025-06"), "end": P("2025-06"), "uplift_pct": np.nan,
         "uplift_qty": 30.0},
        {"item": "B", "family": None, "start": P("2025-05"), "end": P("2025-05"), "uplift_pct": 0.25,
         "uplift_qty": np.nan}])
    out = cleanse(hist, events, items).set_index(["item", "period"])["qty"]
    assert out[("A", P("2025-05"))] == 100.0
    # a -100% event (a closed store) has nothing to undo: its months stay as recorded, never blown up
    closed = frame("Events", [{"item": "A", "family": None, "start": P("2025-05"), "end": P("2025-05"),
                               "uplift_pct": -1.0, "uplift_qty": np.nan}])
    pd.testing.assert_frame_equal(cleanse(hist, closed, items), hist)
    assert out[("A", P("2025-06"))] == pytest.approx(110 - 30 * 110 / 130)
    assert out[("B", P("2025-06"))] == pytest.approx(20 - 30 * 20 / 130)
    assert out[("B", P("2025-05"))] == pytest.approx(50 / 1.25)


def test_events_and_overrides_round_trip_through_the_workbook(tmp_path):
    """Events and Overrides typed into a book, the cycle run headless, the DemandPlan read back from the file."""
    from snop_xl.cycle import run_book
    from snop_xl.io import open_book

    from .conftest import make_book, small_frames

    frames = small_frames()
    frames["Events"] = frame("Events", [
        {"item": "A", "family": None, "start": P("2027-02"), "end": P("2027-03"), "uplift_pct": 0.5,
         "uplift_qty": None, "owner": "Marketing", "note": "Promo"},
        {"item": None, "family": "F", "start": P("2027-04"), "end": P("2027-04"), "uplift_pct": None,
         "uplift_qty": 30.0, "owner": "Marketing", "note": "Fair"}])
    frames["Overrides"] = frame("Overrides", [
        {"item": None, "family": "F", "period": P("2027-05"), "qty": 60.0, "owner": "Sales", "reason": "Tender"}])
    path = make_book(tmp_path / "book.xlsx", frames)
    book = open_book(path)
    for name in ("Events", "Overrides"):
        back, problems = book.read_table(name)
        assert not problems
        pd.testing.assert_frame_equal(back.reset_index(drop=True)[["item", "family"]].fillna(""),
                                      frames[name][["item", "family"]].fillna(""), check_dtype=False)
    run_book(book)
    plan, problems = open_book(path).read_table("DemandPlan")
    assert not problems
    rows = item_rows(plan)
    a, b = rows.loc["A"], rows.loc["B"]
    np.testing.assert_allclose(a.loc[[P("2027-02"), P("2027-03")], "events"],
                               0.5 * a.loc[[P("2027-02"), P("2027-03")], "statistical"])
    apr = rows.xs(P("2027-04"), level="period")
    share = apr["statistical"] / apr["statistical"].sum()
    np.testing.assert_allclose(apr["events"], 30 * share)
    may = rows.xs(P("2027-05"), level="period")
    np.testing.assert_allclose(may["consensus"], 60 * may["statistical"] / may["statistical"].sum())
    assert may["override"].sum() == pytest.approx(60)
    assert a.loc[P("2027-02"), "notes"] == "Promo (Marketing): +50%"
    assert b.loc[P("2027-05"), "notes"] == "override 60 by Sales (family F): Tender"
    fam = plan[plan["level"] == "Family"].set_index("period")
    assert fam.loc[P("2027-05"), "consensus"] == pytest.approx(60)
    assert fam.loc[P("2027-04"), "notes"] == "Fair (Marketing, family F): +30/month"


@settings(max_examples=20, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["A", "C", None]), st.sampled_from(["F", "G"]), st.integers(0, 5),
                          st.integers(0, 3), st.one_of(st.floats(-1, 2), st.floats(-500, 500)), st.booleans()),
                max_size=5),
       st.lists(st.tuples(st.sampled_from(["A", "B", "NEW", None]), st.sampled_from(["F", "G"]), st.integers(0, 5),
                          st.floats(0, 1000, allow_nan=False)), max_size=5))
def test_events_and_overrides_keep_every_rollup_coherent(events, overrides):
    months = pd.period_range("2026-01", periods=6, freq="M")
    ev = [{"item": it, "family": None if it else fam, "start": months[k], "end": months[min(k + span, 5)],
           "uplift_pct": size if pct else np.nan, "uplift_qty": np.nan if pct else size, "owner": "x"}
          for it, fam, k, span, size, pct in events]
    ov = [{"item": it, "family": None if it else fam, "period": months[k], "qty": q, "owner": "o"}
          for it, fam, k, q in overrides]
    plan = plan_of(make_inputs(events=ev, overrides=ov))
    items = plan[plan["level"] == "Item"]
    assert (items["consensus"] >= 0).all() and (items["statistical"] >= 0).all()
    for col in ("statistical", "lo_80", "hi_80", "lo_95", "hi_95", "events", "consensus"):
        fam = plan[plan["level"] == "Family"].set_index(["family", "period"])[col]
        sums = items.groupby(["family", "period"])[col].sum()
        np.testing.assert_allclose(fam.loc[sums.index], sums, rtol=1e-12, atol=1e-9)
        tot = plan[plan["level"] == "Total"].set_index("period")[col]
        np.testing.assert_allclose(tot, items.groupby("period")[col].sum().loc[tot.index], rtol=1e-12, atol=1e-9)
