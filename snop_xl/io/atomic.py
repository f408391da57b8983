"""Atomic file writes: every file the engine writes (workbooks, CSV exports, the meeting pack) is written beside its
target and renamed over it, so the target holds either the old file or the whole new one, even after a kill."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def write_atomically(target: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """`write(tmp)` to a temp file in `target`'s folder, flushed to disk, then renamed over `target`."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target
