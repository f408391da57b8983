"""The executive meeting pack: five PDF pages from a workbook's outputs, each answering one question of the meeting.

1 Where do we land?  2 What must we decide?  3 Risks and exceptions  4 Demand and supply  5 How good is our
forecast? What each page shows is computed by `snop_xl.steps.meeting` (plain frames, reusable by the Dashboard);
this module only draws it with matplotlib. Every page carries the book, the plan version (or draft), the cycle month
and the date. A book whose outputs are not those of its inputs (never run, or inputs changed since) is refused, as
`publish` refuses it, unless `allow_stale`: then every page is stamped STALE with the reason.
"""

from __future__ import annotations

import datetime as dt
import textwrap
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.backends.backend_pdf import PdfPages  # noqa: E402

from snop_xl.calc.finance import variance  # noqa: E402
from snop_xl.cycle import stale_steps  # noqa: E402
from snop_xl.errors import Problem, ValidationError  # noqa: E402
from snop_xl.inputs import Inputs, has_capacity_model, load_inputs  # noqa: E402
from snop_xl.io.atomic import write_atomically  # noqa: E402
from snop_xl.io.base import BookIO  # noqa: E402
from snop_xl.io.pictures import A4, draw_capacity, draw_demand, draw_supply, read_outputs  # noqa: E402
from snop_xl.steps import meeting  # noqa: E402
from snop_xl.steps.demand import signal_months  # noqa: E402
from snop_xl.steps.reconcile import risky_deals  # noqa: E402
from snop_xl.steps.review import VARIANCE_METRICS  # noqa: E402

#: output tables the pack reads beside `read_outputs`' (absent ones leave their part of a page empty, with a note)
EXTRA = ("DemandPlan", "Financials", "Gaps", "SupplyPlan", "KPIs", "KPITrend", "PlanVersion")
PAGES = ("Where do we land?", "What must we decide?", "Risks and exceptions", "Demand and supply",
         "How good is our forecast?")
FONT = 7.0


# ---- numbers -----------------------------------------------------------------------------------------------------
def _fmt(value: object, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "-"
    if unit == "%":
        return f"{float(value):.1f}%"
    return f"{float(value):,.0f}" + (f" {unit}" if unit and unit not in ("count",) else "")


def _k(value: object, signed: bool = False) -> str:
    """Money in thousands, whole: 13,789 (the table header says "k")."""
    if value is None or pd.isna(value):
        return "-"
    return f"{float(value) / 1e3:{'+' if signed else ''},.0f}"


def _u(value: object, signed: bool = False) -> str:
    if value is None or pd.isna(value):
        return "-"
    return f"{float(value):{'+' if signed else ''},.0f}"


def _pct(value: object, signed: bool = False, scale: float = 100.0) -> str:
    if value is None or pd.isna(value):
        return "-"
    return f"{scale * float(value):{'+' if signed else ''}.1f}%"


def _headline(metric: str, value: object, unit: str) -> str:
    """A Dashboard value as the pack shows it; variances against the budget marked F or U as finance marks them."""
    text = _fmt(value, unit)
    if metric.strip() in {m.strip() for m in VARIANCE_METRICS} and value is not None and not pd.isna(value):
        mark = variance(float(value), 0.0, "label")
        text += f" ({mark})" if mark else ""
    return text


# ---- drawing blocks ----------------------------------------------------------------------------------------------
def _table(ax: plt.Axes, cells: list[list[str]], header: list[str], widths: list[float] | None = None,
           size: float = 9, row_height: float = 0.06) -> None:
    """A one-line-per-row table from the top of `ax`, `row_height` (axes fraction) per row but never taller than the
    axes, so it cannot run into what is drawn below it."""
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


def _chars(fig: plt.Figure, width: float, size: float) -> int:
    """How many characters of font `size` fit in `width` (figure fraction)."""
    return max(4, int(width * fig.get_figwidth() * 72 / (0.6 * size)))


def _flow_table(fig: plt.Figure, rows: Sequence[Sequence[str]], header: Sequence[str], widths: Sequence[float],
                x0: float, top: float, bottom: float, size: float = FONT,
                align: Sequence[str] | None = None) -> int:
    """A table whose cells wrap (never cut) to their column width, rows as tall as their longest cell, drawn from
    `top` down to no lower than `bottom` (figure fractions); returns how many rows fit (the caller continues the
    rest elsewhere)."""
    line = size * 1.35 / 72 / fig.get_figheight()
    align = align or ["left"] * len(header)

    def draw_row(cells: Sequence[str], y: float, bold: bool = False, shade: str | None = None) -> float:
        wrapped = [textwrap.wrap(str(c), _chars(fig, w, size) - 1) or [""] for c, w in zip(cells, widths)]
        h = max(len(w) for w in wrapped) * line + line * 0.5
        if y - h < bottom:
            return -1.0
        if shade:
            fig.patches.append(plt.Rectangle((x0, y - h), sum(widths), h, transform=fig.transFigure,
                                             facecolor=shade, edgecolor="none", zorder=0))
        x = x0
        for lines, w, a in zip(wrapped, widths, align):
            tx = x + w - 0.004 if a == "right" else x + 0.003
            fig.text(tx, y - line * 0.25, "\n".join(lines), fontsize=size, va="top", ha=a,
                     weight="bold" if bold else "normal", linespacing=1.2)
            x += w
        fig.add_artist(plt.Line2D([x0, x0 + sum(widths)], [y - h, y - h], transform=fig.transFigure, lw=0.4,
                                  color="#BFBFBF"))
        return y - h

    y = draw_row(header, top, bold=True, shade="#E2EFDA")
    done = 0
    for i, row in enumerate(rows):
        nxt = draw_row(row, y, shade="#F7F7F7" if i % 2 else None)
        if nxt < 0:
            break
        y, done = nxt, done + 1
    return done


def _page(pdf_pages: list[plt.Figure], header: meeting.Header, number: int, title: str,
          subtitle: str = "") -> plt.Figure:
    """A landscape page with its question as title, the book / version / cycle / date line and, on a stale book,
    the STALE stamp with the reason."""
    fig = plt.figure(figsize=A4)
    fig.text(0.03, 0.965, f"{number}  {title}", fontsize=16, weight="bold", va="top")
    fig.text(0.97, 0.965, header.line, fontsize=8, ha="right", va="top", color="#404040")
    if subtitle:
        fig.text(0.03, 0.925, textwrap.fill(subtitle, 190), fontsize=8.5, va="top", color="#404040")
    fig.text(0.97, 0.012, f"S&OP executive meeting pack - page {len(pdf_pages) + 1}", fontsize=7, ha="right", color="#808080")
    if header.stale:
        fig.text(0.5, 0.5, "STALE", fontsize=110, color="#C00000", alpha=0.15, ha="center", va="center",
                 rotation=25, weight="bold", zorder=100)
        fig.text(0.03, 0.012, textwrap.shorten("STALE: " + "; ".join(header.stale), 200, placeholder=" ..."),
                 fontsize=7, color="#C00000", weight="bold")
        fig.text(0.97, 0.945, "STALE", fontsize=10, color="#C00000", ha="right", va="top", weight="bold")
    pdf_pages.append(fig)
    return fig


# ---- page 1 ------------------------------------------------------------------------------------------------------
def page_landing(pages: list[plt.Figure], header: meeting.Header, land: pd.DataFrame, currency: str) -> None:
    fig = _page(pages, header, 1, PAGES[0], f"This fiscal year (actuals + plan) and the next, by quarter, against "
                f"the budget and the same months a year earlier. Money in {currency} thousands (k); variance vs "
                "budget = price + volume + mix, on budgeted months.")
    years = list(dict.fromkeys(land["year"]))
    for k, year in enumerate(years[:2]):
        r = land[(land["year"] == year) & (land["row"] == "Year")]
        if not len(r):
            continue
        r = r.iloc[0]
        pct = variance(r["revenue"], r["budget_revenue"], "pct")
        text = (f"{r['label']} ({r['months']}, {r['basis'].lower()})\n"
                f"Revenue {currency} {_k(r['revenue'])}k  vs budget {_k(r['budget_revenue'])}k "
                f"({_k(r['revenue_vs_budget'], True)}k, {_pct(pct, True)})  vs last year {_k(r['ly_revenue'])}k\n"
                f"Units {_u(r['units'])}  vs budget {_u(r['budget_units'])}   "
                f"Margin {_k(r['margin'])}k ({r['margin_pct']:.1f}%)")
        fig.text(0.03 + 0.475 * k, 0.875, text, fontsize=9, va="top", linespacing=1.5,
                 bbox=dict(boxstyle="round", fc="#F2F2F2", ec="#BFBFBF"))
    head = ["Period", "Months", "Basis", "Units", "Budget units", "LY units", "Revenue k", "Budget k",
            "vs budget k", "Price k", "Volume k", "Mix k", "LY revenue k", "vs LY k", "Margin k", "Margin %",
            "LY margin k"]
    rows = [[r["label"], r["months"], r["basis"], _u(r["units"]), _u(r["budget_units"]), _u(r["ly_units"]),
             _k(r["revenue"]), _k(r["budget_revenue"]), _k(r["revenue_vs_budget"], True), _k(r["price"], True),
             _k(r["volume"], True), _k(r["mix"], True), _k(r["ly_revenue"]), _k(r["revenue_vs_ly"], True),
             _k(r["margin"]), f"{r['margin_pct']:.1f}%" if pd.notna(r["margin_pct"]) else "-", _k(r["ly_margin"])]
            for _, r in land.iterrows()]
    widths = [0.085, 0.09, 0.08] + [0.0485] * 14
    _flow_table(fig, rows, head, widths, 0.03, 0.75, 0.4, size=7, align=["left"] * 3 + ["right"] * 14)
    ax = fig.add_axes((0.06, 0.07, 0.9, 0.27))
    q = land[land["row"] != "Year"]
    x = np.arange(len(q))
    ax.bar(x - 0.27, q["revenue"] / 1e3, width=0.27, color="#4472C4", label="Actual / plan")
    ax.bar(x, q["budget_revenue"] / 1e3, width=0.27, color="#A5A5A5", label="Budget")
    ax.bar(x + 0.27, q["ly_revenue"] / 1e3, width=0.27, color="#FFC000", label="Last year")
    ax.set_xticks(x, [f"{lab}\n{m}" for lab, m in zip(q["label"], q["months"])], fontsize=7)
    ax.set_ylim(bottom=0)
    ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:,.0f}k"))
    ax.set_title(f"Revenue by quarter ({currency} k)", loc="left", fontsize=10)
    ax.legend(fontsize=7, ncol=3, loc="lower right")
    ax.grid(alpha=0.3, axis="y")


# ---- page 2 ------------------------------------------------------------------------------------------------------
def page_decide(pages: list[plt.Figure], header: meeting.Header, binding: pd.DataFrame, short: pd.DataFrame,
                opts: pd.DataFrame, decisions: pd.DataFrame, currency: str, capacity_model: bool = True) -> None:
    fig = _page(pages, header, 2, PAGES[1], "The open trade-offs: what binds and what it costs, the options the "
                f"scenarios offer, and the decisions already taken. Money in {currency} thousands (k).")
    fig.text(0.03, 0.9, "Binding resources: money at stake", fontsize=11, weight="bold", va="top")
    if len(binding):
        rows = [[r.resource, r.binding_months, f"{r.months}", _u(r.hours_short), f"{r.max_shadow_price:,.2f}",
                 str(r.peak_period), _k(r.lost_revenue), _k(r.overload_cost), _k(r.at_stake)]
                for r in binding.itertuples(index=False)]
        _flow_table(fig, rows, ["Resource", "Binds in", "Months", "Hours short", f"1 more hour ({currency})",
                                "Worth most in", "Revenue lost k", "Overload cost k", "At stake k"],
                    [0.09, 0.1, 0.05, 0.06, 0.08, 0.07, 0.075, 0.075, 0.065], 0.03, 0.87, 0.7,
                    align=["left", "left"] + ["right"] * 7)
    elif not capacity_model:
        fig.text(0.03, 0.86, "No capacity model: without Capacity and BillOfResources rows no resource can bind, so "
                 "nothing here is a capacity decision.", fontsize=8, va="top")
    else:
        fig.text(0.03, 0.86, "No resource binds: one more hour would not improve the plan anywhere.", fontsize=8,
                 va="top")
    fig.text(0.74, 0.9, "Shortages by family", fontsize=11, weight="bold", va="top")
    if len(short):
        rows = [[r.family, _u(r.units), _k(r.value), r.months, f"{r.items}"] for r in short.itertuples(index=False)]
        _flow_table(fig, rows, ["Family", "Units", "Revenue k", "Months", "Items"],
                    [0.06, 0.04, 0.045, 0.07, 0.03], 0.74, 0.87, 0.7, align=["left", "right", "right", "left",
                                                                           "right"])
    else:
        fig.text(0.74, 0.86, "No shortage in the plan.", fontsize=8, va="top")
    fig.text(0.03, 0.66, "Options: the scenarios side by side", fontsize=11, weight="bold", va="top")
    base = opts[opts["scenario"] == "Base"]
    rows = [[str(r.scenario), _k(r.revenue), _k(r.margin), _k(r.margin_vs_base, True), _k(r.plan_cost),
             _pct(r.fill_rate), _k(r.shortage_value), _k(r.inventory_value), _pct(r.utilisation)]
            for r in opts.itertuples(index=False)]
    _flow_table(fig, rows, ["Scenario", "Revenue k", "Margin k", "Margin vs base k", "Cost of plan k", "Fill rate",
                            "Revenue at risk k", "End stock k", "Utilisation"],
                [0.16, 0.08, 0.08, 0.09, 0.09, 0.07, 0.09, 0.08, 0.07], 0.03, 0.63, 0.36,
                align=["left"] + ["right"] * 8)
    if len(binding) and len(base):
        b = binding.iloc[0]
        fig.text(0.03, 0.375, textwrap.fill(
            f"To decide: {b.resource} binds in {b.months} month(s) ({b.binding_months}), {currency} "
            f"{_k(b.at_stake)}k at stake; one more hour is worth up to {b.max_shadow_price:,.2f}. Choose between "
            "adding hours there (overtime, a shift, subcontracting) and the options above; record the choice in "
            "Decisions.", 180), fontsize=8.5, va="top", color="#C00000")
    fig.text(0.03, 0.32, "Decisions already taken", fontsize=11, weight="bold", va="top")
    if len(decisions):
        rows = [[str(r.date)[:10] if pd.notna(r.date) else "", str(r.decision), str(r.owner),
                 str(r.due) if pd.notna(r.due) else "-", str(r.scenario or "") or "Base", str(r.note or "")]
                for r in decisions.itertuples(index=False)]
        _flow_table(fig, rows, ["Date", "Decision", "Owner", "Due", "Scenario", "Note / follow-up"],
                    [0.08, 0.37, 0.12, 0.06, 0.1, 0.21], 0.03, 0.29, 0.04)
    else:
        fig.text(0.03, 0.28, "No decision recorded yet (Decisions sheet).", fontsize=8, va="top")


# ---- page 3 ------------------------------------------------------------------------------------------------------
def page_risks(pages: list[plt.Figure], header: meeting.Header, risks: pd.DataFrame, currency: str) -> None:
    sub = (f"Exceptions grouped: one line per family (or resource) and cause, most money first ({len(risks)} lines). "
           f"Money in {currency} thousands (k).")
    head = ["#", "Where", "Risk", "Value k", "What", "Cause", "Action", "Owner"]
    widths = [0.02, 0.07, 0.08, 0.045, 0.29, 0.22, 0.13, 0.09]
    rows = [[str(r.rank), str(r.where), str(r.kind), _k(r.value), r.what, r.cause, r.action, r.owner]
            for r in risks.itertuples(index=False)]
    if not rows:
        fig = _page(pages, header, 3, PAGES[2], sub)
        fig.text(0.03, 0.88, "No exception in this plan.", fontsize=10, va="top")
        return
    first = True
    while rows:
        fig = _page(pages, header, 3, PAGES[2] + ("" if first else " (continued)"), sub)
        done = _flow_table(fig, rows, head, widths, 0.03, 0.9, 0.04, size=6.5,
                           align=["right", "left", "left", "right"] + ["left"] * 4)
        rows, first = rows[max(done, 1):], False


# ---- page 4 ------------------------------------------------------------------------------------------------------
def page_demand_supply(pages: list[plt.Figure], header: meeting.Header, ds: pd.DataFrame,
                       cap: pd.DataFrame | None, coverage: pd.DataFrame, deals: pd.DataFrame, currency: str) -> None:
    fig = _page(pages, header, 4, PAGES[3], "All families, units. Stock on hand serves the first months: read "
                "supply together with projected inventory and safety stock.")
    draw_demand(fig.add_axes((0.06, 0.5, 0.42, 0.36)), ds)
    draw_supply(fig.add_axes((0.55, 0.5, 0.42, 0.36)), ds)
    signals = len(coverage) or len(deals)
    draw_capacity(fig.add_axes((0.06, 0.07, 0.42 if signals else 0.91, 0.33)), cap)
    if signals:
        page_signals(fig, coverage, deals, currency)


def page_signals(fig: plt.Figure, coverage: pd.DataFrame, deals: pd.DataFrame, currency: str) -> None:
    """Beside the capacity chart: how much of the next months orders already cover, the weighted pipeline against
    the gap to budget, and the largest deals at risk with their owners."""
    fig.text(0.55, 0.43, "Orders and pipeline (all items, units)", fontsize=10, weight="bold", va="top")
    rows = [[str(r.period), _u(r.consensus), _u(r.orders), _pct(r.coverage), _u(r.pipeline), _u(r.budget_units),
             _u(r.gap_to_budget, signed=True)] for r in coverage.itertuples(index=False)]
    _flow_table(fig, rows, ["Month", "Consensus", "Ordered", "Covered", "Weighted pipeline", "Budget",
                            "Gap to budget"], [0.05, 0.06, 0.06, 0.05, 0.07, 0.06, 0.07], 0.55, 0.405, 0.26,
                size=7, align=["left"] + ["right"] * 6)
    fig.text(0.55, 0.25, "Largest deals at risk", fontsize=10, weight="bold", va="top")
    if not len(deals):
        fig.text(0.55, 0.225, "No stale deal, and no month that rides on one deal.", fontsize=8, va="top")
        return
    rows = [[str(d.opportunity), str(d.owner if isinstance(d.owner, str) and d.owner.strip() else "-"),
             str(d.item if isinstance(d.item, str) else f"family {d.family}"), str(d.month), _u(d.units),
             _k(d.value), str(d.why)] for d in deals.itertuples(index=False)]
    _flow_table(fig, rows, ["Deal", "Owner", "Item", "Month", "Units", f"{currency} k", "Why at risk"],
                [0.08, 0.06, 0.05, 0.04, 0.04, 0.04, 0.11], 0.55, 0.225, 0.04, size=6.5,
                align=["left"] * 4 + ["right"] * 2 + ["left"])


# ---- page 5 ------------------------------------------------------------------------------------------------------
def page_forecast(pages: list[plt.Figure], header: meeting.Header, acc: pd.DataFrame, trend: pd.DataFrame | None,
                  fva: pd.DataFrame) -> None:
    cycles = acc["cycles"].iloc[0] if len(acc) else "none measured yet"
    fig = _page(pages, header, 5, PAGES[4], f"Consensus accuracy (1 - WAPE) and bias by lag per family, mean over "
                f"the last published cycles ({cycles}); forecast value added per step and contributor.")
    if not len(acc):
        fig.text(0.03, 0.85, "No accuracy yet: a plan is measured once it is published (snop-xl publish) and the actuals of "
                 "its months are in History (import them, then snop-xl roll).",
                 fontsize=10, va="top")
    else:
        names = list(dict.fromkeys(acc["name"]))
        for k, (key, title, pct_fmt) in enumerate((("accuracy", "Accuracy by lag (1 - WAPE)", "{:.0%}"),
                                                   ("bias", "Bias by lag (+ over-forecast)", "{:+.0%}"))):
            ax = fig.add_axes((0.06 + 0.48 * k, 0.56, 0.42, 0.3))
            x = np.arange(len(names))
            for j, lag in enumerate((1, 2, 3)):
                v = acc[acc["lag"] == lag].set_index("name")[key].reindex(names).astype(float)
                ax.bar(x + (j - 1) * 0.27, v, width=0.27, label=f"Lag {lag}")
            ax.set_xticks(x, names, fontsize=8)
            ax.axhline(0, color="black", lw=0.6)
            if key == "accuracy":
                ax.set_ylim(0, 1)
            ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _, f=pct_fmt: f.format(v)))
            ax.set_title(title, loc="left", fontsize=10)
            ax.legend(fontsize=7, ncol=3)
            ax.grid(alpha=0.3, axis="y")
        rows = [[str(r.name), f"{r.lag}", _pct(r.accuracy), _pct(r.bias, True), r.cycles]
                for r in acc.itertuples(index=False)]
        _flow_table(fig, rows, ["Family", "Lag", "Accuracy", "Bias", "Cycles"], [0.09, 0.03, 0.06, 0.05, 0.1],
                    0.03, 0.48, 0.03, size=6.5, align=["left", "right", "right", "right", "left"])
    fig.text(0.4, 0.48, "Forecast value added (accuracy points over the step before)", fontsize=10,
             weight="bold", va="top")
    if len(fva):
        rows = []
        for who, g in fva.groupby("contributor", sort=False):
            by = g.set_index("lag")
            total = float(g["fva"].sum())
            verdict = "adds accuracy" if total > 1e-4 else "removes accuracy" if total < -1e-4 else "no effect"
            rows.append([str(who)] + [_pct(by["fva"].get(lag), True) if lag in by.index else "-" for lag in (1, 2, 3)]
                        + [_pct(by["accuracy"].get(1)) if 1 in by.index else "-", verdict])
        _flow_table(fig, rows, ["Step / contributor", "FVA lag 1", "FVA lag 2", "FVA lag 3", "Accuracy after (lag 1)",
                                "Verdict"], [0.14, 0.07, 0.07, 0.07, 0.1, 0.12], 0.4, 0.45, 0.03,
                    align=["left"] + ["right"] * 4 + ["left"])
    else:
        fig.text(0.4, 0.44, "No forecast value added yet: it needs published plans with contributors' numbers.",
                 fontsize=8, va="top")


# ---- the pack ----------------------------------------------------------------------------------------------------
def pack_content(book: BookIO, inputs: Inputs) -> dict[str, object]:
    """What the five pages show, as frames (`snop_xl.steps.meeting`), from the book's outputs and inputs."""
    f = read_outputs(book)
    f.update(book.read_tables(EXTRA, readable_only=False))
    s, items = inputs.settings, inputs.items
    fin = f.get("Financials")
    return {
        "version": meeting.plan_version_label(f.get("PlanVersion")),
        "landing": meeting.landing(fin, inputs.history, items, s.cycle_month, s.fiscal_year_start)
        if fin is not None and len(fin) else pd.DataFrame(columns=list(meeting.LANDING_COLUMNS)),
        "binding": meeting.binding(f["CapacityPlan"], f.get("SupplyPlan"), items, inputs.bill_of_resources,
                                   f["Exceptions"]),
        "shortages": meeting.shortages_by_family(f.get("Gaps")),
        "options": meeting.options(f["ScenarioComparison"]),
        "decisions": meeting.decision_log(inputs.decisions),
        "risks": meeting.risks(f["Exceptions"], items, f["CapacityPlan"], inputs.bill_of_resources,
                               inputs.suppliers, inputs.overrides, s.cycle_month),
        "demand_supply": meeting.demand_supply(f["ChartDemand"], f.get("SupplyPlan")),
        "capacity": meeting.capacity_series(f.get("ChartCapacity")),
        "coverage": meeting.order_coverage(f["DemandPlan"], inputs.budget, signal_months(inputs)),
        "deals": meeting.deals_at_risk(risky_deals(inputs, f["DemandPlan"])),
        "accuracy": meeting.accuracy_by_lag(f.get("KPITrend")),
        "trend": f.get("KPITrend"),
        "fva": meeting.fva_by_contributor(f.get("KPIs")),
    }


def write_report(book: BookIO, target: str | Path, allow_stale: bool = False, today: dt.date | None = None) -> Path:
    """Write the meeting pack of `book` to `target` (PDF). Refuses (ValidationError, nothing written) when the
    outputs are not those of the inputs, unless `allow_stale`, which stamps every page STALE."""
    inputs = load_inputs(book)
    problems = stale_steps(book, inputs)
    stale = [str(p) for p in problems]
    if stale and not allow_stale:
        raise ValidationError(problems + [Problem(
            "Log", "", "the pack would not show the plan of these inputs, so no pack was written",
            expected=f"the cycle run on these inputs (snop-xl run {book.path}), or --allow-stale to write the pack "
                     "stamped STALE")])
    content = pack_content(book, inputs)
    s = inputs.settings
    header = meeting.Header(Path(str(book.path)).name, str(content["version"]), s.cycle_month,
                            (today or dt.date.today()).isoformat(), tuple(stale))
    title = f"S&OP executive meeting pack - {header.book} - cycle {s.cycle_month}"

    def write(path: Path) -> None:
        pages: list[plt.Figure] = []
        try:
            page_landing(pages, header, content["landing"], s.currency)
            page_decide(pages, header, content["binding"], content["shortages"], content["options"],
                        content["decisions"], s.currency, capacity_model=has_capacity_model(inputs))
            page_risks(pages, header, content["risks"], s.currency)
            page_demand_supply(pages, header, content["demand_supply"], content["capacity"], content["coverage"],
                               content["deals"], s.currency)
            page_forecast(pages, header, content["accuracy"], content["trend"], content["fva"])
            with PdfPages(path) as pdf:
                for fig in pages:
                    pdf.savefig(fig)
                pdf.infodict()["Title"] = title
        finally:
            for fig in pages:
                plt.close(fig)
    return write_atomically(target, write)

