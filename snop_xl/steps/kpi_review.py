"""The KPI review: how good the forecast is, as a planner reads it (layout: `snop_xl.contract.review`).

The KPIs table is long (one row per level, name, metric, step, lag and cycle: thousands of rows). This sheet shows
the same numbers the other way round: Total and each family down the rows (items folded under their family), lags
across, and per block the key figures people discuss in the meeting: accuracy and bias of the statistical forecast
and of the consensus, and the value each step and contributor adds (red where it removes accuracy). Measured on
published plans against actuals when the archive has them, else on the backtest of the statistical forecast.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from snop_xl.contract import column_letter
from snop_xl.contract import review as R
from snop_xl.io.grid import FAMILY, FIGURE, HEADER, HELP, ITEM, LABEL, PLAN, TITLE, TOTAL, Grid, Highlight

#: key figures per block: (metric, label) in the order shown; steps in STEP_ORDER, then contributors
METRICS = (("ACCURACY", "Accuracy"), ("BIAS", "Bias"), ("FVA", "Value added"))
STEP_ORDER = ("naive", "statistical", "events", "consensus")
PERCENT = "0.0%"


def step_label(step: Any) -> str:
    """'owner: Sales North' -> 'Sales North (override)'; 'statistical' -> 'Statistical'."""
    text = str(step)
    return f"{text[len('owner: '):]} (override)" if text.startswith("owner: ") else text.capitalize()


def _step_rank(step: str) -> tuple[int, str]:
    """Steps in the order the plan is built: naive, statistical, events, the contributors, consensus last."""
    if step in STEP_ORDER:
        rank = STEP_ORDER.index(step)
        return (rank if step != "consensus" else len(STEP_ORDER) + 1, step)
    return (len(STEP_ORDER), step)


def kpi_review(kpis: pd.DataFrame, items: pd.DataFrame | None = None) -> Grid:
    """The KPI review grid from the KPIs table; `items` (item, description, family) groups items under families."""
    whole = kpis[kpis["cycle"].isna()] if "cycle" in kpis else kpis
    basis = "published" if (whole["basis"] == "published").any() else "backtest"
    rows_of = whole[(whole["basis"] == basis) & whole["metric"].isin([m for m, _ in METRICS])
                    & whole["lag"].notna()]
    lags = sorted(int(v) for v in rows_of["lag"].unique())
    first = R.FIRST_MONTH_COL + 1  # labels, then the item-months behind lag 1, then the lags
    width = first - 1 + len(lags)
    value = {(lv, str(n), m, str(s), int(lg)): v for lv, n, m, s, lg, v in rows_of[
        ["level", "name", "metric", "step", "lag", "value"]].itertuples(index=False, name=None)}
    observed = {(lv, str(n), str(s)): o for lv, n, m, s, lg, o in rows_of[
        ["level", "name", "metric", "step", "lag", "observations"]].itertuples(index=False, name=None)
        if m == "ACCURACY" and lg == lags[0]} if lags else {}
    steps = {m: sorted({str(s) for s in rows_of.loc[rows_of["metric"] == m, "step"]}, key=_step_rank)
             for m, _ in METRICS}

    described, family_of = {}, {}
    if items is not None and len(items):
        described = {str(i): d for i, d in items[["item", "description"]].itertuples(index=False, name=None)
                     if isinstance(d, str) and d}
        family_of = {str(i): str(f) for i, f in items[["item", "family"]].itertuples(index=False, name=None)}
    names = {lv: list(dict.fromkeys(str(n) for n in rows_of.loc[rows_of["level"] == lv, "name"]))
             for lv in ("Total", "Family", "Item")}
    if family_of:  # families and items in the Items sheet's order, as on the other review sheets
        order = {name: k for k, name in enumerate(dict.fromkeys([*family_of.values(), *family_of]))}
        for lv in ("Family", "Item"):
            names[lv].sort(key=lambda n: order.get(n, len(order)))

    rows: list[list[Any]] = []
    styles: list[str] = []
    levels: list[int] = []
    formats: dict[int, str] = {}
    fva_ranges: list[str] = []

    def block(level: str, name: str, description: str, style: str, outline: int) -> None:
        for metric, label in METRICS:
            for step in steps[metric]:
                cells = [value.get((level, name, metric, step, lag)) for lag in lags]
                if all(v is None or pd.isna(v) for v in cells):
                    continue
                row: list[Any] = [None] * width
                row[R.COL_NAME - 1], row[R.COL_DESCRIPTION - 1] = name, description or None
                row[R.COL_FIGURE - 1], row[R.COL_NOTE - 1] = label, step_label(step)
                for k, v in enumerate(cells):
                    row[first - 1 + k] = None if v is None or pd.isna(v) else float(v)
                obs = observed.get((level, name, step)) if metric == "ACCURACY" else None
                row[first - 2] = None if obs is None or pd.isna(obs) else int(obs)
                rows.append(row)
                styles.append(style if (metric, step) == ("ACCURACY", "consensus") else FIGURE)
                levels.append(outline)
                r = R.FIRST_ROW + len(rows) - 1
                formats[r] = PERCENT
                if metric == "FVA" and lags:
                    fva_ranges.append(f"{column_letter(first)}{r}:{column_letter(first + len(lags) - 1)}{r}")

    for name in names["Total"]:
        block("Total", name, "", TOTAL, 0)
    item_names = names["Item"]
    for family in names["Family"]:
        block("Family", family, "Family", FAMILY, 1)
        for item in [i for i in item_names if family_of.get(i) == family]:
            block("Item", item, described.get(item, ""), ITEM, 2)
    for item in [i for i in item_names if family_of.get(i) not in names["Family"]]:
        block("Item", item, described.get(item, ""), ITEM, 2)

    what = "published plans vs actuals, all cycles" if basis == "published" else \
        "backtest of the statistical forecast on History (nothing published yet)"
    title: list[Any] = [None] * width
    title[0] = f"KPI review · forecast accuracy, bias and value added by lag · {what}"
    help_row: list[Any] = [None] * width
    help_row[0] = ("Accuracy = 1 - WAPE (higher is better). Bias = (forecast - actual) / actual: + over-forecast, "
                   "- under-forecast. Value added = accuracy a step adds to the one before it; red where it removes "
                   "accuracy. Lag = months between the plan and the month measured. Items fold under families [+].")
    header: list[Any] = [None] * width
    header[:first - 1] = ["Total / family / item", "Description", "Key figure", "Step / contributor",
                          f"Item-months (lag {lags[0]})" if lags else "Item-months"]
    for k, lag in enumerate(lags):
        header[first - 1 + k] = f"Lag {lag}"
    widths = [16.0, 22.0, 14.0, 26.0, 13.0] + [10.0] * len(lags)
    kinds = [LABEL] * (first - 1) + [PLAN] * len(lags)
    highlights = [Highlight(" ".join(fva_ranges), "negative")] if fva_ranges else []
    return Grid(R.KPI_REVIEW, [title, help_row, header] + rows, [TITLE, HELP, HEADER] + styles, [0, 0, 0] + levels,
                kinds, widths, PERCENT, (R.FIRST_ROW, first), highlights=highlights, header_row=R.HEADER_ROW,
                row_formats=formats)
