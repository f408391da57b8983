"""`snop-xl roll BOOK` and the ribbon's Roll button: start next month's cycle.

The month the book plans from (Settings' cycle month) has closed: its actuals are in, its plan was published. Roll:

- moves the cycle month one month on (the horizon keeps its length, so the plan's window slides by one month; the
  fiscal year is the one containing the new cycle month, so it rolls over when the new month starts it);
- requires the closed month's actuals in History: a History column headed with that month holding at least one
  number, typed or pasted there, or imported in the same command from transaction lines (`--actuals FILE`, read
  exactly as `snop-xl import BOOK History FILE` reads them: `import_table.read_history`);
- removes the rows that ended before the new cycle month, each written to the Log with its content (nothing is
  lost silently): Events whose last month is past (kept while Settings' "Cleanse past events" is on: the demand
  step uses past events to cleanse History), Overrides and Capacity rows of a past month (validation refuses
  them outside the horizon), and, when the fiscal year rolls over, Budget rows of the closed fiscal year (the
  budget covers the fiscal year of the cycle month). Rows still in the horizon are kept as they are;
- carries Decisions, Scenarios, Items, Inventory and the other inputs as they are;
- refuses when the closed cycle has no version in the plan archive (`snop-xl publish`) unless `force`.

Roll writes input tables on the user's explicit command, as the imports do: it shows what it will change and
writes only when the user confirms. The rolled inputs are validated before anything is written (the same
`load_inputs` a run uses), so a refusal, whatever its reason, leaves the book unchanged and names every problem
with its sheet and cell. Numbers typed into the Demand review for the closed month expire by themselves at the
next run (`inputs.read_grid_edits`).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from snop_xl import archive
from snop_xl import contract as C
from snop_xl.calc.finance import fiscal_year
from snop_xl.commands.import_table import (TableImport, apply_import, quantity_text, read_file, read_history,
                                          write_input_table)
from snop_xl.errors import Problem, SnopError, ValidationError
from snop_xl.inputs import Settings, history_months, load_inputs, parse_settings
from snop_xl.io import open_book
from snop_xl.io.base import BookIO
from snop_xl.io.parse import RawTable, cell_of, parse_table

STEP = "roll"
_SHOWN = 20  # removed rows listed one by one in the preview (the Log gets every one)


@dataclass(frozen=True)
class Removed:
    """A row roll takes out of an input table: where it was and what it said."""

    table: str
    cell: str  # Events!A4: the row's first cell before the roll
    text: str  # every non-blank cell, "Header=value; ..."

    def __str__(self) -> str:
        return f"{self.cell}: {self.text}"


@dataclass
class Roll:
    """What a roll changes (shown before it is applied): the new input tables, the rows removed, the actuals."""

    closed: pd.Period
    cycle: pd.Period
    lines: list[str]
    tables: dict[str, RawTable]  # the input tables rewritten (History comes through `actuals`)
    removed: list[Removed]
    actuals: TableImport | None
    location: str  # the Settings cell of the cycle month
    log: str
    applied: bool = False
    saved: Path | None = None
    kept: dict[str, int] = field(default_factory=dict)

    def __str__(self) -> str:
        verb = "rolled" if self.applied else "would roll"
        return "\n".join(self.lines + [f"  {verb} the book from cycle {self.closed} to {self.cycle}"])


def roll(book: BookIO, *, actuals: str | Path | None = None, force: bool = False, out: str | Path | None = None,
         confirm: Callable[[Roll], bool] | None = None, sheet: str | None = None) -> Roll:
    """Roll `book` into next month's cycle after `confirm` saw the plan of it (False: nothing changes). Raises
    ValidationError listing every problem, the book unchanged. `out`: where the caller will save the rolled book
    (its plan archive is kept the book's). The caller saves."""
    plan = plan_roll(book, actuals=actuals, force=force, out=out, sheet=sheet)
    if confirm is not None and not confirm(plan):
        return plan
    return apply_roll(book, plan)


def roll_book(path: str | Path, out: str | Path | None = None, **kw: Any) -> Roll:
    """Roll the workbook file `path` and save it atomically (to `out` if given: `path` then stays as it was)."""
    book = open_book(path)
    result = roll(book, out=out, **kw)
    if result.applied:
        result.saved = book.save(out) if out else book.save()
    return result


# ---- the plan ---------------------------------------------------------------------------------------------------
def plan_roll(book: BookIO, *, actuals: str | Path | None = None, force: bool = False,
              out: str | Path | None = None, sheet: str | None = None) -> Roll:
    """Everything the roll would change, checked: every problem (no published version, no actuals, a file that
    cannot be read exactly, rolled inputs that would not validate) raised at once; nothing is written."""
    settings_frame, problems = book.read_table(C.SETTINGS_TABLE)
    settings, found = parse_settings(settings_frame) if not problems else (None, [])
    if settings is None:
        raise ValidationError(problems + found)
    closed, cycle = settings.cycle_month, settings.cycle_month + 1
    where = f"{C.SETTINGS_TABLE.sheet}!{_setting_cell(settings_frame, 'cycle_month')}"
    lines = [f"Roll {Path(str(book.path)).name if book.path else 'the workbook'}: cycle month {closed} -> {cycle} "
             f"({where}); plan {cycle} to {cycle + settings.horizon - 1} ({settings.horizon} months)"]
    problems = []

    old_year, new_year = settings.fiscal_year, fiscal_year(cycle, settings.fiscal_year_start)
    lines.append(f"  fiscal year: {_span(old_year)}" + (f" -> {_span(new_year)} (rolls over)"
                                                         if new_year[0] != old_year[0] else " (unchanged)"))
    published, found = _published(book, settings, settings_frame, force)
    problems += found
    lines.append(f"  published: {published.version} (approved by {published.approver}, "
                 f"{published.published_at:%Y-%m-%d %H:%M})" if published else
                 f"  published: none for cycle {closed}; rolled anyway (--force)" if force else
                 f"  published: none for cycle {closed}")

    tables: dict[str, RawTable] = {}
    summary = None
    if actuals is not None:
        try:
            summary = read_history(book, read_file(actuals, "History", sheet), cycle_month=cycle)
        except ValidationError as exc:
            problems += exc.problems
    if actuals is not None and summary is None:  # a file that cannot be read exactly: its problems say it all
        raise ValidationError(problems)
    history = _history_after(book, summary)
    problems += _closed_actuals(history, closed, summary, actuals)
    if summary is not None:
        lines.append(f"  actuals of {closed} from {summary.source}:")
        lines += ["  " + line for line in summary.lines]
    elif not any(p.sheet == C.HISTORY.sheet for p in problems):
        qty = history.loc[history["period"] == closed, "qty"].dropna()
        lines.append(f"  actuals of {closed}: in History ({len(qty)} items, {quantity_text(float(qty.sum()))} units)")

    removed: list[Removed] = []
    kept: dict[str, int] = {}
    cut = {"Events": cycle, "Overrides": cycle, "Capacity": cycle, "Budget": new_year[0]}
    for name, before in cut.items():
        spec = C.table(name)
        if not book.has_table(spec):
            continue
        raw = book.read_raw(spec)
        frame, _ = parse_table(spec, raw)
        column = {"Events": "end"}.get(name, "period")
        past = [row for row, p in frame[column].items() if _month(p) is not None and _month(p) < before]
        kept[name] = len(frame) - len(past)
        if name == "Events" and settings.cleanse_history and past:
            lines.append(f"  Events: {len(past)} row(s) ended before {cycle}, kept: Settings 'Cleanse past events' "
                         "is on and uses them to cleanse History")
            kept[name] = len(frame)
            continue
        if not past:
            continue
        gone = {row - raw.first_row - 1 for row in past}
        tables[name] = RawTable(raw.sheet, raw.header, [r for i, r in enumerate(raw.rows) if i not in gone], 1,
                                spec.first_column)
        rows = [Removed(name, f"{raw.sheet}!{raw.cell(0, row - raw.first_row - 1)}", _describe(spec, frame, row))
                for row in past]
        removed += rows
        why = {"Events": f"ended before {cycle}", "Overrides": f"for a month before {cycle}",
               "Capacity": f"for a month before {cycle}",
               "Budget": f"of the closed fiscal year {_span(old_year)}"}[name]
        lines.append(f"  {name}: {len(rows)} row(s) {why} removed, each written to the Log; {kept[name]} kept:")
        lines += [f"    {r}" for r in rows[:_SHOWN]]
        if len(rows) > _SHOWN:
            lines.append(f"    ... and {len(rows) - _SHOWN} more")

    settings_raw, archive_note = _settings_after(book, settings, settings_frame, cycle, out)
    tables = {"Settings": settings_raw, **tables}
    if archive_note:
        lines.append(f"  {archive_note}")
    decisions, _ = book.read_table(C.DECISIONS)
    lines.append(f"  Decisions: {len(decisions)} carried as they are")
    lines += _notes(book, settings, cycle)

    replace, found = {}, []
    for name, raw in tables.items():
        replace[name], more = parse_table(C.table(name), raw)
        found += more
    if summary is not None:
        replace["History"] = history
    try:
        load_inputs(book, replace=replace)  # the rolled book is one a run accepts
    except ValidationError as exc:
        found += exc.problems
    said = {(p.sheet, p.cell) for p in problems if p.cell}  # the closed month's History column: said once
    problems += [p for p in found if p not in problems and (p.sheet, p.cell) not in said]
    if problems:
        raise ValidationError(problems)
    counts = ", ".join(f"{sum(r.table == t for r in removed)} {t}" for t in cut if any(r.table == t for r in removed))
    log = (f"cycle month {closed} -> {cycle}; " + (f"published {published.version}" if published else
                                                    "no published version (forced)")
           + (f"; actuals of {closed} from {summary.source}" if summary else f"; actuals of {closed} in History")
           + (f"; removed (each logged below): {counts}" if counts else "; no row removed")
           + f"; {len(decisions)} decision(s) carried")
    return Roll(closed, cycle, lines, tables, removed, summary, where, log, kept=kept)


def apply_roll(book: BookIO, plan: Roll) -> Roll:
    """Write the rolled input tables and the Log: the Settings, the actuals (as the History import writes them),
    the tables rows were removed from; one Log line for the roll, one per removed row."""
    for name, raw in plan.tables.items():
        spec = C.table(name)
        header = [str(h) for h in raw.header]
        write_input_table(book, spec, raw.rows, None if header == spec.headers else header)
    book.log(STEP, plan.log, location=plan.location)
    if plan.actuals is not None:
        apply_import(book, plan.actuals, step=STEP)
    for r in plan.removed:
        book.log(STEP, f"removed from {r.table} (before cycle {plan.cycle}): {r.text}", location=r.cell)
    plan.applied = True
    return plan


# ---- pieces -----------------------------------------------------------------------------------------------------
def _span(months: pd.PeriodIndex) -> str:
    return f"{months[0]} to {months[-1]}"


def _month(value: Any) -> pd.Period | None:
    return None if value is None or (not isinstance(value, pd.Period) and pd.isna(value)) else value


def _setting_row(frame: pd.DataFrame, key: str) -> int | None:
    """The sheet row of Settings row `key` (its key or label, any case), None when the book has none."""
    names = {key.lower(), C.SETTING_BY_KEY[key].label.lower()}
    rows = [row for row, name in frame["setting"].items() if str(name).strip().lower() in names]
    return rows[0] if rows else None


def _setting_cell(frame: pd.DataFrame, key: str) -> str:
    row = _setting_row(frame, key)
    return cell_of(frame, "value", row) if row is not None else cell_of(frame, "setting")


def _published(book: BookIO, settings: Settings, frame: pd.DataFrame,
               force: bool) -> tuple[archive.Version | None, list[Problem]]:
    """The closed cycle's latest published version, or the problem saying there is none (none with `force`)."""
    path = archive.default_path(book.path, settings.archive_path) if book.path else (
        Path(settings.archive_path).expanduser() if settings.archive_path.strip() else None)
    try:
        found = [v for v in archive.versions(path) if v.cycle_month == settings.cycle_month] \
            if path is not None and path.exists() else []
    except ValidationError as exc:  # an archive that cannot be read (ArchiveError names it)
        return None, [] if force else exc.problems
    if found or force:
        return (found[-1] if found else None), []
    where = f"the plan archive {path}" if path is not None else "a plan archive (the workbook has no file location)"
    return None, [Problem(C.SETTINGS_TABLE.sheet, _setting_cell(frame, "cycle_month"),
                          f"cycle {settings.cycle_month} has no published version in {where}",
                          str(settings.cycle_month),
                          "the plan of the closing month published first (snop-xl publish BOOK), so that its "
                          "accuracy can be measured; or --force to roll without one")]


def _history_after(book: BookIO, summary: TableImport | None) -> pd.DataFrame:
    """History as it will be after the roll: the book's, or the one the actuals import writes (typed alike)."""
    if summary is None:
        history, _ = book.read_table(C.HISTORY)
        return history
    header = summary.header or C.HISTORY.headers
    history, _ = parse_table(C.HISTORY, RawTable(C.HISTORY.sheet, header, summary.rows, 1, C.HISTORY.first_column))
    return history


def _closed_actuals(history: pd.DataFrame, closed: pd.Period, summary: TableImport | None,
                    source: str | Path | None) -> list[Problem]:
    """The closed month's actuals: a History column of that month with a number in it, else a problem at the
    header cell where the column is (or belongs: after the last month)."""
    cells = history.attrs.get("cells", {})
    qty = history.loc[history["period"] == closed, "qty"].dropna() if len(history) else pd.Series(dtype=float)
    if len(qty):
        return []
    header_row = history.attrs.get("header_row", 1)
    if closed in history_months(history) and closed in cells:
        where, what = f"{cells[closed]}{header_row}", f"History's {closed} column is blank"
    else:
        last = max((C.column_number(v) for v in cells.values()), default=1)
        where, what = f"{C.column_letter(last + 1)}{header_row}", f"no History column for {closed}"
    if summary is not None:
        what += f" and {Path(str(source)).name} has no line of {closed}"
    return [Problem(C.HISTORY.sheet, where, f"{what}: the actuals of the month the roll closes",
                    expected=f"the sales of {closed} per item: a History column headed {closed}, or its billing "
                             "lines imported with the roll (snop-xl roll BOOK --actuals FILE)")]


def _describe(spec: C.Table, frame: pd.DataFrame, row: int) -> str:
    """A removed row's content as 'Header=value; ...' (blank cells left out), for the Log."""
    parts = []
    for column in spec.columns:
        value = frame.at[row, column.key] if column.key in frame else None
        if value is None or (not isinstance(value, (str, pd.Period)) and pd.isna(value)) or value == "":
            continue
        if isinstance(value, bool):
            text = str(value)
        elif column.dtype == C.PERCENT and isinstance(value, (int, float)):
            text = f"{value * 100:g}%"
        elif isinstance(value, float):
            text = f"{value:,.10g}"
        elif isinstance(value, (dt.datetime, pd.Timestamp)):
            text = f"{value:%Y-%m-%d}"
        else:
            text = str(value)
        parts.append(f"{column.header}={text}")
    return "; ".join(parts)


def _settings_after(book: BookIO, settings: Settings, frame: pd.DataFrame, cycle: pd.Period,
                    out: str | Path | None) -> tuple[RawTable, str]:
    """The Settings table with the new cycle month (a date stays a date, a text a text); with `out`, 'Plan archive'
    set to the book's archive when the new file would otherwise find another (one archive for every cycle)."""
    raw = book.read_raw(C.SETTINGS_TABLE)
    rows = [list(r) for r in raw.rows]
    col = _column(raw, C.SETTINGS_TABLE.column("value"))
    offset = _setting_row(frame, "cycle_month") - raw.first_row - 1
    old = rows[offset][col]
    rows[offset][col] = dt.datetime(cycle.year, cycle.month, 1) if isinstance(old, (dt.date, dt.datetime)) \
        else str(cycle)
    note = ""
    if out is not None and book.path:
        current = archive.default_path(book.path, settings.archive_path)
        there = archive.default_path(out, settings.archive_path)
        if Path(os.path.abspath(current)) != Path(os.path.abspath(there)):
            try:
                value = os.path.relpath(os.path.abspath(current), os.path.abspath(Path(out).parent))
            except ValueError:  # another drive (Windows)
                value = os.path.abspath(current)
            row = _setting_row(frame, "archive_path")
            if row is None:
                spec = C.SETTING_BY_KEY["archive_path"]
                new = [None] * len(raw.header)
                new[_column(raw, C.SETTINGS_TABLE.column("setting"))] = spec.label
                new[col] = value
                rows.append(new)
            else:
                rows[row - raw.first_row - 1][col] = value
            note = (f"Plan archive: {value} (Settings), the archive of {Path(str(book.path)).name}, so that "
                    f"{Path(out).name}'s KPIs measure the plans published from it")
    return RawTable(raw.sheet, raw.header, rows, 1, C.SETTINGS_TABLE.first_column), note


def _column(raw: RawTable, column: C.Column) -> int:
    """Position of `column` in a raw table's header (as the parser finds it)."""
    names = [str(h).strip().lower() if h is not None else "" for h in raw.header]
    for name in (column.header.lower(), column.key.lower()):
        if name in names:
            return names.index(name)
    raise SnopError(f"{raw.sheet}: no column {column.header!r}")


def _notes(book: BookIO, settings: Settings, cycle: pd.Period) -> list[str]:
    """What roll does not change but the new cycle may need: stock, capacity of the new last month."""
    out = [f"  Inventory: kept as it is; On Hand is the stock at the start of the cycle month: import the snapshot "
           f"of {cycle.start_time:%Y-%m-%d} (snop-xl import BOOK Inventory FILE)"]
    capacity, _ = book.read_table(C.CAPACITY)
    last = cycle + settings.horizon - 1
    if len(capacity) and last not in set(capacity["period"].dropna()):
        out.append(f"  Capacity: no row for {last}, the new last month of the plan: the supply plan repeats each "
                   "resource's nearest month given")
    out.append(f"  Demand review: numbers typed for {cycle - 1} expire at the next run")
    return out
