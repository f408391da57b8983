"""Pipeline trust (issue 19): the consensus takes the share of the weighted pipeline above the statistical forecast
that the pipeline has earned. The learned share is checked against a brute-force minimum of the published plans'
absolute error; the setting is checked through whole runs against the rule of docs/pipeline.md written out here."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snop_xl import archive
from snop_xl import contract as C
from snop_xl.cli import main as cli
from snop_xl.io import OpenpyxlBook
from snop_xl.steps.pipeline_kpis import MIN_EVIDENCE, learned_trust

from .conftest import make_book
from .test_pipeline import DEALS, P, signal_frames


def total_error(share: float, s: np.ndarray, e: np.ndarray, w: np.ndarray, a: np.ndarray) -> float:
    """What the published plans would have missed by with `share` of the pipeline's excess (the WAPE numerator)."""
    plan = np.maximum(0.0, s + e) + share * np.maximum(0.0, w - s)
    return float(np.abs(a - plan).sum())


def plans_and_history(s, e, w, a) -> tuple[pd.DataFrame, pd.DataFrame]:
    n = len(s)
    items = [f"I{k}" for k in range(n)]
    plans = pd.DataFrame({"level": "Item", "item": items, "period": P("2026-10"), "statistical": s, "events": e,
                          "pipeline": w})
    history = pd.DataFrame({"item": items, "period": P("2026-10"), "qty": a})
    return plans, history


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 100), st.floats(-20, 20), st.floats(0, 300), st.floats(0, 300)),
                min_size=1, max_size=30))
def test_the_learned_share_is_the_most_accurate_one(rows) -> None:
    s, e, w, a = (np.array(col, dtype=float) for col in zip(*rows))
    plans, history = plans_and_history(s, e, w, a)
    share, measured = learned_trust(plans, history)
    assert measured == int((np.maximum(0.0, w - s) > 0).sum())
    assert 0.0 <= share <= 1.0
    if measured:  # no share on a fine grid does better (independent: brute force over the error itself)
        best = min(total_error(t, s, e, w, a) for t in np.linspace(0.0, 1.0, 1001))
        assert total_error(share, s, e, w, a) <= best + 1e-6 * max(1.0, best)


def test_a_pipeline_that_was_pure_noise_earns_nothing_and_a_true_one_everything() -> None:
    rng = np.random.default_rng(3)
    s = rng.uniform(50, 100, 40)
    w = s + rng.uniform(10, 80, 40)  # every deal says more than the forecast ...
    plans, history = plans_and_history(s, np.zeros(40), w, s)  # ... and the actuals were the forecast
    assert learned_trust(plans, history) == (0.0, 40)
    plans, history = plans_and_history(s, np.zeros(40), w, w)  # the actuals were what the pipeline said
    assert learned_trust(plans, history) == (1.0, 40)


def _consensus(path: Path) -> pd.DataFrame:
    plan, problems = OpenpyxlBook(path).read_table(C.DEMAND_PLAN)
    assert not problems
    return plan[plan["level"] == "Item"].set_index(["item", "period"])


def test_the_setting_takes_its_share_of_the_excess(tmp_path: Path) -> None:
    frames = {**signal_frames(), "Pipeline": DEALS}
    whole = make_book(tmp_path / "whole.xlsx", frames)
    half = make_book(tmp_path / "half.xlsx", frames, {"pipeline_trust": "50%"})
    assert cli(["run", str(whole)]) == 0 and cli(["run", str(half)]) == 0
    g, h = _consensus(whole), _consensus(half)
    a_feb = ("A", P("2027-02"))
    stat = h.at[a_feb, "statistical"]
    assert h.at[a_feb, "consensus"] == pytest.approx(max(0.0, stat) + 0.5 * (400.0 - stat), abs=1e-9)
    assert g.at[a_feb, "consensus"] == pytest.approx(400.0, abs=1e-9)
    assert "pipeline trust 50% (setting)" in h.at[a_feb, "notes"]
    others = [k for k in h.index if k != a_feb]
    assert (h.loc[others, "consensus"] == g.loc[others, "consensus"]).all()
    # the Demand review's consensus formula takes the same share
    ws = OpenpyxlBook(half).wb["DemandReview"]
    formulas = [c.value for row in ws.iter_rows() for c in row if isinstance(c.value, str) and "MAX(0," in c.value]
    assert formulas and all("0.5*MAX(0," in f for f in formulas if "-" in f.split("0.5*")[-1])


def test_a_bad_setting_is_refused_at_its_cell(tmp_path: Path, capsys) -> None:
    path = make_book(tmp_path / "bad.xlsx", {**signal_frames(), "Pipeline": DEALS}, {"pipeline_trust": "lots"})
    before = path.read_bytes()
    assert cli(["run", str(path)]) == 2
    err = capsys.readouterr().err
    assert "bad Pipeline trust" in err and "Settings!B" in err and "'lots'" in err
    assert path.read_bytes() == before


def test_auto_learns_from_the_archive_that_the_pipeline_was_noise(tmp_path: Path) -> None:
    """Two earlier cycles published plans whose pipeline said more than the forecast every month, and the actuals
    came in at the forecast: auto trust learns 0 and the new cycle's consensus ignores the pipeline's excess."""
    frames = {**signal_frames(), "Pipeline": DEALS}
    store = tmp_path / "plans.sqlite"
    months = [P("2026-09"), P("2026-10"), P("2026-11"), P("2026-12")]
    actual = frames["History"].groupby(["item", "period"])["qty"].sum()
    for cycle in (P("2026-09"), P("2026-10")):
        rows = [("Item", "F", item, m, actual[(item, m)], 0.0, actual[(item, m)] + 25.0)
                for item in ("A", "B") for m in months if m >= cycle]
        plan = pd.DataFrame(rows, columns=["level", "family", "item", "period", "statistical", "events",
                                           "pipeline"]).reindex(columns=C.DEMAND_PLAN.keys)
        archive.publish(store, cycle, f"hash{cycle}", {"DemandPlan": plan})
    measured = 2 * 4 + 2 * 3
    assert measured >= MIN_EVIDENCE
    path = make_book(tmp_path / "auto.xlsx", frames, {"archive_path": str(store)})
    assert cli(["run", str(path)]) == 0
    got = _consensus(path)
    a_feb = ("A", P("2027-02"))
    stat = got.at[a_feb, "statistical"]
    assert got.at[a_feb, "consensus"] == pytest.approx(stat, abs=1e-9)
    assert f"pipeline trust 0% (learned: {measured} item-months" in got.at[a_feb, "notes"]
