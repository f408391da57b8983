"""Validation split behind the choice of the "auto" smooth-series model: never looks at the test horizon.

For Tourism monthly (h=24) and M1 monthly (h=18) every *training* series is cut again: its last h points become a
validation horizon, the rest the fitting data. Each candidate member of `snop_xl.forecast.core.MEMBERS` and every
mean / median combination of 2-5 of them is scored there (sMAPE and MASE, as in `forecast_bench.py`), next to
statsforecast's DynamicOptimizedTheta fitted on the same shortened series. The rule: keep the combinations that beat
DOTM on all four targets (sMAPE and MASE on both sets), then take the lowest mean of their four scores relative to
DOTM's. `core.AUTO_MEMBERS` / `core.AUTO_RULE` must be the printed winner.

    python benchmarks/forecast_validation.py            # full sets
    python benchmarks/forecast_validation.py --limit 200
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import warnings

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from forecast_bench import M, load, scores  # noqa: E402

from snop_xl.forecast import core  # noqa: E402

SETS = (("tourism", 24), ("m1", 18))


def split(series: list[tuple[np.ndarray, np.ndarray]], h: int, origin: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(fitting part, validation part) of each training series, the validation part ending `origin` periods before
    the end of the training data; the competition's test part is dropped."""
    out = []
    for x, _ in series:
        end = len(x) - origin
        if end - h >= core.MIN_MODEL_LENGTH:
            out.append((x[:end - h], x[end - h:end]))
    return out


def forecasts(pairs, h: int) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """The full "auto" forecast (n, h), the rows it sends to the member combination, and every member's forecast
    there; series grouped by length into matrices as `forecast()` does."""
    lengths = np.array([len(x) for x, _ in pairs])
    auto = np.empty((len(pairs), h))
    routed = np.zeros(len(pairs), dtype=bool)
    members = {name: np.full((len(pairs), h), np.nan) for name in core.MEMBERS}
    for T in np.unique(lengths):
        rows = np.flatnonzero(lengths == T)
        y = np.array([pairs[i][0] for i in rows])
        res = core.fit_matrix(y, h, M, "auto")
        auto[rows] = res.mean
        hit = res.label == core.AUTO_NAME
        routed[rows[hit]] = True
        cache: dict = {}
        for name, fn in core.MEMBERS.items():
            if hit.any():
                members[name][rows[hit]] = fn(y[hit], h, M, cache)[0]
    return auto, routed, members


class Scorer:
    """sMAPE and MASE of many forecasts for the same (fitting, validation) pairs, vectorised."""

    def __init__(self, pairs):
        self.actual = np.array([v for _, v in pairs])
        self.scale = np.array([max(np.mean(np.abs(x[M:] - x[:-M])) if len(x) > M else np.mean(np.abs(np.diff(x))),
                                   1e-9) for x, _ in pairs])

    def __call__(self, fc: np.ndarray) -> tuple[float, float]:
        fc = np.maximum(fc, 0.0)  # forecast() never forecasts below zero
        err = np.abs(self.actual - fc)
        smape = 200 * np.mean(err / (np.abs(self.actual) + np.abs(fc)).clip(1e-9))
        return float(smape), float(np.mean(err.mean(axis=1) / self.scale))


def dotm(pairs, h: int) -> np.ndarray:
    from statsforecast.models import DynamicOptimizedTheta
    out = []
    for x, _ in pairs:
        try:
            out.append(DynamicOptimizedTheta(season_length=M).forecast(y=x, h=h)["mean"])
        except Exception:
            out.append(np.repeat(x[-1], h))
    return np.array(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--max-size", type=int, default=5)
    ap.add_argument("--top", type=int, default=15)
    ap.add_argument("--origins", default="0,6", help="validation horizons end this many periods before the end")
    args = ap.parse_args()
    origins = [int(o) for o in args.origins.split(",")]
    results: dict[str, dict[str, np.ndarray]] = {}
    base: dict[str, np.ndarray] = {}
    names = list(core.MEMBERS)
    for name, h in SETS:
        series = load(name, args.limit)
        for origin in origins:
            pairs = split(series, h, origin)
            sc = Scorer(pairs)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                auto, routed, fcs = forecasts(pairs, h)
                ref = sc(dotm(pairs, h))
            base[name] = base.get(name, 0) + np.array(ref) / len(origins)
            print(f"{name} origin -{origin}: {len(pairs)} series ({routed.sum()} to the combination), h={h}; "
                  f"DOTM sMAPE {ref[0]:.2f} MASE {ref[1]:.3f}; auto now {sc(auto)[0]:.2f} {sc(auto)[1]:.3f}")
            for size in range(1, args.max_size + 1):
                for combo in itertools.combinations(names, size):
                    arr = np.stack([fcs[c][routed] for c in combo])
                    for rule in ("mean",) if size <= 2 else ("mean", "median"):
                        fc = auto.copy()
                        fc[routed] = arr.mean(axis=0) if rule == "mean" else np.median(arr, axis=0)
                        acc = results.setdefault(core.auto_label(combo, rule), {})
                        acc[name] = acc.get(name, 0) + np.array(sc(fc)) / len(origins)

    def rel(label: str) -> float:
        return float(np.mean([results[label][n][i] / base[n][i] for n, _ in SETS for i in (0, 1)]))

    def beats(label: str) -> bool:
        return all(results[label][n][i] < base[n][i] for n, _ in SETS for i in (0, 1))

    head = f"{'candidate':<58}" + "".join(f"{n + ' ' + k:>14}" for n, _ in SETS for k in ("sMAPE", "MASE"))
    print("\n" + head + f"{'rel':>8}{'beats':>7}")
    row = lambda lab, vals, r, b: print(f"{lab:<58}" + "".join(f"{v:>14.3f}" for v in vals) + f"{r:>8.4f}{b:>7}")
    row("sf DynamicOptimizedTheta", [base[n][i] for n, _ in SETS for i in (0, 1)], 1.0, "-")
    print("-- single members")
    for lab in core.MEMBERS:
        row(lab, [results[lab][n][i] for n, _ in SETS for i in (0, 1)], rel(lab), "yes" if beats(lab) else "no")
    current = core.auto_label()
    print("-- current auto")
    row(current, [results[current][n][i] for n, _ in SETS for i in (0, 1)], rel(current),
        "yes" if beats(current) else "no")
    ranked = sorted((lab for lab in results if beats(lab)), key=rel)
    print(f"-- best {args.top} of {len(ranked)} combinations that beat DOTM on all four (of {len(results)} tried)")
    for lab in ranked[:args.top]:
        row(lab, [results[lab][n][i] for n, _ in SETS for i in (0, 1)], rel(lab), "yes")
    if ranked:
        print(f"\nchoice: {ranked[0]}")


if __name__ == "__main__":
    main()
