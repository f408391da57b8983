"""`snop-xl publish` and the ribbon's Publish button: store the plan the planners reviewed as a new immutable
version and write its id, KPIs and a "Published" stamp into the workbook. The stamped book is staged beside the
original while the archive transaction is open; the archive commits first and the staged book is renamed over the
original second, so a failure before the commit changes nothing, and a kill between the two leaves the staged book,
which the next command finishes or removes (`settle`): a stamp never names a version the archive lacks. The
cycle's own step 5 (`snop_xl.steps.kpis`) only names the plan a draft and computes KPIs; it never writes the archive.
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager as ContextManager
from pathlib import Path

import pandas as pd

from snop_xl import archive
from snop_xl import contract as C
from snop_xl.commands.kpis import write_kpis
from snop_xl.cycle import stale_steps
from snop_xl.errors import Problem, SnopError, ValidationError
from snop_xl.inputs import Inputs, load_inputs, parse_settings
from snop_xl.io import leftovers, open_book
from snop_xl.io.atomic import WriteError, check_writable, keep_mode, os_error_reason
from snop_xl.io.base import STAMP_PREFIX, BookIO
from snop_xl.io.parse import cell_of
from snop_xl.steps.demand import pipeline_deals
from snop_xl.steps.kpis import (
    chosen_scenario,
    compute_kpis,
    plan_version_frame,
    published_as,
)

#: output tables of the cycle stored with a version (those present), and inputs that explain the plan
ARCHIVED_OUTPUTS = ("DemandPlan", "SupplyPlan", "CapacityPlan", "Gaps", "Exceptions", "ScenarioComparison",
                    "Financials", "Dashboard")
ARCHIVED_INPUTS = {"Overrides": "demand_overrides", "Events": "events", "Decisions": "decisions", "Inventory": "inventory",
                   "Budget": "budget"}
#: optional inputs stored with a version when they have rows: the sales signals the plan heard, so that later cycles
#: can measure the pipeline it was built on (steps/pipeline_kpis.py)
ARCHIVED_SIGNALS = {"Orders": "orders", "Pipeline": "pipeline"}


def archived_inputs(inputs: Inputs) -> dict[str, pd.DataFrame]:
    """The input tables a version stores. The Pipeline with the probability each deal was planned with (a blank
    one is its stage's from the Stage probabilities setting, which the archive does not keep): the stated
    probability a later cycle compares with the realised win rate."""
    frames = {name: getattr(inputs, attr) for name, attr in ARCHIVED_INPUTS.items()}
    frames.update({name: getattr(inputs, attr) for name, attr in ARCHIVED_SIGNALS.items()
                   if len(getattr(inputs, attr))})
    if "Pipeline" in frames:
        frames["Pipeline"] = frames["Pipeline"].assign(probability=pipeline_deals(inputs)["used"].to_numpy())
    return frames


def read_outputs(book: BookIO) -> dict[str, pd.DataFrame]:
    """The cycle's output tables as the planners reviewed them in the book (those present and readable)."""
    return book.read_tables(ARCHIVED_OUTPUTS + ("PlanVersion",))


def publish_book(path: str | Path | BookIO, approver: str | None = None, archive_file: str | Path | None = None,
                 now: dt.datetime | None = None) -> archive.Version:
    """Store the book's current plan as a new version, and write its id, KPIs and the Published stamp. `path` is a
    workbook file, or an open BookIO (the ribbon's live Excel book).

    A file: the stamped book is staged beside the original while the archive transaction is open (write lock
    held); the archive commits first, then the staged book is renamed over the original. A failure before the
    commit leaves no version and the book untouched; a kill after it leaves the staged book for `settle`.
    """

    book = path if isinstance(path, BookIO) else open_book(path)
    inputs = load_inputs(book)
    outputs = read_outputs(book)
    content_hash = inputs.content_hash()
    demand = outputs.get("DemandPlan")
    if demand is None or not len(demand):
        raise SnopError(f"{book.path}: DemandPlan is empty; run the cycle first (snop-xl run {book.path})")
    stale = stale_steps(book, inputs)
    if stale:
        raise SnopError(f"{book.path}: the inputs changed since the plan was computed, or a step has not run: run "
                        "the cycle again (snop-xl run, or Run all) before publishing, so that the archive holds the "
                        "plan of these inputs. Details: " + "; ".join(str(p) for p in stale))
    who = (approver or inputs.settings.approver or "").strip()
    if not who:
        raise ValidationError([Problem(C.SETTINGS_TABLE.sheet, _setting_cell(book, "approver"), "Approver is blank",
                                       expected="who approves the plan (or pass --approver)")])
    # an archive given by hand is recorded in full: a relative path would mean another file in another folder,
    # and the next command must find it to finish a publish killed after the commit (`settle`)
    path_db = Path(archive_file).absolute() if archive_file else inputs.archive_path
    if path_db is None:
        raise SnopError("the workbook has no file location: set Settings 'Plan archive' to the archive's path")
    frames = {n: f for n, f in outputs.items() if n != "PlanVersion"}
    frames.update(archived_inputs(inputs))
    # computed before the new version is in: it adds no actuals, so the KPIs are the same
    kpis = compute_kpis(inputs, outputs, path_db if path_db.exists() else None)
    publishing = archive.publishing(path_db, inputs.settings.cycle_month, content_hash, frames, approver=who,
                                    scenario=chosen_scenario(inputs.decisions), book=Path(str(book.path)).name,
                                    published_at=now)
    if book.live:
        return _publish_live(book, inputs, kpis, path_db, publishing)
    target = Path(book.path)
    check_writable(target)  # refused before anything is archived: the final rename would replace a read-only book
    staged: Path | None = None
    try:
        with publishing as version:
            _write_published(book, inputs, kpis, version, path_db)
            staged = _stage(book, leftovers.staged_name(target, version.version, content_hash))
            _test_stage("staged")
    except BaseException:  # nothing committed: the book was never touched
        if staged is not None:
            staged.unlink(missing_ok=True)
        raise
    _test_stage("committed")
    _swap_in(staged, target, version)
    return version


def _test_stage(stage: str) -> None:
    """Kill tests only: with SNOP_XL_TEST_STAGES set, say on stderr that publishing reached `stage`, and wait
    there forever when it is the one named by SNOP_XL_TEST_PAUSE (so a test can SIGKILL it exactly there)."""
    if not os.environ.get("SNOP_XL_TEST_STAGES"):
        return
    print(f"at {stage}", file=sys.stderr, flush=True)
    while os.environ.get("SNOP_XL_TEST_PAUSE") == stage:
        time.sleep(1)


def _write_published(book: BookIO, inputs: Inputs, kpis: pd.DataFrame, version: archive.Version,
                     path_db: Path) -> None:
    """Everything a publish writes into the book: PlanVersion, KPIs, the stamp, a Log line."""
    book.write_table(C.PLAN_VERSION, plan_version_frame(inputs, inputs.content_hash(), version, path_db))
    write_kpis(book, kpis, inputs.items)
    stamp_book(book, version)
    book.log("publish", f"published plan version {version.version} to {path_db} (approver {version.approver}, "
                        f"scenario {version.scenario})")


def _stage(book: BookIO, staged: Path) -> Path:
    """The stamped book saved (atomically) under the staged name beside the original, which stays untouched."""
    target = book.path
    try:
        book.save(staged)  # type: ignore[call-arg]  # file engines save to a given path
    except (OSError, SnopError) as exc:
        reason = (exc.reason if isinstance(exc, WriteError) else os_error_reason(exc) if isinstance(exc, OSError)
                  else str(exc).replace(staged.name, "it"))
        raise SnopError(f"{target}: nothing was published, the stamped book could not be saved beside it "
                        f"({reason})") from None
    finally:
        book.path = target
    return staged


def _swap_in(staged: Path, target: Path, version: archive.Version) -> None:
    """The committed version's stamped book renamed over the original (keeping its permissions), one atomic step."""
    try:
        keep_mode(target, staged)
        os.replace(staged, target)  # refused while another program locks the file (Excel on Windows)
    except OSError as exc:
        raise SnopError(f"plan version {version.version} is in the archive, but {target} could not be replaced by "
                        f"its stamped copy ({exc.strerror or exc}): close the book in every program, then run any "
                        f"snop-xl command on it (e.g. snop-xl validate {target}); it finishes the publish from "
                        f"{staged.name}") from exc


def _publish_live(book: BookIO, inputs: Inputs, kpis: pd.DataFrame, path_db: Path,
                  publishing: ContextManager[archive.Version]) -> archive.Version:
    """Live Excel: writes land at once, so the archive commits after them and a failure goes back to the draft."""
    finish: Callable[[bool], None] | None = None
    try:
        with publishing as version:
            finish = _draft_on_failure(book, inputs, inputs.content_hash(), path_db)
            _write_published(book, inputs, kpis, version, path_db)
            book.save_undoable()
    except BaseException:
        if finish is not None:
            finish(False)
        raise
    return version


# ---- the next command after a killed publish or save ----------------------------------------------------------
def settle(book_path: str | Path) -> list[str]:
    """Before a command on `book_path`: finish or remove what killed saves and publishes left beside it. Returns
    one line per leftover saying what was done, or what is left and why."""
    book = Path(book_path)
    notes = []
    settled = False
    for leftover in leftovers.find(book):
        if not leftovers.abandoned(leftover):
            notes.append(f"left {leftover.path.name} beside {book.name}: {leftovers.why_kept(leftover)}")
            continue
        settled = True
        if leftover.kind == "publish" and leftover.version:
            notes.append(_finish_publish(book, leftover))
        else:
            failed = leftovers.remove(leftover)
            notes.append(f"could not remove {leftover.path.name} ({failed}), left by an interrupted snop-xl run"
                         if failed else f"removed {leftover.path.name}, left by an interrupted snop-xl run")
    default_journal = archive.default_path(book).with_name(archive.default_path(book).name + "-journal")
    if settled or default_journal.exists():  # a publish killed in its archive transaction leaves no other trace
        notes += _roll_back_archive(book)
    return notes


def _archive_of(book: Path, copy: Path, recorded: bool = True) -> Path:
    """The archive a publish of `book` uses, read from `copy` (the book or a copy a publish staged beside it). With
    `recorded`, the path its PlanVersion shows if absolute (a staged copy shows the archive its publish used);
    else, and for a relative path (relative to the folder the publish ran in, which need not be this command's),
    where the Settings put it beside `book`."""
    opened = open_book(copy)
    if recorded:
        shown, _ = opened.read_table(C.PLAN_VERSION)
        path = str(shown["archive"].iloc[0]) if len(shown) and pd.notna(shown["archive"].iloc[0]) else ""
        if path and Path(path).expanduser().is_absolute():
            return Path(path).expanduser()
    settings, _ = parse_settings(opened.read_table(C.SETTINGS_TABLE)[0])
    return archive.default_path(book, settings.archive_path if settings else "")


def _roll_back_archive(book: Path) -> list[str]:
    """A publish killed while its archive transaction was open leaves SQLite's journal beside the archive. Under the
    archive's write lock no other transaction is open, and SQLite has rolled back a journal that was needed (a hot
    one, whose changes reached the archive): what is still there no transaction uses (its header was never
    completed) and is removed. Without the lock (another publish at work) the journal stays."""
    try:
        path_db = _archive_of(book, book, recorded=False)  # the book's PlanVersion may be older than a move
    except (SnopError, OSError, KeyError, IndexError):
        return []
    journal = path_db.with_name(path_db.name + "-journal")
    if not journal.exists() or not path_db.is_file():
        return []
    try:
        conn = sqlite3.connect(path_db, timeout=0, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                journal.unlink(missing_ok=True)
            finally:
                conn.execute("ROLLBACK")
        finally:
            conn.close()
    except (sqlite3.Error, OSError) as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            return []  # a publish at work holds it: its journal, not a leftover
        what = archive.explain(path_db, exc).problems[0].message
        return [f"left {journal.name} beside {path_db.name}: the journal of an interrupted publish, which could not "
                f"be rolled back ({path_db.name} {what})"]
    return [f"rolled back the unfinished transaction of an interrupted publish in {path_db}"]


def _finish_publish(book: Path, staged: leftovers.Leftover) -> str:
    """A stamped book staged by a killed publish: renamed over the book if the archive committed its version and
    the book was not saved since, removed if the archive never committed it, else kept and reported."""
    name = staged.path.name
    try:
        path_db = _archive_of(book, staged.path)
        found = [v for v in archive.versions(path_db) if v.version == staged.version]
    except (SnopError, OSError, IndexError, KeyError) as exc:
        return (f"left {name} beside {book.name}: a publish of {staged.version} was interrupted and its archive "
                f"cannot be checked ({exc}); delete {name} if {staged.version} is not in the archive")
    if not any(v.book == book.name and v.content_hash.startswith(staged.hash8) for v in found):
        failed = leftovers.remove(staged)
        return (f"removed {name}: a publish of {staged.version} was interrupted before the archive {path_db} "
                f"committed it, so nothing was published" + (f" (could not delete it: {failed})" if failed else ""))
    if not book.exists() or book.stat().st_mtime_ns > staged.path.stat().st_mtime_ns:
        return (f"left {name}: plan version {staged.version} is in the archive {path_db}, but a publish was "
                f"interrupted before it stamped {book.name}, which was saved since; {name} is the stamped book "
                f"of that version: use it, or delete it and publish again")
    try:
        keep_mode(book, staged.path)
        os.replace(staged.path, book)
    except OSError as exc:
        return (f"left {name}: plan version {staged.version} is in the archive but {book.name} could not be "
                f"stamped ({exc.strerror or exc}): close the book in every program and run the command again")
    return (f"finished the publish of {staged.version} that was interrupted after the archive {path_db} "
            f"committed it: {book.name} is now stamped with it")


def _setting_cell(book: BookIO, key: str) -> str:
    """The value cell of Settings row `key` (its label as in the contract), '' when the row is missing."""
    frame, _ = book.read_table(C.SETTINGS_TABLE)
    label = next(s.label for s in C.SETTINGS if s.key == key)
    rows = [row for row, name in zip(frame.index, frame.get("setting", []))
            if str(name).strip().lower() == label.lower()]
    return cell_of(frame, "value", rows[0]) if rows else ""


def _draft_on_failure(book: BookIO, inputs: Inputs, content_hash: str, path_db: Path) -> Callable[[bool], None]:
    """The `finish(ok)` of a live publish: nothing when it succeeded, back to the draft when it failed."""
    def finish(ok: bool) -> None:
        if not ok:
            _back_to_draft(book, inputs, content_hash, path_db)
    return finish


def _back_to_draft(book: BookIO, inputs: Inputs, content_hash: str, path_db: Path) -> None:
    """Undo a failed publish in a live book: PlanVersion as a run would show it (the draft, or an earlier version
    of the same inputs) and no stamp (the KPIs may stay refreshed)."""
    book.unstamp([name for name in C.OUTPUT_SHEETS if name != C.LOG.sheet])
    book.write_table(C.PLAN_VERSION, plan_version_frame(inputs, content_hash, published_as(path_db, content_hash),
                                                        path_db))


def stamp_text(version: archive.Version) -> str:
    return f"{STAMP_PREFIX}{version.version} {version.published_at:%Y-%m-%d %H:%M} UTC by {version.approver}"


def stamp_book(book: BookIO, version: archive.Version) -> None:
    """Mark the output sheets (not the Log) as published: protected without password (Review > Unprotect lifts
    it), the version in the page header. Writing any of them again (a re-run) lifts the stamp: `BookIO.unstamp`."""
    book.stamp([name for name in C.OUTPUT_SHEETS if name != C.LOG.sheet], stamp_text(version))


