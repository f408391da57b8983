"""Prediction intervals around the models' forecasts: sd-based bounds, rescaled by a holdout of the call's own
history, and empirical error quantiles for the intermittent (Croston-type) rows, which have no sd.
"""

from __future__ import annotations

import warnings
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
    for rows, fit in res.empirical:
        r = fit.resid
        for lv in levels:
            with warnings.catch_warnings():  # rows with a single demand have no errors yet: bounds = forecast
                warnings.simplefilter("ignore", RuntimeWarning)
                q = np.nanquantile(r, [0.5 - lv / 200, 0.5 + lv / 200], axis=1)
            q = np.nan_to_num(q)
            res.lower[lv][rows] = np.maximum(res.mean[rows] + q[0][:, None], 0.0)
            res.upper[lv][rows] = np.maximum(res.mean[rows] + q[1][:, None], res.mean[rows])
