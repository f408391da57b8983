"""Step 1 of S&OP, demand planning: statistical forecast -> events -> overrides -> consensus, per item and month.

Pure functions of the Inputs (the scenario step calls `run` on modified Inputs). The pieces are public because other
parts reuse them: `apply_overrides` gives the demand after each override owner, which forecast value added (FVA)
per owner is computed from.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from snop_xl import contract as C
from snop_xl.calc.forecast import forecast
from snop_xl.inputs import Inputs, is_lost, stage_key, stage_probabilities
from snop_xl.steps.pipeline_kpis import Trust, trust_of

KEY = ["item", "period"]
SUMMED = ["statistical", "lo_80", "hi_80", "lo_95", "hi_95", "events", "orders", "pipeline", "signals", "override",
          "consensus"]


def run(inputs: Inputs, outputs: Mapping[str, pd.DataFrame] | None = None) -> dict[str, pd.DataFrame]:
    """The DemandPlan table: item rows, then family and total rows that are exact sums of their items."""
    items = item_families(inputs)
    stat = statistical_forecast(inputs)
    events = event_uplift(stat, inputs.events, items)
    with_events = (stat["statistical"] + events["events"]).clip(lower=0.0).to_numpy()
    deals = pipeline_deals(inputs)
    signals = sales_signals(inputs, stat, items, deals)
    trust = trust_of(inputs) if (deals["status"] == "open").any() else Trust(1.0, "setting")
    heard = listen(stat["statistical"].to_numpy(), with_events, signals["orders"].to_numpy(),
                   signals["pipeline"].to_numpy(), trust.share)
    signals["signals"] = heard - with_events
    base = stat[KEY].assign(qty=heard)
    overrides = inputs.demand_overrides
    result = apply_overrides(base, overrides, items)
    plan = stat.merge(events, on=KEY, how="left").merge(signals, on=KEY, how="left")
    plan = plan.merge(result.consensus, on=KEY, how="left").merge(items, on="item", how="left")
    notes = _note_rows(inputs.events, overrides) + deal_notes(deals, trust)
    plan["notes"] = item_notes(plan, notes, items)
    return {"DemandPlan": roll_up(plan, family_notes(plan, notes)),
            "Contributions": contributions(result.by_owner, overrides)}


def contributions(by_owner: pd.DataFrame, overrides: pd.DataFrame) -> pd.DataFrame:
    """The Contributions table: each contributor's number per item and month as the Demand review shows it, with
    the source and reason of the override row that set it."""
    rows = overrides.iloc[by_owner["row"].to_numpy()]
    return pd.DataFrame({"owner": by_owner["owner"].to_numpy(), "item": by_owner["item"].to_numpy(),
                         "period": by_owner["period"].to_numpy(), "qty": by_owner["qty"].to_numpy(),
                         "source": rows["source"].fillna("Overrides").to_numpy()
                         if "source" in rows else "Overrides",
                         "reason": rows["reason"].to_numpy()})


@dataclass
class OverrideResult:
    """Consensus demand after all overrides, and the demand after each owner's overrides (FVA steps).

    consensus: item, period, override (the final overridden quantity, NaN where none), consensus.
    steps: owner -> frame item, period, qty: the demand once the overrides of that owner and of every owner listed
    before it (in order of first appearance in the table) are applied. The last step equals the consensus.
    """

    consensus: pd.DataFrame
    steps: dict[str, pd.DataFrame]
    #: owner, item, period, qty, row: each owner's last number for an item-month (after a family spread) and the
    #: position of the override row that set it
    by_owner: pd.DataFrame = None


def item_families(inputs: Inputs) -> pd.DataFrame:
    """Active items (Items sheet order) with their family."""
    active = inputs.active_items
    return pd.DataFrame({"item": active["item"].to_numpy(dtype=object),
                         "family": active["family"].to_numpy(dtype=object)})


def statistical_forecast(inputs: Inputs) -> pd.DataFrame:
    """Forecast of every active item over the plan's months: item, period, statistical, bounds, method.

    Months missing between an item's first history month and the cycle month count as zero sales; items without any
    history get 0 with method "no history".
    """
    s = inputs.settings
    items = item_families(inputs)
    periods = s.periods
    hist = inputs.history
    hist = hist[hist["item"].isin(set(items["item"])) & (hist["period"] < periods[0])][["item", "period", "qty"]]
    hist = hist.dropna(subset=["qty"])
    if s.cleanse_history and len(inputs.events):
        hist = cleanse(hist, inputs.events, items)
    last = periods[0] - 1
    with_hist = hist["item"].unique()
    pad = pd.DataFrame({"item": with_hist, "period": pd.PeriodIndex([last] * len(with_hist), freq="M"),
                        "qty": 0.0})  # extends every item's calendar to the month before the cycle
    hist = pd.concat([hist, pad], ignore_index=True) if len(hist) else hist
    fc = forecast(hist, len(periods), season_length=s.season_length, method=s.default_method)
    fc = fc.rename(columns={"forecast": "statistical"})
    grid = pd.DataFrame({"item": np.repeat(items["item"].to_numpy(dtype=object), len(periods)),
                         "period": pd.PeriodIndex(np.tile(periods, len(items)), freq="M")})
    out = grid.merge(fc, on=KEY, how="left")
    none = out["method"].isna()
    out.loc[none, ["statistical", "lo_80", "hi_80", "lo_95", "hi_95"]] = 0.0
    out["method"] = out["method"].astype(object).where(~none, "no history")
    return out


# ---- orders and pipeline: consensus that listens (docs/pipeline.md) --------------------------------------------
def listen(statistical: np.ndarray, with_events: np.ndarray, orders: np.ndarray, pipeline: np.ndarray,
           trust: float = 1.0) -> np.ndarray:
    """The demand before overrides once orders and pipeline are heard, per item-month:
    max(orders, with_events + trust x max(0, pipeline - statistical)). The weighted pipeline adds only what exceeds
    the statistical forecast (the run-rate history already holds: small deals are in it), as far as the pipeline
    has earned trust (`pipeline_kpis.trust_of`); open orders are a floor. Outside the pipeline horizon orders and
    pipeline are 0, so this is `with_events` exactly."""
    return np.maximum(orders, with_events + trust * np.maximum(0.0, pipeline - statistical))


def signal_months(inputs: Inputs) -> pd.PeriodIndex:
    """The months in which orders and pipeline are heard: the pipeline horizon from the cycle month, in the plan."""
    s = inputs.settings
    return s.periods[:max(0, min(int(s.pipeline_horizon), len(s.periods)))]


DEAL_STATUS = ("open", "lost", "stale", "closed", "beyond")


def pipeline_deals(inputs: Inputs) -> pd.DataFrame:
    """The Pipeline rows with what the plan makes of them: month (of the close date), probability used (its own,
    else its stage's), status and weighted quantity (qty x probability for open deals, else 0).

    status: open (counted: closes within the pipeline horizon), lost (a lost stage), stale (closes before the cycle
    month and is not won: the CRM was not updated), closed (won before the cycle month: its demand is history or an
    order), beyond (closes after the pipeline horizon)."""
    p = inputs.pipeline.copy()
    cols = ["opportunity", "item", "family", "qty", "close_date", "stage", "probability", "owner", "account"]
    if not len(p):
        return p.reindex(columns=cols).assign(month=pd.Series(dtype="period[M]"), used=pd.Series(dtype=float),
                                               status=pd.Series(dtype=object), weighted=pd.Series(dtype=float))
    try:
        stages = stage_probabilities(inputs.settings.stage_probabilities)
    except ValueError:
        stages = {}
    p["month"] = pd.PeriodIndex(pd.to_datetime(p["close_date"]), freq="M")
    own = p["probability"].astype(float)
    p["used"] = own.where(own.notna(), p["stage"].map(lambda st: stages.get(stage_key(st), np.nan)))
    months = signal_months(inputs)
    cycle = inputs.settings.cycle_month
    won = p["stage"].map(lambda st: "won" in stage_key(st).split())
    status = np.where(p["stage"].map(is_lost), "lost",
                      np.where(p["month"] < cycle, np.where(won, "closed", "stale"),
                               np.where(p["month"].isin(months), "open", "beyond")))
    p["status"] = status
    p["weighted"] = np.where(status == "open", p["qty"].astype(float) * p["used"].fillna(0.0), 0.0)
    return p


def sales_signals(inputs: Inputs, stat: pd.DataFrame, items: pd.DataFrame, deals: pd.DataFrame) -> pd.DataFrame:
    """item, period, orders, pipeline on `stat`'s item-months: open orders (a past-due order counts in the cycle
    month) and weighted open deals (a family deal spread over its items by statistical forecast that month), within
    the pipeline horizon; 0 elsewhere."""
    out = stat[KEY].reset_index(drop=True).copy()
    months = signal_months(inputs)
    orders = np.zeros(len(out))
    pipeline = np.zeros(len(out))
    o = inputs.orders
    if len(o) and len(months):
        month = o["period"].where(o["period"] >= months[0], months[0])
        o = o.assign(period=pd.PeriodIndex(month, freq="M"))[o["item"].isin(set(items["item"]))]
        sums = o[o["period"].isin(months)].groupby(KEY, as_index=False)["qty"].sum()
        orders = out.merge(sums, on=KEY, how="left")["qty"].fillna(0.0).to_numpy(dtype=float)
    live = deals[deals["status"] == "open"] if len(deals) else deals
    if len(live):
        by_item = live[live["item"].notna()].rename(columns={"month": "period"}).groupby(
            KEY, as_index=False)["weighted"].sum()
        pipeline += out.merge(by_item, on=KEY, how="left")["weighted"].fillna(0.0).to_numpy(dtype=float)
        frame = out.assign(statistical=stat["statistical"].to_numpy(dtype=float))
        for deal in live[live["item"].isna()].itertuples(index=False):
            mask = ((frame["period"] == deal.month) & frame["item"].isin(set(_targets(deal, items)))).to_numpy()
            if mask.any():
                pipeline += _spread(frame, mask, "statistical", float(deal.weighted))
    out["orders"], out["pipeline"] = orders, pipeline
    return out


def deal_notes(deals: pd.DataFrame, trust: Trust | None = None) -> list[tuple[object, pd.Period, pd.Period, str]]:
    """Note rows (as `_note_rows`) of the open deals: "deal <id> (<account>, <owner>[, family F]): 4,000 x 60% =
    2,400", and the pipeline trust when the consensus takes less than the whole excess."""
    trusted = f"; {trust}" if trust is not None and trust.share < 1.0 else ""
    out = []
    for d in deals[deals["status"] == "open"].itertuples(index=False) if len(deals) else ():
        who = ", ".join(w for w in (_text(d.account), _text(d.owner), "" if _for_item(d) else f"family {d.family}")
                        if w)
        out.append((d, d.month, d.month, f"deal {d.opportunity}{f' ({who})' if who else ''}: {float(d.qty):,.0f} x "
                                          f"{float(d.used):.0%} = {float(d.weighted):,.0f}{trusted}"))
    return out


def _for_item(row) -> bool:
    """An Events or Overrides row names an item (else it is about the whole family it names)."""
    return isinstance(row.item, str) and bool(row.item)


def _targets(row, items: pd.DataFrame) -> np.ndarray:
    """The active items an Events or Overrides row concerns: its item, or every item of its family."""
    hit = items["item"] == row.item if _for_item(row) else items["family"] == row.family
    return items["item"][hit].to_numpy(dtype=object)


def _event_targets(events: pd.DataFrame, items: pd.DataFrame) -> list[tuple[np.ndarray, tuple]]:
    """For each event row: the items it concerns and the row (a named tuple)."""
    return [(_targets(ev, items), ev) for ev in events.itertuples(index=False)]


def _text(value) -> str:
    """A text cell stripped ("" for a blank one)."""
    return "" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value).strip()


def _spread(frame: pd.DataFrame, mask: np.ndarray, weight: str, total: float | np.ndarray) -> np.ndarray:
    """Share of `total` (per period) each masked row gets, proportional to `weight` (equal when the weights are 0)."""
    share = np.zeros(len(frame))
    sub = frame[mask]
    w = sub[weight].to_numpy(dtype=float).clip(min=0)
    per_period = pd.Series(w).groupby(sub["period"].to_numpy()).transform("sum").to_numpy()
    count = pd.Series(w).groupby(sub["period"].to_numpy()).transform("size").to_numpy()
    share[mask] = np.where(per_period > 0, w / np.where(per_period > 0, per_period, 1), 1 / count)
    return share * total


def event_uplift(stat: pd.DataFrame, events: pd.DataFrame, items: pd.DataFrame) -> pd.DataFrame:
    """Uplift of every event on the statistical forecast: item, period, events (units; several events add up).

    Uplift % multiplies the item's statistical forecast; Uplift Qty is units per month for an item, or for a family
    spread over its items in proportion to their statistical forecast that month.
    """
    out = stat[KEY].copy()
    uplift = np.zeros(len(stat))
    for targets, ev in _event_targets(events, items):
        months = (stat["period"] >= ev.start) & (stat["period"] <= ev.end)
        mask = (stat["item"].isin(set(targets)) & months).to_numpy()
        if not mask.any():
            continue
        if pd.notna(ev.uplift_pct):
            uplift[mask] += stat["statistical"].to_numpy()[mask] * float(ev.uplift_pct)
        else:
            uplift += _spread(stat, mask, "statistical", float(ev.uplift_qty))
    out["events"] = uplift
    return out


def cleanse(history: pd.DataFrame, events: pd.DataFrame, items: pd.DataFrame) -> pd.DataFrame:
    """History with the effect of past events removed, so promotions do not inflate the baseline.

    Uplift % divides the month's sales by (1 + uplift); Uplift Qty subtracts the units (a family's spread by the
    items' sales that month). Never below zero. A -100% event (no sales possible) leaves its months as they are:
    there is no uplift to undo and nothing in them to recover the baseline from.
    """
    hist = history.reset_index(drop=True).copy()
    qty = hist["qty"].to_numpy(dtype=float).copy()
    for targets, ev in _event_targets(events, items):
        mask = (hist["item"].isin(set(targets)) & (hist["period"] >= ev.start)
                & (hist["period"] <= ev.end)).to_numpy()
        if not mask.any():
            continue
        if pd.notna(ev.uplift_pct):
            if float(ev.uplift_pct) > -1:
                qty[mask] = qty[mask] / (1 + float(ev.uplift_pct))
        else:
            qty -= _spread(hist.assign(qty=qty), mask, "qty", float(ev.uplift_qty))
    hist["qty"] = np.maximum(qty, 0.0)
    return hist


def apply_overrides(base: pd.DataFrame, overrides: pd.DataFrame, items: pd.DataFrame) -> OverrideResult:
    """Apply the Overrides rows in table order on `base` (item, period, qty); the last one for an item-month wins.

    A family override replaces the family's total that month and is spread over its items in proportion to their
    demand at that point (equal shares when that is zero). `items` maps item -> family (active items); rows about
    other items or months outside `base` are ignored.
    """
    rows = list(overrides.itertuples(index=False)) if len(overrides) else []
    owners = list(dict.fromkeys(str(r.owner) for r in rows))
    periods, base_items = base["period"], base["item"]
    # (owner, item-months of `base` the row sets, quantity) per row, in table order: found once for every replay
    changes = [(str(r.owner), (periods == r.period).to_numpy() & base_items.isin(set(_targets(r, items))).to_numpy(),
                r.qty) for r in rows]
    steps = {}
    for k, owner in enumerate(owners):
        upto = set(owners[:k + 1])
        qty, _, _ = _apply(base, [c for c in changes if c[0] in upto])
        steps[owner] = base[KEY].reset_index(drop=True).assign(qty=qty)
    qty, overridden, by_owner = _apply(base, changes)
    consensus = base[KEY].reset_index(drop=True).assign(override=overridden, consensus=qty)
    keys = base[KEY].reset_index(drop=True)
    parts = [keys[set_by >= 0].assign(owner=owner, qty=value[set_by >= 0], row=set_by[set_by >= 0])
             for owner, (value, set_by) in by_owner.items()]
    long = (pd.concat(parts, ignore_index=True) if parts else
            keys.iloc[:0].assign(owner=pd.Series(dtype=object), qty=pd.Series(dtype=float),
                                 row=pd.Series(dtype=int)))
    return OverrideResult(consensus, steps, long[["owner", "item", "period", "qty", "row"]])


def _apply(base: pd.DataFrame, changes: list[tuple[str, np.ndarray, object]]
           ) -> tuple[np.ndarray, np.ndarray, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """Demand after `changes` (owner, the item-months an override row sets, its quantity) in order, the
    overridden quantity of each item-month (NaN where none), and per owner the item-months' quantity after
    that owner's last row touching them with the position of that row (-1 where none)."""
    demand = base[KEY].reset_index(drop=True).assign(qty=base["qty"].to_numpy(dtype=float))
    overridden = np.full(len(demand), np.nan)
    by_owner: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for position, (owner, mask, target) in enumerate(changes):
        if not mask.any():
            continue
        qty = demand["qty"].to_numpy().copy()
        qty[mask] = _spread(demand, mask, "qty", float(target))[mask]
        demand["qty"] = qty
        overridden[mask] = qty[mask]
        value, set_by = by_owner.setdefault(owner, (np.full(len(demand), np.nan), np.full(len(demand), -1)))
        value[mask], set_by[mask] = qty[mask], position
    return demand["qty"].to_numpy(), overridden, by_owner


def _note_rows(events: pd.DataFrame, overrides: pd.DataFrame) -> list[tuple[object, pd.Period, pd.Period, str]]:
    """(row, first month, last month, text) of every Events then Overrides row, in table order.

    Events: "<note> (<owner>, family <F>): +20%" or "... +400/month"; overrides: "override 7,400 by <owner>
    (family <F>): <reason>". The family appears only on rows given for a whole family.
    """
    out = []
    for ev in events.itertuples(index=False):
        who = ", ".join(w for w in (_text(ev.owner), "" if _for_item(ev) else f"family {ev.family}") if w)
        what = _text(getattr(ev, "note", "")) or "event"
        size = f"{float(ev.uplift_pct):+.0%}" if pd.notna(ev.uplift_pct) else f"{float(ev.uplift_qty):+,.0f}/month"
        out.append((ev, ev.start, ev.end, f"{what}{f' ({who})' if who else ''}: {size}"))
    for ov in overrides.itertuples(index=False):
        scope = "" if _for_item(ov) else f" (family {ov.family})"
        reason = _text(getattr(ov, "reason", ""))
        out.append((ov, ov.period, ov.period,
                    f"override {float(ov.qty):,.0f} by {_text(ov.owner)}{scope}{f': {reason}' if reason else ''}"))
    return out


def _join_notes(keys: pd.Series, periods: pd.Series, notes: list[tuple[np.ndarray, pd.Period, pd.Period, str]]
                ) -> np.ndarray:
    """Per row, the texts whose keys include the row's key and whose months include its period ("; "-joined)."""
    codes, uniques = pd.factorize(keys)
    uniques = pd.Index(uniques)
    month = pd.PeriodIndex(periods).asi8
    parts: dict[int, list[str]] = {}  # only the rows with a note (a book may have 10^6 item-months)
    for targets, start, end, text in notes:
        hit = uniques.get_indexer(pd.Index(targets, dtype=object))
        mask = np.isin(codes, hit[hit >= 0]) & (month >= start.ordinal) & (month <= end.ordinal)
        for i in np.flatnonzero(mask):
            parts.setdefault(i, []).append(text)
    out = np.full(len(keys), None, dtype=object)
    for i, p in parts.items():
        out[i] = "; ".join(p)
    return out


def item_notes(plan: pd.DataFrame, note_rows: list[tuple[object, pd.Period, pd.Period, str]], items: pd.DataFrame
               ) -> np.ndarray:
    """Notes of each item-month of `plan` (item, period): every event and override (`_note_rows`) that applies to
    it."""
    return _join_notes(plan["item"], plan["period"],
                       [(_targets(row, items), start, end, text) for row, start, end, text in note_rows])


def family_notes(plan: pd.DataFrame, note_rows: list[tuple[object, pd.Period, pd.Period, str]]) -> pd.DataFrame:
    """family, period, notes: the events and overrides (`_note_rows`) given for a whole family, on its months in
    `plan`."""
    families, months = pd.unique(plan["family"]), pd.unique(plan["period"])
    keys = pd.DataFrame({"family": np.repeat(families, len(months)),
                         "period": months.take(np.tile(np.arange(len(months)), len(families)))})
    notes = [([row.family], start, end, text) for row, start, end, text in note_rows if not _for_item(row)]
    return keys.assign(notes=_join_notes(keys["family"], keys["period"], notes))


def roll_up(plan: pd.DataFrame, family_notes: pd.DataFrame | None = None) -> pd.DataFrame:
    """Item rows as given, then per family and period, then per period: sums of the item rows.

    Text columns: item rows keep their method and notes; family rows take their notes from `family_notes`
    (family, period, notes), if given.
    """
    cols = C.DEMAND_PLAN.keys
    item_rows = plan.assign(level="Item")
    if "notes" not in item_rows:
        item_rows["notes"] = None
    fam_order = list(dict.fromkeys(item_rows["family"]))

    def total(frame: pd.DataFrame, by: list[str]) -> pd.DataFrame:
        g = frame.groupby(by, sort=False)
        out = g[[c for c in SUMMED if c != "override"]].sum()
        out["override"] = g["override"].sum(min_count=1)
        return out.reset_index()

    fam = total(item_rows, ["family", "period"]).assign(level="Family", item=None, method=None)
    fam = fam.merge(family_notes, on=["family", "period"], how="left") if family_notes is not None else \
        fam.assign(notes=None)
    fam["_f"] = fam["family"].map({f: i for i, f in enumerate(fam_order)})
    fam = fam.sort_values(["_f", "period"], kind="stable").drop(columns="_f")
    tot = total(item_rows, ["period"]).assign(level="Total", family=None, item=None, method=None, notes=None)
    tot = tot.sort_values("period", kind="stable")
    out = pd.concat([item_rows[cols], fam[cols], tot[cols]], ignore_index=True)
    for c in ("level", "family", "item", "method", "notes"):
        out[c] = out[c].astype(object)
    return out
