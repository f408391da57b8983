"""snop-xl command line: the headless twin of the Excel ribbon. Every command is a thin call into the engine.

Each subcommand is one `_cmd_*` function registered in COMMANDS with its arguments; add new ones the same way.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

from .errors import SnopError, ValidationError


def _progress(message: str) -> None:
    print(f"  {message}", file=sys.stderr, flush=True)


def _cmd_demo(args: argparse.Namespace) -> int:
    from .cycle import run_book
    from .demo import write_demo_book
    from .io import open_book
    from .summary import summary_lines

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
    from .cycle import run_book
    from .io import open_book
    from .summary import summary_lines

    book = open_book(args.book)
    if args.out:
        book.path = Path(args.out)  # run_book saves to book.path: the input file stays as it was
    results = run_book(book, steps=args.steps, progress=_progress)
    for line in summary_lines(results):
        print(line)
    print(f"workbook: {Path(book.path).resolve()}")
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    from .inputs import load_inputs
    from .io import open_book

    inputs = load_inputs(open_book(args.book))
    print(f"{args.book}: valid ({len(inputs.items)} items, {inputs.history['item'].nunique()} with history, "
          f"cycle {inputs.settings.cycle_month}, horizon {inputs.settings.horizon} months)")
    return 0


def _cmd_docs(args: argparse.Namespace) -> int:
    from .docs import workbook_markdown

    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(workbook_markdown(), encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


Command = tuple[str, str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]


def _demo_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="out/SNOP_Demo.xlsx", help="where to write the demo workbook")
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


COMMANDS: list[Command] = [
    ("demo", "write a demo workbook with realistic data, run the whole cycle, print a summary", _demo_args,
     _cmd_demo),
    ("run", "validate BOOK and run S&OP steps over it (all five by default)", _run_args, _cmd_run),
    ("validate", "check every input of BOOK; list all problems with their cells", _book_arg, _cmd_validate),
    ("docs", "regenerate docs/workbook.md from the workbook contract", _docs_args, _cmd_docs),
]


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


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ValidationError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except (SnopError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
