"""The KPI tables computed for all groups at once equal the group-by-group computation they replaced (kept here as
the reference: the one-metric functions of calc/kpi.py applied to each group, each item's series sliced per origin)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from snop_xl.calc import kpi
from snop_xl.steps import kpis


def reference_metric_table(frame, by, actual="actual", forecast="forecast", metrics=kpi.GROUP_METRICS,
                           scale="scale", period=None):
    metrics = tuple(m for m in metrics if m != "MASE" or scale in frame)
    rows = []
    for key, g in frame.groupby(list(by), sort=True, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        n = kpi.observations(g[actual], g[forecast])
        for m in metrics:
            if m == "MASE":
                scaled = g[scale].where(g[scale] > 0)
                rows.append((*key, m, kpi.scaled_mae(g[actual], g[forecast], scaled),
                             kpi.observations(g[actual], g[forecast].where(scaled.notna()))))
            elif m == "TRACKING_SIGNAL" and period is not None:
                sums = kpi.monthly_sums(g, period, actual, forecast)
                rows.append((*key, m, kpi.tracking_signal(sums[actual], sums[forecast]), len(sums)))
            else:
                rows.append((*key, m, kpi.accuracy(g[actual], g[forecast], m), n))
    return pd.DataFrame(rows, columns=[*by, "metric", "value", "observations"])


def reference_naive_scales(history, targets, season_length=12):
    series = {item: g.set_index("period")["qty"].sort_index() for item, g in history.groupby("item")}
    out = []
    for item, origin in zip(targets["item"], targets["origin"]):
        y = series.get(item, pd.Series(dtype="float64"))
        y = y[y.index < origin]
        if len(y):
            y = y.reindex(pd.period_range(y.index.min(), origin - 1, freq="M"))
        m = season_length if len(y) > season_length else 1
        out.append(kpi.naive_scale(y.to_numpy(dtype="float64"), m))
    return pd.Series(out, index=targets.index, dtype="float64")


def reference_seasonal_naive(history, targets, season_length=12):
    h = history.set_index(["item", "period"])["qty"]
    m = int(season_length)
    lag = np.asarray([(p - c).n + 1 for p, c in zip(targets["period"], targets["origin"])])
    back = m * np.ceil(lag / m).astype(int)
    source = [p - int(b) for p, b in zip(targets["period"], back)]
    values = h.reindex(pd.MultiIndex.from_arrays([targets["item"].to_numpy(), pd.PeriodIndex(source, freq="M")]))
    out = pd.Series(values.to_numpy(), index=targets.index, dtype="float64")
    last = history.sort_values("period")
    for i in out.index[out.isna()]:
        before = last[(last["item"] == targets.at[i, "item"]) & (last["period"] < targets.at[i, "origin"])]
        if len(before):
            out.at[i] = before["qty"].iloc[-1]
    return out


def random_history(rng, items=25, months=40):
    """Monthly actuals with gaps, late starts, flat and zero series, an item with one month."""
    rows = []
    start = pd.Period("2023-01", "M")
    for i in range(items):
        first = int(rng.integers(0, months - 1))
        level = rng.choice([0.0, 5.0, 100.0])
        for t in range(first, months):
            if rng.random() < 0.15:
                continue  # a gap
            q = level if i % 7 == 3 else float(rng.poisson(level + 1) if level else rng.choice([0, 0, 3]))
            rows.append({"item": f"I{i:02d}", "period": start + t, "qty": q})
    rows.append({"item": "ONE", "period": start + months - 5, "qty": 4.0})
    return pd.DataFrame(rows), start


def random_targets(rng, history, start, n=400, months=40):
    items = np.append(history["item"].unique(), "NOHIST")
    origin = [start + int(o) for o in rng.integers(-2, months + 3, n)]
    lag = rng.integers(1, 16, n)
    return pd.DataFrame({"item": rng.choice(items, n), "origin": origin,
                         "period": [o + int(k) - 1 for o, k in zip(origin, lag)]})


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("season_length", [12, 4])
def test_naive_scales_and_seasonal_naive_equal_the_per_item_computation(seed, season_length):
    rng = np.random.default_rng(seed)
    history, start = random_history(rng)
    targets = random_targets(rng, history, start)
    targets.index = targets.index * 3 + 5  # not a RangeIndex: results align on the targets' own index
    got = kpis.naive_scales(history, targets, season_length)
    want = reference_naive_scales(history, targets, season_length)
    pd.testing.assert_series_equal(got, want, rtol=1e-12, atol=1e-12)
    got = kpis.seasonal_naive(history, targets, season_length)
    want = reference_seasonal_naive(history, targets, season_length)
    pd.testing.assert_series_equal(got, want, rtol=0, atol=0)


@pytest.mark.parametrize("seed", range(8))
def test_metric_table_equals_the_group_by_group_computation(seed):
    rng = np.random.default_rng(seed)
    n = 600
    frame = pd.DataFrame({
        "name": rng.choice(["a", "b", "c", None], n), "lag": rng.integers(1, 4, n),
        "period": [pd.Period("2026-01", "M") + int(k) for k in rng.integers(0, 6, n)],
        "actual": np.where(rng.random(n) < 0.1, np.nan, rng.choice([0.0, 0.0, 3.0, 10.0, 250.0], n)),
        "forecast": np.where(rng.random(n) < 0.1, np.nan, rng.gamma(2.0, 30.0, n)),
        "scale": np.where(rng.random(n) < 0.2, np.nan, rng.choice([0.0, 1.5, 20.0], n))})
    frame.loc[frame["name"] == "c", "actual"] = np.nan  # a group with no pair at all
    frame.loc[frame["name"] == "b", "forecast"] = frame.loc[frame["name"] == "b", "actual"]  # perfect: no MAD
    for by, period in ((["name", "lag"], "period"), (["name"], None), (["lag", "period"], "period")):
        got = kpi.metric_table(frame, by, period=period)
        want = reference_metric_table(frame, by, period=period)
        pd.testing.assert_frame_equal(got, want, check_dtype=False, rtol=1e-12, atol=1e-12)
    got = kpi.metric_table(frame.drop(columns="scale"), ["name"], metrics=("ACCURACY", "MASE"))
    assert list(got["metric"].unique()) == ["ACCURACY"]  # MASE skipped without a scale column
    assert kpi.metric_table(frame.iloc[:0], ["name"]).empty


def reference_plan_kpis(inputs, outputs):
    rows = []
    supply = outputs.get("SupplyPlan")
    if supply is not None and len(supply):
        sp = kpis._with_family(supply, inputs.items).assign(delivered=supply["demand"] - supply["shortage"].fillna(0))
        for level in kpis.LEVELS:
            key = kpis.LEVEL_KEYS.get(level)
            for name, g in (sp.groupby(key) if key else [("Total", sp)]):
                rows.append([level, name, "FILL_RATE", "plan", None, kpi.fill_rate(g["demand"], g["delivered"]),
                             len(g), None, "plan"])
    demand = outputs.get("DemandPlan")
    if demand is not None and len(demand) and len(inputs.inventory):
        d = demand[demand["level"] == "Item"]
        stock = kpis._with_family(inputs.inventory[["item", "on_hand"]], inputs.items)
        for level in kpis.LEVELS:
            key = kpis.LEVEL_KEYS.get(level)
            for name, g in (stock.groupby(key) if key else [("Total", stock)]):
                dem = d[d["item"].isin(g["item"])].groupby("period")["consensus"].sum().sort_index()
                days = kpi.days_of_supply(g["on_hand"].sum(), dem, inputs.settings.days_per_period)
                rows.append([level, name, "DAYS_OF_SUPPLY", "on hand", None, days if np.isfinite(days) else None,
                             len(dem), None, "plan"])
    return kpis.kpi_rows(pd.DataFrame(rows, columns=kpis.KPI_COLUMNS))


@pytest.mark.parametrize("seed", range(5))
def test_plan_kpis_equal_the_group_by_group_computation(seed):
    from types import SimpleNamespace

    rng = np.random.default_rng(seed)
    n, months = 30, pd.period_range("2027-01", periods=6, freq="M")
    items = pd.DataFrame({"item": [f"I{i:02d}" for i in range(n)],
                          "family": rng.choice(["F1", "F2", "F3", None], n)})
    grid = pd.DataFrame({"item": np.repeat(items["item"], len(months)), "period": np.tile(months, n)})
    grid = grid[rng.random(len(grid)) > (0.1 if seed % 2 else 0.0)].reset_index(drop=True)  # some months missing
    supply = grid.assign(demand=np.where(rng.random(len(grid)) < 0.05, np.nan, rng.gamma(2, 20, len(grid))),
                         shortage=np.where(rng.random(len(grid)) < 0.5, np.nan, rng.uniform(0, 30, len(grid))))
    supply.loc[supply["item"] == "I03", "demand"] = 0.0  # no demand: no fill rate
    demand = grid.assign(level="Item", consensus=np.where(rng.random(len(grid)) < 0.05, np.nan,
                                                          rng.gamma(2, 20, len(grid))))
    demand.loc[demand["item"] == "I05", "consensus"] = 0.0  # stock that never sells: unbounded cover
    inventory = pd.DataFrame({"item": list(items["item"][:-3]) + ["I01", "GONE"],
                              "on_hand": np.append(rng.choice([0.0, 10.0, 200.0, 5000.0], n - 3), [4.0, 7.0])})
    inputs = SimpleNamespace(items=items, inventory=inventory, settings=SimpleNamespace(days_per_period=30.0))
    outputs = {"SupplyPlan": supply, "DemandPlan": demand}
    got = kpis.plan_kpis(inputs, outputs)
    want = reference_plan_kpis(inputs, outputs)
    pd.testing.assert_frame_equal(got, want, rtol=1e-12, atol=1e-12)
