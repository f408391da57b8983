"""Pipeline accuracy (issue 19): two rolled cycles through the CLI (January: import the CRM report, run, publish;
roll to February with January's actuals, import February's report with some deals won, lost, slipped or gone,
run, publish; roll to March, import March's report), then `snop-xl kpis` on the March book: the calibration table
(stated probability vs realised win rate per stage and owner, won quantity closed on time, weighted pipeline bias by
lag) from the archived pipelines and the March report, checked against the outcomes of the deals worked out by
hand below from the rule of docs/pipeline.md and plain arithmetic on them."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest

from snop_xl import archive
from snop_xl import contract as C
from snop_xl.cli import main as cli
from snop_xl.inputs import load_inputs
from snop_xl.io import open_book
from snop_xl.steps.pipeline_kpis import pipeline_calibration

from .conftest import make_book, small_frames

P = lambda s: pd.Period(s, "M")  # noqa: E731

HEADER = ["Opportunity Name", "Account Name", "Stage", "Probability (%)", "Close Date", "Product Code", "Quantity",
          "Opportunity Owner"]
# the CRM report of each cycle: (opportunity, stage, probability, close date, item, quantity, owner)
JAN = [
    ("D1", "Negotiation", "70%", "1/20/2027", "A", "100", "Kim"),
    ("D2", "Proposal", "50%", "1/15/2027", "B", "200", "Kim"),
    ("D3", "Proposal", "50%", "2/10/2027", "A", "50", "Lee"),
    ("D4", "Commit", "90%", "1/30/2027", "B", "80", "Lee"),
    ("D5", "Qualification", "20%", "2/5/2027", "A", "40", "Pat"),
    ("D6", "Prospecting", "", "1/10/2027", "B", "30", "Pat"),  # blank: the stage's 10% (default setting)
    ("D7", "Proposal", "50%", "5/10/2027", "A", "500", "Kim"),  # closes after March: not measured yet
    ("D8", "Negotiation", "70%", "2/28/2027", "B", "10", "Kim"),
    ("X1", "Closed Lost", "0%", "1/20/2027", "A", "70", "Kim"),  # lost already: no forecast
    ("X2", "Proposal", "50%", "12/15/2026", "B", "25", "Lee"),  # stale already: no forecast
]
FEB = [
    ("D1", "Closed Won", "100%", "1/25/2027", "A", "100", "Kim"),  # won in January, as forecast
    ("D2", "Closed Lost", "0%", "1/15/2027", "B", "200", "Kim"),
    ("D3", "Proposal", "50%", "2/20/2027", "A", "50", "Lee"),
    ("D4", "Commit", "90%", "3/15/2027", "B", "80", "Lee"),  # slipped to March
    # D5: gone from the report
    ("D6", "Closed Won", "100%", "1/12/2027", "B", "30", "Pat"),
    ("D7", "Proposal", "50%", "5/10/2027", "A", "500", "Kim"),
    ("D8", "Negotiation", "70%", "2/28/2027", "B", "10", "Kim"),
    ("D9", "Negotiation", "", "2/14/2027", "A", "120", "Lee"),  # new; blank: Negotiation's 70%
    ("D10", "Proposal", "50%", "2/20/2027", "B", "60", "Kim"),  # new
]
MAR = [  # won deals of the last months stay in the report; D1, D2, D6 are no longer in it (decided before)
    ("D3", "Closed Won", "100%", "2/25/2027", "A", "60", "Lee"),  # won in February, 60 rather than 50
    ("D4", "Closed Won", "100%", "3/5/2027", "B", "80", "Lee"),  # won, in March: late for January's forecast
    ("D7", "Proposal", "50%", "5/10/2027", "A", "500", "Kim"),
    ("D8", "Negotiation", "70%", "4/15/2027", "B", "10", "Kim"),  # slipped again: still open
    ("D9", "Closed Won", "100%", "2/14/2027", "A", "100", "Lee"),
    ("D10", "Closed Lost", "0%", "2/20/2027", "B", "60", "Kim"),
]

# By hand, from the rule: every open deal of the January and February snapshots whose close month is before March,
# with what became of it. (cycle, deal, stage, owner, qty, stated probability, forecast month, outcome, won month,
# won qty)
FORECASTS = [
    ("2027-01", "D1", "Negotiation", "Kim", 100, 0.7, "2027-01", "won", "2027-01", 100),  # Feb: Closed Won, Jan
    ("2027-01", "D2", "Proposal", "Kim", 200, 0.5, "2027-01", "lost", None, 0),  # Feb: Closed Lost
    ("2027-01", "D3", "Proposal", "Lee", 50, 0.5, "2027-02", "won", "2027-02", 60),  # Mar: Closed Won, Feb, 60
    ("2027-01", "D4", "Commit", "Lee", 80, 0.9, "2027-01", "won", "2027-03", 80),  # Mar: won in March
    ("2027-01", "D5", "Qualification", "Pat", 40, 0.2, "2027-02", "lost", None, 0),  # gone from the reports
    ("2027-01", "D6", "Prospecting", "Pat", 30, 0.1, "2027-01", "won", "2027-01", 30),  # Feb: won; Mar: gone
    ("2027-01", "D8", "Negotiation", "Kim", 10, 0.7, "2027-02", "open", None, 0),  # Mar: still negotiating
    ("2027-02", "D3", "Proposal", "Lee", 50, 0.5, "2027-02", "won", "2027-02", 60),
    ("2027-02", "D8", "Negotiation", "Kim", 10, 0.7, "2027-02", "open", None, 0),
    ("2027-02", "D9", "Negotiation", "Lee", 120, 0.7, "2027-02", "won", "2027-02", 100),
    ("2027-02", "D10", "Proposal", "Kim", 60, 0.5, "2027-02", "lost", None, 0),
    # not forecasts: D7 closes in May; X1 was lost and X2 stale in January; D4 of February closes in March
    # (not over yet); D1, D2, D6 of February were already decided
]


def expected(rows: list[tuple]) -> dict[str, float]:
    """The measures of docs/pipeline.md over hand-listed forecasts, in plain arithmetic."""
    done = [r for r in rows if r[7] != "open"]
    qty = sum(r[4] for r in done)
    won = [r for r in rows if r[7] == "won"]
    won_qty = sum(r[9] for r in won)
    in_month = sum(r[9] for r in won if r[8] == r[6])
    weighted = sum(r[4] * r[5] for r in rows)
    stated = sum(r[4] * r[5] for r in done) / qty if qty else float("nan")
    realised = sum(r[4] for r in done if r[7] == "won") / qty if qty else float("nan")
    return {"deals": len(done), "open": len(rows) - len(done), "qty": qty, "stated": stated, "realised": realised,
            "gap": stated - realised, "won_qty": won_qty, "on_time": in_month / won_qty if won_qty else float("nan"),
            "weighted": weighted, "won_in_month": in_month,
            "bias": (weighted - in_month) / in_month if in_month else float("nan")}


def lag_of(r: tuple) -> int:
    return (P(r[6]) - P(r[0])).n + 1


def write_report(path: Path, lines: list[tuple]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        for opp, stage, prob, close, item, qty, owner in lines:
            w.writerow([opp, "Acme", stage, prob, close, item, qty, owner])
    return path


def write_actuals(path: Path, month: str) -> Path:
    path.write_text(f"Material,Order Date,Quantity\nA,{month}-03,10\nB,{month}-04,20\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def march(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The March book after two rolled cycles, each published with its pipeline."""
    tmp = tmp_path_factory.mktemp("calibration")
    orders = pd.DataFrame([["9001", "B", "C1", P("2027-02"), 50.0]], columns=C.ORDERS.keys)
    jan = make_book(tmp / "jan.xlsx", {**small_frames(), "Orders": orders}, {"approver": "Ann"})
    steps = [(jan, JAN, None), (tmp / "feb.xlsx", FEB, "2027-01"), (tmp / "mar.xlsx", MAR, "2027-02")]
    book = jan
    for target, report, closing in steps:
        if closing is not None:
            actuals = write_actuals(tmp / f"lines_{closing}.csv", closing)
            assert cli(["roll", str(book), "--actuals", str(actuals), "--yes", "-o", str(target)]) == 0
            book = target
        src = write_report(tmp / f"crm_{target.stem}.csv", report)
        assert cli(["import", str(book), "Pipeline", str(src), "--yes"]) == 0
        assert cli(["run", str(book)]) == 0
        if target.stem != "mar":
            assert cli(["publish", str(book)]) == 0
    return book


def test_each_published_version_archives_its_pipeline_with_the_probability_used(march: Path) -> None:
    db = march.with_name("jan.snop.sqlite")
    assert [v.version for v in archive.versions(db)] == ["2027-01-r1", "2027-02-r1"]
    pipe = archive.load_table(db, "Pipeline")
    jan = pipe[pipe["cycle_month"] == P("2027-01")].set_index("opportunity")
    assert list(jan.index) == [r[0] for r in JAN]
    assert jan.at["D6", "probability"] == pytest.approx(0.1)  # the stage's, as the plan used it
    feb = pipe[pipe["cycle_month"] == P("2027-02")].set_index("opportunity")
    assert feb.at["D9", "probability"] == pytest.approx(0.7) and "D5" not in feb.index
    assert feb.at["D4", "close_date"] == pd.Timestamp("2027-03-15")
    orders = archive.load_table(db, "Orders")  # the open orders the plan heard, too
    assert list(zip(orders["cycle_month"], orders["order_id"], orders["qty"])) == [(P("2027-01"), "9001", 50.0),
                                                                             (P("2027-02"), "9001", 50.0)]


def test_two_rolled_cycles_give_the_calibration_table_by_stage_owner_and_lag(march: Path, tmp_path: Path,
                                                                             capsys) -> None:
    capsys.readouterr()
    out_csv = tmp_path / "calibration.csv"
    assert cli(["kpis", str(march), "--pipeline-csv", str(out_csv)]) == 0
    out = capsys.readouterr().out
    got = pd.read_csv(out_csv)
    got["lag"] = got["lag"].astype("Int64")
    inputs = load_inputs(open_book(march))  # the same table from the function the command calls
    pd.testing.assert_frame_equal(pipeline_calibration(inputs, march.with_name("jan.snop.sqlite")), got,
                                  check_dtype=False)

    groups = {("Total", "Total"): FORECASTS}
    for r in FORECASTS:
        groups.setdefault(("Stage", r[2]), []).append(r)
        groups.setdefault(("Owner", r[3]), []).append(r)
    want = []
    for (by, name), rows in groups.items():
        want.append((by, name, None, expected(rows)))
        for lag in sorted({lag_of(r) for r in rows}):
            want.append((by, name, lag, expected([r for r in rows if lag_of(r) == lag])))
    assert len(got) == len(want)
    for by, name, lag, measures in want:
        row = got[(got["by"] == by) & (got["name"] == name)
                  & (got["lag"].isna() if lag is None else got["lag"] == lag)]
        assert len(row) == 1, (by, name, lag)
        for key, value in measures.items():
            assert row[key].iloc[0] == pytest.approx(value, nan_ok=True), (by, name, lag, key)

    # the same numbers written out once more, for the reader: 9 deals decided (D8 twice still open)
    total = got[(got["by"] == "Total") & got["lag"].isna()].iloc[0]
    assert (total["deals"], total["open"], total["qty"]) == (9, 2, 730)
    assert total["stated"] == pytest.approx((70 + 100 + 25 + 72 + 8 + 3 + 25 + 84 + 30) / 730)
    assert total["realised"] == pytest.approx((100 + 50 + 80 + 30 + 50 + 120) / 730)
    assert total["on_time"] == pytest.approx((100 + 60 + 30 + 60 + 100) / (100 + 60 + 80 + 30 + 60 + 100))
    lag1 = got[(got["by"] == "Total") & (got["lag"] == 1)].iloc[0]
    assert lag1["bias"] == pytest.approx((70 + 100 + 72 + 3 + 25 + 7 + 84 + 30) / (100 + 30 + 60 + 100) - 1)
    lag2 = got[(got["by"] == "Total") & (got["lag"] == 2)].iloc[0]
    assert lag2["bias"] == pytest.approx((25 + 8 + 7) / 60 - 1)
    stages = list(got.loc[(got["by"] == "Stage") & got["lag"].isna(), "name"])
    assert stages == ["Prospecting", "Qualification", "Proposal", "Negotiation", "Commit"]  # the funnel's order

    # printed beside the FVA: one line per grouping, the bias of each lag beside
    assert "Pipeline accuracy" in out
    table = out[out.index("Pipeline accuracy"):].splitlines()
    lines = {tuple(line.split()[:2]): line.split() for line in table if line.split()[:1] in
             (["Total"], ["Stage"], ["Owner"])}
    # Kim: D1, D2, D10 decided (360 units, 70 + 100 + 30 stated, D1's 100 won); D8 twice open; lag 1: D1, D2, D10
    # and February's D8 weigh 70 + 100 + 30 + 7 against D1's 100 won in January; lag 2: D8 only, nothing won
    assert lines[("Owner", "Kim")][2:] == ["3", "2", "360", "55.6%", "27.8%", "+27.8%", "100.0%", "+107.0%",
                                           "-"]
    assert lines[("Stage", "Commit")][2:] == ["1", "0", "80", "90.0%", "100.0%", "-10.0%", "0.0%", "-", "-"]
