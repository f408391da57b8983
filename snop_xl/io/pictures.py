"""Charts as pictures (matplotlib): the pack's "Plan at a glance" and any list of ChartSpecs as one figure.

The meeting pack prints them; live Excel, which has no native-chart writer here, shows the ChartSpecs' charts as one
picture over the places where the headless engine draws them natively (`C.charts.chart_places`). Only the output
tables are read: no step code.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import FuncFormatter, PercentFormatter  # noqa: E402

from snop_xl import contract as C  # noqa: E402
from snop_xl.errors import SnopError  # noqa: E402
from snop_xl.io.base import BookIO  # noqa: E402

A4 = (11.69, 8.27)  # landscape inches


NEEDED = ("Dashboard", "ScenarioComparison", "Exceptions", "ChartDemand", "ChartCapacity", "CapacityPlan")


def read_outputs(book: BookIO) -> dict[str, pd.DataFrame]:
    """The output tables the pack needs; a clear error naming the missing ones."""
    frames = book.read_tables(NEEDED, readable_only=False)
    missing = [f"{C.table(n).sheet}!{C.table(n).list_object}" for n in NEEDED if n not in frames]
    if missing:
        raise SnopError(f"{book.path}: no {', '.join(missing)}; run the cycle first (snop-xl run BOOK)")
    return frames


def money_axis(ax: plt.Axes, across: bool = False) -> None:
    """Money on the y axis (`across`: the x axis) in thousands or millions (no 1e7 offset)."""
    top = max(abs(v) for v in (ax.get_xlim() if across else ax.get_ylim()))
    scale, suffix = (1e6, "M") if top >= 1e6 else (1e3, "k") if top >= 1e4 else (1.0, "")
    (ax.xaxis if across else ax.yaxis).set_major_formatter(
        FuncFormatter(lambda v, _: f"{v / scale:,.{1 if scale > 1 else 0}f}{suffix}"))


def units_axis(ax: plt.Axes) -> None:
    """Units on a zero-based y axis, as whole numbers with thousands separators (21,000, not 2.1 x 1e4)."""
    ax.set_ylim(bottom=0)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))


def month_ticks(ax: plt.Axes, labels: Sequence[str], most: int = 10) -> None:
    """Month labels under positions 0..n-1, every k-th one shown so that at most `most` are, rotated."""
    pos = np.arange(len(labels))
    ax.set_xticks(pos, labels)
    step = max(1, -(-len(labels) // most))
    for i, label in enumerate(ax.get_xticklabels()):
        label.set_visible(i % step == 0)
        label.set_rotation(45)
        label.set_fontsize(7)


def draw_demand(ax: plt.Axes, demand: pd.DataFrame) -> None:
    """History, statistical, consensus and budget per month (columns period, history, statistical, consensus,
    budget_units), all families, on a zero-based axis."""
    x = np.arange(len(demand))
    for key, label, style in (("history", "History", "-"), ("statistical", "Statistical", ":"),
                              ("consensus", "Consensus", "-"), ("budget_units", "Budget", "--")):
        if key in demand and demand[key].notna().any():
            ax.plot(x, demand[key].astype(float), style, label=label)
    month_ticks(ax, demand["period"].astype(str).tolist())
    units_axis(ax)
    ax.set_title("Demand: all families (units)", loc="left", fontsize=10)
    ax.legend(fontsize=7, loc="lower left")
    ax.grid(alpha=0.3)


def draw_supply(ax: plt.Axes, plan: pd.DataFrame) -> None:
    """The plan's months: planned supply and shortage as bars, consensus demand, projected inventory and safety
    stock as lines (columns period, consensus, supply, shortage and, where known, closing, safety_stock), so that
    demand served from stock reads as stock, not as a shortfall."""
    plan = plan[plan["consensus"].notna()]
    px = np.arange(len(plan))
    ax.bar(px - 0.2, plan["supply"].astype(float), width=0.4, color="#70AD47", label="Planned supply")
    ax.bar(px + 0.2, plan["shortage"].astype(float), width=0.4, color="#C00000", label="Shortage (lost)")
    ax.plot(px, plan["consensus"].astype(float), "k-", label="Consensus demand")
    if "closing" in plan and plan["closing"].notna().any():
        ax.plot(px, plan["closing"].astype(float), "-", color="#4472C4", lw=2, label="Projected inventory")
    if "safety_stock" in plan and plan["safety_stock"].notna().any():
        ax.plot(px, plan["safety_stock"].astype(float), "--", color="#ED7D31", label="Safety stock")
    month_ticks(ax, plan["period"].astype(str).tolist())
    units_axis(ax)
    ax.set_ylim(top=ax.get_ylim()[1] * 1.3)  # room for the legend above the bars
    ax.set_title("Supply, stock and demand (units)", loc="left", fontsize=10)
    ax.legend(fontsize=6.5, loc="upper center", ncol=3)
    ax.grid(alpha=0.3)


NO_CAPACITY = "No capacity data in this book: add Capacity and BillOfResources to see the load on each resource."


def draw_capacity(ax: plt.Axes, cap: pd.DataFrame | None) -> None:
    """Utilisation per resource and month (columns resource, period, utilisation); a note, not an empty frame,
    when the book has no capacity data."""
    ax.set_title("Capacity utilisation (% of regular hours)", loc="left", fontsize=10)
    if cap is None or not len(cap) or cap["utilisation"].isna().all():
        ax.axis("off")
        ax.text(0.5, 0.5, textwrap.fill(NO_CAPACITY, 60), ha="center", va="center", fontsize=10, color="#555555",
                transform=ax.transAxes, bbox=dict(boxstyle="round", fc="#F2F2F2", ec="#BFBFBF"))
        return
    periods = sorted(set(cap["period"]))
    where = {p: i for i, p in enumerate(periods)}
    for res, rows in cap.groupby("resource", sort=False):
        ax.plot([where[p] for p in rows["period"]], 100 * rows["utilisation"].astype(float), label=str(res))
    ax.axhline(100, color="grey", lw=0.8, ls="--")
    month_ticks(ax, [str(p) for p in periods])
    ax.set_ylim(bottom=0)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}%"))
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(alpha=0.3)


Panel = tuple[str, list[str], list[tuple[str, np.ndarray]], C.ChartSpec]  # title, x labels, series, spec


def spec_panels(frames: dict[str, pd.DataFrame], specs: Sequence[C.ChartSpec]) -> list[Panel]:
    """The charts `specs` describe, one panel each, from `frames` (each spec's table as read), in the order and
    number the headless engine draws them natively (`ChartSpec.groups`); a spec whose table has no rows draws none."""
    panels: list[Panel] = []
    for spec in specs:
        frame = frames[spec.table].reset_index(drop=True)
        if not len(frame):
            continue
        groups = spec.groups(lambda key: frame[key].tolist())

        def labels(a: int, b: int) -> list[str]:
            return [str(x) for x in spec.categories(frame.iloc[a:b + 1].to_dict("records"))]
        if spec.series_per_group:
            _, i0, i1 = groups[0]
            panels.append((spec.title, labels(i0, i1),
                           [(str(g), frame[spec.values[0]].iloc[a:b + 1].astype(float).to_numpy())
                            for g, a, b in groups], spec))
            continue
        for g, a, b in groups:
            rows = frame.iloc[a:b + 1]
            panels.append((spec.chart_title(g, len(groups)), labels(a, b),
                           [(C.table(spec.table).column(k).header, rows[k].astype(float).to_numpy())
                            for k in spec.values], spec))
    return panels


def panels_figure(panels: Sequence[Panel], size: tuple[float, float]) -> plt.Figure:
    """`panels` two a row, as `C.charts.chart_places` lays the native charts out, in a figure `size` inches."""
    n_rows = -(-len(panels) // 2)
    fig, axes = plt.subplots(n_rows, 2, figsize=size, squeeze=False)
    for ax, (name, x, series, spec) in zip(axes.flat, panels):
        pos = np.arange(len(x))
        for k, (label, values) in enumerate(series):
            if spec.kind == "bar" and spec.horizontal:
                bar = 0.8 / len(series)
                ax.barh(pos + (k - (len(series) - 1) / 2) * bar, values, height=bar, label=label)
            elif spec.kind == "bar":
                bar = 0.8 / len(series)
                ax.bar(pos + (k - (len(series) - 1) / 2) * bar, values, width=bar, label=label)
            else:
                ax.plot(pos, values, marker="o", ms=3, label=label)  # a marker: one cycle is one point
        numbers = ax.xaxis if spec.horizontal else ax.yaxis
        if spec.horizontal:
            ax.set_yticks(pos, x, fontsize=7)
            ax.invert_yaxis()  # the first row (the biggest) on top, as in the table
        elif len(x) > 6:
            month_ticks(ax, x)
        else:
            ax.set_xticks(pos, x, fontsize=7)
        ax.set_title(name, fontsize=10, loc="left")
        (ax.set_xlabel if spec.horizontal else ax.set_ylabel)(spec.y_title, fontsize=8)
        if not spec.horizontal and all(np.nanmin(v, initial=0.0) >= 0 for _, v in series):
            ax.set_ylim(bottom=0)  # as Excel draws the native chart: from zero, unless a value is below it
        if spec.y_title == "money":
            money_axis(ax, across=spec.horizontal)
        else:
            numbers.set_major_formatter(PercentFormatter(1.0) if spec.percent
                                        else FuncFormatter(lambda v, _: f"{v:,.0f}"))
        ax.grid(alpha=0.3)
        if len(series) > 1:
            ax.legend(fontsize=7)
    for ax in axes.flat[len(panels):]:
        ax.axis("off")
    fig.tight_layout()
    return fig
