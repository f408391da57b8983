"""`snop-xl roll`: two consecutive months walked through the CLI (run -> publish -> roll with the closed month's
billing lines -> run -> publish) with the lag-1 accuracy of the first plan computed here from its numbers and the
raw lines; and every refusal (no published version, no actuals, a bad --actuals file) leaving the book byte for
byte as it was."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

import macros
from snop_xl import archive
from snop_xl import contract as C
from snop_xl.cli import main as cli
from snop_xl.io import OpenpyxlBook, open_book

from .conftest import make_book, small_frames

P = lambda s: pd.Period(s, "M")  # noqa: E731

#: January 2027's billing lines as a German SAP extract writes them: ';', decimal comma, a return
JAN_LINES = "\n".join([
    "Material;Customer;Billing Date;Billed Qty;UoM;Net Value",
    "A;C100;05.01.2027;9;PC;90,00",
    "A;C200;20.01.2027;4,5;PC;45,00",
    "B;C100;10.01.2027;25;PC;125,00",
    "B;C300;28.01.2027;-3;PC;-15,00",  # a return, netted within the month
]) + "\n"
JAN_ACTUALS = {"A": 9 + 4.5, "B": 25 - 3.0}


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def frames() -> dict[str, pd.DataFrame]:
    """small_frames (A, B in family F; cycle 2027-01, horizon 6) with an event and an override that end in the
    closing month and one of each that goes on, and a decision."""
    f = small_frames()
    f["Events"] = pd.DataFrame({"item": ["A", "B"], "family": [None, None], "start": [P("2026-12"), P("2027-02")],
                                "end": [P("2027-01"), P("2027-03")], "uplift_pct": [0.2, None],
                                "uplift_qty": [None, 5.0], "owner": ["Marketing"] * 2, "note": ["new year", "fair"]})
    f["Overrides"] = pd.DataFrame({"item": ["A", "A"], "family": [None, None], "period": [P("2027-01"), P("2027-02")],
                                   "qty": [12.0, 13.0], "owner": ["Sales", "Sales"], "reason": ["deal", "deal 2"]})
    f["Decisions"] = pd.DataFrame({"date": [pd.Timestamp("2026-12-20")], "decision": ["keep stock flat"],
                                   "owner": ["CEO"], "scenario": [""], "note": ["S&OP meeting"]})
    return f


def table(path: Path, sheet: str) -> list[dict]:
    """A sheet's rows under its header, read with openpyxl (not the engine's reader)."""
    ws = openpyxl.load_workbook(path)[sheet]
    rows = list(ws.iter_rows(values_only=True))
    header = []
    for h in rows[0]:  # up to the first blank header: another table may sit beside it
        if h is None:
            break
        header.append(h)
    return [dict(zip(header, r)) for r in rows[1:] if any(v is not None for v in r[:len(header)])]


def settings_of(path: Path) -> dict:
    return {r["Setting"]: r["Value"] for r in table(path, "Settings")}


def log_of(path: Path) -> list[dict]:
    return [r for r in table(path, "Log") if r["Step"] == "roll"]


@pytest.fixture
def published(tmp_path: Path) -> Path:
    """Cycle 2027-01 run and published (approver Ann) through the CLI."""
    book = make_book(tmp_path / "jan.xlsx", frames(), {"approver": "Ann"})
    assert cli(["run", str(book)]) == 0
    assert cli(["publish", str(book)]) == 0
    return book


@pytest.fixture
def lines(tmp_path: Path) -> Path:
    path = tmp_path / "VF05_2027-01.csv"
    path.write_text(JAN_LINES, encoding="utf-8")
    return path


def test_two_months_kpis_by_lag_pick_up_the_new_actuals(published: Path, lines: Path, tmp_path: Path,
                                                        capsys) -> None:
    plan = {(r["Item"], r["Period"]): r["Consensus"] for r in table(published, "DemandPlan") if r["Level"] == "Item"}
    jan = dt.datetime(2027, 1, 1)
    before = digest(published)
    feb = tmp_path / "feb.xlsx"
    capsys.readouterr()
    assert cli(["roll", str(published), "--actuals", str(lines), "--yes", "-o", str(feb)]) == 0
    out = capsys.readouterr().out
    assert digest(published) == before  # -o: the closed cycle's book stays as it was published
    assert "cycle month 2027-01 -> 2027-02" in out and "published: 2027-01-r1" in out
    assert "Events!A2: Item=A; From=2026-12; To=2027-01; Uplift %=20%; Owner=Marketing; Note=new year" in out

    s = settings_of(feb)
    assert s["Cycle month"] == "2027-02" and s["Horizon (months)"] == 6
    assert s["Plan archive"] == "jan.snop.sqlite"  # feb.xlsx measures the plans published from jan.xlsx
    history = {r["Item"]: r for r in table(feb, "History")}
    assert {item: history[item]["2027-01"] for item in "AB"} == JAN_ACTUALS
    assert history["A"]["2026-12"] == 10  # the months before are kept
    assert [(r["Item"], r["To"]) for r in table(feb, "Events")] == [("B", dt.datetime(2027, 3, 1))]
    assert [(r["Period"], r["Qty"]) for r in table(feb, "Overrides")] == [(dt.datetime(2027, 2, 1), 13)]
    assert [r["Period"] for r in table(feb, "Capacity")] == [dt.datetime(2027, m, 1) for m in range(2, 7)]
    assert table(feb, "Decisions") == table(published, "Decisions")  # carried as they are
    log = log_of(feb)
    removed = [(r["Where"], r["Message"]) for r in log if r["Message"].startswith("removed")]
    assert removed == [
        ("Events!A2", "removed from Events (before cycle 2027-02): Item=A; From=2026-12; To=2027-01; Uplift %=20%; "
                      "Owner=Marketing; Note=new year"),
        ("Overrides!A2", "removed from Overrides (before cycle 2027-02): Item=A; Period=2027-01; Qty=12; "
                         "Owner=Sales; Reason=deal"),
        ("Capacity!A2", "removed from Capacity (before cycle 2027-02): Resource=Line; Period=2027-01; Available "
                        "Hours=100; Overtime Limit=0; Regular Cost/h=0; Overtime Cost/h=0")]
    assert log[0]["Where"] == "Settings!B2" and log[0]["Message"].startswith("cycle month 2027-01 -> 2027-02")
    assert any(r["Message"].startswith("History imported from VF05_2027-01.csv") for r in log)

    assert cli(["run", str(feb)]) == 0
    assert cli(["publish", str(feb)]) == 0
    db = tmp_path / "jan.snop.sqlite"
    assert [(v.version, v.book) for v in archive.versions(db)] == [("2027-01-r1", "jan.xlsx"),
                                                                   ("2027-02-r1", "feb.xlsx")]
    # lag 1 of the January plan: its consensus for 2027-01 against January's billed, net of returns
    forecast = {item: plan[(item, jan)] for item in "AB"}
    expected = 1 - sum(abs(forecast[i] - JAN_ACTUALS[i]) for i in "AB") / sum(JAN_ACTUALS.values())
    kpis = [r for r in table(feb, "KPIs") if r["Basis"] == "published" and r["Metric"] == "ACCURACY"
            and r["Step"] == "consensus" and r["Lag"] == 1]
    total = [r for r in kpis if r["Level"] == "Total" and r["Cycle"] == jan]
    assert len(total) == 1 and total[0]["Value"] == pytest.approx(expected) and total[0]["Observations"] == 2
    overall = [r for r in kpis if r["Level"] == "Total" and r["Cycle"] is None]
    assert overall[0]["Value"] == pytest.approx(expected)
    item_a = [r for r in kpis if r["Level"] == "Item" and r["Name"] == "A"]
    assert item_a[0]["Value"] == pytest.approx(1 - abs(forecast["A"] - 13.5) / 13.5)
    assert not any(r["Lag"] == 1 and r["Cycle"] == dt.datetime(2027, 2, 1) for r in kpis)  # February: no actuals yet


def test_roll_in_place_with_the_month_typed_into_history_and_from_the_ribbon(published: Path, tmp_path: Path) -> None:
    wb = openpyxl.load_workbook(published)  # as a planner pastes January's column into History
    ws = wb["History"]
    col = ws.max_column + 1
    ws.cell(1, col, "2027-01")
    for row in range(2, ws.max_row + 1):
        ws.cell(row, col, {"A": 11, "B": 19}[ws.cell(row, 1).value])
    wb.save(published)  # a column typed beside the table belongs to it, as Excel extends it
    other = tmp_path / "copy.xlsx"
    other.write_bytes(published.read_bytes())
    (tmp_path / "copy.snop.sqlite").write_bytes(published.with_name("jan.snop.sqlite").read_bytes())

    assert cli(["roll", str(published), "--yes"]) == 0
    assert settings_of(published)["Cycle month"] == "2027-02"
    assert settings_of(published).get("Plan archive") in (None, "")  # in place: the archive beside it still
    assert cli(["validate", str(published)]) == 0

    outcome = macros.roll(OpenpyxlBook(other))  # the ribbon's button on a headless book: asks no one, rolls
    assert outcome.ok, outcome.message
    assert "2027-02" in outcome.message and settings_of(other)["Cycle month"] == "2027-02"


def test_refused_without_a_published_version_unless_forced(tmp_path: Path, lines: Path, capsys) -> None:
    book = make_book(tmp_path / "jan.xlsx", frames(), {"approver": "Ann"})
    assert cli(["run", str(book)]) == 0
    before = digest(book)
    capsys.readouterr()
    assert cli(["roll", str(book), "--actuals", str(lines), "--yes"]) == 2
    err = capsys.readouterr().err
    assert "Settings!B2: cycle 2027-01 has no published version in the plan archive" in err
    assert "--force" in err
    assert digest(book) == before
    assert cli(["roll", str(book), "--actuals", str(lines), "--yes", "--force"]) == 0
    assert "no published version (forced)" in log_of(book)[0]["Message"]


def test_refused_without_the_closed_months_actuals(published: Path, capsys) -> None:
    before = digest(published)
    capsys.readouterr()
    assert cli(["roll", str(published), "--yes"]) == 2
    err = capsys.readouterr().err
    assert "History!N1: no History column for 2027-01: the actuals of the month the roll closes" in err
    assert err.count("History!N1") == 1
    assert digest(published) == before


def test_a_bad_actuals_file_is_refused_with_its_lines(published: Path, tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(["Material;Billing Date;Billed Qty", "A;05.01.2027;9", "Z;06.01.2027;3",
                              "B;03.02.2027;4"]) + "\n", encoding="utf-8")
    unreadable = tmp_path / "unreadable.csv"
    unreadable.write_text("Material;Billing Date;Billed Qty\nA;05.01.2027;9\nB;10.01.2027;x\n", encoding="utf-8")
    december = tmp_path / "dec.csv"  # the wrong month: nothing of the month being closed
    december.write_text("Material;Billing Date;Billed Qty\nA;05.12.2026;9\n", encoding="utf-8")
    before = digest(published)
    capsys.readouterr()
    assert cli(["roll", str(published), "--actuals", str(bad), "--yes"]) == 2
    err = capsys.readouterr().err
    assert "bad.csv!A3: unknown item (found 'Z')" in err
    assert "bad.csv!B4: a line of 2027-02, the cycle month or later" in err  # February: the new cycle's own month
    assert digest(published) == before
    assert cli(["roll", str(published), "--actuals", str(unreadable), "--yes"]) == 2
    err = capsys.readouterr().err
    assert "unreadable.csv!C3: bad Quantity (found 'x')" in err and "1 problem(s)" in err
    assert digest(published) == before
    assert cli(["roll", str(published), "--actuals", str(december), "--yes"]) == 2
    assert "dec.csv has no line of 2027-01" in capsys.readouterr().err
    assert cli(["roll", str(published), "--actuals", str(tmp_path / "missing.csv"), "--yes"]) != 0
    assert digest(published) == before


def test_nothing_changes_without_yes_or_on_a_dry_run(published: Path, lines: Path, capsys) -> None:
    before = digest(published)
    assert cli(["roll", str(published), "--actuals", str(lines)]) == 1  # no terminal under pytest
    assert cli(["roll", str(published), "--actuals", str(lines), "--dry-run"]) == 0
    assert "would roll the book from cycle 2027-01 to 2027-02" in capsys.readouterr().out
    assert digest(published) == before


def test_fiscal_year_rollover_drops_the_closed_years_budget_and_cleansing_keeps_past_events(tmp_path: Path,
                                                                                             capsys) -> None:
    f = frames()
    months = pd.period_range("2026-01", "2027-11", freq="M")
    f["History"] = pd.DataFrame([(i, p, 10.0 if i == "A" else 20.0) for i in "AB" for p in months],
                                columns=["item", "period", "qty"])
    f["Events"] = f["Events"].assign(start=[P("2027-10"), P("2027-12")], end=[P("2027-11"), P("2028-01")])
    f["Overrides"] = f["Overrides"].assign(period=[P("2027-12"), P("2028-01")])
    f["Capacity"] = f["Capacity"].assign(period=pd.period_range("2027-12", periods=6, freq="M"))
    f["Budget"] = pd.DataFrame({"family": ["F"] * 12, "item": [None] * 12,
                                "period": pd.period_range("2027-06", periods=12, freq="M"),
                                "units": [30.0] * 12, "revenue": [200.0] * 12})
    book = make_book(tmp_path / "dec.xlsx", f, {"cycle_month": P("2027-12"), "cleanse_history": True})
    lines = tmp_path / "dec_lines.csv"
    lines.write_text("Material,Order Date,Quantity\nA,2027-12-03,10\nB,2027-12-04,20\n", encoding="utf-8")
    capsys.readouterr()
    assert cli(["roll", str(book), "--actuals", str(lines), "--yes", "--force"]) == 0
    out = capsys.readouterr().out
    assert "fiscal year: 2027-01 to 2027-12 -> 2028-01 to 2028-12 (rolls over)" in out
    assert "Events: 1 row(s) ended before 2028-01, kept: Settings 'Cleanse past events' is on" in out
    assert settings_of(book)["Cycle month"] == "2028-01"
    assert [r["Period"].month for r in table(book, "Budget")] == [1, 2, 3, 4, 5]
    assert len(table(book, "Events")) == 2
    removed = [r for r in log_of(book) if r["Message"].startswith("removed from Budget")]
    assert [r["Where"] for r in removed] == [f"Budget!A{row}" for row in range(2, 9)]  # 2027-06 .. 2027-12
    assert "Period=2027-06; Units=30; Revenue=200" in removed[0]["Message"]
    inputs = open_book(book)
    frame, problems = inputs.read_table(C.OVERRIDES)
    assert not problems and list(frame["period"]) == [P("2028-01")]
    assert cli(["validate", str(book)]) == 0
