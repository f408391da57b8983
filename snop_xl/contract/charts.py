"""What the native charts show: a ChartSpec per chart, drawn by every BookIO engine (natively headless, as pictures
in live Excel) and by the meeting pack. The Dashboard's charts (`CHARTS`) and the KPIs sheet's (`KPI_CHARTS`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from snop_xl.contract.schema import FORMATS, is_blank
from snop_xl.contract.tables import table


# ---- what the Dashboard charts show (drawn by the BookIO engine) ----------------------------------------------
@dataclass(frozen=True)
class ChartSpec:
    """One native chart: `table` rows grouped by `group` (one chart per group value, or one series per group value
    when `series_per_group`), `values` columns as series, `category` on the x axis."""

    title: str
    kind: str  # "line" or "bar"
    table: str
    category: str
    values: tuple[str, ...]
    group: str | None = None
    series_per_group: bool = False
    max_groups: int = 6
    max_rows: int | None = None  # first rows only (top exceptions)
    start_at: str | None = None  # rows from the first with a value in this column (the plan's months, not history)
    y_title: str = ""

    @property
    def percent(self) -> bool:
        """The values are shares (a 0% axis)."""
        return table(self.table).column(self.values[0]).number_format == FORMATS["percent"]

    def groups(self, column: Callable[[str], Sequence[Any]]) -> list[tuple[Any, int, int]]:
        """What this spec draws from its table, as (group value, first, last): 0-based positions (inclusive) among
        the table's data rows of each chart (or, when `series_per_group`, each series); `column(key)` gives the
        values of one column. Both the native charts and the pictures of them take their rows from here."""
        n = len(column(self.category))
        if self.group:
            runs: dict[Any, list[int]] = {}
            for i, g in enumerate(column(self.group)):
                runs.setdefault(g, []).append(i)
            groups = [(g, rows[0], rows[-1]) for g, rows in runs.items() if not is_blank(g)][:self.max_groups]
        else:
            groups = [(None, 0, (n if self.max_rows is None else min(n, self.max_rows)) - 1)]
        if self.start_at:
            starts = column(self.start_at)
            groups = [(g, next((i for i in range(i0, i1 + 1) if not is_blank(starts[i])), i0), i1)
                      for g, i0, i1 in groups]
        return groups

    def chart_title(self, group: Any, n_groups: int) -> str:
        """The title of the chart of `group` (one of `n_groups` charts)."""
        return self.title + (f": {group}" if group is not None and n_groups > 1 else "")


CHARTS: tuple[ChartSpec, ...] = (
    ChartSpec("Demand: history, consensus and budget", "line", "ChartDemand", "period",
              ("history", "statistical", "consensus", "budget_units"), group="family", y_title="units"),
    ChartSpec("Supply vs demand (all families)", "bar", "ChartDemand", "period", ("consensus", "supply", "shortage"),
              group="family", max_groups=1, y_title="units", start_at="consensus"),
    ChartSpec("Capacity utilisation by resource", "line", "ChartCapacity", "period", ("utilisation",),
              group="resource", series_per_group=True, max_groups=12, y_title="utilisation"),
    ChartSpec("Scenarios: revenue and margin", "bar", "ScenarioComparison", "scenario", ("revenue", "margin"),
              y_title="money"),
    ChartSpec("Top exceptions by money at stake", "bar", "Exceptions", "message", ("value",), max_rows=10,
              y_title="money"),
)


#: native charts on the KPIs sheet, drawn by the BookIO engine from KPITrend (same mechanism as CHARTS)
KPI_CHARTS: tuple[ChartSpec, ...] = (
    ChartSpec("Forecast accuracy by lag (consensus)", "line", "KPITrend", "cycle",
              ("accuracy_lag1", "accuracy_lag2", "accuracy_lag3"), group="name", max_groups=7,
              y_title="1 - WAPE"),
    ChartSpec("Bias at lag 1 (consensus; + = over-forecast)", "line", "KPITrend", "cycle", ("bias_lag1",),
              group="name", series_per_group=True, max_groups=12, y_title="bias"),
)
