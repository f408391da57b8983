"""Shared fixtures: small books built from the contract, the demo book, paths to shared sample data."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import settings

# CI replays the same examples every run (a landing must not depend on luck); locally every run explores anew.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

from snop_xl.inputs import write_inputs
from snop_xl.io import OpenpyxlBook

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
BUDGET_SAMPLES = SHARED / "data" / "budgets"


def require_budget_samples() -> Path:
    """The shared messy budget pastes (beside the checkout, as on CI); skip the caller's tests where absent."""
    if not (BUDGET_SAMPLES / "expected.json").exists():
        pytest.skip(f"the shared sample budgets are not at {BUDGET_SAMPLES}", allow_module_level=True)
    return BUDGET_SAMPLES


def make_book(path: Path, frames: dict[str, pd.DataFrame], settings: dict | None = None) -> Path:
    """A workbook with every contract table, filled from contract frames (History long)."""
    book = OpenpyxlBook.new(path)
    write_inputs(book, frames, {"cycle_month": pd.Period("2027-01", "M"), "horizon": 6, **(settings or {})})
    return book.save()


def small_frames() -> dict[str, pd.DataFrame]:
    """Two items in one family, one resource: small enough to compute every answer by hand."""
    P = lambda s: pd.Period(s, "M")  # noqa: E731
    hist = [("A", P(f"2026-{m:02d}"), 10.0) for m in range(1, 13)] + \
           [("B", P(f"2026-{m:02d}"), 20.0) for m in range(1, 13)]
    return {
        "Items": pd.DataFrame({"item": ["A", "B"], "description": ["", ""], "family": ["F", "F"],
                               "unit_price": [10.0, 5.0], "unit_cost": [6.0, 2.0], "lead_time": [0, 0],
                               "min_lot": [0.0, 0.0], "active": [True, True]}),
        "History": pd.DataFrame(hist, columns=["item", "period", "qty"]),
        "Inventory": pd.DataFrame({"item": ["A", "B"], "on_hand": [15.0, 0.0], "ss_policy": ["fixed", "fixed"],
                                   "ss_value": [0.0, 0.0]}),
        "Capacity": pd.DataFrame({"resource": ["Line"] * 6, "period": pd.period_range("2027-01", periods=6, freq="M"),
                                  "available_hours": [100.0] * 6, "overtime_hours": [0.0] * 6,
                                  "regular_cost": [0.0] * 6, "overtime_cost": [0.0] * 6}),
        "BillOfResources": pd.DataFrame({"item": [None], "family": ["F"], "resource": ["Line"],
                                         "hours_per_unit": [1.0]}),
        "Budget": pd.DataFrame({"family": ["F"] * 6, "item": [None] * 6,
                                "period": pd.period_range("2027-01", periods=6, freq="M"),
                                "units": [30.0] * 6, "revenue": [200.0] * 6}),
    }


@pytest.fixture
def small_book(tmp_path: Path) -> Path:
    return make_book(tmp_path / "small.xlsx", small_frames())


@pytest.fixture(scope="session")
def demo_book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo workbook's inputs (no outputs yet); copy it before changing it."""
    from snop_xl.commands.demo import write_demo_book

    return write_demo_book(tmp_path_factory.mktemp("demo") / "demo.xlsx")


@contextlib.contextmanager
def small_tmpfs(tmp_path: Path, size: str) -> Iterator[Path]:
    """A tmpfs of `size` (mount's syntax: 256k, 2m) mounted under tmp_path, unmounted afterwards: a disk that fills
    up or turns read-only on demand. Skips the caller where mounting is not allowed (not root, no mount)."""
    point = tmp_path / "mnt"
    point.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(point)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield point
    finally:
        subprocess.run(["umount", "-l", str(point)], capture_output=True)
