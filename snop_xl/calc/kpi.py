"""Performance metrics of a plan, shared by the cycle's step 5 and the Excel UDFs (one formula, one place).

Every function takes array-likes of equal length (lists, numpy arrays, pandas Series, cell ranges converted by
xlwings) and returns a float. Pairs where the actual or the forecast is missing (None/NaN) are ignored, so a range
with blank future months can be passed whole. A metric that is undefined for the data (no volume, no non-zero
actual, no error at all) returns NaN rather than raising: a KPI sheet must show "n/a", not stop the cycle.

Sign convention: errors are *forecast - actual* everywhere, so a positive bias and a positive tracking signal both
mean over-forecasting. Formulas and a worked example: docs/kpis.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from snop_xl.calc.supply.inventory import cover

METRICS = ("WAPE", "ACCURACY", "MAPE", "BIAS", "MASE", "TRACKING_SIGNAL")


def _arr(values: Any) -> np.ndarray:
    """Float vector from any array-like; None and blank text become NaN; 2-D cell ranges are flattened."""
    if isinstance(values, (pd.Series, pd.Index)):
        return values.to_numpy(dtype="float64", na_value=np.nan)
    flat = np.ravel(np.asarray(values, dtype=object))
    return np.array([np.nan if v is None or v is pd.NA or (isinstance(v, str) and not v.strip()) else float(v)
                     for v in flat], dtype="float64")


def _pairs(actual: Any, forecast: Any) -> tuple[np.ndarray, np.ndarray]:
    a, f = _arr(actual), _arr(forecast)
    if a.shape != f.shape:
        raise ValueError(f"actual and forecast differ in length ({a.size} vs {f.size})")
    keep = ~(np.isnan(a) | np.isnan(f))
    return a[keep], f[keep]


def observations(actual: Any, forecast: Any) -> int:
    """Number of (actual, forecast) pairs the metrics use."""
    return int(_pairs(actual, forecast)[0].size)


def wape(actual: Any, forecast: Any) -> float:
    """Weighted absolute percentage error: sum|F - A| / sum|A|. Volume-weighted, so slow movers don't dominate."""
    a, f = _pairs(actual, forecast)
    volume = np.abs(a).sum()
    return float(np.abs(f - a).sum() / volume) if volume > 0 else float("nan")


def forecast_accuracy(actual: Any, forecast: Any) -> float:
    """1 - WAPE: 100% is perfect; it goes below zero when the errors exceed the volume sold."""
    return 1.0 - wape(actual, forecast)


def bias(actual: Any, forecast: Any) -> float:
    """sum(F - A) / sum(A): positive = over-forecast (excess stock), negative = under-forecast (lost sales)."""
    a, f = _pairs(actual, forecast)
    volume = a.sum()
    return float((f - a).sum() / volume) if volume > 0 else float("nan")


def mape(actual: Any, forecast: Any) -> float:
    """Mean of |F - A| / |A| over the months with a non-zero actual (undefined where nothing sold)."""
    a, f = _pairs(actual, forecast)
    nz = a != 0
    return float(np.mean(np.abs(f[nz] - a[nz]) / np.abs(a[nz]))) if nz.any() else float("nan")


def naive_scale(insample: Any, season_length: int = 1) -> float:
    """MASE's denominator: mean |y(t) - y(t - m)| of the (seasonal) naive forecast over the in-sample history;
    NaN when the history is not longer than one season or never changes (no scale to measure errors against)."""
    y = _arr(insample)
    if y.size <= season_length:
        return float("nan")
    naive = np.abs(y[season_length:] - y[:-season_length])
    naive = naive[~np.isnan(naive)]
    scale = float(naive.mean()) if naive.size else float("nan")
    return scale if scale > 0 else float("nan")


def scaled_mae(actual: Any, forecast: Any, scale: Any) -> float:
    """Mean of |F - A| / scale over the pairs with a positive scale: MASE pooled over several series, each error
    divided by its own series' naive scale (a scalar scale applies to every pair)."""
    a, f = _arr(actual), _arr(forecast)
    s = np.broadcast_to(_arr(scale), a.shape) if np.ndim(scale) == 0 else _arr(scale)
    if not (a.shape == f.shape == s.shape):
        raise ValueError(f"actual, forecast and scale differ in length ({a.size}, {f.size}, {s.size})")
    keep = ~(np.isnan(a) | np.isnan(f) | np.isnan(s)) & (s > 0)
    return float(np.mean(np.abs(f[keep] - a[keep]) / s[keep])) if keep.any() else float("nan")


def mase(actual: Any, forecast: Any, insample: Any, season_length: int = 1) -> float:
    """Mean |F - A| scaled by the in-sample mean absolute error of the (seasonal) naive forecast on `insample`."""
    return scaled_mae(actual, forecast, naive_scale(insample, season_length))


def tracking_signal(actual: Any, forecast: Any) -> float:
    """Running sum of errors / mean absolute deviation: beyond about +-4 the forecast is persistently biased."""
    a, f = _pairs(actual, forecast)
    mad = np.mean(np.abs(f - a)) if a.size else 0.0
    noise = 1e-9 * max(1.0, float(np.mean(np.abs(a)))) if a.size else 0.0  # rounding, not a forecast error
    return float((f - a).sum() / mad) if mad > noise else float("nan")


def fill_rate(demand: Any, delivered: Any) -> float:
    """Share of demanded units delivered: sum(min(delivered, demand)) / sum(demand)."""
    d, s = _pairs(demand, delivered)
    total = d.sum()
    return float(np.minimum(np.maximum(s, 0), d).sum() / total) if total > 0 else float("nan")


def plan_adherence(actual: Any, plan: Any) -> float:
    """1 - sum|actual - plan| / sum(plan): how closely operations executed the published supply plan."""
    p, a = _pairs(plan, actual)
    total = p.sum()
    return float(1.0 - np.abs(a - p).sum() / total) if total > 0 else float("nan")


def days_of_supply(inventory: float, future_demand: Any, days_per_period: float = 30.0) -> float:
    """Days the inventory lasts against the coming months' demand, month by month (the last pro rata); past the
    months given, demand continues at their average, as in the SupplyPlan (`supply.inventory.cover`). NaN when no
    demand is given at all."""

    demand = _arr(future_demand)
    demand = demand[~np.isnan(demand)]
    rate = demand.mean() if demand.size else 0.0
    return float(cover(np.array([float(inventory)]), demand[None, :], np.array([rate]))[0] * days_per_period)


def accuracy(actual: Any, forecast: Any, metric: str = "ACCURACY", insample: Any = None,
             season_length: int = 1) -> float:
    """One entry point for every forecast metric (what the SNOP_ACCURACY worksheet function calls).

    metric: WAPE, ACCURACY (1 - WAPE), MAPE, BIAS, MASE (needs `insample` history) or TRACKING_SIGNAL.
    """
    name = str(metric).strip().upper().replace(" ", "_").replace("-", "_")
    if name == "MASE":
        if insample is None:
            raise ValueError("MASE needs the in-sample history (insample=...) to scale the errors")
        return mase(actual, forecast, insample, season_length)
    funcs = {"WAPE": wape, "ACCURACY": forecast_accuracy, "MAPE": mape, "BIAS": bias,
             "TRACKING_SIGNAL": tracking_signal}
    if name not in funcs:
        raise ValueError(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}")
    return funcs[name](actual, forecast)


# ---- frames ---------------------------------------------------------------------------------------------------
#: Metrics reported per group by `metric_table` (MASE only where the frame has a per-row naive `scale`).
GROUP_METRICS: tuple[str, ...] = ("ACCURACY", "WAPE", "BIAS", "MAPE", "TRACKING_SIGNAL", "MASE")


def monthly_sums(frame: pd.DataFrame, period: str, actual: str, forecast: str) -> pd.DataFrame:
    """Actual and forecast of a group summed per `period`, over the rows where both exist: the group's own
    monthly series (a family's, the total's)."""
    both = frame[[period, actual, forecast]].dropna(subset=[actual, forecast])
    return both.groupby(period, sort=True)[[actual, forecast]].sum()


def metric_table(frame: pd.DataFrame, by: Sequence[str], actual: str = "actual", forecast: str = "forecast",
                 metrics: Iterable[str] = GROUP_METRICS, scale: str = "scale",
                 period: str | None = None) -> pd.DataFrame:
    """Long table of metrics per group of `frame`: the columns of `by`, then metric, value, observations.

    MASE pools the group's errors each divided by its row's `scale` column (the naive in-sample error of that
    row's series, see `naive_scale`); it is skipped when the frame has no such column, and its observations count
    only the rows with a scale. With `period`, TRACKING_SIGNAL is that of the group's monthly sums
    (`monthly_sums`; its observations are months): pooled over many items' rows it would grow with the number of
    items and the +-4 rule would say nothing.

    The same numbers as the one-metric functions above applied group by group, computed for all groups at once
    from grouped sums (one pass over the rows, whatever the number of groups)."""
    metrics = tuple(m for m in metrics if m != "MASE" or scale in frame)
    columns = [*by, "metric", "value", "observations"]
    if not len(frame) or not metrics:
        return pd.DataFrame([], columns=columns)
    by = list(by)
    a = frame[actual].to_numpy(dtype="float64", na_value=np.nan)
    f = frame[forecast].to_numpy(dtype="float64", na_value=np.nan)
    ok = ~(np.isnan(a) | np.isnan(f))
    a0, f0 = np.where(ok, a, 0.0), np.where(ok, f, 0.0)
    err = np.abs(f0 - a0)
    nz = ok & (a0 != 0)
    with np.errstate(over="ignore"):  # a subnormal actual: an infinite percentage, as `mape` gives
        ape = np.where(nz, err / np.where(nz, np.abs(a0), 1.0), 0.0)
    cols = {"n": ok.astype("float64"), "abs_a": np.abs(a0), "a": a0, "err": err, "fa": f0 - a0, "ape": ape,
            "nz": nz.astype("float64")}
    if "MASE" in metrics:
        s = frame[scale].to_numpy(dtype="float64", na_value=np.nan)
        keep = ok & ~np.isnan(s) & (s > 0)
        with np.errstate(over="ignore"):  # a subnormal scale: an infinite MASE, as `scaled_mae` gives
            cols["mase_err"] = np.where(keep, err / np.where(keep, s, 1.0), 0.0)
        cols["mase_n"] = keep.astype("float64")
    keys = frame[by].reset_index(drop=True)
    work = pd.concat([keys, pd.DataFrame(cols)], axis=1)
    sums = work.groupby(by, sort=True, dropna=False).sum()
    n = sums["n"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        volume, total = sums["abs_a"].to_numpy(), sums["a"].to_numpy()
        wape_ = np.where(volume > 0, sums["err"].to_numpy() / np.where(volume > 0, volume, 1.0), np.nan)
        values = {"WAPE": wape_, "ACCURACY": 1.0 - wape_,
                  "BIAS": np.where(total > 0, sums["fa"].to_numpy() / np.where(total > 0, total, 1.0), np.nan),
                  "MAPE": np.where(sums["nz"].to_numpy() > 0, sums["ape"].to_numpy() / sums["nz"].to_numpy(),
                                   np.nan)}
        counts = {m: n for m in values}
        if "MASE" in metrics:
            k = sums["mase_n"].to_numpy()
            values["MASE"] = np.where(k > 0, sums["mase_err"].to_numpy() / np.where(k > 0, k, 1.0), np.nan)
            counts["MASE"] = k
        if "TRACKING_SIGNAL" in metrics:
            values["TRACKING_SIGNAL"], counts["TRACKING_SIGNAL"] = _tracking_signals(
                work, frame, by, sums.index, period, ok, a0, f0, n)
    index = sums.index.to_frame(index=False)
    nm = len(metrics)
    out = index.loc[np.repeat(np.arange(len(index)), nm)].reset_index(drop=True)
    out["metric"] = np.tile(np.asarray(metrics, dtype=object), len(index))
    out["value"] = np.column_stack([values[m] for m in metrics]).ravel()
    out["observations"] = np.column_stack([counts[m] for m in metrics]).ravel().astype("int64")
    return out[columns]


def _tracking_signals(work: pd.DataFrame, frame: pd.DataFrame, by: list[str], groups: pd.Index, period: str | None,
                      ok: np.ndarray, a0: np.ndarray, f0: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """TRACKING_SIGNAL and its observations per group (in `groups` order): of the group's rows, or, with `period`,
    of its monthly sums (`monthly_sums`)."""
    if period is None:  # pooled over the rows: sum(F - A) / mean|F - A|
        parts = work.assign(_e=work["err"], _a=work["abs_a"])
        g = parts.groupby(by, sort=True, dropna=False)[["fa", "_e", "_a"]].sum()
        count = n
    else:
        rows = pd.concat([work.loc[ok, by].reset_index(drop=True), pd.DataFrame({"_p": frame[period].array[ok], "_a": a0[ok],
                                                           "_f": f0[ok]})], axis=1)
        monthly = rows.groupby([*by, "_p"], sort=True, dropna=False)[["_a", "_f"]].sum()
        monthly = pd.DataFrame({"fa": monthly["_f"] - monthly["_a"], "_e": (monthly["_f"] - monthly["_a"]).abs(),
                                "_a": monthly["_a"].abs(), "_m": 1.0}).reset_index()
        g = monthly.groupby(by, sort=True, dropna=False)[["fa", "_e", "_a", "_m"]].sum()
        g = g.reindex(groups, fill_value=0.0)
        count = g.pop("_m").to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        mad = np.where(count > 0, g["_e"].to_numpy() / np.where(count > 0, count, 1.0), 0.0)
        mean_a = np.where(count > 0, g["_a"].to_numpy() / np.where(count > 0, count, 1.0), 0.0)
        noise = np.where(count > 0, 1e-9 * np.maximum(1.0, mean_a), 0.0)
        value = np.where(mad > noise, g["fa"].to_numpy() / np.where(mad > noise, mad, 1.0), np.nan)
    return value, count
