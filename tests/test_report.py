"""The meeting pack and the Dashboard's native charts, on the small book with a hand-made plan."""

from __future__ import annotations

import re

from openpyxl import load_workbook
from openpyxl.utils.cell import coordinate_from_string

from snop_xl import contract as C
from snop_xl.contract import charts as CH
from snop_xl.steps import reconcile, review
from snop_xl.cli import main
from snop_xl.cycle import STEPS, input_tag
from snop_xl.inputs import load_inputs
from snop_xl.io import open_book
from tests.conftest import make_book, small_frames
from tests.test_reconcile import plan_frames


def _run_book(tmp_path, decisions=None):
    """The small book with its outputs written (a hand-made plan, steps 3 and 4) and its charts drawn; with
    `decisions` (a Decisions frame) among its inputs."""
    frames = small_frames()
    frames["Capacity"].loc[3, "available_hours"] = 20.0  # April short of hours, as in test_reconcile
    if decisions is not None:
        frames["Decisions"] = decisions
    path = make_book(tmp_path / "r.xlsx", frames)
    book = open_book(path)
    inputs = load_inputs(book)
    out = plan_frames()
    out.update(reconcile.run(inputs, out))
    out.update(review.run(inputs, out))
    for name in ("DemandPlan", "SupplyPlan", "CapacityPlan", "Gaps", "Exceptions", "ScenarioComparison",
                 "Financials", "Dashboard", "ChartDemand", "ChartCapacity"):
        book.write_table(C.table(name), out[name])
    for step in STEPS[:4]:  # the Log rows of a cycle run on these inputs: the pack is not stale
        book.log(step.name, f"step {step.number} {step.title}; {input_tag(inputs)}")
    book.draw_charts()
    book.save()
    return path


def test_native_charts_reference_the_tables(tmp_path) -> None:
    path = _run_book(tmp_path)
    dash = load_workbook(path)["Dashboard"]
    charts = dash._charts
    assert len(charts) >= 4
    refs = [s.val.numRef.f for c in charts for s in c.series]
    assert any(r.startswith("'ChartData'!") for r in refs) and any("ScenarioComparison" in r for r in refs)
    for chart in charts:  # axes shown in Excel (openpyxl 3.1 omits <c:delete>), whole numbers or % on them
        assert chart.x_axis.delete is False and chart.y_axis.delete is False
        assert chart.y_axis.numFmt.formatCode in ("#,##0", "0%")
        assert (chart.legend is None) == (len(chart.series) == 1)
    supply = next(c for c in charts if c.title and "Supply vs demand" in str(c.title.tx.rich.p[0].r[0].t))
    column, row = coordinate_from_string(supply.series[0].val.numRef.f.split("!")[1].split(":")[0].replace("$", ""))
    demand = load_workbook(path)["ChartData"]  # it starts at the cycle month, not with 24 empty months of history
    assert demand[f"{column}{row}"].value is not None and demand[f"{column}{row - 1}"].value in (None, "Consensus")
    rec = load_workbook(path)["Exceptions"]
    links = [c.hyperlink.location or c.hyperlink.target for row in rec.iter_rows() for c in row if c.hyperlink]
    assert any("'SupplyPlan'!I4" in str(link) for link in links)


def test_report_pdf_has_a_page_per_question(tmp_path, capsys) -> None:
    path = _run_book(tmp_path)
    pdf = tmp_path / "pack.pdf"
    assert main(["report", str(path), "-o", str(pdf)]) == 0
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF") and len(re.findall(rb"/Type\s*/Page(?!s)", data)) >= 5


def test_report_on_a_book_without_outputs_says_what_to_do(tmp_path, capsys) -> None:
    path = make_book(tmp_path / "empty.xlsx", small_frames())
    book = open_book(path)
    del book.wb["Dashboard"]
    book.save()
    assert main(["report", str(path), "-o", str(tmp_path / "x.pdf")]) == 2  # never run: refused, as publish does
    assert "has not run" in capsys.readouterr().err
    assert main(["report", str(path), "-o", str(tmp_path / "x.pdf"), "--allow-stale"]) == 1
    assert "run the cycle first" in capsys.readouterr().err


def test_tables_stay_inside_their_area_and_variances_are_marked() -> None:
    import matplotlib.pyplot as plt

    from snop_xl.commands import report

    fig = plt.figure(figsize=report.A4)
    ax = fig.add_axes((0.05, 0.4, 0.4, 0.3))
    report._table(ax, [[f"metric {i}", "1"] for i in range(40)], ["Metric", "Value"], [0.6, 0.4])
    fig.canvas.draw()
    table, area = ax.tables[0].get_window_extent(fig.canvas.get_renderer()), ax.get_window_extent()
    assert table.y0 >= area.y0 - 1 and table.y1 <= area.y1 + 1  # 40 rows squeezed in, nothing drawn below
    plt.close(fig)
    # variances against the budget: plan - budget, F when positive (read back from a sheet, labels lose indents)
    assert report._headline("Revenue vs budget", -50.0, "USD") == "-50 USD (U)"
    assert report._headline("of which mix", 10.0, "USD") == "10 USD (F)"
    assert report._headline("Plan revenue", 10.0, "USD") == "10 USD"


def test_every_exception_links_to_the_cell_it_is_about(tmp_path) -> None:
    """Follow each Go To hyperlink in the written book to its sheet and cell, and read that row back: it must be the
    exception's item (or resource, or family) and month, in the column the exception is about."""
    from openpyxl.utils import range_boundaries

    path = _run_book(tmp_path)
    wb = load_workbook(path)
    rec = wb["Exceptions"]
    spec = C.EXCEPTIONS
    table = next(t for t in rec.tables.values() if t.displayName == spec.list_object)
    c0, r0, _, r1 = range_boundaries(table.ref)
    header = [rec.cell(r0, c0 + k).value for k in range(len(spec.keys))]
    assert header == spec.headers
    column = {"Shortage": "Shortage", "Below safety stock": "Closing", "Capacity overload": "Unconstrained Load",
              "Consensus vs statistical": "Consensus", "Plan below budget": "Revenue Variance"}
    seen = set()
    for r in range(r0 + 1, r1 + 1):
        exc = dict(zip(spec.keys, (rec.cell(r, c0 + k).value for k in range(len(spec.keys)))))
        link = rec.cell(r, c0 + spec.keys.index("link")).hyperlink
        assert link is not None and link.location == exc["link"], exc
        sheet, cell = link.location.split("!")
        ws = wb[sheet.strip("'")]
        col, row = range_boundaries(f"{cell}:{cell}")[:2]
        target = next(t for t in ws.tables.values() if range_boundaries(t.ref)[1] < row <= range_boundaries(t.ref)[3])
        tc0, tr0 = range_boundaries(target.ref)[:2]
        heads = [ws.cell(tr0, c).value for c in range(tc0, range_boundaries(target.ref)[2] + 1)]
        values = dict(zip(heads, (ws.cell(row, c).value for c in range(tc0, tc0 + len(heads)))))
        assert heads[col - tc0] == column[exc["kind"]], exc
        if exc["kind"] == "Plan below budget":  # the family's full-horizon variance
            assert (values["Family"], values["Level"], values["Rows"]) == (exc["family"], "Family", "Horizon")
        else:
            name = values.get("Item", values.get("Resource"))
            assert name == exc["item"] and str(values["Period"])[:7] == str(exc["period"])[:7], (exc, values)
        seen.add(exc["kind"])
    assert seen == set(column)  # every kind of the hand-made plan was followed
def test_the_dashboard_opens_on_its_charts_with_the_tables_to_the_right(tmp_path) -> None:
    dash = load_workbook(_run_book(tmp_path))["Dashboard"]
    assert C.SHEETS["Dashboard"].charts_column == 1
    assert min(c.anchor._from.col + 1 for c in dash._charts) == 1
    right = max(c.anchor._from.col + 1 for c in dash._charts)
    assert min(t.first_column for t in C.SHEETS["Dashboard"].tables) > right + 2 * (CH.CHARTS_A_ROW - 1)
    kpis = load_workbook(_run_book(tmp_path))["KPIs"]  # a sheet without a canvas: charts right of its tables
    last = max(t.first_column + len(t.columns) - 1 for t in C.SHEETS["KPIs"].tables)
    assert all(c.anchor._from.col + 1 >= last + 2 for c in kpis._charts)


def test_pack_axes_read_as_numbers_and_scenario_money_in_k_or_m(tmp_path) -> None:
    import matplotlib.pyplot as plt

    from snop_xl.io import pictures

    frames = pictures.read_outputs(open_book(_run_book(tmp_path)))
    frames["ScenarioComparison"] = frames["ScenarioComparison"].assign(revenue=[2.5e6] * len(
        frames["ScenarioComparison"]), margin=[1.2e6] * len(frames["ScenarioComparison"]))
    panels = pictures.spec_panels(frames, C.CHARTS)  # the Dashboard's picture in live Excel
    fig = pictures.panels_figure(panels, (11, 8))
    fig.canvas.draw()
    axes = {name: ax for (name, *_), ax in zip(panels, fig.axes)}
    money = [t.get_text() for t in axes["Scenarios: revenue and margin"].get_yticklabels() if t.get_text()]
    assert money and all(t.endswith("M") for t in money), money  # 2.5M, not 2,500,000 or 1e6 offsets
    units = [t.get_text() for t in axes["Supply vs demand (all families)"].get_yticklabels() if t.get_text()]
    assert units and not any(t.endswith(("M", "k")) or "e" in t for t in units), units
    plt.close(fig)
