"""snop-xl command line: the headless twin of the Excel ribbon. Every command is a thin call into the engine.

Each subcommand is one `_cmd_*` function registered in COMMANDS with its arguments; add new ones the same way.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from snop_xl import archive
from snop_xl import contract as C
from snop_xl.build.docs import workbook_markdown
from snop_xl.build.recalc import formula_cells, recalc, value_at
from snop_xl.build.template import build_template
from snop_xl.commands.demo import write_demo_book
from snop_xl.commands.diff import diff_versions
from snop_xl.commands.export import export_table
from snop_xl.commands.import_budget import import_budget
from snop_xl.commands.import_table import TABLES, import_table
from snop_xl.commands.kpis import PIPELINE_HEADING, decisions_log, pipeline_text, write_kpis
from snop_xl.commands.new import new_book
from snop_xl.commands.publish import publish_book, read_outputs, settle
from snop_xl.commands.roll import roll_book
from snop_xl.commands.summary import kpi_summary, select_kpis, summary_lines
from snop_xl.cycle import run_book
from snop_xl.errors import SnopError, UsageError, ValidationError
from snop_xl.inputs import load_inputs, thin_data
from snop_xl.io import open_book
from snop_xl.io.atomic import os_error_message
from snop_xl.io.openpyxl_book import sheet_names
from snop_xl.steps.kpis import compute_kpis
from snop_xl.steps.pipeline_kpis import pipeline_calibration, trust_of


def _progress(message: str) -> None:
    print(f"  {message}", file=sys.stderr, flush=True)


def _cmd_demo(args: argparse.Namespace) -> int:

    started = time.perf_counter()
    path = write_demo_book(args.out, seed=args.seed)
    print(f"demo inputs written to {path}; running the S&OP cycle ...", file=sys.stderr)
    results = run_book(open_book(path), progress=_progress)
    for line in summary_lines(results):
        print(line)
    print(f"done in {time.perf_counter() - started:.1f}s")
    print(f"workbook: {Path(path).resolve()}")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:

    book = open_book(args.book)
    if args.out:
        book.path = Path(args.out)  # run_book saves to book.path: the input file stays as it was
    results = run_book(book, steps=args.steps, progress=_progress)
    for line in summary_lines(results):
        print(line)
    print(f"workbook: {Path(book.path).resolve()}")
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:

    inputs = load_inputs(open_book(args.book))
    print(f"{args.book}: valid ({len(inputs.items)} items, {inputs.history['item'].nunique()} with history, "
          f"cycle {inputs.settings.cycle_month}, horizon {inputs.settings.horizon} months)")
    for note in thin_data(inputs):
        print(f"  warning: {note}")
    return 0


def _cmd_docs(args: argparse.Namespace) -> int:

    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(workbook_markdown(), encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


def _archive_of(book_path: str, given: str | None) -> Path:
    """--archive, else the archive named by the book's Settings (beside the book by default)."""
    if given:
        return Path(given)

    return load_inputs(open_book(book_path)).archive_path


def _cmd_publish(args: argparse.Namespace) -> int:

    v = publish_book(args.book, approver=args.approver, archive_file=args.archive)
    print(f"published {v.version} (cycle {v.cycle_month}, revision {v.revision}, approver {v.approver}, "
          f"scenario {v.scenario}, inputs {v.content_hash[:12]})")
    return 0


def _cmd_kpis(args: argparse.Namespace) -> int:

    path = _archive_of(args.book, args.archive)
    if args.versions:

        versions = archive.versions_frame(path)
        versions["content_hash"] = versions["content_hash"].str[:12]
        with pd.option_context("display.max_rows", None, "display.width", 160, "display.max_colwidth", 60):
            print(versions.to_string(index=False))
            log = decisions_log(path)
            if len(log):
                print("\nDecisions published with each version:")
                print(log.to_string(index=False))
        return 0

    book = open_book(args.book)
    inputs = load_inputs(book)
    kpis = compute_kpis(inputs, read_outputs(book), path if path and path.exists() else None)
    levels = args.level or (list(_kpi_levels()) if args.rows else ["Total", "Family"])
    if args.items and "Item" not in levels:
        levels = [*levels, "Item"]
    families = sorted(set(inputs.items["family"]))
    if args.family and args.family not in families:
        raise SnopError(f"no family {args.family!r} in Items; families: {', '.join(families)}")
    shown = select_kpis(kpis, levels, args.family, inputs.items, args.metric or ())
    with pd.option_context("display.max_rows", None, "display.width", 200, "display.max_columns", None):
        if args.rows:
            print(shown.to_string(index=False, float_format=lambda x: f"{x:,.3f}"))
        else:
            sections = kpi_summary(shown, others=bool(args.metric))
            for heading, table in sections:
                print(f"{heading}\n{table.to_string(index=False)}\n")
            print(("" if sections else "No KPIs here yet: they need published plans and later actuals in History. ")
                  + "--items: per item too; --family F: one family; --metric M: other metrics (WAPE, MAPE, MASE, "
                  "...); --rows: every row, per cycle too.")
        calibration = pipeline_calibration(inputs, path)
        if len(calibration):
            print(f"\n{PIPELINE_HEADING}\n{pipeline_text(calibration).to_string(index=False)}")
            print(f"The next run takes: {trust_of(inputs)} (setting Pipeline trust; docs/pipeline.md).")
        if args.pipeline_csv:
            calibration.to_csv(args.pipeline_csv, index=False)
            print(f"pipeline accuracy: {len(calibration)} rows (per lag too) written to {args.pipeline_csv}")
    if args.write:
        write_kpis(book, kpis, inputs.items)
        book.log("kpis", f"KPIs {len(kpis)} rows, trend and charts")
        book.save()
    return 0


def _cmd_diff(args: argparse.Namespace) -> int:

    path = _archive_of(args.book, args.archive)
    diff = diff_versions(path, args.from_version, args.to_version)
    if len(diff):
        print(f"plan diff {diff['from_version'].iloc[0]} -> {diff['to_version'].iloc[0]} "
              "(months both versions plan; per measure the total, then families by size of change)")
    with pd.option_context("display.max_rows", None, "display.width", 160):
        print(diff.drop(columns=["from_version", "to_version"]).to_string(
            index=False, float_format=lambda x: f"{x:,.1f}",
            formatters={"change_pct": lambda x: "" if pd.isna(x) else f"{x:+.1%}"}))
    if args.sheet:

        book = open_book(args.book)
        book.write_table(C.PLAN_DIFF, diff)
        book.log("diff", f"plan diff {diff['from_version'].iloc[0] if len(diff) else args.from_version} -> "
                         f"{diff['to_version'].iloc[0] if len(diff) else args.to_version}: {len(diff)} rows")
        book.save()
    return 0


def _publish_args(p: argparse.ArgumentParser) -> None:
    _book_arg(p)
    p.add_argument("--approver", help="who approves the plan (default: Settings 'Approver')")
    p.add_argument("--archive", help="SQLite archive (default: Settings 'Plan archive', else beside BOOK)")


def _kpi_levels() -> tuple[str, ...]:

    return C.KPIS.column("level").choices


def _kpis_args(p: argparse.ArgumentParser) -> None:
    _book_arg(p)
    p.add_argument("--archive", help="SQLite archive (default: Settings 'Plan archive', else beside BOOK)")
    p.add_argument("--level", nargs="+", type=str.title, choices=_kpi_levels(),
                   help="only these levels (default: Total and Family; with --rows all)")
    p.add_argument("--items", action="store_true", help="per item too (same as adding --level Item)")
    p.add_argument("--family", help="only this family (and its items with --items)")
    p.add_argument("--metric", nargs="+", help="only these metrics (ACCURACY, BIAS, FVA, PLAN_ADHERENCE, ...)")
    p.add_argument("--rows", action="store_true",
                   help="every KPI row as on the KPIs sheet (per cycle too) instead of the summary")
    p.add_argument("--write", action="store_true", help="also write the KPIs sheet of BOOK")
    p.add_argument("--pipeline-csv", metavar="FILE", help="also write the pipeline accuracy table (per stage, owner "
                   "and lag) to FILE as CSV")
    p.add_argument("--versions", action="store_true", help="list the published versions instead")


def _diff_args(p: argparse.ArgumentParser) -> None:
    _book_arg(p)
    p.add_argument("--from", dest="from_version", required=True,
                   help="older version: id (2026-12-r1), cycle month (its last revision) or 'latest'")
    p.add_argument("--to", dest="to_version", default="latest", help="newer version (default: latest)")
    p.add_argument("--archive", help="SQLite archive (default: Settings 'Plan archive', else beside BOOK)")
    p.add_argument("--sheet", action="store_true", help="also write the PlanDiff sheet of BOOK")


def _cmd_build_template(args: argparse.Namespace) -> int:

    if args.check:  # CI: the committed template must equal a fresh build from the sources
        with tempfile.TemporaryDirectory() as tmp:
            fresh = build_template(Path(tmp) / Path(args.out).name)
            same = Path(args.out).exists() and fresh.read_bytes() == Path(args.out).read_bytes()
        print(f"{args.out}: {'up to date' if same else 'DIFFERS from a fresh build; run snop-xl build-template'}")
        return 0 if same else 1
    path = build_template(args.out, write_sources=True)
    print(f"template written to {path}")
    return 0


def confirmer(args: argparse.Namespace, refused: str, action: str, question: Callable[[Any], str]
              ) -> Callable[[Any], bool]:
    """How a command that rewrites the book asks first (import-budget, import, roll): it prints what it understood,
    then --dry-run changes nothing, --yes goes ahead, a terminal is asked, and a script without --yes (nobody to
    ask) changes nothing."""
    def confirm(summary: Any) -> bool:
        print(summary)
        if args.dry_run:
            return False
        if args.yes:
            return True
        if not sys.stdin.isatty():
            print(f"{refused}: no terminal to confirm on; run again with --yes to {action} (or --dry-run to only "
                  "check)", file=sys.stderr)
            return False
        return input(f"{question(summary)} [y/N] ").strip().lower() in ("y", "yes")
    return confirm


def _cmd_import_budget(args: argparse.Namespace) -> int:
    book = open_book(args.book)
    confirm = confirmer(args, "not replaced", "replace the Budget table",
                        lambda summary: "Replace the Budget table with these rows?")
    summary = import_budget(book, args.source, confirm=confirm, sheet=args.sheet)
    if not summary.applied:
        print("nothing changed")
        return 0 if args.dry_run else 1
    saved = book.save(args.out) if args.out else book.save()
    print(f"Budget table replaced ({summary.rows} rows); workbook: {Path(saved).resolve()}")
    return 0


def _import_budget_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("book", help="cycle workbook (.xlsx/.xlsm) whose Budget table is replaced")
    p.add_argument("source", nargs="?", help="budget file (.csv/.xlsx/.xlsm); default: the book's BudgetPaste sheet")
    p.add_argument("--sheet", help="sheet of SOURCE to read (default: BudgetPaste, Budget, or the only sheet)")
    p.add_argument("-y", "--yes", action="store_true",
                   help="replace without asking (required when no terminal is attached, e.g. in a script)")
    p.add_argument("-n", "--dry-run", action="store_true", help="show what would be imported; change nothing")
    p.add_argument("-o", "--out", help="write the result here instead of updating BOOK in place")


def _cmd_import(args: argparse.Namespace) -> int:
    book = open_book(args.book)
    confirm = confirmer(args, "not replaced", "replace the table",
                        lambda summary: f"Replace the {summary.table} table as shown?")
    summary = import_table(book, args.table, args.source, confirm=confirm, sheet=args.sheet)
    if not summary.applied:
        print("nothing changed")
        return 0 if args.dry_run else 1
    saved = book.save(args.out) if args.out else book.save()
    print(f"{summary.table} table replaced ({len(summary.rows)} rows); workbook: {Path(saved).resolve()}")
    return 0


def _import_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("book", help="cycle workbook (.xlsx/.xlsm) whose table is replaced")
    p.add_argument("table", help=f"the input table: {', '.join(TABLES)} (History from transaction lines; "
                   "the budget has its own command, import-budget)")
    p.add_argument("source", help="ERP extract (.csv/.txt/.tsv/.xlsx/.xlsm)")
    p.add_argument("--sheet", help="sheet of SOURCE to read (default: the sheet named like TABLE, or the active one)")
    p.add_argument("-y", "--yes", action="store_true",
                   help="replace without asking (required when no terminal is attached, e.g. in a script)")
    p.add_argument("-n", "--dry-run", action="store_true", help="show what would be imported; change nothing")
    p.add_argument("-o", "--out", help="write the result here instead of updating BOOK in place")


def _cmd_roll(args: argparse.Namespace) -> int:
    confirm = confirmer(args, "not rolled", "roll", lambda plan: f"Roll the book into cycle {plan.cycle} as shown?")
    result = roll_book(args.book, out=args.out, actuals=args.actuals, force=args.force, confirm=confirm,
                       sheet=args.sheet)
    if not result.applied:
        print("nothing changed")
        return 0 if args.dry_run else 1
    print(f"rolled from cycle {result.closed} to {result.cycle}; workbook: {Path(result.saved).resolve()}")
    return 0


def _roll_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("book", help="cycle workbook (.xlsx/.xlsm) whose cycle month has closed and was published")
    p.add_argument("--actuals", metavar="FILE", help="the closed month's billing / order lines (CSV or workbook), "
                   "imported into History as `snop-xl import BOOK History FILE` does; without it, History must "
                   "already hold the closed month")
    p.add_argument("--sheet", help="sheet of the --actuals workbook to read (default: History, or the active one)")
    p.add_argument("--force", action="store_true", help="roll even though the closed cycle has no published version")
    p.add_argument("-y", "--yes", action="store_true",
                   help="roll without asking (required when no terminal is attached, e.g. in a script)")
    p.add_argument("-n", "--dry-run", action="store_true", help="show what the roll would change; change nothing")
    p.add_argument("-o", "--out", help="write the next cycle's book here instead of updating BOOK in place")


def _cmd_new(args: argparse.Namespace) -> int:

    path = new_book(args.book, args.items, cycle_month=args.cycle_month, horizon=args.horizon,
                    overwrite=args.force)
    print(f"new cycle workbook: {Path(path).resolve()} (fill History, prices and Settings, then import the budget)")
    return 0


def _new_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("book", help="workbook to create (.xlsm uses the macro template when available, or .xlsx)")
    p.add_argument("--items", required=True, help="item master CSV or workbook: Item and Family columns (or ERP "
                   "names: Material, SKU, Product Group) + any Items column (List Price, Std Cost, Lead Time (days))")
    p.add_argument("--cycle-month", help="first month of the plan, e.g. 2027-01 (Settings)")
    p.add_argument("--horizon", type=int, help="months planned (Settings; default 18)")
    p.add_argument("--force", action="store_true", help="replace BOOK if it exists")


def _cmd_export(args: argparse.Namespace) -> int:

    text = export_table(open_book(args.book), args.table, args.out)
    if args.out in (None, "-"):
        sys.stdout.write(text)
    else:
        print(f"{args.table} written to {Path(args.out).resolve()}", file=sys.stderr)
    return 0


def _export_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("book", help="workbook (.xlsx/.xlsm)")
    p.add_argument("table", help="table name, e.g. DemandPlan or tblFinancials")
    p.add_argument("-o", "--out", help="CSV file to write (default: standard output)")


def _cmd_report(args: argparse.Namespace) -> int:

    from snop_xl.commands.report import (
        write_report,  # matplotlib: loaded only for the pack
    )

    path = write_report(open_book(args.book), args.out, allow_stale=args.allow_stale)
    print(f"meeting pack: {Path(path).resolve()}")
    return 0


def _report_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("book", help="workbook whose cycle has run (steps 3 and 4)")
    p.add_argument("-o", "--out", default="SNOP_Report.pdf", help="PDF to write (default SNOP_Report.pdf)")
    p.add_argument("--allow-stale", action="store_true",
                   help="write the pack even if the cycle has not run on the current inputs (every page stamped "
                        "STALE); without it such a book is refused (exit 2), as publish refuses it")


def _cmd_recalc(args: argparse.Namespace) -> int:

    formulas = formula_cells(args.book)  # also the quick check that BOOK opens, before LibreOffice starts
    if args.sheet:
        names = sheet_names(args.book)
        if args.sheet not in names:
            raise SnopError(f"{args.book}: no sheet {args.sheet!r}; sheets: {', '.join(names)}")
    with tempfile.TemporaryDirectory(prefix="snop-recalc-") as tmp:  # LibreOffice's copy is read, then dropped
        values = recalc(args.book, tmp)
    sheets = [args.sheet] if args.sheet else list(values)
    if args.all:
        for sheet in sheets:
            for r, row in enumerate(values[sheet], start=1):
                cells = [f"{C.column_letter(c)}{r}={_shown(v)}" for c, v in enumerate(row, start=1)
                         if v not in (None, "")]
                if cells:
                    print(f"{sheet}!{r}\t" + "\t".join(cells))
        return 0
    errors = total = 0
    for sheet in sheets:
        for cell, formula in formulas.get(sheet, []):
            value = value_at(values, sheet, cell)
            total += 1
            errors += isinstance(value, str) and value.startswith("#")
            print(f"{sheet}!{cell}\t{_shown(value)}\t{formula}")
    print(f"{total} formula cells recalculated by LibreOffice; {errors} show an error or #SNOP! message"
          + ("" if total else " (no formulas: --all prints every value)"), file=sys.stderr)
    return 0


def _shown(value: object) -> str:
    return "" if value is None else format(value, ".15g") if isinstance(value, float) else str(value)


def _recalc_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("book", help="workbook (.xlsx/.xlsm); it is copied, never modified")
    p.add_argument("--sheet", help="only this sheet (default: every sheet)")
    p.add_argument("--all", action="store_true", help="print every non-empty value, not only formula results")


Command = tuple[str, str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]


def _demo_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="out/SNOP_Demo.xlsm",
                   help="where to write the demo workbook (.xlsm: from the macro template; .xlsx: no macros)")
    p.add_argument("--seed", type=int, default=7, help="random seed of the demo data")


def _run_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("book", help="workbook (.xlsx/.xlsm) following the snop-xl contract")
    p.add_argument("-o", "--out", help="write the result here instead of updating BOOK in place")
    p.add_argument("--steps", nargs="+", metavar="STEP",
                   help="steps to run, by name or number: demand supply reconcile review publish (default: all)")


def _book_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("book", help="workbook (.xlsx/.xlsm)")


def _docs_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--out", default="docs/workbook.md", help="where to write the contract's documentation")


def _build_template_args(p: argparse.ArgumentParser) -> None:

    p.add_argument("--out", default=str(C.TEMPLATE), help="where to write the template (default: %(default)s)")
    p.add_argument("--check", action="store_true", help="only check that OUT equals a fresh build (exit 1 if not)")


COMMANDS: list[Command] = [
    ("report", "write the executive meeting pack of BOOK as a PDF: where we land, what to decide, risks, demand "
     "and supply, forecast accuracy",
     _report_args, _cmd_report),
    ("new", "create a cycle workbook from an item master CSV, empty inputs ready for history and budget",
     _new_args, _cmd_new),
    ("import-budget", "import finance's budget (CSV, workbook or the BudgetPaste sheet) into the Budget table",
     _import_budget_args, _cmd_import_budget),
    ("import", "import History (from ERP billing lines), Items, Inventory, Capacity, BillOfResources (routings), "
     "Orders or Pipeline from an extract; shows what it understood", _import_args, _cmd_import),
    ("export", "export one table of BOOK as a CSV safe to open in Excel (no formula injection)", _export_args,
     _cmd_export),
    ("demo", "write a demo workbook with realistic data, run the whole cycle, print a summary", _demo_args,
     _cmd_demo),
    ("run", "validate BOOK and run S&OP steps over it (all five by default)", _run_args, _cmd_run),
    ("validate", "check every input of BOOK; list all problems with their cells", _book_arg, _cmd_validate),
    ("build-template", "build workbook/SNOP_Template.xlsm (sheets, ribbon, VBA) from the sources in workbook/",
     _build_template_args, _cmd_build_template),
    ("docs", "regenerate docs/workbook.md from the workbook contract", _docs_args, _cmd_docs),
    ("publish", "store BOOK's plan as a new immutable version in the plan archive; stamp BOOK", _publish_args,
     _cmd_publish),
    ("kpis", "forecast accuracy, bias, FVA, plan adherence over published cycles (and --write the KPIs sheet)",
     _kpis_args, _cmd_kpis),
    ("diff", "what changed between two published plan versions, biggest movers first", _diff_args, _cmd_diff),
    ("roll", "start next month's cycle: cycle month + 1, the closed month's actuals in (--actuals FILE), expired "
     "events and overrides to the Log", _roll_args, _cmd_roll),
    ("recalc", "recalculate BOOK in LibreOffice headless (SNOP_* functions included); print each formula's value",
     _recalc_args, _cmd_recalc),
]

#: --help lists the commands in the order a planning cycle uses them
_ORDER = ("demo", "new", "validate", "import", "import-budget", "run", "report", "publish", "kpis", "diff", "roll", "export",
          "recalc", "build-template", "docs")
COMMANDS.sort(key=lambda command: _ORDER.index(command[0]) if command[0] in _ORDER else len(_ORDER))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="snop-xl",
        description="Spreadsheet-native Sales & Operations Planning: run the S&OP cycle over an Excel workbook "
                    "without Excel. Inputs are read from the workbook's input sheets; outputs are written to its "
                    "model sheets; the file is saved atomically and left untouched on any error.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, help_text, add_args, func in COMMANDS:
        p = sub.add_parser(name, help=help_text, description=help_text)
        add_args(p)
        p.set_defaults(func=func)
    return parser


def _settle(args: argparse.Namespace) -> None:
    """Before a command on BOOK: finish or remove what a killed save or publish left beside it, and say so."""
    if getattr(args, "book", None) and args.command != "new":
        for note in settle(args.book):
            print(f"note: {note}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        with warnings.catch_warnings():  # pandas' deprecation notices are for developers, not for the planner
            warnings.simplefilter("ignore", FutureWarning)
            _settle(args)
            return args.func(args)
    except ValidationError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except SnopError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # a file the system refused: in words, never a bare "[Errno N]"
        print(f"error: {os_error_message(exc)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
