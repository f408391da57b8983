"""Issue #12, the fault suite: kill -9 at every stage of `run`, `publish` and `import-budget` (timed loops), a
killed parent's scenario workers, a full disk and read-only drives (small tmpfs mounts: root only, skipped
otherwise), a missing archive. After each fault the book opens, equals the state before or the whole state after,
book and archive agree, and the next command cleans up what the killed one left (or says what is left and why).

The kill loops fork their commands from one warm Python process (imports done once: a fork starts working at once),
so each kill costs the command's work, not its start-up; the kill itself is a real SIGKILL of a real process.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from snop_xl import archive
from snop_xl import contract as C
from snop_xl.cli import main
from snop_xl.cycle import stale_steps
from snop_xl.inputs import load_inputs
from snop_xl.io import leftovers, open_book

from .conftest import make_book, small_frames, small_tmpfs

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
CI = bool(os.environ.get("CI"))
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SIGKILL, /proc, tmpfs")

#: output tables compared between a killed run's book and an uninterrupted run's (all deterministic)
COMPARED = ("DemandPlan", "SupplyPlan", "CapacityPlan", "Gaps", "Financials", "ScenarioComparison")


# ---- books ----------------------------------------------------------------------------------------------------
def _frames() -> dict[str, pd.DataFrame]:
    """The small book's inputs with two scenarios, so that a run starts scenario worker processes."""
    P = lambda s: pd.Period(s, "M")  # noqa: E731
    frames = small_frames()
    base = {"scope": "", "start": None, "end": None, "demand_factor": 1.0, "capacity_factor": 1.0,
            "supply_factor": 1.0, "price_factor": 1.0, "cost_factor": 1.0, "note": ""}
    frames["Scenarios"] = pd.DataFrame([
        {**base, "scenario": "Outage", "scope": "Line", "start": P("2027-02"), "end": P("2027-03"),
         "capacity_factor": 0.0},
        {**base, "scenario": "Boom", "scope": "F", "demand_factor": 1.2, "price_factor": 1.1}])
    return frames


@dataclass(frozen=True)
class Books:
    fresh: Path  # inputs only
    published: Path  # run and published once (2027-01-r1) to published.snop.sqlite beside it
    budget: Path  # a budget CSV whose import changes the Budget table (units and revenue doubled)
    after_run: dict[str, pd.DataFrame]  # COMPARED tables of an uninterrupted run of `published`
    budget_hash: str  # the inputs' content hash after an uninterrupted import of `budget` into `fresh`


@pytest.fixture(scope="module")
def books(tmp_path_factory: pytest.TempPathFactory) -> Books:
    folder = tmp_path_factory.mktemp("books")
    fresh = make_book(folder / "fresh" / "fresh.xlsx", _frames(), {"approver": "Ann"})
    published = folder / "pub" / "published.xlsx"
    published.parent.mkdir()
    shutil.copy(fresh, published)
    assert main(["run", str(published)]) == 0 and main(["publish", str(published)]) == 0
    budget = folder / "budget.csv"
    assert main(["export", str(fresh), "Budget", "-o", str(budget)]) == 0
    table = pd.read_csv(budget)
    for column in ("Units", "Revenue"):
        table[column] = table[column] * 2
    table.to_csv(budget, index=False)
    ref = folder / "ref"
    shutil.copytree(published.parent, ref)
    assert main(["run", str(ref / published.name)]) == 0
    after_run = open_book(ref / published.name).read_tables(COMPARED)
    imported = folder / "imported.xlsx"
    shutil.copy(fresh, imported)
    assert main(["import-budget", str(imported), str(budget), "--yes"]) == 0
    return Books(fresh, published, budget, after_run, load_inputs(open_book(imported)).content_hash())


def _copy(book: Path, tmp_path: Path, name: str = "w") -> Path:
    """A fresh copy of the book's folder (the book and its archive) in tmp_path: the book's path there."""
    shutil.copytree(book.parent, tmp_path / name)
    return tmp_path / name / book.name


def _listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# ---- processes ------------------------------------------------------------------------------------------------
def _children(pid: int) -> set[int]:
    """The processes whose parent is `pid`, from /proc."""
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(entry))
    return found


def _running(pid: int) -> bool:
    """Whether `pid` is a live process (a zombie is dead: it holds no memory and waits only to be reaped)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _all_gone(pids: set[int], within: float) -> set[int]:
    """Wait up to `within` s for `pids` to end; those still running."""
    deadline = time.monotonic() + within
    while (alive := {p for p in pids if _running(p)}) and time.monotonic() < deadline:
        time.sleep(0.05)
    return alive


def _stop(pids: set[int]) -> None:
    """Clean-up after a failed assertion: end the survivors this test made (by id)."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


ZYGOTE = r"""
import json, os, sys, traceback
from snop_xl.cli import main
import snop_xl.commands.import_budget, snop_xl.steps.scenarios  # noqa: F401
print("ready", flush=True)
for line in sys.stdin:
    argv, log, env, cwd = json.loads(line)
    pid = os.fork()
    if pid == 0:
        os.environ.update(env)
        os.chdir(cwd)
        out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(out, 1)
        os.dup2(out, 2)
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        try:
            code = main(argv)
        except BaseException:
            traceback.print_exc()
            code = 99
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    print(pid, flush=True)
    print(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), flush=True)
"""


class Forks:
    """`snop-xl ARGS` as processes forked from one warm Python (its imports done): start, watch, SIGKILL."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", ZYGOTE], cwd=ROOT, env=ENV, text=True,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert self.proc.stdout.readline().strip() == "ready"

    def start(self, argv: list[str | Path], log: Path, env: dict[str, str] | None = None,
              cwd: Path = ROOT) -> int:
        self.proc.stdin.write(json.dumps([[str(a) for a in argv], str(log), env or {}, str(cwd)]) + "\n")
        self.proc.stdin.flush()
        return int(self.proc.stdout.readline())

    def exit_code(self) -> int:
        return int(self.proc.stdout.readline())

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=30)
        self.proc.stdout.close()


@pytest.fixture(scope="module")
def forks() -> Iterator[Forks]:
    f = Forks()
    yield f
    f.close()


@dataclass
class Kill:
    stage: str
    code: int  # the command's exit: -9 when the kill landed, 0 when it had finished first
    workers: set[int]  # its children alive at the kill
    log: str  # what it said


def kill_at(forks: Forks, argv: list[str | Path], log: Path, stage: str, reached: Callable[[int, float], bool],
            delay: float, env: dict[str, str] | None = None, cwd: Path = ROOT) -> Kill:
    """Start `argv`, wait until `reached(pid, seconds since start)`, then `delay` s, then SIGKILL it."""
    pid = forks.start(argv, log, env, cwd)
    started = time.monotonic()
    while _running(pid) and not reached(pid, time.monotonic() - started):
        time.sleep(0.002)
        assert time.monotonic() - started < 120, f"{stage}: never reached"
    time.sleep(delay)
    workers = _children(pid)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    return Kill(stage, forks.exit_code(), workers, log.read_text(errors="replace"))


def said(text: str, log: Path) -> Callable[[int, float], bool]:
    return lambda pid, t: log.exists() and text in log.read_text(errors="replace")


def at(seconds: float) -> Callable[[int, float], bool]:
    return lambda pid, t: t >= seconds


def saving(book: Path) -> Callable[[int, float], bool]:
    """A save is under way: a temp file of the book (or of a book staged by a publish) is beside it."""
    return lambda pid, t: any(p.kind == "save" for p in leftovers.find(book))


def with_workers(pid: int, t: float) -> bool:
    return bool(_children(pid))


def after_kill(kill: Kill, book: Path) -> list[leftovers.Leftover]:
    """What holds after every kill: no traceback, no worker left running, the book opens (openpyxl) and reads."""
    assert kill.code in (-signal.SIGKILL, 0), (kill.stage, kill.code, kill.log)
    assert "Traceback" not in kill.log, kill.log
    survivors = _all_gone(kill.workers, within=5)
    _stop(survivors)
    assert not survivors, f"{kill.stage}: scenario workers {survivors} outlived their killed parent"
    openpyxl.load_workbook(book).close()
    left = leftovers.find(book)
    assert all(p.kind in ("save", "publish", "archive") for p in left), left
    return left


def next_command_cleans(book: Path, files: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """The next command (validate) succeeds, removes every leftover of the killed one and says so."""
    left = leftovers.find(book)
    capsys.readouterr()
    assert main(["validate", str(book)]) == 0
    err = capsys.readouterr().err
    for leftover in left:
        assert leftover.path.name in err, err
    assert leftovers.find(book) == [] and _listing(book.parent) == files, err
    return err


def _stratified(rng: random.Random, n: int, span: float) -> list[float]:
    """n moments spread over [0, span): one at random in each of n equal slices."""
    return [span * (i + rng.random()) / n for i in range(n)]


# ---- kill -9 during run ---------------------------------------------------------------------------------------
def _agree(book: Path, db: Path) -> str:
    """Book and archive agree: the book shows a draft, or a version the archive holds (the latest of this book)."""
    frame, _ = open_book(book).read_table(C.PLAN_VERSION)
    shown, status = frame["version"].iloc[0], frame["status"].iloc[0]
    archived = [v.version for v in archive.versions(db) if v.book == book.name]
    if status == "Published":
        assert shown == archived[-1], (shown, archived)
    else:
        assert "draft" in shown and shown not in archived, (shown, status, archived)
    return shown


def test_kill_at_every_stage_of_run(books: Books, forks: Forks, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    """kill -9 while `snop-xl run` loads the book, in each step (a random moment after it starts), while its
    scenario workers run, mid-save and once saved: the book is the one before or the whole one after, no worker is
    left, the archive is untouched, book and archive agree, and the next command leaves nothing behind."""
    rng = random.Random(12)
    db_name = books.published.with_name(books.published.stem + ".snop.sqlite").name
    stages: list[tuple[str, Callable[[Path, Path], Callable[[int, float], bool]], float]] = [
        ("loading the book", lambda b, log: at(0.0), rng.uniform(0.0, 0.3)),
        *[(f"step {n}", lambda b, log, n=n: said(f"step {n} ", log), rng.uniform(0.0, 0.15)) for n in range(1, 6)],
        ("scenario workers running", lambda b, log: with_workers, rng.uniform(0.0, 0.02)),
        ("mid-save", lambda b, log: saving(b), rng.uniform(0.0, 0.02)),
        ("after the last step", lambda b, log: said("step 5 Publish done", log), rng.uniform(0.0, 0.6)),
        ("saved, not yet ended", lambda b, log: said("workbook: ", log), 0.0),
    ]
    seen: dict[str, int] = {"before": 0, "after": 0, "mid-save": 0, "with workers": 0}
    for i, (stage, reached, delay) in enumerate(stages):
        book = _copy(books.published, tmp_path, f"k{i}")
        db = book.with_name(db_name)
        before, db_before, files = book.read_bytes(), db.read_bytes(), _listing(book.parent)
        log = tmp_path / f"k{i}.log"
        kill = kill_at(forks, ["run", book], log, stage, reached(book, log), delay)
        left = after_kill(kill, book)
        seen["mid-save"] += bool(left)
        seen["with workers"] += bool(kill.workers)
        assert db.read_bytes() == db_before  # a run never writes the archive
        if book.read_bytes() == before:
            seen["before"] += 1
        else:  # the whole state after: the same inputs, every step current, the plan of an uninterrupted run
            seen["after"] += 1
            opened = open_book(book)
            inputs = load_inputs(opened)
            assert inputs.content_hash() == load_inputs(open_book(books.published)).content_hash()
            assert stale_steps(opened, inputs) == []
            tables = opened.read_tables(COMPARED)
            for name, frame in books.after_run.items():
                pd.testing.assert_frame_equal(tables[name], frame, obj=f"{stage}: {name}")
        next_command_cleans(book, files, capsys)
        _agree(book, db)
    print(f"\nrun killed at {len(stages)} moments: {seen}")
    assert seen["mid-save"] >= 1 and seen["before"] >= 1 and seen["after"] >= 1
    if (os.cpu_count() or 1) > 1:
        assert seen["with workers"] >= 1
    # and the book of the last kill runs again
    assert main(["run", str(book)]) == 0 and leftovers.find(book) == []


# ---- scenario workers die with their parent -------------------------------------------------------------------
SLOW_WORKERS = r"""
import os, sys, time
import snop_xl.steps.scenarios as scenarios
if sys.argv[1] == "watch":  # as where PR_SET_PDEATHSIG does not exist: the parent-watching thread
    scenarios._PR_SET_PDEATHSIG = -1
os.cpu_count = lambda: 2  # a pool even on a one-core runner

def slow(args):
    os.write(2, f"worker {os.getpid()}\n".encode())  # one write: two workers' lines never interleave
    time.sleep(300)

scenarios._summary_only = slow
from snop_xl.cli import main
sys.exit(main(sys.argv[2:]))
"""


def _lines_until(stream, wanted: Callable[[list[str]], bool], within: float) -> list[str]:
    """Lines of `stream` (read in a thread, so a silent process cannot hang the test) until `wanted` says so."""
    lines: list[str] = []
    done = threading.Event()

    def read() -> None:
        for line in stream:
            lines.append(line.strip())
            if wanted(lines):
                break
        done.set()

    threading.Thread(target=read, daemon=True).start()
    done.wait(within)
    return list(lines)


@pytest.mark.parametrize("how", ["prctl", "watch"])
def test_scenario_workers_die_with_their_killed_parent(books: Books, tmp_path: Path, how: str) -> None:
    """kill -9 of `run` while its scenario workers compute: no worker is left (each held ~100-370 MB, blocked on
    its task pipe forever). Linux: PR_SET_PDEATHSIG; elsewhere (here simulated): a thread watching the parent."""
    book = _copy(books.fresh, tmp_path)
    before = book.read_bytes()
    parent = subprocess.Popen([sys.executable, "-c", SLOW_WORKERS, how, "run", str(book)], cwd=ROOT, env=ENV,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    workers: set[int] = set()
    try:
        lines = _lines_until(parent.stderr, lambda ls: len(re.findall(r"worker \d+", " ".join(ls))) == 2, within=120)
        workers = {int(pid) for pid in re.findall(r"worker (\d+)", " ".join(lines))}
        assert len(workers) == 2, lines
        assert workers <= _children(parent.pid)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
        survivors = _all_gone(workers, within=5)
        assert not survivors, f"workers {survivors} outlived their killed parent"
    finally:
        _stop(workers | {parent.pid})
        parent.wait()
        parent.stderr.close()
    assert book.read_bytes() == before and leftovers.find(book) == []


# ---- kill -9 during import-budget -----------------------------------------------------------------------------
def test_kill_at_every_stage_of_import_budget(books: Books, forks: Forks, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """kill -9 while `import-budget BOOK FILE --yes` reads, understands, summarises and saves: the book is the one
    before or the one with the whole new Budget; the next command leaves nothing."""
    rng = random.Random(7)
    book = _copy(books.fresh, tmp_path, "timing")
    started = time.monotonic()
    pid = forks.start(["import-budget", book, books.budget, "--yes"], tmp_path / "timing.log")
    assert forks.exit_code() == 0, (tmp_path / "timing.log").read_text()
    took = time.monotonic() - started
    del pid
    stages = [("summary shown", lambda b, log: said("would replace", log), rng.uniform(0.0, 0.05)),
              ("mid-save", lambda b, log: saving(b), rng.uniform(0.0, 0.02)),
              ("saved, not yet ended", lambda b, log: said("Budget table replaced", log), 0.0)]
    stages += [(f"at {t:.2f}s", lambda b, log, t=t: at(t), 0.0) for t in _stratified(rng, 2 if CI else 3, took)]
    fresh_hash = load_inputs(open_book(books.fresh)).content_hash()
    seen = {"before": 0, "after": 0, "mid-save": 0}
    for i, (stage, reached, delay) in enumerate(stages):
        book = _copy(books.fresh, tmp_path, f"k{i}")
        before, files = book.read_bytes(), _listing(book.parent)
        log = tmp_path / f"k{i}.log"
        kill = kill_at(forks, ["import-budget", book, books.budget, "--yes"], log, stage, reached(book, log), delay)
        seen["mid-save"] += bool(after_kill(kill, book))
        if book.read_bytes() == before:
            seen["before"] += 1
        else:
            seen["after"] += 1
            got = load_inputs(open_book(book)).content_hash()
            assert got == books.budget_hash and got != fresh_hash, stage
        next_command_cleans(book, files, capsys)
    print(f"\nimport-budget ({took:.2f}s) killed at {len(stages)} moments: {seen}")
    assert seen["mid-save"] >= 1 and seen["before"] >= 1 and seen["after"] >= 1


# ---- kill -9 during publish: the moments test_archive_faults.py does not reach --------------------------------
def test_kill_at_every_stage_of_publish(books: Books, forks: Forks, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    """kill -9 while the stamped book is being saved beside the original (the archive transaction open), and at
    moments spread over the whole publish: after the next command the book is the one before or stamped with a
    version the archive holds, and nothing is left."""
    rng = random.Random(5)
    db_name = books.published.with_name(books.published.stem + ".snop.sqlite").name
    stages = [("mid-save of the stamped book", lambda b, log: saving(b), rng.uniform(0.0, 0.02))]
    stages += [(f"at {t:.2f}s", lambda b, log, t=t: at(t), 0.0) for t in _stratified(rng, 2 if CI else 3, 2.0)]
    seen = {"before": 0, "published": 0, "mid-save": 0}
    for i, (stage, reached, delay) in enumerate(stages):
        book = _copy(books.published, tmp_path, f"k{i}")
        db = book.with_name(db_name)
        before, files = book.read_bytes(), _listing(book.parent)
        log = tmp_path / f"k{i}.log"
        kill = kill_at(forks, ["publish", book], log, stage, reached(book, log), delay)
        left = after_kill(kill, book)
        seen["mid-save"] += any(p.kind == "save" for p in left)
        next_command_cleans(book, files, capsys)
        shown = _agree(book, db)
        assert book.read_bytes() == before or shown != "2027-01-r1", stage  # before, or the whole publish
        seen["before" if book.read_bytes() == before else "published"] += 1
    print(f"\npublish killed at {len(stages)} moments: {seen}")
    assert seen["mid-save"] >= 1


def test_a_publish_killed_after_the_commit_is_finished_from_another_folder(books: Books, forks: Forks, tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch,
                                                                            capsys: pytest.CaptureFixture[str]) -> None:
    """`snop-xl publish book.xlsx` run in the book's folder (a relative path) and killed after its archive
    committed; the next command runs from another folder, which holds an archive of the same name: the publish is
    finished against the book's own archive (before: the other one was asked, lacked the version, and the stamped
    book was deleted as 'nothing was published' while the book's archive held it)."""
    book = _copy(books.published, tmp_path)
    db = book.with_name(book.stem + ".snop.sqlite")
    decoy = tmp_path / "elsewhere" / db.name
    decoy.parent.mkdir()
    shutil.copy(db, decoy)
    log = tmp_path / "publish.log"
    kill = kill_at(forks, ["publish", book.name], log, "committed", said("at committed", log), 0.0,
                   env={"SNOP_XL_TEST_STAGES": "1", "SNOP_XL_TEST_PAUSE": "committed"}, cwd=book.parent)
    assert kill.code == -signal.SIGKILL, kill.log
    assert [v.version for v in archive.versions(db)] == ["2027-01-r1", "2027-01-r2"]
    monkeypatch.chdir(decoy.parent)
    code, err = _cli(capsys, "validate", book)
    assert code == 0 and "finished the publish of 2027-01-r2" in err, err
    assert _agree(book, db) == "2027-01-r2" and leftovers.find(book) == []
    assert [v.version for v in archive.versions(decoy)] == ["2027-01-r1"]


def test_an_archive_given_by_hand_is_recorded_in_full(books: Books, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """`publish --archive plans.sqlite` (relative to where it runs): the book names the archive by its full path,
    so that a later command elsewhere (finishing a killed publish) asks the same file."""
    book = _copy(books.published, tmp_path)
    monkeypatch.chdir(book.parent)
    assert _cli(capsys, "publish", book.name, "--archive", "plans.sqlite")[0] == 0
    frame, _ = open_book(book).read_table(C.PLAN_VERSION)
    assert frame["archive"].iloc[0] == str(book.parent / "plans.sqlite")


def test_an_archive_whose_making_was_interrupted_is_removed_by_the_next_command(books: Books, tmp_path: Path,
                                                                                capsys: pytest.CaptureFixture[str]
                                                                                ) -> None:
    """A new archive is made as `.ARCHIVE.<pid>.new` and linked into place: a kill meanwhile leaves it (and its
    journal); the next command removes it when its process is gone, and leaves the archive itself alone."""
    book = _copy(books.published, tmp_path)
    files = _listing(book.parent)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    made = [book.with_name(f".{book.stem}.snop.sqlite.{dead}.new"),
            book.with_name(f".{book.stem}.snop.sqlite.{dead}.new-journal")]
    mine = book.with_name(f".{book.stem}.snop.sqlite.{os.getpid()}.new")  # a process still making it: kept
    for path in [*made, mine]:
        path.write_bytes(b"SQLite format 3\0")
    capsys.readouterr()
    assert main(["validate", str(book)]) == 0
    err = capsys.readouterr().err
    assert all(f"removed {p.name}" in err for p in made) and f"left {mine.name}" in err and "still running" in err
    assert _listing(book.parent) == sorted([*files, mine.name])


HALF_WRITTEN = r"""
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("PRAGMA cache_size = 1")  # pages spill into the archive file before the commit: a hot journal
conn.execute("BEGIN IMMEDIATE")
conn.execute("CREATE TABLE junk (x BLOB)")
for _ in range(200):
    conn.execute("INSERT INTO junk VALUES (randomblob(4000))")
print("written", flush=True)
time.sleep(120)
"""


def test_a_transaction_killed_halfway_is_rolled_back_by_the_next_command(books: Books, tmp_path: Path,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """A publish killed with its archive transaction open and pages already written to the archive leaves SQLite's
    journal, which the archive is whole only with: the next command rolls it back (not while a live process holds
    the transaction) and nothing stays behind."""
    book = _copy(books.published, tmp_path)
    db = book.with_name(book.stem + ".snop.sqlite")
    journal = db.with_name(db.name + "-journal")
    files = _listing(book.parent)
    writer = subprocess.Popen([sys.executable, "-c", HALF_WRITTEN, str(db)], stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline().strip() == "written"
        assert journal.exists() and journal.read_bytes()[:8] != bytes(8)  # a hot journal once its writer is gone
        code, err = _cli(capsys, "validate", book)  # the writer still runs: its journal is not a leftover
        assert code == 0 and journal.exists() and "journal" not in err and "rolled back" not in err
    finally:
        writer.kill()
        writer.wait()
        writer.stdout.close()
    code, err = _cli(capsys, "validate", book)
    assert code == 0 and f"rolled back the unfinished transaction of an interrupted publish in {db}" in err, err
    assert _listing(book.parent) == files
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert conn.execute("SELECT name FROM sqlite_master WHERE name = 'junk'").fetchall() == []
    finally:
        conn.close()
    assert [v.version for v in archive.versions(db)] == ["2027-01-r1"]


# ---- a full disk, read-only drives (tmpfs, root only) ---------------------------------------------------------
@pytest.fixture
def mount(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs mounted under tmp_path (unmounted afterwards); skipped where mounting is not allowed."""
    with small_tmpfs(tmp_path, "2m") as point:
        yield point


def _fill(folder: Path, leave: int = 4096) -> None:
    """Fill the drive of `folder` until `leave` bytes are free."""
    st = os.statvfs(folder)
    with open(folder / "filler", "ab") as fh:
        fh.write(b"\0" * max(st.f_bavail * st.f_frsize - leave, 0))


def _cli(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str]:
    capsys.readouterr()
    code = main([str(a) for a in argv])
    err = capsys.readouterr().err
    assert "Traceback" not in err and "[Errno" not in err, err
    return code, err


def _on(mount: Path, book: Path) -> Path:
    """The book's folder (book and archive) copied onto the mount: the book's path there."""
    for path in book.parent.iterdir():
        shutil.copy(path, mount / path.name)
    return mount / book.name


def test_run_and_import_budget_on_a_full_disk(books: Books, mount: Path, capsys: pytest.CaptureFixture[str]) -> None:
    book = _on(mount, books.published)
    db = book.with_name(book.stem + ".snop.sqlite")
    before, db_before = book.read_bytes(), db.read_bytes()
    _fill(mount)
    files = _listing(mount)
    code, err = _cli(capsys, "run", book)
    assert code == 1 and "disk is full" in err and book.name in err and "unchanged" in err
    assert book.read_bytes() == before and db.read_bytes() == db_before and _listing(mount) == files
    code, err = _cli(capsys, "import-budget", book, books.budget, "--yes")
    assert code == 1 and "disk is full" in err and book.name in err
    assert book.read_bytes() == before and _listing(mount) == files
    (mount / "filler").unlink()  # space again: the same commands succeed, nothing left over
    assert _cli(capsys, "run", book)[0] == 0 and _cli(capsys, "import-budget", book, books.budget, "--yes")[0] == 0
    assert _listing(mount) == [p for p in files if p != "filler"]


def test_publish_with_the_book_on_a_full_disk_publishes_nothing(books: Books, mount: Path, tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """The archive elsewhere commits only once the stamped book is saved: a full disk under the book is a
    message, no version, the book as it was."""
    book = _on(mount, books.published)
    db = book.with_name(book.stem + ".snop.sqlite")
    elsewhere = tmp_path / "plans.sqlite"
    shutil.move(db, elsewhere)
    before = book.read_bytes()
    _fill(mount)
    files = _listing(mount)
    code, err = _cli(capsys, "publish", book, "--archive", elsewhere)
    assert code == 1 and "nothing was published" in err and "disk is full" in err, err
    assert "was not written" not in err  # the save's own wording is not nested inside publish's
    assert book.read_bytes() == before and _listing(mount) == files
    assert [v.version for v in archive.versions(elsewhere)] == ["2027-01-r1"]


@pytest.mark.parametrize("archive_state", ["existing", "new"])
def test_publish_with_book_and_archive_on_a_full_disk_changes_nothing(books: Books, forks: Forks, mount: Path,
                                                                      tmp_path: Path, archive_state: str,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    book = _on(mount, books.published)
    db = book.with_name(book.stem + ".snop.sqlite")
    if archive_state == "new":
        db.unlink()
    before, db_before = book.read_bytes(), db.read_bytes() if db.exists() else None
    _fill(mount)
    files = _listing(mount)
    log = tmp_path / "publish.log"
    forks.start(["publish", book], log)  # its own process: what it leaves is provably abandoned once it ended
    code, err = forks.exit_code(), log.read_text()
    assert code == 2 and str(db) in err and "Nothing was changed" in err and "Traceback" not in err, err
    assert book.read_bytes() == before and (db.read_bytes() if db.exists() else None) == db_before
    # what the failed publish may leave (archive.py leaves its half-made new archive) the next command removes
    assert _cli(capsys, "validate", book)[0] == 0
    assert _listing(mount) == files


def _read_only(mount: Path) -> None:
    assert subprocess.run(["mount", "-o", "remount,ro", str(mount)]).returncode == 0


@pytest.mark.parametrize("fault", ["full disk, existing archive", "full disk, new archive", "read-only drive"])
def test_publish_says_what_is_wrong_with_the_archives_drive(books: Books, mount: Path, tmp_path: Path, fault: str,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    book = _on(mount, books.published)
    db = book.with_name(book.stem + ".snop.sqlite")
    if fault == "full disk, new archive":
        db.unlink()
    if fault == "read-only drive":
        book = _copy(books.published, tmp_path)
        _read_only(mount)
    else:
        _fill(mount)
    files = _listing(mount)
    code, err = _cli(capsys, "publish", book, "--archive", db)
    assert code == 2 and ("read-only drive" if fault == "read-only drive" else "disk is full") in err, err
    assert _listing(mount) == files  # nothing left behind by the failed command itself


def test_import_budget_and_publish_on_a_read_only_drive(books: Books, mount: Path, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    book = _on(mount, books.published)
    db = book.with_name(book.stem + ".snop.sqlite")
    elsewhere = tmp_path / "plans.sqlite"
    shutil.copy(db, elsewhere)
    before, db_before = book.read_bytes(), elsewhere.read_bytes()
    _read_only(mount)
    files = _listing(mount)
    code, err = _cli(capsys, "import-budget", book, books.budget, "--yes")
    assert code == 1 and "read-only drive" in err and book.read_bytes() == before
    code, err = _cli(capsys, "publish", book, "--archive", elsewhere)  # refused before anything is archived
    assert code == 1 and "read-only drive" in err and elsewhere.read_bytes() == db_before
    code, err = _cli(capsys, "publish", book)  # the archive on the read-only drive too
    assert code in (1, 2) and "read-only" in err
    assert book.read_bytes() == before and _listing(mount) == files


def test_publish_to_an_archive_on_a_read_only_drive(books: Books, mount: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """The book writable, its archive on a read-only drive: one message naming the archive, the book unchanged."""
    book = _copy(books.published, tmp_path)
    db = book.with_name(book.stem + ".snop.sqlite")
    shutil.copy(db, mount / "plans.sqlite")
    db_before = db.read_bytes()
    _read_only(mount)
    before, files = book.read_bytes(), _listing(book.parent)
    code, err = _cli(capsys, "publish", book, "--archive", mount / "plans.sqlite")
    assert code == 2 and str(mount / "plans.sqlite") in err and "Nothing was changed" in err
    assert book.read_bytes() == before and _listing(book.parent) == files
    assert (mount / "plans.sqlite").read_bytes() == db_before


def test_import_budget_refuses_a_read_only_book(books: Books, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    book = _copy(books.fresh, tmp_path)
    before = book.read_bytes()
    book.chmod(0o444)
    code, err = _cli(capsys, "import-budget", book, books.budget, "--yes")
    assert code == 1 and "read-only" in err and book.read_bytes() == before
    assert _listing(book.parent) == [book.name] and oct(book.stat().st_mode & 0o777) == "0o444"


# ---- a missing archive ----------------------------------------------------------------------------------------
def test_a_run_after_the_archive_went_missing_shows_a_draft_not_a_lost_version(books: Books, tmp_path: Path,
                                                                              capsys: pytest.CaptureFixture[str]
                                                                              ) -> None:
    """The archive of a published book deleted (or moved): a run does not go on claiming the lost version."""
    book = _copy(books.published, tmp_path)
    db = book.with_name(book.stem + ".snop.sqlite")
    db.unlink()
    code, err = _cli(capsys, "run", book)
    assert code == 0, err
    frame, _ = open_book(book).read_table(C.PLAN_VERSION)
    assert frame["status"].iloc[0] != "Published" and re.search(r"draft", frame["version"].iloc[0])
    code, err = _cli(capsys, "kpis", book, "--versions")
    assert code == 1 and str(db) in err and "no plan archive" in err
