"""Orders and the sales pipeline as demand signals (issue 19): a CRM opportunity report and an ERP order book written
here as those systems write them, imported and checked cell for cell; then whole cycles in which a large likely deal
lifts its item-month, lost and stale deals change nothing, open orders above the forecast become the floor, items
without orders or pipeline keep their numbers to the unit, and the exceptions name what needs a decision. Expected
numbers come from a run of the same book without orders and pipeline (the statistical forecast) and the rule of
docs/pipeline.md written out here."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from snop_xl import contract as C
from snop_xl.cli import main as cli
from snop_xl.inputs import stage_probabilities
from snop_xl.io import OpenpyxlBook

from .conftest import make_book, small_frames

P = lambda s: pd.Period(s, "M")  # noqa: E731
T = pd.Timestamp

CRM_HEADER = ["Opportunity Name", "Account Name", "Stage", "Probability (%)", "Close Date", "Amount",
              "Product Code", "Quantity", "Opportunity Owner", "Last Modified Date"]
CRM_LINES = [
    # the newest snapshot of Tender 1 comes first in the file: the snapshot date decides, not the line
    ["Tender 1", "Acme", "Negotiation", "80%", "2/20/2027", "$12,500.00", "A", "500", "Kim", "1/15/2027"],
    ["Renewal", "Beta Corp", "Proposal", "", "3/3/2027", "$1,000.00", "a", "100", "Lee", "1/12/2027"],
    ["Tender 1", "Acme", "Negotiation", "60%", "2/14/2027", "$10,000.00", "A", "400", "Kim", "1/05/2027"],
    ["Lost deal", "Gamma", "Closed Lost", "0%", "2/1/2027", "$9,000.00", "B", "900", "Kim", "1/14/2027"],
    ["Old deal", "Delta", "Qualification", "20%", "11/30/2026", "$1,500.00", "B", "300", "Pat", "11/02/2026"],
    ["Family deal", "Eps", "Commit", "90%", "1/25/2027", "$2,000.00", "F", "200", "Lee", "1/13/2027"],
]

ERP_HEADER = ["Sales Document", "Material", "Sold-To Party", "Req. Delivery Date", "Open Qty", "UoM", "Net Value"]
ERP_LINES = [
    ["4711", "A", "C100", "15.01.2027", "120,5", "PC", "1.205,00"],
    ["4711", "A", "C100", "20.01.2027", "10", "PC", "100,00"],  # same order, item and month: summed
    ["4712", "B", "C200", "03.02.2027", "1.000", "PC", "5.000,00"],
    ["4713", "b", "C300", "10.12.2026", "40", "PC", "200,00"],  # past due: kept, counts in the cycle month
    ["4714", "A", "C100", "05.03.2027", "0", "PC", "0,00"],  # nothing open: left out
]


def write_csv(path: Path, header: list[str], lines: list[list[str]], sep: str = ",") -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, delimiter=sep)
        w.writerow(header)
        w.writerows(lines)
    return path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def book(tmp_path: Path) -> Path:
    return make_book(tmp_path / "book.xlsx", small_frames())


def read(book: Path, spec: C.Table) -> pd.DataFrame:
    frame, problems = OpenpyxlBook(book).read_table(spec)
    assert not problems
    return frame.reset_index(drop=True)


# ---- imports -----------------------------------------------------------------------------------------------------
def test_crm_opportunity_report_is_imported_exactly(book: Path, tmp_path: Path, capsys) -> None:
    src = write_csv(tmp_path / "opportunities.csv", CRM_HEADER, CRM_LINES)
    assert cli(["import", str(book), "Pipeline", str(src), "--yes"]) == 0
    out = capsys.readouterr().out
    got = read(book, C.PIPELINE)
    want = pd.DataFrame([
        ["Tender 1", "A", None, 500.0, T("2027-02-20"), "Negotiation", 0.8, "Kim", "Acme", 12500.0],
        ["Renewal", "A", None, 100.0, T("2027-03-03"), "Proposal", np.nan, "Lee", "Beta Corp", 1000.0],
        ["Lost deal", "B", None, 900.0, T("2027-02-01"), "Closed Lost", 0.0, "Kim", "Gamma", 9000.0],
        ["Old deal", "B", None, 300.0, T("2026-11-30"), "Qualification", 0.2, "Pat", "Delta", 1500.0],
        ["Family deal", None, "F", 200.0, T("2027-01-25"), "Commit", 0.9, "Lee", "Eps", 2000.0],
    ], columns=C.PIPELINE.keys)
    pd.testing.assert_frame_equal(got[C.PIPELINE.keys], want, check_dtype=False)
    assert "Tender 1: lines 2, 4, kept line 2" in out
    assert "1 deal(s) lost: no demand: Lost deal (Kim)" in out
    assert "1 deal(s) stale" in out and "Old deal (Pat)" in out
    # open in the 3-month pipeline horizon (2027-01..03): Tender 1 500 x 80%, Renewal 100 x Proposal's 50%,
    # Family deal 200 x 90%
    assert f"3 open deal(s) in the pipeline horizon: weighted quantity {500 * .8 + 100 * .5 + 200 * .9:,.6g}" in out


def test_erp_order_book_with_semicolons_and_decimal_commas(book: Path, tmp_path: Path, capsys) -> None:
    src = write_csv(tmp_path / "VA05.csv", ERP_HEADER, ERP_LINES, sep=";")
    assert cli(["import", str(book), "Orders", str(src), "--yes"]) == 0
    out = capsys.readouterr().out
    got = read(book, C.ORDERS)
    want = pd.DataFrame([["4711", "A", "C100", P("2027-01"), 130.5], ["4712", "B", "C200", P("2027-02"), 1000.0],
                         ["4713", "B", "C300", P("2026-12"), 40.0]], columns=C.ORDERS.keys)
    pd.testing.assert_frame_equal(got[C.ORDERS.keys], want, check_dtype=False)
    assert "decimal comma" in out and "1 line(s) with nothing open (0) left out" in out
    assert "1 line(s) past due" in out


def test_bad_rows_are_refused_with_their_cells_and_the_book_unchanged(book: Path, tmp_path: Path, capsys) -> None:
    lines = [list(r) for r in CRM_LINES]
    lines[1][6] = "ZZ-9"  # unknown product: line 3, column G
    lines[3][3] = "maybe"  # not a probability: line 5, column D
    lines[4][7] = "-5"  # negative quantity: line 6, column H
    src = write_csv(tmp_path / "bad.csv", CRM_HEADER, lines)
    before = digest(book)
    assert cli(["import", str(book), "Pipeline", str(src), "--yes"]) == 2
    err = capsys.readouterr().err
    assert "bad.csv!G3" in err and "unknown item" in err
    assert "bad.csv!D5" in err and "bad Probability" in err
    assert "bad.csv!H6" in err and "negative Quantity" in err
    orders = [list(r) for r in ERP_LINES]
    orders[2][1] = "NOPE"
    src = write_csv(tmp_path / "orders.csv", ERP_HEADER, orders, sep=";")
    assert cli(["import", str(book), "Orders", str(src), "--yes"]) == 2
    assert "orders.csv!B4" in capsys.readouterr().err
    assert digest(book) == before


def test_validation_names_the_cells_of_bad_orders_and_deals(tmp_path: Path, capsys) -> None:
    frames = small_frames()
    frames["Orders"] = pd.DataFrame([["1", "X", "", P("2027-01"), 5.0]], columns=C.ORDERS.keys)
    frames["Pipeline"] = pd.DataFrame([
        ["D1", "A", None, 10.0, T("2027-02-01"), "Dreaming", None, "", "", None],  # no probability, unknown stage
        ["D2", None, None, 10.0, T("2027-02-01"), "Proposal", 0.5, "", "", None],  # neither item nor family
    ], columns=C.PIPELINE.keys)
    book = make_book(tmp_path / "bad.xlsx", frames)
    assert cli(["validate", str(book)]) != 0
    err = capsys.readouterr()
    text = err.out + err.err
    assert "Orders!B2" in text and "unknown item" in text
    assert "Pipeline!F2" in text and "Dreaming" in text
    assert "Pipeline!B3" in text and "neither item nor family" in text


def test_stage_probabilities_setting_reads_and_refuses() -> None:
    assert stage_probabilities("Proposal: 50%; Closed-Won: 1") == {"proposal": 0.5, "closed won": 1.0}
    with pytest.raises(ValueError):
        stage_probabilities("Proposal 50%")
    with pytest.raises(ValueError):
        stage_probabilities("Proposal: 150%")


# ---- the cycle listens -------------------------------------------------------------------------------------------
def signal_frames() -> dict[str, pd.DataFrame]:
    frames = small_frames()
    items = frames["Items"]
    frames["Items"] = pd.concat([items, pd.DataFrame({"item": ["C"], "description": [""], "family": ["G"],
                                                      "unit_price": [4.0], "unit_cost": [1.0], "lead_time": [0],
                                                      "min_lot": [0.0], "active": [True]})], ignore_index=True)
    frames["History"] = pd.concat([frames["History"], pd.DataFrame(
        [("C", P(f"2026-{m:02d}"), 7.0 + m % 3) for m in range(1, 13)], columns=["item", "period", "qty"])],
        ignore_index=True)
    frames["Inventory"] = pd.concat([frames["Inventory"], pd.DataFrame(
        {"item": ["C"], "on_hand": [0.0], "ss_policy": ["fixed"], "ss_value": [0.0]})], ignore_index=True)
    return frames


DEALS = pd.DataFrame([
    ["Big tender", "A", None, 500.0, T("2027-02-10"), "Negotiation", 0.8, "Kim", "Acme", None],  # lifts A Feb
    ["Lost", "B", None, 900.0, T("2027-02-01"), "Closed Lost", 0.6, "Kim", "Gamma", None],  # nothing
    ["Stale", "B", None, 300.0, T("2026-11-30"), "Qualification", 0.2, "Pat", "Delta", None],  # nothing
    ["Far", "A", None, 800.0, T("2027-05-10"), "Proposal", None, "Lee", "Eps", None],  # beyond the horizon
    ["Small", "A", None, 4.0, T("2027-03-02"), "Proposal", None, "Lee", "Eps", None],  # below the forecast
], columns=C.PIPELINE.keys)
ORDERS = pd.DataFrame([
    ["9001", "B", "C1", P("2027-03"), 50.0],  # above B's forecast: the floor
    ["9002", "A", "C1", P("2027-01"), 5.0],  # below A's forecast: nothing
    ["9003", "B", "C2", P("2027-01"), 30.0],  # but an Override says 10: an exception
    ["9004", "B", "C2", P("2026-12"), 15.0],  # past due: in the cycle month, with 9003
    ["9005", "A", "C3", P("2027-05"), 999.0],  # beyond the horizon
], columns=C.ORDERS.keys)
OVERRIDE = pd.DataFrame([["B", None, P("2027-01"), 10.0, "Sales", "customer cancelled"]],
                        columns=C.OVERRIDES.keys)


def run_book(path: Path, frames: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    assert cli(["run", str(make_book(path, frames))]) == 0
    book = OpenpyxlBook(path)
    return {name: book.read_table(C.table(name))[0].reset_index(drop=True)
            for name in ("DemandPlan", "Exceptions", "Contributions")}


def test_orders_and_pipeline_move_only_what_they_should(tmp_path: Path) -> None:
    base = run_book(tmp_path / "base.xlsx", {**signal_frames(), "Overrides": OVERRIDE})
    got = run_book(tmp_path / "signals.xlsx", {**signal_frames(), "Overrides": OVERRIDE, "Orders": ORDERS,
                                               "Pipeline": DEALS})
    key = ["item", "period"]
    b = base["DemandPlan"][base["DemandPlan"]["level"] == "Item"].set_index(key)
    g = got["DemandPlan"][got["DemandPlan"]["level"] == "Item"].set_index(key)
    stat = b["statistical"]
    pd.testing.assert_series_equal(g["statistical"], stat)
    # independent: orders and weighted pipeline per item-month, in the horizon 2027-01..03
    orders = {("B", P("2027-03")): 50.0, ("A", P("2027-01")): 5.0, ("B", P("2027-01")): 45.0}
    pipeline = {("A", P("2027-02")): 500 * 0.8, ("A", P("2027-03")): 4 * 0.5}
    for k in g.index:
        assert g.at[k, "orders"] == pytest.approx(orders.get(k, 0.0), abs=1e-9)
        assert g.at[k, "pipeline"] == pytest.approx(pipeline.get(k, 0.0), abs=1e-9)
    a_feb, b_mar, b_jan = ("A", P("2027-02")), ("B", P("2027-03")), ("B", P("2027-01"))
    # the large likely deal lifts A Feb to its weighted quantity (it is more than the forecast expects)
    assert stat[a_feb] < 400
    assert g.at[a_feb, "consensus"] == pytest.approx(b.at[a_feb, "consensus"] + (400 - stat[a_feb]), abs=1e-9)
    assert g.at[a_feb, "consensus"] == pytest.approx(400.0, abs=1e-9)
    # open orders above the forecast become the floor
    assert stat[b_mar] < 50
    assert g.at[b_mar, "consensus"] == pytest.approx(50.0, abs=1e-9)
    # the override stands against the orders, and is flagged
    assert g.at[b_jan, "consensus"] == pytest.approx(10.0, abs=1e-9)
    # everything else (C, months outside the horizon, the small deal below the forecast, lost, stale, far deals)
    # unchanged to the unit
    moved = {a_feb, b_mar}
    same = [k for k in g.index if k not in moved]
    assert (g.loc[same, "consensus"] - b.loc[same, "consensus"]).abs().max() < 0.5
    assert (g.loc[same, "consensus"].round() == b.loc[same, "consensus"].round()).all()
    assert (g.loc[[k for k in same if k[0] == "C"], "consensus"] == b.loc[[k for k in same if k[0] == "C"],
                                                                          "consensus"]).all()
    # signals column: what orders and pipeline added before overrides
    assert g.at[a_feb, "signals"] == pytest.approx(400 - stat[a_feb], abs=1e-9)
    assert g.at[b_mar, "signals"] == pytest.approx(50 - stat[b_mar], abs=1e-9)
    assert "deal Big tender (Acme, Kim): 500 x 80% = 400" in g.at[a_feb, "notes"]
    # family and total rows sum their items
    d = got["DemandPlan"]
    fam = d[(d["level"] == "Family") & (d["family"] == "F")].set_index("period")
    assert fam["orders"].sum() == pytest.approx(sum(v for (i, _), v in orders.items()), abs=1e-9)
    assert fam["pipeline"].sum() == pytest.approx(402.0, abs=1e-9)

    exc = got["Exceptions"]
    below = exc[exc["kind"] == "Below open orders"]
    assert list(zip(below["item"], below["period"])) == [("B", P("2027-01"))]
    assert below["units"].iloc[0] == pytest.approx(35.0, abs=1e-9)  # 45 ordered, 10 planned
    stale = exc[exc["kind"] == "Stale deal"]
    assert len(stale) == 1 and "Stale" in stale["message"].iloc[0] and "Pat" in stale["message"].iloc[0]
    large = exc[exc["kind"] == "Large deal"]
    assert list(zip(large["item"], large["period"])) == [("A", P("2027-02"))]
    assert "Big tender" in large["message"].iloc[0] and "Kim" in large["message"].iloc[0]
    assert not base["Exceptions"]["kind"].isin(["Below open orders", "Stale deal", "Large deal"]).any()


def test_a_zero_pipeline_horizon_hears_nothing(tmp_path: Path) -> None:
    base = run_book(tmp_path / "base.xlsx", signal_frames())
    frames = {**signal_frames(), "Orders": ORDERS, "Pipeline": DEALS}
    path = make_book(tmp_path / "off.xlsx", frames, {"pipeline_horizon": 0})
    assert cli(["run", str(path)]) == 0
    off = OpenpyxlBook(path).read_table(C.DEMAND_PLAN)[0].reset_index(drop=True)
    pd.testing.assert_series_equal(off["consensus"], base["DemandPlan"]["consensus"])


def test_the_pack_shows_order_coverage_and_the_deals_at_risk(tmp_path: Path) -> None:
    """Page 4 of the meeting pack: per month of the pipeline horizon the share of the consensus already ordered
    and the weighted pipeline against the gap to budget; the largest deals at risk with their owners."""
    import shutil
    import subprocess

    from snop_xl.commands.report import pack_content
    from snop_xl.inputs import load_inputs

    path = tmp_path / "signals.xlsx"
    got = run_book(path, {**signal_frames(), "Overrides": OVERRIDE, "Orders": ORDERS, "Pipeline": DEALS})
    book = OpenpyxlBook(path)
    content = pack_content(book, load_inputs(book))
    cov = content["coverage"].set_index("period")
    d = got["DemandPlan"]
    total = d[d["level"] == "Total"].set_index("period")
    budget = small_frames()["Budget"].groupby("period")["units"].sum()
    assert list(cov.index) == [P("2027-01"), P("2027-02"), P("2027-03")]
    ordered = {P("2027-01"): 5.0 + 45.0, P("2027-02"): 0.0, P("2027-03"): 50.0}  # ORDERS by hand
    for m, row in cov.iterrows():
        assert row["orders"] == pytest.approx(ordered[m])
        assert row["coverage"] == pytest.approx(ordered[m] / total.at[m, "consensus"])
        assert row["gap_to_budget"] == pytest.approx(budget[m] - total.at[m, "consensus"])
    assert cov.at[P("2027-02"), "pipeline"] == pytest.approx(400.0)
    deals = content["deals"]
    assert list(deals["opportunity"]) == ["Big tender", "Stale"]  # money first: 400 x 10 > 300 x 5
    assert list(deals["owner"]) == ["Kim", "Pat"]
    assert "close date 2026-11-30 passed" in deals["why"].iloc[1]
    pdf = tmp_path / "pack.pdf"
    assert cli(["report", str(path), "-o", str(pdf)]) == 0
    if shutil.which("pdftotext") is None:  # poppler (CI installs it): the pack's text is read back where it is
        return
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True).stdout
    assert "Orders and pipeline" in text and "Largest deals at risk" in text and "Big tender" in text
