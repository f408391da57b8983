"""Intermittent demand: ADIDA/IMAPA by hand, inactive items at exactly zero, mixture bounds, frequency of timestamps."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from snop_xl.calc.forecast import METHODS, forecast, intervals, models
from snop_xl.calc.forecast import kernels as K
from snop_xl.errors import SnopError

BOUNDS = ["lo_95", "lo_80", "forecast", "hi_80", "hi_95"]


def long(series: dict[str, list[float]], start: str = "2020-01") -> pd.DataFrame:
    return pd.concat([pd.DataFrame({"item": k, "period": pd.period_range(start, periods=len(v), freq="M"), "qty": v})
                      for k, v in series.items()], ignore_index=True)


def ses_by_hand(y: np.ndarray) -> float:
    """SES forecast with alpha in {0.1, ..., 0.3} and the initial level minimising the SSE (closed form: the SSE is
    quadratic in l0), chosen by brute force over the alphas."""
    best = None
    for alpha in (0.1, 0.15, 0.2, 0.25, 0.3):
        def run(l0):
            level, sse = l0, 0.0
            for v in y:
                sse += (v - level) ** 2
                level += alpha * (v - level)
            return sse, level
        s0, s1, s2 = run(0.0)[0], run(1.0)[0], run(-1.0)[0]  # quadratic a l0^2 + b l0 + c
        a, b = (s1 + s2) / 2 - s0, (s1 - s2) / 2
        l0 = -b / (2 * a)
        sse, level = run(l0)
        if best is None or sse < best[0] - 1e-12:
            best = (sse, level)
    return best[1]


Y = np.array([0, 0, 4, 0, 0, 0, 2, 0, 5, 0, 0, 3, 0, 0, 0, 0, 6, 0, 1, 0, 0, 0, 4, 0, 0, 2, 0], dtype=float)


def test_adida_by_hand():
    # 9 demands, the last at position 26 (1-based 26): mean interval 26 / 9 = 2.89 -> buckets of 3
    last = np.flatnonzero(Y)[-1] + 1
    k = round(last / np.count_nonzero(Y))
    assert k == 3
    buckets = Y[len(Y) % k:].reshape(-1, k).sum(axis=1)  # 27 periods: 9 buckets, none dropped
    expect = ses_by_hand(buckets) / k
    assert K.fit_adida(Y[None, :])[0] == pytest.approx(expect, rel=1e-9)
    # a remainder is dropped from the start, so the last bucket ends at the last period
    y2 = np.r_[7.0, Y]
    k2 = round((np.flatnonzero(y2)[-1] + 1) / np.count_nonzero(y2))
    b2 = y2[len(y2) % k2:].reshape(-1, k2).sum(axis=1)
    assert K.fit_adida(y2[None, :])[0] == pytest.approx(ses_by_hand(b2) / k2, rel=1e-9)


def test_imapa_by_hand():
    k = 3
    expect = np.mean([ses_by_hand(Y[len(Y) % j:].reshape(-1, j).sum(axis=1)) / j for j in range(1, k + 1)])
    assert K.fit_imapa(Y[None, :])[0] == pytest.approx(expect, rel=1e-9)
    # batch: rows with other aggregation levels in the same matrix give the same numbers as alone
    other = np.where(np.arange(27) % 2 == 0, 3.0, 0.0)
    both = K.fit_imapa(np.stack([Y, other]))
    assert both[0] == pytest.approx(expect, rel=1e-9)
    assert both[1] == pytest.approx(K.fit_imapa(other[None, :])[0], rel=1e-12)


def test_auto_uses_the_imapa_tsb_mean_on_intermittent_items():
    fc = forecast(long({"i": list(Y) + [0, 3, 0]}), 3)
    x = np.r_[Y, 0, 3, 0][None, :]
    expect = 0.5 * (K.fit_imapa(x)[0] + K.fit_croston(x, 1, "tsb").mean[0, 0])
    assert (fc["method"] == "imapa+tsb").all()
    np.testing.assert_allclose(fc["forecast"], expect, rtol=1e-12)


def test_one_pass_kernels_match_the_single_models():
    rng = np.random.default_rng(5)
    x = (rng.random((60, 40)) < 0.3) * rng.gamma(2.0, 4.0, (60, 40))
    x[:3] = 0.0  # rows without demand
    adida, imapa = K.fit_adida_imapa(x)
    np.testing.assert_allclose(adida, K.fit_adida(x), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(imapa, K.fit_imapa(x), rtol=1e-12, atol=1e-12)
    sba, tsb = K.sba_tsb(x)
    assert np.array_equal(sba, K.fit_croston(x, 1, "sba").mean[:, 0])
    assert np.array_equal(tsb, K.fit_croston(x, 1, "tsb").mean[:, 0])
    # the SES level from the profile alone is fit_es's forecast
    agg = x[3:, :36].reshape(57, 12, 3).sum(axis=2)
    np.testing.assert_allclose(K.aggregate_ses(x[3:, :36], 3),
                               K.fit_es(agg, 1, trend=False, alphas=K.AGG_ALPHAS).mean[:, 0] / 3, rtol=1e-9)


def test_auto_switches_from_the_mean_only_where_the_items_own_holdout_says_so():
    # by hand from the single models: fit without the last min(h, T // 3) months, squared error on them; a candidate
    # replaces the IMAPA/TSB mean only when its error is below (1 - margin) x the mean's
    rng = np.random.default_rng(11)
    n, T, h = 400, 45, 12
    p = rng.uniform(0.1, 0.6, (n, 1)) * np.linspace(rng.uniform(0.3, 1.7, n), 1, T).T  # rates drift
    x = np.round((rng.random((n, T)) < p) * rng.gamma(2.0, 3.0, (n, T)) + 0.5 * (rng.random((n, T)) < p))

    def single(v):
        if v == "imapa+tsb":
            return 0.5 * (single("imapa") + single("tsb"))
        return {"imapa": K.fit_imapa, "adida": K.fit_adida}.get(v, lambda a: K.fit_croston(a, 1, v).mean[:, 0])(cut)

    names = (models.INTERMITTENT_AUTO, *models.INTERMITTENT_CANDIDATES)
    hc = min(h, T // 3)
    cut = x[:, :T - hc]
    mse = np.stack([np.mean((x[:, T - hc:] - single(v)[:, None]) ** 2, axis=1) for v in names], axis=1)
    best = 1 + mse[:, 1:].argmin(axis=1)
    switch = mse[np.arange(n), best] < (1 - models.INTERMITTENT_MARGIN) * mse[:, 0]
    level, label = models.choose_intermittent(x, h)
    assert 0.05 < switch.mean() < 0.6  # both outcomes are exercised
    np.testing.assert_array_equal(label, np.where(switch, np.array(names, dtype=object)[best], names[0]))
    cut = x
    full = np.stack([single(v) for v in names], axis=1)
    np.testing.assert_allclose(level, full[np.arange(n), np.where(switch, best, 0)], rtol=1e-9, atol=1e-12)
    # each row's choice is its own: the same alone as in the batch; forecast() writes it with its label
    i = int(np.flatnonzero(switch)[0])
    alone = models.choose_intermittent(x[i:i + 1], h)
    assert alone[1][0] == label[i] and alone[0][0] == pytest.approx(level[i], rel=1e-12)
    fc = forecast(long({"a": list(x[i])}), h)
    assert (fc["method"] == label[i]).all() and np.allclose(fc["forecast"], level[i], rtol=1e-9)
    # too short to hold anything out: the mean
    assert (models.choose_intermittent(x[:5, :4], h)[1] == models.INTERMITTENT_AUTO).all()


def test_a_relaunched_item_is_fitted_on_its_months_since_the_restart():
    # sparse for 30 months (ADI 4), 9 without demand, then 14 steady months: intermittent over the whole history
    # (53 months, 22 with demand: ADI 2.4), so "auto" fits it from the restart (period 39) on
    rng = np.random.default_rng(3)
    old = np.where(np.arange(30) % 4 == 1, 6.0, 0.0)
    new = np.round(rng.normal(50.0, 6.0, 14))

    def series(silence: int, run: int, before: np.ndarray = old) -> np.ndarray:
        return np.r_[before, np.zeros(silence), new[:run]]

    y = series(9, 14)
    assert K.classify_demand(y[None, :])[0][0] > models.ADI_CUTOFF
    assert models.relaunch_start(y[None, :], 12)[0] == 39
    # a silence under half a season, or a steady run under a season, is no relaunch; nor is a run that is not steady
    assert models.relaunch_start(series(5, 14)[None, :], 12)[0] == 0
    assert models.relaunch_start(series(9, 11)[None, :], 12)[0] == 0
    patchy = series(9, 14).copy()
    patchy[39::2] = 0.0  # every other month: ADI 2 since the restart
    assert models.relaunch_start(patchy[None, :], 12)[0] == 0
    # leading zeros (not launched yet) are a silence too; the last silence counts; rows are independent
    rows = np.stack([series(9, 14), np.r_[np.zeros(36), new, np.zeros(3)], np.r_[np.zeros(20), 5.0, np.zeros(18), new]])
    np.testing.assert_array_equal(models.relaunch_start(rows, 12), [39, 36, 39])
    np.testing.assert_array_equal(models.relaunch_start(rows, 4), [39, 36, 39])  # 2 quarters of silence, 4 steady

    fc = forecast(long({"a": list(y), "b": list(series(5, 14))}), 6)
    a, b = fc[fc["item"] == "a"], fc[fc["item"] == "b"]
    level, label = models.choose_intermittent(new[None, :], 6)  # the intermittent choice, on the months since
    assert (a["method"] == label[0] + " (relaunched)").all()
    np.testing.assert_allclose(a["forecast"], level[0], rtol=1e-12)
    assert abs(level[0] - new.mean()) < 0.15 * new.mean()  # the level of the new regime
    whole, named = models.choose_intermittent(series(5, 14)[None, :], 6)  # no relaunch: the whole history
    assert (b["method"] == named[0]).all() and np.allclose(b["forecast"], whole[0], rtol=1e-12)
    # its bounds come from the new regime's sizes: ordered, and the 95% bound above the largest of them
    assert (a["lo_95"] <= a["lo_80"]).all() and (a["hi_80"] <= a["hi_95"]).all() and (a["hi_95"] >= new.max()).all()


def test_inactive_rule_at_its_boundary_and_exact_zero():
    # monthly, m 12: threshold max(2 * 12, 6, 3 * mean interval). Demand every 2nd month for 2 years (mean interval
    # 2): inactive after 24 empty months, not after 23
    active = [0, 5] * 12
    fc = forecast(long({"dead": active + [0] * 24, "alive": active + [0] * 23}), 6)
    dead = fc[fc["item"] == "dead"]
    assert (dead["method"] == "inactive").all()
    assert (dead[BOUNDS].to_numpy() == 0).all()  # exactly 0: no 1e-10, no bound carrying old errors
    assert (fc.loc[fc["item"] == "alive", "method"] != "inactive").all()
    # a slow mover (one sale a year, mean interval 12) stays alive for 3 intervals (36 months), not just 24
    slow = ([0] * 11 + [9]) * 4
    labels = forecast(long({"a": slow + [0] * 30, "b": slow + [0] * 36}), 3).groupby("item")["method"].first()
    assert labels["a"] != "inactive" and labels["b"] == "inactive"
    # the rule holds for every method, and follows the season length (weekly m 52: 104 weeks)
    for method in METHODS:
        got = forecast(long({"d": active + [0] * 24}), 2, method=method)
        assert (got["method"] == "inactive").all() and (got[BOUNDS].to_numpy() == 0).all()
    assert not models.inactive(np.array([[5.0] * 20 + [0.0] * 30]), 52)[0]
    assert models.inactive(np.array([[5.0] * 20 + [0.0] * 104]), 52)[0]


def test_mixture_quantiles_by_hand():
    # sizes 1..10 (mean 5.5), forecast 1.1 per month -> demand in a month with p = 0.2
    x = np.zeros((1, 40))
    x[0, ::4] = np.arange(1, 11)
    lo, mid, hi, far = intervals.mixture_quantiles(x, np.array([1.1]), [0.025, 0.9, 0.975, 0.996])
    assert lo[0] == 0  # P(zero) 0.8 > 2.5%
    # plotting positions: the j-th of k = 10 sizes sits at level j / 11 of a new draw
    assert mid[0] == pytest.approx(5.5)  # size level (0.9 - 0.8) / 0.2 = 0.5 -> rank 5.5 -> 5.5
    assert hi[0] == pytest.approx(9.625)  # (0.975 - 0.8) / 0.2 = 0.875 -> rank 9.625 -> between 9 and 10
    # past the largest size (level 10 / 11) an exponential tail through the median and the largest size
    theta = (10 - 5.5) / np.log(11 / 2)
    assert far[0] == pytest.approx(10 + theta * np.log(1 / (11 * (1 - 0.98))))  # size level (0.996 - 0.8) / 0.2
    # the CDF inverts the quantiles: the smallest level whose quantile covers y; zero months 0
    mix = intervals.Mixture(x, np.array([1.1]))
    y = np.array([0.0, 0.5, 5.5, 9.625, 14.0])
    cdf = mix.cdf(y, np.zeros(5, dtype=int))
    assert cdf[0] == 0 and cdf[1] == pytest.approx(0.8 + 0.2 * 0.5 / 11)
    np.testing.assert_allclose(mix.quantile(cdf[1:]), y[1:], rtol=1e-12)
    # only the last SIZE_WINDOW demands count
    y = np.r_[np.full(30, 1000.0), np.full(intervals.SIZE_WINDOW, 2.0)][None, :]
    assert intervals.mixture_quantiles(y, np.array([2.0]), [0.975])[0][0] == pytest.approx(2.0)


intermittent = st.lists(st.one_of(st.just(0.0), st.just(0.0), st.floats(0, 500)), min_size=1, max_size=60)


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.sampled_from("abcdef"), intermittent, min_size=1, max_size=4), st.integers(1, 18),
       st.sampled_from(METHODS))
def test_bounds_always_ordered(data, h, method):
    fc = forecast(long(data), h, method=method)
    v = fc[BOUNDS].to_numpy()
    assert np.isfinite(v).all() and (v >= 0).all()
    assert (np.diff(v, axis=1) >= -1e-9 * np.maximum(1, np.abs(v[:, 1:]))).all()


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2 ** 32 - 1), st.integers(1, 40), st.integers(1, 60),
       st.lists(st.integers(1, 99), min_size=1, max_size=4, unique=True), st.booleans())
def test_mixture_bounds_ordered_and_zero_where_a_zero_month_beats_the_tail(seed, n, T, levels, recal):
    # random sparse rows (some all zero, some with one size, ties), forecasts off the sizes' scale, any levels, and
    # recalibrated levels anywhere in [0, MAX_LEVEL] (narrower or wider than nominal)
    rng = np.random.default_rng(seed)
    x = np.where(rng.random((n, T)) < rng.uniform(0, 1, (n, 1)), np.round(rng.lognormal(1, 1.5, (n, T)),
                                                                          rng.integers(0, 3)), 0.0)
    mean = rng.uniform(0, 3, n) * rng.lognormal(0, 2, n) * (rng.random(n) < 0.9)
    mix = intervals.Mixture(x, mean)
    table = None
    if recal:
        table = {round(t, 9): float(rng.uniform(0, intervals.MAX_LEVEL))
                 for lv in levels for t in (lv / 100, 0.5 + lv / 200)}
    lower, upper = intervals.intermittent_bounds(mix, mean, levels, table)
    order = sorted(levels)
    for a, b in zip(order, order[1:]):  # wider levels nest the narrower ones
        assert (lower[b] <= lower[a]).all() and (upper[b] >= upper[a]).all()
    for lv in levels:
        assert np.isfinite(upper[lv]).all() and (lower[lv] >= 0).all()
        assert (lower[lv] <= mean).all() and (upper[lv] >= mean).all()
        zero_beats_tail = 1 - mix.p >= 0.5 - lv / 200  # P(zero month) at least the lower tail
        assert (lower[lv][zero_beats_tail] == 0).all()


def test_recalibration_widens_bounds_for_drifting_sizes_from_history_alone():
    # demand sizes that grow 2% a month: the sizes of the past understate the future. The recalibration sees that
    # on the held-out end of each item's own history (the forecast call gets no future months) and lifts the
    # upper levels, so the 95% bound holds about 95% of the later months where the nominal mixture holds less
    rng = np.random.default_rng(11)
    n, T, h = 400, 72, 12
    growth = 1.02 ** np.arange(T)
    y = np.where(rng.random((n, T)) < rng.uniform(0.15, 0.4, (n, 1)),
                 np.round(rng.lognormal(2, 0.4, (n, T)) * growth), 0.0)
    hist = pd.DataFrame({"item": np.repeat(np.arange(n), T - h), "qty": y[:, :T - h].ravel(),
                         "period": np.tile(pd.period_range("2020-01", periods=T - h, freq="M"), n)})
    actual = y[:, T - h:].ravel()
    fc = forecast(hist, h)
    inter = fc["method"].isin(models.INTERMITTENT).to_numpy()
    assert inter.mean() > 0.9
    x = y[:, :T - h]
    calib = intervals.calibrate([(np.arange(n), x)], n, h, 12, "auto", (80, 95))
    recal = calib[intervals.INTERMITTENT_KEY]
    assert recal[0.95] > 0.95 and recal[0.8] > 0.8  # the history says: reach higher
    nominal = intervals.intermittent_bounds(intervals.Mixture(x, fc["forecast"].to_numpy()[::h]),
                                            fc["forecast"].to_numpy()[::h], (80, 95))[1]
    for lv in (80, 95):
        hi = fc[f"hi_{lv}"].to_numpy()
        assert abs((actual <= hi)[inter].mean() - lv / 100) <= 0.03
        assert (actual <= np.repeat(nominal[lv], h))[inter].mean() < lv / 100 - 0.03
    # a call too small to recalibrate keeps the nominal levels
    small = intervals.calibrate([(np.arange(3), x[:3])], 3, h, 12, "auto", (80, 95))
    assert small is None or intervals.INTERMITTENT_KEY not in small


def test_intermittent_interval_coverage_on_held_out_months():
    # 600 items: demand in a month with probability 0.1-0.45, sizes 1 + Poisson(2-20); 60 months, the last 12 held out
    rng = np.random.default_rng(7)
    n, T, h = 600, 60, 12
    p = rng.uniform(0.1, 0.45, n)[:, None]
    mu = rng.uniform(2, 20, n)[:, None]
    y = np.where(rng.random((n, T)) < p, 1 + rng.poisson(mu, (n, T)), 0).astype(float)
    hist = pd.DataFrame({"item": np.repeat(np.arange(n), T - h), "qty": y[:, :T - h].ravel(),
                         "period": np.tile(pd.period_range("2020-01", periods=T - h, freq="M"), n)})
    fc = forecast(hist, h)
    inter = fc["method"].isin(models.INTERMITTENT).to_numpy()
    assert inter.mean() > 0.8
    actual = y[:, T - h:].ravel()
    for lv in (80, 95):  # within 3 points of nominal, two-sided and in stock (the lower bound is 0: the same)
        lo, hi = fc[f"lo_{lv}"].to_numpy(), fc[f"hi_{lv}"].to_numpy()
        cover = ((actual >= lo) & (actual <= hi))[inter].mean()
        assert abs(cover - lv / 100) <= 0.03
        assert abs((actual <= hi)[inter].mean() - lv / 100) <= 0.03
        # most months are zero on items with p < 0.5: the lower bound is 0 there
        assert (lo[inter] == 0).all()


def test_interval_coverage_on_the_pbs_sparse_series():
    # the intermittent benchmark's held-out origins (the last two 24-month windows; the intervals were designed on
    # the four before them): the live sparse series' 80% and 95% bounds cover within 3 points of nominal, two-sided
    # and in stock, with the lower bound 0 wherever a zero month is likelier than the tail
    pytest.importorskip("tsdata")
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "intermittent_bench.py"
    spec = importlib.util.spec_from_file_location("intermittent_bench", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    wins = bench.windows(bench.load_pbs(), 24, 2)
    cols, _, methods = bench.run_ours(wins, 24)
    live = np.array([(train[-12:] > 0).any() for _, train, _ in wins])
    auto = (models.INTERMITTENT_AUTO, *models.INTERMITTENT_CANDIDATES)
    chosen = np.array([m.removesuffix(" (relaunched)") for m in methods.to_numpy()[live]], dtype=object)
    assert live.sum() == 58 and np.isin(chosen, auto).all()
    table = bench.interval_table([w for w, k in zip(wins, live) if k], {c: v[live] for c, v in cols.items()})
    for lv in (80, 95):
        assert abs(table[f"in{lv}"] - table[f"nominal in{lv}"]) <= 3
        assert abs(table[f"cov{lv}"] - lv) <= 3
    v = np.stack([cols[c] for c in BOUNDS])
    assert (np.diff(v, axis=0) >= 0).all()


def test_quarterly_timestamps_are_quarters_not_monthly_gaps():
    rng = np.random.default_rng(3)
    q = pd.date_range("2015-01-01", periods=40, freq="QS")
    fc = forecast(pd.DataFrame({"item": "a", "period": q, "qty": 100 + rng.normal(0, 3, 40)}), 4)
    assert list(fc["period"]) == list(pd.period_range("2025Q1", periods=4, freq="Q"))
    assert fc["forecast"].between(85, 115).all()
    assert not fc["method"].isin(models.INTERMITTENT).any()
    # quarter-end dates and an item with a missing quarter still read as quarters
    ends = pd.date_range("2015-03-31", periods=12, freq="QE")
    hist = pd.concat([pd.DataFrame({"item": "b", "period": ends, "qty": 50.0}),
                      pd.DataFrame({"item": "c", "period": ends.delete(5), "qty": 20.0})])
    assert forecast(hist, 2)["period"].dtype == pd.PeriodDtype("Q")
    # yearly dates read as years
    years = pd.date_range("2010-01-01", periods=12, freq="YS")
    assert forecast(pd.DataFrame({"item": "a", "period": years, "qty": 7.0}), 1)["period"].iloc[0] == pd.Period(
        "2022", "Y")


def test_irregular_timestamps_are_refused_naming_the_date():
    d = pd.to_datetime(["2024-01-01", "2024-02-01", "2024-02-10", "2024-03-01"])
    with pytest.raises(SnopError, match="2024-02-10"):
        forecast(pd.DataFrame({"item": "a", "period": d, "qty": 1.0}), 2)
    every_two = pd.date_range("2020-01-01", periods=10, freq="2MS")
    with pytest.raises(SnopError, match="multiple of 2 months"):
        forecast(pd.DataFrame({"item": "a", "period": every_two, "qty": 1.0}), 2)
    # monthly items with a missing month stay monthly
    m = pd.date_range("2020-01-01", periods=24, freq="MS").delete(7)
    assert forecast(pd.DataFrame({"item": "a", "period": m, "qty": 3.0}), 1)["period"].dtype == pd.PeriodDtype("M")
