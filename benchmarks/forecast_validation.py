"""Validation split behind the choice of the "auto" smooth-series model: never looks at the test horizon.

For Tourism monthly (h=24) and M1 monthly (h=18) (`--sets`: also `pbs`, forecast_bench.py's PBS aggregated set,
h=24; not in the default, the sets `models.AUTO_GROUPS` was chosen on) every *training* series is cut again: its last
h points (ending 0 and 6 periods before the end of the training data) become validation horizons, the rest the
fitting data. The smooth series with >= 2 seasons go to the combination; `models.auto_group` splits them by their
own history into "short" (< 3 seasons), "seasonal" and "nonseasonal" (ACF test). Per group every mean / median /
trimmed-mean combination of 1-5 members of `models.MEMBERS` is scored on that group's items (sMAPE and MASE, as in
`forecast_bench.py`) against statsforecast's DynamicOptimizedTheta fitted on the same shortened series.

The rule: per group, the combination with the lowest mean of its sMAPE and MASE relative to DOTM's (averaged over
the set x origin cells holding >= MIN_CELL items of the group; within TIE of it, the one with the fewest members);
the scheme of the per-group winners is kept if it beats DOTM on all four targets (sMAPE and MASE on both sets) and
the previous single combination on the mean relative score; `models.AUTO_GROUPS` records the choice (and why it may
differ). The per-length-bucket table shows where a scheme wins and loses: the validation series are h (+6)
periods shorter than the test-time ones, so the overall figures over-weight short series.

    python benchmarks/forecast_validation.py            # full sets
    python benchmarks/forecast_validation.py --limit 200
    python benchmarks/forecast_validation.py --loo      # round 4: the current choice (see `loo` and AUTO_GROUPS)
    python benchmarks/forecast_validation.py --sets pbs # the PBS aggregated set alone (validation data only)
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
from forecast_bench import SETS as ALL_SETS  # noqa: E402
from forecast_bench import M, load  # noqa: E402

from snop_xl.calc.forecast import fit_matrix, models  # noqa: E402

#: The default sets (the ones `models.AUTO_GROUPS` was chosen on); `--sets` picks others from ALL_SETS.
SETS = (("tourism", 24), ("m1", 18))
#: The single five-member mean "auto" used for every group in rounds 2-3: a new choice must beat it.
PREVIOUS = (("hw", "hw_damped", "otheta_sa", "otheta_test", "snaive"), "mean")
MIN_CELL = 10
#: Relative scores closer than this to a group's best are ties (noise at these sample sizes): among them the
#: combination with the fewest members wins (cheaper, less tuned), then the lower score.
TIE = 0.001
BUCKETS = (0, 36, 48, 72, 96, 10 ** 6)


def split(series: list[tuple[np.ndarray, np.ndarray]], h: int, origin: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(fitting part, validation part) of each training series, the validation part ending `origin` periods before
    the end of the training data; the competition's test part is dropped."""
    out = []
    for x, _ in series:
        end = len(x) - origin
        if end - h >= models.MIN_MODEL_LENGTH:
            out.append((x[:end - h], x[end - h:end]))
    return out


def forecasts(pairs, h: int) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """The full "auto" forecast (n, h), each row's auto group ("" where it is not sent to the combination), and
    every member's forecast on the grouped rows; series grouped by length into matrices as `forecast()` does."""
    lengths = np.array([len(x) for x, _ in pairs])
    auto = np.empty((len(pairs), h))
    group = np.full(len(pairs), "", dtype=object)
    members = {name: np.full((len(pairs), h), np.nan) for name in models.MEMBERS}
    for T in np.unique(lengths):
        rows = np.flatnonzero(lengths == T)
        y = np.array([pairs[i][0] for i in rows])
        res = fit_matrix(y, h, M, "auto")
        auto[rows] = res.mean
        hit = np.isin(res.label, models.AUTO_NAMES)
        if hit.any():
            group[rows[hit]] = models.auto_group(y[hit], M)
            cache: dict = {}
            for name, fn in models.MEMBERS.items():
                members[name][rows[hit]] = np.maximum(fn(y[hit], h, M, cache)[0], 0.0)  # as fit_members clips
    return auto, group, members


class Scorer:
    """Per-row sMAPE and MASE of forecasts for the same (fitting, validation) pairs, vectorised."""

    def __init__(self, pairs):
        self.actual = np.array([v for _, v in pairs])
        self.scale = np.array([max(np.mean(np.abs(x[M:] - x[:-M])) if len(x) > M else np.mean(np.abs(np.diff(x))),
                                   1e-9) for x, _ in pairs])

    def rows(self, fc: np.ndarray, sel=slice(None)) -> np.ndarray:
        """(2, n) sMAPE and MASE of each row of fc (rows `sel` of the pairs)."""
        fc = np.maximum(fc, 0.0)  # forecast() never forecasts below zero
        a = self.actual[sel]
        err = np.abs(a - fc)
        return np.stack([200 * np.mean(err / (np.abs(a) + np.abs(fc)).clip(1e-9), axis=1),
                         err.mean(axis=1) / self.scale[sel]])


def dotm(pairs, h: int) -> np.ndarray:
    from statsforecast.models import DynamicOptimizedTheta
    out = []
    for x, _ in pairs:
        try:
            out.append(DynamicOptimizedTheta(season_length=M).forecast(y=x, h=h)["mean"])
        except Exception:
            out.append(np.repeat(x[-1], h))
    return np.array(out)


def combine(arr: np.ndarray, rule: str) -> np.ndarray:
    if rule == "mean":
        return arr.mean(axis=0)
    if rule == "median":
        return np.median(arr, axis=0)
    return np.sort(arr, axis=0)[1:-1].mean(axis=0)


def ordered(members) -> tuple[str, ...]:
    """Members in `models.MEMBERS` order, the order `candidates` names them in."""
    return tuple(sorted(members, key=list(models.MEMBERS).index))


def candidates(names, max_size: int):
    for size in range(1, max_size + 1):
        for combo in itertools.combinations(names, size):
            for rule in ("mean",) if size <= 2 else ("mean", "median") if size == 3 else ("mean", "median", "trim"):
                yield combo, rule


def validation_cells(origins: list[int], limit: int | None, sets=SETS):
    """One cell per set x origin, in that order: (set, h, origin, pairs, scorer, auto forecast, auto group, member
    forecasts, DOTM row scores), the forecasts of the validation pairs cut at that origin (warnings silenced)."""
    for name, h in sets:
        series = load(name, limit)
        for origin in origins:
            pairs = split(series, h, origin)
            sc = Scorer(pairs)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                auto, group, fcs = forecasts(pairs, h)
                ref = sc.rows(dotm(pairs, h))
            yield name, h, origin, pairs, sc, auto, group, fcs, ref


def loo(args) -> None:
    """Round 4: one combination for every group, leave-one-origin-out on test-like lengths.

    Rows scored: the grouped rows whose fitting part has >= --min-length periods (the competition's test-time
    series are h periods longer than the validation ones; M1's shortest quartile at test time is about 48). For each
    origin held out, candidates are ranked by their mean sMAPE and MASE relative to DOTM over the other origins'
    cells (both sets); the held-out cells show whether the winner generalises beyond the origins it was picked on.
    """
    origins = [int(o) for o in args.origins.split(",")]
    cells = []  # (set, origin, scorer, group, member forecasts, DOTM row scores, selected rows)
    for name, h, origin, pairs, sc, _, group, fcs, ref in validation_cells(origins, args.limit, args.set_pairs):
        lengths = np.array([len(x) for x, _ in pairs])
        sel = (group != "") & (lengths >= args.min_length)
        cells.append((name, origin, sc, fcs, ref[:, sel], sel))
        print(f"{name} origin -{origin}: {sel.sum()} grouped series with >= {args.min_length} periods, h={h}")
    scored = {}
    for combo, rule in candidates(list(models.MEMBERS), args.max_size):
        scored[(combo, rule)] = np.array([sc.rows(combine(np.stack([fcs[c][sel] for c in combo]), rule), sel)
                                          .mean(axis=1) / ref.mean(axis=1) for _, _, sc, fcs, ref, sel in cells])
    members, rule, _ = next(iter(models.AUTO_GROUPS.values()))
    current = (ordered(members), rule)
    previous = PREVIOUS
    print(f"{len(scored)} candidates; relative to DOTM: sMAPE, MASE per held-out cell")
    for held in origins:
        train = [k for k, c in enumerate(cells) if c[1] != held]
        test = [k for k, c in enumerate(cells) if c[1] == held]
        ranked = sorted(scored, key=lambda key: scored[key][train].mean())
        print(f"\n-- picked on origins {sorted({cells[k][1] for k in train})}, held out -{held}")
        for key in dict.fromkeys(ranked[:args.top] + [current, previous]):
            tag = " (current)" if key == current else " (previous)" if key == previous else ""
            print(f"   {models.combo_label(*key) + tag:<72}{scored[key][train].mean():>8.4f}   held out: "
                  + "  ".join(f"{cells[k][0]} {scored[key][k][0]:.4f} {scored[key][k][1]:.4f}" for k in test))
    best = min(scored, key=lambda key: scored[key].mean())
    print(f"\nover all origins: best {models.combo_label(*best)} {scored[best].mean():.4f}; current "
          f"{models.combo_label(*current)} {scored[current].mean():.4f}; previous {models.combo_label(*previous)} "
          f"{scored[previous].mean():.4f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--max-size", type=int, default=5)
    ap.add_argument("--top", type=int, default=8)
    ap.add_argument("--origins", default=None,
                    help="validation horizons end this many periods before the end (default 0,6; --loo: 0,6,12)")
    ap.add_argument("--loo", action="store_true", help="round 4: one combination, leave-one-origin-out")
    ap.add_argument("--min-length", type=int, default=48, help="--loo: only rows with this many fitting periods")
    ap.add_argument("--sets", default=",".join(n for n, _ in SETS),
                    help=f"comma-separated sets from {', '.join(n for n, _ in ALL_SETS)} (default: %(default)s)")
    args = ap.parse_args()
    known = dict(ALL_SETS)
    names = [n.strip() for n in args.sets.split(",")]
    if set(names) - set(known):
        ap.error(f"unknown set(s) {sorted(set(names) - set(known))}; choose from {', '.join(known)}")
    sets = args.set_pairs = tuple((n, known[n]) for n in names)
    if args.loo:
        args.origins = args.origins or "0,6,12"
        return loo(args)
    origins = [int(o) for o in (args.origins or "0,6").split(",")]
    cells = []  # one per set x origin: (set, scorer, auto, group, members, dotm row scores, lengths)
    for name, h, origin, pairs, sc, auto, group, fcs, ref in validation_cells(origins, args.limit, sets):
        cells.append((name, sc, auto, group, fcs, ref, np.array([len(x) for x, _ in pairs])))
        counts = {g: int((group == g).sum()) for g in models.AUTO_GROUPS}
        print(f"{name} origin -{origin}: {len(pairs)} series, groups {counts}, h={h}")

    # per-row scores of every candidate on the grouped rows of every cell
    scored: dict[str, list[np.ndarray]] = {}
    for combo, rule in candidates(list(models.MEMBERS), args.max_size):
        lab = models.combo_label(combo, rule)
        scored[lab] = []
        for _, sc, _, group, fcs, _, _ in cells:
            routed = group != ""
            scored[lab].append(sc.rows(combine(np.stack([fcs[c][routed] for c in combo]), rule), routed))

    def group_rel(lab: str, g: str) -> float:
        vals = []
        for k, (_, _, _, group, _, ref, _) in enumerate(cells):
            sel = group[group != ""] == g
            if sel.sum() >= MIN_CELL:
                vals.append(scored[lab][k][:, sel].mean(axis=1) / ref[:, group != ""][:, sel].mean(axis=1))
        return float(np.mean(vals)) if vals else np.inf

    winners = {}
    current = {g: models.combo_label(ordered(mem), rule) for g, (mem, rule, _) in models.AUTO_GROUPS.items()}
    previous = models.combo_label(*PREVIOUS)
    for g in models.AUTO_GROUPS:
        ranked = sorted(scored, key=lambda lab: group_rel(lab, g))
        top = group_rel(ranked[0], g)
        winners[g] = min((lab for lab in ranked if group_rel(lab, g) <= top + TIE),
                         key=lambda lab: (lab.count("+"), group_rel(lab, g)))
        print(f"\n-- group {g}: relative to DOTM (mean of sMAPE and MASE ratios over cells)")
        for lab in dict.fromkeys([previous, current[g], winners[g]] + ranked[:args.top]):
            tag = " (previous)" if lab == previous else " (current)" if lab == current[g] else ""
            tag += " <- rule" if lab == winners[g] else ""
            print(f"   {lab + tag:<72}{group_rel(lab, g):>8.4f}")

    def scheme_rows(choice: dict[str, str]) -> list[np.ndarray]:
        out = []
        for k, (_, sc, auto, group, _, _, _) in enumerate(cells):
            r = sc.rows(auto)
            sub = r[:, group != ""]
            for g, lab in choice.items():
                sel = group[group != ""] == g
                sub[:, sel] = scored[lab][k][:, sel]
            r[:, group != ""] = sub
            out.append(r)
        return out

    def totals(rows: list[np.ndarray]) -> dict[str, np.ndarray]:
        return {n: np.mean([r.mean(axis=1) for (cn, *_), r in zip(cells, rows) if cn == n], axis=0) for n, _ in sets}

    base = totals([c[5] for c in cells])
    print(f"\n{'scheme':<16}" + "".join(f"{n + ' ' + k:>15}" for n, _ in sets for k in ("sMAPE", "MASE"))
          + f"{'rel':>8}{'beats':>7}")
    schemes = {"sf DOTM": None, "previous": {g: previous for g in models.AUTO_GROUPS}, "current": current,
               "per-group rule": winners}
    rel = {}
    for label, choice in schemes.items():
        t = base if choice is None else totals(scheme_rows(choice))
        rel[label] = float(np.mean([t[n][i] / base[n][i] for n, _ in sets for i in (0, 1)]))
        beats = all(t[n][i] < base[n][i] for n, _ in sets for i in (0, 1))
        print(f"{label:<16}" + "".join(f"{t[n][i]:>15.3f}" for n, _ in sets for i in (0, 1))
              + f"{rel[label]:>8.4f}{'-' if choice is None else 'yes' if beats else 'no':>7}")

    print("\nper length bucket of the fitting data (mean over origins): sMAPE / MASE")
    print(f"{'set':<9}{'length':<12}{'n':>6}{'DOTM':>16}{'previous':>16}{'current':>16}")
    prev_rows, cur_rows = scheme_rows(schemes["previous"]), scheme_rows(current)
    for n, _ in sets:
        for lo, hi in zip(BUCKETS[:-1], BUCKETS[1:]):
            acc = []
            for (cn, *_, ref, lengths), pr, cr in zip(cells, prev_rows, cur_rows):
                sel = (lengths >= lo) & (lengths < hi)
                if cn == n and sel.any():
                    acc.append([sel.sum(), *ref[:, sel].mean(axis=1), *pr[:, sel].mean(axis=1),
                                *cr[:, sel].mean(axis=1)])
            if acc:
                v = np.mean(acc, axis=0)
                print(f"{n:<9}{f'[{lo}, {hi})' if hi < 10 ** 6 else f'>= {lo}':<12}{v[0]:>6.0f}"
                      + "".join(f"{v[i]:>9.2f} /{v[i + 1]:>5.2f}" for i in (1, 3, 5)))
    print("\nchoice: " + ", ".join(f"{g} {lab}" for g, lab in winners.items())
          + ("  (= models.AUTO_GROUPS)" if winners == current
             else "  (models.AUTO_GROUPS differs: see the note there)"))


if __name__ == "__main__":
    main()
