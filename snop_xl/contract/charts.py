"""What the native charts show: a ChartSpec per chart, drawn by every BookIO engine (natively headless, as pictures
in live Excel) and by the meeting pack. The Dashboard's charts (`CHARTS`) and the KPIs sheet's (`KPI_CHARTS`).

Where they go is here too, so that both engines put them in the same place: the Dashboard's first screen is a
grid of headline tiles (`TILES`, read from the Dashboard, PlanVersion and KPITrend tables by `canvas_cells`) above
the charts, two a row (`chart_places`); the KPIs sheet has the same chart grid without tiles."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from snop_xl.contract.schema import FORMATS, SHEETS, column_letter, is_blank
from snop_xl.contract.tables import DASHBOARD, KPI_TREND, PLAN_VERSION, table


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
    skip_groups: int = 0  # groups drawn by another spec (the Total drawn first, on its own)
    label: Callable[[Mapping[str, Any]], str] | None = None  # x labels made from each row (else `category`)
    horizontal: bool = False  # bars across: labels read better down the side

    @property
    def labels_column(self) -> int:
        """1-based column of the LABELS_SHEET where the native engine writes this spec's labels (`label`): one
        column each, right of that sheet's tables; the chart's categories reference them."""
        labelled = [s for s in CHARTS + KPI_CHARTS if s.label is not None]
        return SHEETS[LABELS_SHEET].charts_column + labelled.index(self)

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
            groups = [(g, rows[0], rows[-1]) for g, rows in runs.items() if not is_blank(g)]
            groups = groups[self.skip_groups:self.skip_groups + self.max_groups]
        else:
            groups = [(None, 0, (n if self.max_rows is None else min(n, self.max_rows)) - 1)]
        if self.start_at:
            starts = column(self.start_at)
            groups = [(g, next((i for i in range(i0, i1 + 1) if not is_blank(starts[i])), i0), i1)
                      for g, i0, i1 in groups]
        return groups

    def chart_title(self, group: Any, n_groups: int) -> str:
        """The title of the chart of `group` (one of `n_groups` charts)."""
        return self.title + (f": {group}" if group is not None and (n_groups > 1 or self.skip_groups) else "")

    def categories(self, rows: Sequence[Mapping[str, Any]]) -> list[Any]:
        """The x labels of `rows` (the table's rows as dicts): `label` of each row, else its `category` value."""
        return [self.label(r) if self.label else r.get(self.category) for r in rows]


#: where the native engine writes made-up chart labels (`ChartSpec.label`): the hidden sheet of the chart series
LABELS_SHEET = "ChartData"
#: the longest label a chart shows down its side (the table beside it has the whole text)
LABEL_CHARS = 38


def exception_label(row: Mapping[str, Any]) -> str:
    """"HT-008 · Shortage", "Garden · Plan below budget": what an exception is about (the item or resource, else
    the family) and its kind; a chart has no room for the message, which stays in the Exceptions table."""
    where = next((str(row[k]).strip() for k in ("item", "family") if not _missing(row.get(k))), "All")
    kind = "" if _missing(row.get("kind")) else str(row["kind"]).strip()
    room = max(4, LABEL_CHARS - len(kind) - 3)
    where = where if len(where) <= room else where[:room - 1] + "\u2026"
    return f"{where} \u00b7 {kind}" if kind else where


def _missing(value: Any) -> bool:
    """Blank, NaN, NaT or pandas' NA: nothing to show."""
    if is_blank(value):
        return True
    try:
        return bool(value != value)
    except TypeError:  # pd.NA
        return True


_DEMAND = ("history", "statistical", "consensus", "budget_units")
#: in the order of the Dashboard's grid, two a row: demand and supply of all families side by side (as on the
#: pack's page 4), capacity beside the exceptions, the scenarios, then each family's demand
CHARTS: tuple[ChartSpec, ...] = (
    ChartSpec("Demand and budget (all families)", "line", "ChartDemand", "period", _DEMAND, group="family",
              max_groups=1, y_title="units"),
    ChartSpec("Supply vs demand (all families)", "bar", "ChartDemand", "period", ("consensus", "supply", "shortage"),
              group="family", max_groups=1, y_title="units", start_at="consensus"),
    ChartSpec("Capacity utilisation by resource", "line", "ChartCapacity", "period", ("utilisation",),
              group="resource", series_per_group=True, max_groups=12, y_title="utilisation"),
    ChartSpec("Top exceptions by money at stake", "bar", "Exceptions", "message", ("value",), max_rows=10,
              y_title="money", label=exception_label, horizontal=True),
    ChartSpec("Scenarios: revenue and margin", "bar", "ScenarioComparison", "scenario", ("revenue", "margin"),
              y_title="money"),
    ChartSpec("Demand and budget", "line", "ChartDemand", "period", _DEMAND, group="family", skip_groups=1,
              y_title="units"),
)


#: native charts on the KPIs sheet, drawn by the BookIO engine from KPITrend (same mechanism as CHARTS)
KPI_CHARTS: tuple[ChartSpec, ...] = (
    ChartSpec("Forecast accuracy by lag (consensus)", "line", "KPITrend", "cycle",
              ("accuracy_lag1", "accuracy_lag2", "accuracy_lag3"), group="name", max_groups=7,
              y_title="1 - WAPE"),
    ChartSpec("Bias at lag 1 (consensus; + = over-forecast)", "line", "KPITrend", "cycle", ("bias_lag1",),
              group="name", series_per_group=True, max_groups=12, y_title="bias"),
)


# ---- where the charts and the tiles go (both engines) ----------------------------------------------------------
@dataclass(frozen=True)
class Place:
    """Where a chart (or the picture of several) goes: its top-left cell (1-based) and its size in centimetres."""

    row: int
    col: int
    width: float
    height: float


TILES_A_ROW = (SHEETS[DASHBOARD.sheet].canvas_columns - 1) // 2  # a tile's column and its gap each, one to spare
CHARTS_A_ROW = 2
TILE_WIDTH = 26.0  # Excel column width (characters) of a tile's column
GAP_WIDTH = 2.0  # ... and of the narrow column after it
CHART_ROWS = 16  # sheet rows (of the default 15 points) a row of charts takes
TILE_ROW_HEIGHTS = (24.0, 22.0, 24.0, 15.0)  # points: label (two lines), figure, detail (two lines), space
GAP_CM = 0.4  # between two charts
ROW_CM = 15 / 72 * 2.54


def column_cm(width: float) -> float:
    """How wide Excel draws a column `width` characters wide (Calibri 11 at 96 dpi: 7 pixels a character + 5)."""
    return int(7 * width + 5) / 96 * 2.54


def canvas_column(host: str) -> int:
    """The first column of the tiles and charts: the sheet's canvas (the Dashboard's first screen), else right of
    the host sheet's tables, one empty column between."""
    return SHEETS[host].charts_column


def canvas_widths(host: str) -> dict[int, float]:
    """The width of each column the tiles and charts lie on (the engine sets them: the grid depends on them)."""
    first = canvas_column(host)
    return {first + 2 * k + j: (TILE_WIDTH, GAP_WIDTH)[j] for k in range(TILES_A_ROW) for j in (0, 1)}


def tile_rows(host: str) -> int:
    """Sheet rows above the charts: a title row and four rows per row of tiles (none on a sheet without tiles)."""
    if host != DASHBOARD.sheet:
        return 0
    return 1 + len(TILE_ROW_HEIGHTS) * -(-len(TILES) // TILES_A_ROW)


def canvas_heights(host: str) -> dict[int, float]:
    """Heights (points) of the rows the tiles take."""
    return {2 + i: TILE_ROW_HEIGHTS[i % len(TILE_ROW_HEIGHTS)] for i in range(tile_rows(host) - 1)}


def chart_places(host: str, n: int) -> list[Place]:
    """Where each of the `n` charts drawn on `host` goes: below the tiles, `CHARTS_A_ROW` a row, each as wide as
    half the tiles."""
    first, top = canvas_column(host), 1 + tile_rows(host)
    span = TILES_A_ROW // CHARTS_A_ROW  # tiles under one chart
    width = span * (column_cm(TILE_WIDTH) + column_cm(GAP_WIDTH)) - GAP_CM
    return [Place(top + (i // CHARTS_A_ROW) * CHART_ROWS, first + 2 * span * (i % CHARTS_A_ROW), width,
                  CHART_ROWS * ROW_CM - GAP_CM) for i in range(n)]


def charts_block(host: str, n: int) -> Place:
    """The place of all `n` charts together (live Excel draws them as one picture there, the grid inside)."""
    places = chart_places(host, n)
    rows = -(-n // CHARTS_A_ROW)
    return Place(places[0].row, places[0].col, CHARTS_A_ROW * (places[0].width + GAP_CM) - GAP_CM,
                 rows * CHART_ROWS * ROW_CM - GAP_CM)


# ---- the headline tiles ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TileSpec:
    """A headline tile: a figure with its label, and a detail line under it. From the Dashboard table: the row whose
    metric is `metric` (or starts with `metric (`, the months or the year in brackets after it; the tile's label
    is that metric) and the row `detail`, shown as `detail_label: value`. From another table (`table`): the
    columns `metric` and `detail` of its row (PlanVersion: formulas to its cells, so a publish shows at once;
    KPITrend: the Total's latest cycle with a value), under the label `title`."""

    metric: str
    detail: str | None = None
    detail_label: str = ""
    variance: bool = False  # the detail is a variance against the budget (positive: favourable): F / U after it
    table: str = "Dashboard"
    title: str = ""


TILES: tuple[TileSpec, ...] = (
    TileSpec("Full-year outlook revenue", "Outlook vs budget revenue", "vs budget", variance=True),
    TileSpec("Full-year outlook margin", "Full-year outlook margin %", "margin"),
    TileSpec("Full-year outlook units", "Outlook vs budget units", "vs budget", variance=True),
    TileSpec("Next FY revenue", "Next FY revenue vs budget", "vs budget", variance=True),
    TileSpec("Next FY units", "Next FY units vs budget", "vs budget", variance=True),
    TileSpec("version", "status", table="PlanVersion", title="Plan version"),
    TileSpec("Binding resource money at stake", "Capacity utilisation", "utilisation"),
    TileSpec("Revenue at risk (shortage)", "Fill rate", "fill rate"),
    TileSpec("Money at stake in exceptions", "Exceptions", "exceptions"),
    TileSpec("accuracy_lag1", "bias_lag1", "bias", table="KPITrend",
             title="Forecast accuracy lag 1, all families"),
    TileSpec("Best scenario margin vs base", "Scenarios compared", "scenarios compared"),
    TileSpec("Plan revenue", "Gross margin %", "margin"),
)
#: how each kind of canvas cell looks: font size, bold, font colour, fill (RGB; None: none), wraps, alignment
TILE_STYLES = {"title": (13.0, True, "000000", None, False, "left"),
               "label": (9.0, False, "595959", "F2F2F2", True, "left"),
               "value": (16.0, True, "000000", "F2F2F2", False, "right"),
               "detail": (9.0, False, "595959", "F2F2F2", True, "left")}
CANVAS_TITLE = "Plan at a glance (every figure: the Dashboard table to the right; the charts below)"


@dataclass(frozen=True)
class CanvasCell:
    """One cell of the tiles: `value` a number, a text or (`formula`) an Excel formula; `style` in TILE_STYLES."""

    row: int
    col: int
    value: Any
    style: str
    number_format: str | None = None
    formula: bool = False


def tile_format(unit: Any, currency: str = "") -> str:
    """The number format of a tile's figure: the Dashboard's format of its unit, with the unit after it."""
    base = DASHBOARD.cell_formats(["", 0.0, unit], 3, currency)[1] or FORMATS["qty"]
    base = base.split(' "')[0]  # the currency code comes after, as for any unit
    text = "" if _missing(unit) else str(unit).replace('"', "").strip()
    if text == "%":
        return f'{base}"%"'
    return base if text in ("", "count") else f'{base} "{text}"'


def tile_text(value: Any, unit: Any, variance: bool = False) -> str:
    """A figure as a detail line shows it: 1,234 USD, 97.3%, +12 units (F)."""
    if _missing(value):
        return "-"
    v, text = float(value), "" if _missing(unit) else str(unit).strip()
    out = f"{v:{'+' if variance else ''},.{1 if text in ('%', 'hours') else 0}f}"
    out += "%" if text == "%" else "" if text in ("", "count") else f" {text}"
    if variance and abs(v) >= 0.5:
        out += " (F)" if v > 0 else " (U)"
    return out


def _dashboard_row(rows: Sequence[Mapping[str, Any]], name: str | None) -> Mapping[str, Any] | None:
    if not name:
        return None
    return next((r for r in rows if str(r.get("metric") or "").strip() == name
                 or str(r.get("metric") or "").strip().startswith(name + " (")), None)


def _tile(spec: TileSpec, frames: Mapping[str, Sequence[Mapping[str, Any]]], currency: str
          ) -> tuple[str, Any, str | None, str, bool]:
    """(label, figure, its number format, detail, formulas?) of one tile."""
    if spec.table == PLAN_VERSION.name:
        cell = {k: f"{column_letter(PLAN_VERSION.first_column + PLAN_VERSION.keys.index(k))}2"
                for k in (spec.metric, spec.detail) if k}
        return (spec.title, f'={cell[spec.metric]}&""', None,
                f'={cell[spec.detail]}&""' if spec.detail else "", True)
    if spec.table == KPI_TREND.name:
        rows = [r for r in frames.get(KPI_TREND.name, ()) if r.get("name") == "Total" and not _missing(
            r.get(spec.metric))]
        if not rows:
            return spec.title, "-", None, "no published cycle measured yet", False
        r = rows[-1]
        detail = f"{spec.detail_label}: {tile_text(100 * float(r[spec.detail]), '%')}" \
            if spec.detail and not _missing(r.get(spec.detail)) else ""
        return (f"{spec.title} (cycle {r.get('cycle')})", 100 * float(r[spec.metric]), tile_format("%"),
                detail, False)
    rows = frames.get(DASHBOARD.name, ())
    row, extra = _dashboard_row(rows, spec.metric), _dashboard_row(rows, spec.detail)
    label = str(row["metric"]).strip() if row else spec.metric
    value = "-" if row is None or _missing(row.get("value")) else float(row["value"])
    detail = f"{spec.detail_label}: {tile_text(extra.get('value'), extra.get('unit'), spec.variance)}" \
        if extra else ""
    return label, value, tile_format(row.get("unit"), currency) if row else None, detail, False


def canvas_cells(frames: Mapping[str, Sequence[Mapping[str, Any]]], currency: str = "") -> list[CanvasCell]:
    """Every cell of the Dashboard's title and tiles (`TILES`), from `frames` (table name -> its rows as dicts:
    Dashboard and KPITrend; a table not there leaves its tiles at "-"). Each tile is a label, the figure under it
    and a detail line, in the grid `TILES_A_ROW` a row; both engines write exactly these cells."""
    first = canvas_column(DASHBOARD.sheet)
    cells = [CanvasCell(1, first, CANVAS_TITLE, "title")]
    for k, spec in enumerate(TILES):
        label, value, fmt, detail, formula = _tile(spec, frames, currency)
        row, col = 2 + len(TILE_ROW_HEIGHTS) * (k // TILES_A_ROW), first + 2 * (k % TILES_A_ROW)
        cells += [CanvasCell(row, col, label, "label"),
                  CanvasCell(row + 1, col, value, "value", fmt if isinstance(value, float) else None, formula),
                  CanvasCell(row + 2, col, detail, "detail", None, formula and bool(detail))]
    return cells
