"""The plan archive: every published S&OP plan as an immutable version in one SQLite file (standard library).

Why SQLite: one file beside the workbook, no server, safe concurrent writers, readable by any tool. Why immutable:
"review and refine" needs what was really planned cycle after cycle, so a version is never updated or deleted
(triggers refuse it); publishing the same cycle again adds a revision.

Layout (schema version 1, ``PRAGMA user_version``):
- ``versions``: one row per publish: version id ``<cycle>-r<revision>`` (e.g. ``2026-12-r2``), cycle month,
  revision, UTC timestamp, approver, content hash of the inputs, scenario chosen, workbook name.
- ``frames``: the tables of that version (DemandPlan, SupplyPlan, Financials, Overrides, Decisions, ...), one row
  per table, JSON ``{"columns": [...], "data": [[...]]}`` with months as ``yyyy-mm`` text, so the archive survives
  contract changes (columns are stored by their contract key) and stays readable without snop-xl.

A publish is one ``BEGIN IMMEDIATE`` transaction: the revision number is taken and every table inserted while the
write lock is held, so two processes publishing at once get distinct revisions, and a failure half-way rolls back
to nothing. The default rollback journal is kept (not WAL): archives often live on network shares where WAL breaks.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import json
import math
import os
import random
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from snop_xl import contract as C
from snop_xl.errors import Problem, SnopError, ValidationError

SCHEMA_VERSION = 1
LOCK_TIMEOUT_S = 30.0  # how long one attempt waits for another process's write lock
RETRIES = 5  # attempts when the database stays locked (busy handler gave up)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS versions (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    version      TEXT NOT NULL UNIQUE,
    cycle_month  TEXT NOT NULL,
    revision     INTEGER NOT NULL,
    published_at TEXT NOT NULL,
    approver     TEXT NOT NULL DEFAULT '',
    content_hash TEXT NOT NULL,
    scenario     TEXT NOT NULL DEFAULT '',
    book         TEXT NOT NULL DEFAULT '',
    UNIQUE (cycle_month, revision)
);
CREATE TABLE IF NOT EXISTS frames (
    version_id INTEGER NOT NULL REFERENCES versions(id),
    name       TEXT NOT NULL,
    n_rows     INTEGER NOT NULL,
    payload    TEXT NOT NULL,
    PRIMARY KEY (version_id, name)
);
CREATE TRIGGER IF NOT EXISTS versions_immutable_u BEFORE UPDATE ON versions
    BEGIN SELECT RAISE(ABORT, 'published plan versions are immutable'); END;
CREATE TRIGGER IF NOT EXISTS versions_immutable_d BEFORE DELETE ON versions
    BEGIN SELECT RAISE(ABORT, 'published plan versions are immutable'); END;
CREATE TRIGGER IF NOT EXISTS frames_immutable_u BEFORE UPDATE ON frames
    BEGIN SELECT RAISE(ABORT, 'published plan versions are immutable'); END;
CREATE TRIGGER IF NOT EXISTS frames_immutable_d BEFORE DELETE ON frames
    BEGIN SELECT RAISE(ABORT, 'published plan versions are immutable'); END;
"""


@dataclass(frozen=True)
class Version:
    """Identity of one published plan."""

    version: str
    cycle_month: pd.Period
    revision: int
    published_at: dt.datetime
    approver: str
    content_hash: str
    scenario: str = ""
    book: str = ""


def version_id(cycle_month: pd.Period, revision: int) -> str:
    return f"{cycle_month}-r{revision}"


def draft_id(cycle_month: pd.Period, content_hash: str) -> str:
    """Id shown before publishing: stable for the same inputs, never collides with a published id."""
    return f"{cycle_month}-draft-{content_hash[:8]}"


def default_path(book_path: str | Path, setting: str = "") -> Path:
    """The archive of a workbook: Settings 'Plan archive' if given (relative to the book), else <stem>.snop.sqlite."""
    book_path = Path(book_path)
    if setting and setting.strip():
        p = Path(setting.strip()).expanduser()
        return p if p.is_absolute() else book_path.parent / p
    return book_path.with_name(book_path.stem + ".snop.sqlite")


# ---- faults: every way the archive file can be unusable, as one message naming it and what to do --------------
class ArchiveError(ValidationError):
    """The plan archive cannot be used: one line naming the file, what is wrong and what to do. A ValidationError
    (exit code 2, nothing changed), whose one Problem is located at the archive file."""

    def __init__(self, path: str | Path, what: str, todo: str):
        super().__init__([Problem(str(path), "", what, expected=todo)])
        self.args = (f"plan archive {path}: {what}. {todo}. Nothing was changed.",)


def _nearest_existing(path: Path) -> Path:
    """The closest ancestor of `path` that exists (what decides whether the archive's folder can be made)."""
    for parent in path.parents:
        if parent.exists():
            return parent
    return Path(path.anchor or ".")


def check_location(path: Path, writing: bool) -> None:
    """Refuse a path where no archive file can be (a directory, a folder that is a file), or, when `writing`,
    one this user may not read and write: checked before SQLite, whose own message ("unable to open database
    file") does not say which."""
    todo_path = "set Settings 'Plan archive' (or --archive) to a file path in a folder you can write"
    if path.is_dir():
        raise ArchiveError(path, "is a folder, not an archive file", f"Move the folder away, or {todo_path}")
    if writing and hasattr(os, "statvfs") and os.statvfs(_nearest_existing(path)).f_flag & os.ST_RDONLY:
        raise ArchiveError(path, "is on a read-only drive", f"Copy it to a writable folder, or {todo_path}")
    if path.exists():
        mode = os.R_OK | (os.W_OK if writing else 0)
        if not os.access(path, mode):
            raise ArchiveError(path, f"permission denied ({'read and write' if writing else 'read'} needed)",
                               "Give your user access to the file (chmod u+rw), or ask its owner to")
        return
    folder = _nearest_existing(path)
    if not folder.is_dir():
        raise ArchiveError(path, f"cannot be created: {folder} is a file, not a folder", todo_path.capitalize())
    if writing and not os.access(folder, os.W_OK | os.X_OK):
        raise ArchiveError(path, f"cannot be created: no permission to write in {folder}", todo_path.capitalize())


def explain(path: str | Path, exc: BaseException) -> ArchiveError:
    """The user's view of a SQLite or OS error met while using the archive at `path`."""
    name = getattr(exc, "sqlite_errorname", "")
    text = str(exc)
    if isinstance(exc, ArchiveError):
        return exc
    if name in ("SQLITE_BUSY", "SQLITE_LOCKED") or "locked" in text:
        return ArchiveError(path, f"is locked by another process (a publish, or a program reading it) for more "
                                  f"than {LOCK_TIMEOUT_S:g} s", "Try again when it has finished")
    if name in ("SQLITE_NOTADB", "SQLITE_CORRUPT") or "not a database" in text or "malformed" in text:
        return ArchiveError(path, f"is damaged or is not a SQLite plan archive ({text})",
                            "Restore it from a backup, or move it aside so that the next publish starts a new, "
                            "empty archive")
    if name == "SQLITE_READONLY" or "readonly" in text:
        return ArchiveError(path, "is read-only", "Give your user write access to the file and its folder")
    if name == "SQLITE_FULL" or getattr(exc, "errno", None) == errno.ENOSPC:
        return ArchiveError(path, "cannot be written: the disk is full", "Free some space and try again")
    if isinstance(exc, OSError):
        return ArchiveError(path, f"cannot be used: {exc.strerror or exc}",
                            "Check the path in Settings 'Plan archive' (or --archive) and your access to it")
    return ArchiveError(path, f"cannot be used ({text})",
                        "Check the file and your access to it; restore it from a backup if it is damaged")


@contextlib.contextmanager
def guarded(path: str | Path, kinds: tuple[type[BaseException], ...] = (sqlite3.Error, OSError)) -> Iterator[None]:
    """SQLite and OS errors (`kinds`) of archive work inside the block become one ArchiveError naming `path`."""
    try:
        yield
    except kinds as exc:
        raise explain(path, exc) from exc


# ---- connection -----------------------------------------------------------------------------------------------
def connect(path: str | Path, create: bool = True) -> sqlite3.Connection:
    """Open (and if needed create) an archive; autocommit mode so transactions are explicit. Any fault of the
    file is an ArchiveError."""
    path = Path(path)
    check_location(path, writing=create)
    if not create and not path.exists():
        raise SnopError(f"{path}: no plan archive (publish a plan first: snop-xl publish BOOK)")
    with guarded(path):
        if create and not path.exists():
            _create_whole(path)
        if path.stat().st_size == 0:  # never one of ours: a new archive appears with its schema in one rename
            raise ArchiveError(path, "is empty (0 bytes): truncated, or not made by snop-xl",
                               "Restore it from a backup, or delete it so that the next publish starts a new, "
                               "empty archive")
        conn = sqlite3.connect(path, timeout=LOCK_TIMEOUT_S, isolation_level=None)
        try:
            conn.execute("PRAGMA foreign_keys = ON")
            current = conn.execute("PRAGMA user_version").fetchone()[0]
            if current == 0 and create:
                _refuse_foreign(path, conn)
                _with_retry(conn, lambda: _create_schema(conn))
        except BaseException:
            conn.close()
            raise
    if current > SCHEMA_VERSION:
        conn.close()
        raise SnopError(f"{path}: archive schema {current} is newer than this snop-xl understands "
                        f"({SCHEMA_VERSION}); upgrade snop-xl")
    return conn


def _create_whole(path: Path) -> None:
    """A new archive, schema included, made beside `path` and linked into place in one step: a kill never leaves
    a half-made archive, and a process creating the same archive at the same moment keeps its own."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fresh = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.new")  # threads each their own
    fresh.unlink(missing_ok=True)
    try:
        conn = sqlite3.connect(fresh, isolation_level=None)
        try:
            _create_schema(conn)
        finally:
            conn.close()
        try:
            os.link(fresh, path)
        except FileExistsError:
            pass  # another process made it first: use theirs
        except OSError:  # a file system without hard links: rename, unless another process made it meanwhile
            if not path.exists():
                os.replace(fresh, path)
    finally:  # made, or failed (a full disk): nothing of it stays beside the archive
        fresh.unlink(missing_ok=True)


def _refuse_foreign(path: Path, conn: sqlite3.Connection) -> None:
    """A SQLite file of another program (tables, no snop-xl schema) is never turned into an archive."""
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if tables - {"versions", "frames", "sqlite_sequence"}:
        raise ArchiveError(path, f"is a SQLite file of another program (tables {', '.join(sorted(tables))})",
                           "Set Settings 'Plan archive' (or --archive) to another file")


def _has_schema(conn: sqlite3.Connection) -> bool:
    """False for an empty file (an archive whose creation was interrupted): it holds no version."""
    return conn.execute("PRAGMA user_version").fetchone()[0] > 0


def _create_schema(conn: sqlite3.Connection) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        for statement in _SCHEMA.split(";\n"):
            if statement.strip():
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:  # after SQLITE_FULL SQLite has rolled back already: a ROLLBACK would hide why
            conn.execute("ROLLBACK")
        raise


def _with_retry(conn: sqlite3.Connection, work: Any) -> Any:
    """Run `work` (which opens its own transaction); retry with jittered backoff while the database is locked."""
    for attempt in range(RETRIES):
        try:
            return work()
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc) or attempt == RETRIES - 1:
                raise
            time.sleep(0.05 * 2 ** attempt * (1 + random.random()))
    raise AssertionError("unreachable")


# ---- frames <-> JSON ------------------------------------------------------------------------------------------
def _plain(value: Any) -> Any:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, pd.Period):
        return str(value.asfreq("M"))
    if isinstance(value, (pd.Timestamp, dt.datetime, dt.date)):
        return pd.Timestamp(value).isoformat()
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def encode_frame(frame: pd.DataFrame) -> str:
    columns = [str(c) for c in frame.columns]
    data = [[_plain(v) for v in row] for row in frame.itertuples(index=False, name=None)]
    return json.dumps({"columns": columns, "data": data}, separators=(",", ":"))


def _months(texts: pd.Series) -> pd.PeriodIndex:
    """Monthly periods of 'yyyy-mm' texts (None: NaT), each distinct text parsed once: an archived DemandPlan repeats
    18 months over 180,000 rows, and parsing every row took most of a 2,000-item publish step's reading."""
    codes, months = pd.factorize(texts, use_na_sentinel=True)
    parsed = pd.PeriodIndex(list(months), freq="M")
    return pd.PeriodIndex(parsed.take(codes, allow_fill=True, fill_value=pd.NaT), freq="M")


def decode_frame(name: str, payload: str) -> pd.DataFrame:
    """Frame back with the contract's types for the table `name` (periods, numbers, dates); unknown columns as is."""
    obj = json.loads(payload)
    frame = pd.DataFrame(obj["data"], columns=obj["columns"], dtype=object)
    spec = C.TABLES.get(name)
    for column in spec.columns if spec else ():
        if column.key not in frame:
            continue
        s = frame[column.key]
        if column.dtype == C.PERIOD:
            frame[column.key] = _months(s)
        elif column.dtype in (C.NUMBER, C.PERCENT):
            frame[column.key] = pd.to_numeric(s).astype("float64")
        elif column.dtype == C.INTEGER:
            frame[column.key] = pd.to_numeric(s).astype("Int64")
        elif column.dtype == C.DATE:
            frame[column.key] = pd.to_datetime(s)
        elif column.dtype == C.BOOL:
            frame[column.key] = s.astype("boolean")
    if name == "History" and "period" in frame:
        frame["period"] = _months(frame["period"])
        frame["qty"] = pd.to_numeric(frame["qty"]).astype("float64")
    return frame


# ---- writing --------------------------------------------------------------------------------------------------
def _insert_frame(conn: sqlite3.Connection, version_pk: int, name: str, frame: pd.DataFrame) -> None:
    conn.execute("INSERT INTO frames (version_id, name, n_rows, payload) VALUES (?, ?, ?, ?)",
                 (version_pk, name, len(frame), encode_frame(frame)))


@contextlib.contextmanager
def publishing(path: str | Path, cycle_month: pd.Period, content_hash: str, frames: Mapping[str, pd.DataFrame],
               approver: str = "", scenario: str = "", book: str = "",
               published_at: dt.datetime | None = None) -> Iterator[Version]:
    """A new version (next revision of its cycle) inserted in an open transaction, the write lock held: it commits
    when the ``with`` body returns and rolls back if the body raises or the commit fails. So other changes (the
    stamped workbook) can be made inside, and the version exists if and only if they all succeeded."""
    cycle_month = pd.Period(cycle_month, "M")
    stamp = (published_at or dt.datetime.now(dt.timezone.utc)).replace(microsecond=0)
    conn = connect(path)

    def insert() -> Version:
        conn.execute("BEGIN IMMEDIATE")  # take the write lock before reading the last revision
        try:
            last = conn.execute("SELECT COALESCE(MAX(revision), 0) FROM versions WHERE cycle_month = ?",
                                (str(cycle_month),)).fetchone()[0]
            v = Version(version_id(cycle_month, last + 1), cycle_month, last + 1, stamp, approver or "",
                        content_hash, scenario or "", book or "")
            cur = conn.execute(
                "INSERT INTO versions (version, cycle_month, revision, published_at, approver, content_hash, "
                "scenario, book) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (v.version, str(cycle_month), v.revision, stamp.isoformat(), v.approver, content_hash, v.scenario,
                 v.book))
            for name, frame in frames.items():
                _insert_frame(conn, cur.lastrowid, name, frame)
            return v
        except BaseException:
            if conn.in_transaction:  # SQLite may have rolled back already (a full disk): keep the real error
                conn.execute("ROLLBACK")
            raise

    try:
        with guarded(path, (sqlite3.Error,)):  # the frames' own failures stay what they are
            _check_whole(path, conn)
            version = _with_retry(conn, insert)
        try:
            yield version
            with guarded(path):  # waits (LOCK_TIMEOUT_S) for readers to finish, then fails: rolled back below
                conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            raise
    finally:
        conn.close()


def _check_whole(path: Path, conn: sqlite3.Connection) -> None:
    """An archive about to be added to must be whole: SQLite may write into a truncated file without noticing."""
    found = conn.execute("PRAGMA quick_check").fetchone()[0]
    if found != "ok":
        raise ArchiveError(path, f"is damaged ({found})", "Restore it from a backup, or move it aside so that the "
                                                          "next publish starts a new, empty archive")


def publish(path: str | Path, cycle_month: pd.Period, content_hash: str, frames: Mapping[str, pd.DataFrame],
            approver: str = "", scenario: str = "", book: str = "",
            published_at: dt.datetime | None = None) -> Version:
    """Store a new immutable version (next revision of its cycle) in one transaction; return its identity."""
    with publishing(path, cycle_month, content_hash, frames, approver, scenario, book, published_at) as version:
        pass
    return version


# ---- reading --------------------------------------------------------------------------------------------------
def _version(row: tuple) -> Version:
    version, cycle, revision, published_at, approver, content_hash, scenario, book = row
    return Version(version, pd.Period(cycle, "M"), int(revision), dt.datetime.fromisoformat(published_at),
                   approver, content_hash, scenario, book)


_COLUMNS = "version, cycle_month, revision, published_at, approver, content_hash, scenario, book"


def versions(path: str | Path) -> list[Version]:
    """Every published version, oldest first."""
    conn = connect(path, create=False)
    try:
        with guarded(path):
            if not _has_schema(conn):
                return []
            return [_version(r) for r in conn.execute(f"SELECT {_COLUMNS} FROM versions ORDER BY id")]
    finally:
        conn.close()


def versions_frame(path: str | Path) -> pd.DataFrame:
    """versions() as a frame, with the number of Decisions rows archived with each (`snop-xl kpis --versions`)."""
    conn = connect(path, create=False)
    try:
        with guarded(path):
            counts = dict(conn.execute("SELECT v.version, f.n_rows FROM versions v JOIN frames f ON f.version_id = "
                                       "v.id AND f.name = 'Decisions'").fetchall()) if _has_schema(conn) else {}
    finally:
        conn.close()
    rows = [{**v.__dict__, "decisions": counts.get(v.version, 0)} for v in versions(path)]
    return pd.DataFrame(rows, columns=[*Version.__dataclass_fields__, "decisions"])


def resolve(path: str | Path, ref: str) -> Version:
    """A version by id (``2026-12-r2``), by cycle month (its latest revision: ``2026-12``) or ``latest``."""
    found = versions(path)
    if not found:
        raise SnopError(f"{path}: the archive holds no published version yet")
    ref = str(ref).strip()
    if ref.lower() in ("latest", "last"):
        return found[-1]
    exact = [v for v in found if v.version == ref]
    if exact:
        return exact[0]
    try:
        month = pd.Period(ref, "M")
    except (ValueError, TypeError):
        month = None
    of_month = [v for v in found if v.cycle_month == month]
    if of_month:
        return max(of_month, key=lambda v: v.revision)
    raise SnopError(f"no plan version {ref!r} in {path}; known: {', '.join(v.version for v in found[-10:])}")


def load(path: str | Path, ref: str) -> tuple[Version, dict[str, pd.DataFrame]]:
    """One version and all its tables."""
    v = resolve(path, ref)
    conn = connect(path, create=False)
    try:
        with guarded(path):
            rows = conn.execute("SELECT f.name, f.payload FROM frames f JOIN versions v ON v.id = f.version_id "
                                "WHERE v.version = ? ORDER BY f.name", (v.version,)).fetchall()
    finally:
        conn.close()
    return v, {name: decode_frame(name, payload) for name, payload in rows}


_reads = threading.local()  # the tables decoded inside `reading()` on this thread: {(path, name, latest): frame}


@contextlib.contextmanager
def reading() -> Iterator[None]:
    """Inside it, `load_table` decodes each table of an archive once and hands out copies: the KPIs of a cycle read
    the archived DemandPlan twice (published forecasts, the overrides' replay), 5.6 s each at 10,000 items. Only
    for a body that publishes nothing (what it read stays what the archive holds)."""
    outer = getattr(_reads, "cache", None)
    _reads.cache = {} if outer is None else outer
    try:
        yield
    finally:
        _reads.cache = outer


def load_table(path: str | Path, name: str, latest_per_cycle: bool = True) -> pd.DataFrame:
    """One table across versions, with `version` and `cycle_month` columns in front (for KPIs over cycles).

    latest_per_cycle: keep only the last revision of each cycle month (the plan the cycle ended with).
    """
    cache = getattr(_reads, "cache", None)
    if cache is None:
        return _load_table(path, name, latest_per_cycle)
    key = (str(Path(path).resolve()), name, latest_per_cycle)
    if key not in cache:
        cache[key] = _load_table(path, name, latest_per_cycle)
    return cache[key].copy()


def _load_table(path: str | Path, name: str, latest_per_cycle: bool) -> pd.DataFrame:
    conn = connect(path, create=False)
    try:
        with guarded(path):
            rows = conn.execute(
                "SELECT v.version, v.cycle_month, v.revision, f.payload FROM frames f JOIN versions v "
                "ON v.id = f.version_id WHERE f.name = ? ORDER BY v.id", (name,)).fetchall() \
                if _has_schema(conn) else []
    finally:
        conn.close()
    if latest_per_cycle:
        last = {}
        for row in rows:
            last[row[1]] = row  # ordered by id: the last one wins
        rows = list(last.values())
    parts = []
    for version, cycle, _, payload in rows:
        frame = decode_frame(name, payload)
        frame.insert(0, "cycle_month", pd.Period(cycle, "M"))
        frame.insert(0, "version", version)
        parts.append(frame)
    if not parts:
        return pd.DataFrame(columns=["version", "cycle_month"])
    out = pd.concat(parts, ignore_index=True)
    out["cycle_month"] = out["cycle_month"].astype("period[M]")
    return out
