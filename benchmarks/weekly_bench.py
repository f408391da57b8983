"""Long weekly histories: speed and accuracy of forecast() fitted on its history window against the whole history.

M4 Weekly (359 series, up to 2,597 weeks) is not available offline, so the data are 359 synthetic weekly series
of the same size: lengths drawn between 500 and 2,600 weeks, a level that drifts (a random walk on the log scale,
so old years say less about next quarter than recent ones), a trend, a yearly season of 52.18 weeks (the real
year: a season of 52 drifts a day and a quarter a year against it) on about two thirds of the series, and
multiplicative noise. The last 13 weeks are held out; metrics: sMAPE (%) and MASE (scaled by the in-sample
seasonal naive, m = 52, over each series' whole training history so both runs share the scale), and series per
second of the forecast() call itself (one process, one core for BLAS). "full" fits each series on all of its
history (the rule before: 359 lengths, so 359 separate fits); the default fits the last `history_window(52)`
weeks; --windows adds other window lengths for comparison, all in the same run.

    .venv/bin/python benchmarks/weekly_bench.py [--series 359] [--windows 104,260,520] [--seed 1] [--repeat 3]
                                                [--skip-full]
"""

from __future__ import annotations

import argparse
import os
import time

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import numpy as np
import pandas as pd

from snop_xl.calc.forecast import forecast
from snop_xl.calc.forecast.api import history_window

M, H = 52, 13
FULL = 10**9  # a window longer than any history: every series on all of its weeks


def weekly_series(n: int, rng: np.random.Generator) -> list[np.ndarray]:
    """n synthetic weekly demand series (see the module docstring)."""
    out = []
    for _ in range(n):
        T = int(rng.integers(500, 2601))
        t = np.arange(T)
        level = np.log(rng.lognormal(6.5, 1.0))
        drift = np.cumsum(rng.normal(0, rng.uniform(0.005, 0.02), T))  # slow random walk of the log level
        trend = rng.normal(0.0005, 0.001) * t  # about +2.6% a year on average
        season = np.zeros(T)
        if rng.random() < 2 / 3:
            phase = rng.uniform(0, 2 * np.pi)
            amp = rng.uniform(0.1, 0.4)
            year = 2 * np.pi * t / 52.18
            season = amp * np.sin(year + phase) + 0.3 * amp * np.sin(2 * year + 2 * phase)
        noise = rng.normal(0, rng.uniform(0.05, 0.2), T)
        out.append(np.exp(level + drift + trend + season + noise))
    return out


def frame(series: list[np.ndarray]) -> pd.DataFrame:
    """Long history, each series ending on the same week (as an ERP extract would)."""
    end = pd.Period("2024-12-29", "W")
    parts = [pd.DataFrame({"item": f"w{i:03d}", "period": pd.period_range(end=end, periods=len(x), freq="W"),
                           "qty": x}) for i, x in enumerate(series)]
    return pd.concat(parts, ignore_index=True)


def evaluate(train: list[np.ndarray], test: list[np.ndarray], window: int, repeat: int
             ) -> tuple[float, float, float, float, str]:
    """(series/s by wall time, series/s by CPU time, sMAPE %, MASE, the most common method) of forecast() with
    `window` on the training series; the fastest of `repeat` runs (the machine is shared: the least disturbed)."""
    hist = frame(train)
    wall = cpu = np.inf
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        fc = forecast(hist, H, season_length=M, window=window)
        wall, cpu = min(wall, time.perf_counter() - w0), min(cpu, time.process_time() - c0)
    got = fc.pivot(index="item", columns="period", values="forecast").to_numpy()
    smapes, mases = [], []
    for x, y, f in zip(train, test, got):
        smapes.append(200 * np.mean(np.abs(y - f) / (np.abs(y) + np.abs(f)).clip(1e-9)))
        mases.append(np.mean(np.abs(y - f)) / np.mean(np.abs(x[M:] - x[:-M])))
    method = fc.groupby("item")["method"].first().value_counts().index[0]
    return len(train) / wall, len(train) / cpu, float(np.mean(smapes)), float(np.mean(mases)), method


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--series", type=int, default=359)
    ap.add_argument("--windows", default="", help="extra window lengths in weeks, comma-separated")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3, help="runs per window (the fastest counts); full history: 1")
    ap.add_argument("--skip-full", action="store_true", help="leave out the (slow) whole-history run")
    args = ap.parse_args()
    series = weekly_series(args.series, np.random.default_rng(args.seed))
    train, test = [x[:-H] for x in series], [x[-H:] for x in series]
    lengths = np.array([len(x) for x in train])
    print(f"{len(train)} weekly series, {lengths.min()}-{lengths.max()} weeks (median {int(np.median(lengths))}), "
          f"h={H}, season {M}; default window {history_window(M)} weeks")
    runs = [] if args.skip_full else [("full history", FULL)]
    runs += [(f"window {history_window(M)} (default)", None)]
    runs += [(f"window {int(w)}", int(w)) for w in args.windows.split(",") if w.strip()]
    print(f"{'fit on':<26} {'series/s wall':>13} {'series/s CPU':>12} {'sMAPE':>7} {'MASE':>7}  most common method")
    for label, window in runs:
        wall, cpu, smape, mase, method = evaluate(train, test, window, 1 if window == FULL else args.repeat)
        print(f"{label:<26} {wall:13.1f} {cpu:12.1f} {smape:7.2f} {mase:7.3f}  {method}", flush=True)


if __name__ == "__main__":
    main()
