"""The executive meeting pack read back as text (pdftotext): a page per question, every figure with its period, the
next fiscal year as the Financials table has it, deduplicated exceptions, the STALE stamp and the refusal."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from snop_xl import archive
from snop_xl.cli import main
from snop_xl.commands.report import PAGES
from snop_xl.cycle import run_book
from snop_xl.io import open_book
from snop_xl.steps import meeting
from tests.test_report import _run_book

pytestmark = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext (poppler) not installed")


def pdf_pages(pdf: Path) -> list[str]:
    """The text of each page (layout kept: one table row a line)."""
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True,
                          text=True).stdout
    return [p for p in text.split("\f") if p.strip()]


@pytest.fixture(scope="module")
def demo_pack(tmp_path_factory: pytest.TempPathFactory, demo_book: Path) -> tuple[Path, list[str]]:
    """The demo book (with its archive of published past cycles) run through the cycle, and its pack."""
    folder = tmp_path_factory.mktemp("pack")
    path = folder / demo_book.name
    shutil.copy(demo_book, path)
    db = archive.default_path(demo_book)
    shutil.copy(db, archive.default_path(path))
    run_book(open_book(path))
    pdf = folder / "pack.pdf"
    assert main(["report", str(path), "-o", str(pdf)]) == 0
    return path, pdf_pages(pdf)


def test_a_page_per_question_each_with_book_version_cycle_and_date(demo_pack) -> None:
    path, pages = demo_pack
    titles = [next(line.strip() for line in p.splitlines() if line.strip()) for p in pages]
    heads = [re.match(r"(\d)\s+(.+?)(?: \(continued\))?(?:\s{2,}|$)", t).groups() for t in titles]
    assert list(dict.fromkeys(heads)) == [(str(k), q) for k, q in enumerate(PAGES, 1)], titles
    today = dt.date.today().isoformat()
    for page in pages:
        assert path.name in page and "cycle 2026-12" in page and today in page, page[:300]
        assert re.search(r"plan 2026-12-draft-[0-9a-f]+ \(draft\)", page)
        assert "STALE" not in page


def _row(page: str, label: str) -> list[str]:
    """The table row of `label` (not the headline tile above the table, which names the months in brackets)."""
    line = next(line for line in page.splitlines() if re.match(rf"\s*{label}\s+\d{{4}}-\d\d", line))
    return line.split()


def test_where_we_land_names_every_period_and_next_year_matches_financials(demo_pack) -> None:
    path, pages = demo_pack
    land = pages[0]
    for label, months, basis in (("FY2026 Q1", "2026-01..2026-03", "Actual"),
                                 ("FY2026 Q4", "2026-10..2026-12", "Actual + plan"),
                                 ("FY2026 full year", "2026-01..2026-12", "Actual + plan"),
                                 ("FY2027 Q1", "2027-01..2027-03", "Plan"),
                                 ("FY2027 full year", "2027-01..2027-12", "Plan")):
        row = " ".join(_row(land, label))
        assert months in row and basis in row, row
    # next fiscal year, independently from the Financials table: the sum of its Total month rows
    fin, _ = open_book(path).read_table("Financials")
    m = fin[(fin["horizon"] == "Month") & (fin["level"] == "Total") & (fin["period"] >= pd.Period("2027-01", "M"))
            & (fin["period"] <= pd.Period("2027-12", "M"))]
    assert len(m) == 12
    row = _row(land, "FY2027 full year")
    k = lambda c, sign="": f"{m[c].sum() / 1e3:{sign},.0f}"  # noqa: E731
    expected = [f"{m['plan_units'].sum():,.0f}", f"{m['budget_units'].sum():,.0f}", k("revenue"),
                k("budget_revenue"), k("revenue_variance", "+"), k("price_effect", "+"), k("volume_effect", "+"),
                k("mix_effect", "+"), k("margin")]
    for value in expected:
        assert value in row, (value, row)
    # last year of the next year is this year's outlook (the Financials' Outlook row)
    outlook = fin[(fin["horizon"] == "Outlook") & (fin["level"] == "Total")].iloc[0]
    assert f"{outlook['revenue'] / 1e3:,.0f}" in row
    assert "price + volume + mix" in land


def test_what_to_decide_shows_the_binding_resource_the_options_and_the_decisions(demo_pack) -> None:
    path, pages = demo_pack
    page = pages[1]
    cap, _ = open_book(path).read_table("CapacityPlan")
    binding = cap[(cap["resource"] == "Machining") & cap["binding"].fillna("").astype(str).ne("")]
    first = str(binding["period"].min())  # the first month Machining binds, from the book's own table
    assert "Binding resources" in page and re.search(rf"Machining\s+{first}", page), first
    for scenario in ("Base", "Best case", "Worst case", "Supplier disruption"):
        assert scenario in page
    assert "To decide: Machining binds" in page
    assert "VP Operations" in page and "Approve overtime on Assembly" in page
    assert re.search(r"VP Operations\s+2027-03", page)  # owner and due month side by side


def test_risks_one_line_per_family_and_cause_with_descriptions_never_cut(demo_pack) -> None:
    path, pages = demo_pack
    risk_pages = [p for p in pages if "Risks and exceptions" in p]
    text = "\n".join(risk_pages)
    assert "[...]" not in text
    assert "HT-008 Hand Tools item 8" in text  # the description beside the code
    # Hand Tools is below budget both as outlook and as plan in Exceptions: one line on the pack
    rows = [line for line in text.splitlines() if re.match(r"\s*\d+\s+\S", line)]
    budget = [r for r in rows if "Hand Tools" in r and "Below budget" in r]
    assert len(budget) == 1, budget
    exc, _ = open_book(path).read_table("Exceptions")
    assert len(exc[(exc["family"] == "Hand Tools") & exc["kind"].str.contains("below budget")]) == 2
    assert "Machining at capacity" in text and "override by Sales North" in text  # causes
    assert "Supply planning" in text and "Finance and Sales" in text  # owners


def test_risks_deduplicate_by_family_and_cause() -> None:
    items = pd.DataFrame({"item": ["A1", "A2"], "description": ["Anvil", "Axe"], "family": ["F", "F"],
                          "lead_time": [0, 0], "unit_price": [1.0, 1.0]})
    exc = pd.DataFrame({
        "rank": [1, 2, 3, 4], "kind": ["Outlook below budget", "Plan below budget", "Shortage", "Shortage"],
        "family": ["F", "F", "F", "F"], "item": [None, None, "A1", "A2"],
        "period": [pd.Period("2026-01", "M"), pd.NaT, pd.Period("2026-03", "M"), pd.Period("2026-04", "M")],
        "months": [12, None, 1, 2], "units": [-5.0, -8.0, 10.0, 20.0], "uom": ["units"] * 4,
        "value": [100.0, 80.0, 30.0, 20.0],
        "message": ["F: outlook below budget; price -10, volume -90, mix +0",
                    "F: plan below budget; price -5, volume -75, mix +0", "A1 short", "A2 short"]})
    r = meeting.risks(exc, items)
    assert list(r["kind"]) == ["Below budget", "Shortage"]
    assert r.loc[0, "value"] == 100.0 and r.loc[1, "value"] == 50.0  # overlapping shortfalls: the larger one
    assert "A1 Anvil" in r.loc[1, "what"] and "A2 Axe" in r.loc[1, "what"]
    assert r.loc[0, "cause"] == "mainly volume (-90)"


def test_demand_and_supply_page_and_forecast_page(demo_pack) -> None:
    _, pages = demo_pack
    supply = next(p for p in pages if "Demand and supply" in p)
    assert "Projected inventory" in supply and "Safety stock" in supply and "Capacity utilisation" in supply
    forecast = next(p for p in pages if "How good is our forecast?" in p)
    assert "2026-06..2026-11" in forecast  # the cycles measured
    for who in ("statistical", "consensus", "Sales North", "Marketing"):
        assert re.search(rf"{who}\s+[+-]\d+\.\d%", forecast), who
    assert "adds accuracy" in forecast and "removes accuracy" in forecast


def test_axes_start_at_zero_and_no_capacity_is_said_not_drawn() -> None:
    import matplotlib.pyplot as plt

    from snop_xl.io import pictures

    periods = pd.period_range("2027-01", periods=4, freq="M")
    ds = pd.DataFrame({"period": periods, "history": [None] * 4, "statistical": [900.0, 950, 980, 1000],
                       "consensus": [900.0, 950, 980, 1000], "budget_units": [950.0] * 4,
                       "supply": [100.0, 900, 1000, 1000], "closing": [800.0, 750, 770, 770],
                       "safety_stock": [300.0] * 4, "shortage": [0.0] * 4})
    fig, (a, b, c) = plt.subplots(1, 3)
    pictures.draw_demand(a, ds)
    pictures.draw_supply(b, ds)
    pictures.draw_capacity(c, None)
    assert a.get_ylim()[0] == 0 and b.get_ylim()[0] == 0
    assert any(pictures.NO_CAPACITY[:30] in t.get_text().replace("\n", " ") for t in c.texts)
    assert [line.get_label() for line in b.lines] == ["Consensus demand", "Projected inventory", "Safety stock"]
    plt.close(fig)


def test_stale_book_is_refused_unless_allowed_and_then_stamped(tmp_path, capsys) -> None:
    path = _run_book(tmp_path)
    inputs_changed = tmp_path / "changed.xlsx"
    shutil.copy(path, inputs_changed)
    b = open_book(inputs_changed)  # a sales figure changed since the run
    ws = b.wb["History"]
    cell = next(c for row in ws.iter_rows(min_row=2) for c in row if isinstance(c.value, (int, float)))
    cell.value = cell.value + 1
    b.save()
    pdf = tmp_path / "stale.pdf"
    assert main(["report", str(inputs_changed), "-o", str(pdf)]) == 2
    err = capsys.readouterr().err
    assert "ran on other inputs" in err and "--allow-stale" in err and not pdf.exists()
    assert main(["report", str(inputs_changed), "-o", str(pdf), "--allow-stale"]) == 0
    pages = pdf_pages(pdf)
    assert len(pages) >= 5 and all("STALE" in p for p in pages)
    assert "ran on other inputs" in pages[0]
    fresh = tmp_path / "fresh.pdf"  # the book as run: no stamp
    assert main(["report", str(path), "-o", str(fresh)]) == 0
    assert not any("STALE" in p for p in pdf_pages(fresh))


def test_dashboard_tiles_show_what_the_pack_shows(demo_pack) -> None:
    """The Dashboard's headline tiles against the Financials table summed by hand, and against the pack's pages."""
    from openpyxl import load_workbook

    from tests.test_dashboard import _tile

    path, pages = demo_pack
    ws = load_workbook(path)["Dashboard"]
    book = open_book(path)
    fin, _ = book.read_table("Financials")
    months = fin[(fin["horizon"] == "Month") & (fin["level"] == "Total")]

    def year(y: int) -> pd.DataFrame:
        first, last = pd.Period(f"{y}-01", "M"), pd.Period(f"{y}-12", "M")
        return months[(months["period"] >= first) & (months["period"] <= last)]
    this, nxt = year(2026), year(2027)
    assert len(this) == len(nxt) == 12
    label, figure, detail = _tile(ws, 0)
    assert label == "Full-year outlook revenue (2026-01 to 2026-12)"
    assert figure == pytest.approx(this["revenue"].sum())
    assert detail == f"vs budget: {this['revenue_variance'].sum():+,.0f} USD (U)"
    assert _tile(ws, 1)[1] == pytest.approx(this["margin"].sum())
    assert _tile(ws, 2)[1] == pytest.approx(this["plan_units"].sum())
    label, figure, detail = _tile(ws, 3)
    assert label == "Next FY revenue (FY2027: 2027-01..2027-12, plan)"
    assert figure == pytest.approx(nxt["revenue"].sum())
    assert detail.startswith(f"vs budget: {nxt['revenue_variance'].sum():+,.0f} USD")
    assert _tile(ws, 4)[1] == pytest.approx(nxt["plan_units"].sum())
    assert f"{figure / 1e3:,.0f}" in " ".join(_row(pages[0], "FY2027 full year"))  # page 1 has the same figure
    label, figure, _ = _tile(ws, 6)  # the binding resource and its money at stake, as page 2 has them
    assert label.startswith("Binding resource money at stake (Machining")
    line = next(line for line in pages[1].splitlines() if line.strip().startswith("Machining"))
    assert line.split()[8] == f"{figure / 1e3:,.0f}", line  # "At stake k", the binding table's last column
    trend, _ = book.read_table("KPITrend")
    last = trend[trend["name"] == "Total"].dropna(subset=["accuracy_lag1"]).iloc[-1]
    label, figure, _ = _tile(ws, 9)
    assert figure == pytest.approx(100 * last["accuracy_lag1"]) and label.endswith(f"(cycle {last['cycle']})")
    comparison, _ = book.read_table("ScenarioComparison")
    best = comparison.set_index("scenario")["margin_vs_base"].drop("Base").astype(float)
    label, figure, _ = _tile(ws, 10)
    assert label == f"Best scenario margin vs base ({best.idxmax()})" and figure == pytest.approx(best.max())


def test_decision_log_shows_owner_and_due_month(tmp_path) -> None:
    decisions = pd.DataFrame({"date": [pd.Timestamp("2026-12-10"), pd.Timestamp("2026-12-12")],
                              "decision": ["Add a Saturday shift on Line", "Hold the price rise"],
                              "owner": ["Ops Director", "Sales VP"], "due": [pd.Period("2027-03", "M"), None],
                              "scenario": ["", ""], "note": ["", ""]})
    path = _run_book(tmp_path, decisions=decisions)
    pdf = tmp_path / "pack.pdf"
    assert main(["report", str(path), "-o", str(pdf)]) == 0
    page = pdf_pages(pdf)[1]
    assert re.search(r"Date\s+Decision\s+Owner\s+Due\s+Scenario", page)
    assert re.search(r"2026-12-10\s+Add a Saturday shift on Line\s+Ops Director\s+2027-03\s+Base", page), page
    assert re.search(r"2026-12-12\s+Hold the price rise\s+Sales VP\s+-\s+Base", page)
