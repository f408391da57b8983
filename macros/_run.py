"""What every ribbon entry point shares: find the book, show progress, turn errors into Log rows and a message."""

from __future__ import annotations

import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from snop_xl.errors import Problem, SnopError, ValidationError
from snop_xl.io.base import BookIO
from snop_xl.io.openpyxl_book import OpenpyxlBook
from snop_xl.io.xlwings_book import XlwingsBook

TITLE = "S&OP"


@dataclass
class Outcome:
    """What an entry point did: ok or not, the one-line message shown to the user, and any problems found."""

    ok: bool
    message: str
    problems: list[Problem] = field(default_factory=list)


def as_bookio(book: Any = None) -> BookIO:
    """A BookIO for `book`: None -> the calling Excel workbook; a BookIO as is; an xw.Book wrapped."""
    if isinstance(book, BookIO):
        return book
    if book is None:
        import xlwings as xw

        book = xw.Book.caller()
    return XlwingsBook(book)


def _app(io: BookIO) -> Any:
    """The Excel application behind a live book (None for a file opened headless)."""
    return getattr(getattr(io, "book", None), "app", None)


def _status(app: Any, text: str | bool) -> None:
    if app is not None:
        try:
            app.status_bar = text
        except Exception:  # the status bar is a courtesy: never fail a run on it
            pass


def _alert(app: Any, message: str, ok: bool) -> None:
    if app is not None:
        try:
            app.alert(message[:1000], title=TITLE, mode="info" if ok else "critical")
        except Exception:
            pass


def confirm(io: BookIO, question: str) -> bool:
    """Ask the Excel user Yes/No; a book without a user (headless) proceeds."""
    app = _app(io)
    if app is None:
        return True
    return app.alert(question[:1000], title=TITLE, buttons="yes_no", mode="info") == "yes"


def run_entry(book: Any, title: str, action: Callable[[BookIO, Callable[[str], None]], str]) -> Outcome:
    """Run `action(io, progress)` for the ribbon button `title`; report on the status bar, Log and a message box.

    Problems the user can fix (ValidationError, SnopError) are written to the Log sheet one row each, with their
    cell, and summarised in the message box; an unexpected error is logged with its type and message and shown
    the same way (the traceback goes to the Log row's message end, for whoever debugs it).
    """
    io = as_bookio(book)
    app = _app(io)

    def progress(text: str) -> None:
        _status(app, f"{TITLE}: {text}")

    progress(f"{title} ...")
    try:
        message = action(io, progress)
        outcome = Outcome(True, message)
    except ValidationError as exc:
        outcome = Outcome(False, f"{title}: {len(exc.problems)} problem(s) in the workbook; nothing was changed. "
                                 "See the Log sheet.\n\n" + "\n".join(f"- {p}" for p in exc.problems[:10]),
                          exc.problems)
        _log_problems(io, title, exc.problems)
    except SnopError as exc:
        outcome = Outcome(False, f"{title}: {exc}")
        _log_problems(io, title, [Problem("", "", str(exc))])
    except Exception as exc:  # a bug, not a user mistake: still never a half-written book or a silent failure
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        outcome = Outcome(False, f"{title} failed: {detail}")
        _log_problems(io, title, [Problem("", "", f"unexpected error: {detail}")])
    finally:
        _status(app, False)
    _alert(app, outcome.message, outcome.ok)
    return outcome


def _log_problems(io: BookIO, title: str, problems: list[Problem]) -> None:
    """One ERROR row per problem on the Log sheet, then save (the Log is the only thing written)."""
    try:
        if isinstance(io, OpenpyxlBook) and io.path is not None and io.path.exists():
            io = OpenpyxlBook(io.path)  # the file as it was: nothing a failed step left in memory gets saved
        for p in problems:
            text = p.message + (f" (found {p.value!r})" if p.value not in (None, "") else "") + (
                f"; expected {p.expected}" if p.expected else "")
            io.log(title, text, level="ERROR", location=p.location if p.sheet else "")
        io.save()
    except Exception:  # a book we cannot even log to: the message box still says what went wrong
        pass
