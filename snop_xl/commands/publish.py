"""`snop-xl publish` and the ribbon's Publish button: store the plan the planners reviewed as a new immutable
version and write its id, KPIs and a "Published" stamp into the workbook, all or nothing (the archive commits only
once the stamped book is in place, and a failed commit puts the old book back). The cycle's own step 5
(`snop_xl.steps.kpis`) only names the plan a draft and computes KPIs; it never writes the archive.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from snop_xl import archive
from snop_xl import contract as C
from snop_xl.commands.kpis import write_kpis
from snop_xl.cycle import stale_steps
from snop_xl.errors import Problem, SnopError, ValidationError
from snop_xl.inputs import Inputs, load_inputs
from snop_xl.io import open_book
from snop_xl.io.base import STAMP_PREFIX, BookIO
from snop_xl.io.parse import cell_of
from snop_xl.steps.kpis import (
    archive_path_of,
    chosen_scenario,
    compute_kpis,
    plan_version_frame,
    published_as,
)

#: output tables of the cycle stored with a version (those present), and inputs that explain the plan
ARCHIVED_OUTPUTS = ("DemandPlan", "SupplyPlan", "CapacityPlan", "Gaps", "Exceptions", "ScenarioComparison",
                    "Financials", "Dashboard")
ARCHIVED_INPUTS = {"Overrides": "overrides", "Events": "events", "Decisions": "decisions", "Inventory": "inventory",
                   "Budget": "budget"}


def read_outputs(book: BookIO) -> dict[str, pd.DataFrame]:
    """The cycle's output tables as the planners reviewed them in the book (those present and readable)."""
    return book.read_tables(ARCHIVED_OUTPUTS + ("PlanVersion",))


def publish_book(path: str | Path | BookIO, approver: str | None = None, archive_file: str | Path | None = None,
                 now: dt.datetime | None = None) -> archive.Version:
    """Store the book's current plan as a new version, and write its id, KPIs and the Published stamp: all or
    nothing. `path` is a workbook file, or an open BookIO (the ribbon's live Excel book).

    The archive transaction stays open (write lock held) while the stamped book is saved beside the original and
    swapped in; it commits after the swap, and if the save, the swap or the commit fails, the transaction rolls
    back and the original file is put back: no archived version without its stamped book, and the reverse.
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
    path_db = Path(archive_file) if archive_file else archive_path_of(inputs)
    if path_db is None:
        raise SnopError("the workbook has no file location: set Settings 'Plan archive' to the archive's path")
    frames = {n: f for n, f in outputs.items() if n != "PlanVersion"}
    frames.update({name: getattr(inputs, attr) for name, attr in ARCHIVED_INPUTS.items()})
    # computed before the new version is in: it adds no actuals, so the KPIs are the same
    kpis = compute_kpis(inputs, outputs, path_db if path_db.exists() else None)
    finish: Callable[[bool], None] | None = None
    try:
        with archive.publishing(path_db, inputs.settings.cycle_month, content_hash, frames, approver=who,
                                scenario=chosen_scenario(inputs.decisions), book=Path(str(book.path)).name,
                                published_at=now) as version:
            if book.live:  # live Excel: writes land at once, so a failure must undo them
                finish = _draft_on_failure(book, inputs, content_hash, path_db)
            book.write_table(C.PLAN_VERSION, plan_version_frame(inputs, content_hash, version, path_db))
            write_kpis(book, kpis)
            stamp_book(book, version)
            book.log("publish", f"published plan version {version.version} to {path_db} (approver {who}, "
                                f"scenario {version.scenario})")
            kept = book.save_undoable()
            finish = finish or kept
    except BaseException:
        if finish is not None:
            finish(False)
        raise
    if finish is not None:
        finish(True)
    return version


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


