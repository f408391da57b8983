"""Ribbon entry points: one per S&OP step and utility, each the same engine call the CLI makes.

Excel runs them through the template's VBA (``RunPython "import macros; macros.run_all()"``), with no argument:
``book=None`` means "the workbook that called me" (``xw.Book.caller()``). Tests and scripts pass a book: an
``xw.Book``, or any `snop_xl.io.BookIO` such as an `OpenpyxlBook`.

Each entry point reports progress on Excel's status bar, runs, and on a problem the user can fix (bad inputs, a
missing table) writes every problem to the Log sheet and shows one message box. `snop_xl.cycle.run_book` writes
nothing until every chosen step has succeeded, so a failed run never leaves the workbook half-written.
"""

from __future__ import annotations

from snop_xl.commands.import_budget import import_budget as run
from snop_xl.commands.publish import publish_book
from snop_xl.commands.roll import roll as roll_cycle
from snop_xl.cycle import run_book, select_steps
from snop_xl.inputs import load_inputs

from ._run import Outcome, as_bookio, confirm, run_entry

__all__ = ["Outcome", "as_bookio", "validate", "import_budget", "forecast_demand", "plan_supply", "reconcile",
           "review", "publish", "run_all", "roll", "ENTRY_POINTS"]


def validate(book=None) -> Outcome:
    """Check every input; list all problems with their cells on the Log sheet."""
    return run_entry(book, "Validate", _validate)


def import_budget(book=None) -> Outcome:
    """Import finance's budget into the Budget sheet (from a paste or another file)."""
    def action(io, progress):
        def ask(summary) -> bool:  # finance sees what was understood before the Budget table is replaced
            return confirm(io, "\n".join(summary.lines()) + "\n\nReplace the Budget table with this?")

        result = run(io, source=None, confirm=ask)
        if not result.applied:
            return "Import cancelled: the Budget table was not changed."
        io.save()
        return f"Budget imported{_describe(result)}."
    return run_entry(book, "Import budget", action)


def forecast_demand(book=None) -> Outcome:
    """Step 1: the demand plan."""
    return run_entry(book, "1 Forecast demand", _steps("demand"))


def plan_supply(book=None) -> Outcome:
    """Step 2: supply and capacity plans."""
    return run_entry(book, "2 Plan supply", _steps("supply"))


def reconcile(book=None) -> Outcome:
    """Step 3: gaps, exceptions and scenarios."""
    return run_entry(book, "3 Reconcile & scenarios", _steps("reconcile"))


def review(book=None) -> Outcome:
    """Step 4: financials and dashboard."""
    return run_entry(book, "4 Financials & dashboard", _steps("review"))


def publish(book=None) -> Outcome:
    """Step 5: store the approved plan as a new immutable version in the plan archive, write its id and KPIs, and
    stamp the output sheets, exactly as `snop-xl publish` does (all or nothing)."""
    def action(io, progress) -> str:
        progress("publishing the plan ...")
        version = publish_book(io)
        return f"Published plan version {version.version}, approved by {version.approver}."
    return run_entry(book, "5 Publish", action)


def run_all(book=None) -> Outcome:
    """Steps 1 to 5 in order."""
    return run_entry(book, "Run all", _steps(None))


def roll(book=None) -> Outcome:
    """Start next month's cycle, as `snop-xl roll` does: the closed month's actuals must be in History (a column
    headed with that month), its plan published; cycle month + 1, expired Events and Overrides to the Log. Shows
    what it will change and asks first; on any problem nothing changes."""
    def action(io, progress) -> str:
        def ask(plan) -> bool:
            return confirm(io, f"Roll the workbook into cycle {plan.cycle} as follows?\n\n{plan}")

        progress("rolling to the next cycle ...")
        result = roll_cycle(io, confirm=ask)
        if not result.applied:
            return "Roll cancelled: the workbook was not changed."
        io.save()
        return (f"Rolled from cycle {result.closed} to {result.cycle}: {len(result.removed)} expired row(s) moved to "
                "the Log. Run all to plan the new cycle.")
    return run_entry(book, "Roll to next month", action)


def _validate(io, progress) -> str:

    inputs = load_inputs(io)
    return (f"Inputs are valid: {len(inputs.items)} items, cycle {inputs.settings.cycle_month}, "
            f"horizon {inputs.settings.horizon} months.")


def _steps(name: str | None):
    """The action running cycle steps `name` (None: all) exactly as `snop-xl run --steps` does."""
    def action(io, progress) -> str:
        steps = None if name is None else [name]
        results = run_book(io, steps=steps, progress=progress)
        written = [t for s in select_steps(steps) for t in s.produces]
        return "Done: " + ", ".join(f"{t} {len(results[t])} rows" for t in written) + "."
    return action


def _describe(result) -> str:
    rows = getattr(result, "rows", None)
    if rows is None and hasattr(result, "__len__"):
        rows = len(result)
    return f" ({rows} rows)" if isinstance(rows, int) else ""


#: Entry point name -> function; the ribbon's RunPython calls must name these (a test checks it).
ENTRY_POINTS = {f.__name__: f for f in (validate, import_budget, forecast_demand, plan_supply, reconcile, review,
                                        publish, run_all, roll)}
