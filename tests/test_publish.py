"""Step 5: publish to the archive, KPIs of published plans against later actuals (by hand), plan diff, CLI."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from snop_xl.steps import kpis as kpi_step
from snop_xl.commands import kpis as kpis_cmd
from snop_xl.commands import diff as diff_cmd
from snop_xl.io import openpyxl_book
from snop_xl import archive, cycle

from snop_xl.calc import kpi

from snop_xl.commands import publish, summary
from snop_xl.cycle import STEPS, input_tag
from snop_xl import contract as C
from snop_xl.cli import main
from snop_xl.errors import SnopError, ValidationError
from snop_xl.inputs import load_inputs
from snop_xl.io import open_book

from .conftest import make_book, small_frames

P = lambda s: pd.Period(s, "M")  # noqa: E731


def _outputs(periods: pd.PeriodIndex, a_stat: float, a_cons: float, opening: dict[str, float]) -> dict:
    """Hand-made step 1-4 outputs: A has an override (a_cons), B is planned flat at 20."""
    demand, supply, fin = [], [], []
    for p in periods:
        for item, stat, cons in (("A", a_stat, a_cons), ("B", 20.0, 20.0)):
            demand.append(dict(level="Item", family="F", item=item, period=p, statistical=stat, events=0.0,
                               override=cons if cons != stat else None, consensus=cons, method="naive"))
            supply.append(dict(item=item, family="F", period=p, demand=cons, opening=opening[item] if p == periods[0]
                               else 0.0, supply=cons, closing=0.0, safety_stock=0.0, shortage=0.0,
                               days_of_supply=0.0))
        fin.append(dict(horizon="Month", level="Family", family="F", period=p, plan_units=a_cons + 20, revenue=10 * a_cons + 100, cogs=0.0,
                        margin=4 * a_cons + 60, inventory_value=0.0, budget_units=None, budget_revenue=None,
                        units_variance=None, revenue_variance=None, revenue_variance_pct=None))
    return {"DemandPlan": pd.DataFrame(demand), "SupplyPlan": pd.DataFrame(supply), "Financials": pd.DataFrame(fin)}


def _ran_book(path: Path, frames: dict, settings: dict, a_stat: float, a_cons: float) -> Path:
    """A book whose cycle has 'run': inputs, step 1-4 outputs and step 5's draft PlanVersion/KPIs written."""
    make_book(path, frames, settings)
    book = open_book(path)
    inputs = load_inputs(book)
    outs = _outputs(inputs.settings.periods, a_stat, a_cons, inputs.inventory.set_index("item")["on_hand"])
    outs.update(kpi_step.run(inputs, outs))
    for name, frame in outs.items():
        book.write_table(C.table(name), frame)
    for step in STEPS:
        book.log(step.name, f"test run; {input_tag(inputs)}")  # as run_book records the inputs each step used
    book.save()
    return path


def _second_cycle_frames() -> dict:
    """Two months later: January and February 2027 actuals are in History, stock was counted again."""
    frames = small_frames()
    extra = [("A", P("2027-01"), 11.0), ("A", P("2027-02"), 14.0), ("B", P("2027-01"), 20.0), ("B", P("2027-02"), 18.0)]
    frames["History"] = pd.concat([frames["History"], pd.DataFrame(extra, columns=["item", "period", "qty"])],
                                  ignore_index=True)
    frames["Inventory"] = frames["Inventory"].assign(on_hand=[20.0, 5.0])
    frames["Capacity"] = frames["Capacity"].assign(period=pd.period_range("2027-03", periods=6, freq="M"))
    frames["Budget"] = frames["Budget"].assign(period=pd.period_range("2027-03", periods=6, freq="M"))
    return frames


def _kpi(kpis: pd.DataFrame, **where) -> float:
    rows = kpis
    for k, v in where.items():
        rows = rows[rows[k].isna()] if v is None else rows[rows[k] == v]
    assert len(rows) == 1, (where, rows)
    return float(rows["value"].iloc[0])


@pytest.fixture(scope="module")
def cycles(tmp_path_factory):
    """Cycle 2027-01 published twice, then cycle 2027-03 run against the same archive (tests only add to it)."""
    tmp_path = tmp_path_factory.mktemp("cycles")
    db = tmp_path / "plans.sqlite"
    frames = small_frames()
    frames["Overrides"] = pd.DataFrame({
        "item": ["A", "A", "A"], "family": [None] * 3, "period": [P("2027-01"), P("2027-02"), P("2027-02")],
        "qty": [12.0, 12.0, 13.0], "owner": ["Sales", "Sales", "Marketing"], "reason": [""] * 3})
    first = _ran_book(tmp_path / "jan.xlsx", frames, {"archive_path": str(db), "approver": "Ann"},
                      a_stat=10.0, a_cons=12.0)
    v1 = publish.publish_book(first)
    v2 = publish.publish_book(first, approver="Bob")
    second = _ran_book(tmp_path / "mar.xlsx", _second_cycle_frames(),
                       {"cycle_month": P("2027-03"), "archive_path": str(db)}, a_stat=15.0, a_cons=15.0)
    return db, first, second, v1, v2


def test_publish_twice_gives_revisions_and_stamps_the_book(cycles):
    db, first, _, v1, v2 = cycles
    assert (v1.version, v2.version) == ("2027-01-r1", "2027-01-r2")
    assert (v1.approver, v2.approver) == ("Ann", "Bob")
    assert v1.content_hash == v2.content_hash == load_inputs(open_book(first)).content_hash()
    _, frames = archive.load(db, v2.version)
    assert {"DemandPlan", "SupplyPlan", "Financials", "Overrides", "Decisions", "Inventory"} <= set(frames)
    assert frames["DemandPlan"]["consensus"].sum() == pytest.approx((12 + 20) * 6)
    version, problems = open_book(first).read_table(C.PLAN_VERSION)
    assert not problems
    assert version[["version", "status", "approver"]].iloc[0].tolist() == ["2027-01-r2", "Published", "Bob"]
    wb = openpyxl.load_workbook(first)
    assert wb["DemandPlan"].protection.sheet and "2027-01-r2" in wb["DemandPlan"].oddHeader.center.text
    assert not wb["Items"].protection.sheet  # input sheets stay the planners'


def test_plain_run_never_writes_the_archive(cycles):
    db, first, _, _, v2 = cycles
    inputs = load_inputs(open_book(first))
    before = len(archive.versions(db))
    out = kpi_step.run(inputs, _outputs(inputs.settings.periods, 10.0, 12.0, {"A": 15.0, "B": 0.0}))
    assert len(archive.versions(db)) == before
    assert out["PlanVersion"][["version", "status"]].iloc[0].tolist() == [v2.version, "Published"]  # same inputs
    changed = inputs.replace(settings=inputs.settings.__class__(**{**inputs.settings.__dict__, "horizon": 5}))
    draft = kpi_step.run(changed, {})["PlanVersion"].iloc[0]
    assert draft["status"] == "Draft" and draft["version"] == f"2027-01-draft-{changed.content_hash()[:8]}"


def test_published_accuracy_fva_and_adherence_by_hand(cycles):
    db, _, second, _, _ = cycles
    kpis, problems = open_book(second).read_table(C.KPIS)
    assert not problems
    pub = kpis[(kpis["basis"] == "published") & kpis["cycle"].isna()]
    # lag 1 = January 2027: A 11 sold vs consensus 12, B 20 vs 20
    assert _kpi(pub, level="Total", metric="ACCURACY", step="consensus", lag=1) == pytest.approx(1 - 1 / 31)
    assert _kpi(pub, level="Total", metric="BIAS", step="consensus", lag=1) == pytest.approx(1 / 31)
    assert _kpi(pub, level="Item", name="A", metric="MAPE", step="consensus", lag=2) == pytest.approx(2 / 14)
    assert _kpi(pub, level="Total", metric="WAPE", step="statistical", lag=2) == pytest.approx(6 / 32)
    # tracking signal of the total's monthly series: one month at lag 1, 32 planned vs 31 sold -> +1 / 1
    ts = pub[(pub["level"] == "Total") & (pub["metric"] == "TRACKING_SIGNAL") & (pub["step"] == "consensus")
             & (pub["lag"] == 1)]
    assert ts["value"].tolist() == [1.0] and ts["observations"].tolist() == [1]
    # FVA at lag 2: statistical misses 4 + 2 units, consensus 2 + 2, on 32 sold; events add nothing
    assert _kpi(pub, level="Total", metric="FVA", step="consensus", lag=2) == pytest.approx(2 / 32)
    assert _kpi(pub, level="Total", metric="FVA", step="events", lag=2) == pytest.approx(0)
    # seasonal naive for Feb 2027 = Feb 2026 actuals (10, 20) = the statistical forecast here
    assert _kpi(pub, level="Total", metric="FVA", step="statistical", lag=2) == pytest.approx(0)
    # per owner, replayed with demand.apply_overrides: Feb A goes 10 -> 12 (Sales) -> 13 (Marketing); actual 14
    assert _kpi(pub, level="Total", metric="FVA", step="owner: Sales", lag=2) == pytest.approx(2 / 32)
    assert _kpi(pub, level="Total", metric="FVA", step="owner: Marketing", lag=2) == pytest.approx(1 / 32)
    assert _kpi(pub, level="Total", metric="FVA", step="owner: Sales", lag=1) == pytest.approx(0)  # 10 -> 12 vs 11
    trend = kpis[(kpis["basis"] == "published") & (kpis["cycle"] == P("2027-01"))]
    assert _kpi(trend, level="Total", metric="ACCURACY", step="consensus", lag=1) == pytest.approx(30 / 31)
    # supply arrived Jan-Feb = stock Mar - stock Jan + sold: A 20 - 15 + 25 = 30, B 5 - 0 + 38 = 43 vs plan 24, 40
    assert _kpi(kpis, level="Total", metric="PLAN_ADHERENCE", cycle=None) == pytest.approx(1 - 9 / 64)
    assert _kpi(kpis, level="Item", name="A", metric="PLAN_ADHERENCE", cycle=None) == pytest.approx(1 - 6 / 24)


def test_current_plan_kpis_by_hand(cycles):
    _, first, _, _, _ = cycles
    kpis, _ = open_book(first).read_table(C.KPIS)
    plan = kpis[kpis["basis"] == "plan"]
    assert _kpi(plan, level="Total", metric="FILL_RATE") == pytest.approx(1.0)
    # A: 15 on hand vs 12 a month -> 30 days + 3/12 of a month; B none; total 15 vs 32 a month
    assert _kpi(plan, level="Item", name="A", metric="DAYS_OF_SUPPLY") == pytest.approx(30 + 30 * 3 / 12)
    assert _kpi(plan, level="Total", metric="DAYS_OF_SUPPLY") == pytest.approx(30 * 15 / 32)
    back = kpis[kpis["basis"] == "backtest"]
    assert _kpi(back, level="Total", metric="ACCURACY", step="naive", lag=1) == pytest.approx(1.0)  # flat history


def test_backtest_fva_of_the_statistical_forecast_over_naive(cycles):
    _, _, second, _, _ = cycles
    kpis, _ = open_book(second).read_table(C.KPIS)
    back = kpis[kpis["basis"] == "backtest"]
    # backtest months Sep 2026 - Feb 2027; seasonal naive says 10 (A) and 20 (B) throughout (2025 has no actuals:
    # the last actual before the origin); sold the same until 2027, then A 11, 14 and B 20, 18: 7 units off of 183
    naive = _kpi(back, level="Total", metric="ACCURACY", step="naive", lag=1)
    assert naive == pytest.approx(1 - 7 / 183)
    for level, name in (("Total", "Total"), ("Family", "F")):
        for lag in (1, 2, 3):
            stat = _kpi(back, level=level, name=name, metric="ACCURACY", step="statistical", lag=lag)
            base = _kpi(back, level=level, name=name, metric="ACCURACY", step="naive", lag=lag)
            assert _kpi(back, level=level, name=name, metric="FVA", step="statistical", lag=lag) == \
                pytest.approx(stat - base)
    assert back[(back["metric"] == "FVA") & (back["step"] == "naive")].empty  # the benchmark adds nothing to itself
    assert back[(back["metric"] == "FVA") & (back["level"] == "Item")].empty


def test_plan_diff_between_cycles(cycles):
    db, _, second, v1, v2 = cycles
    v3 = publish.publish_book(second, approver="Cy")
    diff = diff_cmd.diff_versions(db, v2.version, v3.version)
    demand = diff[diff["measure"] == "demand"].set_index("family")
    # months both plan: March-June 2027; A goes 12 -> 15 a month
    assert demand.loc["F", ["from_value", "to_value", "change"]].tolist() == [128.0, 140.0, 12.0]
    assert demand.loc["Total", "rank"] == 0 and demand.loc["F", "rank"] == 1
    revenue = diff[diff["measure"] == "revenue"].set_index("family")
    assert revenue.loc["F", "change"] == pytest.approx(4 * 10 * 3)
    assert diff_cmd.diff_versions(db, v1.version, v2.version)["change"].abs().sum() == 0


def test_publish_refuses_stale_or_unapproved_plans(tmp_path):
    path = make_book(tmp_path / "b.xlsx", small_frames())
    with pytest.raises(SnopError, match="DemandPlan is empty"):
        publish.publish_book(path)
    _ran_book(path, small_frames(), {"currency": "EUR"}, 10.0, 10.0)
    book = open_book(path)
    settings = book.wb["Settings"]
    row = next(r for r in range(2, settings.max_row + 1) if settings.cell(r, 1).value == "Currency")
    settings.cell(row, 2, "USD")  # an input edited after the cycle ran: the sheets hold the plan of other inputs
    book.save()
    with pytest.raises(SnopError, match="inputs changed.*Log!D2: step 1 Forecast demand ran on other inputs"):
        publish.publish_book(path)
    _ran_book(path, small_frames(), {}, 10.0, 10.0)
    with pytest.raises(ValidationError, match="Approver is blank") as err:
        publish.publish_book(path)
    ws = openpyxl.load_workbook(path)["Settings"]
    row = next(r for r in range(1, ws.max_row + 1) if ws.cell(r, 1).value == "Approver")
    assert err.value.problems[0].location == f"Settings!B{row}"  # the cell to fill in
    assert not (tmp_path / "b.snop.sqlite").exists()


def test_cli_publish_kpis_diff(tmp_path, capsys):
    path = _ran_book(tmp_path / "c.xlsx", small_frames(), {"approver": "Dee"}, 10.0, 12.0)
    assert main(["publish", str(path)]) == 0
    assert main(["publish", str(path), "--approver", "Eve"]) == 0
    assert (tmp_path / "c.snop.sqlite").exists()
    out = capsys.readouterr().out
    assert "published 2027-01-r1" in out and "published 2027-01-r2" in out
    assert main(["kpis", str(path), "--versions"]) == 0
    assert "2027-01-r2" in capsys.readouterr().out
    assert main(["kpis", str(path), "--level", "Total", "--metric", "FILL_RATE"]) == 0
    assert "FILL_RATE" in capsys.readouterr().out
    assert main(["diff", str(path), "--from", "2027-01-r1", "--sheet"]) == 0
    out = capsys.readouterr().out
    assert "plan diff 2027-01-r1 -> 2027-01-r2" in out and "+0.0%" in out  # a share of change shown as a percent
    diff, problems = open_book(path).read_table(C.PLAN_DIFF)
    assert not problems and set(diff["to_version"]) == {"2027-01-r2"}
    assert main(["diff", str(path), "--from", "nope"]) == 1


# ---- the stamp: lifted by any write of the sheet (a re-run), in both engines -----------------------------------
def test_rerun_lifts_the_published_stamp_of_the_sheets_it_rewrites(cycles, tmp_path):
    _, first, _, _, _ = cycles
    book_path = shutil.copy(first, tmp_path / "rerun.xlsx")
    wb = openpyxl.load_workbook(book_path)
    assert wb["KPIs"].protection.sheet and wb["Dashboard"].oddHeader.center.text.startswith("PUBLISHED ")
    cycle.run_book(open_book(book_path), steps=["publish"])  # writes PlanVersion (Dashboard), KPIs, KPITrend
    wb = openpyxl.load_workbook(book_path)
    for sheet in ("Dashboard", "KPIs"):
        assert not wb[sheet].protection.sheet and not wb[sheet].oddHeader.center.text
    assert wb["DemandPlan"].protection.sheet  # not rewritten: still the published plan, still stamped


def test_unstamp_keeps_a_header_that_is_not_ours(small_book):
    book = open_book(small_book)
    book.wb["KPIs"].oddHeader.center.text = "Confidential"
    book.wb["KPIs"].protection.sheet = True
    book.write_table(C.KPIS, pd.DataFrame(columns=C.KPIS.keys))
    assert book.wb["KPIs"].oddHeader.center.text == "Confidential" and not book.wb["KPIs"].protection.sheet


class _SheetApi:
    """Excel's Worksheet object as far as the stamp uses it (Protect/Unprotect, PageSetup.CenterHeader)."""

    def __init__(self, log: list, name: str):
        self.log, self.name, self.ProtectContents = log, name, False
        self.PageSetup = type("PageSetup", (), {"CenterHeader": ""})()

    def Protect(self) -> None:
        self.ProtectContents = True
        self.log.append(("protect", self.name))

    def Unprotect(self) -> None:
        self.ProtectContents = False
        self.log.append(("unprotect", self.name))


class _ExcelCalls(list):
    """The stand-in book's call log, refusing writes to a protected sheet the way Excel does."""

    def __init__(self, book):
        super().__init__()
        self.book = book

    def append(self, call) -> None:
        if call[0] in ("value", "clear_contents", "number_format"):
            api = self.book.sheets[call[1]].api
            if api.ProtectContents:
                raise RuntimeError(f"Excel: the cell is on a protected sheet ({call[1]})")
        super().append(call)


def _live(path: Path):
    from snop_xl.io.xlwings_book import XlwingsBook

    from .test_macros import FakeBook

    fake = FakeBook.copy_of(path)
    fake.calls = _ExcelCalls(fake)
    for sheet in fake.sheets:
        sheet.api = _SheetApi(fake.calls, sheet.name)
    return XlwingsBook(fake), fake


def test_live_excel_publish_stamps_and_a_rerun_unprotects_before_writing(tmp_path):
    path = _ran_book(tmp_path / "live.xlsm", small_frames(), {"approver": "Liv"}, 10.0, 12.0)
    live, fake = _live(path)
    version = publish.publish_book(live)  # the ribbon's book: archived, stamped through Excel's API
    assert version.version == "2027-01-r1" and [v.version for v in archive.versions(tmp_path / "live.snop.sqlite")]
    kpis = fake.sheets["KPIs"].api
    assert kpis.ProtectContents and kpis.PageSetup.CenterHeader.startswith("PUBLISHED 2027-01-r1")
    assert not fake.sheets["Items"].api.ProtectContents and not fake.sheets["Log"].api.ProtectContents
    live, fake = _live(path)  # a later session: the sheets are protected in Excel
    for sheet in fake.sheets:
        if sheet.name in C.OUTPUT_SHEETS and sheet.name != "Log":
            sheet.api.ProtectContents = True
            sheet.api.PageSetup.CenterHeader = "PUBLISHED 2027-01-r1 ..."
    cycle.run_book(live, steps=["publish"])  # would raise like Excel if a protected sheet were written
    assert not fake.sheets["KPIs"].api.ProtectContents and fake.sheets["KPIs"].api.PageSetup.CenterHeader == ""
    assert fake.sheets["DemandPlan"].api.ProtectContents  # not rewritten by step 5
    unprotects = [c for c in fake.calls if c[0] == "unprotect"]
    # step 5 rewrites PlanVersion (Dashboard), the KPIs and their review sheet: each unprotected once
    assert sorted({c[1] for c in unprotects}) == ["Dashboard", "KPIReview", "KPIs"] and len(unprotects) == 3


def test_live_sheet_protected_with_a_password_is_named(tmp_path):
    path = _ran_book(tmp_path / "pw.xlsx", small_frames(), {}, 10.0, 10.0)
    live, fake = _live(path)
    api = fake.sheets["KPIs"].api
    api.ProtectContents = True

    def refuse() -> None:
        raise RuntimeError("The password you supplied is not correct.")
    api.Unprotect = refuse
    with pytest.raises(SnopError, match="sheet 'KPIs' is protected with a password"):
        live.write_table(C.KPIS, pd.DataFrame(columns=C.KPIS.keys))


# ---- all or nothing: a publish failing half-way leaves no version and the book as it was -----------------------
def _files(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


def test_failed_save_leaves_no_version_and_the_book_untouched(tmp_path, monkeypatch):
    path = _ran_book(tmp_path / "s.xlsx", small_frames(), {"approver": "Sam"}, 10.0, 12.0)
    db = tmp_path / "s.snop.sqlite"
    publish.publish_book(path)
    before, files = path.read_bytes(), _files(tmp_path)

    def disk_full(self, filename):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(openpyxl.Workbook, "save", disk_full)
    monkeypatch.setattr(openpyxl_book, "save_workbook", disk_full, raising=False)  # the engine's own writer
    with pytest.raises(SnopError, match="nothing was published.*disk is full"):
        publish.publish_book(path)
    monkeypatch.undo()
    assert [v.version for v in archive.versions(db)] == ["2027-01-r1"]
    assert path.read_bytes() == before and _files(tmp_path) == files
    assert publish.publish_book(path).version == "2027-01-r2"  # nothing was left half-done


def test_failed_commit_puts_the_old_book_back(tmp_path, monkeypatch):
    path = _ran_book(tmp_path / "c.xlsx", small_frames(), {"approver": "Sam"}, 10.0, 12.0)
    db = tmp_path / "c.snop.sqlite"
    publish.publish_book(path)
    before, files = path.read_bytes(), _files(tmp_path)
    reader = sqlite3.connect(db, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT COUNT(*) FROM versions").fetchone()  # a KPI report reading: its lock blocks the commit
    monkeypatch.setattr(archive, "LOCK_TIMEOUT_S", 0.2)
    with pytest.raises(archive.ArchiveError, match="locked"):
        publish.publish_book(path)
    reader.execute("COMMIT")
    reader.close()
    assert [v.version for v in archive.versions(db)] == ["2027-01-r1"]
    assert path.read_bytes() == before and _files(tmp_path) == files
    version, _ = open_book(path).read_table(C.PLAN_VERSION)
    assert version["version"].iloc[0] == "2027-01-r1"


def test_failed_commit_in_live_excel_goes_back_to_draft(tmp_path, monkeypatch):
    path = _ran_book(tmp_path / "l.xlsx", small_frames(), {"approver": "Liv"}, 10.0, 12.0)
    db = tmp_path / "l.snop.sqlite"
    publish.publish_book(path)
    live, fake = _live(path)
    reader = sqlite3.connect(db, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT COUNT(*) FROM versions").fetchone()
    monkeypatch.setattr(archive, "LOCK_TIMEOUT_S", 0.2)
    with pytest.raises(archive.ArchiveError, match="locked"):
        publish.publish_book(live)
    reader.execute("COMMIT")
    reader.close()
    assert [v.version for v in archive.versions(db)] == ["2027-01-r1"]
    shown, _ = live.read_table(C.PLAN_VERSION)
    assert shown["version"].iloc[0] == "2027-01-r1"  # not the r2 it briefly showed: that version does not exist
    assert not any(s.api.ProtectContents for s in fake.sheets)


# ---- scenario and decisions with each version ------------------------------------------------------------------
def _with_decisions(scenario: str) -> dict:
    frames = small_frames()
    frames["Scenarios"] = pd.DataFrame({"scenario": ["Upside"], "scope": [""], "start": [None], "end": [None],
                                        "demand_factor": [1.1], "capacity_factor": [1.0], "supply_factor": [1.0],
                                        "price_factor": [1.0], "cost_factor": [1.0], "note": [""]})
    frames["Decisions"] = pd.DataFrame({
        "date": pd.to_datetime(["2027-01-05", "2027-01-12"]), "decision": ["Add a shift", "Go for upside"],
        "owner": ["COO", "CEO"], "scenario": ["", scenario], "note": ["", ""]})
    return frames


def test_scenario_and_decisions_recorded_and_listed(tmp_path, capsys):
    path = _ran_book(tmp_path / "d.xlsx", _with_decisions("upside"), {"approver": "Ann"}, 10.0, 12.0)
    shown, _ = open_book(path).read_table(C.PLAN_VERSION)
    assert shown[["status", "scenario", "decisions"]].iloc[0].tolist() == ["Draft", "upside", 2]
    v = publish.publish_book(path)
    assert v.scenario == "upside"
    shown, _ = open_book(path).read_table(C.PLAN_VERSION)
    assert shown[["status", "scenario", "decisions"]].iloc[0].tolist() == ["Published", "upside", 2]
    log = kpis_cmd.decisions_log(tmp_path / "d.snop.sqlite")
    assert log["decision"].tolist() == ["Add a shift", "Go for upside"] and set(log["version"]) == {v.version}
    assert main(["kpis", str(path), "--versions"]) == 0
    out = capsys.readouterr().out
    assert "upside" in out and "Go for upside" in out and "CEO" in out


def test_unknown_scenario_is_refused_at_its_cell(tmp_path, capsys):
    """A decision naming a scenario the Scenarios sheet lacks is an input problem: `validate` reports it at its
    cell before any step runs, and publishing refuses it (a typo would be archived as 'the scenario chosen')."""
    path = make_book(tmp_path / "u.xlsx", _with_decisions("Upsdie"), {"approver": "Ann"})
    assert main(["validate", str(path)]) == 2
    scenario_cell = f"Decisions!{C.column_letter(C.DECISIONS.keys.index('scenario') + 1)}3"
    assert scenario_cell in capsys.readouterr().err
    with pytest.raises(ValidationError) as err:
        publish.publish_book(path)
    (problem,) = err.value.problems
    assert problem.location == scenario_cell and "Upsdie" in str(problem)
    assert not (tmp_path / "u.snop.sqlite").exists()


# ---- KPI trend sheet and its native charts ---------------------------------------------------------------------
def test_kpi_trend_and_charts_by_hand(cycles):
    db, _, second, _, _ = cycles
    trend, problems = open_book(second).read_table(C.KPI_TREND)
    assert not problems
    assert trend["name"].tolist() == ["Total", "F"] and set(trend["cycle"]) == {P("2027-01")}
    total = trend.iloc[0]
    # consensus Jan cycle: A 12, B 20 a month; sold Jan 11, 20 (lag 1), Feb 14, 18 (lag 2); March not sold yet
    assert total["accuracy_lag1"] == pytest.approx(30 / 31) and total["bias_lag1"] == pytest.approx(1 / 31)
    assert total["accuracy_lag2"] == pytest.approx(28 / 32) and total["bias_lag2"] == pytest.approx(0)
    assert pd.isna(total["accuracy_lag3"])
    book = open_book(second)
    book.draw_charts()
    charts = book.wb["KPIs"]._charts
    assert len(charts) == 3  # accuracy by lag for Total and F, bias of both in one chart
    refs = [s.val.numRef.f for c in charts for s in c.series]
    assert all(r.startswith("'KPIs'!") for r in refs) and len(refs) == 3 + 3 + 2


def test_live_excel_draws_the_kpi_trends_as_one_picture(cycles):
    """In Excel (the recording stand-in) the KPIs sheet gets the charts headless draws natively, as one picture
    where those go, replaced on each run; a refusal is a Log warning."""
    from snop_xl.io.xlwings_book import KPI_PICTURE, XlwingsBook

    from .test_macros import FakeBook

    _, _, second, _, _ = cycles
    fake = FakeBook.copy_of(second)
    live = XlwingsBook(fake)
    live.draw_charts()
    live.draw_charts()
    sheet = fake.sheets["KPIs"]
    assert list(sheet.pictures) == [KPI_PICTURE]
    assert {c for c in fake.calls if c[0] == "picture" and c[1] == "KPIs"} == {
        ("picture", "KPIs", KPI_PICTURE, 1, C.SHEETS["KPIs"].charts_column)}
    axes = [ax for ax in sheet.pictures[KPI_PICTURE].axes if ax.lines]
    # as the native charts (test_kpi_trend_and_charts_by_hand): accuracy by lag for Total and F, bias of both
    assert [ax.get_title(loc="left") for ax in axes] == [
        "Forecast accuracy by lag (consensus): Total", "Forecast accuracy by lag (consensus): F",
        "Bias at lag 1 (consensus; + = over-forecast)"]
    assert [len(ax.lines) for ax in axes] == [3, 3, 2]
    assert axes[0].lines[0].get_ydata()[0] == pytest.approx(30 / 31)  # Total, lag 1, cycle 2027-01
    assert [line.get_label() for line in axes[2].lines] == ["Total", "F"]

    def refuse(*args, **kwargs):
        raise RuntimeError("Excel says no")
    sheet.pictures.add = refuse
    live.draw_charts()
    log, _ = live.read_table(C.LOG)
    assert "KPI charts not drawn: RuntimeError: Excel says no" in log["message"].tolist()


def test_cli_kpis_prints_a_summary_first(cycles, capsys):
    """`snop-xl kpis BOOK`: Total and families by lag, FVA per step and owner, adherence; items and one family on
    request; every row with --rows."""
    _, _, second, _, _ = cycles
    assert main(["kpis", str(second)]) == 0
    out = capsys.readouterr().out
    for heading, _, _ in summary.KPI_SECTIONS:
        assert heading in out
    lines = out.splitlines()
    accuracy = lines[lines.index(summary.KPI_SECTIONS[0][0]) + 1:]
    assert accuracy[0].split() == ["level", "name", "step", "ACCURACY", "L1", "ACCURACY", "L2", "BIAS", "L1",
                                   "BIAS", "L2", "TRACKING_SIGNAL", "L1", "TRACKING_SIGNAL", "L2"]
    # consensus of the January cycle: 32 planned, 31 sold at lag 1 (test_kpi_trend_and_charts_by_hand)
    assert accuracy[2].split()[:6] == ["Total", "Total", "consensus", f"{30 / 31:.1%}", f"{28 / 32:.1%}",
                                       f"{1 / 31:+.1%}"]
    assert any(line.split()[2:4] == ["owner:", "Sales"] for line in lines)  # FVA per override owner
    assert "PLAN_ADHERENCE" in out and not any(line.split()[:1] == ["Item"] for line in lines)
    assert len(lines) < 60
    for args in (["--items"], ["--level", "item"], ["--family", "F", "--items"]):
        assert main(["kpis", str(second), *args]) == 0
        rows = [line.split() for line in capsys.readouterr().out.splitlines()]
        assert {"A", "B"} <= {r[1] for r in rows if r[:1] == ["Item"]}, args
        assert (["Total", "Total"] in [r[:2] for r in rows]) == (args == ["--items"]), args
    assert main(["kpis", str(second), "--family", "Nope"]) == 1
    assert "no family 'Nope'" in capsys.readouterr().err
    assert main(["kpis", str(second), "--rows", "--metric", "accuracy"]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert rows[0].split() == C.KPIS.keys and {r.split()[2] for r in rows[1:]} == {"ACCURACY"}
    assert any(r.split()[-2] == "2027-01" for r in rows[1:])  # per-cycle rows too


# ---- MASE where an in-sample naive scale exists ----------------------------------------------------------------
def test_naive_scales_and_pooled_mase_by_hand():
    months = pd.period_range("2025-01", periods=14, freq="M")
    y = [10, 12, 14, 10, 12, 14, 10, 12, 14, 10, 12, 14, 11, 13]
    history = pd.DataFrame({"item": "A", "period": months, "qty": np.array(y, dtype=float)})
    history = pd.concat([history, pd.DataFrame({"item": "B", "period": months[:3], "qty": [5.0, 5.0, 9.0]})])
    targets = pd.DataFrame({"item": ["A", "A", "B"], "origin": [P("2026-03"), P("2026-02"), P("2025-04")]})
    scales = kpi_step.naive_scales(history, targets, season_length=12)
    # A to 2026-02: 14 months > one season -> seasonal: |11-10|, |13-12| -> 1.0; A to 2026-01: 13 -> |11-10| = 1
    # B to 2025-03: 3 months <= 12 -> one-step naive: |5-5|, |9-5| -> 2.0
    assert scales.tolist() == pytest.approx([1.0, 1.0, 2.0])
    frame = pd.DataFrame({"g": "x", "actual": [10.0, 20.0, 6.0], "forecast": [12.0, 17.0, 7.0],
                          "scale": [1.0, np.nan, 2.0]})
    t = kpi.metric_table(frame, ["g"], metrics=("MASE",))
    assert t["value"].iloc[0] == pytest.approx((2 / 1 + 1 / 2) / 2) and t["observations"].iloc[0] == 2
    assert kpi.mase([3, 5], [4, 4], [1, 2, 4, 8], 1) == pytest.approx(1 / (7 / 3))


def test_flat_history_gives_no_mase_rows(cycles):
    _, first, _, _, _ = cycles
    kpis, _ = open_book(first).read_table(C.KPIS)
    assert "MASE" not in set(kpis["metric"])  # history never changes: no naive error to scale by


# ---- plan diff: biggest movers first, over the months both versions plan ----------------------------------------
def test_plan_diff_orders_families_by_size_of_change(capsys):
    def demand(values: dict[str, list[float]], start: str) -> pd.DataFrame:
        rows = [dict(level="Item", family=f, item=f"{f}-1", period=P(start) + k, consensus=v)
                for f, vs in values.items() for k, v in enumerate(vs)]
        return pd.DataFrame(rows)

    # old plans Jan-Mar, new plans Feb-Apr: only Feb and Mar are compared
    old = demand({"X": [99, 10, 10], "Y": [99, 50, 50], "Z": [99, 20, 20]}, "2027-01")
    new = demand({"X": [12, 12, 500], "Y": [40, 45, 500], "Z": [21, 20, 500]}, "2027-02")
    diff = diff_cmd.plan_diff({"DemandPlan": old}, {"DemandPlan": new}, "a", "b")
    assert set(diff["measure"]) == {"demand"}
    # changes by hand: X 20 -> 24 (+4), Y 100 -> 85 (-15), Z 40 -> 41 (+1); total 160 -> 150
    assert diff["family"].tolist() == ["Total", "Y", "X", "Z"] and diff["rank"].tolist() == [0, 1, 2, 3]
    assert diff["change"].tolist() == [-10.0, -15.0, 4.0, 1.0]
    assert diff["change_pct"].tolist() == pytest.approx([-10 / 160, -15 / 100, 4 / 20, 1 / 40])


def test_kpis_write_refreshes_the_table_its_trend_and_charts(cycles, tmp_path):
    _, _, second, _, _ = cycles
    path = Path(shutil.copy(second, tmp_path / "k.xlsx"))
    book = open_book(path)
    book.write_table(C.KPI_TREND, pd.DataFrame(columns=C.KPI_TREND.keys))  # a stale, empty trend
    book.save()
    assert main(["kpis", str(path), "--write", "--level", "Total"]) == 0
    trend, problems = open_book(path).read_table(C.KPI_TREND)
    assert not problems and trend["name"].tolist() == ["Total", "F"]
    assert trend["accuracy_lag1"].iloc[0] == pytest.approx(30 / 31)  # January: 32 planned, 31 sold
    assert len(openpyxl.load_workbook(path)["KPIs"]._charts) == 3


def test_two_planners_publishing_at_once_from_two_processes_both_land(tmp_path):
    """Two books, one shared archive, `snop-xl publish` started in two processes at the same moment."""
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    db = tmp_path / "shared" / "plans.sqlite"
    books = [_ran_book(tmp_path / f"{who}.xlsx", small_frames(), {"archive_path": str(db), "approver": who},
                       10.0, 12.0) for who in ("north", "south")]
    env = {**os.environ, "PYTHONPATH": str(root)}
    procs = [subprocess.Popen([sys.executable, "-m", "snop_xl.cli", "publish", str(b)], cwd=root, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for b in books]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    versions = archive.versions(db)
    assert sorted(v.version for v in versions) == ["2027-01-r1", "2027-01-r2"]
    for path in books:  # each book carries the version the archive recorded for it, and is stamped with it
        (mine,) = [v for v in versions if v.book == path.name]
        shown, _ = open_book(path).read_table(C.PLAN_VERSION)
        assert shown[["version", "status", "approver"]].iloc[0].tolist() == [mine.version, "Published",
                                                                              path.stem]
        assert mine.version in openpyxl.load_workbook(path)["DemandPlan"].oddHeader.center.text


def test_the_book_path_holds_a_whole_workbook_at_every_step_of_a_publish(tmp_path, monkeypatch):
    """A publish killed between two file operations must not leave the planner without a workbook: before and
    after each rename or link, the book's path opens as a workbook (the old one or the stamped one)."""
    path = _ran_book(tmp_path / "k.xlsx", small_frames(), {"approver": "Kim"}, 10.0, 12.0)
    checked = []

    def whole() -> None:
        load_inputs(open_book(path))  # raises if the path is missing or not a complete workbook
        checked.append(True)

    for name in ("replace", "link", "unlink"):
        real = getattr(openpyxl_book.os, name)

        def step(*args, _real=real, **kw):
            whole()
            result = _real(*args, **kw)
            whole()
            return result
        monkeypatch.setattr(openpyxl_book.os, name, step)
    version = publish.publish_book(path)
    monkeypatch.undo()
    assert len(checked) >= 4 and version.version == "2027-01-r1"
    shown, _ = open_book(path).read_table(C.PLAN_VERSION)
    assert shown["version"].iloc[0] == "2027-01-r1"
    assert _files(tmp_path) == {"k.xlsx", "k.snop.sqlite"}  # nothing left beside it
