"""`snop-xl diff`: what changed between two published plan versions, per measure and family."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from snop_xl import archive
from snop_xl import contract as C

# ---- plan diff ------------------------------------------------------------------------------------------------
DIFF_MEASURES = (("demand", "DemandPlan", "consensus"), ("supply", "SupplyPlan", "supply"),
                 ("revenue", "Financials", "revenue"), ("margin", "Financials", "margin"))


def _detail_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The finest rows of an output (items of DemandPlan, family months of Financials): subtotals are recomputed."""
    if "horizon" in frame:
        frame = frame[frame["horizon"] == "Month"]
    if "basis" in frame:  # Financials' past months are actuals, not the plan
        frame = frame[frame["basis"] != "Actual"]
    if "level" in frame:
        frame = frame[frame["level"] == ("Item" if "item" in frame else "Family")]
    return frame


def plan_diff(old: Mapping[str, pd.DataFrame], new: Mapping[str, pd.DataFrame], old_id: str = "",
              new_id: str = "") -> pd.DataFrame:
    """Per measure and family, the totals of two plans over the months both plan, biggest movers first."""
    rows = []
    for measure, table, column in DIFF_MEASURES:
        a, b = old.get(table), new.get(table)
        if a is None or b is None or column not in a or column not in b or not len(a) or not len(b):
            continue
        a, b = _detail_rows(a), _detail_rows(b)
        common = set(a["period"]) & set(b["period"])
        sa = a[a["period"].isin(common)].groupby("family")[column].sum()
        sb = b[b["period"].isin(common)].groupby("family")[column].sum()
        both = pd.concat([sa.rename("from_value"), sb.rename("to_value")], axis=1).fillna(0.0)
        both.loc["Total"] = both.sum()
        both["change"] = both["to_value"] - both["from_value"]
        both["change_pct"] = (both["change"] / both["from_value"].where(both["from_value"] != 0)).astype(float)
        fam = both.drop(index="Total").sort_values("change", key=np.abs, ascending=False, kind="stable")
        ordered = pd.concat([both.loc[["Total"]], fam])
        ordered["rank"] = [0] + list(range(1, len(fam) + 1))
        rows.append(ordered.rename_axis("family").reset_index().assign(measure=measure))
    if not rows:
        return pd.DataFrame(columns=C.PLAN_DIFF.keys)
    out = pd.concat(rows, ignore_index=True).assign(from_version=old_id, to_version=new_id)
    out["rank"] = out["rank"].astype("Int64")
    return out[C.PLAN_DIFF.keys]


def diff_versions(archive_file: str | Path, old: str, new: str) -> pd.DataFrame:
    """plan_diff of two archived versions (ids, cycle months or 'latest')."""
    va, fa = archive.load(archive_file, old)
    vb, fb = archive.load(archive_file, new)
    return plan_diff(fa, fb, va.version, vb.version)
