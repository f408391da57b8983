"""`snop-xl kpis`: the KPIs of a book's plan and its archive, printed or written to the KPIs sheet."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from snop_xl import archive
from snop_xl import contract as C
from snop_xl.io.base import BookIO
from snop_xl.steps.kpi_review import kpi_review
from snop_xl.steps.kpis import kpi_trend


def write_kpis(book: BookIO, kpis: pd.DataFrame, items: pd.DataFrame | None = None) -> None:
    """The KPIs sheet whole: the KPIs table, its KPITrend and the charts drawn from it (never one without the
    others, so the charts always show the table beside them), and the KPI review of the same numbers (`items`
    groups items under their families). Only the KPIs sheet's charts are redrawn: nothing else changed."""
    book.write_table(C.KPIS, kpis)
    book.write_table(C.KPI_TREND, kpi_trend(kpis))
    book.write_grid(kpi_review(kpis, items))
    book.draw_charts(hosts=(C.KPI_TREND.sheet,))


def decisions_log(path: str | Path) -> pd.DataFrame:
    """Every published version's Decisions, version first (what `snop-xl kpis --versions` lists under them)."""
    log = archive.load_table(path, "Decisions", latest_per_cycle=False)
    keys = [k for k in C.DECISIONS.keys if k in log]
    return log[["version", *keys]] if len(log) else pd.DataFrame(columns=["version", *C.DECISIONS.keys])


#: heading of the pipeline accuracy table `snop-xl kpis` prints
PIPELINE_HEADING = ("Pipeline accuracy: stated probability vs realised win rate of the deals whose close month is over "
                    "(gap + = optimistic), won quantity closed in its forecast month, weighted pipeline bias by lag "
                    "(+ = over; docs/pipeline.md)")


def pipeline_text(table: pd.DataFrame) -> pd.DataFrame:
    """The calibration table as `snop-xl kpis` prints it: one row per grouping over all lags, the bias of each lag
    beside, shares as percents ('-' where nothing measures them)."""
    def pct(v: object, sign: str = "") -> str:
        return "-" if v is None or pd.isna(v) else f"{float(v):{sign}.1%}"

    whole = table[table["lag"].isna()].reset_index(drop=True)
    out = pd.DataFrame({"by": whole["by"], "name": whole["name"], "deals": whole["deals"], "open": whole["open"],
                        "qty": whole["qty"].map(lambda v: f"{v:,.0f}"),
                        "stated": whole["stated"].map(pct), "realised": whole["realised"].map(pct),
                        "gap": whole["gap"].map(lambda v: pct(v, "+")),
                        "on time": whole["on_time"].map(pct)})
    for lag in sorted(int(v) for v in table["lag"].dropna().unique()):
        part = table[table["lag"] == lag].set_index(["by", "name"])["bias"]
        out[f"bias L{lag}"] = [pct(part.get((b, n)), "+") for b, n in zip(whole["by"], whole["name"])]
    return out
