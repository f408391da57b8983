"""Step 5 of S&OP, finalize (the cycle's part): the plan's version id and every KPI computable now.

It never writes the archive: it names the plan a *draft* (or the published version whose inputs are identical) and
computes KPIs from the archive, if there is one, plus a backtest of the statistical forecast on the book's own
History. Publishing a version is a command (`snop_xl.commands.publish`).

Definitions of every KPI: docs/kpis.md. Lag k of a month = forecast made k months before it: the first month of a
plan published for cycle month c is lag 1, so lag = period - cycle month + 1.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from snop_xl import archive
from snop_xl import contract as C
from snop_xl.calc import kpi
from snop_xl.calc.forecast import forecast
from snop_xl.calc.supply.inventory import cover
from snop_xl.inputs import Inputs
from snop_xl.steps.demand import apply_overrides
from snop_xl.steps.scenarios import BASE

LAGS = (1, 2, 3)


BACKTEST_MONTHS = 6  # months at the end of History over which the statistical forecast is backtested


LEVELS = ("Item", "Family", "Total")
#: the frame column that names a row of each level (Total: none, the whole)
LEVEL_KEYS = {"Item": "item", "Family": "family"}


KPI_COLUMNS = C.KPIS.keys


#: pandas dtype of each KPIs column: KPI rows from every source carry them, blank columns included, so they
#: concatenate alike (an all-blank object column beside an integer or month one is what pandas warns about)
KPI_DTYPES = {c.key: {C.INTEGER: "Int64", C.NUMBER: "float64", C.PERIOD: "period[M]"}.get(c.dtype, "object")
              for c in C.KPIS.columns}


def kpi_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with every KPIs column in its KPI_DTYPES dtype (blank where it has none); other columns kept."""
    return frame.assign(**{k: None for k in KPI_COLUMNS if k not in frame}).astype(KPI_DTYPES)


# ---- the cycle step -------------------------------------------------------------------------------------------
def run(inputs: Inputs, outputs: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Step 5 without publishing: the plan's version id and every KPI computable now."""
    path = inputs.archive_path
    has_archive = path is not None and path.exists()
    content_hash = inputs.content_hash()
    version = published_as(path, content_hash)
    kpis = compute_kpis(inputs, outputs, path if has_archive else None)
    return {"PlanVersion": plan_version_frame(inputs, content_hash, version, path), "KPIs": kpis,
            "KPITrend": kpi_trend(kpis)}


def published_as(path: Path | None, content_hash: str) -> archive.Version | None:
    """The latest published version of exactly these inputs (None: the plan is a draft)."""
    if path is None:
        return None
    archive.check_location(path, writing=False)  # a folder, or a path no archive can be at: said now, not at publish
    if not path.exists():
        return None
    same = [v for v in archive.versions(path) if v.content_hash == content_hash]
    return same[-1] if same else None


def plan_version_frame(inputs: Inputs, content_hash: str, version: archive.Version | None,
                       path: Path | None) -> pd.DataFrame:
    """The PlanVersion row: the draft id of these inputs, or the published version they are identical to."""
    s = inputs.settings
    decisions = len(inputs.decisions)
    if version is None:
        row = [archive.draft_id(s.cycle_month, content_hash), s.cycle_month, content_hash, s.approver or None,
               "Draft", None, str(path) if path else None, chosen_scenario(inputs.decisions), decisions]
    else:
        row = [version.version, version.cycle_month, content_hash, version.approver or None, "Published",
               pd.Timestamp(version.published_at).tz_localize(None), str(path) if path else None,
               version.scenario or None, decisions]
    frame = pd.DataFrame([row], columns=C.PLAN_VERSION.keys)
    frame["decisions"] = frame["decisions"].astype("Int64")
    return frame


# ---- KPIs -----------------------------------------------------------------------------------------------------
def compute_kpis(inputs: Inputs, outputs: Mapping[str, pd.DataFrame], path: Path | None) -> pd.DataFrame:
    """Every KPI row: published plans vs actuals (if an archive exists), backtest, and the current plan."""
    parts = [backtest_kpis(inputs), plan_kpis(inputs, outputs)]
    if path is not None:
        with archive.reading():  # each archived table decoded once for all the KPIs that read it
            parts = [published_kpis(inputs, path), supply_kpis(inputs, path)] + parts
    parts = [p for p in parts if len(p)]
    if not parts:
        return pd.DataFrame({c.key: pd.Series(dtype=object) for c in C.KPIS.columns})
    return pd.concat(parts, ignore_index=True)[KPI_COLUMNS]


def _with_family(frame: pd.DataFrame, items: pd.DataFrame) -> pd.DataFrame:
    if "family" in frame:
        frame = frame.drop(columns="family")
    return frame.merge(items[["item", "family"]], on="item", how="left")


def _rows(frame: pd.DataFrame, steps: Mapping[str, str], by: tuple[str, ...] = (), basis: str = "published",
          metrics: tuple[str, ...] = kpi.GROUP_METRICS, levels: tuple[str, ...] = LEVELS) -> pd.DataFrame:
    """KPI rows for each level (Item, Family, Total) x extra keys `by` x forecast step column in `steps`."""
    parts = []
    for level in levels:
        name = LEVEL_KEYS.get(level)
        g = frame.assign(_name="Total") if name is None else frame.assign(_name=frame[name])
        for step, column in steps.items():
            t = kpi.metric_table(g, ["_name", *by], actual="actual", forecast=column, metrics=metrics,
                                 period="period")
            parts.append(t.assign(level=level, step=step).rename(columns={"_name": "name"}))
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    if len(out):
        out = out[(out["metric"] != "MASE") | (out["observations"] > 0)]  # MASE only where a naive scale exists
        out["basis"] = basis
        out = kpi_rows(out)
    return out


def _months(values: Any) -> np.ndarray:
    """Monthly periods (a Series or list of pd.Period) as integer month ordinals."""
    return pd.PeriodIndex(values, freq="M").asi8


def _lags(periods: Any, origins: Any) -> np.ndarray:
    """Lag of each (period, origin): period - origin + 1 in months."""
    return _months(periods) - _months(origins) + 1


def seasonal_naive(history: pd.DataFrame, targets: pd.DataFrame, season_length: int = 12) -> pd.Series:
    """The benchmark every forecast must beat (FVA's first step): for a month p forecast at origin c (history
    before c), the actual of p - m*ceil(lag/m) with lag = p - c + 1; the last actual before c if that is missing."""
    h = history.set_index(["item", "period"])["qty"]
    m = int(season_length)
    if not len(targets):
        return pd.Series(dtype="float64", index=targets.index)
    period = _months(targets["period"])
    lag = _lags(targets["period"], targets["origin"])
    back = m * np.ceil(lag / m).astype(int)
    source = pd.PeriodIndex.from_ordinals(period - back, freq="M")
    values = h.reindex(pd.MultiIndex.from_arrays([targets["item"].to_numpy(), source]))
    out = pd.Series(values.to_numpy(), index=targets.index, dtype="float64")
    if out.isna().any():  # the last actual before the origin, for all missing rows at once
        missing = np.flatnonzero(out.isna().to_numpy())
        left = pd.DataFrame({"item": targets["item"].to_numpy()[missing],
                             "_t": _months(targets["origin"]).astype("int64")[missing] - 1, "_row": missing})
        right = pd.DataFrame({"item": history["item"].to_numpy(), "_t": _months(history["period"]).astype("int64"),
                              "_qty": history["qty"].to_numpy(dtype="float64")})
        found = pd.merge_asof(left.sort_values("_t", kind="stable"), right.sort_values("_t", kind="stable"),
                              on="_t", by="item", direction="backward")
        out.iloc[found["_row"].to_numpy()] = found["_qty"].to_numpy()
    return out


def naive_scales(history: pd.DataFrame, targets: pd.DataFrame, season_length: int = 12) -> pd.Series:
    """MASE scale of each target row (item, origin): `kpi.naive_scale` of the item's monthly actuals before the
    origin, seasonal (m = season length) when they span more than one season, else one-step naive (m = 1);
    NaN where the history is too short or flat. Missing months stay gaps, never shift the differences.

    Computed for all items and origins at once: each item's actuals on one month grid, the absolute (seasonal)
    differences summed cumulatively, so the scale at an origin is a running sum over its count."""
    m = int(season_length)
    if not len(targets):
        return pd.Series(dtype="float64", index=targets.index)
    names, row_of = np.unique(history["item"].astype(str).to_numpy(), return_inverse=True) if len(history) else (
        np.array([], dtype=object), np.array([], dtype=int))
    t_hist = _months(history["period"]) if len(history) else np.array([], dtype="int64")
    t0 = int(t_hist.min()) if len(history) else 0
    P = int(t_hist.max()) - t0 + 1 if len(history) else 0
    y = np.full((len(names), P), np.nan)
    y[row_of, t_hist - t0] = history["qty"].to_numpy(dtype="float64")
    observed = ~np.isnan(y)
    first = np.where(observed.any(axis=1), observed.argmax(axis=1), P)  # first month with an actual

    def running(lag: int) -> tuple[np.ndarray, np.ndarray]:
        """Running sums over months t < j (column j) of |y[t] - y[t - lag]| and of how many exist."""
        d = np.full_like(y, np.nan)
        if lag < P:
            d[:, lag:] = np.abs(y[:, lag:] - y[:, :-lag])
        ok = ~np.isnan(d)
        zero = np.zeros((len(names), 1))
        return (np.concatenate([zero, np.cumsum(np.where(ok, d, 0.0), axis=1)], axis=1),
                np.concatenate([zero, np.cumsum(ok, axis=1)], axis=1))

    keys = targets["item"].astype(str).to_numpy()
    row = np.searchsorted(names, keys).clip(max=max(len(names) - 1, 0))
    known = names[row] == keys if len(names) else np.zeros(len(keys), dtype=bool)  # np.isin of texts: 20x slower
    origin = _months(targets["origin"]) - t0
    end = origin.clip(0, P)  # months before the origin on the grid: t < end
    # months from the first actual before the origin up to it (past the last actual too: they are gaps)
    start = first[row] if len(names) else np.full(len(targets), P)
    length = np.where(known & (start < end), origin - start, 0)
    season = length > m
    out = np.full(len(targets), np.nan)
    for lag, use in ((m, season), (1, ~season & (length > 1))):
        use = use & known
        if not use.any() or not len(names):
            continue
        total, count = running(lag)
        r, j = row[use], end[use]
        s, k = total[r, j], count[r, j]
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.where(k > 0, s / np.where(k > 0, k, 1), np.nan)
        out[use] = np.where(scale > 0, scale, np.nan)
    return pd.Series(out, index=targets.index, dtype="float64")


def backtest_kpis(inputs: Inputs, months: int = BACKTEST_MONTHS, lags: tuple[int, ...] = LAGS) -> pd.DataFrame:
    """Accuracy by lag of the statistical model (Settings' method) and of seasonal naive, refitted on History cut
    at each origin, over its last `months` months: what the engine would have forecast, had it run then."""

    history = inputs.history.dropna(subset=["qty"])
    if not len(history):
        return pd.DataFrame()
    last = history["period"].max()
    targets = pd.period_range(end=last, periods=months, freq="M")
    origins = sorted({t - k + 1 for t in targets for k in lags})
    s = inputs.settings
    parts = []
    for origin in origins:
        cut = history[history["period"] < origin]
        if cut["period"].nunique() < 3:
            continue
        fc = forecast(cut, max(lags), season_length=s.season_length, method=s.default_method, level=(80,))
        parts.append(fc[["item", "period", "forecast"]].assign(origin=origin))
    if not parts:
        return pd.DataFrame()
    fc = pd.concat(parts, ignore_index=True)
    fc["period"] = fc["period"].astype("period[M]")
    fc["lag"] = _lags(fc["period"], fc["origin"])
    fc = fc[fc["lag"].isin(lags) & fc["period"].isin(targets)]
    fc = fc.merge(history[["item", "period", "qty"]].rename(columns={"qty": "actual"}), on=["item", "period"])
    fc = fc.reset_index(drop=True)
    fc["naive"] = seasonal_naive(history, fc, s.season_length)
    fc["scale"] = naive_scales(history, fc, s.season_length)
    fc = _with_family(fc, inputs.items)
    steps = {"naive": "naive", "statistical": "forecast"}
    rows = _rows(fc, steps, by=("lag",), basis="backtest")
    return pd.concat([rows, fva_gain(rows[rows["level"] != "Item"], list(steps))], ignore_index=True)


def published_forecasts(inputs: Inputs, path: Path) -> pd.DataFrame:
    """Item rows of every cycle's last published DemandPlan joined with the actuals now in History."""
    demand = archive.load_table(path, "DemandPlan")
    if not len(demand) or "level" not in demand:
        return pd.DataFrame()
    demand = demand[demand["level"] == "Item"].copy()
    demand["lag"] = _lags(demand["period"], demand["cycle_month"])
    actual = inputs.history.dropna(subset=["qty"])[["item", "period", "qty"]].rename(columns={"qty": "actual"})
    joined = demand.merge(actual, on=["item", "period"]).reset_index(drop=True)
    if not len(joined):
        return joined
    joined["origin"] = joined["cycle_month"]
    history = inputs.history.dropna(subset=["qty"])
    joined["naive"] = seasonal_naive(history, joined, inputs.settings.season_length)
    joined["scale"] = naive_scales(history, joined, inputs.settings.season_length)
    joined["with_events"] = (joined["statistical"].fillna(0) + joined["events"].fillna(0)).clip(lower=0)
    # orders and pipeline (the demand step's stage before overrides; 0 in plans archived before it existed)
    if "signals" in joined and joined["signals"].fillna(0).abs().max() > 0:
        joined["with_signals"] = joined["with_events"] + joined["signals"].fillna(0)
    return _with_family(joined, inputs.items)


def published_kpis(inputs: Inputs, path: Path, lags: tuple[int, ...] = LAGS) -> pd.DataFrame:
    """Accuracy by lag of the published plans, trends per cycle, and forecast value added per step and owner."""
    f = published_forecasts(inputs, path)
    if not len(f):
        return pd.DataFrame()
    f = f[f["lag"].isin(lags)]
    overall = _rows(f, {"statistical": "statistical", "consensus": "consensus"}, by=("lag",))
    trend = _rows(f, {"statistical": "statistical", "consensus": "consensus"}, by=("lag", "cycle_month"),
                  metrics=("ACCURACY", "BIAS"), levels=("Family", "Total"))
    trend = kpi_rows(trend.assign(cycle=trend.pop("cycle_month")))
    return pd.concat([overall, trend, fva_kpis(f, path)], ignore_index=True)


def kpi_trend(kpis: pd.DataFrame, step: str = "consensus") -> pd.DataFrame:
    """KPITrend: per published cycle, `step`'s accuracy and bias at lags 1-3, Total first, then each family,
    every name on the same cycles (blank where a lag has no actuals yet) so the charts' series line up."""
    cols = C.KPI_TREND.keys
    t = kpis[(kpis["basis"] == "published") & kpis["cycle"].notna() & (kpis["step"] == step)
             & kpis["metric"].isin(["ACCURACY", "BIAS"]) & kpis["lag"].isin(LAGS)
             & kpis["level"].isin(["Family", "Total"])] if len(kpis) else kpis
    if not len(t):
        return pd.DataFrame({c.key: pd.Series(dtype="period[M]" if c.dtype == C.PERIOD else object)
                             for c in C.KPI_TREND.columns})
    t = t.assign(column=t["metric"].str.lower() + "_lag" + t["lag"].astype(int).astype(str),
                 cycle=t["cycle"].astype("period[M]"))
    wide = t.pivot_table(index=["name", "cycle"], columns="column", values="value", aggfunc="first", dropna=False)
    names = ["Total"] + sorted(n for n in t["name"].unique() if n != "Total")
    grid = pd.MultiIndex.from_product([names, sorted(t["cycle"].unique())], names=["name", "cycle"])
    wide = wide.reindex(grid).reset_index()
    for c in cols:
        if c not in wide:
            wide[c] = np.nan
    return wide[cols]


#: the FVA cascade: each step's forecast column, in the order the plan is built
CASCADE = {"naive": "naive", "statistical": "statistical", "events": "with_events", "signals": "with_signals",
           "consensus": "consensus"}


def fva_kpis(f: pd.DataFrame, path: Path) -> pd.DataFrame:
    """Forecast value added: each step's accuracy and its gain over the previous step, on the same item-months;
    each override owner on the item-months they touched (their input vs their output)."""
    cascade = cascade_fva(f)
    return pd.concat([cascade, owner_fva(f, path)], ignore_index=True) if len(cascade) else cascade


def cascade_fva(f: pd.DataFrame) -> pd.DataFrame:
    """FVA_ACCURACY, FVA_BIAS of each CASCADE step and FVA = its accuracy minus the previous step's, by lag, per
    family and total, from item-month rows with `actual` and a column per step."""
    cascade = {step: column for step, column in CASCADE.items() if column in f}  # signals: only where heard
    rows = _rows(f, cascade, by=("lag",), metrics=("ACCURACY", "BIAS"), levels=("Family", "Total"))
    if not len(rows):
        return rows
    return pd.concat([rows.assign(metric="FVA_" + rows["metric"]), fva_gain(rows, list(cascade))], ignore_index=True)


def fva_gain(rows: pd.DataFrame, steps: list[str]) -> pd.DataFrame:
    """FVA rows: each step's ACCURACY minus the previous step's (in `steps` order), per level, name and lag, from
    KPI rows holding the ACCURACY of every step on the same item-months."""
    acc = rows[rows["metric"] == "ACCURACY"]
    prev = acc.assign(step=acc["step"].map(lambda s: steps[steps.index(s) + 1] if s != steps[-1] else None))
    gain = acc.merge(prev[["level", "name", "lag", "step", "value"]], on=["level", "name", "lag", "step"],
                     suffixes=("", "_prev"))
    return gain.assign(metric="FVA", value=gain["value"] - gain["value_prev"]).drop(columns="value_prev")


def owner_steps(path: Path) -> pd.DataFrame:
    """item, period, cycle_month, owner, before, after: the demand before and after each override owner in every
    archived plan, replayed with the demand step's own `apply_overrides` on the archived statistical + events and
    Overrides, so FVA uses exactly the rules that built the consensus (family spreads included)."""

    cols = ["item", "period", "cycle_month", "owner", "before", "after"]
    demand = archive.load_table(path, "DemandPlan")
    overrides = archive.load_table(path, "Overrides")
    if not len(demand) or not len(overrides) or "owner" not in overrides:
        return pd.DataFrame(columns=cols)
    demand = demand[demand["level"] == "Item"]
    parts = []
    for version, plan in demand.groupby("version", sort=False):
        rows = overrides[overrides["version"] == version].drop(columns=["version", "cycle_month"])
        if not len(rows):
            continue
        base = plan[["item", "period"]].reset_index(drop=True).assign(
            qty=((plan["statistical"].fillna(0) + plan["events"].fillna(0)).clip(lower=0)
                 + (plan["signals"].fillna(0) if "signals" in plan else 0.0)).to_numpy())
        items = plan[["item", "family"]].drop_duplicates("item")
        before = base["qty"].to_numpy()
        for owner, step in apply_overrides(base, rows, items).steps.items():
            after = step["qty"].to_numpy(dtype=float)
            parts.append(base[["item", "period"]].assign(cycle_month=plan["cycle_month"].array, owner=owner,
                                                         before=before, after=after))
            before = after
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=cols)


def owner_fva(f: pd.DataFrame, path: Path) -> pd.DataFrame:
    steps = owner_steps(path)
    if not len(steps):
        return pd.DataFrame()
    t = steps.merge(f[["item", "period", "cycle_month", "lag", "actual", "family"]],
                    on=["item", "period", "cycle_month"])
    parts = []
    for owner, g in t.groupby("owner", sort=True):
        after = _rows(g, {f"owner: {owner}": "after"}, by=("lag",), metrics=("ACCURACY", "BIAS"),
                      levels=("Family", "Total"))
        before = _rows(g, {f"owner: {owner}": "before"}, by=("lag",), metrics=("ACCURACY",),
                       levels=("Family", "Total"))
        gain = after[after["metric"] == "ACCURACY"].merge(
            before[["level", "name", "lag", "value"]], on=["level", "name", "lag"], suffixes=("", "_before"))
        gain = gain.assign(metric="FVA", value=gain["value"] - gain["value_before"]).drop(columns="value_before")
        parts += [after.assign(metric="FVA_" + after["metric"]), gain]
    return pd.concat(parts, ignore_index=True)


def supply_kpis(inputs: Inputs, path: Path) -> pd.DataFrame:
    """Plan adherence of each published supply plan against the supply that actually arrived, which the books
    reveal without a production feed: arrived = on hand at the next cycle - on hand at this one + units sold."""
    supply = archive.load_table(path, "SupplyPlan")
    if not len(supply) or "supply" not in supply:
        return pd.DataFrame()
    openings = supply.sort_values("period").groupby(["cycle_month", "item"], as_index=False).first()
    openings = openings[openings["period"] == openings["cycle_month"]][["cycle_month", "item", "opening"]]
    cycles = sorted(openings["cycle_month"].unique())
    now = inputs.settings.cycle_month
    on_hand = {c: openings[openings["cycle_month"] == c].set_index("item")["opening"] for c in cycles}
    on_hand[now] = inputs.inventory.set_index("item")["on_hand"]
    history = inputs.history.dropna(subset=["qty"])
    rows = []
    for c, nxt in zip(cycles, [*cycles[1:], now]):
        if nxt <= c or nxt not in on_hand:
            continue
        window = pd.period_range(c, nxt - 1, freq="M")
        if not set(window) <= set(history["period"]):
            continue  # actual sales of the window not (yet) all in History
        sold = history[history["period"].isin(window)].groupby("item")["qty"].sum()
        planned = supply[(supply["cycle_month"] == c) & supply["period"].isin(window)].groupby("item")["supply"].sum()
        items = planned.index.intersection(on_hand[nxt].index).intersection(on_hand[c].index)
        if nxt == now and len(items) and on_hand[nxt].reindex(items).equals(on_hand[c].reindex(items)):
            continue  # the stock was not counted again since cycle c (the snapshot is the one it planned from)
        arrived = on_hand[nxt].reindex(items) - on_hand[c].reindex(items) + sold.reindex(items).fillna(0)
        frame = pd.DataFrame({"item": items, "plan": planned.reindex(items).to_numpy(),
                              "arrived": arrived.clip(lower=0).to_numpy()})
        rows.append(_with_family(frame, inputs.items).assign(cycle=c))
    if not rows:
        return pd.DataFrame()
    frame = pd.concat(rows, ignore_index=True)
    out = []
    for level in LEVELS:
        key = LEVEL_KEYS.get(level)
        for by in (["cycle"], []):
            groups = frame.groupby([key, *by] if key else by) if key or by else [("Total", frame)]
            for k, g in groups:
                k = k if isinstance(k, tuple) else (k,)
                name = k[0] if key else "Total"
                cycle = k[-1] if by else None
                out.append([level, name, "PLAN_ADHERENCE", "supply", None, kpi.plan_adherence(g["arrived"], g["plan"]),
                            len(g), cycle, "published"])
    return kpi_rows(pd.DataFrame(out, columns=KPI_COLUMNS))


def plan_kpis(inputs: Inputs, outputs: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Fill rate the current supply plan achieves on consensus demand, and days of supply of the stock on hand
    (each level's groups from grouped sums: one pass over the plan, whatever the number of items)."""
    supply = outputs.get("SupplyPlan")
    rows: list[list[Any]] = []
    if supply is not None and len(supply):
        sp = _with_family(supply, inputs.items)
        d = sp["demand"].to_numpy(dtype="float64", na_value=np.nan)
        got = d - sp["shortage"].fillna(0).to_numpy(dtype="float64", na_value=np.nan)
        ok = ~(np.isnan(d) | np.isnan(got))  # `kpi.fill_rate`'s pairs
        sums = pd.DataFrame({"met": np.where(ok, np.minimum(np.maximum(got, 0), d), 0.0),
                             "demand": np.where(ok, d, 0.0), "rows": 1})
        for level in LEVELS:
            key = LEVEL_KEYS.get(level)
            by = sums.groupby(sp[key].to_numpy(), sort=True).sum() if key else \
                pd.DataFrame([sums.sum()], index=["Total"])
            for name, g in by.iterrows():
                rate = g["met"] / g["demand"] if g["demand"] > 0 else float("nan")
                rows.append([level, name, "FILL_RATE", "plan", None, float(rate), int(g["rows"]), None, "plan"])
    demand = outputs.get("DemandPlan")
    if demand is not None and len(demand) and len(inputs.inventory):
        d = demand[demand["level"] == "Item"]
        stock = _with_family(inputs.inventory[["item", "on_hand"]], inputs.items)
        rows += _days_of_supply_rows(stock, d, inputs.settings.days_per_period)
    return kpi_rows(pd.DataFrame(rows, columns=KPI_COLUMNS))


def _days_of_supply_rows(stock: pd.DataFrame, d: pd.DataFrame, days_per_period: float) -> list[list[Any]]:
    """DAYS_OF_SUPPLY rows of each level's groups of `stock`: `kpi.days_of_supply` of the group's on hand against
    its items' consensus summed per month (the months where any of its items has a plan row)."""
    per = d.groupby(["item", "period"])["consensus"]
    plan = per.sum().unstack("period").sort_index(axis=1)
    present = per.size().unstack("period").reindex_like(plan).fillna(0).to_numpy() > 0
    plan = plan.fillna(0.0)
    rows: list[list[Any]] = []
    for level in LEVELS:
        key = LEVEL_KEYS.get(level)
        g = stock.dropna(subset=[key]) if key else stock
        g = g.assign(_g=g[key] if key else "Total")
        on_hand = g.groupby("_g", sort=True)["on_hand"].sum()
        members = g[["_g", "item"]].drop_duplicates()
        members = members[members["item"].isin(plan.index)]
        pos = plan.index.get_indexer(members["item"])
        group = on_hand.index.get_indexer(members["_g"])
        dem = np.zeros((len(on_hand), plan.shape[1]))
        has = np.zeros((len(on_hand), plan.shape[1]), dtype=bool)
        np.add.at(dem, group, plan.to_numpy()[pos])
        np.logical_or.at(has, group, present[pos])
        inventory = on_hand.to_numpy(dtype="float64")
        full = has.all(axis=1) & (has.shape[1] > 0)
        days = np.full(len(on_hand), np.nan)
        if full.any():  # the usual case: every month planned; all groups in one call
            days[full] = cover(inventory[full], dem[full], dem[full].mean(axis=1)) * days_per_period
        for i in np.flatnonzero(~full):
            days[i] = kpi.days_of_supply(inventory[i], dem[i, has[i]], days_per_period)
        count = has.sum(axis=1)
        rows += [[level, name, "DAYS_OF_SUPPLY", "on hand", None, float(v) if np.isfinite(v) else None, int(k),
                  None, "plan"] for name, v, k in zip(on_hand.index, days, count)]
    return rows


# ---- publishing -----------------------------------------------------------------------------------------------
def _scenario_rows(decisions: pd.DataFrame) -> pd.DataFrame:
    if decisions is None or not len(decisions) or "scenario" not in decisions:
        return pd.DataFrame(columns=["date", "scenario"])
    return decisions[decisions["scenario"].fillna("").astype(str).str.strip() != ""].sort_values(
        "date", kind="stable")


def chosen_scenario(decisions: pd.DataFrame) -> str:
    """The scenario of the latest decision that names one; the base plan when none does."""

    named = _scenario_rows(decisions)
    return str(named["scenario"].iloc[-1]).strip() if len(named) else BASE
