"""The cycle's inputs read from a workbook, typed and validated as a whole before any step runs.

`load_inputs(book)` reads every input table, checks each cell against the contract and every cross-table rule,
and either returns `Inputs` or raises one ValidationError listing all problems with their cells.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from snop_xl import archive
from snop_xl import contract as C
from snop_xl.contract import review as R
from snop_xl.calc.finance import fiscal_year
from snop_xl.errors import Problem, ValidationError
from snop_xl.io.base import BookIO
from snop_xl.io.parse import (
    CellError,
    Uncalculated,
    cell_of,
    coerce_checked,
    empty_frame,
    is_blank,
    to_period,
    to_rows,
)

#: Columns of a demand override, from the Overrides table or typed into the Demand review (then `source` "Grid").
OVERRIDE_COLUMNS = ["item", "family", "period", "qty", "owner", "reason", "source"]


def no_grid_edits() -> pd.DataFrame:
    return pd.DataFrame({"item": pd.Series(dtype=object), "family": pd.Series(dtype=object),
                         "period": pd.Series(dtype="period[M]"), "qty": pd.Series(dtype=float),
                         "owner": pd.Series(dtype=object), "reason": pd.Series(dtype=object),
                         "source": pd.Series(dtype=object)})


@dataclass(frozen=True)
class Settings:
    """Typed Settings; attribute names are the contract's setting keys."""

    cycle_month: pd.Period
    horizon: int = 18
    bucket: str = "month"
    currency: str = "USD"
    service_level: float = 0.95
    default_method: str = "auto"
    season_length: int = 12
    holding_rate: float = 0.25
    backlog_rate: float = 0.10
    days_per_period: int = 30
    cleanse_history: bool = False
    approver: str = ""
    archive_path: str = ""
    supply_objective: str = "cost"
    fiscal_year_start: int = 1
    contributors: str = ""
    pipeline_horizon: int = 3
    pipeline_trust: str = "auto"
    stage_probabilities: str = C.DEFAULT_STAGE_PROBABILITIES

    @property
    def periods(self) -> pd.PeriodIndex:
        """The plan's months: cycle month and the horizon after it."""
        return pd.period_range(self.cycle_month, periods=self.horizon, freq="M")

    @property
    def fiscal_year(self) -> pd.PeriodIndex:
        """The twelve months of the fiscal year that contains the cycle month."""
        return fiscal_year(self.cycle_month, self.fiscal_year_start)

    @property
    def budget_months(self) -> pd.PeriodIndex:
        """Months a budget may cover: from the start of the cycle month's fiscal year to the end of the horizon."""
        return pd.period_range(self.fiscal_year[0], self.periods[-1], freq="M")


assert [f.name for f in dataclasses.fields(Settings)] == [s.key for s in C.SETTINGS], "Settings out of contract"


@dataclass(frozen=True)
class Inputs:
    """Every input table as a typed frame (columns = contract keys) plus Settings. History is long."""

    settings: Settings
    items: pd.DataFrame
    history: pd.DataFrame
    events: pd.DataFrame
    overrides: pd.DataFrame
    inventory: pd.DataFrame
    capacity: pd.DataFrame
    bill_of_resources: pd.DataFrame
    suppliers: pd.DataFrame
    budget: pd.DataFrame
    scenarios: pd.DataFrame
    decisions: pd.DataFrame
    extra: dict[str, Any] = field(default_factory=dict, compare=False)
    aggregate_params: pd.DataFrame = field(default_factory=lambda: empty_frame(C.AGGREGATE_PARAMS))
    #: Month-by-month multipliers on what a supplier delivers (item, supplier, period, factor). No sheet holds it:
    #: scenarios set it for a disruption limited to some months (Suppliers terms have no month).
    #: Numbers contributors typed into the Demand review (OVERRIDE_COLUMNS), kept run after run (read_grid_edits)
    grid_edits: pd.DataFrame = field(default_factory=no_grid_edits)
    orders: pd.DataFrame = field(default_factory=lambda: empty_frame(C.ORDERS))
    pipeline: pd.DataFrame = field(default_factory=lambda: empty_frame(C.PIPELINE))
    supplier_factors: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        {"item": pd.Series(dtype=object), "supplier": pd.Series(dtype=object),
         "period": pd.Series(dtype="period[M]"), "factor": pd.Series(dtype=float)}))

    def replace(self, **changes: Any) -> "Inputs":
        return dataclasses.replace(self, **changes)

    @property
    def archive_path(self) -> Path | None:
        """The plan archive the Settings point at (None when the book's location is unknown and none is set)."""
        book_path = self.extra.get("book_path")
        setting = self.settings.archive_path
        if book_path is None:
            return Path(setting).expanduser() if setting and setting.strip() else None
        return archive.default_path(book_path, setting)

    @property
    def active_items(self) -> pd.DataFrame:
        return self.items[self.items["active"].fillna(True).astype(bool)]

    @property
    def contributors(self) -> tuple[str, ...]:
        """Contributor rows of the Demand review, in order of precedence (a later one's number wins): the
        Contributors setting, then any other owner of an override in the order they first appear."""
        return contributors_of(self.settings.contributors, self.overrides["owner"], self.grid_edits["owner"])

    @property
    def demand_overrides(self) -> pd.DataFrame:
        """Every demand override in the order the demand step applies them: contributors in precedence order;
        for one contributor, the Overrides rows in table order, then their numbers typed into the grid (so a
        typed number beats an Overrides row for the same item and month)."""
        table = self.overrides.assign(source="Overrides")
        rows = pd.concat([table, self.grid_edits], ignore_index=True) if len(self.grid_edits) else table
        rank = {name: k for k, name in enumerate(self.contributors)}
        order = rows["owner"].map(lambda o: rank[str(o)]).to_numpy() if len(rows) else np.zeros(0)
        return rows.iloc[np.argsort(order, kind="stable")][OVERRIDE_COLUMNS].reset_index(drop=True)

    def content_hash(self) -> str:
        """SHA-256 of every input value: two books with the same inputs get the same hash."""
        return self._content_hash

    @cached_property
    def _content_hash(self) -> str:
        # computed once per Inputs (a run asks for it on every Log row and in step 5; it serialises every table);
        # Inputs are never changed in place (scenarios build new ones with replace()), so it cannot go stale
        h = hashlib.sha256(repr(dataclasses.astuple(self.settings)).encode())
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, pd.DataFrame):
                h.update(f.name.encode())
                h.update(value.reset_index(drop=True).to_csv(index=False).encode())
        return h.hexdigest()


#: Inputs attribute for each input table of the contract (Settings handled apart).
FIELD_OF_TABLE = {"Items": "items", "History": "history", "Events": "events", "Overrides": "overrides",
                  "Inventory": "inventory", "Capacity": "capacity", "BillOfResources": "bill_of_resources",
                  "Suppliers": "suppliers", "Budget": "budget", "Scenarios": "scenarios", "Decisions": "decisions",
                  "AggregateParams": "aggregate_params", "Orders": "orders", "Pipeline": "pipeline"}
#: Input tables a workbook may leave out (read as empty).
OPTIONAL_TABLES = {"AggregateParams", "Orders", "Pipeline"}
assert set(FIELD_OF_TABLE) | {"Settings"} == {t.name for t in C.INPUT_TABLES}


def load_inputs(book: BookIO, replace: dict[str, pd.DataFrame] | None = None) -> Inputs:
    """Read and validate all inputs; raise ValidationError with every problem found, in one pass.

    `replace`: typed frames used instead of the book's tables of those names (what `roll` is about to write, checked
    before anything is written)."""
    problems: list[Problem] = []
    frames: dict[str, pd.DataFrame] = {}
    for spec in C.INPUT_TABLES:
        if replace and spec.name in replace:
            frames[spec.name] = replace[spec.name]
            continue
        if spec.name in OPTIONAL_TABLES and not book.has_table(spec):
            frames[spec.name] = empty_frame(spec)
            continue
        frame, found = book.read_table(spec)
        frames[spec.name] = frame
        problems += found
    settings, found = parse_settings(frames["Settings"])
    problems += found
    if settings is not None:
        problems += check_inputs(settings, frames)
        edits, found = read_grid_edits(book, settings, frames["Items"])
        problems += found
    if problems:
        raise ValidationError(problems)
    return Inputs(settings=settings, **{attr: frames[name] for name, attr in FIELD_OF_TABLE.items()},
                  grid_edits=edits, extra={"book_path": getattr(book, "path", None)})  # step 5 finds the plan archive beside it


def has_capacity_model(inputs: Inputs) -> bool:
    """Resources with hours and items that load them: only then can a resource bind."""
    return bool(len(inputs.capacity) and len(inputs.bill_of_resources))


def thin_data(inputs: Inputs) -> list[Problem]:
    """What a run can do without but a planner must know it did without (warnings, not refusals): an empty
    Inventory, Capacity or BillOfResources, or Budget changes what the model's sheets and the pack can say (no
    stock to serve from, no resource that can bind, nothing to compare the plan with)."""
    notes = []
    if not len(inputs.inventory):
        notes.append(Problem("Inventory", "A2", "no stock on hand: the plan starts from zero stock, so every "
                             "month's demand must be made or bought and safety stock is built from nothing",
                             expected="a row per item with its on-hand quantity (snop-xl import BOOK Inventory FILE)"))
    if not len(inputs.capacity):
        notes.append(Problem("Capacity", "A2", "no capacity data: supply is not limited by any resource, so no "
                             "resource can bind and no overload is reported",
                             expected="Capacity rows (hours per resource and month) and BillOfResources rows "
                                      "(hours per unit)"))
    elif not len(inputs.bill_of_resources):
        notes.append(Problem("BillOfResources", "A2", f"no item loads a resource: the {len(inputs.capacity)} "
                             "Capacity rows limit nothing, so no resource can bind and no overload is reported",
                             expected="BillOfResources rows: the hours a unit of an item (or family) takes on each "
                                      "resource"))
    if not len(inputs.budget):
        notes.append(Problem("Budget", "A2", "no budget: Financials and the Financial review show the plan "
                             "without a budget to compare it with",
                             expected="finance's budget (snop-xl import-budget BOOK FILE)"))
    return notes


def contributors_of(setting: str, *owners: Iterable[Any]) -> tuple[str, ...]:
    """The Contributors setting's names (comma-separated), then the other `owners` in order of appearance;
    Sales, Marketing when there are none."""
    names = [n.strip() for n in str(setting or "").split(",") if n.strip()]
    for column in owners:
        names += [str(o).strip() for o in column if not is_blank(o)]
    return tuple(dict.fromkeys(names)) or R.DEFAULT_CONTRIBUTORS


def read_grid_edits(book: BookIO, settings: Settings, items: pd.DataFrame) -> tuple[pd.DataFrame, list[Problem]]:
    """Numbers contributors typed into the Demand review since the engine wrote it, and the ones typed before.

    A contributor cell is an edit when it differs from what the last run wrote there (the Contributions table):
    a number typed over, or a number where there was none. An earlier grid edit still in its cell stays an edit;
    a cell still showing what the Overrides table gave is not one (the table speaks for itself); clearing a
    typed number removes it. An edit that can't be placed (not a number, negative, an item that is not active,
    a month outside the plan) is a problem at its cell; an earlier edit for a month now past has expired.
    """
    grid = book.sheet_values(R.DEMAND_REVIEW, calculated=False)  # the typed cells: the sheet's formulas can wait
    if grid and any(isinstance(row[R.COL_FIGURE - 1], str) and row[R.COL_FIGURE - 1].strip() not in R.KEY_FIGURES
                    and any(isinstance(v, Uncalculated) for v in row) for row in grid[R.FIRST_ROW - 1:]
                    if len(row) >= R.COL_FIGURE):
        grid = book.sheet_values(R.DEMAND_REVIEW)  # a contributor typed a formula: its value, as Excel left it
    if not grid or len(grid) < R.FIRST_ROW:
        return no_grid_edits(), []
    written: dict[tuple[str, str, pd.Period], tuple[float, str]] = {}
    if book.has_table(C.CONTRIBUTIONS):
        previous, _ = book.read_table(C.CONTRIBUTIONS)
        for o, i, p, q, src in previous[["owner", "item", "period", "qty", "source"]].itertuples(index=False,
                                                                                                 name=None):
            if not (is_blank(o) or is_blank(i) or p is None or pd.isna(p) or q is None or pd.isna(q)):
                written[(str(o), str(i), p)] = (float(q), str(src))
    header = grid[R.HEADER_ROW - 1]
    months = {c: to_period(v) for c, v in enumerate(header) if c >= R.FIRST_MONTH_COL - 1
              and isinstance(v, (dt.date, dt.datetime, pd.Timestamp))}
    active = set(items.loc[items["active"].fillna(True).astype(bool), "item"].astype(str))
    plan = set(settings.periods)
    edits, problems = [], []
    for r, row in enumerate(grid[R.FIRST_ROW - 1:], start=R.FIRST_ROW):
        figure = row[R.COL_FIGURE - 1] if len(row) >= R.COL_FIGURE else None
        if is_blank(figure) or str(figure).strip() in R.KEY_FIGURES:
            continue
        owner, item = str(figure).strip(), str(row[R.COL_NAME - 1]).strip()
        note = row[R.COL_NOTE - 1] if len(row) >= R.COL_NOTE else None
        reason = "" if is_blank(note) else str(note).strip()
        for c, month in months.items():
            value = row[c] if c < len(row) else None
            if is_blank(value):
                continue
            where = f"{C.column_letter(c + 1)}{r}"
            before = written.get((owner, item, month))
            if isinstance(value, Uncalculated):
                problems.append(Problem(R.DEMAND_REVIEW, where, f"{owner}'s cell for {item} in {month} holds a "
                                        "formula that was never calculated", value.formula,
                                        "a number (type it, or open and save the book in Excel first)"))
                continue
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
                problems.append(Problem(R.DEMAND_REVIEW, where, f"{owner}'s number for {item} in {month} is not a "
                                        "number", value, "a quantity in units, or an empty cell"))
                continue
            if before is not None and math.isclose(value, before[0], rel_tol=1e-9, abs_tol=1e-9):
                if before[1] == "Overrides" or month not in plan:
                    continue  # the Overrides table's number, or an earlier edit for a month now past
            elif month not in plan:
                problems.append(Problem(R.DEMAND_REVIEW, where, f"{owner}'s number for {item} is for {month}, "
                                        "outside the plan", value, f"a month from {settings.periods[0]} to "
                                        f"{settings.periods[-1]} (run the cycle to refresh the review)"))
                continue
            if value < 0:
                problems.append(Problem(R.DEMAND_REVIEW, where, f"{owner}'s number for {item} in {month} is "
                                        "negative", value, "a quantity of 0 or more"))
            elif item not in active:
                problems.append(Problem(R.DEMAND_REVIEW, where, f"{owner}'s number for {month} is for {item}, "
                                        "which is not an active item of Items", value,
                                        "an active item (clear the cell, or add or reactivate the item)"))
            else:
                edits.append((item, None, month, float(value), owner, reason, "Grid"))
    frame = pd.DataFrame(edits, columns=OVERRIDE_COLUMNS) if edits else no_grid_edits()
    return frame.astype({"period": "period[M]"}), problems


def parse_settings(frame: pd.DataFrame) -> tuple[Settings | None, list[Problem]]:
    """Settings from the key/value table; labels or keys are accepted, case-insensitively."""
    sheet = C.SETTINGS_TABLE.sheet
    by_name = {}
    for s in C.SETTINGS:
        by_name[s.key.lower()] = s
        by_name[s.label.lower()] = s
    values: dict[str, Any] = {}
    problems = []
    for row, name, value in zip(frame.index, frame.get("setting", []), frame.get("value", [])):
        spec = by_name.get(str(name).strip().lower())
        if spec is None:
            problems.append(Problem(sheet, cell_of(frame, "setting", row), "unknown setting", name,
                                    "one of " + ", ".join(s.label for s in C.SETTINGS)))
            continue
        if is_blank(value):
            continue
        try:
            values[spec.key] = coerce_checked(value, spec)
        except CellError as exc:
            problems.append(Problem(sheet, cell_of(frame, "value", row), f"bad {spec.label}", value, str(exc)))
    if "cycle_month" not in values and not any("Cycle month" in p.message for p in problems):
        problems.append(Problem(sheet, cell_of(frame, "setting"), "Cycle month is not set",
                                expected="a row 'Cycle month' with the first month of the plan, e.g. 2026-12"))
    if problems:
        return None, problems
    return Settings(**values), []


def check_inputs(settings: Settings, t: dict[str, pd.DataFrame]) -> list[Problem]:
    """Rules that span rows or tables: duplicates, unknown names, months outside the horizon, ..."""
    out: list[Problem] = []
    items, history = t["Items"], t["History"]
    known_items = set(items["item"].dropna())
    known_families = set(items["family"].dropna())
    periods = settings.periods
    first, last = periods[0], periods[-1]

    for name, frame in t.items():
        spec = C.table(name)
        if spec.key and not spec.wide_periods and len(frame):
            keys = [k for k in spec.key if k in frame]
            dup = frame.duplicated(keys, keep="first")
            for row in frame.index[dup]:
                what = ", ".join(str(frame.at[row, k]) for k in keys) if frame.index.is_unique else ""
                out.append(Problem(spec.sheet, cell_of(frame, keys[0], row), f"duplicate {' + '.join(keys)}", what,
                                   "each once"))

    def unknown(name: str, frame: pd.DataFrame, key: str, known: set, what: str) -> None:
        if key not in frame:
            return
        for row, value in frame[key].items():
            if value is not None and not pd.isna(value) and value not in known:
                out.append(Problem(name, cell_of(frame, key, row), f"unknown {what}", value,
                                   f"a{'n' if what[0] in 'aeiou' else ''} {what} from the Items sheet"))

    hist_rows = history.drop_duplicates("item") if len(history) else history
    unknown("History", hist_rows, "item", known_items, "item")
    if len(history):
        for item, rows in history.groupby("item").groups.items():
            if len(set(rows)) > 1:
                out.append(Problem("History", cell_of(history, "item", max(rows)), "item listed twice", item,
                                   "one row per item"))
        late = sorted(p for p in history["period"].unique() if p >= first)
        for p in late:
            out.append(Problem("History", cell_of(history, p), "history month is inside the plan", str(p),
                               f"months before the cycle month {first}"))
    for name in ("Events", "Overrides", "BillOfResources"):
        frame = t[name]
        unknown(name, frame, "item", known_items, "item")
        unknown(name, frame, "family", known_families, "family")
        for row in frame.index:
            if pd.isna(frame.at[row, "item"]) and pd.isna(frame.at[row, "family"]):
                out.append(Problem(name, cell_of(frame, "item", row), "neither item nor family given",
                                   expected="an item or a family"))
    for name in ("Inventory", "Suppliers"):
        unknown(name, t[name], "item", known_items, "item")
    unknown("Budget", t["Budget"], "family", known_families, "family")
    unknown("AggregateParams", t.get("AggregateParams", pd.DataFrame()), "family", known_families, "family")
    unknown("Budget", t["Budget"], "item", known_items, "item")
    resources = set(t["Capacity"]["resource"].dropna())
    bor = t["BillOfResources"]
    for row, value in bor["resource"].items():
        if value is not None and value not in resources:
            out.append(Problem("BillOfResources", cell_of(bor, "resource", row), "unknown resource", value,
                               "a resource from the Capacity sheet"))

    events = t["Events"]
    for row in events.index:
        pct, qty = events.at[row, "uplift_pct"], events.at[row, "uplift_qty"]
        if pd.isna(pct) == pd.isna(qty):
            out.append(Problem("Events", cell_of(events, "uplift_pct", row), "give exactly one of Uplift % and "
                               "Uplift Qty", expected="one uplift per event row"))
        if events.at[row, "start"] is not None and events.at[row, "end"] is not None \
                and events.at[row, "end"] < events.at[row, "start"]:
            out.append(Problem("Events", cell_of(events, "end", row), "event ends before it starts",
                               str(events.at[row, "end"]), f"a month from {events.at[row, 'start']} on"))

    for name, col in (("Overrides", "period"), ("Capacity", "period")):
        frame = t[name]
        for row, p in frame[col].items():
            if p is not None and not pd.isna(p) and not first <= p <= last:
                out.append(Problem(name, cell_of(frame, col, row), "month outside the plan horizon", str(p),
                                   f"a month from {first} to {last}"))
    budget = t["Budget"]
    out += budget_month_problems(settings, "Budget", ((p, cell_of(budget, "period", row))
                                                      for row, p in budget["period"].items()
                                                      if p is not None and not pd.isna(p)))
    out += signal_problems(settings, t, known_items, known_families, unknown)
    return out + missing_actuals(settings, history, budget) + scenario_problems(t) + decision_problems(t)


def stage_probabilities(text: str) -> dict[str, float]:
    """The Stage probabilities setting as {stage (norm: casefolded, spaces collapsed): probability}; ValueError
    saying what is wrong. 'Proposal: 50%; Negotiation: 0.7' (',' also separates pairs when no ';' is used)."""
    out: dict[str, float] = {}
    text = str(text or "").strip()
    for part in (text.split(";") if ";" in text else text.split(",")) if text else []:
        if not part.strip():
            continue
        stage, sep, value = part.rpartition(":")
        p = share(value)
        if not sep or not stage.strip() or math.isnan(p):
            raise ValueError(f"{part.strip()!r} is not 'Stage: probability' with a probability from 0% to 100%")
        out[stage_key(stage)] = p
    return out


def share(text: Any) -> float:
    """'60%', '60 %' or '0.6' as 0.6; NaN unless it reads as a share from 0 to 1."""
    value = str(text).strip()
    pct = value.endswith("%")
    try:
        p = float(value.rstrip("%").strip()) / (100 if pct else 1)
    except ValueError:
        return math.nan
    return p if 0 <= p <= 1 else math.nan


def pipeline_trust(setting: str) -> float | None:
    """The Pipeline trust setting: None for auto (learned from the archive), else the share; ValueError if
    neither."""
    text = str(setting or "").strip()
    if text.casefold() in ("", "auto"):
        return None
    p = share(text)
    if math.isnan(p):
        raise ValueError(f"{text!r} is neither auto nor a share from 0% to 100%")
    return p


def stage_key(stage: Any) -> str:
    """A stage name as compared: case, spacing and punctuation aside ('Closed-Lost' = 'closed lost')."""
    return " ".join("".join(ch if ch.isalnum() else " " for ch in str(stage).casefold()).split())


def is_lost(stage: Any) -> bool:
    """A stage that says the deal is lost (Closed Lost, Lost, Closed - lost): it carries no demand."""
    return "lost" in stage_key(stage).split()


def signal_problems(settings: Settings, t: dict[str, pd.DataFrame], known_items: set, known_families: set,
                    unknown) -> list[Problem]:
    """Orders and Pipeline: names from Items, a deal naming an item or a family, a probability for every deal
    (its own, or its stage's from the Stage probabilities setting, which must read)."""
    out: list[Problem] = []
    orders, pipeline = t.get("Orders"), t.get("Pipeline")
    if orders is not None:
        unknown("Orders", orders, "item", known_items, "item")
    def setting_cell(key: str) -> str:
        frame = t["Settings"]
        names = (stage_key(key), stage_key(C.SETTING_BY_KEY[key].label))
        rows = [r for r, name in zip(frame.index, frame.get("setting", [])) if stage_key(name) in names]
        return cell_of(frame, "value", rows[0] if rows else None)

    try:
        stages = stage_probabilities(settings.stage_probabilities)
    except ValueError as exc:
        out.append(Problem(C.SETTINGS_TABLE.sheet, setting_cell("stage_probabilities"), "bad Stage probabilities",
                           settings.stage_probabilities, f"'Stage: 40%' pairs separated by ';' ({exc})"))
        stages = None
    try:
        pipeline_trust(settings.pipeline_trust)
    except ValueError:
        out.append(Problem(C.SETTINGS_TABLE.sheet, setting_cell("pipeline_trust"), "bad Pipeline trust",
                           settings.pipeline_trust, "auto, or a share such as 50% (0% ignores the pipeline)"))
    if pipeline is None or not len(pipeline):
        return out
    unknown("Pipeline", pipeline, "item", known_items, "item")
    unknown("Pipeline", pipeline, "family", known_families, "family")
    for row in pipeline.index:
        if pd.isna(pipeline.at[row, "item"]) and pd.isna(pipeline.at[row, "family"]):
            out.append(Problem("Pipeline", cell_of(pipeline, "item", row), "neither item nor family given",
                               expected="an item or a family"))
        stage = pipeline.at[row, "stage"]
        if stages is not None and pd.isna(pipeline.at[row, "probability"]) and not is_blank(stage) \
                and not is_lost(stage) and stage_key(stage) not in stages:
            out.append(Problem("Pipeline", cell_of(pipeline, "stage", row), "no probability, and a stage the "
                               "Stage probabilities setting does not list", stage,
                               "a Probability on the row, or the stage added to the setting (known: "
                               + ", ".join(stages) + ")"))
    return out


def scope_text(value: Any) -> str:
    """A Scenarios row's scope as text ('' for everything)."""
    return "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value).strip()


def factor_value(value: Any) -> float:
    """A Scenarios factor (blank: 1, no change)."""
    return 1.0 if value is None or pd.isna(value) else float(value)


def scenario_problems(t: dict[str, pd.DataFrame]) -> list[Problem]:
    """Scenarios: scope names unknown in the namespace of a factor that is not 1, and months in the wrong order."""
    s, items, suppliers = t["Scenarios"], t["Items"], t["Suppliers"]
    known = {
        "demand": set(items["item"]) | set(items["family"]) | set(suppliers["supplier"]),
        "capacity": set(t["Capacity"]["resource"]),
        "supply": set(suppliers["supplier"]) | set(suppliers["item"]),
    }
    what = {"demand": "a family or item from Items (or a supplier: its items)", "capacity": "a resource from Capacity",
            "supply": "a supplier or item from Suppliers"}
    problems = []
    for row in s.index:
        scope = scope_text(s.at[row, "scope"])
        for space, factors in (("demand", ("demand_factor", "price_factor", "cost_factor")),
                               ("capacity", ("capacity_factor",)), ("supply", ("supply_factor",))):
            if scope and any(factor_value(s.at[row, f]) != 1.0 for f in factors) and scope not in known[space]:
                problems.append(Problem(C.SCENARIOS.sheet, cell_of(s, "scope", row), f"unknown name for "
                                        f"{' / '.join(f.replace('_', ' ') for f in factors)}", scope,
                                        f"{what[space]}, or blank for everything"))
        start, end = s.at[row, "start"], s.at[row, "end"]
        if not pd.isna(start) and not pd.isna(end) and end < start:
            problems.append(Problem(C.SCENARIOS.sheet, cell_of(s, "end", row), "scenario ends before it starts",
                                    str(end), f"a month from {start} on"))
    return problems


def decisions_naming_scenarios(decisions: pd.DataFrame) -> pd.DataFrame:
    """The Decisions rows that name a scenario, oldest first."""
    if decisions is None or not len(decisions) or "scenario" not in decisions:
        return pd.DataFrame(columns=["date", "scenario"])
    return decisions[decisions["scenario"].fillna("").astype(str).str.strip() != ""].sort_values(
        "date", kind="stable")


def decision_problems(t: dict[str, pd.DataFrame]) -> list[Problem]:
    """The latest decision naming a scenario the Scenarios sheet does not define: a typo would be published and
    archived forever as 'the scenario chosen'."""
    named = decisions_naming_scenarios(t["Decisions"])
    if not len(named):
        return []
    known = {C.BASE_SCENARIO.lower()} | {str(n).strip().lower() for n in t["Scenarios"].get("scenario", [])}
    name = str(named["scenario"].iloc[-1]).strip()
    if name.lower() in known:
        return []
    return [Problem(C.DECISIONS.sheet, cell_of(t["Decisions"], "scenario", named.index[-1]),
                    "the latest decision names an unknown scenario", name,
                    f"{C.BASE_SCENARIO} or a scenario of the Scenarios sheet")]


def history_months(history: pd.DataFrame) -> set[pd.Period]:
    """Months the History grid has a column for (one blank for every item included), or failing the sheet's
    column map (a frame built in code) a quantity for."""
    return {k for k in history.attrs.get("cells", {}) if isinstance(k, pd.Period)} | set(history["period"].dropna())


def missing_actuals(settings: Settings, history: pd.DataFrame, budget: pd.DataFrame) -> list[Problem]:
    """Budget months before the cycle month without a History column: their actuals would silently count as 0 in
    the Financials' YTD and outlook. One problem per month, at the History header cell where its column belongs
    (before the next later month's column, else after the last column)."""
    have = history_months(history)
    window = settings.budget_months
    past = sorted({p for p in budget["period"].dropna() if window[0] <= p < settings.cycle_month} - have)
    if not past:
        return []
    cells = history.attrs.get("cells", {})
    columns = {k: C.column_number(v) for k, v in cells.items()}
    months = {k: c for k, c in columns.items() if isinstance(k, pd.Period)}
    after_last = max(columns.values(), default=1) + 1
    out = []
    for m in past:
        later = [p for p in months if p > m]
        col = months[min(later)] if later else after_last
        row = budget.index[budget["period"] == m][0]
        out.append(Problem("History", f"{C.column_letter(col)}{history.attrs.get('header_row', 1)}",
                           f"no History for {m}, a budgeted month before the cycle month",
                           expected=f"a month column headed {m} here (a blank cell reads 0 units sold): the fiscal "
                                    f"year's months before the cycle month {settings.cycle_month} are valued from "
                                    f"History against the Budget (Budget!{cell_of(budget, 'period', row)})"))
    return out


def budget_month_problems(settings: Settings, sheet: str, months: Iterable[tuple[pd.Period, str]]) -> list[Problem]:
    """A problem at its cell for each (month, cell) outside `settings.budget_months`: the one budget-month rule that
    the Budget sheet's validation and the budget import both apply, with the same message."""
    window = settings.budget_months
    first, last = window[0], window[-1]
    expected = (f"a month from {first} (start of the fiscal year of the cycle month) to {last} (end of the plan "
                f"horizon); Settings: cycle month, horizon, fiscal year start")
    return [Problem(sheet, cell, "month outside the fiscal year and plan horizon", str(p), expected)
            for p, cell in months if not first <= p <= last]


def write_inputs(book: BookIO, frames: dict[str, pd.DataFrame], settings: dict[str, object]) -> None:
    """Fill a book's input tables from contract frames (the privileged write only builders use)."""
    rows = []
    for s in C.SETTINGS:
        value = settings.get(s.key, s.default)
        if isinstance(value, pd.Period):
            value = str(value)
        rows.append([s.label, value, s.doc])
    book.write_rows(C.SETTINGS_TABLE, rows)
    for spec in C.INPUT_TABLES:
        if spec.name not in frames:
            continue
        frame = frames[spec.name]
        if spec.wide_periods:
            wide = frame.pivot(index="item", columns="period", values="qty").sort_index(axis=1)
            header = spec.headers + [str(p) for p in wide.columns]
            body = [[item] + [None if pd.isna(v) else float(v) for v in values]
                    for item, values in zip(wide.index, wide.to_numpy())]
            book.write_rows(spec, body, header=header)
        else:
            book.write_rows(spec, to_rows(spec, frame))
