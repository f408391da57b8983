"""Checks over a whole read paste (`layout.Parsed`), once every cell was understood: no month missing between the
first and the last, units and revenue for every family (or item) and month, family rows equal to the sum of their
items (then dropped), totals and subtotals that add up (to half a unit, as pasted totals are often rounded).
"""

from __future__ import annotations

import pandas as pd

from snop_xl.errors import Problem
from snop_xl.paste.layout import Entry, Key, Parsed, key_text
from snop_xl.paste.names import REVENUE, UNITS


def missing_months(parsed: Parsed, sheet: str) -> list[Problem]:
    """A month missing between the first and the last month of the paste (one problem naming the first gap)."""
    out = []
    months = sorted(parsed.months)
    if not months:
        return out
    full = pd.period_range(months[0], months[-1], freq="M")
    missing = [p for p in full if p not in parsed.months]
    if missing:
        after = next(p for p in months if p > missing[0])
        out.append(Problem(sheet, parsed.months[after], f"month {missing[0]} is missing"
                           + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""),
                           str(after), f"every month from {months[0]} to {months[-1]}"))
    return out


def _tolerance(total: float) -> float:
    """Pasted totals are often rounded to whole units: accept half a unit (and float noise on big sums)."""
    return 0.5 + 1e-9 * abs(total)


def check_completeness(parsed: Parsed, entries: list[Entry], sheet: str) -> list[Problem]:
    """Every family (or item) has units and revenue for every month of the paste."""
    out = []
    have: dict[Key, set[pd.Period]] = {}
    for e in entries:
        have.setdefault(e.key, set()).add(e.period)
    months = set(parsed.months)
    for key, periods in have.items():
        if periods != months:
            gap = sorted(months - periods)
            out.append(Problem(sheet, parsed.key_cells.get(key, ""), f"{key_text(key)} has no value for "
                               f"{', '.join(map(str, gap[:3]))}" + (" ..." if len(gap) > 3 else ""),
                               expected="a value for every month of the budget"))
        other = (key[0], key[1], REVENUE if key[2] == UNITS else UNITS)
        if other not in have:
            out.append(Problem(sheet, parsed.key_cells.get(key, ""), f"{key[1] or key[0]} has {key[2]} but no "
                               f"{other[2]}", expected=f"a {other[2]} row for {key[1] or key[0]} as well"))
    return out


def fold_levels(parsed: Parsed, sheet: str) -> tuple[list[Entry], list[Problem]]:
    """Where a family has both its own rows and item rows, the family rows are subtotals: check, then drop them."""
    by_family_level: dict[tuple[str, str, pd.Period], Entry] = {}
    item_sums: dict[tuple[str, str, pd.Period], float] = {}
    for e in parsed.entries:
        family, item, measure = e.key
        if item is None:
            by_family_level[(family, measure, e.period)] = e
        else:
            k = (family, measure, e.period)
            item_sums[k] = item_sums.get(k, 0.0) + e.value
    families_with_items = {k[0] for k in item_sums}
    problems = []
    for (family, measure, period), e in by_family_level.items():
        if family not in families_with_items:
            continue
        expected = item_sums.get((family, measure, period), 0.0)
        if abs(e.value - expected) > _tolerance(expected):
            problems.append(Problem(sheet, e.cell, f"{family} {measure} {period} is not the sum of its items "
                                    f"({expected:,.2f})", e.value,
                                    "a family row equal to the sum of the item rows below it, or only one level"))
    kept = [e for e in parsed.entries if e.key[1] is not None or e.key[0] not in families_with_items]
    return kept, problems


def check_totals(parsed: Parsed, entries: list[Entry], sheet: str) -> list[Problem]:
    """Every total and subtotal of the paste equals what its rows sum (`entries`: the figures, family rows folded)."""
    out = []
    for t in parsed.totals:
        total = sum(e.value for e in entries if e.key[2] == t.measure
                    and (t.family is None or e.key[0] == t.family)
                    and (t.keys is None or e.key in t.keys or (e.key[1] is not None and (e.key[0], None, e.key[2])
                                                               in t.keys))
                    and (t.periods is None or e.period in t.periods))
        if abs(total - t.value) > _tolerance(total):
            out.append(Problem(sheet, t.cell, f"{t.label} does not add up: the rows sum to {total:,.2f}", t.value,
                               f"{total:,.2f}"))
    return out


