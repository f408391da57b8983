"""Pipeline accuracy (issue 19): the sales pipeline each published version was built on, measured against what
became of its deals. Per stage and per owner, the stated probability against the realised win rate (calibration),
the share of won quantity that closed in the month it was forecast for, and the weighted pipeline's bias by lag:
the evidence for rewarding accuracy rather than optimism. The rule: docs/pipeline.md, "Pipeline accuracy".

Everything here is computable from the book alone: the Pipeline snapshots in the archive (one per published cycle,
its last revision) and the book's own Pipeline table as the newest snapshot. No CRM history is needed: a deal's
outcome is what a later snapshot says of it.

Lag follows docs/kpis.md: a deal a cycle-c snapshot expects to close in month m is forecast at lag m - c + 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from snop_xl import archive
from snop_xl.calc import kpi
from snop_xl.inputs import Inputs, is_lost, pipeline_trust, stage_key, stage_probabilities

#: what one snapshot row says of its deal
STATES = ("open", "won", "lost")
#: groupings of the calibration table, in the order it lists them
GROUPS = ("Total", "Stage", "Owner")
NO_OWNER = "(no owner)"
SNAPSHOT_COLUMNS = ["cycle", "opportunity", "qty", "month", "stage", "probability", "owner", "state"]
COLUMNS = ["by", "name", "lag", "deals", "open", "qty", "stated", "realised", "gap", "won_qty", "on_time",
           "weighted", "won_in_month", "bias"]


def deal_state(stage: object, probability: float) -> str:
    """lost: the stage names lost (as the demand step reads it); won: the stage names won (Closed Won, Won) or the
    probability is 100% (CRMs whose won stage has another name set it so); open otherwise."""
    if is_lost(stage):
        return "lost"
    if "won" in stage_key(stage).split() or (pd.notna(probability) and float(probability) >= 1.0):
        return "won"
    return "open"


def snapshot(frame: pd.DataFrame, cycle: pd.Period, stages: dict[str, float]) -> pd.DataFrame:
    """One Pipeline table as SNAPSHOT_COLUMNS: the month of each close date, the probability stated (a blank one
    from `stages`, the Stage probabilities setting, as the demand step does) and the deal's state."""
    if not len(frame):
        return pd.DataFrame(columns=SNAPSHOT_COLUMNS)
    f = frame.drop_duplicates("opportunity", keep="last")
    own = pd.to_numeric(f["probability"], errors="coerce").astype(float)
    prob = own.where(own.notna(), f["stage"].map(lambda st: stages.get(stage_key(st), np.nan))).astype(float)
    owner = f["owner"].fillna("").astype(str).str.strip() if "owner" in f else pd.Series("", index=f.index)
    out = pd.DataFrame({
        "cycle": pd.PeriodIndex([cycle] * len(f), freq="M"),
        "opportunity": f["opportunity"].astype(str).str.strip().to_numpy(),
        "qty": pd.to_numeric(f["qty"], errors="coerce").astype(float).to_numpy(),
        "month": pd.PeriodIndex(pd.to_datetime(f["close_date"]), freq="M"),
        "stage": f["stage"].fillna("").astype(str).str.strip().to_numpy(),
        "probability": prob.to_numpy(),
        "owner": owner.where(owner != "", NO_OWNER).to_numpy()})
    out["state"] = [deal_state(s, p) for s, p in zip(out["stage"], out["probability"])]
    return out


def pipeline_snapshots(inputs: Inputs, path: Path | None) -> pd.DataFrame:
    """Every snapshot the book can see, oldest first: the archived Pipeline of each published cycle before the
    book's cycle month (its last revision), then the book's own Pipeline as the snapshot of its cycle month (it
    replaces an archived one of that month; archived cycles after it are another book's future). A snapshot
    without rows is no snapshot: a cycle that published no pipeline says nothing of its deals."""
    try:
        stages = stage_probabilities(inputs.settings.stage_probabilities)
    except ValueError:
        stages = {}
    now = inputs.settings.cycle_month
    parts = []
    archived = archive.load_table(path, "Pipeline") if path is not None and path.exists() else pd.DataFrame()
    if len(archived):
        for cycle, frame in archived[archived["cycle_month"] < now].groupby("cycle_month", sort=True):
            parts.append(snapshot(frame, pd.Period(cycle, "M"), stages))
    parts.append(snapshot(inputs.pipeline, now, stages))
    parts = [p for p in parts if len(p)]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=SNAPSHOT_COLUMNS)


def deal_outcomes(snaps: pd.DataFrame, now: pd.Period) -> pd.DataFrame:
    """The forecasts: each snapshot's open deals (not won or lost, closing in or after its cycle month) whose
    close month is now over (before `now`), with what became of them (docs/pipeline.md):

    - won: the newest later snapshot that lists the deal shows it won; won in the month of its close date there,
      the quantity there (won_month, won_qty);
    - lost: that row shows it lost, or the newest snapshot of all no longer lists a deal last seen open (gone:
      dropped from the report without being won);
    - open: still open in the newest snapshot (its month slipped): no outcome yet.
    """
    cols = [*SNAPSHOT_COLUMNS, "lag", "outcome", "won_month", "won_qty"]
    if not len(snaps):
        return pd.DataFrame(columns=cols)
    f = snaps[(snaps["state"] == "open") & (snaps["month"] >= snaps["cycle"]) & (snaps["month"] < now)
              & (snaps["cycle"] < now)].copy()
    if not len(f):
        return pd.DataFrame(columns=cols)
    later = f[["cycle", "opportunity"]].reset_index().merge(
        snaps[["cycle", "opportunity", "state", "month", "qty"]].rename(
            columns={"cycle": "cycle_later", "state": "state_later", "month": "month_later", "qty": "qty_later"}),
        on="opportunity")
    later = later[later["cycle_later"] > later["cycle"]].sort_values(["index", "cycle_later"])
    last = later.drop_duplicates("index", keep="last").set_index("index")
    newest = snaps["cycle"].max()
    in_newest = f["opportunity"].isin(set(snaps.loc[snaps["cycle"] == newest, "opportunity"]))
    state = last["state_later"].reindex(f.index)
    gone = (newest > f["cycle"]) & ~in_newest & ~state.isin(["won", "lost"])
    f["outcome"] = np.where(state == "won", "won", np.where((state == "lost") | gone, "lost", "open"))
    won = f["outcome"] == "won"
    f["won_month"] = last["month_later"].reindex(f.index).where(won)
    f["won_qty"] = last["qty_later"].reindex(f.index).where(won, 0.0).astype(float)
    f["lag"] = pd.PeriodIndex(f["month"], freq="M").asi8 - pd.PeriodIndex(f["cycle"], freq="M").asi8 + 1
    return f[cols].reset_index(drop=True)


def _measures(g: pd.DataFrame) -> list[float]:
    """deals, open, qty, stated, realised, gap, won_qty, on_time, weighted, won_in_month, bias of forecasts `g`.
    Calibration is over the deals with an outcome (quantity-weighted: the units the pipeline stakes); the bias is
    over all of them, the still-open ones having won nothing in their month."""
    done = g[g["outcome"] != "open"]
    qty = float(done["qty"].sum())
    stated = float((done["qty"] * done["probability"]).sum() / qty) if qty > 0 else np.nan
    realised = float(done.loc[done["outcome"] == "won", "qty"].sum() / qty) if qty > 0 else np.nan
    won_qty = g["won_qty"].where(g["outcome"] == "won", 0.0)
    in_month = won_qty.where(g["won_month"] == g["month"], 0.0)
    on_time = float(in_month.sum() / won_qty.sum()) if won_qty.sum() > 0 else np.nan
    weighted = g["qty"] * g["probability"].fillna(0.0)
    return [len(done), int((g["outcome"] == "open").sum()), qty, stated, realised, stated - realised,
            float(won_qty.sum()), on_time, float(weighted.sum()), float(in_month.sum()),
            kpi.bias(in_month.to_numpy(dtype=float), weighted.to_numpy(dtype=float))]


def calibration_table(outcomes: pd.DataFrame) -> pd.DataFrame:
    """COLUMNS per grouping (Total, each stage stated in the snapshot, each owner) over all lags (lag blank) and
    per lag. Stages compare as the demand step compares them (case and punctuation aside) and are listed from the
    lowest stated probability up; owners by name."""
    if not len(outcomes):
        return pd.DataFrame(columns=COLUMNS).astype({"lag": "Int64"})
    o = outcomes.assign(_stage=outcomes["stage"].map(stage_key))
    stage_name = o.groupby("_stage")["stage"].first()
    stage_order = o.groupby("_stage")["probability"].mean().sort_values(kind="stable")
    rows = []
    for by, key, names in (("Total", None, ["Total"]), ("Stage", "_stage", list(stage_order.index)),
                           ("Owner", "owner", sorted(o["owner"].unique()))):
        for name in names:
            g = o if key is None else o[o[key] == name]
            shown = stage_name[name] if by == "Stage" else name
            rows.append([by, shown, pd.NA, *_measures(g)])
            for lag, part in g.groupby("lag", sort=True):
                rows.append([by, shown, int(lag), *_measures(part)])
    out = pd.DataFrame(rows, columns=COLUMNS)
    return out.astype({"lag": "Int64", "deals": "int64", "open": "int64"})


def pipeline_calibration(inputs: Inputs, path: Path | None) -> pd.DataFrame:
    """The calibration table of the book: its archived pipelines and its own Pipeline, as of its cycle month."""
    now = inputs.settings.cycle_month
    return calibration_table(deal_outcomes(pipeline_snapshots(inputs, path), now))


# ---- how much of the pipeline the consensus takes (the Pipeline trust setting) --------------------------------
#: item-months the pipeline must have been measured on before "auto" trusts it less than whole
MIN_EVIDENCE = 12
#: where `trust_of` keeps what it learned for the run (Inputs.extra: the archive is read once)
TRUST_KEY = "pipeline_trust"


@dataclass(frozen=True)
class Trust:
    """The share of the weighted pipeline above the statistical forecast that the consensus takes, and why."""

    share: float
    source: str  # "setting", "learned" or "not enough evidence"
    item_months: int = 0

    def __str__(self) -> str:
        if self.source == "setting":
            return f"pipeline trust {self.share:.0%} (setting)"
        return (f"pipeline trust {self.share:.0%} ({self.source}: {self.item_months} item-months of published plans "
                f"measured against actuals)")


def best_share(statistical: np.ndarray, with_events: np.ndarray, pipeline: np.ndarray, actual: np.ndarray
               ) -> tuple[float, int]:
    """The share t in [0, 1] of the pipeline's excess that would have made plans most accurate, and on how many
    item-months. Where a plan took X = max(0, W - S) on top of B = with_events, the error with share t is
    |A - B - t X| = X |r - t| with r = (A - B) / X: the weighted median of r (weights X) minimises the total
    absolute error (the WAPE the KPIs report). Months without an actual (NaN) are left out; none measured: 1."""
    x = np.maximum(0.0, pipeline - statistical)
    keep = (x > 0) & np.isfinite(actual)
    if not keep.any():
        return 1.0, 0
    x, r = x[keep], (actual[keep] - with_events[keep]) / x[keep]
    order = np.argsort(r, kind="stable")
    cum = np.cumsum(x[order])
    median = r[order][np.searchsorted(cum, cum[-1] / 2.0)]
    return float(np.clip(median, 0.0, 1.0)), int(keep.sum())


def learned_trust(plans: pd.DataFrame, history: pd.DataFrame) -> tuple[float, int]:
    """`best_share` of published plans: `plans` archived DemandPlan rows (item rows are used: statistical,
    events, pipeline), `history` item, period, qty (the actuals since)."""
    if not len(plans) or "pipeline" not in plans:
        return 1.0, 0
    p = plans[plans["level"] == "Item"] if "level" in plans else plans
    s = pd.to_numeric(p["statistical"], errors="coerce").fillna(0.0).to_numpy(dtype=float)
    e = pd.to_numeric(p["events"], errors="coerce").fillna(0.0).to_numpy(dtype=float)
    w = pd.to_numeric(p["pipeline"], errors="coerce").fillna(0.0).to_numpy(dtype=float)
    actual = p[["item", "period"]].merge(history.groupby(["item", "period"], as_index=False)["qty"].sum(),
                                         on=["item", "period"], how="left")["qty"].to_numpy(dtype=float)
    return best_share(s, np.maximum(0.0, s + e), w, actual)


def trust_of(inputs: Inputs) -> Trust:
    """The Pipeline trust setting: its share, or (auto) the share learned from the archive's published plans of
    earlier cycles against the History since; whole until MIN_EVIDENCE item-months are measured."""
    given = pipeline_trust(inputs.settings.pipeline_trust)
    if given is not None:
        return Trust(given, "setting")
    if TRUST_KEY not in inputs.extra:  # once per book: the demand step and the Demand review both ask
        inputs.extra[TRUST_KEY] = _learned(inputs)
    return inputs.extra[TRUST_KEY]


def _learned(inputs: Inputs) -> Trust:
    path = inputs.archive_path
    plans = archive.load_table(path, "DemandPlan") if path is not None and path.exists() else pd.DataFrame()
    if len(plans):
        plans = plans[plans["cycle_month"] < inputs.settings.cycle_month]
    share, measured = learned_trust(plans, inputs.history)
    if measured < MIN_EVIDENCE:
        return Trust(1.0, "not enough evidence", measured)
    return Trust(share, "learned", measured)
