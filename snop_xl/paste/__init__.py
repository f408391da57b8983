"""Reading foreign grids (a CSV, another workbook, a sheet someone pasted into) shared by every import: finance's
budget today, ERP extracts and item masters alike.

- `sources`: the `Grid` of cells and where grids come from (CSV, workbook, a sheet of the book), trimmed and capped;
- `cells`: lenient cells: numbers as text in either decimal convention, currencies, (1,234), 1,234-; months in
  every accepted form;
- `names`: what a label names: families and items of Items (closest names suggested), measures, header synonyms,
  total and subtotal headings;
- `layout`: `LayoutReader`, months as columns, as rows or a long table, title rows, totals rows and columns;
- `checks`: checks over a whole paste: month gaps, completeness, family rows against items, totals that add up;
- `fields`: what the columns of an ERP extract hold (History lines, Items, Inventory, Capacity) and their header
  synonyms (Material, Billing Date, Billed Qty, List Price, Lead Time (days) ...);
- `records`: `RecordReader`, an extract as one long table of records under a header row, read by those fields.

Everything here works on a Grid and the Items names; what a command does with the figures (the budget window of
Settings, the table written) stays with the command.
"""

from snop_xl.paste.cells import (
    DASHES,
    AmbiguousNumber,
    MonthCell,
    NumberError,
    decimal_convention,
    decimal_style,
    looks_numeric,
    month_cell,
    month_names,
    norm_text,
    number_style,
    parse_number,
)
from snop_xl.paste.checks import (
    check_completeness,
    check_totals,
    fold_levels,
    missing_months,
)
from snop_xl.paste.fields import FIELDS, Field
from snop_xl.paste.layout import (
    Entry,
    Key,
    LayoutReader,
    Parsed,
    TotalCheck,
    key_text,
    subtotal_spans,
)
from snop_xl.paste.names import (
    FAMILY_HEADERS,
    IGNORED_HEADERS,
    ITEM_HEADERS,
    MEASURE_HEADERS,
    MEASURES,
    REVENUE,
    UNITS,
    VALUE_HEADERS,
    Names,
    header_words,
    measure_of,
    norm_words,
    split_measure,
    subtotal_level,
    total_label,
)
from snop_xl.paste.records import Column, RecordReader, Records, lines_text
from snop_xl.paste.sources import (
    MAX_COLS,
    MAX_ROWS,
    TABLE_MAX_ROWS,
    Grid,
    grid_from_book,
    grid_from_csv,
    grid_from_file,
    grid_from_workbook,
)

__all__ = [
    "DASHES",
    "FIELDS",
    "FAMILY_HEADERS",
    "IGNORED_HEADERS",
    "ITEM_HEADERS",
    "MAX_COLS",
    "MAX_ROWS",
    "MEASURES",
    "MEASURE_HEADERS",
    "REVENUE",
    "TABLE_MAX_ROWS",
    "UNITS",
    "VALUE_HEADERS",
    "AmbiguousNumber",
    "Column",
    "Entry",
    "Field",
    "Grid",
    "Key",
    "LayoutReader",
    "MonthCell",
    "Names",
    "NumberError",
    "Parsed",
    "RecordReader",
    "Records",
    "TotalCheck",
    "check_completeness",
    "check_totals",
    "decimal_convention",
    "decimal_style",
    "fold_levels",
    "grid_from_book",
    "grid_from_csv",
    "grid_from_file",
    "grid_from_workbook",
    "header_words",
    "key_text",
    "lines_text",
    "looks_numeric",
    "measure_of",
    "missing_months",
    "month_cell",
    "month_names",
    "norm_text",
    "norm_words",
    "number_style",
    "parse_number",
    "split_measure",
    "subtotal_level",
    "subtotal_spans",
    "total_label",
]
