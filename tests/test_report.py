"""The meeting pack and the Dashboard's native charts, on the small book with a hand-made plan."""

from __future__ import annotations

import re

from openpyxl import load_workbook
from openpyxl.utils.cell import coordinate_from_string

from snop_xl import contract as C
from snop_xl import reconcile, review
from snop_xl.cli import main
from snop_xl.inputs import load_inputs
from snop_xl.io import open_book
from tests.conftest import make_book, small_frames
from tests.test_reconcile import plan_frames


def _run_book(tmp_path):
    path = make_book(tmp_path / "r.xlsx", small_frames())
    book = open_book(path)
    inputs = load_inputs(book)
    out = plan_frames()
    out.update(reconcile.run(inputs, out))
    out.update(review.run(inputs, out))
    for name in ("DemandPlan", "SupplyPlan", "CapacityPlan", "Gaps", "Exceptions", "ScenarioComparison",
                 "Financials", "Dashboard", "ChartDemand", "ChartCapacity"):
        book.write_table(C.table(name), out[name])
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
    rec = load_workbook(path)["Reconciliation"]
    links = [c.hyperlink.location or c.hyperlink.target for row in rec.iter_rows() for c in row if c.hyperlink]
    assert any("'SupplyPlan'!I4" in str(link) for link in links)


def test_report_pdf_has_three_pages(tmp_path, capsys) -> None:
    path = _run_book(tmp_path)
    pdf = tmp_path / "pack.pdf"
    assert main(["report", str(path), "-o", str(pdf)]) == 0
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF") and len(re.findall(rb"/Type\s*/Page(?!s)", data)) == 3


def test_report_on_a_book_without_outputs_says_what_to_do(tmp_path, capsys) -> None:
    path = make_book(tmp_path / "empty.xlsx", small_frames())
    book = open_book(path)
    del book.wb["Dashboard"]
    book.save()
    assert main(["report", str(path), "-o", str(tmp_path / "x.pdf")]) == 1
    assert "run the cycle first" in capsys.readouterr().err


def test_charts_sit_right_of_the_dashboard_tables(tmp_path) -> None:
    dash = load_workbook(_run_book(tmp_path))["Dashboard"]
    last = max(t.first_column + len(t.columns) - 1 for t in C.SHEETS["Dashboard"].tables)
    assert C.SHEETS["Dashboard"].charts_column == last + 2  # one empty column between
    assert {c.anchor._from.col + 1 for c in dash._charts} == {C.SHEETS["Dashboard"].charts_column}
