"""KPI formulas: hand-worked values, the docs' worked example, properties."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snop_xl.steps import kpis as kpi_step
from snop_xl.calc import kpi

DOC = Path(__file__).resolve().parents[1] / "docs" / "kpis.md"


def _doc_tables() -> list[list[list[str]]]:
    tables, current = [], []
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if line.startswith("|"):
            if not set(line) <= set("|- "):  # skip the |---| rule under the header
                current.append([c.strip() for c in line.strip("|").split("|")])
        elif current:
            tables.append(current)
            current = []
    return tables + ([current] if current else [])


def test_docs_worked_example_matches_the_code():
    text = DOC.read_text(encoding="utf-8")
    tables = _doc_tables()
    data = next(t for t in tables if t[0] == ["Month", "Actual", "Forecast"])[1:]
    actual = [float(r[1]) for r in data]
    forecast = [float(r[2]) for r in data]
    insample = [float(x) for x in re.search(r"in-sample history ([\d, ]+) and", text).group(1).split(",")]
    plan = re.search(r"planned (\d+) per month, arrived ([\d, ]+):", text)
    planned = [float(plan.group(1))] * 4
    arrived = [float(x) for x in plan.group(2).split(",")]
    results = {r[0]: float(r[1]) for t in tables if t[0] == ["Metric", "Value"] for r in t[1:]}
    assert set(results) == {"WAPE", "ACCURACY", "BIAS", "MAPE", "TRACKING_SIGNAL", "MASE", "PLAN_ADHERENCE"}
    for metric, value in results.items():
        if metric == "PLAN_ADHERENCE":
            got = kpi.plan_adherence(arrived, planned)
        else:
            got = kpi.accuracy(actual, forecast, metric, insample=insample)
        assert got == pytest.approx(value, abs=1e-6), metric


def test_docs_worked_fva_and_family_tracking_signal_match_the_code():

    tables = _doc_tables()
    steps = next(t for t in tables if t[0] == ["Month", "Actual", "Naive", "Statistical", "Events", "Consensus"])
    f = pd.DataFrame([[pd.Period(r[0], "M"), *map(float, r[1:])] for r in steps[1:]],
                     columns=["period", "actual", "naive", "statistical", "with_events", "consensus"])
    f = f.assign(item="A", family="F", lag=1)
    fva = kpi_step.cascade_fva(f)
    got = fva[(fva["metric"] == "FVA") & (fva["level"] == "Total")].set_index("step")["value"]
    want = {r[0]: float(r[1]) for r in next(t for t in tables if t[0] == ["Step", "FVA"])[1:]}
    assert set(got.index) == set(want)
    for step, value in want.items():
        assert got[step] == pytest.approx(value, abs=1e-6), step
    two = next(t for t in tables if t[0] == ["Month", "A actual", "A forecast", "B actual", "B forecast"])
    frame = pd.DataFrame([(pd.Period(r[0], "M"), item, float(r[1 + 2 * k]), float(r[2 + 2 * k]))
                          for r in two[1:] for k, item in enumerate("AB")],
                         columns=["period", "item", "actual", "forecast"]).assign(family="F")
    rows = kpi_step._rows(frame, {"consensus": "forecast"}, metrics=("TRACKING_SIGNAL",), levels=("Family",))
    (want_ts,) = [float(r[1]) for r in next(t for t in tables if t[0] == ["Family metric", "Value"])[1:]]
    assert rows["value"].tolist() == pytest.approx([want_ts])


def test_hand_values():
    a, f = [100, 80, 0, 120], [110, 70, 10, 150]
    assert kpi.wape(a, f) == pytest.approx(60 / 300)
    assert kpi.forecast_accuracy(a, f) == pytest.approx(0.8)
    assert kpi.bias(a, f) == pytest.approx(40 / 300)
    assert kpi.mape(a, f) == pytest.approx((0.1 + 0.125 + 0.25) / 3)
    assert kpi.tracking_signal(a, f) == pytest.approx(40 / 15)
    assert kpi.mase(a, f, [90, 100, 80, 120, 110], 1) == pytest.approx(15 / 20)
    # seasonal scale, m = 2: |80-90|, |120-100|, |110-80| -> mean 20
    assert kpi.mase(a, f, [90, 100, 80, 120, 110], 2) == pytest.approx(15 / 20)
    assert kpi.fill_rate([10, 20, 0], [10, 15, 5]) == pytest.approx(25 / 30)  # delivering more than asked counts 0
    assert kpi.plan_adherence([90, 110], [100, 100]) == pytest.approx(0.9)
    assert kpi.days_of_supply(150, [100, 100, 100], 30) == pytest.approx(45)
    # past the months given, demand goes on at their average: 500 = 100 + 100 + 3 more months of 100
    assert kpi.days_of_supply(0, [100]) == 0 and kpi.days_of_supply(500, [100, 100], 30) == pytest.approx(150)
    assert math.isnan(kpi.days_of_supply(50, [0, 0]))


def test_missing_pairs_are_skipped_and_undefined_is_nan():
    assert kpi.wape([10, None, 20, np.nan], [12, 5, 18, 4]) == pytest.approx(4 / 30)
    assert kpi.observations([10, None, 20], [12, 5, None]) == 1
    assert kpi.wape([["10", ""], [20, None]], [[12, 3], [18, 4]]) == pytest.approx(4 / 30)  # 2-D cell ranges
    assert math.isnan(kpi.wape([0, 0], [1, 2]))
    assert math.isnan(kpi.mape([0, 0], [1, 2]))
    assert math.isnan(kpi.tracking_signal([5, 5], [5, 5]))
    assert math.isnan(kpi.accuracy([], [], "BIAS"))
    assert kpi.accuracy(pd.Series([1.0, None]), pd.Series([2.0, 3.0]), "wape") == 1.0


def test_errors_name_what_is_expected():
    with pytest.raises(ValueError, match="choose one of WAPE"):
        kpi.accuracy([1], [1], "RMSE")
    with pytest.raises(ValueError, match="insample"):
        kpi.accuracy([1], [1], "MASE")
    with pytest.raises(ValueError, match="differ in length"):
        kpi.wape([1, 2], [1])


_values = st.lists(st.floats(0, 1e6, allow_nan=False), min_size=1, max_size=30)


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_properties(data):
    a = np.array(data.draw(_values))
    f = np.array(data.draw(st.lists(st.floats(0, 1e6, allow_nan=False), min_size=len(a), max_size=len(a))))
    if a.sum() > 1e-6:
        assert kpi.wape(a, f) == pytest.approx(np.abs(f - a).sum() / a.sum())
        assert kpi.forecast_accuracy(a, f) + kpi.wape(a, f) == pytest.approx(1.0)
        assert kpi.wape(a, a) == 0 and kpi.bias(a, a) == 0
        assert kpi.bias(a, f) == pytest.approx(-kpi.bias(a, 2 * a - f), rel=1e-9, abs=1e-9)  # mirror flips the sign
        assert 0 <= kpi.fill_rate(a, f) <= 1 + 1e-12
        assert kpi.wape(a, f) == pytest.approx(kpi.wape(3 * a, 3 * f))  # scale free
    ts = kpi.tracking_signal(a, f)
    assert math.isnan(ts) or abs(ts) <= len(a) + 1e-9  # |sum e| <= n * MAD


def test_metric_table_pools_groups():
    frame = pd.DataFrame({"g": ["x", "x", "y"], "actual": [10.0, 30.0, 5.0], "forecast": [20.0, 30.0, 5.0]})
    out = kpi.metric_table(frame, ["g"], metrics=("WAPE", "BIAS")).set_index(["g", "metric"])
    assert out.loc[("x", "WAPE"), "value"] == pytest.approx(10 / 40)
    assert out.loc[("y", "BIAS"), "value"] == 0 and out.loc[("x", "WAPE"), "observations"] == 2


def test_tracking_signal_of_a_group_is_that_of_its_monthly_sums():
    # A over-forecasts by 2 each month, B misses by -1, -1, +3: the group's monthly errors are 1, 1, 5,
    # sum 7, MAD 7/3, so 3.0 (pooling the six item-months would give 7 / (11/6) = 3.8, and grow with more items)
    frame = pd.DataFrame({"g": "x", "period": [1, 2, 3, 1, 2, 3], "actual": [10.0] * 6,
                          "forecast": [12.0, 12.0, 12.0, 9.0, 9.0, 13.0]})
    row = kpi.metric_table(frame, ["g"], metrics=("TRACKING_SIGNAL",), period="period").iloc[0]
    assert row["value"] == pytest.approx(3.0) and row["observations"] == 3
    pooled = kpi.metric_table(frame, ["g"], metrics=("TRACKING_SIGNAL",)).iloc[0]
    assert pooled["value"] == pytest.approx(7 / (11 / 6)) and pooled["observations"] == 6
    frame.loc[5, "actual"] = np.nan  # a pair without its actual is left out of the sums
    row = kpi.metric_table(frame, ["g"], metrics=("TRACKING_SIGNAL",), period="period").iloc[0]
    assert row["value"] == pytest.approx((1 + 1 + 2) / ((1 + 1 + 2) / 3))


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_pooled_mase_is_mase_for_one_series(data):
    y = np.array(data.draw(st.lists(st.floats(0, 1e4, allow_nan=False), min_size=3, max_size=20)))
    a = np.array(data.draw(_values))
    f = np.array(data.draw(st.lists(st.floats(0, 1e4, allow_nan=False), min_size=len(a), max_size=len(a))))
    scale = kpi.naive_scale(y, 1)
    mean_step = np.mean(np.abs(np.diff(y)))  # steps of subnormal size average to 0.0: MASE undefined, as for none
    expected = np.mean(np.abs(f - a)) / mean_step if mean_step > 0 else np.nan
    assert kpi.mase(a, f, y, 1) == pytest.approx(expected, nan_ok=True)
    assert kpi.scaled_mae(a, f, np.full(len(a), scale)) == pytest.approx(kpi.mase(a, f, y, 1), nan_ok=True)
    frame = pd.DataFrame({"g": 1, "actual": a, "forecast": f, "scale": scale})
    got = kpi.metric_table(frame, ["g"], metrics=("MASE",))["value"].iloc[0]
    assert got == pytest.approx(expected, nan_ok=True)
