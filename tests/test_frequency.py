"""Frequencies of timestamps (issue #17): weekly, quarterly and yearly dates inferred from their spacing or refused
with the first irregular date named; long histories fitted on their window."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from snop_xl.calc.forecast import forecast
from snop_xl.calc.forecast.api import history_window, timestamp_frequency
from snop_xl.errors import SnopError


def history(dates, qty=10.0, item="a") -> pd.DataFrame:
    return pd.DataFrame({"item": item, "period": pd.to_datetime(pd.Series(dates)), "qty": qty})


def test_weekly_timestamps_are_weeks():
    mondays = pd.date_range("2023-01-02", periods=80, freq="W-MON")
    fc = forecast(history(mondays), 4)
    assert fc["period"].dtype == pd.PeriodDtype("W")
    assert list(fc["period"]) == list(pd.Period(mondays[-1], "W") + np.arange(1, 5))
    # a missing week is a week without demand, not a change of frequency
    fc = forecast(history(mondays.delete([10, 11, 30])), 2)
    assert fc["period"].dtype == pd.PeriodDtype("W")


def test_items_may_keep_different_weekdays():
    mondays = pd.date_range("2023-01-02", periods=30, freq="W-MON")
    hist = pd.concat([history(mondays, item="mon"), history(mondays + pd.Timedelta(days=4), 5.0, item="fri")])
    fc = forecast(hist, 1)
    assert fc["period"].dtype == pd.PeriodDtype("W")
    np.testing.assert_allclose(fc.set_index("item").loc[["fri", "mon"], "forecast"], [5.0, 10.0])


def test_monthly_season_default_is_read_as_a_year_of_weeks():
    rng = np.random.default_rng(1)
    weeks = pd.date_range("2019-01-07", periods=4 * 52, freq="W-MON")
    qty = 100 * (1 + 0.4 * np.sin(2 * np.pi * np.arange(len(weeks)) / 52)) + rng.normal(0, 2, len(weeks))
    default = forecast(history(weeks, qty), 13)
    year = forecast(history(weeks, qty), 13, season_length=52)
    pd.testing.assert_frame_equal(default, year)


def test_a_weekly_date_off_its_weekday_is_refused_by_name():
    dates = list(pd.date_range("2023-01-02", periods=60, freq="W-MON"))
    dates[20] += pd.Timedelta(days=1)  # a Tuesday among Mondays
    dates[40] += pd.Timedelta(days=2)
    with pytest.raises(SnopError, match=r"2023-05-23 \(item 'a'\).*weekday"):
        forecast(history(dates), 4)


def test_a_quarterly_date_off_its_month_is_refused_by_name():
    dates = list(pd.date_range("2015-01-01", periods=40, freq="QS"))
    dates[17] += pd.DateOffset(months=1)  # 2019-05-01 among January/April/July/October
    with pytest.raises(SnopError, match=r"2019-05-01 \(item 'a'\).*quarter"):
        forecast(history(dates), 4)
    # before: read as 118 months, 40 of them with demand (a "lumpy" monthly series)


def test_monthly_and_quarterly_still_inferred():
    months = pd.date_range("2020-01-01", periods=30, freq="MS")
    assert forecast(history(months), 2)["period"].dtype == pd.PeriodDtype("M")
    quarters = pd.date_range("2015-03-31", periods=20, freq="QE")
    assert forecast(history(quarters), 2)["period"].dtype == pd.PeriodDtype("Q")
    years = pd.date_range("2000-01-01", periods=20, freq="YS")
    assert forecast(history(years), 2)["period"].dtype == pd.PeriodDtype("Y")


def test_daily_dates_are_refused():
    with pytest.raises(SnopError, match="2024-01-02"):
        timestamp_frequency(np.array(["a"] * 40, dtype=object),
                            pd.Series(pd.date_range("2024-01-01", periods=40, freq="D")))


def test_long_histories_are_fitted_on_their_window():
    # two items with different (long) histories and the same latest window give the same forecast: only the window
    # is fitted; the rule is stated by history_window
    rng = np.random.default_rng(4)
    m = 52
    window = history_window(m)
    assert window == max(4 * m, 156)
    recent = 50 + rng.normal(0, 3, window)
    long_a = np.concatenate([rng.uniform(500, 900, 700), recent])
    long_b = np.concatenate([rng.uniform(0, 5, 1500), recent])
    end = pd.Period("2024-12-29", "W")
    hist = pd.concat([pd.DataFrame({"item": k, "period": pd.period_range(end=end, periods=len(x), freq="W"),
                                    "qty": x}) for k, x in (("a", long_a), ("b", long_b))], ignore_index=True)
    fc = forecast(hist, 13, season_length=m).set_index(["item", "period"])
    np.testing.assert_allclose(fc.loc["a", "forecast"], fc.loc["b", "forecast"])
    assert fc.loc["a", "forecast"].between(35, 65).all()  # the old level of 500-900 is gone
    # the whole history can still be asked for
    full = forecast(hist, 13, season_length=m, window=10**6).set_index(["item", "period"])
    assert not np.allclose(full.loc["a", "forecast"], full.loc["b", "forecast"])


def test_an_item_whose_demand_lies_before_the_window_is_inactive():
    weeks = 600
    qty = np.zeros(weeks)
    qty[:100] = 20.0  # sold in its first two years, then nothing for ten
    hist = pd.DataFrame({"item": "old", "period": pd.period_range(end=pd.Period("2024-12-29", "W"), periods=weeks,
                                                                  freq="W"), "qty": qty})
    fc = forecast(hist, 4, season_length=52)
    assert (fc["method"] == "inactive").all()
    assert (fc[["forecast", "lo_80", "hi_80", "lo_95", "hi_95"]].to_numpy() == 0).all()


def test_window_must_be_positive():
    with pytest.raises(SnopError, match="window"):
        forecast(history(pd.date_range("2020-01-01", periods=12, freq="MS")), 2, window=0)
