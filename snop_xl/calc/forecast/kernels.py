"""Batch forecasting kernels: each model runs on a matrix ``x`` of shape (series, periods), all rows the same length.

Why batch: a planner's book has 10^2-10^5 items; fitting them one by one in Python (statsmodels: a few series per
second for ETS) does not scale. Here every recursion loops over *time* only, with numpy doing all series (and all
candidate parameters of a grid search) at once.

Why the grid plus closed-form initial states: for additive-error exponential smoothing the one-step errors are
linear in the initial states (level, trend) for given smoothing parameters, so the initial states minimising the
sum of squared errors solve a 2x2 least-squares problem per series. The grid then only spans the smoothing
parameters, and every point of it is fitted exactly (the same model statsmodels' ``ExponentialSmoothing`` fits
with estimated initial states; the tests check the recursions agree with it for given parameters).

The same holds for additive Holt-Winters (level, damped trend, m seasonal states: `fit_hw`); multiplicative
seasonality is that model on log(x). Tests check the recursions against statsmodels' ExponentialSmoothing.

Conventions (ETS error-correction form, as in Hyndman et al. and statsmodels):
  forecast   f_t = l_{t-1} + phi * b_{t-1}
  error      e_t = x_t - f_t
  level      l_t = f_t + alpha * e_t
  trend      b_t = phi * b_{t-1} + alpha * beta_star * e_t       (beta_star: statsmodels' smoothing_trend)
  h-step     l_T + (phi + ... + phi^h) * b_T
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np


# Parameter grids searched for every series at once (bounds as in common ETS practice).
SES_ALPHAS = np.array([0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.13, 0.16, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55,
                       0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 0.99])
HOLT_ALPHAS = np.array([0.02, 0.06, 0.12, 0.2, 0.3, 0.45, 0.6, 0.8, 0.95])
HOLT_BETAS = np.array([0.01, 0.05, 0.15, 0.35])  # beta_star, share of alpha passed to the trend
HOLT_PHIS = np.array([0.8, 0.9, 0.95, 0.98])


@dataclass
class Fit:
    """A fitted batch model: point forecasts and the pieces the intervals need."""

    mean: np.ndarray  # (n, h)
    resid: np.ndarray  # (n, T) in-sample one-step errors (NaN where undefined)
    psi: np.ndarray  # (n, h) psi[:, j-1] = c_j, the weight of the error j steps back: var_h = s^2 (1 + sum_{j<h} c_j^2)
    params: dict[str, np.ndarray]


# ---------------------------------------------------------------------------------------------------------------
# Exponential smoothing (SES, Holt, damped Holt)
# ---------------------------------------------------------------------------------------------------------------
def es_filter(x: np.ndarray, alpha: np.ndarray, beta: np.ndarray, phi: np.ndarray, l0: np.ndarray,
              b0: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Run damped-Holt recursions with given per-series parameters; returns (errors (n,T), last level, last trend).

    ``beta`` is beta_star (0 gives SES when b0 = 0). All parameter arrays have shape (n,).
    """
    n, T = x.shape
    level, trend = l0.astype(float).copy(), b0.astype(float).copy()
    ab = alpha * beta
    err = np.empty((n, T))
    for t in range(T):
        f = level + phi * trend
        e = x[:, t] - f
        err[:, t] = e
        level = f + alpha * e
        trend = phi * trend + ab * e
    return err, level, trend


def _profile_sse(x: np.ndarray, alpha: np.ndarray, beta: np.ndarray, phi: np.ndarray, trend: bool,
                 last_level: bool = False) -> tuple[np.ndarray, ...]:
    """SSE of every series (n) at every grid point (G), with the initial states that minimise it.

    Errors are e_t = a_t - l0*u_t - b0*v_t where a_t are the errors from zero initial states and (u_t, v_t) the
    forecasts a unit initial level / trend produce with no data. Returns (sse, l0, b0), each (n, G), and with
    `last_level` the last level at those initial states (linear in them too: no second pass needed for it).
    """
    n, T = x.shape
    G = alpha.shape[0]
    ab = alpha * beta
    lv, tr = np.zeros((n, G)), np.zeros((n, G))
    ul, ub, vl, vb = np.ones(G), np.zeros(G), np.zeros(G), np.ones(G)
    saa, sau, sav = np.zeros((n, G)), np.zeros((n, G)), np.zeros((n, G))
    suu, suv, svv = np.zeros(G), np.zeros(G), np.zeros(G)
    for t in range(T):
        f = lv + phi * tr if trend else lv  # without a trend state the forecast is the level (SES: fewer passes)
        a = x[:, t, None] - f
        fu = ul + phi * ub if trend else ul
        saa += a * a
        sau += a * fu
        suu += fu * fu
        lv = f + alpha * a
        if trend:
            fv = vl + phi * vb
            sav += a * fv
            suv += fu * fv
            svv += fv * fv
            tr = phi * tr + ab * a
            ul, ub = (1 - alpha) * fu, phi * ub - ab * fu
            vl, vb = (1 - alpha) * fv, phi * vb - ab * fv
        else:
            ul = (1 - alpha) * fu
    if not trend:
        l0 = sau / suu
        b0 = np.zeros_like(l0)
        sse = saa - l0 * sau
    else:
        ridge = 1e-9 * (suu + svv)
        det = (suu + ridge) * (svv + ridge) - suv * suv
        l0 = ((svv + ridge) * sau - suv * sav) / det
        b0 = ((suu + ridge) * sav - suv * sau) / det
        sse = saa - l0 * sau - b0 * sav
    return (sse, l0, b0, lv + l0 * ul + b0 * vl) if last_level else (sse, l0, b0)


def _best(sse: np.ndarray) -> np.ndarray:
    return np.argmin(np.where(np.isfinite(sse), sse, np.inf), axis=1)


def _damped_sum(phi: np.ndarray, h: int) -> np.ndarray:
    """(n, h): phi + phi^2 + ... + phi^j for j = 1..h."""
    return np.cumsum(phi[:, None] ** np.arange(1, h + 1)[None, :], axis=1)


def fit_es(x: np.ndarray, h: int, trend: bool, alphas: np.ndarray | None = None) -> Fit:
    """SES (trend False) or damped Holt (trend True), parameters by grid search, initial states optimal.

    `alphas` replaces the SES grid (SES only).
    """
    n, T = x.shape
    if trend:
        a, b, p = (g.ravel() for g in np.meshgrid(HOLT_ALPHAS, HOLT_BETAS, HOLT_PHIS, indexing="ij"))
    else:
        grid = SES_ALPHAS if alphas is None else np.asarray(alphas, dtype=float)
        a, b, p = grid, np.zeros_like(grid), np.zeros_like(grid)
    sse, l0s, b0s = _profile_sse(x, a, b, p, trend)
    k = _best(sse)
    rows = np.arange(n)
    alpha, beta, phi = a[k], b[k], p[k]
    l0, b0 = l0s[rows, k], b0s[rows, k]
    err, level, slope = es_filter(x, alpha, beta, phi, l0, b0)
    if trend:
        damp = _damped_sum(phi, h)
        mean = level[:, None] + damp * slope[:, None]
        psi = alpha[:, None] * (1 + beta[:, None] * damp)
    else:
        mean = np.repeat(level[:, None], h, axis=1)
        psi = np.repeat(alpha[:, None], h, axis=1)
    return Fit(mean, err, psi, {"alpha": alpha, "beta": beta, "phi": phi, "l0": l0, "b0": b0})


def fit_theta(x: np.ndarray, h: int, ses: Fit | None = None) -> Fit:
    """Standard Theta method (Assimakopoulos-Nikolopoulos, in Hyndman-Billah's SES-with-drift form).

    Forecast = SES forecast + b/2 * (j - 1 + 1/alpha - (1-alpha)^T / alpha), b the OLS slope of the series.
    """
    n, T = x.shape
    ses = ses or fit_es(x, h, trend=False)
    alpha = ses.params["alpha"]
    t = np.arange(T, dtype=float)
    tc = t - t.mean()
    slope = (x - x.mean(axis=1, keepdims=True)) @ tc / (tc @ tc) if T > 1 else np.zeros(n)
    j = np.arange(h, dtype=float)[None, :]
    drift = 0.5 * slope[:, None] * (j + 1 / alpha[:, None] - (1 - alpha[:, None]) ** T / alpha[:, None])
    # in-sample: one-step SES forecasts plus the drift at horizon 1 (the same structure one step ahead)
    fitted_drift = 0.5 * slope[:, None] * (1 / alpha[:, None] - (1 - alpha[:, None]) ** (t[None, :] + 1)
                                           / alpha[:, None])
    return Fit(ses.mean + drift, ses.resid - fitted_drift, ses.psi, {"alpha": alpha, "slope": slope})


def fit_optimized_theta(x: np.ndarray, h: int, thetas: tuple[float, ...] = (1.0, 1.5, 2.0, 2.5, 3.0, 4.0)) -> Fit:
    """Theta with theta chosen per series among `thetas` by in-sample one-step MSE.

    Theta line Z = theta*x + (1-theta)*L (L the OLS line); forecast = (1-1/theta)*L + (1/theta)*SES(Z).
    theta = 1 is SES; theta = 2 is close to the standard method.

    Why it is cheap: SES errors from a zero initial level are linear in the data, so the errors of Z are
    theta * a(x) + (1-theta) * a(L); two passes (over x and over L) give the SSE and the optimal initial level of
    every (theta, alpha) pair in closed form, instead of one SES grid search per theta.
    """
    n, T = x.shape
    t = np.arange(T + h, dtype=float)
    tc = t[:T] - t[:T].mean()
    slope = (x - x.mean(axis=1, keepdims=True)) @ tc / (tc @ tc) if T > 1 else np.zeros(n)
    line = x.mean(axis=1, keepdims=True) + slope[:, None] * (t[None, :] - t[:T].mean())
    alpha = SES_ALPHAS
    G = len(alpha)
    ax, al = np.zeros((n, G)), np.zeros((n, G))  # zero-initial-level SES levels of x and of L
    u = np.ones(G)  # forecast a unit initial level produces
    sxx, sxl, sll, sxu, slu = (np.zeros((n, G)) for _ in range(5))
    suu = np.zeros(G)
    for k in range(T):
        ex, el = x[:, k, None] - ax, line[:, k, None] - al
        sxx += ex * ex
        sxl += ex * el
        sll += el * el
        sxu += ex * u
        slu += el * u
        suu += u * u
        ax += alpha * ex
        al += alpha * el
        u = (1 - alpha) * u
    best_mse = np.full(n, np.inf)
    choice = np.zeros((3, n))  # theta, alpha, initial level
    for theta in thetas:
        c = 1 - theta
        saa = theta * theta * sxx + 2 * theta * c * sxl + c * c * sll
        sau = theta * sxu + c * slu
        l0 = sau / suu
        sse = saa - l0 * sau
        z0 = theta * x[:, :1] + c * line[:, :1]
        g = _best(sse)  # alpha by the SSE of Z, as SES on Z would choose it
        rows = np.arange(n)
        # theta by the one-step MSE on x from t = 1 on: errors on x are the errors on Z divided by theta
        m_best = (np.maximum(sse[rows, g], 0) - (z0[:, 0] - l0[rows, g]) ** 2) / max(T - 1, 1) / theta ** 2
        if T <= 1:
            m_best = np.zeros(n)
        better = m_best < best_mse
        best_mse = np.where(better, m_best, best_mse)
        choice[:, better] = np.stack([np.full(n, theta), alpha[g], l0[rows, g]])[:, better]
    theta, a, l0 = choice
    z = theta[:, None] * x + (1 - theta[:, None]) * line[:, :T]
    zero = np.zeros(n)
    err, level, _ = es_filter(z, a, zero, zero, l0, zero)
    w = 1 / theta[:, None]
    mean = (1 - w) * line[:, T:] + w * level[:, None]
    return Fit(mean, w * err, np.repeat(w * a[:, None], h, axis=1), {"theta": theta, "alpha": a})


# ---------------------------------------------------------------------------------------------------------------
# Seasonality
# ---------------------------------------------------------------------------------------------------------------
def acf(x: np.ndarray, max_lag: int) -> np.ndarray:
    """Sample autocorrelations r_1..r_max_lag of every row (n, max_lag)."""
    xc = x - x.mean(axis=1, keepdims=True)
    denom = (xc * xc).sum(axis=1)
    denom = np.where(denom > 0, denom, np.inf)
    return np.stack([(xc[:, k:] * xc[:, :-k]).sum(axis=1) / denom for k in range(1, max_lag + 1)], axis=1)


def seasonality_test(x: np.ndarray, m: int, z: float = 1.645) -> np.ndarray:
    """ACF test at lag m (z 1.645: the 90% test of the M4 Theta benchmark): True where the series is seasonal."""
    n, T = x.shape
    if m < 2 or T < 3 * m:
        return np.zeros(n, dtype=bool)
    r = acf(x, m)
    limit = z * np.sqrt((1 + 2 * (r[:, :-1] ** 2).sum(axis=1)) / T)
    return np.abs(r[:, -1]) > limit


def seasonal_indices(x: np.ndarray, m: int, multiplicative: np.ndarray) -> np.ndarray:
    """Classical decomposition indices (n, m), index k for period position t % m (position 0 = first period).

    Centred moving average (2 x m for even m) as trend; ratios (or differences where `multiplicative` is False)
    averaged per position, then normalised to mean 1 (or 0).
    """
    n, T = x.shape
    if m % 2 == 0:
        w = np.r_[0.5, np.ones(m - 1), 0.5] / m
    else:
        w = np.ones(m) / m
    k = len(w)
    cs = np.stack([x[:, i:T - k + 1 + i] * w[i] for i in range(k)]).sum(axis=0)  # (n, T-k+1)
    start = (k - 1) // 2
    trend = np.full((n, T), np.nan)
    trend[:, start:start + cs.shape[1]] = cs
    with np.errstate(divide="ignore", invalid="ignore"):
        detr = np.where(multiplicative[:, None], x / trend, x - trend)
    pos = np.arange(T) % m
    idx = np.stack([np.nanmean(detr[:, pos == p], axis=1) for p in range(m)], axis=1)
    idx = np.where(multiplicative[:, None], idx / idx.mean(axis=1, keepdims=True),
                   idx - idx.mean(axis=1, keepdims=True))
    return np.nan_to_num(idx, nan=0.0)


# ---------------------------------------------------------------------------------------------------------------
# Simple benchmarks
# ---------------------------------------------------------------------------------------------------------------
def fit_naive(x: np.ndarray, h: int) -> Fit:
    n, T = x.shape
    resid = np.full((n, T), np.nan)
    resid[:, 1:] = np.diff(x, axis=1)
    return Fit(np.repeat(x[:, -1:], h, axis=1), resid, np.ones((n, h)), {})


def fit_seasonal_naive(x: np.ndarray, h: int, m: int) -> Fit:
    n, T = x.shape
    if T < m or m < 2:
        return fit_naive(x, h)
    mean = x[:, T - m + (np.arange(h) % m)]
    resid = np.full((n, T), np.nan)
    resid[:, m:] = x[:, m:] - x[:, :-m]
    j = np.arange(1, h + 1)
    psi = np.repeat((j % m == 0)[None, :].astype(float), n, axis=0)  # var_h = sigma^2 * (1 + floor((h-1)/m))
    return Fit(mean, resid, psi, {})


def fit_mean(x: np.ndarray, h: int) -> Fit:
    """Mean of the history: the fallback for very short series."""
    n, T = x.shape
    mu = x.mean(axis=1)
    return Fit(np.repeat(mu[:, None], h, axis=1), x - mu[:, None], np.zeros((n, h)), {})


# ---------------------------------------------------------------------------------------------------------------
# Intermittent demand
# ---------------------------------------------------------------------------------------------------------------
def classify_demand(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Syntetos-Boylan: ADI (periods per non-zero demand) and CV^2 of the non-zero demand sizes, per series."""
    nz = x > 0
    count = nz.sum(axis=1)
    T = x.shape[1]
    adi = np.where(count > 0, T / np.maximum(count, 1), np.inf)
    sizes = np.where(nz, x, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        mu = np.nanmean(sizes, axis=1) if nz.any() else np.full(x.shape[0], np.nan)
        var = np.nanvar(sizes, axis=1)
        cv2 = np.where(count > 1, var / mu ** 2, 0.0)
    return adi, np.nan_to_num(cv2)


def fit_croston(x: np.ndarray, h: int, variant: str = "croston", alpha: float = 0.1, beta: float = 0.1) -> Fit:
    """Croston (classic), SBA (Syntetos-Boylan bias correction 1 - alpha/2) or TSB (Teunter-Syntetos-Babai).

    Croston/SBA: demand size z and inter-demand interval p are smoothed only when demand occurs, initialised with
    the first demand and its position (1-based); forecast z / p. TSB: the probability of demand d is smoothed every
    period (init: share of non-zero periods), the size as Croston; forecast d * z.
    """
    z, p, d, fitted = _croston_pass(x, alpha, beta, variant)
    f = d * z if variant == "tsb" else z / p
    if variant == "sba":
        f = f * (1 - alpha / 2)
        fitted = fitted * (1 - alpha / 2)
    mean = np.repeat(f[:, None], h, axis=1)
    return Fit(mean, x - fitted, np.zeros((len(x), h)), {"z": z, "p": p, "d": d})


def sba_tsb(x: np.ndarray, alpha: float = 0.1, beta: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Per-period forecasts (n,) of SBA and TSB from one pass (they share the size recursion), no residuals."""
    z, p, d, _ = _croston_pass(x, alpha, beta, None)
    return z / p * (1 - alpha / 2), d * z


def _croston_pass(x: np.ndarray, alpha: float, beta: float, fitted: str | None
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """The Croston-family recursions over x (n, T): last size z, interval p and TSB probability d (n,), and the
    one-step fitted values (n, T) of variant `fitted` ("tsb", else Croston's z / p; None: not recorded)."""
    n, T = x.shape
    nz = x > 0
    first = np.where(nz.any(axis=1), nz.argmax(axis=1), T)
    rows = np.arange(n)
    z = np.where(first < T, x[rows, np.minimum(first, T - 1)], 0.0)
    p = (first + 1).astype(float)
    d = nz.mean(axis=1)
    q = np.ones(n)  # periods since last demand (intervals counted at the next demand)
    out = None if fitted is None else np.full((n, T), np.nan)
    for t in range(T):
        started = t > first
        if out is not None:
            out[:, t] = np.where(started, d * z if fitted == "tsb" else z / p, np.nan)
        occ = nz[:, t] & started
        d = np.where(started, d + beta * (nz[:, t] - d), d)
        z = np.where(occ, z + alpha * (x[:, t] - z), z)
        p = np.where(occ, p + alpha * (q - p), p)
        q = np.where(nz[:, t] & (t >= first), 1.0, q + 1)
    return z, p, d, out


def mean_interval(x: np.ndarray) -> np.ndarray:
    """Mean inter-demand interval per row: (position of the last demand + 1) / number of demands, i.e. the mean of
    the intervals between demands, the first counted from the start of the history (statsforecast's convention).
    The trailing run of zeros after the last demand is not counted. inf for rows without demand."""
    nz = x > 0
    count = nz.sum(axis=1)
    T = x.shape[1]
    last = T - 1 - np.argmax(nz[:, ::-1], axis=1)
    return np.where(count > 0, (last + 1) / np.maximum(count, 1), np.inf)


def trailing_zeros(x: np.ndarray) -> np.ndarray:
    """Periods since the last demand (the whole length for rows without demand)."""
    nz = x > 0
    T = x.shape[1]
    return np.where(nz.any(axis=1), np.argmax(nz[:, ::-1], axis=1), T)


#: Smoothing constants searched for SES on temporally aggregated intermittent series (ADIDA, IMAPA): the range
#: statsforecast and Nikolopoulos et al. use, low values because aggregates of sparse demand are mostly noise.
AGG_ALPHAS = np.array([0.1, 0.15, 0.2, 0.25, 0.3])


def aggregate_ses(x: np.ndarray, k: int) -> np.ndarray:
    """Per-period forecast (n,) of SES on non-overlapping buckets of k periods, disaggregated evenly (/ k).

    Buckets end at the last period (the first T % k periods are dropped); SES alpha from AGG_ALPHAS by the SSE,
    initial level SSE-optimal. Fewer than 2 buckets: their mean.
    """
    n, T = x.shape
    k = int(k)
    nb = T // k
    if nb < 1:
        return x.mean(axis=1)
    agg = x[:, T - nb * k:].reshape(n, nb, k).sum(axis=2)
    if nb < 2:
        return agg[:, 0] / k
    zero = np.zeros_like(AGG_ALPHAS)
    sse, _, _, last = _profile_sse(agg, AGG_ALPHAS, zero, zero, trend=False, last_level=True)
    return last[np.arange(n), _best(sse)] / k  # fit_es's forecast, without its second pass for the residuals


def aggregation_levels(x: np.ndarray) -> np.ndarray:
    """ADIDA's bucket length per row: the mean inter-demand interval rounded (half to even), at least 1."""
    mi = mean_interval(x)
    return np.maximum(1, np.rint(np.where(np.isfinite(mi), mi, 1.0))).astype(np.int64)


def fit_adida(x: np.ndarray) -> np.ndarray:
    """ADIDA (Nikolopoulos et al. 2011): SES on buckets of the mean inter-demand interval, spread evenly; (n,)."""
    k = aggregation_levels(x)
    out = np.zeros(len(x))
    for kk in np.unique(k):
        rows = k == kk
        out[rows] = aggregate_ses(x[rows], kk)
    return out


def fit_imapa(x: np.ndarray) -> np.ndarray:
    """IMAPA (Petropoulos-Kourentzes 2015): the mean over k = 1..ADIDA's level of SES on k-period buckets / k; (n,)."""
    return fit_adida_imapa(x)[1]


def fit_adida_imapa(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ADIDA and IMAPA (n,) each, in one pass: ADIDA is IMAPA's last term (buckets of the row's own level), so
    "auto", which weighs both, fits each bucket length once."""
    k = aggregation_levels(x)
    total, adida = np.zeros(len(x)), np.zeros(len(x))
    for kk in range(1, int(k.max()) + 1):
        rows = k >= kk
        term = aggregate_ses(x[rows], kk)
        total[rows] += term
        adida[k == kk] = term[k[rows] == kk]
    return adida, total / k


# ---------------------------------------------------------------------------------------------------------------
# Additive Holt-Winters / ETS(A, Ad|N, A|N) with every grid point fitted exactly
# ---------------------------------------------------------------------------------------------------------------
# Why the same profile trick as for Holt: with additive errors the one-step errors are linear in ALL initial states
# (level, trend, m seasonal states), so for given smoothing parameters the SSE-optimal initial states are a small
# least-squares problem per series. Seasonal initial states are constrained to sum to zero (else the level and the
# seasonal states are not identified). Multiplicative models are this model fitted to log(x).
HW_ALPHAS = np.array([0.04, 0.12, 0.25, 0.4, 0.6, 0.8, 0.97])
HW_BETAS = np.array([0.02, 0.15])  # beta_star (statsmodels' smoothing_trend)
HW_GAMMAS = np.array([0.01, 0.1, 0.25])  # on the scale of statsmodels' smoothing_seasonal; capped at 1 - alpha
HW_PHIS = np.array([0.9, 0.98])


def hw_filter(x: np.ndarray, alpha, beta, gamma, phi, l0, b0, s0: np.ndarray, m: int
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Additive damped Holt-Winters recursions (statsmodels' ExponentialSmoothing form) with given parameters.

    Parameters broadcast over series: shape (n,) (or scalars); s0 (n, m) holds the seasonal states of periods
    -m..-1 (period t uses slot t % m). Returns (errors (n, T), level, trend, seasonal ring (n, m) after period T-1,
    ring slot k belonging to the periods t with t % m == k).
    """
    n, T = x.shape
    level = np.broadcast_to(np.asarray(l0, float), (n,)).copy()
    trend = np.broadcast_to(np.asarray(b0, float), (n,)).copy()
    seas = np.array(s0, dtype=float).reshape(n, m).copy()
    alpha, beta, gamma, phi = (np.broadcast_to(np.asarray(v, float), (n,)) for v in (alpha, beta, gamma, phi))
    ab = alpha * beta
    err = np.empty((n, T))
    for t in range(T):
        k = t % m
        base = level + phi * trend
        e = x[:, t] - base - seas[:, k]
        err[:, t] = e
        level = base + alpha * e
        trend = phi * trend + ab * e
        seas[:, k] += gamma * e
    return err, level, trend, seas


@functools.lru_cache(maxsize=None)
def _hw_grid(trend: bool, seasonal: bool) -> tuple[np.ndarray, ...]:
    """The (alpha, beta, gamma, phi) grid of a model, built once per model (read-only arrays)."""
    a, b, g, p = np.meshgrid(HW_ALPHAS, HW_BETAS if trend else [0.0], HW_GAMMAS if seasonal else [0.0],
                             HW_PHIS if trend else [0.0], indexing="ij")
    a, b, g, p = (v.ravel() for v in (a, b, g, p))
    g = np.minimum(g, 1 - a)
    for v in (a, b, g, p):
        v.flags.writeable = False
    return a, b, g, p


def _hw_basis(T: int, m: int, alpha, beta, gamma, phi, trend: bool, seasonal: bool) -> np.ndarray:
    """Forecasts (G, T, K) the unit initial states produce with no data (the SSE's design matrix per grid point).

    Basis: level, trend (if any), seasonal e_k - e_{m-1} for k < m-1 (if seasonal), so seasonal states sum to 0.
    """
    G = alpha.shape[0]
    K = 1 + trend + (m - 1) * seasonal
    mm = m if seasonal else 1
    level = np.zeros((G, K))
    tr = np.zeros((G, K))
    seas = np.zeros((G, K, mm))
    level[:, 0] = 1
    if trend:
        tr[:, 1] = 1
    if seasonal:
        for k in range(m - 1):
            seas[:, 1 + trend + k, k] = 1
            seas[:, 1 + trend + k, m - 1] = -1
    a, ab, g, p = alpha[:, None], (alpha * beta)[:, None], gamma[:, None], phi[:, None]
    U = np.empty((G, T, K))
    for t in range(T):
        k = t % mm
        base = level + p * tr
        f = base + seas[:, :, k]
        U[:, t] = f
        level = base - a * f
        tr = p * tr - ab * f
        seas[:, :, k] -= g * f
    return U


#: `_hw_basis` is computed for lengths rounded up to a multiple of this and sliced: a call with items of many
#: lengths (and the calibration refits, shorter still) runs the recursion once per block, not once per length.
HW_BASIS_BLOCK = 64


@functools.lru_cache(maxsize=8)
def _hw_basis_block(L: int, m: int, trend: bool, seasonal: bool) -> np.ndarray:
    """`_hw_basis` of the model's grid for L periods (read-only). Row t does not depend on L (the recursion runs
    forward from the same unit states), so its first T periods are exactly the basis for length T."""
    U = _hw_basis(L, m, *_hw_grid(trend, seasonal), trend, seasonal)
    U.flags.writeable = False
    return U


@functools.lru_cache(maxsize=32)
def _hw_design(T: int, m: int, trend: bool, seasonal: bool) -> tuple[np.ndarray, np.ndarray]:
    """The design matrices U (G, T, K) of the model's grid and the inverses of U'U (G, K, K) (ridge 1e-8 of the
    mean diagonal, for grid points where the states are barely identified).

    Cached (read-only arrays): they depend on the length, m and the model only, not on the data, so the matrices
    of one length share them (log and additive fits, calibration refits of other lengths).
    """
    block = -(-T // HW_BASIS_BLOCK) * HW_BASIS_BLOCK
    U = np.ascontiguousarray(_hw_basis_block(block, m, trend, seasonal)[:, :T])
    S = np.einsum("gtk,gtl->gkl", U, U)
    K = S.shape[1]
    S = S + 1e-8 * np.trace(S, axis1=1, axis2=2)[:, None, None] / K * np.eye(K)
    Sinv = np.linalg.inv(S)
    U.flags.writeable = False
    Sinv.flags.writeable = False
    return U, Sinv


def _hw_profile(x: np.ndarray, m: int, trend: bool, seasonal: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Best grid point per series (n,), its SSE (n,) and SSE-optimal initial states (n, K).

    Every grid point is profiled exactly; rows are processed in chunks so memory stays bounded for 10^5 series.
    """
    n, T = x.shape
    alpha, beta, gamma, phi = _hw_grid(trend, seasonal)
    G = alpha.shape[0]
    U, Sinv = _hw_design(T, m, trend, seasonal)
    K = U.shape[2]
    mm = m if seasonal else 1
    ab = alpha * beta
    best = np.empty(n, dtype=np.int64)
    sse = np.empty(n)
    init = np.empty((n, K))
    chunk = max(1, int(4e6 // (G * T)))
    for lo in range(0, n, chunk):
        xc = x[lo:lo + chunk]
        nc = xc.shape[0]
        level = np.zeros((nc, G))
        tr = np.zeros((nc, G))
        seas = np.zeros((mm, nc, G))
        A = np.empty((G, nc, T))
        for t in range(T):
            k = t % mm
            base = level + phi * tr if trend else level
            a = xc[:, t, None] - base - seas[k] if seasonal else xc[:, t, None] - base
            A[:, :, t] = a.T
            level = base + alpha * a
            if trend:
                tr = phi * tr + ab * a
            if seasonal:
                seas[k] += gamma * a
        sau = np.matmul(A, U)  # (G, nc, K)
        c = np.matmul(sau, Sinv)  # Sinv symmetric
        saa = np.einsum("gnt,gnt->gn", A, A)
        sse_c = np.maximum(saa - np.einsum("gnk,gnk->gn", c, sau), 0.0).T  # (nc, G)
        k = _best(sse_c)
        r = np.arange(nc)
        best[lo:lo + nc], sse[lo:lo + nc], init[lo:lo + nc] = k, sse_c[r, k], c[k, r]
    return best, sse, init


def fit_hw(x: np.ndarray, h: int, m: int, trend: bool = True, seasonal: bool = True) -> tuple[Fit, np.ndarray]:
    """Additive (damped) Holt-Winters, smoothing parameters by grid search, initial states SSE-optimal.

    Returns the fit and its AICc per series (Gaussian likelihood, parameters: smoothing + initial states), which
    makes the variants (trend/no trend, seasonal/not) comparable on the same data.
    """
    n, T = x.shape
    seasonal = seasonal and m > 1
    a, b, g, p = _hw_grid(trend, seasonal)
    k, sse_k, c = _hw_profile(x, m, trend, seasonal)
    alpha, beta, gamma, phi = a[k], b[k], g[k], p[k]
    l0 = c[:, 0]
    b0 = c[:, 1] if trend else np.zeros(n)
    s0 = np.zeros((n, m if seasonal else 1))
    if seasonal:
        s0[:, :m - 1] = c[:, 1 + trend:]
        s0[:, m - 1] = -c[:, 1 + trend:].sum(axis=1)
    mm = s0.shape[1]
    err, level, slope, seas = hw_filter(x, alpha, beta, gamma, phi, l0, b0, s0, mm)
    j = np.arange(1, h + 1)
    damp = _damped_sum(phi, h) if trend else np.zeros((n, h))
    mean = level[:, None] + damp * slope[:, None] + seas[:, (T + j - 1) % mm]
    psi = alpha[:, None] + alpha[:, None] * beta[:, None] * damp
    if seasonal:
        psi = psi + gamma[:, None] * (j % m == 0)[None, :]
    n_par = 1 + 2 * trend + seasonal + c.shape[1]
    with np.errstate(divide="ignore"):
        loglik = T * np.log(np.maximum(sse_k, 1e-300) / T)
    aicc = loglik + 2 * n_par + np.where(T - n_par - 1 > 0, 2 * n_par * (n_par + 1) / max(T - n_par - 1, 1),
                                         np.inf)
    params = {"alpha": alpha, "beta": beta, "gamma": gamma, "phi": phi, "l0": l0, "b0": b0, "s0": s0}
    return Fit(mean, err, psi, params), aicc
