"""Prediction intervals around the models' forecasts: sd-based bounds, rescaled by a holdout of the call's own
history, and for the intermittent (Croston-type) rows, which have no sd, quantiles of a zero-or-size mixture whose
levels are recalibrated on the same kind of holdout.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.stats import norm

from snop_xl.calc.forecast import kernels as K
from snop_xl.calc.forecast import models

#: Interval calibration: each call refits (at most CALIBRATION_ITEMS of) its items with the last periods of their
#: own history held out and measures the forecast errors in units of the model's standard deviation; the empirical
#: quantiles of these ratios replace the normal z. Why: one-step-residual variances ignore parameter and model
#: uncertainty, so model intervals cover too little out of sample. Only training data is used (no test peeking).
#: The refit costs about a share of the forecast itself, so the sample is proportional to the call (a quarter of
#: the items) within [CALIBRATION_MIN_ITEMS, CALIBRATION_ITEMS]: 100 items x h errors already pin the 2.5% and
#: 97.5% quantiles of the pooled ratios well.
CALIBRATION_ITEMS = 500
CALIBRATION_MIN_ITEMS = 100
CALIBRATION_SHARE = 0.25
#: Fewer error ratios than this and the normal z is kept.
CALIBRATION_MIN_ERRORS = 60


def calibrate(groups: Sequence[tuple[np.ndarray, np.ndarray]], n_items: int, h: int, m: int, method: str,
              levels: Sequence[int]) -> dict | None:
    """Interval calibration of one call from a holdout of each item's own latest history (no test peeking).

    Returns {level: (lower, upper)}, multipliers of the sd that replace -z and +z for the sd-based rows (absent:
    normal z), and under INTERMITTENT_KEY the recalibrated levels of the intermittent rows' mixture ({nominal
    level: level to use}, `recalibrate`; absent: nominal levels); None when neither had enough errors.

    sd-based rows: a quarter of the items, at least CALIBRATION_MIN_ITEMS and at most CALIBRATION_ITEMS (evenly
    spread over the call), are refitted without their last min(h, T/3) periods; the errors on those periods divided
    by the model's h-step standard deviation are pooled, and their empirical quantiles replace -z and +z.
    Intermittent rows: the items of that sample that the call forecasts with the mixture (intermittent and not
    inactive on their whole history) and are intermittent on the shortened one too, topped up with other such
    items (evenly spread) to INTERMITTENT_CALIBRATION_MONTHS / h where the call has them; their held-out months
    are pooled in `recalibrate`.
    """
    sample = min(CALIBRATION_ITEMS, max(CALIBRATION_MIN_ITEMS, round(CALIBRATION_SHARE * n_items)))
    stride = max(1, -(-n_items // sample))
    picks, seen = [], 0
    for members, _ in groups:
        picks.append(np.flatnonzero((seen + np.arange(len(members))) % stride == 0))
        seen += len(members)
    cands = [_mixture_rows(y, m, method) for _, y in groups]
    picked = [np.isin(c, p) for c, p in zip(cands, picks)]
    want = -(-INTERMITTENT_CALIBRATION_MONTHS // max(1, h))
    more = max(0, min(want, sum(map(len, cands))) - sum(int(k.sum()) for k in picked))
    others = sum(int((~k).sum()) for k in picked)
    step = max(1, -(-others // more)) if more else 0
    ratios, pits = [], []
    seen = 0
    for (members, y), pick, cand, done in zip(groups, picks, cands, picked):
        extra = cand[~done]
        extra = extra[(seen + np.arange(len(extra))) % step == 0] if step else extra[:0]
        seen += int((~done).sum())
        T = y.shape[1]
        hc = models.holdout_length(T, h)
        if hc < 1 or T - hc < models.MIN_MODEL_LENGTH:
            continue
        if len(pick):
            train, test = y[pick, :T - hc], y[pick, T - hc:]
            res = models.fit(train, hc, m, method)
            finish(res, levels)
            ok = np.isfinite(res.sd) & (res.sd > 0)
            ok &= np.isin(res.label, [lab for lab in np.unique(res.label)
                                      if lab not in (*models.INTERMITTENT, "zero history")])[:, None]
            ratios.append(((test - res.mean) / np.where(ok, res.sd, 1.0))[ok])
            pits += _holdout_pits(res, test, np.isin(pick, cand))
        if method == "auto" and len(extra):  # only those the shortened history still routes to the mixture
            extra = extra[_intermittent(y[extra, :T - hc])]
        if len(extra):
            res = models.fit(y[extra, :T - hc], hc, m, method)
            pits += _holdout_pits(res, y[extra, T - hc:], np.ones(len(extra), dtype=bool))
    out: dict = {}
    r = np.concatenate(ratios) if ratios else np.empty(0)
    if len(r) >= CALIBRATION_MIN_ERRORS:
        for lv in levels:
            lo, hi = np.quantile(r, [0.5 - lv / 200, 0.5 + lv / 200])
            out[lv] = (min(lo, 0.0), max(hi, 0.0))
    recal = recalibrate(np.concatenate(pits) if pits else np.empty(0), levels)
    if recal:
        out[INTERMITTENT_KEY] = recal
    return out or None


def finish(res: models.GroupResult, levels: Sequence[int], calib: dict | None = None) -> None:
    """Bounds from the standard deviations (calibrated or normal) or, for the intermittent rows, from the
    zero-or-size mixture (`intermittent_bounds`); all clipped at zero."""
    res.mean = np.maximum(res.mean, 0.0)
    for lv in levels:
        z = norm.ppf(0.5 + lv / 200)
        lo, hi = calib[lv] if calib and lv in calib else (-z, z)
        res.lower[lv] = np.maximum(res.mean + lo * res.sd, 0.0)
        res.upper[lv] = np.maximum(res.mean + hi * res.sd, 0.0)
    recal = calib.get(INTERMITTENT_KEY) if calib else None
    for rows, x in res.empirical:
        mean = res.mean[rows]
        lower, upper = intermittent_bounds(Mixture(x, mean[:, 0]), mean[:, 0], levels, recal)
        for lv in levels:
            res.lower[lv][rows] = lower[lv][:, None] * np.ones_like(mean)
            res.upper[lv][rows] = upper[lv][:, None] * np.ones_like(mean)


# ---------------------------------------------------------------------------------------------------------------
# Intermittent rows: a zero-or-size mixture, its levels recalibrated on a holdout of the call's own history
# ---------------------------------------------------------------------------------------------------------------
#: Demand sizes behind the intermittent bounds: the last SIZE_WINDOW non-zero demands of the item.
SIZE_WINDOW = 24
#: Key of the intermittent recalibration in `calibrate`'s answer.
INTERMITTENT_KEY = "intermittent"
#: Intermittent items whose holdout recalibrates the mixture's levels (`calibrate`): those in the sd calibration's
#: sample, topped up where the call has more to INTERMITTENT_CALIBRATION_MONTHS / h items (each one more costs a
#: refit of an intermittent model; on PBS, 35 items x 24 months recalibrate as well as all 70). Fewer held-out
#: months than INTERMITTENT_MIN_POINTS in all keep the nominal levels (the 95% level's recalibration rests on the
#: months above the bound: 120 months hold ~6).
INTERMITTENT_CALIBRATION_MONTHS = 600
INTERMITTENT_MIN_POINTS = 120
#: The highest level a recalibration may ask of the mixture: past it the extrapolated tail carries the bound alone.
MAX_LEVEL = 0.999


class Mixture:
    """One future period's demand of intermittent rows x (n, T) whose per-period forecast is `mean` (n,).

    The demand of a period is 0 with probability 1 - p, else a size; p = mean / mean size (at most 1): the chance
    of demand the point forecast implies, given the sizes. Sizes: the predictive distribution of a new draw given
    the item's last SIZE_WINDOW non-zero demands s_(1) <= ... <= s_(k), not their empirical distribution: under
    exchangeability a new draw falls below s_(j) with probability j / (k + 1) (plotting positions; linear between
    them, from 0 below s_(1)), and above the largest with probability 1 / (k + 1), so the size quantiles do not
    stop at the largest demand seen: past s_(k) an exponential tail, scale theta = (s_(k) - median) /
    ln((k + 1) / 2) (the exponential distribution through the median and the largest point), continues them.
    Why: the empirical quantile of 24 sizes caps every bound at the largest of them, which one future demand in
    (k + 1) exceeds even when nothing changes.
    """

    def __init__(self, x: np.ndarray, mean: np.ndarray):
        n, T = x.shape
        nz = x > 0
        rank_from_end = np.cumsum(nz[:, ::-1], axis=1)[:, ::-1]
        keep = nz & (rank_from_end <= SIZE_WINDOW)
        width = max(1, min(SIZE_WINDOW, T))
        sizes = np.sort(np.where(keep, x, np.nan), axis=1)[:, :width]  # ascending; NaN pads rows with fewer
        self.sizes, self.count = sizes, keep.sum(axis=1)
        k = np.maximum(self.count, 1)
        rows = np.arange(n)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean_size = np.where(self.count > 0, np.nansum(sizes, axis=1) / k, 0.0)
            self.p = np.clip(np.where(mean_size > 0, mean / np.where(mean_size > 0, mean_size, 1.0), 0.0), 0.0, 1.0)
        self.top = np.nan_to_num(sizes[rows, k - 1])
        median = 0.5 * (np.nan_to_num(sizes[rows, (k - 1) // 2]) + np.nan_to_num(sizes[rows, k // 2]))
        self.theta = np.where(self.count > 1, (self.top - median) / np.log(np.maximum(k + 1, 3) / 2.0), 0.0)

    def quantile(self, q) -> np.ndarray:
        """The q-quantile (q: scalar or (n,)) of each row: 0 where q <= 1 - p (a zero month is at least as likely
        as the level: lower bounds of sparse items are 0), else the size quantile at u = (q - (1 - p)) / p."""
        n = len(self.sizes)
        k = np.maximum(self.count, 1)
        with np.errstate(invalid="ignore", divide="ignore"):
            u = np.where(self.p > 0, (q - (1 - self.p)) / np.where(self.p > 0, self.p, 1.0), 0.0)
        u = np.clip(u, 0.0, 1.0 - 1e-12)
        r = u * (k + 1)  # 1-based rank among the k sizes
        rows = np.arange(n)
        i = np.clip(np.floor(r).astype(np.int64), 1, k)  # s_(i) <= value <= s_(i+1)
        j = np.minimum(i + 1, k)
        a, b = np.nan_to_num(self.sizes[rows, i - 1]), np.nan_to_num(self.sizes[rows, j - 1])
        first = np.nan_to_num(self.sizes[:, 0])
        inside = a + (r - i) * (b - a)
        with np.errstate(divide="ignore"):
            tail = self.top + self.theta * np.log(1.0 / ((k + 1) * (1.0 - u)))
        value = np.where(r < 1, first * r, np.where(r > k, tail, inside))
        return np.where((u > 0) & (self.count > 0), value, 0.0)

    def cdf(self, y: np.ndarray, row: np.ndarray) -> np.ndarray:
        """P(demand <= y) of row[i] at y[i] (y > 0), the smallest level whose quantile reaches y; 0 for y <= 0
        (so `quantile(t) >= y` exactly where cdf <= t)."""
        s, k = self.sizes[row], np.maximum(self.count[row], 1)
        p, top, theta = self.p[row], self.top[row], self.theta[row]
        below = np.sum(s < y[:, None], axis=1)  # sizes under y (NaN pads never count)
        idx = np.arange(len(y))
        lo = np.nan_to_num(s[idx, np.maximum(below - 1, 0)])
        hi = np.nan_to_num(s[idx, np.minimum(below, k - 1)])
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            first = np.where(hi > 0, y / np.where(hi > 0, hi, 1.0), 1.0)  # below s_(1): rank y / s_(1)
            between = below + np.where(hi > lo, (y - lo) / np.where(hi > lo, hi - lo, 1.0), 1.0)
            beyond = np.where(theta > 0, k + 1 - np.exp(-(y - top) / np.where(theta > 0, theta, 1.0)), k + 1)
        rank = np.where(below == 0, first, np.where(below >= k, beyond, between))
        g = np.clip(rank / (k + 1), 0.0, 1.0)
        covered = (self.count[row] > 0) & (p > 0)
        return np.where(y <= 0, 0.0, np.where(covered, (1 - p) + p * g, 1.0))


def mixture_quantiles(x: np.ndarray, mean: np.ndarray, qs: Sequence) -> list[np.ndarray]:
    """Quantiles of one future period's demand of intermittent rows x (n, T) whose per-period forecast is `mean`
    (n,), at each level of qs (scalars or (n,) arrays): `Mixture(x, mean).quantile` for each."""
    mix = Mixture(x, mean)
    return [mix.quantile(q) for q in qs]


def intermittent_bounds(mix: Mixture, mean: np.ndarray, levels: Sequence[int], recal: dict[float, float] | None = None
                        ) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray]]:
    """Lower and upper bounds {level: (n,)} of the intermittent rows of `mix`, whose point forecast is `mean` (n,).

    lo = the mixture's (1 - level) / 2 quantile: 0 wherever a zero month is likelier than that tail. The interval
    then holds `level` of the distribution: hi = the `level` quantile where lo is 0 (nothing lies below it, the
    whole 1 - level lies above hi: the in-stock rate of hi is the level), else the (1 + level) / 2 quantile. The
    upper levels are recalibrated by `recal` ({nominal: level to use}, from `recalibrate`); lower ones
    are not (recalibrating them could lift a lower bound off 0 where a zero month is likelier than the tail).
    Bounds are nested and enclose the point forecast: lo_95 <= lo_80 <= forecast <= hi_80 <= hi_95.
    """
    lower, upper = {}, {}
    prev = None
    for lv in sorted(levels):
        tail = 0.5 - lv / 200
        lo = mix.quantile(tail)
        hi = mix.quantile(np.where(lo > 0, recalibrated(1 - tail, recal), recalibrated(lv / 100, recal)))
        lo, hi = np.minimum(lo, mean), np.maximum(hi, mean)
        if prev is not None:
            lo, hi = np.minimum(lo, lower[prev]), np.maximum(hi, upper[prev])
        lower[lv], upper[lv] = lo, hi
        prev = lv
    return lower, upper


def recalibrated(level: float, recal: dict[float, float] | None) -> float:
    """The mixture level that gives `level` in-stock according to `recal` (the nominal level without one)."""
    return recal.get(round(level, 9), level) if recal else level


def _mixture_rows(y: np.ndarray, m: int, method: str) -> np.ndarray:
    """Rows of y (n, T) that `models.fit` forecasts with the mixture: any demand, not inactive, and under "auto"
    intermittent (ADI above the cut-off); none under the other non-intermittent methods."""
    if method != "auto" and method not in models.INTERMITTENT or y.shape[1] < models.MIN_MODEL_LENGTH:
        return np.empty(0, dtype=np.int64)
    ok = np.abs(y).any(axis=1) & ~models.inactive(y, m)
    if method == "auto":
        ok &= _intermittent(y)
    return np.flatnonzero(ok)


def _intermittent(y: np.ndarray) -> np.ndarray:
    """Rows of y (n, T) with ADI above the cut-off (`models`' "auto" routing; rows without demand count as such)."""
    out = np.ones(len(y), dtype=bool)
    sold = np.flatnonzero((y > 0).any(axis=1))
    if len(sold):
        out[sold] = K.classify_demand(y[sold])[0] > models.ADI_CUTOFF
    return out


def _holdout_pits(res: models.GroupResult, test: np.ndarray, use: np.ndarray) -> list[np.ndarray]:
    """Probability integral transforms (`Mixture.cdf`) of the held-out months `test` (n, hc) of the rows of a
    holdout refit `res` that it forecast with the mixture, where `use` (n,) allows."""
    out = []
    for rows, x in res.empirical:
        keep = use[rows]
        if keep.any():
            rows, x = rows[keep], x[keep]
            mix = Mixture(x, np.maximum(res.mean[rows, 0], 0.0))
            y = test[rows]
            out.append(mix.cdf(y.ravel(), np.repeat(np.arange(len(rows)), y.shape[1])))
    return out


def recalibrate(pit: np.ndarray, levels: Sequence[int]) -> dict[float, float] | None:
    """Recalibrated upper levels {nominal: level to use} of the intermittent rows' mixture from the probability
    integral transforms `pit` of held-out months (the recalibration of Kuleshov et al. 2018, with the exact PIT of a
    mixture with an atom at 0: the smallest level whose quantile covers the month, 0 for a zero month).

    The level to use for a nominal in-stock rate t is the t-quantile of the pooled transforms (split-conformal: at
    t (N + 1) / N of N months), at most MAX_LEVEL: the mixture's quantile at that level covered a share t of the
    held-out months. Why: the mixture takes the sizes as exchangeable and its level as known, while demand drifts
    and the level is estimated: on the PBS development origins (`benchmarks/intermittent_bench.py --first-origin 2
    --origins 4`, 98 live series) its nominal 80% and 95% bounds held 75.8% and 91.3% of the months (80.9% and
    95.1% nominal), recalibrated 80.8% and 95.3% (with "auto"'s per-item switch, `models.choose_intermittent`:
    75.9% and 90.8%, recalibrated 80.0% and 96.1%). None (nominal levels) below INTERMITTENT_MIN_POINTS months.
    """
    n = len(pit)
    if n < INTERMITTENT_MIN_POINTS:
        return None
    out = {}
    for lv in levels:
        for t in (lv / 100, 0.5 + lv / 200):
            use = np.quantile(pit, min(1.0, t * (n + 1) / n), method="inverted_cdf")
            out[round(t, 9)] = float(min(use, MAX_LEVEL))
    return out
