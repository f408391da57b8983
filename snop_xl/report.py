"""The executive meeting pack: a few PDF pages from a workbook's outputs, drawn with matplotlib only.

Page 1 headline figures and scenarios, page 2 charts (demand vs budget, supply vs demand, capacity, scenarios),
page 3 the top exceptions. Reads what steps 3 and 4 wrote, so run the cycle first.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.backends.backend_pdf import PdfPages  # noqa: E402
from matplotlib.ticker import FuncFormatter, PercentFormatter  # noqa: E402

from . import contract as C  # noqa: E402
from .finance import variance  # noqa: E402
from .review import VARIANCE_METRICS, ChartSpec  # noqa: E402
from .supply import capacity_lines  # noqa: E402
from .errors import SnopError  # noqa: E402
from .io.base import BookIO  # noqa: E402

NEEDED = ("Dashboard", "ScenarioComparison", "Exceptions", "ChartDemand", "ChartCapacity", "CapacityPlan")
A4 = (11.69, 8.27)  # landscape inches
TOP_EXCEPTIONS = 15


def read_outputs(book: BookIO) -> dict[str, pd.DataFrame]:
    """The output tables the pack needs; a clear error naming the missing ones."""
    frames, missing = {}, []
    for name in NEEDED:
        spec = C.table(name)
        if not book.has_table(spec):
            missing.append(f"{spec.sheet}!{spec.list_object}")
            continue
        frames[name] = book.read_table(spec)[0].reset_index(drop=True)
    if missing:
        raise SnopError(f"{book.path}: no {', '.join(missing)}; run the cycle first (snop-xl run BOOK)")
    return frames


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


def _money_axis(ax: plt.Axes) -> None:
    """Money on a y axis in thousands or millions (no 1e7 offset)."""
    top = max(abs(v) for v in ax.get_ylim())
    scale, suffix = (1e6, "M") if top >= 1e6 else (1e3, "k") if top >= 1e4 else (1.0, "")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v / scale:,.{1 if scale > 1 else 0}f}{suffix}"))


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


def charts_figure(f: dict[str, pd.DataFrame]) -> plt.Figure:
    """"Plan at a glance": demand vs budget, supply vs demand, capacity and scenarios, from `read_outputs`. The
    meeting pack's second page, and the Dashboard's picture in live Excel (`XlwingsBook.draw_charts`)."""
    fig, axes = plt.subplots(2, 2, figsize=A4)
    fig.suptitle("Plan at a glance", fontsize=14, weight="bold", x=0.05, ha="left")
    d = f["ChartDemand"]
    total = d[d["family"] == "Total"].copy()
    x = total["period"].astype(str)
    ax = axes[0, 0]
    for key, label, style in (("history", "History", "-"), ("statistical", "Statistical", ":"),
                              ("consensus", "Consensus", "-"), ("budget_units", "Budget", "--")):
        ax.plot(x, total[key], style, label=label)
    ax.set_title("Demand: all families (units)")
    ax = axes[0, 1]
    plan = total[total["consensus"].notna()]
    px = np.arange(len(plan))
    ax.bar(px - 0.2, plan["supply"], width=0.4, color="#70AD47", label="Supply")
    ax.bar(px + 0.2, plan["shortage"], width=0.4, color="#C00000", label="Shortage")
    ax.plot(px, plan["consensus"], "k-", label="Consensus demand")
    ax.set_xticks(px, plan["period"].astype(str))
    ax.set_title("Supply vs demand (units)")
    ax = axes[1, 0]
    cap = f["ChartCapacity"]
    for res, rows in cap.groupby("resource", sort=False):
        ax.plot(rows["period"].astype(str), 100 * rows["utilisation"], label=str(res))
    ax.axhline(100, color="grey", lw=0.8, ls="--")
    ax.set_title("Capacity utilisation (%)")
    ax = axes[1, 1]
    sc = f["ScenarioComparison"]
    pos = range(len(sc))
    ax.bar([p - 0.2 for p in pos], sc["revenue"], width=0.4, label="Revenue")
    ax.bar([p + 0.2 for p in pos], sc["margin"], width=0.4, label="Margin")
    ax.set_xticks(list(pos), [textwrap.fill(str(s), 12) for s in sc["scenario"]])
    _money_axis(ax)
    ax.set_title("Scenarios: revenue and margin (money)")
    for ax in axes.flat:
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
        if ax is not axes[1, 1]:  # the scenario chart keeps its money axis in k / M
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))  # 21,000,000, not 2.1 x 1e7
            labels = ax.get_xticklabels()
            step = max(1, len(labels) // 8)
            for i, label in enumerate(labels):
                label.set_visible(i % step == 0)
                label.set_rotation(45)
                label.set_fontsize(7)
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    return fig


def specs_figure(frames: dict[str, pd.DataFrame], specs: Sequence[ChartSpec], title: str) -> plt.Figure | None:
    """The charts `specs` describe (what the headless engine draws natively, e.g. `publish.KPI_CHARTS`) as one
    figure, two charts a row, from `frames` (each spec's table as read); None when no table has rows. The KPIs
    sheet's picture in live Excel (`XlwingsBook.draw_charts`)."""
    panels = []  # (title, x labels, [(series label, values)], spec)
    for spec in specs:
        frame = frames[spec.table].reset_index(drop=True)
        if not len(frame):
            continue
        groups = spec.groups(lambda key: frame[key].tolist())
        if spec.series_per_group:
            _, i0, i1 = groups[0]
            panels.append((spec.title, frame[spec.category].iloc[i0:i1 + 1].astype(str).tolist(),
                           [(str(g), frame[spec.values[0]].iloc[a:b + 1].astype(float).to_numpy())
                            for g, a, b in groups], spec))
            continue
        for g, a, b in groups:
            rows = frame.iloc[a:b + 1]
            panels.append((spec.chart_title(g, len(groups)), rows[spec.category].astype(str).tolist(),
                           [(C.table(spec.table).column(k).header, rows[k].astype(float).to_numpy())
                            for k in spec.values], spec))
    if not panels:
        return None
    n_rows = -(-len(panels) // 2)
    fig, axes = plt.subplots(n_rows, 2, figsize=(A4[0], 0.5 + 3.0 * n_rows), squeeze=False)
    fig.suptitle(title, fontsize=14, weight="bold", x=0.05, ha="left", y=0.995)
    for ax, (name, x, series, spec) in zip(axes.flat, panels):
        pos = np.arange(len(x))
        for k, (label, values) in enumerate(series):
            if spec.kind == "bar":
                bar = 0.8 / len(series)
                ax.bar(pos + (k - (len(series) - 1) / 2) * bar, values, width=bar, label=label)
            else:
                ax.plot(pos, values, marker="o", ms=3, label=label)  # a marker: one cycle is one point
        ax.set_xticks(pos, x, fontsize=7, rotation=45 if len(x) > 6 else 0)
        ax.set_title(name, fontsize=10, loc="left")
        ax.set_ylabel(spec.y_title, fontsize=8)
        ax.yaxis.set_major_formatter(PercentFormatter(1.0) if spec.percent
                                     else FuncFormatter(lambda v, _: f"{v:,.0f}"))
        ax.grid(alpha=0.3)
        if len(series) > 1:
            ax.legend(fontsize=7)
    for ax in axes.flat[len(panels):]:
        ax.axis("off")
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.35 / (0.5 + 3.0 * n_rows)))
    return fig


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
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    title = f"S&OP executive review - {Path(str(book.path)).stem}"
    with PdfPages(target) as pdf:
        _page_summary(pdf, frames, title)
        _page_charts(pdf, frames)
        _page_exceptions(pdf, frames)
        info = pdf.infodict()
        info["Title"] = title
    return target
