"""Output tables are turned into cells a column at a time (`column_cells`); every cell must be what the per-cell
rule `to_cell` gives, whatever the column's pandas dtype and the contract's type."""

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest

from snop_xl import contract as C
from snop_xl.io.parse import column_cells, to_cell

COLUMNS = {
    "floats": pd.Series([1.5, np.nan, -0.0, 0.0, 2.0, np.inf, 1e-300]),
    "ints": pd.Series([3, 0, -7, 2**40]),
    "nullable ints": pd.Series([1, None, 3], dtype="Int64"),
    "nullable floats": pd.Series([1.25, None, 0.0], dtype="Float64"),
    "bools": pd.Series([True, False, True]),
    "objects": pd.Series([1, 1.0, True, "1", None, np.nan, -0.0, 0.0, pd.NA, "x", "x"], dtype=object),
    "texts": pd.Series(["A-100", "A-100", " pad ", "=SUM(A1)", None, "#N/A", "x" * 40_000]),
    "periods": pd.Series(pd.period_range("2026-01", periods=3, freq="M").tolist() * 2),
    "timestamps": pd.Series(pd.to_datetime(["2026-01-31 00:00", None, "2026-01-31 10:30"])),
    "month gaps": pd.Series(pd.PeriodIndex(["2026-01", None, "2026-03", "2026-01"], freq="M")),
    "dates": pd.Series([dt.date(2026, 1, 2), dt.date(2026, 1, 2), None], dtype=object),
}
TYPES = [C.NUMBER, C.PERCENT, C.INTEGER, C.TEXT, C.ANY, C.BOOL, C.PERIOD, C.DATE]


def same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    return type(a) is type(b) and a == b


@pytest.mark.parametrize("name", COLUMNS)
@pytest.mark.parametrize("dtype", TYPES)
def test_column_cells_are_the_per_cell_rule(name, dtype):
    series = COLUMNS[name]
    try:
        expected = [to_cell(v, dtype) for v in series.tolist()]
    except (TypeError, ValueError, AttributeError, OverflowError):
        with pytest.raises((TypeError, ValueError, AttributeError, OverflowError)):
            column_cells(series, dtype)
        return
    got = column_cells(series, dtype)
    assert len(got) == len(expected)
    assert all(same(a, b) for a, b in zip(got, expected)), [(a, b) for a, b in zip(got, expected) if not same(a, b)]


def test_months_with_gaps_by_code():
    """Months and dates are converted once per distinct value: the blanks between them stay blank."""
    months = pd.Series(pd.PeriodIndex(["2026-01", None, "2026-02", "2026-01"], freq="M"))
    assert column_cells(months, C.PERIOD) == [dt.datetime(2026, 1, 1), None, dt.datetime(2026, 2, 1),
                                              dt.datetime(2026, 1, 1)]
    stamps = pd.Series(pd.to_datetime(["2026-01-31 08:00", None]).tz_localize("UTC"))
    assert column_cells(stamps, C.ANY) == [to_cell(v, C.ANY) for v in stamps.tolist()]
