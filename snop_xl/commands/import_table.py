"""Import an input table from an ERP extract: `snop-xl import BOOK TABLE SOURCE` for History, Items, Inventory and
Capacity (finance's budget keeps its own command, `import-budget`).

The file (CSV with , ; tab or | and either decimal convention, or a sheet of a workbook) is read by
`snop_xl.paste.RecordReader` with the table's header synonyms (`snop_xl.paste.fields`); this command adds what is
each table's own, shows what it understood and writes the table only when the user confirms:

- **History** from transaction lines (billing, invoice or order lines: item, date, quantity; net value, unit of
  measure, customer, plant read for the preview): lines summed per item and month, returns netted within their
  month; a month whose net is negative is written as 0 and listed in the preview and the Log (never carried to
  another month). Months of the file replace those months of History (each changed cell listed, old -> new); an
  item without lines in such a month gets 0 once it has sold (in History or the file) before or in it, blank
  before that (not launched yet). Other months are kept. Months from the cycle month on are refused.
- **Items**: rows of the file replace the same items' columns that the file gives (a lead time in days or weeks
  becomes whole months, rounded up: `months_of`); new items get the defaults; items of the book the file does not
  list are kept and listed.
- **Inventory**: the file is the whole on-hand snapshot: lines of one item (plants, storage locations) summed;
  items of the Inventory table the file does not list get 0, listed; safety stock policies kept unless given.
- **Capacity**: hours per resource and month (daily or weekly lines summed to the month, costs per hour equal
  within it); the resource-months of the file replace those of the table, the others are kept.

Anything that cannot be read exactly is refused with every Problem at its line or cell and the book unchanged.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from snop_xl import contract as C
from snop_xl.errors import Problem, SnopError, ValidationError
from snop_xl.inputs import Inputs, parse_settings
from snop_xl.io.base import BookIO
from snop_xl.io.parse import is_blank, parse_table, to_rows
from snop_xl.paste import FIELDS, TABLE_MAX_ROWS, Grid, Names, RecordReader, Records, grid_from_file, lines_text, \
    norm_text
from snop_xl.paste.cells import NumberError, parse_number
from snop_xl.paste.fields import TIME_UNIT_HOURS
from snop_xl.steps.demand import pipeline_deals

TABLES = {"History": C.HISTORY, "Items": C.ITEMS, "Inventory": C.INVENTORY, "Capacity": C.CAPACITY,
          "BillOfResources": C.BILL_OF_RESOURCES, "Orders": C.ORDERS, "Pipeline": C.PIPELINE}
_ALIASES = {"history": "History", "actuals": "History", "sales": "History", "items": "Items",
            "item master": "Items", "inventory": "Inventory", "stock": "Inventory", "on hand": "Inventory",
            "capacity": "Capacity", "billofresources": "BillOfResources", "bill of resources": "BillOfResources",
            "bor": "BillOfResources", "routings": "BillOfResources", "routing": "BillOfResources",
            "orders": "Orders", "order book": "Orders", "open orders": "Orders",
            "pipeline": "Pipeline", "opportunities": "Pipeline", "deals": "Pipeline"}
DAYS_PER_MONTH = 30.4375  # 365.25 / 12
_SHOWN = 20  # changes listed one by one in the preview


@dataclass
class TableImport:
    """What was understood from the file, shown before the table is replaced: the preview lines, the table's new
    cells (header and rows, as written) and the Log's one-line account."""

    table: str
    source: str
    lines: list[str]
    rows: list[list[Any]]
    header: list[str] | None = None  # None: the contract's headers
    log: str = ""
    applied: bool = False
    frame: pd.DataFrame = field(default_factory=pd.DataFrame)  # the new table as a frame (History long)

    def __str__(self) -> str:
        verb = "replaced" if self.applied else "would replace"
        return "\n".join(self.lines + [f"  {verb} the {self.table} table ({len(self.rows)} rows)"])


def table_name(text: str) -> str:
    """The input table a user's word names (History, actuals, Items, stock ...), or a SnopError saying which exist."""
    name = _ALIASES.get(norm_text(text))
    if name is None:
        hint = "; finance's budget has its own command: snop-xl import-budget" if norm_text(text) == "budget" else ""
        raise SnopError(f"cannot import {text!r}: the tables are {', '.join(TABLES)}{hint}")
    return name


def read_file(source: str | Path, table: str, sheet: str | None = None) -> Grid:
    """The grid of a CSV or workbook file (its sheet named like the table, else the active one, or `sheet`)."""
    return grid_from_file(source, sheet, prefer=(TABLES[table].sheet,), what=table, max_rows=TABLE_MAX_ROWS)


def import_table(book: BookIO, table: str, source: str | Path, *, confirm: Callable[[TableImport], bool] | None = None,
                 sheet: str | None = None) -> TableImport:
    """Replace the book's `table` (History, Items, Inventory, Capacity) from an extract, after `confirm` saw the
    preview (False: nothing changes). Raises ValidationError listing every problem, the book unchanged. The caller
    saves the book (the CLI atomically)."""
    name = table_name(table)
    summary = PREVIEWS[name](book, read_file(source, name, sheet))
    if confirm is not None and not confirm(summary):
        return summary
    return apply_import(book, summary)


def apply_import(book: BookIO, summary: TableImport, step: str = "import") -> TableImport:
    """Write the table `summary` describes and its Log line (the user saw the preview and confirmed)."""
    write_input_table(book, TABLES[summary.table], summary.rows, summary.header)
    book.log(step, f"{summary.table} imported from {summary.source}: {summary.log}",
             location=f"{TABLES[summary.table].sheet}!A1")
    summary.applied = True
    return summary


def write_input_table(book: BookIO, spec: C.Table, rows: list[list[Any]], header: list[str] | None = None) -> None:
    """Write an input table whole.

    Input tables belong to users, so ``BookIO.write_table`` refuses them. The imports are the one place allowed to
    write them, through the low-level ``write_rows``: the user asked for the import on this table, saw its preview,
    and every cell of the new table was read exactly. Nothing else in the engine may write an input table.
    """
    if header is None:
        book.write_rows(spec, rows)
    else:
        book.write_rows(spec, rows, header=header)  # type: ignore[call-arg]  # both engines take a header


# ---- shared pieces ---------------------------------------------------------------------------------------------
def read_records(grid: Grid, table: str, require: tuple[str, ...] = ()) -> Records:
    """The file's records as `table`'s fields (`require`: fields this use needs although the table's import does
    not); every problem of the reading raised at once."""
    fields = tuple(dataclasses.replace(f, required=True) if f.key in require else f for f in FIELDS[table])
    records = RecordReader(grid, fields, table).read()
    if records.problems:
        raise ValidationError(records.problems)
    if not len(records):
        raise ValidationError([Problem(grid.sheet, grid.cell(records.header_row + 1, 0), "no lines under the header",
                                       expected=f"one line per record of {table}")])
    return records


def book_names(book: BookIO) -> Names:
    """The book's items, which every line must name (History, Inventory): their code and family columns alone
    are read (a 20,000-item master's other cells are not what an import of lines needs)."""
    if book.has_table(C.ITEMS):
        names_only = dataclasses.replace(C.ITEMS, columns=tuple(c for c in C.ITEMS.columns
                                                                 if c.key in ("item", "family")))
        items, problems = parse_table(names_only, book.read_raw(C.ITEMS))
    else:
        items, problems = book.read_table(C.ITEMS)
    names = Names.from_items(items)
    if not names.items:
        raise ValidationError(problems + [Problem(C.ITEMS.sheet, "A2", "Items has no item", expected="the item "
                                                  "master first: snop-xl import BOOK Items FILE")])
    return names


def item_codes(records: Records, names: Names) -> tuple[np.ndarray, list[str], list[Problem]]:
    """The book's item each line names (case, spacing and an ERP's leading zeros aside), looked up once per
    distinct cell: each line's index into the items named (sorted; -1 for none), and one problem per unknown item
    at its first line, naming its other lines and the closest items."""
    codes, raw = records.coded("item")
    named = [None if r is None else (found[0] if (found := names.item_of(r)) else None) for r in raw]
    items = sorted({n for n in named if n is not None})
    index = {item: k for k, item in enumerate(items)}
    item = np.array([-1 if n is None else index[n] for n in named] + [-1], dtype=np.intp)[codes]
    unknown = {r for r, n in zip(raw, named) if r is not None and n is None}
    if not unknown:
        return item, items, []
    ids = {r: k for k, r in enumerate(unknown)}  # two cells may read as one text: lines grouped by the text
    text = np.array([ids.get(r, -1) for r in raw] + [-1])[codes]
    at = np.flatnonzero(text >= 0)
    problems = [Problem(records.grid.sheet, records.cell("item", int(idx[0])),
                        "unknown item" + (f" (also on lines {lines_text(records.lines(idx[1:]))})"
                                          if len(idx) > 1 else ""), raw[codes[idx[0]]],
                        names.suggest_item(raw[codes[idx[0]]]))
                for idx in sorted((at[g] for g in _groups(text[at])), key=lambda idx: idx[0])]
    return item, items, problems


def _groups(keys: np.ndarray) -> list[np.ndarray]:
    """The positions of each distinct key, in order, the groups by key."""
    order = np.argsort(keys, kind="stable")
    return np.split(order, np.flatnonzero(np.diff(keys[order])) + 1) if len(keys) else []


def resolve_items(records: Records, names: Names) -> tuple[list[str | None], list[Problem]]:
    """`item_codes` as the item of each line (None where it names none)."""
    item, items, problems = item_codes(records, names)
    return np.array(items + [None], dtype=object)[item].tolist(), problems


def group_codes(groups: list[Any]) -> tuple[np.ndarray, list[Any]]:
    """Each line's index into the distinct `groups` (in order of first appearance; -1 for None)."""
    index: dict[Any, int] = {}
    codes = np.array([-1 if g is None else index.setdefault(g, len(index)) for g in groups], dtype=np.intp)
    return codes, list(index)


def one_per(records: Records, key: str, group: np.ndarray, labels: list[Any],
            what: Callable[[Any], str]) -> tuple[dict, list[Problem]]:
    """The one value of column `key` each group (an item, a resource-month: `labels[group]` of each line, -1 for
    none) has on its lines; a problem where two lines of a group differ (two units of measure cannot be added,
    two costs per hour cannot both hold), at the group's first line that differs from its first value."""
    if key not in records.values:
        return {}, []
    codes, distinct = records.coded(key)
    lines = np.flatnonzero((group >= 0) & np.not_equal(distinct, None)[codes])
    g, v = group[lines], codes[lines]
    first = _first_of(g, np.arange(len(g)), len(labels))  # each group's first line (an index into `lines`)
    f = first[g]
    if all(isinstance(d, float) for d in distinct if d is not None):
        x = np.array([math.nan if d is None else d for d in distinct], dtype=float)
        differs = np.abs(x[v[f]] - x[v]) > 1e-9 * np.maximum(1.0, np.abs(x[v[f]]))
    else:
        same = pd.factorize(np.array(["" if d is None else norm_text(d) for d in distinct], dtype=object))[0]
        differs = same[v[f]] != same[v]
    hit = np.flatnonzero(differs)
    hit = _first_of(g[hit], hit, len(labels))
    hit = np.sort(hit[hit >= 0])  # one problem per group, in line order
    label = records.columns[key].field.label
    problems = []
    for h in hit:
        name, value, first_value = what(labels[g[h]]), distinct[v[h]], distinct[v[f[h]]]
        problems.append(Problem(records.grid.sheet, records.cell(key, int(lines[h])), f"{label} of {name} differs "
                                f"from line {records.line(int(lines[f[h]]))} ({first_value!r})", value,
                                f"one {label.lower()} per {name.split()[0]} (lines in different units or rates "
                                "cannot be added)"))
    conflict = set(g[hit].tolist())
    heads = np.sort(first[first >= 0])
    return {labels[k]: distinct[v[i]] for k, i in zip(g[heads].tolist(), heads) if k not in conflict}, problems


def _first_of(group: np.ndarray, at: np.ndarray, n: int) -> np.ndarray:
    """For each of `n` groups the smallest of `at` among its entries (`group`); -1 where it has none."""
    none = np.iinfo(np.intp).max
    first = np.full(n, none, dtype=np.intp)
    np.minimum.at(first, group, at)
    first[first == none] = -1
    return first


def negatives(records: Records, keys: tuple[str, ...]) -> list[Problem]:
    """A negative figure where the table holds none (prices, costs, hours, lot sizes)."""
    return [Problem(records.grid.sheet, records.cell(k, i), f"negative {records.columns[k].field.label}", v,
                    "0 or more")
            for k in keys if k in records.values for i, v in enumerate(records.values[k]) if v is not None and v < 0]


def head_lines(table: str, records: Records) -> list[str]:
    """The preview's first lines: where the header was, how numbers and dates were read, every column read or
    ignored and why, the rows skipped."""
    g = records.grid
    out = [f"{table} from {g.description or g.sheet}: header at row {g.first_row + records.header_row}, "
           f"{len(records):,} lines; {records.conventions()}"]
    read = [f"{c.header!r} ({records.header_cell(k)}) -> {c.field.label}" + ("" if c.field.stored else
                                                                             " (shown here, not stored)")
            for k, c in records.columns.items()]
    out.append("  columns read: " + "; ".join(read))
    out += [f"  ignored column {text}" for text in records.ignored]
    if records.skipped:
        cells = [f"{g.cell(r, 0)}" for r in records.skipped]
        out.append(f"  {len(cells)} row(s) without {' / '.join(c.field.label for c in records.columns.values() if c.field.required)} "
                   f"skipped (totals, notes): {', '.join(cells[:8])}" + (" ..." if len(cells) > 8 else ""))
    return out


def changes_lines(changes: list[str], what: str) -> list[str]:
    """Each changed cell (old -> new), the first ones one by one."""
    if not changes:
        return [f"  no {what} changed"]
    out = [f"  {len(changes):,} {what} changed (old -> new):"]
    out += [f"    {c}" for c in changes[:_SHOWN]]
    if len(changes) > _SHOWN:
        out.append(f"    ... and {len(changes) - _SHOWN:,} more")
    return out


def quantity_text(v: float) -> str:
    """A quantity as a planner checks it against the ERP: whole, thousands separated, no exponent (1,567,070 not
    1.56707e+06), up to three decimals where it has them (193.5)."""
    text = f"{v:,.3f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _num(v: Any) -> str:
    return "blank" if v is None or (isinstance(v, float) and math.isnan(v)) else quantity_text(v)


def _blank(v: Any) -> bool:
    return v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v))


def _same(a: Any, b: Any) -> bool:
    if _blank(a) or _blank(b):
        return _blank(a) and _blank(b)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return abs(float(a) - float(b)) <= 1e-9 * max(1.0, abs(float(a)))
    return a == b


# ---- History ---------------------------------------------------------------------------------------------------
def read_history(book: BookIO, grid: Grid, cycle_month: pd.Period | None = None) -> TableImport:
    """History from transaction lines: summed per item and month, merged into the book's History. `cycle_month`:
    the cycle the lines must precede (default: Settings'; `roll` passes the new one, so the closed month's lines
    come in with it). Lines are grouped on integers (the item's index, the month's ordinal): a million of them
    without a Python object each."""
    with ThreadPoolExecutor(max_workers=1) as pool:  # on a second core: the book's items read while the lines
        reading = pool.submit(book_names, book)       # are, then the repeated lines found (a hash of every line)
        records = read_records(grid, "History")
        repeats = pool.submit(records.duplicates)
        names = reading.result()
        item, items, problems = item_codes(records, names)
        problems += one_per(records, "uom", item, items, lambda it: f"item {it}")[1]
        problems += plan_months(book, records, cycle_month)
        if problems:
            repeats.cancel()
            raise ValidationError(problems)
        lines = pd.DataFrame({"item": item, "period": month_ordinals(records, "date"), "qty": floats(records, "qty"),
                              "value": floats(records, "value")}, copy=False)  # the arrays themselves, not copied
        net, negative = item_months(lines, items)
        repeated = repeats.result()
    new_months = _periods(np.unique(net["period"]))
    order, old, old_months = old_history(book, new_months)
    in_order, in_file = set(order), set(net["item"].to_numpy(dtype=object).tolist())
    rows_items = order + [i for i in dict.fromkeys(it for it, _ in names.items.values()) if i not in in_order
                          and i in in_file]
    cells, all_months, changes = merge_history(rows_items, old, old_months, net.assign(qty=net["qty"].clip(lower=0)),
                                               new_months)
    header = C.HISTORY.headers + [str(p) for p in all_months]
    shown = cells.astype(object)
    shown[np.isnan(cells)] = None
    rows = [[it] + row for it, row in zip(rows_items, shown.tolist())]
    preview = head_lines("History", records) + history_lines(records, lines, negative, repeated)
    added = [p for p in new_months if p not in set(old_months)]
    preview.append(f"  History: {len(added)} month(s) added ({added[0]} to {added[-1]})" if added else
                   "  History: no month added")
    preview += changes_lines(changes, "cell(s) of months already in History")
    r, m = np.nonzero(~np.isnan(cells))  # item by item, month by month
    frame = pd.DataFrame({"item": np.array(rows_items, dtype=object)[r],
                          "period": pd.PeriodIndex.from_ordinals(np.array([p.ordinal for p in all_months],
                                                                          dtype=np.int64)[m], freq="M"),
                          "qty": cells[r, m]})
    log = (f"{len(records):,} lines, {len(in_file)} items, months "
           f"{new_months[0]} to {new_months[-1]}, qty {quantity_text(float(lines['qty'].sum()))}, "
           f"{len(changes)} cell(s) changed" + (f"; {len(negative)} item-month(s) netting negative written as 0 ("
                        + ", ".join(f"{i} {p}: {quantity_text(q)}" for i, p, _, _, q in negative[:10])
                        + (" ..." if len(negative) > 10 else "") + ")" if negative else ""))
    return TableImport("History", grid.description or grid.sheet, preview, rows, header, log, frame=frame)


_NO_MONTH = np.iinfo(np.int64).min


def floats(records: Records, key: str) -> np.ndarray:
    """Each record's number in field `key` (NaN where blank, or everywhere when the file has no such column)."""
    return records.values.numbers(key) if key in records.values else np.full(len(records), math.nan)


def month_ordinals(records: Records, key: str) -> np.ndarray:
    """Each record's month in field `key` as its ordinal (int64; the smallest int64 where none)."""
    codes, distinct = records.coded(key)
    return np.array([_NO_MONTH if p is None else p.ordinal for p in distinct], dtype=np.int64)[codes]


def distinct_ints(values: np.ndarray) -> np.ndarray:
    """`np.unique` of integers: counted rather than sorted where they span a short range (a million lines' months
    or items: a few milliseconds, not a sort)."""
    if not len(values) or int(values.max()) - int(values.min()) > 4 * len(values) + 1024:
        return np.unique(values)
    low = values.min()
    return np.flatnonzero(np.bincount(values - low)).astype(values.dtype) + low


def _periods(ordinals: Any) -> list[pd.Period]:
    return list(pd.PeriodIndex.from_ordinals(np.asarray(ordinals, dtype=np.int64), freq="M"))


def item_months(lines: pd.DataFrame, items: list[str]) -> tuple[pd.DataFrame, list[tuple]]:
    """The lines' quantity summed per item and month (item, period: its ordinal, qty; by item and month), and
    (item, month, sold, returned, net) of each item-month that nets negative. Summed as pandas sums (compensated,
    in line order), grouped on one integer per line."""
    low = int(lines["period"].min())
    span = int(lines["period"].max()) - low + 1  # months from the first to the last
    key = lines["item"].to_numpy() * span + (lines["period"].to_numpy() - low)
    qty = lines["qty"].to_numpy()

    def sums(keep: np.ndarray | None = None) -> pd.Series:
        return group_sums(key, qty, len(items) * span) if keep is None else \
            group_sums(key[keep], qty[keep], len(items) * span)

    net = sums()
    keys = net.index.to_numpy()
    frame = pd.DataFrame({"item": np.array(items, dtype=object)[keys // span], "period": keys % span + low,
                          "qty": net.to_numpy()})
    below = net[net < 0]
    if not len(below):
        return frame, []
    ours = np.isin(key, below.index.to_numpy(), kind="table")  # their lines alone: the same sums, fewer lines
    sold, returned = sums(ours & (qty > 0)), -sums(ours & (qty < 0))
    negative = [(items[k // span], pd.Period(ordinal=k % span + low, freq="M"), float(sold.get(k, 0.0)),
                 float(returned.get(k, 0.0)), float(q)) for k, q in below.items()]
    return frame, negative


def group_sums(key: np.ndarray, values: np.ndarray, size: int) -> pd.Series:
    """`values` summed per `key` (integers from 0 to `size` - 1; the keys that occur, ascending), as accurately as
    pandas' compensated `groupby().sum()`: counted into bins (a tenth of its time) where every partial sum is exact,
    i.e. whole or binary-fractional quantities (7, 7.5) and amounts in cents, summed as whole numbers; else by
    pandas."""
    if len(key) and size <= 4 * len(key) + 1024:
        for scale in (1024.0, 100.0):  # quantities in 1/1024ths (exact in binary), else amounts in cents
            scaled = values * scale
            whole = np.rint(scaled)
            exact = (whole == scaled).all() if scale == 1024.0 else (whole / scale == values).all()
            if exact and np.abs(whole).sum() < 2.0 ** 52:  # whole numbers this small add up exactly, in any order
                at = np.flatnonzero(np.bincount(key, minlength=size))
                return pd.Series(np.bincount(key, weights=whole, minlength=size)[at] / scale, index=at)
    return pd.Series(values).groupby(key, sort=True).sum()


def plan_months(book: BookIO, records: Records, cycle_month: pd.Period | None = None) -> list[Problem]:
    """Lines dated in the cycle month or later: History holds only months before the plan (one problem per month)."""
    if cycle_month is None:
        settings, _ = parse_settings(book.read_table(C.SETTINGS_TABLE)[0])
        if settings is None:
            return []
        cycle_month = settings.cycle_month
    ordinals = month_ordinals(records, "date")
    late = np.flatnonzero(ordinals >= cycle_month.ordinal)
    problems = []
    for idx in (late[g] for g in _groups(ordinals[late])):  # month by month
        p = pd.Period(ordinal=int(ordinals[idx[0]]), freq="M")
        problems.append(Problem(records.grid.sheet, records.cell("date", int(idx[0])),
                                f"a line of {p}, the cycle month or later"
                                + (f" (also lines {lines_text(records.lines(idx[1:]))})" if len(idx) > 1 else ""),
                                records.grid.get(int(records.row_index[idx[0]]), records.columns["date"].index),
                                f"History before the cycle month {cycle_month}" + (
                                    " (the closed month's actuals come in with the roll to the next cycle: snop-xl "
                                    "roll BOOK --actuals FILE)" if p == cycle_month else "")))
    return problems


def old_history(book: BookIO, replaced: list[pd.Period]) -> tuple[list[str], pd.DataFrame, list[pd.Period]]:
    """The book's History: its item rows in order (blank rows too), its values (item, period: ordinal, qty; blanks
    left out) and its month columns. Unreadable cells outside the months being replaced are refused (they would
    be lost)."""
    if not book.has_table(C.HISTORY):
        return [], pd.DataFrame({"item": [], "period": [], "qty": []}), []
    old, problems = book.read_table(C.HISTORY)
    letters = {old.attrs.get("cells", {}).get(p) for p in replaced}
    kept = [p for p in problems if p.cell.rstrip("0123456789") not in letters or not p.cell]
    if kept:
        raise ValidationError(kept)
    raw = book.read_raw(C.HISTORY)
    pos = next((i for i, h in enumerate(raw.header) if norm_text(h or "") == "item"), 0)
    order = list(dict.fromkeys(str(r[pos]).strip() for r in raw.rows if pos < len(r) and r[pos] not in (None, "")))
    months = sorted(k for k in old.attrs.get("cells", {}) if isinstance(k, pd.Period))
    values = [(it, p.ordinal, float(q)) for it, p, q in zip(old["item"].tolist(), old["period"].tolist(),
                                                             old["qty"].tolist()) if not _blank(q)]
    return order, pd.DataFrame(values, columns=["item", "period", "qty"]), months


def merge_history(items: list[str], old: pd.DataFrame, old_months: list[pd.Period], net: pd.DataFrame,
                  new_months: list[pd.Period]) -> tuple[np.ndarray, list[pd.Period], list[str]]:
    """The new History, an items x months matrix (NaN: blank) over the months of both, and each change to a month
    History already had: the file's months replace those months (0 for an item without lines once it has sold,
    blank before), the other months are kept. `old` and `net`: item, period (ordinal), qty."""
    months = sorted(set(old_months) | set(new_months))
    ordinals = np.array([p.ordinal for p in months], dtype=np.int64)
    row = {it: i for i, it in enumerate(items)}

    def matrix(values: pd.DataFrame) -> np.ndarray:
        out = np.full((len(items), len(months)), np.nan)
        r = np.array([row.get(it, -1) for it in values["item"].to_numpy(dtype=object).tolist()], dtype=np.intp)
        c = np.searchsorted(ordinals, values["period"].to_numpy(dtype=np.int64)).clip(max=max(len(months) - 1, 0))
        ok = (r >= 0) & (ordinals[c] == values["period"].to_numpy(dtype=np.int64)) if len(months) else r < -1
        out[r[ok], c[ok]] = values["qty"].to_numpy(dtype=float)[ok]
        return out

    before, file = matrix(old), matrix(net)
    new = np.isin(ordinals, [p.ordinal for p in new_months])
    sold = ~np.isnan(before) | ~np.isnan(file)  # anything in History or the file: the item sells from then on
    since = np.where(sold.any(axis=1), sold.argmax(axis=1), len(months))
    file[np.isnan(file) & (np.arange(len(months)) >= since[:, None])] = 0.0
    cells = np.where(new, file, before)
    had = new & np.isin(ordinals, [p.ordinal for p in old_months])
    a, b = before[:, had], file[:, had]
    same = (np.isnan(a) & np.isnan(b)) | (np.abs(a - b) <= 1e-9 * np.maximum(1.0, np.abs(a)))
    at = np.flatnonzero(had)
    changes = [f"{items[i]} {months[at[j]]}: {_num(a[i, j])} -> {_num(b[i, j])}" for i, j in zip(*np.nonzero(~same))]
    return cells, months, changes


def history_lines(records: Records, lines: pd.DataFrame, negative: list[tuple],
                  repeated: list[tuple[int, int]]) -> list[str]:
    """What the lines add up to: items, months, totals per month, returns, negative months, units, dimensions,
    the lines that repeat an earlier one (`repeated`: `Records.duplicates`)."""
    months = _periods(distinct_ints(lines["period"].to_numpy()))
    has_value = "value" in records.values
    items = len(distinct_ints(lines["item"].to_numpy()))
    out = [f"  {items:,} items; {len(months)} month(s) {months[0]} to {months[-1]}; "
           f"quantity {quantity_text(lines['qty'].sum())}"
           + (f"; net value {lines['value'].sum():,.2f}" if has_value else "")]
    low = months[0].ordinal
    month = lines["period"].to_numpy() - low
    qty = group_sums(month, lines["qty"].to_numpy(), months[-1].ordinal - low + 1)
    value = group_sums(month, lines["value"].to_numpy(), months[-1].ordinal - low + 1) if has_value else qty
    out += [f"    {p}  quantity {quantity_text(q):>14}" + (f"   net value {v:>16,.2f}" if has_value else "")
            for p, q, v in zip(_periods(qty.index + low), qty, value)]
    back = lines["qty"][lines["qty"] < 0]
    if len(back):
        out.append(f"  returns: {len(back):,} line(s), quantity {quantity_text(back.sum())}, netted within their month")
    if negative:
        out.append(f"  {len(negative)} item-month(s) net negative (more returned than sold): written as 0, the "
                   "difference not carried to another month:")
        out += [f"    {it} {p}: sold {quantity_text(s)}, returned {quantity_text(r)}, net {quantity_text(q)} -> 0"
                for it, p, s, r, q in negative[:_SHOWN]]
        if len(negative) > _SHOWN:
            out.append(f"    ... and {len(negative) - _SHOWN} more")
    for key in ("uom", "currency", "customer", "site"):
        if key in records.values:
            codes, distinct = records.coded(key)
            present = distinct[np.bincount(codes, minlength=len(distinct)) > 0]
            values = sorted({v for v in present if v is not None})
            shown = ", ".join(values[:6]) + (" ..." if len(values) > 6 else "")
            out.append(f"  {records.columns[key].field.label}: {len(values)} distinct ({shown}); read, not stored "
                       "(History is per item and month)")
    if dups := repeated:
        out.append(f"  {len(dups)} line(s) repeat an earlier line cell for cell (line {dups[0][0]} = line "
                   f"{dups[0][1]}{' ...' if len(dups) > 1 else ''}): each is counted, as separate deliveries may be")
    return out


# ---- Items -----------------------------------------------------------------------------------------------------
def months_of(value: float, unit: str) -> float:
    """A lead time in `unit` (days, weeks, months) as whole months, rounded up (an order placed a day early is
    harmless, a day late is a stock-out): days / 30.4375, the average month, so 30 days -> 1, 31 -> 2, 45 -> 2,
    60 -> 2, 90 -> 3; weeks x 7 likewise (4 weeks -> 1, 6 -> 2). Months are taken as they are."""
    if unit == "months":
        return value
    days = value * (7 if unit == "weeks" else 1)
    return float(math.ceil(days / DAYS_PER_MONTH - 1e-9))


def lead_time_unit(records: Records) -> str:
    """days / weeks / months, from the lead time's header ("Lead Time (days)", "LT weeks"); months if unsaid."""
    words = records.columns["lead_time"].words
    if words & {"days", "day", "d", "tage", "jours"}:
        return "days"
    if words & {"weeks", "week", "wks", "wk", "w"}:
        return "weeks"
    return "months"


def item_frame(records: Records) -> tuple[pd.DataFrame, list[Problem], list[str]]:
    """The file's items as contract columns (only those it gives), with every problem and the notes for the
    preview (the lead time conversion)."""
    problems = negatives(records, ("unit_price", "unit_cost", "lead_time", "min_lot", "lot_multiple"))
    notes: list[str] = []
    values = {k: list(v) for k, v in records.values.items() if records.columns[k].field.stored}
    if "lead_time" in values:
        unit = lead_time_unit(records)
        converted = []
        for i, v in enumerate(values["lead_time"]):
            months = None if v is None else months_of(v, unit)
            if months is not None and (not float(months).is_integer() or not 0 <= months <= 24):
                problems.append(Problem(records.grid.sheet, records.cell("lead_time", i), "bad Lead Time", v,
                                        f"whole months from 0 to 24 (the header says {unit})"))
                months = None
            converted.append(None if months is None else int(months))
        if unit != "months":
            pairs = sorted({(v, m) for v, m in zip(values["lead_time"], converted) if v is not None and m is not None})
            notes.append(f"  Lead Time in {unit} -> whole months, rounded up (/{DAYS_PER_MONTH:g} days): "
                         + ", ".join(f"{v:g} -> {m}" for v, m in pairs[:8]) + (" ..." if len(pairs) > 8 else ""))
        values["lead_time"] = converted
    seen: dict[str, int] = {}
    for i, item in enumerate(values["item"]):
        if item is None:
            continue
        if norm_text(item) in seen:
            problems.append(Problem(records.grid.sheet, records.cell("item", i), "item appears twice", item,
                                    f"each item once (first at row {records.line(seen[norm_text(item)])})"))
        seen.setdefault(norm_text(item), i)
    return pd.DataFrame(values), problems, notes


def read_items(book: BookIO, grid: Grid) -> TableImport:
    """Items from an item master: the file's columns replace those of the same items, new items are added."""
    records = read_records(grid, "Items")
    new, problems, notes = item_frame(records)
    old, old_problems = book.read_table(C.ITEMS)
    # an empty required cell (a new book's prices) is what an item master import fills: nothing there to lose
    old_problems = [p for p in old_problems if not is_blank(p.value)]
    if problems or old_problems:
        raise ValidationError(problems + old_problems)
    given = [k for k in C.ITEMS.keys if k in new.columns]
    by_norm = {norm_text(r["item"]): r for r in old.to_dict("records") if not _blank(r["item"])}
    changes, added, rows = [], [], []
    no_family = []
    for i, r in enumerate(new.to_dict("records")):
        current = by_norm.pop(norm_text(r["item"]), None)
        if current is None:
            if _blank(r.get("family")):
                no_family.append(missing_family(records, i, r["item"]))
                continue
            added.append(r["item"])
            rows.append({c.key: c.default if _blank(r.get(c.key)) else r[c.key] for c in C.ITEMS.columns})
            continue
        row = dict(current)
        for k in given:
            if k != "item" and not _blank(r[k]) and not _same(row.get(k), r[k]):  # blank: the file says nothing
                changes.append(f"{row['item']} {C.ITEMS.column(k).header}: {_shown(row.get(k))} -> {_shown(r[k])}")
                row[k] = r[k]
        rows.append(row)
    if no_family:
        raise ValidationError(no_family)
    kept = [r["item"] for r in by_norm.values()]
    rows += list(by_norm.values())
    frame = pd.DataFrame(rows, columns=C.ITEMS.keys)
    preview = head_lines("Items", records) + notes
    families = f" in {new['family'].nunique()} families" if "family" in new else ""
    preview.append(f"  {len(new)} items{families}; {len(added)} new"
                   + (f" ({', '.join(map(str, added[:8]))}{' ...' if len(added) > 8 else ''})" if added else ""))
    missing = [C.ITEMS.column(k).header for k in C.ITEMS.keys if k not in given]
    if missing:
        preview.append(f"  not in the file (kept, or defaults for new items): {', '.join(missing)}")
    preview += changes_lines(changes, "cell(s) of existing items")
    if kept:
        preview.append(f"  {len(kept)} item(s) of the book not in the file, kept: {', '.join(map(str, kept[:8]))}"
                       + (" ..." if len(kept) > 8 else ""))
    log = f"{len(new)} items, {len(added)} new, {len(changes)} cell(s) changed, {len(kept)} kept"
    return TableImport("Items", grid.description or grid.sheet, preview, to_rows(C.ITEMS, frame), None, log,
                       frame=frame)


def missing_family(records: Records, i: int, item: Any) -> Problem:
    """A new item without a family: at its Family cell, or at its Item cell when the file has no Family column."""
    if "family" in records.columns:
        return Problem(records.grid.sheet, records.cell("family", i), f"new item {item} has no family", None,
                       "the family the item belongs to")
    return Problem(records.grid.sheet, records.cell("item", i), f"new item {item}: the file has no Family column",
                   item, "a Family column (or Material Group, Product Hierarchy ...) for items the book lacks")


def _shown(v: Any) -> str:
    return _num(v) if isinstance(v, float) else "blank" if _blank(v) else repr(v)


def items_of_file(grid: Grid) -> pd.DataFrame:
    """Items from an item master file alone (`snop-xl new --items`): every Items column, defaults where the file
    gives none; a ValidationError names each problem's cell."""
    records = read_records(grid, "Items", require=("family",))  # a new book's items all need their family
    frame, problems, _ = item_frame(records)
    problems += [missing_family(records, i, item) for i, item in enumerate(frame["item"])
                 if _blank(frame["family"].iloc[i])]
    if problems:
        raise ValidationError(problems)
    for column in C.ITEMS.columns:
        given = frame[column.key] if column.key in frame else [None] * len(frame)
        frame[column.key] = [column.default if _blank(v) else v for v in given]
    return frame[C.ITEMS.keys]


# ---- Inventory -------------------------------------------------------------------------------------------------
def read_inventory(book: BookIO, grid: Grid) -> TableImport:
    """Inventory from an on-hand snapshot: lines per item summed, items not in it set to 0."""
    records = read_records(grid, "Inventory")
    names = book_names(book)
    item, labels, problems = item_codes(records, names)
    items = np.array(labels + [None], dtype=object)[item].tolist()
    what = lambda item: f"item {item}"  # noqa: E731
    fixed = {}
    for key in ("uom", "ss_policy", "ss_value", "safety_stock"):
        fixed[key], more = one_per(records, key, item, labels, what)
        problems += more
    problems += negatives(records, ("ss_value", "safety_stock"))
    for item, policy in fixed["ss_policy"].items():
        if norm_text(policy) not in ("service", "fixed", "cover"):
            i = records.values["ss_policy"].index(policy)
            problems.append(Problem(grid.sheet, records.cell("ss_policy", i), "bad Safety Stock Policy", policy,
                                    "service, fixed or cover"))
    on_hand: dict[str, float] = {}
    first: dict[str, int] = {}
    for i, (item, q) in enumerate(zip(items, records.values["on_hand"])):
        if item is not None and q is not None:
            on_hand[item] = on_hand.get(item, 0.0) + q
            first.setdefault(item, i)
    problems += [Problem(grid.sheet, records.cell("on_hand", first[it]), f"on hand of {it} sums to "
                         f"{quantity_text(q)} over its lines", q, "stock of 0 or more")
                 for it, q in on_hand.items() if q < -1e-9]
    if problems:
        raise ValidationError(problems)
    old, old_problems = book.read_table(C.INVENTORY)
    if old_problems:
        raise ValidationError(old_problems)
    rows, changes, zeroed = [], [], []
    for r in old.to_dict("records"):
        item = r["item"]
        value = on_hand.pop(item, None)
        new = dict(r, on_hand=0.0 if value is None else value, **_policy(fixed, item))
        if value is None and not _same(r["on_hand"], 0.0):
            zeroed.append(item)
        for k in ("on_hand", "ss_policy", "ss_value"):
            if not _same(r.get(k), new[k]):
                changes.append(f"{item} {C.INVENTORY.column(k).header}: {_shown(r.get(k))} -> {_shown(new[k])}")
        rows.append(new)
    added = list(on_hand)
    rows += [dict({"item": it, "on_hand": q, "ss_policy": "service", "ss_value": None}, **_policy(fixed, it))
             for it, q in on_hand.items()]
    frame = pd.DataFrame(rows, columns=C.INVENTORY.keys)
    preview = head_lines("Inventory", records)
    total = float(sum(records.values["on_hand"][i] or 0.0 for i in range(len(records))))
    preview.append(f"  {len(set(it for it in items if it))} items, on hand {quantity_text(total)} in all"
                   + (f"; {len(records) - len(set(items))} line(s) of the same items (locations) summed"
                      if len(records) > len(set(items)) else ""))
    if "site" in records.values:
        sites = sorted({v for v in records.values["site"] if v})
        preview.append(f"  Location: {len(sites)} distinct ({', '.join(sites[:6])}); read, summed per item")
    if "uom" in records.values:
        preview.append(f"  Unit of measure: {', '.join(sorted(set(fixed['uom'].values())))}; quantities taken as "
                       "they are")
    preview.append(f"  {len(added)} item(s) added to Inventory" + (f": {', '.join(added[:8])}" if added else ""))
    preview += changes_lines(changes, "cell(s) of items already in Inventory")
    if zeroed:
        preview.append(f"  {len(zeroed)} item(s) of Inventory not in the snapshot set to 0: "
                       + ", ".join(zeroed[:8]) + (" ..." if len(zeroed) > 8 else ""))
    log = (f"{len(set(items))} items, on hand {quantity_text(total)}, {len(changes)} cell(s) changed, "
           f"{len(zeroed)} set to 0")
    return TableImport("Inventory", grid.description or grid.sheet, preview, to_rows(C.INVENTORY, frame), None, log,
                       frame=frame)


def _policy(fixed: dict[str, dict], item: str) -> dict[str, Any]:
    """The safety stock policy the file gives an item: its policy and value, or a Safety Stock in units (fixed)."""
    if item in fixed["ss_policy"]:
        return {"ss_policy": norm_text(fixed["ss_policy"][item]), "ss_value": fixed["ss_value"].get(item)}
    if item in fixed["safety_stock"]:
        return {"ss_policy": "fixed", "ss_value": fixed["safety_stock"][item]}
    if item in fixed["ss_value"]:
        return {"ss_value": fixed["ss_value"][item]}
    return {}


# ---- Capacity --------------------------------------------------------------------------------------------------
def resource_names(*tables: pd.DataFrame) -> dict[str, str]:
    """The resources the book's `tables` name, by their case- and space-insensitive form: a file's `line` is the
    book's `Line` (a later table's spelling wins over an earlier one's)."""
    return {norm_text(r): r for table in tables for r in table["resource"].dropna()}


def read_capacity(book: BookIO, grid: Grid) -> TableImport:
    """Capacity per resource and month: lines of one month summed, the file's resource-months replacing the
    table's."""
    records = read_records(grid, "Capacity")
    old, old_problems = book.read_table(C.CAPACITY)
    bor, _ = book.read_table(C.BILL_OF_RESOURCES)
    known = resource_names(old, bor)
    resources = [None if r is None else known.get(norm_text(r), r) for r in records.values["resource"]]
    keys = [(r, p) if r is not None and p is not None else None for r, p in zip(resources, records.values["period"])]
    problems = negatives(records, ("available_hours", "overtime_hours", "regular_cost", "overtime_cost")) + old_problems
    costs = {}
    for k in ("regular_cost", "overtime_cost"):
        costs[k], more = one_per(records, k, *group_codes(keys), lambda key: f"resource {key[0]} in {key[1]}")
        problems += more
    if problems:
        raise ValidationError(problems)
    hours: dict[tuple, dict[str, float]] = {}
    for i, key in enumerate(keys):
        if key is None:
            continue
        h = hours.setdefault(key, {"available_hours": 0.0, "overtime_hours": 0.0})
        for k in h:
            h[k] += (records.values.get(k) or [0.0] * len(records))[i] or 0.0
    new = {key: dict(resource=key[0], period=key[1], **h,
                     **{k: costs[k].get(key, 0.0) for k in ("regular_cost", "overtime_cost")}) for key, h in hours.items()}
    rows, changes = [], []
    for r in old.to_dict("records"):
        key = (r["resource"], r["period"])
        if key in new:
            row = new.pop(key)
            changes += [f"{key[0]} {key[1]} {C.CAPACITY.column(k).header}: {_shown(r.get(k))} -> {_shown(row[k])}"
                        for k in ("available_hours", "overtime_hours", "regular_cost", "overtime_cost")
                        if not _same(r.get(k), row[k])]
            r = row
        rows.append(r)
    added = list(new)
    rows += list(new.values())
    frame = pd.DataFrame(rows, columns=C.CAPACITY.keys).sort_values(["resource", "period"], kind="stable")
    preview = head_lines("Capacity", records)
    months = sorted({p for _, p in hours})
    preview.append(f"  {len({r for r, _ in hours})} resource(s), {len(months)} month(s) {months[0]} to {months[-1]}; "
                   f"available hours {quantity_text(sum(h['available_hours'] for h in hours.values()))}, overtime "
                   f"{quantity_text(sum(h['overtime_hours'] for h in hours.values()))}"
                   + (f"; {len(records) - len(hours)} line(s) summed into their month" if len(records) > len(hours)
                      else ""))
    unused = sorted({r for r, _ in hours} - set(bor["resource"].dropna()))
    if unused:
        preview.append(f"  not used by BillOfResources (no item loads them): {', '.join(unused)}")
    preview.append(f"  {len(added)} resource-month(s) added")
    preview += changes_lines(changes, "cell(s) of resource-months already in Capacity")
    log = f"{len(hours)} resource-months, {len(added)} added, {len(changes)} cell(s) changed"
    return TableImport("Capacity", grid.description or grid.sheet, preview, to_rows(C.CAPACITY, frame), None, log,
                       frame=frame)


# ---- BillOfResources -------------------------------------------------------------------------------------------
def read_routings(book: BookIO, grid: Grid) -> TableImport:
    """BillOfResources from routings: the hours one unit takes on each resource, an operation's standard value over
    its base quantity (1 if none) in its time unit (the line's Unit, else the header's `Std Value (min)`, else
    hours), or Hours per Unit as given; an item's operations on one resource summed. An item or family the file
    lists gets exactly the file's rows (its old ones replaced whole); the table's other rows are kept."""
    records = read_records(grid, "BillOfResources")
    sheet, v, n = grid.sheet, records.values, len(records)
    column = lambda key: v[key] if key in v else [None] * n  # noqa: E731
    names = book_names(book)
    if "item" in v:
        item, labels, problems = item_codes(records, names)
        items = np.array(labels + [None], dtype=object)[item].tolist()
    else:  # a file of family rows
        items, problems = [None] * n, []
    if "hours_per_unit" not in v and "time" not in v:
        raise ValidationError([Problem(sheet, grid.cell(records.header_row, 0), "no column of hours",
                                       expected="Hours per Unit, or Standard Value (with Unit and Base Quantity)")])
    problems += negatives(records, ("hours_per_unit", "time"))
    header_unit = next((TIME_UNIT_HOURS[w] for w in sorted(records.columns["time"].words)
                        if w in TIME_UNIT_HOURS and w != "std"),
                       None) if "time" in v else None  # "Std Value (min)": minutes (its Std is no hour)
    old, old_problems = book.read_table(C.BILL_OF_RESOURCES)
    capacity, _ = book.read_table(C.CAPACITY)
    known = resource_names(old, capacity)
    hours: dict[tuple[str, str, str], float] = {}  # (item / family, its name, resource) -> hours per unit
    lines_of: dict[tuple[str, str, str], int] = {}
    operations: dict[tuple, int] = {}  # (item / family, name, operation) -> its first line
    for i, (it, raw_item, fam, res, direct, time, unit, base, op) in enumerate(zip(
            items, column("item"), column("family"), column("resource"), column("hours_per_unit"), column("time"),
            column("time_unit"), column("base_qty"), column("operation"))):
        owner = ("item", it) if it is not None else None
        if it is None and fam is not None:
            owner = ("family", names.families.get(norm_text(fam)))
            if owner[1] is None:
                problems.append(Problem(sheet, records.cell("family", i), "unknown family", fam, names.suggest(fam)))
                continue
        if owner is None:
            if raw_item is None:  # an unknown item is already named
                problems.append(Problem(sheet, records.cell("resource", i), "no item or family on this line",
                                        res, "an item, or a family (its row applies to all its items)"))
            continue
        if direct is None:
            if time is None:
                where = "hours_per_unit" if "hours_per_unit" in v else "time"
                problems.append(Problem(sheet, records.cell(where, i), "no hours", None,
                                        "Hours per Unit, or a Standard Value"))
                continue
            per_hour = header_unit if unit is None else TIME_UNIT_HOURS.get(norm_text(unit))
            if unit is not None and per_hour is None:
                problems.append(Problem(sheet, records.cell("time_unit", i), "unknown time unit", unit,
                                        "h, min or s (SAP: HUR, MIN, SEC)"))
                continue
            if base is not None and base <= 0:
                problems.append(Problem(sheet, records.cell("base_qty", i), f"Base Quantity of {quantity_text(base)}",
                                        base, "the units the standard value is for (more than 0)"))
                continue
            direct = time * (1.0 if per_hour is None else per_hour) / (base or 1.0)
        first = i if op is None else operations.setdefault((*owner, norm_text(op)), i)
        if first != i:
            problems.append(Problem(sheet, records.cell("operation", i), f"operation {op} of {owner[1]} listed again "
                                    f"(line {records.line(first)})", op,
                                    "each operation of an item once (a repeated line would count its hours twice)"))
            continue
        key = (*owner, known.get(norm_text(res), str(res).strip()))
        hours[key] = hours.get(key, 0.0) + direct
        lines_of[key] = lines_of.get(key, 0) + 1
    problems += old_problems
    if problems:
        raise ValidationError(problems)
    listed = {(kind, name) for kind, name, _ in hours}
    kept, before = [], {}
    for r in old.to_dict("records"):
        owner = ("item", r["item"]) if not _blank(r["item"]) else ("family", r["family"])
        if owner in listed:
            before[(*owner, r["resource"])] = r["hours_per_unit"]
        else:
            kept.append(r)
    new_rows = [{"item": name if kind == "item" else None, "family": name if kind == "family" else None,
                 "resource": res, "hours_per_unit": h} for (kind, name, res), h in hours.items()]
    changes = [f"{name} {res}: {_shown(before.get((kind, name, res)))} -> {_shown(h)}"
               for (kind, name, res), h in hours.items()
               if (kind, name, res) in before and not _same(before[(kind, name, res)], h)]
    changes += [f"{name} {res}: {_shown(h)} -> removed" for (kind, name, res), h in before.items()
                if (kind, name, res) not in hours]
    frame = pd.DataFrame(kept + new_rows, columns=C.BILL_OF_RESOURCES.keys)
    resources = list(dict.fromkeys(res for _, _, res in hours))
    owners = {kind: sorted({name for k, name in listed if k == kind}) for kind in ("item", "family")}
    preview = head_lines("BillOfResources", records)
    how = "Hours per Unit as given" if "time" not in v else (
        "Standard Value" + (" / Base Quantity" if "base_qty" in v else "") + " in "
        + ("the line's unit" if "time_unit" in v else
           {None: "hours", 1.0: "hours", 1 / 60: "minutes (/ 60)", 1 / 3600: "seconds (/ 3,600)"}[header_unit])
        + (", or Hours per Unit where given" if "hours_per_unit" in v else ""))
    families = f"{len(owners['family'])} famil{'y' if len(owners['family']) == 1 else 'ies'}"
    shown = ", ".join(resources[:8]) + (" ..." if len(resources) > 8 else "")
    preview.append(f"  {len(owners['item'])} item(s), {families} on {len(resources)} resource(s) ({shown}); hours "
                   f"per unit from {how}")
    summed = sum(c - 1 for c in lines_of.values())
    if summed:
        preview.append(f"  {summed} operation line(s) on a resource its item already uses summed into one row")
    in_capacity = set(capacity["resource"].dropna())
    missing = [r for r in resources if r not in in_capacity]
    if missing:
        preview.append(f"  not in Capacity (they limit nothing until it has their hours): {', '.join(missing)}")
    family_rows = {(r["family"], r["resource"]) for r in kept + new_rows if _blank(r["item"])}
    inherited = []  # an item's routing replaces the family's row of a resource it lists, not of the others
    for it in owners["item"]:
        family = names.item_of(it)[1]
        extra = sorted(res for fam, res in family_rows if fam == family and (("item", it, res) not in hours))
        if extra:
            inherited.append(f"{it} ({', '.join(extra)} from family {family})")
    if inherited:
        preview.append(f"  {len(inherited)} item(s) also load resources their routing does not list, through their "
                       "family's rows (an item row replaces its family's row of the same resource only): "
                       + ", ".join(inherited[:6]) + (" ..." if len(inherited) > 6 else ""))
    preview.append(f"  {sum(key not in before for key in hours)} row(s) added")
    preview += changes_lines(changes, "hours per unit of items and families already in BillOfResources")
    preview.append(f"  {len(kept)} row(s) of items and families the file does not list kept")
    log = (f"{len(new_rows)} rows for {len(owners['item'])} items and {len(owners['family'])} families on "
           f"{len(resources)} resources, {len(changes)} changed, {len(kept)} kept")
    return TableImport("BillOfResources", grid.description or grid.sheet, preview,
                       to_rows(C.BILL_OF_RESOURCES, frame), None, log, frame=frame)


# ---- Orders and Pipeline (docs/pipeline.md) ---------------------------------------------------------------------
_DMY_TEXT = re.compile(r"\s*(\d{1,2})\s*[-/.]\s*(\d{1,2})\s*[-/.]\s*(\d{4}|\d{2})(?:[ t].*)?\s*", re.IGNORECASE)
_ISO_TEXT = re.compile(r"\s*(\d{4})\s*[-/.]\s*(\d{1,2})\s*[-/.]\s*(\d{1,2})(?:[ t].*)?\s*", re.IGNORECASE)


def day_of(raw: Any, month: pd.Period, day_first: bool | None) -> pd.Timestamp:
    """The date a cell the reader took for `month` gives: its day when it has one (the column's day/month order
    `day_first` as the reader decided it), else the month's first day."""
    if isinstance(raw, (dt.datetime, dt.date)):
        return pd.Timestamp(raw.year, raw.month, raw.day)
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        return pd.Timestamp(dt.datetime(1899, 12, 30) + dt.timedelta(days=int(raw)))
    text = str(raw)
    if m := _ISO_TEXT.fullmatch(text):
        return pd.Timestamp(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    if m := _DMY_TEXT.fullmatch(text):
        a, b = int(m.group(1)), int(m.group(2))
        day = a if day_first or (day_first is None and a > 12) else b
        if month.month == (b if day == a else a):
            return pd.Timestamp(month.year, month.month, day)
    return month.start_time.normalize()


def read_orders(book: BookIO, grid: Grid) -> TableImport:
    """Orders from an ERP's open order book: the file is the whole book of open orders (it replaces the table);
    lines of one order, item and requested month summed; lines with nothing left open (0) dropped and counted."""
    records = read_records(grid, "Orders")
    names = book_names(book)
    items, problems = resolve_items(records, names)
    problems += negatives(records, ("qty",))
    if problems:
        raise ValidationError(problems)
    sums: dict[tuple, list] = {}
    zero = 0
    for i, item in enumerate(items):
        qty = records.values["qty"][i]
        if not qty:
            zero += 1
            continue
        key = (records.values["order_id"][i], item, records.values["period"][i])
        row = sums.setdefault(key, [key[0], item, (records.values.get("customer") or [None] * len(records))[i] or "",
                                    key[2], 0.0])
        row[4] += qty
    frame = pd.DataFrame(list(sums.values()), columns=C.ORDERS.keys)
    frame = frame.astype({"period": "period[M]"}) if len(frame) else frame
    settings, _ = parse_settings(book.read_table(C.SETTINGS_TABLE)[0])
    preview = head_lines("Orders", records)
    preview.append(f"  {len(frame)} open order line(s), {frame['order_id'].nunique() if len(frame) else 0} "
                   f"order(s), {len(set(frame['item'])) if len(frame) else 0} item(s), quantity "
                   f"{quantity_text(float(frame['qty'].sum()) if len(frame) else 0.0)}"
                   + (f"; {len(records) - zero - len(frame)} line(s) of the same order, item and month summed"
                      if len(records) - zero > len(frame) else ""))
    if zero:
        preview.append(f"  {zero} line(s) with nothing open (0) left out")
    if settings is not None and len(frame):
        late = frame[frame["period"] < settings.cycle_month]
        if len(late):
            preview.append(f"  {len(late)} line(s) past due (requested before {settings.cycle_month}): counted in "
                           f"the cycle month, quantity {quantity_text(float(late['qty'].sum()))}")
        for p, q in frame.groupby("period")["qty"].sum().items():
            preview.append(f"    {p}  quantity {quantity_text(q):>14}")
    log = f"{len(frame)} open order line(s), quantity {quantity_text(float(frame['qty'].sum()) if len(frame) else 0.0)}"
    return TableImport("Orders", grid.description or grid.sheet, preview, to_rows(C.ORDERS, frame), None, log,
                       frame=frame)


def probability_of(raw: Any, header: Any, decimal: str | None) -> float | None:
    """A probability cell as a share: 60% or 0.6 as 0.6; a plain number above 1, or any plain number under a
    header that says %, as percent (60 -> 0.6). None: blank. ValueError: not a probability."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        value, pct = float(raw), float(raw) > 1
    else:
        text = str(raw).strip()
        pct = text.endswith("%") or "%" in str(header) or "percent" in str(header).lower()
        try:
            value = parse_number(text.rstrip("%").strip(), decimal)
        except NumberError as exc:
            raise ValueError("a probability like 60% or 0.6") from exc
        pct = pct or value > 1
    value = value / 100 if pct else value
    if not 0 <= value <= 1:
        raise ValueError("a probability from 0% to 100%")
    return value


def read_pipeline(book: BookIO, grid: Grid) -> TableImport:
    """Pipeline from a CRM opportunity report: the file replaces the table. An opportunity listed twice (report
    snapshots) keeps its newest line: the latest Snapshot / Last Modified date, else the later line. The product
    names an item, or else a family. Lost and stale deals are kept (they are reported) and listed."""
    records = read_records(grid, "Pipeline")
    names = book_names(book)
    g, n = grid.sheet, len(records)
    problems: list[Problem] = []
    if "opportunity" not in records.columns and "name" not in records.columns:
        raise ValidationError([Problem(g, grid.cell(records.header_row, 0), "missing column 'Opportunity'",
                                       expected="an 'Opportunity ID' or 'Opportunity Name' column")])
    if "item" not in records.columns and "family" not in records.columns:
        raise ValidationError([Problem(g, grid.cell(records.header_row, 0), "missing column 'Item'",
                                       expected="a 'Product Code' (item) or 'Product Family' column")])
    key = "opportunity" if "opportunity" in records.columns else "name"
    ids = records.values[key]
    col = lambda k: records.values.get(k) or [None] * n  # noqa: E731
    items, families = [None] * n, [None] * n
    for i, (raw, fam) in enumerate(zip(col("item"), col("family"))):
        if ids[i] is None:
            problems.append(Problem(g, records.cell(key, i), f"{records.columns[key].field.label} is empty",
                                    expected="an id or name on every line"))
        if raw is not None:
            found = names.item_of(raw)
            if found:
                items[i] = found[0]
            elif norm_text(raw) in names.families:
                families[i] = names.families[norm_text(raw)]
            else:
                problems.append(Problem(g, records.cell("item", i), "unknown item", raw, names.suggest(raw)))
        elif fam is not None:
            if norm_text(fam) in names.families:
                families[i] = names.families[norm_text(fam)]
            else:
                problems.append(Problem(g, records.cell("family", i), "unknown family", fam, names.suggest(fam)))
        else:
            problems.append(Problem(g, records.cell("item" if "item" in records.columns else "family", i),
                                    "neither item nor family given", expected="the product (an item or a family)"))
    probs: list[float | None] = [None] * n
    if "probability" in records.columns:
        header = records.columns["probability"].header
        for i, raw in enumerate(records.values["probability"]):
            try:
                probs[i] = probability_of(records.grid.get(records.rows[i], records.columns["probability"].index),
                                          header, records.decimal)
            except ValueError as exc:
                problems.append(Problem(g, records.cell("probability", i), "bad Probability", raw, str(exc)))
    problems += negatives(records, ("qty",))
    close_index = records.columns["close_date"].index
    dates = [None if m is None else day_of(grid.get(records.rows[i], close_index), m, records.day_first)
             for i, m in enumerate(records.values["close_date"])]
    snapshots = [None] * n
    if "snapshot" in records.columns:
        snap_index = records.columns["snapshot"].index
        snapshots = [None if m is None else day_of(grid.get(records.rows[i], snap_index), m, records.day_first)
                     for i, m in enumerate(records.values["snapshot"])]
    if problems:
        raise ValidationError(problems)
    newest: dict[str, int] = {}
    lines_of: dict[str, list[int]] = {}
    for i, opp in enumerate(ids):
        k = norm_text(opp)
        lines_of.setdefault(k, []).append(i)
        j = newest.get(k)
        if j is None or (snapshots[i] or pd.Timestamp.min) >= (snapshots[j] or pd.Timestamp.min):
            newest[k] = i  # the latest snapshot; on a tie (or none given) the later line
    keep = sorted(newest.values())
    rows = [{"opportunity": ids[i], "item": items[i], "family": families[i], "qty": records.values["qty"][i],
             "close_date": dates[i], "stage": records.values["stage"][i], "probability": probs[i],
             "owner": col("owner")[i] or "", "account": col("account")[i] or "", "amount": col("amount")[i]}
            for i in keep]
    frame = pd.DataFrame(rows, columns=C.PIPELINE.keys)
    preview = head_lines("Pipeline", records)
    preview.append(f"  {len(frame)} opportunities, quantity {quantity_text(float(frame['qty'].sum()))}")
    twice = {k: v for k, v in lines_of.items() if len(v) > 1}
    if twice:
        preview.append(f"  {len(twice)} opportunit{'y' if len(twice) == 1 else 'ies'} listed more than once: the "
                       "newest line kept" + (" (latest snapshot date)" if "snapshot" in records.columns else
                                             " (the later line)") + ":")
        preview += [f"    {ids[newest[k]]}: lines {lines_text([records.line(i) for i in v])}, kept line "
                    f"{records.line(newest[k])}" for k, v in list(twice.items())[:_SHOWN]]
    settings, _ = parse_settings(book.read_table(C.SETTINGS_TABLE)[0])
    if settings is not None and len(frame):
        deals = pipeline_deals(Inputs(settings, *[pd.DataFrame()] * 11,  # the demand step's own reading
                                      pipeline=frame.astype({"close_date": "datetime64[ns]"})))
        for status, what in (("lost", "lost: no demand"), ("stale", "stale (close date before the cycle month "
                                                                     f"{settings.cycle_month}): no demand, an "
                                                                     "exception for its owner"),
                             ("closed", "won before the cycle month: no demand (history or an open order)"),
                             ("beyond", "closing after the pipeline horizon: not counted yet")):
            hit = deals[deals["status"] == status]
            if len(hit):
                preview.append(f"  {len(hit)} deal(s) {what}: " + ", ".join(
                    f"{o} ({w})" if w else str(o) for o, w in zip(hit["opportunity"][:8], hit["owner"][:8]))
                    + (" ..." if len(hit) > 8 else ""))
        live = deals[deals["status"] == "open"]
        preview.append(f"  {len(live)} open deal(s) in the pipeline horizon: weighted quantity "
                       f"{quantity_text(float(live['weighted'].sum()))}" + ("" if live["used"].notna().all() else
                                                                 " (some stages have no probability)"))
    log = f"{len(frame)} opportunities, quantity {quantity_text(float(frame['qty'].sum()))}" + (
        f", {sum(len(v) - 1 for v in twice.values())} older line(s) of repeated opportunities dropped" if twice else "")
    return TableImport("Pipeline", grid.description or grid.sheet, preview, to_rows(C.PIPELINE, frame), None, log,
                       frame=frame)


PREVIEWS: dict[str, Callable[[BookIO, Grid], TableImport]] = {
    "History": read_history, "Items": read_items, "Inventory": read_inventory, "Capacity": read_capacity,
    "BillOfResources": read_routings, "Orders": read_orders, "Pipeline": read_pipeline}
