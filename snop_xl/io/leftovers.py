"""What killed saves and publishes leave beside a workbook, and which of it is provably abandoned.

A save writes `.BOOK.<pid>.<random>.tmp` (`snop_xl.io.atomic`; older versions: `.BOOK.<random>.tmp`) and renames it
over BOOK; a publish stages the stamped book as `.STEM.publish-<pid>-<version>-<hash8>.EXT` (`staged_name`) and
renames it over BOOK once the archive has committed. A kill between the two steps leaves the hidden file. It is
abandoned when the process named in it is gone (on this machine); a name without a pid (an older snop-xl) only when
it has not changed for STALE_SECONDS, since a save in progress elsewhere would still be writing it. A new plan archive
is made as `.ARCHIVE.<pid>.<thread>.new` and linked into place (`snop_xl.archive`); a kill (or a failure) before its removal
leaves it: found here for the archive at its default place beside the book (`<stem>.snop.sqlite`).
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

#: a leftover without a pid in its name is abandoned once untouched this long (a save in progress keeps writing)
STALE_SECONDS = 600


@dataclass(frozen=True)
class Leftover:
    """One hidden file beside a book that a snop-xl process made: `pid` None when its name carries none."""

    path: Path
    kind: str  # "save" (a temp file of a save), "publish" (a stamped book staged by a publish), "archive" (a new
    # plan archive being made, or its journal: never in use under this name, a link to the real one at most)
    pid: int | None
    version: str = ""  # publish: the version id the staged book is stamped with
    hash8: str = ""  # publish: the first 8 hex digits of the inputs' content hash


def staged_name(book: Path, version: str, content_hash: str, pid: int | None = None) -> Path:
    """Where a publish stages the stamped book: beside it, hidden, naming the process, the version and the inputs."""
    return book.with_name(f".{book.stem}.publish-{pid or os.getpid()}-{version}-{content_hash[:8]}{book.suffix}")


def _patterns(book: Path) -> list[tuple[str, re.Pattern[str]]]:
    name, stem, suffix = (re.escape(x) for x in (book.name, book.stem, book.suffix))
    staged = rf"\.{stem}\.publish-(?P<pid>\d+)-(?P<version>[^.]+)-(?P<hash8>[0-9a-f]{{8}}){suffix}"
    return [
        ("save", re.compile(rf"\.{name}\.(?:(?P<pid>\d+)\.)?[A-Za-z0-9_]+\.tmp")),
        ("publish", re.compile(staged)),
        ("save", re.compile(rf"\.{staged}\.(?:\d+\.)?[A-Za-z0-9_]+\.tmp")),  # the temp of a staged save
        ("publish", re.compile(rf"\.{stem}\.(?:before-publish|publishing){suffix}")),  # older snop-xl: no pid
        ("save", re.compile(rf"\.\.{stem}\.publishing{suffix}\.[A-Za-z0-9_]+\.tmp")),
        # a new archive at archive.default_path, being made: `archive._create_whole`
        ("archive", re.compile(rf"\.{stem}\.snop\.sqlite\.(?P<pid>\d+)(?:\.\d+)?\.new(?:-journal)?")),
    ]


def find(book: str | os.PathLike) -> list[Leftover]:
    """Every leftover of `book` in its folder, by name."""
    book = Path(book)
    if not book.parent.is_dir():
        return []
    found = []
    patterns = _patterns(book)
    for path in sorted(book.parent.iterdir()):
        for kind, pattern in patterns:
            m = pattern.fullmatch(path.name)
            if m:
                groups = m.groupdict()
                found.append(Leftover(path, kind, int(groups["pid"]) if groups.get("pid") else None,
                                      groups.get("version") or "", groups.get("hash8") or ""))
                break
    return found


def pid_alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine (one we may not signal counts as running)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OverflowError:
        return False
    return True


def abandoned(leftover: Leftover, now: float | None = None) -> bool:
    """Provably nobody's work in progress: its process is gone, or (no pid in the name) it is stale."""
    if leftover.pid is not None:
        return not pid_alive(leftover.pid)
    try:
        age = (now or time.time()) - leftover.path.stat().st_mtime
    except OSError:
        return False
    return age > STALE_SECONDS


def why_kept(leftover: Leftover) -> str:
    """What the user reads about a leftover that is not removed."""
    if leftover.pid is not None:
        return f"process {leftover.pid} that made it is still running"
    return f"it may be a save in progress (removed once untouched for {STALE_SECONDS // 60} minutes)"


def remove(leftover: Leftover) -> str | None:
    """Delete an abandoned leftover; the reason it could not be, or None."""
    try:
        leftover.path.unlink(missing_ok=True)
    except OSError as exc:
        return exc.strerror or str(exc)
    return None
