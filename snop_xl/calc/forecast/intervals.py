"""Prediction intervals around the models' forecasts: sd-based bounds, rescaled by a holdout of the call's own
history, and empirical error quantiles for the intermittent (Croston-type) rows, which have no sd.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.stats import norm

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
              levels: Sequence[int]) -> dict[int, tuple[float, float]] | None:
    """Interval multipliers {level: (lower, upper)} from a holdout of each item's own latest history.

    A quarter of the items, at least CALIBRATION_MIN_ITEMS and at most CALIBRATION_ITEMS (evenly spread over the
    call), are refitted without their last min(h, T/3) periods;
    the errors on those periods divided by the model's h-step standard deviation are pooled, and their empirical
    quantiles replace -z and +z. None (normal z) when too few errors were seen.
    """
    sample = min(CALIBRATION_ITEMS, max(CALIBRATION_MIN_ITEMS, round(CALIBRATION_SHARE * n_items)))
    stride = max(1, -(-n_items // sample))
    ratios = []
    seen = 0
    for members, y in groups:
        pick = np.flatnonzero((seen + np.arange(len(members))) % stride == 0)
        seen += len(members)
        T = y.shape[1]
        hc = min(h, T // 3)
        if hc < 1 or T - hc < models.MIN_MODEL_LENGTH or not len(pick):
            continue
        train, test = y[pick, :T - hc], y[pick, T - hc:]
        res = models.fit(train, hc, m, method)
        finish(res, levels)
        ok = np.isfinite(res.sd) & (res.sd > 0)
        ok &= np.isin(res.label, [lab for lab in np.unique(res.label)
                                  if lab not in (*models.INTERMITTENT, "zero history")])[:, None]
        ratios.append(((test - res.mean) / np.where(ok, res.sd, 1.0))[ok])
    r = np.concatenate(ratios) if ratios else np.empty(0)
    if len(r) < CALIBRATION_MIN_ERRORS:
        return None
    out = {}
    for lv in levels:
        lo, hi = np.quantile(r, [0.5 - lv / 200, 0.5 + lv / 200])
        out[lv] = (min(lo, 0.0), max(hi, 0.0))
    return out


def finish(res: models.GroupResult, levels: Sequence[int], calib: dict[int, tuple[float, float]] | None = None) -> None:
    """Bounds from the standard deviations (calibrated or normal) or from empirical errors; all clipped at zero."""
    res.mean = np.maximum(res.mean, 0.0)
    for lv in levels:
        z = norm.ppf(0.5 + lv / 200)
        lo, hi = calib[lv] if calib and lv in calib else (-z, z)
        res.lower[lv] = np.maximum(res.mean + lo * res.sd, 0.0)
        res.upper[lv] = np.maximum(res.mean + hi * res.sd, 0.0)
    for rows, x in res.empirical:
        mean = res.mean[rows]
        for lv in levels:
            lo, hi = mixture_quantiles(x, mean[:, 0], [0.5 - lv / 200, 0.5 + lv / 200])
            res.lower[lv][rows] = np.minimum(lo, mean[:, 0])[:, None] * np.ones_like(mean)
            res.upper[lv][rows] = np.maximum(hi, mean[:, 0])[:, None] * np.ones_like(mean)


#: Demand sizes behind the intermittent bounds: the last SIZE_WINDOW non-zero demands of the item.
SIZE_WINDOW = 24


def mixture_quantiles(x: np.ndarray, mean: np.ndarray, qs: Sequence[float]) -> list[np.ndarray]:
    """Quantiles of one future period's demand of intermittent rows x (n, T) whose per-period forecast is `mean` (n,).

    The demand of a period is 0 with probability 1 - p, else a size drawn from the item's last SIZE_WINDOW
    non-zero demands (empirical distribution, linear interpolation between order statistics); p = mean / mean
    size (at most 1), so the distribution's mean is the point forecast. The q-quantile is 0 where q <= 1 - p (a
    zero month is likelier than the tail: lower bounds of sparse items are 0), else the size quantile at
    (q - (1 - p)) / p. Bounds are the same for every future period.
    """
    n, T = x.shape
    nz = x > 0
    # the last SIZE_WINDOW non-zero values of each row, sorted; NaN pads rows with fewer
    rank_from_end = np.cumsum(nz[:, ::-1], axis=1)[:, ::-1]
    keep = nz & (rank_from_end <= SIZE_WINDOW)
    sizes = np.sort(np.where(keep, x, np.nan), axis=1)
    count = keep.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_size = np.where(count > 0, np.nansum(sizes, axis=1) / np.maximum(count, 1), 0.0)
        p = np.clip(np.where(mean_size > 0, mean / np.where(mean_size > 0, mean_size, 1.0), 0.0), 0.0, 1.0)
    out = []
    rows = np.arange(n)
    for q in qs:
        with np.errstate(invalid="ignore", divide="ignore"):
            level = np.where(p > 0, (q - (1 - p)) / np.where(p > 0, p, 1.0), 0.0)
        pos = np.clip(level, 0.0, 1.0) * np.maximum(count - 1, 0)
        i = np.floor(pos).astype(np.int64)
        j = np.minimum(i + 1, np.maximum(count - 1, 0))
        frac = pos - i
        a, b = sizes[rows, np.minimum(i, T - 1)], sizes[rows, np.minimum(j, T - 1)]
        value = np.where(count > 0, np.nan_to_num(a) + frac * (np.nan_to_num(b) - np.nan_to_num(a)), 0.0)
        out.append(np.where(level > 0, value, 0.0))
    return out
