"""The executive meeting pack: a few PDF pages from a workbook's outputs, drawn with matplotlib only.

Page 1 headline figures and scenarios, page 2 charts (demand vs budget, supply vs demand, capacity, scenarios),
page 3 the top exceptions. Reads what steps 3 and 4 wrote, so run the cycle first.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.backends.backend_pdf import PdfPages  # noqa: E402

from snop_xl.calc.finance import variance  # noqa: E402
from snop_xl.calc.supply import capacity_lines  # noqa: E402
from snop_xl.io.atomic import write_atomically  # noqa: E402
from snop_xl.io.base import BookIO  # noqa: E402
from snop_xl.io.pictures import A4, charts_figure, read_outputs  # noqa: E402
from snop_xl.steps.review import VARIANCE_METRICS  # noqa: E402

TOP_EXCEPTIONS = 15




def _fmt(value: object, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "-"
    if unit == "%":
        return f"{float(value):.1f}%"
    return f"{float(value):,.0f}" + (f" {unit}" if unit and unit not in ("count",) else "")


def _table(ax: plt.Axes, cells: list[list[str]], header: list[str], widths: list[float] | None = None,
           size: float = 9, row_height: float = 0.06) -> None:
    """A table from the top of `ax`, `row_height` (axes fraction) per row but never taller than the axes, so it
    cannot run into what is drawn below it; cell text padded by a fixed small margin whatever the column width."""
    ax.axis("off")
    cells = cells or [["-"] * len(header)]
    widths = widths or [1.0 / len(header)] * len(header)
    height = min(1.0, row_height * (len(cells) + 1))
    t = ax.table(cellText=cells, colLabels=header, cellLoc="left", colWidths=widths,
                 bbox=(0.0, 1.0 - height, sum(widths), height))
    t.auto_set_font_size(False)
    t.set_fontsize(size)
    for (r, c), cell in t.get_celld().items():
        cell.PAD = min(0.1, 0.006 / widths[c])
        if r == 0:
            cell.set_text_props(weight="bold")
            cell.set_facecolor("#E2EFDA")




def _headline(metric: str, value: object, unit: str) -> str:
    """A Dashboard value as the pack shows it; variances against the budget marked F or U as finance marks them."""
    text = _fmt(value, unit)
    if metric.strip() in {m.strip() for m in VARIANCE_METRICS} and value is not None and not pd.isna(value):
        mark = variance(float(value), 0.0, "label")
        text += f" ({mark})" if mark else ""
    return text


def _wrap(text: object, width: int, lines: int = 2) -> str:
    """Text on at most `lines` lines of `width` characters (shortened with [...] beyond)."""
    return textwrap.fill(textwrap.shorten(str(text), width * lines, placeholder=" [...]"), width)


def _page_summary(pdf: PdfPages, f: dict[str, pd.DataFrame], title: str) -> None:
    fig = plt.figure(figsize=A4)
    fig.suptitle(title, fontsize=16, weight="bold", x=0.05, ha="left")
    ax = fig.add_axes((0.05, 0.36, 0.38, 0.53))
    ax.set_title("Headline figures", loc="left", weight="bold")
    dash = f["Dashboard"]
    _table(ax, [[m, _headline(m, v, u)] for m, v, u in zip(dash["metric"], dash["value"], dash["unit"])],
           ["Metric", "Value"], [0.6, 0.4], size=7.5, row_height=1 / max(21, len(dash) + 1))
    ax = fig.add_axes((0.47, 0.36, 0.5, 0.53))
    ax.set_title("Scenarios (money in thousands)", loc="left", weight="bold")
    sc = f["ScenarioComparison"]
    pct, units = ("fill_rate", "utilisation"), ("shortage_units",)
    cols = [("revenue", "Revenue"), ("margin", "Margin"), ("fill_rate", "Fill rate"),
            ("shortage_units", "Short (u)"), ("inventory_value", "End stock"), ("utilisation", "Util."),
            ("plan_cost", "Plan cost"), ("aggregate_cost", "Agg. plan")]

    def cell(r: pd.Series, k: str) -> str:
        v = r.get(k)
        if v is None or pd.isna(v):
            return _fmt(None)
        return _fmt(100 * v, "%") if k in pct else _fmt(v) if k in units else _fmt(v / 1e3)

    body = [[textwrap.shorten(str(r["scenario"]), 24)] + [cell(r, k) for k, _ in cols] for _, r in sc.iterrows()]
    _table(ax, body, ["Scenario"] + [h for _, h in cols], [0.2] + [0.8 / len(cols)] * len(cols), size=7.5,
           row_height=1 / 21)
    # what binds: the resources whose hours are worth money (shadow prices), for the trade-offs in the meeting
    money = dash.loc[dash["metric"] == "Plan revenue", "unit"]
    lines = capacity_lines(f["CapacityPlan"], str(money.iloc[0]) if len(money) else "")
    fig.text(0.47, 0.70, "What binds (capacity)", weight="bold", fontsize=12, va="top")
    fig.text(0.47, 0.66, "\n".join(_wrap(line, 95, 3) for line in lines) if lines else
             "No resource binds: one more hour would not improve the plan anywhere.", fontsize=8, va="top",
             linespacing=1.5)
    exc = f["Exceptions"].sort_values("rank").head(5)
    ax = fig.add_axes((0.05, 0.03, 0.92, 0.27))
    ax.set_title("Top 5 exceptions", loc="left", weight="bold")
    _table(ax, [[str(int(r["rank"])), str(r["kind"]), _fmt(r["value"]), _wrap(r["message"], 130)]
                for _, r in exc.iterrows()], ["#", "Exception", "Value", "What"], [0.03, 0.13, 0.08, 0.76], size=8,
           row_height=1 / 6)
    pdf.savefig(fig)
    plt.close(fig)


def _page_charts(pdf: PdfPages, f: dict[str, pd.DataFrame]) -> None:
    fig = charts_figure(f)
    pdf.savefig(fig)
    plt.close(fig)






def _page_exceptions(pdf: PdfPages, f: dict[str, pd.DataFrame]) -> None:
    exc = f["Exceptions"].sort_values("rank").head(TOP_EXCEPTIONS)
    fig = plt.figure(figsize=A4)
    fig.suptitle(f"Top {len(exc)} exceptions by money at stake", fontsize=14, weight="bold", x=0.05, ha="left")
    ax = fig.add_axes((0.03, 0.03, 0.94, 0.88))
    body = [[str(int(r["rank"])), str(r["kind"]), str(r["item"] if pd.notna(r["item"]) else r["family"]),
             "" if pd.isna(r["period"]) else str(r["period"]), _fmt(r["units"], str(r["uom"] or "")),
             _fmt(r["value"]), _wrap(r["message"], 105)] for _, r in exc.iterrows()]
    _table(ax, body, ["#", "Exception", "Where", "From", "Size", "Value", "What"],
           [0.03, 0.12, 0.08, 0.06, 0.08, 0.07, 0.56], size=7.5, row_height=1 / (TOP_EXCEPTIONS + 1))
    pdf.savefig(fig)
    plt.close(fig)


def write_report(book: BookIO, target: str | Path) -> Path:
    """Write the meeting pack of `book` to `target` (PDF)."""
    frames = read_outputs(book)
    title = f"S&OP executive review - {Path(str(book.path)).stem}"

    def write(path: Path) -> None:
        with PdfPages(path) as pdf:
            _page_summary(pdf, frames, title)
            _page_charts(pdf, frames)
            _page_exceptions(pdf, frames)
            pdf.infodict()["Title"] = title
    return write_atomically(target, write)
