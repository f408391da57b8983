"""The plan archive: immutable versions, revisions, one transaction per publish, concurrent publishers."""

from __future__ import annotations

import multiprocessing as mp
import sqlite3

import pandas as pd
import pytest

from snop_xl import archive
from snop_xl.errors import SnopError


def _demand(scale: float = 1.0) -> pd.DataFrame:
    periods = pd.period_range("2026-12", periods=3, freq="M")
    return pd.DataFrame({
        "level": ["Item"] * 3, "family": ["F"] * 3, "item": ["A"] * 3, "period": periods,
        "statistical": [10.0 * scale, 11.0, 12.0], "consensus": [10.0 * scale, 11.5, None],
    })


def _publish(path, month="2026-12", **kw):
    frames = kw.pop("frames", {"DemandPlan": _demand(), "Decisions": pd.DataFrame({"decision": ["go"]})})
    return archive.publish(path, pd.Period(month, "M"), "abc123" * 4, frames, **kw)


def test_publish_twice_gives_two_revisions_and_round_trips(tmp_path):
    path = tmp_path / "a.snop.sqlite"
    v1 = _publish(path, approver="Ann")
    v2 = _publish(path, approver="Bob", frames={"DemandPlan": _demand(2.0)})
    assert (v1.version, v2.version) == ("2026-12-r1", "2026-12-r2")
    assert [v.approver for v in archive.versions(path)] == ["Ann", "Bob"]
    v, frames = archive.load(path, "2026-12-r1")
    assert v == v1
    pd.testing.assert_frame_equal(frames["DemandPlan"], _demand(), check_dtype=False)
    assert frames["DemandPlan"]["period"].dtype == "period[M]"
    assert archive.resolve(path, "2026-12").version == "2026-12-r2"  # a month means its latest revision
    assert archive.resolve(path, "latest").version == "2026-12-r2"
    assert _publish(path, month="2027-01").version == "2027-01-r1"
    both = archive.load_table(path, "DemandPlan")
    assert sorted(both["version"].unique()) == ["2026-12-r2", "2027-01-r1"]
    assert len(archive.load_table(path, "DemandPlan", latest_per_cycle=False)) == 9


def test_reading_decodes_each_table_once_and_hands_out_copies(tmp_path, monkeypatch):
    path = tmp_path / "a.snop.sqlite"
    _publish(path)
    _publish(path, month="2027-01", frames={"DemandPlan": _demand(2.0)})
    decoded = []
    real = archive.decode_frame
    monkeypatch.setattr(archive, "decode_frame", lambda name, payload: decoded.append(name) or real(name, payload))
    alone = archive.load_table(path, "DemandPlan")
    with archive.reading():
        first = archive.load_table(path, "DemandPlan")
        first.loc[0, "statistical"] = -1.0  # a caller's change stays its own
        again = archive.load_table(path, "DemandPlan")
        archive.load_table(path, "DemandPlan", latest_per_cycle=False)
    assert decoded == ["DemandPlan"] * 6  # 2 versions outside, 2 for the first read inside, 2 with every revision
    pd.testing.assert_frame_equal(again, alone)
    assert len(archive.load_table(path, "DemandPlan")) == 6 and len(decoded) == 8  # outside it: read anew


def test_versions_are_immutable(tmp_path):
    path = tmp_path / "a.snop.sqlite"
    _publish(path)
    conn = sqlite3.connect(path)
    for sql in ("UPDATE versions SET approver = 'x'", "DELETE FROM versions", "DELETE FROM frames",
                "UPDATE frames SET payload = '{}'"):
        with pytest.raises(sqlite3.DatabaseError, match="immutable"):
            conn.execute(sql)
    conn.close()


def test_failure_mid_publish_leaves_no_partial_version(tmp_path, monkeypatch):
    path = tmp_path / "a.snop.sqlite"
    _publish(path)
    real, calls = archive._insert_frame, []

    def flaky(conn, pk, name, frame):
        calls.append(name)
        if len(calls) == 2:  # the version row and one table are in; the second table fails
            raise OSError("disk full")
        real(conn, pk, name, frame)

    monkeypatch.setattr(archive, "_insert_frame", flaky)
    with pytest.raises(OSError):
        _publish(path)
    monkeypatch.undo()
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT COUNT(*) FROM versions").fetchone()[0] == 1
    assert conn.execute("SELECT COUNT(*) FROM frames").fetchone()[0] == 2
    conn.close()
    assert _publish(path).version == "2026-12-r2"  # the failed attempt used no revision number


def _worker(path: str, barrier, n: int, queue) -> None:
    barrier.wait()
    out = []
    for _ in range(n):
        out.append(_publish(path, frames={"DemandPlan": _demand()}).version)
    queue.put(out)


def test_concurrent_publishes_from_processes_all_land(tmp_path):
    path = str(tmp_path / "shared.snop.sqlite")
    ctx = mp.get_context("spawn")
    barrier, queue = ctx.Barrier(3), ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(path, barrier, 4, queue)) for _ in range(3)]
    for p in procs:
        p.start()
    got = [v for _ in procs for v in queue.get(timeout=120)]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert len(got) == 12 and len(set(got)) == 12
    assert sorted(v.revision for v in archive.versions(path)) == list(range(1, 13))


def test_paths_and_errors(tmp_path):
    book = tmp_path / "plans" / "SNOP.xlsm"
    assert archive.default_path(book) == tmp_path / "plans" / "SNOP.snop.sqlite"
    assert archive.default_path(book, "arch/x.sqlite") == tmp_path / "plans" / "arch" / "x.sqlite"
    assert archive.default_path(book, str(tmp_path / "y.db")) == tmp_path / "y.db"
    with pytest.raises(SnopError, match="no plan archive"):
        archive.versions(tmp_path / "missing.sqlite")
    _publish(tmp_path / "a.sqlite")
    with pytest.raises(SnopError, match="no plan version 'nope'"):
        archive.resolve(tmp_path / "a.sqlite", "nope")
    assert archive.draft_id(pd.Period("2026-12", "M"), "deadbeef99") == "2026-12-draft-deadbeef"
