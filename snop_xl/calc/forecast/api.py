"""The long-frame forecasting API: history (item, period, qty) in, one row per item and future period out.

Orchestration only: the models live in `models`, their bounds in `intervals`, the numerics in `kernels`. Items are
grouped by history length so that each group is one matrix the batch kernels fit in a single pass; each item keeps
its own calendar (its forecast starts the period after its own last history period).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from snop_xl import contract as C
from snop_xl.calc.forecast import intervals, models
from snop_xl.errors import SnopError

#: Names `forecast(method=...)` accepts; the Settings sheet's "Forecast method" offers the same list.
METHODS: tuple[str, ...] = C.FORECAST_METHODS
#: The history window: each item is fitted on its latest max(HISTORY_SEASONS x season_length, HISTORY_MIN_PERIODS)
#: periods (`history_window`: 208 weeks, 156 months); older periods are left out. Why: every model here needs a
#: few seasons at most (Holt-Winters two, the ACF seasonality test three) and weights old data little or not at
#: all, while fitting costs grow with the length (x the season for Holt-Winters' initial states) and items of
#: different lengths are fitted in separate passes. `benchmarks/weekly_bench.py` (359 weekly series of 487-2,579
#: weeks, h=13, 2 busy cores): whole histories 0.6 series/s, sMAPE 12.69, MASE 1.160; the window 447 series/s,
#: sMAPE 12.54, MASE 1.155 (3 seasons: 383/s but sMAPE 12.90; 5 seasons: 265/s, 12.26). Monthly histories reach
#: the window after 13 years: M1 not at all; Tourism (365 of 366 series, up to 309 months) 3.3x faster, sMAPE
#: 18.07 -> 18.10, MASE 1.422 -> 1.413.
HISTORY_SEASONS = 4
HISTORY_MIN_PERIODS = 156


def check_method(method: str) -> str:
    """The method name normalised, or a SnopError listing the valid names."""
    name = str(method).strip().lower().replace("-", "_").replace(" ", "_")
    if name not in METHODS:
        raise SnopError(f"unknown forecast method {method!r}; valid methods: {', '.join(METHODS)}")
    return name


def history_window(season_length: int) -> int:
    """Periods of history each item is fitted on (its latest): max(HISTORY_SEASONS seasons, HISTORY_MIN_PERIODS)."""
    return max(HISTORY_SEASONS * int(season_length), HISTORY_MIN_PERIODS)


def forecast(history: pd.DataFrame, horizon: int, *, season_length: int = 12, method: str = "auto",
             level: Sequence[int] = (80, 95), window: int | None = None) -> pd.DataFrame:
    """Forecast every item of a long history `horizon` periods past its own last period.

    Returns columns item, period, forecast, lo_<l>, hi_<l> for each l in `level`, method (the model used for the
    item). Forecasts and bounds are never negative. Missing periods inside an item's history count as zero demand.
    Each item is fitted on its latest `window` periods (None: `history_window(season_length)`); an item whose
    demand all lies before its window is "inactive" (forecast 0).
    """
    name = check_method(method)
    horizon, season_length = int(horizon), int(season_length)
    if horizon < 1:
        raise SnopError(f"horizon must be at least 1 period (got {horizon})")
    if season_length < 1:
        raise SnopError(f"season_length must be at least 1 (got {season_length})")
    levels = tuple(int(lv) for lv in level)
    if any(not 0 < lv < 100 for lv in levels):
        raise SnopError(f"prediction interval levels must be between 0 and 100 (got {levels})")
    missing = {"item", "period", "qty"} - set(history.columns)
    if missing:
        raise SnopError(f"history needs columns item, period, qty (missing {', '.join(sorted(missing))})")

    items, ordinals, qty, dtype = _long_arrays(history)
    if season_length == 12 and dtype.freq.freqstr[0] in _PER_YEAR:
        season_length = _PER_YEAR[dtype.freq.freqstr[0]]
    keep = history_window(season_length) if window is None else int(window)
    if keep < 1:
        raise SnopError(f"window must be at least 1 period (got {window})")
    out_cols = ["item", "period", "forecast"] + [f"{b}_{lv}" for lv in levels for b in ("lo", "hi")] + ["method"]
    if len(qty) == 0:
        frame = pd.DataFrame({c: pd.Series(dtype=float) for c in out_cols})
        frame["item"] = frame["item"].astype(object)
        frame["period"] = frame["period"].astype(dtype)
        frame["method"] = frame["method"].astype(object)
        return frame

    codes, uniques = pd.factorize(items, sort=True)
    n_items = len(uniques)
    start = np.full(n_items, np.iinfo(np.int64).max)
    end = np.full(n_items, np.iinfo(np.int64).min)
    np.minimum.at(start, codes, ordinals)
    np.maximum.at(end, codes, ordinals)
    sold = np.zeros(n_items, dtype=bool)  # any demand in the whole history (before the window too)
    np.logical_or.at(sold, codes, np.abs(qty) > 0)
    start = np.maximum(start, end - keep + 1)
    length = end - start + 1

    order = np.argsort(codes, kind="stable")
    codes_sorted, ord_sorted, qty_sorted = codes[order], ordinals[order], qty[order]
    groups = []
    for T in np.unique(length):
        members = np.flatnonzero(length == T)
        local = np.full(n_items, -1)
        local[members] = np.arange(len(members))
        take = (local[codes_sorted] >= 0) & (ord_sorted >= start[codes_sorted])
        flat = local[codes_sorted[take]] * T + (ord_sorted[take] - start[codes_sorted[take]])
        y = np.bincount(flat, weights=qty_sorted[take], minlength=len(members) * T).reshape(len(members), T)
        groups.append((members, y))
    calib = intervals.calibrate(groups, n_items, horizon, season_length, name, levels)

    mean = np.empty((n_items, horizon))
    bounds = {(b, lv): np.empty((n_items, horizon)) for lv in levels for b in ("lo", "hi")}
    labels = np.empty(n_items, dtype=object)
    for members, y in groups:
        res = fit_matrix(y, horizon, season_length, name, levels, calib)
        mean[members] = res.mean
        for (b, lv), arr in bounds.items():
            arr[members] = (res.lower if b == "lo" else res.upper)[lv]
        labels[members] = res.label
    labels[sold & (labels == "zero history")] = "inactive"  # its demand all lies before the window: it stopped

    steps = np.arange(1, horizon + 1)
    future = (end[:, None] + steps[None, :]).ravel()
    data = {"item": np.repeat(np.asarray(uniques, dtype=object), horizon),
            "period": pd.arrays.PeriodArray(future, dtype=dtype),
            "forecast": mean.ravel()}
    for (b, lv), arr in bounds.items():
        data[f"{b}_{lv}"] = arr.ravel()
    data["method"] = np.repeat(labels, horizon)
    return pd.DataFrame(data)[out_cols]


def _long_arrays(history: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, pd.PeriodDtype]:
    """Items, period ordinals, quantities (blank quantities dropped) and the period dtype (monthly, weekly...).

    Timestamps become weekly, monthly, quarterly or yearly periods by their spacing (`timestamp_frequency`).
    """
    frame = history[["item", "period", "qty"]]
    qty = pd.to_numeric(frame["qty"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    keep = ~np.isnan(qty) & frame["period"].notna().to_numpy() & frame["item"].notna().to_numpy()
    frame, qty = frame[keep], qty[keep]
    period = frame["period"]
    if isinstance(period.dtype, pd.PeriodDtype):
        dtype = period.dtype
        ordinals = period.array.asi8
    else:
        dtype = timestamp_frequency(frame["item"].to_numpy(dtype=object), pd.to_datetime(period))
        ordinals = pd.PeriodIndex(pd.to_datetime(period), freq=dtype.freq).asi8
    return frame["item"].to_numpy(dtype=object), np.asarray(ordinals, dtype=np.int64), qty, dtype


#: Periods per year of the frequencies timestamps may have; a season_length of 12 (the monthly default) given with
#: weekly, quarterly or yearly periods is read as one year: 52 weeks, 4 quarters, 1 year.
_PER_YEAR = {"W": 52, "Q": 4, "Y": 1}
#: Dates "meant" quarterly (yearly): of at least MEANT_MIN_DATES dates, at least MEANT_SHARE fall in the month of
#: the quarter (year) most common for their item. The few off that grid are refused, the first one named, instead
#: of reading the whole history as months with zero-filled gaps (monthly dates spread over all three months of a
#: quarter: about a third on any one).
MEANT_SHARE = 0.9
MEANT_MIN_DATES = 5


def timestamp_frequency(items: np.ndarray, stamps: pd.Series) -> pd.PeriodDtype:
    """The period frequency of timestamps from their spacing; a SnopError naming the first irregular date if none fits.

    Weekly: the distinct dates of each item a whole number of weeks apart (less than 4 weeks at the closest; items
    may keep different weekdays). When most gaps are whole weeks but some are not, the data were meant weekly: the
    first date off its item's weekday is refused. Else by calendar months between successive dates of each item:
    every gap a multiple of 3 months -> quarterly, of 12 -> yearly, otherwise monthly. Refused: two dates of one
    item in the same month (not weekly), gaps that are all multiples of some other number of months (2, 6...), or
    quarterly (yearly) dates with a few off their month of the quarter (MEANT_SHARE): the data would be silently
    reinterpreted.
    """
    codes = pd.factorize(items)[0]
    day = stamps.to_numpy(dtype="datetime64[D]").astype(np.int64)
    by_day = np.lexsort((day, codes))
    it, dd = codes[by_day], day[by_day]
    same = it[1:] == it[:-1]
    days = np.diff(dd)[same]
    apart = days > 0
    weeks = apart & (days % 7 == 0)
    if apart.any() and days[apart].min() < 28:
        if weeks.sum() == apart.sum():
            return pd.PeriodDtype("W")
        if 2 * (weeks & (days < 28)).sum() >= apart.sum():  # meant weekly: name the first date off its weekday
            _refuse_off_grid(_on_grid(codes, day, 7), stamps, items, "weekly dates fall on one weekday")
    months = (stamps.dt.year * 12 + stamps.dt.month - 1).to_numpy(dtype=np.int64)
    order = np.lexsort((months, codes))
    it, mo = codes[order], months[order]
    same_item = it[1:] == it[:-1]
    gaps = np.diff(mo)[same_item]
    # the date where each gap ends, to name in messages
    ends = stamps.to_numpy()[order][1:][same_item]
    dup = gaps == 0
    same_day = (stamps.to_numpy(dtype="datetime64[D]")[order][1:] == stamps.to_numpy(dtype="datetime64[D]")[order][:-1]
                )[same_item]
    if (dup & ~same_day).any():
        first = pd.Timestamp(ends[dup & ~same_day].min()).date()
        raise SnopError(f"irregular dates: {first} falls in the same month as an earlier date of its item, and the "
                        "dates are not whole weeks apart; give monthly, quarterly or weekly dates (or periods)")
    step = int(np.gcd.reduce(gaps[gaps > 0])) if (gaps > 0).any() else 1
    if step in (3, 12):
        return pd.PeriodDtype({3: "Q", 12: "Y"}[step])
    for every, what in ((12, "yearly dates fall in one month of the year"),
                        (3, "quarterly dates fall in one month of the quarter")):
        on = _on_grid(codes, months, every)
        if len(on) >= MEANT_MIN_DATES and on.mean() >= MEANT_SHARE:  # meant quarterly (yearly): name the stray
            _refuse_off_grid(on, stamps, items, what)
    if step == 1:
        return pd.PeriodDtype("M")
    first = pd.Timestamp(ends[gaps > 0].min()).date()
    raise SnopError(f"irregular dates: every date is a multiple of {step} months after the previous one (e.g. "
                    f"{first}), which is not monthly, quarterly or yearly; give periods or regular dates")


def _on_grid(codes: np.ndarray, when: np.ndarray, every: int) -> np.ndarray:
    """Dates whose `when` (days or months) has its item's most common remainder mod `every` (its weekday, its month
    of the quarter or year)."""
    residue = when % every
    usual = pd.Series(residue).groupby(codes).agg(lambda r: r.value_counts().index[0]).to_numpy()
    return residue == usual[codes]


def _refuse_off_grid(on: np.ndarray, stamps: pd.Series, items: np.ndarray, rule: str) -> None:
    """A SnopError naming the first date (in time) off its item's grid."""
    off = np.flatnonzero(~on)
    first = off[np.argmin(stamps.to_numpy()[off])]
    raise SnopError(f"irregular dates: {pd.Timestamp(stamps.iloc[first]).date()} (item {items[first]!r}) is off "
                    f"the spacing of the item's other dates ({rule}); give periods or regular dates")


def fit_matrix(y: np.ndarray, h: int, m: int, method: str = "auto", levels: Sequence[int] = (80, 95),
               calib: dict[int, tuple[float, float]] | None = None) -> models.GroupResult:
    """Forecast each row of y (n, T) with `method`; the numeric core behind `forecast` (no pandas).

    `calib` ({level: (lower, upper)} multipliers of the sd, from `intervals.calibrate`) replaces the normal (-z, z).
    """
    res = models.fit(y, h, m, method)
    intervals.finish(res, levels, calib)
    return res
