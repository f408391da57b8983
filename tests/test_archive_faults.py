"""Issue #12, archive faults and leftovers: a damaged, locked or misplaced plan archive is one clear message (exit
2, the book untouched) in every command that opens it; a publish killed at any moment leaves book and archive
agreeing once the next command has run; what killed saves and publishes leave beside a book is cleaned up when
it is provably abandoned, and reported when not. Real files, real subprocesses, real SIGKILLs."""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import openpyxl
import pytest

from snop_xl import archive
from snop_xl import contract as C
from snop_xl.cli import main
from snop_xl.io import leftovers, open_book

from .conftest import make_book, small_frames

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL, chmod")


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A book whose cycle has run and that is published once (2027-01-r1) to blocker/plans.sqlite beside it."""
    folder = tmp_path_factory.mktemp("ran")
    (folder / "blocker").mkdir()
    book = make_book(folder / "book.xlsx", small_frames(), {"approver": "Ann", "archive_path": "blocker/plans.sqlite"})
    assert main(["run", str(book)]) == 0
    assert main(["publish", str(book)]) == 0
    return book


def _copy(ran: Path, tmp_path: Path) -> tuple[Path, Path]:
    """A fresh copy of the ran book and its archive in tmp_path: (book, archive)."""
    shutil.copytree(ran.parent, tmp_path / "w")
    return tmp_path / "w" / ran.name, tmp_path / "w" / "blocker" / "plans.sqlite"


def _cli(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "snop_xl.cli", *map(str, args)], cwd=ROOT, env=ENV,
                          capture_output=True, text=True, timeout=300)


# ---- faults of the archive file -------------------------------------------------------------------------------
def _truncated(db: Path) -> None:
    with open(db, "r+b") as fh:
        fh.truncate(db.stat().st_size // 2)


def _garbage(db: Path) -> None:
    db.write_bytes(random.Random(1).randbytes(db.stat().st_size))


def _unreadable(db: Path) -> None:
    db.chmod(0)


def _directory(db: Path) -> None:
    db.unlink()
    db.mkdir()
    (db / "inside.txt").write_text("a folder where the archive should be")


def _uncreatable(db: Path) -> None:
    shutil.rmtree(db.parent)
    db.parent.write_text("a file where the archive's folder should be")


def _empty(db: Path) -> None:
    db.write_bytes(b"")


FAULTS = {
    "truncated": (_truncated, "damaged"),
    "random bytes": (_garbage, "damaged or is not a SQLite plan archive"),
    "chmod 000": (_unreadable, "permission denied"),
    "directory": (_directory, "is a folder"),
    "uncreatable": (_uncreatable, "cannot be created"),
    "empty": (_empty, "is empty"),
}
COMMANDS = {"publish": ["publish"], "run --steps publish": ["run", "--steps", "publish"],
            "kpis --versions": ["kpis", "--versions"], "run": ["run"]}


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("fault", list(FAULTS))
def test_archive_fault_is_one_clear_message_and_the_book_is_untouched(ran, tmp_path, capsys, fault, command):
    if fault == "chmod 000" and os.geteuid() == 0:
        pytest.skip("root reads and writes a chmod 000 file")
    book, db = _copy(ran, tmp_path)
    make, said = FAULTS[fault]
    make(db)
    before, files = book.read_bytes(), sorted(p.name for p in book.parent.iterdir())
    capsys.readouterr()
    rc = main([*COMMANDS[command][:1], str(book), *COMMANDS[command][1:]])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert str(db) in err and said in err and "Nothing was changed" in err
    said_lines = [line for line in err.splitlines() if not line.startswith("  step ")]  # progress lines aside
    assert len(said_lines) == 1  # one message, no traceback
    assert book.read_bytes() == before and sorted(p.name for p in book.parent.iterdir()) == files


def test_archive_fault_from_the_real_cli_has_no_traceback(ran, tmp_path):
    book, db = _copy(ran, tmp_path)
    _garbage(db)
    before = book.read_bytes()
    done = _cli("publish", book)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"plan archive {db}: is damaged" in done.stderr and book.read_bytes() == before


def test_archive_of_another_program_is_refused(ran, tmp_path, capsys):
    book, db = _copy(ran, tmp_path)
    db.unlink()
    other = sqlite3.connect(db)
    other.execute("CREATE TABLE customers (id INTEGER)")
    other.commit()
    other.close()
    assert main(["publish", str(book)]) == 2
    assert "another program" in capsys.readouterr().err
    assert sqlite3.connect(db).execute("SELECT name FROM sqlite_master").fetchall() == [("customers",)]


LOCKER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(120)
"""


@pytest.mark.parametrize("command", list(COMMANDS))
def test_archive_locked_longer_than_the_timeout(ran, tmp_path, capsys, monkeypatch, command):
    book, db = _copy(ran, tmp_path)
    before = book.read_bytes()
    locker = subprocess.Popen([sys.executable, "-c", LOCKER, str(db)], stdout=subprocess.PIPE, text=True)
    try:
        assert locker.stdout.readline().strip() == "locked"
        monkeypatch.setattr(archive, "LOCK_TIMEOUT_S", 0.2)
        capsys.readouterr()
        rc = main([*COMMANDS[command][:1], str(book), *COMMANDS[command][1:]])
    finally:
        locker.kill()
        locker.wait()
        locker.stdout.close()
    err = capsys.readouterr().err
    assert rc == 2 and str(db) in err and "locked by another process" in err and "Try again" in err, err
    assert book.read_bytes() == before
    assert [v.version for v in archive.versions(db)] == ["2027-01-r1"]


def test_an_empty_file_where_the_archive_was_being_made_is_never_ours(tmp_path):
    """A new archive appears whole (schema in one link), so an empty one is a damaged one, not a fresh start."""
    db = tmp_path / "new.sqlite"
    archive.publish(db, "2027-01", "h" * 16, {})
    assert [p.name for p in tmp_path.iterdir()] == ["new.sqlite"]
    db.write_bytes(b"")
    with pytest.raises(archive.ArchiveError, match="is empty"):
        archive.versions(db)


# ---- kill -9 during publish: book and archive agree once the next command ran --------------------------------
def _shown(book: Path) -> tuple[str, str]:
    """(version, status) of the book's PlanVersion row."""
    frame, _ = open_book(book).read_table(C.PLAN_VERSION)
    return frame["version"].iloc[0], frame["status"].iloc[0]


def _stamp(book: Path) -> str:
    return openpyxl.load_workbook(book)["DemandPlan"].oddHeader.center.text or ""


def _agree(book: Path, db: Path) -> list[str]:
    """Book and archive agree: a Published book names an archived version and carries its stamp, and the
    archive holds no version of this book newer than the one the book shows. Returns the archived ids."""
    archived = [v for v in archive.versions(db) if v.book == book.name]
    shown, status = _shown(book)
    assert status == "Published" and shown in [v.version for v in archived]
    assert shown == archived[-1].version and shown in _stamp(book)
    return [v.version for v in archived]


def _publish_until(book: Path, stage: str) -> subprocess.Popen:
    """`snop-xl publish BOOK` in a subprocess, paused at `stage` (the test-only hook of publish.py)."""
    child = subprocess.Popen([sys.executable, "-m", "snop_xl.cli", "publish", str(book)], cwd=ROOT,
                             env={**ENV, "SNOP_XL_TEST_STAGES": "1", "SNOP_XL_TEST_PAUSE": stage},
                             stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    while (line := child.stderr.readline()) and line.strip() != f"at {stage}":
        pass
    assert line.strip() == f"at {stage}", f"publish never reached {stage}"
    return child


def _kill(child: subprocess.Popen) -> None:
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    child.stderr.close()


def test_kill_before_the_archive_commits_publishes_nothing(ran, tmp_path):
    book, db = _copy(ran, tmp_path)
    before = book.read_bytes()
    _kill(_publish_until(book, "staged"))
    assert book.read_bytes() == before
    (left,) = leftovers.find(book)
    assert left.kind == "publish" and left.version == "2027-01-r2"
    done = _cli("validate", book)  # the next command, whatever it is
    assert done.returncode == 0, done.stderr
    assert f"removed {left.path.name}" in done.stderr and "nothing was published" in done.stderr
    assert leftovers.find(book) == [] and book.read_bytes() == before
    assert _agree(book, db) == ["2027-01-r1"]


def test_kill_after_the_archive_committed_is_finished_by_the_next_command(ran, tmp_path):
    book, db = _copy(ran, tmp_path)
    before = book.read_bytes()
    _kill(_publish_until(book, "committed"))
    assert book.read_bytes() == before  # not stamped yet: the archive commits first, the book second
    assert [v.version for v in archive.versions(db)] == ["2027-01-r1", "2027-01-r2"]
    done = _cli("kpis", book, "--versions")
    assert done.returncode == 0, done.stderr
    assert "finished the publish of 2027-01-r2" in done.stderr
    assert _agree(book, db) == ["2027-01-r1", "2027-01-r2"] and leftovers.find(book) == []


def test_kill_after_the_commit_but_book_saved_since_is_reported_not_overwritten(ran, tmp_path):
    book, db = _copy(ran, tmp_path)
    _kill(_publish_until(book, "committed"))
    os.utime(book)  # the planner saved the book after the kill
    done = _cli("validate", book)
    assert done.returncode == 0 and "is in the archive" in done.stderr and "saved since" in done.stderr
    assert len(leftovers.find(book)) == 1 and _shown(book) == ("2027-01-r1", "Published")


READER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN")
conn.execute("SELECT COUNT(*) FROM versions").fetchone()
print("reading", flush=True)
time.sleep(120)
"""


def test_kill_while_the_commit_waits_for_a_reader(ran, tmp_path):
    book, db = _copy(ran, tmp_path)
    before = book.read_bytes()
    reader = subprocess.Popen([sys.executable, "-c", READER, str(db)], stdout=subprocess.PIPE, text=True)
    assert reader.stdout.readline().strip() == "reading"
    child = subprocess.Popen([sys.executable, "-m", "snop_xl.cli", "publish", str(book)], cwd=ROOT,
                             env={**ENV, "SNOP_XL_TEST_STAGES": "1"}, stderr=subprocess.PIPE,
                             stdout=subprocess.DEVNULL, text=True)
    assert child.stderr.readline().strip() == "at staged"
    time.sleep(1.0)  # now blocked in COMMIT behind the reader's lock
    _kill(child)
    reader.kill()
    reader.wait()
    reader.stdout.close()
    assert book.read_bytes() == before
    done = _cli("validate", book)
    assert done.returncode == 0 and "nothing was published" in done.stderr
    assert _agree(book, db) == ["2027-01-r1"] and leftovers.find(book) == []


def test_kill_at_random_moments_of_publish(ran, tmp_path):
    """Timed loop: SIGKILL anywhere in a publish; after the next command book and archive agree, nothing is left."""
    book, db = _copy(ran, tmp_path)
    started = time.perf_counter()
    assert _cli("publish", book).returncode == 0
    took = time.perf_counter() - started
    rng = random.Random(12)
    for _ in range(4):
        child = subprocess.Popen([sys.executable, "-m", "snop_xl.cli", "publish", str(book)], cwd=ROOT, env=ENV,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        time.sleep(rng.uniform(0.3 * took, 1.1 * took))
        _kill(child)
        done = _cli("validate", book)
        assert done.returncode == 0, done.stderr
        _agree(book, db)
        assert leftovers.find(book) == []


# ---- leftovers of killed saves --------------------------------------------------------------------------------
def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


KILLED_SAVE = """
import sys
from snop_xl.io import OpenpyxlBook
book = OpenpyxlBook(sys.argv[1])
print("ready", flush=True)
while True:
    book.save()
"""


def test_leftovers_of_killed_saves_are_removed_when_provably_abandoned(ran, tmp_path):
    book, _ = _copy(ran, tmp_path)
    # a real save killed midway: its temp file, made old (older snop-xl names carry no pid: age decides)
    rng = random.Random(3)
    for _ in range(20):
        child = subprocess.Popen([sys.executable, "-c", KILLED_SAVE, str(book)], stdout=subprocess.PIPE, cwd=ROOT,
                                 env=ENV)
        assert child.stdout.readline().strip() == b"ready"
        time.sleep(rng.uniform(0.0, 0.3))
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        child.stdout.close()
        if list(book.parent.glob(f".{book.name}.*.tmp")):
            break
    real = list(book.parent.glob(f".{book.name}.*.tmp"))
    assert real, "no kill landed mid-save"
    old = time.time() - leftovers.STALE_SECONDS - 60
    for path in real:
        os.utime(path, (old, old))
    dead = _dead_pid()
    made = {
        "dead pid": book.with_name(f".{book.name}.{dead}.abcd_123.tmp"),
        "recent, no pid": book.with_name(f".{book.name}.recent12.tmp"),
        "running pid": book.with_name(f".{book.name}.{os.getpid()}.live1234.tmp"),
        "old publish backup": book.with_name(f".{book.stem}.before-publish{book.suffix}"),
        "staged temp, dead pid": book.with_name(f"..{book.stem}.publish-{dead}-2027-01-r9-0123abcd{book.suffix}"
                                                f".zz_top12.tmp"),
        "someone else's": book.with_name(".book.xlsx.notes.txt"),
    }
    for path in made.values():
        path.write_bytes(b"PK")
    os.utime(made["old publish backup"], (old, old))
    done = _cli("validate", book)
    assert done.returncode == 0, done.stderr
    remaining = {p.name for p in book.parent.iterdir() if p.name.startswith(".")}
    assert remaining == {made["recent, no pid"].name, made["running pid"].name, made["someone else's"].name}
    for path in [*real, made["dead pid"], made["old publish backup"], made["staged temp, dead pid"]]:
        assert f"removed {path.name}" in done.stderr
    assert f"left {made['recent, no pid'].name}" in done.stderr and "save in progress" in done.stderr
    assert f"left {made['running pid'].name}" in done.stderr and "still running" in done.stderr
