"""The S&OP cycle: the five steps run in order over a workbook. "Run all" in Excel and `snop-xl run` both call this.

Each step is a plain function ``step(inputs, outputs) -> {table name: frame}``: it reads the typed inputs and the
output frames of earlier steps, and returns its own output tables (contract names). Nothing is written until
every requested step has succeeded; then all outputs are written and the book is saved once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import pandas as pd

from snop_xl import contract as C
from snop_xl.errors import Problem, SnopError, ValidationError
from snop_xl.inputs import Inputs, load_inputs, thin_data
from snop_xl.io.base import BookIO
from snop_xl.io.parse import cell_of
from snop_xl.steps import demand, grids, kpis, reconcile, review, supply

Outputs = dict[str, pd.DataFrame]
Step = Callable[[Inputs, Mapping[str, pd.DataFrame]], Outputs]


@dataclass(frozen=True)
class StepInfo:
    number: int
    name: str
    title: str
    run: Step
    produces: tuple[str, ...]
    needs: tuple[str, ...] = field(default_factory=tuple)


STEPS: tuple[StepInfo, ...] = (
    StepInfo(1, "demand", "Forecast demand", demand.run, ("DemandPlan", "Contributions")),
    StepInfo(2, "supply", "Plan supply", supply.run,
             ("SupplyPlan", "CapacityPlan", "AggregatePlan", "AggregateCosts"), ("DemandPlan",)),
    StepInfo(3, "reconcile", "Reconcile & scenarios", reconcile.run, ("Gaps", "Exceptions", "ScenarioComparison"),
             ("DemandPlan", "SupplyPlan", "CapacityPlan")),
    StepInfo(4, "review", "Financials & dashboard", review.run,
             ("Financials", "Dashboard", "ChartDemand", "ChartCapacity"),
             ("DemandPlan", "SupplyPlan", "CapacityPlan", "Exceptions", "ScenarioComparison")),
    StepInfo(5, "publish", "Publish", kpis.run, ("PlanVersion", "KPIs", "KPITrend"),
             ("DemandPlan", "SupplyPlan", "Financials")),
)
STEP_NAMES = tuple(s.name for s in STEPS)


def select_steps(names: Iterable[str] | None) -> list[StepInfo]:
    """Steps by name or number, in cycle order (None: all)."""
    if not names:
        return list(STEPS)
    wanted = {str(n).strip().lower() for n in names}
    unknown = wanted - set(STEP_NAMES) - {str(s.number) for s in STEPS}
    if unknown:
        raise SnopError(f"unknown step(s) {sorted(unknown)}; choose from {', '.join(STEP_NAMES)} or 1-5")
    return [s for s in STEPS if s.name in wanted or str(s.number) in wanted]


def compute(inputs: Inputs, steps: Iterable[StepInfo] = STEPS, outputs: Mapping[str, pd.DataFrame] | None = None,
            progress: Callable[[str], None] | None = None) -> Outputs:
    """Run steps in memory; `outputs` holds earlier results the steps may need. Returns all outputs."""
    results: Outputs = dict(outputs or {})
    for step in steps:
        started = time.perf_counter()
        if progress:
            progress(f"step {step.number} {step.title} ...")
        results.update(step.run(inputs, results))
        if progress:
            progress(f"step {step.number} {step.title} done in {time.perf_counter() - started:.1f}s")
    return results


def run_book(book: BookIO, steps: Iterable[str] | None = None,
             progress: Callable[[str], None] | None = None) -> Outputs:
    """Validate, run the chosen steps, write their outputs and a Log line each, save. On error nothing is saved."""
    chosen = select_steps(steps)
    inputs = load_inputs(book)
    earlier: Outputs = {}
    produced = {t for s in chosen for t in s.produces}
    for need in sorted({n for s in chosen for n in s.needs} - produced):
        frame, problems = book.read_table(C.table(need))
        if problems:  # an earlier step's output is missing or was edited into something unreadable
            raise ValidationError(problems)
        earlier[need] = frame.reset_index(drop=True)
    results = compute(inputs, chosen, earlier, progress)
    book.currency = inputs.settings.currency
    for note in thin_data(inputs) if any(s.number <= 4 for s in chosen) else []:
        book.log("validate", note.message, level="WARNING", location=note.location)
        if progress:
            progress(f"warning: {note.location}: {note.message}")
    for step in chosen:
        for name in step.produces:
            book.write_table(C.table(name), results[name])
        book.log(step.name, f"step {step.number} {step.title}: " + ", ".join(
            f"{name} {len(results[name])} rows" for name in step.produces) + f"; {input_tag(inputs)}")
    for grid in grids.review_grids(inputs, results, produced):
        book.write_grid(grid)
    book.draw_charts()
    book.save()
    return results


def input_tag(inputs: Inputs) -> str:
    """What a step's Log row records of the inputs it ran on (the start of their content hash)."""
    return f"inputs {inputs.content_hash()[:12]}"


def stale_steps(book: BookIO, inputs: Inputs, steps: Iterable[StepInfo] = STEPS[:4]) -> list[Problem]:
    """Steps whose outputs in `book` were not computed from `inputs`, judged by each step's latest Log row: what
    publishing must refuse (the plan on the sheets would not be the plan of the inputs beside it)."""
    log, _ = book.read_table(C.LOG)
    tag = input_tag(inputs)
    problems = []
    for step in steps:
        rows = log[log["step"] == step.name] if len(log) else log
        if not len(rows):
            problems.append(Problem(C.LOG.sheet, "", f"step {step.number} {step.title} has not run",
                                    expected="the cycle run on these inputs"))
        elif tag not in str(rows["message"].iloc[-1]):
            problems.append(Problem(C.LOG.sheet, cell_of(log, "message", rows.index[-1]),
                                    f"step {step.number} {step.title} ran on other inputs (they changed since)",
                                    expected=tag))
    return problems
