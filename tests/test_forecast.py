"""Forecast engine: hand-worked values, agreement with statsmodels for shared models, properties."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st
from scipy.optimize import minimize_scalar
from statsmodels.tsa.holtwinters import ExponentialSmoothing, SimpleExpSmoothing

from snop_xl import contract as C
from snop_xl.errors import SnopError
from snop_xl.calc.forecast import METHODS, forecast
from snop_xl.calc.forecast import kernels as K, models

COLS = ["item", "period", "forecast", "lo_80", "hi_80", "lo_95", "hi_95", "method"]


def long(series: dict[str, list[float]], start: str = "2023-01") -> pd.DataFrame:
    rows = [pd.DataFrame({"item": k, "period": pd.period_range(start, periods=len(v), freq="M"), "qty": v})
            for k, v in series.items()]
    return pd.concat(rows, ignore_index=True)


def test_ses_hand_worked():
    # alpha 0.5, l0 10: forecasts 10, 10, 11 -> errors 0, 2, 0; final level 11
    err, level, trend = K.es_filter(np.array([[10.0, 12.0, 11.0]]), np.array([0.5]), np.array([0.0]),
                                    np.array([0.0]), np.array([10.0]), np.array([0.0]))
    np.testing.assert_allclose(err, [[0, 2, 0]])
    assert level[0] == 11 and trend[0] == 0


def test_croston_sba_tsb_hand_worked():
    x = np.array([[0, 3, 0, 0, 6, 0]], dtype=float)
    # first demand 3 at position 2 -> z 3, p 2; next demand 6 after 3 periods -> z 3.3, p 2.1
    assert K.fit_croston(x, 2, "croston").mean[0, 0] == pytest.approx(3.3 / 2.1)
    assert K.fit_croston(x, 2, "sba").mean[0, 0] == pytest.approx(0.95 * 3.3 / 2.1)
    # TSB: d starts at 2/6, smoothed (0.1) over periods 3..6 with demand 0, 0, 1, 0; size 3.3
    d = 2 / 6
    for occurred in (0, 0, 1, 0):
        d += 0.1 * (occurred - d)
    assert K.fit_croston(x, 2, "tsb").mean[0, 0] == pytest.approx(d * 3.3)


@pytest.mark.parametrize("alpha,beta,phi", [(0.3, 0.1, 0.9), (0.8, 0.5, 0.98), (0.1, 0.01, 0.8)])
def test_damped_holt_matches_statsmodels(alpha, beta, phi):
    rng = np.random.default_rng(3)
    y = 50 + np.cumsum(rng.normal(0.5, 2, 40))
    l0, b0 = 48.0, 0.7
    sm = ExponentialSmoothing(y, trend="add", damped_trend=True, initialization_method="known",
                              initial_level=l0, initial_trend=b0).fit(
        smoothing_level=alpha, smoothing_trend=beta, damping_trend=phi, optimized=False)
    err, level, trend = K.es_filter(y[None, :], np.array([alpha]), np.array([beta]), np.array([phi]),
                                    np.array([l0]), np.array([b0]))
    np.testing.assert_allclose(y - err[0], sm.fittedvalues, rtol=1e-10)
    damp = np.cumsum(phi ** np.arange(1, 7))
    np.testing.assert_allclose(level[0] + damp * trend[0], sm.forecast(6), rtol=1e-10)


def test_ses_matches_statsmodels_and_initial_level_is_optimal():
    rng = np.random.default_rng(4)
    y = 100 + rng.normal(0, 10, 30)
    sm = SimpleExpSmoothing(y, initialization_method="known", initial_level=95.0).fit(
        smoothing_level=0.3, optimized=False)
    err, level, _ = K.es_filter(y[None, :], *(np.array([v]) for v in (0.3, 0.0, 0.0, 95.0, 0.0)))
    np.testing.assert_allclose(y - err[0], sm.fittedvalues, rtol=1e-10)
    # closed-form initial level equals a numerical minimisation of the SSE
    sse, l0, _ = K._profile_sse(y[None, :], np.array([0.3]), np.array([0.0]), np.array([0.0]), trend=False)
    best = minimize_scalar(lambda v: (K.es_filter(y[None, :], *(np.array([p]) for p in (0.3, 0, 0, v, 0)))[0]
                                      ** 2).sum(), bounds=(0, 200), method="bounded", options={"xatol": 1e-8})
    assert l0[0, 0] == pytest.approx(best.x, abs=1e-4)
    assert sse[0, 0] == pytest.approx(best.fun, rel=1e-8)


@pytest.mark.parametrize("trend", [False, True])
def test_grid_fit_is_as_good_as_statsmodels_optimiser(trend):
    rng = np.random.default_rng(5)
    ys = [30 + np.cumsum(rng.normal(0.3, 1.5, 48)) for _ in range(5)]
    fit = K.fit_es(np.array(ys), 6, trend=trend)
    for i, y in enumerate(ys):
        model = (ExponentialSmoothing(y, trend="add", damped_trend=True, initialization_method="estimated")
                 if trend else SimpleExpSmoothing(y, initialization_method="estimated"))
        sm_sse = model.fit().sse
        assert (fit.resid[i] ** 2).sum() <= sm_sse * (1.06 if trend else 1.01)  # damped: coarse 144-point grid


def test_output_columns_calendar_and_labels():
    hist = long({"smooth": list(100 + 10 * np.sin(np.arange(48) * np.pi / 6)),
                 "short": [4.0, 6.0], "zeros": [0.0] * 24,
                 "lumpy": [0, 0, 9, 0, 0, 0, 2, 0, 0, 15, 0, 0] * 3}, start="2022-01")
    hist = pd.concat([hist, long({"late": [5.0] * 12}, start="2025-03")], ignore_index=True)
    fc = forecast(hist, 4)
    assert list(fc.columns) == COLS
    assert len(fc) == 5 * 4
    first = fc.groupby("item").first()
    assert first.loc["smooth", "period"] == pd.Period("2026-01", "M")
    assert first.loc["late", "period"] == pd.Period("2026-03", "M")
    assert first.loc["short", "method"] == "mean (short history)"
    assert first.loc["short", "forecast"] == pytest.approx(5.0)
    assert first.loc["zeros", "method"] == "zero history" and first.loc["zeros", "hi_95"] == 0
    assert first.loc["lumpy", "method"] in (models.INTERMITTENT_AUTO, *models.INTERMITTENT_CANDIDATES)
    assert first.loc["smooth", "method"] in models.AUTO_NAMES
    assert (fc["lo_95"] <= fc["lo_80"]).all() and (fc["lo_80"] <= fc["forecast"]).all()
    assert (fc["forecast"] <= fc["hi_80"]).all() and (fc["hi_80"] <= fc["hi_95"]).all()


def test_timestamps_and_weekly_periods():
    daily = pd.date_range("2024-01-01", periods=30, freq="MS")
    fc = forecast(pd.DataFrame({"item": "a", "period": daily, "qty": np.arange(30.0)}), 3)
    assert fc["period"].iloc[0] == pd.Period("2026-07", "M")
    weeks = pd.period_range("2025-01-06", periods=20, freq="W")
    fc = forecast(pd.DataFrame({"item": "a", "period": weeks, "qty": 10.0}), 2, season_length=52)
    assert fc["period"].iloc[0] == weeks[-1] + 1
    assert fc["forecast"].iloc[0] == pytest.approx(10.0)


def test_weekly_items_keep_their_own_calendars():
    # weekly periods and weekly timestamps: every item continues from its own last week, whatever its start
    early = pd.period_range("2025-01-06", periods=30, freq="W")
    late = pd.period_range("2025-03-03", periods=12, freq="W")
    hist = pd.concat([pd.DataFrame({"item": "early", "period": early, "qty": 5.0}),
                      pd.DataFrame({"item": "late", "period": late, "qty": 8.0})], ignore_index=True)
    for frame in (hist, hist.assign(period=hist["period"].dt.start_time)):
        fc = forecast(frame, 3, season_length=52)
        assert fc["period"].dtype == early.dtype
        got = fc.groupby("item")["period"].agg(list)
        assert got["early"] == list(early[-1] + np.arange(1, 4))
        assert got["late"] == list(late[-1] + np.arange(1, 4))
        np.testing.assert_allclose(fc.groupby("item")["forecast"].first(), [5.0, 8.0])


def test_syntetos_boylan_classification_by_hand():
    x = np.array([[0, 3, 0, 0, 6, 0],  # 2 demands in 6 periods: ADI 3; sizes 3, 6: var 2.25 / mean^2 20.25
                  [4, 4, 4, 4, 4, 4],  # smooth, constant size
                  [1, 9, 1, 9, 1, 9],  # erratic: ADI 1, sizes mean 5, var 16
                  [0, 0, 0, 0, 0, 0]])
    adi, cv2 = K.classify_demand(x.astype(float))
    np.testing.assert_allclose(adi, [3.0, 1.0, 1.0, np.inf])
    np.testing.assert_allclose(cv2, [2.25 / 20.25, 0.0, 16 / 25, 0.0])
    # auto: intermittent (ADI > 1.32) -> Croston family; smooth and erratic -> smooth-series models
    labels = forecast(long({"i": [0, 3, 0, 0, 6, 0] * 4, "s": [4.0, 5.0] * 12, "e": [1, 9] * 12}), 2
                      ).groupby("item")["method"].first()
    assert labels["i"] in (models.INTERMITTENT_AUTO, *models.INTERMITTENT_CANDIDATES) and labels["s"] not in models.INTERMITTENT
    assert labels["e"] not in models.INTERMITTENT


def test_unknown_method_lists_valid_ones():
    with pytest.raises(SnopError, match="valid methods: auto, naive"):
        forecast(long({"a": [1.0, 2.0]}), 2, method="arima")
    assert METHODS == C.FORECAST_METHODS
    assert C.SETTING_BY_KEY["default_method"].choices == METHODS


@pytest.mark.parametrize("method", METHODS)
def test_every_method_runs(method):
    rng = np.random.default_rng(0)
    hist = long({"a": list(rng.poisson(20, 40).astype(float)), "b": [0, 3, 0, 0, 1] * 6, "c": [1.0, 2.0, 3.0]})
    fc = forecast(hist, 13, method=method)
    assert len(fc) == 39 and (fc[COLS[2:7]] >= 0).all().all() and fc[COLS[2:7]].notna().all().all()


def test_empty_history():
    fc = forecast(pd.DataFrame({"item": [], "period": pd.PeriodIndex([], freq="M"), "qty": []}), 3)
    assert list(fc.columns) == COLS and len(fc) == 0


series = st.lists(st.one_of(st.floats(0, 1e5), st.just(0.0)), min_size=1, max_size=50)


@settings(max_examples=40, deadline=None)
@given(st.dictionaries(st.sampled_from("abcdef"), series, min_size=1, max_size=4), st.integers(1, 20),
       st.sampled_from(METHODS))
def test_properties_nonnegative_complete_deterministic(data, h, method):
    hist = long(data)
    fc = forecast(hist, h, method=method)
    assert len(fc) == len(data) * h
    values = fc[["forecast", "lo_80", "hi_80", "lo_95", "hi_95"]].to_numpy()
    assert np.isfinite(values).all() and (values >= 0).all()
    assert (fc["lo_95"] <= fc["hi_95"] + 1e-9).all()
    pd.testing.assert_frame_equal(fc, forecast(hist.sample(frac=1, random_state=1), h, method=method))


def _seasonal_series(rng, T, m=12):
    t = np.arange(T)
    return 100 + np.cumsum(rng.normal(0.3, 2, T)) + 12 * np.sin(2 * np.pi * t / m) + rng.normal(0, 2, T)


@pytest.mark.parametrize("alpha,beta,gamma,phi", [(0.3, 0.1, 0.2, 0.9), (0.7, 0.02, 0.05, 0.98)])
def test_holt_winters_matches_statsmodels(alpha, beta, gamma, phi):
    y = _seasonal_series(np.random.default_rng(7), 60)
    s0 = 10 * np.sin(2 * np.pi * np.arange(-12, 0) / 12)
    s0 -= s0.mean()
    sm = ExponentialSmoothing(y, trend="add", damped_trend=True, seasonal="add", seasonal_periods=12,
                              initialization_method="known", initial_level=99.0, initial_trend=0.4,
                              initial_seasonal=s0).fit(smoothing_level=alpha, smoothing_trend=beta,
                                                       smoothing_seasonal=gamma, damping_trend=phi, optimized=False)
    err, level, trend, seas = K.hw_filter(y[None, :], alpha, beta, gamma, phi, 99.0, 0.4, s0[None, :], 12)
    np.testing.assert_allclose(y - err[0], sm.fittedvalues, rtol=1e-10)
    h = np.arange(1, 12)  # (statsmodels' holtwinters reuses an older seasonal state at h = 12; ETS uses the latest)
    ours = level[0] + np.cumsum(phi ** h) * trend[0] + seas[0, (60 + h - 1) % 12]
    np.testing.assert_allclose(ours, sm.forecast(11), rtol=1e-10)


def test_holt_winters_initial_states_are_optimal_and_fit_is_competitive():
    from scipy.optimize import least_squares
    rng = np.random.default_rng(8)
    ys = np.array([_seasonal_series(rng, 48) for _ in range(3)])
    fit, aicc = K.fit_hw(ys, 6, 12, trend=True, seasonal=True)
    assert np.isfinite(aicc).all()
    for i, y in enumerate(ys):
        p = {k: fit.params[k][i] for k in ("alpha", "beta", "gamma", "phi")}

        def resid(v):
            s0 = np.r_[v[2:], -v[2:].sum()]
            return K.hw_filter(y[None, :], p["alpha"], p["beta"], p["gamma"], p["phi"], v[0], v[1], s0[None, :],
                               12)[0][0]
        best = least_squares(resid, np.r_[y[0], 0.0, np.zeros(11)])
        assert (fit.resid[i] ** 2).sum() == pytest.approx(2 * best.cost, rel=1e-6)  # cost is SSE / 2
        sm = ExponentialSmoothing(y, trend="add", damped_trend=True, seasonal="add", seasonal_periods=12,
                                  initialization_method="estimated").fit()
        assert (fit.resid[i] ** 2).sum() <= sm.sse * 1.15  # coarse grid vs a full optimiser


def test_auto_interval_coverage_is_calibrated():
    # 400 items from one seasonal random-walk process; the last 12 periods are never shown to forecast()
    rng = np.random.default_rng(11)
    ys = np.array([_seasonal_series(rng, 60) for _ in range(400)])
    hist = pd.DataFrame({"item": np.repeat(np.arange(400), 48), "qty": ys[:, :48].ravel(),
                         "period": np.tile(pd.period_range("2020-01", periods=48, freq="M"), 400)})
    fc = forecast(hist, 12)
    actual = ys[:, 48:].ravel()
    cov80 = np.mean((actual >= fc["lo_80"].to_numpy()) & (actual <= fc["hi_80"].to_numpy()))
    cov95 = np.mean((actual >= fc["lo_95"].to_numpy()) & (actual <= fc["hi_95"].to_numpy()))
    assert 0.70 <= cov80 <= 0.90 and 0.88 <= cov95 <= 0.99
    assert fc["method"].isin(models.AUTO_NAMES).all()


def test_optimized_theta_closed_form_equals_one_ses_search_per_theta():
    # reference: for each theta, SES grid search on the theta line Z, theta picked by one-step MSE on x (t >= 1)
    rng = np.random.default_rng(12)
    x = 40 + np.cumsum(rng.normal(0.4, 3, (30, 36)), axis=1)
    h, T = 6, x.shape[1]
    fit = K.fit_optimized_theta(x, h)
    t = np.arange(T + h, dtype=float)
    for i in range(len(x)):
        b, a = np.polyfit(t[:T], x[i], 1)
        line = a + b * t
        best = None
        for theta in (1.0, 1.5, 2.0, 2.5, 3.0, 4.0):
            ses = K.fit_es((theta * x[i] + (1 - theta) * line[:T])[None, :], h, trend=False)
            mse = np.mean((ses.resid[0, 1:] / theta) ** 2)
            if best is None or mse < best[0]:
                best = (mse, theta, (1 - 1 / theta) * line[T:] + ses.mean[0] / theta)
        assert fit.params["theta"][i] == best[1]
        np.testing.assert_allclose(fit.mean[i], best[2], rtol=1e-9)


def test_auto_handles_short_zero_intermittent_and_long_items_in_one_call():
    rng = np.random.default_rng(13)
    hist = long({"long": list(_seasonal_series(rng, 40)), "year": list(_seasonal_series(rng, 18)),
                 "tiny": [3.0, 0.0, 5.0], "zeros": [0.0] * 30, "lumpy": [0, 0, 0, 7, 0, 0, 0, 0, 2, 0] * 4,
                 "stopped": [5, 0, 4, 0, 6, 0, 3] + [0] * 20, "dead": [5, 0, 4, 0, 6, 0, 3] + [0] * 24})
    fc = forecast(hist, 24)
    labels = fc.groupby("item")["method"].first()
    assert labels["long"] in models.AUTO_NAMES and labels["year"].startswith("combination")
    assert labels["tiny"] == "mean (short history)" and labels["zeros"] == "zero history"
    assert {labels["lumpy"], labels["stopped"]} <= {models.INTERMITTENT_AUTO, *models.INTERMITTENT_CANDIDATES} and labels["dead"] == "inactive"
    values = fc[COLS[2:7]].to_numpy()
    assert np.isfinite(values).all() and (values >= 0).all()
    assert (fc.loc[fc["item"] == "zeros", COLS[2:7]].to_numpy() == 0).all()
    # a year of history: no seasonal model can be identified, the forecast stays near the recent level
    year = hist.loc[hist["item"] == "year", "qty"].to_numpy()
    assert abs(fc.loc[fc["item"] == "year", "forecast"].iloc[0] - year[-6:].mean()) < 4 * year.std()


def test_auto_groups_items_by_length_and_seasonality():
    # 2-3 seasons: Holt-Winters pair only; a clear yearly pattern: with seasonal naive; a trend with noise: without
    rng = np.random.default_rng(21)
    t = np.arange(60)
    seasonal = 100 * (1 + 0.5 * np.sin(2 * np.pi * t / 12)) + rng.normal(0, 3, 60)
    trend = 50 + 0.8 * t + rng.normal(0, 4, 60)
    fc = forecast(long({"young": list(seasonal[:30]), "seasonal": list(seasonal), "trend": list(trend)}), 6)
    labels = fc.groupby("item")["method"].first()
    assert labels["young"] == models.AUTO_GROUPS["short"][2]
    assert labels["seasonal"] == models.AUTO_GROUPS["seasonal"][2]
    assert labels["trend"] == models.AUTO_GROUPS["nonseasonal"][2]
    # each item's forecast is its group's rule (mean or median) over its members fitted alone, clipped at zero
    for item, y, group in (("seasonal", seasonal, "seasonal"), ("trend", trend, "nonseasonal")):
        names, rule, _ = models.AUTO_GROUPS[group]
        members = np.maximum([models.MEMBERS[k](y[None, :], 6, 12, {})[0][0] for k in names], 0)
        expect = {"mean": np.mean, "median": np.median}[rule](members, axis=0)
        np.testing.assert_allclose(fc.loc[fc["item"] == item, "forecast"], expect, rtol=1e-9)


def test_additive_damped_member_matches_statsmodels_for_its_parameters():
    # hw_add_damped is ETS(A,Ad,A) on the original scale: its forecast equals statsmodels' ExponentialSmoothing run
    # with the parameters and initial states the grid search chose
    y = _seasonal_series(np.random.default_rng(31), 48)
    mean, sd = models.MEMBERS["hw_add_damped"](y[None, :], 11, 12, {})
    fit, _ = K.fit_hw(y[None, :], 11, 12, trend=True, seasonal=True)
    p = {k: v[0] for k, v in fit.params.items()}
    sm = ExponentialSmoothing(y, trend="add", damped_trend=True, seasonal="add", seasonal_periods=12,
                              initialization_method="known", initial_level=p["l0"], initial_trend=p["b0"],
                              initial_seasonal=p["s0"]).fit(
        smoothing_level=p["alpha"], smoothing_trend=p["beta"], smoothing_seasonal=p["gamma"], damping_trend=p["phi"],
        optimized=False)
    np.testing.assert_allclose(mean[0], sm.forecast(11), rtol=1e-9)
    assert (sd > 0).all() and (np.diff(sd[0]) >= -1e-12).all()


def test_log_holt_winters_mean_member_is_the_lognormal_mean():
    # hw_mean = hw (the back-transformed median exp(mu)) times exp(s^2 / 2), s the log-scale sd = sd / median
    rng = np.random.default_rng(32)
    y = np.exp(np.log(_seasonal_series(rng, 48)) + rng.normal(0, 0.05, 48))
    cache = {}
    median, sd = models.MEMBERS["hw"](y[None, :], 6, 12, cache)
    mean, sd_mean = models.MEMBERS["hw_mean"](y[None, :], 6, 12, cache)
    np.testing.assert_allclose(mean, median * np.exp(0.5 * (sd / median) ** 2), rtol=1e-12)
    np.testing.assert_allclose(sd_mean, sd)
    assert (mean > median).all()
    # a series with a zero is fitted on the original scale: no back-transform, mean = the additive forecast
    z = y.copy()
    z[5] = 0.0
    np.testing.assert_allclose(models.MEMBERS["hw_mean"](z[None, :], 6, 12, {})[0],
                               models.MEMBERS["hw"](z[None, :], 6, 12, {})[0])


def test_fit_members_rules():
    # constant-forecast members 1 and 6, and seasonal naive of a flat series at 2 (forecasts 2)
    x = np.full((1, 24), 2.0)
    models.MEMBERS["_one"] = lambda x, h, m, c: (np.ones((len(x), h)), np.ones((len(x), h)))
    models.MEMBERS["_six"] = lambda x, h, m, c: (np.full((len(x), h), 6.0), np.ones((len(x), h)))
    try:
        mean, _ = models.fit_members(x, 3, 12, ("_one", "snaive", "_six"), "mean")
        np.testing.assert_allclose(mean, [[3.0] * 3])
        median, _ = models.fit_members(x, 3, 12, ("_one", "snaive", "_six"), "median")
        np.testing.assert_allclose(median, [[2.0] * 3])
        trim, _ = models.fit_members(x, 3, 12, ("_one", "_one", "snaive", "_six"), "trim")
        np.testing.assert_allclose(trim, [[1.5] * 3])
    finally:
        del models.MEMBERS["_one"], models.MEMBERS["_six"]


@pytest.mark.parametrize("T", [25, 64, 100])
def test_holt_winters_design_sliced_from_a_block_is_the_same_bits(T):
    # _hw_design slices the basis of a longer block: the same numbers, bit for bit, as the basis run for T alone
    for trend in (False, True):
        U, _ = K._hw_design(T, 12, trend, True)
        alone = K._hw_basis(T, 12, *K._hw_grid(trend, True), trend, True)
        assert U.shape == alone.shape and np.array_equal(U, alone)


def test_every_method_label_is_explained_on_the_demand_plan():
    # the labels forecast() writes are documented in the DemandPlan's Method column (docs/workbook.md)
    doc = C.DEMAND_PLAN.column("method").doc
    labels = {*models.AUTO_NAMES, "combination", *models.INTERMITTENT_CANDIDATES, models.INTERMITTENT_AUTO,
              "mean (short history)",
              "zero history", "inactive"}
    rng = np.random.default_rng(2)
    hist = long({"a": list(_seasonal_series(rng, 40)), "b": list(_seasonal_series(rng, 18)), "c": [1.0, 2.0],
                 "d": [0.0] * 6, "e": [0, 0, 4, 0, 0, 0, 3, 0] * 4, "f": [5, 0, 4, 0, 6] + [0] * 24,
                 "g": [5.0, 7.0, 6.0, 8.0] * 3})
    assert set(forecast(hist, 2)["method"]) <= labels
    for label in labels:
        assert label in doc, label


def test_theta_matches_statsmodels_theta_model_for_its_ses():
    # fit_theta = SES + b/2 * (j - 1 + 1/alpha - (1-alpha)^T/alpha): given statsmodels' SES (alpha, initial level
    # y[0]), it equals statsmodels' ThetaModel (theta 2, no deseasonalising)
    from statsmodels.tsa.forecasting.theta import ThetaModel

    y = 40 + np.cumsum(np.random.default_rng(14).normal(0.6, 2.0, 36))
    res = ThetaModel(y, deseasonalize=False).fit()
    alpha = float(res.params["alpha"])
    err, level, _ = K.es_filter(y[None, :], *(np.array([v]) for v in (alpha, 0.0, 0.0, y[0], 0.0)))
    ses = K.Fit(np.repeat(level[:, None], 8, axis=1), err, np.full((1, 8), alpha), {"alpha": np.array([alpha])})
    np.testing.assert_allclose(K.fit_theta(y[None, :], 8, ses).mean[0], res.forecast(8), rtol=1e-9)
