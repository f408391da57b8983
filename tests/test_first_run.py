"""A new user's first run: a book with items, history and capacity but no budget yet must run through the whole
cycle (finance's budget often arrives later), with the Financials in money and every budget column blank."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from snop_xl.cli import main
from snop_xl.io import open_book
from tests.conftest import make_book, small_frames


@pytest.fixture
def no_budget_book(tmp_path: Path) -> Path:
    frames = small_frames()
    del frames["Budget"]
    return make_book(tmp_path / "first.xlsx", frames)


def test_run_without_a_budget_completes_with_blank_budget_columns(no_budget_book: Path) -> None:
    assert main(["validate", str(no_budget_book)]) == 0
    assert main(["run", str(no_budget_book)]) == 0
    book = open_book(no_budget_book)
    fin, problems = book.read_table("Financials")
    assert not problems
    horizon = fin[(fin["horizon"] == "Horizon") & (fin["level"] == "Total")].iloc[0]
    # by hand: A sells 10 a month at 10, B 20 a month at 5 (flat history, 6-month plan, no shortage)
    assert horizon["revenue"] == pytest.approx(6 * (10 * 10 + 20 * 5), rel=0.02)
    budget_columns = ["budget_units", "budget_revenue", "revenue_variance", "price_effect", "volume_effect",
                      "mix_effect"]
    assert fin[budget_columns].isna().all().all()
    dash, _ = book.read_table("Dashboard")
    values = dict(zip(dash["metric"].str.strip(), dash["value"]))
    assert pd.isna(values["Revenue vs budget"]) and values["Plan revenue"] == pytest.approx(horizon["revenue"])
    exceptions, _ = book.read_table("Exceptions")
    assert not exceptions["kind"].isin(["Plan below budget", "Outlook below budget"]).any()


def test_report_and_publish_work_on_a_first_run(no_budget_book: Path, tmp_path: Path) -> None:
    assert main(["run", str(no_budget_book)]) == 0
    assert main(["report", str(no_budget_book), "-o", str(tmp_path / "pack.pdf")]) == 0
    assert (tmp_path / "pack.pdf").read_bytes().startswith(b"%PDF")
    assert main(["publish", str(no_budget_book), "--approver", "Ann"]) == 0


def test_a_book_without_stock_capacity_or_budget_says_so(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """Empty Inventory, Capacity and Budget are not errors (a first book often has none yet), but the planner is
    told what the plan did without, by validate, on the run's console and in the Log, each at its sheet."""
    frames = small_frames()
    for name in ("Budget", "Inventory", "Capacity", "BillOfResources"):
        del frames[name]
    path = make_book(tmp_path / "thin.xlsx", frames)
    assert main(["validate", str(path)]) == 0
    said = capsys.readouterr().out
    assert "Inventory!A2: no stock on hand" in said and "Capacity!A2: no capacity data" in said
    assert "Budget!A2: no budget" in said
    assert main(["run", str(path)]) == 0
    assert "warning: Capacity!A2: no capacity data" in capsys.readouterr().err
    log, _ = open_book(path).read_table("Log")
    warned = log[log["level"] == "WARNING"]
    assert set(warned["location"]) >= {"Inventory!A2", "Capacity!A2", "Budget!A2"}
    dash, _ = open_book(path).read_table("Dashboard")  # no capacity model: not "nothing binds"
    values = dict(zip(dash["metric"].str.strip(), dash["value"]))
    assert pd.isna(values["Binding resource money at stake (no capacity data)"])


def test_a_complete_book_gets_no_such_warning(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = make_book(tmp_path / "full.xlsx", small_frames())
    assert main(["validate", str(path)]) == 0
    assert "warning" not in capsys.readouterr().out


def test_capacity_without_a_bill_of_resources_is_called_what_it_is(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture) -> None:
    frames = small_frames()
    del frames["BillOfResources"]
    path = make_book(tmp_path / "nobor.xlsx", frames)
    assert main(["validate", str(path)]) == 0
    said = capsys.readouterr().out
    assert "BillOfResources!A2: no item loads a resource: the 6 Capacity rows limit nothing" in said
    assert "no capacity data" not in said


def test_export_takes_a_sheet_name_too(small_book: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """`export BOOK Reconciliation` (a sheet, not a table) exports the sheet's one table; a review sheet or an
    unknown name is a clear refusal, never a traceback."""
    assert main(["run", str(small_book)]) == 0
    capsys.readouterr()
    out = tmp_path / "gaps.csv"
    assert main(["export", str(small_book), "Reconciliation", "-o", str(out)]) == 0
    assert out.read_text(encoding="utf-8-sig").splitlines()[0].startswith("Level,Family,Item,Period")
    assert main(["export", str(small_book), "DemandReview"]) == 2
    assert "its numbers are table DemandPlan" in capsys.readouterr().err
    assert main(["export", str(small_book), "Nope"]) == 2
    assert "no table 'Nope'" in capsys.readouterr().err
